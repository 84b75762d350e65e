//! Checking and repairing an unmounted filesystem.
//!
//! [`check`] is read-only. Its passes, each adding one line per problem to
//! the report:
//!
//! 1. the superblock (nothing else is checked if it is refused);
//! 2. every inode slot, and each in-use inode's extents and extent chain;
//!    every block that metadata, an extent or an extent block uses is
//!    claimed in the shared [`ClaimMap`] (the map the kernel builds at
//!    mount): metadata first, then the inodes in increasing number, each
//!    inode's extents and extent blocks in stored order. The first claimant
//!    of a block owns it; a later one loses the extent (or, for an extent
//!    block, the rest of its chain);
//! 3. blocks used twice, then the bitmap against the used set;
//! 4. directory entries;
//! 5. reachability from the root (a spanning tree that prefers each
//!    directory's `parent` field), link counts and `parent` fields.
//!
//! Every problem has a [`Level`]: the least [`Repair`] mode that fixes it.
//! [`repair`] runs the check, applies the fixes the mode allows (every write
//! through the shared encoders, checksums recomputed), and checks again,
//! until nothing more can be fixed; later passes pick up what earlier fixes
//! leave behind (the blocks of a dropped extent are leaked until the next
//! pass frees them).
//!
//! The repairs:
//!
//! | problem | fix | level |
//! |---|---|---|
//! | bitmap marks a used block free (metadata included), or not the bits past the end | mark used | preen |
//! | bitmap marks a block used that nothing uses (leaked) | mark free | preen, unless problems needing `-y` remain (they may be why the block looks unused) |
//! | regular file with written blocks past its size (unwritten ones are preallocation) | trim the written extents (the blocks are then leaked and freed) | preen |
//! | wrong link count of a reachable inode | set it to the count of names (directories: 2 + subdirectories) | preen |
//! | directory whose `parent` is not the directory that names it | set `parent` | preen |
//! | entry whose file type is not the inode's | set the type | preen |
//! | unreachable inode with nlink 0 that no entry names (and, for a directory, empty) | free it | preen |
//! | other unreachable inodes | link into the root as `#INO` (the top of an unreachable tree; its subtree comes with it) | `-y` |
//! | block used twice | the later claimant loses the extent (no cloning: the data is the first owner's) | `-y` |
//! | invalid extent (overlapping, outside the data area, unwritten in a directory), broken extent chain | drop the extent / the rest of the chain | `-y` |
//! | directory extents past its size, holes in a directory, a size that is not its blocks | trim past the size, close holes, size = 4096 × blocks | `-y` |
//! | size beyond [`MAX_FILE_SIZE`] | the end of the last extent | `-y` |
//! | `parent` set on a non-directory | clear it | `-y` |
//! | inode that does not decode (checksum, mode, ...), symlink | free it (entries naming it are cleared, its blocks freed) | `-y` |
//! | bad, duplicate or dangling entry, entry naming the root, second name of a directory | clear the entry | `-y` |
//! | directory block tail not zero | zero it | `-y` |
//! | directory index that does not decode or does not match the entries (header, table blocks, a record on a free or another name's slot or past the entries, a slot twice, counts, a name its lookup misses, blocks outside the live table) | drop the index extents (the entries stay; the kernel indexes the directory again when it next grows) | preen |
//!
//! A free root, a root that is not a directory and a bad superblock are not
//! repaired.
//!
//! An image with read-only compatible features fsck does not know is not
//! checked (one problem, not repaired), as e2fsck refuses one: their
//! metadata could look wrong to it, and a repair could damage it.
//!
//! Unwritten extents (allocated, no data yet) are checked like any other:
//! their blocks are in use, claimed, and must be marked so in the bitmap; a
//! directory's unwritten extent is an invalid extent (dropped by `-y`). The
//! summary counts their blocks.
//!
//! # Upgrade
//!
//! An image made before format feature bits is refused by the superblock
//! check ([`FormatError::NeedsUpgrade`], exit 4). [`upgrade`] (`fsck.delafs
//! --upgrade`) checks it as it is (repairing it first with `-p` / `-y`),
//! and if it is clean and no extent has bit 31 of its length set (an old
//! image could only mean a length of 2^31 blocks or more, which the new
//! format cannot say), sets [`INCOMPAT_UNWRITTEN`] and [`INCOMPAT_DIR_INDEX`]
//! in the superblock and checks it again as a current image. A clean image
//! with feature bits but without [`INCOMPAT_DIR_INDEX`] gets that bit (its
//! directories are indexed by the kernel when they next grow by a block).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::io;

use delafs::shared::claim::{words_for, ClaimMap};
use delafs::shared::crc32c::crc32c;
use delafs::shared::format::{
    bitmap_set, bitmap_test, check_dir_block_tail, decode_dirent, dirent_is_free, encode_dirent,
    inode_slot, inode_slot_mut, is_index_block, name_hash, table_block_offset, Block, ChainError,
    ChainLayout, ChainPlan, ChainWalk, DirEntry, DirIndex, Extent, ExtentChecker, FormatError,
    Geometry, IndexError, IndexStore, Inode, RecordError, Superblock, BITS_PER_BITMAP_BLOCK,
    BLOCK_SIZE, DIRENTS_PER_BLOCK, DIR_BLOCK_USED, DIR_INDEX_BASE, DT_DIR, DT_REG,
    INCOMPAT_DIR_INDEX, INCOMPAT_UNWRITTEN, INODES_PER_BLOCK, INODE_CSUM_OFFSET, INODE_SIZE,
    MAX_FILE_SIZE, ROOT_INO, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG,
};

use super::disk::{zeroed_block, Disk};

/// Dup ranges reported in detail; more are only counted.
const MAX_DUP_REPORTS: usize = 100;
/// Repair passes before giving up on fixes that do not converge.
const MAX_PASSES: usize = 16;

const BS: u64 = BLOCK_SIZE as u64;

/// How much a repair may change.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Repair {
    /// `-p`: the safe fixes only.
    Preen,
    /// `-y`: every fix.
    Yes,
}

/// The least repair mode that fixes a problem.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Level {
    /// Fixed by `-p`.
    Preen,
    /// Fixed by `-p` when no problem needing `-y` is left (freeing leaked
    /// blocks: a corrupt inode may be why they look unused).
    PreenAlone,
    /// Fixed by `-y` only.
    Yes,
    /// Not repaired.
    Never,
}

/// What fsck found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// One line per problem; empty for a clean filesystem.
    pub problems: Vec<String>,
    /// The level of each problem, in the order of `problems`.
    pub levels: Vec<Level>,
    /// What was checked, for `-v`.
    pub notes: Vec<String>,
    /// The layout, if the superblock was accepted.
    pub geometry: Option<Geometry>,
    /// In-use inodes that are not directories.
    pub files: u64,
    /// In-use directories, the root included.
    pub dirs: u64,
    /// Blocks in use (metadata, file data, extent blocks).
    pub used_blocks: u64,
    /// Blocks not in use.
    pub free_blocks: u64,
    /// Blocks of unwritten extents (counted in `used_blocks` too).
    pub unwritten_blocks: u64,
}

impl Report {
    /// Whether no problem was found.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// The highest level of the problems found (`None` when clean).
    pub fn worst(&self) -> Option<Level> {
        self.levels.iter().copied().max()
    }

    /// The one-line summary.
    pub fn summary(&self, name: &str) -> String {
        let state = match self.problems.len() {
            0 => "clean".to_string(),
            1 => "1 problem".to_string(),
            n => format!("{n} problems"),
        };
        let unwritten = if self.unwritten_blocks > 0 {
            format!(" ({} unwritten)", self.unwritten_blocks)
        } else {
            String::new()
        };
        match &self.geometry {
            Some(g) => format!(
                "{name}: {state}, {} files, {} directories, {}/{} blocks used{unwritten}, {} free",
                self.files, self.dirs, self.used_blocks, g.total_blocks, self.free_blocks
            ),
            None => format!("{name}: {state}, superblock refused"),
        }
    }
}

/// What a repair did.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The problems found before anything was changed.
    pub found: Report,
    /// One line per fix applied, in order.
    pub fixed: Vec<String>,
    /// The check after the repair: what is left.
    pub after: Report,
    /// Check-and-fix passes run.
    pub passes: usize,
}

/// e2fsck's exit status for a check (`fixed` false) or a repair: 0 clean,
/// 1 errors corrected, 4 errors left uncorrected.
pub fn exit_code(after: &Report, fixed: bool) -> u8 {
    if !after.is_clean() {
        4
    } else if fixed {
        1
    } else {
        0
    }
}

