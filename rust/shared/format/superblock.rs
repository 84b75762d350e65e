// SPDX-License-Identifier: GPL-2.0

//! The superblock (block 0) and the geometry it implies.
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
//! | 76     | u32      | feature_compat       | compatible features (none defined) |
//! | 80     | u64      | mkfs_time            | unix seconds |
//! | 88     | [u8; 16] | uuid                 | random |
//! | 104    | u32      | feature_ro_compat    | read-only compatible features (none defined) |
//! | 108    | u32      | feature_incompat     | incompatible features: [`INCOMPAT_UNWRITTEN`] |
//! | 112    |          | zeros                | up to the checksum |
//! | 4092   | u32      | crc32c of bytes 0..4092 | |
//!
//! # Feature bits
//!
//! The version stays 1; what a filesystem uses beyond the first format is
//! said by three feature fields ([`Features`]), as ext4 and XFS v5 do. A
//! bit this code does not know is handled by the field it is in:
//!
//! | field | unknown bit | why |
//! |---|---|---|
//! | `feature_compat` | ignored: mounts read-write | the feature changes nothing an older kernel could break |
//! | `feature_ro_compat` | read-only mount only ([`Features::check_writable`]: [`FormatError::UnsupportedRoCompat`]) | reading is safe, writing could break the feature's metadata |
//! | `feature_incompat` | refused ([`FormatError::UnsupportedIncompat`]) | the on-disk structures mean something this code does not know |
//!
//! The features defined:
//!
//! | field | bit | name | meaning |
//! |---|---|---|---|
//! | `feature_incompat` | 0 | [`INCOMPAT_UNWRITTEN`] | bit 31 of an extent's `len` is the unwritten flag ([`super::extent`]); set by every `mkfs.delafs` since feature bits exist |
//! | `feature_incompat` | 1 | [`INCOMPAT_DIR_INDEX`] | directories past one entry block have a hash index at logical blocks 2^31.. ([`super::dir_index`]); set by `mkfs.delafs` since it exists. Without it directories stay linear; `fsck.delafs --upgrade` sets it, and a linear directory gets its index when it next grows by a block |
//!
//! Images made before feature bits have all three fields zero (offset 76
//! was `flags`, 0; 104..112 were zeros). Their extents' bit 31 is part of
//! the length, so this code does not read them as they are: an image
//! without [`INCOMPAT_UNWRITTEN`] is refused with
//! [`FormatError::NeedsUpgrade`], and `fsck.delafs --upgrade` checks it
//! (no extent of 2^31 blocks or more, which the new format cannot say) and
//! sets the bit. Nothing else changes, so the upgrade is one superblock
//! write.
//!
//! A superblock is checked in this order, the first failure giving the
//! error ([`FormatError`]): magic, version, checksum, block size, reserved
//! field and tail ([`FormatError::UnsupportedFlags`]), unknown incompat
//! bits, [`INCOMPAT_UNWRITTEN`] ([`FormatError::NeedsUpgrade`]), geometry
//! (derived fields, `data_start < total_blocks`, inode count), device size
//! (`total_blocks` must not exceed the device). Unknown ro_compat bits are
//! not an error of the decode: [`Features::check_writable`] says whether a
//! read-write mount may proceed.

use super::bytes::{csum_ok, get_u32, get_u64, put, set_csum, sub, zero_span};
use super::inode::{INODES_PER_BLOCK, MAX_INODES, MIN_INODES, ROOT_INO};
use super::{Block, BITS_PER_BITMAP_BLOCK, BLOCK_CSUM_OFFSET, BLOCK_SIZE};

