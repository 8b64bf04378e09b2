//! The serde shape of a policy: the TOML schema of [`docs::toml`](crate::docs::toml) for any serde
//! format, every field optional (absent = default), unknown keys refused. Deserializing builds a
//! [`PolicyPatch`] and applies it over the defaults, so serde and [`Policy::from_toml`] accept the
//! same documents and run the same validation.
//!
//! `backoff`, `slow_calls`, `recovery`, `max_concurrent` (a number, a keyword or a table),
//! `rate_limit`, `timeout`, `retry`, `fleet` and `chaos` take a keyword or a value; their `Deserialize` is written by hand so a mistake reads
//! `expected "constant" or { exponential = 2.0, max = "5m" }` rather than "data did not match
//! any variant of untagged enum".

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::{self, DeserializeOwned, MapAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::adaptive::Concurrency;
use crate::chaos::{format_until, parse_until, until_expected};
use crate::patch::{
    BackoffPatch, ChaosPatch, ConcurrencyPatch, FleetPatch, HalfOpenPatch, Item, RateLimitPatch,
    RecoveryPatch, RetryPatch, SlowCallsPatch, WindowPatch,
};
use crate::{
    Backoff, FleetMode, LimitAlgorithm, Policy, PolicyError, PolicyPatch, Recovery, RetryBackoff,
    Window,
};

fn item<T>(value: Option<T>) -> Option<Item<T>> {
    value.map(|v| Item::new(v, None))
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowRepr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_rate_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_calls: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_failures: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_calls: Option<KeywordOr<SlowCallsRepr, Off>>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub open_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<KeywordOr<BackoffRepr, Constant>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_open: Option<HalfOpenRepr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<Limit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<KeywordOr<RecoveryRepr, Immediate>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_histogram: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<KeywordOr<RateLimitRepr, Unlimited>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Timeout>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<KeywordOr<RetryRepr, NoRetry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<Fleet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chaos: Option<KeywordOr<ChaosRepr, ChaosOff>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WindowRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    count: Option<u32>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    span: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    buckets: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SlowCallsRepr {
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    duration: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rate: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BackoffRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exponential: Option<f64>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    max: Option<Duration>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HalfOpenRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    permits: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    successes: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecoveryRepr {
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    ramp: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start_share: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateLimitRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rate: Option<u32>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    per: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    burst: Option<u32>,
}

/// `retry = { .. }`; `backoff` is checked against [`RetryBackoff`]'s names when the patch is
/// made, so the message is the same as a file's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetryRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    backoff: Option<String>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    base: Option<Duration>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    max: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    budget: Option<f64>,
}

/// `chaos = { .. }`; `until` is an RFC 3339 string (or `"none"`), checked when the patch is
/// made, so the message is the same as a file's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChaosRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fault_rate: Option<f64>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    latency: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    latency_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    until: Option<String>,
}

/// The keyword of a `KeywordOr` and the message for anything else.
pub(crate) trait Keyword {
    const WORD: &'static str;
    const EXPECTING: &'static str;
}

macro_rules! keywords {
    ($($name:ident = $word:literal, $expecting:literal;)*) => {$(
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub(crate) struct $name;
        impl Keyword for $name {
            const WORD: &'static str = $word;
            const EXPECTING: &'static str = $expecting;
        }
    )*};
}

keywords! {
    Off = "off", "\"off\" or { duration = \"500ms\", rate = 0.8 }";
    Constant = "constant", "\"constant\" or { exponential = 2.0, max = \"5m\" }";
    Immediate = "immediate", "\"immediate\" or { ramp = \"30s\", start_share = 0.1 }";
    Unlimited = "unlimited", "\"unlimited\" or { rate = 100, per = \"1s\", burst = 20 }";
    NoRetry = "none", "\"none\" or { max_attempts = 3, backoff = \"exponential\", base = \"50ms\", max = \"2s\", budget = 0.2 }";
    ChaosOff = "off", "\"off\" or { fault_rate = 0.1, latency = \"200ms\", latency_rate = 0.05, seed = 7, until = \"2026-12-31T00:00:00Z\" }";
}

/// A keyword (`"off"`, `"constant"`, `"immediate"`, `"unlimited"`, `"none"`) or a table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum KeywordOr<T, K> {
    Keyword(PhantomData<K>),
    Table(T),
}

