//! Rule 15 in `fusebox_engine::docs::rules`: a name without its own policy uses its longest dotted
//! prefix's, else the default; changing a parent re-points every child that inherits it.

use fusebox_engine::{ManualClock, Policy};
use fusebox_registry::{PolicySource, Registry, RegistryError};

/// Policies told apart by `min_calls`.
fn p(min_calls: u32) -> Policy {
    Policy::builder().min_calls(min_calls).build().unwrap()
}

fn registry() -> Registry {
    Registry::with_clock(p(1), ManualClock::new())
}

const NAMES: &[&str] = &[
    "stripe",
    "stripe.charges",
    "stripe.charges.eu",
    "stripe.charges.eu.fr",
    "stripe.refunds",
    "stripes",
    "stripes.eu",
    "paypal",
    "paypal.stripe",
];

/// The `min_calls` of each of `NAMES`, from live breakers and from resolution alike.
fn min_calls(r: &Registry) -> Vec<u32> {
    NAMES
        .iter()
        .map(|n| {
            let live = r.breaker(n).unwrap().policy().min_calls();
            assert_eq!(r.resolved_policy(n).unwrap().min_calls(), live, "{n}");
            live
        })
        .collect()
}

#[test]
fn rule_15_table_of_set_policy_steps() {
    // Each step: (set or clear, name, min_calls) then the expected min_calls of NAMES.
    #[allow(clippy::type_complexity)]
    let steps: &[(&str, &str, u32, [u32; 9])] = &[
        ("set", "stripe", 2, [2, 2, 2, 2, 2, 1, 1, 1, 1]),
        ("set", "stripe.charges", 3, [2, 3, 3, 3, 2, 1, 1, 1, 1]),
        ("set", "stripe", 4, [4, 3, 3, 3, 4, 1, 1, 1, 1]),
        (
            "set",
            "stripe.charges.eu.fr",
            5,
            [4, 3, 3, 5, 4, 1, 1, 1, 1],
        ),
        ("set", "stripes", 6, [4, 3, 3, 5, 4, 6, 6, 1, 1]),
        ("clear", "stripe.charges", 0, [4, 4, 4, 5, 4, 6, 6, 1, 1]),
        ("set", "paypal.stripe", 7, [4, 4, 4, 5, 4, 6, 6, 1, 7]),
        ("clear", "stripe", 0, [1, 1, 1, 5, 1, 6, 6, 1, 7]),
        ("default", "", 8, [8, 8, 8, 5, 8, 6, 6, 8, 7]),
    ];
    // Once with every breaker created up front (re-pointing), once creating them only after
    // each step (creation with the inherited policy).
    for create_first in [true, false] {
        let r = registry();
        if create_first {
            for n in NAMES {
                r.breaker(n).unwrap();
            }
        }
        for (i, (op, name, m, want)) in steps.iter().enumerate() {
            match *op {
                "set" => r.set_policy(name, p(*m)).unwrap(),
                "clear" => assert!(r.clear_policy(name).unwrap()),
                "default" => r.set_default_policy(p(*m)).unwrap(),
                _ => unreachable!(),
            }
            let fresh = registry();
            for (n, policy) in r.policies() {
                fresh.set_policy(&n, policy).unwrap();
            }
            fresh.set_default_policy(r.default_policy()).unwrap();
            assert_eq!(min_calls(&r), want, "step {i}, create_first {create_first}");
            assert_eq!(min_calls(&fresh), want, "step {i}: a fresh registry agrees");
        }
    }
}

#[test]
fn rule_15_policy_sources() {
    let r = registry();
    r.set_policy("stripe", p(2)).unwrap();
    r.set_policy("stripe.charges", p(3)).unwrap();
    let cases = [
        ("stripe", PolicySource::Own),
        ("stripe.charges", PolicySource::Own),
        (
            "stripe.charges.eu",
            PolicySource::Inherited("stripe.charges".into()),
        ),
        ("stripe.refunds", PolicySource::Inherited("stripe".into())),
        ("stripes", PolicySource::Default),
        ("stripe-eu", PolicySource::Default),
    ];
    for (name, source) in cases {
        assert_eq!(r.policy_source(name).unwrap(), source, "{name}");
    }
}

#[test]
fn rule_15_a_descendant_with_its_own_policy_is_untouched() {
    let r = registry();
    let child = r.breaker("a.b").unwrap();
    r.set_policy("a.b", p(5)).unwrap();
    let swapped = child.policy();
    r.set_policy("a", p(6)).unwrap();
    // Not even swapped for an equal policy: the very same Arc is in force.
    assert!(std::sync::Arc::ptr_eq(&swapped, &child.policy()));
    assert_eq!(child.policy().min_calls(), 5);
    assert_eq!(r.breaker("a").unwrap().policy().min_calls(), 6);
    assert_eq!(r.breaker("a.c").unwrap().policy().min_calls(), 6);
}

#[test]
fn rule_15_set_policy_keeps_state_and_counters() {
    let r = registry();
    let b = r.breaker("svc.a").unwrap();
    b.force_open();
    let _ = b.call(|| Ok::<_, ()>(()));
    r.set_policy("svc", p(9)).unwrap();
    assert_eq!(b.state(), fusebox_engine::State::ForcedOpen);
    assert_eq!(b.metrics().rejected, 1);
    assert_eq!(b.policy().min_calls(), 9);
}

#[test]
fn invalid_names_are_errors() {
    let r = registry();
    for bad in [
        "",
        "a..b",
        ".a",
        "a.",
        "has space",
        "slash/y",
        &"x".repeat(129),
    ] {
        assert!(
            matches!(
                r.set_policy(bad, p(2)),
                Err(RegistryError::InvalidName { .. })
            ),
            "{bad:?}"
        );
        assert!(r.breaker(bad).is_err(), "{bad:?}");
        assert!(r.clear_policy(bad).is_err(), "{bad:?}");
        assert!(r.policy_source(bad).is_err(), "{bad:?}");
        assert!(r.get(bad).is_none());
    }
    assert!(r.is_empty());
    assert!(r.policies().is_empty());
}

#[test]
fn rule_15_clearing_an_absent_policy_changes_nothing() {
    let r = registry();
    assert!(!r.clear_policy("nothing.here").unwrap());
}
