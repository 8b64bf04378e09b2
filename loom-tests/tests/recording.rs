//! Switching a breaker's recording keeps its `RECORD` flag bit through racing policy swaps,
//! and a call racing with the switch is either recorded whole or not at all.
//!
//! The bit lives in the flags word that a policy swap rewrites inside its seqlock; switching
//! sets or clears it with `fetch_or` / `fetch_and` under the same `config_lock` (recording.rs
//! in the engine). The models race a switch with a swap, and a switch with a call.
//!
//! The recorder's buffer hands blocks between the threads that write calls into them and the
//! reader that drains them (blocks.rs in the engine: plain stores published by a `Release`
//! count, blocks linked and freed through `Release`/`Acquire` atomics). Its models race writers
//! with a drain, and writers with each other for the last free block: every call is drained
//! exactly once or counted dropped. The `ArcSwap` that holds a breaker's recorder is not
//! loom-aware; the models that race it check what it holds only after the join.
#![cfg(loom)]

use fusebox_engine::{Breaker, CallOutcome, CallRecorder, ManualClock, Policy};
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
        let breaker = Breaker::with_clock("rec", Policy::default(), ManualClock::new());
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
        let breaker = Breaker::with_clock("rec", Policy::default(), ManualClock::new());
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
        let breaker = Breaker::with_clock("rec", Policy::default(), ManualClock::new());
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

/// A thread recording calls while another drains, every call drained once, in order, or
/// counted dropped. With room for 2 calls, the writer fills blocks of one call, links each
/// next block, and reuses the blocks the drains free; with room for 128, its blocks hold two
/// calls, so a drain also reads a block the writer is still filling.
#[test]
fn a_drain_racing_a_writer_takes_every_call_once() {
    for capacity in [2, 128] {
        loom::model(move || {
            let clock = ManualClock::new();
            let breaker = Breaker::with_clock("rec", Policy::default(), clock.clone());
            let recorder = CallRecorder::new(capacity);
            breaker.record_to(&recorder, 1.0);
            let writer = {
                let clock = clock.clone();
                thread::spawn(move || {
                    for _ in 0..3 {
                        clock.advance(std::time::Duration::from_nanos(1));
                        breaker.try_acquire().expect("closed").success();
                    }
                })
            };
            let mut seen: Vec<u64> = recorder.drain().iter().map(|c| c.at_nanos()).collect();
            writer.join().unwrap();
            seen.extend(recorder.drain().iter().map(|c| c.at_nanos()));
            assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
            assert_eq!(seen.len() as u64 + recorder.dropped(), 3, "{seen:?}");
            assert!(recorder.is_empty());
        });
    }
}

/// Two threads recording into a recorder with room for one call: one claims the only block,
/// the other counts its call dropped.
#[test]
fn writers_racing_for_the_last_block_record_one_and_drop_one() {
    loom::model(|| {
        let recorder = CallRecorder::new(1);
        let writers: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|name| {
                let breaker = Breaker::with_clock(name, Policy::default(), ManualClock::new());
                breaker.record_to(&recorder, 1.0);
                thread::spawn(move || breaker.try_acquire().expect("closed").success())
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!(recorder.drain().len(), 1);
        assert_eq!(recorder.dropped(), 1);
    });
}

/// `record_to` racing with the failure that opens a breaker the timer watches: whichever comes
/// first, a rejection after both is recorded. An opener that read the flag clear marked its
/// word timed (whose rejections skip the recording test), and the switch takes the mark off;
/// one that reads the flag set leaves its word unmarked.
#[test]
fn recording_that_races_an_open_records_every_later_rejection() {
    loom::model(|| {
        let policy = Policy::builder()
            .window(fusebox_engine::Window::count(1))
            .min_calls(1)
            .build()
            .expect("valid policy");
        let breaker = Breaker::with_clock("rec", policy, ManualClock::with_model_timer());
        let recorder = CallRecorder::new(8);
        let opener = {
            let breaker = breaker.clone();
            thread::spawn(move || breaker.try_acquire().expect("closed").failure())
        };
        breaker.record_to(&recorder, 1.0);
        opener.join().unwrap();
        assert_eq!(breaker.state(), fusebox_engine::State::Open);
        let rejected = breaker.try_acquire().expect_err("open");
        assert_eq!(rejected.reason(), fusebox_engine::RejectReason::Open);
        let calls = recorder.drain();
        assert_eq!(
            calls.last().map(|c| c.outcome()),
            Some(CallOutcome::Rejected(fusebox_engine::RejectReason::Open)),
            "the rejection after the switch is recorded"
        );
    });
}
