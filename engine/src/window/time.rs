//! Time windows: the outcomes of the last span, in buckets of a fixed length.
//!
//! # Synchronization
//!
//! Each bucket carries a stamp (the index of the time period it holds, plus one)
//! and its counts. A recorder whose period is newer than the stamp claims the bucket by CAS-ing
//! the stamp to `period | ROTATING`, zeroes the counts, then publishes the stamp (`Release`);
//! recorders that see `ROTATING` wait for it, so an outcome is never added to counts that are
//! about to be zeroed.

use std::time::Duration;

use crate::sync::{AtomicU64, Ordering};

use super::Tally;

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

impl TimeWindow {
    pub(super) fn new(span_nanos: u64, buckets: u32) -> Self {
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

    /// Zeroes every bucket's slow count (a slow-call rule was switched on).
    pub(super) fn clear_slow(&self) {
        for b in self.buckets.iter() {
            // Relaxed: outcomes racing a policy swap may count under either policy.
            b.counts
                .fetch_and(!(COUNT_MAX << (2 * COUNT_BITS)), Ordering::Relaxed);
        }
    }

    /// Empties the window: every bucket's stamp goes back to never used.
    pub(super) fn clear(&self) {
        for b in self.buckets.iter() {
            // Relaxed: a cleared bucket holds nothing anyone must see; a racing recorder
            // re-claims it with its own CAS.
            b.stamp.store(0, Ordering::Relaxed);
        }
    }

    /// Whether this window spans `span` in `buckets` buckets.
    pub(super) fn has_shape(&self, span: Duration, buckets: u32) -> bool {
        self.buckets.len() == buckets as usize
            && self.bucket_nanos == (crate::clock::duration_nanos(span) / buckets as u64).max(1)
    }

    /// Heap bytes held by the buckets.
    pub(super) fn heap_bytes(&self) -> usize {
        self.buckets.len() * std::mem::size_of::<Bucket>()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

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
