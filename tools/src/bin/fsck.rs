//! `fsck.delafs [-n | -p | -y] [-v] IMAGE`: checks an unmounted delafs
//! filesystem and prints each problem on its own line, then a summary.
//! Without an option, or with `-n`, nothing is written. `-p` (preen; `-a`
//! is the same) makes the safe fixes only; `-y` makes every fix fsck knows,
//! answering yes to each. The fixes are listed in `host/fsck.rs`.
//! `--upgrade` makes an image from before format feature bits current
//! (after checking it; with `-p` or `-y`, after repairing it).
//!
//! Exit status, as e2fsck's: 0 clean, 1 errors corrected (the filesystem is
//! now clean), 4 errors left uncorrected, 8 operational error (cannot open,
//! read or write), 16 usage error.

use std::path::PathBuf;
use std::process::ExitCode;

#[path = "../host/mod.rs"]
pub mod host;

use host::disk::FileDisk;
use host::fsck::{self, Outcome, Repair, UpgradeState};

const USAGE: &str = "usage: fsck.delafs [-n | -p | -y] [--upgrade] [-v] IMAGE
  (none), -n  check only, never write (exit 0 clean, 4 problems found)
  -p, -a      preen: make the safe fixes only (exit 1 if all were fixed,
              4 if problems needing -y remain)
  -y          fix everything fsck can (exit 1 if fixed, 4 if some are left)
  --upgrade   an image made before format feature bits (refused at mount,
              \"run fsck.delafs --upgrade\"): check it and, if it is clean
              and no extent is 2^31 blocks or longer, set the unwritten-
              extent feature bit in the superblock (exit 0 upgraded or
              already current, 4 not upgraded); with -p or -y, repair
              first (exit 1 if something was fixed); not with -n
  -v          also print what was checked
exit status: 0 clean, 1 errors corrected, 4 errors left, 8 operational
error, 16 usage";

const EXIT_OPERATIONAL: u8 = 8;
const EXIT_USAGE: u8 = 16;

fn usage(msg: &str) -> ExitCode {
    eprintln!("fsck.delafs: {msg}\n{USAGE}");
    ExitCode::from(EXIT_USAGE)
}

fn main() -> ExitCode {
    let mut verbose = false;
    let mut upgrade = false;
    let mut image = None;
    // None: check only.
    let mut mode: Option<Option<Repair>> = None;
    for arg in std::env::args().skip(1) {
        let want = match arg.as_str() {
            "-n" => Some(None),
            "-p" | "-a" => Some(Some(Repair::Preen)),
            "-y" => Some(Some(Repair::Yes)),
            "-v" => {
                verbose = true;
                None
            }
            "--upgrade" => {
                upgrade = true;
                None
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::from(0);
            }
            s if s.starts_with('-') && s.len() > 1 => {
                return usage(&format!("unknown option {s}"));
            }
            s => {
                if image.replace(PathBuf::from(s)).is_some() {
                    return usage("only one IMAGE");
                }
                None
            }
        };
        if let Some(want) = want {
            if mode.is_some_and(|m| m != want) {
                return usage("-n, -p and -y exclude each other");
            }
            mode = Some(want);
        }
    }
    let Some(image) = image else {
        return usage("no IMAGE given");
    };
    if upgrade && mode == Some(None) {
        return usage("--upgrade writes the superblock: not with -n");
    }
    let repair = mode.flatten();
    let shown = image.display().to_string();
    let mut disk = match FileDisk::open(&image, repair.is_some() || upgrade) {
        Ok(disk) => disk,
        Err(e) => {
            eprintln!("fsck.delafs: {shown}: cannot open: {e}");
            return ExitCode::from(EXIT_OPERATIONAL);
        }
    };
    if upgrade {
        let done = match fsck::upgrade(&mut disk, repair) {
            Ok(done) => done,
            Err(e) => {
                eprintln!("fsck.delafs: {shown}: I/O error: {e}");
                return ExitCode::from(EXIT_OPERATIONAL);
            }
        };
        print_outcome(&shown, &done.outcome, verbose, repair.is_some());
        match done.state {
            UpgradeState::Upgraded => {
                println!("{shown}: upgraded: format feature bits set (unwritten extents)")
            }
            UpgradeState::Current => println!("{shown}: already has format feature bits"),
            UpgradeState::NotUpgraded => println!("{shown}: not upgraded"),
        }
        println!("{}", done.outcome.after.summary(&shown));
        if done.state == UpgradeState::NotUpgraded {
            return ExitCode::from(4);
        }
        return ExitCode::from(fsck::exit_code(
            &done.outcome.after,
            !done.outcome.fixed.is_empty(),
        ));
    }
    let Some(how) = repair else {
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
        return ExitCode::from(fsck::exit_code(&report, false));
    };
    let outcome = match fsck::repair(&mut disk, how) {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("fsck.delafs: {shown}: I/O error: {e}");
            return ExitCode::from(EXIT_OPERATIONAL);
        }
    };
    print_outcome(&shown, &outcome, verbose, true);
    println!("{}", outcome.after.summary(&shown));
    if how == Repair::Preen
        && outcome
            .after
            .worst()
            .is_some_and(|w| w < fsck::Level::Never)
    {
        println!("{shown}: UNEXPECTED INCONSISTENCY; run fsck.delafs -y");
    }
    ExitCode::from(fsck::exit_code(&outcome.after, !outcome.fixed.is_empty()))
}

/// What a repair (or an upgrade) found, fixed and left, before the summary.
fn print_outcome(shown: &str, outcome: &Outcome, verbose: bool, repaired: bool) {
    if verbose {
        for note in &outcome.found.notes {
            println!("{note}");
        }
    }
    for problem in &outcome.found.problems {
        println!("{problem}");
    }
    for fix in &outcome.fixed {
        println!("fixed: {fix}");
    }
    // A check without repair found what is left: no second list.
    if repaired {
        for problem in &outcome.after.problems {
            println!("left: {problem}");
        }
    }
    if !outcome.fixed.is_empty() {
        println!(
            "{shown}: {} fixes in {} passes",
            outcome.fixed.len(),
            outcome.passes
        );
    }
}
