//! Permits: the right to make one call, and how its outcome gets back to the breaker.
//!
//! # Synchronization
//!
//! A permit carries what its acquire decided, its [`Ticket`] (its kind, the epoch of the word
//! it was admitted in, whether it holds a bulkhead slot, its start time), and touches no atomic
//! itself:
//! [`Inner::finish`] gives back the bulkhead slot (`Relaxed`, as `admit` took it), gives an
//! adaptive bulkhead its sample (adaptive/), and hands the outcome to record.rs or, for a
//! probe, to transition.rs. An [`OwnedPermit`] also holds a
//! handle of the breaker (one reference-count increment), so the breaker outlives it, and
//! keeps its ticket packed in two words ([`PackedTicket`]).

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
    ticket: PackedTicket,
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
    /// Whether the call goes into the breaker's call recorder (sampled at admission; its
    /// `start` is then timed).
    pub(super) recorded: bool,
}

/// A [`Ticket`] as an [`OwnedPermit`] keeps it: two words, each written whole (`bits` packs the
/// kind, the bulkhead flag and the epoch). An owned permit is moved, into a future or a task;
/// a ticket built from narrow field stores and then moved with one wide load stalls store
/// forwarding, which cost about 10 ns a permit moved into a tower response future (17.6 ns
/// against 7.2 ns a call in `benches/benches/tower.rs`). A borrowed
/// [`Permit`] keeps its fields apart, where the compiler holds them in registers.
#[derive(Clone, Copy)]
pub(super) struct PackedTicket {
    /// [`Ticket::start`].
    pub(super) start: u64,
    /// The kind (bits 0..8), the bulkhead flag (bit 8), the recorded flag (bit 9) and the
    /// epoch (bits 32..64).
    pub(super) bits: u64,
}

impl Ticket {
    #[inline(always)]
    pub(super) fn pack(self) -> PackedTicket {
        PackedTicket {
            start: self.start,
            bits: self.kind as u64
                | (self.bulkhead as u64) << 8
                | (self.recorded as u64) << 9
                | (self.epoch as u64) << 32,
        }
    }
}

impl PackedTicket {
    #[inline(always)]
    pub(super) fn unpack(self) -> Ticket {
        Ticket {
            kind: match self.bits as u8 {
                0 => PermitKind::Normal,
                1 => PermitKind::Probe,
                _ => PermitKind::Passthrough,
            },
            epoch: (self.bits >> 32) as u32,
            bulkhead: self.bits & 1 << 8 != 0,
            start: self.start,
            recorded: self.bits & 1 << 9 != 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
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
    #[inline(always)]
    pub(super) fn into_owned(self, breaker: Breaker) -> OwnedPermit {
        debug_assert!(std::ptr::eq(self.inner, &*breaker.inner));
        let permit = std::mem::ManuallyDrop::new(self);
        OwnedPermit {
            breaker,
            ticket: permit.ticket.pack(),
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
    #[inline(always)]
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
    #[inline(always)]
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
    #[inline(always)]
    pub fn record(self, outcome: Outcome) {
        // The handle is taken out before the outcome is reported: it is dropped after `finish`
        // (or during the unwind, if `finish` panics), and nothing records a second time.
        let (breaker, ticket) = self.into_parts();
        breaker.inner.finish(ticket, outcome);
    }

    /// Records a failure with its details (see [`Permit::failure_with`]).
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// b.try_acquire_owned().unwrap().failure_with(Failure::of_kind("connect"));
    /// assert_eq!(b.metrics().failures_of_kind("connect"), 1);
    /// ```
    pub fn failure_with(self, failure: Failure) {
        // As in `record`.
        let (breaker, ticket) = self.into_parts();
        breaker.inner.finish_failure(ticket, failure);
    }

    /// Records what a classifier decided (see [`Permit::record_verdict`]).
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// b.try_acquire_owned().unwrap().record_verdict(Outcome::Ignored);
    /// assert_eq!(b.metrics().ignored, 1);
    /// ```
    #[inline(always)]
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

    /// The handle and the ticket, moved out without running `Drop`.
    ///
    /// Not `mem::replace` of the ticket with a spent one for `Drop` to find: that writes the
    /// ticket whole and has `Drop` read it back field by field, loads the store cannot forward
    /// to, which cost about 12 ns a permit (19 ns against 7 for `try_acquire_owned` and
    /// `success` in a loop).
    #[inline(always)]
    fn into_parts(self) -> (Breaker, Ticket) {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used again nor dropped, so the handle is moved out of it
        // exactly once, and dropped once by the caller.
        let breaker = unsafe { std::ptr::read(&this.breaker) };
        (breaker, this.ticket.unpack())
    }
}

impl Drop for OwnedPermit {
    #[inline]
    fn drop(&mut self) {
        self.breaker
            .inner
            .finish(self.ticket.unpack(), dropped_outcome());
    }
}

impl fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.ticket
            .unpack()
            .describe(f, "OwnedPermit", self.breaker.name())
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.ticket
            .describe(f, "Permit", self.inner.cold.name.as_str())
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
        if ticket.bulkhead {
            // Relaxed: see `admit`.
            let in_flight = self.busy.permits_out.fetch_sub(1, Ordering::Relaxed);
            let flags = self.hot.config.flags();
            if flags.contains(Flags::ADAPTIVE) && ticket.kind != PermitKind::Passthrough {
                self.sample_limit(flags, ticket.start, outcome, in_flight);
            }
        }
        match ticket.kind {
            PermitKind::Normal => self.record(outcome, ticket.start, ticket.recorded),
            PermitKind::Probe => {
                self.finish_probe(ticket.epoch, ticket.start, outcome, ticket.recorded);
            }
            PermitKind::Passthrough => {
                if ticket.recorded {
                    self.record_call(outcome, ticket.start, self.cold.clock.now());
                }
            }
        }
    }

    /// Reports a failure with its details: the Retry-After floor goes in before the failure
    /// is recorded (so a trip it causes sees it), the kind is counted after.
    #[cold]
    fn finish_failure(&self, ticket: Ticket, failure: Failure) {
        let recorded = ticket.kind != PermitKind::Passthrough;
        if recorded && let Some(after) = failure.retry_after_hint() {
            self.raise_retry_after_floor(after);
        }
        self.finish(ticket, Outcome::Failure);
        if let (true, Some(kind)) = (recorded, failure.kind()) {
            self.count_failure_kind(kind);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_ticket_unpacks_to_what_was_packed() {
        for kind in [
            PermitKind::Normal,
            PermitKind::Probe,
            PermitKind::Passthrough,
        ] {
            for epoch in [0, 1, 0x8000_0000, u32::MAX] {
                for (bulkhead, recorded) in
                    [(false, false), (true, false), (false, true), (true, true)]
                {
                    for start in [0, 1, NOT_TIMED - 1, NOT_TIMED] {
                        let ticket = Ticket {
                            kind,
                            epoch,
                            bulkhead,
                            start,
                            recorded,
                        };
                        let t = ticket.pack().unpack();
                        assert_eq!(
                            (t.kind, t.epoch, t.bulkhead, t.start, t.recorded),
                            (kind, epoch, bulkhead, start, recorded)
                        );
                    }
                }
            }
        }
        assert_eq!(std::mem::size_of::<PackedTicket>(), 16);
    }
}
