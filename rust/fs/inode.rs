// SPDX-License-Identifier: GPL-2.0

//! Inodes: loading from and writing to the inode table, creation, eviction.

use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;
use kernel::types::ARef;

use super::alloc::Space;
use super::disk::{self, DiskInode, Extent};
use super::rbmap::RbMap;
use super::{lock_state, DInode, DSuperBlock};
use crate::shared::extent_map::{ExtentMap, Filter, Mapping, State};
use crate::shared::format::{S_IFDIR, S_IFMT, S_IFREG};
use crate::vfs::buffer::Buffer;
use crate::vfs::error::euclean;
use crate::vfs::{InodeKind, NewInode, Owner};

/// The in-memory extent map of a file or directory.
pub(crate) type Extents = ExtentMap<RbMap<Mapping>>;

/// What delafs keeps with each VFS inode.
#[pin_data]
pub(crate) struct InodeInfo {
    #[pin]
    pub(crate) state: Mutex<InodeState>,
}

/// The inode's mutable state, under [`InodeInfo::state`].
pub(crate) struct InodeState {
    /// File block to disk block, and delalloc reservations.
    pub(crate) map: Extents,
    /// The extent chain blocks the on-disk inode points to, in order.
    pub(crate) chain: KVec<u64>,
    /// Directories: the parent directory's inode number.
    pub(crate) parent: u64,
    /// Set once the inode is backed by an inode table slot, so eviction of
    /// an unlinked inode knows there is something to free.
    pub(crate) on_disk: bool,
}

impl InodeInfo {
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(InodeInfo {
            state <- new_mutex!(InodeState {
                map: ExtentMap::new(RbMap::new()),
                chain: KVec::new(),
                parent: 0,
                on_disk: false,
            }),
        }? Error)
    }
}

fn corrupt() -> Error {
    euclean()
}

/// Inode `ino`, from the cache or loaded from the inode table.
pub(crate) fn iget(sb: &DSuperBlock, ino: u64) -> Result<ARef<DInode>> {
    let geo = &sb.data().geo;
    if ino == 0 || ino >= geo.inode_count {
        fs_err!("{}: inode number {ino} out of range\n", sb.id());
        return Err(corrupt());
    }
    let new = match sb.iget(ino)? {
        Ok(inode) => return Ok(inode),
        Err(new) => new,
    };
    let inode = new.inode();
    let d = {
        let mut state = lock_state(inode);
        let state = &mut *state;
        let d = disk::read_inode(sb, geo, ino, &mut state.chain, |e: Extent| {
            let physical = e.physical;
            let s = if e.unwritten {
                State::Unwritten { physical }
            } else {
                State::Real { physical }
            };
            state.map.insert(e.logical, e.len, s).map_err(|_| corrupt())
        })
        .inspect_err(|e| fs_err!("{}: inode {ino}: cannot load ({e:?})\n", sb.id()))?;
        // A name refers to this inode, so it must count a link, and be of a
        // type delafs implements. Refused here, before `on_disk` is set,
        // eviction of the failed inode leaves its slot and blocks alone.
        let why = match d.mode & S_IFMT {
            S_IFREG | S_IFDIR if d.nlink == 0 => Some("link count is 0"),
            S_IFREG | S_IFDIR => None,
            _ => Some("not a regular file or directory"),
        };
        if let Some(why) = why {
            fs_err!("{}: inode {ino}: {why}\n", sb.id());
            return Err(corrupt());
        }
        state.parent = d.parent;
        state.on_disk = true;
        d
    };
    new.init(d.mode, d.uid, d.gid);
    if sb.data().large_folios && inode.kind() == InodeKind::Regular {
        new.set_large_folios();
    }
    inode.set_nlink(d.nlink);
    inode.set_size(d.size as i64);
    inode.set_blocks(d.blocks * 8);
    new.set_times(d.atime, d.mtime, d.ctime);
    Ok(new.finish())
}

pub(super) fn root(sb: &DSuperBlock) -> Result<ARef<DInode>> {
    let root = iget(sb, disk::ROOT_INO)?;
    if root.kind() != InodeKind::Directory {
        fs_err!(
            "{}: cannot mount: the root inode is not a directory\n",
            sb.id()
        );
        return Err(corrupt());
    }
    Ok(root)
}

/// A new inode in `dir`, not yet linked anywhere: the caller adds the
/// directory entry, then publishes it with [`NewInode::finish`]. Dropping it
/// instead gives the inode number back through eviction.
pub(crate) fn create(dir: &DInode, mode: u16, owner: &Owner) -> Result<NewInode<super::Delafs>> {
    let sb = dir.super_block();
    let ino = sb.data().inodes.lock().alloc()?;
    let new = match sb.new_inode(ino) {
        Ok(new) => new,
        Err(e) => {
            sb.data().inodes.lock().release(ino);
            return Err(e);
        }
    };
    new.init_owned(owner, dir, mode);
    let inode = new.inode();
    if sb.data().large_folios && inode.kind() == InodeKind::Regular {
        new.set_large_folios();
    }
    {
        let mut state = lock_state(inode);
        state.on_disk = true;
        state.parent = dir.ino();
    }
    inode.set_nlink(if inode.kind() == InodeKind::Directory {
        2
    } else {
        1
    });
    inode.touch_mtime_ctime();
    let now = inode.mtime();
    new.set_times(now, now, now);
    inode.mark_dirty();
    Ok(new)
}

