//! Switching a breaker's recording keeps its `RECORD` flag bit through racing policy swaps,
//! and a call racing with the switch is either recorded whole or not at all.
//!
//! The bit lives in the flags word that a policy swap rewrites inside its seqlock; switching
//! sets or clears it with `fetch_or` / `fetch_and` under the same `config_lock` (recording.rs
//! in the engine). The models race a switch with a swap, and a switch with a call.
//!
//! The recorder's queue (crossbeam) and the `ArcSwap` that holds it are not loom-aware; the
//! models check what they hold only after the join.
#![cfg(loom)]

use fusebox_engine::{Breaker, CallOutcome, CallRecorder, ManualClock, Policy};
use loom::sync::Arc;
use loom::thread;

fn slow_rule() -> Policy {
    Policy::builder()
        .slow_calls(std::time::Duration::from_secs(1), 0.5)
        .build()
        .expect("valid policy")
}

/// A policy swap racing with `record_to`: afterwards the breaker records.
#[test]
fn a_swap_does_not_lose_the_record_bit() {
    loom::model(|| {
        let breaker = Arc::new(Breaker::with_clock(
            "rec",
            Policy::default(),
            ManualClock::new(),
        ));
        let recorder = CallRecorder::new(8);
        let swapper = {
            let breaker = breaker.clone();
            thread::spawn(move || breaker.set_policy(slow_rule()))
        };
        breaker.record_to(&recorder, 1.0);
        swapper.join().unwrap();
        breaker.try_acquire().expect("closed").success();
        assert_eq!(recorder.len(), 1, "the swap kept the bit");
    });
}

/// A policy swap racing with `stop_recording`: afterwards the breaker does not record.
#[test]
fn a_swap_does_not_restore_a_cleared_record_bit() {
    loom::model(|| {
        let breaker = Arc::new(Breaker::with_clock(
            "rec",
            Policy::default(),
            ManualClock::new(),
        ));
        let recorder = CallRecorder::new(8);
        breaker.record_to(&recorder, 1.0);
        let swapper = {
            let breaker = breaker.clone();
            thread::spawn(move || breaker.set_policy(slow_rule()))
        };
        breaker.stop_recording();
        swapper.join().unwrap();
        breaker.try_acquire().expect("closed").success();
        assert!(recorder.is_empty(), "the swap brought the bit back");
    });
}

/// A call racing with `record_to` is recorded with its outcome and duration, or not at all.
#[test]
fn a_call_racing_the_switch_is_recorded_whole_or_not() {
    loom::model(|| {
        let breaker = Arc::new(Breaker::with_clock(
            "rec",
            Policy::default(),
            ManualClock::new(),
        ));
        let recorder = CallRecorder::new(8);
        let caller = {
            let breaker = breaker.clone();
            thread::spawn(move || breaker.try_acquire().expect("closed").failure())
        };
        breaker.record_to(&recorder, 1.0);
        caller.join().unwrap();
        let calls = recorder.drain();
        assert!(calls.len() <= 1);
        for call in calls {
            assert_eq!(call.outcome(), CallOutcome::Failure);
            assert_eq!(call.duration_nanos(), Some(0));
        }
        assert_eq!(breaker.metrics().failures, 1);
    });
}
