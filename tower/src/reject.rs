//! What a rejection becomes: an error ([`RejectAsError`], the default) or a
//! `503 Service Unavailable` response ([`RejectWithStatus`]) with a `Retry-After` header.
//!
//! This file owns the two modes and the building of the 503 response.

use std::time::Duration;

use fusebox_engine::Rejected;
use http::header::RETRY_AFTER;
use http::{HeaderValue, Response, StatusCode};

/// The default mode of a [`BreakerLayer`](crate::BreakerLayer): a rejected call fails with
/// [`Error::Rejected`](crate::Error::Rejected), and the inner service's errors come as
/// [`Error::Inner`](crate::Error::Inner).
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, Policy};
/// use fusebox_tower::{BreakerLayer, DefaultClassifier, RejectAsError};
/// let layer: BreakerLayer<DefaultClassifier, RejectAsError> =
///     BreakerLayer::new(Breaker::new("db", Policy::default()));
/// # let _ = layer;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RejectAsError;

/// The mode [`reject_with_status`](crate::BreakerLayer::reject_with_status) sets: a rejected
/// call is answered with a `503 Service Unavailable` response, with a `Retry-After` header in
/// whole seconds (rounded up) when the rejection knows when to come back (an open breaker);
/// its body is the body type's `Default` (empty for axum's `Body`). The service's error type
/// stays the inner one, so an axum route (`Infallible`) can take it.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, Policy};
/// use fusebox_tower::{BreakerLayer, DefaultClassifier, RejectWithStatus};
/// let layer: BreakerLayer<DefaultClassifier, RejectWithStatus> =
///     BreakerLayer::new(Breaker::new("db", Policy::default())).reject_with_status();
/// # let _ = layer;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RejectWithStatus;

/// The response a rejection becomes under [`RejectWithStatus`].
#[cold]
pub(crate) fn unavailable<B: Default>(rejected: &Rejected) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    if let Some(after) = rejected.retry_after() {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(whole_seconds_up(after)));
    }
    response
}

/// `after` in whole seconds, rounded up: a client that waits that long finds the period over.
fn whole_seconds_up(after: Duration) -> u64 {
    after.as_secs() + u64::from(after.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_up() {
        assert_eq!(whole_seconds_up(Duration::ZERO), 0);
        assert_eq!(whole_seconds_up(Duration::from_nanos(1)), 1);
        assert_eq!(whole_seconds_up(Duration::from_millis(1500)), 2);
        assert_eq!(whole_seconds_up(Duration::from_secs(2)), 2);
        assert_eq!(whole_seconds_up(Duration::new(119, 1)), 120);
    }
}
