//! `fusebox check`: validates policy files and registry config files.
//!
//! A file with a `[defaults]` or `[breakers."<name>"]` section is a registry config
//! ([`RegistryConfig::from_toml`]); a file with a `[load]` section is a `simulate` scenario;
//! any other file is a policy ([`Policy::from_toml`]).
//!
//! Both parsers stop at the first problem. To report every problem, the checker blanks out
//! the entry at fault (or, for a problem on a section header, the whole section), keeping
//! every other character where it was so that later positions stay true, and parses again,
//! until the file passes or nothing more can be blanked.

use std::collections::BTreeSet;
use std::path::Path;

use fusebox::Policy;
use fusebox::policies::{ConfigError, PolicyError, RegistryConfig};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diag::Diagnostic;
use crate::scenario::{Failure, io_reason};

/// What a checked file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A policy in the policy schema.
    Policy,
    /// A registry config: `[defaults]` and `[breakers."<name>"]` sections.
    Registry,
    /// A `fusebox simulate` scenario (checked up to its first problem).
    Scenario,
}

impl FileKind {
    /// `policy` or `registry config`.
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::Policy => "policy",
            FileKind::Registry => "registry config",
            FileKind::Scenario => "scenario",
        }
    }
}

/// The outcome of checking one file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// What the file is.
    pub kind: FileKind,
    /// Every problem found, in file order; empty when the file is valid.
    pub problems: Vec<Diagnostic>,
    /// Problems in other files this one names (a scenario's policy file), as whole lines.
    pub elsewhere: Vec<String>,
    /// For a valid registry config, how many breaker sections it has.
    pub breakers: usize,
}

/// At most this many problems are reported per file.
const MAX_PROBLEMS: usize = 100;

/// Checks one file's text.
///
/// # Examples
///
/// ```
/// use fusebox_cli::check::{check_text, FileKind};
/// let r = check_text("min_calls = 0\njitter = 2.0\n");
/// assert_eq!(r.kind, FileKind::Policy);
/// let lines: Vec<String> = r.problems.iter().map(|d| d.to_string()).collect();
/// assert_eq!(lines, [
///     "1:13: min_calls: must be at least 1, got 0",
///     "2:10: jitter: must be in [0, 1), got 2",
/// ]);
/// assert!(check_text("[breakers.\"db\"]\nmin_calls = 5\n").problems.is_empty());
/// ```
pub fn check_text(text: &str) -> Report {
    check_text_in(text, None)
}

/// Checks one file's text; `dir` is where a scenario's `policy_file` is looked up.
pub fn check_text_in(text: &str, dir: Option<&Path>) -> Report {
    let kind = kind_of(text);
    if kind == FileKind::Scenario {
        let (problems, elsewhere) = match crate::scenario::Scenario::parse(text, dir) {
            Ok(_) => (Vec::new(), Vec::new()),
            Err(Failure::Here(d)) => (vec![d], Vec::new()),
            Err(Failure::Elsewhere(line)) => (Vec::new(), vec![line]),
        };
        return Report {
            kind,
            problems,
            elsewhere,
            breakers: 0,
        };
    }
    let validate: &dyn Fn(&str) -> Result<usize, Diagnostic> = match kind {
        FileKind::Policy => &|t: &str| Policy::from_toml(t).map(|_| 0).map_err(policy_diag),
        FileKind::Registry | FileKind::Scenario => &|t: &str| {
            RegistryConfig::from_toml(t)
                .map(|c| c.breakers().len())
                .map_err(config_diag)
        },
    };
    let mut problems: Vec<Diagnostic> = Vec::new();
    let mut positions = BTreeSet::new();
    let mut messages = BTreeSet::new();
    let mut current = text.to_owned();
    let mut breakers = 0;
    while problems.len() < MAX_PROBLEMS {
        match validate(&current) {
            Ok(n) => {
                breakers = n;
                break;
            }
            Err(d) => {
                if !positions.insert((d.line, d.column, d.field.clone())) {
                    break;
                }
                let syntax = d.field == "toml";
                // A rule between two fields can fire again once one of them is blanked (at
                // the other one): report it once.
                if messages.insert((d.field.clone(), d.reason.clone())) {
                    problems.push(d.clone());
                }
                if syntax || !blank_at(&mut current, text, d.line, d.column) {
                    break;
                }
            }
        }
    }
    problems.sort_by_key(|d| (d.line, d.column));
    Report {
        kind,
        problems,
        elsewhere: Vec::new(),
        breakers,
    }
}

