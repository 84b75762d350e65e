// SPDX-License-Identifier: GPL-2.0

//! Inodes, in the inode table `[inode_table_start, +inode_table_blocks)`.
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
//! A new filesystem ([`Inode::root`]) has only the root: inode 1, mode
//! `0o040755`, nlink 2, parent 1, size 0, no extents.

use super::bytes::{
    csum_ok, get_i64, get_u16, get_u32, get_u64, is_zero, put, record_at, set_csum, sub, sub_mut,
    zero_span,
};
use super::{
    Block, Extent, RecordError, BLOCK_SIZE, DT_DIR, DT_LNK, DT_REG, EXTENT_SIZE, INLINE_EXTENTS,
    MAX_FILE_SIZE,
};

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

/// File type mask of `mode`.
pub const S_IFMT: u16 = 0o170_000;
/// Regular file.
pub const S_IFREG: u16 = 0o100_000;
/// Directory.
pub const S_IFDIR: u16 = 0o040_000;
/// Symbolic link.
pub const S_IFLNK: u16 = 0o120_000;

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
                unwritten: false,
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

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn layout_constants() {
        assert_eq!(INODES_PER_BLOCK, 16);
        assert_eq!(I_EXTENTS_END, 224);
        assert_eq!(MAX_INODES, 0xFFFF_FFF0);
    }

    fn ext(logical: u32, len: u32, physical: u64) -> Extent {
        Extent {
            logical,
            len,
            physical,
            unwritten: false,
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
    fn set_extents_rules() {
        let mut i = Inode::new(S_IFREG);
        let e = [ext(0, 1, 9); 9];
        assert_eq!(i.set_extents(&e, 0), Err(RecordError::BadExtentCount));
        assert_eq!(i.set_extents(&e[..8], 5), Err(RecordError::BadExtentCount));
        i.set_extents(&e, 5).unwrap();
        assert_eq!(i.inline_extents().len(), 8);
        assert_eq!(i.chain_extent_count(), 1);
    }
}
