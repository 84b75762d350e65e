// SPDX-License-Identifier: GPL-2.0

//! On-disk structures through the buffer cache: the shared encoders and
//! decoders of [`crate::shared::format`] applied to blocks read and written
//! with [`crate::vfs::buffer::Buffer`].

use kernel::prelude::*;
use kernel::sync::Mutex;

use super::alloc::Space;
use super::DSuperBlock;
use crate::shared::claim::{ClaimError, ClaimMap};
use crate::shared::format::{
    self, bitmap_test, decode_dirent, encode_dirent, inode_slot, inode_slot_mut, walk_extents_of,
    Block, ChainLayout, ChainPlan, ExtentChecker, FormatError, Inode, Timestamp, Visit, WalkError,
    INODE_SIZE,
};
use crate::shared::space::FreeSpace;
use crate::vfs::buffer::Buffer;
use crate::vfs::error::euclean;
use crate::vfs::{New, SbState, Time};

pub(crate) use crate::shared::format::{
    DirEntry, Features, Geometry, Superblock, BLOCK_SIZE, DIRENTS_PER_BLOCK, INODES_PER_BLOCK,
    MAX_NAME_LEN,
};

pub(crate) const ROOT_INO: u64 = format::ROOT_INO as u64;

/// An extent as the filesystem logic sees it (64-bit fields).
#[derive(Clone, Copy)]
pub(crate) struct Extent {
    pub(crate) logical: u64,
    pub(crate) len: u64,
    pub(crate) physical: u64,
    /// Allocated, no data yet: reads as zeros (`format::EXTENT_UNWRITTEN`).
    pub(crate) unwritten: bool,
}

/// An inode's attributes, as stored.
pub(crate) struct DiskInode {
    pub(crate) mode: u16,
    pub(crate) nlink: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) size: u64,
    pub(crate) atime: Time,
    pub(crate) mtime: Time,
    pub(crate) ctime: Time,
    pub(crate) parent: u64,
    /// Blocks mapped (stat's `st_blocks` / 8).
    pub(crate) blocks: u64,
}

fn corrupt() -> Error {
    euclean()
}

fn to_time(t: Timestamp) -> Time {
    Time {
        sec: t.sec,
        nsec: t.nsec,
    }
}

fn to_timestamp(t: Time) -> Timestamp {
    Timestamp {
        sec: t.sec,
        nsec: t.nsec,
    }
}

/// The errno a mount refused for `e` returns: a feature this code cannot
/// write is `EROFS` (a read-only mount works), a corrupt superblock
/// `EUCLEAN`, anything else (not delafs, an unknown incompatible feature,
/// an image to upgrade) `EINVAL`.
pub(crate) fn mount_errno(e: &FormatError) -> Error {
    match e {
        FormatError::BadChecksum | FormatError::BadGeometry => corrupt(),
        FormatError::UnsupportedRoCompat(_) => EROFS,
        _ => EINVAL,
    }
}

/// Decodes and checks the superblock (block 0) of a device of
/// `device_blocks` blocks: unknown incompatible features and images made
/// before feature bits are refused here; whether the filesystem may be
/// written is [`Features::check_writable`] on the result.
pub(crate) fn decode_superblock(
    block: &[u8; BLOCK_SIZE],
    device_blocks: u64,
) -> Result<Superblock, FormatError> {
    Superblock::decode(block, device_blocks)
}

/// Fills `free` from the bitmap blocks.
pub(crate) fn load_free_space<M: crate::shared::extent_map::OrderedMap<u64>>(
    geo: &Geometry,
    bitmap: &[Buffer],
    free: &mut FreeSpace<M>,
) -> core::result::Result<(), &'static str> {
    let per_block = format::BITS_PER_BITMAP_BLOCK;
    for (i, buf) in bitmap.iter().enumerate() {
        let first = i as u64 * per_block;
        let nbits = (geo.total_blocks - first).min(per_block);
        free.add_bitmap(buf.lock().data(), first, nbits)
            .map_err(|_| "free-space bitmap does not load")?;
    }
    Ok(())
}

