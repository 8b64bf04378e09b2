//! A partial policy: what a TOML table or a registry section changes over what it inherits.

use std::time::{Duration, SystemTime};

use crate::adaptive::Concurrency;
use crate::{
    ADAPTIVE_INITIAL_DEFAULT, ADAPTIVE_MAX_DEFAULT, ADAPTIVE_MIN_DEFAULT, AdaptiveLimit, Backoff,
    Chaos, FleetMode, LimitAlgorithm, Policy, PolicyError, RateLimit, Recovery, Retry,
    RetryBackoff, SlowCalls, Window,
};

/// A 1-based `(line, column)` in a source file, when the value came from one.
pub(crate) type Pos = Option<(usize, usize)>;

/// One value of a patch and where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Item<T> {
    pub value: T,
    pub pos: Pos,
}

/// Patches compare by what they set, not by where it was written.
impl<T: PartialEq> PartialEq for Item<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T> Item<T> {
    pub fn new(value: T, pos: Pos) -> Self {
        Item { value, pos }
    }
}

/// `window = { ... }`: a count window, or a time window whose missing half is inherited.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct WindowPatch {
    pub count: Option<Item<u32>>,
    pub span: Option<Item<Duration>>,
    pub buckets: Option<Item<u32>>,
}

/// `slow_calls = "off"` or `slow_calls = { duration = .., rate = .. }`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SlowCallsPatch {
    Off,
    Rule {
        duration: Option<Item<Duration>>,
        rate: Option<Item<f64>>,
    },
}

/// `backoff = "constant"` or `backoff = { exponential = .., max = .. }`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BackoffPatch {
    Constant,
    Exponential {
        factor: Option<Item<f64>>,
        max: Option<Item<Duration>>,
    },
}

/// `half_open = { permits = .., successes = .. }`, either optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct HalfOpenPatch {
    pub permits: Option<Item<u32>>,
    pub successes: Option<Item<u32>>,
}

/// `recovery = "immediate"` or `recovery = { ramp = .., start_share = .. }`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RecoveryPatch {
    Immediate,
    Ramp {
        duration: Option<Item<Duration>>,
        start_share: Option<Item<f64>>,
    },
}

/// `rate_limit = "unlimited"` or `rate_limit = { rate = .., per = .., burst = .. }`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RateLimitPatch {
    Unlimited,
    Limit {
        rate: Option<Item<u32>>,
        per: Option<Item<Duration>>,
        burst: Option<Item<u32>>,
    },
}

/// `max_concurrent = "unlimited"`, `max_concurrent = N` or
/// `max_concurrent = { adaptive = .., min = .., max = .., initial = .. }`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ConcurrencyPatch {
    Unlimited,
    Static(u32),
    Adaptive {
        algorithm: Option<Item<LimitAlgorithm>>,
        min: Option<Item<u32>>,
        max: Option<Item<u32>>,
        initial: Option<Item<u32>>,
    },
}

/// `retry = "none"` or `retry = { max_attempts = .., backoff = .., base = .., max = ..,
/// budget = .. }`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RetryPatch {
    None,
    Retry {
        max_attempts: Option<Item<u32>>,
        backoff: Option<Item<RetryBackoff>>,
        base: Option<Item<Duration>>,
        max: Option<Item<Duration>>,
        budget: Option<Item<f64>>,
    },
}

/// `fleet = "local"`, `fleet = "follow"` or `fleet = { quorum = .. }`; an empty table keeps an
/// inherited quorum.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FleetPatch {
    Local,
    Follow,
    Quorum(Option<Item<u32>>),
}

/// `chaos = "off"` or `chaos = { fault_rate = .., latency = .., latency_rate = .., seed = ..,
/// until = .. }`, every key optional: a key left out keeps an inherited chaos's value, else
/// its default. `until` is `None` for `until = "none"`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ChaosPatch {
    Off,
    Chaos {
        fault_rate: Option<Item<f64>>,
        latency: Option<Item<Duration>>,
        latency_rate: Option<Item<f64>>,
        seed: Option<Item<u64>>,
        until: Option<Item<Option<SystemTime>>>,
    },
}

