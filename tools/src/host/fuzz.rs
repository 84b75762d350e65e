//! A structure-aware fuzzer of delafs images: a seed image that uses every
//! on-disk structure, and mutations of its metadata written as one-line
//! specs (`inode 5 size = 0x8000000000000000`) that are parsed and applied
//! with the checksum of the changed structure recomputed, so that only the
//! semantic checks of the kernel and of fsck can catch them.
//!
//! Generation and replay go through the same parser: [`generate`] picks
//! specs with a seeded PRNG, [`apply`] applies a spec. Images are
//! deterministic for a (seed, index) pair, whatever else is generated.
//!
//! # Spec grammar
//!
//! `[FAMILY:] MUTATION [; MUTATION]...`, where a MUTATION is one of
//!
//! ```text
//! sb FIELD = V                          superblock field, checksum fixed
//! inode N FIELD = V                     inode field, checksum fixed
//! inode N extent K FIELD = V            inline extent K (0..8): logical, len, physical
//!                                       (`len` includes bit 31, the unwritten flag)
//! inode N extent K = L,LEN,P            the whole inline extent
//! chain B FIELD = V                     extent block at disk block B: magic, count, next
//! chain B extent K FIELD = V | = L,LEN,P
//! dirent B:S FIELD = V                  directory entry S of block B: ino, name_len, type, reserved
//! dirent B:S name = "NAME"              name bytes and name_len
//! dirent B:S = INO,TYPE,"NAME"          the whole entry
//! bitmap B = 0|1                        the bitmap bit of block B
//! flip OFFSET.BIT [crc]                 one bit of the image, checksum fixed with `crc`
//! ```
//!
//! A field named `csum` is written as given (no fix-up). Values are decimal,
//! `0x` hex, `0o` octal or negative decimal (two's complement); names take `\\`, `\"`
//! and `\xNN` escapes. Anything after a mutation's value up to the next
//! `;` (e.g. `[chain block of inode 40]`) is a comment. Inode numbers and
//! block numbers refer to the seed image ([`build_seed`]).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write as _;

use delafs::shared::crc32c::crc32c;
use delafs::shared::format::{
    decode_dirent, encode_dirent, index_bitmap_test, inode_slot, table_block_offset, table_record,
    walk_extents_of, Block, DirIndex, Extent, Geometry, IndexError, IndexHeader, IndexStore, Inode,
    Record, Superblock, Visit, BLOCK_CSUM_OFFSET, BLOCK_SIZE, CHAIN_EXTENTS, CHAIN_MAGIC,
    COMPAT_SUPPORTED, DIRENTS_PER_BLOCK, DIRENT_SIZE, DIR_INDEX_BASE, DT_DIR, DT_LNK, DT_REG,
    EXTENT_UNWRITTEN, INCOMPAT_SUPPORTED, INCOMPAT_UNWRITTEN, INDEX_MAGIC, INLINE_EXTENTS,
    INODE_CSUM_OFFSET, INODE_SIZE, MAX_ENTRY_BLOCKS, MAX_EXTENT_LEN, MAX_NAME_LEN, MAX_TABLE_LOG,
    RECORDS_PER_TABLE_BLOCK, RO_COMPAT_SUPPORTED, S_IFDIR, S_IFLNK, S_IFREG,
};

use super::builder::{ImageBuilder, ROOT};
use super::disk::MemDisk;

/// Blocks of the seed image (4 MiB).
pub const SEED_BLOCKS: u64 = 1024;
/// Inodes of the seed image.
pub const SEED_INODES: u64 = 128;

// ---------------------------------------------------------------------------
// PRNG
// ---------------------------------------------------------------------------

/// splitmix64: small, fast, good enough to pick mutations, deterministic.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for image `index` of the campaign `seed`.
    pub fn for_image(seed: u64, index: u64) -> Self {
        let mut r = Self(seed ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        r.next_u64();
        r
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// One element of a non-empty slice.
    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize].clone()
    }
}

// ---------------------------------------------------------------------------
// The seed image
// ---------------------------------------------------------------------------

/// Fills the disk blocks of `extents` with a pattern naming `ino` and the
/// file block, the first `size` bytes of the file only.
fn fill(b: &mut ImageBuilder, ino: u32, size: u64, extents: &[Extent]) {
    for e in extents {
        for i in 0..u64::from(e.len) {
            let file_off = (u64::from(e.logical) + i) * BLOCK_SIZE as u64;
            let n = size.saturating_sub(file_off).min(BLOCK_SIZE as u64) as usize;
            let block = b.block_mut(e.physical + i);
            for (j, byte) in block.iter_mut().enumerate().take(n) {
                *byte = (ino as usize * 31 + (file_off as usize + j) / 7) as u8 | 1;
            }
        }
    }
}

fn file(b: &mut ImageBuilder, dir: u32, name: &str, size: u64, extents: &[Extent]) -> u32 {
    let ino = b.create_file(dir, name, size, extents);
    fill(b, ino, size, extents);
    ino
}

/// The seed image, built in memory (deterministic): a root directory of
/// three blocks, nested subdirectories, hard links, small files, an empty
/// file, files with holes, a file of 300 extents (two extent chain blocks)
/// and a file of one 16-block extent. fsck finds it clean.
pub fn build_seed() -> MemDisk {
    let mut b = ImageBuilder::new(SEED_BLOCKS, SEED_INODES);
    let mut small = Vec::new();
    for i in 0..30u32 {
        let size = 100 + u64::from(i) * 137;
        let e = b.data_extent(0, 1);
        small.push(file(&mut b, ROOT, &format!("f{i:02}"), size, &[e]));
    }
    b.create_file(ROOT, "empty", 0, &[]);
    let holey = [b.data_extent(0, 1), b.data_extent(5, 2)];
    file(&mut b, ROOT, "holey", 9 * BLOCK_SIZE as u64, &holey);
    let multi = [b.data_extent(0, 16)];
    let multi_ino = file(&mut b, ROOT, "multi", 16 * BLOCK_SIZE as u64 - 10, &multi);
    // 300 extents of one block with a hole after each: 8 inline, 254 in
    // the first chain block, 38 in the second.
    let frag: Vec<Extent> = (0..300).map(|i| b.data_extent(2 * i, 1)).collect();
    file(&mut b, ROOT, "frag", 600 * BLOCK_SIZE as u64 - 1000, &frag);
    let d1 = b.create_dir(ROOT, "d1");
    let d2 = b.create_dir(d1, "d2");
    let d3 = b.create_dir(d2, "d3");
    b.create_dir(ROOT, "d4");
    for (dir, name) in [(d1, "a"), (d1, "b"), (d2, "c"), (d3, "deep")] {
        let e = b.data_extent(0, 1);
        file(&mut b, dir, name, 3000, &[e]);
    }
    let sparse_tail = [b.data_extent(1, 1)];
    file(
        &mut b,
        d2,
        "hole-first",
        3 * BLOCK_SIZE as u64,
        &sparse_tail,
    );
    b.link(d1, "link-f00", small[0]);
    b.link(d2, "link-f01", small[1]);
    b.link(d3, "link2-f01", small[1]);
    b.link(ROOT, "link-multi", multi_ino);
    b.disk
}

// ---------------------------------------------------------------------------
// What the seed contains
// ---------------------------------------------------------------------------

/// An in-use inode of the seed.
#[derive(Clone, Debug)]
pub struct FileInfo {
    /// Its number.
    pub ino: u32,
    /// As decoded.
    pub inode: Inode,
    /// Every extent, inline then chained.
    pub extents: Vec<Extent>,
    /// Its extent chain blocks, in order.
    pub chain: Vec<u64>,
}

/// A used directory entry of the seed.
#[derive(Clone, Debug)]
pub struct DirentInfo {
    /// The directory.
    pub dir: u32,
    /// Disk block and slot.
    pub block: u64,
    /// Slot in the block.
    pub slot: usize,
    /// The inode it names.
    pub ino: u32,
    /// Its type.
    pub file_type: u8,
    /// Its name.
    pub name: Vec<u8>,
}

/// The structures of a (valid) seed image, for picking targets.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The layout.
    pub geo: Geometry,
    /// In-use inodes.
    pub files: BTreeMap<u32, FileInfo>,
    /// Free inode numbers.
    pub free_inodes: Vec<u32>,
    /// Used directory entries.
    pub dirents: Vec<DirentInfo>,
    /// Free entry slots in directory blocks.
    pub free_slots: Vec<(u32, u64, usize)>,
    /// Data blocks no structure uses.
    pub free_blocks: Vec<u64>,
}

