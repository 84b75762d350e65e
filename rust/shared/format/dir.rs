// SPDX-License-Identifier: GPL-2.0

//! Directory blocks and their entries.
//!
//! A directory is mapped by extents like a file, without holes; its size is
//! 4096 times its number of blocks. Each block holds 15 entries of 264 bytes
//! at `k * 264`; bytes 3960..4096 are zero.
//!
//! | offset | type      | field |
//! |-------:|-----------|-------|
//! | 0      | u32       | ino, 0 = free slot (then the whole entry is zero) |
//! | 4      | u8        | name_len, 1..=255 |
//! | 5      | u8        | file_type: `DT_FIFO` 1, `DT_CHR` 2, `DT_DIR` 4, `DT_BLK` 6, `DT_REG` 8, `DT_LNK` 10, `DT_SOCK` 12 |
//! | 6      | u16       | reserved |
//! | 8      | [u8; 256] | name: `name_len` bytes, then zeros |
//!
//! Names have no `/` and no NUL and are never `.` or `..`: those are not
//! stored (`..` is the inode's `parent`). Directory blocks carry no
//! checksum.

use super::bytes::{get_u16, get_u32, get_u8, is_zero, put, record_at, sub, sub_mut, zero_span};
use super::{Block, RecordError, BLOCK_SIZE};

/// Size of a directory entry.
pub const DIRENT_SIZE: usize = 264;
/// Directory entries per directory block.
pub const DIRENTS_PER_BLOCK: usize = 15;
/// Longest name.
pub const MAX_NAME_LEN: usize = 255;

/// Directory entry type: FIFO.
pub const DT_FIFO: u8 = 1;
/// Directory entry type: character device.
pub const DT_CHR: u8 = 2;
/// Directory entry type: directory.
pub const DT_DIR: u8 = 4;
/// Directory entry type: block device.
pub const DT_BLK: u8 = 6;
/// Directory entry type: regular file.
pub const DT_REG: u8 = 8;
/// Directory entry type: symbolic link.
pub const DT_LNK: u8 = 10;
/// Directory entry type: socket.
pub const DT_SOCK: u8 = 12;

/// A used directory entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DirEntry<'a> {
    /// The inode it names, non-zero.
    pub ino: u32,
    /// One of the `DT_` values.
    pub file_type: u8,
    /// The name, 1..=255 bytes, checked by [`valid_name`].
    pub name: &'a [u8],
}

const D_INO: usize = 0;
const D_NAME_LEN: usize = 4;
const D_FILE_TYPE: usize = 5;
const D_RESERVED: usize = 6;
const D_NAME: usize = 8;
/// Where the unused tail of a directory block starts.
pub const DIR_BLOCK_USED: usize = DIRENTS_PER_BLOCK * DIRENT_SIZE;

/// Whether `name` may be stored in a directory: 1..=255 bytes, no `/`, no
/// NUL, not `.` or `..`.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name != b"."
        && name != b".."
        && !name.iter().any(|&c| c == b'/' || c == 0)
}

/// Whether `t` is one of the `DT_` values a directory entry may carry.
pub fn valid_file_type(t: u8) -> bool {
    matches!(
        t,
        DT_FIFO | DT_CHR | DT_DIR | DT_BLK | DT_REG | DT_LNK | DT_SOCK
    )
}

fn dirent_bytes(block: &Block, slot: usize) -> Result<&[u8; DIRENT_SIZE], RecordError> {
    if slot >= DIRENTS_PER_BLOCK {
        return Err(RecordError::SlotOutOfRange);
    }
    sub(block, record_at(0, slot, DIRENT_SIZE)).ok_or(RecordError::SlotOutOfRange)
}

/// Decodes and checks directory entry `slot` (0..15) of a directory block:
/// `Ok(None)` for a free slot. The inode number is not checked against the
/// inode table.
pub fn decode_dirent(block: &Block, slot: usize) -> Result<Option<DirEntry<'_>>, RecordError> {
    let raw = dirent_bytes(block, slot)?;
    let ino = get_u32(raw, D_INO);
    if ino == 0 {
        return if is_zero(raw) {
            Ok(None)
        } else {
            Err(RecordError::FreeEntryNotZero)
        };
    }
    let name_len = usize::from(get_u8(raw, D_NAME_LEN));
    if name_len == 0 {
        return Err(RecordError::BadNameLength);
    }
    let file_type = get_u8(raw, D_FILE_TYPE);
    if !valid_file_type(file_type) {
        return Err(RecordError::BadFileType);
    }
    if get_u16(raw, D_RESERVED) != 0 {
        return Err(RecordError::ReservedNotZero);
    }
    let name = raw
        .get(D_NAME..D_NAME + name_len)
        .ok_or(RecordError::BadNameLength)?;
    if !valid_name(name) || !zero_span(raw, D_NAME + name_len, DIRENT_SIZE) {
        return Err(RecordError::BadName);
    }
    Ok(Some(DirEntry {
        ino,
        file_type,
        name,
    }))
}

/// Whether directory entry `slot` is free (ino 0); out-of-range slots are
/// not.
pub fn dirent_is_free(block: &Block, slot: usize) -> bool {
    dirent_bytes(block, slot).is_ok_and(|raw| get_u32(raw, D_INO) == 0)
}

