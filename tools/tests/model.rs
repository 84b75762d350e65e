//! Randomised model tests of the shared algorithms: [`ExtentMap`] against a
//! per-block array, [`FreeSpace`] against a bitmap. Deterministic: a fixed
//! seed per run, printed on failure.

use std::cell::Cell;
use std::rc::Rc;

use delafs::shared::extent_map::{
    ExtentMap, Filter, Lookup, MapError, Mapping, NoMemory, OrderedMap, State,
};
use delafs::shared::space::{FreeSpace, NoSpace, SpaceError};

#[path = "../src/host/mod.rs"]
pub mod host;

use host::btree::BTree;

/// xorshift64*: small, deterministic, good enough to pick test operations.
struct Rng(u64);

impl Rng {
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

/// A [`BTree`] whose inserts fail now and then, as the kernel's may: one
/// in `fail_one_in` (never when 0; the test changes it from outside).
struct Flaky<V> {
    tree: BTree<V>,
    rng: Rng,
    fail_one_in: Rc<Cell<u64>>,
    failures: u64,
}

impl<V> Flaky<V> {
    fn new(seed: u64, fail_one_in: Rc<Cell<u64>>) -> Self {
        Self {
            tree: BTree::new(),
            rng: Rng(seed ^ 0x5555_5555_5555_5555),
            fail_one_in,
            failures: 0,
        }
    }
}

impl<V: Copy> OrderedMap<V> for Flaky<V> {
    fn floor(&mut self, key: u64) -> Option<(u64, V)> {
        self.tree.floor(key)
    }
    fn ceil(&mut self, key: u64) -> Option<(u64, V)> {
        self.tree.ceil(key)
    }
    fn insert(&mut self, key: u64, value: V) -> Result<(), NoMemory> {
        let n = self.fail_one_in.get();
        if n != 0 && self.rng.below(n) == 0 {
            self.failures += 1;
            return Err(NoMemory);
        }
        self.tree.insert(key, value)
    }
    fn remove(&mut self, key: u64) -> Option<V> {
        self.tree.remove(key)
    }
}

/// The model: one entry per file block.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Block {
    Hole,
    Real(u64),
    Unwritten(u64),
    Delalloc,
}

const FILE_BLOCKS: u64 = 96;

fn block_state(b: Block) -> Option<State> {
    match b {
        Block::Hole => None,
        Block::Real(p) => Some(State::Real { physical: p }),
        Block::Unwritten(p) => Some(State::Unwritten { physical: p }),
        Block::Delalloc => Some(State::Delalloc),
    }
}

/// The model block `k` blocks into an extent in state `st`.
fn block_at(st: State, k: u64) -> Block {
    match st {
        State::Delalloc => Block::Delalloc,
        State::Real { physical } => Block::Real(physical + k),
        State::Unwritten { physical } => Block::Unwritten(physical + k),
    }
}

/// Whether block `b` continues the extent whose previous block is `prev`.
fn continues(prev: Block, b: Block) -> bool {
    match (prev, b) {
        (Block::Delalloc, Block::Delalloc) => true,
        (Block::Real(p), Block::Real(q)) | (Block::Unwritten(p), Block::Unwritten(q)) => p + 1 == q,
        _ => false,
    }
}

/// The extents the model implies: maximal mergeable runs.
fn model_extents(model: &[Block]) -> Vec<(u64, Mapping)> {
    let mut out: Vec<(u64, Mapping)> = Vec::new();
    for (i, &b) in model.iter().enumerate() {
        let Some(state) = block_state(b) else {
            continue;
        };
        let i = i as u64;
        if let Some((start, m)) = out.last_mut() {
            if *start + m.len == i && continues(model[i as usize - 1], b) {
                m.len += 1;
                continue;
            }
        }
        out.push((i, Mapping { len: 1, state }));
    }
    out
}

fn check_equivalent(map: &mut ExtentMap<Flaky<Mapping>>, model: &[Block], ctx: &str) {
    let mut got = Vec::new();
    map.for_each(|s, m| {
        got.push((s, m));
        Ok::<(), ()>(())
    })
    .unwrap();
    let want = model_extents(model);
    assert_eq!(got, want, "{ctx}");
    assert_eq!(map.extent_count(), want.len() as u64, "{ctx}: extent count");
    let delalloc = model.iter().filter(|b| **b == Block::Delalloc).count() as u64;
    assert_eq!(map.delalloc_blocks(), delalloc, "{ctx}: delalloc count");
    // Lookups everywhere, past the end too.
    for lblk in 0..FILE_BLOCKS + 2 {
        let expect = match model.get(lblk as usize).copied().unwrap_or(Block::Hole) {
            Block::Hole => {
                let next = (lblk..FILE_BLOCKS)
                    .find(|&j| model[j as usize] != Block::Hole)
                    .unwrap_or(u64::MAX);
                Lookup::Hole { len: next - lblk }
            }
            b => {
                let mut len = 1;
                while let (Some(&prev), Some(&next)) = (
                    model.get((lblk + len - 1) as usize),
                    model.get((lblk + len) as usize),
                ) {
                    if !continues(prev, next) {
                        break;
                    }
                    len += 1;
                }
                Lookup::Mapped {
                    len,
                    state: block_state(b).unwrap(),
                }
            }
        };
        assert_eq!(map.lookup(lblk), expect, "{ctx}: lookup {lblk}");
    }
}

