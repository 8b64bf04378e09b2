//! TOML text in and out: a walker over the spanned document that builds a [`PolicyPatch`] and
//! names every error's field and position, and the writer behind [`Policy::to_toml`].
//!
//! Walking the parsed document by hand, rather than deserializing through serde, is what lets
//! every message say which key, which position, and which forms are accepted.

use std::fmt::Write as _;
use std::time::Duration;

use humantime_serde::re::humantime;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::adaptive::Concurrency;
use crate::chaos::{format_until, parse_until, until_expected};
use crate::fleet::{MAX_FLEET_QUORUM, MIN_FLEET_QUORUM};
use crate::patch::{
    BackoffPatch, ChaosPatch, ConcurrencyPatch, FleetPatch, HalfOpenPatch, Item, Pos,
    RateLimitPatch, RecoveryPatch, RetryPatch, SlowCallsPatch, WindowPatch,
};
use crate::{
    Backoff, FleetMode, LimitAlgorithm, MAX_CONCURRENT, MAX_COUNT_WINDOW, MAX_HALF_OPEN_PERMITS,
    MAX_TIME_BUCKETS, Policy, PolicyError, PolicyPatch, Recovery, RetryBackoff, Window, presets,
};

/// The text of a file and where its lines start, to turn byte offsets into line and column.
pub(crate) struct Source<'a> {
    pub text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    pub fn new(text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Source { text, line_starts }
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts[line - 1];
        (line, self.text[start..offset].chars().count() + 1)
    }

    fn pos<T>(&self, spanned: &Spanned<T>) -> Pos {
        Some(self.position(spanned.span().start))
    }
}

/// A document that is not valid TOML: where, and the key path the heuristics found there.
pub(crate) struct SyntaxError {
    /// The key path around the error (section header, then the line's key), unquoted.
    pub path: Vec<String>,
    pub reason: String,
    pub position: (usize, usize),
}

impl SyntaxError {
    pub fn into_policy_error(self) -> PolicyError {
        let field = if self.path.is_empty() {
            "toml".to_owned()
        } else {
            join_path(&self.path)
        };
        let (line, column) = self.position;
        PolicyError::new(field, self.reason).at(line, column)
    }
}

/// Parses `src` into a spanned table, or explains where and why it is not TOML.
pub(crate) fn parse_document<'a>(src: &Source<'a>) -> Result<Spanned<DeTable<'a>>, SyntaxError> {
    DeTable::parse(src.text).map_err(|err| syntax_error(src, &err))
}

fn syntax_error(src: &Source<'_>, err: &toml::de::Error) -> SyntaxError {
    let text = src.text;
    let span = err.span().unwrap_or(0..0);
    let offset = span.start.min(text.len());
    let duplicate = err.message() == "duplicate key";
    let mut path = context_path(text, offset);
    let reason = if duplicate {
        if let Some(key) = text.get(span.clone()) {
            let key = split_key(key).0;
            let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
            // A duplicate inside an inline table (`a = { b = 1, b = 2 }`) is below the line's key.
            if text[line_start..offset].contains('=') {
                path.extend(key);
            }
        }
        let (recovered, _) = DeTable::parse_recoverable(text);
        let first = find_key(recovered.get_ref(), &path)
            .filter(|&first| first < offset)
            .or_else(|| find_header(text, &path, offset));
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let what = if text[line_start..].trim_start().starts_with('[') {
            "duplicate table; it is already defined at"
        } else {
            "duplicate key; it is already set at"
        };
        match first {
            Some(first) => {
                let (line, column) = src.position(first);
                format!("{what} {line}:{column}")
            }
            None => what.split(';').next().unwrap_or(what).to_owned(),
        }
    } else {
        format!("invalid TOML: {}", err.message())
    };
    SyntaxError {
        path,
        reason,
        position: src.position(offset),
    }
}

/// The byte offset of the key at `path`, if the (recovered) document has it.
fn find_key(table: &DeTable<'_>, path: &[String]) -> Option<usize> {
    let (first, rest) = path.split_first()?;
    let (key, value) = table.get_key_value(first.as_str())?;
    if rest.is_empty() {
        return Some(key.span().start);
    }
    match value.get_ref() {
        DeValue::Table(t) => find_key(t, rest),
        _ => None,
    }
}

/// The offset of the first `[header]` line for `path` above `before`, read from the text.
fn find_header(text: &str, path: &[String], before: usize) -> Option<usize> {
    let mut start = 0;
    for line in text[..before].split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(inner) = trimmed.strip_prefix('[') {
            let key = inner.trim_start_matches(['[', ' ', '\t']);
            if split_key(key).0 == path {
                return Some(start + line.len() - key.len());
            }
        }
        start += line.len();
    }
    None
}

