//! Circuit-breaker policies as plain, validated data.
//!
//! A [`Policy`] says when a breaker trips, how long it stays open, how it probes and how it
//! recovers; and, if it sets them, how fast calls may go ([`RateLimit`]), how long each
//! attempt may take ([`Policy::timeout`]), how failed calls are retried ([`Retry`]),
//! whether the breaker follows the other instances of its fleet ([`FleetMode`]) and whether
//! faults and latency are injected for an experiment ([`Chaos`]). It is
//! immutable once built: [`PolicyBuilder::build`] checks every field and names the first one
//! that is out of range, so a breaker never runs with a half-valid policy.
//!
//! ```
//! use std::time::Duration;
//! use fusebox_policies::{Backoff, Policy, Window};
//!
//! let policy = Policy::builder()
//!     .window(Window::count(100))
//!     .failure_rate_threshold(0.5)
//!     .min_calls(20)
//!     .open_timeout(Duration::from_secs(30))
//!     .backoff(Backoff::exponential(2.0, Duration::from_secs(300)))
//!     .build()?;
//! assert_eq!(policy.min_calls(), 20);
//!
//! let err = Policy::builder().failure_rate_threshold(1.5).build().unwrap_err();
//! assert_eq!(err.to_string(), "failure_rate_threshold: must be in (0, 1], got 1.5");
//! # Ok::<(), fusebox_policies::PolicyError>(())
//! ```
//!
//! Policies are also written as TOML ([`Policy::from_toml`], [`Policy::to_toml`]; the schema
//! and the error rules are in [`docs::toml`]), may start from a named [preset](presets), and
//! come in partial form as a [`PolicyPatch`] for the sections of a registry config file
//! ([`RegistryConfig`]), whose breaker names follow [`validate_name`].
//!
//! ```
//! use fusebox_policies::Policy;
//!
//! let policy = Policy::from_toml(r#"
//! preset = "http-api"
//! open_timeout = "10s"
//! half_open = { permits = 2, successes = 2 }
//! "#)?;
//! assert_eq!(Policy::from_toml(&policy.to_toml())?, policy);
//!
//! let err = Policy::from_toml("open_timeout = \"10\"").unwrap_err();
//! assert_eq!(err.position(), Some((1, 16)));
//! assert_eq!(err.field(), "open_timeout");
//! # Ok::<(), fusebox_policies::PolicyError>(())
//! ```

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod adaptive;
mod chaos;
mod config;
pub mod docs;
mod file;
mod fleet;
mod operator;
mod patch;
pub mod presets;
mod record;
mod repr;

use adaptive::Concurrency;
pub use adaptive::{
    ADAPTIVE_INITIAL_DEFAULT, ADAPTIVE_MAX_DEFAULT, ADAPTIVE_MIN_DEFAULT, AdaptiveLimit,
    LimitAlgorithm,
};
pub use chaos::{Chaos, ChaosAttempt};
pub use config::{
    BreakerConfig, ConfigError, MAX_NAME_BYTES, NameError, RegistryConfig, validate_name,
};
pub use fleet::FleetMode;
pub use operator::{DEFAULT_NOTIFY_ON, NotifyConfig, STATE_LABELS};
pub use patch::PolicyPatch;
pub use record::{
    MAX_RECORD_CAPACITY, RECORD_CAPACITY_DEFAULT, RECORD_SAMPLE_DEFAULT, RecordConfig,
};

/// The largest count window, in calls. A count window costs two bits of heap per call.
pub const MAX_COUNT_WINDOW: u32 = 1 << 20;
/// The largest number of buckets in a time window.
pub const MAX_TIME_BUCKETS: u32 = 1024;
/// The shortest bucket of a time window: buckets finer than this cost clock precision.
pub const MIN_BUCKET_WIDTH: Duration = Duration::from_millis(1);
/// The longest time window span, and the longest open period, ramp or slow-call duration.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);
/// The most half-open probes that may be in flight at once.
pub const MAX_HALF_OPEN_PERMITS: u32 = 10_000;
/// The largest bulkhead (`max_concurrent`), static or the `max` of an adaptive one.
pub const MAX_CONCURRENT: u32 = 1 << 24;
/// The largest exponential backoff factor.
pub const MAX_BACKOFF_FACTOR: f64 = 1000.0;

/// Default count-window size, in calls.
pub const WINDOW_COUNT_DEFAULT: u32 = 100;
/// Default failure-rate threshold.
pub const FAILURE_RATE_THRESHOLD_DEFAULT: f64 = 0.5;
/// Default number of recorded calls before the failure rate is evaluated.
pub const MIN_CALLS_DEFAULT: u32 = 20;
/// Default open period, in seconds.
pub const OPEN_TIMEOUT_DEFAULT_SECS: u64 = 30;
/// Default number of half-open probes in flight.
pub const HALF_OPEN_PERMITS_DEFAULT: u32 = 5;
/// Default number of probe successes that close a half-open breaker.
pub const SUCCESS_THRESHOLD_DEFAULT: u32 = 3;
/// Default first wait of a [`Retry`].
///
/// ```
/// assert_eq!(fusebox_policies::Retry::new(3).base(), fusebox_policies::RETRY_BASE_DEFAULT);
/// ```
pub const RETRY_BASE_DEFAULT: Duration = Duration::from_millis(50);
/// Default longest wait of a [`Retry`].
///
/// ```
/// assert_eq!(fusebox_policies::Retry::new(3).max(), fusebox_policies::RETRY_MAX_DEFAULT);
/// ```
pub const RETRY_MAX_DEFAULT: Duration = Duration::from_secs(2);
/// Default retry budget: the share of first attempts that retries may add.
///
/// ```
/// assert_eq!(fusebox_policies::Retry::new(3).budget(), fusebox_policies::RETRY_BUDGET_DEFAULT);
/// ```
pub const RETRY_BUDGET_DEFAULT: f64 = 0.2;
/// The window a [`Retry`]'s budget counts first attempts and retries over.
///
/// ```
/// assert_eq!(fusebox_policies::RETRY_BUDGET_WINDOW.as_secs(), 10);
/// ```
pub const RETRY_BUDGET_WINDOW: Duration = Duration::from_secs(10);
/// The retries per second of [`RETRY_BUDGET_WINDOW`] that a [`Retry`]'s budget allows
/// whatever its share: 100 retries per 10 s window.
///
/// ```
/// assert_eq!(fusebox_policies::RETRY_BUDGET_MIN_RETRIES_PER_SEC, 10);
/// ```
pub const RETRY_BUDGET_MIN_RETRIES_PER_SEC: u32 = 10;

/// The shape of a breaker's sliding window.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fusebox_policies::Window;
///
/// assert_eq!(Window::count(100), Window::Count { size: 100 });
/// let w = Window::time(Duration::from_secs(10), 10);
/// assert!(matches!(w, Window::Time { buckets: 10, .. }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    /// The last `size` recorded outcomes.
    Count {
        /// How many outcomes the window holds.
        size: u32,
    },
    /// The outcomes younger than `span`, aged out one bucket (`span / buckets`) at a time.
    Time {
        /// How far back the window reaches.
        span: Duration,
        /// How many buckets the span is cut into.
        buckets: u32,
    },
}

impl Window {
    /// A count window over the last `size` recorded outcomes.
    ///
    /// # Examples
    ///
    /// ```
    /// let w = fusebox_policies::Window::count(50);
    /// assert_eq!(w, fusebox_policies::Window::Count { size: 50 });
    /// ```
    pub const fn count(size: u32) -> Self {
        Window::Count { size }
    }

    /// A time window over the last `span`, cut into `buckets` buckets.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let w = fusebox_policies::Window::time(Duration::from_secs(60), 12);
    /// assert!(matches!(w, fusebox_policies::Window::Time { buckets: 12, .. }));
    /// ```
    pub const fn time(span: Duration, buckets: u32) -> Self {
        Window::Time { span, buckets }
    }
}

/// How the open period grows each time a half-open breaker re-opens.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fusebox_policies::Backoff;
///
/// let b = Backoff::exponential(2.0, Duration::from_secs(60));
/// assert_eq!(b.period(Duration::from_secs(10), 0), Duration::from_secs(10));
/// assert_eq!(b.period(Duration::from_secs(10), 2), Duration::from_secs(40));
/// assert_eq!(b.period(Duration::from_secs(10), 9), Duration::from_secs(60));
/// assert_eq!(Backoff::constant().period(Duration::from_secs(10), 9), Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Backoff {
    /// Every open period is `open_timeout`.
    Constant,
    /// The open period is multiplied by `factor` on each re-open, up to `max`.
    Exponential {
        /// The growth factor, ≥ 1.
        factor: f64,
        /// The longest open period.
        max: Duration,
    },
}

impl Backoff {
    /// Every open period is the policy's `open_timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(fusebox_policies::Backoff::constant(), fusebox_policies::Backoff::Constant);
    /// ```
    pub const fn constant() -> Self {
        Backoff::Constant
    }

    /// The open period grows by `factor` on each re-open from half-open, capped at `max`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = fusebox_policies::Backoff::exponential(3.0, Duration::from_secs(90));
    /// assert_eq!(b.period(Duration::from_secs(10), 1), Duration::from_secs(30));
    /// ```
    pub const fn exponential(factor: f64, max: Duration) -> Self {
        Backoff::Exponential { factor, max }
    }

    /// The open period after `step` consecutive re-opens, starting from `base`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = fusebox_policies::Backoff::exponential(2.0, Duration::from_secs(5));
    /// assert_eq!(b.period(Duration::from_secs(1), 1), Duration::from_secs(2));
    /// ```
    pub fn period(&self, base: Duration, step: u32) -> Duration {
        match *self {
            Backoff::Constant => base,
            Backoff::Exponential { factor, max } => {
                let grown = base.as_secs_f64() * factor.powi(step.min(i32::MAX as u32) as i32);
                if !grown.is_finite() || grown >= max.as_secs_f64() {
                    max.max(base)
                } else {
                    Duration::from_secs_f64(grown)
                }
            }
        }
    }
}

