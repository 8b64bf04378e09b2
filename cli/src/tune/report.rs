//! What `fusebox tune` prints: what was searched, the Pareto front as a table with the
//! starting and recommended policies marked, and the recommended policy as TOML.

use std::fmt::Write as _;

use super::{Candidate, Tuning, space};
use crate::scenario::fmt_duration;

/// The recommended policy as a policy file: a comment saying where it came from, then every
/// key (`fusebox check` accepts it).
///
/// ```
/// use fusebox_cli::{scenario::Scenario, tune::{tune, report, Objective, TuneOptions}};
/// let t = tune(&Scenario::builtin(), TuneOptions { budget: 4, seed: 1, objective: Objective::Calls })?;
/// let toml = report::policy_file(&t);
/// assert!(fusebox::Policy::from_toml(&toml).is_ok());
/// # Ok::<(), String>(())
/// ```
pub fn policy_file(t: &Tuning) -> String {
    let best = t.best();
    format!(
        "# Recommended by fusebox tune for \"{}\" (search seed {}, {} candidates):\n# failed {}, healthy rejected {}, caller time lost {}.\n{}",
        t.scenario.name,
        t.options.seed,
        t.candidates.len(),
        best.score.failed,
        best.score.healthy_rejected,
        fmt_duration(best.score.caller_time),
        best.policy.to_toml()
    )
}

/// At most this many rows of the front are printed (the chart has them all).
const FRONT_ROWS: usize = 20;

/// The front's rows to print: all of them, or [`FRONT_ROWS`] evenly spaced along it with
/// both ends and the starting and recommended candidates kept, in front order.
fn shown_front(t: &Tuning) -> Vec<usize> {
    let n = t.front.len();
    if n <= FRONT_ROWS {
        return t.front.clone();
    }
    let mut keep: Vec<usize> = (0..FRONT_ROWS)
        .map(|k| k * (n - 1) / (FRONT_ROWS - 1))
        .collect();
    for (pos, i) in t.front.iter().enumerate() {
        if (*i == 0 || *i == t.recommended) && !keep.contains(&pos) {
            keep.push(pos);
        }
    }
    keep.sort_unstable();
    keep.dedup();
    keep.into_iter().map(|pos| t.front[pos]).collect()
}

fn objective_cell(t: &Tuning, c: &Candidate) -> String {
    match t.options.objective {
        super::Objective::Time => fmt_duration(std::time::Duration::from_secs_f64(
            c.score.objective.max(0.0),
        )),
        _ => format!("{:.1}", c.score.objective),
    }
}

/// The text report; `chart` is where the chart was written, if it was.
///
/// ```
/// use fusebox_cli::{scenario::Scenario, tune::{tune, report, Objective, TuneOptions}};
/// let t = tune(&Scenario::builtin(), TuneOptions { budget: 4, seed: 1, objective: Objective::Time })?;
/// let out = report::text(&t, None);
/// assert!(out.contains("Pareto front"));
/// assert!(out.contains("recommended policy"));
/// # Ok::<(), String>(())
/// ```
pub fn text(t: &Tuning, chart: Option<&str>) -> String {
    let mut out = String::new();
    let s = &t.scenario;
    let _ = writeln!(
        out,
        "fusebox tune: \"{}\"{}, starting from policy ({})",
        s.name,
        s.description
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default(),
        s.policy_source
    );
    let _ = writeln!(
        out,
        "searched (every other key as the starting policy has it):"
    );
    for line in space::describe() {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(
        out,
        "{} candidates simulated: the starting policy, {} drawn at random, {} near the best so far ({} draws discarded: invalid or repeated); search seed {}",
        t.candidates.len(),
        t.drawn.0,
        t.drawn.1,
        t.discarded,
        t.options.seed
    );
    let _ = writeln!(
        out,
        "{:.1} s on {} thread{}: {:.1} simulations per second per core",
        t.elapsed.as_secs_f64(),
        t.threads,
        if t.threads == 1 { "" } else { "s" },
        t.rate_per_core()
    );
    let _ = writeln!(
        out,
        "objective: {}",
        t.options.objective.describe(t.healthy_call)
    );

    let _ = writeln!(
        out,
        "\nPareto front: failed calls sent vs healthy calls rejected ({} of {} candidates{}; S = starting, R = recommended)",
        t.front.len(),
        t.candidates.len(),
        if t.front.len() > FRONT_ROWS {
            format!(", {FRONT_ROWS} shown evenly along it")
        } else {
            String::new()
        }
    );
    let mut rows: Vec<[String; 6]> = vec![[
        "".into(),
        "failed".into(),
        "healthy rejected".into(),
        "caller time lost".into(),
        "objective".into(),
        "policy".into(),
    ]];
    let front = shown_front(t);
    let mut shown = front.clone();
    for i in [0, t.recommended] {
        if !t.front.contains(&i) && !shown.contains(&i) {
            shown.push(i);
        }
    }
    for &i in &shown {
        let c = &t.candidates[i];
        let mark = match (i == 0, i == t.recommended) {
            (true, true) => "S R",
            (true, false) => "S",
            (false, true) => "R",
            _ => "",
        };
        rows.push([
            mark.to_owned(),
            c.score.failed.to_string(),
            c.score.healthy_rejected.to_string(),
            fmt_duration(c.score.caller_time),
            objective_cell(t, c),
            space::summary(&c.policy),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|col| {
            rows.iter()
                .map(|r| r[col].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (n, r) in rows.iter().enumerate() {
        if n == 1 + front.len() {
            let _ = writeln!(out, "  (not on the front)");
        }
        let _ = writeln!(
            out,
            "  {:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}  {:>w4$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4],
        );
    }

    let start = t.start();
    let best = t.best();
    let _ = writeln!(out);
    let dominated = t.dominating(start);
    let _ = writeln!(
        out,
        "starting policy: failed {}, healthy rejected {}, objective {}; {}",
        start.score.failed,
        start.score.healthy_rejected,
        objective_cell(t, start),
        if dominated == 0 {
            "on the front".to_owned()
        } else {
            format!("{dominated} candidates beat it on both")
        }
    );
    if t.recommended == 0 {
        let _ = writeln!(
            out,
            "recommended: keep the starting policy (no candidate does better on the objective)"
        );
    } else {
        let gain = if start.score.objective > 0.0 {
            format!(
                " ({:.1}% lower)",
                (1.0 - best.score.objective / start.score.objective) * 100.0
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "recommended: candidate {}: failed {}, healthy rejected {}, objective {}{gain}",
            best.index,
            best.score.failed,
            best.score.healthy_rejected,
            objective_cell(t, best),
        );
    }
    if let Some(path) = chart {
        let _ = writeln!(out, "chart: {path}");
    }
    let _ = writeln!(out, "\nrecommended policy:");
    out.push_str(&policy_file(t));
    out
}
