//! The adaptive bulkhead on a `ManualClock`: how each algorithm moves the limit as latency and
//! drops change, priorities against static and adaptive limits, `Metrics::limit`, and policy
//! swaps. (The algorithms' formulas are unit-tested in `src/breaker/adaptive/algorithm.rs`.)

use std::time::Duration;

use fusebox_engine::{
    AdaptiveLimit, Breaker, Failure, LimitAlgorithm, ManualClock, Permit, Policy, Priority,
    RejectReason, State,
};

/// Completed calls per window of the adaptive limit.
const WINDOW: usize = 32;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A breaker with `limit`, put in `MetricsOnly` so that windows full of failures never trip
/// it: only the limit reacts.
fn adaptive(limit: AdaptiveLimit) -> (Breaker, ManualClock) {
    let clock = ManualClock::new();
    let policy = Policy::builder().adaptive_limit(limit).build().unwrap();
    let b = Breaker::with_clock("dep", policy, clock.clone());
    b.metrics_only();
    (b, clock)
}

fn limit(b: &Breaker) -> u32 {
    b.metrics().limit.expect("a bulkhead")
}

/// One round of calls at full load: as many calls as the limit admits start at once, take
/// `latency`, and end as `fail` says. Returns the calls made.
fn round(b: &Breaker, clock: &ManualClock, latency: Duration, fail: bool) -> usize {
    let permits: Vec<Permit<'_>> = std::iter::from_fn(|| b.try_acquire().ok()).collect();
    assert_eq!(
        permits.len(),
        limit(b) as usize,
        "the bulkhead admits its limit"
    );
    clock.advance(latency);
    let n = permits.len();
    for p in permits {
        if fail {
            p.failure_with(Failure::of_kind("timeout"));
        } else {
            p.success();
        }
    }
    n
}

/// Rounds until at least `windows` windows have closed.
fn rounds(b: &Breaker, clock: &ManualClock, windows: usize, latency: Duration, fail: bool) {
    let mut calls = 0;
    while calls < windows * WINDOW {
        calls += round(b, clock, latency, fail);
    }
}

#[test]
fn aimd_rises_to_max_while_healthy_and_busy_and_falls_to_min_on_drops() {
    let l = AdaptiveLimit::new(LimitAlgorithm::Aimd)
        .with_min(5)
        .with_max(40)
        .with_initial(10);
    let (b, clock) = adaptive(l);
    assert_eq!(limit(&b), 10);
    let mut previous = 10;
    for _ in 0..200 {
        round(&b, &clock, ms(1), false);
        let now = limit(&b);
        assert!(now >= previous, "a healthy busy limit never falls");
        previous = now;
    }
    assert_eq!(limit(&b), 40);
    rounds(&b, &clock, 30, ms(1), true);
    assert_eq!(limit(&b), 5);
    assert_eq!(b.state(), State::MetricsOnly);
}

#[test]
fn aimd_does_not_grow_while_the_caller_keeps_calls_in_flight_low() {
    let (b, _clock) = adaptive(AdaptiveLimit::new(LimitAlgorithm::Aimd));
    for _ in 0..20 * WINDOW {
        b.try_acquire().unwrap().success();
    }
    assert_eq!(
        limit(&b),
        20,
        "one call at a time is never near a limit of 20"
    );
}

#[test]
fn ignored_calls_are_no_samples() {
    let (b, _clock) = adaptive(AdaptiveLimit::new(LimitAlgorithm::Aimd));
    for _ in 0..10 * WINDOW {
        let held: Vec<_> = (0..20).map(|_| b.try_acquire().unwrap()).collect();
        drop(held); // dropped permits are ignored
    }
    assert_eq!(limit(&b), 20);
}

#[test]
fn vegas_grows_without_queueing_and_falls_when_latency_rises() {
    let (b, clock) = adaptive(AdaptiveLimit::new(LimitAlgorithm::Vegas));
    rounds(&b, &clock, 4, ms(10), false);
    let grown = limit(&b);
    assert!(grown > 20, "no queueing: +6 a window, got {grown}");
    rounds(&b, &clock, 8, ms(30), false);
    let fallen = limit(&b);
    assert!(fallen < grown, "latency tripled: {grown} -> {fallen}");
}

