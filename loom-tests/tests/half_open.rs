//! The `Open` → `HalfOpen` edge and the probe slots (rules 6 and 8 in
//! `fusebox_engine::docs::rules`).
//!
//! Every model starts from an `Open` breaker whose period has passed on its `ManualClock`, so the
//! next acquire moves it to `HalfOpen` through `open_check`, the expiry exchange and the probe
//! exchange, all on the loom-modelled state word.
#![cfg(loom)]

use std::time::Duration;

use fusebox_engine::{Breaker, ManualClock, Policy, RejectReason, State, Window};
use loom::thread;
use loom_tests::check;

const OPEN_FOR: Duration = Duration::from_secs(10);

/// A breaker tripped by one failure, with its open period already passed.
fn expired_open(permits: u32) -> (Breaker, ManualClock) {
    let clock = ManualClock::new();
    let policy = Policy::builder()
        .window(Window::count(1))
        .min_calls(1)
        .open_timeout(OPEN_FOR)
        .half_open_permits(permits)
        .success_threshold(1)
        .build()
        .expect("valid policy");
    let breaker = Breaker::with_clock("half-open", policy, clock.clone());
    let _ = breaker.call(|| Err::<(), _>("down"));
    assert_eq!(breaker.state(), State::Open);
    clock.advance(OPEN_FOR);
    (breaker, clock)
}

/// Tries once for a probe; an admitted probe is forgotten, so its slot is held for the rest of
/// the model and a slot given back cannot admit a later thread: the model checks admission alone.
fn try_probe(breaker: &Breaker) -> bool {
    match breaker.try_acquire() {
        Ok(permit) => {
            std::mem::forget(permit);
            true
        }
        Err(rejected) => {
            assert_eq!(rejected.reason(), RejectReason::HalfOpenFull);
            assert_eq!(rejected.state(), State::HalfOpen);
            false
        }
    }
}

/// `threads` threads race one acquire each at the edge: exactly `permits` become probes.
fn race_the_edge(permits: u32, threads: usize) {
    let (breaker, _clock) = expired_open(permits);
    let events = breaker.subscribe();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let b = breaker.clone();
            thread::spawn(move || try_probe(&b))
        })
        .collect();
    let admitted = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|&a| a)
        .count();
    assert_eq!(admitted, permits as usize, "probes admitted");
    assert_eq!(breaker.state(), State::HalfOpen);
    let rejected = breaker.try_acquire().unwrap_err();
    assert_eq!(rejected.reason(), RejectReason::HalfOpenFull);
    let m = breaker.metrics();
    assert_eq!(m.rejected, (threads - admitted) as u64 + 1);
    let moves: Vec<_> = events.try_iter().map(|t| (t.from, t.to)).collect();
    assert_eq!(moves, [(State::Open, State::HalfOpen)], "one edge crossing");
}

#[test]
fn one_permit_two_threads_admit_one_probe() {
    loom::model(|| race_the_edge(1, 2));
}

#[test]
fn one_permit_three_threads_admit_one_probe() {
    check(|| race_the_edge(1, 3));
}

#[test]
fn two_permits_three_threads_admit_two_probes() {
    check(|| race_the_edge(2, 3));
}

#[test]
fn dropped_probe_gives_its_slot_back_to_a_racing_acquire() {
    loom::model(|| {
        let (breaker, _clock) = expired_open(1);
        // Crossed here, so the spawned thread races the drop, not the edge.
        let probe = breaker
            .try_acquire()
            .expect("the first acquire is the probe");
        assert_eq!(breaker.state(), State::HalfOpen);
        let b = breaker.clone();
        let other = thread::spawn(move || try_probe(&b));
        drop(probe);
        let other_admitted = other.join().unwrap();
        // The slot count is exact: free again iff the other thread did not take it for good.
        match breaker.try_acquire() {
            Ok(permit) => {
                assert!(!other_admitted, "one slot, two probes out");
                permit.success();
                assert_eq!(breaker.state(), State::Closed);
            }
            Err(rejected) => {
                assert!(other_admitted, "the dropped probe's slot was lost");
                assert_eq!(rejected.reason(), RejectReason::HalfOpenFull);
            }
        }
        assert_eq!(breaker.metrics().ignored, 1);
    });
}

#[test]
fn probes_dropped_at_the_edge_leave_half_open_free() {
    loom::model(|| {
        let (breaker, _clock) = expired_open(1);
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let b = breaker.clone();
                thread::spawn(move || match b.try_acquire() {
                    Ok(permit) => {
                        drop(permit);
                        1u64
                    }
                    Err(rejected) => {
                        assert_eq!(rejected.reason(), RejectReason::HalfOpenFull);
                        0
                    }
                })
            })
            .collect();
        let admitted: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert!(admitted >= 1);
        assert_eq!(breaker.state(), State::HalfOpen);
        let m = breaker.metrics();
        // The failure that tripped the breaker is the one call admitted before the threads.
        assert_eq!(
            (m.admitted, m.ignored, m.rejected),
            (1 + admitted, admitted, 2 - admitted)
        );
        breaker
            .try_acquire()
            .expect("every slot given back")
            .success();
        assert_eq!(breaker.state(), State::Closed);
    });
}

#[test]
fn probe_failure_racing_a_dropped_probe_reopens_cleanly() {
    check(|| {
        let (breaker, clock) = expired_open(2);
        let b = breaker.clone();
        let failing = thread::spawn(move || {
            let _ = b.call(|| Err::<(), _>("still down"));
        });
        let b = breaker.clone();
        let dropping = thread::spawn(move || drop(b.try_acquire()));
        failing.join().unwrap();
        dropping.join().unwrap();
        // Whatever the order, the failed probe re-opened the breaker; a drop from the closed
        // episode changes nothing.
        assert_eq!(breaker.state(), State::Open);
        clock.advance(breaker.policy().open_period(1));
        let first = breaker
            .try_acquire()
            .expect("a fresh episode admits probes");
        let second = breaker.try_acquire().expect("both slots are free");
        assert_eq!(
            breaker.try_acquire().unwrap_err().reason(),
            RejectReason::HalfOpenFull
        );
        first.success();
        drop(second);
    });
}
