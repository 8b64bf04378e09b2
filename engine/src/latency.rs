//! Call latency: each admitted call's duration, from acquire to record, counted per thread in
//! hdrhistogram's layout and merged into an [`hdrhistogram::Histogram`] when read
//! ([`Latency`]).
//!
//! A thread records into counts of its own: one count per bucket of the histogram every
//! reading builds (bounds 1 ns to an hour, two significant digits), at the index hdrhistogram
//! gives the value, and the sum. A record is a lookup of the thread's counts, the bucket's
//! index (a leading-zero count and two shifts) and two plain increments (and a store when it
//! reaches a higher bucket than before): no lock and no locked instruction. A reading adds
//! each thread's non-zero counts into one histogram with `saturating_record_n`, at the lowest
//! value of their bucket, which puts each count in the bucket it was recorded for (a test
//! checks the index against hdrhistogram's for every bucket), so quantiles, the maximum and
//! merging are hdrhistogram's own.
//!
//! # Synchronization
//!
//! Each count and each sum has one writer, the thread that owns it, which adds one with a
//! `Relaxed` load and a `Relaxed` store; a reader loads them `Relaxed`. They publish nothing:
//! a reading racing with records sees each count as it was at some moment of the reading,
//! and a sum that may lag its counts by the records under way. Threads are told apart by
//! [`PerThread`](crate::sync::PerThread); a thread that exits leaves its counts to the next
//! thread given its slot.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::sync::PerThread;

/// The longest duration kept apart: longer calls are counted at this value.
const MAX_NANOS: u64 = 3_600_000_000_000;

/// Significant decimal digits kept: values are exact to 1 %.
const SIGNIFICANT_DIGITS: u8 = 2;

fn empty() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts (1 ≤ low, high ≥ 2·low, digits ≤ 5).
    Histogram::new_with_bounds(1, MAX_NANOS, SIGNIFICANT_DIGITS)
        .expect("constant histogram bounds are valid")
}

/// hdrhistogram's layout for these bounds: the smallest power of two of sub-buckets that
/// holds `2 · 10^SIGNIFICANT_DIGITS` values (256), half of which each bucket past the first
/// adds, and as many buckets as reach `MAX_NANOS`.
mod layout {
    /// log2 of the sub-buckets per bucket: ⌈log2(200)⌉.
    const SUB_BUCKET_MAGNITUDE: u32 = 8;
    /// log2 of half of them.
    pub(super) const HALF_MAGNITUDE: u32 = SUB_BUCKET_MAGNITUDE - 1;
    /// Half the sub-buckets.
    pub(super) const HALF: usize = 1 << HALF_MAGNITUDE;
    /// Bits below the first bucket's top: `64 - unit magnitude (0, for a low of 1) - 8`.
    const LEADING_ZERO_BASE: u32 = 64 - SUB_BUCKET_MAGNITUDE;
    /// Masks a value into at least the first bucket.
    const SUB_BUCKET_MASK: u64 = (1 << SUB_BUCKET_MAGNITUDE) - 1;

    /// The bucket of `value`.
    #[inline(always)]
    const fn bucket(value: u64) -> u32 {
        LEADING_ZERO_BASE - (value | SUB_BUCKET_MASK).leading_zeros()
    }

    /// The index of `value`'s count, as hdrhistogram's `index_for` computes it.
    #[inline(always)]
    pub(super) const fn index(value: u64) -> usize {
        let bucket = bucket(value);
        let sub_bucket = (value >> bucket) as usize;
        // Bucket 0 uses all its sub-buckets, the others their top half: this is never
        // negative, as `sub_bucket ≥ HALF` past bucket 0.
        ((bucket as usize + 1) << HALF_MAGNITUDE) + sub_bucket - HALF
    }

    /// The lowest value whose count is at `index`, as hdrhistogram's `value_for`.
    pub(super) fn lowest_value(index: usize) -> u64 {
        let bucket = (index >> HALF_MAGNITUDE) as i64 - 1;
        let sub_bucket = (index & (HALF - 1)) + HALF;
        if bucket < 0 {
            (sub_bucket - HALF) as u64
        } else {
            (sub_bucket as u64) << bucket
        }
    }

