//! Round trips over arbitrary valid policies: TOML text, serde, and full patches.

use std::time::Duration;

use arbitrary::{Result, Unstructured};
use fusebox_policies::{
    AdaptiveLimit, Backoff, Chaos, FleetMode, LimitAlgorithm, MAX_BACKOFF_FACTOR, MAX_CONCURRENT,
    MAX_COUNT_WINDOW, MAX_DURATION, MAX_HALF_OPEN_PERMITS, MAX_TIME_BUCKETS, Policy, PolicyPatch,
    RateLimit, Recovery, Retry, RetryBackoff, Window,
};

/// A duration in `[min, MAX_DURATION]`, often a round one, sometimes down to the nanosecond.
fn duration(u: &mut Unstructured<'_>, min: Duration) -> Result<Duration> {
    let lo = min.as_nanos() as u64;
    let hi = MAX_DURATION.as_nanos() as u64;
    let nanos = u.int_in_range(lo..=hi)?;
    let unit = *u.choose(&[1u64, 1_000, 1_000_000, 1_000_000_000, 60_000_000_000])?;
    let rounded = nanos / unit * unit;
    Ok(Duration::from_nanos(if rounded >= lo {
        rounded
    } else {
        nanos
    }))
}

/// A float in `[lo, hi]` (`lo` excluded when `open_lo`, `hi` excluded when `open_hi`): a
/// short decimal, an arbitrary fraction, or an edge.
fn float(u: &mut Unstructured<'_>, lo: f64, hi: f64, open_lo: bool, open_hi: bool) -> Result<f64> {
    let ok = |v: f64| {
        v.is_finite() && (v > lo || (!open_lo && v == lo)) && (v < hi || (!open_hi && v == hi))
    };
    let candidate = match u.int_in_range(0..=3)? {
        0 => lo + f64::from(u.int_in_range(0..=1000u32)?) * (hi - lo) / 1000.0,
        1 => lo + (u.int_in_range(0..=1u64 << 53)? as f64 / (1u64 << 53) as f64) * (hi - lo),
        2 => *u.choose(&[
            lo,
            hi,
            lo + f64::EPSILON,
            hi - f64::EPSILON,
            1e-9,
            0.1 + 0.2,
        ])?,
        _ => f64::from_bits(u.arbitrary()?),
    };
    Ok(if ok(candidate) {
        candidate
    } else {
        (lo + hi) / 2.0
    })
}

fn count(u: &mut Unstructured<'_>, lo: u32, hi: u32) -> Result<u32> {
    if u.arbitrary()? {
        u.int_in_range(lo..=hi.min(lo.saturating_add(100)))
    } else {
        u.int_in_range(lo..=hi)
    }
}

fn retry(u: &mut Unstructured<'_>) -> Result<Retry> {
    let backoff = *u.choose(&[
        RetryBackoff::Constant,
        RetryBackoff::Exponential,
        RetryBackoff::FullJitter,
        RetryBackoff::Decorrelated,
    ])?;
    let base = duration(u, Duration::from_nanos(1))?;
    Ok(Retry::new(count(u, 1, u32::MAX)?)
        .with_backoff(backoff)
        .with_base(base)
        .with_max(duration(u, base)?)
        .with_budget(float(u, 0.0, 1.0, false, false)?))
}

