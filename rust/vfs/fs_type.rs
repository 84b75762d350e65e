// SPDX-License-Identifier: GPL-2.0

//! Filesystem type registration and mounting: `file_system_type`, the
//! `fs_context` operations, `fill_super` and `kill_sb`; and the choice of
//! operation tables for each new inode.

use core::ffi::{c_int, c_uint};
use core::marker::PhantomData;

use kernel::bindings;
use kernel::error::{code::EINVAL, from_result, to_result, Result};
use kernel::prelude::*;
use kernel::types::{ARef, Opaque};

use super::aops::{AddressSpaceOperations, AopsVTable};
use super::attr::{InodeVTable, RegularInodeVTable};
use super::buffer::BLOCK_SIZE;
use super::dir::{DirOperations, DirVTable};
use super::error::{enoparam, from_err_ptr};
use super::file_ops::FileVTable;
use super::inode::{Inode, InodeKind, NewInode, Owner};
use super::sb::{New, SuperBlock};
use super::super_ops::{SuperOperations, SuperVTable};

/// Every operation table a mountable filesystem fills.
pub(crate) trait Ops: SuperOperations + DirOperations + AddressSpaceOperations {}

impl<T: SuperOperations + DirOperations + AddressSpaceOperations> Ops for T {}

/// Storage for a `struct file_system_type`.
///
/// It must live in a `static`: lockdep uses the lock class keys embedded in it
/// for every superblock and inode of the type, and lockdep only accepts keys in
/// static storage.
#[repr(transparent)]
pub(crate) struct FileSystemType(Opaque<bindings::file_system_type>);

// SAFETY: the fields are written once, by `Registration::new` before the type
// is published with `register_filesystem()`; after that only the VFS touches
// it, under its own locks.
unsafe impl Sync for FileSystemType {}

impl FileSystemType {
    pub(crate) const fn new() -> Self {
        // SAFETY: all-zeroes is a valid `file_system_type`: null pointers,
        // `None` callbacks and zeroed lock class keys.
        Self(Opaque::new(unsafe { core::mem::zeroed() }))
    }
}

/// A registered filesystem type; unregistered on drop.
///
/// # Invariants
///
/// `fs` is registered with the VFS for the lifetime of this object.
pub(crate) struct Registration<T: Ops> {
    fs: &'static FileSystemType,
    _t: PhantomData<T>,
}

impl<T: Ops> Registration<T> {
    /// Registers `fs` as the block-device filesystem `T`.
    pub(crate) fn new(fs: &'static FileSystemType, module: &'static ThisModule) -> Result<Self> {
        let raw = fs.0.get();
        // SAFETY: `raw` points to valid static storage that is not registered
        // yet (the module registers each type once, at init), so nothing else
        // reads it concurrently.
        unsafe {
            (*raw).name = T::NAME.as_char_ptr();
            (*raw).owner = module.as_ptr();
            (*raw).fs_flags = bindings::FS_REQUIRES_DEV as i32;
            (*raw).init_fs_context = Some(ContextVTable::<T>::init_fs_context_callback);
            (*raw).kill_sb = Some(ContextVTable::<T>::kill_sb_callback);
        }
        // SAFETY: `raw` is fully initialised above and outlives the
        // registration because it is static.
        to_result(unsafe { bindings::register_filesystem(raw) })?;
        // INVARIANT: registration succeeded.
        Ok(Self {
            fs,
            _t: PhantomData,
        })
    }
}

impl<T: Ops> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant `self.fs` is registered. Superblocks
        // of the type pin the module, so none is left when the module drops
        // its registration.
        unsafe { bindings::unregister_filesystem(self.fs.0.get()) };
        super::aops::flush_ioends();
    }
}

/// The `fs_context` operations of `T` and the superblock's life around them.
struct ContextVTable<T>(PhantomData<T>);

impl<T: Ops> ContextVTable<T> {
    const TABLE: bindings::fs_context_operations = bindings::fs_context_operations {
        free: Some(Self::free_callback),
        dup: None,
        parse_param: Some(Self::parse_param_callback),
        parse_monolithic: None,
        get_tree: Some(Self::get_tree_callback),
        reconfigure: if T::HAS_RECONFIGURE {
            Some(Self::reconfigure_callback)
        } else {
            None
        },
    };

    /// The options of the mount being set up, in `fs_context::fs_private`.
    ///
    /// # Safety
    ///
    /// `fc` is a live `fs_context` that `init_fs_context_callback` set up,
    /// used by nobody else for `'a` (the VFS serialises calls on one
    /// context).
    unsafe fn options<'a>(fc: *mut bindings::fs_context) -> &'a mut T::Options {
        // SAFETY: `init_fs_context_callback` stored a `KBox<T::Options>`
        // there, freed only by `free_callback`; exclusive for `'a` (function
        // safety requirements).
        unsafe { &mut *(*fc).fs_private.cast::<T::Options>() }
    }

