// SPDX-License-Identifier: GPL-2.0

//! Regular files: iomap mappings with delayed allocation (modelled on
//! fs/xfs/xfs_iomap.c), writeback allocation, direct I/O, truncate and hole
//! punching.
//!
//! A buffered write over a hole reserves space (`ENOSPC` comes here, at
//! write time) and maps it `IOMAP_DELALLOC | IOMAP_F_NEW`; writeback turns
//! reservations into blocks in `map_blocks`; a short write gives back, in
//! `iomap_end`, what no dirty folio needs (the release loop).

use kernel::bindings;
use kernel::prelude::*;

use super::release::release_delalloc;
use super::{lock_state, DInode};
use crate::shared::extent_map::{Filter, Lookup, State};
use crate::vfs::buffer::BLOCK_SIZE;
use crate::vfs::ops::{truncate_setsize, zero_range};
use crate::vfs::{IoKind, Mapping, MappingKind};

const BS: i64 = BLOCK_SIZE as i64;

fn round_up(x: i64) -> i64 {
    (x + BS - 1) / BS * BS
}

/// A mapping of file blocks `[lblk, lblk + len)`.
fn mapping(lblk: u64, len: u64, kind: MappingKind, new: bool) -> Mapping {
    Mapping {
        offset: (lblk * BLOCK_SIZE as u64) as i64,
        length: len * BLOCK_SIZE as u64,
        kind,
        new,
    }
}

/// Largest file block + 1 a byte range may touch.
fn max_blocks() -> u64 {
    1u64 << 32
}

pub(super) fn iomap_begin(
    inode: &DInode,
    pos: i64,
    len: i64,
    flags: u32,
    kind: IoKind,
) -> Result<Mapping> {
    let lblk = (pos / BS) as u64;
    let end = (((pos + len + BS - 1) / BS) as u64).min(max_blocks());
    if lblk >= end {
        return Err(EFBIG);
    }
    let want = end - lblk;
    let writing = flags & bindings::IOMAP_WRITE != 0;
    let zeroing = flags & bindings::IOMAP_ZERO != 0;
    let sb = inode.super_block();
    let fs = sb.data();
    let mut state = lock_state(inode);

    match state.map.lookup(lblk) {
        Lookup::Mapped {
            len: n,
            state: State::Real { physical },
        } => Ok(mapping(
            lblk,
            n,
            MappingKind::Mapped { block: physical },
            false,
        )),
        Lookup::Mapped {
            len: n,
            state: State::Delalloc,
        } => {
            if kind == IoKind::Direct && writing {
                // A direct write over reserved space: allocate it now.
                let n = n.min(want);
                let (block, got) = fs.space.lock().alloc_reserved(n, fs.geo.data_start)?;
                state
                    .map
                    .convert_delalloc(lblk, got, block)
                    .map_err(|_| ENOMEM)?;
                inode.mark_dirty();
                return Ok(mapping(lblk, got, MappingKind::Mapped { block }, false));
            }
            Ok(mapping(lblk, n, MappingKind::Delalloc, false))
        }
        Lookup::Hole { len: n } => {
            let n = n.min(max_blocks() - lblk);
            if !writing || zeroing {
                return Ok(mapping(lblk, n, MappingKind::Hole, false));
            }
            let n = n.min(want);
            match kind {
                IoKind::Direct => {
                    let (block, got) = fs.space.lock().alloc(n, fs.geo.data_start)?;
                    if state
                        .map
                        .insert(lblk, got, State::Real { physical: block })
                        .is_err()
                    {
                        let _ = fs.space.lock().free(block, got);
                        return Err(ENOMEM);
                    }
                    inode.mark_dirty();
                    Ok(mapping(lblk, got, MappingKind::Mapped { block }, true))
                }
                _ => {
                    let got = fs.space.lock().reserve_up_to(n)?;
                    if state.map.insert(lblk, got, State::Delalloc).is_err() {
                        fs.space.lock().unreserve(got);
                        return Err(ENOMEM);
                    }
                    Ok(mapping(lblk, got, MappingKind::Delalloc, true))
                }
            }
        }
    }
}

pub(super) fn iomap_end(
    inode: &DInode,
    pos: i64,
    len: i64,
    written: isize,
    flags: u32,
    mapping: &Mapping,
    kind: IoKind,
) -> Result {
    // Only reservations this write made may be given back.
    if kind != IoKind::BufferedWrite || mapping.kind != MappingKind::Delalloc || !mapping.new {
        return Ok(());
    }
    // As iomap_last_written_block(): past the last block written to, or
    // from the start of the first block if nothing was written.
    let start = if written > 0 {
        round_up(pos + written as i64)
    } else {
        pos / BS * BS
    };
    let end = round_up(pos + len);
    if start >= end {
        return Ok(());
    }
    if flags & (bindings::IOMAP_ZERO | bindings::IOMAP_UNSHARE) != 0 {
        // The caller holds the invalidate lock already.
        release_delalloc(inode, start, end);
    } else {
        let _invalidate = inode.lock_invalidate();
        release_delalloc(inode, start, end);
    }
    Ok(())
}

