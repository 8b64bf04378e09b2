//! The adaptive bulkhead: [`AdaptiveLimit`], a limit on calls in flight that the breaker
//! moves between `min` and `max` by one of the [`LimitAlgorithm`]s, and the crate-private
//! [`Concurrency`] a policy's `max_concurrent` holds.

use std::fmt;

use crate::{MAX_CONCURRENT, PolicyError};

/// Default least limit of an [`AdaptiveLimit`].
///
/// ```
/// assert_eq!(fusebox_policies::ADAPTIVE_MIN_DEFAULT, 4);
/// ```
pub const ADAPTIVE_MIN_DEFAULT: u32 = 4;
/// Default greatest limit of an [`AdaptiveLimit`].
///
/// ```
/// assert_eq!(fusebox_policies::ADAPTIVE_MAX_DEFAULT, 200);
/// ```
pub const ADAPTIVE_MAX_DEFAULT: u32 = 200;
/// Default first limit of an [`AdaptiveLimit`] (clamped into `[min, max]` when a file sets
/// `min` or `max` and not `initial`).
///
/// ```
/// assert_eq!(fusebox_policies::ADAPTIVE_INITIAL_DEFAULT, 20);
/// ```
pub const ADAPTIVE_INITIAL_DEFAULT: u32 = 20;

/// How an [`AdaptiveLimit`] moves its limit, once per window of completed calls: the
/// algorithms of Netflix's `concurrency-limits`. In TOML: `"aimd"`, `"gradient2"` or
/// `"vegas"`.
///
/// A call that fails or times out is a *drop*; an ignored call is no sample. The engine's
/// `docs` module gives the formulas and the window.
///
/// # Examples
///
/// ```
/// use fusebox_policies::{AdaptiveLimit, LimitAlgorithm, Policy};
/// let p = Policy::from_toml("max_concurrent = { adaptive = \"vegas\" }")?;
/// assert_eq!(p.adaptive_limit().map(|l| l.algorithm), Some(LimitAlgorithm::Vegas));
/// assert_eq!(LimitAlgorithm::Gradient2.to_string(), "gradient2");
/// # Ok::<(), fusebox_policies::PolicyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitAlgorithm {
    /// Additive increase, multiplicative decrease: +1 after a window without a drop in which
    /// calls in flight came near the limit, ×0.9 after a window with a drop. Reads no clock.
    Aimd,
    /// The gradient of the long-run round-trip time over the window's, with a queue allowance
    /// of √limit, smoothed; a window with a drop backs off ×0.9 (a fix over the published
    /// algorithm, which ignores drops).
    Gradient2,
    /// TCP Vegas: the queue estimated from the window's round-trip time over the least one
    /// seen, against thresholds that grow with log10 of the limit.
    Vegas,
}

impl LimitAlgorithm {
    /// Every algorithm, by its TOML name, in the order messages list them.
    pub(crate) const NAMED: [(&'static str, LimitAlgorithm); 3] = [
        ("aimd", LimitAlgorithm::Aimd),
        ("gradient2", LimitAlgorithm::Gradient2),
        ("vegas", LimitAlgorithm::Vegas),
    ];

    /// The TOML name.
    ///
    /// ```
    /// assert_eq!(fusebox_policies::LimitAlgorithm::Aimd.name(), "aimd");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            LimitAlgorithm::Aimd => "aimd",
            LimitAlgorithm::Gradient2 => "gradient2",
            LimitAlgorithm::Vegas => "vegas",
        }
    }

    /// The algorithm a TOML name stands for.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::NAMED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, a)| *a)
    }

    /// The reason for a refused name or value: `must be "aimd", "gradient2" or "vegas", got
    /// {got}`.
    pub(crate) fn expected(got: &str) -> String {
        format!("must be \"aimd\", \"gradient2\" or \"vegas\", got {got}")
    }
}

