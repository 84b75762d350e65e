// SPDX-License-Identifier: GPL-2.0

//! Real kernel warnings from Rust.
//!
//! [`warn_once!`] emits by hand what C's `__WARN_FLAGS()` emits on x86-64
//! with `CONFIG_GENERIC_BUG_RELATIVE_POINTERS` and `CONFIG_DEBUG_BUGVERBOSE`:
//! a `ud2` and a `struct bug_entry` in `__bug_table`. The layout and the flag
//! values it assumes are checked here against `bindings` at build time, and
//! other architectures (whose trap and entry differ) do not build.

#[cfg(not(target_arch = "x86_64"))]
compile_error!("vfs::bug::warn_once! emits an x86-64 `ud2` and `struct bug_entry`");

use core::mem::{offset_of, size_of};

use kernel::bindings;

/// `BUGFLAG_TAINT(taint)` of asm-generic/bug.h, a macro bindgen cannot see.
const fn bugflag_taint(taint: u32) -> u32 {
    taint << 8
}

/// The flags of `WARN_ON_ONCE()`: warning, once, taint `TAINT_WARN`.
pub(crate) const WARN_ONCE_FLAGS: u16 = {
    let flags =
        bindings::BUGFLAG_WARNING | bindings::BUGFLAG_ONCE | bugflag_taint(bindings::TAINT_WARN);
    assert!(flags <= u16::MAX as u32);
    flags as u16
};

/// Size of the entry [`warn_once!`] emits.
pub(crate) const BUG_ENTRY_SIZE: usize = 12;

// The entry `warn_once!` writes: `.long` bug address and `.long` file, both
// relative to the entry, `.word` line, `.word` flags, 12 bytes in all.
const _: () = {
    assert!(size_of::<bindings::bug_entry>() == BUG_ENTRY_SIZE);
    assert!(offset_of!(bindings::bug_entry, bug_addr_disp) == 0);
    assert!(size_of::<kernel::ffi::c_int>() == 4);
    assert!(offset_of!(bindings::bug_entry, file_disp) == 4);
    assert!(offset_of!(bindings::bug_entry, line) == 8);
    assert!(size_of::<kernel::ffi::c_ushort>() == 2);
    assert!(offset_of!(bindings::bug_entry, flags) == 10);
    // The values C's WARN_ON_ONCE() uses (0x903), so the bug handler treats
    // the site as it would treat C's.
    assert!(WARN_ONCE_FLAGS == 0x903);
};

/// `WARN_ON_ONCE(true)` at the call site: a `ud2` with a `__bug_table` entry.
/// The trap handler prints `WARNING: CPU: N PID: N at <file>:<line>
/// <function>`, the registers and the call trace, taints the kernel, honours
/// `panic_on_warn`, and resumes after the `ud2`; the entry's once flag
/// silences later hits of the same site.
macro_rules! warn_once {
    () => {{
        const FILE_NUL: &str = concat!(file!(), "\0");
        static FILE: [u8; FILE_NUL.len()] = {
            let src = FILE_NUL.as_bytes();
            let mut out = [0u8; FILE_NUL.len()];
            let mut i = 0;
            while i < src.len() {
                out[i] = src[i];
                i += 1;
            }
            out
        };
        // SAFETY: `ud2` traps into the kernel's bug handler, which finds the
        // `__bug_table` entry emitted next to it (module bug tables are
        // registered at load), reports the warning and resumes after the
        // instruction: no register or memory the compiler knows of changes.
        // The entry's layout and flags are checked against `struct
        // bug_entry` in `vfs::bug`. The `.discard.reachable` note on the
        // next instruction tells objtool that execution continues there.
        //
        // Expanded in `rust/fs`, which denies `unsafe_code`: this block is
        // the one the layering allows there.
        #[expect(unsafe_code)]
        let () = unsafe {
            core::arch::asm!(
                "2: ud2",
                ".pushsection __bug_table,\"aw\"",
                "3: .long 2b - .",
                ".long {file} - .",
                ".word {line}",
                ".word {flags}",
                ".org 3b + {size}",
                ".popsection",
                "4:",
                ".pushsection .discard.reachable",
                ".long 4b",
                ".popsection",
                file = sym FILE,
                line = const line!(),
                flags = const $crate::vfs::bug::WARN_ONCE_FLAGS,
                size = const $crate::vfs::bug::BUG_ENTRY_SIZE,
                options(nostack)
            );
        };
    }};
}

pub(crate) use warn_once;
