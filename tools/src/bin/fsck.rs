//! `fsck.delafs [-n] [-v] IMAGE`: checks an unmounted delafs filesystem,
//! read-only, and prints each problem on its own line, then a summary.
//!
//! Exit status, as e2fsck's: 0 clean, 4 problems found (left uncorrected),
//! 8 operational error (cannot open or read), 16 usage error.

use std::path::PathBuf;
use std::process::ExitCode;

#[path = "../host/mod.rs"]
pub mod host;

use host::disk::FileDisk;
use host::fsck;

const USAGE: &str = "usage: fsck.delafs [-n] [-v] IMAGE";

const EXIT_CLEAN: u8 = 0;
const EXIT_PROBLEMS: u8 = 4;
const EXIT_OPERATIONAL: u8 = 8;
const EXIT_USAGE: u8 = 16;

fn main() -> ExitCode {
    let mut verbose = false;
    let mut image = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            // Never writes anyway; -n is accepted as e2fsck's "answer no".
            "-n" => {}
            "-v" => verbose = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::from(EXIT_CLEAN);
            }
            s if s.starts_with('-') && s.len() > 1 => {
                eprintln!("fsck.delafs: unknown option {s}\n{USAGE}");
                return ExitCode::from(EXIT_USAGE);
            }
            s => {
                if image.replace(PathBuf::from(s)).is_some() {
                    eprintln!("fsck.delafs: only one IMAGE\n{USAGE}");
                    return ExitCode::from(EXIT_USAGE);
                }
            }
        }
    }
    let Some(image) = image else {
        eprintln!("fsck.delafs: no IMAGE given\n{USAGE}");
        return ExitCode::from(EXIT_USAGE);
    };
    let shown = image.display().to_string();
    let mut disk = match FileDisk::open(&image, false) {
        Ok(disk) => disk,
        Err(e) => {
            eprintln!("fsck.delafs: {shown}: cannot open: {e}");
            return ExitCode::from(EXIT_OPERATIONAL);
        }
    };
    let report = match fsck::check(&mut disk) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("fsck.delafs: {shown}: read error: {e}");
            return ExitCode::from(EXIT_OPERATIONAL);
        }
    };
    if verbose {
        for note in &report.notes {
            println!("{note}");
        }
    }
    for problem in &report.problems {
        println!("{problem}");
    }
    println!("{}", report.summary(&shown));
    ExitCode::from(if report.is_clean() {
        EXIT_CLEAN
    } else {
        EXIT_PROBLEMS
    })
}
