//! Transitions: judging a window, tripping, following the fleet open, the end of a probe,
//! expiry, manual control, restore and policy swap, and the publication of each episode's
//! values.
//!
//! # Synchronization
//!
//! - **State word**: every change is an `exchange` (`AcqRel`) from a loaded word to one
//!   computed by [`StateWord`]'s pure functions. Each change publishes what was written before
//!   it: the cleared window when leaving `HalfOpen`, the store pointer, the window cleared by
//!   `reset`.
//! - **Open deadline** (`open_until`, `open_epoch`), the writer's side: written by the thread
//!   whose exchange entered `Open` (a trip, a failed probe or a fleet follow, all through
//!   [`Inner::entered_open`]), *after* the exchange: `open_until` (`Relaxed`), then
//!   `open_epoch` (`Release`), which readers `Acquire` (acquire.rs). Writing first and
//!   exchanging second would let a thread stalled across several transitions overwrite a
//!   newer deadline; writing second could too, so the writes are made under `publish_lock`,
//!   and only if the word is still in the episode ([`Inner::publish_episode`]): publications
//!   land in episode order and a superseded one is dropped. `open_since` is written and read
//!   only under `publish_lock` (`Relaxed`).
//!   When the timer thread will watch the deadline, the same thread then marks the word
//!   `timed` with an exchange (`AcqRel`): a reader that `Acquire`-loads a timed `Open` word has
//!   its deadline (or a later episode's, if the word has moved on since) without loading
//!   `open_epoch`, so the common rejection decides from the state word alone.
//! - **Ramp start** (`ramp_start`, `ramp_epoch`): the same protocol for `Recovering`.
//! - **Window clear**: the bits are swapped out (`Relaxed`), then the cursor moves to its base
//!   (`SeqCst`), which publishes the cleared bits to recorders (see window/count.rs). A swap
//!   to another shape clears the new store and then `Release`-stores the window pointer.
//! - **Policy**: swaps, `manual` and `restore` hold `config_lock`; the hot values are written
//!   through the seqlock (config.rs), then the `ArcSwap` that `policy()` reads.

use std::sync::Arc;
use std::time::Duration;

use fusebox_policies::Policy;

use super::config::{Config, judge};
use super::flags::Flags;
use super::handle::WeakHandle;
use super::inner::Inner;
use super::metrics::SavedState;
use crate::clock::duration_nanos;
use crate::error::{Outcome, RetryAfter};
use crate::state::{ProbeEnd, State, StateWord, TransitionReason};
use crate::sync::{Ordering, hold, lock};
use crate::window::{Tally, WindowStore};

