//! Policy hot swap under load: 2 threads call one breaker while a third swaps its policy
//! 10 000 times a second, against the same 2 threads with no swaps and the 2-thread floor.
//! Also what the rejected alternative scheme costs: an `ArcSwap` guard per call.
//!
//! `cargo bench -p fusebox-benches --bench swap`

mod common;

use common::two_threads;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use criterion::{Criterion, criterion_group, criterion_main};
use fusebox::{Breaker, Policy, Window};
use fusebox_benches::Floor;

const SWAPS_PER_SEC: u64 = 10_000;

fn policy(threshold: f64) -> Policy {
    Policy::builder()
        .window(Window::count(100))
        .failure_rate_threshold(threshold)
        .min_calls(100)
        .open_timeout(Duration::from_secs(3600))
        .build()
        .expect("valid")
}

/// A thread that swaps `breaker`'s policy between two values at `SWAPS_PER_SEC` until stopped.
fn swapper(breaker: Breaker, stop: Arc<AtomicBool>) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        let (a, b) = (policy(0.5), policy(0.6));
        let period = Duration::from_nanos(1_000_000_000 / SWAPS_PER_SEC);
        let start = Instant::now();
        let mut n = 0u64;
        // Relaxed: a stop flag; the join publishes what the thread did.
        while !stop.load(Ordering::Relaxed) {
            breaker.set_policy(if n.is_multiple_of(2) {
                a.clone()
            } else {
                b.clone()
            });
            n += 1;
            let next = start + period * n as u32;
            let now = Instant::now();
            if next > now {
                thread::sleep(next - now);
            }
        }
        n
    })
}

fn under_load(c: &mut Criterion) {
    let mut g = c.benchmark_group("swap_2_threads");
    g.throughput(criterion::Throughput::Elements(1));

    let floor = Arc::new(Floor::default());
    g.bench_function("floor", |b| {
        b.iter_custom(|iters| {
            let f = floor.clone();
            two_threads(
                Arc::new(move |_| {
                    black_box(f.call());
                }),
                iters.div_ceil(2),
            )
        })
    });

    let breaker = Breaker::new("swap-bench", policy(0.5));
    g.bench_function("fusebox_no_swaps", |b| {
        b.iter_custom(|iters| {
            let br = breaker.clone();
            two_threads(
                Arc::new(move |_| {
                    black_box(br.call(|| Ok::<u32, ()>(1)).is_ok());
                }),
                iters.div_ceil(2),
            )
        })
    });

    let stop = Arc::new(AtomicBool::new(false));
    let swaps = swapper(breaker.clone(), stop.clone());
    g.bench_function("fusebox_10k_swaps_per_sec", |b| {
        b.iter_custom(|iters| {
            let br = breaker.clone();
            two_threads(
                Arc::new(move |_| {
                    black_box(br.call(|| Ok::<u32, ()>(1)).is_ok());
                }),
                iters.div_ceil(2),
            )
        })
    });
    // Relaxed: see the load in `swapper`.
    stop.store(true, Ordering::Relaxed);
    let n = swaps.join().expect("swapper");
    assert!(n > 0);
    g.finish();
}

fn scheme(c: &mut Criterion) {
    let mut g = c.benchmark_group("swap_scheme");
    let floor = Floor::default();
    g.bench_function("floor", |b| b.iter(|| black_box(black_box(&floor).call())));
    let breaker = Breaker::new("scheme", policy(0.5));
    g.bench_function("fusebox_call_seqlock_config", |b| {
        b.iter(|| {
            black_box(
                black_box(&breaker)
                    .call(|| Ok::<u32, ()>(black_box(1)))
                    .is_ok(),
            )
        })
    });
    // The alternative: load the whole policy through an `ArcSwap` guard on every call.
    let shared = ArcSwap::from_pointee(policy(0.5));
    g.bench_function("fusebox_call_plus_arcswap_guard", |b| {
        b.iter(|| {
            let p = black_box(&shared).load();
            black_box(p.min_calls());
            black_box(
                black_box(&breaker)
                    .call(|| Ok::<u32, ()>(black_box(1)))
                    .is_ok(),
            )
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = under_load, scheme
}
criterion_main!(benches);
