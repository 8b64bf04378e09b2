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
use std::time::Duration;

use fusebox::{CallError, Policy, PolicyBuilder, Window};

/// One state byte and one counter, as a breaker with nothing else to do would have.
#[derive(Debug, Default)]
pub struct Floor {
    state: AtomicU8,
    calls: AtomicU64,
    rejected: AtomicU64,
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

    /// The floor of a rejection that is counted exactly on its own thread: the state load, and
    /// if "open", a plain load and store adding one to a heap word. Each call's store feeds the
    /// next call's load, the dependency every exact per-call count carries from call to call.
    /// Returns whether the call was "admitted".
    ///
    /// ```
    /// let f = fusebox_benches::Floor::default();
    /// f.open();
    /// assert!(!f.counted_call());
    /// assert!(!f.counted_call());
    /// assert_eq!(f.rejected(), 2);
    /// ```
    #[inline]
    pub fn counted_call(&self) -> bool {
        if self.state.load(Ordering::Acquire) == 0 {
            self.calls.fetch_add(1, Ordering::Relaxed);
            true
        } else {
            // Relaxed load and store: one thread counts, as on a breaker's per-thread lane.
            let n = self.rejected.load(Ordering::Relaxed);
            self.rejected.store(n + 1, Ordering::Relaxed);
            false
        }
    }

    /// The rejections [`counted_call`](Self::counted_call) has counted.
    ///
    /// ```
    /// assert_eq!(fusebox_benches::Floor::default().rejected(), 0);
    /// ```
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
}

/// Length of [`random_failures`]'s pattern: a power of two, so the index is a mask.
pub const PATTERN_LEN: usize = 4096;

/// `PATTERN_LEN` outcomes, `true` for a failure, each failing with probability `p`, drawn
/// once before measuring (xorshift64*, fixed seed) so no RNG runs inside the timed loop.
///
/// ```
/// let pattern = fusebox_benches::random_failures(0.1);
/// let failures = pattern.iter().filter(|&&f| f).count();
/// assert!((300..520).contains(&failures), "about 10 % of 4096: {failures}");
/// ```
pub fn random_failures(p: f64) -> Vec<bool> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..PATTERN_LEN)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
            (r as f64 / (1u64 << 53) as f64) < p
        })
        .collect()
}

/// The reference configuration every benchmark measures fusebox with unless it says
/// otherwise: the last 100 calls, open at 50 % failures once 100 calls are in, and an open
/// period far longer than any run.
///
/// ```
/// let p = fusebox_benches::reference_builder().max_concurrent(8).build().unwrap();
/// assert_eq!(p.min_calls(), 100);
/// ```
pub fn reference_builder() -> PolicyBuilder {
    Policy::builder()
        .window(Window::count(100))
        .failure_rate_threshold(0.5)
        .min_calls(100)
        .open_timeout(Duration::from_secs(3600))
}

/// [`reference_builder`], built.
///
/// ```
/// assert_eq!(fusebox_benches::reference_policy().failure_rate_threshold(), 0.5);
/// ```
pub fn reference_policy() -> Policy {
    reference_builder().build().expect("valid policy")
}

/// What a caller does with fusebox's result: a `match` on every case, as every bench file
/// consumes it.
///
/// ```
/// use fusebox::CallError;
/// assert_eq!(fusebox_benches::consume(Err(CallError::Failed(()))), 3);
/// ```
#[inline(always)]
pub fn consume(r: Result<u32, CallError<()>>) -> u32 {
    match r {
        Ok(v) => v,
        Err(CallError::Rejected(_)) => 2,
        Err(CallError::Failed(())) => 3,
    }
}
