// SPDX-License-Identifier: GPL-2.0

//! Mounting: the superblock, the free-space map and the inode table are read
//! and checked once, at mount; then free space and inode numbers live in
//! memory and are written through to the bitmap and the inode table.

use kernel::alloc::KVVec;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;

use super::alloc::{metadata_reserve, InodeNumbers, Space};
use super::busy::{self, Busy};
use super::disk;
use super::rbmap::RbMap;
use super::{file, inode, DInode, DSuperBlock, Delafs};
use crate::shared::claim::{self, ClaimMap};
use crate::shared::space::FreeSpace;
use crate::vfs::error::euclean;
use crate::vfs::{self, FileSystem, New, SeqFile, StatFs, SuperBlock, SuperOperations};

/// Per-mount state (`s_fs_info`).
#[pin_data]
pub(crate) struct Fs {
    pub(crate) geo: disk::Geometry,
    /// The superblock's feature fields: a remount read-write checks them.
    pub(crate) features: disk::Features,
    /// Regular files' page cache may use large folios (`large_folios=1`).
    pub(crate) large_folios: bool,
    #[pin]
    pub(crate) space: Mutex<Space>,
    #[pin]
    pub(crate) inodes: Mutex<InodeNumbers>,
    /// Blocks of unlinked inodes waiting for their slot to reach the disk.
    #[pin]
    pub(crate) busy: Mutex<Busy>,
}

impl Fs {
    pub(crate) fn statfs(&self) -> StatFs {
        let (free, reserved) = { self.space.lock().usage() };
        // Waiting blocks are as good as free: an allocation that needs them
        // gets them (`busy::with_space`).
        let free = free.saturating_add(self.busy.lock().blocks());
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

    /// Remount, to read-only if `read_only`: the page cache of open files
    /// was set up with the mount's folio setting, so it cannot change; a
    /// filesystem with read-only compatible features this code does not
    /// know stays read-only.
    pub(crate) fn check_remount(&self, fs: &Fs, read_only: bool) -> Result {
        if !read_only {
            if let Err(e) = fs.features.check_writable() {
                fs_err!("delafs: cannot remount read-write: {e}\n");
                return Err(disk::mount_errno(&e));
            }
        }
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
    let superblock = disk::decode_superblock(block0.lock().data(), device_blocks)
        .map_err(|e| refuse(sb, &e, disk::mount_errno(&e)))?;
    drop(block0);
    let geo = superblock.geometry;
    let features = superblock.features;
    if !sb.read_only() {
        features
            .check_writable()
            .map_err(|e| refuse(sb, &e, disk::mount_errno(&e)))?;
    }

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
            match disk::check_inode(
                sb,
                &geo,
                &features,
                &bitmap,
                &mut claimed,
                buf.data(),
                slot as usize,
            ) {
                Ok(true) => used[(ino / 64) as usize] |= 1 << (ino % 64),
                Ok(false) => nfree += 1,
                Err(why) => return Err(refuse(sb, &kernel::fmt!("inode {ino}: {why}"), euclean())),
            }
        }
        vfs::cond_resched();
    }

    let space = Space::new(free, bitmap, geo, metadata_reserved);
    KBox::pin_init(
        try_pin_init!(Fs {
            geo,
            features,
            large_folios: opts.large_folios.unwrap_or(true),
            space <- new_mutex!(space),
            inodes <- new_mutex!(InodeNumbers::new(used, nfree)),
            busy <- new_mutex!(Busy::new()),
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

    fn reconfigure(sb: &DSuperBlock, opts: &Options, read_only: bool) -> Result {
        opts.check_remount(sb.data(), read_only)
    }

    fn show_options(sb: &DSuperBlock, out: &mut SeqFile) -> Result {
        out.write(Options::show(sb.data()));
        Ok(())
    }

    fn sync_fs(sb: &DSuperBlock, wait: bool) -> Result {
        if wait {
            // Before the bitmap is written: it then shows the blocks free.
            busy::flush(sb)?;
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
