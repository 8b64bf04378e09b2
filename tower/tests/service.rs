//! The layer around plain `tower::service_fn` services, driven by hand: readiness, admission,
//! classification, cancellation, panics, probes and the registry constructor.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use fusebox_engine::{
    Breaker, Failure, ManualClock, Outcome, Policy, RejectReason, State, Verdict, Window,
};
use fusebox_registry::{Registry, RegistryError};
use fusebox_tower::{BreakerLayer, Error, HttpClassifier, ResultClassifier};
use futures_executor::block_on;
use tower::{Layer, Service, ServiceExt, service_fn};

/// A breaker that opens once `n` calls of a window of `n` have all failed, open for 10 s.
fn breaker(n: u32, clock: &ManualClock) -> Breaker {
    let policy = Policy::builder()
        .window(Window::count(n))
        .failure_rate_threshold(0.5)
        .min_calls(n)
        .open_timeout(Duration::from_secs(10))
        .build()
        .expect("valid policy");
    Breaker::with_clock("dep", policy, clock.clone())
}

/// Polls `fut` once with a waker that does nothing.
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn poll_ready_stays_ready_while_the_breaker_is_open_and_call_rejects() {
    let clock = ManualClock::new();
    let b = breaker(4, &clock);
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let mut svc = BreakerLayer::new(b.clone()).layer(service_fn(move |fail: bool| {
        seen.fetch_add(1, Ordering::Relaxed);
        async move { if fail { Err("down") } else { Ok(()) } }
    }));

    for _ in 0..4 {
        let r = block_on(async { svc.ready().await?.call(true).await });
        assert!(matches!(r, Err(Error::Inner("down"))));
    }
    assert_eq!(b.state(), State::Open);

    // Readiness is the inner service's: no error, no reservation, however often it is asked.
    for _ in 0..3 {
        assert!(matches!(
            svc.poll_ready(&mut Context::from_waker(Waker::noop())),
            Poll::Ready(Ok(()))
        ));
    }
    let ready = block_on(svc.ready()).expect("ready while open");
    let err = block_on(ready.call(false)).unwrap_err();
    let rejected = err.rejected().expect("a rejection");
    assert_eq!(rejected.reason(), RejectReason::Open);
    assert_eq!(rejected.retry_after(), Some(Duration::from_secs(10)));
    assert_eq!(
        calls.load(Ordering::Relaxed),
        4,
        "a rejected call never reaches the service"
    );
    assert_eq!(b.metrics().rejected, 1);
}

#[test]
fn a_cancelled_response_future_records_ignored_and_frees_its_bulkhead_slot() {
    let policy = Policy::builder().max_concurrent(1).build().unwrap();
    let b = Breaker::with_clock("slow", policy, ManualClock::new());
    let mut svc = BreakerLayer::new(b.clone()).layer(service_fn(|_: ()| {
        std::future::pending::<Result<(), Infallible>>()
    }));

    let mut first = Box::pin(block_on(svc.ready()).unwrap().call(()));
    assert!(poll_once(first.as_mut()).is_pending());
    let second = block_on(block_on(svc.ready()).unwrap().call(()));
    assert_eq!(
        second.unwrap_err().rejected().unwrap().reason(),
        RejectReason::BulkheadFull
    );

    drop(first); // the caller gave up
    let m = b.metrics();
    assert_eq!((m.ignored, m.successes, m.failures), (1, 0, 0));

    let mut third = pin!(block_on(svc.ready()).unwrap().call(()));
    assert!(poll_once(third.as_mut()).is_pending(), "the slot was freed");
}

#[test]
fn a_panic_in_the_inner_future_records_a_failure() {
    let b = Breaker::with_clock("panicky", Policy::default(), ManualClock::new());
    let mut svc = BreakerLayer::new(b.clone()).layer(service_fn(|_: ()| async {
        panic!("the handler panicked");
        #[allow(unreachable_code)]
        Ok::<(), Infallible>(())
    }));
    let mut fut = Box::pin(block_on(svc.ready()).unwrap().call(()));
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = poll_once(fut.as_mut());
    }));
    assert!(unwound.is_err());
    // Dropped after the unwind, as a runtime that caught the panic would.
    drop(fut);
    let m = b.metrics();
    assert_eq!((m.failures, m.ignored), (1, 0));
}