/// Who uses a block.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Owner {
    Metadata,
    Data(u32),
    Chain(u32),
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Metadata => write!(f, "filesystem metadata"),
            Owner::Data(ino) => write!(f, "inode {ino}"),
            Owner::Chain(ino) => write!(f, "inode {ino} (extent block)"),
        }
    }
}

/// One bit per block; out-of-range bits read as clear and are not written.
#[derive(Clone)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: u64) -> Self {
        Self(vec![0; usize::try_from(n.div_ceil(64)).unwrap_or(0)])
    }

    fn get(&self, i: u64) -> bool {
        usize::try_from(i / 64)
            .ok()
            .and_then(|w| self.0.get(w))
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn set(&mut self, i: u64) {
        if let Some(w) = usize::try_from(i / 64).ok().and_then(|w| self.0.get_mut(w)) {
            *w |= 1 << (i % 64);
        }
    }

    fn count(&self) -> u64 {
        self.0.iter().map(|w| u64::from(w.count_ones())).sum()
    }
}

/// Collects increasing block numbers into runs `[start, end)`.
#[derive(Default)]
struct Runs(Vec<(u64, u64)>);

impl Runs {
    fn push(&mut self, b: u64) {
        match self.0.last_mut() {
            Some((_, end)) if *end == b => *end += 1,
            _ => self.0.push((b, b + 1)),
        }
    }
}

fn blocks(start: u64, end: u64) -> String {
    if end - start == 1 {
        format!("block {start}")
    } else {
        format!("blocks {start}..{end} ({} blocks)", end - start)
    }
}

fn extent_str(e: &Extent) -> String {
    format!(
        "file blocks {}..{} -> {}..{}{}",
        e.logical,
        e.logical_end(),
        e.physical,
        e.physical_end(),
        if e.unwritten { ", unwritten" } else { "" }
    )
}

/// The line for a broken extent chain of inode `ino`: the count errors
/// name its `extent_count`.
fn chain_problem(ino: u32, inode: &Inode, e: &ChainError) -> String {
    match e {
        ChainError::PastCount { .. } | ChainError::TooMany { .. } | ChainError::Short { .. } => {
            format!("inode {ino}: {e} {}", inode.extent_count)
        }
        _ => format!("inode {ino}: {e}"),
    }
}

fn name_str(name: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(name))
}

fn kind_str(mode: u16) -> &'static str {
    match mode & S_IFMT {
        S_IFDIR => "directory",
        S_IFREG => "regular file",
        S_IFLNK => "symlink",
        _ => "inode",
    }
}

/// One past the last file block mapped by `extents` (sorted).
fn extents_end(extents: &[Extent]) -> u64 {
    extents.last().map_or(0, Extent::logical_end)
}

/// One past the last written (not unwritten) block of `extents`.
fn written_end(extents: &[Extent]) -> u64 {
    extents
        .iter()
        .filter(|e| !e.unwritten)
        .map(Extent::logical_end)
        .max()
        .unwrap_or(0)
}

/// A directory's index on the image, read-only, for [`DirIndex`].
struct IndexImage<'a, 'd> {
    disk: &'a mut (dyn Disk + 'd),
    /// Offset from [`DIR_INDEX_BASE`] -> disk block.
    map: &'a BTreeMap<u32, u64>,
}

/// Why an index read failed.
enum IndexImageError {
    Index(IndexError),
    Unmapped(u32),
    Io(io::Error),
}

impl From<IndexError> for IndexImageError {
    fn from(e: IndexError) -> Self {
        Self::Index(e)
    }
}

impl IndexImageError {
    /// An I/O error stays one; the others are problems of the image.
    fn into_problem(self) -> io::Result<Result<(), String>> {
        match self {
            Self::Index(e) => Ok(Err(e.describe().to_string())),
            Self::Unmapped(at) => Ok(Err(format!("block {at} is not mapped"))),
            Self::Io(e) => Err(e),
        }
    }
}

impl IndexStore for IndexImage<'_, '_> {
    type Error = IndexImageError;

    fn read<R>(&mut self, at: u32, f: impl FnOnce(&Block) -> R) -> Result<R, Self::Error> {
        let b = *self.map.get(&at).ok_or(IndexImageError::Unmapped(at))?;
        let mut block = zeroed_block();
        self.disk
            .read_block(b, &mut block)
            .map_err(IndexImageError::Io)?;
        Ok(f(&block))
    }

    fn write<R>(&mut self, at: u32, _: impl FnOnce(&mut Block) -> R) -> Result<R, Self::Error> {
        Err(IndexImageError::Io(io::Error::other(format!(
            "index block {at}: fsck checks the index read-only"
        ))))
    }

    fn alloc(&mut self, at: u32) -> Result<(), Self::Error> {
        self.write(at, |_| ())
    }

    fn free(&mut self, at: u32) -> Result<(), Self::Error> {
        self.write(at, |_| ())
    }
}

/// `extents` (sorted) without their written blocks past file block `end`.
fn trim_written(extents: &[Extent], end: u64) -> Vec<Extent> {
    let mut out = Vec::new();
    for e in extents {
        if e.unwritten || e.logical_end() <= end {
            out.push(*e);
        } else if u64::from(e.logical) < end {
            let mut e = *e;
            // Less than the old length, so it fits.
            e.len = u32::try_from(end - u64::from(e.logical)).unwrap_or(e.len);
            out.push(e);
        }
    }
    out
}

/// `extents` (sorted) cut at file block `end`.
fn trim(extents: &[Extent], end: u64) -> Vec<Extent> {
    let mut out = Vec::new();
    for e in extents {
        if u64::from(e.logical) >= end {
            break;
        }
        let mut e = *e;
        if e.logical_end() > end {
            // Less than the old length, so it fits.
            e.len = u32::try_from(end - u64::from(e.logical)).unwrap_or(e.len);
        }
        out.push(e);
    }
    out
}

/// A repair step.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Fix {
    /// Set (or clear) the bitmap bits of `[start, end)`.
    Bitmap { start: u64, end: u64, used: bool },
    /// Clear directory entry `slot` of disk block `block` of `dir`.
    ClearEntry { dir: u32, block: u64, slot: usize },
    /// Set the file type of an entry.
    EntryType {
        dir: u32,
        block: u64,
        slot: usize,
        file_type: u8,
    },
    /// Zero the tail of a directory block.
    DirTail { dir: u32, block: u64 },
    /// Zero an inode slot.
    FreeInode { ino: u32 },
    /// Set a link count.
    Nlink { ino: u32, nlink: u32 },
    /// Set a size.
    Size { ino: u32, size: u64 },
    /// Set a parent field.
    Parent { ino: u32, parent: u32 },
    /// Replace the extent list (rewriting the chain).
    Extents { ino: u32, extents: Vec<Extent> },
    /// Name an unreachable inode in the root.
    Reconnect { ino: u32, file_type: u8 },
}

impl fmt::Display for Fix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fix::Bitmap { start, end, used } => write!(
                f,
                "bitmap: {} marked {}",
                blocks(*start, *end),
                if *used { "in use" } else { "free" }
            ),
            Fix::ClearEntry { dir, block, slot } => {
                write!(f, "directory {dir}: entry {slot} of block {block} cleared")
            }
            Fix::EntryType {
                dir,
                block,
                slot,
                file_type,
            } => write!(
                f,
                "directory {dir}: entry {slot} of block {block} given file type {file_type}"
            ),
            Fix::DirTail { dir, block } => {
                write!(f, "directory {dir}: tail of block {block} zeroed")
            }
            Fix::FreeInode { ino } => write!(f, "inode {ino}: freed"),
            Fix::Nlink { ino, nlink } => write!(f, "inode {ino}: nlink set to {nlink}"),
            Fix::Size { ino, size } => write!(f, "inode {ino}: size set to {size}"),
            Fix::Parent { ino, parent } => write!(f, "inode {ino}: parent set to {parent}"),
            Fix::Extents { ino, extents } => write!(
                f,
                "inode {ino}: extents rewritten ({} extents, {} blocks)",
                extents.len(),
                extents.iter().map(|e| u64::from(e.len)).sum::<u64>()
            ),
            Fix::Reconnect { ino, .. } => write!(f, "inode {ino}: linked into the root"),
        }
    }
}

/// An in-use inode that decoded.
struct InodeInfo {
    /// As stored (for an inode decoded leniently, with the bad field).
    inode: Inode,
    /// Its extents that passed the checks and own their blocks, as a repair
    /// would leave them (trimmed, holes closed in a directory).
    extents: Vec<Extent>,
    /// The extent chain blocks it owns.
    chain: Vec<u64>,
    /// To be freed (a symlink): its names are cleared, its counts ignored.
    doomed: bool,
}

/// A valid directory entry.
struct Entry {
    dir: u32,
    ino: u32,
    block: u64,
    slot: usize,
    name: Vec<u8>,
    is_dir: bool,
}

