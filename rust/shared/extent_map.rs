// SPDX-License-Identifier: GPL-2.0

//! A file's in-memory block map: which file blocks are mapped to disk
//! blocks (written, or allocated but unwritten), which are reserved for
//! delayed allocation, and which are holes.
//!
//! The map is generic over an ordered map ([`OrderedMap`]) so that the
//! kernel runs it on its red-black tree and the host tests on a `BTreeMap`.
//! Keys are first file blocks of extents; values are [`Mapping`]s. Ranges
//! are half-open, in blocks, and stay below `u64::MAX` (block `u64::MAX`
//! can never be mapped).
//!
//! Invariants, kept by every operation:
//!
//! - extents do not overlap and have `len > 0`;
//! - two adjacent extents are never mergeable: two delalloc extents, or two
//!   real (or two unwritten) extents whose disk blocks are contiguous, that
//!   touch are one extent. So a run of delalloc blocks is always a single
//!   extent, and so is a run of unwritten blocks contiguous on disk;
//! - [`ExtentMap::extent_count`] and [`ExtentMap::delalloc_blocks`] match
//!   the contents;
//! - [`ExtentMap::generation`] changes with every change of the map, so a
//!   mapping handed out earlier can be checked for staleness (iomap's
//!   `iomap_valid`, as XFS's `if_seq`).
//!
//! Every operation does a bounded number of map operations (each
//! `O(log n)`), plus one per extent it removes or reports. An operation that
//! fails, including on [`NoMemory`], leaves the map unchanged: the fallible
//! steps (inserting a new key or replacing a value) run first, at most one
//! of them replaces an existing value and it runs last, and the earlier ones
//! are undone by removals, which cannot fail.

/// The ordered map could not allocate.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NoMemory;

/// An ordered map from `u64` keys to small values. All methods take
/// `&mut self` because the kernel's red-black tree needs it for cursors.
pub trait OrderedMap<V: Copy> {
    /// The entry with the largest key `<= key`.
    fn floor(&mut self, key: u64) -> Option<(u64, V)>;
    /// The entry with the smallest key `>= key`.
    fn ceil(&mut self, key: u64) -> Option<(u64, V)>;
    /// Inserts `key`, or replaces its value. On error the map must be
    /// unchanged (the old value, if any, still in place).
    fn insert(&mut self, key: u64, value: V) -> Result<(), NoMemory>;
    /// Removes `key` and returns its value. Cannot fail.
    fn remove(&mut self, key: u64) -> Option<V>;
}

/// What an extent's blocks are.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum State {
    /// Allocated: the first block is disk block `physical`, the others
    /// follow it.
    Real {
        /// Disk block of the extent's first block.
        physical: u64,
    },
    /// Reserved for delayed allocation: counted against free space, no
    /// disk block chosen yet.
    Delalloc,
    /// Allocated from disk block `physical` on, but not holding the file's
    /// data yet: reads see zeros until the data is on disk and the extent
    /// is converted ([`ExtentMap::convert_unwritten`]).
    Unwritten {
        /// Disk block of the extent's first block.
        physical: u64,
    },
}

impl State {
    /// The state of the block `offset` blocks into an extent in this state.
    fn advance(self, offset: u64) -> State {
        match self {
            State::Real { physical } => State::Real {
                physical: physical + offset,
            },
            State::Unwritten { physical } => State::Unwritten {
                physical: physical + offset,
            },
            State::Delalloc => State::Delalloc,
        }
    }

    /// The first disk block, for allocated (real or unwritten) extents.
    pub fn physical(self) -> Option<u64> {
        match self {
            State::Real { physical } | State::Unwritten { physical } => Some(physical),
            State::Delalloc => None,
        }
    }

    /// Whether both states are of the same kind, whatever their blocks.
    fn same_kind(self, other: State) -> bool {
        core::mem::discriminant(&self) == core::mem::discriminant(&other)
    }
}

