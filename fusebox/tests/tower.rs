//! `fusebox::tower` (feature `tower`) through the facade's names alone: an axum app on
//! 127.0.0.1 whose route is guarded by a registry's breaker, called over HTTP.
#![cfg(feature = "tower")]

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Response, StatusCode};
use axum::routing::get;
use fusebox::tower::{BreakerLayer, HttpClassifier, ResponseVerdict};
use fusebox::{Failure, ManualClock, Outcome, Policy, Registry, RegistryError, State, Verdict};

#[tokio::test]
async fn a_registry_breaker_guards_an_axum_route_through_the_facade() {
    let clock = ManualClock::new();
    let registry = Registry::with_clock(Policy::default(), clock.clone());
    registry
        .apply_toml(
            r#"
            [breakers."upstream"]
            min_calls = 2
            open_timeout = "2500ms"
            "#,
        )
        .unwrap();
    // 404s from this upstream mean "moved": a failure of a kind of its own; the rest as HTTP.
    let classify = |r: &Result<Response<Body>, Infallible>| -> Verdict {
        match r {
            Ok(r) if r.status() == StatusCode::NOT_FOUND => Failure::of_kind("moved").into(),
            Ok(r) => r.verdict(),
            Err(_) => Outcome::Failure.into(),
        }
    };
    let layer = BreakerLayer::from_registry(&registry, "upstream.eu")
        .unwrap()
        .classify(classify)
        .reject_with_status();
    let app = Router::new()
        .route("/item", get(|| async { StatusCode::NOT_FOUND }))
        .route_layer(layer);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let get = || client.get(format!("http://{addr}/item")).send();

    for _ in 0..2 {
        assert_eq!(get().await.unwrap().status(), 404);
    }
    let breaker = registry.get("upstream.eu").unwrap();
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(breaker.metrics().failures_of_kind("moved"), 2);
    let rejected = get().await.unwrap();
    assert_eq!(rejected.status(), 503);
    assert_eq!(rejected.headers()["retry-after"], "3");

    assert!(matches!(
        BreakerLayer::from_registry(&registry, "upstream..eu"),
        Err(RegistryError::InvalidName { .. })
    ));
    let _ = HttpClassifier; // named through the facade
}
