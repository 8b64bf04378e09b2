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
//!
//! A blanked entry is set aside: the field it held takes the value it inherits (a default, a
//! preset's, a parent section's), which the file does not hold. An error on such a stand-in
//! value, or judged against one (`min_calls` over a `window.count` that was set aside, see
//! [`PolicyError::limited_by`]), says nothing about the file, so it is not reported; its entry
//! is blanked in turn, so that the checker can go on to the rest of the file. The price is
//! that an error which depends on a value set aside is left for the next run, once the errors
//! reported are fixed: the checker never reports a value the file does not hold.
//!
//! Warnings are things a valid file may mean but probably does not: a `chaos` table with no
//! `until` (an experiment that never ends by itself) in the file or a section that does not
//! inherit one. They are reported with the problems but do not make the file fail.

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
    /// Warnings, in file order: reported, but the file passes with them. Each reason starts
    /// with `warning: `.
    pub warnings: Vec<Diagnostic>,
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
            warnings: Vec::new(),
            breakers: 0,
        };
    }
    let validate: &dyn Fn(&str) -> Outcome = match kind {
        FileKind::Policy => &|t: &str| match Policy::from_toml(t) {
            Ok(_) => Outcome::Valid { breakers: 0 },
            Err(e) => Outcome::Invalid(policy_found(e)),
        },
        FileKind::Registry | FileKind::Scenario => &|t: &str| match RegistryConfig::from_toml(t) {
            Ok(c) => Outcome::Valid {
                breakers: c.breakers().len(),
            },
            Err(e) => Outcome::Invalid(config_found(e)),
        },
    };
    let origin = Origin::new(text);
    let mut set_aside: Vec<Vec<String>> = Vec::new();
    let mut problems: Vec<Diagnostic> = Vec::new();
    let mut positions = BTreeSet::new();
    let mut current = text.to_owned();
    let mut breakers = 0;
    while problems.len() < MAX_PROBLEMS {
        match validate(&current) {
            Outcome::Valid { breakers: n } => {
                breakers = n;
                break;
            }
            Outcome::Invalid(found) => {
                let d = &found.diag;
                if !positions.insert((d.line, d.column, d.field.clone())) {
                    break;
                }
                let syntax = d.field == "toml";
                if !origin.judges_a_stand_in(&found, &set_aside) {
                    problems.push(d.clone());
                }
                if syntax {
                    break;
                }
                match blank_at(&mut current, text, d.line, d.column) {
                    // A section header: the whole section is set aside.
                    Some(Blanked::Section) => set_aside.push(found.path()),
                    Some(Blanked::Entry(path)) => set_aside.push(path),
                    None => break,
                }
            }
        }
    }
    problems.sort_by_key(|d| (d.line, d.column));
    Report {
        kind,
        problems,
        elsewhere: Vec::new(),
        warnings: origin.chaos_warnings(kind),
        breakers,
    }
}

/// The warning on a `chaos` table with no `until`.
///
/// ```
/// use fusebox_cli::check::{check_text, NO_UNTIL};
/// let r = check_text("chaos = { fault_rate = 0.1 }\n");
/// assert!(r.problems.is_empty());
/// assert_eq!(r.warnings[0].to_string(), format!("1:9: chaos: {NO_UNTIL}"));
/// ```
pub const NO_UNTIL: &str = "warning: no until: chaos stays on until removed; \
                            set until = \"<RFC 3339>\" for an experiment that ends by itself";

/// What one parse of the (partly blanked) file gave.
enum Outcome {
    /// No error; a registry config's number of breaker sections.
    Valid { breakers: usize },
    /// The first error.
    Invalid(Found),
}

/// One validation error, with what the checker needs to judge whether the file holds it.
struct Found {
    diag: Diagnostic,
    /// The key path of the table the error is in: empty for a policy file (or a registry
    /// config's top level), `["defaults"]`, or `["breakers", name]`.
    section: Vec<String>,
    /// The field's path within that table.
    field: Vec<String>,
    /// The fields of the same table whose values set the range the field was checked against.
    limited_by: &'static [&'static str],
}

