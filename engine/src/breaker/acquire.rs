//! Admission: what `try_acquire` decides and how a rejection is built.
//!
//! # Synchronization
//!
//! - The fast path `Acquire`-loads the state word (pairing with the `AcqRel` exchange that
//!   produced it) and reads the flags on their own (`Relaxed`, see config.rs).
//! - **Open deadline** (`open_until`, `open_epoch`), the reader's side (the writer's is in
//!   transition.rs): a reader that sees `Open` of epoch `e` trusts `open_until` only once it
//!   `Acquire`-loads `open_epoch == e`, pairing with the publisher's `Release` store; until
//!   then it rejects without a deadline. A word marked `timed` was marked by an `AcqRel`
//!   exchange after the deadline's stores, so the `Acquire` load of the word that sees the
//!   mark also sees the deadline (or a later episode's), and `open_until` is then read
//!   `Relaxed` without `open_epoch`.
//! - **Ramp start** (`ramp_start`, `ramp_epoch`): the same protocol for `Recovering`.
//! - The bulkhead (`permits_out`) and the ramp counter are `Relaxed` counts that publish
//!   nothing. An adaptive bulkhead's limit is one `Relaxed` load of the limiter's limit word
//!   (adaptive/).
//! - A recorded breaker (the `RECORD` flag) draws its sample at admission and records a
//!   rejection as it builds it: recording.rs says what that touches.

use fusebox_policies::Recovery;

use super::flags::Flags;
use super::inner::Inner;
use super::permit::{NOT_TIMED, PackedTicket, Permit, PermitKind, Ticket};
use crate::clock::duration_nanos;
use crate::counter::Counted;
use crate::error::{Clocked, Name, RejectReason, Rejected, RetryAfter};
use crate::priority::Priority;
use crate::state::{AcquireDecision, ProbeEnd, State, StateWord, TransitionReason};
use crate::sync::Ordering;

/// The recovery ramp's share is counted in billionths.
const RAMP_SCALE: u128 = 1_000_000_000;

/// The rules that take a closed admission off the fast path: a permit that must be timed (for
/// a slow-call rule, the latency histogram, an adaptive limit that reads latency or a call
/// recorder), counted against the bulkhead (static or adaptive), or take a token of the rate
/// limit.
const TIMED_OR_BOUNDED: Flags = Flags::SLOW
    .union(Flags::LATENCY)
    .union(Flags::RECORD)
    .union(Flags::BULKHEAD)
    .union(Flags::RATE_LIMIT);

/// The rules whose every permit carries its start time (an adaptive limit that reads latency
/// times only some: see `adaptive::time_this_admission`; a recorded breaker's permits are
/// timed when their call is sampled: see `admit`).
const TIMED: Flags = Flags::SLOW.union(Flags::LATENCY);

/// What the slow path of an acquire decided: a permit's ticket, or a rejection without its
/// name, already counted and recorded. `try_acquire_with` builds the permit or the rejection
/// from it.
///
/// Two words, so that it comes back in registers: a packed ticket, or, with the kind byte
/// [`Slow::REJECT`], the rejection's word (see `Rejected`) and whether it names the breaker
/// by a handle for its clock (bit 8, see [`Inner::rejection_name`]). The slow path used to
/// return the whole result (then 40 bytes), which comes back through memory; the compiler
/// then built the fast paths' results in that memory too, so that `try_acquire().is_err()`
/// on an open breaker paid five stores and an indirect jump for a result it never reads. With
/// this, and the handle coming back in registers too (`clocked_handle`), no path's result
/// needs memory (see also `Clocked`'s drop).
#[derive(Clone, Copy)]
struct Slow(PackedTicket);

impl Slow {
    /// The kind byte of a rejection: no [`PermitKind`].
    const REJECT: u8 = u8::MAX;
    const CLOCKED: u64 = 1 << 8;

    fn admit(ticket: Ticket) -> Slow {
        Slow(ticket.pack())
    }

    fn reject(word: u64, clocked: bool) -> Slow {
        Slow(PackedTicket {
            start: word,
            bits: u64::from(Slow::REJECT) | if clocked { Slow::CLOCKED } else { 0 },
        })
    }

    /// The rejection's word and whether it is clocked, if this is one.
    #[inline(always)]
    fn rejection(self) -> Option<(u64, bool)> {
        (self.0.bits as u8 == Slow::REJECT)
            .then_some((self.0.start, self.0.bits & Slow::CLOCKED != 0))
    }
}

