//! Sliding windows: the recent outcomes a breaker judges its failure and slow-call rates on.
//!
//! # Synchronization
//!
//! **Count window.** The breaker's cursor (a `fetch_add`, outside this file) hands each recorded
//! outcome a sequence number `seq`; the outcome goes to slot `seq mod size`. A slot is one bit in
//! the failure bitmap and one in the slow bitmap. A recorder flips its slot's bit with
//! `fetch_or`/`fetch_and`, reads the bit's old value from the result, and adds the difference to
//! the window's failure (or slow) count. Every change of a bit and the matching change of its
//! count are made by the same thread, so once recorders are quiet the counts equal the popcounts
//! of the bitmaps exactly, whatever the interleaving: no update is lost. A success whose slot
//! already holds a success changes nothing and writes nothing. Counts may be off by the few
//! outcomes in flight while threads race; they are read as signed and clamped.
//!
//! A recorder that may trip (its outcome grew the window or raised a count) judges a tally
//! read *after* its own updates, taking the cursor with a read-modify-write (`fetch_add(0)`):
//! of racing recorders, the one whose read comes later in the cursor's modification order
//! reads from the other's and so sees its count update, so the outcome that completes a trip
//! is always judged with all the others (with plain loads, two racing failures that together
//! fill the window could each judge a partial view and neither trip). The cursor's and the
//! counts' read-modify-writes are `SeqCst`, which on x86 costs nothing over `Relaxed`.
//! A clear swaps the bits (`Relaxed`) and then the cursor (`SeqCst`), so a recorder whose
//! `fetch_add` returns a post-clear sequence number also sees the cleared bits. Bits are
//! otherwise `Relaxed`; when two outcomes `size` apart race for one slot, the slot keeps
//! whichever lands last.
//!
//! **Time window.** Each bucket carries a stamp (the index of the time period it holds, plus one)
//! and its counts. A recorder whose period is newer than the stamp claims the bucket by CAS-ing
//! the stamp to `period | ROTATING`, zeroes the counts, then publishes the stamp (`Release`);
//! recorders that see `ROTATING` wait for it, so an outcome is never added to counts that are
//! about to be zeroed.

use crate::sync::{AtomicU32, AtomicU64, Ordering};
use fusebox_policies::Window;

/// What a record did to the window, for the caller to judge the rates on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Outcomes the window holds.
    pub calls: u32,
    /// Failures among them.
    pub failures: u32,
    /// Slow calls among them.
    pub slow: u32,
}

/// A count window over the last `size` outcomes.
pub(crate) struct CountWindow {
    size: u32,
    /// Lemire's fast-modulo multiplier for `size`: `u64::MAX / size + 1`.
    fastmod: u64,
    /// Failures in the window (read as `i32`: may dip below 0 while recorders race).
    failures: AtomicU32,
    /// Slow calls in the window.
    slow: AtomicU32,
    fail_bits: Box<[AtomicU64]>,
    slow_bits: Box<[AtomicU64]>,
}

/// A time window of `buckets` buckets of `bucket_nanos` each.
pub(crate) struct TimeWindow {
    bucket_nanos: u64,
    buckets: Box<[Bucket]>,
}

struct Bucket {
    /// `period + 1` of the outcomes held (0 = never used), or'ed with `ROTATING` while claimed.
    stamp: AtomicU64,
    /// Calls, failures and slow calls in one word (see `COUNT_BITS`), so an outcome is added,
    /// and a rotation zeroes the bucket, in one step: an outcome racing a rotation lands whole
    /// in the old period or whole in the new one, never split between them.
    counts: AtomicU64,
}

const ROTATING: u64 = 1 << 63;
/// Bits per count in `Bucket::counts`: calls, failures, slow, from the low end. A bucket holds
/// at most 2²¹ − 1 outcomes; more are not counted (the rates stay right up to that point).
const COUNT_BITS: u32 = 21;
const COUNT_MAX: u64 = (1 << COUNT_BITS) - 1;
const _: () = assert!(3 * COUNT_BITS <= 64);

/// The three counts of a bucket word.
#[inline]
fn unpack(word: u64) -> (u64, u64, u64) {
    (
        word & COUNT_MAX,
        (word >> COUNT_BITS) & COUNT_MAX,
        (word >> (2 * COUNT_BITS)) & COUNT_MAX,
    )
}

/// The window a breaker records into: count- or time-based.
pub(crate) enum WindowStore {
    Count(CountWindow),
    Time(TimeWindow),
}

