//! The `mkfs-delafs` and `fsck-delafs` binaries: arguments, messages and
//! exit codes, on image files in a scratch directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use delafs::shared::format::{
    Extent, Features, Superblock, BLOCK_SIZE, DIRENT_SIZE, INCOMPAT_DIR_INDEX, INCOMPAT_UNWRITTEN,
};

#[path = "../src/host/mod.rs"]
pub mod host;

use host::builder::{ImageBuilder, ROOT};
use host::disk::{Disk, FileDisk, MemDisk};

const MKFS: &str = env!("CARGO_BIN_EXE_mkfs-delafs");
const FSCK: &str = env!("CARGO_BIN_EXE_fsck-delafs");

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("delafs-cli-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin).args(args).output().expect("run binary")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn superblock(path: &Path) -> Superblock {
    let mut disk = FileDisk::open(path, false).unwrap();
    let mut block = [0u8; BLOCK_SIZE];
    disk.read_block(0, &mut block).unwrap();
    Superblock::decode(&block, disk.blocks()).unwrap()
}

#[test]
fn mkfs_then_fsck_is_clean() {
    let dir = Scratch::new("clean");
    let img = dir.path("fs.img");
    let img_s = img.to_str().unwrap();
    let out = run(MKFS, &["-s", "8M", img_s]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("2048 blocks of 4096 bytes (8 MiB), 512 inodes"),
        "{text}"
    );
    assert!(
        text.contains("inode table  blocks 2..34 (32 blocks)"),
        "{text}"
    );
    assert!(text.contains("free blocks  2014"), "{text}");
    assert_eq!(fs::metadata(&img).unwrap().len(), 8 << 20);

    let out = run(FSCK, &["-n", img_s]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("{img_s}: clean, 0 files, 1 directories, 34/2048 blocks used, 2014 free\n")
    );
    let out = run(FSCK, &["-v", img_s]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("superblock: 2048 blocks, 512 inodes"));
}

