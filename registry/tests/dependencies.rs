//! Dependencies: refused at declaration if they close a cycle; an open dependency makes the
//! registry reject its dependents' calls with its own rejection, naming it.

use std::time::Duration;

use fusebox_engine::{ManualClock, Policy, RejectReason, State};
use fusebox_registry::{CheckError, Registry, RegistryCallError, RegistryError};

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

/// The breaker that rejected the call, and its state.
fn dependency_of<T: std::fmt::Debug>(e: RegistryCallError<T>) -> (String, State) {
    match e {
        RegistryCallError::Rejected(r) => (r.breaker().to_owned(), r.state()),
        other => panic!("expected a rejection, got {other:?}"),
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
    // The dependency's own rejection, as a call to it gets, and reads as one.
    let RegistryCallError::Rejected(rejected) = &err else {
        panic!("expected a rejection, got {err:?}");
    };
    assert_eq!(rejected.reason(), RejectReason::Open);
    assert_eq!(rejected.retry_after(), Some(Duration::from_secs(10)));
    let own = r.get("payments").unwrap().try_acquire().unwrap_err();
    assert_eq!(err.to_string(), own.to_string());
    assert_eq!(
        err.to_string(),
        "breaker payments rejected the call: open (retry after 10s)"
    );
    assert_eq!(dependency_of(err), ("payments".to_owned(), State::Open));
    clock.advance(Duration::from_secs(4));
    let rejected = r.check_dependencies("checkout").unwrap_err();
    assert_eq!(rejected.breaker(), "payments");
    assert_eq!(rejected.retry_after(), Some(Duration::from_secs(6)));
    // The dependent's own breaker saw nothing; the registry counted the refusals (the
    // dependency's rejection counted above was its own acquire's).
    let checkout = r.get("checkout").unwrap();
    assert_eq!(checkout.metrics().rejected, 0);
    assert_eq!(checkout.state(), State::Closed);
    assert_eq!(r.group("checkout").metrics().dependency_rejected, 2);
    assert_eq!(r.get("payments").unwrap().metrics().rejected, 1);

    // Once the open period is over the dependency no longer holds its dependent back, even
    // before anyone probes it.
    clock.advance(Duration::from_secs(6));
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
    match r.checked_breaker("api") {
        Err(CheckError::Rejected(rejected)) => {
            assert_eq!(rejected.breaker(), "db");
            assert_eq!(rejected.reason(), RejectReason::ForcedOpen);
            assert_eq!(rejected.retry_after(), None);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        r.checked_breaker("bad name"),
        Err(CheckError::Registry(RegistryError::InvalidName { .. }))
    ));
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

#[test]
fn the_call_s_own_rejection_and_a_dependency_s_read_alike() {
    let clock = ManualClock::new();
    let r = registry(&clock);
    r.depend("api", "db").unwrap();
    // The call's own breaker open: its rejection names it.
    trip(&r, "api");
    let own = r.call("api", || Ok::<_, &str>(())).unwrap_err();
    assert_eq!(dependency_of(own.clone()), ("api".to_owned(), State::Open));
    assert!(own.is_rejection());
    assert_eq!(
        own.to_string(),
        "breaker api rejected the call: open (retry after 10s)"
    );
    // Both open: the dependency is checked first, as before any permit is taken.
    trip(&r, "db");
    let both = r.call("api", || Ok::<_, ()>(())).unwrap_err();
    assert_eq!(dependency_of(both), ("db".to_owned(), State::Open));
    // Failures read as the call's own error, as the engine's `CallError` does.
    clock.advance(Duration::from_secs(10));
    let failed = r.call("db", || Err::<(), _>("timeout")).unwrap_err();
    assert!(!failed.is_rejection());
    assert_eq!(failed.to_string(), "timeout");
    // Registry refusals read as the registry's error.
    let invalid = r.call("bad name", || Ok::<_, &str>(())).unwrap_err();
    assert!(
        invalid.to_string().starts_with("invalid breaker name"),
        "{invalid}"
    );
}

#[test]
fn refusals_are_counted_per_dependent_and_leave_with_its_breaker() {
    let clock = ManualClock::new();
    let r = registry(&clock);
    r.depend("checkout", "payments").unwrap();
    r.depend("search", "payments").unwrap();
    r.breaker("checkout").unwrap();
    r.breaker("search").unwrap();
    // Forced open: it refuses its dependents however long the test runs.
    r.breaker("payments").unwrap().force_open();
    for _ in 0..3 {
        assert!(r.check_dependencies("checkout").is_err());
    }
    assert!(r.check_dependencies("search").is_err());
    let counted = |name: &str| {
        let snapshot = r.snapshot();
        let b = snapshot.breakers.iter().find(|b| b.name == name);
        b.map(|b| b.dependency_rejected)
    };
    assert_eq!((counted("checkout"), counted("search")), (Some(3), Some(1)));
    assert_eq!(r.group("checkout").metrics().dependency_rejected, 3);
    // A name with no breaker counts nothing.
    assert!(r.check_dependencies("cart").is_ok());

    // A refusal is a use: the dependent is not idle while its calls are refused.
    clock.advance(Duration::from_secs(600));
    r.prune_idle(Duration::from_secs(1)); // dates the lookups above
    clock.advance(Duration::from_secs(600));
    assert!(r.check_dependencies("checkout").is_err());
    assert_eq!(
        r.prune_idle(Duration::from_secs(300)),
        1,
        "search alone is idle"
    );
    assert_eq!(counted("checkout"), Some(4));

    // The count leaves with the breaker: a new one by the same name starts from none.
    assert!(r.remove("checkout").is_some());
    r.breaker("checkout").unwrap();
    assert_eq!(counted("checkout"), Some(0));
    assert!(r.check_dependencies("checkout").is_err());
    assert_eq!(counted("checkout"), Some(1));
}
