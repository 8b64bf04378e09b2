//! [`Chaos`]: fault and latency injection for resilience experiments, and its RFC 3339 times.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use humantime_serde::re::humantime;

use crate::PolicyError;

/// The example every message about `chaos.until` gives.
pub(crate) const UNTIL_EXAMPLE: &str = "2026-12-31T00:00:00Z";

/// The first second RFC 3339 cannot write: 10000-01-01T00:00:00Z, in Unix seconds.
const UNTIL_LIMIT_SECS: u64 = 253_402_300_800;

/// Chaos: faults and latency injected into the calls a breaker runs, to see how the service
/// and its breaker behave when the dependency misbehaves, without waiting for it to.
///
/// Each attempt of `Breaker::run` (fusebox-engine, feature `tokio`) that the breaker admitted
/// draws, while chaos is on:
///
/// - with probability [`latency_rate`](Self::latency_rate), a wait of
///   [`latency`](Self::latency) before the call (inside the policy's `timeout`, as real
///   latency would be);
/// - with probability [`fault_rate`](Self::fault_rate), a fault: the call is not made, and the
///   attempt is a failure of kind `"chaos"`, recorded like a real one (so the breaker can trip
///   on it) and retried like one.
///
/// The draws come from a counter-based generator seeded with [`seed`](Self::seed): the same
/// seed and the same sequence of calls inject the same faults. Chaos is off past
/// [`until`](Self::until), if set: an experiment that ends by itself.
///
/// Valid values, as [`PolicyBuilder::build`](crate::PolicyBuilder::build) checks them: both
/// rates in [0, 1] and at least one of them above 0; a `latency` from 1ns to
/// [`MAX_DURATION`](crate::MAX_DURATION), required when `latency_rate` is above 0; `until`
/// from 1970 to the end of year 9999 (what RFC 3339 can write).
///
/// In TOML:
/// `chaos = { fault_rate = 0.1, latency = "200ms", latency_rate = 0.05, seed = 7, until = "2026-12-31T00:00:00Z" }`,
/// every key optional, or `"off"` (the default).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use fusebox_policies::{Chaos, Policy};
///
/// let chaos = Chaos::new()
///     .with_fault_rate(0.1)
///     .with_latency(Duration::from_millis(200), 0.05)
///     .with_seed(7);
/// let p = Policy::builder().chaos(chaos).build()?;
/// assert_eq!(p.chaos(), Some(&chaos));
/// assert!(chaos.is_on_at(SystemTime::now()));
///
/// let err = Policy::builder().chaos(Chaos::new().with_fault_rate(1.5)).build().unwrap_err();
/// assert_eq!(err.to_string(), "chaos.fault_rate: must be in [0, 1], got 1.5");
/// # Ok::<(), fusebox_policies::PolicyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Chaos {
    fault_rate: f64,
    latency: Option<Duration>,
    latency_rate: f64,
    seed: u64,
    until: Option<SystemTime>,
}

/// What chaos does to one attempt: [`Chaos::attempt`].
///
/// ```
/// let a = fusebox_policies::ChaosAttempt::default();
/// assert_eq!((a.delay, a.fault), (None, false));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChaosAttempt {
    /// A wait before the call, inside the attempt's timeout.
    pub delay: Option<Duration>,
    /// The call is not made: the attempt fails with kind `"chaos"`.
    pub fault: bool,
}

impl Chaos {
    /// What chaos does to attempt number `index` of its sequence: two draws of splitmix64
    /// seeded with [`seed`](Self::seed), one for the latency and one for the fault. A pure
    /// function (counter-based), so a seed replays and anything that numbers its attempts
    /// (`Breaker::run`, the simulator) injects the same faults. `until` is not looked at:
    /// callers decide whether chaos is on ([`is_on_at`](Self::is_on_at)).
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_policies::Chaos;
    /// let chaos = Chaos::new().with_fault_rate(0.5).with_seed(7);
    /// let faults = (0..1000).filter(|&i| chaos.attempt(i).fault).count();
    /// assert!((400..600).contains(&faults));
    /// assert_eq!(chaos.attempt(3), chaos.attempt(3));
    /// ```
    pub fn attempt(&self, index: u64) -> ChaosAttempt {
        let latency_draw = unit(draw(self.seed, index.wrapping_mul(2)));
        let fault_draw = unit(draw(self.seed, index.wrapping_mul(2).wrapping_add(1)));
        ChaosAttempt {
            delay: self.latency.filter(|_| latency_draw < self.latency_rate),
            fault: fault_draw < self.fault_rate,
        }
    }

