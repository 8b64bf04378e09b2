//! The rate limit: the generic cell rate algorithm (GCRA) in one atomic word, on the breaker's
//! own clock. A call uses up one emission interval `T = per / rate`; up to `burst` calls may
//! go at once. The word holds the theoretical arrival time (TAT): a call at `now` is admitted
//! if `max(TAT, now) - now <= T · (burst - 1)`, and moves the TAT to `max(TAT, now) + T`;
//! otherwise it is rejected with the exact time the next call would be admitted,
//! `max(TAT, now) - T · (burst - 1)`.
//!
//! # Synchronization
//!
//! `Busy::rate_tat` is changed only by a `compare_exchange` from the value the admission
//! read: concurrent admissions take tokens in one total order, each exactly once (see the
//! loom model `two_callers_share_a_rate_limit_without_losing_a_token`). `Relaxed`: the word
//! publishes nothing; it only counts. A policy swap that changes the limit stores 0 under
//! `config_lock` (a new limit starts with its whole burst).

use super::inner::Inner;
use crate::sync::Ordering;

/// One GCRA step: the new TAT if a call at `now` is admitted, else when it would be.
#[inline]
pub(super) fn gcra(tat: u64, now: u64, interval: u64, tolerance: u64) -> Result<u64, u64> {
    let base = tat.max(now);
    if base - now > tolerance {
        Err(base - tolerance)
    } else {
        Ok(base.saturating_add(interval))
    }
}

impl Inner {
    /// Takes one call's worth of the rate limit at `now`; `Err` with the clock time at which
    /// the next call would be admitted.
    #[inline]
    pub(super) fn take_rate_token(&self, now: u64) -> Result<(), u64> {
        let (interval, burst) = self.hot.config.rate_limit();
        let tolerance = interval.saturating_mul(u64::from(burst.saturating_sub(1)));
        let tat = &self.busy.rate_tat;
        // Relaxed: see the module's notes.
        let mut current = tat.load(Ordering::Relaxed);
        loop {
            let next = gcra(current, now, interval, tolerance)?;
            match tat.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Ok(()),
                Err(actual) => current = actual,
            }
        }
    }

    /// A policy swap changed the rate limit: the new one starts with its whole burst. Called
    /// under `config_lock`.
    pub(super) fn restart_rate_limit(&self) {
        // Relaxed: see the module's notes.
        self.busy.rate_tat.store(0, Ordering::Relaxed);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::gcra;

    const T: u64 = 100;

    #[test]
    fn a_burst_of_one_spaces_calls_by_the_interval() {
        let tat = gcra(0, 0, T, 0).unwrap();
        assert_eq!(gcra(tat, 0, T, 0), Err(T));
        assert_eq!(gcra(tat, 99, T, 0), Err(T));
        assert_eq!(gcra(tat, 100, T, 0), Ok(200));
    }

    #[test]
    fn a_burst_goes_at_once_and_then_one_per_interval() {
        let mut tat = 0;
        for _ in 0..3 {
            tat = gcra(tat, 1_000, T, 2 * T).unwrap();
        }
        assert_eq!(gcra(tat, 1_000, T, 2 * T), Err(1_100));
        assert!(gcra(tat, 1_100, T, 2 * T).is_ok());
    }

    #[test]
    fn an_idle_limit_refills_but_never_past_its_burst() {
        let tat = gcra(0, 0, T, T).unwrap();
        // Long idle: the TAT is far behind `now`, and only `burst` calls go at once.
        let tat = gcra(tat, 1_000_000, T, T).unwrap();
        let tat = gcra(tat, 1_000_000, T, T).unwrap();
        assert_eq!(gcra(tat, 1_000_000, T, T), Err(1_000_100));
    }

    #[test]
    fn extreme_values_saturate() {
        assert_eq!(
            gcra(u64::MAX - 1, u64::MAX - 1, u64::MAX, u64::MAX),
            Ok(u64::MAX)
        );
        assert!(gcra(u64::MAX, 0, 1, 0).is_err());
    }
}
