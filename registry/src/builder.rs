//! Making a registry: [`RegistryBuilder`] (default policy, clock, capacity, shards) and the
//! type-erased clock the registry and its breakers run on.
//!
//! # Synchronization
//!
//! None of its own: a builder is a plain value, and `build` makes the registry's locks and
//! atomics (listed in [`docs`](crate::docs), Locking) before anyone can share it.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex, RwLock};

use arc_swap::ArcSwap;
use crossbeam_utils::CachePadded;
use dashmap::DashMap;
use fusebox_engine::{BreakerBuilder, Clock, Policy, QuantaClock, TransitionFeed};

use crate::deps::DepGraph;
use crate::table::PolicyTable;
use crate::{Hasher, Registry, RegistryInner};

/// The registry's clock, type-erased: it reads the time and gives each new breaker a clone.
pub(crate) trait ClockHandle: Send + Sync {
    fn now_nanos(&self) -> u64;
    /// `builder` on a clone of the clock.
    fn on_clock(&self, builder: BreakerBuilder) -> BreakerBuilder;
    fn describe(&self) -> String;
}

pub(crate) struct HeldClock<C>(pub(crate) C);

impl<C: Clock + Clone> ClockHandle for HeldClock<C> {
    fn now_nanos(&self) -> u64 {
        self.0.now_nanos()
    }

    fn on_clock(&self, builder: BreakerBuilder) -> BreakerBuilder {
        builder.clock(self.0.clone())
    }

    fn describe(&self) -> String {
        std::any::type_name::<C>().to_owned()
    }
}

/// Options for a [`Registry`]: its clock, its capacity, its shards and whether its breakers
/// are striped or compact.
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
    striped: bool,
    compact: bool,
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
    /// [`RegistryError::Full`](crate::RegistryError::Full), so names derived from untrusted
    /// input cannot exhaust memory. Unlimited by default.
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

    /// Makes every breaker the registry creates striped
    /// ([`Breaker::striped`](fusebox_engine::Breaker::striped)): each calling thread records
    /// into a window of its own, with no locked instruction on a call, and a breaker opens on
    /// the failure rate of one thread's last calls instead of all threads'. For registries
    /// whose breakers many threads call at once. Off by default.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::builder(Policy::default())
    ///     .clock(ManualClock::new())
    ///     .striped()
    ///     .build();
    /// assert!(registry.is_striped());
    /// assert!(registry.breaker("hot")?.is_striped());
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn striped(mut self) -> Self {
        self.striped = true;
        self
    }

    /// Makes every breaker the registry creates compact
    /// ([`BreakerBuilder::compact`](fusebox_engine::BreakerBuilder::compact)): packed into less
    /// memory, without the cache-line isolation that keeps threads calling one breaker at
    /// once from slowing each other. For registries of many mostly idle breakers, one per
    /// tenant or per host. Off by default.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::builder(Policy::default())
    ///     .clock(ManualClock::new())
    ///     .compact()
    ///     .build();
    /// assert!(registry.is_compact());
    /// assert!(registry.breaker("tenant-42")?.is_compact());
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn compact(mut self) -> Self {
        self.compact = true;
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
                refusals: Default::default(),
                clock: self.clock,
                capacity: self.capacity,
                striped: self.striped,
                compact: self.compact,
                len: CachePadded::new(AtomicUsize::new(0)),
                pruning: Mutex::new(()),
                feed: TransitionFeed::new(),
                extensions: Default::default(),
                recording: Default::default(),
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
            .field("striped", &self.striped)
            .field("compact", &self.compact)
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

    /// Options beyond the default policy: clock, capacity, shards, striping, packing.
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
            striped: false,
            compact: false,
        }
    }
}
