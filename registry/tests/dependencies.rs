//! Dependencies: refused at declaration if they close a cycle; an open dependency makes the
//! registry refuse its dependents' calls, naming it.

use std::time::Duration;

use fusebox_engine::{ManualClock, Policy, State};
use fusebox_registry::{Registry, RegistryCallError, RegistryError};

fn registry(clock: &ManualClock) -> Registry {
    let policy = Policy::builder()
        .min_calls(1)
        .open_timeout(Duration::from_secs(10))
        .half_open_permits(1)
        .success_threshold(1)
        .build()
        .unwrap();
    Registry::with_clock(policy, clock.clone())
}

fn trip(r: &Registry, name: &str) {
    let _ = r.call(name, || Err::<(), _>("down"));
    assert_eq!(r.get(name).unwrap().state(), State::Open);
}

fn dependency_of<T: std::fmt::Debug>(e: RegistryCallError<T>) -> (String, State) {
    match e {
        RegistryCallError::Registry(RegistryError::DependencyOpen {
            dependency, state, ..
        }) => (dependency, state),
        other => panic!("expected DependencyOpen, got {other:?}"),
    }
}

#[test]
fn cycles_are_rejected_at_declaration() {
    let r = registry(&ManualClock::new());
    let cycle = |e: RegistryError| match e {
        RegistryError::DependencyCycle { cycle } => cycle,
        other => panic!("{other:?}"),
    };
    assert_eq!(cycle(r.depend("a", "a").unwrap_err()), ["a", "a"]);
    r.depend("a", "b").unwrap();
    r.depend("b", "c").unwrap();
    r.depend("a", "c").unwrap(); // a diamond-ish shortcut is fine
    assert_eq!(cycle(r.depend("b", "a").unwrap_err()), ["b", "a", "b"]);
    assert_eq!(cycle(r.depend("c", "a").unwrap_err()).len(), 3);
    r.depend("c", "d").unwrap();
    let long = cycle(r.depend("d", "a").unwrap_err());
    assert_eq!(long.first().map(String::as_str), Some("d"));
    assert_eq!(long.last().map(String::as_str), Some("d"));
    // Nothing changed by the refused declarations.
    assert_eq!(r.dependencies("a"), ["b", "c"]);
    assert_eq!(r.dependencies("b"), ["c"]);
    assert!(r.dependencies("d").is_empty());
    // Withdrawing an edge makes the reverse one legal.
    assert!(r.undepend("a", "b") && r.undepend("a", "c"));
    r.depend("c", "a").unwrap();
    assert!(matches!(
        r.depend("a", "bad name"),
        Err(RegistryError::InvalidName { .. })
    ));
}

#[test]
fn an_open_dependency_rejects_naming_it_until_its_period_is_over() {
    let clock = ManualClock::new();
    let r = registry(&clock);
    r.depend("checkout", "payments").unwrap();
    assert_eq!(r.call("checkout", || Ok::<_, ()>(1)).unwrap(), 1);
    trip(&r, "payments");

    let mut ran = false;
    let err = r
        .call("checkout", || {
            ran = true;
            Ok::<_, &str>(())
        })
        .unwrap_err();
    assert!(!ran);
    let text = err.to_string();
    assert_eq!(dependency_of(err), ("payments".to_owned(), State::Open));
    assert!(
        text.contains("payments") && text.contains("checkout"),
        "{text}"
    );
    match r.check_dependencies("checkout") {
        Err(RegistryError::DependencyOpen { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(10)))
        }
        other => panic!("{other:?}"),
    }
    // The dependent's own breaker saw nothing; the registry counted the refusals.
    let checkout = r.get("checkout").unwrap();
    assert_eq!(checkout.metrics().rejected, 0);
    assert_eq!(checkout.state(), State::Closed);
    assert_eq!(r.group("checkout").metrics().dependency_rejected, 2);

    // Once the open period is over the dependency no longer holds its dependent back, even
    // before anyone probes it.
    clock.advance(Duration::from_secs(10));
    assert_eq!(r.get("payments").unwrap().state(), State::Open);
    assert!(r.call("checkout", || Ok::<_, ()>(())).is_ok());
    // A successful probe closes it.
    r.call("payments", || Ok::<_, ()>(())).unwrap();
    assert_eq!(r.get("payments").unwrap().state(), State::Closed);
}

#[test]
fn forced_open_and_transitive_dependencies_reject() {
    let r = registry(&ManualClock::new());
    r.depend("web", "api").unwrap();
    r.depend("api", "db").unwrap();
    r.depend("api", "cache").unwrap();
    r.breaker("db").unwrap().force_open();
    assert_eq!(
        dependency_of(r.call("web", || Ok::<_, ()>(())).unwrap_err()),
        ("db".to_owned(), State::ForcedOpen)
    );
    assert_eq!(
        dependency_of(r.call("api", || Ok::<_, ()>(())).unwrap_err()),
        ("db".to_owned(), State::ForcedOpen)
    );
    // The nearest open dependency is named first.
    r.breaker("api").unwrap().force_open();
    assert_eq!(
        dependency_of(r.call("web", || Ok::<_, ()>(())).unwrap_err()),
        ("api".to_owned(), State::ForcedOpen)
    );
    r.group("").reset(); // the empty prefix is no group: nothing is reset
    r.breaker("api").unwrap().reset();
    r.breaker("db").unwrap().reset();
    assert!(r.call("web", || Ok::<_, ()>(())).is_ok());
    // Disabled, metrics-only and missing dependencies do not block.
    r.breaker("db").unwrap().disable();
    r.breaker("cache").unwrap().metrics_only();
    r.depend("web", "never.created").unwrap();
    assert!(r.call("web", || Ok::<_, ()>(())).is_ok());
    assert!(!r.contains("never.created"));
}

#[test]
fn calling_the_breaker_directly_bypasses_dependencies() {
    let r = registry(&ManualClock::new());
    r.depend("api", "db").unwrap();
    r.breaker("db").unwrap().force_open();
    let api = r.breaker("api").unwrap();
    assert!(api.call(|| Ok::<_, ()>(())).is_ok());
    assert!(r.checked_breaker("api").is_err());
    assert!(r.call("api", || Ok::<_, ()>(())).is_err());
}

#[test]
fn async_calls_check_dependencies_too() {
    let r = registry(&ManualClock::new());
    r.depend("api", "db").unwrap();
    r.breaker("db").unwrap().force_open();
    let res = futures_executor::block_on(r.call_async("api", async { Ok::<_, ()>(1) }));
    assert_eq!(dependency_of(res.unwrap_err()).0, "db");
}