    /// Chaos that injects nothing yet: both rates 0, no latency, seed 0, no end. Set a rate
    /// before building a policy with it.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = fusebox_policies::Chaos::new();
    /// assert_eq!((c.fault_rate(), c.latency_rate(), c.seed()), (0.0, 0.0, 0));
    /// assert_eq!((c.latency(), c.until()), (None, None));
    /// ```
    pub const fn new() -> Self {
        Chaos {
            fault_rate: 0.0,
            latency: None,
            latency_rate: 0.0,
            seed: 0,
            until: None,
        }
    }

    /// The same chaos with faults injected into a `fault_rate` share of attempts.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = fusebox_policies::Chaos::new().with_fault_rate(0.25);
    /// assert_eq!(c.fault_rate(), 0.25);
    /// ```
    #[must_use]
    pub const fn with_fault_rate(self, fault_rate: f64) -> Self {
        Chaos { fault_rate, ..self }
    }

    /// The same chaos with a wait of `latency` before a `latency_rate` share of attempts.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = fusebox_policies::Chaos::new().with_latency(Duration::from_millis(200), 0.05);
    /// assert_eq!((c.latency(), c.latency_rate()), (Some(Duration::from_millis(200)), 0.05));
    /// ```
    #[must_use]
    pub const fn with_latency(self, latency: Duration, latency_rate: f64) -> Self {
        Chaos {
            latency: Some(latency),
            latency_rate,
            ..self
        }
    }

    /// The same chaos with another latency rate and the latency it had, if any (patches set
    /// the two apart).
    pub(crate) const fn with_latency_rate(self, latency_rate: f64) -> Self {
        Chaos {
            latency_rate,
            ..self
        }
    }

    /// The same chaos with another seed for its draws.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(fusebox_policies::Chaos::new().with_seed(7).seed(), 7);
    /// ```
    #[must_use]
    pub const fn with_seed(self, seed: u64) -> Self {
        Chaos { seed, ..self }
    }

    /// The same chaos, off from `until` on.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let end = UNIX_EPOCH + Duration::from_secs(1_798_675_200); // 2027-01-01T00:00:00Z
    /// assert_eq!(fusebox_policies::Chaos::new().with_until(end).until(), Some(end));
    /// ```
    #[must_use]
    pub const fn with_until(self, until: SystemTime) -> Self {
        Chaos {
            until: Some(until),
            ..self
        }
    }

    /// The share of attempts, in [0, 1], that get a fault instead of the call.
    ///
    /// ```
    /// assert_eq!(fusebox_policies::Chaos::new().with_fault_rate(0.1).fault_rate(), 0.1);
    /// ```
    pub const fn fault_rate(&self) -> f64 {
        self.fault_rate
    }

    /// The wait injected before an attempt, if one is set.
    ///
    /// ```
    /// assert_eq!(fusebox_policies::Chaos::new().latency(), None);
    /// ```
    pub const fn latency(&self) -> Option<Duration> {
        self.latency
    }

    /// The share of attempts, in [0, 1], that wait [`latency`](Self::latency) first.
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = fusebox_policies::Chaos::new().with_latency(Duration::from_secs(1), 0.5);
    /// assert_eq!(c.latency_rate(), 0.5);
    /// ```
    pub const fn latency_rate(&self) -> f64 {
        self.latency_rate
    }

    /// The seed of the draws (default 0).
    ///
    /// ```
    /// assert_eq!(fusebox_policies::Chaos::new().seed(), 0);
    /// ```
    pub const fn seed(&self) -> u64 {
        self.seed
    }

    /// When chaos ends by itself, if it does; `None` (the default) is on until removed.
    ///
    /// ```
    /// assert_eq!(fusebox_policies::Chaos::new().until(), None);
    /// ```
    pub const fn until(&self) -> Option<SystemTime> {
        self.until
    }

    /// Whether chaos is on at `now`: always without [`until`](Self::until), else before it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let end = UNIX_EPOCH + Duration::from_secs(1000);
    /// let c = fusebox_policies::Chaos::new().with_fault_rate(0.1).with_until(end);
    /// assert!(c.is_on_at(end - Duration::from_secs(1)));
    /// assert!(!c.is_on_at(end));
    /// ```
    pub fn is_on_at(&self, now: SystemTime) -> bool {
        self.until.is_none_or(|until| now < until)
    }