impl Found {
    /// The field's whole key path in the file.
    fn path(&self) -> Vec<String> {
        self.section.iter().chain(&self.field).cloned().collect()
    }
}

/// Splits a field path as the policy errors write it (`half_open.permits`); the fields that
/// can be limited by others are plain identifiers.
fn split_field(field: &str) -> Vec<String> {
    if field.is_empty() {
        Vec::new()
    } else {
        field.split('.').map(str::to_owned).collect()
    }
}

/// The file as written, to tell the values it holds from the ones blanking left in their place.
struct Origin<'a> {
    text: &'a str,
    doc: Spanned<DeTable<'a>>,
}

impl<'a> Origin<'a> {
    fn new(text: &'a str) -> Self {
        Origin {
            text,
            doc: DeTable::parse_recoverable(text).0,
        }
    }

    /// Whether the error is on a value that blanking put in place of the file's, or was judged
    /// against one.
    fn judges_a_stand_in(&self, found: &Found, set_aside: &[Vec<String>]) -> bool {
        std::iter::once(found.field.clone())
            .chain(found.limited_by.iter().map(|f| split_field(f)))
            .any(|field| self.is_stand_in(&found.section, &field, set_aside))
    }

    /// Whether `field` of the table at `section` holds a value the file does not: one set
    /// aside, or one inherited from a preset or a parent section that was set aside.
    fn is_stand_in(&self, section: &[String], field: &[String], set_aside: &[Vec<String>]) -> bool {
        let path: Vec<String> = section.iter().chain(field).cloned().collect();
        if set_aside.iter().any(|aside| path.starts_with(aside)) {
            return true;
        }
        // The operator tables (`[record]`, `[notify]`, `[health]`) name their fields without
        // their table: a field set aside in one of them is the same field.
        if section.is_empty()
            && !field.is_empty()
            && set_aside
                .iter()
                .any(|aside| aside.len() == field.len() + 1 && aside[1..] == *field)
        {
            return true;
        }
        if self.writes(&path) {
            return false;
        }
        let preset: Vec<String> = section
            .iter()
            .cloned()
            .chain(["preset".to_owned()])
            .collect();
        if set_aside.contains(&preset) {
            return true;
        }
        if self.writes(&preset) {
            return false;
        }
        self.parent(section)
            .is_some_and(|parent| self.is_stand_in(&parent, field, set_aside))
    }

    /// A warning for each table of the file (the policy, `[defaults]`, each breaker section)
    /// whose `chaos` table has no `until` and inherits none.
    fn chaos_warnings(&self, kind: FileKind) -> Vec<Diagnostic> {
        let sections: Vec<Vec<String>> = match kind {
            FileKind::Policy => vec![Vec::new()],
            FileKind::Registry => {
                let breakers = match self.doc.get_ref().get("breakers").map(|v| v.get_ref()) {
                    Some(DeValue::Table(t)) => {
                        t.iter().map(|(k, _)| k.get_ref().to_string()).collect()
                    }
                    _ => Vec::new(),
                };
                std::iter::once(vec!["defaults".to_owned()])
                    .chain(
                        breakers
                            .into_iter()
                            .map(|name| vec!["breakers".to_owned(), name]),
                    )
                    .collect()
            }
            FileKind::Scenario => Vec::new(),
        };
        let mut warnings: Vec<Diagnostic> = sections
            .iter()
            .filter_map(|section| {
                let mut path = section.clone();
                path.push("chaos".to_owned());
                let chaos = self.value(&path)?;
                let DeValue::Table(table) = chaos.get_ref() else {
                    return None;
                };
                if table.contains_key("until") || self.inherits_until(section) {
                    return None;
                }
                let (line, column) = self.position(chaos.span().start);
                Some(Diagnostic {
                    line,
                    column,
                    // As errors name the section: `breakers."pay"`, quoted.
                    field: match section.as_slice() {
                        [first, name] if first == "breakers" => {
                            format!("breakers.{name:?}.chaos")
                        }
                        [defaults] => format!("{defaults}.chaos"),
                        _ => "chaos".to_owned(),
                    },
                    reason: NO_UNTIL.to_owned(),
                })
            })
            .collect();
        warnings.sort_by_key(|d| (d.line, d.column));
        warnings
    }

