//! Chaos injection for [`Breaker::run`](crate::Breaker::run): which attempt of the seed's
//! sequence comes next. What an attempt gets is [`Chaos::attempt`], a pure function of the
//! seed and the attempt's index, so that a seed replays.
//!
//! [`Chaos::attempt`]: fusebox_policies::Chaos::attempt
//!
//! # Synchronization
//!
//! One counter of draws, `Extras::chaos_draws`, taken with a `Relaxed` `fetch_add` per attempt
//! while chaos is on: each attempt gets its own index, and the draws are a pure function of
//! the seed and that index (splitmix64), so they need no other state. The counter orders
//! nothing else. A swap to a policy with other chaos puts it back to 0 (`Relaxed` too), under
//! the breaker's `config_lock`, so a new experiment starts its sequence from the start; an
//! attempt racing the swap may draw from either sequence.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use fusebox_policies::ChaosAttempt;

use super::super::inner::Inner;

impl Inner {
    /// The plan for the next attempt under the policy in force: nothing without chaos (no
    /// clock read, no draw), nothing past its `until` (no draw), else two draws.
    pub(super) fn chaos_plan(&self) -> ChaosAttempt {
        let Some(chaos) = self.cold.policy.load().chaos().copied() else {
            return ChaosAttempt::default();
        };
        if chaos.until().is_some() && !chaos.is_on_at(SystemTime::now()) {
            return ChaosAttempt::default();
        }
        // Relaxed: see the module's notes.
        let index = self.extras().chaos_draws.fetch_add(1, Ordering::Relaxed);
        chaos.attempt(index)
    }

    /// Starts the draws again from the first: the policy's chaos changed. Callers hold
    /// `config_lock`.
    pub(in crate::breaker) fn restart_chaos_draws(&self) {
        if let Some(extras) = self.cold.extras.get() {
            // Relaxed: see the module's notes.
            extras.chaos_draws.store(0, Ordering::Relaxed);
        }
    }
}
