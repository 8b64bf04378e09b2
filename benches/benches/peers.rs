//! fusebox against its peers in one run, each group with the floor beside them: a closed
//! call, every 10th call failing, a rejection while open, and 2 threads on one breaker.
//!
//! Each library is driven as its users drive it: fusebox through the handle a `Registry`
//! returns, every handle `black_box`ed per iteration, closures returning `Result`, and the
//! result consumed by a `match` on the library's own error type (for fusebox's rejection also
//! `try_acquire().is_err()`, the check a caller that only asks makes). `fusebox_compact` is
//! the same breaker from a compact registry (`RegistryBuilder::compact`), whose allocation
//! has no cache-line padding.
//!
//! `cargo bench -p fusebox-benches --bench peers`
//!
//! Configurations, as close to fusebox's (`Window::count(100)`, 50 %, `min_calls(100)`, a 1 h
//! open period) as each crate allows:
//! - `recloser` 1.4: `error_rate(0.5)`, `closed_len(100)`, `open_wait(1 h)`: a ring of the
//!   last 100 calls at 50 %. It has no `min_calls`; it judges nothing until its ring has
//!   filled, so the rate is first evaluated on call 101.
//! - `failsafe` 1.3 has no count window. Two policies stand in for it:
//!   - `failsafe_success_rate`: `success_rate_over_time_window(0.5, 100, 10 s, constant 1 h)`,
//!     an exponentially weighted success rate over a 10 s window that opens below 50 % success
//!     once 100 requests are in (and not before the first 10 s have passed);
//!   - `failsafe_consecutive`: `consecutive_failures(50, constant 1 h)`: opens on 50 failures
//!     in a row, the shortest run that trips a 100-call window at 50 %.
//!
//!   A failsafe rejection does not consult its policy (a mutex and a clock read), so the open
//!   group measures the consecutive-failures breaker only.

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use common::{policy, two_threads};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use failsafe::failure_policy::{ConsecutiveFailures, SuccessRateOverTimeWindow};
use failsafe::{CircuitBreaker, StateMachine, backoff};
use fusebox::{Breaker, Registry, State};
use fusebox_benches::{Floor, consume};
use recloser::Recloser;

const OPEN_PERIOD: Duration = Duration::from_secs(3600);

type FailsafeRate = StateMachine<SuccessRateOverTimeWindow<backoff::Constant>, ()>;
type FailsafeConsecutive = StateMachine<ConsecutiveFailures<backoff::Constant>, ()>;

fn failsafe_success_rate() -> FailsafeRate {
    failsafe::Config::new()
        .failure_policy(failsafe::failure_policy::success_rate_over_time_window(
            0.5,
            100,
            Duration::from_secs(10),
            backoff::constant(OPEN_PERIOD),
        ))
        .build()
}

fn failsafe_consecutive() -> FailsafeConsecutive {
    failsafe::Config::new()
        .failure_policy(failsafe::failure_policy::consecutive_failures(
            50,
            backoff::constant(OPEN_PERIOD),
        ))
        .build()
}

/// A fusebox breaker as users get one: the handle a registry hands out.
fn fusebox_breaker(name: &str) -> Breaker {
    Registry::new(policy())
        .breaker(name)
        .expect("a valid name in an unbounded registry")
}

/// The same from a compact registry: packed without cache-line isolation.
fn fusebox_compact_breaker(name: &str) -> Breaker {
    let breaker = Registry::builder(policy())
        .compact()
        .build()
        .breaker(name)
        .expect("a valid name in an unbounded registry");
    assert!(breaker.is_compact());
    breaker
}

/// What a caller does with recloser's result.
#[inline(always)]
fn consume_recloser(r: Result<u32, recloser::Error<()>>) -> u32 {
    match r {
        Ok(v) => v,
        Err(recloser::Error::Rejected) => 2,
        Err(recloser::Error::Inner(())) => 3,
    }
}

/// What a caller does with failsafe's result.
#[inline(always)]
fn consume_failsafe(r: Result<u32, failsafe::Error<()>>) -> u32 {
    match r {
        Ok(v) => v,
        Err(failsafe::Error::Rejected) => 2,
        Err(failsafe::Error::Inner(())) => 3,
    }
}

fn recloser() -> Recloser {
    Recloser::custom()
        .error_rate(0.5)
        .closed_len(100)
        .open_wait(OPEN_PERIOD)
        .build()
}

/// One closed-breaker scenario on the floor, fusebox and each peer: `fail(i)` says whether
/// call `i` fails. It is generic, not a function pointer, so it inlines: `|_| false` costs
/// nothing and leaves the closed call as bare as the floor's.
fn single_thread(g: &mut BenchmarkGroup<'_, WallTime>, fail: impl Fn(u32) -> bool + Copy) {
    let floor = Floor::default();
    g.bench_function("floor", |b| b.iter(|| black_box(black_box(&floor).call())));

    let mut i = 0u32;
    let mut next = move || {
        i = i.wrapping_add(1);
        fail(i)
    };

    for (id, fusebox) in [
        ("fusebox", fusebox_breaker("peers")),
        ("fusebox_compact", fusebox_compact_breaker("peers")),
    ] {
        g.bench_function(id, |b| {
            b.iter(|| {
                let f = next();
                black_box(consume(
                    black_box(&fusebox).call(|| if f { Err(()) } else { Ok(black_box(1u32)) }),
                ))
            })
        });
        assert_eq!(fusebox.state(), State::Closed);
    }

    let rc = recloser();
    g.bench_function("recloser", |b| {
        b.iter(|| {
            let f = next();
            black_box(consume_recloser(
                black_box(&rc).call(|| if f { Err(()) } else { Ok(black_box(1u32)) }),
            ))
        })
    });

    let consecutive = failsafe_consecutive();
    g.bench_function("failsafe_consecutive", |b| {
        b.iter(|| {
            let f = next();
            black_box(consume_failsafe(
                black_box(&consecutive).call(|| if f { Err(()) } else { Ok(black_box(1u32)) }),
            ))
        })
    });
    assert!(consecutive.is_call_permitted());

    let rate = failsafe_success_rate();
    g.bench_function("failsafe_success_rate", |b| {
        b.iter(|| {
            let f = next();
            black_box(consume_failsafe(
                black_box(&rate).call(|| if f { Err(()) } else { Ok(black_box(1u32)) }),
            ))
        })
    });
    assert!(rate.is_call_permitted());
    assert!(rc.call(|| Ok::<(), ()>(())).is_ok(), "recloser opened");
}

