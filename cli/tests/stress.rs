//! `fusebox stress`: real threads, real clock, exact accounting.

mod common;

use common::{fixture, fusebox, output};

#[test]
fn short_run_balances_its_books() {
    let (out, err, code) = output(fusebox().args([
        "stress",
        "--threads",
        "2",
        "--seconds",
        "0.3",
        "--breakers",
        "3",
        "--failure-rate",
        "0.2",
        "--outage",
        "100ms/30ms",
    ]));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("fusebox stress: 2 threads for 300ms, 3 breakers"),
        "{out}"
    );
    assert!(out.contains("calls/s"));
    assert!(out.contains("time per call    mean "), "{out}");
    assert!(out.contains(" batches of 256 calls"), "{out}");
    for b in ["stress.0", "stress.1", "stress.2"] {
        assert!(out.contains(b), "{out}");
    }
    assert!(out.contains("accounting: exact"), "{out}");
    assert!(!out.contains("MISMATCH"));
    // Not a terminal: no progress bar drawn.
    assert!(err.is_empty(), "{err}");
}

#[test]
fn with_a_policy_file_and_no_outages() {
    let (out, err, code) = output(
        fusebox()
            .args([
                "stress",
                "--threads",
                "1",
                "--seconds",
                "0.1",
                "--outage",
                "none",
            ])
            .arg("--policy")
            .arg(fixture("policy-ok.toml")),
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("fusebox stress: 1 thread for 100ms, 1 breaker, 5% of calls failing\n"));
    assert!(out.contains("accounting: exact"));
}
