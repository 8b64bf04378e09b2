//! What the registry reports when it cannot do what it was asked.
//!
//! # Synchronization
//!
//! None: plain values.

use fusebox_engine::{CallError, Rejected};
use std::fmt;

/// Why the registry refused a request.
///
/// # Examples
///
/// ```
/// use fusebox_registry::{Registry, RegistryError};
/// let registry = Registry::new(fusebox_engine::Policy::default());
/// let err = registry.breaker("no spaces please").unwrap_err();
/// assert!(matches!(err, RegistryError::InvalidName { .. }));
/// assert!(err.to_string().starts_with("invalid breaker name"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryError {
    /// The name breaks the naming rules (see [`fusebox_policies::validate_name`]).
    InvalidName {
        /// The name (at most its first 128 bytes, then `…`).
        name: String,
        /// The rule it breaks.
        reason: String,
    },
    /// The registry holds its capacity of breakers: no new name is accepted.
    Full {
        /// The capacity limit.
        capacity: usize,
    },
    /// Declaring the dependency would close a cycle.
    DependencyCycle {
        /// The cycle, starting and ending with the would-be dependent:
        /// `["a", "b", "a"]` for `depend("a", "b")` when `b` already depends on `a`.
        cycle: Vec<String>,
    },
    /// A policy change would make a config-file section's policy invalid: the section's keys
    /// applied over the policy it would inherit break a rule. Nothing changed.
    InvalidSection {
        /// The section's breaker name.
        breaker: String,
        /// The field at fault, as a dotted path (`min_calls`, `half_open.successes`).
        field: String,
        /// Why, with the accepted range.
        reason: String,
    },
    /// A snapshot of a format this version cannot read.
    UnsupportedSnapshot {
        /// The snapshot's format version.
        version: u32,
    },
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryError::InvalidName { name, reason } => {
                write!(f, "invalid breaker name {name:?}: {reason}")
            }
            RegistryError::Full { capacity } => {
                write!(
                    f,
                    "registry full: it holds its capacity of {capacity} breakers"
                )
            }
            RegistryError::DependencyCycle { cycle } => {
                write!(f, "dependency cycle: {}", cycle.join(" -> "))
            }
            RegistryError::InvalidSection {
                breaker,
                field,
                reason,
            } => write!(
                f,
                "config section breakers.{breaker:?} would be invalid over the policy it \
                 inherits: {field}: {reason}"
            ),
            RegistryError::UnsupportedSnapshot { version } => {
                write!(f, "unsupported snapshot format version {version}")
            }
        }
    }
}

impl std::error::Error for RegistryError {}

/// Why [`Registry::checked_breaker`](crate::Registry::checked_breaker) gave no breaker: the
/// registry refused the name, or a dependency is open.
///
/// A dependency's rejection is the [`Rejected`] a call to the dependency would get: it names
/// the dependency and carries its reason and time left, as
/// [`RegistryCallError::Rejected`] does for [`Registry::call`](crate::Registry::call).
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Policy, RejectReason};
/// use fusebox_registry::{CheckError, Registry, RegistryError};
///
/// let registry = Registry::new(Policy::default());
/// registry.depend("api", "db")?;
/// registry.breaker("db")?.force_open();
/// match registry.checked_breaker("api") {
///     Err(CheckError::Rejected(r)) => {
///         assert_eq!((r.breaker(), r.reason()), ("db", RejectReason::ForcedOpen));
///     }
///     other => panic!("{other:?}"),
/// }
/// assert!(matches!(
///     registry.checked_breaker("no spaces"),
///     Err(CheckError::Registry(RegistryError::InvalidName { .. }))
/// ));
/// # Ok::<(), RegistryError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CheckError {
    /// The registry refused the name: invalid, or the registry is full.
    Registry(RegistryError),
    /// A dependency is open: the rejection a call to it would get.
    Rejected(Rejected),
}

impl CheckError {
    /// The rejection, if a dependency is open.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// assert!(registry.checked_breaker("bad name").unwrap_err().rejected().is_none());
    /// ```
    pub fn rejected(&self) -> Option<&Rejected> {
        match self {
            CheckError::Rejected(r) => Some(r),
            CheckError::Registry(_) => None,
        }
    }
}

impl From<RegistryError> for CheckError {
    fn from(e: RegistryError) -> Self {
        CheckError::Registry(e)
    }
}

