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
//!
//! # Synchronization
//!
//! Every `std` lock is taken poison-tolerantly (the map's shard locks do not poison).
//!
//! - **Map shards** (`map`, a `DashMap`: an `RwLock` per shard, keyed by entries that hash
//!   and compare as their breaker's name, slot.rs): a lookup holds one shard's read lock, and
//!   a dependency check one at a time; creation (through `entry`, once the breaker is made)
//!   and removal hold the shard's write lock. Listings, re-pointing, group metrics and snapshots go
//!   through the map shard by shard under read locks, and a prune pass under write locks
//!   (`retain`). Group actions act on a copy of the handles, with no lock held.
//! - **Policy table** (`policies`, an `RwLock`): held for reading by creators, while they
//!   resolve a new breaker's policy and insert it, and by the table's readers and snapshots.
//!   Policy changes (config files included), `chaos_off`, `record`, `stop_recording` and
//!   `restore` hold it for writing while they change the table (or the recording) and apply
//!   the change to the breakers (policy.rs, recording/).
//! - **`deps_writer`** (a `Mutex`) serializes dependency changes. A check reads the graph
//!   without a lock: it `Acquire`-loads `has_deps`, which each change `Release`-stores after
//!   swapping the new graph into `deps` (an `ArcSwap`), then loads the graph (deps.rs).
//! - **`pruning`** (a `Mutex`) is held for a whole prune pass: one pass at a time.
//! - **Refusals** (`refusals`, a `Mutex` over the dependency refusals by dependent): a count
//!   is raised under its breaker's shard lock (read) and dropped with its breaker under the
//!   shard's write lock; readers take it alone (refusals.rs).
//! - **Extensions** (a `Mutex` over the map of values, held to find or make one): among the
//!   values, the manual actions' generations (a `Mutex` held across one breaker's action,
//!   manual.rs) and the fleet-scope hook (a `Mutex` held to set or upgrade it).
//!
//! Lock order: policy table, then map shards, then a breaker's own locks; map shards, then
//! refusals; policy table, then `deps_writer` (only `restore` holds both, and no shard lock
//! meanwhile); `pruning`, then map shards; the generations' mutex, then a breaker's own locks.
//! The only caller code run under a registry lock is the clock (on a breaker's creation, and
//! as a prune pass starts) and an extension's initializer (under the extensions' mutex).
//!
//! `len` (breakers in the map plus places reserved by creators) is `Relaxed`: it only bounds
//! the map, whose shard locks publish its contents (lookup.rs). An entry's use mark is
//! `Relaxed` too (slot.rs).
//!
//! [`Breaker`]: fusebox_engine::Breaker
//! [`Breaker::call`]: fusebox_engine::Breaker::call

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use arc_swap::ArcSwap;
use crossbeam_utils::CachePadded;
use dashmap::DashMap;
use fusebox_engine::{Policy, TransitionFeed};

mod builder;
mod call;
mod chaos;
mod config;
mod deps;
pub mod docs;
mod error;
mod events;
mod extensions;
mod fleet_scope;
mod group;
mod lookup;
mod manual;
mod name;
mod policy;
mod prometheus;
mod prune;
mod recording;
mod refusals;
#[cfg(feature = "tokio")]
mod run;
mod slot;
mod snapshot;
mod table;

pub use builder::RegistryBuilder;
pub use error::{CheckError, RegistryCallError, RegistryError};
pub use fleet_scope::{FleetOverride, FleetScope, FleetScopeError, FleetScopeFuture};
pub use fusebox_engine::Counters;
pub use fusebox_policies::{ConfigError, RecordConfig, RegistryConfig};
pub use group::{Group, GroupMetrics};
pub use manual::{ManualAction, TTL_EXPIRED_NOTE, UnknownAction};
pub use recording::{RecordedCall, RecordedOutcome};
#[cfg(feature = "tokio")]
pub use run::FailoverError;
pub use snapshot::{BreakerSnapshot, SNAPSHOT_VERSION, Snapshot};
pub use table::PolicySource;

use builder::ClockHandle;
use deps::DepGraph;
use slot::Slot;
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
/// `&self`. Breakers are handed out as [`Breaker`](fusebox_engine::Breaker) handles too.
///
/// A registry is also `UnwindSafe` and `RefUnwindSafe`: a panic inside
/// [`std::panic::catch_unwind`] (around a reload, say) leaves it consistent. Its locks recover
/// from poisoning, policy tables and dependency graphs are replaced whole, and a breaker
/// creation that panics (in a caller's [`Clock`](fusebox_engine::Clock)) gives its capacity
/// back.
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
    /// The breakers, each in the [`Slot`] that is its key (see slot.rs).
    map: DashMap<Slot, (), Hasher>,
    /// The default and the policies set by name. Lock order: this lock, then map shards.
    /// Creators hold it for reading, so a breaker is never created from a stale table.
    policies: RwLock<PolicyTable>,
    deps: ArcSwap<DepGraph>,
    /// Whether `deps` has an edge: lets calls skip the graph load when none was declared.
    has_deps: AtomicBool,
    /// Serializes dependency changes (each builds a new graph from the current one).
    deps_writer: Mutex<()>,
    /// Calls refused because a dependency was open, by dependent (refusals.rs). Lock order:
    /// map shard, then this.
    refusals: refusals::Refusals,
    clock: Box<dyn ClockHandle>,
    capacity: usize,
    /// Whether new breakers are made striped ([`RegistryBuilder::striped`]).
    striped: bool,
    /// Whether new breakers are made compact ([`RegistryBuilder::compact`]).
    compact: bool,
    /// Breakers in the map, plus slots reserved by creators about to insert. Written on
    /// creation and removal only, so kept off the line lookups read.
    len: CachePadded<AtomicUsize>,
    /// One prune pass at a time.
    pruning: Mutex<()>,
    /// Every breaker's transitions, for `subscribe` (events.rs).
    feed: TransitionFeed,
    /// Integrations' per-registry values (extensions.rs).
    extensions: extensions::Extensions,
    /// Which breakers record their calls, and into what (recording/).
    recording: recording::RecordingState,
}

// A registry keeps its invariants across a panic, so a handle may cross `catch_unwind`
// (reloads are often wrapped in one): its `std` locks are taken poison-tolerantly; the policy
// table and the dependency graph are replaced whole, never left half-written; a capacity
// place reserved for a breaker whose creation panics is given back (`Reservation`); and no
// caller code runs under a map shard lock but the clock, on creation. The map's shard locks
// and the type-erased clock are what the compiler cannot see through.
impl std::panic::RefUnwindSafe for RegistryInner {}

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
            .field("striped", &self.inner.striped)
            .field("compact", &self.inner.compact)
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

    use fusebox_engine::Breaker;

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
