//! The breaker: admission, recording, transitions, manual control and policy swap.
//!
//! # Synchronization
//!
//! - **State word** (`Hot::state`): changed only by `compare_exchange` from a loaded value to one
//!   computed by [`StateWord`]'s pure functions. Successful exchanges are `AcqRel`; loads that
//!   act on the word are `Acquire`. Each change publishes what was written before it: the
//!   cleared window when leaving `HalfOpen`, the store pointer, the counters reset by `reset`.
//! - **Open deadline** (`open_until`, `open_epoch`): written by the thread whose exchange entered
//!   `Open`, *after* the exchange: `open_until` (`Relaxed`), then `open_epoch` (`Release`). A
//!   reader that sees `Open` of epoch `e` trusts `open_until` only once it `Acquire`-loads
//!   `open_epoch == e`; until then it rejects without a deadline. Writing first and exchanging
//!   second would let a thread stalled across several transitions overwrite a newer deadline;
//!   writing second could too, so the writes are made under `publish_lock`, and only if the
//!   word is still in the episode (`Inner::publish_episode`): publications land in episode
//!   order and a superseded one is dropped.
//!   When the timer thread will watch the deadline, the same thread then marks the word
//!   `timed` with an exchange (`AcqRel`): a reader that `Acquire`-loads a timed `Open` word has
//!   its deadline (or a later episode's, if the word has moved on since) without loading
//!   `open_epoch`, so the common rejection decides from the state word alone.
//! - **Ramp start** (`ramp_start`, `ramp_epoch`): the same protocol for `Recovering`.
//! - **Window pointer** (`Hot::window`): `Release`-stored after the new store is cleared and
//!   `Acquire`-loaded by recorders. Stores are never freed before the breaker.
//! - **Counters** (`Busy`): `Relaxed` read-modify-writes, except where a comment says why;
//!   rejections and failures are per-thread lanes bumped with plain stores (counter.rs). Exact
//!   once threads are quiet, read without a snapshot while they run.
//! - **Policy**: the `ArcSwap` holds the whole policy for readers of `policy()`; the hot values
//!   are copied into atomics under `config_lock` inside a seqlock (`config_seq`). A reader that
//!   needs more than one value takes them all through `Inner::config`, which retries until it
//!   has read them between two equal, even sequence numbers: every decision uses one policy.
//!   The closed-success fast path reads only `flags`, a single value.

use std::fmt;
use std::future::Future;
use std::sync::Weak;
use std::time::Duration;

use arc_swap::ArcSwap;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use crossbeam_utils::CachePadded;
use fusebox_policies::{Policy, Recovery};

use crate::clock::{Clock, ClockSource, duration_nanos};
use crate::counter::LaneCounter;
use crate::error::{CallError, Name, Outcome, RejectReason, Rejected, RetryAfter, Transition};
use crate::state::{AcquireDecision, ProbeEnd, State, StateWord, TransitionReason};
use crate::stripes::Stripes;
use crate::sync::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Mutex, Ordering, fence, lock};
use crate::window::{CountWindow, Tally, WindowStore};

/// The recovery ramp's share is counted in billionths.
const RAMP_SCALE: u128 = 1_000_000_000;

/// The start time of a permit acquired while no slow-call rule was set: never slow.
const NOT_TIMED: u64 = u64::MAX;

/// How many transitions a subscriber may fall behind before new ones are dropped for it.
pub const SUBSCRIBER_CAPACITY: usize = 1024;

const F_SLOW: u32 = 1;
const F_CONSECUTIVE: u32 = 1 << 1;
const F_BULKHEAD: u32 = 1 << 2;
const F_RAMP: u32 = 1 << 3;
/// Set by a policy swap: the next outcome is judged even if it changes no count.
const F_REEVALUATE: u32 = 1 << 4;
/// A striped breaker whose policy can be striped: outcomes go to the thread's stripe.
const F_STRIPED: u32 = 1 << 5;

/// One consistent reading of the hot configuration (see [`Inner::config`]).
#[derive(Clone, Copy)]
struct Config {
    flags: u32,
    min_calls: u32,
    consecutive: u32,
    success_threshold: u32,
    failure_threshold: f64,
    /// For a count window: its size and the failures that trip it when full (see `TRIP_*`).
    trip_full: u64,
    slow_threshold: f64,
    slow_nanos: u64,
}

/// Whether a window with tally `t` trips a breaker under `config`, and why.
fn judge(t: Tally, config: &Config) -> Option<TransitionReason> {
    if t.calls < config.min_calls || t.calls == 0 {
        return None;
    }
    let calls = t.calls as f64;
    // Division, not multiplication: `f / n >= threshold` rounds the rate exactly as the
    // threshold's decimal was rounded, so 7 failures in 10 calls meet a 0.7 threshold.
    // A full count window compares with the count worked out the same way beforehand.
    let failing = if t.calls as u64 == config.trip_full >> 32 {
        t.failures as u64 >= config.trip_full & u64::from(u32::MAX)
    } else {
        t.failures > 0 && t.failures as f64 / calls >= config.failure_threshold
    };
    if failing {
        Some(TransitionReason::FailureRate)
    } else if config.flags & F_SLOW != 0
        && t.slow > 0
        && t.slow as f64 / calls >= config.slow_threshold
    {
        Some(TransitionReason::SlowCallRate)
    } else {
        None
    }
}

/// Read-mostly: everything an admission or a success reads, on one cache line.
struct Hot {
    state: AtomicU64,
    /// Seqlock over the configuration values below: odd while a swap writes them.
    config_seq: AtomicU32,
    /// `F_*` bits: which optional rules are on.
    flags: AtomicU32,
    min_calls: AtomicU32,
    consecutive: AtomicU32,
    half_open_permits: AtomicU32,
    success_threshold: AtomicU32,
    max_concurrent: AtomicU32,
    failure_threshold: AtomicU64,
    /// `size << 32 | failures`: a full count window of `size` trips at `failures`, the least
    /// count whose rate meets the threshold, worked out once per policy so that judging a full
    /// window compares integers (a division costs ~15 cycles on the path to the next call).
    /// 0 for a time window.
    trip_full: AtomicU64,
    slow_threshold: AtomicU64,
    slow_nanos: AtomicU64,
    window: AtomicPtr<WindowStore>,
    open_until: AtomicU64,
    open_epoch: AtomicU32,
    ramp_start: AtomicU64,
    ramp_epoch: AtomicU32,
    /// A striped breaker's stripes (see stripes.rs); `None` for a breaker made otherwise.
    stripes: Option<Box<Stripes>>,
}

/// Written on every call: the window cursor and the counters, on a line of their own.
struct Busy {
    /// Rejections: bumped with plain stores, one word per thread (see counter.rs).
    rejected: LaneCounter,
    /// Outcomes recorded into the current count window since it was last cleared.
    cursor: AtomicU64,
    /// Outcomes recorded into count windows before their last clear.
    cursor_base: AtomicU64,
    /// Successes and failures not counted by the cursor (probes, time windows, other states).
    other_recorded: AtomicU64,
    /// Failures: bumped like rejections, with plain stores (see counter.rs).
    failures: LaneCounter,
    ignored: AtomicU64,
    slow: AtomicU64,
    consecutive_failures: AtomicU32,
    permits_out: AtomicU32,
    ramp_counter: AtomicU64,
    /// Jitter's random state.
    rng: AtomicU64,
    /// Someone called `subscribe`: transitions are worth building.
    has_subscribers: AtomicBool,
}

struct Cold {
    name: std::sync::Arc<str>,
    short_name: Name,
    clock: ClockSource,
    policy: ArcSwap<Policy>,
    /// The window store the breaker was made with; `Hot::window` points to it or into
    /// `Extras::stores`.
    store: std::sync::Arc<WindowStore>,
    config_lock: Mutex<()>,
    /// Orders the publication of episodes' values (see [`Inner::publish_episode`]); taken
    /// after `config_lock` when both are held.
    publish_lock: Mutex<()>,
    /// When the current `Open` episode started (clock ns): a policy swap that shortens the
    /// open period measures the new period from it. Written with `open_until`, under
    /// `publish_lock`, and read under it.
    open_since: AtomicU64,
    /// What most breakers never use, allocated on first use (see [`Extras`]).
    extras: std::sync::OnceLock<Box<Extras>>,
    /// This breaker, for the timer thread, which must not keep it alive.
    me: Weak<Inner>,
}

/// Parts of a breaker that only a policy swap to another window shape or a subscriber needs: kept out of the breaker's own allocation, which they would grow by
/// a cache line.
#[derive(Default)]
struct Extras {
    /// Window stores of the shapes swapped in; never removed before the breaker is dropped.
    stores: Mutex<Vec<std::sync::Arc<WindowStore>>>,
    subscribers: Mutex<Vec<Sender<Transition>>>,
}

pub(crate) struct Inner {
    hot: CachePadded<Hot>,
    busy: CachePadded<Busy>,
    cold: Cold,
}

/// A named circuit breaker: one atomic state word and a sliding window.
///
/// `Breaker` is a handle: one pointer, `Clone + Send + Sync + 'static`. Clones share one
/// breaker (cloning costs a reference-count increment), so a handle can move into spawned
/// tasks and futures; the breaker lives until its last handle (or permit) is dropped.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fusebox_engine::{Breaker, CallError, ManualClock, Policy, State, Window};
///
/// let clock = ManualClock::new();
/// let policy = Policy::builder()
///     .window(Window::count(10))
///     .min_calls(5)
///     .open_timeout(Duration::from_secs(5))
///     .build()?;
/// let breaker = Breaker::with_clock("inventory", policy, clock.clone());
/// for _ in 0..5 {
///     let _ = breaker.call(|| Err::<(), _>("timeout"));
/// }
/// assert_eq!(breaker.state(), State::Open);
/// assert!(matches!(breaker.call(|| Ok::<_, ()>(1)), Err(CallError::Rejected(_))));
/// # Ok::<(), fusebox_engine::PolicyError>(())
/// ```
#[derive(Clone)]
pub struct Breaker {
    inner: std::sync::Arc<Inner>,
}

/// Options for a [`Breaker`]: its clock, striping and memory layout.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, ManualClock, Policy};
/// let clock = ManualClock::new();
/// let b = Breaker::builder("tenant-42", Policy::default())
///     .clock(clock.clone())
///     .striped()
///     .build();
/// assert!(b.is_striped());
/// assert_eq!(b.name(), "tenant-42");
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct BreakerBuilder {
    name: std::sync::Arc<str>,
    policy: Policy,
    clock: ClockSource,
    striped: bool,
}

impl BreakerBuilder {
    /// Runs the breaker on `clock` (default: the process-wide [`QuantaClock`](crate::QuantaClock)).
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let clock = ManualClock::new();
    /// let b = Breaker::builder("db", Policy::default()).clock(clock.clone()).build();
    /// clock.advance(std::time::Duration::from_secs(3));
    /// assert_eq!(b.now().as_secs(), 3);
    /// ```
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = ClockSource::from_clock(clock);
        self
    }

    /// Makes the breaker striped: see [`Breaker::striped`].
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// assert!(Breaker::builder("hot", Policy::default()).striped().build().is_striped());
    /// ```
    pub fn striped(mut self) -> Self {
        self.striped = true;
        self
    }

    /// The breaker.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::builder("db", Policy::default()).build();
    /// assert_eq!(b.state(), State::Closed);
    /// ```
    pub fn build(self) -> Breaker {
        Breaker::build(self.name, self.policy, self.clock, self.striped)
    }
}

