//! Permits: the right to make one call, and how its outcome gets back to the breaker.
//!
//! # Synchronization
//!
//! A permit carries what its acquire decided, its [`Ticket`] (its kind, the epoch of the word
//! it was admitted in, whether it holds a bulkhead slot, its start time), and touches no atomic
//! itself:
//! [`Inner::finish`] gives back the bulkhead slot (`Relaxed`, as `admit` took it) and hands the
//! outcome to record.rs or, for a probe, to transition.rs. An [`OwnedPermit`] also holds a
//! handle of the breaker (one reference-count increment), so the breaker outlives it.

use std::fmt;

use super::Breaker;
use super::flags::Flags;
use super::inner::Inner;
use crate::error::Outcome;
use crate::sync::Ordering;
use crate::verdict::{Failure, Verdict};

/// The start time of a permit acquired while no slow-call rule was set: never slow.
pub(super) const NOT_TIMED: u64 = u64::MAX;

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
    pub(super) inner: &'a Inner,
    pub(super) ticket: Ticket,
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
    ticket: Ticket,
}

/// What an acquire decided about one call, which its permit hands back with the outcome.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ticket {
    pub(super) kind: PermitKind,
    /// The epoch of the word the call was admitted in.
    pub(super) epoch: u32,
    /// Whether the call holds a bulkhead slot.
    pub(super) bulkhead: bool,
    /// Clock time of the acquire, or [`NOT_TIMED`].
    pub(super) start: u64,
}

impl Ticket {
    /// A ticket whose outcome goes nowhere: what a recorded [`OwnedPermit`] is left holding.
    const SPENT: Ticket = Ticket {
        kind: PermitKind::Passthrough,
        epoch: 0,
        bulkhead: false,
        start: NOT_TIMED,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PermitKind {
    /// Admitted in `Closed`, `Recovering` or `MetricsOnly`: recorded into the window.
    Normal,
    /// A half-open probe of the epoch it carries.
    Probe,
    /// Admitted while `Disabled`: records nothing.
    Passthrough,
}

/// What a permit dropped unrecorded counts as: a failure while its thread panics (the call
/// did not finish), else ignored.
#[inline]
fn dropped_outcome() -> Outcome {
    if std::thread::panicking() {
        Outcome::Failure
    } else {
        Outcome::Ignored
    }
}

impl<'a> Permit<'a> {
    /// This permit as an [`OwnedPermit`] holding `breaker`, the handle it was acquired
    /// through; this permit's `Drop` does not run.
    #[inline]
    pub(super) fn into_owned(self, breaker: Breaker) -> OwnedPermit {
        debug_assert!(std::ptr::eq(self.inner, &*breaker.inner));
        let permit = std::mem::ManuallyDrop::new(self);
        OwnedPermit {
            breaker,
            ticket: permit.ticket,
        }
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
        // The permit is consumed here; its Drop must not record a second time. It holds no
        // handle, so nothing is left undropped even if `finish` panics.
        let this = std::mem::ManuallyDrop::new(self);
        this.inner.finish(this.ticket, outcome);
    }

    /// Records a failure with its details: its kind, counted per kind, and the dependency's
    /// Retry-After, which sets a floor under the open period if this failure opens the
    /// breaker (see [`Failure`]).
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// b.try_acquire().unwrap().failure_with(Failure::of_kind("timeout"));
    /// assert_eq!((b.metrics().failures, b.metrics().failures_of_kind("timeout")), (1, 1));
    /// ```
    pub fn failure_with(self, failure: Failure) {
        // As in `record`.
        let this = std::mem::ManuallyDrop::new(self);
        this.inner.finish_failure(this.ticket, failure);
    }

    /// Records what a classifier decided: an [`Outcome`] or a [`Verdict`].
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// b.try_acquire().unwrap().record_verdict(Failure::of_kind("http_5xx"));
    /// b.try_acquire().unwrap().record_verdict(Outcome::Success);
    /// assert_eq!(b.metrics().failures_of_kind("http_5xx"), 1);
    /// ```
    #[inline]
    pub fn record_verdict(self, verdict: impl Into<Verdict>) {
        match verdict.into() {
            Verdict::Success => self.record(Outcome::Success),
            Verdict::Ignored => self.record(Outcome::Ignored),
            Verdict::Failure(failure) => self.failure_with(failure),
        }
    }
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.inner.finish(self.ticket, dropped_outcome());
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
    pub fn record(mut self, outcome: Outcome) {
        // The ticket is spent before it is used: the `Drop` that follows (or unwinds, if
        // `finish` panics) records nothing and only gives the handle back.
        let ticket = std::mem::replace(&mut self.ticket, Ticket::SPENT);
        self.breaker.inner.finish(ticket, outcome);
    }

    /// Records a failure with its details (see [`Permit::failure_with`]).
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// b.try_acquire_owned().unwrap().failure_with(Failure::of_kind("connect"));
    /// assert_eq!(b.metrics().failures_of_kind("connect"), 1);
    /// ```
    pub fn failure_with(mut self, failure: Failure) {
        // As in `record`.
        let ticket = std::mem::replace(&mut self.ticket, Ticket::SPENT);
        self.breaker.inner.finish_failure(ticket, failure);
    }

    /// Records what a classifier decided (see [`Permit::record_verdict`]).
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// b.try_acquire_owned().unwrap().record_verdict(Outcome::Ignored);
    /// assert_eq!(b.metrics().ignored, 1);
    /// ```
    #[inline]
    pub fn record_verdict(self, verdict: impl Into<Verdict>) {
        match verdict.into() {
            Verdict::Success => self.record(Outcome::Success),
            Verdict::Ignored => self.record(Outcome::Ignored),
            Verdict::Failure(failure) => self.failure_with(failure),
        }
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
        self.breaker.inner.finish(self.ticket, dropped_outcome());
    }
}

impl fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.ticket.describe(f, "OwnedPermit", self.breaker.name())
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.ticket.describe(f, "Permit", &self.inner.cold.name)
    }
}

