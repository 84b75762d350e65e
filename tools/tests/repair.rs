//! fsck's findings on images the kernel refuses, its repairs (`-p`, `-y`):
//! each bad image is built with the builder (checksums valid), fsck must
//! report it, the repair must leave an image a second check calls clean,
//! with the untouched files' data intact; and fsck on mutated images never
//! panics.

use delafs::shared::crc32c::crc32c;
use delafs::shared::format::{
    Extent, BLOCK_SIZE, DIRENT_SIZE, DT_DIR, DT_LNK, DT_REG, INODE_CSUM_OFFSET, MAX_FILE_SIZE,
    S_IFLNK,
};

#[path = "../src/host/mod.rs"]
pub mod host;

use host::builder::{ImageBuilder, ROOT};
use host::disk::MemDisk;
use host::fsck::{self, Level, Outcome, Repair, Report};

/// Inode numbers of `populated()`.
struct Inodes {
    a: u32,
    sub: u32,
    deeper: u32,
    sparse: u32,
    big: u32,
}

/// Files with data (some in extent chains), a hard link, nested
/// directories.
fn populated() -> (ImageBuilder, Inodes) {
    let mut b = ImageBuilder::new(1024, 64);
    let e = b.data_extent(0, 3);
    fill(&mut b, e, 1);
    let a = b.create_file(ROOT, "a", 3 * 4096 - 100, &[e]);
    let sub = b.create_dir(ROOT, "sub");
    let deeper = b.create_dir(sub, "deeper");
    let e1 = b.data_extent(0, 1);
    let e2 = b.data_extent(10, 2);
    fill(&mut b, e1, 2);
    fill(&mut b, e2, 3);
    let sparse = b.create_file(deeper, "sparse", 12 * 4096, &[e1, e2]);
    b.link(sub, "a-link", a);
    // 12 extents: 8 inline, 4 in a chain block.
    let extents: Vec<Extent> = (0..12).map(|i| b.data_extent(2 * i, 1)).collect();
    for (i, e) in extents.iter().enumerate() {
        fill(&mut b, *e, 10 + i as u8);
    }
    let big = b.create_file(ROOT, "big", 23 * 4096 + 7, &extents);
    b.create_file(sub, "empty", 0, &[]);
    (
        b,
        Inodes {
            a,
            sub,
            deeper,
            sparse,
            big,
        },
    )
}

/// Fills the blocks of `e` with a pattern.
fn fill(b: &mut ImageBuilder, e: Extent, seed: u8) {
    for i in 0..u64::from(e.len) {
        let blk = b.block_mut(e.physical + i);
        for (j, x) in blk.iter_mut().enumerate() {
            *x = seed.wrapping_mul(31).wrapping_add((j % 251) as u8);
        }
    }
}

fn contains(report: &Report, needle: &str) -> bool {
    report.problems.iter().any(|p| p.contains(needle))
}

#[track_caller]
fn assert_found(report: &Report, needles: &[&str]) {
    assert!(!report.is_clean(), "clean, want {needles:?}");
    for needle in needles {
        assert!(
            contains(report, needle),
            "no problem contains {needle:?}:\n{}",
            report.problems.join("\n")
        );
    }
}

fn run_repair(b: &ImageBuilder, how: Repair) -> (Outcome, MemDisk) {
    let mut disk = b.disk.clone();
    let outcome = fsck::repair(&mut disk, how).expect("repair I/O");
    (outcome, disk)
}

/// fsck reports `needles`; a repair with `how` fixes everything (exit 1);
/// a second check is clean and the files `keep` hold the same bytes.
/// Returns the repaired image.
#[track_caller]
fn repairs(b: &ImageBuilder, how: Repair, needles: &[&str], keep: &[u32]) -> ImageBuilder {
    let found = b.fsck();
    assert_found(&found, needles);
    assert_eq!(fsck::exit_code(&found, false), 4);
    if how == Repair::Yes {
        // Preen leaves at least one of these to -y.
        let (preen, _) = run_repair(b, Repair::Preen);
        assert!(!preen.after.is_clean(), "preen fixed {needles:?}");
        assert!(preen.after.worst() >= Some(Level::Yes), "{:?}", preen.after);
        assert_eq!(fsck::exit_code(&preen.after, !preen.fixed.is_empty()), 4);
    }
    let (outcome, mut disk) = run_repair(b, how);
    assert!(
        outcome.after.is_clean(),
        "{how:?} left:\n{}\nfixed:\n{}",
        outcome.after.problems.join("\n"),
        outcome.fixed.join("\n")
    );
    assert!(!outcome.fixed.is_empty());
    assert_eq!(fsck::exit_code(&outcome.after, true), 1);
    let again = fsck::check(&mut disk).unwrap();
    assert!(again.is_clean(), "{again:?}");
    // Nothing left to do: a second repair changes nothing.
    let (second, disk2) = run_repair(&ImageBuilder::from_disk(disk.clone()), how);
    assert!(second.fixed.is_empty(), "{:?}", second.fixed);
    assert_eq!(disk2.data, disk.data);
    let after = ImageBuilder::from_disk(disk);
    for &ino in keep {
        assert_eq!(after.read_file(ino), b.read_file(ino), "inode {ino} data");
    }
    after
}