/// `write_inode`: the inode's attributes and extents to the inode table.
pub(super) fn write(inode: &DInode, sync: bool) -> Result {
    let sb = inode.super_block();
    let fs = sb.data();
    let mut state = lock_state(inode);
    if !state.on_disk {
        return Ok(());
    }
    let mut extents = KVec::new();
    let mut blocks = 0u64;
    state.map.for_each(|lblk, m| {
        blocks += m.len;
        if let Some(physical) = m.state.physical() {
            extents
                .push(
                    Extent {
                        logical: lblk,
                        len: m.len,
                        physical,
                        unwritten: matches!(m.state, State::Unwritten { .. }),
                    },
                    GFP_KERNEL,
                )
                .map_err(|_| ENOMEM)?;
        }
        Ok::<(), Error>(())
    })?;
    inode.set_blocks(blocks * 8);
    let d = DiskInode {
        mode: inode.mode(),
        nlink: inode.nlink(),
        uid: inode.uid(),
        gid: inode.gid(),
        size: inode.size() as u64,
        atime: inode.atime(),
        mtime: inode.mtime(),
        ctime: inode.ctime(),
        parent: if inode.kind() == InodeKind::Directory {
            state.parent
        } else {
            0
        },
        blocks,
    };
    disk::write_inode(
        sb,
        &fs.geo,
        inode.ino(),
        &d,
        &extents,
        &mut state.chain,
        &fs.space,
        sync,
    )
}

/// `evict_inode`, after the page cache is gone: an unlinked inode gives its
/// blocks, reservations and inode number back.
pub(super) fn evict(inode: &DInode) {
    let sb = inode.super_block();
    let fs = sb.data();
    let mut state = lock_state(inode);
    // The root is never freed, whatever its (possibly corrupt) count says.
    let unlinked = inode.nlink() == 0 && state.on_disk && inode.ino() != disk::ROOT_INO;
    // The slot is cleared in the buffer cache. Its blocks must not go to
    // another file before that reaches the disk (see busy.rs), so they wait
    // in the busy list, with the table block, until a flush has written it.
    // An inode that maps no block and has no chain frees nothing another
    // file could write into: after a crash it is at worst an orphan inode,
    // which fsck frees. That is the common unlink, of an empty file.
    let holds_blocks = state.map.extent_count() != 0 || !state.chain.is_empty();
    let mut busy = None;
    let cleared = |(block, mut buf): (u64, Buffer)| {
        if !holds_blocks {
            return Ok(());
        }
        let mut list = fs.busy.lock();
        let extents = usize::try_from(state.map.extent_count())
            .unwrap_or(usize::MAX)
            .saturating_add(state.chain.len());
        if list.reserve(extents).is_err() {
            // No memory to keep them waiting: write the slot now.
            drop(list);
            return buf.sync();
        }
        if !list.add_table(block, buf) {
            return Err(ENOMEM);
        }
        busy = Some(list);
        Ok(())
    };
    let freed = unlinked
        && match disk::clear_inode(sb, &fs.geo, inode.ino()).and_then(cleared) {
            Ok(()) => true,
            Err(e) => {
                fs_err!(
                    "{}: inode {}: cannot free ({e:?}); its blocks stay allocated until fsck\n",
                    sb.id(),
                    inode.ino()
                );
                false
            }
        };
    let is_dir = inode.kind() == InodeKind::Directory;
    let mut space = fs.space.lock();
    let mut leaked = 0u64;
    let mut lost = 0u64;
    let mut give = |space: &mut Space, start: u64, len: u64| {
        if !freed {
            return;
        }
        match busy.as_mut() {
            Some(list) => {
                if !list.add_extent(start, len) {
                    lost = lost.saturating_add(len);
                }
            }
            None => {
                let _ = space.free(start, len);
            }
        }
    };
    let removed = state
        .map
        .remove(0, u64::MAX, Filter::All, |_lblk, len, s| match s {
            State::Real { physical } | State::Unwritten { physical } => {
                if freed && is_dir {
                    // Directory blocks go through the buffer cache.
                    for block in physical..physical.saturating_add(len) {
                        sb.forget_block(block);
                    }
                }
                give(&mut space, physical, len);
            }
            State::Delalloc => {
                space.unreserve(len);
                leaked += len;
            }
        });
    if removed.is_err() {
        fs_err!("{}: inode {}: cannot drop extents\n", sb.id(), inode.ino());
    }
    if leaked != 0 {
        // No dirty folio is left, so no reservation should be either.
        super::release::count_evict_leak(leaked);
    }
    if freed {
        for &block in state.chain.iter() {
            sb.forget_block(block);
            give(&mut space, block, 1);
        }
        state.chain = KVec::new();
    }
    drop(space);
    if lost != 0 {
        fs_err!(
            "{}: inode {}: {lost} blocks stay allocated until fsck (no memory)\n",
            sb.id(),
            inode.ino()
        );
    }
    let flush = busy.as_ref().is_some_and(|list| list.full());
    drop(busy);
    drop(state);
    if freed {
        fs.inodes.lock().release(inode.ino());
    }
    if flush {
        // Errors are logged; the blocks then stay allocated.
        let _ = super::busy::flush(sb);
    }
}