impl<T: Serialize, K: Keyword> Serialize for KeywordOr<T, K> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            KeywordOr::Keyword(_) => s.serialize_str(K::WORD),
            KeywordOr::Table(t) => t.serialize(s),
        }
    }
}

impl<'de, T: DeserializeOwned, K: Keyword> Deserialize<'de> for KeywordOr<T, K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T, K>(PhantomData<(T, K)>);
        impl<'de, T: DeserializeOwned, K: Keyword> Visitor<'de> for V<T, K> {
            type Value = KeywordOr<T, K>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(K::EXPECTING)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                if v == K::WORD {
                    Ok(KeywordOr::Keyword(PhantomData))
                } else {
                    Err(E::invalid_value(Unexpected::Str(v), &self))
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(KeywordOr::Table)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// `max_concurrent`: a number of permits, `"unlimited"`, or an adaptive limit's table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Limit {
    Unlimited,
    Static(u32),
    Adaptive(AdaptiveRepr),
}

/// `max_concurrent = { adaptive = .., min = .., max = .., initial = .. }`; `adaptive` is
/// checked against [`LimitAlgorithm`]'s names when the patch is made, so the message is the
/// same as a file's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdaptiveRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    adaptive: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    initial: Option<u32>,
}

impl Serialize for Limit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Limit::Static(m) => s.serialize_u32(*m),
            Limit::Unlimited => s.serialize_str("unlimited"),
            Limit::Adaptive(t) => t.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Limit;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "an integer in 1..={}, \"unlimited\" or {{ adaptive = \"aimd\", min = 4, max = 200, initial = 20 }}",
                    crate::MAX_CONCURRENT
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Limit, E> {
                u32::try_from(v)
                    .map(Limit::Static)
                    .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Limit, E> {
                u32::try_from(v)
                    .map(Limit::Static)
                    .map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Limit, E> {
                if v == "unlimited" {
                    Ok(Limit::Unlimited)
                } else {
                    Err(E::invalid_value(Unexpected::Str(v), &self))
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Limit, A::Error> {
                AdaptiveRepr::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(Limit::Adaptive)
            }
        }
        d.deserialize_any(V)
    }
}

/// `timeout`: a duration or `"none"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Timeout(pub Option<Duration>);

impl Serialize for Timeout {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(d) => s.collect_str(&humantime_serde::re::humantime::format_duration(d)),
            None => s.serialize_str("none"),
        }
    }
}

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Timeout;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"30s\", \"500ms\" or \"1m 30s\", or \"none\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timeout, E> {
                if v == "none" {
                    return Ok(Timeout(None));
                }
                humantime_serde::re::humantime::parse_duration(v)
                    .map(|d| Timeout(Some(d)))
                    .map_err(|_| E::invalid_value(Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// `fleet`: `"local"`, `"follow"` or `{ quorum = N }`, the quorum optional as in a patch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Fleet {
    Local,
    Follow,
    Quorum(Option<u32>),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FleetTableRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    quorum: Option<u32>,
}

impl Serialize for Fleet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Fleet::Local => s.serialize_str("local"),
            Fleet::Follow => s.serialize_str("follow"),
            Fleet::Quorum(quorum) => FleetTableRepr { quorum }.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Fleet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fleet;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"local\", \"follow\" or { quorum = N }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Fleet, E> {
                match FleetMode::from_name(v) {
                    Some(FleetMode::Local) => Ok(Fleet::Local),
                    Some(FleetMode::Follow) => Ok(Fleet::Follow),
                    Some(FleetMode::Quorum(_)) | None => {
                        Err(E::invalid_value(Unexpected::Str(v), &self))
                    }
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Fleet, A::Error> {
                FleetTableRepr::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| Fleet::Quorum(t.quorum))
            }
        }
        d.deserialize_any(V)
    }
}