impl fmt::Debug for BreakerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerBuilder")
            .field("name", &self.name)
            .field("clock", &self.clock)
            .field("striped", &self.striped)
            .finish_non_exhaustive()
    }
}

/// The right to make one call through a breaker; report how it went by consuming it.
///
/// Dropping a permit without recording counts as [`Outcome::Ignored`] (or as a failure while
/// the thread is panicking), so a permit always gives back its half-open and bulkhead slots.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, ManualClock, Outcome, Policy};
/// let breaker = Breaker::with_clock("api", Policy::default(), ManualClock::new());
/// let permit = breaker.try_acquire().expect("closed");
/// permit.record(Outcome::Success);
/// assert_eq!(breaker.metrics().successes, 1);
/// ```
#[must_use = "a permit records `Ignored` if dropped; call success(), failure() or record()"]
pub struct Permit<'a> {
    inner: &'a Inner,
    kind: PermitKind,
    epoch: u32,
    bulkhead: bool,
    start: u64,
}

/// A [`Permit`] that owns a handle of its breaker: `Send + 'static`, so it can move into a
/// spawned task or a response future and outlive the borrow it was acquired through.
///
/// Same methods and drop rule as [`Permit`]: dropping it unrecorded counts as
/// [`Outcome::Ignored`] (a failure while the thread is panicking) and gives back its
/// half-open and bulkhead slots. It keeps the breaker alive until it is recorded or dropped.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, ManualClock, Policy};
/// let breaker = Breaker::with_clock("api", Policy::default(), ManualClock::new());
/// let permit = breaker.try_acquire_owned().expect("closed");
/// std::thread::spawn(move || permit.success()).join().unwrap();
/// assert_eq!(breaker.metrics().successes, 1);
/// ```
#[must_use = "a permit records `Ignored` if dropped; call success(), failure() or record()"]
pub struct OwnedPermit {
    breaker: Breaker,
    kind: PermitKind,
    epoch: u32,
    bulkhead: bool,
    start: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PermitKind {
    /// Admitted in `Closed`, `Recovering` or `MetricsOnly`: recorded into the window.
    Normal,
    /// A half-open probe of the epoch it carries.
    Probe,
    /// Admitted while `Disabled`: records nothing.
    Passthrough,
}

/// A breaker's lifetime counters: calls since the breaker was created.
///
/// The counters are monotonic: [`Breaker::reset`] empties the window but never the counters,
/// so a counter exported to a monitoring system never goes backwards. `admitted` counts
/// permits that have reported (recorded, ignored or dropped):
/// `admitted = successes + failures + ignored`. While threads are calling, the fields are read
/// one by one, not as a snapshot; each is exact once the threads are quiet.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, Counters, ManualClock, Policy};
/// let breaker = Breaker::with_clock("svc", Policy::default(), ManualClock::new());
/// let _ = breaker.call(|| Ok::<_, ()>(()));
/// breaker.reset();
/// let c: Counters = breaker.metrics().counters;
/// assert_eq!((c.admitted, c.successes), (1, 1)); // a reset keeps the counts
/// ```
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(default, deny_unknown_fields)]
pub struct Counters {
    /// Admitted calls that have reported: `successes + failures + ignored`.
    pub admitted: u64,
    /// Calls recorded as successes.
    pub successes: u64,
    /// Calls recorded as failures (panics included).
    pub failures: u64,
    /// Calls that ended `Ignored` or whose permit was dropped.
    pub ignored: u64,
    /// Calls that took at least the slow-call duration (counted while a slow-call rule is set).
    pub slow: u64,
    /// Calls rejected.
    pub rejected: u64,
}

impl Counters {
    /// The sum of two sets of counters, field by field (saturating): for totals over several
    /// breakers.
    ///
    /// ```
    /// # use fusebox_engine::Counters;
    /// let a = Counters { successes: 2, admitted: 2, ..Counters::default() };
    /// assert_eq!(a.plus(&a).successes, 4);
    /// ```
    #[must_use]
    pub fn plus(&self, other: &Counters) -> Counters {
        Counters {
            admitted: self.admitted.saturating_add(other.admitted),
            successes: self.successes.saturating_add(other.successes),
            failures: self.failures.saturating_add(other.failures),
            ignored: self.ignored.saturating_add(other.ignored),
            slow: self.slow.saturating_add(other.slow),
            rejected: self.rejected.saturating_add(other.rejected),
        }
    }
}

/// A breaker's state, lifetime [`Counters`] and current window figures.
///
/// `Metrics` dereferences to its [`Counters`], so `metrics.failures` reads the lifetime count.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, ManualClock, Policy};
/// let breaker = Breaker::with_clock("svc", Policy::default(), ManualClock::new());
/// let _ = breaker.call(|| Ok::<_, ()>(()));
/// let _ = breaker.call(|| Err::<(), _>(()));
/// let m = breaker.metrics();
/// assert_eq!((m.admitted, m.successes, m.failures), (2, 1, 1));
/// assert_eq!(m.failure_rate(), 0.5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metrics {
    /// The state when read.
    pub state: State,
    /// Lifetime counters (also reachable through `Deref`: `metrics.successes`).
    pub counters: Counters,
    /// Outcomes in the current window.
    pub window_calls: u64,
    /// Failures in the current window.
    pub window_failures: u64,
    /// Slow calls in the current window (0 while no slow-call rule is set).
    pub window_slow: u64,
}

impl std::ops::Deref for Metrics {
    type Target = Counters;

    /// The lifetime counters.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// assert_eq!(b.metrics().rejected, 0);
    /// ```
    fn deref(&self) -> &Counters {
        &self.counters
    }
}

impl Metrics {
    /// Failures over outcomes in the current window; 0 when the window is empty.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// assert_eq!(b.metrics().failure_rate(), 0.0);
    /// ```
    pub fn failure_rate(&self) -> f64 {
        if self.window_calls == 0 {
            0.0
        } else {
            self.window_failures as f64 / self.window_calls as f64
        }
    }

    /// Slow calls over outcomes in the current window; 0 when the window is empty.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// assert_eq!(b.metrics().slow_call_rate(), 0.0);
    /// ```
    pub fn slow_call_rate(&self) -> f64 {
        if self.window_calls == 0 {
            0.0
        } else {
            self.window_slow as f64 / self.window_calls as f64
        }
    }
}

/// A breaker's state as [`Breaker::saved_state`] reads it and [`Breaker::restore`] puts it
/// back: what a snapshot of a registry keeps per breaker.
///
/// # Examples
///
/// ```
/// # use fusebox_engine::*;
/// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
/// b.force_open();
/// assert_eq!(b.saved_state().state, State::ForcedOpen);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedState {
    /// The state.
    pub state: State,
    /// For `Open`: the time left in the open period.
    pub open_remaining: Option<Duration>,
    /// Re-opens in a row (the backoff step).
    pub backoff_step: u32,
    /// The lifetime counters.
    pub counters: Counters,
}

/// `size << 32 | failures` for `policy`'s count window (see `Hot::trip_full`); 0 for a time
/// window. A valid policy's `min_calls` is at most a count window's size, so a full window is
/// always judged.
fn trip_full(policy: &Policy) -> u64 {
    let fusebox_policies::Window::Count { size } = policy.window() else {
        return 0;
    };
    let threshold = policy.failure_rate_threshold();
    // The least f with f / size >= threshold, by the very comparison `evaluate` makes,
    // searched upwards from just below threshold × size; a threshold is at most 1, so
    // f = size always qualifies.
    let from = ((threshold * size as f64).floor() as u32)
        .saturating_sub(1)
        .clamp(1, size);
    let failures = (from..=size)
        .find(|&f| f as f64 / size as f64 >= threshold)
        .unwrap_or(size);
    (size as u64) << 32 | failures as u64
}

impl Breaker {
    /// A breaker on the process-wide [`QuantaClock`](crate::QuantaClock).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = fusebox_engine::Breaker::new("payments", fusebox_engine::Policy::default());
    /// assert_eq!(b.name(), "payments");
    /// ```
    pub fn new(name: impl Into<std::sync::Arc<str>>, policy: Policy) -> Self {
        Self::builder(name, policy).build()
    }

    /// Options beyond [`new`](Self::new): the clock, striping.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::builder("db", Policy::default()).clock(ManualClock::new()).build();
    /// assert_eq!(b.name(), "db");
    /// ```
    pub fn builder(name: impl Into<std::sync::Arc<str>>, policy: Policy) -> BreakerBuilder {
        BreakerBuilder {
            name: name.into(),
            policy,
            clock: ClockSource::Quanta,
            striped: false,
        }
    }

    /// Whether `a` and `b` are handles of one breaker.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let a = Breaker::new("db", Policy::default());
    /// let b = a.clone();
    /// assert!(Breaker::ptr_eq(&a, &b));
    /// assert!(!Breaker::ptr_eq(&a, &Breaker::new("db", Policy::default())));
    /// ```
    pub fn ptr_eq(a: &Breaker, b: &Breaker) -> bool {
        std::sync::Arc::ptr_eq(&a.inner, &b.inner)
    }

    /// A breaker on `clock`, such as a [`ManualClock`](crate::ManualClock) in tests.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_engine::{Breaker, ManualClock, Policy, State};
    /// let b = Breaker::with_clock("payments", Policy::default(), ManualClock::new());
    /// assert_eq!(b.state(), State::Closed);
    /// ```
    pub fn with_clock(
        name: impl Into<std::sync::Arc<str>>,
        policy: Policy,
        clock: impl Clock,
    ) -> Self {
        Self::builder(name, policy).clock(clock).build()
    }

    /// A *striped* breaker on the process-wide [`QuantaClock`](crate::QuantaClock): each thread records into a
    /// window of its own, with no locked instruction on the call, and the breaker opens when
    /// the failure rate over the last `size` calls *of one thread* reaches the threshold,
    /// instead of over the last `size` calls of all threads. It trades that exactness for
    /// throughput when many threads call one breaker. The counters of
    /// [`metrics`](Self::metrics) stay exact; its window figures sum the threads' windows.
    ///
    /// Striping applies to a count window of up to 128 calls with no slow-call or
    /// consecutive-failure rule, and to up to 8 threads at once (more share the common
    /// window); any other policy records as [`new`](Self::new)'s would. Each striped breaker
    /// holds 8 stripes of 128 bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_engine::{Breaker, Policy, State, Window};
    /// let policy = Policy::builder().window(Window::count(10)).min_calls(10).build()?;
    /// let b = Breaker::striped("hot-path", policy);
    /// for _ in 0..10 {
    ///     let _ = b.call(|| Err::<(), _>("down"));
    /// }
    /// assert_eq!(b.state(), State::Open);
    /// assert_eq!(b.metrics().failures, 10);
    /// # Ok::<(), fusebox_engine::PolicyError>(())
    /// ```
    pub fn striped(name: impl Into<std::sync::Arc<str>>, policy: Policy) -> Self {
        Self::builder(name, policy).striped().build()
    }