/// A finished check: the report and what a repair needs.
struct Scan {
    report: Report,
    fixes: Vec<(Level, Fix)>,
    geo: Option<Geometry>,
    inodes: BTreeMap<u32, InodeInfo>,
    used: Bits,
    root_names: HashSet<Vec<u8>>,
}

struct Checker<'a> {
    disk: &'a mut dyn Disk,
    geo: Geometry,
    report: Report,
    fixes: Vec<(Level, Fix)>,
    /// Every in-data range something refers to, for the used set and dup
    /// reports.
    claims: Vec<(Owner, u64, u64)>,
    /// Who owns which block: first claimant wins.
    owners: ClaimMap<'a>,
    inodes: BTreeMap<u32, InodeInfo>,
    /// In-use slots that failed to decode.
    bad: HashSet<u32>,
    entries: Vec<Entry>,
    root_names: HashSet<Vec<u8>>,
    /// Checking an image from before feature bits for [`upgrade`].
    upgrading: bool,
    /// [`INCOMPAT_DIR_INDEX`]: directories' index blocks past their size
    /// are accepted, and checked against the entries by the directory
    /// pass.
    dir_index: bool,
}

/// Checks the filesystem on `disk`, read-only. `Err` only for I/O errors;
/// problems with the filesystem are in the report.
pub fn check(disk: &mut dyn Disk) -> io::Result<Report> {
    Ok(scan(disk, false)?.report)
}

/// Repairs the filesystem on `disk` as far as `how` allows. `Err` only for
/// I/O errors.
pub fn repair(disk: &mut dyn Disk, how: Repair) -> io::Result<Outcome> {
    repair_as(disk, how, false)
}

/// What [`upgrade`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum UpgradeState {
    /// The superblock already had feature bits: nothing to upgrade (the
    /// image was checked, or repaired, as usual).
    Current,
    /// [`INCOMPAT_UNWRITTEN`] was set.
    Upgraded,
    /// Not upgraded: problems are left, or the superblock is refused for
    /// another reason.
    NotUpgraded,
}

/// [`upgrade`]'s result: the check (or repair) of the image as found, and
/// after it `after` is the check of the image as left.
#[derive(Clone, Debug)]
pub struct Upgrade {
    /// The check or repair, the upgrade's check included in `after`.
    pub outcome: Outcome,
    /// Whether the superblock was changed.
    pub state: UpgradeState,
}

/// `fsck.delafs --upgrade`: makes an image from before format feature bits
/// current (see the module docs). With `how`, repairs it first; without,
/// only a clean image is upgraded. `Err` only for I/O errors.
pub fn upgrade(disk: &mut dyn Disk, how: Option<Repair>) -> io::Result<Upgrade> {
    let mut block = zeroed_block();
    if disk.blocks() > 0 {
        disk.read_block(0, &mut block)?;
    }
    let needs = Superblock::decode(&block, disk.blocks()) == Err(FormatError::NeedsUpgrade);
    let checked = |disk: &mut dyn Disk, upgrading| -> io::Result<Outcome> {
        match how {
            Some(how) => repair_as(disk, how, upgrading),
            None => {
                let found = scan(disk, upgrading)?.report;
                Ok(Outcome {
                    found: found.clone(),
                    after: found,
                    passes: 1,
                    ..Outcome::default()
                })
            }
        }
    };
    if !needs {
        let mut outcome = checked(disk, false)?;
        let mut state = if outcome.after.geometry.is_some() {
            UpgradeState::Current
        } else {
            UpgradeState::NotUpgraded
        };
        // Feature bits but no directory index: a clean image gets
        // INCOMPAT_DIR_INDEX (its directories stay linear until they next
        // grow by a block, when the kernel indexes them).
        if state == UpgradeState::Current && outcome.after.is_clean() {
            disk.read_block(0, &mut block)?;
            if let Ok(mut sb) = Superblock::decode(&block, disk.blocks()) {
                if !sb.features.dir_index() {
                    sb.features.incompat |= INCOMPAT_DIR_INDEX;
                    sb.encode(&mut block);
                    disk.write_block(0, &block)?;
                    disk.flush()?;
                    outcome.after = check(disk)?;
                    state = UpgradeState::Upgraded;
                }
            }
        }
        return Ok(Upgrade { outcome, state });
    }
    let mut outcome = checked(disk, true)?;
    if !outcome.after.is_clean() {
        return Ok(Upgrade {
            outcome,
            state: UpgradeState::NotUpgraded,
        });
    }
    // Read again: a repair may have rewritten nothing here, but the block
    // on disk is what the check accepted.
    disk.read_block(0, &mut block)?;
    let mut sb = Superblock::decode_for_upgrade(&block, disk.blocks())
        .map_err(|e| io::Error::other(format!("superblock changed under the upgrade: {e}")))?;
    sb.features.incompat |= INCOMPAT_UNWRITTEN | INCOMPAT_DIR_INDEX;
    sb.encode(&mut block);
    disk.write_block(0, &block)?;
    disk.flush()?;
    outcome.after = check(disk)?;
    Ok(Upgrade {
        outcome,
        state: UpgradeState::Upgraded,
    })
}

/// [`repair`]; `upgrading` checks an image from before feature bits as
/// [`upgrade`] does.
fn repair_as(disk: &mut dyn Disk, how: Repair, upgrading: bool) -> io::Result<Outcome> {
    let mut outcome = Outcome::default();
    for pass in 0..MAX_PASSES {
        let scan = scan(disk, upgrading)?;
        if pass == 0 {
            outcome.found = scan.report.clone();
        }
        outcome.passes = pass + 1;
        let worst = scan.report.worst();
        let chosen: Vec<&Fix> = scan
            .fixes
            .iter()
            .filter(|(level, _)| match how {
                Repair::Yes => true,
                Repair::Preen => {
                    *level == Level::Preen
                        || (*level == Level::PreenAlone && worst <= Some(Level::PreenAlone))
                }
            })
            .map(|(_, fix)| fix)
            .collect();
        if chosen.is_empty() {
            break;
        }
        let applied = apply(disk, &scan, &chosen)?;
        disk.flush()?;
        if applied.is_empty() {
            break;
        }
        outcome.fixed.extend(applied);
    }
    outcome.after = scan(disk, upgrading)?.report;
    Ok(outcome)
}

/// One check pass; `upgrading` accepts a superblock from before feature
/// bits and reports every extent with bit 31 of its length set (which such
/// an image cannot have as the flag).
fn scan(disk: &mut dyn Disk, upgrading: bool) -> io::Result<Scan> {
    let mut report = Report::default();
    let empty = |report| Scan {
        report,
        fixes: Vec::new(),
        geo: None,
        inodes: BTreeMap::new(),
        used: Bits::new(0),
        root_names: HashSet::new(),
    };
    if disk.blocks() == 0 {
        report
            .problems
            .push("superblock: device smaller than one block".to_string());
        report.levels.push(Level::Never);
        return Ok(empty(report));
    }
    let mut block = zeroed_block();
    disk.read_block(0, &mut block)?;
    let decoded = if upgrading {
        Superblock::decode_for_upgrade(&block, disk.blocks())
    } else {
        Superblock::decode(&block, disk.blocks())
    };
    let sb = match decoded {
        Ok(sb) => sb,
        Err(e) => {
            report.problems.push(format!("superblock: {e}"));
            report.levels.push(Level::Never);
            return Ok(empty(report));
        }
    };
    // As e2fsck: features fsck does not know may have metadata it would
    // call wrong or damage by repairing; it checks nothing.
    if let Err(e) = sb.features.check_writable() {
        report
            .problems
            .push(format!("superblock: {e}: not checked"));
        report.levels.push(Level::Never);
        return Ok(empty(report));
    }
    let geo = sb.geometry;
    report.geometry = Some(geo);
    report.notes.push(format!(
        "superblock: {} blocks, {} inodes, data from block {}",
        geo.total_blocks, geo.inode_count, geo.data_start
    ));
    let words = usize::try_from(words_for(geo.total_blocks))
        .map_err(|_| io::Error::new(io::ErrorKind::OutOfMemory, "device too large"))?;
    let mut words = vec![0u64; words];
    let owners = ClaimMap::new(&mut words, geo.total_blocks)
        .ok_or_else(|| io::Error::other("claim map too small"))?;
    let mut c = Checker {
        disk,
        geo,
        report,
        fixes: Vec::new(),
        claims: vec![(Owner::Metadata, 0, geo.data_start)],
        owners,
        inodes: BTreeMap::new(),
        bad: HashSet::new(),
        entries: Vec::new(),
        root_names: HashSet::new(),
        upgrading,
        dir_index: sb.features.dir_index(),
    };
    // Metadata is claimed first; data_start < total_blocks.
    let _ = c.owners.claim(0, geo.data_start);
    c.inode_pass()?;
    let used = c.block_pass()?;
    c.directory_pass()?;
    c.link_pass();
    let mut report = c.report;
    report.used_blocks = used.count();
    report.free_blocks = geo.total_blocks.saturating_sub(report.used_blocks);
    Ok(Scan {
        report,
        fixes: c.fixes,
        geo: Some(geo),
        inodes: c.inodes,
        used,
        root_names: c.root_names,
    })
}

