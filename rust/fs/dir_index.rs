// SPDX-License-Identifier: GPL-2.0

//! The directory index in the kernel: [`crate::shared::format::DirIndex`]
//! over the directory's own extent map and the buffer cache. Index blocks
//! are mapped at logical blocks [`DIR_INDEX_BASE`].., past the size, and
//! allocated and freed one at a time through the space allocator. The
//! directory's `i_rwsem` is held (exclusively for changes).

use kernel::prelude::*;

use super::busy;
use super::{lock_state, DInode};
use crate::shared::extent_map::{Filter, Lookup, State};
use crate::shared::format::{IndexError, IndexStore, DIR_INDEX_BASE, DIR_INDEX_BLOCKS};
use crate::vfs::error::euclean;

pub(crate) use crate::shared::format::{name_hash, DirIndex, MAX_ENTRY_BLOCKS};

/// An index operation's error: the kernel's, or the index's (reported by
/// [`errno`] with one line naming the directory).
pub(crate) enum IxError {
    Kernel(Error),
    Index(IndexError),
}

impl From<IndexError> for IxError {
    fn from(e: IndexError) -> Self {
        Self::Index(e)
    }
}

impl From<Error> for IxError {
    fn from(e: Error) -> Self {
        Self::Kernel(e)
    }
}

/// The errno of `e`: a full directory is `ENOSPC`, damage `EUCLEAN` with
/// one kernel line.
pub(crate) fn errno(dir: &DInode, e: IxError) -> Error {
    match e {
        IxError::Kernel(e) => e,
        IxError::Index(IndexError::DirectoryFull) => ENOSPC,
        IxError::Index(e) => {
            fs_err!(
                "{}: directory {}: {}\n",
                dir.super_block().id(),
                dir.ino(),
                e.describe()
            );
            euclean()
        }
    }
}

/// The blocks of `dir`'s index.
pub(crate) struct Store<'a> {
    pub(crate) dir: &'a DInode,
}

impl Store<'_> {
    fn logical(at: u32) -> u64 {
        DIR_INDEX_BASE.saturating_add(u64::from(at))
    }

    fn physical(&self, at: u32) -> Result<u64, IxError> {
        match lock_state(self.dir).map.lookup(Self::logical(at)) {
            Lookup::Mapped {
                state: State::Real { physical },
                ..
            } => Ok(physical),
            _ => {
                fs_err!(
                    "{}: directory {}: index block {at} is not mapped\n",
                    self.dir.super_block().id(),
                    self.dir.ino()
                );
                Err(IxError::Kernel(euclean()))
            }
        }
    }
}

impl IndexStore for Store<'_> {
    type Error = IxError;

    fn read<R>(
        &mut self,
        at: u32,
        f: impl FnOnce(&crate::shared::format::Block) -> R,
    ) -> Result<R, IxError> {
        let buf = self.dir.super_block().read_block(self.physical(at)?)?;
        let bytes = buf.lock();
        Ok(f(bytes.data()))
    }

    fn write<R>(
        &mut self,
        at: u32,
        f: impl FnOnce(&mut crate::shared::format::Block) -> R,
    ) -> Result<R, IxError> {
        let buf = self.dir.super_block().read_block(self.physical(at)?)?;
        let mut bytes = buf.lock();
        let r = f(bytes.data_mut());
        bytes.mark_dirty();
        Ok(r)
    }

    /// A block already mapped there (left by a table growth that failed
    /// half-way) is reused.
    fn alloc(&mut self, at: u32) -> Result<(), IxError> {
        let sb = self.dir.super_block();
        let lblk = Self::logical(at);
        let mapped = match lock_state(self.dir).map.lookup(lblk) {
            Lookup::Mapped {
                state: State::Real { physical },
                ..
            } => Some(physical),
            _ => None,
        };
        let block = match mapped {
            Some(b) => b,
            None => {
                let goal = sb.data().geo.data_start;
                let (block, _) = busy::with_space(sb, |space| space.alloc(1, goal))?;
                if let Err(e) =
                    lock_state(self.dir)
                        .map
                        .insert(lblk, 1, State::Real { physical: block })
                {
                    let _ = sb.data().space.lock().free(block, 1);
                    return Err(IxError::Kernel(super::map_errno(e)));
                }
                block
            }
        };
        let buf = sb.zeroed_block(block)?;
        buf.lock().mark_dirty();
        self.dir.mark_dirty();
        Ok(())
    }

    fn free(&mut self, at: u32) -> Result<(), IxError> {
        free_range(self.dir, Self::logical(at), 1).map_err(IxError::Kernel)
    }
}

/// Unmaps and frees the directory blocks in `[lblk, lblk + len)`.
fn free_range(dir: &DInode, lblk: u64, len: u64) -> Result {
    let sb = dir.super_block();
    let mut state = lock_state(dir);
    let mut space = sb.data().space.lock();
    state
        .map
        .remove(lblk, len, Filter::All, |_, n, s| {
            if let Some(physical) = s.physical() {
                for b in physical..physical.saturating_add(n) {
                    sb.forget_block(b);
                }
                let _ = space.free(physical, n);
            }
        })
        .map_err(super::map_errno)?;
    drop(space);
    drop(state);
    dir.mark_dirty();
    Ok(())
}

/// Whether `dir` has an index (its header block is mapped).
pub(crate) fn has_index(dir: &DInode) -> bool {
    matches!(
        lock_state(dir).map.lookup(DIR_INDEX_BASE),
        Lookup::Mapped {
            state: State::Real { .. },
            ..
        }
    )
}

/// Frees all of `dir`'s index blocks (a build that failed).
pub(crate) fn drop_index(dir: &DInode) -> Result {
    free_range(dir, DIR_INDEX_BASE, DIR_INDEX_BLOCKS)
}

/// The hash seed of a new index: from the directory's inode number and
/// the time, so that names colliding in one directory do not in others.
pub(crate) fn new_seed(dir: &DInode) -> u32 {
    let t = dir.mtime();
    let mut bytes = [0u8; 12];
    bytes[..8].copy_from_slice(&t.sec.to_le_bytes());
    bytes[8..].copy_from_slice(&t.nsec.to_le_bytes());
    name_hash(dir.ino() as u32, &bytes)
}
