// SPDX-License-Identifier: GPL-2.0

//! Regular files: iomap mappings with delayed allocation and unwritten
//! extents (modelled on fs/xfs/xfs_iomap.c and xfs_aops.c), writeback
//! allocation, direct I/O, truncate, hole punching and preallocation.
//!
//! A buffered write over a hole reserves space (`ENOSPC` comes here, at
//! write time) and maps it `IOMAP_DELALLOC | IOMAP_F_NEW`; writeback turns
//! the whole reservation into unwritten blocks in `map_blocks`, and the
//! ioend's completion marks written what reached the disk; a short write
//! gives back, in `iomap_end`, what no dirty folio needs (the release loop).
//! Direct writes into holes and fallocate allocate unwritten blocks too. So
//! a block never holds file data in the map before it holds it on disk: an
//! unwritten block reads as zeros, whoever reads it and whenever.
//!
//! Every mapping carries the extent map's generation; a write through the
//! page cache asks before each folio whether it changed (`iomap_valid`), and
//! maps again if it did, as XFS does since 6.1.
// Offsets and lengths here come from user space and from disk: no
// arithmetic that can wrap, no indexing that can panic (issue 9).
#![warn(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use kernel::prelude::*;

use super::busy;
use super::release::{self, release_delalloc};
use super::{lock_state, map_errno, DInode, Delafs, StateGuard};
use crate::shared::extent_map::{Filter, Lookup, State};
use crate::shared::format::{BLOCK_SIZE, MAX_FILE_BLOCKS};
use crate::vfs::error::{eopnotsupp, is_eiocbqueued};
use crate::vfs::{
    AddressSpaceOperations, FallocFlags, File, FileOperations, InodeKind, InodeOperations, IoKind,
    IomapFlags, IomapOperations, IovIter, Kiocb, Mapping, MappingKind, SetAttr, VmFault,
    VmFaultResult, Whence,
};

const BS: u64 = BLOCK_SIZE as u64;

/// The largest file: the format maps file blocks `0..2^32`, so 16 TiB. The
/// VFS gets it as `s_maxbytes`, so every offset below is at most this.
pub(crate) const MAX_BYTES: i64 = (MAX_FILE_BLOCKS * BS) as i64;

// Offsets come from user space (through the VFS's checks) and sizes from
// disk (through the inode verifier); both are bounded by `MAX_BYTES`, but
// every conversion below is checked anyway: an overflow here is an error,
// never a panic.

/// The block that holds byte `pos`.
fn block_of(pos: i64) -> Result<u64> {
    u64::try_from(pos).map(|p| p / BS).map_err(|_| EINVAL)
}

/// The number of blocks that bytes `[0, pos)` touch.
fn blocks_to(pos: i64) -> Result<u64> {
    u64::try_from(pos)
        .map(|p| p.div_ceil(BS))
        .map_err(|_| EINVAL)
}

/// The byte offset of block `block`.
fn byte_of(block: u64) -> Result<i64> {
    block
        .checked_mul(BS)
        .and_then(|b| i64::try_from(b).ok())
        .ok_or(EFBIG)
}

/// `pos` rounded up to a block boundary.
fn round_up(pos: i64) -> Result<i64> {
    byte_of(blocks_to(pos)?)
}

/// `pos` rounded down to a block boundary.
fn round_down(pos: i64) -> Result<i64> {
    byte_of(block_of(pos)?)
}

/// Zeroes bytes `[from, to)` of the file, in the cache and (through
/// writeback) on disk; nothing if the range is empty.
fn zero_between(inode: &DInode, from: i64, to: i64) -> Result {
    match to.checked_sub(from) {
        Some(len) if len > 0 => inode.zero_range(from, len),
        _ => Ok(()),
    }
}

/// A mapping of file blocks `[lblk, lblk + len)`; its cookie is set by
/// `iomap_begin` under the lock it read the map with.
fn mapping(lblk: u64, len: u64, kind: MappingKind, new: bool) -> Result<Mapping> {
    Ok(Mapping {
        offset: byte_of(lblk)?,
        length: len.checked_mul(BS).ok_or(EFBIG)?,
        kind,
        new,
        cookie: 0,
    })
}

