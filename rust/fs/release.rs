// SPDX-License-Identifier: GPL-2.0

//! delafs's delalloc release loop: the shared algorithm of
//! [`crate::shared::release`] run on the real page cache, with the knobs and
//! counters the race lab reads through debugfs.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use kernel::prelude::*;

use super::{lock_state, DInode};
use crate::shared::extent_map::Filter;
use crate::shared::format::BLOCK_SIZE;
use crate::shared::release::{self, CachedFolio, Mode, PageCache, Warning};
use crate::vfs::bug::warn_once;
use crate::vfs::folio::LockedFolio;

/// `release_mode`: 0 fixed (default), 1 legacy.
pub(crate) static RELEASE_MODE: AtomicU32 = AtomicU32::new(0);
/// `seek_delay_us`: sleep between the two seeks; 0 disarms.
pub(crate) static SEEK_DELAY_US: AtomicU32 = AtomicU32::new(0);
/// `delay_ino`: only delay the release loop of this inode; 0 = any.
pub(crate) static DELAY_INO: AtomicU64 = AtomicU64::new(0);
/// The largest `seek_delay_us` (and `map_delay_us`) accepted: one second.
pub(crate) const MAX_SEEK_DELAY_US: u32 = 1_000_000;
/// `map_delay_us`: sleep after `->iomap_begin` mapped a buffered write of
/// the `delay_ino` inode, before iomap writes through the mapping; 0
/// disarms. Writeback landing in that window makes the mapping stale, which
/// is how an ordinary writer reaches the release loop (`iomap_valid` says
/// no, `->iomap_end` gives back the unwritten reservation): the window is
/// otherwise a few microseconds wide.
pub(crate) static MAP_DELAY_US: AtomicU32 = AtomicU32::new(0);

/// Counters, read through debugfs.
pub(crate) struct Counters {
    pub(crate) calls: AtomicU64,
    pub(crate) delays: AtomicU64,
    pub(crate) races: AtomicU64,
    pub(crate) legacy_warnings: AtomicU64,
    pub(crate) other_warnings: AtomicU64,
    pub(crate) punches: AtomicU64,
    pub(crate) punched_bytes: AtomicU64,
    pub(crate) evict_leaked_blocks: AtomicU64,
    /// Direct-write completions (`end_io`, which runs just before iomap
    /// invalidates the written range) while a release loop slept between
    /// its seeks: the evidence that the DIO trigger's eviction comes from
    /// the completion.
    pub(crate) dio_completions_in_delay: AtomicU64,
    /// Buffered-write mappings found stale before a folio (`iomap_valid`
    /// said no: writeback or a punch changed the extent map meanwhile),
    /// each making iomap map again, through `iomap_end` and so the release
    /// loop, as on XFS.
    pub(crate) stale_mappings: AtomicU64,
    /// Buffered-write mappings that slept in `map_delay_us`.
    pub(crate) map_delays: AtomicU64,
    /// Unwritten blocks marked written at I/O completion (writeback and
    /// direct writes).
    pub(crate) unwritten_converted_blocks: AtomicU64,
}

pub(crate) static COUNTERS: Counters = Counters {
    calls: AtomicU64::new(0),
    delays: AtomicU64::new(0),
    races: AtomicU64::new(0),
    legacy_warnings: AtomicU64::new(0),
    other_warnings: AtomicU64::new(0),
    punches: AtomicU64::new(0),
    punched_bytes: AtomicU64::new(0),
    evict_leaked_blocks: AtomicU64::new(0),
    dio_completions_in_delay: AtomicU64::new(0),
    stale_mappings: AtomicU64::new(0),
    map_delays: AtomicU64::new(0),
    unwritten_converted_blocks: AtomicU64::new(0),
};

/// Release loops sleeping in the seek delay right now.
static IN_DELAY: AtomicU32 = AtomicU32::new(0);

/// Called at every direct-write completion.
pub(crate) fn count_dio_completion() {
    if IN_DELAY.load(Ordering::Relaxed) != 0 {
        COUNTERS
            .dio_completions_in_delay
            .fetch_add(1, Ordering::Relaxed);
    }
}

pub(crate) fn count_stale_mapping() {
    COUNTERS.stale_mappings.fetch_add(1, Ordering::Relaxed);
}

/// The `map_delay_us` hook: called by `->iomap_begin` for a buffered
/// write of `ino` once its mapping and cookie are taken and no lock of
/// delafs's is held (the caller holds the inode lock, which writeback does
/// not take).
#[cfg(not(delafs_no_delay_hook))]
pub(crate) fn after_write_mapping(ino: u64) {
    // Disarmed, this is one relaxed load and a branch.
    let delay = MAP_DELAY_US.load(Ordering::Relaxed);
    if delay == 0 {
        return;
    }
    // Unlike the seek delay this one needs an inode: a write of any file
    // would stall every writer on the filesystem.
    if DELAY_INO.load(Ordering::Relaxed) != ino {
        return;
    }
    // Counted before sleeping, so a test can start writeback while we sleep.
    COUNTERS.map_delays.fetch_add(1, Ordering::Relaxed);
    crate::vfs::sleep_us(delay.into());
}

#[cfg(delafs_no_delay_hook)]
pub(crate) fn after_write_mapping(_ino: u64) {}

pub(crate) fn count_converted(blocks: u64) {
    COUNTERS
        .unwritten_converted_blocks
        .fetch_add(blocks, Ordering::Relaxed);
}

