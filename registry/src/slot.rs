//! A map entry: a breaker's handle and what the registry tracks about its use (the prune
//! pass's marks and the dependency-refusal count).
//!
//! # Synchronization
//!
//! An entry lives in a map shard: lookups reach it under the shard's read lock, prune passes
//! under its write lock (through `retain`, which gives `&mut` access).
//! - `looked_up` and `dependency_rejected` are `Relaxed` atomics: a use mark that the shard
//!   lock orders with prune passes, and a statistic. Neither publishes anything.
//! - `activity` and `active_at` are plain: only prune passes read or write them, with the
//!   exclusive access `retain` gives.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use fusebox_engine::Breaker;

/// A map entry: the breaker and what the registry tracks about its use.
pub(crate) struct Slot {
    pub(crate) breaker: Breaker,
    /// Looked up since the last prune pass (see "Pruning" in [`docs`](crate::docs)).
    pub(crate) looked_up: AtomicBool,
    /// `admitted + rejected + dependency_rejected` as the last prune pass saw it. Plain:
    /// only prune passes touch it, through `retain`'s exclusive access.
    pub(crate) activity: u64,
    /// Clock time (ns) of creation or of the last prune pass that saw the breaker in use.
    pub(crate) active_at: u64,
    /// Calls [`Registry::call`] refused because a dependency was open.
    pub(crate) dependency_rejected: AtomicU64,
}

impl Slot {
    pub(crate) fn new(breaker: Breaker, now: u64) -> Self {
        Slot {
            breaker,
            looked_up: AtomicBool::new(false),
            activity: 0,
            active_at: now,
            dependency_rejected: AtomicU64::new(0),
        }
    }

    /// What the breaker has done that marks it as in use: calls admitted or rejected, by
    /// it or, for its dependencies, by the registry.
    pub(crate) fn activity(&self) -> u64 {
        let m = self.breaker.metrics();
        // Relaxed: a statistic.
        m.admitted
            .wrapping_add(m.rejected)
            .wrapping_add(self.dependency_rejected.load(Ordering::Relaxed))
    }

    /// Marks the slot as looked up since the last prune pass.
    #[inline(always)]
    pub(crate) fn touch(&self) {
        // Relaxed: the shard lock orders the mark with prune passes. The store is skipped
        // when the mark is already set, so hot lookups only read the slot.
        if !self.looked_up.load(Ordering::Relaxed) {
            self.looked_up.store(true, Ordering::Relaxed);
        }
    }
}