/// A partial policy: each field it sets replaces the one it inherits, and nothing else changes.
///
/// A patch is what a registry config file's `[defaults]` and `[breakers."<name>"]` sections hold,
/// and what a policy file is before it is applied over [`Policy::default`]. Tables patch
/// field by field: `half_open = { permits = 10 }` keeps the inherited `successes`, and
/// `window = { buckets = 20 }` keeps the inherited time window's span. A shape change must be
/// complete: a time window over an inherited count window needs both `span` and `buckets`.
/// `preset = "name"` replaces the inherited policy by that preset before the other fields apply.
///
/// To turn an optional rule off in a patch, write `slow_calls = "off"`,
/// `max_concurrent = "unlimited"`, `recovery = "immediate"`, `rate_limit = "unlimited"`,
/// `timeout = "none"`, `retry = "none"`, `fleet = "local"` or `chaos = "off"`.
///
/// Two patches are equal when they set the same values, wherever they were written.
///
/// # Examples
///
/// ```
/// use fusebox_policies::{Policy, PolicyPatch};
///
/// let parent = Policy::from_toml("half_open = { permits = 8, successes = 4 }")?;
/// let patch = PolicyPatch::from_toml("half_open = { permits = 6 }\njitter = 0.2")?;
/// let child = patch.apply(&parent)?;
/// assert_eq!(child.half_open_permits(), 6);
/// assert_eq!(child.success_threshold(), 4);
/// assert_eq!(child.jitter(), 0.2);
/// # Ok::<(), fusebox_policies::PolicyError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct PolicyPatch {
    pub(crate) preset: Option<Item<String>>,
    pub(crate) window: Option<Item<WindowPatch>>,
    pub(crate) failure_rate_threshold: Option<Item<f64>>,
    pub(crate) min_calls: Option<Item<u32>>,
    pub(crate) consecutive_failures: Option<Item<u32>>,
    pub(crate) slow_calls: Option<Item<SlowCallsPatch>>,
    pub(crate) open_timeout: Option<Item<Duration>>,
    pub(crate) backoff: Option<Item<BackoffPatch>>,
    pub(crate) jitter: Option<Item<f64>>,
    pub(crate) half_open: Option<Item<HalfOpenPatch>>,
    pub(crate) max_concurrent: Option<Item<ConcurrencyPatch>>,
    pub(crate) recovery: Option<Item<RecoveryPatch>>,
    pub(crate) latency_histogram: Option<Item<bool>>,
    pub(crate) rate_limit: Option<Item<RateLimitPatch>>,
    pub(crate) timeout: Option<Item<Option<Duration>>>,
    pub(crate) retry: Option<Item<RetryPatch>>,
    pub(crate) fleet: Option<Item<FleetPatch>>,
    pub(crate) chaos: Option<Item<ChaosPatch>>,
    /// Where the table itself starts (a section header, or the start of the file).
    pub(crate) pos: Pos,
}

impl PartialEq for PolicyPatch {
    fn eq(&self, other: &Self) -> bool {
        // Every field but `pos`; items compare by value.
        self.preset == other.preset
            && self.window == other.window
            && self.failure_rate_threshold == other.failure_rate_threshold
            && self.min_calls == other.min_calls
            && self.consecutive_failures == other.consecutive_failures
            && self.slow_calls == other.slow_calls
            && self.open_timeout == other.open_timeout
            && self.backoff == other.backoff
            && self.jitter == other.jitter
            && self.half_open == other.half_open
            && self.max_concurrent == other.max_concurrent
            && self.recovery == other.recovery
            && self.latency_histogram == other.latency_histogram
            && self.rate_limit == other.rate_limit
            && self.timeout == other.timeout
            && self.retry == other.retry
            && self.fleet == other.fleet
            && self.chaos == other.chaos
    }
}

