//! [`FleetError`]: why a fleet sync did not start.

use std::fmt;

/// Why [`Fleet::connect`](crate::Fleet::connect) failed, as one line.
///
/// ```
/// let e = fusebox_fleet::FleetError::Config("namespace \"\": must not be empty".into());
/// assert_eq!(e.to_string(), "namespace \"\": must not be empty");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FleetError {
    /// The namespace or the instance id is invalid.
    Config(String),
    /// The Redis URL is not one.
    Url {
        /// The URL given.
        url: String,
        /// Why.
        reason: String,
    },
    /// Redis did not answer at connect, or refused the subscription.
    Connect {
        /// The URL given.
        url: String,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for FleetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FleetError::Config(reason) => f.write_str(reason),
            FleetError::Url { url, reason } => write!(f, "redis url {url:?}: {reason}"),
            FleetError::Connect { url, reason } => write!(f, "redis at {url:?}: {reason}"),
        }
    }
}

impl std::error::Error for FleetError {}
