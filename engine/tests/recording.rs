//! Recording calls into a `CallRecorder`: exact times on a manual clock, every outcome and
//! rejection reason, drop-and-count when full, sampling, and exact accounting under threads.
//! (Its clock reads are counted in clock_reads.rs.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fusebox_engine::{
    Breaker, CallOutcome, CallRecord, CallRecorder, ManualClock, Outcome, Policy, RateLimit,
    RejectReason, State, Window,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const MS: u64 = 1_000_000;

fn recorded(name: &str, policy: Policy) -> (Breaker, ManualClock, CallRecorder) {
    let clock = ManualClock::new();
    let b = Breaker::with_clock(name, policy, clock.clone());
    let recorder = CallRecorder::new(1000);
    b.record_to(&recorder, 1.0);
    (b, clock, recorder)
}

fn summary(calls: &[CallRecord]) -> Vec<(u64, CallOutcome, Option<u64>)> {
    calls
        .iter()
        .map(|c| (c.at_nanos(), c.outcome(), c.duration_nanos()))
        .collect()
}

#[test]
fn admitted_calls_have_exact_arrival_and_duration() {
    let (b, clock, recorder) = recorded("pay.stripe", Policy::default());
    clock.advance(ms(10));
    let p = b.try_acquire().unwrap();
    clock.advance(ms(5));
    p.success();
    let p = b.try_acquire().unwrap();
    clock.advance(ms(2000));
    p.failure();
    let p = b.try_acquire_owned().unwrap();
    clock.advance(ms(7));
    p.record(Outcome::Ignored);
    let p = b.try_acquire().unwrap();
    clock.advance(ms(3));
    drop(p); // dropped unrecorded: ignored
    let calls = recorder.drain();
    assert!(calls.iter().all(|c| c.breaker() == "pay.stripe"));
    assert_eq!(
        summary(&calls),
        [
            (10 * MS, CallOutcome::Success, Some(5 * MS)),
            (15 * MS, CallOutcome::Failure, Some(2000 * MS)),
            (2015 * MS, CallOutcome::Ignored, Some(7 * MS)),
            (2022 * MS, CallOutcome::Ignored, Some(3 * MS)),
        ]
    );
    assert_eq!(b.metrics().failures, 1, "the breaker counts as before");
}

#[test]
fn call_and_a_long_name_are_recorded() {
    let long = "a.breaker.name.longer.than.twenty.three.bytes";
    let (b, clock, recorder) = recorded(long, Policy::default());
    let _ = b.call(|| {
        clock.advance(ms(4));
        Err::<(), _>("boom")
    });
    let calls = recorder.drain();
    assert_eq!(calls[0].breaker(), long);
    assert_eq!(summary(&calls), [(0, CallOutcome::Failure, Some(4 * MS))]);
}

#[test]
fn rejections_are_recorded_with_their_reason_and_time() {
    let policy = Policy::builder()
        .window(Window::count(2))
        .min_calls(2)
        .open_timeout(Duration::from_secs(10))
        .half_open_permits(1)
        .success_threshold(1)
        .build()
        .unwrap();
    let (b, clock, recorder) = recorded("db", policy);
    b.try_acquire().unwrap().failure();
    b.try_acquire().unwrap().failure();
    assert_eq!(b.state(), State::Open);
    clock.advance(ms(1));
    let open = b.try_acquire().unwrap_err();
    assert_eq!(open.reason(), RejectReason::Open);
    clock.advance(Duration::from_secs(10));
    let probe = b.try_acquire().unwrap(); // half-open probe at 10.001 s
    clock.advance(ms(2));
    assert_eq!(
        b.try_acquire().unwrap_err().reason(),
        RejectReason::HalfOpenFull
    );
    clock.advance(ms(3));
    probe.success();
    assert_eq!(b.state(), State::Closed);
    b.force_open();
    clock.advance(ms(1));
    assert!(b.try_acquire().is_err());
    let calls = recorder.drain();
    assert_eq!(
        summary(&calls),
        [
            (0, CallOutcome::Failure, Some(0)),
            (0, CallOutcome::Failure, Some(0)),
            (MS, CallOutcome::Rejected(RejectReason::Open), None),
            (
                10_003 * MS,
                CallOutcome::Rejected(RejectReason::HalfOpenFull),
                None
            ),
            (10_001 * MS, CallOutcome::Success, Some(5 * MS)),
            (
                10_007 * MS,
                CallOutcome::Rejected(RejectReason::ForcedOpen),
                None
            ),
        ]
    );
}

