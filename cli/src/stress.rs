//! `fusebox stress`: real threads on the real clock hammer one or more breakers, then every
//! count the threads kept is checked against the breakers' own `metrics()`.
//!
//! Each thread keeps its own counts and its own latency histogram, so the measurement adds no
//! shared writes. One call in [`SAMPLE_EVERY`] is timed (two clock reads around
//! `breaker.call_with` on a trivial closure), so the clock does not dominate the loop; the
//! cost of the two reads alone is measured and reported as the floor.

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

/// One call in this many is timed.
pub const SAMPLE_EVERY: u64 = 64;

/// Calls between two looks at the stop flag and the outage clock.
const BATCH: u64 = 256;

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
    /// Sampled per-call times of `call_with`, in nanoseconds (clock reads included).
    pub overhead: Histogram<u64>,
    /// The median cost of the two clock reads around each sample, in nanoseconds.
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

fn histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, 60_000_000_000, 3) {
        Ok(h) => h,
        Err(e) => unreachable!("constant histogram bounds are valid: {e}"),
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
    let mut overhead = histogram();
    let mut calls = 0;
    for h in handles {
        // A worker runs no code that can panic; treat one that did as having counted nothing.
        if let Ok((c, hist, n)) = h.join() {
            for (total, mine) in counted.iter_mut().zip(&c) {
                total.merge(mine);
            }
            let _ = overhead.add(&hist);
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
        overhead,
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
) -> (Vec<Counted>, Histogram<u64>, u64) {
    let mut rng = SplitMix64::new(0x5eed ^ t.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut counts = vec![Counted::default(); breakers.len()];
    let mut hist = histogram();
    let mut calls = 0u64;
    let k = breakers.len() as u64;
    // Relaxed: the flag carries no data; the join publishes the counts.
    while !stop.load(Ordering::Relaxed) {
        let down = o.outage.is_some_and(|(every, span)| {
            let e = start.elapsed().as_nanos() % every.as_nanos().max(1);
            e < span.as_nanos()
        });
        for _ in 0..BATCH {
            calls += 1;
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
            let b = &breakers[i];
            let f = || {
                if outcome == Outcome::Failure {
                    Err(())
                } else {
                    Ok(())
                }
            };
            let result = if calls % SAMPLE_EVERY == 0 {
                let t0 = Instant::now();
                let result = b.call_with(f, |_| outcome);
                hist.saturating_record(t0.elapsed().as_nanos() as u64);
                result
            } else {
                b.call_with(f, |_| outcome)
            };
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
        progress.fetch_add(BATCH, Ordering::Relaxed);
    }
    (counts, hist, calls)
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
        "\ncalls            {}  ({:.2} M calls/s)",
        r.calls,
        r.calls as f64 / secs / 1e6
    );
    let h = &r.overhead;
    let _ = writeln!(
        out,
        "time per call    p50 {}ns  p90 {}ns  p99 {}ns  p99.9 {}ns  max {}ns",
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.9),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max()
    );
    let _ = writeln!(
        out,
        "                 (breaker.call_with around a trivial closure, {} samples: 1 call in {}; the \
         two clock reads around each sample cost {}ns and are included)",
        h.len(),
        SAMPLE_EVERY,
        r.clock_floor_nanos
    );
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
