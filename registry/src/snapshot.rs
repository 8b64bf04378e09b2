//! Snapshots: the registry's policies, dependencies and every breaker's state and counters,
//! as plain serde data; and putting them back.
//!
//! # Synchronization
//!
//! A snapshot holds the policy table's read lock while it copies the breakers' handles out of
//! the map (shard read locks, one at a time) and reads each breaker, so policy changes wait
//! and calls do not. A restore checks everything with no lock held, then holds the table's
//! write lock for the rest (no breaker can be created meanwhile, so the capacity it checked
//! holds), taking `deps_writer` inside it to swap the dependency graph. Lock order: policy
//! table, then `deps_writer` or map shards, then the refusals table (refusals.rs), which
//! `dependency_rejected` is read from and raised in.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use fusebox_engine::{Counters, Policy, SavedState, State};
use serde::{Deserialize, Serialize};

use crate::deps::DepGraph;
use crate::name::check_name;
use crate::table::{Own, PolicySource};
use crate::{Registry, RegistryError, lock, read, write};

/// The snapshot format this version writes and reads.
pub const SNAPSHOT_VERSION: u32 = 2;

/// Everything a registry needs to come back as it was: its default policy, the policies set
/// by name, the dependencies, and each breaker's state, open deadline (as time left), backoff
/// step and counters.
///
/// Serialize it with any serde format; JSON is the expected one.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fusebox_engine::{ManualClock, Policy, State};
/// use fusebox_registry::Registry;
///
/// let clock = ManualClock::new();
/// let policy = Policy::builder().min_calls(1).open_timeout(Duration::from_secs(30)).build()?;
/// let before = Registry::with_clock(policy.clone(), clock.clone());
/// let _ = before.call("db", || Err::<(), _>("down"));
/// clock.advance(Duration::from_secs(10));
///
/// let snapshot = before.snapshot();
/// assert_eq!(snapshot.breakers[0].open_remaining, Some(Duration::from_secs(20)));
///
/// let after = Registry::with_clock(Policy::default(), ManualClock::new());
/// after.restore(&snapshot)?;
/// let db = after.get("db").unwrap();
/// assert_eq!(db.state(), State::Open);
/// assert_eq!(db.open_remaining(), Some(Duration::from_secs(20)));
/// assert_eq!(db.metrics().failures, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The format version, [`SNAPSHOT_VERSION`].
    pub version: u32,
    /// The registry's default policy.
    pub default_policy: Policy,
    /// The policies set by name, as in force when the snapshot was taken (a config-file
    /// section as the policy it resolved to).
    pub policies: BTreeMap<String, Policy>,
    /// Each dependent's direct dependencies.
    pub dependencies: BTreeMap<String, Vec<String>>,
    /// Every breaker, sorted by name.
    pub breakers: Vec<BreakerSnapshot>,
}

/// One breaker in a [`Snapshot`].
///
/// # Examples
///
/// ```
/// # use fusebox_engine::*;
/// let registry = fusebox_registry::Registry::new(Policy::default());
/// registry.breaker("db")?.force_open();
/// let b = &registry.snapshot().breakers[0];
/// assert_eq!((b.name.as_str(), b.state), ("db", State::ForcedOpen));
/// # Ok::<(), fusebox_registry::RegistryError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerSnapshot {
    /// The breaker's name.
    pub name: String,
    /// Its state, written as in `Display` (`"closed"`, `"half-open"`, ...).
    #[serde(with = "state_name")]
    pub state: State,
    /// For `Open`: the time left in the open period.
    pub open_remaining: Option<Duration>,
    /// Re-opens in a row (the backoff step of the open period).
    pub backoff_step: u32,
    /// The breaker's lifetime counters.
    pub counters: Counters,
    /// Calls the registry refused because a dependency was open.
    #[serde(default)]
    pub dependency_rejected: u64,
    /// Where its policy came from. Informational: on restore the policy follows from the
    /// snapshot's policies, as inheritance resolves them.
    pub policy_source: PolicySource,
}