#[test]
fn the_default_classifier_counts_ok_as_success_and_err_as_a_failure_of_kind_error() {
    let b = Breaker::with_clock("plain", Policy::default(), ManualClock::new());
    let svc = BreakerLayer::new(b.clone()).layer(service_fn(|x: i32| async move {
        if x < 0 { Err("negative") } else { Ok(x) }
    }));
    assert_eq!(block_on(svc.clone().oneshot(3)).unwrap(), 3);
    assert!(matches!(
        block_on(svc.oneshot(-1)),
        Err(Error::Inner("negative"))
    ));
    let m = b.metrics();
    assert_eq!((m.successes, m.failures), (1, 1));
    assert_eq!(m.failures_of_kind("error"), 1);
}

#[test]
fn the_default_classifier_judges_http_responses_by_status() {
    let b = Breaker::with_clock("client", Policy::default(), ManualClock::new());
    let svc = BreakerLayer::new(b.clone()).layer(service_fn(|status: u16| async move {
        let response = http::Response::builder().status(status).body(()).unwrap();
        Ok::<_, Infallible>(response)
    }));
    for status in [200, 201, 301, 400, 404, 500, 502, 503, 408, 429] {
        let r = block_on(svc.clone().oneshot(status)).unwrap();
        assert_eq!(r.status(), status, "the response is returned as it is");
    }
    let m = b.metrics();
    assert_eq!((m.successes, m.failures), (5, 5));
    assert_eq!(m.failures_of_kind("http_5xx"), 3);
    assert_eq!(m.failures_of_kind("http_408"), 1);
    assert_eq!(m.failures_of_kind("http_429"), 1);
}

#[test]
fn a_custom_closure_classifies() {
    let b = Breaker::with_clock("custom", Policy::default(), ManualClock::new());
    let svc = BreakerLayer::new(b.clone())
        .classify(|r: &Result<u16, Infallible>| -> Verdict {
            match r {
                Ok(418) => Failure::of_kind("teapot").into(),
                Ok(500..) => Outcome::Ignored.into(),
                _ => Outcome::Success.into(),
            }
        })
        .layer(service_fn(|status: u16| async move {
            Ok::<_, Infallible>(status)
        }));
    for status in [418, 500, 200, 418] {
        block_on(svc.clone().oneshot(status)).unwrap();
    }
    let m = b.metrics();
    assert_eq!((m.successes, m.failures, m.ignored), (1, 2, 1));
    assert_eq!(m.failures_of_kind("teapot"), 2);
}

#[test]
fn a_closure_returning_an_outcome_classifies_and_a_named_classifier_can_replace_the_default() {
    let b = Breaker::with_clock("outcome", Policy::default(), ManualClock::new());
    // Statuses do not count with `ResultClassifier`: a 503 is an `Ok`.
    let statuses = BreakerLayer::new(b.clone())
        .classify(ResultClassifier)
        .layer(service_fn(|_: ()| async {
            Ok::<_, Infallible>(http::Response::builder().status(503).body(()).unwrap())
        }));
    block_on(statuses.oneshot(())).unwrap();
    assert_eq!(b.metrics().successes, 1);

    let every_err_ignored = BreakerLayer::new(b.clone())
        .classify(|r: &Result<(), &str>| {
            if r.is_ok() {
                Outcome::Success
            } else {
                Outcome::Ignored
            }
        })
        .layer(service_fn(|_: ()| async { Err::<(), _>("cancelled") }));
    let _ = block_on(every_err_ignored.oneshot(()));
    assert_eq!(b.metrics().ignored, 1);

    let http = BreakerLayer::new(b.clone())
        .classify(HttpClassifier)
        .layer(service_fn(|_: ()| async {
            Ok::<_, Infallible>(http::Response::builder().status(504).body(()).unwrap())
        }));
    block_on(http.oneshot(())).unwrap();
    assert_eq!(b.metrics().failures_of_kind("http_5xx"), 1);
}

