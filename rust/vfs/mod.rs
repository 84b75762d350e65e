// SPDX-License-Identifier: GPL-2.0

//! The thin layer over `kernel::bindings`: every raw VFS, page cache, iomap
//! and debugfs call lives below this module, wrapped in small safe types. The
//! filesystem logic above it uses only these wrappers.

pub(crate) mod debugfs;
pub(crate) mod fs_type;

use kernel::bindings;
use kernel::error::{Error, Result};

/// Converts a kernel pointer that may hold an `ERR_PTR()` into a `Result`.
pub(crate) fn from_err_ptr<T>(ptr: *mut T) -> Result<*mut T> {
    // SAFETY: `IS_ERR` and `PTR_ERR` only look at the pointer's value.
    if unsafe { bindings::IS_ERR(ptr.cast()) } {
        // SAFETY: as above; `PTR_ERR` of an error pointer is a negative errno
        // in `int` range.
        let errno = unsafe { bindings::PTR_ERR(ptr.cast()) };
        return Err(Error::from_errno(errno as i32));
    }
    Ok(ptr)
}
