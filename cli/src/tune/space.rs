//! The policy space `fusebox tune` searches: the keys that decide when a breaker opens and how
//! it comes back, each over a grid of values a person would write.
//!
//! Every other key (slow calls, bulkhead, rate limit, chaos, …) is kept as the starting policy
//! has it. A candidate is drawn at random from the grid, or as a neighbour of a good one
//! (one or two keys moved to an adjacent value), always from the search's own seeded stream.

use std::time::Duration;

use fusebox::{Backoff, Policy, Recovery, Window};

use crate::rng::SplitMix64;

const THRESHOLDS: &[f64] = &[0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75, 0.9];
const MIN_CALLS: &[u32] = &[5, 10, 20, 50, 100];
const WINDOWS: &[Window] = &[
    Window::count(20),
    Window::count(50),
    Window::count(100),
    Window::count(200),
    Window::time(Duration::from_secs(5), 5),
    Window::time(Duration::from_secs(10), 10),
    Window::time(Duration::from_secs(30), 10),
    Window::time(Duration::from_secs(60), 12),
];
const OPEN_TIMEOUTS: &[Duration] = &[
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(10),
    Duration::from_secs(30),
];
const BACKOFFS: &[Backoff] = &[
    Backoff::constant(),
    Backoff::exponential(2.0, Duration::from_secs(8)),
    Backoff::exponential(2.0, Duration::from_secs(30)),
    Backoff::exponential(2.0, Duration::from_secs(60)),
];
const PERMITS: &[u32] = &[1, 3, 5, 10];
const SUCCESSES: &[u32] = &[1, 2, 3, 5];
const RECOVERIES: &[Recovery] = &[
    Recovery::Immediate,
    Recovery::ramp(Duration::from_secs(2), 0.2),
    Recovery::ramp(Duration::from_secs(5), 0.2),
    Recovery::ramp(Duration::from_secs(10), 0.1),
    Recovery::ramp(Duration::from_secs(30), 0.1),
];

/// How many keys the search moves.
pub const DIMENSIONS: usize = 8;

/// The grid, as `key: values` lines, for the report.
///
/// ```
/// let lines = fusebox_cli::tune::space::describe();
/// assert!(lines.iter().any(|l| l.starts_with("failure_rate_threshold")));
/// ```
pub fn describe() -> Vec<String> {
    fn join<T>(xs: &[T], f: impl Fn(&T) -> String) -> String {
        xs.iter().map(f).collect::<Vec<_>>().join(", ")
    }
    let secs = |d: &Duration| crate::scenario::fmt_duration(*d);
    vec![
        format!(
            "failure_rate_threshold: {}",
            join(THRESHOLDS, f64::to_string)
        ),
        format!("min_calls: {}", join(MIN_CALLS, u32::to_string)),
        format!("window: {}", join(WINDOWS, |w| window_label(*w))),
        format!("open_timeout: {}", join(OPEN_TIMEOUTS, secs)),
        format!("backoff: {}", join(BACKOFFS, |b| backoff_label(*b))),
        format!("half_open.permits: {}", join(PERMITS, u32::to_string)),
        format!(
            "half_open.successes: {} (at most the permits)",
            join(SUCCESSES, u32::to_string)
        ),
        format!("recovery: {}", join(RECOVERIES, |r| recovery_label(*r))),
    ]
}

/// One point of the grid: an index into each key's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Point([usize; DIMENSIONS]);

const SIZES: [usize; DIMENSIONS] = [
    THRESHOLDS.len(),
    MIN_CALLS.len(),
    WINDOWS.len(),
    OPEN_TIMEOUTS.len(),
    BACKOFFS.len(),
    PERMITS.len(),
    SUCCESSES.len(),
    RECOVERIES.len(),
];

impl Point {
    /// A point drawn uniformly.
    pub fn random(rng: &mut SplitMix64) -> Point {
        let mut p = [0; DIMENSIONS];
        for (i, size) in SIZES.iter().enumerate() {
            p[i] = pick(rng, *size);
        }
        Point(p)
    }

