//! Named fusebox breakers: a sharded registry with policy inheritance, groups, dependencies,
//! bounded memory and snapshots.
//!
//! A [`Registry`] maps names to shared [`Breaker`]s. Looking a name up is one shard read lock
//! and a reference-count increment; the first lookup of a name creates its breaker with the
//! policy it inherits (semantic rule 15): its own, else that of its longest dotted prefix that
//! has one, else the registry default.
//!
//! ```
//! use std::time::Duration;
//! use fusebox_engine::{ManualClock, Policy, State};
//! use fusebox_registry::Registry;
//!
//! let registry = Registry::with_clock(Policy::default(), ManualClock::new());
//! let strict = Policy::builder().min_calls(2).open_timeout(Duration::from_secs(5)).build()?;
//! registry.set_policy("stripe", strict)?;
//!
//! let eu = registry.breaker("stripe.charges.eu")?; // created, inheriting from `stripe`
//! assert_eq!(eu.policy().min_calls(), 2);
//! for _ in 0..2 {
//!     let _ = registry.call("stripe.charges.eu", || Err::<(), _>("declined"));
//! }
//! assert_eq!(eu.state(), State::Open);
//!
//! registry.group("stripe").reset();
//! assert_eq!(eu.state(), State::Closed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Breaker::call`] on a breaker obtained from the registry guards the call with that breaker
//! alone; [`Registry::call`] also checks the breaker's [dependencies](Registry::depend). See
//! the [`docs`] module for names, pruning, locking and costs.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use arc_swap::ArcSwap;
use crossbeam_utils::CachePadded;
use dashmap::DashMap;
use fusebox_engine::{Breaker, Clock, Outcome, Policy, QuantaClock, State};
use fusebox_policies::MAX_NAME_BYTES;

mod config;
mod deps;
pub mod docs;
mod error;
mod group;
mod name;
mod snapshot;
mod table;

pub use error::{RegistryCallError, RegistryError};
pub use fusebox_policies::{ConfigError, RegistryConfig};
pub use group::{Group, GroupMetrics};
pub use snapshot::{BreakerSnapshot, Counters, SNAPSHOT_VERSION, Snapshot};
pub use table::PolicySource;

use deps::DepGraph;
use name::{check_name, in_group};
use table::PolicyTable;

/// The map's hasher: foldhash with a per-registry random seed. SipHash (std's default) cost
/// more than the rest of a lookup on 16-byte names; the random seed keeps names chosen by an
/// attacker from colliding on purpose.
type Hasher = foldhash::fast::RandomState;

/// A sharded, named set of breakers with rule-15 policy inheritance.
///
/// `Registry` is a handle: one pointer, `Clone + Send + Sync + 'static`. Clones share one
/// registry (cloning costs a reference-count increment), so a handle can move into spawned
/// threads and tasks; the registry lives until its last handle is dropped. Every method takes
/// `&self`. Breakers are handed out as [`Breaker`] handles too.
///
/// A registry is also `UnwindSafe` and `RefUnwindSafe`: a panic inside
/// [`std::panic::catch_unwind`] (around a reload, say) leaves it consistent. Its locks recover
/// from poisoning, policy tables and dependency graphs are replaced whole, and a breaker
/// creation that panics (in a caller's [`Clock`]) gives its capacity back.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, ManualClock, Policy};
/// use fusebox_registry::Registry;
///
/// let registry = Registry::with_clock(Policy::default(), ManualClock::new());
/// let a = registry.breaker("inventory")?;
/// let b = registry.clone().breaker("inventory")?;
/// assert!(Breaker::ptr_eq(&a, &b));
/// assert_eq!(registry.len(), 1);
/// # Ok::<(), fusebox_registry::RegistryError>(())
/// ```
#[derive(Clone)]
pub struct Registry {
    inner: Arc<RegistryInner>,
}

