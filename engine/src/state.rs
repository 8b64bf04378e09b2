//! The breaker's state machine: one `u64` state word and the pure functions that move it.
//!
//! Every change of state is one `compare_exchange` of the word from a value the caller loaded to
//! the value one of these functions computed from it. The functions never read the clock or any
//! other memory, so they are unit-tested here without threads and modelled in `loom-tests/`.
//!
//! ```text
//!             trip                 open period passed (next acquire)
//!   Closed ─────────────▶ Open ───────────────────────────────▶ HalfOpen
//!     ▲  ▲                 ▲  ◀──────── one probe fails ───────────┘ │
//!     │  │                 │                                         │ success_threshold
//!     │  └──── ramp over ──┴──── trip ─── Recovering ◀── (ramp) ─────┤ probe successes
//!     └──────────────────────────────────────────────── (immediate) ─┘
//!   ForcedOpen, Disabled, MetricsOnly: entered by hand; reset() returns to Closed.
//! ```

use std::fmt;

use fusebox_policies::MAX_HALF_OPEN_PERMITS;

/// The state of a breaker.
///
/// # Examples
///
/// ```
/// use fusebox_engine::State;
/// assert_eq!(State::HalfOpen.to_string(), "half-open");
/// assert!(State::Closed.admits());
/// assert!(!State::ForcedOpen.admits());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Calls flow; outcomes are recorded and may trip the breaker.
    Closed,
    /// Calls are rejected until the open period has passed.
    Open,
    /// A bounded number of probe calls decide between closing and re-opening.
    HalfOpen,
    /// Closing gradually: a rising share of calls is admitted.
    Recovering,
    /// Opened by hand: every call is rejected until `reset`.
    ForcedOpen,
    /// Switched off by hand: every call is admitted and nothing is recorded.
    Disabled,
    /// Every call is admitted and recorded, but the breaker never changes state by itself.
    MetricsOnly,
}