    /// `file_system_type::init_fs_context`.
    ///
    /// # Safety
    ///
    /// Called by the VFS with a new `fs_context` for `T`.
    unsafe extern "C" fn init_fs_context_callback(fc: *mut bindings::fs_context) -> c_int {
        let opts = match KBox::new(T::Options::default(), GFP_KERNEL) {
            Ok(opts) => opts,
            Err(_) => return ENOMEM.to_errno(),
        };
        // SAFETY: a new context nobody else uses yet; the operations are a
        // static table, whose `free` takes the box back.
        unsafe {
            (*fc).fs_private = KBox::into_raw(opts).cast();
            (*fc).ops = &Self::TABLE;
        }
        0
    }

    /// `fs_context_operations::free`.
    ///
    /// # Safety
    ///
    /// Called by the VFS once, with a context `init_fs_context_callback` set
    /// up (or one whose `fs_private` it left null when that failed).
    unsafe extern "C" fn free_callback(fc: *mut bindings::fs_context) {
        // SAFETY: the context is valid until this returns.
        let opts = unsafe { (*fc).fs_private };
        if !opts.is_null() {
            // SAFETY: `init_fs_context_callback` made it with
            // `KBox::into_raw`; nothing uses it after `free`.
            drop(unsafe { KBox::from_raw(opts.cast::<T::Options>()) });
        }
    }

    /// `fs_context_operations::parse_param`: one `key` or `key=value`. A key
    /// the filesystem does not know goes back to the VFS (`-ENOPARAM`),
    /// which takes `source` and refuses the rest.
    ///
    /// # Safety
    ///
    /// Called by the VFS with a context of `T` and a parameter.
    unsafe extern "C" fn parse_param_callback(
        fc: *mut bindings::fs_context,
        param: *mut bindings::fs_parameter,
    ) -> c_int {
        from_result(|| {
            // SAFETY: the VFS passes a parameter whose `key` is a
            // NUL-terminated string; its type says which member of the union
            // is set.
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
                    // SAFETY: a string parameter's `string` is a
                    // NUL-terminated string that lives as long as the
                    // parameter.
                    let value = unsafe { CStr::from_char_ptr(string) };
                    Some(value.as_bytes())
                }
                _ => return Err(enoparam()),
            };
            // SAFETY: a context `init_fs_context_callback` set up, ours for
            // the call.
            let opts = unsafe { Self::options(fc) };
            if T::parse_option(opts, key.as_bytes(), value)? {
                Ok(0)
            } else {
                Err(enoparam())
            }
        })
    }

    /// `fs_context_operations::reconfigure` (remount).
    ///
    /// # Safety
    ///
    /// Called by the VFS with a reconfiguration context of `T`, whose `root`
    /// is a mounted `T`.
    unsafe extern "C" fn reconfigure_callback(fc: *mut bindings::fs_context) -> c_int {
        from_result(|| {
            // SAFETY: a reconfiguration context holds the mounted root dentry,
            // whose superblock is live and filled while the context lives.
            let sb = unsafe { SuperBlock::<T>::from_raw((*(*fc).root).d_sb) };
            // SAFETY: `fc` is the live context of this call; its flag fields
            // are integers the VFS set before calling.
            let (flags, mask) = unsafe { ((*fc).sb_flags, (*fc).sb_flags_mask) };
            // Read-only after the remount: the flag if the remount sets it
            // (`ro` / `rw`), else as mounted (what `reconfigure_super` does).
            // `sb_flags` is an `unsigned int`; SB_RDONLY is bit 0.
            const SB_RDONLY: c_uint = bindings::SB_RDONLY as c_uint;
            let read_only = if mask & SB_RDONLY != 0 {
                flags & SB_RDONLY != 0
            } else {
                sb.read_only()
            };
            // SAFETY: a context `init_fs_context_callback` set up, ours for
            // the call.
            T::reconfigure(sb, unsafe { Self::options(fc) }, read_only)?;
            Ok(0)
        })
    }

    /// `fs_context_operations::get_tree`.
    ///
    /// # Safety
    ///
    /// Called by the VFS with a context of `T`.
    unsafe extern "C" fn get_tree_callback(fc: *mut bindings::fs_context) -> c_int {
        // SAFETY: a valid context; `fill_super_callback` has the signature
        // `get_tree_bdev` calls.
        unsafe { bindings::get_tree_bdev(fc, Some(Self::fill_super_callback)) }
    }

    /// The `fill_super` callback of `get_tree_bdev`.
    ///
    /// # Safety
    ///
    /// Called by `get_tree_bdev` with a new superblock of `T` (`s_umount`
    /// held, not yet visible to others) and the context.
    unsafe extern "C" fn fill_super_callback(
        sb_ptr: *mut bindings::super_block,
        fc: *mut bindings::fs_context,
    ) -> c_int {
        from_result(|| {
            // SAFETY: a new superblock only this task uses yet.
            unsafe {
                (*sb_ptr).s_magic = T::MAGIC as _;
                (*sb_ptr).s_op = SuperVTable::<T>::build();
                (*sb_ptr).s_maxbytes = T::MAX_BYTES;
                (*sb_ptr).s_max_links = T::MAX_LINKS;
                (*sb_ptr).s_time_gran = 1;
                (*sb_ptr).s_flags |= bindings::SB_NOSEC;
            }
            // SAFETY: the new superblock only this task uses; `get_tree_bdev`
            // opened `s_bdev`, which `sb_set_blocksize` needs.
            if unsafe { bindings::sb_set_blocksize(sb_ptr, BLOCK_SIZE as i32) } != BLOCK_SIZE as i32
            {
                pr_err!("device cannot do {BLOCK_SIZE}-byte blocks\n");
                return Err(EINVAL);
            }
            // SAFETY: the superblock is live for the call with block size
            // `BLOCK_SIZE` (set above); state `New` claims nothing about
            // `s_fs_info`.
            let new_sb = unsafe { SuperBlock::<T, New>::from_raw(sb_ptr) };
            // SAFETY: `get_tree_bdev` passes the context
            // `init_fs_context_callback` set up.
            let data = T::fill_super(new_sb, unsafe { Self::options(fc) })?;
            // SAFETY: the data is never moved out of its box (`kill_sb`
            // rebuilds the box from the pointer), so unpinning it is sound.
            let data = KBox::into_raw(unsafe { Pin::into_inner_unchecked(data) });
            // SAFETY: nobody else uses the new superblock yet. INVARIANT:
            // `s_fs_info` now holds a `KBox<T::Data>`; `kill_sb_callback`
            // frees it even if the rest fails.
            unsafe { (*sb_ptr).s_fs_info = data.cast() };
            // SAFETY: live, block size set, `s_fs_info` set just above.
            let sb = unsafe { SuperBlock::<T>::from_raw(sb_ptr) };
            let root = T::root_inode(sb)?;
            // SAFETY: `d_make_root` consumes the inode reference, even on
            // error.
            let dentry = unsafe { bindings::d_make_root(ARef::into_raw(root).cast().as_ptr()) };
            if dentry.is_null() {
                return Err(ENOMEM);
            }
            // SAFETY: nobody else uses the new superblock yet.
            unsafe { (*sb_ptr).s_root = from_err_ptr(dentry)? };
            Ok(0)
        })
    }

    /// `file_system_type::kill_sb`.
    ///
    /// # Safety
    ///
    /// Called by the VFS once for each superblock of `T`, when nothing uses
    /// it any more.
    unsafe extern "C" fn kill_sb_callback(sb_ptr: *mut bindings::super_block) {
        // SAFETY: a superblock of `T` being torn down; evicts every inode
        // and releases the device, but leaves the superblock allocated.
        unsafe { bindings::kill_block_super(sb_ptr) };
        // Writeback is over (above), but a completion that ended it may still
        // be finishing its ioend.
        super::aops::flush_ioends();
        // SAFETY: still allocated (above).
        let data = unsafe { (*sb_ptr).s_fs_info };
        if !data.is_null() {
            if T::HAS_PUT_SUPER {
                // SAFETY: allocated with `s_fs_info` set by
                // `fill_super_callback` (non-null); all inodes are gone.
                T::put_super(unsafe { SuperBlock::from_raw(sb_ptr) });
            }
            // SAFETY: set by `fill_super_callback` from `KBox::into_raw`;
            // nothing uses it any more.
            drop(unsafe { KBox::from_raw(data.cast::<T::Data>()) });
        }
    }
}