    /// Checks every field, naming the first one out of range.
    pub(crate) fn validate(&self) -> Result<(), PolicyError> {
        check_rate("chaos.fault_rate", self.fault_rate)?;
        check_rate("chaos.latency_rate", self.latency_rate)?;
        if self.fault_rate == 0.0 && self.latency_rate == 0.0 {
            return Err(PolicyError::new(
                "chaos",
                "at least one of fault_rate and latency_rate must be more than 0, both are 0 \
                 (chaos = \"off\" is no chaos)",
            ));
        }
        match self.latency {
            Some(latency) => {
                crate::check_duration("chaos.latency", latency, Duration::from_nanos(1))?;
            }
            None if self.latency_rate > 0.0 => {
                return Err(PolicyError::new(
                    "chaos.latency",
                    "missing; a latency_rate above 0 needs a latency such as \"200ms\"",
                ));
            }
            None => {}
        }
        if let Some(until) = self.until
            && format_until(until).is_none()
        {
            return Err(PolicyError::new(
                "chaos.until",
                format!(
                    "must be an RFC 3339 time from 1970-01-01T00:00:00Z to \
                     9999-12-31T23:59:59Z, such as \"{UNTIL_EXAMPLE}\""
                ),
            ));
        }
        Ok(())
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

fn check_rate(field: &'static str, value: f64) -> Result<(), PolicyError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(PolicyError::new(
            field,
            format!("must be in [0, 1], got {value}"),
        ))
    }
}

/// Parses an RFC 3339 time in UTC (`Z` or `+00:00`), as humantime reads it; `None` for any
/// other text.
pub(crate) fn parse_until(text: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339(text.trim()).ok()
}

/// `until` in RFC 3339, with as many fractional digits as it needs; `None` outside what RFC
/// 3339 can write (before 1970 or after 9999).
pub(crate) fn format_until(until: SystemTime) -> Option<String> {
    let since = until.duration_since(UNIX_EPOCH).ok()?;
    if since.as_secs() >= UNTIL_LIMIT_SECS {
        return None;
    }
    Some(humantime::format_rfc3339(until).to_string())
}

/// The reason for a refused `chaos.until`, quoting what was written.
pub(crate) fn until_expected(got: &str) -> String {
    format!("must be an RFC 3339 time such as \"{UNTIL_EXAMPLE}\", got {got}")
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
            assert_eq!(never.attempt(i), ChaosAttempt::default());
            assert_eq!(
                always.attempt(i),
                ChaosAttempt {
                    delay: Some(Duration::from_millis(5)),
                    fault: true
                }
            );
        }
    }

    #[test]
    fn the_share_of_faults_is_close_to_the_rate() {
        let chaos = Chaos::new().with_fault_rate(0.1).with_seed(7);
        let faults = (0..100_000).filter(|&i| chaos.attempt(i).fault).count();
        assert!((9_500..10_500).contains(&faults), "{faults}");
        let other = Chaos::new().with_fault_rate(0.1).with_seed(8);
        assert!((0..64).any(|i| chaos.attempt(i) != other.attempt(i)));
    }

    #[test]
    fn until_round_trips_through_rfc_3339() {
        for text in [
            "2026-12-31T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "2026-06-01T12:30:00.5Z",
            "9999-12-31T23:59:59.999999999Z",
        ] {
            let t = parse_until(text).unwrap();
            assert_eq!(parse_until(&format_until(t).unwrap()), Some(t), "{text}");
        }
        assert_eq!(
            parse_until("2026-12-31T00:00:00+00:00"),
            parse_until(UNTIL_EXAMPLE)
        );
        for bad in [
            "tomorrow",
            "",
            "2026-12-31",
            "2026-13-01T00:00:00Z",
            "2026-12-31T00:00:00+02:00",
            "2026-12-31 00:00:00",
            "1969-12-31T23:59:59Z",
            "2026-12-31T00:00:00Zé",
        ] {
            assert_eq!(parse_until(bad), None, "{bad}");
        }
        assert_eq!(
            format_until(UNIX_EPOCH - Duration::from_secs(1)),
            None,
            "before 1970"
        );
        assert_eq!(
            format_until(UNIX_EPOCH + Duration::from_secs(UNTIL_LIMIT_SECS)),
            None,
            "after 9999"
        );
    }
}
