//! What `fusebox simulate` prints: the text report and the JSON document.
//!
//! Definitions used in both:
//! - **caller latency**: from a call's arrival to its result, for every call; a rejected call
//!   returns at once (0). **Added latency** is a percentile of it with the breaker minus the
//!   same percentile without one: negative means callers got their answers sooner.
//! - **calls saved**: rejected calls that the downstream would have failed (an error, or no
//!   answer before the caller's timeout) had they been sent when they were rejected, with the
//!   same random draws as everywhere else. **Calls lost**: rejected calls it would have
//!   answered successfully.

use std::fmt::Write as _;
use std::time::Duration;

use fusebox::{Policy, State};
use serde::Serialize;

use crate::scenario::{Phase, Scenario, describe_up, fmt_duration, fmt_percent};
use crate::sim::{Run, STATES, Simulation, state_bands};

/// The percentiles reported, as (label, percentile).
const PERCENTILES: [(&str, f64); 3] = [("p50", 50.0), ("p99", 99.0), ("p99.9", 99.9)];

/// At most this many transitions are listed per breaker in the text report (the first ones
/// and the last ones); `--json` has them all.
const TIMELINE_HEAD: usize = 30;
const TIMELINE_TAIL: usize = 10;

/// The policy as TOML, one line per key, every key spelled out.
///
/// ```
/// let lines = fusebox_cli::report::policy_lines(&fusebox::Policy::default());
/// assert_eq!(lines[0], "window = { count = 100 }");
/// ```
pub fn policy_lines(policy: &Policy) -> Vec<String> {
    policy.to_toml().lines().map(str::to_owned).collect()
}

fn secs(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

/// The downstream's timeline: every phase, and the baseline in the gaps.
fn downstream_rows(s: &Scenario) -> Vec<(Duration, Duration, String)> {
    let mut rows = Vec::new();
    if s.replay.is_some() {
        // A replay's downstream is the recording's, second by second: no phases to list.
        return rows;
    }
    let mut at = Duration::ZERO;
    let healthy = format!("healthy: {}", describe_up(&s.baseline));
    for p in &s.phases {
        if p.start > at {
            rows.push((at, p.start, healthy.clone()));
        }
        rows.push((p.start, p.end, p.describe(s.load.timeout)));
        at = p.end;
    }
    if s.load.duration > at {
        rows.push((at, s.load.duration, healthy));
    }
    rows
}

/// A right-aligned table: a label column and one column per run.
struct Table {
    header: Vec<String>,
    rows: Vec<(String, Vec<String>)>,
}

impl Table {
    fn row(&mut self, label: impl Into<String>, cells: Vec<String>) {
        self.rows.push((label.into(), cells));
    }

    fn render(&self, out: &mut String) {
        let label_w = self
            .rows
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0)
            .max(self.header[0].chars().count());
        let cols = self.header.len() - 1;
        let widths: Vec<usize> = (0..cols)
            .map(|c| {
                self.rows
                    .iter()
                    .map(|(_, cells)| cells.get(c).map_or(0, |s| s.chars().count()))
                    .max()
                    .unwrap_or(0)
                    .max(self.header[c + 1].chars().count())
                    .max(10)
            })
            .collect();
        let line = |out: &mut String, label: &str, cells: &[String]| {
            let mut s = format!("{label:<label_w$}");
            for (c, w) in widths.iter().enumerate() {
                let cell = cells.get(c).map_or("", String::as_str);
                let _ = write!(s, "  {cell:>w$}");
            }
            let _ = writeln!(out, "{}", s.trim_end());
        };
        line(out, &self.header[0], &self.header[1..]);
        for (label, cells) in &self.rows {
            line(out, label, cells);
        }
    }
}

fn signed(d: i128) -> String {
    let abs = Duration::from_nanos(d.unsigned_abs().min(u64::MAX as u128) as u64);
    match d.signum() {
        0 => "0".to_owned(),
        1 => format!("+{}", fmt_duration(abs)),
        _ => format!("-{}", fmt_duration(abs)),
    }
}

