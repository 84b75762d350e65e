// SPDX-License-Identifier: GPL-2.0

//! The allocators of a mounted filesystem: free space (in memory, written
//! through to the on-disk bitmap) and inode numbers.

use kernel::prelude::*;

use super::rbmap::RbMap;
use crate::shared::format::{Geometry, BLOCK_SIZE};
use crate::shared::space::{FreeSpace, SpaceError};
use crate::vfs::buffer::Buffer;
use crate::vfs::error::euclean;

/// Blocks kept back for extent chain blocks, which inode writeback allocates
/// and cannot report `ENOSPC` for.
pub(super) fn metadata_reserve(geo: &Geometry) -> u64 {
    (geo.total_blocks / 100).clamp(16, 1024)
}

/// Free space: the in-memory free extents, delalloc reservations and the
/// on-disk bitmap they are written through to.
pub(crate) struct Space {
    free: FreeSpace<RbMap<u64>>,
    bitmap: KVec<Buffer>,
    geo: Geometry,
    /// Of `free.reserved()`, the blocks held back for extent chains.
    metadata_reserved: u64,
}

fn space_error(e: SpaceError) -> Error {
    match e {
        SpaceError::NoMemory => ENOMEM,
        SpaceError::NoSpace => ENOSPC,
        // Freeing what is free, or blocks outside the device: the
        // filesystem's metadata disagrees with itself.
        SpaceError::Overlap | SpaceError::BadRange => euclean(),
    }
}

impl Space {
    /// Free space as loaded at mount, `metadata_reserved` blocks of it
    /// already reserved for extent chains.
    pub(super) fn new(
        free: FreeSpace<RbMap<u64>>,
        bitmap: KVec<Buffer>,
        geo: Geometry,
        metadata_reserved: u64,
    ) -> Self {
        Self {
            free,
            bitmap,
            geo,
            metadata_reserved,
        }
    }

    /// Free blocks, and of them those reserved.
    pub(super) fn usage(&self) -> (u64, u64) {
        (self.free.free_blocks(), self.free.reserved())
    }

    /// Sets or clears the bitmap bits of `[start, start + len)`.
    fn mark(&mut self, start: u64, len: u64, used: bool) {
        let bits_per_block = (BLOCK_SIZE * 8) as u64;
        let first = start / bits_per_block;
        let last = (start + len - 1) / bits_per_block;
        for i in first..=last {
            let mut buf = self.bitmap[i as usize].lock();
            let base = i * bits_per_block;
            let bytes = buf.data_mut();
            for block in start.max(base)..(start + len).min(base + bits_per_block) {
                let bit = (block - base) as usize;
                let byte = &mut bytes[bit / 8];
                if used {
                    *byte |= 1 << (bit % 8);
                } else {
                    *byte &= !(1 << (bit % 8));
                }
            }
            buf.mark_dirty();
        }
    }

    /// Reserves up to `want` blocks for delayed allocation; returns how many.
    pub(crate) fn reserve_up_to(&mut self, want: u64) -> Result<u64> {
        let n = want.min(self.free.available());
        if n == 0 {
            return Err(ENOSPC);
        }
        self.free.reserve(n).map_err(|_| ENOSPC)?;
        Ok(n)
    }

    pub(crate) fn unreserve(&mut self, n: u64) {
        self.free.unreserve(n);
    }

    /// Allocates up to `want` blocks near `goal` for reserved delalloc
    /// blocks; consumes as many reservations as blocks it returns.
    pub(crate) fn alloc_reserved(&mut self, want: u64, goal: u64) -> Result<(u64, u64)> {
        let (start, len) = self.free.alloc_reserved(want, goal).map_err(space_error)?;
        self.mark(start, len, true);
        Ok((start, len))
    }

    /// Allocates up to `want` blocks that were not reserved (direct I/O,
    /// directory blocks).
    pub(crate) fn alloc(&mut self, want: u64, goal: u64) -> Result<(u64, u64)> {
        let n = self.reserve_up_to(want)?;
        match self.alloc_reserved(n, goal) {
            Ok((start, len)) => {
                self.free.unreserve(n - len);
                Ok((start, len))
            }
            Err(e) => {
                self.free.unreserve(n);
                Err(e)
            }
        }
    }

    /// Allocates one block for an extent chain: from the metadata reserve,
    /// which is refilled while there is room, so inode writeback does not
    /// fail on a full filesystem until the reserve is gone too. Never takes
    /// a delalloc reservation.
    pub(crate) fn alloc_metadata(&mut self, goal: u64) -> Result<u64> {
        if self.metadata_reserved == 0 {
            return Ok(self.alloc(1, goal)?.0);
        }
        let (start, _) = self.alloc_reserved(1, goal)?;
        self.metadata_reserved -= 1;
        if self.free.reserve(1).is_ok() {
            self.metadata_reserved += 1;
        }
        Ok(start)
    }

    pub(crate) fn free(&mut self, start: u64, len: u64) -> Result {
        if start < self.geo.data_start || start + len > self.geo.total_blocks {
            return Err(euclean());
        }
        self.free.free(start, len).map_err(space_error)?;
        self.mark(start, len, false);
        Ok(())
    }
}

/// Inode numbers in use.
pub(crate) struct InodeNumbers {
    used: KVec<u64>,
    pub(super) free: u64,
}

impl InodeNumbers {
    /// `used` has a bit set for each number in use (or not to hand out);
    /// `free` numbers are free.
    pub(super) fn new(used: KVec<u64>, free: u64) -> Self {
        Self { used, free }
    }

    pub(crate) fn alloc(&mut self) -> Result<u64> {
        for (i, word) in self.used.iter_mut().enumerate() {
            if *word != u64::MAX {
                let bit = (!*word).trailing_zeros() as u64;
                *word |= 1 << bit;
                self.free -= 1;
                return Ok(i as u64 * 64 + bit);
            }
        }
        Err(ENOSPC)
    }

    pub(crate) fn release(&mut self, ino: u64) {
        let word = &mut self.used[(ino / 64) as usize];
        if *word & (1 << (ino % 64)) != 0 {
            *word &= !(1 << (ino % 64));
            self.free += 1;
        }
    }
}
