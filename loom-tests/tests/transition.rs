//! Failures racing to trip a `Closed` breaker open it exactly once (rules 2 and 4 in
//! `fusebox_engine::docs::rules`).
//!
//! A subscriber taken before the threads start sees every transition; after the join it must
//! hold exactly one, `Closed` → `Open`.
#![cfg(loom)]

use fusebox_engine::{Breaker, ManualClock, Policy, State, TransitionReason, Window};
use loom::thread;
use loom_tests::check;

/// `threads` threads each record one failure into a fresh breaker under `policy`; returns the
/// breaker and the transitions it announced.
fn fail_concurrently(
    policy: Policy,
    threads: usize,
) -> (Breaker, Vec<(State, State, TransitionReason)>) {
    let breaker = Breaker::with_clock("trip", policy, ManualClock::new());
    let events = breaker.subscribe();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let b = breaker.clone();
            // Rejected is fine: a thread may arrive after another one tripped the breaker.
            thread::spawn(move || drop(b.call(|| Err::<(), _>("down"))))
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let moves = events
        .try_iter()
        .map(|t| (t.from, t.to, t.reason))
        .collect();
    (breaker, moves)
}

fn rate_policy(size: u32, min_calls: u32, threshold: f64) -> Policy {
    Policy::builder()
        .window(Window::count(size))
        .min_calls(min_calls)
        .failure_rate_threshold(threshold)
        .build()
        .expect("valid policy")
}

fn assert_tripped_once(
    breaker: &Breaker,
    moves: &[(State, State, TransitionReason)],
    why: TransitionReason,
) {
    assert_eq!(moves, [(State::Closed, State::Open, why)]);
    assert_eq!(breaker.state(), State::Open);
}

#[test]
fn two_failures_filling_the_window_trip_once() {
    loom::model(|| {
        // Window 2, min_calls 2: the second record to take a slot judges the window.
        let (b, moves) = fail_concurrently(rate_policy(2, 2, 0.5), 2);
        assert_tripped_once(&b, &moves, TransitionReason::FailureRate);
        let m = b.metrics();
        assert_eq!((m.admitted, m.failures, m.rejected), (2, 2, 0));
    });
}

#[test]
fn two_failures_that_each_trip_race_to_one_transition() {
    loom::model(|| {
        // min_calls 1: both records judge the window and both try the exchange.
        let (b, moves) = fail_concurrently(rate_policy(2, 1, 0.5), 2);
        assert_tripped_once(&b, &moves, TransitionReason::FailureRate);
        let m = b.metrics();
        assert_eq!(m.admitted + m.rejected, 2);
        assert_eq!(m.failures, m.admitted);
    });
}

#[test]
fn three_failures_that_each_trip_race_to_one_transition() {
    check(|| {
        let (b, moves) = fail_concurrently(rate_policy(3, 1, 0.5), 3);
        assert_tripped_once(&b, &moves, TransitionReason::FailureRate);
        let m = b.metrics();
        assert_eq!(m.admitted + m.rejected, 3);
        assert_eq!(m.failures, m.admitted);
    });
}

#[test]
fn two_failures_filling_the_window_at_threshold_one_trip() {
    loom::model(|| {
        // Neither failure alone can trip (min_calls 2), so both calls are admitted and the
        // window ends up holding two failures in two calls: rate 1.0 must open the breaker.
        let (b, moves) = fail_concurrently(rate_policy(2, 2, 1.0), 2);
        assert_tripped_once(&b, &moves, TransitionReason::FailureRate);
    });
}

#[test]
fn a_failure_and_a_success_filling_the_window_trip() {
    loom::model(|| {
        let breaker = Breaker::with_clock("trip", rate_policy(2, 2, 0.5), ManualClock::new());
        let handles: Vec<_> = [true, false]
            .into_iter()
            .map(|failure| {
                let b = breaker.clone();
                thread::spawn(move || {
                    let r = b.call(|| if failure { Err("down") } else { Ok(()) });
                    assert!(r.as_ref().err().and_then(|e| e.rejected()).is_none());
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        // One failure in two calls meets 0.5 with min_calls 2, whichever recorded last.
        assert_eq!(breaker.state(), State::Open);
    });
}

fn consecutive_policy() -> Policy {
    Policy::builder()
        .consecutive_failures(1)
        .build()
        .expect("valid policy")
}

#[test]
fn consecutive_failures_race_to_one_transition() {
    loom::model(|| {
        let (b, moves) = fail_concurrently(consecutive_policy(), 2);
        assert_tripped_once(&b, &moves, TransitionReason::ConsecutiveFailures);
    });
}

#[test]
fn consecutive_failures_that_trip_are_all_counted() {
    loom::model(|| {
        let (b, _) = fail_concurrently(consecutive_policy(), 2);
        let m = b.metrics();
        assert_eq!(m.admitted + m.rejected, 2);
        assert_eq!((m.failures, m.successes), (m.admitted, 0));
    });
}

/// Records `before` one by one on a breaker under `policy`, then `outcomes` on two racing
/// threads; returns the breaker.
fn race_after(policy: Policy, before: &[bool], outcomes: [bool; 2]) -> Breaker {
    let breaker = Breaker::with_clock("ring", policy, ManualClock::new());
    for &failure in before {
        let _ = breaker.call(|| if failure { Err("down") } else { Ok(()) });
    }
    let handles: Vec<_> = outcomes
        .into_iter()
        .map(|failure| {
            let b = breaker.clone();
            thread::spawn(move || drop(b.call(|| if failure { Err("down") } else { Ok(()) })))
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    breaker
}

/// Like `loom::model`, with room for the many sequential calls that fill a window first.
fn model_long(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 100_000;
    builder.check(f);
}

#[test]
fn two_failures_across_a_word_boundary_trip() {
    model_long(|| {
        // A small window's bits are two words, counted when judged. With a full window of 65
        // (128 successes in), the racing failures take slots 63 and 64, one in each word:
        // whichever judges last must count both (2 failures in 65 calls, threshold 2/65).
        // Each judges with SeqCst loads after its update; loom weakens those to Acquire, so
        // the engine puts a SeqCst fence between under loom (`loads_follow_updates`), and
        // without it this model fails.
        let b = race_after(rate_policy(65, 65, 2.0 / 65.0), &[false; 128], [true, true]);
        assert_eq!(b.state(), State::Open);
    });
}