/// The key path at `offset` by reading the text: the last `[section]` header above it, then the
/// key that starts the line. It is a heuristic for messages only; the parser has the last word.
fn context_path(text: &str, offset: usize) -> Vec<String> {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = &text[line_start..line_end];
    let header = |l: &str| {
        let l = l.trim_start();
        l.starts_with('[')
            .then(|| split_key(l.trim_start_matches('[')).0)
    };
    if let Some(path) = header(line) {
        return path;
    }
    let mut path = text[..line_start]
        .lines()
        .rev()
        .find_map(header)
        .unwrap_or_default();
    let trimmed = line.trim_start();
    let key_start = line_start + (line.len() - trimmed.len());
    let (key, rest) = split_key(trimmed);
    let key_end = line_end - rest.len();
    if !key.is_empty()
        && (rest.trim_start().starts_with('=') || (key_start..=key_end).contains(&offset))
    {
        path.extend(key);
    }
    path
}

fn is_bare(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Splits a dotted TOML key (`a."b.c".d`) into its segments, returning the rest of the text.
fn split_key(s: &str) -> (Vec<String>, &str) {
    let mut segments = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        let (segment, after) = if let Some(quoted) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            out.push(escaped);
                        }
                    }
                    c => out.push(c),
                }
            }
            match end {
                Some(end) => (out, &quoted[end..]),
                None => break,
            }
        } else if let Some(quoted) = rest.strip_prefix('\'') {
            match quoted.find('\'') {
                Some(end) => (quoted[..end].to_owned(), &quoted[end + 1..]),
                None => break,
            }
        } else {
            let end = rest.find(|c| !is_bare(c)).unwrap_or(rest.len());
            if end == 0 {
                break;
            }
            (rest[..end].to_owned(), &rest[end..])
        };
        segments.push(segment);
        rest = after.trim_start_matches([' ', '\t']);
        match rest.strip_prefix('.') {
            Some(after_dot) => rest = after_dot,
            None => break,
        }
    }
    (segments, rest)
}

/// A TOML key for messages: bare where TOML allows it, quoted otherwise.
pub(crate) fn quote_key(key: &str) -> String {
    if !key.is_empty() && key.chars().all(is_bare) {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

/// A dotted key path for messages.
pub(crate) fn join_path<S: AsRef<str>>(segments: &[S]) -> String {
    segments
        .iter()
        .map(|s| quote_key(s.as_ref()))
        .collect::<Vec<_>>()
        .join(".")
}

/// What a table's unknown keys are checked against, for the message.
#[derive(Clone, Copy)]
pub(crate) enum Context<'a> {
    /// A policy file, or a registry config's `[defaults]`.
    Policy,
    /// A registry config's `[breakers."<name>"]`.
    Breaker(&'a str),
}

pub(crate) const POLICY_KEYS: &[&str] = &[
    "preset",
    "window",
    "failure_rate_threshold",
    "min_calls",
    "consecutive_failures",
    "slow_calls",
    "open_timeout",
    "backoff",
    "jitter",
    "half_open",
    "max_concurrent",
    "recovery",
    "latency_histogram",
    "rate_limit",
    "timeout",
    "retry",
    "fleet",
    "chaos",
];

const WINDOW_FORM: &str = "{ count = N } or { span = \"10s\", buckets = N }";
const SLOW_CALLS_FORM: &str = "\"off\" or { duration = \"500ms\", rate = 0.8 }";
const BACKOFF_FORM: &str = "\"constant\" or { exponential = 2.0, max = \"5m\" }";
const HALF_OPEN_FORM: &str = "{ permits = N, successes = N }";
const RECOVERY_FORM: &str = "\"immediate\" or { ramp = \"30s\", start_share = 0.1 }";
const ADAPTIVE_FORM: &str = "{ adaptive = \"aimd\", min = 4, max = 200, initial = 20 }";
const RATE_LIMIT_FORM: &str = "\"unlimited\" or { rate = 100, per = \"1s\", burst = 20 }";
const RETRY_FORM: &str = "\"none\" or { max_attempts = 3, backoff = \"exponential\", \
                          base = \"50ms\", max = \"2s\", budget = 0.2 }";
const FLEET_FORM: &str = "\"local\", \"follow\" or { quorum = N }";
const CHAOS_FORM: &str = "\"off\" or { fault_rate = 0.1, latency = \"200ms\", latency_rate = 0.05, \
                          seed = 7, until = \"2026-12-31T00:00:00Z\" }";
const DURATION_FORM: &str = "a duration such as \"30s\", \"500ms\" or \"1m 30s\"";
const TIMEOUT_FORM: &str = "a duration such as \"30s\", \"500ms\" or \"1m 30s\", or \"none\"";

/// Parses a policy patch from a whole TOML document.
pub(crate) fn parse_patch(text: &str) -> Result<PolicyPatch, PolicyError> {
    let src = Source::new(text);
    let doc = parse_document(&src).map_err(SyntaxError::into_policy_error)?;
    Walker { src: &src }.patch(doc.get_ref(), Some((1, 1)), Context::Policy)
}

/// Turns spanned TOML values into patch items, with field paths relative to the patch.
pub(crate) struct Walker<'s, 'a> {
    pub src: &'s Source<'a>,
}

type Entry<'t, 'a> = (
    &'t Spanned<toml::de::DeString<'a>>,
    &'t Spanned<DeValue<'a>>,
);

/// A table's entries in the order they are written, so the first error reported is the first
/// in the file.
pub(crate) fn entries<'t, 'a>(table: &'t DeTable<'a>) -> Vec<Entry<'t, 'a>> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}

/// Describes a value for "got ..." in a message.
pub(crate) fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => format!("the string {s:?}"),
        DeValue::Integer(i) => format!("the integer {i}"),
        DeValue::Float(f) => format!("the float {}", f.as_str()),
        DeValue::Boolean(b) => format!("the boolean {b}"),
        DeValue::Datetime(d) => format!("the datetime {d}"),
        DeValue::Array(_) => "an array".to_owned(),
        DeValue::Table(t) if t.is_empty() => "an empty table".to_owned(),
        DeValue::Table(_) => "a table".to_owned(),
    }
}

