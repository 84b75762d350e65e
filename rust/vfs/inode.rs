// SPDX-License-Identifier: GPL-2.0

//! Inodes: the VFS inode embedded next to the filesystem's per-inode data,
//! references, locks and attribute accessors.

use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ptr::NonNull;

use kernel::bindings;
use kernel::error::{Error, Result};
use kernel::prelude::*;
use kernel::types::{ARef, AlwaysRefCounted, Opaque};

use super::buffer::BLOCK_SIZE;
use super::error::euclean;
use super::filesystem::FileSystem;
use super::sb::{DataInited, SuperBlock};

// rust/vfs/lockdep.c: lockdep's assertions, which are macros.
extern "C" {
    fn delafs_assert_rwsem_held_write(sem: *mut bindings::rw_semaphore);
    fn delafs_assert_rwsem_held(sem: *mut bindings::rw_semaphore);
}

/// A VFS inode followed by the filesystem's own data, allocated together by
/// `super_operations::alloc_inode`.
#[pin_data]
pub(crate) struct InodeWithData<T: FileSystem> {
    #[pin]
    data: T::InodeData,
    inode: Opaque<bindings::inode>,
}

impl<T: FileSystem> InodeWithData<T> {
    /// Allocates an inode for `super_operations::alloc_inode`.
    pub(super) fn alloc() -> Result<*mut bindings::inode> {
        let boxed = KBox::pin_init(
            try_pin_init!(Self {
                data <- T::init_inode_data(),
                inode: Opaque::uninit(),
            }? Error),
            GFP_KERNEL,
        )?;
        // SAFETY: the inode is never moved out of the box; `free` rebuilds
        // the box from the pointer.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(boxed) });
        // SAFETY: `raw` is the valid allocation just made; taking a field's
        // address reads nothing.
        let inode = unsafe { (*raw).inode.get() };
        // SAFETY: `inode` points into the new allocation, which nobody else
        // can see yet; `inode_init_once` initialises it in place.
        unsafe { bindings::inode_init_once(inode) };
        Ok(inode)
    }

    /// Frees an inode for `super_operations::free_inode`.
    ///
    /// # Safety
    ///
    /// `inode` came from [`Self::alloc`] and the VFS is done with it.
    pub(super) unsafe fn free(inode: *mut bindings::inode) {
        // SAFETY: by the safety requirements `inode` is the `inode` field of
        // an `InodeWithData<T>` allocated by `alloc` with `KBox`.
        let this = unsafe { kernel::container_of!(inode, Self, inode) }.cast_mut();
        // SAFETY: `this` came from `KBox::into_raw` in `alloc`, and the VFS
        // is done with the inode (function safety requirements).
        drop(unsafe { KBox::from_raw(this) });
    }
}

/// A VFS inode of filesystem `T`.
///
/// # Invariants
///
/// The wrapped inode is live (referenced) for as long as a `&Self` exists, is
/// embedded in an [`InodeWithData<T>`], and belongs to a superblock of `T`
/// whose `s_fs_info` is set (inodes are only made by [`SuperBlock::iget`] and
/// [`SuperBlock::new_inode`], which need a [`DataInited`] superblock).
#[repr(transparent)]
pub(crate) struct Inode<T: FileSystem>(Opaque<bindings::inode>, PhantomData<T>);

// SAFETY: an inode reference may be dropped (`iput()`) by any task, and the
// filesystem data is `Send` (`FileSystem::InodeData: Send`).
unsafe impl<T: FileSystem> Send for Inode<T> {}
// SAFETY: every `&self` method goes through kernel helpers that do their own
// locking or through the filesystem data, which is `Sync`.
unsafe impl<T: FileSystem> Sync for Inode<T> {}

