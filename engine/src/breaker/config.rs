//! The hot configuration: the policy values a decision reads, copied into atomics so that no
//! call loads the policy itself, and read as one consistent [`Config`].
//!
//! # Synchronization
//!
//! [`HotConfig`] is a seqlock. The writer (a policy swap, under the breaker's `config_lock`, or
//! the breaker's construction) stores an odd `config_seq` (`Relaxed`), issues a `Release`
//! fence, stores every value (`Relaxed`) and then the next even `config_seq` (`Release`). A
//! reader ([`HotConfig::read`]) `Acquire`-loads an even `config_seq`, loads the values
//! (`Relaxed`), issues an `Acquire` fence and re-loads `config_seq`; if it is unchanged, no
//! store of a later write was read (the fence pairs with the writer's fence) and every store of
//! the write it saw was (the `Acquire` load pairs with the final `Release` store): every
//! decision uses one policy. A reader that needs a single value (the flags on the fast paths,
//! the half-open permits, the bulkhead, a full window's trip count) loads it on its own,
//! `Relaxed`, without the seqlock: one word is consistent by itself, and a swap racing with
//! the read may go either way.
//!
//! The `REEVALUATE` bit of the flags is also changed outside the seqlock, by `fetch_or` (the
//! swap that owes a re-evaluation) and `fetch_and` (the one recorder that takes it), both
//! `Relaxed`: the writer keeps an owed bit across its own store. So is the `RECORD` bit, by
//! `fetch_or` and `fetch_and` (`Relaxed`, see recording.rs) made under `config_lock`, which
//! every writer holds: the writer keeps it too, and no writer's store can race with it.

use fusebox_policies::{Policy, Recovery};

use super::flags::Flags;
use crate::clock::duration_nanos;
use crate::state::TransitionReason;
use crate::sync::{AtomicU32, AtomicU64, Ordering, fence};
use crate::window::Tally;

/// One consistent reading of the hot configuration (see [`HotConfig::read`]).
#[derive(Clone, Copy)]
pub(super) struct Config {
    pub(super) flags: Flags,
    pub(super) min_calls: u32,
    pub(super) consecutive: u32,
    pub(super) success_threshold: u32,
    pub(super) failure_threshold: f64,
    /// For a count window: its size and the failures that trip it when full (see
    /// [`trip_full`]).
    pub(super) trip_full: u64,
    pub(super) slow_threshold: f64,
    pub(super) slow_nanos: u64,
}

/// The policy's hot values in atomics, under a seqlock (see the module docs). `flags` comes
/// first: the fast paths read it right after the state word, which precedes this in `Hot`.
#[repr(C)]
pub(super) struct HotConfig {
    /// [`Flags`] bits: which optional rules are on.
    flags: AtomicU32,
    /// Seqlock over the configuration values: odd while a swap writes them.
    config_seq: AtomicU32,
    min_calls: AtomicU32,
    consecutive: AtomicU32,
    half_open_permits: AtomicU32,
    success_threshold: AtomicU32,
    max_concurrent: AtomicU32,
    /// The rate limit's burst (see rate.rs); read with `rate_interval`, each on its own.
    rate_burst: AtomicU32,
    failure_threshold: AtomicU64,
    /// `size << 32 | failures`: a full count window of `size` trips at `failures`, the least
    /// count whose rate meets the threshold, worked out once per policy so that judging a full
    /// window compares integers (a division costs ~15 cycles on the path to the next call).
    /// 0 for a time window.
    trip_full: AtomicU64,
    slow_threshold: AtomicU64,
    slow_nanos: AtomicU64,
    /// The rate limit's emission interval in ns (the time one call uses up; see rate.rs).
    rate_interval: AtomicU64,
}

impl HotConfig {
    /// All zero: no rule on, until the first [`load`](Self::load).
    pub(super) fn new() -> Self {
        HotConfig {
            flags: AtomicU32::new(0),
            config_seq: AtomicU32::new(0),
            min_calls: AtomicU32::new(0),
            consecutive: AtomicU32::new(0),
            half_open_permits: AtomicU32::new(0),
            success_threshold: AtomicU32::new(0),
            max_concurrent: AtomicU32::new(0),
            rate_burst: AtomicU32::new(1),
            failure_threshold: AtomicU64::new(0),
            trip_full: AtomicU64::new(0),
            slow_threshold: AtomicU64::new(0),
            slow_nanos: AtomicU64::new(0),
            rate_interval: AtomicU64::new(0),
        }
    }

