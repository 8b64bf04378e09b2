//! Snapshots round-trip through JSON: state, time left open, backoff step, counters,
//! policies and their sources, dependencies.

use std::time::Duration;

use fusebox_engine::{Backoff, Breaker, ManualClock, Policy, State};
use fusebox_registry::{PolicySource, Registry, RegistryError, SNAPSHOT_VERSION, Snapshot};

fn policy() -> Policy {
    Policy::builder()
        .min_calls(2)
        .open_timeout(Duration::from_secs(10))
        .backoff(Backoff::exponential(2.0, Duration::from_secs(100)))
        .half_open_permits(1)
        .success_threshold(1)
        .build()
        .unwrap()
}

/// A registry with a breaker in every restorable situation.
fn populated(clock: &ManualClock) -> Registry {
    let r = Registry::with_clock(policy(), clock.clone());
    r.set_policy(
        "stripe",
        policy().to_builder().min_calls(3).build().unwrap(),
    )
    .unwrap();
    r.set_policy(
        "stripe.eu",
        policy().to_builder().min_calls(4).build().unwrap(),
    )
    .unwrap();
    r.depend("checkout", "stripe.eu").unwrap();
    r.depend("stripe.eu", "db").unwrap();

    // `db`: open twice in a row (backoff step 1, period 20 s), 5 s into its second period.
    for _ in 0..2 {
        let _ = r.call("db", || Err::<(), _>(()));
    }
    clock.advance(Duration::from_secs(10));
    let _ = r.call("db", || Err::<(), _>(())); // the probe fails: re-open, 20 s
    // `stripe.eu.fr`: calls, then half-open with a probe in flight.
    let fr = r.breaker("stripe.eu.fr").unwrap();
    for i in 0..10 {
        let _ = fr.call(|| if i < 4 { Ok(()) } else { Err(()) });
    }
    assert_eq!(fr.state(), State::Open);
    clock.advance(Duration::from_secs(5));
    // `stripe.eu`: forced open; `stripe`: disabled; `paypal`: metrics-only.
    r.breaker("stripe.eu").unwrap().force_open();
    r.breaker("stripe").unwrap().disable();
    r.breaker("paypal").unwrap().metrics_only();
    let _ = r.call("paypal", || Err::<(), _>(()));
    // `checkout`: closed, refused once because its dependency is forced open.
    assert!(r.call("checkout", || Ok::<_, ()>(())).is_err());
    r
}

#[test]
fn snapshot_round_trips_through_json() {
    let clock = ManualClock::new();
    let before = populated(&clock);
    // A probe in flight while the snapshot is taken (10 s after `stripe.eu.fr` opened).
    clock.advance(Duration::from_secs(5));
    let fr = before.get("stripe.eu.fr").unwrap();
    let probe = fr.try_acquire().unwrap();
    assert_eq!(fr.state(), State::HalfOpen);

    let snap = before.snapshot();
    drop(probe);
    let json = serde_json::to_string_pretty(&snap).unwrap();
    let back: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snap);
    assert_eq!(snap.version, SNAPSHOT_VERSION);

    let by_name = |n: &str| snap.breakers.iter().find(|b| b.name == n).unwrap().clone();
    let db = by_name("db");
    assert_eq!(db.state, State::Open);
    assert_eq!(db.backoff_step, 1);
    assert_eq!(db.open_remaining, Some(Duration::from_secs(10)));
    assert_eq!((db.counters.failures, db.counters.admitted), (3, 3));
    assert_eq!(db.policy_source, PolicySource::Default);
    let fr_snap = by_name("stripe.eu.fr");
    assert_eq!(fr_snap.state, State::HalfOpen);
    assert_eq!(
        fr_snap.policy_source,
        PolicySource::Inherited("stripe.eu".into())
    );
    assert_eq!(by_name("stripe.eu").policy_source, PolicySource::Own);
    assert_eq!(by_name("checkout").dependency_rejected, 1);
    assert!(json.contains("\"state\": \"forced-open\""), "{json}");
    assert!(json.contains("\"inherited\": \"stripe.eu\""), "{json}");

    // Restore on a different clock at a different time, into a registry with another default.
    let clock2 = ManualClock::new();
    clock2.set(Duration::from_secs(1000));
    let after = Registry::with_clock(Policy::default(), clock2.clone());
    after.restore(&back).unwrap();

    assert_eq!(after.names(), before.names());
    assert_eq!(after.policies(), before.policies());
    assert_eq!(after.default_policy(), before.default_policy());
    assert_eq!(after.dependencies("stripe.eu"), ["db"]);
    for b in &snap.breakers {
        let restored = after.get(&b.name).unwrap();
        let want = if b.state == State::HalfOpen {
            State::Open
        } else {
            b.state
        };
        assert_eq!(restored.state(), want, "{}", b.name);
        assert_eq!(restored.backoff_step(), b.backoff_step, "{}", b.name);
        let m = restored.metrics();
        let c = b.counters;
        assert_eq!(
            (
                m.admitted,
                m.successes,
                m.failures,
                m.ignored,
                m.slow,
                m.rejected
            ),
            (
                c.admitted,
                c.successes,
                c.failures,
                c.ignored,
                c.slow,
                c.rejected
            ),
            "{}",
            b.name
        );
        assert_eq!(
            *restored.policy(),
            *before.get(&b.name).unwrap().policy(),
            "{}",
            b.name
        );
    }
    // The second snapshot equals the first: counters, sources and time left included.
    assert_eq!(
        after.snapshot().breakers,
        snap.breakers
            .iter()
            .map(|b| {
                let mut b = b.clone();
                if b.state == State::HalfOpen {
                    b.state = State::Open;
                    b.open_remaining = Some(Duration::ZERO);
                }
                b
            })
            .collect::<Vec<_>>()
    );

    // `db` stays open exactly the 10 s it had left, then probes with its backoff step.
    let db = after.get("db").unwrap();
    assert_eq!(db.open_remaining(), Some(Duration::from_secs(10)));
    clock2.advance(Duration::from_secs(9));
    assert!(after.call("db", || Ok::<_, ()>(())).is_err());
    clock2.advance(Duration::from_secs(1));
    let _ = after.call("db", || Err::<(), _>(())); // probe fails: step 2, 40 s
    assert_eq!(db.open_remaining(), Some(Duration::from_secs(40)));

    // The half-open breaker came back open with its period over: its next call probes.
    assert!(after.call("stripe.eu.fr", || Ok::<_, ()>(())).is_ok());
    assert_eq!(after.get("stripe.eu.fr").unwrap().state(), State::Closed);
    // The dependency is restored too: `stripe.eu` is forced open, so `checkout` is refused.
    assert!(after.call("checkout", || Ok::<_, ()>(())).is_err());
}