    /// A striped breaker (see [`striped`](Self::striped)) on `clock`.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_engine::{Breaker, ManualClock, Policy};
    /// let b = Breaker::striped_with_clock("hot-path", Policy::default(), ManualClock::new());
    /// assert!(b.is_striped());
    /// ```
    pub fn striped_with_clock(
        name: impl Into<std::sync::Arc<str>>,
        policy: Policy,
        clock: impl Clock,
    ) -> Self {
        Self::builder(name, policy).clock(clock).striped().build()
    }

    /// How many handles of this breaker are alive, owned permits included: 1 means the
    /// caller's handle is the only one. A registry prunes only breakers nobody else holds.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let a = Breaker::new("db", Policy::default());
    /// assert_eq!(a.handle_count(), 1);
    /// let b = a.clone();
    /// assert_eq!(a.handle_count(), 2);
    /// # drop(b);
    /// ```
    pub fn handle_count(&self) -> usize {
        std::sync::Arc::strong_count(&self.inner)
    }

    /// The rejection an acquire would get now for the breaker being open or forced open,
    /// without acquiring, counting or moving the breaker; `None` otherwise (an `Open` breaker
    /// whose period is over reads `None`: its next acquire probes). A registry uses it to
    /// reject the calls of a breaker's dependents while the breaker is open.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("db", Policy::default(), ManualClock::new());
    /// assert!(b.open_rejection().is_none());
    /// b.force_open();
    /// assert_eq!(b.open_rejection().unwrap().reason(), RejectReason::ForcedOpen);
    /// ```
    pub fn open_rejection(&self) -> Option<Rejected> {
        let inner = &*self.inner;
        let word = inner.word();
        match word.state() {
            State::ForcedOpen => Some(Rejected::new(
                RejectReason::ForcedOpen,
                State::ForcedOpen,
                RetryAfter::UNKNOWN,
                &inner.cold.short_name,
            )),
            State::Open => {
                let deadline = inner.open_deadline(word);
                if deadline.is_some_and(|d| d <= inner.cold.clock.now()) {
                    return None;
                }
                Some(Rejected::new(
                    RejectReason::Open,
                    State::Open,
                    deadline.map_or(RetryAfter::UNKNOWN, RetryAfter::deadline),
                    &inner.rejection_name(),
                ))
            }
            _ => None,
        }
    }

    /// Whether this breaker was made [`striped`](Self::striped).
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// assert!(!Breaker::with_clock("db", Policy::default(), ManualClock::new()).is_striped());
    /// ```
    pub fn is_striped(&self) -> bool {
        self.inner.hot.stripes.is_some()
    }

    fn build(name: std::sync::Arc<str>, policy: Policy, clock: ClockSource, striped: bool) -> Self {
        let store = std::sync::Arc::new(WindowStore::new(policy.window()));
        let ptr = std::sync::Arc::as_ptr(&store).cast_mut();
        let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        let inner = std::sync::Arc::new_cyclic(|me| Inner {
            hot: CachePadded::new(Hot {
                state: AtomicU64::new(StateWord::CLOSED.bits()),
                config_seq: AtomicU32::new(0),
                flags: AtomicU32::new(0),
                min_calls: AtomicU32::new(0),
                consecutive: AtomicU32::new(0),
                half_open_permits: AtomicU32::new(0),
                success_threshold: AtomicU32::new(0),
                max_concurrent: AtomicU32::new(0),
                failure_threshold: AtomicU64::new(0),
                trip_full: AtomicU64::new(0),
                slow_threshold: AtomicU64::new(0),
                slow_nanos: AtomicU64::new(0),
                window: AtomicPtr::new(ptr),
                open_until: AtomicU64::new(0),
                open_epoch: AtomicU32::new(u32::MAX),
                ramp_start: AtomicU64::new(0),
                ramp_epoch: AtomicU32::new(u32::MAX),
                stripes: striped.then(|| Box::new(Stripes::new())),
            }),
            busy: CachePadded::new(Busy {
                rejected: LaneCounter::new(),
                cursor: AtomicU64::new(0),
                cursor_base: AtomicU64::new(0),
                other_recorded: AtomicU64::new(0),
                failures: LaneCounter::new(),
                ignored: AtomicU64::new(0),
                slow: AtomicU64::new(0),
                consecutive_failures: AtomicU32::new(0),
                permits_out: AtomicU32::new(0),
                ramp_counter: AtomicU64::new(0),
                rng: AtomicU64::new(seed),
                has_subscribers: AtomicBool::new(false),
            }),
            cold: Cold {
                short_name: Name::new(&name),
                name,
                clock,
                policy: ArcSwap::new(crate::intern::shared(policy.clone())),
                store,
                config_lock: Mutex::new(()),
                publish_lock: Mutex::new(()),
                open_since: AtomicU64::new(0),
                extras: std::sync::OnceLock::new(),
                me: me.clone(),
            },
        });
        inner.load_hot_config(&policy);
        // Loom does not model `OnceLock`: under it the extras exist from the start, so every
        // access to them is ordered by loom's own primitives.
        #[cfg(loom)]
        inner.extras();
        Breaker { inner }
    }

