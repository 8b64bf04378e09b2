//! The breaker: admission, recording, transitions, manual control and policy swap.
//!
//! [`Breaker`] is a handle on one [`Inner`]; each public method delegates to it. The parts:
//!
//! - inner.rs: `Inner` and its hot, busy and cold parts; the state word, the window pointer.
//! - handle.rs: the breaker's own reference count (`Handle`, `WeakHandle`), in place of
//!   `Arc<Inner>`.
//! - config.rs: the policy's hot values under a seqlock, and judging a window against them.
//! - flags.rs: which optional rules are on.
//! - acquire.rs: `try_acquire`, admission and rejection.
//! - adaptive/: the adaptive bulkhead's limit, its windows and algorithms.
//! - rate.rs: the rate limit, GCRA in one atomic word.
//! - record.rs: what an outcome does to the window and the counters.
//! - recording.rs: recording calls into a call recorder, for replay.
//! - transition.rs: judging, tripping, following the fleet open, probes, expiry, manual
//!   control, restore, policy swap.
//! - fleet.rs: `follow_open`, opening because other instances of the breaker opened.
//! - permit.rs: `Permit` and `OwnedPermit`.
//! - metrics.rs: the counters, the metrics and the saved state.
//! - events.rs: what a transition sends to the history, subscribers, feeds and `tracing`.
//! - history.rs: the last transitions and the count of each change.
//! - kinds.rs: failures by kind, and the Retry-After floor under the open period.
//! - telemetry.rs: the history, transition counts, latency and async subscribers, as read.
//! - noted.rs: manual changes that carry an operator's note.
//! - chaos.rs: `chaos_off`, switching a policy's chaos off.
//! - run/: `run` (feature `tokio`): chaos injection, timeout, retries with backoff under a
//!   budget.
//!
//! # Synchronization
//!
//! Each file's notes say which atomics it touches. The edges between them:
//!
//! - **State word** (`Hot::state`): changed only by `compare_exchange` from a loaded value to one
//!   computed by [`StateWord`](crate::state::StateWord)'s pure functions (`Inner::exchange`).
//!   Successful exchanges are `AcqRel`; loads that act on the word are `Acquire`. Each change
//!   publishes what was written before it: the cleared window when leaving `HalfOpen`, the
//!   store pointer, the window cleared by `reset`.
//! - **Open deadline** (`open_until`, `open_epoch`): written by the thread whose exchange entered
//!   `Open`, *after* the exchange, under `publish_lock` and only while the word is still in
//!   that episode (transition.rs); read by admissions only once `open_epoch` is `Acquire`d
//!   equal to the word's epoch, or from a word marked `timed` by an exchange made after the
//!   deadline's stores (acquire.rs).
//! - **Ramp start** (`ramp_start`, `ramp_epoch`): the same protocol for `Recovering`.
//! - **Window pointer** (`Hot::window`): `Release`-stored after the new store is cleared
//!   (transition.rs) and `Acquire`-loaded by recorders (inner.rs). Stores are never freed
//!   before the breaker.
//! - **Adaptive limit** (`Extras::adaptive`): a window word every sample exchanges, and a limit
//!   word that the one owner of each full window exchanges and admissions load on their own
//!   (adaptive/).
//! - **Counters** (`Busy`): an outcome is counted as recorded (`SeqCst`) before as failed
//!   (record.rs) and read in the other order (metrics.rs).
//! - **Policy**: the `ArcSwap` holds the whole policy for readers of `policy()`; the hot values
//!   are copied into atomics under `config_lock` inside a seqlock (config.rs): every decision
//!   uses one policy. The closed-success fast path reads only the flags, a single value.

mod acquire;
mod adaptive;
mod chaos;
mod config;
mod events;
mod flags;
mod fleet;
mod handle;
mod history;
mod inner;
mod kinds;
mod metrics;
mod noted;
mod permit;
mod rate;
mod record;
mod recording;
#[cfg(feature = "tokio")]
mod run;
mod telemetry;
mod transition;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use crossbeam_channel::Receiver;
use fusebox_policies::Policy;

use crate::clock::{Clock, ClockSource};
use crate::error::{CallError, Outcome, Rejected, Transition};
use crate::feed::TransitionFeed;
use crate::priority::Priority;
use crate::state::{State, TransitionReason};
use crate::verdict::Verdict;

