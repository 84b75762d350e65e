// SPDX-License-Identifier: GPL-2.0

//! Superblocks: mounting through `fs_context`, the superblock wrapper and
//! the inode cache.

use core::marker::PhantomData;
use core::ptr::NonNull;

use kernel::bindings;
use kernel::error::{code::EINVAL, code::EIO, to_result, Result};
use kernel::prelude::*;
use kernel::types::{ARef, Opaque};

use super::buffer::{Buffer, BLOCK_SIZE};
use super::inode::{Inode, NewInode};
use super::{from_err_ptr, FileSystem};

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
    /// `ptr` is a `seq_file` the caller may write to for `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::seq_file) -> &'a mut Self {
        // SAFETY: `repr(transparent)`; validity from the caller.
        unsafe { &mut *ptr.cast() }
    }

    /// Appends `bytes`; a full buffer makes the VFS retry with a larger one.
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        // SAFETY: by the `from_raw` contract we may write to the file;
        // `seq_write` reads `bytes.len()` bytes from a valid slice.
        unsafe { bindings::seq_write(self.0.get(), bytes.as_ptr().cast(), bytes.len()) };
    }
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
/// The superblock is live and belongs to `T`. If `S` is [`DataInited`], its
/// `s_fs_info` is a `KBox<T::Data>` (made by `fill_super_callback`) that
/// lives until `kill_sb`.
#[repr(transparent)]
pub(crate) struct SuperBlock<T: FileSystem, S: SbState = DataInited>(
    Opaque<bindings::super_block>,
    PhantomData<(T, S)>,
);

impl<T: FileSystem, S: SbState> SuperBlock<T, S> {
    /// # Safety
    ///
    /// `ptr` is a live superblock of `T` for `'a`; if `S` is [`DataInited`],
    /// its `s_fs_info` was set by `fill_super_callback`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::super_block) -> &'a Self {
        // SAFETY: `Self` is `repr(transparent)` over `super_block`; the
        // caller guarantees the pointee is live for `'a`.
        unsafe { &*ptr.cast() }
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::super_block {
        self.0.get()
    }

    /// Size of the block device in filesystem blocks.
    pub(crate) fn device_blocks(&self) -> u64 {
        // SAFETY: a mounted block superblock has a valid `s_bdev`.
        let bytes = unsafe { bindings::bdev_nr_bytes((*self.as_raw()).s_bdev) };
        bytes as u64 / BLOCK_SIZE as u64
    }

    pub(crate) fn id(&self) -> &CStr {
        // SAFETY: `s_id` is a NUL-terminated string set by `sget`.
        unsafe { CStr::from_char_ptr((*self.as_raw()).s_id.as_ptr()) }
    }

