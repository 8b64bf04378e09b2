//! A sequential reference model of one breaker, and a driver that runs the same operations
//! against the engine and the model and compares everything observable after every step.
//!
//! The model is the semantic rules 1–14 of `fusebox_engine::docs::rules` ("rule N" below) plus the
//! limits documented in the engine's `docs` module, written as plainly as possible: a `VecDeque`
//! for a count window, a list of timestamped outcomes for a time window, plain integers for
//! everything else, no atomics. Where the rules leave a choice (the documented limit that outcomes
//! racing a state change may land in either episode's window), the model makes the engine's (see
//! `Model::record`).
//!
//! Included by `engine/tests/model.rs` (arbtest, under `cargo test`) and by the `ops_vs_model`
//! fuzz target (`fuzz/`), so both check against this one copy.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::Unstructured;
use fusebox_engine::{
    Backoff, Breaker, CallError, ManualClock, Outcome, Permit, Policy, Recovery, RejectReason,
    Rejected, State, Transition, TransitionReason, Window,
};

/// The backoff step saturates here (the state word has 6 bits for it).
const MAX_STEP: u32 = 63;
/// The model's clock starts here, not at 0: a time window cleared within its first span after
/// the clock's origin still counts old buckets (see `time_window_cleared_early_keeps_counting`
/// in model.rs), which this keeps out of the random runs.
pub const START: Duration = Duration::from_secs(1000);
/// Permits held at once by a run; more acquires are skipped.
const MAX_PERMITS: usize = 12;
/// Operations in one run.
pub const MAX_OPS: usize = 400;

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// One recorded outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rec {
    failure: bool,
    slow: bool,
}

/// The sliding window, kept the obvious way.
#[derive(Debug, Clone)]
enum ModelWindow {
    /// The last `size` outcomes, oldest first.
    Count {
        size: usize,
        outcomes: VecDeque<Rec>,
    },
    /// Outcomes with the bucket period (`time / width`) they were recorded in.
    Time {
        width: u64,
        buckets: u64,
        outcomes: VecDeque<(u64, Rec)>,
    },
}

/// Outcomes, failures and slow calls in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub calls: u64,
    pub failures: u64,
    pub slow: u64,
}

impl ModelWindow {
    fn new(shape: Window) -> Self {
        match shape {
            Window::Count { size } => ModelWindow::Count {
                size: size as usize,
                outcomes: VecDeque::new(),
            },
            Window::Time { span, buckets } => ModelWindow::Time {
                width: (nanos(span) / buckets as u64).max(1),
                buckets: buckets as u64,
                outcomes: VecDeque::new(),
            },
        }
    }

    fn clear(&mut self) {
        match self {
            ModelWindow::Count { outcomes, .. } => outcomes.clear(),
            ModelWindow::Time { outcomes, .. } => outcomes.clear(),
        }
    }

    /// Forgets every slow flag: a slow-call rule was switched on (rule 14: it counts the calls
    /// timed under it).
    fn clear_slow(&mut self) {
        match self {
            ModelWindow::Count { outcomes, .. } => outcomes.iter_mut().for_each(|r| r.slow = false),
            ModelWindow::Time { outcomes, .. } => {
                outcomes.iter_mut().for_each(|(_, r)| r.slow = false)
            }
        }
    }

    fn is_count(&self) -> bool {
        matches!(self, ModelWindow::Count { .. })
    }

    /// Records one outcome at `now`; `slow` is `None` when no slow-call rule is set (the
    /// outcome is then not slow).
    fn push(&mut self, now: u64, failure: bool, slow: Option<bool>) {
        let slow = slow.unwrap_or(false);
        match self {
            ModelWindow::Count { size, outcomes } => {
                if outcomes.len() == *size {
                    outcomes.pop_front();
                }
                outcomes.push_back(Rec { failure, slow });
            }
            ModelWindow::Time {
                width,
                buckets,
                outcomes,
            } => {
                let period = now / *width;
                let oldest = period.saturating_sub(*buckets - 1);
                while outcomes.front().is_some_and(|(p, _)| *p < oldest) {
                    outcomes.pop_front();
                }
                outcomes.push_back((period, Rec { failure, slow }));
            }
        }
    }

    /// The window's contents at `now`.
    fn tally(&self, now: u64) -> Tally {
        let count = |recs: &mut dyn Iterator<Item = Rec>| {
            recs.fold(Tally::default(), |t, r| Tally {
                calls: t.calls + 1,
                failures: t.failures + r.failure as u64,
                slow: t.slow + r.slow as u64,
            })
        };
        match self {
            ModelWindow::Count { outcomes, .. } => count(&mut outcomes.iter().copied()),
            ModelWindow::Time {
                width,
                buckets,
                outcomes,
            } => {
                // Outcomes younger than the span, aged out a bucket at a time: the current
                // bucket and the `buckets - 1` before it.
                let period = now / *width;
                let oldest = period.saturating_sub(*buckets - 1);
                count(
                    &mut outcomes
                        .iter()
                        .filter(|(p, _)| (oldest..=period).contains(p))
                        .map(|(_, r)| *r),
                )
            }
        }
    }
}