/// What a [`Registry`] handle points to.
struct RegistryInner {
    map: DashMap<Arc<str>, Slot, Hasher>,
    /// The default and the policies set by name. Lock order: this lock, then map shards.
    /// Creators hold it for reading, so a breaker is never created from a stale table.
    policies: RwLock<PolicyTable>,
    deps: ArcSwap<DepGraph>,
    /// Whether `deps` has an edge: lets calls skip the graph load when none was declared.
    has_deps: AtomicBool,
    /// Serializes dependency changes (each builds a new graph from the current one).
    deps_writer: Mutex<()>,
    clock: Box<dyn ClockHandle>,
    capacity: usize,
    /// Breakers in the map, plus slots reserved by creators about to insert. Written on
    /// creation and removal only, so kept off the line lookups read.
    len: CachePadded<AtomicUsize>,
    /// One prune pass at a time.
    pruning: Mutex<()>,
}

// A registry keeps its invariants across a panic, so a handle may cross `catch_unwind`
// (reloads are often wrapped in one): its `std` locks are taken poison-tolerantly; the policy
// table and the dependency graph are replaced whole, never left half-written; a capacity
// place reserved for a breaker whose creation panics is given back (`Reservation`); and no
// caller code runs under a map shard lock but the clock, on creation. The map's shard locks
// and the type-erased clock are what the compiler cannot see through.
impl std::panic::RefUnwindSafe for RegistryInner {}

/// A map entry: the breaker and what the registry tracks about its use.
struct Slot {
    breaker: Breaker,
    /// Looked up since the last prune pass (see "Pruning" in [`docs`]).
    looked_up: AtomicBool,
    /// `admitted + rejected + dependency_rejected` as the last prune pass saw it. Plain:
    /// only prune passes touch it, through `retain`'s exclusive access.
    activity: u64,
    /// Clock time (ns) of creation or of the last prune pass that saw the breaker in use.
    active_at: u64,
    /// Calls [`Registry::call`] refused because a dependency was open.
    dependency_rejected: AtomicU64,
}

impl Slot {
    fn new(breaker: Breaker, now: u64) -> Self {
        Slot {
            breaker,
            looked_up: AtomicBool::new(false),
            activity: 0,
            active_at: now,
            dependency_rejected: AtomicU64::new(0),
        }
    }

    fn activity(&self) -> u64 {
        let m = self.breaker.metrics();
        // Relaxed: a statistic.
        m.admitted
            .wrapping_add(m.rejected)
            .wrapping_add(self.dependency_rejected.load(Ordering::Relaxed))
    }
}

/// The registry's clock, type-erased: it reads the time and gives each new breaker a clone.
trait ClockHandle: Send + Sync {
    fn now_nanos(&self) -> u64;
    fn new_breaker(&self, name: Arc<str>, policy: Policy) -> Breaker;
    fn describe(&self) -> String;
}

struct HeldClock<C>(C);

impl<C: Clock + Clone> ClockHandle for HeldClock<C> {
    fn now_nanos(&self) -> u64 {
        self.0.now_nanos()
    }

    fn new_breaker(&self, name: Arc<str>, policy: Policy) -> Breaker {
        Breaker::with_clock(name, policy, self.0.clone())
    }

    fn describe(&self) -> String {
        std::any::type_name::<C>().to_owned()
    }
}

/// Options for a [`Registry`]: its clock and its capacity.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{ManualClock, Policy};
/// use fusebox_registry::{Registry, RegistryError};
///
/// let registry = Registry::builder(Policy::default())
///     .clock(ManualClock::new())
///     .capacity(2)
///     .build();
/// registry.breaker("a")?;
/// registry.breaker("b")?;
/// assert_eq!(registry.breaker("c").unwrap_err(), RegistryError::Full { capacity: 2 });
/// # Ok::<(), RegistryError>(())
/// ```
pub struct RegistryBuilder {
    default: Policy,
    clock: Box<dyn ClockHandle>,
    capacity: usize,
    shards: Option<usize>,
}

