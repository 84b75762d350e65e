// SPDX-License-Identifier: GPL-2.0

//! Page cache folios and page cache seeks, as the delalloc release loop uses
//! them.

use core::ffi::c_void;
use core::ptr::NonNull;

use kernel::bindings;
use kernel::error::Result;

use super::error::NEG_ENXIO;
use super::filesystem::FileSystem;
use super::inode::{Inode, NewInode};

/// A locked, referenced page cache folio; unlocked and released on drop.
///
/// # Invariants
///
/// `folio` is locked by us and we hold a reference to it.
pub(crate) struct LockedFolio {
    folio: NonNull<bindings::folio>,
}

impl LockedFolio {
    /// Byte offset of the folio in the file.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: by the type invariant the folio is live and locked.
        unsafe { bindings::folio_pos(self.folio.as_ptr()) }
    }

    pub(crate) fn size(&self) -> i64 {
        // SAFETY: the folio is live and locked (type invariant).
        unsafe { bindings::folio_size(self.folio.as_ptr()) as i64 }
    }

    pub(crate) fn is_dirty(&self) -> bool {
        // SAFETY: the folio is live and locked (type invariant).
        unsafe { bindings::folio_test_dirty(self.folio.as_ptr()) }
    }

    /// Whether block `block` of the folio (counted from its start) holds
    /// data not yet written back: iomap's per-block dirty state, which a
    /// large folio has. A block past the folio's end reads as the folio.
    pub(crate) fn block_is_dirty(&self, block: u32) -> bool {
        // SAFETY: by the type invariant the folio is live and locked, which
        // is what `delafs_folio_block_dirty` needs to read stable bits; it
        // checks `block` against the folio's block count.
        unsafe { delafs_folio_block_dirty(self.folio.as_ptr().cast(), block) }
    }
}

// rust/vfs/iomap_folio.c. The pointers are opaque here: the C side knows
// the types (`struct folio *`, `struct address_space *`).
extern "C" {
    fn delafs_folio_block_dirty(folio: *mut c_void, block: u32) -> bool;
    fn delafs_mapping_set_large_folios(mapping: *mut c_void);
}

impl Drop for LockedFolio {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we hold the lock and a reference.
        unsafe {
            bindings::folio_unlock(self.folio.as_ptr());
            bindings::folio_put(self.folio.as_ptr());
        }
    }
}

impl<T: FileSystem> NewInode<T> {
    /// Lets the page cache hold this file in folios larger than a page
    /// (`mapping_set_large_folios()`). Only a new inode can: the page cache
    /// reads the flag without a lock, so it must be set before first use.
    pub(crate) fn set_large_folios(&self) {
        // SAFETY: `i_mapping` of a live inode is a valid mapping, and nobody
        // else can reach a `NewInode`'s page cache yet.
        unsafe { delafs_mapping_set_large_folios(self.inode().mapping().cast()) }
    }
}

impl<T: FileSystem> Inode<T> {
    /// Locks the cached folio at page `index`, if there is one.
    pub(crate) fn lock_folio(&self, index: u64) -> Option<LockedFolio> {
        // SAFETY: live inode; the result is an `ERR_PTR` or a locked,
        // referenced folio.
        let folio = unsafe { bindings::filemap_lock_folio(self.mapping(), index as _) };
        // SAFETY: only the pointer value is inspected.
        if unsafe { bindings::IS_ERR(folio.cast()) } {
            return None;
        }
        // INVARIANT: `filemap_lock_folio` locked and referenced it.
        NonNull::new(folio).map(|folio| LockedFolio { folio })
    }

    /// `mapping_seek_hole_data()`: the next page cache data (`SEEK_DATA`) or
    /// hole (`SEEK_HOLE`) at or after `start`, below `end`. `Ok(None)` is
    /// `-ENXIO` (no data).
    pub(crate) fn seek_page_cache(&self, start: i64, end: i64, data: bool) -> Result<Option<i64>> {
        let whence = if data {
            bindings::SEEK_DATA
        } else {
            bindings::SEEK_HOLE
        };
        // SAFETY: live inode with a valid mapping.
        let ret =
            unsafe { bindings::mapping_seek_hole_data(self.mapping(), start, end, whence as i32) };
        if ret == NEG_ENXIO {
            return Ok(None);
        }
        if ret < 0 {
            return Err(kernel::error::Error::from_errno(ret as i32));
        }
        Ok(Some(ret))
    }
}
