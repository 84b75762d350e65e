// SPDX-License-Identifier: GPL-2.0

//! The kernel's red-black tree as the ordered map the shared extent map and
//! free-space code run on.

use kernel::prelude::*;
use kernel::rbtree::RBTree;

use crate::shared::extent_map::{NoMemory, OrderedMap};

/// An ordered `u64 -> V` map on `kernel::rbtree`.
pub(crate) struct RbMap<V> {
    tree: RBTree<u64, V>,
}

impl<V> RbMap<V> {
    pub(crate) fn new() -> Self {
        Self {
            tree: RBTree::new(),
        }
    }
}

impl<V: Copy> OrderedMap<V> for RbMap<V> {
    fn floor(&mut self, key: u64) -> Option<(u64, V)> {
        match self.tree.cursor_lower_bound(&key) {
            Some(cursor) => {
                let (k, v) = cursor.current();
                if *k == key {
                    return Some((*k, *v));
                }
                cursor.peek_prev().map(|(k, v)| (*k, *v))
            }
            // Every key is below `key`: the floor is the last one.
            None => self.tree.cursor_back().map(|cursor| {
                let (k, v) = cursor.current();
                (*k, *v)
            }),
        }
    }

    fn ceil(&mut self, key: u64) -> Option<(u64, V)> {
        self.tree.cursor_lower_bound(&key).map(|cursor| {
            let (k, v) = cursor.current();
            (*k, *v)
        })
    }

    fn insert(&mut self, key: u64, value: V) -> Result<(), NoMemory> {
        self.tree
            .try_create_and_insert(key, value, GFP_KERNEL)
            .map(|_old| ())
            .map_err(|_| NoMemory)
    }

    fn remove(&mut self, key: u64) -> Option<V> {
        self.tree.remove(&key)
    }
}
