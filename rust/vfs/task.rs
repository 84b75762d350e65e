// SPDX-License-Identifier: GPL-2.0

//! State and services of the current task: no-fs allocation sections,
//! sleeping, rescheduling, and rate-limited messages.

use core::marker::PhantomData;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

use kernel::bindings;

/// A section in which memory allocations do not recurse into filesystems
/// (`memalloc_nofs_save()`): filesystem locks may be held, and reclaim may
/// need them.
///
/// # Invariants
///
/// `flags` came from `memalloc_nofs_save()` on the current task, which is
/// the task that drops it (`!Send`).
#[must_use = "the no-fs section ends when this is dropped"]
pub(crate) struct NoFs {
    flags: u32,
    /// The state is the current task's (`current->flags`).
    _not_send: PhantomData<*mut ()>,
}

impl NoFs {
    pub(crate) fn new() -> Self {
        // SAFETY: `memalloc_nofs_save()` only sets a flag of the current
        // task; it may be called in any context.
        let flags = unsafe { bindings::memalloc_nofs_save() };
        // INVARIANT: saved on this task; `Self` cannot leave it.
        Self {
            flags,
            _not_send: PhantomData,
        }
    }
}

impl Drop for NoFs {
    fn drop(&mut self) {
        // SAFETY: by the type invariant `flags` came from the matching save
        // on this task. Sections nest (guards drop in reverse order of
        // creation), which is the LIFO order `memalloc_nofs_restore()` needs.
        unsafe { bindings::memalloc_nofs_restore(self.flags) };
    }
}

/// Sleeps for `us` microseconds (`fsleep()`: never busy-waits for long).
#[cfg_attr(delafs_no_delay_hook, expect(dead_code))]
pub(crate) fn sleep_us(us: u64) {
    // SAFETY: `fsleep()` may sleep; every caller runs in process context
    // (the release loop, under sleeping locks only).
    unsafe { bindings::fsleep(us as _) };
}

/// Lets other tasks run during a long loop.
pub(crate) fn cond_resched() {
    // SAFETY: `cond_resched()` may sleep; its one caller (the mount-time
    // inode scan) runs in process context holding no spinlock.
    unsafe { bindings::cond_resched() };
}

/// A rate limit for kernel messages a user can trigger again and again (a
/// corrupt image walked by `find`): at most `BURST` messages a window of
/// `WINDOW_NS`, then one line counting what was left out. Like the C
/// `printk_ratelimited()`, whose state cannot be declared from Rust.
pub(crate) struct RateLimit {
    window_start: AtomicU64,
    printed: AtomicU32,
    suppressed: AtomicU32,
}

impl RateLimit {
    const BURST: u32 = 10;
    const WINDOW_NS: u64 = 5_000_000_000;

    pub(crate) const fn new() -> Self {
        Self {
            window_start: AtomicU64::new(0),
            printed: AtomicU32::new(0),
            suppressed: AtomicU32::new(0),
        }
    }

    /// Whether a message may be printed now; on the first message of a new
    /// window, `Some(n)` messages were suppressed in the last one.
    pub(crate) fn allow(&self) -> (bool, u32) {
        // SAFETY: `ktime_get()` reads the monotonic clock; it may be called
        // from any context.
        let now = u64::try_from(unsafe { bindings::ktime_get() }).unwrap_or(0);
        let start = self.window_start.load(Relaxed);
        if now.saturating_sub(start) >= Self::WINDOW_NS
            && self
                .window_start
                .compare_exchange(start, now, Relaxed, Relaxed)
                .is_ok()
        {
            self.printed.store(0, Relaxed);
            let missed = self.suppressed.swap(0, Relaxed);
            self.printed.fetch_add(1, Relaxed);
            return (true, missed);
        }
        if self.printed.fetch_add(1, Relaxed) < Self::BURST {
            return (true, 0);
        }
        self.suppressed.fetch_add(1, Relaxed);
        (false, 0)
    }
}
