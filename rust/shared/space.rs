// SPDX-License-Identifier: GPL-2.0

//! Free space: the free extents of the device, an allocator over them, and
//! the reservations of delayed allocation.
//!
//! Free extents are kept in an [`OrderedMap`] keyed by first block, the
//! value being the length. Invariants, kept by every operation:
//!
//! - free extents do not overlap, have `len > 0`, and never touch (a freed
//!   range is merged with its neighbours), so each maximal free run is one
//!   entry;
//! - [`FreeSpace::free_blocks`] is the sum of their lengths;
//! - `reserved <= free_blocks`: every reserved block has a free block
//!   behind it. [`FreeSpace::reserve`] refuses to break this,
//!   [`FreeSpace::alloc`] only hands out unreserved blocks, and
//!   [`FreeSpace::alloc_reserved`] consumes one reservation per block it
//!   hands out. So a delalloc block reserved at write time always finds a
//!   block at writeback: running out of space is reported by `write(2)`,
//!   never by writeback.
//!
//! Which blocks the allocator may hand out (the data area) is the caller's
//! business: it only ever holds what was freed into it.
//!
//! Every operation does a bounded number of `O(log n)` map operations. A
//! failed operation, [`SpaceError::NoMemory`] included, changes nothing.

use super::extent_map::{NoMemory, OrderedMap};

/// Not enough unreserved free blocks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NoSpace;

/// Why a free-space operation failed; nothing changed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SpaceError {
    /// No free block (unreserved for [`FreeSpace::alloc`], reserved for
    /// [`FreeSpace::alloc_reserved`]).
    NoSpace,
    /// The ordered map could not allocate.
    NoMemory,
    /// A freed range overlaps free space: a double free.
    Overlap,
    /// An empty range, or one past block `u64::MAX`.
    BadRange,
}

impl From<NoMemory> for SpaceError {
    fn from(_: NoMemory) -> Self {
        SpaceError::NoMemory
    }
}

/// The free extents and reservations of a filesystem.
pub struct FreeSpace<M> {
    map: M,
    free: u64,
    reserved: u64,
    extents: u64,
}

impl<M: OrderedMap<u64>> FreeSpace<M> {
    /// Free space with no free block, stored in `map`, which must be empty.
    /// Fill it with [`FreeSpace::add_bitmap`] or [`FreeSpace::free`].
    pub fn new(map: M) -> Self {
        Self {
            map,
            free: 0,
            reserved: 0,
            extents: 0,
        }
    }

    /// Free blocks, reserved ones included.
    pub fn free_blocks(&self) -> u64 {
        self.free
    }

    /// Blocks reserved for delayed allocation.
    pub fn reserved(&self) -> u64 {
        self.reserved
    }

    /// Free blocks not reserved: what `statfs` reports as available.
    pub fn available(&self) -> u64 {
        self.free - self.reserved
    }

    /// Number of free extents.
    pub fn extent_count(&self) -> u64 {
        self.extents
    }

    /// The free extent that contains `block`, or else the first one after
    /// it, as `(start, len)`.
    pub fn next_free(&mut self, block: u64) -> Option<(u64, u64)> {
        self.map
            .floor(block)
            .filter(|&(start, len)| block - start < len)
            .or_else(|| self.map.ceil(block))
    }

    /// Adds the free blocks of a bitmap chunk: bit `i` of `bits` (LSB first)
    /// describes block `first_block + i`, clear meaning free; only the first
    /// `nbits` bits are read, and bits past the end of `bits` count as used.
    /// Chunks may come in any order; runs that continue across chunks are
    /// merged.
    pub fn add_bitmap(
        &mut self,
        bits: &[u8],
        first_block: u64,
        nbits: u64,
    ) -> Result<(), SpaceError> {
        for (start, len) in free_runs(bits, nbits) {
            let start = first_block.checked_add(start).ok_or(SpaceError::BadRange)?;
            self.free(start, len)?;
        }
        Ok(())
    }

    /// Returns `[start, start + len)` to free space, merging it with its
    /// neighbours. Refuses a range that is (partly) free already.
    pub fn free(&mut self, start: u64, len: u64) -> Result<(), SpaceError> {
        if len == 0 {
            return Err(SpaceError::BadRange);
        }
        let end = start.checked_add(len).ok_or(SpaceError::BadRange)?;
        let left = self.map.floor(start);
        if left.is_some_and(|(s, l)| start - s < l) {
            return Err(SpaceError::Overlap);
        }
        let right = self.map.ceil(start);
        if right.is_some_and(|(s, _)| s < end) {
            return Err(SpaceError::Overlap);
        }
        let left = left.filter(|&(s, l)| s + l == start);
        let right = right.filter(|&(s, _)| s == end);
        let right_len = right.map_or(0, |(_, l)| l);

        // One fallible step, then at most one removal.
        match left {
            Some((s, l)) => self.map.insert(s, l + len + right_len)?,
            None => self.map.insert(start, len + right_len)?,
        }
        if let Some((s, _)) = right {
            self.map.remove(s);
        }
        self.extents += 1;
        self.extents -= u64::from(left.is_some()) + u64::from(right.is_some());
        self.free += len;
        Ok(())
    }

