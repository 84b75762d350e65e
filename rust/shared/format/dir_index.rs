// SPDX-License-Identifier: GPL-2.0

//! The directory index ([`super::INCOMPAT_DIR_INDEX`]): a hash table from
//! names to entry slots, kept in the directory's own extent map past its
//! size, and the one implementation of its algorithms ([`DirIndex`]) that
//! the kernel, fsck and the host tests share.
//!
//! # Where it lives
//!
//! Entry blocks are unchanged ([`super::dir`]): logical blocks
//! `0..size / 4096`, slot `s` is entry `s % 15` of block `s / 15`, and a
//! slot never moves. The readdir position is the slot number, so cookies
//! are stable and the index never affects readdir. A directory that grows
//! past its first entry block gets an index at logical blocks
//! [`DIR_INDEX_BASE`]`..`[`DIR_INDEX_BASE`]` + `[`DIR_INDEX_BLOCKS`], past
//! its size (the size still counts entry blocks only). The offsets below are
//! relative to [`DIR_INDEX_BASE`]:
//!
//! | offset | what |
//! |---:|---|
//! | 0 | header block |
//! | 1 .. 1 + 2^11 | table region 0 |
//! | 1 + 2^11 .. 1 + 2^12 | table region 1 |
//!
//! A table of `2^table_log` blocks occupies the first `2^table_log` blocks of
//! the live region; the other region is unmapped except while the table
//! grows.
//!
//! # Header block (offset 0)
//!
//! | offset | type | field |
//! |---:|---|---|
//! | 0 | u32 | magic `b"DLIX"` ([`INDEX_MAGIC`]) |
//! | 4 | u32 | version, 1 |
//! | 8 | u32 | hash seed ([`name_hash`]) |
//! | 12 | u8 | table_log: the table has `2^table_log` blocks, `0..=11` |
//! | 13 | u8 | live region, 0 or 1 |
//! | 14 | u16 | reserved, 0 |
//! | 16 | u32 | records: used records in the table, at most half its slots |
//! | 20 | u32 | entry_blocks: entry blocks covered, = directory size / 4096 |
//! | 24 | [u8; 8] | reserved, 0 |
//! | 32 | [u8; 4060] | free-slot bitmap: bit `k` (byte `k / 8`, bit `k % 8`) set when entry block `k` may have a free slot; bits `>= entry_blocks` zero |
//! | 4092 | u32 | crc32c of bytes 0..4092 |
//!
//! The bitmap is a hint: a set bit whose block is full is cleared when
//! create finds it so; a clear bit over a free slot only wastes that slot
//! until fsck rebuilds the index.
//!
//! # Table blocks
//!
//! | offset | type | field |
//! |---:|---|---|
//! | 0 | u32 | magic `b"DLIT"` ([`TABLE_MAGIC`]) |
//! | 4 | u32 | its own offset from [`DIR_INDEX_BASE`] (catches a misplaced block) |
//! | 8 | 510 × (u32, u32) | records: name hash, slot + 1; slot + 1 = 0 is empty (then hash 0) |
//! | 4088 | u32 | 0 |
//! | 4092 | u32 | crc32c of bytes 0..4092 |
//!
//! The table is one array of `510 << table_log` records over its blocks;
//! record `i` is in block `i / 510` at position `i % 510`. A name's home is
//! `(hash * slots) >> 32`; collisions probe linearly (wrapping at the end of
//! the table); deletion shifts the following records back (no tombstones).
//! When an insert would load the table above one half, the table is
//! rebuilt record by record into the other region at twice the size and
//! the old blocks are freed: amortized O(1) per insert.
//!
//! # Trust
//!
//! The name in the entry block is authoritative. A lookup compares it for
//! every record of the right hash; a record pointing at a free slot or a
//! different name is skipped. A slot at or past `entry_blocks * 15` is
//! corruption ([`IndexError::SlotOutOfRange`]) and is never followed. Every
//! block is checked (magic, offset, zeros, CRC) when an operation first
//! touches it, probing is bounded by the table size, and the header's
//! fields are range-checked ([`IndexHeader::decode`]).
//!
//! # Limits
//!
//! [`MAX_ENTRY_BLOCKS`] (32480) entry blocks, 487200 entries, in an indexed
//! directory: the bitmap has no room for more; beyond it create is
//! [`IndexError::DirectoryFull`] (ENOSPC). A linear directory (an image made
//! without the feature) larger than that is never indexed.
//!
//! # Public API (kept stable for fsck and the fuzzer)
//!
//! - constants: [`DIR_INDEX_BASE`], [`DIR_INDEX_BLOCKS`], [`REGION_BLOCKS`],
//!   [`MAX_TABLE_LOG`], [`RECORDS_PER_TABLE_BLOCK`], [`MAX_ENTRY_BLOCKS`],
//!   [`INDEX_MAGIC`], [`TABLE_MAGIC`], [`INDEX_VERSION`];
//! - [`name_hash`], [`is_index_block`], [`table_block_offset`];
//! - [`IndexHeader`] (`decode`, `encode`), [`index_bitmap_test`],
//!   [`index_bitmap_set`], [`index_bitmap_first_set`];
//! - table blocks: [`init_table_block`], [`check_table_block`],
//!   [`table_record`], [`set_table_record`], [`Record`];
//! - [`IndexStore`], the blocks of one directory's index, which the caller
//!   implements (kernel: buffer cache and allocator; host: an image or
//!   memory), and [`DirIndex`] over it: `create`, `open`, `lookup`,
//!   `insert`, `remove`, `for_each_record`, the free-slot bitmap
//!   (`first_free_block`, `set_block_free`, `add_entry_block`) and
//!   `finish`, which must end every operation that changed something.
//! - [`IndexError`].

