//! Config versions: each config file applied through the endpoint, numbered, with when and by
//! whom; the last [`MAX_VERSIONS`] are kept per registry (in a [`Registry::extension`]) for
//! `GET /fusebox/config/versions` and rollbacks.
//!
//! A version is applied and recorded under one lock, so version numbers follow the order in
//! which files took effect.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use fusebox_registry::{ConfigError, Registry};
use serde::Serialize;

use crate::auth::Role;

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
    /// The role of the token that applied it.
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
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `text` to `registry`, all or nothing, and records it; returns its version.
    pub(crate) fn apply(
        &self,
        registry: &Registry,
        text: String,
        role: Role,
    ) -> Result<u64, ConfigError> {
        apply_locked(&mut self.lock(), registry, text, role, None)
    }

    /// Applies version `version` again, as a new version.
    pub(crate) fn rollback(
        &self,
        registry: &Registry,
        version: u64,
        role: Role,
    ) -> Result<u64, RollbackError> {
        let mut inner = self.lock();
        let text = inner
            .list
            .iter()
            .find(|v| v.version == version)
            .map(|v| v.config.clone())
            .ok_or(RollbackError::Unknown)?;
        apply_locked(&mut inner, registry, text, role, Some(version))
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
    role: Role,
    rollback_of: Option<u64>,
) -> Result<u64, ConfigError> {
    registry.apply_toml(&text)?;
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
        applied_by: role.as_label(),
        rollback_of,
        config: text,
    });
    Ok(inner.last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fusebox_engine::Policy;

    #[test]
    fn bounded_and_numbered() {
        let registry = Registry::new(Policy::default());
        let v = Versions::default();
        for i in 1..=(MAX_VERSIONS as u64 + 5) {
            let text = format!("[breakers.\"db\"]\nmin_calls = {}\n", i % 90 + 1);
            assert_eq!(v.apply(&registry, text, Role::Admin).unwrap(), i);
        }
        let list = v.list();
        assert_eq!(list.len(), MAX_VERSIONS);
        assert_eq!(list[0].version, 6);
        assert!(
            v.apply(&registry, "min_calls = -1".into(), Role::Admin)
                .is_err()
        );
        assert_eq!(v.list().len(), MAX_VERSIONS);
        assert!(matches!(
            v.rollback(&registry, 1, Role::Admin),
            Err(RollbackError::Unknown)
        ));
        assert_eq!(v.rollback(&registry, 6, Role::Admin).ok(), Some(56));
        assert_eq!(registry.resolved_policy("db").unwrap().min_calls(), 7);
    }
}
