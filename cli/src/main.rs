//! The `fusebox` binary: see `fusebox --help`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use fusebox_cli::remote::{Action, Endpoint};
use fusebox_cli::serve::ServeOptions;
use fusebox_cli::{report, scenario::Scenario, sim};

#[derive(Parser)]
#[command(
    name = "fusebox",
    version,
    about = "Circuit breakers you can try before you deploy them",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a failure scenario on a virtual clock: a breaker against no breaker.
    Simulate(SimulateArgs),
    /// Search thresholds on a scenario or a replayed recording: the Pareto front of failed
    /// calls against healthy calls rejected, and the recommended policy as TOML.
    ///
    /// Each candidate is simulated on the same scenario with the same draws, in parallel
    /// across cores; the same --seed gives the same search. The starting policy (the
    /// scenario's, or --policy) is a candidate, so the recommendation never does worse than
    /// it on the objective.
    Tune(TuneArgs),
    /// Validate policy files and registry config files.
    Check(CheckArgs),
    /// Hammer breakers from real threads on the real clock, then check the books.
    ///
    /// Prints the calls made and the calls per second (all threads, the whole loop: drawing
    /// each call's input and counting its result too), the time per call of
    /// `breaker.call_with` on a trivial closure, and each breaker's counts against its
    /// `metrics()`; exits 1 if any count differs.
    ///
    /// One call costs about as much as a clock read, so calls are not timed one by one: each
    /// thread times batches of 256 calls made back to back. The mean and the percentiles are of
    /// each batch's time divided by 256, all over the same batches; a percentile is of these
    /// batch averages, not of single calls. The two clock reads around a batch are included;
    /// their cost per call is printed.
    Stress(StressArgs),
    /// Host breakers from a registry config file behind the operator endpoint and dashboard.
    ///
    /// Prints `listening on http://ADDR` first. SIGHUP reloads the file (all or nothing);
    /// SIGTERM or Ctrl-C stops the server.
    Serve(ServeArgs),
    /// Show a live endpoint's breakers as a table.
    Status(EndpointArgs),
    /// Force a breaker open on a live endpoint: every call rejected until reset (or the ttl).
    ForceOpen(ActionArgs),
    /// Disable a breaker on a live endpoint: every call admitted, nothing recorded.
    Disable(ActionArgs),
    /// Put a breaker in metrics-only mode on a live endpoint: every call admitted, recorded.
    MetricsOnly(ActionArgs),
    /// Reset a breaker on a live endpoint: closed, its window emptied.
    Reset(ActionArgs),
    /// Apply a registry config file to a live endpoint, all or nothing.
    Apply(ApplyArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// The registry config file: `[defaults]`, `[breakers."name"]`, `[health]`, `[notify]`.
    config: PathBuf,
    /// The address to listen on; port 0 picks a free one. Without a token only a loopback
    /// address is accepted.
    #[arg(long, default_value = "127.0.0.1:9000", value_name = "ADDR")]
    bind: std::net::SocketAddr,
    /// A file holding the admin token (may read and change everything).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// A file holding the read token (may only read).
    #[arg(long, value_name = "FILE")]
    read_token_file: Option<PathBuf>,
    /// Drive simulated traffic (the built-in scenario's downstream) through the breakers.
    #[arg(long)]
    demo: bool,
    /// Share transitions and fleet-scoped overrides with other instances through this Redis
    /// (redis://host:port).
    #[arg(long, value_name = "URL")]
    redis: Option<String>,
    /// The fleet's namespace in Redis: instances with the same one are one fleet.
    #[arg(long, default_value = "default", requires = "redis")]
    namespace: String,
    /// This instance's id in the fleet (default: host name and process id).
    #[arg(long, value_name = "ID", requires = "redis")]
    instance: Option<String>,
}

#[derive(Args)]
struct EndpointArgs {
    /// The endpoint's base URL.
    #[arg(long, default_value = "http://127.0.0.1:9000")]
    url: String,
    /// A file holding the token to present.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
}