impl RegistryBuilder {
    /// Runs the registry and every breaker it creates on `clock` (default: [`QuantaClock`]).
    /// Each breaker gets a clone; [`ManualClock`](fusebox_engine::ManualClock) clones share
    /// one time.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let clock = ManualClock::new();
    /// let registry = fusebox_registry::Registry::builder(Policy::default()).clock(clock.clone()).build();
    /// clock.advance(std::time::Duration::from_secs(1));
    /// assert_eq!(registry.breaker("x").unwrap().now().as_secs(), 1);
    /// ```
    pub fn clock(mut self, clock: impl Clock + Clone) -> Self {
        self.clock = Box::new(HeldClock(clock));
        self
    }

    /// At most `max_breakers` breakers at once: creating one more fails with
    /// [`RegistryError::Full`], so names derived from untrusted input cannot exhaust memory.
    /// Unlimited by default.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::builder(Policy::default()).capacity(10).build();
    /// assert_eq!(registry.capacity(), Some(10));
    /// ```
    pub fn capacity(mut self, max_breakers: usize) -> Self {
        self.capacity = max_breakers;
        self
    }

    /// The number of map shards (rounded up to a power of two, at least 2). The default is
    /// dashmap's: four per core.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::builder(Policy::default()).shards(64).build();
    /// assert!(registry.is_empty());
    /// ```
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards.max(2).next_power_of_two());
        self
    }

    /// The registry.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::builder(Policy::default()).build();
    /// assert_eq!(registry.capacity(), None);
    /// ```
    pub fn build(self) -> Registry {
        let hasher = Hasher::default();
        let map = match self.shards {
            Some(n) => DashMap::with_hasher_and_shard_amount(hasher, n),
            None => DashMap::with_hasher(hasher),
        };
        Registry {
            inner: Arc::new(RegistryInner {
                map,
                policies: RwLock::new(PolicyTable::new(self.default)),
                deps: ArcSwap::from_pointee(DepGraph::default()),
                has_deps: AtomicBool::new(false),
                deps_writer: Mutex::new(()),
                clock: self.clock,
                capacity: self.capacity,
                len: CachePadded::new(AtomicUsize::new(0)),
                pruning: Mutex::new(()),
            }),
        }
    }
}

