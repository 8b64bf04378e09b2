//! Live policy swap: every field takes effect at the very next acquire or outcome, and a swap
//! storm under load loses no count, breaks no permit and silences no subscriber.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use fusebox_engine::{
    Backoff, Breaker, CallError, ManualClock, Outcome, Policy, PolicyBuilder, Recovery,
    RejectReason, State, TransitionReason, Window,
};

fn build(b: PolicyBuilder) -> Policy {
    b.build().expect("valid policy")
}

fn closed(b: PolicyBuilder) -> (Breaker, ManualClock) {
    let clock = ManualClock::new();
    (Breaker::with_clock("swap", build(b), clock.clone()), clock)
}

fn fail(b: &Breaker, n: usize) {
    for _ in 0..n {
        let _ = b.call(|| Err::<(), _>(()));
    }
}

fn open_period(b: &Breaker) -> Duration {
    b.open_remaining().expect("open")
}

#[test]
fn min_calls_change_is_seen_at_the_next_outcome() {
    let (b, _) = closed(Policy::builder().window(Window::count(10)).min_calls(10));
    fail(&b, 4);
    assert_eq!(b.state(), State::Closed);
    b.set_policy(build(
        Policy::builder().window(Window::count(10)).min_calls(5),
    ));
    fail(&b, 1);
    assert_eq!(
        b.state(),
        State::Open,
        "5 failures of 5 calls with min_calls 5"
    );
}

#[test]
fn consecutive_failures_change_is_seen_at_the_next_outcome() {
    let (b, _) = closed(Policy::builder().min_calls(100));
    fail(&b, 2);
    b.set_policy(build(
        Policy::builder().min_calls(100).consecutive_failures(2),
    ));
    fail(&b, 1);
    assert_eq!(
        b.state(),
        State::Closed,
        "the run starts when the rule is switched on"
    );
    fail(&b, 1);
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.metrics().failures, 4);
}

#[test]
fn slow_rule_is_seen_at_the_next_acquire() {
    let (b, clock) = closed(Policy::builder().window(Window::count(4)).min_calls(4));
    b.set_policy(build(
        Policy::builder()
            .window(Window::count(4))
            .min_calls(4)
            .slow_calls(Duration::from_millis(100), 0.5),
    ));
    for _ in 0..4 {
        let p = b.try_acquire().unwrap();
        clock.advance(Duration::from_millis(150));
        p.success();
    }
    assert_eq!(b.state(), State::Open);
    let m = b.metrics();
    assert_eq!((m.slow, m.window_slow, m.successes), (4, 4, 4));
}

#[test]
fn open_timeout_backoff_and_jitter_apply_to_the_next_open_period() {
    let (b, clock) = closed(
        Policy::builder()
            .window(Window::count(2))
            .min_calls(2)
            .open_timeout(Duration::from_secs(10))
            .half_open_permits(1)
            .success_threshold(1),
    );
    fail(&b, 2);
    assert_eq!(open_period(&b), Duration::from_secs(10));
    b.set_policy(build(
        Policy::builder()
            .window(Window::count(2))
            .min_calls(2)
            .open_timeout(Duration::from_secs(4))
            .backoff(Backoff::exponential(3.0, Duration::from_secs(100)))
            .half_open_permits(1)
            .success_threshold(1),
    ));
    assert_eq!(
        open_period(&b),
        Duration::from_secs(4),
        "a shorter open_timeout shortens the period under way"
    );
    clock.advance(Duration::from_secs(4));
    b.try_acquire().expect("probe").failure();
    assert_eq!(
        open_period(&b),
        Duration::from_secs(12),
        "4 s × 3¹ at step 1"
    );
    b.set_policy(build(
        Policy::builder()
            .window(Window::count(2))
            .min_calls(2)
            .open_timeout(Duration::from_secs(4))
            .backoff(Backoff::exponential(3.0, Duration::from_secs(100)))
            .jitter(0.5)
            .half_open_permits(1)
            .success_threshold(1),
    ));
    clock.advance(Duration::from_secs(12));
    b.try_acquire().expect("probe").failure();
    let p = open_period(&b);
    assert!(
        p >= Duration::from_secs(18) && p <= Duration::from_secs(54),
        "36 s ± 50 %, got {p:?}"
    );
}

