//! Whole images: mkfs output, images built with the test builder, and fsck
//! on them, clean and with injected corruption. The binaries are tested in
//! `cli.rs`.

use delafs::shared::format::{
    bitmap_set, encode_chain_block, encode_dirent, Block, DirEntry, Extent, FormatError,
    Superblock, BLOCK_SIZE, DIRENT_SIZE, DT_DIR, DT_REG, INODE_CSUM_OFFSET, S_IFREG,
};

#[path = "../src/host/mod.rs"]
pub mod host;

use host::builder::{ImageBuilder, ROOT};
use host::disk::MemDisk;
use host::fsck::{self, Report};
use host::mkfs;

/// Asserts that exactly the problems matching `needles` were found, one
/// problem per needle, in any order.
#[track_caller]
fn assert_problems(report: &Report, needles: &[&str]) {
    let all = report.problems.join("\n");
    assert_eq!(
        report.problems.len(),
        needles.len(),
        "want {needles:?}, got:\n{all}"
    );
    for needle in needles {
        assert!(
            report.problems.iter().any(|p| p.contains(needle)),
            "no problem contains {needle:?}:\n{all}"
        );
    }
}

/// A small populated image: files, a hard link, nested directories. Returns the builder and the inode numbers of interest.
fn populated() -> (ImageBuilder, Inodes) {
    let mut b = ImageBuilder::new(512, 64);
    let e = b.data_extent(0, 3);
    let a = b.create_file(ROOT, "a", 3 * 4096 - 100, &[e]);
    let sub = b.create_dir(ROOT, "sub");
    let deeper = b.create_dir(sub, "deeper");
    let e1 = b.data_extent(0, 1);
    let e2 = b.data_extent(10, 2);
    let f = b.create_file(deeper, "sparse", 12 * 4096, &[e1, e2]);
    b.link(sub, "a-link", a);
    let n = b.data_extent(0, 1);
    b.block_mut(n.physical)[..5].copy_from_slice(b"notes");
    b.create_file(ROOT, "notes", 5, &[n]);
    b.create_file(sub, "empty", 0, &[]);
    (
        b,
        Inodes {
            a,
            sub,
            deeper,
            sparse: f,
        },
    )
}

struct Inodes {
    a: u32,
    sub: u32,
    deeper: u32,
    sparse: u32,
}

#[test]
fn fresh_mkfs_is_clean() {
    for (blocks, inodes) in [(64, 16), (1000, 256), (40_000, 1024)] {
        let b = ImageBuilder::new(blocks, inodes);
        let r = b.fsck();
        assert_problems(&r, &[]);
        assert_eq!((r.files, r.dirs), (0, 1));
        assert_eq!(r.used_blocks, b.geo.data_start);
        assert_eq!(r.free_blocks, blocks - b.geo.data_start);
    }
}

#[test]
fn mkfs_layout() {
    let mut disk = MemDisk::new(40_000);
    let sb = mkfs::format(&mut disk, 40_000, 1024, 5, [1; 16]).unwrap();
    let g = sb.geometry;
    assert_eq!(g.bitmap_blocks, 2);
    assert_eq!(g.inode_table_start, 3);
    assert_eq!(g.inode_table_blocks, 64);
    assert_eq!(g.data_start, 67);
    assert_eq!(Superblock::decode(disk.block(0), 40_000), Ok(sb));
    assert_eq!(mkfs::default_inode_count(64), 16);
    assert_eq!(mkfs::default_inode_count(1000), 240);
    assert_eq!(mkfs::default_inode_count(1 << 30), 1 << 20);
    // Too small and impossible layouts are refused before writing.
    let mut small = MemDisk::new(63);
    assert!(matches!(
        mkfs::format(&mut small, 63, 16, 0, [0; 16]),
        Err(mkfs::MkfsError::Format(FormatError::TooSmall))
    ));
    assert!(small.data.iter().all(|&b| b == 0));
    let mut disk = MemDisk::new(64);
    assert!(matches!(
        mkfs::format(&mut disk, 64, 1024, 0, [0; 16]),
        Err(mkfs::MkfsError::Format(FormatError::NoRoomForData))
    ));
}

#[test]
fn populated_image_is_clean() {
    let (b, _) = populated();
    let r = b.fsck();
    assert_problems(&r, &[]);
    // a, sparse, notes, empty; root, sub, deeper.
    assert_eq!((r.files, r.dirs), (4, 3));
}

