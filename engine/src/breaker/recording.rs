//! Recording a breaker's calls into a [`CallRecorder`]: switching it on and off
//! ([`Breaker::record_to`], [`Breaker::stop_recording`]), the sample drawn at admission, and
//! the entry each recorded call pushes.
//!
//! A recorded breaker has the `RECORD` flag, one of the flags that take a closed admission
//! off the fast path and send a record down `record_timed` (acquire.rs, record.rs), as the
//! latency histogram does. Without it, the closed fast path and the record's fast path are
//! unchanged (the flag folds into the masks they test already), and so is a timed rejection's:
//! a recorded breaker's `Open` words are never marked timed (transition.rs,
//! `untime_for_recording`), so its rejections take the path that tests the flag. With it:
//!
//! - an admission draws the sample (a thread-local generator, no shared atomic) and, if the
//!   call is sampled, reads the clock for its arrival time unless another rule already did;
//! - its record reads the clock once for the duration, and a slow-call rule's check uses that
//!   same reading (record.rs), so a recorded closed call reads the clock twice with or
//!   without a slow-call rule;
//! - a rejection draws the sample and, if sampled, reads the clock once.
//!
//! # Synchronization
//!
//! - **`RECORD` flag**: set and cleared by `fetch_or` / `fetch_and` (`Relaxed`) under
//!   `config_lock`, which a policy swap's rewrite of the flags also holds (config.rs), so
//!   neither loses the other's bits. It publishes nothing: a call racing with the switch may
//!   be recorded or not.
//! - **Sample threshold** (`Extras::record_threshold`): stored `Relaxed` before the flag is
//!   set and read `Relaxed` by admissions and rejections. A call that sees the flag with an
//!   older threshold is sampled by that one (0, after a stop: not recorded); no other data is
//!   read through it.
//! - **Recorder** (`RecorderSlot::current`, an `ArcSwapOption` of the recorder with this
//!   breaker's number in its table of names): arc-swap's own protocol publishes the
//!   attachment (the number entered before it). A recording thread does not take arc-swap's
//!   guard (two locked instructions) per call: it keeps its own counted copy of the
//!   attachment (`RecorderSlot::seen`, arc-swap's `Cache`), which a `Relaxed` load of the
//!   breaker's pointer checks, and reloads it through the guard only when the pointer
//!   changed. The copy keeps the recorder alive while a record pushes into it; the address of
//!   a copy still held cannot be taken by another attachment, so an equal pointer is the same
//!   attachment. Beside it the thread keeps its lane in that recorder's buffer, so that a
//!   push looks nothing up. A record that finds no recorder (recording stopped after its
//!   admission) records nothing, and lets go of its copy.
//! - **What the copies hold on to**: a thread that recorded keeps its copy, and with it the
//!   recorder's buffer, until its next recorded call of this breaker or until the breaker is
//!   dropped: at most one recorder per thread. A recorder replaced while threads keep
//!   recording is let go of by each at its next recorded call; the buffer of the last
//!   recorder a breaker recorded into stays allocated while the breaker lives, even after its
//!   recording stopped (see [`Breaker::stop_recording`]).
//! - **Entries** and the drop count: the recorder's (recorder.rs).
//! - The extras themselves are found through their `OnceLock`; a breaker whose flag is seen
//!   before its extras are (impossible in practice: they are made before the flag is set,
//!   but nothing orders a `Relaxed` load after them) records nothing for that call.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::Ordering as StatOrdering;

use arc_swap::ArcSwapOption;
use arc_swap::cache::Cache;

use super::Breaker;
use super::inner::Inner;
use crate::error::{Outcome, RejectReason};
use crate::recorder::{Attachment, CallOutcome, CallRecorder, Entry, Lane};
use crate::sync::{PerThread, hold};

/// The recorder a breaker records into, and each recording thread's copy of it.
pub(crate) struct RecorderSlot {
    /// The attachment in force; `None` while the breaker is not recorded.
    current: Arc<ArcSwapOption<Attachment>>,
    /// Each recording thread's copy of `current` and its lane in that recorder's buffer.
    seen: PerThread<RefCell<Option<Seen>>>,
}

/// The recorder a thread last recorded a breaker's call into.
struct Seen {
    /// arc-swap's `Cache`: the attachment, checked against the breaker's with one `Relaxed`
    /// load a call and reloaded when it changed.
    attachment: Cache<Arc<ArcSwapOption<Attachment>>, Option<Arc<Attachment>>>,
    /// The thread's lane in the buffer of the attachment beside it, which is kept alive with
    /// it so that no other attachment can take its address.
    lane: Option<(Arc<Attachment>, Arc<Lane>)>,
}

