//! delafs on the host: the code shared with the kernel module, compiled
//! from the same files (`rust/shared/`), `no_std` as in the kernel.
//!
//! The host-only code (image files, mkfs, fsck, the test image builder)
//! lives in `src/host/`, which the binaries and tests include.

#![no_std]

#[path = "../../rust/shared/mod.rs"]
pub mod shared;
