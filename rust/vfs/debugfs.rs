// SPDX-License-Identifier: GPL-2.0

//! debugfs directories and files.

use core::ffi::c_void;
use core::fmt;

use kernel::bindings;
use kernel::error::{code::EINVAL, code::ENOSPC, from_result, Result};
use kernel::ffi::c_char;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::types::Opaque;
use kernel::uaccess::UserSlice;

use super::error::from_err_ptr;

/// Formats the contents of a file at each read.
pub(crate) type ShowFn = fn(&mut Text) -> Result;
/// Takes what a user wrote (at most [`MAX_WRITE`] bytes); an error leaves
/// the state as it was and is returned to the writer.
pub(crate) type StoreFn = fn(&[u8]) -> Result;

/// The longest write a file accepts.
pub(crate) const MAX_WRITE: usize = 64;

/// A debugfs file: how to read it and, for knobs, how to write it.
pub(crate) struct FileSpec {
    pub(crate) show: ShowFn,
    pub(crate) store: Option<StoreFn>,
}

/// The text of a read-only file: small and on the stack, so reads never
/// allocate.
pub(crate) struct Text {
    buf: [u8; 512],
    len: usize,
}

impl Text {
    fn new() -> Self {
        Self {
            buf: [0; 512],
            len: 0,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// `file_operations` of every file, shared by all of them.
///
/// Static because debugfs keeps using the operations (and their owner, which
/// pins the module) for as long as a file is open, even after removal.
#[repr(transparent)]
struct FileOps(Opaque<bindings::file_operations>);

// SAFETY: written only by `Dir::new` at module init, before any file using it
// exists; read-only afterwards.
unsafe impl Sync for FileOps {}

impl FileOps {
    const fn new() -> Self {
        // SAFETY: all-zeroes is a valid `file_operations` (every callback
        // `None`).
        Self(Opaque::new(unsafe { core::mem::zeroed() }))
    }
}

static TEXT_FOPS: FileOps = FileOps::new();

/// A debugfs directory; removed, with everything in it, on drop.
///
/// # Invariants
///
/// `dentry` is a valid debugfs directory dentry owned by this object.
pub(crate) struct Dir {
    dentry: *mut bindings::dentry,
}

// SAFETY: the dentry is only passed to debugfs functions, which do their own
// locking.
unsafe impl Send for Dir {}
// SAFETY: `&self` methods only pass the dentry to debugfs functions, which
// do their own locking.
unsafe impl Sync for Dir {}

impl Dir {
    /// Creates the top-level directory `/sys/kernel/debug/<name>`.
    pub(crate) fn new(name: &CStr, module: &'static ThisModule) -> Result<Self> {
        let fops = TEXT_FOPS.0.get();
        // SAFETY: `fops` points to static storage that no file uses yet (the
        // module's only `Dir` is created at init, before any of its files).
        unsafe {
            (*fops).owner = module.as_ptr();
            (*fops).open = Some(bindings::simple_open);
            (*fops).read = Some(text_read);
            (*fops).write = Some(text_write);
            (*fops).llseek = Some(bindings::default_llseek);
        }
        // SAFETY: `name` is a valid NUL-terminated string; a null parent means
        // the debugfs root.
        let dentry = from_err_ptr(unsafe {
            bindings::debugfs_create_dir(name.as_char_ptr(), core::ptr::null_mut())
        })?;
        // INVARIANT: `debugfs_create_dir` succeeded.
        Ok(Self { dentry })
    }

    /// Creates a file: 0444 if it has no `store`, 0644 otherwise.
    pub(crate) fn file(&self, name: &CStr, spec: &'static FileSpec) -> Result {
        let mode = if spec.store.is_some() { 0o644 } else { 0o444 };
        // SAFETY: `self.dentry` is valid by the type invariant, `name` is
        // NUL-terminated, and `TEXT_FOPS` is static and initialised by
        // `Dir::new`. debugfs stores `spec`, which is static, as `i_private`;
        // the trampolines turn it back into a `&FileSpec`.
        from_err_ptr(unsafe {
            bindings::debugfs_create_file(
                name.as_char_ptr(),
                mode,
                self.dentry,
                (spec as *const FileSpec).cast_mut().cast::<c_void>(),
                TEXT_FOPS.0.get(),
            )
        })?;
        Ok(())
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: `self.dentry` is valid by the type invariant; removal waits
        // for readers that are inside a file operation.
        unsafe { bindings::debugfs_remove(self.dentry) };
    }
}

/// The spec a file was created with.
///
/// # Safety
///
/// `file` is an open file created by [`Dir::file`] and opened through
/// `TEXT_FOPS` (`simple_open`).
unsafe fn file_spec(file: *mut bindings::file) -> &'static FileSpec {
    // SAFETY: `simple_open` copied the inode's `i_private` into
    // `private_data`, and `Dir::file` stored a `&'static FileSpec` there.
    unsafe { &*(*file).private_data.cast::<FileSpec>() }
}

/// `file_operations::write`: the whole write goes to `store` at once.
///
/// # Safety
///
/// Called by the VFS with the arguments of `file_operations::write` for a
/// file created by [`Dir::file`].
unsafe extern "C" fn text_write(
    file: *mut bindings::file,
    buf: *const c_char,
    count: usize,
    _ppos: *mut bindings::loff_t,
) -> isize {
    from_result(|| {
        // SAFETY: the VFS passes an open file of ours (function safety
        // requirements).
        let store = unsafe { file_spec(file) }.store.ok_or(EINVAL)?;
        if count > MAX_WRITE {
            return Err(EINVAL);
        }
        let mut bytes = [0u8; MAX_WRITE];
        UserSlice::new(buf as usize, count)
            .reader()
            .read_slice(&mut bytes[..count])?;
        store(&bytes[..count])?;
        Ok(count as isize)
    })
}

/// `file_operations::read` of the text files.
///
/// # Safety
///
/// Called by the VFS with the arguments of `file_operations::read` for a file
/// created by [`Dir::file`].
unsafe extern "C" fn text_read(
    file: *mut bindings::file,
    buf: *mut c_char,
    count: usize,
    ppos: *mut bindings::loff_t,
) -> isize {
    from_result(|| {
        // SAFETY: the VFS passes an open file of ours (function safety
        // requirements).
        let spec = unsafe { file_spec(file) };
        let mut text = Text::new();
        (spec.show)(&mut text).map_err(|_| ENOSPC)?;
        let bytes = text.as_bytes();
        // SAFETY: `buf` is a user pointer with room for `count` bytes and
        // `ppos` is valid, both as the VFS passes them; `bytes` is a valid
        // kernel buffer of `bytes.len()` bytes.
        Ok(unsafe {
            bindings::simple_read_from_buffer(
                buf.cast(),
                count,
                ppos,
                bytes.as_ptr().cast(),
                bytes.len(),
            )
        })
    })
}
