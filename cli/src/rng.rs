//! A small seeded PRNG and the normal quantile function: all the randomness the simulator needs.
//!
//! The simulator draws every call's fate from a stream keyed by the scenario seed and the call's
//! index, so two runs of the same scenario (with a breaker and without one) see the same
//! downstream for the same call: the comparison is paired, not two independent samples.

/// SplitMix64: tiny, fast, and good enough for simulation (it passes BigCrush).
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    ///
    /// ```
    /// use fusebox_cli::rng::SplitMix64;
    /// let mut a = SplitMix64::new(7);
    /// let mut b = SplitMix64::new(7);
    /// assert_eq!(a.next_u64(), b.next_u64());
    /// ```
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    ///
    /// ```
    /// let mut g = fusebox_cli::rng::SplitMix64::new(1);
    /// assert_ne!(g.next_u64(), g.next_u64());
    /// ```
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform draw from the open interval (0, 1): never exactly 0 or 1, so its logarithm
    /// and normal quantile are finite.
    ///
    /// ```
    /// let mut g = fusebox_cli::rng::SplitMix64::new(1);
    /// let u = g.next_unit();
    /// assert!(u > 0.0 && u < 1.0);
    /// ```
    pub fn next_unit(&mut self) -> f64 {
        unit(self.next_u64())
    }
}

/// Maps 64 random bits to (0, 1).
fn unit(bits: u64) -> f64 {
    ((bits >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
}

/// Two independent uniform draws in (0, 1) for call `index` of the scenario seeded `seed`.
///
/// ```
/// use fusebox_cli::rng::call_draws;
/// assert_eq!(call_draws(1, 5), call_draws(1, 5));
/// assert_ne!(call_draws(1, 5), call_draws(1, 6));
/// ```
pub fn call_draws(seed: u64, index: u64) -> (f64, f64) {
    let mut g = SplitMix64::new(seed ^ index.wrapping_mul(0xd1b5_4a32_d192_ed03));
    // Two warm-up steps decorrelate neighbouring indexes.
    g.next_u64();
    (g.next_unit(), g.next_unit())
}

/// The standard normal quantile z at `p` in (0, 1), by Acklam's rational approximation
/// (relative error below 1.2e-9).
///
/// ```
/// let z = fusebox_cli::rng::normal_quantile(0.99);
/// assert!((z - 2.326_347_874).abs() < 1e-6);
/// ```
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.02425;
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_is_symmetric_and_monotone() {
        assert!(normal_quantile(0.5).abs() < 1e-12);
        for p in [0.001, 0.01, 0.02, 0.1, 0.3] {
            assert!((normal_quantile(p) + normal_quantile(1.0 - p)).abs() < 1e-8);
        }
        let mut last = f64::NEG_INFINITY;
        for i in 1..1000 {
            let z = normal_quantile(i as f64 / 1000.0);
            assert!(z > last);
            last = z;
        }
    }

    #[test]
    fn units_are_uniform_enough() {
        let mut g = SplitMix64::new(42);
        let n = 100_000;
        let below = (0..n).filter(|_| g.next_unit() < 0.25).count();
        assert!((below as f64 / n as f64 - 0.25).abs() < 0.01);
    }
}
