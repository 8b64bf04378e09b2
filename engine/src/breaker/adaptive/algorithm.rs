//! The adaptive limit's algorithms as pure functions: one closed window's aggregates and the
//! state the previous window left give the next state. No atomics here; mod.rs carries the
//! state from window to window.
//!
//! The formulas are those of Netflix's `concurrency-limits` (`AIMDLimit`, `VegasLimit`,
//! `Gradient2Limit`), fed once per window as its `WindowedLimit` feeds them: the window's
//! mean round-trip time, whether any call in it was a drop, and whether calls in flight came
//! near the limit (`in_flight · 2 ≥ limit`, the test those limits make before growing).
//! Gradient2 is changed to react to drops (see [`gradient2`]).

use fusebox_policies::LimitAlgorithm;

/// AIMD's and the drop rule's multiplicative decrease.
pub(crate) const BACKOFF: f64 = 0.9;
/// Gradient2: the long-run RTT may exceed the window's by this factor before the limit falls.
pub(crate) const GRADIENT_TOLERANCE: f64 = 1.5;
/// Gradient2: the weight of each window's new limit against the previous one.
pub(crate) const GRADIENT_SMOOTHING: f64 = 0.2;
/// Gradient2: the long-run RTT is an exponential average over about this many windows.
pub(crate) const GRADIENT_LONG_WINDOWS: f64 = 600.0;
/// Vegas: the no-load RTT is re-measured once this many calls per unit of limit have
/// completed since the last time (`probeMultiplier` in `concurrency-limits`).
pub(crate) const VEGAS_PROBE_MULTIPLIER: f64 = 30.0;

/// What one closed window of completed calls held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct WindowSamples {
    /// Completed calls (successes and drops).
    pub(crate) calls: u32,
    /// Calls that failed or timed out.
    pub(crate) drops: u32,
    /// Calls that completed with in-flight calls at least half the limit.
    pub(crate) busy: u32,
    /// Calls whose latency was measured (none for AIMD, which reads no clock; one admission
    /// in [`TIMED_EVERY`](super::TIMED_EVERY) per thread for Gradient2 and Vegas).
    pub(crate) timed: u32,
    /// The sum of the timed calls' latencies, in clock nanoseconds.
    pub(crate) latency_nanos: u64,
}

impl WindowSamples {
    /// The mean round-trip time of the window's timed calls in nanoseconds, at least 1 (a
    /// manual clock that never moves measures 0); `None` if no call was timed.
    pub(crate) fn rtt(&self) -> Option<f64> {
        (self.timed > 0).then(|| (self.latency_nanos as f64 / f64::from(self.timed)).max(1.0))
    }
}

/// What one window hands the next: the limit, kept fractional so that smoothing and
/// ×0.9 steps accumulate, and the algorithm's round-trip time (Gradient2's long-run average,
/// Vegas's no-load RTT; 0 before the first window and for AIMD).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LimitState {
    pub(crate) limit: f64,
    pub(crate) rtt: f64,
}

/// The range the limit is clamped to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bounds {
    pub(crate) min: f64,
    pub(crate) max: f64,
}

impl Bounds {
    fn clamp(self, limit: f64) -> f64 {
        limit.max(self.min).min(self.max)
    }
}

/// The next state after window `w`. `calls_since_probe` is the number of calls completed
/// since Vegas last re-measured its no-load RTT (the others ignore it); the result says
/// whether this window re-measured it.
pub(crate) fn next(
    algorithm: LimitAlgorithm,
    s: LimitState,
    w: &WindowSamples,
    calls_since_probe: u64,
    bounds: Bounds,
) -> (LimitState, bool) {
    match algorithm {
        LimitAlgorithm::Aimd => (aimd(s, w, bounds), false),
        LimitAlgorithm::Gradient2 => (gradient2(s, w, bounds), false),
        LimitAlgorithm::Vegas => vegas(s, w, calls_since_probe, bounds),
    }
}

/// Whether calls in flight came near the limit in `w`: otherwise the caller, not the
/// dependency, limits the load, and the limit must not drift up.
fn busy(w: &WindowSamples) -> bool {
    w.busy > 0
}

/// AIMD: a window with a drop multiplies the limit by 0.9; one without, in which calls in
/// flight came near the limit, adds 1; any other leaves it.
pub(crate) fn aimd(s: LimitState, w: &WindowSamples, bounds: Bounds) -> LimitState {
    let limit = if w.drops > 0 {
        s.limit * BACKOFF
    } else if busy(w) {
        s.limit + 1.0
    } else {
        s.limit
    };
    LimitState {
        limit: bounds.clamp(limit),
        rtt: s.rtt,
    }
}

