//! `RegistryConfig`: sections, inheritance, names, and every kind of invalid file.

use std::time::Duration;

use fusebox_policies::{
    ConfigError, FleetMode, Policy, RateLimit, RegistryConfig, Retry, RetryBackoff, Window,
    validate_name,
};

const FILE: &str = r#"
# The registry's default, over Policy::default().
[defaults]
open_timeout = "10s"
half_open = { permits = 4, successes = 2 }

[breakers."stripe"]
preset = "payment-provider"

[breakers."stripe.charges"]
half_open = { permits = 5 }

[breakers."stripe.charges.eu"]
jitter = 0.05

[breakers."search.autocomplete"]
window = { count = 20 }
min_calls = 5

[breakers.'db:primary']
max_concurrent = 32
"#;

#[test]
fn a_valid_file_resolves_every_breaker_along_its_listed_prefixes() {
    let config = RegistryConfig::from_toml(FILE).unwrap();
    let defaults = config.defaults();
    assert_eq!(defaults.open_timeout(), Duration::from_secs(10));
    assert_eq!(
        (defaults.half_open_permits(), defaults.success_threshold()),
        (4, 2)
    );
    assert_eq!(defaults.min_calls(), Policy::default().min_calls());

    let sections: Vec<(&str, usize)> = config
        .breakers()
        .iter()
        .map(|b| (b.name.as_str(), b.line))
        .collect();
    assert_eq!(
        sections,
        [
            ("stripe", 7),
            ("stripe.charges", 10),
            ("stripe.charges.eu", 13),
            ("search.autocomplete", 16),
            ("db:primary", 20),
        ]
    );

    let policies = config.resolve().unwrap();
    assert_eq!(policies.len(), 5);
    let preset = Policy::preset("payment-provider").unwrap();
    assert_eq!(policies["stripe"], preset);
    let charges = preset.to_builder().half_open_permits(5).build().unwrap();
    assert_eq!(policies["stripe.charges"], charges);
    assert_eq!(
        policies["stripe.charges.eu"],
        charges.to_builder().jitter(0.05).build().unwrap()
    );
    // `search` is not listed: `search.autocomplete` patches the defaults.
    let autocomplete = &policies["search.autocomplete"];
    assert_eq!(autocomplete.window(), Window::count(20));
    assert_eq!(autocomplete.open_timeout(), Duration::from_secs(10));
    assert_eq!(policies["db:primary"].max_concurrent(), Some(32));
    assert_eq!(config.breaker("db:primary").unwrap().patch.preset(), None);
}

#[test]
fn latency_histogram_in_the_defaults_is_inherited_by_sections_that_do_not_set_it() {
    let config = RegistryConfig::from_toml(
        r#"
[defaults]
latency_histogram = true

[breakers."stripe"]
jitter = 0.1

[breakers."stripe.charges"]
latency_histogram = false

[breakers."stripe.charges.eu"]
min_calls = 5

[breakers."search"]
preset = "http-api"
"#,
    )
    .unwrap();
    assert!(config.defaults().latency_histogram());
    let policies = config.resolve().unwrap();
    assert!(policies["stripe"].latency_histogram());
    assert!(!policies["stripe.charges"].latency_histogram());
    // Inherited from `stripe.charges`, which turned it off.
    assert!(!policies["stripe.charges.eu"].latency_histogram());
    // A preset starts over, and presets leave it off.
    assert!(!policies["search"].latency_histogram());

    // A section can turn it on over defaults that leave it off.
    let config =
        RegistryConfig::from_toml("[breakers.\"db\"]\nlatency_histogram = true\n").unwrap();
    assert!(!config.defaults().latency_histogram());
    assert!(config.resolve().unwrap()["db"].latency_histogram());
}