/// The superblock magic.
pub const MAGIC: [u8; 8] = *b"delafs\0\0";
/// The format version this code reads and writes.
pub const VERSION: u32 = 1;
/// Smallest filesystem, in blocks; `mkfs` refuses smaller devices.
pub const MIN_BLOCKS: u64 = 64;

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
    /// The reserved field (offset 28) is not zero (the value), or bytes
    /// between the fields and the checksum are not.
    UnsupportedFlags(u32),
    /// Incompatible features this code does not know (the unknown bits):
    /// the filesystem cannot be mounted at all.
    UnsupportedIncompat(u32),
    /// Read-only compatible features this code does not know (the unknown
    /// bits): the filesystem can be read, not written.
    UnsupportedRoCompat(u32),
    /// Made before feature bits existed (no [`INCOMPAT_UNWRITTEN`]):
    /// `fsck.delafs --upgrade` makes it current.
    NeedsUpgrade,
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
            Self::UnsupportedFlags(_) => "reserved superblock bytes are not zero",
            Self::UnsupportedIncompat(_) => "unsupported incompatible features",
            Self::UnsupportedRoCompat(_) => {
                "unsupported read-only compatible features (mount read-only)"
            }
            Self::NeedsUpgrade => "made before format feature bits: run fsck.delafs --upgrade",
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
            Self::UnsupportedFlags(v)
            | Self::UnsupportedIncompat(v)
            | Self::UnsupportedRoCompat(v) => write!(f, "{}: {v:#x}", self.describe()),
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
}

/// Incompatible feature: bit 31 of an extent's `len` is the unwritten flag
/// ([`super::EXTENT_UNWRITTEN`]).
pub const INCOMPAT_UNWRITTEN: u32 = 1;
/// Incompatible feature: directories that grow past one entry block get a
/// hash index past their size ([`super::dir_index`]). Without it
/// directories stay linear (an older kernel would take the index blocks
/// for blocks past EOF).
pub const INCOMPAT_DIR_INDEX: u32 = 2;
/// The incompatible features this code knows; any other bit is refused.
pub const INCOMPAT_SUPPORTED: u32 = INCOMPAT_UNWRITTEN | INCOMPAT_DIR_INDEX;
/// The read-only compatible features this code knows (none); any other bit
/// allows a read-only mount only.
pub const RO_COMPAT_SUPPORTED: u32 = 0;
/// The compatible features this code knows (none); other bits are ignored.
pub const COMPAT_SUPPORTED: u32 = 0;

/// The three feature fields of the superblock (the policy table is in the
/// module docs).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Features {
    /// `feature_compat`: unknown bits are ignored.
    pub compat: u32,
    /// `feature_ro_compat`: unknown bits allow a read-only mount only.
    pub ro_compat: u32,
    /// `feature_incompat`: unknown bits refuse the filesystem.
    pub incompat: u32,
}

impl Features {
    /// What `mkfs.delafs` writes.
    pub const MKFS: Features = Features {
        compat: 0,
        ro_compat: 0,
        incompat: INCOMPAT_UNWRITTEN | INCOMPAT_DIR_INDEX,
    };

    /// Whether the filesystem may be written by this code: an unknown
    /// ro_compat bit gives [`FormatError::UnsupportedRoCompat`] with the
    /// unknown bits.
    pub fn check_writable(&self) -> Result<(), FormatError> {
        let unknown = self.ro_compat & !RO_COMPAT_SUPPORTED;
        if unknown != 0 {
            return Err(FormatError::UnsupportedRoCompat(unknown));
        }
        Ok(())
    }

    /// Whether directories may be indexed ([`INCOMPAT_DIR_INDEX`]).
    pub fn dir_index(&self) -> bool {
        self.incompat & INCOMPAT_DIR_INDEX != 0
    }

    /// Whether the fields are readable by this code: unknown incompat bits,
    /// then a missing [`INCOMPAT_UNWRITTEN`] (an image from before feature
    /// bits). Compat and ro_compat bits never refuse a read.
    pub fn check_readable(&self) -> Result<(), FormatError> {
        let unknown = self.incompat & !INCOMPAT_SUPPORTED;
        if unknown != 0 {
            return Err(FormatError::UnsupportedIncompat(unknown));
        }
        if self.incompat & INCOMPAT_UNWRITTEN == 0 {
            return Err(FormatError::NeedsUpgrade);
        }
        Ok(())
    }
}