impl State {
    /// Every state, in the order of the state word's `kind` field.
    ///
    /// ```
    /// assert_eq!(fusebox_engine::State::ALL.len(), 7);
    /// ```
    pub const ALL: [State; 7] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::Recovering,
        State::ForcedOpen,
        State::Disabled,
        State::MetricsOnly,
    ];

    /// The state's index in the state word's `kind` field.
    #[inline]
    pub(crate) fn index(self) -> usize {
        State::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    /// The state at `index` (`Closed` for an index no state has).
    #[inline]
    pub(crate) fn from_index(index: usize) -> State {
        State::ALL.get(index).copied().unwrap_or(State::Closed)
    }

    /// Whether this state admits calls at all (`HalfOpen` and `Recovering` admit some).
    ///
    /// ```
    /// assert!(fusebox_engine::State::HalfOpen.admits());
    /// assert!(!fusebox_engine::State::Open.admits());
    /// ```
    pub fn admits(self) -> bool {
        !matches!(self, State::Open | State::ForcedOpen)
    }

    /// The state's name in lower case, as in `Display`.
    ///
    /// ```
    /// assert_eq!(fusebox_engine::State::MetricsOnly.as_str(), "metrics-only");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half-open",
            State::Recovering => "recovering",
            State::ForcedOpen => "forced-open",
            State::Disabled => "disabled",
            State::MetricsOnly => "metrics-only",
        }
    }

    /// The state as a label value for exporters: the snake_case of its name.
    ///
    /// ```
    /// assert_eq!(fusebox_engine::State::HalfOpen.as_label(), "half_open");
    /// ```
    pub fn as_label(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
            State::Recovering => "recovering",
            State::ForcedOpen => "forced_open",
            State::Disabled => "disabled",
            State::MetricsOnly => "metrics_only",
        }
    }

    /// Whether outcomes recorded in this state go into the sliding window.
    #[inline]
    pub(crate) fn records_window(self) -> bool {
        matches!(self, State::Closed | State::Recovering | State::MetricsOnly)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state word: every field a state change must update together, in one `u64`.
///
/// ```text
///  63          42  41  40       26 25       11 10    5   4     3     2  0
/// ┌──────────────┬───┬───────────┬───────────┬──────┬─────┬───────┬────┐
/// │ epoch (22)   │ 0 │probe succ │ in flight │ step │timed│expired│kind│
/// └──────────────┴───┴───────────┴───────────┴──────┴─────┴───────┴────┘
/// ```
/// - `kind`: the [`State`] as its index.
/// - `expired`: in `Open`, the open period is known to have passed (set by the timer thread).
/// - `timed`: in `Open`, the timer thread watches this episode's deadline, which was
///   published before the bit was set: a rejection needs no clock read and no other load to
///   decide (see [`rejects_timed`](Self::rejects_timed)). Set only on an unexpired `Open`
///   word, and cleared by every function that moves a word out of that (expiry clears it;
///   every change of kind starts a fresh word), so the bit alone says `Open`, unexpired,
///   timed.
/// - `step`: how many re-opens in a row, for the backoff; 0 in `Closed`.
/// - `in flight`, `probe succ`: half-open probes out and probe successes so far (15 bits
///   each: a policy allows at most 10 000 probes, and needs at most that many successes).
/// - `epoch`: bumped on every change of kind, so a probe permit from an earlier half-open
///   episode can never release a slot or count a success in a later one.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StateWord(u64);

const KIND_MASK: u64 = 0b111;
const EXPIRED: u64 = 1 << 3;
const TIMED: u64 = 1 << 4;
const STEP_SHIFT: u32 = 5;
const STEP_BITS: u32 = 6;
const INFLIGHT_SHIFT: u32 = 11;
const COUNT_BITS: u32 = 15;
const SUCC_SHIFT: u32 = 26;
/// Bit 41 is unused.
const EPOCH_SHIFT: u32 = 42;
const EPOCH_BITS: u32 = 22;

/// The largest backoff step the word holds; the backoff saturates long before it.
pub const MAX_STEP: u32 = (1 << STEP_BITS) - 1;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
const STEP_MASK: u64 = (1 << STEP_BITS) - 1;
pub(crate) const EPOCH_MASK: u64 = (1 << EPOCH_BITS) - 1;

const _: () = assert!(State::ALL.len() as u64 <= KIND_MASK + 1);
/// `Open`'s kind.
const OPEN_KIND: u64 = 1;
const _: () = assert!(matches!(State::ALL[OPEN_KIND as usize], State::Open));
const _: () = assert!(STEP_SHIFT + STEP_BITS == INFLIGHT_SHIFT);
const _: () = assert!(INFLIGHT_SHIFT + COUNT_BITS == SUCC_SHIFT);
const _: () = assert!(SUCC_SHIFT + COUNT_BITS < EPOCH_SHIFT);
const _: () = assert!(EPOCH_SHIFT + EPOCH_BITS == 64);
const _: () = assert!((MAX_HALF_OPEN_PERMITS as u64) < COUNT_MASK);

/// Why a breaker changed state.
///
/// # Examples
///
/// ```
/// use fusebox_engine::TransitionReason;
/// assert_eq!(TransitionReason::FailureRate.to_string(), "failure rate reached the threshold");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransitionReason {
    /// The failure rate in the window reached the threshold.
    FailureRate,
    /// The slow-call rate in the window reached the threshold.
    SlowCallRate,
    /// The configured number of failures in a row.
    ConsecutiveFailures,
    /// The open period passed; the next call is a probe.
    OpenTimeoutElapsed,
    /// A half-open probe failed.
    ProbeFailed,
    /// Enough half-open probes succeeded.
    ProbesSucceeded,
    /// The recovery ramp reached 100 %.
    RampComplete,
    /// `force_open` was called.
    ForcedOpen,
    /// `disable` was called.
    Disabled,
    /// `metrics_only` was called.
    MetricsOnly,
    /// `reset` was called.
    Reset,
    /// State was put back from a snapshot.
    Restored,
    /// Other instances of the fleet opened the breaker
    /// ([`Breaker::follow_open`](crate::Breaker::follow_open)).
    Fleet,
    /// An operator switched the policy's chaos off
    /// ([`Noted::chaos_off`](crate::Noted::chaos_off)): a policy change, kept in the history
    /// with the operator's note; the state is unchanged.
    ChaosOff,
}