impl From<Policy> for PolicyRepr {
    fn from(p: Policy) -> Self {
        PolicyRepr {
            preset: None,
            window: Some(match p.window {
                Window::Count { size } => WindowRepr {
                    count: Some(size),
                    ..WindowRepr::default()
                },
                Window::Time { span, buckets } => WindowRepr {
                    count: None,
                    span: Some(span),
                    buckets: Some(buckets),
                },
            }),
            failure_rate_threshold: Some(p.failure_rate_threshold),
            min_calls: Some(p.min_calls),
            consecutive_failures: Some(p.consecutive_failures),
            slow_calls: Some(match p.slow_calls {
                None => KeywordOr::Keyword(PhantomData),
                Some(s) => KeywordOr::Table(SlowCallsRepr {
                    duration: Some(s.duration),
                    rate: Some(s.rate),
                }),
            }),
            open_timeout: Some(p.open_timeout),
            backoff: Some(match p.backoff {
                Backoff::Constant => KeywordOr::Keyword(PhantomData),
                Backoff::Exponential { factor, max } => KeywordOr::Table(BackoffRepr {
                    exponential: Some(factor),
                    max: Some(max),
                }),
            }),
            jitter: Some(p.jitter),
            half_open: Some(HalfOpenRepr {
                permits: Some(p.half_open_permits),
                successes: Some(p.success_threshold),
            }),
            max_concurrent: Some(match p.max_concurrent {
                None => Limit::Unlimited,
                Some(Concurrency::Static(m)) => Limit::Static(m),
                Some(Concurrency::Adaptive(l)) => Limit::Adaptive(AdaptiveRepr {
                    adaptive: Some(l.algorithm.name().to_owned()),
                    min: Some(l.min),
                    max: Some(l.max),
                    initial: Some(l.initial),
                }),
            }),
            recovery: Some(match p.recovery {
                Recovery::Immediate => KeywordOr::Keyword(PhantomData),
                Recovery::Ramp {
                    duration,
                    start_share,
                } => KeywordOr::Table(RecoveryRepr {
                    ramp: Some(duration),
                    start_share: Some(start_share),
                }),
            }),
            latency_histogram: Some(p.latency_histogram),
            rate_limit: Some(match p.rate_limit {
                None => KeywordOr::Keyword(PhantomData),
                Some(l) => KeywordOr::Table(RateLimitRepr {
                    rate: Some(l.rate()),
                    per: Some(l.per()),
                    burst: Some(l.burst()),
                }),
            }),
            timeout: Some(Timeout(p.timeout)),
            retry: Some(match p.retry {
                None => KeywordOr::Keyword(PhantomData),
                Some(r) => KeywordOr::Table(RetryRepr {
                    max_attempts: Some(r.max_attempts()),
                    backoff: Some(r.backoff().name().to_owned()),
                    base: Some(r.base()),
                    max: Some(r.max()),
                    budget: Some(r.budget()),
                }),
            }),
            fleet: Some(match p.fleet {
                FleetMode::Local => Fleet::Local,
                FleetMode::Follow => Fleet::Follow,
                FleetMode::Quorum(n) => Fleet::Quorum(Some(n)),
            }),
            // Left out when off, as `to_toml` leaves it out.
            chaos: p.chaos.map(|c| {
                KeywordOr::Table(ChaosRepr {
                    fault_rate: Some(c.fault_rate()),
                    latency: c.latency(),
                    latency_rate: Some(c.latency_rate()),
                    seed: Some(c.seed()),
                    until: Some(
                        c.until()
                            .and_then(format_until)
                            .unwrap_or_else(|| "none".to_owned()),
                    ),
                })
            }),
        }
    }
}

impl TryFrom<PolicyRepr> for PolicyPatch {
    type Error = PolicyError;