// SAFETY: `ihold`/`iput` keep the inode alive while a reference exists.
unsafe impl<T: FileSystem> AlwaysRefCounted for Inode<T> {
    fn inc_ref(&self) {
        // SAFETY: `self` is a live inode, so its count is already positive.
        unsafe { bindings::ihold(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller owns a reference.
        unsafe { bindings::iput(obj.cast().as_ptr()) };
    }
}

/// Who a new inode belongs to: the creating task, through the idmap of the
/// mount it creates through (`struct mnt_idmap`), as the VFS passed it to the
/// creating operation.
///
/// # Invariants
///
/// Wraps a live `mnt_idmap` (the mount, or `nop_mnt_idmap`, pins it).
#[repr(transparent)]
pub(crate) struct Owner(Opaque<bindings::mnt_idmap>);

impl Owner {
    /// # Safety
    ///
    /// `idmap` is the idmap the VFS passed to the running operation; it
    /// stays alive for `'a`.
    pub(super) unsafe fn from_raw<'a>(idmap: *mut bindings::mnt_idmap) -> &'a Self {
        // SAFETY: `Self` is `repr(transparent)` over `mnt_idmap`; the caller
        // guarantees the pointee is alive for `'a`.
        unsafe { &*idmap.cast() }
    }

    fn as_raw(&self) -> *mut bindings::mnt_idmap {
        self.0.get()
    }
}

/// What an inode is, from its mode.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum InodeKind {
    Regular,
    Directory,
    Other,
}

/// A timestamp.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct Time {
    pub(crate) sec: i64,
    pub(crate) nsec: u32,
}

impl Time {
    fn from_ts(ts: bindings::timespec64) -> Self {
        Self {
            sec: ts.tv_sec,
            nsec: ts.tv_nsec as u32,
        }
    }

    fn to_ts(self) -> bindings::timespec64 {
        bindings::timespec64 {
            tv_sec: self.sec,
            tv_nsec: self.nsec as _,
        }
    }
}