/// What happens once a half-open breaker has seen enough probe successes.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fusebox_policies::Recovery;
///
/// assert_eq!(Recovery::immediate(), Recovery::Immediate);
/// let r = Recovery::ramp(Duration::from_secs(30), 0.1);
/// assert!(matches!(r, Recovery::Ramp { .. }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Recovery {
    /// Straight to `Closed`: every call is admitted again.
    Immediate,
    /// Through `Recovering`: the admitted share rises linearly from `start_share` to 1 over
    /// `duration`, then the breaker is `Closed`.
    Ramp {
        /// How long the ramp lasts.
        duration: Duration,
        /// The share of calls admitted when the ramp starts, in (0, 1].
        start_share: f64,
    },
}

impl Recovery {
    /// Close straight away.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(fusebox_policies::Recovery::immediate(), fusebox_policies::Recovery::Immediate);
    /// ```
    pub const fn immediate() -> Self {
        Recovery::Immediate
    }

    /// Ramp the admitted share from `start_share` to 1 over `duration`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = fusebox_policies::Recovery::ramp(Duration::from_secs(10), 0.25);
    /// assert_eq!(r, fusebox_policies::Recovery::Ramp { duration: Duration::from_secs(10), start_share: 0.25 });
    /// ```
    pub const fn ramp(duration: Duration, start_share: f64) -> Self {
        Recovery::Ramp {
            duration,
            start_share,
        }
    }
}

/// The slow-call rule: calls taking at least `duration` are slow; a slow share of at least
/// `rate` trips the breaker.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let p = fusebox_policies::Policy::builder()
///     .slow_calls(Duration::from_millis(500), 0.8)
///     .build()
///     .unwrap();
/// let slow = p.slow_calls().unwrap();
/// assert_eq!(slow.duration, Duration::from_millis(500));
/// assert_eq!(slow.rate, 0.8);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlowCalls {
    /// A call lasting at least this long is slow.
    pub duration: Duration,
    /// The slow-call rate, in (0, 1], at which the breaker opens.
    pub rate: f64,
}

/// A rate limit by the generic cell rate algorithm (GCRA): on average at most `rate` calls per
/// `per`, with up to `burst` calls at once.
///
/// Calls are spaced by the [emission interval](Self::emission_interval) `T = per / rate`, and
/// up to `burst` calls may go back to back after a quiet spell (the GCRA's tolerance is
/// `(burst - 1) · T`). A `burst` of 1 spaces calls evenly, one every `T`. In TOML:
/// `rate_limit = { rate = 100, per = "1s", burst = 20 }`, or `"unlimited"` for none.
///
/// Valid values, as [`PolicyBuilder::build`] checks them: `per` from 1ns to
/// [`MAX_DURATION`], `rate` from 1 to `per` in nanoseconds (so `T` is at least 1ns), `burst`
/// at least 1.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fusebox_policies::{Policy, RateLimit};
///
/// let limit = RateLimit::new(100, Duration::from_secs(1), 20);
/// assert_eq!(limit.emission_interval(), Duration::from_millis(10));
/// let p = Policy::builder().rate_limit(limit).build()?;
/// assert_eq!(p.rate_limit(), Some(limit));
/// # Ok::<(), fusebox_policies::PolicyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    rate: u32,
    per: Duration,
    burst: u32,
}

impl RateLimit {
    /// At most `rate` calls per `per` on average, up to `burst` of them at once. The values
    /// are checked when the policy is built.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let limit = fusebox_policies::RateLimit::new(5, Duration::from_secs(1), 1);
    /// assert_eq!((limit.rate(), limit.per(), limit.burst()), (5, Duration::from_secs(1), 1));
    /// ```
    pub const fn new(rate: u32, per: Duration, burst: u32) -> Self {
        RateLimit { rate, per, burst }
    }

    /// How many calls may go per [`per`](Self::per), on average.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(fusebox_policies::RateLimit::new(100, Duration::from_secs(1), 20).rate(), 100);
    /// ```
    pub const fn rate(&self) -> u32 {
        self.rate
    }

    /// The period [`rate`](Self::rate) is counted over.
    ///
    /// ```
    /// use std::time::Duration;
    /// let limit = fusebox_policies::RateLimit::new(100, Duration::from_secs(60), 20);
    /// assert_eq!(limit.per(), Duration::from_secs(60));
    /// ```
    pub const fn per(&self) -> Duration {
        self.per
    }

    /// How many calls may go at once, after a quiet spell; 1 spaces calls evenly.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(fusebox_policies::RateLimit::new(100, Duration::from_secs(1), 20).burst(), 20);
    /// ```
    pub const fn burst(&self) -> u32 {
        self.burst
    }

    /// The GCRA's emission interval `T`: `per / rate`, rounded down to the nanosecond (and
    /// `per` itself for a `rate` of 0, which no valid policy has).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_policies::RateLimit;
    /// assert_eq!(RateLimit::new(4, Duration::from_secs(1), 1).emission_interval(), Duration::from_millis(250));
    /// assert_eq!(RateLimit::new(3, Duration::from_secs(1), 1).emission_interval(), Duration::from_nanos(333_333_333));
    /// ```
    pub fn emission_interval(&self) -> Duration {
        self.per.checked_div(self.rate).unwrap_or(self.per)
    }
}

/// How long [`Retry`] waits before each retry: the schedules of the AWS Architecture Blog's
/// "Exponential Backoff And Jitter", capped at the retry's `max`.
///
/// In TOML: `"constant"`, `"exponential"`, `"full_jitter"` or `"decorrelated"`.
/// [`Retry::delay`] computes the wait.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fusebox_policies::{Retry, RetryBackoff};
///
/// let r = Retry::new(3).with_backoff(RetryBackoff::Constant);
/// assert_eq!(r.delay(2, Duration::ZERO, 0.5), r.base());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryBackoff {
    /// Every wait is `base`.
    Constant,
    /// The wait doubles from `base` on each retry: `min(max, base · 2^(attempt - 1))`.
    Exponential,
    /// A random wait up to the exponential one:
    /// `random_between(0, min(max, base · 2^(attempt - 1)))`.
    FullJitter,
    /// A random wait from `base` up to three times the previous one:
    /// `min(max, random_between(base, previous · 3))`, the previous wait being `base` before
    /// the first retry.
    Decorrelated,
}

impl RetryBackoff {
    /// Every schedule, by its TOML name, in the order messages list them.
    pub(crate) const NAMED: [(&'static str, RetryBackoff); 4] = [
        ("constant", RetryBackoff::Constant),
        ("exponential", RetryBackoff::Exponential),
        ("full_jitter", RetryBackoff::FullJitter),
        ("decorrelated", RetryBackoff::Decorrelated),
    ];

    /// The TOML name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            RetryBackoff::Constant => "constant",
            RetryBackoff::Exponential => "exponential",
            RetryBackoff::FullJitter => "full_jitter",
            RetryBackoff::Decorrelated => "decorrelated",
        }
    }

    /// The schedule a TOML name stands for.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::NAMED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| *b)
    }

    /// The reason for a refused name or value, listing the names.
    pub(crate) fn expected(got: &str) -> String {
        let names: Vec<String> = Self::NAMED.iter().map(|(n, _)| format!("{n:?}")).collect();
        format!("must be one of {}, got {got}", names.join(", "))
    }
}

/// Retries of a failed call: how many attempts in all, how long to wait between them, and
/// the share of extra load retries may add.
///
/// - `max_attempts` counts the first attempt: 3 is the call and up to 2 retries; 1 is no
///   retry. At least 1.
/// - `backoff`, `base` and `max`: the wait before each retry, by [`RetryBackoff`]'s
///   schedules; see [`delay`](Self::delay). `base` is from 1ns to [`MAX_DURATION`], `max`
///   from `base` to [`MAX_DURATION`].
/// - `budget`, in [0, 1]: retries may add at most this share of the first attempts seen over
///   the last [`RETRY_BUDGET_WINDOW`] (10 s), plus a floor of
///   [`RETRY_BUDGET_MIN_RETRIES_PER_SEC`] (10) retries per second of that window, so that a
///   quiet dependency can still be retried. 0 leaves only the floor.
///
/// [`Retry::new`] sets the defaults: `exponential` backoff from [`RETRY_BASE_DEFAULT`]
/// (50 ms) up to [`RETRY_MAX_DEFAULT`] (2 s), and a [`RETRY_BUDGET_DEFAULT`] (0.2) budget.
/// In TOML every key is written out:
/// `retry = { max_attempts = 3, backoff = "decorrelated", base = "50ms", max = "2s", budget = 0.2 }`,
/// or `"none"` for no retry.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fusebox_policies::{Policy, Retry, RetryBackoff};
///
/// let retry = Retry::new(3)
///     .with_backoff(RetryBackoff::Decorrelated)
///     .with_max(Duration::from_secs(1));
/// let p = Policy::builder().retry(retry).build()?;
/// assert_eq!(p.retry(), Some(retry));
/// assert_eq!(retry.base(), Duration::from_millis(50));
/// # Ok::<(), fusebox_policies::PolicyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    max_attempts: u32,
    backoff: RetryBackoff,
    base: Duration,
    max: Duration,
    budget: f64,
}

impl Retry {
    /// Up to `max_attempts` attempts in all (the first one included), with the defaults:
    /// exponential backoff from 50 ms up to 2 s, and a budget of 0.2. The values are checked
    /// when the policy is built.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_policies::{Retry, RetryBackoff};
    /// let r = Retry::new(4);
    /// assert_eq!(r.max_attempts(), 4);
    /// assert_eq!(r.backoff(), RetryBackoff::Exponential);
    /// assert_eq!((r.base(), r.max()), (Duration::from_millis(50), Duration::from_secs(2)));
    /// assert_eq!(r.budget(), 0.2);
    /// ```
    pub const fn new(max_attempts: u32) -> Self {
        Retry {
            max_attempts,
            backoff: RetryBackoff::Exponential,
            base: RETRY_BASE_DEFAULT,
            max: RETRY_MAX_DEFAULT,
            budget: RETRY_BUDGET_DEFAULT,
        }
    }

    /// The same retry with another wait schedule.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_policies::{Retry, RetryBackoff};
    /// let r = Retry::new(3).with_backoff(RetryBackoff::FullJitter);
    /// assert_eq!(r.backoff(), RetryBackoff::FullJitter);
    /// ```
    #[must_use]
    pub const fn with_backoff(self, backoff: RetryBackoff) -> Self {
        Retry { backoff, ..self }
    }

    /// The same retry with another base wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = fusebox_policies::Retry::new(3).with_base(Duration::from_millis(100));
    /// assert_eq!(r.base(), Duration::from_millis(100));
    /// ```
    #[must_use]
    pub const fn with_base(self, base: Duration) -> Self {
        Retry { base, ..self }
    }

