//! Count and time windows driven through the public API: outcomes recorded into a
//! `MetricsOnly` breaker (which records but never changes state), window shapes swapped and
//! reset, the clock moved; after every step the breaker's window figures must equal a naive
//! recount of every outcome recorded since the window was last emptied.

#![no_main]

use std::time::Duration;

use arbitrary::{Result, Unstructured};
use fusebox_engine::{Breaker, Clock, ManualClock, Outcome, Policy, State, Window};
use libfuzzer_sys::fuzz_target;

/// Far from the clock's origin: a time window cleared within its first span after the origin
/// is a known engine bug (`time_window_cleared_early_keeps_counting` in engine/tests/model.rs).
const START: Duration = Duration::from_secs(1000);
const SLOW: Duration = Duration::from_millis(100);
const MAX_OPS: usize = 2000;

fn nanos(d: Duration) -> u64 {
    d.as_nanos() as u64
}

fn shape(u: &mut Unstructured<'_>) -> Result<Window> {
    Ok(if u.arbitrary()? {
        Window::count(u.int_in_range(1..=200)?)
    } else {
        let buckets = u.int_in_range(1..=16)?;
        let span_ms = u.int_in_range(buckets as u64..=60_000)?;
        Window::time(Duration::from_millis(span_ms), buckets)
    })
}

fn policy(window: Window, slow_rule: bool) -> Policy {
    let b = Policy::builder().window(window).min_calls(1);
    let b = if slow_rule {
        b.slow_calls(SLOW, 0.5)
    } else {
        b
    };
    b.build().expect("valid window policy")
}

/// Every outcome since the window was last emptied: (clock time, failure, slow).
struct Naive {
    window: Window,
    outcomes: Vec<(u64, bool, bool)>,
}

impl Naive {
    /// Forgets outcomes that can never be in the window again (the clock only moves ahead).
    fn prune(&mut self, now: u64) {
        match self.window {
            Window::Count { size } => {
                let excess = self.outcomes.len().saturating_sub(size as usize);
                self.outcomes.drain(..excess);
            }
            Window::Time { span, buckets } => {
                let width = (nanos(span) / buckets as u64).max(1);
                self.outcomes
                    .retain(|(t, _, _)| t / width + buckets as u64 > now / width);
            }
        }
    }

    /// (calls, failures, slow) in the window at `now`.
    fn tally(&self, now: u64) -> (u64, u64, u64) {
        let live: Vec<&(u64, bool, bool)> = match self.window {
            Window::Count { size } => {
                let skip = self.outcomes.len().saturating_sub(size as usize);
                self.outcomes[skip..].iter().collect()
            }
            Window::Time { span, buckets } => {
                let width = (nanos(span) / buckets as u64).max(1);
                let current = now / width;
                self.outcomes
                    .iter()
                    .filter(|(t, _, _)| t / width + buckets as u64 > current)
                    .collect()
            }
        };
        (
            live.len() as u64,
            live.iter().filter(|o| o.1).count() as u64,
            live.iter().filter(|o| o.2).count() as u64,
        )
    }
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let slow_rule: bool = u.arbitrary()?;
    let first = shape(u)?;
    let clock = ManualClock::new();
    clock.set(START);
    let b = Breaker::with_clock("window", policy(first, slow_rule), clock.clone());
    b.metrics_only();
    let mut naive = Naive {
        window: first,
        outcomes: Vec::new(),
    };
    let mut recorded = 0u64;
    let mut ops = 0;
    while !u.is_empty() && ops < MAX_OPS {
        ops += 1;
        match u.int_in_range(0u8..=19)? {
            0..=13 => {
                let outcome = match u.int_in_range(0u8..=9)? {
                    0..=4 => Outcome::Success,
                    5..=8 => Outcome::Failure,
                    _ => Outcome::Ignored,
                };
                let took = Duration::from_millis(u.int_in_range(0..=150)?);
                let permit = b.try_acquire().expect("metrics-only admits everything");
                clock.advance(took);
                permit.record(outcome);
                if outcome != Outcome::Ignored {
                    let slow = slow_rule && took >= SLOW;
                    let now = nanos(clock.now());
                    naive
                        .outcomes
                        .push((now, outcome == Outcome::Failure, slow));
                    recorded += 1;
                }
            }
            14..=16 => {
                let by = if u.arbitrary()? {
                    Duration::from_millis(u.int_in_range(0..=5_000)?)
                } else {
                    Duration::from_secs(u.int_in_range(1..=120)?)
                };
                clock.advance(by);
            }
            17..=18 => {
                let next = shape(u)?;
                b.set_policy(policy(next, slow_rule));
                if next != naive.window {
                    naive.outcomes.clear();
                    naive.window = next;
                }
            }
            _ => {
                // A reset empties the window; the lifetime counters keep counting.
                b.reset();
                b.metrics_only();
                naive.outcomes.clear();
            }
        }
        let m = b.metrics();
        let now = nanos(clock.now());
        naive.prune(now);
        assert_eq!(m.state, State::MetricsOnly);
        assert_eq!(
            (m.window_calls, m.window_failures, m.window_slow),
            naive.tally(now),
            "window {:?} after {ops} ops",
            naive.window
        );
        assert_eq!(m.successes + m.failures, recorded);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