#[test]
fn restore_checks_everything_before_changing_anything() {
    let clock = ManualClock::new();
    let snap = populated(&clock).snapshot();
    let target = Registry::builder(policy())
        .clock(ManualClock::new())
        .capacity(3)
        .build();
    target.breaker("existing").unwrap().force_open();
    let untouched = |r: &Registry| {
        assert_eq!(r.names(), ["existing"]);
        assert!(r.policies().is_empty());
        assert_eq!(r.get("existing").unwrap().state(), State::ForcedOpen);
    };

    assert_eq!(
        target.restore(&snap).unwrap_err(),
        RegistryError::Full { capacity: 3 }
    );
    untouched(&target);

    let mut bad = snap.clone();
    bad.breakers[0].name = "bad name".into();
    assert!(matches!(
        target.restore(&bad),
        Err(RegistryError::InvalidName { .. })
    ));
    untouched(&target);

    let mut cyclic = snap.clone();
    cyclic
        .dependencies
        .insert("db".into(), vec!["checkout".into()]);
    assert!(matches!(
        target.restore(&cyclic),
        Err(RegistryError::DependencyCycle { .. })
    ));
    untouched(&target);

    let mut future = snap.clone();
    future.version = SNAPSHOT_VERSION + 1;
    assert_eq!(
        target.restore(&future).unwrap_err(),
        RegistryError::UnsupportedSnapshot {
            version: SNAPSHOT_VERSION + 1
        }
    );
    untouched(&target);
}

#[test]
fn restore_keeps_breakers_not_in_the_snapshot_and_repoints_their_policies() {
    let source = Registry::with_clock(policy(), ManualClock::new());
    source
        .set_policy("svc", policy().to_builder().min_calls(7).build().unwrap())
        .unwrap();
    source.breaker("svc.a").unwrap();
    let target = Registry::with_clock(policy(), ManualClock::new());
    let held = target.breaker("svc.b").unwrap();
    held.force_open();
    target.restore(&source.snapshot()).unwrap();
    assert_eq!(target.names(), ["svc.a", "svc.b"]);
    assert_eq!(held.state(), State::ForcedOpen);
    assert_eq!(held.policy().min_calls(), 7);
    assert!(Breaker::ptr_eq(&held, &target.get("svc.b").unwrap()));
}

#[test]
fn json_shape_is_stable() {
    let r = Registry::with_clock(policy(), ManualClock::new());
    r.breaker("db").unwrap();
    let v: serde_json::Value = serde_json::to_value(r.snapshot()).unwrap();
    let b = &v["breakers"][0];
    assert_eq!(b["name"], "db");
    assert_eq!(b["state"], "closed");
    assert_eq!(b["open_remaining"], serde_json::Value::Null);
    assert_eq!(b["backoff_step"], 0);
    assert_eq!(b["policy_source"], "default");
    assert_eq!(b["counters"]["admitted"], 0);
    assert_eq!(v["version"], SNAPSHOT_VERSION);
    assert!(v["default_policy"].is_object());
}