#[test]
fn rate_limit_in_the_defaults_is_inherited_and_sections_override_it() {
    let config = RegistryConfig::from_toml(
        r#"
[defaults]
rate_limit = { rate = 100, per = "1s", burst = 20 }

[breakers."stripe"]
jitter = 0.1

[breakers."stripe.charges"]
rate_limit = { rate = 10 }

[breakers."stripe.charges.eu"]
rate_limit = { burst = 1 }

[breakers."stripe.refunds"]
rate_limit = "unlimited"

[breakers."search"]
preset = "http-api"

[breakers."search.suggest"]
rate_limit = { rate = 5, per = "1s", burst = 5 }
"#,
    )
    .unwrap();
    let second = std::time::Duration::from_secs(1);
    let limit = RateLimit::new(100, second, 20);
    assert_eq!(config.defaults().rate_limit(), Some(limit));
    let policies = config.resolve().unwrap();
    assert_eq!(policies["stripe"].rate_limit(), Some(limit));
    // Key by key over the inherited limit.
    assert_eq!(
        policies["stripe.charges"].rate_limit(),
        Some(RateLimit::new(10, second, 20))
    );
    assert_eq!(
        policies["stripe.charges.eu"].rate_limit(),
        Some(RateLimit::new(10, second, 1))
    );
    assert_eq!(policies["stripe.refunds"].rate_limit(), None);
    // A preset starts over, and presets have no rate limit.
    assert_eq!(policies["search"].rate_limit(), None);
    assert_eq!(
        policies["search.suggest"].rate_limit(),
        Some(RateLimit::new(5, second, 5))
    );
}

#[test]
fn fleet_in_the_defaults_is_inherited_and_sections_override_it() {
    let config = RegistryConfig::from_toml(
        r#"
[defaults]
fleet = "follow"

[breakers."stripe"]
fleet = { quorum = 3 }

[breakers."stripe.charges"]
fleet = {}

[breakers."stripe.refunds"]
fleet = "local"

[breakers."search"]
jitter = 0.1
"#,
    )
    .unwrap();
    assert_eq!(config.defaults().fleet(), FleetMode::Follow);
    let policies = config.resolve().unwrap();
    assert_eq!(policies["stripe"].fleet(), FleetMode::Quorum(3));
    assert_eq!(policies["stripe.charges"].fleet(), FleetMode::Quorum(3));
    assert_eq!(policies["stripe.refunds"].fleet(), FleetMode::Local);
    assert_eq!(policies["search"].fleet(), FleetMode::Follow);

    // A section may set only `fleet`.
    let config = RegistryConfig::from_toml("[breakers.\"db\"]\nfleet = \"follow\"\n").unwrap();
    assert_eq!(config.defaults().fleet(), FleetMode::Local);
    let db = &config.resolve().unwrap()["db"];
    assert_eq!(db.fleet(), FleetMode::Follow);
    assert_eq!(
        db.to_builder().fleet(FleetMode::Local).build(),
        Ok(Policy::default())
    );
    let err = RegistryConfig::from_toml("[breakers.\"db\"]\nfleet = { quorum = 1 }\n").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("2:20: breakers.\"db\": fleet.quorum: must be in 2..=1000, got 1"),
        "{err}"
    );
}

#[test]
fn timeout_in_the_defaults_is_inherited_and_sections_override_it() {
    let config = RegistryConfig::from_toml(
        r#"
[defaults]
timeout = "2s"

[breakers."stripe"]
jitter = 0.1

[breakers."stripe.charges"]
timeout = "500ms"

[breakers."stripe.charges.eu"]
min_calls = 5

[breakers."stripe.refunds"]
timeout = "none"

[breakers."search"]
preset = "http-api"
"#,
    )
    .unwrap();
    let ms = std::time::Duration::from_millis;
    assert_eq!(config.defaults().timeout(), Some(ms(2000)));
    let policies = config.resolve().unwrap();
    assert_eq!(policies["stripe"].timeout(), Some(ms(2000)));
    assert_eq!(policies["stripe.charges"].timeout(), Some(ms(500)));
    assert_eq!(policies["stripe.charges.eu"].timeout(), Some(ms(500)));
    assert_eq!(policies["stripe.refunds"].timeout(), None);
    // A preset starts over, and presets have no timeout.
    assert_eq!(policies["search"].timeout(), None);

    // A section can set one over defaults that have none.
    let config = RegistryConfig::from_toml("[breakers.\"db\"]\ntimeout = \"1s\"\n").unwrap();
    assert_eq!(config.defaults().timeout(), None);
    assert_eq!(config.resolve().unwrap()["db"].timeout(), Some(ms(1000)));
}

