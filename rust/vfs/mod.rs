// SPDX-License-Identifier: GPL-2.0

//! The thin layer over `kernel::bindings`: every raw VFS, page cache, iomap
//! and debugfs call lives below this module, wrapped in small safe types and
//! in operation tables whose trampolines call the [`FileSystem`] trait. The
//! filesystem logic implements that trait using only these wrappers.

pub(crate) mod buffer;
#[macro_use]
pub(crate) mod bug;
pub(crate) mod debugfs;
pub(crate) mod folio;
pub(crate) mod fs_type;
pub(crate) mod inode;
pub(crate) mod iomap;
pub(crate) mod ops;
pub(crate) mod sb;

use kernel::bindings;
use kernel::error::{Error, Result};
use kernel::init::PinInit;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::types::ARef;

pub(crate) use inode::{Inode, InodeKind, NewInode, Time};
pub(crate) use iomap::{IoKind, Mapping, MappingKind};
pub(crate) use sb::{DataInited, New, SbState, SeqFile, StatFs, SuperBlock};

/// Converts a kernel pointer that may hold an `ERR_PTR()` into a `Result`.
pub(crate) fn from_err_ptr<T>(ptr: *mut T) -> Result<*mut T> {
    // SAFETY: `IS_ERR` and `PTR_ERR` only look at the pointer's value.
    if unsafe { bindings::IS_ERR(ptr.cast()) } {
        // SAFETY: as above; `PTR_ERR` of an error pointer is a negative errno
        // in `int` range.
        let errno = unsafe { bindings::PTR_ERR(ptr.cast()) };
        return Err(Error::from_errno(errno as i32));
    }
    Ok(ptr)
}

/// Builds an error from a positive errno constant of `bindings`.
pub(crate) fn errno(e: u32) -> Error {
    Error::from_errno(-(e as i32))
}

/// A section in which memory allocations do not recurse into filesystems
/// (`memalloc_nofs_save()`): filesystem locks may be held, and reclaim may
/// need them.
///
/// # Invariants
///
/// `flags` came from `memalloc_nofs_save()` on the current task, which is
/// the task that drops it (`!Send`).
#[must_use = "the no-fs section ends when this is dropped"]
pub(crate) struct NoFs {
    flags: u32,
    /// The state is the current task's (`current->flags`).
    _not_send: core::marker::PhantomData<*mut ()>,
}

impl NoFs {
    pub(crate) fn new() -> Self {
        // SAFETY: `memalloc_nofs_save()` only sets a flag of the current
        // task; it may be called in any context.
        let flags = unsafe { bindings::memalloc_nofs_save() };
        // INVARIANT: saved on this task; `Self` cannot leave it.
        Self {
            flags,
            _not_send: core::marker::PhantomData,
        }
    }
}

impl Drop for NoFs {
    fn drop(&mut self) {
        // SAFETY: by the type invariant `flags` came from the matching save
        // on this task. Sections nest (guards drop in reverse order of
        // creation), which is the LIFO order `memalloc_nofs_restore()` needs.
        unsafe { bindings::memalloc_nofs_restore(self.flags) };
    }
}

/// Sleeps for `us` microseconds (`fsleep()`: never busy-waits for long).
#[cfg_attr(delafs_no_delay_hook, expect(dead_code))]
pub(crate) fn sleep_us(us: u64) {
    // SAFETY: called from process context.
    unsafe { bindings::fsleep(us as _) };
}

/// Lets other tasks run during a long loop.
pub(crate) fn cond_resched() {
    // SAFETY: called from process context without spinlocks held.
    unsafe { bindings::cond_resched() };
}

/// Who a new inode belongs to: the creating task, through the idmap of the
/// mount it creates through (`struct mnt_idmap`), as the VFS passed it to the
/// creating operation.
///
/// # Invariants
///
/// Wraps a live `mnt_idmap` (the mount, or `nop_mnt_idmap`, pins it).
#[repr(transparent)]
pub(crate) struct Owner(kernel::types::Opaque<bindings::mnt_idmap>);

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

    pub(super) fn as_raw(&self) -> *mut bindings::mnt_idmap {
        self.0.get()
    }
}

