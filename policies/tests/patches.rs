//! `PolicyPatch`: a section lists only what differs from what it inherits.

use std::time::Duration;

use fusebox_policies::{
    AdaptiveLimit, Backoff, FleetMode, LimitAlgorithm, Policy, PolicyPatch, RateLimit, Recovery,
    Retry, RetryBackoff, Window,
};

fn apply(patch: &str, base: &Policy) -> Result<Policy, String> {
    PolicyPatch::from_toml(patch)
        .and_then(|p| p.apply(base))
        .map_err(|e| e.to_string())
}

fn base() -> Policy {
    Policy::builder()
        .window(Window::time(Duration::from_secs(60), 12))
        .min_calls(10)
        .slow_calls(Duration::from_secs(2), 0.6)
        .open_timeout(Duration::from_secs(20))
        .backoff(Backoff::exponential(3.0, Duration::from_secs(600)))
        .half_open_permits(8)
        .success_threshold(4)
        .max_concurrent(100)
        .recovery(Recovery::ramp(Duration::from_secs(30), 0.2))
        .latency_histogram(true)
        .rate_limit(RateLimit::new(200, Duration::from_secs(1), 50))
        .timeout(Duration::from_millis(1500))
        .retry(base_retry())
        .fleet(FleetMode::Quorum(4))
        .build()
        .unwrap()
}

fn base_retry() -> Retry {
    Retry::new(4)
        .with_backoff(RetryBackoff::FullJitter)
        .with_base(Duration::from_millis(20))
        .with_max(Duration::from_secs(1))
        .with_budget(0.1)
}

#[test]
fn an_empty_patch_inherits_everything() {
    assert_eq!(apply("", &base()), Ok(base()));
    assert!(PolicyPatch::new().is_empty());
    assert_eq!(PolicyPatch::new().apply(&base()), Ok(base()));
}

#[test]
fn tables_patch_key_by_key_over_a_base_of_the_same_shape() {
    let b = base();
    let p = apply("half_open = { permits = 6 }", &b).unwrap();
    assert_eq!((p.half_open_permits(), p.success_threshold()), (6, 4));
    let p = apply("half_open = { successes = 8 }", &b).unwrap();
    assert_eq!((p.half_open_permits(), p.success_threshold()), (8, 8));

    let p = apply("window = { buckets = 6 }", &b).unwrap();
    assert_eq!(p.window(), Window::time(Duration::from_secs(60), 6));
    let p = apply("window = { span = \"2m\" }", &b).unwrap();
    assert_eq!(p.window(), Window::time(Duration::from_secs(120), 12));

    let p = apply("backoff = { max = \"20m\" }", &b).unwrap();
    assert_eq!(
        p.backoff(),
        Backoff::exponential(3.0, Duration::from_secs(1200))
    );
    let p = apply("slow_calls = { rate = 0.9 }", &b).unwrap();
    assert_eq!(
        p.slow_calls().map(|s| (s.duration, s.rate)),
        Some((Duration::from_secs(2), 0.9))
    );
    let p = apply("recovery = { start_share = 0.5 }", &b).unwrap();
    assert_eq!(p.recovery(), Recovery::ramp(Duration::from_secs(30), 0.5));
    let p = apply("rate_limit = { burst = 1 }", &b).unwrap();
    assert_eq!(
        p.rate_limit(),
        Some(RateLimit::new(200, Duration::from_secs(1), 1))
    );
    let p = apply("rate_limit.per = \"1m\"", &b).unwrap();
    assert_eq!(
        p.rate_limit(),
        Some(RateLimit::new(200, Duration::from_secs(60), 50))
    );

    // Everything not named is inherited.
    let p = apply("jitter = 0.3", &b).unwrap();
    assert_eq!(p.to_builder().jitter(0.0).build().unwrap(), b);
}