/// The closest of `known` to `key`, if it is close enough to be a typo.
pub(crate) fn suggest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut diagonal = row[0];
            row[0] = i + 1;
            for (j, &cb) in b.iter().enumerate() {
                let next = (diagonal + usize::from(ca != cb))
                    .min(row[j] + 1)
                    .min(row[j + 1] + 1);
                diagonal = row[j + 1];
                row[j + 1] = next;
            }
        }
        row[b.len()]
    }
    known
        .iter()
        .map(|k| (distance(key, k), *k))
        .filter(|&(d, k)| d > 0 && d <= (k.len() / 3).max(1))
        .min()
        .map(|(_, k)| k)
}

fn one_of(known: &[&str]) -> String {
    match known {
        [a] => (*a).to_owned(),
        [a, b] => format!("{a} or {b}"),
        [init @ .., last] => format!("{}, or {last}", init.join(", ")),
        [] => String::new(),
    }
}

impl Walker<'_, '_> {
    fn err(&self, field: &str, reason: impl Into<String>, pos: Pos) -> PolicyError {
        PolicyError::new(field, reason).at_pos(pos)
    }

    fn unknown_key(
        &self,
        prefix: &str,
        key: &Spanned<toml::de::DeString<'_>>,
        known: &[&str],
    ) -> PolicyError {
        let name = key.get_ref().as_ref();
        let field = if prefix.is_empty() {
            quote_key(name)
        } else {
            format!("{prefix}.{}", quote_key(name))
        };
        let mut reason = format!("unknown key; expected {}", one_of(known));
        if let Some(close) = suggest(name, known) {
            let _ = write!(reason, " (did you mean {close}?)");
        }
        self.err(&field, reason, self.src.pos(key))
    }

