//! Model tests of the delalloc release loop ([`release`], from
//! rust/shared/release.rs) against a simulated page cache with an adversary
//! that evicts clean folios whenever the loop gives it the chance.
//!
//! The page cache here is a vector of pages, each absent, clean or dirty; a
//! folio is one page, as in delafs (block size = page size). What the
//! adversary may do is what the kernel allows while the loop holds the
//! invalidate lock: evict clean folios (reclaim, `drop_caches`, direct-I/O
//! invalidation). It can neither add folios (the invalidate lock) nor evict
//! dirty or locked ones. Writeback, which could clean a dirty folio, is not
//! modelled: the reference below assumes dirty stays dirty.
//!
//! What every run checks (see [`check_pair`]):
//! - the loop terminates: the model panics past a budget of trait calls;
//! - the fixed loop never warns, the legacy one only `EmptyDataRange`;
//! - the punched pages are exactly those of a race-free reference, each
//!   punched once, none outside the write range, all block aligned;
//! - legacy and fixed make the same calls and the same punches;
//! - `Outcome::races`, and the legacy warnings, count exactly the evictions
//!   of the folio at a `SEEK_DATA` result before the `SEEK_HOLE` from it.
//!
//! Deterministic: exhaustive enumeration, or fixed seeds printed on failure.

use std::cell::Cell;
use std::fmt::Write as _;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use delafs::shared::release::{release, CachedFolio, Mode, Outcome, PageCache, Warning};

/// The state of one page of the simulated page cache.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Page {
    Absent,
    Clean,
    Dirty,
}

/// Where, in the loop's calls to the page cache, the adversary may act.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Point {
    BeforeSeekData,
    AfterSeekData,
    BetweenSeeks,
    BeforeSeekHole,
    AfterSeekHole,
    /// Before the lookup: the folio may go just before the loop locks it.
    LockFolio,
    Punch,
    Warn,
}

/// The other side of the race: reclaim, `drop_caches`, invalidation.
trait Adversary {
    /// Pushes onto `evict` the pages to evict at `point`, taken from
    /// `candidates`: the clean, unlocked pages it is allowed to touch, in
    /// ascending order. Between the seeks, `found` is the page `SEEK_DATA`
    /// found, the one whose eviction is the race.
    fn act(&mut self, point: Point, found: Option<u64>, candidates: &[u64], evict: &mut Vec<u64>);
}

/// Never evicts: the race-free baseline.
struct Idle;

impl Adversary for Idle {
    fn act(&mut self, _: Point, _: Option<u64>, _: &[u64], _: &mut Vec<u64>) {}
}

/// One page-cache call, as the model saw it; the legacy and fixed loops
/// must make the same ones (apart from `warn`) under the same schedule.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Call {
    SeekData(i64, i64, Option<i64>),
    BetweenSeeks(i64),
    SeekHole(i64, i64, Option<i64>),
    LockFolio(u64, bool),
    Punch(i64, i64),
}

/// A locked folio; unlocks the model's lock slot when dropped.
struct Folio {
    pos: i64,
    size: i64,
    dirty: bool,
    lock: Rc<Cell<Option<u64>>>,
}

impl CachedFolio for Folio {
    fn pos(&self) -> i64 {
        self.pos
    }
    fn size(&self) -> i64 {
        self.size
    }
    fn is_dirty(&self) -> bool {
        self.dirty
    }
}

impl Drop for Folio {
    fn drop(&mut self) {
        self.lock.set(None);
    }
}

/// One release call to run: the page cache before it, the write range and
/// `i_size`, all in pages, and the page size in bytes.
#[derive(Clone, Debug)]
struct Case {
    pages: Vec<Page>,
    start: u64,
    end: u64,
    i_size: u64,
    page_size: i64,
}

impl Case {
    fn bytes(&self, page: u64) -> i64 {
        page as i64 * self.page_size
    }

    /// The pages the loop scans: `[start, min(i_size, end))`.
    fn scanned(&self) -> Range<u64> {
        self.start..self.i_size.min(self.end).max(self.start)
    }

    /// Pages up to which the model keeps state (the write may end past the
    /// last cached page).
    fn span(&self) -> u64 {
        (self.pages.len() as u64).max(self.end)
    }
}

