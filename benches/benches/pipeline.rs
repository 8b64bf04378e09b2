//! The call pipeline's costs, each group with the floor in the same run: a closed call with
//! and without a rate limit (one clock read and one compare-exchange more), and `run` against
//! `call_async` for a call that succeeds at once (no timeout, no retry).
//!
//! `cargo bench -p fusebox-benches --bench pipeline`
//!
//! Breakers are the handles a `Registry` hands out, `black_box`ed per iteration; results are
//! consumed by a `match`. Futures are polled once with a no-op waker: the guarded future is
//! ready at once, so the figure is the pipeline's own work.

mod common;

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use common::builder;
use criterion::{criterion_group, criterion_main};
use fusebox::{Breaker, CallError, RateLimit, Registry, RunError};
use fusebox_benches::{Floor, consume};

fn breaker(policy: fusebox::PolicyBuilder) -> Breaker {
    Registry::new(policy.build().expect("valid policy"))
        .breaker("pipeline")
        .expect("a valid name")
}

/// Polls a future that must be ready at once.
#[inline(always)]
fn ready<F: Future>(fut: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(fut).poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => unreachable!("the guarded future is ready at once"),
    }
}

fn rate_limit(c: &mut criterion::Criterion) {
    let mut g = c.benchmark_group("rate_limit");
    let floor = Floor::default();
    g.bench_function("floor", |b| b.iter(|| black_box(black_box(&floor).call())));
    let off = breaker(builder());
    g.bench_function("closed call, no rate limit", |b| {
        b.iter(|| black_box(consume(black_box(&off).call(|| Ok(black_box(1u32))))))
    });
    // A limit no benchmark reaches: every call takes a token and is admitted.
    let on = breaker(builder().rate_limit(RateLimit::new(
        1_000_000_000,
        Duration::from_secs(1),
        1_000_000,
    )));
    g.bench_function("closed call, rate limit", |b| {
        b.iter(|| black_box(consume(black_box(&on).call(|| Ok(black_box(1u32))))))
    });
    assert_eq!(on.metrics().rejected, 0);
    g.finish();
}

fn run_vs_call_async(c: &mut criterion::Criterion) {
    let mut g = c.benchmark_group("run");
    let floor = Floor::default();
    g.bench_function("floor", |b| b.iter(|| black_box(black_box(&floor).call())));
    let b1 = breaker(builder());
    g.bench_function("call_async", |b| {
        b.iter(|| {
            let r = ready(black_box(&b1).call_async(async { Ok::<_, ()>(black_box(1u32)) }));
            black_box(match r {
                Ok(v) => v,
                Err(CallError::Rejected(_)) => 2,
                Err(CallError::Failed(())) => 3,
            })
        })
    });
    g.bench_function("run", |b| {
        b.iter(|| {
            let r = ready(black_box(&b1).run(|| async { Ok::<_, ()>(black_box(1u32)) }));
            black_box(match r {
                Ok(v) => v,
                Err(RunError::Rejected { .. }) => 2,
                Err(_) => 3,
            })
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = rate_limit, run_vs_call_async
}
criterion_main!(benches);