use super::bytes::{csum_ok, get_u32, get_u8, put, record_at, set_csum, zero_span};
use super::{Block, BLOCK_CSUM_OFFSET, DIRENTS_PER_BLOCK};

/// The first logical block of a directory's index: far past any
/// directory size (an indexed directory has at most [`MAX_ENTRY_BLOCKS`]
/// entry blocks).
pub const DIR_INDEX_BASE: u64 = 1 << 31;
/// Largest table, log2 of its blocks.
pub const MAX_TABLE_LOG: u8 = 11;
/// Blocks of one table region.
pub const REGION_BLOCKS: u32 = 1 << MAX_TABLE_LOG;
/// Logical blocks the index may use from [`DIR_INDEX_BASE`]: the header and
/// two regions.
pub const DIR_INDEX_BLOCKS: u64 = 1 + 2 * REGION_BLOCKS as u64;
/// Header magic, `b"DLIX"` little-endian.
pub const INDEX_MAGIC: u32 = u32::from_le_bytes(*b"DLIX");
/// Table block magic, `b"DLIT"` little-endian.
pub const TABLE_MAGIC: u32 = u32::from_le_bytes(*b"DLIT");
/// Header version.
pub const INDEX_VERSION: u32 = 1;
/// Records in one table block.
pub const RECORDS_PER_TABLE_BLOCK: usize = 510;
/// Where the bitmap starts in the header block.
const H_BITMAP: usize = 32;
/// Entry blocks an indexed directory may have: the header's bitmap bits.
pub const MAX_ENTRY_BLOCKS: u32 = ((BLOCK_CSUM_OFFSET - H_BITMAP) * 8) as u32;

const H_MAGIC: usize = 0;
const H_VERSION: usize = 4;
const H_SEED: usize = 8;
const H_LOG: usize = 12;
const H_LIVE: usize = 13;
const H_RESERVED: usize = 14;
const H_RECORDS: usize = 16;
const H_ENTRY_BLOCKS: usize = 20;

const T_MAGIC: usize = 0;
const T_SELF: usize = 4;
const T_RECORDS: usize = 8;
const T_RECORDS_END: usize = T_RECORDS + RECORDS_PER_TABLE_BLOCK * 8;

