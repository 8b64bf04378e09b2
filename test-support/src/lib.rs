//! What the workspace's tests share: a counting global allocator, and (feature `browser`) a
//! headless Chromium driven over WebDriver ([`browser`]).
//!
//! [`Counting`] forwards every call to the system allocator unchanged. On a thread that has
//! switched counting on ([`counting`]), it also counts, in that thread's own counters, the bytes
//! allocated and not yet freed ([`live`]), their highest value since [`reset_peak`] ([`peak`])
//! and the allocations made ([`allocs`]). Counting per thread keeps out the test harness, which
//! allocates on its own threads, and lets the tests of one binary run in parallel.
//!
//! A test binary (or an example) installs it once:
//!
//! ```
//! use fusebox_test_support::{Counting, counting, live};
//!
//! #[global_allocator]
//! static GLOBAL: Counting = Counting;
//!
//! fn main() {
//!     counting(true);
//!     let before = live();
//!     let v = vec![0u8; 100];
//!     assert_eq!(live() - before, 100);
//!     drop(v);
//!     assert_eq!(live(), before);
//!     counting(false);
//! }
//! ```

#[cfg(feature = "browser")]
pub mod browser;
#[cfg(feature = "redis")]
pub mod redis_server;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// A global allocator that counts the bytes and allocations of the threads that ask for it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counting;

thread_local! {
    /// Whether this thread's allocations are counted.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    /// Bytes this thread allocated and has not freed, while counting.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    /// The highest `LIVE` since the last `reset_peak`.
    static PEAK: Cell<isize> = const { Cell::new(0) };
    /// Allocations this thread made while counting.
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn count(bytes: isize, allocs: u64) {
    // `try_with`: the allocator may run while the thread's locals are being torn down.
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = LIVE.try_with(|l| {
            let now = l.get() + bytes;
            l.set(now);
            let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
        });
        let _ = ALLOCS.try_with(|a| a.set(a.get() + allocs));
    }
}

// SAFETY: forwards every call to `System` unchanged; only counts the bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize, 1);
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize), 0);
        // SAFETY: `ptr` was allocated by `System` with `layout` (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Counted as the default `realloc` would be: the new block allocated while the old one
        // is still live (one allocation, and the peak sees both), then the old one freed.
        count(new_size as isize, 1);
        count(-(layout.size() as isize), 0);
        // SAFETY: the caller upholds `realloc`'s contract, which we pass on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Switches counting on or off for the current thread.
pub fn counting(on: bool) {
    COUNTING.with(|c| c.set(on));
}

/// Bytes the current thread allocated while counting and has not freed while counting.
pub fn live() -> isize {
    LIVE.with(Cell::get)
}

/// The highest [`live`] of the current thread since its last [`reset_peak`].
pub fn peak() -> isize {
    PEAK.with(Cell::get)
}

/// Starts the current thread's [`peak`] again from its [`live`] bytes.
pub fn reset_peak() {
    PEAK.with(|p| p.set(live()));
}

/// Allocations (reallocations included) the current thread made while counting.
pub fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}