    /// The rules `policy` switches on, for a breaker made striped if `striped`.
    pub(super) fn rules(policy: &Policy, striped: bool) -> Flags {
        let mut flags = Flags::NONE;
        if policy.slow_calls().is_some() {
            flags = flags.union(Flags::SLOW);
        }
        if policy.consecutive_failures() > 0 {
            flags = flags.union(Flags::CONSECUTIVE);
        }
        if policy.max_concurrent().is_some() {
            flags = flags.union(Flags::BULKHEAD);
        }
        if let Some(limit) = policy.adaptive_limit() {
            flags = flags.union(Flags::BULKHEAD).union(Flags::ADAPTIVE);
            if limit.algorithm != fusebox_policies::LimitAlgorithm::Aimd {
                flags = flags.union(Flags::ADAPTIVE_TIMED);
            }
        }
        if matches!(policy.recovery(), Recovery::Ramp { .. }) {
            flags = flags.union(Flags::RAMP);
        }
        if policy.latency_histogram() {
            flags = flags.union(Flags::LATENCY);
        }
        if policy.rate_limit().is_some() {
            flags = flags.union(Flags::RATE_LIMIT);
        }
        if striped
            && !flags.intersects(Flags::SLOW.union(Flags::CONSECUTIVE))
            && matches!(policy.window(), fusebox_policies::Window::Count { size } if size <= 128)
        {
            flags = flags.union(Flags::STRIPED);
        }
        flags
    }

    /// Copies the hot values of `policy`, with `rules` (from [`rules`](Self::rules)) as its
    /// flags, into the atomics: the seqlock's writer. Callers hold the breaker's
    /// `config_lock` or own the breaker exclusively.
    pub(super) fn load(&self, policy: &Policy, rules: Flags) {
        // Seqlock write: the odd sequence number, then a Release fence, keeps every value
        // below from being seen by a reader that then sees the sequence unchanged.
        let seq = self.config_seq.load(Ordering::Relaxed);
        self.config_seq
            .store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        self.min_calls.store(policy.min_calls(), Ordering::Relaxed);
        self.consecutive
            .store(policy.consecutive_failures(), Ordering::Relaxed);
        self.half_open_permits
            .store(policy.half_open_permits(), Ordering::Relaxed);
        self.success_threshold
            .store(policy.success_threshold(), Ordering::Relaxed);
        self.max_concurrent.store(
            policy.max_concurrent().unwrap_or(u32::MAX),
            Ordering::Relaxed,
        );
        self.failure_threshold
            .store(policy.failure_rate_threshold().to_bits(), Ordering::Relaxed);
        self.trip_full.store(trip_full(policy), Ordering::Relaxed);
        if let Some(limit) = policy.rate_limit() {
            // At least 1 ns: an interval of 0 would admit everything.
            let interval = duration_nanos(limit.emission_interval()).max(1);
            self.rate_interval.store(interval, Ordering::Relaxed);
            self.rate_burst
                .store(limit.burst().max(1), Ordering::Relaxed);
        }
        if let Some(slow) = policy.slow_calls() {
            self.slow_nanos
                .store(duration_nanos(slow.duration), Ordering::Relaxed);
            self.slow_threshold
                .store(slow.rate.to_bits(), Ordering::Relaxed);
        }
        // A re-evaluation still owed from an earlier swap stays owed, and recording stays on.
        let owed = Flags::from_bits(self.flags.load(Ordering::Relaxed))
            .intersection(Flags::REEVALUATE.union(Flags::RECORD));
        self.flags
            .store(rules.union(owed).bits(), Ordering::Relaxed);
        // Release: publishes the values above to readers that Acquire the sequence.
        self.config_seq
            .store(seq.wrapping_add(2), Ordering::Release);
    }

    /// One consistent reading of the configuration: every value from the same policy (the
    /// seqlock's reader). The closed-success fast path reads [`flags`](Self::flags) alone and
    /// needs none of this.
    #[inline]
    pub(super) fn read(&self) -> Config {
        loop {
            // Acquire: pairs with the writer's final Release store of the sequence.
            let seq = self.config_seq.load(Ordering::Acquire);
            if seq & 1 == 1 {
                crate::sync::spin();
                continue;
            }
            // Relaxed reads, validated by the sequence check below.
            let c = Config {
                flags: Flags::from_bits(self.flags.load(Ordering::Relaxed)),
                min_calls: self.min_calls.load(Ordering::Relaxed),
                consecutive: self.consecutive.load(Ordering::Relaxed),
                success_threshold: self.success_threshold.load(Ordering::Relaxed),
                failure_threshold: f64::from_bits(self.failure_threshold.load(Ordering::Relaxed)),
                trip_full: self.trip_full.load(Ordering::Relaxed),
                slow_threshold: f64::from_bits(self.slow_threshold.load(Ordering::Relaxed)),
                slow_nanos: self.slow_nanos.load(Ordering::Relaxed),
            };
            // Acquire fence: orders the reads above before the re-check of the sequence.
            fence(Ordering::Acquire);
            if self.config_seq.load(Ordering::Relaxed) == seq {
                return c;
            }
        }
    }