impl fmt::Debug for RegistryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryBuilder")
            .field("clock", &self.clock.describe())
            .field("capacity", &self.capacity)
            .field("shards", &self.shards)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// An empty registry on the [`QuantaClock`] whose breakers default to `policy`.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = fusebox_registry::Registry::new(fusebox_engine::Policy::default());
    /// assert!(registry.is_empty());
    /// ```
    pub fn new(policy: Policy) -> Self {
        Self::builder(policy).build()
    }

    /// An empty registry on `clock` (each breaker gets a clone of it).
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_engine::{ManualClock, Policy};
    /// let registry = fusebox_registry::Registry::with_clock(Policy::default(), ManualClock::new());
    /// assert!(registry.is_empty());
    /// ```
    pub fn with_clock(policy: Policy, clock: impl Clock + Clone) -> Self {
        Self::builder(policy).clock(clock).build()
    }

    /// Options beyond the default policy: clock, capacity, shards.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::builder(Policy::default()).capacity(100).build();
    /// assert_eq!(registry.capacity(), Some(100));
    /// ```
    pub fn builder(policy: Policy) -> RegistryBuilder {
        RegistryBuilder {
            default: policy,
            clock: Box::new(HeldClock(QuantaClock::new())),
            capacity: usize::MAX,
            shards: None,
        }
    }

    /// The breaker named `name`, created with its inherited policy if it does not exist yet.
    /// Concurrent first calls for one name create exactly one breaker.
    ///
    /// # Errors
    ///
    /// [`RegistryError::InvalidName`] for a name [`fusebox_policies::validate_name`] rejects;
    /// [`RegistryError::Full`] if the breaker would be created beyond the capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// let b = registry.breaker("payments.eu")?;
    /// assert_eq!(b.name(), "payments.eu");
    /// assert!(registry.breaker("payments..eu").is_err());
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    #[inline]
    pub fn breaker(&self, name: &str) -> Result<Breaker, RegistryError> {
        match self.get(name) {
            Some(b) => Ok(b),
            None => self.create(name),
        }
    }

    /// The breaker named `name`, if it exists. Never creates one.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// assert!(registry.get("db").is_none());
    /// registry.breaker("db")?;
    /// assert!(registry.get("db").is_some());
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    #[inline]
    pub fn get(&self, name: &str) -> Option<Breaker> {
        if name.len() > MAX_NAME_BYTES {
            // Never stored; and hashing an oversized name from untrusted input is wasted work.
            return None;
        }
        let slot = self.inner.map.get(name)?;
        self.touch(&slot);
        Some(slot.breaker.clone())
    }

    /// Whether a breaker named `name` exists. Unlike [`get`](Self::get) this does not count
    /// as a use for [`prune_idle`](Self::prune_idle).
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// assert!(!registry.contains("db"));
    /// ```
    pub fn contains(&self, name: &str) -> bool {
        self.inner.map.contains_key(name)
    }

    /// Removes the breaker named `name` and returns it. Whoever still holds it keeps a working
    /// breaker that the registry no longer knows; the next [`breaker`](Self::breaker) call for
    /// the name creates a fresh one. Policies and dependencies declared for the name stay.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// let old = registry.breaker("db")?;
    /// assert!(registry.remove("db").is_some());
    /// assert!(!Breaker::ptr_eq(&old, &registry.breaker("db")?));
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn remove(&self, name: &str) -> Option<Breaker> {
        let (_, slot) = self.inner.map.remove(name)?;
        // Relaxed: `len` only bounds the map; the map's own locks publish its contents.
        self.inner.len.fetch_sub(1, Ordering::Relaxed);
        Some(slot.breaker)
    }

    /// How many breakers the registry holds.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.breaker("a")?;
    /// assert_eq!(registry.len(), 1);
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn len(&self) -> usize {
        // Relaxed: a count; exact once creators are quiet.
        self.inner.len.load(Ordering::Relaxed)
    }

    /// Whether the registry holds no breaker.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// assert!(fusebox_registry::Registry::new(Policy::default()).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity limit, if one was set.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// assert_eq!(fusebox_registry::Registry::new(Policy::default()).capacity(), None);
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        (self.inner.capacity != usize::MAX).then_some(self.inner.capacity)
    }

    /// Every breaker's name, sorted.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.breaker("b")?;
    /// registry.breaker("a")?;
    /// assert_eq!(registry.names(), ["a", "b"]);
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.inner.map.iter().map(|e| e.key().to_string()).collect();
        names.sort_unstable();
        names
    }

    /// Every breaker, sorted by name: for status pages and health checks. The list is a
    /// copy: no lock is held while you read it.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.breaker("db")?.force_open();
    /// for b in registry.breakers() {
    ///     println!("{}: {}", b.name(), b.state());
    /// }
    /// assert_eq!(registry.breakers()[0].state(), State::ForcedOpen);
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn breakers(&self) -> Vec<Breaker> {
        self.matching(|_| true)
    }

    /// Sets the policy of `name` and re-points every breaker that now inherits it: `name`
    /// itself and each `name.*` without a policy of its own (or a nearer ancestor's). Each
    /// breaker swaps atomically ([`Breaker::set_policy`]); breakers created later inherit it.
    /// `name` need not exist yet.
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
    /// let eu = registry.breaker("stripe.eu")?;
    /// registry.set_policy("stripe", Policy::builder().min_calls(3).build()?)?;
    /// assert_eq!(eu.policy().min_calls(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_policy(&self, name: &str, policy: Policy) -> Result<(), RegistryError> {
        check_name(name)?;
        let mut table = write(&self.inner.policies);
        table.own.insert(Arc::from(name), policy);
        self.repoint(&table, |n| in_group(n, name));
        Ok(())
    }

    /// Drops the policy set for `name`, if any: `name` and the breakers that inherited from it
    /// fall back to the next ancestor's policy or the default. Returns whether there was one.
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
    /// registry.set_policy("db", Policy::builder().min_calls(3).build()?)?;
    /// assert!(registry.clear_policy("db")?);
    /// assert_eq!(registry.breaker("db")?.policy().min_calls(), Policy::default().min_calls());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clear_policy(&self, name: &str) -> Result<bool, RegistryError> {
        check_name(name)?;
        let mut table = write(&self.inner.policies);
        if table.own.remove(name).is_none() {
            return Ok(false);
        }
        self.repoint(&table, |n| in_group(n, name));
        Ok(true)
    }

    /// Replaces the default policy: every breaker with no policy of its own or inherited
    /// switches to it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// let b = registry.breaker("db")?;
    /// registry.set_default_policy(Policy::builder().min_calls(7).build()?);
    /// assert_eq!(b.policy().min_calls(), 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_default_policy(&self, policy: Policy) {
        let mut table = write(&self.inner.policies);
        table.default = policy;
        self.repoint(&table, |_| true);
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

    /// Declares that `dependent` depends on `dependency`: while `dependency` (or anything it
    /// depends on in turn) is `Open` within its open period, or `ForcedOpen`,
    /// [`Registry::call`] on `dependent` is refused with [`RegistryError::DependencyOpen`].
    /// Neither breaker needs to exist yet; a dependency that does not exist is not open.
    ///
    /// Only the registry's own calling methods check dependencies: [`Breaker::call`] on the
    /// handle returned by [`breaker`](Self::breaker) bypasses them.
    ///
    /// # Errors
    ///
    /// [`RegistryError::InvalidName`], or [`RegistryError::DependencyCycle`] if the
    /// declaration would close a cycle (a self-dependency included); nothing changes then.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// use fusebox_registry::RegistryError;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.depend("checkout", "payments")?;
    /// registry.depend("payments", "db")?;
    /// let err = registry.depend("db", "checkout").unwrap_err();
    /// assert!(matches!(err, RegistryError::DependencyCycle { .. }));
    /// assert_eq!(err.to_string(), "dependency cycle: db -> checkout -> payments -> db");
    /// # Ok::<(), RegistryError>(())
    /// ```
    pub fn depend(&self, dependent: &str, dependency: &str) -> Result<(), RegistryError> {
        check_name(dependent)?;
        check_name(dependency)?;
        let _writer = lock(&self.inner.deps_writer);
        let next = self.inner.deps.load().with_edge(dependent, dependency)?;
        self.set_deps(next);
        Ok(())
    }

    /// Withdraws a dependency; returns whether it was declared.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.depend("api", "db")?;
    /// assert!(registry.undepend("api", "db"));
    /// assert!(!registry.undepend("api", "db"));
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn undepend(&self, dependent: &str, dependency: &str) -> bool {
        let _writer = lock(&self.inner.deps_writer);
        match self.inner.deps.load().without_edge(dependent, dependency) {
            Some(next) => {
                self.set_deps(next);
                true
            }
            None => false,
        }
    }

    /// The direct dependencies of `name`, sorted.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.depend("api", "db")?;
    /// registry.depend("api", "cache")?;
    /// assert_eq!(registry.dependencies("api"), ["cache", "db"]);
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn dependencies(&self, name: &str) -> Vec<String> {
        self.inner
            .deps
            .load()
            .direct(name)
            .map(str::to_owned)
            .collect()
    }

    /// Checks the dependencies of `name`, directly or through other dependencies, nearest
    /// first. A refusal is counted in the breaker's
    /// [`Counters::dependency_rejected`] if it exists.
    ///
    /// # Errors
    ///
    /// [`RegistryError::DependencyOpen`] naming the first dependency found `Open` (with time
    /// left in its open period) or `ForcedOpen`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.depend("api", "db")?;
    /// assert!(registry.check_dependencies("api").is_ok());
    /// registry.breaker("db")?.force_open();
    /// assert!(registry.check_dependencies("api").is_err());
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    #[inline]
    pub fn check_dependencies(&self, name: &str) -> Result<(), RegistryError> {
        // Acquire: pairs with the Release in `set_deps`, so a caller that saw `depend` return
        // sees its graph below.
        if !self.inner.has_deps.load(Ordering::Acquire) {
            return Ok(());
        }
        self.check_dependencies_in(name)
    }

    /// The walk, kept out of line so that registries without dependencies inline only the
    /// flag check.
    #[inline(never)]
    fn check_dependencies_in(&self, name: &str) -> Result<(), RegistryError> {
        let graph = self.inner.deps.load();
        for dep in graph.all_dependencies(name) {
            let blocked = self.inner.map.get(&**dep).and_then(|slot| {
                let b = &slot.breaker;
                match b.state() {
                    State::ForcedOpen => Some((State::ForcedOpen, None)),
                    // An `Open` breaker whose period is over reads `Open` until its next
                    // acquire; it no longer holds its dependents back.
                    State::Open => match b.open_remaining() {
                        Some(left) if left.is_zero() => None,
                        left => Some((State::Open, left)),
                    },
                    _ => None,
                }
            });
            if let Some((state, retry_after)) = blocked {
                if let Some(slot) = self.inner.map.get(name) {
                    // Relaxed: a statistic.
                    slot.dependency_rejected.fetch_add(1, Ordering::Relaxed);
                }
                return Err(RegistryError::DependencyOpen {
                    dependent: name.to_owned(),
                    dependency: dep.to_string(),
                    state,
                    retry_after,
                });
            }
        }
        Ok(())
    }

    /// The breaker for `name` (created if needed) once its dependencies admit a call: what
    /// [`call`](Self::call) does before calling. Use it with the permit API.
    ///
    /// # Errors
    ///
    /// As for [`breaker`](Self::breaker) and [`check_dependencies`](Self::check_dependencies).
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// let breaker = registry.checked_breaker("api")?;
    /// if let Ok(permit) = breaker.try_acquire() {
    ///     permit.success();
    /// }
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    #[inline]
    pub fn checked_breaker(&self, name: &str) -> Result<Breaker, RegistryError> {
        let breaker = self.breaker(name)?;
        self.check_dependencies(name)?;
        Ok(breaker)
    }

    /// Runs `f` through the breaker `name` (created if needed) after checking its
    /// dependencies: `Ok` is recorded as a success, `Err` as a failure.
    ///
    /// # Errors
    ///
    /// [`RegistryCallError::Registry`] if the name is invalid, the registry is full or a
    /// dependency is open; [`RegistryCallError::Rejected`] if the breaker rejects the call;
    /// [`RegistryCallError::Failed`] with `f`'s own error. `f` runs only in the last case and
    /// on success.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// assert_eq!(registry.call("db", || Ok::<_, ()>(5)).unwrap(), 5);
    /// ```
    #[inline]
    pub fn call<T, E, F>(&self, name: &str, f: F) -> Result<T, RegistryCallError<E>>
    where
        F: FnOnce() -> Result<T, E>,
    {
        Ok(self.checked_breaker(name)?.call(f)?)
    }

    /// Like [`call`](Self::call), with `classify` deciding what the result means to the
    /// breaker (see [`Breaker::call_with`]).
    ///
    /// # Errors
    ///
    /// As for [`call`](Self::call).
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// let r = registry.call_with("http", || Err::<(), u16>(404), |_| Outcome::Ignored);
    /// assert_eq!(r.unwrap_err().into_failed(), Some(404));
    /// assert_eq!(registry.get("http").unwrap().metrics().ignored, 1);
    /// ```
    pub fn call_with<T, E, F, C>(
        &self,
        name: &str,
        f: F,
        classify: C,
    ) -> Result<T, RegistryCallError<E>>
    where
        F: FnOnce() -> Result<T, E>,
        C: Fn(&Result<T, E>) -> Outcome,
    {
        Ok(self.checked_breaker(name)?.call_with(f, classify)?)
    }

    /// Guards a future through the breaker `name` after checking its dependencies (see
    /// [`Breaker::call_async`]). The checks happen when the returned future is first polled.
    ///
    /// # Errors
    ///
    /// As for [`call`](Self::call).
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// let r = futures_executor::block_on(registry.call_async("db", async { Ok::<_, ()>(9) }));
    /// assert_eq!(r.unwrap(), 9);
    /// ```
    pub async fn call_async<T, E, F>(&self, name: &str, fut: F) -> Result<T, RegistryCallError<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        let breaker = self.checked_breaker(name)?;
        Ok(breaker.call_async(fut).await?)
    }

    /// Removes breakers unused for at least `older_than` that are `Closed` and held by nobody
    /// but the registry; returns how many. Call it periodically (every `older_than / 2`, say).
    ///
    /// "Used" means looked up ([`breaker`](Self::breaker), [`get`](Self::get),
    /// [`call`](Self::call)...) or having admitted or rejected a call. A use is dated to the
    /// pass that sees it, so a breaker goes between `older_than` and `older_than` plus two
    /// pass intervals after its last use, never earlier. A breaker someone holds a handle to
    /// is never removed, so it is never silently replaced by a fresh one. See [`docs`]
    /// (Pruning).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # use fusebox_engine::*;
    /// let clock = ManualClock::new();
    /// let registry = fusebox_registry::Registry::with_clock(Policy::default(), clock.clone());
    /// registry.breaker("tenant-1")?;
    /// let held = registry.breaker("tenant-2")?;
    /// clock.advance(Duration::from_secs(600));
    /// assert_eq!(registry.prune_idle(Duration::from_secs(300)), 1);
    /// assert_eq!(registry.names(), ["tenant-2"]);
    /// # drop(held);
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn prune_idle(&self, older_than: Duration) -> usize {
        let _pass = lock(&self.inner.pruning);
        let older_than = u64::try_from(older_than.as_nanos()).unwrap_or(u64::MAX);
        let now = self.inner.clock.now_nanos();
        let mut removed = 0;
        // `retain` holds each shard's write lock while it visits it: a lookup marks a slot
        // either before the visit (seen now) or after it (seen by the next pass).
        self.inner.map.retain(|_, slot| {
            let activity = slot.activity();
            let looked_up = std::mem::take(slot.looked_up.get_mut());
            if looked_up || activity != slot.activity {
                slot.activity = activity;
                slot.active_at = now;
                return true;
            }
            let idle = now.saturating_sub(slot.active_at) >= older_than;
            // The map holds one handle; a caller holding the breaker (or an owned permit)
            // holds another, and cannot get one from the map while `retain` holds this
            // shard's write lock.
            let prune =
                idle && slot.breaker.state() == State::Closed && slot.breaker.handle_count() == 1;
            removed += usize::from(prune);
            !prune
        });
        // Relaxed: see `remove`.
        self.inner.len.fetch_sub(removed, Ordering::Relaxed);
        removed
    }

    /// Swaps in a new dependency graph. Callers hold `deps_writer`.
    fn set_deps(&self, graph: DepGraph) {
        let any = !graph.is_empty();
        self.inner.deps.store(Arc::new(graph));
        // Release: publishes the graph stored above to `check_dependencies`.
        self.inner.has_deps.store(any, Ordering::Release);
    }

    /// Marks a slot as looked up since the last prune pass.
    #[inline(always)]
    fn touch(&self, slot: &Slot) {
        // Relaxed: the shard lock orders the mark with prune passes. The store is skipped
        // when the mark is already set, so hot lookups only read the slot.
        if !slot.looked_up.load(Ordering::Relaxed) {
            slot.looked_up.store(true, Ordering::Relaxed);
        }
    }

    #[cold]
    fn create(&self, name: &str) -> Result<Breaker, RegistryError> {
        check_name(name)?;
        if self.len() >= self.inner.capacity {
            // Full: fail before allocating anything, unless another thread just created it.
            return self.get(name).ok_or(RegistryError::Full {
                capacity: self.inner.capacity,
            });
        }
        let table = read(&self.inner.policies);
        self.get_or_create_in(&table, name)
    }

    /// Get-or-create under the policy table lock (read or write), so the new breaker starts
    /// with the policy the table resolves to while no one can change it.
    fn get_or_create_in(&self, table: &PolicyTable, name: &str) -> Result<Breaker, RegistryError> {
        match self.inner.map.entry(Arc::from(name)) {
            dashmap::Entry::Occupied(e) => {
                self.touch(e.get());
                Ok(e.get().breaker.clone())
            }
            dashmap::Entry::Vacant(v) => {
                let reserved = Reservation::take(&self.inner.len, self.inner.capacity).ok_or(
                    RegistryError::Full {
                        capacity: self.inner.capacity,
                    },
                )?;
                let key = v.key().clone();
                let policy = table.policy_for(name).clone();
                // The clock is the caller's code: if it panics, `reserved` gives the slot back.
                let breaker = self.inner.clock.new_breaker(key, policy);
                let now = self.inner.clock.now_nanos();
                v.insert(Slot::new(breaker.clone(), now));
                reserved.keep();
                Ok(breaker)
            }
        }
    }

    /// Gives every breaker whose name passes `filter` the policy `table` resolves for it,
    /// if that differs from the one it has.
    fn repoint(&self, table: &PolicyTable, filter: impl Fn(&str) -> bool) {
        for slot in self.inner.map.iter() {
            if !filter(slot.key()) {
                continue;
            }
            let policy = table.policy_for(slot.key());
            if *slot.breaker.policy() != *policy {
                slot.breaker.set_policy(policy.clone());
            }
        }
    }

    /// The breakers whose names pass `filter`, sorted by name.
    fn matching(&self, filter: impl Fn(&str) -> bool) -> Vec<Breaker> {
        let mut v: Vec<Breaker> = self
            .inner
            .map
            .iter()
            .filter(|e| filter(e.key()))
            .map(|e| e.breaker.clone())
            .collect();
        v.sort_unstable_by(|a, b| a.name().cmp(b.name()));
        v
    }
}

