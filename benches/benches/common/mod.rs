//! What the bench files share: the policy fusebox is measured with, the criterion settings,
//! and the 2-thread driver (the failure pattern is in the library, shared with the examples).
//!
//! Not every bench file uses every item.
#![allow(dead_code)]

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::Criterion;
use fusebox::{Policy, PolicyBuilder};

/// How long each function is measured, after a warm-up of [`WARM_UP`].
pub const MEASUREMENT: Duration = Duration::from_secs(2);
/// Warm-up before each function.
pub const WARM_UP: Duration = Duration::from_millis(500);

/// Bootstrap resamples per function: plenty for the middle estimates reported, and a tenth of
/// criterion's default, whose analysis alone took about a minute of the suite.
pub const RESAMPLES: usize = 10_000;

/// The settings of every group: the whole suite must finish in under 5 minutes on 2 cores.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(WARM_UP)
        .measurement_time(MEASUREMENT)
        .nresamples(RESAMPLES)
}

/// The reference configuration (see [`fusebox_benches::reference_builder`]).
pub fn builder() -> PolicyBuilder {
    fusebox_benches::reference_builder()
}

/// [`builder`], built.
pub fn policy() -> Policy {
    builder().build().expect("valid policy")
}

/// Keeps what it holds on cache lines of its own (128 bytes: adjacent-line prefetch pairs
/// 64-byte lines on x86).
#[repr(align(128))]
#[derive(Debug, Default)]
pub struct Padded<T>(pub T);

/// Runs `per_thread` calls of `call(thread index)` on each of 2 threads, released together by
/// a barrier, and returns the wall time from the release until both have finished.
pub fn two_threads<F>(call: Arc<F>, per_thread: u64) -> Duration
where
    F: Fn(usize) + Send + Sync + 'static,
{
    let barrier = Arc::new(Barrier::new(3));
    let workers: Vec<_> = (0..2)
        .map(|t| {
            let (call, barrier) = (call.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                for _ in 0..per_thread {
                    call(t);
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for w in workers {
        w.join().expect("worker");
    }
    start.elapsed()
}