/// The threshold of a sample of 1: every call, without a draw.
const EVERY_CALL: u64 = u64::MAX;

/// The threshold a draw must fall below for a call to be recorded at `sample` (in (0, 1]).
fn threshold(sample: f64) -> u64 {
    if sample >= 1.0 {
        EVERY_CALL
    } else {
        // 2^64 · sample, at least 1 so that a tiny share still records now and then; the cast
        // saturates.
        ((sample * 18_446_744_073_709_551_616.0) as u64).max(1)
    }
}

thread_local! {
    /// The sampling generator's state (splitmix64); 0 until the thread's first draw seeds it.
    static DRAWS: Cell<u64> = const { Cell::new(0) };
}

/// A uniformly distributed `u64` from this thread's generator.
#[inline]
fn draw() -> u64 {
    DRAWS.with(|state| {
        let mut s = state.get();
        if s == 0 {
            // Each thread's state lives at its own address: a distinct seed per thread.
            s = (state as *const Cell<u64> as u64) ^ 0x2545_f491_4f6c_dd1d;
        }
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

impl From<Outcome> for CallOutcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Success => CallOutcome::Success,
            Outcome::Failure => CallOutcome::Failure,
            Outcome::Ignored => CallOutcome::Ignored,
        }
    }
}

impl Inner {
    /// Whether a call arriving now at a recorded breaker is recorded: its sample's draw.
    #[inline]
    pub(super) fn sample_call(&self) -> bool {
        let Some(extras) = self.cold.extras.get() else {
            return false;
        };
        // Relaxed: see the module docs.
        let threshold = extras.record_threshold.load(StatOrdering::Relaxed);
        threshold == EVERY_CALL || (threshold != 0 && draw() < threshold)
    }

    /// Pushes an admitted call: it arrived at `start` and ended with `outcome` at `now`.
    #[inline(never)]
    pub(super) fn record_call(&self, outcome: Outcome, start: u64, now: u64) {
        self.push_call(|breaker| Entry::admitted(breaker, start, now, outcome.into()));
    }

    /// Pushes `call` (made from the breaker's number in the recorder) into the recorder this
    /// breaker records into, if any, through the calling thread's copy of it (see the module
    /// docs).
    #[inline]
    fn push_call(&self, call: impl FnOnce(u32) -> Entry) {
        let Some(slot) = self.cold.extras.get().and_then(|e| e.recorder.get()) else {
            return;
        };
        slot.seen.with(RefCell::default, |seen| {
            // Never borrowed twice: nothing below calls back into a record.
            let Ok(mut seen) = seen.try_borrow_mut() else {
                return;
            };
            let seen = seen.get_or_insert_with(|| Seen {
                attachment: Cache::new(Arc::clone(&slot.current)),
                lane: None,
            });
            let Some(attached) = seen.attachment.load() else {
                seen.lane = None;
                return;
            };
            let lane = match &seen.lane {
                Some((of, lane)) if Arc::ptr_eq(of, attached) => lane,
                _ => {
                    let lane = attached.shared.lane();
                    &seen.lane.insert((Arc::clone(attached), lane)).1
                }
            };
            attached.shared.push(lane, call(attached.breaker));
        });
    }

    /// Pushes a rejection for `reason`, if its sample's draw says so: one clock read.
    #[cold]
    #[inline(never)]
    pub(super) fn record_rejection(&self, reason: RejectReason) {
        if !self.sample_call() {
            return;
        }
        // The clock is read only once a recorder takes the entry.
        self.push_call(|breaker| Entry::rejected(breaker, self.cold.clock.now(), reason));
    }
}

