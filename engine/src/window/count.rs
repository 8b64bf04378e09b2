//! Count windows: the last `size` outcomes, one bit each.
//!
//! # Synchronization
//!
//! The breaker's cursor (a `fetch_add`, outside this file) hands each recorded
//! outcome a sequence number `seq`. Each outcome is one bit in a failure bitmap and one in a
//! slow bitmap, at a position given by `seq`:
//!
//! The outcome goes to slot `seq mod size` (by multiplication: an integer division would cost
//! about 1 ns a call), over the outcome `size` back, which leaves the window.
//!
//! - a *small* window (up to 128 outcomes) keeps its bitmaps inline, two words each, and counts
//!   their bits when it judges: a change costs one read-modify-write.
//! - a *larger* window keeps a failure count and a slow count besides, changed by the thread
//!   that flipped the bit, from the bit's old value, so once recorders are quiet the counts
//!   equal the popcounts exactly, whatever the interleaving. While threads race they may be off
//!   by the outcomes in flight; they are read as signed and clamped.
//!
//! A recorder flips a bit with `fetch_or`/`fetch_and` only if it must change (a plain load
//! decides), so a success that evicts a success writes nothing but the cursor.
//!
//! A recorder that may trip (its outcome grew the window or raised a count) judges a tally read
//! *after* its own update, with `SeqCst` loads: `SeqCst` accesses share one total order that
//! agrees with each thread's program order, so the recorder whose update comes last in it
//! loads after every other update and sees them all. The outcome that completes a trip is then
//! judged with all the others; two racing failures that together fill the window cannot each
//! judge a partial view and neither trip (the store-buffering shape). Loom models `SeqCst`
//! loads as `Acquire`, which would allow exactly that, so under loom a `SeqCst` fence stands
//! between the update and the loads (`sync::loads_follow_updates`); loom models fences
//! exactly, and the model `two_failures_across_a_word_boundary_trip` fails without it. A full
//! window's count of outcomes is its size, so its judge skips the cursor.
//! Bits, counts and the cursor are `SeqCst` (free on x86, where a locked instruction is a full
//! fence either way).
//! A clear swaps the bits (`Relaxed`) and then the cursor (`SeqCst`), so a recorder whose
//! `fetch_add` returns a post-clear sequence number also sees the cleared bits. When two
//! outcomes `size` apart race for one slot, the slot keeps whichever lands last.
//!
//! While no slow-call rule is set, successes leave the slow bitmap alone; switching a rule on
//! clears it, so the slow-call rate starts from the calls timed under the rule.

use crate::sync::{AtomicU32, AtomicU64, Ordering};

use super::{Tally, bit_of};

/// Windows of up to this many outcomes keep their two bitmaps inline, two words each, and count
/// their bits when judged instead of keeping counts: a change then costs one read-modify-write.
const SMALL_SLOTS: u32 = 128;
/// Words per bitmap of a small window.
const SMALL_WORDS: usize = SMALL_SLOTS.div_ceil(64) as usize;

/// A count window over the last `size` outcomes.
///
/// `repr(C)` puts the bitmaps' tag first: [`WindowStore`](super::WindowStore) tells its other
/// kinds apart by the tag's spare values, and a time window fits in the bytes after it, so a
/// store is no larger than its count window (48 bytes).
#[repr(C)]
pub(crate) struct CountWindow {
    bitmaps: Bitmaps,
    /// Lemire's fast-modulo multiplier for the size: `u64::MAX / size + 1`.
    fastmod: u64,
}

/// A count window's size and bitmaps, small or larger. `repr(u8)`: the tag is the first
/// byte and the size sits beside it, in both kinds at the same offset, so reading the size
/// tests no tag.
#[repr(u8)]
enum Bitmaps {
    /// Up to [`SMALL_SLOTS`] outcomes: failure words 0 and 1, slow words 2 and 3, inline.
    Small {
        size: u32,
        words: [AtomicU64; 2 * SMALL_WORDS],
    },
    /// More: the failure words and then as many slow words, with the counts of their bits.
    Large {
        size: u32,
        /// The failure count (read as `i32`: may dip below 0 while recorders race).
        failures: AtomicU32,
        /// The slow-call count, likewise.
        slow: AtomicU32,
        words: Box<[AtomicU64]>,
    },
}