/// Allocates up to `n` reserved delalloc blocks from file block `lblk`, near
/// disk block `goal`, as unwritten blocks; returns the first disk block and
/// how many. The caller holds the inode's state (`state`).
fn allocate_delalloc(
    inode: &DInode,
    state: &mut StateGuard<'_>,
    lblk: u64,
    n: u64,
    goal: u64,
) -> Result<(u64, u64)> {
    let fs = inode.super_block().data();
    let (block, got) = fs.space.lock().alloc_reserved(n, goal)?;
    if let Err(e) = state.map.convert_delalloc(lblk, got, block, true) {
        let mut space = fs.space.lock();
        let _ = space.free(block, got);
        // Keep the reservation the delalloc extent still holds.
        let _ = space.reserve_up_to(got);
        return Err(map_errno(e));
    }
    inode.mark_dirty();
    Ok((block, got))
}

/// How iomap sees an allocated extent state.
fn allocated(state: State) -> Option<MappingKind> {
    match state {
        State::Real { physical } => Some(MappingKind::Mapped { block: physical }),
        State::Unwritten { physical } => Some(MappingKind::Unwritten { block: physical }),
        State::Delalloc => None,
    }
}

/// A direct write stopped inside blocks it allocated (a faulting buffer, an
/// error): the blocks no bio was built for go back at once. The block that
/// holds the last byte written stays, and so does the first block when
/// nothing was written (iomap may have sent a bio to zero its head); they
/// stay unwritten (reading as zeros) unless the completion reports bytes
/// written in them.
fn dio_unwritten(inode: &DInode, pos: i64, written: i64, end: i64, mapping: &Mapping) -> Result {
    let from = round_up(pos.checked_add(written.max(0)).ok_or(EFBIG)?)?;
    let mapping_end = mapping
        .offset
        .checked_add(i64::try_from(mapping.length).map_err(|_| EFBIG)?)
        .ok_or(EFBIG)?;
    let to = end.min(mapping_end);
    if from < to {
        remove_blocks(inode, block_of(from)?, block_of(to)?)?;
    }
    Ok(())
}

/// Before a write of `[pos, end)`: when it ends past EOF, the file is about
/// to grow over bytes it was never given. The rest of the EOF block may hold
/// bytes an mmap write left past EOF: they must read as zeros (as
/// xfs_file_write_zero_eof() does). Blocks past the EOF block may be left
/// by a direct write that failed (unwritten: they stay, see [`trim_eof`]),
/// or, written, on an image an older delafs left: those go before the file
/// grows over them.
fn prepare_write(inode: &DInode, pos: i64, end: i64) -> Result {
    let size = inode.size();
    if end <= size {
        return Ok(());
    }
    // A direct write still in flight past EOF owns blocks there.
    inode.dio_wait();
    let eof_block_end = round_up(size)?;
    if pos > size && size != eof_block_end {
        zero_between(inode, size, pos.min(eof_block_end))?;
    }
    trim_eof(inode)
}

/// Drops every written block and reservation past the block that holds
/// EOF. Unwritten blocks stay: they read as zeros, and preallocation past
/// EOF is what `FALLOC_FL_KEEP_SIZE` asks for (XFS remembers that with
/// `XFS_DIFLAG_PREALLOC`; delafs has no such flag yet, so it never trims
/// them, and a failed direct write's unwritten blocks past EOF stay
/// allocated until a truncate or unlink). The inode lock is held and no
/// direct I/O is in flight.
fn trim_eof(inode: &DInode) -> Result {
    let first = blocks_to(inode.size())?;
    remove_blocks_filtered(inode, first, MAX_FILE_BLOCKS, Filter::KeepUnwritten)
}

/// A direct write meant to grow the file did not: whatever it left written
/// or reserved past EOF is not file data. The inode lock is held and every
/// direct I/O of the inode is complete.
fn dio_write_failed(inode: &DInode) -> Result {
    trim_eof(inode)
}

