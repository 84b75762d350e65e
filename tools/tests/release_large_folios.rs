//! Model tests of the delalloc release loop ([`release`], from
//! rust/shared/release.rs) on a page cache of large folios: folios of 1, 2,
//! 4 or 8 blocks, aligned to their size as the page cache aligns them, each
//! absent or cached with its own per-block dirty bits (iomap's
//! `iomap_folio_state`), so a folio can be dirty in some blocks only.
//!
//! The reference: after the loop, a block of `[start, end)` keeps its
//! reservation exactly when it is dirty and below EOF. Clean blocks inside a
//! dirty folio are punched (what `iomap_write_delalloc_ifs_punch()` is for);
//! a whole clean folio evicted while the loop sleeps between its seeks (the
//! race, where one eviction takes several blocks at once) changes nothing,
//! since its blocks were clean. Every layout of 8 blocks is enumerated, with
//! every write range and EOF, without an adversary and with one that evicts
//! the folio `SEEK_DATA` found; each run must also punch every block at
//! most once, block aligned, inside the range.

use delafs::shared::release::{release, CachedFolio, Mode, PageCache, Warning};

const BLOCK: i64 = 4096;
const BLOCKS: u64 = 8;

/// One cached folio: first block, size in blocks, dirty bit per block.
#[derive(Clone, Debug)]
struct Slot {
    first: u64,
    blocks: u64,
    dirty: u8,
}

impl Slot {
    fn is_dirty(&self) -> bool {
        self.dirty != 0
    }

    fn block_dirty(&self, block: u64) -> bool {
        self.dirty & (1 << (block - self.first)) != 0
    }
}

struct Folio(Slot);

impl CachedFolio for Folio {
    fn pos(&self) -> i64 {
        self.0.first as i64 * BLOCK
    }
    fn size(&self) -> i64 {
        self.0.blocks as i64 * BLOCK
    }
    fn is_dirty(&self) -> bool {
        self.0.is_dirty()
    }
    fn block_is_dirty(&self, block: u32) -> bool {
        self.0.dirty & (1 << block) != 0
    }
}

struct Model {
    folios: Vec<Slot>,
    /// Evict the clean folio at `SEEK_DATA`'s result while the loop sleeps.
    evict_found: bool,
    punched: Vec<(i64, i64)>,
    warnings: Vec<Warning>,
    races: u32,
    calls: u32,
}

impl Model {
    fn slot_at(&self, block: u64) -> Option<&Slot> {
        self.folios
            .iter()
            .find(|s| s.first <= block && block < s.first + s.blocks)
    }

    fn tick(&mut self) {
        self.calls += 1;
        assert!(self.calls < 1000, "release loop does not end");
    }

    /// `mapping_seek_hole_data()`: a cached folio is data over its whole
    /// size; the answer is at least `start`.
    fn seek(&self, start: i64, end: i64, data: bool) -> Option<i64> {
        let mut block = (start / BLOCK) as u64;
        while (block as i64) * BLOCK < end {
            if self.slot_at(block).is_some() == data {
                return Some((block as i64 * BLOCK).max(start));
            }
            block += 1;
        }
        None
    }
}

impl PageCache for Model {
    type Folio = Folio;

    fn seek_data(&mut self, start: i64, end: i64) -> Result<Option<i64>, i32> {
        self.tick();
        Ok(self.seek(start, end, true))
    }

    fn between_seeks(&mut self, data_start: i64) {
        self.tick();
        if !self.evict_found {
            return;
        }
        let block = (data_start / BLOCK) as u64;
        if let Some(i) = self
            .folios
            .iter()
            .position(|s| s.first <= block && block < s.first + s.blocks && !s.is_dirty())
        {
            self.folios.remove(i);
            self.races += 1;
        }
    }

    fn seek_hole(&mut self, start: i64, end: i64) -> Result<Option<i64>, i32> {
        self.tick();
        Ok(Some(self.seek(start, end, false).unwrap_or(end)))
    }

    fn lock_folio(&mut self, index: u64) -> Option<Folio> {
        self.tick();
        self.slot_at(index).cloned().map(Folio)
    }

    fn punch(&mut self, start: i64, len: i64) {
        self.tick();
        self.punched.push((start, len));
    }

    fn warn(&mut self, warning: Warning) {
        self.warnings.push(warning);
    }
}

/// Every way to tile `BLOCKS` blocks with aligned folios of 1, 2, 4 or 8
/// blocks, each position also possibly uncached.
fn tilings(first: u64, out: &mut Vec<Vec<Option<(u64, u64)>>>, acc: &mut Vec<Option<(u64, u64)>>) {
    if first == BLOCKS {
        out.push(acc.clone());
        return;
    }
    // Uncached block.
    acc.push(None);
    tilings(first + 1, out, acc);
    acc.pop();
    let mut size = 1;
    while size <= BLOCKS {
        if first % size == 0 && first + size <= BLOCKS {
            acc.push(Some((first, size)));
            tilings(first + size, out, acc);
            acc.pop();
        }
        size *= 2;
    }
}