fn policy(u: &mut Unstructured<'_>) -> Result<Policy> {
    let mut b = Policy::builder();
    let max_min_calls = if u.arbitrary()? {
        let size = count(u, 1, MAX_COUNT_WINDOW)?;
        b = b.window(Window::count(size));
        size
    } else {
        let buckets = count(u, 1, MAX_TIME_BUCKETS)?;
        let span = duration(u, Duration::from_millis(1) * buckets)?;
        b = b.window(Window::time(span, buckets));
        u32::MAX
    };
    b = b
        .min_calls(count(u, 1, max_min_calls)?)
        .failure_rate_threshold(float(u, 0.0, 1.0, true, false)?)
        .consecutive_failures(count(u, 0, u32::MAX)?);
    if u.arbitrary()? {
        b = b.slow_calls(
            duration(u, Duration::from_nanos(1))?,
            float(u, 0.0, 1.0, true, false)?,
        );
    }
    let open_timeout = duration(u, Duration::from_nanos(1))?;
    b = b.open_timeout(open_timeout);
    if u.arbitrary()? {
        b = b.backoff(Backoff::exponential(
            float(u, 1.0, MAX_BACKOFF_FACTOR, false, false)?,
            duration(u, open_timeout)?,
        ));
    }
    let permits = count(u, 1, MAX_HALF_OPEN_PERMITS)?;
    b = b
        .jitter(float(u, 0.0, 1.0, false, true)?)
        .half_open_permits(permits)
        .success_threshold(count(u, 1, permits)?);
    match u.int_in_range(0..=2)? {
        0 => {}
        1 => b = b.max_concurrent(count(u, 1, MAX_CONCURRENT)?),
        _ => {
            let algorithm = *u.choose(&[
                LimitAlgorithm::Aimd,
                LimitAlgorithm::Gradient2,
                LimitAlgorithm::Vegas,
            ])?;
            let min = count(u, 1, MAX_CONCURRENT)?;
            let max = count(u, min, MAX_CONCURRENT)?;
            b = b.adaptive_limit(AdaptiveLimit {
                algorithm,
                min,
                max,
                initial: count(u, min, max)?,
            });
        }
    }
    if u.arbitrary()? {
        b = b.recovery(Recovery::ramp(
            duration(u, Duration::from_millis(1))?,
            float(u, 0.0, 1.0, true, false)?,
        ));
    }
    b = b.latency_histogram(u.arbitrary()?);
    if u.arbitrary()? {
        let per = duration(u, Duration::from_nanos(1))?;
        let most = u32::try_from(per.as_nanos()).unwrap_or(u32::MAX);
        b = b.rate_limit(RateLimit::new(
            count(u, 1, most)?,
            per,
            count(u, 1, u32::MAX)?,
        ));
    }
    if u.arbitrary()? {
        b = b.timeout(duration(u, Duration::from_nanos(1))?);
    }
    if u.arbitrary()? {
        b = b.retry(retry(u)?);
    }
    b = b.fleet(match u.int_in_range(0..=2)? {
        0 => FleetMode::Local,
        1 => FleetMode::Follow,
        _ => FleetMode::Quorum(count(u, 2, 1000)?),
    });
    if u.arbitrary()? {
        // A latency is always set: one left unset would be inherited by the text over a
        // parent that sets one (with no effect, as its rate is then 0).
        let mut chaos = Chaos::new()
            .with_fault_rate(float(u, 0.0, 1.0, true, false)?)
            .with_latency(
                duration(u, Duration::from_nanos(1))?,
                float(u, 0.0, 1.0, false, false)?,
            )
            .with_seed(u.arbitrary()?);
        if u.arbitrary()? {
            // From 1970 to the end of 9999, as RFC 3339 writes it.
            let nanos = u.int_in_range(0..=253_402_300_799_999_999_999u128)?;
            let until = std::time::UNIX_EPOCH
                + Duration::new(
                    (nanos / 1_000_000_000) as u64,
                    (nanos % 1_000_000_000) as u32,
                );
            chaos = chaos.with_until(until);
        }
        b = b.chaos(chaos);
    }
    Ok(b.build().expect("the generator makes valid policies"))
}

#[test]
fn toml_round_trip_is_exact() {
    arbtest::arbtest(|u| {
        let p = policy(u)?;
        let text = p.to_toml();
        assert_eq!(Policy::from_toml(&text), Ok(p.clone()), "{text}");
        Ok(())
    })
    .budget_ms(600);
}

#[test]
fn serde_round_trip_is_exact_and_agrees_with_from_toml() {
    arbtest::arbtest(|u| {
        let p = policy(u)?;
        let text = toml::to_string(&p).unwrap();
        assert_eq!(toml::from_str::<Policy>(&text).unwrap(), p, "{text}");
        assert_eq!(toml::from_str::<Policy>(&p.to_toml()).unwrap(), p);
        Ok(())
    })
    .budget_ms(400);
}