fn bitmap(bits: u32) -> Box<[AtomicU64]> {
    (0..bits.div_ceil(64)).map(|_| AtomicU64::new(0)).collect()
}

fn clamp(count: u32, max: u32) -> u32 {
    (count as i32).clamp(0, max as i32) as u32
}

impl CountWindow {
    fn new(size: u32) -> Self {
        debug_assert!(size > 0);
        CountWindow {
            size,
            fastmod: (u64::MAX / size as u64).wrapping_add(1),
            failures: AtomicU32::new(0),
            slow: AtomicU32::new(0),
            fail_bits: bitmap(size),
            slow_bits: bitmap(size),
        }
    }

    /// The slot of sequence number `seq`: `seq mod size` for the low 32 bits of `seq`, by
    /// multiplication (an integer division here costs about 1 ns a call).
    #[inline]
    fn slot(&self, seq: u64) -> usize {
        let low = self.fastmod.wrapping_mul(seq as u32 as u64);
        ((low as u128 * self.size as u128) >> 64) as usize
    }

    /// Flips `bit` of `words` to `set`, keeping `count` in step; returns whether it changed.
    #[inline]
    fn put(words: &[AtomicU64], count: &AtomicU32, slot: usize, set: bool) -> bool {
        let (word, bit) = (&words[slot / 64], 1u64 << (slot % 64));
        // Bits are Relaxed: the caller's SeqCst cursor `fetch_add` already orders a clear's
        // bit swaps before these. Counts are SeqCst (see the module's notes).
        if set {
            if word.load(Ordering::Relaxed) & bit != 0 {
                return false;
            }
            if word.fetch_or(bit, Ordering::Relaxed) & bit == 0 {
                count.fetch_add(1, Ordering::SeqCst);
                return true;
            }
        } else {
            if word.load(Ordering::Relaxed) & bit == 0 {
                return false;
            }
            if word.fetch_and(!bit, Ordering::Relaxed) & bit != 0 {
                count.fetch_sub(1, Ordering::SeqCst);
            }
        }
        false
    }

    /// Records the outcome numbered `seq`. Returns whether a rate may have risen (a failure
    /// or slow call entered, or the window grew): then the caller judges a fresh [`tally`].
    ///
    /// [`tally`]: Self::tally
    #[inline]
    pub(crate) fn record(&self, seq: u64, failure: bool, slow: Option<bool>) -> bool {
        let slot = self.slot(seq);
        let grew = seq < self.size as u64;
        let mut rose = Self::put(&self.fail_bits, &self.failures, slot, failure);
        if let Some(slow) = slow {
            rose |= Self::put(&self.slow_bits, &self.slow, slot, slow);
        }
        rose || grew
    }

    /// Whether a success numbered `seq` would change nothing: the window is full and the
    /// slot already holds a success. One load, no write.
    #[inline(always)]
    pub(crate) fn success_is_noop(&self, seq: u64) -> bool {
        let slot = self.slot(seq);
        // Relaxed: see the module's synchronization notes.
        let bit = 1 << (slot % 64);
        seq >= self.size as u64
            && self.fail_bits[slot / 64].load(Ordering::Relaxed) & bit == 0
            && self.slow_bits[slot / 64].load(Ordering::Relaxed) & bit == 0
    }

    /// Whether the window holds no failure (a lagging count may briefly miss one in flight;
    /// skipping a write then orders this success before that failure).
    #[inline(always)]
    pub(crate) fn no_failures(&self) -> bool {
        // Relaxed: see the module's synchronization notes.
        self.failures.load(Ordering::Relaxed) == 0
    }

    /// Whether the window holds no slow call (see [`no_failures`](Self::no_failures)).
    #[inline(always)]
    pub(crate) fn no_slow(&self) -> bool {
        // Relaxed: see the module's synchronization notes.
        self.slow.load(Ordering::Relaxed) == 0
    }

    /// Whether the outcome numbered `seq` lands in a full window.
    #[inline(always)]
    pub(crate) fn is_full_at(&self, seq: u64) -> bool {
        seq >= self.size as u64
    }

    /// Records a success numbered `seq`; see [`record`](Self::record).
    #[inline(always)]
    pub(crate) fn record_success(&self, seq: u64) -> bool {
        if self.success_is_noop(seq) {
            return false;
        }
        self.record_cold(seq)
    }