#[test]
fn half_open_permits_and_success_threshold_apply_at_the_next_acquire() {
    let base = || {
        Policy::builder()
            .window(Window::count(2))
            .min_calls(2)
            .open_timeout(Duration::from_secs(1))
    };
    let (b, clock) = closed(base().half_open_permits(1).success_threshold(1));
    fail(&b, 2);
    clock.advance(Duration::from_secs(1));
    let p1 = b.try_acquire().expect("first probe");
    assert_eq!(
        b.try_acquire().unwrap_err().reason(),
        RejectReason::HalfOpenFull
    );
    b.set_policy(build(base().half_open_permits(3).success_threshold(3)));
    let p2 = b.try_acquire().expect("a second slot after the swap");
    let p3 = b.try_acquire().expect("a third slot");
    assert_eq!(
        b.try_acquire().unwrap_err().reason(),
        RejectReason::HalfOpenFull
    );
    p1.success();
    p2.success();
    assert_eq!(b.state(), State::HalfOpen, "3 successes are needed now");
    p3.success();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn bulkhead_grows_at_once_and_shrinks_as_permits_finish() {
    let (b, _) = closed(Policy::builder().max_concurrent(1));
    let a = b.try_acquire().unwrap();
    assert_eq!(
        b.try_acquire().unwrap_err().reason(),
        RejectReason::BulkheadFull
    );
    b.set_policy(build(Policy::builder().max_concurrent(3)));
    let c = b.try_acquire().expect("grown");
    let d = b.try_acquire().expect("grown");
    b.set_policy(build(Policy::builder().max_concurrent(2)));
    assert_eq!(
        b.try_acquire().unwrap_err().reason(),
        RejectReason::BulkheadFull,
        "3 alive, limit 2"
    );
    a.success();
    assert_eq!(
        b.try_acquire().unwrap_err().reason(),
        RejectReason::BulkheadFull,
        "2 alive, limit 2"
    );
    c.success();
    let e = b.try_acquire().expect("1 alive, limit 2");
    d.success();
    e.success();
    assert_eq!(b.metrics().successes, 4);
}

#[test]
fn recovery_ramp_switched_on_and_off_applies_to_the_next_close_and_acquire() {
    let base = || {
        Policy::builder()
            .window(Window::count(2))
            .min_calls(2)
            .open_timeout(Duration::from_secs(1))
            .half_open_permits(1)
            .success_threshold(1)
    };
    let (b, clock) = closed(base());
    fail(&b, 2);
    b.set_policy(build(
        base().recovery(Recovery::ramp(Duration::from_secs(10), 0.5)),
    ));
    clock.advance(Duration::from_secs(1));
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Recovering);
    let admitted = (0..10).filter(|_| b.try_acquire().is_ok()).count();
    assert_eq!(admitted, 5, "half of 10 at the start of the ramp");
    b.set_policy(build(base()));
    assert!(b.try_acquire().is_ok());
    assert_eq!(
        b.state(),
        State::Closed,
        "the ramp ends when it is switched off"
    );
}

#[test]
fn window_shape_change_starts_empty_and_same_shape_keeps_counts() {
    let (b, _) = closed(Policy::builder().window(Window::count(10)).min_calls(10));
    fail(&b, 3);
    b.set_policy(build(
        Policy::builder()
            .window(Window::count(10))
            .min_calls(10)
            .failure_rate_threshold(0.9),
    ));
    assert_eq!(b.metrics().window_failures, 3);
    b.set_policy(build(
        Policy::builder().window(Window::count(20)).min_calls(10),
    ));
    assert_eq!(b.metrics().window_calls, 0);
    b.set_policy(build(
        Policy::builder().window(Window::count(10)).min_calls(10),
    ));
    assert_eq!(
        b.metrics().window_calls,
        0,
        "a store used before is reused empty"
    );
    assert_eq!(b.metrics().failures, 3, "counters survive every swap");
}