/// A disk block for mapping `range`: often one that makes it physically
/// contiguous with the real block before or after it, so that merges
/// happen; else `fresh`.
fn contiguous_physical(
    model: &[Block],
    range: &std::ops::Range<usize>,
    fresh: u64,
    rng: &mut Rng,
) -> u64 {
    let before = range.start.checked_sub(1).and_then(|i| model.get(i));
    let after = model.get(range.end);
    match (rng.below(3), before, after) {
        (0, Some(Block::Real(p) | Block::Unwritten(p)), _) => p + 1,
        (1, _, Some(Block::Real(p) | Block::Unwritten(p))) if *p >= range.len() as u64 => {
            p - range.len() as u64
        }
        _ => fresh,
    }
}

/// Successful operations of each kind, to show the run exercised them.
#[derive(Default, Debug)]
struct Counts {
    insert: u64,
    remove: u64,
    convert: u64,
    convert_unwritten: u64,
    no_memory: u64,
}

fn extent_map_run(seed: u64, ops: usize, fail_one_in: u64) -> Counts {
    let mut rng = Rng(seed);
    let mut counts = Counts::default();
    let fail = Rc::new(Cell::new(fail_one_in));
    let mut map = ExtentMap::new(Flaky::new(seed, fail.clone()));
    let mut model = vec![Block::Hole; FILE_BLOCKS as usize];
    // Physical blocks are handed out fresh or reused near earlier ones, so
    // that physically contiguous neighbours (merges) happen often.
    let mut next_physical = 1000u64;
    for step in 0..ops {
        let lblk = rng.below(FILE_BLOCKS);
        let len = 1 + rng.below(8.min(FILE_BLOCKS - lblk));
        let range = lblk as usize..(lblk + len) as usize;
        let ctx = format!("seed {seed} step {step}");
        match rng.below(10) {
            0..=3 => {
                let state = if rng.below(2) == 0 {
                    State::Delalloc
                } else {
                    next_physical += 100;
                    let physical = contiguous_physical(&model, &range, next_physical, &mut rng);
                    if rng.below(2) == 0 {
                        State::Real { physical }
                    } else {
                        State::Unwritten { physical }
                    }
                };
                let hole = model[range.clone()].iter().all(|b| *b == Block::Hole);
                let result = map.insert(lblk, len, state);
                if result == Err(MapError::NoMemory) {
                    counts.no_memory += 1;
                } else if hole {
                    counts.insert += 1;
                    assert_eq!(result, Ok(()), "{ctx}: insert {lblk}+{len}");
                    for (i, b) in model[range].iter_mut().enumerate() {
                        *b = block_at(state, i as u64);
                    }
                } else {
                    assert_eq!(result, Err(MapError::NotAHole), "{ctx}");
                }
            }
            4..=6 => {
                let filter = match rng.below(3) {
                    0 => Filter::All,
                    1 => Filter::KeepUnwritten,
                    _ => Filter::DelallocOnly,
                };
                let mut reported = Vec::new();
                let result = map.remove(lblk, len, filter, |s, l, st| reported.push((s, l, st)));
                if result == Err(MapError::NoMemory) {
                    assert!(
                        reported.is_empty(),
                        "{ctx}: reported pieces of a failed remove"
                    );
                    counts.no_memory += 1;
                    check_equivalent(&mut map, &model, &ctx);
                    continue;
                }
                assert_eq!(result, Ok(()), "{ctx}");
                counts.remove += 1;
                // Each reported piece must be exactly what the model had.
                let mut expected_blocks = Vec::new();
                for i in range.clone() {
                    let b = model[i];
                    let selected = match b {
                        Block::Hole => false,
                        Block::Delalloc => true,
                        Block::Real(_) => filter != Filter::DelallocOnly,
                        Block::Unwritten(_) => filter == Filter::All,
                    };
                    if selected {
                        expected_blocks.push((i as u64, b));
                        model[i] = Block::Hole;
                    }
                }
                let mut reported_blocks = Vec::new();
                for (s, l, st) in reported {
                    for k in 0..l {
                        reported_blocks.push((s + k, block_at(st, k)));
                    }
                }
                assert_eq!(
                    reported_blocks, expected_blocks,
                    "{ctx}: remove {lblk}+{len} {filter:?}"
                );
            }
            7..=8 => {
                next_physical += 100;
                let physical = next_physical;
                // Mostly convert part of an existing delalloc run, as
                // writeback does; sometimes a random range.
                let delalloc: Vec<usize> = (0..model.len())
                    .filter(|&i| model[i] == Block::Delalloc)
                    .collect();
                let (lblk, len, range) = if delalloc.is_empty() || rng.below(4) == 0 {
                    (lblk, len, range)
                } else {
                    let i = delalloc[rng.below(delalloc.len() as u64) as usize];
                    let mut end = i;
                    while end < model.len() && model[end] == Block::Delalloc {
                        end += 1;
                    }
                    let len = 1 + rng.below((end - i) as u64);
                    (i as u64, len, i..i + len as usize)
                };
                let physical = contiguous_physical(&model, &range, physical, &mut rng);
                let all_delalloc = model[range.clone()].iter().all(|b| *b == Block::Delalloc);
                let unwritten = rng.below(2) == 0;
                let result = map.convert_delalloc(lblk, len, physical, unwritten);
                if result == Err(MapError::NoMemory) {
                    counts.no_memory += 1;
                } else if all_delalloc {
                    counts.convert += 1;
                    assert_eq!(result, Ok(()), "{ctx}: convert {lblk}+{len}");
                    for (i, b) in model[range].iter_mut().enumerate() {
                        let p = physical + i as u64;
                        *b = if unwritten {
                            Block::Unwritten(p)
                        } else {
                            Block::Real(p)
                        };
                    }
                } else {
                    assert_eq!(result, Err(MapError::NotDelalloc), "{ctx}");
                }
            }
            9 if rng.below(2) == 0 => {
                // I/O completion: every unwritten block of the range
                // becomes real. Running out of memory may leave part of it
                // converted; a retry (with memory) must finish the job.
                let want = model[range.clone()]
                    .iter()
                    .filter(|b| matches!(b, Block::Unwritten(_)))
                    .count() as u64;
                let mut result = map.convert_unwritten(lblk, len);
                if result == Err(MapError::NoMemory) {
                    counts.no_memory += 1;
                    let saved = fail.replace(0);
                    result = map.convert_unwritten(lblk, len).map(|_| want);
                    fail.set(saved);
                }
                assert_eq!(result, Ok(want), "{ctx}: convert_unwritten {lblk}+{len}");
                counts.convert_unwritten += u64::from(want > 0);
                for b in &mut model[range] {
                    if let Block::Unwritten(p) = *b {
                        *b = Block::Real(p);
                    }
                }
            }
            _ => {
                // Lookup-only step: next_from agrees with the model.
                let got = map.next_from(lblk);
                let want = model_extents(&model)
                    .into_iter()
                    .find(|(s, m)| s + m.len > lblk);
                assert_eq!(got, want, "{ctx}: next_from {lblk}");
            }
        }
        check_equivalent(&mut map, &model, &ctx);
    }
    counts
}