impl TransitionReason {
    /// The reason as a label value for exporters: the snake_case of its name.
    ///
    /// ```
    /// use fusebox_engine::TransitionReason;
    /// assert_eq!(TransitionReason::OpenTimeoutElapsed.as_label(), "open_timeout_elapsed");
    /// ```
    pub fn as_label(self) -> &'static str {
        match self {
            TransitionReason::FailureRate => "failure_rate",
            TransitionReason::SlowCallRate => "slow_call_rate",
            TransitionReason::ConsecutiveFailures => "consecutive_failures",
            TransitionReason::OpenTimeoutElapsed => "open_timeout_elapsed",
            TransitionReason::ProbeFailed => "probe_failed",
            TransitionReason::ProbesSucceeded => "probes_succeeded",
            TransitionReason::RampComplete => "ramp_complete",
            TransitionReason::ForcedOpen => "forced_open",
            TransitionReason::Disabled => "disabled",
            TransitionReason::MetricsOnly => "metrics_only",
            TransitionReason::Reset => "reset",
            TransitionReason::Restored => "restored",
            TransitionReason::Fleet => "fleet",
            TransitionReason::ChaosOff => "chaos_off",
        }
    }
}

impl fmt::Display for TransitionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransitionReason::FailureRate => "failure rate reached the threshold",
            TransitionReason::SlowCallRate => "slow-call rate reached the threshold",
            TransitionReason::ConsecutiveFailures => "consecutive failures reached the threshold",
            TransitionReason::OpenTimeoutElapsed => "open period elapsed",
            TransitionReason::ProbeFailed => "a half-open probe failed",
            TransitionReason::ProbesSucceeded => "half-open probes succeeded",
            TransitionReason::RampComplete => "recovery ramp complete",
            TransitionReason::ForcedOpen => "forced open",
            TransitionReason::Disabled => "disabled",
            TransitionReason::MetricsOnly => "switched to metrics only",
            TransitionReason::Reset => "reset",
            TransitionReason::Restored => "restored from a snapshot",
            TransitionReason::Fleet => "opened on other instances of the fleet",
            TransitionReason::ChaosOff => "chaos switched off",
        })
    }
}

/// What an acquire does, decided from the state word alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcquireDecision {
    /// Admit without changing the word (`Closed`, `MetricsOnly`).
    Admit,
    /// Admit and record nothing (`Disabled`).
    Passthrough,
    /// Store this word and admit the call as a half-open probe of the new word's epoch.
    Probe(StateWord),
    /// `Open` whose deadline has not been seen to pass: reject, unless the caller checks the
    /// clock and finds it has (then it calls [`StateWord::open_elapsed`]).
    Open,
    /// Ask the recovery ramp.
    Ramp,
    /// Reject: half-open has every probe slot taken.
    HalfOpenFull,
    /// Reject: forced open.
    ForcedOpen,
}

/// What a finished half-open probe does to the word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeEnd {
    /// The probe succeeded.
    Success,
    /// The probe failed.
    Failure,
    /// The probe was ignored or dropped: its slot is given back.
    Release,
}

impl StateWord {
    /// A fresh `Closed` word.
    pub const CLOSED: StateWord = StateWord(0);

    /// The raw bits, for storing in an atomic.
    #[inline]
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// A word from raw bits loaded from an atomic.
    #[inline]
    pub const fn from_bits(bits: u64) -> Self {
        StateWord(bits)
    }

    /// The state.
    #[inline]
    pub fn state(self) -> State {
        // The kind is always written from `State::ALL`'s index; 7 is never stored.
        State::ALL
            .get((self.0 & KIND_MASK) as usize)
            .copied()
            .unwrap_or(State::Closed)
    }

    /// Whether the state is `Closed` (one mask, no table lookup: the fast path's test).
    #[inline(always)]
    pub const fn is_closed(self) -> bool {
        self.0 & KIND_MASK == 0
    }

    /// The epoch: which episode of its state this word belongs to.
    #[inline]
    pub const fn epoch(self) -> u32 {
        (self.0 >> EPOCH_SHIFT) as u32
    }

    /// Re-opens in a row, for the backoff.
    #[inline]
    pub const fn step(self) -> u32 {
        ((self.0 >> STEP_SHIFT) & STEP_MASK) as u32
    }

    /// Half-open probes in flight.
    #[inline]
    pub const fn in_flight(self) -> u32 {
        ((self.0 >> INFLIGHT_SHIFT) & COUNT_MASK) as u32
    }

    /// Half-open probe successes so far.
    #[inline]
    pub const fn probe_successes(self) -> u32 {
        ((self.0 >> SUCC_SHIFT) & COUNT_MASK) as u32
    }

