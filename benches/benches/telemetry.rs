//! What telemetry costs: a closed call with the latency histogram on or off, beside a slow-call
//! rule or not (on the real clock, and again on a `ManualClock` to set the clock reads apart); one
//! Prometheus rendering of 10 000 breakers; one publish of the same 10 000 breakers to a
//! `metrics` recorder. Each group measures the floor in the same run.
//!
//! `cargo bench -p fusebox-benches --bench telemetry`
//!
//! Breakers are driven as users drive them: through the handle a `Registry` returns, every
//! handle `black_box`ed per iteration, closures returning `Result`, and the result consumed by
//! a `match` on fusebox's error type. The registries run on the real process clock (the
//! `Registry::new` default), since what the histogram and the slow-call rule cost includes
//! their clock reads; only `closed_call_latency_manual_clock` does not.
//!
//! Per call, a closed success reads the clock:
//! - never, with neither the histogram nor a slow-call rule;
//! - twice with `latency_histogram(true)` alone (at the acquire and at the record);
//! - twice with a slow-call rule alone (at the acquire and to judge the duration);
//! - twice with both (the record's read serves the histogram and the rule).

mod common;

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{builder, policy};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use fusebox::{ManualClock, Policy, Registry, State};
use fusebox_benches::{Floor, consume};
use metrics_exporter_prometheus::PrometheusBuilder;

/// Breakers in the registry that `render_prometheus_10k` and `publish_10k` read.
const FLEET: usize = 10_000;

/// The group under which every `EVERY_TIMED`-th breaker is named, with `latency_histogram`
/// set for the group: 304 breakers of the 10 000.
const TIMED_GROUP: &str = "timed";
const EVERY_TIMED: usize = 33;

/// Every `EVERY_OPEN`-th breaker (offset 1) is tripped open by 100 failures: 200 breakers.
const EVERY_OPEN: usize = 50;

/// Every `EVERY_FORCED`-th breaker (offset 2) is forced open: 100 breakers.
const EVERY_FORCED: usize = 100;

/// Services and operations the names are made of.
const OPERATIONS: [&str; 8] = [
    "charges",
    "refunds",
    "users",
    "search",
    "inventory",
    "orders",
    "sessions",
    "quotes",
];

fn floor(g: &mut BenchmarkGroup<'_, WallTime>) {
    let floor = Floor::default();
    g.bench_function("floor", |b| b.iter(|| black_box(black_box(&floor).call())));
}

/// A closed successful call through a registry handle: the reference policy with telemetry off,
/// with the histogram, with a slow-call rule (1 s, 90 %: no call here is slow), and with both.
/// `registry` makes the registry each breaker is taken from.
fn closed_calls(g: &mut BenchmarkGroup<'_, WallTime>, registry: impl Fn(Policy) -> Registry) {
    floor(g);
    let slow_rule = || builder().slow_calls(Duration::from_secs(1), 0.9);
    let variants = [
        ("fusebox_telemetry_off", policy()),
        (
            "fusebox_latency_histogram",
            builder()
                .latency_histogram(true)
                .build()
                .expect("valid policy"),
        ),
        (
            "fusebox_slow_rule",
            slow_rule().build().expect("valid policy"),
        ),
        (
            "fusebox_slow_rule_latency_histogram",
            slow_rule()
                .latency_histogram(true)
                .build()
                .expect("valid policy"),
        ),
    ];
    for (id, policy) in variants {
        let histogram = policy.latency_histogram();
        let breaker = registry(policy)
            .breaker(id)
            .expect("a valid name in an unbounded registry");
        g.bench_function(id, |b| {
            b.iter(|| {
                black_box(consume(
                    black_box(&breaker).call(|| Ok::<u32, ()>(black_box(1u32))),
                ))
            })
        });
        assert_eq!(breaker.state(), State::Closed);
        assert_eq!(breaker.metrics().slow, 0);
        // The histogram counted every call measured, the others have none.
        assert_eq!(
            breaker.latency().map(|l| l.count()),
            histogram.then(|| breaker.metrics().successes)
        );
    }
}

/// The closed call's variants on the real process clock (`Registry::new`): the figures users pay.
fn closed_call_latency(c: &mut Criterion) {
    let mut g = c.benchmark_group("closed_call_latency");
    closed_calls(&mut g, Registry::new);
    g.finish();
}