pub(crate) fn block_used(geo: &Geometry, bitmap: &[Buffer], block: u64) -> bool {
    let (bitmap_block, bit) = geo.bitmap_location(block);
    bitmap
        .get((bitmap_block - geo.bitmap_start) as usize)
        .is_some_and(|buf| bitmap_test(buf.lock().data(), bit))
}

// The buffer cache's block size (set with sb_set_blocksize()) is the
// format's block size: one meaning, so one value. rust/fs names it
// `format::BLOCK_SIZE`; this keeps the binding layer's copy in step.
const _: () = assert!(crate::vfs::buffer::BLOCK_SIZE == BLOCK_SIZE);

/// Walks an inode's extents, inline then chained, checking them (the shared
/// walk the image builder and, driving it past errors, fsck use): sorted,
/// inside the data area, as many as the inode says, the chain loop-free.
/// Chain block numbers and extents go to `visit`, in stored order.
fn walk_inode_extents<S: SbState>(
    sb: &DSuperBlock<S>,
    geo: &Geometry,
    dir_index: bool,
    inode: &Inode,
    visit: impl FnMut(Visit<'_>) -> Result,
) -> Result<(), WalkError<Error>> {
    let read = |block, f: &mut dyn FnMut(&Block)| {
        f(sb.read_block(block)?.lock().data());
        Ok(())
    };
    walk_extents_of(geo, inode, dir_index, read, visit)
}

/// Mount-time check of inode slot `slot` of an inode table block: `Ok(true)`
/// if it is in use and sound: its blocks marked used in the bitmap, and
/// claimed by nothing else (`claimed` collects every block of every inode,
/// so two files sharing a block, an extent over an extent chain block or a
/// chain looping back on itself are all found here).
pub(crate) fn check_inode(
    sb: &DSuperBlock<New>,
    geo: &Geometry,
    features: &Features,
    bitmap: &[Buffer],
    claimed: &mut ClaimMap<'_>,
    block: &[u8; BLOCK_SIZE],
    slot: usize,
) -> core::result::Result<bool, Problem> {
    let raw = inode_slot(block, slot).ok_or(Problem::Record("no such slot"))?;
    let inode = match Inode::decode(raw) {
        Ok(None) => return Ok(false),
        Ok(Some(inode)) => inode,
        Err(e) => return Err(Problem::Record(e.describe())),
    };
    let mut problem = None;
    let walked = walk_inode_extents(sb, geo, features.dir_index(), &inode, |visit| {
        if problem.is_some() {
            return Ok(());
        }
        let (start, len) = visit.blocks();
        let Some(end) = start.checked_add(len) else {
            problem = Some(Problem::Range);
            return Ok(());
        };
        if let Some(b) = (start..end).find(|&b| !block_used(geo, bitmap, b)) {
            problem = Some(Problem::Free(b));
        } else if let Err(e) = claimed.claim(start, len) {
            problem = Some(match e {
                ClaimError::AlreadyClaimed { block } => Problem::Shared(block),
                ClaimError::OutOfRange => Problem::Range,
            });
        }
        Ok(())
    });
    match walked {
        Ok(()) => problem.map_or(Ok(true), Err),
        Err(WalkError::Chain(e)) => Err(Problem::Record(e.record_error().describe())),
        Err(WalkError::Extent(e)) => Err(Problem::Record(e.describe())),
        Err(WalkError::Caller(_)) => Err(Problem::Io),
    }
}

/// Why the mount-time check refused an inode.
#[derive(Clone, Copy)]
pub(crate) enum Problem {
    /// The inode or one of its extent blocks fails its verifier.
    Record(&'static str),
    /// A block it uses that the bitmap calls free.
    Free(u64),
    /// A block it uses that metadata or another inode uses too.
    Shared(u64),
    /// An extent that does not fit the device.
    Range,
    /// Its extent chain could not be read.
    Io,
}

impl core::fmt::Display for Problem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Record(why) => f.write_str(why),
            Self::Free(b) => write!(f, "block {b} is in use but the bitmap says it is free"),
            Self::Shared(b) => write!(f, "block {b} is also used by metadata or another inode"),
            Self::Range => f.write_str("extent outside the device"),
            Self::Io => f.write_str("I/O error reading its extents"),
        }
    }
}

/// Blocks read after an inode table or directory block that is not cached
/// (32 KiB in all, two XFS inode clusters of 512-byte inodes).
pub(crate) const READ_AHEAD: u32 = 7;