#[test]
fn retry_in_the_defaults_is_inherited_and_sections_override_it() {
    let config = RegistryConfig::from_toml(
        r#"
[defaults]
retry = { max_attempts = 3, backoff = "decorrelated", base = "50ms", max = "2s", budget = 0.2 }

[breakers."stripe"]
jitter = 0.1

[breakers."stripe.charges"]
retry = { max_attempts = 5, backoff = "exponential" }

[breakers."stripe.charges.eu"]
retry.max = "500ms"

[breakers."stripe.refunds"]
retry = "none"

[breakers."search"]
preset = "http-api"

[breakers."search.suggest"]
retry = { max_attempts = 2, backoff = "constant", base = "10ms", max = "10ms", budget = 0.05 }
"#,
    )
    .unwrap();
    let ms = std::time::Duration::from_millis;
    let defaults = Retry::new(3).with_backoff(RetryBackoff::Decorrelated);
    assert_eq!(config.defaults().retry(), Some(defaults));
    let policies = config.resolve().unwrap();
    assert_eq!(policies["stripe"].retry(), Some(defaults));
    // Key by key over the inherited retry.
    let charges = Retry::new(5);
    assert_eq!(policies["stripe.charges"].retry(), Some(charges));
    assert_eq!(
        policies["stripe.charges.eu"].retry(),
        Some(charges.with_max(ms(500)))
    );
    assert_eq!(policies["stripe.refunds"].retry(), None);
    // A preset starts over, and presets do not retry.
    assert_eq!(policies["search"].retry(), None);
    assert_eq!(
        policies["search.suggest"].retry(),
        Some(
            Retry::new(2)
                .with_backoff(RetryBackoff::Constant)
                .with_base(ms(10))
                .with_max(ms(10))
                .with_budget(0.05)
        )
    );
}

#[test]
fn an_empty_file_is_the_default_policy_and_no_breakers() {
    for text in ["", "# nothing\n", "[defaults]\n[breakers]\n"] {
        let config = RegistryConfig::from_toml(text).unwrap();
        assert_eq!(config.defaults(), &Policy::default());
        assert!(config.breakers().is_empty());
        assert!(config.resolve().unwrap().is_empty());
    }
}

#[test]
fn a_child_error_caused_by_its_parent_is_reported_in_the_child() {
    let err = RegistryConfig::from_toml(
        "[breakers.\"a\"]\nwindow = { count = 10 }\nmin_calls = 5\n\n[breakers.\"a.b\"]\nmin_calls = 20\n",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "6:13: breakers.\"a.b\": min_calls: must be in 1..=10 (the count window's size), got 20"
    );
    assert_eq!(err.breaker(), Some("a.b"));
    assert_eq!(err.field(), "min_calls");
    assert_eq!(
        err.reason(),
        "must be in 1..=10 (the count window's size), got 20"
    );
    assert_eq!(err.position(), Some((6, 13)));
    assert!(!err.is_in_defaults());
}

