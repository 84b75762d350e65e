// SPDX-License-Identifier: GPL-2.0

//! Directories: [`DirOperations`] and the `inode_operations` and
//! `file_operations` of directories, [`DirVTable`].

use core::ffi::{c_int, c_uint};
use core::marker::PhantomData;

use kernel::bindings;
use kernel::error::{from_result, Result};
use kernel::prelude::*;
use kernel::types::{ARef, AlwaysRefCounted};

use super::attr::{InodeOperations, InodeVTable};
use super::file_ops::{FileOperations, FileVTable};
use super::inode::Inode;
use super::inode::Owner;

/// What `readdir` hands each entry to, with the position a later readdir
/// must start from to return this entry (the current `*pos`); returns
/// `false` when the user buffer is full and the walk must stop.
///
/// The position is stored in `ctx->pos` before the entry is emitted:
/// getdents gives the previous entry that value as its `d_off` (what
/// telldir(3) returns after it), so it must be the position just past the
/// previous entry, not where this call started.
pub(crate) type DirEmit<'a> = &'a mut dyn FnMut(i64, &[u8], u64, u8) -> bool;

/// The `flags` of renameat2(2) (`RENAME_*`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct RenameFlags(u32);

impl RenameFlags {
    pub(crate) const NOREPLACE: Self = Self(bindings::RENAME_NOREPLACE);

    /// Whether every flag of `other` is set.
    pub(crate) fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no flag outside `allowed` is set.
    pub(crate) fn only(self, allowed: Self) -> bool {
        self.0 & !allowed.0 == 0
    }
}

/// Namespace operations (`inode_operations` of directories) and readdir.
/// The VFS holds the directories' `i_rwsem` as `Documentation/filesystems/
/// locking.rst` says: shared for `lookup` and `readdir`, exclusive for
/// changes (and the children's for `unlink`, `rmdir` and `rename`).
#[vtable]
pub(crate) trait DirOperations: InodeOperations + FileOperations {
    fn lookup(dir: &Inode<Self>, name: &[u8]) -> Result<Option<ARef<Inode<Self>>>>;
    /// Creates a regular file or directory (`mode` has the type).
    fn create(
        dir: &Inode<Self>,
        name: &[u8],
        mode: u16,
        owner: &Owner,
    ) -> Result<ARef<Inode<Self>>>;
    fn link(inode: &Inode<Self>, dir: &Inode<Self>, name: &[u8]) -> Result;
    fn unlink(dir: &Inode<Self>, name: &[u8], inode: &Inode<Self>) -> Result;
    fn rmdir(dir: &Inode<Self>, name: &[u8], inode: &Inode<Self>) -> Result;
    fn rename(
        old_dir: &Inode<Self>,
        old_name: &[u8],
        inode: &Inode<Self>,
        new_dir: &Inode<Self>,
        new_name: &[u8],
        target: Option<&Inode<Self>>,
        flags: RenameFlags,
    ) -> Result;
    /// Emits entries from `*pos` (0 and 1 are "." and ".."), advancing it.
    fn readdir(dir: &Inode<Self>, pos: &mut i64, emit: DirEmit<'_>) -> Result;
}

/// The name of a dentry.
///
/// # Safety
///
/// `dentry` is valid and its name stable (the parent's lock is held) for `'a`.
unsafe fn dentry_name<'a>(dentry: *const bindings::dentry) -> &'a [u8] {
    // SAFETY: `dentry` is valid with a stable name for `'a` (function safety
    // requirements); `d_name` points to `len` bytes.
    unsafe {
        let name = &(*dentry).d_name;
        core::slice::from_raw_parts(
            name.name,
            name.__bindgen_anon_1.__bindgen_anon_1.len as usize,
        )
    }
}

/// The inode of a positive dentry.
///
/// # Safety
///
/// `dentry` is a valid positive dentry of `T`, which stays positive for `'a`
/// (the VFS holds the parent's lock).
unsafe fn dentry_inode<'a, T: DirOperations>(dentry: *const bindings::dentry) -> &'a Inode<T> {
    // SAFETY: positive, so `d_inode` is a live inode of `T` for `'a`
    // (function safety requirements).
    unsafe { Inode::from_raw((*dentry).d_inode) }
}

/// The directory tables of `T`.
pub(crate) struct DirVTable<T>(PhantomData<T>);

impl<T: DirOperations> DirVTable<T> {
    const INODE: bindings::inode_operations = bindings::inode_operations {
        lookup: Some(Self::lookup_callback),
        create: Some(Self::create_callback),
        mkdir: Some(Self::mkdir_callback),
        link: Some(Self::link_callback),
        unlink: Some(Self::unlink_callback),
        rmdir: Some(Self::rmdir_callback),
        rename: Some(Self::rename_callback),
        setattr: Some(InodeVTable::<T>::setattr_callback),
        // SAFETY: all-zeroes is a valid `inode_operations` (every other
        // callback `None`).
        ..unsafe { core::mem::zeroed() }
    };

