//! Striped recording: an opt-in mode ([`Breaker::striped`](crate::Breaker::striped)) that gives
//! up a single window shared exactly by all threads for calls that take no locked instruction.
//!
//! Each thread with a lane (see counter.rs; up to [`LANES`] threads at once) records into a
//! stripe of its own: a count window of the policy's size, on a cache line of its own, written
//! by that thread alone with plain loads and stores. A failure that raises its stripe's rate
//! judges that stripe alone against the policy, so the breaker opens when the failure rate over
//! the last `size` calls *of one thread* reaches the threshold (with at least `min_calls` of
//! them), instead of over the last `size` calls of all threads. A stripe is not diluted by the
//! old outcomes of a thread that has gone quiet, and a judgement reads no other thread's line.
//! Threads without a lane keep using the shared window, judged as usual. `Metrics` shows the
//! stripes and the shared window summed; its counters stay exact.
//!
//! Only a count window of up to 128 calls with no slow-call or consecutive-failure rule is
//! striped; any other policy records through the shared window as usual.
//!
//! # Synchronization
//!
//! A stripe's words are atomics so that judges, `metrics` and clears on other threads may
//! read them, but only the owning thread writes `recorded` and the failure words (`Relaxed`
//! load and store). A clear (reset, a state change that empties the window, a policy swap)
//! zeroes the words and moves `base` up to `recorded`, racing with the owner: an outcome
//! recorded during the clear may survive it. The owner's failure count (a `Release` lane
//! increment) comes after its `recorded` store, so a reader that counts the failure also
//! counts the call, as for the shared window.

use crossbeam_utils::CachePadded;

use super::{CountWindow, Tally, bit_of};
use crate::counter::LANES;
use crate::sync::{AtomicU64, Ordering};

/// A striped breaker's stripes, one per lane.
pub(crate) struct Stripes {
    /// A fixed array, so that indexing it with a lane (checked below `LANES` once, where the
    /// lane is read) needs no bounds check on the hot path.
    stripes: [CachePadded<Stripe>; LANES],
}

struct Stripe {
    /// Outcomes this stripe's threads have recorded since the breaker was created.
    recorded: AtomicU64,
    /// `recorded` at the stripe's last clear: its window holds the outcomes since, up to size.
    base: AtomicU64,
    /// The failure bitmap, slot `recorded mod size`.
    fail: [AtomicU64; 2],
}

impl Stripes {
    pub(crate) fn new() -> Self {
        Stripes {
            stripes: std::array::from_fn(|_| {
                CachePadded::new(Stripe {
                    recorded: AtomicU64::new(0),
                    base: AtomicU64::new(0),
                    fail: [AtomicU64::new(0), AtomicU64::new(0)],
                })
            }),
        }
    }

    /// Records an outcome on `lane`'s stripe, whose window is shaped like `w` (a small count
    /// window). Returns the stripe's own tally if its failure rate may have risen, for the
    /// caller to judge.
    #[inline]
    pub(crate) fn record(&self, lane: usize, w: &CountWindow, failure: bool) -> Option<Tally> {
        let s = &self.stripes[lane];
        // Relaxed: this thread is the only writer of its stripe (see the module's notes).
        let r = s.recorded.load(Ordering::Relaxed);
        s.recorded.store(r.wrapping_add(1), Ordering::Relaxed);
        self.record_at(lane, w, r, failure)
    }

    /// Takes the next sequence number of `lane`'s stripe for a success: `None` if that is all
    /// the success changes (its window is full and the slot holds a success), otherwise the
    /// number, for [`record_at`](Self::record_at). A stripe that holds no failure, the healthy
    /// case, needs no slot: both words are read whole, and the slot's bit is picked from them
    /// only when one is set.
    #[inline(always)]
    pub(crate) fn take_success(&self, lane: usize, w: &CountWindow) -> Option<u64> {
        let s = &self.stripes[lane];
        // Relaxed: see `record`.
        let r = s.recorded.load(Ordering::Relaxed);
        s.recorded.store(r.wrapping_add(1), Ordering::Relaxed);
        let (w0, w1) = (
            s.fail[0].load(Ordering::Relaxed),
            s.fail[1].load(Ordering::Relaxed),
        );
        let full = r.wrapping_sub(s.base.load(Ordering::Relaxed)) >= w.size() as u64;
        let set = w0 | w1 != 0 && bit_of([w0, w1], w.slot(r));
        (!full || set).then_some(r)
    }

    /// Records the outcome numbered `r` on `lane`'s stripe (see [`record`](Self::record)).
    pub(crate) fn record_at(
        &self,
        lane: usize,
        w: &CountWindow,
        r: u64,
        failure: bool,
    ) -> Option<Tally> {
        let s = &self.stripes[lane];
        let size = w.size();
        // Relaxed: see `record`.
        let held = r
            .wrapping_add(1)
            .wrapping_sub(s.base.load(Ordering::Relaxed));
        let slot = w.slot(r);
        let (word, bit) = (&s.fail[slot / 64], 1u64 << (slot % 64));
        let old = word.load(Ordering::Relaxed);
        let new = if failure { old | bit } else { old & !bit };
        if new != old {
            word.store(new, Ordering::Relaxed);
        }
        let grew = held <= size as u64;
        ((failure && old & bit == 0) || grew).then(|| Self::stripe_tally(s, size))
    }

    /// One stripe's window.
    fn stripe_tally(s: &Stripe, size: u32) -> Tally {
        // Bits a policy of another size may have left past this size are not counted.
        let mask = |word: usize| -> u64 {
            match size.saturating_sub(64 * word as u32) {
                0 => 0,
                n if n >= 64 => u64::MAX,
                n => (1 << n) - 1,
            }
        };
        // Relaxed: see the module's notes.
        let calls = s
            .recorded
            .load(Ordering::Relaxed)
            .wrapping_sub(s.base.load(Ordering::Relaxed))
            .min(size as u64) as u32;
        let failures = (0..2)
            .map(|i| (s.fail[i].load(Ordering::Relaxed) & mask(i)).count_ones())
            .sum::<u32>()
            .min(calls);
        Tally {
            calls,
            failures,
            slow: 0,
        }
    }

    /// The stripes' windows summed, each of `size` outcomes at most: what `metrics` shows.
    pub(crate) fn tally(&self, size: u32) -> Tally {
        self.stripes.iter().fold(
            Tally {
                calls: 0,
                failures: 0,
                slow: 0,
            },
            |t, s| {
                let one = Self::stripe_tally(s, size);
                Tally {
                    calls: t.calls + one.calls,
                    failures: t.failures + one.failures,
                    slow: 0,
                }
            },
        )
    }

    /// Outcomes recorded on all stripes since the breaker was created.
    pub(crate) fn recorded(&self) -> u64 {
        self.stripes
            .iter()
            // Relaxed: see the module's notes.
            .map(|s| s.recorded.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }

    /// Empties every stripe's window (see the module's notes for a racing owner).
    pub(crate) fn clear(&self) {
        for s in self.stripes.iter() {
            // Relaxed: a clear racing with the owner may leave an outcome in (module notes).
            for w in &s.fail {
                w.store(0, Ordering::Relaxed);
            }
            s.base
                .store(s.recorded.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.stripes.len() * std::mem::size_of::<CachePadded<Stripe>>()
    }
}