/// What `readdir` hands each entry to; returns `false` when the user buffer
/// is full and the walk must stop.
pub(crate) type DirEmit<'a> = &'a mut dyn FnMut(&[u8], u64, u8) -> bool;

/// A block-device filesystem built on iomap, as the operation tables of
/// [`ops`] call it.
///
/// Locking is the VFS's: namespace operations run with the directories'
/// `i_rwsem` held as the VFS documents; `setsize` and `punch_hole` with the
/// inode lock and the invalidate lock held exclusively.
pub(crate) trait FileSystem: Sized + Send + Sync + 'static {
    /// Per-superblock data (`s_fs_info`).
    type Data: Send + Sync;
    /// Per-inode data, allocated with the VFS inode.
    type InodeData: Send + Sync;

    const NAME: &'static CStr;
    const MAGIC: u32;
    /// The largest file size the on-disk format can address (`s_maxbytes`):
    /// the VFS refuses writes, truncates and fallocates past it with
    /// `EFBIG`, so no offset the filesystem sees reaches it.
    const MAX_BYTES: i64;
    /// The largest link count the on-disk format can store
    /// (`s_max_links`): `link(2)` and `mkdir(2)` fail with `EMLINK` there.
    const MAX_LINKS: u32;

    /// Mount options, parsed before `fill_super` and on remount.
    type Options: Default + Send;

    fn init_inode_data() -> impl PinInit<Self::InodeData, Error>;

    /// One mount option, `key` alone (`value` is `None`) or `key=value`.
    /// `Ok(false)` for a key the filesystem does not know: the VFS then
    /// handles `source` and refuses anything else.
    fn parse_option(opts: &mut Self::Options, key: &[u8], value: Option<&[u8]>) -> Result<bool>;
    /// Remount with `opts`: refuse what cannot change on a mounted
    /// filesystem.
    fn reconfigure(sb: &SuperBlock<Self>, opts: &Self::Options) -> Result;
    /// The filesystem's options for `/proc/mounts`, each as `,key=value`.
    fn show_options(sb: &SuperBlock<Self>, out: &mut SeqFile) -> Result;

    /// Reads and checks the on-disk superblock; the block size is set. The
    /// superblock has no data yet, so [`SuperBlock::data`] is not there.
    fn fill_super(
        sb: &SuperBlock<Self, New>,
        opts: &Self::Options,
    ) -> Result<Pin<KBox<Self::Data>>>;
    /// Loads the root directory, once `s_fs_info` is set.
    fn root_inode(sb: &SuperBlock<Self>) -> Result<ARef<Inode<Self>>>;
    fn statfs(sb: &SuperBlock<Self>) -> Result<StatFs>;
    fn sync_fs(sb: &SuperBlock<Self>, wait: bool) -> Result;
    /// Called from `kill_sb` after every inode is gone, before `Data` drops.
    fn put_super(sb: &SuperBlock<Self>);

    fn write_inode(inode: &Inode<Self>, sync: bool) -> Result;
    /// The last reference is gone and the page cache is empty.
    fn evict_inode(inode: &Inode<Self>);

    fn lookup(dir: &Inode<Self>, name: &[u8]) -> Result<Option<ARef<Inode<Self>>>>;
    /// Creates a regular file or directory (`mode` has the type).
    fn create(
        dir: &Inode<Self>,
        name: &[u8],
        mode: u16,
        owner: &Owner,
    ) -> Result<ARef<Inode<Self>>>;
    fn link(inode: &Inode<Self>, dir: &Inode<Self>, name: &[u8]) -> Result;
    fn unlink(dir: &Inode<Self>, name: &[u8], inode: &Inode<Self>) -> Result;
    fn rmdir(dir: &Inode<Self>, name: &[u8], inode: &Inode<Self>) -> Result;
    fn rename(
        old_dir: &Inode<Self>,
        old_name: &[u8],
        inode: &Inode<Self>,
        new_dir: &Inode<Self>,
        new_name: &[u8],
        target: Option<&Inode<Self>>,
        flags: u32,
    ) -> Result;
    /// Emits entries from `*pos` (0 and 1 are "." and ".."), advancing it.
    fn readdir(dir: &Inode<Self>, pos: &mut i64, emit: DirEmit<'_>) -> Result;

    fn iomap_begin(
        inode: &Inode<Self>,
        pos: i64,
        len: i64,
        flags: u32,
        kind: IoKind,
    ) -> Result<Mapping>;
    fn iomap_end(
        inode: &Inode<Self>,
        pos: i64,
        len: i64,
        written: isize,
        flags: u32,
        mapping: &Mapping,
        kind: IoKind,
    ) -> Result;
    /// Writeback of the dirty bytes `[offset, offset + len)`: the blocks under
    /// `offset`, allocating delalloc ones (at most those under the range).
    fn map_blocks(inode: &Inode<Self>, offset: i64, len: u32) -> Result<Mapping>;
    /// A write of `[pos, end)` is about to start (inode locked, checks
    /// done): the place to zero what lies between EOF and `pos`, and to drop
    /// whatever lies past EOF before the file grows over it.
    fn prepare_write(inode: &Inode<Self>, pos: i64, end: i64) -> Result;
    /// A direct write that was to grow the file returned without growing it
    /// that far (an error or a short write; inode locked, every direct I/O
    /// of the inode complete).
    fn dio_write_failed(inode: &Inode<Self>) -> Result;
    /// The last reference to an open file of the inode is being put.
    fn release_file(inode: &Inode<Self>) -> Result;
    /// A direct write of `size` bytes at `offset` completed; `failed` if
    /// with an error (which iomap returns to the caller whatever this does).
    fn dio_write_done(inode: &Inode<Self>, offset: i64, size: isize, failed: bool) -> Result;
    /// truncate(2) to `size`.
    fn setsize(inode: &Inode<Self>, size: i64) -> Result;
    /// fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE).
    fn punch_hole(inode: &Inode<Self>, offset: i64, len: i64) -> Result;
    /// Makes the inode's metadata durable (its data is already written).
    fn sync_inode_metadata(inode: &Inode<Self>) -> Result;
}

