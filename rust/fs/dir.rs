// SPDX-License-Identifier: GPL-2.0

//! Directories: files of fixed-size entries in blocks allocated at once (no
//! delalloc), read and written through the buffer cache. The VFS holds the
//! directory's `i_rwsem` for every operation here, exclusively for changes.

use core::ops::ControlFlow;

use kernel::prelude::*;
use kernel::types::ARef;

use super::busy;
use super::dir_index::{self, DirIndex, IxError, Store, MAX_ENTRY_BLOCKS};
use super::disk::{self, DirEntry};
use super::inode::{self, iget};
use super::{lock_state, DInode, Delafs};
use crate::shared::extent_map::{Lookup, State};
use crate::vfs::buffer::Buffer;
use crate::vfs::error::{enametoolong, enotempty, euclean};
use crate::vfs::{DirEmit, DirOperations, InodeKind, NewInode, Owner, RenameFlags};

fn check_name(name: &[u8]) -> Result {
    if name.len() > disk::MAX_NAME_LEN {
        return Err(enametoolong());
    }
    Ok(())
}

/// An inode whose link count is already 0 cannot lose another link: the
/// count on disk was too small (XFS's xfs_droplink() refuses the same way).
fn check_droppable(inode: &DInode) -> Result {
    if inode.nlink() == 0 {
        fs_err!(
            "{}: inode {}: link count is 0 but a name still refers to it\n",
            inode.super_block().id(),
            inode.ino()
        );
        return Err(euclean());
    }
    Ok(())
}

/// A directory losing a subdirectory counts ".", its own name and that
/// subdirectory's "..": at least 3 links. Fewer means the count on disk was
/// too small; dropping it would reach 0 with the directory still named, and
/// eviction would free it (the root included). fsck repairs the count.
fn check_parent_droppable(dir: &DInode) -> Result {
    if dir.nlink() < 3 {
        fs_err!(
            "{}: directory {}: link count {} is too small for its subdirectories\n",
            dir.super_block().id(),
            dir.ino(),
            dir.nlink()
        );
        return Err(euclean());
    }
    Ok(())
}

fn dtype_of(inode: &DInode) -> u8 {
    crate::shared::format::file_type_of_mode(inode.mode())
}

/// The disk block holding directory block `index`.
fn dir_block(dir: &DInode, index: u64) -> Result<Buffer> {
    let (physical, len) = match lock_state(dir).map.lookup(index) {
        Lookup::Mapped {
            state: State::Real { physical },
            len,
        } => (physical, len),
        _ => {
            fs_err!(
                "{}: directory {}: block {index} is not mapped\n",
                dir.super_block().id(),
                dir.ino()
            );
            return Err(euclean());
        }
    };
    // Scans (readdir, rmdir's emptiness check, a create's search for a free
    // slot) and a cold stat of the names in the order they were made read
    // the entry blocks one after the other: read the rest of the extent
    // with a block that is not cached, up to `disk::READ_AHEAD` blocks and
    // the last entry block.
    let ahead = len
        .saturating_sub(1)
        .min(dir_blocks(dir).saturating_sub(index).saturating_sub(1))
        .min(disk::READ_AHEAD.into());
    dir.super_block()
        .read_block_ahead(physical, ahead.try_into().unwrap_or(0))
}

fn dir_blocks(dir: &DInode) -> u64 {
    dir.size() as u64 / disk::BLOCK_SIZE as u64
}

