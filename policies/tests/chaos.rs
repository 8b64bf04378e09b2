//! The `chaos` key: what it accepts, the exact message for what it refuses, patches, and the
//! round trip through `to_toml` and serde.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fusebox_policies::{Chaos, Policy, PolicyPatch, RegistryConfig};

/// 2026-12-31T00:00:00Z.
fn end_of_2026() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_798_675_200)
}

const FULL: &str = "chaos = { fault_rate = 0.1, latency = \"200ms\", latency_rate = 0.05, seed = 7, \
                    until = \"2026-12-31T00:00:00Z\" }";

#[test]
fn chaos_is_off_by_default_and_every_key_is_optional() {
    assert_eq!(Policy::from_toml("").unwrap().chaos(), None);
    assert_eq!(Policy::from_toml("chaos = \"off\""), Ok(Policy::default()));
    let p = Policy::from_toml(FULL).unwrap();
    let expected = Chaos::new()
        .with_fault_rate(0.1)
        .with_latency(Duration::from_millis(200), 0.05)
        .with_seed(7)
        .with_until(end_of_2026());
    assert_eq!(p.chaos(), Some(&expected));
    // Defaults: seed 0, no latency, no end.
    let p = Policy::from_toml("chaos = { fault_rate = 1 }").unwrap();
    assert_eq!(p.chaos(), Some(&Chaos::new().with_fault_rate(1.0)));
    let p = Policy::from_toml("chaos = { latency = \"1s\", latency_rate = 0.5 }").unwrap();
    assert_eq!(
        p.chaos(),
        Some(&Chaos::new().with_latency(Duration::from_secs(1), 0.5))
    );
    // A section, dotted keys, a TOML date-time, `+00:00`, `"none"`.
    for text in [
        "[chaos]\nfault_rate = 0.5\nuntil = 2026-12-31T00:00:00Z",
        "chaos.fault_rate = 0.5\nchaos.until = \"2026-12-31T00:00:00+00:00\"",
    ] {
        assert_eq!(
            Policy::from_toml(text).unwrap().chaos(),
            Some(&Chaos::new().with_fault_rate(0.5).with_until(end_of_2026())),
            "{text}"
        );
    }
    let p = Policy::from_toml("chaos = { fault_rate = 0.5, until = \"none\" }").unwrap();
    assert_eq!(p.chaos().unwrap().until(), None);
    let max = Policy::from_toml("chaos = { fault_rate = 0.5, seed = 18446744073709551615 }");
    assert_eq!(max.unwrap().chaos().unwrap().seed(), u64::MAX);
}

