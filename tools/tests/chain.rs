//! The extent chain walk and the chain planner (`rust/shared/format/chain.rs`)
//! and their three users: the kernel (`rust/fs/disk.rs` walks with
//! `walk_extents` and rewrites with `ChainPlan` / `ChainLayout`; modelled
//! here by the same calls, as `kernel_walk`), fsck (drives a `ChainWalk`
//! itself, past errors) and the test image builder. On sound chains of one
//! to several blocks, while chains grow and shrink, and on hostile ones:
//! loops, pointers out of range, counts that do not match.

use std::collections::HashMap;
use std::convert::Infallible;
use std::panic::{catch_unwind, AssertUnwindSafe};

use delafs::shared::format::{
    chain_blocks_needed, encode_chain_block, walk_extents, Block, ChainError, ChainLayout,
    ChainPlan, ChainWalk, Extent, Geometry, Inode, RecordError, Visit, WalkError, BLOCK_SIZE,
    CHAIN_EXTENTS, INLINE_EXTENTS, S_IFREG,
};

#[path = "../src/host/mod.rs"]
pub mod host;

use host::builder::{ImageBuilder, ROOT};
use host::fsck::Report;

/// What the kernel's `read_inode` gets: the chain blocks and the extents, or
/// the walk's error. The same calls as `rust/fs/disk.rs`.
type Walked = Result<(Vec<u64>, Vec<Extent>), WalkError<Infallible>>;

fn kernel_walk(b: &ImageBuilder, ino: u32) -> Walked {
    let inode = b.inode(ino);
    let mut chain = Vec::new();
    let mut extents = Vec::new();
    walk_extents(
        &b.geo,
        &inode,
        |block, f| {
            f(b.block(block));
            Ok(())
        },
        |visit| {
            match visit {
                Visit::Chain(block) => chain.push(block),
                Visit::Extent(e) => extents.push(*e),
            }
            Ok(())
        },
    )?;
    Ok((chain, extents))
}

/// The problems fsck reports for inode `ino`.
fn fsck_lines(report: &Report, ino: u32) -> Vec<String> {
    let prefix = format!("inode {ino}: ");
    report
        .problems
        .iter()
        .filter(|p| p.starts_with(&prefix))
        .cloned()
        .collect()
}

/// The three users on inode `ino`: the kernel's walk, fsck and the builder
/// accept it together (with the same extents) or refuse it together, fsck
/// naming what the walk found. Returns the kernel's result.
#[track_caller]
fn agree(b: &ImageBuilder, ino: u32) -> Walked {
    let kernel = kernel_walk(b, ino);
    let report = b.fsck();
    let lines = fsck_lines(&report, ino);
    let builder = catch_unwind(AssertUnwindSafe(|| b.extents(ino)));
    match &kernel {
        Ok((_, extents)) => {
            assert!(lines.is_empty(), "kernel accepts, fsck: {lines:?}");
            assert_eq!(builder.as_ref().ok(), Some(extents), "builder");
        }
        Err(e) => {
            assert!(
                builder.is_err(),
                "kernel refuses ({e:?}), the builder reads it"
            );
            let count = b.inode(ino).extent_count;
            let want = match e {
                WalkError::Chain(
                    c @ (ChainError::PastCount { .. }
                    | ChainError::TooMany { .. }
                    | ChainError::Short { .. }),
                ) => format!("inode {ino}: {c} {count}"),
                WalkError::Chain(c) => format!("inode {ino}: {c}"),
                WalkError::Extent(r) => r.describe().to_string(),
                WalkError::Caller(never) => match *never {},
            };
            assert!(
                lines.iter().any(|l| l.contains(&want)),
                "kernel: {e:?}; fsck says {lines:?}, not {want:?}"
            );
        }
    }
    kernel
}

/// `n` one-block extents, at every other file block.
fn extents(b: &mut ImageBuilder, n: u32) -> Vec<Extent> {
    (0..n).map(|i| b.data_extent(2 * i, 1)).collect()
}

