//! `fuzz.delafs`: the structure-aware image fuzzer (see `host/fuzz.rs` for
//! the mutation specs) and the workload the kselftest runs on each image.
//!
//! ```text
//! fuzz.delafs --build-seed OUT.img [--family dirindex]
//! fuzz.delafs [--seed-image IMG] -o DIR [-n COUNT] [-s SEED] [--from N] [--family dirindex] [IMG]
//! fuzz.delafs [--seed-image IMG] --replay SPEC -o OUT.img
//! fuzz.delafs --list-families
//! fuzz.delafs [--seed-image IMG] --describe
//! fuzz.delafs --exercise MNT | --walk MNT
//! ```
//!
//! The campaign writes `DIR/NNNN.img` (sparse) and `DIR/NNNN.txt` (the spec,
//! one line) for images `N..N+COUNT`; image `i` of seed `s` is the same
//! whatever `--from` and `-n` are. Without an image the seed is the built-in
//! one ([`host::fuzz::build_seed`]). `--family dirindex` uses the seed with
//! an indexed directory ([`host::fuzz::build_dirindex_seed`]) and generates
//! only mutations of its index (a campaign of its own, so the classic
//! campaign's images do not change); `--replay` of a `dirindex:` spec uses
//! that seed too. `--list-families` lists the classic families, then
//! `dirindex`. `--exercise` walks and reads a mounted
//! image, punches holes with `xfs_io`, then creates, writes, fsyncs,
//! renames, links, truncates, unlinks and removes in it, ignoring every
//! error; `--walk` only reads. Both print
//! one summary line and exit 0.
//!
//! Exit status: 0 done, 1 error (bad spec, I/O), 16 usage.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[path = "../host/mod.rs"]
pub mod host;

use host::disk::MemDisk;
use host::fuzz::{self, Layout};

const USAGE: &str = "usage: fuzz.delafs --build-seed OUT.img [--family dirindex]
       fuzz.delafs [--seed-image IMG] -o DIR [-n COUNT] [-s SEED] [--from N] [--family dirindex] [IMG]
       fuzz.delafs [--seed-image IMG] --replay SPEC -o OUT.img
       fuzz.delafs --list-families
       fuzz.delafs [--seed-image IMG] --describe
       fuzz.delafs --exercise MNT | --walk MNT";

const EXIT_ERROR: u8 = 1;
const EXIT_USAGE: u8 = 16;

#[derive(Default, Clone)]
struct Args {
    build_seed: Option<PathBuf>,
    seed_image: Option<PathBuf>,
    out: Option<PathBuf>,
    count: u64,
    seed: u64,
    from: u64,
    replay: Option<String>,
    exercise: Option<PathBuf>,
    walk: Option<PathBuf>,
    list: bool,
    describe: bool,
    dirindex: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        count: 1,
        ..Args::default()
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        let num = |s: String| {
            s.parse::<u64>()
                .map_err(|_| format!("{s:?} is not a number"))
        };
        match arg.as_str() {
            "--build-seed" => a.build_seed = Some(val(&arg)?.into()),
            "--seed-image" => a.seed_image = Some(val(&arg)?.into()),
            "-o" => a.out = Some(val(&arg)?.into()),
            "-n" => a.count = num(val(&arg)?)?,
            "-s" => a.seed = num(val(&arg)?)?,
            "--from" => a.from = num(val(&arg)?)?,
            "--replay" => a.replay = Some(val(&arg)?),
            "--exercise" => a.exercise = Some(val(&arg)?.into()),
            "--walk" => a.walk = Some(val(&arg)?.into()),
            "--list-families" => a.list = true,
            "--describe" => a.describe = true,
            "--family" => match val(&arg)?.as_str() {
                fuzz::DIRINDEX_FAMILY => a.dirindex = true,
                f => {
                    return Err(format!(
                        "--family: only {} has a campaign of its own, not {f}",
                        fuzz::DIRINDEX_FAMILY
                    ))
                }
            },
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            s => {
                if a.seed_image.replace(s.into()).is_some() {
                    return Err("only one seed image".to_string());
                }
            }
        }
    }
    Ok(a)
}

fn seed_disk(a: &Args) -> Result<(MemDisk, Layout), String> {
    let disk = match &a.seed_image {
        Some(p) => fuzz::load(p).map_err(|e| format!("{}: {e}", p.display()))?,
        None if a.dirindex => fuzz::build_dirindex_seed(),
        None => fuzz::build_seed(),
    };
    let layout = Layout::scan(&disk)?;
    Ok((disk, layout))
}