    /// Loom models only: what the timer thread does at an open deadline, for a breaker on a
    /// [`ManualClock::with_model_timer`] clock: expires the `Open` episode last published.
    /// Returns whether one had been published.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn loom_timer_fires(&self) -> bool {
        // Acquire: as in `open_check`.
        let epoch = self.inner.hot.open_epoch.load(Ordering::Acquire);
        self.inner.expire(epoch);
        epoch != u32::MAX
    }

    /// The breaker's name.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// assert_eq!(Breaker::with_clock("db", Policy::default(), ManualClock::new()).name(), "db");
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.cold.name
    }

    /// The breaker's name as a shared string.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("db", Policy::default(), ManualClock::new());
    /// assert_eq!(&*b.name_arc(), "db");
    /// ```
    pub fn name_arc(&self) -> std::sync::Arc<str> {
        self.inner.cold.name.clone()
    }

    /// The current state. An `Open` breaker whose period has passed reads `Open` until the
    /// next acquire moves it to `HalfOpen`.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("db", Policy::default(), ManualClock::new());
    /// b.disable();
    /// assert_eq!(b.state(), State::Disabled);
    /// ```
    pub fn state(&self) -> State {
        self.inner.word().state()
    }

    /// The policy in force.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("db", Policy::default(), ManualClock::new());
    /// assert_eq!(*b.policy(), Policy::default());
    /// ```
    pub fn policy(&self) -> std::sync::Arc<Policy> {
        self.inner.cold.policy.load_full()
    }

    /// The clock this breaker reads, as its time since the clock's origin.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let clock = ManualClock::new();
    /// let b = Breaker::with_clock("db", Policy::default(), clock.clone());
    /// clock.advance(std::time::Duration::from_secs(1));
    /// assert_eq!(b.now(), std::time::Duration::from_secs(1));
    /// ```
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.inner.cold.clock.now())
    }

    /// Asks to make one call. On success, report the call's outcome through the permit.
    ///
    /// # Errors
    ///
    /// [`Rejected`] when the breaker does not admit the call: open, forced open, half-open with
    /// every probe slot taken, outside the recovery ramp's share, or bulkhead full.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("db", Policy::default(), ManualClock::new());
    /// let permit = b.try_acquire()?;
    /// permit.success();
    /// # Ok::<(), Rejected>(())
    /// ```
    #[inline(always)]
    pub fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        let inner = &*self.inner;
        // Acquire: pairs with the AcqRel exchange that produced this word (see module docs).
        let word = StateWord::from_bits(inner.hot.state.load(Ordering::Acquire));
        // Relaxed: the flags are plain configuration; a swap racing with us may go either way.
        if word.is_closed() && inner.hot.flags.load(Ordering::Relaxed) & (F_SLOW | F_BULKHEAD) == 0
        {
            return Ok(Permit {
                inner,
                kind: PermitKind::Normal,
                epoch: word.epoch(),
                bulkhead: false,
                start: NOT_TIMED,
            });
        }
        if word.rejects_timed() {
            // Relaxed: the deadline was stored before the exchange that marked the word
            // timed, which the Acquire load above pairs with (see module docs).
            let deadline = inner.hot.open_until.load(Ordering::Relaxed);
            #[cfg(loom)]
            inner.assert_deadline_published(word);
            // Built here, in the result, not moved out of a helper's (see `Rejected`'s word).
            inner.busy.rejected.increment();
            return Err(Rejected::new(
                RejectReason::Open,
                State::Open,
                RetryAfter::deadline(deadline),
                &inner.cold.short_name,
            ));
        }
        inner.acquire_slow(word)
    }

    /// Like [`try_acquire`](Self::try_acquire), but the permit owns a handle of the breaker:
    /// `Send + 'static`, for spawned tasks and futures that outlive this borrow. Costs one
    /// reference-count increment more than `try_acquire` when admitted.
    ///
    /// # Errors
    ///
    /// As for [`try_acquire`](Self::try_acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("db", Policy::default(), ManualClock::new());
    /// let permit: OwnedPermit = b.try_acquire_owned()?;
    /// drop(b); // the permit keeps the breaker alive
    /// permit.failure();
    /// # Ok::<(), Rejected>(())
    /// ```
    #[inline]
    pub fn try_acquire_owned(&self) -> Result<OwnedPermit, Rejected> {
        let permit = std::mem::ManuallyDrop::new(self.try_acquire()?);
        Ok(OwnedPermit {
            breaker: self.clone(),
            kind: permit.kind,
            epoch: permit.epoch,
            bulkhead: permit.bulkhead,
            start: permit.start,
        })
    }

    /// Runs `f` if the breaker admits it; `Ok` is recorded as a success, `Err` as a failure.
    /// A panic in `f` is recorded as a failure and resumed.
    ///
    /// # Errors
    ///
    /// [`CallError::Rejected`] if the call was not admitted (`f` did not run), or
    /// [`CallError::Failed`] with `f`'s own error.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("db", Policy::default(), ManualClock::new());
    /// assert_eq!(b.call(|| Ok::<_, ()>(5)).unwrap(), 5);
    /// ```
    #[inline]
    pub fn call<T, E, F>(&self, f: F) -> Result<T, CallError<E>>
    where
        F: FnOnce() -> Result<T, E>,
    {
        let permit = self.try_acquire()?;
        match f() {
            Ok(v) => {
                permit.success();
                Ok(v)
            }
            Err(e) => {
                permit.failure();
                Err(CallError::Failed(e))
            }
        }
    }

    /// Like [`call`](Self::call), with `classify` deciding what the result means to the
    /// breaker. The result itself is returned unchanged.
    ///
    /// # Errors
    ///
    /// As for [`call`](Self::call).
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("http", Policy::default(), ManualClock::new());
    /// // A 404 is the caller's problem, not the dependency's.
    /// let r = b.call_with(|| Err::<(), u16>(404), |r| match r {
    ///     Err(404) => Outcome::Ignored,
    ///     Err(_) => Outcome::Failure,
    ///     Ok(_) => Outcome::Success,
    /// });
    /// assert!(matches!(r, Err(CallError::Failed(404))));
    /// assert_eq!(b.metrics().failures, 0);
    /// assert_eq!(b.metrics().ignored, 1);
    /// ```
    #[inline]
    pub fn call_with<T, E, F, C>(&self, f: F, classify: C) -> Result<T, CallError<E>>
    where
        F: FnOnce() -> Result<T, E>,
        C: FnOnce(&Result<T, E>) -> Outcome,
    {
        let permit = self.try_acquire()?;
        let result = f();
        permit.record(classify(&result));
        result.map_err(CallError::Failed)
    }

    /// Guards a future: the breaker is asked when the returned future is first polled, and the
    /// outcome recorded when `fut` completes. A future dropped before completing records its
    /// call as [`Outcome::Ignored`]: neither a success nor a failure.
    ///
    /// The returned future holds a handle of the breaker, not a borrow: it is `'static` (and
    /// `Send`) when `fut` is, so it can be spawned. No runtime is needed: it is a plain
    /// `Future`.
    ///
    /// A timeout put around this future (dropping it when time is up) records `Ignored`, not a
    /// failure: to count timeouts, time the call inside `fut` and return an error.
    ///
    /// # Errors
    ///
    /// As for [`call`](Self::call).
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("async", Policy::default(), ManualClock::new());
    /// let r = futures_executor::block_on(b.call_async(async { Ok::<_, ()>(9) }));
    /// assert_eq!(r.unwrap(), 9);
    /// ```
    pub fn call_async<T, E, F>(
        &self,
        fut: F,
    ) -> impl Future<Output = Result<T, CallError<E>>> + use<T, E, F>
    where
        F: Future<Output = Result<T, E>>,
    {
        self.call_async_with(fut, |r: &Result<T, E>| {
            if r.is_ok() {
                Outcome::Success
            } else {
                Outcome::Failure
            }
        })
    }

    /// Like [`call_async`](Self::call_async), with `classify` deciding what the result means
    /// to the breaker (see [`call_with`](Self::call_with)). The result itself is returned
    /// unchanged.
    ///
    /// # Errors
    ///
    /// As for [`call`](Self::call).
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("http", Policy::default(), ManualClock::new());
    /// let r = futures_executor::block_on(b.call_async_with(
    ///     async { Err::<(), u16>(404) },
    ///     |r| if matches!(r, Err(404)) { Outcome::Ignored } else { Outcome::Failure },
    /// ));
    /// assert!(matches!(r, Err(CallError::Failed(404))));
    /// assert_eq!(b.metrics().ignored, 1);
    /// ```
    pub fn call_async_with<T, E, F, C>(
        &self,
        fut: F,
        classify: C,
    ) -> impl Future<Output = Result<T, CallError<E>>> + use<T, E, F, C>
    where
        F: Future<Output = Result<T, E>>,
        C: FnOnce(&Result<T, E>) -> Outcome,
    {
        // The future owns a handle, so it borrows nothing from the caller; its permit borrows
        // that handle, which costs no second reference-count increment.
        let breaker = self.clone();
        async move {
            let permit = breaker.try_acquire()?;
            let result = fut.await;
            permit.record(classify(&result));
            result.map_err(CallError::Failed)
        }
    }

    /// Opens the breaker until [`reset`](Self::reset): every call is rejected.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// b.force_open();
    /// assert_eq!(b.try_acquire().unwrap_err().reason(), RejectReason::ForcedOpen);
    /// ```
    pub fn force_open(&self) {
        self.inner
            .manual(State::ForcedOpen, TransitionReason::ForcedOpen);
    }

    /// Switches the breaker off: every call is admitted and nothing is recorded.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// b.disable();
    /// let _ = b.call(|| Err::<(), _>(()));
    /// assert_eq!(b.metrics().failures, 0);
    /// ```
    pub fn disable(&self) {
        self.inner
            .manual(State::Disabled, TransitionReason::Disabled);
    }

    /// Admits every call and records it, but never changes state by itself.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::builder().min_calls(1).build().unwrap(), ManualClock::new());
    /// b.metrics_only();
    /// let _ = b.call(|| Err::<(), _>(()));
    /// assert_eq!(b.state(), State::MetricsOnly);
    /// assert_eq!(b.metrics().window_failures, 1);
    /// ```
    pub fn metrics_only(&self) {
        self.inner
            .manual(State::MetricsOnly, TransitionReason::MetricsOnly);
    }

    /// Back to `Closed` with an empty window and backoff step 0. The lifetime counters of
    /// [`metrics`](Self::metrics) keep counting: a reset never makes them go backwards.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// b.force_open();
    /// let _ = b.try_acquire();
    /// b.reset();
    /// assert_eq!(b.state(), State::Closed);
    /// assert_eq!(b.metrics().rejected, 1);
    /// assert_eq!(b.metrics().window_calls, 0);
    /// ```
    pub fn reset(&self) {
        self.inner.manual(State::Closed, TransitionReason::Reset);
    }

    /// Swaps in a new policy; it applies from the next acquire. The state is kept; the window
    /// keeps its contents if its shape is unchanged and starts empty otherwise; permits already
    /// out complete normally.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// b.set_policy(Policy::builder().min_calls(2).build().unwrap());
    /// assert_eq!(b.policy().min_calls(), 2);
    /// ```
    pub fn set_policy(&self, policy: Policy) {
        self.inner.set_policy(policy);
    }

    /// Time left in the current open period; `None` unless the breaker is `Open`.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let clock = ManualClock::new();
    /// let b = Breaker::with_clock("x", Policy::builder().min_calls(1).build().unwrap(), clock.clone());
    /// assert_eq!(b.open_remaining(), None);
    /// let _ = b.call(|| Err::<(), _>(()));
    /// clock.advance(std::time::Duration::from_secs(10));
    /// assert_eq!(b.open_remaining(), Some(std::time::Duration::from_secs(20)));
    /// ```
    pub fn open_remaining(&self) -> Option<Duration> {
        self.inner.open_remaining()
    }

    /// Re-opens in a row since the breaker last closed: the backoff step of the open period.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// assert_eq!(b.backoff_step(), 0);
    /// ```
    pub fn backoff_step(&self) -> u32 {
        self.inner.word().step()
    }

    /// What [`restore`](Self::restore) needs to put this breaker back as it is now.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// let _ = b.call(|| Ok::<_, ()>(()));
    /// let saved = b.saved_state();
    /// assert_eq!((saved.state, saved.counters.successes), (State::Closed, 1));
    /// ```
    pub fn saved_state(&self) -> SavedState {
        SavedState {
            state: self.state(),
            open_remaining: self.open_remaining(),
            backoff_step: self.backoff_step(),
            counters: self.inner.counters(),
        }
    }

    /// Puts back a saved state: the state (an `Open` breaker stays open for the time it had
    /// left; `HalfOpen` comes back `Open` with its period over; `Recovering` restarts its
    /// ramp) and the backoff step; each counter below its saved value is raised to it (the
    /// counters never go backwards). The window starts empty.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// use std::time::Duration;
    /// let a = Breaker::with_clock("x", Policy::builder().min_calls(1).build().unwrap(), ManualClock::new());
    /// let _ = a.call(|| Err::<(), _>(()));
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// b.restore(&a.saved_state());
    /// assert_eq!(b.state(), State::Open);
    /// assert_eq!(b.open_remaining(), Some(Duration::from_secs(30)));
    /// assert_eq!(b.metrics().failures, 1);
    /// ```
    pub fn restore(&self, saved: &SavedState) {
        self.inner.restore(saved);
    }

    /// The breaker's counters and window figures.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// assert_eq!(b.metrics().state, State::Closed);
    /// ```
    pub fn metrics(&self) -> Metrics {
        self.inner.metrics()
    }

    /// A channel of this breaker's state changes. It is bounded
    /// ([`SUBSCRIBER_CAPACITY`]): a subscriber that falls behind misses the newest changes
    /// rather than slowing the breaker; a dropped receiver is forgotten.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// let rx = b.subscribe();
    /// b.disable();
    /// assert_eq!(rx.try_recv().unwrap().to, State::Disabled);
    /// ```
    pub fn subscribe(&self) -> Receiver<Transition> {
        let (tx, rx) = crossbeam_channel::bounded(SUBSCRIBER_CAPACITY);
        lock(&self.inner.extras().subscribers).push(tx);
        // Relaxed: a transition racing with the subscription may or may not be delivered.
        self.inner
            .busy
            .has_subscribers
            .store(true, Ordering::Relaxed);
        rx
    }

    /// An estimate of the heap bytes this breaker holds (its allocation, window storage and
    /// lanes), for capacity planning; allocator overhead and padding are not counted, so a
    /// counting allocator measures somewhat more. The policy is not counted: breakers with
    /// equal policies share one allocation of it.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// assert!(b.heap_bytes() > 0);
    /// ```
    pub fn heap_bytes(&self) -> usize {
        let store_bytes =
            |s: &WindowStore| std::mem::size_of::<WindowStore>() + 16 + s.heap_bytes();
        let extras = self.inner.cold.extras.get().map_or(0, |e| {
            let stores = lock(&e.stores);
            std::mem::size_of::<Extras>()
                + stores.iter().map(|s| store_bytes(s)).sum::<usize>()
                + stores.capacity() * std::mem::size_of::<usize>()
        });
        std::mem::size_of::<Inner>()
            + 2 * std::mem::size_of::<usize>()
            + store_bytes(&self.inner.cold.store)
            + extras
            + self.inner.busy.rejected.heap_bytes()
            + self.inner.busy.failures.heap_bytes()
            + self
                .inner
                .hot
                .stripes
                .as_ref()
                .map_or(0, |s| s.heap_bytes())
            + self.inner.cold.name.len()
            + 16
    }
}

impl crate::error::ClockedName for Inner {
    fn name(&self) -> &str {
        &self.cold.name
    }

    fn now_nanos(&self) -> u64 {
        self.cold.clock.now()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Held by this breaker's `ArcSwap` and the `Arc` loaded here alone: the last user.
        crate::intern::forget_if_unshared(&self.cold.policy.load_full(), 2);
    }
}

impl Inner {
    /// The parts allocated on first use.
    fn extras(&self) -> &Extras {
        self.cold.extras.get_or_init(Box::default)
    }

    #[inline]
    fn word(&self) -> StateWord {
        // Acquire: see the module's synchronization notes.
        StateWord::from_bits(self.hot.state.load(Ordering::Acquire))
    }

    /// The window store in force.
    #[inline]
    fn window(&self) -> &WindowStore {
        // Acquire: pairs with the Release in `set_policy` that publishes a cleared store.
        let ptr = self.hot.window.load(Ordering::Acquire);
        // SAFETY: `hot.window` only ever holds `Arc::as_ptr` of `cold.store` or of an `Arc`
        // pushed into `Extras::stores`, which never removes one; both are dropped only with
        // `self`, so the store outlives `&self`. Stores are only read or changed through atomics (`&` access).
        // Loading it through `ArcSwap` instead measured 11.0 ns against 2.9 ns per call.
        unsafe { &*ptr }
    }