impl<T: FileSystem> Inode<T> {
    /// # Safety
    ///
    /// `ptr` is a live inode of filesystem `T` that stays alive for `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::inode) -> &'a Self {
        // SAFETY: `Self` is `repr(transparent)` over the inode; the caller
        // guarantees validity and lifetime.
        unsafe { &*ptr.cast() }
    }

    pub(super) fn as_raw(&self) -> *mut bindings::inode {
        self.0.get()
    }

    /// The filesystem's data for this inode.
    pub(crate) fn data(&self) -> &T::InodeData {
        // SAFETY: by the type invariant the inode is embedded in an
        // `InodeWithData<T>`, which lives as long as the inode.
        let outer = unsafe { kernel::container_of!(self.as_raw(), InodeWithData<T>, inode) };
        // SAFETY: `outer` is the live `InodeWithData<T>` (above), and `data`
        // is only ever shared.
        unsafe { &(*outer).data }
    }

    pub(crate) fn super_block(&self) -> &SuperBlock<T> {
        // SAFETY: a live inode's `i_sb` is a live superblock of `T` (type
        // invariant) that outlives the inode.
        unsafe { SuperBlock::from_raw((*self.as_raw()).i_sb) }
    }

    pub(crate) fn ino(&self) -> u64 {
        // SAFETY: `i_ino` does not change after the inode is hashed.
        unsafe { (*self.as_raw()).i_ino as u64 }
    }

    pub(crate) fn mode(&self) -> u16 {
        // SAFETY: reading the mode of a live inode; changes happen under the
        // inode lock and are word-sized.
        unsafe { (*self.as_raw()).i_mode }
    }

    pub(crate) fn kind(&self) -> InodeKind {
        match u32::from(self.mode()) & bindings::S_IFMT {
            bindings::S_IFREG => InodeKind::Regular,
            bindings::S_IFDIR => InodeKind::Directory,
            _ => InodeKind::Other,
        }
    }

    pub(crate) fn size(&self) -> i64 {
        // SAFETY: `i_size_read` is safe on any live inode.
        unsafe { bindings::i_size_read(self.as_raw()) }
    }

    /// Sets `i_size`. Callers hold the inode lock, as `i_size_write` requires.
    pub(crate) fn set_size(&self, size: i64) {
        // SAFETY: live inode; the caller serialises size updates.
        unsafe { bindings::i_size_write(self.as_raw(), size) };
    }

    pub(crate) fn nlink(&self) -> u32 {
        // SAFETY: reading a word of a live inode.
        unsafe { (*self.as_raw()).__bindgen_anon_1.i_nlink }
    }

    pub(crate) fn set_nlink(&self, n: u32) {
        // SAFETY: live inode; link counts change under the inode lock.
        unsafe { bindings::set_nlink(self.as_raw(), n) };
    }

    /// Counts one more link. A count of 0 (an inode being deleted) or at
    /// the filesystem's maximum is not raised: `inc_nlink()` would warn or
    /// wrap, and an on-disk count may be wrong.
    pub(crate) fn inc_nlink(&self) -> Result {
        let n = self.nlink();
        if n == 0 || n >= T::MAX_LINKS {
            return Err(euclean());
        }
        // SAFETY: the inode is live (type invariant); the count is neither 0
        // nor at its maximum, so `inc_nlink()` does not warn.
        unsafe { bindings::inc_nlink(self.as_raw()) };
        Ok(())
    }

    /// Counts one link less; a count already 0 (which `drop_nlink()` would
    /// warn about: an on-disk count that was too small) is left alone.
    pub(crate) fn drop_nlink(&self) -> Result {
        if self.nlink() == 0 {
            return Err(euclean());
        }
        // SAFETY: the inode is live (type invariant); the count is not 0, so
        // `drop_nlink()` does not warn.
        unsafe { bindings::drop_nlink(self.as_raw()) };
        Ok(())
    }

    pub(crate) fn clear_nlink(&self) {
        // SAFETY: the inode is live (type invariant).
        unsafe { bindings::clear_nlink(self.as_raw()) };
    }

    pub(crate) fn uid(&self) -> u32 {
        // SAFETY: the inode is live (type invariant).
        unsafe { bindings::i_uid_read(self.as_raw()) }
    }

    pub(crate) fn gid(&self) -> u32 {
        // SAFETY: the inode is live (type invariant).
        unsafe { bindings::i_gid_read(self.as_raw()) }
    }

    pub(crate) fn atime(&self) -> Time {
        // SAFETY: the inode is live (type invariant).
        Time::from_ts(unsafe { bindings::inode_get_atime(self.as_raw()) })
    }

    pub(crate) fn mtime(&self) -> Time {
        // SAFETY: the inode is live (type invariant).
        Time::from_ts(unsafe { bindings::inode_get_mtime(self.as_raw()) })
    }

    pub(crate) fn ctime(&self) -> Time {
        // SAFETY: the inode is live (type invariant).
        Time::from_ts(unsafe { bindings::inode_get_ctime(self.as_raw()) })
    }

    /// Sets mtime and ctime to now, as after a directory change.
    pub(crate) fn touch_mtime_ctime(&self) {
        // SAFETY: the inode is live (type invariant).
        unsafe {
            let now = bindings::inode_set_ctime_current(self.as_raw());
            bindings::inode_set_mtime_to_ts(self.as_raw(), now);
        }
    }

    pub(crate) fn touch_ctime(&self) {
        // SAFETY: the inode is live (type invariant).
        unsafe { bindings::inode_set_ctime_current(self.as_raw()) };
    }

    /// Blocks reported by stat(2), in 512-byte units.
    pub(crate) fn set_blocks(&self, blocks_512: u64) {
        // SAFETY: live inode; `i_blocks` is informational.
        unsafe { (*self.as_raw()).i_blocks = blocks_512 };
    }

    /// Adds `blocks` filesystem blocks to what stat(2) reports, at once
    /// (`write_inode` later sets the exact figure from the extent map).
    pub(crate) fn add_blocks(&self, blocks: u64) {
        let bytes = i64::try_from(blocks.saturating_mul(BLOCK_SIZE as u64)).unwrap_or(i64::MAX);
        // SAFETY: live inode; `inode_add_bytes` takes `i_lock` itself.
        unsafe { bindings::inode_add_bytes(self.as_raw(), bytes) };
    }

    pub(crate) fn mark_dirty(&self) {
        // SAFETY: the inode is live (type invariant).
        unsafe { bindings::mark_inode_dirty(self.as_raw()) };
    }

    /// The inode's page cache, for the calls of this layer.
    pub(super) fn mapping(&self) -> *mut bindings::address_space {
        // SAFETY: `i_mapping` is set at allocation and never changes for
        // our inodes.
        unsafe { (*self.as_raw()).i_mapping }
    }

    /// Sets `i_size` and drops the page cache past it (`truncate_setsize()`).
    /// The caller holds the inode lock exclusively, as truncate does.
    pub(crate) fn truncate_setsize(&self, size: i64) {
        self.assert_locked_write();
        // SAFETY: live inode (type invariant); its lock is held (asserted
        // above), which `truncate_setsize()` needs for `i_size_write()`.
        unsafe { bindings::truncate_setsize(self.as_raw(), size) };
    }

    /// Asserts (with lockdep) that this task holds the inode lock
    /// exclusively.
    pub(crate) fn assert_locked_write(&self) {
        // SAFETY: `i_rwsem` of a live inode (type invariant) is a valid
        // rwsem; the helper only reads lockdep's state.
        unsafe { delafs_assert_rwsem_held_write(&raw mut (*self.as_raw()).i_rwsem) };
    }

    /// Asserts (with lockdep) that this task holds the inode lock, shared or
    /// exclusively.
    pub(crate) fn assert_locked(&self) {
        // SAFETY: as in `assert_locked_write`.
        unsafe { delafs_assert_rwsem_held(&raw mut (*self.as_raw()).i_rwsem) };
    }

    /// Asserts (with lockdep) that this task holds the mapping's invalidate
    /// lock exclusively, as iomap's delalloc release asserts.
    pub(crate) fn assert_invalidate_locked_write(&self) {
        // SAFETY: `i_mapping` of a live inode is a valid mapping whose
        // `invalidate_lock` is a valid rwsem; the helper only reads
        // lockdep's state.
        unsafe { delafs_assert_rwsem_held_write(&raw mut (*self.mapping()).invalidate_lock) };
    }

    /// Takes the mapping's invalidate lock shared (page faults).
    pub(crate) fn lock_invalidate_shared(&self) -> InvalidateSharedGuard<'_, T> {
        // SAFETY: `i_mapping` of a live inode is a valid mapping.
        unsafe { bindings::filemap_invalidate_lock_shared(self.mapping()) };
        // INVARIANT: taken just above, by this task.
        InvalidateSharedGuard(self, PhantomData)
    }

    /// Takes the mapping's invalidate lock exclusively.
    pub(crate) fn lock_invalidate(&self) -> InvalidateGuard<'_, T> {
        // SAFETY: live inode with a valid mapping.
        unsafe { bindings::filemap_invalidate_lock(self.mapping()) };
        InvalidateGuard(self, PhantomData)
    }

    /// Takes the inode lock (`i_rwsem`) exclusively.
    pub(crate) fn lock(&self) -> InodeGuard<'_, T> {
        // SAFETY: the inode is live (type invariant).
        unsafe { bindings::inode_lock(self.as_raw()) };
        InodeGuard(self, PhantomData)
    }

    /// Takes the inode lock shared.
    pub(crate) fn lock_shared(&self) -> InodeSharedGuard<'_, T> {
        // SAFETY: the inode is live (type invariant).
        unsafe { bindings::inode_lock_shared(self.as_raw()) };
        InodeSharedGuard(self, PhantomData)
    }

    /// Waits for in-flight direct I/O.
    pub(crate) fn dio_wait(&self) {
        // SAFETY: the inode is live (type invariant).
        unsafe { bindings::inode_dio_wait(self.as_raw()) };
    }

    /// Drops page cache over `[start, end]` (bytes, inclusive).
    pub(crate) fn truncate_pagecache_range(&self, start: i64, end_inclusive: i64) {
        // SAFETY: the inode is live (type invariant); callers hold the inode
        // and invalidate locks, as truncating the page cache requires.
        unsafe { bindings::truncate_pagecache_range(self.as_raw(), start, end_inclusive) };
    }

    /// Writes the inode (if dirty) and waits.
    pub(crate) fn sync_metadata(&self) -> Result {
        // SAFETY: the inode is live (type invariant).
        kernel::error::to_result(unsafe { bindings::sync_inode_metadata(self.as_raw(), 1) })
    }

    /// Finishes setting up a new inode from [`SuperBlock::iget`]; only
    /// [`NewInode::finish`] may call it.
    fn unlock_new(&self) {
        // SAFETY: the one caller, `NewInode::finish`, calls it once on an
        // `I_NEW` inode it owns (its type invariant).
        unsafe { bindings::unlock_new_inode(self.as_raw()) };
    }
}

