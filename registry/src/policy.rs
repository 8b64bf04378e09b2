//! Policies by name: setting and clearing them, the default, resolving a name's policy
//! (rule 15), keeping config-file sections resolved over their parents, and re-pointing the
//! breakers a change reaches.
//!
//! # Synchronization
//!
//! The policy table is one `RwLock`. A change holds it for writing while it makes the change
//! on a copy of the table, re-applies the config-file sections over what they now inherit,
//! keeps the copy if they all resolve (all or nothing), and re-points the breakers that
//! inherit from the changed name, so concurrent changes leave
//! every breaker with the last one and no breaker is created from a table being changed
//! (creators hold it for reading). Re-pointing iterates map shards under their read locks
//! with the table lock held: lock order policy table, then map shards, then a breaker's own
//! locks (taken by [`Breaker::set_policy`], which swaps each breaker's policy atomically). No
//! atomics of its own.
//!
//! [`Breaker::set_policy`]: fusebox_engine::Breaker::set_policy

use std::sync::Arc;

use fusebox_engine::Policy;

use crate::name::{check_name, in_group};
use crate::table::{Own, PolicySource, PolicyTable, SectionError};
use crate::{Registry, RegistryError, read, write};

impl Registry {
    /// Sets the policy of `name` and re-points every breaker that now inherits it: `name`
    /// itself and each `name.*` without a policy of its own (or a nearer ancestor's). Each
    /// breaker swaps atomically ([`Breaker::set_policy`]); breakers created later inherit it.
    /// `name` need not exist yet. A config-file section for `name` is replaced by `policy`
    /// whole; config-file sections below `name` that inherit from it are re-applied over
    /// `policy` (see [`docs`](crate::docs), Config files).
    ///
    /// [`Breaker::set_policy`]: fusebox_engine::Breaker::set_policy
    ///
    /// # Errors
    ///
    /// [`RegistryError::InvalidName`]; [`RegistryError::InvalidSection`] if a config-file
    /// section below `name` would be invalid over `policy`. Nothing changes then.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// let eu = registry.breaker("stripe.eu")?;
    /// registry.set_policy("stripe", Policy::builder().min_calls(3).build()?)?;
    /// assert_eq!(eu.policy().min_calls(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_policy(&self, name: &str, policy: Policy) -> Result<(), RegistryError> {
        check_name(name)?;
        let mut table = write(&self.inner.policies);
        commit(&mut table, |t| {
            t.own.insert(Arc::from(name), Own::policy(policy));
        })?;
        self.repoint(&table, |n| in_group(n, name));
        Ok(())
    }

    /// Drops the policy set for `name`, if any: `name` and the breakers that inherited from it
    /// fall back to the next ancestor's policy or the default. Returns whether there was one.
    ///
    /// # Errors
    ///
    /// [`RegistryError::InvalidName`]; [`RegistryError::InvalidSection`] if a config-file
    /// section below `name` would be invalid over the policy it falls back to. Nothing
    /// changes then.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.set_policy("db", Policy::builder().min_calls(3).build()?)?;
    /// assert!(registry.clear_policy("db")?);
    /// assert_eq!(registry.breaker("db")?.policy().min_calls(), Policy::default().min_calls());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clear_policy(&self, name: &str) -> Result<bool, RegistryError> {
        check_name(name)?;
        let mut table = write(&self.inner.policies);
        if !table.own.contains_key(name) {
            return Ok(false);
        }
        commit(&mut table, |t| {
            t.own.remove(name);
        })?;
        self.repoint(&table, |n| in_group(n, name));
        Ok(true)
    }

    /// Replaces the default policy: every breaker with no policy of its own or inherited
    /// switches to it, and config-file sections that inherit the default are re-applied over
    /// it. It stays the default across config reloads of files without a `[defaults]`
    /// section (see [`docs`](crate::docs), Config files).
    ///
    /// # Errors
    ///
    /// [`RegistryError::InvalidSection`] if a config-file section would be invalid over
    /// `policy`. Nothing changes then.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// let b = registry.breaker("db")?;
    /// registry.set_default_policy(Policy::builder().min_calls(7).build()?)?;
    /// assert_eq!(b.policy().min_calls(), 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_default_policy(&self, policy: Policy) -> Result<(), RegistryError> {
        let mut table = write(&self.inner.policies);
        commit(&mut table, |t| {
            t.code_default = policy.clone();
            t.default = policy;
        })?;
        self.repoint(&table, |_| true);
        Ok(())
    }

    /// The default policy.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// assert_eq!(fusebox_registry::Registry::new(Policy::default()).default_policy(), Policy::default());
    /// ```
    pub fn default_policy(&self) -> Policy {
        read(&self.inner.policies).default.clone()
    }

    /// The policies set by name (not the inherited ones), sorted by name.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.set_policy("db", Policy::default())?;
    /// assert_eq!(registry.policies().keys().collect::<Vec<_>>(), ["db"]);
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn policies(&self) -> std::collections::BTreeMap<String, Policy> {
        read(&self.inner.policies).own_sorted()
    }

    /// The policy a breaker named `name` runs with (or would be created with).
    ///
    /// # Errors
    ///
    /// [`RegistryError::InvalidName`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.set_policy("a", Policy::builder().min_calls(4).build()?)?;
    /// assert_eq!(registry.resolved_policy("a.b.c")?.min_calls(), 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resolved_policy(&self, name: &str) -> Result<Policy, RegistryError> {
        check_name(name)?;
        Ok(read(&self.inner.policies).policy_for(name).clone())
    }

    /// Where the policy of `name` comes from: its own, a prefix's, or the default.
    ///
    /// # Errors
    ///
    /// [`RegistryError::InvalidName`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// use fusebox_registry::PolicySource;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// assert_eq!(registry.policy_source("x")?, PolicySource::Default);
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn policy_source(&self, name: &str) -> Result<PolicySource, RegistryError> {
        check_name(name)?;
        Ok(read(&self.inner.policies).resolve(name).1)
    }

    /// Gives every breaker whose name passes `filter` the policy `table` resolves for it,
    /// if that differs from the one it has.
    pub(crate) fn repoint(&self, table: &PolicyTable, filter: impl Fn(&str) -> bool) {
        for entry in self.inner.map.iter() {
            let slot = entry.key();
            if !filter(slot.name()) {
                continue;
            }
            let policy = table.policy_for(slot.name());
            if *slot.breaker.policy() != *policy {
                slot.breaker.set_policy(policy.clone());
            }
        }
    }
}

/// Applies `change` to a copy of `table` and re-applies every config-file section over what
/// it then inherits; keeps the copy only if every section still resolves, so a change is made
/// whole or not at all.
pub(crate) fn commit(
    table: &mut PolicyTable,
    change: impl FnOnce(&mut PolicyTable),
) -> Result<(), SectionError> {
    let mut next = table.clone();
    change(&mut next);
    next.resolve_sections()?;
    *table = next;
    Ok(())
}

impl From<SectionError> for RegistryError {
    fn from(e: SectionError) -> Self {
        RegistryError::InvalidSection {
            breaker: e.name.to_string(),
            field: e.error.field().to_owned(),
            reason: e.error.reason().to_owned(),
        }
    }
}