/// Checks the file at `path`; `Err` holds one line when the file cannot be read.
///
/// # Errors
///
/// `file: cannot read: reason`.
pub fn check_file(path: &Path) -> Result<Report, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {}", path.display(), io_reason(&e)))?;
    Ok(check_text_in(&text, path.parent()))
}

/// A registry config if its top level has `defaults` or `breakers`, a scenario if it has
/// `load`, else a policy.
fn kind_of(text: &str) -> FileKind {
    let (doc, _) = DeTable::parse_recoverable(text);
    let has = |k: &str| doc.get_ref().contains_key(k);
    if has("defaults") || has("breakers") {
        FileKind::Registry
    } else if has("load") {
        FileKind::Scenario
    } else {
        FileKind::Policy
    }
}

fn policy_diag(e: PolicyError) -> Diagnostic {
    let (line, column) = e.position().unwrap_or((1, 1));
    Diagnostic {
        line,
        column,
        field: if e.field().is_empty() {
            "toml".to_owned()
        } else {
            e.field().to_owned()
        },
        reason: e.reason().to_owned(),
    }
}

fn config_diag(e: ConfigError) -> Diagnostic {
    let (line, column) = e.position().unwrap_or((1, 1));
    let section = match e.breaker() {
        Some(name) => format!("breakers.{name:?}"),
        None if e.is_in_defaults() => "defaults".to_owned(),
        None => String::new(),
    };
    let field = match (section.is_empty(), e.field().is_empty()) {
        (true, true) => "toml".to_owned(),
        (true, false) => e.field().to_owned(),
        (false, true) => section,
        (false, false) => format!("{section}.{}", e.field()),
    };
    Diagnostic {
        line,
        column,
        field,
        reason: e.reason().to_owned(),
    }
}

/// The byte offset of a 1-based line and character column.
fn offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    let mut start = 0;
    for _ in 1..line {
        start += text.get(start..)?.find('\n')? + 1;
    }
    let rest = text.get(start..)?;
    let within = rest
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(rest.len(), |(i, _)| i);
    Some(start + within)
}

