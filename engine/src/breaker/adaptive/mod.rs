//! The adaptive bulkhead: the limit admissions read, and how completed calls move it.
//!
//! - word.rs: the three words, packed and unpacked.
//! - algorithm.rs: AIMD, Gradient2 and Vegas as pure functions of a window and the previous
//!   state.
//!
//! Each call that completes on a breaker with an adaptive limit (a permit holding a bulkhead
//! slot, recorded as a success or a failure; ignored calls and a disabled breaker's calls are
//! no samples) adds itself to the window word: one call, a drop if it failed (timeouts are
//! failures), busy if the calls in flight as it completed were at least half the limit, and,
//! if it was timed, its latency from its acquire. The call that fills the window
//! ([`WINDOW_CALLS`](word::WINDOW_CALLS) calls) takes it whole and recomputes the limit.
//!
//! **Which calls are timed.** AIMD reads no clock. Gradient2 and Vegas need a round-trip
//! time, which costs a clock read at acquire and one at completion; each thread times one
//! of every [`TIMED_EVERY`] admissions it makes (a thread-local count, no shared atomic), so
//! a window of 32 calls averages 4 timed ones, and the clock costs a quarter of a read per
//! call. A window with no timed call keeps its limit but for its drops. Every call still
//! counts as a drop or not: an overload shows in the next window whether or not it was timed.
//! A permit timed for another rule (a slow-call rule, the latency histogram) always gives
//! its latency.
//!
//! # Synchronization
//!
//! - **Window word** (`window`): changed only by `compare_exchange` from the value read to
//!   [`word::add`]'s: each call is in exactly one window, and the one exchange that fills a
//!   window also empties the word, so exactly one thread owns each window. `Relaxed`: the
//!   word is counts, and publishes nothing.
//! - **Limit word** (`limit`): admissions and samplers load it `Relaxed` (a number on its own;
//!   a recompute racing with them may go either way). A window's owner loads it `Acquire`,
//!   reads the parameters, computes, and replaces it by `compare_exchange` (`AcqRel`; on
//!   failure it computes again from the word found), so owners of windows closed at once
//!   each apply theirs, none lost. A policy swap (under `config_lock`) stores the parameters
//!   and then a reset limit word of the next generation with `Release`: an owner that
//!   acquires a word of that generation reads those parameters, and one still computing from
//!   the older generation fails its exchange (the generation differs) and starts again.
//! - `windows` and `probed_at` are `Relaxed` counts that only owners and swaps touch: a
//!   stale value moves one Vegas probe by a window.

mod algorithm;
mod word;

use fusebox_policies::{AdaptiveLimit, MAX_CONCURRENT};

use super::flags::Flags;
use super::inner::Inner;
use super::permit::NOT_TIMED;
use crate::error::Outcome;
use crate::sync::{AtomicU64, Ordering};
use algorithm::{LimitState, WindowSamples};

/// Gradient2 and Vegas time one admission in this many per thread (every one in loom
/// models, which run their threads on one OS thread).
#[cfg(not(loom))]
pub(crate) const TIMED_EVERY: u32 = 8;
/// Gradient2 and Vegas time one admission in this many per thread (every one in loom
/// models, which run their threads on one OS thread).
#[cfg(loom)]
pub(crate) const TIMED_EVERY: u32 = 1;

