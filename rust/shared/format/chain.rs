// SPDX-License-Identifier: GPL-2.0

//! Extent chain blocks: the extents of a file past the eight inline ones, in
//! a singly linked chain of blocks allocated from the data area.
//!
//! | offset | type  | field |
//! |-------:|-------|-------|
//! | 0      | u32   | magic `0x5845_4C44` (`b"DLEX"` as bytes) |
//! | 4      | u32   | count, 1..=254 |
//! | 8      | u64   | next extent block, 0 = last |
//! | 16     | 254 × 16 | extents (up to byte 4080); unused slots zero |
//! | 4092   | u32   | crc32c of bytes 0..4092 |
//!
//! The counts of the chain blocks add up to `extent_count - 8`.

use super::bytes::{csum_ok, get_u32, get_u64, put, record_at, set_csum, sub, sub_mut, zero_span};
use super::{
    Block, Extent, Geometry, Inode, RecordError, BLOCK_CSUM_OFFSET, EXTENT_SIZE, INLINE_EXTENTS,
};

/// Extent chain block magic.
pub const CHAIN_MAGIC: u32 = 0x5845_4C44;
/// Extents per extent chain block.
pub const CHAIN_EXTENTS: usize = 254;

/// The chain extents of a file whose extents are `extents`, cut into the
/// contents of successive chain blocks.
pub fn chain_chunks(extents: &[Extent]) -> core::slice::Chunks<'_, Extent> {
    extents
        .get(INLINE_EXTENTS..)
        .unwrap_or(&[])
        .chunks(CHAIN_EXTENTS)
}

/// Chain blocks needed for a file of `extent_count` extents.
pub fn chain_blocks_needed(extent_count: u64) -> u64 {
    extent_count
        .saturating_sub(INLINE_EXTENTS as u64)
        .div_ceil(CHAIN_EXTENTS as u64)
}

const CH_MAGIC: usize = 0;
const CH_COUNT: usize = 4;
const CH_NEXT: usize = 8;
const CH_EXTENTS: usize = 16;

/// A decoded extent chain block; its extents were checked by
/// [`ChainBlock::decode`].
#[derive(Clone, Copy, Debug)]
pub struct ChainBlock<'a> {
    /// Extents in this block, 1..=254.
    pub count: u32,
    /// The next chain block, 0 for the last.
    pub next: u64,
    raw: &'a Block,
}

impl<'a> ChainBlock<'a> {
    /// Decodes and checks an extent chain block: magic, checksum, count,
    /// each extent on its own, unused slots zero.
    pub fn decode(block: &'a Block) -> Result<Self, RecordError> {
        if get_u32(block, CH_MAGIC) != CHAIN_MAGIC {
            return Err(RecordError::BadChainMagic);
        }
        if !csum_ok(block, BLOCK_CSUM_OFFSET) {
            return Err(RecordError::BadChecksum);
        }
        let count = get_u32(block, CH_COUNT);
        if count == 0 || count as usize > CHAIN_EXTENTS {
            return Err(RecordError::BadChainCount);
        }
        let used_end = record_at(CH_EXTENTS, count as usize, EXTENT_SIZE);
        for off in (CH_EXTENTS..used_end).step_by(EXTENT_SIZE) {
            if let Some(raw) = sub::<EXTENT_SIZE>(block, off) {
                Extent::decode(raw)?;
            }
        }
        if !zero_span(block, used_end, BLOCK_CSUM_OFFSET) {
            return Err(RecordError::ReservedNotZero);
        }
        Ok(Self {
            count,
            next: get_u64(block, CH_NEXT),
            raw: block,
        })
    }

    /// The extents of this block, in order.
    pub fn extents(&self) -> impl Iterator<Item = Extent> + 'a {
        let raw = self.raw;
        (0..self.count as usize).filter_map(move |i| {
            sub::<EXTENT_SIZE>(raw, record_at(CH_EXTENTS, i, EXTENT_SIZE))
                .and_then(|r| Extent::decode(r).ok())
        })
    }
}

