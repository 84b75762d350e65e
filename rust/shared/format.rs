// SPDX-License-Identifier: GPL-2.0

//! The delafs on-disk format, version 1.
//!
//! # Overview
//!
//! A delafs filesystem is a device of `total_blocks` blocks of 4096 bytes
//! (the page size; no other block size is accepted). All integers are
//! little-endian. Every metadata structure carries a CRC-32C
//! ([`super::crc32c`]) in its last four bytes, computed over the bytes before
//! it. Bytes not described below are zero, and the decoders (and
//! [`check_dir_block_tail`]) check that.
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
//! # Superblock (block 0)
//!
//! | offset | type     | field                | value |
//! |-------:|----------|----------------------|-------|
//! | 0      | [u8; 8]  | magic                | `b"delafs\0\0"` |
//! | 8      | u32      | version              | 1 |
//! | 12     | u32      | block_size           | 4096 |
//! | 16     | u64      | total_blocks         | filesystem size, >= [`MIN_BLOCKS`] |
//! | 24     | u32      | inode_count          | multiple of 16, >= 16; numbers are `0..inode_count` |
//! | 28     | u32      | reserved             | 0 |
//! | 32     | u64      | bitmap_start         | 1 |
//! | 40     | u64      | bitmap_blocks        | `ceil(total_blocks / 32768)` |
//! | 48     | u64      | inode_table_start    | `1 + bitmap_blocks` |
//! | 56     | u64      | inode_table_blocks   | `inode_count / 16` |
//! | 64     | u64      | data_start           | `inode_table_start + inode_table_blocks`, `< total_blocks` |
//! | 72     | u32      | root_ino             | 1 |
//! | 76     | u32      | flags                | 0 (no feature flags exist yet) |
//! | 80     | u64      | mkfs_time            | unix seconds |
//! | 88     | [u8; 16] | uuid                 | random |
//! | 4092   | u32      | crc32c of bytes 0..4092 | |
//!
//! A superblock is checked in this order, the first failure giving the
//! error ([`FormatError`]): magic, version, checksum, block size, flags,
//! geometry (derived fields, `data_start < total_blocks`, inode count),
//! device size (`total_blocks` must not exceed the device).
//!
//! # Free-space bitmap
//!
//! Bit `i` (byte `i / 8`, bit `i % 8`, least significant first) of the
//! bitmap is set when block `i` is in use. Blocks `0..data_start` (the
//! metadata) are always set, and so are the bits past `total_blocks` in the
//! last bitmap block, so a scan for zero bits never finds a block that does
//! not exist. Extent chain blocks are data blocks and are set too.
//!
//! # Inodes
//!
//! Inode `n` lives in block `inode_table_start + n / 16` at byte
//! `(n % 16) * 256`. Inode 0 does not exist (its slot stays zero); inode 1
//! is the root directory. A free slot is all zero, checksum included.
//!
//! | offset | type  | field       | notes |
//! |-------:|-------|-------------|-------|
//! | 0      | u16   | mode        | `S_IFREG`, `S_IFDIR` or `S_IFLNK` with permission bits; 0 = free |
//! | 2      | u16   | reserved    | |
//! | 4      | u32   | nlink       | files: names linking it; directories: 2 + subdirectories |
//! | 8      | u32   | uid         | |
//! | 12     | u32   | gid         | |
//! | 16     | u64   | size        | bytes; a directory's is 4096 * its blocks |
//! | 24     | i64   | atime_sec   | |
//! | 32     | i64   | mtime_sec   | |
//! | 40     | i64   | ctime_sec   | |
//! | 48     | u32   | atime_nsec  | < 10^9, as the other two |
//! | 52     | u32   | mtime_nsec  | |
//! | 56     | u32   | ctime_nsec  | |
//! | 60     | u32   | extent_count| all extents, inline and chained |
//! | 64     | u64   | extent_chain| first extent block, 0 when extent_count <= 8 |
//! | 72     | u32   | parent      | directories: parent's number (root: 1); others: 0 |
//! | 76     | -     | reserved    | 20 bytes |
//! | 96     | 8 × 16| extents     | the first `min(8, extent_count)` extents; unused slots zero |
//! | 224    | -     | reserved    | 28 bytes |
//! | 252    | u32   | crc32c of bytes 0..252 | |
//!
//! # Extents
//!
//! A file maps file blocks to disk blocks with extents of 16 bytes:
//! `logical: u32` (first file block) at 0, `len: u32` (> 0) at 4,
//! `physical: u64` (first disk block) at 8. A file's extents are sorted by
//! `logical`, do not overlap, end at or below file block 2^32, and their
//! disk blocks lie inside `[data_start, total_blocks)`. Unmapped file blocks
//! are holes and read as zeros.
//!
//! The first eight extents are inline in the inode; the others are in a
//! singly linked chain of extent blocks, allocated from the data area:
//!
//! | offset | type  | field |
//! |-------:|-------|-------|
//! | 0      | u32   | magic `0x5845_4C44` (`b"DLEX"` as bytes) |
//! | 4      | u32   | count, 1..=254 |
//! | 8      | u64   | next extent block, 0 = last |
//! | 16     | 254 × 16 | extents (up to byte 4080); unused slots zero |
//! | 4092   | u32   | crc32c of bytes 0..4092 |
//!
//! The counts of the chain blocks add up to `extent_count - 8`.
//!
//! # Directories
//!
//! A directory is mapped by extents like a file, without holes; its size is
//! 4096 times its number of blocks. Each block holds 15 entries of 264 bytes
//! at `k * 264`; bytes 3960..4096 are zero.
//!
//! | offset | type      | field |
//! |-------:|-----------|-------|
//! | 0      | u32       | ino, 0 = free slot (then the whole entry is zero) |
//! | 4      | u8        | name_len, 1..=255 |
//! | 5      | u8        | file_type: `DT_FIFO` 1, `DT_CHR` 2, `DT_DIR` 4, `DT_BLK` 6, `DT_REG` 8, `DT_LNK` 10, `DT_SOCK` 12 |
//! | 6      | u16       | reserved |
//! | 8      | [u8; 256] | name: `name_len` bytes, then zeros |
//!
//! Names have no `/` and no NUL and are never `.` or `..`: those are not
//! stored (`..` is the inode's `parent`). Directory blocks carry no
//! checksum.
//!
//! A new filesystem ([`Inode::root`]) has only the root: inode 1, mode
//! `0o040755`, nlink 2, parent 1, size 0, no extents.
//!
//! # Limits
//!
//! - block size 4096, nothing else;
//! - file size: 2^32 blocks × 4096 = 16 TiB (the logical block is a `u32`);
//! - names: 255 bytes;
//! - inodes: `inode_count <= 2^32 - 16` (a multiple of 16 that fits a
//!   `u32`), so inode numbers stay below 2^32 - 1;
//! - extents per file: 2^32 - 1.
// Decoders meet bytes from disk: no arithmetic that can wrap, no indexing
// that can panic, no unwrap (issue 9); the exceptions say why in place.
#![warn(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use super::crc32c::crc32c;

/// Block size, the only one supported; equal to the page size.
pub const BLOCK_SIZE: usize = 4096;
/// `log2(BLOCK_SIZE)`.
pub const BLOCK_SHIFT: u32 = 12;
/// One block.
pub type Block = [u8; BLOCK_SIZE];

