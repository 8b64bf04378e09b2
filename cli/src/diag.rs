//! Positions in TOML sources, so that every complaint reads `file:line:col: field: reason`.
//!
//! A [`Document`] keeps the byte span of every key and value of a parsed file. Errors from
//! deserializing part of it (a policy table, a scenario) come back either with a span (type
//! errors, unknown keys) or as a validation message `field: reason` with no span; both are
//! turned into a [`Diagnostic`] that names the field by its dotted path and points at it.

use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// One problem in a file: where it is, which field, and why.
///
/// # Examples
///
/// ```
/// use fusebox_cli::diag::Diagnostic;
/// let d = Diagnostic { line: 3, column: 5, field: "min_calls".into(), reason: "must be at least 1, got 0".into() };
/// assert_eq!(d.to_string(), "3:5: min_calls: must be at least 1, got 0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The dotted path of the field at fault, e.g. `half_open.permits` or `phases[1].end`.
    pub field: String,
    /// What is wrong, with the accepted range where there is one.
    pub reason: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.line, self.column, self.field, self.reason
        )
    }
}

/// One step of a field path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A key of a table.
    Key(String),
    /// An index into an array (0-based).
    Index(usize),
}

/// A path from a string key list: `path(&["load", "duration"])`.
pub(crate) fn path(keys: &[&str]) -> Vec<Seg> {
    keys.iter().map(|k| Seg::Key((*k).to_owned())).collect()
}

/// Formats a path the way TOML would write it: `a.b`, `phases[2].end`, `breakers."stripe.eu"`.
///
/// ```
/// use fusebox_cli::diag::{format_path, Seg};
/// let p = [Seg::Key("breakers".into()), Seg::Key("stripe.eu".into()), Seg::Key("min_calls".into())];
/// assert_eq!(format_path(&p), "breakers.\"stripe.eu\".min_calls");
/// ```
pub fn format_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                let bare = !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if bare {
                    out.push_str(k);
                } else {
                    out.push('"');
                    for c in k.chars() {
                        if c == '"' || c == '\\' {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push('"');
                }
            }
            Seg::Index(i) => {
                out.push_str(&format!("[{i}]"));
            }
        }
    }
    if out.is_empty() {
        out.push_str("(file)");
    }
    out
}

/// Parses a dotted field path as written by [`format_path`] or by a `PolicyError`.
fn parse_path(s: &str) -> Vec<Seg> {
    let mut segs = Vec::new();
    let mut chars = s.chars().peekable();
    let mut cur = String::new();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                if !cur.is_empty() {
                    segs.push(Seg::Key(std::mem::take(&mut cur)));
                }
            }
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                cur.push(n);
                            }
                        }
                        '"' => break,
                        c => cur.push(c),
                    }
                }
                segs.push(Seg::Key(std::mem::take(&mut cur)));
            }
            '[' => {
                if !cur.is_empty() {
                    segs.push(Seg::Key(std::mem::take(&mut cur)));
                }
                let mut digits = String::new();
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    digits.push(c);
                }
                if let Ok(i) = digits.parse() {
                    segs.push(Seg::Index(i));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        segs.push(Seg::Key(cur));
    }
    segs
}

/// Splits a validation message `field.path: reason` (the shape of `PolicyError`'s `Display`).
fn split_field_reason(msg: &str) -> Option<(&str, &str)> {
    let (field, reason) = msg.split_once(": ")?;
    let ok = !field.is_empty()
        && field.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '-'));
    ok.then_some((field, reason))
}

/// Rewrites serde's wording where it would confuse someone editing a TOML file.
fn tidy(msg: &str) -> String {
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let expected = rest.split_once(", expected ").map(|(_, e)| e);
        return match expected {
            Some(e) => format!("unknown key; expected {e}"),
            None => "unknown key".to_owned(),
        };
    }
    if msg.contains("untagged enum BackoffRepr") {
        return "must be \"constant\" or { exponential = F, max = \"5m\" }".to_owned();
    }
    if msg.starts_with("data did not match any variant") {
        return "has the wrong shape".to_owned();
    }
    msg.to_owned()
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end && outer.start < outer.end
}