    /// The highest value a histogram of these bounds has a count for: the top of the first
    /// bucket that reaches past `MAX_NANOS` (2^42 - 1 ns, about 73 minutes).
    pub(super) const HIGHEST: u64 = {
        let mut top = 1u64 << SUB_BUCKET_MAGNITUDE;
        while top <= super::MAX_NANOS {
            top <<= 1;
        }
        top - 1
    };

    /// Counts a histogram of these bounds holds: up to `HIGHEST`'s index.
    pub(super) const LEN: usize = index(HIGHEST) + 1;
}

/// One thread's counts, in hdrhistogram's layout, and the sum of what it recorded.
struct ThreadCounts {
    counts: Box<[AtomicU64]>,
    /// One past the highest index counted: a reading scans the counts below it.
    end: AtomicUsize,
    /// Nanoseconds, saturating at `u64::MAX` (584 years of call time on one thread).
    sum_nanos: AtomicU64,
}

impl ThreadCounts {
    fn new() -> ThreadCounts {
        ThreadCounts {
            counts: (0..layout::LEN).map(|_| AtomicU64::new(0)).collect(),
            end: AtomicUsize::new(0),
            sum_nanos: AtomicU64::new(0),
        }
    }

    /// Adds one call of `nanos`; only the owning thread calls it.
    #[inline]
    fn record(&self, nanos: u64) {
        // As hdrhistogram's `saturating_record`: a value past the last bucket counts as
        // `MAX_NANOS`, one within it (up to `HIGHEST`) in its own bucket; 0 counts as 1.
        let value = if nanos > layout::HIGHEST {
            MAX_NANOS
        } else {
            nanos.max(1)
        };
        let index = layout::index(value);
        if let Some(count) = self.counts.get(index) {
            // Relaxed: one writer, nothing published (see the module docs).
            count.store(count.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            // Relaxed: as the count. A reading that sees the count but not the new end misses
            // this call, as it would had it read a moment earlier.
            if index >= self.end.load(Ordering::Relaxed) {
                self.end.store(index + 1, Ordering::Relaxed);
            }
        }
        let sum = self.sum_nanos.load(Ordering::Relaxed);
        self.sum_nanos
            .store(sum.saturating_add(nanos), Ordering::Relaxed);
    }

    /// Adds these counts into `histogram`, which has the same bounds.
    fn add_to(&self, histogram: &mut Histogram<u64>) {
        // Relaxed: see `record`.
        let end = self.end.load(Ordering::Relaxed);
        for (index, count) in self.counts.iter().enumerate().take(end) {
            // Relaxed: see the module docs.
            let count = count.load(Ordering::Relaxed);
            if count != 0 {
                histogram.saturating_record_n(layout::lowest_value(index), count);
            }
        }
    }
}

/// The per-thread counts of one breaker.
#[derive(Default)]
pub(crate) struct LatencyRecorder {
    threads: PerThread<ThreadCounts>,
}

impl LatencyRecorder {
    /// Counts one call of `nanos`.
    #[inline]
    pub(crate) fn record(&self, nanos: u64) {
        self.threads
            .with(ThreadCounts::new, |mine| mine.record(nanos));
    }

    /// Every thread's counts merged.
    pub(crate) fn read(&self) -> Latency {
        let mut histogram = empty();
        let mut sum_nanos = 0u128;
        self.threads.each(|t| {
            t.add_to(&mut histogram);
            // Relaxed: see the module docs.
            sum_nanos += u128::from(t.sum_nanos.load(Ordering::Relaxed));
        });
        Latency {
            histogram,
            sum_nanos,
        }
    }

    /// [`read`](Self::read)'s [`Latency::summary`].
    pub(crate) fn summary(&self) -> LatencySummary {
        self.read().summary()
    }