/// Decodes an inode whose only faults are fields a repair can set: a size
/// beyond the limit or not a whole number of blocks for a directory, a
/// parent field that does not match the type. Returns the inode (with the
/// bad fields as stored) and the error a strict decode gives.
fn decode_lenient(
    raw: &[u8; INODE_SIZE],
) -> Result<Option<(Inode, Option<RecordError>)>, RecordError> {
    let err = match Inode::decode(raw) {
        Ok(inode) => return Ok(inode.map(|i| (i, None))),
        Err(e @ (RecordError::SizeTooLarge | RecordError::BadDirSize | RecordError::BadParent)) => {
            e
        }
        Err(e) => return Err(e),
    };
    // Offsets from the inode table in format/inode.rs: mode at 0, size at 16,
    // parent at 72, the checksum at 252. A checksum that did not match
    // before would have been reported first.
    let mut copy = *raw;
    let mode = u16::from_le_bytes([copy[0], copy[1]]);
    let size = u64::from_le_bytes(copy[16..24].try_into().unwrap_or_default());
    let parent = u32::from_le_bytes(copy[72..76].try_into().unwrap_or_default());
    copy[16..24].fill(0);
    let fake_parent = if mode & S_IFMT == S_IFDIR {
        ROOT_INO
    } else {
        0
    };
    copy[72..76].copy_from_slice(&fake_parent.to_le_bytes());
    let sum = crc32c(&copy[..INODE_CSUM_OFFSET]);
    copy[INODE_CSUM_OFFSET..].copy_from_slice(&sum.to_le_bytes());
    match Inode::decode(&copy) {
        Ok(Some(mut inode)) => {
            inode.size = size;
            inode.parent = parent;
            Ok(Some((inode, Some(err))))
        }
        Ok(None) => Err(err),
        Err(e) => Err(e),
    }
}