/// Gradient2, with the window's mean RTT as the short one:
///
/// - the long RTT is an exponential average of the windows' RTTs (factor 2 / (600 + 1);
///   the first window sets it), cut by 5 % when it is more than twice the short one, so it
///   comes back down after a long spell of high latency;
/// - if calls in flight stayed under half the limit, the limit stays;
/// - else `gradient = clamp(1.5 · long / short, 0.5, 1)`, `new = limit · gradient +
///   √limit` (the queue allowance), and the limit moves a fifth of the way to `new`.
///
/// **The fix**: the published algorithm reads latency alone, so a dependency whose every call
/// times out at the same latency looks healthy (gradient 1) and the limit climbs to `max`.
/// Here a window with any drop multiplies the limit by 0.9, as AIMD does, and leaves the long
/// RTT as it was (a timed-out call's latency is the timeout, not the dependency's).
///
/// A window with no timed call (each thread times one admission in
/// [`TIMED_EVERY`](super::TIMED_EVERY)) has no RTT: the limit stays, but for the drop rule.
pub(crate) fn gradient2(s: LimitState, w: &WindowSamples, bounds: Bounds) -> LimitState {
    if w.drops > 0 {
        return LimitState {
            limit: bounds.clamp(s.limit * BACKOFF),
            rtt: s.rtt,
        };
    }
    let Some(short) = w.rtt() else {
        return s;
    };
    let mut long = if s.rtt > 0.0 {
        let factor = 2.0 / (GRADIENT_LONG_WINDOWS + 1.0);
        s.rtt * (1.0 - factor) + short * factor
    } else {
        short
    };
    if long / short > 2.0 {
        long *= 0.95;
    }
    if !busy(w) {
        return LimitState {
            limit: s.limit,
            rtt: long,
        };
    }
    let gradient = (GRADIENT_TOLERANCE * long / short).clamp(0.5, 1.0);
    let new = s.limit * gradient + s.limit.sqrt();
    let smoothed = s.limit * (1.0 - GRADIENT_SMOOTHING) + new * GRADIENT_SMOOTHING;
    LimitState {
        limit: bounds.clamp(smoothed),
        rtt: long,
    }
}

/// `max(1, ⌊log10(limit)⌋)`, the unit of Vegas's thresholds and steps: the integer part's
/// digits less one, counted exactly (a float `log10` may land a hair below a power of ten).
fn log10(limit: f64) -> f64 {
    // The cast saturates (and maps NaN to 0); `checked_ilog10` is `None` only for 0.
    let digits = (limit as u64).checked_ilog10().unwrap_or(0);
    f64::from(digits.max(1))
}