impl Ticket {
    /// The `Debug` form of a permit named `what` of the breaker `breaker`.
    fn describe(&self, f: &mut fmt::Formatter<'_>, what: &str, breaker: &str) -> fmt::Result {
        f.debug_struct(what)
            .field("breaker", &breaker)
            .field("kind", &self.kind)
            .field("epoch", &self.epoch)
            .field("bulkhead", &self.bulkhead)
            .finish()
    }
}

impl Inner {
    /// Reports the outcome of a permit's call.
    #[inline(always)]
    fn finish(&self, ticket: Ticket, outcome: Outcome) {
        // Only a timed permit can need its duration: an untimed one costs this one compare.
        if ticket.start != NOT_TIMED && self.hot.config.flags().contains(Flags::LATENCY) {
            self.record_latency(ticket.start);
        }
        if ticket.bulkhead {
            // Relaxed: see `admit`.
            self.busy.permits_out.fetch_sub(1, Ordering::Relaxed);
        }
        match ticket.kind {
            PermitKind::Normal => self.record(outcome, ticket.start),
            PermitKind::Probe => self.finish_probe(ticket.epoch, ticket.start, outcome),
            PermitKind::Passthrough => {}
        }
    }

    /// Reports a failure with its details: the Retry-After floor goes in before the failure
    /// is recorded (so a trip it causes sees it), the kind is counted after.
    #[cold]
    fn finish_failure(&self, ticket: Ticket, failure: Failure) {
        let recorded = ticket.kind != PermitKind::Passthrough;
        if recorded {
            if let Some(after) = failure.retry_after_hint() {
                self.raise_retry_after_floor(after);
            }
        }
        self.finish(ticket, Outcome::Failure);
        if let (true, Some(kind)) = (recorded, failure.kind()) {
            self.count_failure_kind(kind);
        }
    }
}