/// What a permit was admitted as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Recorded into the window (admitted in Closed, Recovering or MetricsOnly).
    Normal,
    /// A half-open probe of the given half-open episode.
    Probe { episode: u64 },
    /// Admitted while Disabled: reports nothing.
    Passthrough,
}

/// The model's side of a permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelPermit {
    pub kind: Kind,
    /// Holds a bulkhead slot: admitted while a bulkhead was set (docs: a bulkhead switched on
    /// by `set_policy` counts only the permits acquired from the swap on).
    counted: bool,
    /// Acquire time, if a slow-call rule was set then (an untimed call is never slow).
    start: Option<u64>,
}

/// A rejection, as the model predicts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reject {
    pub reason: RejectReason,
    pub state: State,
    pub retry_after: Option<Duration>,
}

impl Reject {
    fn of(r: &Rejected) -> Self {
        Reject {
            reason: r.reason(),
            state: r.state(),
            retry_after: r.retry_after(),
        }
    }
}

/// Everything the model predicts that `Breaker` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    pub state: State,
    pub admitted: u64,
    pub successes: u64,
    pub failures: u64,
    pub ignored: u64,
    pub slow: u64,
    pub rejected: u64,
    pub window_calls: u64,
    pub window_failures: u64,
    pub window_slow: u64,
    pub backoff_step: u32,
    pub open_remaining: Option<Duration>,
}

impl Observed {
    pub fn of(b: &Breaker) -> Self {
        let m = b.metrics();
        Observed {
            state: m.state,
            admitted: m.admitted,
            successes: m.successes,
            failures: m.failures,
            ignored: m.ignored,
            slow: m.slow,
            rejected: m.rejected,
            window_calls: m.window_calls,
            window_failures: m.window_failures,
            window_slow: m.window_slow,
            backoff_step: b.backoff_step(),
            open_remaining: b.open_remaining(),
        }
    }
}

/// A state change: from, to, why, clock time.
pub type Event = (State, State, TransitionReason, Duration);

#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    successes: u64,
    failures: u64,
    ignored: u64,
    slow: u64,
    rejected: u64,
}

/// The reference model of one breaker.
#[derive(Debug, Clone)]
pub struct Model {
    policy: Policy,
    now: u64,
    state: State,
    /// Bumped on every change of state, manual ones included: a probe belongs to one episode.
    episode: u64,
    /// Re-opens in a row (rule 7).
    step: u32,
    open_until: u64,
    /// When the current open period started (for a policy swap that shortens it).
    open_since: u64,
    /// The open period was seen to pass (by an acquire): from then on acquires probe.
    open_passed: bool,
    probe_successes: u32,
    /// Probe permits alive, of any episode (docs: a probe holds its slot until it ends).
    probes_out: u32,
    /// Counted permits alive (rule 11).
    bulkhead_out: u32,
    ramp_start: u64,
    /// Acquires the ramp has judged, ever: admission spreads over this count (rule 10).
    ramp_counter: u64,
    /// The ramp's decisions at one clock time and share, newest last, to check rule 10's bound.
    ramp_run: (u64, u128, VecDeque<bool>),
    window: ModelWindow,
    /// Failures in a row (rule 4).
    run: u32,
    /// A threshold changed (rule 14) and no outcome has been recorded into the window since: the
    /// engine owes a re-evaluation and takes no fast path meanwhile.
    reeval_pending: bool,
    counters: Counters,
    events: Vec<Event>,
}

/// The ramp's share is counted in billionths, so decimal shares are exact (as in the engine).
const RAMP_SCALE: u128 = 1_000_000_000;

