//! Config files: from_toml, apply_toml (all of it or none of it), invalid files, and reloads
//! while calls run.

use std::time::Duration;

mod common;

use fusebox_engine::{ManualClock, Policy, State};
use fusebox_registry::{PolicySource, Registry};

const FILE: &str = r#"
[defaults]
min_calls = 10
open_timeout = "10s"

[breakers."stripe"]
min_calls = 20

[breakers."stripe.charges"]
half_open = { permits = 2, successes = 2 }

[breakers."db"]
preset = "database"
"#;

fn registry(text: &str) -> Registry {
    Registry::from_toml_with_clock(text, ManualClock::new()).unwrap()
}

#[test]
fn from_toml_sets_defaults_and_sections_with_inheritance() {
    let r = registry(FILE);
    assert!(r.is_empty(), "named breakers are created lazily");
    assert_eq!(r.default_policy().min_calls(), 10);
    assert_eq!(
        r.policies().keys().collect::<Vec<_>>(),
        ["db", "stripe", "stripe.charges"]
    );
    let charges_eu = r.breaker("stripe.charges.eu").unwrap();
    let p = charges_eu.policy();
    // From its section, from `stripe` and from the defaults.
    assert_eq!(p.half_open_permits(), 2);
    assert_eq!(p.min_calls(), 20);
    assert_eq!(p.open_timeout(), Duration::from_secs(10));
    assert_eq!(
        r.policy_source("stripe.charges.eu").unwrap(),
        PolicySource::Inherited("stripe.charges".into())
    );
    assert_eq!(*r.breaker("db").unwrap().policy(), {
        let config = fusebox_registry::RegistryConfig::from_toml(FILE).unwrap();
        config.resolve().unwrap()["db"].clone()
    });
    assert_eq!(r.breaker("stripes").unwrap().policy().min_calls(), 10);
}

#[test]
fn apply_toml_replaces_the_whole_configuration() {
    let r = registry(FILE);
    let charges = r.breaker("stripe.charges").unwrap();
    let refunds = r.breaker("stripe.refunds").unwrap();
    let other = r.breaker("paypal").unwrap();
    r.set_policy("paypal", Policy::builder().min_calls(99).build().unwrap())
        .unwrap();
    charges.force_open();

    // `stripe.charges` and `paypal` lose their sections; `stripe` changes; defaults change.
    r.apply_toml(
        r#"
        [defaults]
        min_calls = 5
        [breakers."stripe"]
        min_calls = 30
        "#,
    )
    .unwrap();
    assert_eq!(charges.policy().min_calls(), 30);
    assert_eq!(charges.policy().half_open_permits(), 5, "section dropped");
    assert_eq!(charges.state(), State::ForcedOpen, "state kept");
    assert_eq!(refunds.policy().min_calls(), 30);
    assert_eq!(
        other.policy().min_calls(),
        5,
        "set in code, dropped by the reload"
    );
    assert_eq!(r.policies().keys().collect::<Vec<_>>(), ["stripe"]);
    assert_eq!(r.default_policy().min_calls(), 5);
    // An empty file is the default policy and nothing by name.
    r.apply_toml("").unwrap();
    assert_eq!(charges.policy().min_calls(), Policy::default().min_calls());
    assert!(r.policies().is_empty());
}

#[test]
fn sections_for_breakers_not_yet_used_apply_when_they_are_created() {
    let r = registry(FILE);
    r.apply_toml("[breakers.\"late.comer\"]\nmin_calls = 42\n")
        .unwrap();
    assert!(!r.contains("late.comer"));
    assert_eq!(r.breaker("late.comer").unwrap().policy().min_calls(), 42);
    assert_eq!(
        r.breaker("late.comer.child").unwrap().policy().min_calls(),
        42
    );
}