/// The superblock magic.
pub const MAGIC: [u8; 8] = *b"delafs\0\0";
/// The format version this code reads and writes.
pub const VERSION: u32 = 1;
/// Smallest filesystem, in blocks; `mkfs` refuses smaller devices.
pub const MIN_BLOCKS: u64 = 64;
/// Bits in one bitmap block: the blocks it describes.
pub const BITS_PER_BITMAP_BLOCK: u64 = (BLOCK_SIZE * 8) as u64;
/// Offset of the CRC-32C in blocks that carry one.
pub const BLOCK_CSUM_OFFSET: usize = BLOCK_SIZE - 4;

/// Size of an on-disk inode.
pub const INODE_SIZE: usize = 256;
/// Inodes per inode table block.
pub const INODES_PER_BLOCK: usize = BLOCK_SIZE / INODE_SIZE;
/// The root directory's inode number.
pub const ROOT_INO: u32 = 1;
/// Fewest inodes a filesystem may have.
pub const MIN_INODES: u64 = 16;
/// Most inodes a filesystem may have: the largest multiple of 16 that fits
/// the superblock's `u32`.
pub const MAX_INODES: u64 = u32::MAX as u64 & !(INODES_PER_BLOCK as u64 - 1);
/// Offset of the CRC-32C in an inode.
pub const INODE_CSUM_OFFSET: usize = INODE_SIZE - 4;

/// Size of an on-disk extent.
pub const EXTENT_SIZE: usize = 16;
/// Extents stored in the inode itself.
pub const INLINE_EXTENTS: usize = 8;
/// Extent chain block magic.
pub const CHAIN_MAGIC: u32 = 0x5845_4C44;
/// Extents per extent chain block.
pub const CHAIN_EXTENTS: usize = 254;
/// Largest file, in blocks: logical block numbers are `u32`.
pub const MAX_FILE_BLOCKS: u64 = 1 << 32;
/// Largest file size, in bytes (16 TiB): what `MAX_FILE_BLOCKS` blocks hold.
/// The kernel tells the VFS (`s_maxbytes`); a larger stored size is corrupt.
pub const MAX_FILE_SIZE: u64 = MAX_FILE_BLOCKS * BLOCK_SIZE as u64;

/// Size of a directory entry.
pub const DIRENT_SIZE: usize = 264;
/// Directory entries per directory block.
pub const DIRENTS_PER_BLOCK: usize = 15;
/// Longest name.
pub const MAX_NAME_LEN: usize = 255;

/// File type mask of `mode`.
pub const S_IFMT: u16 = 0o170_000;
/// Regular file.
pub const S_IFREG: u16 = 0o100_000;
/// Directory.
pub const S_IFDIR: u16 = 0o040_000;
/// Symbolic link.
pub const S_IFLNK: u16 = 0o120_000;

/// Directory entry type: FIFO.
pub const DT_FIFO: u8 = 1;
/// Directory entry type: character device.
pub const DT_CHR: u8 = 2;
/// Directory entry type: directory.
pub const DT_DIR: u8 = 4;
/// Directory entry type: block device.
pub const DT_BLK: u8 = 6;
/// Directory entry type: regular file.
pub const DT_REG: u8 = 8;
/// Directory entry type: symbolic link.
pub const DT_LNK: u8 = 10;
/// Directory entry type: socket.
pub const DT_SOCK: u8 = 12;

// Byte access at offsets that are constants or bounded by a validated
// index. Out-of-range access cannot happen; it reads 0 and writes nothing
// rather than panicking.

/// The offset of record `index` of `size` bytes from `base`; `usize::MAX`
/// (which [`sub`] refuses) if that overflows.
fn record_at(base: usize, index: usize, size: usize) -> usize {
    index
        .checked_mul(size)
        .and_then(|o| o.checked_add(base))
        .unwrap_or(usize::MAX)
}

fn sub<const N: usize>(bytes: &[u8], off: usize) -> Option<&[u8; N]> {
    bytes.get(off..off.checked_add(N)?)?.try_into().ok()
}

fn sub_mut<const N: usize>(bytes: &mut [u8], off: usize) -> Option<&mut [u8; N]> {
    bytes.get_mut(off..off.checked_add(N)?)?.try_into().ok()
}

fn get_u8(b: &[u8], off: usize) -> u8 {
    b.get(off).copied().unwrap_or(0)
}

fn get_u16(b: &[u8], off: usize) -> u16 {
    sub(b, off).map_or(0, |a| u16::from_le_bytes(*a))
}

fn get_u32(b: &[u8], off: usize) -> u32 {
    sub(b, off).map_or(0, |a| u32::from_le_bytes(*a))
}

fn get_u64(b: &[u8], off: usize) -> u64 {
    sub(b, off).map_or(0, |a| u64::from_le_bytes(*a))
}

fn get_i64(b: &[u8], off: usize) -> i64 {
    sub(b, off).map_or(0, |a| i64::from_le_bytes(*a))
}

fn put<const N: usize>(b: &mut [u8], off: usize, v: [u8; N]) {
    if let Some(dst) = sub_mut::<N>(b, off) {
        *dst = v;
    }
}

fn is_zero(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}

/// `bytes[from..to]` is all zero (an empty or out-of-range span counts as
/// zero).
fn zero_span(b: &[u8], from: usize, to: usize) -> bool {
    b.get(from..to).map_or(true, is_zero)
}

fn csum_ok(b: &[u8], csum_off: usize) -> bool {
    b.get(..csum_off)
        .is_some_and(|data| crc32c(data) == get_u32(b, csum_off))
}

fn set_csum(b: &mut [u8], csum_off: usize) {
    let sum = b.get(..csum_off).map_or(0, crc32c);
    put(b, csum_off, sum.to_le_bytes());
}

// ---------------------------------------------------------------------------
// Superblock and geometry
// ---------------------------------------------------------------------------

/// Why a superblock or a geometry is refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FormatError {
    /// The magic is not delafs's.
    NotDelafs,
    /// A format version this code does not know.
    UnsupportedVersion(u32),
    /// The superblock checksum does not match.
    BadChecksum,
    /// A block size other than 4096.
    UnsupportedBlockSize(u32),
    /// Feature flags this code does not know (the value is `flags |
    /// reserved`); also non-zero bytes between the fields and the checksum.
    UnsupportedFlags(u32),
    /// The stored layout is not the one its sizes imply.
    BadGeometry,
    /// The filesystem is larger than its device.
    Truncated,
    /// Fewer than [`MIN_BLOCKS`] blocks.
    TooSmall,
    /// An inode count that is not a multiple of 16 in `16..=MAX_INODES`.
    BadInodeCount,
    /// The inode table leaves no block for data.
    NoRoomForData,
}

impl FormatError {
    /// A one-line description, for kernel messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::NotDelafs => "not a delafs filesystem (bad magic)",
            Self::UnsupportedVersion(_) => "unsupported format version",
            Self::BadChecksum => "superblock checksum mismatch",
            Self::UnsupportedBlockSize(_) => "unsupported block size (only 4096)",
            Self::UnsupportedFlags(_) => "unsupported feature flags",
            Self::BadGeometry => "inconsistent superblock geometry",
            Self::Truncated => "filesystem larger than its device",
            Self::TooSmall => "device too small (fewer than 64 blocks)",
            Self::BadInodeCount => "inode count must be a multiple of 16 between 16 and 2^32-16",
            Self::NoRoomForData => "inode table too large for the device",
        }
    }
}

