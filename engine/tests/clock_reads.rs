//! The closed-success path reads no clock: proven with a clock that counts its reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fusebox_engine::{Breaker, Clock, Policy, Window};

/// A clock that stands still and counts how often it is read.
#[derive(Clone, Default)]
struct CountingClock {
    reads: Arc<AtomicU64>,
}

impl Clock for CountingClock {
    fn now_nanos(&self) -> u64 {
        self.reads.fetch_add(1, Ordering::Relaxed);
        0
    }
}

fn breaker(policy: Policy) -> (Breaker, Arc<AtomicU64>) {
    let clock = CountingClock::default();
    let reads = clock.reads.clone();
    (Breaker::with_clock("counted", policy, clock), reads)
}

#[test]
fn closed_successes_and_failures_on_a_count_window_read_no_clock() {
    let (b, reads) = breaker(
        Policy::builder()
            .window(Window::count(100))
            .min_calls(100)
            .build()
            .unwrap(),
    );
    let before = reads.load(Ordering::Relaxed);
    for i in 0..10_000 {
        let _ = b.call(|| if i % 10 == 0 { Err(()) } else { Ok(()) });
        b.try_acquire().unwrap().success();
    }
    assert_eq!(reads.load(Ordering::Relaxed) - before, 0);
    assert_eq!(b.metrics().admitted, 20_000);
}

#[test]
fn a_slow_call_rule_reads_the_clock_twice_per_call() {
    let (b, reads) = breaker(
        Policy::builder()
            .slow_calls(Duration::from_secs(1), 0.9)
            .build()
            .unwrap(),
    );
    let before = reads.load(Ordering::Relaxed);
    for _ in 0..100 {
        let _ = b.call(|| Ok::<_, ()>(()));
    }
    assert_eq!(
        reads.load(Ordering::Relaxed) - before,
        200,
        "acquire and record"
    );
}

#[test]
fn a_time_window_reads_the_clock_once_per_record() {
    let (b, reads) = breaker(
        Policy::builder()
            .window(Window::time(Duration::from_secs(10), 10))
            .build()
            .unwrap(),
    );
    let before = reads.load(Ordering::Relaxed);
    for _ in 0..100 {
        let _ = b.call(|| Ok::<_, ()>(()));
    }
    assert_eq!(reads.load(Ordering::Relaxed) - before, 100);
}

#[test]
fn a_latency_histogram_reads_the_clock_twice_per_call_and_shares_them_with_a_slow_rule() {
    let (b, reads) = breaker(Policy::builder().latency_histogram(true).build().unwrap());
    let before = reads.load(Ordering::Relaxed);
    for _ in 0..100 {
        let _ = b.call(|| Ok::<_, ()>(()));
    }
    assert_eq!(reads.load(Ordering::Relaxed) - before, 200);

    let (b, reads) = breaker(
        Policy::builder()
            .latency_histogram(true)
            .slow_calls(Duration::from_secs(1), 0.9)
            .build()
            .unwrap(),
    );
    let before = reads.load(Ordering::Relaxed);
    for _ in 0..100 {
        let _ = b.call(|| Ok::<_, ()>(()));
    }
    // The record's reading serves the histogram and the slow-call check alike.
    assert_eq!(reads.load(Ordering::Relaxed) - before, 200);
}

#[test]
fn a_rate_limit_reads_the_clock_once_per_admission_and_none_without_one() {
    use fusebox_engine::RateLimit;
    let (b, reads) = breaker(
        Policy::builder()
            .rate_limit(RateLimit::new(1_000, Duration::from_secs(1), 1_000))
            .build()
            .unwrap(),
    );
    let before = reads.load(Ordering::Relaxed);
    for _ in 0..100 {
        let _ = b.call(|| Ok::<_, ()>(()));
    }
    assert_eq!(reads.load(Ordering::Relaxed) - before, 100);
}
