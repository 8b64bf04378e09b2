//! Records racing with the rotation of a time-window bucket (rule 3 in
//! `fusebox_engine::docs::rules`).
//!
//! The breakers here are `MetricsOnly` (they record into the window but never trip) on a
//! `ManualClock`, with a window of three one-second buckets: period `p` lives in bucket
//! `p mod 3`, so the first record of period 3 (or 4) must claim bucket 0 (or 1), zero what
//! period 0 (or 1) left in it and publish the new stamp, while other threads record. After the
//! threads join, the window holds exactly the outcomes of the periods still inside the span,
//! and the `successes` and `failures` totals count every outcome once.
//!
//! Where the clock moves while threads record, a thread may read either time; the models are
//! laid out so that every outcome lands inside the span whichever time it read (the old period
//! is in the span at the new time, and lives in another bucket than the rotated one), so the
//! expected window is still exact.
//!
//! `a_failure_read_before_the_rotation_lands_whole` races a record that read an *old* period
//! against the rotation of that same bucket: the outcome must land whole, in the old period
//! (erased with it) or in the new one, never split. It found the engine adding the call and
//! the failure to separate counters; a bucket's counts are now one word, added to and zeroed
//! in one read-modify-write each.
//!
//! A thread that finds a bucket being rotated spins (with a yield) until the rotation is
//! published. With two such spinners loom schedules them against each other for longer than
//! its branch limit while the rotating thread waits, so no model here has more than two threads
//! recording into the same new period.
#![cfg(loom)]

use std::time::Duration;

use fusebox_engine::{Breaker, Clock, ManualClock, Metrics, Policy, State, Window};
use loom::thread;
use loom_tests::{check, record};

const SEC: Duration = Duration::from_secs(1);
/// Where the models rotate: period 3, the first to reuse bucket 0.
const ROTATION: Duration = Duration::from_secs(3);

/// A `MetricsOnly` breaker over a 3 s window of three 1 s buckets, at t = 0.
fn metrics_only() -> (Breaker, ManualClock) {
    let clock = ManualClock::new();
    let policy = Policy::builder()
        .window(Window::time(3 * SEC, 3))
        .min_calls(1)
        .build()
        .expect("valid policy");
    let breaker = Breaker::with_clock("time-window", policy, clock.clone());
    breaker.metrics_only();
    (breaker, clock)
}

fn window(m: &Metrics) -> (u64, u64) {
    (m.window_calls, m.window_failures)
}

fn totals(m: &Metrics) -> (u64, u64) {
    (m.successes, m.failures)
}

/// Bucket 0 holds period 0 (a failure and a success), bucket 1 period 1 (a failure); the
/// clock is left at t = 3 s, where period 0 is out of the span and period 1 still in it.
fn before_rotation() -> (Breaker, ManualClock) {
    let (breaker, clock) = metrics_only();
    record(&breaker, true);
    record(&breaker, false);
    clock.advance(SEC);
    record(&breaker, true);
    assert_eq!(window(&breaker.metrics()), (3, 2));
    clock.advance(ROTATION - SEC);
    assert_eq!(window(&breaker.metrics()), (1, 1), "period 0 aged out");
    (breaker, clock)
}