#[test]
fn keywords_turn_inherited_rules_off() {
    let p = apply(
        "slow_calls = \"off\"\nbackoff = \"constant\"\nmax_concurrent = \"unlimited\"\nrecovery = \"immediate\"\n\
         rate_limit = \"unlimited\"\ntimeout = \"none\"\nretry = \"none\"",
        &base(),
    )
    .unwrap();
    assert_eq!(p.slow_calls(), None);
    assert_eq!(p.backoff(), Backoff::Constant);
    assert_eq!(p.max_concurrent(), None);
    assert_eq!(p.recovery(), Recovery::Immediate);
    assert_eq!(p.rate_limit(), None);
    assert_eq!(p.timeout(), None);
    assert_eq!(p.retry(), None);
}

#[test]
fn retry_is_inherited_unless_the_patch_sets_it_key_by_key() {
    let b = base();
    let inherited = base_retry();
    assert_eq!(apply("jitter = 0.3", &b).unwrap().retry(), Some(inherited));
    let p = apply("retry = { max_attempts = 2 }", &b).unwrap();
    assert_eq!(
        p.retry(),
        Some(
            Retry::new(2)
                .with_backoff(RetryBackoff::FullJitter)
                .with_base(Duration::from_millis(20))
                .with_max(Duration::from_secs(1))
                .with_budget(0.1)
        )
    );
    let p = apply("retry.backoff = \"decorrelated\"\nretry.budget = 0.5", &b).unwrap();
    assert_eq!(
        p.retry(),
        Some(
            inherited
                .with_backoff(RetryBackoff::Decorrelated)
                .with_budget(0.5)
        )
    );
    assert_eq!(p.to_builder().retry(inherited).build().unwrap(), b);
    let off = apply("retry = \"none\"", &b).unwrap();
    assert_eq!(off.retry(), None);
    assert_eq!(off.to_builder().retry(inherited).build().unwrap(), b);

    let patch = PolicyPatch::from_toml("retry = \"none\"").unwrap();
    assert!(!patch.is_empty());
    assert_ne!(patch, PolicyPatch::new());
    assert_ne!(
        patch,
        PolicyPatch::from_toml("retry = { max_attempts = 2 }").unwrap()
    );
    // A patched key is checked against the inherited ones: max must stay at least base.
    assert_eq!(
        apply("jitter = 0.1\nretry = { base = \"2s\" }", &b),
        Err("2:18: retry.max: must be in [2s, 7days], got 1s".into())
    );
    assert_eq!(
        apply("retry = { budget = 2 }", &b),
        Err("1:20: retry.budget: must be in [0, 1], got 2".into())
    );
}

#[test]
fn timeout_is_inherited_unless_the_patch_sets_it() {
    let b = base();
    let inherited = Some(Duration::from_millis(1500));
    assert_eq!(apply("jitter = 0.3", &b).unwrap().timeout(), inherited);
    let p = apply("timeout = \"3s\"", &b).unwrap();
    assert_eq!(p.timeout(), Some(Duration::from_secs(3)));
    assert_eq!(
        p.to_builder()
            .timeout(Duration::from_millis(1500))
            .build()
            .unwrap(),
        b
    );
    let off = apply("timeout = \"none\"", &b).unwrap();
    assert_eq!(off.timeout(), None);
    assert_eq!(
        apply("timeout = \"100ms\"", &Policy::default())
            .unwrap()
            .timeout(),
        Some(Duration::from_millis(100))
    );

    let patch = PolicyPatch::from_toml("timeout = \"none\"").unwrap();
    assert!(!patch.is_empty());
    assert_ne!(patch, PolicyPatch::new());
    assert_ne!(patch, PolicyPatch::from_toml("timeout = \"1s\"").unwrap());
    assert_eq!(
        PolicyPatch::from_toml("timeout = \"1000ms\"").unwrap(),
        PolicyPatch::from_toml("timeout = \"1s\"").unwrap()
    );
    assert_eq!(
        apply("jitter = 0.1\ntimeout = \"0s\"", &b),
        Err("2:11: timeout: must be in [1ns, 7days], got 0s".into())
    );
}

