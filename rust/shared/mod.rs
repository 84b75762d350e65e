// SPDX-License-Identifier: GPL-2.0

//! Code shared by the delafs kernel module and the host tools (`mkfs`,
//! `fsck`, tests): the on-disk format and the pure algorithms behind the
//! in-memory state.
//!
//! Everything here is `no_std` without `alloc` and without `unsafe` (the
//! compiler enforces it: `forbid(unsafe_code)` below, which no inner
//! attribute can lift): the same files are compiled into the kernel module
//! (as `crate::shared`) and into the host library `delafs`
//! (tools/src/lib.rs), so the host tests exercise exactly the code the
//! kernel runs. Decoders never panic on bad bytes; they return errors.
//!
//! - [`crc32c`]: the metadata checksum;
//! - [`claim`]: which block which structure uses, for cross-structure checks;
//! - [`format`]: the on-disk format, its documentation, encoders and decoders;
//! - [`extent_map`]: a file's block map with delayed allocation;
//! - [`space`]: the free-space allocator with delalloc reservations;
//! - [`release`]: the delalloc release loop run after short writes;
//! - [`knob`]: parsing what users write to the debugfs knobs.

#![forbid(unsafe_code)]

pub mod claim;
pub mod crc32c;
pub mod extent_map;
pub mod format;
pub mod knob;
pub mod release;
pub mod space;