/// Encodes an extent chain block holding `extents` (1..=254 of them) and
/// pointing to `next`.
pub fn encode_chain_block(
    block: &mut Block,
    next: u64,
    extents: &[Extent],
) -> Result<(), RecordError> {
    if extents.is_empty() || extents.len() > CHAIN_EXTENTS {
        return Err(RecordError::BadChainCount);
    }
    block.fill(0);
    put(block, CH_MAGIC, CHAIN_MAGIC.to_le_bytes());
    put(block, CH_COUNT, (extents.len() as u32).to_le_bytes());
    put(block, CH_NEXT, next.to_le_bytes());
    for (i, e) in extents.iter().enumerate() {
        if let Some(slot) = sub_mut::<EXTENT_SIZE>(block, record_at(CH_EXTENTS, i, EXTENT_SIZE)) {
            e.encode(slot);
        }
    }
    set_csum(block, BLOCK_CSUM_OFFSET);
    Ok(())
}

// ---------------------------------------------------------------------------
// Reading a chain: the one walk the kernel, fsck and the image builder use
// ---------------------------------------------------------------------------

/// Why an inode's extent chain is refused, beyond what its blocks'
/// verifier ([`ChainBlock::decode`]) says: the chain as a whole against the
/// inode's `extent_count` and the device.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ChainError {
    /// A chain block number outside the data area.
    OutsideData {
        /// The block number.
        block: u64,
    },
    /// The chain goes on to `block` after it held all `extent_count`
    /// extents.
    PastCount {
        /// The block the last full block points to.
        block: u64,
    },
    /// The chain comes back to `block`, which it passed before.
    Loop {
        /// The first block seen twice.
        block: u64,
    },
    /// `block` fails its verifier.
    Block {
        /// The block number.
        block: u64,
        /// What its verifier says.
        error: RecordError,
    },
    /// `block` holds more extents than `extent_count` leaves for it.
    TooMany {
        /// The block number.
        block: u64,
    },
    /// The chain ends `missing` extents short of `extent_count`.
    Short {
        /// Extents the inode says the chain has and it has not.
        missing: u64,
    },
    /// The walk was driven out of order: [`ChainWalk::decode`] without a
    /// block from [`ChainWalk::next_block`], or `next_block` again before
    /// `decode`. A bug in the caller, reported instead of a panic.
    OutOfOrder,
}

impl ChainError {
    /// The record error this is, for messages that name no block.
    pub fn record_error(&self) -> RecordError {
        match self {
            Self::OutsideData { .. } => RecordError::ChainBlockOutsideData,
            Self::Loop { .. } => RecordError::ChainLoop,
            Self::Block { error, .. } => *error,
            // The walk cannot tell where the chain goes.
            Self::PastCount { .. }
            | Self::TooMany { .. }
            | Self::Short { .. }
            | Self::OutOfOrder => RecordError::BadExtentCount,
        }
    }
}

/// The text fsck prints after `inode N: ` (the count errors followed by the
/// inode's `extent_count`).
impl core::fmt::Display for ChainError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::OutsideData { block } | Self::Block { block, .. } => {
                write!(f, "extent block {block}: {}", self.record_error())
            }
            Self::Loop { block } => write!(f, "extent chain loops back to block {block}"),
            Self::PastCount { block } => {
                write!(
                    f,
                    "extent chain continues at block {block} past extent_count"
                )
            }
            Self::TooMany { .. } => {
                f.write_str("extent chain holds more extents than extent_count")
            }
            Self::Short { missing } => {
                write!(
                    f,
                    "extent chain ends {missing} extents short of extent_count"
                )
            }
            Self::OutOfOrder => f.write_str("extent chain walked out of order"),
        }
    }
}

