//! The semantic rules 1–14 of the rules table in `fusebox_engine::docs::rules`, one or more
//! tests per rule, each named `rule_NN_*` after its rule, all on a `ManualClock` so every number
//! is exact. Also: transition subscribers and `call_async`.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use fusebox_engine::{
    Backoff, Breaker, CallError, ManualClock, Outcome, Policy, PolicyBuilder, Recovery,
    RejectReason, SUBSCRIBER_CAPACITY, State, Transition, TransitionReason, Window,
};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn build(b: PolicyBuilder) -> Policy {
    b.build().expect("valid policy")
}

fn breaker(b: PolicyBuilder) -> (Breaker, ManualClock) {
    let clock = ManualClock::new();
    (Breaker::with_clock("svc", build(b), clock.clone()), clock)
}

/// A policy whose first failure opens the breaker: window 1, min_calls 1, one probe.
fn one_shot() -> PolicyBuilder {
    Policy::builder()
        .window(Window::count(1))
        .min_calls(1)
        .open_timeout(secs(10))
        .half_open_permits(1)
        .success_threshold(1)
}

/// Acquires `n` permits and records `outcome` on each; panics if one is rejected.
fn record_n(b: &Breaker, outcome: Outcome, n: usize) {
    for i in 0..n {
        b.try_acquire()
            .unwrap_or_else(|r| panic!("acquire {i} of {n} rejected: {r}"))
            .record(outcome);
    }
}

fn reject_reason(b: &Breaker) -> RejectReason {
    b.try_acquire().expect_err("expected a rejection").reason()
}

fn retry_after(b: &Breaker) -> Option<Duration> {
    b.try_acquire()
        .expect_err("expected a rejection")
        .retry_after()
}

fn drain(rx: &crossbeam_channel::Receiver<Transition>) -> Vec<(State, State, TransitionReason)> {
    rx.try_iter().map(|t| (t.from, t.to, t.reason)).collect()
}

// ---------------------------------------------------------------------------------------------
// Rule 1: count window
// ---------------------------------------------------------------------------------------------

#[test]
fn rule_01_count_window_holds_last_n() {
    // Threshold 1.0: only a window of 10 failures out of 10 trips, which this pattern never has.
    let (b, _clock) = breaker(
        Policy::builder()
            .window(Window::count(10))
            .min_calls(10)
            .failure_rate_threshold(1.0),
    );
    let pattern = |i: usize| i.is_multiple_of(3); // failure on 0, 3, 6, ...
    for i in 0..25 {
        let outcome = if pattern(i) {
            Outcome::Failure
        } else {
            Outcome::Success
        };
        b.try_acquire().unwrap().record(outcome);
        let m = b.metrics();
        let held = (i + 1).min(10);
        let expected_failures = (i + 1 - held..=i).filter(|&j| pattern(j)).count();
        assert_eq!(m.window_calls, held as u64, "after {} outcomes", i + 1);
        assert_eq!(
            m.window_failures,
            expected_failures as u64,
            "after {} outcomes",
            i + 1
        );
    }
    assert_eq!(b.state(), State::Closed);
    let m = b.metrics();
    assert_eq!((m.successes, m.failures, m.admitted), (16, 9, 25));
    // Ten successes push every failure out.
    record_n(&b, Outcome::Success, 10);
    assert_eq!(
        (b.metrics().window_calls, b.metrics().window_failures),
        (10, 0)
    );
}