/// The same variants on a `ManualClock`, whose read is one relaxed load: what the histogram and
/// the slow-call rule cost apart from their clock reads.
fn closed_call_latency_manual_clock(c: &mut Criterion) {
    let mut g = c.benchmark_group("closed_call_latency_manual_clock");
    closed_calls(&mut g, |policy| {
        Registry::with_clock(policy, ManualClock::new())
    });
    g.finish();
}

/// Spins for about `nanos` inside a call, so that timed breakers hold a spread of durations.
fn work(nanos: u64) -> Result<(), ()> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_nanos(nanos) {
        std::hint::spin_loop();
    }
    Ok(())
}

/// 10 000 named breakers as a service might hold them, built once:
/// - every breaker has had 1 to 24 calls, one in five of them failing (too few to trip);
/// - 200 are open, tripped by 100 failures each;
/// - 100 are forced open;
/// - 304 are in the `timed` group, whose policy sets `latency_histogram`, each with 40 more
///   calls of 0 to about 20 µs recorded.
fn fleet() -> &'static Registry {
    static FLEET_REGISTRY: OnceLock<Registry> = OnceLock::new();
    FLEET_REGISTRY.get_or_init(|| {
        let registry = Registry::new(policy());
        registry
            .set_policy(
                TIMED_GROUP,
                builder()
                    .latency_histogram(true)
                    .build()
                    .expect("valid policy"),
            )
            .expect("a valid name");
        for i in 0..FLEET {
            let op = OPERATIONS[i % OPERATIONS.len()];
            let name = if i % EVERY_TIMED == 0 {
                format!("{TIMED_GROUP}.svc{:02}.{op}.{i:05}", i % 40)
            } else {
                format!("svc{:02}.{op}.{i:05}", i % 40)
            };
            let breaker = registry.breaker(&name).expect("a valid name");
            for k in 0..1 + i % 24 {
                let _ = breaker.call(|| if k % 5 == 4 { Err(()) } else { Ok(()) });
            }
            if i % EVERY_TIMED == 0 {
                for k in 0..40u64 {
                    let _ = breaker.call(|| work((k * 7919 + i as u64 * 104_729) % 20_000));
                }
            }
            if i % EVERY_OPEN == 1 {
                for _ in 0..100 {
                    let _ = breaker.call(|| Err::<(), ()>(()));
                }
                assert_eq!(breaker.state(), State::Open);
            } else if i % EVERY_FORCED == 2 {
                breaker.force_open();
            }
        }
        assert_eq!(registry.len(), FLEET);
        registry
    })
}

/// One `render_prometheus()` of the 10 000 breakers.
fn render_prometheus_10k(c: &mut Criterion) {
    let registry = fleet();
    let mut g = c.benchmark_group("render_prometheus_10k");
    floor(&mut g);
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    g.bench_function("fusebox_render_prometheus", |b| {
        b.iter(|| black_box(black_box(registry).render_prometheus()))
    });
    g.finish();

    let text = registry.render_prometheus();
    let timed = FLEET.div_ceil(EVERY_TIMED);
    assert_eq!(
        text.matches("fusebox_call_duration_seconds_count{").count(),
        timed,
        "one summary per timed breaker"
    );
    assert_eq!(
        text.matches("state=\"open\"} 1\n").count(),
        FLEET / EVERY_OPEN
    );
    assert_eq!(
        text.matches("state=\"forced_open\"} 1\n").count(),
        FLEET / EVERY_FORCED
    );
}

/// One `telemetry::publish` of the 10 000 breakers to a Prometheus recorder, after a first
/// publish made every handle: the steady state of a periodic publisher.
fn publish_10k(c: &mut Criterion) {
    let registry = fleet();
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let mut g = c.benchmark_group("publish_10k");
    floor(&mut g);
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    metrics::with_local_recorder(&recorder, || {
        fusebox::telemetry::publish(registry);
        g.bench_function("fusebox_publish", |b| {
            b.iter(|| fusebox::telemetry::publish(black_box(registry)))
        });
    });
    g.finish();

    let text = handle.render();
    assert_eq!(
        text.matches("fusebox_state{").count(),
        FLEET * State::ALL.len(),
        "every breaker's state series reached the recorder"
    );
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = closed_call_latency, closed_call_latency_manual_clock, render_prometheus_10k, publish_10k
}
criterion_main!(benches);