    /// Whether the open period is known to have passed.
    #[inline]
    pub const fn expired(self) -> bool {
        self.0 & EXPIRED != 0
    }

    /// Whether the timer thread watches this `Open` episode's deadline (see the type's notes).
    #[inline]
    pub const fn timed(self) -> bool {
        self.0 & TIMED != 0
    }

    /// Whether an acquire in this word is rejected with the published deadline, read from
    /// the word alone: `Open`, not expired, and timed, which the `timed` bit alone says (see
    /// the type's notes). One bit test.
    #[inline(always)]
    pub const fn rejects_timed(self) -> bool {
        self.timed()
    }

    /// The same word without the `timed` mark: its rejections take the path that reads the
    /// deadline and the clock themselves (a recorded breaker's do, to record them).
    #[inline]
    pub fn untimed(self) -> StateWord {
        StateWord(self.0 & !TIMED)
    }

    /// Marks an `Open` word of `epoch` as watched by the timer thread; `None` if the word has
    /// moved on, is already marked, or has expired (then no rejection needs the mark).
    #[inline]
    pub fn time(self, epoch: u32) -> Option<StateWord> {
        (self.state() == State::Open && self.epoch() == epoch && !self.expired() && !self.timed())
            .then_some(StateWord(self.0 | TIMED))
    }

    /// A word in `state` with the next epoch, the given step and no probe successes. Probes
    /// still in flight stay counted: they hold half-open slots until they end, whatever
    /// episode admitted them.
    #[inline]
    pub fn enter(self, state: State, step: u32) -> StateWord {
        let epoch = (self.epoch() as u64 + 1) & EPOCH_MASK;
        let kind = State::ALL.iter().position(|s| *s == state).unwrap_or(0) as u64;
        let in_flight = self.0 & (COUNT_MASK << INFLIGHT_SHIFT);
        StateWord(
            (epoch << EPOCH_SHIFT) | in_flight | ((step.min(MAX_STEP) as u64) << STEP_SHIFT) | kind,
        )
    }

    fn with_probes(self, in_flight: u32, successes: u32) -> StateWord {
        let cleared = self.0 & !((COUNT_MASK << INFLIGHT_SHIFT) | (COUNT_MASK << SUCC_SHIFT));
        StateWord(
            cleared
                | ((in_flight as u64 & COUNT_MASK) << INFLIGHT_SHIFT)
                | ((successes as u64 & COUNT_MASK) << SUCC_SHIFT),
        )
    }

    /// What an acquire does in this word, with `permits` probe slots in half-open.
    #[inline]
    pub fn acquire(self, permits: u32) -> AcquireDecision {
        match self.state() {
            State::Closed | State::MetricsOnly => AcquireDecision::Admit,
            State::Disabled => AcquireDecision::Passthrough,
            State::Open if self.expired() && self.in_flight() < permits => {
                AcquireDecision::Probe(self.open_elapsed())
            }
            State::Open if self.expired() => AcquireDecision::HalfOpenFull,
            State::Open => AcquireDecision::Open,
            State::HalfOpen if self.in_flight() < permits => AcquireDecision::Probe(
                self.with_probes(self.in_flight() + 1, self.probe_successes()),
            ),
            State::HalfOpen => AcquireDecision::HalfOpenFull,
            State::Recovering => AcquireDecision::Ramp,
            State::ForcedOpen => AcquireDecision::ForcedOpen,
        }
    }

    /// `Open` → `HalfOpen` holding one more probe (the caller's), step kept.
    #[inline]
    pub fn open_elapsed(self) -> StateWord {
        self.enter(State::HalfOpen, self.step())
            .with_probes(self.in_flight() + 1, 0)
    }

    /// Marks an `Open` word of `epoch` as past its deadline, and no longer timed; `None` if
    /// the word has moved on.
    #[inline]
    pub fn expire(self, epoch: u32) -> Option<StateWord> {
        (self.state() == State::Open && self.epoch() == epoch && !self.expired())
            .then_some(StateWord((self.0 | EXPIRED) & !TIMED))
    }