use handle::{Handle, Packing};
pub use history::{HISTORY_CAPACITY, TransitionCounts};
use inner::Inner;
pub use kinds::{FailureKinds, MAX_FAILURE_KINDS, OTHER_KIND};
pub use metrics::{Counters, Metrics, SavedState};
pub use noted::Noted;
pub use permit::{OwnedPermit, Permit};
#[cfg(feature = "tokio")]
pub use run::{CHAOS_KIND, RunError, TIMEOUT_KIND, TokioClock};

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
    inner: Handle,
}

/// Options for a [`Breaker`]: its clock, striping and packing.
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
    packing: Packing,
    feed: Option<TransitionFeed>,
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

    /// Packs the breaker into less memory, giving up the isolation of its lines: for many
    /// mostly idle breakers, one per tenant or per host.
    ///
    /// A breaker is one allocation. By default it is aligned to a cache-line block (128 bytes
    /// on x86-64 and aarch64) so that the line every decision reads and the line every call
    /// writes are blocks of their own, and threads calling one breaker do not invalidate each
    /// other's reads. A compact breaker asks only for its fields' alignment. Its fields, and
    /// so its decisions, are the same; its allocation is smaller, and the allocator no longer
    /// carves an aligned block out of a larger one (about 80 bytes of resident memory per
    /// breaker on glibc), but its lines may be shared with each other and with other
    /// allocations, which may cost throughput when threads call it at once (two threads
    /// calling one compact breaker measured no difference).
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::builder("tenant-42", Policy::default()).compact().build();
    /// assert!(b.is_compact());
    /// assert!(b.heap_bytes() < Breaker::new("tenant-42", Policy::default()).heap_bytes());
    /// ```
    pub fn compact(mut self) -> Self {
        self.packing = Packing::Compact;
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
        Breaker::build(self)
    }

    /// Also sends the breaker's transitions to `feed`, which other breakers may share: how a
    /// registry's `subscribe` sees every breaker it holds.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let feed = TransitionFeed::new();
    /// let events = feed.subscribe();
    /// Breaker::builder("db", Policy::default()).feed(&feed).build().force_open();
    /// assert_eq!(events.try_recv().unwrap().to, State::ForcedOpen);
    /// ```
    pub fn feed(mut self, feed: &TransitionFeed) -> Self {
        self.feed = Some(feed.clone());
        self
    }
}

