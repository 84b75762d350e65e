// SPDX-License-Identifier: GPL-2.0

//! Open files and the arguments of their I/O: `struct file`, `struct kiocb`,
//! `struct iov_iter`, `struct vm_fault`.

use core::marker::PhantomData;

use kernel::bindings;
use kernel::error::{to_result, Result};
use kernel::types::Opaque;

use super::error::{to_count, to_offset};
use super::filesystem::FileSystem;
use super::inode::Inode;

/// An open file of filesystem `T`.
///
/// # Invariants
///
/// The file is open and its inode is a live inode of `T`.
#[repr(transparent)]
pub(crate) struct File<T: FileSystem>(Opaque<bindings::file>, PhantomData<T>);

impl<T: FileSystem> File<T> {
    /// # Safety
    ///
    /// `ptr` is an open file of `T` that stays open for `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::file) -> &'a Self {
        // SAFETY: `Self` is `repr(transparent)` over `file`; the caller
        // guarantees the file is open for `'a`.
        unsafe { &*ptr.cast() }
    }

    pub(super) fn as_raw(&self) -> *mut bindings::file {
        self.0.get()
    }

    /// The file's inode.
    pub(crate) fn inode(&self) -> &Inode<T> {
        // SAFETY: an open file pins its inode (`f_inode` never changes), a
        // live inode of `T` (type invariant).
        unsafe { Inode::from_raw((*self.as_raw()).f_inode) }
    }

    /// Strips privileges and updates times before a change (`file_modified()`).
    pub(crate) fn modified(&self) -> Result {
        // SAFETY: the file is open (type invariant).
        to_result(unsafe { bindings::file_modified(self.as_raw()) })
    }

    /// Updates mtime and ctime (`file_update_time()`), as a page fault that
    /// writes does; an error is ignored as the C callers do.
    pub(crate) fn update_time(&self) {
        // SAFETY: the file is open (type invariant).
        unsafe { bindings::file_update_time(self.as_raw()) };
    }

    /// Marks the file accessed (`file_accessed()`: atime).
    pub(crate) fn accessed(&self) {
        // SAFETY: the file is open (type invariant).
        unsafe { bindings::file_accessed(self.as_raw()) };
    }

    /// Writes back the dirty page cache of `[start, end]` and waits.
    pub(crate) fn write_and_wait_range(&self, start: i64, end: i64) -> Result {
        // SAFETY: the file is open (type invariant).
        to_result(unsafe { bindings::file_write_and_wait_range(self.as_raw(), start, end) })
    }

    /// `generic_file_llseek()`: SEEK_SET, SEEK_CUR, SEEK_END.
    pub(crate) fn generic_llseek(&self, offset: i64, whence: Whence) -> Result<i64> {
        // SAFETY: the file is open (type invariant).
        to_offset(unsafe { bindings::generic_file_llseek(self.as_raw(), offset, whence.0) })
    }

    /// Sets the file position to `pos`, at most `max` (`vfs_setpos()`).
    pub(crate) fn set_pos(&self, pos: i64, max: i64) -> Result<i64> {
        // SAFETY: the file is open (type invariant); `llseek` callers hold
        // what `vfs_setpos()` needs (it takes `f_lock` itself).
        to_offset(unsafe { bindings::vfs_setpos(self.as_raw(), pos, max) })
    }
}

/// The `whence` of lseek(2).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Whence(core::ffi::c_int);

impl Whence {
    pub(crate) const SEEK_DATA: Self = Self(bindings::SEEK_DATA as _);
    pub(crate) const SEEK_HOLE: Self = Self(bindings::SEEK_HOLE as _);

    pub(super) fn from_raw(whence: core::ffi::c_int) -> Self {
        Self(whence)
    }
}

/// An I/O request on a file of `T`: its file, position and flags.
///
/// # Invariants
///
/// The `kiocb` is valid and its file is an open file of `T`, for as long as
/// a reference to `Self` exists.
#[repr(transparent)]
pub(crate) struct Kiocb<T: FileSystem>(Opaque<bindings::kiocb>, PhantomData<T>);

