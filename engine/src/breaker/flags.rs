//! Which optional rules a breaker's policy switches on, as one word of bits.
//!
//! # Synchronization
//!
//! None of its own: a [`Flags`] is a plain value. The breaker keeps the rules in force as
//! [`Flags::bits`] in one `AtomicU32` of its hot configuration (see config.rs), written under
//! the configuration seqlock and read on its own, `Relaxed`, on the fast paths.

use std::fmt;

/// A set of rule bits. Every operation is a `const fn` on the one `u32`, inlined, so a test
/// such as `!flags.intersects(Flags::SLOW.union(Flags::BULKHEAD))` is the same single
/// `test`/`and` of the loaded word as the raw mask it replaces.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Flags(u32);

impl Flags {
    /// No rule on.
    pub(super) const NONE: Flags = Flags(0);
    /// A slow-call rule is set: permits are timed and slow calls counted.
    pub(super) const SLOW: Flags = Flags(1);
    /// A consecutive-failure rule is set: failures in a row are counted.
    pub(super) const CONSECUTIVE: Flags = Flags(1 << 1);
    /// A bulkhead (`max_concurrent`) is set: permits out are counted.
    pub(super) const BULKHEAD: Flags = Flags(1 << 2);
    /// Recovery ramps after half-open instead of closing at once.
    pub(super) const RAMP: Flags = Flags(1 << 3);
    /// Set by a policy swap: the next outcome is judged even if it changes no count.
    pub(super) const REEVALUATE: Flags = Flags(1 << 4);
    /// A striped breaker whose policy can be striped: outcomes go to the thread's stripe.
    pub(super) const STRIPED: Flags = Flags(1 << 5);
    /// The latency histogram is on: permits are timed and each call's duration recorded.
    pub(super) const LATENCY: Flags = Flags(1 << 6);
    /// A rate limit is set: each admission takes a token from the GCRA word (rate.rs).
    pub(super) const RATE_LIMIT: Flags = Flags(1 << 7);
    /// The bulkhead is adaptive: its limit is the adaptive limiter's, and each completed call
    /// is a sample of it (adaptive/).
    pub(super) const ADAPTIVE: Flags = Flags(1 << 8);
    /// The adaptive limit's algorithm reads latency: permits are timed.
    pub(super) const ADAPTIVE_TIMED: Flags = Flags(1 << 9);
    /// The breaker records its calls into a call recorder (recording.rs): sampled permits are
    /// timed, and rejections are recorded too. Not a policy's rule: switched by
    /// `Breaker::record_to` and kept across policy swaps (config.rs).
    pub(super) const RECORD: Flags = Flags(1 << 10);

    /// The flags of a word read from the atomic that holds them.
    #[inline(always)]
    pub(super) const fn from_bits(bits: u32) -> Flags {
        Flags(bits)
    }

    /// The word stored in the atomic that holds them.
    #[inline(always)]
    pub(super) const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every bit of `other` is set.
    #[inline(always)]
    pub(super) const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set.
    #[inline(always)]
    pub(super) const fn intersects(self, other: Flags) -> bool {
        self.0 & other.0 != 0
    }

    /// The bits of both.
    #[inline(always)]
    pub(super) const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// The bits set in both.
    #[inline(always)]
    pub(super) const fn intersection(self, other: Flags) -> Flags {
        Flags(self.0 & other.0)
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(Flags, &str); 11] = [
            (Flags::SLOW, "SLOW"),
            (Flags::CONSECUTIVE, "CONSECUTIVE"),
            (Flags::BULKHEAD, "BULKHEAD"),
            (Flags::RAMP, "RAMP"),
            (Flags::REEVALUATE, "REEVALUATE"),
            (Flags::STRIPED, "STRIPED"),
            (Flags::LATENCY, "LATENCY"),
            (Flags::RATE_LIMIT, "RATE_LIMIT"),
            (Flags::ADAPTIVE, "ADAPTIVE"),
            (Flags::ADAPTIVE_TIMED, "ADAPTIVE_TIMED"),
            (Flags::RECORD, "RECORD"),
        ];
        let mut set = f.debug_set();
        for (flag, name) in NAMES {
            if self.contains(flag) {
                set.entry(&format_args!("{name}"));
            }
        }
        set.finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_bits_are_the_masks_they_replace() {
        let all = [
            Flags::SLOW,
            Flags::CONSECUTIVE,
            Flags::BULKHEAD,
            Flags::RAMP,
            Flags::REEVALUATE,
            Flags::STRIPED,
            Flags::LATENCY,
            Flags::RATE_LIMIT,
            Flags::ADAPTIVE,
            Flags::ADAPTIVE_TIMED,
            Flags::RECORD,
        ];
        for (i, f) in all.iter().enumerate() {
            assert_eq!(f.bits(), 1 << i);
        }
        let timed = Flags::SLOW.union(Flags::BULKHEAD);
        assert!(timed.contains(Flags::SLOW) && !timed.contains(Flags::RAMP));
        assert!(timed.intersects(Flags::BULKHEAD.union(Flags::RAMP)));
        assert!(!Flags::NONE.intersects(timed));
        assert_eq!(timed.intersection(Flags::SLOW), Flags::SLOW);
        assert_eq!(Flags::from_bits(timed.bits()), timed);
        assert_eq!(format!("{timed:?}"), "{SLOW, BULKHEAD}");
    }
}