#[test]
fn each_error_names_the_field_the_reason_and_the_position() {
    let form = "\"off\" or { fault_rate = 0.1, latency = \"200ms\", latency_rate = 0.05, seed = 7, \
                until = \"2026-12-31T00:00:00Z\" }";
    let cases: Vec<(&str, String)> = vec![
        (
            "chaos = { fault_rate = 1.5 }",
            "1:24: chaos.fault_rate: must be in [0, 1], got 1.5".into(),
        ),
        (
            "chaos = { fault_rate = -0.1 }",
            "1:24: chaos.fault_rate: must be in [0, 1], got -0.1".into(),
        ),
        (
            "chaos = { fault_rate = nan }",
            "1:24: chaos.fault_rate: must be in [0, 1], got NaN".into(),
        ),
        (
            "chaos = { fault_rate = \"10%\" }",
            "1:24: chaos.fault_rate: must be a number in [0, 1], got the string \"10%\"".into(),
        ),
        (
            "chaos = { latency = \"1s\", latency_rate = 2 }",
            "1:42: chaos.latency_rate: must be in [0, 1], got 2".into(),
        ),
        (
            "chaos = { fault_rate = 0, latency_rate = 0 }",
            "1:9: chaos: at least one of fault_rate and latency_rate must be more than 0, both \
             are 0 (chaos = \"off\" is no chaos)"
                .into(),
        ),
        (
            "chaos = { seed = 7 }",
            "1:9: chaos: at least one of fault_rate and latency_rate must be more than 0, both \
             are 0 (chaos = \"off\" is no chaos)"
                .into(),
        ),
        (
            "chaos = { latency_rate = 0.5 }",
            "1:26: chaos.latency: missing; a latency_rate above 0 needs a latency such as \
             \"200ms\""
                .into(),
        ),
        (
            "chaos = { latency = \"0s\", latency_rate = 0.5 }",
            "1:21: chaos.latency: must be in [1ns, 7days], got 0s".into(),
        ),
        (
            "chaos = { latency = \"200\", latency_rate = 0.5 }",
            "1:21: chaos.latency: must be a duration such as \"30s\", \"500ms\" or \"1m 30s\", got \
             \"200\" (no unit; write \"200s\" or \"200ms\")"
                .into(),
        ),
        (
            "chaos = { fault_rate = 0.1, seed = -1 }",
            "1:36: chaos.seed: must be in 0..=18446744073709551615, got -1".into(),
        ),
        (
            "chaos = { fault_rate = 0.1, seed = \"7\" }",
            "1:36: chaos.seed: must be an integer in 0..=18446744073709551615, got the string \"7\""
                .into(),
        ),
        (
            "chaos = { fault_rate = 0.1, until = \"tomorrow\" }",
            "1:37: chaos.until: must be an RFC 3339 time such as \"2026-12-31T00:00:00Z\", got \
             \"tomorrow\""
                .into(),
        ),
        (
            "chaos = { fault_rate = 0.1, until = \"2026-12-31T00:00:00+02:00\" }",
            "1:37: chaos.until: must be an RFC 3339 time such as \"2026-12-31T00:00:00Z\", got \
             \"2026-12-31T00:00:00+02:00\""
                .into(),
        ),
        (
            "chaos = { fault_rate = 0.1, until = 2026-12-31T00:00:00 }",
            "1:37: chaos.until: must be an RFC 3339 time such as \"2026-12-31T00:00:00Z\", got \
             the datetime 2026-12-31T00:00:00"
                .into(),
        ),
        (
            "chaos = { fault_rate = 0.1, until = 20261231 }",
            "1:37: chaos.until: must be an RFC 3339 time such as \"2026-12-31T00:00:00Z\", got \
             the integer 20261231"
                .into(),
        ),
        (
            "chaos = { fault_rate = 0.1, duration = \"1m\" }",
            "1:29: chaos.duration: unknown key; expected fault_rate, latency, latency_rate, seed, \
             or until"
                .into(),
        ),
        (
            "chaos = { faultrate = 0.1 }",
            "1:11: chaos.faultrate: unknown key; expected fault_rate, latency, latency_rate, seed, \
             or until (did you mean fault_rate?)"
                .into(),
        ),
        (
            "chaos = \"on\"",
            format!("1:9: chaos: must be {form}, got the string \"on\""),
        ),
        ("chaos = 0.1", format!("1:9: chaos: must be {form}, got the float 0.1")),
    ];
    for (input, expected) in cases {
        let err = Policy::from_toml(input).unwrap_err();
        assert_eq!(err.to_string(), expected, "{input}");
    }
}

#[test]
fn errors_judged_against_another_field_say_which() {
    let err = Policy::from_toml("chaos = { latency_rate = 0.5 }").unwrap_err();
    assert_eq!(err.limited_by(), ["chaos.latency_rate"]);
    let err = Policy::from_toml("chaos = { fault_rate = 0 }").unwrap_err();
    assert_eq!(err.limited_by(), ["chaos.fault_rate", "chaos.latency_rate"]);
}

