// SPDX-License-Identifier: GPL-2.0

//! iomap: block mappings, the `iomap_ops` tables and writeback.

use core::marker::PhantomData;

use kernel::bindings;
use kernel::error::{from_result, Error, Result};

use super::buffer::BLOCK_SIZE;
use super::inode::Inode;
use super::FileSystem;

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
}

impl Mapping {
    /// Writes the mapping into a `struct iomap`.
    ///
    /// # Safety
    ///
    /// `iomap` is valid for writes and not accessed by anyone else during
    /// the call; `bdev` is the block device of the inode's superblock.
    unsafe fn fill(&self, iomap: *mut bindings::iomap, bdev: *mut bindings::block_device) {
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
        }
    }
}

fn bdev_of<T: FileSystem>(inode: &Inode<T>) -> *mut bindings::block_device {
    // SAFETY: a live inode's superblock is a mounted block superblock.
    unsafe { (*inode.super_block().as_raw()).s_bdev }
}

/// `iomap_ops::iomap_begin` of I/O kind `K`.
///
/// # Safety
///
/// Called by iomap with a live inode of `T` and a valid `struct iomap`.
unsafe extern "C" fn iomap_begin<T: FileSystem, const K: u8>(
    inode: *mut bindings::inode,
    pos: bindings::loff_t,
    length: bindings::loff_t,
    flags: core::ffi::c_uint,
    iomap: *mut bindings::iomap,
    _srcmap: *mut bindings::iomap,
) -> core::ffi::c_int {
    from_result(|| {
        // SAFETY: iomap holds a reference to the inode during the call.
        let inode = unsafe { Inode::<T>::from_raw(inode) };
        let mapping = T::iomap_begin(inode, pos, length, flags, IoKind::from_u8(K))?;
        // SAFETY: iomap passes its iterator's `struct iomap`, which nobody
        // else touches until `iomap_begin` returns; `bdev_of` is the
        // inode's device.
        unsafe { mapping.fill(iomap, bdev_of(inode)) };
        Ok(0)
    })
}

/// `iomap_ops::iomap_end` of I/O kind `K`.
///
/// # Safety
///
/// As [`iomap_begin`], with the `struct iomap` it filled.
unsafe extern "C" fn iomap_end<T: FileSystem, const K: u8>(
    inode: *mut bindings::inode,
    pos: bindings::loff_t,
    length: bindings::loff_t,
    written: isize,
    flags: core::ffi::c_uint,
    iomap: *mut bindings::iomap,
) -> core::ffi::c_int {
    from_result(|| {
        // SAFETY: as in `iomap_begin`.
        let inode = unsafe { Inode::<T>::from_raw(inode) };
        // SAFETY: iomap passes back the `struct iomap` `iomap_begin` filled,
        // read-only for the call.
        let mapping = unsafe { Mapping::from_iomap(iomap) };
        T::iomap_end(
            inode,
            pos,
            length,
            written,
            flags,
            &mapping,
            IoKind::from_u8(K),
        )?;
        Ok(0)
    })
}

/// The `iomap_ops` tables of `T`.
pub(crate) struct IomapOps<T>(PhantomData<T>);

impl<T: FileSystem> IomapOps<T> {
    pub(crate) const READ: bindings::iomap_ops = bindings::iomap_ops {
        iomap_begin: Some(iomap_begin::<T, 0>),
        iomap_end: None,
    };
    pub(crate) const BUFFERED_WRITE: bindings::iomap_ops = bindings::iomap_ops {
        iomap_begin: Some(iomap_begin::<T, 1>),
        iomap_end: Some(iomap_end::<T, 1>),
    };
    /// Page faults: like buffered writes, but a fault never ends short, and
    /// its caller holds the invalidate lock shared, so no `iomap_end`.
    pub(crate) const MKWRITE: bindings::iomap_ops = bindings::iomap_ops {
        iomap_begin: Some(iomap_begin::<T, 1>),
        iomap_end: None,
    };
    pub(crate) const DIRECT: bindings::iomap_ops = bindings::iomap_ops {
        iomap_begin: Some(iomap_begin::<T, 2>),
        iomap_end: Some(iomap_end::<T, 2>),
    };
    pub(crate) const WRITEBACK: bindings::iomap_writeback_ops = bindings::iomap_writeback_ops {
        map_blocks: Some(map_blocks::<T>),
        prepare_ioend: None,
        discard_folio: None,
    };
    pub(crate) const DIO_WRITE: bindings::iomap_dio_ops = bindings::iomap_dio_ops {
        end_io: Some(dio_write_end_io::<T>),
        submit_io: None,
        bio_set: core::ptr::null_mut(),
    };
}