/// Writeback of the dirty bytes `[offset, offset + len)`: map the blocks
/// under `offset`, allocating reserved blocks for at most the dirty range.
///
/// delafs has no unwritten extents, so an allocated block reads as whatever
/// the disk holds until it is written. Converting the whole delalloc extent
/// (XFS does, but into unwritten extents) would expose stale blocks wherever
/// no data follows: a short write's release loop only punches delalloc, and
/// fadvise(DONTNEED) writes back while that loop runs.
pub(super) fn map_blocks(inode: &DInode, offset: i64, len: u32) -> Result<Mapping> {
    let lblk = (offset / BS) as u64;
    let dirty_end = ((offset + i64::from(len) + BS - 1) / BS) as u64;
    let dirty_blocks = dirty_end.saturating_sub(lblk).max(1);
    let fs = inode.super_block().data();
    let mut state = lock_state(inode);
    // Right after the previous block on disk, if it has one: writeback in
    // file order then allocates contiguously.
    let goal = match lblk.checked_sub(1).map(|prev| state.map.lookup(prev)) {
        Some(Lookup::Mapped {
            state: State::Real { physical },
            ..
        }) => physical + 1,
        _ => fs.geo.data_start,
    };
    match state.map.lookup(lblk) {
        Lookup::Mapped {
            len,
            state: State::Real { physical },
        } => Ok(mapping(
            lblk,
            len,
            MappingKind::Mapped { block: physical },
            false,
        )),
        Lookup::Mapped {
            len,
            state: State::Delalloc,
        } => {
            let (block, got) = fs
                .space
                .lock()
                .alloc_reserved(len.min(dirty_blocks), goal)?;
            if state.map.convert_delalloc(lblk, got, block).is_err() {
                let mut space = fs.space.lock();
                let _ = space.free(block, got);
                // Keep the reservation the delalloc extent still holds.
                let _ = space.reserve_up_to(got);
                return Err(ENOMEM);
            }
            inode.mark_dirty();
            Ok(mapping(lblk, got, MappingKind::Mapped { block }, false))
        }
        Lookup::Hole { len } => Ok(mapping(
            lblk,
            len.min(max_blocks()),
            MappingKind::Hole,
            false,
        )),
    }
}

/// Before a write past EOF: the rest of the EOF block may hold bytes an mmap
/// write left past EOF; they must read as zeros once the file grows over
/// them (as xfs_file_write_zero_eof() does).
pub(super) fn prepare_write(inode: &DInode, pos: i64) -> Result {
    let size = inode.size();
    if pos > size && size % BS != 0 {
        zero_range(inode, size, pos.min(round_up(size)) - size)?;
    }
    Ok(())
}

pub(super) fn dio_write_done(inode: &DInode, offset: i64, size: isize) -> Result {
    let end = offset + size as i64;
    if size > 0 && end > inode.size() {
        inode.set_size(end);
        inode.mark_dirty();
    }
    Ok(())
}

/// Drops the blocks and reservations of file blocks `[first, end)`.
fn remove_blocks(inode: &DInode, first: u64, end: u64) -> Result {
    if first >= end {
        return Ok(());
    }
    let fs = inode.super_block().data();
    let mut state = lock_state(inode);
    let mut space = fs.space.lock();
    let mut result = Ok(());
    state
        .map
        .remove(first, end - first, Filter::All, |_, n, s| match s {
            State::Real { physical } => {
                if let Err(e) = space.free(physical, n) {
                    result = Err(e);
                }
            }
            State::Delalloc => space.unreserve(n),
        })
        .map_err(|_| ENOMEM)?;
    inode.mark_dirty();
    result
}

/// truncate(2); the inode lock and invalidate lock are held.
pub(super) fn setsize(inode: &DInode, size: i64) -> Result {
    let old = inode.size();
    if size < old {
        // Zero the tail of the new last block, on disk as in the cache.
        if size % BS != 0 {
            zero_range(inode, size, round_up(size) - size)?;
        }
        truncate_setsize(inode, size);
        remove_blocks(inode, (round_up(size) / BS) as u64, max_blocks())?;
    } else {
        // mmap may have left bytes past the old EOF in its last folio.
        if old % BS != 0 {
            zero_range(inode, old, round_up(old) - old)?;
        }
        truncate_setsize(inode, size);
    }
    inode.touch_mtime_ctime();
    inode.mark_dirty();
    Ok(())
}

/// FALLOC_FL_PUNCH_HOLE; the inode lock and invalidate lock are held.
pub(super) fn punch_hole(inode: &DInode, offset: i64, len: i64) -> Result {
    if offset < 0 || len <= 0 {
        return Err(EINVAL);
    }
    let end = offset.checked_add(len).ok_or(EINVAL)?;
    let first_full = round_up(offset);
    let end_full = end / BS * BS;
    let size = inode.size();
    if first_full >= end_full {
        // Inside one block: zeroing is all there is to do.
        return zero_range(inode, offset, end.min(size).max(offset) - offset);
    }
    if offset < first_full && offset < size {
        zero_range(inode, offset, first_full.min(size) - offset)?;
    }
    if end_full < end && end_full < size {
        zero_range(inode, end_full, end.min(size) - end_full)?;
    }
    inode.truncate_pagecache_range(first_full, end_full - 1);
    remove_blocks(
        inode,
        (first_full / BS) as u64,
        ((end_full / BS) as u64).min(max_blocks()),
    )?;
    inode.touch_mtime_ctime();
    inode.mark_dirty();
    Ok(())
}