    /// A whole policy table.
    pub fn patch(
        &self,
        table: &DeTable<'_>,
        pos: Pos,
        context: Context<'_>,
    ) -> Result<PolicyPatch, PolicyError> {
        let mut patch = PolicyPatch {
            pos,
            ..PolicyPatch::default()
        };
        for (key, value) in entries(table) {
            let vpos = self.src.pos(value);
            match key.get_ref().as_ref() {
                "preset" => patch.preset = Some(self.preset(value)?),
                "window" => patch.window = Some(self.window(value)?),
                "failure_rate_threshold" => {
                    patch.failure_rate_threshold =
                        Some(self.number("failure_rate_threshold", "in (0, 1]", value)?);
                }
                "min_calls" => {
                    patch.min_calls = Some(self.int("min_calls", 1, u32::MAX, value)?);
                }
                "consecutive_failures" => {
                    patch.consecutive_failures =
                        Some(self.int("consecutive_failures", 0, u32::MAX, value)?);
                }
                "slow_calls" => {
                    let v =
                        match self.keyword_or_table("slow_calls", "off", SLOW_CALLS_FORM, value)? {
                            None => SlowCallsPatch::Off,
                            Some(t) => {
                                let mut duration = None;
                                let mut rate = None;
                                for (k, v) in entries(t) {
                                    match k.get_ref().as_ref() {
                                        "duration" => {
                                            duration =
                                                Some(self.duration("slow_calls.duration", v)?);
                                        }
                                        "rate" => {
                                            rate = Some(self.number(
                                                "slow_calls.rate",
                                                "in (0, 1]",
                                                v,
                                            )?);
                                        }
                                        _ => {
                                            return Err(self.unknown_key(
                                                "slow_calls",
                                                k,
                                                &["duration", "rate"],
                                            ));
                                        }
                                    }
                                }
                                SlowCallsPatch::Rule { duration, rate }
                            }
                        };
                    patch.slow_calls = Some(Item::new(v, vpos));
                }
                "open_timeout" => patch.open_timeout = Some(self.duration("open_timeout", value)?),
                "backoff" => {
                    let v =
                        match self.keyword_or_table("backoff", "constant", BACKOFF_FORM, value)? {
                            None => BackoffPatch::Constant,
                            Some(t) => {
                                let mut factor = None;
                                let mut max = None;
                                for (k, v) in entries(t) {
                                    match k.get_ref().as_ref() {
                                        "exponential" => {
                                            factor = Some(self.number(
                                                "backoff.exponential",
                                                "in [1, 1000]",
                                                v,
                                            )?);
                                        }
                                        "max" => max = Some(self.duration("backoff.max", v)?),
                                        _ => {
                                            return Err(self.unknown_key(
                                                "backoff",
                                                k,
                                                &["exponential", "max"],
                                            ));
                                        }
                                    }
                                }
                                BackoffPatch::Exponential { factor, max }
                            }
                        };
                    patch.backoff = Some(Item::new(v, vpos));
                }
                "jitter" => patch.jitter = Some(self.number("jitter", "in [0, 1)", value)?),
                "half_open" => {
                    let t = self.table("half_open", HALF_OPEN_FORM, value)?;
                    let mut h = HalfOpenPatch::default();
                    for (k, v) in entries(t) {
                        match k.get_ref().as_ref() {
                            "permits" => {
                                h.permits = Some(self.int(
                                    "half_open.permits",
                                    1,
                                    MAX_HALF_OPEN_PERMITS,
                                    v,
                                )?);
                            }
                            "successes" => {
                                h.successes = Some(self.int(
                                    "half_open.successes",
                                    1,
                                    MAX_HALF_OPEN_PERMITS,
                                    v,
                                )?);
                            }
                            _ => {
                                return Err(self.unknown_key(
                                    "half_open",
                                    k,
                                    &["permits", "successes"],
                                ));
                            }
                        }
                    }
                    patch.half_open = Some(Item::new(h, vpos));
                }
                "max_concurrent" => patch.max_concurrent = Some(self.max_concurrent(value)?),
                "recovery" => {
                    let v = match self.keyword_or_table(
                        "recovery",
                        "immediate",
                        RECOVERY_FORM,
                        value,
                    )? {
                        None => RecoveryPatch::Immediate,
                        Some(t) => {
                            let mut duration = None;
                            let mut start_share = None;
                            for (k, v) in entries(t) {
                                match k.get_ref().as_ref() {
                                    "ramp" => duration = Some(self.duration("recovery.ramp", v)?),
                                    "start_share" => {
                                        start_share = Some(self.number(
                                            "recovery.start_share",
                                            "in (0, 1]",
                                            v,
                                        )?);
                                    }
                                    _ => {
                                        return Err(self.unknown_key(
                                            "recovery",
                                            k,
                                            &["ramp", "start_share"],
                                        ));
                                    }
                                }
                            }
                            RecoveryPatch::Ramp {
                                duration,
                                start_share,
                            }
                        }
                    };
                    patch.recovery = Some(Item::new(v, vpos));
                }
                "latency_histogram" => {
                    patch.latency_histogram = Some(self.boolean("latency_histogram", value)?);
                }
                "rate_limit" => {
                    let v = match self.keyword_or_table(
                        "rate_limit",
                        "unlimited",
                        RATE_LIMIT_FORM,
                        value,
                    )? {
                        None => RateLimitPatch::Unlimited,
                        Some(t) => {
                            let mut rate = None;
                            let mut per = None;
                            let mut burst = None;
                            for (k, v) in entries(t) {
                                match k.get_ref().as_ref() {
                                    "rate" => {
                                        rate = Some(self.int("rate_limit.rate", 1, u32::MAX, v)?);
                                    }
                                    "per" => per = Some(self.duration("rate_limit.per", v)?),
                                    "burst" => {
                                        burst =
                                            Some(self.int("rate_limit.burst", 1, u32::MAX, v)?);
                                    }
                                    _ => {
                                        return Err(self.unknown_key(
                                            "rate_limit",
                                            k,
                                            &["rate", "per", "burst"],
                                        ));
                                    }
                                }
                            }
                            RateLimitPatch::Limit { rate, per, burst }
                        }
                    };
                    patch.rate_limit = Some(Item::new(v, vpos));
                }
                "timeout" => {
                    let v = match value.get_ref() {
                        DeValue::String(s) if s == "none" => None,
                        _ => Some(self.duration_in("timeout", TIMEOUT_FORM, value)?.value),
                    };
                    patch.timeout = Some(Item::new(v, vpos));
                }
                "retry" => {
                    let v = match self.keyword_or_table("retry", "none", RETRY_FORM, value)? {
                        None => RetryPatch::None,
                        Some(t) => {
                            let mut max_attempts = None;
                            let mut backoff = None;
                            let mut base = None;
                            let mut max = None;
                            let mut budget = None;
                            for (k, v) in entries(t) {
                                match k.get_ref().as_ref() {
                                    "max_attempts" => {
                                        max_attempts =
                                            Some(self.int("retry.max_attempts", 1, u32::MAX, v)?);
                                    }
                                    "backoff" => backoff = Some(self.retry_backoff(v)?),
                                    "base" => base = Some(self.duration("retry.base", v)?),
                                    "max" => max = Some(self.duration("retry.max", v)?),
                                    "budget" => {
                                        budget =
                                            Some(self.number("retry.budget", "in [0, 1]", v)?);
                                    }
                                    _ => {
                                        return Err(self.unknown_key(
                                            "retry",
                                            k,
                                            &["max_attempts", "backoff", "base", "max", "budget"],
                                        ));
                                    }
                                }
                            }
                            RetryPatch::Retry {
                                max_attempts,
                                backoff,
                                base,
                                max,
                                budget,
                            }
                        }
                    };
                    patch.retry = Some(Item::new(v, vpos));
                }
                "fleet" => patch.fleet = Some(self.fleet(value)?),
                "chaos" => patch.chaos = Some(self.chaos(value)?),
                _ => {
                    let mut err = self.unknown_key("", key, POLICY_KEYS);
                    if let (Context::Breaker(name), DeValue::Table(_)) = (context, value.get_ref())
                    {
                        err = PolicyError::new(
                            err.field(),
                            format!(
                                "{}; a breaker name with dots must be quoted: [breakers.\"{name}.{}\"]",
                                err.reason(),
                                key.get_ref()
                            ),
                        )
                        .at_pos(err.position());
                    }
                    return Err(err);
                }
            }
        }
        Ok(patch)
    }

