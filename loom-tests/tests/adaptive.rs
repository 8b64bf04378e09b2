//! The adaptive bulkhead (`fusebox_engine::AdaptiveLimit`): the limit's recomputation racing
//! admissions and completions. Under loom a window is 2 calls, so a few calls close windows
//! concurrently.
//!
//! - Every completed call lands in exactly one window, and the one call that fills a window
//!   is the one thread that recomputes the limit from it: the windows closed and the calls
//!   pending account for every call, none twice, and the limit is the one the windows give
//!   when each is applied exactly once.
//! - Calls in flight never exceed the cap of the limit in force at admission (plus the
//!   reserve for a critical call), while that limit falls; every slot comes back.
#![cfg(loom)]

use fusebox_engine::{
    AdaptiveLimit, Breaker, LimitAlgorithm, ManualClock, Permit, Policy, Priority, RejectReason,
};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicU32, Ordering};
use loom::thread;
use loom_tests::check;

/// An AIMD limit from `initial` (its max) down to 1, on a breaker that never trips: every
/// call fails, and each window of failures multiplies the limit by 0.9.
fn adaptive(initial: u32) -> Breaker {
    let limit = AdaptiveLimit::new(LimitAlgorithm::Aimd)
        .with_min(1)
        .with_max(initial)
        .with_initial(initial);
    let policy = Policy::builder()
        .adaptive_limit(limit)
        .build()
        .expect("valid policy");
    let b = Breaker::with_clock("adaptive", policy, ManualClock::new());
    b.metrics_only();
    b
}

/// The cap of `priority` under a limit of `limit` (see `Priority`).
fn cap(priority: Priority, limit: u32) -> u32 {
    match priority {
        Priority::Low => (limit * 8 / 10).max(1),
        Priority::Normal => limit,
        Priority::Critical => limit + limit.div_ceil(10).max(1),
    }
}

/// One failing call at `priority`; if admitted, checks the calls live against `most`, the
/// cap of every thread of the model. Returns whether it was admitted.
fn call(breaker: &Breaker, live: &AtomicU32, priority: Priority, most: u32) -> bool {
    let permit = match breaker.try_acquire_with(priority) {
        Ok(permit) => permit,
        Err(rejected) => {
            assert_eq!(rejected.reason(), RejectReason::BulkheadFull);
            return false;
        }
    };
    // SeqCst: `live` is the model's own bookkeeping, not the engine's.
    let now = live.fetch_add(1, Ordering::SeqCst) + 1;
    assert!(now <= most, "{now} live at {priority:?}, cap {most}");
    live.fetch_sub(1, Ordering::SeqCst);
    permit.failure();
    true
}

/// Three threads call at `priority` on a limit of 2 that the first window of failures
/// brings down to 1 (2 × 0.9); the limit only falls, so every admission's cap is at most
/// the one of 2.
fn three_callers(priority: Priority) {
    let b = adaptive(2);
    let most = cap(priority, 2);
    let live = Arc::new(AtomicU32::new(0));
    let spawn = || {
        let (b, live) = (b.clone(), live.clone());
        thread::spawn(move || u64::from(call(&b, &live, priority, most)))
    };
    let (x, y) = (spawn(), spawn());
    let here = u64::from(call(&b, &live, priority, most));
    let admitted = here + x.join().unwrap() + y.join().unwrap();
    assert!(admitted >= 1);
    let (limit, windows, pending) = b.loom_adaptive();
    assert_eq!(
        windows * 2 + u64::from(pending),
        admitted,
        "every call in one window"
    );
    assert_eq!(limit, if windows == 0 { 2 } else { 1 });
    assert_eq!(b.metrics().failures, admitted);
    assert_all_free(&b);
}

/// After the threads: exactly the limit's permits can be taken again, then one critical
/// permit into the reserve, and no more.
fn assert_all_free(breaker: &Breaker) {
    let (limit, _, _) = breaker.loom_adaptive();
    let held: Vec<Permit<'_>> = (0..limit)
        .map(|_| breaker.try_acquire().expect("a slot was not freed"))
        .collect();
    assert_eq!(
        breaker.try_acquire().unwrap_err().reason(),
        RejectReason::BulkheadFull
    );
    let reserve = breaker
        .try_acquire_with(Priority::Critical)
        .expect("the reserve");
    assert!(breaker.try_acquire_with(Priority::Critical).is_err());
    drop((held, reserve));
}

#[test]
fn windows_closed_at_once_are_each_applied_exactly_once() {
    check(|| {
        // A limit of 10 never binds two threads: all four calls are admitted.
        let b = adaptive(10);
        let live = Arc::new(AtomicU32::new(0));
        let t = {
            let (b, live) = (b.clone(), live.clone());
            thread::spawn(move || {
                assert!(call(&b, &live, Priority::Normal, 10));
                assert!(call(&b, &live, Priority::Normal, 10));
            })
        };
        assert!(call(&b, &live, Priority::Normal, 10));
        assert!(call(&b, &live, Priority::Normal, 10));
        t.join().unwrap();
        // Four calls, two windows, none pending; 10 × 0.9 × 0.9 = 8.1.
        assert_eq!(b.loom_adaptive(), (8, 2, 0));
    });
}

#[test]
fn normal_calls_stay_under_a_falling_limit_and_every_slot_comes_back() {
    check(|| three_callers(Priority::Normal));
}

#[test]
fn low_calls_stay_under_their_share_of_a_falling_limit() {
    check(|| three_callers(Priority::Low));
}

#[test]
fn critical_calls_use_the_reserve_of_a_falling_limit() {
    check(|| three_callers(Priority::Critical));
}
