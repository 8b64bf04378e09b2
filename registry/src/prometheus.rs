//! [`Registry::render_prometheus`]: every breaker's counters and gauges in the Prometheus text
//! exposition format (version 0.0.4).
//!
//! # Synchronization
//!
//! None of its own: each breaker is read once, through its own metrics, transition counts,
//! open deadline and latency summary, and those reads are what the engine documents them to be
//! (each counter exact once calls are quiet, never going backwards). The text is written after
//! every breaker has been read, family by family, as the format requires.
//!
//! # Cost
//!
//! The reads go into a compact [`Fleet`]: the figures each line needs, the escaped names one
//! after another in one string, so the family-by-family passes walk a few megabytes in order
//! rather than each breaker's own memory. The text is sized once from the readings (integers
//! exactly, decimals at their longest) and each line is written as a few copies of fixed text,
//! the name, and the value.

use std::fmt::Write as _;
use std::ops::Range;
use std::sync::LazyLock;
use std::time::Duration;

use fusebox_engine::{Breaker, Latency, LatencySummary, RejectReason, State};

use crate::Registry;

impl Registry {
    /// Every breaker's counters and gauges as Prometheus text (exposition format 0.0.4), for
    /// a `/metrics` route. Every series has the label `breaker`:
    ///
    /// | series | type | what |
    /// |---|---|---|
    /// | `fusebox_calls_total{outcome}` | counter | calls that reported: `success`, `failure`, `ignored` |
    /// | `fusebox_failures_total{kind}` | counter | failures recorded with a kind, by kind |
    /// | `fusebox_rejected_total{reason}` | counter | rejections by reason (`open`, `half_open_full`, …) |
    /// | `fusebox_slow_calls_total` | counter | calls at least as slow as the slow-call duration |
    /// | `fusebox_transitions_total{from,to}` | counter | changes of state, by their two ends |
    /// | `fusebox_state{state}` | gauge | one-hot: 1 for the state the breaker is in, 0 for every other |
    /// | `fusebox_failure_rate`, `fusebox_slow_call_rate` | gauge | over the window, 0 to 1 |
    /// | `fusebox_window_calls` | gauge | outcomes in the window |
    /// | `fusebox_open_remaining_seconds` | gauge | time left in the open period, 0 unless open |
    /// | `fusebox_call_duration_seconds{quantile}` | summary | with `latency_histogram` only |
    ///
    /// plus `fusebox_events_dropped_total` (no label): transitions that subscribers missed,
    /// and `fusebox_recording_dropped_total` (no label): calls a full recording buffer could
    /// not keep ([`recording_dropped`](Self::recording_dropped)).
    /// State and reason values are the snake_case of their names; label values are escaped.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.breaker("pay.stripe")?.force_open();
    /// let text = registry.render_prometheus();
    /// assert!(text.contains("fusebox_state{breaker=\"pay.stripe\",state=\"forced_open\"} 1\n"));
    /// assert!(text.contains("fusebox_state{breaker=\"pay.stripe\",state=\"closed\"} 0\n"));
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn render_prometheus(&self) -> String {
        let fleet = Fleet::read(&self.breakers());
        let tails = &*TAILS;
        let mut out = Exposition::with_capacity(fleet.text_bytes());

        out.ints(CALLS, &fleet, |r| {
            tails.outcome.iter().map(String::as_str).zip(r.calls)
        });

        out.family(FAILURES);
        for r in &fleet.readings {
            let label = fleet.label(r);
            for &(kind, n) in fleet.kinds.get(r.kinds.clone()).unwrap_or_default() {
                out.line(FAILURES.head, label, KIND_HEAD);
                escape_label_value(kind, &mut out.text);
                out.text.push_str(NO_MORE_LABELS);
                out.int(n);
            }
        }

        out.ints(REJECTED, &fleet, |r| {
            tails.reason.iter().map(String::as_str).zip(r.rejected)
        });
        out.ints(SLOW, &fleet, |r| [(NO_MORE_LABELS, r.slow)]);

        out.family(TRANSITIONS);
        for r in &fleet.readings {
            let label = fleet.label(r);
            let transitions = fleet.transitions.get(r.transitions.clone());
            for &(index, n) in transitions.unwrap_or_default() {
                let tail = tails.transition.get(index).map_or("", String::as_str);
                out.line(TRANSITIONS.head, label, tail);
                out.int(n);
            }
        }

        out.ints(STATE, &fleet, |r| {
            tails
                .state
                .iter()
                .map(String::as_str)
                .zip(State::ALL.map(|state| u64::from(state == r.state)))
        });

        out.family(FAILURE_RATE);
        for r in &fleet.readings {
            out.line(FAILURE_RATE.head, fleet.label(r), NO_MORE_LABELS);
            out.float(r.failure_rate);
        }

        out.family(SLOW_CALL_RATE);
        for r in &fleet.readings {
            out.line(SLOW_CALL_RATE.head, fleet.label(r), NO_MORE_LABELS);
            out.float(r.slow_call_rate);
        }

        out.ints(WINDOW_CALLS, &fleet, |r| [(NO_MORE_LABELS, r.window_calls)]);

        out.family(OPEN_REMAINING);
        for r in &fleet.readings {
            out.line(OPEN_REMAINING.head, fleet.label(r), NO_MORE_LABELS);
            out.float(r.open_remaining);
        }

        if !fleet.latencies.is_empty() {
            out.family(DURATION);
            for r in &fleet.readings {
                let Some(index) = r.latency else { continue };
                let Some(summary) = fleet.latencies.get(index) else {
                    continue;
                };
                let label = fleet.label(r);
                for (tail, value) in tails.quantile.iter().zip(summary.quantiles) {
                    out.line(DURATION.head, label, tail);
                    out.float(value.as_secs_f64());
                }
                out.line(DURATION_SUM_HEAD, label, NO_MORE_LABELS);
                out.float(summary.sum.as_secs_f64());
                out.line(DURATION_COUNT_HEAD, label, NO_MORE_LABELS);
                out.int(summary.count);
            }
        }

        out.family(EVENTS_DROPPED);
        out.text.push_str("fusebox_events_dropped_total ");
        out.int(self.events_dropped());

        out.family(RECORDING_DROPPED);
        out.text.push_str("fusebox_recording_dropped_total ");
        out.int(self.recording_dropped());
        out.text
    }
}

