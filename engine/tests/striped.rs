//! Striped breakers (`Breaker::striped`): each thread records into a window of its own, the
//! breaker judges their sum, and the counters stay exact.

use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use fusebox_engine::{Breaker, ManualClock, Outcome, Policy, State, Window};

fn policy(size: u32, min_calls: u32) -> Policy {
    Policy::builder()
        .window(Window::count(size))
        .min_calls(min_calls)
        .half_open_permits(1)
        .success_threshold(1)
        .failure_rate_threshold(0.5)
        .open_timeout(Duration::from_secs(10))
        .build()
        .expect("valid policy")
}

fn call(b: &Breaker, failure: bool) -> bool {
    b.call(|| if failure { Err(()) } else { Ok(()) }).is_ok()
}

#[test]
fn one_thread_trips_like_a_shared_window() {
    let clock = ManualClock::new();
    let striped = Breaker::striped_with_clock("s", policy(10, 10), clock.clone());
    let shared = Breaker::with_clock("n", policy(10, 10), clock.clone());
    assert!(striped.is_striped() && !shared.is_striped());
    // On one thread the stripe is the window: both open on the same call.
    for i in 0..40 {
        let failure = i >= 20 && i % 3 != 0;
        call(&striped, failure);
        call(&shared, failure);
        assert_eq!(striped.state(), shared.state(), "after call {i}");
        let (a, b) = (striped.metrics(), shared.metrics());
        assert_eq!(
            (
                a.window_calls,
                a.window_failures,
                a.successes,
                a.failures,
                a.rejected
            ),
            (
                b.window_calls,
                b.window_failures,
                b.successes,
                b.failures,
                b.rejected
            ),
            "after call {i}"
        );
    }
    assert_eq!(striped.state(), State::Open);
}

#[test]
fn the_window_slides_on_the_stripe() {
    let p = Policy::builder()
        .window(Window::count(4))
        .min_calls(4)
        .failure_rate_threshold(0.75)
        .build()
        .unwrap();
    let b = Breaker::striped_with_clock("s", p, ManualClock::new());
    for failure in [true, false, true, false, false, false, false] {
        call(&b, failure);
    }
    let m = b.metrics();
    assert_eq!((m.window_calls, m.window_failures), (4, 0));
    assert_eq!((m.successes, m.failures), (5, 2));
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn reset_and_half_open_empty_the_stripes() {
    let clock = ManualClock::new();
    let b = Breaker::striped_with_clock("s", policy(4, 2), clock.clone());
    call(&b, false);
    call(&b, true);
    b.reset();
    let m = b.metrics();
    assert_eq!((m.window_calls, m.window_failures), (0, 0));
    assert_eq!(m.admitted, 2, "a reset keeps the lifetime counters");
    for _ in 0..2 {
        call(&b, true);
    }
    assert_eq!(b.state(), State::Open);
    clock.advance(Duration::from_secs(10));
    // The probe succeeds and closes the breaker with an empty window.
    assert!(call(&b, false));
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics().window_calls, 0);
}

#[test]
fn policies_that_are_not_striped_record_as_usual() {
    // A slow-call rule needs the clock on every record: such a policy is not striped.
    let slow = Policy::builder()
        .window(Window::count(4))
        .min_calls(4)
        .slow_calls(Duration::from_millis(100), 0.5)
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let b = Breaker::striped_with_clock("s", slow, clock.clone());
    for _ in 0..4 {
        let p = b.try_acquire().unwrap();
        clock.advance(Duration::from_millis(200));
        p.record(Outcome::Success);
    }
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.metrics().slow, 4);
    // A window over 128 calls is not striped either.
    let big = Breaker::striped_with_clock("big", policy(1000, 10), ManualClock::new());
    for _ in 0..10 {
        call(&big, true);
    }
    assert_eq!(big.state(), State::Open);
}

#[test]
fn threads_keep_exact_counters_and_trip_on_sustained_failures() {
    const THREADS: usize = 4;
    #[cfg(debug_assertions)]
    const CALLS: u64 = 50_000;
    #[cfg(not(debug_assertions))]
    const CALLS: u64 = 500_000;
    // No trip possible (10 % failures against 50 %): every call is admitted, and the counters
    // must add up exactly.
    let b = Breaker::striped_with_clock("s", policy(100, 20), ManualClock::new());
    let start = Barrier::new(THREADS);
    thread::scope(|s| {
        for t in 0..THREADS as u64 {
            let (b, start) = (&b, &start);
            s.spawn(move || {
                start.wait();
                for i in 0..CALLS {
                    assert!(call(b, (i + t) % 10 == 0) || (i + t) % 10 == 0);
                }
            });
        }
    });
    let m = b.metrics();
    let total = THREADS as u64 * CALLS;
    assert_eq!(b.state(), State::Closed);
    assert_eq!((m.admitted, m.rejected), (total, 0));
    assert_eq!(m.failures, total / 10);
    assert_eq!(m.successes, total - total / 10);
    assert!(m.window_failures * 5 <= m.window_calls, "{m:?}");

    // All failing now: the summed stripes reach the threshold and the breaker opens.
    let start = Barrier::new(THREADS);
    thread::scope(|s| {
        for _ in 0..THREADS {
            let (b, start) = (&b, &start);
            s.spawn(move || {
                start.wait();
                for _ in 0..1000 {
                    call(b, true);
                }
            });
        }
    });
    let m = b.metrics();
    assert_eq!(b.state(), State::Open, "{m:?}");
    assert_eq!(m.admitted + m.rejected, total + THREADS as u64 * 1000);
    assert_eq!(m.successes + m.failures + m.ignored, m.admitted);
}
