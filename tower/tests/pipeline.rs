//! `PipelineLayer`: the breaker's whole pipeline around a tower service. A reqwest client
//! calls a flaky axum server on loopback through it; the timing rules run on paused time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use fusebox_engine::{
    Breaker, Failure, Outcome, Policy, RejectReason, Retry, RetryBackoff, RunError, State,
    TokioClock, Verdict,
};
use fusebox_registry::Registry;
use fusebox_tower::PipelineLayer;
use tower::{Layer, ServiceExt, service_fn};

/// A server whose `/flaky` answers 503 to its first `failures` requests, then 200.
async fn flaky_server(failures: u32) -> (String, Arc<AtomicU32>) {
    let hits = Arc::new(AtomicU32::new(0));
    let counted = hits.clone();
    let app = Router::new().route(
        "/flaky",
        get(move || {
            let n = counted.fetch_add(1, Ordering::Relaxed);
            async move {
                if n < failures {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/flaky", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

fn by_status(r: &Result<u16, reqwest::Error>) -> Verdict {
    match r {
        Ok(s) if *s >= 500 => Failure::of_kind("http_5xx").into(),
        Ok(_) => Outcome::Success.into(),
        Err(_) => Failure::of_kind("connect").into(),
    }
}

#[tokio::test]
async fn a_client_retries_a_flaky_loopback_server_through_the_pipeline() {
    let (url, hits) = flaky_server(2).await;
    let registry = Registry::new(Policy::default());
    registry
        .apply_toml(
            "[breakers.\"inventory\"]\ntimeout = \"5s\"\nretry = { max_attempts = 3, backoff = \"constant\", base = \"1ms\", max = \"1ms\", budget = 0.2 }\n",
        )
        .unwrap();
    let client = reqwest::Client::new();
    let svc = PipelineLayer::from_registry(&registry, "inventory")
        .unwrap()
        .classify(by_status)
        .layer(service_fn(move |url: String| {
            let client = client.clone();
            async move { Ok::<_, reqwest::Error>(client.get(url).send().await?.status().as_u16()) }
        }));
    assert_eq!(svc.clone().oneshot(url.clone()).await.unwrap(), 200);
    assert_eq!(hits.load(Ordering::Relaxed), 3);
    let b = registry.get("inventory").unwrap();
    assert_eq!(b.metrics().failures_of_kind("http_5xx"), 2);
    assert_eq!(b.metrics().successes, 1);
}

#[tokio::test(start_paused = true)]
async fn timeouts_fail_retries_run_out_and_the_last_response_comes_back() {
    let policy = Policy::builder()
        .timeout(Duration::from_millis(100))
        .retry(Retry::new(2).with_backoff(RetryBackoff::Constant))
        .min_calls(100)
        .build()
        .unwrap();
    let breaker = Breaker::with_clock("slow", policy, TokioClock::new());
    let svc = PipelineLayer::new(breaker.clone()).layer(service_fn(|wait: u64| async move {
        tokio::time::sleep(Duration::from_millis(wait)).await;
        Ok::<u16, ()>(503)
    }));
    let r = svc.clone().oneshot(1_000).await;
    assert!(
        matches!(r, Err(RunError::TimedOut { attempts: 2 })),
        "{r:?}"
    );
    assert_eq!(breaker.metrics().failures_of_kind("timeout"), 2);

    let svc = PipelineLayer::new(breaker.clone())
        .classify(|r: &Result<u16, ()>| {
            if matches!(r, Ok(s) if *s >= 500) {
                Outcome::Failure
            } else {
                Outcome::Success
            }
        })
        .layer(service_fn(|_: ()| async { Ok::<u16, ()>(503) }));
    assert_eq!(
        svc.oneshot(()).await.unwrap(),
        503,
        "the last response, retried once"
    );
    assert_eq!(breaker.metrics().failures, 4);
}

#[tokio::test(start_paused = true)]
async fn a_rejection_is_an_error_at_once_and_readiness_never_fails() {
    let breaker = Breaker::with_clock("down", Policy::default(), TokioClock::new());
    breaker.force_open();
    let calls = Arc::new(AtomicU32::new(0));
    let mut svc = PipelineLayer::new(breaker.clone()).layer(service_fn({
        let calls = calls.clone();
        move |_: ()| {
            calls.fetch_add(1, Ordering::Relaxed);
            async { Ok::<_, ()>(()) }
        }
    }));
    let ready = svc.ready().await;
    assert!(ready.is_ok());
    let r = svc.oneshot(()).await;
    assert!(
        matches!(&r, Err(RunError::Rejected { rejected, attempts: 0 }) if rejected.reason() == RejectReason::ForcedOpen),
        "{r:?}"
    );
    assert_eq!(calls.load(Ordering::Relaxed), 0);
    assert_eq!(breaker.state(), State::ForcedOpen);
}

#[tokio::test(start_paused = true)]
async fn injected_faults_reach_the_service_caller_as_run_errors() {
    let chaos = fusebox_engine::Chaos::new().with_fault_rate(1.0);
    let policy = Policy::builder()
        .retry(Retry::new(2).with_backoff(RetryBackoff::Constant))
        .min_calls(100)
        .chaos(chaos)
        .build()
        .unwrap();
    let breaker = Breaker::with_clock("chaotic", policy, TokioClock::new());
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let svc = PipelineLayer::new(breaker.clone()).layer(service_fn(move |_: ()| {
        counted.fetch_add(1, Ordering::Relaxed);
        async { Ok::<u16, ()>(200) }
    }));
    let r = svc.clone().oneshot(()).await;
    assert!(
        matches!(r, Err(RunError::Injected { attempts: 2 })),
        "{r:?}"
    );
    assert_eq!(calls.load(Ordering::Relaxed), 0);
    assert_eq!(
        breaker
            .metrics()
            .failures_of_kind(fusebox_engine::CHAOS_KIND),
        2
    );
    // Switched off: the service is called again.
    assert!(breaker.chaos_off());
    assert_eq!(svc.oneshot(()).await.unwrap(), 200);
    assert_eq!(calls.load(Ordering::Relaxed), 1);
}