#[test]
fn rate_limit_is_inherited_unless_the_patch_sets_it() {
    let b = base();
    let limit = RateLimit::new(200, Duration::from_secs(1), 50);
    assert_eq!(apply("jitter = 0.3", &b).unwrap().rate_limit(), Some(limit));
    let other = RateLimit::new(10, Duration::from_millis(100), 2);
    let p = apply("rate_limit = { rate = 10, per = \"100ms\", burst = 2 }", &b).unwrap();
    assert_eq!(p.rate_limit(), Some(other));
    assert_eq!(p.to_builder().rate_limit(limit).build().unwrap(), b);
    let off = apply("rate_limit = \"unlimited\"", &b).unwrap();
    assert_eq!(off.to_builder().rate_limit(limit).build().unwrap(), b);

    let patch = PolicyPatch::from_toml("rate_limit = \"unlimited\"").unwrap();
    assert!(!patch.is_empty());
    assert_ne!(patch, PolicyPatch::new());
    assert_ne!(
        patch,
        PolicyPatch::from_toml("rate_limit = { rate = 1, per = \"1s\", burst = 1 }").unwrap()
    );
    // A patched key is checked against the inherited ones.
    assert_eq!(
        apply("jitter = 0.1\nrate_limit = { per = \"10ns\" }", &b),
        Err("2:22: rate_limit.rate: must be in 1..=10 (one call per nanosecond of rate_limit.per), got 200".into())
    );
    assert_eq!(
        apply("rate_limit = { burst = 0 }", &b),
        Err("1:24: rate_limit.burst: must be at least 1, got 0".into())
    );
}

#[test]
fn an_adaptive_limit_patches_key_by_key_over_an_adaptive_parent_only() {
    let parent = Policy::builder()
        .adaptive_limit(
            AdaptiveLimit::new(LimitAlgorithm::Vegas)
                .with_min(10)
                .with_max(100)
                .with_initial(50),
        )
        .build()
        .unwrap();
    assert_eq!(
        apply("jitter = 0.3", &parent).unwrap().adaptive_limit(),
        parent.adaptive_limit()
    );
    // Over an adaptive parent, absent keys are inherited.
    let p = apply("max_concurrent = { max = 60 }", &parent).unwrap();
    assert_eq!(
        p.adaptive_limit(),
        Some(
            AdaptiveLimit::new(LimitAlgorithm::Vegas)
                .with_min(10)
                .with_max(60)
                .with_initial(50)
        )
    );
    let p = apply("max_concurrent = { adaptive = \"aimd\" }", &parent).unwrap();
    assert_eq!(
        p.adaptive_limit().map(|l| (l.algorithm, l.max)),
        Some((LimitAlgorithm::Aimd, 100))
    );
    // Over anything else they take the defaults; `initial` is moved into `[min, max]`.
    for base in [
        Policy::default(),
        Policy::builder().max_concurrent(7).build().unwrap(),
    ] {
        let p = apply("max_concurrent = { adaptive = \"aimd\" }", &base).unwrap();
        assert_eq!(
            p.adaptive_limit(),
            Some(AdaptiveLimit::new(LimitAlgorithm::Aimd))
        );
        assert_eq!(p.max_concurrent(), None);
        let p = apply("max_concurrent = { adaptive = \"aimd\", min = 30 }", &base).unwrap();
        assert_eq!(p.adaptive_limit().map(|l| l.initial), Some(30));
        let p = apply("max_concurrent = { adaptive = \"aimd\", max = 10 }", &base).unwrap();
        assert_eq!(p.adaptive_limit().map(|l| l.initial), Some(10));
        assert_eq!(
            apply("max_concurrent = { max = 10 }", &base),
            Err(
                "1:18: max_concurrent.adaptive: missing; an adaptive limit needs its algorithm"
                    .into()
            )
        );
    }
    // A number or "unlimited" replaces the adaptive limit.
    assert_eq!(
        apply("max_concurrent = 5", &parent)
            .unwrap()
            .max_concurrent(),
        Some(5)
    );
    let off = apply("max_concurrent = \"unlimited\"", &parent).unwrap();
    assert_eq!((off.max_concurrent(), off.adaptive_limit()), (None, None));
    // A patched key is checked against the inherited ones, at its value.
    assert_eq!(
        apply("jitter = 0.1\nmax_concurrent = { min = 200 }", &parent),
        Err(
            "2:26: max_concurrent.max: must be in 200..=16777216 (max_concurrent.min), got 100"
                .into()
        )
    );
    assert_eq!(
        apply("max_concurrent = { initial = 5 }", &parent),
        Err("1:30: max_concurrent.initial: must be in 10..=100 (max_concurrent.min, max_concurrent.max), got 5".into())
    );
}