impl Model {
    pub fn new(policy: Policy, now: Duration) -> Self {
        Model {
            window: ModelWindow::new(policy.window()),
            policy,
            now: nanos(now),
            state: State::Closed,
            episode: 0,
            step: 0,
            open_until: 0,
            open_since: 0,
            open_passed: false,
            probe_successes: 0,
            probes_out: 0,
            bulkhead_out: 0,
            ramp_start: 0,
            ramp_counter: 0,
            ramp_run: (u64::MAX, 0, VecDeque::new()),
            run: 0,
            reeval_pending: false,
            counters: Counters::default(),
            events: Vec::new(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn advance(&mut self, by: Duration) {
        self.now = self.now.saturating_add(nanos(by));
    }

    /// State changes since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    pub fn observed(&self) -> Observed {
        let c = self.counters;
        let t = self.window.tally(self.now);
        Observed {
            state: self.state,
            admitted: c.successes + c.failures + c.ignored,
            successes: c.successes,
            failures: c.failures,
            ignored: c.ignored,
            slow: c.slow,
            rejected: c.rejected,
            window_calls: t.calls,
            window_failures: t.failures,
            // No slow flags are shown while no slow-call rule is set.
            window_slow: if self.policy.slow_calls().is_some() {
                t.slow
            } else {
                0
            },
            backoff_step: self.step,
            open_remaining: (self.state == State::Open)
                .then(|| Duration::from_nanos(self.open_until.saturating_sub(self.now))),
        }
    }

    /// Moves to `to`: a new episode, no probe successes; an event if the state changed.
    fn enter(&mut self, to: State, step: u32, why: TransitionReason) {
        let from = self.state;
        self.state = to;
        self.episode += 1;
        self.step = step.min(MAX_STEP);
        self.probe_successes = 0;
        self.open_passed = false;
        if to == State::Open {
            // Rule 7, jitter 0: the period is exact.
            self.open_until = self
                .now
                .saturating_add(nanos(self.policy.open_period(self.step)));
            self.open_since = self.now;
            self.run = 0;
        }
        if from != to {
            self.events
                .push((from, to, why, Duration::from_nanos(self.now)));
        }
    }

    fn clear_window(&mut self) {
        self.window.clear();
        self.run = 0;
    }

    fn reject(&mut self, reason: RejectReason, retry_after: Option<Duration>) -> Reject {
        self.counters.rejected += 1;
        Reject {
            reason,
            state: self.state,
            retry_after,
        }
    }

    /// `try_acquire`.
    pub fn acquire(&mut self) -> Result<ModelPermit, Reject> {
        match self.state {
            State::Closed | State::MetricsOnly => self.admit(Kind::Normal),
            State::Disabled => self.admit(Kind::Passthrough),
            State::ForcedOpen => Err(self.reject(RejectReason::ForcedOpen, None)),
            State::Open if !self.open_passed && self.now < self.open_until => {
                let left = Duration::from_nanos(self.open_until - self.now);
                Err(self.reject(RejectReason::Open, Some(left)))
            }
            State::Open | State::HalfOpen => {
                self.open_passed = true;
                if self.probes_out >= self.policy.half_open_permits() {
                    return Err(self.reject(RejectReason::HalfOpenFull, None));
                }
                if self.state == State::Open {
                    self.enter(
                        State::HalfOpen,
                        self.step,
                        TransitionReason::OpenTimeoutElapsed,
                    );
                }
                self.admit(Kind::Probe {
                    episode: self.episode,
                })
            }
            State::Recovering => {
                let (duration, start_share) = match self.policy.recovery() {
                    Recovery::Ramp {
                        duration,
                        start_share,
                    } => (nanos(duration), start_share),
                    // Swapped to immediate recovery: the ramp is over.
                    Recovery::Immediate => (0, 1.0),
                };
                let elapsed = self.now.saturating_sub(self.ramp_start);
                if elapsed >= duration {
                    self.enter(State::Closed, 0, TransitionReason::RampComplete);
                    return self.admit(Kind::Normal);
                }
                if self.ramp_admits(start_share, elapsed, duration) {
                    self.admit(Kind::Normal)
                } else {
                    Err(self.reject(RejectReason::Ramp, None))
                }
            }
        }
    }

    /// Rule 10: the share rises linearly; the c-th acquire judged is admitted iff
    /// ⌊(c+1)·p⌋ > ⌊c·p⌋, which spreads admissions evenly. Checks the rule's bound on the run
    /// of decisions taken at this clock time.
    fn ramp_admits(&mut self, start_share: f64, elapsed: u64, duration: u64) -> bool {
        let share = start_share + (1.0 - start_share) * (elapsed as f64 / duration as f64);
        let p = (share.clamp(0.0, 1.0) * RAMP_SCALE as f64).round() as u128;
        let c = self.ramp_counter as u128;
        self.ramp_counter += 1;
        let admit = (c + 1) * p / RAMP_SCALE != c * p / RAMP_SCALE;
        let (at, share_at, run) = &mut self.ramp_run;
        if (*at, *share_at) != (self.now, p) {
            (*at, *share_at) = (self.now, p);
            run.clear();
        }
        run.push_back(admit);
        if run.len() > 64 {
            run.pop_front();
        }
        let mut admitted = 0u128;
        for (i, a) in run.iter().rev().enumerate() {
            admitted += *a as u128;
            let n = i as u128 + 1;
            let (lo, hi) = (p * n / RAMP_SCALE, (p * n).div_ceil(RAMP_SCALE));
            assert!(
                (lo..=hi).contains(&admitted),
                "rule 10: {admitted} of {n} acquires admitted at share {p}e-9"
            );
        }
        admit
    }

    fn admit(&mut self, kind: Kind) -> Result<ModelPermit, Reject> {
        let mut counted = false;
        if let Some(max) = self.policy.max_concurrent() {
            if self.bulkhead_out >= max {
                return Err(self.reject(RejectReason::BulkheadFull, None));
            }
            self.bulkhead_out += 1;
            counted = true;
        }
        if matches!(kind, Kind::Probe { .. }) {
            self.probes_out += 1;
        }
        let start = self.policy.slow_calls().map(|_| self.now);
        Ok(ModelPermit {
            kind,
            counted,
            start,
        })
    }

    /// Whether a call from `start` to now is slow, counting it if so; `None` with no rule.
    fn slow(&mut self, start: Option<u64>) -> Option<bool> {
        let rule = self.policy.slow_calls()?;
        let slow = start.is_some_and(|s| self.now.saturating_sub(s) >= nanos(rule.duration));
        self.counters.slow += slow as u64;
        Some(slow)
    }

    /// A permit reports `outcome` (recorded, or dropped as `Ignored`).
    pub fn finish(&mut self, permit: ModelPermit, outcome: Outcome) {
        if permit.counted {
            self.bulkhead_out -= 1;
        }
        match permit.kind {
            Kind::Passthrough => {}
            Kind::Normal => self.record(permit.start, outcome),
            Kind::Probe { episode } => self.finish_probe(episode, permit.start, outcome),
        }
    }

    fn count(&mut self, outcome: Outcome) {
        let c = &mut self.counters;
        match outcome {
            Outcome::Success => c.successes += 1,
            Outcome::Failure => c.failures += 1,
            Outcome::Ignored => c.ignored += 1,
        }
    }

    fn finish_probe(&mut self, episode: u64, start: Option<u64>, outcome: Outcome) {
        self.count(outcome);
        if outcome != Outcome::Ignored {
            self.slow(start);
        }
        self.probes_out -= 1;
        if self.state != State::HalfOpen || self.episode != episode {
            // A probe of an earlier episode only gives its slot back.
            return;
        }
        match outcome {
            Outcome::Ignored => {}
            Outcome::Failure => {
                self.enter(State::Open, self.step + 1, TransitionReason::ProbeFailed)
            }
            Outcome::Success => {
                self.probe_successes += 1;
                if self.probe_successes >= self.policy.success_threshold() {
                    // Rule 9: leaving half-open starts an empty window.
                    self.clear_window();
                    if matches!(self.policy.recovery(), Recovery::Ramp { .. }) {
                        self.enter(
                            State::Recovering,
                            self.step,
                            TransitionReason::ProbesSucceeded,
                        );
                        self.ramp_start = self.now;
                    } else {
                        self.enter(State::Closed, 0, TransitionReason::ProbesSucceeded);
                    }
                }
            }
        }
    }

    /// Opens the breaker if it is Closed (step 0) or Recovering (step kept).
    fn trip(&mut self, why: TransitionReason) -> bool {
        let step = match self.state {
            State::Closed => 0,
            State::Recovering => self.step,
            _ => return false,
        };
        self.enter(State::Open, step, why);
        true
    }

    fn record(&mut self, start: Option<u64>, outcome: Outcome) {
        self.count(outcome);
        let failure = match outcome {
            Outcome::Ignored => return, // Rule 1: not recorded.
            Outcome::Success => false,
            Outcome::Failure => true,
        };
        let slow = self.slow(start);
        let before = self.state;
        // Rule 4.
        let k = self.policy.consecutive_failures();
        let mut tripped = false;
        if k > 0 {
            if failure {
                self.run += 1;
                if self.run >= k {
                    tripped = self.trip(TransitionReason::ConsecutiveFailures);
                }
            } else {
                self.run = 0;
            }
        }
        // The documented limit "outcomes that race with a state change may land in either
        // episode's window", resolved as the engine resolves it: the success of a permit
        // admitted earlier lands in the current window whatever the state when the engine takes
        // its fast path (count window, no slow-call or consecutive-failure rule, no
        // re-evaluation owed). Otherwise an outcome reported in a state that keeps no window
        // (Open, HalfOpen, ForcedOpen, Disabled) counts but lands in no window.
        let stale_lands =
            !failure && slow.is_none() && k == 0 && !self.reeval_pending && self.window.is_count();
        let records = matches!(
            before,
            State::Closed | State::Recovering | State::MetricsOnly
        );
        if !records && !stale_lands {
            return;
        }
        if records {
            self.reeval_pending = false;
        }
        self.window.push(self.now, failure, slow);
        if tripped || before == State::MetricsOnly {
            return;
        }
        // Rule 2 and rule 5, after each recorded outcome.
        let t = self.window.tally(self.now);
        if t.calls == 0 || t.calls < self.policy.min_calls() as u64 {
            return;
        }
        let calls = t.calls as f64;
        if t.failures > 0 && t.failures as f64 / calls >= self.policy.failure_rate_threshold() {
            self.trip(TransitionReason::FailureRate);
        } else if let Some(rule) = self.policy.slow_calls()
            && t.slow > 0
            && t.slow as f64 / calls >= rule.rate
        {
            self.trip(TransitionReason::SlowCallRate);
        }
    }

    pub fn force_open(&mut self) {
        // The step is kept, so the backoff resumes where it was (the engine's `manual`).
        self.enter(State::ForcedOpen, self.step, TransitionReason::ForcedOpen);
    }

    pub fn disable(&mut self) {
        self.enter(State::Disabled, 0, TransitionReason::Disabled);
    }

    pub fn metrics_only(&mut self) {
        self.enter(State::MetricsOnly, 0, TransitionReason::MetricsOnly);
    }

    pub fn reset(&mut self) {
        // The lifetime counters keep counting (rule 12).
        self.clear_window();
        self.enter(State::Closed, 0, TransitionReason::Reset);
    }

    /// `restore` of the breaker's own `saved_state()`: the state comes back as saved (`HalfOpen`
    /// as `Open` with its period over, `Recovering` with its ramp restarted, `Open` with the
    /// time it had left), the backoff step is kept and the window starts empty; the counters
    /// are already at their saved values, so none is raised.
    pub fn restore_own(&mut self) {
        let remaining = match self.state {
            State::Open => self.open_until.saturating_sub(self.now),
            _ => 0,
        };
        let target = match self.state {
            State::HalfOpen => State::Open,
            other => other,
        };
        self.clear_window();
        self.enter(target, self.step, TransitionReason::Restored);
        match target {
            State::Open => {
                self.open_until = self.now.saturating_add(remaining);
                // As if the period had started a whole period before its deadline.
                self.open_since = self
                    .open_until
                    .saturating_sub(nanos(self.policy.open_period(self.step)));
            }
            State::Recovering => self.ramp_start = self.now,
            _ => {}
        }
    }

    /// Rule 14.
    pub fn set_policy(&mut self, policy: Policy) {
        let old = &self.policy;
        let thresholds_changed = old.failure_rate_threshold() != policy.failure_rate_threshold()
            || old.min_calls() != policy.min_calls()
            || old.slow_calls() != policy.slow_calls();
        if old.window() != policy.window() {
            self.window = ModelWindow::new(policy.window());
        } else if old.slow_calls().is_none() && policy.slow_calls().is_some() {
            self.window.clear_slow();
        }
        if old.consecutive_failures() == 0 && policy.consecutive_failures() > 0 {
            // The run was not counted while the rule was off: it starts fresh.
            self.run = 0;
        }
        if self.state == State::Open && !self.open_passed {
            // An open period under way ends no later than the new policy's would.
            let limit = self
                .open_since
                .saturating_add(nanos(policy.open_period(self.step)));
            self.open_until = self.open_until.min(limit);
        }
        if thresholds_changed {
            self.reeval_pending = true;
        }
        self.policy = policy;
    }
}

// ---------------------------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------------------------

/// One step of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `try_acquire`, keeping the permit.
    Acquire,
    /// Record on the permit at `pick` modulo the permits held.
    Record {
        pick: u8,
        outcome: Outcome,
    },
    /// Drop the permit at `pick` unrecorded.
    Drop {
        pick: u8,
    },
    /// `call` with a closure that succeeds or fails.
    Call {
        ok: bool,
    },
    /// Move the clock forward.
    Advance {
        ms: u64,
    },
    ForceOpen,
    Disable,
    MetricsOnly,
    Reset,
    /// `restore(&saved_state())`: the breaker put back as it is.
    Restore,
    /// `set_policy` to one of [`policies`].
    SetPolicy(u8),
}

/// The policies a run swaps between: count windows of three sizes (two policies share each
/// of the shapes count(4) and time(10 s, 5), so swaps keep windows too), a time window, a
/// bulkhead, a ramp, consecutive failures and slow calls. Jitter 0: open periods are exact.
pub fn policies() -> &'static [Policy] {
    static POLICIES: OnceLock<Vec<Policy>> = OnceLock::new();
    POLICIES.get_or_init(|| {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        let base = |w: Window| {
            Policy::builder()
                .window(w)
                .open_timeout(s(10))
                .backoff(Backoff::exponential(2.0, s(60)))
        };
        [
            // 0: half of at least 2 of the last 4; two probes, both must succeed.
            base(Window::count(4))
                .failure_rate_threshold(0.5)
                .min_calls(2)
                .half_open_permits(2)
                .success_threshold(2),
            // 1: the same shape, stricter rate, 3 failures in a row; one success closes.
            base(Window::count(4))
                .failure_rate_threshold(0.75)
                .min_calls(4)
                .consecutive_failures(3)
                .half_open_permits(3)
                .success_threshold(1),
            // 2: a bulkhead of 2 on count(8), constant backoff.
            base(Window::count(8))
                .backoff(Backoff::constant())
                .failure_rate_threshold(0.5)
                .min_calls(3)
                .max_concurrent(2)
                .half_open_permits(2)
                .success_threshold(1),
            // 3: a time window of 10 s in 5 buckets.
            base(Window::time(s(10), 5))
                .failure_rate_threshold(0.5)
                .min_calls(3)
                .half_open_permits(1)
                .success_threshold(1),
            // 4: count(4) recovering through a ramp of 4 s from a quarter.
            base(Window::count(4))
                .failure_rate_threshold(0.5)
                .min_calls(2)
                .recovery(Recovery::ramp(s(4), 0.25))
                .half_open_permits(3)
                .success_threshold(2),
            // 5: count(4), slow calls (≥ 1 s) only: failures alone never reach rate 1.0 of 4.
            base(Window::count(4))
                .failure_rate_threshold(1.0)
                .min_calls(4)
                .slow_calls(s(1), 0.5)
                .half_open_permits(2)
                .success_threshold(1),
            // 6: everything on a short time window.
            base(Window::time(s(2), 4))
                .failure_rate_threshold(0.6)
                .min_calls(2)
                .slow_calls(ms(500), 0.75)
                .consecutive_failures(2)
                .max_concurrent(1)
                .recovery(Recovery::ramp(s(3), 0.5))
                .half_open_permits(2)
                .success_threshold(2),
            // 7: one outcome decides; a bulkhead of 3; backoff ×3 up to 100 s.
            base(Window::count(1))
                .backoff(Backoff::exponential(3.0, s(100)))
                .failure_rate_threshold(1.0)
                .min_calls(1)
                .max_concurrent(3)
                .half_open_permits(1)
                .success_threshold(1),
            // 8: policy 0 with another open timeout: a swap that changes no threshold.
            base(Window::count(4))
                .open_timeout(s(5))
                .failure_rate_threshold(0.5)
                .min_calls(2)
                .half_open_permits(2)
                .success_threshold(2),
            // 9: the time shape of 3 with other rules: swaps between them keep the window.
            base(Window::time(s(10), 5))
                .failure_rate_threshold(0.3)
                .min_calls(5)
                .slow_calls(ms(800), 0.5)
                .recovery(Recovery::ramp(s(2), 0.2))
                .half_open_permits(2)
                .success_threshold(1),
            // 10: a window of 70, two bitmap words: slots on both sides of a word boundary.
            base(Window::count(70))
                .failure_rate_threshold(0.2)
                .min_calls(3)
                .half_open_permits(1)
                .success_threshold(1),
            // 11: a window over 128 slots, which keeps counts; with slow calls.
            base(Window::count(130))
                .failure_rate_threshold(0.25)
                .min_calls(3)
                .slow_calls(s(1), 0.3)
                .half_open_permits(1)
                .success_threshold(1),
            // 12: policy 11's shape with no slow-call rule: swaps switch the rule off and on.
            base(Window::count(130))
                .failure_rate_threshold(0.25)
                .min_calls(3)
                .half_open_permits(1)
                .success_threshold(1),
        ]
        .into_iter()
        .map(|b| b.build().expect("valid test policy"))
        .collect()
    })
}

