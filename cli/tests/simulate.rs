//! `fusebox simulate`: the built-in scenario, scenario files, --compare, --json, --chart.

mod common;

use common::{fixture, fusebox, output, scratch};
use predicates::prelude::*;

#[test]
fn builtin_scenario_prints_timeline_summary_and_chart_path() {
    let dir = scratch("builtin");
    fusebox()
        .current_dir(&dir)
        .args(["simulate", "--chart", "out.svg"])
        .assert()
        .success()
        .stdout(predicate::str::contains("timeline of breaker \"payments\""))
        .stdout(predicate::str::contains("closed -> open"))
        .stdout(predicate::str::contains("summary"))
        .stdout(predicate::str::contains(
            "calls saved from a failing downstream",
        ))
        .stdout(predicate::str::contains("chart: out.svg"))
        .stderr(predicate::str::is_empty());
    let svg = std::fs::read_to_string(dir.join("out.svg")).expect("chart written");
    assert!(svg.starts_with("<svg"));
    for label in [
        "downstream failure rate",
        "calls per second",
        "breaker state",
        "half-open",
    ] {
        assert!(svg.contains(label), "the chart lacks {label:?}");
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_run() {
    let dir = scratch("seeds");
    let run = |seed: &str, chart: &str| {
        let (out, err, code) = output(
            fusebox()
                .current_dir(&dir)
                .args(["simulate", "--seed", seed, "--chart", chart]),
        );
        assert_eq!(code, Some(0), "{err}");
        (out, std::fs::read(dir.join(chart)).expect("chart"))
    };
    let (a, chart_a) = run("9", "a.svg");
    let (b, chart_b) = run("9", "b.svg");
    assert_eq!(a.replace("a.svg", "b.svg"), b);
    assert_eq!(chart_a, chart_b, "same seed, same chart bytes");
    let (c, _) = run("10", "c.svg");
    assert_ne!(a.replace("a.svg", "c.svg"), c);
    let json =
        |seed: &str| output(fusebox().args(["simulate", "--no-chart", "--json", "--seed", seed])).0;
    assert_eq!(json("3"), json("3"));
}

#[test]
fn scenario_file_with_a_policy_file_and_every_phase_kind() {
    let (out, err, code) = output(fusebox().args([
        "simulate",
        "--no-chart",
        "--json",
        fixture("flapping.toml").to_str().unwrap(),
    ]));
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(v["scenario"]["name"], "inventory");
    assert_eq!(v["scenario"]["seed"], 7);
    let kinds: Vec<&str> = v["scenario"]["downstream"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "baseline", "flapping", "baseline", "errors", "baseline", "outage", "baseline"
        ]
    );
    let run = &v["runs"][0];
    let m = &run["breaker_metrics"];
    assert_eq!(run["admitted"], m["admitted"]);
    assert_eq!(run["succeeded"], m["successes"]);
    assert_eq!(run["failed"], m["failures"]);
    assert_eq!(run["rejected"], m["rejected"]);
    assert_eq!(run["attempted"], v["baseline"]["attempted"]);
    assert_eq!(
        run["attempted"], 3000,
        "100 calls/s, evenly spaced, for 30 s"
    );
    assert!(run["transitions"].as_array().unwrap().len() >= 4);
    assert!(run["saved"].as_u64().unwrap() > 0);
}

#[test]
fn compare_runs_two_policies_side_by_side() {
    let (out, err, code) = output(fusebox().args([
        "simulate",
        "--no-chart",
        "--compare",
        fixture("policy-ok.toml").to_str().unwrap(),
    ]));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("timeline of breaker \"payments\" with policy \"policy\""));
    assert!(out.contains("timeline of breaker \"payments\" with policy \"policy-ok\""));
    let header = out
        .lines()
        .find(|l| l.starts_with("summary"))
        .expect("summary header");
    let columns: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(columns, ["summary", "policy", "policy-ok", "no", "breaker"]);

    // A preset's name works in place of a file.
    fusebox()
        .args(["simulate", "--no-chart", "--compare", "aggressive"])
        .assert()
        .success()
        .stdout(predicate::str::contains("policy \"aggressive\""));
}

