//! The `metrics` exporter against a real recorder: values as the breakers have them, one
//! registration per series however often it publishes, and a publisher thread that stops.
#![cfg(feature = "metrics")]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use fusebox::telemetry::{MetricsPublisher, publish};
use fusebox::{ManualClock, Policy, Registry, State};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};

/// A recorder that keeps every counter and gauge as the exporter last set it (reading never
/// resets them) and counts registrations by the `breaker` label.
#[derive(Default)]
struct Store {
    counters: Mutex<HashMap<Key, Arc<AtomicU64>>>,
    gauges: Mutex<HashMap<Key, Arc<AtomicU64>>>,
    by_breaker: Mutex<HashMap<String, usize>>,
}

impl Store {
    fn count(&self, key: &Key) {
        if let Some(breaker) = key.labels().find(|l| l.key() == "breaker") {
            *self
                .by_breaker
                .lock()
                .unwrap()
                .entry(breaker.value().to_owned())
                .or_default() += 1;
        }
    }

    /// Registrations of series labelled with a breaker whose name starts with `prefix`.
    fn registrations_of(&self, prefix: &str) -> usize {
        let by_breaker = self.by_breaker.lock().unwrap();
        by_breaker
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    }
}

impl Recorder for &'static Store {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.count(key);
        let mut counters = self.counters.lock().unwrap();
        Counter::from_arc(counters.entry(key.clone()).or_default().clone())
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.count(key);
        let mut gauges = self.gauges.lock().unwrap();
        Gauge::from_arc(gauges.entry(key.clone()).or_default().clone())
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.count(key);
        Histogram::noop()
    }
}

/// The process-wide recorder, installed once.
fn recorder() -> &'static Store {
    static STORE: OnceLock<&'static Store> = OnceLock::new();
    STORE.get_or_init(|| {
        let store: &'static Store = Box::leak(Box::default());
        metrics::set_global_recorder(store).expect("the only recorder of this test binary");
        store
    })
}

/// The value of `name` for `breaker` with `labels`, as last published.
fn value(name: &str, breaker: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let store = recorder();
    let matches = |key: &Key| {
        key.name() == name
            && key
                .labels()
                .any(|l| l.key() == "breaker" && l.value() == breaker)
            && labels
                .iter()
                .all(|(k, v)| key.labels().any(|l| l.key() == *k && l.value() == *v))
    };
    let counters = store.counters.lock().unwrap();
    if let Some((_, n)) = counters.iter().find(|(k, _)| matches(k)) {
        return Some(n.load(Ordering::Relaxed) as f64);
    }
    let gauges = store.gauges.lock().unwrap();
    gauges
        .iter()
        .find(|(k, _)| matches(k))
        .map(|(_, g)| f64::from_bits(g.load(Ordering::Relaxed)))
}

#[test]
fn published_values_are_the_breakers_and_the_state_is_one_hot() {
    recorder();
    let registry = Registry::with_clock(
        Policy::builder().min_calls(2).build().unwrap(),
        ManualClock::new(),
    );
    let b = registry.breaker("pub.db").unwrap();
    let _ = b.call(|| Ok::<_, ()>(()));
    let _ = b.call(|| Err::<(), _>(()));
    let _ = b.call(|| Err::<(), _>(()));
    assert_eq!(b.state(), State::Open);
    publish(&registry);
    assert_eq!(
        value("fusebox_calls_total", "pub.db", &[("outcome", "success")]),
        Some(1.0)
    );
    assert_eq!(
        value("fusebox_calls_total", "pub.db", &[("outcome", "failure")]),
        Some(1.0)
    );
    assert_eq!(
        value("fusebox_rejected_total", "pub.db", &[("reason", "open")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            "fusebox_transitions_total",
            "pub.db",
            &[("from", "closed"), ("to", "open")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value("fusebox_state", "pub.db", &[("state", "open")]),
        Some(1.0)
    );
    assert_eq!(value("fusebox_failure_rate", "pub.db", &[]), Some(0.5));

    b.reset();
    publish(&registry);
    assert_eq!(
        value("fusebox_state", "pub.db", &[("state", "open")]),
        Some(0.0)
    );
    assert_eq!(
        value("fusebox_state", "pub.db", &[("state", "closed")]),
        Some(1.0)
    );
    // Counters stay absolute and monotonic across the reset.
    assert_eq!(
        value("fusebox_calls_total", "pub.db", &[("outcome", "failure")]),
        Some(1.0)
    );
}

#[test]
fn handles_are_registered_once_per_breaker_not_per_publish() {
    let store = recorder();
    let registry = Registry::new(Policy::default());
    for i in 0..10 {
        registry.breaker(&format!("once.{i}")).unwrap();
    }
    publish(&registry);
    // Only this test names breakers `once.*`: other tests' registrations, made meanwhile on
    // other threads, are not counted.
    let first = store.registrations_of("once.");
    assert!(first > 0, "the first publish registered the series");
    for _ in 0..5 {
        publish(&registry);
    }
    assert_eq!(
        store.registrations_of("once."),
        first,
        "later publishes register nothing new"
    );
}

#[test]
fn the_publisher_thread_publishes_and_stops_when_dropped() {
    recorder();
    let registry = Registry::new(Policy::default());
    let b = registry.breaker("thread.api").unwrap();
    let publisher = MetricsPublisher::spawn(&registry, Duration::from_millis(5)).unwrap();
    b.force_open();
    let deadline = Instant::now() + Duration::from_secs(10);
    while value("fusebox_state", "thread.api", &[("state", "forced_open")]) != Some(1.0) {
        assert!(Instant::now() < deadline, "the publisher never published");
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(publisher);
    // The registry is left with the test's handle alone: the thread has ended.
    assert_eq!(b.handle_count(), 2, "the test's handle and the registry's");
}

#[test]
fn breakers_added_removed_and_made_again_keep_publishing_to_their_series() {
    recorder();
    let registry = Registry::with_clock(Policy::default(), ManualClock::new());
    let calls = |name: &str| value("fusebox_calls_total", name, &[("outcome", "success")]);
    let succeed = |name: &str, n: usize| {
        let b = registry.breaker(name).unwrap();
        for _ in 0..n {
            let _ = b.call(|| Ok::<_, ()>(()));
        }
    };
    succeed("merge.b", 1);
    succeed("merge.d", 2);
    succeed("merge.f", 3);
    publish(&registry);
    assert_eq!(calls("merge.d"), Some(2.0));
    // New breakers before, between and after; one gone from the middle.
    succeed("merge.a", 4);
    succeed("merge.c", 5);
    succeed("merge.g", 6);
    registry.remove("merge.d");
    succeed("merge.b", 10);
    succeed("merge.f", 10);
    publish(&registry);
    for (name, n) in [
        ("merge.a", 4.0),
        ("merge.b", 11.0),
        ("merge.c", 5.0),
        ("merge.f", 13.0),
        ("merge.g", 6.0),
    ] {
        assert_eq!(calls(name), Some(n), "{name}");
    }
    // Gone from the end, then made again under the same name: the same series, set anew.
    registry.remove("merge.g");
    publish(&registry);
    succeed("merge.g", 7);
    succeed("merge.a", 1);
    publish(&registry);
    assert_eq!(calls("merge.g"), Some(7.0));
    assert_eq!(calls("merge.a"), Some(5.0));
    assert_eq!(calls("merge.f"), Some(13.0));
}
