//! The rate limit: GCRA on the breaker's own clock, as one more admission rule.

use std::time::Duration;

use fusebox_engine::{Breaker, ManualClock, Policy, PolicyBuilder, RateLimit, RejectReason, State};

fn breaker(policy: PolicyBuilder) -> (Breaker, ManualClock) {
    let clock = ManualClock::new();
    (
        Breaker::with_clock("limited", policy.build().unwrap(), clock.clone()),
        clock,
    )
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn a_burst_goes_at_once_then_one_call_per_interval_with_the_exact_retry_after() {
    let (b, clock) =
        breaker(Policy::builder().rate_limit(RateLimit::new(10, Duration::from_secs(1), 5)));
    for _ in 0..5 {
        b.try_acquire().unwrap().success();
    }
    let r = b.try_acquire().unwrap_err();
    assert_eq!(r.reason(), RejectReason::RateLimited);
    assert_eq!(r.state(), State::Closed);
    assert_eq!(r.retry_after(), Some(ms(100)));
    clock.advance(ms(60));
    assert_eq!(
        r.retry_after(),
        Some(ms(40)),
        "a countdown on the breaker's clock"
    );
    assert_eq!(b.try_acquire().unwrap_err().retry_after(), Some(ms(40)));
    clock.advance(ms(40));
    b.try_acquire().unwrap().success();
    assert!(b.try_acquire().is_err());
    let m = b.metrics();
    assert_eq!(
        m.window_calls, 6,
        "rate-limited calls are not in the window"
    );
    assert_eq!(m.rejected_by(RejectReason::RateLimited), 3);
    assert!(
        r.to_string()
            .starts_with("breaker limited rejected the call: rate limited")
    );
}

#[test]
fn over_a_long_run_the_rate_is_the_limit() {
    let (b, clock) =
        breaker(Policy::builder().rate_limit(RateLimit::new(100, Duration::from_secs(1), 1)));
    let mut admitted = 0;
    // 10 000 attempts spread over 10 s: 1 000 admitted (one per 10 ms), plus the first.
    for _ in 0..10_000 {
        if let Ok(p) = b.try_acquire() {
            p.success();
            admitted += 1;
        }
        clock.advance(ms(1));
    }
    assert_eq!(admitted, 1_000);
}

#[test]
fn a_rate_limited_probe_and_bulkhead_slot_are_given_back() {
    let (b, clock) = breaker(
        Policy::builder()
            .min_calls(1)
            .open_timeout(Duration::from_secs(1))
            .half_open_permits(1)
            .success_threshold(1)
            .max_concurrent(1)
            .rate_limit(RateLimit::new(1, Duration::from_secs(10), 1)),
    );
    b.try_acquire().unwrap().failure();
    assert_eq!(b.state(), State::Open);
    clock.advance(Duration::from_secs(1));
    // The token was spent 1 s ago: the probe is rate limited, and its slots are free again.
    let r = b.try_acquire().unwrap_err();
    assert_eq!(r.reason(), RejectReason::RateLimited);
    assert_eq!(r.retry_after(), Some(Duration::from_secs(9)));
    clock.advance(Duration::from_secs(9));
    b.try_acquire()
        .expect("probe slot and bulkhead slot were given back")
        .success();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn a_swap_to_another_limit_starts_it_with_its_whole_burst_and_none_lifts_it() {
    let (b, _clock) =
        breaker(Policy::builder().rate_limit(RateLimit::new(1, Duration::from_secs(60), 1)));
    b.try_acquire().unwrap().success();
    assert!(b.try_acquire().is_err());
    b.set_policy(
        Policy::builder()
            .rate_limit(RateLimit::new(1, Duration::from_secs(60), 3))
            .build()
            .unwrap(),
    );
    for _ in 0..3 {
        b.try_acquire().unwrap().success();
    }
    assert!(b.try_acquire().is_err());
    b.set_policy(Policy::default());
    for _ in 0..100 {
        b.try_acquire().unwrap().success();
    }
}

#[test]
fn a_disabled_breaker_is_not_rate_limited() {
    let (b, _clock) =
        breaker(Policy::builder().rate_limit(RateLimit::new(1, Duration::from_secs(60), 1)));
    b.disable();
    for _ in 0..10 {
        b.try_acquire().unwrap().success();
    }
}