    /// Whether the chaos of `section` patches a chaos with an `until` that it inherits: from
    /// its parent section, unless it starts from a preset (which has no chaos).
    fn inherits_until(&self, section: &[String]) -> bool {
        let mut current = section.to_vec();
        loop {
            let mut preset = current.clone();
            preset.push("preset".to_owned());
            if self.writes(&preset) {
                return false;
            }
            let Some(parent) = self.parent(&current) else {
                return false;
            };
            let mut chaos = parent.clone();
            chaos.push("chaos".to_owned());
            match self.value(&chaos).map(|v| v.get_ref()) {
                Some(DeValue::Table(t)) if t.contains_key("until") => return true,
                Some(DeValue::Table(_)) | None => current = parent,
                Some(_) => return false,
            }
        }
    }

    /// The value at `path`, if the file sets it.
    fn value(&self, path: &[String]) -> Option<&Spanned<DeValue<'a>>> {
        let (last, init) = path.split_last()?;
        let mut table = self.doc.get_ref();
        for key in init {
            match table.get(key.as_str())?.get_ref() {
                DeValue::Table(t) => table = t,
                _ => return None,
            }
        }
        table.get(last.as_str())
    }

    /// The 1-based line and character column of a byte offset of the file.
    fn position(&self, offset: usize) -> (usize, usize) {
        let text = &self.text[..offset.min(self.text.len())];
        let line_start = text.rfind('\n').map_or(0, |i| i + 1);
        (
            text.matches('\n').count() + 1,
            text[line_start..].chars().count() + 1,
        )
    }

    /// Whether the file sets the key at `path`.
    fn writes(&self, path: &[String]) -> bool {
        let mut table = self.doc.get_ref();
        for (i, key) in path.iter().enumerate() {
            let Some(value) = table.get(key.as_str()) else {
                return false;
            };
            if i + 1 == path.len() {
                return true;
            }
            match value.get_ref() {
                DeValue::Table(t) => table = t,
                _ => return false,
            }
        }
        false
    }

    /// The section a registry config's section inherits from: a breaker's longest dotted
    /// prefix that has a section, else `[defaults]`; nothing for `[defaults]` or a policy.
    fn parent(&self, section: &[String]) -> Option<Vec<String>> {
        let [first, name] = section else {
            return None;
        };
        if first != "breakers" {
            return None;
        }
        let parent = name
            .rmatch_indices('.')
            .map(|(i, _)| &name[..i])
            .find(|prefix| self.writes(&["breakers".to_owned(), (*prefix).to_owned()]))
            .map_or_else(
                || vec!["defaults".to_owned()],
                |prefix| vec!["breakers".to_owned(), prefix.to_owned()],
            );
        Some(parent)
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

/// A registry config if its top level has `defaults`, `breakers`, `health`, `notify` or
/// `record`, a scenario if it has `load`, else a policy.
fn kind_of(text: &str) -> FileKind {
    let (doc, _) = DeTable::parse_recoverable(text);
    let has = |k: &str| doc.get_ref().contains_key(k);
    if ["defaults", "breakers", "health", "notify", "record"]
        .into_iter()
        .any(has)
    {
        FileKind::Registry
    } else if has("load") {
        FileKind::Scenario
    } else {
        FileKind::Policy
    }
}

fn policy_found(e: PolicyError) -> Found {
    let (line, column) = e.position().unwrap_or((1, 1));
    Found {
        diag: Diagnostic {
            line,
            column,
            field: if e.field().is_empty() {
                "toml".to_owned()
            } else {
                e.field().to_owned()
            },
            reason: e.reason().to_owned(),
        },
        section: Vec::new(),
        field: split_field(e.field()),
        limited_by: e.limited_by(),
    }
}

fn config_found(e: ConfigError) -> Found {
    let (line, column) = e.position().unwrap_or((1, 1));
    let (section, path) = match e.breaker() {
        Some(name) => (
            format!("breakers.{name:?}"),
            vec!["breakers".to_owned(), name.to_owned()],
        ),
        None if e.is_in_defaults() => ("defaults".to_owned(), vec!["defaults".to_owned()]),
        None => (String::new(), Vec::new()),
    };
    let field = match (section.is_empty(), e.field().is_empty()) {
        (true, true) => "toml".to_owned(),
        (true, false) => e.field().to_owned(),
        (false, true) => section,
        (false, false) => format!("{section}.{}", e.field()),
    };
    Found {
        diag: Diagnostic {
            line,
            column,
            field,
            reason: e.reason().to_owned(),
        },
        section: path,
        field: split_field(e.field()),
        limited_by: e.limited_by(),
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

/// What [`blank_at`] blanked.
enum Blanked {
    /// A whole section, from its header to the next.
    Section,
    /// The entry with this key path.
    Entry(Vec<String>),
}

/// Blanks, in `current`, the entry of `original` at (line, column): the smallest `key = value`
/// holding that spot, or the whole section if the spot is on a `[section]` header. `None` if
/// there is nothing there to blank.
fn blank_at(current: &mut String, original: &str, line: usize, column: usize) -> Option<Blanked> {
    let offset = offset_of(original, line, column)?;
    let line_start = original[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_text = original[line_start..].lines().next().unwrap_or("");
    if line_text.trim_start().starts_with('[') {
        let end = section_end(original, line_start);
        return blank(current, line_start..end).then_some(Blanked::Section);
    }
    let doc = DeTable::parse(original).ok()?;
    let mut best: Option<(std::ops::Range<usize>, Vec<String>)> = None;
    visit(doc.get_ref(), &mut Vec::new(), &mut |path, key, value| {
        // The part of a dotted key (`window` of `window.count = 5`) has no text of its own.
        if value.span() == key.span() {
            return;
        }
        let range = dotted_start(original, key.span().start)..value.span().end;
        if range.start <= offset
            && offset < range.end.max(range.start + 1)
            && best
                .as_ref()
                .is_none_or(|(b, _)| range.end - range.start < b.end - b.start)
        {
            best = Some((range, path.to_vec()));
        }
    });
    let (range, path) = best?;
    blank(current, with_comma(original, range)).then_some(Blanked::Entry(path))
}

/// Where the key that ends with the key part at `key_start` starts: before its dotted prefix
/// (`window.` of `window.count = 5`), so that blanking the entry blanks the whole key.
fn dotted_start(text: &str, key_start: usize) -> usize {
    let mut start = key_start;
    loop {
        let before = text[..start].trim_end_matches([' ', '\t']);
        let Some(before) = before.strip_suffix('.') else {
            return start;
        };
        let before = before.trim_end_matches([' ', '\t']);
        let part = if before.ends_with('"') {
            basic_string_start(before)
        } else if let Some(inner) = before.strip_suffix('\'') {
            inner.rfind('\'')
        } else {
            let bare = before
                .trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            (bare.len() < before.len()).then_some(bare.len())
        };
        match part {
            Some(part) => start = part,
            None => return start,
        }
    }
}

/// Where the basic string (`"..."`) that `text` ends with starts: the last `"` before the
/// closing one that no backslash escapes.
fn basic_string_start(text: &str) -> Option<usize> {
    let inner = text.strip_suffix('"')?;
    let mut end = inner.len();
    while let Some(quote) = inner[..end].rfind('"') {
        let backslashes = inner[..quote].len() - inner[..quote].trim_end_matches('\\').len();
        if backslashes % 2 == 0 {
            return Some(quote);
        }
        end = quote;
    }
    None
}

/// A key of a parsed table, with its span.
type Key<'a> = Spanned<std::borrow::Cow<'a, str>>;

/// What [`visit`] calls on each entry: its key path, key and value.
type Visitor<'f, 'a> = dyn FnMut(&[String], &Key<'a>, &Spanned<DeValue<'a>>) + 'f;

/// Calls `f` on every key/value entry of `table`, depth first, with the entry's key path
/// (`path` followed by its key).
fn visit<'a>(table: &DeTable<'a>, path: &mut Vec<String>, f: &mut Visitor<'_, 'a>) {
    for (k, v) in table.iter() {
        path.push(k.get_ref().to_string());
        f(path, k, v);
        match v.get_ref() {
            DeValue::Table(t) => visit(t, path, f),
            DeValue::Array(a) => {
                for item in a.iter() {
                    if let DeValue::Table(t) = item.get_ref() {
                        visit(t, path, f);
                    }
                }
            }
            _ => {}
        }
        path.pop();
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

    /// Blanking an entry gives its field the value it inherits; errors on that value, or
    /// judged against it, are not in the file.
    #[test]
    fn no_error_on_a_value_the_file_does_not_hold() {
        let cases: &[(&str, &[&str])] = &[
            (
                "window = { count = 10 }\nmin_calls = 50\n",
                &["2:13: min_calls: must be in 1..=10 (the count window's size), got 50"],
            ),
            (
                "min_calls = 50\nwindow = { count = 10 }\njitter = 2.0\n",
                &[
                    "1:13: min_calls: must be in 1..=10 (the count window's size), got 50",
                    "3:10: jitter: must be in [0, 1), got 2",
                ],
            ),
            (
                "window = { span = \"5ms\", buckets = 10 }\nbogus = 1\n",
                &[
                    "1:19: window.span: must be in [10ms, 7days], got 5ms",
                    "2:1: bogus: unknown key",
                ],
            ),
            (
                "window = { span = \"10s\", buckets = 5000 }\njitter = 3.0\n",
                &[
                    "1:36: window.buckets: must be in 1..=1024, got 5000",
                    "2:10: jitter: must be in [0, 1), got 3",
                ],
            ),
            (
                "half_open = { permits = 2, successes = 8 }\n",
                &["1:40: half_open.successes: must be in 1..=2 (half_open.permits), got 8"],
            ),
            (
                "half_open = { permits = 0, successes = 8 }\n",
                &["1:25: half_open.permits: must be in 1..=10000, got 0"],
            ),
            (
                "open_timeout = \"10m\"\nbackoff = { exponential = 2.0, max = \"1s\" }\n",
                &["2:38: backoff.max: must be in [10m, 7days], got 1s"],
            ),
            (
                "window = 5\nmin_calls = 500\n",
                &["1:10: window: must be { count = N }"],
            ),
            (
                "preset = \"nope\"\nhalf_open = { permits = 2 }\njitter = 5.0\n",
                &["1:10: preset: must be one of", "3:10: jitter: "],
            ),
            // The file alone is wrong here: the default min_calls is above the window.
            (
                "window = { count = 10 }\n",
                &["1:20: min_calls: must be in 1..=10 (the count window's size), got 20"],
            ),
        ];
        for (text, expected) in cases {
            let got = lines(text);
            assert_eq!(got.len(), expected.len(), "{text}: {got:#?}");
            for (line, start) in got.iter().zip(*expected) {
                assert!(line.starts_with(start), "{text}: {got:#?}");
            }
        }
    }

    #[test]
    fn no_error_on_a_value_inherited_from_a_section_set_aside() {
        let text = "[defaults]\nwindow = { count = 0 }\n\
                    [breakers.a]\nmin_calls = 500\n\
                    [breakers.b]\nwindow = { count = 10 }\nmin_calls = 50\n\
                    [breakers.\"b.c\"]\nmin_calls = 200\njitter = 3.0\n";
        assert_eq!(
            lines(text),
            [
                "2:20: defaults.window.count: must be in 1..=1048576, got 0",
                "7:13: breakers.\"b\".min_calls: must be in 1..=10 (the count window's size), got 50",
                "10:10: breakers.\"b.c\".jitter: must be in [0, 1), got 3",
            ]
        );
    }

    #[test]
    fn a_bad_entry_of_an_operator_table_is_one_error_not_also_missing() {
        assert_eq!(
            lines("[record]\nbreakers = [\"pay*\"]\n"),
            [
                "2:13: breakers[0]: invalid pattern \"pay*\": expected a breaker name or \"prefix.*\" (may hold only A-Z, a-z, 0-9, '_', '.', ':' and '-', got '*' at byte 3)"
            ]
        );
        let notify = lines("[notify]\nwebhook = \"https://x\"\n");
        assert_eq!(notify.len(), 1, "{notify:?}");
        assert!(notify[0].starts_with("2:11: webhook: "), "{notify:?}");
        // A table that lacks the key still says so.
        assert_eq!(
            lines("[record]\nsample = 0.5\n"),
            ["1:1: breakers: missing: [record] needs the breakers to record"]
        );
    }

    #[test]
    fn dotted_keys_are_blanked_whole() {
        assert_eq!(dotted_start("window.count = 5", 7), 0);
        assert_eq!(dotted_start("x = { a . b = 1 }", 10), 6);
        assert_eq!(dotted_start("\"q.\\\"r\".'s'.t = 1", 12), 0);
        assert_eq!(dotted_start("  min_calls = 5", 2), 2);
        assert_eq!(dotted_start(". x = 1", 2), 2);
        assert_eq!(
            lines("window.count = 5\nmin_calls = 7\njitter = 2.0\n"),
            [
                "2:13: min_calls: must be in 1..=5 (the count window's size), got 7",
                "3:10: jitter: must be in [0, 1), got 2",
            ]
        );
        assert_eq!(
            lines("window.span = \"10s\"\nwindow.buckets = 5000\njitter = 2.0\n"),
            [
                "2:18: window.buckets: must be in 1..=1024, got 5000",
                "3:10: jitter: must be in [0, 1), got 2",
            ]
        );
    }

    #[test]
    fn a_syntax_error_is_one_problem() {
        let got = lines("min_calls = [1,\n");
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("1:"), "{got:?}");
    }

    fn warnings(text: &str) -> Vec<String> {
        check_text(text)
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn chaos_without_until_is_a_warning_unless_inherited() {
        let w = |at: &str, field: &str| format!("{at}: {field}: {NO_UNTIL}");
        assert_eq!(
            warnings(
                "chaos = { fault_rate = 0.1 }
"
            ),
            [w("1:9", "chaos")]
        );
        assert_eq!(
            warnings(
                "[chaos]
fault_rate = 0.1
"
            ),
            [w("1:1", "chaos")]
        );
        for quiet in [
            "chaos = { fault_rate = 0.1, until = \"2026-12-31T00:00:00Z\" }\n",
            "chaos = { fault_rate = 0.1, until = \"none\" }\n",
            "chaos = \"off\"\n",
            "min_calls = 5\n",
        ] {
            assert!(warnings(quiet).is_empty(), "{quiet}");
        }
        let text = "[defaults]\nchaos = { fault_rate = 0.1, until = \"none\" }\n\
                    [breakers.a]\nchaos = { seed = 1 }\n\
                    [breakers.\"a.b\"]\nchaos = { seed = 2 }\n\
                    [breakers.c]\npreset = \"database\"\nchaos = { fault_rate = 0.2 }\n\
                    [breakers.d]\nchaos = \"off\"\n\
                    [breakers.\"d.e\"]\nchaos = { fault_rate = 0.3 }\n";
        assert_eq!(
            warnings(text),
            [
                w("9:9", "breakers.\"c\".chaos"),
                w("13:9", "breakers.\"d.e\".chaos"),
            ]
        );
        let r = check_text(text);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(
            warnings("[breakers.x]\nchaos = { fault_rate = 0.1 }\n"),
            [w("2:9", "breakers.\"x\".chaos")]
        );
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
        let r = check_text("[record]\nbreakers = [\"pay.*\"]\nsample = 0.5\ncapacity = 1000\n");
        assert_eq!(r.kind, FileKind::Registry);
        assert!(r.problems.is_empty());
    }

    #[test]
    fn a_record_table_is_checked() {
        let got = lines("[record]\nbreakers = [\"pay.*\"]\nsample = 1.5\n");
        assert_eq!(got, ["3:10: sample: must be in (0, 1], got 1.5"]);
    }
}
