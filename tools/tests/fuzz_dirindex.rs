//! The fuzzer's dirindex family (`src/host/fuzz.rs`): its seed has an
//! indexed directory, its mutations damage the index with checksums
//! recomputed, and fsck finds every one that is not harmless, drops the
//! index with `-p` or `-y` and is clean afterwards; the classic campaign is
//! unchanged by the family.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

use delafs::shared::crc32c::crc32c;

#[path = "../src/host/mod.rs"]
pub mod host;

use host::disk::MemDisk;
use host::fsck::{self, Level, Repair};
use host::fuzz::{self, IndexInfo, Layout, DIRINDEX_FAMILY, FAMILIES};

const FUZZ: &str = env!("CARGO_BIN_EXE_fuzz-delafs");

fn seed() -> (MemDisk, Layout, IndexInfo) {
    let disk = fuzz::build_dirindex_seed();
    let l = Layout::scan(&disk).expect("dirindex seed scans");
    let ix = IndexInfo::scan(&disk, &l).expect("dirindex seed has an index");
    (disk, l, ix)
}

/// The names of directory `dir` of `disk`.
fn names(disk: &MemDisk, dir: u32) -> BTreeSet<Vec<u8>> {
    let l = Layout::scan(disk).expect("image scans");
    l.dirents
        .iter()
        .filter(|d| d.dir == dir)
        .map(|d| d.name.clone())
        .collect()
}

/// Mutations fsck may rightly call clean: the free-slot bitmap is a hint
/// (a set bit over a full block is cleared by the next create, a clear bit
/// over a free slot only wastes it).
fn harmless(spec: &str) -> bool {
    spec.split_once(": ")
        .map(|(_, m)| m)
        .unwrap_or(spec)
        .split(" ; ")
        .all(|m| m.ends_with("hint only]"))
}

#[test]
fn dirindex_seed_is_indexed_and_clean() {
    let (disk, l, ix) = seed();
    let mut d = disk.clone();
    let r = fsck::check(&mut d).unwrap();
    assert!(r.is_clean(), "{:?}", r.problems);
    // The table grew once: two blocks in region 1.
    assert_eq!(ix.header.table_log, 1);
    assert_eq!(ix.header.live, 1);
    assert_eq!(ix.table, vec![2049, 2050]);
    assert_eq!(ix.records.len(), ix.used_slots.len());
    assert_eq!(ix.header.records as usize, ix.records.len());
    assert!(ix.records.len() > 300, "{}", ix.records.len());
    // Free slots between used ones, and the bitmap names their blocks.
    let last = *ix.used_slots.iter().max().unwrap();
    assert!(ix.free_slots.iter().any(|&s| s < last));
    assert!(!ix.free_bits.is_empty());
    // Every index extent is inline (mutable by `inode D extent K`).
    let f = &l.files[&ix.dir];
    assert!(f.chain.is_empty());
    assert_eq!(ix.extents.len(), f.extents.len());
    assert_eq!(names(&disk, ix.dir).len(), ix.used_slots.len());
}