impl core::fmt::Display for FormatError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::UnsupportedVersion(v) => write!(f, "{} {v}", self.describe()),
            Self::UnsupportedBlockSize(v) => write!(f, "{}: {v}", self.describe()),
            Self::UnsupportedFlags(v) => write!(f, "{}: {v:#x}", self.describe()),
            _ => f.write_str(self.describe()),
        }
    }
}

/// Where everything is: the layout implied by `total_blocks` and
/// `inode_count`. Counts are `u64` so that callers compare them with block
/// and inode numbers without casts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Geometry {
    /// Size of the filesystem in blocks.
    pub total_blocks: u64,
    /// Inode numbers are `0..inode_count`; 0 is unused, 1 is the root.
    pub inode_count: u64,
    /// First bitmap block (always 1).
    pub bitmap_start: u64,
    /// Number of bitmap blocks.
    pub bitmap_blocks: u64,
    /// First inode table block.
    pub inode_table_start: u64,
    /// Number of inode table blocks.
    pub inode_table_blocks: u64,
    /// First data block; blocks below it are metadata.
    pub data_start: u64,
}

impl Geometry {
    /// The layout of a filesystem of `total_blocks` blocks with
    /// `inode_count` inodes.
    pub fn new(total_blocks: u64, inode_count: u64) -> Result<Self, FormatError> {
        if total_blocks < MIN_BLOCKS {
            return Err(FormatError::TooSmall);
        }
        if !(MIN_INODES..=MAX_INODES).contains(&inode_count)
            || inode_count.checked_rem(INODES_PER_BLOCK as u64) != Some(0)
        {
            return Err(FormatError::BadInodeCount);
        }
        let bitmap_blocks = total_blocks.div_ceil(BITS_PER_BITMAP_BLOCK);
        let inode_table_start = bitmap_blocks.saturating_add(1);
        let inode_table_blocks = inode_count.div_ceil(INODES_PER_BLOCK as u64);
        // Far below 2^63 both, but a value from disk is never trusted.
        let data_start = inode_table_start.saturating_add(inode_table_blocks);
        if data_start >= total_blocks {
            return Err(FormatError::NoRoomForData);
        }
        Ok(Self {
            total_blocks,
            inode_count,
            bitmap_start: 1,
            bitmap_blocks,
            inode_table_start,
            inode_table_blocks,
            data_start,
        })
    }

    /// Number of data blocks.
    pub fn data_blocks(&self) -> u64 {
        self.total_blocks.saturating_sub(self.data_start)
    }

    /// Whether `[start, start + len)` is a non-empty range inside the data
    /// area.
    pub fn in_data(&self, start: u64, len: u64) -> bool {
        len > 0
            && start >= self.data_start
            && start
                .checked_add(len)
                .is_some_and(|end| end <= self.total_blocks)
    }

    /// Whether `ino` is an inode number (`1..inode_count`).
    pub fn valid_ino(&self, ino: u64) -> bool {
        ino >= 1 && ino < self.inode_count
    }

    /// The inode table block and slot of inode `ino`, if `ino` is valid.
    pub fn inode_location(&self, ino: u64) -> Option<(u64, usize)> {
        if !self.valid_ino(ino) {
            return None;
        }
        let per_block = INODES_PER_BLOCK as u64;
        let block = self
            .inode_table_start
            .checked_add(ino.checked_div(per_block)?)?;
        Some((block, usize::try_from(ino.checked_rem(per_block)?).ok()?))
    }

    /// The bitmap block (absolute block number) and the bit in it that
    /// describe `block`.
    pub fn bitmap_location(&self, block: u64) -> (u64, usize) {
        // A block number divided by 32768 is far from overflowing.
        (
            self.bitmap_start
                .saturating_add(block.div_euclid(BITS_PER_BITMAP_BLOCK)),
            block.rem_euclid(BITS_PER_BITMAP_BLOCK) as usize,
        )
    }

    /// The contents of bitmap block `index` (0-based within the bitmap) of
    /// a filesystem where only the metadata is in use: bits below
    /// `data_start` and at or past `total_blocks` set, the others clear.
    pub fn initial_bitmap_block(&self, index: u64, out: &mut Block) {
        out.fill(0);
        let first = index.saturating_mul(BITS_PER_BITMAP_BLOCK);
        for bit in 0..BITS_PER_BITMAP_BLOCK as usize {
            let block = first.saturating_add(bit as u64);
            if block < self.data_start || block >= self.total_blocks {
                bitmap_set(out, bit, true);
            }
        }
    }
}

/// Whether bit `bit` of a bitmap block is set (the block is in use).
pub fn bitmap_test(bitmap: &Block, bit: usize) -> bool {
    bitmap
        .get(bit / 8)
        .is_some_and(|byte| byte & (1 << (bit % 8)) != 0)
}

/// Sets or clears bit `bit` of a bitmap block.
pub fn bitmap_set(bitmap: &mut Block, bit: usize, used: bool) {
    if let Some(byte) = bitmap.get_mut(bit / 8) {
        if used {
            *byte |= 1 << (bit % 8);
        } else {
            *byte &= !(1 << (bit % 8));
        }
    }
}

/// The superblock.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Superblock {
    /// The layout.
    pub geometry: Geometry,
    /// When the filesystem was made, unix seconds.
    pub mkfs_time: u64,
    /// The filesystem's identity.
    pub uuid: [u8; 16],
}

const SB_MAGIC: usize = 0;
const SB_VERSION: usize = 8;
const SB_BLOCK_SIZE: usize = 12;
const SB_TOTAL_BLOCKS: usize = 16;
const SB_INODE_COUNT: usize = 24;
const SB_RESERVED: usize = 28;
const SB_BITMAP_START: usize = 32;
const SB_BITMAP_BLOCKS: usize = 40;
const SB_INODE_TABLE_START: usize = 48;
const SB_INODE_TABLE_BLOCKS: usize = 56;
const SB_DATA_START: usize = 64;
const SB_ROOT_INO: usize = 72;
const SB_FLAGS: usize = 76;
const SB_MKFS_TIME: usize = 80;
const SB_UUID: usize = 88;
/// End of the superblock fields; zeros follow up to the checksum.
const SB_END: usize = 104;

impl Superblock {
    /// Decodes and checks block 0 of a device of `device_blocks` blocks.
    /// Errors come in the order documented in the module docs.
    pub fn decode(block: &Block, device_blocks: u64) -> Result<Self, FormatError> {
        if sub::<8>(block, SB_MAGIC) != Some(&MAGIC) {
            return Err(FormatError::NotDelafs);
        }
        let version = get_u32(block, SB_VERSION);
        if version != VERSION {
            return Err(FormatError::UnsupportedVersion(version));
        }
        if !csum_ok(block, BLOCK_CSUM_OFFSET) {
            return Err(FormatError::BadChecksum);
        }
        let block_size = get_u32(block, SB_BLOCK_SIZE);
        if block_size != BLOCK_SIZE as u32 {
            return Err(FormatError::UnsupportedBlockSize(block_size));
        }
        let flags = get_u32(block, SB_FLAGS) | get_u32(block, SB_RESERVED);
        if flags != 0 || !zero_span(block, SB_END, BLOCK_CSUM_OFFSET) {
            return Err(FormatError::UnsupportedFlags(flags));
        }
        let total_blocks = get_u64(block, SB_TOTAL_BLOCKS);
        let inode_count = u64::from(get_u32(block, SB_INODE_COUNT));
        let geometry =
            Geometry::new(total_blocks, inode_count).map_err(|_| FormatError::BadGeometry)?;
        let stored = [
            (SB_BITMAP_START, geometry.bitmap_start),
            (SB_BITMAP_BLOCKS, geometry.bitmap_blocks),
            (SB_INODE_TABLE_START, geometry.inode_table_start),
            (SB_INODE_TABLE_BLOCKS, geometry.inode_table_blocks),
            (SB_DATA_START, geometry.data_start),
        ];
        if stored
            .iter()
            .any(|&(off, want)| get_u64(block, off) != want)
            || get_u32(block, SB_ROOT_INO) != ROOT_INO
        {
            return Err(FormatError::BadGeometry);
        }
        if total_blocks > device_blocks {
            return Err(FormatError::Truncated);
        }
        let mut uuid = [0u8; 16];
        if let Some(u) = sub::<16>(block, SB_UUID) {
            uuid = *u;
        }
        Ok(Self {
            geometry,
            mkfs_time: get_u64(block, SB_MKFS_TIME),
            uuid,
        })
    }

