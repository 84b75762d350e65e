// SPDX-License-Identifier: GPL-2.0

//! The [`FileSystem`] trait: what a filesystem type is, before any of its
//! operation tables.

use kernel::prelude::*;

/// A block-device filesystem type: its name and limits, and the data it
/// keeps with each superblock and inode.
///
/// Each operation table is a trait of its own that the type implements too:
/// [`super::SuperOperations`], [`super::InodeOperations`],
/// [`super::DirOperations`], [`super::FileOperations`],
/// [`super::AddressSpaceOperations`] and [`super::IomapOperations`].
pub(crate) trait FileSystem: Sized + Send + Sync + 'static {
    /// Per-superblock data (`s_fs_info`).
    type Data: Send + Sync;
    /// Per-inode data, allocated with the VFS inode.
    type InodeData: Send + Sync;
    /// Mount options, parsed before `fill_super` and on remount.
    type Options: Default + Send;

    const NAME: &'static CStr;
    const MAGIC: u32;
    /// The largest file size the on-disk format can address (`s_maxbytes`):
    /// the VFS refuses writes, truncates and fallocates past it with
    /// `EFBIG`, so no offset the filesystem sees reaches it.
    const MAX_BYTES: i64;
    /// The largest link count the on-disk format can store
    /// (`s_max_links`): `link(2)` and `mkdir(2)` fail with `EMLINK` there.
    const MAX_LINKS: u32;

    fn init_inode_data() -> impl PinInit<Self::InodeData, Error>;

    /// One mount option, `key` alone (`value` is `None`) or `key=value`.
    /// `Ok(false)` for a key the filesystem does not know: the VFS then
    /// handles `source` and refuses anything else.
    fn parse_option(opts: &mut Self::Options, key: &[u8], value: Option<&[u8]>) -> Result<bool>;
}
