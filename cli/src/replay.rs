//! Replaying a recording: real traffic turned into a scenario.
//!
//! A recording is JSON Lines, one call per line, as a registry's recorder (or
//! `fusebox simulate --record`) writes it:
//!
//! ```text
//! {"t_ms":1234.5,"breaker":"pay.stripe","outcome":"failure","duration_ms":2000.0}
//! {"t_ms":1250.0,"breaker":"pay.stripe","outcome":"rejected","reason":"open"}
//! ```
//!
//! The replay keeps the calls' arrivals exactly as recorded (time 0 is the first arrival) and
//! rebuilds the downstream second by second from what the admitted calls saw: each call of
//! a second draws one of the answers (outcome and duration together) observed in that second,
//! with the scenario's random draws. A second in which the recorded breaker admitted nothing
//! (it was open) has no answers of its own and takes those of the nearest observed second
//! (the earlier on a tie); the report says how many seconds were inferred.
//!
//! What a replay cannot know: a recorded duration includes any wait the caller had before
//! the call went out, and a failure after the caller's own timeout looks like any other
//! failure. So a replayed call takes the recorded duration and outcome as its answer, with no
//! caller timeout of its own and no limit on calls in flight.
//!
//! Lines are sorted by arrival. A recorder writes a call when it ends, so a long call may
//! come after calls that arrived later; a line that goes back further than the longest
//! recorded call can explain means two recordings joined or a broken clock, and is an error.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fusebox::{Policy, RecordedCall, RecordedOutcome};

use crate::scenario::{Arrivals, Latency, Load, Scenario, Upstate, fmt_duration};

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// At most this many calls in one replay (as for scenarios: a typo cannot run for hours).
pub const MAX_REPLAY_CALLS: usize = 20_000_000;

/// What to do with a line that is not a recorded call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BadLines {
    /// Stop at the first one, with its line number (the default).
    #[default]
    Stop,
    /// Skip it, and count it in the summary.
    Skip,
}

/// One answer the downstream gave an admitted call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// How long the call took, in nanoseconds.
    pub latency: u64,
    /// Whether it failed.
    pub fails: bool,
}

/// A recording made into a scenario's arrivals and downstream.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    /// Where it was read from.
    pub source: String,
    /// The breaker replayed.
    pub breaker: String,
    /// Arrival times, in nanoseconds from the first, in order.
    pub arrivals: Vec<u64>,
    /// The answers observed in each second with any (keyed by second).
    answers: BTreeMap<u64, Vec<Answer>>,
    /// For each second of the replay, the observed second whose answers it takes.
    source_second: Vec<u64>,
    /// Seconds that took another second's answers.
    pub inferred_seconds: Vec<u64>,
    /// Calls the recorded breaker admitted (answers observed).
    pub admitted: u64,
    /// Calls it rejected.
    pub rejected: u64,
    /// Lines skipped as malformed (with [`BadLines::Skip`]).
    pub skipped_lines: u64,
    /// Calls of other breakers in the file, left out.
    pub other_breakers: u64,
}

impl Replay {
    /// Reads a recording from `path`, keeping the calls of `breaker` (needed when the file
    /// holds more than one breaker).
    ///
    /// # Errors
    ///
    /// One line naming the file and, where there is one, the line: unreadable, malformed (with
    /// [`BadLines::Stop`]), out of order, empty, an unknown breaker, no admitted call.
    pub fn load(path: &Path, breaker: Option<&str>, bad: BadLines) -> Result<Replay, String> {
        let file = std::fs::File::open(path)
            .map_err(|e| format!("{}: cannot read the recording: {e}", path.display()))?;
        Replay::read(
            std::io::BufReader::new(file),
            &path.display().to_string(),
            breaker,
            bad,
        )
    }