/// Writes raw bytes into inode `ino` and reseals its checksum: values the
/// encoder would write but the decoder refuses.
fn poke_inode(b: &mut ImageBuilder, ino: u32, off: usize, bytes: &[u8]) {
    let raw = b.inode_bytes_mut(ino);
    raw[off..off + bytes.len()].copy_from_slice(bytes);
    let sum = crc32c(&raw[..INODE_CSUM_OFFSET]);
    raw[INODE_CSUM_OFFSET..].copy_from_slice(&sum.to_le_bytes());
}

/// Overwrites the entry `name` in `dir` with raw bytes.
fn poke_entry(b: &mut ImageBuilder, dir: u32, name: &str, f: impl FnOnce(&mut [u8])) {
    let (block, slot) = b.find_entry(dir, name).expect("entry exists");
    f(&mut b.block_mut(block)[slot * DIRENT_SIZE..(slot + 1) * DIRENT_SIZE]);
}

fn names(b: &ImageBuilder, dir: u32) -> Vec<String> {
    let mut out = Vec::new();
    for e in b.extents(dir) {
        for blk in e.physical..e.physical_end() {
            for slot in 0..15 {
                if let Ok(Some(d)) = delafs::shared::format::decode_dirent(b.block(blk), slot) {
                    out.push(String::from_utf8_lossy(d.name).into_owned());
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn clean_images_need_nothing() {
    let (b, _) = populated();
    assert!(b.fsck().is_clean(), "{:?}", b.fsck());
    for how in [Repair::Preen, Repair::Yes] {
        let (outcome, disk) = run_repair(&b, how);
        assert!(outcome.fixed.is_empty() && outcome.after.is_clean());
        assert_eq!(fsck::exit_code(&outcome.after, false), 0);
        assert_eq!(disk.data, b.disk.data);
    }
}

#[test]
fn size_beyond_the_limit() {
    let (mut b, n) = populated();
    // 2^44 + 1 bytes: Inode::decode refuses it, the kernel too.
    poke_inode(&mut b, n.a, 16, &(MAX_FILE_SIZE + 1).to_le_bytes());
    let after = repairs(
        &b,
        Repair::Yes,
        &[&format!(
            "inode {}: size 17592186044417 beyond the largest file",
            n.a
        )],
        &[n.sparse, n.big],
    );
    assert_eq!(after.inode(n.a).size, 3 * 4096);
    // And u64::MAX, negative as an loff_t.
    let (mut b, n) = populated();
    poke_inode(&mut b, n.sparse, 16, &u64::MAX.to_le_bytes());
    let after = repairs(&b, Repair::Yes, &["beyond the largest file"], &[n.a, n.big]);
    assert_eq!(after.inode(n.sparse).size, 12 * 4096);
    // Exactly the limit is fine.
    let (mut b, n) = populated();
    poke_inode(&mut b, n.a, 16, &MAX_FILE_SIZE.to_le_bytes());
    assert!(b.fsck().is_clean(), "{:?}", b.fsck());
}

#[test]
fn directory_sizes() {
    // Not a multiple of the block size.
    let (mut b, n) = populated();
    poke_inode(&mut b, n.sub, 16, &4000u64.to_le_bytes());
    let after = repairs(
        &b,
        Repair::Yes,
        &[&format!(
            "directory {}: size 4000 does not match its 1 mapped blocks",
            n.sub
        )],
        &[n.a, n.sparse, n.big],
    );
    assert_eq!(after.inode(n.sub).size, 4096);
    assert_eq!(names(&after, n.sub), ["a-link", "deeper", "empty"]);

    // Extents past the size (what ExtentChecker::check_end refuses): the
    // blocks past it are trimmed.
    let (mut b, n) = populated();
    let mut e = b.extents(n.deeper);
    let extra = b.data_extent(1, 2);
    e.push(extra);
    b.set_extents(n.deeper, &e);
    let after = repairs(
        &b,
        Repair::Yes,
        &[&format!(
            "directory {}: directory has extents past its size: blocks 1..3",
            n.deeper
        )],
        &[n.a, n.sparse, n.big],
    );
    assert_eq!(after.extents(n.deeper).len(), 1);
    assert!(!after.is_used(extra.physical) && !after.is_used(extra.physical + 1));
    assert_eq!(names(&after, n.deeper), ["sparse"]);

    // A hole: closed, the entries after it kept.
    let (mut b, n) = populated();
    let mut e = b.extents(n.sub);
    let block = b.data_extent(3, 1);
    b.block_mut(block.physical).fill(0);
    e.push(block);
    b.set_extents(n.sub, &e);
    b.update_inode(n.sub, |i| i.size = 4 * 4096);
    let (blk, slot) = b.find_entry(n.sub, "empty").unwrap();
    let raw: Vec<u8> = b.block(blk)[slot * DIRENT_SIZE..(slot + 1) * DIRENT_SIZE].to_vec();
    b.block_mut(blk)[slot * DIRENT_SIZE..(slot + 1) * DIRENT_SIZE].fill(0);
    b.block_mut(block.physical)[..DIRENT_SIZE].copy_from_slice(&raw);
    let after = repairs(
        &b,
        Repair::Yes,
        &[
            "no block mapped at file block 1",
            "size 16384 does not match its 2",
        ],
        &[n.a, n.sparse, n.big],
    );
    assert_eq!(after.inode(n.sub).size, 2 * 4096);
    assert_eq!(names(&after, n.sub), ["a-link", "deeper", "empty"]);
}

#[test]
fn blocks_used_twice() {
    // The later claimant (higher inode number) loses the extent; the
    // first keeps its data.
    let (mut b, n) = populated();
    let shared = b.extents(n.a)[0];
    let own = b.data_extent(1, 1);
    let thief = b.create_file(ROOT, "thief", 2 * 4096, &[Extent { len: 1, ..shared }, own]);
    let after = repairs(
        &b,
        Repair::Yes,
        &[&format!(
            "block {} used more than once: by inode {}, inode {thief}",
            shared.physical, n.a
        )],
        &[n.a, n.sparse, n.big],
    );
    assert_eq!(after.extents(thief), [own]);

    // An extent over another file's extent block.
    let (mut b, n) = populated();
    let chain = b.inode(n.big).extent_chain;
    let thief = b.create_file(
        ROOT,
        "thief",
        4096,
        &[Extent {
            logical: 0,
            len: 1,
            physical: chain,
            unwritten: false,
        }],
    );
    let after = repairs(&b, Repair::Yes, &["(extent block), inode"], &[n.a, n.big]);
    assert!(after.extents(thief).is_empty());

    // An extent over the metadata is outside the data area.
    let (mut b, n) = populated();
    let bad = b.create_file(
        ROOT,
        "meta",
        4096,
        &[Extent {
            logical: 0,
            len: 2,
            physical: 2,
            unwritten: false,
        }],
    );
    repairs(
        &b,
        Repair::Yes,
        &["extent outside the data area"],
        &[n.a, n.big],
    );
    let _ = bad;

    // A file's extent chain block claimed by an earlier file: the later
    // one loses the chain's extents.
    let (mut b, n) = populated();
    let chain = b.inode(n.big).extent_chain;
    b.update_inode(n.a, |i| {
        let mut e = i.inline_extents().to_vec();
        e.push(Extent {
            logical: 3,
            len: 1,
            physical: chain,
            unwritten: false,
        });
        i.set_extents(&e, 0).unwrap();
        i.size = 4 * 4096;
    });
    let after = repairs(&b, Repair::Yes, &["used more than once"], &[n.a, n.sparse]);
    assert_eq!(after.extents(n.big).len(), 8);
}

#[test]
fn bitmap_repairs_are_preen() {
    // Metadata marked free.
    let (mut b, n) = populated();
    b.set_used(0, 3, false);
    repairs(
        &b,
        Repair::Preen,
        &["bitmap: blocks 0..3 (3 blocks) in use but marked free (filesystem metadata)"],
        &[n.a, n.sparse, n.big],
    );
    // A used block marked free.
    let (mut b, n) = populated();
    let e = b.extents(n.sparse)[1];
    b.set_used(e.physical, 2, false);
    let after = repairs(
        &b,
        Repair::Preen,
        &["in use but marked free"],
        &[n.a, n.sparse],
    );
    assert!(after.is_used(e.physical));
    // Leaked blocks, and the bits past the end.
    let (mut b, n) = populated();
    let spare = b.alloc(5);
    b.set_used(1024, 1, false);
    let (block, bit) = b.geo.bitmap_location(2000);
    delafs::shared::format::bitmap_set(b.block_mut(block), bit, false);
    let before = b.fsck().free_blocks;
    let after = repairs(
        &b,
        Repair::Preen,
        &[
            "(5 blocks) marked in use but not used",
            "past the end (1024)",
        ],
        &[n.a, n.sparse, n.big],
    );
    assert!(!after.is_used(spare));
    assert_eq!(after.fsck().free_blocks, before);
}

#[test]
fn leaked_blocks_wait_for_problems_needing_yes() {
    // A corrupt inode makes its blocks look unused: preen does not free
    // them while the inode's problem is left.
    let (mut b, n) = populated();
    let e = b.extents(n.sparse);
    b.inode_bytes_mut(n.sparse)[40] ^= 1;
    let (preen, disk) = run_repair(&b, Repair::Preen);
    assert!(contains(&preen.after, "leaked"), "{:?}", preen.after);
    assert_eq!(fsck::exit_code(&preen.after, !preen.fixed.is_empty()), 4);
    let pb = ImageBuilder::from_disk(disk);
    assert!(pb.is_used(e[0].physical));
    let after = repairs(
        &b,
        Repair::Yes,
        &[
            &format!("inode {}: checksum mismatch", n.sparse),
            "refers to corrupt inode",
            "leaked",
        ],
        &[n.a, n.big],
    );
    assert!(!after.is_used(e[0].physical));
    assert_eq!(names(&after, n.deeper), Vec::<String>::new());
}

#[test]
fn blocks_past_eof_are_trimmed_by_preen() {
    // What failed O_DIRECT writes leave: blocks past the size.
    let (mut b, n) = populated();
    b.update_inode(n.sparse, |i| i.size = 10 * 4096 + 1);
    let tail = b.extents(n.sparse)[1];
    let after = repairs(
        &b,
        Repair::Preen,
        &["written extents reach file block 12 past the size of 40961 bytes"],
        &[n.a, n.big, n.sparse],
    );
    assert_eq!(after.extents(n.sparse)[1], Extent { len: 1, ..tail });
    assert!(!after.is_used(tail.physical + 1));

    // Across an extent chain: the chain block goes too.
    let (mut b, n) = populated();
    let chain = b.inode(n.big).extent_chain;
    b.update_inode(n.big, |i| i.size = 3 * 4096);
    let after = repairs(
        &b,
        Repair::Preen,
        &["past the size"],
        &[n.a, n.sparse, n.big],
    );
    assert_eq!(after.extents(n.big).len(), 2);
    assert_eq!(after.inode(n.big).extent_chain, 0);
    assert!(!after.is_used(chain));

    // Size 0: every extent goes.
    let (mut b, n) = populated();
    b.update_inode(n.a, |i| i.size = 0);
    let after = repairs(
        &b,
        Repair::Preen,
        &["past the size of 0 bytes"],
        &[n.sparse, n.big],
    );
    assert!(after.extents(n.a).is_empty());
}

#[test]
fn link_counts_and_parents_are_preen() {
    let (mut b, n) = populated();
    b.update_inode(n.a, |i| i.nlink = 7);
    b.update_inode(n.sub, |i| i.nlink = 2);
    b.update_inode(n.deeper, |i| i.parent = ROOT);
    b.update_inode(ROOT, |i| i.parent = n.sub);
    let after = repairs(
        &b,
        Repair::Preen,
        &[
            "nlink is 7, but 2 directory entries name it",
            "nlink is 2, should be 3",
            &format!(
                "directory {}: parent is 1, but it is linked in directory {}",
                n.deeper, n.sub
            ),
            "root directory: parent is",
        ],
        &[n.a, n.sparse, n.big],
    );
    assert_eq!(after.inode(n.a).nlink, 2);
    assert_eq!(after.inode(n.deeper).parent, n.sub);

    // nlink 0 on a named inode: the kernel refuses to look it up.
    let (mut b, n) = populated();
    b.update_inode(n.sparse, |i| i.nlink = 0);
    let after = repairs(
        &b,
        Repair::Preen,
        &["nlink is 0, but 1 directory entries name it"],
        &[n.sparse, n.a],
    );
    assert_eq!(after.inode(n.sparse).nlink, 1);
}

#[test]
fn entry_type_mismatch_is_preen() {
    let (mut b, n) = populated();
    poke_entry(&mut b, ROOT, "a", |e| e[5] = DT_DIR);
    poke_entry(&mut b, ROOT, "sub", |e| e[5] = DT_REG);
    repairs(
        &b,
        Repair::Preen,
        &[
            "has file type 4, inode 2 is a regular file (type 8)",
            "has file type 8, inode 3 is a directory (type 4)",
        ],
        &[n.a, n.sparse, n.big],
    );
}

#[test]
fn second_names_of_directories() {
    // A hard link to a directory: the entry from the directory that is not
    // its parent goes.
    let (mut b, n) = populated();
    b.add_entry(ROOT, b"deeper-again", n.deeper, DT_DIR);
    let after = repairs(
        &b,
        Repair::Yes,
        &[&format!(
            "directory 1: entry \"deeper-again\" names directory {}, whose parent is {}",
            n.deeper, n.sub
        )],
        &[n.a, n.sparse, n.big],
    );
    assert_eq!(names(&after, ROOT), ["a", "big", "sub"]);
    // A directory in itself.
    let (mut b, n) = populated();
    b.add_entry(n.sub, b"me", n.sub, DT_DIR);
    repairs(
        &b,
        Repair::Yes,
        &[&format!(
            "directory {}: entry \"me\" names the directory itself",
            n.sub
        )],
        &[n.a, n.sparse, n.big],
    );
    // A loop: a directory names its grandparent.
    let (mut b, n) = populated();
    b.add_entry(n.deeper, b"up", n.sub, DT_DIR);
    let after = repairs(
        &b,
        Repair::Yes,
        &["entry \"up\" names directory 3, whose parent is 1"],
        &[n.a, n.sparse, n.big],
    );
    assert_eq!(names(&after, n.deeper), ["sparse"]);
}

#[test]
fn bad_entries_are_cleared() {
    let (mut b, n) = populated();
    poke_entry(&mut b, n.sub, "a-link", |e| {
        e[..4].copy_from_slice(&1000u32.to_le_bytes())
    });
    poke_entry(&mut b, ROOT, "big", |e| e[8] = b'/');
    b.add_entry(n.deeper, b"ghost", 40, DT_REG);
    b.add_entry(n.deeper, b"sparse", n.sparse, DT_REG);
    b.add_entry(n.deeper, b"root", ROOT, DT_DIR);
    let (blk, _) = b.find_entry(ROOT, "a").unwrap();
    b.block_mut(blk)[4000] = 9;
    b.block_mut(blk)[14 * DIRENT_SIZE + 20] = 1;
    let after = repairs(
        &b,
        Repair::Yes,
        &[
            "refers to inode 1000, out of range",
            "invalid name",
            "refers to free inode 40",
            "duplicate name \"sparse\"",
            "\"root\" links the root directory",
            "directory block tail is not zeroed",
            "free directory entry is not zeroed",
        ],
        &[n.a, n.sparse],
    );
    assert_eq!(names(&after, n.deeper), ["sparse"]);
    // "big" lost its only name: linked back into the root as #INO.
    assert_eq!(
        names(&after, ROOT),
        [format!("#{}", n.big), "a".into(), "sub".into()]
    );
    assert_eq!(after.read_file(n.big), b.read_file(n.big));
    assert_eq!(after.inode(n.a).nlink, 1);
}

#[test]
fn symlinks_are_refused() {
    let (mut b, n) = populated();
    let link = b.create_symlink(n.sub, "link", "a");
    assert_eq!(b.inode(link).mode & 0o170_000, S_IFLNK);
    let after = repairs(
        &b,
        Repair::Yes,
        &[
            &format!("inode {link}: a symlink, which delafs does not have"),
            &format!("\"link\" refers to inode {link}, a symlink"),
        ],
        &[n.a, n.sparse, n.big],
    );
    assert!(after.inode_bytes(link).iter().all(|&x| x == 0));
    assert_eq!(names(&after, n.sub), ["a-link", "deeper", "empty"]);
}

#[test]
fn orphans() {
    // nlink 0, no name: preen frees it and its blocks.
    let (mut b, n) = populated();
    let e = b.data_extent(0, 2);
    let mut orphan = b.inode(n.a);
    orphan.nlink = 0;
    orphan.size = 2 * 4096;
    orphan.set_extents(&[e], 0).unwrap();
    b.write_inode(50, &orphan);
    let after = repairs(
        &b,
        Repair::Preen,
        &["inode 50: regular file in use but not reachable from the root (nlink 0, no names)"],
        &[n.a, n.sparse, n.big],
    );
    assert!(after.inode_bytes(50).iter().all(|&x| x == 0));
    assert!(!after.is_used(e.physical));

    // nlink 1, no name: -y links it into the root as #50, data intact.
    let (mut b, n) = populated();
    let e = b.data_extent(0, 2);
    fill(&mut b, e, 77);
    orphan.nlink = 1;
    orphan.set_extents(&[e], 0).unwrap();
    b.write_inode(50, &orphan);
    let after = repairs(
        &b,
        Repair::Yes,
        &["inode 50: regular file in use but not reachable from the root"],
        &[n.a, n.sparse, n.big, 50],
    );
    assert!(names(&after, ROOT).contains(&"#50".to_string()));

    // A directory tree cut off from the root, with a loop: its top comes
    // back with its files.
    let (mut b, n) = populated();
    poke_entry(&mut b, ROOT, "sub", |e| e.fill(0));
    b.add_entry(n.deeper, b"loop", n.sub, DT_DIR);
    b.update_inode(n.sub, |i| i.parent = n.deeper);
    b.update_inode(ROOT, |i| i.nlink -= 1);
    let after = repairs(
        &b,
        Repair::Yes,
        &[&format!(
            "inode {}: directory in use but not reachable",
            n.sub
        )],
        &[n.a, n.sparse, n.big],
    );
    let root = names(&after, ROOT);
    assert!(root.iter().any(|s| s.starts_with('#')), "{root:?}");
    assert_eq!(after.inode(ROOT).nlink, 3);

    // Many orphans: the root grows a block.
    let (mut b, n) = populated();
    let mut orphan = b.inode(n.a);
    orphan.nlink = 1;
    orphan.set_extents(&[], 0).unwrap();
    orphan.size = 0;
    for ino in 30..50 {
        b.write_inode(ino, &orphan);
    }
    let after = repairs(
        &b,
        Repair::Yes,
        &["inode 49: regular file"],
        &[n.a, n.sparse, n.big],
    );
    assert_eq!(names(&after, ROOT).len(), 23);
    assert_eq!(after.inode(ROOT).size, 2 * 4096);
}

#[test]
fn corrupt_inodes_are_freed() {
    let (mut b, n) = populated();
    let chain_extents = b.extents(n.big);
    b.inode_bytes_mut(n.big)[100] ^= 0x40;
    let after = repairs(
        &b,
        Repair::Yes,
        &[&format!("inode {}: checksum mismatch", n.big)],
        &[n.a, n.sparse],
    );
    assert!(after.inode_bytes(n.big).iter().all(|&x| x == 0));
    for e in chain_extents {
        assert!(!after.is_used(e.physical));
    }
    // An inode of a type delafs does not know (block device).
    let (mut b, n) = populated();
    poke_inode(&mut b, n.sparse, 1, &[0o060]);
    repairs(&b, Repair::Yes, &["invalid mode"], &[n.a, n.big]);
    // A non-directory with a parent field.
    let (mut b, n) = populated();
    let data = b.read_file(n.a);
    poke_inode(&mut b, n.a, 72, &5u32.to_le_bytes());
    let after = repairs(
        &b,
        Repair::Yes,
        &["parent field inconsistent with the file type"],
        &[n.sparse, n.big],
    );
    assert_eq!(after.inode(n.a).parent, 0);
    assert_eq!(after.read_file(n.a), data);
}

/// Unrecoverable: repairs leave them and say so.
#[test]
fn what_is_not_repaired() {
    let mut b = ImageBuilder::new(256, 64);
    b.inode_bytes_mut(ROOT).fill(0);
    let (outcome, disk) = run_repair(&b, Repair::Yes);
    assert!(contains(&outcome.after, "root inode 1 is free"));
    assert_eq!(
        fsck::exit_code(&outcome.after, !outcome.fixed.is_empty()),
        4
    );
    assert_eq!(disk.data, b.disk.data);
    let mut b = ImageBuilder::new(256, 64);
    b.block_mut(0)[0] = 0;
    let (outcome, _) = run_repair(&b, Repair::Yes);
    assert_eq!(outcome.after.worst(), Some(Level::Never));
    let _ = BLOCK_SIZE;
}

/// A xorshift generator: reproducible mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Mutates a small image: bit flips and interesting values in metadata,
/// directory and extent blocks, with checksums resealed half the time so
/// that the mutation gets past them.
fn mutate(b: &mut ImageBuilder, rng: &mut Rng, interesting: &[u64]) {
    let rounds = 1 + rng.below(6);
    for _ in 0..rounds {
        if rng.below(3) == 0 {
            mutate_field(b, rng, interesting);
            continue;
        }
        let blk = match rng.below(20) {
            0 => 0,
            1..=3 => b.geo.bitmap_start,
            4..=12 => b.geo.inode_table_start + rng.below(b.geo.inode_table_blocks),
            _ => interesting[rng.below(interesting.len() as u64) as usize],
        };
        let off = rng.below(BLOCK_SIZE as u64) as usize;
        let block = b.block_mut(blk);
        match rng.below(4) {
            0 => block[off] ^= 1 << rng.below(8),
            1 => block[off] = rng.next() as u8,
            _ => {
                let at = off & !3;
                let values = [
                    0u64,
                    1,
                    2,
                    3,
                    7,
                    255,
                    4096,
                    1 << 32,
                    u64::MAX,
                    rng.next() % 2048,
                ];
                let v = values[rng.below(values.len() as u64) as usize];
                let bytes = v.to_le_bytes();
                let n = if rng.below(2) == 0 { 4 } else { 8 };
                let n = n.min(BLOCK_SIZE - at);
                block[at..at + n].copy_from_slice(&bytes[..n]);
            }
        }
        if rng.below(2) == 0 {
            let inode_table =
                b.geo.inode_table_start..b.geo.inode_table_start + b.geo.inode_table_blocks;
            let block = b.block_mut(blk);
            if inode_table.contains(&blk) {
                let slot = off / 256 * 256;
                let sum = crc32c(&block[slot..slot + INODE_CSUM_OFFSET]);
                block[slot + INODE_CSUM_OFFSET..slot + 256].copy_from_slice(&sum.to_le_bytes());
            } else if blk == 0 || block[..4] == 0x5845_4C44u32.to_le_bytes() {
                let sum = crc32c(&block[..BLOCK_SIZE - 4]);
                block[BLOCK_SIZE - 4..].copy_from_slice(&sum.to_le_bytes());
            }
        }
    }
}

/// A field of an in-use inode (checksum resealed) or of a directory
/// entry set to a value that means something: another inode, another
/// type, a size, a link count, a parent.
fn mutate_field(b: &mut ImageBuilder, rng: &mut Rng, interesting: &[u64]) {
    let values = [
        0u64,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        4095,
        4096,
        8192,
        1 << 32,
        1 << 44,
        (1 << 44) + 1,
        u64::MAX,
    ];
    let v = values[rng.below(values.len() as u64) as usize];
    if rng.below(2) == 0 {
        let ino = 1 + rng.below(6) as u32;
        let (off, n) = match rng.below(8) {
            0 => (4, 4),                                // nlink
            1 | 2 => (16, 8),                           // size
            3 => (72, 4),                               // parent
            4 => (60, 4),                               // extent_count
            5 => (96 + 16 * rng.below(8) as usize, 4),  // an extent's logical
            6 => (100 + 16 * rng.below(8) as usize, 4), // an extent's length
            _ => {
                // The mode's type: symlink, file, directory, block device.
                let t = [0o120_000u16, 0o100_000, 0o040_000, 0o060_000][rng.below(4) as usize];
                let mode = u16::from_le_bytes([b.inode_bytes(ino)[0], b.inode_bytes(ino)[1]]);
                poke_inode(b, ino, 0, &(mode & 0o7777 | t).to_le_bytes());
                return;
            }
        };
        poke_inode(b, ino, off, &v.to_le_bytes()[..n]);
    } else {
        let blk = interesting[rng.below(interesting.len() as u64) as usize];
        let slot = rng.below(4) as usize * DIRENT_SIZE;
        let block = b.block_mut(blk);
        if block[slot..slot + 4] == [0; 4] && rng.below(2) == 0 {
            // A copy of another entry: a duplicate name or a second link.
            let from = rng.below(4) as usize * DIRENT_SIZE;
            let e: Vec<u8> = block[from..from + DIRENT_SIZE].to_vec();
            block[slot..slot + DIRENT_SIZE].copy_from_slice(&e);
        } else if rng.below(2) == 0 {
            block[slot..slot + 4].copy_from_slice(&(v as u32 % 8).to_le_bytes());
        } else {
            block[slot + 5] = [DT_DIR, DT_REG, DT_LNK, 1][rng.below(4) as usize];
        }
    }
}

/// fsck never panics: thousands of seeded mutations of a small image,
/// checked, preened and repaired. A repair with -y leaves a clean image
/// whenever the superblock and the root are usable.
#[test]
fn mutated_images_never_panic() {
    let mut base = ImageBuilder::new(128, 32);
    let e = base.data_extent(0, 2);
    let a = base.create_file(ROOT, "a", 2 * 4096 - 3, &[e]);
    let d = base.create_dir(ROOT, "d");
    let extents: Vec<Extent> = (0..10).map(|i| base.data_extent(2 * i, 1)).collect();
    let f = base.create_file(d, "chained", 20 * 4096, &extents);
    base.link(d, "a2", a);
    base.create_dir(d, "e");
    let mut interesting: Vec<u64> = Vec::new();
    for ino in [ROOT, d, f] {
        interesting.extend(base.extents(ino).iter().map(|e| e.physical));
    }
    interesting.push(base.inode(f).extent_chain);
    assert!(base.fsck().is_clean());

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut found = 0;
    let mut left = 0;
    for round in 0..3000 {
        let mut b = ImageBuilder::from_disk(base.disk.clone());
        mutate(&mut b, &mut rng, &interesting);
        let r = b.fsck();
        assert!(matches!(fsck::exit_code(&r, false), 0 | 4));
        if r.is_clean() {
            continue;
        }
        found += 1;
        let how = if round % 3 == 0 {
            Repair::Preen
        } else {
            Repair::Yes
        };
        let (outcome, mut disk) = run_repair(&b, how);
        let code = fsck::exit_code(&outcome.after, !outcome.fixed.is_empty());
        assert!(matches!(code, 0 | 1 | 4), "round {round}: {code}");
        let again = fsck::check(&mut disk).unwrap();
        assert_eq!(again.problems, outcome.after.problems, "round {round}");
        if how == Repair::Yes && outcome.after.worst() < Some(Level::Never) {
            assert!(
                outcome.after.is_clean(),
                "round {round}: -y left\n{}\nfound\n{}\nfixed\n{}",
                outcome.after.problems.join("\n"),
                outcome.found.problems.join("\n"),
                outcome.fixed.join("\n")
            );
        }
        if !outcome.after.is_clean() {
            left += 1;
        }
    }
    assert!(found > 1000, "only {found} mutations were problems");
    eprintln!("{found} damaged images, {left} not fully repaired");
}

/// Truncated and random images: still no panic.
#[test]
fn garbage_never_panics() {
    let mut rng = Rng(42);
    for round in 0..300 {
        let blocks = 64 + rng.below(64);
        let mut b = ImageBuilder::new(blocks, 16);
        for n in 0..blocks {
            if rng.below(3) == 0 {
                for x in b.block_mut(n).iter_mut() {
                    *x = if rng.below(4) == 0 {
                        rng.next() as u8
                    } else {
                        0
                    };
                }
            }
        }
        let mut disk = b.disk.clone();
        if round % 5 == 0 {
            disk.data.truncate(rng.below(blocks) as usize * BLOCK_SIZE);
        }
        let r = fsck::check(&mut disk.clone()).unwrap();
        assert!(matches!(fsck::exit_code(&r, false), 0 | 4));
        let outcome = fsck::repair(&mut disk, Repair::Yes).unwrap();
        assert!(matches!(
            fsck::exit_code(&outcome.after, !outcome.fixed.is_empty()),
            0 | 1 | 4
        ));
    }
}
