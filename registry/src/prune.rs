//! Pruning: removing breakers that are idle, `Closed` and held by nobody but the registry.
//!
//! # Synchronization
//!
//! - One pass at a time: `pruning` is a `Mutex` held for the whole pass.
//! - A pass visits each map shard under its write lock (`retain`): a lookup marks an entry
//!   either before the visit (seen by this pass) or after it (seen by the next), and no lookup
//!   can hand out a handle while the pass reads the breaker's handle count.
//! - `len` is decremented (`Relaxed`) by the number removed once the pass is over; see
//!   `lookup.rs` for why `Relaxed` suffices.

use std::sync::atomic::Ordering;
use std::time::Duration;

use fusebox_engine::State;

use crate::{Registry, lock};

impl Registry {
    /// Removes breakers unused for at least `older_than` that are `Closed` and held by nobody
    /// but the registry; returns how many. Call it periodically (every `older_than / 2`, say).
    ///
    /// "Used" means looked up ([`breaker`](Self::breaker), [`get`](Self::get),
    /// [`call`](Self::call)...) or having admitted or rejected a call. A use is dated to the
    /// pass that sees it, so a breaker goes between `older_than` and `older_than` plus two
    /// pass intervals after its last use, never earlier. A breaker someone holds a handle to
    /// is never removed, so it is never silently replaced by a fresh one. See [`docs`](crate::docs)
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
        self.inner.map.retain(|slot, ()| {
            let Some(idle_for) = slot.idle_for(now) else {
                return true;
            };
            let idle = idle_for >= older_than;
            // The map holds one handle; a caller holding the breaker (or an owned permit)
            // holds another, and cannot get one from the map while `retain` holds this
            // shard's write lock.
            let prune =
                idle && slot.breaker.state() == State::Closed && slot.breaker.handle_count() == 1;
            if prune {
                // Under the shard's write lock, before the name can be made again (see
                // refusals.rs).
                self.inner.refusals.forget(slot.name());
                removed += 1;
            }
            !prune
        });
        // Relaxed: see `remove`.
        self.inner.len.fetch_sub(removed, Ordering::Relaxed);
        removed
    }
}
