//! The rate limit's GCRA word: concurrent admissions take tokens in one total order, each
//! exactly once, and a rejection says exactly when the next call would be admitted.
#![cfg(loom)]

use std::time::Duration;

use fusebox_engine::{Breaker, ManualClock, Policy, RateLimit, RejectReason};
use loom::thread;
use loom_tests::check;

/// A breaker allowing `burst` calls at once, then one per second.
fn limited(burst: u32) -> Breaker {
    let policy = Policy::builder()
        .rate_limit(RateLimit::new(1, Duration::from_secs(1), burst))
        .build()
        .expect("valid policy");
    Breaker::with_clock("limited", policy, ManualClock::new())
}

/// Whether one call at the clock's current time was admitted; a rejection must be the rate
/// limit's, due at `due`.
fn admitted(breaker: &Breaker, due: Duration) -> bool {
    match breaker.try_acquire() {
        Ok(permit) => {
            permit.success();
            true
        }
        Err(rejected) => {
            assert_eq!(rejected.reason(), RejectReason::RateLimited);
            assert_eq!(rejected.retry_after(), Some(due));
            false
        }
    }
}

#[test]
fn two_callers_share_a_rate_limit_without_losing_a_token() {
    check(|| {
        let breaker = limited(1);
        let other = breaker.clone();
        let t = thread::spawn(move || admitted(&other, Duration::from_secs(1)));
        let here = admitted(&breaker, Duration::from_secs(1));
        let there = t.join().unwrap();
        assert!(here ^ there, "exactly one of two calls at once is admitted");
        assert_eq!(breaker.metrics().rejected_by(RejectReason::RateLimited), 1);
    });
}

#[test]
fn a_burst_of_two_admits_both_callers_and_then_none() {
    check(|| {
        let breaker = limited(2);
        let other = breaker.clone();
        let t = thread::spawn(move || admitted(&other, Duration::from_secs(1)));
        assert!(admitted(&breaker, Duration::from_secs(1)));
        assert!(t.join().unwrap());
        assert!(!admitted(&breaker, Duration::from_secs(1)));
    });
}
