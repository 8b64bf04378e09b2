//! What recording calls for replay costs: a closed successful call with recording off, on, and
//! on beside a slow-call rule, and a call whose recording buffer is full (the drop path), with
//! the floor in the same run; then two threads recording into one recorder.
//!
//! `cargo bench -p fusebox-benches --bench recording`
//!
//! Breakers are driven as users drive them: through the handle a `Registry` returns (on the
//! real process clock, `Registry::new`), `black_box`ed per iteration, closures returning
//! `Result`, the result consumed by a `match` on fusebox's error type. A recorded breaker
//! records every call (`sample = 1.0`) into a buffer of `CAPACITY` calls, emptied outside the
//! timed region before it fills, so that each timed call pays a real push.
//!
//! Per call, a recorded closed success reads the clock twice (at the admission and at the
//! record); beside a slow-call rule, the same two reads serve the rule and the recording.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use std::sync::Arc;

use common::{builder, policy, two_threads};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use fusebox::{Breaker, CallRecorder, Policy, RecordConfig, Registry, State};
use fusebox_benches::{Floor, consume};

/// The recording buffer's capacity.
const CAPACITY: usize = 1 << 20;

/// Calls timed between two drains of the buffer: it never fills.
const CHUNK: u64 = (CAPACITY / 2) as u64;

fn floor(g: &mut BenchmarkGroup<'_, WallTime>) {
    let floor = Floor::default();
    g.bench_function("floor", |b| b.iter(|| black_box(black_box(&floor).call())));
}

/// One closed successful call, as every variant makes it.
#[inline(always)]
fn one_call(breaker: &Breaker) -> u32 {
    black_box(consume(
        black_box(breaker).call(|| Ok::<u32, ()>(black_box(1u32))),
    ))
}

/// A breaker named `name` from a registry on the real clock with `policy`, recorded at
/// `sample` 1 into a buffer of `capacity` calls if `capacity` is given.
fn breaker(name: &str, policy: Policy, capacity: Option<usize>) -> (Registry, Breaker) {
    let registry = Registry::new(policy);
    if let Some(capacity) = capacity {
        let config = RecordConfig::new([name], 1.0, capacity).expect("a valid recording");
        registry.record(config);
    }
    let breaker = registry.breaker(name).expect("a valid name");
    (registry, breaker)
}

/// Times `iters` calls, emptying the buffer outside the timed region every [`CHUNK`] calls.
fn recorded_calls(breaker: &Breaker, recorder: &CallRecorder, iters: u64) -> Duration {
    let mut timed = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(CHUNK);
        recorder.drain();
        let start = Instant::now();
        for _ in 0..n {
            one_call(breaker);
        }
        timed += start.elapsed();
        left -= n;
    }
    timed
}

fn closed_call_recording(c: &mut Criterion) {
    let mut g = c.benchmark_group("closed_call_recording");
    floor(&mut g);

    let (_off_registry, off) = breaker("fusebox_recording_off", policy(), None);
    g.bench_function("fusebox_recording_off", |b| b.iter(|| one_call(&off)));
    assert!(off.recorder().is_none());

    let slow = builder()
        .slow_calls(Duration::from_secs(1), 0.9)
        .build()
        .expect("valid policy");
    let (_slow_registry, slow_off) = breaker("fusebox_slow_rule", slow.clone(), None);
    g.bench_function("fusebox_slow_rule", |b| b.iter(|| one_call(&slow_off)));

    for (id, policy) in [
        ("fusebox_recording_on", policy()),
        ("fusebox_recording_on_slow_rule", slow),
    ] {
        let (_registry, on) = breaker(id, policy, Some(CAPACITY));
        let recorder = on.recorder().expect("recorded");
        g.bench_function(id, |b| {
            b.iter_custom(|iters| recorded_calls(&on, &recorder, iters))
        });
        assert_eq!(on.state(), State::Closed);
        assert_eq!(recorder.dropped(), 0, "the buffer never filled");
    }

    // The buffer full: every call is counted as dropped instead of pushed.
    let (_full_registry, full) = breaker("fusebox_recording_full", policy(), Some(1));
    full.try_acquire().expect("closed").success();
    let full_recorder = full.recorder().expect("recorded");
    g.bench_function("fusebox_recording_full", |b| {
        b.iter_custom(|iters| {
            let dropped = full_recorder.dropped();
            let start = Instant::now();
            for _ in 0..iters {
                one_call(&full);
            }
            let timed = start.elapsed();
            assert_eq!(
                full_recorder.dropped() - dropped,
                iters,
                "every call dropped"
            );
            timed
        })
    });
    g.finish();
}

/// Two threads, each calling a breaker of its own, both breakers recorded into one recorder
/// (and, as the baseline, the same without recording): what a recorded call costs when
/// threads share a recorder. Nanoseconds per call of both threads together.
fn two_threads_recording(c: &mut Criterion) {
    let mut g = c.benchmark_group("two_threads_recording");
    g.throughput(Throughput::Elements(1));
    let recorder = CallRecorder::new(CAPACITY);
    for (id, recorded) in [("not_recorded", false), ("recorded", true)] {
        let breakers: Arc<[Breaker; 2]> = Arc::new(["two_a", "two_b"].map(|name| {
            let b = Breaker::new(name, policy());
            if recorded {
                b.record_to(&recorder, 1.0);
            }
            b
        }));
        g.bench_function(id, |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(CHUNK);
                    recorder.drain();
                    let breakers = breakers.clone();
                    timed += two_threads(
                        Arc::new(move |t: usize| {
                            one_call(&breakers[t]);
                        }),
                        n.div_ceil(2),
                    );
                    left -= n;
                }
                timed
            })
        });
    }
    assert_eq!(recorder.dropped(), 0, "the buffer never filled");
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = closed_call_recording, two_threads_recording
}
criterion_main!(benches);