#[test]
fn fleet_is_inherited_unless_the_patch_sets_it() {
    let b = base();
    assert_eq!(
        apply("jitter = 0.3", &b).unwrap().fleet(),
        FleetMode::Quorum(4)
    );
    for (text, mode) in [
        ("fleet = \"local\"", FleetMode::Local),
        ("fleet = \"follow\"", FleetMode::Follow),
        ("fleet = { quorum = 7 }", FleetMode::Quorum(7)),
        // An empty table keeps the inherited quorum.
        ("fleet = {}", FleetMode::Quorum(4)),
    ] {
        let p = apply(text, &b).unwrap();
        assert_eq!(p.fleet(), mode, "{text}");
        assert_eq!(
            p.to_builder().fleet(FleetMode::Quorum(4)).build().unwrap(),
            b
        );
    }
    assert_eq!(
        apply("fleet = {}", &Policy::default()),
        Err("1:9: fleet.quorum: missing; a quorum needs its number of instances".into())
    );
    assert_eq!(
        apply("jitter = 0.1\nfleet = { quorum = 1 }", &b),
        Err(
            "2:20: fleet.quorum: must be in 2..=1000, got 1; a quorum of one instance is \
             fleet = \"follow\""
                .into()
        )
    );

    let patch = PolicyPatch::from_toml("fleet = \"local\"").unwrap();
    assert!(!patch.is_empty());
    assert_ne!(patch, PolicyPatch::new());
    assert_ne!(patch, PolicyPatch::from_toml("fleet = \"follow\"").unwrap());
    assert_eq!(
        PolicyPatch::from_toml("fleet.quorum = 3").unwrap(),
        PolicyPatch::from_toml("fleet = { quorum = 3 }").unwrap()
    );
}

#[test]
fn latency_histogram_is_inherited_unless_the_patch_sets_it() {
    let b = base();
    assert!(b.latency_histogram());
    assert!(apply("jitter = 0.3", &b).unwrap().latency_histogram());
    let off = apply("latency_histogram = false", &b).unwrap();
    assert!(!off.latency_histogram());
    assert_eq!(off.to_builder().latency_histogram(true).build().unwrap(), b);

    let d = Policy::default();
    assert!(!apply("min_calls = 5", &d).unwrap().latency_histogram());
    assert!(
        apply("latency_histogram = true", &d)
            .unwrap()
            .latency_histogram()
    );

    let patch = PolicyPatch::from_toml("latency_histogram = false").unwrap();
    assert!(!patch.is_empty());
    assert_ne!(patch, PolicyPatch::new());
    assert_ne!(
        patch,
        PolicyPatch::from_toml("latency_histogram = true").unwrap()
    );
    assert_eq!(
        PolicyPatch::from_toml("jitter = 0.1\nlatency_histogram = \"no\"")
            .unwrap_err()
            .to_string(),
        "2:21: latency_histogram: must be true or false, got the string \"no\""
    );
}