fn file(b: &mut ImageBuilder, name: &str, n: u32) -> (u32, Vec<Extent>) {
    let e = extents(b, n);
    let size = e.last().map_or(0, |e| e.logical_end() * BLOCK_SIZE as u64);
    (b.create_file(ROOT, name, size, &e), e)
}

/// The chain blocks of `ino`, by the kernel's walk.
fn chain_of(b: &ImageBuilder, ino: u32) -> Vec<u64> {
    kernel_walk(b, ino).expect("sound chain").0
}

/// Each chain block's count, by a bare `ChainWalk`.
fn counts(b: &ImageBuilder, ino: u32) -> Vec<u32> {
    let mut walk = ChainWalk::new(&b.geo, &b.inode(ino));
    let mut counts = Vec::new();
    while let Some(block) = walk.next_block().expect("sound chain") {
        counts.push(walk.decode(b.block(block)).expect("sound block").count);
    }
    counts
}

#[test]
fn chains_of_several_blocks() {
    let mut b = ImageBuilder::new(4096, 64);
    for (n, want) in [
        (0, vec![]),
        (1, vec![]),
        (8, vec![]),
        (9, vec![1]),
        (8 + 254, vec![254]),
        (8 + 255, vec![254, 1]),
        (1000, vec![254, 254, 254, 230]),
    ] {
        let (ino, e) = file(&mut b, &format!("f{n}"), n);
        let (chain, walked) = agree(&b, ino).expect("sound chain");
        assert_eq!(walked, e, "{n} extents");
        assert_eq!(chain.len() as u64, chain_blocks_needed(n.into()), "{n}");
        assert_eq!(counts(&b, ino), want, "{n}");
        assert_eq!(
            b.inode(ino).extent_chain,
            chain.first().copied().unwrap_or(0)
        );
    }
    assert!(b.fsck().is_clean(), "{:?}", b.fsck());
}

#[test]
fn chains_grow_and_shrink_in_place() {
    let mut b = ImageBuilder::new(4096, 64);
    let pool = extents(&mut b, 1200);
    let ino = b.create_file(ROOT, "f", 2400 * BLOCK_SIZE as u64, &[]);
    let mut before: Vec<u64> = Vec::new();
    for n in [1000, 9, 600, 8, 0, 300, 1200, 262, 263] {
        // Only the chain's blocks and the extents in use are used (the
        // pool stays out of the allocator's way while it runs).
        for e in &pool {
            b.set_used(e.physical, 1, true);
        }
        b.set_extents(ino, &pool[..n]);
        for e in &pool[n..] {
            b.set_used(e.physical, 1, false);
        }
        let (chain, walked) = agree(&b, ino).expect("sound chain");
        assert_eq!(walked, &pool[..n]);
        assert_eq!(chain.len() as u64, chain_blocks_needed(n as u64));
        // Kept blocks stay where they were, in order.
        let kept = chain.len().min(before.len());
        assert_eq!(chain[..kept], before[..kept], "{n} extents");
        // Freed chain blocks are free again: no leak, nothing used twice.
        let report = b.fsck();
        assert!(report.is_clean(), "{n} extents: {report:?}");
        before = chain;
    }
}

/// A chain of one block (one extent) pointing to itself: the count alone
/// would let it go round 2^32 times.
#[test]
fn a_chain_that_loops_on_itself() {
    let mut b = ImageBuilder::new(512, 64);
    let (ino, e) = file(&mut b, "f", 10);
    let head = b.inode(ino).extent_chain;
    encode_chain_block(b.block_mut(head), head, &e[8..9]).unwrap();
    b.update_inode(ino, |i| i.extent_count = u32::MAX);
    let mut walk = ChainWalk::new(&b.geo, &b.inode(ino));
    assert_eq!(walk.next_block(), Ok(Some(head)));
    walk.decode(b.block(head)).unwrap();
    assert_eq!(walk.next_block(), Err(ChainError::Loop { block: head }));
    assert_eq!(walk.next_block(), Ok(None), "over after an error");
    assert!(matches!(
        agree(&b, ino),
        Err(WalkError::Chain(ChainError::Loop { block })) if block == head
    ));
}

