// SPDX-License-Identifier: GPL-2.0

//! Mounting: the superblock, the free-space map and the inode table are read
//! and checked once, at mount; then free space and inode numbers live in
//! memory and are written through to the bitmap and the inode table.

use kernel::alloc::KVVec;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;

use super::disk::{self, Geometry};
use super::rbmap::RbMap;
use super::{file, inode, DInode, DSuperBlock, Delafs};
use crate::shared::claim::{self, ClaimMap};
use crate::shared::space::{FreeSpace, SpaceError};
use crate::vfs::buffer::Buffer;
use crate::vfs::error::euclean;
use crate::vfs::{self, FileSystem, New, SeqFile, StatFs, SuperBlock, SuperOperations};

/// Blocks kept back for extent chain blocks, which inode writeback allocates
/// and cannot report `ENOSPC` for.
fn metadata_reserve(geo: &Geometry) -> u64 {
    (geo.total_blocks / 100).clamp(16, 1024)
}

/// Free space: the in-memory free extents, delalloc reservations and the
/// on-disk bitmap they are written through to.
pub(crate) struct Space {
    free: FreeSpace<RbMap<u64>>,
    bitmap: KVec<Buffer>,
    geo: Geometry,
    /// Of `free.reserved()`, the blocks held back for extent chains.
    metadata_reserved: u64,
}

fn space_error(e: SpaceError) -> Error {
    match e {
        SpaceError::NoMemory => ENOMEM,
        SpaceError::NoSpace => ENOSPC,
        // Freeing what is free, or blocks outside the device: the
        // filesystem's metadata disagrees with itself.
        SpaceError::Overlap | SpaceError::BadRange => euclean(),
    }
}

impl Space {
    /// Sets or clears the bitmap bits of `[start, start + len)`.
    fn mark(&mut self, start: u64, len: u64, used: bool) {
        let bits_per_block = (disk::BLOCK_SIZE * 8) as u64;
        let first = start / bits_per_block;
        let last = (start + len - 1) / bits_per_block;
        for i in first..=last {
            let mut buf = self.bitmap[i as usize].lock();
            let base = i * bits_per_block;
            let bytes = buf.data_mut();
            for block in start.max(base)..(start + len).min(base + bits_per_block) {
                let bit = (block - base) as usize;
                let byte = &mut bytes[bit / 8];
                if used {
                    *byte |= 1 << (bit % 8);
                } else {
                    *byte &= !(1 << (bit % 8));
                }
            }
            buf.mark_dirty();
        }
    }

    /// Reserves up to `want` blocks for delayed allocation; returns how many.
    pub(crate) fn reserve_up_to(&mut self, want: u64) -> Result<u64> {
        let n = want.min(self.free.available());
        if n == 0 {
            return Err(ENOSPC);
        }
        self.free.reserve(n).map_err(|_| ENOSPC)?;
        Ok(n)
    }

    pub(crate) fn unreserve(&mut self, n: u64) {
        self.free.unreserve(n);
    }

    /// Allocates up to `want` blocks near `goal` for reserved delalloc
    /// blocks; consumes as many reservations as blocks it returns.
    pub(crate) fn alloc_reserved(&mut self, want: u64, goal: u64) -> Result<(u64, u64)> {
        let (start, len) = self.free.alloc_reserved(want, goal).map_err(space_error)?;
        self.mark(start, len, true);
        Ok((start, len))
    }

    /// Allocates up to `want` blocks that were not reserved (direct I/O,
    /// directory blocks).
    pub(crate) fn alloc(&mut self, want: u64, goal: u64) -> Result<(u64, u64)> {
        let n = self.reserve_up_to(want)?;
        match self.alloc_reserved(n, goal) {
            Ok((start, len)) => {
                self.free.unreserve(n - len);
                Ok((start, len))
            }
            Err(e) => {
                self.free.unreserve(n);
                Err(e)
            }
        }
    }

    /// Allocates one block for an extent chain: from the metadata reserve,
    /// which is refilled while there is room, so inode writeback does not
    /// fail on a full filesystem until the reserve is gone too. Never takes
    /// a delalloc reservation.
    pub(crate) fn alloc_metadata(&mut self, goal: u64) -> Result<u64> {
        if self.metadata_reserved == 0 {
            return Ok(self.alloc(1, goal)?.0);
        }
        let (start, _) = self.alloc_reserved(1, goal)?;
        self.metadata_reserved -= 1;
        if self.free.reserve(1).is_ok() {
            self.metadata_reserved += 1;
        }
        Ok(start)
    }