    /// Copies the hot values of `policy` into their atomics. Callers hold `config_lock` or own
    /// the breaker exclusively.
    fn load_hot_config(&self, policy: &Policy) {
        let h = &self.hot;
        let mut flags = 0;
        if policy.slow_calls().is_some() {
            flags |= F_SLOW;
        }
        if policy.consecutive_failures() > 0 {
            flags |= F_CONSECUTIVE;
            // Relaxed: the writer holds `config_lock`; only it changes `flags`' rule bits.
            if h.flags.load(Ordering::Relaxed) & F_CONSECUTIVE == 0 {
                // Successes were not counted while the rule was off: start a fresh run.
                self.busy.consecutive_failures.store(0, Ordering::Relaxed);
            }
        }
        if policy.max_concurrent().is_some() {
            flags |= F_BULKHEAD;
        }
        if matches!(policy.recovery(), Recovery::Ramp { .. }) {
            flags |= F_RAMP;
        }
        if h.stripes.is_some()
            && flags & (F_SLOW | F_CONSECUTIVE) == 0
            && matches!(policy.window(), fusebox_policies::Window::Count { size } if size <= 128)
        {
            flags |= F_STRIPED;
        }
        // Seqlock write: the odd sequence number, then a Release fence, keeps every value
        // below from being seen by a reader that then sees the sequence unchanged.
        let seq = h.config_seq.load(Ordering::Relaxed);
        h.config_seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        h.min_calls.store(policy.min_calls(), Ordering::Relaxed);
        h.consecutive
            .store(policy.consecutive_failures(), Ordering::Relaxed);
        h.half_open_permits
            .store(policy.half_open_permits(), Ordering::Relaxed);
        h.success_threshold
            .store(policy.success_threshold(), Ordering::Relaxed);
        h.max_concurrent.store(
            policy.max_concurrent().unwrap_or(u32::MAX),
            Ordering::Relaxed,
        );
        h.failure_threshold
            .store(policy.failure_rate_threshold().to_bits(), Ordering::Relaxed);
        h.trip_full.store(trip_full(policy), Ordering::Relaxed);
        if let Some(slow) = policy.slow_calls() {
            h.slow_nanos
                .store(duration_nanos(slow.duration), Ordering::Relaxed);
            h.slow_threshold
                .store(slow.rate.to_bits(), Ordering::Relaxed);
        }
        // A re-evaluation still owed from an earlier swap stays owed.
        let owed = h.flags.load(Ordering::Relaxed) & F_REEVALUATE;
        h.flags.store(flags | owed, Ordering::Relaxed);
        // Release: publishes the values above to readers that Acquire the sequence.
        h.config_seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// One consistent reading of the configuration: every value from the same policy.
    /// The closed-success fast path reads `flags` alone and needs none of this.
    #[inline]
    fn config(&self) -> Config {
        let h = &self.hot;
        loop {
            // Acquire: pairs with the writer's final Release store of the sequence.
            let seq = h.config_seq.load(Ordering::Acquire);
            if seq & 1 == 1 {
                crate::sync::spin();
                continue;
            }
            // Relaxed reads, validated by the sequence check below.
            let c = Config {
                flags: h.flags.load(Ordering::Relaxed),
                min_calls: h.min_calls.load(Ordering::Relaxed),
                consecutive: h.consecutive.load(Ordering::Relaxed),
                success_threshold: h.success_threshold.load(Ordering::Relaxed),
                failure_threshold: f64::from_bits(h.failure_threshold.load(Ordering::Relaxed)),
                trip_full: h.trip_full.load(Ordering::Relaxed),
                slow_threshold: f64::from_bits(h.slow_threshold.load(Ordering::Relaxed)),
                slow_nanos: h.slow_nanos.load(Ordering::Relaxed),
            };
            // Acquire fence: orders the reads above before the re-check of the sequence.
            fence(Ordering::Acquire);
            if h.config_seq.load(Ordering::Relaxed) == seq {
                return c;
            }
        }
    }

    #[cold]
    fn acquire_slow(&self, mut word: StateWord) -> Result<Permit<'_>, Rejected> {
        loop {
            // One value on its own: no seqlock needed (see module docs).
            let permits = self.hot.half_open_permits.load(Ordering::Relaxed);
            match word.acquire(permits) {
                AcquireDecision::Admit => return self.admit(PermitKind::Normal, word),
                AcquireDecision::Passthrough => return self.admit(PermitKind::Passthrough, word),
                AcquireDecision::Probe(next) => match self.exchange(word, next) {
                    Ok(()) => {
                        if word.state() == State::Open {
                            self.emit(word, next, TransitionReason::OpenTimeoutElapsed, None);
                        }
                        return self.admit(PermitKind::Probe, next);
                    }
                    Err(actual) => word = actual,
                },
                AcquireDecision::Open => match self.open_check(word) {
                    Ok(next) => word = next,
                    Err(retry) => return Err(self.reject(RejectReason::Open, word, retry)),
                },
                AcquireDecision::Ramp => match self.ramp_check(word) {
                    Ok(Some(next)) => word = next,
                    Ok(None) => return self.admit(PermitKind::Normal, word),
                    Err(()) => {
                        return Err(self.reject(RejectReason::Ramp, word, RetryAfter::UNKNOWN));
                    }
                },
                AcquireDecision::HalfOpenFull => {
                    return Err(self.reject(RejectReason::HalfOpenFull, word, RetryAfter::UNKNOWN));
                }
                AcquireDecision::ForcedOpen => {
                    return Err(self.reject(RejectReason::ForcedOpen, word, RetryAfter::UNKNOWN));
                }
            }
        }
    }

    /// `Open`: returns the word to retry with if the open period has passed (`Open` marked
    /// expired), or when to come back.
    #[inline]
    fn open_check(&self, word: StateWord) -> Result<StateWord, RetryAfter> {
        // Acquire: pairs with the Release store of `open_epoch` after `open_until`.
        if self.hot.open_epoch.load(Ordering::Acquire) != word.epoch() {
            return Err(RetryAfter::UNKNOWN);
        }
        let deadline = self.hot.open_until.load(Ordering::Relaxed);
        if word.timed() {
            // The timer thread marks the word expired at the deadline: no clock read here.
            return Err(RetryAfter::deadline(deadline));
        }
        let now = self.cold.clock.now();
        if now < deadline {
            return Err(RetryAfter::deadline(deadline));
        }
        match word.expire(word.epoch()) {
            Some(expired) => match self.exchange(word, expired) {
                Ok(()) => Ok(expired),
                Err(actual) => Ok(actual),
            },
            None => Ok(self.word()),
        }
    }

    /// `Recovering`: `Ok(Some(word))` to retry (the ramp ended), `Ok(None)` to admit,
    /// `Err(())` to reject.
    fn ramp_check(&self, word: StateWord) -> Result<Option<StateWord>, ()> {
        let now = self.cold.clock.now();
        let policy = self.cold.policy.load();
        let (duration, start_share) = match policy.recovery() {
            Recovery::Ramp {
                duration,
                start_share,
            } => (duration_nanos(duration), start_share),
            // The ramp was switched off by a policy swap: finish it now.
            Recovery::Immediate => (0, 1.0),
        };
        // Acquire: pairs with the Release of `ramp_epoch` after `ramp_start`.
        let elapsed = if self.hot.ramp_epoch.load(Ordering::Acquire) == word.epoch() {
            now.saturating_sub(self.hot.ramp_start.load(Ordering::Relaxed))
        } else {
            0
        };
        if elapsed >= duration {
            let Some(next) = word.ramp_done() else {
                return Ok(Some(self.word()));
            };
            return Ok(Some(match self.exchange(word, next) {
                Ok(()) => {
                    self.emit(word, next, TransitionReason::RampComplete, Some(now));
                    next
                }
                Err(actual) => actual,
            }));
        }
        let share = start_share + (1.0 - start_share) * (elapsed as f64 / duration as f64);
        // The share in billionths, rounded: decimal shares such as 0.2 or 0.3 are then exact,
        // where a binary fraction would sit just below them and admit one call too few.
        let p = (share.clamp(0.0, 1.0) * RAMP_SCALE as f64).round() as u128;
        // Relaxed: the counter only spreads admissions; it orders nothing.
        let c = self.busy.ramp_counter.fetch_add(1, Ordering::Relaxed) as u128;
        // Admit the c-th acquire iff ⌊(c+1)·p⌋ > ⌊c·p⌋: over any n consecutive acquires at
        // share p this admits ⌊p·n⌋ or ⌈p·n⌉.
        if (c + 1) * p / RAMP_SCALE != c * p / RAMP_SCALE {
            Ok(None)
        } else {
            Err(())
        }
    }