impl Breaker {
    /// Records this breaker's calls into `recorder` from now on: a share `sample` (in (0, 1])
    /// of the calls it admits or rejects, each with its arrival time on the breaker's clock,
    /// its outcome and, if admitted, its duration. Replaces the recorder or sample set
    /// before. See [`CallRecorder`].
    ///
    /// A call is sampled when it arrives, on a generator of the calling thread. A recorded
    /// call costs two clock reads (one if it is rejected), shared with a slow-call rule's; a
    /// call of a breaker not recorded pays nothing. Calls admitted while the breaker is
    /// [disabled](Self::disable) are recorded with their outcome too.
    ///
    /// # Panics
    ///
    /// If `sample` is not in (0, 1].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_engine::{Breaker, CallOutcome, CallRecorder, ManualClock, Policy, RejectReason};
    /// let clock = ManualClock::new();
    /// let b = Breaker::with_clock("pay.stripe", Policy::default(), clock.clone());
    /// let recorder = CallRecorder::new(1000);
    /// b.record_to(&recorder, 1.0);
    ///
    /// let permit = b.try_acquire()?;
    /// clock.advance(Duration::from_millis(30));
    /// permit.success();
    /// b.force_open();
    /// assert!(b.try_acquire().is_err());
    ///
    /// let calls = recorder.drain();
    /// assert_eq!(calls[0].outcome(), CallOutcome::Success);
    /// assert_eq!(calls[0].duration_nanos(), Some(30_000_000));
    /// assert_eq!(calls[1].outcome(), CallOutcome::Rejected(RejectReason::ForcedOpen));
    /// assert_eq!(calls[1].at_nanos(), 30_000_000);
    /// # Ok::<(), fusebox_engine::Rejected>(())
    /// ```
    pub fn record_to(&self, recorder: &CallRecorder, sample: f64) {
        assert!(
            sample > 0.0 && sample <= 1.0,
            "a recording's sample must be in (0, 1], got {sample}"
        );
        let inner = &*self.inner;
        // Under `config_lock`: a policy swap rewrites the flags under it (see the module docs).
        let _config = hold(&inner.busy.config_lock);
        let extras = inner.extras();
        // The name is entered in the recorder's table before the attachment is published.
        let attachment = recorder.shared().attach(&inner.cold.name.to_name());
        let slot = extras.recorder.get_or_init(|| {
            Box::new(RecorderSlot {
                current: Arc::default(),
                seen: PerThread::new(),
            })
        });
        slot.current.store(Some(Arc::new(attachment)));
        // Relaxed: see the module docs.
        extras
            .record_threshold
            .store(threshold(sample), StatOrdering::Relaxed);
        inner.hot.config.set_recording(true);
        inner.untime_for_recording();
    }

    /// Stops recording this breaker's calls; calls admitted before and recorded after may
    /// still be recorded. Does nothing if it was not recorded.
    ///
    /// Each thread that recorded a call keeps its own reference to the recorder, so that a
    /// recorded call takes no locked instruction to find it: the recorder's buffer is freed
    /// once its handles are dropped and those threads let go, at their next recorded call of
    /// this breaker (into another recorder) or when the breaker is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("db", Policy::default(), ManualClock::new());
    /// let recorder = CallRecorder::new(8);
    /// b.record_to(&recorder, 1.0);
    /// b.stop_recording();
    /// b.try_acquire().unwrap().success();
    /// assert!(recorder.is_empty() && b.recorder().is_none());
    /// ```
    pub fn stop_recording(&self) {
        let inner = &*self.inner;
        let Some(extras) = inner.cold.extras.get() else {
            return;
        };
        let _config = hold(&inner.busy.config_lock);
        inner.hot.config.set_recording(false);
        // Relaxed: see the module docs.
        extras.record_threshold.store(0, StatOrdering::Relaxed);
        if let Some(slot) = extras.recorder.get() {
            slot.current.store(None);
        }
    }

    /// The recorder this breaker records into, if it is recorded.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::new("db", Policy::default());
    /// assert!(b.recorder().is_none());
    /// let recorder = CallRecorder::new(8);
    /// b.record_to(&recorder, 0.5);
    /// assert!(CallRecorder::ptr_eq(&b.recorder().unwrap(), &recorder));
    /// ```
    pub fn recorder(&self) -> Option<CallRecorder> {
        let extras = self.inner.cold.extras.get()?;
        let attached = extras.recorder.get()?.current.load_full()?;
        Some(CallRecorder::from_shared(attached.shared.clone()))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn thresholds_cover_the_share() {
        assert_eq!(threshold(1.0), EVERY_CALL);
        assert_eq!(threshold(0.5), 1 << 63);
        assert_eq!(threshold(0.25), 1 << 62);
        assert_eq!(threshold(1e-30), 1);
    }

    #[test]
    fn draws_are_spread() {
        let below = (0..10_000).filter(|_| draw() < 1 << 63).count();
        assert!((4_500..=5_500).contains(&below), "{below}");
    }
}
