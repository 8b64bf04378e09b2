//! Failure scenarios: the load, the downstream's behaviour over time, and the policy under test.
//!
//! A scenario is a TOML file (see `scenarios/builtin.toml` for a commented one):
//!
//! ```toml
//! name = "payments"            # the breaker's name in the output
//! seed = 42                    # same seed, same output, byte for byte
//! policy_file = "policy.toml"  # or an inline [policy] table in the policy schema,
//!                              # which may start from a preset: preset = "payment-provider"
//!
//! [load]
//! calls_per_sec = 200
//! duration = "60s"
//! concurrency = 64             # calls in flight at once; the rest wait for a slot
//! timeout = "2s"               # a caller gives up after this, waiting included
//! arrivals = "poisson"         # or "uniform"
//!
//! [downstream]                 # behaviour outside every phase
//! latency = { p50 = "40ms", p99 = "250ms" }   # log-normal through these two points
//! error_rate = 0.002
//!
//! [[phases]]
//! kind = "outage"              # healthy | errors | outage | brownout | flapping
//! start = "20s"
//! end = "35s"
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use fusebox::Policy;
use serde::Deserialize;

use crate::diag::{Diagnostic, Document, Seg, path};
use crate::rng::normal_quantile;

/// The built-in scenario's TOML source.
pub const BUILTIN: &str = include_str!("../scenarios/builtin.toml");

/// The name under which errors in the built-in scenario are reported.
pub const BUILTIN_NAME: &str = "<built-in>";

/// The scenarios `fusebox simulate --scenario NAME` knows: name, what it shows, TOML source.
/// The first is the default.
pub const NAMED: &[(&str, &str, &str)] = &[
    (
        "payments",
        "a payment API: 15-second outage, then a slow recovery (the default)",
        BUILTIN,
    ),
    (
        "overload",
        "a latency spike under constant load: a static bulkhead against AIMD, Gradient2 and Vegas",
        include_str!("../scenarios/overload.toml"),
    ),
    (
        "chaos",
        "a chaos experiment: the policy's injected faults trip the breaker, which closes after",
        include_str!("../scenarios/chaos.toml"),
    ),
];

/// The TOML source of the named scenario.
///
/// # Errors
///
/// An unknown name, with the known ones.
///
/// ```
/// assert!(fusebox_cli::scenario::named_source("chaos").is_ok());
/// assert!(fusebox_cli::scenario::named_source("nope").unwrap_err().contains("payments"));
/// ```
pub fn named_source(name: &str) -> Result<&'static str, String> {
    NAMED
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, text)| *text)
        .ok_or_else(|| {
            let known: Vec<&str> = NAMED.iter().map(|(n, _, _)| *n).collect();
            format!(
                "--scenario: no scenario named {name:?}; the scenarios are {} (or list)",
                known.join(", ")
            )
        })
}

/// At most this many calls in one scenario, so that a typo cannot run for hours.
pub const MAX_CALLS: f64 = 20_000_000.0;

/// The longest scenario.
pub const MAX_SCENARIO: Duration = Duration::from_secs(24 * 3600);

/// The z-score of the 99th percentile of a standard normal distribution.
const Z99: f64 = 2.326_347_874_040_841;

/// A validated scenario, ready to simulate.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The breaker's name.
    pub name: String,
    /// A line saying what the scenario is.
    pub description: Option<String>,
    /// The seed of every random draw.
    pub seed: u64,
    /// The policy under test.
    pub policy: Policy,
    /// Where the policy came from: `inline`, a file path, or `default`.
    pub policy_source: String,
    /// The load.
    pub load: Load,
    /// The downstream outside every phase.
    pub baseline: Upstate,
    /// How many calls the downstream serves at once (`[downstream] capacity`); more wait in
    /// its queue, so that latency grows with load. `None`: as many as are sent.
    pub capacity: Option<u32>,
    /// The downstream's phases, sorted by start, not overlapping.
    pub phases: Vec<Phase>,
    /// The policy's label in reports (`policy_label`), if the file gives one.
    pub policy_label: Option<String>,
    /// Other policies run side by side with [`policy`](Self::policy), by label: each
    /// `[compare.<label>]` table's keys over `[policy]`'s.
    pub compare: Vec<(String, Policy)>,
    /// When the policy's `chaos` is on (the simulator runs on virtual time, so a chaos
    /// `until` does not apply): from `[experiment]`, else the whole run.
    pub experiment: Option<Experiment>,
    /// A recording replayed (`simulate --replay`): its arrivals and its downstream, second by
    /// second, instead of the load's arrivals and the phases.
    pub replay: Option<std::sync::Arc<crate::replay::Replay>>,
}