/// Why an index is refused, or an operation on it impossible.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IndexError {
    /// A header or table block without its magic.
    BadMagic,
    /// A header version this code does not know.
    BadVersion,
    /// A header or table block checksum mismatch.
    BadChecksum,
    /// A header field out of range, or reserved bytes not zero.
    BadHeader,
    /// A table block that names another offset, or bad bytes in it.
    BadTableBlock,
    /// A record's slot at or past the directory's entries.
    SlotOutOfRange,
    /// Probing met no empty record: the table is fuller than its header
    /// says.
    TableOverfull,
    /// The header covers a different number of entry blocks than the
    /// directory has.
    SizeMismatch,
    /// No more entry blocks can be indexed (ENOSPC, not corruption).
    DirectoryFull,
}

impl IndexError {
    /// A one-line description, for kernel messages and fsck.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::BadMagic => "directory index block has a bad magic",
            Self::BadVersion => "directory index has an unknown version",
            Self::BadChecksum => "directory index block checksum mismatch",
            Self::BadHeader => "directory index header field out of range",
            Self::BadTableBlock => "directory index table block is inconsistent",
            Self::SlotOutOfRange => "directory index record points past the entries",
            Self::TableOverfull => "directory index table has no empty record",
            Self::SizeMismatch => "directory index covers a different directory size",
            Self::DirectoryFull => "directory is full (index limit)",
        }
    }

    /// Whether this is damage on disk (`EUCLEAN`) rather than a limit.
    pub fn is_corruption(&self) -> bool {
        !matches!(self, Self::DirectoryFull)
    }
}

impl core::fmt::Display for IndexError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.describe())
    }
}

