//! Every way a registry comes to create a breaker, for the options a registry gives all its
//! breakers (striping, packing): each must hold for every one of them.

use std::time::Duration;

use fusebox_engine::{Breaker, ManualClock, Policy, State, Window};
use fusebox_registry::Registry;

/// The registries' default policy here: a 10-call window that trips on 4 failures of 4 calls.
pub fn policy() -> Policy {
    Policy::builder()
        .window(Window::count(10))
        .min_calls(4)
        .build()
        .unwrap()
}

/// Checks `has` of the breakers `make` (a registry builder, given its clock) creates by lookup,
/// by call, by restoring a snapshot and by re-creation after a prune; and that a breaker so
/// made still trips (on [`policy`]).
pub fn every_created_breaker(
    make: impl Fn(ManualClock) -> Registry,
    has: impl Fn(&Breaker) -> bool,
) {
    let clock = ManualClock::new();
    let registry = make(clock.clone());
    assert!(has(&registry.breaker("looked.up").unwrap()), "by lookup");
    let _ = registry.call("called", || Ok::<_, ()>(()));
    assert!(has(&registry.get("called").unwrap()), "by call");

    for _ in 0..4 {
        let _ = registry.call("svc.eu", || Err::<(), _>("down"));
    }
    let eu = registry.get("svc.eu").unwrap();
    assert_eq!(eu.state(), State::Open);
    assert_eq!(eu.metrics().failures, 4);

    let other = make(ManualClock::new());
    other.restore(&registry.snapshot()).unwrap();
    assert!(other.breakers().iter().all(&has), "by restore");
    assert_eq!(other.get("svc.eu").unwrap().state(), State::Open);

    drop(eu);
    registry.breaker("gone").unwrap();
    clock.advance(Duration::from_secs(3600));
    assert!(registry.prune_idle(Duration::from_secs(60)) >= 1);
    assert!(!registry.contains("gone"));
    assert!(has(&registry.breaker("gone").unwrap()), "after a prune");
}
