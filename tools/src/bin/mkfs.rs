//! `mkfs.delafs [-N inodes] [-s SIZE] [-q] TARGET`: makes a delafs
//! filesystem on a block device or an image file, without asking.
//!
//! Exit status: 0 done, 1 refused or failed (with a message), 16 usage.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use delafs::shared::format::{BLOCK_SIZE, INODES_PER_BLOCK, MIN_BLOCKS};

#[path = "../host/mod.rs"]
pub mod host;

use host::disk::{Disk, FileDisk};
use host::mkfs;

const USAGE: &str = "usage: mkfs.delafs [-N inodes] [-s SIZE[K|M|G|T]] [-q] TARGET";

struct Options {
    inodes: Option<u64>,
    size: Option<u64>,
    quiet: bool,
    target: PathBuf,
}

/// Parses `123`, `64K`, `10M`, `2G`, `1T` (binary multiples) into bytes.
fn parse_size(s: &str) -> Option<u64> {
    let (digits, shift) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 10),
        b'm' | b'M' => (&s[..s.len() - 1], 20),
        b'g' | b'G' => (&s[..s.len() - 1], 30),
        b't' | b'T' => (&s[..s.len() - 1], 40),
        _ => (s, 0),
    };
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut inodes = None;
    let mut size = None;
    let mut quiet = false;
    let mut target = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-N" => {
                let v = it.next().ok_or("-N needs a number")?;
                let n: u64 = v.parse().map_err(|_| format!("-N {v}: not a number"))?;
                inodes = Some(n);
            }
            "-s" => {
                let v = it.next().ok_or("-s needs a size")?;
                size = Some(parse_size(v).ok_or_else(|| format!("-s {v}: not a size"))?);
            }
            "-q" => quiet = true,
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option {s}")),
            s => {
                if target.replace(PathBuf::from(s)).is_some() {
                    return Err("only one TARGET".to_string());
                }
            }
        }
    }
    Ok(Options {
        inodes,
        size,
        quiet,
        target: target.ok_or("no TARGET given")?,
    })
}

/// 16 random bytes shaped as a version 4 UUID.
fn new_uuid(time: u64) -> [u8; 16] {
    let mut uuid = [0u8; 16];
    let random = fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut uuid));
    if random.is_err() {
        // No /dev/urandom: time and pid through splitmix64.
        let mut x = time ^ (u64::from(std::process::id()) << 32);
        for chunk in uuid.chunks_mut(8) {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
    }
    uuid[6] = (uuid[6] & 0x0f) | 0x40;
    uuid[8] = (uuid[8] & 0x3f) | 0x80;
    uuid
}

/// Opens the target, creating or extending an image file for `-s`, and
/// returns it with the size of the filesystem in blocks.
fn open_target(path: &Path, size: Option<u64>) -> Result<(FileDisk, u64), String> {
    let shown = path.display();
    match fs::metadata(path) {
        Ok(meta) if meta.file_type().is_block_device() => {
            if size.is_some() {
                return Err(format!(
                    "{shown}: -s applies to image files, not block devices"
                ));
            }
        }
        Ok(meta) if meta.is_file() => {
            if let Some(bytes) = size {
                if meta.len() < bytes {
                    let f = OpenOptions::new().write(true).open(path);
                    f.and_then(|f| f.set_len(bytes))
                        .map_err(|e| format!("{shown}: cannot extend to {bytes} bytes: {e}"))?;
                }
            }
        }
        Ok(_) => return Err(format!("{shown}: not a block device or a regular file")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let Some(bytes) = size else {
                return Err(format!(
                    "{shown}: does not exist (use -s SIZE to create an image file)"
                ));
            };
            let f = OpenOptions::new().write(true).create_new(true).open(path);
            f.and_then(|f| f.set_len(bytes))
                .map_err(|e| format!("{shown}: cannot create: {e}"))?;
        }
        Err(e) => return Err(format!("{shown}: {e}")),
    }
    let mut disk = FileDisk::open(path, true).map_err(|e| format!("{shown}: cannot open: {e}"))?;
    if let Some(bytes) = size {
        disk.limit(bytes / BLOCK_SIZE as u64);
    }
    let blocks = disk.blocks();
    Ok((disk, blocks))
}

fn too_small(shown: &str, blocks: u64) -> String {
    format!(
        "{shown}: too small: {blocks} blocks of {BLOCK_SIZE} bytes, delafs needs at least {MIN_BLOCKS} ({} KiB)",
        MIN_BLOCKS * BLOCK_SIZE as u64 / 1024
    )
}

fn run(opts: &Options) -> Result<(), String> {
    let shown = opts.target.display().to_string();
    // Refuse a too small -s before creating or growing anything.
    if let Some(bytes) = opts.size {
        if bytes / (BLOCK_SIZE as u64) < MIN_BLOCKS {
            return Err(too_small(&shown, bytes / BLOCK_SIZE as u64));
        }
    }
    let (mut disk, blocks) = open_target(&opts.target, opts.size)?;
    if blocks < MIN_BLOCKS {
        return Err(too_small(&shown, blocks));
    }
    let per_block = INODES_PER_BLOCK as u64;
    let inodes = match opts.inodes {
        // Whole inode table blocks.
        Some(n) => n.max(1).div_ceil(per_block) * per_block,
        None => mkfs::default_inode_count(blocks),
    };
    let time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let sb = mkfs::format(&mut disk, blocks, inodes, time, new_uuid(time))
        .map_err(|e| format!("{shown}: {e}"))?;
    if !opts.quiet {
        print!("delafs on {shown}: {}", mkfs::describe(&sb));
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse_args(&args) {
        Ok(opts) => opts,
        Err(msg) if msg.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("mkfs.delafs: {msg}");
            eprintln!("{USAGE}");
            return ExitCode::from(16);
        }
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("mkfs.delafs: {msg}");
            ExitCode::from(1)
        }
    }
}