/// The seeded 32-bit hash of a name: FNV-1a from a seeded basis, then the
/// murmur3 finalizer so that the high bits (which pick the home record) mix
/// every byte.
pub fn name_hash(seed: u32, name: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5 ^ seed;
    for &b in name {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

/// Whether logical block `logical` of a directory belongs to the index.
pub fn is_index_block(logical: u64) -> bool {
    logical
        .checked_sub(DIR_INDEX_BASE)
        .is_some_and(|o| o < DIR_INDEX_BLOCKS)
}

/// The offset from [`DIR_INDEX_BASE`] of block `n` of table region
/// `region`; `None` out of range.
pub fn table_block_offset(region: u8, n: u32) -> Option<u32> {
    if region > 1 || n >= REGION_BLOCKS {
        return None;
    }
    // At most 1 + 2^11 + 2^11 - 1.
    Some(
        u32::from(region)
            .saturating_mul(REGION_BLOCKS)
            .saturating_add(n)
            .saturating_add(1),
    )
}

/// The header's fields (the bitmap stays in the block).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IndexHeader {
    /// The seed of [`name_hash`].
    pub seed: u32,
    /// The table has `2^table_log` blocks.
    pub table_log: u8,
    /// The region holding the table, 0 or 1.
    pub live: u8,
    /// Used records.
    pub records: u32,
    /// Entry blocks covered.
    pub entry_blocks: u32,
}

impl IndexHeader {
    /// Record slots of the table.
    pub fn slots(&self) -> u32 {
        (RECORDS_PER_TABLE_BLOCK as u32) << self.table_log.min(MAX_TABLE_LOG)
    }

    /// Entry slots covered: a record's slot must be below.
    pub fn entry_slots(&self) -> u32 {
        self.entry_blocks
            .min(MAX_ENTRY_BLOCKS)
            .saturating_mul(DIRENTS_PER_BLOCK as u32)
    }

    /// Decodes and checks a header block: magic, version, checksum, field
    /// ranges (table_log, live, records at most half the slots,
    /// entry_blocks), reserved bytes and bitmap bits past entry_blocks zero.
    pub fn decode(block: &Block) -> Result<Self, IndexError> {
        if get_u32(block, H_MAGIC) != INDEX_MAGIC {
            return Err(IndexError::BadMagic);
        }
        if get_u32(block, H_VERSION) != INDEX_VERSION {
            return Err(IndexError::BadVersion);
        }
        if !csum_ok(block, BLOCK_CSUM_OFFSET) {
            return Err(IndexError::BadChecksum);
        }
        let h = Self {
            seed: get_u32(block, H_SEED),
            table_log: get_u8(block, H_LOG),
            live: get_u8(block, H_LIVE),
            records: get_u32(block, H_RECORDS),
            entry_blocks: get_u32(block, H_ENTRY_BLOCKS),
        };
        if h.table_log > MAX_TABLE_LOG
            || h.live > 1
            || h.entry_blocks > MAX_ENTRY_BLOCKS
            || h.records > h.slots() / 2
            || h.records > h.entry_slots()
            || !zero_span(block, H_RESERVED, H_RESERVED + 2)
            || !zero_span(block, H_ENTRY_BLOCKS + 4, H_BITMAP)
        {
            return Err(IndexError::BadHeader);
        }
        // Bits past entry_blocks: the rest of their byte, then whole bytes.
        let eb = h.entry_blocks as usize;
        let byte = H_BITMAP.saturating_add(eb / 8);
        if eb % 8 != 0 && get_u8(block, byte) >> (eb % 8) != 0 {
            return Err(IndexError::BadHeader);
        }
        let first_zero = H_BITMAP.saturating_add(eb.div_ceil(8));
        if !zero_span(block, first_zero, BLOCK_CSUM_OFFSET) {
            return Err(IndexError::BadHeader);
        }
        Ok(h)
    }

    /// Writes the fields and the checksum into a header block, keeping its
    /// bitmap.
    pub fn encode(&self, block: &mut Block) {
        put(block, H_MAGIC, INDEX_MAGIC.to_le_bytes());
        put(block, H_VERSION, INDEX_VERSION.to_le_bytes());
        put(block, H_SEED, self.seed.to_le_bytes());
        put(block, H_LOG, [self.table_log]);
        put(block, H_LIVE, [self.live]);
        put(block, H_RESERVED, [0u8; 2]);
        put(block, H_RECORDS, self.records.to_le_bytes());
        put(block, H_ENTRY_BLOCKS, self.entry_blocks.to_le_bytes());
        put(block, H_ENTRY_BLOCKS + 4, [0u8; 8]);
        set_csum(block, BLOCK_CSUM_OFFSET);
    }
}

/// Whether the header's bitmap says entry block `k` may have a free slot.
pub fn index_bitmap_test(header: &Block, k: u32) -> bool {
    k < MAX_ENTRY_BLOCKS
        && get_u8(header, H_BITMAP.saturating_add(k as usize / 8)) & (1 << (k % 8)) != 0
}

/// Sets or clears bit `k` of the header's bitmap (the checksum is not
/// updated: [`IndexHeader::encode`] does).
pub fn index_bitmap_set(header: &mut Block, k: u32, free: bool) {
    if k >= MAX_ENTRY_BLOCKS {
        return;
    }
    if let Some(byte) = header.get_mut(H_BITMAP.saturating_add(k as usize / 8)) {
        if free {
            *byte |= 1 << (k % 8);
        } else {
            *byte &= !(1 << (k % 8));
        }
    }
}

/// The first entry block below `entry_blocks` whose bit is set.
pub fn index_bitmap_first_set(header: &Block, entry_blocks: u32) -> Option<u32> {
    let n = entry_blocks.min(MAX_ENTRY_BLOCKS) as usize;
    let bytes = header.get(H_BITMAP..H_BITMAP.saturating_add(n.div_ceil(8)))?;
    let (i, &b) = bytes.iter().enumerate().find(|(_, &b)| b != 0)?;
    let k = i
        .saturating_mul(8)
        .saturating_add(b.trailing_zeros() as usize);
    (k < n).then_some(k as u32)
}

/// A used table record.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Record {
    /// [`name_hash`] of the entry's name.
    pub hash: u32,
    /// The entry's slot.
    pub slot: u32,
}