#[test]
fn bulkhead_and_rate_limit_rejections_are_recorded() {
    let policy = Policy::builder().max_concurrent(1).build().unwrap();
    let (b, clock, recorder) = recorded("bh", policy);
    let held = b.try_acquire().unwrap();
    clock.advance(ms(1));
    assert_eq!(
        b.try_acquire().unwrap_err().reason(),
        RejectReason::BulkheadFull
    );
    held.success();
    let policy = Policy::builder()
        .rate_limit(RateLimit::new(1, Duration::from_secs(10), 1))
        .build()
        .unwrap();
    b.set_policy(policy); // a policy swap keeps the recording on
    b.try_acquire().unwrap().success();
    clock.advance(ms(1));
    assert_eq!(
        b.try_acquire().unwrap_err().reason(),
        RejectReason::RateLimited
    );
    assert_eq!(
        summary(&recorder.drain()),
        [
            (MS, CallOutcome::Rejected(RejectReason::BulkheadFull), None),
            (0, CallOutcome::Success, Some(MS)),
            (MS, CallOutcome::Success, Some(0)),
            (
                2 * MS,
                CallOutcome::Rejected(RejectReason::RateLimited),
                None
            ),
        ]
    );
}

#[test]
fn disabled_and_metrics_only_calls_are_recorded() {
    let (b, clock, recorder) = recorded("db", Policy::default());
    b.disable();
    let p = b.try_acquire().unwrap();
    clock.advance(ms(2));
    p.failure();
    b.metrics_only();
    let p = b.try_acquire().unwrap();
    clock.advance(ms(3));
    p.success();
    assert_eq!(
        summary(&recorder.drain()),
        [
            (0, CallOutcome::Failure, Some(2 * MS)),
            (2 * MS, CallOutcome::Success, Some(3 * MS)),
        ]
    );
}

#[test]
fn a_slow_call_rule_and_the_latency_histogram_see_the_same_durations() {
    let policy = Policy::builder()
        .slow_calls(ms(100), 1.0)
        .latency_histogram(true)
        .window(Window::time(Duration::from_secs(10), 10))
        .build()
        .unwrap();
    let (b, clock, recorder) = recorded("slow", policy);
    let p = b.try_acquire().unwrap();
    clock.advance(ms(150));
    p.success();
    assert_eq!(b.metrics().window_slow, 1);
    assert_eq!(b.latency().unwrap().count(), 1);
    assert_eq!(
        summary(&recorder.drain()),
        [(0, CallOutcome::Success, Some(150 * MS))]
    );
}

#[test]
fn a_full_recorder_drops_and_counts() {
    let clock = ManualClock::new();
    let b = Breaker::with_clock("db", Policy::default(), clock);
    let recorder = CallRecorder::new(3);
    b.record_to(&recorder, 1.0);
    for _ in 0..10 {
        b.try_acquire().unwrap().success();
    }
    b.force_open();
    let _ = b.try_acquire();
    assert_eq!((recorder.len(), recorder.dropped()), (3, 8));
    assert_eq!(recorder.drain().len(), 3);
    b.try_acquire().unwrap_err();
    assert_eq!((recorder.len(), recorder.dropped()), (1, 8));
    assert_eq!(
        b.metrics().successes,
        10,
        "a full recorder never refuses a call"
    );
}

#[test]
fn stopping_and_switching_recorders() {
    let (b, _clock, first) = recorded("db", Policy::default());
    let held = b.try_acquire().unwrap();
    b.stop_recording();
    b.try_acquire().unwrap().success();
    held.success(); // admitted recorded, finished after the stop: not recorded
    assert!(first.is_empty());
    assert!(b.recorder().is_none());
    let second = CallRecorder::new(8);
    b.record_to(&first, 1.0);
    let moved = b.try_acquire().unwrap();
    b.record_to(&second, 1.0);
    moved.success(); // goes to the recorder in force when it ends
    b.try_acquire().unwrap().success();
    assert_eq!((first.len(), second.len()), (0, 2));
}

