//! Making a filesystem: the layout, then the metadata blocks, superblock
//! last.

use std::fmt;
use std::io;

use delafs::shared::format::{
    inode_slot_mut, Features, FormatError, Geometry, Inode, Superblock, Timestamp, BLOCK_SIZE,
    ROOT_INO,
};

use super::disk::{zeroed_block, Disk};

/// Most inodes `mkfs` picks by itself.
pub const MAX_DEFAULT_INODES: u64 = 1 << 20;

/// The default inode count for `total_blocks`: one per four blocks, in
/// whole inode table blocks, at least 16 and at most 2^20.
pub fn default_inode_count(total_blocks: u64) -> u64 {
    (total_blocks / 4 / 16 * 16).clamp(16, MAX_DEFAULT_INODES)
}

/// Why `format` failed.
#[derive(Debug)]
pub enum MkfsError {
    /// The requested layout is impossible.
    Format(FormatError),
    /// Writing the device failed.
    Io(io::Error),
}

impl fmt::Display for MkfsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Format(e) => write!(f, "{e}"),
            Self::Io(e) => write!(f, "write error: {e}"),
        }
    }
}

impl From<io::Error> for MkfsError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// Writes a new, empty filesystem of `total_blocks` blocks with
/// `inode_count` inodes. Block 0 is zeroed first and the superblock written
/// last, so an interrupted run leaves no superblock that a mount would
/// accept.
pub fn format(
    disk: &mut dyn Disk,
    total_blocks: u64,
    inode_count: u64,
    mkfs_time: u64,
    uuid: [u8; 16],
) -> Result<Superblock, MkfsError> {
    let geometry = Geometry::new(total_blocks, inode_count).map_err(MkfsError::Format)?;
    if total_blocks > disk.blocks() {
        return Err(MkfsError::Format(FormatError::Truncated));
    }
    let sb = Superblock {
        geometry,
        features: Features::MKFS,
        mkfs_time,
        uuid,
    };
    let mut block = zeroed_block();
    disk.write_block(0, &block)?;

    for i in 0..geometry.bitmap_blocks {
        geometry.initial_bitmap_block(i, &mut block);
        disk.write_block(geometry.bitmap_start + i, &block)?;
    }

    // A zeroed inode table with the root inode.
    let time = Timestamp {
        sec: i64::try_from(mkfs_time).unwrap_or(i64::MAX),
        nsec: 0,
    };
    let (root_block, root_slot) = geometry
        .inode_location(ROOT_INO.into())
        .expect("the root inode is in the table");
    let zeros = zeroed_block();
    let mut root = zeroed_block();
    let slot = inode_slot_mut(&mut root, root_slot).expect("slot in range");
    Inode::root(time).encode(slot);
    for i in 0..geometry.inode_table_blocks {
        let n = geometry.inode_table_start + i;
        disk.write_block(n, if n == root_block { &root } else { &zeros })?;
    }

    disk.flush()?;
    sb.encode(&mut block);
    disk.write_block(0, &block)?;
    disk.flush()?;
    Ok(sb)
}

/// A human-readable size: `64 MiB`, `1.5 GiB`, `12 KiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut unit = 0;
    let mut scaled = bytes;
    let mut tenths = 0;
    while scaled >= 1024 && unit + 1 < UNITS.len() {
        tenths = (scaled % 1024) * 10 / 1024;
        scaled /= 1024;
        unit += 1;
    }
    if tenths == 0 {
        format!("{scaled} {}", UNITS[unit])
    } else {
        format!("{scaled}.{tenths} {}", UNITS[unit])
    }
}

/// The geometry as `mkfs` prints it.
pub fn describe(sb: &Superblock) -> String {
    let g = &sb.geometry;
    let range = |start: u64, n: u64| {
        let s = if n == 1 { "" } else { "s" };
        format!("blocks {start}..{} ({n} block{s})", start + n)
    };
    let uuid: String = sb
        .uuid
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let dash = if matches!(i, 4 | 6 | 8 | 10) { "-" } else { "" };
            format!("{dash}{b:02x}")
        })
        .collect();
    format!(
        "{} blocks of {BLOCK_SIZE} bytes ({}), {} inodes\n\
         \x20 superblock   block 0\n\
         \x20 bitmap       {}\n\
         \x20 inode table  {}\n\
         \x20 data         {}\n\
         \x20 free blocks  {}\n\
         \x20 uuid         {uuid}\n",
        g.total_blocks,
        human_size(g.total_blocks * BLOCK_SIZE as u64),
        g.inode_count,
        range(g.bitmap_start, g.bitmap_blocks),
        range(g.inode_table_start, g.inode_table_blocks),
        range(g.data_start, g.data_blocks()),
        g.data_blocks(),
    )
}
