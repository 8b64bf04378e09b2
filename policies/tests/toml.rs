//! `Policy::from_toml`: what it accepts, and the exact message for what it refuses.

use std::time::Duration;

use fusebox_policies::{
    Backoff, FleetMode, Policy, RateLimit, Recovery, Retry, RetryBackoff, Window,
};

const KEYS: &str = "preset, window, failure_rate_threshold, min_calls, consecutive_failures, \
                    slow_calls, open_timeout, backoff, jitter, half_open, max_concurrent, recovery, \
                    latency_histogram, rate_limit, timeout, retry, fleet, or chaos";
const RETRY_FORM: &str = "\"none\" or { max_attempts = 3, backoff = \"exponential\", base = \"50ms\", \
                          max = \"2s\", budget = 0.2 }";
const BACKOFFS: &str = "\"constant\", \"exponential\", \"full_jitter\", \"decorrelated\"";
const FULL_RETRY: &str = "retry = { max_attempts = 3, backoff = \"exponential\", base = \"50ms\", max = \"2s\", budget = 0.2 }";
const FLEET_FORM: &str = "\"local\", \"follow\" or { quorum = N }";
const DURATION: &str = "must be a duration such as \"30s\", \"500ms\" or \"1m 30s\", got";
const TIMEOUT: &str =
    "must be a duration such as \"30s\", \"500ms\" or \"1m 30s\", or \"none\", got";