    /// The trip from `Closed` (step 0) or `Recovering` (step kept); `None` in any other
    /// state, where outcomes never trip.
    #[inline]
    pub fn trip(self) -> Option<StateWord> {
        match self.state() {
            State::Closed => Some(self.enter(State::Open, 0)),
            // Not a re-open from half-open: the step is kept (rule 7).
            State::Recovering => Some(self.enter(State::Open, self.step())),
            _ => None,
        }
    }

    /// A half-open probe of `epoch` ends. `needed` successes close the breaker, into
    /// `Recovering` when `ramp` is set. Returns the new word and, if the state changed, why.
    /// A probe of an earlier episode only gives back its slot; `None` if nothing changes.
    #[inline]
    pub fn probe_end(
        self,
        epoch: u32,
        end: ProbeEnd,
        needed: u32,
        ramp: bool,
    ) -> Option<(StateWord, Option<TransitionReason>)> {
        let in_flight = self.in_flight().saturating_sub(1);
        if self.state() != State::HalfOpen || self.epoch() != epoch {
            return (self.in_flight() > 0)
                .then(|| (self.with_probes(in_flight, self.probe_successes()), None));
        }
        Some(match end {
            ProbeEnd::Release => (self.with_probes(in_flight, self.probe_successes()), None),
            ProbeEnd::Failure => (
                self.enter(State::Open, self.step() + 1)
                    .with_probes(in_flight, 0),
                Some(TransitionReason::ProbeFailed),
            ),
            ProbeEnd::Success if self.probe_successes() + 1 >= needed => {
                let next = if ramp {
                    self.enter(State::Recovering, self.step())
                } else {
                    self.enter(State::Closed, 0)
                };
                (
                    next.with_probes(in_flight, 0),
                    Some(TransitionReason::ProbesSucceeded),
                )
            }
            ProbeEnd::Success => (
                self.with_probes(in_flight, self.probe_successes() + 1),
                None,
            ),
        })
    }

    /// `Recovering` → `Closed` once the ramp is over.
    #[inline]
    pub fn ramp_done(self) -> Option<StateWord> {
        (self.state() == State::Recovering).then(|| self.enter(State::Closed, 0))
    }

    /// The word after a manual move to `state` (`reset` is `Closed`): step 0 except for
    /// `ForcedOpen`, which keeps it so the backoff resumes after it.
    #[inline]
    pub fn manual(self, state: State) -> StateWord {
        let step = if state == State::ForcedOpen {
            self.step()
        } else {
            0
        };
        self.enter(state, step)
    }
}