/// The mapping's invalidate lock, held exclusively.
///
/// `!Send`: an rwsem is released by the task that took it.
#[must_use = "the lock is released when the guard is dropped"]
pub(crate) struct InvalidateGuard<'a, T: FileSystem>(&'a Inode<T>, PhantomData<*mut ()>);

impl<T: FileSystem> Drop for InvalidateGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: taken in `lock_invalidate`.
        unsafe { bindings::filemap_invalidate_unlock(self.0.mapping()) };
    }
}

/// The mapping's invalidate lock, held shared.
///
/// `!Send`: an rwsem is released by the task that took it.
#[must_use = "the lock is released when the guard is dropped"]
pub(crate) struct InvalidateSharedGuard<'a, T: FileSystem>(&'a Inode<T>, PhantomData<*mut ()>);

impl<T: FileSystem> Drop for InvalidateSharedGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: taken by this task in `lock_invalidate_shared`.
        unsafe { bindings::filemap_invalidate_unlock_shared(self.0.mapping()) };
    }
}

/// The inode lock, held exclusively.
///
/// `!Send`: an rwsem is released by the task that took it.
#[must_use = "the lock is released when the guard is dropped"]
pub(crate) struct InodeGuard<'a, T: FileSystem>(&'a Inode<T>, PhantomData<*mut ()>);