    /// The same retry with another longest wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = fusebox_policies::Retry::new(3).with_max(Duration::from_secs(10));
    /// assert_eq!(r.max(), Duration::from_secs(10));
    /// ```
    #[must_use]
    pub const fn with_max(self, max: Duration) -> Self {
        Retry { max, ..self }
    }

    /// The same retry with another budget.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = fusebox_policies::Retry::new(3).with_budget(0.1);
    /// assert_eq!(r.budget(), 0.1);
    /// ```
    #[must_use]
    pub const fn with_budget(self, budget: f64) -> Self {
        Retry { budget, ..self }
    }

    /// How many attempts a call may make in all, the first one included; 1 is no retry.
    ///
    /// ```
    /// assert_eq!(fusebox_policies::Retry::new(3).max_attempts(), 3);
    /// ```
    pub const fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The wait schedule between attempts.
    ///
    /// ```
    /// use fusebox_policies::{Retry, RetryBackoff};
    /// assert_eq!(Retry::new(3).backoff(), RetryBackoff::Exponential);
    /// ```
    pub const fn backoff(&self) -> RetryBackoff {
        self.backoff
    }

    /// The first wait, and the shortest for the `constant`, `exponential` and `decorrelated`
    /// schedules.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(fusebox_policies::Retry::new(3).base(), Duration::from_millis(50));
    /// ```
    pub const fn base(&self) -> Duration {
        self.base
    }

    /// The longest wait.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(fusebox_policies::Retry::new(3).max(), Duration::from_secs(2));
    /// ```
    pub const fn max(&self) -> Duration {
        self.max
    }

    /// The share of first attempts that retries may add over the budget window, in [0, 1].
    ///
    /// ```
    /// assert_eq!(fusebox_policies::Retry::new(3).budget(), 0.2);
    /// ```
    pub const fn budget(&self) -> f64 {
        self.budget
    }

    /// The wait before retry number `attempt` (1 is the first retry, the second attempt), by
    /// the [schedule](RetryBackoff):
    ///
    /// - `constant`: `base`;
    /// - `exponential`: `min(max, base · 2^(attempt - 1))`;
    /// - `full_jitter`: `random_between(0, min(max, base · 2^(attempt - 1)))`;
    /// - `decorrelated`: `min(max, random_between(base, previous · 3))`, where `previous` is
    ///   the wait this function returned for the retry before; for the first retry it is
    ///   `base`, whatever is passed.
    ///
    /// `random_between(a, b)` is `a + (b - a) · random_unit`, rounded down to the nanosecond,
    /// with `random_unit` drawn by the caller in [0, 1): the wait is at least `a` and, for `b`
    /// above `a`, below `b`. A draw outside [0, 1] is clamped into it (1 gives `b`), and NaN is
    /// read as 0. An `attempt` of 0 is read as 1. The result saturates rather than overflows,
    /// for any attempt number.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_policies::{Retry, RetryBackoff};
    /// let ms = Duration::from_millis;
    /// let r = Retry::new(5).with_base(ms(100)).with_max(ms(1000));
    ///
    /// let exp = r.with_backoff(RetryBackoff::Exponential);
    /// assert_eq!(exp.delay(1, ms(0), 0.0), ms(100));
    /// assert_eq!(exp.delay(3, ms(0), 0.0), ms(400));
    /// assert_eq!(exp.delay(50, ms(0), 0.0), ms(1000));
    ///
    /// let full = r.with_backoff(RetryBackoff::FullJitter);
    /// assert_eq!(full.delay(3, ms(0), 0.5), ms(200));
    ///
    /// let dec = r.with_backoff(RetryBackoff::Decorrelated);
    /// let first = dec.delay(1, ms(0), 0.5); // between 100 and 300 ms
    /// assert_eq!(first, ms(200));
    /// assert_eq!(dec.delay(2, first, 0.5), ms(350)); // between 100 and 600 ms
    /// ```
    pub fn delay(&self, attempt: u32, previous: Duration, random_unit: f64) -> Duration {
        let unit = if random_unit.is_nan() {
            0.0
        } else {
            random_unit.clamp(0.0, 1.0)
        };
        let between = |lo: u128, hi: u128| -> u128 {
            let span = hi.saturating_sub(lo);
            // Float rounding may not carry the product to the top of the span, which only a
            // draw of 1 reaches.
            let top = if unit < 1.0 {
                span.saturating_sub(1)
            } else {
                span
            };
            lo + ((span as f64 * unit) as u128).min(top)
        };
        let base = self.base.as_nanos();
        let max = self.max.as_nanos();
        let doubled = |steps: u32| -> u128 {
            if base == 0 {
                0
            } else if steps >= base.leading_zeros() {
                u128::MAX
            } else {
                base << steps
            }
        };
        let steps = attempt.max(1) - 1;
        let nanos = match self.backoff {
            RetryBackoff::Constant => base,
            RetryBackoff::Exponential => doubled(steps).min(max),
            RetryBackoff::FullJitter => between(0, doubled(steps).min(max)),
            RetryBackoff::Decorrelated => {
                let previous = if attempt <= 1 {
                    base
                } else {
                    previous.as_nanos()
                };
                between(base, previous.saturating_mul(3).max(base)).min(max)
            }
        };
        duration_from_nanos(nanos)
    }
}

/// A duration of `nanos` nanoseconds, saturating at [`Duration::MAX`].
fn duration_from_nanos(nanos: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    match u64::try_from(nanos / NANOS_PER_SEC) {
        Ok(secs) => Duration::new(secs, (nanos % NANOS_PER_SEC) as u32),
        Err(_) => Duration::MAX,
    }
}

/// An immutable, validated circuit-breaker policy.
///
/// Build one with [`Policy::builder`]; `Policy::default()` is the builder's defaults.
///
/// # Examples
///
/// ```
/// use fusebox_policies::{Policy, Window};
/// let p = Policy::builder().window(Window::count(10)).min_calls(5).build().unwrap();
/// assert_eq!(p.window(), Window::count(10));
/// assert_eq!(p.failure_rate_threshold(), 0.5);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "repr::PolicyRepr", into = "repr::PolicyRepr")]
pub struct Policy {
    window: Window,
    failure_rate_threshold: f64,
    min_calls: u32,
    consecutive_failures: u32,
    slow_calls: Option<SlowCalls>,
    open_timeout: Duration,
    backoff: Backoff,
    jitter: f64,
    half_open_permits: u32,
    success_threshold: u32,
    max_concurrent: Option<Concurrency>,
    recovery: Recovery,
    latency_histogram: bool,
    rate_limit: Option<RateLimit>,
    timeout: Option<Duration>,
    retry: Option<Retry>,
    fleet: FleetMode,
    chaos: Option<Chaos>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            window: Window::count(WINDOW_COUNT_DEFAULT),
            failure_rate_threshold: FAILURE_RATE_THRESHOLD_DEFAULT,
            min_calls: MIN_CALLS_DEFAULT,
            consecutive_failures: 0,
            slow_calls: None,
            open_timeout: Duration::from_secs(OPEN_TIMEOUT_DEFAULT_SECS),
            backoff: Backoff::Constant,
            jitter: 0.0,
            half_open_permits: HALF_OPEN_PERMITS_DEFAULT,
            success_threshold: SUCCESS_THRESHOLD_DEFAULT,
            max_concurrent: None,
            recovery: Recovery::Immediate,
            latency_histogram: false,
            rate_limit: None,
            timeout: None,
            retry: None,
            fleet: FleetMode::Local,
            chaos: None,
        }
    }
}

macro_rules! getters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        $(
            $(#[$doc])*
            #[inline]
            pub fn $name(&self) -> $ty {
                self.$name
            }
        )*
    };
}

