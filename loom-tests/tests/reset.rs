//! Manual control racing with a recorded call (rule 12 in `fusebox_engine::docs::rules`).
//!
//! `force_open` and `reset` take the config lock and exchange the state word; `reset` also
//! clears the window, and keeps the lifetime counters. A call racing with them may land on either
//! side, but after the join the state is the last manual state (the policies here cannot trip)
//! and the metrics add up without wrapping. The ignored models state what should also hold: a
//! call racing `reset` lands whole on one side of it, in the counters and in the window.
#![cfg(loom)]

use fusebox_engine::{Breaker, ManualClock, Metrics, Policy, RejectReason, State, Window};
use loom::thread;

/// A breaker that three failures cannot trip: window 4, min_calls 4.
fn breaker() -> Breaker {
    let policy = Policy::builder()
        .window(Window::count(4))
        .min_calls(4)
        .build()
        .expect("valid policy");
    Breaker::with_clock("manual", policy, ManualClock::new())
}

/// Spawns one call with outcome `failure`; true if it was admitted.
fn spawn_call(breaker: &Breaker, failure: bool) -> thread::JoinHandle<bool> {
    let b = breaker.clone();
    thread::spawn(
        move || match b.call(|| if failure { Err("failed") } else { Ok(()) }) {
            Ok(()) => true,
            Err(e) => match e.rejected() {
                None => true,
                Some(r) => {
                    assert_eq!(r.reason(), RejectReason::ForcedOpen);
                    false
                }
            },
        },
    )
}

/// The counters add up, at most `calls` were counted, and the window holds at most `window`.
fn assert_consistent(m: &Metrics, calls: u64, window: u64) {
    assert!(m.admitted <= calls && m.rejected <= calls, "{m:?}");
    assert_eq!(m.admitted, m.successes + m.failures + m.ignored, "{m:?}");
    assert!(
        m.window_calls <= window && m.window_failures <= window,
        "{m:?}"
    );
}

#[test]
fn force_open_races_a_failing_call() {
    loom::model(|| {
        let b = breaker();
        let call = spawn_call(&b, true);
        b.force_open();
        let admitted = call.join().unwrap();
        assert_eq!(b.state(), State::ForcedOpen);
        let m = b.metrics();
        assert_consistent(&m, 1, 1);
        assert!(m.window_failures <= m.window_calls, "{m:?}");
        // `force_open` keeps the counters: the call is either a failure or a rejection.
        assert_eq!(
            (m.admitted, m.failures, m.rejected),
            if admitted { (1, 1, 0) } else { (0, 0, 1) }
        );
    });
}

/// Two failures, then a third failing call racing `reset`; the metrics after the join.
fn reset_racing_a_failure() -> Metrics {
    let b = breaker();
    for _ in 0..2 {
        let _ = b.call(|| Err::<(), _>("before"));
    }
    let call = spawn_call(&b, true);
    b.reset();
    assert!(call.join().unwrap(), "Closed admits");
    assert_eq!(b.state(), State::Closed);
    let m = b.metrics();
    assert_consistent(&m, 3, 1);
    // The lifetime counters keep every call, whichever side of the reset it landed on.
    assert_eq!((m.admitted, m.failures), (3, 3), "{m:?}");
    m
}

#[test]
fn reset_races_a_failing_call() {
    loom::model(|| {
        reset_racing_a_failure();
    });
}

#[test]
fn reset_leaves_no_failure_outside_the_window_calls() {
    loom::model(|| {
        let m = reset_racing_a_failure();
        assert!(m.window_failures <= m.window_calls, "{m:?}");
    });
}

#[test]
fn reset_loses_no_failure_from_the_window() {
    loom::model(|| {
        let m = reset_racing_a_failure();
        // The only outcome is a failure: every call the window holds is a failure.
        assert!(m.window_failures >= m.window_calls, "{m:?}");
    });
}

#[test]
fn reset_never_turns_a_failure_into_a_success() {
    loom::model(|| {
        let m = reset_racing_a_failure();
        assert_eq!(m.successes, 0, "{m:?}");
    });
}

#[test]
fn reset_races_a_successful_call() {
    loom::model(|| {
        let b = breaker();
        let _ = b.call(|| Err::<(), _>("before"));
        let call = spawn_call(&b, false);
        b.reset();
        assert!(call.join().unwrap(), "Closed admits");
        assert_eq!(b.state(), State::Closed);
        let m = b.metrics();
        assert_consistent(&m, 2, 1);
        assert_eq!((m.admitted, m.successes), (2, 1), "{m:?}");
        assert_eq!(m.window_failures, 0, "{m:?}");
    });
}

#[test]
fn force_open_then_reset_races_a_call() {
    loom::model(|| {
        let b = breaker();
        let call = spawn_call(&b, true);
        b.force_open();
        b.reset();
        call.join().unwrap();
        assert_eq!(b.state(), State::Closed);
        assert_consistent(&b.metrics(), 1, 1);
    });
}

#[test]
fn reset_races_a_tripping_failure() {
    loom::model(|| {
        // Window 1, min_calls 1: the failure trips the breaker, unless its episode was reset
        // under it (the trip is then dropped as stale).
        let policy = Policy::builder()
            .window(Window::count(1))
            .min_calls(1)
            .build()
            .expect("valid policy");
        let b = Breaker::with_clock("manual", policy, ManualClock::new());
        let call = spawn_call(&b, true);
        b.reset();
        assert!(call.join().unwrap(), "Closed admits");
        assert!(matches!(b.state(), State::Closed | State::Open));
        assert_consistent(&b.metrics(), 1, 1);
    });
}

/// A reset moves the window cursor's count into its base (a swap, then an add): a reader of
/// the counters racing it must never see the count in neither word. Two outcomes are recorded
/// first; the reader must read both, before or after the move.
#[test]
fn counters_never_read_low_while_a_reset_moves_the_cursor() {
    loom_tests::check(|| {
        let b = breaker();
        loom_tests::record(&b, true);
        loom_tests::record(&b, false);
        let reader = {
            let b = b.clone();
            thread::spawn(move || b.metrics().counters)
        };
        b.reset();
        let c = reader.join().unwrap();
        assert_eq!((c.admitted, c.successes, c.failures), (2, 1, 1), "{c:?}");
    });
}