    /// Reads a recording from `reader`; `source` names it in errors.
    ///
    /// # Errors
    ///
    /// As [`load`](Self::load).
    ///
    /// ```
    /// use fusebox_cli::replay::{BadLines, Replay};
    /// let text = r#"{"t_ms":0.0,"breaker":"db","outcome":"success","duration_ms":5.0}
    /// {"t_ms":1500.0,"breaker":"db","outcome":"failure","duration_ms":20.0}
    /// "#;
    /// let r = Replay::read(text.as_bytes(), "rec.jsonl", None, BadLines::Stop)?;
    /// assert_eq!(r.arrivals, vec![0, 1_500_000_000]);
    /// assert_eq!(r.answer(1_200_000_000, 0.3).fails, true);
    /// assert!(Replay::read("".as_bytes(), "rec.jsonl", None, BadLines::Stop).is_err());
    /// # Ok::<(), String>(())
    /// ```
    pub fn read(
        reader: impl BufRead,
        source: &str,
        breaker: Option<&str>,
        bad: BadLines,
    ) -> Result<Replay, String> {
        let mut calls: Vec<(usize, RecordedCall)> = Vec::new();
        let mut skipped_lines = 0;
        let mut names: BTreeMap<String, u64> = BTreeMap::new();
        for (i, line) in reader.lines().enumerate() {
            let number = i + 1;
            let line = line.map_err(|e| format!("{source}:{number}: cannot read: {e}"))?;
            if line.trim().is_empty() {
                continue;
            }
            let call = match parse_line(&line) {
                Ok(call) => call,
                Err(_) if bad == BadLines::Skip => {
                    skipped_lines += 1;
                    continue;
                }
                Err(e) => {
                    return Err(format!(
                        "{source}:{number}: {e} (--skip-bad-lines skips such lines)"
                    ));
                }
            };
            *names.entry(call.breaker.clone()).or_default() += 1;
            if calls.len() >= MAX_REPLAY_CALLS {
                return Err(format!(
                    "{source}:{number}: more than {MAX_REPLAY_CALLS} calls; replay a part of the recording"
                ));
            }
            calls.push((number, call));
        }
        if calls.is_empty() {
            return Err(format!(
                "{source}: the recording has no calls{}",
                if skipped_lines > 0 {
                    format!(" ({skipped_lines} malformed lines skipped)")
                } else {
                    String::new()
                }
            ));
        }
        let breaker = match breaker {
            Some(name) if names.contains_key(name) => name.to_owned(),
            Some(name) => {
                return Err(format!(
                    "{source}: no calls of breaker {name:?}; the recording has {}",
                    list(names.keys())
                ));
            }
            None if names.len() == 1 => names.keys().next().cloned().unwrap_or_default(),
            None => {
                return Err(format!(
                    "{source}: the recording has several breakers ({}); choose one with --breaker",
                    list(names.keys())
                ));
            }
        };
        let other_breakers = calls.iter().filter(|(_, c)| c.breaker != breaker).count() as u64;
        calls.retain(|(_, c)| c.breaker == breaker);
        check_order(&calls, source)?;
        calls.sort_by(|a, b| a.1.t_ms.total_cmp(&b.1.t_ms));
        Replay::from_calls(source, breaker, &calls, skipped_lines, other_breakers)
    }

    fn from_calls(
        source: &str,
        breaker: String,
        calls: &[(usize, RecordedCall)],
        skipped_lines: u64,
        other_breakers: u64,
    ) -> Result<Replay, String> {
        let t0 = calls.first().map_or(0.0, |(_, c)| c.t_ms);
        let mut arrivals = Vec::with_capacity(calls.len());
        let mut answers: BTreeMap<u64, Vec<Answer>> = BTreeMap::new();
        let (mut admitted, mut rejected) = (0, 0);
        for (_, c) in calls {
            let at = ms_to_nanos(c.t_ms - t0);
            arrivals.push(at);
            let fails = match c.outcome {
                RecordedOutcome::Rejected => {
                    rejected += 1;
                    continue;
                }
                RecordedOutcome::Success | RecordedOutcome::Ignored => false,
                RecordedOutcome::Failure => true,
            };
            admitted += 1;
            let latency = ms_to_nanos(c.duration_ms.unwrap_or(0.0)).max(1);
            answers
                .entry(at / NANOS_PER_SEC)
                .or_default()
                .push(Answer { latency, fails });
        }
        if answers.is_empty() {
            return Err(format!(
                "{source}: breaker {breaker:?} admitted no call in the recording: nothing shows how its downstream answers"
            ));
        }
        let last_second = arrivals.last().copied().unwrap_or(0) / NANOS_PER_SEC;
        let mut source_second = Vec::with_capacity(last_second as usize + 1);
        let mut inferred_seconds = Vec::new();
        for s in 0..=last_second {
            let nearest = nearest_observed(&answers, s);
            if nearest != s {
                inferred_seconds.push(s);
            }
            source_second.push(nearest);
        }
        Ok(Replay {
            source: source.to_owned(),
            breaker,
            arrivals,
            answers,
            source_second,
            inferred_seconds,
            admitted,
            rejected,
            skipped_lines,
            other_breakers,
        })
    }

