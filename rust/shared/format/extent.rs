// SPDX-License-Identifier: GPL-2.0

//! Extents: the 16-byte records that map file blocks to disk blocks, in the
//! inode (the first eight) and in extent chain blocks ([`super::chain`]).
//!
//! A file maps file blocks to disk blocks with extents of 16 bytes:
//!
//! | offset | type | field | value |
//! |-------:|------|-------|-------|
//! | 0 | u32 | logical | first file block |
//! | 4 | u32 | len | bits 0..31: number of blocks, `1..=MAX_EXTENT_LEN`; bit 31: [`EXTENT_UNWRITTEN`] |
//! | 8 | u64 | physical | first disk block |
//!
//! A file's extents are sorted by `logical`, do not overlap, end at or below
//! file block 2^32, and their disk blocks lie inside
//! `[data_start, total_blocks)`. Unmapped file blocks are holes and read as
//! zeros.
//!
//! An **unwritten** extent (bit 31 of `len` set, as XFS keeps the extent
//! state in its bmbt records; the superblock says so with
//! [`super::INCOMPAT_UNWRITTEN`]) maps blocks that are allocated to the file
//! but hold no file data yet: they read as zeros, whatever the disk blocks
//! hold, and a write converts them (clears the flag) once its data is on
//! disk. Their blocks are in use like any extent's. Only regular files have
//! unwritten extents; a directory's blocks always hold its entries.
//!
//! The first eight extents are inline in the inode; the others are in a
//! chain of extent blocks.

use super::bytes::{get_u32, get_u64, put};
use super::{Geometry, Inode, RecordError, BLOCK_SIZE, DIR_INDEX_BASE, DIR_INDEX_BLOCKS};

/// Size of an on-disk extent.
pub const EXTENT_SIZE: usize = 16;
/// Extents stored in the inode itself.
pub const INLINE_EXTENTS: usize = 8;
/// Largest file, in blocks: logical block numbers are `u32`.
pub const MAX_FILE_BLOCKS: u64 = 1 << 32;
/// Bit 31 of the on-disk `len`: the extent is unwritten.
pub const EXTENT_UNWRITTEN: u32 = 1 << 31;
/// Longest extent, in blocks: `len` without its flag bit.
pub const MAX_EXTENT_LEN: u32 = (1 << 31) - 1;
/// Largest file size, in bytes (16 TiB): what `MAX_FILE_BLOCKS` blocks hold.
/// The kernel tells the VFS (`s_maxbytes`); a larger stored size is corrupt.
pub const MAX_FILE_SIZE: u64 = MAX_FILE_BLOCKS * BLOCK_SIZE as u64;

/// A run of file blocks mapped to disk blocks, as stored.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Extent {
    /// First file block.
    pub logical: u32,
    /// Number of blocks, `1..=MAX_EXTENT_LEN`.
    pub len: u32,
    /// First disk block.
    pub physical: u64,
    /// Allocated, no data yet: reads as zeros ([`EXTENT_UNWRITTEN`]).
    pub unwritten: bool,
}

impl Extent {
    /// Decodes and checks one extent slot: the flag split off `len`,
    /// `len > 0`, ends at or below file block 2^32 and below disk block
    /// 2^64. Placement on the device is for [`ExtentChecker`].
    pub fn decode(raw: &[u8; EXTENT_SIZE]) -> Result<Self, RecordError> {
        let stored = get_u32(raw, 4);
        let e = Self {
            logical: get_u32(raw, 0),
            len: stored & MAX_EXTENT_LEN,
            physical: get_u64(raw, 8),
            unwritten: stored & EXTENT_UNWRITTEN != 0,
        };
        if e.len == 0 {
            return Err(RecordError::ZeroLengthExtent);
        }
        if e.logical_end() > MAX_FILE_BLOCKS || e.physical.checked_add(e.len.into()).is_none() {
            return Err(RecordError::ExtentTooLarge);
        }
        Ok(e)
    }

    /// Encodes the extent into a slot. A `len` above [`MAX_EXTENT_LEN`]
    /// cannot be stored: its bit 31 is dropped, and the decoder refuses
    /// what is left if it is 0 (decoders check what encoders write).
    pub fn encode(&self, raw: &mut [u8; EXTENT_SIZE]) {
        let flag = if self.unwritten { EXTENT_UNWRITTEN } else { 0 };
        put(raw, 0, self.logical.to_le_bytes());
        put(raw, 4, ((self.len & MAX_EXTENT_LEN) | flag).to_le_bytes());
        put(raw, 8, self.physical.to_le_bytes());
    }