impl Policy {
    /// A builder starting from the defaults.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = fusebox_policies::Policy::builder().min_calls(3).build().unwrap();
    /// assert_eq!(p.min_calls(), 3);
    /// ```
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder {
            policy: Policy::default(),
        }
    }

    /// A builder starting from this policy, to derive a variant of it.
    ///
    /// # Examples
    ///
    /// ```
    /// let base = fusebox_policies::Policy::default();
    /// let strict = base.to_builder().failure_rate_threshold(0.2).build().unwrap();
    /// assert_eq!(strict.min_calls(), base.min_calls());
    /// ```
    pub fn to_builder(&self) -> PolicyBuilder {
        PolicyBuilder {
            policy: self.clone(),
        }
    }

    getters! {
        /// The sliding window's shape.
        ///
        /// ```
        /// assert_eq!(fusebox_policies::Policy::default().window(), fusebox_policies::Window::count(100));
        /// ```
        window: Window;
        /// The failure rate, in (0, 1], at which the breaker opens.
        ///
        /// ```
        /// assert_eq!(fusebox_policies::Policy::default().failure_rate_threshold(), 0.5);
        /// ```
        failure_rate_threshold: f64;
        /// How many outcomes the window must hold before rates are evaluated.
        ///
        /// ```
        /// assert_eq!(fusebox_policies::Policy::default().min_calls(), 20);
        /// ```
        min_calls: u32;
        /// Failures in a row that open the breaker whatever `min_calls`; 0 is off.
        ///
        /// ```
        /// assert_eq!(fusebox_policies::Policy::default().consecutive_failures(), 0);
        /// ```
        consecutive_failures: u32;
        /// The slow-call rule, if any.
        ///
        /// ```
        /// assert!(fusebox_policies::Policy::default().slow_calls().is_none());
        /// ```
        slow_calls: Option<SlowCalls>;
        /// The first open period.
        ///
        /// ```
        /// assert_eq!(fusebox_policies::Policy::default().open_timeout().as_secs(), 30);
        /// ```
        open_timeout: Duration;
        /// How the open period grows on each re-open.
        ///
        /// ```
        /// assert_eq!(fusebox_policies::Policy::default().backoff(), fusebox_policies::Backoff::Constant);
        /// ```
        backoff: Backoff;
        /// The share of the open period drawn at random around it, in [0, 1).
        ///
        /// ```
        /// assert_eq!(fusebox_policies::Policy::default().jitter(), 0.0);
        /// ```
        jitter: f64;
        /// How many half-open probes may be in flight at once.
        ///
        /// ```
        /// assert_eq!(fusebox_policies::Policy::default().half_open_permits(), 5);
        /// ```
        half_open_permits: u32;
        /// How many probe successes close a half-open breaker.
        ///
        /// ```
        /// assert_eq!(fusebox_policies::Policy::default().success_threshold(), 3);
        /// ```
        success_threshold: u32;
        /// What happens after half-open closes.
        ///
        /// ```
        /// assert_eq!(fusebox_policies::Policy::default().recovery(), fusebox_policies::Recovery::Immediate);
        /// ```
        recovery: Recovery;
        /// Whether each admitted call's duration, from acquire to record, goes into a latency
        /// histogram; off by default.
        ///
        /// ```
        /// assert!(!fusebox_policies::Policy::default().latency_histogram());
        /// ```
        latency_histogram: bool;
        /// The rate limit, if any; `None` (the default) is unlimited.
        ///
        /// ```
        /// assert_eq!(fusebox_policies::Policy::default().rate_limit(), None);
        /// ```
        rate_limit: Option<RateLimit>;
        /// How long one attempt of a call may take, if there is a limit; `None` (the default)
        /// is no timeout.
        ///
        /// ```
        /// assert_eq!(fusebox_policies::Policy::default().timeout(), None);
        /// ```
        timeout: Option<Duration>;
        /// How failed calls are retried, if they are; `None` (the default) is one attempt and
        /// no retry.
        ///
        /// ```
        /// assert_eq!(fusebox_policies::Policy::default().retry(), None);
        /// ```
        retry: Option<Retry>;
        /// What the breaker does when other instances of its fleet open it, once a fleet
        /// sync is connected; [`FleetMode::Local`] (the default) is nothing.
        ///
        /// ```
        /// use fusebox_policies::{FleetMode, Policy};
        /// assert_eq!(Policy::default().fleet(), FleetMode::Local);
        /// ```
        fleet: FleetMode;
    }

    /// The static bulkhead: how many permits may be alive at once; `None` when there is no
    /// bulkhead or when it is adaptive (see [`adaptive_limit`](Self::adaptive_limit)).
    ///
    /// ```
    /// use fusebox_policies::{AdaptiveLimit, LimitAlgorithm, Policy};
    /// assert_eq!(Policy::default().max_concurrent(), None);
    /// assert_eq!(Policy::builder().max_concurrent(8).build()?.max_concurrent(), Some(8));
    /// let adaptive = Policy::builder().adaptive_limit(AdaptiveLimit::new(LimitAlgorithm::Aimd));
    /// assert_eq!(adaptive.build()?.max_concurrent(), None);
    /// # Ok::<(), fusebox_policies::PolicyError>(())
    /// ```
    #[inline]
    pub fn max_concurrent(&self) -> Option<u32> {
        match self.max_concurrent {
            Some(Concurrency::Static(max)) => Some(max),
            Some(Concurrency::Adaptive(_)) | None => None,
        }
    }

    /// The adaptive bulkhead, if `max_concurrent` is one: a limit on permits alive at once
    /// that moves with the latency and drops of completed calls.
    ///
    /// ```
    /// use fusebox_policies::{AdaptiveLimit, LimitAlgorithm, Policy};
    /// assert_eq!(Policy::default().adaptive_limit(), None);
    /// let p = Policy::from_toml("max_concurrent = { adaptive = \"aimd\", max = 50 }")?;
    /// assert_eq!(p.adaptive_limit(), Some(AdaptiveLimit::new(LimitAlgorithm::Aimd).with_max(50)));
    /// # Ok::<(), fusebox_policies::PolicyError>(())
    /// ```
    #[inline]
    pub fn adaptive_limit(&self) -> Option<AdaptiveLimit> {
        match self.max_concurrent {
            Some(Concurrency::Adaptive(limit)) => Some(limit),
            Some(Concurrency::Static(_)) | None => None,
        }
    }

    /// The open period after `step` consecutive re-opens, before jitter.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_policies::{Backoff, Policy};
    /// let p = Policy::builder()
    ///     .open_timeout(Duration::from_secs(10))
    ///     .backoff(Backoff::exponential(2.0, Duration::from_secs(60)))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(p.open_period(1), Duration::from_secs(20));
    /// ```
    pub fn open_period(&self, step: u32) -> Duration {
        self.backoff.period(self.open_timeout, step)
    }

    /// The chaos experiment, if any: faults and latency injected into the calls a breaker
    /// runs; `None` (the default) is no chaos.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_policies::{Chaos, Policy};
    /// assert_eq!(Policy::default().chaos(), None);
    /// let p = Policy::builder().chaos(Chaos::new().with_fault_rate(0.1)).build()?;
    /// assert_eq!(p.chaos().map(|c| c.fault_rate()), Some(0.1));
    /// # Ok::<(), fusebox_policies::PolicyError>(())
    /// ```
    #[inline]
    pub fn chaos(&self) -> Option<&Chaos> {
        self.chaos.as_ref()
    }

    /// The same policy without chaos: what switching an experiment off leaves. Removing chaos
    /// keeps a valid policy valid, so this cannot fail.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_policies::{Chaos, Policy};
    /// let p = Policy::builder().min_calls(5).chaos(Chaos::new().with_fault_rate(0.5)).build()?;
    /// let calm = p.without_chaos();
    /// assert_eq!(calm.chaos(), None);
    /// assert_eq!(calm, p.to_builder().no_chaos().build()?);
    /// # Ok::<(), fusebox_policies::PolicyError>(())
    /// ```
    #[must_use]
    pub fn without_chaos(&self) -> Policy {
        Policy {
            chaos: None,
            ..self.clone()
        }
    }

    /// Parses a policy written in TOML (the schema is in the [`toml` docs module](docs::toml)).
    ///
    /// Every key is optional: an absent key keeps its default, so an empty file is
    /// `Policy::default()`. `preset = "name"` starts from a [preset](Self::preset) instead.
    ///
    /// # Errors
    ///
    /// A [`PolicyError`] with the field path, the reason with the accepted range or forms, and
    /// the 1-based line and column of the offending value (or key, for an unknown key): invalid
    /// TOML, duplicate or unknown keys, a value of the wrong type, a duration without a unit or
    /// negative, a number out of range, NaN, an unknown preset.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_policies::{Backoff, Policy, Window};
    ///
    /// let p = Policy::from_toml(r#"
    /// window = { span = "10s", buckets = 10 }
    /// backoff = { exponential = 2.0, max = "5m" }
    /// half_open = { permits = 5, successes = 3 }
    /// "#)?;
    /// assert_eq!(p.window(), Window::time(Duration::from_secs(10), 10));
    /// assert_eq!(p.backoff(), Backoff::exponential(2.0, Duration::from_secs(300)));
    ///
    /// let err = Policy::from_toml("min_calls = 5\nhalf_open = { permits = 5, successes = 8 }")
    ///     .unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "2:40: half_open.successes: must be in 1..=5 (half_open.permits), got 8"
    /// );
    /// assert_eq!(Policy::from_toml("")?, Policy::default());
    /// # Ok::<(), fusebox_policies::PolicyError>(())
    /// ```
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        PolicyPatch::from_toml(text)?.apply(&Policy::default())
    }

    /// Writes the policy as TOML, every key spelled out, so that
    /// `Policy::from_toml(&p.to_toml()) == Ok(p)`.
    ///
    /// Optional rules that are off are written as `slow_calls = "off"`,
    /// `max_concurrent = "unlimited"`, `recovery = "immediate"`, `rate_limit = "unlimited"`,
    /// `timeout = "none"`, `retry = "none"` and `fleet = "local"`, so the text means the same
    /// policy as a file of its own or as a registry section over any parent.
    ///
    /// The one exception is [`chaos`](Self::chaos), an experiment rather than a rule: it is
    /// written only when set (last, with `until = "none"` for no end), so the text of a
    /// policy without chaos does not mention it. As a registry section over a parent with
    /// chaos, such a text inherits the parent's: add `chaos = "off"` to it.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = fusebox_policies::Policy::default();
    /// let text = p.to_toml();
    /// assert!(text.starts_with("window = { count = 100 }\nfailure_rate_threshold = 0.5\n"));
    /// assert_eq!(fusebox_policies::Policy::from_toml(&text), Ok(p));
    /// ```
    #[must_use]
    pub fn to_toml(&self) -> String {
        file::policy_to_toml(self)
    }

    /// A named starting point: `"http-api"`, `"database"`, `"payment-provider"`,
    /// `"aggressive"` or `"lenient"`. The [`presets`] module says when to use each and shows
    /// its numbers.
    ///
    /// # Errors
    ///
    /// A [`PolicyError`] on `preset` listing the known names.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_policies::Policy;
    /// let db = Policy::preset("database")?;
    /// assert_eq!(db.consecutive_failures(), 5);
    /// assert!(Policy::preset("mainframe").unwrap_err().reason().contains("\"lenient\""));
    /// # Ok::<(), fusebox_policies::PolicyError>(())
    /// ```
    pub fn preset(name: &str) -> Result<Policy, PolicyError> {
        presets::by_name(name)
    }

    /// The names [`preset`](Self::preset) accepts.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_policies::Policy;
    /// for name in Policy::preset_names() {
    ///     assert!(Policy::preset(name).is_ok());
    /// }
    /// ```
    #[must_use]
    pub fn preset_names() -> &'static [&'static str] {
        presets::NAMES
    }

    /// Checks every field, returning the first error in declaration order.
    ///
    /// The ranges that depend on another field are listed by [`limited_by`]; keep the two in
    /// step.
    fn validate(&self) -> Result<(), PolicyError> {
        match self.window {
            Window::Count { size } => {
                if size == 0 || size > MAX_COUNT_WINDOW {
                    return Err(PolicyError::new(
                        "window.count",
                        format!("must be in 1..={MAX_COUNT_WINDOW}, got {size}"),
                    ));
                }
                if self.min_calls > size {
                    return Err(PolicyError::new(
                        "min_calls",
                        format!(
                            "must be in 1..={size} (the count window's size), got {}",
                            self.min_calls
                        ),
                    ));
                }
            }
            Window::Time { span, buckets } => {
                if buckets == 0 || buckets > MAX_TIME_BUCKETS {
                    return Err(PolicyError::new(
                        "window.buckets",
                        format!("must be in 1..={MAX_TIME_BUCKETS}, got {buckets}"),
                    ));
                }
                check_duration("window.span", span, MIN_BUCKET_WIDTH * buckets)?;
            }
        }
        check_share("failure_rate_threshold", self.failure_rate_threshold)?;
        if self.min_calls == 0 {
            return Err(PolicyError::new("min_calls", "must be at least 1, got 0"));
        }
        if let Some(slow) = self.slow_calls {
            check_duration(
                "slow_calls.duration",
                slow.duration,
                Duration::from_nanos(1),
            )?;
            check_share("slow_calls.rate", slow.rate)?;
        }
        check_duration("open_timeout", self.open_timeout, Duration::from_nanos(1))?;
        if let Backoff::Exponential { factor, max } = self.backoff {
            if !factor.is_finite() || !(1.0..=MAX_BACKOFF_FACTOR).contains(&factor) {
                return Err(PolicyError::new(
                    "backoff.exponential",
                    format!("must be in [1, {MAX_BACKOFF_FACTOR}], got {factor}"),
                ));
            }
            check_duration("backoff.max", max, self.open_timeout)?;
        }
        if !self.jitter.is_finite() || !(0.0..1.0).contains(&self.jitter) {
            return Err(PolicyError::new(
                "jitter",
                format!("must be in [0, 1), got {}", self.jitter),
            ));
        }
        if self.half_open_permits == 0 || self.half_open_permits > MAX_HALF_OPEN_PERMITS {
            return Err(PolicyError::new(
                "half_open.permits",
                format!(
                    "must be in 1..={MAX_HALF_OPEN_PERMITS}, got {}",
                    self.half_open_permits
                ),
            ));
        }
        if self.success_threshold == 0 || self.success_threshold > self.half_open_permits {
            return Err(PolicyError::new(
                "half_open.successes",
                format!(
                    "must be in 1..={} (half_open.permits), got {}",
                    self.half_open_permits, self.success_threshold
                ),
            ));
        }
        match self.max_concurrent {
            Some(Concurrency::Static(m)) if m == 0 || m > MAX_CONCURRENT => {
                return Err(PolicyError::new(
                    "max_concurrent",
                    format!("must be in 1..={MAX_CONCURRENT}, got {m}"),
                ));
            }
            Some(Concurrency::Adaptive(limit)) => limit.validate()?,
            Some(Concurrency::Static(_)) | None => {}
        }
        if let Recovery::Ramp {
            duration,
            start_share,
        } = self.recovery
        {
            check_duration("recovery.ramp", duration, Duration::from_millis(1))?;
            check_share("recovery.start_share", start_share)?;
        }
        if let Some(limit) = self.rate_limit {
            check_duration("rate_limit.per", limit.per, Duration::from_nanos(1))?;
            // At most one call per nanosecond of `per`, so the emission interval is not 0.
            let most = u32::try_from(limit.per.as_nanos()).unwrap_or(u32::MAX);
            if limit.rate == 0 || limit.rate > most {
                return Err(PolicyError::new(
                    "rate_limit.rate",
                    format!(
                        "must be in 1..={most} (one call per nanosecond of rate_limit.per), got {}",
                        limit.rate
                    ),
                ));
            }
            if limit.burst == 0 {
                return Err(PolicyError::new(
                    "rate_limit.burst",
                    "must be at least 1, got 0",
                ));
            }
        }
        if let Some(timeout) = self.timeout {
            check_duration("timeout", timeout, Duration::from_nanos(1))?;
        }
        if let Some(retry) = self.retry {
            if retry.max_attempts == 0 {
                return Err(PolicyError::new(
                    "retry.max_attempts",
                    "must be at least 1, got 0",
                ));
            }
            check_duration("retry.base", retry.base, Duration::from_nanos(1))?;
            check_duration("retry.max", retry.max, retry.base)?;
            if !(0.0..=1.0).contains(&retry.budget) {
                return Err(PolicyError::new(
                    "retry.budget",
                    format!("must be in [0, 1], got {}", retry.budget),
                ));
            }
        }
        if let FleetMode::Quorum(n) = self.fleet {
            FleetMode::check_quorum(n).map_err(|why| PolicyError::new("fleet.quorum", why))?;
        }
        if let Some(chaos) = &self.chaos {
            chaos.validate()?;
        }
        Ok(())
    }
}

