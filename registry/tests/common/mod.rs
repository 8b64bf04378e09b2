//! What the registry's test files share: calls under load while something else changes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

use fusebox_registry::{Registry, RegistryCallError};

/// What [`calls_under_changes`] saw.
#[derive(Debug)]
pub struct CallsSeen {
    /// Calls each of the two threads made.
    pub per_thread: [u64; 2],
    /// Calls that returned `Ok`.
    pub successes: u64,
    /// Calls that returned the closure's own error.
    pub failures: u64,
    /// Changes applied.
    pub changes: u64,
}

impl CallsSeen {
    /// All calls made.
    pub fn calls(&self) -> u64 {
        self.per_thread.iter().sum()
    }

    /// The failures the pattern of [`calls_under_changes`] makes: thread `t` fails its calls
    /// numbered `i` with `(i + t) % 4 == 0`.
    pub fn expected_failures(&self) -> u64 {
        (0..2u64)
            .map(|t| {
                (0..self.per_thread[t as usize])
                    .filter(|i| (i + t) % 4 == 0)
                    .count() as u64
            })
            .sum()
    }
}

/// Two threads call `names[t]` through `registry`, failing one call in four (thread `t` its
/// calls numbered `i` with `(i + t) % 4 == 0`), while a third runs `change(1)`, `change(2)`,
/// ... until they are done. Each caller makes at least `calls` calls and calls on until
/// `changes` changes have been applied, so that fast calls cannot all finish before the first
/// change. A rejection panics.
pub fn calls_under_changes(
    registry: &Registry,
    names: [&str; 2],
    calls: u64,
    changes: u64,
    change: impl Fn(u64) + Sync,
) -> CallsSeen {
    let done = AtomicBool::new(false);
    let applied = AtomicU64::new(0);
    let (successes, failures) = (AtomicU64::new(0), AtomicU64::new(0));
    let per_thread = thread::scope(|s| {
        let callers: Vec<_> = (0..2u64)
            .map(|t| {
                let (successes, failures, applied) = (&successes, &failures, &applied);
                let name = names[t as usize];
                s.spawn(move || {
                    let mut i = 0u64;
                    // Relaxed: counters, read once the threads are joined.
                    while i < calls || applied.load(Ordering::Relaxed) < changes {
                        let fail = (i + t).is_multiple_of(4);
                        match registry.call(name, || if fail { Err(()) } else { Ok(()) }) {
                            Ok(()) => successes.fetch_add(1, Ordering::Relaxed),
                            Err(RegistryCallError::Failed(())) => {
                                failures.fetch_add(1, Ordering::Relaxed)
                            }
                            Err(e) => panic!("unexpected: {e:?}"),
                        };
                        i += 1;
                    }
                    i
                })
            })
            .collect();
        s.spawn(|| {
            let mut i = 0;
            while !done.load(Ordering::Relaxed) {
                i += 1;
                change(i);
                applied.store(i, Ordering::Relaxed);
                thread::yield_now();
            }
        });
        let joined: Vec<_> = callers.into_iter().map(|c| c.join()).collect();
        // Stopped before a caller's panic is passed on, or the scope would wait on the changer.
        done.store(true, Ordering::Relaxed);
        let per_thread: Vec<u64> = joined.into_iter().map(|j| j.unwrap()).collect();
        [per_thread[0], per_thread[1]]
    });
    CallsSeen {
        per_thread,
        successes: successes.into_inner(),
        failures: failures.into_inner(),
        changes: applied.into_inner(),
    }
}