fn bitmap(bits: u32) -> Box<[AtomicU64]> {
    (0..bits.div_ceil(64)).map(|_| AtomicU64::new(0)).collect()
}

/// `seq mod size` for the low 32 bits of `seq`, given `fastmod` for `size` (Lemire).
#[inline(always)]
fn slot_of(seq: u64, fastmod: u64, size: u64) -> usize {
    let low = fastmod.wrapping_mul(seq as u32 as u64);
    ((low as u128 * size as u128) >> 64) as usize
}

fn clamp(count: u32, max: u32) -> u32 {
    (count as i32).clamp(0, max as i32) as u32
}

impl CountWindow {
    pub(super) fn new(size: u32) -> Self {
        debug_assert!(size > 0);
        let bitmaps = if size <= SMALL_SLOTS {
            Bitmaps::Small {
                size,
                words: std::array::from_fn(|_| AtomicU64::new(0)),
            }
        } else {
            Bitmaps::Large {
                size,
                failures: AtomicU32::new(0),
                slow: AtomicU32::new(0),
                words: bitmap(2 * size.div_ceil(64) * 64),
            }
        };
        CountWindow {
            bitmaps,
            fastmod: (u64::MAX / size as u64).wrapping_add(1),
        }
    }

    /// The window's size in outcomes.
    #[inline(always)]
    pub(crate) fn size(&self) -> u32 {
        match self.bitmaps {
            Bitmaps::Small { size, .. } | Bitmaps::Large { size, .. } => size,
        }
    }

    /// Whether the window is small: its bitmaps inline, and no counts kept.
    #[inline(always)]
    pub(crate) fn is_small(&self) -> bool {
        matches!(self.bitmaps, Bitmaps::Small { .. })
    }

    /// The failure bitmap and, for a larger window, its count.
    #[inline(always)]
    fn failures(&self) -> (&[AtomicU64], Option<&AtomicU32>) {
        match &self.bitmaps {
            Bitmaps::Small { words, .. } => (&words[..SMALL_WORDS], None),
            Bitmaps::Large {
                words, failures, ..
            } => (&words[..words.len() / 2], Some(failures)),
        }
    }

    /// The slow-call bitmap and, for a larger window, its count.
    #[inline(always)]
    fn slow(&self) -> (&[AtomicU64], Option<&AtomicU32>) {
        match &self.bitmaps {
            Bitmaps::Small { words, .. } => (&words[SMALL_WORDS..], None),
            Bitmaps::Large { words, slow, .. } => (&words[words.len() / 2..], Some(slow)),
        }
    }

    /// The slot of sequence number `seq`: `seq mod size` for the low 32 bits of `seq`, by
    /// multiplication (an integer division here costs about 1 ns a call).
    #[inline(always)]
    pub(crate) fn slot(&self, seq: u64) -> usize {
        slot_of(seq, self.fastmod, self.size() as u64)
    }

    /// Flips `slot`'s bit of `words` to `set`, keeping `count` (a larger window's) in step;
    /// returns whether a bit was set.
    #[inline]
    fn put(words: &[AtomicU64], count: Option<&AtomicU32>, slot: usize, set: bool) -> bool {
        let (word, bit) = (&words[slot / 64], 1u64 << (slot % 64));
        // SeqCst bits and counts: see the module's notes (free on x86, where a locked
        // instruction is a full fence either way). The plain load skips a write that would
        // change nothing.
        if set {
            if word.load(Ordering::Relaxed) & bit != 0 {
                return false;
            }
            if word.fetch_or(bit, Ordering::SeqCst) & bit == 0 {
                if let Some(count) = count {
                    count.fetch_add(1, Ordering::SeqCst);
                }
                return true;
            }
        } else {
            if word.load(Ordering::Relaxed) & bit == 0 {
                return false;
            }
            if word.fetch_and(!bit, Ordering::SeqCst) & bit != 0
                && let Some(count) = count
            {
                count.fetch_sub(1, Ordering::SeqCst);
            }
        }
        false
    }