    const FILE: bindings::file_operations = bindings::file_operations {
        llseek: Some(bindings::generic_file_llseek),
        read: Some(bindings::generic_read_dir),
        iterate_shared: Some(Self::iterate_shared_callback),
        fsync: Some(FileVTable::<T>::fsync_callback),
        // SAFETY: all-zeroes is a valid `file_operations` (every other
        // callback `None`).
        ..unsafe { core::mem::zeroed() }
    };

    /// The tables, for `i_op` and `i_fop`.
    pub(crate) const fn build() -> (
        &'static bindings::inode_operations,
        &'static bindings::file_operations,
    ) {
        (&Self::INODE, &Self::FILE)
    }

    /// # Safety
    ///
    /// Called by the VFS with a directory of `T` locked (shared at least)
    /// and a negative dentry in it.
    unsafe extern "C" fn lookup_callback(
        dir: *mut bindings::inode,
        dentry: *mut bindings::dentry,
        _flags: c_uint,
    ) -> *mut bindings::dentry {
        // SAFETY: the directory is live and locked, so the dentry's name is
        // stable, for the call.
        let (dir, name) = unsafe { (Inode::<T>::from_raw(dir), dentry_name(dentry)) };
        let inode = match T::lookup(dir, name) {
            Ok(Some(inode)) => ARef::into_raw(inode).as_ptr().cast(),
            Ok(None) => core::ptr::null_mut(),
            Err(e) => return e.to_ptr(),
        };
        // SAFETY: `d_splice_alias` takes the inode reference (or null, for a
        // negative dentry) and a valid dentry.
        unsafe { bindings::d_splice_alias(inode, dentry) }
    }

    /// Creates `dentry` in `dir` and instantiates it.
    ///
    /// # Safety
    ///
    /// The arguments of `create` or `mkdir`: the directory locked
    /// exclusively, the dentry negative.
    unsafe fn create_common(
        idmap: *mut bindings::mnt_idmap,
        dir: *mut bindings::inode,
        dentry: *mut bindings::dentry,
        mode: u16,
    ) -> Result {
        // SAFETY: the directory is live and locked, so the dentry's name is
        // stable, for the call.
        let (dir_inode, name) = unsafe { (Inode::<T>::from_raw(dir), dentry_name(dentry)) };
        // SAFETY: the VFS passed `idmap` to this operation and pins it.
        let owner = unsafe { Owner::from_raw(idmap) };
        let inode = T::create(dir_inode, name, mode, owner)?;
        // SAFETY: `d_instantiate` takes our reference to the new inode.
        unsafe { bindings::d_instantiate(dentry, ARef::into_raw(inode).as_ptr().cast()) };
        Ok(())
    }