/// Drops the blocks and reservations of file blocks `[first, end)`.
fn remove_blocks(inode: &DInode, first: u64, end: u64) -> Result {
    remove_blocks_filtered(inode, first, end, Filter::All)
}

/// Drops what `filter` selects of file blocks `[first, end)`.
///
/// Written blocks go back to free space only once the inode on disk no
/// longer maps them: it is written synchronously first. delafs has no
/// journal; were another file to get such a block and write its data there
/// before this inode's new extent list reached the disk, an unclean shutdown
/// would leave this file reading the other's data (XFS keeps freed extents
/// busy until its log commits, for the same reason). Unwritten blocks are
/// free at once: the disk maps them unwritten or not at all, so they read as
/// zeros whatever they come to hold.
fn remove_blocks_filtered(inode: &DInode, first: u64, end: u64, filter: Filter) -> Result {
    if first >= end {
        return Ok(());
    }
    let fs = inode.super_block().data();
    let mut result = Ok(());
    let mut removed = false;
    let mut written = KVec::<(u64, u64)>::new();
    {
        let mut state = lock_state(inode);
        let mut space = fs.space.lock();
        state
            .map
            .remove(first, end.saturating_sub(first), filter, |_, n, s| {
                removed = true;
                let unwritten = match s {
                    State::Real { physical } => {
                        if written.push((physical, n), GFP_KERNEL).is_ok() {
                            return;
                        }
                        // No memory to keep it busy: leak it rather than
                        // hand it out early (fsck gives it back).
                        fs_err!(
                            "{}: inode {}: {n} freed blocks left allocated (no memory)\n",
                            inode.super_block().id(),
                            inode.ino()
                        );
                        return;
                    }
                    State::Unwritten { physical } => physical,
                    State::Delalloc => {
                        space.unreserve(n);
                        return;
                    }
                };
                if let Err(e) = space.free(unwritten, n) {
                    result = Err(e);
                }
            })
            .map_err(map_errno)?;
    }
    if removed {
        inode.mark_dirty();
    }
    if !written.is_empty() {
        if let Err(e) = super::inode::write(inode, true) {
            fs_err!(
                "{}: inode {}: not written, its freed blocks stay allocated until fsck\n",
                inode.super_block().id(),
                inode.ino()
            );
            return Err(e);
        }
        let mut space = fs.space.lock();
        for &(physical, n) in written.iter() {
            if let Err(e) = space.free(physical, n) {
                result = Err(e);
            }
        }
    }
    result
}

/// truncate(2); the inode lock and invalidate lock are held, and no direct
/// I/O is in flight.
fn setsize(inode: &DInode, size: i64) -> Result {
    inode.assert_locked_write();
    inode.assert_invalidate_locked_write();
    if !(0..=MAX_BYTES).contains(&size) {
        return Err(EFBIG);
    }
    let old = inode.size();
    let new_eof_end = round_up(size)?;
    if size < old {
        // Zero the tail of the new last block, on disk as in the cache.
        if size != new_eof_end {
            zero_between(inode, size, new_eof_end)?;
        }
        inode.truncate_setsize(size);
        remove_blocks(inode, block_of(new_eof_end)?, MAX_FILE_BLOCKS)?;
    } else {
        // mmap may have left bytes past the old EOF in its last folio, and
        // blocks past it are not file data (see `prepare_write`).
        let old_eof_end = round_up(old)?;
        if old != old_eof_end {
            zero_between(inode, old, old_eof_end)?;
        }
        trim_eof(inode)?;
        inode.truncate_setsize(size);
    }
    inode.touch_mtime_ctime();
    inode.mark_dirty();
    Ok(())
}

