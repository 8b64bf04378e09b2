//! `fusebox check`: policy files and registry config files.

mod common;

use common::{fixture, fusebox, output, scratch};

#[test]
fn valid_files_pass() {
    let policy = fixture("policy-ok.toml");
    let registry = fixture("registry-ok.toml");
    let (out, err, code) = output(fusebox().arg("check").arg(&policy).arg(&registry));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        format!(
            "{}: ok (policy)\n{}: ok (registry config, 3 breaker sections)\n",
            policy.display(),
            registry.display()
        )
    );
}

#[test]
fn every_error_of_a_policy_file_is_listed() {
    let f = fixture("policy-bad.toml");
    let (out, _, code) = output(fusebox().arg("check").arg(&f));
    assert_eq!(code, Some(1));
    let f = f.display().to_string();
    let lines: Vec<&str> = out.lines().collect();
    let expected_starts = [
        format!("{f}:1:20: window.count: must be in 1..=1048576, got 0"),
        format!("{f}:2:26: failure_rate_threshold: must be in (0, 1], got 1.5"),
        format!("{f}:3:13: min_calls: "),
        format!("{f}:4:16: open_timeout: "),
        format!("{f}:5:40: half_open.successes: must be in 1..=2 (half_open.permits), got 3"),
        format!("{f}:6:1: bulkhead: unknown key"),
    ];
    assert_eq!(lines.len(), expected_starts.len(), "{out}");
    for (line, start) in lines.iter().zip(&expected_starts) {
        assert!(
            line.starts_with(start.as_str()),
            "{line:?} should start with {start:?}"
        );
    }
}

#[test]
fn every_error_of_a_registry_config_is_listed() {
    let f = fixture("registry-bad.toml");
    let (out, _, code) = output(fusebox().arg("check").arg(&f));
    assert_eq!(code, Some(1));
    let f = f.display().to_string();
    assert_eq!(
        out,
        [
            format!("{f}:2:10: defaults.jitter: must be in [0, 1), got 1.5"),
            format!("{f}:5:13: breakers.\"stripe\".min_calls: must be at least 1, got 0"),
            format!("{f}:7:11: breakers.\"bad..name\": invalid breaker name: must not contain \"..\""),
            format!("{f}:11:40: breakers.\"db\".half_open.successes: must be in 1..=2 (half_open.permits), got 3"),
            String::new(),
        ]
        .join("\n")
    );
}

#[test]
fn one_bad_file_among_good_ones_fails_the_run() {
    let (out, _, code) = output(
        fusebox()
            .arg("check")
            .arg(fixture("policy-ok.toml"))
            .arg(fixture("policy-bad.toml")),
    );
    assert_eq!(code, Some(1));
    assert!(
        out.lines()
            .next()
            .unwrap()
            .ends_with("policy-ok.toml: ok (policy)")
    );
    assert_eq!(out.lines().count(), 7);
}

#[test]
fn scenarios_are_checked_too() {
    let f = fixture("flapping.toml");
    let (out, _, code) = output(fusebox().arg("check").arg(&f));
    assert_eq!(code, Some(0));
    assert_eq!(out, format!("{}: ok (scenario)\n", f.display()));
    let f = fixture("overlap.toml");
    let (out, _, code) = output(fusebox().arg("check").arg(&f));
    assert_eq!(code, Some(1));
    assert_eq!(
        out,
        format!(
            "{}:12:9: phases[1].start: overlaps phases[0] (2s to 10s)\n",
            f.display()
        )
    );
}

/// `min_calls` above the count window is one error, on `min_calls`: not a second one on the
/// default `min_calls` that stands in once the first is set aside.
#[test]
fn a_limit_set_by_another_field_is_reported_once() {
    let dir = scratch("limit-once");
    let f = dir.join("policy.toml");
    std::fs::write(&f, "window = { count = 10 }\nmin_calls = 50\n").unwrap();
    let (out, err, code) = output(fusebox().arg("check").arg(&f));
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        out,
        format!(
            "{}:2:13: min_calls: must be in 1..=10 (the count window's size), got 50\n",
            f.display()
        )
    );

    std::fs::write(
        &f,
        "window = { span = \"10s\", buckets = 5000 }\nhalf_open = { permits = 0, successes = 8 }\nbogus = 1\n",
    )
    .unwrap();
    let (out, _, code) = output(fusebox().arg("check").arg(&f));
    assert_eq!(code, Some(1));
    let f = f.display();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(
        lines[0],
        format!("{f}:1:36: window.buckets: must be in 1..=1024, got 5000")
    );
    assert_eq!(
        lines[1],
        format!("{f}:2:25: half_open.permits: must be in 1..=10000, got 0")
    );
    assert!(
        lines[2].starts_with(&format!("{f}:3:1: bogus: unknown key")),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A `chaos` table without `until` is a warning: printed, but the file passes. A section that
/// inherits an `until` from its parent gets none.
#[test]
fn chaos_without_until_is_a_warning_that_does_not_fail_the_run() {
    let no_until = "warning: no until: chaos stays on until removed; set until = \"<RFC 3339>\" \
                    for an experiment that ends by itself";
    let f = fixture("chaos-no-until.toml");
    let (out, err, code) = output(fusebox().arg("check").arg(&f));
    assert_eq!(code, Some(0), "{err}");
    let f = f.display();
    assert_eq!(
        out,
        format!(
            "{f}:5:9: breakers.\"pay\".chaos: {no_until}\n\
             {f}: ok (registry config, 3 breaker sections)\n"
        )
    );

    // In a policy file, and among the errors of a file that fails.
    let dir = scratch("chaos-no-until");
    let p = dir.join("policy.toml");
    std::fs::write(
        &p,
        "jitter = 2.0\nchaos = { fault_rate = 0.1 }\nmin_calls = 0\n",
    )
    .unwrap();
    let (out, _, code) = output(fusebox().arg("check").arg(&p));
    assert_eq!(code, Some(1));
    let p = p.display();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with(&format!("{p}:1:10: jitter: ")),
        "{out}"
    );
    assert_eq!(lines[1], format!("{p}:2:9: chaos: {no_until}"));
    assert!(
        lines[2].starts_with(&format!("{p}:3:13: min_calls: ")),
        "{out}"
    );

    // `until = "none"` says so on purpose: no warning.
    let q = dir.join("forever.toml");
    std::fs::write(&q, "chaos = { fault_rate = 0.1, until = \"none\" }\n").unwrap();
    let (out, _, code) = output(fusebox().arg("check").arg(&q));
    assert_eq!(code, Some(0));
    assert_eq!(out, format!("{}: ok (policy)\n", q.display()));
    let _ = std::fs::remove_dir_all(dir);
}