/// Walks an inode's extent chain, one block at a time. The caller reads the
/// blocks (through the buffer cache in the kernel, from an image on the
/// host); the walk says which block comes next and checks the chain as a
/// whole: every block inside the data area, decoded by its verifier,
/// exactly `extent_count - 8` extents in all, no loop.
///
/// ```
/// # use delafs::shared::format::{Block, ChainError, ChainWalk, Geometry, Inode, S_IFREG};
/// # let geo = Geometry::new(1000, 64).unwrap();
/// # let inode = Inode::new(S_IFREG);
/// # let read = |_block: u64| -> Block { [0; 4096] };
/// let mut walk = ChainWalk::new(&geo, &inode);
/// while let Some(block) = walk.next_block()? {
///     let raw = read(block);
///     for e in walk.decode(&raw)?.extents() {
///         // Check (ExtentChecker) and use `e`.
///     }
/// }
/// # Ok::<(), ChainError>(())
/// ```
///
/// It is meant for hostile images, fsck's and the kernel's at mount: it
/// never panics, all its arithmetic is checked, and it always ends. Every
/// block holds at least one extent, so the count alone bounds the walk to
/// `extent_count - 8` blocks; and since that can be 2^32, a loop is also
/// found on its own, without memory, by Brent's cycle detection (one saved
/// block number): for a loop entered after `m` blocks and `n` blocks long,
/// within `2 * max(m, n) + n` steps, whatever `extent_count` says. A caller
/// that keeps every block it saw (fsck, the kernel's claim map at mount)
/// finds a loop at its first repeated block.
///
/// Once `next_block` or `decode` returned an error, or `next_block`
/// returned `None`, the walk is over: `next_block` returns `None`.
#[derive(Clone, Debug)]
pub struct ChainWalk {
    geo: Geometry,
    /// The block `next_block` returns next; 0 at the end of the chain.
    next: u64,
    /// The block `next_block` returned and `decode` has not yet seen.
    current: Option<u64>,
    /// Extents the rest of the chain must hold.
    remaining: u64,
    /// An error found by `decode` that the next `next_block` reports (so
    /// that the caller sees the extents of a block that holds too many,
    /// as fsck reports and keeps them).
    pending: Option<ChainError>,
    done: bool,
    // Brent's cycle detection: `mark` is a block the chain passed; it moves
    // to the current block after `power` steps, and `power` doubles.
    mark: u64,
    since_mark: u64,
    power: u64,
}

impl ChainWalk {
    /// A walk of `inode`'s chain, on the filesystem `geo`.
    pub fn new(geo: &Geometry, inode: &Inode) -> Self {
        Self::from_head(geo, inode.extent_chain, inode.chain_extent_count().into())
    }

    /// A walk of the chain starting at `head` (0: no chain) that must hold
    /// `extents` extents.
    pub fn from_head(geo: &Geometry, head: u64, extents: u64) -> Self {
        Self {
            geo: *geo,
            next: head,
            current: None,
            remaining: extents,
            pending: None,
            done: false,
            mark: 0,
            since_mark: 0,
            power: 1,
        }
    }

    fn fail(&mut self, e: ChainError) -> Result<Option<u64>, ChainError> {
        self.done = true;
        Err(e)
    }

    /// The next chain block to read and pass to [`ChainWalk::decode`], or
    /// `None` when the chain has ended with as many extents as the inode
    /// says.
    pub fn next_block(&mut self) -> Result<Option<u64>, ChainError> {
        if self.done {
            return Ok(None);
        }
        if let Some(e) = self.pending.take() {
            return self.fail(e);
        }
        if self.current.is_some() {
            return self.fail(ChainError::OutOfOrder);
        }
        let block = self.next;
        if block == 0 {
            self.done = true;
            return match self.remaining {
                0 => Ok(None),
                missing => Err(ChainError::Short { missing }),
            };
        }
        if block == self.mark {
            return self.fail(ChainError::Loop { block });
        }
        if self.remaining == 0 {
            return self.fail(ChainError::PastCount { block });
        }
        if !self.geo.in_data(block, 1) {
            return self.fail(ChainError::OutsideData { block });
        }
        self.since_mark = self.since_mark.saturating_add(1);
        if self.since_mark >= self.power {
            self.mark = block;
            self.since_mark = 0;
            self.power = self.power.saturating_mul(2);
        }
        self.current = Some(block);
        Ok(Some(block))
    }

