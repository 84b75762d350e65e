// SPDX-License-Identifier: GPL-2.0

//! The superblock operations: [`SuperOperations`] and its
//! `super_operations` table, [`SuperVTable`].

use core::ffi::c_int;
use core::marker::PhantomData;

use kernel::bindings;
use kernel::error::{code::EIO, from_result, Result};
use kernel::prelude::*;
use kernel::types::{ARef, Opaque};

use super::buffer::BLOCK_SIZE;
use super::filesystem::FileSystem;
use super::inode::{Inode, InodeWithData};
use super::sb::{New, SuperBlock};

/// What a mounted filesystem does with its superblock and inodes
/// (`super_operations`), and how it mounts.
#[vtable]
pub(crate) trait SuperOperations: FileSystem {
    /// Reads and checks the on-disk superblock; the block size is set. The
    /// superblock has no data yet, so [`SuperBlock::data`] is not there.
    fn fill_super(
        sb: &SuperBlock<Self, New>,
        opts: &Self::Options,
    ) -> Result<Pin<KBox<Self::Data>>>;

    /// Loads the root directory, once `s_fs_info` is set.
    fn root_inode(sb: &SuperBlock<Self>) -> Result<ARef<Inode<Self>>>;

    fn statfs(sb: &SuperBlock<Self>) -> Result<StatFs>;

