//! The public API through the facade: a breaker opens, probes and closes, and its types are
//! plain and thread-safe. Everything here must compile against the public names alone.

#[test]
fn a_breaker_opens_probes_and_closes() {
    use fusebox::{
        Backoff, Breaker, CallError, ManualClock, Outcome, Policy, RejectReason, State, Window,
    };
    use std::time::Duration;

    let clock = ManualClock::new();
    let policy = Policy::builder()
        .window(Window::count(10))
        .failure_rate_threshold(0.5)
        .min_calls(4)
        .open_timeout(Duration::from_secs(10))
        .backoff(Backoff::exponential(2.0, Duration::from_secs(60)))
        .half_open_permits(2)
        .success_threshold(2)
        .build()
        .expect("valid policy");
    let breaker = Breaker::with_clock("payments", policy, clock.clone());

    for _ in 0..4 {
        let r: Result<(), CallError<&str>> = breaker.call(|| Err("boom"));
        assert!(matches!(r, Err(CallError::Failed("boom"))));
    }
    assert_eq!(breaker.state(), State::Open);
    let rejected = breaker.try_acquire().unwrap_err();
    assert_eq!(rejected.reason(), RejectReason::Open);
    assert_eq!(rejected.retry_after(), Some(Duration::from_secs(10)));

    clock.advance(Duration::from_secs(10));
    let probe = breaker.try_acquire().expect("first probe");
    assert_eq!(breaker.state(), State::HalfOpen);
    probe.record(Outcome::Success);
    breaker.try_acquire().expect("second probe").success();
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(breaker.call(|| Ok::<_, ()>(7)).unwrap(), 7);
}

/// `Breaker`, `Policy`, `Metrics` and `Rejected` are plain types users can name.
#[test]
fn public_types_are_plain_and_thread_safe() {
    fn assert_send_sync<T: Send + Sync>() {}
    fn takes(_: &fusebox::Breaker, _: &fusebox::Policy, _: fusebox::Metrics, _: fusebox::Rejected) {
    }
    assert_send_sync::<fusebox::Breaker>();
    assert_send_sync::<fusebox::Policy>();
    assert_send_sync::<fusebox::Rejected>();
    let _ = takes;
}
