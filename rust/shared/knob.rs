// SPDX-License-Identifier: GPL-2.0

//! Parsing what users write to the debugfs knobs. Strict on purpose: a write
//! is either exactly a valid value (with at most one trailing newline, as
//! `echo` adds) or refused, and a refused write changes nothing.

use super::release::Mode;

/// Why a knob refused a write; the kernel answers `-EINVAL`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum KnobError {
    /// Nothing but (at most) a newline.
    Empty,
    /// Not a plain decimal number, or an unknown word.
    Invalid,
    /// A number above the knob's maximum.
    TooLarge,
}

fn strip_newline(input: &[u8]) -> &[u8] {
    input.strip_suffix(b"\n").unwrap_or(input)
}

/// A decimal number in `0..=max`: digits only (no sign, no spaces, no `0x`).
pub fn parse_u32(input: &[u8], max: u32) -> Result<u32, KnobError> {
    let digits = strip_newline(input);
    if digits.is_empty() {
        return Err(KnobError::Empty);
    }
    let mut value: u32 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(KnobError::Invalid);
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u32::from(d - b'0')))
            .ok_or(KnobError::TooLarge)?;
    }
    if value > max {
        return Err(KnobError::TooLarge);
    }
    Ok(value)
}

/// `fixed` or `legacy`.
pub fn parse_mode(input: &[u8]) -> Result<Mode, KnobError> {
    match strip_newline(input) {
        b"" => Err(KnobError::Empty),
        b"fixed" => Ok(Mode::Fixed),
        b"legacy" => Ok(Mode::Legacy),
        _ => Err(KnobError::Invalid),
    }
}

/// The word [`parse_mode`] accepts for `mode`.
pub fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Fixed => "fixed",
        Mode::Legacy => "legacy",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_u32(b"0", 10), Ok(0));
        assert_eq!(parse_u32(b"10\n", 10), Ok(10));
        assert_eq!(parse_u32(b"007", 10), Ok(7));
        assert_eq!(parse_u32(b"11", 10), Err(KnobError::TooLarge));
        assert_eq!(
            parse_u32(b"99999999999999999999", u32::MAX),
            Err(KnobError::TooLarge)
        );
        assert_eq!(parse_u32(b"4294967295", u32::MAX), Ok(u32::MAX));
        for bad in [
            &b"-1"[..],
            b"+1",
            b" 1",
            b"1 ",
            b"1\n\n",
            b"0x10",
            b"1.5",
            b"abc",
            b"1\0",
        ] {
            assert_eq!(parse_u32(bad, 100), Err(KnobError::Invalid), "{bad:?}");
        }
        assert_eq!(parse_u32(b"", 1), Err(KnobError::Empty));
        assert_eq!(parse_u32(b"\n", 1), Err(KnobError::Empty));
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode(b"fixed\n"), Ok(Mode::Fixed));
        assert_eq!(parse_mode(b"legacy"), Ok(Mode::Legacy));
        for bad in [&b"Fixed"[..], b"legacy ", b"fix", b"legacy\n\n", b"1"] {
            assert_eq!(parse_mode(bad), Err(KnobError::Invalid), "{bad:?}");
        }
        assert_eq!(parse_mode(b"\n"), Err(KnobError::Empty));
        for mode in [Mode::Fixed, Mode::Legacy] {
            assert_eq!(parse_mode(mode_name(mode).as_bytes()), Ok(mode));
        }
    }
}
