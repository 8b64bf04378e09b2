//! Switching chaos off by name, for the operator: the breaker's policy without its `chaos`,
//! kept off across re-pointing and config reloads that bring the same chaos back.
//!
//! # Synchronization
//!
//! The switch is made under the policy table's write lock, as every policy change is (see
//! `policy.rs`): lock order policy table, then map shards, then the breaker's own locks
//! (taken by [`Noted::chaos_off`], which swaps the breaker's policy atomically). No atomics
//! of its own.
//!
//! [`Noted::chaos_off`]: fusebox_engine::Noted::chaos_off

use std::sync::Arc;

use fusebox_engine::Chaos;

use crate::name::check_name;
use crate::table::ChaosOff;
use crate::{Registry, RegistryError, read, write};

impl Registry {
    /// Switches chaos off for the breaker `name`: it runs with its policy without
    /// [`chaos`](fusebox_engine::Policy::chaos) from now on, its state, window and counters
    /// kept, and `note` is left in its history (reason
    /// [`ChaosOff`](fusebox_engine::TransitionReason::ChaosOff)). Other breakers that share the
    /// policy keep their chaos. Returns whether there was chaos to switch off (`false`
    /// changes nothing). `name` need not exist yet: a breaker created later under it starts
    /// without the chaos.
    ///
    /// The switch holds for the chaos it switched off, however the policy reaches the
    /// breaker again: re-pointing after a [`set_policy`](Self::set_policy) on a prefix, a new
    /// default, or a config reload ([`apply_toml`](Self::apply_toml)) that sets the same
    /// chaos for `name` leave it off, so a reload of the file that started the experiment
    /// does not start it again behind the operator's back. A policy whose chaos differs in
    /// any key (another seed, rate or `until`) is a new experiment, and starts; so does the
    /// same chaos after a change that removed it. [`policies`](Self::policies) and the
    /// config still show the chaos set; [`resolved_policy`](Self::resolved_policy) shows the
    /// policy the breaker runs with, and [`chaos_switched_off`](Self::chaos_switched_off)
    /// the chaos held off.
    ///
    /// # Errors
    ///
    /// [`RegistryError::InvalidName`].
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_engine::{Chaos, Policy};
    /// use fusebox_registry::Registry;
    ///
    /// let file = "[breakers.\"pay\"]\nchaos = { fault_rate = 0.5, seed = 7 }\n";
    /// let registry = Registry::from_toml(file)?;
    /// let pay = registry.breaker("pay")?;
    /// assert!(pay.policy().chaos().is_some());
    ///
    /// assert!(registry.chaos_off("pay", "oncall: enough".into())?);
    /// assert_eq!(pay.policy().chaos(), None);
    /// assert_eq!(pay.history().last().unwrap().note.as_deref(), Some("oncall: enough"));
    ///
    /// registry.apply_toml(file)?; // the same experiment: it stays off
    /// assert_eq!(pay.policy().chaos(), None);
    /// registry.apply_toml(&file.replace("seed = 7", "seed = 8"))?; // a new one: it starts
    /// assert_eq!(pay.policy().chaos().map(|c| c.seed()), Some(8));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn chaos_off(&self, name: &str, note: Arc<str>) -> Result<bool, RegistryError> {
        check_name(name)?;
        let mut table = write(&self.inner.policies);
        let policy = table.policy_for(name);
        let Some(chaos) = policy.chaos().copied() else {
            return Ok(false);
        };
        let off = ChaosOff {
            chaos,
            policy: policy.without_chaos(),
        };
        table.chaos_off.insert(Arc::from(name), off);
        if let Some(slot) = self.inner.map.get(name) {
            slot.key().breaker.noted(note).chaos_off();
        }
        Ok(true)
    }

    /// The chaos switched off for `name` by [`chaos_off`](Self::chaos_off) and still held
    /// off: `None` if none is, or once the policy set for `name` has other chaos or none.
    ///
    /// # Errors
    ///
    /// [`RegistryError::InvalidName`].
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_engine::{Chaos, Policy};
    /// use fusebox_registry::Registry;
    ///
    /// let chaos = Chaos::new().with_fault_rate(0.1);
    /// let registry = Registry::new(Policy::default());
    /// registry.set_policy("pay", Policy::builder().chaos(chaos).build()?)?;
    /// assert_eq!(registry.chaos_switched_off("pay")?, None);
    /// registry.chaos_off("pay", "admin".into())?;
    /// assert_eq!(registry.chaos_switched_off("pay")?, Some(chaos));
    /// registry.set_policy("pay", Policy::default())?;
    /// assert_eq!(registry.chaos_switched_off("pay")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn chaos_switched_off(&self, name: &str) -> Result<Option<Chaos>, RegistryError> {
        check_name(name)?;
        Ok(read(&self.inner.policies)
            .chaos_off
            .get(name)
            .map(|off| off.chaos))
    }
}