#[test]
fn extent_map_matches_block_model() {
    for seed in 1..=8u64 {
        let c = extent_map_run(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15), 2500, 0);
        assert!(
            c.insert > 200 && c.remove > 500 && c.convert > 150 && c.convert_unwritten > 20,
            "{c:?}"
        );
        assert_eq!(c.no_memory, 0);
    }
}

/// With inserts failing at random, every failed operation leaves the map
/// exactly as it was (the model is not updated on failure).
#[test]
fn extent_map_unchanged_on_no_memory() {
    for seed in 1..=8u64 {
        let c = extent_map_run(seed.wrapping_mul(0xA24B_AED4_963E_E407), 2500, 4);
        assert!(
            c.no_memory > 100 && c.insert > 100 && c.convert > 100,
            "{c:?}"
        );
    }
}

/// The free-space model: one bool per block (true = free) plus the
/// reservation count.
fn check_space(space: &mut FreeSpace<Flaky<u64>>, free: &[bool], reserved: u64, ctx: &str) {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < free.len() {
        if free[i] {
            let start = i;
            while i < free.len() && free[i] {
                i += 1;
            }
            runs.push((start as u64, (i - start) as u64));
        } else {
            i += 1;
        }
    }
    let got: Vec<(u64, u64)> = space.inner().tree.0.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(got, runs, "{ctx}: free extents");
    let nfree = free.iter().filter(|f| **f).count() as u64;
    assert_eq!(space.free_blocks(), nfree, "{ctx}: free count");
    assert_eq!(
        space.extent_count(),
        runs.len() as u64,
        "{ctx}: extent count"
    );
    assert_eq!(space.reserved(), reserved, "{ctx}: reserved");
    assert!(reserved <= nfree, "{ctx}: reservation invariant");
}