#[test]
fn long_extent_chains_and_big_directories_are_clean() {
    let mut b = ImageBuilder::new(4096, 1024);
    // 300 one-block extents with gaps: 8 inline, 254 + 38 in two chain
    // blocks.
    let extents: Vec<Extent> = (0..300).map(|i| b.data_extent(2 * i, 1)).collect();
    let big = b.create_file(ROOT, "fragmented", 600 * 4096, &extents);
    assert_eq!(b.extents(big), extents);
    // 40 entries: three directory blocks.
    let dir = b.create_dir(ROOT, "many");
    for i in 0..40 {
        b.create_file(dir, &format!("f{i:02}"), 0, &[]);
    }
    assert_eq!(b.inode(dir).size, 3 * 4096);
    let r = b.fsck();
    assert_problems(&r, &[]);
    assert_eq!((r.files, r.dirs), (41, 2));

    // Dropping extents frees the second chain block, but leaks the data
    // blocks until they are freed too.
    b.set_extents(big, &extents[..100]);
    let (first, last) = (extents[100].physical, extents[299].physical);
    assert_problems(
        &b.fsck(),
        &[&format!(
            "blocks {first}..{} (200 blocks) marked in use but not used",
            last + 1
        )],
    );
    for e in &extents[100..] {
        b.set_used(e.physical, 1, false);
    }
    assert_problems(&b.fsck(), &[]);
}

fn superblock_error(b: &ImageBuilder, device_blocks: u64) -> Result<Superblock, FormatError> {
    Superblock::decode(b.block(0), device_blocks)
}

/// Recomputes the superblock checksum after an edit.
fn reseal(block: &mut Block) {
    let sum = delafs::shared::crc32c::crc32c(&block[..BLOCK_SIZE - 4]);
    block[BLOCK_SIZE - 4..].copy_from_slice(&sum.to_le_bytes());
}

#[test]
fn superblock_corruptions_are_refused() {
    let fresh = ImageBuilder::new(256, 64);
    let blocks = 256;
    type Corrupt = fn(&mut ImageBuilder);
    let cases: Vec<(&str, Corrupt, FormatError)> = vec![
        ("zeroed", |b| b.block_mut(0).fill(0), FormatError::NotDelafs),
        (
            "other magic",
            |b| b.block_mut(0)[..8].copy_from_slice(b"XFSB\0\0\0\0"),
            FormatError::NotDelafs,
        ),
        (
            "version 2",
            |b| {
                b.block_mut(0)[8] = 2;
                reseal(b.block_mut(0));
            },
            FormatError::UnsupportedVersion(2),
        ),
        (
            "flipped checksum",
            |b| b.block_mut(0)[BLOCK_SIZE - 1] ^= 0x10,
            FormatError::BadChecksum,
        ),
        (
            "flipped field",
            |b| b.block_mut(0)[17] ^= 1,
            FormatError::BadChecksum,
        ),
        (
            "block size 1024",
            |b| {
                b.block_mut(0)[12..16].copy_from_slice(&1024u32.to_le_bytes());
                reseal(b.block_mut(0));
            },
            FormatError::UnsupportedBlockSize(1024),
        ),
        (
            "wrong data_start",
            |b| {
                b.block_mut(0)[64] += 1;
                reseal(b.block_mut(0));
            },
            FormatError::BadGeometry,
        ),
        (
            "inode count not a multiple of 16",
            |b| {
                b.block_mut(0)[24..28].copy_from_slice(&65u32.to_le_bytes());
                reseal(b.block_mut(0));
            },
            FormatError::BadGeometry,
        ),
        (
            "root inode 0",
            |b| {
                b.block_mut(0)[72..76].copy_from_slice(&0u32.to_le_bytes());
                reseal(b.block_mut(0));
            },
            FormatError::BadGeometry,
        ),
    ];
    for (what, corrupt, want) in cases {
        let mut b = ImageBuilder::new(blocks, 64);
        corrupt(&mut b);
        assert_eq!(superblock_error(&b, blocks), Err(want), "{what}");
        let r = b.fsck();
        assert_problems(&r, &[&format!("superblock: {want}")]);
        assert!(r.geometry.is_none(), "{what}");
    }

    // The device is smaller than the filesystem.
    assert_eq!(
        superblock_error(&fresh, blocks - 1),
        Err(FormatError::Truncated)
    );
    let mut truncated = fresh.disk.clone();
    truncated.data.truncate((blocks as usize - 1) * BLOCK_SIZE);
    let r = fsck::check(&mut truncated).unwrap();
    assert_problems(&r, &["superblock: filesystem larger than its device"]);
}