#[test]
fn invalid_files_name_the_field_the_reason_and_the_position() {
    let presets = "\"http-api\", \"database\", \"payment-provider\", \"aggressive\", \"lenient\"";
    let window_form = "{ count = N } or { span = \"10s\", buckets = N }";
    let rate_limit_form = "\"unlimited\" or { rate = 100, per = \"1s\", burst = 20 }";
    let cases: Vec<(&str, String)> = vec![
        // Wrong types.
        ("min_calls = \"20\"", "1:13: min_calls: must be an integer in 1..=4294967295, got the string \"20\"".into()),
        ("min_calls = 2.5", "1:13: min_calls: must be an integer in 1..=4294967295, got the float 2.5".into()),
        ("failure_rate_threshold = \"half\"", "1:26: failure_rate_threshold: must be a number in (0, 1], got the string \"half\"".into()),
        ("jitter = \"0.1\"", "1:10: jitter: must be a number in [0, 1), got the string \"0.1\"".into()),
        ("consecutive_failures = true", "1:24: consecutive_failures: must be an integer in 0..=4294967295, got the boolean true".into()),
        ("jitter = 1979-05-27", "1:10: jitter: must be a number in [0, 1), got the datetime 1979-05-27".into()),
        ("jitter = [0.1]", "1:10: jitter: must be a number in [0, 1), got an array".into()),
        ("open_timeout = 30", format!("1:16: open_timeout: {DURATION} the integer 30")),
        ("half_open = 5", "1:13: half_open: must be { permits = N, successes = N }, got the integer 5".into()),
        ("window = 100", format!("1:10: window: must be {window_form}, got the integer 100")),
        ("latency_histogram = \"yes\"", "1:21: latency_histogram: must be true or false, got the string \"yes\"".into()),
        ("latency_histogram = 1", "1:21: latency_histogram: must be true or false, got the integer 1".into()),
        ("jitter = 0.1\nlatency_histogram = { on = true }", "2:21: latency_histogram: must be true or false, got a table".into()),
        ("rate_limit = \"x\"", format!("1:14: rate_limit: must be {rate_limit_form}, got the string \"x\"")),
        ("rate_limit = 100", format!("1:14: rate_limit: must be {rate_limit_form}, got the integer 100")),
        ("rate_limit = { rate = \"100\", per = \"1s\", burst = 1 }", "1:23: rate_limit.rate: must be an integer in 1..=4294967295, got the string \"100\"".into()),
        ("rate_limit = { rate = 1.5, per = \"1s\", burst = 1 }", "1:23: rate_limit.rate: must be an integer in 1..=4294967295, got the float 1.5".into()),
        ("rate_limit = { rate = 100, per = 1, burst = 1 }", format!("1:34: rate_limit.per: {DURATION} the integer 1")),
        ("rate_limit = { rate = 100, per = \"1\", burst = 1 }", format!("1:34: rate_limit.per: {DURATION} \"1\" (no unit; write \"1s\" or \"1ms\")")),
        ("timeout = 5", format!("1:11: timeout: {TIMEOUT} the integer 5")),
        ("timeout = 2.5", format!("1:11: timeout: {TIMEOUT} the float 2.5")),
        ("timeout = false", format!("1:11: timeout: {TIMEOUT} the boolean false")),
        ("timeout = { secs = 2 }", format!("1:11: timeout: {TIMEOUT} a table")),
        ("retry = 3", format!("1:9: retry: must be {RETRY_FORM}, got the integer 3")),
        ("retry = \"off\"", format!("1:9: retry: must be {RETRY_FORM}, got the string \"off\"")),
        ("retry.max_attempts = \"3\"", "1:22: retry.max_attempts: must be an integer in 1..=4294967295, got the string \"3\"".into()),
        ("retry = { max_attempts = 2.0 }", "1:26: retry.max_attempts: must be an integer in 1..=4294967295, got the float 2.0".into()),
        ("retry = { backoff = 1 }", format!("1:21: retry.backoff: must be one of {BACKOFFS}, got the integer 1")),
        ("retry = { base = 50 }", format!("1:18: retry.base: {DURATION} the integer 50")),
        ("retry = { max = \"2\" }", format!("1:17: retry.max: {DURATION} \"2\" (no unit; write \"2s\" or \"2ms\")")),
        ("retry = { budget = \"20%\" }", "1:20: retry.budget: must be a number in [0, 1], got the string \"20%\"".into()),
        ("rate_limit = { rate = 100, per = \"1s\", burst = true }", "1:48: rate_limit.burst: must be an integer in 1..=4294967295, got the boolean true".into()),
        // Out of range, positioned at the value.
        ("failure_rate_threshold = 1.5", "1:26: failure_rate_threshold: must be in (0, 1], got 1.5".into()),
        ("min_calls = 0", "1:13: min_calls: must be at least 1, got 0".into()),
        ("min_calls = -5", "1:13: min_calls: must be in 1..=4294967295, got -5".into()),
        ("window = { count = 0 }", "1:20: window.count: must be in 1..=1048576, got 0".into()),
        ("window = { span = \"5ms\", buckets = 10 }", "1:19: window.span: must be in [10ms, 7days], got 5ms".into()),
        ("window = { span = \"10s\", buckets = 2000 }", "1:36: window.buckets: must be in 1..=1024, got 2000".into()),
        ("max_concurrent = 0", "1:18: max_concurrent: must be in 1..=16777216, got 0".into()),
        ("max_concurrent = -1", "1:18: max_concurrent: must be in 1..=16777216, got -1".into()),
        ("open_timeout = \"8days\"", "1:16: open_timeout: must be in [1ns, 7days], got 8days".into()),
        ("\n\n\n\n\n\nhalf_open = { permits = 5, successes = 8 }", "7:40: half_open.successes: must be in 1..=5 (half_open.permits), got 8".into()),
        ("half_open = { permits = 0 }", "1:25: half_open.permits: must be in 1..=10000, got 0".into()),
        ("recovery = { ramp = \"30s\", start_share = 0 }", "1:42: recovery.start_share: must be in (0, 1], got 0".into()),
        ("recovery = { ramp = \"0s\", start_share = 0.5 }", "1:21: recovery.ramp: must be in [1ms, 7days], got 0s".into()),
        ("rate_limit = { rate = 0, per = \"1s\", burst = 1 }", "1:23: rate_limit.rate: must be in 1..=1000000000 (one call per nanosecond of rate_limit.per), got 0".into()),
        ("rate_limit = { rate = -1, per = \"1s\", burst = 1 }", "1:23: rate_limit.rate: must be in 1..=4294967295, got -1".into()),
        ("timeout = \"0s\"", "1:11: timeout: must be in [1ns, 7days], got 0s".into()),
        ("jitter = 0.1\ntimeout = \"0ms\"", "2:11: timeout: must be in [1ns, 7days], got 0s".into()),
        ("timeout = \"8days\"", "1:11: timeout: must be in [1ns, 7days], got 8days".into()),
        ("retry = { max_attempts = 0, backoff = \"constant\", base = \"1s\", max = \"1s\", budget = 0 }", "1:26: retry.max_attempts: must be at least 1, got 0".into()),
        ("retry = { max_attempts = -1 }", "1:26: retry.max_attempts: must be in 1..=4294967295, got -1".into()),
        ("retry = { max_attempts = 2, backoff = \"constant\", base = \"0s\", max = \"1s\", budget = 0 }", "1:58: retry.base: must be in [1ns, 7days], got 0s".into()),
        ("retry = { max_attempts = 2, backoff = \"constant\", base = \"1s\", max = \"8days\", budget = 0 }", "1:70: retry.max: must be in [1s, 7days], got 8days".into()),
        ("retry = { max_attempts = 2, backoff = \"constant\", base = \"1s\", max = \"1s\", budget = 1.5 }", "1:85: retry.budget: must be in [0, 1], got 1.5".into()),
        ("retry = { max_attempts = 2, backoff = \"constant\", base = \"1s\", max = \"1s\", budget = -0.5 }", "1:85: retry.budget: must be in [0, 1], got -0.5".into()),
        ("retry = { max_attempts = 2, backoff = \"constant\", base = \"1s\", max = \"1s\", budget = nan }", "1:85: retry.budget: must be in [0, 1], got NaN".into()),
        ("rate_limit = { rate = 10, per = \"0s\", burst = 1 }", "1:33: rate_limit.per: must be in [1ns, 7days], got 0s".into()),
        ("rate_limit = { rate = 10, per = \"8days\", burst = 1 }", "1:33: rate_limit.per: must be in [1ns, 7days], got 8days".into()),
        ("\nrate_limit = { rate = 10, per = \"1s\", burst = 0 }", "2:47: rate_limit.burst: must be at least 1, got 0".into()),
        ("rate_limit = { rate = 10, per = \"1s\", burst = 4294967296 }", "1:47: rate_limit.burst: must be in 1..=4294967295, got 4294967296".into()),
        // Limits that depend on another field point at the field named, else at its cause.
        ("window = { count = 10 }\nmin_calls = 20", "2:13: min_calls: must be in 1..=10 (the count window's size), got 20".into()),
        ("window = { count = 10 }", "1:20: min_calls: must be in 1..=10 (the count window's size), got 20".into()),
        ("window.count = 5", "1:16: min_calls: must be in 1..=5 (the count window's size), got 20".into()),
        ("half_open = { permits = 2 }", "1:25: half_open.successes: must be in 1..=2 (half_open.permits), got 3".into()),
        ("open_timeout = \"10m\"\nbackoff = { exponential = 2.0, max = \"5m\" }", "2:38: backoff.max: must be in [10m, 7days], got 5m".into()),
        ("retry = { max_attempts = 2, backoff = \"constant\", base = \"5s\", max = \"2s\", budget = 0 }", "1:70: retry.max: must be in [5s, 7days], got 2s".into()),
        ("retry = { max_attempts = 2, backoff = \"constant\", max = \"2s\", base = \"5s\", budget = 0 }", "1:57: retry.max: must be in [5s, 7days], got 2s".into()),
        ("rate_limit = { rate = 1000, per = \"100ns\", burst = 1 }", "1:23: rate_limit.rate: must be in 1..=100 (one call per nanosecond of rate_limit.per), got 1000".into()),
        ("rate_limit = { per = \"100ns\", rate = 1000, burst = 1 }", "1:38: rate_limit.rate: must be in 1..=100 (one call per nanosecond of rate_limit.per), got 1000".into()),
        ("preset = \"aggressive\"\nwindow = { count = 4 }", "2:20: min_calls: must be in 1..=4 (the count window's size), got 5".into()),
        // Durations.
        ("open_timeout = \"10\"", format!("1:16: open_timeout: {DURATION} \"10\" (no unit; write \"10s\" or \"10ms\")")),
        ("open_timeout = \"10 parsecs\"", format!("1:16: open_timeout: {DURATION} \"10 parsecs\" (unknown unit \"parsecs\"; units are ns, us, ms, s, m, h, d)")),
        ("open_timeout = \"-5s\"", format!("1:16: open_timeout: {DURATION} \"-5s\" (a duration cannot be negative)")),
        ("timeout = \"2\"", format!("1:11: timeout: {TIMEOUT} \"2\" (no unit; write \"2s\" or \"2ms\")")),
        ("timeout = \"off\"", format!("1:11: timeout: {TIMEOUT} \"off\" (unexpected \"off\")")),
        ("timeout = \"\"", format!("1:11: timeout: {TIMEOUT} \"\" (empty)")),
        ("timeout = \"-1s\"", format!("1:11: timeout: {TIMEOUT} \"-1s\" (a duration cannot be negative)")),
        ("slow_calls = { duration = \"\", rate = 0.5 }", format!("1:27: slow_calls.duration: {DURATION} \"\" (empty)")),
        ("backoff = { exponential = 2.0, max = \"99999999999999999999999h\" }", format!("1:38: backoff.max: {DURATION} \"99999999999999999999999h\" (too large or too precise)")),
        // NaN, infinities and huge numbers.
        ("jitter = nan", "1:10: jitter: must be in [0, 1), got NaN".into()),
        ("failure_rate_threshold = -nan", "1:26: failure_rate_threshold: must be in (0, 1], got NaN".into()),
        ("slow_calls = { duration = \"1s\", rate = inf }", "1:40: slow_calls.rate: must be in (0, 1], got inf".into()),
        ("jitter = 1e400", "1:10: jitter: must be in [0, 1), got 1e400".into()),
        ("min_calls = 99999999999999999999", "1:13: min_calls: must be in 1..=4294967295, got 99999999999999999999".into()),
        ("half_open = { successes = 4294967296 }", "1:27: half_open.successes: must be in 1..=10000, got 4294967296".into()),
        // Unknown and duplicate keys.
        ("min_call = 5", format!("1:1: min_call: unknown key; expected {KEYS} (did you mean min_calls?)")),
        ("colour = \"red\"", format!("1:1: colour: unknown key; expected {KEYS}")),
        ("latency_histograms = true", format!("1:1: latency_histograms: unknown key; expected {KEYS} (did you mean latency_histogram?)")),
        ("[defaults]\nmin_calls = 5", format!("1:2: defaults: unknown key; expected {KEYS}")),
        ("half_open = { permit = 5 }", "1:15: half_open.permit: unknown key; expected permits or successes (did you mean permits?)".into()),
        ("jitter = 0.1\njitter = 0.2", "2:1: jitter: duplicate key; it is already set at 1:1".into()),
        ("half_open = { permits = 1, permits = 2 }", "1:28: half_open.permits: duplicate key; it is already set at 1:15".into()),
        ("[half_open]\npermits = 2\npermits = 3", "3:1: half_open.permits: duplicate key; it is already set at 2:1".into()),
        ("[half_open]\npermits = 2\n[half_open]", "3:2: half_open: duplicate table; it is already defined at 1:2".into()),
        // Presets.
        ("preset = \"db\"", format!("1:10: preset: must be one of {presets}, got \"db\"")),
        ("preset = 5", format!("1:10: preset: must be one of {presets}, got the integer 5")),
        // Window shapes.
        ("window = { count = 10, span = \"1s\" }", format!("1:24: window.span: cannot be combined with window.count; a window is {window_form}")),
        ("window = { buckets = 10, count = 10 }", format!("1:26: window.count: cannot be combined with window.buckets; a window is {window_form}")),
        ("[window]\ncount = 10\nspan = \"1s\"", format!("3:1: window.span: cannot be combined with window.count; a window is {window_form}")),
        ("window = { span = \"10s\" }", "1:10: window.buckets: missing; a time window needs both span and buckets".into()),
        ("window = { size = 10 }", "1:12: window.size: unknown key; expected count, span, or buckets".into()),
        // Backoff, slow calls, bulkhead and recovery forms.
        ("backoff = \"exponential\"", "1:11: backoff: must be \"constant\" or { exponential = 2.0, max = \"5m\" }, got the string \"exponential\"".into()),
        ("backoff = { exponentail = 2.0, max = \"5m\" }", "1:13: backoff.exponentail: unknown key; expected exponential or max (did you mean exponential?)".into()),
        ("backoff = { exponential = 2.0 }", "1:11: backoff.max: missing; an exponential backoff needs both exponential and max".into()),
        ("backoff = { exponential = 0.5, max = \"5m\" }", "1:27: backoff.exponential: must be in [1, 1000], got 0.5".into()),
        ("slow_calls = \"on\"", "1:14: slow_calls: must be \"off\" or { duration = \"500ms\", rate = 0.8 }, got the string \"on\"".into()),
        ("slow_calls = { duration = \"1s\" }", "1:14: slow_calls.rate: missing; a slow-call rule needs both duration and rate".into()),
        ("max_concurrent = \"none\"", "1:18: max_concurrent: must be an integer in 1..=16777216, \"unlimited\" or { adaptive = \"aimd\", min = 4, max = 200, initial = 20 }, got the string \"none\"".into()),
        // Adaptive bulkheads.
        ("max_concurrent = { adaptive = \"x\" }", "1:31: max_concurrent.adaptive: must be \"aimd\", \"gradient2\" or \"vegas\", got \"x\"".into()),
        ("max_concurrent = { adaptive = 3 }", "1:31: max_concurrent.adaptive: must be \"aimd\", \"gradient2\" or \"vegas\", got the integer 3".into()),
        ("max_concurrent = { adaptive = \"aimd\", mins = 2 }", "1:39: max_concurrent.mins: unknown key; expected adaptive, min, max, or initial (did you mean min?)".into()),
        ("max_concurrent = { adaptive = \"aimd\", min = 0 }", "1:45: max_concurrent.min: must be in 1..=16777216, got 0".into()),
        ("max_concurrent = { adaptive = \"aimd\", min = 50, max = 10 }", "1:55: max_concurrent.max: must be in 50..=16777216 (max_concurrent.min), got 10".into()),
        ("max_concurrent = { adaptive = \"aimd\", max = 16777217 }", "1:45: max_concurrent.max: must be in 4..=16777216 (max_concurrent.min), got 16777217".into()),
        ("max_concurrent = { adaptive = \"vegas\", initial = 300 }", "1:50: max_concurrent.initial: must be in 4..=200 (max_concurrent.min, max_concurrent.max), got 300".into()),
        ("max_concurrent = { adaptive = \"vegas\", min = -1 }", "1:46: max_concurrent.min: must be in 1..=16777216, got -1".into()),
        ("max_concurrent = { min = 8 }", "1:18: max_concurrent.adaptive: missing; an adaptive limit needs its algorithm".into()),
        ("max_concurrent = true", "1:18: max_concurrent: must be an integer in 1..=16777216, \"unlimited\" or { adaptive = \"aimd\", min = 4, max = 200, initial = 20 }, got the boolean true".into()),
        ("recovery = \"slow\"", "1:12: recovery: must be \"immediate\" or { ramp = \"30s\", start_share = 0.1 }, got the string \"slow\"".into()),
        ("recovery = { ramp = \"30s\" }", "1:12: recovery.start_share: missing; a ramp needs both ramp and start_share".into()),
        ("rate_limit = \"none\"", format!("1:14: rate_limit: must be {rate_limit_form}, got the string \"none\"")),
        ("rate_limit = { per = \"1s\", burst = 5 }", "1:14: rate_limit.rate: missing; a rate limit needs rate, per and burst".into()),
        ("rate_limit = { rate = 100 }", "1:14: rate_limit.per: missing; a rate limit needs rate, per and burst".into()),
        ("rate_limit = { rate = 100, per = \"1s\" }", "1:14: rate_limit.burst: missing; a rate limit needs rate, per and burst".into()),
        ("rate_limit = {}", "1:14: rate_limit.rate: missing; a rate limit needs rate, per and burst".into()),
        ("rate_limit = { rate = 1, per = \"1s\", bursts = 1 }", "1:38: rate_limit.bursts: unknown key; expected rate, per, or burst (did you mean burst?)".into()),
        ("retry = { max_attempts = 3 }", "1:9: retry.backoff: missing; a retry needs max_attempts, backoff, base, max and budget".into()),
        ("retry = { backoff = \"constant\" }", "1:9: retry.max_attempts: missing; a retry needs max_attempts, backoff, base, max and budget".into()),
        ("retry = {}", "1:9: retry.max_attempts: missing; a retry needs max_attempts, backoff, base, max and budget".into()),
        ("retry = { max_attempts = 3, backoff = \"linear\" }", format!("1:39: retry.backoff: must be one of {BACKOFFS}, got \"linear\"")),
        ("retry = { max_attempts = 3, backoff = \"Exponential\" }", format!("1:39: retry.backoff: must be one of {BACKOFFS}, got \"Exponential\"")),
        ("retry = { max_attempt = 3 }", "1:11: retry.max_attempt: unknown key; expected max_attempts, backoff, base, max, or budget (did you mean max_attempts?)".into()),
        ("retrys = \"none\"", format!("1:1: retrys: unknown key; expected {KEYS} (did you mean retry?)")),
        ("timeouts = \"2s\"", format!("1:1: timeouts: unknown key; expected {KEYS} (did you mean timeout?)")),
        ("rate_limits = \"unlimited\"", format!("1:1: rate_limits: unknown key; expected {KEYS} (did you mean rate_limit?)")),
        ("flet = \"follow\"", format!("1:1: flet: unknown key; expected {KEYS} (did you mean fleet?)")),
        ("fleet = { quorom = 3 }", "1:11: fleet.quorom: unknown key; expected quorum (did you mean quorum?)".into()),
        ("fleet = { size = 3 }", "1:11: fleet.size: unknown key; expected quorum".into()),
        ("fleet = \"x\"", format!("1:9: fleet: must be {FLEET_FORM}, got the string \"x\"")),
        ("fleet = \"quorum\"", format!("1:9: fleet: must be {FLEET_FORM}, got the string \"quorum\"")),
        ("fleet = 3", format!("1:9: fleet: must be {FLEET_FORM}, got the integer 3")),
        ("fleet = true", format!("1:9: fleet: must be {FLEET_FORM}, got the boolean true")),
        ("fleet = { quorum = \"3\" }", "1:20: fleet.quorum: must be an integer in 2..=1000, got the string \"3\"".into()),
        ("fleet = { quorum = -1 }", "1:20: fleet.quorum: must be in 2..=1000, got -1".into()),
        ("fleet = { quorum = 0 }", "1:20: fleet.quorum: must be in 2..=1000, got 0".into()),
        ("fleet = { quorum = 1 }", "1:20: fleet.quorum: must be in 2..=1000, got 1; a quorum of one instance is fleet = \"follow\"".into()),
        ("jitter = 0.1\nfleet = { quorum = 1001 }", "2:20: fleet.quorum: must be in 2..=1000, got 1001".into()),
        ("fleet = {}", "1:9: fleet.quorum: missing; a quorum needs its number of instances".into()),
        // Not TOML at all.
        ("min_calls = ", "1:13: min_calls: invalid TOML: string values must be quoted, expected literal string".into()),
        ("min_calls 5", "1:11: min_calls: invalid TOML: key with no value, expected `=`".into()),
        ("= 5", "1:1: toml: invalid TOML: unquoted keys cannot be empty, expected letters, numbers, `-`, `_`".into()),
        ("[half_open\npermits = 1", "1:11: half_open: invalid TOML: unclosed table, expected `]`".into()),
        ("jitter = 0.1\nopen_timeout = \"30s", "2:20: open_timeout: invalid TOML: invalid basic string, expected `\"`".into()),
    ];
    assert!(cases.len() >= 25);
    for (input, expected) in &cases {
        let err = Policy::from_toml(input).expect_err(input);
        assert_eq!(&err.to_string(), expected, "input: {input:?}");
        let (line, column) = err.position().expect("every file error has a position");
        assert!(expected.starts_with(&format!("{line}:{column}: {}: ", err.field())));
        assert!(!err.reason().contains("untagged"), "{err}");
    }
}