/// `iomap_writeback_ops::map_blocks`: map (allocating delalloc space) the
/// blocks under the dirty range `[offset, offset + len)`. No caching of the
/// previous mapping: a truncate or punch may have changed it since.
///
/// # Safety
///
/// Called by `iomap_writepages` with a valid context and live inode of `T`.
unsafe extern "C" fn map_blocks<T: FileSystem>(
    wpc: *mut bindings::iomap_writepage_ctx,
    inode: *mut bindings::inode,
    offset: bindings::loff_t,
    len: core::ffi::c_uint,
) -> core::ffi::c_int {
    from_result(|| {
        // SAFETY: writeback holds the inode alive.
        let inode = unsafe { Inode::<T>::from_raw(inode) };
        let mapping = T::map_blocks(inode, offset, len)?;
        // SAFETY: `iomap_writepages` passes its valid context, whose `iomap`
        // is ours to fill until `map_blocks` returns.
        let iomap = unsafe { core::ptr::addr_of_mut!((*wpc).iomap) };
        // SAFETY: `iomap` is valid for writes (above); all-zeroes is a valid
        // `struct iomap` (null pointers, no flags).
        unsafe { iomap.write(core::mem::zeroed()) };
        // SAFETY: as above; `bdev_of` is the inode's device.
        unsafe { mapping.fill(iomap, bdev_of(inode)) };
        Ok(0)
    })
}

/// `iomap_dio_ops::end_io` for direct writes.
///
/// # Safety
///
/// Called by iomap with the `kiocb` of a direct write to a file of `T`.
unsafe extern "C" fn dio_write_end_io<T: FileSystem>(
    iocb: *mut bindings::kiocb,
    size: isize,
    error: core::ffi::c_int,
    _flags: core::ffi::c_uint,
) -> core::ffi::c_int {
    // SAFETY: the `kiocb` and its file are valid until completion.
    let (inode, offset) = unsafe {
        (
            Inode::<T>::from_raw((*(*iocb).ki_filp).f_inode),
            (*iocb).ki_pos,
        )
    };
    let ret = from_result(|| {
        T::dio_write_done(inode, offset, size, error != 0)?;
        Ok(0)
    });
    if error != 0 {
        error
    } else {
        ret
    }
}

/// Runs `iomap_writepages` for a mapping of `T`.
///
/// # Safety
///
/// `mapping` and `wbc` come from `address_space_operations::writepages`.
pub(super) unsafe fn writepages<T: FileSystem>(
    mapping: *mut bindings::address_space,
    wbc: *mut bindings::writeback_control,
) -> core::ffi::c_int {
    // SAFETY: all-zeroes is the documented initial state of the context.
    let mut wpc: bindings::iomap_writepage_ctx = unsafe { core::mem::zeroed() };
    // SAFETY: valid arguments from the caller; `wpc` outlives the call.
    unsafe { bindings::iomap_writepages(mapping, wbc, &mut wpc, &IomapOps::<T>::WRITEBACK) }
}

/// Turns an errno-or-count from iomap into a `Result`.
pub(super) fn to_count(ret: isize) -> Result<isize> {
    if ret < 0 {
        Err(Error::from_errno(ret as i32))
    } else {
        Ok(ret)
    }
}
