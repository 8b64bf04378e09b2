//! What a classifier can say about a call beyond [`Outcome`]: a failure's kind and the
//! dependency's own Retry-After.

use std::time::Duration;

use crate::error::Outcome;

/// A failure's details: its kind (a short label such as `"timeout"`, `"connect"` or
/// `"http_5xx"`, counted per kind in [`Metrics`](crate::Metrics) and exported as
/// `fusebox_failures_total{kind}`) and the dependency's Retry-After: if this failure opens the
/// breaker, the open period lasts at least that long.
///
/// Kinds are `&'static str`: a fixed vocabulary keeps the exported series bounded. A breaker
/// counts up to [`MAX_FAILURE_KINDS`](crate::MAX_FAILURE_KINDS) kinds; failures of kinds beyond
/// them count as `"other"`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fusebox_engine::{Breaker, Failure, Policy};
/// let b = Breaker::new("api", Policy::builder().min_calls(1).build()?);
/// b.try_acquire()?.failure_with(Failure::of_kind("http_429").retry_after(Duration::from_secs(120)));
/// assert_eq!(b.metrics().failures_of_kind("http_429"), 1);
/// assert!(b.open_remaining().unwrap() > Duration::from_secs(60)); // not the policy's 30 s
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Failure {
    kind: Option<&'static str>,
    retry_after: Option<Duration>,
}

impl Failure {
    /// A failure with no kind and no Retry-After: what [`Outcome::Failure`] records.
    ///
    /// ```
    /// assert_eq!(fusebox_engine::Failure::new().kind(), None);
    /// ```
    pub const fn new() -> Failure {
        Failure {
            kind: None,
            retry_after: None,
        }
    }

    /// A failure of `kind`.
    ///
    /// ```
    /// assert_eq!(fusebox_engine::Failure::of_kind("timeout").kind(), Some("timeout"));
    /// ```
    pub const fn of_kind(kind: &'static str) -> Failure {
        Failure {
            kind: Some(kind),
            retry_after: None,
        }
    }

    /// This failure, carrying the dependency's Retry-After.
    ///
    /// ```
    /// use std::time::Duration;
    /// let f = fusebox_engine::Failure::new().retry_after(Duration::from_secs(5));
    /// assert_eq!(f.retry_after_hint(), Some(Duration::from_secs(5)));
    /// ```
    pub const fn retry_after(mut self, after: Duration) -> Failure {
        self.retry_after = Some(after);
        self
    }

    /// The kind, if one was named.
    ///
    /// ```
    /// assert_eq!(fusebox_engine::Failure::of_kind("connect").kind(), Some("connect"));
    /// ```
    pub const fn kind(&self) -> Option<&'static str> {
        self.kind
    }

    /// The dependency's Retry-After, if it gave one.
    ///
    /// ```
    /// assert_eq!(fusebox_engine::Failure::new().retry_after_hint(), None);
    /// ```
    pub const fn retry_after_hint(&self) -> Option<Duration> {
        self.retry_after
    }
}

/// What a classifier decides about a call: an [`Outcome`], with a failure's [`Failure`]
/// details. Every `Outcome` converts into one, so a classifier may return either.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Failure, Outcome, Verdict};
/// let classify = |r: &Result<u16, &str>| -> Verdict {
///     match r {
///         Ok(503) => Failure::of_kind("http_5xx").into(),
///         Ok(_) => Outcome::Success.into(),
///         Err(_) => Failure::of_kind("connect").into(),
///     }
/// };
/// assert_eq!(classify(&Ok(503)).outcome(), Outcome::Failure);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The call succeeded.
    Success,
    /// The call failed, with its details.
    Failure(Failure),
    /// Neither: not recorded in the window.
    Ignored,
}

impl Verdict {
    /// The outcome, without the details.
    ///
    /// ```
    /// use fusebox_engine::{Outcome, Verdict};
    /// assert_eq!(Verdict::Ignored.outcome(), Outcome::Ignored);
    /// ```
    pub const fn outcome(&self) -> Outcome {
        match self {
            Verdict::Success => Outcome::Success,
            Verdict::Failure(_) => Outcome::Failure,
            Verdict::Ignored => Outcome::Ignored,
        }
    }
}

impl From<Outcome> for Verdict {
    #[inline]
    fn from(outcome: Outcome) -> Verdict {
        match outcome {
            Outcome::Success => Verdict::Success,
            Outcome::Failure => Verdict::Failure(Failure::new()),
            Outcome::Ignored => Verdict::Ignored,
        }
    }
}

impl From<Failure> for Verdict {
    fn from(failure: Failure) -> Verdict {
        Verdict::Failure(failure)
    }
}
