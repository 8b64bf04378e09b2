//! What a breaker has counted: its lifetime [`Counters`], the [`Metrics`] of its window, and
//! the [`SavedState`] a snapshot keeps.
//!
//! # Synchronization
//!
//! - **Counters** (`Busy`): `Relaxed` read-modify-writes, except where a comment says why;
//!   rejections and failures are per-thread lanes bumped with plain stores (counter.rs). Exact
//!   once threads are quiet, read without a snapshot while they run.
//! - `counters` reads the failures first (an `Acquire` lane sum) and then what was recorded
//!   (`SeqCst`): recorders count an outcome as recorded before as failed (record.rs), so a
//!   failure read here was recorded before it and `successes` cannot underflow.
//! - The window figures are read like a judge's (`SeqCst` cursor and bits, window/count.rs),
//!   stripes summed in; they are not a snapshot either.

use std::time::Duration;

use super::flags::Flags;
use super::inner::{Extras, Inner};
use super::kinds::FailureKinds;
use crate::counter::Counted;
use crate::error::{RejectReason, WindowCounts};
use crate::latency::{Latency, LatencyRecorder, LatencySummary};
use crate::state::State;
use crate::sync::{Ordering, lock};
use crate::window::{Tally, WindowStore};

/// A breaker's lifetime counters: calls since the breaker was created.
///
/// The counters are monotonic: [`Breaker::reset`](crate::Breaker::reset) empties the window
/// but never the counters, and successive reads of `admitted`, `failures`, `ignored`, `slow`
/// and `rejected` never go backwards, so they export as counters. `admitted` counts permits
/// that have reported (recorded, ignored or dropped): `admitted = successes + failures +
/// ignored`. While threads are calling, the fields are read one by one, not as a snapshot;
/// each is exact once the threads are quiet. `successes` is the recorded calls less the
/// failures, so while a failure is being recorded it may be read as a success for an instant
/// and then taken back (by at most one per thread recording a failure at that moment).
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
    /// The bulkhead's limit now: `max_concurrent` for a static bulkhead, the limit in force
    /// for an adaptive one; `None` without a bulkhead.
    ///
    /// ```
    /// use fusebox_engine::{AdaptiveLimit, Breaker, LimitAlgorithm, ManualClock, Policy};
    /// let b = |p| Breaker::with_clock("x", p, ManualClock::new());
    /// assert_eq!(b(Policy::default()).metrics().limit, None);
    /// assert_eq!(b(Policy::builder().max_concurrent(8).build()?).metrics().limit, Some(8));
    /// let adaptive = AdaptiveLimit::new(LimitAlgorithm::Aimd).with_initial(12);
    /// assert_eq!(b(Policy::builder().adaptive_limit(adaptive).build()?).metrics().limit, Some(12));
    /// # Ok::<(), fusebox_engine::PolicyError>(())
    /// ```
    pub limit: Option<u32>,
    /// Rejections per reason, indexed like [`RejectReason::ALL`]; they sum to `rejected`.
    rejected_by: [u64; RejectReason::ALL.len()],
    /// Failures that named a kind, by kind.
    failure_kinds: FailureKinds,
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
    /// Rejections for `reason` since the breaker was created; over every reason they sum to
    /// [`rejected`](Counters::rejected). Rejections put back by a restore count as `Open`
    /// (a snapshot keeps their total only).
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::new("x", Policy::default());
    /// b.force_open();
    /// assert!(b.try_acquire().is_err());
    /// let m = b.metrics();
    /// assert_eq!(m.rejected_by(RejectReason::ForcedOpen), 1);
    /// assert_eq!(m.rejected_by(RejectReason::Open), 0);
    /// assert_eq!(m.rejected, 1);
    /// ```
    pub fn rejected_by(&self, reason: RejectReason) -> u64 {
        self.rejected_by[reason.index()]
    }

    /// Failures recorded with `kind` (see [`Failure`](crate::Failure)) since the breaker was
    /// created.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::new("x", Policy::default());
    /// let _ = b.call_with(|| Err::<(), _>("refused"), |_| Failure::of_kind("connect"));
    /// assert_eq!(b.metrics().failures_of_kind("connect"), 1);
    /// ```
    pub fn failures_of_kind(&self, kind: &str) -> u64 {
        self.failure_kinds.get(kind)
    }

    /// Every failure kind counted, with its count, in the order first seen.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::new("x", Policy::default());
    /// let _ = b.call_with(|| Err::<(), _>(()), |_| Failure::of_kind("timeout"));
    /// assert_eq!(b.metrics().failures_by_kind().collect::<Vec<_>>(), [("timeout", 1)]);
    /// ```
    pub fn failures_by_kind(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.failure_kinds.iter()
    }

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

/// A breaker's state as [`Breaker::saved_state`](crate::Breaker::saved_state) reads it and
/// [`Breaker::restore`](crate::Breaker::restore) puts it
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