    /// Decodes `raw`, the contents of the block [`ChainWalk::next_block`]
    /// returned, and moves on to the block it points to. The extents of the
    /// block returned are the caller's to check against each other
    /// ([`super::ExtentChecker`]). A block holding more extents than remain
    /// is still returned; the next `next_block` reports it.
    pub fn decode<'a>(&mut self, raw: &'a Block) -> Result<ChainBlock<'a>, ChainError> {
        let Some(block) = self.current.take() else {
            self.done = true;
            return Err(ChainError::OutOfOrder);
        };
        let chain = match ChainBlock::decode(raw) {
            Ok(chain) => chain,
            Err(error) => {
                self.done = true;
                return Err(ChainError::Block { block, error });
            }
        };
        match self.remaining.checked_sub(chain.count.into()) {
            Some(left) => {
                self.remaining = left;
                self.next = chain.next;
            }
            None => self.pending = Some(ChainError::TooMany { block }),
        }
        Ok(chain)
    }

    /// Extents the rest of the chain must still hold.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }
}

/// What [`walk_extents`] found wrong.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WalkError<E> {
    /// The chain itself ([`ChainWalk`]).
    Chain(ChainError),
    /// The extents against each other or the inode ([`super::ExtentChecker`]).
    Extent(RecordError),
    /// The caller's: a block that could not be read, a callback's error.
    Caller(E),
}

impl<E> From<ChainError> for WalkError<E> {
    fn from(e: ChainError) -> Self {
        Self::Chain(e)
    }
}

/// What [`walk_extents`] meets, in stored order.
#[derive(Clone, Copy, Debug)]
pub enum Visit<'a> {
    /// A chain block, before it is read.
    Chain(u64),
    /// An extent, once checked.
    Extent(&'a Extent),
}

impl Visit<'_> {
    /// The disk blocks it uses: first block and count.
    pub fn blocks(&self) -> (u64, u64) {
        match self {
            Self::Chain(block) => (*block, 1),
            Self::Extent(e) => (e.physical, e.len.into()),
        }
    }
}