/// Reads inode `ino`: its attributes, its extents (to `on_extent`, in order)
/// and its chain blocks (into `chain`).
pub(crate) fn read_inode(
    sb: &DSuperBlock,
    geo: &Geometry,
    ino: u64,
    chain: &mut KVec<u64>,
    mut on_extent: impl FnMut(Extent) -> Result,
) -> Result<DiskInode> {
    let (block, slot) = geo.inode_location(ino).ok_or_else(corrupt)?;
    // Inodes made one after the other sit in consecutive slots, and a cold
    // walk of a directory loads them in that order.
    let table_end = geo.inode_table_start.saturating_add(geo.inode_table_blocks);
    let ahead = table_end
        .saturating_sub(block)
        .saturating_sub(1)
        .min(READ_AHEAD.into());
    let buf = sb.read_block_ahead(block, ahead.try_into().unwrap_or(0))?;
    let buf = buf.lock();
    let raw = inode_slot(buf.data(), slot).ok_or_else(corrupt)?;
    let inode = match Inode::decode(raw) {
        Ok(Some(inode)) => inode,
        Ok(None) => {
            fs_err!("{}: inode {ino} is named but free\n", sb.id());
            return Err(corrupt());
        }
        Err(e) => {
            fs_err!("{}: inode {ino}: {}\n", sb.id(), e.describe());
            return Err(corrupt());
        }
    };
    drop(buf);
    let mut blocks = 0u64;
    let dir_index = sb.data().features.dir_index();
    let walked = walk_inode_extents(sb, geo, dir_index, &inode, |visit| match visit {
        Visit::Chain(block) => chain.push(block, GFP_KERNEL).map_err(|_| ENOMEM),
        Visit::Extent(e) => {
            blocks += u64::from(e.len);
            on_extent(Extent {
                logical: e.logical.into(),
                len: e.len.into(),
                physical: e.physical,
                unwritten: e.unwritten,
            })
        }
    });
    let bad = match walked {
        Ok(()) => None,
        Err(WalkError::Chain(e)) => Some(e.record_error()),
        Err(WalkError::Extent(e)) => Some(e),
        Err(WalkError::Caller(e)) => return Err(e),
    };
    if let Some(e) = bad {
        fs_err!("{}: inode {ino}: {}\n", sb.id(), e.describe());
        return Err(corrupt());
    }
    Ok(DiskInode {
        mode: inode.mode,
        nlink: inode.nlink,
        uid: inode.uid,
        gid: inode.gid,
        size: inode.size,
        atime: to_time(inode.atime),
        mtime: to_time(inode.mtime),
        ctime: to_time(inode.ctime),
        parent: inode.parent.into(),
        blocks,
    })
}

