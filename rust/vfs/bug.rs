// SPDX-License-Identifier: GPL-2.0

//! Real kernel warnings from Rust.

/// `WARN_ON_ONCE(true)` at the call site: a `ud2` with a `__bug_table` entry,
/// exactly what C's `__WARN_FLAGS()` emits on x86-64 with
/// CONFIG_DEBUG_BUGVERBOSE. The trap handler prints `WARNING: CPU: N PID: N
/// at <file>:<line> <function>`, the registers and the call trace, taints
/// the kernel, honours `panic_on_warn`, and resumes after the `ud2`; the
/// entry's once flag silences later hits of the same site.
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
        // instruction. The entry's layout is `struct bug_entry` with relative
        // pointers: bug address, file, line, flags (12 bytes). The
        // `.discard.reachable` note on the next instruction tells objtool
        // that execution continues there.
        unsafe {
            core::arch::asm!(
                "2: ud2",
                ".pushsection __bug_table,\"aw\"",
                "3: .long 2b - .",
                ".long {file} - .",
                ".word {line}",
                ".word {flags}",
                ".org 3b + 12",
                ".popsection",
                "4:",
                ".pushsection .discard.reachable",
                ".long 4b",
                ".popsection",
                file = sym FILE,
                line = const line!(),
                // BUGFLAG_WARNING | BUGFLAG_ONCE | BUGFLAG_TAINT(TAINT_WARN)
                flags = const 0x903,
                options(nostack)
            );
        }
    }};
}

pub(crate) use warn_once;
