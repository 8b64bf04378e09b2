//! Threads against one registry: get-or-create races, policy reloads under load, capacity.

use std::collections::HashSet;
use std::sync::Barrier;
use std::thread;

mod common;

use fusebox_engine::{Breaker, ManualClock, Policy, State, Window};
use fusebox_registry::{Registry, RegistryError};

#[test]
fn concurrent_first_calls_create_one_breaker() {
    const THREADS: usize = 8;
    for round in 0..50 {
        let registry = Registry::with_clock(Policy::default(), ManualClock::new());
        let name = format!("race.{round}");
        let barrier = Barrier::new(THREADS);
        let got: Vec<_> = thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        registry.breaker(&name).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for b in &got[1..] {
            assert!(Breaker::ptr_eq(&got[0], b), "round {round}");
        }
        assert_eq!(registry.len(), 1);
        // The registry's handle plus one per thread.
        assert_eq!(got[0].handle_count(), THREADS + 1);
    }
}

#[test]
fn concurrent_creators_never_exceed_the_capacity() {
    const CAPACITY: usize = 1000;
    const THREADS: usize = 4;
    let registry = Registry::builder(Policy::default())
        .clock(ManualClock::new())
        .capacity(CAPACITY)
        .build();
    let barrier = Barrier::new(THREADS);
    let (created, full): (usize, usize) = thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (registry, barrier) = (&registry, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let (mut ok, mut full) = (0, 0);
                    // Overlapping name ranges: some names are raced for, most are not.
                    for i in t * 400..t * 400 + 800 {
                        match registry.breaker(&format!("n{i}")) {
                            Ok(_) => ok += 1,
                            Err(RegistryError::Full { capacity }) => {
                                assert_eq!(capacity, CAPACITY);
                                full += 1;
                            }
                            Err(e) => panic!("{e}"),
                        }
                    }
                    (ok, full)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    assert_eq!(registry.len(), CAPACITY);
    assert_eq!(registry.names().len(), CAPACITY);
    assert_eq!(created + full, THREADS * 800);
    assert!(full > 0);
}

/// Two threads call one inheriting breaker through the registry while a third alternates the
/// parent's policy between two window shapes; every call is accounted for exactly.
#[test]
fn reload_under_load_keeps_exact_counters() {
    /// Calls per thread, at least; each calls on until `SWAPS` policies have been set, so that
    /// fast calls cannot all finish before the first swap.
    const CALLS: u64 = 20_000;
    const SWAPS: u64 = 20;
    let loose = Policy::builder()
        .window(Window::count(50))
        .failure_rate_threshold(1.0)
        .min_calls(50)
        .build()
        .unwrap();
    let other = Policy::builder()
        .window(Window::count(80))
        .failure_rate_threshold(1.0)
        .min_calls(80)
        .build()
        .unwrap();
    let registry = Registry::with_clock(Policy::default(), ManualClock::new());
    registry.set_policy("svc", loose.clone()).unwrap();
    let seen = common::calls_under_changes(&registry, ["svc.api"; 2], CALLS, SWAPS, |i| {
        let p = if i % 2 == 1 { &other } else { &loose };
        registry.set_policy("svc", p.clone()).unwrap();
    });

    let b = registry.get("svc.api").unwrap();
    let m = b.metrics();
    assert_eq!(m.state, State::Closed);
    assert!(seen.calls() >= 2 * CALLS);
    assert_eq!(m.admitted, seen.calls());
    assert_eq!(m.successes, seen.successes);
    assert_eq!(m.failures, seen.failures);
    assert_eq!(m.failures, seen.expected_failures());
    assert_eq!(m.successes + m.failures, seen.calls());
    assert_eq!(m.rejected, 0);
    assert!(seen.changes >= SWAPS);
    // The breaker ends with whichever policy was set last.
    let last = if seen.changes % 2 == 1 {
        &other
    } else {
        &loose
    };
    assert_eq!(*b.policy(), *last);
}

/// Creation racing with `set_policy` on the parent: every breaker ends with the last policy.
#[test]
fn creation_racing_with_set_policy_never_keeps_a_stale_policy() {
    let a = Policy::builder().min_calls(2).build().unwrap();
    let b = Policy::builder().min_calls(3).build().unwrap();
    let registry = Registry::with_clock(a.clone(), ManualClock::new());
    thread::scope(|s| {
        s.spawn(|| {
            for i in 0..2000 {
                registry.breaker(&format!("p.c{i}")).unwrap();
            }
        });
        s.spawn(|| {
            for i in 0..200 {
                let p = if i % 2 == 0 { &a } else { &b };
                registry.set_policy("p", p.clone()).unwrap();
            }
        });
    });
    let last = registry.resolved_policy("p.anything").unwrap();
    let mut seen = HashSet::new();
    for br in registry.breakers() {
        seen.insert(br.policy().min_calls());
        assert_eq!(*br.policy(), last, "{}", br.name());
    }
    assert_eq!(seen.len(), 1);
}

#[test]
fn lookups_race_with_removal_and_pruning() {
    let clock = ManualClock::new();
    let registry = Registry::with_clock(Policy::default(), clock.clone());
    thread::scope(|s| {
        for t in 0..2 {
            let registry = &registry;
            s.spawn(move || {
                for i in 0..5000 {
                    let name = format!("k{}", (i * 7 + t) % 64);
                    let b = registry.breaker(&name).unwrap();
                    assert_eq!(b.name(), name);
                    let _ = b.call(|| Ok::<_, ()>(()));
                }
            });
        }
        s.spawn(|| {
            for i in 0..500 {
                registry.remove(&format!("k{}", i % 64));
                clock.advance(std::time::Duration::from_secs(1));
                registry.prune_idle(std::time::Duration::ZERO);
            }
        });
    });
    assert_eq!(registry.len(), registry.names().len());
    assert!(registry.len() <= 64);
}
