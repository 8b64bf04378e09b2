//! Chaos injection for [`Breaker::run`](crate::Breaker::run): what the policy's `chaos` does
//! to one attempt, drawn from a counter-based generator so that a seed replays.
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
use std::time::{Duration, SystemTime};

use fusebox_policies::Chaos;

use super::super::inner::Inner;

/// What chaos does to one attempt.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Plan {
    /// A wait before the call, inside the attempt's timeout.
    pub(super) delay: Option<Duration>,
    /// The call is not made: the attempt fails with kind `"chaos"`.
    pub(super) fault: bool,
}

impl Inner {
    /// The plan for the next attempt under the policy in force: nothing without chaos (no
    /// clock read, no draw), nothing past its `until` (no draw), else two draws.
    pub(super) fn chaos_plan(&self) -> Plan {
        let Some(chaos) = self.cold.policy.load().chaos().copied() else {
            return Plan::default();
        };
        if chaos.until().is_some() && !chaos.is_on_at(SystemTime::now()) {
            return Plan::default();
        }
        // Relaxed: see the module's notes.
        let index = self.extras().chaos_draws.fetch_add(1, Ordering::Relaxed);
        plan(&chaos, index)
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

/// The plan of attempt number `index` under `chaos`: two draws of the seed's sequence, one for
/// the latency and one for the fault.
fn plan(chaos: &Chaos, index: u64) -> Plan {
    let latency_draw = unit(draw(chaos.seed(), index.wrapping_mul(2)));
    let fault_draw = unit(draw(chaos.seed(), index.wrapping_mul(2).wrapping_add(1)));
    Plan {
        delay: chaos
            .latency()
            .filter(|_| latency_draw < chaos.latency_rate()),
        fault: fault_draw < chaos.fault_rate(),
    }
}

/// Number `n` of splitmix64's sequence from `seed`: counter-based, so any draw is computed
/// from its index alone.
fn draw(seed: u64, n: u64) -> u64 {
    let mut z = seed.wrapping_add(n.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The top 53 bits of `x` as a number in [0, 1).
fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_its_reference_values() {
        // The first outputs of splitmix64 seeded with 0 (Vigna's reference implementation).
        assert_eq!(draw(0, 0), 0xe220_a839_7b1d_cdaf);
        assert_eq!(draw(0, 1), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn rates_of_0_and_1_are_never_and_always() {
        let never = Chaos::new().with_latency(Duration::from_millis(5), 0.0);
        let always = Chaos::new()
            .with_fault_rate(1.0)
            .with_latency(Duration::from_millis(5), 1.0);
        for i in 0..1000 {
            assert_eq!(plan(&never, i), Plan::default());
            assert_eq!(
                plan(&always, i),
                Plan {
                    delay: Some(Duration::from_millis(5)),
                    fault: true
                }
            );
        }
    }

    #[test]
    fn the_share_of_faults_is_close_to_the_rate() {
        let chaos = Chaos::new().with_fault_rate(0.1).with_seed(7);
        let faults = (0..100_000).filter(|&i| plan(&chaos, i).fault).count();
        assert!((9_500..10_500).contains(&faults), "{faults}");
        let other = Chaos::new().with_fault_rate(0.1).with_seed(8);
        assert!((0..64).any(|i| plan(&chaos, i) != plan(&other, i)));
    }
}
