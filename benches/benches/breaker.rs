//! Closed call, failing calls, rejection: fusebox against the floor, in one run.
//!
//! `cargo bench -p fusebox-benches --bench breaker`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use fusebox::{Breaker, ManualClock, Policy, Window};
use fusebox_benches::Floor;

fn policy() -> Policy {
    Policy::builder()
        .window(Window::count(100))
        .failure_rate_threshold(0.5)
        .min_calls(100)
        .open_timeout(Duration::from_secs(3600))
        .build()
        .expect("valid")
}

fn closed(c: &mut Criterion) {
    let mut g = c.benchmark_group("closed");
    let floor = Floor::default();
    g.bench_function("floor", |b| b.iter(|| black_box(black_box(&floor).call())));

    let breaker = Breaker::new("bench", policy());
    g.bench_function("fusebox_call_success", |b| {
        b.iter(|| {
            black_box(
                black_box(&breaker)
                    .call(|| Ok::<u32, ()>(black_box(1)))
                    .is_ok(),
            )
        })
    });
    g.bench_function("fusebox_permit_success", |b| {
        b.iter(|| {
            if let Ok(p) = black_box(&breaker).try_acquire() {
                p.success();
            }
        })
    });

    let every_tenth = Breaker::new("bench-10pct", policy());
    let mut i = 0u32;
    g.bench_function("fusebox_every_10th_fails", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let fail = i % 10 == 0;
            black_box(
                black_box(&every_tenth)
                    .call(|| if fail { Err(()) } else { Ok(1u32) })
                    .is_ok(),
            )
        })
    });
    g.finish();
}

fn open(c: &mut Criterion) {
    let mut g = c.benchmark_group("open");
    let floor = Floor::default();
    floor.open();
    g.bench_function("floor", |b| b.iter(|| black_box(black_box(&floor).call())));
    let floor_closed = Floor::default();
    g.bench_function("floor_closed_call", |b| {
        b.iter(|| black_box(black_box(&floor_closed).call()))
    });

    let breaker = Breaker::new("bench-open", policy());
    breaker.force_open();
    breaker.reset();
    for _ in 0..100 {
        let _ = breaker.call(|| Err::<(), ()>(()));
    }
    assert_eq!(breaker.state(), fusebox::State::Open);
    g.bench_function("fusebox_rejection_quanta", |b| {
        b.iter(|| black_box(black_box(&breaker).call(|| Ok::<u32, ()>(1)).is_err()))
    });

    let manual = Breaker::with_clock("bench-open-manual", policy(), ManualClock::new());
    for _ in 0..100 {
        let _ = manual.call(|| Err::<(), ()>(()));
    }
    g.bench_function("fusebox_rejection_manual_clock", |b| {
        b.iter(|| black_box(black_box(&manual).call(|| Ok::<u32, ()>(1)).is_err()))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = closed, open
}
criterion_main!(benches);