    /// Records the outcome numbered `seq`; `slow` is `None` while no slow-call rule is set
    /// (the slow bitmap is then left alone). Returns whether a rate may have risen (a failure
    /// or slow call entered, or the window grew): then the caller judges a fresh [`tally`].
    ///
    /// [`tally`]: Self::tally
    #[inline]
    pub(crate) fn record(&self, seq: u64, failure: bool, slow: Option<bool>) -> bool {
        let grew = seq < self.size() as u64;
        let slot = self.slot(seq);
        // A small window keeps no counts: it counts its bits when it judges.
        let (words, count) = self.failures();
        let mut rose = Self::put(words, count, slot, failure);
        if let Some(slow) = slow {
            let (words, count) = self.slow();
            rose |= Self::put(words, count, slot, slow);
        }
        rose || grew
    }

    /// Takes a sequence number from `cursor` for a failure recorded with no slow-call rule and
    /// records it; returns the number and whether a rate may have risen, as
    /// [`record`](Self::record) does. A small window reads its failure words before the
    /// `fetch_add`, as [`take_success`](Self::take_success) does, so a failure over a failure
    /// in a full window writes nothing past the cursor and waits on no load after it.
    #[inline(always)]
    pub(crate) fn take_failure(&self, cursor: &AtomicU64) -> (u64, bool) {
        if let Bitmaps::Small { size, words } = &self.bitmaps {
            let (seq, held_failure) = self.take_small(*size, words, cursor);
            if held_failure == Some(true) {
                return (seq, false);
            }
            return (seq, self.record(seq, true, None));
        }
        // SeqCst: see the module's notes.
        let seq = cursor.fetch_add(1, Ordering::SeqCst);
        (seq, self.record(seq, true, None))
    }

    /// Takes a sequence number from `cursor` for a success recorded with no slow-call rule:
    /// `None` if the success changes nothing (the window is full and the slot already held a
    /// success), so nothing more need be written; otherwise the sequence number, for
    /// [`record`](Self::record).
    ///
    /// The window's words are read *before* the `fetch_add`: a locked instruction waits for
    /// every load before it, so a load that depended on its result (the slot's word) would
    /// add its whole latency to every call. A small window's two failure words are read
    /// whole and the slot's bit picked from them in registers afterwards. A larger window
    /// reads its failure count and, when it holds failures, the word of the slot the cursor
    /// is most likely to hand out; a clean window skips that load, which would contend with
    /// other callers' `fetch_add`.
    #[inline(always)]
    pub(crate) fn take_success(&self, cursor: &AtomicU64) -> Option<u64> {
        let (size, failures, words) = match &self.bitmaps {
            Bitmaps::Small { size, words } => {
                let (seq, held_failure) = self.take_small(*size, words, cursor);
                return (held_failure != Some(false)).then_some(seq);
            }
            Bitmaps::Large {
                size,
                failures,
                words,
                ..
            } => (*size as u64, failures, words),
        };
        // Relaxed: as in `take_small`.
        let clean = failures.load(Ordering::Relaxed) == 0;
        let (guess, guessed_noop) = if clean {
            (0, false)
        } else {
            // Relaxed: only a guess, checked against the `fetch_add` below.
            let guess = cursor.load(Ordering::Relaxed);
            let slot = self.slot(guess);
            let bit = words[slot / 64].load(Ordering::Relaxed) >> (slot % 64) & 1;
            (guess, bit == 0)
        };
        // SeqCst: see the module's notes.
        let seq = cursor.fetch_add(1, Ordering::SeqCst);
        if seq >= size && (clean || (guessed_noop && seq == guess)) {
            return None;
        }
        Some(seq)
    }