    #[inline]
    fn admit(&self, kind: PermitKind, word: StateWord) -> Result<Permit<'_>, Rejected> {
        // Two values read on their own, not through the seqlock: a swap racing with this
        // acquire can at worst apply the old bulkhead or none to it, once.
        let flags = self.hot.flags.load(Ordering::Relaxed);
        let mut bulkhead = false;
        if flags & F_BULKHEAD != 0 {
            let max = self.hot.max_concurrent.load(Ordering::Relaxed);
            // Relaxed: the count itself is the only shared data; a permit's work is the
            // caller's, not published through the bulkhead.
            if self.busy.permits_out.fetch_add(1, Ordering::Relaxed) >= max {
                self.busy.permits_out.fetch_sub(1, Ordering::Relaxed);
                if kind == PermitKind::Probe {
                    self.end_probe(word.epoch(), ProbeEnd::Release);
                }
                return Err(self.reject(RejectReason::BulkheadFull, word, RetryAfter::UNKNOWN));
            }
            bulkhead = true;
        }
        let start = if flags & F_SLOW != 0 {
            self.cold.clock.now()
        } else {
            NOT_TIMED
        };
        Ok(Permit {
            inner: self,
            kind,
            epoch: word.epoch(),
            bulkhead,
            start,
        })
    }

    #[cold]
    fn reject(&self, reason: RejectReason, word: StateWord, retry: RetryAfter) -> Rejected {
        self.busy.rejected.increment();
        if reason == RejectReason::Open {
            return Rejected::new(reason, word.state(), retry, &self.rejection_name());
        }
        Rejected::new(reason, word.state(), retry, &self.cold.short_name)
    }

    /// The name an `Open` rejection carries: on a clock other than the quanta clock, a handle
    /// of the breaker, so that its `retry_after` counts down on that clock (a reference-count
    /// increment, paid only off the quanta clock: tests and simulations).
    fn rejection_name(&self) -> Name {
        match (&self.cold.clock, self.cold.me.upgrade()) {
            (ClockSource::Quanta, _) | (_, None) => self.cold.short_name.clone(),
            (_, Some(me)) => Name::Clocked(me),
        }
    }

    /// One exchange of the state word; on failure, the word found.
    #[inline]
    fn exchange(&self, current: StateWord, next: StateWord) -> Result<(), StateWord> {
        // AcqRel on success: Acquire what the previous changer published, Release what we
        // wrote before. Acquire on failure: the caller decides again on the word it gets.
        self.hot
            .state
            .compare_exchange(
                current.bits(),
                next.bits(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .map(|_| ())
            .map_err(StateWord::from_bits)
    }

    /// Records one outcome of a permit admitted in `Closed`, `Recovering` or `MetricsOnly`.
    #[inline(always)]
    fn record(&self, outcome: Outcome, start: u64) {
        // The common case, kept small enough to inline into the caller: a success on a count
        // window with no rule that needs the clock or a run count. The state is not checked
        // again: a success reported just after the breaker left `Closed` may land in the window
        // (the documented "either episode's window" latitude; leaving half-open clears it).
        let flags = self.hot.flags.load(Ordering::Relaxed);
        // One test for the common case: no rule, not striped.
        if flags & (F_SLOW | F_CONSECUTIVE | F_REEVALUATE | F_STRIPED) == 0 {
            if self.record_shared(outcome, start) {
                return;
            }
        } else if flags & (F_SLOW | F_CONSECUTIVE | F_REEVALUATE) == 0 {
            // Striped: a success on a thread that has its stripe is a plain load and store of
            // the stripe's count and a look at its slot, inline.
            if let (Outcome::Success, Some(stripes), Some(lane)) = (
                outcome,
                self.hot.stripes.as_deref(),
                crate::counter::current_lane(),
            ) {
                if let WindowStore::Count(w) = self.window() {
                    if w.is_small() {
                        if let Some(r) = stripes.take_success(lane, w) {
                            self.striped_success_slow(stripes, lane, w, r);
                        }
                        return;
                    }
                }
            }
            if self.record_striped(outcome) || self.record_shared(outcome, start) {
                return;
            }
        }
        self.record_general(outcome, start);
    }

    /// A success or failure on a count window with no rule that needs the clock or a run
    /// count: false if this is not one (the caller then takes the general path).
    #[inline(always)]
    fn record_shared(&self, outcome: Outcome, start: u64) -> bool {
        match outcome {
            Outcome::Success => {
                if let WindowStore::Count(w) = self.window() {
                    // A success whose slot already holds one needs no write past the cursor's
                    // `fetch_add` (see `CountWindow::take_success`).
                    if let Some(seq) = w.take_success(&self.busy.cursor) {
                        self.record_success_slow(w, seq);
                    }
                    return true;
                }
                false
            }
            Outcome::Failure => {
                self.record_failure(start);
                true
            }
            Outcome::Ignored => false,
        }
    }

    /// A striped success that changes its stripe's window (see `record`).
    #[cold]
    #[inline(never)]
    fn striped_success_slow(&self, stripes: &Stripes, lane: usize, w: &CountWindow, r: u64) {
        if let Some(tally) = stripes.record_at(lane, w, r, false) {
            let word = self.word();
            if word.state() != State::MetricsOnly {
                self.evaluate(tally, &self.config(), word);
            }
        }
    }

    /// Records on the calling thread's stripe, claiming a lane if it has none; false if none
    /// is free or the window is not one that is striped (the caller then records as usual).
    #[inline(never)]
    fn record_striped(&self, outcome: Outcome) -> bool {
        let failure = match outcome {
            Outcome::Success => false,
            Outcome::Failure => true,
            Outcome::Ignored => return false,
        };
        let (Some(stripes), Some(lane)) =
            (self.hot.stripes.as_deref(), crate::counter::thread_lane())
        else {
            return false;
        };
        let WindowStore::Count(w) = self.window() else {
            return false;
        };
        if !w.is_small() {
            return false;
        }
        // As on the shared path, a success is not checked against the state again; a
        // failure is, since one reported after the breaker left `Closed` is not windowed.
        let word = self.word();
        if failure && !word.state().records_window() {
            return false;
        }
        let tally = stripes.record(lane, w, failure);
        // Counted as a failure after it is counted as recorded: see `totals`.
        self.count_failure(failure);
        if let Some(tally) = tally {
            if word.state() != State::MetricsOnly {
                // The stripe is judged alone (see stripes.rs).
                self.evaluate(tally, &self.config(), word);
            }
        }
        true
    }

    /// A failure with no rule that needs the clock or a run count: `record_general`'s path
    /// for it, without the rest of `record_general` around it (a large function whose
    /// entry and exit alone cost more than the failure's own work).
    #[inline(never)]
    fn record_failure(&self, start: u64) {
        let word = self.word();
        let WindowStore::Count(w) = self.window() else {
            return self.record_general(Outcome::Failure, start);
        };
        if !word.state().records_window() {
            return self.record_general(Outcome::Failure, start);
        }
        // Counted as recorded (the cursor's SeqCst `fetch_add`) before as failed: see
        // `record_general`.
        let (seq, rose) = w.take_failure(&self.busy.cursor);
        self.count_failure(true);
        if rose && word.state() != State::MetricsOnly {
            let tally = w.tally_after(seq, &self.busy.cursor);
            // A full window is judged on its policy's one precomputed word, with no need for
            // the rest of the configuration: the failure rate is the only rule on this path.
            // Relaxed: one word, consistent by itself; a swap racing with us may go either way.
            let trip = self.hot.trip_full.load(Ordering::Relaxed);
            if tally.calls as u64 == trip >> 32 {
                if tally.failures as u64 >= trip & u64::from(u32::MAX) {
                    self.trip_judged(word, TransitionReason::FailureRate);
                }
                return;
            }
            self.evaluate(tally, &self.config(), word);
        }
    }

    /// A fast-path success that changes the window: it evicts a failure, or the window grows.
    #[cold]
    #[inline(never)]
    fn record_success_slow(&self, w: &CountWindow, seq: u64) {
        if w.record(seq, false, None) {
            let tally = w.tally_after(seq, &self.busy.cursor);
            self.evaluate(tally, &self.config(), self.word());
        }
    }

    /// Every other record: failures, ignored outcomes, slow-call and run rules, time windows.
    #[inline(never)]
    fn record_general(&self, outcome: Outcome, start: u64) {
        let failure = match outcome {
            Outcome::Success => false,
            Outcome::Failure => true,
            Outcome::Ignored => {
                // Relaxed: a statistic.
                self.busy.ignored.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        // The whole configuration is read only when a rule or a judgement needs it: a failure
        // that changes no count (its slot held one already) needs none of it.
        let flags = self.hot.flags.load(Ordering::Relaxed);
        let mut config = (flags & (F_SLOW | F_CONSECUTIVE) != 0).then(|| self.config());
        let mut now = None;
        // `None` with no slow-call rule: a count window's slow bitmap is then left alone, and
        // cleared when a rule is switched on (see window.rs).
        let slow = match &config {
            Some(c) if c.flags & F_SLOW != 0 => Some(self.is_slow(start, c, &mut now)),
            _ => None,
        };
        let word = self.word();
        if let Some(c) = config.filter(|c| c.flags & F_CONSECUTIVE != 0) {
            // The outcome is recorded like any other even when it trips the breaker here; the
            // window's own evaluation then finds the episode over and does nothing.
            self.count_consecutive(failure, c.consecutive, word);
        }
        // An outcome is counted as recorded (SeqCst) before it is counted as a failure (a
        // Release increment), and `totals` reads them in the other order (Acquire, then
        // SeqCst): a `reset` racing with this record may leave the call out of the new counts,
        // but never counts a failure as a success.
        if !word.state().records_window() {
            self.busy.other_recorded.fetch_add(1, Ordering::SeqCst);
            self.count_failure(failure);
            return;
        }
        let reevaluate = flags & F_REEVALUATE != 0
            // Relaxed: only one recorder needs to win the re-evaluation.
            && self.hot.flags.fetch_and(!F_REEVALUATE, Ordering::Relaxed) & F_REEVALUATE != 0;
        let tally = match self.window() {
            WindowStore::Count(w) => {
                // SeqCst: see window.rs.
                let seq = self.busy.cursor.fetch_add(1, Ordering::SeqCst);
                self.count_failure(failure);
                let changed = w.record(seq, failure, slow);
                (changed || reevaluate).then(|| w.tally_after(seq, &self.busy.cursor))
            }
            WindowStore::Time(w) => {
                // SeqCst, before the failure count: see the comment above.
                self.busy.other_recorded.fetch_add(1, Ordering::SeqCst);
                self.count_failure(failure);
                let now = *now.get_or_insert_with(|| self.cold.clock.now());
                Some(w.record(now, failure, slow.unwrap_or(false)))
            }
        };
        if let Some(tally) = tally {
            if word.state() != State::MetricsOnly {
                let config = config.get_or_insert_with(|| self.config());
                self.evaluate(tally, config, word);
            }
        }
    }

    /// Counts a failure in the totals (after the caller counted the outcome as recorded).
    #[inline]
    fn count_failure(&self, failure: bool) {
        if failure {
            // A Release increment after the outcome's SeqCst count as recorded: see `totals`.
            self.busy.failures.increment();
        }
    }

    #[inline]
    fn is_slow(&self, start: u64, config: &Config, now: &mut Option<u64>) -> bool {
        if start == NOT_TIMED {
            // Acquired before a slow-call rule was switched on: its duration is unknown.
            return false;
        }
        let t = *now.get_or_insert_with(|| self.cold.clock.now());
        let slow = t.saturating_sub(start) >= config.slow_nanos;
        if slow {
            self.busy.slow.fetch_add(1, Ordering::Relaxed);
        }
        slow
    }

    /// Counts a failure in a row, or resets the run on a success; true if it tripped.
    #[inline]
    fn count_consecutive(&self, failure: bool, k: u32, word: StateWord) -> bool {
        let run = &self.busy.consecutive_failures;
        // Relaxed: the run is a heuristic count; the trip itself is an exchange of the word.
        if failure {
            let n = run.fetch_add(1, Ordering::Relaxed).saturating_add(1);
            if n >= k {
                return self.trip(word, TransitionReason::ConsecutiveFailures);
            }
        } else if run.load(Ordering::Relaxed) != 0 {
            run.store(0, Ordering::Relaxed);
        }
        false
    }

    /// Judges the window's rates and trips the breaker if one reached its threshold.
    #[inline]
    fn evaluate(&self, t: Tally, config: &Config, word: StateWord) {
        if let Some(why) = judge(t, config) {
            self.trip_judged(word, why);
        }
    }

    /// Opens the breaker from `seen`, whose window was just judged to trip it. If the word has
    /// meanwhile left that episode (a `reset`, a restore, a policy swap's clear raced the
    /// outcome), the outcome may sit in the window of the episode the word is in now, and no
    /// later outcome need judge that window again (a failure over a failure changes no count):
    /// so the window is judged again as it is now, in the current episode.
    #[cold]
    fn trip_judged(&self, mut seen: StateWord, mut why: TransitionReason) {
        loop {
            if self.trip(seen, why) {
                return;
            }
            let word = self.word();
            if word.epoch() == seen.epoch() || word.trip().is_none() {
                // Not tripped in its own episode for another reason (it was not one that
                // trips), or the word is in no state that trips now.
                return;
            }
            match judge(self.window_tally(), &self.config()) {
                Some(again) => (seen, why) = (word, again),
                None => return,
            }
        }
    }

    /// The shared window's counts as they are now (for `metrics` and for judging again).
    fn window_tally(&self) -> Tally {
        match self.window() {
            // SeqCst: the cursor is loaded like the window's bits (see window.rs).
            WindowStore::Count(w) => w.tally(self.busy.cursor.load(Ordering::SeqCst)),
            WindowStore::Time(w) => w.tally(self.cold.clock.now()),
        }
    }

    /// Judges the window of `entered`, an episode that trips on its window (`Closed`,
    /// `Recovering`) which this thread's exchange just entered. The window was cleared before
    /// that exchange, and an outcome of an earlier episode may have landed in it in between,
    /// judged then in a state that could not trip (`HalfOpen`); a failure over it would change
    /// no count, so no later outcome need judge it. Normally the window is empty here and this
    /// finds nothing.
    #[cold]
    fn judge_entered(&self, entered: StateWord) {
        // The window's loads come after the exchange (a `SeqCst` fence under loom, where the
        // loads alone are weaker: see window.rs); without it the model
        // `a_failure_from_before_the_trip_is_judged_in_the_window_it_lands_in` fails.
        crate::sync::loads_follow_updates();
        let tally = self.window_tally();
        // The usual case: the window is as the clear left it, and nothing is to be judged.
        if tally.calls == 0 {
            return;
        }
        if let Some(why) = judge(tally, &self.config()) {
            self.trip_judged(entered, why);
        }
    }

    /// Opens the breaker from `seen` (or a later word of the same episode); true if it did.
    #[cold]
    fn trip(&self, seen: StateWord, reason: TransitionReason) -> bool {
        let mut word = seen;
        loop {
            if word.epoch() != seen.epoch() {
                // The episode the outcome belonged to is over: it no longer decides anything.
                return false;
            }
            let Some(next) = word.trip() else {
                return false;
            };
            match self.exchange(word, next) {
                Ok(()) => {
                    self.entered_open(word, next, reason);
                    return true;
                }
                Err(actual) => word = actual,
            }
        }
    }

    /// Publishes the deadline of the `Open` episode `next` that this thread entered.
    fn entered_open(&self, from: StateWord, next: StateWord, reason: TransitionReason) {
        let now = self.cold.clock.now();
        let policy = self.cold.policy.load();
        let mut period = duration_nanos(policy.open_period(next.step())) as f64;
        let jitter = policy.jitter();
        if jitter > 0.0 {
            period *= 1.0 - jitter + 2.0 * jitter * self.random_unit();
        }
        self.publish_open(next, now, now.saturating_add(period as u64));
        self.emit(from, next, reason, Some(now));
    }

    /// Runs `publish` if the word is still in the episode `next`, which this thread's exchange
    /// entered. An episode's values (the open deadline, the ramp start) are written after that
    /// exchange, so a thread stalled across later transitions could otherwise overwrite a newer
    /// episode's values with its own. Publishers take `publish_lock` and check their episode is
    /// current before writing: publications land in episode order, and a superseded one is
    /// dropped (nobody reads an episode's values once the word has left it).
    fn publish_episode(&self, next: StateWord, publish: impl FnOnce()) {
        let _publishing = lock(&self.cold.publish_lock);
        if self.word().epoch() == next.epoch() {
            publish();
        }
    }

    /// Publishes the deadline of the `Open` episode `next`, entered by this thread at `since`.
    /// The deadline is clamped to the period of the policy in force when it is published, so
    /// a swap that shortened the period while this thread computed it is not undone.
    fn publish_open(&self, next: StateWord, since: u64, deadline: u64) {
        self.publish_episode(next, || {
            let limit = since.saturating_add(self.longest_open_period(next.step()));
            let deadline = deadline.min(limit);
            // Relaxed: read only under `publish_lock`.
            self.cold.open_since.store(since, Ordering::Relaxed);
            // Relaxed: a new episode starts a new run.
            self.busy.consecutive_failures.store(0, Ordering::Relaxed);
            self.hot.open_until.store(deadline, Ordering::Relaxed);
            // Release: publishes `open_until` to readers that Acquire `open_epoch`.
            self.hot.open_epoch.store(next.epoch(), Ordering::Release);
            if self.cold.clock.timer_watches() {
                // Marks the word timed (an AcqRel exchange, after the deadline's stores), then
                // hands the deadline to the timer: a marked word always has its deadline
                // published and is always expired by the timer, so its rejections read
                // nothing else.
                let mut word = next;
                while let Some(timed) = word.time(next.epoch()) {
                    match self.exchange(word, timed) {
                        Ok(()) => break,
                        Err(actual) => word = actual,
                    }
                }
                crate::timer::schedule(self.cold.me.clone(), next.epoch(), deadline);
            }
        });
    }

    /// The longest open period the policy in force draws at backoff `step` (ns): the period
    /// stretched by the whole jitter.
    fn longest_open_period(&self, step: u32) -> u64 {
        let policy = self.cold.policy.load();
        let period = duration_nanos(policy.open_period(step));
        if policy.jitter() > 0.0 {
            (period as f64 * (1.0 + policy.jitter())) as u64
        } else {
            period
        }
    }

    /// After a policy swap: an `Open` period under way ends no later than the policy now in
    /// force would have ended it, measured from the episode's start (a shorter `open_timeout`
    /// takes effect at once; a longer one does not extend the period).
    fn shorten_open_period(&self) {
        let word = self.word();
        if word.state() != State::Open {
            return;
        }
        self.publish_episode(word, || {
            // Acquire: pairs with the Release store of `open_epoch`; an episode not yet
            // published is clamped by its own publisher (see `publish_open`).
            if self.hot.open_epoch.load(Ordering::Acquire) != word.epoch() {
                return;
            }
            // Relaxed: written under `publish_lock`, which this thread holds.
            let since = self.cold.open_since.load(Ordering::Relaxed);
            let limit = since.saturating_add(self.longest_open_period(word.step()));
            // Relaxed: `open_until` is only written under `publish_lock`.
            if limit >= self.hot.open_until.load(Ordering::Relaxed) {
                return;
            }
            // Relaxed: a reader may still act on the old deadline once, as if it had read
            // just before the swap; the timer, if it watches, is handed the new one.
            self.hot.open_until.store(limit, Ordering::Relaxed);
            if self.cold.clock.timer_watches() {
                crate::timer::schedule(self.cold.me.clone(), word.epoch(), limit);
            }
        });
    }

    /// Publishes the start of the `Recovering` episode `next`, entered by this thread.
    fn publish_ramp(&self, next: StateWord, start: u64) {
        self.publish_episode(next, || {
            self.hot.ramp_start.store(start, Ordering::Relaxed);
            // Release: publishes `ramp_start` to readers that Acquire `ramp_epoch`.
            self.hot.ramp_epoch.store(next.epoch(), Ordering::Release);
        });
    }

    /// A uniform draw in [0, 1) from the breaker's splitmix64 stream (for jitter).
    fn random_unit(&self) -> f64 {
        // Relaxed: any interleaving yields distinct stream positions.
        let mut z = self
            .busy
            .rng
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Loom models only: a rejection decided from a timed word read the deadline of that
    /// word's episode or of a later one, never an earlier episode's (which would mean the mark
    /// was seen before the deadline's stores).
    #[cfg(loom)]
    fn assert_deadline_published(&self, word: StateWord) {
        // Acquire: as in `open_check`.
        let published = self.hot.open_epoch.load(Ordering::Acquire);
        let behind = u64::from(word.epoch().wrapping_sub(published)) & crate::state::EPOCH_MASK;
        assert!(
            published != u32::MAX && (behind == 0 || behind > crate::state::EPOCH_MASK / 2),
            "a timed word of epoch {} read the deadline of epoch {published}",
            word.epoch()
        );
    }

    /// Marks the `Open` episode `epoch` as past its deadline (the timer thread's call).
    pub(crate) fn expire(&self, epoch: u32) {
        let mut word = self.word();
        while let Some(next) = word.expire(epoch) {
            match self.exchange(word, next) {
                Ok(()) => return,
                Err(actual) => word = actual,
            }
        }
    }

    /// A half-open probe of `epoch` ends.
    fn end_probe(&self, epoch: u32, end: ProbeEnd) {
        let mut word = self.word();
        loop {
            let config = self.config();
            let (needed, ramp) = (config.success_threshold, config.flags & F_RAMP != 0);
            let Some((next, why)) = word.probe_end(epoch, end, needed, ramp) else {
                return;
            };
            let Some(why) = why else {
                // Only a slot given back (by this episode's probe or an earlier one's): no
                // state is entered, so nothing of a state's entry is redone.
                match self.exchange(word, next) {
                    Ok(()) => return,
                    Err(actual) => {
                        word = actual;
                        continue;
                    }
                }
            };
            if matches!(next.state(), State::Closed | State::Recovering) {
                // Leaving half-open starts an empty window. Cleared before the exchange:
                // nothing records into the window while half-open, and clearing twice if the
                // exchange fails does no harm.
                self.clear_window();
            }
            match self.exchange(word, next) {
                Ok(()) => {
                    match next.state() {
                        State::Open => self.entered_open(word, next, why),
                        State::Recovering => {
                            let now = self.cold.clock.now();
                            self.publish_ramp(next, now);
                            self.emit(word, next, why, Some(now));
                            self.judge_entered(next);
                        }
                        State::Closed => {
                            self.emit(word, next, why, None);
                            self.judge_entered(next);
                        }
                        _ => {}
                    }
                    return;
                }
                Err(actual) => word = actual,
            }
        }
    }

    /// Empties the window and starts its cursor again.
    fn clear_window(&self) {
        self.window().clear();
        if let Some(stripes) = &self.hot.stripes {
            stripes.clear();
        }
        // SeqCst: publishes the cleared bits to recorders (see window.rs); the cursor's count
        // moves to the base in one step, so totals stay exact.
        let n = self.busy.cursor.swap(0, Ordering::SeqCst);
        self.busy.cursor_base.fetch_add(n, Ordering::SeqCst);
        self.busy.consecutive_failures.store(0, Ordering::Relaxed);
    }

    fn manual(&self, to: State, reason: TransitionReason) {
        let _config = lock(&self.cold.config_lock);
        let mut word = self.word();
        loop {
            if to == State::Closed {
                // Cleared again on every attempt: an outcome recorded since the last clear was
                // judged in the episode the failed exchange found, and must not be left in
                // the window of the one this exchange starts.
                self.clear_window();
            }
            let next = word.manual(to);
            match self.exchange(word, next) {
                Ok(()) => {
                    self.emit(word, next, reason, None);
                    return;
                }
                Err(actual) => word = actual,
            }
        }
    }

    fn open_remaining(&self) -> Option<Duration> {
        let deadline = self.open_deadline(self.word())?;
        Some(Duration::from_nanos(
            deadline.saturating_sub(self.cold.clock.now()),
        ))
    }

    /// The deadline of `word`'s open period, once published; `None` unless `word` is `Open`.
    fn open_deadline(&self, word: StateWord) -> Option<u64> {
        if word.state() != State::Open {
            return None;
        }
        // Acquire: pairs with the Release store of `open_epoch` after `open_until`.
        if self.hot.open_epoch.load(Ordering::Acquire) != word.epoch() {
            return None;
        }
        // Relaxed: published by the epoch's Release store above.
        Some(self.hot.open_until.load(Ordering::Relaxed))
    }

    fn restore(&self, saved: &SavedState) {
        let _config = lock(&self.cold.config_lock);
        // Probes and ramps in progress cannot be saved: a half-open breaker comes back open
        // with its period over (the next acquire probes), a recovering one restarts its ramp.
        let (target, remaining) = match saved.state {
            State::HalfOpen => (State::Open, Duration::ZERO),
            State::Open => (State::Open, saved.open_remaining.unwrap_or(Duration::ZERO)),
            other => (other, Duration::ZERO),
        };
        let mut word = self.word();
        loop {
            // Cleared on every attempt, as in `manual`.
            self.clear_window();
            let next = word.enter(target, saved.backoff_step);
            match self.exchange(word, next) {
                Ok(()) => {
                    let now = self.cold.clock.now();
                    match target {
                        State::Open => {
                            let deadline = now.saturating_add(duration_nanos(remaining));
                            // As if the period had started a whole period before its
                            // deadline: the restored time left is kept, not clamped.
                            let since =
                                deadline.saturating_sub(self.longest_open_period(next.step()));
                            self.publish_open(next, since, deadline);
                        }
                        State::Recovering => self.publish_ramp(next, now),
                        _ => {}
                    }
                    self.raise_counters(&saved.counters);
                    self.emit(word, next, TransitionReason::Restored, Some(now));
                    return;
                }
                Err(actual) => word = actual,
            }
        }
    }

    fn set_policy(&self, policy: Policy) {
        let _config = lock(&self.cold.config_lock);
        let (reevaluate, slow_rule_on) = {
            let old = self.cold.policy.load();
            (
                old.failure_rate_threshold() != policy.failure_rate_threshold()
                    || old.min_calls() != policy.min_calls()
                    || old.slow_calls() != policy.slow_calls(),
                old.slow_calls().is_none() && policy.slow_calls().is_some(),
            )
        };
        let shape = policy.window();
        if !self.window().has_shape(shape) {
            let mut stores = lock(&self.extras().stores);
            let store = match std::iter::once(&self.cold.store)
                .chain(stores.iter())
                .find(|s| s.has_shape(shape))
            {
                Some(s) => s.clone(),
                None => {
                    let s = std::sync::Arc::new(WindowStore::new(shape));
                    stores.push(s.clone());
                    s
                }
            };
            store.clear();
            if let Some(stripes) = &self.hot.stripes {
                stripes.clear();
            }
            // SeqCst: as in `clear_window`.
            let n = self.busy.cursor.swap(0, Ordering::SeqCst);
            self.busy.cursor_base.fetch_add(n, Ordering::SeqCst);
            // Release: publishes the cleared store to recorders that Acquire the pointer.
            self.hot
                .window
                .store(std::sync::Arc::as_ptr(&store).cast_mut(), Ordering::Release);
        } else if slow_rule_on {
            // Slow flags were not kept while no rule was set: the rule starts from a clean
            // slate, before its flag goes up below.
            self.window().clear_slow();
        }
        self.load_hot_config(&policy);
        if reevaluate {
            // Relaxed: like the other hot values (see module docs).
            self.hot.flags.fetch_or(F_REEVALUATE, Ordering::Relaxed);
        }
        let old = self.cold.policy.swap(crate::intern::shared(policy));
        // Held by `old` alone: no breaker uses it any more.
        crate::intern::forget_if_unshared(&old, 1);
        self.shorten_open_period();
    }

    /// The lifetime counters.
    fn counters(&self) -> Counters {
        let b = &self.busy;
        // Failures first (Acquire), then what was recorded (SeqCst): a failure counted here
        // was counted as recorded before it (see `record_general`), so it is never read as a
        // success and `successes` cannot underflow.
        let failures = b.failures.sum();
        let recorded = b.cursor_base.load(Ordering::SeqCst)
            + b.cursor.load(Ordering::SeqCst)
            + b.other_recorded.load(Ordering::SeqCst)
            + self.hot.stripes.as_ref().map_or(0, |s| s.recorded());
        let failures = failures.min(recorded);
        // Relaxed: statistics with no pairing to keep.
        let ignored = b.ignored.load(Ordering::Relaxed);
        Counters {
            admitted: recorded + ignored,
            successes: recorded - failures,
            failures,
            ignored,
            slow: b.slow.load(Ordering::Relaxed),
            rejected: b.rejected.sum(),
        }
    }

    /// Raises each lifetime counter below its value in `saved` to it (for `restore`).
    fn raise_counters(&self, saved: &Counters) {
        let now = self.counters();
        let b = &self.busy;
        let failures = saved.failures.saturating_sub(now.failures);
        let successes = saved.successes.saturating_sub(now.successes);
        // SeqCst, counted as recorded before as failed: see `counters`.
        b.other_recorded
            .fetch_add(successes + failures, Ordering::SeqCst);
        b.failures.add(failures);
        // Relaxed: statistics.
        b.ignored
            .fetch_add(saved.ignored.saturating_sub(now.ignored), Ordering::Relaxed);
        b.slow
            .fetch_add(saved.slow.saturating_sub(now.slow), Ordering::Relaxed);
        b.rejected.add(saved.rejected.saturating_sub(now.rejected));
    }

    fn metrics(&self) -> Metrics {
        let word = self.word();
        let counters = self.counters();
        let mut tally = self.window_tally();
        if let (Some(stripes), WindowStore::Count(w)) = (&self.hot.stripes, self.window()) {
            let s = stripes.tally(w.size());
            tally.calls += s.calls;
            tally.failures += s.failures;
        }
        Metrics {
            state: word.state(),
            counters,
            window_calls: tally.calls as u64,
            window_failures: tally.failures as u64,
            // Slow flags are not kept while no slow-call rule is set (see window.rs).
            window_slow: if self.hot.flags.load(Ordering::Relaxed) & F_SLOW != 0 {
                tally.slow as u64
            } else {
                0
            },
        }
    }

    /// Tells subscribers that the word went from `from` to `to`, if the state changed.
    fn emit(&self, from: StateWord, to: StateWord, reason: TransitionReason, at: Option<u64>) {
        // Relaxed: see `subscribe`.
        if from.state() == to.state() || !self.busy.has_subscribers.load(Ordering::Relaxed) {
            return;
        }
        let Some(extras) = self.cold.extras.get() else {
            return;
        };
        let event = Transition {
            breaker: self.cold.name.clone(),
            from: from.state(),
            to: to.state(),
            at: Duration::from_nanos(at.unwrap_or_else(|| self.cold.clock.now())),
            reason,
        };
        lock(&extras.subscribers).retain(|tx| {
            !matches!(
                tx.try_send(event.clone()),
                Err(TrySendError::Disconnected(_))
            )
        });
    }
}

impl Permit<'_> {
    /// Records a success.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// b.try_acquire().unwrap().success();
    /// assert_eq!(b.metrics().successes, 1);
    /// ```
    #[inline(always)]
    pub fn success(self) {
        self.record(Outcome::Success);
    }

    /// Records a failure.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// b.try_acquire().unwrap().failure();
    /// assert_eq!(b.metrics().failures, 1);
    /// ```
    #[inline(always)]
    pub fn failure(self) {
        self.record(Outcome::Failure);
    }

    /// Records `outcome`.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// b.try_acquire().unwrap().record(Outcome::Ignored);
    /// assert_eq!(b.metrics().ignored, 1);
    /// ```
    #[inline(always)]
    pub fn record(self, outcome: Outcome) {
        // The permit is consumed here; its Drop must not record a second time.
        let this = std::mem::ManuallyDrop::new(self);
        this.inner
            .finish(this.kind, this.epoch, this.bulkhead, this.start, outcome);
    }
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        let outcome = if std::thread::panicking() {
            Outcome::Failure
        } else {
            Outcome::Ignored
        };
        self.inner
            .finish(self.kind, self.epoch, self.bulkhead, self.start, outcome);
    }
}

impl OwnedPermit {
    /// Records a success.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// b.try_acquire_owned().unwrap().success();
    /// assert_eq!(b.metrics().successes, 1);
    /// ```
    #[inline]
    pub fn success(self) {
        self.record(Outcome::Success);
    }

    /// Records a failure.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// b.try_acquire_owned().unwrap().failure();
    /// assert_eq!(b.metrics().failures, 1);
    /// ```
    #[inline]
    pub fn failure(self) {
        self.record(Outcome::Failure);
    }

    /// Records `outcome`.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// b.try_acquire_owned().unwrap().record(Outcome::Ignored);
    /// assert_eq!(b.metrics().ignored, 1);
    /// ```
    #[inline]
    pub fn record(self, outcome: Outcome) {
        let this = std::mem::ManuallyDrop::new(self);
        this.breaker
            .inner
            .finish(this.kind, this.epoch, this.bulkhead, this.start, outcome);
        // SAFETY: the handle is read out of `this` once, and `this` is never used again nor
        // dropped (its `Drop`, which would record a second time, never runs), so the handle is
        // dropped exactly once, here.
        drop(unsafe { std::ptr::read(&this.breaker) });
    }

    /// The breaker this permit was acquired from.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// let p = b.try_acquire_owned().unwrap();
    /// assert!(Breaker::ptr_eq(p.breaker(), &b));
    /// # p.success();
    /// ```
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }
}

impl Drop for OwnedPermit {
    #[inline]
    fn drop(&mut self) {
        let outcome = if std::thread::panicking() {
            Outcome::Failure
        } else {
            Outcome::Ignored
        };
        self.breaker
            .inner
            .finish(self.kind, self.epoch, self.bulkhead, self.start, outcome);
    }
}

impl fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("breaker", &self.breaker.name())
            .field("kind", &self.kind)
            .field("epoch", &self.epoch)
            .field("bulkhead", &self.bulkhead)
            .finish()
    }
}

