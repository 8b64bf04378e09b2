//! What every handler shares: the registry, the auth state, the critical breakers, and the
//! signal that ends event streams when a server shuts down.

use std::sync::Arc;

use fusebox_registry::Registry;
use tokio::sync::watch;

use crate::auth::Auth;
use crate::config::AdminConfig;
use crate::notify::Notifier;

/// The router's state (cheap to clone: handles and `Arc`s).
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) registry: Registry,
    pub(crate) auth: Arc<Auth>,
    pub(crate) critical: Arc<[String]>,
    /// `true` once the server shuts down: open event streams end.
    pub(crate) closing: Arc<watch::Sender<bool>>,
}

impl AppState {
    /// The state of a router on `registry`; starts the registry's notifier if this runs on a
    /// tokio runtime.
    pub(crate) fn new(registry: &Registry, config: &AdminConfig) -> Self {
        Notifier::ensure_started(registry);
        AppState {
            registry: registry.clone(),
            auth: Arc::new(Auth::new(config)),
            critical: config.critical.clone().into(),
            closing: Arc::new(watch::channel(false).0),
        }
    }
}
