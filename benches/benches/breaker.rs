//! One thread on one breaker: closed calls, failing calls, rejections while open and
//! half-open, the slow-call rule, the time window, the bulkhead, and the permit API against
//! `call`. Every group measures the floor in the same run, so ratios survive a noisy machine.
//!
//! `cargo bench -p fusebox-benches --bench breaker`
//!
//! Unless a group says otherwise, fusebox runs `Window::count(100)`, 50 %, `min_calls(100)`.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{builder, policy};
use criterion::{Criterion, criterion_group, criterion_main};
use fusebox::{Breaker, ManualClock, Outcome, RejectReason, State, Window};
use fusebox_benches::{Floor, PATTERN_LEN, random_failures};

fn floor(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let floor = Floor::default();
    g.bench_function("floor", |b| b.iter(|| black_box(black_box(&floor).call())));
}

/// The floor of a rejection: the state load alone, the state "open".
fn open_floor(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let floor = Floor::default();
    floor.open();
    g.bench_function("floor", |b| b.iter(|| black_box(black_box(&floor).call())));
    let floor_closed = Floor::default();
    g.bench_function("floor_closed_call", |b| {
        b.iter(|| black_box(black_box(&floor_closed).call()))
    });
}

#[inline(always)]
fn call_ok(breaker: &Breaker) -> bool {
    black_box(breaker)
        .call(|| Ok::<u32, ()>(black_box(1)))
        .is_ok()
}

#[inline(always)]
fn call_outcome(breaker: &Breaker, fail: bool) -> bool {
    black_box(breaker)
        .call(|| if fail { Err(()) } else { Ok(1u32) })
        .is_ok()
}

/// Closed: every call succeeds; every 10th call fails; 10 % fail at random.
fn closed(c: &mut Criterion) {
    let mut g = c.benchmark_group("closed");
    floor(&mut g);

    let breaker = Breaker::new("bench", policy());
    g.bench_function("fusebox_call_success", |b| {
        b.iter(|| black_box(call_ok(&breaker)))
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
            black_box(call_outcome(&every_tenth, i.is_multiple_of(10)))
        })
    });
    assert_eq!(every_tenth.state(), State::Closed);

    let random = Breaker::new("bench-random-10pct", policy());
    let pattern = random_failures(0.1);
    let mut j = 0usize;
    g.bench_function("fusebox_random_10pct_fails", |b| {
        b.iter(|| {
            j = (j + 1) & (PATTERN_LEN - 1);
            black_box(call_outcome(&random, pattern[j]))
        })
    });
    assert_eq!(random.state(), State::Closed);
    g.finish();
}

/// Trips `breaker` with 100 failures.
fn trip(breaker: &Breaker) {
    for _ in 0..100 {
        let _ = breaker.call(|| Err::<(), ()>(()));
    }
    assert_eq!(breaker.state(), State::Open);
}

/// Open: `Breaker::new` (quanta clock, deadline watched by the timer thread) and a
/// `ManualClock` breaker (no timer: the deadline is checked against the clock per call).
fn open(c: &mut Criterion) {
    let mut g = c.benchmark_group("open");
    open_floor(&mut g);
    // What an exact count alone costs a rejection: see `Floor::counted_call`.
    let counted = Floor::default();
    counted.open();
    g.bench_function("floor_counted_rejection", |b| {
        b.iter(|| black_box(black_box(&counted).counted_call()))
    });

    let breaker = Breaker::new("bench-open", policy());
    trip(&breaker);
    g.bench_function("fusebox_rejection_quanta", |b| {
        b.iter(|| black_box(black_box(&breaker).call(|| Ok::<u32, ()>(1)).is_err()))
    });

    let manual = Breaker::with_clock("bench-open-manual", policy(), ManualClock::new());
    trip(&manual);
    g.bench_function("fusebox_rejection_manual_clock", |b| {
        b.iter(|| black_box(black_box(&manual).call(|| Ok::<u32, ()>(1)).is_err()))
    });
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(manual.state(), State::Open);
    g.finish();
}