impl Op {
    fn arbitrary(u: &mut Unstructured<'_>) -> arbitrary::Result<Op> {
        let outcome = |u: &mut Unstructured<'_>| -> arbitrary::Result<Outcome> {
            Ok(match u.int_in_range(0u8..=9)? {
                0..=4 => Outcome::Success,
                5..=8 => Outcome::Failure,
                _ => Outcome::Ignored,
            })
        };
        Ok(match u.int_in_range(0u8..=99)? {
            0..=26 => Op::Acquire,
            27..=53 => Op::Record {
                pick: u.arbitrary()?,
                outcome: outcome(u)?,
            },
            54..=57 => Op::Drop {
                pick: u.arbitrary()?,
            },
            58..=64 => Op::Call { ok: u.arbitrary()? },
            65..=77 => Op::Advance {
                ms: u.int_in_range(0..=1500)?,
            },
            78..=84 => Op::Advance {
                ms: 1000 * u.int_in_range(1..=90)?,
            },
            85 => Op::ForceOpen,
            86 => Op::Disable,
            87 => Op::MetricsOnly,
            88 => Op::Reset,
            89 => Op::Restore,
            _ => Op::SetPolicy(u.int_in_range(0..=policies().len() as u8 - 1)?),
        })
    }
}

/// A run: the index of the starting policy and the operations.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub policy: u8,
    pub ops: Vec<Op>,
}