impl Checker<'_> {
    fn problem(&mut self, level: Level, msg: String) {
        self.report.problems.push(msg);
        self.report.levels.push(level);
    }

    fn fix(&mut self, level: Level, fix: Fix) {
        self.fixes.push((level, fix));
    }

    /// Pass 2: inode slots and extents.
    fn inode_pass(&mut self) -> io::Result<()> {
        let mut block = zeroed_block();
        for b in 0..self.geo.inode_table_blocks {
            self.disk
                .read_block(self.geo.inode_table_start + b, &mut block)?;
            for slot in 0..INODES_PER_BLOCK {
                let Some(raw) = inode_slot(&block, slot) else {
                    continue;
                };
                let ino = b * INODES_PER_BLOCK as u64 + slot as u64;
                // inode_count <= MAX_INODES fits a u32.
                let Ok(ino) = u32::try_from(ino) else {
                    continue;
                };
                if ino == 0 {
                    if raw.iter().any(|&x| x != 0) {
                        self.problem(Level::Yes, "inode 0: unused slot is not zeroed".to_string());
                        self.fix(Level::Yes, Fix::FreeInode { ino });
                    }
                    continue;
                }
                match decode_lenient(raw) {
                    Ok(None) => {}
                    Ok(Some((inode, err))) => self.check_inode(ino, inode, err)?,
                    Err(e) => {
                        if ino == ROOT_INO {
                            self.problem(Level::Never, format!("inode {ino}: {e}"));
                        } else {
                            self.problem(Level::Yes, format!("inode {ino}: {e}"));
                            self.fix(Level::Yes, Fix::FreeInode { ino });
                        }
                        self.bad.insert(ino);
                    }
                }
            }
        }
        self.report.notes.push(format!(
            "inodes: {} in use, {} corrupt",
            self.inodes.len(),
            self.bad.len()
        ));
        match self.inodes.get(&ROOT_INO) {
            None if self.bad.contains(&ROOT_INO) => {}
            None => self.problem(Level::Never, format!("root inode {ROOT_INO} is free")),
            Some(root) if !root.inode.is_dir() => {
                let kind = kind_str(root.inode.mode);
                self.problem(
                    Level::Never,
                    format!("root inode {ROOT_INO} is a {kind}, not a directory"),
                );
            }
            Some(root) if root.inode.parent != ROOT_INO => {
                let parent = root.inode.parent;
                self.problem(
                    Level::Preen,
                    format!("root directory: parent is {parent}, should be {ROOT_INO}"),
                );
                self.fix(
                    Level::Preen,
                    Fix::Parent {
                        ino: ROOT_INO,
                        parent: ROOT_INO,
                    },
                );
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Checks one extent; keeps it if it is valid and its blocks are not
    /// someone else's. Returns false if it is dropped.
    fn check_extent(
        &mut self,
        ino: u32,
        index: usize,
        e: Extent,
        checker: &mut ExtentChecker,
        kept: &mut Vec<Extent>,
        lost: bool,
    ) -> bool {
        let result = checker.check(&e);
        if let Err(err) = result {
            self.problem(
                Level::Yes,
                format!("inode {ino}: extent {index} ({}): {err}", extent_str(&e)),
            );
        }
        if self.upgrading && e.unwritten {
            self.problem(
                Level::Never,
                format!(
                    "inode {ino}: extent {index} ({}): bit 31 of its length is set: \
                     2^31 blocks or more, which the upgraded format cannot store; not upgraded",
                    extent_str(&e)
                ),
            );
        }
        // Blocks an out-of-order extent points at are still referenced.
        if self.geo.in_data(e.physical, e.len.into()) {
            self.claims
                .push((Owner::Data(ino), e.physical, e.len.into()));
        }
        if result.is_err() || lost {
            return false;
        }
        // A claim that fails is reported with the blocks used twice.
        if self.owners.claim(e.physical, e.len.into()).is_err() {
            return false;
        }
        kept.push(e);
        true
    }

    fn check_inode(&mut self, ino: u32, inode: Inode, err: Option<RecordError>) -> io::Result<()> {
        let mut checker =
            ExtentChecker::for_inode(&self.geo, &inode).with_dir_index(self.dir_index);
        let mut kept = Vec::new();
        let mut owned = Vec::new();
        // Whether the stored extent list must be rewritten.
        let mut rewrite = false;
        for (i, e) in inode.inline_extents().iter().enumerate() {
            rewrite |= !self.check_extent(ino, i, *e, &mut checker, &mut kept, false);
        }

        // The chain, walked as the kernel walks it: exactly
        // chain_extent_count() extents in blocks of 1..=254, no loop.
        let mut walk = ChainWalk::new(&self.geo, &inode);
        let mut index = inode.inline_extents().len();
        let mut block = zeroed_block();
        // Every block seen, so that a loop is named at its first repeated
        // block, before its extents are counted twice.
        let mut visited = HashSet::new();
        // A chain block that is someone else's: its extents and the rest of
        // the chain are not this inode's.
        let mut lost = false;
        let mut chain_ok = true;
        loop {
            let next = match walk.next_block() {
                Ok(Some(next)) => next,
                Ok(None) => break,
                Err(e) => {
                    self.problem(Level::Yes, chain_problem(ino, &inode, &e));
                    chain_ok = false;
                    break;
                }
            };
            if !visited.insert(next) {
                let e = ChainError::Loop { block: next };
                self.problem(Level::Yes, chain_problem(ino, &inode, &e));
                chain_ok = false;
                break;
            }
            self.claims.push((Owner::Chain(ino), next, 1));
            if self.owners.claim(next, 1).is_ok() {
                owned.push(next);
            } else {
                lost = true;
            }
            self.disk.read_block(next, &mut block)?;
            let chain = match walk.decode(&block) {
                Ok(chain) => chain,
                Err(e) => {
                    self.problem(Level::Yes, chain_problem(ino, &inode, &e));
                    chain_ok = false;
                    break;
                }
            };
            for e in chain.extents() {
                rewrite |= !self.check_extent(ino, index, e, &mut checker, &mut kept, lost);
                index += 1;
            }
        }
        rewrite |= !chain_ok || lost;

        let mut planned = kept.clone();
        let mut doomed = false;
        if err == Some(RecordError::BadParent) && !inode.is_dir() {
            self.problem(
                Level::Yes,
                format!(
                    "inode {ino}: {} (parent {})",
                    RecordError::BadParent,
                    inode.parent
                ),
            );
            self.fix(Level::Yes, Fix::Parent { ino, parent: 0 });
        }
        let mut level = if rewrite { Level::Yes } else { Level::Preen };
        match inode.mode & S_IFMT {
            S_IFREG => {
                if err == Some(RecordError::SizeTooLarge) {
                    let size = extents_end(&planned) * BS;
                    self.problem(
                        Level::Yes,
                        format!(
                            "inode {ino}: size {} beyond the largest file ({MAX_FILE_SIZE} bytes)",
                            inode.size
                        ),
                    );
                    self.fix(Level::Yes, Fix::Size { ino, size });
                } else {
                    let eof = inode.size.div_ceil(BS);
                    // Unwritten blocks past EOF read as zeros: fallocate
                    // with KEEP_SIZE puts them there, as on XFS. Written
                    // ones there are not file data (an older delafs left
                    // them after a failed direct write or a crash).
                    let end = written_end(&planned);
                    if end > eof {
                        self.problem(
                            Level::Preen,
                            format!(
                                "inode {ino}: written extents reach file block {end} past the size of {} bytes",
                                inode.size
                            ),
                        );
                        planned = trim_written(&planned, eof);
                    }
                }
            }
            S_IFDIR => {
                // The index's blocks (INCOMPAT_DIR_INDEX) lie past the size
                // and are not entry blocks: set aside while the entry
                // blocks are checked, then kept after them.
                let mut index = Vec::new();
                if self.dir_index {
                    index = planned
                        .iter()
                        .filter(|e| is_index_block(e.logical.into()))
                        .copied()
                        .collect();
                    planned.retain(|e| !is_index_block(e.logical.into()));
                }
                let size_ok = err != Some(RecordError::SizeTooLarge) && inode.size % BS == 0;
                if size_ok {
                    if let Err(e) = checker.check_end(&inode) {
                        let end = inode.size / BS;
                        if extents_end(&planned) > end {
                            self.problem(
                                Level::Yes,
                                format!(
                                    "directory {ino}: {e}: blocks {end}..{} past the size of {} bytes",
                                    extents_end(&planned),
                                    inode.size
                                ),
                            );
                            planned = trim(&planned, end);
                            level = Level::Yes;
                        }
                    }
                }
                // Directories have no holes; entries do not depend on their
                // block's position, so closing a hole moves nothing.
                let mut at = 0u64;
                let mut hole = None;
                for e in planned.iter_mut() {
                    if u64::from(e.logical) != at {
                        hole.get_or_insert(at);
                        e.logical = u32::try_from(at).unwrap_or(e.logical);
                    }
                    at = e.logical_end();
                }
                if let Some(h) = hole {
                    self.problem(
                        Level::Yes,
                        format!("directory {ino}: no block mapped at file block {h} (directories have no holes)"),
                    );
                    level = Level::Yes;
                }
                let mapped: u64 = planned.iter().map(|e| u64::from(e.len)).sum();
                if inode.size != mapped * BS {
                    self.problem(
                        Level::Yes,
                        format!(
                            "directory {ino}: size {} does not match its {mapped} mapped blocks",
                            inode.size
                        ),
                    );
                    self.fix(
                        Level::Yes,
                        Fix::Size {
                            ino,
                            size: mapped * BS,
                        },
                    );
                }
                planned.extend(index);
            }
            _ if ino != ROOT_INO => {
                self.problem(
                    Level::Yes,
                    format!(
                        "inode {ino}: a {}, which delafs does not have (the kernel refuses it)",
                        kind_str(inode.mode)
                    ),
                );
                self.fix(Level::Yes, Fix::FreeInode { ino });
                doomed = true;
            }
            _ => {}
        }
        if !doomed && (rewrite || planned != kept) {
            self.fix(
                level,
                Fix::Extents {
                    ino,
                    extents: planned.clone(),
                },
            );
        }
        self.report.unwritten_blocks += planned
            .iter()
            .filter(|e| e.unwritten)
            .map(|e| u64::from(e.len))
            .sum::<u64>();
        if inode.is_dir() {
            self.report.dirs += 1;
        } else {
            self.report.files += 1;
        }
        self.inodes.insert(
            ino,
            InodeInfo {
                inode,
                extents: planned,
                chain: owned,
                doomed,
            },
        );
        Ok(())
    }

    /// Pass 3: blocks used twice, then the bitmap. Returns the used set.
    fn block_pass(&mut self) -> io::Result<Bits> {
        let total = self.geo.total_blocks;
        let mut used = Bits::new(total);
        let mut dups = Vec::new();
        for &(_, start, len) in &self.claims {
            for b in start..start.saturating_add(len).min(total) {
                if used.get(b) {
                    dups.push(b);
                } else {
                    used.set(b);
                }
            }
        }
        dups.sort_unstable();
        dups.dedup();
        let mut runs = Runs::default();
        for b in dups {
            runs.push(b);
        }
        for (i, &(s, e)) in runs.0.iter().enumerate() {
            if i == MAX_DUP_REPORTS {
                let more = runs.0.len() - i;
                self.report.problems.push(format!(
                    "... and {more} more ranges of blocks used more than once"
                ));
                self.report.levels.push(Level::Yes);
                break;
            }
            let mut owners: Vec<String> = Vec::new();
            for &(owner, start, len) in &self.claims {
                if start < e && s < start.saturating_add(len) {
                    let o = owner.to_string();
                    if !owners.contains(&o) {
                        owners.push(o);
                    }
                }
            }
            let msg = format!(
                "{} used more than once: by {} (the first keeps it)",
                blocks(s, e),
                owners.join(", ")
            );
            self.report.problems.push(msg);
            self.report.levels.push(Level::Yes);
        }

        // The bitmap must equal the used set, with the bits past the end
        // set.
        let mut leaked = Runs::default();
        let mut unmarked = Runs::default();
        let mut tail_clear = false;
        let mut block = zeroed_block();
        for i in 0..self.geo.bitmap_blocks {
            self.disk
                .read_block(self.geo.bitmap_start + i, &mut block)?;
            let first = i * BITS_PER_BITMAP_BLOCK;
            for (byte_index, &byte) in block.iter().enumerate() {
                let base = first + byte_index as u64 * 8;
                for bit in 0..8 {
                    let b = base + bit;
                    let marked = byte & (1 << bit) != 0;
                    if b >= total {
                        tail_clear |= !marked;
                    } else if marked && !used.get(b) {
                        leaked.push(b);
                    } else if !marked && used.get(b) {
                        unmarked.push(b);
                    }
                }
            }
        }
        for &(s, e) in &leaked.0 {
            self.problem(
                Level::PreenAlone,
                format!(
                    "bitmap: {} marked in use but not used by anything (leaked)",
                    blocks(s, e)
                ),
            );
            self.fix(
                Level::PreenAlone,
                Fix::Bitmap {
                    start: s,
                    end: e,
                    used: false,
                },
            );
        }
        for &(s, e) in &unmarked.0 {
            let what = if e <= self.geo.data_start {
                " (filesystem metadata)"
            } else {
                ""
            };
            self.problem(
                Level::Preen,
                format!("bitmap: {} in use but marked free{what}", blocks(s, e)),
            );
            self.fix(
                Level::Preen,
                Fix::Bitmap {
                    start: s,
                    end: e,
                    used: true,
                },
            );
        }
        if tail_clear {
            self.problem(
                Level::Preen,
                format!("bitmap: bits for blocks past the end ({total}) are not all set"),
            );
            self.fix(
                Level::Preen,
                Fix::Bitmap {
                    start: total,
                    end: self.geo.bitmap_blocks * BITS_PER_BITMAP_BLOCK,
                    used: true,
                },
            );
        }
        self.report.notes.push(format!(
            "blocks: {} claims, {} blocks in use",
            self.claims.len(),
            used.count()
        ));
        Ok(used)
    }

    /// Pass 4: directory entries.
    fn directory_pass(&mut self) -> io::Result<()> {
        let dirs: Vec<(u32, Vec<Extent>)> = self
            .inodes
            .iter()
            .filter(|(_, info)| info.inode.is_dir() && !info.doomed)
            .map(|(&ino, info)| (ino, info.extents.clone()))
            .collect();
        let mut block = zeroed_block();
        for (dir, all) in dirs {
            let mut names: HashSet<Vec<u8>> = HashSet::new();
            // Index blocks (past the size) hold no entries.
            let (index, extents): (Vec<Extent>, Vec<Extent>) = all
                .into_iter()
                .partition(|e| is_index_block(e.logical.into()));
            // Slot -> name of the entries kept, for the index check.
            let mut slots: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
            let entry_blocks: u64 = extents.iter().map(|e| u64::from(e.len)).sum();
            for e in extents.iter().copied() {
                for i in 0..u64::from(e.len) {
                    let lblk = u64::from(e.logical) + i;
                    let disk_block = e.physical + i;
                    self.disk.read_block(disk_block, &mut block)?;
                    if let Err(err) = check_dir_block_tail(&block) {
                        self.problem(Level::Yes, format!("directory {dir}: block {lblk}: {err}"));
                        self.fix(
                            Level::Yes,
                            Fix::DirTail {
                                dir,
                                block: disk_block,
                            },
                        );
                    }
                    for slot in 0..DIRENTS_PER_BLOCK {
                        let where_ = format!("directory {dir}: block {lblk} entry {slot}");
                        let clear = Fix::ClearEntry {
                            dir,
                            block: disk_block,
                            slot,
                        };
                        match decode_dirent(&block, slot) {
                            Ok(None) => {}
                            Err(err) => {
                                self.problem(Level::Yes, format!("{where_}: {err}"));
                                self.fix(Level::Yes, clear);
                            }
                            Ok(Some(entry)) => {
                                let name = name_str(entry.name);
                                if dir == ROOT_INO {
                                    self.root_names.insert(entry.name.to_vec());
                                }
                                if !names.insert(entry.name.to_vec()) {
                                    self.problem(
                                        Level::Yes,
                                        format!("{where_}: duplicate name {name}"),
                                    );
                                    self.fix(Level::Yes, clear);
                                    continue;
                                }
                                if let Ok(k) = u32::try_from(lblk * DIRENTS_PER_BLOCK as u64) {
                                    slots
                                        .insert(k.saturating_add(slot as u32), entry.name.to_vec());
                                }
                                let file_type = entry.file_type;
                                let entry = Entry {
                                    dir,
                                    ino: entry.ino,
                                    block: disk_block,
                                    slot,
                                    name: entry.name.to_vec(),
                                    is_dir: false,
                                };
                                self.check_entry(&where_, entry, file_type);
                            }
                        }
                    }
                }
            }
            if self.dir_index && !index.is_empty() {
                if let Err(why) = self.check_index(&index, entry_blocks, &slots)? {
                    // Dropped: the directory is linear again (the name in
                    // its entry block is authoritative), and the kernel
                    // indexes it anew when it next grows. Its blocks are
                    // leaked until the next pass frees them.
                    self.problem(
                        Level::Preen,
                        format!("directory {dir}: index: {why} (the index is dropped)"),
                    );
                    let queued = self
                        .fixes
                        .iter()
                        .any(|(_, f)| matches!(f, Fix::Extents { ino, .. } if *ino == dir));
                    if !queued {
                        self.fix(
                            Level::Preen,
                            Fix::Extents {
                                ino: dir,
                                extents: extents.clone(),
                            },
                        );
                    }
                }
            }
        }
        self.report
            .notes
            .push(format!("directories: {} entries", self.entries.len()));
        Ok(())
    }

    /// Checks a directory's index against its entries (`slots`: slot ->
    /// name): the header and every table block decode, exactly the table
    /// blocks of the live region are mapped, every record names the entry
    /// at its slot by that name's hash, no slot twice, the record count is
    /// the header's and the entries', and a lookup of every entry finds it.
    /// The free-slot bitmap is a hint and not compared. `Ok(Err(why))` for
    /// the first problem.
    fn check_index(
        &mut self,
        index: &[Extent],
        entry_blocks: u64,
        slots: &BTreeMap<u32, Vec<u8>>,
    ) -> io::Result<Result<(), String>> {
        let mut map = BTreeMap::new();
        for e in index {
            for i in 0..u64::from(e.len) {
                let at = (u64::from(e.logical) + i).saturating_sub(DIR_INDEX_BASE);
                map.insert(at as u32, e.physical + i);
            }
        }
        let mut store = IndexImage {
            disk: &mut *self.disk,
            map: &map,
        };
        let mut ix = match DirIndex::open(&mut store, entry_blocks) {
            Ok(ix) => ix,
            Err(e) => return e.into_problem(),
        };
        let h = *ix.header();
        let live: BTreeSet<u32> = (0..1u32 << h.table_log)
            .filter_map(|n| table_block_offset(h.live, n))
            .collect();
        if let Some(at) = map.keys().find(|&&at| at != 0 && !live.contains(&at)) {
            return Ok(Err(format!(
                "block {at} is mapped but not part of the table"
            )));
        }
        let mut seen: HashMap<u32, u32> = HashMap::new();
        let mut bad = None;
        let r = ix.for_each_record(|rec| {
            if bad.is_some() {
                return Ok(());
            }
            match slots.get(&rec.slot) {
                None => bad = Some(format!("a record names free slot {}", rec.slot)),
                Some(name) if name_hash(h.seed, name) != rec.hash => {
                    bad = Some(format!(
                        "the record of slot {} has hash {:#x}, not its name's",
                        rec.slot, rec.hash
                    ))
                }
                Some(_) => {
                    if seen.insert(rec.slot, rec.hash).is_some() {
                        bad = Some(format!("two records name slot {}", rec.slot));
                    }
                }
            }
            Ok(())
        });
        if let Err(e) = r {
            return e.into_problem();
        }
        if let Some(why) = bad {
            return Ok(Err(why));
        }
        let count = seen.len();
        if count != slots.len() || u64::from(h.records) != count as u64 {
            return Ok(Err(format!(
                "{count} records, the header says {}, the directory has {} entries",
                h.records,
                slots.len()
            )));
        }
        for (&slot, name) in slots {
            match ix.lookup(name, |s| Ok(s == slot)) {
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Ok(Err(format!(
                        "a lookup of {} does not find slot {slot}",
                        name_str(name)
                    )))
                }
                Err(e) => return e.into_problem(),
            }
        }
        Ok(Ok(()))
    }

    fn check_entry(&mut self, where_: &str, mut entry: Entry, file_type: u8) {
        let shown = name_str(&entry.name);
        let ino = entry.ino;
        let clear = Fix::ClearEntry {
            dir: entry.dir,
            block: entry.block,
            slot: entry.slot,
        };
        if !self.geo.valid_ino(ino.into()) {
            self.problem(
                Level::Yes,
                format!("{where_}: {shown} refers to inode {ino}, out of range"),
            );
            self.fix(Level::Yes, clear);
            return;
        }
        if self.bad.contains(&ino) {
            self.problem(
                Level::Yes,
                format!("{where_}: {shown} refers to corrupt inode {ino}"),
            );
            if ino != ROOT_INO {
                self.fix(Level::Yes, clear);
            }
            return;
        }
        let Some(target) = self.inodes.get(&ino) else {
            self.problem(
                Level::Yes,
                format!("{where_}: {shown} refers to free inode {ino}"),
            );
            self.fix(Level::Yes, clear);
            return;
        };
        let (mode, doomed, want) = (target.inode.mode, target.doomed, target.inode.file_type());
        if ino == ROOT_INO {
            self.problem(
                Level::Yes,
                format!("{where_}: {shown} links the root directory"),
            );
            self.fix(Level::Yes, clear);
            return;
        }
        if doomed {
            self.problem(
                Level::Yes,
                format!(
                    "{where_}: {shown} refers to inode {ino}, a {} (the kernel refuses it)",
                    kind_str(mode)
                ),
            );
            self.fix(Level::Yes, clear);
            return;
        }
        if file_type != want {
            self.problem(
                Level::Preen,
                format!(
                    "{where_}: {shown} has file type {file_type}, inode {ino} is a {} (type {want})",
                    kind_str(mode)
                ),
            );
            self.fix(
                Level::Preen,
                Fix::EntryType {
                    dir: entry.dir,
                    block: entry.block,
                    slot: entry.slot,
                    file_type: want,
                },
            );
        }
        entry.is_dir = mode & S_IFMT == S_IFDIR;
        self.entries.push(entry);
    }

    /// Adds to the tree the directories and files reachable from `start`
    /// (already in the tree), preferring for each directory the entry from
    /// the directory its `parent` field names.
    fn grow(
        &self,
        start: u32,
        by_dir: &HashMap<u32, Vec<usize>>,
        tree_edge: &mut HashMap<u32, usize>,
        reached: &mut HashSet<u32>,
    ) {
        let mut queue = VecDeque::from([start]);
        let mut deferred: VecDeque<usize> = VecDeque::new();
        reached.insert(start);
        loop {
            while let Some(dir) = queue.pop_front() {
                for &i in by_dir.get(&dir).map_or(&[][..], |v| v.as_slice()) {
                    let e = &self.entries[i];
                    if !e.is_dir {
                        reached.insert(e.ino);
                        continue;
                    }
                    if reached.contains(&e.ino) {
                        continue;
                    }
                    if self.inodes.get(&e.ino).map(|i| i.inode.parent) == Some(dir) {
                        tree_edge.insert(e.ino, i);
                        reached.insert(e.ino);
                        queue.push_back(e.ino);
                    } else {
                        deferred.push_back(i);
                    }
                }
            }
            let mut progressed = false;
            while let Some(i) = deferred.pop_front() {
                let child = self.entries[i].ino;
                if !reached.contains(&child) {
                    tree_edge.insert(child, i);
                    reached.insert(child);
                    queue.push_back(child);
                    progressed = true;
                    break;
                }
            }
            if !progressed {
                break;
            }
        }
    }

    /// Pass 5: reachability, link counts, parents.
    fn link_pass(&mut self) {
        let root_ok = self
            .inodes
            .get(&ROOT_INO)
            .is_some_and(|root| root.inode.is_dir());
        if !root_ok {
            return;
        }
        let mut by_dir: HashMap<u32, Vec<usize>> = HashMap::new();
        let mut names: HashMap<u32, u32> = HashMap::new();
        for (i, entry) in self.entries.iter().enumerate() {
            by_dir.entry(entry.dir).or_default().push(i);
            if !entry.is_dir {
                *names.entry(entry.ino).or_default() += 1;
            }
        }
        let named: HashSet<u32> = self.entries.iter().map(|e| e.ino).collect();
        let mut tree_edge: HashMap<u32, usize> = HashMap::new();
        let mut reached = HashSet::new();
        self.grow(ROOT_INO, &by_dir, &mut tree_edge, &mut reached);
        let from_root = reached.clone();

        // Unreachable inodes: each reported; the top of each unreachable
        // tree is linked into the root (-y), unnamed empty inodes with
        // nlink 0 are freed (-p).
        let lost: Vec<(u32, u16, u32, bool)> = self
            .inodes
            .iter()
            .filter(|(ino, info)| !info.doomed && !reached.contains(ino))
            .map(|(&ino, info)| (ino, info.inode.mode, info.inode.nlink, info.inode.is_dir()))
            .collect();
        let mut tops = HashSet::new();
        let mut freed = HashSet::new();
        let free_ok = |ino: u32, nlink: u32, is_dir: bool| {
            nlink == 0 && !named.contains(&ino) && (!is_dir || !by_dir.contains_key(&ino))
        };
        // Directories first: their trees take their files with them.
        for &(ino, _, nlink, is_dir) in lost.iter().filter(|l| l.3) {
            if reached.contains(&ino) {
                continue;
            }
            if free_ok(ino, nlink, is_dir) {
                freed.insert(ino);
                reached.insert(ino);
                continue;
            }
            // Climb the parent fields while the parent names the child.
            let mut top = ino;
            let mut seen = HashSet::from([ino]);
            loop {
                let parent = self.inodes.get(&top).map_or(0, |i| i.inode.parent);
                let names_top = by_dir
                    .get(&parent)
                    .is_some_and(|v| v.iter().any(|&i| self.entries[i].ino == top));
                if reached.contains(&parent) || !names_top || !seen.insert(parent) {
                    break;
                }
                top = parent;
            }
            tops.insert(top);
            self.grow(top, &by_dir, &mut tree_edge, &mut reached);
        }
        for &(ino, _, nlink, is_dir) in lost.iter().filter(|l| !l.3) {
            if reached.contains(&ino) {
                continue;
            }
            if free_ok(ino, nlink, is_dir) {
                freed.insert(ino);
            } else {
                tops.insert(ino);
            }
            reached.insert(ino);
        }
        for &(ino, mode, _, is_dir) in &lost {
            let level = if freed.contains(&ino) {
                Level::Preen
            } else {
                Level::Yes
            };
            let how = if freed.contains(&ino) {
                " (nlink 0, no names)"
            } else {
                ""
            };
            self.problem(
                level,
                format!(
                    "inode {ino}: {} in use but not reachable from the root{how}",
                    kind_str(mode)
                ),
            );
            if freed.contains(&ino) {
                self.fix(Level::Preen, Fix::FreeInode { ino });
            } else if tops.contains(&ino) {
                let file_type = if is_dir { DT_DIR } else { DT_REG };
                if is_dir && self.inodes.get(&ino).map(|i| i.inode.parent) != Some(ROOT_INO) {
                    self.fix(
                        Level::Yes,
                        Fix::Parent {
                            ino,
                            parent: ROOT_INO,
                        },
                    );
                }
                self.fix(Level::Yes, Fix::Reconnect { ino, file_type });
            }
        }

        // Second names of directories (hard links to a directory, a
        // directory in itself, loops): the kernel refuses them.
        let mut problems = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            if !e.is_dir || tree_edge.get(&e.ino) == Some(&i) {
                continue;
            }
            let parent = self.inodes.get(&e.ino).map_or(0, |i| i.inode.parent);
            let what = if e.ino == e.dir {
                "the directory itself".to_string()
            } else {
                format!("directory {}, whose parent is {parent}", e.ino)
            };
            problems.push((
                Level::Yes,
                format!(
                    "directory {}: entry {} names {what}: a second name for a directory",
                    e.dir,
                    name_str(&e.name)
                ),
                Some(Fix::ClearEntry {
                    dir: e.dir,
                    block: e.block,
                    slot: e.slot,
                }),
            ));
        }

        // Link counts (of what the root reaches) and parent fields.
        let mut subdirs: HashMap<u32, u32> = HashMap::new();
        for (&child, &i) in &tree_edge {
            if from_root.contains(&child) {
                *subdirs.entry(self.entries[i].dir).or_default() += 1;
            }
        }
        for (&ino, info) in &self.inodes {
            let inode = &info.inode;
            if info.doomed || freed.contains(&ino) {
                continue;
            }
            if inode.is_dir() {
                if let Some(&i) = tree_edge.get(&ino) {
                    let dir = self.entries[i].dir;
                    if inode.parent != dir && !tops.contains(&ino) {
                        let level = if from_root.contains(&ino) {
                            Level::Preen
                        } else {
                            Level::Yes
                        };
                        problems.push((
                            level,
                            format!(
                                "directory {ino}: parent is {}, but it is linked in directory {dir}",
                                inode.parent
                            ),
                            Some(Fix::Parent { ino, parent: dir }),
                        ));
                    }
                }
            }
            if !from_root.contains(&ino) {
                continue;
            }
            if inode.is_dir() {
                let want = subdirs.get(&ino).map_or(2, |n| n.saturating_add(2));
                if inode.nlink != want {
                    problems.push((
                        Level::Preen,
                        format!(
                            "directory {ino}: nlink is {}, should be {want} (2 + subdirectories)",
                            inode.nlink
                        ),
                        Some(Fix::Nlink { ino, nlink: want }),
                    ));
                }
            } else {
                let want = names.get(&ino).copied().unwrap_or(0);
                if inode.nlink != want {
                    problems.push((
                        Level::Preen,
                        format!(
                            "inode {ino}: nlink is {}, but {want} directory entries name it",
                            inode.nlink
                        ),
                        Some(Fix::Nlink { ino, nlink: want }),
                    ));
                }
            }
        }
        for (level, msg, fix) in problems {
            self.problem(level, msg);
            if let Some(fix) = fix {
                self.fix(level, fix);
            }
        }
    }
}