impl Layout {
    /// Reads the structures of `disk`, which must be a valid image.
    pub fn scan(disk: &MemDisk) -> Result<Self, String> {
        let sb = Superblock::decode(disk.block(0), disk_blocks(disk))
            .map_err(|e| format!("seed superblock: {e}"))?;
        let geo = sb.geometry;
        let mut files = BTreeMap::new();
        let mut free_inodes = Vec::new();
        for ino in 1..geo.inode_count {
            let (blk, slot) = geo.inode_location(ino).ok_or("inode location")?;
            let raw = inode_slot(disk.block(blk), slot).ok_or("inode slot")?;
            let ino = ino as u32;
            match Inode::decode(raw).map_err(|e| format!("seed inode {ino}: {e}"))? {
                None => free_inodes.push(ino),
                Some(inode) => {
                    let mut extents = Vec::new();
                    let mut chain = Vec::new();
                    walk_extents_of(
                        &geo,
                        &inode,
                        sb.features.dir_index(),
                        |block, f| {
                            f(disk.block(block));
                            Ok::<_, Infallible>(())
                        },
                        |visit| {
                            match visit {
                                Visit::Chain(block) => chain.push(block),
                                Visit::Extent(e) => extents.push(*e),
                            }
                            Ok(())
                        },
                    )
                    .map_err(|e| format!("seed inode {ino}: extents: {e:?}"))?;
                    files.insert(
                        ino,
                        FileInfo {
                            ino,
                            inode,
                            extents,
                            chain,
                        },
                    );
                }
            }
        }
        let mut dirents = Vec::new();
        let mut free_slots = Vec::new();
        for f in files.values().filter(|f| f.inode.is_dir()) {
            // Entry blocks only: an index is past them.
            for e in f
                .extents
                .iter()
                .filter(|e| u64::from(e.logical) < DIR_INDEX_BASE)
            {
                for blk in e.physical..e.physical_end() {
                    if blk >= disk_blocks(disk) {
                        return Err(format!("seed directory {}: block outside", f.ino));
                    }
                    for slot in 0..DIRENTS_PER_BLOCK {
                        match decode_dirent(disk.block(blk), slot) {
                            Ok(Some(d)) => dirents.push(DirentInfo {
                                dir: f.ino,
                                block: blk,
                                slot,
                                ino: d.ino,
                                file_type: d.file_type,
                                name: d.name.to_vec(),
                            }),
                            Ok(None) => free_slots.push((f.ino, blk, slot)),
                            Err(e) => return Err(format!("seed dirent {blk}:{slot}: {e}")),
                        }
                    }
                }
            }
        }
        let mut used = vec![false; disk_blocks(disk) as usize];
        for f in files.values() {
            for e in &f.extents {
                for blk in e.physical..e.physical_end().min(used.len() as u64) {
                    used[blk as usize] = true;
                }
            }
            for &c in &f.chain {
                used[c as usize] = true;
            }
        }
        let free_blocks = (geo.data_start..geo.total_blocks)
            .filter(|&b| !used[b as usize])
            .collect();
        Ok(Self {
            geo,
            files,
            free_inodes,
            dirents,
            free_slots,
            free_blocks,
        })
    }

    fn dirs(&self) -> Vec<&FileInfo> {
        self.files.values().filter(|f| f.inode.is_dir()).collect()
    }

    fn regular(&self) -> Vec<&FileInfo> {
        self.files.values().filter(|f| !f.inode.is_dir()).collect()
    }

    fn with_extents(&self) -> Vec<&FileInfo> {
        self.files
            .values()
            .filter(|f| !f.extents.is_empty())
            .collect()
    }

    fn with_chain(&self) -> Vec<&FileInfo> {
        self.files
            .values()
            .filter(|f| !f.chain.is_empty())
            .collect()
    }
}

fn disk_blocks(disk: &MemDisk) -> u64 {
    (disk.data.len() / BLOCK_SIZE) as u64
}

// ---------------------------------------------------------------------------
// Specs: parsing and applying
// ---------------------------------------------------------------------------

/// `(name, offset, width in bytes)` of the superblock fields.
const SB_FIELDS: &[(&str, usize, usize)] = &[
    ("magic", 0, 8),
    ("version", 8, 4),
    ("block_size", 12, 4),
    ("total_blocks", 16, 8),
    ("inode_count", 24, 4),
    ("reserved", 28, 4),
    ("bitmap_start", 32, 8),
    ("bitmap_blocks", 40, 8),
    ("inode_table_start", 48, 8),
    ("inode_table_blocks", 56, 8),
    ("data_start", 64, 8),
    ("root_ino", 72, 4),
    ("feature_compat", 76, 4),
    ("mkfs_time", 80, 8),
    ("uuid", 88, 8),
    ("feature_ro_compat", 104, 4),
    ("feature_incompat", 108, 4),
    ("pad", 112, 8),
    ("csum", BLOCK_CSUM_OFFSET, 4),
];

const INODE_FIELDS: &[(&str, usize, usize)] = &[
    ("mode", 0, 2),
    ("reserved", 2, 2),
    ("nlink", 4, 4),
    ("uid", 8, 4),
    ("gid", 12, 4),
    ("size", 16, 8),
    ("atime", 24, 8),
    ("mtime", 32, 8),
    ("ctime", 40, 8),
    ("atime_nsec", 48, 4),
    ("mtime_nsec", 52, 4),
    ("ctime_nsec", 56, 4),
    ("extent_count", 60, 4),
    ("extent_chain", 64, 8),
    ("parent", 72, 4),
    ("reserved2", 76, 4),
    ("csum", INODE_CSUM_OFFSET, 4),
];

const CHAIN_FIELDS: &[(&str, usize, usize)] = &[
    ("magic", 0, 4),
    ("count", 4, 4),
    ("next", 8, 8),
    ("csum", BLOCK_CSUM_OFFSET, 4),
];

const EXTENT_FIELDS: &[(&str, usize, usize)] =
    &[("logical", 0, 4), ("len", 4, 4), ("physical", 8, 8)];

const DIRENT_FIELDS: &[(&str, usize, usize)] = &[
    ("ino", 0, 4),
    ("name_len", 4, 1),
    ("type", 5, 1),
    ("reserved", 6, 2),
];

const INODE_EXTENTS_AT: usize = 96;
const CHAIN_EXTENTS_AT: usize = 16;
const DIRENT_NAME_AT: usize = 8;

fn field(table: &[(&str, usize, usize)], name: &str) -> Result<(usize, usize), String> {
    table
        .iter()
        .find(|f| f.0 == name)
        .map(|f| (f.1, f.2))
        .ok_or_else(|| format!("unknown field {name:?}"))
}