    /// Encodes the superblock into `block`, checksum included.
    pub fn encode(&self, block: &mut Block) {
        let g = &self.geometry;
        block.fill(0);
        put(block, SB_MAGIC, MAGIC);
        put(block, SB_VERSION, VERSION.to_le_bytes());
        put(block, SB_BLOCK_SIZE, (BLOCK_SIZE as u32).to_le_bytes());
        put(block, SB_TOTAL_BLOCKS, g.total_blocks.to_le_bytes());
        // Geometry::new bounds inode_count by MAX_INODES, which fits.
        put(block, SB_INODE_COUNT, (g.inode_count as u32).to_le_bytes());
        put(block, SB_BITMAP_START, g.bitmap_start.to_le_bytes());
        put(block, SB_BITMAP_BLOCKS, g.bitmap_blocks.to_le_bytes());
        put(
            block,
            SB_INODE_TABLE_START,
            g.inode_table_start.to_le_bytes(),
        );
        put(
            block,
            SB_INODE_TABLE_BLOCKS,
            g.inode_table_blocks.to_le_bytes(),
        );
        put(block, SB_DATA_START, g.data_start.to_le_bytes());
        put(block, SB_ROOT_INO, ROOT_INO.to_le_bytes());
        put(block, SB_MKFS_TIME, self.mkfs_time.to_le_bytes());
        put(block, SB_UUID, self.uuid);
        set_csum(block, BLOCK_CSUM_OFFSET);
    }
}

// ---------------------------------------------------------------------------
// Inodes, extents, chain blocks, directory entries
// ---------------------------------------------------------------------------

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
            Self::SlotOutOfRange => "slot index out of range",
            Self::FreeEntryNotZero => "free directory entry is not zeroed",
            Self::BadNameLength => "invalid name length",
            Self::BadName => "invalid name",
            Self::BadFileType => "invalid file type",
            Self::DirBlockTailNotZero => "directory block tail is not zeroed",
            Self::SizeTooLarge => "size beyond the largest file",
            Self::BadDirSize => "directory size is not a multiple of the block size",
            Self::ExtentPastSize => "directory has extents past its size",
        }
    }
}

impl core::fmt::Display for RecordError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.describe())
    }
}

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

    /// Checks the location of an extent chain block.
    pub fn check_chain_block(&self, block: u64) -> Result<(), RecordError> {
        if block < self.data_start || block >= self.total_blocks {
            return Err(RecordError::ChainBlockOutsideData);
        }
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

/// A timestamp: seconds since the epoch and nanoseconds.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Timestamp {
    /// Seconds since 1970-01-01 UTC (negative before).
    pub sec: i64,
    /// Nanoseconds, < 10^9.
    pub nsec: u32,
}

/// A decoded inode.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Inode {
    /// File type and permissions.
    pub mode: u16,
    /// Link count.
    pub nlink: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Last access.
    pub atime: Timestamp,
    /// Last modification.
    pub mtime: Timestamp,
    /// Last status change.
    pub ctime: Timestamp,
    /// Extents in all, inline and chained.
    pub extent_count: u32,
    /// First extent chain block, 0 when `extent_count <= 8`.
    pub extent_chain: u64,
    /// Directories: the parent's inode number; others: 0.
    pub parent: u32,
    /// The first `min(8, extent_count)` extents; the rest are ignored by
    /// [`Inode::encode`] and zero after [`Inode::decode`].
    pub inline: [Extent; INLINE_EXTENTS],
}

const I_MODE: usize = 0;
const I_RESERVED: usize = 2;
const I_NLINK: usize = 4;
const I_UID: usize = 8;
const I_GID: usize = 12;
const I_SIZE: usize = 16;
const I_ATIME: usize = 24;
const I_MTIME: usize = 32;
const I_CTIME: usize = 40;
const I_ATIME_NSEC: usize = 48;
const I_MTIME_NSEC: usize = 52;
const I_CTIME_NSEC: usize = 56;
const I_EXTENT_COUNT: usize = 60;
const I_EXTENT_CHAIN: usize = 64;
const I_PARENT: usize = 72;
const I_RESERVED2: usize = 76;
const I_EXTENTS: usize = 96;
const I_EXTENTS_END: usize = I_EXTENTS + INLINE_EXTENTS * EXTENT_SIZE;

const NSEC_PER_SEC: u32 = 1_000_000_000;

impl Inode {
    /// An inode of mode `mode` with everything else zero.
    pub const fn new(mode: u16) -> Self {
        let t = Timestamp { sec: 0, nsec: 0 };
        Self {
            mode,
            nlink: 0,
            uid: 0,
            gid: 0,
            size: 0,
            atime: t,
            mtime: t,
            ctime: t,
            extent_count: 0,
            extent_chain: 0,
            parent: 0,
            inline: [Extent {
                logical: 0,
                len: 0,
                physical: 0,
            }; INLINE_EXTENTS],
        }
    }

    /// The root directory of a new filesystem, with all times `time`.
    pub const fn root(time: Timestamp) -> Self {
        let mut root = Self::new(S_IFDIR | 0o755);
        root.nlink = 2;
        root.parent = ROOT_INO;
        root.atime = time;
        root.mtime = time;
        root.ctime = time;
        root
    }