impl Registry {
    /// A snapshot of the registry: policies, dependencies and every breaker, taken breaker by
    /// breaker (calls may run meanwhile; policy changes wait).
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.breaker("db")?;
    /// let json = serde_json::to_string(&registry.snapshot()).unwrap();
    /// assert!(json.contains("\"name\":\"db\""));
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        let table = read(&self.inner.policies);
        let deps = self.inner.deps.load_full();
        let mut slots: Vec<_> = self
            .inner
            .map
            .iter()
            .map(|e| e.key().breaker.clone())
            .collect();
        slots.sort_unstable_by(|a, b| a.name().cmp(b.name()));
        let refusals = self.inner.refusals.counts();
        let breakers = slots
            .into_iter()
            .map(|b| {
                let dependency_rejected = refusals.get(b.name()).copied().unwrap_or(0);
                let s = b.saved_state();
                BreakerSnapshot {
                    name: b.name().to_owned(),
                    state: s.state,
                    open_remaining: s.open_remaining,
                    backoff_step: s.backoff_step,
                    counters: s.counters,
                    dependency_rejected,
                    policy_source: table.resolve(b.name()).1,
                }
            })
            .collect();
        let mut dependencies: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (a, b) in deps.edges() {
            dependencies
                .entry(a.to_owned())
                .or_default()
                .push(b.to_owned());
        }
        Snapshot {
            version: SNAPSHOT_VERSION,
            default_policy: table.default.clone(),
            policies: table.own_sorted(),
            dependencies,
            breakers,
        }
    }

    /// Puts a snapshot back: the default policy, the policies set by name and the
    /// dependencies are replaced by the snapshot's; each breaker in it is created if needed
    /// and given back its state, backoff step and counters ([`Breaker::restore`]). An `Open`
    /// breaker stays open for the time it had left; a `HalfOpen` one comes back `Open` with
    /// its period over (its next call probes); a `Recovering` one restarts its ramp. Breakers
    /// not in the snapshot keep their state (and take the restored policies).
    ///
    /// The restored default becomes the registry's own (as if set by
    /// [`set_default_policy`](Self::set_default_policy)), and each policy by name a whole
    /// policy (as if set by [`set_policy`](Self::set_policy)): a config-file section restored
    /// this way no longer follows its parent. Re-apply the config file to make it a patch on
    /// its parent again.
    ///
    /// [`Breaker::restore`]: fusebox_engine::Breaker::restore
    ///
    /// # Errors
    ///
    /// Everything is checked before anything changes: [`RegistryError::UnsupportedSnapshot`],
    /// [`RegistryError::InvalidName`], [`RegistryError::DependencyCycle`], or
    /// [`RegistryError::Full`] if the new breakers would exceed the capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let a = fusebox_registry::Registry::new(Policy::default());
    /// a.breaker("db")?.disable();
    /// let b = fusebox_registry::Registry::new(Policy::default());
    /// b.restore(&a.snapshot())?;
    /// assert_eq!(b.get("db").unwrap().state(), State::Disabled);
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn restore(&self, snapshot: &Snapshot) -> Result<(), RegistryError> {
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(RegistryError::UnsupportedSnapshot {
                version: snapshot.version,
            });
        }
        for name in snapshot
            .policies
            .keys()
            .chain(snapshot.breakers.iter().map(|b| &b.name))
            .chain(
                snapshot
                    .dependencies
                    .iter()
                    .flat_map(|(a, bs)| std::iter::once(a).chain(bs.iter())),
            )
        {
            check_name(name)?;
        }
        let graph = DepGraph::from_edges(
            snapshot
                .dependencies
                .iter()
                .flat_map(|(a, bs)| bs.iter().map(move |b| (a.as_str(), b.as_str()))),
        )?;

        // Creators hold the table for reading: while it is held for writing, no breaker can
        // be created behind our back, so the capacity checked here is still there below.
        let mut table = write(&self.inner.policies);
        let mut fresh = HashSet::new();
        for b in &snapshot.breakers {
            if !self.inner.map.contains_key(b.name.as_str()) {
                fresh.insert(b.name.as_str());
            }
        }
        if self.len().saturating_add(fresh.len()) > self.inner.capacity {
            return Err(RegistryError::Full {
                capacity: self.inner.capacity,
            });
        }

        table.default = snapshot.default_policy.clone();
        table.code_default = snapshot.default_policy.clone();
        table.own = snapshot
            .policies
            .iter()
            .map(|(k, v)| (Arc::from(k.as_str()), Own::policy(v.clone())))
            .collect();
        self.repoint(&table, |_| true);
        {
            let _writer = lock(&self.inner.deps_writer);
            self.set_deps(graph);
        }
        for b in &snapshot.breakers {
            let breaker = self.get_or_create_in(&table, &b.name)?;
            breaker.restore(&SavedState {
                state: b.state,
                open_remaining: b.open_remaining,
                backoff_step: b.backoff_step,
                counters: b.counters,
            });
            // Under the entry's shard (see refusals.rs); raised like the breaker's counters.
            if let Some(_entry) = self.inner.map.get(b.name.as_str()) {
                self.inner.refusals.raise(&b.name, b.dependency_rejected);
            }
        }
        Ok(())
    }
}

/// `State` as its `Display` name (`"half-open"`), the form snapshots and the CLI write.
mod state_name {
    use fusebox_engine::State;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(state: &State, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(state.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<State, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        State::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| {
                D::Error::custom(format_args!(
                    "unknown state {name:?}, expected one of: {}",
                    State::ALL.map(State::as_str).join(", ")
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_name_round_trips() {
        for state in [
            State::Closed,
            State::Open,
            State::HalfOpen,
            State::Recovering,
            State::ForcedOpen,
            State::Disabled,
            State::MetricsOnly,
        ] {
            let b = BreakerSnapshot {
                name: "x".into(),
                state,
                open_remaining: None,
                backoff_step: 0,
                counters: Counters::default(),
                dependency_rejected: 0,
                policy_source: PolicySource::Default,
            };
            let json = serde_json::to_string(&b).unwrap();
            assert!(json.contains(&format!("\"state\":\"{state}\"")), "{json}");
            assert_eq!(serde_json::from_str::<BreakerSnapshot>(&json).unwrap(), b);
        }
        let bad = r#"{"name":"x","state":"ajar","open_remaining":null,"backoff_step":0,
            "counters":{"admitted":0,"successes":0,"failures":0,"ignored":0,"slow":0,
            "rejected":0},"dependency_rejected":0,"policy_source":"default"}"#;
        let err = serde_json::from_str::<BreakerSnapshot>(bad).unwrap_err();
        assert!(err.to_string().contains("unknown state \"ajar\""), "{err}");
    }
}
