//! `fusebox stress`: real threads on the real clock hammer one or more breakers, then every
//! count the threads kept is checked against the breakers' own `metrics()`.
//!
//! Each thread keeps its own counts and its own [`CallTime`], so the measurement adds no shared
//! writes.
//!
//! # What the time per call measures
//!
//! A single `breaker.call_with` costs a few nanoseconds to a few tens, about what one read of
//! the clock costs, and on some machines less than the clock resolves: timing calls one by one
//! measures the clock. So each thread draws the inputs of [`BATCH`] calls first, then times the
//! [`BATCH`] calls back to back (each `breaker.call_with` on a trivial closure, its input read
//! and its result stored), then counts the results. Each timed batch gives one sample, its time
//! divided by [`BATCH`]: the mean and the percentiles reported are of these per-call batch
//! averages, all from the same samples, so the mean is their mean. A percentile is not that of
//! single calls: a stall (a preemption, a contended cache line) is spread over its batch. The
//! two clock reads around a batch add their cost divided by [`BATCH`] to each call; it is
//! measured and reported. The calls per second, by contrast, count the whole loop: drawing the
//! inputs and counting the results too.

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fusebox::{Breaker, CallError, Metrics, Outcome, Policy, RejectReason, Window};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};

use crate::rng::SplitMix64;
use crate::scenario::{fmt_duration, fmt_percent};
use crate::sim::Rejections;

/// Calls timed together as one sample, and made between two looks at the stop flag and the
/// outage clock.
///
/// ```
/// assert!(fusebox_cli::stress::BATCH >= 64, "enough calls to dwarf two clock reads");
/// ```
pub const BATCH: usize = 256;

/// The time per call of a run's timed batches: one sample per batch, its time divided by its
/// number of calls.
///
/// ```
/// use std::time::Duration;
/// use fusebox_cli::stress::CallTime;
/// let mut t = CallTime::new();
/// t.record_batch(100, Duration::from_nanos(2_000)); // 20ns a call
/// t.record_batch(100, Duration::from_nanos(4_000)); // 40ns a call
/// let s = t.summary();
/// assert_eq!((s.batches, s.calls), (2, 200));
/// assert_eq!(s.mean_nanos, 30.0);
/// assert!(s.p50_nanos <= s.max_nanos);
/// ```
#[derive(Debug, Clone)]
pub struct CallTime {
    /// Each batch's time per call, in picoseconds, so that sub-nanosecond differences survive.
    per_call_picos: Histogram<u64>,
    /// The timed batches' total time, in nanoseconds.
    total_nanos: u128,
    /// The calls in the timed batches.
    calls: u64,
}

/// What [`CallTime::summary`] reports, in nanoseconds per call. Every figure comes from the
/// same batches: `mean_nanos` is the total time over the total calls, which (the batches all
/// being the same size) is also the mean of the per-batch samples the percentiles are taken
/// over, so it lies between the smallest sample and `max_nanos`.
///
/// ```
/// use std::time::Duration;
/// let mut t = fusebox_cli::stress::CallTime::new();
/// t.record_batch(10, Duration::from_nanos(50));
/// let s = t.summary();
/// assert_eq!(s.mean_nanos, 5.0);
/// // Percentiles come from a histogram with three significant digits.
/// assert!((s.p50_nanos - 5.0).abs() < 0.01 && s.p50_nanos <= s.max_nanos);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallTimeSummary {
    /// Timed batches (samples).
    pub batches: u64,
    /// Calls in them.
    pub calls: u64,
    /// Total time over total calls.
    pub mean_nanos: f64,
    /// The median per-call batch average.
    pub p50_nanos: f64,
    /// The 90th percentile of the per-call batch averages.
    pub p90_nanos: f64,
    /// The 99th percentile of the per-call batch averages.
    pub p99_nanos: f64,
    /// The 99.9th percentile of the per-call batch averages.
    pub p999_nanos: f64,
    /// The largest per-call batch average.
    pub max_nanos: f64,
}

impl CallTime {
    /// No batches yet.
    pub fn new() -> Self {
        let per_call_picos = match Histogram::new_with_bounds(1, 3_600_000_000_000_000, 3) {
            Ok(h) => h,
            Err(e) => unreachable!("constant histogram bounds are valid: {e}"),
        };
        CallTime {
            per_call_picos,
            total_nanos: 0,
            calls: 0,
        }
    }

