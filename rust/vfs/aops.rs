// SPDX-License-Identifier: GPL-2.0

//! The page cache operations of regular files, all on iomap:
//! [`AddressSpaceOperations`] and its `address_space_operations` and
//! `iomap_writeback_ops` tables, [`AopsVTable`].

use core::ffi::{c_int, c_uint, c_void};
use core::marker::PhantomData;

use kernel::bindings;
use kernel::error::{from_result, Result};
use kernel::prelude::*;

use super::inode::Inode;
use super::iomap::{bdev_of, IomapOperations, IomapVTable, Mapping};

extern "C" {
    // rust/vfs/ioend.c. `ioend` is a `struct iomap_ioend *` (whose bindgen
    // type embeds a `lockdep_map`, empty without lockdep, which the FFI lint
    // refuses).
    fn delafs_ioend_defer(ioend: *mut c_void, done: IoendDone);
    fn delafs_ioend_flush();
}

/// `delafs_ioend_done_fn` of rust/vfs/ioend.h.
type IoendDone = unsafe extern "C" fn(*mut bindings::inode, bindings::loff_t, usize) -> c_int;

/// Waits for every writeback completion queued so far to finish (unmount,
/// module unload).
pub(super) fn flush_ioends() {
    // SAFETY: no precondition; it only waits.
    unsafe { delafs_ioend_flush() }
}

/// Writeback of a file's dirty page cache (`iomap_writeback_ops`); reads go
/// through [`IomapOperations`].
#[vtable]
pub(crate) trait AddressSpaceOperations: IomapOperations {
    /// Writeback of the dirty bytes `[offset, offset + len)`: the blocks
    /// under `offset`, allocating delalloc ones (at most those under the
    /// range).
    fn map_blocks(inode: &Inode<Self>, offset: i64, len: u32) -> Result<Mapping>;

    /// Writeback of `size` bytes at `offset`, over blocks [`Self::map_blocks`]
    /// mapped unwritten, reached the disk: mark them written. Runs in
    /// process context, before the folios leave writeback; an error is the
    /// I/O's (`mapping_set_error`). Failed writes never get here: their
    /// blocks stay unwritten.
    fn writeback_end_io(_inode: &Inode<Self>, _offset: i64, _size: usize) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// The `address_space_operations` of regular files of `T`.
pub(crate) struct AopsVTable<T>(PhantomData<T>);

impl<T: AddressSpaceOperations> AopsVTable<T> {
    const TABLE: bindings::address_space_operations = bindings::address_space_operations {
        read_folio: Some(Self::read_folio_callback),
        readahead: Some(Self::readahead_callback),
        writepages: Some(Self::writepages_callback),
        dirty_folio: Some(bindings::iomap_dirty_folio),
        release_folio: Some(bindings::iomap_release_folio),
        invalidate_folio: Some(bindings::iomap_invalidate_folio),
        is_partially_uptodate: Some(bindings::iomap_is_partially_uptodate),
        error_remove_folio: Some(bindings::generic_error_remove_folio),
        // SAFETY: all-zeroes is a valid `address_space_operations` (every
        // other callback `None`).
        ..unsafe { core::mem::zeroed() }
    };

    const WRITEBACK: bindings::iomap_writeback_ops = bindings::iomap_writeback_ops {
        map_blocks: Some(Self::map_blocks_callback),
        prepare_ioend: if T::HAS_WRITEBACK_END_IO {
            Some(Self::prepare_ioend_callback)
        } else {
            None
        },
        discard_folio: None,
    };

    /// The table, for `i_mapping->a_ops`.
    pub(crate) const fn build() -> &'static bindings::address_space_operations {
        &Self::TABLE
    }

    /// # Safety
    ///
    /// Called by the page cache with a locked folio of a file of `T`.
    unsafe extern "C" fn read_folio_callback(
        _file: *mut bindings::file,
        folio: *mut bindings::folio,
    ) -> c_int {
        // SAFETY: a locked folio of a `T` file, as `iomap_read_folio` needs;
        // the ops table is static.
        unsafe { bindings::iomap_read_folio(folio, &IomapVTable::<T>::READ) }
    }