impl<T: FileSystem> Drop for InodeGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: taken in `lock`.
        unsafe { bindings::inode_unlock(self.0.as_raw()) };
    }
}

/// The inode lock, held shared.
///
/// `!Send`: an rwsem is released by the task that took it.
#[must_use = "the lock is released when the guard is dropped"]
pub(crate) struct InodeSharedGuard<'a, T: FileSystem>(&'a Inode<T>, PhantomData<*mut ()>);

impl<T: FileSystem> Drop for InodeSharedGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: taken in `lock_shared`.
        unsafe { bindings::inode_unlock_shared(self.0.as_raw()) };
    }
}

/// An inode fresh from `iget_locked()` or `new_inode()` that the filesystem
/// must fill in; it becomes usable through [`NewInode::finish`]. Dropping it
/// instead undoes the allocation.
///
/// # Invariants
///
/// `inode` holds a reference and, if `locked`, the inode is `I_NEW`.
pub(crate) struct NewInode<T: FileSystem> {
    inode: ManuallyDrop<ARef<Inode<T>>>,
    locked: bool,
}

impl<T: FileSystem> NewInode<T> {
    fn new(inode: ARef<Inode<T>>, locked: bool) -> Self {
        Self {
            inode: ManuallyDrop::new(inode),
            locked,
        }
    }

    pub(crate) fn inode(&self) -> &Inode<T> {
        &self.inode
    }

    /// Sets the type, permissions and owner of the inode.
    pub(super) fn set_mode_owner(&self, mode: u16, uid: u32, gid: u32) {
        let raw = self.inode.as_raw();
        // SAFETY: nobody else can see a `NewInode` yet, so its fields are
        // ours to write.
        unsafe {
            (*raw).i_mode = mode;
            bindings::i_uid_write(raw, uid);
            bindings::i_gid_write(raw, gid);
        }
    }