#[test]
fn a_429_with_retry_after_keeps_the_breaker_open_at_least_that_long() {
    let clock = ManualClock::new();
    let policy = Policy::builder()
        .min_calls(1)
        .open_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let b = Breaker::with_clock("rate-limited", policy, clock.clone());
    let svc = BreakerLayer::new(b.clone()).layer(service_fn(|_: ()| async {
        let response = http::Response::builder()
            .status(429)
            .header("retry-after", "120")
            .body(())
            .unwrap();
        Ok::<_, Infallible>(response)
    }));
    block_on(svc.clone().oneshot(())).unwrap();
    assert_eq!(b.state(), State::Open);
    assert!(b.open_remaining().unwrap() >= Duration::from_secs(120));
    clock.advance(Duration::from_secs(60));
    let err = block_on(svc.oneshot(())).unwrap_err();
    assert_eq!(
        err.rejected().unwrap().retry_after(),
        Some(Duration::from_secs(60))
    );
}

#[test]
fn after_the_open_period_a_probe_goes_through_and_its_success_closes_the_breaker() {
    let clock = ManualClock::new();
    let policy = Policy::builder()
        .window(Window::count(2))
        .min_calls(2)
        .open_timeout(Duration::from_secs(10))
        .half_open_permits(1)
        .success_threshold(1)
        .build()
        .unwrap();
    let b = Breaker::with_clock("dep", policy, clock.clone());
    let svc = BreakerLayer::new(b.clone()).layer(service_fn(|fail: bool| async move {
        if fail { Err(()) } else { Ok(()) }
    }));
    for _ in 0..2 {
        let _ = block_on(svc.clone().oneshot(true));
    }
    assert_eq!(b.state(), State::Open);
    assert!(
        block_on(svc.clone().oneshot(false))
            .unwrap_err()
            .is_rejected()
    );
    clock.advance(Duration::from_secs(10));
    block_on(svc.clone().oneshot(false)).expect("the probe is admitted");
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics().successes, 1);
    block_on(svc.oneshot(false)).expect("closed again");
}

#[test]
fn from_registry_shares_the_registrys_breaker_and_passes_on_its_errors() {
    let registry = Registry::with_clock(Policy::default(), ManualClock::new());
    let layer = BreakerLayer::from_registry(&registry, "payments.eu").unwrap();
    assert!(Breaker::ptr_eq(
        layer.breaker(),
        &registry.get("payments.eu").unwrap()
    ));

    let err = BreakerLayer::from_registry(&registry, "bad name").unwrap_err();
    assert!(matches!(err, RegistryError::InvalidName { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        registry.breaker("bad name").unwrap_err().to_string()
    );
}

#[test]
fn the_error_displays_and_chains_what_it_holds() {
    let b = Breaker::with_clock("db", Policy::default(), ManualClock::new());
    b.force_open();
    let rejected: Error<std::io::Error> = b.try_acquire().unwrap_err().into();
    assert_eq!(
        rejected.to_string(),
        "breaker db rejected the call: forced open"
    );
    let inner: Error<std::io::Error> = Error::Inner(std::io::Error::other("disk on fire"));
    assert_eq!(inner.to_string(), "disk on fire");
    let source = std::error::Error::source(&inner).unwrap();
    assert_eq!(source.to_string(), "disk on fire");
    // Into tower's `BoxError`.
    let boxed: Box<dyn std::error::Error + Send + Sync> = rejected.into();
    assert!(boxed.downcast_ref::<Error<std::io::Error>>().is_some());
}

#[test]
fn services_and_futures_are_send_sync_and_static() {
    fn send_sync_static<T: Send + Sync + 'static>(_: &T) {}
    fn send_static<T: Send + 'static>(_: &T) {}
    let b = Breaker::new("bounds", Policy::default());
    let mut svc = BreakerLayer::new(b.clone())
        .layer(service_fn(|x: u32| async move { Ok::<_, Infallible>(x) }));
    send_sync_static(&svc);
    let fut = svc.call(1);
    send_static(&fut);
    assert_eq!(block_on(fut).unwrap(), 1);

    let mut status = BreakerLayer::new(b)
        .reject_with_status()
        .layer(service_fn(|_: ()| async {
            Ok::<_, Infallible>(http::Response::new(String::new()))
        }));
    send_sync_static(&status);
    let fut = status.call(());
    send_static(&fut);
    drop(fut);
}