/// What the seed holds, for writing specs by hand: every inode with its
/// names, extents and chain blocks.
fn describe(l: &Layout) -> String {
    use std::fmt::Write as _;
    let g = &l.geo;
    let mut s = format!(
        "geometry: {} blocks, {} inodes, bitmap {}, inode table {}..{}, data from {}\n",
        g.total_blocks,
        g.inode_count,
        g.bitmap_start,
        g.inode_table_start,
        g.data_start,
        g.data_start
    );
    for f in l.files.values() {
        let names: Vec<String> = l
            .dirents
            .iter()
            .filter(|d| d.ino == f.ino)
            .map(|d| {
                format!(
                    "{} in {} at {}:{}",
                    String::from_utf8_lossy(&d.name),
                    d.dir,
                    d.block,
                    d.slot
                )
            })
            .collect();
        let _ = write!(
            s,
            "inode {}: mode {:#o} nlink {} size {} parent {} extents {}",
            f.ino,
            f.inode.mode,
            f.inode.nlink,
            f.inode.size,
            f.inode.parent,
            f.extents.len()
        );
        for e in f.extents.iter().take(4) {
            let _ = write!(s, " [{}+{} @{}]", e.logical, e.len, e.physical);
        }
        if f.extents.len() > 4 {
            s.push_str(" ...");
        }
        if !f.chain.is_empty() {
            let _ = write!(s, " chain {:?}", f.chain);
        }
        let _ = writeln!(s, " names: {}", names.join(", "));
    }
    let _ = writeln!(
        s,
        "free inodes from {}, {} free directory slots, {} free blocks from {}",
        l.free_inodes.first().copied().unwrap_or(0),
        l.free_slots.len(),
        l.free_blocks.len(),
        l.free_blocks.first().copied().unwrap_or(0)
    );
    s
}

