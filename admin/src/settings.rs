//! The operator tables of the config file in force, `[health]` and `[notify]`: kept per
//! registry (in a [`Registry::extension`]) and replaced whenever a file is applied through
//! the endpoint or [`apply_config`](crate::apply_config).
//!
//! # Synchronization
//!
//! One mutex around an `Arc`: a file replaces the `Arc`, readers clone it and read without
//! the lock. Nothing on a breaker's call path reads it: the health route and the notifier do.

use std::sync::{Arc, Mutex, PoisonError};

use fusebox_policies::{NotifyConfig, RegistryConfig};
use fusebox_registry::Registry;

/// What the config file in force says beyond policies.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Tables {
    /// `[health] critical`.
    pub(crate) critical: Vec<String>,
    /// `[notify]`.
    pub(crate) notify: Option<NotifyConfig>,
}

impl Tables {
    pub(crate) fn of(config: &RegistryConfig) -> Self {
        Tables {
            critical: config.critical().to_vec(),
            notify: config.notify().cloned(),
        }
    }

    /// The tables as they are written in a config file (nothing for absent ones).
    pub(crate) fn to_toml(&self) -> String {
        let mut out = String::new();
        if !self.critical.is_empty() {
            out.push_str(&format!("\n[health]\ncritical = {:?}\n", self.critical));
        }
        if let Some(notify) = &self.notify {
            out.push_str("\n[notify]\n");
            out.push_str(&notify.to_toml());
        }
        out
    }
}

/// A registry's tables in force.
#[derive(Debug, Default)]
pub(crate) struct Settings {
    current: Mutex<Arc<Tables>>,
}

impl Settings {
    /// The registry's settings (created empty on first use).
    pub(crate) fn of(registry: &Registry) -> Arc<Settings> {
        registry.extension(Settings::default)
    }

    /// The tables in force.
    pub(crate) fn current(&self) -> Arc<Tables> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts `tables` in force.
    pub(crate) fn replace(&self, tables: Tables) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(tables);
    }
}