    /// A small window's `fetch_add` of `cursor`, with its two failure words read before it (see
    /// [`take_success`](Self::take_success)): the sequence number and, once the window is full,
    /// whether its slot holds a failure, picked in registers from the words already read. A
    /// window that holds no failure computes no slot.
    #[inline(always)]
    fn take_small(
        &self,
        size: u32,
        words: &[AtomicU64; 2 * SMALL_WORDS],
        cursor: &AtomicU64,
    ) -> (u64, Option<bool>) {
        // Relaxed: see the module's notes; a success that skips its write because a failure
        // was still in flight is ordered before that failure.
        let (w0, w1) = (
            words[0].load(Ordering::Relaxed),
            words[1].load(Ordering::Relaxed),
        );
        // Read before the `fetch_add` too, so that nothing after it waits for a load.
        let (fastmod, size) = (self.fastmod, size as u64);
        // SeqCst: see the module's notes.
        let seq = cursor.fetch_add(1, Ordering::SeqCst);
        // An `if`, not a closure: a closure here was left out of line, costing 26 instructions
        // a call.
        if seq < size {
            return (seq, None);
        }
        let held_failure = w0 | w1 != 0 && bit_of([w0, w1], slot_of(seq, fastmod, size));
        (seq, Some(held_failure))
    }

    /// The window's counts after the caller's own update of the outcome numbered `seq`, for
    /// judging: read with SeqCst loads after the caller's own SeqCst updates, so that of racing
    /// recorders the last to judge sees every other's outcome (see the module's notes).
    #[inline(always)]
    pub(crate) fn tally_after(&self, seq: u64, cursor: &AtomicU64) -> Tally {
        crate::sync::loads_follow_updates();
        let recorded = if seq >= self.size() as u64 {
            // Full: the cursor would say no more.
            self.size() as u64
        } else {
            // SeqCst: see the module's notes.
            cursor.load(Ordering::SeqCst)
        };
        self.tally(recorded)
    }

    /// The window's counts, given the cursor (`recorded`: outcomes handed a sequence number
    /// since the window was last cleared).
    #[inline(always)]
    pub(crate) fn tally(&self, recorded: u64) -> Tally {
        let calls = recorded.min(self.size() as u64) as u32;
        // SeqCst loads, all: see above.
        let (failures, slow) = match (self.failures(), self.slow()) {
            ((failures, None), (slow, None)) => {
                let ones = |words: &[AtomicU64]| {
                    let (a, b) = (
                        words[0].load(Ordering::SeqCst),
                        words[1].load(Ordering::SeqCst),
                    );
                    // Without a `popcnt` instruction (not in the x86-64 baseline) a count is a
                    // dozen instructions a word: an empty bitmap (no slow-call rule) skips them.
                    if a | b == 0 {
                        0
                    } else {
                        a.count_ones() + b.count_ones()
                    }
                };
                (ones(failures), ones(slow))
            }
            ((_, failures), (_, slow)) => {
                let count = |c: Option<&AtomicU32>| c.map_or(0, |c| c.load(Ordering::SeqCst));
                (count(failures), count(slow))
            }
        };
        // Counts are clamped to the calls: an outcome racing with a clear may land in the
        // emptied window ahead of its call.
        Tally {
            calls,
            failures: clamp(failures, calls),
            slow: clamp(slow, calls),
        }
    }

    /// Empties the window's slow-call bitmap (a slow-call rule was switched on).
    pub(super) fn clear_slow(&self) {
        // Outcomes racing a policy swap may count under either policy.
        Self::clear_bitmap(self.slow());
    }

    /// Empties the window (see the module's notes).
    pub(super) fn clear(&self) {
        Self::clear_bitmap(self.failures());
        Self::clear_bitmap(self.slow());
    }

    /// Zeroes `words`, taking the bits it clears off `count`.
    fn clear_bitmap((words, count): (&[AtomicU64], Option<&AtomicU32>)) {
        for word in words {
            // Relaxed: a clear is published by the caller's SeqCst swap of the cursor that
            // follows; a slow bitmap's, by the policy swap that switched the rule on, and
            // outcomes racing that swap may count under either policy.
            let old = word.swap(0, Ordering::Relaxed);
            if let Some(count) = count {
                // SeqCst: counts are, see the module's notes.
                count.fetch_sub(old.count_ones(), Ordering::SeqCst);
            }
        }
    }

