// SPDX-License-Identifier: GPL-2.0

//! The race lab's debugfs files under `/sys/kernel/debug/delafs/`, in the
//! spirit of XFS's errortags: knobs read with relaxed atomics on the hot
//! path, 0 = off, and strict parsing so that a bad write changes nothing.

use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering};

use kernel::c_str;
use kernel::prelude::*;

use super::release::{
    COUNTERS, DELAY_INO, MAP_DELAY_US, MAX_SEEK_DELAY_US, RELEASE_MODE, SEEK_DELAY_US,
};
use crate::shared::knob::{mode_name, parse_mode, parse_u32, KnobError};
use crate::shared::release::Mode;
use crate::vfs::debugfs::{Dir, FileSpec, Text};

fn knob_error(_: KnobError) -> Error {
    EINVAL
}

fn line(out: &mut Text, args: core::fmt::Arguments<'_>) -> Result {
    out.write_fmt(args).map_err(|_| ENOSPC)
}

/// `version`: the on-disk format this module reads and writes.
fn show_version(out: &mut Text) -> Result {
    line(
        out,
        format_args!("format {}\n", crate::shared::format::VERSION),
    )
}

fn show_mode(out: &mut Text) -> Result {
    let mode = if RELEASE_MODE.load(Ordering::Relaxed) == 1 {
        Mode::Legacy
    } else {
        Mode::Fixed
    };
    line(out, format_args!("{}\n", mode_name(mode)))
}

fn store_mode(input: &[u8]) -> Result {
    let mode = parse_mode(input).map_err(knob_error)?;
    RELEASE_MODE.store(u32::from(mode == Mode::Legacy), Ordering::Relaxed);
    Ok(())
}

fn show_delay(out: &mut Text) -> Result {
    line(
        out,
        format_args!("{}\n", SEEK_DELAY_US.load(Ordering::Relaxed)),
    )
}

fn store_delay(input: &[u8]) -> Result {
    let us = parse_u32(input, MAX_SEEK_DELAY_US).map_err(knob_error)?;
    SEEK_DELAY_US.store(us, Ordering::Relaxed);
    Ok(())
}

fn show_map_delay(out: &mut Text) -> Result {
    line(
        out,
        format_args!("{}\n", MAP_DELAY_US.load(Ordering::Relaxed)),
    )
}

fn store_map_delay(input: &[u8]) -> Result {
    let us = parse_u32(input, MAX_SEEK_DELAY_US).map_err(knob_error)?;
    MAP_DELAY_US.store(us, Ordering::Relaxed);
    Ok(())
}

fn show_delay_ino(out: &mut Text) -> Result {
    line(out, format_args!("{}\n", DELAY_INO.load(Ordering::Relaxed)))
}

fn store_delay_ino(input: &[u8]) -> Result {
    let ino = parse_u32(input, u32::MAX).map_err(knob_error)?;
    DELAY_INO.store(ino.into(), Ordering::Relaxed);
    Ok(())
}

fn show_counter(out: &mut Text, counter: &AtomicU64) -> Result {
    line(out, format_args!("{}\n", counter.load(Ordering::Relaxed)))
}

macro_rules! counter_file {
    ($field:ident) => {
        FileSpec {
            show: |out| show_counter(out, &COUNTERS.$field),
            store: None,
        }
    };
}

static VERSION_FILE: FileSpec = FileSpec {
    show: show_version,
    store: None,
};
static RELEASE_MODE_FILE: FileSpec = FileSpec {
    show: show_mode,
    store: Some(store_mode),
};
static SEEK_DELAY_FILE: FileSpec = FileSpec {
    show: show_delay,
    store: Some(store_delay),
};
static MAP_DELAY_FILE: FileSpec = FileSpec {
    show: show_map_delay,
    store: Some(store_map_delay),
};
static DELAY_INO_FILE: FileSpec = FileSpec {
    show: show_delay_ino,
    store: Some(store_delay_ino),
};
static CALLS: FileSpec = counter_file!(calls);
static DELAYS: FileSpec = counter_file!(delays);
static RACES: FileSpec = counter_file!(races);
static LEGACY_WARNINGS: FileSpec = counter_file!(legacy_warnings);
static OTHER_WARNINGS: FileSpec = counter_file!(other_warnings);
static PUNCHES: FileSpec = counter_file!(punches);
static PUNCHED_BYTES: FileSpec = counter_file!(punched_bytes);
static EVICT_LEAKED_BLOCKS: FileSpec = counter_file!(evict_leaked_blocks);
static DIO_COMPLETIONS_IN_DELAY: FileSpec = counter_file!(dio_completions_in_delay);
static STALE_MAPPINGS: FileSpec = counter_file!(stale_mappings);
static MAP_DELAYS: FileSpec = counter_file!(map_delays);
static UNWRITTEN_CONVERTED_BLOCKS: FileSpec = counter_file!(unwritten_converted_blocks);

/// Creates the knobs and counters in `dir`.
pub(crate) fn register(dir: &Dir) -> Result {
    dir.file(c_str!("version"), &VERSION_FILE)?;
    dir.file(c_str!("release_mode"), &RELEASE_MODE_FILE)?;
    dir.file(c_str!("seek_delay_us"), &SEEK_DELAY_FILE)?;
    dir.file(c_str!("delay_ino"), &DELAY_INO_FILE)?;
    dir.file(c_str!("map_delay_us"), &MAP_DELAY_FILE)?;
    dir.file(c_str!("calls"), &CALLS)?;
    dir.file(c_str!("delays"), &DELAYS)?;
    dir.file(c_str!("races"), &RACES)?;
    dir.file(c_str!("legacy_warnings"), &LEGACY_WARNINGS)?;
    dir.file(c_str!("other_warnings"), &OTHER_WARNINGS)?;
    dir.file(c_str!("punches"), &PUNCHES)?;
    dir.file(c_str!("punched_bytes"), &PUNCHED_BYTES)?;
    dir.file(c_str!("evict_leaked_blocks"), &EVICT_LEAKED_BLOCKS)?;
    dir.file(
        c_str!("dio_completions_in_delay"),
        &DIO_COMPLETIONS_IN_DELAY,
    )?;
    dir.file(c_str!("stale_mappings"), &STALE_MAPPINGS)?;
    dir.file(c_str!("map_delays"), &MAP_DELAYS)?;
    dir.file(
        c_str!("unwritten_converted_blocks"),
        &UNWRITTEN_CONVERTED_BLOCKS,
    )?;
    Ok(())
}
