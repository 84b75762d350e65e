// SPDX-License-Identifier: GPL-2.0

//! Superblocks: the superblock wrapper and its type state.

use core::marker::PhantomData;

use kernel::bindings;
use kernel::error::{to_result, Result};
use kernel::prelude::*;
use kernel::types::Opaque;

use super::buffer::{Buffer, BLOCK_SIZE};
use super::filesystem::FileSystem;

extern "C" {
    // rust/vfs/bread_ahead.c. `sb` is a `struct super_block *` and the
    // result a `struct buffer_head *` (whose bindgen types embed a
    // `lockdep_map`, empty without lockdep, which the FFI lint refuses).
    fn delafs_bread_ahead(
        sb: *mut core::ffi::c_void,
        block: bindings::sector_t,
        ahead: core::ffi::c_uint,
    ) -> *mut core::ffi::c_void;
}

/// The states a superblock goes through: [`New`] while `fill_super` reads
/// the disk (no `s_fs_info` yet), [`DataInited`] once it is set.
pub(crate) trait SbState: private::Sealed {}

/// `fill_super` has not returned the filesystem's data yet.
pub(crate) struct New;
/// `s_fs_info` holds the filesystem's data.
pub(crate) struct DataInited;

impl SbState for New {}
impl SbState for DataInited {}

mod private {
    pub(crate) trait Sealed {}
    impl Sealed for super::New {}
    impl Sealed for super::DataInited {}
}

/// A superblock of filesystem `T` in state `S`.
///
/// # Invariants
///
/// The superblock is live, belongs to `T` and has block size `BLOCK_SIZE`.
/// If `S` is [`DataInited`], its `s_fs_info` is a `KBox<T::Data>` (made by
/// `fill_super_callback`) that lives until `kill_sb`.
#[repr(transparent)]
pub(crate) struct SuperBlock<T: FileSystem, S: SbState = DataInited>(
    Opaque<bindings::super_block>,
    PhantomData<(T, S)>,
);

