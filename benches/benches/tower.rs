//! The per-call overhead of fusebox's tower layer against tower-resilience's, in one run,
//! with the floor beside them: a closed breaker and a successful call to a ready
//! `tower::service_fn`.
//!
//! `cargo bench -p fusebox-benches --bench tower`
//!
//! Every contender is driven the same way: `poll_ready` and `call` on the service, then one
//! poll of the response future with a no-op waker (each future is ready on its first poll; a
//! `Pending` panics), and the result consumed by a `match` on the contender's own error type.
//! The service and the input are `black_box`ed per iteration.
//!
//! - `bare`: the `service_fn` alone, returning `std::future::ready(Ok(x))`. The overhead of a
//!   layer is its figure minus this one.
//! - `fusebox`: `BreakerLayer` around it, its breaker the handle a `Registry` returns (as
//!   users get one), with the reference configuration (`Window::count(100)`, 50 %,
//!   `min_calls(100)`, a 1 h open period) and the default classifier.
//! - `tower_resilience`: `tower-resilience-circuitbreaker` 0.14's `CircuitBreakerLayer` around
//!   the same `service_fn`, as close to that as it allows: `SlidingWindowType::CountBased`,
//!   `sliding_window_size(100)`, `failure_rate_threshold(0.5)`,
//!   `minimum_number_of_calls(100)`, `wait_duration_in_open(1 h)`, its default classifier
//!   (`Err` is a failure).

mod common;

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use common::policy;
use criterion::{Criterion, criterion_group, criterion_main};
use fusebox::tower::{BreakerLayer, Error};
use fusebox::{Registry, State};
use fusebox_benches::Floor;
use tower::{Layer, Service, service_fn};
use tower_resilience_circuitbreaker::{
    CircuitBreakerError, CircuitBreakerLayer, CircuitState, SlidingWindowType,
};

const OPEN_PERIOD: Duration = Duration::from_secs(3600);

/// Readiness, `call` and one poll of the response future, with a no-op waker.
#[inline(always)]
fn drive<S: Service<u32>>(svc: &mut S, x: u32) -> Result<S::Response, S::Error> {
    let mut cx = Context::from_waker(Waker::noop());
    match svc.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        Poll::Ready(Err(e)) => return Err(e),
        Poll::Pending => panic!("every contender is ready at once"),
    }
    let mut fut = pin!(svc.call(x));
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(r) => r,
        Poll::Pending => panic!("every response future is ready on its first poll"),
    }
}

/// What a caller does with the bare service's result.
#[inline(always)]
fn consume_bare(r: Result<u32, ()>) -> u32 {
    r.unwrap_or(3)
}

/// What a caller does with fusebox's result.
#[inline(always)]
fn consume_fusebox(r: Result<u32, Error<()>>) -> u32 {
    match r {
        Ok(v) => v,
        Err(Error::Rejected(_)) => 2,
        Err(Error::Inner(())) => 3,
    }
}

/// What a caller does with tower-resilience's result.
#[inline(always)]
fn consume_tower_resilience(r: Result<u32, CircuitBreakerError<()>>) -> u32 {
    match r {
        Ok(v) => v,
        Err(CircuitBreakerError::OpenCircuit) => 2,
        Err(CircuitBreakerError::Inner(())) => 3,
    }
}

fn closed(c: &mut Criterion) {
    let mut g = c.benchmark_group("tower_closed");
    let bare = || service_fn(|x: u32| std::future::ready(Ok::<u32, ()>(x)));

    let floor = Floor::default();
    g.bench_function("floor", |b| b.iter(|| black_box(black_box(&floor).call())));

    let mut svc = bare();
    g.bench_function("bare", |b| {
        b.iter(|| black_box(consume_bare(drive(black_box(&mut svc), black_box(1)))))
    });

    let registry = Registry::new(policy());
    let mut svc = BreakerLayer::from_registry(&registry, "tower")
        .expect("a valid name in an unbounded registry")
        .layer(bare());
    g.bench_function("fusebox", |b| {
        b.iter(|| black_box(consume_fusebox(drive(black_box(&mut svc), black_box(1)))))
    });
    assert_eq!(svc.breaker().state(), State::Closed);
    assert_eq!(svc.breaker().metrics().failures, 0);

    let layer = CircuitBreakerLayer::builder()
        .sliding_window_type(SlidingWindowType::CountBased)
        .sliding_window_size(100)
        .failure_rate_threshold(0.5)
        .minimum_number_of_calls(100)
        .wait_duration_in_open(OPEN_PERIOD)
        .build()
        .expect("a valid configuration");
    let mut svc = layer.layer(bare());
    g.bench_function("tower_resilience", |b| {
        b.iter(|| {
            black_box(consume_tower_resilience(drive(
                black_box(&mut svc),
                black_box(1),
            )))
        })
    });
    assert_eq!(svc.state_sync(), CircuitState::Closed);
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = closed
}
criterion_main!(benches);