/// The simulated page cache handed to [`release`].
struct Model<'a> {
    case: &'a Case,
    pages: Vec<Page>,
    adversary: &'a mut dyn Adversary,
    /// Pages the adversary may evict (if clean and unlocked).
    evictable: Range<u64>,
    /// Harness self-test only: let the adversary evict dirty pages too.
    evict_dirty: bool,
    /// Answer "nothing before `end`" the other way the kernel may: `SEEK_DATA`
    /// with `Some(end)` instead of `None`, `SEEK_HOLE` with `None` instead of
    /// `Some(end)`. The loop must treat both alike.
    quirks: bool,
    lock: Rc<Cell<Option<u64>>>,
    calls: u64,
    last_data: Option<i64>,
    run: Run,
    scratch: (Vec<u64>, Vec<u64>),
}

/// What one run did, as the model recorded it.
#[derive(Default, Debug)]
struct Run {
    outcome: Outcome,
    punches: Vec<(i64, i64)>,
    warnings: Vec<Warning>,
    trace: Vec<Call>,
    /// Every eviction: where, and which page.
    evictions: Vec<(Point, u64)>,
    /// Evictions of the page at a `SEEK_DATA` result before the `SEEK_HOLE`
    /// from it: what `races` must count.
    expected_races: u32,
    /// `lock_folio` calls that found the page gone.
    missed_locks: u32,
}

impl<'a> Model<'a> {
    fn new(case: &'a Case, adversary: &'a mut dyn Adversary, evictable: Range<u64>) -> Self {
        Model {
            case,
            pages: case.pages.clone(),
            adversary,
            evictable,
            evict_dirty: false,
            quirks: false,
            lock: Rc::new(Cell::new(None)),
            calls: 0,
            last_data: None,
            run: Run::default(),
            scratch: (Vec::new(), Vec::new()),
        }
    }

    fn page(&self, index: u64) -> Page {
        self.pages
            .get(index as usize)
            .copied()
            .unwrap_or(Page::Absent)
    }

    fn index(&self, offset: i64) -> u64 {
        assert!(offset >= 0, "negative offset {offset}");
        (offset / self.case.page_size) as u64
    }

    /// Counts a trait call and stops a loop that does not end. A correct
    /// run makes at most one outer iteration per scanned page plus one per
    /// eviction (a race costs an eviction), each with two seeks, a warning
    /// and the folios it scans; punches are at most one per page plus the
    /// tail. Eight calls per page and eviction is a loose bound on that.
    fn tick(&mut self) {
        self.calls += 1;
        let budget = 8 * (self.case.span() + self.run.evictions.len() as u64 + 2);
        assert!(
            self.calls <= budget,
            "release loop exceeded its budget of {budget} page-cache calls"
        );
    }

    /// Gives the adversary its chance at `point`.
    fn opportunity(&mut self, point: Point) {
        let (mut candidates, mut evict) = std::mem::take(&mut self.scratch);
        candidates.clear();
        evict.clear();
        let locked = self.lock.get();
        for index in self.evictable.clone() {
            let state = self.page(index);
            let allowed = state == Page::Clean || (self.evict_dirty && state == Page::Dirty);
            if allowed && locked != Some(index) {
                candidates.push(index);
            }
        }
        let found = self.last_data.map(|d| self.index(d));
        self.adversary.act(point, found, &candidates, &mut evict);
        for &index in &evict {
            assert!(
                candidates.contains(&index),
                "adversary evicted page {index}, not a candidate at {point:?}"
            );
            self.pages[index as usize] = Page::Absent;
            self.run.evictions.push((point, index));
        }
        self.scratch = (candidates, evict);
    }

    /// The first page at or after `offset`'s, below `end`, whose presence
    /// is `present`; as a byte offset, at least `offset`.
    fn find(&self, offset: i64, end: i64, present: bool) -> Option<i64> {
        let mut index = self.index(offset);
        while self.case.bytes(index) < end {
            if (self.page(index) != Page::Absent) == present {
                return Some(self.case.bytes(index).max(offset));
            }
            index += 1;
        }
        None
    }
}

