//! The error of a guarded service: the breaker's rejection or the inner service's own error.
//!
//! This file owns [`Error`] and its `Display` and `std::error::Error` impls.

use std::fmt;

use fusebox_engine::Rejected;

/// The error of a [`BreakerService`](crate::BreakerService) that rejects with an error (the
/// default; see [`reject_with_status`](crate::BreakerLayer::reject_with_status) for the 503
/// response instead).
///
/// `Display` and `source` are those of what it holds. It is a `std::error::Error` when the
/// inner error is, so it converts into tower's `BoxError` (`Box<dyn Error + Send + Sync>`).
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, ManualClock, Policy, RejectReason};
/// use fusebox_tower::{BreakerLayer, Error};
/// use tower::{Layer, ServiceExt, service_fn};
///
/// let breaker = Breaker::with_clock("search", Policy::default(), ManualClock::new());
/// let svc = BreakerLayer::new(breaker.clone())
///     .layer(service_fn(|q: &'static str| async move { Err::<u32, _>(std::io::Error::other(q)) }));
///
/// let err = futures_executor::block_on(svc.clone().oneshot("disk on fire")).unwrap_err();
/// assert!(matches!(&err, Error::Inner(e) if e.to_string() == "disk on fire"));
///
/// breaker.force_open();
/// let err = futures_executor::block_on(svc.oneshot("never sent")).unwrap_err();
/// assert_eq!(err.rejected().unwrap().reason(), RejectReason::ForcedOpen);
/// assert_eq!(err.to_string(), "breaker search rejected the call: forced open");
/// ```
#[derive(Debug, Clone)]
pub enum Error<E> {
    /// The breaker did not admit the call: the inner service was not called.
    Rejected(Rejected),
    /// The inner service was called and failed with this error.
    Inner(E),
}

impl<E> Error<E> {
    /// The rejection, if the breaker rejected the call.
    ///
    /// ```
    /// let e: fusebox_tower::Error<()> = fusebox_tower::Error::Inner(());
    /// assert!(e.rejected().is_none());
    /// ```
    pub fn rejected(&self) -> Option<&Rejected> {
        match self {
            Error::Rejected(r) => Some(r),
            Error::Inner(_) => None,
        }
    }

    /// Whether the breaker rejected the call.
    ///
    /// ```
    /// let e: fusebox_tower::Error<()> = fusebox_tower::Error::Inner(());
    /// assert!(!e.is_rejected());
    /// ```
    pub fn is_rejected(&self) -> bool {
        matches!(self, Error::Rejected(_))
    }

    /// The inner service's error, if it was called and failed.
    ///
    /// ```
    /// let e: fusebox_tower::Error<u8> = fusebox_tower::Error::Inner(3);
    /// assert_eq!(e.into_inner(), Some(3));
    /// ```
    pub fn into_inner(self) -> Option<E> {
        match self {
            Error::Rejected(_) => None,
            Error::Inner(e) => Some(e),
        }
    }
}

impl<E> From<Rejected> for Error<E> {
    /// ```
    /// use fusebox_engine::{Breaker, ManualClock, Policy};
    /// let b = Breaker::with_clock("db", Policy::default(), ManualClock::new());
    /// b.force_open();
    /// let e: fusebox_tower::Error<()> = b.try_acquire().unwrap_err().into();
    /// assert!(e.is_rejected());
    /// ```
    fn from(r: Rejected) -> Self {
        Error::Rejected(r)
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Rejected(r) => r.fmt(f),
            Error::Inner(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Rejected(r) => Some(r),
            Error::Inner(e) => Some(e),
        }
    }
}
