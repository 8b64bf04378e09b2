//! An axum service that exposes its breakers at `/metrics` for Prometheus, and logs every
//! transition of every breaker from one registry-wide subscription.
//!
//! `cargo run -p fusebox --example metrics_endpoint` serves on 127.0.0.1 on a port the OS
//! picks (or on `FUSEBOX_METRICS_ADDR`), with simulated traffic so the series move; it prints
//! `listening on http://ADDR/metrics`. With `--check`, it scrapes its own `/metrics` once,
//! prints the state lines, and exits.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use fusebox::{Policy, Registry};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let registry = Registry::new(Policy::default());
    registry.apply_toml(
        r#"
        [defaults]
        min_calls = 20
        open_timeout = "2s"
        latency_histogram = true
        [breakers."payments.stripe"]
        failure_rate_threshold = 0.3
        "#,
    )?;

    // Every transition of every breaker, including breakers created later: one subscription.
    let events = registry.subscribe();
    std::thread::spawn(move || {
        for t in events {
            eprintln!("{}: {} -> {} ({})", t.breaker, t.from, t.to, t.reason);
        }
    });

    // Simulated traffic: `payments.stripe` fails every third call, `inventory` never does.
    let traffic = registry.clone();
    tokio::spawn(async move {
        for i in 0u64.. {
            for (name, failing) in [("payments.stripe", i % 3 == 0), ("inventory", false)] {
                if let Ok(breaker) = traffic.breaker(name) {
                    let _ = breaker.call(|| if failing { Err("502") } else { Ok(()) });
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });

    let app = Router::new().route(
        "/metrics",
        get(move || {
            let registry = registry.clone();
            async move {
                (
                    [("content-type", "text/plain; version=0.0.4")],
                    registry.render_prometheus(),
                )
            }
        }),
    );
    let addr = std::env::var("FUSEBOX_METRICS_ADDR").unwrap_or_else(|_| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}/metrics");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    if std::env::args().any(|a| a == "--check") {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        for line in response.lines().filter(|l| l.starts_with("fusebox_state{")) {
            println!("{line}");
        }
        return Ok(());
    }
    server.await??;
    Ok(())
}
