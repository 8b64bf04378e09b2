//! Recording: what a permit's outcome does to the window and the counters, and when it makes
//! the breaker judge its window.
//!
//! # Synchronization
//!
//! - The common record reads the flags on their own (`Relaxed`, see config.rs) and takes one
//!   `SeqCst` `fetch_add` of the window cursor (`Busy::cursor`); the window's own bits are
//!   `SeqCst` too (see window/count.rs), so the recorder whose update comes last judges a
//!   tally that holds every racing outcome.
//! - **Counters**: an outcome is counted as recorded (the cursor or `other_recorded`, `SeqCst`)
//!   before it is counted as a failure (a `Release` lane increment, counter.rs), and
//!   `counters` reads them in the other order (metrics.rs): a failure is never read as a
//!   success. `ignored` and `slow` are `Relaxed` statistics.
//! - The consecutive-failure run is a `Relaxed` heuristic count; the trip itself is an
//!   exchange of the state word (transition.rs).
//! - Striped records (window/stripes.rs) are written by the owning thread alone.
//! - A recorded breaker (`RECORD`) takes the timed path: what pushing the call touches is in
//!   recording.rs.

use super::config::Config;
use super::flags::Flags;
use super::inner::Inner;
use super::permit::NOT_TIMED;
use crate::counter::Counted;
use crate::error::Outcome;
use crate::state::{State, StateWord, TransitionReason};
use crate::sync::Ordering;
use crate::window::stripes::Stripes;
use crate::window::{CountWindow, WindowStore};

/// The flags that send every record down the general path: a rule that needs the clock or a
/// run count, or a re-evaluation owed.
const RULED: Flags = Flags::SLOW
    .union(Flags::CONSECUTIVE)
    .union(Flags::REEVALUATE);

/// The flags that make a record read the clock before anything else: the latency histogram
/// and a call recorder (`record_timed`).
const TIMED_AFTER: Flags = Flags::LATENCY.union(Flags::RECORD);

impl Inner {
    /// Records one outcome of a permit admitted in `Closed`, `Recovering` or `MetricsOnly`;
    /// `recorded` if its call goes into the breaker's call recorder.
    #[inline(always)]
    pub(super) fn record(&self, outcome: Outcome, start: u64, recorded: bool) {
        // The common case, kept small enough to inline into the caller: a success on a count
        // window with no rule that needs the clock or a run count. The state is not checked
        // again: a success reported just after the breaker left `Closed` may land in the window
        // (the documented "either episode's window" latitude; leaving half-open clears it).
        let flags = self.hot.config.flags();
        // One test for the common case: no rule, not striped, no latency histogram, no call
        // recorder.
        if !flags.intersects(RULED.union(Flags::STRIPED).union(TIMED_AFTER)) {
            if self.record_shared(outcome, start) {
                return;
            }
        } else if flags.intersects(TIMED_AFTER) {
            self.record_timed(outcome, start, recorded);
            return;
        } else if !flags.intersects(RULED) {
            // Striped: a success on a thread that has its stripe is a plain load and store of
            // the stripe's count and a look at its slot, inline.
            if let (Outcome::Success, Some(stripes), Some(lane)) = (
                outcome,
                self.hot.stripes.as_deref(),
                crate::counter::current_lane(),
            ) && let WindowStore::Count(w) = self.window_or_unmade()
                && w.is_small()
            {
                if let Some(r) = stripes.take_success(lane, w) {
                    self.striped_success_slow(stripes, lane, w, r);
                }
                return;
            }
            if self.record_striped(outcome) || self.record_shared(outcome, start) {
                return;
            }
        }
        self.record_general(outcome, start, None);
    }