impl PageCache for Model<'_> {
    type Folio = Folio;

    fn seek_data(&mut self, start: i64, end: i64) -> Result<Option<i64>, i32> {
        self.tick();
        self.opportunity(Point::BeforeSeekData);
        let mut found = self.find(start, end, true);
        if found.is_none() && self.quirks {
            found = Some(end);
        }
        self.last_data = found.filter(|&d| d < end);
        self.run.trace.push(Call::SeekData(start, end, found));
        self.opportunity(Point::AfterSeekData);
        Ok(found)
    }

    fn between_seeks(&mut self, data_start: i64) {
        self.tick();
        assert_eq!(
            Some(data_start),
            self.last_data,
            "between_seeks away from the SEEK_DATA result"
        );
        self.run.trace.push(Call::BetweenSeeks(data_start));
        self.opportunity(Point::BetweenSeeks);
    }

    fn seek_hole(&mut self, start: i64, end: i64) -> Result<Option<i64>, i32> {
        self.tick();
        assert_eq!(
            Some(start),
            self.last_data,
            "SEEK_HOLE not from the SEEK_DATA result"
        );
        self.opportunity(Point::BeforeSeekHole);
        // The event the loop must notice: the page SEEK_DATA found is gone.
        if self.page(self.index(start)) == Page::Absent {
            self.run.expected_races += 1;
        }
        self.last_data = None;
        let mut found = self.find(start, end, false);
        if found.is_none() && !self.quirks {
            found = Some(end);
        }
        self.run.trace.push(Call::SeekHole(start, end, found));
        self.opportunity(Point::AfterSeekHole);
        Ok(found)
    }

    fn lock_folio(&mut self, index: u64) -> Option<Folio> {
        self.tick();
        assert_eq!(self.lock.get(), None, "lock_folio with a folio locked");
        self.opportunity(Point::LockFolio);
        let state = self.page(index);
        self.run
            .trace
            .push(Call::LockFolio(index, state != Page::Absent));
        if state == Page::Absent {
            self.run.missed_locks += 1;
            return None;
        }
        self.lock.set(Some(index));
        Some(Folio {
            pos: self.case.bytes(index),
            size: self.case.page_size,
            dirty: state == Page::Dirty,
            lock: self.lock.clone(),
        })
    }

    fn punch(&mut self, start: i64, len: i64) {
        self.tick();
        // The trait's contract: punched with the folio after it locked.
        if let Some(index) = self.lock.get() {
            assert_eq!(
                start + len,
                self.case.bytes(index),
                "punch({start}, {len}) not up to the locked folio {index}"
            );
        }
        self.run.punches.push((start, len));
        self.run.trace.push(Call::Punch(start, len));
        self.opportunity(Point::Punch);
    }

    fn warn(&mut self, warning: Warning) {
        self.tick();
        self.run.warnings.push(warning);
        self.opportunity(Point::Warn);
    }
}

/// Runs `mode` on `case`; `Err` carries the panic of a model check (the
/// call budget, the trait's contracts) or a folio left locked.
fn run_with(mut model: Model<'_>, mode: Mode) -> Result<Run, String> {
    let case = model.case;
    let result = catch_unwind(AssertUnwindSafe(|| {
        release(
            &mut model,
            case.bytes(case.start),
            case.bytes(case.end),
            case.bytes(case.i_size),
            case.page_size,
            mode,
        )
    }));
    match result {
        Ok(_) if model.lock.get().is_some() => Err("returned with a folio locked".into()),
        Ok(outcome) => {
            let mut run = model.run;
            run.outcome = outcome;
            Ok(run)
        }
        Err(payload) => Err(payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into())),
    }
}

/// The race-free answer, page by page over [`Case::span`]: inside the write,
/// a dirty page below EOF keeps its reservation and everything else is
/// punched; outside the write nothing is.
fn reference(case: &Case) -> Vec<bool> {
    (0..case.span())
        .map(|p| {
            let in_write = (case.start..case.end).contains(&p);
            let kept = p < case.i_size && case.pages.get(p as usize) == Some(&Page::Dirty);
            in_write && !kept
        })
        .collect()
}