#[test]
fn sampling_a_half_records_about_half() {
    let clock = ManualClock::new();
    let b = Breaker::with_clock("db", Policy::default(), clock);
    let recorder = CallRecorder::new(100_000);
    b.record_to(&recorder, 0.5);
    for _ in 0..20_000 {
        b.try_acquire().unwrap().success();
    }
    b.force_open();
    for _ in 0..20_000 {
        let _ = b.try_acquire();
    }
    let calls = recorder.drain();
    let rejected = calls
        .iter()
        .filter(|c| matches!(c.outcome(), CallOutcome::Rejected(_)))
        .count();
    let admitted = calls.len() - rejected;
    // Binomial(20 000, 0.5) has a standard deviation of about 71: these bounds are 14 of them.
    assert!((9_000..=11_000).contains(&admitted), "{admitted}");
    assert!((9_000..=11_000).contains(&rejected), "{rejected}");
    assert_eq!(recorder.dropped(), 0);
}

#[test]
fn threads_account_for_every_call() {
    const THREADS: u64 = 4;
    const CALLS: u64 = 50_000;
    let b = Breaker::new("stress", Policy::default());
    b.metrics_only(); // records as usual, never trips
    let recorder = CallRecorder::new(10_000);
    b.record_to(&recorder, 1.0);
    let drained = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let b = &b;
            let done = &done;
            s.spawn(move || {
                for i in 0..CALLS {
                    let p = b.try_acquire().unwrap();
                    match (i + t) % 3 {
                        0 => p.success(),
                        1 => p.failure(),
                        _ => drop(p),
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
            });
        }
        // A reader drains while the calls run.
        s.spawn(|| {
            while done.load(Ordering::Relaxed) < THREADS {
                let n = recorder.drain().len() as u64;
                drained.fetch_add(n, Ordering::Relaxed);
                std::thread::yield_now();
            }
        });
    });
    let rest = recorder.drain();
    assert!(rest.iter().all(|c| c.breaker() == "stress"));
    let recorded = drained.load(Ordering::Relaxed) + rest.len() as u64;
    assert_eq!(recorded + recorder.dropped(), THREADS * CALLS);
    assert!(recorded > 0);
}

#[test]
fn switching_between_many_recorders_keeps_their_calls_apart() {
    let clock = ManualClock::new();
    let b = Breaker::with_clock("db", Policy::default(), clock);
    let kept = CallRecorder::new(1000);
    for round in 0..200u64 {
        // A fresh recorder each round, dropped at its end: the allocator may give the next
        // one the same addresses, and a thread must not take it for the one it held.
        let fresh = CallRecorder::new(16);
        b.record_to(&fresh, 1.0);
        for _ in 0..round % 3 + 1 {
            b.try_acquire().unwrap().success();
        }
        assert_eq!(fresh.drain().len() as u64, round % 3 + 1, "round {round}");
        b.record_to(&kept, 1.0);
        b.try_acquire().unwrap().failure();
        b.stop_recording();
        b.try_acquire().unwrap().success();
    }
    let calls = kept.drain();
    assert_eq!(calls.len(), 200);
    assert!(calls.iter().all(|c| c.outcome() == CallOutcome::Failure));
}

/// On the real clock, whose timer thread watches open deadlines, an `Open` breaker's word is
/// marked so that its rejections decide from it alone, without testing the recording flag:
/// recording started during the open period, and across later ones, still takes every
/// rejection.
#[test]
fn rejections_of_an_open_period_under_way_are_recorded_once_recording_starts() {
    let policy = Policy::builder()
        .window(Window::count(1))
        .min_calls(1)
        .open_timeout(Duration::from_secs(3600))
        .build()
        .unwrap();
    let b = Breaker::new("timed", policy);
    let _ = b.call(|| Err::<(), _>("down"));
    assert_eq!(b.state(), State::Open);
    for _ in 0..3 {
        assert!(b.try_acquire().is_err());
    }
    let recorder = CallRecorder::new(100);
    b.record_to(&recorder, 1.0);
    for _ in 0..5 {
        assert!(b.try_acquire().is_err());
    }
    let _ = b.call(|| Ok::<_, ()>(()));
    // A later open period of the recorded breaker is recorded too.
    b.reset();
    let _ = b.call(|| Err::<(), _>("down again"));
    assert!(b.try_acquire().is_err());
    let outcomes: Vec<CallOutcome> = recorder.drain().iter().map(|c| c.outcome()).collect();
    let open = CallOutcome::Rejected(RejectReason::Open);
    assert_eq!(
        outcomes,
        [vec![open; 6], vec![CallOutcome::Failure, open]].concat(),
    );
    assert_eq!(b.metrics().rejected, 10);
}
