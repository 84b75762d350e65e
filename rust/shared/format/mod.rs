// SPDX-License-Identifier: GPL-2.0

//! The delafs on-disk format, version 1, with feature bits
//! ([`superblock`]: compat / ro_compat / incompat, as ext4 and XFS v5).
//!
//! # Overview
//!
//! A delafs filesystem is a device of `total_blocks` blocks of 4096 bytes
//! (the page size; no other block size is accepted). All integers are
//! little-endian. Every metadata structure carries a CRC-32C
//! ([`super::crc32c`]) in its last four bytes, computed over the bytes before
//! it. Bytes not described in the structure's module are zero, and the
//! decoders (and [`check_dir_block_tail`]) check that.
//!
//! ```text
//! block 0                  superblock
//! [bitmap_start, +bitmap_blocks)            free-space bitmap, 1 bit per block
//! [inode_table_start, +inode_table_blocks)  inode table, 16 inodes per block
//! [data_start, total_blocks)                data: file, directory and extent blocks
//! ```
//!
//! All positions follow from two numbers, `total_blocks` and `inode_count`
//! ([`Geometry::new`]); the superblock stores the derived values as well and a
//! mount checks that they match.
//!
//! # Structures
//!
//! One module per on-disk structure, as `fs/xfs/libxfs/` splits its format:
//! its layout table, its constants, its encoder, its decoder and verifier
//! (decoders check; encoders are checked by the same decoders before a
//! write). Everything is re-exported here, so `format::Inode` and
//! `format::inode::Inode` name the same thing.
//!
//! - [`superblock`]: block 0 and the [`Geometry`] it implies;
//! - [`bitmap`]: the free-space bitmap;
//! - [`inode`]: the inode table;
//! - [`extent`]: extents, and the [`ExtentChecker`] of a file's extent list;
//! - [`chain`]: extent chain blocks, the [`ChainWalk`] that reads a chain
//!   (and [`walk_extents`], a file's whole extent list) and the
//!   [`ChainPlan`] and [`ChainLayout`] that rewrite one.
//! - [`dir`]: directory blocks and entries.
//! - [`dir_index`]: the directory index ([`INCOMPAT_DIR_INDEX`]), its
//!   blocks past the directory's size and the hash table algorithms
//!   ([`DirIndex`]) the kernel and fsck share.
//!
//! # Limits
//!
//! - block size 4096, nothing else;
//! - file size: 2^32 blocks × 4096 = 16 TiB (the logical block is a `u32`);
//! - names: 255 bytes;
//! - inodes: `inode_count <= 2^32 - 16` (a multiple of 16 that fits a
//!   `u32`), so inode numbers stay below 2^32 - 1;
//! - extents per file: 2^32 - 1;
//! - extent length: 2^31 - 1 blocks ([`MAX_EXTENT_LEN`]; bit 31 is the
//!   unwritten flag);
//! - entries of an indexed directory: [`MAX_ENTRY_BLOCKS`] × 15 = 487200
//!   ([`dir_index`]).
// Decoders meet bytes from disk: no arithmetic that can wrap, no indexing
// that can panic, no unwrap (issue 9); the exceptions say why in place.
#![warn(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod bytes;

pub mod bitmap;
pub mod chain;
pub mod dir;
pub mod dir_index;
pub mod extent;
pub mod inode;
pub mod superblock;

pub use bitmap::{bitmap_set, bitmap_test, BITS_PER_BITMAP_BLOCK};
pub use chain::{
    chain_blocks_needed, chain_chunks, encode_chain_block, walk_extents, walk_extents_of,
    ChainBlock, ChainError, ChainLayout, ChainPiece, ChainPlan, ChainWalk, Visit, WalkError,
    CHAIN_EXTENTS, CHAIN_MAGIC,
};
pub use dir::{
    check_dir_block_tail, decode_dirent, dirent_is_free, encode_dirent, valid_file_type,
    valid_name, DirEntry, DIRENTS_PER_BLOCK, DIRENT_SIZE, DIR_BLOCK_USED, DT_BLK, DT_CHR, DT_DIR,
    DT_FIFO, DT_LNK, DT_REG, DT_SOCK, MAX_NAME_LEN,
};
pub use dir_index::{
    check_table_block, index_bitmap_first_set, index_bitmap_set, index_bitmap_test,
    init_table_block, is_index_block, name_hash, set_table_record, table_block_offset,
    table_record, DirIndex, IndexError, IndexHeader, IndexStore, Record, DIR_INDEX_BASE,
    DIR_INDEX_BLOCKS, INDEX_MAGIC, INDEX_VERSION, MAX_ENTRY_BLOCKS, MAX_TABLE_LOG,
    RECORDS_PER_TABLE_BLOCK, REGION_BLOCKS, TABLE_MAGIC,
};
pub use extent::{
    Extent, ExtentChecker, ExtentSplit, EXTENT_SIZE, EXTENT_UNWRITTEN, INLINE_EXTENTS,
    MAX_EXTENT_LEN, MAX_FILE_BLOCKS, MAX_FILE_SIZE,
};
pub use inode::{
    file_type_of_mode, inode_slot, inode_slot_mut, Inode, Timestamp, INODES_PER_BLOCK,
    INODE_CSUM_OFFSET, INODE_SIZE, MAX_INODES, MIN_INODES, ROOT_INO, S_IFDIR, S_IFLNK, S_IFMT,
    S_IFREG,
};
pub use superblock::{
    Features, FormatError, Geometry, Superblock, COMPAT_SUPPORTED, INCOMPAT_DIR_INDEX,
    INCOMPAT_SUPPORTED, INCOMPAT_UNWRITTEN, MAGIC, MIN_BLOCKS, RO_COMPAT_SUPPORTED, VERSION,
};

