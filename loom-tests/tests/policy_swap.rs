//! A policy swap is published whole: every decision uses one policy (rule 14 in
//! `fusebox_engine::docs::rules`).
//!
//! `set_policy` copies the policy's hot values into atomics inside a seqlock, and every
//! decision that reads more than one of them takes them through one consistent read. Each
//! model swaps between two policies that differ in two hot values at once, chosen so that
//! neither policy changes the state on the racing thread's outcomes but a mix of the two
//! would: a decision that mixed old and new values shows up in the state after the join.
//!
//! The `ArcSwap` behind `Breaker::policy()` is not loom-aware (see the crate docs); the models
//! check it only after the join, where the last policy set must be the one returned.
#![cfg(loom)]

use std::time::Duration;

use fusebox_engine::{Breaker, ManualClock, Policy, Recovery, State, Window};
use loom::thread;

const OPEN_FOR: Duration = Duration::from_secs(1);

/// A count window of 8 judged from the first outcome, at failure rate 1.
///
/// With two successes before them, two failures make the window (3 calls, 1 failure) and then
/// (4, 2): rates 1/3 and 1/2, both below 1.
fn eager_but_tolerant() -> Policy {
    Policy::builder()
        .window(Window::count(8))
        .min_calls(1)
        .failure_rate_threshold(1.0)
        .build()
        .expect("valid policy")
}

/// The same window judged from the fifth outcome, at failure rate 1/4: four outcomes are
/// never judged. Mixed with `eager_but_tolerant`, min_calls 1 with threshold 0.25 trips on
/// the first failure; min_calls 5 with threshold 1 never does.
fn patient_but_strict() -> Policy {
    Policy::builder()
        .window(Window::count(8))
        .min_calls(5)
        .failure_rate_threshold(0.25)
        .build()
        .expect("valid policy")
}

fn record_failure(breaker: &Breaker) {
    let r = breaker.call(|| Err::<(), _>("failed"));
    assert!(
        r.as_ref().err().and_then(|e| e.rejected()).is_none(),
        "a closed breaker admits"
    );
}

/// Two successes recorded under `first`; then one thread sets `second` while the main thread
/// records two failures, each judged under whichever policy its record read.
fn failures_racing_a_swap(first: Policy, second: Policy) {
    let breaker = Breaker::with_clock("swap", first, ManualClock::new());
    for _ in 0..2 {
        breaker.call(|| Ok::<_, ()>(())).expect("closed");
    }
    let last = second.clone();
    let b = breaker.clone();
    let swapper = thread::spawn(move || b.set_policy(second));
    record_failure(&breaker);
    record_failure(&breaker);
    swapper.join().unwrap();
    // Neither policy trips on these tallies; a mix of the two would have.
    let m = breaker.metrics();
    assert_eq!(
        m.state,
        State::Closed,
        "a decision mixed two policies: {m:?}"
    );
    assert_eq!((m.successes, m.failures, m.window_calls), (2, 2, 4));
    assert_eq!(*breaker.policy(), last);
}

#[test]
fn failures_judged_across_a_swap_to_a_stricter_threshold() {
    loom::model(|| failures_racing_a_swap(eager_but_tolerant(), patient_but_strict()));
}

#[test]
fn failures_judged_across_a_swap_to_a_lower_min_calls() {
    loom::model(|| failures_racing_a_swap(patient_but_strict(), eager_but_tolerant()));
}

/// Half-open with two probe slots; one probe success closes the breaker straight away.
fn closes_on_one_probe() -> Policy {
    Policy::builder()
        .window(Window::count(1))
        .min_calls(1)
        .open_timeout(OPEN_FOR)
        .half_open_permits(2)
        .success_threshold(1)
        .build()
        .expect("valid policy")
}