std::thread_local! {
    /// Admissions this thread made on breakers whose adaptive limit reads latency.
    static ADMISSIONS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Whether this thread times the admission it is making for an adaptive limit: one in
/// [`TIMED_EVERY`], counted per thread over every such breaker.
#[inline]
pub(super) fn time_this_admission() -> bool {
    ADMISSIONS.with(|n| {
        let next = n.get().wrapping_add(1);
        n.set(next);
        next % TIMED_EVERY == 0
    })
}

/// The adaptive limit's state, in a breaker's extras.
pub(super) struct AdaptiveLimiter {
    /// The limit word (word.rs): the limit in force, the algorithm's RTT, the generation.
    limit: AtomicU64,
    /// The window word (word.rs): the calls of the window being filled.
    window: AtomicU64,
    /// The parameters word (word.rs): the algorithm and its bounds; 0 until configured.
    params: AtomicU64,
    /// Windows closed since the breaker was made.
    windows: AtomicU64,
    /// Calls completed (windows closed × window size) when Vegas last measured its no-load
    /// RTT again.
    probed_at: AtomicU64,
}

impl Default for AdaptiveLimiter {
    /// Not configured: a limit of `MAX_CONCURRENT`, which an admission racing with the swap
    /// that switches the limit on may read once.
    fn default() -> Self {
        let unlimited = LimitState {
            limit: f64::from(MAX_CONCURRENT),
            rtt: 0.0,
        };
        AdaptiveLimiter {
            limit: AtomicU64::new(word::pack_limit(unlimited, 0)),
            window: AtomicU64::new(0),
            params: AtomicU64::new(0),
            windows: AtomicU64::new(0),
            probed_at: AtomicU64::new(0),
        }
    }
}

impl AdaptiveLimiter {
    /// The limit in force.
    #[inline(always)]
    pub(super) fn limit(&self) -> u32 {
        // Relaxed: one number on its own (see the module's notes).
        word::limit_of(self.limit.load(Ordering::Relaxed))
    }

    /// Starts `limit` from its `initial`. Called under `config_lock` (or before the breaker
    /// is shared), before the flags that switch the limit on are stored.
    fn configure(&self, limit: &AdaptiveLimit) {
        // Relaxed: published by the Release store of the limit word below.
        self.params
            .store(word::pack_params(limit), Ordering::Relaxed);
        // Relaxed: only owners and writers touch it; a stale value delays one probe.
        self.probed_at.store(
            self.windows.load(Ordering::Relaxed) * u64::from(word::WINDOW_CALLS),
            Ordering::Relaxed,
        );
        let generation = word::generation_of(self.limit.load(Ordering::Relaxed)).wrapping_add(1);
        let initial = LimitState {
            limit: f64::from(limit.initial),
            rtt: 0.0,
        };
        // Release: a window's owner that acquires this word (or one made from it) reads the
        // parameters stored above.
        self.limit
            .store(word::pack_limit(initial, generation), Ordering::Release);
    }

    /// Adds one completed call; returns the window it filled, if it did, to this caller
    /// alone.
    #[inline]
    fn add(&self, sample: u64) -> Option<WindowSamples> {
        // Relaxed: see the module's notes.
        let mut current = self.window.load(Ordering::Relaxed);
        loop {
            let (next, full) = word::add(current, sample);
            match self.window.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return full,
                Err(actual) => current = actual,
            }
        }
    }

    /// The owner of a full window recomputes the limit from it.
    #[cold]
    fn close(&self, w: &WindowSamples) {
        // Relaxed: owners only number windows with it.
        let closed = self.windows.fetch_add(1, Ordering::Relaxed) + 1;
        let calls = closed * u64::from(word::WINDOW_CALLS);
        // Acquire: pairs with `configure`'s Release store (continued by owners' exchanges),
        // so the parameters read below are at least as new as this word's generation.
        let mut current = self.limit.load(Ordering::Acquire);
        loop {
            // Relaxed: ordered after the Acquire load of the limit word (see above).
            let Some((algorithm, bounds)) =
                word::unpack_params(self.params.load(Ordering::Relaxed))
            else {
                return;
            };
            let (state, generation) = word::unpack_limit(current);
            // Relaxed: see the field.
            let since_probe = calls.saturating_sub(self.probed_at.load(Ordering::Relaxed));
            let (next, probed) = algorithm::next(algorithm, state, w, since_probe, bounds);
            // AcqRel: Acquire the configuration published with the word replaced, Release
            // it to the next owner. Acquire on failure: compute again from the word found.
            match self.limit.compare_exchange_weak(
                current,
                word::pack_limit(next, generation),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if probed {
                        // Relaxed: see the field.
                        self.probed_at.store(calls, Ordering::Relaxed);
                    }
                    #[cfg(loom)]
                    assert_eq!(w.calls, word::WINDOW_CALLS, "a window is taken whole");
                    return;
                }
                Err(actual) => current = actual,
            }
        }
    }

    /// Loom models only: windows closed, and calls in the window being filled.
    #[cfg(loom)]
    pub(super) fn loom_windows(&self) -> (u64, u32) {
        (
            // SeqCst: read by a model after its threads joined.
            self.windows.load(Ordering::SeqCst),
            word::window(self.window.load(Ordering::SeqCst)).calls,
        )
    }
}

impl Inner {
    /// The adaptive limiter, once a policy with an adaptive limit has made the extras.
    #[inline(always)]
    pub(super) fn adaptive(&self) -> Option<&AdaptiveLimiter> {
        self.cold.extras.get().map(|e| &e.adaptive)
    }

    /// The adaptive limit in force (`MAX_CONCURRENT` before one is configured).
    #[inline(always)]
    pub(super) fn adaptive_limit(&self) -> u32 {
        self.adaptive()
            .map_or(MAX_CONCURRENT, AdaptiveLimiter::limit)
    }

    /// A permit holding a bulkhead slot completed with `outcome` on a breaker whose flags
    /// `flags` include an adaptive limit, with `in_flight` slots out as it completed (its own
    /// included): one sample of the limit's window.
    #[inline(never)]
    pub(super) fn sample_limit(&self, flags: Flags, start: u64, outcome: Outcome, in_flight: u32) {
        let drop = match outcome {
            Outcome::Success => false,
            Outcome::Failure => true,
            Outcome::Ignored => return,
        };
        let Some(limiter) = self.adaptive() else {
            return;
        };
        // Untimed: AIMD, an admission this thread did not time, or a permit acquired before
        // the limit needed the clock.
        let latency = (flags.contains(Flags::ADAPTIVE_TIMED) && start != NOT_TIMED)
            .then(|| self.cold.clock.now().saturating_sub(start));
        let busy = u64::from(in_flight) * 2 >= u64::from(limiter.limit());
        if let Some(w) = limiter.add(word::sample(drop, busy, latency)) {
            limiter.close(&w);
        }
    }

    /// The adaptive limit's part of loading `policy` (at construction or in a policy swap,
    /// under `config_lock`), before its flags are stored; `flags` are the rules in force
    /// until then. A swap that keeps the very same adaptive limit keeps what it learned; any
    /// other adaptive limit starts from its `initial`.
    pub(super) fn configure_adaptive(&self, policy: &fusebox_policies::Policy, flags: Flags) {
        let Some(limit) = policy.adaptive_limit() else {
            return;
        };
        // In a swap the policy in force is still the old one; at construction the flags are
        // all clear.
        if flags.contains(Flags::ADAPTIVE)
            && self.cold.policy.load().adaptive_limit() == Some(limit)
        {
            return;
        }
        self.extras().adaptive.configure(&limit);
    }
}
