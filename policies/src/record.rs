//! The registry config file's `[record]` table: which breakers record their calls for replay,
//! the share of calls recorded and how many calls the buffer holds.
//!
//! ```toml
//! [record]
//! breakers = ["pay.*", "db"]
//! sample = 1.0
//! capacity = 1000000
//! ```

use toml::de::{DeTable, DeValue};

use crate::config::{ConfigError, validate_name};
use crate::file;
use crate::operator::TableAt;

/// The share of calls recorded when `[record]` leaves `sample` out: every call.
///
/// ```
/// assert_eq!(fusebox_policies::RECORD_SAMPLE_DEFAULT, 1.0);
/// ```
pub const RECORD_SAMPLE_DEFAULT: f64 = 1.0;

/// The calls a recording buffers when `[record]` leaves `capacity` out.
///
/// ```
/// assert_eq!(fusebox_policies::RECORD_CAPACITY_DEFAULT, 1_000_000);
/// ```
pub const RECORD_CAPACITY_DEFAULT: usize = 1_000_000;

/// The most calls a recording may buffer: ten million. The buffer is allocated whole when
/// recording starts, at 24 bytes a call (240 MB at this maximum).
///
/// ```
/// assert_eq!(fusebox_policies::MAX_RECORD_CAPACITY, 10_000_000);
/// ```
pub const MAX_RECORD_CAPACITY: usize = 10_000_000;

const KEYS: &[&str] = &["breakers", "sample", "capacity"];

/// What to record: the `[record]` table, or the same made in code.
///
/// `breakers` lists breaker names and `prefix.*` patterns: a name matches itself, and
/// `"pay.*"` every breaker under `pay.` (`pay.stripe`, `pay.stripe.eu`, but not `pay`
/// itself). A share `sample` in (0, 1] of their calls is recorded, into a buffer of
/// `capacity` calls (1 to [`MAX_RECORD_CAPACITY`]).
///
/// # Examples
///
/// ```
/// use fusebox_policies::{RecordConfig, RegistryConfig};
/// let config = RegistryConfig::from_toml(
///     "[record]\nbreakers = [\"pay.*\", \"db\"]\nsample = 0.5\ncapacity = 1000\n",
/// )?;
/// let record = config.record().unwrap();
/// assert!(record.matches("pay.stripe") && record.matches("db") && !record.matches("pay"));
/// assert_eq!((record.sample(), record.capacity()), (0.5, 1000));
///
/// let same = RecordConfig::new(["pay.*", "db"], 0.5, 1000)?;
/// assert_eq!(record, &same);
/// # Ok::<(), fusebox_policies::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RecordConfig {
    breakers: Vec<String>,
    sample: f64,
    capacity: usize,
}

impl RecordConfig {
    /// A recording of the breakers `breakers` names or matches, at `sample`, into a buffer
    /// of `capacity` calls.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] in the `record` table (without a position) for an empty list, a
    /// pattern that is neither a valid breaker name nor `prefix.*` with a valid prefix, a
    /// `sample` outside (0, 1], or a `capacity` of 0 or above [`MAX_RECORD_CAPACITY`].
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_policies::RecordConfig;
    /// assert!(RecordConfig::new(["db"], 1.0, 100).is_ok());
    /// let err = RecordConfig::new(["db"], 0.0, 100).unwrap_err();
    /// assert_eq!(err.to_string(), "record: sample: must be in (0, 1], got 0");
    /// ```
    pub fn new<S: Into<String>>(
        breakers: impl IntoIterator<Item = S>,
        sample: f64,
        capacity: usize,
    ) -> Result<RecordConfig, ConfigError> {
        let in_table = |field: String, reason: String| {
            ConfigError::new(field, reason).in_operator_table("record")
        };
        let breakers: Vec<String> = breakers.into_iter().map(Into::into).collect();
        if breakers.is_empty() {
            return Err(in_table("breakers".into(), EMPTY_LIST.into()));
        }
        for (i, pattern) in breakers.iter().enumerate() {
            check_pattern(pattern).map_err(|r| in_table(format!("breakers[{i}]"), r))?;
        }
        check_sample(sample).map_err(|r| in_table("sample".into(), r))?;
        check_capacity(capacity as u128).map_err(|r| in_table("capacity".into(), r))?;
        Ok(RecordConfig {
            breakers,
            sample,
            capacity,
        })
    }

    /// The names and `prefix.*` patterns of the breakers recorded.
    ///
    /// ```
    /// let r = fusebox_policies::RecordConfig::new(["pay.*"], 1.0, 10)?;
    /// assert_eq!(r.breakers(), ["pay.*"]);
    /// # Ok::<(), fusebox_policies::ConfigError>(())
    /// ```
    #[must_use]
    pub fn breakers(&self) -> &[String] {
        &self.breakers
    }