    /// # Safety
    ///
    /// The arguments of `inode_operations::create`.
    unsafe extern "C" fn create_callback(
        idmap: *mut bindings::mnt_idmap,
        dir: *mut bindings::inode,
        dentry: *mut bindings::dentry,
        mode: bindings::umode_t,
        _excl: bool,
    ) -> c_int {
        from_result(|| {
            let mode = (mode & !(bindings::S_IFMT as u16)) | bindings::S_IFREG as u16;
            // SAFETY: the arguments of `create`, passed on.
            unsafe { Self::create_common(idmap, dir, dentry, mode) }?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// The arguments of `inode_operations::mkdir`.
    unsafe extern "C" fn mkdir_callback(
        idmap: *mut bindings::mnt_idmap,
        dir: *mut bindings::inode,
        dentry: *mut bindings::dentry,
        mode: bindings::umode_t,
    ) -> c_int {
        from_result(|| {
            let mode = (mode & !(bindings::S_IFMT as u16)) | bindings::S_IFDIR as u16;
            // SAFETY: the arguments of `mkdir`, passed on.
            unsafe { Self::create_common(idmap, dir, dentry, mode) }?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// The arguments of `inode_operations::link`: `old_dentry` positive,
    /// `dentry` negative in `dir`, both locked.
    unsafe extern "C" fn link_callback(
        old_dentry: *mut bindings::dentry,
        dir: *mut bindings::inode,
        dentry: *mut bindings::dentry,
    ) -> c_int {
        from_result(|| {
            // SAFETY: the VFS holds both inodes locked, so the old dentry
            // stays positive and the new one's name stable.
            let (inode, dir_inode, name) = unsafe {
                (
                    dentry_inode::<T>(old_dentry),
                    Inode::<T>::from_raw(dir),
                    dentry_name(dentry),
                )
            };
            T::link(inode, dir_inode, name)?;
            inode.inc_ref();
            // SAFETY: `d_instantiate` takes the reference we just took.
            unsafe { bindings::d_instantiate(dentry, inode.as_raw()) };
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// The arguments of `unlink` or `rmdir`: the dentry positive, it and
    /// the directory locked.
    unsafe fn remove_common(
        dir: *mut bindings::inode,
        dentry: *mut bindings::dentry,
        remove: fn(&Inode<T>, &[u8], &Inode<T>) -> Result,
    ) -> c_int {
        from_result(|| {
            // SAFETY: both inodes locked by the VFS (function safety
            // requirements): the dentry stays positive, its name stable.
            let (dir, name, inode) = unsafe {
                (
                    Inode::<T>::from_raw(dir),
                    dentry_name(dentry),
                    dentry_inode::<T>(dentry),
                )
            };
            remove(dir, name, inode)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// The arguments of `inode_operations::unlink`.
    unsafe extern "C" fn unlink_callback(
        dir: *mut bindings::inode,
        dentry: *mut bindings::dentry,
    ) -> c_int {
        // SAFETY: the arguments of `unlink`, passed on.
        unsafe { Self::remove_common(dir, dentry, T::unlink) }
    }

    /// # Safety
    ///
    /// The arguments of `inode_operations::rmdir`.
    unsafe extern "C" fn rmdir_callback(
        dir: *mut bindings::inode,
        dentry: *mut bindings::dentry,
    ) -> c_int {
        // SAFETY: the arguments of `rmdir`, passed on.
        unsafe { Self::remove_common(dir, dentry, T::rmdir) }
    }

    /// # Safety
    ///
    /// The arguments of `inode_operations::rename`, with every lock
    /// `lock_rename()` and `vfs_rename()` take held; `new_dentry` may be
    /// negative.
    unsafe extern "C" fn rename_callback(
        _idmap: *mut bindings::mnt_idmap,
        old_dir: *mut bindings::inode,
        old_dentry: *mut bindings::dentry,
        new_dir: *mut bindings::inode,
        new_dentry: *mut bindings::dentry,
        flags: c_uint,
    ) -> c_int {
        from_result(|| {
            // SAFETY: the VFS holds both directories and both children
            // locked: the dentries keep their inodes and names.
            unsafe {
                let target = if (*new_dentry).d_inode.is_null() {
                    None
                } else {
                    Some(dentry_inode::<T>(new_dentry))
                };
                T::rename(
                    Inode::from_raw(old_dir),
                    dentry_name(old_dentry),
                    dentry_inode::<T>(old_dentry),
                    Inode::from_raw(new_dir),
                    dentry_name(new_dentry),
                    target,
                    RenameFlags(flags),
                )?;
            }
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// The arguments of `file_operations::iterate_shared`: an open
    /// directory of `T`, locked shared, and its `dir_context`.
    unsafe extern "C" fn iterate_shared_callback(
        file: *mut bindings::file,
        ctx: *mut bindings::dir_context,
    ) -> c_int {
        from_result(|| {
            // SAFETY: an open file pins its inode, a directory of `T`.
            let dir = unsafe { Inode::<T>::from_raw((*file).f_inode) };
            if ctx.is_null() {
                return Err(EINVAL);
            }
            // SAFETY: `ctx` is non-null, so the caller's valid context, ours
            // for the call.
            let mut pos = unsafe { (*ctx).pos };
            if pos == 0 || pos == 1 {
                // SAFETY: valid file and context (above).
                if !unsafe { bindings::dir_emit_dots(file, ctx) } {
                    return Ok(0);
                }
                pos = 2;
            }
            let mut emit = |at: i64, name: &[u8], ino: u64, dtype: u8| {
                // SAFETY: valid context (above); `name` is a valid slice for
                // the call, which copies it.
                unsafe {
                    (*ctx).pos = at;
                    bindings::dir_emit(
                        ctx,
                        name.as_ptr().cast(),
                        name.len() as c_int,
                        ino,
                        dtype.into(),
                    )
                }
            };
            let ret = T::readdir(dir, &mut pos, &mut emit);
            // SAFETY: valid context (above).
            unsafe { (*ctx).pos = pos };
            ret?;
            Ok(0)
        })
    }
}
