//! The adaptive limit's three words, as plain `u64`s packed and unpacked by pure functions
//! (the atomics that hold them are in mod.rs):
//!
//! - the **window word**: the calls of the window being filled, their drops, how many were
//!   busy (completed with in-flight calls at least half the limit), how many were timed and
//!   the timed ones' summed latency; a call adds to it whole, and the call that fills it
//!   takes it whole ([`add`]);
//! - the **limit word**: the limit in force (fixed point, 1/128), the algorithm's RTT (an
//!   `f32` less its sign and low 7 mantissa bits) and the generation of the configuration it
//!   belongs to;
//! - the **parameters word**: the algorithm and its bounds.

use fusebox_policies::{AdaptiveLimit, LimitAlgorithm};

use super::algorithm::{Bounds, LimitState, WindowSamples};

/// Calls per window: the limit is recomputed once every this many completed calls (drops
/// included, ignored calls not). Two in loom models, so that a model closes windows.
#[cfg(not(loom))]
pub(crate) const WINDOW_CALLS: u32 = 32;
/// Calls per window: the limit is recomputed once every this many completed calls (drops
/// included, ignored calls not). Two in loom models, so that a model closes windows.
#[cfg(loom)]
pub(crate) const WINDOW_CALLS: u32 = 2;

/// Bits of each count in the window word: calls, drops, busy calls and timed calls.
const COUNT_BITS: u32 = 6;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
const DROPS_SHIFT: u32 = COUNT_BITS;
const BUSY_SHIFT: u32 = 2 * COUNT_BITS;
const TIMED_SHIFT: u32 = 3 * COUNT_BITS;
const LATENCY_SHIFT: u32 = 4 * COUNT_BITS;
/// The longest latency one call contributes (about 34 seconds; a longer call counts as
/// this long): a window's worth of such calls fills the 40 bits of the sum exactly.
pub(crate) const MAX_CALL_NANOS: u64 = ((1 << (64 - LATENCY_SHIFT)) - 1) / WINDOW_CALLS as u64;

// A full window's counts fit their fields: a window is taken by the call that fills it, so
// no count passes `WINDOW_CALLS`.
const _: () = assert!(WINDOW_CALLS <= COUNT_MASK as u32);

/// One completed call as an addend of the window word; `latency_nanos` if it was timed.
#[inline]
pub(crate) fn sample(drop: bool, busy: bool, latency_nanos: Option<u64>) -> u64 {
    1 | u64::from(drop) << DROPS_SHIFT
        | u64::from(busy) << BUSY_SHIFT
        | u64::from(latency_nanos.is_some()) << TIMED_SHIFT
        | latency_nanos.unwrap_or(0).min(MAX_CALL_NANOS) << LATENCY_SHIFT
}

/// The window word after one more call `sample`: if that call fills the window, the word
/// goes back to 0 and the full window is returned, to the one caller whose exchange made
/// the change.
#[inline]
pub(crate) fn add(word: u64, sample: u64) -> (u64, Option<WindowSamples>) {
    let sum = word + sample;
    if (sum & COUNT_MASK) as u32 >= WINDOW_CALLS {
        (0, Some(window(sum)))
    } else {
        (sum, None)
    }
}

/// The counts a window word holds.
pub(crate) fn window(word: u64) -> WindowSamples {
    WindowSamples {
        calls: (word & COUNT_MASK) as u32,
        drops: (word >> DROPS_SHIFT & COUNT_MASK) as u32,
        busy: (word >> BUSY_SHIFT & COUNT_MASK) as u32,
        timed: (word >> TIMED_SHIFT & COUNT_MASK) as u32,
        latency_nanos: word >> LATENCY_SHIFT,
    }
}

/// Fractional bits of the limit in the limit word: steps of 1/128, and a limit of up to
/// `MAX_CONCURRENT` (2²⁴) fits 31 bits.
const FRACTION_BITS: u32 = 7;
const RTT_SHIFT: u32 = 32;
/// The RTT keeps the top 24 of an `f32`'s 31 magnitude bits: 16 bits of mantissa.
const RTT_DROPPED_BITS: u32 = 7;
const RTT_MASK: u64 = (1 << 24) - 1;
const GENERATION_SHIFT: u32 = 56;

/// The limit word of `state` in configuration `generation`. The limit is rounded down to a
/// 1/128, so its integer part never passes the bound it was clamped to.
pub(crate) fn pack_limit(state: LimitState, generation: u8) -> u64 {
    // `as` saturates: a negative or NaN limit (never made) would read 0.
    let limit = ((state.limit * f64::from(1u32 << FRACTION_BITS)) as u64).min(u64::from(u32::MAX));
    let rtt = u64::from((state.rtt as f32).to_bits() >> RTT_DROPPED_BITS) & RTT_MASK;
    limit | rtt << RTT_SHIFT | u64::from(generation) << GENERATION_SHIFT
}

/// The state a limit word holds, and its generation.
pub(crate) fn unpack_limit(word: u64) -> (LimitState, u8) {
    let rtt = f32::from_bits(((word >> RTT_SHIFT & RTT_MASK) as u32) << RTT_DROPPED_BITS);
    (
        LimitState {
            limit: f64::from(word as u32) / f64::from(1u32 << FRACTION_BITS),
            rtt: f64::from(rtt),
        },
        (word >> GENERATION_SHIFT) as u8,
    )
}

