//! Groups: a dotted prefix and every breaker below it, acted on at once.
//!
//! # Synchronization
//!
//! A group action copies the matching handles out of the map (shard read locks, one at a
//! time) and acts on them with no registry lock held. `metrics` reads each entry under its
//! shard's read lock, then sums the group's dependency refusals under the refusals table's
//! lock alone (a statistic).

use fusebox_engine::{Breaker, Counters, Policy, State};
use serde::{Deserialize, Serialize};

use crate::name::in_group;
use crate::{Registry, RegistryError};

/// The breakers named `prefix` or `prefix.*` in a registry, acted on together.
///
/// A group is a view: each method acts on the breakers that exist when it is called. A breaker
/// created afterwards under the prefix starts `Closed` (with its inherited policy), even if
/// the group was forced open.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Policy, State};
/// use fusebox_registry::Registry;
///
/// let registry = Registry::new(Policy::default());
/// let eu = registry.breaker("stripe.eu")?;
/// let us = registry.breaker("stripe.us")?;
/// let other = registry.breaker("stripes")?;
///
/// let stripe = registry.group("stripe");
/// assert_eq!(stripe.force_open(), 2);
/// assert_eq!((eu.state(), us.state()), (State::ForcedOpen, State::ForcedOpen));
/// assert_eq!(other.state(), State::Closed);
/// assert_eq!(stripe.metrics().forced_open, 2);
/// stripe.reset();
/// assert_eq!(eu.state(), State::Closed);
/// # Ok::<(), fusebox_registry::RegistryError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Group<'r> {
    registry: &'r Registry,
    prefix: String,
}

/// Counters summed over a group's breakers, and how many are in each state.
///
/// Each breaker's figures are read on their own (see
/// [`Metrics`](fusebox_engine::Metrics)); the sum is exact once calls are quiet.
///
/// # Examples
///
/// ```
/// # use fusebox_engine::*;
/// let registry = fusebox_registry::Registry::new(Policy::default());
/// let _ = registry.call("db.primary", || Ok::<_, ()>(()));
/// let _ = registry.call("db.replica", || Err::<(), _>(()));
/// let m = registry.group("db").metrics();
/// assert_eq!((m.breakers, m.admitted, m.successes, m.failures), (2, 2, 1, 1));
/// assert_eq!(m.count(State::Closed), 2);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMetrics {
    /// Breakers in the group.
    pub breakers: usize,
    /// The breakers' lifetime counters, summed (also reachable through `Deref`:
    /// `metrics.failures`).
    pub counters: Counters,
    /// Calls refused because a dependency was open (see [`Registry::depend`]), summed.
    pub dependency_rejected: u64,
    /// Breakers `Closed`.
    pub closed: usize,
    /// Breakers `Open`.
    pub open: usize,
    /// Breakers `HalfOpen`.
    pub half_open: usize,
    /// Breakers `Recovering`.
    pub recovering: usize,
    /// Breakers `ForcedOpen`.
    pub forced_open: usize,
    /// Breakers `Disabled`.
    pub disabled: usize,
    /// Breakers `MetricsOnly`.
    pub metrics_only: usize,
}

impl std::ops::Deref for GroupMetrics {
    type Target = Counters;

    /// The summed lifetime counters.
    ///
    /// ```
    /// let m = fusebox_registry::GroupMetrics::default();
    /// assert_eq!(m.failures, 0);
    /// ```
    fn deref(&self) -> &Counters {
        &self.counters
    }
}

impl GroupMetrics {
    /// How many of the group's breakers are in `state`.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let m = fusebox_registry::GroupMetrics { open: 3, ..Default::default() };
    /// assert_eq!(m.count(State::Open), 3);
    /// ```
    pub fn count(&self, state: State) -> usize {
        match state {
            State::Closed => self.closed,
            State::Open => self.open,
            State::HalfOpen => self.half_open,
            State::Recovering => self.recovering,
            State::ForcedOpen => self.forced_open,
            State::Disabled => self.disabled,
            State::MetricsOnly => self.metrics_only,
        }
    }

    fn count_mut(&mut self, state: State) -> &mut usize {
        match state {
            State::Closed => &mut self.closed,
            State::Open => &mut self.open,
            State::HalfOpen => &mut self.half_open,
            State::Recovering => &mut self.recovering,
            State::ForcedOpen => &mut self.forced_open,
            State::Disabled => &mut self.disabled,
            State::MetricsOnly => &mut self.metrics_only,
        }
    }
}