/// Half-open with its one probe slot taken (`HalfOpenFull`): every other caller is rejected.
fn half_open(c: &mut Criterion) {
    let mut g = c.benchmark_group("half_open");
    open_floor(&mut g);

    let short = builder()
        .open_timeout(Duration::from_millis(1))
        .half_open_permits(1)
        .success_threshold(1)
        .build()
        .expect("valid policy");

    // The real clock: wait out the open period, then take and hold the one probe.
    let breaker = Breaker::new("bench-half-open", short.clone());
    trip(&breaker);
    let deadline = Instant::now() + Duration::from_secs(10);
    let probe = loop {
        match breaker.try_acquire() {
            Ok(p) => break p,
            Err(r) => {
                assert_eq!(r.reason(), RejectReason::Open);
                assert!(Instant::now() < deadline, "the open period never ended");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    };
    assert_eq!(breaker.state(), State::HalfOpen);
    assert_eq!(
        breaker.try_acquire().unwrap_err().reason(),
        RejectReason::HalfOpenFull
    );
    g.bench_function("fusebox_rejection_half_open_full_quanta", |b| {
        b.iter(|| black_box(black_box(&breaker).call(|| Ok::<u32, ()>(1)).is_err()))
    });

    let clock = ManualClock::new();
    let manual = Breaker::with_clock("bench-half-open-manual", short, clock.clone());
    trip(&manual);
    clock.advance(Duration::from_millis(2));
    let manual_probe = manual.try_acquire().expect("the probe");
    assert_eq!(
        manual.try_acquire().unwrap_err().reason(),
        RejectReason::HalfOpenFull
    );
    g.bench_function("fusebox_rejection_half_open_full_manual_clock", |b| {
        b.iter(|| black_box(black_box(&manual).call(|| Ok::<u32, ()>(1)).is_err()))
    });
    assert_eq!(breaker.state(), State::HalfOpen);
    assert_eq!(manual.state(), State::HalfOpen);
    drop((probe, manual_probe));
    g.finish();
}

/// A slow-call rule (1 s, 50 %) makes every call read the clock twice; no call is slow.
fn slow_calls(c: &mut Criterion) {
    let mut g = c.benchmark_group("slow_calls");
    floor(&mut g);
    let slow = builder()
        .slow_calls(Duration::from_secs(1), 0.5)
        .build()
        .expect("valid policy");

    let plain = Breaker::new("bench-no-rule", policy());
    g.bench_function("fusebox_call_success_no_rule", |b| {
        b.iter(|| black_box(call_ok(&plain)))
    });
    let quanta = Breaker::new("bench-slow", slow.clone());
    g.bench_function("fusebox_call_success_slow_rule_quanta", |b| {
        b.iter(|| black_box(call_ok(&quanta)))
    });
    let manual = Breaker::with_clock("bench-slow-manual", slow, ManualClock::new());
    g.bench_function("fusebox_call_success_slow_rule_manual_clock", |b| {
        b.iter(|| black_box(call_ok(&manual)))
    });
    assert_eq!(quanta.metrics().slow, 0);
    g.finish();
}

/// `Window::time(10 s, 10)` against the count window; both on the quanta clock.
fn time_window(c: &mut Criterion) {
    let mut g = c.benchmark_group("time_window");
    floor(&mut g);
    let timed = builder()
        .window(Window::time(Duration::from_secs(10), 10))
        .build()
        .expect("valid policy");

    let count = Breaker::new("bench-count", policy());
    g.bench_function("fusebox_count_window_success", |b| {
        b.iter(|| black_box(call_ok(&count)))
    });
    let time = Breaker::new("bench-time", timed.clone());
    g.bench_function("fusebox_time_window_success", |b| {
        b.iter(|| black_box(call_ok(&time)))
    });
    let time_tenth = Breaker::new("bench-time-10pct", timed);
    let mut i = 0u32;
    g.bench_function("fusebox_time_window_every_10th_fails", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(call_outcome(&time_tenth, i.is_multiple_of(10)))
        })
    });
    assert_eq!(time_tenth.state(), State::Closed);
    g.finish();
}

/// `max_concurrent(64)`: one acquire and one release of a bulkhead slot per call, and the
/// rejection when all 64 are held.
fn bulkhead(c: &mut Criterion) {
    let mut g = c.benchmark_group("bulkhead");
    floor(&mut g);
    let bulk = builder().max_concurrent(64).build().expect("valid policy");

    let breaker = Breaker::new("bench-bulkhead", bulk.clone());
    g.bench_function("fusebox_call_success_max_concurrent_64", |b| {
        b.iter(|| black_box(call_ok(&breaker)))
    });
    g.bench_function("fusebox_permit_success_max_concurrent_64", |b| {
        b.iter(|| {
            if let Ok(p) = black_box(&breaker).try_acquire() {
                p.success();
            }
        })
    });

    let full = Breaker::new("bench-bulkhead-full", bulk);
    let held: Vec<_> = (0..64)
        .map(|_| full.try_acquire().expect("a free slot"))
        .collect();
    assert_eq!(
        full.try_acquire().unwrap_err().reason(),
        RejectReason::BulkheadFull
    );
    g.bench_function("fusebox_rejection_bulkhead_full", |b| {
        b.iter(|| black_box(black_box(&full).call(|| Ok::<u32, ()>(1)).is_err()))
    });
    drop(held);
    g.finish();
}

/// The permit API (`try_acquire` + `success`/`failure`/`record`) against `call` and
/// `call_with`, on the same outcomes.
fn permit_vs_call(c: &mut Criterion) {
    let mut g = c.benchmark_group("permit_vs_call");
    floor(&mut g);

    let breaker = Breaker::new("bench-api", policy());
    g.bench_function("fusebox_call_success", |b| {
        b.iter(|| black_box(call_ok(&breaker)))
    });
    g.bench_function("fusebox_call_with_success", |b| {
        b.iter(|| {
            black_box(
                black_box(&breaker)
                    .call_with(
                        || Ok::<u32, u32>(black_box(1)),
                        |r| match r {
                            Ok(_) => Outcome::Success,
                            Err(_) => Outcome::Failure,
                        },
                    )
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

    let call_tenth = Breaker::new("bench-api-call-10", policy());
    let mut i = 0u32;
    g.bench_function("fusebox_call_every_10th_fails", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(call_outcome(&call_tenth, i.is_multiple_of(10)))
        })
    });
    let permit_tenth = Breaker::new("bench-api-permit-10", policy());
    let mut j = 0u32;
    g.bench_function("fusebox_permit_every_10th_fails", |b| {
        b.iter(|| {
            j = j.wrapping_add(1);
            if let Ok(p) = black_box(&permit_tenth).try_acquire() {
                if black_box(j.is_multiple_of(10)) {
                    p.failure();
                } else {
                    p.success();
                }
            }
        })
    });
    assert_eq!(call_tenth.state(), State::Closed);
    assert_eq!(permit_tenth.state(), State::Closed);
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = closed, open, half_open, slow_calls, time_window, bulkhead, permit_vs_call
}
criterion_main!(benches);