impl Inner {
    /// `Breaker::try_acquire`: [`try_acquire_with`](Self::try_acquire_with) at `Normal`
    /// priority, the same code with a constant.
    #[inline(always)]
    pub(super) fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        self.try_acquire_with(Priority::Normal)
    }

    /// `Breaker::try_acquire_with`: the closed fast path and the timed rejection inline; the
    /// rest decided out of line and built here from the decision (see [`Slow`]). The priority
    /// matters only to the bulkhead, off the fast path.
    #[inline(always)]
    pub(super) fn try_acquire_with(&self, priority: Priority) -> Result<Permit<'_>, Rejected> {
        // Acquire: pairs with the AcqRel exchange that produced this word (see module docs).
        let word = StateWord::from_bits(self.hot.state.load(Ordering::Acquire));
        // The flags are read on their own (Relaxed): a swap racing with us may go either way.
        if word.is_closed() && !self.hot.config.flags().intersects(TIMED_OR_BOUNDED) {
            return Ok(Permit {
                inner: self,
                ticket: Ticket {
                    kind: PermitKind::Normal,
                    epoch: word.epoch(),
                    bulkhead: false,
                    start: NOT_TIMED,
                    recorded: false,
                },
            });
        }
        if word.rejects_timed() {
            // Relaxed: the deadline was stored before the exchange that marked the word
            // timed, which the Acquire load above pairs with (see module docs).
            let deadline = self.hot.open_until.load(Ordering::Relaxed);
            #[cfg(loom)]
            self.assert_deadline_published(word);
            // Built here, in the result, not moved out of a helper's (see `Rejected`'s word).
            // Not recorded: a recorded breaker's words are never timed (transition.rs).
            self.busy.lane_counts.increment(Counted::Rejections);
            return Err(Rejected::new(
                RejectReason::Open,
                State::Open,
                RetryAfter::deadline_within_range(deadline),
                self.cold.name.to_name(),
            ));
        }
        let slow = self.acquire_slow(word, priority);
        match slow.rejection() {
            None => Ok(Permit {
                inner: self,
                ticket: slow.0.unpack(),
            }),
            Some((word, clocked)) => {
                Err(Rejected::from_word(word, self.rejection_name_for(clocked)))
            }
        }
    }

    #[cold]
    fn acquire_slow(&self, mut word: StateWord, priority: Priority) -> Slow {
        loop {
            // One value on its own: no seqlock needed (see config.rs).
            let permits = self.hot.config.half_open_permits();
            match word.acquire(permits) {
                AcquireDecision::Admit => return self.admit(PermitKind::Normal, word, priority),
                AcquireDecision::Passthrough => {
                    return self.admit(PermitKind::Passthrough, word, priority);
                }
                AcquireDecision::Probe(next) => match self.exchange(word, next) {
                    Ok(()) => {
                        if word.state() == State::Open {
                            self.emit(word, next, TransitionReason::OpenTimeoutElapsed, None);
                        }
                        return self.admit(PermitKind::Probe, next, priority);
                    }
                    Err(actual) => word = actual,
                },
                AcquireDecision::Open => match self.open_check(word) {
                    Ok(next) => word = next,
                    Err(retry) => return self.reject(RejectReason::Open, word, retry),
                },
                AcquireDecision::Ramp => match self.ramp_check(word) {
                    Ok(Some(next)) => word = next,
                    Ok(None) => return self.admit(PermitKind::Normal, word, priority),
                    Err(()) => {
                        return self.reject(RejectReason::Ramp, word, RetryAfter::UNKNOWN);
                    }
                },
                AcquireDecision::HalfOpenFull => {
                    return self.reject(RejectReason::HalfOpenFull, word, RetryAfter::UNKNOWN);
                }
                AcquireDecision::ForcedOpen => {
                    return self.reject(RejectReason::ForcedOpen, word, RetryAfter::UNKNOWN);
                }
            }
        }
    }

    /// `Open`: returns the word to retry with if the open period has passed (`Open` marked
    /// expired), or when to come back.
    #[inline]
    fn open_check(&self, word: StateWord) -> Result<StateWord, RetryAfter> {
        let Some(deadline) = self.open_deadline(word) else {
            return Err(RetryAfter::UNKNOWN);
        };
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
        let c = self.extras().ramp_counter.fetch_add(1, Ordering::Relaxed) as u128;
        // Admit the c-th acquire iff ⌊(c+1)·p⌋ > ⌊c·p⌋: over any n consecutive acquires at
        // share p this admits ⌊p·n⌋ or ⌈p·n⌉.
        if (c + 1) * p / RAMP_SCALE != c * p / RAMP_SCALE {
            Ok(None)
        } else {
            Err(())
        }
    }

    #[inline]
    fn admit(&self, kind: PermitKind, word: StateWord, priority: Priority) -> Slow {
        // Two values read on their own, not through the seqlock: a swap racing with this
        // acquire can at worst apply the old bulkhead or none to it, once.
        let flags = self.hot.config.flags();
        let mut bulkhead = false;
        if flags.contains(Flags::BULKHEAD) {
            let limit = if flags.contains(Flags::ADAPTIVE) {
                self.adaptive_limit()
            } else {
                self.hot.config.max_concurrent()
            };
            let cap = priority.cap(limit);
            // Relaxed: the count itself is the only shared data; a permit's work is the
            // caller's, not published through the bulkhead. An admission leaves at most `cap`
            // slots out, itself included: the limit it read, plus the reserve if critical.
            if self.busy.permits_out.fetch_add(1, Ordering::Relaxed) >= cap {
                self.busy.permits_out.fetch_sub(1, Ordering::Relaxed);
                if kind == PermitKind::Probe {
                    self.end_probe(word.epoch(), ProbeEnd::Release);
                }
                return self.reject(RejectReason::BulkheadFull, word, RetryAfter::UNKNOWN);
            }
            bulkhead = true;
        }
        // The rate limit comes after the bulkhead: its token cannot be given back, a bulkhead
        // slot can. A breaker switched off by hand (`Disabled`) is not rate limited.
        let mut now = None;
        if flags.contains(Flags::RATE_LIMIT) && kind != PermitKind::Passthrough {
            let t = self.cold.clock.now();
            now = Some(t);
            if let Err(at) = self.take_rate_token(t) {
                if bulkhead {
                    // Relaxed: as the bulkhead was taken.
                    self.busy.permits_out.fetch_sub(1, Ordering::Relaxed);
                }
                if kind == PermitKind::Probe {
                    self.end_probe(word.epoch(), ProbeEnd::Release);
                }
                let retry = RetryAfter::rate_limited(at, word.state());
                return self.reject(RejectReason::RateLimited, word, retry);
            }
        }
        // A recorded breaker's call is sampled here, once: a call sampled out is timed only
        // if another rule needs it.
        let recorded = flags.contains(Flags::RECORD) && self.sample_call();
        let timed = recorded
            || flags.intersects(TIMED)
            || (flags.contains(Flags::ADAPTIVE_TIMED)
                && bulkhead
                && super::adaptive::time_this_admission());
        let start = if timed {
            now.unwrap_or_else(|| self.cold.clock.now())
        } else {
            NOT_TIMED
        };
        Slow::admit(Ticket {
            kind,
            epoch: word.epoch(),
            bulkhead,
            start,
            recorded,
        })
    }

    #[cold]
    fn reject(&self, reason: RejectReason, word: StateWord, retry: RetryAfter) -> Slow {
        self.count_rejection(reason);
        if self.hot.config.flags().contains(Flags::RECORD) {
            self.record_rejection(reason);
        }
        Slow::reject(
            Rejected::word_of(reason, word.state(), retry),
            matches!(reason, RejectReason::Open | RejectReason::RateLimited) && self.clocked(),
        )
    }

    /// Whether this breaker's `Open` and rate-limited rejections carry a handle of it (see
    /// [`rejection_name`](Self::rejection_name)).
    fn clocked(&self) -> bool {
        !self.cold.clock.is_quanta()
    }

    /// A rejection's name: a handle of the breaker if `clocked` and the breaker is not being
    /// dropped, else its own name.
    #[inline(always)]
    fn rejection_name_for(&self, clocked: bool) -> Name {
        match clocked.then(|| self.clocked_handle()).flatten() {
            Some(handle) => Name::Clocked(handle),
            None => self.cold.name.to_name(),
        }
    }

    /// A handle of the breaker as a rejection's name, unless its data is being dropped. Out of
    /// line, and coming back in two registers (see [`Slow`]).
    #[cold]
    #[inline(never)]
    fn clocked_handle(&self) -> Option<Clocked> {
        self.cold.me.handle().map(|me| me.into_clocked())
    }

    /// The name an `Open` rejection carries: on a clock other than the quanta clock, a handle
    /// of the breaker, so that its `retry_after` counts down on that clock. That costs a
    /// reference-count increment per such rejection, and the rejection keeps the breaker
    /// alive (it counts in `handle_count`) while it is held; the quanta clock pays neither.
    fn rejection_name(&self) -> Name {
        self.rejection_name_for(self.clocked())
    }

    /// `Breaker::open_rejection`: the rejection an acquire would get now for the breaker being
    /// open or forced open, without acquiring, counting or moving the breaker.
    pub(super) fn open_rejection(&self) -> Option<Rejected> {
        let word = self.word();
        match word.state() {
            State::ForcedOpen => Some(Rejected::new(
                RejectReason::ForcedOpen,
                State::ForcedOpen,
                RetryAfter::UNKNOWN,
                self.cold.name.to_name(),
            )),
            // The period is over: the next acquire probes.
            State::Open if word.expired() => None,
            State::Open => {
                let deadline = self.open_deadline(word);
                // A timed word is expired by the timer at its deadline: no clock read.
                if !word.timed() && deadline.is_some_and(|d| d <= self.cold.clock.now()) {
                    return None;
                }
                Some(Rejected::new(
                    RejectReason::Open,
                    State::Open,
                    deadline.map_or(RetryAfter::UNKNOWN, RetryAfter::deadline),
                    self.rejection_name(),
                ))
            }
            _ => None,
        }
    }

    /// The deadline of `word`'s open period, once published; `None` unless `word` is `Open`.
    pub(super) fn open_deadline(&self, word: StateWord) -> Option<u64> {
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
}