impl<T: FileSystem, S: SbState> SuperBlock<T, S> {
    /// # Safety
    ///
    /// `ptr` is a live superblock of `T`, with block size `BLOCK_SIZE`, for
    /// `'a`; if `S` is [`DataInited`], its `s_fs_info` was set by
    /// `fill_super_callback`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::super_block) -> &'a Self {
        // SAFETY: `Self` is `repr(transparent)` over `super_block`; the
        // caller guarantees the pointee is live for `'a`.
        unsafe { &*ptr.cast() }
    }

    pub(super) fn as_raw(&self) -> *mut bindings::super_block {
        self.0.get()
    }

    /// The block device (`s_bdev`), for the calls of this layer.
    pub(super) fn bdev(&self) -> *mut bindings::block_device {
        // SAFETY: the superblock is live (type invariant); `s_bdev` of a block
        // superblock is set by `get_tree_bdev` before `fill_super` and stays
        // until `kill_block_super`.
        unsafe { (*self.as_raw()).s_bdev }
    }

    /// Size of the block device in filesystem blocks.
    pub(crate) fn device_blocks(&self) -> u64 {
        // SAFETY: `bdev()` is the superblock's open block device.
        let bytes = unsafe { bindings::bdev_nr_bytes(self.bdev()) };
        bytes as u64 / BLOCK_SIZE as u64
    }

    /// Whether the filesystem is mounted read-only (`sb_rdonly()`); in
    /// `fill_super`, whether the mount asked for it.
    pub(crate) fn read_only(&self) -> bool {
        // SAFETY: the superblock is live (type invariant); `s_flags` is an
        // integer, read as `sb_rdonly()` reads it (the VFS changes it with
        // `s_umount` held for writing, which mount and remount hold).
        let flags = unsafe { (*self.as_raw()).s_flags };
        flags & bindings::SB_RDONLY != 0
    }

    pub(crate) fn id(&self) -> &CStr {
        // SAFETY: the superblock is live (type invariant) and `s_id` is a
        // NUL-terminated array `sget` filled, unchanged afterwards.
        unsafe { CStr::from_char_ptr((*self.as_raw()).s_id.as_ptr()) }
    }

    /// Reads one block through the buffer cache.
    pub(crate) fn read_block(&self, block: u64) -> Result<Buffer> {
        // SAFETY: the superblock is live with block size `BLOCK_SIZE` (type
        // invariant); `sb_bread` returns null on I/O error or a referenced
        // up-to-date buffer of that size.
        unsafe { Buffer::from_raw(bindings::sb_bread(self.as_raw(), block)) }
    }

    /// Reads one block through the buffer cache; when it is not cached,
    /// starts the reads of the `ahead` blocks after it too, in the same
    /// request (rust/vfs/bread_ahead.c). The caller keeps `block + ahead`
    /// inside the structure it reads (and so inside the device: a read
    /// past its end is an I/O error the block layer logs).
    pub(crate) fn read_block_ahead(&self, block: u64, ahead: u32) -> Result<Buffer> {
        // SAFETY: as in `read_block`: `delafs_bread_ahead` returns what
        // `sb_bread` of `block` returns, after starting readahead of the
        // blocks after it (`sb_breadahead`, which takes and drops its own
        // references).
        unsafe { Buffer::from_raw(delafs_bread_ahead(self.as_raw().cast(), block, ahead).cast()) }
    }

    /// A block the caller will overwrite entirely: no read; zeroed.
    pub(crate) fn zeroed_block(&self, block: u64) -> Result<Buffer> {
        // SAFETY: as in `read_block`; `sb_getblk` returns null or a
        // referenced buffer that may not be up to date yet.
        let buf = unsafe { Buffer::from_raw(bindings::sb_getblk(self.as_raw(), block)) }?;
        {
            let mut bytes = buf.lock();
            bytes.data_mut().fill(0);
            bytes.set_uptodate();
        }
        Ok(buf)
    }

    /// Drops the cached buffer of block `block`, dirty or not, without
    /// writing it (`bforget()`): the block held metadata (an extent chain
    /// block, a directory block) and is being freed. Another file may get it
    /// next and write its data there with a bio; a dirty buffer left behind
    /// would later be written over that data.
    pub(crate) fn forget_block(&self, block: u64) {
        // SAFETY: `bdev()` is the superblock's open block device and the
        // size is its block size; the call takes a reference to the buffer,
        // if one is cached.
        let bh = unsafe {
            bindings::__find_get_block(self.bdev(), block, super::buffer::BLOCK_SIZE as u32)
        };
        if !bh.is_null() {
            // SAFETY: `bh` is a buffer we hold a reference to (above), which
            // `__bforget` drops after clearing its dirty state.
            unsafe { bindings::__bforget(bh) };
        }
    }

    /// Writes every dirty metadata buffer and waits.
    pub(crate) fn sync_metadata(&self) -> Result {
        // SAFETY: `bdev()` is the superblock's open block device.
        to_result(unsafe { bindings::sync_blockdev(self.bdev()) })
    }

    /// Flushes the device's volatile write cache.
    pub(crate) fn flush_device(&self) -> Result {
        // SAFETY: `bdev()` is the superblock's open block device.
        to_result(unsafe { bindings::blkdev_issue_flush(self.bdev()) })
    }
}

impl<T: FileSystem> SuperBlock<T, DataInited> {
    /// The filesystem's data, as `fill_super` returned it.
    pub(crate) fn data(&self) -> &T::Data {
        // SAFETY: by the type invariant (state `DataInited`) `s_fs_info`
        // points to a `T::Data` that lives until `kill_sb`, which cannot run
        // while `self` is borrowed; only shared references are made to it.
        unsafe { &*(*self.as_raw()).s_fs_info.cast::<T::Data>() }
    }

    /// Enters a page fault's write to the filesystem (`sb_start_pagefault()`:
    /// freeze protection); it ends when the guard drops.
    pub(crate) fn start_pagefault(&self) -> PagefaultGuard<'_, T> {
        // SAFETY: the superblock is live (type invariant).
        unsafe { bindings::sb_start_pagefault(self.as_raw()) };
        // INVARIANT: started just above, on this task.
        PagefaultGuard(self, PhantomData)
    }
}

/// Freeze protection of a page fault, from [`SuperBlock::start_pagefault`].
///
/// # Invariants
///
/// This task called `sb_start_pagefault()` on the superblock (a percpu
/// rwsem read lock, released by the same task: `!Send`).
#[must_use = "freeze protection ends when the guard is dropped"]
pub(crate) struct PagefaultGuard<'a, T: FileSystem>(&'a SuperBlock<T>, PhantomData<*mut ()>);

impl<T: FileSystem> Drop for PagefaultGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant this task holds the protection.
        unsafe { bindings::sb_end_pagefault(self.0.as_raw()) };
    }
}