    /// The rules in force, read on their own.
    #[inline(always)]
    pub(super) fn flags(&self) -> Flags {
        // Relaxed: the flags are plain configuration; a swap racing with us may go either way.
        Flags::from_bits(self.flags.load(Ordering::Relaxed))
    }

    /// The half-open probe slots, read on their own.
    #[inline(always)]
    pub(super) fn half_open_permits(&self) -> u32 {
        // Relaxed: one value on its own, no seqlock needed (see the module docs).
        self.half_open_permits.load(Ordering::Relaxed)
    }

    /// The rate limit's emission interval (ns) and burst, each read on its own: a swap racing
    /// with an admission can at worst decide that one admission on a mix of the two limits.
    #[inline]
    pub(super) fn rate_limit(&self) -> (u64, u32) {
        // Relaxed: see above and the module docs.
        (
            self.rate_interval.load(Ordering::Relaxed),
            self.rate_burst.load(Ordering::Relaxed),
        )
    }

    /// The static bulkhead's limit, read on its own (`u32::MAX` for an adaptive one, whose
    /// limit is the adaptive limiter's).
    #[inline(always)]
    pub(super) fn max_concurrent(&self) -> u32 {
        // Relaxed: one value on its own, no seqlock needed (see the module docs).
        self.max_concurrent.load(Ordering::Relaxed)
    }

    /// A full count window's trip word (see [`trip_full`]), read on its own.
    #[inline(always)]
    pub(super) fn trip_full(&self) -> u64 {
        // Relaxed: one word, consistent by itself; a swap racing with us may go either way.
        self.trip_full.load(Ordering::Relaxed)
    }

    /// Owes a re-evaluation: the next outcome is judged even if it changes no count.
    pub(super) fn owe_reevaluation(&self) {
        // Relaxed: like the other hot values (see the module docs).
        self.flags
            .fetch_or(Flags::REEVALUATE.bits(), Ordering::Relaxed);
    }

    /// Switches the `RECORD` bit on or off. Callers hold the breaker's `config_lock`, as a
    /// policy swap's [`load`](Self::load) does, so neither loses the other's bits.
    pub(super) fn set_recording(&self, on: bool) {
        // Relaxed: the bit publishes nothing; the recorder it leads to is published by its
        // `ArcSwap` (see recording.rs). A call racing with the switch may go either way.
        if on {
            self.flags.fetch_or(Flags::RECORD.bits(), Ordering::Relaxed);
        } else {
            self.flags
                .fetch_and(!Flags::RECORD.bits(), Ordering::Relaxed);
        }
    }

    /// Takes an owed re-evaluation: true for the one caller that clears the bit.
    #[inline]
    pub(super) fn take_reevaluation(&self) -> bool {
        // Relaxed: only one recorder needs to win the re-evaluation.
        Flags::from_bits(
            self.flags
                .fetch_and(!Flags::REEVALUATE.bits(), Ordering::Relaxed),
        )
        .contains(Flags::REEVALUATE)
    }
}

/// Whether a window with tally `t` trips a breaker under `config`, and why.
pub(super) fn judge(t: Tally, config: &Config) -> Option<TransitionReason> {
    if t.calls < config.min_calls || t.calls == 0 {
        return None;
    }
    let calls = t.calls as f64;
    // Division, not multiplication: `f / n >= threshold` rounds the rate exactly as the
    // threshold's decimal was rounded, so 7 failures in 10 calls meet a 0.7 threshold.
    // A full count window compares with the count worked out the same way beforehand.
    let failing = if t.calls as u64 == config.trip_full >> 32 {
        t.failures as u64 >= config.trip_full & u64::from(u32::MAX)
    } else {
        t.failures > 0 && t.failures as f64 / calls >= config.failure_threshold
    };
    if failing {
        Some(TransitionReason::FailureRate)
    } else if config.flags.contains(Flags::SLOW)
        && t.slow > 0
        && t.slow as f64 / calls >= config.slow_threshold
    {
        Some(TransitionReason::SlowCallRate)
    } else {
        None
    }
}

