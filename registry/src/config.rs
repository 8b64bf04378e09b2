//! Config files: a registry built from, or reloaded with, a `[defaults]` + `[breakers."name"]`
//! TOML file parsed and validated by [`fusebox_policies::RegistryConfig`].
//!
//! # Synchronization
//!
//! A file is parsed with no lock held. Applying it holds the policy table's write lock while
//! it resolves the sections on a copy of the table, replaces the table with the copy if every
//! section resolved, and re-points breakers (as in `policy.rs`): lock order policy table,
//! then map shards, then a breaker's own locks.

use std::sync::Arc;

use fusebox_engine::{Clock, Policy};
use fusebox_policies::{ConfigError, RegistryConfig};

use crate::policy::commit;
use crate::table::Own;
use crate::{Registry, write};

impl Registry {
    /// A registry on the [`QuantaClock`](fusebox_engine::QuantaClock) configured by a config
    /// file: [`Registry::new`]`(Policy::default())` with the file applied
    /// ([`apply_toml`](Self::apply_toml)). Its default policy is the file's `[defaults]`, and
    /// [`Policy::default`](fusebox_engine::Policy::default) again after a reload of a file
    /// without that section; each `[breakers."<name>"]` section is a patch on what it
    /// inherits.
    ///
    /// # Errors
    ///
    /// The file's first problem, with its line, column and breaker name
    /// ([`ConfigError`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_registry::Registry;
    ///
    /// let registry = Registry::from_toml(r#"
    /// [defaults]
    /// open_timeout = "10s"
    ///
    /// [breakers."stripe"]
    /// preset = "payment-provider"
    ///
    /// [breakers."stripe.charges"]
    /// min_calls = 50
    /// "#)?;
    /// let eu = registry.breaker("stripe.charges.eu")?;
    /// assert_eq!(eu.policy().min_calls(), 50);
    /// assert_eq!(registry.breaker("paypal")?.policy().open_timeout(), Duration::from_secs(10));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_toml(text: &str) -> Result<Registry, ConfigError> {
        let registry = Registry::new(Policy::default());
        registry.apply_toml(text)?;
        Ok(registry)
    }

    /// Like [`from_toml`](Self::from_toml), on `clock`.
    ///
    /// # Errors
    ///
    /// As for [`from_toml`](Self::from_toml).
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_engine::ManualClock;
    /// let registry = fusebox_registry::Registry::from_toml_with_clock(
    ///     "[breakers.\"db\"]\nmin_calls = 3\n",
    ///     ManualClock::new(),
    /// )?;
    /// assert_eq!(registry.breaker("db.primary")?.policy().min_calls(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_toml_with_clock(
        text: &str,
        clock: impl Clock + Clone,
    ) -> Result<Registry, ConfigError> {
        let registry = Registry::with_clock(Policy::default(), clock);
        registry.apply_toml(text)?;
        Ok(registry)
    }

    /// Hot-reloads a whole config file, all of it or none of it.
    ///
    /// The file is parsed and every section resolved and validated first; on any error
    /// nothing changes. Then, under the policy lock:
    /// - the default policy becomes the file's `[defaults]` (over
    ///   [`Policy::default`](fusebox_engine::Policy::default)) if the file has that section,
    ///   else the registry's own default: the one it was built with, or last given to
    ///   [`set_default_policy`](Self::set_default_policy);
    /// - the policies set by name become exactly the file's sections. Policies set earlier by
    ///   name and absent from the file are dropped (set in code with
    ///   [`set_policy`](Self::set_policy) included), so removing a section from the file takes
    ///   effect.
    ///
    /// A section stays a patch on the policy it inherits (its longest dotted prefix with a
    /// section, else the default): a later [`set_policy`](Self::set_policy) on that prefix, a
    /// new default or the next reload changes every key the section does not set. See
    /// [`docs`](crate::docs), Config files.
    ///
    /// Every existing breaker whose resolved policy changed is swapped atomically, keeping its
    /// state; breakers named in the file but not yet used are not created: they start with
    /// their policy when first used. The file's `[record]` table is put in force as
    /// [`record`](Self::record) does; a file without one stops recording
    /// ([`stop_recording`](Self::stop_recording)), whether a file or code started it. Each breaker swaps on its own: a call running during the
    /// reload may see one breaker already on the new file and another still on the old one.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] with the line, column, section and field of the first problem.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// let db = registry.breaker("db.primary")?;
    /// registry.apply_toml("[breakers.\"db\"]\nmin_calls = 4\n")?;
    /// assert_eq!(db.policy().min_calls(), 4);
    ///
    /// let err = registry
    ///     .apply_toml("[breakers.\"db\"]\nmin_calls = 0\n")
    ///     .unwrap_err();
    /// assert_eq!(err.breaker(), Some("db"));
    /// assert_eq!(err.position().map(|(line, _)| line), Some(2));
    /// assert_eq!(db.policy().min_calls(), 4); // unchanged
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_toml(&self, text: &str) -> Result<(), ConfigError> {
        self.apply_config(&RegistryConfig::from_toml_unresolved(text)?)
    }

    /// [`apply_toml`](Self::apply_toml) for a config already parsed.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first section, in name order, whose policy is invalid
    /// over what it inherits in this registry. (A config from [`RegistryConfig::from_toml`]
    /// resolves over the file's own defaults; a registry with a default of its own may still
    /// refuse it, or accept one that [`RegistryConfig::from_toml`] refuses.)
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// use fusebox_policies::RegistryConfig;
    /// let config = RegistryConfig::from_toml("[defaults]\nmin_calls = 7\n")?;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.apply_config(&config)?;
    /// assert_eq!(registry.default_policy().min_calls(), 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_config(&self, config: &RegistryConfig) -> Result<(), ConfigError> {
        let mut table = write(&self.inner.policies);
        commit(&mut table, |t| {
            t.default = if config.has_defaults() {
                config.defaults().clone()
            } else {
                t.code_default.clone()
            };
            t.own = config
                .breakers()
                .iter()
                .map(|section| {
                    let own = Own {
                        // Replaced by the patch applied over what it inherits, before the
                        // table is kept.
                        policy: t.default.clone(),
                        patch: Some(section.patch.clone()),
                    };
                    (Arc::from(section.name.as_str()), own)
                })
                .collect();
        })
        .map_err(|e| ConfigError::from(e.error).in_breaker(&e.name))?;
        self.repoint(&table, |_| true);
        drop(table);
        match config.record() {
            Some(record) => self.record(record.clone()),
            None => self.stop_recording(),
        }
        Ok(())
    }
}