/// A place reserved in `len` for a breaker about to be inserted; given back when dropped
/// unless [`keep`](Self::keep) is called, so a panic between the two leaks no capacity.
struct Reservation<'a>(&'a AtomicUsize);

impl<'a> Reservation<'a> {
    /// Reserves a place if fewer than `capacity` are taken.
    fn take(len: &'a AtomicUsize, capacity: usize) -> Option<Self> {
        // Relaxed: `len` only bounds the map; the map's own locks publish its contents.
        len.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n < capacity).then_some(n + 1)
        })
        .ok()
        .map(|_| Reservation(len))
    }

    /// The breaker was inserted: the place stays taken.
    fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        // Relaxed: as in `take`.
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Default for Registry {
    /// `Registry::new(Policy::default())`.
    fn default() -> Self {
        Registry::new(Policy::default())
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("clock", &self.inner.clock.describe())
            .finish_non_exhaustive()
    }
}

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // Writers change the table in one assignment before re-pointing breakers, so a panic
    // while one holds the lock (only possible in a breaker's `set_policy`) leaves a whole
    // table; some breakers keep their old policy until the next change.
    l.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::panic::{RefUnwindSafe, UnwindSafe};

    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_handle<T: Clone + Send + Sync + 'static>() {}
    fn assert_unwind_safe<T: UnwindSafe + RefUnwindSafe>() {}

    #[test]
    fn registry_and_breakers_are_shareable_handles() {
        assert_handle::<Registry>();
        assert_unwind_safe::<Registry>();
        assert_handle::<Breaker>();
        assert_send_sync::<Group<'_>>();
        assert_send_sync::<Snapshot>();
    }

    #[test]
    fn a_registry_is_one_pointer() {
        assert_eq!(
            std::mem::size_of::<Registry>(),
            std::mem::size_of::<usize>()
        );
    }
}