impl Inner {
    /// The lifetime counters.
    pub(super) fn counters(&self) -> Counters {
        let b = &self.busy;
        // Failures first (Acquire), then what was recorded (SeqCst): a failure counted here
        // was counted as recorded before it (see `record_general`), so the failures never
        // exceed the recorded calls. A failure whose second count has not landed yet reads as
        // a success for that instant (see `Counters`).
        let failures = b.lane_counts.sum(Counted::Failures);
        let recorded = loop {
            // SeqCst: in one total order with `rebase_cursor`'s updates. If no move had begun
            // by the last load that had not finished by the first, no count was in flight
            // between the cursor and its base while they were read (wrapping counts of moves:
            // equality is all that is compared).
            let done = b.cursor_moves_done.load(Ordering::SeqCst);
            let recorded = b
                .cursor_base
                .load(Ordering::SeqCst)
                .wrapping_add(b.cursor.load(Ordering::SeqCst))
                .wrapping_add(b.other_recorded.load(Ordering::SeqCst))
                .wrapping_add(self.hot.stripes.as_ref().map_or(0, |s| s.recorded()));
            if b.cursor_moves_started.load(Ordering::SeqCst) == done {
                break recorded;
            }
            crate::sync::spin();
        };
        let failures = failures.min(recorded);
        // Relaxed: statistics with no pairing to keep.
        let ignored = b.ignored.load(Ordering::Relaxed);
        Counters {
            admitted: recorded.saturating_add(ignored),
            successes: recorded - failures,
            failures,
            ignored,
            slow: b.slow.load(Ordering::Relaxed),
            rejected: self.rejected_by().iter().sum(),
        }
    }

    /// Rejections per reason, indexed like `RejectReason::ALL`: `Open` on the lanes of
    /// `Busy::lane_counts`, the others in the extras.
    pub(super) fn rejected_by(&self) -> [u64; RejectReason::ALL.len()] {
        let mut by = [0; RejectReason::ALL.len()];
        if let Some(extras) = self.cold.extras.get() {
            for (n, count) in by.iter_mut().zip(&extras.rejected_by) {
                // Relaxed: statistics.
                *n = count.load(std::sync::atomic::Ordering::Relaxed);
            }
        }
        by[RejectReason::Open.index()] = self.busy.lane_counts.sum(Counted::Rejections);
        by
    }

    /// Records the duration of a call timed from `start` into this thread's histogram, and
    /// returns the clock's time it read; a permit acquired before the histogram was switched
    /// on was not timed and is skipped.
    pub(super) fn record_latency(&self, start: u64) -> Option<u64> {
        if start == super::permit::NOT_TIMED {
            return None;
        }
        let now = self.cold.clock.now();
        self.record_latency_at(start, now);
        Some(now)
    }

    /// Records the duration of a call timed from `start` to `now` into this thread's
    /// histogram.
    #[inline(never)]
    pub(super) fn record_latency_at(&self, start: u64, now: u64) {
        self.extras()
            .latency
            .get_or_init(LatencyRecorder::default)
            .record(now.saturating_sub(start));
    }

    /// `Breaker::latency`: `None` unless the policy in force sets `latency_histogram`.
    pub(super) fn latency(&self) -> Option<Latency> {
        if !self.cold.policy.load().latency_histogram() {
            return None;
        }
        let recorder = self.cold.extras.get().and_then(|e| e.latency.get());
        Some(recorder.map_or_else(|| LatencyRecorder::default().read(), LatencyRecorder::read))
    }

    /// `Breaker::latency_summary`: `None` unless the policy in force sets `latency_histogram`.
    pub(super) fn latency_summary(&self) -> Option<LatencySummary> {
        if !self.cold.policy.load().latency_histogram() {
            return None;
        }
        let recorder = self.cold.extras.get().and_then(|e| e.latency.get());
        Some(recorder.map_or_else(
            || LatencyRecorder::default().summary(),
            LatencyRecorder::summary,
        ))
    }