/// A chain whose last block points back into it: fsck names the first block
/// seen twice; a bare walk finds the loop by itself, soon.
#[test]
fn a_chain_that_loops_back() {
    let mut b = ImageBuilder::new(2048, 64);
    let (ino, e) = file(&mut b, "f", 8 + 4 * 254);
    let chain = chain_of(&b, ino);
    assert_eq!(chain.len(), 4);
    let last = chain[3];
    encode_chain_block(b.block_mut(last), chain[1], &e[8 + 3 * 254..]).unwrap();
    b.update_inode(ino, |i| i.extent_count = u32::MAX);
    // The kernel's walk: the repeated block's extents overlap.
    assert_eq!(
        kernel_walk(&b, ino),
        Err(WalkError::Extent(RecordError::ExtentsOverlap))
    );
    let lines = fsck_lines(&b.fsck(), ino);
    assert_eq!(
        lines,
        [format!(
            "inode {ino}: extent chain loops back to block {}",
            chain[1]
        )]
    );
    assert!(catch_unwind(AssertUnwindSafe(|| b.extents(ino))).is_err());
    let mut walk = ChainWalk::new(&b.geo, &b.inode(ino));
    let mut steps = 0;
    let end = loop {
        match walk.next_block() {
            Ok(Some(block)) => {
                steps += 1;
                walk.decode(b.block(block)).unwrap();
            }
            other => break other,
        }
    };
    assert!(matches!(end, Err(ChainError::Loop { .. })), "{end:?}");
    assert!(steps <= 1 + 2 * 3, "{steps} steps");
}

/// Chains in memory: block `i` points to `next[i]`, one extent each.
struct Chains {
    geo: Geometry,
    blocks: HashMap<u64, Block>,
}

impl Chains {
    const FIRST: u64 = 100;

    fn new(next: &[u64]) -> Self {
        let geo = Geometry::new(100_000, 64).unwrap();
        let mut blocks = HashMap::new();
        for (i, &n) in next.iter().enumerate() {
            let block = Self::FIRST + i as u64;
            let e = Extent {
                logical: i as u32,
                len: 1,
                physical: 50_000 + i as u64,
                unwritten: false,
            };
            let mut raw = [0u8; BLOCK_SIZE];
            encode_chain_block(&mut raw, n, &[e]).unwrap();
            blocks.insert(block, raw);
        }
        Self { geo, blocks }
    }

    /// Walks from the first block, expecting `extents` extents: the steps
    /// taken and how it ended.
    fn walk(&self, extents: u64) -> (u64, Result<(), ChainError>) {
        let mut walk = ChainWalk::from_head(&self.geo, Self::FIRST, extents);
        let mut steps = 0;
        loop {
            match walk.next_block() {
                Ok(None) => return (steps, Ok(())),
                Err(e) => return (steps, Err(e)),
                Ok(Some(block)) => {
                    steps += 1;
                    let raw = self.blocks.get(&block).expect("a block of the chain");
                    if let Err(e) = walk.decode(raw) {
                        return (steps, Err(e));
                    }
                }
            }
        }
    }
}

/// Every loop, whatever its start and length, is found within twice the
/// larger of the two plus its length of steps (Brent), however many extents
/// the inode claims.
#[test]
fn loops_are_found_without_memory() {
    for start in 0..20u64 {
        for len in 1..40u64 {
            let n = start + len;
            let next: Vec<u64> = (0..n)
                .map(|i| Chains::FIRST + if i + 1 < n { i + 1 } else { start })
                .collect();
            let chains = Chains::new(&next);
            let (steps, end) = chains.walk(u64::from(u32::MAX));
            assert!(
                matches!(end, Err(ChainError::Loop { .. })),
                "start {start} len {len}: {end:?}"
            );
            let bound = 2 * start.max(len) + len;
            assert!(steps <= bound, "start {start} len {len}: {steps} > {bound}");
        }
    }
}