    /// Whether the mode is a directory's.
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }

    /// The directory entry type that matches the mode, or 0 for an invalid
    /// mode.
    pub fn file_type(&self) -> u8 {
        file_type_of_mode(self.mode)
    }

    /// The inline extents in use.
    pub fn inline_extents(&self) -> &[Extent] {
        let n = (self.extent_count as usize).min(INLINE_EXTENTS);
        self.inline.get(..n).unwrap_or(&[])
    }

    /// Extents stored in the chain.
    pub fn chain_extent_count(&self) -> u32 {
        self.extent_count.saturating_sub(INLINE_EXTENTS as u32)
    }

    /// Sets `extent_count`, the inline extents and `extent_chain` for a
    /// file whose extents are `extents`; the chain blocks, starting at
    /// `chain` (0 when there are at most 8 extents), hold
    /// [`chain_chunks`]`(extents)`.
    pub fn set_extents(&mut self, extents: &[Extent], chain: u64) -> Result<(), RecordError> {
        let count = u32::try_from(extents.len()).map_err(|_| RecordError::BadExtentCount)?;
        if (count as usize > INLINE_EXTENTS) != (chain != 0) {
            return Err(RecordError::BadExtentCount);
        }
        self.inline = [Extent::default(); INLINE_EXTENTS];
        for (slot, e) in self.inline.iter_mut().zip(extents) {
            *slot = *e;
        }
        self.extent_count = count;
        self.extent_chain = chain;
        Ok(())
    }

    /// Decodes and checks an inode slot: `Ok(None)` for a free (all-zero)
    /// slot. Checks the checksum, mode, reserved bytes, timestamps, the
    /// parent field against the type, and the inline extents on their own
    /// (their order and placement are for [`ExtentChecker`], the chain for
    /// [`ChainBlock::decode`]).
    pub fn decode(raw: &[u8; INODE_SIZE]) -> Result<Option<Self>, RecordError> {
        if is_zero(raw) {
            return Ok(None);
        }
        if !csum_ok(raw, INODE_CSUM_OFFSET) {
            return Err(RecordError::BadChecksum);
        }
        let mode = get_u16(raw, I_MODE);
        if mode == 0 {
            return Err(RecordError::FreeSlotNotZero);
        }
        if file_type_of_mode(mode) == 0 {
            return Err(RecordError::BadMode);
        }
        if get_u16(raw, I_RESERVED) != 0
            || !zero_span(raw, I_RESERVED2, I_EXTENTS)
            || !zero_span(raw, I_EXTENTS_END, INODE_CSUM_OFFSET)
        {
            return Err(RecordError::ReservedNotZero);
        }
        let time = |sec: usize, nsec: usize| Timestamp {
            sec: get_i64(raw, sec),
            nsec: get_u32(raw, nsec),
        };
        let mut inode = Self {
            mode,
            nlink: get_u32(raw, I_NLINK),
            uid: get_u32(raw, I_UID),
            gid: get_u32(raw, I_GID),
            size: get_u64(raw, I_SIZE),
            atime: time(I_ATIME, I_ATIME_NSEC),
            mtime: time(I_MTIME, I_MTIME_NSEC),
            ctime: time(I_CTIME, I_CTIME_NSEC),
            extent_count: get_u32(raw, I_EXTENT_COUNT),
            extent_chain: get_u64(raw, I_EXTENT_CHAIN),
            parent: get_u32(raw, I_PARENT),
            inline: [Extent::default(); INLINE_EXTENTS],
        };
        if [inode.atime, inode.mtime, inode.ctime]
            .iter()
            .any(|t| t.nsec >= NSEC_PER_SEC)
        {
            return Err(RecordError::BadTimestamp);
        }
        if inode.is_dir() != (inode.parent != 0) {
            return Err(RecordError::BadParent);
        }
        if inode.size > MAX_FILE_SIZE {
            return Err(RecordError::SizeTooLarge);
        }
        if inode.is_dir() && inode.size.rem_euclid(BLOCK_SIZE as u64) != 0 {
            return Err(RecordError::BadDirSize);
        }
        if (inode.extent_count as usize > INLINE_EXTENTS) != (inode.extent_chain != 0) {
            return Err(RecordError::BadExtentCount);
        }
        let used = (inode.extent_count as usize).min(INLINE_EXTENTS);
        for (i, slot) in inode.inline.iter_mut().enumerate() {
            let Some(raw_extent) = sub::<EXTENT_SIZE>(raw, record_at(I_EXTENTS, i, EXTENT_SIZE))
            else {
                continue;
            };
            if i < used {
                *slot = Extent::decode(raw_extent)?;
            } else if !is_zero(raw_extent) {
                return Err(RecordError::BadExtentCount);
            }
        }
        Ok(Some(inode))
    }

    /// Encodes the inode into a slot, checksum included. Only the first
    /// `min(8, extent_count)` inline extents are written.
    pub fn encode(&self, raw: &mut [u8; INODE_SIZE]) {
        raw.fill(0);
        put(raw, I_MODE, self.mode.to_le_bytes());
        put(raw, I_NLINK, self.nlink.to_le_bytes());
        put(raw, I_UID, self.uid.to_le_bytes());
        put(raw, I_GID, self.gid.to_le_bytes());
        put(raw, I_SIZE, self.size.to_le_bytes());
        put(raw, I_ATIME, self.atime.sec.to_le_bytes());
        put(raw, I_MTIME, self.mtime.sec.to_le_bytes());
        put(raw, I_CTIME, self.ctime.sec.to_le_bytes());
        put(raw, I_ATIME_NSEC, self.atime.nsec.to_le_bytes());
        put(raw, I_MTIME_NSEC, self.mtime.nsec.to_le_bytes());
        put(raw, I_CTIME_NSEC, self.ctime.nsec.to_le_bytes());
        put(raw, I_EXTENT_COUNT, self.extent_count.to_le_bytes());
        put(raw, I_EXTENT_CHAIN, self.extent_chain.to_le_bytes());
        put(raw, I_PARENT, self.parent.to_le_bytes());
        for (i, e) in self.inline_extents().iter().enumerate() {
            if let Some(slot) = sub_mut::<EXTENT_SIZE>(raw, record_at(I_EXTENTS, i, EXTENT_SIZE)) {
                e.encode(slot);
            }
        }
        set_csum(raw, INODE_CSUM_OFFSET);
    }
}

/// The directory entry type for `mode`, or 0 if the mode is not one an
/// inode may have (regular file, directory, symlink).
pub fn file_type_of_mode(mode: u16) -> u8 {
    match mode & S_IFMT {
        S_IFREG => DT_REG,
        S_IFDIR => DT_DIR,
        S_IFLNK => DT_LNK,
        _ => 0,
    }
}

/// Inode slot `slot` (0..16) of an inode table block.
pub fn inode_slot(block: &Block, slot: usize) -> Option<&[u8; INODE_SIZE]> {
    if slot >= INODES_PER_BLOCK {
        return None;
    }
    sub(block, record_at(0, slot, INODE_SIZE))
}

/// Inode slot `slot` (0..16) of an inode table block, for writing.
pub fn inode_slot_mut(block: &mut Block, slot: usize) -> Option<&mut [u8; INODE_SIZE]> {
    if slot >= INODES_PER_BLOCK {
        return None;
    }
    sub_mut(block, record_at(0, slot, INODE_SIZE))
}

/// The chain extents of a file whose extents are `extents`, cut into the
/// contents of successive chain blocks.
pub fn chain_chunks(extents: &[Extent]) -> core::slice::Chunks<'_, Extent> {
    extents
        .get(INLINE_EXTENTS..)
        .unwrap_or(&[])
        .chunks(CHAIN_EXTENTS)
}

/// Chain blocks needed for a file of `extent_count` extents.
pub fn chain_blocks_needed(extent_count: u64) -> u64 {
    extent_count
        .saturating_sub(INLINE_EXTENTS as u64)
        .div_ceil(CHAIN_EXTENTS as u64)
}

const CH_MAGIC: usize = 0;
const CH_COUNT: usize = 4;
const CH_NEXT: usize = 8;
const CH_EXTENTS: usize = 16;

/// A decoded extent chain block; its extents were checked by
/// [`ChainBlock::decode`].
#[derive(Clone, Copy, Debug)]
pub struct ChainBlock<'a> {
    /// Extents in this block, 1..=254.
    pub count: u32,
    /// The next chain block, 0 for the last.
    pub next: u64,
    raw: &'a Block,
}