/// The text report.
///
/// # Examples
///
/// ```
/// use fusebox_cli::{report::text, scenario::Scenario, sim::simulate};
/// let s = Scenario::builtin();
/// let sim = simulate(&s, &[("policy".into(), s.policy.clone())]).unwrap();
/// let out = text(&sim, None);
/// assert!(out.contains("closed -> open"));
/// assert!(out.contains("calls saved from a failing downstream"));
/// ```
pub fn text(sim: &Simulation, chart: Option<&str>) -> String {
    let s = &sim.scenario;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "fusebox simulate: \"{}\"{}",
        s.name,
        s.description
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default()
    );
    if let Some(replay) = &s.replay {
        let _ = writeln!(
            out,
            "seed {}; the recorded arrivals ({} calls/s on average) over {}; no caller timeout or limit on calls in flight beyond what was recorded",
            s.seed,
            trim_float((s.load.calls_per_sec * 10.0).round() / 10.0),
            fmt_duration(s.load.duration),
        );
        let _ = writeln!(out, "\ndownstream (replayed)");
        for line in replay.describe() {
            let _ = writeln!(out, "  {line}");
        }
    } else {
        let _ = writeln!(
            out,
            "seed {}; {} calls/s ({} arrivals) for {}; at most {} in flight; callers give up after {}",
            s.seed,
            trim_float(s.load.calls_per_sec),
            match s.load.arrivals {
                crate::scenario::Arrivals::Poisson => "poisson",
                crate::scenario::Arrivals::Uniform => "uniform",
            },
            fmt_duration(s.load.duration),
            s.load.concurrency,
            fmt_duration(s.load.timeout)
        );
        let _ = writeln!(out, "\ndownstream");
        for (from, to, what) in downstream_rows(s) {
            let span = format!("{} to {}", fmt_duration(from), fmt_duration(to));
            let _ = writeln!(out, "  {span:<14} {what}");
        }
    }
    if let Some(capacity) = s.capacity {
        let _ = writeln!(
            out,
            "  serves at most {capacity} calls at once; more wait in its queue"
        );
    }
    if let Some(e) = s.experiment {
        let _ = writeln!(
            out,
            "  chaos experiment from {} to {}",
            fmt_duration(e.start),
            fmt_duration(e.end)
        );
    }

    for run in &sim.runs {
        if let Some(p) = &run.policy {
            let source = if sim.runs.len() > 1 {
                format!("policy \"{}\"", run.label)
            } else {
                format!("policy ({})", s.policy_source)
            };
            let _ = writeln!(out, "\n{source}");
            for l in policy_lines(p) {
                let _ = writeln!(out, "  {l}");
            }
        }
    }

    for run in &sim.runs {
        timeline(&mut out, s, run, sim.runs.len() > 1);
    }

    let _ = writeln!(out);
    summary(&mut out, sim);
    if !s.compare.is_empty() {
        let _ = writeln!(out);
        comparison(&mut out, sim);
    }

    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "caller latency: from a call's arrival to its result, every call counted (a rejected call returns at once)."
    );
    let _ = writeln!(
        out,
        "added latency: the same percentile with the breaker minus without it; negative = answers came sooner."
    );
    let _ = writeln!(
        out,
        "saved: rejected calls the downstream would have failed had they been sent; lost: ones it would have answered."
    );
    if let Some(path) = chart {
        let _ = writeln!(
            out,
            "\nchart: {path} (downstream failure rate, admitted vs rejected calls, breaker states)"
        );
    }
    out
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn timeline(out: &mut String, s: &Scenario, run: &Run, named: bool) {
    let title = if named {
        format!(
            "\ntimeline of breaker \"{}\" with policy \"{}\"",
            s.name, run.label
        )
    } else {
        format!("\ntimeline of breaker \"{}\"", s.name)
    };
    let _ = writeln!(out, "{title}");
    // Breaker transitions, with the downstream's phase changes interleaved.
    let mut events: Vec<(Duration, u8, String)> = Vec::new();
    for (from, _, what) in downstream_rows(s) {
        events.push((from, 0, format!("{:<28} {what}", "downstream")));
    }
    let n = run.transitions.len();
    let shown = |i: usize| {
        n <= TIMELINE_HEAD + TIMELINE_TAIL || i < TIMELINE_HEAD || i >= n - TIMELINE_TAIL
    };
    for (i, t) in run.transitions.iter().enumerate() {
        if !shown(i) {
            if i == TIMELINE_HEAD {
                events.push((
                    t.at,
                    1,
                    format!(
                        "... {} more transitions (--json lists them all) ...",
                        n - TIMELINE_HEAD - TIMELINE_TAIL
                    ),
                ));
            }
            continue;
        }
        let change = format!("{} -> {}", t.from, t.to);
        let reason = match &t.detail {
            Some(d) => format!("{} ({d})", t.reason),
            None => t.reason.clone(),
        };
        events.push((t.at, 1, format!("{change:<28} {reason}")));
    }
    // Stable: same-time events keep downstream first, then transitions in order.
    events.sort_by_key(|(at, kind, _)| (*at, *kind));
    for (at, _, line) in events {
        let _ = writeln!(out, "  {:>9}  {line}", secs(at));
    }
    if run.transitions.is_empty() {
        let _ = writeln!(out, "  (the breaker never changed state)");
    }
}

