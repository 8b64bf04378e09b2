//! [`RunError`]: how a [`Breaker::run`](crate::Breaker::run) ended without a value.

use std::fmt;

use crate::error::Rejected;

/// Why [`Breaker::run`](crate::Breaker::run) returned no value. Every variant says how many
/// attempts were made ([`attempts`](Self::attempts)): each call of the closure, and each
/// attempt that the policy's chaos ended with a fault before calling it.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use fusebox_engine::{Breaker, Policy, RunError};
/// let b = Breaker::new("db", Policy::default());
/// b.force_open();
/// let r = b.run(|| async { Ok::<_, std::io::Error>(()) }).await;
/// assert!(matches!(r, Err(RunError::Rejected { attempts: 0, .. })));
/// # });
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum RunError<E> {
    /// The breaker rejected an attempt; rejections are never retried.
    Rejected {
        /// The rejection.
        rejected: Rejected,
        /// Calls of the closure before the rejection.
        attempts: u32,
    },
    /// The last attempt failed with `error` (and no retry was left or allowed).
    Failed {
        /// The last attempt's error.
        error: E,
        /// Calls of the closure.
        attempts: u32,
    },
    /// The last attempt ran past the policy's `timeout` (and no retry was left or allowed).
    TimedOut {
        /// Calls of the closure.
        attempts: u32,
    },
    /// The last attempt was ended by the policy's chaos with an injected fault: the closure
    /// was not called for it (and no retry was left or allowed). It was recorded as a failure
    /// of kind [`CHAOS_KIND`](crate::CHAOS_KIND).
    Injected {
        /// Attempts made, the injected ones included.
        attempts: u32,
    },
    /// Nothing was attempted, for a reason outside the breaker: a registry refused the name
    /// (invalid, or the registry is full). The reason says which.
    Refused(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl<E> RunError<E> {
    /// How many attempts were made: calls of the closure, and attempts ended by an injected
    /// fault before it was called.
    ///
    /// ```
    /// use fusebox_engine::RunError;
    /// assert_eq!(RunError::<()>::TimedOut { attempts: 3 }.attempts(), 3);
    /// assert_eq!(RunError::<()>::Injected { attempts: 2 }.attempts(), 2);
    /// ```
    pub fn attempts(&self) -> u32 {
        match self {
            RunError::Rejected { attempts, .. }
            | RunError::Failed { attempts, .. }
            | RunError::TimedOut { attempts }
            | RunError::Injected { attempts } => *attempts,
            RunError::Refused(_) => 0,
        }
    }

    /// The rejection, if the breaker rejected.
    ///
    /// ```
    /// use fusebox_engine::RunError;
    /// assert!(RunError::<()>::TimedOut { attempts: 1 }.rejected().is_none());
    /// ```
    pub fn rejected(&self) -> Option<&Rejected> {
        match self {
            RunError::Rejected { rejected, .. } => Some(rejected),
            _ => None,
        }
    }

    /// The last attempt's error, if it failed with one.
    ///
    /// ```
    /// use fusebox_engine::RunError;
    /// let e = RunError::Failed { error: "refused", attempts: 2 };
    /// assert_eq!(e.into_failed(), Some("refused"));
    /// ```
    pub fn into_failed(self) -> Option<E> {
        match self {
            RunError::Failed { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for RunError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Rejected { rejected, attempts } => {
                write!(f, "{rejected} (after {attempts} attempts)")
            }
            RunError::Failed { error, attempts } => {
                write!(f, "{error} (after {attempts} attempts)")
            }
            RunError::TimedOut { attempts } => {
                write!(f, "timed out (after {attempts} attempts)")
            }
            RunError::Injected { .. } => {
                f.write_str("chaos: a fault was injected (the call did not run)")
            }
            RunError::Refused(reason) => reason.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for RunError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Rejected { rejected, .. } => Some(rejected),
            RunError::Failed { error, .. } => Some(error),
            RunError::TimedOut { .. } | RunError::Injected { .. } => None,
            RunError::Refused(reason) => Some(&**reason),
        }
    }
}
