// SPDX-License-Identifier: GPL-2.0

//! Blocks of unlinked inodes that are not free yet.
//!
//! The blocks of an unlinked inode must not be handed to another file before
//! the inode's cleared slot is on disk: after an unclean shutdown the old
//! inode would still map them, and read whatever the new owner wrote there.
//! `evict` used to write the slot and wait, one synchronous write per unlink
//! of a file with data and per `rmdir`. Now it clears the slot in the buffer
//! cache, and the blocks wait here, allocated, with a reference to the inode
//! table block that holds the slot (as XFS keeps freed extents busy until
//! the log commit that frees them is on disk). [`flush`] writes those table
//! blocks, waits, and only then frees the blocks: when enough have gathered,
//! when an allocation would fail with `ENOSPC` ([`with_space`]), and on every
//! `sync_fs` (so `sync`, `syncfs`, freeze, remount read-only and unmount).
//!
//! After an unclean shutdown, blocks that were waiting here are marked used
//! in the bitmap with no owner; `fsck.delafs -p` frees them (leaked blocks),
//! as it does the orphan inode of an unlink whose slot had not been written.
//! `statfs` counts them free, since nothing but this list holds them.

use kernel::prelude::*;

use super::alloc::Space;
use super::DSuperBlock;
use crate::vfs::{self, buffer::Buffer};

/// Extents waiting before [`flush`] runs from `evict` itself.
const FLUSH_EXTENTS: usize = 256;
/// Distinct inode table blocks waiting before [`flush`] runs from `evict`.
const FLUSH_TABLE_BLOCKS: usize = 16;

/// The waiting blocks of a mount ([`super::mount::Fs::busy`]).
///
/// # Invariants
///
/// Every extent in `extents` is allocated in [`Space`] and owned by no inode;
/// `blocks` is the sum of their lengths. `tables` holds each inode table
/// block that had a slot cleared since the last [`flush`], once.
pub(crate) struct Busy {
    tables: KVec<(u64, Buffer)>,
    extents: KVec<(u64, u64)>,
    blocks: u64,
}

impl Busy {
    pub(crate) fn new() -> Self {
        // INVARIANT: nothing waits.
        Self {
            tables: KVec::new(),
            extents: KVec::new(),
            blocks: 0,
        }
    }

    /// Blocks waiting.
    pub(crate) fn blocks(&self) -> u64 {
        self.blocks
    }

    /// Makes room for `extents` more extents and one table block, so that
    /// [`Self::add_table`] and [`Self::add_extent`] cannot fail after it.
    pub(crate) fn reserve(&mut self, extents: usize) -> Result {
        self.extents
            .reserve(extents, GFP_KERNEL)
            .map_err(|_| ENOMEM)?;
        self.tables.reserve(1, GFP_KERNEL).map_err(|_| ENOMEM)
    }

    /// Keeps `buf`, inode table block `block`, until the next [`flush`].
    /// After [`Self::reserve`] this does not allocate, and cannot fail.
    #[must_use]
    pub(crate) fn add_table(&mut self, block: u64, buf: Buffer) -> bool {
        self.tables.iter().any(|&(b, _)| b == block)
            || self.tables.push((block, buf), GFP_NOWAIT).is_ok()
    }

    /// Adds extent `[start, start + len)`, allocated and no longer owned.
    /// After [`Self::reserve`], for at most as many extents as it made room
    /// for; returns false (the extent leaks until fsck) beyond that.
    #[must_use]
    pub(crate) fn add_extent(&mut self, start: u64, len: u64) -> bool {
        if self.extents.push((start, len), GFP_NOWAIT).is_err() {
            return false;
        }
        // INVARIANT: the caller gives up an allocated extent it owned.
        self.blocks = self.blocks.saturating_add(len);
        true
    }

    /// Whether `evict` should [`flush`] now.
    pub(crate) fn full(&self) -> bool {
        self.extents.len() >= FLUSH_EXTENTS || self.tables.len() >= FLUSH_TABLE_BLOCKS
    }
}

/// Writes the waiting inode table blocks, waits, then frees the waiting
/// blocks. If a write fails, its blocks are not freed (fsck gives them
/// back): the old slot may still be on disk.
///
/// Takes [`super::mount::Fs::busy`], then each table block's buffer lock,
/// then [`super::mount::Fs::space`]; the caller holds none of these.
pub(crate) fn flush(sb: &DSuperBlock) -> Result {
    let fs = sb.data();
    // Freeing may allocate tree nodes: not from a reclaim that could evict
    // an inode of this filesystem and wait for the lock held here.
    let _nofs = vfs::NoFs::new();
    let mut busy = fs.busy.lock();
    if busy.extents.is_empty() && busy.tables.is_empty() {
        return Ok(());
    }
    let tables = core::mem::take(&mut busy.tables);
    let extents = core::mem::take(&mut busy.extents);
    let blocks = core::mem::take(&mut busy.blocks);
    let mut result = Ok(());
    for (block, mut buf) in tables {
        if let Err(e) = buf.sync() {
            fs_err!(
                "{}: inode table block {block}: write failed ({e:?})\n",
                sb.id()
            );
            result = Err(e);
        }
    }
    if result.is_err() {
        fs_err!(
            "{}: {blocks} blocks of unlinked inodes stay allocated until fsck\n",
            sb.id()
        );
        return result;
    }
    let mut space = fs.space.lock();
    for (start, len) in extents {
        if space.free(start, len).is_err() {
            fs_err!("{}: cannot free blocks {start}+{len}\n", sb.id());
        }
    }
    Ok(())
}

/// Runs `f` on the locked free space; if it fails with `ENOSPC` while blocks
/// wait in [`Busy`], flushes them and runs it once more.
///
/// The caller holds no lock [`flush`] takes (an inode's `state` is fine).
pub(crate) fn with_space<T>(
    sb: &DSuperBlock,
    mut f: impl FnMut(&mut Space) -> Result<T>,
) -> Result<T> {
    let fs = sb.data();
    let first = f(&mut fs.space.lock());
    match first {
        Err(e) if e == ENOSPC && fs.busy.lock().blocks != 0 => {
            flush(sb)?;
            f(&mut fs.space.lock())
        }
        r => r,
    }
}