    /// One past the last file block.
    pub fn logical_end(&self) -> u64 {
        // Two u32 values: the sum fits a u64.
        u64::from(self.logical).saturating_add(u64::from(self.len))
    }

    /// One past the last disk block (saturating; decoded extents never
    /// saturate).
    pub fn physical_end(&self) -> u64 {
        self.physical.saturating_add(self.len.into())
    }

    /// Cuts the mapping of file blocks `[logical, logical + len)` to disk
    /// blocks from `physical` into on-disk extents of at most
    /// [`MAX_EXTENT_LEN`] blocks, each `unwritten` or not. In-memory
    /// mappings may be longer than one extent can say.
    pub fn split(
        logical: u64,
        len: u64,
        physical: u64,
        unwritten: bool,
    ) -> Result<ExtentSplit, RecordError> {
        if len == 0 {
            return Err(RecordError::ZeroLengthExtent);
        }
        let fits = logical
            .checked_add(len)
            .is_some_and(|end| end <= MAX_FILE_BLOCKS)
            && physical.checked_add(len).is_some();
        if !fits {
            return Err(RecordError::ExtentTooLarge);
        }
        Ok(ExtentSplit {
            logical,
            len,
            physical,
            unwritten,
        })
    }
}

/// The on-disk extents of one mapping, from [`Extent::split`].
#[derive(Clone, Debug)]
pub struct ExtentSplit {
    logical: u64,
    len: u64,
    physical: u64,
    unwritten: bool,
}

impl Iterator for ExtentSplit {
    type Item = Extent;

    fn next(&mut self) -> Option<Extent> {
        if self.len == 0 {
            return None;
        }
        let n = self.len.min(u64::from(MAX_EXTENT_LEN));
        // `split` checked logical + len <= 2^32, so logical < 2^32 here.
        let e = Extent {
            logical: self.logical as u32,
            len: n as u32,
            physical: self.physical,
            unwritten: self.unwritten,
        };
        // `split` checked that the whole mapping fits.
        self.logical = self.logical.saturating_add(n);
        self.physical = self.physical.saturating_add(n);
        self.len = self.len.saturating_sub(n);
        Some(e)
    }
}

/// Checks a file's extents one by one, in stored order (inline, then
/// chain): sorted, not overlapping, inside the data area. The kernel uses it
/// when loading an inode, fsck when checking one.
#[derive(Clone, Debug)]
pub struct ExtentChecker {
    data_start: u64,
    total_blocks: u64,
    next_logical: u64,
    count: u64,
    unwritten_blocks: u64,
    dir: bool,
    dir_index: bool,
    entry_end: u64,
}

impl ExtentChecker {
    /// A checker for a regular file of the filesystem `geo`; see
    /// [`ExtentChecker::for_inode`] for any inode.
    pub fn new(geo: &Geometry) -> Self {
        Self {
            data_start: geo.data_start,
            total_blocks: geo.total_blocks,
            next_logical: 0,
            count: 0,
            unwritten_blocks: 0,
            dir: false,
            dir_index: false,
            entry_end: 0,
        }
    }

    /// A checker for the extents of `inode`: a directory's extents must not
    /// be unwritten.
    pub fn for_inode(geo: &Geometry, inode: &Inode) -> Self {
        Self {
            dir: inode.is_dir(),
            ..Self::new(geo)
        }
    }

    /// Allows, for a directory of a filesystem with
    /// [`super::INCOMPAT_DIR_INDEX`], extents inside the index's logical
    /// blocks ([`super::dir_index`]) past its size.
    pub fn with_dir_index(mut self, on: bool) -> Self {
        self.dir_index = on;
        self
    }