    fn try_from(r: PolicyRepr) -> Result<Self, PolicyError> {
        if let Some(name) = &r.preset {
            Policy::preset(name)?;
        }
        let window = match r.window {
            Some(w) if w.count.is_some() && (w.span.is_some() || w.buckets.is_some()) => {
                return Err(PolicyError::new(
                    "window",
                    "must be { count = N } or { span = \"10s\", buckets = N }, not both",
                ));
            }
            w => w.map(|w| WindowPatch {
                count: item(w.count),
                span: item(w.span),
                buckets: item(w.buckets),
            }),
        };
        let retry = match r.retry {
            None => None,
            Some(KeywordOr::Keyword(_)) => Some(RetryPatch::None),
            Some(KeywordOr::Table(t)) => {
                let backoff = match t.backoff {
                    None => None,
                    Some(name) => Some(RetryBackoff::from_name(&name).ok_or_else(|| {
                        PolicyError::new(
                            "retry.backoff",
                            RetryBackoff::expected(&format!("{name:?}")),
                        )
                    })?),
                };
                Some(RetryPatch::Retry {
                    max_attempts: item(t.max_attempts),
                    backoff: item(backoff),
                    base: item(t.base),
                    max: item(t.max),
                    budget: item(t.budget),
                })
            }
        };
        let chaos = match r.chaos {
            None => None,
            Some(KeywordOr::Keyword(_)) => Some(ChaosPatch::Off),
            Some(KeywordOr::Table(t)) => {
                let until = match t.until.as_deref() {
                    None => None,
                    Some("none") => Some(None),
                    Some(text) => Some(Some(parse_until(text).ok_or_else(|| {
                        PolicyError::new("chaos.until", until_expected(&format!("{text:?}")))
                    })?)),
                };
                Some(ChaosPatch::Chaos {
                    fault_rate: item(t.fault_rate),
                    latency: item(t.latency),
                    latency_rate: item(t.latency_rate),
                    seed: item(t.seed),
                    until: item(until),
                })
            }
        };
        let max_concurrent = match r.max_concurrent {
            None => None,
            Some(Limit::Unlimited) => Some(ConcurrencyPatch::Unlimited),
            Some(Limit::Static(m)) => Some(ConcurrencyPatch::Static(m)),
            Some(Limit::Adaptive(t)) => {
                let algorithm = match t.adaptive {
                    None => None,
                    Some(name) => Some(LimitAlgorithm::from_name(&name).ok_or_else(|| {
                        PolicyError::new(
                            "max_concurrent.adaptive",
                            LimitAlgorithm::expected(&format!("{name:?}")),
                        )
                    })?),
                };
                Some(ConcurrencyPatch::Adaptive {
                    algorithm: item(algorithm),
                    min: item(t.min),
                    max: item(t.max),
                    initial: item(t.initial),
                })
            }
        };
        Ok(PolicyPatch {
            preset: item(r.preset),
            window: item(window),
            failure_rate_threshold: item(r.failure_rate_threshold),
            min_calls: item(r.min_calls),
            consecutive_failures: item(r.consecutive_failures),
            slow_calls: item(r.slow_calls.map(|s| match s {
                KeywordOr::Keyword(_) => SlowCallsPatch::Off,
                KeywordOr::Table(t) => SlowCallsPatch::Rule {
                    duration: item(t.duration),
                    rate: item(t.rate),
                },
            })),
            open_timeout: item(r.open_timeout),
            backoff: item(r.backoff.map(|b| match b {
                KeywordOr::Keyword(_) => BackoffPatch::Constant,
                KeywordOr::Table(t) => BackoffPatch::Exponential {
                    factor: item(t.exponential),
                    max: item(t.max),
                },
            })),
            jitter: item(r.jitter),
            half_open: item(r.half_open.map(|h| HalfOpenPatch {
                permits: item(h.permits),
                successes: item(h.successes),
            })),
            max_concurrent: item(max_concurrent),
            recovery: item(r.recovery.map(|rec| match rec {
                KeywordOr::Keyword(_) => RecoveryPatch::Immediate,
                KeywordOr::Table(t) => RecoveryPatch::Ramp {
                    duration: item(t.ramp),
                    start_share: item(t.start_share),
                },
            })),
            latency_histogram: item(r.latency_histogram),
            rate_limit: item(r.rate_limit.map(|l| match l {
                KeywordOr::Keyword(_) => RateLimitPatch::Unlimited,
                KeywordOr::Table(t) => RateLimitPatch::Limit {
                    rate: item(t.rate),
                    per: item(t.per),
                    burst: item(t.burst),
                },
            })),
            timeout: item(r.timeout.map(|t| t.0)),
            retry: item(retry),
            fleet: item(r.fleet.map(|f| match f {
                Fleet::Local => FleetPatch::Local,
                Fleet::Follow => FleetPatch::Follow,
                Fleet::Quorum(quorum) => FleetPatch::Quorum(item(quorum)),
            })),
            chaos: item(chaos),
            pos: None,
        })
    }
}

impl TryFrom<PolicyRepr> for Policy {
    type Error = PolicyError;

    fn try_from(r: PolicyRepr) -> Result<Self, PolicyError> {
        PolicyPatch::try_from(r)?.apply(&Policy::default())
    }
}
