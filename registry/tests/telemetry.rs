//! Telemetry through the registry: the registry-wide event stream, histories, and the
//! Prometheus exposition read back by a real parser.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fusebox_engine::{
    HISTORY_CAPACITY, ManualClock, Policy, RejectReason, SUBSCRIBER_CAPACITY, State,
    TransitionReason, Window,
};
use fusebox_registry::{Registry, RegistryConfig};

fn registry() -> (Registry, ManualClock) {
    let clock = ManualClock::new();
    let policy = Policy::builder()
        .window(Window::count(4))
        .min_calls(2)
        .open_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    (Registry::with_clock(policy, clock.clone()), clock)
}

/// Every sample of an exposition, keyed by metric name and sorted labels.
fn parse(text: &str) -> HashMap<(String, Vec<(String, String)>), f64> {
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("the exposition parses");
    scrape
        .samples
        .into_iter()
        .map(|s| {
            let mut labels: Vec<(String, String)> = s
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            labels.sort();
            let value = match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                other => panic!("unexpected sample kind {other:?} for {}", s.metric),
            };
            ((s.metric, labels), value)
        })
        .collect()
}

fn key(metric: &str, labels: &[(&str, &str)]) -> (String, Vec<(String, String)>) {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    labels.sort();
    (metric.to_owned(), labels)
}

#[test]
fn a_subscriber_sees_breakers_created_after_it_subscribed() {
    let (registry, _clock) = registry();
    let before = registry.breaker("before").unwrap();
    let events = registry.subscribe();
    before.force_open();
    let after = registry.breaker("after").unwrap();
    for _ in 0..2 {
        let _ = after.call(|| Err::<(), _>("down"));
    }
    let seen: Vec<_> = events
        .try_iter()
        .map(|t| (t.breaker.to_string(), t.to, t.reason))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "before".into(),
                State::ForcedOpen,
                TransitionReason::ForcedOpen
            ),
            ("after".into(), State::Open, TransitionReason::FailureRate),
        ]
    );
}

#[test]
fn a_subscriber_that_never_reads_loses_only_its_own_events_and_they_are_counted() {
    let (registry, _clock) = registry();
    let _never_read = registry.subscribe();
    let reader = registry.subscribe();
    let b = registry.breaker("flappy").unwrap();
    let changes = SUBSCRIBER_CAPACITY + 100;
    let mut read = 0;
    for i in 0..changes {
        if i % 2 == 0 {
            b.force_open();
        } else {
            b.reset();
        }
        read += reader.try_iter().count();
    }
    assert_eq!(read, changes, "the reading subscriber got every transition");
    assert_eq!(registry.events_dropped(), 100);
    assert!(
        registry
            .render_prometheus()
            .contains("fusebox_events_dropped_total 100\n")
    );
}

#[test]
fn a_subscriber_dropped_mid_stream_is_forgotten() {
    let (registry, _clock) = registry();
    let b = registry.breaker("db").unwrap();
    let gone = registry.subscribe();
    let kept = registry.subscribe();
    b.force_open();
    drop(gone);
    b.reset();
    b.force_open();
    assert_eq!(kept.try_iter().count(), 3);
    assert_eq!(registry.events_dropped(), 0);
}

