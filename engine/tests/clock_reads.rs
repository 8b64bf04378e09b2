//! How often each path reads the clock, counted by a clock that counts its reads: none on the
//! closed-success path; the rules, recording and adaptive limits that need it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fusebox_engine::{Breaker, CallRecorder, Clock, Policy, Window};

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

/// Clock reads per call of 100 on `policy`, recorded at `sample` or not, open or closed.
fn reads_per_call(policy: Policy, record: Option<f64>, open: bool) -> u64 {
    let (b, reads) = breaker(policy);
    let recorder = CallRecorder::new(1000);
    if let Some(sample) = record {
        b.record_to(&recorder, sample);
    }
    if open {
        b.force_open();
    }
    let before = reads.load(Ordering::Relaxed);
    for _ in 0..100 {
        if let Ok(p) = b.try_acquire() {
            p.success();
        }
    }
    let n = reads.load(Ordering::Relaxed) - before;
    assert_eq!(n % 100, 0, "{n} reads");
    n / 100
}

#[test]
fn a_recorded_call_reads_the_clock_as_a_slow_call_rule_does() {
    let slow = || {
        Policy::builder()
            .slow_calls(Duration::from_secs(1), 0.9)
            .build()
            .unwrap()
    };
    assert_eq!(reads_per_call(Policy::default(), None, false), 0);
    assert_eq!(reads_per_call(Policy::default(), Some(1.0), false), 2);
    assert_eq!(reads_per_call(slow(), None, false), 2);
    assert_eq!(
        reads_per_call(slow(), Some(1.0), false),
        2,
        "shared with the rule"
    );
    assert_eq!(reads_per_call(Policy::default(), None, true), 0);
    assert_eq!(reads_per_call(Policy::default(), Some(1.0), true), 1);
    // A sample too small to draw in 100 calls: no call is timed.
    assert_eq!(reads_per_call(Policy::default(), Some(1e-12), false), 0);
    assert_eq!(reads_per_call(Policy::default(), Some(1e-12), true), 0);
}

#[test]
fn aimd_reads_no_clock_and_gradient2_times_one_call_in_eight() {
    use fusebox_engine::{AdaptiveLimit, LimitAlgorithm};
    // 64 calls on this test's own thread: a timed call reads the clock at acquire and at
    // completion, and the thread times every 8th admission.
    for (algorithm, expected) in [
        (LimitAlgorithm::Aimd, 0),
        (LimitAlgorithm::Gradient2, 16),
        (LimitAlgorithm::Vegas, 16),
    ] {
        let (b, reads) = breaker(
            Policy::builder()
                .adaptive_limit(AdaptiveLimit::new(algorithm))
                .build()
                .unwrap(),
        );
        let before = reads.load(Ordering::Relaxed);
        for _ in 0..64 {
            b.call(|| Ok::<_, ()>(())).unwrap();
        }
        assert_eq!(
            reads.load(Ordering::Relaxed) - before,
            expected,
            "{algorithm}"
        );
    }
}