/// Every extent of `inode`, inline then chained, checked as the kernel
/// loads an inode: the chain by [`ChainWalk`], the extents by
/// [`super::ExtentChecker`] (sorted, not overlapping, inside the data area,
/// a directory's below its size). `visit` gets each chain block number
/// before the block is read and each extent once it is checked, in stored
/// order. `read(block, f)` reads chain block `block` and calls `f` on its
/// bytes, once, while it holds them (a locked buffer head in the kernel, an
/// image's block on the host). The first error ends the walk. fsck, which
/// goes on past errors, drives a [`ChainWalk`] itself.
pub fn walk_extents<E>(
    geo: &Geometry,
    inode: &Inode,
    read: impl FnMut(u64, &mut dyn FnMut(&Block)) -> Result<(), E>,
    visit: impl FnMut(Visit<'_>) -> Result<(), E>,
) -> Result<(), WalkError<E>> {
    walk_extents_of(geo, inode, false, read, visit)
}

/// [`walk_extents`] on a filesystem where directories may carry an index
/// past their size (`dir_index`: [`super::INCOMPAT_DIR_INDEX`] is set; see
/// [`super::ExtentChecker::with_dir_index`]).
pub fn walk_extents_of<E>(
    geo: &Geometry,
    inode: &Inode,
    dir_index: bool,
    mut read: impl FnMut(u64, &mut dyn FnMut(&Block)) -> Result<(), E>,
    mut visit: impl FnMut(Visit<'_>) -> Result<(), E>,
) -> Result<(), WalkError<E>> {
    let mut checker = super::ExtentChecker::for_inode(geo, inode).with_dir_index(dir_index);
    for e in inode.inline_extents() {
        checker.check(e).map_err(WalkError::Extent)?;
        visit(Visit::Extent(e)).map_err(WalkError::Caller)?;
    }
    let mut walk = ChainWalk::new(geo, inode);
    while let Some(block) = walk.next_block()? {
        visit(Visit::Chain(block)).map_err(WalkError::Caller)?;
        // If `read` never calls back, the walk's next step reports it.
        let mut walked = Ok(());
        read(block, &mut |raw| {
            walked = walk
                .decode(raw)
                .map_err(WalkError::Chain)
                .and_then(|chain| {
                    chain.extents().try_for_each(|e| {
                        checker.check(&e).map_err(WalkError::Extent)?;
                        visit(Visit::Extent(&e)).map_err(WalkError::Caller)
                    })
                });
        })
        .map_err(WalkError::Caller)?;
        walked?;
    }
    checker.check_end(inode).map_err(WalkError::Extent)
}

// ---------------------------------------------------------------------------
// Writing a chain: the one planner for growing and shrinking it
// ---------------------------------------------------------------------------

/// How a file's extent chain changes when its extent list is rewritten: the
/// chain blocks it has are kept in place and in order, as many as the new
/// list needs; the rest are freed, or new ones are added at the end.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ChainPlan {
    have: usize,
    need: usize,
}

impl ChainPlan {
    /// The plan for a chain of `have` blocks and a new list of `extents`
    /// extents (at most `u32::MAX`: `extent_count` is a `u32`).
    pub fn new(have: usize, extents: usize) -> Result<Self, RecordError> {
        let count = u32::try_from(extents).map_err(|_| RecordError::BadExtentCount)?;
        let need = usize::try_from(chain_blocks_needed(count.into()))
            .map_err(|_| RecordError::BadExtentCount)?;
        Ok(Self { have, need })
    }

    /// Chain blocks the new list needs.
    pub fn needed(&self) -> usize {
        self.need
    }

    /// Blocks to add at the end of the chain.
    pub fn grow(&self) -> usize {
        self.need.saturating_sub(self.have)
    }

    /// Blocks to free from the end of the chain.
    pub fn shrink(&self) -> usize {
        self.have.saturating_sub(self.need)
    }

    /// The blocks of `chain` (the chain as it was) that stay.
    pub fn kept<'a>(&self, chain: &'a [u64]) -> &'a [u64] {
        chain.get(..self.need.min(chain.len())).unwrap_or(&[])
    }

    /// The blocks of `chain` (the chain as it was) to free.
    pub fn freed<'a>(&self, chain: &'a [u64]) -> &'a [u64] {
        chain.get(self.need.min(chain.len())..).unwrap_or(&[])
    }
}

/// The chain blocks to write for a file whose extents are `extents`, over
/// the chain `chain` ([`ChainPlan::needed`] blocks, in order): an iterator
/// of [`ChainPiece`]s.
#[derive(Clone, Debug)]
pub struct ChainLayout<'a> {
    chunks: core::slice::Chunks<'a, Extent>,
    chain: &'a [u64],
    index: usize,
}

impl<'a> ChainLayout<'a> {
    /// The layout of `extents` over `chain`, which must have exactly the
    /// blocks the list needs, all inside the data area of `geo` (a write
    /// verifier: a bad chain is never written).
    pub fn new(
        geo: &Geometry,
        extents: &'a [Extent],
        chain: &'a [u64],
    ) -> Result<Self, RecordError> {
        let plan = ChainPlan::new(chain.len(), extents.len())?;
        if plan.needed() != chain.len() {
            return Err(RecordError::BadExtentCount);
        }
        if chain.iter().any(|&b| !geo.in_data(b, 1)) {
            return Err(RecordError::ChainBlockOutsideData);
        }
        Ok(Self {
            chunks: chain_chunks(extents),
            chain,
            index: 0,
        })
    }