/// Half-open with two probe slots; two probe successes start a recovery ramp. Mixed with
/// `closes_on_one_probe`, one success with the ramp on moves to `Recovering`, a state neither
/// policy reaches on one success (two successes with the ramp off stay `HalfOpen`, as here).
fn ramps_after_two_probes() -> Policy {
    Policy::builder()
        .window(Window::count(1))
        .min_calls(1)
        .open_timeout(OPEN_FOR)
        .half_open_permits(2)
        .success_threshold(2)
        .recovery(Recovery::ramp(Duration::from_secs(10), 0.5))
        .build()
        .expect("valid policy")
}

/// A breaker under `first` takes one probe at the `Open` → `HalfOpen` edge; its success races
/// one thread setting `swaps` in turn. The probe's end is judged by one policy: `Closed` under
/// `closes_on_one_probe`, still `HalfOpen` under `ramps_after_two_probes`.
fn probe_success_racing_swaps(first: Policy, swaps: Vec<Policy>) {
    let clock = ManualClock::new();
    let breaker = Breaker::with_clock("swap", first, clock.clone());
    let _ = breaker.call(|| Err::<(), _>("down"));
    assert_eq!(breaker.state(), State::Open);
    clock.advance(OPEN_FOR);
    let probe = breaker.try_acquire().expect("the probe");
    assert_eq!(breaker.state(), State::HalfOpen);
    let b = breaker.clone();
    let last = swaps.last().cloned().expect("at least one swap");
    let swapper = thread::spawn(move || {
        for policy in swaps {
            b.set_policy(policy);
        }
    });
    probe.success();
    swapper.join().unwrap();
    let state = breaker.state();
    assert!(
        matches!(state, State::Closed | State::HalfOpen),
        "one probe success read the success threshold and the ramp of different policies: \
         {state:?}"
    );
    assert_eq!(*breaker.policy(), last);
    // Whichever policy judged it, the breaker goes on under the new one.
    if state == State::HalfOpen {
        let closing = breaker.try_acquire().expect("a probe slot is free");
        closing.success();
        let expected = if last.success_threshold() == 1 {
            State::Closed
        } else {
            State::Recovering
        };
        assert_eq!(breaker.state(), expected);
    }
}

#[test]
fn probe_success_across_a_swap_to_a_ramp() {
    loom::model(|| {
        probe_success_racing_swaps(closes_on_one_probe(), vec![ramps_after_two_probes()])
    });
}

#[test]
fn probe_success_across_a_swap_from_a_ramp() {
    loom::model(|| {
        probe_success_racing_swaps(ramps_after_two_probes(), vec![closes_on_one_probe()])
    });
}

#[test]
fn probe_success_across_a_swap_and_back() {
    loom::model(|| {
        probe_success_racing_swaps(
            closes_on_one_probe(),
            vec![ramps_after_two_probes(), closes_on_one_probe()],
        )
    });
}

/// One failure trips it, open for `open_for`.
fn trips_at_once(open_for: Duration) -> Policy {
    Policy::builder()
        .window(Window::count(1))
        .min_calls(1)
        .open_timeout(open_for)
        .build()
        .expect("valid policy")
}

/// A swap to a shorter `open_timeout` races the trip that opens the breaker: however the
/// opener's publication of its deadline and the swap interleave, the open period ends no later
/// than the new policy's would (the swap shortens a published deadline; an opener publishing
/// after the swap clamps its own).
#[test]
fn a_shorter_open_timeout_bounds_an_open_period_published_concurrently() {
    loom_tests::check(|| {
        let breaker = Breaker::with_clock(
            "shorten",
            trips_at_once(Duration::from_secs(10)),
            ManualClock::new(),
        );
        let opener = {
            let breaker = breaker.clone();
            thread::spawn(move || record_failure(&breaker))
        };
        breaker.set_policy(trips_at_once(OPEN_FOR));
        opener.join().unwrap();
        assert_eq!(breaker.state(), State::Open);
        assert_eq!(
            breaker.open_remaining(),
            Some(OPEN_FOR),
            "policy {:?}",
            breaker.policy().open_timeout()
        );
    });
}
