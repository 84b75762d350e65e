// SPDX-License-Identifier: GPL-2.0

//! The free-space bitmap, blocks `[bitmap_start, bitmap_start +
//! bitmap_blocks)`.
//!
//! Bit `i` (byte `i / 8`, bit `i % 8`, least significant first) of the
//! bitmap is set when block `i` is in use. Blocks `0..data_start` (the
//! metadata) are always set, and so are the bits past `total_blocks` in the
//! last bitmap block, so a scan for zero bits never finds a block that does
//! not exist. Extent chain blocks are data blocks and are set too.

use super::{Block, Geometry, BLOCK_SIZE};

/// Bits in one bitmap block: the blocks it describes.
pub const BITS_PER_BITMAP_BLOCK: u64 = (BLOCK_SIZE * 8) as u64;

impl Geometry {
    /// The contents of bitmap block `index` (0-based within the bitmap) of
    /// a filesystem where only the metadata is in use: bits below
    /// `data_start` and at or past `total_blocks` set, the others clear.
    pub fn initial_bitmap_block(&self, index: u64, out: &mut Block) {
        out.fill(0);
        let first = index.saturating_mul(BITS_PER_BITMAP_BLOCK);
        for bit in 0..BITS_PER_BITMAP_BLOCK as usize {
            let block = first.saturating_add(bit as u64);
            if block < self.data_start || block >= self.total_blocks {
                bitmap_set(out, bit, true);
            }
        }
    }
}

/// Whether bit `bit` of a bitmap block is set (the block is in use).
pub fn bitmap_test(bitmap: &Block, bit: usize) -> bool {
    bitmap
        .get(bit / 8)
        .is_some_and(|byte| byte & (1 << (bit % 8)) != 0)
}

/// Sets or clears bit `bit` of a bitmap block.
pub fn bitmap_set(bitmap: &mut Block, bit: usize, used: bool) {
    if let Some(byte) = bitmap.get_mut(bit / 8) {
        if used {
            *byte |= 1 << (bit % 8);
        } else {
            *byte &= !(1 << (bit % 8));
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn initial_bitmap() {
        let g = Geometry::new(100, 16).unwrap();
        let mut b = [0u8; BLOCK_SIZE];
        g.initial_bitmap_block(0, &mut b);
        for block in 0..BITS_PER_BITMAP_BLOCK as usize {
            let used = (block as u64) < g.data_start || block >= 100;
            assert_eq!(bitmap_test(&b, block), used, "{block}");
        }
    }
}
