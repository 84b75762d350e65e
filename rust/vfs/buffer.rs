// SPDX-License-Identifier: GPL-2.0

//! Metadata blocks through the block device's buffer cache.

use core::ptr::NonNull;

use kernel::bindings;
use kernel::error::{code::EIO, Result};

/// Bytes in a filesystem block; `SuperBlock::set_block_size` refuses others.
pub(crate) const BLOCK_SIZE: usize = 4096;

/// A referenced, up-to-date buffer head of one filesystem block; released on
/// drop.
///
/// # Invariants
///
/// `bh` holds a reference and its `b_data` points to `BLOCK_SIZE` bytes.
pub(crate) struct Buffer {
    bh: NonNull<bindings::buffer_head>,
}

// SAFETY: buffer heads may be used and released from any task.
unsafe impl Send for Buffer {}
// SAFETY: shared access only reads; writers need `&mut`.
unsafe impl Sync for Buffer {}

impl Buffer {
    /// # Safety
    ///
    /// `bh` is null or a referenced, up-to-date buffer of `BLOCK_SIZE` bytes
    /// whose reference moves to the result.
    pub(super) unsafe fn from_raw(bh: *mut bindings::buffer_head) -> Result<Self> {
        // INVARIANT: guaranteed by the caller when non-null.
        NonNull::new(bh).map(|bh| Self { bh }).ok_or(EIO)
    }

    pub(crate) fn data(&self) -> &[u8; BLOCK_SIZE] {
        // SAFETY: by the type invariant `b_data` points to `BLOCK_SIZE`
        // bytes that live as long as our reference.
        unsafe { &*(*self.bh.as_ptr()).b_data.cast::<[u8; BLOCK_SIZE]>() }
    }

    /// The block's bytes for writing. Concurrent writers of one block are
    /// serialised by the filesystem's own locks.
    pub(crate) fn data_mut(&mut self) -> &mut [u8; BLOCK_SIZE] {
        // SAFETY: as in `data`; `&mut self` keeps this reference unique
        // within the filesystem's locking.
        unsafe { &mut *(*self.bh.as_ptr()).b_data.cast::<[u8; BLOCK_SIZE]>() }
    }

    /// Marks the block dirty so writeback (or `sync`) writes it.
    pub(crate) fn mark_dirty(&self) {
        // SAFETY: valid referenced buffer.
        unsafe { bindings::mark_buffer_dirty(self.bh.as_ptr()) };
    }

    /// Writes the block now and waits.
    pub(crate) fn sync(&self) -> Result {
        // SAFETY: valid referenced buffer.
        kernel::error::to_result(unsafe { bindings::sync_dirty_buffer(self.bh.as_ptr()) })
    }

    /// Marks a buffer from `getblk` (whose contents the caller overwrote
    /// completely) as up to date.
    pub(super) fn set_uptodate(&self) {
        // SAFETY: valid referenced buffer.
        unsafe { bindings::set_buffer_uptodate(self.bh.as_ptr()) };
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we own one reference.
        unsafe { bindings::brelse(self.bh.as_ptr()) };
    }
}
