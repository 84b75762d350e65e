// SPDX-License-Identifier: GPL-2.0

//! Errors: the errno values the filesystem returns that `kernel::error::code`
//! does not declare, and conversions of C return values.

use kernel::bindings;
use kernel::error::{Error, Result};

/// Builds an error from a positive errno constant of `bindings`.
fn from_positive(e: u32) -> Error {
    Error::from_errno(-(e as i32))
}

/// `EUCLEAN`: the on-disk structures disagree ("structure needs cleaning").
pub(crate) fn euclean() -> Error {
    from_positive(bindings::EUCLEAN)
}

/// `ENOTEMPTY`.
pub(crate) fn enotempty() -> Error {
    from_positive(bindings::ENOTEMPTY)
}

/// `ENAMETOOLONG`.
pub(crate) fn enametoolong() -> Error {
    from_positive(bindings::ENAMETOOLONG)
}

/// `EOPNOTSUPP`.
pub(crate) fn eopnotsupp() -> Error {
    from_positive(bindings::EOPNOTSUPP)
}

/// `ENOPARAM`: a mount option the filesystem does not know.
pub(super) fn enoparam() -> Error {
    from_positive(bindings::ENOPARAM)
}

/// Whether `e` is `EIOCBQUEUED`: an asynchronous I/O was queued and
/// completes later.
pub(crate) fn is_eiocbqueued(e: &Error) -> bool {
    e.to_errno() == -(bindings::EIOCBQUEUED as i32)
}

/// `ENXIO`, as a negative `loff_t`.
pub(super) const NEG_ENXIO: i64 = -(bindings::ENXIO as i64);

/// Converts a kernel pointer that may hold an `ERR_PTR()` into a `Result`.
pub(crate) fn from_err_ptr<T>(ptr: *mut T) -> Result<*mut T> {
    // SAFETY: `IS_ERR` only compares the pointer's value.
    if unsafe { bindings::IS_ERR(ptr.cast()) } {
        // SAFETY: `PTR_ERR` only converts the value; that of an error pointer
        // is a negative errno in `int` range.
        let errno = unsafe { bindings::PTR_ERR(ptr.cast()) };
        return Err(Error::from_errno(errno as i32));
    }
    Ok(ptr)
}

/// Turns an errno-or-count (`ssize_t`) from C into a `Result`.
pub(crate) fn to_count(ret: isize) -> Result<isize> {
    if ret < 0 {
        Err(Error::from_errno(ret as i32))
    } else {
        Ok(ret)
    }
}

/// Turns an errno-or-offset (`loff_t`) from C into a `Result`.
pub(crate) fn to_offset(ret: i64) -> Result<i64> {
    if ret < 0 {
        Err(Error::from_errno(ret as i32))
    } else {
        Ok(ret)
    }
}