/// A chaos experiment's window, `[experiment] start = "15s", end = "35s"`: the policy's
/// `chaos` injects faults and latency into the calls the breaker admits in it, and only in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Experiment {
    /// When the injection starts.
    pub start: Duration,
    /// When it stops (exclusive).
    pub end: Duration,
}

impl Experiment {
    /// Whether `t` is in the window.
    ///
    /// ```
    /// use std::time::Duration;
    /// let e = fusebox_cli::scenario::Experiment { start: Duration::from_secs(1), end: Duration::from_secs(2) };
    /// assert!(e.contains(Duration::from_millis(1500)));
    /// assert!(!e.contains(Duration::from_secs(2)));
    /// ```
    pub fn contains(&self, t: Duration) -> bool {
        self.start <= t && t < self.end
    }
}

/// How calls arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrivals {
    /// A Poisson process: exponential gaps, as independent callers produce.
    Poisson,
    /// Evenly spaced.
    Uniform,
}

/// The load the callers put on the downstream.
#[derive(Debug, Clone)]
pub struct Load {
    /// Mean arrival rate.
    pub calls_per_sec: f64,
    /// How long calls keep arriving.
    pub duration: Duration,
    /// How many calls may be in flight at once; more wait for a slot, in arrival order.
    pub concurrency: u32,
    /// A caller gives up this long after its call arrived, waiting for a slot included.
    pub timeout: Duration,
    /// The arrival process.
    pub arrivals: Arrivals,
}

/// A log-normal latency distribution, given by its median and 99th percentile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// The median.
    pub p50: Duration,
    /// The 99th percentile.
    pub p99: Duration,
}

impl Latency {
    /// The latency at quantile `u` in (0, 1), in nanoseconds.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_cli::scenario::Latency;
    /// let l = Latency { p50: Duration::from_millis(40), p99: Duration::from_millis(250) };
    /// assert_eq!(l.sample_nanos(0.5), 40_000_000);
    /// assert!((l.sample_nanos(0.99) as f64 - 250e6).abs() < 1e3);
    /// ```
    pub fn sample_nanos(&self, u: f64) -> u64 {
        let p50 = self.p50.as_nanos() as f64;
        let sigma = (self.p99.as_nanos() as f64 / p50).ln() / Z99;
        let v = p50 * (sigma * normal_quantile(u)).exp();
        if v.is_finite() {
            v.round().clamp(1.0, u64::MAX as f64) as u64
        } else {
            u64::MAX
        }
    }
}

/// A downstream that answers: with some latency, failing a share of calls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Upstate {
    /// How long an answer takes.
    pub latency: Latency,
    /// The share of answers that are errors.
    pub error_rate: f64,
}

/// One stretch of time with its own downstream behaviour.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// When it begins.
    pub start: Duration,
    /// When it ends (exclusive).
    pub end: Duration,
    /// What the downstream does meanwhile.
    pub kind: PhaseKind,
}

/// What the downstream does during a phase.
#[derive(Debug, Clone, PartialEq)]
pub enum PhaseKind {
    /// Answers normally (the baseline, or the latency and error rate given).
    Healthy(Upstate),
    /// Fails a share of calls.
    Errors(Upstate),
    /// Answers nothing: calls hang until the caller's timeout, or fail after `fail_after`.
    Outage {
        /// How long a call takes to fail (a refused connection); `None` = it hangs.
        fail_after: Option<Duration>,
    },
    /// Answers slowly (and perhaps with more errors).
    Brownout(Upstate),
    /// Goes down for `duty` of every `period`, starting down, and is the baseline otherwise.
    Flapping {
        /// One down-and-up cycle.
        period: Duration,
        /// The share of each period spent down.
        duty: f64,
        /// As for [`PhaseKind::Outage`].
        fail_after: Option<Duration>,
    },
}

/// What the downstream does to a call sent at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Behaviour {
    /// It answers.
    Up(Upstate),
    /// It is down.
    Down {
        /// How long a call takes to fail; `None` = it hangs until the caller gives up.
        fail_after: Option<Duration>,
    },
}

impl Scenario {
    /// The built-in scenario: a payment API with a 15-second outage and a slow recovery.
    ///
    /// ```
    /// let s = fusebox_cli::scenario::Scenario::builtin();
    /// assert_eq!(s.name, "payments");
    /// ```
    pub fn builtin() -> Scenario {
        match Scenario::from_toml(BUILTIN, BUILTIN_NAME, None) {
            Ok(s) => s,
            // The built-in scenario is checked by the tests; this cannot happen in a release.
            Err(e) => unreachable!("the built-in scenario is invalid: {e}"),
        }
    }