/// The superblock.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Superblock {
    /// The layout.
    pub geometry: Geometry,
    /// The feature fields.
    pub features: Features,
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
const SB_FEATURE_COMPAT: usize = 76;
const SB_MKFS_TIME: usize = 80;
const SB_UUID: usize = 88;
const SB_FEATURE_RO_COMPAT: usize = 104;
const SB_FEATURE_INCOMPAT: usize = 108;
/// End of the superblock fields; zeros follow up to the checksum.
const SB_END: usize = 112;

impl Superblock {
    /// Decodes and checks block 0 of a device of `device_blocks` blocks.
    /// Errors come in the order documented in the module docs.
    pub fn decode(block: &Block, device_blocks: u64) -> Result<Self, FormatError> {
        Self::decode_inner(block, device_blocks, false)
    }

    /// [`Superblock::decode`], but a superblock from before feature bits
    /// (no [`INCOMPAT_UNWRITTEN`], [`FormatError::NeedsUpgrade`]) is
    /// accepted, with its feature fields as stored: for `fsck.delafs
    /// --upgrade`, which checks such an image before it sets the bit.
    pub fn decode_for_upgrade(block: &Block, device_blocks: u64) -> Result<Self, FormatError> {
        Self::decode_inner(block, device_blocks, true)
    }