#[test]
fn a_full_patch_yields_its_policy_over_any_base() {
    arbtest::arbtest(|u| {
        let p = policy(u)?;
        let base = policy(u)?;
        assert_eq!(PolicyPatch::from_policy(&p).apply(&base), Ok(p.clone()));
        // `to_toml` leaves chaos out when off: over a base with chaos, say so.
        let off = if p.chaos().is_none() {
            "chaos = \"off\"\n"
        } else {
            ""
        };
        assert_eq!(
            PolicyPatch::from_toml(&format!("{}{off}", p.to_toml()))
                .unwrap()
                .apply(&base),
            Ok(p)
        );
        Ok(())
    })
    .budget_ms(400);
}

#[test]
fn presets_round_trip() {
    for name in Policy::preset_names() {
        let p = Policy::preset(name).unwrap();
        assert_eq!(Policy::from_toml(&p.to_toml()), Ok(p.clone()), "{name}");
        assert_eq!(
            Policy::from_toml(&format!("preset = {name:?}")),
            Ok(p),
            "{name}"
        );
    }
}

#[test]
fn latency_histogram_round_trips_and_overrides_any_parent() {
    for on in [false, true] {
        let p = Policy::builder().latency_histogram(on).build().unwrap();
        let text = p.to_toml();
        assert!(
            text.contains(&format!("\nlatency_histogram = {on}\n")),
            "{text}"
        );
        assert_eq!(Policy::from_toml(&text), Ok(p.clone()));
        let serde_text = toml::to_string(&p).unwrap();
        assert_eq!(toml::from_str::<Policy>(&serde_text).unwrap(), p);
        // Written out, the value holds over a parent that has the other one.
        let parent = Policy::builder().latency_histogram(!on).build().unwrap();
        assert_eq!(
            PolicyPatch::from_toml(&text).unwrap().apply(&parent),
            Ok(p.clone())
        );
        assert_eq!(PolicyPatch::from_policy(&p).apply(&parent), Ok(p));
    }
}

#[test]
fn adaptive_limit_round_trips_and_overrides_any_parent() {
    let adaptive = AdaptiveLimit::new(LimitAlgorithm::Gradient2).with_max(64);
    let other = AdaptiveLimit::new(LimitAlgorithm::Vegas)
        .with_min(10)
        .with_max(1000)
        .with_initial(500);
    let cases = [
        (Policy::builder(), "max_concurrent = \"unlimited\""),
        (Policy::builder().max_concurrent(9), "max_concurrent = 9"),
        (
            Policy::builder().adaptive_limit(adaptive),
            "max_concurrent = { adaptive = \"gradient2\", min = 4, max = 64, initial = 20 }",
        ),
    ];
    for (b, line) in cases {
        let p = b.build().unwrap();
        let text = p.to_toml();
        assert!(text.contains(&format!("\n{line}\n")), "{text}");
        assert_eq!(Policy::from_toml(&text), Ok(p.clone()));
        let serde_text = toml::to_string(&p).unwrap();
        assert_eq!(toml::from_str::<Policy>(&serde_text).unwrap(), p);
        for parent in [
            Policy::default(),
            Policy::builder().max_concurrent(3).build().unwrap(),
            Policy::builder().adaptive_limit(other).build().unwrap(),
        ] {
            assert_eq!(
                PolicyPatch::from_toml(&text).unwrap().apply(&parent),
                Ok(p.clone())
            );
            assert_eq!(PolicyPatch::from_policy(&p).apply(&parent), Ok(p.clone()));
        }
    }
}

