//! Named starting points for common dependencies.
//!
//! Each preset is a valid [`Policy`]; get one by name with [`Policy::preset`], or start a TOML
//! file from one with `preset = "database"` and override what differs:
//!
//! ```
//! use std::time::Duration;
//! use fusebox_policies::Policy;
//!
//! let p = Policy::from_toml("preset = \"database\"\nopen_timeout = \"20s\"")?;
//! assert_eq!(p.open_timeout(), Duration::from_secs(20));
//! assert_eq!(p.failure_rate_threshold(), Policy::preset("database")?.failure_rate_threshold());
//! # Ok::<(), fusebox_policies::PolicyError>(())
//! ```
//!
//! | preset | for | trips at | open for |
//! |---|---|---|---|
//! | [`"http-api"`](http_api) | an HTTP/JSON service | 50 % of 100 calls, or 80 % slower than 2 s | 30 s, doubling to 5 min |
//! | [`"database"`](database) | a database or cache behind a pool | 30 % of 50 calls, 5 in a row, or 50 % slower than 1 s | 10 s, doubling to 2 min |
//! | [`"payment-provider"`](payment_provider) | a third party that is costly to hammer | 25 % over 60 s, 5 in a row, or 50 % slower than 5 s | 60 s, doubling to 10 min, then a 60 s ramp |
//! | [`"aggressive"`](aggressive) | a latency-critical call with a fallback | 20 % of 20 calls, 3 in a row, or 50 % slower than 250 ms | 5 s, ×1.5 up to 1 min |
//! | [`"lenient"`](lenient) | batch and background work that retries | 80 % of 200 calls | 60 s, constant |
//!
//! Each function's documentation shows the preset as TOML, exactly as [`Policy::to_toml`]
//! writes it (a test keeps the two in step).

use std::time::Duration;

use crate::{Backoff, FleetMode, Policy, PolicyError, Recovery, SlowCalls, Window};

/// The names [`Policy::preset`] accepts, in the order of this module's table.
///
/// # Examples
///
/// ```
/// assert!(fusebox_policies::presets::NAMES.contains(&"database"));
/// ```
pub const NAMES: &[&str] = &[
    "http-api",
    "database",
    "payment-provider",
    "aggressive",
    "lenient",
];

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// For calls to an HTTP/JSON service with steady traffic: trips when half of the last 100
/// calls fail (after 20), or when 80 % take 2 s or more; stays open 30 s, doubling on each
/// failed probe up to 5 min, with 10 % jitter so a fleet does not probe in lockstep.
///
/// ```toml
/// window = { count = 100 }
/// failure_rate_threshold = 0.5
/// min_calls = 20
/// consecutive_failures = 0
/// slow_calls = { duration = "2s", rate = 0.8 }
/// open_timeout = "30s"
/// backoff = { exponential = 2.0, max = "5m" }
/// jitter = 0.1
/// half_open = { permits = 5, successes = 3 }
/// max_concurrent = "unlimited"
/// recovery = "immediate"
/// latency_histogram = false
/// rate_limit = "unlimited"
/// timeout = "none"
/// retry = "none"
/// fleet = "local"
/// ```
///
/// # Examples
///
/// ```
/// assert_eq!(fusebox_policies::presets::http_api(), fusebox_policies::Policy::preset("http-api")?);
/// # Ok::<(), fusebox_policies::PolicyError>(())
/// ```
#[must_use]
pub fn http_api() -> Policy {
    Policy {
        window: Window::count(100),
        failure_rate_threshold: 0.5,
        min_calls: 20,
        consecutive_failures: 0,
        slow_calls: Some(SlowCalls {
            duration: secs(2),
            rate: 0.8,
        }),
        open_timeout: secs(30),
        backoff: Backoff::exponential(2.0, secs(300)),
        jitter: 0.1,
        half_open_permits: 5,
        success_threshold: 3,
        max_concurrent: None,
        recovery: Recovery::Immediate,
        latency_histogram: false,
        rate_limit: None,
        timeout: None,
        retry: None,
        fleet: FleetMode::Local,
        chaos: None,
    }
}

