// SPDX-License-Identifier: GPL-2.0

//! iomap: block mappings, [`IomapOperations`] and its `iomap_ops` tables
//! ([`IomapVTable`]), and the iomap calls of the I/O paths built on them.

use core::ffi::{c_int, c_uint};
use core::marker::PhantomData;

use kernel::bindings;
use kernel::error::{from_result, to_result, Result};
use kernel::prelude::*;

use super::buffer::BLOCK_SIZE;
use super::error::{to_count, to_offset};
use super::file::{IovIter, Kiocb, VmFault, VmFaultResult, Whence};
use super::filesystem::FileSystem;
use super::inode::Inode;

/// Which I/O path asks for a mapping; each has its own `iomap_ops`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum IoKind {
    /// Buffered reads, readahead and SEEK_HOLE/SEEK_DATA: report only.
    Read,
    /// Buffered writes, page faults and zeroing: reserve delalloc space.
    BufferedWrite,
    /// O_DIRECT reads and writes: allocate real blocks for writes.
    Direct,
}

impl IoKind {
    const fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Read,
            1 => Self::BufferedWrite,
            _ => Self::Direct,
        }
    }
}

/// The `flags` iomap passes to `iomap_begin` and `iomap_end` (`IOMAP_*`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct IomapFlags(u32);

impl IomapFlags {
    /// A write (buffered, direct or a page fault).
    pub(crate) const WRITE: Self = Self(bindings::IOMAP_WRITE);
    /// Zeroing (`iomap_zero_range()`).
    pub(crate) const ZERO: Self = Self(bindings::IOMAP_ZERO);
    /// Unsharing shared extents (`iomap_file_unshare()`).
    pub(crate) const UNSHARE: Self = Self(bindings::IOMAP_UNSHARE);

    /// Whether any flag of `other` is set.
    pub(crate) fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }
}

impl core::ops::BitOr for IomapFlags {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// What lies under a byte range of a file.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum MappingKind {
    Hole,
    Delalloc,
    /// On disk, starting at filesystem block `block`.
    Mapped {
        block: u64,
    },
    /// Allocated at `block` but not holding the file's data yet: reads
    /// return zeros, partial writes zero the rest of the block.
    Unwritten {
        block: u64,
    },
}

/// One mapping handed to iomap: `length` bytes from file offset `offset`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mapping {
    pub(crate) offset: i64,
    pub(crate) length: u64,
    pub(crate) kind: MappingKind,
    /// Space reserved or allocated by this call (`IOMAP_F_NEW`).
    pub(crate) new: bool,
    /// The filesystem's note of the block map this mapping was read from
    /// (`validity_cookie`), handed back to [`IomapOperations::iomap_valid`].
    pub(crate) cookie: u64,
}

impl Mapping {
    /// Writes the mapping into a `struct iomap`.
    ///
    /// `folio_ops` (null for none) goes with it: iomap calls its
    /// `iomap_valid` before writing each folio through the mapping.
    ///
    /// # Safety
    ///
    /// `iomap` is valid for writes and not accessed by anyone else during
    /// the call; `bdev` is the block device of the inode's superblock;
    /// `folio_ops` is null or a table that lives as long as the module.
    pub(super) unsafe fn fill(
        &self,
        iomap: *mut bindings::iomap,
        bdev: *mut bindings::block_device,
        folio_ops: *const bindings::iomap_folio_ops,
    ) {
        let (type_, addr) = match self.kind {
            MappingKind::Hole => (bindings::IOMAP_HOLE, u64::MAX),
            MappingKind::Delalloc => (bindings::IOMAP_DELALLOC, u64::MAX),
            MappingKind::Mapped { block } => (bindings::IOMAP_MAPPED, block * BLOCK_SIZE as u64),
            MappingKind::Unwritten { block } => {
                (bindings::IOMAP_UNWRITTEN, block * BLOCK_SIZE as u64)
            }
        };
        // SAFETY: `iomap` is valid for writes and ours for the call (function
        // safety requirements).
        unsafe {
            (*iomap).addr = addr;
            (*iomap).offset = self.offset;
            (*iomap).length = self.length;
            (*iomap).type_ = type_ as u16;
            (*iomap).flags = if self.new {
                bindings::IOMAP_F_NEW as u16
            } else {
                0
            };
            (*iomap).bdev = bdev;
            (*iomap).validity_cookie = self.cookie;
            (*iomap).folio_ops = folio_ops;
        }
    }

