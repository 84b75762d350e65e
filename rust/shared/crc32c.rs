// SPDX-License-Identifier: GPL-2.0

//! CRC-32C (Castagnoli), the checksum of every delafs metadata block and
//! inode: reflected polynomial `0x82F6_3B78`, initial value `!0`, final
//! xor `!0` (the same CRC as iSCSI, ext4 and btrfs use).
//!
//! Slicing-by-8 (eight tables, built at compile time, 8 KiB): every lookup
//! of a name or an inode checks the CRC of a 4 KiB block or more, and under
//! the lab's TCG guests a byte-at-a-time loop over a block is a visible part
//! of a cold `stat`. The tables follow from the byte table: `TABLES[k][b]` is
//! the register after byte `b` and `k` zero bytes.

/// The reflected Castagnoli polynomial.
const POLY: u32 = 0x82F6_3B78;

/// `TABLES[0][b]` is the CRC register after shifting byte `b` through it;
/// `TABLES[k][b]` after `b` and then `k` zero bytes.
const TABLES: [[u32; 256]; 8] = make_tables();

const fn make_tables() -> [[u32; 256]; 8] {
    let mut tables = [[0u32; 256]; 8];
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
        tables[0][i] = crc;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = tables[k - 1][i];
            tables[k][i] = (prev >> 8) ^ tables[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    tables
}

/// The table entry for the low byte of `v` (always in range: `v & 0xff`).
#[inline(always)]
fn t(k: usize, v: u32) -> u32 {
    // `k` is a constant below 8 at every call site and `v & 0xff` < 256.
    TABLES
        .get(k)
        .and_then(|table| table.get((v & 0xff) as usize))
        .copied()
        .unwrap_or(0)
}

/// Continues a CRC-32C over `data`. Start from `0` and chain calls to
/// checksum data that is not contiguous: `update(update(0, a), b)` equals
/// `crc32c(a ++ b)`.
pub fn update(crc: u32, data: &[u8]) -> u32 {
    let mut reg = !crc;
    let mut words = data.chunks_exact(8);
    for word in &mut words {
        let Ok(w) = <[u8; 8]>::try_from(word) else {
            continue;
        };
        let lo = u32::from_le_bytes([w[0], w[1], w[2], w[3]]) ^ reg;
        let hi = u32::from_le_bytes([w[4], w[5], w[6], w[7]]);
        reg = t(7, lo)
            ^ t(6, lo >> 8)
            ^ t(5, lo >> 16)
            ^ t(4, lo >> 24)
            ^ t(3, hi)
            ^ t(2, hi >> 8)
            ^ t(1, hi >> 16)
            ^ t(0, hi >> 24);
    }
    for &byte in words.remainder() {
        reg = t(0, reg ^ u32::from(byte)) ^ (reg >> 8);
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

    /// The byte-at-a-time definition, to check the sliced loop against.
    fn bytewise(data: &[u8]) -> u32 {
        let mut reg = !0u32;
        for &byte in data {
            reg ^= u32::from(byte);
            for _ in 0..8 {
                reg = if reg & 1 != 0 {
                    (reg >> 1) ^ POLY
                } else {
                    reg >> 1
                };
            }
        }
        !reg
    }

    #[test]
    fn sliced_matches_bytewise() {
        let mut data = [0u8; 4096 + 13];
        let mut x = 0x1234_5678u32;
        for b in data.iter_mut() {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            *b = (x >> 24) as u8;
        }
        for len in (0..64).chain([4095, 4096, 4097, data.len()]) {
            for start in 0..8 {
                if let Some(part) = data.get(start..len.max(start)) {
                    assert_eq!(crc32c(part), bytewise(part), "start {start} len {len}");
                }
            }
        }
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