#[test]
fn block_claimed_by_two_files() {
    let (mut b, n) = populated();
    let shared = b.extents(n.a)[0];
    b.create_file(ROOT, "thief", 4096, &[Extent { len: 1, ..shared }]);
    assert_problems(
        &b.fsck(),
        &[&format!(
            "block {} used more than once: by inode {}, inode",
            shared.physical, n.a
        )],
    );
}

#[test]
fn extent_block_shared_with_a_file() {
    let mut b = ImageBuilder::new(512, 64);
    let extents: Vec<Extent> = (0..10).map(|i| b.data_extent(i * 2, 1)).collect();
    let f = b.create_file(ROOT, "f", 20 * 4096, &extents);
    let chain = b.inode(f).extent_chain;
    let extent = Extent {
        logical: 0,
        len: 1,
        physical: chain,
        unwritten: false,
    };
    b.create_file(ROOT, "g", 4096, &[extent]);
    assert_problems(&b.fsck(), &[&format!("(extent block), inode {}", f + 1)]);
}

#[test]
fn leaked_bitmap_bit() {
    let (mut b, _) = populated();
    let spare = b.alloc(1);
    assert_problems(
        &b.fsck(),
        &[&format!(
            "bitmap: block {spare} marked in use but not used by anything (leaked)"
        )],
    );
    // Bits past the end of the device must stay set.
    let (mut b, _) = populated();
    let (block, bit) = b.geo.bitmap_location(600);
    bitmap_set(b.block_mut(block), bit, false);
    assert_problems(
        &b.fsck(),
        &["bits for blocks past the end (512) are not all set"],
    );
}

#[test]
fn used_block_marked_free() {
    let (mut b, n) = populated();
    let e = b.extents(n.sparse)[1];
    b.set_used(e.physical, 2, false);
    let want = format!(
        "bitmap: blocks {}..{} (2 blocks) in use but marked free",
        e.physical,
        e.physical + 2
    );
    assert_problems(&b.fsck(), &[&want]);
    // Metadata too.
    let (mut b, _) = populated();
    b.set_used(0, 1, false);
    assert_problems(&b.fsck(), &["bitmap: block 0 in use but marked free"]);
}

/// Overwrites the entry `name` in `dir` with raw bytes.
fn poke_entry(b: &mut ImageBuilder, dir: u32, name: &str, f: impl FnOnce(&mut [u8])) {
    let (block, slot) = b.find_entry(dir, name).expect("entry exists");
    f(&mut b.block_mut(block)[slot * DIRENT_SIZE..(slot + 1) * DIRENT_SIZE]);
}

#[test]
fn bad_directory_entries() {
    // A '/' in a name: the entry is refused, so "a" loses a name.
    let (mut b, n) = populated();
    poke_entry(&mut b, ROOT, "a", |e| e[8] = b'/');
    assert_problems(
        &b.fsck(),
        &["invalid name", &format!("inode {}: nlink is 2, but 1", n.a)],
    );

    // An inode number past the table.
    let (mut b, n) = populated();
    poke_entry(&mut b, n.sub, "a-link", |e| {
        e[..4].copy_from_slice(&1000u32.to_le_bytes())
    });
    assert_problems(
        &b.fsck(),
        &["refers to inode 1000, out of range", "nlink is 2, but 1"],
    );

    // An entry pointing to a free inode.
    let (mut b, n) = populated();
    poke_entry(&mut b, n.sub, "a-link", |e| {
        e[..4].copy_from_slice(&60u32.to_le_bytes())
    });
    assert_problems(&b.fsck(), &["refers to free inode 60", "nlink is 2, but 1"]);

    // The wrong file type.
    let (mut b, _) = populated();
    poke_entry(&mut b, ROOT, "a", |e| e[5] = DT_DIR);
    assert_problems(
        &b.fsck(),
        &["has file type 4, inode 2 is a regular file (type 8)"],
    );

    // The same name twice.
    let (mut b, n) = populated();
    b.add_entry(n.sub, b"a-link", n.a, DT_REG);
    assert_problems(&b.fsck(), &["duplicate name \"a-link\""]);

    // Garbage after the name, a non-zero free slot, a dirty block tail.
    let (mut b, _) = populated();
    poke_entry(&mut b, ROOT, "sub", |e| e[8 + 3 + 5] = b'x');
    let (block, _) = b.find_entry(ROOT, "a").unwrap();
    b.block_mut(block)[14 * DIRENT_SIZE + 20] = 1;
    b.block_mut(block)[4000] = 1;
    let r = b.fsck();
    assert!(
        r.problems.iter().any(|p| p.contains("invalid name")),
        "{r:?}"
    );
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("entry 14: free directory entry is not zeroed")),
        "{r:?}"
    );
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("directory block tail is not zeroed")),
        "{r:?}"
    );
}