    /// The answer to a call sent `at` ns into the replay, for the uniform draw `u` in (0, 1):
    /// one of the answers observed in that second (or the nearest observed one).
    pub fn answer(&self, at: u64, u: f64) -> Answer {
        let second = (at / NANOS_PER_SEC).min(self.source_second.len() as u64 - 1);
        let observed = self.source_second[second as usize];
        let answers = &self.answers[&observed];
        let i = ((u * answers.len() as f64) as usize).min(answers.len() - 1);
        answers[i]
    }

    /// The seconds the replay lasts: to the end of the last arrival's second.
    pub fn duration(&self) -> Duration {
        Duration::from_secs(self.source_second.len() as u64)
    }

    /// The longest recorded call.
    pub fn longest_call(&self) -> Duration {
        Duration::from_nanos(
            self.answers
                .values()
                .flatten()
                .map(|a| a.latency)
                .max()
                .unwrap_or(1),
        )
    }

    /// Every observed answer, for the downstream's summary.
    fn all_answers(&self) -> impl Iterator<Item = &Answer> {
        self.answers.values().flatten()
    }

    /// The inferred seconds as ranges: `22-26 s, 29 s`.
    pub fn inferred_ranges(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        let mut i = 0;
        while i < self.inferred_seconds.len() {
            let start = self.inferred_seconds[i];
            let mut end = start;
            while i + 1 < self.inferred_seconds.len() && self.inferred_seconds[i + 1] == end + 1 {
                i += 1;
                end += 1;
            }
            out.push(if start == end {
                format!("{start} s")
            } else {
                format!("{start}-{end} s")
            });
            i += 1;
        }
        out.join(", ")
    }

    /// The replay as a scenario: its arrivals and downstream, `policy` under test.
    ///
    /// ```
    /// use fusebox_cli::replay::{BadLines, Replay};
    /// let text = r#"{"t_ms":0.0,"breaker":"db","outcome":"success","duration_ms":5.0}"#;
    /// let r = Replay::read(text.as_bytes(), "rec.jsonl", None, BadLines::Stop)?;
    /// let s = r.into_scenario(fusebox::Policy::default(), "default".into(), 1);
    /// assert_eq!(s.name, "db");
    /// assert!(s.replay.is_some());
    /// # Ok::<(), String>(())
    /// ```
    pub fn into_scenario(self, policy: Policy, policy_source: String, seed: u64) -> Scenario {
        let duration = self.duration();
        let calls = self.arrivals.len();
        let mut latencies: Vec<u64> = self.all_answers().map(|a| a.latency).collect();
        latencies.sort_unstable();
        let at = |q: f64| {
            let i = ((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1));
            Duration::from_nanos(latencies.get(i).copied().unwrap_or(1).max(1))
        };
        let failures = self.all_answers().filter(|a| a.fails).count();
        let baseline = Upstate {
            latency: Latency {
                p50: at(0.5),
                p99: at(0.99),
            },
            error_rate: failures as f64 / latencies.len().max(1) as f64,
        };
        // No caller timeout of its own: every recorded answer comes back as recorded.
        let timeout = self.longest_call() + Duration::from_millis(1);
        Scenario {
            name: self.breaker.clone(),
            description: Some(format!("replay of {}", self.source)),
            seed,
            policy,
            policy_source,
            load: Load {
                calls_per_sec: calls as f64 / duration.as_secs_f64(),
                duration,
                concurrency: u32::MAX,
                timeout,
                arrivals: Arrivals::Poisson,
            },
            baseline,
            capacity: None,
            phases: Vec::new(),
            policy_label: None,
            compare: Vec::new(),
            experiment: None,
            replay: Some(Arc::new(self)),
        }
    }