    /// Heap bytes held (an estimate: the per-thread counts).
    pub(crate) fn heap_bytes(&self) -> usize {
        let mut threads = 0;
        self.threads.each(|_| threads += 1);
        threads * layout::LEN * std::mem::size_of::<u64>()
    }
}

/// The durations of a breaker's admitted calls since it was created, from acquire to record
/// (a reset does not clear them), when its policy sets `latency_histogram`.
///
/// Quantiles are exact to 1 % (two significant digits); a call longer than the histogram's
/// top bucket (about 73 minutes) counts as an hour. Calls admitted while the breaker is
/// disabled are not timed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fusebox_engine::{Breaker, ManualClock, Policy};
/// let clock = ManualClock::new();
/// let policy = Policy::builder().latency_histogram(true).build()?;
/// let b = Breaker::with_clock("db", policy, clock.clone());
/// for ms in 1..=100 {
///     let permit = b.try_acquire()?;
///     clock.advance(Duration::from_millis(ms));
///     permit.success();
/// }
/// let latency = b.latency().expect("enabled");
/// assert_eq!(latency.count(), 100);
/// assert!(latency.p50() >= Duration::from_millis(49) && latency.p50() <= Duration::from_millis(51));
/// assert!(latency.max() >= Duration::from_millis(99));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Latency {
    histogram: Histogram<u64>,
    /// The exact sum of the recorded durations.
    sum_nanos: u128,
}

impl Latency {
    /// The quantiles exporters report as `fusebox_call_duration_seconds{quantile}`, each with
    /// its label value: the median, p90, p99, p999 and the maximum.
    ///
    /// ```
    /// assert_eq!(fusebox_engine::Latency::SUMMARY_QUANTILES[0], ("0.5", 0.5));
    /// ```
    pub const SUMMARY_QUANTILES: [(&'static str, f64); 5] = [
        ("0.5", 0.5),
        ("0.9", 0.9),
        ("0.99", 0.99),
        ("0.999", 0.999),
        ("1", 1.0),
    ];

    /// Calls counted.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let p = Policy::builder().latency_histogram(true).build().unwrap();
    /// assert_eq!(Breaker::new("db", p).latency().unwrap().count(), 0);
    /// ```
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The duration that a share `q` (0 to 1) of the calls took at most; zero with no calls.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let p = Policy::builder().latency_histogram(true).build().unwrap();
    /// let l = Breaker::new("db", p).latency().unwrap();
    /// assert_eq!(l.quantile(0.5), std::time::Duration::ZERO);
    /// ```
    pub fn quantile(&self, q: f64) -> Duration {
        quantile(&self.histogram, q)
    }

    /// The durations at several quantiles (each 0 to 1), as [`quantile`](Self::quantile)
    /// gives each.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_engine::{Breaker, ManualClock, Policy};
    /// let clock = ManualClock::new();
    /// let b = Breaker::with_clock("db", Policy::builder().latency_histogram(true).build()?, clock.clone());
    /// for ms in 1..=100 {
    ///     let permit = b.try_acquire()?;
    ///     clock.advance(Duration::from_millis(ms));
    ///     permit.success();
    /// }
    /// let l = b.latency().unwrap();
    /// let qs = [0.5, 0.9, 0.99, 1.0];
    /// let many = l.quantiles(&qs);
    /// for (q, d) in qs.iter().zip(&many) {
    ///     assert_eq!(*d, l.quantile(*q));
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn quantiles(&self, qs: &[f64]) -> Vec<Duration> {
        // hdrhistogram's own walk per quantile: a tight loop over the counts, faster than one
        // pass through its general iterator.
        qs.iter().map(|&q| self.quantile(q)).collect()
    }

    /// The figures a Prometheus summary reports: the durations at
    /// [`SUMMARY_QUANTILES`](Self::SUMMARY_QUANTILES), the sum and the count.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_engine::{Breaker, Latency, ManualClock, Policy};
    /// let clock = ManualClock::new();
    /// let b = Breaker::with_clock("db", Policy::builder().latency_histogram(true).build()?, clock.clone());
    /// for ms in 1..=10 {
    ///     let permit = b.try_acquire()?;
    ///     clock.advance(Duration::from_millis(ms));
    ///     permit.success();
    /// }
    /// let l = b.latency().unwrap();
    /// let s = l.summary();
    /// assert_eq!(s.quantiles[0], l.p50());
    /// assert_eq!(s.quantiles[4], l.quantile(1.0));
    /// assert_eq!((s.sum, s.count), (Duration::from_millis(55), 10));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn summary(&self) -> LatencySummary {
        summarize(&self.histogram, self.sum_nanos)
    }

    /// The median.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let p = Policy::builder().latency_histogram(true).build().unwrap();
    /// assert_eq!(Breaker::new("db", p).latency().unwrap().p50(), std::time::Duration::ZERO);
    /// ```
    pub fn p50(&self) -> Duration {
        self.quantile(0.5)
    }