    #[cold]
    fn record_cold(&self, seq: u64) -> bool {
        self.record(seq, false, Some(false))
    }

    /// The window's counts, given the cursor (`recorded`: outcomes handed a slot since the
    /// window was last cleared). Read after the caller's own updates, with SeqCst, so that of
    /// racing recorders the last to judge sees every other's outcome.
    #[inline]
    pub(crate) fn tally(&self, recorded: u64) -> Tally {
        let calls = recorded.min(self.size as u64) as u32;
        // SeqCst: see above and the module's notes. Counts are clamped to the calls: an
        // outcome racing with a clear may land in the emptied window ahead of its call.
        Tally {
            calls,
            failures: clamp(self.failures.load(Ordering::SeqCst), calls),
            slow: clamp(self.slow.load(Ordering::SeqCst), calls),
        }
    }

    fn clear(&self) {
        for (words, count) in [
            (&self.fail_bits, &self.failures),
            (&self.slow_bits, &self.slow),
        ] {
            for word in words.iter() {
                // Relaxed: published by the caller's SeqCst swap of the cursor that follows.
                let old = word.swap(0, Ordering::Relaxed);
                count.fetch_sub(old.count_ones(), Ordering::SeqCst);
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        (self.fail_bits.len() + self.slow_bits.len()) * 8
    }
}

impl TimeWindow {
    fn new(span_nanos: u64, buckets: u32) -> Self {
        TimeWindow {
            bucket_nanos: (span_nanos / buckets as u64).max(1),
            buckets: (0..buckets)
                .map(|_| Bucket {
                    stamp: AtomicU64::new(0),
                    counts: AtomicU64::new(0),
                })
                .collect(),
        }
    }

    #[inline]
    fn period(&self, now: u64) -> u64 {
        now / self.bucket_nanos
    }

    /// Records an outcome at clock time `now` and returns the window's tally.
    pub(crate) fn record(&self, now: u64, failure: bool, slow: bool) -> Tally {
        let period = self.period(now);
        let want = period + 1;
        let bucket = &self.buckets[(period % self.buckets.len() as u64) as usize];
        loop {
            // Acquire: pairs with the Release that publishes a rotation, so the zeroing is
            // visible before we add.
            let stamp = bucket.stamp.load(Ordering::Acquire);
            if stamp & ROTATING != 0 {
                crate::sync::spin();
                continue;
            }
            if stamp < want {
                // Acquire on success: we read nothing published, but keep the zeroing below
                // after the claim. Relaxed on failure: we only retry.
                if bucket
                    .stamp
                    .compare_exchange(stamp, want | ROTATING, Ordering::Acquire, Ordering::Relaxed)
                    .is_err()
                {
                    continue;
                }
                // Relaxed swap (a read-modify-write, so no add can fall inside it): the
                // Release below publishes it.
                bucket.counts.swap(0, Ordering::Relaxed);
                // Release: publishes the zeroed counts before anyone adds to them.
                bucket.stamp.store(want, Ordering::Release);
            }
            // A stamp newer than ours means the clock passed our period while we raced: the
            // outcome lands in the newer period rather than being lost. Relaxed: the counts
            // publish nothing else; a full bucket takes no more.
            let add = 1 | (failure as u64) << COUNT_BITS | (slow as u64) << (2 * COUNT_BITS);
            let _ = bucket
                .counts
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                    (c & COUNT_MAX < COUNT_MAX).then_some(c + add)
                });
            break;
        }
        self.tally(now)
    }

    /// The counts of the buckets that lie within the span ending at `now`.
    pub(crate) fn tally(&self, now: u64) -> Tally {
        let newest = self.period(now) + 1;
        // Stamp 0 marks a bucket never used or cleared: never current, even in the first span.
        let oldest = newest.saturating_sub(self.buckets.len() as u64 - 1).max(1);
        let (mut calls, mut failures, mut slow) = (0u64, 0u64, 0u64);
        for b in self.buckets.iter() {
            // Acquire: pairs with the rotation's Release (see `record`).
            let stamp = b.stamp.load(Ordering::Acquire);
            if (oldest..=newest).contains(&stamp) {
                let (c, f, s) = unpack(b.counts.load(Ordering::Relaxed));
                calls += c;
                failures += f;
                slow += s;
            }
        }
        let sat = |v: u64| v.min(u32::MAX as u64) as u32;
        Tally {
            calls: sat(calls),
            failures: sat(failures.min(calls)),
            slow: sat(slow.min(calls)),
        }
    }

