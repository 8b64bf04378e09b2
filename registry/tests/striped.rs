//! A striped registry makes every breaker it creates striped, however it comes to create it.

mod creation;

use fusebox_engine::{ManualClock, Policy, State, Window};
use fusebox_registry::Registry;

#[test]
fn every_breaker_of_a_striped_registry_is_striped() {
    let striped = |clock| {
        Registry::builder(creation::policy())
            .clock(clock)
            .striped()
            .build()
    };
    assert!(striped(ManualClock::new()).is_striped());
    creation::every_created_breaker(striped, |b| b.is_striped());
}

/// Inheritance works as for any breaker, and the breaker still trips.
#[test]
fn a_striped_breaker_inherits_its_policy() {
    let registry = Registry::builder(creation::policy())
        .clock(ManualClock::new())
        .striped()
        .build();
    registry
        .set_policy(
            "svc",
            Policy::builder()
                .window(Window::count(20))
                .min_calls(3)
                .build()
                .unwrap(),
        )
        .unwrap();
    for _ in 0..3 {
        let _ = registry.call("svc.eu", || Err::<(), _>("down"));
    }
    let eu = registry.get("svc.eu").unwrap();
    assert!(eu.is_striped());
    assert_eq!(eu.policy().min_calls(), 3);
    assert_eq!(eu.state(), State::Open);
    assert_eq!(eu.metrics().failures, 3);
}

#[test]
fn a_registry_is_unstriped_by_default() {
    let registry = Registry::with_clock(creation::policy(), ManualClock::new());
    assert!(!registry.is_striped());
    assert!(!registry.breaker("db").unwrap().is_striped());
    let from_file =
        Registry::from_toml_with_clock("[defaults]\nmin_calls = 3\n", ManualClock::new()).unwrap();
    assert!(!from_file.breaker("db").unwrap().is_striped());
}