#[test]
fn invalid_files_name_the_section_field_reason_and_position() {
    let keys = "preset, window, failure_rate_threshold, min_calls, consecutive_failures, slow_calls, \
                open_timeout, backoff, jitter, half_open, max_concurrent, recovery, latency_histogram, \
                rate_limit, timeout, retry, fleet, or chaos";
    let cases: Vec<(&str, String)> = vec![
        (
            "[breakers.\"stripe.charges\"]\nhalf_open = { permits = 5, successes = 8 }",
            "2:40: breakers.\"stripe.charges\": half_open.successes: must be in 1..=5 (half_open.permits), got 8".into(),
        ),
        ("[defaults]\nmin_calls = 0", "2:13: defaults: min_calls: must be at least 1, got 0".into()),
        (
            "[defaults]\nlatency_histogram = \"yes\"",
            "2:21: defaults: latency_histogram: must be true or false, got the string \"yes\"".into(),
        ),
        (
            "[defaults]\nlatency_histogram = true\n\n[breakers.\"a\"]\nlatency_histogram = 1",
            "5:21: breakers.\"a\": latency_histogram: must be true or false, got the integer 1".into(),
        ),
        (
            "[defaults]\nrate_limit = \"x\"",
            "2:14: defaults: rate_limit: must be \"unlimited\" or { rate = 100, per = \"1s\", burst = 20 }, got the string \"x\"".into(),
        ),
        (
            "[defaults]\nrate_limit = { rate = 0, per = \"1s\", burst = 1 }",
            "2:23: defaults: rate_limit.rate: must be in 1..=1000000000 (one call per nanosecond of rate_limit.per), got 0".into(),
        ),
        (
            "[breakers.\"a\"]\nrate_limit = { rate = 5 }",
            "2:14: breakers.\"a\": rate_limit.per: missing; a rate limit needs rate, per and burst".into(),
        ),
        (
            "[defaults]\nrate_limit = { rate = 5, per = \"1s\", burst = 2 }\n[breakers.\"a\"]\nrate_limit = { burst = 0 }",
            "4:24: breakers.\"a\": rate_limit.burst: must be at least 1, got 0".into(),
        ),
        (
            "[defaults]\ntimeout = 5",
            "2:11: defaults: timeout: must be a duration such as \"30s\", \"500ms\" or \"1m 30s\", or \"none\", got the integer 5".into(),
        ),
        (
            "[defaults]\ntimeout = \"2s\"\n[breakers.\"a\"]\ntimeout = \"0s\"",
            "4:11: breakers.\"a\": timeout: must be in [1ns, 7days], got 0s".into(),
        ),
        (
            "[defaults]\nretry.max_attempts = \"3\"",
            "2:22: defaults: retry.max_attempts: must be an integer in 1..=4294967295, got the string \"3\"".into(),
        ),
        (
            "[breakers.\"a\"]\nretry = { max_attempts = 3 }",
            "2:9: breakers.\"a\": retry.backoff: missing; a retry needs max_attempts, backoff, base, max and budget".into(),
        ),
        (
            "[defaults]\nretry = { max_attempts = 3, backoff = \"exponential\", base = \"50ms\", max = \"2s\", budget = 0.2 }\n\
             [breakers.\"a\"]\nretry = { base = \"3s\" }",
            "4:18: breakers.\"a\": retry.max: must be in [3s, 7days], got 2s".into(),
        ),
        (
            "[defaults]\nretry = { max_attempts = 3, backoff = \"exponential\", base = \"50ms\", max = \"2s\", budget = 0.2 }\n\
             [breakers.\"a\"]\nretry.backoff = \"jitter\"",
            "4:17: breakers.\"a\": retry.backoff: must be one of \"constant\", \"exponential\", \"full_jitter\", \"decorrelated\", got \"jitter\"".into(),
        ),
        (
            "[defaults]\nhalf_open = { permits = 1 }",
            "2:25: defaults: half_open.successes: must be in 1..=1 (half_open.permits), got 3".into(),
        ),
        (
            "[defaults]\nmin_call = 5",
            format!("2:1: defaults: min_call: unknown key; expected {keys} (did you mean min_calls?)"),
        ),
        (
            "min_calls = 5",
            "1:1: min_calls: unknown key; expected defaults, breakers, health, notify or record (policy keys go under [defaults] or [breakers.\"<name>\"])".into(),
        ),
        (
            "[breaker.\"x\"]",
            "1:2: breaker: unknown key; expected defaults, breakers, health, notify or record (did you mean breakers?)".into(),
        ),
        ("breakers = 5", "1:12: breakers: must be a table, got the integer 5".into()),
        ("defaults = \"lenient\"", "1:12: defaults: must be a table, got the string \"lenient\"".into()),
        ("[breakers]\nx = 5", "2:5: breakers.\"x\": must be a table of policy keys, got the integer 5".into()),
        (
            "[breakers.stripe.charges]\nmin_calls = 5",
            format!(
                "1:18: breakers.\"stripe\": charges: unknown key; expected {keys}; a breaker name with dots must be quoted: [breakers.\"stripe.charges\"]"
            ),
        ),
        (
            "[breakers.\"a\"]\njitter = 0.1\njitter = 0.2",
            "3:1: breakers.\"a\": jitter: duplicate key; it is already set at 2:1".into(),
        ),
        (
            "[breakers.\"a\"]\n[breakers.a]",
            "2:11: breakers.\"a\": duplicate table; it is already defined at 1:2".into(),
        ),
        (
            "[defaults]\njitter = 0.1\n[defaults]",
            "3:2: defaults: duplicate table; it is already defined at 1:2".into(),
        ),
        (
            "[breakers.\"a\"]\nopen_timeout = ",
            "2:16: breakers.\"a\": open_timeout: invalid TOML: string values must be quoted, expected literal string".into(),
        ),
        (
            "[breakers.\"a\"]\npreset = \"dbase\"",
            "2:10: breakers.\"a\": preset: must be one of \"http-api\", \"database\", \"payment-provider\", \"aggressive\", \"lenient\", got \"dbase\"".into(),
        ),
        (
            "[breakers.\"a\"]\nopen_timeout = \"5\"",
            "2:16: breakers.\"a\": open_timeout: must be a duration such as \"30s\", \"500ms\" or \"1m 30s\", got \"5\" (no unit; write \"5s\" or \"5ms\")".into(),
        ),
        (
            "[breakers.\"a\"]\n[breakers.\"a\".half_open]\npermits = 1\nsuccesses = 2",
            "4:13: breakers.\"a\": half_open.successes: must be in 1..=1 (half_open.permits), got 2".into(),
        ),
        // Names.
        ("[breakers.\"a..b\"]", "1:11: breakers.\"a..b\": invalid breaker name: must not contain \"..\"".into()),
        ("[breakers.\"\"]", "1:11: breakers.\"\": invalid breaker name: must not be empty".into()),
        ("[breakers.\".a\"]", "1:11: breakers.\".a\": invalid breaker name: must not start with \".\"".into()),
        ("[breakers.\"a.\"]", "1:11: breakers.\"a.\": invalid breaker name: must not end with \".\"".into()),
        (
            "[breakers.\"api/v2\"]",
            "1:11: breakers.\"api/v2\": invalid breaker name: may hold only A-Z, a-z, 0-9, '_', '.', ':' and '-', got '/' at byte 3".into(),
        ),
    ];
    for (input, expected) in &cases {
        let err: ConfigError = RegistryConfig::from_toml(input).expect_err(input);
        assert_eq!(&err.to_string(), expected, "input: {input:?}");
        assert!(err.position().is_some(), "{err}");
    }
}

