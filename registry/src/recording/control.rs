//! A registry's recording: which of its breakers record their calls ([`Registry::record`],
//! a config file's `[record]` table), into which [`CallRecorder`], and handing the calls out
//! as JSON Lines ([`Registry::drain_recording`]).
//!
//! # Synchronization
//!
//! - The recording in force is an `ArcSwapOption`: a drain, a breaker's creation and the
//!   Prometheus text load it without a lock.
//! - Changing it holds the policy table's write lock, which every breaker creator holds for
//!   reading while it creates (lookup.rs): a breaker is either created before the change,
//!   and switched by it, or after, and switched at its creation by the recording it loads.
//!   Two changes are serialized by the same lock.
//! - `dropped_before` (the drops of replaced recorders) is a `Relaxed` statistic, changed
//!   under that lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use fusebox_engine::{Breaker, CallOutcome, CallRecord, CallRecorder};
use fusebox_policies::RecordConfig;

use super::line::{RecordedCall, RecordedOutcome};
use crate::{Registry, write};

/// A recording in force: what it records and where.
pub(crate) struct Recording {
    config: RecordConfig,
    recorder: CallRecorder,
}

/// A registry's recording state.
#[derive(Default)]
pub(crate) struct RecordingState {
    current: arc_swap::ArcSwapOption<Recording>,
    /// Calls dropped by recorders no longer in force.
    dropped_before: AtomicU64,
}

impl RecordingState {
    /// Switches `breaker`, just created as `name`, to the recording in force if it matches.
    /// Called with the policy table lock held (see the module docs).
    pub(crate) fn on_created(&self, name: &str, breaker: &Breaker) {
        if let Some(recording) = &*self.current.load()
            && recording.config.matches(name)
        {
            breaker.record_to(&recording.recorder, recording.config.sample());
        }
    }
}

impl From<&CallRecord> for RecordedCall {
    fn from(call: &CallRecord) -> Self {
        let (outcome, reason) = match call.outcome() {
            CallOutcome::Success => (RecordedOutcome::Success, None),
            CallOutcome::Failure => (RecordedOutcome::Failure, None),
            CallOutcome::Rejected(reason) => (
                RecordedOutcome::Rejected,
                Some(reason.as_label().to_owned()),
            ),
            // `Ignored`, and any outcome a later engine adds: neither a success nor a failure.
            _ => (RecordedOutcome::Ignored, None),
        };
        RecordedCall {
            t_ms: nanos_to_ms(call.at_nanos()),
            breaker: call.breaker().to_owned(),
            outcome,
            duration_ms: call.duration_nanos().map(nanos_to_ms),
            reason,
        }
    }
}

fn nanos_to_ms(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}