#[test]
fn rate_limit_round_trips_and_overrides_any_parent() {
    let limited = RateLimit::new(100, Duration::from_secs(1), 20);
    let other = RateLimit::new(7, Duration::from_millis(1500), 3);
    for limit in [None, Some(limited)] {
        let mut b = Policy::builder();
        if let Some(l) = limit {
            b = b.rate_limit(l);
        }
        let p = b.build().unwrap();
        let text = p.to_toml();
        let line = match limit {
            None => "rate_limit = \"unlimited\"",
            Some(_) => "rate_limit = { rate = 100, per = \"1s\", burst = 20 }",
        };
        assert!(text.contains(&format!("\n{line}\n")), "{text}");
        assert_eq!(Policy::from_toml(&text), Ok(p.clone()));
        let serde_text = toml::to_string(&p).unwrap();
        assert_eq!(toml::from_str::<Policy>(&serde_text).unwrap(), p);
        for parent in [None, Some(other)] {
            let mut b = Policy::builder();
            if let Some(l) = parent {
                b = b.rate_limit(l);
            }
            let parent = b.build().unwrap();
            assert_eq!(
                PolicyPatch::from_toml(&text).unwrap().apply(&parent),
                Ok(p.clone())
            );
            assert_eq!(PolicyPatch::from_policy(&p).apply(&parent), Ok(p.clone()));
        }
    }
}

#[test]
fn timeout_round_trips_and_overrides_any_parent() {
    for timeout in [None, Some(Duration::from_millis(2500))] {
        let mut b = Policy::builder();
        if let Some(t) = timeout {
            b = b.timeout(t);
        }
        let p = b.build().unwrap();
        let text = p.to_toml();
        let line = match timeout {
            None => "timeout = \"none\"",
            Some(_) => "timeout = \"2s 500ms\"",
        };
        assert!(text.contains(&format!("\n{line}\n")), "{text}");
        assert_eq!(Policy::from_toml(&text), Ok(p.clone()));
        let serde_text = toml::to_string(&p).unwrap();
        assert!(serde_text.contains(&format!("\n{line}\n")), "{serde_text}");
        assert_eq!(toml::from_str::<Policy>(&serde_text).unwrap(), p);
        for parent in [None, Some(Duration::from_secs(9))] {
            let mut b = Policy::builder();
            if let Some(t) = parent {
                b = b.timeout(t);
            }
            let parent = b.build().unwrap();
            assert_eq!(
                PolicyPatch::from_toml(&text).unwrap().apply(&parent),
                Ok(p.clone())
            );
            assert_eq!(PolicyPatch::from_policy(&p).apply(&parent), Ok(p.clone()));
        }
    }
}

#[test]
fn retry_round_trips_and_overrides_any_parent() {
    let decorrelated = Retry::new(3)
        .with_backoff(RetryBackoff::Decorrelated)
        .with_budget(0.0);
    let other = Retry::new(7)
        .with_backoff(RetryBackoff::Constant)
        .with_base(Duration::from_secs(1))
        .with_max(Duration::from_secs(9))
        .with_budget(1.0);
    for retry in [None, Some(decorrelated)] {
        let mut b = Policy::builder();
        if let Some(r) = retry {
            b = b.retry(r);
        }
        let p = b.build().unwrap();
        let text = p.to_toml();
        let line = match retry {
            None => "retry = \"none\"",
            Some(_) => {
                "retry = { max_attempts = 3, backoff = \"decorrelated\", base = \"50ms\", max = \"2s\", \
                 budget = 0.0 }"
            }
        };
        assert!(text.contains(&format!("\n{line}\n")), "{text}");
        assert_eq!(Policy::from_toml(&text), Ok(p.clone()));
        let serde_text = toml::to_string(&p).unwrap();
        assert_eq!(toml::from_str::<Policy>(&serde_text).unwrap(), p);
        for parent in [None, Some(other)] {
            let mut b = Policy::builder();
            if let Some(r) = parent {
                b = b.retry(r);
            }
            let parent = b.build().unwrap();
            assert_eq!(
                PolicyPatch::from_toml(&text).unwrap().apply(&parent),
                Ok(p.clone())
            );
            assert_eq!(PolicyPatch::from_policy(&p).apply(&parent), Ok(p.clone()));
        }
    }
    for backoff in ["constant", "exponential", "full_jitter", "decorrelated"] {
        let text = format!(
            "retry = {{ max_attempts = 2, backoff = {backoff:?}, base = \"1ms\", max = \"1ms\", budget = 1.0 }}"
        );
        let p = Policy::from_toml(&text).unwrap();
        assert!(p.to_toml().contains(&format!("\n{text}\n")), "{text}");
    }
}