    /// A few lines saying what the replay holds, for the report.
    pub fn describe(&self) -> Vec<String> {
        let seconds = self.source_second.len();
        let mut lines = vec![
            format!(
                "{} calls of \"{}\" over {} as recorded: {} admitted, {} rejected",
                self.arrivals.len(),
                self.breaker,
                fmt_duration(self.duration()),
                self.admitted,
                self.rejected
            ),
            format!(
                "the downstream per second as the admitted calls saw it; {} of {} seconds had no admitted call and take the nearest observed second{}",
                self.inferred_seconds.len(),
                seconds,
                if self.inferred_seconds.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", self.inferred_ranges())
                }
            ),
        ];
        if self.skipped_lines > 0 {
            lines.push(format!("{} malformed lines skipped", self.skipped_lines));
        }
        if self.other_breakers > 0 {
            lines.push(format!(
                "{} calls of other breakers left out",
                self.other_breakers
            ));
        }
        lines
    }
}

/// Parses and checks one line.
fn parse_line(line: &str) -> Result<RecordedCall, String> {
    let call: RecordedCall =
        serde_json::from_str(line).map_err(|e| format!("not a recorded call: {e}"))?;
    if !(call.t_ms.is_finite() && call.t_ms >= 0.0) {
        return Err(format!(
            "t_ms: must be a time in ms, at least 0, got {}",
            call.t_ms
        ));
    }
    match (call.outcome, call.duration_ms) {
        (RecordedOutcome::Rejected, _) => {}
        (_, None) => return Err("duration_ms: an admitted call needs its duration".to_owned()),
        (_, Some(d)) if !(d.is_finite() && d >= 0.0) => {
            return Err(format!(
                "duration_ms: must be a duration in ms, at least 0, got {d}"
            ));
        }
        _ => {}
    }
    Ok(call)
}

/// Lines may go back in time by at most the longest recorded call: a recorder writes a call
/// when it ends.
fn check_order(calls: &[(usize, RecordedCall)], source: &str) -> Result<(), String> {
    let longest = calls
        .iter()
        .filter_map(|(_, c)| c.duration_ms)
        .fold(0.0_f64, f64::max);
    let mut latest: Option<(usize, f64)> = None;
    for (line, c) in calls {
        if let Some((at_line, at)) = latest {
            if c.t_ms < at - longest - 1.0 {
                return Err(format!(
                    "{source}:{line}: out of order: t_ms {} is {:.1} ms before line {at_line}'s {at}, more than the longest recorded call ({longest:.1} ms) explains (two recordings joined?)",
                    c.t_ms,
                    at - c.t_ms
                ));
            }
            if c.t_ms <= at {
                continue;
            }
        }
        latest = Some((*line, c.t_ms));
    }
    Ok(())
}

/// The observed second nearest `s` (the earlier on a tie).
fn nearest_observed(answers: &BTreeMap<u64, Vec<Answer>>, s: u64) -> u64 {
    let before = answers.range(..=s).next_back().map(|(k, _)| *k);
    let after = answers.range(s..).next().map(|(k, _)| *k);
    match (before, after) {
        (Some(b), Some(a)) if a - s < s - b => a,
        (Some(b), _) => b,
        (None, Some(a)) => a,
        (None, None) => s,
    }
}

fn ms_to_nanos(ms: f64) -> u64 {
    (ms * 1e6).round().clamp(0.0, u64::MAX as f64) as u64
}

