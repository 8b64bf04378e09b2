//! Tower middleware for fusebox circuit breakers: guard any tower service (an axum route, a
//! hyper or tonic client) with a [`Breaker`](fusebox_engine::Breaker).
//!
//! [`BreakerLayer`] asks the breaker in `call`; an admitted call's response future holds the
//! permit and records what the [classifier](Classify) makes of the result when it completes.
//! A rejected call never reaches the inner service: it fails with [`Error::Rejected`], or,
//! after [`reject_with_status`](BreakerLayer::reject_with_status), is answered with a
//! `503 Service Unavailable` and a `Retry-After` header.
//!
//! - **Readiness is the inner service's.** `poll_ready` forwards the inner service's readiness
//!   and never fails for a rejection (tower drops a service whose `poll_ready` fails), nor
//!   reserves anything.
//! - **HTTP by status.** The default classifier counts 5xx, 408 and 429 as failures, of kinds
//!   `"http_5xx"`, `"http_408"` and `"http_429"`, and passes a 429's or a 503's `Retry-After`
//!   to the breaker, which then stays open at least that long ([`HttpClassifier`]). Any other
//!   response is a success, an `Err` a failure of kind `"error"`.
//! - **Cancellation is not failure.** A response future dropped before it completes records
//!   [`Outcome::Ignored`](fusebox_engine::Outcome::Ignored) and frees its half-open and
//!   bulkhead slots.
//! - **No allocation.** The response futures are named types; the admitted path adds a
//!   permit (one reference-count increment) and nothing on the heap.
//!
//! # An axum route
//!
//! A route whose handler keeps failing trips its breaker; from then on the route answers 503
//! with `Retry-After` without running the handler, until the open period is over.
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, body::Body, http::{Request, StatusCode}, routing::get};
//! use fusebox_engine::{Breaker, Policy, State, Window};
//! use fusebox_tower::BreakerLayer;
//! use tower::ServiceExt;
//!
//! async fn charge() -> StatusCode {
//!     StatusCode::BAD_GATEWAY // the payment provider is down
//! }
//!
//! let policy = Policy::builder()
//!     .window(Window::count(20))
//!     .min_calls(5)
//!     .open_timeout(Duration::from_secs(30))
//!     .build()?;
//! let breaker = Breaker::new("payments", policy);
//! let app = Router::new()
//!     .route("/charge", get(charge))
//!     .route_layer(BreakerLayer::new(breaker.clone()).reject_with_status());
//!
//! let get_charge = || Request::get("/charge").body(Body::empty()).unwrap();
//! for _ in 0..5 {
//!     let response = futures_executor::block_on(app.clone().oneshot(get_charge()))?;
//!     assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
//! }
//! assert_eq!(breaker.state(), State::Open);
//! let response = futures_executor::block_on(app.oneshot(get_charge()))?;
//! assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
//! assert_eq!(response.headers()["retry-after"], "30");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Served as any axum app is:
//!
//! ```no_run
//! # use axum::{Router, routing::get};
//! # use fusebox_engine::Policy;
//! # use fusebox_registry::Registry;
//! # use fusebox_tower::BreakerLayer;
//! # async fn charge() -> &'static str { "ok" }
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let registry = Registry::new(Policy::default());
//!     let app = Router::new()
//!         .route("/charge", get(charge))
//!         .route_layer(BreakerLayer::from_registry(&registry, "payments")?.reject_with_status());
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! # Any tower service
//!
//! Without `reject_with_status`, a rejection is an error, and so is the inner service's own
//! error, wrapped: [`Error::Rejected`] and [`Error::Inner`].
//!
//! ```
//! use fusebox_engine::{Breaker, Policy, RejectReason};
//! use fusebox_tower::{BreakerLayer, Error};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! let breaker = Breaker::new("geo", Policy::default());
//! let svc = ServiceBuilder::new()
//!     .layer(BreakerLayer::new(breaker.clone()))
//!     .service(service_fn(|ip: &'static str| async move { Ok::<_, std::io::Error>(ip.len()) }));
//!
//! assert_eq!(futures_executor::block_on(svc.clone().oneshot("10.0.0.1"))?, 8);
//! breaker.force_open();
//! match futures_executor::block_on(svc.oneshot("10.0.0.2")) {
//!     Err(Error::Rejected(r)) => assert_eq!(r.reason(), RejectReason::ForcedOpen),
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! ```
//!
//! # Files
//!
//! - layer.rs: [`BreakerLayer`], its constructors and options.
//! - service.rs: [`BreakerService`]: readiness forwarded, admission in `call`.
//! - future.rs: [`ResponseFuture`] and [`StatusResponseFuture`]: recording on completion.
//! - classify.rs: [`Classify`], [`DefaultClassifier`], [`ResponseVerdict`], [`ResultClassifier`].
//! - http_classifier.rs: [`HttpClassifier`] and `Retry-After` parsing.
//! - reject.rs: [`RejectAsError`], [`RejectWithStatus`] and the 503 response.
//! - error.rs: [`Error`].
//! - pipeline.rs: [`PipelineLayer`] and [`PipelineService`]: the whole call pipeline (rate
//!   limit, timeout, retries) of the breaker's `run`, for `Clone` requests.

mod classify;
mod error;
mod future;
mod http_classifier;
mod layer;
mod pipeline;
mod reject;
mod service;

pub use classify::{Classify, DefaultClassifier, ResponseVerdict, ResultClassifier};
pub use error::Error;
pub use future::{ResponseFuture, StatusResponseFuture};
pub use http_classifier::HttpClassifier;
pub use layer::BreakerLayer;
pub use pipeline::{PipelineFuture, PipelineLayer, PipelineService};
pub use reject::{RejectAsError, RejectWithStatus};
pub use service::BreakerService;
