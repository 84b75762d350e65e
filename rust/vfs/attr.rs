// SPDX-License-Identifier: GPL-2.0

//! Inode attributes: [`InodeOperations`] (`setattr`) and the
//! `inode_operations` of regular files, [`InodeVTable`] and
//! [`RegularInodeVTable`] (with `fiemap`).

use core::ffi::c_int;
use core::marker::PhantomData;

use kernel::bindings;
use kernel::error::{from_result, to_result, Result};
use kernel::prelude::*;

use super::filesystem::FileSystem;
use super::inode::Inode;
use super::iomap::{IomapOperations, IomapVTable};

/// A `setattr` request (chmod, chown, utimes, truncate).
///
/// # Invariants
///
/// `idmap`, `dentry` and `attr` are the arguments of one `setattr` call of
/// the VFS, valid for `'a`; the dentry is positive, its inode a live inode
/// of `T`, locked exclusively by the VFS.
pub(crate) struct SetAttr<'a, T: FileSystem> {
    idmap: *mut bindings::mnt_idmap,
    dentry: *mut bindings::dentry,
    attr: *mut bindings::iattr,
    _p: PhantomData<&'a Inode<T>>,
}

impl<T: FileSystem> SetAttr<'_, T> {
    /// The inode whose attributes change.
    pub(crate) fn inode(&self) -> &Inode<T> {
        // SAFETY: the dentry is positive and its inode a live inode of `T`
        // for `'a` (type invariant).
        unsafe { Inode::from_raw((*self.dentry).d_inode) }
    }

    /// Checks the change is allowed (`setattr_prepare()`).
    pub(crate) fn prepare(&self) -> Result {
        // SAFETY: the arguments of the running `setattr` (type invariant).
        to_result(unsafe { bindings::setattr_prepare(self.idmap, self.dentry, self.attr) })
    }

    /// The new size, for a truncate (`ATTR_SIZE`).
    pub(crate) fn size(&self) -> Option<i64> {
        // SAFETY: `attr` is valid and not written by anyone during the call
        // (type invariant).
        let (valid, size) = unsafe { ((*self.attr).ia_valid, (*self.attr).ia_size) };
        (valid & bindings::ATTR_SIZE != 0).then_some(size)
    }

    /// Copies the new attributes into the inode (`setattr_copy()`); the
    /// size is the filesystem's to set.
    pub(crate) fn copy(&self) {
        // SAFETY: the arguments of the running `setattr`, the inode locked
        // by the VFS (type invariant).
        unsafe { bindings::setattr_copy(self.idmap, self.inode().as_raw(), self.attr) };
    }
}

/// Operations on inodes of every type (`inode_operations`).
#[vtable]
pub(crate) trait InodeOperations: FileSystem {
    /// chmod, chown, utimes, truncate; the VFS holds the inode lock
    /// exclusively.
    fn setattr(attr: &SetAttr<'_, Self>) -> Result;
}

/// The `inode_operations` of regular files of `T`.
pub(crate) struct InodeVTable<T>(PhantomData<T>);

impl<T: InodeOperations> InodeVTable<T> {
    const TABLE: bindings::inode_operations = bindings::inode_operations {
        setattr: Some(Self::setattr_callback),
        // SAFETY: all-zeroes is a valid `inode_operations` (every other
        // callback `None`).
        ..unsafe { core::mem::zeroed() }
    };

    /// The table, for `i_op`.
    pub(crate) const fn build() -> &'static bindings::inode_operations {
        &Self::TABLE
    }

    /// # Safety
    ///
    /// Called by `notify_change()` with its arguments: a positive dentry of
    /// `T`, the inode locked exclusively.
    pub(super) unsafe extern "C" fn setattr_callback(
        idmap: *mut bindings::mnt_idmap,
        dentry: *mut bindings::dentry,
        attr: *mut bindings::iattr,
    ) -> c_int {
        // INVARIANT: the arguments of this `setattr`, valid for the call.
        let attr = SetAttr {
            idmap,
            dentry,
            attr,
            _p: PhantomData,
        };
        attr.inode().assert_locked_write();
        from_result(|| {
            T::setattr(&attr)?;
            Ok(0)
        })
    }
}

/// The `inode_operations` of regular files of `T`: [`InodeVTable`]'s, and
/// `fiemap` through iomap.
pub(crate) struct RegularInodeVTable<T>(PhantomData<T>);

impl<T: InodeOperations + IomapOperations> RegularInodeVTable<T> {
    const TABLE: bindings::inode_operations = bindings::inode_operations {
        setattr: Some(InodeVTable::<T>::setattr_callback),
        fiemap: Some(IomapVTable::<T>::fiemap_callback),
        // SAFETY: all-zeroes is a valid `inode_operations` (every other
        // callback `None`).
        ..unsafe { core::mem::zeroed() }
    };

    /// The table, for `i_op`.
    pub(crate) const fn build() -> &'static bindings::inode_operations {
        &Self::TABLE
    }
}
