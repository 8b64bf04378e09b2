//! Bad input: one line on stderr, a non-zero exit, never a panic or a backtrace.

mod common;

use common::{fixture, fusebox, output};

/// Runs `args`, expects failure with exactly one line on stderr, and returns that line.
fn one_line_error(args: &[&str]) -> String {
    let (out, err, code) = output(fusebox().args(args).env("RUST_BACKTRACE", "1"));
    assert_eq!(
        code,
        Some(1),
        "args {args:?}: stdout {out:?}, stderr {err:?}"
    );
    assert!(out.is_empty(), "args {args:?} printed {out:?}");
    assert_eq!(err.lines().count(), 1, "args {args:?}: {err:?}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    err.trim_end().to_owned()
}

fn scenario(name: &str) -> String {
    fixture(name).to_str().unwrap().to_owned()
}

#[test]
fn missing_scenario_file() {
    assert_eq!(
        one_line_error(&["simulate", "no/such/scenario.toml"]),
        "error: no/such/scenario.toml: cannot read: no such file"
    );
}

#[test]
fn malformed_toml() {
    let f = scenario("malformed.toml");
    assert_eq!(
        one_line_error(&["simulate", &f]),
        format!("error: {f}:3:16: toml: invalid basic string, expected `\"`")
    );
}

#[test]
fn negative_rate() {
    let f = scenario("negative-rate.toml");
    assert_eq!(
        one_line_error(&["simulate", &f]),
        format!("error: {f}:2:17: load.calls_per_sec: must be greater than 0, got -20")
    );
}

#[test]
fn overlapping_phases() {
    let f = scenario("overlap.toml");
    assert_eq!(
        one_line_error(&["simulate", &f]),
        format!("error: {f}:12:9: phases[1].start: overlaps phases[0] (2s to 10s)")
    );
}

#[test]
fn zero_duration() {
    let f = scenario("zero-duration.toml");
    assert_eq!(
        one_line_error(&["simulate", &f]),
        format!("error: {f}:3:12: load.duration: must be in (0s, 24h], got 0s")
    );
}

#[test]
fn missing_policy_file() {
    let f = scenario("missing-policy.toml");
    let err = one_line_error(&["simulate", &f]);
    assert!(
        err.starts_with(&format!("error: {f}:1:15: policy_file: cannot read ")),
        "{err}"
    );
    assert!(err.ends_with("no-such-policy.toml: no such file"), "{err}");
}

#[test]
fn invalid_compare_policy() {
    let f = scenario("policy-bad.toml");
    assert_eq!(
        one_line_error(&["simulate", "--no-chart", "--compare", &f]),
        format!(
            "error: {f}:3:13: min_calls: must be an integer in 1..=4294967295, got the string \"ten\""
        )
    );
    let err = one_line_error(&["simulate", "--no-chart", "--compare", "no/such/policy.toml"]);
    assert_eq!(err, "error: no/such/policy.toml: cannot read: no such file");
}

/// A name that is neither a file nor a preset: the error lists the presets.
#[test]
fn unknown_compare_preset() {
    let presets: Vec<String> = fusebox::Policy::preset_names()
        .iter()
        .map(|n| format!("{n:?}"))
        .collect();
    assert_eq!(
        presets.join(", "),
        "\"http-api\", \"database\", \"payment-provider\", \"aggressive\", \"lenient\""
    );
    for name in ["no-such-preset", "agressive"] {
        let err = one_line_error(&["simulate", "--no-chart", "--compare", name]);
        assert_eq!(
            err,
            format!(
                "error: --compare: \"{name}\" is neither a policy file nor a preset; the presets are {}",
                presets.join(", ")
            )
        );
    }
}

#[test]
fn unwritable_chart() {
    let err = one_line_error(&["simulate", "--chart", "/no/such/dir/out.svg"]);
    assert_eq!(
        err,
        "error: /no/such/dir/out.svg: cannot write the chart: no such file"
    );
}

#[test]
fn missing_check_file() {
    let (out, err, code) = output(fusebox().args(["check", "nope.toml"]));
    assert_eq!(code, Some(1));
    assert!(out.is_empty());
    assert_eq!(err, "error: nope.toml: cannot read: no such file\n");
}

#[test]
fn bad_stress_arguments() {
    assert_eq!(
        one_line_error(&["stress", "--seconds", "0"]),
        "error: --seconds: must be in (0, 3600], got 0"
    );
    assert_eq!(
        one_line_error(&["stress", "--seconds", "0.1", "--failure-rate", "1.5"]),
        "error: --failure-rate: must be in [0, 1], got 1.5"
    );
    assert!(
        one_line_error(&["stress", "--seconds", "0.1", "--outage", "often"])
            .starts_with("error: --outage: expected EVERY/FOR")
    );
    assert!(
        one_line_error(&["stress", "--seconds", "0.1", "--outage", "1s/2s"])
            .starts_with("error: --outage: FOR must be shorter than EVERY")
    );
}

#[test]
fn usage_errors_exit_non_zero() {
    let (_, err, code) = output(fusebox().args(["simulate", "--seed", "minus-one"]));
    assert_eq!(code, Some(2));
    assert!(err.contains("invalid value 'minus-one' for '--seed <SEED>'"));
    let (_, _, code) = output(fusebox().args(["check"]));
    assert_eq!(code, Some(2));
}
