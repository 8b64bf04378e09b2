//! The registry and its breakers are handles: clones share one registry, breakers are handed
//! out as `Breaker` handles, and a handle survives a panic caught around a registry call.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use fusebox_engine::{Breaker, Clock, ManualClock, Policy, State};
use fusebox_registry::{Registry, RegistryError};

#[test]
fn clones_share_one_registry() {
    let registry = Registry::with_clock(Policy::default(), ManualClock::new());
    let other = registry.clone();
    let a = registry.breaker("db").unwrap();
    assert!(Breaker::ptr_eq(&a, &other.get("db").unwrap()));
    other
        .set_policy("db", Policy::builder().min_calls(3).build().unwrap())
        .unwrap();
    assert_eq!(a.policy().min_calls(), 3);
    // A clone moves into a thread; what it does there is seen through every handle.
    let moved = registry.clone();
    thread::spawn(move || {
        moved.breaker("made.elsewhere").unwrap().force_open();
    })
    .join()
    .unwrap();
    assert_eq!(
        other.get("made.elsewhere").unwrap().state(),
        State::ForcedOpen
    );
    drop(registry);
    assert_eq!(other.len(), 2);
}

#[test]
fn breakers_are_handed_out_as_handles() {
    let registry = Registry::with_clock(Policy::default(), ManualClock::new());
    let b = registry.breaker("svc").unwrap();
    // The registry's handle and this one.
    assert_eq!(b.handle_count(), 2);
    let listed = registry.breakers();
    assert!(Breaker::ptr_eq(&listed[0], &b));
    assert!(Breaker::ptr_eq(&registry.group("svc").breakers()[0], &b));
    drop(listed);
    let removed = registry.remove("svc").unwrap();
    assert!(Breaker::ptr_eq(&removed, &b));
    drop(removed);
    // The registry no longer holds it; the caller's handle still works.
    assert_eq!(b.handle_count(), 1);
    assert!(b.call(|| Ok::<_, ()>(())).is_ok());
}

#[test]
fn a_breaker_someone_holds_a_handle_to_is_never_pruned() {
    let clock = ManualClock::new();
    let registry = Registry::with_clock(Policy::default(), clock.clone());
    let held = registry.breaker("held").unwrap();
    registry.breaker("dropped").unwrap();
    clock.advance(Duration::from_secs(600));
    assert_eq!(registry.prune_idle(Duration::from_secs(60)), 1);
    assert_eq!(registry.names(), ["held"]);
    // A clone of the handle counts as much as the handle.
    let clone = held.clone();
    drop(held);
    assert_eq!(registry.prune_idle(Duration::from_secs(60)), 0);
    drop(clone);
    assert_eq!(registry.prune_idle(Duration::from_secs(60)), 1);
    assert!(registry.is_empty());
}

/// A clock that panics while `fail` is set.
#[derive(Clone)]
struct Flaky {
    inner: ManualClock,
    fail: Arc<AtomicBool>,
}

impl Clock for Flaky {
    fn now_nanos(&self) -> u64 {
        // Relaxed: the test sets and reads the flag on one thread.
        if self.fail.load(Ordering::Relaxed) {
            panic!("clock unavailable");
        }
        self.inner.now_nanos()
    }
}

#[test]
fn a_creation_that_panics_gives_its_capacity_back() {
    let fail = Arc::new(AtomicBool::new(false));
    let clock = Flaky {
        inner: ManualClock::new(),
        fail: fail.clone(),
    };
    let registry = Registry::builder(Policy::default())
        .clock(clock)
        .capacity(1)
        .build();
    // Relaxed: as in `Flaky::now_nanos`.
    fail.store(true, Ordering::Relaxed);
    // A registry handle crosses `catch_unwind` without `AssertUnwindSafe`.
    let r = registry.clone();
    assert!(catch_unwind(move || r.breaker("a").map(|_| ())).is_err());
    // Relaxed: as in `Flaky::now_nanos`.
    fail.store(false, Ordering::Relaxed);
    assert!(registry.is_empty());
    assert!(registry.breaker("a").is_ok());
    assert_eq!(
        registry.breaker("b").unwrap_err(),
        RegistryError::Full { capacity: 1 }
    );
}

#[test]
fn a_panic_in_a_guarded_call_leaves_the_registry_usable() {
    let registry = Registry::with_clock(Policy::default(), ManualClock::new());
    let caught = catch_unwind(AssertUnwindSafe(|| {
        registry.call("svc", || -> Result<(), ()> { panic!("handler bug") })
    }));
    assert!(caught.is_err());
    let svc = registry.get("svc").unwrap();
    assert_eq!(svc.metrics().failures, 1);
    registry.apply_toml("[defaults]\nmin_calls = 4\n").unwrap();
    assert_eq!(svc.policy().min_calls(), 4);
    assert!(registry.call("svc", || Ok::<_, ()>(())).is_ok());
}
