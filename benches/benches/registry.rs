//! Registry: lookup by name in a registry of 10 000, get-or-create of a new name, a guarded
//! call by name, and lookups of one name from 2 threads; each group with the floor.
//!
//! `cargo bench -p fusebox-benches --bench registry`
//! (bytes per breaker: `cargo run --release -p fusebox-registry --example memory`)

mod common;

use common::two_threads;
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use fusebox::{Breaker, Policy, Registry};
use fusebox_benches::Floor;

const BREAKERS: usize = 10_000;

fn policy() -> Policy {
    fusebox_benches::reference_policy()
}

/// 16-byte names: `svc.000000000042`.
fn name(i: usize) -> String {
    let n = format!("svc.{i:012}");
    debug_assert_eq!(n.len(), 16);
    n
}

fn filled() -> Registry {
    let registry = Registry::new(policy());
    for i in 0..BREAKERS {
        registry.breaker(&name(i)).expect("valid name");
    }
    registry
}

fn lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("registry_lookup");
    let floor = Floor::default();
    g.bench_function("floor", |b| b.iter(|| black_box(black_box(&floor).call())));

    let registry = filled();
    // Cycle through names spread over the shards, as a service with many downstreams would.
    let names: Vec<String> = (0..1024).map(|i| name(i * 9 % BREAKERS)).collect();
    let mut i = 0usize;
    g.bench_function("fusebox_get_16_byte_name_of_10k", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            black_box(black_box(&registry).get(black_box(&names[i])))
        })
    });
    let one = name(4242);
    g.bench_function("fusebox_get_same_name", |b| {
        b.iter(|| black_box(black_box(&registry).get(black_box(&one))))
    });
    g.bench_function("fusebox_breaker_existing", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            black_box(black_box(&registry).breaker(black_box(&names[i])).is_ok())
        })
    });
    g.bench_function("fusebox_call_by_name", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            black_box(
                black_box(&registry)
                    .call(black_box(&names[i]), || Ok::<u32, ()>(black_box(1)))
                    .is_ok(),
            )
        })
    });
    // The same calls on breakers already in hand: the part of `call_by_name` that is the
    // engine's (touching 1024 breakers in turn, so their cache lines are cold).
    let held: Vec<Breaker> = names
        .iter()
        .map(|n| registry.get(n).expect("created"))
        .collect();
    g.bench_function("engine_call_same_1024_breakers_in_hand", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            black_box(
                black_box(&held[i])
                    .call(|| Ok::<u32, ()>(black_box(1)))
                    .is_ok(),
            )
        })
    });
    // What a hand-rolled registry costs: a read-locked HashMap (same hasher) and a handle clone.
    let plain: RwLock<HashMap<Arc<str>, Breaker, foldhash::fast::RandomState>> = RwLock::new(
        registry
            .breakers()
            .into_iter()
            .map(|b| (b.name_arc(), b))
            .collect(),
    );
    g.bench_function("rwlock_hashmap_get", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let map = black_box(&plain).read().expect("not poisoned");
            black_box(map.get(black_box(names[i].as_str())).cloned())
        })
    });
    g.finish();
}

fn create(c: &mut Criterion) {
    let mut g = c.benchmark_group("registry_create");
    let floor = Floor::default();
    g.bench_function("floor", |b| b.iter(|| black_box(black_box(&floor).call())));

    // New names go into a registry of 10 000; each chunk is removed again, untimed, so the
    // registry's size and the process's memory stay put however many iterations run.
    let registry = filled();
    let fresh: Vec<String> = (BREAKERS..2 * BREAKERS).map(name).collect();
    g.bench_function("fusebox_get_or_create_new_name", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters as usize;
            while left > 0 {
                let chunk = left.min(fresh.len());
                let start = Instant::now();
                for n in &fresh[..chunk] {
                    black_box(registry.breaker(n).is_ok());
                }
                total += start.elapsed();
                for n in &fresh[..chunk] {
                    registry.remove(n);
                }
                left -= chunk;
            }
            total
        })
    });
    // The same pattern without the registry: chunks of new breakers kept alive, then dropped.
    g.bench_function("engine_breaker_new_alone", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters as usize;
            let mut kept = Vec::with_capacity(fresh.len());
            while left > 0 {
                let chunk = left.min(fresh.len());
                let start = Instant::now();
                for n in &fresh[..chunk] {
                    kept.push(Breaker::new(n.as_str(), policy()));
                }
                total += start.elapsed();
                kept.clear();
                left -= chunk;
            }
            total
        })
    });
    g.finish();
}

fn contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("registry_2_threads");
    g.throughput(criterion::Throughput::Elements(1));
    let floor = Arc::new(Floor::default());
    g.bench_function("floor", |b| {
        b.iter_custom(|iters| {
            let f = floor.clone();
            two_threads(
                Arc::new(move |_| {
                    black_box(f.call());
                }),
                iters.div_ceil(2),
            )
        })
    });
    let registry = filled();
    g.bench_function("fusebox_call_same_name", |b| {
        b.iter_custom(|iters| {
            let r = registry.clone();
            let n = name(7);
            two_threads(
                Arc::new(move |_| {
                    black_box(r.call(&n, || Ok::<u32, ()>(1)).is_ok());
                }),
                iters.div_ceil(2),
            )
        })
    });
    g.bench_function("fusebox_call_own_names", |b| {
        b.iter_custom(|iters| {
            let r = registry.clone();
            let names = [name(7), name(4007)];
            two_threads(
                Arc::new(move |t: usize| {
                    black_box(r.call(&names[t], || Ok::<u32, ()>(1)).is_ok());
                }),
                iters.div_ceil(2),
            )
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = lookup, create, contended
}
criterion_main!(benches);