/// Random pointer soup: the walk always ends, within the count, without
/// panicking.
#[test]
fn hostile_chains_end() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let n = 1 + rand() % 30;
        let next: Vec<u64> = (0..n)
            .map(|_| match rand() % 8 {
                0 => 0,
                1 => rand(),
                _ => Chains::FIRST + rand() % n,
            })
            .collect();
        let chains = Chains::new(&next);
        let claimed = rand() % 64;
        let (steps, end) = chains.walk(claimed);
        assert!(steps <= claimed, "{steps} steps for {claimed} extents");
        assert!(steps <= 3 * n + 1, "{steps} steps over {n} blocks");
        if end.is_ok() {
            assert_eq!(steps, claimed);
        }
    }
}

#[test]
fn chain_pointers_out_of_range() {
    let mut b = ImageBuilder::new(512, 64);
    let (ino, e) = file(&mut b, "f", 8 + 254 + 1);
    let chain = chain_of(&b, ino);
    let geo = b.geo;
    // The head: metadata, past the end, far past it.
    for bad in [1, geo.data_start - 1, geo.total_blocks, u64::MAX] {
        b.update_inode(ino, |i| i.extent_chain = bad);
        assert!(matches!(
            agree(&b, ino),
            Err(WalkError::Chain(ChainError::OutsideData { block })) if block == bad
        ));
    }
    b.update_inode(ino, |i| i.extent_chain = chain[0]);
    agree(&b, ino).expect("sound again");
    // A block's `next`.
    for bad in [2, geo.total_blocks + 7] {
        encode_chain_block(b.block_mut(chain[0]), bad, &e[8..8 + 254]).unwrap();
        assert!(matches!(
            agree(&b, ino),
            Err(WalkError::Chain(ChainError::OutsideData { block })) if block == bad
        ));
    }
}

#[test]
fn counts_that_do_not_match() {
    let mut b = ImageBuilder::new(512, 64);
    let (ino, e) = file(&mut b, "f", 8 + 254 + 3);
    let chain = chain_of(&b, ino);
    let n = e.len() as u32;

    // Fewer extents in the chain than the inode says.
    b.update_inode(ino, |i| i.extent_count = n + 2);
    assert!(matches!(
        agree(&b, ino),
        Err(WalkError::Chain(ChainError::Short { missing: 2 }))
    ));
    // A block holding more than the inode leaves for it.
    b.update_inode(ino, |i| i.extent_count = n - 1);
    assert!(matches!(
        agree(&b, ino),
        Err(WalkError::Chain(ChainError::TooMany { block })) if block == chain[1]
    ));
    // A chain going on after the count is reached.
    b.update_inode(ino, |i| i.extent_count = 8 + 254);
    assert!(matches!(
        agree(&b, ino),
        Err(WalkError::Chain(ChainError::PastCount { block })) if block == chain[1]
    ));
    b.update_inode(ino, |i| i.extent_count = n);
    agree(&b, ino).expect("sound again");

    // A block that fails its verifier.
    b.block_mut(chain[1])[100] ^= 1;
    assert!(matches!(
        agree(&b, ino),
        Err(WalkError::Chain(ChainError::Block {
            block,
            error: RecordError::BadChecksum
        })) if block == chain[1]
    ));
}

