// SPDX-License-Identifier: GPL-2.0

//! delafs: a small block-device filesystem whose buffered I/O runs on iomap
//! with delayed allocation, built to reproduce and study the delalloc release
//! race fixed upstream by 7a9d43eace88.

use kernel::c_str;
use kernel::prelude::*;

mod fs;
pub mod shared;
mod vfs;

use vfs::debugfs;
use vfs::fs_type::{FileSystemType, Registration};

module! {
    type: Delafs,
    name: "delafs",
    author: "delafs developers",
    description: "Delayed-allocation test filesystem on iomap",
    license: "GPL",
}

/// Version of the on-disk format this module reads and writes.
const FORMAT_VERSION: u32 = 1;

static DELAFS_TYPE: FileSystemType = FileSystemType::new();

struct Delafs {
    // Dropped in declaration order: stop new mounts before the debugfs files go.
    _fs: Registration<fs::Delafs>,
    _debugfs: debugfs::Dir,
}

/// `/sys/kernel/debug/delafs/version`: the on-disk format this module speaks.
fn show_version(out: &mut debugfs::Text) -> Result {
    use core::fmt::Write;
    writeln!(out, "format {FORMAT_VERSION}").map_err(|_| ENOSPC)
}

impl kernel::Module for Delafs {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let dir = debugfs::Dir::new(c_str!("delafs"), module)?;
        dir.read_only_file(c_str!("version"), show_version)?;
        let fs = Registration::new(&DELAFS_TYPE, module)?;
        Ok(Delafs {
            _fs: fs,
            _debugfs: dir,
        })
    }
}