impl Scenario {
    /// A scenario from raw bytes, up to [`MAX_OPS`] operations.
    pub fn arbitrary(u: &mut Unstructured<'_>) -> arbitrary::Result<Scenario> {
        let policy = u.int_in_range(0..=policies().len() as u8 - 1)?;
        let mut ops = Vec::new();
        while !u.is_empty() && ops.len() < MAX_OPS {
            ops.push(Op::arbitrary(u)?);
        }
        Ok(Scenario { policy, ops })
    }
}

#[cold]
fn differ(scenario: &Scenario, step: usize, what: &str) -> ! {
    let mut steps = String::new();
    for (j, op) in scenario.ops.iter().enumerate().take(step + 1) {
        let _ = writeln!(steps, "  {j:3}: {op:?}");
    }
    panic!(
        "engine and model differ after step {step}: {what}\nstarting policy {}:\n{steps}",
        scenario.policy
    );
}

/// Runs `scenario` against a fresh engine breaker and a fresh model, comparing after every
/// step, once with a default breaker and once with a compact one (whose decisions must be the
/// same); panics with the steps so far on the first difference. Returns the steps run.
pub fn run(scenario: &Scenario) -> usize {
    run_packed(scenario, false);
    run_packed(scenario, true)
}

fn run_packed(scenario: &Scenario, compact: bool) -> usize {
    let policy = policies()[scenario.policy as usize % policies().len()].clone();
    let clock = ManualClock::new();
    clock.set(START);
    let mut builder = Breaker::builder("model", policy.clone()).clock(clock.clone());
    if compact {
        builder = builder.compact();
    }
    let breaker = builder.build();
    assert_eq!(breaker.is_compact(), compact);
    let events = breaker.subscribe();
    let mut model = Model::new(policy, START);
    let mut permits: Vec<(Permit<'_>, ModelPermit)> = Vec::new();

    let packing = if compact { "compact" } else { "default" };
    let fail = |i: usize, what: &str| differ(scenario, i, &format!("{what} ({packing} breaker)"));

    for (i, op) in scenario.ops.iter().enumerate() {
        match *op {
            Op::Acquire => {
                if permits.len() >= MAX_PERMITS {
                    continue;
                }
                let got = breaker.try_acquire();
                let want = model.acquire();
                match (got, want) {
                    (Ok(p), Ok(m)) => permits.push((p, m)),
                    (Err(r), Err(m)) if Reject::of(&r) == m => {}
                    (got, want) => fail(
                        i,
                        &format!(
                            "acquire: engine {:?}, model {want:?}",
                            got.map(|_| "admitted")
                        ),
                    ),
                }
            }
            Op::Record { pick, outcome } => {
                if permits.is_empty() {
                    continue;
                }
                let (p, m) = permits.swap_remove(pick as usize % permits.len());
                p.record(outcome);
                model.finish(m, outcome);
            }
            Op::Drop { pick } => {
                if permits.is_empty() {
                    continue;
                }
                let (p, m) = permits.swap_remove(pick as usize % permits.len());
                drop(p);
                model.finish(m, Outcome::Ignored);
            }
            Op::Call { ok } => {
                let got = breaker.call(|| if ok { Ok(()) } else { Err(()) });
                let want = model.acquire().map(|m| {
                    let outcome = if ok {
                        Outcome::Success
                    } else {
                        Outcome::Failure
                    };
                    model.finish(m, outcome);
                });
                let same = match (&got, &want) {
                    (Ok(()), Ok(())) => ok,
                    (Err(CallError::Failed(())), Ok(())) => !ok,
                    (Err(CallError::Rejected(r)), Err(m)) => Reject::of(r) == *m,
                    _ => false,
                };
                if !same {
                    fail(i, &format!("call: engine {got:?}, model {want:?}"));
                }
            }
            Op::Advance { ms } => {
                clock.advance(Duration::from_millis(ms));
                model.advance(Duration::from_millis(ms));
            }
            Op::ForceOpen => {
                breaker.force_open();
                model.force_open();
            }
            Op::Disable => {
                breaker.disable();
                model.disable();
            }
            Op::MetricsOnly => {
                breaker.metrics_only();
                model.metrics_only();
            }
            Op::Reset => {
                breaker.reset();
                model.reset();
            }
            Op::Restore => {
                breaker.restore(&breaker.saved_state());
                model.restore_own();
            }
            Op::SetPolicy(n) => {
                let p = policies()[n as usize % policies().len()].clone();
                breaker.set_policy(p.clone());
                model.set_policy(p);
            }
        }
        let (got, want) = (Observed::of(&breaker), model.observed());
        if got != want {
            fail(i, &format!("\n  engine {got:?}\n  model  {want:?}"));
        }
        let got: Vec<Event> = events
            .try_iter()
            .map(|t: Transition| (t.from, t.to, t.reason, t.at))
            .collect();
        let want = model.take_events();
        if got != want {
            fail(i, &format!("transitions: engine {got:?}, model {want:?}"));
        }
    }
    // Every permit still out reports on drop: the books must still balance.
    let n = scenario.ops.len();
    for (p, m) in permits.drain(..) {
        drop(p);
        model.finish(m, Outcome::Ignored);
    }
    let (got, want) = (Observed::of(&breaker), model.observed());
    if got != want {
        fail(
            n.saturating_sub(1),
            &format!("after dropping every permit:\n  engine {got:?}\n  model  {want:?}"),
        );
    }
    n
}

/// Runs `scenario`; if it fails, removes operations while it still fails and panics with the
/// smallest failing sequence found.
pub fn run_or_shrink(scenario: &Scenario) -> usize {
    let fails =
        |s: &Scenario| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(s))).is_err();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    if !fails(scenario) {
        std::panic::set_hook(hook);
        return scenario.ops.len();
    }
    let mut best = scenario.clone();
    let mut chunk = best.ops.len().div_ceil(2).max(1);
    while chunk >= 1 {
        let mut i = 0;
        let mut removed = false;
        while i < best.ops.len() {
            let mut trial = best.clone();
            trial.ops.drain(i..(i + chunk).min(trial.ops.len()));
            if fails(&trial) {
                best = trial;
                removed = true;
            } else {
                i += chunk;
            }
        }
        if !removed {
            if chunk == 1 {
                break;
            }
            chunk /= 2;
        }
    }
    std::panic::set_hook(hook);
    run(&best)
}