impl EndpointArgs {
    fn endpoint(&self) -> Endpoint {
        Endpoint {
            url: self.url.clone(),
            token_file: self.token_file.clone(),
        }
    }
}

#[derive(Args)]
struct ActionArgs {
    /// The breaker's name.
    name: String,
    /// Undo the action by itself after this long (e.g. 10m): a maintenance window.
    #[arg(long)]
    ttl: Option<String>,
    /// Why, for the breaker's history.
    #[arg(long)]
    note: Option<String>,
    /// `fleet`: on every instance of the fleet (the endpoint's service must be connected to
    /// one, e.g. `fusebox serve --redis`); `local` (the default): this instance only.
    #[arg(long, default_value = "local", value_parser = ["local", "fleet"])]
    scope: String,
    #[command(flatten)]
    endpoint: EndpointArgs,
}

#[derive(Args)]
struct ApplyArgs {
    /// The registry config file.
    file: PathBuf,
    #[command(flatten)]
    endpoint: EndpointArgs,
}

/// A recording to replay, for `simulate` and `tune`.
#[derive(Args)]
struct RecordingArgs {
    /// Replay a recording (JSON Lines, one call per line) instead of a scenario: its arrivals
    /// as recorded, its downstream second by second as the admitted calls saw it.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// The breaker to replay, when the recording holds several.
    #[arg(long, value_name = "NAME", requires = "replay")]
    breaker: Option<String>,
    /// Skip lines of the recording that are not recorded calls (counted in the report)
    /// instead of stopping at the first.
    #[arg(long, requires = "replay")]
    skip_bad_lines: bool,
}

impl RecordingArgs {
    /// The recording replayed as a scenario, with `policy` (a file or preset; the default
    /// policy without one); `None` without `--replay`.
    fn scenario(&self, policy: Option<&std::path::Path>) -> Result<Option<Scenario>, String> {
        use fusebox_cli::replay::{BadLines, Replay};
        let Some(file) = &self.replay else {
            return Ok(None);
        };
        let bad = if self.skip_bad_lines {
            BadLines::Skip
        } else {
            BadLines::Stop
        };
        let replay = Replay::load(file, self.breaker.as_deref(), bad)?;
        let (policy, source) = match policy {
            Some(path) => (
                fusebox_cli::scenario::policy_or_preset(path)?,
                path.display().to_string(),
            ),
            None => (fusebox::Policy::default(), "default".to_owned()),
        };
        Ok(Some(replay.into_scenario(policy, source, 1)))
    }
}

#[derive(Args)]
struct TuneArgs {
    /// The scenario file (TOML); without one (and without --replay), the built-in scenario.
    #[arg(conflicts_with_all = ["named", "replay"], value_name = "SCENARIO.toml")]
    scenario: Option<PathBuf>,
    /// A built-in scenario by name: payments, overload, chaos.
    #[arg(long = "scenario", value_name = "NAME", conflicts_with = "replay")]
    named: Option<String>,
    #[command(flatten)]
    recording: RecordingArgs,
    /// The starting policy (file or preset) instead of the scenario's (a replay's default:
    /// the default policy).
    #[arg(long, value_name = "POLICY.toml|PRESET")]
    policy: Option<PathBuf>,
    /// Candidates to simulate, the starting policy included.
    #[arg(long, default_value_t = 200)]
    budget: usize,
    /// The seed of the search's draws.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How to weigh failed calls against healthy calls rejected: `time` (caller time lost),
    /// `calls` (one each), or `failed=W1,rejected=W2`.
    #[arg(long, default_value = "time")]
    objective: String,
    /// Also write the recommended policy to FILE.
    #[arg(long, value_name = "FILE")]
    write: Option<PathBuf>,
    /// Where to write the chart (SVG); by default fusebox-tune.svg in the temp directory.
    #[arg(long, value_name = "OUT.svg")]
    chart: Option<PathBuf>,
    /// Write no chart.
    #[arg(long, conflicts_with = "chart")]
    no_chart: bool,
}

