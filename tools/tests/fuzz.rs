//! The image fuzzer (`src/host/fuzz.rs`, `fuzz-delafs`): the seed image, the
//! specs and their checksums, determinism, family coverage, replay; and
//! fsck run on thousands of mutated images without panicking.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

use delafs::shared::crc32c::crc32c;
use delafs::shared::format::{
    inode_slot, Inode, RecordError, BLOCK_CSUM_OFFSET, BLOCK_SIZE, CHAIN_MAGIC, DIRENTS_PER_BLOCK,
    INODE_CSUM_OFFSET, INODE_SIZE,
};

#[path = "../src/host/mod.rs"]
pub mod host;

use host::disk::MemDisk;
use host::fsck;
use host::fuzz::{self, Layout, FAMILIES};

const FUZZ: &str = env!("CARGO_BIN_EXE_fuzz-delafs");

fn seed() -> (MemDisk, Layout) {
    let disk = fuzz::build_seed();
    let layout = Layout::scan(&disk).expect("seed scans");
    (disk, layout)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("delafs-fuzz-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn le32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

/// Every checksum of the structures the seed has: the superblock, every
/// non-zero inode slot, every block with the chain magic among the seed's
/// chain blocks. Returns the regions that do not verify.
fn bad_checksums(disk: &MemDisk, l: &Layout) -> Vec<String> {
    let mut bad = Vec::new();
    let b0 = disk.block(0);
    if crc32c(&b0[..BLOCK_CSUM_OFFSET]) != le32(b0, BLOCK_CSUM_OFFSET) {
        bad.push("superblock".to_string());
    }
    for b in l.geo.inode_table_start..l.geo.data_start {
        let block = disk.block(b);
        for slot in 0..BLOCK_SIZE / INODE_SIZE {
            let raw = inode_slot(block, slot).unwrap();
            if raw.iter().any(|&x| x != 0)
                && crc32c(&raw[..INODE_CSUM_OFFSET]) != le32(raw, INODE_CSUM_OFFSET)
            {
                bad.push(format!("inode slot {b}:{slot}"));
            }
        }
    }
    for f in l.files.values() {
        for &c in &f.chain {
            let block = disk.block(c);
            if le32(block, 0) == CHAIN_MAGIC
                && crc32c(&block[..BLOCK_CSUM_OFFSET]) != le32(block, BLOCK_CSUM_OFFSET)
            {
                bad.push(format!("chain block {c}"));
            }
        }
    }
    bad
}

#[test]
fn seed_uses_every_structure_and_is_clean() {
    let (mut disk, l) = seed();
    let report = fsck::check(&mut disk).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    let root = &l.files[&1];
    assert!(root.extents.len() >= 3, "root spans 3 directory blocks");
    let root_entries = l.dirents.iter().filter(|d| d.dir == 1).count();
    assert!(
        root_entries > 2 * DIRENTS_PER_BLOCK,
        "{root_entries} entries"
    );
    assert!(
        l.files.values().any(|f| f.chain.len() == 2),
        "a file with two extent chain blocks"
    );
    assert!(l.files.values().any(|f| f.inode.nlink == 3), "hard links");
    assert!(
        l.files
            .values()
            .any(|f| !f.inode.is_dir() && f.inode.size == 0),
        "an empty file"
    );
    assert!(
        l.files.values().any(|f| f.extents.len() == 2
            && f.extents[0].logical_end() < u64::from(f.extents[1].logical)),
        "a file with a hole"
    );
    let nested = l
        .files
        .values()
        .filter(|f| f.inode.is_dir() && f.inode.parent != 1)
        .count();
    assert!(nested >= 2, "nested directories");
    assert!(!l.free_slots.is_empty() && !l.free_blocks.is_empty());
    assert_eq!(
        disk.data,
        fuzz::build_seed().data,
        "the seed is deterministic"
    );
}

#[test]
fn specs_apply_keep_checksums_and_cover_every_family() {
    let (disk, l) = seed();
    let mut families = BTreeSet::new();
    let mut kinds = BTreeSet::new();
    let mut unchanged = 0;
    let n = 3000;
    for i in 0..n {
        let spec = fuzz::generate(7, i, &l, &disk);
        let fam = fuzz::family(&spec).expect("a family prefix").to_string();
        assert!(FAMILIES.contains(&fam.as_str()), "{spec}");
        families.insert(fam);
        for part in spec.split_once(": ").unwrap().1.split(" ; ") {
            let words: Vec<&str> = part.split_whitespace().collect();
            let kind = match words.as_slice() {
                ["inode", _, "extent", _, f, ..] | ["chain", _, "extent", _, f, ..] => {
                    format!("{} extent {f}", words[0])
                }
                ["flip", _, "crc"] => "flip crc".to_string(),
                ["sb", f, ..] => format!("sb {f}"),
                ["bitmap", ..] => "bitmap".to_string(),
                [t, _, f, ..] => format!("{t} {f}"),
                [t, ..] => t.to_string(),
                [] => unreachable!(),
            };
            kinds.insert(kind);
        }
        let img = fuzz::mutate(&disk, &l, &spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        if img.data == disk.data {
            unchanged += 1;
        }
        let raw_flip = spec
            .split(" ; ")
            .any(|m| m.contains("flip ") && !m.ends_with(" crc"));
        if !raw_flip && !spec.contains(" csum ") {
            let bad = bad_checksums(&img, &l);
            assert!(bad.is_empty(), "{spec}: bad checksums {bad:?}");
        }
    }
    assert_eq!(families.len(), FAMILIES.len(), "{families:?}");
    for want in [
        "sb total_blocks",
        "sb data_start",
        "inode mode",
        "inode nlink",
        "inode size",
        "inode parent",
        "inode extent_count",
        "inode extent_chain",
        "inode extent physical",
        "inode extent len",
        "inode extent logical",
        "chain next",
        "chain count",
        "chain magic",
        "chain extent physical",
        "dirent ino",
        "dirent =",
        "dirent reserved",
        "dirent name",
        "dirent name_len",
        "dirent type",
        "bitmap",
        "flip crc",
        "flip",
        "sb feature_compat",
        "sb feature_ro_compat",
        "sb feature_incompat",
    ] {
        let found = kinds.iter().any(|k| k.starts_with(want));
        assert!(found, "no {want:?} mutation among {kinds:?}");
    }
    assert!(unchanged * 20 < n, "{unchanged} of {n} images unchanged");
}

#[test]
fn generation_is_deterministic() {
    let (disk, l) = seed();
    for i in 0..200 {
        assert_eq!(
            fuzz::generate(42, i, &l, &disk),
            fuzz::generate(42, i, &l, &disk)
        );
    }
    let a: Vec<String> = (0..50).map(|i| fuzz::generate(1, i, &l, &disk)).collect();
    let b: Vec<String> = (0..50).map(|i| fuzz::generate(2, i, &l, &disk)).collect();
    assert_ne!(a, b, "seeds differ");
}

#[test]
fn field_specs_set_what_they_say() {
    let (disk, l) = seed();
    let img = fuzz::mutate(&disk, &l, "size: inode 3 size = 0x8000000000000000").unwrap();
    let (b, s) = l.geo.inode_location(3).unwrap();
    // The verifier refuses the size itself: had the checksum not been fixed,
    // decode would have said BadChecksum first.
    assert_eq!(
        Inode::decode(inode_slot(img.block(b), s).unwrap()),
        Err(RecordError::SizeTooLarge)
    );

    let img = fuzz::mutate(&disk, &l, "inode 3 nlink = 0 ; inode 3 uid = -1").unwrap();
    let inode = Inode::decode(inode_slot(img.block(b), s).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!((inode.nlink, inode.uid), (0, u32::MAX));

    let img = fuzz::mutate(&disk, &l, "bitmap 0 = 0 [cleared]").unwrap();
    assert_eq!(img.block(1)[0] & 1, 0);

    let d = &l.dirents[0];
    let spec = format!("dirent {}:{} name = \"a/b\\x00\"", d.block, d.slot);
    let img = fuzz::mutate(&disk, &l, &spec).unwrap();
    let at = d.slot * 264;
    assert_eq!(img.block(d.block)[at + 4], 4, "name_len follows the name");
    assert_eq!(&img.block(d.block)[at + 8..at + 12], b"a/b\0");

    let img = fuzz::mutate(&disk, &l, "flip 0.0").unwrap();
    assert_eq!(img.block(0)[0], disk.block(0)[0] ^ 1);

    for bad in [
        "inode 3 size 5",
        "inode 9999 size = 1",
        "inode 3 colour = 1",
        "bitmap 5 = 2",
        "flip 99999999.0",
        "dirent 12:15 ino = 1",
        "dirent 12:0 name = \"open",
    ] {
        assert!(fuzz::mutate(&disk, &l, bad).is_err(), "{bad} accepted");
    }
}

/// fsck reads every mutated image without panicking (the kselftest checks
/// the installed binary on the guest's images too).
#[test]
fn fsck_survives_mutated_images() {
    let (disk, l) = seed();
    let mut clean = 0;
    for i in 0..1500 {
        let spec = fuzz::generate(3, i, &l, &disk);
        let mut img = fuzz::mutate(&disk, &l, &spec).unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fsck::check(&mut img)));
        match r {
            Ok(Ok(report)) => clean += usize::from(report.is_clean()),
            Ok(Err(e)) => panic!("{spec}: fsck I/O error {e}"),
            Err(_) => panic!("fsck panicked on: {spec}"),
        }
    }
    assert!(clean < 500, "{clean} of 1500 mutated images are clean");
}

#[test]
fn cli_campaign_is_sliceable_and_replayable() {
    let dir = scratch("cli");
    let all = dir.join("all");
    let part = dir.join("part");
    let st = Command::new(FUZZ)
        .args(["-o", all.to_str().unwrap(), "-n", "20", "-s", "9"])
        .status()
        .unwrap();
    assert!(st.success());
    let st = Command::new(FUZZ)
        .args([
            "-o",
            part.to_str().unwrap(),
            "-n",
            "5",
            "-s",
            "9",
            "--from",
            "12",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    for i in 12..17 {
        let name = format!("{i:04}");
        for ext in ["img", "txt"] {
            assert_eq!(
                fs::read(all.join(format!("{name}.{ext}"))).unwrap(),
                fs::read(part.join(format!("{name}.{ext}"))).unwrap(),
                "{name}.{ext}"
            );
        }
        let spec = fs::read_to_string(all.join(format!("{name}.txt"))).unwrap();
        let replayed = dir.join("replay.img");
        let st = Command::new(FUZZ)
            .args(["--replay", spec.trim(), "-o", replayed.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(st.success(), "replay of {spec}");
        assert_eq!(
            fs::read(&replayed).unwrap(),
            fs::read(all.join(format!("{name}.img"))).unwrap(),
            "replay of {spec}"
        );
    }
    // A seed image from a file gives the same campaign as the built-in one.
    let seed_img = dir.join("seed.img");
    assert!(Command::new(FUZZ)
        .args(["--build-seed", seed_img.to_str().unwrap()])
        .status()
        .unwrap()
        .success());
    let from_file = dir.join("from-file");
    assert!(Command::new(FUZZ)
        .args(["-o", from_file.to_str().unwrap(), "-n", "3", "-s", "9"])
        .arg(&seed_img)
        .status()
        .unwrap()
        .success());
    assert_eq!(
        fs::read(from_file.join("0002.img")).unwrap(),
        fs::read(all.join("0002.img")).unwrap()
    );
    let bad = Command::new(FUZZ)
        .args(["--replay", "inode 3 size", "-o", "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let usage = Command::new(FUZZ).arg("--bogus").output().unwrap();
    assert_eq!(usage.status.code(), Some(16));
    let _ = fs::remove_dir_all(&dir);
}

/// The regression corpus replays: every spec in
/// selftests/delafs/fuzz-regressions/ applies to the seed.
#[test]
fn regression_corpus_applies() {
    let (disk, l) = seed();
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../selftests/delafs/fuzz-regressions");
    let mut n = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension() != Some("txt".as_ref()) {
            continue;
        }
        for line in fs::read_to_string(&path).unwrap().lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let img = fuzz::mutate(&disk, &l, line)
                .unwrap_or_else(|e| panic!("{}: {line}: {e}", path.display()));
            assert_ne!(img.data, disk.data, "{line} changes nothing");
            n += 1;
        }
    }
    assert!(n > 0, "no regression specs in {}", dir.display());
}