    /// Heap bytes held by a larger window's bitmaps.
    pub(super) fn heap_bytes(&self) -> usize {
        match &self.bitmaps {
            Bitmaps::Small { .. } => 0,
            Bitmaps::Large { words, .. } => words.len() * 8,
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
    fn small_and_large_windows_slide_alike() {
        // Timed: every outcome recorded with its slow flag, as with a slow-call rule. Untimed:
        // successes take the fast path, as with none.
        // Fewer shapes under Miri, which interprets every step.
        let sizes: &[u32] = if cfg!(miri) {
            &[3, 65, 129]
        } else {
            &[3, 64, 65, 100, 128, 129, 300]
        };
        for (size, timed) in sizes.iter().flat_map(|&s| [(s, true), (s, false)]) {
            let w = CountWindow::new(size);
            assert_eq!(w.is_small(), size <= SMALL_SLOTS);
            let cursor = AtomicU64::new(0);
            let mut naive = std::collections::VecDeque::new();
            // A pattern with runs, so slots flip both ways on every lap.
            let laps = if cfg!(miri) { 2 } else { 5 };
            for i in 0..laps * size as u64 {
                let failure = (i * 7 + i / 5) % 11 < 3;
                let slow = timed && i % 13 == 0;
                let seq = if failure || timed {
                    let seq = cursor.fetch_add(1, Ordering::SeqCst);
                    w.record(seq, failure, timed.then_some(slow));
                    seq
                } else {
                    match w.take_success(&cursor) {
                        Some(seq) => {
                            w.record(seq, false, None);
                            seq
                        }
                        None => cursor.load(Ordering::SeqCst) - 1,
                    }
                };
                naive.push_back((failure, slow));
                if naive.len() > size as usize {
                    naive.pop_front();
                }
                let t = w.tally_after(seq, &cursor);
                let f = naive.iter().filter(|o| o.0).count() as u32;
                let sl = naive.iter().filter(|o| o.1).count() as u32;
                assert_eq!(
                    (t.calls, t.failures, t.slow),
                    (naive.len() as u32, f, sl),
                    "size {size}, timed {timed}, after {i}"
                );
            }
            w.clear_slow();
            assert_eq!(w.tally(size as u64).slow, 0, "size {size}");
        }
    }

    #[test]
    fn a_success_over_a_success_takes_only_the_cursor() {
        for size in [100u32, 200] {
            let w = CountWindow::new(size);
            let cursor = AtomicU64::new(0);
            for _ in 0..size {
                let seq = w.take_success(&cursor).expect("the window is growing");
                w.record(seq, false, None);
            }
            assert_eq!(w.take_success(&cursor), None);
            let seq = cursor.fetch_add(1, Ordering::SeqCst);
            assert!(
                w.record(seq, true, None),
                "a failure entering raises the rate"
            );
            // Every success is a no-op until the one that evicts the failure, `size` later.
            for _ in 0..size - 1 {
                assert_eq!(w.take_success(&cursor), None);
            }
            let seq = w.take_success(&cursor).expect("evicts the failure");
            assert!(!w.record(seq, false, None));
            assert_eq!(w.tally(u64::MAX).failures, 0);
        }
    }

    #[test]
    fn a_failure_over_a_failure_changes_nothing() {
        for size in [70u32, 100, 200] {
            let w = CountWindow::new(size);
            let cursor = AtomicU64::new(0);
            for i in 0..size {
                assert_eq!(
                    w.take_failure(&cursor),
                    (i as u64, true),
                    "the window grows"
                );
            }
            for _ in 0..size {
                assert!(!w.take_failure(&cursor).1, "a failure over a failure");
            }
            assert_eq!(w.tally(u64::MAX).failures, size);
            // A success evicts one; the failure `size` later over it raises the rate again.
            let seq = w.take_success(&cursor).expect("evicts a failure");
            assert!(!w.record(seq, false, None));
            assert_eq!(w.tally(u64::MAX).failures, size - 1);
            for _ in 0..size - 1 {
                assert!(!w.take_failure(&cursor).1);
            }
            assert!(w.take_failure(&cursor).1, "a failure over a success");
            assert_eq!(w.tally(u64::MAX).failures, size);
        }
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
}
