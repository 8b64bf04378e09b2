//! What the registry reports when it cannot do what it was asked.
//!
//! # Synchronization
//!
//! None: plain values.

use std::fmt;
use std::time::Duration;

use fusebox_engine::{CallError, Rejected, State};

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
    /// A breaker the call depends on (directly or through other dependencies) is open.
    DependencyOpen {
        /// The breaker that was asked.
        dependent: String,
        /// The open breaker it depends on.
        dependency: String,
        /// The dependency's state: `Open` or `ForcedOpen`.
        state: State,
        /// For `Open`: the time left in the dependency's open period.
        retry_after: Option<Duration>,
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
            RegistryError::DependencyOpen {
                dependent,
                dependency,
                state,
                retry_after,
            } => {
                write!(
                    f,
                    "breaker {dependent} rejected the call: its dependency {dependency} is {state}"
                )?;
                if let Some(d) = retry_after {
                    write!(f, " for {d:?} more")?;
                }
                Ok(())
            }
            RegistryError::UnsupportedSnapshot { version } => {
                write!(f, "unsupported snapshot format version {version}")
            }
        }
    }
}

impl std::error::Error for RegistryError {}

/// Why [`Registry::call`](crate::Registry::call) did not return the call's value.
///
/// # Examples
///
/// ```
/// use fusebox_registry::{Registry, RegistryCallError, RegistryError};
/// let registry = Registry::new(fusebox_engine::Policy::default());
/// registry.depend("api", "db")?;
/// registry.breaker("db")?.force_open();
/// let err = registry.call("api", || Ok::<_, ()>(1)).unwrap_err();
/// assert!(matches!(
///     err,
///     RegistryCallError::Registry(RegistryError::DependencyOpen { .. })
/// ));
/// # Ok::<(), RegistryError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RegistryCallError<E> {
    /// The registry did not run the call: an invalid name, a full registry or an open
    /// dependency.
    Registry(RegistryError),
    /// The breaker did not admit the call.
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

impl<E: fmt::Display> fmt::Display for RegistryCallError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryCallError::Registry(e) => e.fmt(f),
            RegistryCallError::Rejected(r) => r.fmt(f),
            RegistryCallError::Failed(e) => write!(f, "call failed: {e}"),
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