/// The checks on one run of one mode.
fn check(case: &Case, mode: Mode, run: &Run) -> Result<(), String> {
    let out = &run.outcome;
    // The outcome counts what the model saw.
    if out.punches as usize != run.punches.len() || out.warnings as usize != run.warnings.len() {
        return Err(format!(
            "{mode:?}: outcome {out:?} disagrees with the calls"
        ));
    }
    let bytes: i64 = run.punches.iter().map(|p| p.1).sum();
    if out.punched_bytes != bytes as u64 {
        return Err(format!(
            "{mode:?}: punched_bytes {} != {bytes}",
            out.punched_bytes
        ));
    }
    // Races: exactly the evictions between the seeks of the found page.
    if out.races != run.expected_races {
        return Err(format!(
            "{mode:?}: races {} but {} evictions between the seeks",
            out.races, run.expected_races
        ));
    }
    if run.evictions.is_empty() && (out.races != 0 || !run.warnings.is_empty()) {
        return Err(format!("{mode:?}: race or warning without eviction"));
    }
    let warned = match mode {
        Mode::Fixed => Vec::new(),
        Mode::Legacy => vec![Warning::EmptyDataRange; run.expected_races as usize],
    };
    if run.warnings != warned {
        return Err(format!(
            "{mode:?}: warnings {:?}, want {warned:?}",
            run.warnings
        ));
    }
    // Punches: block aligned, inside the write, each page once.
    let ps = case.page_size;
    let mut punched = vec![false; case.span() as usize];
    for &(start, len) in &run.punches {
        if len <= 0 || start % ps != 0 || len % ps != 0 {
            return Err(format!("{mode:?}: bad punch ({start}, {len})"));
        }
        if start < case.bytes(case.start) || start + len > case.bytes(case.end) {
            return Err(format!(
                "{mode:?}: punch ({start}, {len}) outside the write"
            ));
        }
        for p in start / ps..(start + len) / ps {
            if std::mem::replace(&mut punched[p as usize], true) {
                return Err(format!("{mode:?}: page {p} punched twice"));
            }
        }
    }
    let want = reference(case);
    if punched != want {
        let show = |v: &[bool]| {
            v.iter()
                .map(|&b| if b { 'P' } else { '.' })
                .collect::<String>()
        };
        return Err(format!(
            "{mode:?}: punched {} want {}",
            show(&punched),
            show(&want)
        ));
    }
    Ok(())
}

/// Both modes under one schedule: each checked, then compared.
fn check_pair(case: &Case, fixed: &Run, legacy: &Run) -> Result<(), String> {
    check(case, Mode::Fixed, fixed)?;
    check(case, Mode::Legacy, legacy)?;
    if fixed.trace != legacy.trace {
        return Err(format!(
            "the modes made different calls:\nfixed  {:?}\nlegacy {:?}",
            fixed.trace, legacy.trace
        ));
    }
    if fixed.punches != legacy.punches {
        return Err("the modes punched differently".into());
    }
    Ok(())
}

fn describe(case: &Case, runs: &[&Result<Run, String>]) -> String {
    let mut s = format!("{case:?}");
    for run in runs.iter().copied().flatten() {
        let _ = write!(
            s,
            "\n  evictions {:?}\n  punches {:?} warnings {:?} outcome {:?}",
            run.evictions, run.punches, run.warnings, run.outcome
        );
    }
    s
}

// ---------------------------------------------------------------------------
// 1. Exhaustive: every small layout, range, i_size and bounded schedule.
// ---------------------------------------------------------------------------

/// Replays a schedule prefix and records every choice point it met, so that
/// [`next_schedule`] can enumerate the schedule tree depth first.
///
/// Bounding the schedule space:
/// - The adversary acts only at the points just before the loop observes
///   the page cache: before `SEEK_DATA`, between the seeks (= before
///   `SEEK_HOLE`) and before each folio lookup. An eviction at any other
///   point (after a seek, at a punch or a warning) is indistinguishable from
///   one at the next observation, since nothing looks at the cache in
///   between; the randomised test uses all points anyway.
/// - Only clean pages in the scanned range are candidates: the loop never
///   looks elsewhere, so evicting other pages changes nothing.
/// - At most [`MAX_EVICTIONS`] evictions per run. Two cover every shape of
///   interference the loop has to handle: one race; a race and then an
///   eviction under the scan; two races in a row, including the fixed
///   loop's retry racing again. A third only repeats them (with 3 the
///   test also passes: 1.9 million schedules in about 4 s instead of 1 s).
struct Explorer {
    prefix: Vec<usize>,
    /// (choice, number of choices) at each choice point met.
    seen: Vec<(usize, usize)>,
    evictions: u32,
}

const MAX_EVICTIONS: u32 = 2;

impl Explorer {
    fn new(prefix: &[usize]) -> Self {
        Explorer {
            prefix: prefix.to_vec(),
            seen: Vec::new(),
            evictions: 0,
        }
    }
}