    /// The share of calls recorded, in (0, 1].
    ///
    /// ```
    /// let r = fusebox_policies::RecordConfig::new(["db"], 0.25, 10)?;
    /// assert_eq!(r.sample(), 0.25);
    /// # Ok::<(), fusebox_policies::ConfigError>(())
    /// ```
    #[must_use]
    pub fn sample(&self) -> f64 {
        self.sample
    }

    /// How many calls the buffer holds until drained.
    ///
    /// ```
    /// let r = fusebox_policies::RecordConfig::new(["db"], 1.0, 10)?;
    /// assert_eq!(r.capacity(), 10);
    /// # Ok::<(), fusebox_policies::ConfigError>(())
    /// ```
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether the breaker `name` is recorded: named, or under a `prefix.*` pattern.
    ///
    /// ```
    /// let r = fusebox_policies::RecordConfig::new(["pay.*", "db"], 1.0, 10)?;
    /// assert!(r.matches("pay.stripe.eu") && r.matches("db"));
    /// assert!(!r.matches("pay") && !r.matches("payments") && !r.matches("db.primary"));
    /// # Ok::<(), fusebox_policies::ConfigError>(())
    /// ```
    #[must_use]
    pub fn matches(&self, name: &str) -> bool {
        self.breakers
            .iter()
            .any(|pattern| match pattern.strip_suffix(".*") {
                Some(prefix) => name
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('.')),
                None => pattern == name,
            })
    }

    /// The table as it would be written in a config file (without its `[record]` header).
    ///
    /// ```
    /// let r = fusebox_policies::RecordConfig::new(["pay.*"], 1.0, 1000)?;
    /// assert_eq!(r.to_toml(), "breakers = [\"pay.*\"]\nsample = 1.0\ncapacity = 1000\n");
    /// # Ok::<(), fusebox_policies::ConfigError>(())
    /// ```
    #[must_use]
    pub fn to_toml(&self) -> String {
        format!(
            "breakers = {:?}\nsample = {:?}\ncapacity = {}\n",
            self.breakers, self.sample, self.capacity
        )
    }
}

const EMPTY_LIST: &str = "must name at least one breaker or \"prefix.*\" pattern";

/// A pattern is a breaker name, or `prefix.*` with a breaker name as the prefix.
fn check_pattern(pattern: &str) -> Result<(), String> {
    let name = pattern.strip_suffix(".*").unwrap_or(pattern);
    validate_name(name).map_err(|e| {
        format!(
            "invalid pattern {pattern:?}: expected a breaker name or \"prefix.*\" ({})",
            e.reason()
        )
    })
}

fn check_sample(sample: f64) -> Result<(), String> {
    if sample > 0.0 && sample <= 1.0 {
        Ok(())
    } else {
        Err(format!("must be in (0, 1], got {sample}"))
    }
}

fn check_capacity(capacity: u128) -> Result<(), String> {
    if (1..=MAX_RECORD_CAPACITY as u128).contains(&capacity) {
        Ok(())
    } else {
        Err(format!(
            "must be in 1..={MAX_RECORD_CAPACITY} (MAX_RECORD_CAPACITY), got {capacity}"
        ))
    }
}

/// `[record] breakers = [...], sample = 1.0, capacity = 1000000`; `table_offset` is where the
/// table starts, for a missing `breakers`.
pub(crate) fn parse_record(
    at: &TableAt<'_, '_>,
    table: &DeTable<'_>,
    table_offset: usize,
) -> Result<RecordConfig, ConfigError> {
    let mut breakers = None;
    let mut sample = RECORD_SAMPLE_DEFAULT;
    let mut capacity = RECORD_CAPACITY_DEFAULT;
    for (key, value) in file::entries(table) {
        let offset = value.span().start;
        match key.get_ref().as_ref() {
            "breakers" => {
                let list = at.strings("breakers", value, check_pattern)?;
                if list.is_empty() {
                    return Err(at.error("breakers", EMPTY_LIST.to_owned(), offset));
                }
                breakers = Some(list);
            }
            "sample" => {
                let parsed = match value.get_ref() {
                    DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
                    DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix())
                        .ok()
                        .map(|n| n as f64),
                    _ => None,
                };
                let Some(parsed) = parsed else {
                    let got = file::describe(value.get_ref());
                    return Err(at.error(
                        "sample",
                        format!("must be a number in (0, 1], got {got}"),
                        offset,
                    ));
                };
                check_sample(parsed).map_err(|r| at.error("sample", r, offset))?;
                sample = parsed;
            }
            "capacity" => {
                let DeValue::Integer(i) = value.get_ref() else {
                    let got = file::describe(value.get_ref());
                    return Err(at.error(
                        "capacity",
                        format!("must be an integer, got {got}"),
                        offset,
                    ));
                };
                let n = i128::from_str_radix(i.as_str(), i.radix())
                    .ok()
                    .and_then(|n| u128::try_from(n).ok());
                let Some(n) = n.filter(|&n| check_capacity(n).is_ok()) else {
                    return Err(at.error(
                        "capacity",
                        format!(
                            "must be in 1..={MAX_RECORD_CAPACITY} (MAX_RECORD_CAPACITY), got {i}"
                        ),
                        offset,
                    ));
                };
                capacity = n as usize;
            }
            other => return Err(at.unknown(other, KEYS, key.span().start)),
        }
    }
    let breakers = breakers.ok_or_else(|| {
        at.error(
            "breakers",
            "missing: [record] needs the breakers to record".to_owned(),
            table_offset,
        )
    })?;
    Ok(RecordConfig {
        breakers,
        sample,
        capacity,
    })
}

