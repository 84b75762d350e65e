// SPDX-License-Identifier: GPL-2.0

//! The delalloc release loop, written once for the kernel module and for host
//! model tests.
//!
//! After a short buffered write, the filesystem must give back the delayed
//! allocation reservations it made for the part that was not written, except
//! under folios that are dirty: those will be written back and need their
//! reservation. The page cache is the only record of which folios are dirty,
//! so the loop walks it: seek the next cached data (`SEEK_DATA`), seek the end
//! of that data (`SEEK_HOLE`), look at each folio in between and punch the
//! reservation before every dirty folio and under its clean blocks (a large
//! folio is dirty as soon as one of its blocks is), then punch what is left
//! after the last one.
//!
//! Holding the invalidate lock stops folios from being added, not removed:
//! reclaim and `drop_caches` may evict a clean folio between the two seeks,
//! and then `SEEK_HOLE` returns the very offset `SEEK_DATA` found. That is the
//! December 2023 report. [`Mode::Legacy`] is the loop of f43dc4dc3eff, which
//! warns on it (`data_end <= start_byte`); [`Mode::Fixed`] is upstream
//! 7a9d43eace88, which seeks again. The punched ranges are the same in both:
//! an evicted folio was clean, and clean folios never keep a reservation.
//!
//! Offsets are bytes, ranges half-open `[start, end)`.

/// A locked page cache folio, as the scan sees it.
pub trait CachedFolio {
    /// Byte offset of the folio in the file.
    fn pos(&self) -> i64;
    /// Size of the folio in bytes.
    fn size(&self) -> i64;
    /// Whether the folio holds data not yet written back.
    fn is_dirty(&self) -> bool;
    /// Whether block `block` of the folio (counted from its start, in
    /// blocks of the loop's page size) holds data not yet written back. A
    /// single-block folio's block is the folio.
    fn block_is_dirty(&self, _block: u32) -> bool {
        self.is_dirty()
    }
}

/// The page cache and the filesystem, as the release loop uses them.
pub trait PageCache {
    /// A locked folio; unlocked when dropped.
    type Folio: CachedFolio;

    /// The first cached byte at or after `start` and below `end`, or `None`.
    /// `Err` carries a negative errno.
    fn seek_data(&mut self, start: i64, end: i64) -> Result<Option<i64>, i32>;
    /// The first uncached byte at or after `start`, at most `end`.
    fn seek_hole(&mut self, start: i64, end: i64) -> Result<Option<i64>, i32>;
    /// Locks the cached folio holding page `index`, if any.
    fn lock_folio(&mut self, index: u64) -> Option<Self::Folio>;
    /// Gives back the delalloc reservation over `[start, start + len)`.
    /// Called with the folio that follows the range locked, if any, or with
    /// the dirty large folio whose clean blocks these are.
    fn punch(&mut self, start: i64, len: i64);
    /// Runs between the two seeks: where a test injects its delay.
    fn between_seeks(&mut self, _data_start: i64) {}
    /// Reports a broken assumption; the kernel turns it into a WARN.
    fn warn(&mut self, warning: Warning);
}

/// Which loop to run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Upstream since 7a9d43eace88: an emptied data range is seeked again.
    Fixed,
    /// f43dc4dc3eff: `WARN_ON_ONCE(data_end <= start_byte)`.
    Legacy,
}

/// The assumptions the loop checks, named after the upstream `WARN_ON_ONCE`s.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Warning {
    /// A seek failed with something other than `-ENXIO`.
    SeekFailed,
    /// `start_byte < punch_start_byte`: data found behind the punch cursor.
    DataBeforePunchStart,
    /// `start_byte > scan_end_byte`.
    DataBeyondScanEnd,
    /// Legacy only: `data_end <= start_byte`, the warning of the report.
    EmptyDataRange,
    /// Fixed only: `data_end < start_byte`.
    DataEndBeforeStart,
    /// `data_end > scan_end_byte`.
    DataEndBeyondScanEnd,
}

/// What one run of the loop did.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Outcome {
    /// Times `SEEK_HOLE` returned the offset `SEEK_DATA` found: the race.
    pub races: u32,
    /// Calls to [`PageCache::punch`].
    pub punches: u32,
    /// Bytes passed to [`PageCache::punch`].
    pub punched_bytes: u64,
    /// Calls to [`PageCache::warn`].
    pub warnings: u32,
}

struct Walk<'a, P: PageCache> {
    cache: &'a mut P,
    page_size: i64,
    punch_start: i64,
    outcome: Outcome,
}