#[test]
fn the_walk_wants_decode_between_blocks() {
    let chains = Chains::new(&[Chains::FIRST + 1, 0]);
    let mut walk = ChainWalk::from_head(&chains.geo, Chains::FIRST, 2);
    assert_eq!(walk.next_block(), Ok(Some(Chains::FIRST)));
    assert_eq!(walk.next_block(), Err(ChainError::OutOfOrder), "twice");
    assert_eq!(walk.next_block(), Ok(None));
    let mut walk = ChainWalk::from_head(&chains.geo, Chains::FIRST, 2);
    assert_eq!(
        walk.decode(&[0; BLOCK_SIZE]).err(),
        Some(ChainError::OutOfOrder),
        "decode first"
    );
    assert_eq!(walk.next_block(), Ok(None));
    // A reader that never hands the block over.
    let mut b = ImageBuilder::new(512, 64);
    let (ino, _) = file(&mut b, "f", 9);
    let walked = walk_extents(
        &b.geo,
        &b.inode(ino),
        |_, _| Ok::<_, Infallible>(()),
        |_| Ok(()),
    );
    assert_eq!(walked, Err(WalkError::Chain(ChainError::OutOfOrder)));
    // No chain at all, and none expected.
    let inode = Inode::new(S_IFREG);
    let mut walk = ChainWalk::new(&chains.geo, &inode);
    assert_eq!(walk.next_block(), Ok(None));
    assert_eq!(walk.remaining(), 0);
}

#[test]
fn the_planner() {
    for have in 0..6usize {
        for extents in [0usize, 1, 8, 9, 262, 263, 516, 517, 2000] {
            let plan = ChainPlan::new(have, extents).unwrap();
            let need = chain_blocks_needed(extents as u64) as usize;
            assert_eq!(plan.needed(), need);
            assert_eq!(have + plan.grow() - plan.shrink(), need);
            assert!(plan.grow() == 0 || plan.shrink() == 0);
            let chain: Vec<u64> = (0..have as u64).map(|i| 100 + i).collect();
            let (kept, freed) = (plan.kept(&chain), plan.freed(&chain));
            assert_eq!(kept.len() + freed.len(), have);
            assert_eq!([kept, freed].concat(), chain);
            assert_eq!(freed.len(), plan.shrink());
        }
    }
    assert!(ChainPlan::new(0, u32::MAX as usize).is_ok());
    if let Ok(too_many) = usize::try_from(u64::from(u32::MAX) + 1) {
        assert_eq!(
            ChainPlan::new(0, too_many),
            Err(RecordError::BadExtentCount)
        );
    }
}

#[test]
fn the_layout() {
    let geo = Geometry::new(1000, 64).unwrap();
    let e: Vec<Extent> = (0..600)
        .map(|i| Extent {
            logical: i,
            len: 1,
            physical: 500,
            unwritten: false,
        })
        .collect();
    let chain = [20, 30, 10];
    let layout = ChainLayout::new(&geo, &e, &chain).unwrap();
    assert_eq!(layout.head(), 20);
    let pieces: Vec<_> = layout.map(|p| (p.block, p.next, p.extents.len())).collect();
    assert_eq!(pieces, [(20, 30, 254), (30, 10, 254), (10, 0, 84)]);
    let mut raw = [0u8; BLOCK_SIZE];
    for p in ChainLayout::new(&geo, &e, &chain).unwrap() {
        p.encode(&mut raw).unwrap();
        let decoded = delafs::shared::format::ChainBlock::decode(&raw).unwrap();
        assert_eq!(decoded.next, p.next);
        assert!(decoded.extents().eq(p.extents.iter().copied()));
    }
    // Too few or too many blocks, a block outside the data area: refused.
    assert_eq!(
        ChainLayout::new(&geo, &e, &chain[..2]).err(),
        Some(RecordError::BadExtentCount)
    );
    assert_eq!(
        ChainLayout::new(&geo, &e[..INLINE_EXTENTS], &chain[..1]).err(),
        Some(RecordError::BadExtentCount)
    );
    for bad in [0, geo.data_start - 1, geo.total_blocks] {
        assert_eq!(
            ChainLayout::new(&geo, &e, &[20, bad, 10]).err(),
            Some(RecordError::ChainBlockOutsideData)
        );
    }
    let empty = ChainLayout::new(&geo, &e[..INLINE_EXTENTS], &[]).unwrap();
    assert_eq!(empty.head(), 0);
    assert_eq!(empty.count(), 0);
    assert_eq!(CHAIN_EXTENTS, 254);
}
