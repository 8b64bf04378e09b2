//! The bulkhead caps live permits and every permit frees its slot (rule 11 in
//! `fusebox_engine::docs::rules`).
//!
//! Each admitted thread counts itself into `live` (a loom atomic) right after it is admitted and
//! out right before it gives the permit back, so `live` never exceeds the permits the breaker
//! has out; the models assert it never exceeds `max_concurrent`.
#![cfg(loom)]

use std::time::Duration;

use fusebox_engine::{Breaker, ManualClock, Permit, Policy, RejectReason, State, Window};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use loom_tests::check;

/// How a thread ends its permit.
#[derive(Clone, Copy)]
enum End {
    Success,
    Failure,
    Drop,
}

fn bulkhead(max: u32) -> Breaker {
    // The default window (100, min_calls 20) cannot trip in a model this small.
    let policy = Policy::builder()
        .max_concurrent(max)
        .build()
        .expect("valid policy");
    Breaker::with_clock("bulkhead", policy, ManualClock::new())
}

/// Acquires once; if admitted, checks the cap while holding the permit, then ends it.
fn acquire_and_end(breaker: &Breaker, live: &AtomicUsize, max: usize, end: End) -> bool {
    let permit = match breaker.try_acquire() {
        Ok(permit) => permit,
        Err(rejected) => {
            assert_eq!(rejected.reason(), RejectReason::BulkheadFull);
            return false;
        }
    };
    // SeqCst: `live` is the model's own bookkeeping, not the engine's; keep it simple.
    let now = live.fetch_add(1, Ordering::SeqCst) + 1;
    assert!(now <= max, "{now} permits live, cap {max}");
    live.fetch_sub(1, Ordering::SeqCst);
    match end {
        End::Success => permit.success(),
        End::Failure => permit.failure(),
        End::Drop => drop(permit),
    }
    true
}

fn run(breaker: &Breaker, max: usize, ends: &[End]) -> u64 {
    let live = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = ends
        .iter()
        .map(|&end| {
            let (b, live) = (breaker.clone(), live.clone());
            thread::spawn(move || acquire_and_end(&b, &live, max, end))
        })
        .collect();
    handles
        .into_iter()
        .map(|h| u64::from(h.join().unwrap()))
        .sum()
}

/// After the threads: exactly `max` permits can be taken again, and no more.
fn assert_all_free(breaker: &Breaker, max: usize) {
    let held: Vec<Permit<'_>> = (0..max)
        .map(|_| breaker.try_acquire().expect("a slot was not freed"))
        .collect();
    let over = breaker.try_acquire().unwrap_err();
    assert_eq!(over.reason(), RejectReason::BulkheadFull);
    drop(held);
}

#[test]
fn one_slot_two_threads_record() {
    loom::model(|| {
        let b = bulkhead(1);
        let admitted = run(&b, 1, &[End::Success, End::Failure]);
        assert!(admitted >= 1);
        let m = b.metrics();
        assert_eq!(m.admitted, admitted);
        assert_eq!(m.successes + m.failures, admitted);
        assert_eq!(m.rejected, 2 - admitted);
        assert_all_free(&b, 1);
    });
}

#[test]
fn one_slot_freed_by_a_dropped_permit() {
    loom::model(|| {
        let b = bulkhead(1);
        let admitted = run(&b, 1, &[End::Drop, End::Success]);
        assert_eq!(b.metrics().admitted, admitted);
        assert_all_free(&b, 1);
    });
}

#[test]
fn two_slots_three_threads() {
    check(|| {
        let b = bulkhead(2);
        let admitted = run(&b, 2, &[End::Success, End::Failure, End::Drop]);
        assert!(admitted >= 2);
        let m = b.metrics();
        assert_eq!((m.admitted, m.rejected), (admitted, 3 - admitted));
        assert_all_free(&b, 2);
    });
}

#[test]
fn half_open_probe_turned_away_by_the_bulkhead_gives_its_probe_slot_back() {
    loom::model(|| {
        // Two probe slots but one bulkhead slot: a probe admitted by the state word and then
        // turned away by the bulkhead must release its probe slot.
        let clock = ManualClock::new();
        let policy = Policy::builder()
            .window(Window::count(1))
            .min_calls(1)
            .open_timeout(Duration::from_secs(1))
            .half_open_permits(2)
            .success_threshold(2)
            .max_concurrent(1)
            .build()
            .expect("valid policy");
        let b = Breaker::with_clock("probes", policy, clock.clone());
        let _ = b.call(|| Err::<(), _>("down"));
        assert_eq!(b.state(), State::Open);
        clock.advance(Duration::from_secs(1));
        let admitted = run(&b, 1, &[End::Drop, End::Drop]);
        assert!(admitted >= 1);
        assert_eq!(b.state(), State::HalfOpen);
        // Both probe slots and the bulkhead slot are free: while one probe is out, the next
        // acquire gets a probe slot (a leaked slot would make it HalfOpenFull) and is turned
        // away by the bulkhead; two probe successes close the breaker.
        for _ in 0..2 {
            let probe = b.try_acquire().expect("probe slot and bulkhead slot");
            let over = b.try_acquire().unwrap_err();
            assert_eq!(over.reason(), RejectReason::BulkheadFull);
            probe.success();
        }
        assert_eq!(b.state(), State::Closed);
    });
}
