//! `run` (feature `tokio`): timeouts that count as failures, retries with backoff under a
//! budget, rejections never retried; all on paused tokio time, with the breaker on
//! `TokioClock` following it.
#![cfg(feature = "tokio")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use fusebox_engine::{
    Breaker, Policy, PolicyBuilder, RejectReason, Retry, RetryBackoff, RunError, State, TokioClock,
};
use tokio::time::Instant;

fn breaker(policy: PolicyBuilder) -> Breaker {
    Breaker::with_clock("dep", policy.build().unwrap(), TokioClock::new())
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test(start_paused = true)]
async fn a_timeout_is_a_failure_that_trips_the_breaker() {
    let b = breaker(Policy::builder().timeout(ms(100)).min_calls(2));
    for _ in 0..2 {
        let r = b
            .run(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok::<_, ()>(())
            })
            .await;
        assert!(matches!(r, Err(RunError::TimedOut { attempts: 1 })));
    }
    assert_eq!(b.state(), State::Open);
    let m = b.metrics();
    assert_eq!((m.failures, m.failures_of_kind("timeout")), (2, 2));
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_attempt_is_slow_when_a_slow_rule_says_so() {
    let b = breaker(
        Policy::builder()
            .timeout(ms(100))
            .slow_calls(ms(50), 1.0)
            .min_calls(10),
    );
    let _ = b
        .run(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<_, ()>(())
        })
        .await;
    assert_eq!(b.metrics().slow, 1);
}

#[tokio::test(start_paused = true)]
async fn failures_are_retried_with_the_backoff_until_one_succeeds() {
    let b = breaker(
        Policy::builder().retry(
            Retry::new(4)
                .with_backoff(RetryBackoff::Exponential)
                .with_base(ms(100))
                .with_max(Duration::from_secs(1)),
        ),
    );
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    let r = b
        .run(|| {
            let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
            async move { if n < 4 { Err(n) } else { Ok(n) } }
        })
        .await;
    assert_eq!(r.unwrap(), 4);
    // Waits of 100, 200 and 400 ms between the four attempts.
    assert_eq!(start.elapsed(), ms(700));
    let m = b.metrics();
    assert_eq!((m.failures, m.successes), (3, 1));
}

#[tokio::test(start_paused = true)]
async fn the_last_error_comes_back_when_no_attempt_is_left() {
    let b = breaker(Policy::builder().retry(Retry::new(3).with_backoff(RetryBackoff::Constant)));
    let r = b.run(|| async { Err::<(), _>("down") }).await.unwrap_err();
    assert_eq!(r.attempts(), 3);
    assert_eq!(r.into_failed(), Some("down"));
}

#[tokio::test(start_paused = true)]
async fn a_rejection_is_returned_at_once_and_never_retried() {
    let b = breaker(Policy::builder().retry(Retry::new(5)));
    b.force_open();
    let calls = AtomicU32::new(0);
    let r = b
        .run(|| {
            calls.fetch_add(1, Ordering::Relaxed);
            async { Ok::<_, ()>(()) }
        })
        .await;
    let Err(RunError::Rejected { rejected, attempts }) = r else {
        panic!("not rejected: {r:?}");
    };
    assert_eq!((rejected.reason(), attempts), (RejectReason::ForcedOpen, 0));
    assert_eq!(calls.load(Ordering::Relaxed), 0);

    // A breaker that opens between attempts stops the retries there.
    let b = breaker(Policy::builder().min_calls(1).retry(Retry::new(5)));
    let r = b.run(|| async { Err::<(), _>("down") }).await;
    assert!(
        matches!(r, Err(RunError::Rejected { attempts: 1, .. })),
        "{r:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_budget_bounds_retries_to_the_floor_when_its_share_is_zero() {
    let b = breaker(
        Policy::builder()
            .window(fusebox_engine::Window::count(1000))
            .min_calls(1000)
            .retry(
                Retry::new(2)
                    .with_backoff(RetryBackoff::Constant)
                    .with_base(ms(1))
                    .with_budget(0.0),
            ),
    );
    let calls = Arc::new(AtomicU32::new(0));
    for _ in 0..150 {
        let calls = calls.clone();
        let _ = b
            .run(move || {
                calls.fetch_add(1, Ordering::Relaxed);
                async { Err::<(), _>(()) }
            })
            .await;
    }
    // 150 first attempts, and 10 retries a second over the 10 s window: 100.
    assert_eq!(calls.load(Ordering::Relaxed), 250);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_attempt_records_a_failure_and_the_panic_goes_on() {
    let b = breaker(Policy::builder());
    let task = tokio::spawn({
        let b = b.clone();
        async move {
            b.run(|| async {
                if true {
                    panic!("the dependency's client panicked");
                }
                Ok::<_, ()>(())
            })
            .await
        }
    });
    assert!(task.await.unwrap_err().is_panic());
    assert_eq!(b.metrics().failures, 1);
}

#[tokio::test(start_paused = true)]
async fn the_breaker_follows_paused_tokio_time() {
    let b = breaker(
        Policy::builder()
            .min_calls(1)
            .open_timeout(Duration::from_secs(10))
            .half_open_permits(1)
            .success_threshold(1),
    );
    let _ = b.run(|| async { Err::<(), _>(()) }).await;
    assert_eq!(b.state(), State::Open);
    assert_eq!(
        b.try_acquire().unwrap_err().retry_after(),
        Some(Duration::from_secs(10))
    );
    tokio::time::advance(Duration::from_secs(10)).await;
    b.run(|| async { Ok::<_, ()>(()) }).await.unwrap();
    assert_eq!(b.state(), State::Closed);
}
