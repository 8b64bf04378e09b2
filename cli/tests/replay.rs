//! Record and replay: a recording of the built-in scenario, replayed with the same policy,
//! tells the same story; `simulate --record/--replay` and their errors.

mod common;

use common::{fusebox, output, scratch};
use fusebox_cli::replay::{BadLines, Replay};
use fusebox_cli::scenario::Scenario;
use fusebox_cli::sim::{self, Run};

fn to_jsonl(calls: &[fusebox::RecordedCall]) -> String {
    calls.iter().map(|c| c.to_json_line() + "\n").collect()
}

fn within(a: u64, b: u64, share: f64) -> bool {
    (a as f64 - b as f64).abs() <= share * a.max(b) as f64
}

/// The run of `scenario` under its own policy.
fn policy_run(scenario: &Scenario) -> Run {
    sim::run_policy(scenario, &scenario.policy, "policy").expect("runs")
}

#[test]
fn a_replay_of_the_builtin_scenario_matches_the_original() {
    let original = Scenario::builtin();
    let calls = sim::record(&original, &original.policy).expect("records");
    let text = to_jsonl(&calls);
    let replay = Replay::read(text.as_bytes(), "builtin.jsonl", None, BadLines::Stop)
        .expect("a recording the simulator wrote reads back");
    assert_eq!(replay.arrivals.len(), calls.len());
    assert!(
        !replay.inferred_seconds.is_empty(),
        "the breaker was open: some seconds are inferred"
    );
    let replayed = replay.into_scenario(original.policy.clone(), "same".into(), 1);

    let (a, b) = (policy_run(&original), policy_run(&replayed));
    assert_eq!(
        a.attempted, b.attempted,
        "the arrivals are the recorded ones"
    );
    let steps = |r: &Run| -> Vec<_> { r.transitions.iter().map(|t| (t.from, t.to)).collect() };
    assert_eq!(
        steps(&a),
        steps(&b),
        "the same transitions in the same order"
    );
    for (x, y) in a.transitions.iter().zip(&b.transitions) {
        let gap = x.at.abs_diff(y.at);
        assert!(
            gap <= std::time::Duration::from_secs(1),
            "{:?} -> {:?} at {:?} in the original, {:?} in the replay",
            x.from,
            x.to,
            x.at,
            y.at
        );
    }
    assert!(
        within(a.failed(), b.failed(), 0.05),
        "failed: {} original, {} replay",
        a.failed(),
        b.failed()
    );
    assert!(
        within(a.rejected.total(), b.rejected.total(), 0.05),
        "rejected: {} original, {} replay",
        a.rejected.total(),
        b.rejected.total()
    );
}

#[test]
fn record_then_replay_from_the_command_line() {
    let dir = scratch("record-replay");
    let (out, err, code) = output(fusebox().current_dir(&dir).args([
        "simulate",
        "--no-chart",
        "--record",
        "rec.jsonl",
    ]));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("closed -> open"));
    let text = std::fs::read_to_string(dir.join("rec.jsonl")).expect("recording written");
    let first: fusebox::RecordedCall =
        serde_json::from_str(text.lines().next().expect("a line")).expect("a recorded call");
    assert_eq!(first.breaker, "payments");

    std::fs::write(
        dir.join("policy.toml"),
        "min_calls = 20\nopen_timeout = \"2s\"\nbackoff = { exponential = 2.0, max = \"8s\" }\n",
    )
    .expect("policy written");
    let (out, err, code) = output(fusebox().current_dir(&dir).args([
        "simulate",
        "--no-chart",
        "--replay",
        "rec.jsonl",
        "policy.toml",
        "--compare",
        "lenient",
    ]));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("replay of rec.jsonl"), "{out}");
    assert!(out.contains("seconds had no admitted call"), "{out}");
    assert!(out.contains("closed -> open"), "{out}");
    assert!(out.contains("lenient"), "{out}");

    let (out, err, code) = output(fusebox().current_dir(&dir).args([
        "simulate",
        "--no-chart",
        "--json",
        "--replay",
        "rec.jsonl",
    ]));
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert!(v["scenario"]["replay"]["inferred_seconds"].is_array());
    assert_eq!(v["scenario"]["replay"]["calls"], v["runs"][0]["attempted"]);
}

