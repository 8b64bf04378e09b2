//! Adaptive limits: a closed call on a breaker with an adaptive bulkhead (AIMD, which reads
//! no clock; Gradient2 and Vegas, which time one admission in 8 per thread) against a static
//! bulkhead and no bulkhead, with the floor in the same run.
//!
//! `cargo bench -p fusebox-benches --bench adaptive`
//!
//! Breakers are the handles a `Registry` hands out, on the process clock (quanta), the
//! handle `black_box`ed per iteration; results are consumed by a `match`. Calls run one at a
//! time, so calls in flight never come near the limit: it stays at `initial` (the algorithm's
//! recomputation still runs once every 32 calls).

mod common;

use std::hint::black_box;

use common::builder;
use criterion::{criterion_group, criterion_main};
use fusebox::{AdaptiveLimit, Breaker, LimitAlgorithm, Priority, Registry};
use fusebox_benches::{Floor, consume};

fn breaker(policy: fusebox::PolicyBuilder) -> Breaker {
    Registry::new(policy.build().expect("valid policy"))
        .breaker("adaptive")
        .expect("a valid name")
}

fn adaptive(c: &mut criterion::Criterion) {
    let mut g = c.benchmark_group("adaptive");
    let floor = Floor::default();
    g.bench_function("floor", |b| b.iter(|| black_box(black_box(&floor).call())));
    let none = breaker(builder());
    g.bench_function("closed call, no bulkhead", |b| {
        b.iter(|| black_box(consume(black_box(&none).call(|| Ok(black_box(1u32))))))
    });
    let fixed = breaker(builder().max_concurrent(64));
    g.bench_function("closed call, static bulkhead", |b| {
        b.iter(|| black_box(consume(black_box(&fixed).call(|| Ok(black_box(1u32))))))
    });
    let limit = |algorithm| AdaptiveLimit::new(algorithm).with_initial(64);
    let aimd = breaker(builder().adaptive_limit(limit(LimitAlgorithm::Aimd)));
    g.bench_function("closed call, adaptive aimd", |b| {
        b.iter(|| black_box(consume(black_box(&aimd).call(|| Ok(black_box(1u32))))))
    });
    let gradient2 = breaker(builder().adaptive_limit(limit(LimitAlgorithm::Gradient2)));
    g.bench_function("closed call, adaptive gradient2", |b| {
        b.iter(|| black_box(consume(black_box(&gradient2).call(|| Ok(black_box(1u32))))))
    });
    let vegas = breaker(builder().adaptive_limit(limit(LimitAlgorithm::Vegas)));
    g.bench_function("closed call, adaptive vegas", |b| {
        b.iter(|| black_box(consume(black_box(&vegas).call(|| Ok(black_box(1u32))))))
    });
    g.bench_function(
        "closed call, adaptive gradient2, call_with_priority(Low)",
        |b| {
            b.iter(|| {
                black_box(consume(
                    black_box(&gradient2).call_with_priority(Priority::Low, || Ok(black_box(1u32))),
                ))
            })
        },
    );
    for b in [&none, &fixed, &aimd, &gradient2, &vegas] {
        assert_eq!(b.metrics().rejected, 0);
    }
    assert_eq!(aimd.metrics().limit, Some(64));
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = adaptive
}
criterion_main!(benches);