#[test]
fn dirindex_specs_apply_and_cover_the_index() {
    let (disk, l, ix) = seed();
    let mut kinds = BTreeSet::new();
    let n = 1500;
    for i in 0..n {
        let spec = fuzz::generate_dirindex(5, i, &l, &ix);
        assert_eq!(fuzz::family(&spec), Some(DIRINDEX_FAMILY), "{spec}");
        assert_eq!(spec, fuzz::generate_dirindex(5, i, &l, &ix));
        for m in spec.split_once(": ").unwrap().1.split(" ; ") {
            let w: Vec<&str> = m.split_whitespace().collect();
            let kind = match w.as_slice() {
                ["index", _, "at", _, "record", _, "=", v, ..] => {
                    format!("record = {}", if *v == "empty" { "empty" } else { "rec" })
                }
                ["index", _, "at", _, "record", _, f, ..] => format!("record {f}"),
                ["index", _, "at", _, f, ..] => format!("table {f}"),
                ["index", _, "bit", ..] => "bit".to_string(),
                ["index", _, f, ..] => format!("header {f}"),
                ["inode", _, "extent", _, f, ..] => format!("inode extent {f}"),
                ["inode", _, f, ..] => format!("inode {f}"),
                _ => panic!("unexpected mutation {m}"),
            };
            kinds.insert(kind);
        }
        let img = fuzz::mutate(&disk, &l, &spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert_ne!(img.data, disk.data, "{spec} changed nothing");
        // Checksums recomputed: fsck never sees a bad index checksum.
        let mut d = img.clone();
        let r = fsck::check(&mut d).unwrap();
        assert!(
            !r.problems.iter().any(|p| p.contains("checksum")),
            "{spec}: {:?}",
            r.problems
        );
    }
    for want in [
        "header log",
        "header records",
        "header live",
        "header seed",
        "header entry_blocks",
        "header magic",
        "header version",
        "header reserved",
        "header reserved2",
        "bit",
        "record slot",
        "record hash",
        "record = rec",
        "record = empty",
        "table self",
        "table magic",
        "table tail",
        "inode extent_count",
        "inode extent len",
        "inode extent physical",
    ] {
        assert!(kinds.contains(want), "no {want:?} among {kinds:?}");
    }
}

#[test]
fn fsck_finds_and_repairs_every_dirindex_mutation() {
    let (disk, l, ix) = seed();
    let all = names(&disk, ix.dir);
    let (mut found, mut clean) = (0, 0);
    for i in 0..600 {
        let spec = fuzz::generate_dirindex(11, i, &l, &ix);
        let img = fuzz::mutate(&disk, &l, &spec).unwrap();
        let r = fsck::check(&mut img.clone()).unwrap();
        if r.is_clean() {
            assert!(harmless(&spec), "fsck calls clean: {spec}");
            clean += 1;
            continue;
        }
        found += 1;
        assert_eq!(fsck::exit_code(&r, false), 4, "{spec}");
        for how in [Repair::Preen, Repair::Yes] {
            let mut d = img.clone();
            let out = fsck::repair(&mut d, how).unwrap();
            let preen_enough = out.found.worst() <= Some(Level::PreenAlone);
            if how == Repair::Yes || preen_enough {
                assert!(
                    out.after.is_clean(),
                    "{spec}: {how:?} leaves {:?} (found {:?})",
                    out.after.problems,
                    out.found.problems
                );
                let again = fsck::check(&mut d).unwrap();
                assert!(again.is_clean(), "{spec}: second fsck {:?}", again.problems);
                // An index problem costs no name: the entries are
                // authoritative and stay.
                if !spec.contains("inode ") {
                    assert_eq!(names(&d, ix.dir), all, "{spec}: names lost");
                }
            }
        }
        // Index-only damage is a preen fix.
        if !spec.contains("inode ") {
            assert!(
                r.worst() <= Some(Level::PreenAlone),
                "{spec}: {:?}",
                r.problems
            );
        }
    }
    assert!(found > 500, "{found} found, {clean} clean");
}

/// The classic campaign does not know the family: its images for a seed
/// are those it made before the family existed (the specs of seed 1,
/// images 0..300, by their CRC, as the fuzzer of the dirindex branch
/// made them before this family).
#[test]
fn classic_campaign_is_unchanged() {
    assert!(!FAMILIES.contains(&DIRINDEX_FAMILY));
    let disk = fuzz::build_seed();
    let l = Layout::scan(&disk).unwrap();
    let mut all = String::new();
    for i in 0..300 {
        all.push_str(&fuzz::generate(1, i, &l, &disk));
        all.push('\n');
    }
    assert_eq!(crc32c(all.as_bytes()), CLASSIC_SPECS_CRC);
}

const CLASSIC_SPECS_CRC: u32 = 0x1fb7_bb58;

#[test]
fn cli_dirindex_campaign_replays() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-dirindex-cli");
    let _ = fs::remove_dir_all(&dir);
    let out = dir.join("c");
    let st = Command::new(FUZZ)
        .args(["-o", out.to_str().unwrap(), "-n", "6", "-s", "3"])
        .args(["--family", DIRINDEX_FAMILY])
        .status()
        .unwrap();
    assert!(st.success());
    for i in 0..6 {
        let name = format!("{i:04}");
        let spec = fs::read_to_string(out.join(format!("{name}.txt"))).unwrap();
        assert!(spec.starts_with("dirindex: "), "{spec}");
        let replayed = dir.join("r.img");
        let st = Command::new(FUZZ)
            .args(["--replay", spec.trim(), "-o", replayed.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(st.success(), "{spec}");
        assert_eq!(
            fs::read(&replayed).unwrap(),
            fs::read(out.join(format!("{name}.img"))).unwrap(),
            "replay of {spec}"
        );
    }
    let list = Command::new(FUZZ).arg("--list-families").output().unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(list.trim_end().ends_with(" dirindex"), "{list}");
    let bad = Command::new(FUZZ)
        .args(["-o", "/dev/null", "--family", "sb"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(16));
    let _ = fs::remove_dir_all(&dir);
}