/// Each thread records its outcome at t = 3 s; whichever comes first rotates bucket 0 while
/// the other records into it. With `read`, a third thread reads the metrics meanwhile.
fn rotate_concurrently(outcomes: [bool; 2], read: bool) {
    let (breaker, clock) = before_rotation();
    let n = outcomes.len() as u64;
    let f = outcomes.iter().filter(|&&f| f).count() as u64;
    let mut handles: Vec<_> = outcomes
        .iter()
        .map(|&failure| {
            let b = breaker.clone();
            thread::spawn(move || record(&b, failure))
        })
        .collect();
    if read {
        let b = breaker.clone();
        handles.push(thread::spawn(move || {
            // Mid-rotation, a reader sees period 1 and part of period 3, never period 0's
            // counts under period 3's stamp: the zeroing is published with the stamp.
            let m = b.metrics();
            assert!(
                m.window_calls <= 1 + n && m.window_failures <= 1 + f,
                "{m:?}"
            );
            assert!(m.window_failures <= m.window_calls, "{m:?}");
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    let m = breaker.metrics();
    assert_eq!(m.state, State::MetricsOnly);
    // Period 1's failure plus every outcome of period 3; none of period 0's.
    assert_eq!(window(&m), (1 + n, 1 + f), "{m:?}");
    assert_eq!(totals(&m), (1 + n - f, 2 + f), "{m:?}");
    // Period 1 ages out: what is left is period 3 alone, in bucket 0.
    clock.advance(SEC);
    assert_eq!(window(&breaker.metrics()), (n, f), "period 3 alone");
    // Period 4 rotates bucket 1; the counts stay in step.
    record(&breaker, true);
    assert_eq!(window(&breaker.metrics()), (n + 1, f + 1));
}

#[test]
fn a_failure_and_a_success_rotate_into_a_new_period() {
    loom::model(|| rotate_concurrently([true, false], false));
}

#[test]
fn two_failures_rotate_into_a_new_period() {
    loom::model(|| rotate_concurrently([true, true], false));
}

#[test]
fn a_reader_never_sees_the_old_period_under_the_new_stamp() {
    check(|| rotate_concurrently([true, false], true));
}

/// Bucket 0 holds period 0 (a failure), bucket 1 period 1 (a failure and a success), bucket 2
/// period 2 (a success); the clock is left at t = 2 s. At t = 4 s periods 0 and 1 are out of
/// the span and period 2 is still in it, so a record reads either t = 2 s and adds to bucket 2
/// (whose stamp it finds current: no rotation), or t = 4 s and rotates bucket 1 or records into
/// it after the rotation. Either way it lands inside the span.
fn before_moving_clock() -> (Breaker, ManualClock) {
    let (breaker, clock) = metrics_only();
    record(&breaker, true);
    clock.advance(SEC);
    record(&breaker, true);
    record(&breaker, false);
    clock.advance(SEC);
    record(&breaker, false);
    assert_eq!(window(&breaker.metrics()), (4, 2));
    (breaker, clock)
}

/// Checks the window at t = 4 s after `outcomes` were recorded while the clock moved there from
/// t = 2 s, then that a further record keeps it in step.
fn assert_landed_in_the_span(breaker: &Breaker, outcomes: &[bool]) {
    let n = outcomes.len() as u64;
    let f = outcomes.iter().filter(|&&f| f).count() as u64;
    let m = breaker.metrics();
    assert_eq!(breaker.now(), 4 * SEC);
    // Period 2's success plus every outcome of the threads.
    assert_eq!(window(&m), (1 + n, f), "{m:?}");
    assert_eq!(totals(&m), (2 + n - f, 2 + f), "{m:?}");
    record(breaker, true);
    assert_eq!(window(&breaker.metrics()), (2 + n, f + 1));
}

#[test]
fn a_record_racing_a_moving_clock_lands_in_the_span() {
    loom::model(|| {
        let (breaker, clock) = before_moving_clock();
        let b = breaker.clone();
        let failing = thread::spawn(move || record(&b, true));
        let (b, c) = (breaker.clone(), clock.clone());
        // Moves the clock, then records at t = 4 s: it rotates bucket 1 unless the other
        // thread, having read t = 4 s too, rotated it first.
        let moving = thread::spawn(move || {
            c.advance(2 * SEC);
            record(&b, false);
        });
        failing.join().unwrap();
        moving.join().unwrap();
        assert_landed_in_the_span(&breaker, &[true, false]);
    });
}

/// Two threads record while the main thread moves the clock from t = 2 s to t = 4 s.
fn records_racing_the_clock(outcomes: [bool; 2]) {
    let (breaker, clock) = before_moving_clock();
    let handles: Vec<_> = outcomes
        .iter()
        .map(|&failure| {
            let b = breaker.clone();
            thread::spawn(move || record(&b, failure))
        })
        .collect();
    clock.advance(2 * SEC);
    for h in handles {
        h.join().unwrap();
    }
    assert_landed_in_the_span(&breaker, &outcomes);
}

#[test]
fn two_records_racing_a_moving_clock_land_in_the_span() {
    check(|| records_racing_the_clock([true, false]));
}

#[test]
fn two_failures_racing_a_moving_clock_land_in_the_span() {
    check(|| records_racing_the_clock([true, true]));
}

/// A record that read period 0 races the rotation of its bucket to period 3.
///
/// One thread moves the clock to t = 3 s and records a success there (it rotates bucket 0, or
/// records into it after a rotation); the other records a failure at t = 0 or t = 3 s,
/// whichever it reads. Bucket 0 holds period 0 (a failure) before the threads start, so a
/// thread reading t = 0 finds the stamp current and adds without claiming the bucket. Its
/// outcome is out of the span at t = 3 s: the rotation may zero it or it may land in period 3,
/// but whole, its call with its failure.
///
/// It does not land whole. `TimeWindow::record` checks the stamp once and then adds `calls`,
/// `failures` and `slow` one by one, while a rotation zeroes them one by one, so with no
/// reordering at all:
///
/// 1. the failing thread reads t = 0, loads bucket 0's stamp (period 0: current, no claim)
///    and adds its call (`calls` 1 → 2);
/// 2. the other thread advances the clock, reads t = 3 s, claims bucket 0 (stamp 1 →
///    4 | `ROTATING`), zeroes `calls`, `failures` and `slow`, publishes stamp 4 and adds its
///    success (`calls` 0 → 1);
/// 3. the failing thread adds its failure (`failures` 0 → 1).
///
/// Period 3 then holds one call and one failure although its only outcome is a success: a
/// failure rate of 1 that no recorded sequence gives, enough to trip a breaker with a small
/// `min_calls`. With both adds falling between the zeroing of `calls` and that of `failures`,
/// the failure becomes a success instead (`window == (2, 0)`).
fn stale_failure_racing_the_rotation() {
    let (breaker, clock) = metrics_only();
    record(&breaker, true);
    let b = breaker.clone();
    let c = clock.clone();
    let failing = thread::spawn(move || {
        // If the clock already reads t = 3 s, the record (a later read) reads it too.
        let late = c.now() >= ROTATION;
        record(&b, true);
        late
    });
    let b = breaker.clone();
    let c = clock.clone();
    let rotating = thread::spawn(move || {
        c.advance(ROTATION);
        record(&b, false);
    });
    let late = failing.join().unwrap();
    rotating.join().unwrap();
    let m = breaker.metrics();
    assert_eq!(totals(&m), (1, 2), "{m:?}");
    // The success is in period 3; the failure is in it too, or it was recorded in period 0
    // and then either zeroed by the rotation or carried into period 3 whole.
    if late {
        assert_eq!(window(&m), (2, 1), "{m:?}");
    } else {
        assert!(matches!(window(&m), (1, 0) | (2, 1)), "{m:?}");
    }
    // The counts stay in step: period 4 holds a success, period 3 what it held.
    let held = window(&m);
    clock.advance(SEC);
    record(&breaker, false);
    assert_eq!(window(&breaker.metrics()), (held.0 + 1, held.1));
}

#[test]
fn a_failure_read_before_the_rotation_lands_whole() {
    loom::model(stale_failure_racing_the_rotation);
}