/// FALLOC_FL_PUNCH_HOLE; the inode lock and invalidate lock are held.
fn punch_hole(inode: &DInode, offset: i64, len: i64) -> Result {
    inode.assert_locked_write();
    inode.assert_invalidate_locked_write();
    if offset < 0 || len <= 0 {
        return Err(EINVAL);
    }
    // A direct write in flight must not land in blocks freed under it
    // (another file may get them next).
    inode.dio_wait();
    let end = offset.checked_add(len).ok_or(EFBIG)?;
    let first_full = round_up(offset)?;
    let end_full = round_down(end)?;
    let size = inode.size();
    if first_full >= end_full {
        // Inside one block: zeroing is all there is to do.
        let zero_end = end.min(size).max(offset);
        return zero_between(inode, offset, zero_end);
    }
    if offset < first_full && offset < size {
        zero_between(inode, offset, first_full.min(size))?;
    }
    if end_full < end && end_full < size {
        zero_between(inode, end_full, end.min(size))?;
    }
    inode.truncate_pagecache_range(first_full, end_full.saturating_sub(1));
    remove_blocks(
        inode,
        block_of(first_full)?,
        block_of(end_full)?.min(MAX_FILE_BLOCKS),
    )?;
    inode.touch_mtime_ctime();
    inode.mark_dirty();
    Ok(())
}

/// A fallocate mode delafs implements.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Falloc {
    Preallocate,
    ZeroRange,
    PunchHole,
}

/// Preallocation or zeroing of `[offset, offset + len)`, growing the file to
/// its end if `grow`: the range's holes become unwritten blocks (all of
/// them or, on `ENOSPC`, none), and for `ZERO_RANGE` what it held first
/// reads as zeros (partial blocks zeroed in the cache, whole ones dropped
/// and allocated again unwritten, as XFS does). The inode lock and
/// invalidate lock are held, and no direct I/O is in flight.
fn allocate_range(inode: &DInode, offset: i64, len: i64, op: Falloc, grow: bool) -> Result {
    inode.assert_locked_write();
    inode.assert_invalidate_locked_write();
    if offset < 0 || len <= 0 {
        return Err(EINVAL);
    }
    let end = offset.checked_add(len).ok_or(EFBIG)?;
    if end > MAX_BYTES {
        return Err(EFBIG);
    }
    let grow = grow && end > inode.size();
    if grow {
        prepare_write(inode, offset, end)?;
    }
    if op == Falloc::ZeroRange {
        punch_hole(inode, offset, len)?;
    }
    preallocate(inode, block_of(offset)?, blocks_to(end)?)?;
    if grow {
        inode.truncate_setsize(end);
    }
    inode.touch_mtime_ctime();
    inode.mark_dirty();
    Ok(())
}

/// Allocates every hole of file blocks `[first, end)` as unwritten blocks,
/// near the blocks before each. The blocks are reserved first, so `ENOSPC`
/// allocates nothing; running out of memory midway keeps what was
/// allocated (it reads as zeros, as the holes did).
fn preallocate(inode: &DInode, first: u64, end: u64) -> Result {
    let end = end.min(MAX_FILE_BLOCKS);
    let fs = inode.super_block().data();
    let mut state = lock_state(inode);
    let mut holes = 0u64;
    let mut cursor = first;
    while cursor < end {
        let (n, hole) = match state.map.lookup(cursor) {
            Lookup::Hole { len } => (len, true),
            Lookup::Mapped { len, .. } => (len, false),
        };
        let n = n.min(end.saturating_sub(cursor));
        if hole {
            holes = holes.saturating_add(n);
        }
        cursor = cursor.saturating_add(n);
    }
    if holes == 0 {
        return Ok(());
    }
    busy::with_space(inode.super_block(), |space| {
        let got = space.reserve_up_to(holes)?;
        if got < holes {
            space.unreserve(got);
            return Err(ENOSPC);
        }
        Ok(())
    })?;
    let mut reserved = holes;
    let mut result = Ok(());
    let mut goal = fs.geo.data_start;
    let mut cursor = first;
    while cursor < end {
        match state.map.lookup(cursor) {
            Lookup::Mapped { len, state: s } => {
                let n = len.min(end.saturating_sub(cursor));
                if let Some(p) = s.physical() {
                    goal = p.saturating_add(n);
                }
                cursor = cursor.saturating_add(n);
            }
            Lookup::Hole { len } => {
                let n = len.min(end.saturating_sub(cursor));
                let (block, got) = match fs.space.lock().alloc_reserved(n, goal) {
                    Ok(a) => a,
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                };
                reserved = reserved.saturating_sub(got);
                if let Err(e) = state
                    .map
                    .insert(cursor, got, State::Unwritten { physical: block })
                {
                    let _ = fs.space.lock().free(block, got);
                    result = Err(map_errno(e));
                    break;
                }
                inode.add_blocks(got);
                goal = block.saturating_add(got);
                cursor = cursor.saturating_add(got);
            }
        }
    }
    if reserved > 0 {
        fs.space.lock().unreserve(reserved);
    }
    inode.mark_dirty();
    result
}

