//! Chaos in `run` (feature `tokio`): injected faults that trip the breaker, injected latency
//! inside the timeout, a seed that replays, `until`, hot swaps and switching chaos off; on
//! paused tokio time, with the breaker on `TokioClock` following it.
#![cfg(feature = "tokio")]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fusebox_engine::{
    Breaker, CHAOS_KIND, Chaos, Policy, PolicyBuilder, Retry, RetryBackoff, RunError, State,
    TIMEOUT_KIND, TokioClock, TransitionReason,
};
use tokio::time::Instant;

fn breaker(policy: PolicyBuilder) -> Breaker {
    Breaker::with_clock("dep", policy.build().unwrap(), TokioClock::new())
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn faults(rate: f64) -> Chaos {
    Chaos::new().with_fault_rate(rate)
}

/// Runs `n` calls; for each, whether chaos kept it from running.
async fn injected(b: &Breaker, n: usize) -> Vec<bool> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut ran = false;
        let r = b
            .run(|| {
                ran = true;
                async { Ok::<_, ()>(()) }
            })
            .await;
        assert_eq!(matches!(r, Err(RunError::Injected { .. })), !ran);
        out.push(!ran);
    }
    out
}

#[tokio::test(start_paused = true)]
async fn rule_17_injected_faults_skip_the_call_and_trip_the_breaker() {
    let b = breaker(Policy::builder().min_calls(5).chaos(faults(1.0)));
    let mut calls = 0;
    for _ in 0..5 {
        let r = b
            .run(|| {
                calls += 1;
                async { Ok::<_, &str>(()) }
            })
            .await;
        let err = r.unwrap_err();
        assert!(matches!(err, RunError::Injected { attempts: 1 }));
        assert_eq!(err.attempts(), 1);
        assert_eq!(
            err.to_string(),
            "chaos: a fault was injected (the call did not run)"
        );
    }
    assert_eq!(calls, 0);
    assert_eq!(b.state(), State::Open);
    let m = b.metrics();
    assert_eq!((m.failures, m.failures_of_kind(CHAOS_KIND)), (5, 5));
    assert_eq!(m.failures_by_kind().collect::<Vec<_>>(), [(CHAOS_KIND, 5)]);
    assert_eq!(b.history()[0].reason, TransitionReason::FailureRate);
    // Open: rejected before chaos is drawn.
    let r = b.run(|| async { Ok::<_, ()>(()) }).await;
    assert!(matches!(r, Err(RunError::Rejected { attempts: 0, .. })));
}

#[tokio::test(start_paused = true)]
async fn rule_17_injected_faults_are_retried_like_real_failures() {
    let retry = Retry::new(3)
        .with_backoff(RetryBackoff::Constant)
        .with_base(ms(10));
    let b = breaker(Policy::builder().retry(retry).chaos(faults(1.0)));
    let mut calls = 0;
    let r = b
        .run(|| {
            calls += 1;
            async { Ok::<_, ()>(()) }
        })
        .await;
    assert!(matches!(r, Err(RunError::Injected { attempts: 3 })));
    assert_eq!(calls, 0);
    assert_eq!(b.metrics().failures_of_kind(CHAOS_KIND), 3);

    // Half the attempts faulted: with three attempts, most calls get through in the end.
    let b = breaker(
        Policy::builder()
            .retry(retry)
            .min_calls(100)
            .chaos(faults(0.5).with_seed(1)),
    );
    let mut ok = 0;
    for _ in 0..40 {
        if b.run(|| async { Ok::<_, ()>(()) }).await.is_ok() {
            ok += 1;
        }
    }
    assert!(ok >= 30, "{ok}");
    let m = b.metrics();
    assert_eq!(m.successes, ok);
    assert_eq!(m.failures, m.failures_of_kind(CHAOS_KIND));
}

#[tokio::test(start_paused = true)]
async fn rule_17_the_same_seed_and_calls_inject_the_same_faults() {
    let policy = Policy::builder()
        .min_calls(100)
        .failure_rate_threshold(1.0)
        .chaos(faults(0.3).with_seed(7));
    let first = injected(&breaker(policy.clone()), 200).await;
    let again = injected(&breaker(policy.clone()), 200).await;
    assert_eq!(first, again);
    let share = first.iter().filter(|&&f| f).count();
    assert!((30..90).contains(&share), "{share}");
    let other = injected(
        &breaker(
            Policy::builder()
                .min_calls(100)
                .failure_rate_threshold(1.0)
                .chaos(faults(0.3).with_seed(8)),
        ),
        200,
    )
    .await;
    assert_ne!(first, other);

    // A swap to other chaos starts its draws over: a breaker given this chaos later injects
    // what a breaker made with it does.
    let b = breaker(
        Policy::builder()
            .min_calls(100)
            .failure_rate_threshold(1.0)
            .chaos(faults(0.3).with_seed(99)),
    );
    let _ = injected(&b, 37).await;
    b.set_policy(policy.clone().build().unwrap());
    assert_eq!(injected(&b, 200).await, first);
    // A swap that keeps the chaos keeps the sequence going.
    let b = breaker(policy.clone());
    let head = injected(&b, 100).await;
    b.set_policy(policy.min_calls(99).build().unwrap());
    let tail = injected(&b, 100).await;
    assert_eq!([head, tail].concat(), first);
}