/// Vegas, with the window's mean RTT as the RTT:
///
/// - once `30 · limit` calls have completed since the last measure, the no-load RTT is set to
///   this window's (a probe: the least RTT seen may be stale) and the limit stays;
/// - a window faster than the no-load RTT (or the first) sets it, and the limit stays;
/// - a window with a drop: `limit − log10(limit)`;
/// - calls in flight under half the limit: the limit stays;
/// - else, with `queue = ⌈limit · (1 − no_load / rtt)⌉` and `L = log10(limit)`: `queue ≤ L`
///   adds `6·L`, `queue < 3·L` adds `L`, `queue > 6·L` subtracts `L`, else the limit stays.
///
/// `log10` is `max(1, ⌊log10(limit)⌋)`. A window with no timed call has no RTT: only its
/// drops count (`limit − log10(limit)`), and a probe waits for a window that has one.
pub(crate) fn vegas(
    s: LimitState,
    w: &WindowSamples,
    calls_since_probe: u64,
    bounds: Bounds,
) -> (LimitState, bool) {
    let Some(rtt) = w.rtt() else {
        let limit = if w.drops > 0 {
            s.limit - log10(s.limit)
        } else {
            s.limit
        };
        return (
            LimitState {
                limit: bounds.clamp(limit),
                rtt: s.rtt,
            },
            false,
        );
    };
    if s.rtt > 0.0 && calls_since_probe as f64 >= VEGAS_PROBE_MULTIPLIER * s.limit {
        return (
            LimitState {
                limit: s.limit,
                rtt,
            },
            true,
        );
    }
    if s.rtt == 0.0 || rtt < s.rtt {
        return (
            LimitState {
                limit: s.limit,
                rtt,
            },
            false,
        );
    }
    let unit = log10(s.limit);
    let limit = if w.drops > 0 {
        s.limit - unit
    } else if !busy(w) {
        s.limit
    } else {
        let queue = (s.limit * (1.0 - s.rtt / rtt)).ceil();
        if queue <= unit {
            s.limit + 6.0 * unit
        } else if queue < 3.0 * unit {
            s.limit + unit
        } else if queue > 6.0 * unit {
            s.limit - unit
        } else {
            s.limit
        }
    };
    (
        LimitState {
            limit: bounds.clamp(limit),
            rtt: s.rtt,
        },
        false,
    )
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds {
        min: 4.0,
        max: 200.0,
    };

    fn state(limit: f64, rtt: f64) -> LimitState {
        LimitState { limit, rtt }
    }

    /// A window of 32 calls of `rtt_ms` each, `drops` of them dropped, busy or not.
    fn window(rtt_ms: u64, drops: u32, busy: bool) -> WindowSamples {
        WindowSamples {
            calls: 32,
            drops,
            busy: if busy { 32 } else { 0 },
            timed: 32,
            latency_nanos: 32 * rtt_ms * 1_000_000,
        }
    }

    #[test]
    fn aimd_adds_one_when_busy_and_backs_off_on_a_drop() {
        assert_eq!(
            aimd(state(20.0, 0.0), &window(0, 0, true), BOUNDS).limit,
            21.0
        );
        assert_eq!(
            aimd(state(20.0, 0.0), &window(0, 0, false), BOUNDS).limit,
            20.0
        );
        assert_eq!(
            aimd(state(20.0, 0.0), &window(0, 1, true), BOUNDS).limit,
            18.0
        );
        assert_eq!(
            aimd(state(200.0, 0.0), &window(0, 0, true), BOUNDS).limit,
            200.0
        );
        assert_eq!(
            aimd(state(4.2, 0.0), &window(0, 5, true), BOUNDS).limit,
            4.0
        );
        // From the top, every window dropping: down to min and no further.
        let mut s = state(200.0, 0.0);
        for _ in 0..100 {
            s = aimd(s, &window(0, 32, true), BOUNDS);
        }
        assert_eq!(s.limit, 4.0);
    }

    #[test]
    fn gradient2_holds_at_a_steady_latency_and_falls_when_it_rises() {
        // The first window sets the long RTT; at a steady RTT the gradient is 1 and the
        // limit grows by a fifth of √limit.
        let s = gradient2(state(100.0, 0.0), &window(10, 0, true), BOUNDS);
        assert_eq!(s.rtt, 10e6);
        assert!((s.limit - (100.0 + 0.2 * 10.0)).abs() < 1e-9, "{s:?}");
        // Latency doubles: gradient 0.75, new = 75 + 10, smoothed 0.8 · 100 + 0.2 · 85 = 97.
        let s = gradient2(state(100.0, 10e6), &window(20, 0, true), BOUNDS);
        assert!((s.limit - 97.0).abs() < 0.1, "{s:?}");
        // Not busy: the limit stays, the long RTT still moves.
        let s = gradient2(state(100.0, 10e6), &window(20, 0, false), BOUNDS);
        assert_eq!(s.limit, 100.0);
        assert!(s.rtt > 10e6);
    }

    #[test]
    fn gradient2_falls_to_min_when_every_call_times_out_at_a_flat_latency() {
        // The published algorithm: latency flat, so gradient 1 and the limit climbs. With the
        // fix every window of timeouts (drops) backs off instead.
        let mut s = state(20.0, 0.0);
        for _ in 0..200 {
            s = gradient2(s, &window(1000, 32, true), BOUNDS);
        }
        assert_eq!(s.limit, 4.0);
        // The same windows without the drops climb to max, as the published one does.
        let mut s = state(20.0, 0.0);
        for _ in 0..2000 {
            s = gradient2(s, &window(1000, 0, true), BOUNDS);
        }
        assert_eq!(s.limit, 200.0);
    }

    #[test]
    fn gradient2_cuts_a_long_rtt_far_above_the_short_one() {
        let s = gradient2(state(50.0, 100e6), &window(10, 0, false), BOUNDS);
        let averaged = 100e6 * (1.0 - 2.0 / 601.0) + 10e6 * (2.0 / 601.0);
        assert!((s.rtt - averaged * 0.95).abs() < 1.0, "{s:?}");
    }

    #[test]
    fn vegas_first_measures_then_grows_without_queueing_and_shrinks_with_it() {
        // First window: the no-load RTT is set, the limit stays.
        let (s, probed) = vegas(state(20.0, 0.0), &window(10, 0, true), 0, BOUNDS);
        assert_eq!((s.limit, s.rtt, probed), (20.0, 10e6, false));
        // No queueing (queue 0 ≤ log10 20 = 1): + 6.
        let (s, _) = vegas(s, &window(10, 0, true), 32, BOUNDS);
        assert_eq!(s.limit, 26.0);
        // A little queueing: queue ⌈26 · (1 − 10/11)⌉ = 3, not < 3, not > 6: stays.
        let (same, _) = vegas(s, &window(11, 0, true), 64, BOUNDS);
        assert_eq!(same.limit, 26.0);
        // queue ⌈26 · (1 − 100/105)⌉ = 2 < 3: + 1.
        let (up, _) = vegas(state(26.0, 100.0), &window(0, 0, true), 0, BOUNDS);
        assert_eq!(up.limit, 26.0, "an RTT below no-load resets it instead");
        let w = WindowSamples {
            latency_nanos: 32 * 105,
            ..window(0, 0, true)
        };
        assert_eq!(vegas(state(26.0, 100.0), &w, 0, BOUNDS).0.limit, 27.0);
        // Latency doubles: queue 13 > 6: − 1.
        let (down, _) = vegas(s, &window(20, 0, true), 96, BOUNDS);
        assert_eq!(down.limit, 25.0);
        // A drop: − log10.
        let (dropped, _) = vegas(s, &window(10, 1, true), 96, BOUNDS);
        assert_eq!(dropped.limit, 25.0);
        // Not busy: stays.
        let (idle, _) = vegas(s, &window(20, 0, false), 96, BOUNDS);
        assert_eq!(idle.limit, 26.0);
    }

    #[test]
    fn vegas_steps_grow_with_log10_of_the_limit() {
        assert_eq!(log10(4.0), 1.0);
        assert_eq!(log10(99.0), 1.0);
        assert_eq!(log10(100.0), 2.0);
        let (s, _) = vegas(state(150.0, 10e6), &window(10, 0, true), 0, BOUNDS);
        assert_eq!(s.limit, 162.0);
        let (s, _) = vegas(state(150.0, 10e6), &window(30, 0, true), 0, BOUNDS);
        assert_eq!(s.limit, 148.0);
    }

    #[test]
    fn vegas_reprobes_the_no_load_rtt() {
        let s = state(20.0, 10e6);
        let (same, probed) = vegas(s, &window(50, 0, true), 599, BOUNDS);
        assert!(!probed);
        assert_eq!(same.rtt, 10e6);
        let (reset, probed) = vegas(s, &window(50, 0, true), 600, BOUNDS);
        assert!(probed);
        assert_eq!((reset.limit, reset.rtt), (20.0, 50e6));
    }

    #[test]
    fn every_algorithm_stays_within_its_bounds() {
        for algorithm in [
            LimitAlgorithm::Aimd,
            LimitAlgorithm::Gradient2,
            LimitAlgorithm::Vegas,
        ] {
            let mut s = state(20.0, 0.0);
            for i in 0..5000u64 {
                let w = window(1 + i % 7 * (i % 3), (i % 5 == 0) as u32, i % 2 == 0);
                s = next(algorithm, s, &w, i * 32, BOUNDS).0;
                assert!((4.0..=200.0).contains(&s.limit), "{algorithm:?}: {s:?}");
            }
        }
    }

    #[test]
    fn a_window_on_a_clock_that_never_moves_has_an_rtt_of_one() {
        assert_eq!(window(0, 0, true).rtt(), Some(1.0));
        assert_eq!(WindowSamples::default().rtt(), None);
    }

    #[test]
    fn a_window_without_a_timed_call_keeps_the_limit_but_for_drops() {
        let untimed = |drops| WindowSamples {
            timed: 0,
            latency_nanos: 0,
            ..window(0, drops, true)
        };
        let s = state(26.0, 1e7);
        assert_eq!(gradient2(s, &untimed(0), BOUNDS), s);
        assert!((gradient2(s, &untimed(1), BOUNDS).limit - 26.0 * BACKOFF).abs() < 1e-9);
        assert_eq!(vegas(s, &untimed(0), 1_000_000, BOUNDS), (s, false));
        assert_eq!(vegas(s, &untimed(1), 0, BOUNDS).0.limit, 25.0);
    }
}
