//! `prune_idle`: only idle, closed breakers nobody holds go, and never before their time.

use std::time::Duration;

use fusebox_engine::{ManualClock, Policy, State};
use fusebox_registry::Registry;

const IDLE: Duration = Duration::from_secs(60);

fn setup() -> (ManualClock, Registry) {
    let clock = ManualClock::new();
    let policy = Policy::builder().min_calls(1).build().unwrap();
    (clock.clone(), Registry::with_clock(policy, clock))
}

#[test]
fn created_and_never_used_again_goes_after_the_idle_time() {
    let (clock, r) = setup();
    r.breaker("a").unwrap();
    clock.advance(IDLE - Duration::from_secs(1));
    assert_eq!(r.prune_idle(IDLE), 0);
    clock.advance(Duration::from_secs(1));
    assert_eq!(r.prune_idle(IDLE), 1);
    assert!(r.is_empty());
    assert!(r.get("a").is_none());
}

#[test]
fn held_open_forced_disabled_breakers_stay() {
    let (clock, r) = setup();
    let held = r.breaker("held").unwrap();
    let _ = r.call("open", || Err::<(), _>(()));
    r.breaker("forced").unwrap().force_open();
    r.breaker("disabled").unwrap().disable();
    r.breaker("metrics").unwrap().metrics_only();
    r.breaker("idle").unwrap();
    clock.advance(IDLE * 10);
    // Two passes, each far apart: only `idle` ever goes.
    assert_eq!(r.prune_idle(IDLE), 1);
    clock.advance(IDLE * 10);
    assert_eq!(r.prune_idle(IDLE), 0);
    assert_eq!(r.names(), ["disabled", "forced", "held", "metrics", "open"]);
    assert_eq!(r.get("open").unwrap().state(), State::Open);
    drop(held);
    clock.advance(IDLE * 10);
    assert_eq!(r.prune_idle(IDLE), 1);
    assert!(!r.contains("held"));
}

#[test]
fn lookups_keep_a_breaker() {
    let (clock, r) = setup();
    r.breaker("looked.up").unwrap();
    // A lookup every 30 s, a pass every 30 s: it never goes.
    for _ in 0..10 {
        clock.advance(Duration::from_secs(30));
        assert!(r.get("looked.up").is_some());
        assert_eq!(r.prune_idle(IDLE), 0);
    }
    // Once lookups stop, it goes within the idle time plus two pass intervals.
    let mut waited = Duration::ZERO;
    loop {
        clock.advance(Duration::from_secs(30));
        waited += Duration::from_secs(30);
        if r.prune_idle(IDLE) == 1 {
            break;
        }
    }
    assert!(
        waited >= IDLE && waited <= IDLE + Duration::from_secs(60),
        "{waited:?}"
    );
}

#[test]
fn calls_through_a_held_handle_keep_a_breaker_after_it_is_released() {
    let (clock, r) = setup();
    let b = r.breaker("svc").unwrap();
    clock.advance(Duration::from_secs(30));
    assert_eq!(r.prune_idle(IDLE), 0); // held
    let _ = b.call(|| Ok::<_, ()>(()));
    drop(b);
    clock.advance(Duration::from_secs(30));
    // Counters moved since the last pass: in use, dated now.
    assert_eq!(r.prune_idle(IDLE), 0);
    clock.advance(IDLE - Duration::from_secs(1));
    assert_eq!(r.prune_idle(IDLE), 0);
    clock.advance(Duration::from_secs(1));
    assert_eq!(r.prune_idle(IDLE), 1);
}

#[test]
fn a_pruned_name_comes_back_fresh_with_its_inherited_policy() {
    let (clock, r) = setup();
    r.set_policy("t", Policy::builder().min_calls(5).build().unwrap())
        .unwrap();
    let _ = r.call("t.42", || Err::<(), _>(()));
    r.get("t.42").unwrap().reset();
    clock.advance(IDLE);
    assert_eq!(r.prune_idle(IDLE), 0); // the lookup above counts as a use, dated now
    clock.advance(IDLE);
    assert_eq!(r.prune_idle(IDLE), 1);
    let b = r.breaker("t.42").unwrap();
    assert_eq!(b.metrics().admitted, 0);
    assert_eq!(b.policy().min_calls(), 5);
}