impl fmt::Debug for StateWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateWord")
            .field("state", &self.state())
            .field("epoch", &self.epoch())
            .field("step", &self.step())
            .field("in_flight", &self.in_flight())
            .field("probe_successes", &self.probe_successes())
            .field("expired", &self.expired())
            .field("timed", &self.timed())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn config_files_spell_states_as_their_labels() {
        let labels: Vec<&str> = State::ALL.iter().map(|s| s.as_label()).collect();
        assert_eq!(labels, fusebox_policies::STATE_LABELS);
    }

    #[test]
    fn the_timer_marks_open_words_of_its_episode_once() {
        let open = StateWord::CLOSED.trip().unwrap();
        assert!(!open.timed());
        let timed = open.time(open.epoch()).unwrap();
        assert!(timed.timed());
        assert_eq!(timed.state(), State::Open);
        assert_eq!(timed.time(timed.epoch()), None);
        assert_eq!(open.time(open.epoch() + 1), None);
        assert!(!open.rejects_timed() && timed.rejects_timed());
        // Once the timer marks the period over, the next acquire probes instead.
        assert!(!timed.expire(timed.epoch()).unwrap().rejects_timed());
    }

    use super::*;

    fn open() -> StateWord {
        StateWord::CLOSED.trip().unwrap()
    }

    #[test]
    fn fields_round_trip_and_stay_in_their_lanes() {
        let w = open().open_elapsed();
        assert_eq!(w.state(), State::HalfOpen);
        assert_eq!(w.epoch(), 2);
        assert_eq!(w.in_flight(), 1);
        assert_eq!(w.probe_successes(), 0);
        let w = w.with_probes(COUNT_MASK as u32, COUNT_MASK as u32);
        assert_eq!(w.state(), State::HalfOpen);
        assert_eq!(w.epoch(), 2);
        assert_eq!(w.step(), 0);
    }

    #[test]
    fn closed_trips_to_open_with_a_new_epoch() {
        let w = open();
        assert_eq!(w.state(), State::Open);
        assert_eq!(w.epoch(), 1);
        assert_eq!(w.step(), 0);
        assert_eq!(w.acquire(1), AcquireDecision::Open);
        assert_eq!(w.trip(), None, "only closed and recovering trip");
    }

    #[test]
    fn expire_only_matches_its_own_open_episode() {
        let w = open();
        assert_eq!(w.expire(w.epoch() + 1), None);
        let e = w.expire(w.epoch()).unwrap();
        assert!(e.expired());
        assert_eq!(e.expire(e.epoch()), None, "expiring twice is a no-op");
        match e.acquire(3) {
            AcquireDecision::Probe(h) => {
                assert_eq!(h.state(), State::HalfOpen);
                assert_eq!(h.in_flight(), 1);
                assert!(!h.expired());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn half_open_admits_exactly_the_permits() {
        let mut w = open().open_elapsed();
        for n in 2..=3 {
            match w.acquire(3) {
                AcquireDecision::Probe(next) => w = next,
                other => panic!("{other:?}"),
            }
            assert_eq!(w.in_flight(), n);
        }
        assert_eq!(w.acquire(3), AcquireDecision::HalfOpenFull);
        let (w, why) = w.probe_end(w.epoch(), ProbeEnd::Release, 2, false).unwrap();
        assert_eq!(why, None);
        assert_eq!(w.in_flight(), 2);
        assert!(matches!(w.acquire(3), AcquireDecision::Probe(_)));
    }

    #[test]
    fn probe_successes_close_or_ramp() {
        let w = open().open_elapsed();
        let (w1, why) = w.probe_end(w.epoch(), ProbeEnd::Success, 2, false).unwrap();
        assert_eq!((w1.state(), why), (State::HalfOpen, None));
        assert_eq!((w1.in_flight(), w1.probe_successes()), (0, 1));
        let (w2, why) = w1
            .probe_end(w1.epoch(), ProbeEnd::Success, 2, false)
            .unwrap();
        assert_eq!(w2.state(), State::Closed);
        assert_eq!(why, Some(TransitionReason::ProbesSucceeded));
        let (w3, _) = w1
            .probe_end(w1.epoch(), ProbeEnd::Success, 2, true)
            .unwrap();
        assert_eq!(w3.state(), State::Recovering);
        assert_eq!(w3.ramp_done().unwrap().state(), State::Closed);
    }

    #[test]
    fn probe_failure_reopens_with_a_longer_step_and_closing_resets_it() {
        let w = open().open_elapsed();
        let (o, why) = w.probe_end(w.epoch(), ProbeEnd::Failure, 1, false).unwrap();
        assert_eq!((o.state(), o.step()), (State::Open, 1));
        assert_eq!(why, Some(TransitionReason::ProbeFailed));
        let h = o.open_elapsed();
        assert_eq!(h.step(), 1);
        let (c, _) = h.probe_end(h.epoch(), ProbeEnd::Success, 1, false).unwrap();
        assert_eq!((c.state(), c.step()), (State::Closed, 0));
        let (r, _) = h.probe_end(h.epoch(), ProbeEnd::Success, 1, true).unwrap();
        assert_eq!(
            r.trip().unwrap().step(),
            1,
            "a trip while recovering keeps the step"
        );
        assert_eq!(r.in_flight(), 0, "the closing probe gave back its slot");
    }

    #[test]
    fn stale_probes_only_give_back_their_slot() {
        let w = match open().open_elapsed().acquire(2) {
            AcquireDecision::Probe(next) => next,
            other => panic!("{other:?}"),
        };
        let stale = w.epoch();
        let (o, _) = w.probe_end(stale, ProbeEnd::Failure, 1, false).unwrap();
        assert_eq!(
            (o.state(), o.in_flight()),
            (State::Open, 1),
            "the other probe is out"
        );
        let h = o.open_elapsed();
        assert_eq!(h.in_flight(), 2);
        assert_eq!(h.acquire(2), AcquireDecision::HalfOpenFull);
        for end in [ProbeEnd::Success, ProbeEnd::Failure, ProbeEnd::Release] {
            let (after, why) = h.probe_end(stale, end, 1, false).unwrap();
            assert_eq!(why, None);
            assert_eq!(after.state(), State::HalfOpen);
            assert_eq!((after.epoch(), after.in_flight()), (h.epoch(), 1));
        }
        assert_eq!(
            StateWord::CLOSED.probe_end(stale, ProbeEnd::Release, 1, false),
            None
        );
    }

    #[test]
    fn step_saturates_and_epoch_wraps() {
        let mut w = StateWord::CLOSED;
        for _ in 0..200 {
            w = w.enter(State::Open, w.step() + 1);
        }
        assert_eq!(w.step(), MAX_STEP);
        let top = StateWord((EPOCH_MASK << EPOCH_SHIFT) | 1);
        assert_eq!(top.state(), State::Open);
        assert_eq!(top.enter(State::Closed, 0).epoch(), 0);
    }

    #[test]
    fn manual_states() {
        let w = open().open_elapsed();
        assert_eq!(
            w.manual(State::ForcedOpen).acquire(1),
            AcquireDecision::ForcedOpen
        );
        assert_eq!(
            w.manual(State::Disabled).acquire(1),
            AcquireDecision::Passthrough
        );
        assert_eq!(
            w.manual(State::MetricsOnly).acquire(1),
            AcquireDecision::Admit
        );
        assert_eq!(w.manual(State::MetricsOnly).trip(), None);
        assert_eq!(w.manual(State::Closed).state(), State::Closed);
        assert_eq!(w.manual(State::Closed).step(), 0);
    }

    #[test]
    fn only_a_timed_unexpired_open_word_rejects_from_the_word_alone() {
        let w = open();
        assert!(
            !w.timed() && !w.rejects_timed(),
            "a new episode starts unmarked"
        );
        assert_eq!(w.time(w.epoch() + 1), None, "another episode's mark");
        let t = w.time(w.epoch()).unwrap();
        assert!(t.timed() && t.rejects_timed());
        assert_eq!(
            (t.state(), t.epoch(), t.step()),
            (w.state(), w.epoch(), w.step())
        );
        assert_eq!(t.acquire(1), AcquireDecision::Open);
        assert_eq!(t.time(t.epoch()), None, "marking twice is a no-op");
        let e = t.expire(t.epoch()).unwrap();
        assert!(
            !e.timed() && !e.rejects_timed(),
            "expired: the mark goes, and the next acquire probes"
        );
        assert_eq!(e.time(e.epoch()), None);
        assert!(matches!(e.acquire(1), AcquireDecision::Probe(_)));
        assert!(!e.open_elapsed().timed(), "half-open drops the mark");
        assert!(
            !t.enter(State::Open, 1).timed(),
            "a re-open starts unmarked"
        );
        // A stale probe giving back its slot keeps the mark.
        let held = t.with_probes(2, 0);
        let (released, _) = held
            .probe_end(t.epoch() + 7, ProbeEnd::Release, 1, false)
            .unwrap();
        assert!(released.rejects_timed());
        assert_eq!(released.in_flight(), 1);
        assert!(!released.untimed().rejects_timed());
        assert_eq!(released.untimed().time(released.epoch()), Some(released));
        // No other kind is ever marked, and no function moves a mark out of an unexpired
        // `Open` word: the bit alone decides.
        for s in State::ALL.into_iter().filter(|&s| s != State::Open) {
            let other = StateWord::CLOSED.enter(s, 1);
            assert_eq!(other.time(other.epoch()), None);
        }
        let mut reached = vec![t.expire(t.epoch()).unwrap(), t.open_elapsed(), released];
        reached.extend(State::ALL.map(|s| t.manual(s)));
        reached.extend(State::ALL.map(|s| t.enter(s, 2)));
        for end in [ProbeEnd::Release, ProbeEnd::Failure, ProbeEnd::Success] {
            let probing = t.open_elapsed();
            reached.extend(
                probing
                    .probe_end(probing.epoch(), end, 1, true)
                    .map(|(w, _)| w),
            );
            reached.extend(held.probe_end(t.epoch(), end, 1, false).map(|(w, _)| w));
        }
        for w in reached {
            assert!(
                !w.timed() || (w.state() == State::Open && !w.expired()),
                "{w:?}"
            );
        }
    }

    #[test]
    fn every_state_round_trips_through_the_word() {
        for s in State::ALL {
            assert_eq!(StateWord::CLOSED.enter(s, 3).state(), s);
        }
    }
}