/// Invalid files: each is refused whole, with its position and breaker, and changes nothing.
#[test]
fn invalid_config_files_change_nothing() {
    // (file, breaker named in the error, line of the error)
    let cases: &[(&str, Option<&str>, usize)] = &[
        ("[breakers.\"db\"]\nmin_calls = 0\n", Some("db"), 2),
        (
            "[breakers.\"ok\"]\nmin_calls = 3\n[breakers.\"bad\"]\njitter = 1.5\n",
            Some("bad"),
            4,
        ),
        ("[breakers.\"db\"]\nmin_callz = 3\n", Some("db"), 2),
        ("[breakers.\"a..b\"]\nmin_calls = 3\n", Some("a..b"), 1),
        ("[breakers.\"db\"]\npreset = \"mainframe\"\n", Some("db"), 2),
        (
            "[breakers.\"db\"]\nhalf_open = { permits = 2, successes = 3 }\n",
            Some("db"),
            2,
        ),
        // A child that is only invalid over its parent's policy.
        (
            "[breakers.\"p\"]\nhalf_open = { permits = 1, successes = 1 }\n\
             [breakers.\"p.c\"]\nhalf_open = { successes = 2 }\n",
            Some("p.c"),
            4,
        ),
        ("[defaults]\nfailure_rate_threshold = 2.0\n", None, 2),
        ("[defaults\nmin_calls = 3\n", None, 1),
        ("min_calls = 3\n", None, 1),
        (
            "[breakers.\"db\"]\nopen_timeout = \"soon\"\n",
            Some("db"),
            2,
        ),
    ];
    let r = registry(FILE);
    let charges = r.breaker("stripe.charges.eu").unwrap();
    let before_policies = r.policies();
    let before_default = r.default_policy();
    let before = charges.policy();
    for (text, breaker, line) in cases {
        let err = r.apply_toml(text).unwrap_err();
        assert_eq!(err.breaker(), *breaker, "{text:?}: {err}");
        assert_eq!(
            err.position().map(|(l, _)| l),
            Some(*line),
            "{text:?}: {err}"
        );
        assert!(err.to_string().starts_with(&format!("{line}:")), "{err}");
        assert_eq!(r.policies(), before_policies, "{text:?}");
        assert_eq!(r.default_policy(), before_default, "{text:?}");
        assert_eq!(charges.policy(), before, "{text:?}");
        assert!(Registry::from_toml(text).is_err());
    }
}

/// Two threads call through the registry while a third alternates two config files; every
/// call is accounted for and the breakers end on the last file applied.
#[test]
fn reload_under_load_keeps_exact_counters() {
    /// Calls per thread, at least; each calls on until `RELOADS` files have been applied, so
    /// that fast calls cannot all finish before the first reload.
    const CALLS: u64 = 20_000;
    const RELOADS: u64 = 20;
    let files = [
        "[defaults]\nfailure_rate_threshold = 1.0\nmin_calls = 50\nwindow = { count = 50 }\n\
         [breakers.\"svc\"]\nmin_calls = 40\n",
        "[defaults]\nfailure_rate_threshold = 1.0\nmin_calls = 80\nwindow = { count = 80 }\n\
         [breakers.\"svc.b\"]\nmin_calls = 70\n",
    ];
    let r = registry(files[0]);
    let seen = common::calls_under_changes(&r, ["svc.a", "svc.b"], CALLS, RELOADS, |i| {
        r.apply_toml(files[i as usize % 2]).unwrap();
    });
    let m = r.group("svc").metrics();
    assert!(seen.calls() >= 2 * CALLS);
    assert_eq!(m.admitted, seen.calls());
    assert_eq!(m.failures, seen.failures);
    assert_eq!(m.failures, seen.expected_failures());
    assert_eq!(m.successes, seen.successes);
    assert_eq!(m.successes + m.failures, seen.calls());
    assert_eq!((m.rejected, m.closed), (0, 2));
    assert!(seen.changes >= RELOADS);
    let last = registry(files[seen.changes as usize % 2]);
    for name in ["svc.a", "svc.b"] {
        assert_eq!(
            *r.get(name).unwrap().policy(),
            last.resolved_policy(name).unwrap(),
            "{name}"
        );
    }
}