    /// Counts a rejection for `reason` (every reason but `Open`, which the acquire's fast
    /// path counts on `Busy::lane_counts`).
    #[cold]
    pub(super) fn count_rejection(&self, reason: RejectReason) {
        if reason == RejectReason::Open {
            self.busy.lane_counts.increment(Counted::Rejections);
        } else {
            // Relaxed: a statistic.
            self.extras().rejected_by[reason.index()]
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Raises each lifetime counter below its value in `saved` to it (for `restore`). Saved
    /// values come from outside (a snapshot file): each is capped at 2⁶² so that the sums
    /// `counters` makes cannot wrap.
    pub(super) fn raise_counters(&self, saved: &Counters) {
        const CAP: u64 = 1 << 62;
        let saved = Counters {
            admitted: saved.admitted.min(CAP),
            successes: saved.successes.min(CAP),
            failures: saved.failures.min(CAP),
            ignored: saved.ignored.min(CAP),
            slow: saved.slow.min(CAP),
            rejected: saved.rejected.min(CAP),
        };
        let now = self.counters();
        let b = &self.busy;
        let failures = saved.failures.saturating_sub(now.failures);
        let successes = saved.successes.saturating_sub(now.successes);
        // SeqCst, counted as recorded before as failed: see `counters`.
        b.other_recorded
            .fetch_add(successes.saturating_add(failures), Ordering::SeqCst);
        b.lane_counts.add(Counted::Failures, failures);
        // Relaxed: statistics.
        b.ignored
            .fetch_add(saved.ignored.saturating_sub(now.ignored), Ordering::Relaxed);
        b.slow
            .fetch_add(saved.slow.saturating_sub(now.slow), Ordering::Relaxed);
        b.lane_counts.add(
            Counted::Rejections,
            saved.rejected.saturating_sub(now.rejected),
        );
    }

    pub(super) fn metrics(&self) -> Metrics {
        let word = self.word();
        let mut counters = self.counters();
        // Read once more, so that the reasons sum to the total the metrics give.
        let rejected_by = self.rejected_by();
        counters.rejected = rejected_by.iter().sum();
        let window = self.window_counts();
        Metrics {
            state: word.state(),
            counters,
            window_calls: window.calls,
            window_failures: window.failures,
            window_slow: window.slow,
            limit: self.bulkhead_limit(),
            rejected_by,
            failure_kinds: self.failure_kinds(),
        }
    }

    /// The bulkhead's limit now (`Metrics::limit`).
    pub(super) fn bulkhead_limit(&self) -> Option<u32> {
        let flags = self.hot.config.flags();
        if !flags.contains(Flags::BULKHEAD) {
            None
        } else if flags.contains(Flags::ADAPTIVE) {
            Some(self.adaptive_limit())
        } else {
            Some(self.hot.config.max_concurrent())
        }
    }

    /// The window's counts as they are now, stripes included.
    pub(super) fn window_counts(&self) -> WindowCounts {
        let mut tally = self.window_tally();
        if let (Some(stripes), WindowStore::Count(w)) = (&self.hot.stripes, self.window_or_unmade())
        {
            let s = stripes.tally(w.size());
            tally.calls += s.calls;
            tally.failures += s.failures;
        }
        WindowCounts {
            calls: tally.calls as u64,
            failures: tally.failures as u64,
            // Slow flags are not kept while no slow-call rule is set (see window/count.rs).
            slow: if self.hot.config.flags().contains(Flags::SLOW) {
                tally.slow as u64
            } else {
                0
            },
        }
    }

    /// The shared window's counts as they are now (for `metrics` and for judging again).
    pub(super) fn window_tally(&self) -> Tally {
        match self.window_or_unmade() {
            // SeqCst: the cursor is loaded like the window's bits (see window/count.rs).
            WindowStore::Count(w) => w.tally(self.busy.cursor.load(Ordering::SeqCst)),
            WindowStore::Time(w) => w.tally(self.cold.clock.now()),
            // Nothing recorded yet.
            WindowStore::Unmade => Tally::default(),
        }
    }

    /// Time left in the current open period; `None` unless the breaker is `Open`.
    pub(super) fn open_remaining(&self) -> Option<Duration> {
        let deadline = self.open_deadline(self.word())?;
        Some(Duration::from_nanos(
            deadline.saturating_sub(self.cold.clock.now()),
        ))
    }

    /// What `restore` needs to put this breaker back as it is now.
    pub(super) fn saved_state(&self) -> SavedState {
        SavedState {
            state: self.word().state(),
            open_remaining: self.open_remaining(),
            backoff_step: self.word().step(),
            counters: self.counters(),
        }
    }

    /// `Breaker::heap_bytes`: an estimate of the heap bytes this breaker holds.
    pub(super) fn heap_bytes(&self) -> usize {
        let store_bytes = |s: &WindowStore| std::mem::size_of::<WindowStore>() + s.heap_bytes();
        let extras = self.cold.extras.get().map_or(0, |e| {
            let stores = lock(&e.stores);
            std::mem::size_of::<Extras>()
                + stores.iter().map(|s| store_bytes(s)).sum::<usize>()
                + stores.capacity() * std::mem::size_of::<usize>()
                + e.history_bytes()
                // The events' copy of the name: its own allocation for an inline name.
                + if self.cold.name.heap_bytes() == 0 {
                    e.name.len() + 2 * std::mem::size_of::<usize>()
                } else {
                    0
                }
                + e.latency.get().map_or(0, |l| {
                    std::mem::size_of::<LatencyRecorder>() + l.heap_bytes()
                })
                + e.failure_kinds.get().map_or(0, std::mem::size_of_val)
        });
        // The breaker's allocation is `Inner` alone, laid out by its packing: its reference
        // counts are inside it.
        self.busy.counts.packing().layout().size()
            + self.cold.store.get().map_or(0, store_bytes)
            + extras
            + self.busy.lane_counts.heap_bytes()
            + self.hot.stripes.as_ref().map_or(0, |s| s.heap_bytes())
            + self.cold.name.heap_bytes()
    }
}