/// An empty table block for offset `at`, with its checksum.
pub fn init_table_block(block: &mut Block, at: u32) {
    block.fill(0);
    put(block, T_MAGIC, TABLE_MAGIC.to_le_bytes());
    put(block, T_SELF, at.to_le_bytes());
    set_csum(block, BLOCK_CSUM_OFFSET);
}

/// Checks a table block found at offset `at`: magic, offset, checksum,
/// empty records zero, tail zero.
pub fn check_table_block(block: &Block, at: u32) -> Result<(), IndexError> {
    if get_u32(block, T_MAGIC) != TABLE_MAGIC {
        return Err(IndexError::BadMagic);
    }
    if !csum_ok(block, BLOCK_CSUM_OFFSET) {
        return Err(IndexError::BadChecksum);
    }
    if get_u32(block, T_SELF) != at || !zero_span(block, T_RECORDS_END, BLOCK_CSUM_OFFSET) {
        return Err(IndexError::BadTableBlock);
    }
    for i in 0..RECORDS_PER_TABLE_BLOCK {
        let off = record_at(T_RECORDS, i, 8);
        if get_u32(block, off.saturating_add(4)) == 0 && get_u32(block, off) != 0 {
            return Err(IndexError::BadTableBlock);
        }
    }
    Ok(())
}

/// Record `i` (`0..510`) of a table block; `None` if empty (or `i` out of
/// range).
pub fn table_record(block: &Block, i: usize) -> Option<Record> {
    if i >= RECORDS_PER_TABLE_BLOCK {
        return None;
    }
    let off = record_at(T_RECORDS, i, 8);
    let plus_one = get_u32(block, off.saturating_add(4));
    (plus_one != 0).then(|| Record {
        hash: get_u32(block, off),
        slot: plus_one.saturating_sub(1),
    })
}

/// Writes record `i` of a table block (`None` empties it); the checksum is
/// not updated ([`DirIndex`] sets it once per block and operation).
pub fn set_table_record(block: &mut Block, i: usize, rec: Option<Record>) {
    if i >= RECORDS_PER_TABLE_BLOCK {
        return;
    }
    let off = record_at(T_RECORDS, i, 8);
    let (hash, plus_one) = match rec {
        Some(r) => (r.hash, r.slot.saturating_add(1)),
        None => (0, 0),
    };
    put(block, off, hash.to_le_bytes());
    put(block, off.saturating_add(4), plus_one.to_le_bytes());
}

/// The blocks of one directory's index, addressed by their offset from
/// [`DIR_INDEX_BASE`]. The kernel implements it over the buffer cache and
/// the allocator, the host over an image or memory.
pub trait IndexStore {
    /// The caller's error; index problems arrive as [`IndexError`].
    type Error: From<IndexError>;
    /// Runs `f` on the block at offset `at` (mapped: an unmapped block is
    /// the store's error).
    fn read<R>(&mut self, at: u32, f: impl FnOnce(&Block) -> R) -> Result<R, Self::Error>;
    /// Runs `f` on the block at offset `at` and marks it dirty.
    fn write<R>(&mut self, at: u32, f: impl FnOnce(&mut Block) -> R) -> Result<R, Self::Error>;
    /// Maps a new, zeroed block at offset `at`.
    fn alloc(&mut self, at: u32) -> Result<(), Self::Error>;
    /// Unmaps and frees the block at offset `at`.
    fn free(&mut self, at: u32) -> Result<(), Self::Error>;
}

/// A table block this operation touched: checked, and whether its
/// checksum is due.
#[derive(Clone, Copy)]
struct Touched {
    at: u32,
    dirty: bool,
}

/// One operation on a directory's index. Every block is checked the first
/// time the operation touches it (one block a region is remembered, so a
/// probe or a rebuild checks and checksums each block once); checksums of
/// changed blocks and the header are written by [`DirIndex::finish`],
/// which must end every operation that changed something, also after an
/// error.
pub struct DirIndex<'s, S: IndexStore> {
    store: &'s mut S,
    hdr: IndexHeader,
    hdr_dirty: bool,
    touched: [Option<Touched>; 2],
}