#[test]
fn long_names_are_refused_and_cut_in_the_message() {
    let long = "a".repeat(129);
    let err = RegistryConfig::from_toml(&format!("[breakers.{long}]")).unwrap_err();
    assert_eq!(
        err.reason(),
        "invalid breaker name: must be at most 128 bytes, got 129"
    );
    assert_eq!(err.breaker(), Some(format!("{}…", &long[..128]).as_str()));
    assert!(RegistryConfig::from_toml(&format!("[breakers.{}]", &long[..128])).is_ok());
}

#[test]
fn validate_name_is_the_rule_the_file_uses() {
    for name in ["stripe", "stripe.charges.eu", "db:primary", "a-b_c", "X9"] {
        assert_eq!(validate_name(name), Ok(()));
        assert!(RegistryConfig::from_toml(&format!("[breakers.{name:?}]")).is_ok());
    }
    for name in ["", "a b", "a..b", ".a", "a.", "ü", "a/b"] {
        let err = validate_name(name).unwrap_err();
        let file_err = RegistryConfig::from_toml(&format!("[breakers.{name:?}]")).unwrap_err();
        assert_eq!(
            file_err.reason(),
            format!("invalid breaker name: {}", err.reason())
        );
    }
}

#[test]
fn config_error_is_a_std_error() {
    fn assert_error<E: std::error::Error + Send + Sync + 'static>(_: &E) {}
    let err = RegistryConfig::from_toml("x = 1").unwrap_err();
    assert_error(&err);
    let boxed: Box<dyn std::error::Error> = Box::new(err);
    assert_eq!(
        boxed.to_string(),
        "1:1: x: unknown key; expected defaults, breakers, health, notify or record"
    );
}
