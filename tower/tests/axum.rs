//! A real axum server on 127.0.0.1 (a port the OS picks) whose routes are guarded by
//! `BreakerLayer::new(..).reject_with_status()`, called over HTTP by a real client.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Response, StatusCode};
use axum::routing::get;
use fusebox_engine::{Breaker, ManualClock, Outcome, Policy, State, Window};
use fusebox_tower::BreakerLayer;

/// Serves `app` on 127.0.0.1 on a port the OS picks; the server stops with the test's runtime.
async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A client that ignores proxy settings and gives up after 10 s.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// A GET of `path`: the status and the `Retry-After` header, if any.
async fn get_status(
    client: &reqwest::Client,
    addr: SocketAddr,
    path: &str,
) -> (u16, Option<String>) {
    let response = client
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .expect("a response");
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().expect("ascii").to_owned());
    (response.status().as_u16(), retry_after)
}

#[tokio::test]
async fn failing_responses_trip_the_breaker_and_the_route_answers_503_with_retry_after() {
    let clock = ManualClock::new();
    let policy = Policy::builder()
        .window(Window::count(4))
        .failure_rate_threshold(0.5)
        .min_calls(4)
        .open_timeout(Duration::from_millis(1500))
        .build()
        .unwrap();
    let breaker = Breaker::with_clock("payments", policy, clock.clone());
    let handled = Arc::new(AtomicUsize::new(0));
    let seen = handled.clone();
    let app = Router::new()
        .route(
            "/pay",
            get(move || {
                seen.fetch_add(1, Ordering::Relaxed);
                async { StatusCode::INTERNAL_SERVER_ERROR }
            }),
        )
        .route_layer(BreakerLayer::new(breaker.clone()).reject_with_status())
        .route("/health", get(|| async { "ok" }));
    let addr = serve(app).await;
    let client = client();

    for _ in 0..4 {
        assert_eq!(get_status(&client, addr, "/pay").await, (500, None));
    }
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(breaker.metrics().failures_of_kind("http_5xx"), 4);

    // 1.5 s left: Retry-After in whole seconds, rounded up.
    assert_eq!(
        get_status(&client, addr, "/pay").await,
        (503, Some("2".into()))
    );
    clock.advance(Duration::from_millis(600));
    assert_eq!(
        get_status(&client, addr, "/pay").await,
        (503, Some("1".into()))
    );
    assert_eq!(
        handled.load(Ordering::Relaxed),
        4,
        "rejected requests never reach the handler"
    );
    assert_eq!(breaker.metrics().rejected, 2);
    // A route added after the layer is not guarded.
    assert_eq!(get_status(&client, addr, "/health").await, (200, None));

    // The period over, a probe reaches the handler again.
    clock.advance(Duration::from_millis(900));
    assert_eq!(get_status(&client, addr, "/pay").await, (500, None));
    assert_eq!(handled.load(Ordering::Relaxed), 5);
}

#[tokio::test]
async fn a_429_with_retry_after_makes_the_open_period_at_least_that_long() {
    let clock = ManualClock::new();
    let policy = Policy::builder()
        .min_calls(1)
        .open_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let breaker = Breaker::with_clock("rate-limited", policy, clock.clone());
    let app = Router::new()
        .route(
            "/quote",
            get(|| async { (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "120")]) }),
        )
        .route_layer(BreakerLayer::new(breaker.clone()).reject_with_status());
    let addr = serve(app).await;
    let client = client();

    assert_eq!(
        get_status(&client, addr, "/quote").await,
        (429, Some("120".into()))
    );
    assert_eq!(breaker.state(), State::Open);
    assert!(breaker.open_remaining().unwrap() >= Duration::from_secs(120));
    assert_eq!(breaker.metrics().failures_of_kind("http_429"), 1);
    assert_eq!(
        get_status(&client, addr, "/quote").await,
        (503, Some("120".into()))
    );
    clock.advance(Duration::from_secs(30));
    assert_eq!(
        get_status(&client, addr, "/quote").await,
        (503, Some("90".into()))
    );
}

#[tokio::test]
async fn a_closure_classifies_the_responses_of_a_whole_router() {
    let breaker = Breaker::with_clock(
        "search",
        Policy::builder().min_calls(1).build().unwrap(),
        ManualClock::new(),
    );
    // 500s from this backend are known noise: neither a success nor a failure.
    let layer = BreakerLayer::new(breaker.clone())
        .classify(|r: &Result<Response<Body>, Infallible>| match r {
            Ok(r) if r.status() == StatusCode::INTERNAL_SERVER_ERROR => Outcome::Ignored,
            Ok(r) if r.status().is_server_error() => Outcome::Failure,
            _ => Outcome::Success,
        })
        .reject_with_status();
    let app = Router::new()
        .route(
            "/noise",
            get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        )
        .route("/found", get(|| async { "found" }))
        .layer(layer);
    let addr = serve(app).await;
    let client = client();

    for _ in 0..3 {
        assert_eq!(get_status(&client, addr, "/noise").await, (500, None));
    }
    assert_eq!(get_status(&client, addr, "/found").await, (200, None));
    // The router's own 404 for an unknown path goes through the layer too: a success.
    assert_eq!(get_status(&client, addr, "/missing").await, (404, None));
    let m = breaker.metrics();
    assert_eq!((m.ignored, m.successes, m.failures), (3, 2, 0));
    assert_eq!(breaker.state(), State::Closed);

    breaker.force_open();
    assert_eq!(get_status(&client, addr, "/found").await, (503, None));
}
