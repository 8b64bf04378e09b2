//! The serde shape of a policy: the schema of API.md, every field optional (absent = default),
//! unknown keys refused. Conversion into [`Policy`] runs the same validation as the builder.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Backoff, Policy, PolicyError, Recovery, Window};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowRepr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_rate_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_calls: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_failures: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_calls: Option<SlowCallsRepr>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub open_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<BackoffRepr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_open: Option<HalfOpenRepr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<RecoveryRepr>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SlowCallsRepr {
    #[serde(with = "humantime_serde")]
    duration: Duration,
    rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum BackoffRepr {
    Named(String),
    Exponential {
        exponential: f64,
        #[serde(with = "humantime_serde")]
        max: Duration,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HalfOpenRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    permits: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    successes: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecoveryRepr {
    #[serde(with = "humantime_serde")]
    ramp: Duration,
    start_share: f64,
}

impl From<Policy> for PolicyRepr {
    fn from(p: Policy) -> Self {
        PolicyRepr {
            window: Some(match p.window {
                Window::Count { size } => WindowRepr {
                    count: Some(size),
                    span: None,
                    buckets: None,
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
            slow_calls: p.slow_calls.map(|s| SlowCallsRepr {
                duration: s.duration,
                rate: s.rate,
            }),
            open_timeout: Some(p.open_timeout),
            backoff: Some(match p.backoff {
                Backoff::Constant => BackoffRepr::Named("constant".to_owned()),
                Backoff::Exponential { factor, max } => BackoffRepr::Exponential {
                    exponential: factor,
                    max,
                },
            }),
            jitter: Some(p.jitter),
            half_open: Some(HalfOpenRepr {
                permits: Some(p.half_open_permits),
                successes: Some(p.success_threshold),
            }),
            max_concurrent: p.max_concurrent,
            recovery: match p.recovery {
                Recovery::Immediate => None,
                Recovery::Ramp {
                    duration,
                    start_share,
                } => Some(RecoveryRepr {
                    ramp: duration,
                    start_share,
                }),
            },
        }
    }
}

impl TryFrom<PolicyRepr> for Policy {
    type Error = PolicyError;

    fn try_from(r: PolicyRepr) -> Result<Self, PolicyError> {
        let mut b = Policy::builder();
        if let Some(w) = r.window {
            b = b.window(match (w.count, w.span, w.buckets) {
                (Some(size), None, None) => Window::count(size),
                (None, Some(span), Some(buckets)) => Window::time(span, buckets),
                _ => {
                    return Err(PolicyError::new(
                        "window",
                        "must be { count = N } or { span = \"10s\", buckets = N }",
                    ));
                }
            });
        }
        if let Some(v) = r.failure_rate_threshold {
            b = b.failure_rate_threshold(v);
        }
        if let Some(v) = r.min_calls {
            b = b.min_calls(v);
        }
        if let Some(v) = r.consecutive_failures {
            b = b.consecutive_failures(v);
        }
        if let Some(s) = r.slow_calls {
            b = b.slow_calls(s.duration, s.rate);
        }
        if let Some(v) = r.open_timeout {
            b = b.open_timeout(v);
        }
        if let Some(backoff) = r.backoff {
            b = b.backoff(match backoff {
                BackoffRepr::Named(name) if name == "constant" => Backoff::Constant,
                BackoffRepr::Named(name) => {
                    return Err(PolicyError::new(
                        "backoff",
                        format!(
                            "must be \"constant\" or {{ exponential = F, max = \"5m\" }}, got \"{name}\""
                        ),
                    ));
                }
                BackoffRepr::Exponential { exponential, max } => {
                    Backoff::exponential(exponential, max)
                }
            });
        }
        if let Some(v) = r.jitter {
            b = b.jitter(v);
        }
        if let Some(h) = r.half_open {
            if let Some(v) = h.permits {
                b = b.half_open_permits(v);
            }
            if let Some(v) = h.successes {
                b = b.success_threshold(v);
            }
        }
        if let Some(v) = r.max_concurrent {
            b = b.max_concurrent(v);
        }
        if let Some(rec) = r.recovery {
            b = b.recovery(Recovery::ramp(rec.ramp, rec.start_share));
        }
        b.build()
    }
}