    /// The first chain block, the inode's `extent_chain` (0 for none).
    pub fn head(&self) -> u64 {
        self.chain.first().copied().unwrap_or(0)
    }
}

/// One chain block to write: where, and what it holds.
#[derive(Clone, Copy, Debug)]
pub struct ChainPiece<'a> {
    /// The block number.
    pub block: u64,
    /// The next chain block, 0 for the last.
    pub next: u64,
    /// The extents it holds, 1..=254.
    pub extents: &'a [Extent],
}

impl ChainPiece<'_> {
    /// Encodes the block into `out`.
    pub fn encode(&self, out: &mut Block) -> Result<(), RecordError> {
        encode_chain_block(out, self.next, self.extents)
    }
}

impl<'a> Iterator for ChainLayout<'a> {
    type Item = ChainPiece<'a>;

    fn next(&mut self) -> Option<ChainPiece<'a>> {
        let extents = self.chunks.next()?;
        let block = *self.chain.get(self.index)?;
        self.index = self.index.checked_add(1)?;
        let next = self.chain.get(self.index).copied().unwrap_or(0);
        Some(ChainPiece {
            block,
            next,
            extents,
        })
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::shared::format::BLOCK_SIZE;

    #[test]
    fn layout_constants() {
        assert_eq!(CH_EXTENTS + CHAIN_EXTENTS * EXTENT_SIZE, 4080);
    }

    fn ext(logical: u32, len: u32, physical: u64) -> Extent {
        Extent {
            logical,
            len,
            physical,
            unwritten: false,
        }
    }

    #[test]
    fn chain_blocks() {
        let mut extents = [Extent::default(); 300];
        for (i, e) in extents.iter_mut().enumerate() {
            *e = ext(2 * i as u32, 1, 100 + i as u64);
            // Chain blocks keep the flag as inline extents do.
            e.unwritten = i % 3 == 0;
        }
        assert_eq!(chain_blocks_needed(8), 0);
        assert_eq!(chain_blocks_needed(9), 1);
        assert_eq!(chain_blocks_needed(8 + 254), 1);
        assert_eq!(chain_blocks_needed(8 + 255), 2);
        let chunks: [usize; 2] = {
            let mut c = chain_chunks(&extents);
            [c.next().unwrap().len(), c.next().unwrap().len()]
        };
        assert_eq!(chunks, [254, 38]);

        let mut b = [0u8; BLOCK_SIZE];
        encode_chain_block(&mut b, 77, &extents[8..262]).unwrap();
        let c = ChainBlock::decode(&b).unwrap();
        assert_eq!((c.count, c.next), (254, 77));
        assert!(c.extents().eq(extents[8..262].iter().copied()));
        assert_eq!(
            encode_chain_block(&mut b, 0, &[]),
            Err(RecordError::BadChainCount)
        );
        assert_eq!(
            encode_chain_block(&mut b, 0, &extents[..255]),
            Err(RecordError::BadChainCount)
        );

        encode_chain_block(&mut b, 0, &extents[..3]).unwrap();
        let mut bad = b;
        bad[0] ^= 1;
        assert_eq!(
            ChainBlock::decode(&bad).err(),
            Some(RecordError::BadChainMagic)
        );
        let mut bad = b;
        bad[3000] = 1;
        assert_eq!(
            ChainBlock::decode(&bad).err(),
            Some(RecordError::BadChecksum)
        );
        set_csum(&mut bad, BLOCK_CSUM_OFFSET);
        assert_eq!(
            ChainBlock::decode(&bad).err(),
            Some(RecordError::ReservedNotZero)
        );
        let mut bad = b;
        put(&mut bad, CH_COUNT, 255u32.to_le_bytes());
        set_csum(&mut bad, BLOCK_CSUM_OFFSET);
        assert_eq!(
            ChainBlock::decode(&bad).err(),
            Some(RecordError::BadChainCount)
        );
    }
}
