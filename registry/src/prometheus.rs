//! [`Registry::render_prometheus`]: every breaker's counters and gauges in the Prometheus text
//! exposition format (version 0.0.4).
//!
//! # Synchronization
//!
//! None of its own: each breaker is read once, through its own metrics, transition counts,
//! open deadline and latency, and those reads are what the engine documents them to be (each
//! counter exact once calls are quiet, never going backwards). The text is written after every
//! breaker has been read, family by family, as the format requires.

use std::fmt::Write as _;
use std::time::Duration;

use fusebox_engine::{Breaker, Latency, Metrics, RejectReason, State, TransitionCounts};

use crate::Registry;

/// One breaker, read once.
struct Reading {
    /// `breaker="…"`, escaped.
    label: String,
    metrics: Metrics,
    transitions: TransitionCounts,
    open_remaining: Option<Duration>,
    latency: Option<Latency>,
}

impl Reading {
    fn of(breaker: &Breaker) -> Reading {
        let mut label = String::with_capacity(breaker.name().len() + 10);
        label.push_str("breaker=\"");
        escape_label_value(breaker.name(), &mut label);
        label.push('"');
        Reading {
            label,
            metrics: breaker.metrics(),
            transitions: breaker.transition_counts(),
            open_remaining: breaker.open_remaining(),
            latency: breaker.latency(),
        }
    }
}

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
        let readings: Vec<Reading> = self.breakers().iter().map(Reading::of).collect();
        let mut out = Exposition::with_capacity(256 + readings.len() * 1600);

        out.family(
            "fusebox_calls_total",
            "counter",
            "Calls that reported, by outcome.",
        );
        for r in &readings {
            let c = &r.metrics.counters;
            for (outcome, n) in [
                ("success", c.successes),
                ("failure", c.failures),
                ("ignored", c.ignored),
            ] {
                out.sample("fusebox_calls_total", r, &[("outcome", outcome)]);
                out.int(n);
            }
        }

        out.family(
            "fusebox_rejected_total",
            "counter",
            "Calls rejected, by reason.",
        );
        for r in &readings {
            for reason in RejectReason::ALL {
                out.sample(
                    "fusebox_rejected_total",
                    r,
                    &[("reason", reason.as_label())],
                );
                out.int(r.metrics.rejected_by(reason));
            }
        }

        out.family(
            "fusebox_slow_calls_total",
            "counter",
            "Calls at least as slow as the slow-call duration.",
        );
        for r in &readings {
            out.sample("fusebox_slow_calls_total", r, &[]);
            out.int(r.metrics.slow);
        }

        out.family(
            "fusebox_transitions_total",
            "counter",
            "Changes of state, by the state left and the state entered.",
        );
        for r in &readings {
            for (from, to, n) in r.transitions.iter() {
                out.sample(
                    "fusebox_transitions_total",
                    r,
                    &[("from", from.as_label()), ("to", to.as_label())],
                );
                out.int(n);
            }
        }

        out.family(
            "fusebox_state",
            "gauge",
            "The breaker's state: 1 for the state it is in, 0 for every other.",
        );
        for r in &readings {
            for state in State::ALL {
                out.sample("fusebox_state", r, &[("state", state.as_label())]);
                out.int(u64::from(state == r.metrics.state));
            }
        }

        out.family(
            "fusebox_failure_rate",
            "gauge",
            "Failures over outcomes in the window (0 to 1).",
        );
        for r in &readings {
            out.sample("fusebox_failure_rate", r, &[]);
            out.float(r.metrics.failure_rate());
        }

        out.family(
            "fusebox_slow_call_rate",
            "gauge",
            "Slow calls over outcomes in the window (0 to 1).",
        );
        for r in &readings {
            out.sample("fusebox_slow_call_rate", r, &[]);
            out.float(r.metrics.slow_call_rate());
        }

        out.family("fusebox_window_calls", "gauge", "Outcomes in the window.");
        for r in &readings {
            out.sample("fusebox_window_calls", r, &[]);
            out.int(r.metrics.window_calls);
        }

        out.family(
            "fusebox_open_remaining_seconds",
            "gauge",
            "Time left in the open period; 0 unless open.",
        );
        for r in &readings {
            out.sample("fusebox_open_remaining_seconds", r, &[]);
            out.float(r.open_remaining.unwrap_or(Duration::ZERO).as_secs_f64());
        }

        if readings.iter().any(|r| r.latency.is_some()) {
            out.family(
                "fusebox_call_duration_seconds",
                "summary",
                "Durations of admitted calls, from acquire to record.",
            );
            for r in &readings {
                let Some(latency) = &r.latency else { continue };
                let values = latency.quantiles(&Latency::SUMMARY_QUANTILES.map(|(_, q)| q));
                for ((label, _), value) in Latency::SUMMARY_QUANTILES.iter().zip(values) {
                    out.sample("fusebox_call_duration_seconds", r, &[("quantile", label)]);
                    out.float(value.as_secs_f64());
                }
                out.sample("fusebox_call_duration_seconds_sum", r, &[]);
                out.float(latency.sum().as_secs_f64());
                out.sample("fusebox_call_duration_seconds_count", r, &[]);
                out.int(latency.count());
            }
        }

        out.family(
            "fusebox_events_dropped_total",
            "counter",
            "Transitions that subscribers missed because their channel was full.",
        );
        out.text.push_str("fusebox_events_dropped_total ");
        out.int(self.events_dropped());

        out.family(
            "fusebox_recording_dropped_total",
            "counter",
            "Calls not recorded for replay because the recording buffer was full.",
        );
        out.text.push_str("fusebox_recording_dropped_total ");
        out.int(self.recording_dropped());
        out.text
    }
}

/// The text being written.
struct Exposition {
    text: String,
}

impl Exposition {
    fn with_capacity(bytes: usize) -> Exposition {
        Exposition {
            text: String::with_capacity(bytes),
        }
    }

    /// The `# HELP` and `# TYPE` lines of a family.
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        // Writing into a `String` cannot fail.
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// A sample's name and labels, up to the value; the caller writes the value.
    fn sample(&mut self, name: &str, r: &Reading, labels: &[(&str, &str)]) {
        let t = &mut self.text;
        t.push_str(name);
        t.push('{');
        t.push_str(&r.label);
        for (key, value) in labels {
            t.push(',');
            t.push_str(key);
            t.push_str("=\"");
            // States, reasons and quantiles need no escaping; failure kinds are the caller's.
            escape_label_value(value, t);
            t.push('"');
        }
        t.push_str("} ");
    }

    fn int(&mut self, n: u64) {
        self.text.push_str(itoa::Buffer::new().format(n));
        self.text.push('\n');
    }

    fn float(&mut self, x: f64) {
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
