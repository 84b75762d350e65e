//! The shared [`OrderedMap`] on a `BTreeMap`, as the host runs the extent
//! map and the free-space allocator.

use std::collections::BTreeMap;

use delafs::shared::extent_map::{NoMemory, OrderedMap};

/// An ordered `u64 -> V` map on `std::collections::BTreeMap`. Never runs out
/// of memory (allocation failure aborts on the host).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BTree<V>(pub BTreeMap<u64, V>);

impl<V> BTree<V> {
    /// An empty map.
    pub fn new() -> Self {
        Self(BTreeMap::new())
    }
}

impl<V: Copy> OrderedMap<V> for BTree<V> {
    fn floor(&mut self, key: u64) -> Option<(u64, V)> {
        self.0.range(..=key).next_back().map(|(k, v)| (*k, *v))
    }

    fn ceil(&mut self, key: u64) -> Option<(u64, V)> {
        self.0.range(key..).next().map(|(k, v)| (*k, *v))
    }

    fn insert(&mut self, key: u64, value: V) -> Result<(), NoMemory> {
        self.0.insert(key, value);
        Ok(())
    }

    fn remove(&mut self, key: u64) -> Option<V> {
        self.0.remove(&key)
    }
}
