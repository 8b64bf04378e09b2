//! The retry budget: retries may add at most a share of the first attempts made over the last
//! 10 seconds, plus a floor of 10 retries per second of that window (the budget Finagle's
//! `RetryBudget` and tower's `TpsBudget` keep). It is per breaker, on the breaker's clock.
//!
//! # Synchronization
//!
//! Ten one-second buckets of first attempts and ten of retries, each one `AtomicU64` holding
//! the second it counts (its low 24 bits) and the count: a bucket whose second has passed is
//! restarted by the compare-exchange that counts into it. Every access is `Relaxed`: the
//! budget is a rate bound, not part of any protocol, and concurrent retries may each see the
//! same last unit of balance (overdrawing by at most the number of racing retries).

use std::sync::atomic::{AtomicU64, Ordering};

/// Seconds the budget looks back over.
const WINDOW_SECONDS: u64 = 10;

/// Retries allowed per second of the window whatever the first attempts were.
const FLOOR_PER_SECOND: u64 = 10;

const TAG_BITS: u32 = 24;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;

/// One bucket per second of the window, for first attempts and for retries.
#[derive(Default)]
pub(crate) struct RetryBudget {
    first_attempts: [AtomicU64; WINDOW_SECONDS as usize],
    retries: [AtomicU64; WINDOW_SECONDS as usize],
}

impl RetryBudget {
    /// Counts a first attempt at `now` (clock ns).
    pub(crate) fn deposit(&self, now: u64) {
        count(&self.first_attempts, now);
    }

    /// Takes one retry from the budget at `now` if `share` of the window's first attempts,
    /// plus the floor, is more than the retries already made; false if the budget is spent.
    pub(crate) fn withdraw(&self, now: u64, share: f64) -> bool {
        let firsts = sum(&self.first_attempts, now);
        let retries = sum(&self.retries, now);
        let allowed =
            (firsts as f64 * share.clamp(0.0, 1.0)) as u64 + FLOOR_PER_SECOND * WINDOW_SECONDS;
        if retries >= allowed {
            return false;
        }
        count(&self.retries, now);
        true
    }
}

fn second(now: u64) -> u64 {
    now / 1_000_000_000
}

/// Adds one to the bucket of `now`'s second, restarting it if it counted an older second.
fn count(buckets: &[AtomicU64; WINDOW_SECONDS as usize], now: u64) {
    let sec = second(now);
    let bucket = &buckets[(sec % WINDOW_SECONDS) as usize];
    let tag = sec & TAG_MASK;
    // Relaxed: see the module's notes.
    let mut word = bucket.load(Ordering::Relaxed);
    loop {
        let next = if word & TAG_MASK == tag {
            word.saturating_add(1 << TAG_BITS)
        } else {
            tag | (1 << TAG_BITS)
        };
        match bucket.compare_exchange_weak(word, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => word = actual,
        }
    }
}

/// The counts of the buckets of the last `WINDOW_SECONDS` seconds up to `now`'s.
fn sum(buckets: &[AtomicU64; WINDOW_SECONDS as usize], now: u64) -> u64 {
    let sec = second(now);
    buckets
        .iter()
        .map(|b| b.load(Ordering::Relaxed))
        .filter(|w| (sec.wrapping_sub(w & TAG_MASK) & TAG_MASK) < WINDOW_SECONDS)
        .map(|w| w >> TAG_BITS)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn with_no_first_attempts_the_floor_allows_ten_per_second_of_the_window() {
        let b = RetryBudget::default();
        let allowed = (0..1000).filter(|_| b.withdraw(SEC, 0.2)).count();
        assert_eq!(allowed, 100);
    }

    #[test]
    fn a_share_of_the_first_attempts_adds_to_the_floor() {
        let b = RetryBudget::default();
        for _ in 0..1000 {
            b.deposit(5 * SEC);
        }
        let allowed = (0..1000).filter(|_| b.withdraw(5 * SEC, 0.2)).count();
        assert_eq!(allowed, 100 + 200);
    }

    #[test]
    fn counts_older_than_the_window_no_longer_count() {
        let b = RetryBudget::default();
        assert_eq!((0..1000).filter(|_| b.withdraw(0, 0.0)).count(), 100);
        // Nine seconds later the spent floor still counts; ten seconds later it does not.
        assert!(!b.withdraw(9 * SEC, 0.0));
        assert!(b.withdraw(10 * SEC, 0.0));
    }
}