impl fmt::Display for LimitAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An adaptive bulkhead: at most *limit* calls in flight at once, where the limit starts at
/// `initial` and moves within `[min, max]` as [`algorithm`](Self::algorithm) reads the
/// latency and the drops of completed calls.
///
/// In TOML it is a table in place of `max_concurrent`'s number:
/// `max_concurrent = { adaptive = "aimd", min = 4, max = 200, initial = 20 }`, where `min`,
/// `max` and `initial` are optional (defaults [`ADAPTIVE_MIN_DEFAULT`],
/// [`ADAPTIVE_MAX_DEFAULT`] and [`ADAPTIVE_INITIAL_DEFAULT`]).
///
/// Valid values, as [`PolicyBuilder::build`](crate::PolicyBuilder::build) checks them:
/// `min` at least 1, `max` from `min` to [`MAX_CONCURRENT`](crate::MAX_CONCURRENT),
/// `initial` within `[min, max]`.
///
/// # Examples
///
/// ```
/// use fusebox_policies::{AdaptiveLimit, LimitAlgorithm, Policy};
///
/// let limit = AdaptiveLimit::new(LimitAlgorithm::Aimd).with_max(64);
/// assert_eq!((limit.min, limit.max, limit.initial), (4, 64, 20));
/// let p = Policy::builder().adaptive_limit(limit).build()?;
/// assert_eq!(p.adaptive_limit(), Some(limit));
/// assert_eq!(p.max_concurrent(), None); // `max_concurrent()` is the static bulkhead
/// # Ok::<(), fusebox_policies::PolicyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AdaptiveLimit {
    /// How the limit moves.
    pub algorithm: LimitAlgorithm,
    /// The least the limit falls to, at least 1.
    pub min: u32,
    /// The most the limit rises to.
    pub max: u32,
    /// The limit before the first window has been judged.
    pub initial: u32,
}

impl AdaptiveLimit {
    /// An adaptive limit by `algorithm` with the default bounds: `min` 4, `max` 200,
    /// `initial` 20.
    ///
    /// ```
    /// use fusebox_policies::{AdaptiveLimit, LimitAlgorithm};
    /// let l = AdaptiveLimit::new(LimitAlgorithm::Vegas);
    /// assert_eq!((l.min, l.max, l.initial), (4, 200, 20));
    /// ```
    pub const fn new(algorithm: LimitAlgorithm) -> Self {
        AdaptiveLimit {
            algorithm,
            min: ADAPTIVE_MIN_DEFAULT,
            max: ADAPTIVE_MAX_DEFAULT,
            initial: ADAPTIVE_INITIAL_DEFAULT,
        }
    }

    /// The same with `min` as the least limit.
    ///
    /// ```
    /// use fusebox_policies::{AdaptiveLimit, LimitAlgorithm};
    /// assert_eq!(AdaptiveLimit::new(LimitAlgorithm::Aimd).with_min(1).min, 1);
    /// ```
    #[must_use]
    pub const fn with_min(mut self, min: u32) -> Self {
        self.min = min;
        self
    }

    /// The same with `max` as the greatest limit.
    ///
    /// ```
    /// use fusebox_policies::{AdaptiveLimit, LimitAlgorithm};
    /// assert_eq!(AdaptiveLimit::new(LimitAlgorithm::Aimd).with_max(50).max, 50);
    /// ```
    #[must_use]
    pub const fn with_max(mut self, max: u32) -> Self {
        self.max = max;
        self
    }

    /// The same with `initial` as the first limit.
    ///
    /// ```
    /// use fusebox_policies::{AdaptiveLimit, LimitAlgorithm};
    /// assert_eq!(AdaptiveLimit::new(LimitAlgorithm::Aimd).with_initial(8).initial, 8);
    /// ```
    #[must_use]
    pub const fn with_initial(mut self, initial: u32) -> Self {
        self.initial = initial;
        self
    }
}

impl AdaptiveLimit {
    /// Checks the bounds in the order a file lists them: `min`, `max`, `initial`.
    pub(crate) fn validate(&self) -> Result<(), PolicyError> {
        let AdaptiveLimit {
            min, max, initial, ..
        } = *self;
        if min == 0 || min > MAX_CONCURRENT {
            return Err(PolicyError::new(
                "max_concurrent.min",
                format!("must be in 1..={MAX_CONCURRENT}, got {min}"),
            ));
        }
        if max < min || max > MAX_CONCURRENT {
            return Err(PolicyError::new(
                "max_concurrent.max",
                format!("must be in {min}..={MAX_CONCURRENT} (max_concurrent.min), got {max}"),
            ));
        }
        if initial < min || initial > max {
            return Err(PolicyError::new(
                "max_concurrent.initial",
                format!(
                    "must be in {min}..={max} (max_concurrent.min, max_concurrent.max), got {initial}"
                ),
            ));
        }
        Ok(())
    }
}

/// What a policy's `max_concurrent` holds when it sets a bulkhead: a fixed number of permits
/// or an adaptive limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Concurrency {
    Static(u32),
    Adaptive(AdaptiveLimit),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_message_lists_them() {
        for (name, algorithm) in LimitAlgorithm::NAMED {
            assert_eq!(LimitAlgorithm::from_name(name), Some(algorithm));
            assert_eq!(algorithm.name(), name);
        }
        assert_eq!(LimitAlgorithm::from_name("cubic"), None);
        assert_eq!(
            LimitAlgorithm::expected("\"x\""),
            "must be \"aimd\", \"gradient2\" or \"vegas\", got \"x\""
        );
    }
}