/// A parsed TOML document that remembers where every key and value came from.
pub struct Document<'a> {
    text: &'a str,
    root: Spanned<DeValue<'a>>,
}

impl<'a> Document<'a> {
    /// Parses `text`.
    ///
    /// # Errors
    ///
    /// A [`Diagnostic`] on the field `toml` for a syntax error.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_cli::diag::Document;
    /// assert!(Document::parse("a = 1").is_ok());
    /// let err = Document::parse("a = [1,\n").err().unwrap();
    /// assert_eq!(err.field, "toml");
    /// ```
    pub fn parse(text: &'a str) -> Result<Self, Diagnostic> {
        match DeTable::parse(text) {
            Ok(table) => {
                let span = table.span();
                Ok(Document {
                    text,
                    root: Spanned::new(span, DeValue::Table(table.into_inner())),
                })
            }
            Err(e) => {
                let (line, column) = line_col(text, e.span().map_or(0, |s| s.start));
                Err(Diagnostic {
                    line,
                    column,
                    field: "toml".to_owned(),
                    reason: e.message().to_owned(),
                })
            }
        }
    }

    /// The value at `path`, if there is one.
    pub(crate) fn get(&self, path: &[Seg]) -> Option<&Spanned<DeValue<'a>>> {
        get(&self.root, path)
    }

    /// Deserializes the value at `path` (the whole document for an empty path).
    ///
    /// # Errors
    ///
    /// The first problem, as a [`Diagnostic`] naming the field under `path`.
    pub(crate) fn deserialize<T: for<'de> Deserialize<'de>>(
        &self,
        path: &[Seg],
    ) -> Result<T, Diagnostic> {
        let value = self
            .get(path)
            .cloned()
            .ok_or_else(|| self.at(path, "missing"))?;
        self.deserialize_value(value, path)
    }

    /// Deserializes `value`, a part of this document (or a table assembled from its parts),
    /// reporting errors as if it sat at `path`.
    pub(crate) fn deserialize_value<T: for<'de> Deserialize<'de>>(
        &self,
        value: Spanned<DeValue<'a>>,
        path: &[Seg],
    ) -> Result<T, Diagnostic> {
        T::deserialize(ValueDeserializer::from(value)).map_err(|e| self.explain(&e, path))
    }

    /// A diagnostic on `path`, pointing at the deepest part of it that exists in the file.
    pub(crate) fn at(&self, path: &[Seg], reason: impl Into<String>) -> Diagnostic {
        let (line, column) = line_col(self.text, self.deepest_span(path).start);
        Diagnostic {
            line,
            column,
            field: format_path(path),
            reason: reason.into(),
        }
    }

    /// The span of the deepest existing node along `path`.
    fn deepest_span(&self, path: &[Seg]) -> Range<usize> {
        let mut cur = &self.root;
        let mut span = if path.is_empty() {
            0..0
        } else {
            self.root.span()
        };
        for seg in path {
            let next = match (seg, cur.get_ref()) {
                (Seg::Key(k), DeValue::Table(t)) => t.get(k.as_str()),
                (Seg::Index(i), DeValue::Array(a)) => a.get(*i),
                _ => None,
            };
            match next {
                Some(v) => {
                    cur = v;
                    span = v.span();
                }
                None => break,
            }
        }
        span
    }

    /// The path of the smallest key or value whose span holds `span` (the deepest on a tie).
    ///
    /// A depth-first search rather than a descent: the span of a table written as a
    /// `[section]` covers only its header, not the keys below it.
    fn path_of_span(&self, span: &Range<usize>) -> Vec<Seg> {
        fn walk(
            v: &Spanned<DeValue<'_>>,
            span: &Range<usize>,
            path: &mut Vec<Seg>,
            best: &mut Option<(usize, usize, Vec<Seg>)>,
        ) {
            fn consider(
                s: Range<usize>,
                span: &Range<usize>,
                path: &[Seg],
                best: &mut Option<(usize, usize, Vec<Seg>)>,
            ) {
                if contains(&s, span) {
                    let len = s.end - s.start;
                    let better = best
                        .as_ref()
                        .is_none_or(|(l, d, _)| len < *l || (len == *l && path.len() > *d));
                    if better {
                        *best = Some((len, path.len(), path.to_vec()));
                    }
                }
            }
            match v.get_ref() {
                DeValue::Table(t) => {
                    for (k, child) in t.iter() {
                        path.push(Seg::Key(k.get_ref().to_string()));
                        consider(k.span(), span, path, best);
                        consider(child.span(), span, path, best);
                        walk(child, span, path, best);
                        path.pop();
                    }
                }
                DeValue::Array(a) => {
                    for (i, child) in a.iter().enumerate() {
                        path.push(Seg::Index(i));
                        consider(child.span(), span, path, best);
                        walk(child, span, path, best);
                        path.pop();
                    }
                }
                _ => {}
            }
        }
        let mut best = None;
        walk(&self.root, span, &mut Vec::new(), &mut best);
        best.map(|(_, _, p)| p).unwrap_or_default()
    }

    /// Turns a deserialization error of the part at `base` into a diagnostic.
    pub(crate) fn explain(&self, err: &toml::de::Error, base: &[Seg]) -> Diagnostic {
        let msg = err.message();
        match (err.span(), split_field_reason(msg)) {
            (None, Some((field, reason))) => {
                let mut p = base.to_vec();
                p.extend(parse_path(field));
                self.at(&p, reason)
            }
            (Some(span), _) => {
                let mut p = self.path_of_span(&span);
                if p.len() < base.len() {
                    p = base.to_vec();
                }
                let mut reason = tidy(msg);
                if let Some(rest) = msg.strip_prefix("missing field `") {
                    p.push(Seg::Key(rest.trim_end_matches('`').to_owned()));
                    reason = "missing".to_owned();
                }
                let (line, column) = line_col(self.text, span.start);
                Diagnostic {
                    line,
                    column,
                    field: format_path(&p),
                    reason,
                }
            }
            (None, None) => self.at(base, tidy(msg)),
        }
    }
}