    /// Checks the next extent of the file.
    pub fn check(&mut self, e: &Extent) -> Result<(), RecordError> {
        if u64::from(e.logical) < self.next_logical {
            return Err(RecordError::ExtentsOverlap);
        }
        if e.len == 0 {
            return Err(RecordError::ZeroLengthExtent);
        }
        if e.len > MAX_EXTENT_LEN {
            return Err(RecordError::ExtentTooLarge);
        }
        if e.unwritten && self.dir {
            return Err(RecordError::UnwrittenInDirectory);
        }
        if e.physical < self.data_start
            || e.physical
                .checked_add(e.len.into())
                .map_or(true, |end| end > self.total_blocks)
        {
            return Err(RecordError::ExtentOutsideData);
        }
        if self.dir && self.dir_index && e.logical_end() > DIR_INDEX_BASE {
            // Index blocks: wholly inside the index's span.
            if u64::from(e.logical) < DIR_INDEX_BASE
                || e.logical_end() > DIR_INDEX_BASE.saturating_add(DIR_INDEX_BLOCKS)
            {
                return Err(RecordError::ExtentPastSize);
            }
        } else {
            self.entry_end = e.logical_end();
        }
        self.next_logical = e.logical_end();
        self.count = self.count.saturating_add(1);
        if e.unwritten {
            self.unwritten_blocks = self.unwritten_blocks.saturating_add(e.len.into());
        }
        Ok(())
    }

    /// Once every extent of `inode` is checked: a directory's blocks all
    /// lie below its size (its entries are found by size, and a block past
    /// it would be mapped twice when the directory grows). A regular file
    /// may have blocks past its size (a direct write that failed, an unclean
    /// shutdown); the kernel drops them before the file grows over them.
    /// With [`ExtentChecker::with_dir_index`], a directory's index blocks
    /// are not counted.
    pub fn check_end(&self, inode: &Inode) -> Result<(), RecordError> {
        if inode.is_dir() && self.entry_end > inode.size.div_euclid(BLOCK_SIZE as u64) {
            return Err(RecordError::ExtentPastSize);
        }
        Ok(())
    }

    /// Extents checked so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Blocks of the unwritten extents checked so far.
    pub fn unwritten_blocks(&self) -> u64 {
        self.unwritten_blocks
    }