/// A family of series: its `# HELP` and `# TYPE` lines, and what its samples' lines start
/// with, up to the breaker's name.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    /// `name{breaker="`.
    head: &'static str,
}

/// A family whose samples have the label `breaker` first.
macro_rules! family {
    ($name:literal, $kind:literal, $help:literal) => {
        Family {
            name: $name,
            kind: $kind,
            help: $help,
            head: concat!($name, "{breaker=\""),
        }
    };
}

const CALLS: Family = family!(
    "fusebox_calls_total",
    "counter",
    "Calls that reported, by outcome."
);
const FAILURES: Family = family!(
    "fusebox_failures_total",
    "counter",
    "Failures recorded with a kind, by kind."
);
/// What follows the breaker's name on a `fusebox_failures_total` line, up to the kind.
const KIND_HEAD: &str = "\",kind=\"";
const REJECTED: Family = family!(
    "fusebox_rejected_total",
    "counter",
    "Calls rejected, by reason."
);
const SLOW: Family = family!(
    "fusebox_slow_calls_total",
    "counter",
    "Calls at least as slow as the slow-call duration."
);
const TRANSITIONS: Family = family!(
    "fusebox_transitions_total",
    "counter",
    "Changes of state, by the state left and the state entered."
);
const STATE: Family = family!(
    "fusebox_state",
    "gauge",
    "The breaker's state: 1 for the state it is in, 0 for every other."
);
const FAILURE_RATE: Family = family!(
    "fusebox_failure_rate",
    "gauge",
    "Failures over outcomes in the window (0 to 1)."
);
const SLOW_CALL_RATE: Family = family!(
    "fusebox_slow_call_rate",
    "gauge",
    "Slow calls over outcomes in the window (0 to 1)."
);
const WINDOW_CALLS: Family = family!("fusebox_window_calls", "gauge", "Outcomes in the window.");
const OPEN_REMAINING: Family = family!(
    "fusebox_open_remaining_seconds",
    "gauge",
    "Time left in the open period; 0 unless open."
);
const DURATION: Family = family!(
    "fusebox_call_duration_seconds",
    "summary",
    "Durations of admitted calls, from acquire to record."
);
const DURATION_SUM_HEAD: &str = "fusebox_call_duration_seconds_sum{breaker=\"";
const DURATION_COUNT_HEAD: &str = "fusebox_call_duration_seconds_count{breaker=\"";
const EVENTS_DROPPED: Family = family!(
    "fusebox_events_dropped_total",
    "counter",
    "Transitions that subscribers missed because their channel was full."
);
const RECORDING_DROPPED: Family = family!(
    "fusebox_recording_dropped_total",
    "counter",
    "Calls not recorded for replay because the recording buffer was full."
);