/// Writes inode `ino` with `extents` (real blocks, in order), growing or
/// shrinking its extent chain (`chain`) as needed.
#[expect(clippy::too_many_arguments)]
pub(crate) fn write_inode(
    sb: &DSuperBlock,
    geo: &Geometry,
    ino: u64,
    d: &DiskInode,
    extents: &[Extent],
    chain: &mut KVec<u64>,
    space: &Mutex<Space>,
    sync: bool,
) -> Result {
    // Stored extents are at most format::MAX_EXTENT_LEN blocks long.
    let mut stored = KVec::new();
    for e in extents {
        let pieces = format::Extent::split(e.logical, e.len, e.physical, e.unwritten)
            .map_err(|_| corrupt())?;
        for piece in pieces {
            stored.push(piece, GFP_KERNEL)?;
        }
    }
    // Verified before anything reaches the disk, as XFS's write verifiers
    // do: a bug that built a bad inode must not make the image unmountable.
    let mut parsed = Inode::new(d.mode);
    parsed.size = d.size;
    let mut checker =
        ExtentChecker::for_inode(geo, &parsed).with_dir_index(sb.data().features.dir_index());
    for e in &stored {
        if let Err(e) = checker.check(e) {
            fs_err!("{}: inode {ino}: not written: {}\n", sb.id(), e.describe());
            return Err(corrupt());
        }
    }
    if let Err(e) = checker.check_end(&parsed) {
        fs_err!("{}: inode {ino}: not written: {}\n", sb.id(), e.describe());
        return Err(corrupt());
    }
    // The chain keeps its blocks in place, as many as the new list needs;
    // the rest are freed, or new ones added near its end.
    let plan = ChainPlan::new(chain.len(), stored.len()).map_err(|_| corrupt())?;
    for _ in 0..plan.grow() {
        let goal = chain.last().copied().unwrap_or(geo.data_start);
        let block = space.lock().alloc_metadata(goal)?;
        if let Err(e) = chain.push(block, GFP_KERNEL) {
            let _ = space.lock().free(block, 1);
            return Err(e.into());
        }
    }
    if plan.shrink() > 0 {
        for &block in plan.freed(chain) {
            sb.forget_block(block);
            space.lock().free(block, 1)?;
        }
        let mut kept = KVec::with_capacity(plan.needed(), GFP_KERNEL)?;
        kept.extend_from_slice(plan.kept(chain), GFP_KERNEL)?;
        *chain = kept;
    }
    let layout = ChainLayout::new(geo, &stored, chain).map_err(|_| corrupt())?;
    let head = layout.head();
    for piece in layout {
        let mut buf = sb.zeroed_block(piece.block)?;
        {
            let mut bytes = buf.lock();
            piece.encode(bytes.data_mut()).map_err(|_| corrupt())?;
            bytes.mark_dirty();
        }
        if sync {
            buf.sync()?;
        }
    }

    let mut inode = Inode::new(d.mode);
    inode.nlink = d.nlink;
    inode.uid = d.uid;
    inode.gid = d.gid;
    inode.size = d.size;
    inode.atime = to_timestamp(d.atime);
    inode.mtime = to_timestamp(d.mtime);
    inode.ctime = to_timestamp(d.ctime);
    inode.parent = d.parent as u32;
    inode.set_extents(&stored, head).map_err(|_| corrupt())?;
    let mut raw = [0u8; INODE_SIZE];
    inode.encode(&mut raw);
    if let Err(e) = Inode::decode(&raw) {
        fs_err!("{}: inode {ino}: not written: {}\n", sb.id(), e.describe());
        return Err(corrupt());
    }
    let (block, slot) = geo.inode_location(ino).ok_or_else(corrupt)?;
    let mut buf = sb.read_block(block)?;
    {
        let mut bytes = buf.lock();
        *inode_slot_mut(bytes.data_mut(), slot).ok_or_else(corrupt)? = raw;
        bytes.mark_dirty();
    }
    if sync {
        buf.sync()?;
    }
    Ok(())
}

/// Frees inode `ino`'s slot in the inode table, in the buffer cache; returns
/// the table block's number and buffer, dirty, for a caller that must know
/// when the cleared slot is on disk.
pub(crate) fn clear_inode(sb: &DSuperBlock, geo: &Geometry, ino: u64) -> Result<(u64, Buffer)> {
    let (block, slot) = geo.inode_location(ino).ok_or_else(corrupt)?;
    let buf = sb.read_block(block)?;
    {
        let mut bytes = buf.lock();
        inode_slot_mut(bytes.data_mut(), slot)
            .ok_or_else(corrupt)?
            .fill(0);
        bytes.mark_dirty();
    }
    Ok((block, buf))
}

/// The directory entry in `slot`, if used.
pub(crate) fn dirent_get(
    block: &[u8; BLOCK_SIZE],
    slot: usize,
) -> core::result::Result<Option<DirEntry<'_>>, &'static str> {
    decode_dirent(block, slot).map_err(|e| e.describe())
}

pub(crate) fn dirent_is_free(block: &[u8; BLOCK_SIZE], slot: usize) -> bool {
    format::dirent_is_free(block, slot)
}

pub(crate) fn dirent_set(
    block: &mut [u8; BLOCK_SIZE],
    slot: usize,
    ino: u32,
    file_type: u8,
    name: &[u8],
) -> Result {
    let entry = DirEntry {
        ino,
        file_type,
        name,
    };
    encode_dirent(block, slot, Some(&entry)).map_err(|_| EINVAL)
}

pub(crate) fn dirent_clear(block: &mut [u8; BLOCK_SIZE], slot: usize) {
    let _ = encode_dirent(block, slot, None);
}