/// Block size, the only one supported; equal to the page size.
pub const BLOCK_SIZE: usize = 4096;
/// `log2(BLOCK_SIZE)`.
pub const BLOCK_SHIFT: u32 = 12;
/// One block.
pub type Block = [u8; BLOCK_SIZE];
/// Offset of the CRC-32C in blocks that carry one.
pub const BLOCK_CSUM_OFFSET: usize = BLOCK_SIZE - 4;

/// Why an inode, extent, extent block or directory entry is refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RecordError {
    /// The checksum does not match.
    BadChecksum,
    /// A slot with mode 0 that is not all zero.
    FreeSlotNotZero,
    /// Not a regular file, directory or symlink mode.
    BadMode,
    /// A reserved field or unused byte is not zero.
    ReservedNotZero,
    /// A nanosecond field of 10^9 or more.
    BadTimestamp,
    /// A directory without a parent, or a non-directory with one.
    BadParent,
    /// `extent_count`, `extent_chain` and the inline extents disagree, or a
    /// chain has more or fewer extents than `extent_count` says.
    BadExtentCount,
    /// An extent of length 0.
    ZeroLengthExtent,
    /// An extent past file block 2^32 or past disk block 2^64.
    ExtentTooLarge,
    /// Extents out of order or overlapping.
    ExtentsOverlap,
    /// An extent's blocks are not all inside the data area.
    ExtentOutsideData,
    /// An extent block without the extent block magic.
    BadChainMagic,
    /// An extent block count outside `1..=254`.
    BadChainCount,
    /// An extent block number outside the data area.
    ChainBlockOutsideData,
    /// An extent chain that comes back to a block it passed.
    ChainLoop,
    /// A directory slot or inode slot index out of range.
    SlotOutOfRange,
    /// A free directory entry (ino 0) that is not all zero.
    FreeEntryNotZero,
    /// A name length of 0 (or a name too long to store).
    BadNameLength,
    /// A name with `/` or NUL, `.` or `..`, or non-zero bytes after it.
    BadName,
    /// An unknown directory entry type.
    BadFileType,
    /// Bytes 3960..4096 of a directory block are not zero.
    DirBlockTailNotZero,
    /// A size above [`MAX_FILE_SIZE`].
    SizeTooLarge,
    /// A directory whose size is not a whole number of blocks.
    BadDirSize,
    /// A directory with extents past its size.
    ExtentPastSize,
    /// A directory with an unwritten extent (its blocks must hold entries).
    UnwrittenInDirectory,
}

impl RecordError {
    /// A one-line description, for kernel messages and fsck.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::BadChecksum => "checksum mismatch",
            Self::FreeSlotNotZero => "free inode slot is not zeroed",
            Self::BadMode => "invalid mode",
            Self::ReservedNotZero => "reserved bytes are not zero",
            Self::BadTimestamp => "nanoseconds out of range",
            Self::BadParent => "parent field inconsistent with the file type",
            Self::BadExtentCount => "extent count inconsistent with the stored extents",
            Self::ZeroLengthExtent => "extent of length 0",
            Self::ExtentTooLarge => "extent beyond the largest file or block number",
            Self::ExtentsOverlap => "extents unsorted or overlapping",
            Self::ExtentOutsideData => "extent outside the data area",
            Self::BadChainMagic => "extent block has a bad magic",
            Self::BadChainCount => "extent block count out of range",
            Self::ChainBlockOutsideData => "extent block outside the data area",
            Self::ChainLoop => "extent chain loops back on itself",
            Self::SlotOutOfRange => "slot index out of range",
            Self::FreeEntryNotZero => "free directory entry is not zeroed",
            Self::BadNameLength => "invalid name length",
            Self::BadName => "invalid name",
            Self::BadFileType => "invalid file type",
            Self::DirBlockTailNotZero => "directory block tail is not zeroed",
            Self::SizeTooLarge => "size beyond the largest file",
            Self::BadDirSize => "directory size is not a multiple of the block size",
            Self::ExtentPastSize => "directory has extents past its size",
            Self::UnwrittenInDirectory => "directory has an unwritten extent",
        }
    }
}

impl core::fmt::Display for RecordError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.describe())
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::bytes::{put, set_csum};
    use super::*;

    #[test]
    fn layout_constants() {
        assert_eq!(1u64 << BLOCK_SHIFT, BLOCK_SIZE as u64);
        assert_eq!(BITS_PER_BITMAP_BLOCK, 32768);
    }

    /// Decoders on arbitrary bytes: errors, never panics.
    #[test]
    fn decode_garbage() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..300 {
            let mut b = [0u8; BLOCK_SIZE];
            for x in b.iter_mut() {
                // Mostly zeros, so that some structures get far.
                let r = next();
                *x = if r % 4 == 0 {
                    r as u8 >> (round % 8)
                } else {
                    0
                };
            }
            if round % 3 == 0 {
                // The magic at offset 0, so that some get past it.
                put(&mut b, 0, CHAIN_MAGIC.to_le_bytes());
                set_csum(&mut b, BLOCK_CSUM_OFFSET);
            }
            let _ = Superblock::decode(&b, next());
            let _ = ChainBlock::decode(&b).map(|c| c.extents().count());
            for slot in 0..INODES_PER_BLOCK {
                let raw = inode_slot(&b, slot).unwrap();
                let _ = Inode::decode(raw);
                let mut copy = *raw;
                set_csum(&mut copy, INODE_CSUM_OFFSET);
                let _ = Inode::decode(&copy);
            }
            for slot in 0..=DIRENTS_PER_BLOCK {
                let _ = decode_dirent(&b, slot);
            }
        }
    }
}