/// Mappings for iomap, with delayed allocation for buffered writes and
/// unwritten extents for direct writes into holes.
#[vtable]
impl IomapOperations for Delafs {
    fn iomap_begin(
        inode: &DInode,
        pos: i64,
        len: i64,
        flags: IomapFlags,
        kind: IoKind,
    ) -> Result<Mapping> {
        if len <= 0 {
            return Err(EINVAL);
        }
        let lblk = block_of(pos)?;
        let end_byte = pos.checked_add(len).ok_or(EFBIG)?;
        let writing = flags.intersects(IomapFlags::WRITE);
        if lblk >= MAX_FILE_BLOCKS {
            // Past what the format maps, which is past EOF: nothing to write
            // there (the VFS stops writes at `s_maxbytes`), and a hole to read
            // (an O_DIRECT read across the last block goes on to here, and
            // iomap ends it at EOF).
            if writing {
                return Err(EFBIG);
            }
            return mapping(
                lblk,
                blocks_to(len)?.saturating_add(1),
                MappingKind::Hole,
                false,
            );
        }
        let end = blocks_to(end_byte)?.min(MAX_FILE_BLOCKS);
        // `lblk < end <= 2^32` here.
        let want = end.checked_sub(lblk).filter(|&n| n > 0).ok_or(EFBIG)?;
        let zeroing = flags.intersects(IomapFlags::ZERO);
        let sb = inode.super_block();
        let fs = sb.data();
        let mut state = lock_state(inode);

        let mut m = match state.map.lookup(lblk) {
            Lookup::Mapped { len: n, state: s } => match allocated(s) {
                // Written blocks are read and overwritten in place; unwritten
                // ones read as zeros, and a write into them converts them
                // once its data is on disk (I/O completion).
                Some(kind) => mapping(lblk, n, kind, false)?,
                None if kind == IoKind::Direct && writing => {
                    // A direct write over reserved space: allocate it now,
                    // unwritten until the write completes.
                    let (block, got) =
                        allocate_delalloc(inode, &mut state, lblk, n.min(want), fs.geo.data_start)?;
                    mapping(lblk, got, MappingKind::Unwritten { block }, true)?
                }
                None => mapping(lblk, n, MappingKind::Delalloc, false)?,
            },
            Lookup::Hole { len: n } => {
                let n = n.min(MAX_FILE_BLOCKS.saturating_sub(lblk));
                if !writing || zeroing {
                    return mapping(lblk, n, MappingKind::Hole, false);
                }
                let n = n.min(want);
                if kind == IoKind::Direct {
                    let (block, got) = busy::with_space(inode.super_block(), |space| {
                        space.alloc(n, fs.geo.data_start)
                    })?;
                    if let Err(e) =
                        state
                            .map
                            .insert(lblk, got, State::Unwritten { physical: block })
                    {
                        let _ = fs.space.lock().free(block, got);
                        return Err(map_errno(e));
                    }
                    inode.add_blocks(got);
                    inode.mark_dirty();
                    mapping(lblk, got, MappingKind::Unwritten { block }, true)?
                } else {
                    let got =
                        busy::with_space(inode.super_block(), |space| space.reserve_up_to(n))?;
                    if let Err(e) = state.map.insert(lblk, got, State::Delalloc) {
                        fs.space.lock().unreserve(got);
                        return Err(map_errno(e));
                    }
                    mapping(lblk, got, MappingKind::Delalloc, true)?
                }
            }
        };
        // Read under the same lock as the mapping: any later change of the
        // map (writeback allocating or converting, a punch) makes it stale.
        m.cookie = state.map.generation();
        drop(state);
        if kind == IoKind::BufferedWrite {
            release::after_write_mapping(inode.ino());
        }
        Ok(m)
    }