    /// Sets owner and mode like a new file in `dir` created through
    /// `owner`'s mount (`inode_init_owner()`).
    pub(super) fn init_owner(&self, owner: &Owner, dir: &Inode<T>, mode: u16) {
        // SAFETY: nobody else can see a `NewInode` yet; `dir` is a live inode
        // and `owner` a live idmap (type invariants).
        unsafe {
            bindings::inode_init_owner(owner.as_raw(), self.inode.as_raw(), dir.as_raw(), mode)
        };
    }

    /// Sets all three timestamps.
    pub(crate) fn set_times(&self, atime: Time, mtime: Time, ctime: Time) {
        let raw = self.inode.as_raw();
        // SAFETY: the inode is new, so nobody else looks at it yet.
        unsafe {
            bindings::inode_set_atime_to_ts(raw, atime.to_ts());
            bindings::inode_set_mtime_to_ts(raw, mtime.to_ts());
            bindings::inode_set_ctime_to_ts(raw, ctime.to_ts());
        }
    }

    /// Publishes the inode.
    pub(crate) fn finish(self) -> ARef<Inode<T>> {
        if self.locked {
            self.inode.unlock_new();
        }
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so the reference is taken once.
        unsafe { ManuallyDrop::take(&mut this.inode) }
    }
}

impl<T: FileSystem> Drop for NewInode<T> {
    fn drop(&mut self) {
        if self.locked {
            // SAFETY: by the type invariant the inode is `I_NEW` and we own a
            // reference, which `iget_failed` consumes.
            unsafe { bindings::iget_failed(self.inode.as_raw()) };
        } else {
            // A new_inode() inode that failed to initialise: eviction must
            // see it as unlinked and with nothing on disk.
            self.inode.clear_nlink();
            // SAFETY: dropped once, here.
            unsafe { ManuallyDrop::drop(&mut self.inode) };
        }
    }
}

impl<T: FileSystem> SuperBlock<T, DataInited> {
    /// The cached inode `ino`, or a new `I_NEW` one the caller must fill in.
    pub(crate) fn iget(&self, ino: u64) -> Result<Result<ARef<Inode<T>>, NewInode<T>>> {
        // SAFETY: live superblock.
        let raw = unsafe { bindings::iget_locked(self.as_raw(), ino as _) };
        let raw = NonNull::new(raw).ok_or(ENOMEM)?;
        // SAFETY: `iget_locked` returned a referenced inode of this
        // superblock, allocated by our `alloc_inode`.
        let inode = unsafe { ARef::from_raw(raw.cast::<Inode<T>>()) };
        // SAFETY: reading `i_state` of a referenced inode; `I_NEW` only
        // clears through `unlock_new_inode`, which only we call.
        if unsafe { (*raw.as_ptr()).i_state } & bindings::I_NEW != 0 {
            Ok(Err(NewInode::new(inode, true)))
        } else {
            Ok(Ok(inode))
        }
    }

    /// A brand-new inode numbered `ino`, hashed so `iget` finds it.
    pub(crate) fn new_inode(&self, ino: u64) -> Result<NewInode<T>> {
        // SAFETY: live superblock.
        let raw = NonNull::new(unsafe { bindings::new_inode(self.as_raw()) }).ok_or(ENOMEM)?;
        // SAFETY: `new_inode` returned a referenced inode from our
        // `alloc_inode`; it is not visible to anyone else yet.
        unsafe {
            (*raw.as_ptr()).i_ino = ino as _;
            bindings::insert_inode_hash(raw.as_ptr());
        }
        // SAFETY: `new_inode` returned a reference we now own.
        let inode = unsafe { ARef::from_raw(raw.cast::<Inode<T>>()) };
        Ok(NewInode::new(inode, false))
    }
}