#[test]
fn a_shape_change_must_be_complete() {
    let d = Policy::default();
    assert_eq!(
        apply("\nbackoff = { max = \"20m\" }", &d),
        Err("2:11: backoff.exponential: missing; an exponential backoff needs both exponential and max".into())
    );
    assert_eq!(
        apply("window = { buckets = 6 }", &d),
        Err("1:10: window.span: missing; a time window needs both span and buckets".into())
    );
    assert_eq!(
        apply("slow_calls = { rate = 0.9 }", &d),
        Err(
            "1:14: slow_calls.duration: missing; a slow-call rule needs both duration and rate"
                .into()
        )
    );
    assert_eq!(
        apply("recovery = { start_share = 0.5 }", &d),
        Err("1:12: recovery.ramp: missing; a ramp needs both ramp and start_share".into())
    );
    assert_eq!(
        apply(
            "retry = { max_attempts = 3, backoff = \"constant\", base = \"1s\", max = \"1s\" }",
            &d
        ),
        Err(
            "1:9: retry.budget: missing; a retry needs max_attempts, backoff, base, max and budget"
                .into()
        )
    );
    assert_eq!(
        apply("rate_limit = { rate = 100, burst = 10 }", &d),
        Err("1:14: rate_limit.per: missing; a rate limit needs rate, per and burst".into())
    );
    // A count window replaces a time window whole.
    assert_eq!(
        apply("window = { count = 50 }", &base()).unwrap().window(),
        Window::count(50)
    );
}

#[test]
fn validation_runs_on_the_result_and_points_into_the_patch() {
    // The base allows 4 successes; the patch lowers permits under them.
    assert_eq!(
        apply("jitter = 0.1\nhalf_open = { permits = 2 }", &base()),
        Err("2:25: half_open.successes: must be in 1..=2 (half_open.permits), got 4".into())
    );
    // The base's backoff max is 10 min; a longer open timeout breaks it.
    assert_eq!(
        apply("open_timeout = \"1h\"", &base()),
        Err("1:16: backoff.max: must be in [1h, 7days], got 10m".into())
    );
    // The inherited min_calls is 10; a smaller count window breaks it.
    assert_eq!(
        apply("window = { count = 5 }", &base()),
        Err("1:20: min_calls: must be in 1..=5 (the count window's size), got 10".into())
    );
}

#[test]
fn a_preset_replaces_the_base() {
    let p = apply("preset = \"lenient\"\nmin_calls = 60", &base()).unwrap();
    let lenient = Policy::preset("lenient").unwrap();
    assert_eq!(p, lenient.to_builder().min_calls(60).build().unwrap());
    let patch = PolicyPatch::from_toml("preset = \"lenient\"").unwrap();
    assert_eq!(patch.preset(), Some("lenient"));
    assert_eq!(patch.apply(&base()), Ok(lenient));
}

#[test]
fn from_policy_overrides_every_field() {
    let target = Policy::preset("aggressive").unwrap();
    let patch = PolicyPatch::from_policy(&target);
    assert!(!patch.is_empty());
    assert_eq!(patch.apply(&base()), Ok(target.clone()));
    assert_eq!(patch.apply(&Policy::default()), Ok(target));
}

#[test]
fn patches_compare_by_value_not_position() {
    let a = PolicyPatch::from_toml("jitter = 0.1\nhalf_open = { permits = 3 }").unwrap();
    let b = PolicyPatch::from_toml("\n\nhalf_open = {permits=3}\n\njitter = 0.1").unwrap();
    assert_eq!(a, b);
    assert_ne!(
        a,
        PolicyPatch::from_toml("jitter = 0.2\nhalf_open = { permits = 3 }").unwrap()
    );
    // `to_toml` leaves chaos out when it is off; `from_policy` removes it, over any base.
    assert_eq!(
        PolicyPatch::from_policy(&Policy::default()),
        PolicyPatch::from_toml(&format!("{}chaos = \"off\"\n", Policy::default().to_toml()))
            .unwrap()
    );
}