/// Splits a spec into tokens: whitespace separates them outside double
/// quotes.
fn tokens(spec: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = spec.chars();
    while let Some(c) = chars.next() {
        if quoted {
            cur.push(c);
            if c == '\\' {
                cur.push(chars.next().ok_or("unterminated escape")?);
            } else if c == '"' {
                quoted = false;
            }
        } else if c.is_whitespace() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            if c == '"' {
                quoted = true;
            }
            cur.push(c);
        }
    }
    if quoted {
        return Err("unterminated string".to_string());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

fn parse_num(s: &str) -> Result<u64, String> {
    let r = if let Some(hex) = s.strip_prefix("0x") {
        u64::from_str_radix(hex, 16).ok()
    } else if let Some(oct) = s.strip_prefix("0o") {
        u64::from_str_radix(oct, 8).ok()
    } else if let Some(neg) = s.strip_prefix('-') {
        neg.parse::<i64>().ok().map(|v| v.wrapping_neg() as u64)
    } else {
        s.parse::<u64>().ok()
    };
    r.ok_or_else(|| format!("bad number {s:?}"))
}

/// Parses a double-quoted name with escapes.
fn parse_name(s: &str) -> Result<Vec<u8>, String> {
    let inner = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or_else(|| format!("name {s:?} is not quoted"))?;
    let mut out = Vec::new();
    let bytes = inner.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            match bytes.get(i + 1) {
                Some(b'x') => {
                    let hex = inner.get(i + 2..i + 4).ok_or("short \\x escape")?;
                    out.push(u8::from_str_radix(hex, 16).map_err(|_| "bad \\x escape")?);
                    i += 4;
                }
                Some(&c) => {
                    out.push(c);
                    i += 2;
                }
                None => return Err("trailing backslash".to_string()),
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Quotes a name for a spec.
pub fn quote_name(name: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in name {
        match c {
            b'"' | b'\\' => {
                s.push('\\');
                s.push(c as char);
            }
            0x21..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s.push('"');
    s
}

fn split_commas(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in s.chars() {
        if quoted {
            cur.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                quoted = false;
            }
        } else if c == ',' {
            parts.push(std::mem::take(&mut cur));
        } else {
            if c == '"' {
                quoted = true;
            }
            cur.push(c);
        }
    }
    parts.push(cur);
    parts
}

/// Where a mutation writes and which checksum covers it.
enum Csum {
    None,
    /// CRC-32C of `[start, start + len - 4)` stored at `start + len - 4`.
    At {
        start: usize,
        len: usize,
    },
}

fn put(disk: &mut MemDisk, at: usize, width: usize, value: u64) -> Result<(), String> {
    let bytes = value.to_le_bytes();
    let dst = disk
        .data
        .get_mut(at..at + width)
        .ok_or_else(|| format!("offset {at} is outside the image"))?;
    dst.copy_from_slice(&bytes[..width]);
    Ok(())
}

fn fix(disk: &mut MemDisk, csum: &Csum) {
    if let Csum::At { start, len } = *csum {
        let end = start + len - 4;
        if end + 4 <= disk.data.len() {
            let sum = crc32c(&disk.data[start..end]);
            disk.data[end..end + 4].copy_from_slice(&sum.to_le_bytes());
        }
    }
}

fn block_start(disk: &MemDisk, b: u64) -> Result<usize, String> {
    if b >= disk_blocks(disk) {
        return Err(format!("block {b} is outside the image"));
    }
    Ok(b as usize * BLOCK_SIZE)
}

/// The checksum covering byte `off` of the image: the superblock, an inode
/// slot, or an extent chain block (if the block has the chain magic).
fn csum_of(disk: &MemDisk, geo: &Geometry, off: usize) -> Csum {
    let b = (off / BLOCK_SIZE) as u64;
    let start = b as usize * BLOCK_SIZE;
    if b == 0 {
        return Csum::At {
            start,
            len: BLOCK_SIZE,
        };
    }
    if b >= geo.inode_table_start && b < geo.data_start {
        let slot = (off - start) / INODE_SIZE;
        return Csum::At {
            start: start + slot * INODE_SIZE,
            len: INODE_SIZE,
        };
    }
    if b >= geo.data_start && disk.data.get(start..start + 4) == Some(&CHAIN_MAGIC.to_le_bytes()) {
        return Csum::At {
            start,
            len: BLOCK_SIZE,
        };
    }
    Csum::None
}

/// Writes an extent (field `f` or all three from `value`) at `at`.
fn put_extent(disk: &mut MemDisk, at: usize, f: Option<&str>, value: &str) -> Result<(), String> {
    match f {
        Some(name) => {
            let (off, width) = field(EXTENT_FIELDS, name)?;
            put(disk, at + off, width, parse_num(value)?)
        }
        None => {
            let parts = split_commas(value);
            let [l, n, p] = parts.as_slice() else {
                return Err(format!("extent {value:?} is not LOGICAL,LEN,PHYSICAL"));
            };
            put(disk, at, 4, parse_num(l)?)?;
            put(disk, at + 4, 4, parse_num(n)?)?;
            put(disk, at + 8, 8, parse_num(p)?)
        }
    }
}

fn write_name(disk: &mut MemDisk, at: usize, name: &[u8]) -> Result<(), String> {
    if name.len() > MAX_NAME_LEN + 1 {
        return Err("name longer than 256 bytes".to_string());
    }
    let dst = disk
        .data
        .get_mut(at + DIRENT_NAME_AT..at + DIRENT_SIZE)
        .ok_or("dirent outside the image")?;
    dst.fill(0);
    dst[..name.len()].copy_from_slice(name);
    // name_len is a u8: a 256-byte name says 0.
    disk.data[at + 4] = name.len() as u8;
    Ok(())
}

/// Applies one mutation (tokens without the `;`).
fn apply_one(disk: &mut MemDisk, geo: &Geometry, t: &[String]) -> Result<(), String> {
    let t: Vec<&str> = t.iter().map(String::as_str).collect();
    let eq = t
        .iter()
        .position(|&s| s == "=")
        .ok_or_else(|| format!("no '=' in {:?}", t.join(" ")))?;
    let lhs = &t[..eq];
    let value = *t.get(eq + 1).ok_or("no value after '='")?;
    let csum_field = lhs.last() == Some(&"csum");
    let (csum, result) = match lhs {
        ["sb", f] => {
            let (off, width) = field(SB_FIELDS, f)?;
            let r = put(disk, off, width, parse_num(value)?);
            (
                Csum::At {
                    start: 0,
                    len: BLOCK_SIZE,
                },
                r,
            )
        }
        ["inode", n, rest @ ..] => {
            let ino = parse_num(n)?;
            let (blk, slot) = geo
                .inode_location(ino)
                .ok_or_else(|| format!("no inode {ino}"))?;
            let start = block_start(disk, blk)? + slot * INODE_SIZE;
            let r = match rest {
                [f] => {
                    let (off, width) = field(INODE_FIELDS, f)?;
                    put(disk, start + off, width, parse_num(value)?)
                }
                ["extent", k, f @ ..] => {
                    let k = parse_num(k)? as usize;
                    if k >= INLINE_EXTENTS {
                        return Err(format!("inline extent {k} of 8"));
                    }
                    let at = start + INODE_EXTENTS_AT + k * 16;
                    put_extent(disk, at, f.first().copied(), value)
                }
                _ => Err(format!("bad inode mutation {:?}", t.join(" "))),
            };
            (
                Csum::At {
                    start,
                    len: INODE_SIZE,
                },
                r,
            )
        }
        ["index", rest @ ..] => return apply_index_one(disk, geo, rest, value),
        ["chain", b, rest @ ..] => {
            let start = block_start(disk, parse_num(b)?)?;
            let r = match rest {
                [f] => {
                    let (off, width) = field(CHAIN_FIELDS, f)?;
                    put(disk, start + off, width, parse_num(value)?)
                }
                ["extent", k, f @ ..] => {
                    let k = parse_num(k)? as usize;
                    if k >= CHAIN_EXTENTS {
                        return Err(format!("chain extent {k} of 254"));
                    }
                    let at = start + CHAIN_EXTENTS_AT + k * 16;
                    put_extent(disk, at, f.first().copied(), value)
                }
                _ => Err(format!("bad chain mutation {:?}", t.join(" "))),
            };
            (
                Csum::At {
                    start,
                    len: BLOCK_SIZE,
                },
                r,
            )
        }
        ["dirent", loc, rest @ ..] => {
            let (b, s) = loc
                .split_once(':')
                .ok_or_else(|| format!("dirent {loc:?} is not BLOCK:SLOT"))?;
            let slot = parse_num(s)? as usize;
            if slot >= DIRENTS_PER_BLOCK {
                return Err(format!("dirent slot {slot} of 15"));
            }
            let at = block_start(disk, parse_num(b)?)? + slot * DIRENT_SIZE;
            let r = match rest {
                ["name"] => parse_name(value).and_then(|n| write_name(disk, at, &n)),
                [f] => {
                    let (off, width) = field(DIRENT_FIELDS, f)?;
                    put(disk, at + off, width, parse_num(value)?)
                }
                [] => {
                    let parts = split_commas(value);
                    let [ino, ty, name] = parts.as_slice() else {
                        return Err(format!("dirent {value:?} is not INO,TYPE,\"NAME\""));
                    };
                    disk.data[at..at + DIRENT_SIZE].fill(0);
                    put(disk, at, 4, parse_num(ino)?)?;
                    put(disk, at + 5, 1, parse_num(ty)?)?;
                    parse_name(name).and_then(|n| write_name(disk, at, &n))
                }
                _ => Err(format!("bad dirent mutation {:?}", t.join(" "))),
            };
            (Csum::None, r)
        }
        ["bitmap", b] => {
            let b = parse_num(b)?;
            let (blk, bit) = geo.bitmap_location(b);
            let at = block_start(disk, blk)? + bit / 8;
            let mask = 1u8 << (bit % 8);
            let r = match value {
                "0" => {
                    disk.data[at] &= !mask;
                    Ok(())
                }
                "1" => {
                    disk.data[at] |= mask;
                    Ok(())
                }
                _ => Err(format!("bitmap value {value:?} is not 0 or 1")),
            };
            (Csum::None, r)
        }
        _ => return Err(format!("unknown mutation {:?}", t.join(" "))),
    };
    result?;
    if !csum_field {
        fix(disk, &csum);
    }
    Ok(())
}

fn apply_flip(disk: &mut MemDisk, geo: &Geometry, t: &[String]) -> Result<(), String> {
    let at = t.get(1).ok_or("flip needs OFFSET.BIT")?;
    let (off, bit) = at
        .split_once('.')
        .ok_or_else(|| format!("flip {at:?} is not OFFSET.BIT"))?;
    let off = parse_num(off)? as usize;
    let bit = parse_num(bit)?;
    if bit > 7 || off >= disk.data.len() {
        return Err(format!("flip {at:?} is outside the image"));
    }
    disk.data[off] ^= 1 << bit;
    if t.get(2).map(String::as_str) == Some("crc") {
        let c = csum_of(disk, geo, off);
        fix(disk, &c);
    }
    Ok(())
}

/// The family of a spec: its `FAMILY:` prefix, if any.
pub fn family(spec: &str) -> Option<&str> {
    let first = spec.split_whitespace().next()?;
    first.strip_suffix(':')
}

/// Applies `spec` to `disk`, whose layout (before any mutation) is `geo`.
pub fn apply(disk: &mut MemDisk, geo: &Geometry, spec: &str) -> Result<(), String> {
    let mut toks = tokens(spec)?;
    if toks.first().is_some_and(|t| t.ends_with(':')) {
        toks.remove(0);
    }
    for part in toks.split(|t| t == ";") {
        match part.first().map(String::as_str) {
            None => {}
            Some("flip") => apply_flip(disk, geo, part)?,
            Some(_) => apply_one(disk, geo, part)?,
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Generating specs
// ---------------------------------------------------------------------------

/// The mutation families, in the order the test reports them.
pub const FAMILIES: &[&str] = &[
    "sb",
    "mode",
    "nlink",
    "size",
    "attr",
    "extcount",
    "parent",
    "extent",
    "chain",
    "chainext",
    "dirent",
    "bitmap",
    "cross",
    "flip",
    "flipcrc",
    "features",
    "unwritten",
];

const U64_EDGES: &[u64] = &[
    0,
    1,
    2,
    (1 << 32) - 1,
    1 << 32,
    (1 << 44) - 1,
    1 << 44,
    (1 << 44) + 1,
    (1 << 63) - 1,
    1 << 63,
    (1 << 63) + 1,
    u64::MAX - 1,
    u64::MAX,
];

const U32_EDGES: &[u64] = &[0, 1, 2, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff];

fn hex(v: u64) -> String {
    if v < 4096 {
        v.to_string()
    } else {
        format!("{v:#x}")
    }
}

/// A value for a field of `width` bytes near `cur`: an edge, cur ± 1 or
/// random.
fn edge_value(rng: &mut Rng, width: usize, cur: u64) -> u64 {
    let mask = if width == 8 {
        u64::MAX
    } else {
        (1u64 << (width * 8)) - 1
    };
    match rng.below(4) {
        0 => cur.wrapping_add(1) & mask,
        1 => cur.wrapping_sub(1) & mask,
        2 => rng.next_u64() & mask,
        _ => {
            let edges = if width == 8 { U64_EDGES } else { U32_EDGES };
            rng.pick(edges) & mask
        }
    }
}

fn get(disk: &MemDisk, at: usize, width: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(src) = disk.data.get(at..at + width) {
        b[..width].copy_from_slice(src);
    }
    u64::from_le_bytes(b)
}

/// Picks block numbers that mean something: metadata, another file's
/// data, a directory block, a chain block, free space, the device end.
fn block_ref(rng: &mut Rng, l: &Layout, not_of: u32) -> (u64, String) {
    let g = &l.geo;
    let others: Vec<&FileInfo> = l
        .with_extents()
        .into_iter()
        .filter(|f| f.ino != not_of)
        .collect();
    match rng.below(14) {
        0 => (0, "the superblock".into()),
        1 => (g.bitmap_start, "the bitmap".into()),
        2 => (g.inode_table_start, "the inode table".into()),
        3 => (g.data_start - 1, "the last inode table block".into()),
        4 | 5 => {
            let f = rng.pick(&others);
            let e = rng.pick(&f.extents);
            let kind = if f.inode.is_dir() {
                "a block of directory"
            } else {
                "data of inode"
            };
            (
                e.physical + rng.below(e.len.into()),
                format!("{kind} {}", f.ino),
            )
        }
        6 => {
            let d = rng.pick(
                &l.dirs()
                    .into_iter()
                    .filter(|d| !d.extents.is_empty())
                    .collect::<Vec<_>>(),
            );
            (
                d.extents[0].physical,
                format!("a block of directory {}", d.ino),
            )
        }
        7 => {
            let f = rng.pick(&l.with_chain());
            (
                rng.pick(&f.chain),
                format!("chain block of inode {}", f.ino),
            )
        }
        8 => (rng.pick(&l.free_blocks), "a free block".into()),
        9 => (g.total_blocks - 1, "the last block".into()),
        10 => (g.total_blocks, "the device end".into()),
        11 => (g.total_blocks + 1, "past the device end".into()),
        12 => (u64::from(u32::MAX), "u32::MAX".into()),
        _ => (rng.pick(&[1 << 63, u64::MAX, (1 << 63) - 1]), "huge".into()),
    }
}

/// Picks inode numbers that mean something.
fn ino_ref(rng: &mut Rng, l: &Layout, me: u32) -> (u64, String) {
    let n = l.geo.inode_count;
    match rng.below(10) {
        0 => (0, "no inode".into()),
        1 => (1, "the root".into()),
        2 => (u64::from(me), "itself".into()),
        3 => (rng.pick(&l.free_inodes).into(), "a free inode".into()),
        4 | 5 => (rng.pick(&l.dirs()).ino.into(), "a directory".into()),
        6 => (rng.pick(&l.regular()).ino.into(), "a file".into()),
        7 => (n - 1, "the last inode".into()),
        8 => (rng.pick(&[n, n + 1]), "out of range".into()),
        _ => (u64::from(u32::MAX), "u32::MAX".into()),
    }
}

fn gen_sb(rng: &mut Rng, disk: &MemDisk) -> String {
    let (name, off, width) = rng.pick(&SB_FIELDS[..SB_FIELDS.len() - 1]);
    let v = edge_value(rng, width, get(disk, off, width));
    format!("sb {name} = {}", hex(v))
}

fn gen_mode(rng: &mut Rng, l: &Layout) -> String {
    let f = rng.pick(&l.files.values().collect::<Vec<_>>());
    let perm = f.inode.mode & 0o7777;
    let other = if f.inode.is_dir() {
        S_IFREG | perm
    } else {
        S_IFDIR | perm
    };
    let v = rng.pick(&[
        0,
        other,
        S_IFLNK | 0o777,
        0o010_644,
        0o020_644,
        0o060_644,
        0o140_644,
        0xffff,
        f.inode.mode & 0o170_000,
        f.inode.mode | 0o6000,
    ]);
    format!("inode {} mode = {:#o}", f.ino, v)
}

fn gen_nlink(rng: &mut Rng, l: &Layout) -> String {
    let f = rng.pick(&l.files.values().collect::<Vec<_>>());
    let n = u64::from(f.inode.nlink);
    let v = rng.pick(&[
        0,
        0,
        1,
        1,
        2,
        n - 1,
        n + 1,
        0xffff_ffff,
        0xffff_fffe,
        0x8000_0000,
    ]);
    format!("inode {} nlink = {}", f.ino, hex(v))
}

fn gen_size(rng: &mut Rng, l: &Layout) -> String {
    let f = rng.pick(&l.files.values().collect::<Vec<_>>());
    let reach = f.extents.iter().map(Extent::logical_end).max().unwrap_or(0) * BLOCK_SIZE as u64;
    let v = match rng.below(3) {
        0 => rng.pick(U64_EDGES),
        1 => rng.pick(&[
            0,
            1,
            4095,
            4096,
            4097,
            reach.saturating_sub(BLOCK_SIZE as u64 + 1),
            reach / 2,
            reach + 1,
            reach + (1 << 32),
        ]),
        _ => rng.next_u64() >> rng.below(64),
    };
    format!("inode {} size = {}", f.ino, hex(v))
}

fn gen_attr(rng: &mut Rng, l: &Layout) -> String {
    let f = rng.pick(&l.files.values().collect::<Vec<_>>());
    let (name, v) = match rng.below(5) {
        0 => (
            rng.pick(&["uid", "gid"]),
            rng.pick(&[0, 1, 65534, 0xffff_ffff, 0x8000_0000]),
        ),
        1 => {
            let random = rng.next_u64();
            (
                rng.pick(&["atime", "mtime", "ctime"]),
                rng.pick(&[
                    0,
                    u64::MAX,
                    1 << 63,
                    (1 << 63) - 1,
                    1 << 32,
                    (1 << 34) - 1,
                    random,
                ]),
            )
        }
        2 => (
            rng.pick(&["atime_nsec", "mtime_nsec", "ctime_nsec"]),
            rng.pick(&[999_999_999, 1_000_000_000, 0xffff_ffff]),
        ),
        3 => (rng.pick(&["reserved", "reserved2"]), 1 + rng.below(0xffff)),
        _ => ("uid", rng.below(1 << 32)),
    };
    format!("inode {} {name} = {}", f.ino, hex(v))
}

fn gen_extcount(rng: &mut Rng, l: &Layout) -> String {
    let f = rng.pick(&l.files.values().collect::<Vec<_>>());
    if rng.chance(2, 3) {
        let n = f.extents.len() as u64;
        let v = rng.pick(&[
            0,
            1,
            n.wrapping_sub(1) & 0xffff_ffff,
            n + 1,
            8,
            9,
            262,
            263,
            0xffff_ffff,
        ]);
        format!("inode {} extent_count = {}", f.ino, hex(v))
    } else {
        let (v, why) = if !f.chain.is_empty() && rng.chance(1, 3) {
            (0, "no chain".to_string())
        } else {
            block_ref(rng, l, f.ino)
        };
        format!("inode {} extent_chain = {} [{why}]", f.ino, hex(v))
    }
}

fn gen_parent(rng: &mut Rng, l: &Layout) -> String {
    if rng.chance(1, 5) {
        let f = rng.pick(&l.regular());
        return format!("inode {} parent = 1 [a file with a parent]", f.ino);
    }
    let d = rng.pick(&l.dirs());
    let children: Vec<u32> = l
        .dirents
        .iter()
        .filter(|e| e.dir == d.ino && e.file_type == DT_DIR)
        .map(|e| e.ino)
        .collect();
    let (v, why) = if !children.is_empty() && rng.chance(1, 3) {
        (
            u64::from(rng.pick(&children)),
            "its own subdirectory: a loop".to_string(),
        )
    } else {
        ino_ref(rng, l, d.ino)
    };
    format!("inode {} parent = {} [{why}]", d.ino, hex(v))
}

/// A mutation of extent `k` of `f` whose slot is written by `target`
/// (`inode N extent K` or `chain B extent K`).
fn gen_extent_at(rng: &mut Rng, l: &Layout, f: &FileInfo, idx: usize, target: &str) -> String {
    let e = f.extents[idx];
    let prev = idx.checked_sub(1).map(|i| f.extents[i]);
    let next = f.extents.get(idx + 1).copied();
    match rng.below(6) {
        0 => {
            let v = rng.pick(&[
                0,
                0xffff_ffff,
                0xffff_fffe,
                0x8000_0000,
                prev.map_or(1, |p| u64::from(p.logical)),
                next.map_or(u64::from(e.logical) + 1, |n| u64::from(n.logical)),
            ]);
            format!("{target} logical = {}", hex(v))
        }
        1 => {
            let room = l.geo.total_blocks.saturating_sub(e.physical);
            let v = rng.pick(&[
                0,
                u64::from(e.len) + 1,
                room,
                room + 1,
                0xffff_ffff,
                0x8000_0000,
                next.map_or(2, |n| u64::from(n.logical) - u64::from(e.logical) + 1),
            ]);
            format!("{target} len = {}", hex(v))
        }
        2 if prev.is_some() || next.is_some() => {
            // Overlap the neighbour: the same file blocks, or the same
            // disk blocks.
            let n = prev.or(next).expect("a neighbour");
            if rng.chance(1, 2) {
                format!(
                    "{target} = {},{},{} [overlapping file blocks]",
                    n.logical, e.len, e.physical
                )
            } else {
                format!(
                    "{target} physical = {} [the disk blocks of its neighbour]",
                    n.physical
                )
            }
        }
        _ => {
            let (v, why) = block_ref(rng, l, f.ino);
            format!("{target} physical = {} [{why}]", hex(v))
        }
    }
}

fn gen_extent(rng: &mut Rng, l: &Layout) -> String {
    let f = rng.pick(&l.with_extents());
    let k = rng.below(f.extents.len().min(INLINE_EXTENTS) as u64) as usize;
    gen_extent_at(rng, l, f, k, &format!("inode {} extent {k}", f.ino))
}

fn gen_chainext(rng: &mut Rng, l: &Layout) -> String {
    let f = rng.pick(&l.with_chain());
    let c = rng.below(f.chain.len() as u64) as usize;
    let in_block = (f.extents.len() - INLINE_EXTENTS - c * CHAIN_EXTENTS).min(CHAIN_EXTENTS);
    let k = if rng.chance(1, 3) {
        rng.pick(&[0, in_block - 1])
    } else {
        rng.below(in_block as u64) as usize
    };
    let idx = INLINE_EXTENTS + c * CHAIN_EXTENTS + k;
    gen_extent_at(rng, l, f, idx, &format!("chain {} extent {k}", f.chain[c]))
}

fn gen_chain(rng: &mut Rng, l: &Layout) -> String {
    let f = rng.pick(&l.with_chain());
    let c = rng.below(f.chain.len() as u64) as usize;
    let b = f.chain[c];
    let count = (f.extents.len() - INLINE_EXTENTS - c * CHAIN_EXTENTS).min(CHAIN_EXTENTS) as u64;
    match rng.below(3) {
        0 => format!(
            "chain {b} magic = {}",
            hex(rng.pick(&[
                0,
                u64::from(CHAIN_MAGIC) + 1,
                u64::from(CHAIN_MAGIC.swap_bytes())
            ]))
        ),
        1 => format!(
            "chain {b} count = {}",
            hex(rng.pick(&[0, 1, count - 1, count + 1, 253, 254, 255, 0xffff_ffff]))
        ),
        _ => {
            let (v, why) = match rng.below(4) {
                0 => (b, "itself".to_string()),
                1 => (f.chain[0], "the first chain block: a loop".to_string()),
                2 => (0, "end the chain early".to_string()),
                _ => block_ref(rng, l, f.ino),
            };
            format!("chain {b} next = {} [{why}]", hex(v))
        }
    }
}

fn gen_dirent(rng: &mut Rng, l: &Layout) -> String {
    let d = rng.pick(&l.dirents);
    let at = format!("dirent {}:{}", d.block, d.slot);
    let sibling = l
        .dirents
        .iter()
        .filter(|e| e.dir == d.dir && e.name != d.name)
        .map(|e| e.name.clone())
        .next()
        .unwrap_or_else(|| b"x".to_vec());
    match rng.below(6) {
        0 | 1 => {
            let (v, why) = if d.file_type == DT_DIR && rng.chance(1, 3) {
                (u64::from(d.dir), "its own directory".to_string())
            } else {
                ino_ref(rng, l, d.ino)
            };
            format!("{at} ino = {} [{why}]", hex(v))
        }
        2 => {
            let n = d.name.len() as u64;
            format!("{at} name_len = {}", rng.pick(&[0, 1, n - 1, n + 1, 255]))
        }
        3 => {
            let v = rng.pick(&[
                0,
                3,
                u64::from(DT_DIR),
                u64::from(DT_REG),
                u64::from(DT_LNK),
                2,
                255,
            ]);
            format!("{at} type = {v}")
        }
        4 => format!("{at} reserved = {}", 1 + rng.below(0xffff)),
        _ => {
            let long = vec![b'n'; MAX_NAME_LEN];
            let name = rng.pick(&[
                b"a/b".to_vec(),
                b"a\0b".to_vec(),
                b".".to_vec(),
                b"..".to_vec(),
                b"/".to_vec(),
                sibling,
                long,
                vec![0xff, 0xfe],
            ]);
            format!("{at} name = {}", quote_name(&name))
        }
    }
}

fn gen_bitmap(rng: &mut Rng, l: &Layout) -> String {
    let g = &l.geo;
    let (b, v, why) = match rng.below(8) {
        0 => (0, 0, "the superblock".to_string()),
        1 => (g.bitmap_start, 0, "the bitmap".to_string()),
        2 => (
            g.inode_table_start + rng.below(g.inode_table_blocks),
            0,
            "the inode table".to_string(),
        ),
        3 | 4 => {
            let (b, why) = block_ref(rng, l, 0);
            if b >= g.total_blocks {
                (
                    g.total_blocks + rng.below(64),
                    0,
                    "past the end".to_string(),
                )
            } else {
                (b, 0, why)
            }
        }
        5 => (rng.pick(&l.free_blocks), 1, "a free block".to_string()),
        6 => (g.total_blocks - 1, 1, "the last block".to_string()),
        _ => {
            let f = rng.pick(&l.with_chain());
            (
                rng.pick(&f.chain),
                0,
                format!("chain block of inode {}", f.ino),
            )
        }
    };
    let verb = if v == 0 { "cleared" } else { "set" };
    format!("bitmap {b} = {v} [{verb}: {why}]")
}

fn gen_cross(rng: &mut Rng, l: &Layout) -> String {
    let files = l.with_extents();
    let f = rng.pick(&files);
    let k = rng.below(f.extents.len().min(INLINE_EXTENTS) as u64) as usize;
    let target = format!("inode {} extent {k}", f.ino);
    match rng.below(6) {
        0 => {
            let others: Vec<&&FileInfo> = files.iter().filter(|o| o.ino != f.ino).collect();
            let o = rng.pick(&others);
            let e = rng.pick(&o.extents);
            format!(
                "{target} physical = {} [two files claim one block: data of inode {}]",
                e.physical, o.ino
            )
        }
        1 => {
            let c = rng.pick(&l.with_chain());
            format!(
                "{target} physical = {} [chain block of inode {}]",
                rng.pick(&c.chain),
                c.ino
            )
        }
        2 => {
            let d = rng.pick(
                &l.dirs()
                    .into_iter()
                    .filter(|d| !d.extents.is_empty())
                    .collect::<Vec<_>>(),
            );
            format!(
                "{target} physical = {} [a block of directory {}]",
                d.extents[0].physical, d.ino
            )
        }
        3 => {
            // A directory that contains itself, or a second name for a
            // directory (a hard link to a directory).
            let (dir, blk, slot) = rng.pick(&l.free_slots);
            let dirs = l.dirs();
            let target = if rng.chance(1, 2) {
                dir
            } else {
                rng.pick(&dirs).ino
            };
            format!(
                "dirent {blk}:{slot} = {target},{DT_DIR},\"fz-dirlink\" [directory {target} linked in {dir}]"
            )
        }
        4 => {
            // A duplicate name in a directory, or an extra name for a file
            // whose nlink does not count it.
            let (dir, blk, slot) = rng.pick(&l.free_slots);
            let same: Vec<&DirentInfo> = l.dirents.iter().filter(|e| e.dir == dir).collect();
            let e = rng.pick(&same);
            let name = if rng.chance(1, 2) {
                e.name.clone()
            } else {
                b"fz-extra".to_vec()
            };
            format!(
                "dirent {blk}:{slot} = {},{},{} [another name for inode {} in {dir}]",
                e.ino,
                e.file_type,
                quote_name(&name),
                e.ino
            )
        }
        _ => {
            // A file's data on its own inode table block, or on the chain
            // block of the file itself.
            if !f.chain.is_empty() && rng.chance(1, 2) {
                format!("{target} physical = {} [its own chain block]", f.chain[0])
            } else {
                let (blk, _) = l.geo.inode_location(f.ino.into()).expect("valid inode");
                format!("{target} physical = {blk} [its own inode table block]")
            }
        }
    }
}

/// A byte of metadata: the superblock fields, an in-use inode, a chain
/// block, a directory block's entries, the bitmap's first bytes.
fn gen_flip(rng: &mut Rng, l: &Layout, crc: bool) -> String {
    let bs = BLOCK_SIZE as u64;
    let off = match rng.below(5) {
        0 => rng.below(104),
        1 => {
            let f = rng.pick(&l.files.values().collect::<Vec<_>>());
            let (blk, slot) = l.geo.inode_location(f.ino.into()).expect("valid inode");
            blk * bs + slot as u64 * INODE_SIZE as u64 + rng.below(INODE_CSUM_OFFSET as u64)
        }
        2 => {
            let f = rng.pick(&l.with_chain());
            rng.pick(&f.chain) * bs + rng.below(16 + 16 * 40)
        }
        3 => {
            let d = rng.pick(&l.dirents);
            d.block * bs + (d.slot * DIRENT_SIZE) as u64 + rng.below(8 + d.name.len() as u64 + 1)
        }
        _ => l.geo.bitmap_start * bs + rng.below(l.geo.total_blocks / 8),
    };
    let bit = rng.below(8);
    if crc {
        format!("flip {off}.{bit} crc")
    } else {
        format!("flip {off}.{bit}")
    }
}

/// The superblock's feature fields: 0, each known bit, unknown bits, with
/// the checksum fixed (so the decode's feature policy is what is tested).
/// Values equal to the seed's are not picked: each mutation changes the
/// image.
fn gen_features(rng: &mut Rng, disk: &MemDisk) -> String {
    let unknown = |rng: &mut Rng, known: u32| -> u64 {
        let bit = 1u32 << rng.below(32);
        let v = if bit & known != 0 { 1 << 31 } else { bit };
        u64::from(v)
    };
    let (name, values): (&str, Vec<u64>) = match rng.below(3) {
        0 => (
            "feature_compat",
            vec![0, unknown(rng, COMPAT_SUPPORTED), u64::from(u32::MAX)],
        ),
        1 => (
            "feature_ro_compat",
            vec![0, unknown(rng, RO_COMPAT_SUPPORTED), u64::from(u32::MAX)],
        ),
        _ => {
            let u = u64::from(INCOMPAT_UNWRITTEN);
            let other = unknown(rng, INCOMPAT_SUPPORTED);
            (
                "feature_incompat",
                vec![0, u, other, u | other, u64::from(u32::MAX)],
            )
        }
    };
    let (_, off, width) = SB_FIELDS
        .iter()
        .copied()
        .find(|f| f.0 == name)
        .expect("a feature field");
    let cur = get(disk, off, width);
    let values: Vec<u64> = values.into_iter().filter(|&v| v != cur).collect();
    let v = rng.pick(&values);
    format!("sb {name} = {}", hex(v))
}

/// The unwritten flag (bit 31 of `len`) on an extent of a regular file
/// (valid) or of a directory (refused), inline or in a chain block.
fn gen_unwritten(rng: &mut Rng, l: &Layout) -> String {
    let dir = rng.chance(1, 3);
    let pool: Vec<&FileInfo> = l
        .with_extents()
        .into_iter()
        .filter(|f| f.inode.is_dir() == dir)
        .collect();
    let pool = if pool.is_empty() {
        l.with_extents()
    } else {
        pool
    };
    let f = rng.pick(&pool);
    let idx = rng.below(f.extents.len() as u64) as usize;
    let e = f.extents[idx];
    let target = if idx < INLINE_EXTENTS {
        format!("inode {} extent {idx}", f.ino)
    } else {
        let c = (idx - INLINE_EXTENTS) / CHAIN_EXTENTS;
        let k = (idx - INLINE_EXTENTS) % CHAIN_EXTENTS;
        format!("chain {} extent {k}", f.chain[c])
    };
    let what = if f.inode.is_dir() {
        "directory"
    } else {
        "regular file"
    };
    // Mostly the flag on the extent's own length; sometimes the flag on
    // a length of 0 or the longest one.
    let len = match rng.below(6) {
        0 => 0,
        1 => MAX_EXTENT_LEN,
        _ => e.len,
    };
    format!(
        "{target} len = {} [unwritten, {what}]",
        hex(u64::from(len | EXTENT_UNWRITTEN))
    )
}

/// One mutation of family `fam`.
pub fn gen_family(rng: &mut Rng, l: &Layout, disk: &MemDisk, fam: &str) -> String {
    match fam {
        "sb" => gen_sb(rng, disk),
        "mode" => gen_mode(rng, l),
        "nlink" => gen_nlink(rng, l),
        "size" => gen_size(rng, l),
        "attr" => gen_attr(rng, l),
        "extcount" => gen_extcount(rng, l),
        "parent" => gen_parent(rng, l),
        "extent" => gen_extent(rng, l),
        "chain" => gen_chain(rng, l),
        "chainext" => gen_chainext(rng, l),
        "dirent" => gen_dirent(rng, l),
        "bitmap" => gen_bitmap(rng, l),
        "cross" => gen_cross(rng, l),
        "flip" => gen_flip(rng, l, false),
        "features" => gen_features(rng, disk),
        "unwritten" => gen_unwritten(rng, l),
        _ => gen_flip(rng, l, true),
    }
}

/// The spec of image `index` of campaign `seed`: 1 to 3 mutations, the
/// first one's family as the prefix. Raw flips without checksum fix-up go
/// last, so no later fix-up repairs them.
pub fn generate(seed: u64, index: u64, l: &Layout, disk: &MemDisk) -> String {
    let mut rng = Rng::for_image(seed, index);
    let first = FAMILIES[(index % FAMILIES.len() as u64) as usize];
    let n = match rng.below(20) {
        0..=11 => 1,
        12..=16 => 2,
        _ => 3,
    };
    let mut muts = vec![gen_family(&mut rng, l, disk, first)];
    for _ in 1..n {
        let fam = rng.pick(FAMILIES);
        muts.push(gen_family(&mut rng, l, disk, fam));
    }
    // Stable: the first mutation stays first unless it is a raw flip.
    muts.sort_by_key(|m| m.starts_with("flip") && !m.ends_with("crc"));
    format!("{first}: {}", muts.join(" ; "))
}

/// The image for `spec`: the seed with the mutations applied.
pub fn mutate(seed: &MemDisk, l: &Layout, spec: &str) -> Result<MemDisk, String> {
    let mut disk = seed.clone();
    apply(&mut disk, &l.geo, spec)?;
    Ok(disk)
}

/// Writes `disk` to `path` sparsely: only blocks that are not all zero.
pub fn save_sparse(disk: &MemDisk, path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::create(path)?;
    f.set_len(disk.data.len() as u64)?;
    for (i, block) in disk.data.chunks(BLOCK_SIZE).enumerate() {
        if block.iter().any(|&b| b != 0) {
            f.write_all_at(block, (i * BLOCK_SIZE) as u64)?;
        }
    }
    Ok(())
}

/// Reads an image file into memory.
pub fn load(path: &std::path::Path) -> std::io::Result<MemDisk> {
    let mut data = std::fs::read(path)?;
    data.truncate(data.len() / BLOCK_SIZE * BLOCK_SIZE);
    Ok(MemDisk { data })
}

// ---------------------------------------------------------------------------
// The dirindex family: a seed with an indexed directory
// ---------------------------------------------------------------------------

/// The family that mutates a directory index. It has its own seed
/// ([`build_dirindex_seed`]) and campaign ([`generate_dirindex`]), and is
/// not in [`FAMILIES`]: that list picks every image's families, so adding
/// to it would change the images of every existing campaign seed.
pub const DIRINDEX_FAMILY: &str = "dirindex";

/// Names in the indexed directory of the dirindex seed, before some are
/// removed to leave free slots between used ones.
pub const DIRINDEX_NAMES: u32 = 400;

/// The hash seed of the dirindex seed's index.
const DIRINDEX_HASH_SEED: u32 = 0x5eed_d1c5;

/// Header fields of an index (its block at offset 0): `index D FIELD = V`.
const INDEX_FIELDS: &[(&str, usize, usize)] = &[
    ("magic", 0, 4),
    ("version", 4, 4),
    ("seed", 8, 4),
    ("log", 12, 1),
    ("live", 13, 1),
    ("reserved", 14, 2),
    ("records", 16, 4),
    ("entry_blocks", 20, 4),
    ("reserved2", 24, 8),
    ("csum", BLOCK_CSUM_OFFSET, 4),
];

/// Fields of an index table block: `index D at A FIELD = V`.
const TABLE_FIELDS: &[(&str, usize, usize)] = &[
    ("magic", 0, 4),
    ("self", 4, 4),
    ("tail", 4088, 4),
    ("csum", BLOCK_CSUM_OFFSET, 4),
];

const INDEX_BITMAP_AT: usize = 32;
const TABLE_RECORDS_AT: usize = 8;

/// An index in memory, for building the seed's.
struct MemIndex(BTreeMap<u32, Box<Block>>);

impl IndexStore for MemIndex {
    type Error = IndexError;

    fn read<R>(&mut self, at: u32, f: impl FnOnce(&Block) -> R) -> Result<R, IndexError> {
        self.0.get(&at).map(|b| f(b)).ok_or(IndexError::BadMagic)
    }

    fn write<R>(&mut self, at: u32, f: impl FnOnce(&mut Block) -> R) -> Result<R, IndexError> {
        self.0
            .get_mut(&at)
            .map(|b| f(b))
            .ok_or(IndexError::BadMagic)
    }

    fn alloc(&mut self, at: u32) -> Result<(), IndexError> {
        self.0.insert(at, Box::new([0; BLOCK_SIZE]));
        Ok(())
    }

    fn free(&mut self, at: u32) -> Result<(), IndexError> {
        self.0.remove(&at);
        Ok(())
    }
}

/// `extents` with neighbours that continue each other merged.
fn merge_extents(extents: &[Extent]) -> Vec<Extent> {
    let mut out: Vec<Extent> = Vec::new();
    for e in extents {
        if let Some(last) = out.last_mut() {
            if !last.unwritten
                && !e.unwritten
                && last.logical_end() == u64::from(e.logical)
                && last.physical_end() == e.physical
                && last.len + e.len <= MAX_EXTENT_LEN
            {
                last.len += e.len;
                continue;
            }
        }
        out.push(*e);
    }
    out
}

/// The dirindex seed (deterministic): forty files in the root, a directory
/// `big` of [`DIRINDEX_NAMES`] hard links to them, every 37th from the
/// 45th removed (free slots between used ones, and in the last block),
/// with its index as the kernel keeps it: a two-block table in region 1
/// (it grew once), the free-slot bitmap naming the blocks with free slots.
/// `big`'s entry blocks, index header and table are three inline extents.
/// A small directory `d1` with a file and a file `frag` with an extent
/// chain block are more metadata to point at.
/// fsck finds it clean.
pub fn build_dirindex_seed() -> MemDisk {
    let mut b = ImageBuilder::new(SEED_BLOCKS, SEED_INODES);
    let mut targets = Vec::new();
    for i in 0..40u32 {
        let e = b.data_extent(0, 1);
        let size = 200 + u64::from(i) * 91;
        targets.push(file(&mut b, ROOT, &format!("t{i:02}"), size, &[e]));
    }
    let d1 = b.create_dir(ROOT, "d1");
    let e = b.data_extent(0, 1);
    file(&mut b, d1, "a", 3000, &[e]);
    // 20 extents with holes between: 8 inline, 12 in a chain block.
    let frag: Vec<Extent> = (0..20).map(|i| b.data_extent(2 * i, 1)).collect();
    file(&mut b, ROOT, "frag", 40 * BLOCK_SIZE as u64, &frag);
    let big = b.create_dir(ROOT, "big");
    for i in 0..DIRINDEX_NAMES {
        let t = targets[(i % 40) as usize];
        b.link(big, &format!("n{i:03}"), t);
    }
    for i in (45..DIRINDEX_NAMES).step_by(37) {
        let name = format!("n{i:03}");
        if let Some((blk, slot)) = b.find_entry(big, &name) {
            let _ = encode_dirent(b.block_mut(blk), slot, None);
            b.update_inode(targets[(i % 40) as usize], |t| t.nlink -= 1);
        }
    }
    let entry = merge_extents(&b.extents(big));
    b.set_extents(big, &entry);
    // The entries by slot, and which blocks have a free one.
    let mut names = Vec::new();
    let mut free_blocks = Vec::new();
    for e in &entry {
        for i in 0..e.len {
            let lblk = e.logical + i;
            let mut free = false;
            for s in 0..DIRENTS_PER_BLOCK {
                match decode_dirent(b.block(e.physical + u64::from(i)), s) {
                    Ok(Some(d)) => {
                        names.push((lblk * DIRENTS_PER_BLOCK as u32 + s as u32, d.name.to_vec()))
                    }
                    _ => free = true,
                }
            }
            if free {
                free_blocks.push(lblk);
            }
        }
    }
    let entry_blocks: u32 = entry.iter().map(|e| e.len).sum();
    let mut store = MemIndex(BTreeMap::new());
    let mut ix = DirIndex::create(&mut store, DIRINDEX_HASH_SEED, entry_blocks)
        .expect("index of the dirindex seed");
    for (slot, name) in &names {
        ix.insert(name, *slot).expect("index insert");
    }
    for k in free_blocks {
        ix.set_block_free(k, true).expect("index bitmap");
    }
    ix.finish().expect("index finish");
    // Consecutive offsets in consecutive blocks: one extent each run.
    let mut all = entry;
    let mut run: Option<(u32, u32)> = None;
    let offsets: Vec<u32> = store.0.keys().copied().collect();
    let flush = |b: &mut ImageBuilder, run: (u32, u32), all: &mut Vec<Extent>| {
        let logical = DIR_INDEX_BASE as u32 + run.0;
        let e = b.data_extent(logical, run.1);
        for i in 0..run.1 {
            if let Some(src) = store.0.get(&(run.0 + i)) {
                b.block_mut(e.physical + u64::from(i))
                    .copy_from_slice(&src[..]);
            }
        }
        all.push(e);
    };
    for at in offsets {
        run = match run {
            Some((first, len)) if first + len == at => Some((first, len + 1)),
            Some(r) => {
                flush(&mut b, r, &mut all);
                Some((at, 1))
            }
            None => Some((at, 1)),
        };
    }
    if let Some(r) = run {
        flush(&mut b, r, &mut all);
    }
    b.set_extents(big, &all);
    b.disk
}

/// The indexed directory of a (valid) dirindex seed, for picking targets.
#[derive(Clone, Debug)]
pub struct IndexInfo {
    /// The directory.
    pub dir: u32,
    /// Its header as decoded.
    pub header: IndexHeader,
    /// Offsets (from [`DIR_INDEX_BASE`]) of the live table's blocks.
    pub table: Vec<u32>,
    /// Used records: block offset, position, record.
    pub records: Vec<(u32, usize, Record)>,
    /// Empty records: block offset, position.
    pub empty: Vec<(u32, usize)>,
    /// Used entry slots.
    pub used_slots: Vec<u32>,
    /// Free entry slots below the size.
    pub free_slots: Vec<u32>,
    /// Inline extent numbers of the directory's entry blocks, index
    /// header and table (in that order), as extents.
    pub extents: Vec<(usize, Extent)>,
    /// Entry blocks whose bitmap bit is set.
    pub free_bits: Vec<u32>,
}

impl IndexInfo {
    /// Finds the first directory of `l` with an index and reads it.
    pub fn scan(disk: &MemDisk, l: &Layout) -> Result<Self, String> {
        let f = l
            .dirs()
            .into_iter()
            .find(|f| {
                f.extents
                    .iter()
                    .any(|e| u64::from(e.logical) >= DIR_INDEX_BASE)
            })
            .ok_or("no indexed directory")?;
        let phys = |at: u32| {
            let lblk = DIR_INDEX_BASE + u64::from(at);
            f.extents
                .iter()
                .find(|e| u64::from(e.logical) <= lblk && lblk < e.logical_end())
                .map(|e| e.physical + (lblk - u64::from(e.logical)))
                .ok_or(format!("index block {at} not mapped"))
        };
        let hb = disk.block(phys(0)?);
        let header = IndexHeader::decode(hb).map_err(|e| format!("seed index: {e}"))?;
        let free_bits = (0..header.entry_blocks)
            .filter(|&k| index_bitmap_test(hb, k))
            .collect();
        let table: Vec<u32> = (0..1u32 << header.table_log)
            .filter_map(|n| table_block_offset(header.live, n))
            .collect();
        let mut records = Vec::new();
        let mut empty = Vec::new();
        for &at in &table {
            let blk = disk.block(phys(at)?);
            for p in 0..RECORDS_PER_TABLE_BLOCK {
                match table_record(blk, p) {
                    Some(r) => records.push((at, p, r)),
                    None => empty.push((at, p)),
                }
            }
        }
        let mut used_slots = Vec::new();
        let mut free_slots = Vec::new();
        for e in f
            .extents
            .iter()
            .filter(|e| u64::from(e.logical) < DIR_INDEX_BASE)
        {
            for i in 0..e.len {
                let base = (e.logical + i) * DIRENTS_PER_BLOCK as u32;
                for s in 0..DIRENTS_PER_BLOCK {
                    match decode_dirent(disk.block(e.physical + u64::from(i)), s) {
                        Ok(Some(_)) => used_slots.push(base + s as u32),
                        _ => free_slots.push(base + s as u32),
                    }
                }
            }
        }
        let extents = f
            .extents
            .iter()
            .copied()
            .enumerate()
            .take(INLINE_EXTENTS)
            .collect();
        Ok(Self {
            dir: f.ino,
            header,
            table,
            records,
            empty,
            used_slots,
            free_slots,
            extents,
            free_bits,
        })
    }
}

/// The disk block of offset `at` of directory `dir`'s index, from its
/// extents on `disk` as they are now.
fn index_block(disk: &MemDisk, geo: &Geometry, dir: u64, at: u64) -> Result<u64, String> {
    let (blk, slot) = geo
        .inode_location(dir)
        .ok_or_else(|| format!("no inode {dir}"))?;
    let raw = inode_slot(disk.block(blk), slot).ok_or("inode slot")?;
    let inode = Inode::decode(raw)
        .map_err(|e| format!("inode {dir}: {e}"))?
        .ok_or_else(|| format!("inode {dir} is free"))?;
    let lblk = DIR_INDEX_BASE.saturating_add(at);
    let mut found = None;
    let _ = walk_extents_of(
        geo,
        &inode,
        true,
        |b, f| {
            if b < disk_blocks(disk) {
                f(disk.block(b));
            }
            Ok::<_, Infallible>(())
        },
        |visit| {
            if let Visit::Extent(e) = visit {
                if u64::from(e.logical) <= lblk && lblk < e.logical_end() {
                    found = Some(e.physical + (lblk - u64::from(e.logical)));
                }
            }
            Ok(())
        },
    );
    found.ok_or_else(|| format!("directory {dir}: index block {at} is not mapped"))
}

/// `index D ...` (tokens after `index`, the value): see [`apply_index`].
fn apply_index_one(
    disk: &mut MemDisk,
    geo: &Geometry,
    lhs: &[&str],
    value: &str,
) -> Result<(), String> {
    let csum_field = lhs.last() == Some(&"csum");
    let [d, rest @ ..] = lhs else {
        return Err("index: no directory".to_string());
    };
    let dir = parse_num(d)?;
    let (at, rest) = match rest {
        ["at", a, rest @ ..] => (parse_num(a)?, rest),
        _ => (0, rest),
    };
    let start = block_start(disk, index_block(disk, geo, dir, at)?)?;
    match rest {
        ["bit", k] if at == 0 => {
            let k = parse_num(k)? as usize;
            let byte = start + INDEX_BITMAP_AT + k / 8;
            if byte >= start + BLOCK_CSUM_OFFSET {
                return Err(format!("bitmap bit {k} is past the header"));
            }
            match parse_num(value)? {
                0 => disk.data[byte] &= !(1 << (k % 8)),
                _ => disk.data[byte] |= 1 << (k % 8),
            }
        }
        ["record", p, f @ ..] if at != 0 => {
            let p = parse_num(p)? as usize;
            if p >= RECORDS_PER_TABLE_BLOCK {
                return Err(format!("record {p} of {RECORDS_PER_TABLE_BLOCK}"));
            }
            let r = start + TABLE_RECORDS_AT + p * 8;
            match f {
                ["hash"] => put(disk, r, 4, parse_num(value)?)?,
                ["slot"] => put(
                    disk,
                    r + 4,
                    4,
                    parse_num(value)?.wrapping_add(1) & 0xffff_ffff,
                )?,
                [] if value == "empty" => {
                    put(disk, r, 4, 0)?;
                    put(disk, r + 4, 4, 0)?;
                }
                [] => {
                    let parts = split_commas(value);
                    let [h, s] = parts.as_slice() else {
                        return Err(format!("record {value:?} is not HASH,SLOT or empty"));
                    };
                    put(disk, r, 4, parse_num(h)?)?;
                    put(disk, r + 4, 4, parse_num(s)?.wrapping_add(1) & 0xffff_ffff)?;
                }
                _ => return Err(format!("bad record mutation {f:?}")),
            }
        }
        [f] => {
            let table = if at == 0 { INDEX_FIELDS } else { TABLE_FIELDS };
            let (off, width) = field(table, f)?;
            put(disk, start + off, width, parse_num(value)?)?;
        }
        _ => return Err(format!("bad index mutation {:?}", lhs.join(" "))),
    }
    if !csum_field {
        fix(
            disk,
            &Csum::At {
                start,
                len: BLOCK_SIZE,
            },
        );
    }
    Ok(())
}

/// One mutation of the dirindex family, on the dirindex seed `l` with its
/// index `ix`.
pub fn gen_dirindex(rng: &mut Rng, l: &Layout, ix: &IndexInfo) -> String {
    let d = ix.dir;
    let h = &ix.header;
    let entry_slots = h.entry_slots();
    let pick_rec = |rng: &mut Rng| rng.pick(&ix.records);
    let rec_at = |at: u32, p: usize| format!("index {d} at {at} record {p}");
    match rng.below(17) {
        0 => {
            let v = rng.pick(&[
                0,
                u64::from(h.table_log) + 1,
                u64::from(h.table_log).wrapping_sub(1) & 0xff,
                u64::from(MAX_TABLE_LOG),
                u64::from(MAX_TABLE_LOG) + 1,
                255,
            ]);
            format!("index {d} log = {v} [table size]")
        }
        1 => {
            let v = rng.pick(&[
                0,
                u64::from(h.records) + 1,
                u64::from(h.records) - 1,
                u64::from(h.slots() / 2),
                u64::from(h.slots() / 2) + 1,
                u64::from(u32::MAX),
            ]);
            format!("index {d} records = {}", hex(v))
        }
        2 => {
            let v = rng.pick(&[u64::from(h.live ^ 1), 2, 255]);
            format!("index {d} live = {v}")
        }
        3 => {
            let v = if rng.chance(1, 2) {
                u64::from(h.seed ^ 1)
            } else {
                rng.next_u64() & 0xffff_ffff
            };
            format!("index {d} seed = {}", hex(v))
        }
        4 => {
            let v = rng.pick(&[
                0,
                u64::from(h.entry_blocks) + 1,
                u64::from(h.entry_blocks) - 1,
                u64::from(MAX_ENTRY_BLOCKS) + 1,
                u64::from(u32::MAX),
            ]);
            format!("index {d} entry_blocks = {}", hex(v))
        }
        5 => match rng.below(3) {
            0 if !ix.free_bits.is_empty() => {
                format!("index {d} bit {} = 0 [hint only]", rng.pick(&ix.free_bits))
            }
            1 => {
                let full: Vec<u32> = (0..h.entry_blocks)
                    .filter(|k| !ix.free_bits.contains(k))
                    .collect();
                match full.is_empty() {
                    true => format!("index {d} bit 0 = 1"),
                    false => format!(
                        "index {d} bit {} = 1 [a full block, hint only]",
                        rng.pick(&full)
                    ),
                }
            }
            _ => {
                let k = h.entry_blocks + rng.below(20) as u32;
                format!("index {d} bit {k} = 1 [past the entry blocks]")
            }
        },
        6 => {
            let (f, v) = rng.pick(&[
                ("magic", 0u64),
                ("version", 2),
                ("version", 0),
                ("reserved", 1),
                ("reserved2", 1 << 40),
            ]);
            format!("index {d} {f} = {}", hex(v))
        }
        7 => {
            let (at, p, _) = pick_rec(rng);
            let v = rng.pick(&[
                u64::from(entry_slots),
                u64::from(entry_slots) + 1,
                u64::from(entry_slots) + DIRENTS_PER_BLOCK as u64,
                0x7fff_ffff,
                u64::from(u32::MAX) - 1,
            ]);
            format!("{} slot = {} [past the entries]", rec_at(at, p), hex(v))
        }
        8 => {
            let (at, p, _) = pick_rec(rng);
            let v = rng.pick(&ix.free_slots);
            format!("{} slot = {v} [a free slot]", rec_at(at, p))
        }
        9 => {
            let (at, p, r) = pick_rec(rng);
            let other: Vec<u32> = ix
                .used_slots
                .iter()
                .copied()
                .filter(|&s| s != r.slot)
                .collect();
            format!(
                "{} slot = {} [another name's slot]",
                rec_at(at, p),
                rng.pick(&other)
            )
        }
        10 => {
            let (_, _, r) = pick_rec(rng);
            let (at, p) = rng.pick(&ix.empty);
            format!(
                "{} = {},{} [duplicated record]",
                rec_at(at, p),
                hex(u64::from(r.hash)),
                r.slot
            )
        }
        11 => {
            let (at, p, r) = pick_rec(rng);
            let v = match rng.below(3) {
                0 => r.hash ^ 1,
                1 => r.hash ^ 0x8000_0000,
                _ => rng.next_u64() as u32,
            };
            format!(
                "{} hash = {} [hash changed]",
                rec_at(at, p),
                hex(u64::from(v))
            )
        }
        12 => {
            let (at, p, _) = pick_rec(rng);
            format!("{} = empty [record removed]", rec_at(at, p))
        }
        13 => {
            let (at, p) = rng.pick(&ix.empty);
            format!(
                "{} hash = {} [empty record with a hash]",
                rec_at(at, p),
                hex(1 + rng.below(0xffff))
            )
        }
        14 => {
            let at = rng.pick(&ix.table);
            let (f, v) = rng.pick(&[
                ("self", u64::from(at) + 1),
                ("self", 0),
                ("magic", u64::from(INDEX_MAGIC)),
                ("tail", 1),
            ]);
            format!("index {d} at {at} {f} = {}", hex(v))
        }
        15 => {
            // Index blocks unmapped: the header's or the table's extent
            // dropped, or the table shortened.
            let idx: Vec<(usize, Extent)> = ix
                .extents
                .iter()
                .copied()
                .filter(|(_, e)| u64::from(e.logical) >= DIR_INDEX_BASE)
                .collect();
            let (k, e) = rng.pick(&idx);
            if e.len > 1 && rng.chance(1, 2) {
                format!(
                    "inode {d} extent {k} len = {} [a table block unmapped]",
                    e.len - 1
                )
            } else {
                format!("inode {d} extent_count = {k} [index extents {k}.. unmapped]")
            }
        }
        _ => {
            // Index blocks mapped over other metadata or data.
            let idx: Vec<(usize, Extent)> = ix
                .extents
                .iter()
                .copied()
                .filter(|(_, e)| u64::from(e.logical) >= DIR_INDEX_BASE)
                .collect();
            let (k, _) = rng.pick(&idx);
            let (v, why) = block_ref(rng, l, d);
            format!("inode {d} extent {k} physical = {} [over {why}]", hex(v))
        }
    }
}

/// The spec of dirindex image `index` of campaign `seed` on the dirindex
/// seed: 1 to 3 index mutations, prefixed `dirindex:`. Index mutations go
/// before inode ones (they find the index through the inode's extents).
pub fn generate_dirindex(seed: u64, index: u64, l: &Layout, ix: &IndexInfo) -> String {
    // A distinct stream: image i of the family is not image i of the
    // classic campaign.
    let mut rng = Rng::for_image(seed ^ 0xd1d1_d1d1_0000_0000, index);
    let n = match rng.below(20) {
        0..=13 => 1,
        14..=17 => 2,
        _ => 3,
    };
    let mut muts: Vec<String> = (0..n).map(|_| gen_dirindex(&mut rng, l, ix)).collect();
    muts.sort_by_key(|m| m.starts_with("inode"));
    format!("{DIRINDEX_FAMILY}: {}", muts.join(" ; "))
}

/// The seed a spec applies to: the dirindex seed for a `dirindex:` spec,
/// the classic one otherwise.
pub fn seed_for(spec: &str) -> MemDisk {
    if family(spec) == Some(DIRINDEX_FAMILY) {
        build_dirindex_seed()
    } else {
        build_seed()
    }
}