#[test]
fn compare_help_names_every_preset() {
    let (out, err, code) = output(fusebox().args(["simulate", "--help"]));
    assert_eq!(code, Some(0), "{err}");
    let help: String = out.split_whitespace().collect::<Vec<_>>().join(" ");
    let names = fusebox::Policy::preset_names().join(", ");
    assert!(help.contains(&format!("preset ({names})")), "{out}");
}

#[test]
fn presets_in_a_scenario_policy() {
    fusebox()
        .args([
            "simulate",
            "--no-chart",
            fixture("preset.toml").to_str().unwrap(),
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("min_calls = 10"))
        .stdout(predicate::str::contains("closed -> open"));
}

#[test]
fn print_builtin_round_trips() {
    let dir = scratch("print-builtin");
    let (toml, _, code) = output(fusebox().args(["simulate", "--print-builtin"]));
    assert_eq!(code, Some(0));
    std::fs::write(dir.join("mine.toml"), &toml).unwrap();
    let (mine, _, code) =
        output(
            fusebox()
                .current_dir(&dir)
                .args(["simulate", "--no-chart", "mine.toml"]),
        );
    assert_eq!(code, Some(0));
    let (builtin, _, _) = output(fusebox().args(["simulate", "--no-chart"]));
    assert_eq!(mine, builtin);
}

#[test]
fn the_default_chart_goes_to_the_temp_dir() {
    let (out, err, code) = output(fusebox().args(["simulate"]));
    assert_eq!(code, Some(0), "{err}");
    let expected = std::env::temp_dir().join("fusebox-simulate.svg");
    assert!(out.contains(&format!("chart: {}", expected.display())));
    assert!(expected.exists());
}

#[test]
fn long_timelines_are_cut_in_text_but_whole_in_json() {
    let dir = scratch("long-timeline");
    std::fs::write(
        dir.join("flappy.toml"),
        "[policy]\nwindow = { count = 10 }\nmin_calls = 5\nopen_timeout = \"100ms\"\n\
         [load]\ncalls_per_sec = 100\nduration = \"60s\"\ntimeout = \"200ms\"\n\
         [[phases]]\nkind = \"flapping\"\nstart = \"1s\"\nend = \"59s\"\nperiod = \"1s\"\nduty = 0.5\n",
    )
    .unwrap();
    let (text, err, code) =
        output(
            fusebox()
                .current_dir(&dir)
                .args(["simulate", "--no-chart", "flappy.toml"]),
        );
    assert_eq!(code, Some(0), "{err}");
    let (json, _, _) = output(fusebox().current_dir(&dir).args([
        "simulate",
        "--no-chart",
        "--json",
        "flappy.toml",
    ]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let n = v["runs"][0]["transitions"].as_array().unwrap().len();
    assert!(n > 40, "{n} transitions");
    assert!(
        text.contains(&format!(
            "... {} more transitions (--json lists them all) ...",
            n - 40
        )),
        "{text}"
    );
    let listed = text.lines().filter(|l| l.contains(" -> ")).count();
    assert_eq!(listed, 40);
}

#[test]
fn scenario_list_names_each_built_in_scenario() {
    let (out, err, code) = output(fusebox().args(["simulate", "--scenario", "list"]));
    assert_eq!(code, Some(0), "{err}");
    let names: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names[..3], ["payments", "overload", "chaos"]);
    let (_, err, code) = output(fusebox().args(["simulate", "--scenario", "nope"]));
    assert_eq!(code, Some(1));
    assert!(err.contains("no scenario named \"nope\""), "{err}");
    assert!(err.contains("payments, overload, chaos"), "{err}");
}

#[test]
fn the_chaos_experiment_trips_the_breaker_only_while_it_runs() {
    let (out, err, code) =
        output(fusebox().args(["simulate", "--scenario", "chaos", "--json", "--no-chart"]));
    assert_eq!(code, Some(0), "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let run = &json["runs"][0];
    assert!(run["failed_injected"].as_u64().unwrap() > 0, "{run}");
    assert_eq!(json["baseline"]["failed_injected"], 0);
    let transitions = run["transitions"].as_array().unwrap();
    let at = |t: &serde_json::Value| t["at_s"].as_f64().unwrap();
    let first_open = transitions
        .iter()
        .find(|t| t["to"] == "open")
        .expect("the injected faults trip the breaker");
    // The experiment runs from 15 s to 35 s: the breaker opens inside it, and ends closed.
    assert!((15.0..35.0).contains(&at(first_open)), "{first_open}");
    let last = transitions.last().unwrap();
    assert_eq!(last["to"], "closed", "{last}");
    assert!(at(last) >= 35.0, "{last}");
}

#[test]
fn an_experiment_window_is_checked() {
    let dir = scratch("experiment");
    let file = dir.join("s.toml");
    let base =
        "[policy]\nchaos = { fault_rate = 0.5 }\n[load]\ncalls_per_sec = 10\nduration = \"10s\"\n";
    std::fs::write(
        &file,
        format!("{base}[experiment]\nstart = \"5s\"\nend = \"20s\"\n"),
    )
    .unwrap();
    let (_, err, code) = output(fusebox().args(["simulate", file.to_str().unwrap(), "--no-chart"]));
    assert_eq!(code, Some(1));
    assert!(
        err.contains("experiment.end: must be within the load's duration"),
        "{err}"
    );
    std::fs::write(
        &file,
        "[load]\ncalls_per_sec = 10\nduration = \"10s\"\n[experiment]\nstart = \"1s\"\nend = \"2s\"\n",
    )
    .unwrap();
    let (_, err, code) = output(fusebox().args(["simulate", file.to_str().unwrap(), "--no-chart"]));
    assert_eq!(code, Some(1));
    assert!(
        err.contains("experiment: an experiment needs a policy with chaos"),
        "{err}"
    );
}

#[test]
fn overload_compares_a_static_bulkhead_with_each_adaptive_limit() {
    let (out, err, code) =
        output(fusebox().args(["simulate", "--scenario", "overload", "--no-chart"]));
    assert_eq!(code, Some(0), "{err}");
    let table: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("comparison"))
        .take(6)
        .collect();
    let labels: Vec<&str> = table[1..]
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        labels,
        ["static", "aimd", "gradient2", "vegas", "no"],
        "{out}"
    );
    let p99 = |label: &str| -> f64 {
        let row = table.iter().find(|l| l.starts_with(label)).unwrap();
        let cell = row.split_whitespace().nth(3).unwrap();
        cell.trim_end_matches("ms").parse().unwrap()
    };
    // Under the spike, a limit that follows latency keeps the served calls' p99 below the
    // static bulkhead's (the simulation is deterministic: this is its result, not a timing).
    assert!(p99("gradient2") < p99("static"), "{out}");
    assert!(p99("vegas") < p99("static"), "{out}");
    assert!(
        out.contains("lowest p99 of served calls: gradient2"),
        "{out}"
    );
}

#[test]
fn a_compare_table_is_checked_where_it_is_written() {
    let dir = scratch("compare");
    let file = dir.join("s.toml");
    std::fs::write(
        &file,
        "[policy]\nmax_concurrent = 10\n[compare.x]\nmax_concurrent = { adaptive = \"fast\" }\n[load]\ncalls_per_sec = 10\nduration = \"10s\"\n",
    )
    .unwrap();
    let (_, err, code) = output(fusebox().args(["simulate", file.to_str().unwrap(), "--no-chart"]));
    assert_eq!(code, Some(1));
    assert!(err.contains(":4:"), "{err}");
    assert!(err.contains("compare.x.max_concurrent"), "{err}");
}