#[derive(Args)]
struct CheckArgs {
    /// Policy files, registry config files (with `[defaults]` or `[breakers."name"]`), or
    /// simulate scenarios (with `[load]`).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

#[derive(Args)]
struct StressArgs {
    /// Threads calling (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// How many breakers the calls are spread over.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    breakers: u32,
    /// The share of calls that fail outside outages.
    #[arg(long, default_value_t = 0.05)]
    failure_rate: f64,
    /// The share of the other calls reported as ignored (neither success nor failure).
    #[arg(long, default_value_t = 0.01)]
    ignore_rate: f64,
    /// Every EVERY, fail all calls for FOR ("1s/200ms"), or "none".
    #[arg(long, default_value = "1s/200ms", value_name = "EVERY/FOR")]
    outage: String,
    /// The breakers' policy file (default: trips in an outage, recovers in ~200ms).
    #[arg(long, value_name = "POLICY.toml")]
    policy: Option<PathBuf>,
}

#[derive(Args)]
struct SimulateArgs {
    /// The scenario file (TOML); without one, the built-in payment-API scenario. With
    /// `--replay`: the policy file (or preset) to replay the recording with (default: the
    /// default policy).
    #[arg(conflicts_with = "named", value_name = "SCENARIO.toml|POLICY.toml")]
    scenario: Option<PathBuf>,
    /// A built-in scenario by name (`--scenario list` shows them): payments, overload, chaos.
    #[arg(long = "scenario", value_name = "NAME", conflicts_with = "replay")]
    named: Option<String>,
    #[command(flatten)]
    recording: RecordingArgs,
    /// Also write the calls of the first policy's run to FILE, as a recording (JSON Lines).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Overrides the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Run this policy file, or preset (http-api, database, payment-provider, aggressive,
    /// lenient), too, side by side with the scenario's policy.
    #[arg(long, value_name = "POLICY.toml|PRESET")]
    compare: Option<PathBuf>,
    /// Where to write the chart (SVG); by default fusebox-simulate.svg in the temp directory.
    #[arg(long, value_name = "OUT.svg")]
    chart: Option<PathBuf>,
    /// Write no chart.
    #[arg(long, conflicts_with = "chart")]
    no_chart: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Print the built-in scenario's TOML (or that of `--scenario NAME`), to start your own
    /// from it, and exit.
    #[arg(long)]
    print_builtin: bool,
}

fn main() -> ExitCode {
    // A bug must still read as one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".to_owned());
        eprintln!("error: internal error: {msg}");
    }));
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Simulate(args) => simulate(args).map(|out| (out, true)),
        Command::Tune(args) => tune(args).map(|out| (out, true)),
        Command::Check(args) => Ok(check(&args)),
        Command::Stress(args) => stress(&args),
        Command::Serve(args) => serve(args).map(|()| (String::new(), true)),
        Command::Status(args) => remote(args.endpoint().status()).map(|out| (out, true)),
        Command::ForceOpen(args) => act(args, Action::ForceOpen),
        Command::Disable(args) => act(args, Action::Disable),
        Command::MetricsOnly(args) => act(args, Action::MetricsOnly),
        Command::Reset(args) => act(args, Action::Reset),
        Command::Apply(args) => {
            let endpoint = args.endpoint.endpoint();
            remote(async move { endpoint.apply(&args.file).await })
        }
    };
    match result {
        Ok((out, ok)) => {
            write_stdout(&out);
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check(args: &CheckArgs) -> (String, bool) {
    let mut out = String::new();
    let mut ok = true;
    for file in &args.files {
        match fusebox_cli::check::check_file(file) {
            Err(e) => {
                eprintln!("error: {e}");
                ok = false;
            }
            Ok(report) if report.problems.is_empty() && report.elsewhere.is_empty() => {
                // Warnings do not fail the file: printed before its `ok`.
                for d in &report.warnings {
                    out.push_str(&format!("{}:{d}\n", file.display()));
                }
                let what = match report.kind {
                    fusebox_cli::check::FileKind::Registry => format!(
                        "registry config, {} breaker section{}",
                        report.breakers,
                        if report.breakers == 1 { "" } else { "s" }
                    ),
                    kind => kind.describe().to_owned(),
                };
                out.push_str(&format!("{}: ok ({what})\n", file.display()));
            }
            Ok(report) => {
                ok = false;
                let mut lines: Vec<_> = report.problems.iter().chain(&report.warnings).collect();
                lines.sort_by_key(|d| (d.line, d.column));
                for d in lines {
                    out.push_str(&format!("{}:{d}\n", file.display()));
                }
                for line in &report.elsewhere {
                    out.push_str(&format!("{line}\n"));
                }
            }
        }
    }
    (out, ok)
}

fn stress(args: &StressArgs) -> Result<(String, bool), String> {
    if !(args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= 3600.0) {
        return Err(format!(
            "--seconds: must be in (0, 3600], got {}",
            args.seconds
        ));
    }
    for (name, v) in [
        ("--failure-rate", args.failure_rate),
        ("--ignore-rate", args.ignore_rate),
    ] {
        if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
            return Err(format!("{name}: must be in [0, 1], got {v}"));
        }
    }
    let outage = match args.outage.as_str() {
        "none" | "off" => None,
        spec => {
            let parse = |s: &str| {
                humantime::parse_duration(s.trim())
                    .map_err(|e| format!("--outage: {s:?} is not a duration: {e}"))
            };
            let (every, span) = spec.split_once('/').ok_or_else(|| {
                format!(
                    "--outage: expected EVERY/FOR such as \"1s/200ms\", or \"none\", got {spec:?}"
                )
            })?;
            let (every, span) = (parse(every)?, parse(span)?);
            if every.is_zero() || span >= every {
                return Err(format!(
                    "--outage: FOR must be shorter than EVERY and EVERY above 0, got {spec:?}"
                ));
            }
            Some((every, span))
        }
    };
    let policy = match &args.policy {
        Some(p) => fusebox_cli::scenario::load_policy(p)?,
        None => fusebox_cli::stress::StressOptions::default_policy(),
    };
    let threads = args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(2, |n| n.get()),
        |t| t as usize,
    );
    let report = fusebox_cli::stress::run(fusebox_cli::stress::StressOptions {
        threads,
        duration: std::time::Duration::from_secs_f64(args.seconds),
        breakers: args.breakers as usize,
        failure_rate: args.failure_rate,
        ignore_rate: args.ignore_rate,
        outage,
        policy,
        progress: true,
    });
    Ok((fusebox_cli::stress::text(&report), report.balances()))
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(fusebox_cli::serve::run(ServeOptions {
        config: args.config,
        bind: args.bind,
        token_file: args.token_file,
        read_token_file: args.read_token_file,
        demo: args.demo,
        redis: args.redis,
        namespace: args.namespace,
        instance: args.instance,
    }))
}

