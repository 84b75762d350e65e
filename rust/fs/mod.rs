// SPDX-License-Identifier: GPL-2.0
#![deny(unsafe_code)]

//! The delafs filesystem logic, written against the wrappers of
//! [`crate::vfs`].
//!
//! Locking, outermost first:
//!
//! - VFS locks: `i_rwsem` of the directories and files involved, then the
//!   mapping's invalidate lock (truncate, punch, the release loop);
//! - a folio lock (the release loop punches with one held);
//! - [`InodeInfo::state`]: the inode's extent map, like XFS's ILOCK;
//! - [`Fs::space`]: free space, reservations and the on-disk bitmap;
//! - [`Fs::inodes`]: the inode number allocator.
//!
//! Sections that hold these locks run with [`vfs::NoFs`], so memory
//! allocation never recurses into a filesystem.

/// Messages about corruption found at run time, which a user can trigger
/// at will: rate limited, one line each.
pub(crate) static CORRUPTION_MESSAGES: vfs::RateLimit = vfs::RateLimit::new();

/// `pr_err!`, rate limited by [`CORRUPTION_MESSAGES`].
macro_rules! fs_err {
    ($($arg:tt)*) => {{
        let (print, missed) = $crate::fs::CORRUPTION_MESSAGES.allow();
        if missed != 0 {
            kernel::pr_err!("{missed} messages suppressed\n");
        }
        if print {
            kernel::pr_err!($($arg)*);
        }
    }};
}

mod dir;
mod disk;
mod file;
mod inode;
pub(crate) mod knobs;
mod mount;
mod rbmap;
pub(crate) mod release;

use kernel::c_str;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::types::ARef;

use crate::vfs::{
    self, DirEmit, FileSystem, Inode, IoKind, Mapping, Owner, SeqFile, StatFs, SuperBlock,
};

pub(crate) use inode::{InodeInfo, InodeState};
pub(crate) use mount::{Fs, Options};

/// The delafs filesystem type.
pub(crate) struct Delafs;

/// `statfs(2)`'s `f_type`.
pub(crate) const DELAFS_MAGIC: u32 = 0xde1a_f500;

impl FileSystem for Delafs {
    type Data = Fs;
    type InodeData = InodeInfo;
    type Options = Options;

    const NAME: &'static CStr = c_str!("delafs");
    const MAGIC: u32 = DELAFS_MAGIC;
    const MAX_BYTES: i64 = file::MAX_BYTES;
    const MAX_LINKS: u32 = u32::MAX;

    fn init_inode_data() -> impl PinInit<InodeInfo, Error> {
        InodeInfo::new()
    }

    fn parse_option(opts: &mut Options, key: &[u8], value: Option<&[u8]>) -> Result<bool> {
        opts.parse(key, value)
    }

    fn reconfigure(sb: &SuperBlock<Self>, opts: &Options) -> Result {
        opts.check_remount(sb.data())
    }

    fn show_options(sb: &SuperBlock<Self>, out: &mut SeqFile) -> Result {
        out.write(Options::show(sb.data()));
        Ok(())
    }

    fn fill_super(sb: &SuperBlock<Self, vfs::New>, opts: &Options) -> Result<Pin<KBox<Fs>>> {
        mount::fill_super(sb, opts)
    }

    fn root_inode(sb: &SuperBlock<Self>) -> Result<ARef<Inode<Self>>> {
        inode::root(sb)
    }

    fn statfs(sb: &SuperBlock<Self>) -> Result<StatFs> {
        Ok(sb.data().statfs())
    }

    fn sync_fs(sb: &SuperBlock<Self>, wait: bool) -> Result {
        if wait {
            sb.sync_metadata()?;
            sb.flush_device()?;
        }
        Ok(())
    }

    fn put_super(sb: &SuperBlock<Self>) {
        mount::put_super(sb);
    }

    fn write_inode(inode: &Inode<Self>, sync: bool) -> Result {
        inode::write(inode, sync)
    }

    fn evict_inode(inode: &Inode<Self>) {
        inode::evict(inode)
    }

    fn lookup(dir: &Inode<Self>, name: &[u8]) -> Result<Option<ARef<Inode<Self>>>> {
        dir::lookup(dir, name)
    }

    fn create(
        dir: &Inode<Self>,
        name: &[u8],
        mode: u16,
        owner: &Owner,
    ) -> Result<ARef<Inode<Self>>> {
        dir::create(dir, name, mode, owner)
    }

