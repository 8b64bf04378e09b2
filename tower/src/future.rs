//! The response futures: an admitted call's inner future, whose result is classified and
//! recorded through its permit when it completes, or a rejection ready to be returned.
//!
//! This file owns [`ResponseFuture`] (the error mode), [`StatusResponseFuture`] (the 503 mode)
//! and the admitted call they share. Each is a named type, projected with `pin-project-lite`:
//! no allocation on any path. The permit lives in the future, so a future dropped before it
//! completes (a cancelled request, a timeout around it) records
//! [`Outcome::Ignored`](fusebox_engine::Outcome::Ignored) and gives back its half-open and
//! bulkhead slots; a panic in the inner future records a failure.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use fusebox_engine::{OwnedPermit, Rejected};
use http::Response;
use pin_project_lite::pin_project;

use crate::classify::Classify;
use crate::error::Error;

pin_project! {
    /// An admitted call: the inner service's future, the permit its outcome goes to, and the
    /// classifier that decides the outcome.
    struct Admitted<F, C> {
        #[pin]
        future: F,
        // `None` once recorded.
        permit: Option<OwnedPermit>,
        classify: C,
    }
}

impl<F, C> Admitted<F, C> {
    /// Polls the inner future; when it completes, records what `classify` makes of its result.
    #[inline]
    fn poll_recorded<T, E>(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, E>>
    where
        F: Future<Output = Result<T, E>>,
        C: Classify<T, E>,
    {
        let this = self.project();
        // A panic in the inner future drops the permit during the unwind, which records a
        // failure; on every other path the guard is disarmed.
        let guard = FailOnUnwind(Some(this.permit));
        let polled = this.future.poll(cx);
        let permit = guard.disarm();
        let result = ready!(polled);
        if let Some(permit) = permit.take() {
            permit.record_verdict(this.classify.classify(&result));
        }
        Poll::Ready(result)
    }
}

/// Drops the permit it guards if the thread unwinds while it is armed: a permit dropped
/// while its thread panics records a failure.
struct FailOnUnwind<'a>(Option<&'a mut Option<OwnedPermit>>);

impl<'a> FailOnUnwind<'a> {
    /// The guarded permit back; the guard's drop then finds nothing to do.
    #[inline(always)]
    fn disarm(mut self) -> &'a mut Option<OwnedPermit> {
        self.0.take().expect("a guard is disarmed once")
    }
}

impl Drop for FailOnUnwind<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        // Armed only during an unwind out of the inner poll.
        if let Some(permit) = self.0.take() {
            drop(permit.take());
        }
    }
}

pin_project! {
    /// Either an admitted call or a rejection (`T`) waiting to be returned.
    #[project = KindProj]
    enum Kind<F, C, T> {
        Admitted {
            #[pin]
            call: Admitted<F, C>,
        },
        Rejected {
            // `None` once returned.
            rejection: Option<T>,
        },
    }
}

impl<F, C, T> Kind<F, C, T> {
    fn admitted(future: F, permit: OwnedPermit, classify: C) -> Self {
        Kind::Admitted {
            call: Admitted {
                future,
                permit: Some(permit),
                classify,
            },
        }
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>, what: &str) -> fmt::Result {
        let mut s = f.debug_struct(what);
        match self {
            Kind::Admitted { call } => s.field("permit", &call.permit),
            Kind::Rejected { rejection } => s.field("rejected", &rejection.is_some()),
        };
        s.finish_non_exhaustive()
    }
}

/// Takes a rejection out to be returned.
fn take<T>(rejection: &mut Option<T>) -> T {
    rejection
        .take()
        .expect("a response future polled after it completed")
}

pin_project! {
    /// The future a [`BreakerService`](crate::BreakerService) returns in the default mode
    /// ([`RejectAsError`](crate::RejectAsError)): the inner service's response, its error as
    /// [`Error::Inner`], or [`Error::Rejected`] when the breaker did not admit the call.
    ///
    /// Dropping it before it completes records the call as
    /// [`Outcome::Ignored`](fusebox_engine::Outcome::Ignored) and frees its permit.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_engine::{Breaker, ManualClock, Policy};
    /// use fusebox_tower::{BreakerLayer, DefaultClassifier, ResponseFuture};
    /// use tower::{Layer, Service, service_fn};
    ///
    /// let breaker = Breaker::with_clock("db", Policy::default(), ManualClock::new());
    /// let mut svc = BreakerLayer::new(breaker.clone())
    ///     .layer(service_fn(|x: u32| std::future::ready(Ok::<_, ()>(x))));
    /// let fut: ResponseFuture<std::future::Ready<Result<u32, ()>>, DefaultClassifier> = svc.call(1);
    /// drop(fut); // cancelled
    /// assert_eq!(breaker.metrics().ignored, 1);
    /// ```
    pub struct ResponseFuture<F, C> {
        #[pin]
        kind: Kind<F, C, Rejected>,
    }
}

impl<F, C> ResponseFuture<F, C> {
    #[inline]
    pub(crate) fn admitted(future: F, permit: OwnedPermit, classify: C) -> Self {
        ResponseFuture {
            kind: Kind::admitted(future, permit, classify),
        }
    }

    #[inline]
    pub(crate) fn rejected(rejected: Rejected) -> Self {
        ResponseFuture {
            kind: Kind::Rejected {
                rejection: Some(rejected),
            },
        }
    }
}

impl<F, C, T, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
{
    type Output = Result<T, Error<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Admitted { call } => call.poll_recorded(cx).map_err(Error::Inner),
            KindProj::Rejected { rejection } => Poll::Ready(Err(Error::Rejected(take(rejection)))),
        }
    }
}

impl<F, C> fmt::Debug for ResponseFuture<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.describe(f, "ResponseFuture")
    }
}

pin_project! {
    /// The future a [`BreakerService`](crate::BreakerService) returns in the
    /// [`RejectWithStatus`](crate::RejectWithStatus) mode: the inner service's result as it
    /// is, or a `503 Service Unavailable` response when the breaker did not admit the call.
    ///
    /// Dropping it before it completes records the call as
    /// [`Outcome::Ignored`](fusebox_engine::Outcome::Ignored) and frees its permit.
    ///
    /// # Examples
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
    ///     .layer(service_fn(|_: ()| async { Ok::<_, Infallible>(http::Response::new(String::new())) }));
    /// breaker.force_open();
    /// let response = futures_executor::block_on(svc.oneshot(())).unwrap();
    /// assert_eq!(response.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    /// ```
    pub struct StatusResponseFuture<F, C, B> {
        #[pin]
        kind: Kind<F, C, Response<B>>,
    }
}

impl<F, C, B> StatusResponseFuture<F, C, B> {
    #[inline]
    pub(crate) fn admitted(future: F, permit: OwnedPermit, classify: C) -> Self {
        StatusResponseFuture {
            kind: Kind::admitted(future, permit, classify),
        }
    }

    #[inline]
    pub(crate) fn rejected(response: Response<B>) -> Self {
        StatusResponseFuture {
            kind: Kind::Rejected {
                rejection: Some(response),
            },
        }
    }
}

impl<F, C, B, E> Future for StatusResponseFuture<F, C, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    C: Classify<Response<B>, E>,
{
    type Output = Result<Response<B>, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Admitted { call } => call.poll_recorded(cx),
            KindProj::Rejected { rejection } => Poll::Ready(Ok(take(rejection))),
        }
    }
}

impl<F, C, B> fmt::Debug for StatusResponseFuture<F, C, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.describe(f, "StatusResponseFuture")
    }
}