/// `size << 32 | failures` for `policy`'s count window (see `HotConfig::trip_full`); 0 for a
/// time window. A valid policy's `min_calls` is at most a count window's size, so a full
/// window is always judged.
pub(super) fn trip_full(policy: &Policy) -> u64 {
    let fusebox_policies::Window::Count { size } = policy.window() else {
        return 0;
    };
    let threshold = policy.failure_rate_threshold();
    // The least f with f / size >= threshold, by the very comparison `judge` makes,
    // searched upwards from just below threshold × size; a threshold is at most 1, so
    // f = size always qualifies.
    let from = ((threshold * size as f64).floor() as u32)
        .saturating_sub(1)
        .clamp(1, size);
    let failures = (from..=size)
        .find(|&f| f as f64 / size as f64 >= threshold)
        .unwrap_or(size);
    (size as u64) << 32 | failures as u64
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use fusebox_policies::Window;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    #[test]
    fn the_full_window_trip_count_agrees_with_the_division() {
        // Fewer sizes under Miri, which interprets every step.
        let sizes: &[u32] = if cfg!(miri) {
            &[1, 3, 10, 100]
        } else {
            &[1, 2, 3, 7, 10, 64, 100, 101, 1000, 4096]
        };
        for &size in sizes {
            for threshold in [
                0.01,
                0.1,
                0.2,
                0.25,
                0.3,
                1.0 / 3.0,
                0.5,
                0.6,
                0.7,
                0.99,
                1.0,
            ] {
                let policy = Policy::builder()
                    .window(Window::count(size))
                    .min_calls(1)
                    .failure_rate_threshold(threshold)
                    .build()
                    .unwrap();
                let packed = trip_full(&policy);
                let least = (1..=size)
                    .find(|&f| f as f64 / size as f64 >= threshold)
                    .unwrap();
                assert_eq!(packed >> 32, size as u64);
                assert_eq!(packed & 0xffff_ffff, least as u64, "{size} at {threshold}");
            }
        }
        let time = Policy::builder()
            .window(Window::time(Duration::from_secs(10), 10))
            .build()
            .unwrap();
        assert_eq!(trip_full(&time), 0);
    }

    /// The values of `c` that come from the policy (the flags' owed bit aside).
    fn values(c: &Config) -> (u32, u32, u32, u32, u64, u64, u64, u64) {
        (
            c.flags.bits() & !Flags::REEVALUATE.bits(),
            c.min_calls,
            c.consecutive,
            c.success_threshold,
            c.failure_threshold.to_bits(),
            c.trip_full,
            c.slow_threshold.to_bits(),
            c.slow_nanos,
        )
    }

    #[test]
    fn a_read_never_mixes_two_policies() {
        let a = Policy::builder()
            .window(Window::count(20))
            .min_calls(5)
            .failure_rate_threshold(0.5)
            .consecutive_failures(3)
            .success_threshold(2)
            .slow_calls(Duration::from_millis(250), 0.4)
            .build()
            .unwrap();
        let b = Policy::builder()
            .window(Window::count(100))
            .min_calls(50)
            .failure_rate_threshold(0.9)
            .success_threshold(1)
            .slow_calls(Duration::from_secs(2), 0.8)
            .build()
            .unwrap();
        let config = HotConfig::new();
        config.load(&a, HotConfig::rules(&a, false));
        let expect_a = values(&config.read());
        config.load(&b, HotConfig::rules(&b, false));
        let expect_b = values(&config.read());
        assert_ne!(expect_a, expect_b);
        assert_eq!(expect_a.1, 5);
        assert_eq!(expect_b.1, 50);
        let rounds = if cfg!(miri) { 20 } else { 20_000 };
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..rounds {
                    let p = if i % 2 == 0 { &a } else { &b };
                    config.load(p, HotConfig::rules(p, false));
                }
                done.store(true, std::sync::atomic::Ordering::Relaxed);
            });
            let mut reads = 0u64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) || reads == 0 {
                let got = values(&config.read());
                assert!(
                    got == expect_a || got == expect_b,
                    "a read mixed two policies: {got:?}"
                );
                reads += 1;
            }
        });
    }

    #[test]
    fn an_owed_reevaluation_survives_a_load_and_is_taken_once() {
        let config = HotConfig::new();
        let p = Policy::default();
        config.load(&p, HotConfig::rules(&p, false));
        config.owe_reevaluation();
        config.load(&p, HotConfig::rules(&p, false));
        assert!(config.flags().contains(Flags::REEVALUATE));
        assert!(config.take_reevaluation());
        assert!(!config.take_reevaluation());
        assert!(!config.read().flags.contains(Flags::REEVALUATE));
    }
}
