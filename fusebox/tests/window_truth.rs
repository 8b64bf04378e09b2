//! Window truth: a 100-call window at 50 % is a window of the last 100 calls, however many
//! came before. After 10 000 successes it opens on exactly the 50th failure — not the 49th,
//! and not after 10 000 failures as a window that never slides would.

use std::time::Duration;

use fusebox::{Breaker, Clock, ManualClock, Policy, QuantaClock, RejectReason, State, Window};

fn policy(window: Window) -> Policy {
    Policy::builder()
        .window(window)
        .failure_rate_threshold(0.5)
        .min_calls(100)
        .open_timeout(Duration::from_secs(3600))
        .build()
        .expect("valid policy")
}

fn succeed(breaker: &Breaker, n: u32) {
    for i in 0..n {
        assert!(
            breaker.call(|| Ok::<u32, ()>(i)).is_ok(),
            "success {i} of {n} was not admitted"
        );
    }
}

/// Fails 49 calls, checking the breaker stays closed after each, then the 50th, which must
/// open it; the next acquire is rejected as open.
fn opens_on_the_50th_failure(breaker: &Breaker) {
    for i in 1..50 {
        assert!(breaker.call(|| Err::<(), u32>(i)).is_err());
        assert_eq!(
            breaker.state(),
            State::Closed,
            "opened on failure {i}: {:?}",
            breaker.metrics()
        );
    }
    assert_eq!(breaker.metrics().window_failures, 49);
    assert!(breaker.call(|| Err::<(), u32>(50)).is_err());
    assert_eq!(
        breaker.state(),
        State::Open,
        "still closed after the 50th failure: {:?}",
        breaker.metrics()
    );
    let rejected = breaker
        .try_acquire()
        .expect_err("the acquire after the 50th failure must be rejected");
    assert_eq!(rejected.reason(), RejectReason::Open);
}

fn count_window_case(clock: impl Clock) {
    let breaker = Breaker::with_clock("window-truth", policy(Window::count(100)), clock);
    succeed(&breaker, 10_000);
    assert_eq!(breaker.state(), State::Closed);
    opens_on_the_50th_failure(&breaker);
    assert_eq!(breaker.metrics().failures, 50);
}

#[test]
fn count_window_opens_on_exactly_the_50th_failure_after_10_000_successes() {
    count_window_case(ManualClock::new());
}

#[test]
fn count_window_is_exact_on_the_real_clock_too() {
    // `Breaker::new`'s clock, with the process-wide timer behind it.
    count_window_case(QuantaClock::new());
    let breaker = Breaker::new("window-truth-new", policy(Window::count(100)));
    succeed(&breaker, 10_000);
    opens_on_the_50th_failure(&breaker);
}

#[test]
fn failures_slide_out_of_the_count_window() {
    let breaker = Breaker::with_clock(
        "window-slides",
        policy(Window::count(100)),
        ManualClock::new(),
    );
    succeed(&breaker, 10_000);
    // 49 failures, then 100 successes push every one of them out of the window ...
    for i in 0..49 {
        assert!(breaker.call(|| Err::<(), u32>(i)).is_err());
    }
    succeed(&breaker, 100);
    assert_eq!(breaker.metrics().window_failures, 0);
    assert_eq!(breaker.state(), State::Closed);
    // ... so it again takes exactly 50 more to open it.
    opens_on_the_50th_failure(&breaker);
}

#[test]
fn time_window_ages_out_old_successes_then_opens_at_exactly_50_percent() {
    let clock = ManualClock::new();
    let breaker = Breaker::with_clock(
        "window-truth-time",
        policy(Window::time(Duration::from_secs(10), 10)),
        clock.clone(),
    );
    succeed(&breaker, 10_000);
    // Within the span, those 10 000 successes count: 49 failures are far from 50 %.
    for i in 0..49 {
        assert!(breaker.call(|| Err::<(), u32>(i)).is_err());
    }
    assert_eq!(breaker.state(), State::Closed);
    // One full span later every one of them has aged out of the window.
    clock.advance(Duration::from_secs(10));
    succeed(&breaker, 50);
    assert_eq!(breaker.metrics().window_failures, 0);
    // 50 successes + 49 failures = 99 calls: under min_calls, and under 50 % anyway.
    opens_on_the_50th_failure(&breaker);
}

/// The call that completes `min_calls` is judged whatever its outcome: a success that brings
/// the window to 100 calls at 60 % failures opens the breaker.
fn opens_when_a_success_completes_min_calls(breaker: &Breaker) {
    // 60 failures and no success: 100 % failures, but only 60 calls in the window.
    for i in 0..60 {
        assert!(breaker.call(|| Err::<(), u32>(i)).is_err());
        assert_eq!(breaker.state(), State::Closed, "opened at call {i}");
    }
    // 39 successes: 99 calls, still under min_calls.
    succeed(breaker, 39);
    assert_eq!(breaker.state(), State::Closed);
    // The 100th call, a success: 60 failures of 100.
    assert!(breaker.call(|| Ok::<u32, ()>(100)).is_ok());
    assert_eq!(
        breaker.state(),
        State::Open,
        "a success completing min_calls did not trip: {:?}",
        breaker.metrics()
    );
}

#[test]
fn count_window_judges_the_success_that_completes_min_calls() {
    let breaker = Breaker::with_clock(
        "min-calls-count",
        policy(Window::count(100)),
        ManualClock::new(),
    );
    opens_when_a_success_completes_min_calls(&breaker);
}

#[test]
fn time_window_judges_the_success_that_completes_min_calls() {
    let breaker = Breaker::with_clock(
        "min-calls-time",
        policy(Window::time(Duration::from_secs(10), 10)),
        ManualClock::new(),
    );
    opens_when_a_success_completes_min_calls(&breaker);
}