impl Adversary for Explorer {
    fn act(&mut self, point: Point, _found: Option<u64>, candidates: &[u64], evict: &mut Vec<u64>) {
        if !matches!(
            point,
            Point::BeforeSeekData | Point::BetweenSeeks | Point::LockFolio
        ) {
            return;
        }
        // Choice 0 is "nothing", choice i evicts candidates[i - 1].
        let choices = if self.evictions < MAX_EVICTIONS {
            1 + candidates.len()
        } else {
            1
        };
        let choice = self.prefix.get(self.seen.len()).copied().unwrap_or(0);
        assert!(choice < choices, "schedule replay diverged");
        self.seen.push((choice, choices));
        if choice > 0 {
            evict.push(candidates[choice - 1]);
            self.evictions += 1;
        }
    }
}

/// The schedule after `seen` in depth-first order, if any.
fn next_schedule(seen: &[(usize, usize)]) -> Option<Vec<usize>> {
    let last = seen.iter().rposition(|&(choice, n)| choice + 1 < n)?;
    let mut next: Vec<usize> = seen[..last].iter().map(|c| c.0).collect();
    next.push(seen[last].0 + 1);
    Some(next)
}

#[derive(Default, Debug)]
struct Stats {
    cases: u64,
    schedules: u64,
    racy_runs: u64,
    max_races: u32,
    missed_locks: u64,
}

/// Runs every schedule of `case` in both modes.
fn explore(case: &Case, stats: &mut Stats) {
    stats.cases += 1;
    let mut prefix = Vec::new();
    loop {
        let mut fixed_adv = Explorer::new(&prefix);
        let mut legacy_adv = Explorer::new(&prefix);
        let fixed = run_with(
            Model::new(case, &mut fixed_adv, case.scanned()),
            Mode::Fixed,
        );
        let legacy = run_with(
            Model::new(case, &mut legacy_adv, case.scanned()),
            Mode::Legacy,
        );
        let verdict = match (&fixed, &legacy) {
            (Ok(f), Ok(l)) => check_pair(case, f, l),
            (Err(e), _) | (_, Err(e)) => Err(e.clone()),
        };
        if let Err(e) = verdict {
            panic!(
                "{e}\nschedule {prefix:?}\n{}",
                describe(case, &[&fixed, &legacy])
            );
        }
        let fixed = fixed.unwrap();
        stats.schedules += 1;
        stats.racy_runs += u64::from(fixed.outcome.races > 0);
        stats.max_races = stats.max_races.max(fixed.outcome.races);
        stats.missed_locks += u64::from(fixed.missed_locks);
        match next_schedule(&fixed_adv.seen) {
            Some(next) => prefix = next,
            None => break,
        }
    }
}

/// The `code`-th of the `3^n` layouts of `n` pages.
fn layout(n: u32, mut code: u32) -> Vec<Page> {
    (0..n)
        .map(|_| {
            let page = [Page::Absent, Page::Clean, Page::Dirty][(code % 3) as usize];
            code /= 3;
            page
        })
        .collect()
}

#[test]
fn exhaustive_small_layouts() {
    let mut stats = Stats::default();
    for n in 1..=6u32 {
        for code in 0..3u32.pow(n) {
            let pages = layout(n, code);
            let n = u64::from(n);
            for start in 0..n {
                for end in start..=n {
                    // i_size below start behaves as at start (nothing to
                    // scan), above end as at end; one of each is enough.
                    for i_size in start.saturating_sub(1)..=end + 1 {
                        let case = Case {
                            pages: pages.clone(),
                            start,
                            end,
                            i_size,
                            page_size: 4096,
                        };
                        explore(&case, &mut stats);
                    }
                }
            }
        }
    }
    eprintln!("exhaustive: {stats:?}");
    // The adversary did reach the paths that matter: repeated races and
    // folios gone by the time the scan locks them.
    assert!(stats.max_races >= 2, "{stats:?}");
    assert!(stats.racy_runs > 0 && stats.missed_locks > 0, "{stats:?}");
}

// ---------------------------------------------------------------------------
// 2. Randomised: larger layouts, evictions at every point.
// ---------------------------------------------------------------------------

/// xorshift64*: small, deterministic, good enough to draw test cases.
struct Rng(u64);