/// One extent: `len` blocks in state `state`, keyed by its first block.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Mapping {
    /// Number of blocks, > 0.
    pub len: u64,
    /// Real or delalloc.
    pub state: State,
}

impl Mapping {
    /// Whether an extent `self` starting at `start` can absorb the extent
    /// `next` starting at `next_start`: they touch and are of the same kind,
    /// real ones also physically contiguous.
    fn merges_with(&self, start: u64, next_start: u64, next: State) -> bool {
        start.checked_add(self.len) == Some(next_start)
            && match (self.state, next) {
                (State::Delalloc, State::Delalloc) => true,
                (State::Real { physical: a }, State::Real { physical: b })
                | (State::Unwritten { physical: a }, State::Unwritten { physical: b }) => {
                    a.checked_add(self.len) == Some(b)
                }
                _ => false,
            }
    }
}

/// What [`ExtentMap::lookup`] finds at a block.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lookup {
    /// The block is mapped: `len` blocks from it on are in `state` (for
    /// real blocks, `physical` is the disk block of the looked-up block).
    Mapped {
        /// Blocks from the looked-up one to the end of its extent.
        len: u64,
        /// The looked-up block's state.
        state: State,
    },
    /// The block is in a hole of `len` blocks, up to the next extent or to
    /// block `u64::MAX`.
    Hole {
        /// Blocks from the looked-up one to the next extent.
        len: u64,
    },
}

/// Which extents [`ExtentMap::remove`] removes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Filter {
    /// Only delalloc reservations; allocated blocks stay.
    DelallocOnly,
    /// Everything but unwritten blocks, which read as zeros wherever they
    /// are (preallocation past EOF stays).
    KeepUnwritten,
    /// Everything.
    All,
}

impl Filter {
    fn matches(self, state: State) -> bool {
        match self {
            Filter::All => true,
            Filter::KeepUnwritten => !matches!(state, State::Unwritten { .. }),
            Filter::DelallocOnly => state == State::Delalloc,
        }
    }
}

/// Why an [`ExtentMap`] operation failed; the map is unchanged.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MapError {
    /// The ordered map could not allocate.
    NoMemory,
    /// [`ExtentMap::insert`]: part of the range is already mapped.
    NotAHole,
    /// [`ExtentMap::convert_delalloc`]: part of the range is not delalloc;
    /// or it was asked to make the blocks something other than real or
    /// unwritten.
    NotDelalloc,
    /// An empty range, or one that runs past block or disk block
    /// `u64::MAX`.
    BadRange,
}

impl From<NoMemory> for MapError {
    fn from(_: NoMemory) -> Self {
        MapError::NoMemory
    }
}

/// A file's block map. See the module documentation for the invariants.
pub struct ExtentMap<M> {
    map: M,
    extents: u64,
    delalloc: u64,
    generation: u64,
}

impl<M: OrderedMap<Mapping>> ExtentMap<M> {
    /// A block map stored in `map`, which must be empty.
    pub fn new(map: M) -> Self {
        Self {
            map,
            extents: 0,
            delalloc: 0,
            generation: 0,
        }
    }