    fn decode_inner(
        block: &Block,
        device_blocks: u64,
        upgrading: bool,
    ) -> Result<Self, FormatError> {
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
        let reserved = get_u32(block, SB_RESERVED);
        if reserved != 0 || !zero_span(block, SB_END, BLOCK_CSUM_OFFSET) {
            return Err(FormatError::UnsupportedFlags(reserved));
        }
        let features = Features {
            compat: get_u32(block, SB_FEATURE_COMPAT),
            ro_compat: get_u32(block, SB_FEATURE_RO_COMPAT),
            incompat: get_u32(block, SB_FEATURE_INCOMPAT),
        };
        match features.check_readable() {
            Err(FormatError::NeedsUpgrade) if upgrading => {}
            r => r?,
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
            features,
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
        put(block, SB_FEATURE_COMPAT, self.features.compat.to_le_bytes());
        put(
            block,
            SB_FEATURE_RO_COMPAT,
            self.features.ro_compat.to_le_bytes(),
        );
        put(
            block,
            SB_FEATURE_INCOMPAT,
            self.features.incompat.to_le_bytes(),
        );
        set_csum(block, BLOCK_CSUM_OFFSET);
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn geo() -> Geometry {
        Geometry::new(1000, 64).unwrap()
    }

    fn sb_block() -> Block {
        let mut b = [0u8; BLOCK_SIZE];
        Superblock {
            geometry: geo(),
            features: Features::MKFS,
            mkfs_time: 1_700_000_000,
            uuid: [7; 16],
        }
        .encode(&mut b);
        b
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
        put(&mut f, SB_RESERVED, 4u32.to_le_bytes());
        resum(&mut f);
        assert_eq!(
            Superblock::decode(&f, 1000),
            Err(FormatError::UnsupportedFlags(4))
        );
        for off in [SB_END, BLOCK_CSUM_OFFSET - 1] {
            let mut t = b;
            put(&mut t, off, [1u8]);
            resum(&mut t);
            assert_eq!(
                Superblock::decode(&t, 1000),
                Err(FormatError::UnsupportedFlags(0)),
                "{off}"
            );
        }
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

    /// `b` with its feature fields set to `f`, checksum recomputed.
    fn with_features(f: Features) -> Block {
        let mut b = sb_block();
        put(&mut b, SB_FEATURE_COMPAT, f.compat.to_le_bytes());
        put(&mut b, SB_FEATURE_RO_COMPAT, f.ro_compat.to_le_bytes());
        put(&mut b, SB_FEATURE_INCOMPAT, f.incompat.to_le_bytes());
        set_csum(&mut b, BLOCK_CSUM_OFFSET);
        b
    }

    #[test]
    fn feature_layout() {
        let b = sb_block();
        assert_eq!(get_u32(&b, 76), 0);
        assert_eq!(get_u32(&b, 104), 0);
        assert_eq!(get_u32(&b, 108), INCOMPAT_UNWRITTEN | INCOMPAT_DIR_INDEX);
        assert_eq!(get_u32(&b, 28), 0);
        assert!(zero_span(&b, 112, BLOCK_CSUM_OFFSET));
        assert_eq!(
            Superblock::decode(&b, 1000).unwrap().features,
            Features::MKFS
        );
    }

    /// The policy table of the module docs, row by row.
    #[test]
    fn feature_policy() {
        let f = |compat, ro_compat, incompat| Features {
            compat,
            ro_compat,
            incompat,
        };
        let u = INCOMPAT_UNWRITTEN;
        // (features, decode, check_writable after a successful decode)
        type Row = (Features, Result<(), FormatError>, Result<(), FormatError>);
        let table: [Row; 12] = [
            // Current, and linear directories (no INCOMPAT_DIR_INDEX).
            (f(0, 0, u | INCOMPAT_DIR_INDEX), Ok(()), Ok(())),
            (f(0, 0, u), Ok(()), Ok(())),
            // Unknown compat bits are ignored.
            (f(1, 0, u), Ok(()), Ok(())),
            (f(0x8000_0000, 0, u), Ok(()), Ok(())),
            // Unknown ro_compat bits: readable, not writable.
            (f(0, 1, u), Ok(()), Err(FormatError::UnsupportedRoCompat(1))),
            (
                f(0, 0x8000_0001, u),
                Ok(()),
                Err(FormatError::UnsupportedRoCompat(0x8000_0001)),
            ),
            // Unknown incompat bits: refused, the unknown bits reported.
            (
                f(0, 0, u | 4),
                Err(FormatError::UnsupportedIncompat(4)),
                Ok(()),
            ),
            (
                f(0, 0, u | INCOMPAT_DIR_INDEX | 0x10),
                Err(FormatError::UnsupportedIncompat(0x10)),
                Ok(()),
            ),
            (
                f(0, 1, 0x8000_0000),
                Err(FormatError::UnsupportedIncompat(0x8000_0000)),
                Ok(()),
            ),
            // Before feature bits: all zero.
            (f(0, 0, 0), Err(FormatError::NeedsUpgrade), Ok(())),
            // No INCOMPAT_UNWRITTEN, whatever else is set.
            (f(1, 0, 0), Err(FormatError::NeedsUpgrade), Ok(())),
            (f(0, 1, 0), Err(FormatError::NeedsUpgrade), Ok(())),
        ];
        for (features, decode, writable) in table {
            let b = with_features(features);
            match Superblock::decode(&b, 1000) {
                Ok(sb) => {
                    assert_eq!(decode, Ok(()), "{features:?}");
                    assert_eq!(sb.features, features);
                    assert_eq!(sb.features.check_writable(), writable, "{features:?}");
                }
                Err(e) => assert_eq!(Err(e), decode, "{features:?}"),
            }
        }
    }

    #[test]
    fn upgrade_decode() {
        let old = with_features(Features::default());
        assert_eq!(
            Superblock::decode(&old, 1000),
            Err(FormatError::NeedsUpgrade)
        );
        let sb = Superblock::decode_for_upgrade(&old, 1000).unwrap();
        assert_eq!(sb.features, Features::default());
        assert_eq!(sb.geometry, geo());
        // Only NeedsUpgrade is let through.
        let bad = with_features(Features {
            incompat: 4,
            ..Features::default()
        });
        assert_eq!(
            Superblock::decode_for_upgrade(&bad, 1000),
            Err(FormatError::UnsupportedIncompat(4))
        );
        assert_eq!(
            Superblock::decode_for_upgrade(&old, 999),
            Err(FormatError::Truncated)
        );
        // The upgrade: the bit set, the rest as it was.
        let mut up = sb;
        up.features.incompat |= INCOMPAT_UNWRITTEN;
        let mut b = [0u8; BLOCK_SIZE];
        up.encode(&mut b);
        assert_eq!(Superblock::decode(&b, 1000), Ok(up));
        assert!(FormatError::NeedsUpgrade
            .describe()
            .contains("fsck.delafs --upgrade"));
    }
}