impl<'a> ChainBlock<'a> {
    /// Decodes and checks an extent chain block: magic, checksum, count,
    /// each extent on its own, unused slots zero.
    pub fn decode(block: &'a Block) -> Result<Self, RecordError> {
        if get_u32(block, CH_MAGIC) != CHAIN_MAGIC {
            return Err(RecordError::BadChainMagic);
        }
        if !csum_ok(block, BLOCK_CSUM_OFFSET) {
            return Err(RecordError::BadChecksum);
        }
        let count = get_u32(block, CH_COUNT);
        if count == 0 || count as usize > CHAIN_EXTENTS {
            return Err(RecordError::BadChainCount);
        }
        let used_end = record_at(CH_EXTENTS, count as usize, EXTENT_SIZE);
        for off in (CH_EXTENTS..used_end).step_by(EXTENT_SIZE) {
            if let Some(raw) = sub::<EXTENT_SIZE>(block, off) {
                Extent::decode(raw)?;
            }
        }
        if !zero_span(block, used_end, BLOCK_CSUM_OFFSET) {
            return Err(RecordError::ReservedNotZero);
        }
        Ok(Self {
            count,
            next: get_u64(block, CH_NEXT),
            raw: block,
        })
    }

    /// The extents of this block, in order.
    pub fn extents(&self) -> impl Iterator<Item = Extent> + 'a {
        let raw = self.raw;
        (0..self.count as usize).filter_map(move |i| {
            sub::<EXTENT_SIZE>(raw, record_at(CH_EXTENTS, i, EXTENT_SIZE))
                .and_then(|r| Extent::decode(r).ok())
        })
    }
}

/// Encodes an extent chain block holding `extents` (1..=254 of them) and
/// pointing to `next`.
pub fn encode_chain_block(
    block: &mut Block,
    next: u64,
    extents: &[Extent],
) -> Result<(), RecordError> {
    if extents.is_empty() || extents.len() > CHAIN_EXTENTS {
        return Err(RecordError::BadChainCount);
    }
    block.fill(0);
    put(block, CH_MAGIC, CHAIN_MAGIC.to_le_bytes());
    put(block, CH_COUNT, (extents.len() as u32).to_le_bytes());
    put(block, CH_NEXT, next.to_le_bytes());
    for (i, e) in extents.iter().enumerate() {
        if let Some(slot) = sub_mut::<EXTENT_SIZE>(block, record_at(CH_EXTENTS, i, EXTENT_SIZE)) {
            e.encode(slot);
        }
    }
    set_csum(block, BLOCK_CSUM_OFFSET);
    Ok(())
}

/// A used directory entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DirEntry<'a> {
    /// The inode it names, non-zero.
    pub ino: u32,
    /// One of the `DT_` values.
    pub file_type: u8,
    /// The name, 1..=255 bytes, checked by [`valid_name`].
    pub name: &'a [u8],
}

const D_INO: usize = 0;
const D_NAME_LEN: usize = 4;
const D_FILE_TYPE: usize = 5;
const D_RESERVED: usize = 6;
const D_NAME: usize = 8;
/// Where the unused tail of a directory block starts.
pub const DIR_BLOCK_USED: usize = DIRENTS_PER_BLOCK * DIRENT_SIZE;

/// Whether `name` may be stored in a directory: 1..=255 bytes, no `/`, no
/// NUL, not `.` or `..`.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name != b"."
        && name != b".."
        && !name.iter().any(|&c| c == b'/' || c == 0)
}

/// Whether `t` is one of the `DT_` values a directory entry may carry.
pub fn valid_file_type(t: u8) -> bool {
    matches!(
        t,
        DT_FIFO | DT_CHR | DT_DIR | DT_BLK | DT_REG | DT_LNK | DT_SOCK
    )
}

fn dirent_bytes(block: &Block, slot: usize) -> Result<&[u8; DIRENT_SIZE], RecordError> {
    if slot >= DIRENTS_PER_BLOCK {
        return Err(RecordError::SlotOutOfRange);
    }
    sub(block, record_at(0, slot, DIRENT_SIZE)).ok_or(RecordError::SlotOutOfRange)
}

/// Decodes and checks directory entry `slot` (0..15) of a directory block:
/// `Ok(None)` for a free slot. The inode number is not checked against the
/// inode table.
pub fn decode_dirent(block: &Block, slot: usize) -> Result<Option<DirEntry<'_>>, RecordError> {
    let raw = dirent_bytes(block, slot)?;
    let ino = get_u32(raw, D_INO);
    if ino == 0 {
        return if is_zero(raw) {
            Ok(None)
        } else {
            Err(RecordError::FreeEntryNotZero)
        };
    }
    let name_len = usize::from(get_u8(raw, D_NAME_LEN));
    if name_len == 0 {
        return Err(RecordError::BadNameLength);
    }
    let file_type = get_u8(raw, D_FILE_TYPE);
    if !valid_file_type(file_type) {
        return Err(RecordError::BadFileType);
    }
    if get_u16(raw, D_RESERVED) != 0 {
        return Err(RecordError::ReservedNotZero);
    }
    let name = raw
        .get(D_NAME..D_NAME + name_len)
        .ok_or(RecordError::BadNameLength)?;
    if !valid_name(name) || !zero_span(raw, D_NAME + name_len, DIRENT_SIZE) {
        return Err(RecordError::BadName);
    }
    Ok(Some(DirEntry {
        ino,
        file_type,
        name,
    }))
}

/// Whether directory entry `slot` is free (ino 0); out-of-range slots are
/// not.
pub fn dirent_is_free(block: &Block, slot: usize) -> bool {
    dirent_bytes(block, slot).is_ok_and(|raw| get_u32(raw, D_INO) == 0)
}

/// Writes `entry` into slot `slot` of a directory block, or clears the slot
/// for `None`. Refuses invalid names, types and inode number 0.
pub fn encode_dirent(
    block: &mut Block,
    slot: usize,
    entry: Option<&DirEntry<'_>>,
) -> Result<(), RecordError> {
    if slot >= DIRENTS_PER_BLOCK {
        return Err(RecordError::SlotOutOfRange);
    }
    if let Some(e) = entry {
        if e.name.is_empty() || e.name.len() > MAX_NAME_LEN {
            return Err(RecordError::BadNameLength);
        }
        if !valid_name(e.name) {
            return Err(RecordError::BadName);
        }
        if !valid_file_type(e.file_type) {
            return Err(RecordError::BadFileType);
        }
        if e.ino == 0 {
            return Err(RecordError::FreeEntryNotZero);
        }
    }
    let raw = sub_mut::<DIRENT_SIZE>(block, record_at(0, slot, DIRENT_SIZE))
        .ok_or(RecordError::SlotOutOfRange)?;
    raw.fill(0);
    if let Some(e) = entry {
        put(raw, D_INO, e.ino.to_le_bytes());
        // Checked above: 1..=255.
        put(raw, D_NAME_LEN, [e.name.len() as u8]);
        put(raw, D_FILE_TYPE, [e.file_type]);
        if let Some(dst) = raw.get_mut(D_NAME..record_at(D_NAME, e.name.len(), 1)) {
            dst.copy_from_slice(e.name);
        }
    }
    Ok(())
}