impl Inner {
    /// Judges the window's rates and trips the breaker if one reached its threshold.
    #[inline]
    pub(super) fn evaluate(&self, t: Tally, config: &Config, word: StateWord) {
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
    pub(super) fn trip_judged(&self, mut seen: StateWord, mut why: TransitionReason) {
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
            match judge(self.window_tally(), &self.hot.config.read()) {
                Some(again) => (seen, why) = (word, again),
                None => return,
            }
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
        // loads alone are weaker: see window/count.rs); without it the model
        // `a_failure_from_before_the_trip_is_judged_in_the_window_it_lands_in` fails.
        crate::sync::loads_follow_updates();
        let tally = self.window_tally();
        // The usual case: the window is as the clear left it, and nothing is to be judged.
        if tally.calls == 0 {
            return;
        }
        if let Some(why) = judge(tally, &self.hot.config.read()) {
            self.trip_judged(entered, why);
        }
    }

    /// Opens the breaker from `seen` (or a later word of the same episode); true if it did.
    #[cold]
    pub(super) fn trip(&self, seen: StateWord, reason: TransitionReason) -> bool {
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
                    self.entered_open(word, next, reason, OpenFor::Drawn);
                    return true;
                }
                Err(actual) => word = actual,
            }
        }
    }

    /// Opens the breaker because other instances of the fleet opened it, for `remaining`
    /// (ns); true if this call opened it. Unlike a judged trip it is tied to no episode: it
    /// opens from whatever word it finds, if that word is one that trips (`Closed`,
    /// `Recovering`), so it takes effect at its exchange or finds the breaker in a state it
    /// leaves alone. A racing trip or follow that wins the exchange leaves this one nothing
    /// to do: one transition into `Open` per episode.
    #[cold]
    pub(super) fn follow_open(&self, remaining: u64) -> bool {
        let mut word = self.word();
        loop {
            let Some(next) = word.trip() else {
                return false;
            };
            match self.exchange(word, next) {
                Ok(()) => {
                    self.entered_open(
                        word,
                        next,
                        TransitionReason::Fleet,
                        OpenFor::Remaining(remaining),
                    );
                    return true;
                }
                Err(actual) => word = actual,
            }
        }
    }

    /// Publishes the deadline of the `Open` episode `next` that this thread entered, `open_for`
    /// from now (or until a later Retry-After floor), and reports the transition.
    fn entered_open(
        &self,
        from: StateWord,
        next: StateWord,
        reason: TransitionReason,
        open_for: OpenFor,
    ) {
        let now = self.cold.clock.now();
        let period = match open_for {
            OpenFor::Drawn => {
                let policy = self.cold.policy.load();
                let draw = if policy.jitter() > 0.0 {
                    self.random_unit()
                } else {
                    0.5
                };
                open_period_drawn(&policy, next.step(), draw)
            }
            // Clamped to the policy's longest period when published (`publish_open`).
            OpenFor::Remaining(remaining) => remaining,
        };
        let deadline = now.saturating_add(period);
        let floor = self.retry_after_floor();
        if floor > deadline {
            // The dependency asked for longer than the policy's period: as if the period had
            // started a whole (longest) period before that deadline, so it is kept, not
            // clamped to the policy's longest period.
            let since = floor.saturating_sub(self.longest_open_period(next.step()));
            self.publish_open(next, since, floor);
        } else {
            self.publish_open(next, now, deadline);
        }
        self.emit(from, next, reason, Some(now));
    }

    /// Runs `publish` if the word is still in the episode `next`, which this thread's exchange
    /// entered. An episode's values (the open deadline, the ramp start) are written after that
    /// exchange, so a thread stalled across later transitions could otherwise overwrite a newer
    /// episode's values with its own. Publishers take `publish_lock` and check their episode is
    /// current before writing: publications land in episode order, and a superseded one is
    /// dropped (nobody reads an episode's values once the word has left it).
    fn publish_episode(&self, next: StateWord, publish: impl FnOnce()) {
        let _publishing = hold(&self.busy.publish_lock);
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
            self.extras().open_since.store(since, Ordering::Relaxed);
            // Relaxed: a new episode starts a new run.
            self.busy.consecutive_failures.store(0, Ordering::Relaxed);
            // Relaxed: published by the Release store of `open_epoch` below.
            self.hot.open_until.store(deadline, Ordering::Relaxed);
            // Release: publishes `open_until` to readers that Acquire `open_epoch`.
            self.hot.open_epoch.store(next.epoch(), Ordering::Release);
            // A deadline past what a rejection carries as it is (146 years on the clock) is
            // left unmarked: the rejections of a timed word copy their deadline unclamped. So
            // is the word of a recorded breaker: its rejections take the path that records
            // them (`record_to` sets the flag, then takes this lock to unmark the word: see
            // `untime_for_recording`).
            if self.cold.clock.timer_watches()
                && deadline <= RetryAfter::LATEST_DEADLINE
                && !self.hot.config.flags().contains(Flags::RECORD)
            {
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
                crate::timer::schedule(Box::new(self.cold.me.downgrade()), next.epoch(), deadline);
            }
        });
    }

    /// Recording has started (`RECORD` is set): takes the timed mark off the current word, so
    /// that every later rejection takes the path that records it. Under `publish_lock`, which
    /// `publish_open` reads the flag under: an opener that read the flag clear marked its word
    /// before this runs, and one that runs after reads it set and marks nothing. A rejection
    /// that read the marked word before the exchange below is not recorded, as a call racing
    /// the switch may not be. Stopping the recording leaves words unmarked until the next
    /// `Open` episode.
    pub(super) fn untime_for_recording(&self) {
        let _publishing = hold(&self.busy.publish_lock);
        let mut word = self.word();
        while word.timed() {
            match self.exchange(word, word.untimed()) {
                Ok(()) => break,
                Err(actual) => word = actual,
            }
        }
    }

    /// The longest open period the policy in force draws at backoff `step` (ns): the period
    /// stretched by the whole jitter.
    fn longest_open_period(&self, step: u32) -> u64 {
        open_period_drawn(&self.cold.policy.load(), step, 1.0)
    }

    /// After a policy swap: an `Open` period under way ends no later than the policy now in
    /// force would have ended it, measured from the episode's start (a shorter `open_timeout`
    /// takes effect at once; a longer one does not extend the period).
    fn shorten_open_period(&self) {
        // The state is read under `publish_lock`, not before taking it: an opener that read
        // the old policy published under the lock, so this thread, taking it after, sees its
        // episode; an opener that takes it after this thread reads the new policy (the swap
        // happened before this lock) and clamps its own deadline. Checking the state first
        // let the `policy_swap` loom model find a thread that saw `Closed` after an opener had
        // published a deadline from the old policy.
        let _publishing = hold(&self.busy.publish_lock);
        let word = self.word();
        // Acquire: pairs with the Release store of `open_epoch`; an episode not yet
        // published is clamped by its own publisher (see `publish_open`).
        if word.state() != State::Open
            || self.hot.open_epoch.load(Ordering::Acquire) != word.epoch()
        {
            return;
        }
        // Relaxed: written under `publish_lock`, which this thread holds.
        let since = self.extras().open_since.load(Ordering::Relaxed);
        let limit = since.saturating_add(self.longest_open_period(word.step()));
        // Relaxed: `open_until` is only written under `publish_lock`.
        if limit >= self.hot.open_until.load(Ordering::Relaxed) {
            return;
        }
        // Relaxed: a reader may still act on the old deadline once, as if it had read just
        // before the swap; the timer, if it watches, is handed the new one.
        self.hot.open_until.store(limit, Ordering::Relaxed);
        if self.cold.clock.timer_watches() {
            crate::timer::schedule(Box::new(self.cold.me.downgrade()), word.epoch(), limit);
        }
    }

    /// Publishes the start of the `Recovering` episode `next`, entered by this thread.
    fn publish_ramp(&self, next: StateWord, start: u64) {
        self.publish_episode(next, || {
            // Relaxed: published by the Release store of `ramp_epoch` below.
            self.hot.ramp_start.store(start, Ordering::Relaxed);
            // Release: publishes `ramp_start` to readers that Acquire `ramp_epoch`.
            self.hot.ramp_epoch.store(next.epoch(), Ordering::Release);
        });
    }

    /// A uniform draw in [0, 1) from the breaker's splitmix64 stream (for jitter).
    pub(super) fn random_unit(&self) -> f64 {
        // Relaxed: any interleaving yields distinct stream positions.
        let mut z = self
            .extras()
            .rng
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Marks the `Open` episode `epoch` as past its deadline (the timer thread's call).
    fn expire(&self, epoch: u32) {
        let mut word = self.word();
        while let Some(next) = word.expire(epoch) {
            match self.exchange(word, next) {
                Ok(()) => return,
                Err(actual) => word = actual,
            }
        }
    }

    /// Loom models only: what the timer thread does at an open deadline (see
    /// `Breaker::loom_timer_fires`). Returns whether an episode had been published.
    #[cfg(loom)]
    pub(super) fn loom_timer_fires(&self) -> bool {
        // Acquire: as in `open_check`.
        let epoch = self.hot.open_epoch.load(Ordering::Acquire);
        self.expire(epoch);
        epoch != u32::MAX
    }

    /// A half-open probe of `epoch` ends.
    pub(super) fn end_probe(&self, epoch: u32, end: ProbeEnd) {
        let mut word = self.word();
        loop {
            let config = self.hot.config.read();
            let (needed, ramp) = (config.success_threshold, config.flags.contains(Flags::RAMP));
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
                        State::Open => self.entered_open(word, next, why, OpenFor::Drawn),
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

    /// Reports the outcome of a half-open probe; `recorded` if its call goes into the
    /// breaker's call recorder.
    #[cold]
    pub(super) fn finish_probe(&self, epoch: u32, start: u64, outcome: Outcome, recorded: bool) {
        let mut now = None;
        if self.hot.config.flags().contains(Flags::LATENCY) {
            now = self.record_latency(start);
        }
        if recorded {
            let t = *now.get_or_insert_with(|| self.cold.clock.now());
            self.record_call(outcome, start, t);
        }
        let b = &self.busy;
        // Relaxed: statistics.
        match outcome {
            Outcome::Ignored => {
                b.ignored.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::Success | Outcome::Failure => {
                // SeqCst, before the failure count: see `counters`.
                b.other_recorded.fetch_add(1, Ordering::SeqCst);
                self.count_failure(outcome == Outcome::Failure);
                let config = self.hot.config.read();
                if config.flags.contains(Flags::SLOW) {
                    self.is_slow(start, &config, &mut now);
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

    /// Empties the window and starts its cursor again.
    fn clear_window(&self) {
        // A breaker that has recorded nothing has no store to clear.
        if let Some(window) = self.window_if_made() {
            window.clear();
        }
        self.rebase_cursor();
        // Relaxed: the run is a heuristic count (see record.rs).
        self.busy.consecutive_failures.store(0, Ordering::Relaxed);
    }

    /// Empties the stripes and starts the cursor again from 0 for the window cleared (or the
    /// store swapped in) just before, moving its count into the base so totals stay exact.
    fn rebase_cursor(&self) {
        if let Some(stripes) = &self.hot.stripes {
            stripes.clear();
        }
        let b = &self.busy;
        // SeqCst, all four: one total order with the reader's loads in `counters`, which
        // retries while a move it may have seen half done is under way (between the swap and
        // the add the count is in neither word).
        b.cursor_moves_started.fetch_add(1, Ordering::SeqCst);
        // The swap also publishes the cleared bits to recorders (see window/count.rs).
        let n = b.cursor.swap(0, Ordering::SeqCst);
        b.cursor_base.fetch_add(n, Ordering::SeqCst);
        b.cursor_moves_done.fetch_add(1, Ordering::SeqCst);
    }

    /// `force_open`, `disable`, `metrics_only` and `reset`.
    pub(super) fn manual(&self, to: State, reason: TransitionReason, note: Option<Arc<str>>) {
        let _config = hold(&self.busy.config_lock);
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
                    self.emit_noted(word, next, reason, None, note);
                    return;
                }
                Err(actual) => word = actual,
            }
        }
    }

    pub(super) fn restore(&self, saved: &SavedState) {
        let _config = hold(&self.busy.config_lock);
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

    pub(super) fn set_policy(&self, policy: Policy) {
        let _config = hold(&self.busy.config_lock);
        self.swap_policy(policy);
    }

    /// `set_policy`, for a caller that holds `config_lock`.
    pub(super) fn swap_policy(&self, policy: Policy) {
        let (reevaluate, slow_rule_on, new_rate_limit) = {
            let old = self.cold.policy.load();
            (
                old.failure_rate_threshold() != policy.failure_rate_threshold()
                    || old.min_calls() != policy.min_calls()
                    || old.slow_calls() != policy.slow_calls(),
                old.slow_calls().is_none() && policy.slow_calls().is_some(),
                old.rate_limit() != policy.rate_limit(),
            )
        };
        if new_rate_limit {
            self.restart_rate_limit();
        }
        let shape = policy.window();
        // A breaker that has recorded nothing gets its first store now, of the new shape if
        // no racing first record made one of the old: after this, no record can install a
        // store of the old shape.
        let current = match self.window_if_made() {
            Some(store) => store,
            None => self.install_window(shape),
        };
        if !current.has_shape(shape) {
            let mut stores = lock(&self.extras().stores);
            let store: &WindowStore =
                if let Some(first) = self.cold.store.get().filter(|s| s.has_shape(shape)) {
                    first
                } else if let Some(i) = stores.iter().position(|s| s.has_shape(shape)) {
                    &stores[i]
                } else {
                    stores.push(Box::new(WindowStore::new(shape)));
                    &stores[stores.len() - 1]
                };
            store.clear();
            // A record racing this that loaded the old store before the pointer store below
            // and takes its cursor increment after this rebase writes its failure or slow flag
            // to the old store: the new window holds it as a success. Only such a race loses
            // a flag; every counter stays exact.
            self.rebase_cursor();
            // Release: publishes the cleared store to recorders that Acquire the pointer.
            self.hot
                .window
                .store(std::ptr::from_ref(store).cast_mut(), Ordering::Release);
        } else if slow_rule_on {
            // Slow flags were not kept while no rule was set: the rule starts from a clean
            // slate, before its flag goes up below.
            self.window().clear_slow();
        }
        self.load_hot_config(&policy);
        if reevaluate {
            self.hot.config.owe_reevaluation();
        }
        let old = self.cold.policy.swap(crate::intern::shared(policy));
        #[cfg(feature = "tokio")]
        if old.chaos() != self.cold.policy.load().chaos() {
            self.restart_chaos_draws();
        }
        // Held by `old` alone: no breaker uses it any more.
        crate::intern::forget_if_unshared(&old, 1);
        self.shorten_open_period();
    }
}

/// How long an `Open` episode entered by a thread lasts, before `publish_open` clamps it to
/// the longest period of the policy in force.
#[derive(Clone, Copy)]
enum OpenFor {
    /// The period the policy draws at the episode's backoff step, jitter included.
    Drawn,
    /// What another instance of the fleet has left of its own open period (ns).
    Remaining(u64),
}

/// The timer's target: the breaker, held weakly so that a deadline does not keep it alive.
impl crate::timer::Expire for WeakHandle {
    fn expire(&self, epoch: u32) {
        if let Some(inner) = self.upgrade() {
            inner.expire(epoch);
        }
    }
}

/// The open period (ns) `policy` gives at backoff `step` for the draw `draw` in [0, 1]: with
/// jitter j, the period p stretched to p·(1 − j + 2j·draw), so 0 gives the shortest, 1 the
/// longest and 0.5 the period itself; with no jitter, p whatever the draw.
fn open_period_drawn(policy: &Policy, step: u32, draw: f64) -> u64 {
    let period = duration_nanos(policy.open_period(step));
    let jitter = policy.jitter();
    if jitter > 0.0 {
        (period as f64 * (1.0 - jitter + 2.0 * jitter * draw)) as u64
    } else {
        period
    }
}