/// For a database or cache behind a connection pool, whose failures are mostly hard (refused
/// connections, exhausted pools): trips at 30 % of the last 50 calls (after 10), at 5 failures
/// in a row, or when half the calls take 1 s or more; stays open 10 s, doubling up to 2 min,
/// and needs 2 of 2 probes to close.
///
/// ```toml
/// window = { count = 50 }
/// failure_rate_threshold = 0.3
/// min_calls = 10
/// consecutive_failures = 5
/// slow_calls = { duration = "1s", rate = 0.5 }
/// open_timeout = "10s"
/// backoff = { exponential = 2.0, max = "2m" }
/// jitter = 0.2
/// half_open = { permits = 2, successes = 2 }
/// max_concurrent = "unlimited"
/// recovery = "immediate"
/// latency_histogram = false
/// rate_limit = "unlimited"
/// timeout = "none"
/// retry = "none"
/// fleet = "local"
/// ```
///
/// # Examples
///
/// ```
/// assert_eq!(fusebox_policies::presets::database().consecutive_failures(), 5);
/// ```
#[must_use]
pub fn database() -> Policy {
    Policy {
        window: Window::count(50),
        failure_rate_threshold: 0.3,
        min_calls: 10,
        consecutive_failures: 5,
        slow_calls: Some(SlowCalls {
            duration: secs(1),
            rate: 0.5,
        }),
        open_timeout: secs(10),
        backoff: Backoff::exponential(2.0, secs(120)),
        jitter: 0.2,
        half_open_permits: 2,
        success_threshold: 2,
        max_concurrent: None,
        recovery: Recovery::Immediate,
        latency_histogram: false,
        rate_limit: None,
        timeout: None,
        retry: None,
        fleet: FleetMode::Local,
        chaos: None,
    }
}

/// For a third-party provider (payments, messaging) that bills or throttles you for hammering
/// it and recovers slowly: judges the last 60 s in 12 buckets, trips at 25 % (after 10 calls),
/// 5 failures in a row or half the calls taking 5 s or more; stays open 60 s, doubling up to
/// 10 min, then ramps traffic back from 10 % over 60 s.
///
/// ```toml
/// window = { span = "1m", buckets = 12 }
/// failure_rate_threshold = 0.25
/// min_calls = 10
/// consecutive_failures = 5
/// slow_calls = { duration = "5s", rate = 0.5 }
/// open_timeout = "1m"
/// backoff = { exponential = 2.0, max = "10m" }
/// jitter = 0.2
/// half_open = { permits = 3, successes = 3 }
/// max_concurrent = "unlimited"
/// recovery = { ramp = "1m", start_share = 0.1 }
/// latency_histogram = false
/// rate_limit = "unlimited"
/// timeout = "none"
/// retry = "none"
/// fleet = "local"
/// ```
///
/// # Examples
///
/// ```
/// use fusebox_policies::Recovery;
/// assert!(matches!(fusebox_policies::presets::payment_provider().recovery(), Recovery::Ramp { .. }));
/// ```
#[must_use]
pub fn payment_provider() -> Policy {
    Policy {
        window: Window::time(secs(60), 12),
        failure_rate_threshold: 0.25,
        min_calls: 10,
        consecutive_failures: 5,
        slow_calls: Some(SlowCalls {
            duration: secs(5),
            rate: 0.5,
        }),
        open_timeout: secs(60),
        backoff: Backoff::exponential(2.0, secs(600)),
        jitter: 0.2,
        half_open_permits: 3,
        success_threshold: 3,
        max_concurrent: None,
        recovery: Recovery::ramp(secs(60), 0.1),
        latency_histogram: false,
        rate_limit: None,
        timeout: None,
        retry: None,
        fleet: FleetMode::Local,
        chaos: None,
    }
}