impl fmt::Debug for BreakerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerBuilder")
            .field("name", &self.name)
            .field("clock", &self.clock)
            .field("striped", &self.striped)
            .field("compact", &(self.packing == Packing::Compact))
            .field("feed", &self.feed.is_some())
            .finish_non_exhaustive()
    }
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
            clock: ClockSource::QUANTA,
            striped: false,
            packing: Packing::Isolated,
            feed: None,
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
        Handle::ptr_eq(&a.inner, &b.inner)
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

    /// How many handles of this breaker are alive, owned permits included (and `Open`
    /// rejections on a clock other than the default one, which hold a handle to count down
    /// their `retry_after`): 1 means the caller's handle is the only one. A registry prunes
    /// only breakers nobody else holds.
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
        Handle::strong_count(&self.inner)
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
        self.inner.open_rejection()
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

    /// Whether this breaker was made [`compact`](BreakerBuilder::compact).
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// assert!(!Breaker::new("db", Policy::default()).is_compact());
    /// assert!(Breaker::builder("db", Policy::default()).compact().build().is_compact());
    /// ```
    pub fn is_compact(&self) -> bool {
        self.inner.busy.counts.packing() == Packing::Compact
    }

    fn build(builder: BreakerBuilder) -> Self {
        let BreakerBuilder {
            name,
            policy,
            clock,
            striped,
            packing,
            feed,
        } = builder;
        Breaker {
            inner: Inner::new_handle(name, policy, clock, striped, packing, feed),
        }
    }

    /// Loom models only: what the timer thread does at an open deadline, for a breaker on a
    /// [`ManualClock::with_model_timer`] clock: expires the `Open` episode last published.
    /// Returns whether one had been published.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn loom_timer_fires(&self) -> bool {
        self.inner.loom_timer_fires()
    }

    /// Loom models only: the adaptive limit in force, the windows it has closed, and the
    /// calls in the window being filled; zeros without an adaptive limit.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn loom_adaptive(&self) -> (u32, u64, u32) {
        self.inner.adaptive().map_or((0, 0, 0), |a| {
            let (windows, pending) = a.loom_windows();
            (a.limit(), windows, pending)
        })
    }

    /// Loom models only: a weak handle of this breaker, made as the one the timer thread is
    /// handed at each open deadline.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn loom_weak(&self) -> LoomWeak {
        LoomWeak(self.inner.cold.me.downgrade())
    }

    /// The breaker's name.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// assert_eq!(Breaker::with_clock("db", Policy::default(), ManualClock::new()).name(), "db");
    /// ```
    pub fn name(&self) -> &str {
        self.inner.cold.name.as_str()
    }

    /// The breaker's name as a shared string. A breaker keeps a name of up to 22 bytes inline,
    /// not as a shared string, so for one of those this allocates a new string: hold on to the
    /// result rather than calling this per request.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("db", Policy::default(), ManualClock::new());
    /// assert_eq!(&*b.name_arc(), "db");
    /// ```
    pub fn name_arc(&self) -> std::sync::Arc<str> {
        self.inner.cold.name.to_arc()
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
        self.inner.try_acquire()
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
    #[inline(always)]
    pub fn try_acquire_owned(&self) -> Result<OwnedPermit, Rejected> {
        Ok(self.try_acquire()?.into_owned(self.clone()))
    }

    /// Like [`try_acquire`](Self::try_acquire), at `priority`: with a bulkhead (static or
    /// adaptive) of limit `L`, a `Low` call is rejected once 80 % of `L` are in flight, a
    /// `Normal` one at `L`, and a `Critical` one may use a reserve of 10 % above `L` (see
    /// [`Priority`]). Without a bulkhead the priority changes nothing.
    ///
    /// # Errors
    ///
    /// As for [`try_acquire`](Self::try_acquire); [`RejectReason::BulkheadFull`](crate::RejectReason::BulkheadFull)
    /// at the priority's cap.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("db", Policy::builder().max_concurrent(10).build()?, ManualClock::new());
    /// let held: Vec<_> = (0..10).map(|_| b.try_acquire().unwrap()).collect();
    /// assert_eq!(b.try_acquire().unwrap_err().reason(), RejectReason::BulkheadFull);
    /// let critical = b.try_acquire_with(Priority::Critical)?; // the 11th: the reserve
    /// assert!(b.try_acquire_with(Priority::Critical).is_err());
    /// # drop((held, critical));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn try_acquire_with(&self, priority: Priority) -> Result<Permit<'_>, Rejected> {
        self.inner.try_acquire_with(priority)
    }

    /// Like [`try_acquire_owned`](Self::try_acquire_owned), at `priority` (see
    /// [`try_acquire_with`](Self::try_acquire_with)).
    ///
    /// # Errors
    ///
    /// As for [`try_acquire_with`](Self::try_acquire_with).
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("db", Policy::builder().max_concurrent(1).build()?, ManualClock::new());
    /// let permit: OwnedPermit = b.try_acquire_owned_with(Priority::Low)?;
    /// assert!(b.try_acquire_owned_with(Priority::Critical).is_ok()); // the reserve of one
    /// permit.success();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn try_acquire_owned_with(&self, priority: Priority) -> Result<OwnedPermit, Rejected> {
        Ok(self.try_acquire_with(priority)?.into_owned(self.clone()))
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
        settle(permit, f())
    }

    /// Like [`call`](Self::call), at `priority` (see
    /// [`try_acquire_with`](Self::try_acquire_with)): a `Low` call is shed first when the
    /// bulkhead fills, a `Critical` one may use its reserve. To classify the result as well,
    /// acquire with [`try_acquire_with`](Self::try_acquire_with) and record through the
    /// permit's [`record_verdict`](Permit::record_verdict).
    ///
    /// # Errors
    ///
    /// As for [`call`](Self::call).
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("db", Policy::builder().max_concurrent(1).build()?, ManualClock::new());
    /// let held = b.try_acquire()?;
    /// let r = b.call_with_priority(Priority::Low, || Ok::<_, ()>(1));
    /// assert!(matches!(r, Err(CallError::Rejected(_))));
    /// assert_eq!(b.call_with_priority(Priority::Critical, || Ok::<_, ()>(2)).unwrap(), 2);
    /// # drop(held);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn call_with_priority<T, E, F>(&self, priority: Priority, f: F) -> Result<T, CallError<E>>
    where
        F: FnOnce() -> Result<T, E>,
    {
        let permit = self.try_acquire_with(priority)?;
        settle(permit, f())
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
    pub fn call_with<T, E, F, C, V>(&self, f: F, classify: C) -> Result<T, CallError<E>>
    where
        F: FnOnce() -> Result<T, E>,
        C: FnOnce(&Result<T, E>) -> V,
        V: Into<Verdict>,
    {
        let permit = self.try_acquire()?;
        let result = f();
        permit.record_verdict(classify(&result));
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
    pub fn call_async_with<T, E, F, C, V>(
        &self,
        fut: F,
        classify: C,
    ) -> impl Future<Output = Result<T, CallError<E>>> + use<T, E, F, C, V>
    where
        F: Future<Output = Result<T, E>>,
        C: FnOnce(&Result<T, E>) -> V,
        V: Into<Verdict>,
    {
        // The future owns a handle, so it borrows nothing from the caller; its permit borrows
        // that handle, which costs no second reference-count increment.
        let breaker = self.clone();
        async move {
            let permit = breaker.try_acquire()?;
            let result = fut.await;
            permit.record_verdict(classify(&result));
            result.map_err(CallError::Failed)
        }
    }

    /// Like [`call_async`](Self::call_async), at `priority` (see
    /// [`try_acquire_with`](Self::try_acquire_with)).
    ///
    /// # Errors
    ///
    /// As for [`call`](Self::call).
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("db", Policy::builder().max_concurrent(1).build()?, ManualClock::new());
    /// let held = b.try_acquire()?;
    /// let low = futures_executor::block_on(b.call_async_with_priority(Priority::Low, async { Ok::<_, ()>(1) }));
    /// assert!(matches!(low, Err(CallError::Rejected(_))));
    /// let critical = b.call_async_with_priority(Priority::Critical, async { Ok::<_, ()>(2) });
    /// assert_eq!(futures_executor::block_on(critical).unwrap(), 2);
    /// # drop(held);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn call_async_with_priority<T, E, F>(
        &self,
        priority: Priority,
        fut: F,
    ) -> impl Future<Output = Result<T, CallError<E>>> + use<T, E, F>
    where
        F: Future<Output = Result<T, E>>,
    {
        // As in `call_async_with`.
        let breaker = self.clone();
        async move {
            let permit = breaker.try_acquire_with(priority)?;
            let result = fut.await;
            if result.is_ok() {
                permit.success();
            } else {
                permit.failure();
            }
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
            .manual(State::ForcedOpen, TransitionReason::ForcedOpen, None);
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
            .manual(State::Disabled, TransitionReason::Disabled, None);
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
            .manual(State::MetricsOnly, TransitionReason::MetricsOnly, None);
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
        self.inner
            .manual(State::Closed, TransitionReason::Reset, None);
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
        self.inner.saved_state()
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
    /// ([`SUBSCRIBER_CAPACITY`](crate::SUBSCRIBER_CAPACITY)): a subscriber that falls behind misses the newest changes
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
        self.inner.subscribe()
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
        self.inner.heap_bytes()
    }
}

/// Loom models only: a weak handle of a breaker (see [`Breaker::loom_weak`]), which does not
/// keep it alive.
#[cfg(loom)]
#[doc(hidden)]
pub struct LoomWeak(handle::WeakHandle);

#[cfg(loom)]
impl LoomWeak {
    /// The breaker, unless its last handle has been dropped: what the timer thread does before
    /// it expires an `Open` episode.
    pub fn upgrade(&self) -> Option<Breaker> {
        self.0.upgrade().map(|inner| Breaker { inner })
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

/// Records `result` on `permit` (`Ok` a success, `Err` a failure) and hands it back, an error
/// as [`CallError::Failed`]: the end of [`Breaker::call`] and its priority variant.
#[inline(always)]
fn settle<T, E>(permit: Permit<'_>, result: Result<T, E>) -> Result<T, CallError<E>> {
    match result {
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