impl<'s, S: IndexStore> DirIndex<'s, S> {
    /// Builds an empty index (header and a one-block table in region 0)
    /// covering `entry_blocks` entry blocks, none marked free. The caller
    /// then inserts the existing entries and marks free blocks.
    pub fn create(store: &'s mut S, seed: u32, entry_blocks: u32) -> Result<Self, S::Error> {
        if entry_blocks > MAX_ENTRY_BLOCKS {
            return Err(IndexError::DirectoryFull.into());
        }
        let hdr = IndexHeader {
            seed,
            table_log: 0,
            live: 0,
            records: 0,
            entry_blocks,
        };
        store.alloc(0)?;
        store.write(0, |b| {
            b.fill(0);
            hdr.encode(b);
        })?;
        let at = table_block_offset(0, 0).ok_or(IndexError::BadHeader)?;
        store.alloc(at)?;
        store.write(at, |b| init_table_block(b, at))?;
        Ok(Self {
            store,
            hdr,
            hdr_dirty: false,
            touched: [None, None],
        })
    }

    /// Opens an existing index: reads and checks the header, and that it
    /// covers `entry_blocks` entry blocks.
    pub fn open(store: &'s mut S, entry_blocks: u64) -> Result<Self, S::Error> {
        let hdr = store.read(0, IndexHeader::decode)??;
        if u64::from(hdr.entry_blocks) != entry_blocks {
            return Err(IndexError::SizeMismatch.into());
        }
        Ok(Self {
            store,
            hdr,
            hdr_dirty: false,
            touched: [None, None],
        })
    }

    /// The header's fields as this operation has them.
    pub fn header(&self) -> &IndexHeader {
        &self.hdr
    }

    /// Writes the checksums of the blocks changed and the header.
    pub fn finish(mut self) -> Result<(), S::Error> {
        for r in 0..2 {
            self.flush(r)?;
        }
        if self.hdr_dirty {
            let hdr = self.hdr;
            self.store.write(0, |b| hdr.encode(b))?;
            self.hdr_dirty = false;
        }
        Ok(())
    }

    fn flush(&mut self, region: usize) -> Result<(), S::Error> {
        if let Some(Some(t)) = self.touched.get(region).copied() {
            if t.dirty {
                self.store.write(t.at, |b| set_csum(b, BLOCK_CSUM_OFFSET))?;
            }
        }
        if let Some(t) = self.touched.get_mut(region) {
            *t = None;
        }
        Ok(())
    }

    /// Makes `at` (of region `region`) the touched block of its region,
    /// checking it if it is new to the operation.
    fn touch(&mut self, region: u8, at: u32, dirty: bool) -> Result<(), S::Error> {
        let r = usize::from(region & 1);
        match self.touched.get(r).copied().flatten() {
            Some(t) if t.at == at => {
                if dirty {
                    if let Some(Some(t)) = self.touched.get_mut(r) {
                        t.dirty = true;
                    }
                }
                return Ok(());
            }
            _ => {}
        }
        self.flush(r)?;
        self.store.read(at, |b| check_table_block(b, at))??;
        if let Some(t) = self.touched.get_mut(r) {
            *t = Some(Touched { at, dirty });
        }
        Ok(())
    }

    /// Block offset and position of record `i` of the table of `log` in
    /// `region`.
    fn locate(region: u8, i: u32) -> Result<(u32, usize), IndexError> {
        const PER: u32 = RECORDS_PER_TABLE_BLOCK as u32;
        let at = table_block_offset(region, i / PER).ok_or(IndexError::BadHeader)?;
        Ok((at, (i % PER) as usize))
    }

    fn get(&mut self, region: u8, i: u32) -> Result<Option<Record>, S::Error> {
        let (at, pos) = Self::locate(region, i)?;
        self.touch(region, at, false)?;
        self.store.read(at, |b| table_record(b, pos))
    }