    /// Remount with `opts`, leaving the filesystem read-only if
    /// `read_only` (the flag the remount sets, or keeps): refuse what cannot
    /// change on a mounted filesystem.
    fn reconfigure(_sb: &SuperBlock<Self>, _opts: &Self::Options, _read_only: bool) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The filesystem's options for `/proc/mounts`, each as `,key=value`.
    fn show_options(_sb: &SuperBlock<Self>, _out: &mut SeqFile) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    fn sync_fs(_sb: &SuperBlock<Self>, _wait: bool) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Called from `kill_sb` after every inode is gone, before `Data` drops.
    fn put_super(_sb: &SuperBlock<Self>) {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    fn write_inode(_inode: &Inode<Self>, _sync: bool) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The last reference is gone and the page cache is empty.
    fn evict_inode(_inode: &Inode<Self>) {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// What statfs(2) reports, in blocks and inodes.
#[derive(Default)]
pub(crate) struct StatFs {
    pub(crate) blocks: u64,
    pub(crate) free_blocks: u64,
    pub(crate) files: u64,
    pub(crate) free_files: u64,
    pub(crate) name_len: u64,
}

/// A `seq_file` being filled, as `show_options` gets it.
#[repr(transparent)]
pub(crate) struct SeqFile(Opaque<bindings::seq_file>);

impl SeqFile {
    /// # Safety
    ///
    /// `ptr` is a `seq_file` the caller may write to for `'a`, and nobody
    /// else writes to meanwhile.
    unsafe fn from_raw<'a>(ptr: *mut bindings::seq_file) -> &'a mut Self {
        // SAFETY: `Self` is `repr(transparent)` over `seq_file`; the caller
        // guarantees exclusive write access for `'a`.
        unsafe { &mut *ptr.cast() }
    }

    /// Appends `bytes`; a full buffer makes the VFS retry with a larger one.
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        // SAFETY: by the `from_raw` contract we may write to the file;
        // `seq_write` reads `bytes.len()` bytes from a valid slice.
        unsafe { bindings::seq_write(self.0.get(), bytes.as_ptr().cast(), bytes.len()) };
    }
}

/// The `super_operations` of `T`.
pub(crate) struct SuperVTable<T>(PhantomData<T>);

impl<T: SuperOperations> SuperVTable<T> {
    const TABLE: bindings::super_operations = bindings::super_operations {
        alloc_inode: Some(Self::alloc_inode_callback),
        free_inode: Some(Self::free_inode_callback),
        write_inode: if T::HAS_WRITE_INODE {
            Some(Self::write_inode_callback)
        } else {
            None
        },
        evict_inode: Some(Self::evict_inode_callback),
        statfs: Some(Self::statfs_callback),
        sync_fs: if T::HAS_SYNC_FS {
            Some(Self::sync_fs_callback)
        } else {
            None
        },
        show_options: if T::HAS_SHOW_OPTIONS {
            Some(Self::show_options_callback)
        } else {
            None
        },
        // SAFETY: all-zeroes is a valid `super_operations` (every other
        // callback `None`).
        ..unsafe { core::mem::zeroed() }
    };

    /// The table, for `s_op`.
    pub(crate) const fn build() -> &'static bindings::super_operations {
        &Self::TABLE
    }

    /// # Safety
    ///
    /// Called by the VFS (`alloc_inode()`) for a superblock of `T`.
    unsafe extern "C" fn alloc_inode_callback(
        _sb: *mut bindings::super_block,
    ) -> *mut bindings::inode {
        InodeWithData::<T>::alloc().unwrap_or(core::ptr::null_mut())
    }

    /// # Safety
    ///
    /// Called by the VFS, after an RCU grace period, for an inode that
    /// `alloc_inode_callback` allocated and nobody uses any more.
    unsafe extern "C" fn free_inode_callback(inode: *mut bindings::inode) {
        // SAFETY: the inode came from `InodeWithData::<T>::alloc` (our
        // `alloc_inode`) and the VFS is done with it.
        unsafe { InodeWithData::<T>::free(inode) };
    }

    /// # Safety
    ///
    /// Called by writeback with a referenced inode of `T` and its control.
    unsafe extern "C" fn write_inode_callback(
        inode: *mut bindings::inode,
        wbc: *mut bindings::writeback_control,
    ) -> c_int {
        from_result(|| {
            // SAFETY: writeback holds a reference to the inode for the call.
            let inode = unsafe { Inode::<T>::from_raw(inode) };
            // SAFETY: `wbc` is valid for the call.
            let sync = unsafe { (*wbc).sync_mode } == bindings::writeback_sync_modes_WB_SYNC_ALL;
            T::write_inode(inode, sync)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS once, when the last reference to an inode of `T`
    /// is gone; the inode stays allocated until `free_inode`.
    unsafe extern "C" fn evict_inode_callback(raw: *mut bindings::inode) {
        // SAFETY: the inode is allocated until `free_inode`; its page cache
        // goes first so the filesystem sees no dirty folio.
        unsafe { bindings::truncate_inode_pages_final(&mut (*raw).i_data) };
        if T::HAS_EVICT_INODE {
            // SAFETY: the inode stays allocated until `free_inode` and is a
            // `T` inode (only our superblocks use this table).
            T::evict_inode(unsafe { Inode::from_raw(raw) });
        }
        // SAFETY: still allocated (above); `clear_inode` is the last step
        // of eviction, once.
        unsafe { bindings::clear_inode(raw) };
    }

    /// # Safety
    ///
    /// Called by `vfs_statfs()` with a dentry of a mounted `T` and a zeroed
    /// `kstatfs` it owns.
    unsafe extern "C" fn statfs_callback(
        dentry: *mut bindings::dentry,
        buf: *mut bindings::kstatfs,
    ) -> c_int {
        from_result(|| {
            // SAFETY: the dentry pins its superblock, mounted, so filled.
            let sb = unsafe { SuperBlock::<T>::from_raw((*dentry).d_sb) };
            let st = T::statfs(sb)?;
            if buf.is_null() {
                return Err(EIO);
            }
            // SAFETY: `buf` is non-null, so the caller's valid `kstatfs`,
            // which nobody else touches during the call.
            unsafe {
                (*buf).f_type = T::MAGIC as _;
                (*buf).f_bsize = BLOCK_SIZE as _;
                (*buf).f_frsize = BLOCK_SIZE as _;
                (*buf).f_blocks = st.blocks;
                (*buf).f_bfree = st.free_blocks;
                (*buf).f_bavail = st.free_blocks;
                (*buf).f_files = st.files;
                (*buf).f_ffree = st.free_files;
                (*buf).f_namelen = st.name_len as _;
            }
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS with a `seq_file` to fill and the root dentry of a
    /// mounted `T`.
    unsafe extern "C" fn show_options_callback(
        m: *mut bindings::seq_file,
        root: *mut bindings::dentry,
    ) -> c_int {
        from_result(|| {
            // SAFETY: a mounted root's `d_sb` is a live, filled superblock of
            // `T`, pinned by the mount being shown.
            let sb = unsafe { SuperBlock::<T>::from_raw((*root).d_sb) };
            // SAFETY: the VFS hands us the `seq_file` to write for this call.
            T::show_options(sb, unsafe { SeqFile::from_raw(m) })?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS for a mounted superblock of `T` (`s_umount` held).
    unsafe extern "C" fn sync_fs_callback(sb: *mut bindings::super_block, wait: c_int) -> c_int {
        from_result(|| {
            // SAFETY: mounted, so live and filled while `s_umount` is held.
            T::sync_fs(unsafe { SuperBlock::from_raw(sb) }, wait != 0)?;
            Ok(0)
        })
    }
}
