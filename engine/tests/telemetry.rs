//! What a breaker tells about itself: its history with window counts and notes, the count of
//! each change, rejections by reason, and call latency.

use std::time::Duration;

use fusebox_engine::{
    Breaker, HISTORY_CAPACITY, Latency, ManualClock, Policy, PolicyBuilder, Recovery, RejectReason,
    State, TransitionReason, Window, WindowCounts,
};

fn breaker(policy: PolicyBuilder) -> (Breaker, ManualClock) {
    let clock = ManualClock::new();
    (
        Breaker::with_clock("svc", policy.build().unwrap(), clock.clone()),
        clock,
    )
}

#[test]
fn the_history_records_each_change_with_the_windows_counts() {
    let (b, clock) = breaker(
        Policy::builder()
            .window(Window::count(10))
            .min_calls(4)
            .open_timeout(Duration::from_secs(5))
            .half_open_permits(1)
            .success_threshold(1),
    );
    for ok in [true, false, false, false] {
        let _ = b.call(|| if ok { Ok(()) } else { Err(()) });
    }
    clock.advance(Duration::from_secs(5));
    b.try_acquire().unwrap().success();
    let h = b.history();
    let seen: Vec<_> = h.iter().map(|t| (t.from, t.to, t.reason)).collect();
    assert_eq!(
        seen,
        [
            (State::Closed, State::Open, TransitionReason::FailureRate),
            (
                State::Open,
                State::HalfOpen,
                TransitionReason::OpenTimeoutElapsed
            ),
            (
                State::HalfOpen,
                State::Closed,
                TransitionReason::ProbesSucceeded
            ),
        ]
    );
    assert_eq!(
        h[0].window,
        WindowCounts {
            calls: 4,
            failures: 3,
            slow: 0
        }
    );
    assert_eq!(h[0].at, Duration::ZERO);
    assert_eq!(h[1].at, Duration::from_secs(5));
    assert!(h.iter().all(|t| t.note.is_none() && &*t.breaker == "svc"));
    let counts = b.transition_counts();
    assert_eq!(counts.iter().count(), 3);
    assert_eq!(counts.get(State::HalfOpen, State::Closed), 1);
}

#[test]
fn a_noted_action_that_changes_nothing_is_kept_in_the_history_but_not_counted() {
    let (b, _clock) = breaker(Policy::builder());
    let events = b.subscribe();
    b.noted("carol: checking the reset button").reset();
    let h = b.history();
    assert_eq!(h.len(), 1);
    assert_eq!((h[0].from, h[0].to), (State::Closed, State::Closed));
    assert_eq!(
        h[0].note.as_deref(),
        Some("carol: checking the reset button")
    );
    assert_eq!(b.transition_counts().iter().count(), 0);
    assert!(events.try_recv().is_err(), "no state change, no event");
}

#[test]
fn the_history_is_bounded_and_keeps_the_newest() {
    let (b, _clock) = breaker(Policy::builder());
    for i in 0..3 * HISTORY_CAPACITY {
        b.noted(format!("#{i}")).force_open();
        b.reset();
    }
    let h = b.history();
    assert_eq!(h.len(), HISTORY_CAPACITY);
    assert_eq!(
        h[HISTORY_CAPACITY - 2].note.as_deref(),
        Some(format!("#{}", 3 * HISTORY_CAPACITY - 1).as_str())
    );
    assert_eq!(
        b.transition_counts().get(State::Closed, State::ForcedOpen),
        3 * HISTORY_CAPACITY as u64
    );
}

#[test]
fn rejections_are_counted_by_reason_and_sum_to_the_total() {
    // Open, then half-open with its one probe slot taken.
    let (b, clock) = breaker(
        Policy::builder()
            .min_calls(1)
            .open_timeout(Duration::from_secs(1))
            .half_open_permits(1)
            .success_threshold(1),
    );
    let _ = b.call(|| Err::<(), _>(()));
    assert!(b.try_acquire().is_err());
    clock.advance(Duration::from_secs(1));
    let probe = b.try_acquire().unwrap();
    assert!(b.try_acquire().is_err());
    drop(probe);
    b.force_open();
    for _ in 0..3 {
        assert!(b.try_acquire().is_err());
    }
    let m = b.metrics();
    assert_eq!(m.rejected_by(RejectReason::Open), 1);
    assert_eq!(m.rejected_by(RejectReason::HalfOpenFull), 1);
    assert_eq!(m.rejected_by(RejectReason::ForcedOpen), 3);
    assert_eq!(m.rejected, 5);

    // A bulkhead.
    let (b, _clock) = breaker(Policy::builder().max_concurrent(1));
    let held = b.try_acquire().unwrap();
    assert_eq!(
        b.try_acquire().unwrap_err().reason(),
        RejectReason::BulkheadFull
    );
    held.success();
    assert_eq!(b.metrics().rejected_by(RejectReason::BulkheadFull), 1);

    // A recovery ramp that admits a share of the calls.
    let (b, clock) = breaker(
        Policy::builder()
            .min_calls(1)
            .open_timeout(Duration::from_secs(1))
            .half_open_permits(1)
            .success_threshold(1)
            .recovery(Recovery::ramp(Duration::from_secs(10), 0.1)),
    );
    let _ = b.call(|| Err::<(), _>(()));
    clock.advance(Duration::from_secs(1));
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Recovering);
    let rejected = (0..100).filter(|_| b.try_acquire().is_err()).count() as u64;
    let m = b.metrics();
    assert_eq!(m.rejected_by(RejectReason::Ramp), rejected);
    assert!(rejected > 0);
    assert_eq!(
        RejectReason::ALL
            .iter()
            .map(|&r| m.rejected_by(r))
            .sum::<u64>(),
        m.rejected
    );
}