/// Applies fixes to the disk the scan was made of.
struct Fixer<'a> {
    disk: &'a mut dyn Disk,
    geo: Geometry,
    bitmap: Vec<Box<[u8; BLOCK_SIZE]>>,
    /// Blocks in use or handed out: never allocated.
    taken: Bits,
    cursor: u64,
    log: Vec<String>,
}

impl Fixer<'_> {
    fn marked(&self, b: u64) -> bool {
        let (block, bit) = self.geo.bitmap_location(b);
        usize::try_from(block - self.geo.bitmap_start)
            .ok()
            .and_then(|i| self.bitmap.get(i))
            .is_some_and(|blk| bitmap_test(blk, bit))
    }

    fn mark(&mut self, b: u64, used: bool) {
        let (block, bit) = self.geo.bitmap_location(b);
        if let Some(blk) = usize::try_from(block - self.geo.bitmap_start)
            .ok()
            .and_then(|i| self.bitmap.get_mut(i))
        {
            bitmap_set(blk, bit, used);
        }
    }

    /// A data block nothing uses and the bitmap calls free, now marked used.
    fn alloc(&mut self) -> Option<u64> {
        let start = self.cursor.max(self.geo.data_start);
        for b in start..self.geo.total_blocks {
            if !self.taken.get(b) && !self.marked(b) {
                self.taken.set(b);
                self.mark(b, true);
                self.cursor = b + 1;
                return Some(b);
            }
        }
        None
    }

    fn inode_location(&self, ino: u32) -> (u64, usize) {
        let per = INODES_PER_BLOCK as u64;
        (
            self.geo.inode_table_start + u64::from(ino) / per,
            (u64::from(ino) % per) as usize,
        )
    }

    fn write_inode(&mut self, ino: u32, inode: Option<&Inode>) -> io::Result<()> {
        let (b, slot) = self.inode_location(ino);
        let mut block = zeroed_block();
        self.disk.read_block(b, &mut block)?;
        if let Some(raw) = inode_slot_mut(&mut block, slot) {
            match inode {
                Some(inode) => inode.encode(raw),
                None => raw.fill(0),
            }
        }
        self.disk.write_block(b, &block)
    }

    /// Gives `inode` the extents `extents`, writing its chain into the
    /// blocks it owned (`owned`) and new ones. False if no block was left.
    fn set_extents(
        &mut self,
        inode: &mut Inode,
        extents: &[Extent],
        owned: &[u64],
    ) -> io::Result<bool> {
        // The blocks it owned past those it needs are left to the next
        // pass, which finds them leaked and frees them.
        let Ok(plan) = ChainPlan::new(owned.len(), extents.len()) else {
            return Ok(false);
        };
        let mut chain = plan.kept(owned).to_vec();
        for _ in 0..plan.grow() {
            match self.alloc() {
                Some(b) => chain.push(b),
                None => return Ok(false),
            }
        }
        let Ok(layout) = ChainLayout::new(&self.geo, extents, &chain) else {
            return Ok(false);
        };
        let head = layout.head();
        let mut block = zeroed_block();
        for piece in layout {
            if piece.encode(&mut block).is_err() {
                return Ok(false);
            }
            self.disk.write_block(piece.block, &block)?;
        }
        Ok(inode.set_extents(extents, head).is_ok())
    }

    fn edit_block(
        &mut self,
        b: u64,
        f: impl FnOnce(&mut [u8; BLOCK_SIZE]) -> bool,
    ) -> io::Result<bool> {
        let mut block = zeroed_block();
        self.disk.read_block(b, &mut block)?;
        if !f(&mut block) {
            return Ok(false);
        }
        self.disk.write_block(b, &block)?;
        Ok(true)
    }
}

