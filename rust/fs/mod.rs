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
//! - [`mount::Fs::busy`]: blocks of unlinked inodes not free yet (a flush
//!   holds it over inode table writes, then takes `space`);
//! - [`mount::Fs::space`]: free space, reservations and the on-disk bitmap;
//! - [`mount::Fs::inodes`]: the inode number allocator;
//! - a metadata buffer's lock ([`vfs::buffer::BufferGuard`]), innermost and
//!   one at a time (bitmap blocks are locked under `space`).
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

mod alloc;
mod busy;
mod dir;
mod dir_index;
mod disk;
mod file;
mod inode;
pub(crate) mod knobs;
mod mount;
mod rbmap;
pub(crate) mod release;

use kernel::prelude::*;

use crate::vfs::{self, Inode, SuperBlock};

pub(crate) use inode::{InodeInfo, InodeState};

/// The delafs filesystem type; its operation tables are implemented next to
/// what they do: [`mount`] (the type and the superblock), [`dir`]
/// (directories), [`file`] (files, iomap, writeback, attributes).
pub(crate) struct Delafs;

/// `statfs(2)`'s `f_type`.
pub(crate) const DELAFS_MAGIC: u32 = 0xde1a_f500;

/// The errno for a failed extent map operation: only a failed allocation
/// is `ENOMEM`; a range that is (or is not) already mapped means the
/// in-memory map disagrees with what the caller read, i.e. corruption.
pub(crate) fn map_errno(e: crate::shared::extent_map::MapError) -> kernel::error::Error {
    match e {
        crate::shared::extent_map::MapError::NoMemory => ENOMEM,
        _ => vfs::error::euclean(),
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
