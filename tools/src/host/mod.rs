//! Host-only helpers shared by `mkfs-delafs`, `fsck-delafs` and the tests:
//! the ordered map on `BTreeMap`, block devices and image files, mkfs, fsck
//! a builder of test images and the image fuzzer. Included with `#[path]` by each binary and
//! test crate, so it may use `std`; the library `delafs` stays `no_std`.
//!
//! Everything that touches the format goes through the shared encoders and
//! decoders in `delafs::shared::format`.

pub mod btree;
pub mod builder;
pub mod disk;
pub mod fsck;
pub mod fuzz;
pub mod mkfs;