    /// Records one batch of `calls` calls, made back to back, that took `elapsed` in all. An
    /// empty batch is no sample.
    pub fn record_batch(&mut self, calls: u64, elapsed: Duration) {
        if calls == 0 {
            return;
        }
        let nanos = elapsed.as_nanos();
        let picos = nanos.saturating_mul(1000) / u128::from(calls);
        self.per_call_picos
            .saturating_record(u64::try_from(picos).unwrap_or(u64::MAX));
        self.total_nanos = self.total_nanos.saturating_add(nanos);
        self.calls += calls;
    }

    /// Adds another thread's batches.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_cli::stress::CallTime;
    /// let (mut a, mut b) = (CallTime::new(), CallTime::new());
    /// a.record_batch(10, Duration::from_nanos(100));
    /// b.record_batch(10, Duration::from_nanos(300));
    /// a.merge(&b);
    /// assert_eq!((a.summary().batches, a.summary().mean_nanos), (2, 20.0));
    /// ```
    pub fn merge(&mut self, other: &CallTime) {
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.per_call_picos.add(&other.per_call_picos);
        self.total_nanos = self.total_nanos.saturating_add(other.total_nanos);
        self.calls += other.calls;
    }

    /// The mean and percentiles, in nanoseconds per call; all zero without a batch.
    pub fn summary(&self) -> CallTimeSummary {
        let h = &self.per_call_picos;
        let at = |q: f64| {
            if h.is_empty() {
                0.0
            } else {
                h.value_at_quantile(q) as f64 / 1000.0
            }
        };
        CallTimeSummary {
            batches: h.len(),
            calls: self.calls,
            mean_nanos: if self.calls == 0 {
                0.0
            } else {
                self.total_nanos as f64 / self.calls as f64
            },
            p50_nanos: at(0.5),
            p90_nanos: at(0.9),
            p99_nanos: at(0.99),
            p999_nanos: at(0.999),
            max_nanos: at(1.0),
        }
    }
}

impl Default for CallTime {
    fn default() -> Self {
        CallTime::new()
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct StressOptions {
    /// Threads calling.
    pub threads: usize,
    /// How long.
    pub duration: Duration,
    /// How many breakers; each call picks one at random.
    pub breakers: usize,
    /// The share of calls that fail outside outages.
    pub failure_rate: f64,
    /// The share of the other calls reported as `Ignored`.
    pub ignore_rate: f64,
    /// Every `.0`, all calls fail for `.1`: drives the breakers through open and half-open.
    pub outage: Option<(Duration, Duration)>,
    /// The breakers' policy.
    pub policy: Policy,
    /// Draw a progress bar (on a terminal only).
    pub progress: bool,
}

impl StressOptions {
    /// The default policy for a stress run: trips in an outage, recovers within a few hundred
    /// milliseconds, so every state is visited in a short run.
    ///
    /// ```
    /// let p = fusebox_cli::stress::StressOptions::default_policy();
    /// assert_eq!(p.min_calls(), 20);
    /// ```
    pub fn default_policy() -> Policy {
        Policy::builder()
            .window(Window::count(100))
            .failure_rate_threshold(0.5)
            .min_calls(20)
            .open_timeout(Duration::from_millis(50))
            .half_open_permits(4)
            .success_threshold(2)
            .recovery(fusebox::Recovery::ramp(Duration::from_millis(100), 0.25))
            .build()
            .unwrap_or_default()
    }
}

/// What the threads counted for one breaker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counted {
    /// Admitted calls that were recorded as successes.
    pub successes: u64,
    /// Admitted calls that were recorded as failures.
    pub failures: u64,
    /// Admitted calls that were recorded as ignored.
    pub ignored: u64,
    /// Rejected calls, by reason.
    pub rejected: Rejections,
}

impl Counted {
    /// Admitted calls.
    pub fn admitted(&self) -> u64 {
        self.successes + self.failures + self.ignored
    }