    /// # Safety
    ///
    /// Called by the page cache with a readahead control of a file of `T`.
    unsafe extern "C" fn readahead_callback(rac: *mut bindings::readahead_control) {
        // SAFETY: a valid control of a `T` file, as `iomap_readahead` needs;
        // the ops table is static.
        unsafe { bindings::iomap_readahead(rac, &IomapVTable::<T>::READ) }
    }

    /// # Safety
    ///
    /// Called by writeback with a mapping of a file of `T` and its control.
    unsafe extern "C" fn writepages_callback(
        mapping: *mut bindings::address_space,
        wbc: *mut bindings::writeback_control,
    ) -> c_int {
        // SAFETY: all-zeroes is the initial state `iomap_writepages` expects
        // of its context.
        let mut wpc: bindings::iomap_writepage_ctx = unsafe { core::mem::zeroed() };
        // SAFETY: valid mapping and control from writeback; `wpc` outlives
        // the call; the ops table is static.
        unsafe { bindings::iomap_writepages(mapping, wbc, &mut wpc, &Self::WRITEBACK) }
    }

    /// `iomap_writeback_ops::map_blocks`: no caching of the previous
    /// mapping (a truncate or punch may have changed it since).
    ///
    /// # Safety
    ///
    /// Called by `iomap_writepages` with its context and a referenced inode
    /// of `T`.
    unsafe extern "C" fn map_blocks_callback(
        wpc: *mut bindings::iomap_writepage_ctx,
        inode: *mut bindings::inode,
        offset: bindings::loff_t,
        len: c_uint,
    ) -> c_int {
        from_result(|| {
            // SAFETY: writeback holds a reference to the inode.
            let inode = unsafe { Inode::<T>::from_raw(inode) };
            let mapping = T::map_blocks(inode, offset, len)?;
            // SAFETY: `iomap_writepages` passes its valid context, whose
            // `iomap` is ours to fill until `map_blocks` returns.
            let iomap = unsafe { core::ptr::addr_of_mut!((*wpc).iomap) };
            // SAFETY: `iomap` is valid for writes (above); all-zeroes is a
            // valid `struct iomap` (null pointers, no flags).
            unsafe { iomap.write(core::mem::zeroed()) };
            // SAFETY: `iomap` is valid for writes and ours (above); `bdev_of`
            // is the inode's device; writeback calls no folio ops.
            unsafe { mapping.fill(iomap, bdev_of(inode), core::ptr::null()) };
            Ok(0)
        })
    }

    /// `iomap_writeback_ops::prepare_ioend`: an ioend over unwritten
    /// blocks completes through [`Self::ioend_done_callback`] in process
    /// context; a failed one (`status`) and the others the usual way.
    ///
    /// # Safety
    ///
    /// Called by iomap with an ioend of a file of `T`, not yet submitted.
    unsafe extern "C" fn prepare_ioend_callback(
        ioend: *mut bindings::iomap_ioend,
        status: c_int,
    ) -> c_int {
        // SAFETY: iomap passes an ioend it built and has not submitted; we
        // only read its type.
        let unwritten = u32::from(unsafe { (*ioend).io_type }) == bindings::IOMAP_UNWRITTEN;
        if status == 0 && unwritten {
            // SAFETY: as above; `delafs_ioend_defer` only sets the bio's
            // completion, which iomap calls once the bio is done.
            unsafe { delafs_ioend_defer(ioend.cast(), Self::ioend_done_callback) };
        }
        status
    }

    /// `delafs_ioend_done_fn`: the data of a deferred ioend is on disk.
    ///
    /// # Safety
    ///
    /// Called by rust/vfs/ioend.c in process context with the inode of an
    /// ioend [`Self::prepare_ioend_callback`] deferred, whose folios are
    /// still under writeback (eviction waits for them, so the inode and its
    /// superblock are alive).
    unsafe extern "C" fn ioend_done_callback(
        inode: *mut bindings::inode,
        offset: bindings::loff_t,
        size: usize,
    ) -> c_int {
        from_result(|| {
            // SAFETY: a live inode of `T` (function safety requirements).
            let inode = unsafe { Inode::<T>::from_raw(inode) };
            T::writeback_end_io(inode, offset, size)?;
            Ok(0)
        })
    }
}
