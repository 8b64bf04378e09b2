//! The simulator's numbers agree with the engine's own `metrics()`, on several scenarios.

use std::time::Duration;

use fusebox::Policy;
use fusebox_cli::scenario::Scenario;
use fusebox_cli::sim::{Run, simulate};

fn agree(run: &Run) {
    let m = run.metrics.expect("a run with a breaker has metrics");
    assert_eq!(m.admitted, run.admitted, "admitted");
    assert_eq!(m.successes, run.succeeded, "successes");
    assert_eq!(m.failures, run.failed(), "failures");
    assert_eq!(m.ignored, 0, "the simulator reports no ignored calls");
    assert_eq!(m.rejected, run.rejected.total(), "rejected");
    assert_eq!(m.admitted, m.successes + m.failures + m.ignored);
    assert_eq!(run.attempted, run.admitted + run.rejected.total());
    // The time spent in each state adds up to the scenario's duration.
    let total: Duration = run.state_time.iter().map(|(_, d)| *d).sum();
    assert_eq!(total, Duration::from_secs(60));
    // Transitions chain: each starts where the previous one ended.
    for w in run.transitions.windows(2) {
        assert_eq!(w[0].to, w[1].from);
        assert!(w[0].at <= w[1].at);
    }
}

fn scenario(extra_policy: &str, phases: &str) -> Scenario {
    let text = format!(
        "name = \"dep\"\nseed = 5\n[policy]\n{extra_policy}\n[load]\ncalls_per_sec = 150\nduration = \"60s\"\nconcurrency = 8\ntimeout = \"300ms\"\n\
         [downstream]\nlatency = {{ p50 = \"20ms\", p99 = \"400ms\" }}\nerror_rate = 0.01\n{phases}"
    );
    Scenario::from_toml(&text, "test", None).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn builtin_scenario() {
    let s = Scenario::builtin();
    let sim = simulate(&s, &[("p".into(), s.policy.clone())]).unwrap();
    agree(&sim.runs[0]);
    assert!(sim.baseline.metrics.is_none());
    assert_eq!(sim.baseline.admitted, sim.baseline.attempted);
}

#[test]
fn every_rejection_reason_and_state() {
    let phases = "[[phases]]\nkind = \"flapping\"\nstart = \"5s\"\nend = \"40s\"\nperiod = \"3s\"\nduty = 0.5\n\
                  [[phases]]\nkind = \"brownout\"\nstart = \"45s\"\nend = \"55s\"\nlatency = { p50 = \"150ms\", p99 = \"900ms\" }\n";
    let policies = [
        "window = { count = 20 }\nmin_calls = 5\nopen_timeout = \"500ms\"\nmax_concurrent = 6\nrecovery = { ramp = \"2s\", start_share = 0.1 }",
        "window = { span = \"5s\", buckets = 5 }\nconsecutive_failures = 3\nslow_calls = { duration = \"100ms\", rate = 0.3 }\nopen_timeout = \"1s\"\njitter = 0.2",
        "preset = \"aggressive\"",
        "preset = \"lenient\"",
    ];
    for p in policies {
        let s = scenario(p, phases);
        let sim = simulate(&s, &[("p".into(), s.policy.clone())]).unwrap();
        agree(&sim.runs[0]);
    }
    let s = scenario(policies[0], phases);
    let sim = simulate(&s, &[("p".into(), s.policy.clone())]).unwrap();
    let r = &sim.runs[0].rejected;
    assert!(
        r.open > 0 && r.half_open_full > 0 && r.bulkhead_full > 0 && r.ramp > 0,
        "{r:?}"
    );
}

#[test]
fn many_seeds_and_compare_runs() {
    for seed in 0..8 {
        let mut s = Scenario::builtin();
        s.seed = seed;
        let other = Policy::preset("payment-provider").unwrap();
        let sim = simulate(&s, &[("a".into(), s.policy.clone()), ("b".into(), other)]).unwrap();
        for run in &sim.runs {
            agree(run);
            assert_eq!(
                run.attempted, sim.baseline.attempted,
                "same arrivals in every run"
            );
        }
    }
}