/// A range that another field sets: the error is on the field written out of range, at its
/// value, and names the field that sets the range, so that a checker listing every error of a
/// file can tell it from an error judged against a value it set aside.
#[test]
fn a_range_set_by_another_field_is_one_error_on_the_field_written() {
    let err = Policy::from_toml("window = { count = 10 }\nmin_calls = 50\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "2:13: min_calls: must be in 1..=10 (the count window's size), got 50"
    );
    assert_eq!(err.limited_by(), ["window.count"]);

    let cases = [
        (
            "window = { span = \"5ms\", buckets = 10 }",
            "window.span",
            &["window.buckets"][..],
        ),
        (
            "half_open = { permits = 2, successes = 8 }",
            "half_open.successes",
            &["half_open.permits"],
        ),
        (
            "open_timeout = \"10m\"\nbackoff = { exponential = 2.0, max = \"1s\" }",
            "backoff.max",
            &["open_timeout"],
        ),
        (
            "window = { span = \"10s\", buckets = 5000 }",
            "window.buckets",
            &[],
        ),
        (
            "window = { count = 0 }\nmin_calls = 50",
            "window.count",
            &[],
        ),
        ("jitter = 2.0", "jitter", &[]),
    ];
    for (input, field, limits) in cases {
        let err = Policy::from_toml(input).unwrap_err();
        assert_eq!((err.field(), err.limited_by()), (field, limits), "{input}");
    }
}

#[test]
fn an_empty_file_is_the_default_policy() {
    assert_eq!(Policy::from_toml(""), Ok(Policy::default()));
    assert_eq!(
        Policy::from_toml("# nothing to change\n\n"),
        Ok(Policy::default())
    );
}

#[test]
fn the_api_schema_example_parses() {
    let p = Policy::from_toml(
        r#"
window = { count = 100 }                 # or { span = "10s", buckets = 10 }
failure_rate_threshold = 0.5
min_calls = 20
consecutive_failures = 0                 # 0 = off
slow_calls = { duration = "500ms", rate = 0.8 }   # optional
open_timeout = "30s"
backoff = { exponential = 2.0, max = "5m" }       # or "constant"
jitter = 0.1
half_open = { permits = 5, successes = 3 }
max_concurrent = 64                      # optional bulkhead
recovery = { ramp = "30s", start_share = 0.1 }    # optional; absent = immediate
latency_histogram = true                 # optional; absent = false
rate_limit = { rate = 100, per = "1s", burst = 20 }   # GCRA; absent = unlimited
timeout = "2s"                                        # per attempt; absent = none
retry = { max_attempts = 3, backoff = "decorrelated", base = "50ms", max = "2s", budget = 0.2 }
"#,
    )
    .unwrap();
    let expected = Policy::builder()
        .window(Window::count(100))
        .failure_rate_threshold(0.5)
        .min_calls(20)
        .consecutive_failures(0)
        .slow_calls(Duration::from_millis(500), 0.8)
        .open_timeout(Duration::from_secs(30))
        .backoff(Backoff::exponential(2.0, Duration::from_secs(300)))
        .jitter(0.1)
        .half_open_permits(5)
        .success_threshold(3)
        .max_concurrent(64)
        .recovery(Recovery::ramp(Duration::from_secs(30), 0.1))
        .latency_histogram(true)
        .rate_limit(RateLimit::new(100, Duration::from_secs(1), 20))
        .timeout(Duration::from_secs(2))
        .retry(
            Retry::new(3)
                .with_backoff(RetryBackoff::Decorrelated)
                .with_base(Duration::from_millis(50))
                .with_max(Duration::from_secs(2))
                .with_budget(0.2),
        )
        .build()
        .unwrap();
    assert_eq!(p, expected);
}

#[test]
fn retry_is_a_table_or_none_and_absent_by_default() {
    assert_eq!(Policy::from_toml("").unwrap().retry(), None);
    assert_eq!(Policy::from_toml("retry = \"none\""), Ok(Policy::default()));
    // The full form with Retry::new's defaults.
    let p = Policy::from_toml(FULL_RETRY).unwrap();
    assert_eq!(p.retry(), Some(Retry::new(3)));
    for (name, backoff) in [
        ("constant", RetryBackoff::Constant),
        ("exponential", RetryBackoff::Exponential),
        ("full_jitter", RetryBackoff::FullJitter),
        ("decorrelated", RetryBackoff::Decorrelated),
    ] {
        let text = FULL_RETRY.replace("\"exponential\"", &format!("{name:?}"));
        let p = Policy::from_toml(&text).unwrap();
        assert_eq!(p.retry().map(|r| r.backoff()), Some(backoff), "{text}");
    }
    // Any key order, a table section, dotted keys; integers for the budget.
    let expected = Retry::new(1)
        .with_backoff(RetryBackoff::Constant)
        .with_base(Duration::from_millis(1))
        .with_max(Duration::from_millis(1))
        .with_budget(1.0);
    for text in [
        "retry = { budget = 1, max = \"1ms\", base = \"1ms\", backoff = \"constant\", max_attempts = 1 }",
        "[retry]\nmax_attempts = 1\nbackoff = \"constant\"\nbase = \"1ms\"\nmax = \"1ms\"\nbudget = 1.0",
        "retry.max_attempts = 1\nretry.backoff = \"constant\"\nretry.base = \"1ms\"\nretry.max = \"1ms\"\nretry.budget = 1",
    ] {
        assert_eq!(
            Policy::from_toml(text).unwrap().retry(),
            Some(expected),
            "{text}"
        );
    }
    // A preset has none; a file may add one over it.
    let p = Policy::from_toml(&format!("preset = \"lenient\"\n{FULL_RETRY}")).unwrap();
    assert_eq!(p.to_builder().no_retry().build(), Policy::preset("lenient"));
    // Each error names its field path, at the value.
    for (input, field, column) in [
        ("retry = { max_attempts = \"3\" }", "retry.max_attempts", 26),
        ("retry = { backoff = \"linear\" }", "retry.backoff", 21),
        ("retry = { base = 0.05 }", "retry.base", 18),
        ("retry = { max = \"forever\" }", "retry.max", 17),
        ("retry = { budget = true }", "retry.budget", 20),
        ("retry = [3]", "retry", 9),
    ] {
        let err = Policy::from_toml(input).unwrap_err();
        assert_eq!(
            (err.field(), err.position()),
            (field, Some((1, column))),
            "{input}"
        );
    }
    let err = Policy::from_toml(
        "retry = { max_attempts = 2, backoff = \"constant\", base = \"1s\", max = \"1ms\", budget = 0 }",
    )
    .unwrap_err();
    assert_eq!(err.limited_by(), ["retry.base"]);
}

#[test]
fn timeout_is_a_duration_or_none_and_absent_by_default() {
    assert_eq!(Policy::from_toml("").unwrap().timeout(), None);
    assert_eq!(
        Policy::from_toml("timeout = \"none\""),
        Ok(Policy::default())
    );
    for (text, expected) in [
        ("timeout = \"2s\"", Duration::from_secs(2)),
        ("timeout = \"250ms\"", Duration::from_millis(250)),
        ("timeout = \"1m 30s\"", Duration::from_secs(90)),
        ("timeout = \"1ns\"", Duration::from_nanos(1)),
        ("timeout = \"7days\"", Duration::from_secs(7 * 86_400)),
    ] {
        assert_eq!(
            Policy::from_toml(text).unwrap().timeout(),
            Some(expected),
            "{text}"
        );
    }
    let p = Policy::from_toml("preset = \"http-api\"\ntimeout = \"5s\"").unwrap();
    assert_eq!(p.timeout(), Some(Duration::from_secs(5)));
    assert_eq!(
        p.to_builder().no_timeout().build(),
        Policy::preset("http-api")
    );
    // A zero or wrongly typed timeout names the field, at the value.
    for input in [
        "timeout = \"0s\"",
        "timeout = 5",
        "timeout = \"5\"",
        "timeout = \"never\"",
    ] {
        let err = Policy::from_toml(input).unwrap_err();
        assert_eq!(err.field(), "timeout", "{input}");
        assert_eq!(err.position(), Some((1, 11)), "{input}");
        assert!(err.limited_by().is_empty());
    }
}

#[test]
fn rate_limit_is_a_table_or_unlimited_and_absent_by_default() {
    assert_eq!(Policy::from_toml("").unwrap().rate_limit(), None);
    assert_eq!(
        Policy::from_toml("rate_limit = \"unlimited\""),
        Ok(Policy::default())
    );
    let p = Policy::from_toml("rate_limit = { rate = 100, per = \"1s\", burst = 20 }").unwrap();
    let limit = p.rate_limit().unwrap();
    assert_eq!(limit, RateLimit::new(100, Duration::from_secs(1), 20));
    assert_eq!(limit.emission_interval(), Duration::from_millis(10));
    // In any key order, as a table section or dotted keys.
    for text in [
        "rate_limit = { burst = 20, per = \"1s\", rate = 100 }",
        "[rate_limit]\nrate = 100\nper = \"1s\"\nburst = 20",
        "rate_limit.rate = 100\nrate_limit.per = \"1000ms\"\nrate_limit.burst = 20",
    ] {
        assert_eq!(Policy::from_toml(text), Ok(p.clone()), "{text}");
    }
    // Burst 1: evenly spaced; a long period.
    let even = Policy::from_toml("rate_limit = { rate = 3, per = \"1m\", burst = 1 }").unwrap();
    let even = even.rate_limit().unwrap();
    assert_eq!(even.burst(), 1);
    assert_eq!(even.emission_interval(), Duration::from_secs(20));
    // A preset has none; a file may add one over it.
    let p = Policy::from_toml(
        "preset = \"database\"\nrate_limit = { rate = 5, per = \"1s\", burst = 5 }",
    )
    .unwrap();
    assert_eq!(
        p.to_builder().no_rate_limit().build(),
        Policy::preset("database")
    );
}

#[test]
fn latency_histogram_is_a_boolean_off_by_default() {
    assert!(!Policy::from_toml("").unwrap().latency_histogram());
    assert!(
        Policy::from_toml("latency_histogram = true")
            .unwrap()
            .latency_histogram()
    );
    assert!(
        !Policy::from_toml("latency_histogram = false")
            .unwrap()
            .latency_histogram()
    );
    assert_eq!(
        Policy::from_toml("latency_histogram = false"),
        Ok(Policy::default())
    );
    // A preset leaves it off; a file may turn it on over the preset.
    let p = Policy::from_toml("preset = \"database\"\nlatency_histogram = true").unwrap();
    assert!(p.latency_histogram());
    assert_eq!(
        p.to_builder().latency_histogram(false).build(),
        Policy::preset("database")
    );
    for (input, got) in [
        ("latency_histogram = \"yes\"", "the string \"yes\""),
        ("latency_histogram = \"true\"", "the string \"true\""),
        ("latency_histogram = 1", "the integer 1"),
        ("latency_histogram = 0.0", "the float 0.0"),
        ("latency_histogram = [true]", "an array"),
    ] {
        let err = Policy::from_toml(input).unwrap_err();
        assert_eq!(err.field(), "latency_histogram", "{input}");
        assert_eq!(err.position(), Some((1, 21)), "{input}");
        assert_eq!(err.reason(), format!("must be true or false, got {got}"));
        assert!(err.limited_by().is_empty());
    }
}

#[test]
fn tables_integers_and_keywords_in_every_form() {
    let p = Policy::from_toml(
        r#"
failure_rate_threshold = 1        # an integer where a number is expected
min_calls = 0x10                  # hexadecimal
jitter = 0
open_timeout = "1m 30s"
slow_calls = "off"
backoff = "constant"
max_concurrent = "unlimited"
recovery = "immediate"

[window]
span = "10s"
buckets = 10

[half_open]
permits = 8
"#,
    )
    .unwrap();
    assert_eq!(p.failure_rate_threshold(), 1.0);
    assert_eq!(p.min_calls(), 16);
    assert_eq!(p.open_timeout(), Duration::from_secs(90));
    assert_eq!(p.window(), Window::time(Duration::from_secs(10), 10));
    assert_eq!(p.half_open_permits(), 8);
    assert_eq!(p.success_threshold(), 3, "successes keeps its default");
    assert_eq!(p.max_concurrent(), None);
}

#[test]
fn a_preset_is_a_starting_point_that_fields_override() {
    let p =
        Policy::from_toml("preset = \"payment-provider\"\njitter = 0\nhalf_open = { permits = 4 }")
            .unwrap();
    let base = Policy::preset("payment-provider").unwrap();
    assert_eq!(p.jitter(), 0.0);
    assert_eq!(p.half_open_permits(), 4);
    assert_eq!(p.success_threshold(), base.success_threshold());
    assert_eq!(p.window(), base.window());
    assert_eq!(p.recovery(), base.recovery());
    // The preset applies first wherever it is written.
    let late =
        Policy::from_toml("jitter = 0\nhalf_open = { permits = 4 }\npreset = \"payment-provider\"");
    assert_eq!(late, Ok(p));
}

#[test]
fn fleet_is_a_keyword_or_a_quorum_and_local_by_default() {
    assert_eq!(Policy::from_toml("").unwrap().fleet(), FleetMode::Local);
    assert_eq!(
        Policy::from_toml("fleet = \"local\""),
        Ok(Policy::default())
    );
    assert_eq!(
        Policy::from_toml("fleet = \"follow\"").unwrap().fleet(),
        FleetMode::Follow
    );
    for text in [
        "fleet = { quorum = 3 }",
        "[fleet]\nquorum = 3",
        "fleet.quorum = 3",
    ] {
        assert_eq!(
            Policy::from_toml(text).unwrap().fleet(),
            FleetMode::Quorum(3),
            "{text}"
        );
    }
    for (n, ok) in [(2, true), (1000, true), (1, false), (1001, false)] {
        let text = format!("fleet = {{ quorum = {n} }}");
        assert_eq!(Policy::from_toml(&text).is_ok(), ok, "{text}");
    }
    // Presets are local; a file may change that over one.
    for name in Policy::preset_names() {
        assert_eq!(Policy::preset(name).unwrap().fleet(), FleetMode::Local);
    }
    let p = Policy::from_toml("preset = \"database\"\nfleet = \"follow\"").unwrap();
    assert_eq!(
        p.to_builder().fleet(FleetMode::Local).build(),
        Policy::preset("database")
    );
}

#[test]
fn serde_errors_are_readable_too() {
    let err = |text: &str| {
        toml::from_str::<Policy>(text)
            .unwrap_err()
            .message()
            .to_owned()
    };
    assert_eq!(
        err("backoff = \"exponentail\""),
        "invalid value: string \"exponentail\", expected \"constant\" or { exponential = 2.0, max = \"5m\" }"
    );
    assert_eq!(
        err("backoff = { exponentail = 2.0 }"),
        "unknown field `exponentail`, expected `exponential` or `max`"
    );
    assert_eq!(
        err("max_concurrent = \"none\""),
        "invalid value: string \"none\", expected an integer in 1..=16777216, \"unlimited\" or \
         { adaptive = \"aimd\", min = 4, max = 200, initial = 20 }"
    );
    assert_eq!(
        err("max_concurrent = { adaptive = \"x\" }"),
        "max_concurrent.adaptive: must be \"aimd\", \"gradient2\" or \"vegas\", got \"x\""
    );
    assert_eq!(
        err("max_concurrent = { adaptive = \"aimd\", mins = 2 }"),
        "unknown field `mins`, expected one of `adaptive`, `min`, `max`, `initial`"
    );
    assert_eq!(
        err("half_open = { permits = 2, successes = 3 }"),
        "half_open.successes: must be in 1..=2 (half_open.permits), got 3"
    );
    assert_eq!(
        err("latency_histogram = \"yes\""),
        "invalid type: string \"yes\", expected a boolean"
    );
    assert_eq!(
        err("rate_limit = \"none\""),
        "invalid value: string \"none\", expected \"unlimited\" or { rate = 100, per = \"1s\", burst = 20 }"
    );
    assert_eq!(
        err("timeout = 5"),
        "invalid type: integer `5`, expected a duration such as \"30s\", \"500ms\" or \"1m 30s\", or \"none\""
    );
    assert_eq!(
        err("timeout = \"off\""),
        "invalid value: string \"off\", expected a duration such as \"30s\", \"500ms\" or \"1m 30s\", or \"none\""
    );
    assert_eq!(
        err("timeout = \"0s\""),
        "timeout: must be in [1ns, 7days], got 0s"
    );
    assert_eq!(
        err("retry = \"off\""),
        "invalid value: string \"off\", expected \"none\" or { max_attempts = 3, backoff = \"exponential\", \
         base = \"50ms\", max = \"2s\", budget = 0.2 }"
    );
    assert_eq!(
        err("retry = { max_attempts = 3, backoff = \"linear\" }"),
        "retry.backoff: must be one of \"constant\", \"exponential\", \"full_jitter\", \"decorrelated\", \
         got \"linear\""
    );
    assert_eq!(
        err("fleet = \"quorum\""),
        "invalid value: string \"quorum\", expected \"local\", \"follow\" or { quorum = N }"
    );
    assert_eq!(
        err("fleet = { quorom = 3 }"),
        "unknown field `quorom`, expected `quorum`"
    );
    assert_eq!(
        err("fleet = { quorum = 0 }"),
        "fleet.quorum: must be in 2..=1000, got 0"
    );
    assert_eq!(
        err("retry = { max_attempts = 3 }"),
        "retry.backoff: missing; a retry needs max_attempts, backoff, base, max and budget"
    );
    assert_eq!(
        err(&FULL_RETRY.replace("0.2", "nan")),
        "retry.budget: must be in [0, 1], got NaN"
    );
    assert_eq!(
        err("retry = { attempts = 3 }"),
        "unknown field `attempts`, expected one of `max_attempts`, `backoff`, `base`, `max`, `budget`"
    );
    assert_eq!(
        err("rate_limit = { rate = 100 }"),
        "rate_limit.per: missing; a rate limit needs rate, per and burst"
    );
    assert_eq!(
        err("rate_limit = { rate = 100, per = \"1s\", burst = 0 }"),
        "rate_limit.burst: must be at least 1, got 0"
    );
    assert_eq!(
        err("preset = \"db\""),
        "preset: must be one of \"http-api\", \"database\", \"payment-provider\", \"aggressive\", \
         \"lenient\", got \"db\""
    );
}