    /// A scenario of [`NAMED`].
    ///
    /// # Errors
    ///
    /// An unknown name.
    ///
    /// ```
    /// let s = fusebox_cli::scenario::Scenario::named("chaos")?;
    /// assert!(s.experiment.is_some());
    /// # Ok::<(), String>(())
    /// ```
    pub fn named(name: &str) -> Result<Scenario, String> {
        Scenario::from_toml(named_source(name)?, &format!("<{name}>"), None)
    }

    /// Reads and validates the scenario file at `path`.
    ///
    /// # Errors
    ///
    /// One line, `file:line:col: field: reason` where the problem has a place.
    pub fn load(path: &Path) -> Result<Scenario, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {}", path.display(), io_reason(&e)))?;
        Scenario::from_toml(&text, &path.display().to_string(), path.parent())
    }

    /// Parses and validates a scenario; `file` names it in errors and `dir` is where a
    /// `policy_file` is looked up (the current directory when `None`).
    ///
    /// # Errors
    ///
    /// One line, `file:line:col: field: reason`.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_cli::scenario::Scenario;
    /// let err = Scenario::from_toml("[load]\ncalls_per_sec = -5\nduration = \"10s\"\n", "s.toml", None)
    ///     .unwrap_err();
    /// assert_eq!(err, "s.toml:2:17: load.calls_per_sec: must be greater than 0, got -5");
    /// ```
    pub fn from_toml(text: &str, file: &str, dir: Option<&Path>) -> Result<Scenario, String> {
        Scenario::parse(text, dir).map_err(|e| match e {
            Failure::Here(d) => format!("{file}:{d}"),
            Failure::Elsewhere(msg) => msg,
        })
    }

    /// Like [`from_toml`](Self::from_toml), with the problem unformatted.
    ///
    /// # Errors
    ///
    /// The first problem: in this text, or in full in the policy file it names.
    pub fn parse(text: &str, dir: Option<&Path>) -> Result<Scenario, Failure> {
        let doc = Document::parse(text)?;
        let raw: ScenarioFile = doc.deserialize(&[])?;
        validate(&doc, raw, dir)
    }

    /// What the downstream does to a call sent at `t` (since the start).
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_cli::scenario::{Behaviour, Scenario};
    /// let s = Scenario::builtin();
    /// assert!(matches!(s.behaviour_at(Duration::from_secs(25)), Behaviour::Down { fail_after: None }));
    /// assert!(matches!(s.behaviour_at(Duration::from_secs(5)), Behaviour::Up(_)));
    /// ```
    pub fn behaviour_at(&self, t: Duration) -> Behaviour {
        let i = self.phases.partition_point(|p| p.end <= t);
        match self.phases.get(i) {
            Some(p) if p.start <= t => p.behaviour_at(t, self.baseline),
            _ => Behaviour::Up(self.baseline),
        }
    }

    /// How many calls the load makes, on average.
    pub fn expected_calls(&self) -> f64 {
        self.load.calls_per_sec * self.load.duration.as_secs_f64()
    }
}

impl Phase {
    fn behaviour_at(&self, t: Duration, baseline: Upstate) -> Behaviour {
        match &self.kind {
            PhaseKind::Healthy(up) | PhaseKind::Errors(up) | PhaseKind::Brownout(up) => {
                Behaviour::Up(*up)
            }
            PhaseKind::Outage { fail_after } => Behaviour::Down {
                fail_after: *fail_after,
            },
            PhaseKind::Flapping {
                period,
                duty,
                fail_after,
            } => {
                let into = (t - self.start).as_nanos() % period.as_nanos().max(1);
                if (into as f64) < period.as_nanos() as f64 * duty {
                    Behaviour::Down {
                        fail_after: *fail_after,
                    }
                } else {
                    Behaviour::Up(baseline)
                }
            }
        }
    }

    /// A short description: `outage: calls hang until the 2s timeout`.
    pub fn describe(&self, timeout: Duration) -> String {
        match &self.kind {
            PhaseKind::Healthy(up) => format!("healthy: {}", describe_up(up)),
            PhaseKind::Errors(up) => format!("errors: {}", describe_up(up)),
            PhaseKind::Outage { fail_after } => {
                format!("outage: {}", describe_down(*fail_after, timeout))
            }
            PhaseKind::Brownout(up) => format!("brown-out: {}", describe_up(up)),
            PhaseKind::Flapping {
                period,
                duty,
                fail_after,
            } => format!(
                "flapping: down {} of every {} ({})",
                fmt_duration(period.mul_f64(*duty)),
                fmt_duration(*period),
                describe_down(*fail_after, timeout)
            ),
        }
    }

    /// The kind's name as written in a scenario file.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            PhaseKind::Healthy(_) => "healthy",
            PhaseKind::Errors(_) => "errors",
            PhaseKind::Outage { .. } => "outage",
            PhaseKind::Brownout(_) => "brownout",
            PhaseKind::Flapping { .. } => "flapping",
        }
    }
}