impl<P: PageCache> Walk<'_, P> {
    fn punch(&mut self, start: i64, end: i64) {
        self.cache.punch(start, end - start);
        self.outcome.punches += 1;
        self.outcome.punched_bytes += (end - start) as u64;
    }

    fn warn_if(&mut self, condition: bool, warning: Warning) -> bool {
        if condition {
            self.cache.warn(warning);
            self.outcome.warnings += 1;
        }
        condition
    }

    /// Walks the folios of the cached range `[start, end)`: before each
    /// dirty folio, punch from the cursor up to it, then the clean blocks
    /// inside it, and move the cursor past it. A clean block in a dirty
    /// large folio must lose its reservation too: writeback writes dirty
    /// blocks only, so nothing would ever use it
    /// (`iomap_write_delalloc_ifs_punch()`).
    fn scan(&mut self, mut start: i64, end: i64) {
        while start < end {
            let Some(folio) = self.cache.lock_folio((start / self.page_size) as u64) else {
                // Evicted since the seeks: clean, so it keeps nothing.
                start = (start / self.page_size + 1) * self.page_size;
                continue;
            };
            let folio_end = folio.pos() + folio.size();
            if folio.is_dirty() {
                if start > self.punch_start {
                    let punch_start = self.punch_start;
                    self.punch(punch_start, start);
                }
                self.punch_clean_blocks(&folio, start, end.min(folio_end));
                self.punch_start = end.min(folio_end);
            }
            start = folio_end;
            drop(folio);
        }
    }

    /// Punches the clean blocks of the locked dirty `folio` that overlap
    /// `[start, end)`, one run of adjacent clean blocks at a time.
    fn punch_clean_blocks(&mut self, folio: &P::Folio, start: i64, end: i64) {
        let pos = folio.pos();
        let mut block = (start - pos) / self.page_size;
        let mut run: Option<i64> = None;
        while pos + block * self.page_size < end {
            let at = pos + block * self.page_size;
            if folio.block_is_dirty(block as u32) {
                if let Some(run_start) = run.take() {
                    self.punch(run_start, at);
                }
            } else if run.is_none() {
                run = Some(at);
            }
            block += 1;
        }
        if let Some(run_start) = run {
            self.punch(run_start, pos + block * self.page_size);
        }
    }
}

/// Releases the delalloc reservations over `[start, end)` not covered by
/// dirty blocks. `i_size` bounds the page cache scan: past EOF everything is
/// punched (a dirty folio there will never be written back). `page_size` is
/// the page size and the block size both (4 KiB blocks on 4 KiB pages, as
/// delafs and the lab's XFS have): folios are whole numbers of it.
pub fn release<P: PageCache>(
    cache: &mut P,
    start: i64,
    end: i64,
    i_size: i64,
    page_size: i64,
    mode: Mode,
) -> Outcome {
    let scan_end = i_size.min(end);
    let mut walk = Walk {
        cache,
        page_size,
        punch_start: start,
        outcome: Outcome::default(),
    };
    let mut start = start;

    while start < scan_end {
        let data_start = match walk.cache.seek_data(start, scan_end) {
            Ok(None) => break,
            Ok(Some(s)) if s == scan_end => break,
            Ok(Some(s)) => s,
            Err(_) => {
                walk.warn_if(true, Warning::SeekFailed);
                return walk.outcome;
            }
        };
        walk.warn_if(data_start < walk.punch_start, Warning::DataBeforePunchStart);
        walk.warn_if(data_start > scan_end, Warning::DataBeyondScanEnd);

        walk.cache.between_seeks(data_start);

        let data_end = match walk.cache.seek_hole(data_start, scan_end) {
            Ok(Some(e)) => e,
            // The page cache always has a hole at the end of the range.
            Ok(None) => scan_end,
            Err(_) => {
                walk.warn_if(true, Warning::SeekFailed);
                return walk.outcome;
            }
        };
        if data_end == data_start {
            walk.outcome.races += 1;
        }
        match mode {
            Mode::Fixed => {
                if data_end == data_start {
                    // The data went away between the seeks: look again.
                    start = data_start;
                    continue;
                }
                walk.warn_if(data_end < data_start, Warning::DataEndBeforeStart);
            }
            Mode::Legacy => {
                walk.warn_if(data_end <= data_start, Warning::EmptyDataRange);
            }
        }
        walk.warn_if(data_end > scan_end, Warning::DataEndBeyondScanEnd);

        walk.scan(data_start, data_end);
        start = data_end;
    }

    if walk.punch_start < end {
        let punch_start = walk.punch_start;
        walk.punch(punch_start, end);
    }
    walk.outcome
}