    fn set(&mut self, region: u8, i: u32, rec: Option<Record>) -> Result<(), S::Error> {
        let (at, pos) = Self::locate(region, i)?;
        self.touch(region, at, true)?;
        self.store.write(at, |b| set_table_record(b, pos, rec))
    }

    fn home(hash: u32, slots: u32) -> u32 {
        // Below `slots`: a 32-bit by 32-bit product fits 64 bits.
        (u64::from(hash).saturating_mul(u64::from(slots)) >> 32) as u32
    }

    fn next(i: u32, slots: u32) -> u32 {
        let n = i.saturating_add(1);
        if n >= slots {
            0
        } else {
            n
        }
    }

    fn checked_slot(&self, rec: Record) -> Result<u32, IndexError> {
        if rec.slot >= self.hdr.entry_slots() {
            return Err(IndexError::SlotOutOfRange);
        }
        Ok(rec.slot)
    }

    /// The slot of `name`: every record with its hash is offered to
    /// `matches` (which reads the entry and compares the name) until one
    /// matches.
    pub fn lookup(
        &mut self,
        name: &[u8],
        mut matches: impl FnMut(u32) -> Result<bool, S::Error>,
    ) -> Result<Option<u32>, S::Error> {
        let hash = name_hash(self.hdr.seed, name);
        let (live, slots) = (self.hdr.live, self.hdr.slots());
        let mut i = Self::home(hash, slots);
        for _ in 0..slots {
            let Some(rec) = self.get(live, i)? else {
                return Ok(None);
            };
            if rec.hash == hash {
                let slot = self.checked_slot(rec)?;
                if matches(slot)? {
                    return Ok(Some(slot));
                }
            }
            i = Self::next(i, slots);
        }
        Err(IndexError::TableOverfull.into())
    }

    /// Places `rec` in the table of `region` with `slots` records.
    fn place(&mut self, region: u8, slots: u32, rec: Record) -> Result<(), S::Error> {
        let mut i = Self::home(rec.hash, slots);
        for _ in 0..slots {
            if self.get(region, i)?.is_none() {
                return self.set(region, i, Some(rec));
            }
            i = Self::next(i, slots);
        }
        Err(IndexError::TableOverfull.into())
    }

    /// Adds a record for `name` at `slot` (the caller checked that the
    /// name is not there), growing the table first if it would be more
    /// than half full.
    pub fn insert(&mut self, name: &[u8], slot: u32) -> Result<(), S::Error> {
        let rec = Record {
            hash: name_hash(self.hdr.seed, name),
            slot,
        };
        self.checked_slot(rec)?;
        let records = self.hdr.records.saturating_add(1);
        if u64::from(records) * 2 > u64::from(self.hdr.slots()) {
            self.grow()?;
        }
        self.place(self.hdr.live, self.hdr.slots(), rec)?;
        self.hdr.records = records;
        self.hdr_dirty = true;
        Ok(())
    }

    /// Rebuilds the table at twice its size in the other region, then
    /// frees the old one.
    fn grow(&mut self) -> Result<(), S::Error> {
        if self.hdr.table_log >= MAX_TABLE_LOG {
            return Err(IndexError::DirectoryFull.into());
        }
        let (old, old_slots, old_blocks) =
            (self.hdr.live, self.hdr.slots(), 1u32 << self.hdr.table_log);
        let new = old ^ 1;
        let new_log = self.hdr.table_log.saturating_add(1);
        let new_blocks = 1u32 << new_log;
        let new_slots = (RECORDS_PER_TABLE_BLOCK as u32) << new_log;
        for n in 0..new_blocks {
            let at = table_block_offset(new, n).ok_or(IndexError::BadHeader)?;
            self.store.alloc(at)?;
            self.store.write(at, |b| init_table_block(b, at))?;
        }
        for i in 0..old_slots {
            if let Some(rec) = self.get(old, i)? {
                self.checked_slot(rec)?;
                self.place(new, new_slots, rec)?;
            }
        }
        self.flush(usize::from(old))?;
        self.flush(usize::from(new))?;
        self.hdr.live = new;
        self.hdr.table_log = new_log;
        self.hdr_dirty = true;
        for n in 0..old_blocks {
            let at = table_block_offset(old, n).ok_or(IndexError::BadHeader)?;
            self.store.free(at)?;
        }
        Ok(())
    }

