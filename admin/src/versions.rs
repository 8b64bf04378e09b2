//! Config versions: each config file applied through the endpoint, numbered, with when and by
//! whom; the last [`MAX_VERSIONS`] are kept per registry (in a [`Registry::extension`]) for
//! `GET /fusebox/config/versions` and rollbacks.
//!
//! A version is applied and recorded under one lock, so version numbers follow the order in
//! which files took effect.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use fusebox_registry::{ConfigError, Registry, RegistryConfig};
use serde::Serialize;

use crate::settings::{Settings, Tables};

/// How many applied configs are kept for rollback; older ones are forgotten.
///
/// ```
/// assert_eq!(fusebox_admin::MAX_VERSIONS, 50);
/// ```
pub const MAX_VERSIONS: usize = 50;

/// One applied config file.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Version {
    /// Numbered from 1, per registry.
    pub(crate) version: u64,
    /// When it was applied: milliseconds since the Unix epoch.
    pub(crate) applied_at_ms: u64,
    /// Who applied it: the role of the token (`admin`), or what the host said
    /// ([`apply_config`](crate::apply_config)'s `applied_by`, e.g. `startup`).
    pub(crate) applied_by: &'static str,
    /// The version it rolled back to, for a rollback.
    pub(crate) rollback_of: Option<u64>,
    /// The file.
    pub(crate) config: String,
}

/// A registry's applied configs.
#[derive(Debug, Default)]
pub(crate) struct Versions {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    last: u64,
    list: VecDeque<Version>,
}

/// Why a rollback did not happen.
pub(crate) enum RollbackError {
    /// No such version is kept.
    Unknown,
    /// The registry refused the file.
    Invalid(ConfigError),
}

impl Versions {
    /// The registry's versions (created empty on first use).
    pub(crate) fn of(registry: &Registry) -> std::sync::Arc<Versions> {
        registry.extension(Versions::default)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `text` to `registry`, all or nothing, and records it; returns its version.
    pub(crate) fn apply(
        &self,
        registry: &Registry,
        text: String,
        applied_by: &'static str,
    ) -> Result<u64, ConfigError> {
        apply_locked(&mut self.lock(), registry, text, applied_by, None)
    }

    /// Applies version `version` again, as a new version.
    pub(crate) fn rollback(
        &self,
        registry: &Registry,
        version: u64,
        applied_by: &'static str,
    ) -> Result<u64, RollbackError> {
        let mut inner = self.lock();
        let text = inner
            .list
            .iter()
            .find(|v| v.version == version)
            .map(|v| v.config.clone())
            .ok_or(RollbackError::Unknown)?;
        apply_locked(&mut inner, registry, text, applied_by, Some(version))
            .map_err(RollbackError::Invalid)
    }

    /// The versions kept, oldest first.
    pub(crate) fn list(&self) -> Vec<Version> {
        self.lock().list.iter().cloned().collect()
    }
}

fn apply_locked(
    inner: &mut Inner,
    registry: &Registry,
    text: String,
    applied_by: &'static str,
    rollback_of: Option<u64>,
) -> Result<u64, ConfigError> {
    let config = RegistryConfig::from_toml_unresolved(&text)?;
    registry.apply_config(&config)?;
    Settings::of(registry).replace(Tables::of(&config));
    inner.last += 1;
    let applied_at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, crate::json::millis);
    if inner.list.len() == MAX_VERSIONS {
        inner.list.pop_front();
    }
    inner.list.push_back(Version {
        version: inner.last,
        applied_at_ms,
        applied_by,
        rollback_of,
        config: text,
    });
    Ok(inner.last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fusebox_engine::Policy;

    const ADMIN: &str = "admin";

    #[test]
    fn bounded_and_numbered() {
        let registry = Registry::new(Policy::default());
        let v = Versions::default();
        for i in 1..=(MAX_VERSIONS as u64 + 5) {
            let text = format!("[breakers.\"db\"]\nmin_calls = {}\n", i % 90 + 1);
            assert_eq!(v.apply(&registry, text, ADMIN).unwrap(), i);
        }
        let list = v.list();
        assert_eq!(list.len(), MAX_VERSIONS);
        assert_eq!(list[0].version, 6);
        assert!(v.apply(&registry, "min_calls = -1".into(), ADMIN).is_err());
        assert_eq!(v.list().len(), MAX_VERSIONS);
        assert!(matches!(
            v.rollback(&registry, 1, ADMIN),
            Err(RollbackError::Unknown)
        ));
        assert_eq!(v.rollback(&registry, 6, ADMIN).ok(), Some(56));
        assert_eq!(registry.resolved_policy("db").unwrap().min_calls(), 7);
    }
}

#[cfg(test)]
mod table_tests {
    use super::*;
    use fusebox_engine::Policy;

    #[test]
    fn a_file_puts_its_tables_in_force() {
        let registry = Registry::new(Policy::default());
        let v = Versions::default();
        let text = "[health]\ncritical = [\"db\"]\n[notify]\nwebhook = \"http://127.0.0.1:9/\"\n";
        v.apply(&registry, text.into(), "startup").unwrap();
        let tables = Settings::of(&registry).current();
        assert_eq!(tables.critical, ["db"]);
        assert!(tables.notify.is_some());
        // A file that is refused changes nothing; one without the tables clears them.
        assert!(
            v.apply(&registry, "[health]\ncritical = 1\n".into(), "admin")
                .is_err()
        );
        assert_eq!(Settings::of(&registry).current().critical, ["db"]);
        v.apply(&registry, String::new(), "admin").unwrap();
        assert_eq!(*Settings::of(&registry).current(), Tables::default());
        assert_eq!(v.list()[0].applied_by, "startup");
    }
}