#[test]
fn gradient2_falls_when_latency_rises() {
    let (b, clock) = adaptive(AdaptiveLimit::new(LimitAlgorithm::Gradient2).with_initial(100));
    rounds(&b, &clock, 4, ms(10), false);
    let steady = limit(&b);
    assert!(
        steady >= 100,
        "a steady latency does not lower the limit: {steady}"
    );
    rounds(&b, &clock, 10, ms(40), false);
    let fallen = limit(&b);
    assert!(fallen < steady * 3 / 4, "latency ×4: {steady} -> {fallen}");
}

/// The published Gradient2 reads latency alone: when every call times out, the latency is
/// the timeout, flat, the gradient 1, and the limit climbs to `max`. Here drops back off.
#[test]
fn gradient2_falls_to_min_when_every_call_times_out_at_a_flat_latency() {
    let l = AdaptiveLimit::new(LimitAlgorithm::Gradient2).with_initial(50);
    let (b, clock) = adaptive(l);
    rounds(&b, &clock, 60, Duration::from_secs(2), true);
    assert_eq!(limit(&b), 4);
    // The same rounds succeeding at that flat latency climb instead.
    let (b, clock) = adaptive(l);
    rounds(&b, &clock, 60, Duration::from_secs(2), false);
    assert!(limit(&b) > 50);
}

#[test]
fn priority_thresholds_at_a_limit_of_ten() {
    let policies = [
        Policy::builder().max_concurrent(10).build().unwrap(),
        Policy::builder()
            .adaptive_limit(AdaptiveLimit::new(LimitAlgorithm::Vegas).with_initial(10))
            .build()
            .unwrap(),
    ];
    for policy in policies {
        let b = Breaker::with_clock("dep", policy, ManualClock::new());
        assert_eq!(b.metrics().limit, Some(10));
        let admitted = |priority| {
            std::iter::from_fn(|| b.try_acquire_owned_with(priority).ok())
                .take(100)
                .collect::<Vec<_>>()
        };
        let low = admitted(Priority::Low);
        assert_eq!(low.len(), 8);
        let normal = admitted(Priority::Normal);
        assert_eq!(low.len() + normal.len(), 10);
        let critical = admitted(Priority::Critical);
        assert_eq!(low.len() + normal.len() + critical.len(), 11);
        for priority in [Priority::Low, Priority::Normal, Priority::Critical] {
            let r = b.try_acquire_with(priority).unwrap_err();
            assert_eq!(r.reason(), RejectReason::BulkheadFull);
        }
        assert_eq!(b.metrics().rejected_by(RejectReason::BulkheadFull), 6);
        // Slots come back: with the 8 low calls alone in flight a low call is still refused;
        // with none, 8 fit again.
        drop((critical, normal));
        assert!(b.try_acquire_with(Priority::Low).is_err(), "8 in flight");
        drop(low);
        assert_eq!(admitted(Priority::Low).len(), 8);
    }
}

#[test]
fn call_with_priority_follows_the_same_caps() {
    let b = Breaker::with_clock(
        "dep",
        Policy::builder().max_concurrent(2).build().unwrap(),
        ManualClock::new(),
    );
    let one = b.try_acquire().unwrap();
    assert!(
        b.call_with_priority(Priority::Low, || Ok::<_, ()>(()))
            .is_err()
    );
    let two = b.try_acquire().unwrap();
    assert!(
        b.call_with_priority(Priority::Normal, || Ok::<_, ()>(()))
            .is_err()
    );
    assert_eq!(
        b.call_with_priority(Priority::Critical, || Ok::<_, ()>(3))
            .unwrap(),
        3
    );
    drop((one, two));
}

#[test]
fn without_a_bulkhead_priorities_change_nothing() {
    let b = Breaker::with_clock("dep", Policy::default(), ManualClock::new());
    assert_eq!(b.metrics().limit, None);
    let held: Vec<_> = (0..1000)
        .map(|_| b.try_acquire_with(Priority::Low).unwrap())
        .collect();
    assert!(b.try_acquire_with(Priority::Low).is_ok());
    drop(held);
}

