//! Fleet-scoped manual actions: the hook through which an operator's action reaches every
//! instance of a service. A fleet sync (the `fusebox-fleet` crate) installs a [`FleetScope`]
//! on the registry; the operator endpoint hands it the actions asked for with
//! `"scope": "fleet"`. The registry only holds the hook: it knows no network.
//!
//! # Synchronization
//!
//! The hook is a `Weak` under a mutex in a registry extension: installed and read rarely
//! (per operator action), never on a call's path. When the fleet sync is dropped the `Weak`
//! no longer upgrades, and fleet-scoped actions are refused.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use crate::{ManualAction, Registry};

/// A manual action for every instance of the fleet.
///
/// ```
/// use fusebox_registry::{FleetOverride, ManualAction};
/// let o = FleetOverride {
///     name: "pay.stripe".into(),
///     group: false,
///     action: ManualAction::ForceOpen,
///     ttl: Some(std::time::Duration::from_secs(600)),
///     note: "admin: provider maintenance".into(),
/// };
/// assert_eq!(o.action.as_str(), "force-open");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetOverride {
    /// The breaker's name, or with `group` the prefix of a group.
    pub name: String,
    /// Whether `name` is a group's prefix: the breaker of that name and every `name.*` one.
    pub group: bool,
    /// What to do.
    pub action: ManualAction,
    /// When to undo it (reset), if ever.
    pub ttl: Option<Duration>,
    /// The audit note each instance leaves in the history.
    pub note: String,
}

/// Why a fleet-scoped action was not taken, as one line.
///
/// ```
/// let e = fusebox_registry::FleetScopeError("redis is unreachable".into());
/// assert_eq!(e.to_string(), "redis is unreachable");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetScopeError(pub String);

impl fmt::Display for FleetScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FleetScopeError {}

/// The future a [`FleetScope`] answers with.
pub type FleetScopeFuture = Pin<Box<dyn Future<Output = Result<(), FleetScopeError>> + Send>>;

/// Where fleet-scoped actions go: implemented by a fleet sync, which stores the action where
/// every instance (including ones started later) reads it and applies it on each.
///
/// ```
/// use std::sync::Arc;
/// use fusebox_registry::{FleetOverride, FleetScope, FleetScopeFuture, Registry};
///
/// struct Refuse;
/// impl FleetScope for Refuse {
///     fn submit(&self, _: FleetOverride) -> FleetScopeFuture {
///         Box::pin(async { Err(fusebox_registry::FleetScopeError("no fleet here".into())) })
///     }
/// }
/// let registry = Registry::new(fusebox_engine::Policy::default());
/// let scope: Arc<dyn FleetScope> = Arc::new(Refuse);
/// registry.set_fleet_scope(Arc::downgrade(&scope));
/// assert!(registry.fleet_scope().is_some());
/// drop(scope);
/// assert!(registry.fleet_scope().is_none());
/// ```
pub trait FleetScope: Send + Sync + 'static {
    /// Takes `action` to every instance; resolves once it is stored and announced.
    fn submit(&self, action: FleetOverride) -> FleetScopeFuture;
}

#[derive(Default)]
struct Slot(Mutex<Option<Weak<dyn FleetScope>>>);

impl Registry {
    /// Installs the hook fleet-scoped actions go to (replacing any other); it stays in force
    /// while its `Arc` lives.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use fusebox_registry::*;
    /// # struct Nowhere;
    /// # impl FleetScope for Nowhere {
    /// #     fn submit(&self, _: FleetOverride) -> FleetScopeFuture { Box::pin(async { Ok(()) }) }
    /// # }
    /// let registry = Registry::new(fusebox_engine::Policy::default());
    /// let scope: Arc<dyn FleetScope> = Arc::new(Nowhere);
    /// registry.set_fleet_scope(Arc::downgrade(&scope));
    /// ```
    pub fn set_fleet_scope(&self, scope: Weak<dyn FleetScope>) {
        let slot = self.extension(Slot::default);
        *slot.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(scope);
    }

    /// The hook fleet-scoped actions go to, if one is installed and alive.
    ///
    /// ```
    /// let registry = fusebox_registry::Registry::new(fusebox_engine::Policy::default());
    /// assert!(registry.fleet_scope().is_none());
    /// ```
    pub fn fleet_scope(&self) -> Option<Arc<dyn FleetScope>> {
        let slot = self.extension(Slot::default);
        let scope = slot.0.lock().unwrap_or_else(PoisonError::into_inner);
        scope.as_ref().and_then(Weak::upgrade)
    }
}
