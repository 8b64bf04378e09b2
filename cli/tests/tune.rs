//! `fusebox tune`: the front, a recommendation never worse than the start, a policy file
//! `fusebox check` accepts, determinism for a seed, and one-line errors.

mod common;

use common::{fusebox, output, scratch};
use fusebox_cli::scenario::Scenario;
use fusebox_cli::tune::{Objective, TuneOptions, tune};

/// The report without the line that says how long the search took.
fn without_timing(out: &str) -> String {
    out.lines()
        .filter(|l| !l.contains("simulations per second per core"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_recommendation_is_never_worse_than_the_start_on_its_objective() {
    let s = Scenario::builtin();
    for objective in [
        Objective::Time,
        Objective::Calls,
        Objective::Weights {
            failed: 0.0,
            rejected: 1.0,
        },
    ] {
        for seed in [1, 2] {
            let t = tune(
                &s,
                TuneOptions {
                    budget: 40,
                    seed,
                    objective,
                },
            )
            .expect("tunes");
            assert_eq!(t.candidates.len(), 40);
            assert_eq!(t.start().policy, s.policy, "candidate 0 is the start");
            assert!(t.best().score.objective <= t.start().score.objective);
            // The front: sorted by failed, strictly falling healthy rejections, nobody beats it.
            for w in t.front.windows(2) {
                let (a, b) = (&t.candidates[w[0]].score, &t.candidates[w[1]].score);
                assert!(a.failed <= b.failed && a.healthy_rejected > b.healthy_rejected);
            }
            for &i in &t.front {
                assert_eq!(t.dominating(&t.candidates[i]), 0);
            }
        }
    }
}

#[test]
fn tune_prints_the_front_and_writes_a_policy_check_accepts() {
    let dir = scratch("tune");
    let run = || {
        output(fusebox().current_dir(&dir).args([
            "tune",
            "--budget",
            "60",
            "--seed",
            "7",
            "--write",
            "tuned.toml",
            "--chart",
            "front.svg",
        ]))
    };
    let (out, err, code) = run();
    assert_eq!(code, Some(0), "{err}");
    for expected in [
        "60 candidates simulated",
        "Pareto front",
        "starting policy: failed",
        "recommended",
        "chart: front.svg",
        "failure_rate_threshold = ",
    ] {
        assert!(out.contains(expected), "no {expected:?} in\n{out}");
    }
    let svg = std::fs::read_to_string(dir.join("front.svg")).expect("chart written");
    assert!(svg.contains("Pareto front") && svg.contains("starting policy"));
    let (check, err, code) = output(fusebox().current_dir(&dir).args(["check", "tuned.toml"]));
    assert_eq!(code, Some(0), "{check}{err}");
    assert!(check.contains("tuned.toml: ok"), "{check}");
    let written = std::fs::read_to_string(dir.join("tuned.toml")).expect("policy written");
    assert!(
        out.ends_with(&written),
        "the printed policy is the written one"
    );

    let (again, _, _) = run();
    assert_eq!(
        without_timing(&out),
        without_timing(&again),
        "same seed, same search"
    );
}

#[test]
fn tune_on_a_replayed_recording() {
    let dir = scratch("tune-replay");
    let (_, err, code) = output(fusebox().current_dir(&dir).args([
        "simulate",
        "--no-chart",
        "--record",
        "rec.jsonl",
    ]));
    assert_eq!(code, Some(0), "{err}");
    let (out, err, code) = output(fusebox().current_dir(&dir).args([
        "tune",
        "--replay",
        "rec.jsonl",
        "--policy",
        "lenient",
        "--budget",
        "20",
        "--objective",
        "calls",
        "--no-chart",
    ]));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("replay of rec.jsonl"), "{out}");
    assert!(out.contains("starting from policy (lenient)"), "{out}");
    assert!(out.contains("objective: calls"), "{out}");
}

#[test]
fn bad_options_are_one_line_errors() {
    let dir = scratch("tune-errors");
    std::fs::write(dir.join("empty.jsonl"), "").expect("written");
    for (args, expected) in [
        (vec!["--budget", "0"], "--budget: must be between 1"),
        (vec!["--objective", "speed"], "--objective: expected time"),
        (
            vec!["--objective", "failed=-1,rejected=1"],
            "--objective: expected",
        ),
        (vec!["--replay", "empty.jsonl"], "has no calls"),
        (vec!["--policy", "no-such-preset"], "no-such-preset"),
    ] {
        let (out, err, code) = output(
            fusebox()
                .current_dir(&dir)
                .arg("tune")
                .arg("--no-chart")
                .args(&args),
        );
        assert_eq!(code, Some(1), "{args:?}: {out}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}