/// `p50 40ms, p99 250ms, 0.2% errors`.
pub fn describe_up(up: &Upstate) -> String {
    format!(
        "p50 {}, p99 {}, {} errors",
        fmt_duration(up.latency.p50),
        fmt_duration(up.latency.p99),
        fmt_percent(up.error_rate)
    )
}

fn describe_down(fail_after: Option<Duration>, timeout: Duration) -> String {
    match fail_after {
        None => format!("calls hang until the {} timeout", fmt_duration(timeout)),
        Some(d) => format!("calls fail after {}", fmt_duration(d)),
    }
}

/// A duration the way people write it: `250ms`, `2s`, `1.5s`, `2m30s`.
///
/// ```
/// use std::time::Duration;
/// use fusebox_cli::scenario::fmt_duration;
/// assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5s");
/// assert_eq!(fmt_duration(Duration::from_millis(40)), "40ms");
/// assert_eq!(fmt_duration(Duration::from_secs(150)), "2m30s");
/// ```
pub fn fmt_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        "0s".to_owned()
    } else if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        trim(format!("{:.1}", ns as f64 / 1e3)) + "µs"
    } else if ns < 1_000_000_000 {
        trim(format!("{:.1}", ns as f64 / 1e6)) + "ms"
    } else if ns < 60_000_000_000 {
        trim(format!("{:.2}", ns as f64 / 1e9)) + "s"
    } else {
        let secs = d.as_secs();
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        let mut out = String::new();
        if h > 0 {
            out += &format!("{h}h");
        }
        if m > 0 {
            out += &format!("{m}m");
        }
        if s > 0 {
            out += &format!("{s}s");
        }
        out
    }
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// A share as a percentage: `0.2%`, `5%`, `100%`.
pub fn fmt_percent(share: f64) -> String {
    trim(format!("{:.2}", share * 100.0)) + "%"
}

/// An I/O error's reason without the `(os error 2)` suffix.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        std::io::ErrorKind::IsADirectory => "is a directory".to_owned(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_owned(),
                None => s,
            }
        }
    }
}