/// Every family, for sizing the text.
const FAMILIES: [&Family; 13] = [
    &CALLS,
    &FAILURES,
    &REJECTED,
    &SLOW,
    &TRANSITIONS,
    &STATE,
    &FAILURE_RATE,
    &SLOW_CALL_RATE,
    &WINDOW_CALLS,
    &OPEN_REMAINING,
    &DURATION,
    &EVENTS_DROPPED,
    &RECORDING_DROPPED,
];

/// What closes a sample's labels when `breaker` is its only one.
const NO_MORE_LABELS: &str = "\"} ";

/// What follows the breaker's name on a line, up to the value, for each value of a family's
/// second label: `",outcome="success"} ` and the like, escaped, made once.
struct Tails {
    outcome: [String; 3],
    reason: [String; RejectReason::ALL.len()],
    /// Indexed by `from · 7 + to`, the states' positions in `State::ALL`.
    transition: Vec<String>,
    state: [String; State::ALL.len()],
    quantile: [String; Latency::SUMMARY_QUANTILES.len()],
}

static TAILS: LazyLock<Tails> = LazyLock::new(|| {
    let tail = |labels: &[(&str, &str)]| {
        let mut t = String::from("\"");
        for (key, value) in labels {
            t.push(',');
            t.push_str(key);
            t.push_str("=\"");
            escape_label_value(value, &mut t);
            t.push('"');
        }
        t.push_str("} ");
        t
    };
    Tails {
        outcome: ["success", "failure", "ignored"].map(|o| tail(&[("outcome", o)])),
        reason: RejectReason::ALL.map(|r| tail(&[("reason", r.as_label())])),
        transition: State::ALL
            .iter()
            .flat_map(|from| {
                State::ALL
                    .iter()
                    .map(|to| tail(&[("from", from.as_label()), ("to", to.as_label())]))
            })
            .collect(),
        state: State::ALL.map(|s| tail(&[("state", s.as_label())])),
        quantile: Latency::SUMMARY_QUANTILES.map(|(q, _)| tail(&[("quantile", q)])),
    }
});