/// The limit in force: the integer part of the limit word's limit.
#[inline(always)]
pub(crate) fn limit_of(word: u64) -> u32 {
    word as u32 >> FRACTION_BITS
}

/// The generation of a limit word's configuration.
pub(crate) fn generation_of(word: u64) -> u8 {
    (word >> GENERATION_SHIFT) as u8
}

/// Bits of each bound in the parameters word: `MAX_CONCURRENT` (2²⁴) needs 25.
const BOUND_BITS: u32 = 25;
const BOUND_MASK: u64 = (1 << BOUND_BITS) - 1;

/// The parameters word of `limit`: its bounds and algorithm (its `initial` is used once, when
/// the limit word is reset). Never 0, so 0 means "not configured".
pub(crate) fn pack_params(limit: &AdaptiveLimit) -> u64 {
    let algorithm: u64 = match limit.algorithm {
        LimitAlgorithm::Aimd => 1,
        LimitAlgorithm::Gradient2 => 2,
        LimitAlgorithm::Vegas => 3,
    };
    u64::from(limit.min) & BOUND_MASK
        | (u64::from(limit.max) & BOUND_MASK) << BOUND_BITS
        | algorithm << (2 * BOUND_BITS)
}

/// The algorithm and bounds of a parameters word; `None` for 0 (not configured).
pub(crate) fn unpack_params(word: u64) -> Option<(LimitAlgorithm, Bounds)> {
    let algorithm = match word >> (2 * BOUND_BITS) {
        1 => LimitAlgorithm::Aimd,
        2 => LimitAlgorithm::Gradient2,
        3 => LimitAlgorithm::Vegas,
        _ => return None,
    };
    Some((
        algorithm,
        Bounds {
            min: (word & BOUND_MASK) as f64,
            max: (word >> BOUND_BITS & BOUND_MASK) as f64,
        },
    ))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use fusebox_policies::MAX_CONCURRENT;

    #[test]
    fn a_window_is_taken_whole_by_the_call_that_fills_it() {
        let mut word = 0;
        let mut expected = WindowSamples::default();
        for i in 0..WINDOW_CALLS - 1 {
            let timed = (i % 4 == 0).then_some(u64::from(i) * 1000);
            let (next, full) = add(word, sample(i % 3 == 0, i % 2 == 0, timed));
            assert_eq!(full, None);
            word = next;
            expected.calls += 1;
            expected.drops += u32::from(i % 3 == 0);
            expected.busy += u32::from(i % 2 == 0);
            expected.timed += u32::from(timed.is_some());
            expected.latency_nanos += timed.unwrap_or(0);
            assert_eq!(window(word), expected);
        }
        let (next, full) = add(word, sample(true, true, Some(7)));
        assert_eq!(next, 0);
        expected.calls += 1;
        expected.drops += 1;
        expected.busy += 1;
        expected.timed += 1;
        expected.latency_nanos += 7;
        assert_eq!(full, Some(expected));
    }

    #[test]
    fn the_longest_calls_fill_a_window_without_carrying() {
        let mut word = 0;
        for _ in 0..WINDOW_CALLS - 1 {
            word = add(word, sample(true, true, Some(u64::MAX))).0;
        }
        let full = add(word, sample(true, true, Some(u64::MAX))).1.unwrap();
        assert_eq!(
            (full.calls, full.drops, full.busy, full.timed),
            (WINDOW_CALLS, WINDOW_CALLS, WINDOW_CALLS, WINDOW_CALLS)
        );
        assert_eq!(full.latency_nanos, MAX_CALL_NANOS * u64::from(WINDOW_CALLS));
        const { assert!(MAX_CALL_NANOS > 30 * 1_000_000_000) };
    }

    #[test]
    fn the_limit_word_keeps_the_limit_to_a_128th_and_the_rtt_to_16_bits() {
        for limit in [1.0, 4.0, 8.1, 20.0, 199.99, f64::from(MAX_CONCURRENT)] {
            for rtt in [0.0, 1.0, 1234.5, 2.5e6, 3.7e10] {
                for generation in [0, 1, 255] {
                    let word = pack_limit(LimitState { limit, rtt }, generation);
                    let (s, g) = unpack_limit(word);
                    assert_eq!(g, generation);
                    assert_eq!(generation_of(word), generation);
                    assert!(s.limit <= limit && limit - s.limit < 1.0 / 128.0, "{limit}");
                    assert_eq!(limit_of(word), limit.floor() as u32, "{limit}");
                    assert!((s.rtt - rtt).abs() <= rtt / 65536.0, "{rtt} read {}", s.rtt);
                }
            }
        }
    }

    #[test]
    fn parameters_round_trip_and_zero_is_unconfigured() {
        assert_eq!(unpack_params(0), None);
        for algorithm in [
            LimitAlgorithm::Aimd,
            LimitAlgorithm::Gradient2,
            LimitAlgorithm::Vegas,
        ] {
            let limit = AdaptiveLimit::new(algorithm)
                .with_min(1)
                .with_max(MAX_CONCURRENT);
            let (a, bounds) = unpack_params(pack_params(&limit)).unwrap();
            assert_eq!(a, algorithm);
            assert_eq!((bounds.min, bounds.max), (1.0, f64::from(MAX_CONCURRENT)));
        }
    }
}