    /// The 90th percentile.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let p = Policy::builder().latency_histogram(true).build().unwrap();
    /// assert_eq!(Breaker::new("db", p).latency().unwrap().p90(), std::time::Duration::ZERO);
    /// ```
    pub fn p90(&self) -> Duration {
        self.quantile(0.9)
    }

    /// The 99th percentile.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let p = Policy::builder().latency_histogram(true).build().unwrap();
    /// assert_eq!(Breaker::new("db", p).latency().unwrap().p99(), std::time::Duration::ZERO);
    /// ```
    pub fn p99(&self) -> Duration {
        self.quantile(0.99)
    }

    /// The 99.9th percentile.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let p = Policy::builder().latency_histogram(true).build().unwrap();
    /// assert_eq!(Breaker::new("db", p).latency().unwrap().p999(), std::time::Duration::ZERO);
    /// ```
    pub fn p999(&self) -> Duration {
        self.quantile(0.999)
    }

    /// The longest call (to 1 %); zero with no calls.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let p = Policy::builder().latency_histogram(true).build().unwrap();
    /// assert_eq!(Breaker::new("db", p).latency().unwrap().max(), std::time::Duration::ZERO);
    /// ```
    pub fn max(&self) -> Duration {
        if self.histogram.is_empty() {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.histogram.max())
    }

    /// The sum of the calls' durations, exact: a Prometheus summary's `_sum`.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let p = Policy::builder().latency_histogram(true).build().unwrap();
    /// assert_eq!(Breaker::new("db", p).latency().unwrap().sum(), std::time::Duration::ZERO);
    /// ```
    pub fn sum(&self) -> Duration {
        sum(self.sum_nanos)
    }
}

/// What a Prometheus summary of a breaker's latency reports ([`Latency::summary`],
/// [`Breaker::latency_summary`](crate::Breaker::latency_summary)).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fusebox_engine::{Breaker, Policy};
/// let b = Breaker::new("db", Policy::builder().latency_histogram(true).build()?);
/// let s = b.latency_summary().expect("enabled");
/// assert_eq!((s.quantiles, s.sum, s.count), ([Duration::ZERO; 5], Duration::ZERO, 0));
/// # Ok::<(), fusebox_engine::PolicyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencySummary {
    /// The durations at each of [`Latency::SUMMARY_QUANTILES`], in its order.
    pub quantiles: [Duration; Latency::SUMMARY_QUANTILES.len()],
    /// The exact sum of the durations ([`Latency::sum`]).
    pub sum: Duration,
    /// Calls counted ([`Latency::count`]).
    pub count: u64,
}

/// [`Latency::quantile`] of `histogram`.
fn quantile(histogram: &Histogram<u64>, q: f64) -> Duration {
    if histogram.is_empty() {
        return Duration::ZERO;
    }
    let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
    // hdrhistogram walks the counts until it has passed `⌈q · count⌉` calls. When that is
    // every call, the walk ends at the last count, the maximum's, and gives the highest value
    // of its bucket: what `max` gives without the walk. (At q = 0 it gives the lowest value.)
    let count = histogram.len();
    if q > 0.0 && (q * count as f64).ceil() >= count as f64 {
        return Duration::from_nanos(histogram.max());
    }
    Duration::from_nanos(histogram.value_at_quantile(q))
}

/// [`Latency::sum`] of an exact sum in nanoseconds.
fn sum(sum_nanos: u128) -> Duration {
    Duration::from_nanos(u64::try_from(sum_nanos).unwrap_or(u64::MAX))
}

/// [`Latency::summary`] of a histogram and its exact sum.
fn summarize(histogram: &Histogram<u64>, sum_nanos: u128) -> LatencySummary {
    LatencySummary {
        quantiles: Latency::SUMMARY_QUANTILES.map(|(_, q)| quantile(histogram, q)),
        sum: sum(sum_nanos),
        count: histogram.len(),
    }
}