fn campaign(a: &Args, dir: &Path) -> Result<(), String> {
    let (disk, layout) = seed_disk(a)?;
    let index = match a.dirindex {
        true => Some(fuzz::IndexInfo::scan(&disk, &layout)?),
        false => None,
    };
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for i in a.from..a.from.saturating_add(a.count) {
        let spec = match &index {
            Some(ix) => fuzz::generate_dirindex(a.seed, i, &layout, ix),
            None => fuzz::generate(a.seed, i, &layout, &disk),
        };
        let img = fuzz::mutate(&disk, &layout, &spec)
            .map_err(|e| format!("image {i}: {e} (spec: {spec})"))?;
        let base = dir.join(format!("{i:04}"));
        fuzz::save_sparse(&img, &base.with_extension("img"))
            .and_then(|()| fs::write(base.with_extension("txt"), format!("{spec}\n")))
            .map_err(|e| format!("{}: {e}", base.display()))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The workload on a mounted image
// ---------------------------------------------------------------------------

/// Bytes read from one file at most; a corrupt size may say 2^63.
const READ_CAP: u64 = 8 << 20;
/// Directory entries visited at most, for directories that contain
/// themselves.
const MAX_NODES: usize = 5000;

#[derive(Default)]
struct Tally {
    ok: u64,
    failed: u64,
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Tally {
    fn note<T, E>(&mut self, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => {
                self.ok += 1;
                Some(v)
            }
            Err(_) => {
                self.failed += 1;
                None
            }
        }
    }
}

fn read_file(t: &mut Tally, path: &Path, size: u64) {
    let Some(mut f) = t.note(File::open(path)) else {
        return;
    };
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0u64;
    while total < READ_CAP {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(_) => {
                t.failed += 1;
                break;
            }
        }
    }
    // The last block and a few far offsets, where a corrupt size or extent
    // points.
    for off in [
        size.saturating_sub(4096),
        size / 2,
        1 << 40,
        (1 << 44) - 4096,
    ] {
        let _ = t.note(f.read_at(&mut buf[..4096], off));
    }
}

/// Walks the tree under `root`: readdir, stat, and reading every file.
fn walk(t: &mut Tally, root: &Path) {
    let mut seen = HashSet::new();
    let mut stack = vec![root.to_path_buf()];
    let mut nodes = 0;
    while let Some(dir) = stack.pop() {
        if let Some(md) = t.note(fs::symlink_metadata(&dir)) {
            if !seen.insert(md.ino()) {
                continue;
            }
        }
        t.dirs.push(dir.clone());
        let Some(rd) = t.note(fs::read_dir(&dir)) else {
            continue;
        };
        for ent in rd {
            let Some(ent) = t.note(ent) else {
                break;
            };
            nodes += 1;
            if nodes > MAX_NODES {
                return;
            }
            let path = ent.path();
            let Some(md) = t.note(fs::symlink_metadata(&path)) else {
                continue;
            };
            if md.is_dir() {
                stack.push(path);
            } else if md.is_file() {
                read_file(t, &path, md.len());
                t.files.push(path);
            } else if md.file_type().is_symlink() {
                let _ = t.note(fs::read_link(&path));
            }
        }
    }
}

fn with_suffix(p: &Path, s: &str) -> PathBuf {
    let mut name = p.file_name().unwrap_or_default().to_os_string();
    name.push(s);
    p.with_file_name(name)
}

/// Changes everything the walk found, then removes part of it.
fn modify(t: &mut Tally, root: &Path) {
    let files = std::mem::take(&mut t.files);
    let dirs = std::mem::take(&mut t.dirs);
    for (i, path) in files.iter().enumerate().take(64) {
        let size = fs::symlink_metadata(path).map_or(0, |m| m.len());
        if let Some(f) = t.note(OpenOptions::new().read(true).write(true).open(path)) {
            let data = vec![0x5a; 8192];
            let _ = t.note(f.write_all_at(&data, 0));
            let _ = t.note(f.write_all_at(&data[..100], size));
            // fsync is the slow part under TCG: every fourth file.
            if i % 4 == 0 {
                let _ = t.note(f.sync_all());
            }
            let _ = t.note(f.set_len(size.saturating_add(3 * 4096 + 7)));
            let _ = t.note(f.set_len(size / 2));
            let _ = t.note(f.write_all_at(&data, 3 * 4096 + 1));
        }
        let renamed = with_suffix(path, ".fzr");
        if t.note(fs::rename(path, &renamed)).is_some() {
            let link = with_suffix(path, ".fzl");
            if t.note(fs::hard_link(&renamed, &link)).is_some() {
                let _ = t.note(fs::remove_file(&link));
            }
            let _ = t.note(fs::rename(&renamed, path));
        }
        // Unlink every third file, the last names of hard links included.
        if i % 3 == 2 {
            let _ = t.note(fs::remove_file(path));
        }
    }
    for dir in dirs.iter().take(32) {
        let sub = dir.join("fz-dir");
        if t.note(fs::create_dir(&sub)).is_some() {
            let f = sub.join("fz-file");
            if let Some(file) = t.note(File::create(&f)) {
                let _ = t.note(file.write_all_at(b"fuzz", 0));
                let _ = t.note(file.sync_all());
            }
            let _ = t.note(fs::rename(&f, dir.join("fz-moved")));
            let _ = t.note(fs::remove_dir(&sub));
        }
        let _ = t.note(fs::remove_file(dir.join("fz-moved")));
        if let Some(file) = t.note(File::create(dir.join("fz-new"))) {
            let _ = t.note(file.write_all_at(&[0xa5; 20000], 0));
        }
    }
    // rmdir the deepest directories (empty or not), then remove the tree
    // of the first subdirectory of the root.
    for dir in dirs.iter().rev().take(3) {
        if dir != root {
            let _ = t.note(fs::remove_dir(dir));
        }
    }
    if let Some(first) = dirs.iter().find(|d| *d != root) {
        let _ = t.note(fs::remove_dir_all(first));
    }
}

/// Punches holes in, writes, grows and shrinks the first files of `files`
/// with one `xfs_io` (std has no fallocate); nothing if there is no xfs_io.
fn punch(t: &mut Tally, files: &[PathBuf]) {
    let mut cmd = std::process::Command::new("xfs_io");
    let mut any = false;
    for f in files.iter().take(8) {
        let Some(path) = f.to_str() else {
            continue;
        };
        any = true;
        for c in [
            format!("open {path}"),
            "pwrite -q 0 40k".to_string(),
            "fpunch 4k 8k".to_string(),
            "fpunch 30k 2k".to_string(),
            "truncate 100k".to_string(),
            "fpunch 60k 40k".to_string(),
            "truncate 20k".to_string(),
        ] {
            cmd.arg("-c").arg(c);
        }
    }
    if any {
        cmd.arg("/dev/null")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let _ = t.note(cmd.status());
    }
}

fn workload(root: &Path, change: bool) {
    let mut t = Tally::default();
    walk(&mut t, root);
    let (files, dirs) = (t.files.len(), t.dirs.len());
    if change {
        let files = t.files.clone();
        punch(&mut t, &files);
        modify(&mut t, root);
    }
    println!(
        "{}: {files} files, {dirs} directories, {} operations ok, {} failed",
        if change { "exercise" } else { "walk" },
        t.ok,
        t.failed
    );
}

fn run(a: Args) -> Result<(), String> {
    if a.list {
        println!("{} {}", fuzz::FAMILIES.join(" "), fuzz::DIRINDEX_FAMILY);
        return Ok(());
    }
    if a.describe {
        let (_, layout) = seed_disk(&a)?;
        print!("{}", describe(&layout));
        return Ok(());
    }
    if let Some(mnt) = &a.exercise {
        workload(mnt, true);
        return Ok(());
    }
    if let Some(mnt) = &a.walk {
        workload(mnt, false);
        return Ok(());
    }
    if let Some(out) = &a.build_seed {
        let seed = match a.dirindex {
            true => fuzz::build_dirindex_seed(),
            false => fuzz::build_seed(),
        };
        return fuzz::save_sparse(&seed, out).map_err(|e| format!("{}: {e}", out.display()));
    }
    let out = a.out.as_ref().ok_or("no -o given")?;
    if let Some(spec) = &a.replay {
        let mut a = a.clone();
        a.dirindex |= fuzz::family(spec) == Some(fuzz::DIRINDEX_FAMILY);
        let (disk, layout) = seed_disk(&a)?;
        let img = fuzz::mutate(&disk, &layout, spec)?;
        return fuzz::save_sparse(&img, out).map_err(|e| format!("{}: {e}", out.display()));
    }
    campaign(&a, out)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("fuzz.delafs: {e}\n{USAGE}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fuzz.delafs: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