/// Runs one case and checks it against the reference.
fn check(folios: &[Slot], start: u64, end: u64, i_size: u64, evict_found: bool, mode: Mode) -> u32 {
    let mut model = Model {
        folios: folios.to_vec(),
        evict_found,
        punched: Vec::new(),
        warnings: Vec::new(),
        races: 0,
        calls: 0,
    };
    let outcome = release(
        &mut model,
        start as i64 * BLOCK,
        end as i64 * BLOCK,
        i_size as i64 * BLOCK,
        BLOCK,
        mode,
    );
    let case =
        || format!("{folios:?} [{start}, {end}) i_size {i_size} evict {evict_found} {mode:?}");
    let mut punched = [0u32; BLOCKS as usize + 1];
    for &(s, len) in &model.punched {
        assert!(
            s % BLOCK == 0 && len % BLOCK == 0 && len > 0,
            "unaligned punch ({s}, {len}): {}",
            case()
        );
        for b in (s / BLOCK)..((s + len) / BLOCK) {
            assert!(
                (start as i64..end as i64).contains(&b),
                "punch of block {b} outside the range: {}",
                case()
            );
            punched[b as usize] += 1;
        }
    }
    for b in start..end {
        let keeps = b < i_size
            && folios
                .iter()
                .any(|s| s.first <= b && b < s.first + s.blocks && s.block_dirty(b));
        let want = u32::from(!keeps);
        assert_eq!(
            punched[b as usize],
            want,
            "block {b} punched {} times: {}",
            punched[b as usize],
            case()
        );
    }
    match mode {
        Mode::Fixed => assert!(model.warnings.is_empty(), "fixed loop warned: {}", case()),
        Mode::Legacy => assert!(
            model.warnings.iter().all(|&w| w == Warning::EmptyDataRange),
            "legacy loop warned {:?}: {}",
            model.warnings,
            case()
        ),
    }
    assert_eq!(outcome.races, model.races, "races miscounted: {}", case());
    model.races
}

#[test]
fn every_layout_punches_exactly_the_clean_blocks() {
    let mut layouts = Vec::new();
    tilings(0, &mut layouts, &mut Vec::new());
    let (mut cases, mut races, mut partial) = (0u64, 0u64, 0u64);
    for layout in &layouts {
        let shapes: Vec<(u64, u64)> = layout.iter().flatten().copied().collect();
        // Dirty bits: only the patterns that matter, per folio: none, all,
        // first block only, last block only, every other block.
        let patterns = |blocks: u64| -> Vec<u8> {
            let all = ((1u16 << blocks) - 1) as u8;
            let mut p = vec![0, all, 1, 1 << (blocks - 1), all & 0b0101_0101];
            p.sort_unstable();
            p.dedup();
            p
        };
        let choices: Vec<Vec<u8>> = shapes.iter().map(|&(_, n)| patterns(n)).collect();
        let combos: usize = choices.iter().map(Vec::len).product();
        if combos > 64 {
            // Many small folios: the one-block layouts cover them already.
            continue;
        }
        for mut k in 0..combos {
            let folios: Vec<Slot> = shapes
                .iter()
                .zip(&choices)
                .map(|(&(first, blocks), c)| {
                    let dirty = c[k % c.len()];
                    k /= c.len();
                    Slot {
                        first,
                        blocks,
                        dirty,
                    }
                })
                .collect();
            if folios
                .iter()
                .any(|s| s.blocks > 1 && s.dirty != 0 && s.dirty.count_ones() < s.blocks as u32)
            {
                partial += 1;
            }
            for start in 0..BLOCKS {
                for end in start + 1..=BLOCKS {
                    for i_size in [end, end.saturating_sub(1).max(start), BLOCKS] {
                        for evict in [false, true] {
                            for mode in [Mode::Fixed, Mode::Legacy] {
                                races += u64::from(check(&folios, start, end, i_size, evict, mode));
                                cases += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    // The enumeration must have reached what it is for.
    assert!(
        partial > 100,
        "only {partial} layouts with partly dirty large folios"
    );
    assert!(races > 1000, "only {races} races in {cases} cases");
}

/// The shape the large-folio trigger produces: one dirty block at the start
/// of a clean 4-block folio, and a clean folio after it that is evicted
/// while the loop sleeps. The clean blocks of the dirty folio lose their
/// reservation in one punch.
#[test]
fn partly_dirty_folio_loses_its_clean_blocks() {
    let folios = [
        Slot {
            first: 0,
            blocks: 4,
            dirty: 0b0001,
        },
        Slot {
            first: 4,
            blocks: 4,
            dirty: 0,
        },
    ];
    let mut model = Model {
        folios: folios.to_vec(),
        evict_found: false,
        punched: Vec::new(),
        warnings: Vec::new(),
        races: 0,
        calls: 0,
    };
    release(&mut model, 0, 8 * BLOCK, 8 * BLOCK, BLOCK, Mode::Fixed);
    assert_eq!(
        model.punched,
        vec![(BLOCK, 3 * BLOCK), (4 * BLOCK, 4 * BLOCK)]
    );
}
