//! Two threads: both on one breaker (shared window, and striped), and each on its own,
//! against the 2-thread floor (both threads on one shared `Floor`, and each on its own `Floor`
//! on cache lines of its own).
//! Throughput: each sample runs `iters / 2` closed success calls on each of 2 threads.
//!
//! `cargo bench -p fusebox-benches --bench threads`

mod common;

use std::hint::black_box;
use std::sync::Arc;

use common::{Padded, policy, two_threads};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fusebox::{Breaker, State};
use fusebox_benches::Floor;

fn closed_success(c: &mut Criterion) {
    let mut g = c.benchmark_group("two_threads");
    g.throughput(Throughput::Elements(1));

    let shared = Arc::new(Floor::default());
    g.bench_function("floor_one_shared", |b| {
        b.iter_custom(|iters| {
            let f = shared.clone();
            two_threads(
                Arc::new(move |_| {
                    black_box(black_box(&*f).call());
                }),
                iters.div_ceil(2),
            )
        })
    });
    let own = Arc::new([Padded(Floor::default()), Padded(Floor::default())]);
    g.bench_function("floor_two_separate", |b| {
        b.iter_custom(|iters| {
            let f = own.clone();
            two_threads(
                Arc::new(move |t: usize| {
                    black_box(black_box(&f[t].0).call());
                }),
                iters.div_ceil(2),
            )
        })
    });

    let one = Breaker::new("bench-2t-one", policy());
    g.bench_function("fusebox_one_breaker", |b| {
        b.iter_custom(|iters| {
            let br = one.clone();
            two_threads(
                Arc::new(move |_| {
                    black_box(black_box(&br).call(|| Ok::<u32, ()>(1)).is_ok());
                }),
                iters.div_ceil(2),
            )
        })
    });
    let two = Arc::new([
        Breaker::new("bench-2t-a", policy()),
        Breaker::new("bench-2t-b", policy()),
    ]);
    g.bench_function("fusebox_two_breakers", |b| {
        b.iter_custom(|iters| {
            let br = two.clone();
            two_threads(
                Arc::new(move |t: usize| {
                    black_box(black_box(&br[t]).call(|| Ok::<u32, ()>(1)).is_ok());
                }),
                iters.div_ceil(2),
            )
        })
    });
    // Striped (opt-in): each thread records into its own stripe, no locked instruction.
    let striped = Breaker::striped("bench-2t-striped", policy());
    g.bench_function("fusebox_one_breaker_striped", |b| {
        b.iter_custom(|iters| {
            let br = striped.clone();
            two_threads(
                Arc::new(move |_| {
                    black_box(black_box(&br).call(|| Ok::<u32, ()>(1)).is_ok());
                }),
                iters.div_ceil(2),
            )
        })
    });
    assert_eq!(one.state(), State::Closed);
    assert_eq!(striped.state(), State::Closed);
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = closed_success
}
criterion_main!(benches);