impl From<Rejected> for CheckError {
    fn from(r: Rejected) -> Self {
        CheckError::Rejected(r)
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Registry(e) => e.fmt(f),
            CheckError::Rejected(r) => r.fmt(f),
        }
    }
}

impl std::error::Error for CheckError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckError::Registry(e) => Some(e),
            CheckError::Rejected(r) => Some(r),
        }
    }
}

/// Why [`Registry::call`](crate::Registry::call) did not return the call's value.
///
/// A call is rejected the same way whether its own breaker or one it depends on is open:
/// [`Rejected`](Self::Rejected), whose [`Rejected::breaker`] names the breaker that is open.
/// `Display` reads as the engine's [`CallError`]: a rejection as [`Rejected`]'s, a failure as
/// the call's own error.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Policy, RejectReason};
/// use fusebox_registry::{Registry, RegistryError};
/// let registry = Registry::new(Policy::default());
/// registry.depend("api", "db")?;
/// registry.breaker("db")?.force_open();
/// let err = registry.call("api", || Ok::<_, &str>(1)).unwrap_err();
/// let rejected = err.rejected().unwrap();
/// assert_eq!((rejected.breaker(), rejected.reason()), ("db", RejectReason::ForcedOpen));
/// assert_eq!(err.to_string(), "breaker db rejected the call: forced open");
///
/// let failed = registry.call("db.replica", || Err::<(), _>("timeout")).unwrap_err();
/// assert_eq!(failed.to_string(), "timeout");
/// # Ok::<(), RegistryError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RegistryCallError<E> {
    /// The registry did not run the call: an invalid name or a full registry.
    Registry(RegistryError),
    /// The call was not admitted: its breaker, or a breaker it depends on, rejected it.
    /// [`Rejected::breaker`] says which.
    Rejected(Rejected),
    /// The call ran and failed with this error.
    Failed(E),
}

impl<E> RegistryCallError<E> {
    /// Whether the call was not run (refused by the registry or the breaker).
    ///
    /// ```
    /// use fusebox_registry::RegistryCallError;
    /// assert!(!RegistryCallError::Failed("boom").is_rejection());
    /// ```
    pub fn is_rejection(&self) -> bool {
        !matches!(self, RegistryCallError::Failed(_))
    }

    /// The call's own error, if it ran and failed.
    ///
    /// ```
    /// use fusebox_registry::RegistryCallError;
    /// assert_eq!(RegistryCallError::Failed("boom").into_failed(), Some("boom"));
    /// ```
    pub fn into_failed(self) -> Option<E> {
        match self {
            RegistryCallError::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// The rejection, if the call's breaker or one it depends on rejected it.
    ///
    /// ```
    /// use fusebox_registry::RegistryCallError;
    /// assert!(RegistryCallError::Failed("boom").rejected().is_none());
    /// ```
    pub fn rejected(&self) -> Option<&Rejected> {
        match self {
            RegistryCallError::Rejected(r) => Some(r),
            _ => None,
        }
    }
}

impl<E> From<CallError<E>> for RegistryCallError<E> {
    fn from(e: CallError<E>) -> Self {
        match e {
            CallError::Rejected(r) => RegistryCallError::Rejected(r),
            CallError::Failed(e) => RegistryCallError::Failed(e),
        }
    }
}

impl<E> From<RegistryError> for RegistryCallError<E> {
    fn from(e: RegistryError) -> Self {
        RegistryCallError::Registry(e)
    }
}

impl<E> From<Rejected> for RegistryCallError<E> {
    fn from(r: Rejected) -> Self {
        RegistryCallError::Rejected(r)
    }
}

impl<E> From<CheckError> for RegistryCallError<E> {
    fn from(e: CheckError) -> Self {
        match e {
            CheckError::Registry(e) => RegistryCallError::Registry(e),
            CheckError::Rejected(r) => RegistryCallError::Rejected(r),
        }
    }
}

impl<E: fmt::Display> fmt::Display for RegistryCallError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryCallError::Registry(e) => e.fmt(f),
            RegistryCallError::Rejected(r) => r.fmt(f),
            RegistryCallError::Failed(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for RegistryCallError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RegistryCallError::Registry(e) => Some(e),
            RegistryCallError::Rejected(r) => Some(r),
            RegistryCallError::Failed(e) => Some(e),
        }
    }
}
