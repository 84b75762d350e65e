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
    type: DelafsModule,
    name: "delafs",
    author: "delafs developers",
    description: "Delayed-allocation test filesystem on iomap",
    license: "GPL",
}

static DELAFS_TYPE: FileSystemType = FileSystemType::new();

struct DelafsModule {
    // Dropped in declaration order: stop new mounts before the debugfs
    // files go.
    _fs: Registration<fs::Delafs>,
    _debugfs: debugfs::Dir,
}

impl kernel::Module for DelafsModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let dir = debugfs::Dir::new(c_str!("delafs"), module)?;
        fs::knobs::register(&dir)?;
        let fs = Registration::new(&DELAFS_TYPE, module)?;
        Ok(DelafsModule {
            _fs: fs,
            _debugfs: dir,
        })
    }
}