impl Rng {
    /// A generator for run `n` of a test: seeds spread by splitmix64, never 0.
    fn for_run(base: u64, n: u64) -> (u64, Self) {
        let mut z = base.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let seed = (z ^ (z >> 31)) | 1;
        (seed, Rng(seed))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Evicts at random: at each point, with probability `1 / one_in`, one
/// random clean page, or now and then all of them (`drop_caches`).
///
/// It ignores [`Point::Warn`] without drawing from its generator, so that
/// the legacy loop (which warns) and the fixed one (which does not) see
/// the same evictions at the same calls: the same schedule. An eviction at a
/// warning is the same as one before the next seek anyway.
struct Chaos {
    rng: Rng,
    one_in: u64,
}

impl Adversary for Chaos {
    fn act(&mut self, point: Point, found: Option<u64>, candidates: &[u64], evict: &mut Vec<u64>) {
        if point == Point::Warn || candidates.is_empty() || self.rng.below(self.one_in) != 0 {
            return;
        }
        // Aim at the race now and then: blind evictions rarely hit the
        // one page between the two seeks that matters.
        if let Some(page) = found.filter(|p| candidates.contains(p)) {
            if self.rng.below(4) == 0 {
                evict.push(page);
                return;
            }
        }
        if self.rng.below(8) == 0 {
            evict.extend_from_slice(candidates);
        } else {
            evict.push(candidates[self.rng.below(candidates.len() as u64) as usize]);
        }
    }
}

/// A random case: 16 to 256 pages laid out in runs (page caches hold
/// ranges, not scattered pages), with per-case densities so that some are
/// mostly holes and some mostly dirty; a random write range; `i_size` below,
/// inside, at or past the end of the write.
fn random_case(rng: &mut Rng) -> Case {
    let n = 16 + rng.below(241);
    let weights = [1 + rng.below(8), rng.below(8), rng.below(8)];
    let total: u64 = weights.iter().sum();
    let mut pages = Vec::new();
    while (pages.len() as u64) < n {
        let mut pick = rng.below(total);
        let state = if pick < weights[0] {
            Page::Absent
        } else {
            pick -= weights[0];
            if pick < weights[1] {
                Page::Clean
            } else {
                Page::Dirty
            }
        };
        let run = 1 + rng.below(16);
        for _ in 0..run.min(n - pages.len() as u64) {
            pages.push(state);
        }
    }
    let start = rng.below(n);
    let end = start + 1 + rng.below(n - start);
    let i_size = match rng.below(4) {
        0 => rng.below(start + 1),
        1 => start + rng.below(end - start + 1),
        2 => end,
        _ => end + 1 + rng.below(8),
    };
    let page_size = if rng.below(2) == 0 { 1 } else { 4096 };
    Case {
        pages,
        start,
        end,
        i_size,
        page_size,
    }
}

/// The default number of random cases; `RELEASE_MODEL_SEED=<seed>` runs
/// only the case of that seed (as printed by a failure).
const RANDOM_RUNS: u64 = 20_000;

#[test]
fn randomised_large_layouts() {
    let only: Option<u64> = std::env::var("RELEASE_MODEL_SEED").ok().map(|s| {
        let s = s.trim_start_matches("0x");
        u64::from_str_radix(s, 16).expect("RELEASE_MODEL_SEED: hex seed")
    });
    let runs = if only.is_some() { 1 } else { RANDOM_RUNS };
    let (mut evictions, mut races, mut missed) = (0u64, 0u64, 0u64);
    for n in 0..runs {
        let (seed, mut rng) = match only {
            Some(seed) => (seed, Rng(seed)),
            None => Rng::for_run(0xDE1A_F500_0001, n),
        };
        let case = random_case(&mut rng);
        let quirks = rng.below(2) == 0;
        let one_in = [2, 4, 16, 64][rng.below(4) as usize];
        let adversary_seed = rng.next() | 1;
        let everything = 0..case.span();

        // Race free first: no warning, no race, the reference.
        let mut idle = Idle;
        let mut model = Model::new(&case, &mut idle, everything.clone());
        model.quirks = quirks;
        let calm = run_with(model, Mode::Legacy);
        let verdict = calm.as_ref().map_err(Clone::clone).and_then(|run| {
            check(&case, Mode::Legacy, run)?;
            match (run.outcome.races, run.warnings.len()) {
                (0, 0) => Ok(()),
                _ => Err("race or warning without eviction".into()),
            }
        });
        if let Err(e) = verdict {
            panic!("seed {seed:#x}: {e}\n{}", describe(&case, &[&calm]));
        }

        // Then both modes under the same random schedule.
        let mut fixed_adv = Chaos {
            rng: Rng(adversary_seed),
            one_in,
        };
        let mut legacy_adv = Chaos {
            rng: Rng(adversary_seed),
            one_in,
        };
        let mut model = Model::new(&case, &mut fixed_adv, everything.clone());
        model.quirks = quirks;
        let fixed = run_with(model, Mode::Fixed);
        let mut model = Model::new(&case, &mut legacy_adv, everything);
        model.quirks = quirks;
        let legacy = run_with(model, Mode::Legacy);
        let verdict = match (&fixed, &legacy) {
            (Ok(f), Ok(l)) => check_pair(&case, f, l),
            (Err(e), _) | (_, Err(e)) => Err(e.clone()),
        };
        if let Err(e) = verdict {
            panic!(
                "seed {seed:#x}: {e}\n{}",
                describe(&case, &[&fixed, &legacy])
            );
        }
        let fixed = fixed.unwrap();
        evictions += fixed.evictions.len() as u64;
        races += u64::from(fixed.outcome.races);
        missed += u64::from(fixed.missed_locks);
    }
    eprintln!(
        "randomised: {runs} cases, {evictions} evictions, {races} races, {missed} missed locks"
    );
    if only.is_none() {
        assert!(
            races > 0 && missed > 0,
            "the adversary never got in the way"
        );
    }
}

// ---------------------------------------------------------------------------
// 3. The report's scenario.
// ---------------------------------------------------------------------------

/// At the first `between_seeks`, evicts all the clean pages it may
/// (`drop_caches`), or only the first (reclaim taking one folio).
struct DropCachesDuringDelay {
    all: bool,
    done: bool,
}

impl Adversary for DropCachesDuringDelay {
    fn act(&mut self, point: Point, found: Option<u64>, candidates: &[u64], evict: &mut Vec<u64>) {
        if point != Point::BetweenSeeks || self.done {
            return;
        }
        self.done = true;
        assert_eq!(found, Some(1), "the delay is not at the first data page");
        match self.all {
            true => evict.extend_from_slice(candidates),
            false => evict.extend(candidates.first()),
        }
    }
}

/// A sparse file of 16 pages whose first pages were read (clean, zero
/// filled); a write of 8 pages from 0 stops after one page (page 0 dirty),
/// so the release covers pages [1, 8). The loop's SEEK_DATA finds page 1,
/// then, during the delay between the seeks, the clean folios go.
#[test]
fn eviction_between_the_seeks_at_the_first_data_offset() {
    let mut pages = vec![Page::Absent; 16];
    pages[0] = Page::Dirty;
    pages[1..4].fill(Page::Clean);
    let case = Case {
        pages,
        start: 1,
        end: 8,
        i_size: 16,
        page_size: 4096,
    };
    for all in [true, false] {
        let mut runs = Vec::new();
        for mode in [Mode::Fixed, Mode::Legacy] {
            let mut adversary = DropCachesDuringDelay { all, done: false };
            let model = Model::new(&case, &mut adversary, 0..case.span());
            let run = run_with(model, mode).unwrap();
            // The eviction did land between the seeks at page 1.
            assert_eq!(
                run.trace[..3],
                [
                    Call::SeekData(4096, 8 * 4096, Some(4096)),
                    Call::BetweenSeeks(4096),
                    Call::SeekHole(4096, 8 * 4096, Some(4096)),
                ],
                "all {all} {mode:?}"
            );
            assert_eq!(run.outcome.races, 1, "all {all} {mode:?}");
            let want = match mode {
                Mode::Fixed => vec![],
                Mode::Legacy => vec![Warning::EmptyDataRange],
            };
            assert_eq!(run.warnings, want, "all {all} {mode:?}");
            // All of [1, 8) goes back: the evicted folios were clean.
            assert_eq!(run.punches, [(4096, 7 * 4096)], "all {all} {mode:?}");
            runs.push(run);
        }
        check_pair(&case, &runs[0], &runs[1]).unwrap();
    }
}

// ---------------------------------------------------------------------------
// The harness itself: the checks above must be able to fail.
// ---------------------------------------------------------------------------

/// Evicts page `page` at the first `between_seeks`, whatever its state.
struct EvictAtDelay(u64);

impl Adversary for EvictAtDelay {
    fn act(&mut self, point: Point, _found: Option<u64>, candidates: &[u64], evict: &mut Vec<u64>) {
        if point == Point::BetweenSeeks && candidates.contains(&self.0) {
            evict.push(self.0);
            self.0 = u64::MAX;
        }
    }
}

/// A dirty folio that vanished (which the kernel does not allow) loses its
/// reservation: the reference check must notice.
#[test]
#[should_panic(expected = "punched PPP want P.P")]
fn harness_catches_a_lost_reservation() {
    let case = Case {
        pages: vec![Page::Absent, Page::Dirty, Page::Absent],
        start: 0,
        end: 3,
        i_size: 3,
        page_size: 4096,
    };
    let mut adversary = EvictAtDelay(1);
    let mut model = Model::new(&case, &mut adversary, 0..3);
    model.evict_dirty = true;
    let run = run_with(model, Mode::Fixed).unwrap();
    check(&case, Mode::Fixed, &run).unwrap();
}

/// A page cache whose `SEEK_HOLE` always answers its start (an eviction
/// that never ends) must trip the call budget, not hang the test.
#[test]
#[should_panic(expected = "exceeded its budget")]
fn harness_catches_an_endless_loop() {
    struct Liar<'a>(Model<'a>);
    impl PageCache for Liar<'_> {
        type Folio = Folio;
        fn seek_data(&mut self, start: i64, end: i64) -> Result<Option<i64>, i32> {
            self.0.seek_data(start, end)
        }
        fn seek_hole(&mut self, start: i64, end: i64) -> Result<Option<i64>, i32> {
            self.0.seek_hole(start, end).map(|_| Some(start))
        }
        fn lock_folio(&mut self, index: u64) -> Option<Folio> {
            self.0.lock_folio(index)
        }
        fn punch(&mut self, start: i64, len: i64) {
            self.0.punch(start, len)
        }
        fn warn(&mut self, warning: Warning) {
            self.0.warn(warning)
        }
    }
    let case = Case {
        pages: vec![Page::Clean; 2],
        start: 0,
        end: 2,
        i_size: 2,
        page_size: 1,
    };
    let mut idle = Idle;
    let mut liar = Liar(Model::new(&case, &mut idle, 0..2));
    release(&mut liar, 0, 2, 2, 1, Mode::Fixed);
}

