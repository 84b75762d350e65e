// SPDX-License-Identifier: GPL-2.0

//! CRC-32C (Castagnoli), the checksum of every delafs metadata block and
//! inode: reflected polynomial `0x82F6_3B78`, initial value `!0`, final
//! xor `!0` (the same CRC as iSCSI, ext4 and btrfs use).
//!
//! A byte-at-a-time table, built at compile time: metadata is checksummed a
//! block at a time, so speed matters little and the table stays 1 KiB.

/// The reflected Castagnoli polynomial.
const POLY: u32 = 0x82F6_3B78;

/// `TABLE[b]` is the CRC register after shifting byte `b` through it.
const TABLE: [u32; 256] = make_table();

const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// Continues a CRC-32C over `data`. Start from `0` and chain calls to
/// checksum data that is not contiguous: `update(update(0, a), b)` equals
/// `crc32c(a ++ b)`.
pub fn update(crc: u32, data: &[u8]) -> u32 {
    let mut reg = !crc;
    for &byte in data {
        reg = TABLE[((reg ^ u32::from(byte)) & 0xff) as usize] ^ (reg >> 8);
    }
    !reg
}

/// The CRC-32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    update(0, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn empty_and_zeros() {
        assert_eq!(crc32c(b""), 0);
        // RFC 3720, B.4: 32 bytes of zeros and of ones.
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
    }

    #[test]
    fn chained() {
        let data = b"delafs: a delayed allocation filesystem";
        for split in 0..data.len() {
            let (a, b) = data.split_at(split);
            assert_eq!(update(update(0, a), b), crc32c(data));
        }
    }
}
