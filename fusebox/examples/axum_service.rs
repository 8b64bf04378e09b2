//! An axum service in front of a flaky dependency, guarded both ways: its client calls the
//! dependency through the whole pipeline of the `inventory` breaker (rate limit, timeout,
//! retries with backoff), and its own route, guarded by the `checkout` breaker, answers 503
//! with `Retry-After` once it keeps failing (because `inventory` is failing or open).
//!
//! `cargo run -p fusebox --features tower --example axum_service`
//!
//! Everything runs on 127.0.0.1 on ports the OS picks: a "dependency" that fails 70 % of the
//! time for its first 3 seconds, then recovers, and the service that calls it. The example
//! sends 60 requests to the service, prints what each got and the breaker's story, and exits.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use fusebox::tower::{BreakerLayer, PipelineLayer};
use fusebox::{Failure, Outcome, Policy, Registry, Verdict};
use tower::{Layer, ServiceExt, service_fn};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dependency = serve(flaky_dependency()).await?;

    let registry = Registry::new(Policy::default());
    registry.apply_toml(
        r#"
        [defaults]
        window = { count = 20 }
        min_calls = 10
        open_timeout = "1s"
        [breakers."inventory"]
        timeout = "300ms"
        retry = { max_attempts = 3, backoff = "full_jitter", base = "20ms", max = "200ms", budget = 0.2 }
        rate_limit = { rate = 200, per = "1s", burst = 20 }
        "#,
    )?;

    // The client side: every call to the dependency goes through the pipeline.
    let http = reqwest::Client::new();
    let inventory = PipelineLayer::from_registry(&registry, "inventory")?
        .classify(by_status)
        .layer(service_fn(move |url: String| {
            let http = http.clone();
            async move { Ok::<_, reqwest::Error>(http.get(url).send().await?.status().as_u16()) }
        }));

    // The server side: the route answers 503 while the dependency's breaker is open.
    let url = format!("{dependency}/stock");
    let app = Router::new()
        .route(
            "/checkout",
            get(move || {
                let inventory = inventory.clone();
                let url = url.clone();
                async move {
                    match inventory.oneshot(url).await {
                        Ok(200) => Ok(StatusCode::OK),
                        _ => Err(StatusCode::BAD_GATEWAY),
                    }
                }
            }),
        )
        .route_layer(BreakerLayer::from_registry(&registry, "checkout")?.reject_with_status());
    let service = serve(app).await?;
    println!("service on {service}, dependency on {dependency}");

    let events = registry.subscribe();
    let client = reqwest::Client::new();
    let start = Instant::now();
    for i in 0..60 {
        let response = client.get(format!("{service}/checkout")).send().await?;
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| format!(" (retry after {}s)", v.to_str().unwrap_or("?")))
            .unwrap_or_default();
        println!(
            "{:>5.2}s  request {i:>2}: {}{retry_after}",
            start.elapsed().as_secs_f64(),
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for t in events.try_iter() {
        println!("{}: {} -> {} ({})", t.breaker, t.from, t.to, t.reason);
    }
    if let Some(m) = registry.get("inventory").map(|b| b.metrics()) {
        println!(
            "inventory: {} successes, {} failures ({} http_5xx, {} timeouts), {} rejected",
            m.successes,
            m.failures,
            m.failures_of_kind("http_5xx"),
            m.failures_of_kind("timeout"),
            m.rejected
        );
    }
    Ok(())
}

/// 5xx are failures of their kind, the rest successes; a transport error is a failure too.
fn by_status(r: &Result<u16, reqwest::Error>) -> Verdict {
    match r {
        Ok(s) if *s >= 500 => Failure::of_kind("http_5xx").into(),
        Ok(_) => Outcome::Success.into(),
        Err(_) => Failure::of_kind("connect").into(),
    }
}

/// A dependency that fails 7 calls in 10 for its first 3 seconds, then recovers.
fn flaky_dependency() -> Router {
    let born = Instant::now();
    let calls = Arc::new(AtomicU64::new(0));
    Router::new().route(
        "/stock",
        get(move || {
            let n = calls.fetch_add(1, Ordering::Relaxed);
            let sick = born.elapsed() < Duration::from_secs(3) && n % 10 < 7;
            async move {
                if sick {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                }
            }
        }),
    )
}

/// Serves `app` on 127.0.0.1 on a port the OS picks; its base URL.
async fn serve(app: Router) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}