#[test]
fn rule_01_ignored_outcomes_are_not_recorded() {
    let (b, _clock) = breaker(Policy::builder().window(Window::count(10)).min_calls(10));
    record_n(&b, Outcome::Failure, 3);
    record_n(&b, Outcome::Success, 2);
    record_n(&b, Outcome::Ignored, 7);
    for _ in 0..4 {
        drop(b.try_acquire().unwrap());
    }
    let r = b.call_with(|| Err::<(), _>("client error"), |_| Outcome::Ignored);
    assert!(matches!(r, Err(CallError::Failed("client error"))));
    let m = b.metrics();
    assert_eq!((m.window_calls, m.window_failures), (5, 3));
    assert_eq!(
        (m.successes, m.failures, m.ignored, m.admitted),
        (2, 3, 12, 17)
    );
    assert_eq!(m.failure_rate(), 0.6);
    // Had the 12 ignored calls been recorded, the window would be full already; as it is,
    // it takes five more failures to reach min_calls (8 failures of 10).
    record_n(&b, Outcome::Failure, 4);
    assert_eq!(b.state(), State::Closed, "9 calls < min_calls 10");
    record_n(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn rule_01_rejected_calls_are_not_recorded() {
    let (b, _clock) = breaker(
        Policy::builder()
            .window(Window::count(10))
            .min_calls(4)
            .open_timeout(secs(10)),
    );
    record_n(&b, Outcome::Success, 2);
    record_n(&b, Outcome::Failure, 2);
    assert_eq!(b.state(), State::Open);
    for _ in 0..20 {
        assert!(matches!(
            b.call(|| Ok::<_, ()>(())),
            Err(CallError::Rejected(_))
        ));
    }
    let m = b.metrics();
    assert_eq!((m.window_calls, m.window_failures), (4, 2));
    assert_eq!(
        (m.admitted, m.successes, m.failures, m.rejected),
        (4, 2, 2, 20)
    );
}

// ---------------------------------------------------------------------------------------------
// Rule 2: failure rate and min_calls
// ---------------------------------------------------------------------------------------------

#[test]
fn rule_02_failure_rate_opens_at_the_50th_failure_after_10000_successes() {
    let (b, _clock) = breaker(
        Policy::builder()
            .window(Window::count(100))
            .failure_rate_threshold(0.5)
            .min_calls(100),
    );
    record_n(&b, Outcome::Success, 10_000);
    for i in 1..=49 {
        b.try_acquire().expect("closed").failure();
        assert_eq!(b.state(), State::Closed, "after {i} failures");
        assert_eq!(b.metrics().window_failures, i);
        assert_eq!(b.metrics().window_calls, 100);
    }
    b.try_acquire().expect("closed").failure();
    assert_eq!(b.state(), State::Open, "the 50th failure opens it");
    let r = b.try_acquire().unwrap_err();
    assert_eq!(r.reason(), RejectReason::Open);
    assert_eq!(r.state(), State::Open);
    let m = b.metrics();
    assert_eq!((m.successes, m.failures, m.rejected), (10_000, 50, 1));
    assert_eq!(m.failure_rate(), 0.5);
}

#[test]
fn rule_02_not_evaluated_below_min_calls() {
    let (b, _clock) = breaker(
        Policy::builder()
            .window(Window::count(10))
            .failure_rate_threshold(0.5)
            .min_calls(5),
    );
    record_n(&b, Outcome::Failure, 4);
    assert_eq!(
        b.state(),
        State::Closed,
        "4 failures, 4 calls < min_calls 5"
    );
    assert_eq!(b.metrics().failure_rate(), 1.0);
    record_n(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn rule_02_success_that_completes_min_calls_trips() {
    // 3 failures, then a success completing min_calls 4: 3/4 = 0.75 ≥ 0.5.
    let (b, _clock) = breaker(
        Policy::builder()
            .window(Window::count(4))
            .failure_rate_threshold(0.5)
            .min_calls(4),
    );
    record_n(&b, Outcome::Failure, 3);
    assert_eq!(b.state(), State::Closed);
    let rx = b.subscribe();
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Open);
    assert_eq!(
        drain(&rx),
        vec![(State::Closed, State::Open, TransitionReason::FailureRate)]
    );
}

#[test]
fn rule_02_threshold_is_inclusive_and_exact() {
    // 7 failures in 10 meet a 0.7 threshold; 6 in 10 do not.
    let policy = || {
        Policy::builder()
            .window(Window::count(10))
            .failure_rate_threshold(0.7)
            .min_calls(10)
    };
    let (b, _clock) = breaker(policy());
    record_n(&b, Outcome::Success, 4);
    record_n(&b, Outcome::Failure, 6);
    assert_eq!(b.state(), State::Closed);
    let (b, _clock) = breaker(policy());
    record_n(&b, Outcome::Success, 3);
    record_n(&b, Outcome::Failure, 7);
    assert_eq!(b.state(), State::Open);
}

// ---------------------------------------------------------------------------------------------
// Rule 3: time window
// ---------------------------------------------------------------------------------------------

#[test]
fn rule_03_time_window_ages_out_by_bucket() {
    let (b, clock) = breaker(
        Policy::builder()
            .window(Window::time(secs(10), 10))
            .failure_rate_threshold(0.5)
            .min_calls(5),
    );
    // t = 0 s: 2 failures; t = 3 s: 2 failures. 4 calls < min_calls 5.
    record_n(&b, Outcome::Failure, 2);
    clock.set(secs(3));
    record_n(&b, Outcome::Failure, 2);
    assert_eq!(
        (b.metrics().window_calls, b.metrics().window_failures),
        (4, 4)
    );
    clock.set(ms(9_999));
    assert_eq!(b.metrics().window_calls, 4, "t = 9.999 s: all buckets live");
    clock.set(secs(10));
    assert_eq!(
        (b.metrics().window_calls, b.metrics().window_failures),
        (2, 2),
        "t = 10 s: the bucket of t = 0 aged out"
    );
    clock.set(ms(12_999));
    assert_eq!(
        b.metrics().window_calls,
        2,
        "t = 12.999 s: bucket 3 still live"
    );
    clock.set(secs(13));
    assert_eq!(
        (b.metrics().window_calls, b.metrics().window_failures),
        (0, 0),
        "t = 13 s: the bucket of t = 3 aged out"
    );
    // Old failures no longer count: 1 failure + 4 successes would have tripped with them
    // (5 failures of 9), but on their own are 1 of 5.
    record_n(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Closed);
    record_n(&b, Outcome::Success, 4);
    assert_eq!(b.state(), State::Closed);
    assert_eq!(
        (b.metrics().window_calls, b.metrics().window_failures),
        (5, 1)
    );
    let m = b.metrics();
    assert_eq!((m.successes, m.failures), (4, 5));
}

#[test]
fn rule_03_time_window_trips_on_live_buckets() {
    let (b, clock) = breaker(
        Policy::builder()
            .window(Window::time(secs(10), 10))
            .failure_rate_threshold(0.5)
            .min_calls(5),
    );
    record_n(&b, Outcome::Success, 5);
    clock.set(secs(9));
    record_n(&b, Outcome::Failure, 4);
    assert_eq!(b.state(), State::Closed, "4 failures of 9");
    clock.set(secs(10));
    // The 5 successes of t = 0 aged out: 4 failures + 1 more = 5 of 5.
    record_n(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Open);
}

// ---------------------------------------------------------------------------------------------
// Rule 4: consecutive failures
// ---------------------------------------------------------------------------------------------

fn consecutive_policy() -> PolicyBuilder {
    // The rate rule alone would need 20 calls, all failures.
    Policy::builder()
        .window(Window::count(20))
        .min_calls(20)
        .failure_rate_threshold(1.0)
        .consecutive_failures(3)
}

#[test]
fn rule_04_consecutive_failures_trip_at_the_kth_whatever_min_calls() {
    let (b, _clock) = breaker(consecutive_policy());
    let rx = b.subscribe();
    record_n(&b, Outcome::Failure, 2);
    record_n(&b, Outcome::Success, 1);
    record_n(&b, Outcome::Failure, 2);
    assert_eq!(b.state(), State::Closed, "the success reset the run");
    record_n(&b, Outcome::Ignored, 3);
    assert_eq!(
        b.state(),
        State::Closed,
        "ignored outcomes are not failures"
    );
    record_n(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Open, "3rd failure in a row");
    assert_eq!(
        drain(&rx),
        vec![(
            State::Closed,
            State::Open,
            TransitionReason::ConsecutiveFailures
        )]
    );
    assert_eq!(reject_reason(&b), RejectReason::Open);
}

#[test]
fn rule_04_consecutive_run_starts_again_after_half_open() {
    let (b, clock) = breaker(
        consecutive_policy()
            .open_timeout(secs(10))
            .half_open_permits(1)
            .success_threshold(1),
    );
    record_n(&b, Outcome::Failure, 3);
    assert_eq!(b.state(), State::Open);
    clock.advance(secs(10));
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Closed);
    record_n(&b, Outcome::Failure, 2);
    assert_eq!(b.state(), State::Closed);
    record_n(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn rule_04_tripping_failure_is_recorded_like_any_other() {
    let (b, _clock) = breaker(consecutive_policy());
    record_n(&b, Outcome::Failure, 2);
    record_n(&b, Outcome::Success, 1);
    record_n(&b, Outcome::Failure, 3);
    assert_eq!(b.state(), State::Open);
    let m = b.metrics();
    // 6 permits reported: 1 success, 5 failures, all recorded into the window (rule 1).
    assert_eq!(
        (m.admitted, m.successes, m.failures, m.ignored),
        (6, 1, 5, 0)
    );
    assert_eq!((m.window_calls, m.window_failures), (6, 5));
}

// ---------------------------------------------------------------------------------------------
// Rule 5: slow calls
// ---------------------------------------------------------------------------------------------

fn slow_policy() -> PolicyBuilder {
    // Failure threshold 1.0 with min_calls 4: the failure rate alone never trips below.
    Policy::builder()
        .window(Window::count(4))
        .min_calls(4)
        .failure_rate_threshold(1.0)
        .slow_calls(secs(1), 0.5)
}

fn timed_call(b: &Breaker, clock: &ManualClock, took: Duration, outcome: Outcome) {
    let p = b.try_acquire().expect("admitted");
    clock.advance(took);
    p.record(outcome);
}

#[test]
fn rule_05_slow_successes_trip_on_slow_rate() {
    let (b, clock) = breaker(slow_policy());
    let rx = b.subscribe();
    timed_call(&b, &clock, secs(1), Outcome::Success); // slow: exactly the duration
    timed_call(&b, &clock, ms(999), Outcome::Success); // fast
    timed_call(&b, &clock, secs(5), Outcome::Success); // slow
    assert_eq!(b.state(), State::Closed, "3 calls < min_calls");
    let m = b.metrics();
    assert_eq!((m.slow, m.window_slow, m.window_calls), (2, 2, 3));
    timed_call(&b, &clock, Duration::ZERO, Outcome::Success); // fast, completes min_calls
    assert_eq!(b.state(), State::Open, "2 slow of 4 ≥ 0.5");
    assert_eq!(b.metrics().slow_call_rate(), 0.5);
    assert_eq!(
        drain(&rx),
        vec![(State::Closed, State::Open, TransitionReason::SlowCallRate)]
    );
}

#[test]
fn rule_05_slow_failures_count_as_slow() {
    let (b, clock) = breaker(slow_policy());
    let rx = b.subscribe();
    timed_call(&b, &clock, secs(2), Outcome::Failure);
    timed_call(&b, &clock, secs(2), Outcome::Failure);
    timed_call(&b, &clock, ms(10), Outcome::Success);
    timed_call(&b, &clock, ms(10), Outcome::Success);
    assert_eq!(
        b.state(),
        State::Open,
        "failure rate 0.5 < 1.0, slow rate 0.5"
    );
    let m = b.metrics();
    assert_eq!((m.slow, m.window_slow, m.window_failures), (2, 2, 2));
    assert_eq!(
        drain(&rx),
        vec![(State::Closed, State::Open, TransitionReason::SlowCallRate)]
    );
}

#[test]
fn rule_05_fast_calls_do_not_trip() {
    let (b, clock) = breaker(slow_policy());
    for _ in 0..20 {
        timed_call(&b, &clock, ms(999), Outcome::Success);
    }
    timed_call(&b, &clock, secs(1), Outcome::Success);
    assert_eq!(b.state(), State::Closed, "1 slow of 4");
    let m = b.metrics();
    assert_eq!((m.slow, m.window_slow), (1, 1));
    // Ignored calls are neither slow nor recorded, however long they take.
    timed_call(&b, &clock, secs(60), Outcome::Ignored);
    assert_eq!(b.metrics().window_slow, 1);
    timed_call(&b, &clock, secs(1), Outcome::Success);
    assert_eq!(b.state(), State::Open, "2 slow of the last 4");
}

// ---------------------------------------------------------------------------------------------
// Rule 6: Open
// ---------------------------------------------------------------------------------------------

#[test]
fn rule_06_open_rejects_with_time_left_then_probes() {
    let (b, clock) = breaker(one_shot().open_timeout(secs(30)).half_open_permits(2));
    clock.set(secs(100));
    record_n(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Open);
    let r = b.try_acquire().unwrap_err();
    assert_eq!(r.reason(), RejectReason::Open);
    assert_eq!(r.state(), State::Open);
    assert_eq!(r.breaker(), "svc");
    assert_eq!(r.retry_after(), Some(secs(30)));
    clock.advance(secs(12));
    assert_eq!(retry_after(&b), Some(secs(18)));
    clock.advance(ms(17_999));
    assert_eq!(retry_after(&b), Some(ms(1)));
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.metrics().rejected, 3);
    clock.advance(ms(1));
    // No background thread: the state still reads Open until the next acquire.
    assert_eq!(b.state(), State::Open);
    let probe = b.try_acquire().expect("the period passed: a probe");
    assert_eq!(b.state(), State::HalfOpen);
    probe.success();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn rule_06_open_rejects_call_without_running_it() {
    let (b, _clock) = breaker(one_shot());
    record_n(&b, Outcome::Failure, 1);
    let mut ran = false;
    let r = b.call(|| {
        ran = true;
        Ok::<_, ()>(())
    });
    assert!(!ran);
    match r {
        Err(CallError::Rejected(rej)) => {
            assert_eq!(rej.reason(), RejectReason::Open);
            assert_eq!(rej.retry_after(), Some(secs(10)));
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Rule 7: open period, backoff, jitter
// ---------------------------------------------------------------------------------------------

#[test]
fn rule_07_exponential_backoff_grows_caps_and_resets() {
    let (b, clock) = breaker(
        one_shot()
            .open_timeout(secs(10))
            .backoff(Backoff::exponential(2.0, secs(60))),
    );
    record_n(&b, Outcome::Failure, 1);
    assert_eq!(retry_after(&b), Some(secs(10)));
    let mut period = secs(10);
    for expected in [20, 40, 60, 60, 60] {
        clock.advance(period);
        b.try_acquire().expect("probe").failure();
        assert_eq!(b.state(), State::Open);
        period = secs(expected);
        assert_eq!(retry_after(&b), Some(period), "re-open period");
    }
    clock.advance(period);
    b.try_acquire().expect("probe").success();
    assert_eq!(b.state(), State::Closed);
    // Reaching Closed reset the step.
    record_n(&b, Outcome::Failure, 1);
    assert_eq!(retry_after(&b), Some(secs(10)));
    clock.advance(secs(10));
    b.try_acquire().expect("probe").failure();
    assert_eq!(retry_after(&b), Some(secs(20)));
}

#[test]
fn rule_07_constant_backoff_keeps_the_period() {
    let (b, clock) = breaker(one_shot().open_timeout(secs(7)));
    record_n(&b, Outcome::Failure, 1);
    for _ in 0..5 {
        assert_eq!(retry_after(&b), Some(secs(7)));
        clock.advance(secs(7));
        b.try_acquire().expect("probe").failure();
    }
    assert_eq!(retry_after(&b), Some(secs(7)));
}

#[test]
fn rule_07_jitter_draws_each_period_within_its_range() {
    // Periods 8 s, 16 s, 32 s, 64 s; jitter 0.25: [6, 10], [12, 20], [24, 40], [48, 80].
    let (b, clock) = breaker(
        one_shot()
            .open_timeout(secs(8))
            .backoff(Backoff::exponential(2.0, secs(64)))
            .jitter(0.25),
    );
    let mut seen = Vec::new();
    for _trip in 0..100 {
        record_n(&b, Outcome::Failure, 1);
        for step in 0..4u32 {
            let p = secs(8 << step);
            let got = retry_after(&b).expect("open has a deadline");
            assert!(
                got >= p * 3 / 4 && got <= p * 5 / 4,
                "step {step}: period {got:?} outside [{:?}, {:?}]",
                p * 3 / 4,
                p * 5 / 4
            );
            seen.push((step, got));
            clock.advance(got);
            let probe = b.try_acquire().expect("the jittered period passed");
            if step == 3 {
                probe.success();
            } else {
                probe.failure();
            }
        }
        assert_eq!(b.state(), State::Closed);
    }
    for step in 0..4u32 {
        let p = secs(8 << step);
        let mut periods: Vec<Duration> = seen
            .iter()
            .filter(|(s, _)| *s == step)
            .map(|(_, d)| *d)
            .collect();
        assert!(periods.iter().any(|d| *d < p), "step {step}: none below p");
        assert!(periods.iter().any(|d| *d > p), "step {step}: none above p");
        periods.sort();
        periods.dedup();
        assert!(
            periods.len() > 90,
            "step {step}: only {} distinct",
            periods.len()
        );
    }
}

#[test]
fn rule_07_jittered_deadline_is_respected() {
    let (b, clock) = breaker(one_shot().open_timeout(secs(8)).jitter(0.5));
    for _ in 0..50 {
        record_n(&b, Outcome::Failure, 1);
        let left = retry_after(&b).unwrap();
        clock.advance(left - Duration::from_nanos(1));
        assert_eq!(retry_after(&b), Some(Duration::from_nanos(1)));
        clock.advance(Duration::from_nanos(1));
        b.try_acquire().expect("probe").success();
        assert_eq!(b.state(), State::Closed);
    }
}

#[test]
fn rule_07_zero_jitter_is_exact() {
    let (b, _clock) = breaker(one_shot().open_timeout(ms(1234)).jitter(0.0));
    for _ in 0..20 {
        record_n(&b, Outcome::Failure, 1);
        assert_eq!(retry_after(&b), Some(ms(1234)));
        b.reset();
    }
}

// ---------------------------------------------------------------------------------------------
// Rule 8: HalfOpen
// ---------------------------------------------------------------------------------------------

fn half_open(permits: u32, successes: u32) -> (Breaker, ManualClock) {
    let (b, clock) = breaker(
        one_shot()
            .half_open_permits(permits)
            .success_threshold(successes),
    );
    record_n(&b, Outcome::Failure, 1);
    clock.advance(secs(10));
    (b, clock)
}

#[test]
fn rule_08_half_open_admits_at_most_permits_and_closes_on_successes() {
    let (b, _clock) = half_open(3, 2);
    let p1 = b.try_acquire().expect("probe 1");
    assert_eq!(b.state(), State::HalfOpen);
    let p2 = b.try_acquire().expect("probe 2");
    let p3 = b.try_acquire().expect("probe 3");
    let r = b.try_acquire().unwrap_err();
    assert_eq!(r.reason(), RejectReason::HalfOpenFull);
    assert_eq!(r.state(), State::HalfOpen);
    assert_eq!(r.retry_after(), None);
    // A dropped probe gives its slot back.
    drop(p3);
    let p4 = b.try_acquire().expect("slot of the dropped probe");
    assert_eq!(reject_reason(&b), RejectReason::HalfOpenFull);
    // So does an ignored one.
    p2.record(Outcome::Ignored);
    let p5 = b.try_acquire().expect("slot of the ignored probe");
    assert_eq!(reject_reason(&b), RejectReason::HalfOpenFull);
    // One success of two: still half-open, and the slot is free.
    p1.success();
    assert_eq!(b.state(), State::HalfOpen);
    let p6 = b.try_acquire().expect("slot of the succeeded probe");
    assert_eq!(reject_reason(&b), RejectReason::HalfOpenFull);
    p4.success();
    assert_eq!(b.state(), State::Closed, "2 probe successes");
    // Probes of the finished episode change nothing.
    p5.failure();
    drop(p6);
    assert_eq!(b.state(), State::Closed);
    let m = b.metrics();
    assert_eq!(
        (m.admitted, m.successes, m.failures, m.ignored, m.rejected),
        (7, 2, 2, 3, 4)
    );
}

#[test]
fn rule_08_one_probe_failure_reopens() {
    let (b, _clock) = half_open(3, 3);
    let rx = b.subscribe();
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    let p3 = b.try_acquire().unwrap();
    p1.success();
    p2.failure();
    assert_eq!(b.state(), State::Open);
    p3.success();
    assert_eq!(b.state(), State::Open, "a late probe does not close it");
    assert_eq!(reject_reason(&b), RejectReason::Open);
    assert_eq!(
        drain(&rx),
        vec![
            (
                State::Open,
                State::HalfOpen,
                TransitionReason::OpenTimeoutElapsed
            ),
            (State::HalfOpen, State::Open, TransitionReason::ProbeFailed),
        ]
    );
}

#[test]
fn rule_08_dropped_probes_never_stick_half_open() {
    let (b, _clock) = half_open(1, 1);
    for _ in 0..10 {
        let p = b.try_acquire().expect("the slot is free again");
        assert_eq!(reject_reason(&b), RejectReason::HalfOpenFull);
        drop(p);
    }
    for _ in 0..10 {
        b.try_acquire().unwrap().record(Outcome::Ignored);
    }
    assert_eq!(b.state(), State::HalfOpen);
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics().ignored, 20);
}

#[test]
fn rule_08_probes_of_an_earlier_episode_count_against_permits() {
    let (b, clock) = half_open(2, 2);
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    p1.failure();
    assert_eq!(b.state(), State::Open);
    clock.advance(secs(10));
    // p2 is still running against the dependency: one slot of two is left.
    let p3 = b.try_acquire().expect("one free slot");
    assert_eq!(b.state(), State::HalfOpen);
    let r = b.try_acquire();
    let live = 2 + usize::from(r.is_ok());
    assert!(
        live <= 2,
        "{live} probes in flight with half_open_permits 2"
    );
    drop((p2, p3, r));
}

// ---------------------------------------------------------------------------------------------
// Rule 9: leaving HalfOpen starts an empty window
// ---------------------------------------------------------------------------------------------

#[test]
fn rule_09_leaving_half_open_starts_an_empty_window() {
    let (b, clock) = breaker(
        Policy::builder()
            .window(Window::count(4))
            .min_calls(4)
            .open_timeout(secs(10))
            .half_open_permits(1)
            .success_threshold(1),
    );
    record_n(&b, Outcome::Failure, 4);
    assert_eq!(b.state(), State::Open);
    assert_eq!(
        (b.metrics().window_calls, b.metrics().window_failures),
        (4, 4)
    );
    clock.advance(secs(10));
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Closed);
    let m = b.metrics();
    assert_eq!((m.window_calls, m.window_failures), (0, 0));
    // With the old failures still in the window, any failure would trip it now.
    record_n(&b, Outcome::Failure, 3);
    assert_eq!(b.state(), State::Closed, "3 calls < min_calls 4");
    assert_eq!(
        (b.metrics().window_calls, b.metrics().window_failures),
        (3, 3)
    );
}

#[test]
fn rule_09_leaving_half_open_for_recovering_starts_empty_and_closed_keeps_it() {
    let (b, clock) = breaker(
        Policy::builder()
            .window(Window::count(10))
            .min_calls(10)
            .open_timeout(secs(10))
            .half_open_permits(1)
            .success_threshold(1)
            .recovery(Recovery::ramp(secs(10), 1.0)),
    );
    record_n(&b, Outcome::Failure, 10);
    clock.advance(secs(10));
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Recovering);
    assert_eq!(b.metrics().window_calls, 0);
    record_n(&b, Outcome::Failure, 2);
    record_n(&b, Outcome::Success, 1);
    assert_eq!(
        (b.metrics().window_calls, b.metrics().window_failures),
        (3, 2)
    );
    clock.advance(secs(10));
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(
        (b.metrics().window_calls, b.metrics().window_failures),
        (4, 2),
        "Recovering -> Closed keeps the window"
    );
}

// ---------------------------------------------------------------------------------------------
// Rule 10: Recovering
// ---------------------------------------------------------------------------------------------

/// A breaker in `Recovering` at clock time 10 s with `Recovery::ramp(d, s)`.
fn recovering(d: Duration, s: f64) -> (Breaker, ManualClock) {
    let (b, clock) = breaker(
        Policy::builder()
            .window(Window::count(4))
            .min_calls(4)
            .open_timeout(secs(10))
            .half_open_permits(1)
            .success_threshold(1)
            .recovery(Recovery::ramp(d, s)),
    );
    record_n(&b, Outcome::Failure, 4);
    clock.advance(secs(10));
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Recovering);
    (b, clock)
}

/// `n` acquires at the current clock time; admitted permits are dropped (ignored).
fn admissions(b: &Breaker, n: usize) -> Vec<bool> {
    (0..n)
        .map(|_| match b.try_acquire() {
            Ok(p) => {
                drop(p);
                true
            }
            Err(r) => {
                assert_eq!(r.reason(), RejectReason::Ramp);
                assert_eq!(r.state(), State::Recovering);
                assert_eq!(r.retry_after(), None);
                false
            }
        })
        .collect()
}

/// Every run of `n` consecutive acquires (n ≤ 64) admits ⌊p·n⌋ or ⌈p·n⌉, p = num/den.
fn assert_spread(seq: &[bool], num: usize, den: usize) {
    for n in 1..=64 {
        let (lo, hi) = (num * n / den, (num * n).div_ceil(den));
        for (start, run) in seq.windows(n).enumerate() {
            let got = run.iter().filter(|a| **a).count();
            assert!(
                (lo..=hi).contains(&got),
                "share {num}/{den}: acquires {start}..{}: {got} admitted, not in {lo}..={hi}",
                start + n
            );
        }
    }
}

#[test]
fn rule_10_ramp_admits_a_rising_deterministic_share() {
    let (b, clock) = recovering(secs(8), 0.25);
    let seq = admissions(&b, 1000);
    assert_eq!(seq.iter().filter(|a| **a).count(), 250, "share 0.25");
    assert_spread(&seq, 1, 4);
    clock.advance(secs(4)); // share 0.25 + 0.75 * 4/8 = 0.625
    let seq = admissions(&b, 800);
    assert_eq!(seq.iter().filter(|a| **a).count(), 500, "share 0.625");
    assert_spread(&seq, 5, 8);
    clock.advance(secs(2)); // share 0.8125
    let seq = admissions(&b, 1600);
    assert_eq!(seq.iter().filter(|a| **a).count(), 1300, "share 0.8125");
    assert_spread(&seq, 13, 16);
    assert_eq!(b.state(), State::Recovering);
    let m = b.metrics();
    assert_eq!(m.rejected, 750 + 300 + 300);
    assert_eq!(
        m.window_calls, 0,
        "admitted-and-dropped permits are ignored"
    );
    clock.advance(ms(1_999));
    assert_eq!(b.state(), State::Recovering);
    clock.advance(ms(1));
    let rx = b.subscribe();
    let seq = admissions(&b, 100);
    assert!(seq.iter().all(|a| *a), "after d every call is admitted");
    assert_eq!(b.state(), State::Closed);
    let t = rx.try_recv().expect("transition");
    assert_eq!(
        (t.from, t.to, t.reason, t.at),
        (
            State::Recovering,
            State::Closed,
            TransitionReason::RampComplete,
            secs(18)
        )
    );
}

#[test]
fn rule_10_ramp_share_of_one_fifth_is_exact() {
    let (b, _clock) = recovering(secs(8), 0.2);
    let seq = admissions(&b, 1000);
    assert_spread(&seq, 1, 5);
    assert_eq!(seq.iter().filter(|a| **a).count(), 200, "share 0.2");
}

#[test]
fn rule_10_outcomes_while_recovering_are_evaluated_and_a_trip_opens() {
    let (b, _clock) = recovering(secs(8), 0.5);
    let rx = b.subscribe();
    let mut failures = 0;
    let mut rejected = 0;
    while failures < 4 {
        match b.try_acquire() {
            Ok(p) => {
                assert_eq!(b.state(), State::Recovering, "3 failures < min_calls 4");
                p.failure();
                failures += 1;
            }
            Err(r) => {
                assert_eq!(r.reason(), RejectReason::Ramp);
                rejected += 1;
            }
        }
    }
    assert_eq!(rejected, 4, "share 1/2: one rejection per admission");
    assert_eq!(b.state(), State::Open);
    assert_eq!(reject_reason(&b), RejectReason::Open);
    assert_eq!(
        drain(&rx),
        vec![(
            State::Recovering,
            State::Open,
            TransitionReason::FailureRate
        )]
    );
}

// ---------------------------------------------------------------------------------------------
// Rule 11: bulkhead
// ---------------------------------------------------------------------------------------------

#[test]
fn rule_11_bulkhead_holds_at_most_m_permits() {
    let (b, _clock) = breaker(Policy::builder().max_concurrent(2));
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    let r = b.try_acquire().unwrap_err();
    assert_eq!(r.reason(), RejectReason::BulkheadFull);
    assert_eq!(r.state(), State::Closed);
    assert_eq!(r.retry_after(), None);
    // Freed on record.
    p1.success();
    let p3 = b.try_acquire().expect("slot freed by record");
    assert_eq!(reject_reason(&b), RejectReason::BulkheadFull);
    // Freed on drop.
    drop(p2);
    let p4 = b.try_acquire().expect("slot freed by drop");
    assert_eq!(reject_reason(&b), RejectReason::BulkheadFull);
    p3.failure();
    p4.record(Outcome::Ignored);
    // Freed on panic.
    let caught = catch_unwind(AssertUnwindSafe(|| {
        let _held = b.try_acquire().unwrap();
        b.call(|| -> Result<(), ()> { panic!("boom in call") })
    }));
    assert!(caught.is_err());
    let a = b.try_acquire().expect("slot 1 freed by the panic");
    let c = b.try_acquire().expect("slot 2 freed by the panic");
    assert_eq!(reject_reason(&b), RejectReason::BulkheadFull);
    drop((a, c));
    let m = b.metrics();
    assert_eq!(m.rejected, 4);
    // p1 success; p3 + panicking call + permit dropped during the unwind: failures; p2, p4,
    // a, c: ignored.
    assert_eq!((m.successes, m.failures, m.ignored), (1, 3, 4));
}

#[test]
fn rule_11_bulkhead_applies_in_every_admitting_state() {
    let (b, clock) = breaker(
        Policy::builder()
            .window(Window::count(2))
            .min_calls(2)
            .open_timeout(secs(10))
            .half_open_permits(3)
            .success_threshold(1)
            .max_concurrent(1)
            .recovery(Recovery::ramp(secs(10), 1.0)),
    );
    let check = |expected: State| {
        let p = b.try_acquire().expect("one slot");
        assert_eq!(b.state(), expected);
        let r = b.try_acquire().unwrap_err();
        assert_eq!(r.reason(), RejectReason::BulkheadFull, "in {expected}");
        p
    };
    check(State::Closed).failure();
    check(State::Closed).failure();
    assert_eq!(b.state(), State::Open);
    clock.advance(secs(10));
    // Half-open with 3 probe slots: the bulkhead of 1 is the tighter bound.
    let probe = check(State::HalfOpen);
    probe.success();
    drop(check(State::Recovering));
    b.metrics_only();
    drop(check(State::MetricsOnly));
    b.disable();
    drop(check(State::Disabled));
}

#[test]
fn rule_11_rejected_probe_by_bulkhead_gives_back_its_half_open_slot() {
    let (b, clock) = breaker(one_shot().half_open_permits(2).max_concurrent(1));
    record_n(&b, Outcome::Failure, 1);
    clock.advance(secs(10));
    let held = b.try_acquire().expect("probe");
    // Each rejection took the second probe slot and must give it back, or the next one
    // would be HalfOpenFull.
    for _ in 0..3 {
        assert_eq!(reject_reason(&b), RejectReason::BulkheadFull);
    }
    drop(held);
    b.try_acquire().expect("probe again").success();
    assert_eq!(b.state(), State::Closed);
}

// ---------------------------------------------------------------------------------------------
// Rule 12: manual states and reset
// ---------------------------------------------------------------------------------------------

#[test]
fn rule_12_forced_open_rejects_without_retry_after() {
    let (b, clock) = breaker(one_shot());
    b.force_open();
    assert_eq!(b.state(), State::ForcedOpen);
    for _ in 0..3 {
        let r = b.try_acquire().unwrap_err();
        assert_eq!(r.reason(), RejectReason::ForcedOpen);
        assert_eq!(r.state(), State::ForcedOpen);
        assert_eq!(r.retry_after(), None);
        clock.advance(secs(3600));
    }
    assert!(matches!(
        b.call(|| Ok::<_, ()>(())),
        Err(CallError::Rejected(_))
    ));
    assert_eq!(b.state(), State::ForcedOpen);
    assert_eq!(b.metrics().rejected, 4);
    // Also from Open.
    b.reset();
    record_n(&b, Outcome::Failure, 1);
    b.force_open();
    clock.advance(secs(3600));
    assert_eq!(reject_reason(&b), RejectReason::ForcedOpen);
}

#[test]
fn rule_12_disabled_admits_everything_and_records_nothing() {
    let (b, clock) = breaker(one_shot().consecutive_failures(1).max_concurrent(1000));
    let rx = b.subscribe();
    b.disable();
    let mut ran = 0;
    for _ in 0..200 {
        let r = b.call(|| {
            ran += 1;
            Err::<(), _>("boom")
        });
        assert!(matches!(r, Err(CallError::Failed("boom"))));
        clock.advance(secs(1));
    }
    assert_eq!(ran, 200);
    assert_eq!(b.state(), State::Disabled);
    let m = b.metrics();
    assert_eq!((m.successes, m.failures, m.window_calls), (0, 0, 0));
    assert_eq!(
        drain(&rx),
        vec![(State::Closed, State::Disabled, TransitionReason::Disabled)]
    );
}

#[test]
fn rule_12_metrics_only_records_but_never_transitions() {
    let (b, clock) = breaker(
        Policy::builder()
            .window(Window::count(10))
            .min_calls(1)
            .consecutive_failures(1)
            .slow_calls(ms(1), 0.1),
    );
    let rx = b.subscribe();
    b.metrics_only();
    for _ in 0..50 {
        timed_call(&b, &clock, secs(1), Outcome::Failure);
    }
    record_n(&b, Outcome::Success, 3);
    assert_eq!(b.state(), State::MetricsOnly);
    let m = b.metrics();
    assert_eq!(m.state, State::MetricsOnly);
    assert_eq!(
        (m.admitted, m.successes, m.failures, m.slow),
        (53, 3, 50, 50)
    );
    assert_eq!((m.window_calls, m.window_failures), (10, 7));
    assert_eq!(
        drain(&rx),
        vec![(
            State::Closed,
            State::MetricsOnly,
            TransitionReason::MetricsOnly
        )]
    );
}

#[test]
fn rule_12_reset_returns_to_closed_with_empty_window_and_step_zero_keeping_the_counters() {
    let (b, clock) = breaker(
        Policy::builder()
            .window(Window::count(4))
            .min_calls(4)
            .open_timeout(secs(10))
            .backoff(Backoff::exponential(3.0, secs(300)))
            .half_open_permits(1)
            .success_threshold(1),
    );
    record_n(&b, Outcome::Failure, 4);
    let _ = b.try_acquire().unwrap_err();
    clock.advance(secs(10));
    b.try_acquire().unwrap().failure();
    clock.advance(secs(30));
    b.try_acquire().unwrap().failure();
    assert_eq!(retry_after(&b), Some(secs(90)), "step 2");
    let rx = b.subscribe();
    b.reset();
    assert_eq!(b.state(), State::Closed);
    let m = b.metrics();
    assert_eq!(
        (
            m.admitted,
            m.successes,
            m.failures,
            m.ignored,
            m.slow,
            m.rejected
        ),
        (6, 0, 6, 0, 0, 2),
        "the lifetime counters keep counting"
    );
    assert_eq!((m.window_calls, m.window_failures), (0, 0));
    assert_eq!(
        drain(&rx),
        vec![(State::Open, State::Closed, TransitionReason::Reset)]
    );
    record_n(&b, Outcome::Failure, 3);
    assert_eq!(b.state(), State::Closed, "the window started empty");
    record_n(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Open);
    assert_eq!(
        retry_after(&b),
        Some(secs(10)),
        "backoff step 0: open_timeout again"
    );
    let m = b.metrics();
    assert_eq!((m.admitted, m.failures, m.rejected), (10, 10, 3));
}

#[test]
fn rule_12_reset_from_every_state() {
    let (b, _clock) = breaker(one_shot());
    for enter in [
        Breaker::force_open as fn(&Breaker),
        Breaker::disable,
        Breaker::metrics_only,
    ] {
        enter(&b);
        b.reset();
        assert_eq!(b.state(), State::Closed);
        record_n(&b, Outcome::Failure, 1);
        assert_eq!(b.state(), State::Open);
        b.reset();
    }
}

// ---------------------------------------------------------------------------------------------
// Rule 13: panics
// ---------------------------------------------------------------------------------------------

#[test]
fn rule_13_panic_in_call_is_a_failure_frees_the_permit_and_resumes() {
    let (b, _clock) = breaker(
        Policy::builder()
            .window(Window::count(10))
            .min_calls(3)
            .max_concurrent(1),
    );
    let caught = catch_unwind(AssertUnwindSafe(|| {
        b.call(|| -> Result<u32, ()> { panic!("boom") })
    }));
    let payload = caught.expect_err("the panic is resumed");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    let m = b.metrics();
    assert_eq!((m.admitted, m.successes, m.failures), (1, 0, 1));
    assert_eq!((m.window_calls, m.window_failures), (1, 1));
    // The permit was freed: the bulkhead of 1 admits again.
    assert_eq!(b.call(|| Ok::<_, ()>(5)).unwrap(), 5);
    // A second panic completes min_calls 3: 2 failures of 3 ≥ 0.5 opens it.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        b.call(|| -> Result<u32, ()> { panic!("boom") })
    }));
    assert_eq!(b.state(), State::Open);
}