    fn merge(&mut self, o: &Counted) {
        self.successes += o.successes;
        self.failures += o.failures;
        self.ignored += o.ignored;
        let r = &mut self.rejected;
        r.open += o.rejected.open;
        r.half_open_full += o.rejected.half_open_full;
        r.bulkhead_full += o.rejected.bulkhead_full;
        r.ramp += o.rejected.ramp;
        r.forced_open += o.rejected.forced_open;
        r.other += o.rejected.other;
    }
}

/// One breaker's books: the threads' counts against the breaker's.
#[derive(Debug, Clone)]
pub struct Account {
    /// The breaker's name.
    pub name: String,
    /// What the threads counted.
    pub counted: Counted,
    /// What the breaker says.
    pub metrics: Metrics,
    /// State changes seen on its channel.
    pub transitions: u64,
}

impl Account {
    /// Whether the books balance exactly.
    pub fn balances(&self) -> bool {
        let c = &self.counted;
        let m = &self.metrics;
        c.admitted() == m.admitted
            && m.admitted == m.successes + m.failures + m.ignored
            && c.successes == m.successes
            && c.failures == m.failures
            && c.ignored == m.ignored
            && c.rejected.total() == m.rejected
    }
}

/// What a stress run measured.
#[derive(Debug, Clone)]
pub struct StressReport {
    /// The options it ran with.
    pub options: StressOptions,
    /// Calls made, all threads.
    pub calls: u64,
    /// Wall time from start to the last thread's end.
    pub elapsed: Duration,
    /// The time per call of `call_with`, from batches of [`BATCH`] calls timed as a whole.
    pub call_time: CallTime,
    /// The median cost of two back-to-back clock reads, in nanoseconds: what timing a batch
    /// adds to it.
    pub clock_floor_nanos: u64,
    /// One account per breaker.
    pub accounts: Vec<Account>,
}

impl StressReport {
    /// Whether every breaker's books balance.
    pub fn balances(&self) -> bool {
        self.accounts.iter().all(Account::balances)
    }
}

/// The median cost of two back-to-back `Instant::now()` reads.
fn clock_floor() -> u64 {
    let mut v: Vec<u64> = (0..2_001)
        .map(|_| {
            let t = Instant::now();
            t.elapsed().as_nanos() as u64
        })
        .collect();
    v.sort_unstable();
    v[v.len() / 2]
}

/// Runs the stress test.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fusebox_cli::stress::{run, StressOptions};
/// let report = run(StressOptions {
///     threads: 2,
///     duration: Duration::from_millis(50),
///     breakers: 2,
///     failure_rate: 0.1,
///     ignore_rate: 0.01,
///     outage: Some((Duration::from_millis(20), Duration::from_millis(5))),
///     policy: StressOptions::default_policy(),
///     progress: false,
/// });
/// assert!(report.calls > 0);
/// assert!(report.balances());
/// ```
pub fn run(options: StressOptions) -> StressReport {
    let breakers: Arc<Vec<Breaker>> = Arc::new(
        (0..options.breakers.max(1))
            .map(|i| Breaker::new(format!("stress.{i}"), options.policy.clone()))
            .collect(),
    );
    let channels: Vec<_> = breakers.iter().map(Breaker::subscribe).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let progress_calls = Arc::new(AtomicU64::new(0));
    let clock_floor_nanos = clock_floor();
    let start = Instant::now();
    let handles: Vec<_> = (0..options.threads.max(1))
        .map(|t| {
            let breakers = Arc::clone(&breakers);
            let stop = Arc::clone(&stop);
            let progress_calls = Arc::clone(&progress_calls);
            let o = options.clone();
            std::thread::spawn(move || {
                worker(t as u64, &breakers, &stop, &progress_calls, &o, start)
            })
        })
        .collect();

    let bar = if options.progress && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(options.duration.as_millis() as u64);
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} [{bar:40}] {elapsed_precise} {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut transitions = vec![0u64; breakers.len()];
    loop {
        let elapsed = start.elapsed();
        for (i, rx) in channels.iter().enumerate() {
            transitions[i] += rx.try_iter().count() as u64;
        }
        bar.set_position(elapsed.as_millis() as u64);
        bar.set_message(format!("{} calls", progress_calls.load(Ordering::Relaxed)));
        if elapsed >= options.duration {
            break;
        }
        std::thread::sleep((options.duration - elapsed).min(Duration::from_millis(50)));
    }
    stop.store(true, Ordering::Relaxed);
    let mut counted = vec![Counted::default(); breakers.len()];
    let mut call_time = CallTime::new();
    let mut calls = 0;
    for h in handles {
        // A worker runs no code that can panic; treat one that did as having counted nothing.
        if let Ok((c, time, n)) = h.join() {
            for (total, mine) in counted.iter_mut().zip(&c) {
                total.merge(mine);
            }
            call_time.merge(&time);
            calls += n;
        }
    }
    let elapsed = start.elapsed();
    bar.finish_and_clear();
    for (i, rx) in channels.iter().enumerate() {
        transitions[i] += rx.try_iter().count() as u64;
    }
    let accounts = breakers
        .iter()
        .zip(counted)
        .zip(transitions)
        .map(|((b, counted), transitions)| Account {
            name: b.name().to_owned(),
            counted,
            metrics: b.metrics(),
            transitions,
        })
        .collect();
    StressReport {
        options,
        calls,
        elapsed,
        call_time,
        clock_floor_nanos,
        accounts,
    }
}

fn worker(
    t: u64,
    breakers: &[Breaker],
    stop: &AtomicBool,
    progress: &AtomicU64,
    o: &StressOptions,
    start: Instant,
) -> (Vec<Counted>, CallTime, u64) {
    let mut rng = SplitMix64::new(0x5eed ^ t.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut counts = vec![Counted::default(); breakers.len()];
    let mut time = CallTime::new();
    let mut calls = 0u64;
    let k = breakers.len() as u64;
    let mut plan: Vec<(usize, Outcome)> = Vec::with_capacity(BATCH);
    let mut results: Vec<Result<(), CallError<()>>> = Vec::with_capacity(BATCH);
    // Relaxed: the flag carries no data; the join publishes the counts.
    while !stop.load(Ordering::Relaxed) {
        let down = o.outage.is_some_and(|(every, span)| {
            let e = start.elapsed().as_nanos() % every.as_nanos().max(1);
            e < span.as_nanos()
        });
        // The inputs first, so that the timed loop holds the calls and little else.
        plan.clear();
        for _ in 0..BATCH {
            let r = rng.next_u64();
            let i = ((r >> 32) % k) as usize;
            let u = (r & 0xffff_ffff) as f64 / 4_294_967_296.0;
            let outcome = if down || u < o.failure_rate {
                Outcome::Failure
            } else if u < o.failure_rate + o.ignore_rate * (1.0 - o.failure_rate) {
                Outcome::Ignored
            } else {
                Outcome::Success
            };
            plan.push((i, outcome));
        }
        results.clear();
        let t0 = Instant::now();
        for &(i, outcome) in &plan {
            let f = || {
                if outcome == Outcome::Failure {
                    Err(())
                } else {
                    Ok(())
                }
            };
            results.push(breakers[i].call_with(f, |_| outcome));
        }
        time.record_batch(plan.len() as u64, t0.elapsed());
        for (&(i, outcome), result) in plan.iter().zip(&results) {
            let c = &mut counts[i];
            match result {
                Err(CallError::Rejected(rej)) => match rej.reason() {
                    RejectReason::Open => c.rejected.open += 1,
                    RejectReason::HalfOpenFull => c.rejected.half_open_full += 1,
                    RejectReason::BulkheadFull => c.rejected.bulkhead_full += 1,
                    RejectReason::Ramp => c.rejected.ramp += 1,
                    RejectReason::ForcedOpen => c.rejected.forced_open += 1,
                    _ => c.rejected.other += 1,
                },
                Ok(()) | Err(CallError::Failed(())) => match outcome {
                    Outcome::Success => c.successes += 1,
                    Outcome::Failure => c.failures += 1,
                    Outcome::Ignored => c.ignored += 1,
                },
            }
        }
        calls += plan.len() as u64;
        progress.fetch_add(plan.len() as u64, Ordering::Relaxed);
    }
    (counts, time, calls)
}

/// The time-per-call lines of the report: the figures, then what they measure.
///
/// ```
/// use std::time::Duration;
/// use fusebox_cli::stress::{time_per_call, CallTime};
/// let mut t = CallTime::new();
/// t.record_batch(256, Duration::from_nanos(256 * 25));
/// let text = time_per_call(&t.summary(), 20);
/// assert!(text.starts_with("time per call    mean 25.0ns  p50 25.0ns  p90 25.0ns"));
/// assert!(text.contains("1 batch of 256 calls"));
/// ```
pub fn time_per_call(s: &CallTimeSummary, clock_floor_nanos: u64) -> String {
    let batch = s.calls.checked_div(s.batches).unwrap_or(BATCH as u64);
    let pad = " ".repeat(17);
    format!(
        "time per call    mean {}  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}\n\
         {pad}(breaker.call_with on a trivial closure, timed in {} batch{} of {batch} calls made back to back:\n\
         {pad} mean and percentiles are of each batch's time / {batch}, not of single calls; the two clock\n\
         {pad} reads around a batch ({clock_floor_nanos}ns) add {:.2}ns per call and are included)\n",
        fmt_nanos(s.mean_nanos),
        fmt_nanos(s.p50_nanos),
        fmt_nanos(s.p90_nanos),
        fmt_nanos(s.p99_nanos),
        fmt_nanos(s.p999_nanos),
        fmt_nanos(s.max_nanos),
        s.batches,
        if s.batches == 1 { "" } else { "es" },
        clock_floor_nanos as f64 / batch.max(1) as f64,
    )
}

/// Nanoseconds with one decimal below a microsecond, else in µs, ms or s.
fn fmt_nanos(nanos: f64) -> String {
    if nanos < 1e3 {
        format!("{nanos:.1}ns")
    } else if nanos < 1e6 {
        format!("{:.2}µs", nanos / 1e3)
    } else if nanos < 1e9 {
        format!("{:.2}ms", nanos / 1e6)
    } else {
        format!("{:.2}s", nanos / 1e9)
    }
}

/// The report as text.
pub fn text(r: &StressReport) -> String {
    let o = &r.options;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "fusebox stress: {} thread{} for {}, {} breaker{}, {} of calls failing{}",
        o.threads,
        if o.threads == 1 { "" } else { "s" },
        fmt_duration(o.duration),
        o.breakers,
        if o.breakers == 1 { "" } else { "s" },
        fmt_percent(o.failure_rate),
        match o.outage {
            Some((every, span)) => format!(
                ", and all of them for {} every {}",
                fmt_duration(span),
                fmt_duration(every)
            ),
            None => String::new(),
        }
    );
    let secs = r.elapsed.as_secs_f64().max(1e-9);
    let _ = writeln!(
        out,
        "\ncalls            {}  ({:.2} M calls/s, all threads, drawing inputs and counting results included)",
        r.calls,
        r.calls as f64 / secs / 1e6
    );
    out.push_str(&time_per_call(&r.call_time.summary(), r.clock_floor_nanos));
    let _ = writeln!(
        out,
        "\naccounting: the threads' counts against each breaker's metrics()"
    );
    let _ = writeln!(
        out,
        "  {:<12} {:>12} {:>12} {:>12} {:>12} {:>12}  {:>8}",
        "breaker", "admitted", "successes", "failures", "ignored", "rejected", "changes"
    );
    for a in &r.accounts {
        let c = &a.counted;
        let m = &a.metrics;
        let _ = writeln!(
            out,
            "  {:<12} {:>12} {:>12} {:>12} {:>12} {:>12}  {:>8}",
            a.name,
            c.admitted(),
            c.successes,
            c.failures,
            c.ignored,
            c.rejected.total(),
            a.transitions
        );
        if !a.balances() {
            let _ = writeln!(
                out,
                "  {:<12} {:>12} {:>12} {:>12} {:>12} {:>12}  MISMATCH",
                "  metrics()", m.admitted, m.successes, m.failures, m.ignored, m.rejected
            );
        }
    }
    let total = r.accounts.iter().fold(Counted::default(), |mut t, a| {
        t.merge(&a.counted);
        t
    });
    let reasons: Vec<String> = total
        .rejected
        .rows()
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(l, n)| format!("{l} {n}"))
        .collect();
    if !reasons.is_empty() {
        let _ = writeln!(out, "  rejected by reason: {}", reasons.join(", "));
    }
    if r.balances() {
        let _ = writeln!(
            out,
            "\naccounting: exact (admitted = successes + failures + ignored, and every count matches metrics())"
        );
    } else {
        let _ = writeln!(out, "\naccounting: MISMATCH (see the rows marked above)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64) -> bool {
        // The histogram keeps three significant digits.
        (got - want).abs() <= want.abs() * 1e-3 + 1e-9
    }

    fn batches(per_call_nanos: &[(u64, usize)]) -> CallTime {
        let mut t = CallTime::new();
        for &(nanos, n) in per_call_nanos {
            for _ in 0..n {
                t.record_batch(BATCH as u64, Duration::from_nanos(nanos * BATCH as u64));
            }
        }
        t
    }

    #[test]
    fn percentiles_are_of_the_batches_and_the_mean_is_theirs() {
        // 98 batches at 10ns a call, 2 at 1µs: a long right tail.
        let s = batches(&[(10, 98), (1_000, 2)]).summary();
        assert_eq!((s.batches, s.calls), (100, 100 * BATCH as u64));
        assert!(close(s.mean_nanos, 29.8), "{s:?}");
        assert!(close(s.p50_nanos, 10.0), "{s:?}");
        assert!(close(s.p90_nanos, 10.0), "{s:?}");
        assert!(close(s.p99_nanos, 1_000.0), "{s:?}");
        assert!(close(s.max_nanos, 1_000.0), "{s:?}");
        assert!(s.p50_nanos < s.mean_nanos, "{s:?}");
    }

    #[test]
    fn sub_nanosecond_differences_survive() {
        let mut t = CallTime::new();
        t.record_batch(256, Duration::from_nanos(300));
        let s = t.summary();
        assert!(close(s.p50_nanos, 300.0 / 256.0), "{s:?}");
        assert!(close(s.mean_nanos, 300.0 / 256.0), "{s:?}");
    }

    #[test]
    fn figures_are_consistent_by_construction() {
        let mut rng = SplitMix64::new(7);
        for _ in 0..50 {
            let mut t = CallTime::new();
            let mut samples = Vec::new();
            for _ in 0..1 + rng.next_u64() % 500 {
                // Mostly cheap batches, now and then a stall.
                let nanos = if rng.next_u64().is_multiple_of(50) {
                    rng.next_u64() % 5_000_000
                } else {
                    1_000 + rng.next_u64() % 20_000
                };
                t.record_batch(BATCH as u64, Duration::from_nanos(nanos));
                samples.push(nanos as f64 / BATCH as f64);
            }
            let s = t.summary();
            let min = samples.iter().copied().fold(f64::INFINITY, f64::min);
            let max = samples.iter().copied().fold(0.0, f64::max);
            let mean = samples.iter().sum::<f64>() / samples.len() as f64;
            assert_eq!(s.batches, samples.len() as u64);
            assert!(close(s.mean_nanos, mean), "{s:?} vs {mean}");
            assert!(
                min * (1.0 - 1e-3) <= s.mean_nanos && s.mean_nanos <= s.max_nanos,
                "{s:?}"
            );
            assert!(close(s.max_nanos, max), "{s:?} vs {max}");
            let ordered = [
                s.p50_nanos,
                s.p90_nanos,
                s.p99_nanos,
                s.p999_nanos,
                s.max_nanos,
            ];
            assert!(ordered.windows(2).all(|w| w[0] <= w[1]), "{s:?}");
        }
    }

    #[test]
    fn threads_merge_into_the_same_summary() {
        let mut a = batches(&[(10, 5)]);
        let b = batches(&[(30, 5)]);
        a.merge(&b);
        assert_eq!(a.summary(), batches(&[(10, 5), (30, 5)]).summary());
    }

    #[test]
    fn no_batch_is_all_zero() {
        let mut t = CallTime::new();
        t.record_batch(0, Duration::from_secs(1));
        let s = t.summary();
        assert_eq!(
            (s.batches, s.calls, s.mean_nanos, s.p50_nanos),
            (0, 0, 0.0, 0.0)
        );
    }

    #[test]
    fn the_text_prints_the_summary_it_is_given() {
        let s = batches(&[(10, 98), (1_000, 2)]).summary();
        let text = time_per_call(&s, 25);
        let first = text.lines().next().unwrap_or_default();
        assert_eq!(
            first,
            format!(
                "time per call    mean {}  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
                fmt_nanos(s.mean_nanos),
                fmt_nanos(s.p50_nanos),
                fmt_nanos(s.p90_nanos),
                fmt_nanos(s.p99_nanos),
                fmt_nanos(s.p999_nanos),
                fmt_nanos(s.max_nanos),
            )
        );
        assert!(first.contains("mean 29.8ns  p50 10.0ns"), "{first}");
        assert!(text.contains("100 batches of 256 calls"), "{text}");
        assert!(text.contains("(25ns) add 0.10ns per call"), "{text}");
        assert_eq!(text.lines().count(), 4, "{text}");
        assert_eq!(fmt_nanos(1_500.0), "1.50µs");
        assert_eq!(fmt_nanos(4_028_415.0), "4.03ms");
    }
}