    pub(crate) fn free(&mut self, start: u64, len: u64) -> Result {
        if start < self.geo.data_start || start + len > self.geo.total_blocks {
            return Err(euclean());
        }
        self.free.free(start, len).map_err(space_error)?;
        self.mark(start, len, false);
        Ok(())
    }
}

/// Inode numbers in use.
pub(crate) struct InodeNumbers {
    used: KVec<u64>,
    free: u64,
}

impl InodeNumbers {
    pub(crate) fn alloc(&mut self) -> Result<u64> {
        for (i, word) in self.used.iter_mut().enumerate() {
            if *word != u64::MAX {
                let bit = (!*word).trailing_zeros() as u64;
                *word |= 1 << bit;
                self.free -= 1;
                return Ok(i as u64 * 64 + bit);
            }
        }
        Err(ENOSPC)
    }

    pub(crate) fn release(&mut self, ino: u64) {
        let word = &mut self.used[(ino / 64) as usize];
        if *word & (1 << (ino % 64)) != 0 {
            *word &= !(1 << (ino % 64));
            self.free += 1;
        }
    }
}

/// Per-mount state (`s_fs_info`).
#[pin_data]
pub(crate) struct Fs {
    pub(crate) geo: Geometry,
    /// Regular files' page cache may use large folios (`large_folios=1`).
    pub(crate) large_folios: bool,
    #[pin]
    pub(crate) space: Mutex<Space>,
    #[pin]
    pub(crate) inodes: Mutex<InodeNumbers>,
}

impl Fs {
    pub(crate) fn statfs(&self) -> StatFs {
        let (free, reserved) = {
            let space = self.space.lock();
            (space.free.free_blocks(), space.free.reserved())
        };
        let inodes = self.inodes.lock();
        StatFs {
            blocks: self.geo.total_blocks - self.geo.data_start,
            free_blocks: free - reserved,
            files: self.geo.inode_count - 1,
            free_files: inodes.free,
            name_len: disk::MAX_NAME_LEN as u64,
        }
    }
}

/// Logs why a mount failed, in one line, and returns `err`.
fn refuse(sb: &DSuperBlock<New>, why: &dyn core::fmt::Display, err: Error) -> Error {
    pr_err!("{}: cannot mount: {}\n", sb.id(), why);
    err
}

/// Mount options; `None` is "not given" (the default, or unchanged on
/// remount).
#[derive(Default)]
pub(crate) struct Options {
    /// `large_folios=0|1`: whether regular files' page cache may use folios
    /// larger than a block. On by default, as XFS. Off, every folio is one
    /// 4 KiB block, which is what the lab ran before large folios.
    pub(crate) large_folios: Option<bool>,
}