    fn iomap_end(
        inode: &DInode,
        pos: i64,
        len: i64,
        written: isize,
        flags: IomapFlags,
        mapping: &Mapping,
        kind: IoKind,
    ) -> Result {
        let written = i64::try_from(written).map_err(|_| EINVAL)?;
        let end = round_up(pos.checked_add(len).ok_or(EFBIG)?)?;
        if kind == IoKind::Direct && mapping.new && written < len {
            return dio_unwritten(inode, pos, written, end, mapping);
        }
        // Only reservations this write made may be given back.
        if kind != IoKind::BufferedWrite || mapping.kind != MappingKind::Delalloc || !mapping.new {
            return Ok(());
        }
        // As iomap_last_written_block(): past the last block written to, or
        // from the start of the first block if nothing was written.
        let start = if written > 0 {
            round_up(pos.checked_add(written).ok_or(EFBIG)?)?
        } else {
            round_down(pos)?
        };
        if start >= end {
            return Ok(());
        }
        if flags.intersects(IomapFlags::ZERO | IomapFlags::UNSHARE) {
            // The caller holds the invalidate lock already.
            release_delalloc(inode, start, end);
        } else {
            let _invalidate = inode.lock_invalidate();
            release_delalloc(inode, start, end);
        }
        Ok(())
    }

    /// `iomap_dio_ops::end_io` of a direct write of `size` bytes at `offset`;
    /// `failed` if it ended with an error. The data of a successful write is
    /// on disk now, so its unwritten blocks become written (iomap has not yet
    /// invalidated the range: folios built from the zeros read meanwhile go
    /// next). A failed one leaves them unwritten: what reached the disk is
    /// not known, and they read as zeros.
    fn dio_write_end_io(inode: &DInode, offset: i64, size: isize, failed: bool) -> Result {
        release::count_dio_completion();
        if size <= 0 || failed {
            return Ok(());
        }
        let size = i64::try_from(size).map_err(|_| EINVAL)?;
        let end = offset.checked_add(size).ok_or(EFBIG)?;
        convert_written(inode, offset, end)?;
        if end > inode.size() {
            inode.set_size(end);
            inode.mark_dirty();
        }
        Ok(())
    }

    /// The mapping is current if the extent map has not changed since it was
    /// read.
    fn iomap_valid(inode: &DInode, cookie: u64) -> bool {
        let valid = lock_state(inode).map.generation() == cookie;
        if !valid {
            release::count_stale_mapping();
        }
        valid
    }
}

/// The data of bytes `[from, to)` is on disk: their unwritten blocks are
/// written now, in the extent map and in the inode table's buffer.
fn convert_written(inode: &DInode, from: i64, to: i64) -> Result {
    let first = block_of(from)?;
    let end = blocks_to(to)?.min(MAX_FILE_BLOCKS);
    if first >= end {
        return Ok(());
    }
    let converted = lock_state(inode)
        .map
        .convert_unwritten(first, end.saturating_sub(first))
        .map_err(map_errno)?;
    if converted > 0 {
        release::count_converted(converted);
        // Into the inode table buffer now, not only when the VFS next
        // writes the inode: sync waits for writeback to end, then writes
        // the inodes it found dirty, then the buffers (`sync_fs`); a
        // conversion that lands in between would reach the disk only with
        // the next sync, and an unmount would drop it.
        super::inode::write(inode, false)?;
        inode.mark_dirty();
    }
    Ok(())
}