impl<T: FileSystem> Kiocb<T> {
    /// # Safety
    ///
    /// `ptr` is a valid `kiocb` of an open file of `T`, for `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::kiocb) -> &'a Self {
        // SAFETY: `Self` is `repr(transparent)` over `kiocb`; the caller
        // guarantees validity for `'a`.
        unsafe { &*ptr.cast() }
    }

    pub(super) fn as_raw(&self) -> *mut bindings::kiocb {
        self.0.get()
    }

    pub(crate) fn file(&self) -> &File<T> {
        // SAFETY: `ki_filp` of a valid `kiocb` is its open file of `T` (type
        // invariant), open while the `kiocb` is.
        unsafe { File::from_raw((*self.as_raw()).ki_filp) }
    }

    pub(crate) fn inode(&self) -> &Inode<T> {
        self.file().inode()
    }

    /// Whether the I/O is `O_DIRECT` (`IOCB_DIRECT`).
    pub(crate) fn is_direct(&self) -> bool {
        // SAFETY: the `kiocb` is valid (type invariant); its flags are the
        // submitter's, stable during the call.
        unsafe { (*self.as_raw()).ki_flags as u32 & bindings::IOCB_DIRECT != 0 }
    }

    /// The file position of the I/O.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: the `kiocb` is valid (type invariant).
        unsafe { (*self.as_raw()).ki_pos }
    }

    /// `generic_write_checks()`: limits, `O_APPEND`; the count to write
    /// (the iterator is shortened to it).
    pub(crate) fn write_checks(&self, from: &IovIter) -> Result<isize> {
        // SAFETY: valid `kiocb` (type invariant) and iterator (its type
        // invariant); the caller holds the inode lock, as the checks need.
        to_count(unsafe { bindings::generic_write_checks(self.as_raw(), from.as_raw()) })
    }

    /// `generic_write_sync()`: `O_SYNC`/`O_DSYNC` after `written` bytes.
    pub(crate) fn write_sync(&self, written: isize) -> Result<isize> {
        // SAFETY: valid `kiocb` (type invariant).
        to_count(unsafe { bindings::generic_write_sync(self.as_raw(), written) })
    }

    /// `generic_file_read_iter()`: a buffered read through the page cache.
    pub(crate) fn generic_read(&self, to: &IovIter) -> Result<isize> {
        // SAFETY: valid `kiocb` and iterator (type invariants).
        to_count(unsafe { bindings::generic_file_read_iter(self.as_raw(), to.as_raw()) })
    }
}

/// The user (or kernel) buffers of a read or write.
///
/// # Invariants
///
/// The iterator is valid for as long as a reference to `Self` exists.
#[repr(transparent)]
pub(crate) struct IovIter(Opaque<bindings::iov_iter>);

impl IovIter {
    /// # Safety
    ///
    /// `ptr` is a valid `iov_iter` for `'a`, used by nobody else meanwhile.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::iov_iter) -> &'a Self {
        // SAFETY: `Self` is `repr(transparent)` over `iov_iter`; validity
        // from the caller.
        unsafe { &*ptr.cast() }
    }

    pub(super) fn as_raw(&self) -> *mut bindings::iov_iter {
        self.0.get()
    }
}

/// A page fault on a shared writable mapping of a file of `T`.
///
/// # Invariants
///
/// The fault is valid, and its VMA maps an open file of `T`, for as long as
/// a reference to `Self` exists.
#[repr(transparent)]
pub(crate) struct VmFault<T: FileSystem>(Opaque<bindings::vm_fault>, PhantomData<T>);

impl<T: FileSystem> VmFault<T> {
    /// # Safety
    ///
    /// `ptr` is a valid fault on a VMA of a file of `T`, for `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::vm_fault) -> &'a Self {
        // SAFETY: `Self` is `repr(transparent)` over `vm_fault`; validity
        // from the caller.
        unsafe { &*ptr.cast() }
    }

    pub(super) fn as_raw(&self) -> *mut bindings::vm_fault {
        self.0.get()
    }

    /// The mapped file.
    pub(crate) fn file(&self) -> &File<T> {
        // SAFETY: the fault holds its VMA, whose `vm_file` is an open file
        // of `T` (type invariant) for the duration of the fault.
        unsafe { File::from_raw((*(*self.as_raw()).__bindgen_anon_1.vma).vm_file) }
    }
}

/// What a page fault handler returns (`vm_fault_t`).
pub(crate) struct VmFaultResult(pub(super) bindings::vm_fault_t);