impl Options {
    /// One option; `Ok(false)` for a key delafs does not know.
    pub(crate) fn parse(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<bool> {
        match key {
            b"large_folios" => {
                self.large_folios = Some(match value {
                    None | Some(b"1") => true,
                    Some(b"0") => false,
                    Some(_) => {
                        fs_err!("delafs: large_folios takes 0 or 1\n");
                        return Err(EINVAL);
                    }
                });
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Remount: the page cache of open files was set up with the mount's
    /// folio setting, so it cannot change.
    pub(crate) fn check_remount(&self, fs: &Fs) -> Result {
        match self.large_folios {
            Some(v) if v != fs.large_folios => {
                fs_err!("delafs: large_folios cannot change on remount\n");
                Err(EINVAL)
            }
            _ => Ok(()),
        }
    }

    /// For `/proc/mounts`: every option, with its value in effect.
    pub(crate) fn show(fs: &Fs) -> &'static [u8] {
        if fs.large_folios {
            b",large_folios=1"
        } else {
            b",large_folios=0"
        }
    }
}

fn fill_super(sb: &DSuperBlock<New>, opts: &Options) -> Result<Pin<KBox<Fs>>> {
    let _nofs = vfs::NoFs::new();
    let device_blocks = sb.device_blocks();
    let block0 = sb.read_block(0)?;
    let geo = disk::decode_superblock(block0.lock().data(), device_blocks)
        .map_err(|e| refuse(sb, &e.describe(), disk::mount_errno(&e)))?;
    drop(block0);

    // Free space from the bitmap.
    let mut bitmap = KVec::with_capacity(geo.bitmap_blocks as usize, GFP_KERNEL)?;
    for i in 0..geo.bitmap_blocks {
        bitmap.push(sb.read_block(geo.bitmap_start + i)?, GFP_KERNEL)?;
    }
    let mut free = FreeSpace::new(RbMap::new());
    disk::load_free_space(&geo, &bitmap, &mut free).map_err(|e| refuse(sb, &e, euclean()))?;
    // A full filesystem mounts with a smaller (or no) reserve.
    let metadata_reserved = metadata_reserve(&geo).min(free.available());
    if free.reserve(metadata_reserved).is_err() {
        return Err(refuse(sb, &"free space accounting is inconsistent", ENOSPC));
    }

    // Every block has at most one owner. Metadata first: the bitmap must
    // call it used, or the allocator would hand out the superblock.
    let words = usize::try_from(claim::words_for(geo.total_blocks)).map_err(|_| EFBIG)?;
    let mut claimed_words = KVVec::from_elem(0u64, words, GFP_KERNEL)?;
    let mut claimed = ClaimMap::new(&mut claimed_words, geo.total_blocks).ok_or(ENOMEM)?;
    claimed.claim(0, geo.data_start).map_err(|_| EINVAL)?;
    if let Some(block) = (0..geo.data_start).find(|&b| !disk::block_used(&geo, &bitmap, b)) {
        return Err(refuse(
            sb,
            &kernel::fmt!("the bitmap marks metadata block {block} free"),
            euclean(),
        ));
    }

    // Inode numbers from the inode table, checking every inode on the way.
    let words = geo.inode_count.div_ceil(64) as usize;
    let mut used = KVec::with_capacity(words, GFP_KERNEL)?;
    for _ in 0..words {
        used.push(0u64, GFP_KERNEL)?;
    }
    // Inode 0 does not exist; numbers past the table are never handed out.
    used[0] |= 1;
    for ino in geo.inode_count..words as u64 * 64 {
        used[(ino / 64) as usize] |= 1 << (ino % 64);
    }
    let mut nfree = 0u64;
    for block in 0..geo.inode_table_blocks {
        let buf = sb.read_block(geo.inode_table_start + block)?;
        // Held while the inodes' chain blocks and the bitmap are read: those
        // are other blocks (chain blocks are checked to lie in the data
        // area first), so this task never locks one block twice.
        let buf = buf.lock();
        for slot in 0..disk::INODES_PER_BLOCK as u64 {
            let ino = block * disk::INODES_PER_BLOCK as u64 + slot;
            if ino == 0 {
                continue;
            }
            match disk::check_inode(sb, &geo, &bitmap, &mut claimed, buf.data(), slot as usize) {
                Ok(true) => used[(ino / 64) as usize] |= 1 << (ino % 64),
                Ok(false) => nfree += 1,
                Err(why) => return Err(refuse(sb, &kernel::fmt!("inode {ino}: {why}"), euclean())),
            }
        }
        vfs::cond_resched();
    }

    let space = Space {
        free,
        bitmap,
        geo,
        metadata_reserved,
    };
    KBox::pin_init(
        try_pin_init!(Fs {
            geo,
            large_folios: opts.large_folios.unwrap_or(true),
            space <- new_mutex!(space),
            inodes <- new_mutex!(InodeNumbers { used, free: nfree }),
        }? Error),
        GFP_KERNEL,
    )
}

impl FileSystem for Delafs {
    type Data = Fs;
    type InodeData = super::InodeInfo;
    type Options = Options;

    const NAME: &'static CStr = kernel::c_str!("delafs");
    const MAGIC: u32 = super::DELAFS_MAGIC;
    const MAX_BYTES: i64 = file::MAX_BYTES;
    const MAX_LINKS: u32 = u32::MAX;

    fn init_inode_data() -> impl PinInit<super::InodeInfo, Error> {
        super::InodeInfo::new()
    }

    fn parse_option(opts: &mut Options, key: &[u8], value: Option<&[u8]>) -> Result<bool> {
        opts.parse(key, value)
    }
}

#[vtable]
impl SuperOperations for Delafs {
    fn fill_super(sb: &SuperBlock<Self, New>, opts: &Options) -> Result<Pin<KBox<Fs>>> {
        fill_super(sb, opts)
    }

    fn root_inode(sb: &DSuperBlock) -> Result<kernel::types::ARef<DInode>> {
        inode::root(sb)
    }

    fn statfs(sb: &DSuperBlock) -> Result<StatFs> {
        Ok(sb.data().statfs())
    }

    fn reconfigure(sb: &DSuperBlock, opts: &Options) -> Result {
        opts.check_remount(sb.data())
    }

    fn show_options(sb: &DSuperBlock, out: &mut SeqFile) -> Result {
        out.write(Options::show(sb.data()));
        Ok(())
    }

    fn sync_fs(sb: &DSuperBlock, wait: bool) -> Result {
        if wait {
            sb.sync_metadata()?;
            sb.flush_device()?;
        }
        Ok(())
    }

    fn write_inode(inode: &DInode, sync: bool) -> Result {
        inode::write(inode, sync)
    }

    fn evict_inode(inode: &DInode) {
        inode::evict(inode)
    }
}