impl Registry {
    /// A handle on `prefix` and every `prefix.*` breaker (a dotted boundary: group `stripe`
    /// holds `stripe.eu`, not `stripes`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// for n in ["stripe", "stripe.eu", "stripes"] {
    ///     registry.breaker(n)?;
    /// }
    /// assert_eq!(registry.group("stripe").names(), ["stripe", "stripe.eu"]);
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn group(&self, prefix: &str) -> Group<'_> {
        Group::new(self, prefix)
    }
}

impl<'r> Group<'r> {
    pub(crate) fn new(registry: &'r Registry, prefix: &str) -> Self {
        Group {
            registry,
            prefix: prefix.to_owned(),
        }
    }

    /// The group's prefix.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// assert_eq!(registry.group("stripe").prefix(), "stripe");
    /// ```
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether `name` belongs to the group.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// let g = registry.group("stripe");
    /// assert!(g.contains("stripe.eu") && !g.contains("stripes"));
    /// ```
    pub fn contains(&self, name: &str) -> bool {
        in_group(name, &self.prefix)
    }

    /// The group's breakers, sorted by name.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.breaker("db.primary")?;
    /// assert_eq!(registry.group("db").breakers()[0].name(), "db.primary");
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn breakers(&self) -> Vec<Breaker> {
        self.registry.matching(|n| in_group(n, &self.prefix))
    }

    /// The group's breaker names, sorted.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.breaker("db.replica")?;
    /// registry.breaker("db")?;
    /// assert_eq!(registry.group("db").names(), ["db", "db.replica"]);
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn names(&self) -> Vec<String> {
        self.breakers()
            .iter()
            .map(|b| b.name().to_owned())
            .collect()
    }

    /// Forces every breaker of the group open ([`Breaker::force_open`]); returns how many.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.breaker("db.primary")?;
    /// assert_eq!(registry.group("db").force_open(), 1);
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn force_open(&self) -> usize {
        self.each(Breaker::force_open)
    }

    /// Resets every breaker of the group ([`Breaker::reset`]); returns how many.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.breaker("db")?.force_open();
    /// assert_eq!(registry.group("db").reset(), 1);
    /// assert_eq!(registry.get("db").unwrap().state(), State::Closed);
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn reset(&self) -> usize {
        self.each(Breaker::reset)
    }

    /// Disables every breaker of the group ([`Breaker::disable`]); returns how many.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.breaker("db")?;
    /// registry.group("db").disable();
    /// assert_eq!(registry.get("db").unwrap().state(), State::Disabled);
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn disable(&self) -> usize {
        self.each(Breaker::disable)
    }

    /// Puts every breaker of the group in metrics-only mode ([`Breaker::metrics_only`]);
    /// returns how many.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.breaker("db")?;
    /// registry.group("db").metrics_only();
    /// assert_eq!(registry.get("db").unwrap().state(), State::MetricsOnly);
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn metrics_only(&self) -> usize {
        self.each(Breaker::metrics_only)
    }

    /// Sets the policy of the group's prefix: [`Registry::set_policy`]`(prefix, policy)`.
    ///
    /// # Errors
    ///
    /// As for [`Registry::set_policy`]: [`RegistryError::InvalidName`] if the prefix is not a
    /// valid name, [`RegistryError::InvalidSection`] if a config-file section below it would
    /// be invalid over `policy`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// let b = registry.breaker("db.primary")?;
    /// registry.group("db").set_policy(Policy::builder().min_calls(2).build()?)?;
    /// assert_eq!(b.policy().min_calls(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_policy(&self, policy: Policy) -> Result<(), RegistryError> {
        self.registry.set_policy(&self.prefix, policy)
    }

    /// The group's counters summed and its breakers counted by state.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.breaker("db")?.force_open();
    /// assert_eq!(registry.group("db").metrics().forced_open, 1);
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn metrics(&self) -> GroupMetrics {
        let mut sum = GroupMetrics::default();
        for entry in self.registry.inner.map.iter() {
            let slot = entry.key();
            if !in_group(slot.name(), &self.prefix) {
                continue;
            }
            let m = slot.breaker.metrics();
            sum.breakers += 1;
            sum.counters = sum.counters.plus(&m.counters);
            *sum.count_mut(m.state) += 1;
        }
        sum.dependency_rejected = self
            .registry
            .inner
            .refusals
            .sum(|n| in_group(n, &self.prefix));
        sum
    }

    /// Applies `f` to each breaker of the group, with no registry lock held.
    fn each(&self, f: impl Fn(&Breaker)) -> usize {
        let breakers = self.breakers();
        for b in &breakers {
            f(b);
        }
        breakers.len()
    }
}
