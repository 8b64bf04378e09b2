//! `fusebox serve --demo`: simulated traffic through real breakers on the real clock, so the
//! dashboard has something to show.
//!
//! Each breaker gets its own copy of a scenario's downstream (the built-in one by default:
//! healthy, then an outage, then a slow recovery), played in a loop and shifted in time so
//! that the breakers are not all in the same state at once. Calls arrive at a steady rate;
//! each admitted call waits out the downstream's latency (or the scenario's timeout, when it
//! hangs) in a task of its own and reports success or failure to its permit.

use std::time::Duration;

use fusebox::{Breaker, Registry};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::rng::SplitMix64;
use crate::scenario::{Behaviour, Scenario};

/// The breakers `--demo` creates when the config file names none.
pub const DEMO_BREAKERS: &[&str] = &["pay.stripe", "pay.adyen", "search.api"];

/// Calls per second sent through each breaker.
pub const CALLS_PER_SEC: u32 = 50;

/// Starts the traffic: one task per breaker in `names` (created in `registry`), on the
/// current tokio runtime. The traffic stops when the returned tasks are aborted or the
/// runtime ends.
///
/// # Errors
///
/// A breaker name the registry refuses.
pub fn start(
    registry: &Registry,
    names: &[String],
    scenario: &Scenario,
) -> Result<Vec<JoinHandle<()>>, String> {
    let cycle = scenario.load.duration.max(Duration::from_secs(1));
    let mut tasks = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let breaker = registry.breaker(name).map_err(|e| format!("--demo: {e}"))?;
        // Spread the breakers over the cycle: each starts at its own point of it.
        let offset = cycle.mul_f64(i as f64 / names.len() as f64);
        let seed = scenario.seed.wrapping_add(i as u64);
        tasks.push(tokio::spawn(drive(
            breaker,
            scenario.clone(),
            cycle,
            offset,
            seed,
        )));
    }
    Ok(tasks)
}

async fn drive(breaker: Breaker, scenario: Scenario, cycle: Duration, offset: Duration, seed: u64) {
    let mut rng = SplitMix64::new(seed);
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / CALLS_PER_SEC);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let at = duration_mod(start.elapsed() + offset, cycle);
        let Ok(permit) = breaker.try_acquire_owned() else {
            continue;
        };
        let (latency_draw, error_draw) = (rng.next_unit(), rng.next_unit());
        let timeout = scenario.load.timeout;
        let (wait, fails) = match scenario.behaviour_at(at) {
            Behaviour::Up(up) => (
                Duration::from_nanos(up.latency.sample_nanos(latency_draw)),
                error_draw < up.error_rate,
            ),
            Behaviour::Down { fail_after } => (fail_after.unwrap_or(timeout), true),
        };
        // A call that outlasts the caller's timeout is a failure at the timeout.
        let (wait, fails) = if wait > timeout {
            (timeout, true)
        } else {
            (wait, fails)
        };
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            if fails {
                permit.failure();
            } else {
                permit.success();
            }
        });
    }
}

fn duration_mod(t: Duration, cycle: Duration) -> Duration {
    Duration::from_nanos((t.as_nanos() % cycle.as_nanos().max(1)) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_wraps_around_the_cycle() {
        let s = Duration::from_secs;
        assert_eq!(duration_mod(s(75), s(60)), s(15));
        assert_eq!(duration_mod(s(5), s(60)), s(5));
    }

    #[tokio::test(start_paused = true)]
    async fn the_builtin_outage_trips_a_demo_breaker() {
        let registry = Registry::new(fusebox::Policy::default());
        let scenario = Scenario::builtin();
        let names = vec!["pay.stripe".to_owned()];
        let tasks = start(&registry, &names, &scenario).unwrap();
        let breaker = registry.get("pay.stripe").unwrap();
        // The built-in outage begins 20 s in; paused time runs as fast as the tasks allow.
        let mut tripped = false;
        for _ in 0..400 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if breaker
                .history()
                .iter()
                .any(|t| t.to == fusebox::State::Open)
            {
                tripped = true;
                break;
            }
        }
        for t in tasks {
            t.abort();
        }
        assert!(tripped, "{:?}", breaker.metrics());
        assert!(breaker.metrics().successes > 0);
    }
}