fn act(args: ActionArgs, action: Action) -> Result<(String, bool), String> {
    let endpoint = args.endpoint.endpoint();
    remote(async move {
        endpoint
            .act(
                &args.name,
                action,
                args.ttl.as_deref(),
                args.note.as_deref(),
                args.scope == "fleet",
            )
            .await
    })
    .map(|out| (out, true))
}

/// Runs one request to a live endpoint.
fn remote<T>(request: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(request)
}

fn write_stdout(s: &str) {
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = stdout.write_all(s.as_bytes());
    let _ = stdout.flush();
}

fn simulate(args: SimulateArgs) -> Result<String, String> {
    if args.named.as_deref() == Some("list") {
        let width = fusebox_cli::scenario::NAMED
            .iter()
            .map(|(n, _, _)| n.len())
            .max()
            .unwrap_or(0);
        return Ok(fusebox_cli::scenario::NAMED
            .iter()
            .map(|(name, what, _)| format!("{name:<width$}  {what}\n"))
            .collect());
    }
    if args.print_builtin {
        return match &args.named {
            Some(name) => fusebox_cli::scenario::named_source(name).map(str::to_owned),
            None => Ok(fusebox_cli::scenario::BUILTIN.to_owned()),
        };
    }
    let replayed = args.recording.scenario(args.scenario.as_deref())?;
    let mut scenario = match (replayed, &args.scenario, &args.named) {
        (Some(replayed), _, _) => replayed,
        (None, Some(path), _) => Scenario::load(path)?,
        (None, None, Some(name)) => Scenario::named(name)?,
        (None, None, None) => Scenario::builtin(),
    };
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    let mut policies = vec![(label_of(&scenario), scenario.policy.clone())];
    policies.extend(scenario.compare.iter().cloned());
    if let Some(path) = &args.compare {
        // A preset's name works too, unless a file of that name exists.
        let p = fusebox_cli::scenario::policy_or_preset(path)?;
        let mut label = path
            .file_stem()
            .map_or("compare".into(), |s| s.to_string_lossy().into_owned());
        if label == policies[0].0 {
            label = format!("{label} (compare)");
        }
        policies.push((label, p));
    }
    let sim = sim::simulate(&scenario, &policies)?;
    if let Some(path) = &args.record {
        let calls = sim::record(&scenario, &policies[0].1)?;
        let mut text = String::with_capacity(calls.len() * 80);
        for call in &calls {
            text.push_str(&call.to_json_line());
            text.push('\n');
        }
        std::fs::write(path, text)
            .map_err(|e| format!("--record: cannot write {}: {e}", path.display()))?;
    }
    let chart = if args.no_chart {
        None
    } else {
        let path = args
            .chart
            .unwrap_or_else(|| std::env::temp_dir().join("fusebox-simulate.svg"));
        fusebox_cli::chart::write(&sim, &path)?;
        Some(path.display().to_string())
    };
    Ok(if args.json {
        report::json(&sim, chart.as_deref())
    } else {
        report::text(&sim, chart.as_deref())
    })
}