#[test]
fn to_toml_leaves_chaos_out_when_off_and_round_trips_it_when_set() {
    let plain = Policy::default().to_toml();
    assert!(!plain.contains("chaos"), "{plain}");
    for chaos in [
        Chaos::new().with_fault_rate(0.1),
        Chaos::new()
            .with_fault_rate(0.1)
            .with_latency(Duration::from_millis(200), 0.05)
            .with_seed(7)
            .with_until(end_of_2026()),
        Chaos::new()
            .with_latency(Duration::from_nanos(1), 1.0)
            .with_seed(u64::MAX)
            .with_until(UNIX_EPOCH + Duration::new(1_798_675_200, 123_456_789)),
        // A latency with no rate is kept as written.
        Chaos::new()
            .with_fault_rate(1.0)
            .with_latency(Duration::from_secs(1), 0.0),
    ] {
        let p = Policy::builder().chaos(chaos).build().unwrap();
        let text = p.to_toml();
        assert!(text.starts_with(&plain), "{text}");
        assert_eq!(Policy::from_toml(&text), Ok(p.clone()), "{text}");
        // Through serde too.
        let back: Policy = toml::from_str(&toml::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }
    let p = Policy::from_toml(FULL).unwrap();
    assert_eq!(
        p.to_toml().lines().last(),
        Some(
            "chaos = { fault_rate = 0.1, latency = \"200ms\", latency_rate = 0.05, seed = 7, \
             until = \"2026-12-31T00:00:00Z\" }"
        )
    );
    let p = Policy::from_toml("chaos = { fault_rate = 0.5 }").unwrap();
    assert_eq!(
        p.to_toml().lines().last(),
        Some("chaos = { fault_rate = 0.5, latency_rate = 0.0, seed = 0, until = \"none\" }")
    );
}

#[test]
fn the_builder_checks_what_a_file_cannot_write() {
    let err = |c: Chaos| Policy::builder().chaos(c).build().unwrap_err().to_string();
    let out_of_range = "chaos.until: must be an RFC 3339 time from 1970-01-01T00:00:00Z to \
                        9999-12-31T23:59:59Z, such as \"2026-12-31T00:00:00Z\"";
    assert_eq!(
        err(Chaos::new()
            .with_fault_rate(0.1)
            .with_until(UNIX_EPOCH - Duration::from_secs(1))),
        out_of_range
    );
    assert_eq!(
        err(Chaos::new()
            .with_fault_rate(0.1)
            .with_until(UNIX_EPOCH + Duration::from_secs(253_402_300_800))),
        out_of_range
    );
    assert_eq!(
        err(Chaos::new().with_fault_rate(f64::INFINITY)),
        "chaos.fault_rate: must be in [0, 1], got inf"
    );
    let p = Policy::builder()
        .chaos(Chaos::new().with_fault_rate(0.3))
        .min_calls(4)
        .build()
        .unwrap();
    assert_eq!(
        p.without_chaos(),
        Policy::builder().min_calls(4).build().unwrap()
    );
}

#[test]
fn patches_set_chaos_key_by_key_and_off_removes_it() {
    let parent = Policy::from_toml(FULL).unwrap();
    let child = PolicyPatch::from_toml("chaos = { fault_rate = 0.5 }")
        .unwrap()
        .apply(&parent)
        .unwrap();
    let c = child.chaos().unwrap();
    assert_eq!(c.fault_rate(), 0.5);
    assert_eq!(
        (c.latency(), c.latency_rate(), c.seed(), c.until()),
        (
            Some(Duration::from_millis(200)),
            0.05,
            7,
            Some(end_of_2026())
        )
    );
    // `until = "none"` drops an inherited end.
    let forever = PolicyPatch::from_toml("chaos = { until = \"none\" }")
        .unwrap()
        .apply(&parent)
        .unwrap();
    assert_eq!(forever.chaos().unwrap().until(), None);
    let off = PolicyPatch::from_toml("chaos = \"off\"")
        .unwrap()
        .apply(&parent)
        .unwrap();
    assert_eq!(off, parent.without_chaos());
    // A patch that does not mention chaos keeps it.
    let kept = PolicyPatch::from_toml("min_calls = 5")
        .unwrap()
        .apply(&parent)
        .unwrap();
    assert_eq!(kept.chaos(), parent.chaos());
    // A whole policy as a patch sets chaos or removes it, over any base.
    assert_eq!(
        PolicyPatch::from_policy(&Policy::default()).apply(&parent),
        Ok(Policy::default())
    );
    assert_eq!(
        PolicyPatch::from_policy(&parent).apply(&Policy::default()),
        Ok(parent.clone())
    );
    assert!(
        !PolicyPatch::from_toml("chaos = \"off\"")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn registry_sections_inherit_chaos_and_errors_name_the_section() {
    let config = RegistryConfig::from_toml(
        "[defaults]\nchaos = { fault_rate = 0.1, until = \"2026-12-31T00:00:00Z\" }\n\n\
         [breakers.\"pay\"]\nchaos = { seed = 3 }\n\n[breakers.\"db\"]\nchaos = \"off\"\n",
    )
    .unwrap();
    let policies = config.resolve().unwrap();
    assert_eq!(
        policies["pay"].chaos(),
        Some(
            &Chaos::new()
                .with_fault_rate(0.1)
                .with_seed(3)
                .with_until(end_of_2026())
        )
    );
    assert_eq!(policies["db"].chaos(), None);
    assert_eq!(config.defaults().chaos().unwrap().seed(), 0);
    let err = RegistryConfig::from_toml("[breakers.\"pay\"]\nchaos = { fault_rate = 1.5 }\n")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "2:24: breakers.\"pay\": chaos.fault_rate: must be in [0, 1], got 1.5"
    );
}

#[test]
fn serde_errors_name_the_field_too() {
    let err = |text: &str| {
        toml::from_str::<Policy>(text)
            .unwrap_err()
            .message()
            .to_owned()
    };
    assert_eq!(
        err("chaos = { fault_rate = 0.1, until = \"tomorrow\" }"),
        "chaos.until: must be an RFC 3339 time such as \"2026-12-31T00:00:00Z\", got \"tomorrow\""
    );
    assert_eq!(
        err("chaos = { fault_rate = 1.5 }"),
        "chaos.fault_rate: must be in [0, 1], got 1.5"
    );
    assert_eq!(
        err("chaos = \"on\""),
        "invalid value: string \"on\", expected \"off\" or { fault_rate = 0.1, latency = \"200ms\", \
         latency_rate = 0.05, seed = 7, until = \"2026-12-31T00:00:00Z\" }"
    );
}