fn list<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<String> = names.take(10).map(|n| format!("{n:?}")).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(t: f64, outcome: &str, extra: &str) -> String {
        format!(r#"{{"t_ms":{t},"breaker":"db","outcome":"{outcome}"{extra}}}"#)
    }

    fn read(text: &str) -> Result<Replay, String> {
        Replay::read(text.as_bytes(), "rec", None, BadLines::Stop)
    }

    #[test]
    fn seconds_without_admitted_calls_take_the_nearest_observed_one() {
        let text = [
            line(0.0, "success", r#","duration_ms":10.0"#),
            line(1000.0, "rejected", r#","reason":"open""#),
            line(2000.0, "rejected", r#","reason":"open""#),
            line(3500.0, "failure", r#","duration_ms":30.0"#),
        ]
        .join("\n");
        let r = read(&text).unwrap();
        assert_eq!(r.inferred_seconds, vec![1, 2]);
        assert!(!r.answer(1_500_000_000, 0.5).fails, "second 1 is nearer 0");
        assert!(r.answer(2_500_000_000, 0.5).fails, "second 2 is nearer 3");
        assert_eq!(r.inferred_ranges(), "1-2 s");
        assert_eq!((r.admitted, r.rejected), (2, 2));
    }

    #[test]
    fn answers_are_drawn_from_the_second_by_the_uniform_draw() {
        let text = [
            line(0.0, "success", r#","duration_ms":10.0"#),
            line(100.0, "failure", r#","duration_ms":2000.0"#),
        ]
        .join("\n");
        let r = read(&text).unwrap();
        assert_eq!(
            r.answer(0, 0.1),
            Answer {
                latency: 10_000_000,
                fails: false
            }
        );
        assert_eq!(
            r.answer(0, 0.9),
            Answer {
                latency: 2_000_000_000,
                fails: true
            }
        );
    }

    #[test]
    fn bad_input_is_one_line_naming_the_place() {
        let e = read("{\"t_ms\": 1}\n").unwrap_err();
        assert!(e.starts_with("rec:1: not a recorded call"), "{e}");
        let e = read(&format!(
            "{}\nnot json\n",
            line(0.0, "success", r#","duration_ms":1.0"#)
        ))
        .unwrap_err();
        assert!(e.starts_with("rec:2: "), "{e}");
        let e = read(&line(0.0, "success", "")).unwrap_err();
        assert!(e.contains("duration_ms"), "{e}");
        let e = read(&line(-1.0, "rejected", "")).unwrap_err();
        assert!(e.contains("t_ms"), "{e}");
        assert!(read("\n\n").unwrap_err().contains("no calls"));
        let e = read(&line(0.0, "rejected", r#","reason":"open""#)).unwrap_err();
        assert!(e.contains("admitted no call"), "{e}");
        let two = format!(
            "{}\n{}",
            line(0.0, "success", r#","duration_ms":1.0"#),
            r#"{"t_ms":1.0,"breaker":"other","outcome":"success","duration_ms":1.0}"#
        );
        assert!(read(&two).unwrap_err().contains("--breaker"));
        let e = Replay::read(two.as_bytes(), "rec", Some("nope"), BadLines::Stop).unwrap_err();
        assert!(e.contains("\"db\", \"other\""), "{e}");
    }

    #[test]
    fn malformed_lines_can_be_skipped_and_are_counted() {
        let text = format!(
            "{}\n{{oops\n{}",
            line(0.0, "success", r#","duration_ms":1.0"#),
            line(5.0, "success", r#","duration_ms":1.0"#)
        );
        let r = Replay::read(text.as_bytes(), "rec", None, BadLines::Skip).unwrap();
        assert_eq!((r.arrivals.len(), r.skipped_lines), (2, 1));
    }

    #[test]
    fn lines_may_go_back_by_a_calls_duration_but_no_more() {
        // A 2 s call written after a call that arrived 1 s later: sorted.
        let ok = [
            line(1000.0, "success", r#","duration_ms":10.0"#),
            line(0.0, "failure", r#","duration_ms":2000.0"#),
        ]
        .join("\n");
        assert_eq!(read(&ok).unwrap().arrivals, vec![0, 1_000_000_000]);
        let joined = [
            line(60_000.0, "success", r#","duration_ms":10.0"#),
            line(0.0, "success", r#","duration_ms":10.0"#),
        ]
        .join("\n");
        let e = read(&joined).unwrap_err();
        assert!(e.starts_with("rec:2: out of order"), "{e}");
    }
}