    fn preset(&self, value: &Spanned<DeValue<'_>>) -> Result<Item<String>, PolicyError> {
        let pos = self.src.pos(value);
        match value.get_ref() {
            DeValue::String(name) => {
                Policy::preset(name).map_err(|e| e.at_pos(pos))?;
                Ok(Item::new(name.to_string(), pos))
            }
            other => Err(self.err(
                "preset",
                format!(
                    "must be one of {}, got {}",
                    presets::known(),
                    describe(other)
                ),
                pos,
            )),
        }
    }

    fn window(&self, value: &Spanned<DeValue<'_>>) -> Result<Item<WindowPatch>, PolicyError> {
        let pos = self.src.pos(value);
        let table = self.table("window", WINDOW_FORM, value)?;
        let mut w = WindowPatch::default();
        for (k, v) in entries(table) {
            let name = k.get_ref().as_ref();
            match name {
                "count" => w.count = Some(self.int("window.count", 1, MAX_COUNT_WINDOW, v)?),
                "span" => w.span = Some(self.duration("window.span", v)?),
                "buckets" => {
                    w.buckets = Some(self.int("window.buckets", 1, MAX_TIME_BUCKETS, v)?);
                }
                _ => return Err(self.unknown_key("window", k, &["count", "span", "buckets"])),
            }
            if w.count.is_some() && (w.span.is_some() || w.buckets.is_some()) {
                let other = if name == "count" {
                    if w.span.is_some() { "span" } else { "buckets" }
                } else {
                    name
                };
                let (field, with) = if name == "count" {
                    ("window.count".to_owned(), format!("window.{other}"))
                } else {
                    (format!("window.{name}"), "window.count".to_owned())
                };
                return Err(self.err(
                    &field,
                    format!("cannot be combined with {with}; a window is {WINDOW_FORM}"),
                    self.src.pos(k),
                ));
            }
        }
        Ok(Item::new(w, pos))
    }