impl Registry {
    /// Records the calls of the breakers `config` names or matches, existing ones and those
    /// created later, into a buffer of `config.capacity()` calls that
    /// [`drain_recording`](Self::drain_recording) empties. Replaces the recording in force:
    /// breakers it recorded that `config` no longer matches stop. The buffer is kept if the
    /// capacity is unchanged; a new capacity starts a new, empty buffer (drain first to keep
    /// what the old one holds).
    ///
    /// A config file's `[record]` table does the same when the file is applied; a file
    /// without the table stops recording. A recorded breaker keeps its state and counters; its
    /// calls cost what [`Breaker::record_to`] says.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_engine::{ManualClock, Policy};
    /// use fusebox_registry::{RecordConfig, Registry};
    ///
    /// let registry = Registry::with_clock(Policy::default(), ManualClock::new());
    /// registry.record(RecordConfig::new(["pay.*"], 1.0, 10_000)?);
    /// registry.breaker("pay.stripe")?.try_acquire()?.success();
    /// registry.breaker("db")?.try_acquire()?.success(); // not recorded
    /// assert_eq!(
    ///     registry.drain_recording(),
    ///     "{\"t_ms\":0.0,\"breaker\":\"pay.stripe\",\"outcome\":\"success\",\"duration_ms\":0.0}\n"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn record(&self, config: RecordConfig) {
        let _table = write(&self.inner.policies);
        let state = &self.inner.recording;
        let old = state.current.load_full();
        let recorder = match &old {
            Some(old) if old.config.capacity() == config.capacity() => old.recorder.clone(),
            _ => CallRecorder::new(config.capacity()),
        };
        for breaker in self.breakers() {
            if config.matches(breaker.name()) {
                breaker.record_to(&recorder, config.sample());
            } else if let Some(old) = &old {
                stop_if_into(&breaker, &old.recorder);
            }
        }
        if let Some(old) = &old
            && !CallRecorder::ptr_eq(&old.recorder, &recorder)
        {
            // Relaxed: a statistic, changed under the table lock.
            state
                .dropped_before
                .fetch_add(old.recorder.dropped(), Ordering::Relaxed);
        }
        state
            .current
            .store(Some(Arc::new(Recording { config, recorder })));
    }

    /// Stops recording: every breaker the recording in force switched stops, and the calls
    /// buffered and not yet drained are discarded. Does nothing if none is in force.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_engine::Policy;
    /// use fusebox_registry::{RecordConfig, Registry};
    ///
    /// let registry = Registry::new(Policy::default());
    /// registry.record(RecordConfig::new(["db"], 1.0, 100)?);
    /// let db = registry.breaker("db")?;
    /// registry.stop_recording();
    /// assert!(db.recorder().is_none() && registry.recording().is_none());
    /// assert_eq!(registry.drain_recording(), "");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop_recording(&self) {
        let _table = write(&self.inner.policies);
        let state = &self.inner.recording;
        let Some(old) = state.current.swap(None) else {
            return;
        };
        for breaker in self.breakers() {
            stop_if_into(&breaker, &old.recorder);
        }
        // Relaxed: a statistic, changed under the table lock.
        state
            .dropped_before
            .fetch_add(old.recorder.dropped(), Ordering::Relaxed);
    }

    /// The recording in force, if any: what [`record`](Self::record) or the last config
    /// file's `[record]` table set.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_registry::Registry;
    /// let registry = Registry::from_toml("[record]\nbreakers = [\"pay.*\"]\nsample = 0.1\n")?;
    /// assert_eq!(registry.recording().unwrap().sample(), 0.1);
    /// registry.apply_toml("")?;
    /// assert!(registry.recording().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recording(&self) -> Option<RecordConfig> {
        self.inner
            .recording
            .current
            .load()
            .as_ref()
            .map(|r| r.config.clone())
    }

    /// Every call buffered so far as JSON Lines: one
    /// [`RecordedCall::to_json_line`] per call, each ending in `\n`, oldest first (by arrival
    /// time). Empties the buffer; an empty string when nothing was recorded or no recording
    /// is in force (see [`recording`](Self::recording)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_engine::{ManualClock, Policy};
    /// use fusebox_registry::{RecordConfig, RecordedCall, RecordedOutcome, Registry};
    ///
    /// let clock = ManualClock::new();
    /// let registry = Registry::with_clock(Policy::default(), clock.clone());
    /// registry.record(RecordConfig::new(["db"], 1.0, 100)?);
    /// let db = registry.breaker("db")?;
    /// clock.advance(Duration::from_millis(1500));
    /// let permit = db.try_acquire()?;
    /// clock.advance(Duration::from_millis(20));
    /// permit.failure();
    /// db.force_open();
    /// let _ = db.try_acquire();
    ///
    /// let text = registry.drain_recording();
    /// let calls: Vec<RecordedCall> =
    ///     text.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    /// assert_eq!((calls[0].t_ms, calls[0].duration_ms), (1500.0, Some(20.0)));
    /// assert_eq!(calls[1].outcome, RecordedOutcome::Rejected);
    /// assert_eq!(calls[1].reason.as_deref(), Some("forced_open"));
    /// assert_eq!(registry.drain_recording(), "");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn drain_recording(&self) -> String {
        let Some(recording) = self.inner.recording.current.load_full() else {
            return String::new();
        };
        let mut calls = recording.recorder.drain();
        // Stable: calls of one arrival time keep the order they were buffered in.
        calls.sort_by_key(CallRecord::at_nanos);
        let mut out = String::with_capacity(calls.len() * 96);
        for call in &calls {
            out.push_str(&RecordedCall::from(call).to_json_line());
            out.push('\n');
        }
        out
    }

    /// Calls that were not recorded because the buffer was full, since the registry was made
    /// (over every recording it had). Exported as `fusebox_recording_dropped_total` by
    /// [`render_prometheus`](Self::render_prometheus).
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_engine::Policy;
    /// use fusebox_registry::{RecordConfig, Registry};
    ///
    /// let registry = Registry::new(Policy::default());
    /// registry.record(RecordConfig::new(["db"], 1.0, 1)?);
    /// let db = registry.breaker("db")?;
    /// db.try_acquire()?.success();
    /// db.try_acquire()?.success();
    /// assert_eq!(registry.recording_dropped(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recording_dropped(&self) -> u64 {
        let state = &self.inner.recording;
        // Relaxed: a statistic.
        let before = state.dropped_before.load(Ordering::Relaxed);
        before
            + state
                .current
                .load()
                .as_ref()
                .map_or(0, |r| r.recorder.dropped())
    }
}

/// Stops `breaker` recording if it records into `recorder` (not into one of its own).
fn stop_if_into(breaker: &Breaker, recorder: &CallRecorder) {
    if breaker
        .recorder()
        .is_some_and(|r| CallRecorder::ptr_eq(&r, recorder))
    {
        breaker.stop_recording();
    }
}