/// The runs side by side on what a limit is for: goodput, the latency of the calls served,
/// and the calls shed to keep it; then which run held the p99 lowest.
fn comparison(out: &mut String, sim: &Simulation) {
    let seconds = sim
        .scenario
        .load
        .duration
        .as_secs_f64()
        .max(f64::MIN_POSITIVE);
    let runs: Vec<&crate::sim::Run> = sim.runs.iter().chain([&sim.baseline]).collect();
    let width = runs
        .iter()
        .map(|r| r.label.len())
        .max()
        .unwrap_or(0)
        .max(10);
    let _ = writeln!(
        out,
        "{:<width$}  {:>12}  {:>12}  {:>12}  {:>8}  {:>8}",
        "comparison", "goodput/s", "p50 served", "p99 served", "shed", "failed"
    );
    for r in &runs {
        let _ = writeln!(
            out,
            "{:<width$}  {:>12.1}  {:>12}  {:>12}  {:>8}  {:>8}",
            r.label,
            r.succeeded as f64 / seconds,
            fmt_duration(r.success_latency_at(50.0)),
            fmt_duration(r.success_latency_at(99.0)),
            r.rejected.total(),
            r.failed()
        );
    }
    if let Some(best) = sim
        .runs
        .iter()
        .min_by_key(|r| (r.success_latency_at(99.0), std::cmp::Reverse(r.succeeded)))
    {
        let _ = writeln!(
            out,
            "lowest p99 of served calls: {} ({}, {:.1} successes/s)",
            best.label,
            fmt_duration(best.success_latency_at(99.0)),
            best.succeeded as f64 / seconds
        );
    }
}