    /// Reserves `n` free blocks for delayed allocation.
    pub fn reserve(&mut self, n: u64) -> Result<(), NoSpace> {
        if self.available() < n {
            return Err(NoSpace);
        }
        self.reserved += n;
        Ok(())
    }

    /// Gives back `n` reserved blocks (a delalloc range was punched or
    /// truncated). Giving back more than is reserved is a caller bug; the
    /// count stops at zero.
    pub fn unreserve(&mut self, n: u64) {
        self.reserved = self.reserved.saturating_sub(n);
    }

    /// Allocates up to `want` unreserved blocks: from `goal` if it is free,
    /// else from the first free extent after `goal`, else from the lowest
    /// one. Returns `(start, len)` with `1 <= len <= want`; the blocks are
    /// contiguous, so `len` may be short.
    pub fn alloc(&mut self, want: u64, goal: u64) -> Result<(u64, u64), SpaceError> {
        let want = want.min(self.available());
        if want == 0 {
            return Err(SpaceError::NoSpace);
        }
        self.take(want, goal)
    }

    /// Like [`FreeSpace::alloc`], for blocks reserved earlier with
    /// [`FreeSpace::reserve`]: hands out at most as many blocks as are
    /// reserved and consumes one reservation per block. Fails with
    /// [`SpaceError::NoSpace`] only when nothing is reserved.
    pub fn alloc_reserved(&mut self, want: u64, goal: u64) -> Result<(u64, u64), SpaceError> {
        let want = want.min(self.reserved);
        if want == 0 {
            return Err(SpaceError::NoSpace);
        }
        let (start, len) = self.take(want, goal)?;
        self.reserved -= len;
        Ok((start, len))
    }

    /// Takes `1..=want` blocks near `goal` out of the free extents.
    fn take(&mut self, want: u64, goal: u64) -> Result<(u64, u64), SpaceError> {
        let (s, l) = self
            .next_free(goal)
            .or_else(|| self.map.ceil(0))
            .ok_or(SpaceError::NoSpace)?;
        // Start at the goal when it is inside the extent.
        let from = if goal > s && goal - s < l { goal } else { s };
        let len = want.min(l - (from - s));
        let end = from + len;
        let extent_end = s + l;

        // At most one new key (the part after the allocation), then at most
        // one replacement (the part before it), undone on failure.
        if end < extent_end {
            self.map.insert(end, extent_end - end)?;
        }
        if from > s {
            if let Err(e) = self.map.insert(s, from - s) {
                if end < extent_end {
                    self.map.remove(end);
                }
                return Err(e.into());
            }
        } else {
            self.map.remove(s);
        }
        self.extents += u64::from(end < extent_end) + u64::from(from > s);
        self.extents -= 1;
        self.free -= len;
        Ok((from, len))
    }

    /// The ordered map underneath, for inspection.
    pub fn inner(&self) -> &M {
        &self.map
    }
}

/// The runs of clear bits in a bitmap, as `(first bit, number of bits)`;
/// see [`free_runs`].
#[derive(Clone, Debug)]
pub struct FreeRuns<'a> {
    bits: &'a [u8],
    nbits: u64,
    pos: u64,
}

/// The runs of clear (free) bits among the first `nbits` bits of `bits`,
/// LSB first. Bits past the end of `bits` count as set.
pub fn free_runs(bits: &[u8], nbits: u64) -> FreeRuns<'_> {
    FreeRuns {
        bits,
        nbits,
        pos: 0,
    }
}

impl FreeRuns<'_> {
    fn byte(&self, bit: u64) -> u8 {
        usize::try_from(bit / 8)
            .ok()
            .and_then(|i| self.bits.get(i))
            .copied()
            .unwrap_or(0xff)
    }

    /// Moves `pos` to the first bit at or after it that is `set`, or to
    /// `nbits`; whole bytes at a time where possible.
    fn skip_while(&mut self, set: bool) {
        let uniform = if set { 0xff } else { 0 };
        while self.pos < self.nbits {
            let byte = self.byte(self.pos);
            if self.pos % 8 == 0 && byte == uniform {
                self.pos += 8;
                continue;
            }
            if (byte >> (self.pos % 8)) & 1 != u8::from(set) {
                break;
            }
            self.pos += 1;
        }
        self.pos = self.pos.min(self.nbits);
    }
}