/// Writes `entry` into slot `slot` of a directory block, or clears the slot
/// for `None`. Refuses invalid names, types and inode number 0.
pub fn encode_dirent(
    block: &mut Block,
    slot: usize,
    entry: Option<&DirEntry<'_>>,
) -> Result<(), RecordError> {
    if slot >= DIRENTS_PER_BLOCK {
        return Err(RecordError::SlotOutOfRange);
    }
    if let Some(e) = entry {
        if e.name.is_empty() || e.name.len() > MAX_NAME_LEN {
            return Err(RecordError::BadNameLength);
        }
        if !valid_name(e.name) {
            return Err(RecordError::BadName);
        }
        if !valid_file_type(e.file_type) {
            return Err(RecordError::BadFileType);
        }
        if e.ino == 0 {
            return Err(RecordError::FreeEntryNotZero);
        }
    }
    let raw = sub_mut::<DIRENT_SIZE>(block, record_at(0, slot, DIRENT_SIZE))
        .ok_or(RecordError::SlotOutOfRange)?;
    raw.fill(0);
    if let Some(e) = entry {
        put(raw, D_INO, e.ino.to_le_bytes());
        // Checked above: 1..=255.
        put(raw, D_NAME_LEN, [e.name.len() as u8]);
        put(raw, D_FILE_TYPE, [e.file_type]);
        if let Some(dst) = raw.get_mut(D_NAME..record_at(D_NAME, e.name.len(), 1)) {
            dst.copy_from_slice(e.name);
        }
    }
    Ok(())
}

/// Checks that the unused tail of a directory block (bytes 3960..4096) is
/// zero.
pub fn check_dir_block_tail(block: &Block) -> Result<(), RecordError> {
    if zero_span(block, DIR_BLOCK_USED, BLOCK_SIZE) {
        Ok(())
    } else {
        Err(RecordError::DirBlockTailNotZero)
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn layout_constants() {
        assert_eq!(DIR_BLOCK_USED, 3960);
    }

    #[test]
    fn dirents() {
        let mut b = [0u8; BLOCK_SIZE];
        let e = DirEntry {
            ino: 5,
            file_type: DT_REG,
            name: b"hello",
        };
        encode_dirent(&mut b, 14, Some(&e)).unwrap();
        assert_eq!(decode_dirent(&b, 14), Ok(Some(e)));
        assert_eq!(decode_dirent(&b, 0), Ok(None));
        assert!(dirent_is_free(&b, 0));
        assert!(!dirent_is_free(&b, 14));
        assert!(!dirent_is_free(&b, 15));
        assert_eq!(decode_dirent(&b, 15), Err(RecordError::SlotOutOfRange));
        assert!(check_dir_block_tail(&b).is_ok());
        let long = [b'x'; 255];
        let e = DirEntry {
            ino: 5,
            file_type: DT_DIR,
            name: &long,
        };
        encode_dirent(&mut b, 0, Some(&e)).unwrap();
        assert_eq!(decode_dirent(&b, 0), Ok(Some(e)));
        encode_dirent(&mut b, 0, None).unwrap();
        assert_eq!(decode_dirent(&b, 0), Ok(None));

        for name in [&b""[..], b".", b"..", b"a/b", b"a\0"] {
            let e = DirEntry {
                ino: 5,
                file_type: DT_REG,
                name,
            };
            assert!(encode_dirent(&mut b, 1, Some(&e)).is_err());
        }
        let e = DirEntry {
            ino: 5,
            file_type: 3,
            name: b"x",
        };
        assert_eq!(
            encode_dirent(&mut b, 1, Some(&e)),
            Err(RecordError::BadFileType)
        );

        let mut raw = b;
        raw[DIRENT_SIZE + 8] = b'a';
        assert_eq!(decode_dirent(&raw, 1), Err(RecordError::FreeEntryNotZero));
        let mut raw = b;
        encode_dirent(
            &mut raw,
            1,
            Some(&DirEntry {
                ino: 5,
                file_type: DT_REG,
                name: b"ab",
            }),
        )
        .unwrap();
        raw[DIRENT_SIZE + 8 + 1] = b'/';
        assert_eq!(decode_dirent(&raw, 1), Err(RecordError::BadName));
        raw[DIRENT_SIZE + 8 + 1] = b'b';
        raw[DIRENT_SIZE + 8 + 2] = b'c';
        assert_eq!(decode_dirent(&raw, 1), Err(RecordError::BadName));
        raw[DIRENT_SIZE + 8 + 2] = 0;
        raw[DIRENT_SIZE + 4] = 0;
        assert_eq!(decode_dirent(&raw, 1), Err(RecordError::BadNameLength));
        raw[DIRENT_SIZE + 4] = 2;
        raw[DIRENT_SIZE + 5] = 0;
        assert_eq!(decode_dirent(&raw, 1), Err(RecordError::BadFileType));
        let mut raw = b;
        raw[4000] = 1;
        assert_eq!(
            check_dir_block_tail(&raw),
            Err(RecordError::DirBlockTailNotZero)
        );
    }
}