    fn link(inode: &Inode<Self>, dir: &Inode<Self>, name: &[u8]) -> Result {
        dir::link(inode, dir, name)
    }

    fn unlink(dir: &Inode<Self>, name: &[u8], inode: &Inode<Self>) -> Result {
        dir::unlink(dir, name, inode)
    }

    fn rmdir(dir: &Inode<Self>, name: &[u8], inode: &Inode<Self>) -> Result {
        dir::rmdir(dir, name, inode)
    }

    fn rename(
        old_dir: &Inode<Self>,
        old_name: &[u8],
        inode: &Inode<Self>,
        new_dir: &Inode<Self>,
        new_name: &[u8],
        target: Option<&Inode<Self>>,
        flags: u32,
    ) -> Result {
        dir::rename(old_dir, old_name, inode, new_dir, new_name, target, flags)
    }

    fn readdir(dir: &Inode<Self>, pos: &mut i64, emit: DirEmit<'_>) -> Result {
        dir::readdir(dir, pos, emit)
    }

    fn iomap_begin(
        inode: &Inode<Self>,
        pos: i64,
        len: i64,
        flags: u32,
        kind: IoKind,
    ) -> Result<Mapping> {
        file::iomap_begin(inode, pos, len, flags, kind)
    }

    fn iomap_end(
        inode: &Inode<Self>,
        pos: i64,
        len: i64,
        written: isize,
        flags: u32,
        mapping: &Mapping,
        kind: IoKind,
    ) -> Result {
        file::iomap_end(inode, pos, len, written, flags, mapping, kind)
    }

    fn map_blocks(inode: &Inode<Self>, offset: i64, len: u32) -> Result<Mapping> {
        file::map_blocks(inode, offset, len)
    }

    fn prepare_write(inode: &Inode<Self>, pos: i64, end: i64) -> Result {
        file::prepare_write(inode, pos, end)
    }

    fn dio_write_failed(inode: &Inode<Self>) -> Result {
        file::dio_write_failed(inode)
    }

    fn release_file(inode: &Inode<Self>) -> Result {
        file::release_file(inode)
    }

    fn dio_write_done(inode: &Inode<Self>, offset: i64, size: isize, failed: bool) -> Result {
        release::count_dio_completion();
        file::dio_write_done(inode, offset, size, failed)
    }

    fn setsize(inode: &Inode<Self>, size: i64) -> Result {
        file::setsize(inode, size)
    }

    fn punch_hole(inode: &Inode<Self>, offset: i64, len: i64) -> Result {
        file::punch_hole(inode, offset, len)
    }

    fn sync_inode_metadata(inode: &Inode<Self>) -> Result {
        inode.sync_metadata()?;
        let sb = inode.super_block();
        sb.sync_metadata()?;
        sb.flush_device()
    }
}

/// The errno for a failed extent map operation: only a failed allocation
/// is `ENOMEM`; a range that is (or is not) already mapped means the
/// in-memory map disagrees with what the caller read, i.e. corruption.
pub(crate) fn map_errno(e: crate::shared::extent_map::MapError) -> kernel::error::Error {
    match e {
        crate::shared::extent_map::MapError::NoMemory => ENOMEM,
        _ => vfs::errno(kernel::bindings::EUCLEAN),
    }
}

/// Shorthands for the filesystem's own types.
pub(crate) type DInode = Inode<Delafs>;
pub(crate) type DSuperBlock<S = vfs::DataInited> = SuperBlock<Delafs, S>;

/// An inode's extent map, locked, with allocations in the section kept from
/// recursing into filesystems.
pub(crate) struct StateGuard<'a> {
    // Fields drop in order: unlock first, then end the no-fs section.
    guard: kernel::sync::lock::Guard<'a, InodeState, kernel::sync::lock::mutex::MutexBackend>,
    _nofs: vfs::NoFs,
}

impl core::ops::Deref for StateGuard<'_> {
    type Target = InodeState;

    fn deref(&self) -> &InodeState {
        &self.guard
    }
}

impl core::ops::DerefMut for StateGuard<'_> {
    fn deref_mut(&mut self) -> &mut InodeState {
        &mut self.guard
    }
}

/// Locks an inode's extent map.
pub(crate) fn lock_state(inode: &DInode) -> StateGuard<'_> {
    let nofs = vfs::NoFs::new();
    StateGuard {
        guard: inode.data().state.lock(),
        _nofs: nofs,
    }
}