#[test]
fn rule_13_panic_in_a_probe_reopens() {
    let (b, _clock) = half_open(1, 1);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        b.call(|| -> Result<(), ()> { panic!("probe blew up") })
    }));
    assert!(caught.is_err());
    assert_eq!(b.state(), State::Open);
}

#[test]
fn rule_13_panic_in_call_with_is_a_failure() {
    let (b, _clock) = breaker(one_shot());
    let caught = catch_unwind(AssertUnwindSafe(|| {
        b.call_with(|| -> Result<(), ()> { panic!("x") }, |_| Outcome::Ignored)
    }));
    assert!(caught.is_err());
    assert_eq!(b.metrics().failures, 1);
    assert_eq!(b.state(), State::Open);
}

// ---------------------------------------------------------------------------------------------
// Rule 14: set_policy
// ---------------------------------------------------------------------------------------------

#[test]
fn rule_14_set_policy_keeps_the_state() {
    let (b, clock) = breaker(one_shot().open_timeout(secs(10)));
    record_n(&b, Outcome::Failure, 1);
    b.set_policy(build(one_shot().open_timeout(secs(99))));
    assert_eq!(b.state(), State::Open);
    assert_eq!(
        retry_after(&b),
        Some(secs(10)),
        "the current deadline stands"
    );
    b.force_open();
    b.set_policy(build(Policy::builder()));
    assert_eq!(b.state(), State::ForcedOpen);
    b.reset();
    b.disable();
    b.set_policy(build(one_shot()));
    assert_eq!(b.state(), State::Disabled);
    b.reset();
    record_n(&b, Outcome::Failure, 1);
    clock.advance(secs(10));
    let probe = b.try_acquire().unwrap();
    b.set_policy(build(one_shot().window(Window::count(5))));
    assert_eq!(b.state(), State::HalfOpen);
    probe.success();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.policy().window(), Window::count(5));
}

