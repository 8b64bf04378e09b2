//! The guarded service: readiness forwarded from the inner service, admission asked of the
//! breaker in `call`.
//!
//! This file owns [`BreakerService`] and its two `Service` impls, one per rejection mode.
//!
//! `poll_ready` forwards the inner service's readiness and nothing else: it neither asks the
//! breaker nor reserves a permit, because tower discards a service whose `poll_ready` returns
//! an error, and a permit reserved there would be held for as long as the caller waits to
//! call. The breaker is asked in `call`: an admitted call takes an
//! [`OwnedPermit`](fusebox_engine::OwnedPermit) into its response future; a rejected one never
//! reaches the inner service.

use std::fmt;
use std::task::{Context, Poll};

use fusebox_engine::Breaker;
use http::Response;
use tower_service::Service;

use crate::classify::{Classify, DefaultClassifier};
use crate::error::Error;
use crate::future::{ResponseFuture, StatusResponseFuture};
use crate::reject::{RejectAsError, RejectWithStatus, unavailable};

/// A service guarded by a breaker, made by [`BreakerLayer`](crate::BreakerLayer).
///
/// `C` is its [`Classify`] and `M` its rejection mode: [`RejectAsError`] (the default, errors
/// are [`Error`]) or [`RejectWithStatus`] (a rejection is a 503 response and errors are the
/// inner service's). Cloning it clones the inner service, the classifier and the breaker's
/// handle (one reference-count increment).
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, ManualClock, Policy};
/// use fusebox_tower::BreakerLayer;
/// use tower::{Layer, ServiceExt, service_fn};
///
/// let breaker = Breaker::with_clock("double", Policy::default(), ManualClock::new());
/// let svc = BreakerLayer::new(breaker.clone())
///     .layer(service_fn(|x: u32| async move { Ok::<_, ()>(2 * x) }));
/// assert_eq!(futures_executor::block_on(svc.oneshot(21)).unwrap(), 42);
/// assert_eq!(breaker.metrics().successes, 1);
/// ```
#[derive(Clone)]
pub struct BreakerService<S, C = DefaultClassifier, M = RejectAsError> {
    inner: S,
    breaker: Breaker,
    classify: C,
    mode: M,
}

impl<S, C, M> BreakerService<S, C, M> {
    pub(crate) fn new(inner: S, breaker: Breaker, classify: C, mode: M) -> Self {
        BreakerService {
            inner,
            breaker,
            classify,
            mode,
        }
    }

    /// The breaker that guards the service.
    ///
    /// ```
    /// use fusebox_engine::{Breaker, Policy};
    /// use fusebox_tower::BreakerLayer;
    /// use tower::{Layer, service_fn};
    /// let svc = BreakerLayer::new(Breaker::new("db", Policy::default()))
    ///     .layer(service_fn(|x: u32| async move { Ok::<_, ()>(x) }));
    /// assert_eq!(svc.breaker().name(), "db");
    /// ```
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// The inner service.
    ///
    /// ```
    /// use fusebox_engine::{Breaker, Policy};
    /// use fusebox_tower::BreakerLayer;
    /// use tower::Layer;
    /// let svc = BreakerLayer::new(Breaker::new("db", Policy::default())).layer(7u8);
    /// assert_eq!(*svc.get_ref(), 7);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// use fusebox_engine::{Breaker, Policy};
    /// use fusebox_tower::BreakerLayer;
    /// use tower::Layer;
    /// let mut svc = BreakerLayer::new(Breaker::new("db", Policy::default())).layer(7u8);
    /// *svc.get_mut() += 1;
    /// assert_eq!(*svc.get_ref(), 8);
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    ///
    /// ```
    /// use fusebox_engine::{Breaker, Policy};
    /// use fusebox_tower::BreakerLayer;
    /// use tower::Layer;
    /// let svc = BreakerLayer::new(Breaker::new("db", Policy::default())).layer(7u8);
    /// assert_eq!(svc.into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, Req> Service<Req> for BreakerService<S, C, RejectAsError>
where
    S: Service<Req>,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = Error<S::Error>;
    type Future = ResponseFuture<S::Future, C>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Error::Inner)
    }

    #[inline]
    fn call(&mut self, req: Req) -> Self::Future {
        match self.breaker.try_acquire_owned() {
            Ok(permit) => {
                ResponseFuture::admitted(self.inner.call(req), permit, self.classify.clone())
            }
            Err(rejected) => ResponseFuture::rejected(rejected),
        }
    }
}

impl<S, C, Req, B> Service<Req> for BreakerService<S, C, RejectWithStatus>
where
    S: Service<Req, Response = Response<B>>,
    C: Classify<Response<B>, S::Error> + Clone,
    B: Default,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = StatusResponseFuture<S::Future, C, B>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, req: Req) -> Self::Future {
        match self.breaker.try_acquire_owned() {
            Ok(permit) => {
                StatusResponseFuture::admitted(self.inner.call(req), permit, self.classify.clone())
            }
            Err(rejected) => StatusResponseFuture::rejected(unavailable(&rejected)),
        }
    }
}

impl<S: fmt::Debug, C, M: fmt::Debug> fmt::Debug for BreakerService<S, C, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerService")
            .field("inner", &self.inner)
            .field("breaker", &self.breaker)
            .field("classify", &std::any::type_name::<C>())
            .field("mode", &self.mode)
            .finish()
    }
}