/// Applies `fixes`, chosen from `scan`'s, in a safe order: bitmap,
/// directory entries, inodes, then names in the root. Returns what was
/// done.
fn apply(disk: &mut dyn Disk, scan: &Scan, fixes: &[&Fix]) -> io::Result<Vec<String>> {
    let Some(geo) = scan.geo else {
        return Ok(Vec::new());
    };
    let mut bitmap = Vec::new();
    for i in 0..geo.bitmap_blocks {
        let mut block = zeroed_block();
        disk.read_block(geo.bitmap_start + i, &mut block)?;
        bitmap.push(block);
    }
    let original = bitmap.clone();
    let mut f = Fixer {
        disk,
        geo,
        bitmap,
        taken: scan.used.clone(),
        cursor: geo.data_start,
        log: Vec::new(),
    };

    // 1. The bitmap.
    for fix in fixes {
        if let Fix::Bitmap { start, end, used } = **fix {
            for b in start..end {
                f.mark(b, used);
            }
            f.log.push(fix.to_string());
        }
    }

    // 2. Directory entries.
    for fix in fixes {
        let done = match **fix {
            Fix::ClearEntry { block, slot, .. } => {
                f.edit_block(block, |b| encode_dirent(b, slot, None).is_ok())?
            }
            Fix::EntryType {
                block,
                slot,
                file_type,
                ..
            } => f.edit_block(block, |b| {
                let Ok(Some(e)) = decode_dirent(b, slot) else {
                    return false;
                };
                let (ino, name) = (e.ino, e.name.to_vec());
                let entry = DirEntry {
                    ino,
                    file_type,
                    name: &name,
                };
                encode_dirent(b, slot, Some(&entry)).is_ok()
            })?,
            Fix::DirTail { block, .. } => f.edit_block(block, |b| {
                b[DIR_BLOCK_USED..].fill(0);
                true
            })?,
            _ => continue,
        };
        if done {
            f.log.push(fix.to_string());
        }
    }

    // 3. Inodes, all fixes of one inode at once.
    let mut by_ino: BTreeMap<u32, Vec<&Fix>> = BTreeMap::new();
    for fix in fixes {
        let ino = match **fix {
            Fix::FreeInode { ino }
            | Fix::Nlink { ino, .. }
            | Fix::Size { ino, .. }
            | Fix::Parent { ino, .. }
            | Fix::Extents { ino, .. } => ino,
            _ => continue,
        };
        by_ino.entry(ino).or_default().push(fix);
    }
    let mut root_busy = false;
    let mut root_written = None;
    for (ino, list) in &by_ino {
        let ino = *ino;
        if list.iter().any(|fix| matches!(fix, Fix::FreeInode { .. })) {
            f.write_inode(ino, None)?;
            f.log.push(Fix::FreeInode { ino }.to_string());
            continue;
        }
        let Some(info) = scan.inodes.get(&ino) else {
            continue;
        };
        let mut inode = info.inode;
        let mut done = Vec::new();
        for fix in list {
            match fix {
                Fix::Nlink { nlink, .. } => inode.nlink = *nlink,
                Fix::Size { size, .. } => inode.size = *size,
                Fix::Parent { parent, .. } => inode.parent = *parent,
                Fix::Extents { extents, .. } => {
                    if !f.set_extents(&mut inode, extents, &info.chain)? {
                        f.log
                            .push(format!("inode {ino}: no free block for its extent chain"));
                        continue;
                    }
                }
                _ => continue,
            }
            if ino == ROOT_INO && matches!(fix, Fix::Size { .. } | Fix::Extents { .. }) {
                root_busy = true;
            }
            done.push(fix.to_string());
        }
        f.write_inode(ino, Some(&inode))?;
        f.log.extend(done);
        if ino == ROOT_INO {
            root_written = Some(inode);
        }
    }

    // 4. Names in the root for unreachable inodes, unless the root's own
    // extents changed in this pass (the next pass does them).
    let reconnects: Vec<(u32, u8)> = fixes
        .iter()
        .filter_map(|fix| match **fix {
            Fix::Reconnect { ino, file_type } => Some((ino, file_type)),
            _ => None,
        })
        .collect();
    if !reconnects.is_empty() && !root_busy {
        if let Some(root) = scan.inodes.get(&ROOT_INO) {
            let mut inode = root_written.unwrap_or(root.inode);
            let mut extents = root.extents.clone();
            let mut grown = false;
            let mut names = scan.root_names.clone();
            'each: for (ino, file_type) in reconnects {
                let mut name = format!("#{ino}").into_bytes();
                let mut n = 0;
                while names.contains(&name) {
                    n += 1;
                    name = format!("#{ino}.{n}").into_bytes();
                }
                let entry = DirEntry {
                    ino,
                    file_type,
                    name: &name,
                };
                let mut block = zeroed_block();
                for e in &extents {
                    for b in e.physical..e.physical_end() {
                        f.disk.read_block(b, &mut block)?;
                        if let Some(slot) =
                            (0..DIRENTS_PER_BLOCK).find(|&s| dirent_is_free(&block, s))
                        {
                            if encode_dirent(&mut block, slot, Some(&entry)).is_ok() {
                                f.disk.write_block(b, &block)?;
                                f.log.push(format!(
                                    "inode {ino}: linked into the root as {}",
                                    name_str(&name)
                                ));
                                names.insert(name);
                            }
                            continue 'each;
                        }
                    }
                }
                // The root is full: one more block.
                let Some(b) = f.alloc() else {
                    f.log.push(format!(
                        "inode {ino}: no free block to link it into the root"
                    ));
                    continue;
                };
                block.fill(0);
                if encode_dirent(&mut block, 0, Some(&entry)).is_err() {
                    continue;
                }
                f.disk.write_block(b, &block)?;
                let logical = extents_end(&extents);
                let Ok(logical) = u32::try_from(logical) else {
                    continue;
                };
                extents.push(Extent {
                    logical,
                    len: 1,
                    physical: b,
                    unwritten: false,
                });
                inode.size = inode.size.saturating_add(BS);
                grown = true;
                f.log.push(format!(
                    "inode {ino}: linked into the root as {}",
                    name_str(&name)
                ));
                names.insert(name);
            }
            if grown {
                if f.set_extents(&mut inode, &extents, &root.chain)? {
                    f.write_inode(ROOT_INO, Some(&inode))?;
                } else {
                    f.log
                        .push("root directory: no free block for its extent chain".to_string());
                }
            }
        }
    }

    // The bitmap blocks that changed.
    for (i, (now, before)) in f.bitmap.iter().zip(&original).enumerate() {
        if now != before {
            f.disk.write_block(geo.bitmap_start + i as u64, now)?;
        }
    }
    Ok(f.log)
}