/// Checks that the unused tail of a directory block (bytes 3960..4096) is
/// zero.
pub fn check_dir_block_tail(block: &Block) -> Result<(), RecordError> {
    if zero_span(block, DIR_BLOCK_USED, BLOCK_SIZE) {
        Ok(())
    } else {
        Err(RecordError::DirBlockTailNotZero)
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

    fn sb_block() -> Block {
        let mut b = [0u8; BLOCK_SIZE];
        Superblock {
            geometry: geo(),
            mkfs_time: 1_700_000_000,
            uuid: [7; 16],
        }
        .encode(&mut b);
        b
    }

    #[test]
    fn layout_constants() {
        assert_eq!(INODES_PER_BLOCK, 16);
        assert_eq!(BITS_PER_BITMAP_BLOCK, 32768);
        assert_eq!(CH_EXTENTS + CHAIN_EXTENTS * EXTENT_SIZE, 4080);
        assert_eq!(I_EXTENTS_END, 224);
        assert_eq!(DIR_BLOCK_USED, 3960);
        assert_eq!(MAX_INODES, 0xFFFF_FFF0);
        assert_eq!(1u64 << BLOCK_SHIFT, BLOCK_SIZE as u64);
    }

    #[test]
    fn geometry() {
        let g = geo();
        assert_eq!(g.bitmap_start, 1);
        assert_eq!(g.bitmap_blocks, 1);
        assert_eq!(g.inode_table_start, 2);
        assert_eq!(g.inode_table_blocks, 4);
        assert_eq!(g.data_start, 6);
        assert_eq!(g.inode_location(1), Some((2, 1)));
        assert_eq!(g.inode_location(17), Some((3, 1)));
        assert_eq!(g.inode_location(0), None);
        assert_eq!(g.inode_location(64), None);
        let g = Geometry::new(32769, 16).unwrap();
        assert_eq!(g.bitmap_blocks, 2);
        assert_eq!(g.data_start, 4);
        assert_eq!(Geometry::new(63, 16), Err(FormatError::TooSmall));
        assert_eq!(Geometry::new(64, 8), Err(FormatError::BadInodeCount));
        assert_eq!(Geometry::new(64, 24), Err(FormatError::BadInodeCount));
        assert_eq!(Geometry::new(64, 1 << 32), Err(FormatError::BadInodeCount));
        assert_eq!(Geometry::new(64, 62 * 16), Err(FormatError::NoRoomForData));
        assert!(Geometry::new(64, 61 * 16).is_ok());
    }

    #[test]
    fn superblock_roundtrip_and_errors() {
        let b = sb_block();
        let sb = Superblock::decode(&b, 1000).unwrap();
        assert_eq!(sb.geometry, geo());
        assert_eq!(sb.uuid, [7; 16]);
        assert_eq!(Superblock::decode(&b, 999), Err(FormatError::Truncated));
        assert_eq!(
            Superblock::decode(&[0; BLOCK_SIZE], 1000),
            Err(FormatError::NotDelafs)
        );

        let resum = |b: &mut Block| set_csum(b, BLOCK_CSUM_OFFSET);
        let mut v = b;
        put(&mut v, SB_VERSION, 2u32.to_le_bytes());
        assert_eq!(
            Superblock::decode(&v, 1000),
            Err(FormatError::UnsupportedVersion(2))
        );
        let mut c = b;
        c[100] ^= 1;
        assert_eq!(Superblock::decode(&c, 1000), Err(FormatError::BadChecksum));
        let mut s = b;
        put(&mut s, SB_BLOCK_SIZE, 1024u32.to_le_bytes());
        resum(&mut s);
        assert_eq!(
            Superblock::decode(&s, 1000),
            Err(FormatError::UnsupportedBlockSize(1024))
        );
        let mut f = b;
        put(&mut f, SB_FLAGS, 4u32.to_le_bytes());
        resum(&mut f);
        assert_eq!(
            Superblock::decode(&f, 1000),
            Err(FormatError::UnsupportedFlags(4))
        );
        for (off, val) in [
            (SB_DATA_START, 7u64),
            (SB_BITMAP_START, 2),
            (SB_INODE_TABLE_BLOCKS, 3),
            (SB_TOTAL_BLOCKS, 5),
        ] {
            let mut g = b;
            put(&mut g, off, val.to_le_bytes());
            resum(&mut g);
            assert_eq!(
                Superblock::decode(&g, 1000),
                Err(FormatError::BadGeometry),
                "{off}"
            );
        }
        let mut r = b;
        put(&mut r, SB_ROOT_INO, 2u32.to_le_bytes());
        resum(&mut r);
        assert_eq!(Superblock::decode(&r, 1000), Err(FormatError::BadGeometry));
    }

    #[test]
    fn initial_bitmap() {
        let g = Geometry::new(100, 16).unwrap();
        let mut b = [0u8; BLOCK_SIZE];
        g.initial_bitmap_block(0, &mut b);
        for block in 0..BITS_PER_BITMAP_BLOCK as usize {
            let used = (block as u64) < g.data_start || block >= 100;
            assert_eq!(bitmap_test(&b, block), used, "{block}");
        }
    }

    fn sample_inode() -> Inode {
        let mut i = Inode::new(S_IFREG | 0o644);
        i.nlink = 1;
        i.uid = 1000;
        i.gid = 100;
        i.size = 12345;
        i.mtime = Timestamp {
            sec: -5,
            nsec: 999_999_999,
        };
        let extents = [ext(0, 2, 10), ext(5, 1, 20)];
        i.set_extents(&extents, 0).unwrap();
        i
    }

    #[test]
    fn inode_roundtrip_and_errors() {
        let i = sample_inode();
        let mut raw = [0u8; INODE_SIZE];
        i.encode(&mut raw);
        assert_eq!(Inode::decode(&raw), Ok(Some(i)));
        assert_eq!(Inode::decode(&[0; INODE_SIZE]), Ok(None));

        let mut bad = raw;
        bad[17] ^= 1;
        assert_eq!(Inode::decode(&bad), Err(RecordError::BadChecksum));

        let mut dir = i;
        dir.mode = S_IFDIR | 0o755;
        dir.encode(&mut raw);
        assert_eq!(Inode::decode(&raw), Err(RecordError::BadParent));
        dir.parent = 1;
        dir.size = 4097;
        dir.encode(&mut raw);
        assert_eq!(Inode::decode(&raw), Err(RecordError::BadDirSize));
        dir.size = 8192;
        dir.encode(&mut raw);
        assert!(Inode::decode(&raw).is_ok());

        // Sizes: up to the largest file, never past it (nor negative as an
        // loff_t).
        for (size, ok) in [
            (0, true),
            (1, true),
            (MAX_FILE_SIZE - 1, true),
            (MAX_FILE_SIZE, true),
            (MAX_FILE_SIZE + 1, false),
            (i64::MAX as u64, false),
            (1 << 63, false),
            (u64::MAX, false),
        ] {
            let mut f = i;
            f.size = size;
            f.encode(&mut raw);
            let want = if ok {
                Ok(Some(f))
            } else {
                Err(RecordError::SizeTooLarge)
            };
            assert_eq!(Inode::decode(&raw), want, "size {size}");
        }

        let mut m = i;
        m.mode = 0o060_644; // block device: not a delafs inode
        m.encode(&mut raw);
        assert_eq!(Inode::decode(&raw), Err(RecordError::BadMode));

        let mut t = i;
        t.ctime.nsec = NSEC_PER_SEC;
        t.encode(&mut raw);
        assert_eq!(Inode::decode(&raw), Err(RecordError::BadTimestamp));

        let mut z = i;
        z.inline[1].len = 0;
        z.encode(&mut raw);
        assert_eq!(Inode::decode(&raw), Err(RecordError::ZeroLengthExtent));

        let mut c = i;
        c.extent_chain = 99;
        c.encode(&mut raw);
        assert_eq!(Inode::decode(&raw), Err(RecordError::BadExtentCount));

        let mut free = [0u8; INODE_SIZE];
        free[INODE_CSUM_OFFSET] = 1;
        assert_eq!(Inode::decode(&free), Err(RecordError::BadChecksum));
        let mut free = [0u8; INODE_SIZE];
        free[8] = 1;
        set_csum(&mut free, INODE_CSUM_OFFSET);
        assert_eq!(Inode::decode(&free), Err(RecordError::FreeSlotNotZero));

        let mut r = [0u8; INODE_SIZE];
        i.encode(&mut r);
        r[80] = 1;
        set_csum(&mut r, INODE_CSUM_OFFSET);
        assert_eq!(Inode::decode(&r), Err(RecordError::ReservedNotZero));
    }

    #[test]
    fn root_inode() {
        let mut raw = [0u8; INODE_SIZE];
        Inode::root(Timestamp::default()).encode(&mut raw);
        let root = Inode::decode(&raw).unwrap().unwrap();
        assert!(root.is_dir());
        assert_eq!(root.mode, 0o040_755);
        assert_eq!(
            (root.nlink, root.parent, root.size, root.extent_count),
            (2, 1, 0, 0)
        );
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
        assert!(c.check_chain_block(6).is_ok());
        assert!(c.check_chain_block(1000).is_err());
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

    #[test]
    fn chain_blocks() {
        let mut extents = [Extent::default(); 300];
        for (i, e) in extents.iter_mut().enumerate() {
            *e = ext(2 * i as u32, 1, 100 + i as u64);
        }
        assert_eq!(chain_blocks_needed(8), 0);
        assert_eq!(chain_blocks_needed(9), 1);
        assert_eq!(chain_blocks_needed(8 + 254), 1);
        assert_eq!(chain_blocks_needed(8 + 255), 2);
        let chunks: [usize; 2] = {
            let mut c = chain_chunks(&extents);
            [c.next().unwrap().len(), c.next().unwrap().len()]
        };
        assert_eq!(chunks, [254, 38]);

        let mut b = [0u8; BLOCK_SIZE];
        encode_chain_block(&mut b, 77, &extents[8..262]).unwrap();
        let c = ChainBlock::decode(&b).unwrap();
        assert_eq!((c.count, c.next), (254, 77));
        assert!(c.extents().eq(extents[8..262].iter().copied()));
        assert_eq!(
            encode_chain_block(&mut b, 0, &[]),
            Err(RecordError::BadChainCount)
        );
        assert_eq!(
            encode_chain_block(&mut b, 0, &extents[..255]),
            Err(RecordError::BadChainCount)
        );

        encode_chain_block(&mut b, 0, &extents[..3]).unwrap();
        let mut bad = b;
        bad[0] ^= 1;
        assert_eq!(
            ChainBlock::decode(&bad).err(),
            Some(RecordError::BadChainMagic)
        );
        let mut bad = b;
        bad[3000] = 1;
        assert_eq!(
            ChainBlock::decode(&bad).err(),
            Some(RecordError::BadChecksum)
        );
        set_csum(&mut bad, BLOCK_CSUM_OFFSET);
        assert_eq!(
            ChainBlock::decode(&bad).err(),
            Some(RecordError::ReservedNotZero)
        );
        let mut bad = b;
        put(&mut bad, CH_COUNT, 255u32.to_le_bytes());
        set_csum(&mut bad, BLOCK_CSUM_OFFSET);
        assert_eq!(
            ChainBlock::decode(&bad).err(),
            Some(RecordError::BadChainCount)
        );
    }

    #[test]
    fn set_extents_rules() {
        let mut i = Inode::new(S_IFREG);
        let e = [ext(0, 1, 9); 9];
        assert_eq!(i.set_extents(&e, 0), Err(RecordError::BadExtentCount));
        assert_eq!(i.set_extents(&e[..8], 5), Err(RecordError::BadExtentCount));
        i.set_extents(&e, 5).unwrap();
        assert_eq!(i.inline_extents().len(), 8);
        assert_eq!(i.chain_extent_count(), 1);
    }

    #[test]
    fn dirents() {
        let mut b = [0u8; BLOCK_SIZE];
        let e = DirEntry {
            ino: 5,
            file_type: DT_REG,
            name: b"hello",
        };
        encode_dirent(&mut b, 14, Some(&e)).unwrap();
        assert_eq!(decode_dirent(&b, 14), Ok(Some(e)));
        assert_eq!(decode_dirent(&b, 0), Ok(None));
        assert!(dirent_is_free(&b, 0));
        assert!(!dirent_is_free(&b, 14));
        assert!(!dirent_is_free(&b, 15));
        assert_eq!(decode_dirent(&b, 15), Err(RecordError::SlotOutOfRange));
        assert!(check_dir_block_tail(&b).is_ok());
        let long = [b'x'; 255];
        let e = DirEntry {
            ino: 5,
            file_type: DT_DIR,
            name: &long,
        };
        encode_dirent(&mut b, 0, Some(&e)).unwrap();
        assert_eq!(decode_dirent(&b, 0), Ok(Some(e)));
        encode_dirent(&mut b, 0, None).unwrap();
        assert_eq!(decode_dirent(&b, 0), Ok(None));

        for name in [&b""[..], b".", b"..", b"a/b", b"a\0"] {
            let e = DirEntry {
                ino: 5,
                file_type: DT_REG,
                name,
            };
            assert!(encode_dirent(&mut b, 1, Some(&e)).is_err());
        }
        let e = DirEntry {
            ino: 5,
            file_type: 3,
            name: b"x",
        };
        assert_eq!(
            encode_dirent(&mut b, 1, Some(&e)),
            Err(RecordError::BadFileType)
        );

        let mut raw = b;
        raw[DIRENT_SIZE + 8] = b'a';
        assert_eq!(decode_dirent(&raw, 1), Err(RecordError::FreeEntryNotZero));
        let mut raw = b;
        encode_dirent(
            &mut raw,
            1,
            Some(&DirEntry {
                ino: 5,
                file_type: DT_REG,
                name: b"ab",
            }),
        )
        .unwrap();
        raw[DIRENT_SIZE + 8 + 1] = b'/';
        assert_eq!(decode_dirent(&raw, 1), Err(RecordError::BadName));
        raw[DIRENT_SIZE + 8 + 1] = b'b';
        raw[DIRENT_SIZE + 8 + 2] = b'c';
        assert_eq!(decode_dirent(&raw, 1), Err(RecordError::BadName));
        raw[DIRENT_SIZE + 8 + 2] = 0;
        raw[DIRENT_SIZE + 4] = 0;
        assert_eq!(decode_dirent(&raw, 1), Err(RecordError::BadNameLength));
        raw[DIRENT_SIZE + 4] = 2;
        raw[DIRENT_SIZE + 5] = 0;
        assert_eq!(decode_dirent(&raw, 1), Err(RecordError::BadFileType));
        let mut raw = b;
        raw[4000] = 1;
        assert_eq!(
            check_dir_block_tail(&raw),
            Err(RecordError::DirBlockTailNotZero)
        );
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
                put(&mut b, CH_MAGIC, CHAIN_MAGIC.to_le_bytes());
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