/// Blanks, in `current`, the entry of `original` at (line, column): the smallest `key = value`
/// holding that spot, or the whole section if the spot is on a `[section]` header. False if
/// there is nothing there to blank.
fn blank_at(current: &mut String, original: &str, line: usize, column: usize) -> bool {
    let Some(offset) = offset_of(original, line, column) else {
        return false;
    };
    let line_start = original[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_text = original[line_start..].lines().next().unwrap_or("");
    if line_text.trim_start().starts_with('[') {
        let end = section_end(original, line_start);
        return blank(current, line_start..end);
    }
    let Ok(doc) = DeTable::parse(original) else {
        return false;
    };
    let mut best: Option<std::ops::Range<usize>> = None;
    visit(doc.get_ref(), &mut |key, value| {
        let range = key.span().start..value.span().end;
        if range.start <= offset
            && offset < range.end.max(range.start + 1)
            && best
                .as_ref()
                .is_none_or(|b| range.end - range.start < b.end - b.start)
        {
            best = Some(range);
        }
    });
    match best {
        Some(range) => {
            let range = with_comma(original, range);
            blank(current, range)
        }
        None => false,
    }
}

/// A key of a parsed table, with its span.
type Key<'a> = Spanned<std::borrow::Cow<'a, str>>;

/// Calls `f` on every key/value entry of `table`, depth first.
fn visit<'a>(table: &DeTable<'a>, f: &mut dyn FnMut(&Key<'a>, &Spanned<DeValue<'a>>)) {
    for (k, v) in table.iter() {
        f(k, v);
        match v.get_ref() {
            DeValue::Table(t) => visit(t, f),
            DeValue::Array(a) => {
                for item in a.iter() {
                    if let DeValue::Table(t) = item.get_ref() {
                        visit(t, f);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Widens an inline-table entry's range over the comma that separates it from its neighbour.
fn with_comma(text: &str, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let after = &text[range.end..];
    let skipped = after.len() - after.trim_start_matches([' ', '\t']).len();
    if after[skipped..].starts_with(',') {
        return range.start..range.end + skipped + 1;
    }
    let before = &text[..range.start];
    let trimmed = before.trim_end_matches([' ', '\t']);
    if trimmed.ends_with(',') {
        return trimmed.len() - 1..range.end;
    }
    range
}

/// Where the section whose header starts at `start` ends: the next header line, or the end.
fn section_end(text: &str, start: usize) -> usize {
    let mut at = start;
    let mut first = true;
    for line in text[start..].split_inclusive('\n') {
        if !first && line.trim_start().starts_with('[') {
            return at;
        }
        first = false;
        at += line.len();
    }
    text.len()
}

/// Replaces every character of `range` (in the original's byte offsets) but newlines with one
/// space, so that lines and character columns elsewhere do not move.
fn blank(current: &mut String, range: std::ops::Range<usize>) -> bool {
    let Some(part) = current.get(range.clone()) else {
        return false;
    };
    if part.chars().all(|c| c == ' ' || c == '\n') {
        return false;
    }
    let replaced: String = part
        .chars()
        .map(|c| if c == '\n' { '\n' } else { ' ' })
        .collect();
    // Multi-byte characters shrink to one byte each: later byte offsets shift, but lines and
    // character columns (what positions are given in) stay put.
    current.replace_range(range, &replaced);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        check_text(text)
            .problems
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn every_problem_in_a_policy() {
        let text = "window = { count = 0 }\nmin_calls = 'x'\nbogus = 1\nhalf_open = { permits = 0, successes = 2 }\n";
        let got = lines(text);
        assert_eq!(got.len(), 4, "{got:#?}");
        assert!(got[0].starts_with("1:20: window.count: "), "{got:#?}");
        assert!(got[1].starts_with("2:13: min_calls: "), "{got:#?}");
        assert!(got[2].starts_with("3:1: bogus: unknown key"), "{got:#?}");
        assert!(got[3].starts_with("4:25: half_open.permits: "), "{got:#?}");
    }

    #[test]
    fn every_problem_in_a_registry_config() {
        let text = "[defaults]\nmin_calls = 0\n\n[breakers.\"a..b\"]\nmin_calls = 3\n\n[breakers.\"db\"]\njitter = 5.0\n";
        let r = check_text(text);
        assert_eq!(r.kind, FileKind::Registry);
        let got: Vec<String> = r.problems.iter().map(ToString::to_string).collect();
        assert_eq!(got.len(), 3, "{got:#?}");
        assert!(got[0].starts_with("2:13: defaults.min_calls: "), "{got:#?}");
        assert!(got[1].contains("breakers.\"a..b\""), "{got:#?}");
        assert!(
            got[2].starts_with("8:10: breakers.\"db\".jitter: "),
            "{got:#?}"
        );
    }

    #[test]
    fn a_syntax_error_is_one_problem() {
        let got = lines("min_calls = [1,\n");
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("1:"), "{got:?}");
    }

    #[test]
    fn valid_files_pass() {
        assert!(lines("").is_empty());
        assert!(lines("preset = \"database\"\nmin_calls = 10\n").is_empty());
        let r = check_text(
            "[defaults]\nopen_timeout = \"10s\"\n[breakers.\"stripe\"]\npreset = \"payment-provider\"\n",
        );
        assert_eq!((r.kind, r.breakers), (FileKind::Registry, 1));
        assert!(r.problems.is_empty());
    }
}