#[test]
fn bad_recordings_are_one_line_errors() {
    let dir = scratch("replay-errors");
    let good = r#"{"t_ms":0.0,"breaker":"db","outcome":"success","duration_ms":5.0}"#;
    let cases: [(&str, String, &[&str], &str); 6] = [
        ("empty.jsonl", String::new(), &[], "has no calls"),
        (
            "garbled.jsonl",
            format!("{good}\n{{\"t_ms\": \n"),
            &[],
            "garbled.jsonl:2: not a recorded call",
        ),
        (
            "unknown.jsonl",
            format!("{good}\n"),
            &["--breaker", "nope"],
            "no calls of breaker \"nope\"",
        ),
        (
            "joined.jsonl",
            format!(
                "{}\n{good}\n",
                good.replace("\"t_ms\":0.0", "\"t_ms\":90000.0")
            ),
            &[],
            "joined.jsonl:2: out of order",
        ),
        (
            "negative.jsonl",
            good.replace("0.0", "-3.0"),
            &[],
            "negative.jsonl:1: t_ms",
        ),
        (
            "key.jsonl",
            good.replace("\"duration_ms\"", "\"latency\""),
            &[],
            "key.jsonl:1: not a recorded call",
        ),
    ];
    for (file, text, extra, expected) in cases {
        std::fs::write(dir.join(file), text).expect("written");
        let (out, err, code) = output(
            fusebox()
                .current_dir(&dir)
                .args(["simulate", "--no-chart", "--replay", file])
                .args(extra),
        );
        assert_eq!(code, Some(1), "{file}: {out}");
        assert!(err.contains(expected), "{file}: {err}");
        assert_eq!(err.lines().count(), 1, "{file}: one line: {err}");
        assert!(!err.contains("panicked"), "{file}: {err}");
    }
    // The same garbled file, with --skip-bad-lines: replayed, the skip counted.
    let (out, err, code) = output(fusebox().current_dir(&dir).args([
        "simulate",
        "--no-chart",
        "--skip-bad-lines",
        "--replay",
        "garbled.jsonl",
    ]));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("1 malformed lines skipped"), "{out}");
    let (_, err, code) =
        output(
            fusebox()
                .current_dir(&dir)
                .args(["simulate", "--replay", "missing.jsonl"]),
        );
    assert_eq!(code, Some(1));
    assert!(err.contains("missing.jsonl: cannot read"), "{err}");
}

/// A registry's own recording, drained and replayed with the same policy: the replay's breaker
/// opens and closes when the recorded one did.
#[test]
fn a_registry_recording_replays_with_the_recorded_breakers_timeline() {
    use std::time::Duration;

    use fusebox::{ManualClock, Policy, RecordConfig, Registry};

    let policy_toml =
        "min_calls = 20\nopen_timeout = \"2s\"\nhalf_open = { permits = 1, successes = 1 }\n";
    let policy = Policy::from_toml(policy_toml).expect("a valid policy");
    let clock = ManualClock::new();
    let registry = Registry::with_clock(Policy::default(), clock.clone());
    registry.set_policy("pay", policy).expect("set");
    registry.record(RecordConfig::new(["pay.*"], 1.0, 100_000).expect("a valid table"));
    let breaker = registry.breaker("pay.stripe").expect("a valid name");
    // 100 calls a second for 30 s, each taking 5 ms; the downstream fails from 10 s to 20 s.
    for i in 0..3_000u64 {
        let at = Duration::from_millis(i * 10);
        clock.set(at);
        let Ok(permit) = breaker.try_acquire() else {
            continue;
        };
        clock.set(at + Duration::from_millis(5));
        if (10..20).contains(&at.as_secs()) {
            permit.failure();
        } else {
            permit.success();
        }
    }
    let recorded: Vec<_> = breaker
        .history()
        .iter()
        .map(|t| (t.from, t.to, t.at))
        .collect();
    assert!(
        recorded.len() >= 3,
        "the breaker opened and closed: {recorded:?}"
    );

    let dir = scratch("registry-replay");
    std::fs::write(dir.join("rec.jsonl"), registry.drain_recording()).expect("written");
    std::fs::write(dir.join("policy.toml"), policy_toml).expect("written");
    let replay = Replay::load(&dir.join("rec.jsonl"), None, BadLines::Stop).expect("reads");
    assert_eq!(
        replay.arrivals.len(),
        3_000,
        "every call, rejected ones included"
    );
    let scenario = replay.into_scenario(
        Policy::from_toml(policy_toml).expect("valid"),
        "policy.toml".into(),
        1,
    );
    let run = policy_run(&scenario);
    let replayed: Vec<_> = run
        .transitions
        .iter()
        .map(|t| (t.from, t.to, t.at))
        .collect();
    assert_eq!(
        recorded.iter().map(|t| (t.0, t.1)).collect::<Vec<_>>(),
        replayed.iter().map(|t| (t.0, t.1)).collect::<Vec<_>>()
    );
    for (a, b) in recorded.iter().zip(&replayed) {
        assert!(
            a.2.abs_diff(b.2) <= Duration::from_secs(1),
            "{a:?} vs {b:?}"
        );
    }

    let (out, err, code) = output(fusebox().current_dir(&dir).args([
        "simulate",
        "--no-chart",
        "--replay",
        "rec.jsonl",
        "policy.toml",
    ]));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("3000 calls of \"pay.stripe\""), "{out}");
    assert!(out.contains("closed -> open"), "{out}");
}