/// Every breaker, read once, in name order.
struct Fleet {
    readings: Vec<Reading>,
    /// Every breaker's name escaped as a label value, one after another.
    labels: String,
    /// The changes of state each breaker has made, as (position in `Tails::transition`,
    /// count), the nonzero counts only.
    transitions: Vec<(usize, u64)>,
    /// Each breaker's failures by kind, the kinds it has counted only.
    kinds: Vec<(&'static str, u64)>,
    /// The summaries of the breakers with a latency histogram.
    latencies: Vec<LatencySummary>,
    /// The lines of text the breakers make, each counted once: for sizing.
    lines: usize,
    /// The bytes of every value, integers exactly and decimals at [`MAX_DECIMAL`].
    value_bytes: usize,
    /// The bytes of the names, once per line that repeats them.
    label_bytes: usize,
    /// The bytes of the fixed text of the lines, heads and tails.
    fixed_bytes: usize,
}

/// One breaker's figures, as its lines need them.
struct Reading {
    /// Its name in `Fleet::labels`.
    label: Range<usize>,
    /// Successes, failures, ignored.
    calls: [u64; 3],
    rejected: [u64; RejectReason::ALL.len()],
    slow: u64,
    /// Its changes of state in `Fleet::transitions`.
    transitions: Range<usize>,
    /// Its failures by kind in `Fleet::kinds`.
    kinds: Range<usize>,
    state: State,
    failure_rate: f64,
    slow_call_rate: f64,
    window_calls: u64,
    /// Seconds.
    open_remaining: f64,
    /// Its summary in `Fleet::latencies`.
    latency: Option<usize>,
}

/// The longest a decimal is taken to be when sizing: `Display` of an `f64` between 10⁻⁵ and
/// 10¹⁶ (17 significant digits, a point, and at most 5 leading zeros). Longer ones only cost
/// the text a reallocation.
const MAX_DECIMAL: usize = 24;

/// The digits of `n` in decimal.
fn int_bytes(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

impl Fleet {
    fn read(breakers: &[Breaker]) -> Fleet {
        let mut fleet = Fleet {
            readings: Vec::with_capacity(breakers.len()),
            labels: String::with_capacity(breakers.iter().map(|b| b.name().len()).sum()),
            transitions: Vec::new(),
            kinds: Vec::new(),
            latencies: Vec::new(),
            lines: 0,
            value_bytes: 0,
            label_bytes: 0,
            fixed_bytes: 0,
        };
        let tails = &*TAILS;
        // The fixed text of the lines every breaker has.
        let every_breaker = CALLS.head.len() * 3
            + tails.outcome.iter().map(String::len).sum::<usize>()
            + REJECTED.head.len() * RejectReason::ALL.len()
            + tails.reason.iter().map(String::len).sum::<usize>()
            + STATE.head.len() * State::ALL.len()
            + tails.state.iter().map(String::len).sum::<usize>()
            + [
                SLOW.head,
                FAILURE_RATE.head,
                SLOW_CALL_RATE.head,
                WINDOW_CALLS.head,
                OPEN_REMAINING.head,
            ]
            .map(|h| h.len() + NO_MORE_LABELS.len())
            .iter()
            .sum::<usize>();
        let every_latency = DURATION.head.len() * Latency::SUMMARY_QUANTILES.len()
            + tails.quantile.iter().map(String::len).sum::<usize>()
            + DURATION_SUM_HEAD.len()
            + DURATION_COUNT_HEAD.len()
            + 2 * NO_MORE_LABELS.len();
        for breaker in breakers {
            fleet.push(breaker, tails, every_breaker, every_latency);
        }
        fleet
    }

    /// Reads `breaker`: its metrics, transition counts, open deadline and latency, in that
    /// order.
    fn push(
        &mut self,
        breaker: &Breaker,
        tails: &Tails,
        every_breaker: usize,
        every_latency: usize,
    ) {
        let start = self.labels.len();
        escape_label_value(breaker.name(), &mut self.labels);
        let label = start..self.labels.len();
        let m = breaker.metrics();
        let calls = [m.successes, m.failures, m.ignored];
        let rejected = RejectReason::ALL.map(|reason| m.rejected_by(reason));

        let first_transition = self.transitions.len();
        let mut transition_bytes = 0;
        for (from, to, n) in breaker.transition_counts().iter() {
            let index = position(from) * State::ALL.len() + position(to);
            transition_bytes += TRANSITIONS.head.len()
                + tails.transition.get(index).map_or(0, String::len)
                + int_bytes(n);
            self.transitions.push((index, n));
        }
        let transitions = first_transition..self.transitions.len();

        let first_kind = self.kinds.len();
        let mut kind_bytes = 0;
        for (kind, n) in m.failures_by_kind() {
            // A kind escaped is at most twice as long.
            kind_bytes += FAILURES.head.len()
                + KIND_HEAD.len()
                + 2 * kind.len()
                + NO_MORE_LABELS.len()
                + int_bytes(n);
            self.kinds.push((kind, n));
        }
        let kinds = first_kind..self.kinds.len();

        let open_remaining = breaker
            .open_remaining()
            .unwrap_or(Duration::ZERO)
            .as_secs_f64();
        let latency = breaker.latency_summary().map(|summary| {
            self.latencies.push(summary);
            self.latencies.len() - 1
        });

        let mut lines = 3
            + RejectReason::ALL.len()
            + 1
            + State::ALL.len()
            + 4
            + transitions.len()
            + kinds.len();
        let mut value_bytes = calls
            .iter()
            .chain(&rejected)
            .map(|&n| int_bytes(n))
            .sum::<usize>()
            + int_bytes(m.slow)
            + State::ALL.len()
            + int_bytes(m.window_calls)
            + 3 * MAX_DECIMAL
            + transition_bytes
            + kind_bytes;
        let mut fixed_bytes = every_breaker;
        if let Some(summary) = latency.and_then(|i| self.latencies.get(i)) {
            lines += Latency::SUMMARY_QUANTILES.len() + 2;
            value_bytes +=
                (Latency::SUMMARY_QUANTILES.len() + 1) * MAX_DECIMAL + int_bytes(summary.count);
            fixed_bytes += every_latency;
        }
        self.lines += lines;
        self.value_bytes += value_bytes;
        self.label_bytes += lines * label.len();
        self.fixed_bytes += fixed_bytes;

        self.readings.push(Reading {
            label,
            calls,
            rejected,
            slow: m.slow,
            transitions,
            kinds,
            state: m.state,
            failure_rate: m.failure_rate(),
            slow_call_rate: m.slow_call_rate(),
            window_calls: m.window_calls,
            open_remaining,
            latency,
        });
    }

    /// The escaped name of the breaker `r` reads.
    fn label(&self, r: &Reading) -> &str {
        self.labels.get(r.label.clone()).unwrap_or_default()
    }

    /// The text's length, or a little more.
    fn text_bytes(&self) -> usize {
        let families: usize = FAMILIES
            .iter()
            .map(|f| "# HELP  \n# TYPE  \n".len() + 2 * f.name.len() + f.help.len() + f.kind.len())
            .sum();
        // The two counters without a label, and each line's line feed.
        families + 2 * 24 + self.lines + self.value_bytes + self.label_bytes + self.fixed_bytes
    }
}

/// `state`'s position in `State::ALL`.
fn position(state: State) -> usize {
    State::ALL.iter().position(|&s| s == state).unwrap_or(0)
}

/// The text being written.
struct Exposition {
    text: String,
    ints: itoa::Buffer,
}

impl Exposition {
    fn with_capacity(bytes: usize) -> Exposition {
        Exposition {
            text: String::with_capacity(bytes),
            ints: itoa::Buffer::new(),
        }
    }

    /// The `# HELP` and `# TYPE` lines of a family.
    fn family(&mut self, family: Family) {
        let t = &mut self.text;
        for part in [
            "# HELP ",
            family.name,
            " ",
            family.help,
            "\n# TYPE ",
            family.name,
            " ",
            family.kind,
            "\n",
        ] {
            t.push_str(part);
        }
    }

    /// A family of integer samples: for each breaker, a line per `(tail, value)` that
    /// `values` gives for its reading.
    fn ints<'t, I>(&mut self, family: Family, fleet: &Fleet, values: impl Fn(&Reading) -> I)
    where
        I: IntoIterator<Item = (&'t str, u64)>,
    {
        let head = family.head;
        self.family(family);
        for r in &fleet.readings {
            let label = fleet.label(r);
            for (tail, n) in values(r) {
                self.line(head, label, tail);
                self.int(n);
            }
        }
    }

    /// A sample's name and labels, up to the value: `head`, the escaped name, `tail`. The
    /// caller writes the value.
    #[inline]
    fn line(&mut self, head: &str, label: &str, tail: &str) {
        self.text.push_str(head);
        self.text.push_str(label);
        self.text.push_str(tail);
    }

    #[inline]
    fn int(&mut self, n: u64) {
        self.text.push_str(self.ints.format(n));
        self.text.push('\n');
    }

    fn float(&mut self, x: f64) {
        // Most rates and times left are zero: `Display`'s text for it, without the formatter.
        if x == 0.0 && x.is_sign_positive() {
            self.text.push_str("0\n");
            return;
        }
        // `Display` for f64 writes the shortest text that reads back as the same value, which
        // the format accepts; the values here are finite.
        let _ = writeln!(self.text, "{x}");
    }
}

/// Appends `value` escaped as a label value: backslash, double quote and line feed are the
/// three characters the format escapes.
fn escape_label_value(value: &str, out: &mut String) {
    if !value.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_backslash_quote_and_line_feed() {
        let mut out = String::new();
        escape_label_value("a\\b\"c\nd", &mut out);
        assert_eq!(out, "a\\\\b\\\"c\\nd");
    }
}