impl Inner {
    /// Reports the outcome of a permit's call.
    #[inline(always)]
    fn finish(&self, kind: PermitKind, epoch: u32, bulkhead: bool, start: u64, outcome: Outcome) {
        if bulkhead {
            // Relaxed: see `admit`.
            self.busy.permits_out.fetch_sub(1, Ordering::Relaxed);
        }
        match kind {
            PermitKind::Normal => self.record(outcome, start),
            PermitKind::Probe => self.finish_probe(epoch, start, outcome),
            PermitKind::Passthrough => {}
        }
    }

    #[cold]
    fn finish_probe(&self, epoch: u32, start: u64, outcome: Outcome) {
        let b = &self.busy;
        // Relaxed: statistics.
        match outcome {
            Outcome::Ignored => {
                b.ignored.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::Success | Outcome::Failure => {
                b.other_recorded.fetch_add(1, Ordering::SeqCst);
                self.count_failure(outcome == Outcome::Failure);
                let config = self.config();
                if config.flags & F_SLOW != 0 {
                    self.is_slow(start, &config, &mut None);
                }
            }
        }
        let end = match outcome {
            Outcome::Success => ProbeEnd::Success,
            Outcome::Failure => ProbeEnd::Failure,
            Outcome::Ignored => ProbeEnd::Release,
        };
        self.end_probe(epoch, end);
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("breaker", &&*self.inner.cold.name)
            .field("kind", &self.kind)
            .field("epoch", &self.epoch)
            .field("bulkhead", &self.bulkhead)
            .finish()
    }
}

impl fmt::Debug for Breaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Breaker")
            .field("name", &self.name())
            .field("state", &self.state())
            .field("clock", &self.inner.cold.clock)
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use fusebox_policies::Window;

    #[test]
    fn the_full_window_trip_count_agrees_with_the_division() {
        // Fewer sizes under Miri, which interprets every step.
        let sizes: &[u32] = if cfg!(miri) {
            &[1, 3, 10, 100]
        } else {
            &[1, 2, 3, 7, 10, 64, 100, 101, 1000, 4096]
        };
        for &size in sizes {
            for threshold in [
                0.01,
                0.1,
                0.2,
                0.25,
                0.3,
                1.0 / 3.0,
                0.5,
                0.6,
                0.7,
                0.99,
                1.0,
            ] {
                let policy = Policy::builder()
                    .window(Window::count(size))
                    .min_calls(1)
                    .failure_rate_threshold(threshold)
                    .build()
                    .unwrap();
                let packed = trip_full(&policy);
                let least = (1..=size)
                    .find(|&f| f as f64 / size as f64 >= threshold)
                    .unwrap();
                assert_eq!(packed >> 32, size as u64);
                assert_eq!(packed & 0xffff_ffff, least as u64, "{size} at {threshold}");
            }
        }
        let time = Policy::builder()
            .window(Window::time(Duration::from_secs(10), 10))
            .build()
            .unwrap();
        assert_eq!(trip_full(&time), 0);
    }
}
