//! Call latency: each admitted call's duration, from acquire to record, in an hdrhistogram per
//! thread, merged when read ([`Latency`]).
//!
//! # Synchronization
//!
//! Each thread records into its own histogram (found through `thread_local::ThreadLocal`,
//! without a lock), which sits behind a `std` mutex that only a reader ever contends: a
//! thread's record takes its own mutex uncontended, and `latency()` takes each in turn to
//! merge it. No caller code runs while one is held.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use hdrhistogram::Histogram;
use thread_local::ThreadLocal;

/// The longest duration kept apart: longer calls are counted at this value.
const MAX_NANOS: u64 = 3_600_000_000_000;

/// Significant decimal digits kept: values are exact to 1 %.
const SIGNIFICANT_DIGITS: u8 = 2;

fn empty() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts (1 ≤ low, high ≥ 2·low, digits ≤ 5).
    Histogram::new_with_bounds(1, MAX_NANOS, SIGNIFICANT_DIGITS)
        .expect("constant histogram bounds are valid")
}

/// One thread's histogram and the exact sum of what it recorded.
struct ThreadLatency {
    histogram: Histogram<u64>,
    sum_nanos: u128,
}

/// The per-thread histograms of one breaker.
#[derive(Default)]
pub(crate) struct LatencyRecorder {
    threads: ThreadLocal<Mutex<ThreadLatency>>,
}

impl LatencyRecorder {
    /// Counts one call of `nanos`.
    pub(crate) fn record(&self, nanos: u64) {
        let mine = self.threads.get_or(|| {
            Mutex::new(ThreadLatency {
                histogram: empty(),
                sum_nanos: 0,
            })
        });
        let mut mine = mine.lock().unwrap_or_else(PoisonError::into_inner);
        // Saturating: a call longer than `MAX_NANOS` counts as `MAX_NANOS`; 0 counts as 1.
        mine.histogram.saturating_record(nanos.max(1));
        mine.sum_nanos += u128::from(nanos);
    }

    /// Every thread's histogram merged.
    pub(crate) fn read(&self) -> Latency {
        let mut merged: Option<Histogram<u64>> = None;
        let mut sum_nanos = 0u128;
        for t in self.threads.iter() {
            let t = t.lock().unwrap_or_else(PoisonError::into_inner);
            match &mut merged {
                // Same bounds on both sides: `add` cannot fail.
                Some(m) => {
                    let _ = m.add(&t.histogram);
                }
                // The first is copied whole: cheaper than adding it to an empty one.
                None => merged = Some(t.histogram.clone()),
            }
            sum_nanos += t.sum_nanos;
        }
        let merged = merged.unwrap_or_else(empty);
        Latency {
            histogram: merged,
            sum_nanos,
        }
    }

    /// The summary of every thread's histogram merged: [`read`](Self::read)'s then
    /// [`Latency::summary`], except that a lone thread's histogram is read in place, under its
    /// lock, rather than copied.
    pub(crate) fn summary(&self) -> LatencySummary {
        let mut threads = self.threads.iter();
        match (threads.next(), threads.next()) {
            (Some(only), None) => {
                let t = only.lock().unwrap_or_else(PoisonError::into_inner);
                summarize(&t.histogram, t.sum_nanos)
            }
            // None recorded yet, or several threads: merged as `read` merges them.
            _ => self.read().summary(),
        }
    }

    /// Heap bytes held (an estimate: the per-thread histograms' counts).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.threads
            .iter()
            .map(|h| {
                let t = h.lock().unwrap_or_else(PoisonError::into_inner);
                t.histogram.distinct_values() * std::mem::size_of::<u64>()
            })
            .sum()
    }
}

/// The durations of a breaker's admitted calls since it was created, from acquire to record
/// (a reset does not clear them), when its policy sets `latency_histogram`.
///
/// Quantiles are exact to 1 % (two significant digits); calls longer than an hour count as an
/// hour. Calls admitted while the breaker is disabled are not timed.
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

#[cfg(test)]
mod tests {
    use super::*;

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