    /// A record with the latency histogram or a call recorder on: one clock read, which a
    /// slow-call rule shares, then the record as it would be without them, then the duration
    /// and the call.
    #[inline(never)]
    fn record_timed(&self, outcome: Outcome, start: u64, recorded: bool) {
        let flags = self.hot.config.flags();
        let timed = flags.contains(Flags::LATENCY) && start != super::permit::NOT_TIMED;
        let now = (timed || recorded).then(|| self.cold.clock.now());
        if flags.intersects(RULED)
            || !(self.hot.stripes.is_some() && self.record_striped(outcome)
                || self.record_shared(outcome, start))
        {
            self.record_general(outcome, start, now);
        }
        // The duration and the call go in last: their stores, to lines the window's update
        // does not touch, then wait in the store buffer behind no locked instruction of this
        // record, and the update does not wait for the clock read's chain of work.
        if let Some(t) = now {
            if timed {
                self.record_latency_at(start, t);
            }
            if recorded {
                self.record_call(outcome, start, t);
            }
        }
    }

    /// A success or failure on a count window with no rule that needs the clock or a run
    /// count: false if this is not one (the caller then takes the general path).
    #[inline(always)]
    fn record_shared(&self, outcome: Outcome, start: u64) -> bool {
        match outcome {
            // Tests, not a `match`: a match computes the store's kind whole (its tag is a count
            // window's spare tag values) before it branches, where a test of one kind is one
            // comparison.
            Outcome::Success => {
                let store = self.window_or_unmade();
                if let WindowStore::Count(w) = store {
                    // A success whose slot already holds one needs no write past the cursor's
                    // `fetch_add` (see `CountWindow::take_success`).
                    if let Some(seq) = w.take_success(&self.busy.cursor) {
                        self.record_success_slow(w, seq);
                    }
                    true
                } else if let WindowStore::Unmade = store {
                    self.record_first_success(start)
                } else {
                    false
                }
            }
            Outcome::Failure => {
                self.record_failure(start);
                true
            }
            Outcome::Ignored => false,
        }
    }

    /// A breaker's first success: installs its window store, then records as `record_shared`
    /// does, into the store whatever the state, as any other success would.
    #[cold]
    #[inline(never)]
    fn record_first_success(&self, start: u64) -> bool {
        self.window();
        self.record_shared(Outcome::Success, start)
    }