fn summary(out: &mut String, sim: &Simulation) {
    let runs: Vec<&Run> = sim.runs.iter().chain([&sim.baseline]).collect();
    let mut header = vec!["summary".to_owned()];
    header.extend(runs.iter().map(|r| r.label.clone()));
    let mut t = Table {
        header,
        rows: Vec::new(),
    };
    let all = |f: &dyn Fn(&Run) -> String| runs.iter().map(|r| f(r)).collect::<Vec<_>>();
    let breaker_only = |f: &dyn Fn(&Run) -> String| {
        runs.iter()
            .map(|r| {
                if r.policy.is_some() {
                    f(r)
                } else {
                    "-".to_owned()
                }
            })
            .collect::<Vec<_>>()
    };
    let pct = |n: u64, of: u64| {
        if of == 0 {
            String::new()
        } else {
            format!(" ({})", fmt_percent(n as f64 / of as f64))
        }
    };
    t.row("calls attempted", all(&|r| r.attempted.to_string()));
    t.row("  admitted", all(&|r| r.admitted.to_string()));
    t.row(
        "    succeeded",
        all(&|r| format!("{}{}", r.succeeded, pct(r.succeeded, r.attempted))),
    );
    t.row(
        "    failed",
        all(&|r| format!("{}{}", r.failed(), pct(r.failed(), r.attempted))),
    );
    t.row(
        "      downstream error",
        all(&|r| r.failed_errors.to_string()),
    );
    t.row("      timed out", all(&|r| r.failed_timeouts.to_string()));
    if runs.iter().any(|r| r.failed_waiting > 0) {
        t.row(
            "      gave up waiting for a slot",
            all(&|r| r.failed_waiting.to_string()),
        );
    }
    if runs
        .iter()
        .any(|r| r.failed_injected > 0 || r.injected_delays > 0)
    {
        t.row(
            "      injected fault (chaos)",
            all(&|r| r.failed_injected.to_string()),
        );
        t.row(
            "    delayed by chaos",
            all(&|r| r.injected_delays.to_string()),
        );
    }
    t.row(
        "  rejected",
        breaker_only(&|r| {
            format!(
                "{}{}",
                r.rejected.total(),
                pct(r.rejected.total(), r.attempted)
            )
        }),
    );
    for (i, (label, _)) in sim.baseline.rejected.rows().iter().enumerate() {
        if i == 0 || runs.iter().any(|r| r.rejected.rows()[i].1 > 0) {
            t.row(
                format!("    {label}"),
                breaker_only(&|r| r.rejected.rows()[i].1.to_string()),
            );
        }
    }
    for state in STATES {
        let used = runs.iter().any(|r| r.time_in(state) > Duration::ZERO);
        if state != State::Closed && (used || state == State::Open) {
            t.row(
                format!("time {state}"),
                breaker_only(&|r| fmt_duration(round_ms(r.time_in(state)))),
            );
        }
    }
    t.row(
        "state changes",
        breaker_only(&|r| r.transitions.len().to_string()),
    );
    t.row(
        "calls saved from a failing downstream",
        breaker_only(&|r| r.saved.to_string()),
    );
    t.row(
        "  caller time they would have spent",
        breaker_only(&|r| fmt_duration(round_ms(r.saved_time))),
    );
    t.row(
        "calls lost (would have succeeded)",
        breaker_only(&|r| r.lost.to_string()),
    );
    t.row(
        "calls sent to the downstream",
        all(&|r| r.downstream_calls.to_string()),
    );
    t.row(
        "caller time spent on failing calls",
        all(&|r| fmt_duration(round_ms(r.failing_time))),
    );
    t.row(
        "peak calls waiting for a slot",
        all(&|r| r.peak_waiting.to_string()),
    );
    for (label, q) in PERCENTILES {
        t.row(
            format!("caller latency {label}"),
            all(&|r| fmt_duration(r.latency_at(q))),
        );
    }
    for (label, q) in PERCENTILES {
        let base = sim.baseline.latency_at(q).as_nanos() as i128;
        t.row(
            format!("added latency {label}"),
            breaker_only(&|r| signed(r.latency_at(q).as_nanos() as i128 - base)),
        );
    }
    for (label, q) in PERCENTILES.iter().take(2) {
        t.row(
            format!("successful-call latency {label}"),
            all(&|r| fmt_duration(r.success_latency_at(*q))),
        );
    }
    t.render(out);
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis((d.as_nanos() as f64 / 1e6).round() as u64)
}

// --- JSON -------------------------------------------------------------------------------------

#[derive(Serialize)]
struct JsonReport<'a> {
    scenario: JsonScenario<'a>,
    runs: Vec<JsonRun>,
    baseline: JsonRun,
    buckets: JsonBuckets,
    chart: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonScenario<'a> {
    name: &'a str,
    description: Option<&'a str>,
    seed: u64,
    policy_source: &'a str,
    calls_per_sec: f64,
    duration_s: f64,
    concurrency: u32,
    timeout_s: f64,
    arrivals: crate::scenario::Arrivals,
    downstream: Vec<JsonPhase>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replay: Option<JsonReplay<'a>>,
}

#[derive(Serialize)]
struct JsonReplay<'a> {
    source: &'a str,
    calls: usize,
    admitted: u64,
    rejected: u64,
    seconds: u64,
    inferred_seconds: &'a [u64],
    skipped_lines: u64,
}

