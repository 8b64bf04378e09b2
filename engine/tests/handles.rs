//! Breakers as handles: clones share one breaker, owned permits move into threads and futures
//! and keep their breaker alive, and `call_async`'s future borrows nothing.

use std::future::Future;
use std::time::Duration;

use fusebox_engine::{
    Breaker, CallError, ManualClock, OwnedPermit, Policy, RejectReason, Rejected, State, Window,
};

fn assert_handle<T: Clone + Send + Sync + 'static>() {}
fn assert_send_static<T: Send + 'static>() {}
fn assert_static_send_future<F: Future + Send + 'static>(f: F) -> F {
    f
}

fn one_probe(clock: &ManualClock) -> Breaker {
    let policy = Policy::builder()
        .window(Window::count(2))
        .min_calls(2)
        .open_timeout(Duration::from_secs(5))
        .half_open_permits(1)
        .success_threshold(1)
        .build()
        .unwrap();
    Breaker::with_clock("probe", policy, clock.clone())
}

#[test]
fn handles_and_owned_permits_are_what_tasks_need() {
    assert_handle::<Breaker>();
    assert_send_static::<OwnedPermit>();
    assert_send_static::<Rejected>();
    assert_eq!(
        std::mem::size_of::<Breaker>(),
        std::mem::size_of::<usize>(),
        "a handle is one pointer"
    );
}

#[test]
fn clones_share_one_breaker() {
    let a = Breaker::with_clock("db", Policy::default(), ManualClock::new());
    let b = a.clone();
    assert!(Breaker::ptr_eq(&a, &b));
    assert_eq!(a.handle_count(), 2);
    b.force_open();
    assert_eq!(a.state(), State::ForcedOpen);
    let other = Breaker::with_clock("db", Policy::default(), ManualClock::new());
    assert!(!Breaker::ptr_eq(&a, &other));
    drop(b);
    assert_eq!(a.handle_count(), 1);
}

#[test]
fn an_owned_permit_records_from_another_thread_and_keeps_the_breaker_alive() {
    let clock = ManualClock::new();
    let breaker = one_probe(&clock);
    let permit = breaker.try_acquire_owned().unwrap();
    assert_eq!(breaker.handle_count(), 2);
    drop(breaker);
    let breaker = std::thread::spawn(move || {
        let breaker = permit.breaker().clone();
        permit.failure();
        breaker
    })
    .join()
    .unwrap();
    assert_eq!(breaker.metrics().failures, 1);
    assert_eq!(
        breaker.handle_count(),
        1,
        "recording released the permit's handle"
    );
}

#[test]
fn every_way_an_owned_permit_ends_records_once_and_gives_its_handle_back_once() {
    use fusebox_engine::{Failure, Outcome, Verdict};
    let breaker = Breaker::with_clock("db", Policy::default(), ManualClock::new());
    let ends: [fn(OwnedPermit); 6] = [
        |p| p.success(),
        |p| p.failure(),
        |p| p.record(Outcome::Ignored),
        |p| p.failure_with(Failure::of_kind("timeout")),
        |p| p.record_verdict(Verdict::Success),
        drop,
    ];
    for end in ends {
        let permit = breaker.try_acquire_owned().unwrap();
        assert_eq!(breaker.handle_count(), 2);
        end(permit);
        assert_eq!(breaker.handle_count(), 1);
    }
    let m = breaker.metrics();
    assert_eq!((m.successes, m.failures, m.ignored), (2, 2, 2));
    assert_eq!(m.failures_of_kind("timeout"), 1);
}

#[test]
fn a_dropped_owned_permit_gives_back_its_probe_and_bulkhead_slots() {
    let clock = ManualClock::new();
    let breaker = one_probe(&clock);
    for _ in 0..2 {
        breaker.try_acquire().unwrap().failure();
    }
    clock.advance(Duration::from_secs(5));
    let probe = breaker.try_acquire_owned().unwrap();
    assert_eq!(breaker.state(), State::HalfOpen);
    assert_eq!(
        breaker.try_acquire_owned().unwrap_err().reason(),
        RejectReason::HalfOpenFull
    );
    std::thread::spawn(move || drop(probe)).join().unwrap();
    assert_eq!(breaker.metrics().ignored, 1);
    breaker.try_acquire_owned().unwrap().success();
    assert_eq!(breaker.state(), State::Closed);

    let bulkhead = Breaker::with_clock(
        "pool",
        Policy::builder().max_concurrent(1).build().unwrap(),
        ManualClock::new(),
    );
    let held = bulkhead.try_acquire_owned().unwrap();
    assert_eq!(
        bulkhead.try_acquire().unwrap_err().reason(),
        RejectReason::BulkheadFull
    );
    drop(held);
    bulkhead.try_acquire_owned().unwrap().success();
}

#[test]
fn call_async_returns_a_static_future_that_can_move_to_another_thread() {
    let breaker = Breaker::with_clock("async", Policy::default(), ManualClock::new());
    let fut = assert_static_send_future(breaker.call_async(async { Err::<(), _>("down") }));
    drop(breaker.clone());
    let r = std::thread::spawn(move || futures_executor::block_on(fut))
        .join()
        .unwrap();
    assert!(matches!(r, Err(CallError::Failed("down"))));
    assert_eq!(breaker.metrics().failures, 1);
    assert_eq!(
        breaker.handle_count(),
        1,
        "the finished future released its handle"
    );
}

#[test]
fn a_cancelled_call_async_records_ignored() {
    let breaker = Breaker::with_clock("async", Policy::default(), ManualClock::new());
    let mut fut = Box::pin(breaker.call_async(std::future::pending::<Result<(), ()>>()));
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    drop(fut);
    let m = breaker.metrics();
    assert_eq!((m.admitted, m.ignored, m.failures), (1, 1, 0));
}

#[test]
fn retry_after_counts_down_to_a_fixed_deadline_on_the_breakers_clock() {
    let clock = ManualClock::new();
    let breaker = one_probe(&clock);
    for _ in 0..2 {
        breaker.try_acquire().unwrap().failure();
    }
    let rejected = breaker.try_acquire().unwrap_err();
    assert_eq!(rejected.retry_after(), Some(Duration::from_secs(5)));
    clock.advance(Duration::from_secs(2));
    assert_eq!(rejected.retry_after(), Some(Duration::from_secs(3)));
    clock.advance(Duration::from_secs(9));
    assert_eq!(rejected.retry_after(), Some(Duration::ZERO));
}

#[test]
fn the_builder_sets_clock_striping_and_packing() {
    let clock = ManualClock::new();
    let b = Breaker::builder("hot", Policy::default())
        .clock(clock.clone())
        .striped()
        .build();
    assert!(b.is_striped());
    clock.advance(Duration::from_secs(7));
    assert_eq!(b.now(), Duration::from_secs(7));
    assert!(
        !Breaker::builder("cold", Policy::default())
            .build()
            .is_striped()
    );
    assert!(!b.is_compact());
    let packed = Breaker::builder("tenant", Policy::default())
        .clock(clock.clone())
        .striped()
        .compact()
        .build();
    assert!(packed.is_compact() && packed.is_striped());
    assert!(packed.heap_bytes() < b.heap_bytes());
}