    /// Reads back a mapping [`Self::fill`] wrote.
    ///
    /// # Safety
    ///
    /// `iomap` is valid for reads and not written during the call.
    unsafe fn from_iomap(iomap: *const bindings::iomap) -> Self {
        // SAFETY: valid for reads and not written meanwhile (function safety
        // requirements), so a shared reference for the call is sound.
        let m = unsafe { &*iomap };
        let kind = match u32::from(m.type_) {
            bindings::IOMAP_DELALLOC => MappingKind::Delalloc,
            bindings::IOMAP_MAPPED => MappingKind::Mapped {
                block: m.addr / BLOCK_SIZE as u64,
            },
            bindings::IOMAP_UNWRITTEN => MappingKind::Unwritten {
                block: m.addr / BLOCK_SIZE as u64,
            },
            _ => MappingKind::Hole,
        };
        Self {
            offset: m.offset,
            length: m.length,
            kind,
            new: u32::from(m.flags) & bindings::IOMAP_F_NEW != 0,
            cookie: m.validity_cookie,
        }
    }
}

/// How a filesystem maps file ranges to blocks for iomap (`iomap_ops`,
/// `iomap_dio_ops`).
#[vtable]
pub(crate) trait IomapOperations: FileSystem {
    /// The mapping at `pos` for an I/O of `len` bytes of kind `kind`.
    fn iomap_begin(
        inode: &Inode<Self>,
        pos: i64,
        len: i64,
        flags: IomapFlags,
        kind: IoKind,
    ) -> Result<Mapping>;