#[test]
fn latency_is_recorded_from_acquire_to_record_and_survives_a_reset() {
    // Failures never trip it here: the window is as large as the run.
    let (b, clock) = breaker(
        Policy::builder()
            .latency_histogram(true)
            .window(Window::count(2000))
            .min_calls(2000),
    );
    for ms in 1..=1000u64 {
        let permit = b.try_acquire().unwrap();
        clock.advance(Duration::from_millis(ms));
        if ms % 2 == 0 {
            permit.success();
        } else {
            permit.failure();
        }
    }
    // A dropped permit is timed too.
    drop(b.try_acquire().unwrap());
    b.reset();
    let l = b.latency().unwrap();
    assert_eq!(l.count(), 1001);
    let within = |d: Duration, ms: u64| {
        let want = Duration::from_millis(ms).as_secs_f64();
        (d.as_secs_f64() - want).abs() <= want * 0.01
    };
    assert!(within(l.p50(), 500), "p50 {:?}", l.p50());
    assert!(within(l.p90(), 900), "p90 {:?}", l.p90());
    assert!(within(l.p99(), 990), "p99 {:?}", l.p99());
    assert!(within(l.max(), 1000), "max {:?}", l.max());
}

#[test]
fn latency_is_none_unless_the_policy_asks_and_follows_a_swap() {
    let (b, _clock) = breaker(Policy::builder());
    assert!(b.latency().is_none());
    b.set_policy(Policy::builder().latency_histogram(true).build().unwrap());
    b.try_acquire().unwrap().success();
    assert_eq!(b.latency().unwrap().count(), 1);
    b.set_policy(Policy::default());
    assert!(b.latency().is_none());
}

#[test]
fn latency_merges_every_threads_histogram() {
    let (b, _clock) = breaker(Policy::builder().latency_histogram(true));
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..1000 {
                    b.try_acquire().unwrap().success();
                }
            });
        }
    });
    assert_eq!(b.latency().unwrap().count(), 4000);
}

#[test]
fn a_latency_summary_is_the_summary_of_the_merged_histogram() {
    let (b, clock) = breaker(
        Policy::builder()
            .latency_histogram(true)
            .window(Window::count(2000))
            .min_calls(2000),
    );
    let none = b.latency_summary().unwrap();
    assert_eq!((none.count, none.sum), (0, Duration::ZERO));
    assert_eq!(none.quantiles, [Duration::ZERO; 5]);
    // One thread's histogram, read in place.
    for us in 1..=300u64 {
        let permit = b.try_acquire().unwrap();
        clock.advance(Duration::from_micros(us * us % 997));
        permit.success();
    }
    assert_eq!(b.latency_summary(), Some(b.latency().unwrap().summary()));
    // Several threads' histograms, merged.
    std::thread::scope(|s| {
        for t in 1..=3u64 {
            let (b, clock) = (&b, &clock);
            s.spawn(move || {
                for us in 1..=100u64 {
                    let permit = b.try_acquire().unwrap();
                    clock.advance(Duration::from_micros(us * t));
                    permit.success();
                }
            });
        }
    });
    let l = b.latency().unwrap();
    let summary = b.latency_summary().unwrap();
    assert_eq!(summary, l.summary());
    assert_eq!(summary.count, 600);
    for ((_, q), d) in Latency::SUMMARY_QUANTILES.iter().zip(summary.quantiles) {
        assert_eq!(d, l.quantile(*q));
    }
    assert_eq!(summary.quantiles[4], l.max());
    b.set_policy(Policy::default());
    assert!(b.latency_summary().is_none());
}

#[test]
fn failure_kinds_beyond_the_limit_count_as_other() {
    use fusebox_engine::{Failure, MAX_FAILURE_KINDS, OTHER_KIND};
    const KINDS: [&str; 10] = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"];
    let (b, _clock) = breaker(Policy::builder().window(Window::count(100)).min_calls(100));
    for kind in KINDS {
        b.try_acquire()
            .unwrap()
            .failure_with(Failure::of_kind(kind));
    }
    b.try_acquire().unwrap().failure();
    let m = b.metrics();
    assert_eq!(m.failures, 11);
    let kinds: Vec<_> = m.failures_by_kind().collect();
    assert_eq!(kinds.len(), MAX_FAILURE_KINDS);
    assert_eq!(m.failures_of_kind("k6"), 1);
    assert_eq!(m.failures_of_kind("k7"), 0);
    assert_eq!(m.failures_of_kind(OTHER_KIND), 3);
}

#[test]
fn a_retry_after_longer_than_the_open_period_sets_its_floor() {
    use fusebox_engine::Failure;
    let (b, clock) = breaker(
        Policy::builder()
            .min_calls(1)
            .open_timeout(Duration::from_secs(10)),
    );
    b.try_acquire()
        .unwrap()
        .failure_with(Failure::of_kind("http_429").retry_after(Duration::from_secs(90)));
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.open_remaining(), Some(Duration::from_secs(90)));
    clock.advance(Duration::from_secs(89));
    assert_eq!(
        b.try_acquire().unwrap_err().retry_after(),
        Some(Duration::from_secs(1))
    );
    clock.advance(Duration::from_secs(1));
    b.try_acquire().unwrap().success();

    // Shorter than the policy's period: the policy's period stands.
    let (b, _clock) = breaker(
        Policy::builder()
            .min_calls(1)
            .open_timeout(Duration::from_secs(10)),
    );
    b.try_acquire()
        .unwrap()
        .failure_with(Failure::new().retry_after(Duration::from_secs(2)));
    assert_eq!(b.open_remaining(), Some(Duration::from_secs(10)));
}
