// SPDX-License-Identifier: GPL-2.0

//! The operation tables of a [`FileSystem`]: super, inode, file, address
//! space and VM operations. Each trampoline turns raw arguments into the
//! wrappers of this layer and calls the trait.

use core::ffi::{c_int, c_uint};
use core::marker::PhantomData;

use kernel::bindings;
use kernel::error::{code::*, from_result, to_result, Result};
use kernel::types::{ARef, AlwaysRefCounted};

use super::inode::{Inode, InodeKind, InodeWithData};
use super::iomap::{to_count, writepages, IomapOps};
use super::sb::{fill_statfs, SuperBlock};
use super::{errno, FileSystem, Owner};

/// Static operation tables of `T`; `&Self::X` promotes to `'static`.
pub(crate) struct SuperOps<T>(PhantomData<T>);
struct DirOps<T>(PhantomData<T>);
struct FileOps<T>(PhantomData<T>);

/// Installs the operations that match the inode's type.
pub(super) fn set_inode_ops<T: FileSystem>(inode: &Inode<T>) {
    let raw = inode.as_raw();
    // SAFETY: called on a new inode (I_NEW or fresh from new_inode) before
    // anyone else can see it.
    unsafe {
        match inode.kind() {
            InodeKind::Directory => {
                (*raw).i_op = &DirOps::<T>::INODE;
                (*raw).__bindgen_anon_3.i_fop = &DirOps::<T>::FILE;
            }
            InodeKind::Regular => {
                (*raw).i_op = &FileOps::<T>::INODE;
                (*raw).__bindgen_anon_3.i_fop = &FileOps::<T>::FILE;
                (*(*raw).i_mapping).a_ops = &FileOps::<T>::AOPS;
            }
            InodeKind::Other => {
                (*raw).i_op = &FileOps::<T>::INODE;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Superblock

impl<T: FileSystem> SuperOps<T> {
    pub(super) const OPS: bindings::super_operations = bindings::super_operations {
        alloc_inode: Some(alloc_inode::<T>),
        free_inode: Some(free_inode::<T>),
        write_inode: Some(write_inode::<T>),
        evict_inode: Some(evict_inode::<T>),
        statfs: Some(statfs::<T>),
        sync_fs: Some(sync_fs::<T>),
        show_options: Some(show_options::<T>),
        // SAFETY: all-zeroes is a valid `super_operations`.
        ..unsafe { core::mem::zeroed() }
    };
}

/// # Safety
///
/// Called by the VFS for a superblock of `T`.
unsafe extern "C" fn alloc_inode<T: FileSystem>(
    _sb: *mut bindings::super_block,
) -> *mut bindings::inode {
    InodeWithData::<T>::alloc().unwrap_or(core::ptr::null_mut())
}

/// # Safety
///
/// Called by the VFS, after an RCU grace period, for an inode from
/// `alloc_inode`.
unsafe extern "C" fn free_inode<T: FileSystem>(inode: *mut bindings::inode) {
    // SAFETY: guaranteed by the VFS.
    unsafe { InodeWithData::<T>::free(inode) };
}

/// # Safety
///
/// Called by writeback with a live inode of `T`.
unsafe extern "C" fn write_inode<T: FileSystem>(
    inode: *mut bindings::inode,
    wbc: *mut bindings::writeback_control,
) -> c_int {
    from_result(|| {
        // SAFETY: writeback holds the inode alive; `wbc` is valid.
        let (inode, sync) = unsafe {
            (
                Inode::<T>::from_raw(inode),
                (*wbc).sync_mode == bindings::writeback_sync_modes_WB_SYNC_ALL,
            )
        };
        T::write_inode(inode, sync)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS once, when the last reference to a `T` inode is gone.
unsafe extern "C" fn evict_inode<T: FileSystem>(raw: *mut bindings::inode) {
    // SAFETY: the inode is live until `clear_inode`; its page cache goes
    // first so the filesystem sees no dirty folio.
    unsafe { bindings::truncate_inode_pages_final(&mut (*raw).i_data) };
    // SAFETY: as above.
    T::evict_inode(unsafe { Inode::from_raw(raw) });
    // SAFETY: as above.
    unsafe { bindings::clear_inode(raw) };
}

/// # Safety
///
/// Called by the VFS with a dentry of a mounted `T` and a valid buffer.
unsafe extern "C" fn statfs<T: FileSystem>(
    dentry: *mut bindings::dentry,
    buf: *mut bindings::kstatfs,
) -> c_int {
    from_result(|| {
        // SAFETY: the dentry pins its superblock.
        let sb = unsafe { SuperBlock::<T>::from_raw((*dentry).d_sb) };
        // SAFETY: `vfs_statfs` passes a valid, zeroed `kstatfs` it owns.
        unsafe { fill_statfs(sb, buf) }?;
        Ok(0)
    })
}

/// `super_operations::show_options`.
///
/// # Safety
///
/// Called by the VFS with a `seq_file` to fill and the root dentry of a
/// mounted `T`.
unsafe extern "C" fn show_options<T: FileSystem>(
    m: *mut bindings::seq_file,
    root: *mut bindings::dentry,
) -> c_int {
    kernel::error::from_result(|| {
        // SAFETY: a mounted root's `d_sb` is a live, filled superblock of `T`.
        let sb = unsafe { SuperBlock::<T>::from_raw((*root).d_sb) };
        // SAFETY: the VFS hands us the `seq_file` to write for this call.
        T::show_options(sb, unsafe { super::sb::SeqFile::from_raw(m) })?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS for a mounted superblock of `T`.
unsafe extern "C" fn sync_fs<T: FileSystem>(sb: *mut bindings::super_block, wait: c_int) -> c_int {
    from_result(|| {
        // SAFETY: mounted superblock.
        T::sync_fs(unsafe { SuperBlock::from_raw(sb) }, wait != 0)?;
        Ok(0)
    })
}

// ---------------------------------------------------------------------------
// Helpers shared by the trampolines

/// The name of a dentry.
///
/// # Safety
///
/// `dentry` is valid and its name stable (the parent's lock is held) for `'a`.
unsafe fn dentry_name<'a>(dentry: *const bindings::dentry) -> &'a [u8] {
    // SAFETY: guaranteed by the caller; `d_name` holds `len` bytes.
    unsafe {
        let name = &(*dentry).d_name;
        core::slice::from_raw_parts(
            name.name,
            name.__bindgen_anon_1.__bindgen_anon_1.len as usize,
        )
    }
}

/// # Safety
///
/// `dentry` is valid and positive.
unsafe fn dentry_inode<'a, T: FileSystem>(dentry: *const bindings::dentry) -> &'a Inode<T> {
    // SAFETY: guaranteed by the caller.
    unsafe { Inode::from_raw((*dentry).d_inode) }
}

/// # Safety
///
/// `file` is an open file of `T`.
unsafe fn file_inode<'a, T: FileSystem>(file: *const bindings::file) -> &'a Inode<T> {
    // SAFETY: guaranteed by the caller; an open file pins its inode.
    unsafe { Inode::from_raw((*file).f_inode) }
}

// ---------------------------------------------------------------------------
// Directories

impl<T: FileSystem> DirOps<T> {
    const INODE: bindings::inode_operations = bindings::inode_operations {
        lookup: Some(lookup::<T>),
        create: Some(create::<T>),
        mkdir: Some(mkdir::<T>),
        link: Some(link::<T>),
        unlink: Some(unlink::<T>),
        rmdir: Some(rmdir::<T>),
        rename: Some(rename::<T>),
        setattr: Some(setattr::<T>),
        // SAFETY: all-zeroes is a valid `inode_operations`.
        ..unsafe { core::mem::zeroed() }
    };

    const FILE: bindings::file_operations = bindings::file_operations {
        llseek: Some(bindings::generic_file_llseek),
        read: Some(bindings::generic_read_dir),
        iterate_shared: Some(iterate_shared::<T>),
        fsync: Some(fsync::<T>),
        // SAFETY: all-zeroes is a valid `file_operations`.
        ..unsafe { core::mem::zeroed() }
    };
}

/// # Safety
///
/// Called by the VFS with the directory locked (at least shared).
unsafe extern "C" fn lookup<T: FileSystem>(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    _flags: c_uint,
) -> *mut bindings::dentry {
    // SAFETY: VFS guarantees.
    let (dir, name) = unsafe { (Inode::<T>::from_raw(dir), dentry_name(dentry)) };
    let inode = match T::lookup(dir, name) {
        Ok(Some(inode)) => ARef::into_raw(inode).as_ptr().cast(),
        Ok(None) => core::ptr::null_mut(),
        Err(e) => return e.to_ptr(),
    };
    // SAFETY: `d_splice_alias` consumes the inode reference (or accepts
    // null for a negative dentry).
    unsafe { bindings::d_splice_alias(inode, dentry) }
}

/// Creates `dentry` in `dir` and instantiates it.
///
/// # Safety
///
/// VFS `create`/`mkdir` arguments, the directory locked exclusively.
unsafe fn create_common<T: FileSystem>(
    idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: u16,
) -> Result {
    // SAFETY: VFS guarantees.
    let (dir_inode, name) = unsafe { (Inode::<T>::from_raw(dir), dentry_name(dentry)) };
    // SAFETY: the VFS passed `idmap` to this operation, which it pins.
    let owner = unsafe { Owner::from_raw(idmap) };
    let inode = T::create(dir_inode, name, mode, owner)?;
    // SAFETY: `d_instantiate` consumes our reference to the new inode.
    unsafe { bindings::d_instantiate(dentry, ARef::into_raw(inode).as_ptr().cast()) };
    Ok(())
}

/// # Safety
///
/// VFS `create` arguments.
unsafe extern "C" fn create<T: FileSystem>(
    idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: bindings::umode_t,
    _excl: bool,
) -> c_int {
    from_result(|| {
        let mode = (mode & !(bindings::S_IFMT as u16)) | bindings::S_IFREG as u16;
        // SAFETY: VFS guarantees.
        unsafe { create_common::<T>(idmap, dir, dentry, mode) }?;
        Ok(0)
    })
}

/// # Safety
///
/// VFS `mkdir` arguments.
unsafe extern "C" fn mkdir<T: FileSystem>(
    idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: bindings::umode_t,
) -> c_int {
    from_result(|| {
        let mode = (mode & !(bindings::S_IFMT as u16)) | bindings::S_IFDIR as u16;
        // SAFETY: VFS guarantees.
        unsafe { create_common::<T>(idmap, dir, dentry, mode) }?;
        Ok(0)
    })
}

/// # Safety
///
/// VFS `link` arguments.
unsafe extern "C" fn link<T: FileSystem>(
    old_dentry: *mut bindings::dentry,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
) -> c_int {
    from_result(|| {
        // SAFETY: VFS guarantees: both dentries valid, old one positive.
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

/// Unlinks or removes the directory named by `dentry` in `dir`.
///
/// # Safety
///
/// VFS `unlink`/`rmdir` arguments: the dentry is positive, both inodes are
/// locked.
unsafe fn remove_common<T: FileSystem>(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    remove: fn(&Inode<T>, &[u8], &Inode<T>) -> Result,
) -> c_int {
    from_result(|| {
        // SAFETY: guaranteed by the caller.
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
/// VFS `unlink` arguments.
unsafe extern "C" fn unlink<T: FileSystem>(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
) -> c_int {
    // SAFETY: forwarded.
    unsafe { remove_common::<T>(dir, dentry, T::unlink) }
}

/// # Safety
///
/// VFS `rmdir` arguments.
unsafe extern "C" fn rmdir<T: FileSystem>(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
) -> c_int {
    // SAFETY: forwarded.
    unsafe { remove_common::<T>(dir, dentry, T::rmdir) }
}

/// # Safety
///
/// VFS `rename` arguments, all locks held as the VFS documents.
unsafe extern "C" fn rename<T: FileSystem>(
    _idmap: *mut bindings::mnt_idmap,
    old_dir: *mut bindings::inode,
    old_dentry: *mut bindings::dentry,
    new_dir: *mut bindings::inode,
    new_dentry: *mut bindings::dentry,
    flags: c_uint,
) -> c_int {
    from_result(|| {
        if flags & !bindings::RENAME_NOREPLACE != 0 {
            return Err(EINVAL);
        }
        // SAFETY: VFS guarantees; `new_dentry` may be negative.
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
                flags,
            )?;
        }
        Ok(0)
    })
}

/// # Safety
///
/// VFS `iterate_shared` arguments, the directory locked shared.
unsafe extern "C" fn iterate_shared<T: FileSystem>(
    file: *mut bindings::file,
    ctx: *mut bindings::dir_context,
) -> c_int {
    from_result(|| {
        // SAFETY: VFS guarantees.
        let dir = unsafe { file_inode::<T>(file) };
        if ctx.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: `ctx` is valid for the call.
        let mut pos = unsafe { (*ctx).pos };
        if pos == 0 || pos == 1 {
            // SAFETY: as above.
            if !unsafe { bindings::dir_emit_dots(file, ctx) } {
                return Ok(0);
            }
            pos = 2;
        }
        let mut emit = |name: &[u8], ino: u64, dtype: u8| {
            // SAFETY: `ctx` is valid; `name` outlives the call.
            unsafe {
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
        // SAFETY: as above.
        unsafe { (*ctx).pos = pos };
        ret?;
        Ok(0)
    })
}

// ---------------------------------------------------------------------------
// Attributes (both kinds of inode)

/// # Safety
///
/// VFS `setattr` arguments, the inode locked.
unsafe extern "C" fn setattr<T: FileSystem>(
    idmap: *mut bindings::mnt_idmap,
    dentry: *mut bindings::dentry,
    attr: *mut bindings::iattr,
) -> c_int {
    from_result(|| {
        // SAFETY: VFS guarantees.
        to_result(unsafe { bindings::setattr_prepare(idmap, dentry, attr) })?;
        // SAFETY: as above.
        let inode = unsafe { dentry_inode::<T>(dentry) };
        // SAFETY: `attr` is valid.
        let (valid, size) = unsafe { ((*attr).ia_valid, (*attr).ia_size) };
        if valid & bindings::ATTR_SIZE != 0 && size != inode.size() {
            if inode.kind() != InodeKind::Regular {
                return Err(EINVAL);
            }
            let _invalidate = inode.lock_invalidate();
            inode.dio_wait();
            T::setsize(inode, size)?;
        }
        // SAFETY: as above.
        unsafe { bindings::setattr_copy(idmap, inode.as_raw(), attr) };
        inode.mark_dirty();
        Ok(0)
    })
}

// ---------------------------------------------------------------------------
// Regular files

impl<T: FileSystem> FileOps<T> {
    const INODE: bindings::inode_operations = bindings::inode_operations {
        setattr: Some(setattr::<T>),
        // SAFETY: all-zeroes is a valid `inode_operations`.
        ..unsafe { core::mem::zeroed() }
    };

    const FILE: bindings::file_operations = bindings::file_operations {
        llseek: Some(llseek::<T>),
        read_iter: Some(read_iter::<T>),
        write_iter: Some(write_iter::<T>),
        iopoll: Some(bindings::iocb_bio_iopoll),
        mmap: Some(mmap::<T>),
        open: Some(open::<T>),
        fsync: Some(fsync::<T>),
        splice_read: Some(bindings::filemap_splice_read),
        splice_write: Some(bindings::iter_file_splice_write),
        fallocate: Some(fallocate::<T>),
        release: Some(release::<T>),
        // SAFETY: all-zeroes is a valid `file_operations`.
        ..unsafe { core::mem::zeroed() }
    };

    const AOPS: bindings::address_space_operations = bindings::address_space_operations {
        read_folio: Some(read_folio::<T>),
        readahead: Some(readahead::<T>),
        writepages: Some(aops_writepages::<T>),
        dirty_folio: Some(bindings::iomap_dirty_folio),
        release_folio: Some(bindings::iomap_release_folio),
        invalidate_folio: Some(bindings::iomap_invalidate_folio),
        is_partially_uptodate: Some(bindings::iomap_is_partially_uptodate),
        error_remove_folio: Some(bindings::generic_error_remove_folio),
        // SAFETY: all-zeroes is a valid `address_space_operations`.
        ..unsafe { core::mem::zeroed() }
    };

    const VM: bindings::vm_operations_struct = bindings::vm_operations_struct {
        fault: Some(bindings::filemap_fault),
        map_pages: Some(bindings::filemap_map_pages),
        page_mkwrite: Some(page_mkwrite::<T>),
        // SAFETY: all-zeroes is a valid `vm_operations_struct`.
        ..unsafe { core::mem::zeroed() }
    };
}

/// # Safety
///
/// VFS `open` arguments.
unsafe extern "C" fn open<T: FileSystem>(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: the file is being opened; we own its mode bits until then.
    unsafe { (*file).f_mode |= bindings::FMODE_CAN_ODIRECT };
    // SAFETY: VFS arguments.
    unsafe { bindings::generic_file_open(inode, file) }
}

/// # Safety
///
/// VFS `release` arguments: the last reference to `file` is being put.
unsafe extern "C" fn release<T: FileSystem>(
    inode: *mut bindings::inode,
    _file: *mut bindings::file,
) -> c_int {
    // SAFETY: the file holds a reference to its inode, a live inode of `T`.
    let inode = unsafe { Inode::<T>::from_raw(inode) };
    from_result(|| {
        T::release_file(inode)?;
        Ok(0)
    })
}

/// # Safety
///
/// VFS `llseek` arguments.
unsafe extern "C" fn llseek<T: FileSystem>(
    file: *mut bindings::file,
    offset: bindings::loff_t,
    whence: c_int,
) -> bindings::loff_t {
    // SAFETY: VFS guarantees.
    let inode = unsafe { file_inode::<T>(file) };
    let ops = &IomapOps::<T>::READ;
    let ret = match whence as u32 {
        bindings::SEEK_HOLE => {
            let _lock = inode.lock_shared();
            // SAFETY: live inode, static ops.
            unsafe { bindings::iomap_seek_hole(inode.as_raw(), offset, ops) }
        }
        bindings::SEEK_DATA => {
            let _lock = inode.lock_shared();
            // SAFETY: as above.
            unsafe { bindings::iomap_seek_data(inode.as_raw(), offset, ops) }
        }
        // SAFETY: VFS arguments.
        _ => return unsafe { bindings::generic_file_llseek(file, offset, whence) },
    };
    if ret < 0 {
        return ret;
    }
    // SAFETY: VFS arguments; sets `f_pos` like `generic_file_llseek` does.
    unsafe { bindings::vfs_setpos(file, ret, T::MAX_BYTES) }
}

/// Whether the I/O of `iocb` is `O_DIRECT`.
///
/// # Safety
///
/// `iocb` is a valid `kiocb`.
unsafe fn iocb_is_direct(iocb: *const bindings::kiocb) -> bool {
    // SAFETY: `iocb` is valid (function safety requirements).
    unsafe { (*iocb).ki_flags as u32 & bindings::IOCB_DIRECT != 0 }
}

/// # Safety
///
/// VFS `read_iter` arguments.
unsafe extern "C" fn read_iter<T: FileSystem>(
    iocb: *mut bindings::kiocb,
    to: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: VFS guarantees.
    let inode = unsafe { file_inode::<T>((*iocb).ki_filp) };
    // SAFETY: the VFS passes a valid `kiocb`.
    if unsafe { iocb_is_direct(iocb) } {
        let _lock = inode.lock_shared();
        // SAFETY: valid arguments; static ops; no private data.
        let ret = unsafe {
            bindings::iomap_dio_rw(
                iocb,
                to,
                &IomapOps::<T>::DIRECT,
                core::ptr::null(),
                0,
                core::ptr::null_mut(),
                0,
            )
        };
        // SAFETY: valid `iocb`.
        unsafe { bindings::file_accessed((*iocb).ki_filp) };
        return ret;
    }
    // SAFETY: valid arguments; reads go through `read_folio`/`readahead`.
    unsafe { bindings::generic_file_read_iter(iocb, to) }
}

/// # Safety
///
/// VFS `write_iter` arguments.
unsafe extern "C" fn write_iter<T: FileSystem>(
    iocb: *mut bindings::kiocb,
    from: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: VFS guarantees.
    let inode = unsafe { file_inode::<T>((*iocb).ki_filp) };
    let written = {
        let _lock = inode.lock();
        let ret = (|| -> Result<isize> {
            // SAFETY: valid arguments.
            let count = to_count(unsafe { bindings::generic_write_checks(iocb, from) })?;
            if count == 0 {
                return Ok(0);
            }
            // SAFETY: valid file.
            to_result(unsafe { bindings::file_modified((*iocb).ki_filp) })?;
            // SAFETY: valid `iocb`; the position is final after the checks.
            let pos = unsafe { (*iocb).ki_pos };
            // The checks clipped `count` to `s_maxbytes - pos`.
            let end = pos.checked_add(count as i64).ok_or(EFBIG)?;
            T::prepare_write(inode, pos, end)?;
            // SAFETY: the VFS passes a valid `kiocb`.
            if unsafe { iocb_is_direct(iocb) } {
                // SAFETY: valid arguments; static ops.
                let ret = unsafe {
                    bindings::iomap_dio_rw(
                        iocb,
                        from,
                        &IomapOps::<T>::DIRECT,
                        &IomapOps::<T>::DIO_WRITE,
                        0,
                        core::ptr::null_mut(),
                        0,
                    )
                };
                // A direct write that failed, or came up short, past EOF may
                // leave blocks it wrote (or allocated) beyond the size: once
                // every direct I/O is done, they go. A queued one cleans up
                // when the file is released.
                if ret != -(bindings::EIOCBQUEUED as isize) && end > inode.size() {
                    inode.dio_wait();
                    T::dio_write_failed(inode)?;
                }
                to_count(ret)
            } else {
                // SAFETY: valid arguments; static ops.
                to_count(unsafe {
                    bindings::iomap_file_buffered_write(
                        iocb,
                        from,
                        &IomapOps::<T>::BUFFERED_WRITE,
                        core::ptr::null_mut(),
                    )
                })
            }
        })();
        match ret {
            Ok(n) => n,
            Err(e) => return e.to_errno() as isize,
        }
    };
    if written > 0 {
        // SAFETY: valid `iocb`; handles O_SYNC/O_DSYNC outside the lock.
        return unsafe { bindings::generic_write_sync(iocb, written) };
    }
    written
}

/// # Safety
///
/// VFS `fsync` arguments.
unsafe extern "C" fn fsync<T: FileSystem>(
    file: *mut bindings::file,
    start: bindings::loff_t,
    end: bindings::loff_t,
    _datasync: c_int,
) -> c_int {
    from_result(|| {
        // SAFETY: VFS guarantees.
        to_result(unsafe { bindings::file_write_and_wait_range(file, start, end) })?;
        // SAFETY: as above.
        let inode = unsafe { file_inode::<T>(file) };
        T::sync_inode_metadata(inode)?;
        Ok(0)
    })
}

/// # Safety
///
/// VFS `fallocate` arguments.
unsafe extern "C" fn fallocate<T: FileSystem>(
    file: *mut bindings::file,
    mode: c_int,
    offset: bindings::loff_t,
    len: bindings::loff_t,
) -> kernel::ffi::c_long {
    from_result(|| {
        let punch = bindings::FALLOC_FL_PUNCH_HOLE | bindings::FALLOC_FL_KEEP_SIZE;
        // Without unwritten extents, preallocation and zero-range cannot
        // be done cleanly: refuse them (see the README).
        if mode as u32 != punch {
            return Err(errno(bindings::EOPNOTSUPP));
        }
        // SAFETY: VFS guarantees.
        let inode = unsafe { file_inode::<T>(file) };
        let _lock = inode.lock();
        let _invalidate = inode.lock_invalidate();
        inode.dio_wait();
        // SAFETY: valid file.
        to_result(unsafe { bindings::file_modified(file) })?;
        T::punch_hole(inode, offset, len)?;
        Ok(0)
    })
}

/// # Safety
///
/// VFS `mmap` arguments.
unsafe extern "C" fn mmap<T: FileSystem>(
    file: *mut bindings::file,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    // SAFETY: valid file.
    unsafe { bindings::file_accessed(file) };
    // SAFETY: the VMA is being set up; the table is static.
    unsafe { (*vma).vm_ops = &FileOps::<T>::VM };
    0
}

/// # Safety
///
/// `vm_operations_struct::page_mkwrite` arguments.
unsafe extern "C" fn page_mkwrite<T: FileSystem>(
    vmf: *mut bindings::vm_fault,
) -> bindings::vm_fault_t {
    // SAFETY: the fault holds the VMA and its file.
    let file = unsafe { (*(*vmf).__bindgen_anon_1.vma).vm_file };
    // SAFETY: as above.
    let inode = unsafe { file_inode::<T>(file) };
    let sb = inode.super_block().as_raw();
    // SAFETY: live superblock; freeze protection for the fault.
    unsafe { bindings::sb_start_pagefault(sb) };
    // SAFETY: valid file.
    unsafe { bindings::file_update_time(file) };
    let ret = {
        // Shared: serialises against truncate and punch, which take it
        // exclusively, so no folio is re-dirtied while they run.
        // SAFETY: live mapping.
        unsafe { bindings::filemap_invalidate_lock_shared(inode.mapping()) };
        // SAFETY: valid fault; static ops.
        let ret = unsafe { bindings::iomap_page_mkwrite(vmf, &IomapOps::<T>::MKWRITE) };
        // SAFETY: taken above.
        unsafe { bindings::filemap_invalidate_unlock_shared(inode.mapping()) };
        ret
    };
    // SAFETY: started above.
    unsafe { bindings::sb_end_pagefault(sb) };
    ret
}

/// # Safety
///
/// `read_folio` arguments.
unsafe extern "C" fn read_folio<T: FileSystem>(
    _file: *mut bindings::file,
    folio: *mut bindings::folio,
) -> c_int {
    // SAFETY: locked folio of a `T` file; static ops.
    unsafe { bindings::iomap_read_folio(folio, &IomapOps::<T>::READ) }
}

/// # Safety
///
/// `readahead` arguments.
unsafe extern "C" fn readahead<T: FileSystem>(rac: *mut bindings::readahead_control) {
    // SAFETY: valid control of a `T` file; static ops.
    unsafe { bindings::iomap_readahead(rac, &IomapOps::<T>::READ) }
}

/// # Safety
///
/// `writepages` arguments.
unsafe extern "C" fn aops_writepages<T: FileSystem>(
    mapping: *mut bindings::address_space,
    wbc: *mut bindings::writeback_control,
) -> c_int {
    // SAFETY: forwarded.
    unsafe { writepages::<T>(mapping, wbc) }
}

/// Zeroes `[pos, pos + len)` of a file through the page cache.
pub(crate) fn zero_range<T: FileSystem>(inode: &Inode<T>, pos: i64, len: i64) -> Result {
    let mut did_zero = false;
    // SAFETY: live inode; the caller holds the locks zeroing needs.
    to_result(unsafe {
        bindings::iomap_zero_range(
            inode.as_raw(),
            pos,
            len,
            &mut did_zero,
            &IomapOps::<T>::BUFFERED_WRITE,
        )
    })
}

/// Sets `i_size` and drops the page cache past it (`truncate_setsize`).
pub(crate) fn truncate_setsize<T: FileSystem>(inode: &Inode<T>, size: i64) {
    // SAFETY: live inode, inode lock held by the caller.
    unsafe { bindings::truncate_setsize(inode.as_raw(), size) };
}
