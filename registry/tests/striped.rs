//! A striped registry makes every breaker it creates striped, however it comes to create it.

use std::time::Duration;

use fusebox_engine::{ManualClock, Policy, State, Window};
use fusebox_registry::Registry;

fn policy() -> Policy {
    Policy::builder()
        .window(Window::count(10))
        .min_calls(10)
        .build()
        .unwrap()
}

#[test]
fn every_breaker_of_a_striped_registry_is_striped() {
    let clock = ManualClock::new();
    let registry = Registry::builder(policy())
        .clock(clock.clone())
        .striped()
        .build();
    assert!(registry.is_striped());
    assert!(registry.breaker("looked.up").unwrap().is_striped());
    let _ = registry.call("called", || Ok::<_, ()>(()));
    assert!(registry.get("called").unwrap().is_striped());

    // Inheritance works as for any breaker, and the breaker still trips.
    registry
        .set_policy(
            "svc",
            Policy::builder()
                .window(Window::count(20))
                .min_calls(4)
                .build()
                .unwrap(),
        )
        .unwrap();
    for _ in 0..4 {
        let _ = registry.call("svc.eu", || Err::<(), _>("down"));
    }
    let eu = registry.get("svc.eu").unwrap();
    assert!(eu.is_striped());
    assert_eq!(eu.policy().min_calls(), 4);
    assert_eq!(eu.state(), State::Open);
    assert_eq!(eu.metrics().failures, 4);

    // Restored and re-created breakers are striped too.
    let other = Registry::builder(policy())
        .clock(ManualClock::new())
        .striped()
        .build();
    other.restore(&registry.snapshot()).unwrap();
    assert!(other.breakers().iter().all(|b| b.is_striped()));
    assert_eq!(other.get("svc.eu").unwrap().state(), State::Open);
    drop(eu);
    registry.breaker("gone").unwrap();
    clock.advance(Duration::from_secs(3600));
    assert!(registry.prune_idle(Duration::from_secs(60)) >= 1);
    assert!(!registry.contains("gone"));
    assert!(registry.breaker("gone").unwrap().is_striped());
}

#[test]
fn a_registry_is_unstriped_by_default() {
    let registry = Registry::with_clock(policy(), ManualClock::new());
    assert!(!registry.is_striped());
    assert!(!registry.breaker("db").unwrap().is_striped());
    let from_file =
        Registry::from_toml_with_clock("[defaults]\nmin_calls = 3\n", ManualClock::new()).unwrap();
    assert!(!from_file.breaker("db").unwrap().is_striped());
}