/// The value at `path` below `v`.
pub(crate) fn get<'b, 'a>(
    v: &'b Spanned<DeValue<'a>>,
    path: &[Seg],
) -> Option<&'b Spanned<DeValue<'a>>> {
    let mut cur = v;
    for seg in path {
        cur = match (seg, cur.get_ref()) {
            (Seg::Key(k), DeValue::Table(t)) => t.get(k.as_str())?,
            (Seg::Index(i), DeValue::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// The 1-based line and character column of byte `offset` in `text`.
///
/// ```
/// assert_eq!(fusebox_cli::diag::line_col("ab\ncd", 4), (2, 2));
/// ```
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text
        .get(line_start..offset)
        .map_or(1, |s| s.chars().count() + 1);
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        for s in [
            "a",
            "a.b",
            "phases[2].end",
            "breakers.\"stripe.eu\".half_open.permits",
        ] {
            assert_eq!(format_path(&parse_path(s)), s);
        }
    }

    #[test]
    fn explains_validation_and_type_errors() {
        let text = "min_calls = 0\nhalf_open = { permits = 'x' }\n";
        let doc = Document::parse(text).unwrap();
        let err = doc
            .deserialize::<fusebox::Policy>(&[])
            .expect_err("invalid");
        assert_eq!(
            err.to_string(),
            "2:25: half_open.permits: invalid type: string \"x\", expected u32"
        );
        let doc = Document::parse("window = { count = 10 }\nmin_calls = 0\n").unwrap();
        let err = doc.deserialize::<fusebox::Policy>(&[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "2:13: min_calls: must be at least 1, got 0"
        );
    }

    #[test]
    fn unknown_keys_point_at_the_key() {
        let doc = Document::parse("[load]\ncalls = 3\n").unwrap();
        let err = doc.deserialize::<fusebox::Policy>(&path(&[])).unwrap_err();
        assert_eq!(err.field, "load");
        assert_eq!((err.line, err.column), (1, 2));
    }
}
