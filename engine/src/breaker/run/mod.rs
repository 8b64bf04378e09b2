//! [`Breaker::run`] (feature `tokio`): the call pipeline around one breaker. Each attempt
//! takes a permit, meets the policy's `chaos` if it has one (chaos.rs), runs under the
//! policy's `timeout`, and records its outcome; failures, injected faults and timeouts are
//! retried per the policy's `retry` while the retry budget allows; a rejection is never
//! retried.
//!
//! # Synchronization
//!
//! None of its own beyond the breaker's: an attempt is an acquire and a record, the retry
//! budget is `Relaxed` counting (budget.rs), the backoff's jitter draws from the breaker's
//! random state, chaos draws by a `Relaxed` counter (chaos.rs). Timers are tokio's, so
//! paused tokio time drives `run` in tests.

mod budget;
mod chaos;
mod clock;
mod error;

use std::future::Future;

pub(super) use budget::RetryBudget;
pub use clock::TokioClock;
pub use error::RunError;

use super::Breaker;
use super::inner::Inner;
use crate::error::Outcome;
use crate::priority::Priority;
use crate::verdict::{Failure, Verdict};

/// The kind a timed-out attempt's failure is counted under.
pub const TIMEOUT_KIND: &str = "timeout";

/// The kind an attempt ended by the policy's chaos with an injected fault is counted under.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use fusebox_engine::{Breaker, CHAOS_KIND, Chaos, Policy, RunError};
/// let policy = Policy::builder().chaos(Chaos::new().with_fault_rate(1.0)).build()?;
/// let b = Breaker::new("db", policy);
/// let r = b.run(|| async { Ok::<_, std::io::Error>(()) }).await;
/// assert!(matches!(r, Err(RunError::Injected { attempts: 1 })));
/// assert_eq!(b.metrics().failures_of_kind(CHAOS_KIND), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub const CHAOS_KIND: &str = "chaos";