    /// A number that changes whenever the map does (it wraps after 2^64
    /// changes, which no mapping lives to see).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Records a change of the map.
    fn changed(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    /// Number of extents, real and delalloc.
    pub fn extent_count(&self) -> u64 {
        self.extents
    }

    /// Number of delalloc blocks.
    pub fn delalloc_blocks(&self) -> u64 {
        self.delalloc
    }

    /// The extent that contains `lblk`, if any.
    fn containing(&mut self, lblk: u64) -> Option<(u64, Mapping)> {
        self.map
            .floor(lblk)
            .filter(|&(start, m)| lblk - start < m.len)
    }

    /// What block `lblk` is: mapped (clipped to start at `lblk`) or a hole up
    /// to the next extent.
    pub fn lookup(&mut self, lblk: u64) -> Lookup {
        if let Some((start, m)) = self.containing(lblk) {
            let offset = lblk - start;
            return Lookup::Mapped {
                len: m.len - offset,
                state: m.state.advance(offset),
            };
        }
        let end = self.map.ceil(lblk).map_or(u64::MAX, |(start, _)| start);
        Lookup::Hole { len: end - lblk }
    }

    /// The extent that contains `lblk`, or else the first one after it, as
    /// stored (its start may be below `lblk`).
    pub fn next_from(&mut self, lblk: u64) -> Option<(u64, Mapping)> {
        self.containing(lblk).or_else(|| self.map.ceil(lblk))
    }

    /// Calls `f(start, mapping)` for every extent in order, stopping at the
    /// first error.
    pub fn for_each<E>(
        &mut self,
        mut f: impl FnMut(u64, Mapping) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut cursor = 0;
        while let Some((start, m)) = self.map.ceil(cursor) {
            f(start, m)?;
            // Extents end at or below u64::MAX, so this cannot overflow, and
            // a map ending at u64::MAX has nothing after.
            cursor = start + m.len;
        }
        Ok(())
    }

    /// Maps `[lblk, lblk + len)`, which must be a hole, as `state`, merging
    /// with mergeable neighbours.
    pub fn insert(&mut self, lblk: u64, len: u64, state: State) -> Result<(), MapError> {
        let end = range_end(lblk, len)?;
        if let State::Real { physical } = state {
            range_end(physical, len)?;
        }
        if self.containing(lblk).is_some() {
            return Err(MapError::NotAHole);
        }
        let right = self.map.ceil(lblk);
        if right.is_some_and(|(start, _)| start < end) {
            return Err(MapError::NotAHole);
        }
        let new = Mapping { len, state };
        let left = match lblk.checked_sub(1) {
            Some(before) => self
                .containing(before)
                .filter(|(start, m)| m.merges_with(*start, lblk, state)),
            None => None,
        };
        let right = right.filter(|(start, m)| new.merges_with(lblk, *start, m.state));

        // One fallible step, then removals.
        let right_len = right.map_or(0, |(_, m)| m.len);
        match left {
            Some((lstart, lm)) => self.map.insert(
                lstart,
                Mapping {
                    len: lm.len + len + right_len,
                    state: lm.state,
                },
            )?,
            None => self.map.insert(
                lblk,
                Mapping {
                    len: len + right_len,
                    state,
                },
            )?,
        }
        if let Some((rstart, _)) = right {
            self.map.remove(rstart);
        }
        self.extents += 1;
        self.extents -= u64::from(left.is_some()) + u64::from(right.is_some());
        if state == State::Delalloc {
            self.delalloc += len;
        }
        self.changed();
        Ok(())
    }

    /// Removes the extents, or parts of extents, that `filter` selects in
    /// `[lblk, lblk + len)` (clipped at `u64::MAX`), splitting those that
    /// straddle the range's ends. Calls `on_removed(start, len, state)` for
    /// each removed piece, in order, once nothing can fail any more; on
    /// error it is never called.
    pub fn remove(
        &mut self,
        lblk: u64,
        len: u64,
        filter: Filter,
        mut on_removed: impl FnMut(u64, u64, State),
    ) -> Result<(), MapError> {
        let end = lblk.saturating_add(len);
        if lblk >= end {
            return Ok(());
        }
        // An extent that starts before the range and reaches into it.
        let head = self
            .containing(lblk)
            .filter(|&(start, m)| start < lblk && filter.matches(m.state));
        // An extent that reaches past the range's end from inside it.
        let tail = self
            .containing(end - 1)
            .filter(|&(start, m)| end - start < m.len && filter.matches(m.state));

        // Fallible steps: the tail's remainder gets a new key, then the
        // head is shortened (the only replacement).
        if let Some((start, m)) = tail {
            let rest = Mapping {
                len: m.len - (end - start),
                state: m.state.advance(end - start),
            };
            self.map.insert(end, rest)?;
        }
        if let Some((start, m)) = head {
            let kept = Mapping {
                len: lblk - start,
                state: m.state,
            };
            if let Err(e) = self.map.insert(start, kept) {
                if tail.is_some() {
                    self.map.remove(end);
                }
                return Err(e.into());
            }
        }

        // Nothing can fail from here on.
        let mut removed = false;
        if tail.is_some() {
            self.extents += 1;
        }
        if let Some((start, m)) = head {
            removed = true;
            let piece_end = end.min(start + m.len);
            self.account_removed(piece_end - lblk, m.state);
            on_removed(lblk, piece_end - lblk, m.state.advance(lblk - start));
        }
        let mut cursor = lblk;
        while let Some((start, m)) = self.map.ceil(cursor) {
            if start >= end {
                break;
            }
            cursor = start + m.len;
            if !filter.matches(m.state) {
                continue;
            }
            self.map.remove(start);
            self.extents -= 1;
            removed = true;
            let piece = cursor.min(end) - start;
            self.account_removed(piece, m.state);
            on_removed(start, piece, m.state);
        }
        if removed {
            self.changed();
        }
        Ok(())
    }

    /// Accounts for a removed piece of `len` blocks.
    fn account_removed(&mut self, len: u64, state: State) {
        if state == State::Delalloc {
            self.delalloc -= len;
        }
    }

    /// Turns the delalloc blocks `[lblk, lblk + len)`, which must all be
    /// delalloc, into allocated blocks starting at disk block `physical`:
    /// real ones, or unwritten ones if `unwritten` (writeback and direct
    /// writes allocate unwritten extents, converted once their data is on
    /// disk). Splits the delalloc extent and merges with neighbours of the
    /// same kind.
    pub fn convert_delalloc(
        &mut self,
        lblk: u64,
        len: u64,
        physical: u64,
        unwritten: bool,
    ) -> Result<(), MapError> {
        let to = if unwritten {
            State::Unwritten { physical }
        } else {
            State::Real { physical }
        };
        self.convert_within(lblk, len, State::Delalloc, to)
    }

    /// Marks every unwritten block of `[lblk, lblk + len)` written: their
    /// data is on disk. Holes and blocks in other states are left alone, so
    /// converting twice is harmless. Returns the number of blocks converted.
    ///
    /// Each unwritten extent is converted in one step that leaves the map
    /// unchanged if it fails; on [`MapError::NoMemory`] the extents before
    /// the failing one stay converted (the map is consistent either way),
    /// and a retry finishes the job.
    pub fn convert_unwritten(&mut self, lblk: u64, len: u64) -> Result<u64, MapError> {
        let end = lblk.saturating_add(len);
        let mut cursor = lblk;
        let mut converted = 0u64;
        while cursor < end {
            let (n, state) = match self.lookup(cursor) {
                Lookup::Mapped { len, state } => (len, Some(state)),
                Lookup::Hole { len } => (len, None),
            };
            let n = n.min(end - cursor);
            if let Some(State::Unwritten { physical }) = state {
                self.convert_within(
                    cursor,
                    n,
                    State::Unwritten { physical },
                    State::Real { physical },
                )?;
                converted += n;
            }
            cursor += n;
        }
        Ok(converted)
    }

    /// Turns blocks `[lblk, lblk + len)`, which must lie inside one extent
    /// of `from`'s kind, into `to`, which must be real or unwritten:
    /// the extent is split around the range and the new piece merges with
    /// neighbours it can merge with. For an unwritten `from`, `to` must name
    /// the same disk blocks.
    fn convert_within(
        &mut self,
        lblk: u64,
        len: u64,
        from: State,
        to: State,
    ) -> Result<(), MapError> {
        let end = range_end(lblk, len)?;
        let physical = to.physical().ok_or(MapError::NotDelalloc)?;
        range_end(physical, len)?;
        // Delalloc runs are single extents (invariant), so the range must
        // lie inside one; so must an unwritten range handed to this.
        let (dstart, dm) = self.containing(lblk).ok_or(MapError::NotDelalloc)?;
        let dend = dstart + dm.len;
        if !dm.state.same_kind(from) || end > dend {
            return Err(MapError::NotDelalloc);
        }
        if matches!(dm.state, State::Unwritten { .. })
            && dm.state.advance(lblk - dstart).physical() != Some(physical)
        {
            return Err(MapError::BadRange);
        }
        let head = lblk > dstart;
        let tail = end < dend;
        let left = match dstart.checked_sub(1) {
            Some(before) if !head => self
                .containing(before)
                .filter(|(start, m)| m.merges_with(*start, lblk, to)),
            _ => None,
        };
        let piece = Mapping { len, state: to };
        let right = if tail {
            None
        } else {
            self.map
                .ceil(end)
                .filter(|(start, m)| piece.merges_with(lblk, *start, m.state))
        };

        // The new piece, with what it absorbs, keyed where it starts.
        let (key, value) = {
            let right_len = right.map_or(0, |(_, m)| m.len);
            match left {
                Some((lstart, lm)) => (
                    lstart,
                    Mapping {
                        len: lm.len + len + right_len,
                        state: lm.state,
                    },
                ),
                None => (
                    lblk,
                    Mapping {
                        len: len + right_len,
                        state: to,
                    },
                ),
            }
        };

        // Fallible steps: new keys first (the old extent's tail, and the
        // piece when the old extent's head keeps the old key), the
        // replacement last.
        if tail {
            let rest = Mapping {
                len: dend - end,
                state: dm.state.advance(end - dstart),
            };
            self.map.insert(end, rest)?;
        }
        let undo_tail = |map: &mut M| {
            if tail {
                map.remove(end);
            }
        };
        if head {
            if let Err(e) = self.map.insert(key, value) {
                undo_tail(&mut self.map);
                return Err(e.into());
            }
            let kept = Mapping {
                len: lblk - dstart,
                state: dm.state,
            };
            if let Err(e) = self.map.insert(dstart, kept) {
                self.map.remove(key);
                undo_tail(&mut self.map);
                return Err(e.into());
            }
        } else {
            if let Err(e) = self.map.insert(key, value) {
                undo_tail(&mut self.map);
                return Err(e.into());
            }
            if left.is_some() {
                // The piece went into the left neighbour's key.
                self.map.remove(dstart);
            }
        }
        if let Some((rstart, _)) = right {
            self.map.remove(rstart);
        }

        // Before: the old extent, and the neighbours that merged.
        // After: head?, the new piece, tail?.
        self.extents += 1 + u64::from(head) + u64::from(tail);
        self.extents -= 1 + u64::from(left.is_some()) + u64::from(right.is_some());
        self.account_removed(len, from);
        self.changed();
        Ok(())
    }

    /// The ordered map underneath, for inspection.
    pub fn inner(&self) -> &M {
        &self.map
    }
}

/// `lblk + len` for a non-empty range that stays below `u64::MAX`.
fn range_end(start: u64, len: u64) -> Result<u64, MapError> {
    if len == 0 {
        return Err(MapError::BadRange);
    }
    start.checked_add(len).ok_or(MapError::BadRange)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::collections::BTreeMap;
    use std::vec::Vec;

    /// BTreeMap that can be told to fail its next insert.
    #[derive(Default)]
    struct Map {
        tree: BTreeMap<u64, Mapping>,
        fail_in: Option<u32>,
    }

    impl OrderedMap<Mapping> for Map {
        fn floor(&mut self, key: u64) -> Option<(u64, Mapping)> {
            self.tree.range(..=key).next_back().map(|(k, v)| (*k, *v))
        }
        fn ceil(&mut self, key: u64) -> Option<(u64, Mapping)> {
            self.tree.range(key..).next().map(|(k, v)| (*k, *v))
        }
        fn insert(&mut self, key: u64, value: Mapping) -> Result<(), NoMemory> {
            if let Some(n) = self.fail_in.as_mut() {
                if *n == 0 {
                    return Err(NoMemory);
                }
                *n -= 1;
            }
            self.tree.insert(key, value);
            Ok(())
        }
        fn remove(&mut self, key: u64) -> Option<Mapping> {
            self.tree.remove(&key)
        }
    }

    fn real(physical: u64) -> State {
        State::Real { physical }
    }

    fn dump(m: &mut ExtentMap<Map>) -> Vec<(u64, u64, State)> {
        let mut v = Vec::new();
        m.for_each(|s, x| {
            v.push((s, x.len, x.state));
            Ok::<(), ()>(())
        })
        .unwrap();
        v
    }

    #[test]
    fn insert_merges() {
        let mut m = ExtentMap::new(Map::default());
        m.insert(10, 5, real(100)).unwrap();
        m.insert(20, 5, real(110)).unwrap();
        m.insert(15, 5, real(105)).unwrap();
        assert_eq!(dump(&mut m), [(10, 15, real(100))]);
        assert_eq!(m.insert(12, 1, State::Delalloc), Err(MapError::NotAHole));
        assert_eq!(m.insert(5, 6, State::Delalloc), Err(MapError::NotAHole));
        m.insert(25, 2, real(1)).unwrap();
        m.insert(27, 2, State::Delalloc).unwrap();
        m.insert(29, 2, State::Delalloc).unwrap();
        assert_eq!(
            dump(&mut m),
            [
                (10, 15, real(100)),
                (25, 2, real(1)),
                (27, 4, State::Delalloc)
            ]
        );
        assert_eq!(m.extent_count(), 3);
        assert_eq!(m.delalloc_blocks(), 4);
        assert_eq!(m.insert(0, 0, State::Delalloc), Err(MapError::BadRange));
        assert_eq!(
            m.insert(u64::MAX, 1, State::Delalloc),
            Err(MapError::BadRange)
        );
        assert_eq!(m.insert(0, 2, real(u64::MAX - 1)), Err(MapError::BadRange));
    }

    #[test]
    fn lookup_and_holes() {
        let mut m = ExtentMap::new(Map::default());
        assert_eq!(m.lookup(0), Lookup::Hole { len: u64::MAX });
        m.insert(10, 5, real(100)).unwrap();
        assert_eq!(m.lookup(3), Lookup::Hole { len: 7 });
        assert_eq!(
            m.lookup(12),
            Lookup::Mapped {
                len: 3,
                state: real(102)
            }
        );
        assert_eq!(m.lookup(15), Lookup::Hole { len: u64::MAX - 15 });
        assert_eq!(
            m.next_from(12),
            Some((
                10,
                Mapping {
                    len: 5,
                    state: real(100)
                }
            ))
        );
        assert_eq!(
            m.next_from(0),
            Some((
                10,
                Mapping {
                    len: 5,
                    state: real(100)
                }
            ))
        );
        assert_eq!(m.next_from(15), None);
    }

    #[test]
    fn remove_splits() {
        let mut m = ExtentMap::new(Map::default());
        m.insert(0, 10, real(100)).unwrap();
        m.insert(10, 10, State::Delalloc).unwrap();
        let mut got = Vec::new();
        m.remove(5, 10, Filter::All, |s, l, st| got.push((s, l, st)))
            .unwrap();
        assert_eq!(got, [(5, 5, real(105)), (10, 5, State::Delalloc)]);
        assert_eq!(dump(&mut m), [(0, 5, real(100)), (15, 5, State::Delalloc)]);
        assert_eq!(m.delalloc_blocks(), 5);

        got.clear();
        m.remove(0, u64::MAX, Filter::DelallocOnly, |s, l, st| {
            got.push((s, l, st))
        })
        .unwrap();
        assert_eq!(got, [(15, 5, State::Delalloc)]);
        assert_eq!(dump(&mut m), [(0, 5, real(100))]);
        m.remove(1, 2, Filter::All, |_, _, _| {}).unwrap();
        assert_eq!(dump(&mut m), [(0, 1, real(100)), (3, 2, real(103))]);
        assert_eq!(m.extent_count(), 2);
    }

    #[test]
    fn convert() {
        let mut m = ExtentMap::new(Map::default());
        m.insert(0, 4, real(50)).unwrap();
        m.insert(4, 10, State::Delalloc).unwrap();
        m.insert(14, 2, real(70)).unwrap();
        assert_eq!(
            m.convert_delalloc(3, 2, 0, false),
            Err(MapError::NotDelalloc)
        );
        assert_eq!(
            m.convert_delalloc(13, 2, 0, false),
            Err(MapError::NotDelalloc)
        );
        m.convert_delalloc(6, 2, 200, false).unwrap();
        assert_eq!(
            dump(&mut m),
            [
                (0, 4, real(50)),
                (4, 2, State::Delalloc),
                (6, 2, real(200)),
                (8, 6, State::Delalloc),
                (14, 2, real(70)),
            ]
        );
        m.convert_delalloc(4, 2, 54, false).unwrap();
        m.convert_delalloc(8, 6, 64, false).unwrap();
        assert_eq!(
            dump(&mut m),
            [(0, 6, real(50)), (6, 2, real(200)), (8, 8, real(64))]
        );
        assert_eq!(m.extent_count(), 3);
        assert_eq!(m.delalloc_blocks(), 0);
    }

    fn unwritten(physical: u64) -> State {
        State::Unwritten { physical }
    }

    #[test]
    fn unwritten_lifecycle() {
        let mut m = ExtentMap::new(Map::default());
        m.insert(0, 4, real(50)).unwrap();
        m.insert(4, 10, State::Delalloc).unwrap();
        let g = m.generation();
        // Writeback allocates the whole delalloc extent unwritten, right
        // after the real blocks before it: the two kinds do not merge.
        m.convert_delalloc(4, 10, 54, true).unwrap();
        assert_ne!(m.generation(), g);
        assert_eq!(dump(&mut m), [(0, 4, real(50)), (4, 10, unwritten(54))]);
        assert_eq!(m.delalloc_blocks(), 0);
        // Completion of an I/O over blocks 6..8, then 4..6: the written
        // blocks merge with the real extent on the left.
        assert_eq!(m.convert_unwritten(6, 2), Ok(2));
        assert_eq!(
            dump(&mut m),
            [
                (0, 4, real(50)),
                (4, 2, unwritten(54)),
                (6, 2, real(56)),
                (8, 6, unwritten(58))
            ]
        );
        assert_eq!(m.convert_unwritten(4, 2), Ok(2));
        assert_eq!(dump(&mut m), [(0, 8, real(50)), (8, 6, unwritten(58))]);
        assert_eq!(m.extent_count(), 2);
        // Twice is harmless; holes and real blocks are skipped.
        let g = m.generation();
        assert_eq!(m.convert_unwritten(0, 8), Ok(0));
        assert_eq!(m.generation(), g);
        m.insert(20, 2, unwritten(70)).unwrap();
        assert_eq!(m.convert_unwritten(0, 100), Ok(8));
        assert_eq!(dump(&mut m), [(0, 14, real(50)), (20, 2, real(70))]);
        assert_eq!(m.extent_count(), 2);
        // Unwritten extents contiguous on disk merge; delalloc does not
        // turn into them or merge with them.
        m.insert(30, 2, unwritten(80)).unwrap();
        m.insert(32, 2, unwritten(82)).unwrap();
        m.insert(34, 2, State::Delalloc).unwrap();
        assert_eq!(
            dump(&mut m)[2..],
            [(30, 4, unwritten(80)), (34, 2, State::Delalloc)]
        );
        assert_eq!(m.convert_delalloc(34, 2, 84, true), Ok(()));
        assert_eq!(dump(&mut m)[2..], [(30, 6, unwritten(80))]);
        // Removal frees unwritten blocks like real ones.
        let mut got = Vec::new();
        m.remove(31, 2, Filter::DelallocOnly, |s, l, st| got.push((s, l, st)))
            .unwrap();
        m.remove(0, 100, Filter::KeepUnwritten, |s, l, st| {
            got.push((s, l, st))
        })
        .unwrap();
        assert_eq!(got, [(0, 14, real(50)), (20, 2, real(70))]);
        got.clear();
        m.remove(31, 2, Filter::All, |s, l, st| got.push((s, l, st)))
            .unwrap();
        assert_eq!(got, [(31, 2, unwritten(81))]);
        assert_eq!(
            dump(&mut m),
            [(30, 1, unwritten(80)), (33, 3, unwritten(83))]
        );
    }

    #[test]
    fn generation_moves_with_every_change() {
        let mut m = ExtentMap::new(Map::default());
        let mut last = m.generation();
        let mut moved = |m: &ExtentMap<Map>, what: &str| {
            assert_ne!(m.generation(), last, "{what}");
            last = m.generation();
        };
        m.insert(0, 4, State::Delalloc).unwrap();
        moved(&m, "insert");
        m.convert_delalloc(0, 2, 10, false).unwrap();
        moved(&m, "convert_delalloc");
        m.convert_delalloc(2, 2, 12, true).unwrap();
        moved(&m, "convert_delalloc unwritten");
        m.convert_unwritten(0, 4).unwrap();
        moved(&m, "convert_unwritten");
        m.remove(1, 1, Filter::All, |_, _, _| {}).unwrap();
        moved(&m, "remove");
        // Failed operations and no-ops change nothing.
        let g = m.generation();
        assert!(m.insert(0, 1, State::Delalloc).is_err());
        m.remove(10, 5, Filter::All, |_, _, _| {}).unwrap();
        assert_eq!(
            m.convert_delalloc(0, 1, 5, true),
            Err(MapError::NotDelalloc)
        );
        assert_eq!(m.generation(), g);
    }

    /// Failing the k-th insert of any operation leaves the map as it was.
    #[test]
    fn no_memory_leaves_map_unchanged() {
        let setup = || {
            let mut m = ExtentMap::new(Map::default());
            m.insert(0, 4, real(50)).unwrap();
            m.insert(4, 10, State::Delalloc).unwrap();
            m.insert(14, 2, real(70)).unwrap();
            m.insert(20, 10, real(80)).unwrap();
            m
        };
        type Op = fn(&mut ExtentMap<Map>) -> Result<(), MapError>;
        let ops: [Op; 9] = [
            |m| m.convert_delalloc(6, 2, 200, false),
            |m| m.convert_delalloc(4, 2, 54, false),
            |m| m.convert_delalloc(8, 6, 64, false),
            |m| m.convert_delalloc(4, 10, 54, false),
            |m| m.remove(2, 20, Filter::All, |_, _, _| {}),
            |m| m.remove(22, 2, Filter::All, |_, _, _| {}),
            |m| m.insert(16, 4, real(72)),
            |m| m.convert_delalloc(6, 2, 200, true),
            |m| m.convert_delalloc(4, 10, 54, true),
        ];
        for (i, op) in ops.iter().enumerate() {
            for k in 0..3 {
                let mut m = setup();
                let before = dump(&mut m);
                m.map.fail_in = Some(k);
                match op(&mut m) {
                    Ok(()) => continue,
                    Err(e) => assert_eq!(e, MapError::NoMemory),
                }
                m.map.fail_in = None;
                assert_eq!(dump(&mut m), before, "op {i} failing insert {k}");
                assert_eq!(m.extent_count(), 4);
                assert_eq!(m.delalloc_blocks(), 10);
            }
        }
    }
}