#[derive(Serialize)]
struct JsonPhase {
    start_s: f64,
    end_s: f64,
    kind: &'static str,
    description: String,
}

#[derive(Serialize)]
struct JsonLatency {
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
}

#[derive(Serialize)]
struct JsonTransition {
    at_s: f64,
    from: String,
    to: String,
    reason: String,
    detail: Option<String>,
}

#[derive(Serialize)]
struct JsonMetrics {
    admitted: u64,
    successes: u64,
    failures: u64,
    ignored: u64,
    slow: u64,
    rejected: u64,
    state: String,
}

#[derive(Serialize)]
struct JsonRun {
    label: String,
    policy: Option<Policy>,
    attempted: u64,
    admitted: u64,
    succeeded: u64,
    failed: u64,
    failed_errors: u64,
    failed_timeouts: u64,
    failed_waiting: u64,
    failed_injected: u64,
    injected_delays: u64,
    rejected: u64,
    rejected_by_reason: crate::sim::Rejections,
    saved: u64,
    saved_caller_time_s: f64,
    lost: u64,
    downstream_calls: u64,
    failing_caller_time_s: f64,
    peak_in_flight: u32,
    peak_waiting: usize,
    caller_latency: JsonLatency,
    added_latency: Option<JsonLatency>,
    success_latency: JsonLatency,
    time_in_state_s: std::collections::BTreeMap<String, f64>,
    transitions: Vec<JsonTransition>,
    states: Vec<(f64, f64, String)>,
    breaker_metrics: Option<JsonMetrics>,
    finished_at_s: f64,
}

#[derive(Serialize)]
struct JsonBuckets {
    width_s: f64,
    start_s: Vec<f64>,
    downstream_failure_rate: Vec<f64>,
    arrivals: Vec<u64>,
    admitted: Vec<Vec<u64>>,
    rejected: Vec<Vec<u64>>,
    failed: Vec<Vec<u64>>,
}

fn ms(d: Duration) -> f64 {
    (d.as_nanos() as f64 / 1e3).round() / 1e3
}

fn latency(r: &Run) -> JsonLatency {
    JsonLatency {
        p50_ms: ms(r.latency_at(50.0)),
        p99_ms: ms(r.latency_at(99.0)),
        p999_ms: ms(r.latency_at(99.9)),
    }
}

fn json_run(sim: &Simulation, r: &Run) -> JsonRun {
    let base = latency(&sim.baseline);
    let mine = latency(r);
    JsonRun {
        label: r.label.clone(),
        policy: r.policy.clone(),
        attempted: r.attempted,
        admitted: r.admitted,
        succeeded: r.succeeded,
        failed: r.failed(),
        failed_errors: r.failed_errors,
        failed_timeouts: r.failed_timeouts,
        failed_waiting: r.failed_waiting,
        failed_injected: r.failed_injected,
        injected_delays: r.injected_delays,
        rejected: r.rejected.total(),
        rejected_by_reason: r.rejected,
        saved: r.saved,
        saved_caller_time_s: r.saved_time.as_secs_f64(),
        lost: r.lost,
        downstream_calls: r.downstream_calls,
        failing_caller_time_s: r.failing_time.as_secs_f64(),
        peak_in_flight: r.peak_in_flight,
        peak_waiting: r.peak_waiting,
        added_latency: r.policy.as_ref().map(|_| JsonLatency {
            p50_ms: mine.p50_ms - base.p50_ms,
            p99_ms: mine.p99_ms - base.p99_ms,
            p999_ms: mine.p999_ms - base.p999_ms,
        }),
        caller_latency: mine,
        success_latency: JsonLatency {
            p50_ms: ms(r.success_latency_at(50.0)),
            p99_ms: ms(r.success_latency_at(99.0)),
            p999_ms: ms(r.success_latency_at(99.9)),
        },
        time_in_state_s: r
            .state_time
            .iter()
            .filter(|(_, d)| r.policy.is_some() && !d.is_zero())
            .map(|(s, d)| (s.to_string(), d.as_secs_f64()))
            .collect(),
        transitions: r
            .transitions
            .iter()
            .map(|t| JsonTransition {
                at_s: t.at.as_secs_f64(),
                from: t.from.to_string(),
                to: t.to.to_string(),
                reason: t.reason.clone(),
                detail: t.detail.clone(),
            })
            .collect(),
        states: if r.policy.is_some() {
            state_bands(&r.transitions, sim.scenario.load.duration)
                .into_iter()
                .map(|(a, b, s)| (a.as_secs_f64(), b.as_secs_f64(), s.to_string()))
                .collect()
        } else {
            Vec::new()
        },
        breaker_metrics: r.metrics.map(|m| JsonMetrics {
            admitted: m.admitted,
            successes: m.successes,
            failures: m.failures,
            ignored: m.ignored,
            slow: m.slow,
            rejected: m.rejected,
            state: m.state.to_string(),
        }),
        finished_at_s: r.finished_at.as_secs_f64(),
    }
}

