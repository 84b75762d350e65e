// SPDX-License-Identifier: GPL-2.0

//! Byte access for the encoders and decoders of every structure: fields at
//! offsets that are constants or bounded by a validated index, records,
//! checksums. Out-of-range access cannot happen; it reads 0 and writes
//! nothing rather than panicking.

use super::super::crc32c::crc32c;

/// The offset of record `index` of `size` bytes from `base`; `usize::MAX`
/// (which [`sub`] refuses) if that overflows.
pub(super) fn record_at(base: usize, index: usize, size: usize) -> usize {
    index
        .checked_mul(size)
        .and_then(|o| o.checked_add(base))
        .unwrap_or(usize::MAX)
}

pub(super) fn sub<const N: usize>(bytes: &[u8], off: usize) -> Option<&[u8; N]> {
    bytes.get(off..off.checked_add(N)?)?.try_into().ok()
}

pub(super) fn sub_mut<const N: usize>(bytes: &mut [u8], off: usize) -> Option<&mut [u8; N]> {
    bytes.get_mut(off..off.checked_add(N)?)?.try_into().ok()
}

pub(super) fn get_u8(b: &[u8], off: usize) -> u8 {
    b.get(off).copied().unwrap_or(0)
}

pub(super) fn get_u16(b: &[u8], off: usize) -> u16 {
    sub(b, off).map_or(0, |a| u16::from_le_bytes(*a))
}

pub(super) fn get_u32(b: &[u8], off: usize) -> u32 {
    sub(b, off).map_or(0, |a| u32::from_le_bytes(*a))
}

pub(super) fn get_u64(b: &[u8], off: usize) -> u64 {
    sub(b, off).map_or(0, |a| u64::from_le_bytes(*a))
}

pub(super) fn get_i64(b: &[u8], off: usize) -> i64 {
    sub(b, off).map_or(0, |a| i64::from_le_bytes(*a))
}

pub(super) fn put<const N: usize>(b: &mut [u8], off: usize, v: [u8; N]) {
    if let Some(dst) = sub_mut::<N>(b, off) {
        *dst = v;
    }
}

pub(super) fn is_zero(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}

/// `bytes[from..to]` is all zero (an empty or out-of-range span counts as
/// zero).
pub(super) fn zero_span(b: &[u8], from: usize, to: usize) -> bool {
    b.get(from..to).map_or(true, is_zero)
}

pub(super) fn csum_ok(b: &[u8], csum_off: usize) -> bool {
    b.get(..csum_off)
        .is_some_and(|data| crc32c(data) == get_u32(b, csum_off))
}

pub(super) fn set_csum(b: &mut [u8], csum_off: usize) {
    let sum = b.get(..csum_off).map_or(0, crc32c);
    put(b, csum_off, sum.to_le_bytes());
}
