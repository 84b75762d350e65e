// SPDX-License-Identifier: GPL-2.0

//! Extents: the 16-byte records that map file blocks to disk blocks, in the
//! inode (the first eight) and in extent chain blocks ([`super::chain`]).
//!
//! A file maps file blocks to disk blocks with extents of 16 bytes:
//! `logical: u32` (first file block) at 0, `len: u32` (> 0) at 4,
//! `physical: u64` (first disk block) at 8. A file's extents are sorted by
//! `logical`, do not overlap, end at or below file block 2^32, and their
//! disk blocks lie inside `[data_start, total_blocks)`. Unmapped file blocks
//! are holes and read as zeros.
//!
//! The first eight extents are inline in the inode; the others are in a
//! chain of extent blocks.

use super::bytes::{get_u32, get_u64, put};
use super::{Geometry, Inode, RecordError, BLOCK_SIZE};

/// Size of an on-disk extent.
pub const EXTENT_SIZE: usize = 16;
/// Extents stored in the inode itself.
pub const INLINE_EXTENTS: usize = 8;
/// Largest file, in blocks: logical block numbers are `u32`.
pub const MAX_FILE_BLOCKS: u64 = 1 << 32;
/// Largest file size, in bytes (16 TiB): what `MAX_FILE_BLOCKS` blocks hold.
/// The kernel tells the VFS (`s_maxbytes`); a larger stored size is corrupt.
pub const MAX_FILE_SIZE: u64 = MAX_FILE_BLOCKS * BLOCK_SIZE as u64;

/// A run of file blocks mapped to disk blocks, as stored.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Extent {
    /// First file block.
    pub logical: u32,
    /// Number of blocks, > 0.
    pub len: u32,
    /// First disk block.
    pub physical: u64,
}

impl Extent {
    /// Decodes and checks one extent slot: `len > 0`, ends at or below file
    /// block 2^32 and below disk block 2^64. Placement on the device is for
    /// [`ExtentChecker`].
    pub fn decode(raw: &[u8; EXTENT_SIZE]) -> Result<Self, RecordError> {
        let e = Self {
            logical: get_u32(raw, 0),
            len: get_u32(raw, 4),
            physical: get_u64(raw, 8),
        };
        if e.len == 0 {
            return Err(RecordError::ZeroLengthExtent);
        }
        if e.logical_end() > MAX_FILE_BLOCKS || e.physical.checked_add(e.len.into()).is_none() {
            return Err(RecordError::ExtentTooLarge);
        }
        Ok(e)
    }

    /// Encodes the extent into a slot.
    pub fn encode(&self, raw: &mut [u8; EXTENT_SIZE]) {
        put(raw, 0, self.logical.to_le_bytes());
        put(raw, 4, self.len.to_le_bytes());
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
    /// blocks from `physical` into on-disk extents (`len` fits a `u32`).
    /// In-memory mappings may be longer than one extent can say.
    pub fn split(logical: u64, len: u64, physical: u64) -> Result<ExtentSplit, RecordError> {
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
        })
    }
}

/// The on-disk extents of one mapping, from [`Extent::split`].
#[derive(Clone, Debug)]
pub struct ExtentSplit {
    logical: u64,
    len: u64,
    physical: u64,
}

impl Iterator for ExtentSplit {
    type Item = Extent;

    fn next(&mut self) -> Option<Extent> {
        if self.len == 0 {
            return None;
        }
        let n = self.len.min(u64::from(u32::MAX));
        // `split` checked logical + len <= 2^32, so logical < 2^32 here.
        let e = Extent {
            logical: self.logical as u32,
            len: n as u32,
            physical: self.physical,
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
}

impl ExtentChecker {
    /// A checker for a file of the filesystem `geo`.
    pub fn new(geo: &Geometry) -> Self {
        Self {
            data_start: geo.data_start,
            total_blocks: geo.total_blocks,
            next_logical: 0,
            count: 0,
        }
    }

    /// Checks the next extent of the file.
    pub fn check(&mut self, e: &Extent) -> Result<(), RecordError> {
        if u64::from(e.logical) < self.next_logical {
            return Err(RecordError::ExtentsOverlap);
        }
        if e.len == 0 {
            return Err(RecordError::ZeroLengthExtent);
        }
        if e.physical < self.data_start
            || e.physical
                .checked_add(e.len.into())
                .map_or(true, |end| end > self.total_blocks)
        {
            return Err(RecordError::ExtentOutsideData);
        }
        self.next_logical = e.logical_end();
        self.count = self.count.saturating_add(1);
        Ok(())
    }

    /// Once every extent of `inode` is checked: a directory's blocks all
    /// lie below its size (its entries are found by size, and a block past
    /// it would be mapped twice when the directory grows). A regular file
    /// may have blocks past its size (a direct write that failed, an unclean
    /// shutdown); the kernel drops them before the file grows over them.
    pub fn check_end(&self, inode: &Inode) -> Result<(), RecordError> {
        if inode.is_dir() && self.next_logical > inode.size.div_euclid(BLOCK_SIZE as u64) {
            return Err(RecordError::ExtentPastSize);
        }
        Ok(())
    }

    /// Extents checked so far.
    pub fn count(&self) -> u64 {
        self.count
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
        }
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

    #[test]
    fn split() {
        let pieces: [Extent; 2] = {
            let mut it = Extent::split(1, (1 << 32) - 1, 100).unwrap();
            [it.next().unwrap(), it.next().unwrap_or_default()]
        };
        assert_eq!(pieces[0], ext(1, u32::MAX, 100));
        assert_eq!(pieces[1], Extent::default());
        let mut it = Extent::split(0, 1 << 32, 0).unwrap();
        assert_eq!(it.next(), Some(ext(0, u32::MAX, 0)));
        assert_eq!(it.next(), Some(ext(u32::MAX, 1, u32::MAX as u64)));
        assert_eq!(it.next(), None);
        assert!(Extent::split(1, 1 << 32, 0).is_err());
        assert!(Extent::split(0, 0, 0).is_err());
        assert!(Extent::split(0, 2, u64::MAX - 1).is_err());
    }
}