/// The JSON document (pretty-printed).
///
/// # Examples
///
/// ```
/// use fusebox_cli::{report::json, scenario::Scenario, sim::simulate};
/// let s = Scenario::builtin();
/// let sim = simulate(&s, &[("policy".into(), s.policy.clone())]).unwrap();
/// let v: serde_json::Value = serde_json::from_str(&json(&sim, None)).unwrap();
/// assert_eq!(v["runs"][0]["attempted"], v["baseline"]["attempted"]);
/// ```
pub fn json(sim: &Simulation, chart: Option<&str>) -> String {
    let s = &sim.scenario;
    let b = &sim.baseline;
    let report = JsonReport {
        scenario: JsonScenario {
            name: &s.name,
            description: s.description.as_deref(),
            seed: s.seed,
            policy_source: &s.policy_source,
            calls_per_sec: s.load.calls_per_sec,
            duration_s: s.load.duration.as_secs_f64(),
            concurrency: s.load.concurrency,
            timeout_s: s.load.timeout.as_secs_f64(),
            arrivals: s.load.arrivals,
            downstream: downstream_rows(s)
                .into_iter()
                .map(|(from, to, description)| JsonPhase {
                    start_s: from.as_secs_f64(),
                    end_s: to.as_secs_f64(),
                    kind: s
                        .phases
                        .iter()
                        .find(|p: &&Phase| p.start == from)
                        .map_or("baseline", Phase::kind_name),
                    description,
                })
                .collect(),
            replay: s.replay.as_deref().map(|r| JsonReplay {
                source: &r.source,
                calls: r.arrivals.len(),
                admitted: r.admitted,
                rejected: r.rejected,
                seconds: r.duration().as_secs(),
                inferred_seconds: &r.inferred_seconds,
                skipped_lines: r.skipped_lines,
            }),
        },
        runs: sim.runs.iter().map(|r| json_run(sim, r)).collect(),
        baseline: json_run(sim, b),
        buckets: JsonBuckets {
            width_s: sim.bucket.as_secs_f64(),
            start_s: (0..b.buckets.len())
                .map(|i| (sim.bucket * i as u32).as_secs_f64())
                .collect(),
            downstream_failure_rate: b
                .buckets
                .iter()
                .map(|x| {
                    if x.arrivals == 0 {
                        0.0
                    } else {
                        (x.doomed as f64 / x.arrivals as f64 * 1e4).round() / 1e4
                    }
                })
                .collect(),
            arrivals: b.buckets.iter().map(|x| x.arrivals).collect(),
            admitted: sim
                .runs
                .iter()
                .map(|r| r.buckets.iter().map(|x| x.admitted).collect())
                .collect(),
            rejected: sim
                .runs
                .iter()
                .map(|r| r.buckets.iter().map(|x| x.rejected).collect())
                .collect(),
            failed: sim
                .runs
                .iter()
                .chain([b])
                .map(|r| r.buckets.iter().map(|x| x.failed).collect())
                .collect(),
        },
        chart,
    };
    match serde_json::to_string_pretty(&report) {
        Ok(s) => s + "\n",
        Err(e) => format!("{{\"error\": \"{e}\"}}\n"),
    }
}
