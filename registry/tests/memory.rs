//! Memory: a flood of distinct names stays within the capacity, bytes per breaker are
//! measured, and everything is returned on removal. Counted with a global allocator that
//! counts per thread: the harness allocates on its own threads, and tests run in parallel.

use std::time::Duration;

use fusebox_engine::{Breaker, ManualClock, Policy, Window};
use fusebox_registry::{Registry, RegistryError};
use fusebox_test_support::{Counting, counting, live, peak, reset_peak};

#[global_allocator]
static GLOBAL: Counting = Counting;

fn policy() -> Policy {
    Policy::builder()
        .window(Window::count(100))
        .build()
        .unwrap()
}

/// Runs `f` with this thread's allocations counted; returns its result, the bytes still live
/// after it and the peak above the start.
fn counted<T>(f: impl FnOnce() -> T) -> (T, isize, isize) {
    let start = live();
    reset_peak();
    counting(true);
    let out = f();
    counting(false);
    (out, live() - start, peak() - start)
}

#[test]
fn a_flood_of_distinct_names_stays_within_the_capacity() {
    const CAPACITY: usize = 10_000;
    const ATTEMPTS: usize = 1_000_000;
    let registry = Registry::builder(policy())
        .clock(ManualClock::new())
        .capacity(CAPACITY)
        .build();
    registry.breaker("warm").unwrap();
    registry.remove("warm");

    let mut name = String::with_capacity(32);
    let ((created, full), live, peak) = counted(|| {
        let (mut created, mut full) = (0usize, 0usize);
        for i in 0..ATTEMPTS {
            use std::fmt::Write;
            name.clear();
            write!(name, "tenant-{i}").unwrap();
            match registry.breaker(&name) {
                Ok(_) => created += 1,
                Err(RegistryError::Full { capacity }) => {
                    assert_eq!(capacity, CAPACITY);
                    full += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
        (created, full)
    });
    assert_eq!(created, CAPACITY);
    assert_eq!(full, ATTEMPTS - CAPACITY);
    assert_eq!(registry.len(), CAPACITY);
    // Refused names cost nothing that stays: the peak is the capacity's worth of breakers.
    let per_breaker = live as usize / CAPACITY;
    println!("flood: {per_breaker} B per breaker live, peak {peak} B");
    // Map tables grow by doubling, so the peak may hold an old and a new table at once.
    assert!(peak <= 2 * live, "peak {peak} vs live {live}");
    assert!(per_breaker < 2048, "{per_breaker} B per breaker");
    // Once full, the old names still resolve.
    assert!(registry.breaker("tenant-0").is_ok());
    assert!(registry.breaker("tenant-10000").is_err());
}

#[test]
fn bytes_per_breaker_and_nothing_leaked() {
    const N: usize = 50_000;
    let clock = ManualClock::new();
    // Warm up anything allocated once per process.
    drop(Registry::with_clock(policy(), clock.clone()).breaker("warm"));
    // Equal policies share one allocation, process-wide, freed with its last holder: held
    // here across both counted regions, it is neither allocated nor freed inside them (by
    // this test, or on behalf of the flood test running beside it with an equal policy).
    let _shared_policy = Breaker::with_clock("hold", policy(), clock.clone());

    let name = |i: usize| format!("svc.{i:011}"); // 15-byte names
    // The engine alone, for the same names: what the registry adds is the difference.
    let names: Vec<String> = (0..N).map(name).collect();
    let (breakers, live, _) = counted(|| {
        names
            .iter()
            .map(|n| Breaker::with_clock(n.as_str(), policy(), clock.clone()))
            .collect::<Vec<Breaker>>()
    });
    let engine_only = (live as usize - N * std::mem::size_of::<Breaker>()) / N;
    drop(breakers);
    drop(names);
    let ((per_breaker, engine), retained, _) = counted(|| {
        let registry = Registry::with_clock(policy(), clock.clone());
        let names: Vec<String> = (0..N).map(name).collect();
        let ((), live, _) = counted_inner(|| {
            for n in &names {
                registry.breaker(n).unwrap();
            }
        });
        let per_breaker = live as usize / N;
        let engine = registry.get("svc.00000000000").unwrap().heap_bytes();
        // Everything goes back: by pruning half, then by dropping the registry.
        for i in (0..N).step_by(2) {
            registry.remove(&names[i]);
        }
        clock.advance(Duration::from_secs(3600));
        assert_eq!(registry.prune_idle(Duration::from_secs(60)), N / 2);
        assert!(registry.is_empty());
        drop(names);
        (per_breaker, engine)
    });
    // Printed once nothing is counted: the harness's output capture allocates.
    let overhead = per_breaker.saturating_sub(engine_only);
    println!(
        "registry of {N}: {per_breaker} B per breaker; the engine's breaker alone {engine_only} B \
         (its own estimate {engine} B); the registry adds {overhead} B (map entry, name)"
    );
    assert!(
        overhead <= 256,
        "the registry adds {overhead} B per breaker"
    );
    assert_eq!(retained, 0, "every byte is returned");
}

/// `counted` while already counting: the live bytes `f` adds.
fn counted_inner<T>(f: impl FnOnce() -> T) -> (T, isize, isize) {
    let start = live();
    let out = f();
    (out, live() - start, 0)
}