    /// A striped success that changes its stripe's window (see `record`).
    #[cold]
    #[inline(never)]
    fn striped_success_slow(&self, stripes: &Stripes, lane: usize, w: &CountWindow, r: u64) {
        if let Some(tally) = stripes.record_at(lane, w, r, false) {
            let word = self.word();
            if word.state() != State::MetricsOnly {
                self.evaluate(tally, &self.hot.config.read(), word);
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
        // `window`: a striped breaker's first outcome installs its store and goes to the
        // stripe, as every later one does.
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
        // Counted as a failure after it is counted as recorded: see `counters`.
        self.count_failure(failure);
        if let Some(tally) = tally
            && word.state() != State::MetricsOnly
        {
            // The stripe is judged alone (see window/stripes.rs).
            self.evaluate(tally, &self.hot.config.read(), word);
        }
        true
    }

    /// A failure with no rule that needs the clock or a run count: `record_general`'s path
    /// for it, without the rest of `record_general` around it (a large function whose
    /// entry and exit alone cost more than the failure's own work).
    #[inline(never)]
    fn record_failure(&self, start: u64) {
        let word = self.word();
        let WindowStore::Count(w) = self.window_or_unmade() else {
            return self.record_general(Outcome::Failure, start, None);
        };
        if !word.state().records_window() {
            return self.record_general(Outcome::Failure, start, None);
        }
        // Counted as recorded (the cursor's SeqCst `fetch_add`) before as failed: see
        // `record_general`.
        let (seq, rose) = w.take_failure(&self.busy.cursor);
        self.count_failure(true);
        if rose && word.state() != State::MetricsOnly {
            let tally = w.tally_after(seq, &self.busy.cursor);
            // A full window is judged on its policy's one precomputed word, with no need for
            // the rest of the configuration: the failure rate is the only rule on this path.
            // The word is read on its own (Relaxed): a swap racing with us may go either way.
            let trip = self.hot.config.trip_full();
            if tally.calls as u64 == trip >> 32 {
                if tally.failures as u64 >= trip & u64::from(u32::MAX) {
                    self.trip_judged(word, TransitionReason::FailureRate);
                }
                return;
            }
            self.evaluate(tally, &self.hot.config.read(), word);
        }
    }

    /// A fast-path success that changes the window: it evicts a failure, or the window grows.
    #[cold]
    #[inline(never)]
    fn record_success_slow(&self, w: &CountWindow, seq: u64) {
        if w.record(seq, false, None) {
            let tally = w.tally_after(seq, &self.busy.cursor);
            self.evaluate(tally, &self.hot.config.read(), self.word());
        }
    }

    /// Every other record: failures, ignored outcomes, slow-call and run rules, time windows.
    /// `now` is the clock's time if the caller read it already.
    #[inline(never)]
    fn record_general(&self, outcome: Outcome, start: u64, mut now: Option<u64>) {
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
        let flags = self.hot.config.flags();
        let mut config = flags
            .intersects(Flags::SLOW.union(Flags::CONSECUTIVE))
            .then(|| self.hot.config.read());
        // `None` with no slow-call rule: a count window's slow bitmap is then left alone, and
        // cleared when a rule is switched on (see window/count.rs).
        let slow = match &config {
            Some(c) if c.flags.contains(Flags::SLOW) => Some(self.is_slow(start, c, &mut now)),
            _ => None,
        };
        let word = self.word();
        if let Some(c) = config.filter(|c| c.flags.contains(Flags::CONSECUTIVE)) {
            // The outcome is recorded like any other even when it trips the breaker here; the
            // window's own evaluation then finds the episode over and does nothing.
            self.count_consecutive(failure, c.consecutive, word);
        }
        // An outcome is counted as recorded (SeqCst) before it is counted as a failure (a
        // Release increment), and `counters` reads them in the other order (Acquire, then
        // SeqCst): every failure it counts is among the recorded calls it counts, so the
        // failures never exceed them.
        if !word.state().records_window() {
            self.busy.other_recorded.fetch_add(1, Ordering::SeqCst);
            self.count_failure(failure);
            return;
        }
        // The one recorder that clears the owed bit (Relaxed, see config.rs) re-evaluates.
        let reevaluate = flags.contains(Flags::REEVALUATE) && self.hot.config.take_reevaluation();
        let tally = match self.window() {
            WindowStore::Count(w) => {
                // SeqCst: see window/count.rs.
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
            // Never: `window` installs a store. Counted as outside a window, so that the
            // totals stay exact all the same.
            WindowStore::Unmade => {
                self.busy.other_recorded.fetch_add(1, Ordering::SeqCst);
                self.count_failure(failure);
                None
            }
        };
        if let Some(tally) = tally
            && word.state() != State::MetricsOnly
        {
            let config = config.get_or_insert_with(|| self.hot.config.read());
            self.evaluate(tally, config, word);
        }
    }

    /// Counts a failure in the totals (after the caller counted the outcome as recorded).
    #[inline]
    pub(super) fn count_failure(&self, failure: bool) {
        if failure {
            // A Release increment after the outcome's SeqCst count as recorded: see `counters`.
            self.busy.lane_counts.increment(Counted::Failures);
        }
    }

    #[inline]
    pub(super) fn is_slow(&self, start: u64, config: &Config, now: &mut Option<u64>) -> bool {
        if start == NOT_TIMED {
            // Acquired before a slow-call rule was switched on: its duration is unknown.
            return false;
        }
        let t = *now.get_or_insert_with(|| self.cold.clock.now());
        let slow = t.saturating_sub(start) >= config.slow_nanos;
        if slow {
            // Relaxed: a statistic.
            self.busy.slow.fetch_add(1, Ordering::Relaxed);
        }
        slow
    }

    /// Counts a failure in a row (tripping the breaker at the `k`-th), or resets the run on a
    /// success.
    #[inline]
    fn count_consecutive(&self, failure: bool, k: u32, word: StateWord) {
        let run = &self.busy.consecutive_failures;
        // Relaxed: the run is a heuristic count; the trip itself is an exchange of the word.
        if failure {
            let n = run.fetch_add(1, Ordering::Relaxed).saturating_add(1);
            if n >= k {
                self.trip(word, TransitionReason::ConsecutiveFailures);
            }
        } else if run.load(Ordering::Relaxed) != 0 {
            run.store(0, Ordering::Relaxed);
        }
    }
}