fn tune(args: TuneArgs) -> Result<String, String> {
    use fusebox_cli::tune::{self, Objective, TuneOptions};
    let objective = Objective::parse(&args.objective)?;
    let replayed = args.recording.scenario(args.policy.as_deref())?;
    let is_replay = replayed.is_some();
    let mut scenario = match (replayed, &args.scenario, &args.named) {
        (Some(replayed), _, _) => replayed,
        (None, Some(path), _) => Scenario::load(path)?,
        (None, None, Some(name)) => Scenario::named(name)?,
        (None, None, None) => Scenario::builtin(),
    };
    if let (Some(path), false) = (&args.policy, is_replay) {
        scenario.policy = fusebox_cli::scenario::policy_or_preset(path)?;
        scenario.policy_source = path.display().to_string();
    }
    let tuning = tune::tune(
        &scenario,
        TuneOptions {
            budget: args.budget,
            seed: args.seed,
            objective,
        },
    )?;
    if let Some(path) = &args.write {
        std::fs::write(path, tune::report::policy_file(&tuning))
            .map_err(|e| format!("--write: cannot write {}: {e}", path.display()))?;
    }
    let chart = if args.no_chart {
        None
    } else {
        let path = args
            .chart
            .unwrap_or_else(|| std::env::temp_dir().join("fusebox-tune.svg"));
        tune::chart::write(&tuning, &path)?;
        Some(path.display().to_string())
    };
    Ok(tune::report::text(&tuning, chart.as_deref()))
}

fn label_of(s: &Scenario) -> String {
    if let Some(label) = &s.policy_label {
        return label.clone();
    }
    match s.policy_source.as_str() {
        "inline" | "default" => "policy".to_owned(),
        path => std::path::Path::new(path)
            .file_stem()
            .map_or("policy".into(), |s| s.to_string_lossy().into_owned()),
    }
}