#[test]
fn fleet_round_trips_and_overrides_any_parent() {
    let modes = [
        FleetMode::Local,
        FleetMode::Follow,
        FleetMode::Quorum(2),
        FleetMode::Quorum(1000),
    ];
    for (mode, line) in modes.into_iter().zip([
        "fleet = \"local\"",
        "fleet = \"follow\"",
        "fleet = { quorum = 2 }",
        "fleet = { quorum = 1000 }",
    ]) {
        let p = Policy::builder().fleet(mode).build().unwrap();
        let text = p.to_toml();
        assert!(text.ends_with(&format!("\n{line}\n")), "{text}");
        assert_eq!(Policy::from_toml(&text), Ok(p.clone()));
        let serde_text = toml::to_string(&p).unwrap();
        assert_eq!(toml::from_str::<Policy>(&serde_text).unwrap(), p);
        for parent in modes {
            let parent = Policy::builder().fleet(parent).build().unwrap();
            assert_eq!(
                PolicyPatch::from_toml(&text).unwrap().apply(&parent),
                Ok(p.clone())
            );
            assert_eq!(PolicyPatch::from_policy(&p).apply(&parent), Ok(p.clone()));
        }
    }
}

#[test]
fn edge_values_round_trip() {
    let p = Policy::builder()
        .window(Window::time(MAX_DURATION, MAX_TIME_BUCKETS))
        .failure_rate_threshold(f64::MIN_POSITIVE)
        .min_calls(u32::MAX)
        .consecutive_failures(u32::MAX)
        .slow_calls(Duration::from_nanos(1), 1.0)
        .open_timeout(Duration::new(3723, 4_005_006))
        .backoff(Backoff::exponential(
            1.0 + f64::EPSILON,
            Duration::new(6 * 86_400 + 1, 1),
        ))
        .jitter(1.0 - f64::EPSILON)
        .half_open_permits(MAX_HALF_OPEN_PERMITS)
        .success_threshold(MAX_HALF_OPEN_PERMITS)
        .max_concurrent(MAX_CONCURRENT)
        .recovery(Recovery::ramp(Duration::from_millis(1), 1e-300))
        .latency_histogram(true)
        .rate_limit(RateLimit::new(u32::MAX, MAX_DURATION, u32::MAX))
        .timeout(Duration::new(1, 1))
        .retry(
            Retry::new(u32::MAX)
                .with_backoff(RetryBackoff::FullJitter)
                .with_base(Duration::from_nanos(1))
                .with_max(MAX_DURATION)
                .with_budget(f64::MIN_POSITIVE),
        )
        .fleet(FleetMode::Quorum(1000))
        .build()
        .unwrap();
    let text = p.to_toml();
    assert_eq!(
        text,
        r#"window = { span = "7days", buckets = 1024 }
failure_rate_threshold = 2.2250738585072014e-308
min_calls = 4294967295
consecutive_failures = 4294967295
slow_calls = { duration = "1ns", rate = 1.0 }
open_timeout = "1h 2m 3s 4ms 5us 6ns"
backoff = { exponential = 1.0000000000000002, max = "6days 1s 1ns" }
jitter = 0.9999999999999998
half_open = { permits = 10000, successes = 10000 }
max_concurrent = 16777216
recovery = { ramp = "1ms", start_share = 1e-300 }
latency_histogram = true
rate_limit = { rate = 4294967295, per = "7days", burst = 4294967295 }
timeout = "1s 1ns"
retry = { max_attempts = 4294967295, backoff = "full_jitter", base = "1ns", max = "7days", budget = 2.2250738585072014e-308 }
fleet = { quorum = 1000 }
"#
    );
    assert_eq!(Policy::from_toml(&text), Ok(p));
}