#[test]
fn rule_14_same_shape_keeps_the_window() {
    let (b, _clock) = breaker(
        Policy::builder()
            .window(Window::count(10))
            .min_calls(10)
            .failure_rate_threshold(0.5),
    );
    record_n(&b, Outcome::Failure, 3);
    record_n(&b, Outcome::Success, 2);
    b.set_policy(build(
        Policy::builder()
            .window(Window::count(10))
            .min_calls(6)
            .failure_rate_threshold(0.6),
    ));
    assert_eq!(
        (b.metrics().window_calls, b.metrics().window_failures),
        (5, 3)
    );
    assert_eq!(b.policy().min_calls(), 6);
    // The new rules apply to the kept window: 4 failures of 6 ≥ 0.6.
    record_n(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn rule_14_same_time_shape_keeps_the_window() {
    let time = || {
        Policy::builder()
            .window(Window::time(secs(10), 5))
            .min_calls(10)
    };
    let (b, _clock) = breaker(time());
    record_n(&b, Outcome::Failure, 4);
    b.set_policy(build(time().min_calls(5)));
    assert_eq!(
        (b.metrics().window_calls, b.metrics().window_failures),
        (4, 4)
    );
    record_n(&b, Outcome::Success, 1);
    assert_eq!(b.state(), State::Open, "4 failures of 5");
}

#[test]
fn rule_14_changed_shape_starts_empty() {
    let (b, _clock) = breaker(Policy::builder().window(Window::count(10)).min_calls(10));
    record_n(&b, Outcome::Failure, 9);
    b.set_policy(build(
        Policy::builder().window(Window::count(20)).min_calls(10),
    ));
    assert_eq!(
        (b.metrics().window_calls, b.metrics().window_failures),
        (0, 0)
    );
    record_n(&b, Outcome::Failure, 9);
    assert_eq!(b.state(), State::Closed, "9 calls < min_calls 10");
    // Count to time.
    b.set_policy(build(
        Policy::builder()
            .window(Window::time(secs(10), 10))
            .min_calls(10),
    ));
    assert_eq!(b.metrics().window_calls, 0);
    record_n(&b, Outcome::Failure, 9);
    // Time to time of another span.
    b.set_policy(build(
        Policy::builder()
            .window(Window::time(secs(20), 10))
            .min_calls(10),
    ));
    assert_eq!(b.metrics().window_calls, 0);
    // Back to the first shape: still empty, not the old contents.
    b.set_policy(build(
        Policy::builder().window(Window::count(10)).min_calls(10),
    ));
    assert_eq!(b.metrics().window_calls, 0);
    record_n(&b, Outcome::Failure, 9);
    assert_eq!(b.state(), State::Closed);
    record_n(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Open);
    let m = b.metrics();
    assert_eq!((m.admitted, m.failures), (37, 37));
}

#[test]
fn rule_14_permit_from_before_the_swap_completes_normally() {
    let (b, _clock) = breaker(
        Policy::builder()
            .window(Window::count(10))
            .min_calls(10)
            .max_concurrent(1),
    );
    let p = b.try_acquire().unwrap();
    b.set_policy(build(
        Policy::builder()
            .window(Window::count(4))
            .min_calls(1)
            .max_concurrent(1),
    ));
    assert_eq!(reject_reason(&b), RejectReason::BulkheadFull);
    p.failure();
    assert_eq!(b.state(), State::Open, "recorded under the new policy");
    let m = b.metrics();
    assert_eq!((m.admitted, m.failures, m.window_calls), (1, 1, 1));
    // Its bulkhead slot was given back.
    b.reset();
    drop(b.try_acquire().expect("slot free"));
    // A permit whose policy had a bulkhead, swapped to one without, then back.
    let p = b.try_acquire().unwrap();
    b.set_policy(build(
        Policy::builder().window(Window::count(4)).min_calls(4),
    ));
    p.success();
    b.set_policy(build(
        Policy::builder()
            .window(Window::count(4))
            .min_calls(4)
            .max_concurrent(1),
    ));
    let q = b.try_acquire().expect("the old permit freed its slot");
    assert_eq!(reject_reason(&b), RejectReason::BulkheadFull);
    drop(q);
}

#[test]
fn rule_14_takes_effect_at_the_next_acquire() {
    let (b, clock) = breaker(one_shot().half_open_permits(1).success_threshold(1));
    record_n(&b, Outcome::Failure, 1);
    clock.advance(secs(10));
    let p1 = b.try_acquire().unwrap();
    assert_eq!(reject_reason(&b), RejectReason::HalfOpenFull);
    b.set_policy(build(one_shot().half_open_permits(3).success_threshold(2)));
    let p2 = b.try_acquire().expect("3 slots now");
    let p3 = b.try_acquire().expect("3 slots now");
    assert_eq!(reject_reason(&b), RejectReason::HalfOpenFull);
    p1.success();
    assert_eq!(b.state(), State::HalfOpen, "2 successes needed now");
    p2.success();
    assert_eq!(b.state(), State::Closed);
    drop(p3);
}

// ---------------------------------------------------------------------------------------------
// Subscribers
// ---------------------------------------------------------------------------------------------

#[test]
fn subscribe_receives_transitions_with_reason_and_clock_time() {
    let (b, clock) = breaker(
        Policy::builder()
            .window(Window::count(2))
            .min_calls(2)
            .open_timeout(secs(10))
            .half_open_permits(1)
            .success_threshold(1),
    );
    let rx = b.subscribe();
    clock.set(secs(5));
    record_n(&b, Outcome::Failure, 2);
    clock.set(secs(15));
    let probe = b.try_acquire().unwrap();
    clock.set(secs(16));
    probe.failure();
    clock.set(secs(40));
    let probe = b.try_acquire().unwrap();
    clock.set(secs(41));
    probe.success();
    clock.set(secs(50));
    b.force_open();
    clock.set(secs(51));
    b.reset();
    let got: Vec<Transition> = rx.try_iter().collect();
    let expect = [
        (State::Closed, State::Open, TransitionReason::FailureRate, 5),
        (
            State::Open,
            State::HalfOpen,
            TransitionReason::OpenTimeoutElapsed,
            15,
        ),
        (
            State::HalfOpen,
            State::Open,
            TransitionReason::ProbeFailed,
            16,
        ),
        (
            State::Open,
            State::HalfOpen,
            TransitionReason::OpenTimeoutElapsed,
            40,
        ),
        (
            State::HalfOpen,
            State::Closed,
            TransitionReason::ProbesSucceeded,
            41,
        ),
        (
            State::Closed,
            State::ForcedOpen,
            TransitionReason::ForcedOpen,
            50,
        ),
        (
            State::ForcedOpen,
            State::Closed,
            TransitionReason::Reset,
            51,
        ),
    ];
    assert_eq!(got.len(), expect.len(), "{got:?}");
    for (t, (from, to, reason, at)) in got.iter().zip(expect) {
        assert_eq!(&*t.breaker, "svc");
        assert_eq!((t.from, t.to, t.reason, t.at), (from, to, reason, secs(at)));
    }
}

#[test]
fn subscribe_dropped_receiver_breaks_nothing() {
    let (b, _clock) = breaker(one_shot());
    let dropped = b.subscribe();
    let kept = b.subscribe();
    drop(dropped);
    record_n(&b, Outcome::Failure, 1);
    b.reset();
    record_n(&b, Outcome::Success, 5);
    assert_eq!(b.state(), State::Closed);
    assert_eq!(
        drain(&kept),
        vec![
            (State::Closed, State::Open, TransitionReason::FailureRate),
            (State::Open, State::Closed, TransitionReason::Reset),
        ]
    );
    drop(kept);
    b.force_open();
    b.reset();
    let late = b.subscribe();
    b.disable();
    assert_eq!(
        drain(&late),
        vec![(State::Closed, State::Disabled, TransitionReason::Disabled)]
    );
}

#[test]
fn subscribe_full_channel_does_not_block() {
    let (b, _clock) = breaker(one_shot());
    let full = b.subscribe();
    let rounds = SUBSCRIBER_CAPACITY; // 2 transitions per round: twice the capacity
    for _ in 0..rounds {
        b.force_open();
        b.reset();
    }
    assert_eq!(b.state(), State::Closed);
    assert_eq!(full.len(), SUBSCRIBER_CAPACITY, "the newest were dropped");
    let first = full.try_recv().unwrap();
    assert_eq!((first.from, first.to), (State::Closed, State::ForcedOpen));
    // Room again: new transitions are delivered.
    let rest: Vec<Transition> = full.try_iter().collect();
    assert_eq!(rest.len(), SUBSCRIBER_CAPACITY - 1);
    b.disable();
    assert_eq!(
        drain(&full),
        vec![(State::Closed, State::Disabled, TransitionReason::Disabled)]
    );
}

// ---------------------------------------------------------------------------------------------
// call_async
// ---------------------------------------------------------------------------------------------

#[test]
fn call_async_records_success_and_failure() {
    use futures_executor::block_on;
    let (b, _clock) = breaker(Policy::builder().window(Window::count(10)).min_calls(4));
    assert_eq!(block_on(b.call_async(async { Ok::<_, ()>(3) })).unwrap(), 3);
    let r = block_on(b.call_async(async { Err::<(), _>("down") }));
    assert!(matches!(r, Err(CallError::Failed("down"))));
    let m = b.metrics();
    assert_eq!((m.admitted, m.successes, m.failures), (2, 1, 1));
    assert_eq!((m.window_calls, m.window_failures), (2, 1));
    for _ in 0..2 {
        let _ = block_on(b.call_async(async { Err::<(), _>("down") }));
    }
    assert_eq!(b.state(), State::Open);
    let r = block_on(b.call_async(async { Ok::<_, ()>(()) }));
    match r {
        Err(CallError::Rejected(rej)) => assert_eq!(rej.reason(), RejectReason::Open),
        other => panic!("expected rejection, got {other:?}"),
    }
}

/// A future that never completes.
fn pending() -> impl Future<Output = Result<(), ()>> {
    std::future::poll_fn(|_| Poll::Pending)
}

/// Polls `fut` once with a no-op waker, expecting `Pending`, then drops it.
fn poll_once_then_drop<F: Future>(fut: F) {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
}

#[test]
fn call_async_dropped_future_records_ignored() {
    let (b, _clock) = breaker(Policy::builder().window(Window::count(10)).min_calls(1));
    poll_once_then_drop(b.call_async(pending()));
    // Dropped before the first poll: never asked the breaker.
    drop(b.call_async(pending()));
    let m = b.metrics();
    assert_eq!(
        (m.admitted, m.successes, m.failures, m.ignored),
        (1, 0, 0, 1)
    );
    assert_eq!(m.window_calls, 0);
    assert_eq!(b.state(), State::Closed, "not a failure");
}

#[test]
fn call_async_dropped_future_frees_half_open_and_bulkhead_slots() {
    let (b, _clock) = half_open(1, 1);
    poll_once_then_drop(b.call_async(pending()));
    assert_eq!(b.state(), State::HalfOpen);
    {
        let mut fut = pin!(b.call_async(pending()));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert_eq!(reject_reason(&b), RejectReason::HalfOpenFull);
    }
    b.try_acquire().expect("the slot came back").success();
    assert_eq!(b.state(), State::Closed);

    let (b, _clock) = breaker(Policy::builder().max_concurrent(1));
    {
        let mut fut = pin!(b.call_async(pending()));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert_eq!(reject_reason(&b), RejectReason::BulkheadFull);
    }
    drop(b.try_acquire().expect("the bulkhead slot came back"));
    let m = b.metrics();
    assert_eq!((m.ignored, m.failures, m.rejected), (2, 0, 1));
}

// ---------------------------------------------------------------------------------------------
// Rules 2, 4, 5 and 11 across a set_policy (rule 14)
// ---------------------------------------------------------------------------------------------

#[test]
fn rule_14_new_threshold_is_evaluated_at_the_next_outcome() {
    let (b, _clock) = breaker(
        Policy::builder()
            .window(Window::count(10))
            .min_calls(10)
            .failure_rate_threshold(0.5),
    );
    // F S F S F S F S S S: 4 failures of 10 = 0.4 < 0.5.
    for i in 0..10 {
        let outcome = if i < 8 && i % 2 == 0 {
            Outcome::Failure
        } else {
            Outcome::Success
        };
        b.try_acquire().unwrap().record(outcome);
    }
    assert_eq!(b.state(), State::Closed);
    b.set_policy(build(
        Policy::builder()
            .window(Window::count(10))
            .min_calls(10)
            .failure_rate_threshold(0.3),
    ));
    assert_eq!(
        (b.metrics().window_calls, b.metrics().window_failures),
        (10, 4)
    );
    // The oldest outcome (a failure) slides out as a failure comes in: still 4 of 10 = 0.4,
    // evaluated after this recorded outcome against 0.3 (rule 2).
    b.try_acquire().unwrap().failure();
    assert_eq!(b.metrics().failure_rate(), 0.4);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn rule_14_slow_rule_switched_on_times_permits_from_their_acquire() {
    let (b, clock) = breaker(
        Policy::builder()
            .window(Window::count(4))
            .min_calls(1)
            .failure_rate_threshold(1.0),
    );
    clock.set(secs(100));
    let p = b.try_acquire().unwrap();
    b.set_policy(build(
        Policy::builder()
            .window(Window::count(4))
            .min_calls(1)
            .failure_rate_threshold(1.0)
            .slow_calls(secs(1), 0.5),
    ));
    clock.advance(ms(10));
    p.success(); // took 10 ms: not slow
    let m = b.metrics();
    assert_eq!((m.slow, m.window_slow), (0, 0));
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn rule_04_run_is_fresh_when_the_rule_is_switched_back_on() {
    let (b, _clock) = breaker(consecutive_policy());
    record_n(&b, Outcome::Failure, 2);
    b.set_policy(build(consecutive_policy().consecutive_failures(0)));
    record_n(&b, Outcome::Success, 3);
    b.set_policy(build(consecutive_policy()));
    record_n(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Closed, "1 failure in a row, not 3");
    record_n(&b, Outcome::Failure, 2);
    assert_eq!(b.state(), State::Open);
}

/// Documented limitation: counting every permit would cost a read-modify-write on every call
/// of every breaker, bulkhead or not. So a bulkhead switched on by `set_policy` counts the
/// permits acquired after the swap; those already out complete normally (rule 14) uncounted.
#[test]
fn rule_11_bulkhead_switched_on_counts_permits_from_the_swap_on() {
    let (b, _clock) = breaker(Policy::builder());
    let before = b.try_acquire().unwrap();
    b.set_policy(build(Policy::builder().max_concurrent(1)));
    let first = b
        .try_acquire()
        .expect("the permit from before the swap is not counted");
    assert_eq!(
        b.try_acquire().map(|_| ()).unwrap_err().reason(),
        RejectReason::BulkheadFull
    );
    before.success();
    assert_eq!(
        b.try_acquire().map(|_| ()).unwrap_err().reason(),
        RejectReason::BulkheadFull,
        "the uncounted permit frees no slot"
    );
    first.success();
    drop(b.try_acquire().expect("now free"));
}