pub(crate) fn count_evict_leak(blocks: u64) {
    COUNTERS
        .evict_leaked_blocks
        .fetch_add(blocks, Ordering::Relaxed);
}

impl CachedFolio for LockedFolio {
    fn pos(&self) -> i64 {
        LockedFolio::pos(self)
    }

    fn size(&self) -> i64 {
        LockedFolio::size(self)
    }

    fn is_dirty(&self) -> bool {
        LockedFolio::is_dirty(self)
    }

    fn block_is_dirty(&self, block: u32) -> bool {
        LockedFolio::block_is_dirty(self, block)
    }
}

/// The page cache of one inode, punching its delalloc reservations.
struct InodeCache<'a> {
    inode: &'a DInode,
}

impl PageCache for InodeCache<'_> {
    type Folio = LockedFolio;

    fn seek_data(&mut self, start: i64, end: i64) -> Result<Option<i64>, i32> {
        self.inode
            .seek_page_cache(start, end, true)
            .map_err(|e| e.to_errno())
    }

    fn seek_hole(&mut self, start: i64, end: i64) -> Result<Option<i64>, i32> {
        self.inode
            .seek_page_cache(start, end, false)
            .map_err(|e| e.to_errno())
    }

    fn lock_folio(&mut self, index: u64) -> Option<LockedFolio> {
        self.inode.lock_folio(index)
    }

    fn punch(&mut self, start: i64, len: i64) {
        punch_delalloc(self.inode, start, len);
    }

    #[cfg(delafs_no_delay_hook)]
    fn between_seeks(&mut self, _data_start: i64) {}

    #[cfg(not(delafs_no_delay_hook))]
    fn between_seeks(&mut self, _data_start: i64) {
        // Disarmed, this is one relaxed load and a branch.
        let delay = SEEK_DELAY_US.load(Ordering::Relaxed);
        if delay == 0 {
            return;
        }
        let only = DELAY_INO.load(Ordering::Relaxed);
        if only != 0 && only != self.inode.ino() {
            return;
        }
        // Counted before sleeping, so a test can evict while we sleep.
        COUNTERS.delays.fetch_add(1, Ordering::Relaxed);
        IN_DELAY.fetch_add(1, Ordering::Relaxed);
        crate::vfs::sleep_us(delay.into());
        IN_DELAY.fetch_sub(1, Ordering::Relaxed);
    }

    fn warn(&mut self, warning: Warning) {
        // One WARN site per assumption, like the WARN_ON_ONCE()s upstream.
        match warning {
            Warning::EmptyDataRange => {
                COUNTERS.legacy_warnings.fetch_add(1, Ordering::Relaxed);
                warn_empty_data_range();
            }
            Warning::SeekFailed => warn_once!(),
            Warning::DataBeforePunchStart => warn_once!(),
            Warning::DataBeyondScanEnd => warn_once!(),
            Warning::DataEndBeforeStart => warn_once!(),
            Warning::DataEndBeyondScanEnd => warn_once!(),
        }
        if warning != Warning::EmptyDataRange {
            COUNTERS.other_warnings.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The WARN of the December 2023 report, `WARN_ON_ONCE(data_end <=
/// start_byte)`, in a function of its own so the report names it.
#[inline(never)]
fn warn_empty_data_range() {
    warn_once!();
}

/// Gives back the delalloc reservations over `[start, start + len)` bytes;
/// real blocks stay. Only whole blocks are punched: the loop's ranges are
/// block aligned except where it stopped at an EOF inside a dirty block,
/// and that block must keep its reservation (rounding the start down,
/// as XFS's punch does, would take it).
pub(crate) fn punch_delalloc(inode: &DInode, start: i64, len: i64) {
    let bs = BLOCK_SIZE as i64;
    let first = ((start + bs - 1) / bs) as u64;
    let end = ((start + len + bs - 1) / bs) as u64;
    if first >= end {
        return;
    }
    let mut state = lock_state(inode);
    let mut freed = 0u64;
    let ret = state
        .map
        .remove(first, end - first, Filter::DelallocOnly, |_, n, _| {
            freed += n;
        });
    if ret.is_err() {
        pr_err!(
            "inode {}: cannot punch delalloc blocks {first}..{end}\n",
            inode.ino()
        );
    }
    if freed != 0 {
        inode.super_block().data().space.lock().unreserve(freed);
    }
}

/// After a short buffered write: release the reservations over
/// `[start, end)` that no dirty folio needs. The caller holds the invalidate
/// lock exclusively.
pub(crate) fn release_delalloc(inode: &DInode, start: i64, end: i64) {
    inode.assert_invalidate_locked_write();
    let mode = if RELEASE_MODE.load(Ordering::Relaxed) == 1 {
        Mode::Legacy
    } else {
        Mode::Fixed
    };
    let mut cache = InodeCache { inode };
    let outcome = release::release(
        &mut cache,
        start,
        end,
        inode.size(),
        BLOCK_SIZE as i64,
        mode,
    );
    COUNTERS.calls.fetch_add(1, Ordering::Relaxed);
    COUNTERS
        .races
        .fetch_add(outcome.races.into(), Ordering::Relaxed);
    COUNTERS
        .punches
        .fetch_add(outcome.punches.into(), Ordering::Relaxed);
    COUNTERS
        .punched_bytes
        .fetch_add(outcome.punched_bytes, Ordering::Relaxed);
}
