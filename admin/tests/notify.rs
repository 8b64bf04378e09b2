//! `[notify]`: transitions POSTed to a webhook on loopback that fails, then recovers; a dead
//! webhook never holds up a breaker, and what the queue cannot hold is counted.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use fusebox_admin::{AdminConfig, NOTIFY_QUEUE, apply_config, serve};
use fusebox_engine::Policy;
use fusebox_registry::Registry;
use serde_json::Value;

/// A webhook that answers 500 to its first `failures` POSTs, then 200, keeping what it took.
#[derive(Clone, Default)]
struct Receiver {
    failures: Arc<AtomicU32>,
    received: Arc<Mutex<Vec<Value>>>,
}

async fn hook(State(r): State<Receiver>, body: String) -> StatusCode {
    let left = r.failures.load(Ordering::SeqCst);
    if left > 0 {
        r.failures.store(left - 1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    r.received
        .lock()
        .unwrap()
        .push(serde_json::from_str(&body).unwrap());
    StatusCode::OK
}

async fn start_receiver(failures: u32) -> (String, Receiver) {
    let receiver = Receiver::default();
    receiver.failures.store(failures, Ordering::SeqCst);
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, receiver)
}

/// One series' value from `GET /metrics`.
async fn metric(base: &str, name: &str) -> u64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matching_transitions_reach_a_webhook_that_fails_then_recovers() {
    let (url, receiver) = start_receiver(3).await;
    let registry = Registry::new(Policy::default());
    let config = format!("[notify]\nwebhook = \"{url}\"\non = [\"open\", \"forced_open\"]\n");
    apply_config(&registry, &config, "startup").unwrap();
    let server = serve(
        &registry,
        AdminConfig::new(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let base = format!("http://{}", server.local_addr());

    let a = registry.breaker("pay.a").unwrap();
    let b = registry.breaker("pay.b").unwrap();
    a.noted("maintenance").force_open();
    a.reset(); // into closed: not announced
    b.force_open();

    wait_until("two notifications", async || {
        receiver.received.lock().unwrap().len() >= 2
    })
    .await;
    let got = receiver.received.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0]["breaker"], "pay.a");
    assert_eq!(got[0]["to"], "forced_open");
    assert_eq!(got[0]["note"], "maintenance");
    assert_eq!(got[1]["breaker"], "pay.b");
    assert_eq!(got[1]["from"], "closed");
    assert_eq!(metric(&base, "fusebox_notify_sent_total").await, 2);
    assert!(metric(&base, "fusebox_notify_failed_attempts_total").await >= 3);
    assert_eq!(metric(&base, "fusebox_notify_dropped_total").await, 0);

    // A reload without [notify] stops the announcements.
    apply_config(&registry, "", "reload").unwrap();
    a.force_open();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received.lock().unwrap().len(), 2);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_webhook_never_holds_up_a_breaker_and_drops_are_counted() {
    // A port that was free a moment ago: nothing listens there.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let registry = Registry::new(Policy::default());
    let config = format!("[notify]\nwebhook = \"http://{dead}/hook\"\n");
    apply_config(&registry, &config, "startup").unwrap();
    let server = serve(
        &registry,
        AdminConfig::new(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let base = format!("http://{}", server.local_addr());

    let b = registry.breaker("db").unwrap();
    let announced = 600;
    for _ in 0..announced {
        b.force_open();
        b.reset();
    }
    // Every announced transition is sent, queued, in flight, dropped by the notifier, or
    // dropped by the registry's event stream (a subscriber that fell behind).
    let floor = announced - NOTIFY_QUEUE as u64 - 1 - registry.events_dropped();
    wait_until("the drops to be counted", async || {
        metric(&base, "fusebox_notify_dropped_total").await >= floor
    })
    .await;
    assert_eq!(metric(&base, "fusebox_notify_sent_total").await, 0);
    server.shutdown().await.unwrap();
}
