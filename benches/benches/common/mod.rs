//! What the bench files share: the policy fusebox is measured with, the criterion settings,
//! the 2-thread driver and a precomputed failure pattern.
//!
//! Not every bench file uses every item.
#![allow(dead_code)]

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::Criterion;
use fusebox::{Policy, PolicyBuilder, Window};

/// How long each function is measured, after a warm-up of [`WARM_UP`].
pub const MEASUREMENT: Duration = Duration::from_secs(2);
/// Warm-up before each function.
pub const WARM_UP: Duration = Duration::from_millis(500);

/// The settings of every group: the whole suite must finish in under 5 minutes on 2 cores.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(WARM_UP)
        .measurement_time(MEASUREMENT)
}

/// The reference configuration: the last 100 calls, open at 50 % failures once 100 calls are
/// in, and an open period far longer than any run.
pub fn builder() -> PolicyBuilder {
    Policy::builder()
        .window(Window::count(100))
        .failure_rate_threshold(0.5)
        .min_calls(100)
        .open_timeout(Duration::from_secs(3600))
}

/// [`builder`], built.
pub fn policy() -> Policy {
    builder().build().expect("valid policy")
}

/// Length of [`random_failures`]'s pattern: a power of two, so the index is a mask.
pub const PATTERN_LEN: usize = 4096;

/// `PATTERN_LEN` outcomes, `true` for a failure, each failing with probability `p`, drawn
/// once before measuring (xorshift64*, fixed seed) so no RNG runs inside the timed loop.
pub fn random_failures(p: f64) -> Vec<bool> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..PATTERN_LEN)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
            (r as f64 / (1u64 << 53) as f64) < p
        })
        .collect()
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
