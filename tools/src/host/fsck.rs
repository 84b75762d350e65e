//! Checking an unmounted filesystem, read-only.
//!
//! The passes, each adding one line per problem to the report:
//!
//! 1. the superblock (nothing else is checked if it is refused);
//! 2. every inode slot, and each in-use inode's extents and extent chain;
//!    every block that metadata, an extent or an extent block uses is
//!    "claimed";
//! 3. blocks claimed twice, then the bitmap against the claimed set;
//! 4. directory entries;
//! 5. reachability from the root, link counts and `parent` fields.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::io;

use delafs::shared::format::{
    check_dir_block_tail, decode_dirent, inode_slot, ChainBlock, Extent, ExtentChecker, Geometry,
    Inode, Superblock, BITS_PER_BITMAP_BLOCK, BLOCK_SIZE, DIRENTS_PER_BLOCK, INODES_PER_BLOCK,
    ROOT_INO, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG,
};

use super::disk::{zeroed_block, Disk};

/// Dup ranges reported in detail; more are only counted.
const MAX_DUP_REPORTS: usize = 100;

/// What fsck found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// One line per problem; empty for a clean filesystem.
    pub problems: Vec<String>,
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
}

impl Report {
    /// Whether no problem was found.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// The one-line summary.
    pub fn summary(&self, name: &str) -> String {
        let state = match self.problems.len() {
            0 => "clean".to_string(),
            1 => "1 problem".to_string(),
            n => format!("{n} problems"),
        };
        match &self.geometry {
            Some(g) => format!(
                "{name}: {state}, {} files, {} directories, {}/{} blocks used, {} free",
                self.files, self.dirs, self.used_blocks, g.total_blocks, self.free_blocks
            ),
            None => format!("{name}: {state}, superblock refused"),
        }
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

/// One bit per block.
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: u64) -> Self {
        Self(vec![
            0;
            usize::try_from(n.div_ceil(64)).expect("device size")
        ])
    }

    fn get(&self, i: u64) -> bool {
        self.0[(i / 64) as usize] & (1 << (i % 64)) != 0
    }

    fn set(&mut self, i: u64) {
        self.0[(i / 64) as usize] |= 1 << (i % 64);
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
        "file blocks {}..{} -> {}..{}",
        e.logical,
        e.logical_end(),
        e.physical,
        e.physical_end()
    )
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

/// An in-use inode that decoded.
struct InodeInfo {
    inode: Inode,
    /// Its extents that passed the checks, in order.
    extents: Vec<Extent>,
}

/// A valid directory entry.
struct Entry {
    dir: u32,
    ino: u32,
}

struct Checker<'a> {
    disk: &'a mut dyn Disk,
    geo: Geometry,
    report: Report,
    claims: Vec<(Owner, u64, u64)>,
    inodes: BTreeMap<u32, InodeInfo>,
    /// In-use slots that failed to decode.
    bad: HashSet<u32>,
    entries: Vec<Entry>,
}

/// Checks the filesystem on `disk`. `Err` only for I/O errors; problems
/// with the filesystem are in the report.
pub fn check(disk: &mut dyn Disk) -> io::Result<Report> {
    let mut report = Report::default();
    if disk.blocks() == 0 {
        report
            .problems
            .push("superblock: device smaller than one block".to_string());
        return Ok(report);
    }
    let mut block = zeroed_block();
    disk.read_block(0, &mut block)?;
    let sb = match Superblock::decode(&block, disk.blocks()) {
        Ok(sb) => sb,
        Err(e) => {
            report.problems.push(format!("superblock: {e}"));
            return Ok(report);
        }
    };
    let geo = sb.geometry;
    report.geometry = Some(geo);
    report.notes.push(format!(
        "superblock: {} blocks, {} inodes, data from block {}",
        geo.total_blocks, geo.inode_count, geo.data_start
    ));
    let mut c = Checker {
        disk,
        geo,
        report,
        claims: vec![(Owner::Metadata, 0, geo.data_start)],
        inodes: BTreeMap::new(),
        bad: HashSet::new(),
        entries: Vec::new(),
    };
    c.inode_pass()?;
    let used = c.block_pass()?;
    c.directory_pass()?;
    c.link_pass();
    let mut report = c.report;
    report.used_blocks = used.count();
    report.free_blocks = geo.total_blocks - report.used_blocks;
    Ok(report)
}