impl std::fmt::Debug for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Latency")
            .field("count", &self.count())
            .field("p50", &self.p50())
            .field("p99", &self.p99())
            .field("max", &self.max())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn every_bucket_is_where_hdrhistogram_puts_it() {
        let reference = empty();
        assert_eq!(layout::LEN, reference.distinct_values());
        let mut saturated = empty();
        saturated.saturating_record(u64::MAX);
        assert_eq!(saturated.max(), reference.highest_equivalent(MAX_NANOS));
        assert_eq!(layout::index(layout::HIGHEST), layout::LEN - 1);
        // Every bucket; under Miri, which runs this a thousand times slower, every 61st.
        let step = if cfg!(miri) { 61 } else { 1 };
        for index in (0..layout::LEN).step_by(step) {
            let low = layout::lowest_value(index);
            assert_eq!(layout::index(low), index, "index {index}");
            assert_eq!(reference.lowest_equivalent(low), low, "index {index}");
            if index + 1 < layout::LEN {
                let high = layout::lowest_value(index + 1) - 1;
                assert_eq!(layout::index(high), index, "index {index}");
                assert_eq!(reference.highest_equivalent(low), high, "index {index}");
            }
        }
    }

    #[test]
    fn counts_read_back_as_hdrhistogram_recorded_them() {
        let recorder = LatencyRecorder::default();
        let mut reference = empty();
        let mut value = 1u64;
        let mut sum = 0u128;
        let records = if cfg!(miri) { 300 } else { 20_000u64 };
        for i in 0..records {
            // Spread over every magnitude, with 0, the bound and beyond it now and then.
            value = value
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let nanos = match i % 1000 {
                0 => 0,
                1 => MAX_NANOS,
                2 => u64::MAX / 2,
                3 => layout::HIGHEST,
                4 => layout::HIGHEST + 1,
                _ => value >> (value % 60 + 4),
            };
            recorder.record(nanos);
            reference.saturating_record(nanos.max(1));
            sum += u128::from(nanos);
        }
        let read = recorder.read();
        assert!(read.histogram == reference);
        // A thread's sum saturates at `u64::MAX` ns, where `Latency::sum` saturates anyway.
        assert_eq!(
            read.sum(),
            Duration::from_nanos(u64::try_from(sum).unwrap_or(u64::MAX))
        );
        assert_eq!(
            recorder.summary(),
            Latency {
                histogram: reference,
                sum_nanos: sum
            }
            .summary()
        );
    }

    #[test]
    fn threads_are_merged() {
        let recorder = LatencyRecorder::default();
        const PER_THREAD: u64 = if cfg!(miri) { 20 } else { 1000 };
        // All four alive at once, so that none is given another's slot.
        let all_recorded = std::sync::Barrier::new(4);
        std::thread::scope(|s| {
            for t in 1..=4u64 {
                let (recorder, all_recorded) = (&recorder, &all_recorded);
                s.spawn(move || {
                    (0..PER_THREAD).for_each(|_| recorder.record(t * 1000));
                    all_recorded.wait();
                });
            }
        });
        let read = recorder.read();
        assert_eq!(read.count(), 4 * PER_THREAD);
        assert_eq!(read.sum(), Duration::from_nanos(10 * 1000 * PER_THREAD));
        assert_eq!(read.max(), Duration::from_nanos(reference_high(4000)));
        assert_eq!(recorder.heap_bytes(), 4 * layout::LEN * 8);
    }

    fn reference_high(value: u64) -> u64 {
        empty().highest_equivalent(value)
    }

    #[test]
    fn a_quantile_is_hdrhistograms_walk() {
        let qs = [0.0, 0.25, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0];
        let mut histogram = empty();
        let mut value = 1u64;
        for count in 1..=3000u64 {
            histogram.saturating_record(value);
            value = (value * 7919 + 13) % 50_000_000 + 1;
            if count <= 20 || count % 97 == 0 {
                for q in qs {
                    assert_eq!(
                        quantile(&histogram, q),
                        Duration::from_nanos(histogram.value_at_quantile(q)),
                        "q {q} of {count}"
                    );
                }
            }
        }
        // Merged histograms keep their maximum too.
        let mut merged = histogram.clone();
        let mut other = empty();
        other.saturating_record(MAX_NANOS * 2);
        let _ = merged.add(&other);
        for q in qs {
            assert_eq!(
                quantile(&merged, q),
                Duration::from_nanos(merged.value_at_quantile(q))
            );
        }
    }
}