#[test]
fn wrong_link_counts() {
    let (mut b, n) = populated();
    b.update_inode(n.a, |i| i.nlink = 1);
    b.update_inode(n.sub, |i| i.nlink = 2);
    assert_problems(
        &b.fsck(),
        &[
            &format!("inode {}: nlink is 1, but 2 directory entries name it", n.a),
            &format!(
                "directory {}: nlink is 2, should be 3 (2 + subdirectories)",
                n.sub
            ),
        ],
    );
}

#[test]
fn extent_outside_the_device() {
    let (mut b, _) = populated();
    let e = Extent {
        logical: 0,
        len: 4,
        physical: 510,
        unwritten: false,
    };
    let ino = b.create_file(ROOT, "past-end", 4 * 4096, &[e]);
    assert_problems(
        &b.fsck(),
        &[&format!(
            "inode {ino}: extent 0 (file blocks 0..4 -> 510..514): extent outside the data area"
        )],
    );
    // Into the metadata.
    let (mut b, _) = populated();
    let e = Extent {
        logical: 0,
        len: 1,
        physical: 1,
        unwritten: false,
    };
    let ino = b.create_file(ROOT, "on-bitmap", 4096, &[e]);
    assert_problems(
        &b.fsck(),
        &[&format!(
            "inode {ino}: extent 0 (file blocks 0..1 -> 1..2): extent outside"
        )],
    );
}

#[test]
fn bad_inode_checksum() {
    let (mut b, n) = populated();
    b.inode_bytes_mut(n.sparse)[16] ^= 1;
    // The inode is unusable: its entry dangles and its blocks leak.
    let r = b.fsck();
    let sparse = n.sparse;
    assert_problems(
        &r,
        &[
            &format!("inode {sparse}: checksum mismatch"),
            &format!("\"sparse\" refers to corrupt inode {sparse}"),
            "(3 blocks) marked in use but not used by anything (leaked)",
        ],
    );
    assert_eq!(r.files, 3);

    // A free slot that is not all zero.
    let (mut b, _) = populated();
    b.inode_bytes_mut(40)[INODE_CSUM_OFFSET] = 1;
    assert_problems(&b.fsck(), &["inode 40: checksum mismatch"]);
}

#[test]
fn unreachable_inodes_and_wrong_parents() {
    // An in-use inode no directory names.
    let (mut b, _) = populated();
    let mut orphan = b.inode(2);
    orphan.nlink = 1;
    orphan.set_extents(&[], 0).unwrap();
    b.write_inode(50, &orphan);
    assert_problems(
        &b.fsck(),
        &["inode 50: regular file in use but not reachable from the root"],
    );

    // A directory whose parent field points elsewhere.
    let (mut b, n) = populated();
    b.update_inode(n.deeper, |i| i.parent = ROOT);
    assert_problems(
        &b.fsck(),
        &[&format!(
            "directory {}: parent is 1, but it is linked in directory {}",
            n.deeper, n.sub
        )],
    );

    // A directory cycle cut off from the root.
    let (mut b, n) = populated();
    poke_entry(&mut b, ROOT, "sub", |e| e.fill(0));
    b.add_entry(n.deeper, b"loop", n.sub, DT_DIR);
    b.update_inode(n.sub, |i| i.parent = n.deeper);
    b.update_inode(ROOT, |i| i.nlink -= 1);
    b.update_inode(n.deeper, |i| i.nlink += 1);
    let r = b.fsck();
    let empty = 7;
    for ino in [n.sub, n.deeper, n.sparse, empty] {
        assert!(
            r.problems
                .iter()
                .any(|p| p.starts_with(&format!("inode {ino}: ")) && p.contains("not reachable")),
            "{ino}: {r:?}"
        );
    }
    // The loop is cut where the climb up the parent fields closed it.
    assert!(
        r.problems.iter().any(|p| p.contains(&format!(
            "entry \"deeper\" names directory {}, whose parent is {}: a second name",
            n.deeper, n.sub
        ))),
        "{r:?}"
    );
    assert_eq!(r.problems.len(), 5, "{r:?}");
}