#[cfg(test)]
mod tests {
    use crate::RegistryConfig;

    fn err(text: &str) -> String {
        RegistryConfig::from_toml(text).unwrap_err().to_string()
    }

    #[test]
    fn a_whole_table_and_its_defaults() {
        let c = RegistryConfig::from_toml(
            "[record]\nbreakers = [\"pay.*\", \"db\"]\nsample = 1\ncapacity = 1_000\n",
        )
        .unwrap();
        let r = c.record().unwrap();
        assert_eq!(r.breakers(), ["pay.*", "db"]);
        assert_eq!((r.sample(), r.capacity()), (1.0, 1000));
        let c = RegistryConfig::from_toml("[record]\nbreakers = [\"db\"]\n").unwrap();
        let r = c.record().unwrap();
        assert_eq!((r.sample(), r.capacity()), (1.0, 1_000_000));
        assert!(RegistryConfig::from_toml("").unwrap().record().is_none());
    }

    #[test]
    fn errors_name_the_key_and_position() {
        assert_eq!(
            err("[record]\nbreakers = [\"db\"]\nsampel = 0.5\n"),
            "3:1: record: sampel: unknown key; expected breakers or sample or capacity \
             (did you mean sample?)"
        );
        assert_eq!(
            err("[record]\nbreakers = []\n"),
            "2:12: record: breakers: must name at least one breaker or \"prefix.*\" pattern"
        );
        assert_eq!(
            err("[record]\nsample = 0.5\n"),
            "1:1: record: breakers: missing: [record] needs the breakers to record"
        );
        assert_eq!(
            err("[record]\nbreakers = [\"db\", \"pay*\"]\n"),
            "2:19: record: breakers[1]: invalid pattern \"pay*\": expected a breaker name or \
             \"prefix.*\" (may hold only A-Z, a-z, 0-9, '_', '.', ':' and '-', got '*' at byte 3)"
        );
        assert!(
            err("[record]\nbreakers = [\"a.*.b\"]\n").starts_with("2:13: record: breakers[0]:")
        );
        assert!(err("[record]\nbreakers = [\".*\"]\n").starts_with("2:13: record: breakers[0]:"));
        assert!(err("[record]\nbreakers = [\"*\"]\n").starts_with("2:13: record: breakers[0]:"));
        assert_eq!(
            err("[record]\nbreakers = [\"db\"]\nsample = 1.5\n"),
            "3:10: record: sample: must be in (0, 1], got 1.5"
        );
        assert_eq!(
            err("[record]\nbreakers = [\"db\"]\nsample = 0.0\n"),
            "3:10: record: sample: must be in (0, 1], got 0"
        );
        assert_eq!(
            err("[record]\nbreakers = [\"db\"]\nsample = \"all\"\n"),
            "3:10: record: sample: must be a number in (0, 1], got the string \"all\""
        );
        assert_eq!(
            err("[record]\nbreakers = [\"db\"]\ncapacity = 0\n"),
            "3:12: record: capacity: must be in 1..=10000000 (MAX_RECORD_CAPACITY), got 0"
        );
        assert_eq!(
            err("[record]\nbreakers = [\"db\"]\ncapacity = 10000001\n"),
            "3:12: record: capacity: must be in 1..=10000000 (MAX_RECORD_CAPACITY), got 10000001"
        );
        assert_eq!(
            err("[record]\nbreakers = [\"db\"]\ncapacity = -5\n"),
            "3:12: record: capacity: must be in 1..=10000000 (MAX_RECORD_CAPACITY), got -5"
        );
        assert_eq!(
            err("[record]\nbreakers = [\"db\"]\ncapacity = 1.5\n"),
            "3:12: record: capacity: must be an integer, got the float 1.5"
        );
        assert_eq!(
            err("record = 1\n"),
            "1:10: record: must be a table, got the integer 1"
        );
    }
}