#[test]
fn a_swap_keeps_the_learned_limit_only_for_the_same_adaptive_limit() {
    let l = AdaptiveLimit::new(LimitAlgorithm::Aimd).with_max(100);
    let (b, clock) = adaptive(l);
    rounds(&b, &clock, 10, ms(1), false);
    let learned = limit(&b);
    assert!(learned > 20);
    // Another key changes: the limit stays learned.
    b.set_policy(b.policy().to_builder().jitter(0.1).build().unwrap());
    assert_eq!(limit(&b), learned);
    // Another adaptive limit starts from its initial.
    b.set_policy(
        b.policy()
            .to_builder()
            .adaptive_limit(l.with_initial(30))
            .build()
            .unwrap(),
    );
    assert_eq!(limit(&b), 30);
    // A static bulkhead, and back: the adaptive limit starts over.
    b.set_policy(b.policy().to_builder().max_concurrent(7).build().unwrap());
    assert_eq!(limit(&b), 7);
    b.set_policy(b.policy().to_builder().adaptive_limit(l).build().unwrap());
    assert_eq!(limit(&b), 20);
    b.set_policy(
        b.policy()
            .to_builder()
            .unlimited_concurrency()
            .build()
            .unwrap(),
    );
    assert_eq!(b.metrics().limit, None);
}

/// `run_with_priority` on paused tokio time, the breaker on `TokioClock`.
#[cfg(feature = "tokio")]
mod run {
    use super::*;
    use fusebox_engine::{RunError, TokioClock};

    /// A `run` that takes a second, spawned so that it holds its slot.
    fn slow(b: &Breaker) -> tokio::task::JoinHandle<Result<(), RunError<()>>> {
        let b = b.clone();
        tokio::spawn(async move {
            b.run(|| async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                Ok(())
            })
            .await
        })
    }

    fn rejected<T>(r: Result<T, RunError<()>>) -> bool {
        matches!(r, Err(RunError::Rejected { rejected, attempts: 0 })
            if rejected.reason() == RejectReason::BulkheadFull)
    }

    #[tokio::test(start_paused = true)]
    async fn run_with_priority_sheds_low_calls_first_and_lets_critical_ones_into_the_reserve() {
        let policy = Policy::builder().max_concurrent(2).build().unwrap();
        let b = Breaker::with_clock("dep", policy, TokioClock::new());
        let quick = || async { Ok::<_, ()>(7) };
        let first = slow(&b);
        tokio::task::yield_now().await;
        // One in flight: a low call's cap is 1 (80 % of 2, at least 1).
        assert!(rejected(b.run_with_priority(Priority::Low, quick).await));
        assert_eq!(
            b.run_with_priority(Priority::Normal, quick).await.unwrap(),
            7
        );
        let second = slow(&b);
        tokio::task::yield_now().await;
        assert!(rejected(b.run_with_priority(Priority::Normal, quick).await));
        assert_eq!(
            b.run_with_priority(Priority::Critical, quick)
                .await
                .unwrap(),
            7
        );
        first.await.unwrap().unwrap();
        second.await.unwrap().unwrap();
        assert_eq!(b.run_with_priority(Priority::Low, quick).await.unwrap(), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn gradient2_falls_to_min_when_every_run_times_out() {
        let policy = Policy::builder()
            .adaptive_limit(AdaptiveLimit::new(LimitAlgorithm::Gradient2).with_initial(60))
            .timeout(ms(100))
            .build()
            .unwrap();
        let b = Breaker::with_clock("dep", policy, TokioClock::new());
        b.metrics_only();
        let mut made = 0;
        while made < 40 * WINDOW {
            let calls: Vec<_> = (0..limit(&b)).map(|_| slow(&b)).collect();
            made += calls.len();
            for call in calls {
                assert!(matches!(
                    call.await.unwrap(),
                    Err(RunError::TimedOut { attempts: 1 })
                ));
            }
        }
        assert_eq!(limit(&b), 4);
        assert_eq!(
            b.metrics().failures_of_kind("timeout"),
            b.metrics().failures
        );
    }
}