#[vtable]
impl AddressSpaceOperations for Delafs {
    /// Writeback of the dirty bytes `[offset, offset + len)`: map the blocks
    /// under `offset`. A delalloc extent is allocated whole, as contiguous
    /// as free space allows, as unwritten blocks (xfs_bmapi_convert_delalloc()
    /// does the same): the blocks its dirty folios do not cover read as
    /// zeros, whatever they held before, and the ioend's completion marks
    /// written what the I/O wrote ([`Self::writeback_end_io`]).
    fn map_blocks(inode: &DInode, offset: i64, _len: u32) -> Result<Mapping> {
        let lblk = block_of(offset)?;
        let fs = inode.super_block().data();
        let mut state = lock_state(inode);
        // Right after the previous block on disk, if it has one: writeback in
        // file order then allocates contiguously.
        let goal = match lblk.checked_sub(1).map(|prev| state.map.lookup(prev)) {
            Some(Lookup::Mapped { state: s, .. }) => s
                .physical()
                .map_or(fs.geo.data_start, |p| p.saturating_add(1)),
            _ => fs.geo.data_start,
        };
        match state.map.lookup(lblk) {
            Lookup::Mapped { len, state: s } => match allocated(s) {
                Some(kind) => mapping(lblk, len, kind, false),
                None => {
                    let (block, got) = allocate_delalloc(inode, &mut state, lblk, len, goal)?;
                    mapping(lblk, got, MappingKind::Unwritten { block }, false)
                }
            },
            Lookup::Hole { len } => mapping(
                lblk,
                len.min(MAX_FILE_BLOCKS.saturating_sub(lblk)).max(1),
                MappingKind::Hole,
                false,
            ),
        }
    }

    fn writeback_end_io(inode: &DInode, offset: i64, size: usize) -> Result {
        let size = i64::try_from(size).map_err(|_| EINVAL)?;
        convert_written(inode, offset, offset.checked_add(size).ok_or(EFBIG)?)
    }
}

/// The policy of open files: which locks each path takes, which fallocate
/// modes exist.
#[vtable]
impl FileOperations for Delafs {
    fn llseek(file: &File<Self>, offset: i64, whence: Whence) -> Result<i64> {
        if whence != Whence::SEEK_HOLE && whence != Whence::SEEK_DATA {
            return file.generic_llseek(offset, whence);
        }
        let inode = file.inode();
        let pos = {
            let _lock = inode.lock_shared();
            inode.seek_hole_data(offset, whence)?
        };
        file.set_pos(pos, MAX_BYTES)
    }

    /// Direct reads take the inode lock shared, against truncate and punch;
    /// buffered reads rely on the page cache's own locking.
    fn read_iter(iocb: &Kiocb<Self>, to: &IovIter) -> Result<isize> {
        if !iocb.is_direct() {
            return iocb.generic_read(to);
        }
        let ret = {
            let _lock = iocb.inode().lock_shared();
            iocb.dio_read(to)
        };
        iocb.file().accessed();
        ret
    }

    /// Writes take the inode lock exclusively; `O_SYNC` is honoured after
    /// it is dropped.
    fn write_iter(iocb: &Kiocb<Self>, from: &IovIter) -> Result<isize> {
        let written = {
            let _lock = iocb.inode().lock();
            write_locked(iocb, from)?
        };
        if written > 0 {
            return iocb.write_sync(written);
        }
        Ok(written)
    }

    fn fsync(file: &File<Self>, start: i64, end: i64, _datasync: bool) -> Result {
        file.write_and_wait_range(start, end)?;
        let inode = file.inode();
        inode.sync_metadata()?;
        let sb = inode.super_block();
        sb.sync_metadata()?;
        sb.flush_device()
    }