fn set<T>(value: T) -> Option<Item<T>> {
    Some(Item::new(value, None))
}

fn missing(field: &str, why: &str, pos: Pos) -> PolicyError {
    PolicyError::new(field, format!("missing; {why}")).at_pos(pos)
}

impl PolicyPatch {
    /// An empty patch: applying it returns the base unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_policies::{Policy, PolicyPatch};
    /// let base = Policy::preset("database")?;
    /// assert_eq!(PolicyPatch::new().apply(&base)?, base);
    /// # Ok::<(), fusebox_policies::PolicyError>(())
    /// ```
    #[must_use]
    pub fn new() -> Self {
        PolicyPatch::default()
    }

    /// A patch that sets every field to `policy`'s: applied over any base, it yields `policy`.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_policies::{Policy, PolicyPatch};
    /// let lenient = Policy::preset("lenient")?;
    /// let patch = PolicyPatch::from_policy(&lenient);
    /// assert_eq!(patch.apply(&Policy::preset("aggressive")?)?, lenient);
    /// # Ok::<(), fusebox_policies::PolicyError>(())
    /// ```
    #[must_use]
    pub fn from_policy(policy: &Policy) -> Self {
        let window = match policy.window {
            Window::Count { size } => WindowPatch {
                count: set(size),
                ..WindowPatch::default()
            },
            Window::Time { span, buckets } => WindowPatch {
                count: None,
                span: set(span),
                buckets: set(buckets),
            },
        };
        PolicyPatch {
            preset: None,
            window: set(window),
            failure_rate_threshold: set(policy.failure_rate_threshold),
            min_calls: set(policy.min_calls),
            consecutive_failures: set(policy.consecutive_failures),
            slow_calls: set(match policy.slow_calls {
                None => SlowCallsPatch::Off,
                Some(s) => SlowCallsPatch::Rule {
                    duration: set(s.duration),
                    rate: set(s.rate),
                },
            }),
            open_timeout: set(policy.open_timeout),
            backoff: set(match policy.backoff {
                Backoff::Constant => BackoffPatch::Constant,
                Backoff::Exponential { factor, max } => BackoffPatch::Exponential {
                    factor: set(factor),
                    max: set(max),
                },
            }),
            jitter: set(policy.jitter),
            half_open: set(HalfOpenPatch {
                permits: set(policy.half_open_permits),
                successes: set(policy.success_threshold),
            }),
            max_concurrent: set(match policy.max_concurrent {
                None => ConcurrencyPatch::Unlimited,
                Some(Concurrency::Static(m)) => ConcurrencyPatch::Static(m),
                Some(Concurrency::Adaptive(l)) => ConcurrencyPatch::Adaptive {
                    algorithm: set(l.algorithm),
                    min: set(l.min),
                    max: set(l.max),
                    initial: set(l.initial),
                },
            }),
            recovery: set(match policy.recovery {
                Recovery::Immediate => RecoveryPatch::Immediate,
                Recovery::Ramp {
                    duration,
                    start_share,
                } => RecoveryPatch::Ramp {
                    duration: set(duration),
                    start_share: set(start_share),
                },
            }),
            latency_histogram: set(policy.latency_histogram),
            rate_limit: set(match policy.rate_limit {
                None => RateLimitPatch::Unlimited,
                Some(l) => RateLimitPatch::Limit {
                    rate: set(l.rate),
                    per: set(l.per),
                    burst: set(l.burst),
                },
            }),
            timeout: set(policy.timeout),
            retry: set(match policy.retry {
                None => RetryPatch::None,
                Some(r) => RetryPatch::Retry {
                    max_attempts: set(r.max_attempts),
                    backoff: set(r.backoff),
                    base: set(r.base),
                    max: set(r.max),
                    budget: set(r.budget),
                },
            }),
            fleet: set(match policy.fleet {
                FleetMode::Local => FleetPatch::Local,
                FleetMode::Follow => FleetPatch::Follow,
                FleetMode::Quorum(n) => FleetPatch::Quorum(set(n)),
            }),
            chaos: set(match policy.chaos {
                None => ChaosPatch::Off,
                Some(c) => ChaosPatch::Chaos {
                    fault_rate: set(c.fault_rate()),
                    latency: c.latency().and_then(set),
                    latency_rate: set(c.latency_rate()),
                    seed: set(c.seed()),
                    until: set(c.until()),
                },
            }),
            pos: None,
        }
    }