fn closed(c: &mut Criterion) {
    let mut g = c.benchmark_group("peers_closed");
    single_thread(&mut g, |_| false);
    g.finish();
}

fn every_10th_fails(c: &mut Criterion) {
    let mut g = c.benchmark_group("peers_every_10th_fails");
    single_thread(&mut g, |i| i % 10 == 0);
    g.finish();
}

fn open(c: &mut Criterion) {
    let mut g = c.benchmark_group("peers_open");
    let floor = Floor::default();
    floor.open();
    g.bench_function("floor", |b| b.iter(|| black_box(black_box(&floor).call())));
    // The least an exactly counted rejection costs: see `Floor::counted_call`.
    let counted = Floor::default();
    counted.open();
    g.bench_function("floor_counted", |b| {
        b.iter(|| black_box(black_box(&counted).counted_call()))
    });

    for (suffix, fusebox) in [
        ("", fusebox_breaker("peers-open")),
        ("_compact", fusebox_compact_breaker("peers-open")),
    ] {
        for _ in 0..100 {
            let _ = fusebox.call(|| Err::<(), ()>(()));
        }
        assert_eq!(fusebox.state(), State::Open);
        g.bench_function(format!("fusebox{suffix}"), |b| {
            b.iter(|| black_box(consume(black_box(&fusebox).call(|| Ok::<u32, ()>(1)))))
        });
        g.bench_function(format!("fusebox_try_acquire{suffix}"), |b| {
            b.iter(|| black_box(black_box(&fusebox).try_acquire().is_err()))
        });
    }

    let rc = recloser();
    let mut tripped = false;
    for _ in 0..1000 {
        if matches!(
            rc.call(|| Err::<(), ()>(())),
            Err(recloser::Error::Rejected)
        ) {
            tripped = true;
            break;
        }
    }
    assert!(tripped, "recloser did not open");
    g.bench_function("recloser", |b| {
        b.iter(|| black_box(consume_recloser(black_box(&rc).call(|| Ok::<u32, ()>(1)))))
    });

    let consecutive = failsafe_consecutive();
    for _ in 0..50 {
        let _ = consecutive.call(|| Err::<(), ()>(()));
    }
    assert!(!consecutive.is_call_permitted(), "failsafe did not open");
    g.bench_function("failsafe_consecutive", |b| {
        b.iter(|| {
            black_box(consume_failsafe(
                black_box(&consecutive).call(|| Ok::<u32, ()>(1)),
            ))
        })
    });
    g.finish();
}

fn two_threads_one_breaker(c: &mut Criterion) {
    let mut g = c.benchmark_group("peers_2_threads_one_breaker");
    g.throughput(Throughput::Elements(1));

    let floor = Arc::new(Floor::default());
    g.bench_function("floor", |b| {
        b.iter_custom(|iters| {
            let f = floor.clone();
            two_threads(
                Arc::new(move |_| {
                    black_box(black_box(&*f).call());
                }),
                iters.div_ceil(2),
            )
        })
    });

    for (id, fusebox) in [
        ("fusebox", fusebox_breaker("peers-2t")),
        ("fusebox_compact", fusebox_compact_breaker("peers-2t")),
    ] {
        g.bench_function(id, |b| {
            b.iter_custom(|iters| {
                let br = fusebox.clone();
                two_threads(
                    Arc::new(move |_| {
                        black_box(consume(black_box(&br).call(|| Ok::<u32, ()>(1))));
                    }),
                    iters.div_ceil(2),
                )
            })
        });
    }

    let rc = Arc::new(recloser());
    g.bench_function("recloser", |b| {
        b.iter_custom(|iters| {
            let br = rc.clone();
            two_threads(
                Arc::new(move |_| {
                    black_box(consume_recloser(black_box(&*br).call(|| Ok::<u32, ()>(1))));
                }),
                iters.div_ceil(2),
            )
        })
    });

    let consecutive = failsafe_consecutive();
    g.bench_function("failsafe_consecutive", |b| {
        b.iter_custom(|iters| {
            let br = consecutive.clone();
            two_threads(
                Arc::new(move |_| {
                    black_box(consume_failsafe(black_box(&br).call(|| Ok::<u32, ()>(1))));
                }),
                iters.div_ceil(2),
            )
        })
    });

    let rate = failsafe_success_rate();
    g.bench_function("failsafe_success_rate", |b| {
        b.iter_custom(|iters| {
            let br = rate.clone();
            two_threads(
                Arc::new(move |_| {
                    black_box(consume_failsafe(black_box(&br).call(|| Ok::<u32, ()>(1))));
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
    targets = closed, every_10th_fails, open, two_threads_one_breaker
}
criterion_main!(benches);
