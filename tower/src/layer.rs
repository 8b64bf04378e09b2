//! The layer: a breaker, a classifier and a rejection mode, applied to any service.
//!
//! This file owns [`BreakerLayer`]: its constructors (from a breaker, or by name from a
//! registry) and its options.

use std::fmt;

use fusebox_engine::Breaker;
use fusebox_registry::{Registry, RegistryError};
use tower_layer::Layer;

use crate::classify::DefaultClassifier;
use crate::reject::{RejectAsError, RejectWithStatus};
use crate::service::BreakerService;

/// Guards a tower service with a breaker: each call asks the breaker first, and the result is
/// classified and recorded when the response future completes.
///
/// - `C` decides what a result means ([`Classify`](crate::Classify)); the default,
///   [`DefaultClassifier`], judges an [`http::Response`] by its status (see
///   [`HttpClassifier`](crate::HttpClassifier)) and any other `Ok` as a success, and counts an
///   `Err` as a failure. Change it with [`classify`](Self::classify).
/// - `M` says what a rejected call gets: [`Error::Rejected`](crate::Error::Rejected) by default,
///   or a `503 Service Unavailable` response with [`reject_with_status`](Self::reject_with_status).
///
/// The services it makes share the one breaker; cloning the layer costs a reference-count
/// increment.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, ManualClock, Policy, State, Window};
/// use fusebox_tower::{BreakerLayer, Error};
/// use tower::{Layer, ServiceExt, service_fn};
///
/// let policy = Policy::builder().window(Window::count(4)).min_calls(4).build()?;
/// let breaker = Breaker::with_clock("inventory", policy, ManualClock::new());
/// let svc = BreakerLayer::new(breaker.clone())
///     .layer(service_fn(|sku: u32| async move { if sku == 0 { Err("no such sku") } else { Ok(sku) } }));
///
/// for _ in 0..4 {
///     let r = futures_executor::block_on(svc.clone().oneshot(0));
///     assert!(matches!(r, Err(Error::Inner("no such sku"))));
/// }
/// assert_eq!(breaker.state(), State::Open);
/// let r = futures_executor::block_on(svc.oneshot(7));
/// assert!(matches!(r, Err(Error::Rejected(_))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct BreakerLayer<C = DefaultClassifier, M = RejectAsError> {
    breaker: Breaker,
    classify: C,
    mode: M,
}

impl BreakerLayer {
    /// A layer guarding services with `breaker`, with the [`DefaultClassifier`] and
    /// rejections as errors.
    ///
    /// ```
    /// use fusebox_engine::{Breaker, Policy};
    /// let layer = fusebox_tower::BreakerLayer::new(Breaker::new("payments", Policy::default()));
    /// assert_eq!(layer.breaker().name(), "payments");
    /// ```
    pub fn new(breaker: Breaker) -> Self {
        BreakerLayer {
            breaker,
            classify: DefaultClassifier,
            mode: RejectAsError,
        }
    }

    /// A layer guarding services with the breaker `registry` holds as `name`, created with its
    /// inherited policy if it does not exist yet (see [`Registry::breaker`]).
    ///
    /// # Errors
    ///
    /// What [`Registry::breaker`] returns: [`RegistryError::InvalidName`] for a name the
    /// registry does not accept, [`RegistryError::Full`] beyond its capacity.
    ///
    /// ```
    /// use fusebox_engine::Policy;
    /// use fusebox_registry::{Registry, RegistryError};
    /// use fusebox_tower::BreakerLayer;
    ///
    /// let registry = Registry::new(Policy::default());
    /// let layer = BreakerLayer::from_registry(&registry, "payments.eu")?;
    /// assert!(registry.contains("payments.eu"));
    /// assert!(matches!(
    ///     BreakerLayer::from_registry(&registry, "payments..eu"),
    ///     Err(RegistryError::InvalidName { .. })
    /// ));
    /// # drop(layer);
    /// # Ok::<(), RegistryError>(())
    /// ```
    pub fn from_registry(registry: &Registry, name: &str) -> Result<Self, RegistryError> {
        registry.breaker(name).map(BreakerLayer::new)
    }
}