impl Checker<'_> {
    fn problem(&mut self, msg: String) {
        self.report.problems.push(msg);
    }

    /// Pass 2: inode slots and extents.
    fn inode_pass(&mut self) -> io::Result<()> {
        let mut block = zeroed_block();
        for b in 0..self.geo.inode_table_blocks {
            self.disk
                .read_block(self.geo.inode_table_start + b, &mut block)?;
            for slot in 0..INODES_PER_BLOCK {
                let raw = inode_slot(&block, slot).expect("slot in range");
                let ino = b * INODES_PER_BLOCK as u64 + slot as u64;
                // inode_count <= MAX_INODES fits a u32.
                let ino = ino as u32;
                if ino == 0 {
                    if raw.iter().any(|&x| x != 0) {
                        self.problem("inode 0: unused slot is not zeroed".to_string());
                    }
                    continue;
                }
                match Inode::decode(raw) {
                    Ok(None) => {}
                    Ok(Some(inode)) => self.check_inode(ino, inode)?,
                    Err(e) => {
                        self.problem(format!("inode {ino}: {e}"));
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
            None => self.problem(format!("root inode {ROOT_INO} is free")),
            Some(root) if !root.inode.is_dir() => {
                let kind = kind_str(root.inode.mode);
                self.problem(format!(
                    "root inode {ROOT_INO} is a {kind}, not a directory"
                ));
            }
            Some(root) if root.inode.parent != ROOT_INO => {
                let parent = root.inode.parent;
                self.problem(format!(
                    "root directory: parent is {parent}, should be {ROOT_INO}"
                ));
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Checks one extent; keeps and claims it if its blocks are on the
    /// data area.
    fn check_extent(
        &mut self,
        ino: u32,
        index: usize,
        e: Extent,
        checker: &mut ExtentChecker,
        kept: &mut Vec<Extent>,
    ) -> bool {
        let result = checker.check(&e);
        if let Err(err) = result {
            self.problem(format!(
                "inode {ino}: extent {index} ({}): {err}",
                extent_str(&e)
            ));
        }
        // Blocks an out-of-order extent points at are still referenced.
        if self.geo.in_data(e.physical, e.len.into()) {
            self.claims
                .push((Owner::Data(ino), e.physical, e.len.into()));
            if result.is_ok() {
                kept.push(e);
            }
        }
        result.is_ok()
    }

    fn check_inode(&mut self, ino: u32, inode: Inode) -> io::Result<()> {
        let mut checker = ExtentChecker::new(&self.geo);
        let mut extents = Vec::new();
        let mut ok = true;
        for (i, e) in inode.inline_extents().iter().enumerate() {
            ok &= self.check_extent(ino, i, *e, &mut checker, &mut extents);
        }

        // The chain: exactly chain_extent_count() extents in blocks of 1..=254.
        let mut remaining = u64::from(inode.chain_extent_count());
        let mut next = inode.extent_chain;
        let mut index = inode.inline_extents().len();
        let mut block = zeroed_block();
        let mut visited = HashSet::new();
        while next != 0 {
            if !visited.insert(next) {
                self.problem(format!(
                    "inode {ino}: extent chain loops back to block {next}"
                ));
                ok = false;
                break;
            }
            if remaining == 0 {
                self.problem(format!(
                    "inode {ino}: extent chain continues at block {next} past extent_count {}",
                    inode.extent_count
                ));
                ok = false;
                break;
            }
            if let Err(e) = checker.check_chain_block(next) {
                self.problem(format!("inode {ino}: extent block {next}: {e}"));
                ok = false;
                break;
            }
            self.claims.push((Owner::Chain(ino), next, 1));
            self.disk.read_block(next, &mut block)?;
            let chain = match ChainBlock::decode(&block) {
                Ok(chain) => chain,
                Err(e) => {
                    self.problem(format!("inode {ino}: extent block {next}: {e}"));
                    ok = false;
                    break;
                }
            };
            for e in chain.extents() {
                ok &= self.check_extent(ino, index, e, &mut checker, &mut extents);
                index += 1;
            }
            if u64::from(chain.count) > remaining {
                self.problem(format!(
                    "inode {ino}: extent chain holds more extents than extent_count {}",
                    inode.extent_count
                ));
                ok = false;
                break;
            }
            remaining -= u64::from(chain.count);
            next = chain.next;
        }
        if ok && remaining != 0 {
            self.problem(format!(
                "inode {ino}: extent chain ends {remaining} extents short of extent_count {}",
                inode.extent_count
            ));
            ok = false;
        }

        let mapped: u64 = extents.iter().map(|e| u64::from(e.len)).sum();
        let bs = BLOCK_SIZE as u64;
        if inode.is_dir() {
            if ok
                && (inode.size % bs != 0
                    || inode.size / bs != mapped
                    || checker.logical_end() != mapped)
            {
                self.problem(format!(
                    "directory {ino}: size {} does not match its {mapped} mapped blocks",
                    inode.size
                ));
            }
        } else if checker.logical_end() > inode.size.div_ceil(bs) {
            self.problem(format!(
                "inode {ino}: extents reach file block {} past the size of {} bytes",
                checker.logical_end(),
                inode.size
            ));
        }
        if inode.is_dir() {
            self.report.dirs += 1;
        } else {
            self.report.files += 1;
        }
        self.inodes.insert(ino, InodeInfo { inode, extents });
        Ok(())
    }

    /// Pass 3: blocks used twice, then the bitmap. Returns the used set.
    fn block_pass(&mut self) -> io::Result<Bits> {
        let total = self.geo.total_blocks;
        let mut used = Bits::new(total);
        let mut dups = Vec::new();
        for &(_, start, len) in &self.claims {
            for b in start..start + len {
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
                break;
            }
            let mut owners: Vec<String> = Vec::new();
            for &(owner, start, len) in &self.claims {
                if start < e && s < start + len {
                    let o = owner.to_string();
                    if !owners.contains(&o) {
                        owners.push(o);
                    }
                }
            }
            let msg = format!(
                "{} used more than once: by {}",
                blocks(s, e),
                owners.join(", ")
            );
            self.report.problems.push(msg);
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
            self.problem(format!(
                "bitmap: {} marked in use but not used by anything (leaked)",
                blocks(s, e)
            ));
        }
        for &(s, e) in &unmarked.0 {
            self.problem(format!("bitmap: {} in use but marked free", blocks(s, e)));
        }
        if tail_clear {
            self.problem(format!(
                "bitmap: bits for blocks past the end ({total}) are not all set"
            ));
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
            .filter(|(_, info)| info.inode.is_dir())
            .map(|(&ino, info)| (ino, info.extents.clone()))
            .collect();
        let mut block = zeroed_block();
        for (dir, extents) in dirs {
            let mut names: HashSet<Vec<u8>> = HashSet::new();
            for e in extents {
                for i in 0..u64::from(e.len) {
                    let lblk = u64::from(e.logical) + i;
                    self.disk.read_block(e.physical + i, &mut block)?;
                    if let Err(err) = check_dir_block_tail(&block) {
                        self.problem(format!("directory {dir}: block {lblk}: {err}"));
                    }
                    for slot in 0..DIRENTS_PER_BLOCK {
                        let where_ = format!("directory {dir}: block {lblk} entry {slot}");
                        match decode_dirent(&block, slot) {
                            Ok(None) => {}
                            Err(err) => self.problem(format!("{where_}: {err}")),
                            Ok(Some(entry)) => {
                                let name = name_str(entry.name);
                                if !names.insert(entry.name.to_vec()) {
                                    self.problem(format!("{where_}: duplicate name {name}"));
                                    continue;
                                }
                                self.check_entry(
                                    &where_,
                                    dir,
                                    entry.name,
                                    entry.ino,
                                    entry.file_type,
                                );
                            }
                        }
                    }
                }
            }
        }
        self.report
            .notes
            .push(format!("directories: {} entries", self.entries.len()));
        Ok(())
    }

    fn check_entry(&mut self, where_: &str, dir: u32, name: &[u8], ino: u32, file_type: u8) {
        let shown = name_str(name);
        if !self.geo.valid_ino(ino.into()) {
            self.problem(format!(
                "{where_}: {shown} refers to inode {ino}, out of range"
            ));
            return;
        }
        if self.bad.contains(&ino) {
            self.problem(format!("{where_}: {shown} refers to corrupt inode {ino}"));
            return;
        }
        let Some(target) = self.inodes.get(&ino) else {
            self.problem(format!("{where_}: {shown} refers to free inode {ino}"));
            return;
        };
        let want = target.inode.file_type();
        if file_type != want {
            self.problem(format!(
                "{where_}: {shown} has file type {file_type}, inode {ino} is a {} (type {want})",
                kind_str(target.inode.mode)
            ));
        }
        if ino == ROOT_INO {
            self.problem(format!("{where_}: {shown} links the root directory"));
            return;
        }
        self.entries.push(Entry { dir, ino });
    }

    /// Pass 5: reachability, link counts, parents.
    fn link_pass(&mut self) {
        let mut names: HashMap<u32, u32> = HashMap::new();
        let mut subdirs: HashMap<u32, u32> = HashMap::new();
        let mut parents: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for entry in &self.entries {
            *names.entry(entry.ino).or_default() += 1;
            children.entry(entry.dir).or_default().push(entry.ino);
            if self.inodes[&entry.ino].inode.is_dir() {
                *subdirs.entry(entry.dir).or_default() += 1;
                parents.entry(entry.ino).or_default().push(entry.dir);
            }
        }

        let root_ok = self
            .inodes
            .get(&ROOT_INO)
            .is_some_and(|root| root.inode.is_dir());
        if root_ok {
            let mut seen = HashSet::from([ROOT_INO]);
            let mut queue = VecDeque::from([ROOT_INO]);
            while let Some(dir) = queue.pop_front() {
                for &child in children.get(&dir).map_or(&[][..], |c| c.as_slice()) {
                    if seen.insert(child) && self.inodes[&child].inode.is_dir() {
                        queue.push_back(child);
                    }
                }
            }
            let lost: Vec<(u32, u16)> = self
                .inodes
                .iter()
                .filter(|(ino, _)| !seen.contains(ino))
                .map(|(&ino, info)| (ino, info.inode.mode))
                .collect();
            for (ino, mode) in lost {
                self.problem(format!(
                    "inode {ino}: {} in use but not reachable from the root",
                    kind_str(mode)
                ));
            }
        }

        let mut problems = Vec::new();
        for (&ino, info) in &self.inodes {
            let inode = &info.inode;
            if inode.is_dir() {
                let want = 2 + subdirs.get(&ino).copied().unwrap_or(0);
                if inode.nlink != want {
                    problems.push(format!(
                        "directory {ino}: nlink is {}, should be {want} (2 + subdirectories)",
                        inode.nlink
                    ));
                }
                let linked_from = parents.get(&ino).map_or(&[][..], |p| p.as_slice());
                match linked_from {
                    [] => {}
                    [dir] => {
                        if inode.parent != *dir {
                            problems.push(format!(
                                "directory {ino}: parent is {}, but it is linked in directory {dir}",
                                inode.parent
                            ));
                        }
                    }
                    many => {
                        let list: Vec<String> = many.iter().map(|d| d.to_string()).collect();
                        problems.push(format!(
                            "directory {ino}: linked more than once, from directories {}",
                            list.join(", ")
                        ));
                    }
                }
            } else {
                let want = names.get(&ino).copied().unwrap_or(0);
                if inode.nlink != want {
                    problems.push(format!(
                        "inode {ino}: nlink is {}, but {want} directory entries name it",
                        inode.nlink
                    ));
                }
            }
        }
        self.report.problems.extend(problems);
    }
}