    fn clear(&self) {
        for b in self.buckets.iter() {
            // Relaxed: a cleared bucket holds nothing anyone must see; a racing recorder
            // re-claims it with its own CAS.
            b.stamp.store(0, Ordering::Relaxed);
        }
    }
}

impl WindowStore {
    /// An empty window of `shape`.
    pub(crate) fn new(shape: Window) -> Self {
        match shape {
            Window::Count { size } => WindowStore::Count(CountWindow::new(size.max(1))),
            Window::Time { span, buckets } => WindowStore::Time(TimeWindow::new(
                crate::clock::duration_nanos(span),
                buckets.max(1),
            )),
        }
    }

    /// Whether this store has `shape`.
    pub(crate) fn has_shape(&self, shape: Window) -> bool {
        match (self, shape) {
            (WindowStore::Count(c), Window::Count { size }) => c.size == size,
            (WindowStore::Time(t), Window::Time { span, buckets }) => {
                t.buckets.len() == buckets as usize
                    && t.bucket_nanos
                        == (crate::clock::duration_nanos(span) / buckets as u64).max(1)
            }
            _ => false,
        }
    }

    /// Empties the window. Recorders racing with it stay consistent (see the module docs).
    pub(crate) fn clear(&self) {
        match self {
            WindowStore::Count(c) => c.clear(),
            WindowStore::Time(t) => t.clear(),
        }
    }

    /// Heap bytes held by the window's storage (not counting the store itself).
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            WindowStore::Count(c) => c.heap_bytes(),
            WindowStore::Time(t) => t.buckets.len() * std::mem::size_of::<Bucket>(),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fastmod_matches_the_remainder() {
        for size in [1u32, 2, 3, 7, 10, 64, 100, 127, 1000, 1 << 20] {
            let w = CountWindow::new(size);
            for seq in (0..5000u64).chain([u32::MAX as u64 - 3, u32::MAX as u64]) {
                assert_eq!(
                    w.slot(seq),
                    (seq % size as u64) as usize,
                    "size {size} seq {seq}"
                );
            }
        }
    }

    #[test]
    fn count_window_slides_exactly() {
        let w = CountWindow::new(100);
        let mut seq = 0;
        for _ in 0..10_000 {
            w.record(seq, false, None);
            seq += 1;
        }
        for i in 1..=50 {
            assert!(
                w.record(seq, true, None),
                "a failure entering raises the rate"
            );
            seq += 1;
            let t = w.tally(seq);
            assert_eq!((t.calls, t.failures), (100, i));
        }
        for _ in 0..100 {
            w.record(seq, false, None);
            seq += 1;
        }
        assert_eq!(
            w.tally(seq).failures,
            0,
            "failures slide out after 100 successes"
        );
    }

    #[test]
    fn success_over_success_reports_nothing() {
        let w = CountWindow::new(4);
        for seq in 0..4 {
            assert!(w.record(seq, false, None), "the window is growing");
        }
        assert!(!w.record(4, false, None));
    }

    #[test]
    fn clear_keeps_counts_in_step_with_bits() {
        let w = CountWindow::new(10);
        for seq in 0..10 {
            w.record(seq, seq % 2 == 0, Some(seq % 3 == 0));
        }
        assert_eq!(w.tally(10).failures, 5);
        assert_eq!(w.tally(10).slow, 4);
        w.clear();
        assert_eq!(
            w.tally(0),
            Tally {
                calls: 0,
                failures: 0,
                slow: 0
            }
        );
    }

    #[test]
    fn time_window_ages_out_by_bucket() {
        let sec = 1_000_000_000;
        let w = TimeWindow::new(10 * sec, 10);
        for i in 0..10 {
            w.record(i * sec, i % 2 == 0, false);
        }
        assert_eq!(
            w.tally(9 * sec),
            Tally {
                calls: 10,
                failures: 5,
                slow: 0
            }
        );
        // At t = 10 s, the bucket of t = 0 (a failure) has aged out.
        assert_eq!(
            w.tally(10 * sec),
            Tally {
                calls: 9,
                failures: 4,
                slow: 0
            }
        );
        let t = w.record(10 * sec, true, true);
        assert_eq!(
            t,
            Tally {
                calls: 10,
                failures: 5,
                slow: 1
            }
        );
        assert_eq!(w.tally(100 * sec).calls, 0);
        w.clear();
        assert_eq!(w.tally(10 * sec).calls, 0);
    }
}
