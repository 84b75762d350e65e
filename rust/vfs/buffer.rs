// SPDX-License-Identifier: GPL-2.0

//! Metadata blocks through the block device's buffer cache.
//!
//! Two [`Buffer`]s of one block share one buffer head (`sb_bread` returns the
//! cached one), so the bytes are only reachable through [`BufferGuard`], which
//! holds the buffer lock (`lock_buffer()`): at most one task sees them at a
//! time, and writeback (which locks the buffer for its I/O) never sees them
//! half-written.

use core::marker::PhantomData;
use core::ptr::NonNull;

use kernel::bindings;
use kernel::error::{code::EIO, Result};

/// Bytes in a filesystem block; `fill_super_callback` refuses a device that
/// cannot do them.
pub(crate) const BLOCK_SIZE: usize = 4096;

/// A referenced buffer head of one filesystem block; released on drop.
///
/// # Invariants
///
/// `bh` holds a reference, and its `b_data` points to `BLOCK_SIZE` bytes that
/// live as long as the reference.
pub(crate) struct Buffer {
    bh: NonNull<bindings::buffer_head>,
}

// SAFETY: a buffer head reference may be used and dropped (`brelse()`) by any
// task; the bytes are only reached under the buffer lock.
unsafe impl Send for Buffer {}
// SAFETY: every `&self` method either only touches the reference count and
// flags (atomic bit operations in C) or takes the buffer lock.
unsafe impl Sync for Buffer {}

impl Buffer {
    /// # Safety
    ///
    /// `bh` is null or a referenced buffer of `BLOCK_SIZE` bytes whose
    /// reference moves to the result.
    pub(super) unsafe fn from_raw(bh: *mut bindings::buffer_head) -> Result<Self> {
        // INVARIANT: the caller passes a referenced buffer when non-null.
        NonNull::new(bh).map(|bh| Self { bh }).ok_or(EIO)
    }

    /// Locks the buffer (`lock_buffer()`, which sleeps while another task or
    /// the buffer's own I/O holds it). The task must not already hold the
    /// lock of this block through another `Buffer`.
    pub(crate) fn lock(&self) -> BufferGuard<'_> {
        // SAFETY: by the type invariant `bh` is a referenced buffer head.
        unsafe { bindings::lock_buffer(self.bh.as_ptr()) };
        // INVARIANT: locked just above.
        BufferGuard {
            buf: self,
            _not_send: PhantomData,
        }
    }

    /// Writes the block now, if dirty, and waits. `&mut self`: no
    /// [`BufferGuard`] of this buffer is alive, since `sync_dirty_buffer()`
    /// takes the buffer lock itself.
    pub(crate) fn sync(&mut self) -> Result {
        // SAFETY: by the type invariant `bh` is a referenced buffer head.
        kernel::error::to_result(unsafe { bindings::sync_dirty_buffer(self.bh.as_ptr()) })
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we own one reference, given up here.
        unsafe { bindings::brelse(self.bh.as_ptr()) };
    }
}

/// A [`Buffer`] locked by this task; unlocked on drop.
///
/// # Invariants
///
/// This task holds the buffer lock of `buf` (`BH_Lock`) until drop.
#[must_use = "the buffer unlocks when the guard is dropped"]
pub(crate) struct BufferGuard<'a> {
    buf: &'a Buffer,
    /// Unlocked by the task that locked it.
    _not_send: PhantomData<*mut ()>,
}

impl BufferGuard<'_> {
    fn bytes(&self) -> *mut [u8; BLOCK_SIZE] {
        // SAFETY: by the type invariant of `Buffer` the buffer head is
        // referenced, so reading its `b_data` pointer is valid.
        unsafe { (*self.buf.bh.as_ptr()).b_data.cast() }
    }

    /// The block's bytes.
    pub(crate) fn data(&self) -> &[u8; BLOCK_SIZE] {
        // SAFETY: `b_data` points to `BLOCK_SIZE` bytes alive while the
        // buffer is referenced (type invariant of `Buffer`); we hold the
        // buffer lock (type invariant), so no other task writes them, and
        // `data_mut` needs `&mut self`, so nothing here does either.
        unsafe { &*self.bytes() }
    }

    /// The block's bytes, for writing; [`Self::mark_dirty`] after.
    pub(crate) fn data_mut(&mut self) -> &mut [u8; BLOCK_SIZE] {
        // SAFETY: as in `data`; `&mut self` makes this the only reference
        // made through this guard, and the lock excludes every other guard.
        unsafe { &mut *self.bytes() }
    }

    /// Marks the block dirty so writeback (or `sync`) writes it.
    pub(crate) fn mark_dirty(&self) {
        // SAFETY: the buffer head is referenced (type invariant of `Buffer`).
        unsafe { bindings::mark_buffer_dirty(self.buf.bh.as_ptr()) };
    }

    /// Marks a buffer from `sb_getblk()`, whose bytes the caller overwrote
    /// completely under this lock, as up to date.
    pub(super) fn set_uptodate(&self) {
        // SAFETY: the buffer head is referenced (type invariant of `Buffer`).
        unsafe { bindings::set_buffer_uptodate(self.buf.bh.as_ptr()) };
    }
}

impl Drop for BufferGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant this task holds the lock.
        unsafe { bindings::unlock_buffer(self.buf.bh.as_ptr()) };
    }
}