    /// The grid point nearest `policy`'s keys (its own point, for a policy of the grid).
    pub fn nearest(policy: &Policy) -> Point {
        fn closest<T>(values: &[T], distance: impl Fn(&T) -> f64) -> usize {
            (0..values.len())
                .min_by(|&a, &b| distance(&values[a]).total_cmp(&distance(&values[b])))
                .unwrap_or(0)
        }
        let log_gap = |a: f64, b: f64| (a.max(1e-9).ln() - b.max(1e-9).ln()).abs();
        let secs = |d: Duration| d.as_secs_f64();
        let window_secs = |w: &Window| match w {
            Window::Count { size } => f64::from(*size),
            Window::Time { span, .. } => 1e6 + span.as_secs_f64(),
        };
        let backoff_secs = |b: &Backoff| match b {
            Backoff::Constant => 0.0,
            Backoff::Exponential { max, .. } => max.as_secs_f64(),
        };
        let recovery_secs = |r: &Recovery| match r {
            Recovery::Immediate => 0.0,
            Recovery::Ramp { duration, .. } => duration.as_secs_f64(),
        };
        Point([
            closest(THRESHOLDS, |t| (t - policy.failure_rate_threshold()).abs()),
            closest(MIN_CALLS, |m| {
                log_gap(f64::from(*m), f64::from(policy.min_calls()))
            }),
            closest(WINDOWS, |w| {
                log_gap(window_secs(w), window_secs(&policy.window()))
            }),
            closest(OPEN_TIMEOUTS, |o| {
                log_gap(secs(*o), secs(policy.open_timeout()))
            }),
            closest(BACKOFFS, |b| {
                (backoff_secs(b) - backoff_secs(&policy.backoff())).abs()
            }),
            closest(PERMITS, |p| {
                (f64::from(*p) - f64::from(policy.half_open_permits())).abs()
            }),
            closest(SUCCESSES, |s| {
                (f64::from(*s) - f64::from(policy.half_open_successes())).abs()
            }),
            closest(RECOVERIES, |r| {
                (recovery_secs(r) - recovery_secs(&policy.recovery())).abs()
            }),
        ])
    }

    /// A neighbour: one or two keys moved one step up or down the grid.
    pub fn neighbour(self, rng: &mut SplitMix64) -> Point {
        let mut p = self.0;
        let moves = 1 + pick(rng, 2);
        for _ in 0..moves {
            let key = pick(rng, DIMENSIONS);
            let up = rng.next_u64() & 1 == 1;
            p[key] = if up {
                (p[key] + 1).min(SIZES[key] - 1)
            } else {
                p[key].saturating_sub(1)
            };
        }
        Point(p)
    }

    /// `start` with this point's keys.
    ///
    /// # Errors
    ///
    /// A combination the policy refuses (for one, `min_calls` above a count window's size),
    /// with the policy's reason.
    pub fn apply(self, start: &Policy) -> Result<Policy, String> {
        let [t, m, w, o, b, p, s, r] = self.0;
        let permits = PERMITS[p];
        start
            .to_builder()
            .failure_rate_threshold(THRESHOLDS[t])
            .min_calls(MIN_CALLS[m])
            .window(WINDOWS[w])
            .open_timeout(OPEN_TIMEOUTS[o])
            .backoff(BACKOFFS[b])
            .half_open_permits(permits)
            .half_open_successes(SUCCESSES[s].min(permits))
            .recovery(RECOVERIES[r])
            .build()
            .map_err(|e| e.to_string())
    }
}

fn pick(rng: &mut SplitMix64, n: usize) -> usize {
    ((rng.next_unit() * n as f64) as usize).min(n - 1)
}

/// A short label: `count 100`, `time 10s/10`.
pub fn window_label(w: Window) -> String {
    match w {
        Window::Count { size } => format!("count {size}"),
        Window::Time { span, buckets } => {
            format!("time {}/{buckets}", crate::scenario::fmt_duration(span))
        }
    }
}

/// A short label: `constant`, `x2 to 8s`.
pub fn backoff_label(b: Backoff) -> String {
    match b {
        Backoff::Constant => "constant".to_owned(),
        Backoff::Exponential { factor, max } => {
            format!("x{factor} to {}", crate::scenario::fmt_duration(max))
        }
    }
}

/// A short label: `immediate`, `ramp 5s from 20%`.
pub fn recovery_label(r: Recovery) -> String {
    match r {
        Recovery::Immediate => "immediate".to_owned(),
        Recovery::Ramp {
            duration,
            start_share,
        } => format!(
            "ramp {} from {}",
            crate::scenario::fmt_duration(duration),
            crate::scenario::fmt_percent(start_share)
        ),
    }
}

/// The searched keys of `p` in one line: what a row of the front shows.
///
/// ```
/// let line = fusebox_cli::tune::space::summary(&fusebox::Policy::default());
/// assert!(line.starts_with("threshold 0.5, min_calls 20, count 100"));
/// ```
pub fn summary(p: &Policy) -> String {
    format!(
        "threshold {}, min_calls {}, {}, open {} {}, half-open {} of {}, {}",
        p.failure_rate_threshold(),
        p.min_calls(),
        window_label(p.window()),
        crate::scenario::fmt_duration(p.open_timeout()),
        backoff_label(p.backoff()),
        p.half_open_successes(),
        p.half_open_permits(),
        recovery_label(p.recovery()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_stay_on_the_grid_and_points_apply() {
        let mut rng = SplitMix64::new(3);
        let mut applied = 0;
        for _ in 0..500 {
            let p = Point::random(&mut rng).neighbour(&mut rng);
            for (i, size) in SIZES.iter().enumerate() {
                assert!(p.0[i] < *size);
            }
            applied += usize::from(p.apply(&Policy::default()).is_ok());
        }
        assert!(applied > 400, "most points are valid policies: {applied}");
    }
}