/// For a latency-critical call that has a fallback (a cache, a default answer), where failing
/// fast beats waiting: trips at 20 % of the last 20 calls (after 5), at 3 failures in a row, or
/// when half the calls take 250 ms or more; stays open only 5 s, growing ×1.5 up to 1 min, and
/// one probe success closes it.
///
/// ```toml
/// window = { count = 20 }
/// failure_rate_threshold = 0.2
/// min_calls = 5
/// consecutive_failures = 3
/// slow_calls = { duration = "250ms", rate = 0.5 }
/// open_timeout = "5s"
/// backoff = { exponential = 1.5, max = "1m" }
/// jitter = 0.1
/// half_open = { permits = 1, successes = 1 }
/// max_concurrent = "unlimited"
/// recovery = "immediate"
/// latency_histogram = false
/// rate_limit = "unlimited"
/// timeout = "none"
/// retry = "none"
/// fleet = "local"
/// ```
///
/// # Examples
///
/// ```
/// assert_eq!(fusebox_policies::presets::aggressive().half_open_permits(), 1);
/// ```
#[must_use]
pub fn aggressive() -> Policy {
    Policy {
        window: Window::count(20),
        failure_rate_threshold: 0.2,
        min_calls: 5,
        consecutive_failures: 3,
        slow_calls: Some(SlowCalls {
            duration: Duration::from_millis(250),
            rate: 0.5,
        }),
        open_timeout: secs(5),
        backoff: Backoff::exponential(1.5, secs(60)),
        jitter: 0.1,
        half_open_permits: 1,
        success_threshold: 1,
        max_concurrent: None,
        recovery: Recovery::Immediate,
        latency_histogram: false,
        rate_limit: None,
        timeout: None,
        retry: None,
        fleet: FleetMode::Local,
        chaos: None,
    }
}

/// For batch jobs and background work that retry anyway and can tolerate a flaky dependency:
/// trips only at 80 % of the last 200 calls (after 50), ignores latency, stays open a constant
/// 60 s, and closes after 5 of 10 probes succeed.
///
/// ```toml
/// window = { count = 200 }
/// failure_rate_threshold = 0.8
/// min_calls = 50
/// consecutive_failures = 0
/// slow_calls = "off"
/// open_timeout = "1m"
/// backoff = "constant"
/// jitter = 0.0
/// half_open = { permits = 10, successes = 5 }
/// max_concurrent = "unlimited"
/// recovery = "immediate"
/// latency_histogram = false
/// rate_limit = "unlimited"
/// timeout = "none"
/// retry = "none"
/// fleet = "local"
/// ```
///
/// # Examples
///
/// ```
/// assert!(fusebox_policies::presets::lenient().slow_calls().is_none());
/// ```
#[must_use]
pub fn lenient() -> Policy {
    Policy {
        window: Window::count(200),
        failure_rate_threshold: 0.8,
        min_calls: 50,
        consecutive_failures: 0,
        slow_calls: None,
        open_timeout: secs(60),
        backoff: Backoff::Constant,
        jitter: 0.0,
        half_open_permits: 10,
        success_threshold: 5,
        max_concurrent: None,
        recovery: Recovery::Immediate,
        latency_histogram: false,
        rate_limit: None,
        timeout: None,
        retry: None,
        fleet: FleetMode::Local,
        chaos: None,
    }
}

/// The known names, quoted, for messages.
pub(crate) fn known() -> String {
    NAMES
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn by_name(name: &str) -> Result<Policy, PolicyError> {
    match name {
        "http-api" => Ok(http_api()),
        "database" => Ok(database()),
        "payment-provider" => Ok(payment_provider()),
        "aggressive" => Ok(aggressive()),
        "lenient" => Ok(lenient()),
        _ => Err(PolicyError::new(
            "preset",
            format!("must be one of {}, got {name:?}", known()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_valid_named_and_documented_with_its_numbers() {
        let source = include_str!("presets.rs");
        let docs: String = source
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("///"))
            .map(|l| format!("{}\n", l.strip_prefix(' ').unwrap_or(l)))
            .collect();
        for &name in NAMES {
            let p = by_name(name).unwrap();
            p.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
            let toml = p.to_toml();
            assert!(
                docs.contains(&format!("```toml\n{toml}```")),
                "the docs of {name} do not show:\n{toml}"
            );
            assert!(
                source.contains(&format!("[`\"{name}\"`](")),
                "{name} is missing from the module table"
            );
        }
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        assert_eq!(
            by_name("db").unwrap_err().to_string(),
            "preset: must be one of \"http-api\", \"database\", \"payment-provider\", \
             \"aggressive\", \"lenient\", got \"db\""
        );
    }
}
