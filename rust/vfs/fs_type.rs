// SPDX-License-Identifier: GPL-2.0

//! Filesystem type registration.

use core::marker::PhantomData;

use kernel::bindings;
use kernel::error::{to_result, Result};
use kernel::prelude::*;
use kernel::types::Opaque;

use super::sb::{init_fs_context, kill_sb};
use super::FileSystem;

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
pub(crate) struct Registration<T: FileSystem> {
    fs: &'static FileSystemType,
    _t: PhantomData<T>,
}

impl<T: FileSystem> Registration<T> {
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
            (*raw).init_fs_context = Some(init_fs_context::<T>);
            (*raw).kill_sb = Some(kill_sb::<T>);
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

impl<T: FileSystem> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant `self.fs` is registered. Superblocks
        // of the type pin the module, so none is left when the module drops
        // its registration.
        unsafe { bindings::unregister_filesystem(self.fs.0.get()) };
    }
}