impl Iterator for FreeRuns<'_> {
    type Item = (u64, u64);

    fn next(&mut self) -> Option<(u64, u64)> {
        self.skip_while(true);
        if self.pos >= self.nbits {
            return None;
        }
        let start = self.pos;
        self.skip_while(false);
        Some((start, self.pos - start))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::collections::BTreeMap;
    use std::vec::Vec;

    #[derive(Default)]
    struct Map {
        tree: BTreeMap<u64, u64>,
        fail_in: Option<u32>,
    }

    impl OrderedMap<u64> for Map {
        fn floor(&mut self, key: u64) -> Option<(u64, u64)> {
            self.tree.range(..=key).next_back().map(|(k, v)| (*k, *v))
        }
        fn ceil(&mut self, key: u64) -> Option<(u64, u64)> {
            self.tree.range(key..).next().map(|(k, v)| (*k, *v))
        }
        fn insert(&mut self, key: u64, value: u64) -> Result<(), NoMemory> {
            if let Some(n) = self.fail_in.as_mut() {
                if *n == 0 {
                    return Err(NoMemory);
                }
                *n -= 1;
            }
            self.tree.insert(key, value);
            Ok(())
        }
        fn remove(&mut self, key: u64) -> Option<u64> {
            self.tree.remove(&key)
        }
    }

    fn extents(f: &FreeSpace<Map>) -> Vec<(u64, u64)> {
        f.inner().tree.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn runs() {
        let bits = [0b1111_0000u8, 0xff, 0x00, 0x00, 0b0000_0001];
        let r: Vec<_> = free_runs(&bits, 40).collect();
        assert_eq!(r, [(0, 4), (16, 16), (33, 7)]);
        let r: Vec<_> = free_runs(&bits, 20).collect();
        assert_eq!(r, [(0, 4), (16, 4)]);
        let r: Vec<_> = free_runs(&bits, 100).collect();
        assert_eq!(r, [(0, 4), (16, 16), (33, 7)]);
        assert_eq!(free_runs(&[], 10).count(), 0);
    }

    #[test]
    fn bitmap_chunks_merge() {
        let mut f = FreeSpace::new(Map::default());
        // Block 0 used, 1..=15 free, then 16..=23 free in a second chunk.
        f.add_bitmap(&[0x01, 0x00], 0, 16).unwrap();
        f.add_bitmap(&[0x00, 0xf0], 16, 16).unwrap();
        assert_eq!(extents(&f), [(1, 27)]);
        assert_eq!(f.free_blocks(), 27);
        assert_eq!(f.extent_count(), 1);
        assert_eq!(f.add_bitmap(&[0xfd], 0, 8), Err(SpaceError::Overlap));
    }

    #[test]
    fn alloc_free_goal() {
        let mut f = FreeSpace::new(Map::default());
        f.free(10, 10).unwrap();
        f.free(30, 10).unwrap();
        assert_eq!(f.free(15, 1), Err(SpaceError::Overlap));
        assert_eq!(f.free(5, 6), Err(SpaceError::Overlap));
        assert_eq!(f.free(0, 0), Err(SpaceError::BadRange));
        assert_eq!(f.alloc(4, 12), Ok((12, 4)));
        assert_eq!(extents(&f), [(10, 2), (16, 4), (30, 10)]);
        assert_eq!(f.alloc(100, 21), Ok((30, 10)));
        assert_eq!(f.alloc(100, 50), Ok((10, 2)));
        assert_eq!(f.alloc(1, 0), Ok((16, 1)));
        f.free(12, 4).unwrap();
        f.free(16, 1).unwrap();
        f.free(10, 2).unwrap();
        assert_eq!(extents(&f), [(10, 10)]);
        assert_eq!(f.free_blocks(), 10);
    }

    #[test]
    fn reservations() {
        let mut f = FreeSpace::new(Map::default());
        f.free(100, 10).unwrap();
        f.reserve(8).unwrap();
        assert_eq!(f.reserve(3), Err(NoSpace));
        assert_eq!(f.available(), 2);
        assert_eq!(f.alloc(5, 0), Ok((100, 2)));
        assert_eq!(f.alloc(5, 0), Err(SpaceError::NoSpace));
        assert_eq!(f.alloc_reserved(5, 0), Ok((102, 5)));
        assert_eq!(f.reserved(), 3);
        f.unreserve(1);
        assert_eq!(f.alloc_reserved(5, 0), Ok((107, 2)));
        assert_eq!(f.alloc_reserved(5, 0), Err(SpaceError::NoSpace));
        f.unreserve(10);
        assert_eq!(f.reserved(), 0);
    }

    #[test]
    fn no_memory_changes_nothing() {
        for k in 0..2 {
            let mut f = FreeSpace::new(Map::default());
            f.free(10, 10).unwrap();
            f.free(30, 10).unwrap();
            f.reserve(3).unwrap();
            let before = extents(&f);
            f.map.fail_in = Some(k);
            let r = f.alloc_reserved(2, 15);
            if r.is_ok() {
                continue;
            }
            assert_eq!(r, Err(SpaceError::NoMemory));
            assert_eq!(f.free(20, 10), Err(SpaceError::NoMemory));
            assert_eq!(extents(&f), before);
            assert_eq!(
                (f.free_blocks(), f.reserved(), f.extent_count()),
                (20, 3, 2)
            );
        }
    }
}