#[test]
fn mkfs_options() {
    let dir = Scratch::new("options");
    let img = dir.path("fs.img");
    let img_s = img.to_str().unwrap();
    // An existing file keeps its size; -N rounds up to whole table blocks.
    fs::write(&img, vec![0xAAu8; 300 * BLOCK_SIZE + 100]).unwrap();
    let out = run(MKFS, &["-q", "-N", "100", img_s]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    let sb = superblock(&img);
    assert_eq!(sb.geometry.total_blocks, 300);
    assert_eq!(sb.geometry.inode_count, 112);
    assert_eq!(code(&run(FSCK, &[img_s])), 0);

    // -s larger than the file extends it.
    let out = run(MKFS, &["-q", "-s", "2048K", img_s]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(superblock(&img).geometry.total_blocks, 512);
    assert_eq!(superblock(&img).geometry.inode_count, 128);

    // An impossible inode count, bad arguments.
    let out = run(MKFS, &["-N", "100000", img_s]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("inode table too large"),
        "{}",
        stderr(&out)
    );
    assert_eq!(code(&run(MKFS, &["-x", img_s])), 16);
    assert_eq!(code(&run(MKFS, &["-s", "lots", img_s])), 16);
    assert_eq!(code(&run(MKFS, &[])), 16);
    assert_eq!(code(&run(MKFS, &["-h"])), 0);
}

#[test]
fn mkfs_refuses_small_targets() {
    let dir = Scratch::new("small");
    let img = dir.path("small.img");
    let img_s = img.to_str().unwrap();
    let out = run(MKFS, &["-s", "255K", img_s]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("too small: 63 blocks"),
        "{}",
        stderr(&out)
    );
    assert!(!img.exists(), "a refused -s created the file");

    fs::write(&img, vec![0u8; 63 * BLOCK_SIZE + 4095]).unwrap();
    let out = run(MKFS, &[img_s]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("too small"), "{}", stderr(&out));
    assert!(
        fs::read(&img).unwrap().iter().all(|&b| b == 0),
        "refused mkfs wrote"
    );

    fs::write(&img, vec![0u8; 64 * BLOCK_SIZE]).unwrap();
    assert_eq!(code(&run(MKFS, &["-q", img_s])), 0);
    assert_eq!(code(&run(FSCK, &[img_s])), 0);

    let out = run(MKFS, &[dir.path("missing.img").to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    let out = run(MKFS, &[dir.0.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("not a block device or a regular file"));
}

#[test]
fn fsck_usage_and_operational_errors() {
    let dir = Scratch::new("usage");
    assert_eq!(code(&run(FSCK, &[])), 16);
    assert_eq!(code(&run(FSCK, &["-q", "x.img"])), 16);
    assert_eq!(code(&run(FSCK, &["-y", "-n", "x.img"])), 16);
    assert_eq!(code(&run(FSCK, &["-p", "-y", "x.img"])), 16);
    let help = run(FSCK, &["-h"]);
    assert_eq!(code(&help), 0);
    assert!(stdout(&help).contains("-p, -a"), "{}", stdout(&help));
    // -y opens the image for writing: a missing one is an operational
    // error.
    assert_eq!(
        code(&run(FSCK, &["-y", dir.path("x.img").to_str().unwrap()])),
        8
    );
    assert_eq!(code(&run(FSCK, &["a.img", "b.img"])), 16);
    let out = run(FSCK, &[dir.path("missing.img").to_str().unwrap()]);
    assert_eq!(code(&out), 8);
    assert!(stderr(&out).contains("cannot open"), "{}", stderr(&out));
    // A directory cannot be read as an image.
    assert_eq!(code(&run(FSCK, &[dir.0.to_str().unwrap()])), 8);
}

#[test]
fn fsck_refuses_bad_superblocks() {
    let dir = Scratch::new("sb");
    let img = dir.path("fs.img");
    let img_s = img.to_str().unwrap();
    let b = ImageBuilder::new(256, 64);
    type Corrupt = fn(&mut Vec<u8>);
    let cases: [(&str, Corrupt, &str); 5] = [
        (
            "zeroed",
            |d| d[..BLOCK_SIZE].fill(0),
            "not a delafs filesystem",
        ),
        ("other magic", |d| d[0] = b'X', "not a delafs filesystem"),
        ("version", |d| d[8] = 9, "unsupported format version 9"),
        (
            "checksum",
            |d| d[BLOCK_SIZE - 2] ^= 1,
            "superblock checksum mismatch",
        ),
        (
            "truncated",
            |d| d.truncate(255 * BLOCK_SIZE),
            "filesystem larger than its device",
        ),
    ];
    for (what, corrupt, message) in cases {
        let mut data = b.disk.data.clone();
        corrupt(&mut data);
        fs::write(&img, &data).unwrap();
        let out = run(FSCK, &[img_s]);
        assert_eq!(code(&out), 4, "{what}");
        let text = stdout(&out);
        assert!(
            text.starts_with(&format!("superblock: {message}")),
            "{what}: {text}"
        );
        assert!(
            text.ends_with("1 problem, superblock refused\n"),
            "{what}: {text}"
        );
    }
}

/// Each injected corruption makes fsck exit 4 and name the problem.
#[test]
fn fsck_finds_injected_corruption() {
    let dir = Scratch::new("corrupt");
    let img = dir.path("fs.img");
    let img_s = img.to_str().unwrap();

    fn base() -> (ImageBuilder, u32, u32) {
        let mut b = ImageBuilder::new(512, 64);
        let e = b.data_extent(0, 4);
        let file = b.create_file(ROOT, "file", 4 * 4096, &[e]);
        let sub = b.create_dir(ROOT, "sub");
        b.create_file(sub, "other", 0, &[]);
        (b, file, sub)
    }
    type Inject = fn(&mut ImageBuilder, u32, u32);
    let cases: [(&str, Inject, &str); 8] = [
        ("clean", |_, _, _| {}, ""),
        (
            "block claimed by two files",
            |b, file, _| {
                let e = b.extents(file)[0];
                b.create_file(ROOT, "twin", 4096, &[Extent { len: 1, ..e }]);
            },
            "used more than once",
        ),
        (
            "leaked bitmap bit",
            |b, _, _| {
                b.alloc(3);
            },
            "(leaked)",
        ),
        (
            "used block marked free",
            |b, file, _| {
                let e = b.extents(file)[0];
                b.set_used(e.physical + 1, 1, false);
            },
            "in use but marked free",
        ),
        (
            "bad directory entry",
            |b, _, sub| {
                let (block, slot) = b.find_entry(sub, "other").unwrap();
                b.block_mut(block)[slot * DIRENT_SIZE + 4] = 0;
            },
            "invalid name length",
        ),
        (
            "wrong nlink",
            |b, file, _| b.update_inode(file, |i| i.nlink = 5),
            "nlink is 5",
        ),
        (
            "extent outside the device",
            |b, _, _| {
                b.create_file(
                    ROOT,
                    "far",
                    4096,
                    &[Extent {
                        logical: 0,
                        len: 1,
                        physical: 1 << 40,
                        unwritten: false,
                    }],
                );
            },
            "extent outside the data area",
        ),
        (
            "bad inode checksum",
            |b, file, _| b.inode_bytes_mut(file)[40] ^= 4,
            "checksum mismatch",
        ),
    ];
    for (what, inject, needle) in cases {
        let (mut b, file, sub) = base();
        inject(&mut b, file, sub);
        b.save(&img).unwrap();
        let out = run(FSCK, &["-n", img_s]);
        let text = stdout(&out);
        if needle.is_empty() {
            assert_eq!(code(&out), 0, "{what}: {text}");
            continue;
        }
        assert_eq!(code(&out), 4, "{what}: {text}");
        assert!(text.contains(needle), "{what}: {text}");
        assert!(
            text.lines().last().unwrap().contains("problem"),
            "{what}: {text}"
        );
    }
}

/// -p fixes what is safe (exit 1), stops at what needs -y (exit 4); -y
/// fixes the rest (exit 1); -n then exits 0. The image is only written by
/// -p and -y.
#[test]
fn fsck_preen_and_yes() {
    let dir = Scratch::new("repair");
    let img = dir.path("fs.img");
    let img_s = img.to_str().unwrap();

    // Safe only: a wrong link count and a leaked block.
    let mut b = ImageBuilder::new(512, 64);
    let e = b.data_extent(0, 2);
    let file = b.create_file(ROOT, "file", 2 * 4096, &[e]);
    b.update_inode(file, |i| i.nlink = 3);
    b.alloc(1);
    b.save(&img).unwrap();
    let before = fs::read(&img).unwrap();
    let out = run(FSCK, &[img_s]);
    assert_eq!(code(&out), 4, "{}", stdout(&out));
    let out = run(FSCK, &["-n", img_s]);
    assert_eq!(code(&out), 4, "{}", stdout(&out));
    assert_eq!(fs::read(&img).unwrap(), before, "-n wrote");
    let out = run(FSCK, &["-p", img_s]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}");
    assert!(text.contains("fixed: inode 2: nlink set to 1"), "{text}");
    assert!(text.contains("fixed: bitmap: block"), "{text}");
    assert!(text.lines().last().unwrap().contains(": clean,"), "{text}");
    let out = run(FSCK, &["-n", img_s]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let out = run(FSCK, &["-p", img_s]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));

    // A block used twice needs -y: -p (and -a) exit 4 and leave it.
    let mut b = ImageBuilder::new(512, 64);
    let e = b.data_extent(0, 2);
    b.create_file(ROOT, "file", 2 * 4096, &[e]);
    b.create_file(ROOT, "twin", 4096, &[Extent { len: 1, ..e }]);
    b.save(&img).unwrap();
    for flag in ["-p", "-a"] {
        let out = run(FSCK, &[flag, img_s]);
        let text = stdout(&out);
        assert_eq!(code(&out), 4, "{text}");
        assert!(text.contains("left: block"), "{text}");
        assert!(text.contains("run fsck.delafs -y"), "{text}");
    }
    let out = run(FSCK, &["-y", img_s]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}");
    assert!(text.contains("fixed: inode 3: extents rewritten"), "{text}");
    let out = run(FSCK, &[img_s]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));

    // Nothing to repair in a bad superblock: 4, untouched.
    let mut data = b.disk.data.clone();
    data[0] = b'X';
    fs::write(&img, &data).unwrap();
    let out = run(FSCK, &["-y", img_s]);
    assert_eq!(code(&out), 4, "{}", stdout(&out));
    assert_eq!(fs::read(&img).unwrap(), data);
    // A read-only image cannot be repaired: operational error.
    let mut perms = fs::metadata(&img).unwrap().permissions();
    perms.set_readonly(true);
    fs::set_permissions(&img, perms).unwrap();
    if fs::OpenOptions::new().write(true).open(&img).is_err() {
        assert_eq!(code(&run(FSCK, &["-y", img_s])), 8);
        assert_eq!(code(&run(FSCK, &["-n", img_s])), 4);
    }
}

/// The binary on mutated images: exit codes only from {0, 4, 8} for a
/// check and {0, 1, 4, 8} for a repair, never a crash.
#[test]
fn fsck_binary_on_mutated_images() {
    let dir = Scratch::new("mutated");
    let img = dir.path("fs.img");
    let img_s = img.to_str().unwrap();
    let mut b = ImageBuilder::new(128, 32);
    let e = b.data_extent(0, 3);
    b.create_file(ROOT, "a", 3 * 4096, &[e]);
    let d = b.create_dir(ROOT, "d");
    b.create_file(d, "b", 0, &[]);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for round in 0..150 {
        let mut data = b.disk.data.clone();
        for _ in 0..1 + round % 5 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // Metadata and the first data blocks.
            let at = (seed % (12 * BLOCK_SIZE as u64)) as usize;
            data[at] ^= 1 << (seed >> 60 & 7);
        }
        if round % 10 == 9 {
            data.truncate((seed % data.len() as u64) as usize);
        }
        fs::write(&img, &data).unwrap();
        let out = run(FSCK, &["-n", img_s]);
        assert!(
            matches!(code(&out), 0 | 4 | 8),
            "round {round}: {}",
            stderr(&out)
        );
        let flag = if round % 2 == 0 { "-y" } else { "-p" };
        let out = run(FSCK, &[flag, img_s]);
        assert!(
            matches!(code(&out), 0 | 1 | 4 | 8),
            "round {round}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn mkfs_sets_the_unwritten_feature() {
    let dir = Scratch::new("features");
    let img = dir.path("fs.img");
    let out = run(MKFS, &["-q", "-s", "8M", img.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(superblock(&img).features, Features::MKFS);
    assert_eq!(
        superblock(&img).features.incompat,
        INCOMPAT_UNWRITTEN | INCOMPAT_DIR_INDEX
    );
}

/// An image with a file, as mkfs.delafs made them before feature bits.
fn pre_feature_image(b: &mut ImageBuilder) -> Extent {
    let e = b.data_extent(0, 2);
    b.create_file(ROOT, "old", 2 * 4096, &[e]);
    b.set_features(Features::default());
    e
}

#[test]
fn fsck_upgrades_a_pre_feature_image() {
    let dir = Scratch::new("upgrade");
    let img = dir.path("fs.img");
    let img_s = img.to_str().unwrap();
    let mut b = ImageBuilder::new(512, 64);
    pre_feature_image(&mut b);
    b.save(&img).unwrap();

    let out = run(FSCK, &["-n", img_s]);
    assert_eq!(code(&out), 4, "{}", stdout(&out));
    assert!(
        stdout(&out)
            .contains("superblock: made before format feature bits: run fsck.delafs --upgrade"),
        "{}",
        stdout(&out)
    );
    // Repairs cannot read it either; -n and --upgrade exclude each other.
    assert_eq!(code(&run(FSCK, &["-y", img_s])), 4);
    assert_eq!(code(&run(FSCK, &["-n", "--upgrade", img_s])), 16);
    assert!(stdout(&run(FSCK, &["--help"])).contains("--upgrade"));

    let out = run(FSCK, &["--upgrade", img_s]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("upgraded"), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(": clean, 1 files, 1 directories"),
        "{}",
        stdout(&out)
    );
    assert_eq!(superblock(&img).features, Features::MKFS);
    let out = run(FSCK, &["-n", img_s]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    // Again: nothing to do.
    let out = run(FSCK, &["--upgrade", img_s]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(stdout(&out).contains("already has format feature bits"));
}

#[test]
fn fsck_upgrade_refuses_what_it_cannot_upgrade() {
    let dir = Scratch::new("upgrade-refused");
    let img = dir.path("fs.img");
    let img_s = img.to_str().unwrap();
    // Bit 31 of a length: an old image would mean 2^31 blocks or more.
    let mut b = ImageBuilder::new(512, 64);
    let e = b.unwritten_extent(0, 1);
    b.create_file(ROOT, "huge", 4096, &[e]);
    b.set_features(Features::default());
    b.save(&img).unwrap();
    let out = run(FSCK, &["--upgrade", img_s]);
    assert_eq!(code(&out), 4, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("bit 31 of its length is set"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("not upgraded"), "{}", stdout(&out));
    assert_eq!(code(&run(FSCK, &["-n", img_s])), 4);

    // A problem left: not upgraded without -y; upgraded after the repair
    // with it.
    let mut b = ImageBuilder::new(512, 64);
    let e = pre_feature_image(&mut b);
    b.set_used(e.physical, 1, false);
    b.save(&img).unwrap();
    let out = run(FSCK, &["--upgrade", img_s]);
    assert_eq!(code(&out), 4, "{}", stdout(&out));
    assert!(stdout(&out).contains("not upgraded"), "{}", stdout(&out));
    assert_eq!(superblock_raw_incompat(&img), 0);
    let out = run(FSCK, &["--upgrade", "-y", img_s]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(stdout(&out).contains("upgraded"), "{}", stdout(&out));
    assert_eq!(code(&run(FSCK, &["-n", img_s])), 0);
}

fn superblock_raw_incompat(path: &Path) -> u32 {
    let raw = fs::read(path).unwrap();
    u32::from_le_bytes(raw[108..112].try_into().unwrap())
}

#[test]
fn fsck_accepts_unwritten_extents_in_files_only() {
    let dir = Scratch::new("unwritten");
    let img = dir.path("fs.img");
    let img_s = img.to_str().unwrap();
    let mut b = ImageBuilder::new(512, 64);
    let written = b.data_extent(0, 1);
    let unwritten = b.unwritten_extent(1, 3);
    b.create_file(ROOT, "prealloc", 4 * 4096, &[written, unwritten]);
    let all = b.unwritten_extent(0, 2);
    b.create_file(ROOT, "all-unwritten", 2 * 4096, &[all]);
    // Preallocated past EOF (fallocate KEEP_SIZE): unwritten blocks there
    // are the file's, not a leftover.
    let head = b.data_extent(0, 1);
    let past_eof = b.unwritten_extent(4, 4);
    b.create_file(ROOT, "keep-size", 100, &[head, past_eof]);
    b.save(&img).unwrap();
    let out = run(FSCK, &["-n", img_s]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(
        stdout(&out).contains(" (9 unwritten), "),
        "{}",
        stdout(&out)
    );

    // Written blocks past EOF are a problem; -p trims them and keeps the
    // unwritten ones.
    let mut b = ImageBuilder::new(512, 64);
    let written = b.data_extent(0, 1);
    let stale = b.data_extent(2, 1);
    let past_eof = b.unwritten_extent(3, 2);
    let ino = b.create_file(ROOT, "stale", 100, &[written, stale, past_eof]);
    b.save(&img).unwrap();
    let out = run(FSCK, &["-n", img_s]);
    assert_eq!(code(&out), 4, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("written extents reach file block 3 past the size of 100 bytes"),
        "{}",
        stdout(&out)
    );
    let out = run(FSCK, &["-p", img_s]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let out = run(FSCK, &["-n", img_s]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let kept = ImageBuilder::from_disk(MemDisk::load(&img).unwrap()).extents(ino);
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(!kept[0].unwritten && kept[1].unwritten, "{kept:?}");

    // In a directory: an invalid extent.
    let mut b = ImageBuilder::new(512, 64);
    let d = b.create_dir(ROOT, "d");
    b.create_file(d, "x", 0, &[]);
    let mut e = b.extents(d);
    e[0].unwritten = true;
    b.set_extents(d, &e);
    b.save(&img).unwrap();
    let out = run(FSCK, &["-n", img_s]);
    assert_eq!(code(&out), 4, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("unwritten): directory has an unwritten extent"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn fsck_does_not_check_unknown_ro_compat_features() {
    let dir = Scratch::new("ro-compat");
    let img = dir.path("fs.img");
    let img_s = img.to_str().unwrap();
    let mut b = ImageBuilder::new(512, 64);
    b.set_features(Features {
        ro_compat: 0x10,
        ..Features::MKFS
    });
    b.save(&img).unwrap();
    for args in [&["-n", img_s][..], &["-y", img_s]] {
        let out = run(FSCK, args);
        assert_eq!(code(&out), 4, "{}", stdout(&out));
        assert!(
            stdout(&out).contains("read-only compatible features (mount read-only): 0x10"),
            "{}",
            stdout(&out)
        );
    }
    // Unknown compat bits are ignored.
    b.set_features(Features {
        compat: 0x8000_0000,
        ..Features::MKFS
    });
    b.save(&img).unwrap();
    assert_eq!(code(&run(FSCK, &["-n", img_s])), 0);
}

/// An image with feature bits but linear directories (no
/// INCOMPAT_DIR_INDEX) is current; `--upgrade` adds the bit.
#[test]
fn fsck_upgrade_adds_the_dir_index_feature() {
    let dir = Scratch::new("upgrade-dir-index");
    let img = dir.path("fs.img");
    let img_s = img.to_str().unwrap();
    let mut b = ImageBuilder::new(512, 64);
    b.set_features(Features {
        incompat: INCOMPAT_UNWRITTEN,
        ..Features::MKFS
    });
    b.save(&img).unwrap();
    assert_eq!(code(&run(FSCK, &["-n", img_s])), 0);
    let out = run(FSCK, &["--upgrade", img_s]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("upgraded"), "{}", stdout(&out));
    assert_eq!(superblock(&img).features, Features::MKFS);
    let out = run(FSCK, &["--upgrade", img_s]);
    assert!(stdout(&out).contains("already has format feature bits"));
}