/// Calls `f` for each used entry, in order, with its slot number.
fn for_each_entry(
    dir: &DInode,
    first_slot: u64,
    mut f: impl FnMut(u64, &DirEntry<'_>) -> Result<ControlFlow<()>>,
) -> Result<ControlFlow<()>> {
    let per_block = disk::DIRENTS_PER_BLOCK as u64;
    for index in first_slot / per_block..dir_blocks(dir) {
        let buf = dir_block(dir, index)?;
        let start = if index == first_slot / per_block {
            first_slot % per_block
        } else {
            0
        };
        for slot in start..per_block {
            // `f` may copy to user space (readdir) and fault: it runs with
            // the buffer unlocked, on a copy of the entry.
            let mut name = [0u8; disk::MAX_NAME_LEN];
            let bytes = buf.lock();
            let entry = match disk::dirent_get(bytes.data(), slot as usize) {
                Ok(Some(entry)) => {
                    let name = name.get_mut(..entry.name.len()).ok_or(EINVAL)?;
                    name.copy_from_slice(entry.name);
                    (entry.ino, entry.file_type, name.len())
                }
                Ok(None) => continue,
                Err(why) => {
                    fs_err!(
                        "{}: directory {}: entry {}: {why}\n",
                        dir.super_block().id(),
                        dir.ino(),
                        index * per_block + slot
                    );
                    return Err(euclean());
                }
            };
            drop(bytes);
            let entry = DirEntry {
                ino: entry.0,
                file_type: entry.1,
                name: &name[..entry.2],
            };
            if f(index * per_block + slot, &entry)?.is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
    }
    Ok(ControlFlow::Continue(()))
}

/// The inode number and entry type in `slot`, if it holds `name`.
fn entry_named(dir: &DInode, slot: u64, name: &[u8]) -> Result<Option<(u64, u8)>> {
    let per_block = disk::DIRENTS_PER_BLOCK as u64;
    let buf = dir_block(dir, slot / per_block)?;
    let bytes = buf.lock();
    match disk::dirent_get(bytes.data(), (slot % per_block) as usize) {
        Ok(Some(e)) if e.name == name => Ok(Some((u64::from(e.ino), e.file_type))),
        Ok(_) => Ok(None),
        Err(why) => {
            fs_err!(
                "{}: directory {}: entry {slot}: {why}\n",
                dir.super_block().id(),
                dir.ino()
            );
            Err(euclean())
        }
    }
}

/// The slot, inode number and entry type of `name`: through the index if
/// the directory has one, else by a scan.
fn find_typed(dir: &DInode, name: &[u8]) -> Result<Option<(u64, u64, u8)>> {
    if dir_index::has_index(dir) {
        let mut found = None;
        let mut store = Store { dir };
        let r = (|| -> Result<Option<u32>, IxError> {
            let mut ix = DirIndex::open(&mut store, dir_blocks(dir))?;
            ix.lookup(name, |slot| {
                found = entry_named(dir, u64::from(slot), name)?;
                Ok(found.is_some())
            })
        })();
        return match r {
            Ok(Some(slot)) => Ok(found.map(|(ino, t)| (u64::from(slot), ino, t))),
            Ok(None) => Ok(None),
            Err(e) => Err(dir_index::errno(dir, e)),
        };
    }
    let mut found = None;
    let _ = for_each_entry(dir, 0, |slot, entry| {
        if entry.name == name {
            found = Some((slot, u64::from(entry.ino), entry.file_type));
            return Ok(ControlFlow::Break(()));
        }
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(found)
}

/// Whether an entry other than `slot` names inode `ino`.
fn named_twice(dir: &DInode, slot: u64, ino: u64) -> Result<bool> {
    let twice = for_each_entry(dir, 0, |other, entry| {
        if other != slot && u64::from(entry.ino) == ino {
            return Ok(ControlFlow::Break(()));
        }
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(twice.is_break())
}

/// The slot and inode number of `name`.
fn find(dir: &DInode, name: &[u8]) -> Result<Option<(u64, u64)>> {
    Ok(find_typed(dir, name)?.map(|(slot, ino, _)| (slot, ino)))
}

/// Writes an entry into a free slot, growing the directory by one block if
/// it is full. A directory of a filesystem with the index feature gets its
/// index when it grows past its first block (or, made without the feature,
/// when it next grows), and then finds its free slot through it.
fn add_entry(dir: &DInode, name: &[u8], ino: u64, dtype: u8) -> Result {
    if dir_index::has_index(dir) {
        return add_indexed(dir, name, ino, dtype).map_err(|e| dir_index::errno(dir, e));
    }
    if add_linear(dir, name, ino, dtype, false)? {
        return Ok(());
    }
    // Only past the first block: an empty directory (no block yet) gets
    // its first block linearly, and small directories stay linear.
    if dir.super_block().data().features.dir_index()
        && (1..u64::from(MAX_ENTRY_BLOCKS)).contains(&dir_blocks(dir))
    {
        build_index(dir)?;
        return add_indexed(dir, name, ino, dtype).map_err(|e| dir_index::errno(dir, e));
    }
    add_linear(dir, name, ino, dtype, true).map(|_| ())
}

/// Builds the index of a linear directory whose blocks are all full
/// (`add_linear` just found no free slot): every entry, no block free.
/// O(entries), once.
fn build_index(dir: &DInode) -> Result {
    let blocks = dir_blocks(dir) as u32;
    let mut store = Store { dir };
    let r = (|| -> Result<(), IxError> {
        let mut ix = DirIndex::create(&mut store, dir_index::new_seed(dir), blocks)?;
        let mut failed = None;
        let walked = for_each_entry(dir, 0, |slot, entry| {
            if let Err(e) = ix.insert(entry.name, slot as u32) {
                failed = Some(e);
                return Ok(ControlFlow::Break(()));
            }
            Ok(ControlFlow::Continue(()))
        });
        let finished = ix.finish();
        let _ = walked?;
        if let Some(e) = failed {
            return Err(e);
        }
        finished
    })();
    if let Err(e) = r {
        let _ = dir_index::drop_index(dir);
        return Err(dir_index::errno(dir, e));
    }
    Ok(())
}

/// [`add_entry`] in an indexed directory: the first block the free-slot
/// bitmap names (a stale bit is cleared and the next one tried), or a new
/// block; then the record, then the entry.
fn add_indexed(dir: &DInode, name: &[u8], ino: u64, dtype: u8) -> Result<(), IxError> {
    let per_block = disk::DIRENTS_PER_BLOCK as u64;
    let mut store = Store { dir };
    let mut ix = DirIndex::open(&mut store, dir_blocks(dir))?;
    let r = (|| -> Result<(), IxError> {
        let slot = loop {
            match ix.first_free_block()? {
                Some(k) => {
                    let buf = dir_block(dir, u64::from(k))?;
                    let bytes = buf.lock();
                    let free = (0..disk::DIRENTS_PER_BLOCK)
                        .find(|&i| disk::dirent_is_free(bytes.data(), i));
                    drop(bytes);
                    match free {
                        Some(i) => break u64::from(k) * per_block + i as u64,
                        None => ix.set_block_free(k, false)?,
                    }
                }
                None => {
                    if ix.header().entry_blocks >= MAX_ENTRY_BLOCKS {
                        return Err(crate::shared::format::IndexError::DirectoryFull.into());
                    }
                    let index = dir_blocks(dir);
                    grow_dir(dir, index)?;
                    let k = ix.add_entry_block()?;
                    break u64::from(k) * per_block;
                }
            }
        };
        ix.insert(name, slot as u32)?;
        set_slot(dir, slot, Some((name, ino, dtype)))?;
        let k = slot / per_block;
        let buf = dir_block(dir, k)?;
        let bytes = buf.lock();
        let full = !(0..disk::DIRENTS_PER_BLOCK).any(|i| disk::dirent_is_free(bytes.data(), i));
        drop(bytes);
        if full {
            ix.set_block_free(k as u32, false)?;
        }
        Ok(())
    })();
    let finished = ix.finish();
    r?;
    finished
}

/// Maps a new, empty entry block at `index` and grows the size over it.
fn grow_dir(dir: &DInode, index: u64) -> Result {
    let sb = dir.super_block();
    let mut state = lock_state(dir);
    let goal = sb.data().geo.data_start;
    let (block, _) = busy::with_space(sb, |space| space.alloc(1, goal))?;
    if let Err(e) = state.map.insert(index, 1, State::Real { physical: block }) {
        let _ = sb.data().space.lock().free(block, 1);
        return Err(super::map_errno(e));
    }
    drop(state);
    let buf = sb.zeroed_block(block)?;
    buf.lock().mark_dirty();
    dir.set_size(((index + 1) * disk::BLOCK_SIZE as u64) as i64);
    dir.mark_dirty();
    Ok(())
}

/// [`add_entry`] by a scan: `Ok(false)` if every slot is taken and `grow`
/// is not set.
fn add_linear(dir: &DInode, name: &[u8], ino: u64, dtype: u8, grow: bool) -> Result<bool> {
    let per_block = disk::DIRENTS_PER_BLOCK as u64;
    for index in 0..dir_blocks(dir) {
        let buf = dir_block(dir, index)?;
        for slot in 0..per_block as usize {
            let mut bytes = buf.lock();
            if disk::dirent_is_free(bytes.data(), slot) {
                disk::dirent_set(bytes.data_mut(), slot, ino as u32, dtype, name)?;
                bytes.mark_dirty();
                return Ok(true);
            }
        }
    }
    if !grow {
        return Ok(false);
    }
    // Full: one more block.
    let sb = dir.super_block();
    let index = dir_blocks(dir);
    let mut state = lock_state(dir);
    let goal = sb.data().geo.data_start;
    let (block, _) = busy::with_space(sb, |space| space.alloc(1, goal))?;
    if let Err(e) = state.map.insert(index, 1, State::Real { physical: block }) {
        let _ = sb.data().space.lock().free(block, 1);
        return Err(super::map_errno(e));
    }
    drop(state);
    let buf = sb.zeroed_block(block)?;
    let mut bytes = buf.lock();
    disk::dirent_set(bytes.data_mut(), 0, ino as u32, dtype, name)?;
    bytes.mark_dirty();
    drop(bytes);
    dir.set_size(((index + 1) * disk::BLOCK_SIZE as u64) as i64);
    dir.mark_dirty();
    Ok(true)
}

/// Rewrites the entry in `slot` to point at `ino`, or clears it.
fn set_slot(dir: &DInode, slot: u64, entry: Option<(&[u8], u64, u8)>) -> Result {
    let per_block = disk::DIRENTS_PER_BLOCK as u64;
    let buf = dir_block(dir, slot / per_block)?;
    let mut bytes = buf.lock();
    let i = (slot % per_block) as usize;
    match entry {
        Some((name, ino, dtype)) => disk::dirent_set(bytes.data_mut(), i, ino as u32, dtype, name)?,
        None => disk::dirent_clear(bytes.data_mut(), i),
    }
    bytes.mark_dirty();
    Ok(())
}

fn is_empty(dir: &DInode) -> Result<bool> {
    Ok(for_each_entry(dir, 0, |_, _| Ok(ControlFlow::Break(())))?.is_continue())
}

fn remove_entry(dir: &DInode, name: &[u8]) -> Result {
    let (slot, _) = find(dir, name)?.ok_or(ENOENT)?;
    if dir_index::has_index(dir) {
        let per_block = disk::DIRENTS_PER_BLOCK as u64;
        let mut store = Store { dir };
        let r = (|| -> Result<(), IxError> {
            let mut ix = DirIndex::open(&mut store, dir_blocks(dir))?;
            let r = ix
                .set_block_free((slot / per_block) as u32, true)
                .and_then(|()| ix.remove(name, slot as u32));
            let finished = ix.finish();
            // `find` found it through the index: it is there.
            r?;
            finished
        })();
        r.map_err(|e| dir_index::errno(dir, e))?;
    }
    set_slot(dir, slot, None)?;
    dir.touch_mtime_ctime();
    dir.mark_dirty();
    Ok(())
}

/// Namespace operations; the VFS holds the directories' `i_rwsem`.
#[vtable]
impl DirOperations for Delafs {
    fn lookup(dir: &DInode, name: &[u8]) -> Result<Option<ARef<DInode>>> {
        check_name(name)?;
        let Some((slot, ino, dtype)) = find_typed(dir, name)? else {
            return Ok(None);
        };
        // The root and a directory itself are never named by an entry ("." and
        // ".." are not stored).
        if ino == dir.ino() || ino == disk::ROOT_INO {
            fs_err!(
                "{}: directory {}: entry {slot} names inode {ino}, a directory above it\n",
                dir.super_block().id(),
                dir.ino()
            );
            return Err(euclean());
        }
        let inode = iget(dir.super_block(), ino)?;
        // The entry and the inode must agree, and a directory has one name, in
        // the directory its `parent` field names: a second name for it (a
        // hard link) would make the tree a graph.
        let why = if dtype != dtype_of(&inode) {
            Some("entry type does not match the inode")
        } else if inode.kind() == InodeKind::Directory && lock_state(&inode).parent != dir.ino() {
            Some("directory named outside its parent")
        } else if inode.kind() == InodeKind::Directory
            // O(entries): only linear directories are scanned on each lookup.
            // In an indexed one a second name of a subdirectory is left to
            // its `parent` field (checked above: a name outside its parent
            // is refused) and to fsck, which counts every name.
            && !dir_index::has_index(dir)
            && named_twice(dir, slot, ino)?
        {
            Some("directory named twice")
        } else {
            None
        };
        if let Some(why) = why {
            fs_err!(
                "{}: directory {}: entry {slot} (inode {ino}): {why}\n",
                dir.super_block().id(),
                dir.ino()
            );
            return Err(euclean());
        }
        Ok(Some(inode))
    }

    fn create(dir: &DInode, name: &[u8], mode: u16, owner: &Owner) -> Result<ARef<DInode>> {
        check_name(name)?;
        let new: NewInode<Delafs> = inode::create(dir, mode, owner)?;
        let child = new.inode();
        add_entry(dir, name, child.ino(), dtype_of(child))?;
        if child.kind() == InodeKind::Directory {
            // The VFS refused a dead directory and one at `s_max_links`.
            dir.inc_nlink()?;
        }
        dir.touch_mtime_ctime();
        dir.mark_dirty();
        Ok(new.finish())
    }

    fn link(inode: &DInode, dir: &DInode, name: &[u8]) -> Result {
        check_name(name)?;
        add_entry(dir, name, inode.ino(), dtype_of(inode))?;
        // The VFS refused an unlinked inode and one at `s_max_links`.
        inode.inc_nlink()?;
        inode.touch_ctime();
        inode.mark_dirty();
        dir.touch_mtime_ctime();
        dir.mark_dirty();
        Ok(())
    }

    fn unlink(dir: &DInode, name: &[u8], inode: &DInode) -> Result {
        check_droppable(inode)?;
        remove_entry(dir, name)?;
        inode.touch_ctime();
        inode.drop_nlink()?;
        inode.mark_dirty();
        Ok(())
    }

    fn rmdir(dir: &DInode, name: &[u8], inode: &DInode) -> Result {
        if !is_empty(inode)? {
            return Err(enotempty());
        }
        check_parent_droppable(dir)?;
        remove_entry(dir, name)?;
        inode.touch_ctime();
        inode.clear_nlink();
        inode.mark_dirty();
        dir.drop_nlink()?;
        dir.mark_dirty();
        Ok(())
    }

    fn rename(
        old_dir: &DInode,
        old_name: &[u8],
        inode: &DInode,
        new_dir: &DInode,
        new_name: &[u8],
        target: Option<&DInode>,
        flags: RenameFlags,
    ) -> Result {
        // RENAME_EXCHANGE and RENAME_WHITEOUT are not implemented.
        if !flags.only(RenameFlags::NOREPLACE) {
            return Err(EINVAL);
        }
        check_name(new_name)?;
        let is_dir = inode.kind() == InodeKind::Directory;
        // Every link count this drops must be above 0 before anything changes.
        if is_dir && !core::ptr::eq(old_dir, new_dir) {
            check_parent_droppable(old_dir)?;
        }
        if let Some(target) = target {
            check_droppable(target)?;
            if target.kind() == InodeKind::Directory {
                check_parent_droppable(new_dir)?;
            }
        }
        if let Some(target) = target {
            if flags.contains(RenameFlags::NOREPLACE) {
                return Err(EEXIST);
            }
            if target.kind() == InodeKind::Directory && !is_empty(target)? {
                return Err(enotempty());
            }
            // Point the existing entry at the moved inode: nothing to allocate.
            let (slot, _) = find(new_dir, new_name)?.ok_or(ENOENT)?;
            set_slot(
                new_dir,
                slot,
                Some((new_name, inode.ino(), dtype_of(inode))),
            )?;
            target.touch_ctime();
            if target.kind() == InodeKind::Directory {
                target.clear_nlink();
                new_dir.drop_nlink()?;
            } else {
                target.drop_nlink()?;
            }
            target.mark_dirty();
        } else {
            add_entry(new_dir, new_name, inode.ino(), dtype_of(inode))?;
        }
        remove_entry(old_dir, old_name)?;
        if is_dir {
            // Raise first: with one directory, the count never passes 0.
            new_dir.inc_nlink()?;
            old_dir.drop_nlink()?;
            lock_state(inode).parent = new_dir.ino();
        }
        inode.touch_ctime();
        inode.mark_dirty();
        new_dir.touch_mtime_ctime();
        new_dir.mark_dirty();
        old_dir.mark_dirty();
        Ok(())
    }

    /// Positions: 0 and 1 are "." and "..", then 2 + slot number.
    fn readdir(dir: &DInode, pos: &mut i64, emit: DirEmit<'_>) -> Result {
        let first = (*pos - 2).max(0) as u64;
        let _ = for_each_entry(dir, first, |slot, entry| {
            if !emit(*pos, entry.name, u64::from(entry.ino), entry.file_type) {
                return Ok(ControlFlow::Break(()));
            }
            *pos = slot as i64 + 3;
            Ok(ControlFlow::Continue(()))
        })?;
        let end = 2 + (dir_blocks(dir) * disk::DIRENTS_PER_BLOCK as u64) as i64;
        if *pos < end
            && for_each_entry(dir, (*pos - 2) as u64, |_, _| Ok(ControlFlow::Break(())))?
                .is_continue()
        {
            *pos = end;
        }
        Ok(())
    }
}