    /// `max_concurrent`: `"unlimited"`, a number of permits, or an adaptive limit's table.
    /// Ranges are checked by validation, which names the key at its value.
    fn max_concurrent(
        &self,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Item<ConcurrencyPatch>, PolicyError> {
        let pos = self.src.pos(value);
        let table = match value.get_ref() {
            DeValue::String(s) if s == "unlimited" => {
                return Ok(Item::new(ConcurrencyPatch::Unlimited, pos));
            }
            DeValue::Integer(_) => {
                let max = self.int("max_concurrent", 1, MAX_CONCURRENT, value)?.value;
                return Ok(Item::new(ConcurrencyPatch::Static(max), pos));
            }
            DeValue::Table(t) => t,
            other => {
                return Err(self.err(
                    "max_concurrent",
                    format!(
                        "must be an integer in 1..={MAX_CONCURRENT}, \"unlimited\" or {ADAPTIVE_FORM}, got {}",
                        describe(other)
                    ),
                    pos,
                ));
            }
        };
        let (mut algorithm, mut min, mut max, mut initial) = (None, None, None, None);
        for (k, v) in entries(table) {
            match k.get_ref().as_ref() {
                "adaptive" => {
                    let vpos = self.src.pos(v);
                    let got = match v.get_ref() {
                        DeValue::String(name) => match LimitAlgorithm::from_name(name) {
                            Some(a) => {
                                algorithm = Some(Item::new(a, vpos));
                                continue;
                            }
                            None => format!("{:?}", name.as_ref()),
                        },
                        other => describe(other),
                    };
                    return Err(self.err(
                        "max_concurrent.adaptive",
                        LimitAlgorithm::expected(&got),
                        vpos,
                    ));
                }
                "min" => min = Some(self.int("max_concurrent.min", 1, MAX_CONCURRENT, v)?),
                "max" => max = Some(self.int("max_concurrent.max", 1, MAX_CONCURRENT, v)?),
                "initial" => {
                    initial = Some(self.int("max_concurrent.initial", 1, MAX_CONCURRENT, v)?);
                }
                _ => {
                    return Err(self.unknown_key(
                        "max_concurrent",
                        k,
                        &["adaptive", "min", "max", "initial"],
                    ));
                }
            }
        }
        Ok(Item::new(
            ConcurrencyPatch::Adaptive {
                algorithm,
                min,
                max,
                initial,
            },
            pos,
        ))
    }

    /// `fleet`: a keyword, or a table whose only key is `quorum`. The quorum's range is
    /// checked by validation, which names `fleet.quorum` at its value.
    fn fleet(&self, value: &Spanned<DeValue<'_>>) -> Result<Item<FleetPatch>, PolicyError> {
        let pos = self.src.pos(value);
        let table = match value.get_ref() {
            DeValue::String(name) => {
                return match FleetMode::from_name(name) {
                    Some(FleetMode::Local) => Ok(Item::new(FleetPatch::Local, pos)),
                    Some(FleetMode::Follow) => Ok(Item::new(FleetPatch::Follow, pos)),
                    Some(FleetMode::Quorum(_)) | None => Err(self.err(
                        "fleet",
                        format!("must be {FLEET_FORM}, got {}", describe(value.get_ref())),
                        pos,
                    )),
                };
            }
            _ => self.table("fleet", FLEET_FORM, value)?,
        };
        let mut quorum = None;
        for (k, v) in entries(table) {
            match k.get_ref().as_ref() {
                "quorum" => {
                    quorum =
                        Some(self.int("fleet.quorum", MIN_FLEET_QUORUM, MAX_FLEET_QUORUM, v)?);
                }
                _ => return Err(self.unknown_key("fleet", k, &["quorum"])),
            }
        }
        Ok(Item::new(FleetPatch::Quorum(quorum), pos))
    }

    /// `chaos`: `"off"`, or a table of optional keys. Ranges are checked by validation,
    /// which names the field at its value.
    fn chaos(&self, value: &Spanned<DeValue<'_>>) -> Result<Item<ChaosPatch>, PolicyError> {
        let pos = self.src.pos(value);
        let Some(table) = self.keyword_or_table("chaos", "off", CHAOS_FORM, value)? else {
            return Ok(Item::new(ChaosPatch::Off, pos));
        };
        let mut fault_rate = None;
        let mut latency = None;
        let mut latency_rate = None;
        let mut seed = None;
        let mut until = None;
        for (k, v) in entries(table) {
            match k.get_ref().as_ref() {
                "fault_rate" => {
                    fault_rate = Some(self.number("chaos.fault_rate", "in [0, 1]", v)?)
                }
                "latency" => latency = Some(self.duration("chaos.latency", v)?),
                "latency_rate" => {
                    latency_rate = Some(self.number("chaos.latency_rate", "in [0, 1]", v)?);
                }
                "seed" => seed = Some(self.int64("chaos.seed", v)?),
                "until" => until = Some(self.until(v)?),
                _ => {
                    return Err(self.unknown_key(
                        "chaos",
                        k,
                        &["fault_rate", "latency", "latency_rate", "seed", "until"],
                    ));
                }
            }
        }
        Ok(Item::new(
            ChaosPatch::Chaos {
                fault_rate,
                latency,
                latency_rate,
                seed,
                until,
            },
            pos,
        ))
    }

    /// `chaos.until`: an RFC 3339 time in UTC, as a string or a TOML offset date-time, or
    /// `"none"` for no end.
    fn until(
        &self,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Item<Option<std::time::SystemTime>>, PolicyError> {
        let pos = self.src.pos(value);
        let (parsed, got) = match value.get_ref() {
            DeValue::String(s) if s == "none" => return Ok(Item::new(None, pos)),
            DeValue::String(s) => (parse_until(s), format!("{:?}", s.as_ref())),
            DeValue::Datetime(d) => (parse_until(&d.to_string()), describe(value.get_ref())),
            other => (None, describe(other)),
        };
        match parsed {
            Some(t) => Ok(Item::new(Some(t), pos)),
            None => Err(self.err("chaos.until", until_expected(&got), pos)),
        }
    }

    /// A whole number from 0 to `u64::MAX`.
    fn int64(&self, field: &str, value: &Spanned<DeValue<'_>>) -> Result<Item<u64>, PolicyError> {
        let pos = self.src.pos(value);
        let range = format!("0..={}", u64::MAX);
        match value.get_ref() {
            DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix())
                .ok()
                .and_then(|n| u64::try_from(n).ok())
                .map(|n| Item::new(n, pos))
                .ok_or_else(|| self.err(field, format!("must be in {range}, got {i}"), pos)),
            other => Err(self.err(
                field,
                format!("must be an integer in {range}, got {}", describe(other)),
                pos,
            )),
        }
    }

    fn retry_backoff(
        &self,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Item<RetryBackoff>, PolicyError> {
        let pos = self.src.pos(value);
        let got = match value.get_ref() {
            DeValue::String(name) => match RetryBackoff::from_name(name) {
                Some(b) => return Ok(Item::new(b, pos)),
                None => format!("{:?}", name.as_ref()),
            },
            other => describe(other),
        };
        Err(self.err("retry.backoff", RetryBackoff::expected(&got), pos))
    }

    fn table<'v, 'a>(
        &self,
        field: &str,
        form: &str,
        value: &'v Spanned<DeValue<'a>>,
    ) -> Result<&'v DeTable<'a>, PolicyError> {
        match value.get_ref() {
            DeValue::Table(t) => Ok(t),
            other => Err(self.err(
                field,
                format!("must be {form}, got {}", describe(other)),
                self.src.pos(value),
            )),
        }
    }

    /// `None` for the keyword, the table otherwise.
    fn keyword_or_table<'v, 'a>(
        &self,
        field: &str,
        keyword: &str,
        form: &str,
        value: &'v Spanned<DeValue<'a>>,
    ) -> Result<Option<&'v DeTable<'a>>, PolicyError> {
        match value.get_ref() {
            DeValue::String(s) if s == keyword => Ok(None),
            _ => self.table(field, form, value).map(Some),
        }
    }

    fn int(
        &self,
        field: &str,
        min: u32,
        max: u32,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Item<u32>, PolicyError> {
        let pos = self.src.pos(value);
        match value.get_ref() {
            DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix())
                .ok()
                .and_then(|n| u32::try_from(n).ok())
                .map(|n| Item::new(n, pos))
                // In-range `u32`s go on to validation, which knows the limits that depend on
                // other fields; what does not fit a `u32` is out of every range.
                .ok_or_else(|| self.err(field, format!("must be in {min}..={max}, got {i}"), pos)),
            other => Err(self.err(
                field,
                format!(
                    "must be an integer in {min}..={max}, got {}",
                    describe(other)
                ),
                pos,
            )),
        }
    }

    fn boolean(
        &self,
        field: &str,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Item<bool>, PolicyError> {
        let pos = self.src.pos(value);
        match value.get_ref() {
            DeValue::Boolean(b) => Ok(Item::new(*b, pos)),
            other => Err(self.err(
                field,
                format!("must be true or false, got {}", describe(other)),
                pos,
            )),
        }
    }

    fn number(
        &self,
        field: &str,
        range: &str,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Item<f64>, PolicyError> {
        let pos = self.src.pos(value);
        let parsed = match value.get_ref() {
            DeValue::Float(f) => match f.as_str().parse::<f64>() {
                // `1e400` is not infinity, whatever `f64` rounds it to.
                Ok(v) if v.is_infinite() && !f.as_str().contains("inf") => {
                    return Err(self.err(
                        field,
                        format!("must be {range}, got {}", f.as_str()),
                        pos,
                    ));
                }
                parsed => parsed.ok(),
            },
            DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|n| n as f64),
            _ => None,
        };
        // NaN and infinities parse; validation names them with the range they miss.
        parsed.map(|v| Item::new(v, pos)).ok_or_else(|| {
            self.err(
                field,
                format!(
                    "must be a number {range}, got {}",
                    describe(value.get_ref())
                ),
                pos,
            )
        })
    }

    fn duration(
        &self,
        field: &str,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Item<Duration>, PolicyError> {
        self.duration_in(field, DURATION_FORM, value)
    }

    /// A duration, with `form` saying what the field accepts when the value is not one.
    fn duration_in(
        &self,
        field: &str,
        form: &str,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Item<Duration>, PolicyError> {
        let pos = self.src.pos(value);
        match value.get_ref() {
            DeValue::String(s) => parse_duration(s)
                .map(|d| Item::new(d, pos))
                .map_err(|why| self.err(field, format!("must be {form}, got {s:?} ({why})"), pos)),
            other => Err(self.err(
                field,
                format!("must be {form}, got {}", describe(other)),
                pos,
            )),
        }
    }
}

/// Parses a humantime duration, explaining a refusal in a few words.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty".to_owned());
    }
    if t.starts_with('-') {
        return Err("a duration cannot be negative".to_owned());
    }
    if t.parse::<f64>().is_ok() {
        return Err(format!("no unit; write \"{t}s\" or \"{t}ms\""));
    }
    humantime::parse_duration(t).map_err(|e| match e {
        humantime::DurationError::UnknownUnit { unit, .. } if unit.is_empty() => {
            "a number without a unit".to_owned()
        }
        humantime::DurationError::UnknownUnit { unit, .. } => {
            format!("unknown unit {unit:?}; units are ns, us, ms, s, m, h, d")
        }
        humantime::DurationError::NumberOverflow => "too large or too precise".to_owned(),
        humantime::DurationError::InvalidCharacter(i)
        | humantime::DurationError::NumberExpected(i) => {
            let at: String = t[i..].chars().take(8).collect();
            format!("unexpected {at:?}")
        }
        humantime::DurationError::Empty => "empty".to_owned(),
    })
}

fn fmt_float(v: f64) -> String {
    // `Debug` is the shortest text that parses back to the same `f64`, and always TOML: it keeps
    // a `.0` on whole numbers and uses an exponent (`1e-7`) rather than long runs of zeros.
    format!("{v:?}")
}

fn fmt_duration(d: Duration) -> String {
    format!("\"{}\"", humantime::format_duration(d))
}

/// The policy as TOML, every key spelled out in the schema's order.
pub(crate) fn policy_to_toml(p: &Policy) -> String {
    let mut s = String::new();
    let window = match p.window {
        Window::Count { size } => format!("{{ count = {size} }}"),
        Window::Time { span, buckets } => {
            format!("{{ span = {}, buckets = {buckets} }}", fmt_duration(span))
        }
    };
    let slow_calls = match p.slow_calls {
        None => "\"off\"".to_owned(),
        Some(slow) => format!(
            "{{ duration = {}, rate = {} }}",
            fmt_duration(slow.duration),
            fmt_float(slow.rate)
        ),
    };
    let backoff = match p.backoff {
        Backoff::Constant => "\"constant\"".to_owned(),
        Backoff::Exponential { factor, max } => format!(
            "{{ exponential = {}, max = {} }}",
            fmt_float(factor),
            fmt_duration(max)
        ),
    };
    let max_concurrent = match p.max_concurrent {
        None => "\"unlimited\"".to_owned(),
        Some(Concurrency::Static(m)) => m.to_string(),
        Some(Concurrency::Adaptive(l)) => format!(
            "{{ adaptive = \"{}\", min = {}, max = {}, initial = {} }}",
            l.algorithm.name(),
            l.min,
            l.max,
            l.initial
        ),
    };
    let recovery = match p.recovery {
        Recovery::Immediate => "\"immediate\"".to_owned(),
        Recovery::Ramp {
            duration,
            start_share,
        } => format!(
            "{{ ramp = {}, start_share = {} }}",
            fmt_duration(duration),
            fmt_float(start_share)
        ),
    };
    let rate_limit = match p.rate_limit {
        None => "\"unlimited\"".to_owned(),
        Some(l) => format!(
            "{{ rate = {}, per = {}, burst = {} }}",
            l.rate,
            fmt_duration(l.per),
            l.burst
        ),
    };
    let timeout = match p.timeout {
        None => "\"none\"".to_owned(),
        Some(t) => fmt_duration(t),
    };
    let retry = match p.retry {
        None => "\"none\"".to_owned(),
        Some(r) => format!(
            "{{ max_attempts = {}, backoff = \"{}\", base = {}, max = {}, budget = {} }}",
            r.max_attempts(),
            r.backoff().name(),
            fmt_duration(r.base()),
            fmt_duration(r.max()),
            fmt_float(r.budget())
        ),
    };
    let lines = [
        ("window", window),
        (
            "failure_rate_threshold",
            fmt_float(p.failure_rate_threshold),
        ),
        ("min_calls", p.min_calls.to_string()),
        ("consecutive_failures", p.consecutive_failures.to_string()),
        ("slow_calls", slow_calls),
        ("open_timeout", fmt_duration(p.open_timeout)),
        ("backoff", backoff),
        ("jitter", fmt_float(p.jitter)),
        (
            "half_open",
            format!(
                "{{ permits = {}, successes = {} }}",
                p.half_open_permits, p.success_threshold
            ),
        ),
        ("max_concurrent", max_concurrent),
        ("recovery", recovery),
        ("latency_histogram", p.latency_histogram.to_string()),
        ("rate_limit", rate_limit),
        ("timeout", timeout),
        ("retry", retry),
        ("fleet", p.fleet.to_toml()),
    ];
    for (key, value) in lines {
        let _ = writeln!(s, "{key} = {value}");
    }
    // Written only when set, so the text of a policy without chaos does not change.
    if let Some(c) = p.chaos {
        let _ = write!(s, "chaos = {{ fault_rate = {}", fmt_float(c.fault_rate()));
        if let Some(latency) = c.latency() {
            let _ = write!(s, ", latency = {}", fmt_duration(latency));
        }
        let until = c
            .until()
            .and_then(format_until)
            .unwrap_or_else(|| "none".to_owned());
        let _ = writeln!(
            s,
            ", latency_rate = {}, seed = {}, until = \"{until}\" }}",
            fmt_float(c.latency_rate()),
            c.seed()
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let src = Source::new("a = 1\nb = \"é\" x\n");
        assert_eq!(src.position(0), (1, 1));
        assert_eq!(src.position(4), (1, 5));
        assert_eq!(src.position(6), (2, 1));
        // `x` is after a two-byte character: byte 15, character column 9.
        assert_eq!(src.position(15), (2, 9));
        assert_eq!(src.position(1000), (3, 1));
    }

    #[test]
    fn keys_split_on_dots_outside_quotes() {
        assert_eq!(
            split_key("breakers.\"stripe.charges\".half_open] x").0,
            ["breakers", "stripe.charges", "half_open"]
        );
        assert_eq!(split_key("'a.b' = 1"), (vec!["a.b".to_owned()], "= 1"));
        assert_eq!(join_path(&["breakers", "a.b", "c"]), "breakers.\"a.b\".c");
    }

    #[test]
    fn typos_get_a_suggestion() {
        assert_eq!(suggest("min_call", POLICY_KEYS), Some("min_calls"));
        assert_eq!(
            suggest("exponentail", &["exponential", "max"]),
            Some("exponential")
        );
        assert_eq!(suggest("colour", POLICY_KEYS), None);
    }

    #[test]
    fn durations_explain_refusals() {
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(
            parse_duration("10").unwrap_err(),
            "no unit; write \"10s\" or \"10ms\""
        );
        assert_eq!(
            parse_duration("10 parsecs").unwrap_err(),
            "unknown unit \"parsecs\"; units are ns, us, ms, s, m, h, d"
        );
        assert_eq!(
            parse_duration("-5s").unwrap_err(),
            "a duration cannot be negative"
        );
    }
}