    /// Removes the record of `name` at `slot`, shifting the records after
    /// it back; `false` if there is none.
    pub fn remove(&mut self, name: &[u8], slot: u32) -> Result<bool, S::Error> {
        let hash = name_hash(self.hdr.seed, name);
        let (live, slots) = (self.hdr.live, self.hdr.slots());
        let mut i = Self::home(hash, slots);
        let mut found = false;
        for _ in 0..slots {
            let Some(rec) = self.get(live, i)? else {
                return Ok(false);
            };
            if rec.slot == slot && rec.hash == hash {
                found = true;
                break;
            }
            i = Self::next(i, slots);
        }
        if !found {
            return Err(IndexError::TableOverfull.into());
        }
        // Backward shift: move each following record whose home is not in
        // (hole, j] into the hole.
        let mut hole = i;
        let mut j = Self::next(i, slots);
        for _ in 0..slots {
            let Some(rec) = self.get(live, j)? else {
                break;
            };
            let home = Self::home(rec.hash, slots);
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.set(live, hole, Some(rec))?;
                hole = j;
            }
            j = Self::next(j, slots);
        }
        self.set(live, hole, None)?;
        self.hdr.records = self.hdr.records.saturating_sub(1);
        self.hdr_dirty = true;
        Ok(true)
    }

    /// Calls `f` with every record of the table, in table order (for
    /// fsck's comparison with the entries). Slots are range-checked.
    pub fn for_each_record(
        &mut self,
        mut f: impl FnMut(Record) -> Result<(), S::Error>,
    ) -> Result<(), S::Error> {
        let (live, slots) = (self.hdr.live, self.hdr.slots());
        for i in 0..slots {
            if let Some(rec) = self.get(live, i)? {
                self.checked_slot(rec)?;
                f(rec)?;
            }
        }
        Ok(())
    }

    /// The first entry block the bitmap says may have a free slot.
    pub fn first_free_block(&mut self) -> Result<Option<u32>, S::Error> {
        let n = self.hdr.entry_blocks;
        self.store.read(0, |b| index_bitmap_first_set(b, n))
    }

    /// Records whether entry block `k` has a free slot.
    pub fn set_block_free(&mut self, k: u32, free: bool) -> Result<(), S::Error> {
        if k >= self.hdr.entry_blocks {
            return Err(IndexError::SlotOutOfRange.into());
        }
        self.store.write(0, |b| index_bitmap_set(b, k, free))?;
        self.hdr_dirty = true;
        Ok(())
    }

    /// Covers one more entry block (the caller maps it), marked free; its
    /// number, or [`IndexError::DirectoryFull`].
    pub fn add_entry_block(&mut self) -> Result<u32, S::Error> {
        let k = self.hdr.entry_blocks;
        if k >= MAX_ENTRY_BLOCKS {
            return Err(IndexError::DirectoryFull.into());
        }
        self.hdr.entry_blocks = k.saturating_add(1);
        self.set_block_free(k, true)?;
        Ok(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_constants() {
        assert_eq!(MAX_ENTRY_BLOCKS, 32480);
        assert_eq!(T_RECORDS_END, 4088);
        assert_eq!(DIR_INDEX_BLOCKS, 4097);
        // The largest table holds the largest directory at load 1/2.
        let most = MAX_ENTRY_BLOCKS as u64 * DIRENTS_PER_BLOCK as u64;
        assert!(2 * most <= (RECORDS_PER_TABLE_BLOCK as u64) << MAX_TABLE_LOG);
        assert!(MAX_ENTRY_BLOCKS as u64 <= DIR_INDEX_BASE);
    }
}