/// 10 000 breakers created and tripped while a subscriber reads on another thread: every
/// transition arrives once, nothing blocks, and the counts agree.
#[test]
fn ten_thousand_breakers_created_while_a_subscriber_reads() {
    const BREAKERS: usize = 10_000;
    let registry = Registry::new(Policy::default());
    let events = registry.subscribe();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut per_breaker: HashMap<Arc<str>, usize> = HashMap::new();
            loop {
                match events.recv_timeout(Duration::from_millis(5)) {
                    Ok(t) => *per_breaker.entry(t.breaker).or_default() += 1,
                    Err(_) if done.load(Ordering::Acquire) => {
                        // Drain what is left once the writers are done.
                        for t in events.try_iter() {
                            *per_breaker.entry(t.breaker).or_default() += 1;
                        }
                        return per_breaker;
                    }
                    Err(_) => {}
                }
            }
        })
    };
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let registry = registry.clone();
            std::thread::spawn(move || {
                for i in (w..BREAKERS).step_by(2) {
                    let b = registry.breaker(&format!("tenant.{i}")).unwrap();
                    b.force_open();
                    b.reset();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Release);
    let per_breaker = reader.join().unwrap();
    let delivered: usize = per_breaker.values().sum();
    let dropped = registry.events_dropped() as usize;
    assert_eq!(
        delivered + dropped,
        2 * BREAKERS,
        "every transition delivered or counted"
    );
    assert!(per_breaker.values().all(|&n| n <= 2));
    for b in registry.breakers() {
        assert_eq!(
            b.transition_counts().get(State::Closed, State::ForcedOpen),
            1
        );
        assert_eq!(
            b.transition_counts().get(State::ForcedOpen, State::Closed),
            1
        );
    }
}

#[test]
fn the_history_keeps_the_last_transitions_oldest_first_with_notes() {
    let (registry, _clock) = registry();
    let b = registry.breaker("db").unwrap();
    b.noted("alice: maintenance").force_open();
    for _ in 0..HISTORY_CAPACITY {
        b.reset();
        b.force_open();
    }
    let history = b.history();
    assert_eq!(history.len(), HISTORY_CAPACITY);
    assert!(
        history.iter().all(|t| t.note.is_none()),
        "the noted one aged out"
    );
    assert_eq!(history.last().unwrap().to, State::ForcedOpen);
    assert!(history.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!(
        b.transition_counts().get(State::Closed, State::ForcedOpen),
        HISTORY_CAPACITY as u64 + 1
    );
}

#[test]
fn the_exposition_parses_and_says_what_the_breakers_did() {
    let (registry, clock) = registry();
    let db = registry.breaker("db").unwrap();
    for ok in [true, true, false, false] {
        let _ = db.call(|| if ok { Ok(()) } else { Err(()) });
    }
    assert_eq!(db.state(), State::Open);
    assert!(db.try_acquire().is_err());
    clock.advance(Duration::from_secs(4));
    let cache = registry.breaker("cache:eu-west_1").unwrap();
    let _ = cache.call_with(
        || Err::<(), _>("refused"),
        |_| fusebox_engine::Failure::of_kind("connect"),
    );
    cache.force_open();
    assert!(cache.try_acquire().is_err());

    let samples = parse(&registry.render_prometheus());
    let get = |metric: &str, labels: &[(&str, &str)]| {
        *samples
            .get(&key(metric, labels))
            .unwrap_or_else(|| panic!("no sample {metric} {labels:?}"))
    };
    let db_ = ("breaker", "db");
    assert_eq!(
        get("fusebox_calls_total", &[db_, ("outcome", "success")]),
        2.0
    );
    assert_eq!(
        get("fusebox_calls_total", &[db_, ("outcome", "failure")]),
        2.0
    );
    assert_eq!(
        get("fusebox_calls_total", &[db_, ("outcome", "ignored")]),
        0.0
    );
    assert_eq!(
        get("fusebox_rejected_total", &[db_, ("reason", "open")]),
        1.0
    );
    let cache_ = ("breaker", "cache:eu-west_1");
    assert_eq!(
        get(
            "fusebox_rejected_total",
            &[cache_, ("reason", "forced_open")]
        ),
        1.0
    );
    assert_eq!(
        get("fusebox_rejected_total", &[cache_, ("reason", "open")]),
        0.0
    );
    assert_eq!(
        get(
            "fusebox_transitions_total",
            &[db_, ("from", "closed"), ("to", "open")]
        ),
        1.0
    );
    assert_eq!(
        get("fusebox_failures_total", &[cache_, ("kind", "connect")]),
        1.0
    );
    assert!(
        !samples
            .keys()
            .any(|(m, labels)| m == "fusebox_failures_total"
                && labels.contains(&("breaker".into(), "db".into()))),
        "a breaker without kinds has no kind series"
    );
    assert_eq!(get("fusebox_window_calls", &[db_]), 4.0);
    assert_eq!(get("fusebox_failure_rate", &[db_]), 0.5);
    assert_eq!(get("fusebox_slow_call_rate", &[db_]), 0.0);
    assert_eq!(get("fusebox_slow_calls_total", &[db_]), 0.0);
    assert_eq!(get("fusebox_open_remaining_seconds", &[db_]), 6.0);
    assert_eq!(get("fusebox_open_remaining_seconds", &[cache_]), 0.0);
    for state in State::ALL {
        let want = f64::from(u8::from(state == State::Open));
        assert_eq!(
            get("fusebox_state", &[db_, ("state", state.as_label())]),
            want
        );
    }
    assert!(
        !samples
            .keys()
            .any(|(m, _)| m.starts_with("fusebox_call_duration")),
        "no summary without latency_histogram"
    );
}

/// The state gauge is one-hot: after a reset the old state goes back to 0.
#[test]
fn the_state_gauge_is_one_hot_after_a_reset() {
    let (registry, _clock) = registry();
    let b = registry.breaker("api").unwrap();
    b.force_open();
    b.reset();
    let samples = parse(&registry.render_prometheus());
    for state in State::ALL {
        let value = samples[&key(
            "fusebox_state",
            &[("breaker", "api"), ("state", state.as_label())],
        )];
        assert_eq!(
            value,
            f64::from(u8::from(state == State::Closed)),
            "{state}"
        );
    }
    let ones: f64 = samples
        .iter()
        .filter(|((m, _), _)| m == "fusebox_state")
        .map(|(_, v)| v)
        .sum();
    assert_eq!(ones, 1.0);
}

#[test]
fn a_latency_histogram_from_the_config_file_exports_a_summary() {
    let config = RegistryConfig::from_toml(
        "[defaults]\nlatency_histogram = true\n[breakers.\"db\"]\nmin_calls = 5\n",
    )
    .unwrap();
    let clock = ManualClock::new();
    let registry = Registry::with_clock(Policy::default(), clock.clone());
    registry.apply_config(&config).unwrap();
    let db = registry.breaker("db").unwrap();
    for ms in 1..=10 {
        let permit = db.try_acquire().unwrap();
        clock.advance(Duration::from_millis(ms));
        permit.success();
    }
    let latency = db.latency().unwrap();
    assert_eq!(latency.count(), 10);
    let text = registry.render_prometheus();
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).unwrap();
    let summary = scrape
        .samples
        .iter()
        .find(|s| s.metric == "fusebox_call_duration_seconds")
        .expect("a summary");
    let prometheus_parse::Value::Summary(quantiles) = &summary.value else {
        panic!("not a summary: {:?}", summary.value);
    };
    let p50 = quantiles.iter().find(|q| q.quantile == 0.5).unwrap().count;
    assert!((0.0049..=0.0051).contains(&p50), "p50 {p50}");
    assert!(text.contains("fusebox_call_duration_seconds_count{breaker=\"db\"} 10\n"));
    assert_eq!(db.metrics().rejected_by(RejectReason::Open), 0);
}

#[cfg(feature = "tokio")]
#[tokio::test]
async fn the_registry_stream_yields_every_breakers_transitions() {
    let (registry, _clock) = registry();
    let mut events = registry.subscribe_stream();
    registry.breaker("a").unwrap().force_open();
    registry.breaker("b").unwrap().disable();
    let first = events.recv().await.unwrap();
    let second = events.recv().await.unwrap();
    assert_eq!((&*first.breaker, first.to), ("a", State::ForcedOpen));
    assert_eq!((&*second.breaker, second.to), ("b", State::Disabled));
}