#[tokio::test(start_paused = true)]
async fn rule_17_injected_latency_delays_the_call() {
    let chaos = Chaos::new().with_latency(ms(200), 1.0);
    let b = breaker(Policy::builder().chaos(chaos));
    let start = Instant::now();
    let called_at = b
        .run(|| async { Ok::<_, ()>(Instant::now()) })
        .await
        .unwrap();
    assert_eq!(called_at - start, ms(200));
    assert_eq!(b.metrics().successes, 1);

    // A share of the calls: the others go at once.
    let b = breaker(Policy::builder().chaos(Chaos::new().with_latency(ms(200), 0.5)));
    let mut delayed = 0;
    for _ in 0..100 {
        let start = Instant::now();
        b.run(|| async { Ok::<_, ()>(()) }).await.unwrap();
        match Instant::now() - start {
            d if d == ms(200) => delayed += 1,
            d => assert_eq!(d, Duration::ZERO),
        }
    }
    assert!((30..70).contains(&delayed), "{delayed}");
}

#[tokio::test(start_paused = true)]
async fn rule_17_injected_latency_counts_inside_the_timeout() {
    let chaos = Chaos::new().with_latency(ms(200), 1.0);
    let b = breaker(Policy::builder().timeout(ms(100)).min_calls(2).chaos(chaos));
    let mut calls = 0;
    for _ in 0..2 {
        let start = Instant::now();
        let r = b
            .run(|| {
                calls += 1;
                async { Ok::<_, ()>(()) }
            })
            .await;
        assert!(matches!(r, Err(RunError::TimedOut { attempts: 1 })));
        assert_eq!(Instant::now() - start, ms(100));
    }
    assert_eq!(calls, 0, "the call was still waiting when time was up");
    let m = b.metrics();
    assert_eq!(m.failures_of_kind(TIMEOUT_KIND), 2);
    assert_eq!(m.failures_of_kind(CHAOS_KIND), 0);
    assert_eq!(b.state(), State::Open);

    // Latency and a call that together fit in the timeout succeed.
    let b = breaker(Policy::builder().timeout(ms(300)).chaos(chaos));
    let r = b
        .run(|| async {
            tokio::time::sleep(ms(50)).await;
            Ok::<_, ()>(())
        })
        .await;
    assert!(r.is_ok());
}

#[tokio::test(start_paused = true)]
async fn rule_17_chaos_past_its_until_injects_nothing() {
    let past = UNIX_EPOCH + Duration::from_secs(1_000_000_000); // 2001
    let b = breaker(Policy::builder().chaos(faults(1.0).with_until(past)));
    assert!(injected(&b, 20).await.iter().all(|&f| !f));
    assert_eq!(b.metrics().successes, 20);

    let future = SystemTime::now() + Duration::from_secs(3600);
    let b = breaker(
        Policy::builder()
            .min_calls(100)
            .chaos(faults(1.0).with_until(future)),
    );
    assert!(injected(&b, 20).await.iter().all(|&f| f));
}

#[tokio::test(start_paused = true)]
async fn rule_17_chaos_is_swapped_on_and_off_like_any_key() {
    let calm = Policy::builder().min_calls(100).build().unwrap();
    let b = Breaker::with_clock("dep", calm.clone(), TokioClock::new());
    assert_eq!(injected(&b, 5).await, [false; 5]);
    b.set_policy(calm.to_builder().chaos(faults(1.0)).build().unwrap());
    assert_eq!(injected(&b, 5).await, [true; 5]);
    b.set_policy(calm.clone());
    assert_eq!(injected(&b, 5).await, [false; 5]);

    b.set_policy(calm.to_builder().chaos(faults(1.0)).build().unwrap());
    assert!(b.noted("oncall: experiment over").chaos_off());
    assert_eq!(*b.policy(), calm);
    assert_eq!(injected(&b, 5).await, [false; 5]);
    let last = b.history().pop().unwrap();
    assert_eq!(
        (last.from, last.to, last.reason, last.note.as_deref()),
        (
            State::Closed,
            State::Closed,
            TransitionReason::ChaosOff,
            Some("oncall: experiment over")
        )
    );
    assert_eq!(TransitionReason::ChaosOff.as_label(), "chaos_off");
    // Nothing to switch off: nothing happens, nothing is noted.
    assert!(!b.noted("again").chaos_off());
    assert!(!b.chaos_off());
    assert_eq!(b.history().len(), 1);
}