impl Op {
    /// The bytes [`Op::arbitrary`] reads back as this operation.
    fn encode(&self, out: &mut Vec<u8>) {
        let outcome = |o: Outcome| match o {
            Outcome::Success => 0,
            Outcome::Failure => 5,
            Outcome::Ignored => 9,
        };
        match *self {
            Op::Acquire => out.push(0),
            Op::Record { pick, outcome: o } => out.extend([27, pick, outcome(o)]),
            Op::Drop { pick } => out.extend([54, pick]),
            Op::Call { ok } => out.extend([58, ok as u8]),
            Op::Advance { ms } if ms <= 1500 => out.extend([65, (ms >> 8) as u8, ms as u8]),
            Op::Advance { ms } => {
                assert!(
                    ms % 1000 == 0 && (1..=90).contains(&(ms / 1000)),
                    "{ms} ms cannot be encoded"
                );
                out.extend([78, (ms / 1000 - 1) as u8]);
            }
            Op::ForceOpen => out.push(85),
            Op::Disable => out.push(86),
            Op::MetricsOnly => out.push(87),
            Op::Reset => out.push(88),
            Op::Restore => out.push(89),
            Op::SetPolicy(n) => out.extend([90, n]),
        }
    }
}

impl Scenario {
    /// The bytes [`Scenario::arbitrary`] reads back as this scenario: fuzz seeds.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.policy];
        for op in &self.ops {
            op.encode(&mut out);
        }
        out
    }
}

