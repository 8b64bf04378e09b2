//! Groups act on a prefix and everything below it, on dotted boundaries.

use fusebox_engine::{ManualClock, Policy, RejectReason, State};
use fusebox_registry::{Counters, GroupMetrics, Registry};

fn registry() -> Registry {
    let r = Registry::with_clock(
        Policy::builder().min_calls(2).build().unwrap(),
        ManualClock::new(),
    );
    for n in [
        "stripe",
        "stripe.eu",
        "stripe.eu.fr",
        "stripe.us",
        "stripes",
        "stripes.eu",
        "paypal",
        "paypal.stripe",
    ] {
        r.breaker(n).unwrap();
    }
    r
}

fn states(r: &Registry) -> Vec<(String, State)> {
    r.breakers()
        .iter()
        .map(|b| (b.name().to_owned(), b.state()))
        .collect()
}

#[test]
fn group_names_follow_dotted_boundaries() {
    let r = registry();
    assert_eq!(
        r.group("stripe").names(),
        ["stripe", "stripe.eu", "stripe.eu.fr", "stripe.us"]
    );
    assert_eq!(r.group("stripe.eu").names(), ["stripe.eu", "stripe.eu.fr"]);
    assert_eq!(r.group("stripes").names(), ["stripes", "stripes.eu"]);
    assert_eq!(r.group("paypal").names(), ["paypal", "paypal.stripe"]);
    assert!(r.group("strip").names().is_empty());
    assert!(r.group("eu").names().is_empty());
    assert!(r.group("").names().is_empty());
}

#[test]
fn each_action_reaches_exactly_the_group() {
    use State::*;
    let r = registry();
    let g = r.group("stripe.eu");
    assert_eq!(g.force_open(), 2);
    let rejected = r.get("stripe.eu.fr").unwrap().try_acquire().unwrap_err();
    assert_eq!(rejected.reason(), RejectReason::ForcedOpen);
    let expect = |s: [State; 8]| {
        let names = [
            "paypal",
            "paypal.stripe",
            "stripe",
            "stripe.eu",
            "stripe.eu.fr",
            "stripe.us",
            "stripes",
            "stripes.eu",
        ];
        names
            .iter()
            .zip(s)
            .map(|(n, s)| (n.to_string(), s))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        states(&r),
        expect([
            Closed, Closed, Closed, ForcedOpen, ForcedOpen, Closed, Closed, Closed
        ])
    );
    assert_eq!(r.group("stripe").disable(), 4);
    assert_eq!(
        states(&r),
        expect([
            Closed, Closed, Disabled, Disabled, Disabled, Disabled, Closed, Closed
        ])
    );
    assert_eq!(r.group("stripes").metrics_only(), 2);
    assert_eq!(
        states(&r),
        expect([
            Closed,
            Closed,
            Disabled,
            Disabled,
            Disabled,
            Disabled,
            MetricsOnly,
            MetricsOnly
        ])
    );
    assert_eq!(r.group("stripe.us").reset(), 1);
    assert_eq!(r.group("paypal").force_open(), 2);
    assert_eq!(
        states(&r),
        expect([
            ForcedOpen,
            ForcedOpen,
            Disabled,
            Disabled,
            Disabled,
            Closed,
            MetricsOnly,
            MetricsOnly
        ])
    );
}

#[test]
fn aggregate_metrics_sum_counters_and_count_states() {
    let r = registry();
    for _ in 0..3 {
        let _ = r.call("stripe.eu", || Ok::<_, ()>(()));
    }
    // Two failures open `stripe.us` (min_calls 2, threshold 0.5); then one rejection.
    for _ in 0..2 {
        let _ = r.call("stripe.us", || Err::<(), _>(()));
    }
    assert!(r.call("stripe.us", || Ok::<_, ()>(())).is_err());
    r.get("stripe.eu.fr").unwrap().force_open();
    let _ = r.call("stripes", || Err::<(), _>(()));

    let m = r.group("stripe").metrics();
    assert_eq!(
        m,
        GroupMetrics {
            breakers: 4,
            counters: Counters {
                admitted: 5,
                successes: 3,
                failures: 2,
                rejected: 1,
                ..Counters::default()
            },
            closed: 2,
            open: 1,
            forced_open: 1,
            ..GroupMetrics::default()
        }
    );
    assert_eq!(m.count(State::Open), 1);
    // `stripes` is not in the group.
    assert_eq!(r.group("stripes").metrics().failures, 1);
}

#[test]
fn a_group_acts_on_breakers_that_exist_when_called() {
    let r = registry();
    r.group("stripe").force_open();
    let late = r.breaker("stripe.late").unwrap();
    assert_eq!(late.state(), State::Closed);
}

#[test]
fn group_set_policy_is_the_prefix_policy() {
    let r = registry();
    r.group("stripe")
        .set_policy(Policy::builder().min_calls(9).build().unwrap())
        .unwrap();
    for b in r.group("stripe").breakers() {
        assert_eq!(b.policy().min_calls(), 9, "{}", b.name());
    }
    assert_eq!(r.get("stripes").unwrap().policy().min_calls(), 2);
}