/// Where an allocation must come from: the goal if free, else the first
/// free block after it, else the lowest free block.
fn expected_alloc(free: &[bool], want: u64, goal: u64) -> (u64, u64) {
    let n = free.len() as u64;
    let start = if goal < n && free[goal as usize] {
        goal
    } else {
        (goal..n)
            .find(|&b| free[b as usize])
            .or_else(|| (0..n).find(|&b| free[b as usize]))
            .expect("something free")
    };
    let mut len = 0;
    while len < want && start + len < n && free[(start + len) as usize] {
        len += 1;
    }
    (start, len)
}

fn free_space_run(seed: u64, ops: usize, fail_one_in: u64) -> u64 {
    const BLOCKS: u64 = 200;
    let mut rng = Rng(seed);
    // Start from a random bitmap, as a mount does.
    let mut bitmap = vec![0u8; (BLOCKS / 8) as usize];
    for byte in bitmap.iter_mut() {
        *byte = rng.next() as u8 & rng.next() as u8;
    }
    let mut free: Vec<bool> = (0..BLOCKS)
        .map(|b| bitmap[(b / 8) as usize] & (1 << (b % 8)) == 0)
        .collect();
    let fail = Rc::new(Cell::new(0));
    let mut space = FreeSpace::new(Flaky::new(seed, fail.clone()));
    // In two chunks, the second first: runs across the cut must merge.
    space
        .add_bitmap(&bitmap[13..], 13 * 8, BLOCKS - 13 * 8)
        .unwrap();
    space.add_bitmap(&bitmap[..13], 0, 13 * 8).unwrap();
    let mut reserved = 0u64;
    check_space(&mut space, &free, reserved, "after load");
    // Loaded; from now on inserts may fail.
    fail.set(fail_one_in);

    for step in 0..ops {
        let ctx = format!("seed {seed} step {step}");
        let nfree = free.iter().filter(|f| **f).count() as u64;
        let want = 1 + rng.below(12);
        let goal = rng.below(BLOCKS + 10);
        match rng.below(10) {
            0..=2 => {
                let result = space.alloc(want, goal);
                if result == Err(SpaceError::NoMemory) {
                } else if nfree - reserved == 0 {
                    assert_eq!(result, Err(SpaceError::NoSpace), "{ctx}");
                } else {
                    let (s, l) = expected_alloc(&free, want.min(nfree - reserved), goal);
                    assert_eq!(result, Ok((s, l)), "{ctx}: alloc {want} at {goal}");
                    free[s as usize..(s + l) as usize].fill(false);
                }
            }
            3..=4 => {
                let result = space.alloc_reserved(want, goal);
                if result == Err(SpaceError::NoMemory) {
                } else if reserved == 0 {
                    assert_eq!(result, Err(SpaceError::NoSpace), "{ctx}");
                } else {
                    // A reservation always finds blocks.
                    let (s, l) = expected_alloc(&free, want.min(reserved), goal);
                    assert_eq!(result, Ok((s, l)), "{ctx}: alloc_reserved {want} at {goal}");
                    free[s as usize..(s + l) as usize].fill(false);
                    reserved -= l;
                }
            }
            5..=6 => {
                let start = rng.below(BLOCKS);
                let len = 1 + rng.below(6.min(BLOCKS - start));
                let range = start as usize..(start + len) as usize;
                let result = space.free(start, len);
                if result == Err(SpaceError::NoMemory) {
                } else if free[range.clone()].iter().any(|f| *f) {
                    assert_eq!(result, Err(SpaceError::Overlap), "{ctx}");
                } else {
                    assert_eq!(result, Ok(()), "{ctx}: free {start}+{len}");
                    free[range].fill(true);
                }
            }
            7..=8 => {
                let n = rng.below(20);
                let result = space.reserve(n);
                if nfree - reserved >= n {
                    assert_eq!(result, Ok(()), "{ctx}");
                    reserved += n;
                } else {
                    assert_eq!(result, Err(NoSpace), "{ctx}");
                }
            }
            _ => {
                let n = rng.below(reserved + 1);
                space.unreserve(n);
                reserved -= n;
            }
        }
        check_space(&mut space, &free, reserved, &ctx);
    }
    space.inner().failures
}

#[test]
fn free_space_matches_bitmap_model() {
    for seed in 1..=8u64 {
        let failures = free_space_run(seed.wrapping_mul(0xD1B5_4A32_D192_ED03), 3000, 0);
        assert_eq!(failures, 0);
    }
}

/// With inserts failing at random, failed allocations and frees change
/// nothing.
#[test]
fn free_space_unchanged_on_no_memory() {
    for seed in 1..=8u64 {
        let failures = free_space_run(seed.wrapping_mul(0x9FB2_1C65_1E98_DF25), 3000, 3);
        assert!(failures > 100, "{failures}");
    }
}