impl Breaker {
    /// Runs `f` through the breaker as the policy says: each attempt acquires a permit, runs
    /// under the policy's `timeout` (a timed-out attempt is a failure of kind `"timeout"`,
    /// slow too if a slow-call rule says so), and records its outcome (`Ok` a success, `Err` a
    /// failure). A failed or timed-out attempt is retried per the policy's `retry`
    /// (`max_attempts`, backoff, budget); a rejection is returned at once and never retried,
    /// so an open breaker is never hammered.
    ///
    /// This is the way to put a timeout on a call: a timeout put *around* a guarded future
    /// drops its permit, which records `Ignored`, so a dependency that only ever times out
    /// would never trip the breaker.
    ///
    /// If the policy in force has [`chaos`](crate::Policy::chaos) and its `until` has not passed,
    /// each admitted attempt first draws: with probability `latency_rate` it waits `latency`
    /// before calling `f` (inside the timeout, as real latency would be); with probability
    /// `fault_rate` it does not call `f` at all and ends as a failure of kind
    /// [`CHAOS_KIND`], recorded on the permit like a real failure (the breaker trips on
    /// injected faults as on real ones) and retried like one. The draws follow the chaos's
    /// `seed` and the breaker's count of attempts that drew since its chaos last changed, so
    /// the same seed and the same sequence of calls inject the same faults. A breaker without
    /// chaos reads no clock and draws nothing for it.
    ///
    /// The returned future owns a handle of the breaker: it is `'static` (and `Send`) when
    /// `f` and its futures are. If `f` or its future panics, the attempt records a failure
    /// and the panic continues.
    ///
    /// # Errors
    ///
    /// [`RunError::Rejected`] when an attempt was rejected, [`RunError::Failed`] with the last
    /// error, [`RunError::TimedOut`] when the last attempt timed out, [`RunError::Injected`]
    /// when chaos ended the last attempt with a fault.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_engine::{Breaker, Policy, Retry, RetryBackoff};
    /// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
    /// let policy = Policy::builder()
    ///     .timeout(Duration::from_millis(100))
    ///     .retry(Retry::new(3).with_backoff(RetryBackoff::Constant).with_base(Duration::from_millis(10)))
    ///     .build()?;
    /// let b = Breaker::new("inventory", policy);
    /// let mut calls = 0;
    /// let n = b.run(|| {
    ///     calls += 1;
    ///     let fail = calls < 3;
    ///     async move { if fail { Err("flaky") } else { Ok(calls) } }
    /// }).await.unwrap();
    /// assert_eq!(n, 3);
    /// assert_eq!((b.metrics().failures, b.metrics().successes), (2, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn run<T, E, F, Fut>(
        &self,
        f: F,
    ) -> impl Future<Output = Result<T, RunError<E>>> + use<T, E, F, Fut>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.run_with(f, |r: &Result<T, E>| {
            if r.is_ok() {
                Outcome::Success
            } else {
                Outcome::Failure
            }
        })
    }

    /// [`run`](Self::run) with `classify` deciding what each attempt's result means: a
    /// [`Verdict`] or an [`Outcome`]. An attempt it calls a failure is retried like an error,
    /// even an `Ok` one (a 503 response, say); if no retry is left, that last result is
    /// returned as it is. An attempt it calls ignored is returned as it is, not retried.
    ///
    /// # Errors
    ///
    /// As for [`run`](Self::run).
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_engine::{Breaker, Failure, Outcome, Policy, Retry, Verdict};
    /// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
    /// let b = Breaker::new("api", Policy::builder().retry(Retry::new(2)).build()?);
    /// let status = b
    ///     .run_with(
    ///         || async { Ok::<u16, ()>(503) },
    ///         |r: &Result<u16, ()>| -> Verdict {
    ///             match r {
    ///                 Ok(s) if *s >= 500 => Failure::of_kind("http_5xx").into(),
    ///                 _ => Outcome::Success.into(),
    ///             }
    ///         },
    ///     )
    ///     .await
    ///     .unwrap();
    /// assert_eq!(status, 503); // retried once, then returned as it was
    /// assert_eq!(b.metrics().failures_of_kind("http_5xx"), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn run_with<T, E, F, Fut, C, V>(
        &self,
        f: F,
        classify: C,
    ) -> impl Future<Output = Result<T, RunError<E>>> + use<T, E, F, Fut, C, V>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: FnMut(&Result<T, E>) -> V,
        V: Into<Verdict>,
    {
        self.run_at(Priority::Normal, f, classify)
    }

    /// [`run`](Self::run) at `priority`: every attempt, retries included, acquires at that
    /// priority (see [`try_acquire_with`](Self::try_acquire_with)), so a `Low` call is shed
    /// first when the bulkhead fills and a `Critical` one may use its reserve.
    ///
    /// # Errors
    ///
    /// As for [`run`](Self::run).
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_engine::{Breaker, Policy, Priority, RejectReason, RunError};
    /// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
    /// let b = Breaker::new("api", Policy::builder().max_concurrent(1).build()?);
    /// let held = b.try_acquire()?;
    /// let low = b.run_with_priority(Priority::Low, || async { Ok::<_, ()>(1) }).await;
    /// assert!(matches!(low, Err(RunError::Rejected { ref rejected, .. })
    ///     if rejected.reason() == RejectReason::BulkheadFull));
    /// let critical = b.run_with_priority(Priority::Critical, || async { Ok::<_, ()>(2) });
    /// assert_eq!(critical.await.unwrap(), 2);
    /// # drop(held);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn run_with_priority<T, E, F, Fut>(
        &self,
        priority: Priority,
        f: F,
    ) -> impl Future<Output = Result<T, RunError<E>>> + use<T, E, F, Fut>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.run_at(priority, f, |r: &Result<T, E>| {
            if r.is_ok() {
                Outcome::Success
            } else {
                Outcome::Failure
            }
        })
    }

    /// `run_with` at `priority`.
    fn run_at<T, E, F, Fut, C, V>(
        &self,
        priority: Priority,
        mut f: F,
        mut classify: C,
    ) -> impl Future<Output = Result<T, RunError<E>>> + use<T, E, F, Fut, C, V>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: FnMut(&Result<T, E>) -> V,
        V: Into<Verdict>,
    {
        let breaker = self.clone();
        async move {
            let (timeout, retry) = {
                let policy = breaker.inner.cold.policy.load();
                (policy.timeout(), policy.retry())
            };
            let mut attempts = 0u32;
            let mut previous_delay = retry.map(|r| r.base()).unwrap_or_default();
            loop {
                let permit = match breaker.try_acquire_with(priority) {
                    Ok(permit) => permit,
                    Err(rejected) => return Err(RunError::Rejected { rejected, attempts }),
                };
                if attempts == 0 && retry.is_some() {
                    breaker.inner.deposit_first_attempt();
                }
                attempts += 1;
                let plan = breaker.inner.chaos_plan();
                // `None` for an injected fault: `f` is not called.
                let attempt = async {
                    if let Some(delay) = plan.delay {
                        tokio::time::sleep(delay).await;
                    }
                    if plan.fault {
                        return None;
                    }
                    Some(f().await)
                };
                let result = match timeout {
                    Some(limit) => tokio::time::timeout(limit, attempt).await.ok(),
                    None => Some(attempt.await),
                };
                // What to return if this attempt is not retried.
                let last = match result {
                    None => {
                        permit.failure_with(Failure::of_kind(TIMEOUT_KIND));
                        Err(RunError::TimedOut { attempts })
                    }
                    Some(None) => {
                        permit.failure_with(Failure::of_kind(CHAOS_KIND));
                        Err(RunError::Injected { attempts })
                    }
                    Some(Some(result)) => {
                        let verdict = classify(&result).into();
                        permit.record_verdict(verdict);
                        let result = result.map_err(|error| RunError::Failed { error, attempts });
                        if verdict.outcome() != Outcome::Failure {
                            return result;
                        }
                        result
                    }
                };
                let Some(retry) = retry else { return last };
                if attempts >= retry.max_attempts() || !breaker.inner.withdraw_retry(retry.budget())
                {
                    return last;
                }
                let delay = retry.delay(attempts, previous_delay, breaker.inner.random_unit());
                previous_delay = delay;
                tokio::time::sleep(delay).await;
            }
        }
    }
}

impl Inner {
    /// Counts a first attempt of `run` in the retry budget.
    fn deposit_first_attempt(&self) {
        self.extras().retry_budget.deposit(self.cold.clock.now());
    }

    /// Takes a retry from the budget, allowing `share` of the first attempts plus the floor.
    fn withdraw_retry(&self, share: f64) -> bool {
        self.extras()
            .retry_budget
            .withdraw(self.cold.clock.now(), share)
    }
}
