//! A registry's Prometheus text served by axum on loopback and scraped over HTTP, as a
//! Prometheus server would: the response parses and carries every breaker's series.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use fusebox::{ManualClock, Policy, Registry, State};

#[tokio::test]
async fn a_scrape_over_http_parses_and_has_every_breaker() {
    let registry = Registry::with_clock(
        Policy::builder().min_calls(2).build().unwrap(),
        ManualClock::new(),
    );
    let served = registry.clone();
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let registry = served.clone();
            async move {
                (
                    [("content-type", "text/plain; version=0.0.4")],
                    registry.render_prometheus(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    for i in 0..50 {
        registry.breaker(&format!("tenant.{i}")).unwrap();
    }
    let db = registry.breaker("db").unwrap();
    let _ = db.call(|| Err::<(), _>("down"));
    let _ = db.call(|| Err::<(), _>("down"));
    assert_eq!(db.state(), State::Open);

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let response = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4"
    );
    let text = response.text().await.unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let states: Vec<_> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "fusebox_state")
        .collect();
    assert_eq!(states.len(), 51 * State::ALL.len());
    let db_open = states
        .iter()
        .find(|s| s.labels.get("breaker") == Some("db") && s.labels.get("state") == Some("open"))
        .unwrap();
    assert_eq!(db_open.value, prometheus_parse::Value::Gauge(1.0));
    assert!(scrape.docs.contains_key("fusebox_calls_total"));
    server.abort();
}