/// The other fields whose values set `field`'s accepted range, as [`Policy::validate`] checks
/// it: `min_calls` is at most `window.count`, `window.span` at least a bucket's minimum width
/// times `window.buckets`, `backoff.max` at least `open_timeout`, `half_open.successes` at
/// most `half_open.permits`, `rate_limit.rate` at most `rate_limit.per` in nanoseconds,
/// `retry.max` at least `retry.base`, `max_concurrent.max` at least `max_concurrent.min`,
/// `max_concurrent.initial` within both, `chaos.latency` is needed by a `chaos.latency_rate`
/// above 0, and `chaos` needs one of `chaos.fault_rate` and `chaos.latency_rate` above 0.
pub(crate) fn limited_by(field: &str) -> &'static [&'static str] {
    match field {
        "min_calls" => &["window.count"],
        "window.span" => &["window.buckets"],
        "backoff.max" => &["open_timeout"],
        "half_open.successes" => &["half_open.permits"],
        "rate_limit.rate" => &["rate_limit.per"],
        "max_concurrent.max" => &["max_concurrent.min"],
        "max_concurrent.initial" => &["max_concurrent.min", "max_concurrent.max"],
        "retry.max" => &["retry.base"],
        "chaos.latency" => &["chaos.latency_rate"],
        "chaos" => &["chaos.fault_rate", "chaos.latency_rate"],
        _ => &[],
    }
}

fn check_share(field: &'static str, value: f64) -> Result<(), PolicyError> {
    if value.is_finite() && value > 0.0 && value <= 1.0 {
        Ok(())
    } else {
        Err(PolicyError::new(
            field,
            format!("must be in (0, 1], got {value}"),
        ))
    }
}

fn check_duration(field: &'static str, value: Duration, min: Duration) -> Result<(), PolicyError> {
    if value < min || value > MAX_DURATION {
        Err(PolicyError::new(
            field,
            format!(
                "must be in [{}, {}], got {}",
                fmt_duration(min),
                fmt_duration(MAX_DURATION),
                fmt_duration(value)
            ),
        ))
    } else {
        Ok(())
    }
}

fn fmt_duration(d: Duration) -> String {
    humantime_serde::re::humantime::format_duration(d).to_string()
}

/// Builds a [`Policy`]; every setter takes plain values and [`build`](Self::build) validates.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fusebox_policies::{Policy, Recovery};
/// let p = Policy::builder()
///     .consecutive_failures(5)
///     .max_concurrent(64)
///     .recovery(Recovery::ramp(Duration::from_secs(30), 0.1))
///     .build()
///     .unwrap();
/// assert_eq!(p.max_concurrent(), Some(64));
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct PolicyBuilder {
    policy: Policy,
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty => $field:ident = $value:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $field: $ty) -> Self {
                self.policy.$field = $value;
                self
            }
        )*
    };
}

impl PolicyBuilder {
    setters! {
        /// The sliding window's shape (default: `Window::count(100)`).
        ///
        /// ```
        /// let p = fusebox_policies::Policy::builder()
        ///     .window(fusebox_policies::Window::count(10)).min_calls(10).build().unwrap();
        /// assert_eq!(p.window(), fusebox_policies::Window::count(10));
        /// ```
        window: Window => window = window;
        /// The failure rate in (0, 1] that opens the breaker (default 0.5).
        ///
        /// ```
        /// let p = fusebox_policies::Policy::builder().failure_rate_threshold(0.25).build().unwrap();
        /// assert_eq!(p.failure_rate_threshold(), 0.25);
        /// ```
        failure_rate_threshold: f64 => failure_rate_threshold = failure_rate_threshold;
        /// Outcomes the window must hold before rates are evaluated (default 20).
        ///
        /// ```
        /// let p = fusebox_policies::Policy::builder().min_calls(7).build().unwrap();
        /// assert_eq!(p.min_calls(), 7);
        /// ```
        min_calls: u32 => min_calls = min_calls;
        /// Failures in a row that open the breaker; 0 (the default) is off.
        ///
        /// ```
        /// let p = fusebox_policies::Policy::builder().consecutive_failures(3).build().unwrap();
        /// assert_eq!(p.consecutive_failures(), 3);
        /// ```
        consecutive_failures: u32 => consecutive_failures = consecutive_failures;
        /// The first open period (default 30 s).
        ///
        /// ```
        /// use std::time::Duration;
        /// let p = fusebox_policies::Policy::builder().open_timeout(Duration::from_secs(5)).build().unwrap();
        /// assert_eq!(p.open_timeout(), Duration::from_secs(5));
        /// ```
        open_timeout: Duration => open_timeout = open_timeout;
        /// How the open period grows on each re-open (default constant).
        ///
        /// ```
        /// use std::time::Duration;
        /// use fusebox_policies::Backoff;
        /// let p = fusebox_policies::Policy::builder()
        ///     .backoff(Backoff::exponential(2.0, Duration::from_secs(60))).build().unwrap();
        /// assert!(matches!(p.backoff(), Backoff::Exponential { .. }));
        /// ```
        backoff: Backoff => backoff = backoff;
        /// The share of the open period drawn at random around it, in [0, 1) (default 0).
        ///
        /// ```
        /// let p = fusebox_policies::Policy::builder().jitter(0.1).build().unwrap();
        /// assert_eq!(p.jitter(), 0.1);
        /// ```
        jitter: f64 => jitter = jitter;
        /// How many half-open probes may be in flight at once (default 5).
        ///
        /// ```
        /// let p = fusebox_policies::Policy::builder().half_open_permits(8).build().unwrap();
        /// assert_eq!(p.half_open_permits(), 8);
        /// ```
        half_open_permits: u32 => half_open_permits = half_open_permits;
        /// Probe successes that close a half-open breaker, ≤ `half_open_permits` (default 3).
        /// The TOML key and the field errors name is `half_open.successes`; the builder also
        /// takes it under that name, [`half_open_successes`](Self::half_open_successes).
        ///
        /// ```
        /// let p = fusebox_policies::Policy::builder().success_threshold(1).build().unwrap();
        /// assert_eq!(p.success_threshold(), 1);
        /// ```
        success_threshold: u32 => success_threshold = success_threshold;
        /// What happens after half-open closes (default immediate).
        ///
        /// ```
        /// use std::time::Duration;
        /// use fusebox_policies::Recovery;
        /// let p = fusebox_policies::Policy::builder()
        ///     .recovery(Recovery::ramp(Duration::from_secs(10), 0.5)).build().unwrap();
        /// assert!(matches!(p.recovery(), Recovery::Ramp { .. }));
        /// ```
        recovery: Recovery => recovery = recovery;
        /// Records each admitted call's duration, from acquire to record, in a latency
        /// histogram (default off).
        ///
        /// ```
        /// let p = fusebox_policies::Policy::builder().latency_histogram(true).build().unwrap();
        /// assert!(p.latency_histogram());
        /// ```
        latency_histogram: bool => latency_histogram = latency_histogram;
        /// What the breaker does when other instances of its fleet open it, once a fleet
        /// sync is connected (default [`FleetMode::Local`]: nothing). A quorum must be in
        /// 2..=1000.
        ///
        /// ```
        /// use fusebox_policies::{FleetMode, Policy};
        /// let p = Policy::builder().fleet(FleetMode::Follow).build().unwrap();
        /// assert_eq!(p.fleet(), FleetMode::Follow);
        /// let err = Policy::builder().fleet(FleetMode::Quorum(0)).build().unwrap_err();
        /// assert_eq!(err.to_string(), "fleet.quorum: must be in 2..=1000, got 0");
        /// ```
        fleet: FleetMode => fleet = fleet;
    }

