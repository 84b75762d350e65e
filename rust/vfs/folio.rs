// SPDX-License-Identifier: GPL-2.0

//! Page cache folios and page cache seeks, as the delalloc release loop uses
//! them.

use core::ptr::NonNull;

use kernel::bindings;
use kernel::error::Result;

use super::inode::Inode;
use super::FileSystem;

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
        // SAFETY: as above.
        unsafe { bindings::folio_size(self.folio.as_ptr()) as i64 }
    }

    pub(crate) fn is_dirty(&self) -> bool {
        // SAFETY: as above.
        unsafe { bindings::folio_test_dirty(self.folio.as_ptr()) }
    }
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
        if ret == -(bindings::ENXIO as i64) {
            return Ok(None);
        }
        if ret < 0 {
            return Err(kernel::error::Error::from_errno(ret as i32));
        }
        Ok(Some(ret))
    }
}