    /// One past the last file block mapped so far.
    pub fn logical_end(&self) -> u64 {
        self.next_logical
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ext(logical: u32, len: u32, physical: u64) -> Extent {
        Extent {
            logical,
            len,
            physical,
            unwritten: false,
        }
    }

    fn unwritten(logical: u32, len: u32, physical: u64) -> Extent {
        Extent {
            unwritten: true,
            ..ext(logical, len, physical)
        }
    }

    fn raw(logical: u32, stored_len: u32, physical: u64) -> [u8; EXTENT_SIZE] {
        let mut r = [0u8; EXTENT_SIZE];
        put(&mut r, 0, logical.to_le_bytes());
        put(&mut r, 4, stored_len.to_le_bytes());
        put(&mut r, 8, physical.to_le_bytes());
        r
    }

    fn geo() -> Geometry {
        Geometry::new(1000, 64).unwrap()
    }

    #[test]
    fn extents() {
        let mut raw = [0u8; EXTENT_SIZE];
        let e = ext(u32::MAX, 1, 5);
        e.encode(&mut raw);
        assert_eq!(Extent::decode(&raw), Ok(e));
        let e = ext(0, MAX_EXTENT_LEN, 5);
        e.encode(&mut raw);
        assert_eq!(Extent::decode(&raw), Ok(e));
        ext(u32::MAX, 2, 5).encode(&mut raw);
        assert_eq!(Extent::decode(&raw), Err(RecordError::ExtentTooLarge));
        ext(0, 2, u64::MAX).encode(&mut raw);
        assert_eq!(Extent::decode(&raw), Err(RecordError::ExtentTooLarge));

        let g = geo();
        let mut c = ExtentChecker::new(&g);
        assert!(c.check(&ext(0, 4, 6)).is_ok());
        assert_eq!(c.check(&ext(3, 1, 100)), Err(RecordError::ExtentsOverlap));
        assert!(c.check(&ext(4, 1, 999)).is_ok());
        assert_eq!(
            c.check(&ext(9, 2, 999)),
            Err(RecordError::ExtentOutsideData)
        );
        assert_eq!(c.check(&ext(9, 2, 5)), Err(RecordError::ExtentOutsideData));
        assert_eq!(c.count(), 2);
        assert_eq!(c.logical_end(), 5);
    }

    /// The flag in bit 31 of `len`: roundtrip, and the lengths at its edge.
    #[test]
    fn unwritten_flag() {
        let mut r = [0u8; EXTENT_SIZE];
        for e in [
            unwritten(7, 3, 100),
            unwritten(0, MAX_EXTENT_LEN, 100),
            unwritten(u32::MAX, 1, 5),
            ext(0, MAX_EXTENT_LEN, 100),
        ] {
            e.encode(&mut r);
            assert_eq!(Extent::decode(&r), Ok(e), "{e:?}");
        }
        unwritten(7, 3, 100).encode(&mut r);
        assert_eq!(r, raw(7, 3 | EXTENT_UNWRITTEN, 100));
        assert_eq!(get_u32(&r, 4), 0x8000_0003);
        // 2^31 is the flag on a length of 0.
        assert_eq!(
            Extent::decode(&raw(0, 1 << 31, 100)),
            Err(RecordError::ZeroLengthExtent)
        );
        assert_eq!(
            Extent::decode(&raw(0, 0, 100)),
            Err(RecordError::ZeroLengthExtent)
        );
        // 2^32 - 1: an unwritten extent of 2^31 - 1 blocks.
        assert_eq!(
            Extent::decode(&raw(0, u32::MAX, 100)),
            Ok(unwritten(0, MAX_EXTENT_LEN, 100))
        );
        assert_eq!(
            Extent::decode(&raw(u32::MAX, 2 | EXTENT_UNWRITTEN, 100)),
            Err(RecordError::ExtentTooLarge)
        );
        // An in-memory length the format cannot say is refused by the
        // checker before it is encoded.
        let mut c = ExtentChecker::new(&Geometry::new(1 << 33, 64).unwrap());
        assert_eq!(
            c.check(&ext(0, 1 << 31, 100)),
            Err(RecordError::ExtentTooLarge)
        );
    }

    #[test]
    fn unwritten_checker() {
        let g = geo();
        let mut file = Inode::new(0o100644);
        file.size = 8 * BLOCK_SIZE as u64;
        let mut c = ExtentChecker::for_inode(&g, &file);
        assert!(c.check(&unwritten(0, 2, 10)).is_ok());
        assert!(c.check(&ext(2, 2, 20)).is_ok());
        assert!(c.check(&unwritten(4, 3, 30)).is_ok());
        assert_eq!(c.unwritten_blocks(), 5);
        assert_eq!(c.check_end(&file), Ok(()));

        let mut dir = Inode::new(0o040755);
        dir.size = 8 * BLOCK_SIZE as u64;
        let mut c = ExtentChecker::for_inode(&g, &dir);
        assert!(c.check(&ext(0, 1, 10)).is_ok());
        assert_eq!(
            c.check(&unwritten(1, 1, 11)),
            Err(RecordError::UnwrittenInDirectory)
        );
        assert!(!RecordError::UnwrittenInDirectory.describe().is_empty());
    }

    #[test]
    fn split() {
        let m = u64::from(MAX_EXTENT_LEN);
        let pieces: [Extent; 4] = {
            let mut it = Extent::split(1, (1 << 32) - 1, 100, false).unwrap();
            [
                it.next().unwrap(),
                it.next().unwrap(),
                it.next().unwrap(),
                it.next().unwrap_or_default(),
            ]
        };
        assert_eq!(pieces[0], ext(1, MAX_EXTENT_LEN, 100));
        assert_eq!(pieces[1], ext(1 << 31, MAX_EXTENT_LEN, 100 + m));
        assert_eq!(pieces[2], ext(u32::MAX, 1, 100 + 2 * m));
        assert_eq!(pieces[3], Extent::default());
        let mut it = Extent::split(0, 1 << 32, 0, true).unwrap();
        assert_eq!(it.next(), Some(unwritten(0, MAX_EXTENT_LEN, 0)));
        assert_eq!(
            it.next(),
            Some(unwritten(MAX_EXTENT_LEN, MAX_EXTENT_LEN, m))
        );
        assert_eq!(it.next(), Some(unwritten(u32::MAX - 1, 2, 2 * m)));
        assert_eq!(it.next(), None);
        assert!(Extent::split(1, 1 << 32, 0, false).is_err());
        assert!(Extent::split(0, 0, 0, false).is_err());
        assert!(Extent::split(0, 2, u64::MAX - 1, false).is_err());
    }
}
