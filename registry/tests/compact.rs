//! A compact registry makes every breaker it creates compact, however it comes to create it,
//! and its breakers decide as a default registry's do.

mod creation;

use std::time::Duration;

use fusebox_engine::ManualClock;
use fusebox_registry::Registry;

#[test]
fn every_breaker_of_a_compact_registry_is_compact() {
    let compact = |clock| {
        Registry::builder(creation::policy())
            .clock(clock)
            .compact()
            .build()
    };
    assert!(compact(ManualClock::new()).is_compact());
    assert!(!compact(ManualClock::new()).is_striped());
    creation::every_created_breaker(compact, |b| b.is_compact());
}

#[test]
fn compact_and_default_registries_decide_alike() {
    let clock = ManualClock::new();
    let compact = Registry::builder(creation::policy())
        .clock(clock.clone())
        .compact()
        .build();
    let default = Registry::with_clock(creation::policy(), clock.clone());
    assert!(!default.is_compact());
    for step in 0u64..400 {
        let name = format!("tenant.{}", step % 7);
        let fails = (step * 7919) % 10 < 4;
        let call = |r: &Registry| {
            r.call(&name, || if fails { Err("down") } else { Ok(()) })
                .map_err(|e| e.to_string())
        };
        assert_eq!(call(&compact), call(&default), "step {step}");
        if step % 25 == 0 {
            clock.advance(Duration::from_secs(3));
        }
    }
    let rejected: u64 = default
        .breakers()
        .iter()
        .map(|b| b.metrics().counters.rejected)
        .sum();
    assert!(rejected > 0, "the sequence trips breakers");
    for b in default.breakers() {
        let c = compact.get(b.name()).unwrap();
        assert!(c.is_compact() && !b.is_compact());
        assert_eq!(c.state(), b.state(), "{}", b.name());
        assert_eq!(c.metrics().counters, b.metrics().counters, "{}", b.name());
    }
}