#[test]
fn sizes_and_extent_lists() {
    // Extents past a regular file's size.
    let (mut b, n) = populated();
    b.update_inode(n.sparse, |i| i.size = 11 * 4096);
    assert_problems(
        &b.fsck(),
        &["written extents reach file block 12 past the size of 45056 bytes"],
    );

    // A directory's size that does not match its blocks.
    let (mut b, n) = populated();
    b.update_inode(n.sub, |i| i.size = 2 * 4096);
    assert_problems(
        &b.fsck(),
        &[&format!(
            "directory {}: size 8192 does not match its 1 mapped blocks",
            n.sub
        )],
    );

    // Overlapping extents.
    let (mut b, n) = populated();
    let mut e = b.extents(n.sparse);
    e[1].logical = 0;
    b.set_extents(n.sparse, &e);
    assert_problems(&b.fsck(), &["extents unsorted or overlapping"]);

    // An extent chain block with a bad magic, and one with too few extents.
    let mut b = ImageBuilder::new(512, 64);
    let extents: Vec<Extent> = (0..10).map(|i| b.data_extent(i * 2, 1)).collect();
    let f = b.create_file(ROOT, "f", 20 * 4096, &extents);
    let chain = b.inode(f).extent_chain;
    let ok = *b.block(chain);
    b.block_mut(chain)[0] ^= 1;
    let r = b.fsck();
    assert!(
        r.problems[0].contains(&format!(
            "extent block {chain}: extent block has a bad magic"
        )),
        "{r:?}"
    );
    b.block_mut(chain).copy_from_slice(&ok);
    b.update_inode(f, |i| i.extent_count = 11);
    assert_problems(
        &b.fsck(),
        &["extent chain ends 1 extents short of extent_count 11"],
    );
    b.update_inode(f, |i| i.extent_count = 9);
    assert_problems(
        &b.fsck(),
        &["extent chain holds more extents than extent_count 9"],
    );
    // A chain that loops (each block holding one extent, so the count alone
    // would let it go round billions of times).
    let mut looped = [0u8; BLOCK_SIZE];
    encode_chain_block(&mut looped, chain, &extents[8..9]).unwrap();
    b.block_mut(chain).copy_from_slice(&looped);
    b.update_inode(f, |i| i.extent_count = u32::MAX);
    assert_problems(
        &b.fsck(),
        &[
            &format!("inode {f}: extent chain loops back to block {chain}"),
            &format!("block {} marked in use but not used", extents[9].physical),
        ],
    );
    b.block_mut(chain).copy_from_slice(&ok);
    // A chain block outside the data area.
    b.update_inode(f, |i| {
        i.extent_count = 10;
        i.extent_chain = 3;
    });
    assert_problems(
        &b.fsck(),
        &[
            "extent block 3: extent block outside the data area",
            "leaked",
        ],
    );
}

#[test]
fn mode_and_root_problems() {
    let (mut b, n) = populated();
    b.update_inode(n.a, |i| i.mode = S_IFREG | 0o4755);
    assert_problems(&b.fsck(), &[]);
    let (mut b, _) = populated();
    let mut raw = *b.inode_bytes(2);
    raw[1] = 0o060; // block device: not a delafs inode type
    let sum = delafs::shared::crc32c::crc32c(&raw[..INODE_CSUM_OFFSET]);
    raw[INODE_CSUM_OFFSET..].copy_from_slice(&sum.to_le_bytes());
    *b.inode_bytes_mut(2) = raw;
    let r = b.fsck();
    assert!(r.problems[0].contains("inode 2: invalid mode"), "{r:?}");

    let mut b = ImageBuilder::new(256, 64);
    b.inode_bytes_mut(ROOT).fill(0);
    assert_problems(&b.fsck(), &["root inode 1 is free"]);

    let mut b = ImageBuilder::new(256, 64);
    let mut block = [0u8; BLOCK_SIZE];
    let entry = DirEntry {
        ino: ROOT,
        file_type: DT_DIR,
        name: b"self",
    };
    encode_dirent(&mut block, 0, Some(&entry)).unwrap();
    let e = b.data_extent(0, 1);
    b.block_mut(e.physical).copy_from_slice(&block);
    b.set_extents(ROOT, &[e]);
    b.update_inode(ROOT, |i| i.size = 4096);
    assert_problems(&b.fsck(), &["\"self\" links the root directory"]);
}
