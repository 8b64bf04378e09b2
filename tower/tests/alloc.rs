//! The layer allocates nothing of its own: not on an admitted call, not on a rejection, not on
//! a cancellation. Measured with a counting global allocator, on a ready `service_fn`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use fusebox_engine::{Breaker, Policy};
use fusebox_test_support::{Counting, allocs, counting};
use fusebox_tower::BreakerLayer;
use tower::{Layer, Service, service_fn};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Readiness, `call` and one poll to completion, as a caller drives a service.
fn drive<S: Service<u32>>(svc: &mut S, x: u32) -> Result<S::Response, S::Error> {
    let mut cx = Context::from_waker(Waker::noop());
    match svc.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        Poll::Ready(Err(e)) => return Err(e),
        Poll::Pending => panic!("a service_fn is always ready"),
    }
    let mut fut = pin!(svc.call(x));
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(r) => r,
        Poll::Pending => panic!("a ready future completes on its first poll"),
    }
}

#[test]
fn admitted_rejected_and_cancelled_calls_allocate_nothing() {
    // The default clock, as in production; a short name is copied into rejections inline.
    let b = Breaker::new("db", Policy::default());
    let mut svc = BreakerLayer::new(b.clone()).layer(service_fn(|x: u32| {
        std::future::ready(Ok::<_, Infallible>(x))
    }));
    drive(&mut svc, 0).unwrap(); // anything lazily set up once

    counting(true);
    let before = allocs();
    for i in 0..1000 {
        assert_eq!(drive(&mut svc, i).unwrap(), i);
    }
    let admitted = allocs() - before;

    let fut = svc.call(1);
    drop(fut);
    let cancelled = allocs() - before - admitted;
    counting(false);

    b.force_open();
    assert!(drive(&mut svc, 2).is_err()); // the first rejection after a change may set up
    counting(true);
    let before = allocs();
    for i in 0..1000 {
        assert!(drive(&mut svc, i).unwrap_err().is_rejected());
    }
    let rejected = allocs() - before;
    counting(false);

    assert_eq!((admitted, cancelled, rejected), (0, 0, 0));
    let m = b.metrics();
    assert_eq!((m.successes, m.ignored, m.rejected), (1001, 1, 1001));
}