    /// Freeze protection, then the invalidate lock shared: it serialises
    /// against truncate and punch, which take it exclusively, so no folio is
    /// re-dirtied while they run.
    fn page_mkwrite(vmf: &VmFault<Self>) -> VmFaultResult {
        let file = vmf.file();
        let inode = file.inode();
        let _freeze = inode.super_block().start_pagefault();
        file.update_time();
        let _invalidate = inode.lock_invalidate_shared();
        vmf.iomap_page_mkwrite()
    }

    /// The modes XFS has that need no shared extents: preallocation (mode
    /// 0, `KEEP_SIZE`), `ZERO_RANGE` (with or without `KEEP_SIZE`) and
    /// `PUNCH_HOLE | KEEP_SIZE`; the others (collapse, insert, unshare) are
    /// `EOPNOTSUPP`. The inode lock, then the invalidate lock, both
    /// exclusively, and no direct I/O in flight.
    fn fallocate(file: &File<Self>, mode: FallocFlags, offset: i64, len: i64) -> Result {
        let keep = FallocFlags::KEEP_SIZE;
        let op = if mode == FallocFlags::NONE || mode == keep {
            Falloc::Preallocate
        } else if mode == FallocFlags::ZERO_RANGE || mode == FallocFlags::ZERO_RANGE | keep {
            Falloc::ZeroRange
        } else if mode == FallocFlags::PUNCH_HOLE | keep {
            Falloc::PunchHole
        } else {
            return Err(eopnotsupp());
        };
        let inode = file.inode();
        let _lock = inode.lock();
        let _invalidate = inode.lock_invalidate();
        inode.dio_wait();
        file.modified()?;
        match op {
            Falloc::PunchHole => punch_hole(inode, offset, len),
            Falloc::Preallocate | Falloc::ZeroRange => {
                allocate_range(inode, offset, len, op, !mode.contains(keep))
            }
        }
    }

    /// The last reference to an open file is going: like xfs_release()
    /// trimming post-EOF blocks, drop what a queued direct write that failed
    /// may have left past EOF.
    fn release(inode: &DInode) -> Result {
        let first = blocks_to(inode.size())?;
        if lock_state(inode).map.next_from(first).is_none() {
            return Ok(());
        }
        let _lock = inode.lock();
        inode.dio_wait();
        let _invalidate = inode.lock_invalidate();
        trim_eof(inode)
    }
}

/// What `write_iter` does under the inode lock.
fn write_locked(iocb: &Kiocb<Delafs>, from: &IovIter) -> Result<isize> {
    let inode = iocb.inode();
    let count = iocb.write_checks(from)?;
    if count == 0 {
        return Ok(0);
    }
    iocb.file().modified()?;
    // The position is final after the checks, which clipped `count` to
    // `s_maxbytes - pos`.
    let pos = iocb.pos();
    let end = pos.checked_add(count as i64).ok_or(EFBIG)?;
    prepare_write(inode, pos, end)?;
    if !iocb.is_direct() {
        return iocb.buffered_write(from);
    }
    let ret = iocb.dio_write(from);
    // A direct write that failed, or came up short, past EOF may leave
    // blocks it wrote (or allocated) beyond the size: once every direct I/O
    // is done, they go. A queued one cleans up when the file is released.
    let queued = matches!(&ret, Err(e) if is_eiocbqueued(e));
    if !queued && end > inode.size() {
        inode.dio_wait();
        dio_write_failed(inode)?;
    }
    ret
}

/// Attribute changes; a size change (truncate) takes the invalidate lock
/// exclusively and waits for direct I/O, inside the inode lock the VFS
/// holds.
#[vtable]
impl InodeOperations for Delafs {
    fn setattr(attr: &SetAttr<'_, Self>) -> Result {
        attr.prepare()?;
        let inode = attr.inode();
        if let Some(size) = attr.size().filter(|&size| size != inode.size()) {
            if inode.kind() != InodeKind::Regular {
                return Err(EINVAL);
            }
            let _invalidate = inode.lock_invalidate();
            inode.dio_wait();
            setsize(inode, size)?;
        }
        attr.copy();
        inode.mark_dirty();
        Ok(())
    }
}
