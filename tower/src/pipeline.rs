//! The whole call pipeline as a layer: [`PipelineLayer`] runs each request through a breaker's
//! `run` (rate limit, timeout, retries with backoff under a budget), for services whose
//! request is `Clone`.
//!
//! This file owns [`PipelineLayer`] and [`PipelineService`].

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};

use fusebox_engine::{Breaker, RunError};
use fusebox_registry::{Registry, RegistryError};
use tower_layer::Layer;
use tower_service::Service;

use crate::classify::{Classify, DefaultClassifier};

/// Runs every request through the breaker's pipeline, as
/// [`Breaker::run_with`](fusebox_engine::Breaker::run_with) does: each attempt takes a permit
/// (and a rate-limit token), runs under the policy's `timeout`, and is classified; failures,
/// timeouts and responses the classifier calls failures (a 503, say) are retried per the
/// policy's `retry` while its budget allows, each attempt on a clone of the request and of the
/// service. A rejection is never retried. Errors are [`RunError`]s. The policy's `chaos`, if
/// any, applies to each attempt as in `run`: an injected fault does not call the service and
/// ends as [`RunError::Injected`] when no retry follows.
///
/// The response future is boxed: it is `run`'s, whose type has no name.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fusebox_engine::{Breaker, Policy, Retry, RetryBackoff, TokioClock};
/// use fusebox_tower::PipelineLayer;
/// use tower::{Layer, ServiceExt, service_fn};
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
/// let policy = Policy::builder()
///     .timeout(Duration::from_millis(200))
///     .retry(Retry::new(3).with_backoff(RetryBackoff::Constant))
///     .build()?;
/// let breaker = Breaker::with_clock("search", policy, TokioClock::new());
/// let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
/// let svc = PipelineLayer::new(breaker.clone()).layer(service_fn({
///     let calls = calls.clone();
///     move |q: String| {
///         let n = calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///         async move { if n < 2 { Err("flaky") } else { Ok(q.len()) } }
///     }
/// }));
/// assert_eq!(svc.oneshot("fusebox".to_string()).await.unwrap(), 7);
/// assert_eq!(breaker.metrics().failures, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct PipelineLayer<C = DefaultClassifier> {
    breaker: Breaker,
    classify: C,
}

impl PipelineLayer {
    /// A layer running requests through `breaker`'s pipeline, with the [`DefaultClassifier`].
    ///
    /// ```
    /// use fusebox_engine::{Breaker, Policy};
    /// let layer = fusebox_tower::PipelineLayer::new(Breaker::new("db", Policy::default()));
    /// assert_eq!(layer.breaker().name(), "db");
    /// ```
    pub fn new(breaker: Breaker) -> Self {
        PipelineLayer {
            breaker,
            classify: DefaultClassifier,
        }
    }

    /// A layer for the breaker `name` of `registry` (created if needed, with the policy the
    /// registry gives that name).
    ///
    /// # Errors
    ///
    /// The registry's, for an invalid name or a full registry.
    ///
    /// ```
    /// use fusebox_registry::Registry;
    /// let registry = Registry::new(fusebox_engine::Policy::default());
    /// assert!(fusebox_tower::PipelineLayer::from_registry(&registry, "payments.eu").is_ok());
    /// assert!(fusebox_tower::PipelineLayer::from_registry(&registry, "bad name").is_err());
    /// ```
    pub fn from_registry(registry: &Registry, name: &str) -> Result<Self, RegistryError> {
        Ok(PipelineLayer::new(registry.breaker(name)?))
    }
}

impl<C> PipelineLayer<C> {
    /// The same layer with `classify` deciding what each attempt's result means.
    ///
    /// ```
    /// use fusebox_engine::{Breaker, Outcome, Policy};
    /// let layer = fusebox_tower::PipelineLayer::new(Breaker::new("db", Policy::default()))
    ///     .classify(|r: &Result<u16, ()>| if matches!(r, Ok(s) if *s < 500) { Outcome::Success } else { Outcome::Failure });
    /// # let _ = layer;
    /// ```
    pub fn classify<C2>(self, classify: C2) -> PipelineLayer<C2> {
        PipelineLayer {
            breaker: self.breaker,
            classify,
        }
    }

    /// The breaker requests run through.
    ///
    /// ```
    /// use fusebox_engine::{Breaker, Policy};
    /// let b = Breaker::new("db", Policy::default());
    /// assert!(Breaker::ptr_eq(fusebox_tower::PipelineLayer::new(b.clone()).breaker(), &b));
    /// ```
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }
}

impl<S, C: Clone> Layer<S> for PipelineLayer<C> {
    type Service = PipelineService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        PipelineService {
            inner,
            breaker: self.breaker.clone(),
            classify: self.classify.clone(),
        }
    }
}

impl<C> fmt::Debug for PipelineLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineLayer")
            .field("breaker", &self.breaker.name())
            .finish_non_exhaustive()
    }
}

/// The service [`PipelineLayer`] makes. It is always ready: each attempt waits for the
/// readiness of its own clone of the inner service.
///
/// ```
/// use fusebox_engine::{Breaker, Policy};
/// use tower::{Layer, service_fn};
/// let svc = fusebox_tower::PipelineLayer::new(Breaker::new("db", Policy::default()))
///     .layer(service_fn(|x: u8| async move { Ok::<_, ()>(x) }));
/// assert_eq!(svc.breaker().name(), "db");
/// ```
#[derive(Clone)]
pub struct PipelineService<S, C = DefaultClassifier> {
    inner: S,
    breaker: Breaker,
    classify: C,
}

impl<S, C> PipelineService<S, C> {
    /// The breaker requests run through.
    ///
    /// ```
    /// use fusebox_engine::{Breaker, Policy};
    /// use tower::{Layer, service_fn};
    /// let svc = fusebox_tower::PipelineLayer::new(Breaker::new("db", Policy::default()))
    ///     .layer(service_fn(|x: u8| async move { Ok::<_, ()>(x) }));
    /// assert_eq!(svc.breaker().name(), "db");
    /// ```
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }
}

impl<S, C> fmt::Debug for PipelineService<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineService")
            .field("breaker", &self.breaker.name())
            .finish_non_exhaustive()
    }
}

/// The future of a [`PipelineService`] call.
pub type PipelineFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, RunError<E>>> + Send>>;

impl<S, C, Req> Service<Req> for PipelineService<S, C>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send,
    S::Response: Send + 'static,
    S::Error: Send + 'static,
    Req: Clone + Send + 'static,
    C: Classify<S::Response, S::Error> + Clone + Send + 'static,
{
    type Response = S::Response;
    type Error = RunError<S::Error>;
    type Future = PipelineFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Each attempt waits for its own clone's readiness: nothing to reserve here, and a
        // rejection is never a readiness error.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let service = self.inner.clone();
        let classify = self.classify.clone();
        let run = self.breaker.run_with(
            move || {
                let mut service = service.clone();
                let request = request.clone();
                async move {
                    poll_fn(|cx| service.poll_ready(cx)).await?;
                    service.call(request).await
                }
            },
            move |result: &Result<S::Response, S::Error>| classify.classify(result),
        );
        Box::pin(run)
    }
}