    /// Calls lasting at least `duration` are slow; a slow rate ≥ `rate` opens the breaker.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = fusebox_policies::Policy::builder()
    ///     .slow_calls(Duration::from_millis(200), 0.5).build().unwrap();
    /// assert!(p.slow_calls().is_some());
    /// ```
    pub fn slow_calls(mut self, duration: Duration, rate: f64) -> Self {
        self.policy.slow_calls = Some(SlowCalls { duration, rate });
        self
    }

    /// Removes the slow-call rule.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = fusebox_policies::Policy::builder()
    ///     .slow_calls(Duration::from_millis(200), 0.5).no_slow_calls().build().unwrap();
    /// assert!(p.slow_calls().is_none());
    /// ```
    pub fn no_slow_calls(mut self) -> Self {
        self.policy.slow_calls = None;
        self
    }

    /// A static bulkhead: at most `max` permits alive at once (replacing an adaptive one).
    ///
    /// # Examples
    ///
    /// ```
    /// let p = fusebox_policies::Policy::builder().max_concurrent(16).build().unwrap();
    /// assert_eq!(p.max_concurrent(), Some(16));
    /// ```
    pub fn max_concurrent(mut self, max: u32) -> Self {
        self.policy.max_concurrent = Some(Concurrency::Static(max));
        self
    }

    /// An adaptive bulkhead: at most *limit* permits alive at once, the limit moved by
    /// `limit.algorithm` within `[limit.min, limit.max]` (replacing a static bulkhead).
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_policies::{AdaptiveLimit, LimitAlgorithm, Policy};
    /// let limit = AdaptiveLimit::new(LimitAlgorithm::Gradient2).with_min(8);
    /// let p = Policy::builder().max_concurrent(16).adaptive_limit(limit).build()?;
    /// assert_eq!((p.adaptive_limit(), p.max_concurrent()), (Some(limit), None));
    /// let err = Policy::builder().adaptive_limit(limit.with_initial(300)).build().unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "max_concurrent.initial: must be in 8..=200 (max_concurrent.min, max_concurrent.max), got 300"
    /// );
    /// # Ok::<(), fusebox_policies::PolicyError>(())
    /// ```
    pub fn adaptive_limit(mut self, limit: AdaptiveLimit) -> Self {
        self.policy.max_concurrent = Some(Concurrency::Adaptive(limit));
        self
    }

    /// Removes the bulkhead, static or adaptive (the default).
    ///
    /// # Examples
    ///
    /// ```
    /// let p = fusebox_policies::Policy::builder().max_concurrent(16).unlimited_concurrency().build().unwrap();
    /// assert_eq!(p.max_concurrent(), None);
    /// ```
    pub fn unlimited_concurrency(mut self) -> Self {
        self.policy.max_concurrent = None;
        self
    }

    /// A rate limit: on average at most `limit.rate()` calls per `limit.per()`, up to
    /// `limit.burst()` at once (default: none).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_policies::{Policy, RateLimit};
    /// let limit = RateLimit::new(50, Duration::from_secs(1), 10);
    /// let p = Policy::builder().rate_limit(limit).build().unwrap();
    /// assert_eq!(p.rate_limit(), Some(limit));
    /// ```
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.policy.rate_limit = Some(limit);
        self
    }

    /// Removes the rate limit (the default).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_policies::{Policy, RateLimit};
    /// let p = Policy::builder()
    ///     .rate_limit(RateLimit::new(50, Duration::from_secs(1), 10))
    ///     .no_rate_limit()
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(p.rate_limit(), None);
    /// ```
    pub fn no_rate_limit(mut self) -> Self {
        self.policy.rate_limit = None;
        self
    }

    /// A time limit on each attempt of a call (default: none). It must be more than zero and at
    /// most [`MAX_DURATION`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_policies::Policy;
    /// let p = Policy::builder().timeout(Duration::from_secs(2)).build().unwrap();
    /// assert_eq!(p.timeout(), Some(Duration::from_secs(2)));
    /// let err = Policy::builder().timeout(Duration::ZERO).build().unwrap_err();
    /// assert_eq!(err.to_string(), "timeout: must be in [1ns, 7days], got 0s");
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.policy.timeout = Some(timeout);
        self
    }

    /// Removes the time limit on attempts (the default).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_policies::Policy;
    /// let p = Policy::builder().timeout(Duration::from_secs(2)).no_timeout().build().unwrap();
    /// assert_eq!(p.timeout(), None);
    /// ```
    pub fn no_timeout(mut self) -> Self {
        self.policy.timeout = None;
        self
    }

    /// Retries of failed calls (default: none, one attempt per call).
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_policies::{Policy, Retry, RetryBackoff};
    /// let retry = Retry::new(3).with_backoff(RetryBackoff::FullJitter);
    /// let p = Policy::builder().retry(retry).build().unwrap();
    /// assert_eq!(p.retry(), Some(retry));
    /// ```
    pub fn retry(mut self, retry: Retry) -> Self {
        self.policy.retry = Some(retry);
        self
    }

    /// Removes retries (the default): one attempt per call.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_policies::{Policy, Retry};
    /// let p = Policy::builder().retry(Retry::new(3)).no_retry().build().unwrap();
    /// assert_eq!(p.retry(), None);
    /// ```
    pub fn no_retry(mut self) -> Self {
        self.policy.retry = None;
        self
    }

    /// Chaos: faults and latency injected into the calls a breaker runs, for an experiment
    /// (default: none). See [`Chaos`] for the ranges.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_policies::{Chaos, Policy};
    /// let chaos = Chaos::new().with_latency(Duration::from_millis(200), 0.05).with_seed(7);
    /// let p = Policy::builder().chaos(chaos).build()?;
    /// assert_eq!(p.chaos(), Some(&chaos));
    /// let err = Policy::builder().chaos(Chaos::new()).build().unwrap_err();
    /// assert_eq!(err.field(), "chaos");
    /// # Ok::<(), fusebox_policies::PolicyError>(())
    /// ```
    pub fn chaos(mut self, chaos: Chaos) -> Self {
        self.policy.chaos = Some(chaos);
        self
    }

    /// Removes chaos (the default).
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_policies::{Chaos, Policy};
    /// let p = Policy::builder().chaos(Chaos::new().with_fault_rate(0.1)).no_chaos().build()?;
    /// assert_eq!(p.chaos(), None);
    /// # Ok::<(), fusebox_policies::PolicyError>(())
    /// ```
    pub fn no_chaos(mut self) -> Self {
        self.policy.chaos = None;
        self
    }

    /// Validates every field and returns the policy.
    ///
    /// # Errors
    ///
    /// A [`PolicyError`] naming the first field out of range and the range it accepts.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = fusebox_policies::Policy::builder().half_open_permits(2).success_threshold(3).build();
    /// assert_eq!(
    ///     err.unwrap_err().to_string(),
    ///     "half_open.successes: must be in 1..=2 (half_open.permits), got 3"
    /// );
    /// ```
    pub fn build(self) -> Result<Policy, PolicyError> {
        self.policy.validate()?;
        Ok(self.policy)
    }
}

/// Why a policy was refused: the field path, the reason, and for files the position.
///
/// # Examples
///
/// ```
/// let err = fusebox_policies::Policy::builder().min_calls(0).build().unwrap_err();
/// assert_eq!(err.field(), "min_calls");
/// assert_eq!(err.reason(), "must be at least 1, got 0");
/// assert_eq!(err.position(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    field: String,
    reason: String,
    position: Option<(usize, usize)>,
}

impl PolicyError {
    /// Sets the position, if there is one.
    pub(crate) fn at_pos(mut self, position: Option<(usize, usize)>) -> Self {
        if position.is_some() {
            self.position = position;
        }
        self
    }

