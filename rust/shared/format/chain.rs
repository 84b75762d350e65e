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
use super::{Block, Extent, RecordError, BLOCK_CSUM_OFFSET, EXTENT_SIZE, INLINE_EXTENTS};

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
        }
    }

    #[test]
    fn chain_blocks() {
        let mut extents = [Extent::default(); 300];
        for (i, e) in extents.iter_mut().enumerate() {
            *e = ext(2 * i as u32, 1, 100 + i as u64);
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