    /// Reads one block through the buffer cache.
    pub(crate) fn read_block(&self, block: u64) -> Result<Buffer> {
        // SAFETY: the superblock is live (type invariant) and its block size
        // is `BLOCK_SIZE` (set before any `SuperBlock` is made); `sb_bread`
        // returns null on I/O error or a referenced up-to-date buffer.
        unsafe { Buffer::from_raw(bindings::sb_bread(self.as_raw(), block)) }
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

    /// Writes every dirty metadata buffer and waits.
    pub(crate) fn sync_metadata(&self) -> Result {
        // SAFETY: live superblock with a valid `s_bdev`.
        to_result(unsafe { bindings::sync_blockdev((*self.as_raw()).s_bdev) })
    }

    /// Flushes the device's volatile write cache.
    pub(crate) fn flush_device(&self) -> Result {
        // SAFETY: as above.
        to_result(unsafe { bindings::blkdev_issue_flush((*self.as_raw()).s_bdev) })
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

    /// The cached inode `ino`, or a new `I_NEW` one the caller must fill in.
    pub(crate) fn iget(&self, ino: u64) -> Result<Result<ARef<Inode<T>>, NewInode<T>>> {
        // SAFETY: live superblock.
        let raw = unsafe { bindings::iget_locked(self.as_raw(), ino as _) };
        let raw = NonNull::new(raw).ok_or(ENOMEM)?;
        // SAFETY: `iget_locked` returned a referenced inode of this
        // superblock, allocated by our `alloc_inode`.
        let inode = unsafe { ARef::from_raw(raw.cast::<Inode<T>>()) };
        // SAFETY: reading `i_state` of a referenced inode; `I_NEW` only
        // clears through `unlock_new_inode`, which only we call.
        if unsafe { (*raw.as_ptr()).i_state } & bindings::I_NEW != 0 {
            Ok(Err(NewInode::new(inode, true)))
        } else {
            Ok(Ok(inode))
        }
    }

    /// A brand-new inode numbered `ino`, hashed so `iget` finds it.
    pub(crate) fn new_inode(&self, ino: u64) -> Result<NewInode<T>> {
        // SAFETY: live superblock.
        let raw = NonNull::new(unsafe { bindings::new_inode(self.as_raw()) }).ok_or(ENOMEM)?;
        // SAFETY: `new_inode` returned a referenced inode from our
        // `alloc_inode`; it is not visible to anyone else yet.
        unsafe {
            (*raw.as_ptr()).i_ino = ino as _;
            bindings::insert_inode_hash(raw.as_ptr());
        }
        // SAFETY: as above, we own the reference.
        let inode = unsafe { ARef::from_raw(raw.cast::<Inode<T>>()) };
        Ok(NewInode::new(inode, false))
    }
}

/// The options of the mount being set up, in `fs_context::fs_private`.
///
/// # Safety
///
/// `fc` is a live `fs_context` of `T` that [`init_fs_context`] set up.
unsafe fn options<'a, T: FileSystem>(fc: *mut bindings::fs_context) -> &'a mut T::Options {
    // SAFETY: `init_fs_context` stored a `KBox<T::Options>` there, freed only
    // by `free_fs_context`; the VFS serialises calls on one context.
    unsafe { &mut *(*fc).fs_private.cast::<T::Options>() }
}

/// `fs_context_operations::get_tree`.
///
/// # Safety
///
/// Called by the VFS with a valid `fs_context` of `T`.
unsafe extern "C" fn get_tree<T: FileSystem>(fc: *mut bindings::fs_context) -> core::ffi::c_int {
    // SAFETY: valid context; `fill_super` is a valid callback.
    unsafe { bindings::get_tree_bdev(fc, Some(fill_super::<T>)) }
}

/// `fs_context_operations::parse_param`: one `key` or `key=value`. A key
/// the filesystem does not know goes back to the VFS (`-ENOPARAM`), which
/// takes `source` and refuses the rest.
///
/// # Safety
///
/// Called by the VFS with a valid `fs_context` of `T` and a parameter.
unsafe extern "C" fn parse_param<T: FileSystem>(
    fc: *mut bindings::fs_context,
    param: *mut bindings::fs_parameter,
) -> core::ffi::c_int {
    kernel::error::from_result(|| {
        // SAFETY: the VFS passes a parameter whose `key` is a NUL-terminated
        // string; its type says which member of the union is set.
        let (key, kind, string) = unsafe {
            (
                CStr::from_char_ptr((*param).key),
                (*param).type_(),
                (*param).__bindgen_anon_1.string,
            )
        };
        let value = match kind {
            bindings::fs_value_type_fs_value_is_flag => None,
            bindings::fs_value_type_fs_value_is_string if !string.is_null() => {
                // SAFETY: a string parameter's `string` is a NUL-terminated
                // string that lives as long as the parameter.
                let value = unsafe { CStr::from_char_ptr(string) };
                Some(value.as_bytes())
            }
            _ => return Err(super::errno(bindings::ENOPARAM)),
        };
        // SAFETY: `parse_param` runs on a context `init_fs_context` set up.
        let opts = unsafe { options::<T>(fc) };
        if T::parse_option(opts, key.as_bytes(), value)? {
            Ok(0)
        } else {
            Err(super::errno(bindings::ENOPARAM))
        }
    })
}

/// `fs_context_operations::reconfigure` (remount): the options given must
/// be ones the mounted filesystem can take now.
///
/// # Safety
///
/// Called by the VFS with a valid reconfiguration context of `T`, whose
/// `root` is a mounted `T`.
unsafe extern "C" fn reconfigure<T: FileSystem>(fc: *mut bindings::fs_context) -> core::ffi::c_int {
    kernel::error::from_result(|| {
        // SAFETY: a reconfiguration context holds the mounted root dentry,
        // whose superblock is live and filled while the context lives.
        let sb = unsafe { SuperBlock::<T>::from_raw((*(*fc).root).d_sb) };
        // SAFETY: as in `parse_param`.
        T::reconfigure(sb, unsafe { options::<T>(fc) })?;
        Ok(0)
    })
}

/// `fs_context_operations::free`.
///
/// # Safety
///
/// Called by the VFS once, with a context `init_fs_context` set up (or
/// one whose `fs_private` it left null when that failed).
unsafe extern "C" fn free_fs_context<T: FileSystem>(fc: *mut bindings::fs_context) {
    // SAFETY: valid context.
    let opts = unsafe { (*fc).fs_private };
    if !opts.is_null() {
        // SAFETY: `init_fs_context` made it with `KBox::into_raw`; nothing
        // uses it after `free`.
        drop(unsafe { KBox::from_raw(opts.cast::<T::Options>()) });
    }
}

/// The `fs_context` operations of `T`: options, block device source.
pub(super) struct ContextOps<T>(PhantomData<T>);

impl<T: FileSystem> ContextOps<T> {
    pub(super) const OPS: bindings::fs_context_operations = bindings::fs_context_operations {
        free: Some(free_fs_context::<T>),
        dup: None,
        parse_param: Some(parse_param::<T>),
        parse_monolithic: None,
        get_tree: Some(get_tree::<T>),
        reconfigure: Some(reconfigure::<T>),
    };
}

/// The `fill_super` callback of `get_tree_bdev`.
///
/// # Safety
///
/// Called by `get_tree_bdev` with a new superblock of `T`, `s_umount` held.
unsafe extern "C" fn fill_super<T: FileSystem>(
    sb_ptr: *mut bindings::super_block,
    fc: *mut bindings::fs_context,
) -> core::ffi::c_int {
    kernel::error::from_result(|| {
        // SAFETY: a valid new superblock; nobody else uses it yet.
        unsafe {
            (*sb_ptr).s_magic = T::MAGIC as _;
            (*sb_ptr).s_op = &super::ops::SuperOps::<T>::OPS;
            (*sb_ptr).s_maxbytes = T::MAX_BYTES;
            (*sb_ptr).s_max_links = T::MAX_LINKS;
            (*sb_ptr).s_time_gran = 1;
            (*sb_ptr).s_flags |= bindings::SB_NOSEC;
            if bindings::sb_set_blocksize(sb_ptr, BLOCK_SIZE as i32) != BLOCK_SIZE as i32 {
                pr_err!("device cannot do {BLOCK_SIZE}-byte blocks\n");
                return Err(EINVAL);
            }
        }
        // SAFETY: the superblock is live for the duration of the call; state
        // `New` claims nothing about `s_fs_info`.
        let new_sb = unsafe { SuperBlock::<T, New>::from_raw(sb_ptr) };
        // SAFETY: `get_tree_bdev` passes the context `init_fs_context` set up.
        let data = T::fill_super(new_sb, unsafe { options::<T>(fc) })?;
        // SAFETY: the data is never moved out of its box (`kill_sb` rebuilds
        // the box from the pointer), so unpinning it here is sound.
        let data = KBox::into_raw(unsafe { Pin::into_inner_unchecked(data) });
        // SAFETY: nobody else uses the new superblock yet (`s_umount` held,
        // not yet published). INVARIANT: `s_fs_info` now holds a
        // `KBox<T::Data>`; `kill_sb` frees it even if the rest fails.
        unsafe { (*sb_ptr).s_fs_info = data.cast() };
        // SAFETY: live superblock whose `s_fs_info` was set just above.
        let sb = unsafe { SuperBlock::<T>::from_raw(sb_ptr) };
        let root = T::root_inode(sb)?;
        // SAFETY: `d_make_root` consumes the inode reference, even on error.
        let dentry = unsafe { bindings::d_make_root(ARef::into_raw(root).cast().as_ptr()) };
        if dentry.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: as above.
        unsafe { (*sb_ptr).s_root = from_err_ptr(dentry)? };
        Ok(0)
    })
}

/// `file_system_type::init_fs_context`.
///
/// # Safety
///
/// Called by the VFS with a new `fs_context` for `T`.
pub(super) unsafe extern "C" fn init_fs_context<T: FileSystem>(
    fc: *mut bindings::fs_context,
) -> core::ffi::c_int {
    let opts = match KBox::new(T::Options::default(), GFP_KERNEL) {
        Ok(opts) => opts,
        Err(_) => return ENOMEM.to_errno(),
    };
    // SAFETY: valid new context; the operations are a static table, whose
    // `free` takes the box back.
    unsafe {
        (*fc).fs_private = KBox::into_raw(opts).cast();
        (*fc).ops = &ContextOps::<T>::OPS;
    }
    0
}

/// `file_system_type::kill_sb`.
///
/// # Safety
///
/// Called by the VFS once for each superblock of `T`.
pub(super) unsafe extern "C" fn kill_sb<T: FileSystem>(sb_ptr: *mut bindings::super_block) {
    // SAFETY: valid superblock; evicts every inode and releases the device.
    unsafe { bindings::kill_block_super(sb_ptr) };
    // SAFETY: reading the field of a superblock that is still allocated.
    let data = unsafe { (*sb_ptr).s_fs_info };
    if !data.is_null() {
        // SAFETY: as above; all inodes are gone.
        T::put_super(unsafe { SuperBlock::from_raw(sb_ptr) });
        // SAFETY: set by `fill_super` from `KBox::into_raw`; nothing uses it
        // any more.
        drop(unsafe { KBox::from_raw(data.cast::<T::Data>()) });
    }
}

/// Fills `kstatfs` for `super_operations::statfs`.
///
/// # Safety
///
/// `buf` is null or valid for writes, and not accessed by others meanwhile.
pub(super) unsafe fn fill_statfs<T: FileSystem>(
    sb: &SuperBlock<T>,
    buf: *mut bindings::kstatfs,
) -> Result {
    let st = T::statfs(sb)?;
    if buf.is_null() {
        return Err(EIO);
    }
    // SAFETY: non-null, so valid for writes (function safety requirements).
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
    Ok(())
}
