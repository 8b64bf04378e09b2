//! `Retry::delay`: each schedule stays within its bounds for any draw and saturates for any
//! attempt number.

use std::time::Duration;

use fusebox_policies::{MAX_DURATION, Policy, Retry, RetryBackoff};

const SCHEDULES: [RetryBackoff; 4] = [
    RetryBackoff::Constant,
    RetryBackoff::Exponential,
    RetryBackoff::FullJitter,
    RetryBackoff::Decorrelated,
];

/// The largest `f64` below 1.
const ALMOST_ONE: f64 = 1.0 - f64::EPSILON / 2.0;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `base · 2^(attempt - 1)`, capped at `max`, without overflow.
fn exponential(r: &Retry, attempt: u32) -> Duration {
    let mut d = r.base();
    for _ in 1..attempt.max(1) {
        d = d.saturating_mul(2);
        if d >= r.max() {
            return r.max();
        }
    }
    d.min(r.max())
}

#[test]
fn each_schedule_stays_within_its_bounds_at_the_ends_of_the_draw() {
    let r = Retry::new(10).with_base(ms(50)).with_max(ms(2000));
    for attempt in 1..=20 {
        let cap = exponential(&r, attempt);
        for unit in [0.0, 0.5, ALMOST_ONE] {
            let constant = r.with_backoff(RetryBackoff::Constant);
            assert_eq!(constant.delay(attempt, ms(700), unit), ms(50));

            let exp = r.with_backoff(RetryBackoff::Exponential);
            assert_eq!(exp.delay(attempt, ms(700), unit), cap, "attempt {attempt}");

            let full = r
                .with_backoff(RetryBackoff::FullJitter)
                .delay(attempt, ms(700), unit);
            assert!(full <= cap, "attempt {attempt}, draw {unit}: {full:?}");
            if unit < 1.0 && cap > Duration::ZERO {
                assert!(full < cap, "attempt {attempt}, draw {unit}: {full:?}");
            }

            let dec = r.with_backoff(RetryBackoff::Decorrelated);
            for previous in [Duration::ZERO, ms(50), ms(700), ms(2000), Duration::MAX] {
                let d = dec.delay(attempt, previous, unit);
                let previous = if attempt == 1 { ms(50) } else { previous };
                let hi = previous.saturating_mul(3).max(ms(50)).min(ms(2000));
                assert!(
                    d >= ms(50) && d <= hi,
                    "attempt {attempt}: {d:?} over {previous:?}"
                );
            }
        }
        // The ends of the draw are the ends of the range.
        let full = r.with_backoff(RetryBackoff::FullJitter);
        assert_eq!(full.delay(attempt, ms(0), 0.0), Duration::ZERO);
        let dec = r.with_backoff(RetryBackoff::Decorrelated);
        assert_eq!(dec.delay(attempt, ms(100), 0.0), ms(50));
    }
    // Just under the top of the range for a draw just under 1, however long the range.
    let full = r.with_backoff(RetryBackoff::FullJitter);
    assert_eq!(
        full.delay(3, ms(0), ALMOST_ONE),
        ms(200) - Duration::from_nanos(1)
    );
    let dec = r.with_backoff(RetryBackoff::Decorrelated);
    assert_eq!(
        dec.delay(2, ms(100), ALMOST_ONE),
        ms(300) - Duration::from_nanos(1)
    );
    let long = Retry::new(2)
        .with_backoff(RetryBackoff::FullJitter)
        .with_base(MAX_DURATION)
        .with_max(MAX_DURATION);
    assert_eq!(
        long.delay(1, ms(0), ALMOST_ONE),
        MAX_DURATION - Duration::from_nanos(1)
    );
    assert_eq!(long.delay(1, ms(0), 1.0), MAX_DURATION);
}

#[test]
fn delays_saturate_at_max_for_any_attempt() {
    let r = Retry::new(3).with_base(ms(50)).with_max(ms(2000));
    for attempt in [1000, 1_000_000, u32::MAX] {
        for unit in [0.0, ALMOST_ONE] {
            let exp = r.with_backoff(RetryBackoff::Exponential);
            assert_eq!(exp.delay(attempt, ms(0), unit), ms(2000));
            let full = r
                .with_backoff(RetryBackoff::FullJitter)
                .delay(attempt, ms(0), unit);
            assert!(full <= ms(2000));
            let dec =
                r.with_backoff(RetryBackoff::Decorrelated)
                    .delay(attempt, Duration::MAX, unit);
            assert!(dec >= ms(50) && dec <= ms(2000));
        }
        assert_eq!(
            r.with_backoff(RetryBackoff::FullJitter)
                .delay(attempt, ms(0), 0.5),
            ms(1000)
        );
    }
    // The longest valid retry.
    let longest = Retry::new(2)
        .with_base(Duration::from_nanos(1))
        .with_max(MAX_DURATION);
    for backoff in SCHEDULES {
        for attempt in [1, 64, 65, 128, 1000, u32::MAX] {
            let d = longest
                .with_backoff(backoff)
                .delay(attempt, MAX_DURATION, ALMOST_ONE);
            assert!(d <= MAX_DURATION, "{backoff:?} {attempt}: {d:?}");
        }
    }
    assert_eq!(
        longest
            .with_backoff(RetryBackoff::Exponential)
            .delay(1000, Duration::ZERO, 0.0),
        MAX_DURATION
    );
}

#[test]
fn delays_stay_in_bounds_for_any_valid_retry_and_draw() {
    arbtest::arbtest(|u| {
        let base = Duration::from_nanos(u.int_in_range(1..=MAX_DURATION.as_nanos() as u64)?);
        let max_nanos = u.int_in_range(base.as_nanos() as u64..=MAX_DURATION.as_nanos() as u64)?;
        let max = Duration::from_nanos(max_nanos);
        let backoff = *u.choose(&SCHEDULES)?;
        let r = Retry::new(3)
            .with_backoff(backoff)
            .with_base(base)
            .with_max(max);
        assert!(Policy::builder().retry(r).build().is_ok());
        let attempt = if u.arbitrary()? {
            u.int_in_range(0..=70)?
        } else {
            u.arbitrary()?
        };
        let previous = Duration::from_nanos(u.arbitrary()?);
        let unit = u.int_in_range(0..=1u64 << 53)? as f64 / (1u64 << 53) as f64;
        let d = r.delay(attempt, previous, unit.min(ALMOST_ONE));
        match backoff {
            RetryBackoff::Constant => assert_eq!(d, base),
            RetryBackoff::Exponential => assert_eq!(d, exponential(&r, attempt)),
            RetryBackoff::FullJitter => assert!(d < exponential(&r, attempt)),
            RetryBackoff::Decorrelated => {
                let previous = if attempt <= 1 { base } else { previous };
                let hi = previous.saturating_mul(3).max(base);
                assert!(d >= base && (d < hi || d == base) && d <= max);
            }
        }
        assert!(d <= max);
        Ok(())
    })
    .budget_ms(300);
}