// ---------------------------------------------------------------------------
// i_size inside a dirty folio.
// ---------------------------------------------------------------------------

/// `scan_end = min(i_size, end)` is not rounded to the block size (nor is it
/// upstream), so when EOF falls inside a dirty folio, the scan moves the
/// punch cursor to `min(data_end, folio_end) = i_size` and the tail punch
/// starts in the middle of that folio's block. A punch that rounded its
/// start down to a block (as XFS's does) would take the reservation of the
/// dirty EOF folio; the kernel can get there when an mmap write dirties the
/// EOF folio (page_mkwrite takes the invalidate lock shared, and can run
/// while a buffered write is between `iomap_begin` and `iomap_end`) over a
/// block this short write reserved. delafs's `punch_delalloc` takes only
/// the whole blocks inside a punch (start rounded up), which this checks.
#[test]
fn unaligned_eof_in_a_dirty_folio_keeps_its_block() {
    let case = Case {
        pages: vec![Page::Absent, Page::Dirty],
        start: 0,
        end: 2,
        i_size: 2,
        page_size: 4096,
    };
    let mut idle = Idle;
    let mut model = Model::new(&case, &mut idle, 0..2);
    let i_size = 4096 + 100;
    let outcome = release(&mut model, 0, 2 * 4096, i_size, 4096, Mode::Fixed);
    assert_eq!(outcome.warnings, 0);
    // The loop does hand out a punch that starts inside block 1 ...
    assert!(model
        .run
        .punches
        .iter()
        .any(|&(start, _)| start % 4096 != 0));
    // ... and what delafs's punch_delalloc removes of each: whole blocks.
    for &(start, len) in &model.run.punches {
        let blocks = (start + 4095) / 4096..(start + len + 4095) / 4096;
        assert!(
            !blocks.contains(&1),
            "punch({start}, {len}) takes the block of the dirty EOF folio"
        );
    }
}
