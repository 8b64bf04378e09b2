//! Benchmarks for fusebox live in `benches/`; this library holds what they share.
//!
//! The *floor* is what a perfect closed call with one shared read-modify-write costs: one
//! `AtomicU8` load and one `AtomicU64::fetch_add`. Every group measures it in the same run, so
//! ratios are comparable across noisy machines.
//!
//! ```
//! let floor = fusebox_benches::Floor::default();
//! assert!(floor.call());
//! ```

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// One state byte and one counter, as a breaker with nothing else to do would have.
#[derive(Debug, Default)]
pub struct Floor {
    state: AtomicU8,
    calls: AtomicU64,
}

impl Floor {
    /// One load of the state; if closed, one `fetch_add`. Returns whether it was "admitted".
    ///
    /// ```
    /// assert!(fusebox_benches::Floor::default().call());
    /// ```
    #[inline]
    pub fn call(&self) -> bool {
        if self.state.load(Ordering::Acquire) == 0 {
            self.calls.fetch_add(1, Ordering::Relaxed);
            true
        } else {
            false
        }
    }

    /// The floor of a rejection: the state load alone, with the state "open".
    ///
    /// ```
    /// let f = fusebox_benches::Floor::default();
    /// f.open();
    /// assert!(!f.call());
    /// ```
    pub fn open(&self) {
        self.state.store(1, Ordering::Release);
    }
}