    /// An error on `field` (a dotted path such as `half_open.permits`).
    ///
    /// # Examples
    ///
    /// ```
    /// let e = fusebox_policies::PolicyError::new("jitter", "must be in [0, 1), got 2");
    /// assert_eq!(e.to_string(), "jitter: must be in [0, 1), got 2");
    /// ```
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        PolicyError {
            field: field.into(),
            reason: reason.into(),
            position: None,
        }
    }

    /// The same error at a 1-based line and column of a file.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = fusebox_policies::PolicyError::new("jitter", "must be in [0, 1), got 2").at(3, 10);
    /// assert_eq!(e.to_string(), "3:10: jitter: must be in [0, 1), got 2");
    /// ```
    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.position = Some((line, column));
        self
    }

    /// The dotted path of the field at fault.
    ///
    /// ```
    /// assert_eq!(fusebox_policies::PolicyError::new("a.b", "bad").field(), "a.b");
    /// ```
    pub fn field(&self) -> &str {
        &self.field
    }

    /// Why the value was refused, with the accepted range.
    ///
    /// ```
    /// assert_eq!(fusebox_policies::PolicyError::new("a", "bad").reason(), "bad");
    /// ```
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The 1-based `(line, column)` in the source file, if the policy came from one.
    ///
    /// ```
    /// assert_eq!(fusebox_policies::PolicyError::new("a", "bad").at(1, 2).position(), Some((1, 2)));
    /// ```
    pub fn position(&self) -> Option<(usize, usize)> {
        self.position
    }

    /// The other fields whose values set the range this error's field was checked against,
    /// e.g. `window.count` for `min_calls` (at most the count window's size); empty for a
    /// field whose range is fixed.
    ///
    /// A tool that reports several errors of one file by setting aside each value it has
    /// reported can use this to tell a genuine error from one judged against a value it set
    /// aside.
    ///
    /// ```
    /// use fusebox_policies::Policy;
    /// let err = Policy::from_toml("window = { count = 10 }\nmin_calls = 50").unwrap_err();
    /// assert_eq!(err.field(), "min_calls");
    /// assert_eq!(err.limited_by(), ["window.count"]);
    /// assert!(Policy::from_toml("jitter = 2.0").unwrap_err().limited_by().is_empty());
    /// ```
    #[must_use]
    pub fn limited_by(&self) -> &'static [&'static str] {
        limited_by(&self.field)
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((line, column)) = self.position {
            write!(f, "{line}:{column}: ")?;
        }
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for PolicyError {}

/// The half-open settings by the names the TOML schema gives them (`half_open = { permits,
/// successes }`): `half_open_successes` is `success_threshold` under its file name.
impl Policy {
    /// Probe successes that close a half-open breaker: the TOML key `half_open.successes`, the
    /// same value as [`success_threshold`](Self::success_threshold).
    ///
    /// ```
    /// let p = fusebox_policies::Policy::default();
    /// assert_eq!(p.half_open_successes(), p.success_threshold());
    /// ```
    pub fn half_open_successes(&self) -> u32 {
        self.success_threshold
    }
}

impl PolicyBuilder {
    /// Probe successes that close a half-open breaker: the TOML key `half_open.successes`, and
    /// the same setting as [`success_threshold`](Self::success_threshold). Errors about it name
    /// the field `half_open.successes`.
    ///
    /// ```
    /// let p = fusebox_policies::Policy::builder().half_open_successes(2).build().unwrap();
    /// assert_eq!(p.success_threshold(), 2);
    /// ```
    pub fn half_open_successes(self, successes: u32) -> Self {
        self.success_threshold(successes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(b: PolicyBuilder) -> String {
        b.build().unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Policy::builder().build().unwrap(), Policy::default());
    }

    #[test]
    fn latency_histogram_is_off_by_default_and_set_by_the_builder() {
        assert!(!Policy::default().latency_histogram());
        assert!(!Policy::builder().build().unwrap().latency_histogram());
        let on = Policy::builder().latency_histogram(true).build().unwrap();
        assert!(on.latency_histogram());
        let off = on.to_builder().latency_histogram(false).build().unwrap();
        assert_eq!(off, Policy::default());
    }

    #[test]
    fn rate_limit_is_off_by_default_and_set_by_the_builder() {
        assert_eq!(Policy::default().rate_limit(), None);
        let limit = RateLimit::new(100, Duration::from_secs(1), 20);
        let on = Policy::builder().rate_limit(limit).build().unwrap();
        assert_eq!(on.rate_limit(), Some(limit));
        assert_eq!(limit.emission_interval(), Duration::from_millis(10));
        let off = on.to_builder().no_rate_limit().build().unwrap();
        assert_eq!(off, Policy::default());
        // Edges: one call per nanosecond, and the longest period.
        let fastest = RateLimit::new(1_000_000_000, Duration::from_secs(1), u32::MAX);
        assert_eq!(fastest.emission_interval(), Duration::from_nanos(1));
        assert!(Policy::builder().rate_limit(fastest).build().is_ok());
        let slowest = RateLimit::new(1, MAX_DURATION, 1);
        assert_eq!(slowest.emission_interval(), MAX_DURATION);
        assert!(Policy::builder().rate_limit(slowest).build().is_ok());
        let most = RateLimit::new(u32::MAX, MAX_DURATION, 1);
        assert!(Policy::builder().rate_limit(most).build().is_ok());
        assert_eq!(
            RateLimit::new(0, Duration::from_secs(1), 1).emission_interval(),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn fleet_is_local_by_default_and_set_by_the_builder() {
        assert_eq!(Policy::default().fleet(), FleetMode::Local);
        for mode in [
            FleetMode::Follow,
            FleetMode::Quorum(2),
            FleetMode::Quorum(1000),
        ] {
            let p = Policy::builder().fleet(mode).build().unwrap();
            assert_eq!(p.fleet(), mode);
            let back = p.to_builder().fleet(FleetMode::Local).build();
            assert_eq!(back, Ok(Policy::default()));
        }
    }

    #[test]
    fn timeout_is_off_by_default_and_set_by_the_builder() {
        assert_eq!(Policy::default().timeout(), None);
        let on = Policy::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        assert_eq!(on.timeout(), Some(Duration::from_secs(2)));
        assert_eq!(on.to_builder().no_timeout().build(), Ok(Policy::default()));
        for edge in [Duration::from_nanos(1), MAX_DURATION] {
            let p = Policy::builder().timeout(edge).build().unwrap();
            assert_eq!(p.timeout(), Some(edge));
        }
    }

    #[test]
    fn retry_is_off_by_default_and_set_by_the_builder() {
        assert_eq!(Policy::default().retry(), None);
        let r = Retry::new(3);
        assert_eq!(
            (r.max_attempts(), r.backoff(), r.base(), r.max(), r.budget()),
            (
                3,
                RetryBackoff::Exponential,
                RETRY_BASE_DEFAULT,
                RETRY_MAX_DEFAULT,
                RETRY_BUDGET_DEFAULT
            )
        );
        let custom = r
            .with_backoff(RetryBackoff::Decorrelated)
            .with_base(Duration::from_millis(10))
            .with_max(Duration::from_secs(1))
            .with_budget(0.0);
        assert_eq!(
            (
                custom.backoff(),
                custom.base(),
                custom.max(),
                custom.budget()
            ),
            (
                RetryBackoff::Decorrelated,
                Duration::from_millis(10),
                Duration::from_secs(1),
                0.0
            )
        );
        let on = Policy::builder().retry(custom).build().unwrap();
        assert_eq!(on.retry(), Some(custom));
        assert_eq!(on.to_builder().no_retry().build(), Ok(Policy::default()));
        // Edges: one attempt, a budget of 0 or 1, max equal to base.
        for edge in [
            Retry::new(1),
            Retry::new(u32::MAX),
            Retry::new(2).with_budget(0.0),
            Retry::new(2).with_budget(1.0),
            Retry::new(2)
                .with_base(Duration::from_nanos(1))
                .with_max(Duration::from_nanos(1)),
            Retry::new(2).with_base(MAX_DURATION).with_max(MAX_DURATION),
        ] {
            assert_eq!(
                Policy::builder().retry(edge).build().map(|p| p.retry()),
                Ok(Some(edge))
            );
        }
        for (name, backoff) in RetryBackoff::NAMED {
            assert_eq!(backoff.name(), name);
            assert_eq!(RetryBackoff::from_name(name), Some(backoff));
        }
        assert_eq!(RetryBackoff::from_name("linear"), None);
    }

    #[test]
    fn retry_delays_follow_the_schedules_and_saturate() {
        let ms = Duration::from_millis;
        let r = Retry::new(10).with_base(ms(100)).with_max(ms(1000));
        let constant = r.with_backoff(RetryBackoff::Constant);
        let exponential = r.with_backoff(RetryBackoff::Exponential);
        let full = r.with_backoff(RetryBackoff::FullJitter);
        let decorrelated = r.with_backoff(RetryBackoff::Decorrelated);
        for attempt in [0, 1, 2, 5, 1000, u32::MAX] {
            assert_eq!(constant.delay(attempt, ms(500), 0.7), ms(100));
        }
        assert_eq!(exponential.delay(0, ms(0), 0.0), ms(100));
        assert_eq!(exponential.delay(2, ms(0), 0.0), ms(200));
        assert_eq!(exponential.delay(4, ms(0), 0.9), ms(800));
        assert_eq!(exponential.delay(5, ms(0), 0.0), ms(1000));
        assert_eq!(full.delay(4, ms(0), 0.0), ms(0));
        assert_eq!(full.delay(4, ms(0), 0.25), ms(200));
        assert_eq!(full.delay(4, ms(0), 1.0), ms(800));
        // The first decorrelated retry starts from `base`, whatever `previous` says.
        assert_eq!(decorrelated.delay(1, ms(900), 0.0), ms(100));
        assert_eq!(decorrelated.delay(1, ms(900), 0.5), ms(200));
        assert_eq!(decorrelated.delay(2, ms(200), 0.5), ms(350));
        assert_eq!(decorrelated.delay(2, ms(900), 0.9), ms(1000));
        // A previous wait shorter than base still waits base.
        assert_eq!(decorrelated.delay(3, ms(0), 0.5), ms(100));
        // Out-of-range randoms are clamped, NaN is 0.
        assert_eq!(full.delay(4, ms(0), -1.0), ms(0));
        assert_eq!(full.delay(4, ms(0), 7.0), ms(800));
        assert_eq!(full.delay(4, ms(0), f64::NAN), ms(0));
        // Unchecked retries saturate rather than overflow or panic.
        let huge = Retry::new(2)
            .with_base(Duration::MAX)
            .with_max(Duration::MAX);
        for backoff in RetryBackoff::NAMED.map(|(_, b)| b) {
            let h = huge.with_backoff(backoff);
            for attempt in [0, 1, 2, 64, 1000, u32::MAX] {
                assert!(h.delay(attempt, Duration::MAX, 0.999_999) <= Duration::MAX);
            }
        }
        let inverted = Retry::new(2).with_base(ms(10)).with_max(ms(5));
        for backoff in RetryBackoff::NAMED.map(|(_, b)| b) {
            let _ = inverted.with_backoff(backoff).delay(3, ms(1), 0.5);
        }
        let zero = Retry::new(2)
            .with_base(Duration::ZERO)
            .with_max(Duration::ZERO);
        for backoff in RetryBackoff::NAMED.map(|(_, b)| b) {
            assert_eq!(
                zero.with_backoff(backoff).delay(9, ms(1), 0.5),
                Duration::ZERO
            );
        }
    }

    #[test]
    fn every_field_is_range_checked() {
        let b = Policy::builder;
        let cases = [
            (
                b().window(Window::count(0)),
                "window.count: must be in 1..=1048576, got 0",
            ),
            (
                b().window(Window::count(10)),
                "min_calls: must be in 1..=10 (the count window's size), got 20",
            ),
            (
                b().window(Window::time(Duration::from_secs(1), 0)),
                "window.buckets: must be in 1..=1024, got 0",
            ),
            (
                b().window(Window::time(Duration::from_millis(5), 10)),
                "window.span: must be in [10ms, 7days], got 5ms",
            ),
            (
                b().failure_rate_threshold(0.0),
                "failure_rate_threshold: must be in (0, 1], got 0",
            ),
            (
                b().failure_rate_threshold(f64::NAN),
                "failure_rate_threshold: must be in (0, 1], got NaN",
            ),
            (b().min_calls(0), "min_calls: must be at least 1, got 0"),
            (
                b().slow_calls(Duration::ZERO, 0.5),
                "slow_calls.duration: must be in [1ns, 7days], got 0s",
            ),
            (
                b().slow_calls(Duration::from_secs(1), 1.5),
                "slow_calls.rate: must be in (0, 1], got 1.5",
            ),
            (
                b().open_timeout(Duration::ZERO),
                "open_timeout: must be in [1ns, 7days], got 0s",
            ),
            (
                b().backoff(Backoff::exponential(0.5, Duration::from_secs(60))),
                "backoff.exponential: must be in [1, 1000], got 0.5",
            ),
            (
                b().backoff(Backoff::exponential(2.0, Duration::from_secs(1))),
                "backoff.max: must be in [30s, 7days], got 1s",
            ),
            (b().jitter(1.0), "jitter: must be in [0, 1), got 1"),
            (b().jitter(-0.1), "jitter: must be in [0, 1), got -0.1"),
            (
                b().half_open_permits(0),
                "half_open.permits: must be in 1..=10000, got 0",
            ),
            (
                b().success_threshold(0),
                "half_open.successes: must be in 1..=5 (half_open.permits), got 0",
            ),
            (
                b().max_concurrent(0),
                "max_concurrent: must be in 1..=16777216, got 0",
            ),
            (
                b().adaptive_limit(AdaptiveLimit::new(LimitAlgorithm::Aimd).with_min(0)),
                "max_concurrent.min: must be in 1..=16777216, got 0",
            ),
            (
                b().adaptive_limit(AdaptiveLimit::new(LimitAlgorithm::Aimd).with_max(3)),
                "max_concurrent.max: must be in 4..=16777216 (max_concurrent.min), got 3",
            ),
            (
                b().adaptive_limit(
                    AdaptiveLimit::new(LimitAlgorithm::Vegas).with_max(MAX_CONCURRENT + 1),
                ),
                "max_concurrent.max: must be in 4..=16777216 (max_concurrent.min), got 16777217",
            ),
            (
                b().adaptive_limit(AdaptiveLimit::new(LimitAlgorithm::Gradient2).with_initial(2)),
                "max_concurrent.initial: must be in 4..=200 (max_concurrent.min, \
                 max_concurrent.max), got 2",
            ),
            (
                b().recovery(Recovery::ramp(Duration::from_secs(1), 0.0)),
                "recovery.start_share: must be in (0, 1], got 0",
            ),
            (
                b().recovery(Recovery::ramp(Duration::ZERO, 0.5)),
                "recovery.ramp: must be in [1ms, 7days], got 0s",
            ),
            (
                b().rate_limit(RateLimit::new(0, Duration::from_secs(1), 1)),
                "rate_limit.rate: must be in 1..=1000000000 (one call per nanosecond of \
                 rate_limit.per), got 0",
            ),
            (
                b().rate_limit(RateLimit::new(11, Duration::from_nanos(10), 1)),
                "rate_limit.rate: must be in 1..=10 (one call per nanosecond of rate_limit.per), \
                 got 11",
            ),
            (
                b().rate_limit(RateLimit::new(1, Duration::ZERO, 1)),
                "rate_limit.per: must be in [1ns, 7days], got 0s",
            ),
            (
                b().rate_limit(RateLimit::new(1, MAX_DURATION + Duration::from_nanos(1), 1)),
                "rate_limit.per: must be in [1ns, 7days], got 7days 1ns",
            ),
            (
                b().rate_limit(RateLimit::new(10, Duration::from_secs(1), 0)),
                "rate_limit.burst: must be at least 1, got 0",
            ),
            (
                b().timeout(Duration::ZERO),
                "timeout: must be in [1ns, 7days], got 0s",
            ),
            (
                b().timeout(MAX_DURATION + Duration::from_secs(1)),
                "timeout: must be in [1ns, 7days], got 7days 1s",
            ),
            (
                b().retry(Retry::new(0)),
                "retry.max_attempts: must be at least 1, got 0",
            ),
            (
                b().retry(Retry::new(3).with_base(Duration::ZERO)),
                "retry.base: must be in [1ns, 7days], got 0s",
            ),
            (
                b().retry(Retry::new(3).with_base(MAX_DURATION * 2)),
                "retry.base: must be in [1ns, 7days], got 14days",
            ),
            (
                b().retry(Retry::new(3).with_max(Duration::from_millis(10))),
                "retry.max: must be in [50ms, 7days], got 10ms",
            ),
            (
                b().retry(Retry::new(3).with_budget(-0.1)),
                "retry.budget: must be in [0, 1], got -0.1",
            ),
            (
                b().retry(Retry::new(3).with_budget(1.5)),
                "retry.budget: must be in [0, 1], got 1.5",
            ),
            (
                b().retry(Retry::new(3).with_budget(f64::NAN)),
                "retry.budget: must be in [0, 1], got NaN",
            ),
            (
                b().retry(Retry::new(3).with_budget(f64::INFINITY)),
                "retry.budget: must be in [0, 1], got inf",
            ),
            (
                b().fleet(FleetMode::Quorum(0)),
                "fleet.quorum: must be in 2..=1000, got 0",
            ),
            (
                b().fleet(FleetMode::Quorum(1)),
                "fleet.quorum: must be in 2..=1000, got 1; a quorum of one instance is \
                 fleet = \"follow\"",
            ),
            (
                b().fleet(FleetMode::Quorum(1001)),
                "fleet.quorum: must be in 2..=1000, got 1001",
            ),
        ];
        for (builder, expected) in cases {
            assert_eq!(err(builder), expected);
        }
    }

    #[test]
    fn limited_by_lists_every_range_set_by_another_field() {
        let b = Policy::builder;
        let ms = Duration::from_millis;
        // A valid policy, then the same with only the limiting field changed, which makes the
        // limited field's value invalid.
        let cases = [
            (
                b().window(Window::count(20)).min_calls(20),
                b().window(Window::count(19)).min_calls(20),
                "min_calls",
                "window.count",
            ),
            (
                b().window(Window::time(ms(10), 10)),
                b().window(Window::time(ms(10), 11)),
                "window.span",
                "window.buckets",
            ),
            (
                b().open_timeout(ms(60_000))
                    .backoff(Backoff::exponential(2.0, ms(60_000))),
                b().open_timeout(ms(60_001))
                    .backoff(Backoff::exponential(2.0, ms(60_000))),
                "backoff.max",
                "open_timeout",
            ),
            (
                b().half_open_permits(3).success_threshold(3),
                b().half_open_permits(2).success_threshold(3),
                "half_open.successes",
                "half_open.permits",
            ),
            (
                b().retry(Retry::new(3).with_base(ms(100)).with_max(ms(100))),
                b().retry(Retry::new(3).with_base(ms(101)).with_max(ms(100))),
                "retry.max",
                "retry.base",
            ),
            (
                b().rate_limit(RateLimit::new(1000, ms(1), 1)),
                b().rate_limit(RateLimit::new(1000, Duration::from_nanos(999), 1)),
                "rate_limit.rate",
                "rate_limit.per",
            ),
        ];
        for (ok, bad, field, limit) in cases {
            assert!(ok.build().is_ok(), "{field}");
            let err = bad.build().unwrap_err();
            assert_eq!(err.field(), field);
            assert_eq!(err.limited_by(), [limit], "{field}");
        }
        let adaptive = AdaptiveLimit::new(LimitAlgorithm::Aimd);
        assert!(b().adaptive_limit(adaptive.with_min(20)).build().is_ok());
        let err = b()
            .adaptive_limit(adaptive.with_min(21))
            .build()
            .unwrap_err();
        assert_eq!(err.field(), "max_concurrent.initial");
        assert_eq!(
            err.limited_by(),
            ["max_concurrent.min", "max_concurrent.max"]
        );
        let err = b()
            .adaptive_limit(adaptive.with_min(201).with_initial(201))
            .build()
            .unwrap_err();
        assert_eq!(err.field(), "max_concurrent.max");
        assert_eq!(err.limited_by(), ["max_concurrent.min"]);
        assert!(b().jitter(2.0).build().unwrap_err().limited_by().is_empty());
    }

    #[test]
    fn exponential_backoff_caps_and_never_overflows() {
        let b = Backoff::exponential(2.0, Duration::from_secs(60));
        assert_eq!(
            b.period(Duration::from_secs(10), 1),
            Duration::from_secs(20)
        );
        assert_eq!(
            b.period(Duration::from_secs(10), 3),
            Duration::from_secs(60)
        );
        assert_eq!(
            b.period(Duration::from_secs(10), u32::MAX),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn serde_round_trip_goes_through_validation() {
        let p = Policy::builder()
            .slow_calls(Duration::from_millis(500), 0.8)
            .backoff(Backoff::exponential(2.0, Duration::from_secs(300)))
            .adaptive_limit(AdaptiveLimit::new(LimitAlgorithm::Vegas).with_max(64))
            .recovery(Recovery::ramp(Duration::from_secs(30), 0.1))
            .latency_histogram(true)
            .rate_limit(RateLimit::new(100, Duration::from_secs(1), 20))
            .timeout(Duration::from_secs(2))
            .retry(Retry::new(3).with_backoff(RetryBackoff::FullJitter))
            .build()
            .unwrap();
        let repr = repr::PolicyRepr::from(p.clone());
        assert_eq!(Policy::try_from(repr).unwrap(), p);
        let mut bad = repr::PolicyRepr::from(p);
        bad.jitter = Some(3.0);
        assert_eq!(
            Policy::try_from(bad).unwrap_err().to_string(),
            "jitter: must be in [0, 1), got 3"
        );
    }
}
