// SPDX-License-Identifier: GPL-2.0

//! Who uses which block: a bitmap of claimed blocks, filled while every
//! structure is walked, so that two structures claiming one block (two files
//! sharing data, an extent over metadata or over an extent chain block, a
//! chain that loops back on itself) are found before anything is written
//! through them. Per-structure verifiers cannot see such conflicts; the
//! kernel builds this map at mount, fsck while it checks.
//!
//! The words are the caller's (a `KVVec` in the kernel, a `Vec` on the
//! host): this module does not allocate.
// Decoders meet bytes from disk: no arithmetic that can wrap, no indexing
// that can panic, no unwrap (issue 9); the exceptions say why in place.
#![warn(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

/// Blocks a word covers.
const BITS: u64 = u64::BITS as u64;

/// Words needed for a map of `blocks` blocks.
pub fn words_for(blocks: u64) -> u64 {
    blocks.div_ceil(BITS)
}

/// Why a claim was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClaimError {
    /// The range runs past the end of the map (or is empty).
    OutOfRange,
    /// `block` was claimed before.
    AlreadyClaimed {
        /// The first block of the range that was already claimed.
        block: u64,
    },
}

/// A claim bitmap over blocks `0..blocks`.
pub struct ClaimMap<'a> {
    words: &'a mut [u64],
    blocks: u64,
}

impl<'a> ClaimMap<'a> {
    /// A map of `blocks` blocks, all unclaimed, over `words` (at least
    /// [`words_for`]`(blocks)` of them; `None` if there are fewer).
    pub fn new(words: &'a mut [u64], blocks: u64) -> Option<Self> {
        let needed = usize::try_from(words_for(blocks)).ok()?;
        let words = words.get_mut(..needed)?;
        words.fill(0);
        Some(Self { words, blocks })
    }

    /// Whether `block` is claimed (blocks past the end are not).
    pub fn is_claimed(&self, block: u64) -> bool {
        let Ok(index) = usize::try_from(block / BITS) else {
            return false;
        };
        block < self.blocks
            && self
                .words
                .get(index)
                .is_some_and(|w| w & (1 << (block % BITS)) != 0)
    }

    /// Claims `[start, start + len)`. Either every block of the range was
    /// unclaimed and all are now claimed, or nothing changes.
    pub fn claim(&mut self, start: u64, len: u64) -> Result<(), ClaimError> {
        let end = start
            .checked_add(len)
            .filter(|&end| len > 0 && end <= self.blocks)
            .ok_or(ClaimError::OutOfRange)?;
        if let Some(block) = self.first_claimed(start, end) {
            return Err(ClaimError::AlreadyClaimed { block });
        }
        self.for_words(start, end, |word, mask| *word |= mask);
        Ok(())
    }

    /// The first claimed block in `[start, end)` (which is inside the map).
    fn first_claimed(&mut self, start: u64, end: u64) -> Option<u64> {
        let mut found = None;
        // Block numbers are below `blocks`, so these sums cannot wrap.
        let mut base = start.saturating_sub(start.rem_euclid(BITS));
        self.for_words(start, end, |word, mask| {
            if found.is_none() && *word & mask != 0 {
                found = Some(base.saturating_add(u64::from((*word & mask).trailing_zeros())));
            }
            base = base.saturating_add(BITS);
        });
        found
    }

    /// Calls `f(word, mask)` for each word of `[start, end)` in order, with
    /// the mask of the range's bits in it. `start < end <= blocks`.
    fn for_words(&mut self, start: u64, end: u64, mut f: impl FnMut(&mut u64, u64)) {
        let mut block = start;
        while block < end {
            let bit = block.rem_euclid(BITS);
            // 1..=64 bits of this word, from `bit` on.
            let n = BITS.saturating_sub(bit).min(end.saturating_sub(block));
            let mask = u64::MAX
                .checked_shr(BITS.saturating_sub(n) as u32)
                .unwrap_or(0)
                .checked_shl(bit as u32)
                .unwrap_or(0);
            // In range: `block < blocks`, and `new` checked the length.
            if let Some(word) = usize::try_from(block.div_euclid(BITS))
                .ok()
                .and_then(|i| self.words.get_mut(i))
            {
                f(word, mask);
            }
            block = block.saturating_add(n.max(1));
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;

    #[test]
    fn claims_and_conflicts() {
        let mut words = vec![0u64; 4];
        let mut map = ClaimMap::new(&mut words, 200).unwrap();
        assert_eq!(map.claim(0, 0), Err(ClaimError::OutOfRange));
        assert_eq!(map.claim(190, 11), Err(ClaimError::OutOfRange));
        assert_eq!(map.claim(u64::MAX, 2), Err(ClaimError::OutOfRange));
        map.claim(60, 70).unwrap();
        assert!(map.is_claimed(60) && map.is_claimed(129) && !map.is_claimed(130));
        assert!(!map.is_claimed(59) && !map.is_claimed(1 << 40));
        assert_eq!(
            map.claim(0, 61),
            Err(ClaimError::AlreadyClaimed { block: 60 })
        );
        // A refused claim changes nothing.
        assert!(!map.is_claimed(0));
        assert_eq!(
            map.claim(129, 1),
            Err(ClaimError::AlreadyClaimed { block: 129 })
        );
        map.claim(130, 70).unwrap();
        map.claim(0, 60).unwrap();
        assert!((0..200).all(|b| map.is_claimed(b)));
    }

    #[test]
    fn too_few_words() {
        let mut words = vec![0u64; 1];
        assert!(ClaimMap::new(&mut words, 65).is_none());
        assert!(ClaimMap::new(&mut words, 64).is_some());
    }
}