    /// The I/O over `mapping` is done, `written` bytes of `len` from `pos`
    /// (buffered writes and direct I/O only).
    fn iomap_end(
        _inode: &Inode<Self>,
        _pos: i64,
        _len: i64,
        _written: isize,
        _flags: IomapFlags,
        _mapping: &Mapping,
        _kind: IoKind,
    ) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// A direct write of `size` bytes at `offset` completed; `failed` if
    /// with an error (which iomap returns to the caller whatever this does).
    fn dio_write_end_io(_inode: &Inode<Self>, _offset: i64, _size: isize, _failed: bool) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Whether a mapping of a buffered write, page fault or zeroing, made
    /// with `cookie`, still says what the block map says. iomap asks before
    /// each folio, with the folio locked; `false` makes it map again (XFS:
    /// `xfs_iomap_valid()`).
    fn iomap_valid(_inode: &Inode<Self>, _cookie: u64) -> bool {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// The block device of `inode`'s superblock.
pub(super) fn bdev_of<T: FileSystem>(inode: &Inode<T>) -> *mut bindings::block_device {
    inode.super_block().bdev()
}

/// The `iomap_ops` and `iomap_dio_ops` tables of `T`.
pub(crate) struct IomapVTable<T>(PhantomData<T>);

impl<T: IomapOperations> IomapVTable<T> {
    /// The `iomap_folio_ops` of mappings for writes through the page cache.
    const FOLIO_OPS: bindings::iomap_folio_ops = bindings::iomap_folio_ops {
        get_folio: None,
        put_folio: None,
        iomap_valid: if T::HAS_IOMAP_VALID {
            Some(Self::iomap_valid_callback)
        } else {
            None
        },
    };

    /// What mappings of I/O kind `K` carry as `folio_ops`.
    fn folio_ops<const K: u8>() -> *const bindings::iomap_folio_ops {
        if T::HAS_IOMAP_VALID && IoKind::from_u8(K) == IoKind::BufferedWrite {
            &Self::FOLIO_OPS
        } else {
            core::ptr::null()
        }
    }

    /// `inode_operations::fiemap` of regular files: the block map as
    /// iomap reports it (`iomap_fiemap()`: delalloc, unwritten and written
    /// extents), under the inode lock shared, as XFS takes it.
    ///
    /// # Safety
    ///
    /// Called by `ioctl_fiemap()` with a referenced inode of `T` and its
    /// `fiemap_extent_info`, valid for the call.
    pub(super) unsafe extern "C" fn fiemap_callback(
        inode: *mut bindings::inode,
        fieinfo: *mut bindings::fiemap_extent_info,
        start: u64,
        len: u64,
    ) -> c_int {
        // SAFETY: the VFS holds a reference to the inode for the call.
        let inode = unsafe { Inode::<T>::from_raw(inode) };
        let _lock = inode.lock_shared();
        // SAFETY: live inode, locked shared; `fieinfo` valid for the call
        // (function safety requirements); the ops table is static.
        unsafe { bindings::iomap_fiemap(inode.as_raw(), fieinfo, start, len, &Self::READ) }
    }

    /// `iomap_folio_ops::iomap_valid`.
    ///
    /// # Safety
    ///
    /// Called by iomap with a referenced inode of `T` and a mapping
    /// [`Self::iomap_begin_callback`] filled, read-only for the call.
    unsafe extern "C" fn iomap_valid_callback(
        inode: *mut bindings::inode,
        iomap: *const bindings::iomap,
    ) -> bool {
        // SAFETY: iomap's caller holds a reference to the inode for the
        // whole iteration.
        let inode = unsafe { Inode::<T>::from_raw(inode) };
        // SAFETY: a valid `struct iomap`, not written during the call
        // (function safety requirements).
        let cookie = unsafe { (*iomap).validity_cookie };
        T::iomap_valid(inode, cookie)
    }

    pub(super) const READ: bindings::iomap_ops = bindings::iomap_ops {
        iomap_begin: Some(Self::iomap_begin_callback::<0>),
        iomap_end: None,
    };
    pub(super) const BUFFERED_WRITE: bindings::iomap_ops = bindings::iomap_ops {
        iomap_begin: Some(Self::iomap_begin_callback::<1>),
        iomap_end: if T::HAS_IOMAP_END {
            Some(Self::iomap_end_callback::<1>)
        } else {
            None
        },
    };
    /// Page faults: like buffered writes, but a fault never ends short, and
    /// its caller holds the invalidate lock shared, so no `iomap_end`.
    pub(super) const MKWRITE: bindings::iomap_ops = bindings::iomap_ops {
        iomap_begin: Some(Self::iomap_begin_callback::<1>),
        iomap_end: None,
    };
    pub(super) const DIRECT: bindings::iomap_ops = bindings::iomap_ops {
        iomap_begin: Some(Self::iomap_begin_callback::<2>),
        iomap_end: if T::HAS_IOMAP_END {
            Some(Self::iomap_end_callback::<2>)
        } else {
            None
        },
    };
    pub(super) const DIO_WRITE: bindings::iomap_dio_ops = bindings::iomap_dio_ops {
        end_io: if T::HAS_DIO_WRITE_END_IO {
            Some(Self::dio_write_end_io_callback)
        } else {
            None
        },
        submit_io: None,
        bio_set: core::ptr::null_mut(),
    };

    /// `iomap_ops::iomap_begin` of I/O kind `K`.
    ///
    /// # Safety
    ///
    /// Called by iomap with a referenced inode of `T` and the iterator's
    /// `struct iomap`, which nobody else touches until this returns.
    unsafe extern "C" fn iomap_begin_callback<const K: u8>(
        inode: *mut bindings::inode,
        pos: bindings::loff_t,
        length: bindings::loff_t,
        flags: c_uint,
        iomap: *mut bindings::iomap,
        _srcmap: *mut bindings::iomap,
    ) -> c_int {
        from_result(|| {
            // SAFETY: iomap's caller holds a reference to the inode for the
            // whole iteration.
            let inode = unsafe { Inode::<T>::from_raw(inode) };
            let mapping =
                T::iomap_begin(inode, pos, length, IomapFlags(flags), IoKind::from_u8(K))?;
            // SAFETY: `iomap` is the iterator's, ours to write for the call;
            // `bdev_of` is the inode's device; the folio ops are static.
            unsafe { mapping.fill(iomap, bdev_of(inode), Self::folio_ops::<K>()) };
            Ok(0)
        })
    }

    /// `iomap_ops::iomap_end` of I/O kind `K`.
    ///
    /// # Safety
    ///
    /// As [`Self::iomap_begin_callback`], with the `struct iomap` it filled,
    /// read-only for the call.
    unsafe extern "C" fn iomap_end_callback<const K: u8>(
        inode: *mut bindings::inode,
        pos: bindings::loff_t,
        length: bindings::loff_t,
        written: isize,
        flags: c_uint,
        iomap: *mut bindings::iomap,
    ) -> c_int {
        from_result(|| {
            // SAFETY: as in `iomap_begin_callback`.
            let inode = unsafe { Inode::<T>::from_raw(inode) };
            // SAFETY: iomap passes back the `struct iomap` `iomap_begin`
            // filled, read-only for the call.
            let mapping = unsafe { Mapping::from_iomap(iomap) };
            T::iomap_end(
                inode,
                pos,
                length,
                written,
                IomapFlags(flags),
                &mapping,
                IoKind::from_u8(K),
            )?;
            Ok(0)
        })
    }

    /// `iomap_dio_ops::end_io` for direct writes.
    ///
    /// # Safety
    ///
    /// Called by iomap with the `kiocb` of a direct write to a file of `T`.
    unsafe extern "C" fn dio_write_end_io_callback(
        iocb: *mut bindings::kiocb,
        size: isize,
        error: c_int,
        _flags: c_uint,
    ) -> c_int {
        // SAFETY: the `kiocb` and its open file stay valid until the
        // completion returns.
        let iocb = unsafe { Kiocb::<T>::from_raw(iocb) };
        let ret = from_result(|| {
            T::dio_write_end_io(iocb.inode(), iocb.pos(), size, error != 0)?;
            Ok(0)
        });
        if error != 0 {
            error
        } else {
            ret
        }
    }
}

impl<T: IomapOperations> Inode<T> {
    /// Zeroes `[pos, pos + len)` of the file through the page cache
    /// (`iomap_zero_range()`). The caller holds the inode lock exclusively.
    pub(crate) fn zero_range(&self, pos: i64, len: i64) -> Result {
        self.assert_locked_write();
        let mut did_zero = false;
        // SAFETY: live inode (type invariant), locked as zeroing needs
        // (asserted above); the ops table is static.
        to_result(unsafe {
            bindings::iomap_zero_range(
                self.as_raw(),
                pos,
                len,
                &mut did_zero,
                &IomapVTable::<T>::BUFFERED_WRITE,
            )
        })
    }

    /// SEEK_DATA or SEEK_HOLE from `offset` through the block map
    /// (`iomap_seek_data()`, `iomap_seek_hole()`). The caller holds the
    /// inode lock, shared at least.
    pub(crate) fn seek_hole_data(&self, offset: i64, whence: Whence) -> Result<i64> {
        self.assert_locked();
        let ops = &IomapVTable::<T>::READ;
        let ret = if whence == Whence::SEEK_HOLE {
            // SAFETY: live inode (type invariant), locked as asserted
            // above; the ops table is static.
            unsafe { bindings::iomap_seek_hole(self.as_raw(), offset, ops) }
        } else {
            // SAFETY: live inode (type invariant), locked as asserted
            // above; the ops table is static.
            unsafe { bindings::iomap_seek_data(self.as_raw(), offset, ops) }
        };
        to_offset(ret)
    }
}

impl<T: IomapOperations> Kiocb<T> {
    /// An `O_DIRECT` read (`iomap_dio_rw()`).
    pub(crate) fn dio_read(&self, to: &IovIter) -> Result<isize> {
        self.inode().assert_locked();
        // SAFETY: valid `kiocb` and iterator (type invariants); the inode
        // lock is held (asserted above); static ops; no private data.
        to_count(unsafe {
            bindings::iomap_dio_rw(
                self.as_raw(),
                to.as_raw(),
                &IomapVTable::<T>::DIRECT,
                core::ptr::null(),
                0,
                core::ptr::null_mut(),
                0,
            )
        })
    }

    /// An `O_DIRECT` write (`iomap_dio_rw()`), completed by
    /// [`IomapOperations::dio_write_end_io`]; `Err(EIOCBQUEUED)` when queued.
    pub(crate) fn dio_write(&self, from: &IovIter) -> Result<isize> {
        self.inode().assert_locked_write();
        // SAFETY: valid `kiocb` and iterator (type invariants); the inode
        // lock is held (asserted above); static ops; no private data.
        to_count(unsafe {
            bindings::iomap_dio_rw(
                self.as_raw(),
                from.as_raw(),
                &IomapVTable::<T>::DIRECT,
                &IomapVTable::<T>::DIO_WRITE,
                0,
                core::ptr::null_mut(),
                0,
            )
        })
    }

    /// A buffered write through the page cache
    /// (`iomap_file_buffered_write()`).
    pub(crate) fn buffered_write(&self, from: &IovIter) -> Result<isize> {
        self.inode().assert_locked_write();
        // SAFETY: valid `kiocb` and iterator (type invariants); the inode
        // lock is held (asserted above); static ops; no private data.
        to_count(unsafe {
            bindings::iomap_file_buffered_write(
                self.as_raw(),
                from.as_raw(),
                &IomapVTable::<T>::BUFFERED_WRITE,
                core::ptr::null_mut(),
            )
        })
    }
}

impl<T: IomapOperations> VmFault<T> {
    /// Makes the faulting folio writable (`iomap_page_mkwrite()`). The
    /// caller holds the invalidate lock shared and freeze protection.
    pub(crate) fn iomap_page_mkwrite(&self) -> VmFaultResult {
        // SAFETY: valid fault (type invariant); static ops.
        VmFaultResult(unsafe {
            bindings::iomap_page_mkwrite(self.as_raw(), &IomapVTable::<T>::MKWRITE)
        })
    }
}
