// SPDX-License-Identifier: GPL-2.0

//! The operations of open regular files: [`FileOperations`] and its
//! `file_operations` and `vm_operations_struct` tables, [`FileVTable`].

use core::ffi::c_int;
use core::marker::PhantomData;

use kernel::bindings;
use kernel::error::{from_result, Result};
use kernel::prelude::*;

use super::file::{File, IovIter, Kiocb, VmFault, VmFaultResult, Whence};
use super::inode::Inode;
use super::iomap::IomapOperations;

/// The `mode` of fallocate(2) (`FALLOC_FL_*`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct FallocFlags(u32);

impl FallocFlags {
    /// Mode 0: preallocate, growing the file.
    pub(crate) const NONE: Self = Self(0);
    pub(crate) const KEEP_SIZE: Self = Self(bindings::FALLOC_FL_KEEP_SIZE);
    pub(crate) const PUNCH_HOLE: Self = Self(bindings::FALLOC_FL_PUNCH_HOLE);
    pub(crate) const ZERO_RANGE: Self = Self(bindings::FALLOC_FL_ZERO_RANGE);

    /// Whether every flag of `other` is set.
    pub(crate) fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for FallocFlags {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// What open regular files do (`file_operations`), and writes through a
/// shared mapping (`vm_operations_struct::page_mkwrite`). The VFS takes no
/// lock for any of these: the filesystem takes what it needs.
#[vtable]
pub(crate) trait FileOperations: IomapOperations {
    /// lseek(2) with SEEK_DATA and SEEK_HOLE.
    fn llseek(file: &File<Self>, offset: i64, whence: Whence) -> Result<i64>;
    fn read_iter(iocb: &Kiocb<Self>, to: &IovIter) -> Result<isize>;
    fn write_iter(iocb: &Kiocb<Self>, from: &IovIter) -> Result<isize>;
    /// fsync(2) and fdatasync(2) of `[start, end]`, for directories too.
    fn fsync(file: &File<Self>, start: i64, end: i64, datasync: bool) -> Result;
    /// A write fault on a shared mapping is about to dirty a folio.
    fn page_mkwrite(vmf: &VmFault<Self>) -> VmFaultResult;

    fn fallocate(_file: &File<Self>, _mode: FallocFlags, _offset: i64, _len: i64) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The last reference to an open file of the inode is being put.
    fn release(_inode: &Inode<Self>) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// The `file_operations` of regular files of `T`.
pub(crate) struct FileVTable<T>(PhantomData<T>);

impl<T: FileOperations> FileVTable<T> {
    const TABLE: bindings::file_operations = bindings::file_operations {
        llseek: Some(Self::llseek_callback),
        read_iter: Some(Self::read_iter_callback),
        write_iter: Some(Self::write_iter_callback),
        iopoll: Some(bindings::iocb_bio_iopoll),
        mmap: Some(Self::mmap_callback),
        open: Some(Self::open_callback),
        fsync: Some(Self::fsync_callback),
        splice_read: Some(bindings::filemap_splice_read),
        splice_write: Some(bindings::iter_file_splice_write),
        fallocate: if T::HAS_FALLOCATE {
            Some(Self::fallocate_callback)
        } else {
            None
        },
        release: if T::HAS_RELEASE {
            Some(Self::release_callback)
        } else {
            None
        },
        // SAFETY: all-zeroes is a valid `file_operations` (every other
        // callback `None`).
        ..unsafe { core::mem::zeroed() }
    };

    const VM: bindings::vm_operations_struct = bindings::vm_operations_struct {
        fault: Some(bindings::filemap_fault),
        map_pages: Some(bindings::filemap_map_pages),
        page_mkwrite: Some(Self::page_mkwrite_callback),
        // SAFETY: all-zeroes is a valid `vm_operations_struct` (every other
        // callback `None`).
        ..unsafe { core::mem::zeroed() }
    };

    /// The table, for `i_fop`.
    pub(crate) const fn build() -> &'static bindings::file_operations {
        &Self::TABLE
    }

    /// # Safety
    ///
    /// Called by the VFS with an inode of `T` and its file being opened.
    unsafe extern "C" fn open_callback(
        inode: *mut bindings::inode,
        file: *mut bindings::file,
    ) -> c_int {
        // SAFETY: the file is being opened: nobody else uses it yet, so its
        // mode bits are ours to set.
        unsafe { (*file).f_mode |= bindings::FMODE_CAN_ODIRECT };
        // SAFETY: the `open` arguments, passed on.
        unsafe { bindings::generic_file_open(inode, file) }
    }

    /// # Safety
    ///
    /// Called by the VFS when the last reference to an open file of `T` is
    /// put; the file still pins its inode.
    unsafe extern "C" fn release_callback(
        inode: *mut bindings::inode,
        _file: *mut bindings::file,
    ) -> c_int {
        // SAFETY: the file holds a reference to its inode, a live inode of
        // `T`, until `release` returns.
        let inode = unsafe { Inode::<T>::from_raw(inode) };
        from_result(|| {
            T::release(inode)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS with an open file of `T`.
    unsafe extern "C" fn llseek_callback(
        file: *mut bindings::file,
        offset: bindings::loff_t,
        whence: c_int,
    ) -> bindings::loff_t {
        // SAFETY: the file is open for the call.
        let file = unsafe { File::<T>::from_raw(file) };
        match T::llseek(file, offset, Whence::from_raw(whence)) {
            Ok(pos) => pos,
            Err(e) => e.to_errno().into(),
        }
    }

    /// # Safety
    ///
    /// Called by the VFS with a valid `kiocb` of an open file of `T` and
    /// its iterator.
    unsafe extern "C" fn read_iter_callback(
        iocb: *mut bindings::kiocb,
        to: *mut bindings::iov_iter,
    ) -> isize {
        // SAFETY: valid for the call, used by nobody else meanwhile.
        let (iocb, to) = unsafe { (Kiocb::<T>::from_raw(iocb), IovIter::from_raw(to)) };
        match T::read_iter(iocb, to) {
            Ok(n) => n,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// As [`Self::read_iter_callback`].
    unsafe extern "C" fn write_iter_callback(
        iocb: *mut bindings::kiocb,
        from: *mut bindings::iov_iter,
    ) -> isize {
        // SAFETY: valid for the call, used by nobody else meanwhile.
        let (iocb, from) = unsafe { (Kiocb::<T>::from_raw(iocb), IovIter::from_raw(from)) };
        match T::write_iter(iocb, from) {
            Ok(n) => n,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// Called by the VFS with an open file of `T` (a regular file or a
    /// directory).
    pub(super) unsafe extern "C" fn fsync_callback(
        file: *mut bindings::file,
        start: bindings::loff_t,
        end: bindings::loff_t,
        datasync: c_int,
    ) -> c_int {
        from_result(|| {
            // SAFETY: the file is open for the call.
            T::fsync(unsafe { File::from_raw(file) }, start, end, datasync != 0)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by `vfs_fallocate()` with an open file of `T`.
    unsafe extern "C" fn fallocate_callback(
        file: *mut bindings::file,
        mode: c_int,
        offset: bindings::loff_t,
        len: bindings::loff_t,
    ) -> kernel::ffi::c_long {
        from_result(|| {
            // SAFETY: the file is open for the call.
            let file = unsafe { File::<T>::from_raw(file) };
            T::fallocate(file, FallocFlags(mode as u32), offset, len)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by `mmap_region()` with an open file of `T` and the VMA being
    /// set up.
    unsafe extern "C" fn mmap_callback(
        file: *mut bindings::file,
        vma: *mut bindings::vm_area_struct,
    ) -> c_int {
        // SAFETY: the file is open for the call.
        unsafe { File::<T>::from_raw(file) }.accessed();
        // SAFETY: the VMA is being set up by this task, so `vm_ops` is ours
        // to set; the table is static.
        unsafe { (*vma).vm_ops = &Self::VM };
        0
    }

    /// # Safety
    ///
    /// Called by the fault handler with a write fault on a VMA this file's
    /// `mmap` set up, which holds the VMA and its file.
    unsafe extern "C" fn page_mkwrite_callback(
        vmf: *mut bindings::vm_fault,
    ) -> bindings::vm_fault_t {
        // SAFETY: the fault and its VMA are valid for the call; the VMA maps
        // a file of `T` (only our `mmap` installs this table).
        T::page_mkwrite(unsafe { VmFault::from_raw(vmf) }).0
    }
}