    /// Parses a patch from TOML: the policy schema, every key optional, nothing applied yet.
    ///
    /// # Errors
    ///
    /// A positioned [`PolicyError`] for invalid TOML, an unknown key, a value of the wrong type
    /// or form, or an unknown preset. Ranges are checked by [`apply`](Self::apply), since they
    /// depend on the base.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_policies::PolicyPatch;
    /// let patch = PolicyPatch::from_toml("min_calls = 5")?;
    /// assert!(!patch.is_empty());
    /// let err = PolicyPatch::from_toml("min_call = 5").unwrap_err();
    /// assert!(err.to_string().starts_with("1:1: min_call: unknown key"));
    /// # Ok::<(), fusebox_policies::PolicyError>(())
    /// ```
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        crate::file::parse_patch(text)
    }

    /// The preset this patch starts from, if it names one.
    ///
    /// # Examples
    ///
    /// ```
    /// let patch = fusebox_policies::PolicyPatch::from_toml("preset = \"lenient\"")?;
    /// assert_eq!(patch.preset(), Some("lenient"));
    /// # Ok::<(), fusebox_policies::PolicyError>(())
    /// ```
    #[must_use]
    pub fn preset(&self) -> Option<&str> {
        self.preset.as_ref().map(|p| p.value.as_str())
    }

    /// Whether the patch changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(fusebox_policies::PolicyPatch::from_toml("# nothing")?.is_empty());
    /// # Ok::<(), fusebox_policies::PolicyError>(())
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        let PolicyPatch {
            preset,
            window,
            failure_rate_threshold,
            min_calls,
            consecutive_failures,
            slow_calls,
            open_timeout,
            backoff,
            jitter,
            half_open,
            max_concurrent,
            recovery,
            latency_histogram,
            rate_limit,
            timeout,
            retry,
            fleet,
            chaos,
            pos: _,
        } = self;
        preset.is_none()
            && window.is_none()
            && failure_rate_threshold.is_none()
            && min_calls.is_none()
            && consecutive_failures.is_none()
            && slow_calls.is_none()
            && open_timeout.is_none()
            && backoff.is_none()
            && jitter.is_none()
            && half_open.is_none()
            && max_concurrent.is_none()
            && recovery.is_none()
            && latency_histogram.is_none()
            && rate_limit.is_none()
            && timeout.is_none()
            && retry.is_none()
            && fleet.is_none()
            && chaos.is_none()
    }

    /// Applies the patch over `base` (or over its preset, if it names one) and validates the
    /// result.
    ///
    /// # Errors
    ///
    /// A [`PolicyError`] naming the first field out of range, as [`PolicyBuilder::build`]
    /// does, or a table that switches shape without all its keys (a time window over a count
    /// window without `buckets`). For a patch parsed from TOML the error carries the position of
    /// the offending value: the value of the field named, else of the key that made it
    /// invalid (`window` for `min_calls` over a smaller count window), else the enclosing table.
    ///
    /// [`PolicyBuilder::build`]: crate::PolicyBuilder::build
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_policies::{Policy, PolicyPatch};
    /// let base = Policy::builder().half_open_permits(5).success_threshold(5).build()?;
    /// let patch = PolicyPatch::from_toml("jitter = 0.1\nhalf_open = { permits = 2 }")?;
    /// let err = patch.apply(&base).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "2:25: half_open.successes: must be in 1..=2 (half_open.permits), got 5"
    /// );
    /// # Ok::<(), fusebox_policies::PolicyError>(())
    /// ```
    pub fn apply(&self, base: &Policy) -> Result<Policy, PolicyError> {
        let preset_policy;
        let base = match &self.preset {
            Some(name) => {
                preset_policy = Policy::preset(&name.value).map_err(|e| e.at_pos(name.pos))?;
                &preset_policy
            }
            None => base,
        };
        let mut p = base.clone();
        if let Some(w) = &self.window {
            p.window = w.value.resolve(base.window, w.pos)?;
        }
        if let Some(v) = &self.failure_rate_threshold {
            p.failure_rate_threshold = v.value;
        }
        if let Some(v) = &self.min_calls {
            p.min_calls = v.value;
        }
        if let Some(v) = &self.consecutive_failures {
            p.consecutive_failures = v.value;
        }
        if let Some(s) = &self.slow_calls {
            p.slow_calls = match &s.value {
                SlowCallsPatch::Off => None,
                SlowCallsPatch::Rule { duration, rate } => {
                    let inherited = base.slow_calls;
                    let why = "a slow-call rule needs both duration and rate";
                    Some(SlowCalls {
                        duration: value_or(duration, inherited.map(|s| s.duration))
                            .ok_or_else(|| missing("slow_calls.duration", why, s.pos))?,
                        rate: value_or(rate, inherited.map(|s| s.rate))
                            .ok_or_else(|| missing("slow_calls.rate", why, s.pos))?,
                    })
                }
            };
        }
        if let Some(v) = &self.open_timeout {
            p.open_timeout = v.value;
        }
        if let Some(b) = &self.backoff {
            p.backoff = match &b.value {
                BackoffPatch::Constant => Backoff::Constant,
                BackoffPatch::Exponential { factor, max } => {
                    let (f0, m0) = match base.backoff {
                        Backoff::Exponential { factor, max } => (Some(factor), Some(max)),
                        Backoff::Constant => (None, None),
                    };
                    let why = "an exponential backoff needs both exponential and max";
                    Backoff::Exponential {
                        factor: value_or(factor, f0)
                            .ok_or_else(|| missing("backoff.exponential", why, b.pos))?,
                        max: value_or(max, m0).ok_or_else(|| missing("backoff.max", why, b.pos))?,
                    }
                }
            };
        }
        if let Some(v) = &self.jitter {
            p.jitter = v.value;
        }
        if let Some(h) = &self.half_open {
            if let Some(v) = &h.value.permits {
                p.half_open_permits = v.value;
            }
            if let Some(v) = &h.value.successes {
                p.success_threshold = v.value;
            }
        }
        if let Some(m) = &self.max_concurrent {
            p.max_concurrent = match &m.value {
                ConcurrencyPatch::Unlimited => None,
                ConcurrencyPatch::Static(max) => Some(Concurrency::Static(*max)),
                ConcurrencyPatch::Adaptive {
                    algorithm,
                    min,
                    max,
                    initial,
                } => {
                    // Over an adaptive limit, absent keys are inherited; over anything else
                    // they take the defaults, and the algorithm must be named.
                    let inherited = base.adaptive_limit();
                    let min =
                        value_or(min, inherited.map(|l| l.min)).unwrap_or(ADAPTIVE_MIN_DEFAULT);
                    let max =
                        value_or(max, inherited.map(|l| l.max)).unwrap_or(ADAPTIVE_MAX_DEFAULT);
                    Some(Concurrency::Adaptive(AdaptiveLimit {
                        algorithm: value_or(algorithm, inherited.map(|l| l.algorithm)).ok_or_else(
                            || {
                                missing(
                                    "max_concurrent.adaptive",
                                    "an adaptive limit needs its algorithm",
                                    m.pos,
                                )
                            },
                        )?,
                        min,
                        max,
                        initial: value_or(initial, inherited.map(|l| l.initial))
                            .unwrap_or_else(|| ADAPTIVE_INITIAL_DEFAULT.max(min).min(max)),
                    }))
                }
            };
        }
        if let Some(r) = &self.recovery {
            p.recovery = match &r.value {
                RecoveryPatch::Immediate => Recovery::Immediate,
                RecoveryPatch::Ramp {
                    duration,
                    start_share,
                } => {
                    let (d0, s0) = match base.recovery {
                        Recovery::Ramp {
                            duration,
                            start_share,
                        } => (Some(duration), Some(start_share)),
                        Recovery::Immediate => (None, None),
                    };
                    let why = "a ramp needs both ramp and start_share";
                    Recovery::Ramp {
                        duration: value_or(duration, d0)
                            .ok_or_else(|| missing("recovery.ramp", why, r.pos))?,
                        start_share: value_or(start_share, s0)
                            .ok_or_else(|| missing("recovery.start_share", why, r.pos))?,
                    }
                }
            };
        }
        if let Some(v) = &self.latency_histogram {
            p.latency_histogram = v.value;
        }
        if let Some(r) = &self.rate_limit {
            p.rate_limit = match &r.value {
                RateLimitPatch::Unlimited => None,
                RateLimitPatch::Limit { rate, per, burst } => {
                    let inherited = base.rate_limit;
                    let why = "a rate limit needs rate, per and burst";
                    Some(RateLimit {
                        rate: value_or(rate, inherited.map(|l| l.rate))
                            .ok_or_else(|| missing("rate_limit.rate", why, r.pos))?,
                        per: value_or(per, inherited.map(|l| l.per))
                            .ok_or_else(|| missing("rate_limit.per", why, r.pos))?,
                        burst: value_or(burst, inherited.map(|l| l.burst))
                            .ok_or_else(|| missing("rate_limit.burst", why, r.pos))?,
                    })
                }
            };
        }
        if let Some(v) = &self.timeout {
            p.timeout = v.value;
        }
        if let Some(r) = &self.retry {
            p.retry = match &r.value {
                RetryPatch::None => None,
                RetryPatch::Retry {
                    max_attempts,
                    backoff,
                    base: base_delay,
                    max,
                    budget,
                } => {
                    let inherited = base.retry;
                    let why = "a retry needs max_attempts, backoff, base, max and budget";
                    let need = |field| missing(field, why, r.pos);
                    Some(Retry {
                        max_attempts: value_or(max_attempts, inherited.map(|r| r.max_attempts))
                            .ok_or_else(|| need("retry.max_attempts"))?,
                        backoff: value_or(backoff, inherited.map(|r| r.backoff))
                            .ok_or_else(|| need("retry.backoff"))?,
                        base: value_or(base_delay, inherited.map(|r| r.base))
                            .ok_or_else(|| need("retry.base"))?,
                        max: value_or(max, inherited.map(|r| r.max))
                            .ok_or_else(|| need("retry.max"))?,
                        budget: value_or(budget, inherited.map(|r| r.budget))
                            .ok_or_else(|| need("retry.budget"))?,
                    })
                }
            };
        }
        if let Some(f) = &self.fleet {
            p.fleet = match &f.value {
                FleetPatch::Local => FleetMode::Local,
                FleetPatch::Follow => FleetMode::Follow,
                FleetPatch::Quorum(quorum) => {
                    let inherited = match base.fleet {
                        FleetMode::Quorum(n) => Some(n),
                        FleetMode::Local | FleetMode::Follow => None,
                    };
                    FleetMode::Quorum(value_or(quorum, inherited).ok_or_else(|| {
                        missing(
                            "fleet.quorum",
                            "a quorum needs its number of instances",
                            f.pos,
                        )
                    })?)
                }
            };
        }
        if let Some(c) = &self.chaos {
            p.chaos = match &c.value {
                ChaosPatch::Off => None,
                ChaosPatch::Chaos {
                    fault_rate,
                    latency,
                    latency_rate,
                    seed,
                    until,
                } => {
                    let inherited = base.chaos;
                    let mut chaos = Chaos::new()
                        .with_fault_rate(
                            value_or(fault_rate, inherited.map(|c| c.fault_rate())).unwrap_or(0.0),
                        )
                        .with_seed(value_or(seed, inherited.map(|c| c.seed())).unwrap_or(0));
                    let latency_rate =
                        value_or(latency_rate, inherited.map(|c| c.latency_rate())).unwrap_or(0.0);
                    match value_or(latency, inherited.and_then(|c| c.latency())) {
                        Some(latency) => chaos = chaos.with_latency(latency, latency_rate),
                        // Validation names the missing latency if the rate needs one.
                        None => chaos = chaos.with_latency_rate(latency_rate),
                    }
                    if let Some(until) = value_or(until, inherited.map(|c| c.until())).flatten() {
                        chaos = chaos.with_until(until);
                    }
                    Some(chaos)
                }
            };
        }
        p.validate().map_err(|e| {
            let pos = self.locate(e.field());
            e.at_pos(pos)
        })?;
        Ok(p)
    }

    /// Where the value of `field` was written, if it was.
    fn pos_of(&self, field: &str) -> Pos {
        fn pos<T>(item: &Option<Item<T>>) -> Pos {
            item.as_ref().and_then(|i| i.pos)
        }
        let window = self.window.as_ref().map(|w| &w.value);
        let half_open = self.half_open.as_ref().map(|h| &h.value);
        match field {
            "preset" => pos(&self.preset),
            "window" => pos(&self.window),
            "window.count" => window.and_then(|w| pos(&w.count)),
            "window.span" => window.and_then(|w| pos(&w.span)),
            "window.buckets" => window.and_then(|w| pos(&w.buckets)),
            "failure_rate_threshold" => pos(&self.failure_rate_threshold),
            "min_calls" => pos(&self.min_calls),
            "consecutive_failures" => pos(&self.consecutive_failures),
            "slow_calls" => pos(&self.slow_calls),
            "slow_calls.duration" | "slow_calls.rate" => match self.slow_calls.as_ref() {
                Some(Item {
                    value: SlowCallsPatch::Rule { duration, rate },
                    ..
                }) => {
                    if field.ends_with("duration") {
                        pos(duration)
                    } else {
                        pos(rate)
                    }
                }
                _ => None,
            },
            "open_timeout" => pos(&self.open_timeout),
            "backoff" => pos(&self.backoff),
            "backoff.exponential" | "backoff.max" => match self.backoff.as_ref() {
                Some(Item {
                    value: BackoffPatch::Exponential { factor, max },
                    ..
                }) => {
                    if field.ends_with("max") {
                        pos(max)
                    } else {
                        pos(factor)
                    }
                }
                _ => None,
            },
            "jitter" => pos(&self.jitter),
            "half_open" => pos(&self.half_open),
            "half_open.permits" => half_open.and_then(|h| pos(&h.permits)),
            "half_open.successes" => half_open.and_then(|h| pos(&h.successes)),
            "max_concurrent" => pos(&self.max_concurrent),
            "max_concurrent.adaptive"
            | "max_concurrent.min"
            | "max_concurrent.max"
            | "max_concurrent.initial" => match self.max_concurrent.as_ref() {
                Some(Item {
                    value:
                        ConcurrencyPatch::Adaptive {
                            algorithm,
                            min,
                            max,
                            initial,
                        },
                    ..
                }) => match field {
                    "max_concurrent.adaptive" => pos(algorithm),
                    "max_concurrent.min" => pos(min),
                    "max_concurrent.max" => pos(max),
                    _ => pos(initial),
                },
                _ => None,
            },
            "recovery" => pos(&self.recovery),
            "recovery.ramp" | "recovery.start_share" => match self.recovery.as_ref() {
                Some(Item {
                    value:
                        RecoveryPatch::Ramp {
                            duration,
                            start_share,
                        },
                    ..
                }) => {
                    if field.ends_with("ramp") {
                        pos(duration)
                    } else {
                        pos(start_share)
                    }
                }
                _ => None,
            },
            "latency_histogram" => pos(&self.latency_histogram),
            "rate_limit" => pos(&self.rate_limit),
            "timeout" => pos(&self.timeout),
            "retry" => pos(&self.retry),
            "fleet" => pos(&self.fleet),
            "fleet.quorum" => match self.fleet.as_ref() {
                Some(Item {
                    value: FleetPatch::Quorum(quorum),
                    ..
                }) => pos(quorum),
                _ => None,
            },
            "retry.max_attempts" | "retry.backoff" | "retry.base" | "retry.max"
            | "retry.budget" => match self.retry.as_ref() {
                Some(Item {
                    value:
                        RetryPatch::Retry {
                            max_attempts,
                            backoff,
                            base,
                            max,
                            budget,
                        },
                    ..
                }) => match field {
                    "retry.max_attempts" => pos(max_attempts),
                    "retry.backoff" => pos(backoff),
                    "retry.base" => pos(base),
                    "retry.max" => pos(max),
                    _ => pos(budget),
                },
                _ => None,
            },
            "chaos" => pos(&self.chaos),
            "chaos.fault_rate" | "chaos.latency" | "chaos.latency_rate" | "chaos.seed"
            | "chaos.until" => match self.chaos.as_ref() {
                Some(Item {
                    value:
                        ChaosPatch::Chaos {
                            fault_rate,
                            latency,
                            latency_rate,
                            seed,
                            until,
                        },
                    ..
                }) => match field {
                    "chaos.fault_rate" => pos(fault_rate),
                    "chaos.latency" => pos(latency),
                    "chaos.latency_rate" => pos(latency_rate),
                    "chaos.seed" => pos(seed),
                    _ => pos(until),
                },
                _ => None,
            },
            "rate_limit.rate" | "rate_limit.per" | "rate_limit.burst" => {
                match self.rate_limit.as_ref() {
                    Some(Item {
                        value: RateLimitPatch::Limit { rate, per, burst },
                        ..
                    }) => match field {
                        "rate_limit.rate" => pos(rate),
                        "rate_limit.per" => pos(per),
                        _ => pos(burst),
                    },
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Where a validation error on `field` points: the field's own value, else the value whose
    /// change made it invalid, else the enclosing table, else the preset, else this table.
    fn locate(&self, field: &str) -> Pos {
        let enclosing = |f: &'static str| f.split('.').next().unwrap_or(f);
        let causes = crate::limited_by(field);
        std::iter::once(field)
            .chain(causes.iter().copied())
            .chain(causes.iter().copied().map(enclosing))
            .chain([field.split('.').next().unwrap_or(field), "preset"])
            .find_map(|f| self.pos_of(f))
            .or(self.pos)
    }
}

fn value_or<T: Copy>(item: &Option<Item<T>>, inherited: Option<T>) -> Option<T> {
    item.as_ref().map(|i| i.value).or(inherited)
}

impl WindowPatch {
    fn resolve(&self, base: Window, pos: Pos) -> Result<Window, PolicyError> {
        if let Some(count) = &self.count {
            return Ok(Window::count(count.value));
        }
        if self.span.is_none() && self.buckets.is_none() {
            return Ok(base);
        }
        let (span0, buckets0) = match base {
            Window::Time { span, buckets } => (Some(span), Some(buckets)),
            Window::Count { .. } => (None, None),
        };
        let why = "a time window needs both span and buckets";
        Ok(Window::Time {
            span: value_or(&self.span, span0).ok_or_else(|| missing("window.span", why, pos))?,
            buckets: value_or(&self.buckets, buckets0)
                .ok_or_else(|| missing("window.buckets", why, pos))?,
        })
    }
}
