// SPDX-License-Identifier: GPL-2.0

//! The thin layer over `kernel::bindings`: every raw VFS, page cache, iomap
//! and debugfs call lives below this module, wrapped in small safe types,
//! and one trait per operation table whose trampolines (`*_callback` in a
//! `*VTable<T>`) turn raw arguments into those types. The filesystem logic
//! implements the traits using only these wrappers; locking and policy are
//! its own.
//!
//! Module graph (each uses only those below it):
//!
//! - `fs_type`: registration, mount, `fill_super`, `kill_sb`, which tables
//!   a new inode gets;
//! - `super_ops`, `dir`, `aops`, `file_ops`, `attr`: the operation traits
//!   and their tables;
//! - `iomap`: mappings, the iomap tables, and the iomap calls of the I/O
//!   paths;
//! - `folio`, `file`: page cache folios; files, kiocbs, iterators, faults;
//! - `inode`: inodes, their locks, `iget`;
//! - `sb`: superblocks and their type state;
//! - `filesystem`, `buffer`, `error`, `task`, `debugfs`, `bug`: leaves.

pub(crate) mod aops;
pub(crate) mod attr;
pub(crate) mod buffer;
#[macro_use]
pub(crate) mod bug;
pub(crate) mod debugfs;
pub(crate) mod dir;
pub(crate) mod error;
pub(crate) mod file;
pub(crate) mod file_ops;
pub(crate) mod filesystem;
pub(crate) mod folio;
pub(crate) mod fs_type;
pub(crate) mod inode;
pub(crate) mod iomap;
pub(crate) mod sb;
pub(crate) mod super_ops;
pub(crate) mod task;

pub(crate) use aops::AddressSpaceOperations;
pub(crate) use attr::{InodeOperations, SetAttr};
pub(crate) use dir::{DirEmit, DirOperations, RenameFlags};
pub(crate) use file::{File, IovIter, Kiocb, VmFault, VmFaultResult, Whence};
pub(crate) use file_ops::{FallocFlags, FileOperations};
pub(crate) use filesystem::FileSystem;
pub(crate) use inode::{Inode, InodeKind, NewInode, Owner, Time};
pub(crate) use iomap::{IoKind, IomapFlags, IomapOperations, Mapping, MappingKind};
pub(crate) use sb::{DataInited, New, SbState, SuperBlock};
pub(crate) use super_ops::{SeqFile, StatFs, SuperOperations};
pub(crate) use task::{cond_resched, sleep_us, NoFs, RateLimit};