/// Hand-written scenarios: the fuzz target's seed corpus, also run by `model.rs`.
pub fn seeds() -> Vec<(&'static str, Scenario)> {
    use Op::*;
    let rec = |pick, outcome| Record { pick, outcome };
    let (s, f, i) = (Outcome::Success, Outcome::Failure, Outcome::Ignored);
    let fail = Call { ok: false };
    let ok = Call { ok: true };
    let scenario = |policy, ops: &[Op]| Scenario {
        policy,
        ops: ops.to_vec(),
    };
    let mut ramp = vec![
        fail,
        fail,
        Advance { ms: 10_000 },
        Acquire,
        Acquire,
        rec(0, s),
    ];
    ramp.push(rec(0, s));
    for step in [0, 1_000, 1_000, 1_500] {
        ramp.push(Advance { ms: step });
        ramp.extend([ok; 9]);
    }
    ramp.extend([fail, fail, Advance { ms: 20_000 }, ok]);
    vec![
        // Open, probed and closed again (policy 0: count 4, min 2, rate 0.5, 2 probes).
        (
            "contract",
            scenario(
                0,
                &[
                    fail,
                    fail,
                    Acquire,
                    Advance { ms: 10_000 },
                    Acquire,
                    Acquire,
                    Acquire,
                    rec(0, s),
                    rec(0, s),
                    ok,
                ],
            ),
        ),
        // A probe outlives its episode and holds its slot; a probe failure doubles the period.
        (
            "stale_probes",
            scenario(
                0,
                &[
                    fail,
                    fail,
                    Advance { ms: 10_000 },
                    Acquire,
                    Acquire,
                    rec(0, f),
                    Acquire,
                    Advance { ms: 20_000 },
                    Acquire,
                    Acquire,
                    rec(1, s),
                    rec(0, s),
                    Drop { pick: 0 },
                ],
            ),
        ),
        // Recovering: a ramp from a quarter over 4 s, then a trip that keeps the step.
        ("ramp", scenario(4, &ramp)),
        // A bulkhead switched on by a swap counts only the permits acquired after it.
        (
            "bulkhead_swap",
            scenario(
                0,
                &[
                    Acquire,
                    SetPolicy(2),
                    Acquire,
                    Acquire,
                    Acquire,
                    rec(0, s),
                    Acquire,
                    rec(1, s),
                    Acquire,
                    Drop { pick: 0 },
                    Drop { pick: 0 },
                    Drop { pick: 0 },
                ],
            ),
        ),
        // Slow calls on a time window, aged out bucket by bucket.
        (
            "time_slow",
            scenario(
                9,
                &[
                    Acquire,
                    Acquire,
                    Advance { ms: 900 },
                    rec(0, s),
                    rec(0, f),
                    ok,
                    Advance { ms: 2_000 },
                    ok,
                    fail,
                    Acquire,
                    Advance { ms: 1_200 },
                    rec(0, s),
                    Advance { ms: 9_000 },
                    ok,
                    fail,
                    SetPolicy(3),
                    fail,
                    fail,
                    fail,
                ],
            ),
        ),
        // Consecutive failures trip whatever min_calls; a success starts the run again.
        (
            "consecutive",
            scenario(
                1,
                &[
                    fail,
                    fail,
                    ok,
                    fail,
                    fail,
                    fail,
                    Advance { ms: 10_000 },
                    ok,
                    fail,
                ],
            ),
        ),
        // Manual states with permits out; reset keeps the counters.
        (
            "manual",
            scenario(
                0,
                &[
                    Acquire,
                    Acquire,
                    ForceOpen,
                    Acquire,
                    rec(0, f),
                    Disable,
                    Acquire,
                    ok,
                    fail,
                    MetricsOnly,
                    fail,
                    fail,
                    rec(0, s),
                    Reset,
                    rec(0, i),
                    fail,
                    fail,
                ],
            ),
        ),
        // Everything on: slow, consecutive, bulkhead of 1, a ramp, on a short time window.
        (
            "everything",
            scenario(
                6,
                &[
                    Acquire,
                    Acquire,
                    Advance { ms: 600 },
                    rec(0, s),
                    fail,
                    fail,
                    Advance { ms: 10_000 },
                    Acquire,
                    Acquire,
                    rec(0, s),
                    Acquire,
                    rec(0, s),
                    Advance { ms: 1_500 },
                    ok,
                    ok,
                    Advance { ms: 1_500 },
                    ok,
                ],
            ),
        ),
    ]
}