/// Two threads call continuously while a third swaps between two policies of different
/// shapes and thresholds; at the end every counter matches what the callers saw.
#[test]
fn swap_storm_under_load_keeps_exact_counts_and_subscribers() {
    const SWAPS: u64 = 100_000;

    let a = build(
        Policy::builder()
            .window(Window::count(100))
            .min_calls(50)
            .failure_rate_threshold(0.6)
            .open_timeout(Duration::from_millis(1))
            .half_open_permits(4)
            .success_threshold(2),
    );
    let b_policy = build(
        Policy::builder()
            .window(Window::count(64))
            .min_calls(20)
            .failure_rate_threshold(0.3)
            .consecutive_failures(5)
            .max_concurrent(8)
            .open_timeout(Duration::from_millis(2))
            .half_open_permits(2)
            .success_threshold(1),
    );
    let clock = ManualClock::new();
    let breaker = Breaker::with_clock("storm", a.clone(), clock.clone());
    let events = breaker.subscribe();
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(3));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let rejected = Arc::new(AtomicU64::new(0));

    let callers: Vec<_> = (0..2u64)
        .map(|t| {
            let (breaker, stop, barrier) = (breaker.clone(), stop.clone(), barrier.clone());
            let (ok, failed, rejected, clock) =
                (ok.clone(), failed.clone(), rejected.clone(), clock.clone());
            thread::spawn(move || {
                let mut x = 0x2545_f491_4f6c_dd1d_u64 ^ t;
                barrier.wait();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let failure = x % 100 < 35;
                    match breaker.call(|| if failure { Err(()) } else { Ok(()) }) {
                        Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                        Err(CallError::Failed(())) => failed.fetch_add(1, Ordering::Relaxed),
                        Err(CallError::Rejected(_)) => rejected.fetch_add(1, Ordering::Relaxed),
                    };
                    n += 1;
                    if n.is_multiple_of(256) {
                        clock.advance(Duration::from_micros(500));
                    }
                }
            })
        })
        .collect();

    barrier.wait();
    for i in 0..SWAPS {
        breaker.set_policy(if i % 2 == 0 {
            b_policy.clone()
        } else {
            a.clone()
        });
    }
    stop.store(true, Ordering::Relaxed);
    for c in callers {
        c.join().expect("no caller panicked");
    }

    let m = breaker.metrics();
    let (ok, failed, rejected) = (
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        rejected.load(Ordering::Relaxed),
    );
    assert_eq!(m.successes, ok);
    assert_eq!(m.failures, failed);
    assert_eq!(m.rejected, rejected);
    assert_eq!(m.admitted, ok + failed);
    assert!(ok + failed + rejected > 0);

    // Subscribers kept receiving: at least one transition per trip, all well formed.
    let transitions: Vec<_> = events.try_iter().collect();
    assert!(
        transitions.iter().all(|t| t.from != t.to),
        "only changes of state are sent"
    );
    let opened = transitions.iter().filter(|t| t.to == State::Open).count();
    assert!(
        opened > 0,
        "with 35 % failures the breaker opened at least once"
    );
    breaker.force_open();
    assert_eq!(
        events.try_recv().map(|t| t.reason).ok(),
        Some(TransitionReason::ForcedOpen),
        "the subscription survives the swaps"
    );
    let _ = Outcome::Ignored;
}

/// A breaker never called has no window store yet: a swap to another window shape gives it
/// one of the new shape, which every later record goes into.
#[test]
fn a_swap_before_the_first_call_gives_the_window_its_new_shape() {
    let (b, _clock) = closed(Policy::builder().window(Window::count(2)).min_calls(2));
    b.set_policy(build(
        Policy::builder().window(Window::count(8)).min_calls(8),
    ));
    fail(&b, 3);
    let m = b.metrics();
    assert_eq!((m.window_calls, m.window_failures), (3, 3));
    assert_eq!(m.state, State::Closed, "8 calls needed");
    // And back, with a store made since: the first shape is the breaker's first store.
    b.set_policy(build(
        Policy::builder().window(Window::count(2)).min_calls(2),
    ));
    fail(&b, 1);
    assert_eq!(b.metrics().window_calls, 1, "the new shape starts empty");
}
