//! Concurrent records into a count window lose no update (rules 1 and 2 in
//! `fusebox_engine::docs::rules`).
//!
//! The policies here cannot trip during the model (the window never reaches `min_calls`, or the
//! breaker is `MetricsOnly`), so after the threads join every counter and window figure is exact.
//! The wrapping models make threads overwrite slots concurrently; sequential records afterwards
//! check that the window's counts are still in step with its bits.
#![cfg(loom)]

use fusebox_engine::{Breaker, ManualClock, Metrics, Policy, State, Window};
use loom::thread;
use loom_tests::{check, record};

fn breaker(size: u32, min_calls: u32) -> Breaker {
    let policy = Policy::builder()
        .window(Window::count(size))
        .min_calls(min_calls)
        .build()
        .expect("valid policy");
    Breaker::with_clock("window", policy, ManualClock::new())
}

/// A `MetricsOnly` breaker: records into its window, never trips.
fn metrics_only(size: u32) -> Breaker {
    let b = breaker(size, 1);
    b.metrics_only();
    b
}

/// Each thread records its outcomes, concurrently with the others.
fn record_concurrently(breaker: &Breaker, outcomes: &[bool]) {
    let handles: Vec<_> = outcomes
        .iter()
        .map(|&failure| {
            let b = breaker.clone();
            thread::spawn(move || record(&b, failure))
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

fn counts(m: &Metrics) -> (u64, u64, u64, u64) {
    (m.successes, m.failures, m.window_calls, m.window_failures)
}

#[test]
fn a_success_and_a_failure_both_land() {
    loom::model(|| {
        let b = breaker(4, 4);
        record_concurrently(&b, &[false, true]);
        let m = b.metrics();
        assert_eq!(counts(&m), (1, 1, 2, 1));
        assert_eq!((m.state, m.admitted), (State::Closed, 2));
    });
}

#[test]
fn two_failures_both_land() {
    loom::model(|| {
        let b = breaker(4, 4);
        record_concurrently(&b, &[true, true]);
        let m = b.metrics();
        assert_eq!(counts(&m), (0, 2, 2, 2));
        assert_eq!(m.state, State::Closed);
    });
}

#[test]
fn three_threads_record_into_one_window() {
    check(|| {
        let b = breaker(4, 4);
        record_concurrently(&b, &[true, false, true]);
        let m = b.metrics();
        assert_eq!(counts(&m), (1, 2, 3, 2));
        assert_eq!(m.state, State::Closed);
    });
}

#[test]
fn wrapping_window_of_two_holds_the_last_two() {
    loom::model(|| {
        // Slot 0 holds a failure; the threads take slots 1 and 0 in either order, so one of them
        // overwrites the failure while the other writes the other slot.
        let b = metrics_only(2);
        record(&b, true);
        record_concurrently(&b, &[false, true]);
        assert_eq!(counts(&b.metrics()), (1, 2, 2, 1));
    });
}

#[test]
fn three_failures_wrap_a_window_of_two() {
    check(|| {
        let b = metrics_only(2);
        record_concurrently(&b, &[true, true, true]);
        assert_eq!(counts(&b.metrics()), (0, 3, 2, 2));
    });
}

/// A window of one slot: the three records all write slot 0, two of them concurrently over the
/// first. Afterwards, sequential records must move the failure count exactly with the slot.
fn overwrite_one_slot(first: bool, racing: [bool; 2], expect_failures: Option<u64>) {
    let b = metrics_only(1);
    record(&b, first);
    record_concurrently(&b, &racing);
    let m = b.metrics();
    let failures = [first, racing[0], racing[1]].iter().filter(|&&f| f).count() as u64;
    assert_eq!((m.successes, m.failures), (3 - failures, failures));
    assert_eq!(m.window_calls, 1);
    match expect_failures {
        Some(n) => assert_eq!(m.window_failures, n),
        // The two racing writes to one slot may land in either order.
        None => assert!(m.window_failures <= 1),
    }
    for (failure, window_failures) in [(false, 0), (true, 1), (true, 1), (false, 0)] {
        record(&b, failure);
        let m = b.metrics();
        assert_eq!(
            (m.window_calls, m.window_failures),
            (1, window_failures),
            "window count out of step with its slot"
        );
    }
}

#[test]
fn two_failures_race_over_a_success_in_one_slot() {
    loom::model(|| overwrite_one_slot(false, [true, true], Some(1)));
}

#[test]
fn two_successes_race_over_a_failure_in_one_slot() {
    loom::model(|| overwrite_one_slot(true, [false, false], Some(0)));
}

#[test]
fn a_success_and_a_failure_race_over_one_slot() {
    loom::model(|| overwrite_one_slot(true, [false, true], None));
}

/// A breaker's first record installs its window store; a policy swap to another window shape
/// that races it must leave the store of the new shape in force, never one of the old shape
/// installed after the swap: five successes afterwards must all be in the window (a store of
/// two would hold two). The racing failure lands in the old store, which the swap leaves, or
/// in the new one; or, when its cursor increment follows the swap's while its flag goes to the
/// old store it loaded before, the new window counts it as a success. That last latitude
/// belongs to every record racing a swap to another shape, first or not (see `swap_policy`).
#[test]
fn the_first_record_racing_a_swap_to_another_shape_keeps_the_new_shape() {
    loom::model(|| {
        // Trips only on a window of failures alone: neither policy trips here.
        let policy = |size| {
            Policy::builder()
                .window(Window::count(size))
                .min_calls(size)
                .failure_rate_threshold(1.0)
                .build()
                .expect("valid policy")
        };
        let b = Breaker::with_clock("window", policy(2), ManualClock::new());
        let wider = policy(8);
        let recorder = {
            let b = b.clone();
            thread::spawn(move || record(&b, true))
        };
        b.set_policy(wider.clone());
        recorder.join().unwrap();
        for _ in 0..5 {
            record(&b, false);
        }
        let m = b.metrics();
        assert_eq!((m.counters.successes, m.counters.failures), (5, 1));
        assert!(
            matches!(
                (m.window_calls, m.window_failures),
                (5, 0) | (6, 0) | (6, 1)
            ),
            "a store of the old shape is in force: {m:?}"
        );
        assert_eq!(*b.policy(), wider);
    });
}

/// Reading a breaker that never recorded installs nothing and reads an empty window; its first
/// records, racing each other, install one store that holds both.
#[test]
fn readers_and_first_records_racing_on_a_breaker_never_called() {
    loom::model(|| {
        let b = breaker(4, 4);
        let threads: Vec<_> = [true, false]
            .into_iter()
            .map(|failure| {
                let b = b.clone();
                thread::spawn(move || record(&b, failure))
            })
            .collect();
        let m = b.metrics();
        assert!(
            m.window_calls <= 2 && m.window_failures <= m.window_calls,
            "{m:?}"
        );
        for t in threads {
            t.join().unwrap();
        }
        let m = b.metrics();
        assert_eq!((m.window_calls, m.window_failures), (2, 1));
    });
}