/// A rate limit for kernel messages a user can trigger again and again (a
/// corrupt image walked by `find`): at most `BURST` messages a window of
/// `WINDOW_NS`, then one line counting what was left out. Like the C
/// `printk_ratelimited()`, whose state cannot be declared from Rust.
pub(crate) struct RateLimit {
    window_start: core::sync::atomic::AtomicU64,
    printed: core::sync::atomic::AtomicU32,
    suppressed: core::sync::atomic::AtomicU32,
}

impl RateLimit {
    const BURST: u32 = 10;
    const WINDOW_NS: u64 = 5_000_000_000;

    pub(crate) const fn new() -> Self {
        Self {
            window_start: core::sync::atomic::AtomicU64::new(0),
            printed: core::sync::atomic::AtomicU32::new(0),
            suppressed: core::sync::atomic::AtomicU32::new(0),
        }
    }

    /// Whether a message may be printed now; on the first message of a new
    /// window, `Some(n)` messages were suppressed in the last one.
    pub(crate) fn allow(&self) -> (bool, u32) {
        use core::sync::atomic::Ordering::Relaxed;
        // SAFETY: `ktime_get()` may be called from any context.
        let now = u64::try_from(unsafe { bindings::ktime_get() }).unwrap_or(0);
        let start = self.window_start.load(Relaxed);
        if now.saturating_sub(start) >= Self::WINDOW_NS
            && self
                .window_start
                .compare_exchange(start, now, Relaxed, Relaxed)
                .is_ok()
        {
            self.printed.store(0, Relaxed);
            let missed = self.suppressed.swap(0, Relaxed);
            self.printed.fetch_add(1, Relaxed);
            return (true, missed);
        }
        if self.printed.fetch_add(1, Relaxed) < Self::BURST {
            return (true, 0);
        }
        self.suppressed.fetch_add(1, Relaxed);
        (false, 0)
    }
}
