//! Config files: from_toml, apply_toml (all of it or none of it), invalid files, and reloads
//! while calls run.

use std::time::Duration;

mod common;

use fusebox_engine::{ManualClock, Policy, State, Window};
use fusebox_registry::{PolicySource, Registry, RegistryError};

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
fn rule_15_from_toml_sets_defaults_and_sections_with_inheritance() {
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

fn window(count: u32, min_calls: u32) -> Policy {
    Policy::builder()
        .window(Window::count(count))
        .min_calls(min_calls)
        .build()
        .unwrap()
}

/// A section that sets some keys stays a patch on its parent: whatever changes the parent
/// changes every key the section does not set, and the section's own keys still win.
#[test]
fn rule_15_a_section_stays_a_patch_on_its_parent() {
    let r = registry(
        r#"
        [breakers."stripe"]
        min_calls = 20
        [breakers."stripe.charges"]
        half_open = { permits = 2, successes = 2 }
        [breakers."db"]
        min_calls = 3
        "#,
    );
    let charges = r.breaker("stripe.charges").unwrap();
    let charges_eu = r.breaker("stripe.charges.eu").unwrap();
    let db = r.breaker("db").unwrap();
    assert_eq!(charges.policy().min_calls(), 20);

    // A parent set in code: the section's keys over it.
    let parent = Policy::builder()
        .min_calls(30)
        .jitter(0.2)
        .half_open_permits(5)
        .success_threshold(5)
        .build()
        .unwrap();
    r.set_policy("stripe", parent).unwrap();
    for p in [charges.policy(), charges_eu.policy()] {
        assert_eq!((p.min_calls(), p.jitter()), (30, 0.2), "from the parent");
        assert_eq!(
            (p.half_open_permits(), p.success_threshold()),
            (2, 2),
            "the section's own keys"
        );
    }
    assert_eq!(
        r.policy_source("stripe.charges").unwrap(),
        PolicySource::Own
    );
    assert_eq!(r.policies()["stripe.charges"], *charges.policy());

    // Clearing the parent: the section over the default.
    assert!(r.clear_policy("stripe").unwrap());
    let p = charges.policy();
    assert_eq!(
        (p.min_calls(), p.jitter()),
        (Policy::default().min_calls(), 0.0)
    );
    assert_eq!(p.half_open_permits(), 2);

    // A section with no parent in the file follows the default.
    r.set_default_policy(
        Policy::builder()
            .open_timeout(Duration::from_secs(42))
            .build()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(db.policy().open_timeout(), Duration::from_secs(42));
    assert_eq!(db.policy().min_calls(), 3);
    assert_eq!(charges.policy().open_timeout(), Duration::from_secs(42));

    // A reload that changes only the parent moves the child with it.
    r.apply_toml(
        r#"
        [breakers."stripe"]
        min_calls = 40
        jitter = 0.1
        [breakers."stripe.charges"]
        half_open = { permits = 2, successes = 2 }
        "#,
    )
    .unwrap();
    let p = charges.policy();
    assert_eq!(
        (p.min_calls(), p.jitter(), p.half_open_permits()),
        (40, 0.1, 2)
    );
    assert_eq!(
        p.open_timeout(),
        Duration::from_secs(42),
        "the registry's default"
    );

    // A policy set in code for the section's own name replaces it whole: it no longer
    // follows its parent.
    r.set_policy("stripe.charges", window(100, 7)).unwrap();
    r.set_policy("stripe", window(100, 8)).unwrap();
    assert_eq!(charges.policy().min_calls(), 7);
    assert_eq!(
        charges.policy().half_open_permits(),
        Policy::default().half_open_permits()
    );
}

/// A change that would make a section invalid over its new parent fails, naming the section
/// and the field, and changes nothing.
#[test]
fn a_change_that_makes_a_section_invalid_changes_nothing() {
    let r = Registry::with_clock(window(30, 10), ManualClock::new());
    r.apply_toml(
        r#"
        [breakers."p"]
        window = { count = 50 }
        [breakers."p.c"]
        min_calls = 40
        [breakers."db"]
        min_calls = 25
        "#,
    )
    .unwrap();
    let child = r.breaker("p.c.x").unwrap();
    let db = r.breaker("db").unwrap();
    assert_eq!(child.policy().min_calls(), 40);
    let policies = r.policies();
    let default = r.default_policy();
    let (child_before, db_before) = (child.policy(), db.policy());
    let unchanged = |what: &str| {
        assert_eq!(r.policies(), policies, "{what}");
        assert_eq!(r.default_policy(), default, "{what}");
        assert_eq!(child.policy(), child_before, "{what}");
        assert_eq!(db.policy(), db_before, "{what}");
        assert_eq!(r.resolved_policy("p.c").unwrap().min_calls(), 40, "{what}");
    };

    // The parent's window shrinks below the child's min_calls.
    let err = r.set_policy("p", window(20, 5)).unwrap_err();
    assert_eq!(
        err,
        RegistryError::InvalidSection {
            breaker: "p.c".into(),
            field: "min_calls".into(),
            reason: "must be in 1..=20 (the count window's size), got 40".into(),
        }
    );
    assert_eq!(
        err.to_string(),
        "config section breakers.\"p.c\" would be invalid over the policy it inherits: \
         min_calls: must be in 1..=20 (the count window's size), got 40"
    );
    unchanged("set_policy");
    assert!(r.get("p").is_none(), "not created by the failed change");

    // Clearing the parent would leave the child over the default's 30-call window.
    match r.clear_policy("p").unwrap_err() {
        RegistryError::InvalidSection { breaker, field, .. } => {
            assert_eq!((breaker.as_str(), field.as_str()), ("p.c", "min_calls"));
        }
        other => panic!("{other:?}"),
    }
    unchanged("clear_policy");

    // A default whose window is below a section over the default.
    match r.set_default_policy(window(20, 5)).unwrap_err() {
        RegistryError::InvalidSection { breaker, field, .. } => {
            assert_eq!((breaker.as_str(), field.as_str()), ("db", "min_calls"));
        }
        other => panic!("{other:?}"),
    }
    unchanged("set_default_policy");

    // A reload whose section is invalid over the registry's own default.
    let err = r
        .apply_toml("[breakers.\"db\"]\nmin_calls = 35\n")
        .unwrap_err();
    assert_eq!((err.breaker(), err.field()), (Some("db"), "min_calls"));
    assert_eq!(err.position().map(|(line, _)| line), Some(2));
    unchanged("apply_toml");

    // Changes that keep every section valid go through.
    r.set_policy("p", window(45, 5)).unwrap();
    assert_eq!(child.policy().window(), Window::count(45));
    assert_eq!(child.policy().min_calls(), 40);
}

/// A section is resolved over the registry's own default, not the built-in one: a file that
/// is valid only over the registry's default is accepted.
#[test]
fn rule_15_sections_resolve_over_the_registry_default() {
    let r = Registry::with_clock(window(200, 10), ManualClock::new());
    let text = "[breakers.\"db\"]\nmin_calls = 150\n";
    assert!(fusebox_registry::RegistryConfig::from_toml(text).is_err());
    r.apply_toml(text).unwrap();
    let p = r.breaker("db").unwrap().policy();
    assert_eq!((p.window(), p.min_calls()), (Window::count(200), 150));
}

/// A reload of a file without `[defaults]` keeps the registry's own default: the one it was
/// built with or last given to `set_default_policy`.
#[test]
fn rule_15_a_file_without_defaults_keeps_the_registry_default() {
    let built = window(100, 7);
    let r = Registry::with_clock(built.clone(), ManualClock::new());
    let other = r.breaker("other").unwrap();
    r.apply_toml("[breakers.\"db\"]\nmin_calls = 3\n").unwrap();
    assert_eq!(r.default_policy(), built);
    assert_eq!(other.policy().min_calls(), 7);
    assert_eq!(r.breaker("db").unwrap().policy().min_calls(), 3);

    // A file with `[defaults]` sets the default, over the built-in one ...
    r.apply_toml("[defaults]\njitter = 0.1\n").unwrap();
    assert_eq!(
        r.default_policy().min_calls(),
        Policy::default().min_calls()
    );
    assert_eq!(other.policy().jitter(), 0.1);
    // ... even an empty one ...
    r.apply_toml("[defaults]\n").unwrap();
    assert_eq!(r.default_policy(), Policy::default());
    // ... and the next file without one goes back to the registry's own.
    r.apply_toml("").unwrap();
    assert_eq!(r.default_policy(), built);
    assert_eq!(other.policy().min_calls(), 7);

    let set = window(100, 11);
    r.set_default_policy(set.clone()).unwrap();
    r.apply_toml("[defaults]\nmin_calls = 4\n").unwrap();
    assert_eq!(other.policy().min_calls(), 4);
    r.apply_toml("[breakers.\"db\"]\nmin_calls = 3\n").unwrap();
    assert_eq!(r.default_policy(), set);
    assert_eq!(other.policy().min_calls(), 11);

    // A registry built from a file was built with the built-in default.
    let from_file = registry(FILE);
    assert_eq!(from_file.default_policy().min_calls(), 10);
    from_file
        .apply_toml("[breakers.\"db\"]\nmin_calls = 3\n")
        .unwrap();
    assert_eq!(from_file.default_policy(), Policy::default());
}