impl<T: Ops> NewInode<T> {
    /// Installs the operation tables that match the inode's type.
    fn set_ops(&self) {
        let raw = self.inode().as_raw();
        // SAFETY: nobody else can see a `NewInode` yet, so its operation
        // pointers are ours to set; the tables are static.
        unsafe {
            match self.inode().kind() {
                InodeKind::Directory => {
                    let (iops, fops) = DirVTable::<T>::build();
                    (*raw).i_op = iops;
                    (*raw).__bindgen_anon_3.i_fop = fops;
                }
                InodeKind::Regular => {
                    (*raw).i_op = RegularInodeVTable::<T>::build();
                    (*raw).__bindgen_anon_3.i_fop = FileVTable::<T>::build();
                    (*(*raw).i_mapping).a_ops = AopsVTable::<T>::build();
                }
                InodeKind::Other => {
                    (*raw).i_op = InodeVTable::<T>::build();
                }
            }
        }
    }

    /// Sets the type, permissions, owner and operations of the inode.
    pub(crate) fn init(&self, mode: u16, uid: u32, gid: u32) {
        self.set_mode_owner(mode, uid, gid);
        self.set_ops();
    }

    /// Sets owner and mode like a new file in `dir` created through `owner`'s
    /// mount (setgid directories pass their group on), and the operations.
    pub(crate) fn init_owned(&self, owner: &Owner, dir: &Inode<T>, mode: u16) {
        self.init_owner(owner, dir, mode);
        self.set_ops();
    }
}