// --- the file's shape -------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: Option<String>,
    description: Option<String>,
    seed: Option<u64>,
    policy_file: Option<String>,
    policy_label: Option<String>,
    // Checked separately, so that its errors name `policy.<field>`.
    policy: Option<serde::de::IgnoredAny>,
    // Checked separately: each `[compare.<label>]` is merged over `[policy]`.
    #[allow(dead_code)]
    compare: Option<serde::de::IgnoredAny>,
    load: LoadFile,
    downstream: Option<DownstreamFile>,
    #[serde(default)]
    phases: Vec<PhaseFile>,
    experiment: Option<ExperimentFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExperimentFile {
    #[serde(with = "humantime_serde")]
    start: Duration,
    #[serde(with = "humantime_serde")]
    end: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadFile {
    calls_per_sec: f64,
    #[serde(with = "humantime_serde")]
    duration: Duration,
    concurrency: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    timeout: Option<Duration>,
    arrivals: Option<Arrivals>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DownstreamFile {
    latency: Option<LatencyFile>,
    error_rate: Option<f64>,
    capacity: Option<u32>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct LatencyFile {
    #[serde(with = "humantime_serde")]
    p50: Duration,
    #[serde(with = "humantime_serde")]
    p99: Duration,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum KindFile {
    Healthy,
    Errors,
    Outage,
    Brownout,
    Flapping,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhaseFile {
    kind: KindFile,
    #[serde(with = "humantime_serde")]
    start: Duration,
    #[serde(with = "humantime_serde")]
    end: Duration,
    latency: Option<LatencyFile>,
    error_rate: Option<f64>,
    #[serde(default, with = "humantime_serde")]
    fail_after: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    period: Option<Duration>,
    duty: Option<f64>,
}

// --- validation -------------------------------------------------------------------------------

/// Why a scenario was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A problem in the scenario's own text.
    Here(Diagnostic),
    /// A problem in another file (the policy file), as a complete line.
    Elsewhere(String),
}

impl From<Diagnostic> for Failure {
    fn from(d: Diagnostic) -> Self {
        Failure::Here(d)
    }
}

const DEFAULT_LATENCY: LatencyFile = LatencyFile {
    p50: Duration::from_millis(20),
    p99: Duration::from_millis(100),
};

fn validate(
    doc: &Document<'_>,
    raw: ScenarioFile,
    dir: Option<&Path>,
) -> Result<Scenario, Failure> {
    let fail = |p: Vec<Seg>, reason: String| Failure::Here(doc.at(&p, reason));

    // Load.
    let l = &raw.load;
    if !(l.calls_per_sec.is_finite() && l.calls_per_sec > 0.0) {
        return Err(fail(
            path(&["load", "calls_per_sec"]),
            format!("must be greater than 0, got {}", l.calls_per_sec),
        ));
    }
    if l.duration.is_zero() || l.duration > MAX_SCENARIO {
        return Err(fail(
            path(&["load", "duration"]),
            format!(
                "must be in (0s, {}], got {}",
                fmt_duration(MAX_SCENARIO),
                fmt_duration(l.duration)
            ),
        ));
    }
    let calls = l.calls_per_sec * l.duration.as_secs_f64();
    if calls > MAX_CALLS {
        return Err(fail(
            path(&["load"]),
            format!(
                "{calls:.0} calls (calls_per_sec × duration) is too many to simulate; at most {MAX_CALLS:.0}"
            ),
        ));
    }
    let concurrency = l.concurrency.unwrap_or(64);
    if concurrency == 0 {
        return Err(fail(
            path(&["load", "concurrency"]),
            "must be at least 1, got 0".to_owned(),
        ));
    }
    let timeout = l.timeout.unwrap_or(Duration::from_secs(1));
    if timeout.is_zero() || timeout > Duration::from_secs(3600) {
        return Err(fail(
            path(&["load", "timeout"]),
            format!("must be in (0s, 1h], got {}", fmt_duration(timeout)),
        ));
    }
    let load = Load {
        calls_per_sec: l.calls_per_sec,
        duration: l.duration,
        concurrency,
        timeout,
        arrivals: l.arrivals.unwrap_or(Arrivals::Poisson),
    };

    // Downstream baseline.
    let d = raw.downstream.as_ref();
    let latency =
        latency(doc, d.and_then(|d| d.latency), &["downstream", "latency"])?.unwrap_or(Latency {
            p50: DEFAULT_LATENCY.p50,
            p99: DEFAULT_LATENCY.p99,
        });
    let error_rate = share(
        doc,
        d.and_then(|d| d.error_rate),
        path(&["downstream", "error_rate"]),
    )?
    .unwrap_or(0.0);
    let baseline = Upstate {
        latency,
        error_rate,
    };
    let capacity = d.and_then(|d| d.capacity);
    if capacity == Some(0) {
        return Err(fail(
            path(&["downstream", "capacity"]),
            "must be at least 1 (leave it out for no limit)".to_owned(),
        ));
    }

    // Phases.
    let mut phases: Vec<(usize, Phase)> = Vec::new();
    for (i, p) in raw.phases.iter().enumerate() {
        let at = |key: &str| {
            vec![
                Seg::Key("phases".to_owned()),
                Seg::Index(i),
                Seg::Key(key.to_owned()),
            ]
        };
        if p.end <= p.start {
            return Err(fail(
                at("end"),
                format!(
                    "must be after start ({}), got {}",
                    fmt_duration(p.start),
                    fmt_duration(p.end)
                ),
            ));
        }
        if p.end > load.duration {
            return Err(fail(
                at("end"),
                format!(
                    "must be at most load.duration ({}), got {}",
                    fmt_duration(load.duration),
                    fmt_duration(p.end)
                ),
            ));
        }
        let forbid = |name: &str, present: bool| -> Result<(), Failure> {
            if present {
                Err(fail(
                    at(name),
                    format!("not used by kind = \"{}\"", kind_str(p.kind)),
                ))
            } else {
                Ok(())
            }
        };
        let lat = |required: bool| -> Result<Latency, Failure> {
            match latency_at(doc, p.latency, at("latency"))? {
                Some(l) => Ok(l),
                None if required => Err(fail(
                    at("latency"),
                    format!(
                        "missing: kind = \"{}\" needs latency = {{ p50 = \"..\", p99 = \"..\" }}",
                        kind_str(p.kind)
                    ),
                )),
                None => Ok(baseline.latency),
            }
        };
        let rate = |required: bool| -> Result<f64, Failure> {
            match share(doc, p.error_rate, at("error_rate"))? {
                Some(r) => Ok(r),
                None if required => Err(fail(
                    at("error_rate"),
                    "missing: kind = \"errors\" needs error_rate (0 to 1)".to_owned(),
                )),
                None => Ok(baseline.error_rate),
            }
        };
        let kind = match p.kind {
            KindFile::Healthy | KindFile::Errors | KindFile::Brownout => {
                forbid("fail_after", p.fail_after.is_some())?;
                forbid("period", p.period.is_some())?;
                forbid("duty", p.duty.is_some())?;
                let up = Upstate {
                    latency: lat(p.kind == KindFile::Brownout)?,
                    error_rate: rate(p.kind == KindFile::Errors)?,
                };
                match p.kind {
                    KindFile::Healthy => PhaseKind::Healthy(up),
                    KindFile::Errors => PhaseKind::Errors(up),
                    _ => PhaseKind::Brownout(up),
                }
            }
            KindFile::Outage | KindFile::Flapping => {
                forbid("latency", p.latency.is_some())?;
                forbid("error_rate", p.error_rate.is_some())?;
                if p.fail_after.is_some_and(|f| f.is_zero()) {
                    return Err(fail(at("fail_after"), "must be greater than 0s".to_owned()));
                }
                if p.kind == KindFile::Outage {
                    forbid("period", p.period.is_some())?;
                    forbid("duty", p.duty.is_some())?;
                    PhaseKind::Outage {
                        fail_after: p.fail_after,
                    }
                } else {
                    let period = p.period.ok_or_else(|| {
                        fail(
                            at("period"),
                            "missing: kind = \"flapping\" needs period (e.g. \"4s\")".to_owned(),
                        )
                    })?;
                    if period < Duration::from_millis(1) {
                        return Err(fail(
                            at("period"),
                            format!("must be at least 1ms, got {}", fmt_duration(period)),
                        ));
                    }
                    let duty = p.duty.ok_or_else(|| {
                        fail(
                            at("duty"),
                            "missing: kind = \"flapping\" needs duty (the share of each period spent down)"
                                .to_owned(),
                        )
                    })?;
                    if !(duty.is_finite() && duty > 0.0 && duty < 1.0) {
                        return Err(fail(at("duty"), format!("must be in (0, 1), got {duty}")));
                    }
                    PhaseKind::Flapping {
                        period,
                        duty,
                        fail_after: p.fail_after,
                    }
                }
            }
        };
        phases.push((
            i,
            Phase {
                start: p.start,
                end: p.end,
                kind,
            },
        ));
    }
    phases.sort_by_key(|(i, p)| (p.start, *i));
    for w in phases.windows(2) {
        let ((i, a), (j, b)) = (&w[0], &w[1]);
        if b.start < a.end {
            let later = (*i).max(*j);
            let (other, other_phase) = if later == *i { (*j, b) } else { (*i, a) };
            return Err(fail(
                vec![
                    Seg::Key("phases".to_owned()),
                    Seg::Index(later),
                    Seg::Key("start".to_owned()),
                ],
                format!(
                    "overlaps phases[{other}] ({} to {})",
                    fmt_duration(other_phase.start),
                    fmt_duration(other_phase.end)
                ),
            ));
        }
    }

    // Policy.
    let given = [raw.policy.is_some(), raw.policy_file.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(fail(
            path(&["policy_file"]),
            "give either a [policy] table or policy_file, not both".to_owned(),
        ));
    }
    let (policy, policy_source) = if raw.policy.is_some() {
        (
            doc.deserialize::<Policy>(&path(&["policy"]))?,
            "inline".to_owned(),
        )
    } else if let Some(file) = &raw.policy_file {
        let full: PathBuf = match dir {
            Some(d) => d.join(file),
            None => PathBuf::from(file),
        };
        let text = std::fs::read_to_string(&full).map_err(|e| {
            fail(
                path(&["policy_file"]),
                format!("cannot read {}: {}", full.display(), io_reason(&e)),
            )
        })?;
        let policy = Policy::from_toml(&text).map_err(|e| {
            Failure::Elsewhere(match e.position() {
                Some(_) => format!("{}:{e}", full.display()),
                None => format!("{}: {e}", full.display()),
            })
        })?;
        (policy, full.display().to_string())
    } else {
        (Policy::default(), "default".to_owned())
    };

    let compare = compare_policies(doc, raw.policy.is_some())?;

    let experiment = match &raw.experiment {
        None => None,
        Some(e) => {
            if e.start >= e.end {
                return Err(fail(
                    path(&["experiment", "end"]),
                    format!(
                        "must be after experiment.start ({}), got {}",
                        fmt_duration(e.start),
                        fmt_duration(e.end)
                    ),
                ));
            }
            if e.end > load.duration {
                return Err(fail(
                    path(&["experiment", "end"]),
                    format!(
                        "must be within the load's duration ({}), got {}",
                        fmt_duration(load.duration),
                        fmt_duration(e.end)
                    ),
                ));
            }
            if policy.chaos().is_none() {
                return Err(fail(
                    path(&["experiment"]),
                    "an experiment needs a policy with chaos, e.g. chaos = { fault_rate = 0.3 }"
                        .to_owned(),
                ));
            }
            Some(Experiment {
                start: e.start,
                end: e.end,
            })
        }
    };
    Ok(Scenario {
        name: raw.name.unwrap_or_else(|| "downstream".to_owned()),
        description: raw.description,
        seed: raw.seed.unwrap_or(1),
        policy,
        policy_source,
        load,
        baseline,
        capacity,
        phases: phases.into_iter().map(|(_, p)| p).collect(),
        policy_label: raw.policy_label,
        compare,
        experiment,
        replay: None,
    })
}

/// The `[compare.<label>]` policies, in file order: each table's keys over `[policy]`'s,
/// validated as a whole policy, errors at their place in the file.
fn compare_policies(
    doc: &Document<'_>,
    has_policy: bool,
) -> Result<Vec<(String, Policy)>, Failure> {
    use toml::de::DeValue;
    let Some(compare) = doc.get(&path(&["compare"])) else {
        return Ok(Vec::new());
    };
    let DeValue::Table(labels) = compare.get_ref() else {
        return Err(Failure::Here(doc.at(
            &path(&["compare"]),
            "must be a table of policies by label: [compare.<label>]",
        )));
    };
    if !has_policy {
        return Err(Failure::Here(doc.at(
            &path(&["compare"]),
            "compares against an inline [policy]: give one (not policy_file)",
        )));
    }
    let base = match doc.get(&path(&["policy"])).map(|p| p.get_ref()) {
        Some(DeValue::Table(t)) => t.clone(),
        _ => return Err(Failure::Here(doc.at(&path(&["policy"]), "must be a table"))),
    };
    let mut entries: Vec<_> = labels.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    let mut out = Vec::with_capacity(entries.len());
    for (label, over) in entries {
        let at = vec![
            Seg::Key("compare".to_owned()),
            Seg::Key(label.get_ref().to_string()),
        ];
        let DeValue::Table(keys) = over.get_ref() else {
            return Err(Failure::Here(doc.at(&at, "must be a table of policy keys")));
        };
        let mut merged = base.clone();
        for (k, v) in keys.iter() {
            merged.insert(k.clone(), v.clone());
        }
        let merged = toml::Spanned::new(over.span(), DeValue::Table(merged));
        let policy: Policy = doc.deserialize_value(merged, &at)?;
        out.push((label.get_ref().to_string(), policy));
    }
    Ok(out)
}

fn kind_str(k: KindFile) -> &'static str {
    match k {
        KindFile::Healthy => "healthy",
        KindFile::Errors => "errors",
        KindFile::Outage => "outage",
        KindFile::Brownout => "brownout",
        KindFile::Flapping => "flapping",
    }
}

fn latency(
    doc: &Document<'_>,
    l: Option<LatencyFile>,
    keys: &[&str],
) -> Result<Option<Latency>, Failure> {
    latency_at(doc, l, path(keys))
}

fn latency_at(
    doc: &Document<'_>,
    l: Option<LatencyFile>,
    at: Vec<Seg>,
) -> Result<Option<Latency>, Failure> {
    let Some(l) = l else { return Ok(None) };
    let field = |k: &str| {
        let mut p = at.clone();
        p.push(Seg::Key(k.to_owned()));
        p
    };
    if l.p50.is_zero() {
        return Err(Failure::Here(
            doc.at(&field("p50"), "must be greater than 0s"),
        ));
    }
    if l.p99 < l.p50 {
        return Err(Failure::Here(doc.at(
            &field("p99"),
            format!(
                "must be at least p50 ({}), got {}",
                fmt_duration(l.p50),
                fmt_duration(l.p99)
            ),
        )));
    }
    if l.p99 > Duration::from_secs(3600) {
        return Err(Failure::Here(doc.at(
            &field("p99"),
            format!("must be at most 1h, got {}", fmt_duration(l.p99)),
        )));
    }
    Ok(Some(Latency {
        p50: l.p50,
        p99: l.p99,
    }))
}

fn share(doc: &Document<'_>, v: Option<f64>, at: Vec<Seg>) -> Result<Option<f64>, Failure> {
    match v {
        Some(r) if !(r.is_finite() && (0.0..=1.0).contains(&r)) => Err(Failure::Here(
            doc.at(&at, format!("must be in [0, 1], got {r}")),
        )),
        v => Ok(v),
    }
}

/// The policy `--compare` names: a policy file, or, if there is no file of that name, a preset.
///
/// # Errors
///
/// One line: what [`load_policy`] says of a file; for a missing file whose name could be a
/// preset's (no directory, no extension), that it is neither, with the presets' names.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use fusebox_cli::scenario::policy_or_preset;
/// assert!(policy_or_preset(Path::new("aggressive")).is_ok());
/// let err = policy_or_preset(Path::new("agressive")).unwrap_err();
/// assert!(err.starts_with("--compare: \"agressive\" is neither a policy file nor a preset"));
/// assert!(err.ends_with("\"aggressive\", \"lenient\""));
/// assert_eq!(
///     policy_or_preset(Path::new("/no/such.toml")).unwrap_err(),
///     "/no/such.toml: cannot read: no such file"
/// );
/// ```
pub fn policy_or_preset(arg: &Path) -> Result<Policy, String> {
    if arg.exists() {
        return load_policy(arg);
    }
    let name = arg.to_string_lossy();
    if Policy::preset_names().contains(&name.as_ref()) {
        return Policy::preset(&name).map_err(|e| format!("--compare: {e}"));
    }
    let bare = arg.components().count() == 1 && arg.extension().is_none();
    if bare {
        let presets: Vec<String> = Policy::preset_names()
            .iter()
            .map(|n| format!("{n:?}"))
            .collect();
        return Err(format!(
            "--compare: {name:?} is neither a policy file nor a preset; the presets are {}",
            presets.join(", ")
        ));
    }
    load_policy(arg)
}

/// Reads a policy file (the policy schema of the API, presets included).
///
/// # Errors
///
/// One line: `file:line:col: field: reason`, or `file: cannot read: reason`.
///
/// # Examples
///
/// ```
/// let err = fusebox_cli::scenario::load_policy(std::path::Path::new("/no/such.toml")).unwrap_err();
/// assert_eq!(err, "/no/such.toml: cannot read: no such file");
/// ```
pub fn load_policy(file: &Path) -> Result<Policy, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("{}: cannot read: {}", file.display(), io_reason(&e)))?;
    Policy::from_toml(&text).map_err(|e| match e.position() {
        Some(_) => format!("{}:{e}", file.display()),
        None => format!("{}: {e}", file.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Scenario::from_toml(text, "s.toml", None).unwrap_err()
    }

    const LOAD: &str = "[load]\ncalls_per_sec = 10\nduration = \"10s\"\n";

    #[test]
    fn builtin_is_valid() {
        let s = Scenario::builtin();
        assert_eq!(s.phases.len(), 3);
        assert_eq!(s.policy_source, "inline");
        assert_eq!(s.load.duration, Duration::from_secs(60));
    }

    #[test]
    fn impossible_scenarios_are_refused() {
        assert_eq!(
            err("[load]\ncalls_per_sec = 10\nduration = \"0s\"\n"),
            "s.toml:3:12: load.duration: must be in (0s, 24h], got 0s"
        );
        let overlapping = format!(
            "{LOAD}[[phases]]\nkind = \"outage\"\nstart = \"1s\"\nend = \"5s\"\n\
             [[phases]]\nkind = \"outage\"\nstart = \"4s\"\nend = \"6s\"\n"
        );
        assert_eq!(
            err(&overlapping),
            "s.toml:10:9: phases[1].start: overlaps phases[0] (1s to 5s)"
        );
        let late = format!("{LOAD}[[phases]]\nkind = \"outage\"\nstart = \"1s\"\nend = \"15s\"\n");
        assert_eq!(
            err(&late),
            "s.toml:7:7: phases[0].end: must be at most load.duration (10s), got 15s"
        );
        let flapping = format!(
            "{LOAD}[[phases]]\nkind = \"flapping\"\nstart = \"1s\"\nend = \"5s\"\nperiod = \"1s\"\n"
        );
        assert!(err(&flapping).contains("phases[0].duty: missing"));
        assert!(err("[load]\nduration = \"1s\"\n").contains("load.calls_per_sec: missing"));
        assert!(
            err(&format!("{LOAD}[policy]\nmin_calls = 0\n"))
                .starts_with("s.toml:5:13: policy.min_calls: must be")
        );
        assert_eq!(
            err(&format!("bogus = 1\n{LOAD}")),
            "s.toml:1:1: bogus: unknown key; expected one of `name`, `description`, `seed`, \
             `policy_file`, `policy_label`, `policy`, `compare`, `load`, `downstream`, `phases`, \
             `experiment`"
        );
        assert!(
            err(&format!("{LOAD}bogus = 1\n")).starts_with("s.toml:4:1: load.bogus: unknown key")
        );
    }

    #[test]
    fn behaviour_follows_the_phases() {
        let text = format!(
            "{LOAD}[[phases]]\nkind = \"flapping\"\nstart = \"2s\"\nend = \"6s\"\nperiod = \"1s\"\nduty = 0.25\n"
        );
        let s = Scenario::from_toml(&text, "s", None).unwrap();
        let down = |ms| {
            matches!(
                s.behaviour_at(Duration::from_millis(ms)),
                Behaviour::Down { .. }
            )
        };
        assert!(!down(1999));
        assert!(down(2000));
        assert!(down(2249));
        assert!(!down(2250));
        assert!(down(3100));
        assert!(!down(6000));
    }
}