impl<C, M> BreakerLayer<C, M> {
    /// This layer with `classify` deciding what each result means: any
    /// [`Classify`](crate::Classify), such as a closure
    /// `Fn(&Result<Response, Error>) -> V` where `V` is an
    /// [`Outcome`](fusebox_engine::Outcome), a [`Verdict`](fusebox_engine::Verdict) or a
    /// [`Failure`](fusebox_engine::Failure). Write out the closure argument's type: the layer
    /// does not know the service yet.
    ///
    /// ```
    /// use fusebox_engine::{Breaker, ManualClock, Outcome, Policy};
    /// use fusebox_tower::BreakerLayer;
    /// use tower::{Layer, ServiceExt, service_fn};
    ///
    /// let breaker = Breaker::with_clock("lookup", Policy::default(), ManualClock::new());
    /// // A miss is the caller's business, not a failure of the dependency.
    /// let svc = BreakerLayer::new(breaker.clone())
    ///     .classify(|r: &Result<Option<u32>, std::io::Error>| match r {
    ///         Ok(_) => Outcome::Success,
    ///         Err(e) if e.kind() == std::io::ErrorKind::NotFound => Outcome::Ignored,
    ///         Err(_) => Outcome::Failure,
    ///     })
    ///     .layer(service_fn(|_: &str| async { Err::<Option<u32>, _>(std::io::ErrorKind::NotFound.into()) }));
    /// let _ = futures_executor::block_on(svc.oneshot("key"));
    /// assert_eq!((breaker.metrics().ignored, breaker.metrics().failures), (1, 0));
    /// ```
    pub fn classify<C2>(self, classify: C2) -> BreakerLayer<C2, M> {
        BreakerLayer {
            breaker: self.breaker,
            classify,
            mode: self.mode,
        }
    }

    /// This layer answering a rejected call with a `503 Service Unavailable` response instead
    /// of an error, with a `Retry-After` header in whole seconds (rounded up) when the breaker
    /// is open and knows when it may admit a call again. The service's error type stays the
    /// inner one, so it fits an axum `Router::route_layer` or `Router::layer`, whose services
    /// are `Infallible`. The response body is the body type's `Default` (empty for axum's
    /// `Body`).
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use fusebox_engine::{Breaker, ManualClock, Policy};
    /// use fusebox_tower::BreakerLayer;
    /// use tower::{Layer, ServiceExt, service_fn};
    ///
    /// let breaker = Breaker::with_clock("db", Policy::default(), ManualClock::new());
    /// let svc = BreakerLayer::new(breaker.clone())
    ///     .reject_with_status()
    ///     .layer(service_fn(|_: ()| async { Ok::<_, Infallible>(http::Response::new(String::from("hi"))) }));
    /// breaker.force_open();
    /// let response = futures_executor::block_on(svc.oneshot(())).unwrap();
    /// assert_eq!(response.status(), 503);
    /// assert!(response.headers().get("retry-after").is_none()); // forced open: no known end
    /// ```
    pub fn reject_with_status(self) -> BreakerLayer<C, RejectWithStatus> {
        BreakerLayer {
            breaker: self.breaker,
            classify: self.classify,
            mode: RejectWithStatus,
        }
    }

    /// The breaker this layer guards services with.
    ///
    /// ```
    /// use fusebox_engine::{Breaker, Policy};
    /// let breaker = Breaker::new("db", Policy::default());
    /// let layer = fusebox_tower::BreakerLayer::new(breaker.clone());
    /// assert!(Breaker::ptr_eq(layer.breaker(), &breaker));
    /// ```
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }
}

impl<S, C: Clone, M: Clone> Layer<S> for BreakerLayer<C, M> {
    type Service = BreakerService<S, C, M>;

    fn layer(&self, inner: S) -> Self::Service {
        BreakerService::new(
            inner,
            self.breaker.clone(),
            self.classify.clone(),
            self.mode.clone(),
        )
    }
}

impl<C, M: fmt::Debug> fmt::Debug for BreakerLayer<C, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerLayer")
            .field("breaker", &self.breaker)
            .field("classify", &std::any::type_name::<C>())
            .field("mode", &self.mode)
            .finish()
    }
}
