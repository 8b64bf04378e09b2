//! The registry config file: `[defaults]` and `[breakers."<name>"]` sections of policy patches.

use std::collections::BTreeMap;
use std::fmt;

use toml::de::DeValue;

use crate::file::{self, Context, Source, Walker};
use crate::operator::{self, NotifyConfig, TableAt};
use crate::record::{self, RecordConfig};
use crate::{Policy, PolicyError, PolicyPatch};

/// The longest breaker name, in bytes.
pub const MAX_NAME_BYTES: usize = 128;

/// Checks a breaker name: 1 to [`MAX_NAME_BYTES`] bytes of `A-Z a-z 0-9 _ . : -`, with dots
/// only between non-empty parts (no leading, trailing or doubled dot), since dots make the
/// inheritance hierarchy (`stripe.charges` inherits from `stripe`).
///
/// # Errors
///
/// A [`NameError`] saying which rule the name breaks.
///
/// # Examples
///
/// ```
/// use fusebox_policies::validate_name;
/// assert!(validate_name("stripe.charges:eu-west_1").is_ok());
/// assert_eq!(
///     validate_name("stripe..charges").unwrap_err().to_string(),
///     "invalid breaker name \"stripe..charges\": must not contain \"..\""
/// );
/// ```
pub fn validate_name(name: &str) -> Result<(), NameError> {
    let fail = |reason: String| {
        // A name may come from untrusted input: keep at most `MAX_NAME_BYTES` of it.
        let mut end = name.len().min(MAX_NAME_BYTES);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let mut shown = name[..end].to_owned();
        if end < name.len() {
            shown.push('…');
        }
        Err(NameError {
            name: shown,
            reason,
        })
    };
    if name.is_empty() {
        return fail("must not be empty".to_owned());
    }
    if name.len() > MAX_NAME_BYTES {
        return fail(format!(
            "must be at most {MAX_NAME_BYTES} bytes, got {}",
            name.len()
        ));
    }
    if let Some((i, c)) = name
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')))
    {
        return fail(format!(
            "may hold only A-Z, a-z, 0-9, '_', '.', ':' and '-', got {c:?} at byte {i}"
        ));
    }
    if name.starts_with('.') {
        return fail("must not start with \".\"".to_owned());
    }
    if name.ends_with('.') {
        return fail("must not end with \".\"".to_owned());
    }
    if name.contains("..") {
        return fail("must not contain \"..\"".to_owned());
    }
    Ok(())
}

/// A breaker name that [`validate_name`] refused.
///
/// # Examples
///
/// ```
/// let err = fusebox_policies::validate_name("").unwrap_err();
/// assert_eq!(err.name(), "");
/// assert_eq!(err.reason(), "must not be empty");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError {
    name: String,
    reason: String,
}

impl NameError {
    /// The name refused, cut to [`MAX_NAME_BYTES`] (and an ellipsis) if longer.
    ///
    /// ```
    /// assert_eq!(fusebox_policies::validate_name(".a").unwrap_err().name(), ".a");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rule it breaks.
    ///
    /// ```
    /// let err = fusebox_policies::validate_name("a.").unwrap_err();
    /// assert_eq!(err.reason(), "must not end with \".\"");
    /// ```
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid breaker name {:?}: {}", self.name, self.reason)
    }
}

impl std::error::Error for NameError {}

/// One `[breakers."<name>"]` section of a registry config file.
///
/// # Examples
///
/// ```
/// let config = fusebox_policies::RegistryConfig::from_toml(
///     "[breakers.\"stripe\"]\nmin_calls = 5\n",
/// )?;
/// let section = &config.breakers()[0];
/// assert_eq!((section.name.as_str(), section.line), ("stripe", 1));
/// assert!(!section.patch.is_empty());
/// # Ok::<(), fusebox_policies::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BreakerConfig {
    /// The breaker's name, valid by [`validate_name`].
    pub name: String,
    /// What the section changes over the policy it inherits.
    pub patch: PolicyPatch,
    /// The 1-based line of the section's name in the file.
    pub line: usize,
}

/// A parsed and fully validated registry config file.
///
/// The file has an optional `[defaults]` section, a patch over [`Policy::default`] that gives
/// the registry's default policy, and any number of `[breakers."<name>"]` sections, each a
/// patch over the policy the breaker inherits: that of its longest dotted prefix listed in the
/// file (`stripe.charges.eu` ← `stripe.charges` ← `stripe`), else the defaults. A section may
/// start over from a preset with `preset = "..."`. Quote names that hold dots:
/// `[breakers.stripe.charges]` is a section `stripe` with a key `charges`, and is refused.
///
/// [`from_toml`](Self::from_toml) resolves every section, so a file that parses is a file whose
/// every policy is valid: a registry can apply all of it or refuse all of it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fusebox_policies::RegistryConfig;
///
/// let config = RegistryConfig::from_toml(r#"
/// [defaults]
/// open_timeout = "10s"
///
/// [breakers."stripe"]
/// preset = "payment-provider"
///
/// [breakers."stripe.charges"]
/// half_open = { permits = 5 }
/// "#)?;
/// assert_eq!(config.defaults().open_timeout(), Duration::from_secs(10));
/// let policies = config.resolve()?;
/// let charges = &policies["stripe.charges"];
/// assert_eq!(charges.half_open_permits(), 5);
/// assert_eq!(charges.success_threshold(), 3); // from the preset, through `stripe`
/// # Ok::<(), fusebox_policies::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryConfig {
    /// Whether the file has a `[defaults]` section.
    has_defaults: bool,
    defaults_patch: PolicyPatch,
    defaults: Policy,
    breakers: Vec<BreakerConfig>,
    /// `[health] critical`.
    critical: Vec<String>,
    /// `[notify]`.
    notify: Option<NotifyConfig>,
    /// `[record]`.
    record: Option<RecordConfig>,
}

const TOP_LEVEL_KEYS: &[&str] = &["defaults", "breakers", "health", "notify", "record"];

impl RegistryConfig {
    /// Parses and validates a registry config file. An empty file is valid: default policy,
    /// no breakers.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] with the section, field, reason and position of the first problem:
    /// invalid TOML, an unknown key, an invalid breaker name, or a policy that is invalid once
    /// its section is applied over what it inherits.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = fusebox_policies::RegistryConfig::from_toml(
    ///     "[breakers.\"db\"]\nhalf_open = { permits = 2, successes = 3 }\n",
    /// )
    /// .unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "2:40: breakers.\"db\": half_open.successes: must be in 1..=2 (half_open.permits), got 3"
    /// );
    /// assert_eq!(err.breaker(), Some("db"));
    /// ```
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config = Self::from_toml_unresolved(text)?;
        config.resolve()?;
        Ok(config)
    }

    /// Parses a registry config file and validates everything but the breaker sections'
    /// resolution: the TOML, the keys and their types, the names, presets and `[defaults]`.
    /// For a registry that resolves the sections over parents and a default of its own (a
    /// section valid over one default may be invalid over another: `min_calls = 150` needs a
    /// window of at least 150 calls).
    ///
    /// # Errors
    ///
    /// As for [`from_toml`](Self::from_toml), except a section that is invalid only once it
    /// is applied over what it inherits.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_policies::{Policy, RegistryConfig, Window};
    /// let text = "[breakers.\"db\"]\nmin_calls = 150\n";
    /// assert!(RegistryConfig::from_toml(text).is_err()); // over the default 100-call window
    /// let config = RegistryConfig::from_toml_unresolved(text)?;
    /// let wide = Policy::builder().window(Window::count(200)).build()?;
    /// assert_eq!(config.breakers()[0].patch.apply(&wide)?.min_calls(), 150);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_toml_unresolved(text: &str) -> Result<Self, ConfigError> {
        let src = Source::new(text);
        let doc = file::parse_document(&src).map_err(|e| {
            let (line, column) = e.position;
            let mut path = e.path;
            let section = match path.first().map(String::as_str) {
                Some("defaults") => {
                    path.remove(0);
                    Section::Defaults
                }
                Some("breakers") if path.len() >= 2 => {
                    let name = path.remove(1);
                    path.remove(0);
                    Section::Breaker(name)
                }
                _ => Section::File,
            };
            ConfigError {
                section,
                field: file::join_path(&path),
                reason: e.reason,
                position: Some((line, column)),
            }
        })?;
        let walker = Walker { src: &src };
        let mut has_defaults = false;
        let mut defaults_patch = PolicyPatch::default();
        let mut breakers = Vec::new();
        let mut critical = Vec::new();
        let mut notify = None;
        let mut record = None;
        for (key, value) in file::entries(doc.get_ref()) {
            let key_pos = src.position(key.span().start);
            let value_pos = src.position(value.span().start);
            match (key.get_ref().as_ref(), value.get_ref()) {
                ("defaults", DeValue::Table(t)) => {
                    has_defaults = true;
                    defaults_patch = walker
                        .patch(t, Some(value_pos), Context::Policy)
                        .map_err(ConfigError::in_defaults_from)?;
                }
                ("breakers", DeValue::Table(t)) => {
                    for (name_key, section) in file::entries(t) {
                        let name = name_key.get_ref().as_ref();
                        let (line, column) = src.position(name_key.span().start);
                        validate_name(name).map_err(|e| ConfigError {
                            section: Section::Breaker(e.name().to_owned()),
                            field: String::new(),
                            reason: format!("invalid breaker name: {}", e.reason()),
                            position: Some((line, column)),
                        })?;
                        let DeValue::Table(section_table) = section.get_ref() else {
                            return Err(ConfigError {
                                section: Section::Breaker(name.to_owned()),
                                field: String::new(),
                                reason: format!(
                                    "must be a table of policy keys, got {}",
                                    file::describe(section.get_ref())
                                ),
                                position: Some(src.position(section.span().start)),
                            });
                        };
                        let section_pos = src.position(section.span().start);
                        let patch = walker
                            .patch(section_table, Some(section_pos), Context::Breaker(name))
                            .map_err(|e| ConfigError::from(e).in_breaker(name))?;
                        breakers.push(BreakerConfig {
                            name: name.to_owned(),
                            patch,
                            line,
                        });
                    }
                }
                ("health", DeValue::Table(t)) => {
                    let at = TableAt {
                        src: &src,
                        name: "health",
                    };
                    critical = operator::parse_health(&at, t)?;
                }
                ("notify", DeValue::Table(t)) => {
                    let at = TableAt {
                        src: &src,
                        name: "notify",
                    };
                    notify = Some(operator::parse_notify(&at, t, value.span().start)?);
                }
                ("record", DeValue::Table(t)) => {
                    let at = TableAt {
                        src: &src,
                        name: "record",
                    };
                    record = Some(record::parse_record(&at, t, value.span().start)?);
                }
                (name @ ("defaults" | "breakers" | "health" | "notify" | "record"), other) => {
                    return Err(ConfigError {
                        section: Section::File,
                        field: name.to_owned(),
                        reason: format!("must be a table, got {}", file::describe(other)),
                        position: Some(value_pos),
                    });
                }
                (name, _) => {
                    let mut reason =
                        "unknown key; expected defaults, breakers, health, notify or record"
                            .to_owned();
                    if let Some(close) = file::suggest(name, TOP_LEVEL_KEYS) {
                        reason.push_str(&format!(" (did you mean {close}?)"));
                    } else if file::POLICY_KEYS.contains(&name) {
                        reason.push_str(
                            " (policy keys go under [defaults] or [breakers.\"<name>\"])",
                        );
                    }
                    return Err(ConfigError {
                        section: Section::File,
                        field: file::quote_key(name),
                        reason,
                        position: Some(key_pos),
                    });
                }
            }
        }
        breakers.sort_by_key(|b| b.line);
        let defaults = defaults_patch
            .apply(&Policy::default())
            .map_err(ConfigError::in_defaults_from)?;
        Ok(RegistryConfig {
            has_defaults,
            defaults_patch,
            defaults,
            breakers,
            critical,
            notify,
            record,
        })
    }

    /// The `[health] critical` list: the breakers an operator endpoint's health check
    /// watches (it fails while one of them is open). Empty without a `[health]` table.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = fusebox_policies::RegistryConfig::from_toml(
    ///     "[health]\ncritical = [\"pay.stripe\"]\n",
    /// )?;
    /// assert_eq!(config.critical(), ["pay.stripe"]);
    /// # Ok::<(), fusebox_policies::ConfigError>(())
    /// ```
    #[must_use]
    pub fn critical(&self) -> &[String] {
        &self.critical
    }

    /// The `[notify]` table, if the file has one: where an operator endpoint announces
    /// transitions.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = fusebox_policies::RegistryConfig::from_toml("")?;
    /// assert!(config.notify().is_none());
    /// # Ok::<(), fusebox_policies::ConfigError>(())
    /// ```
    #[must_use]
    pub fn notify(&self) -> Option<&NotifyConfig> {
        self.notify.as_ref()
    }

    /// The `[record]` table, if the file has one: the breakers whose calls a registry
    /// records for replay (see [`RecordConfig`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let config = fusebox_policies::RegistryConfig::from_toml("[record]\nbreakers = [\"db\"]\n")?;
    /// assert!(config.record().unwrap().matches("db"));
    /// # Ok::<(), fusebox_policies::ConfigError>(())
    /// ```
    #[must_use]
    pub fn record(&self) -> Option<&RecordConfig> {
        self.record.as_ref()
    }

    /// The registry's default policy: `[defaults]` applied over [`Policy::default`].
    ///
    /// # Examples
    ///
    /// ```
    /// let config = fusebox_policies::RegistryConfig::from_toml("")?;
    /// assert_eq!(config.defaults(), &fusebox_policies::Policy::default());
    /// # Ok::<(), fusebox_policies::ConfigError>(())
    /// ```
    #[must_use]
    pub fn defaults(&self) -> &Policy {
        &self.defaults
    }

    /// Whether the file has a `[defaults]` section (even an empty one). A registry keeps its
    /// own default policy when applying a file without one.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_policies::RegistryConfig;
    /// assert!(RegistryConfig::from_toml("[defaults]\n")?.has_defaults());
    /// assert!(!RegistryConfig::from_toml("[breakers.\"db\"]\nmin_calls = 3\n")?.has_defaults());
    /// # Ok::<(), fusebox_policies::ConfigError>(())
    /// ```
    #[must_use]
    pub fn has_defaults(&self) -> bool {
        self.has_defaults
    }

    /// The `[defaults]` section as written, for a registry that applies it over a default of
    /// its own rather than [`Policy::default`].
    ///
    /// # Examples
    ///
    /// ```
    /// let config = fusebox_policies::RegistryConfig::from_toml("[defaults]\njitter = 0.1")?;
    /// assert!(!config.defaults_patch().is_empty());
    /// # Ok::<(), fusebox_policies::ConfigError>(())
    /// ```
    #[must_use]
    pub fn defaults_patch(&self) -> &PolicyPatch {
        &self.defaults_patch
    }

    /// The breaker sections, in file order.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = fusebox_policies::RegistryConfig::from_toml(
    ///     "[breakers.b]\n[breakers.a]\n",
    /// )?;
    /// let names: Vec<&str> = config.breakers().iter().map(|b| b.name.as_str()).collect();
    /// assert_eq!(names, ["b", "a"]);
    /// # Ok::<(), fusebox_policies::ConfigError>(())
    /// ```
    #[must_use]
    pub fn breakers(&self) -> &[BreakerConfig] {
        &self.breakers
    }

    /// The section for `name`, if the file has one.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = fusebox_policies::RegistryConfig::from_toml("[breakers.\"a.b\"]")?;
    /// assert_eq!(config.breaker("a.b").map(|b| b.line), Some(1));
    /// assert!(config.breaker("a").is_none());
    /// # Ok::<(), fusebox_policies::ConfigError>(())
    /// ```
    #[must_use]
    pub fn breaker(&self, name: &str) -> Option<&BreakerConfig> {
        self.breakers.iter().find(|b| b.name == name)
    }

    /// The policy of every listed breaker: its patch applied over its longest dotted prefix
    /// listed in the file, else over the defaults (rule 15 in `fusebox_engine::docs::rules`).
    ///
    /// # Errors
    ///
    /// The first breaker, in name order, whose policy is invalid. A config returned by
    /// [`from_toml`](Self::from_toml) has already passed this check.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = fusebox_policies::RegistryConfig::from_toml(r#"
    /// [defaults]
    /// min_calls = 10
    /// [breakers."stripe"]
    /// jitter = 0.3
    /// [breakers."stripe.charges.eu"]
    /// min_calls = 4
    /// "#)?;
    /// let policies = config.resolve()?;
    /// assert_eq!(policies["stripe"].min_calls(), 10);
    /// // `stripe.charges` is not listed, so `stripe.charges.eu` inherits from `stripe`.
    /// assert_eq!(policies["stripe.charges.eu"].jitter(), 0.3);
    /// assert_eq!(policies["stripe.charges.eu"].min_calls(), 4);
    /// # Ok::<(), fusebox_policies::ConfigError>(())
    /// ```
    pub fn resolve(&self) -> Result<BTreeMap<String, Policy>, ConfigError> {
        let sections: BTreeMap<&str, &BreakerConfig> =
            self.breakers.iter().map(|b| (b.name.as_str(), b)).collect();
        let mut resolved: BTreeMap<String, Policy> = BTreeMap::new();
        // A dotted prefix sorts before every name it prefixes, so parents resolve first.
        for (name, section) in sections {
            let parent = name
                .rmatch_indices('.')
                .map(|(i, _)| &name[..i])
                .find_map(|prefix| resolved.get(prefix))
                .unwrap_or(&self.defaults);
            let policy = section
                .patch
                .apply(parent)
                .map_err(|e| ConfigError::from(e).in_breaker(name))?;
            resolved.insert(name.to_owned(), policy);
        }
        Ok(resolved)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Section {
    File,
    Defaults,
    Breaker(String),
    /// `[health]`, `[notify]` or `[record]`.
    Operator(&'static str),
}

/// Why a registry config file was refused: the section, the field, the reason and where.
///
/// `Display` reads `line:col: section: field: reason`, leaving out what does not apply, e.g.
/// `7:24: breakers."stripe.charges": half_open.successes: must be in 1..=5 (half_open.permits), got 8`.
///
/// # Examples
///
/// ```
/// let err = fusebox_policies::RegistryConfig::from_toml(
///     "[breakers.\"stripe.charges\"]\njitter = 1.5\n",
/// )
/// .unwrap_err();
/// assert_eq!(err.breaker(), Some("stripe.charges"));
/// assert_eq!(err.field(), "jitter");
/// assert_eq!(err.reason(), "must be in [0, 1), got 1.5");
/// assert_eq!(err.position(), Some((2, 10)));
/// assert_eq!(
///     err.to_string(),
///     "2:10: breakers.\"stripe.charges\": jitter: must be in [0, 1), got 1.5"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    section: Section,
    field: String,
    reason: String,
    position: Option<(usize, usize)>,
}

impl ConfigError {
    /// An error on `field` (a dotted path, or empty for a whole section) outside any section.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = fusebox_policies::ConfigError::new("defaults", "must be a table");
    /// assert_eq!(e.to_string(), "defaults: must be a table");
    /// ```
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            section: Section::File,
            field: field.into(),
            reason: reason.into(),
            position: None,
        }
    }

    /// The same error, inside the section of breaker `name`.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = fusebox_policies::ConfigError::new("", "registry is full").in_breaker("a.b");
    /// assert_eq!(e.to_string(), "breakers.\"a.b\": registry is full");
    /// ```
    #[must_use]
    pub fn in_breaker(mut self, name: &str) -> Self {
        self.section = Section::Breaker(name.to_owned());
        self
    }

    /// The same error, inside the `[defaults]` section.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = fusebox_policies::ConfigError::new("jitter", "bad").in_defaults();
    /// assert_eq!(e.to_string(), "defaults: jitter: bad");
    /// assert!(e.is_in_defaults());
    /// ```
    #[must_use]
    pub fn in_defaults(mut self) -> Self {
        self.section = Section::Defaults;
        self
    }

    /// The same error, inside the operator table `[table]` (`health`, `notify` or `record`).
    pub(crate) fn in_operator_table(mut self, table: &'static str) -> Self {
        self.section = Section::Operator(table);
        self
    }

    fn in_defaults_from(e: PolicyError) -> Self {
        ConfigError::from(e).in_defaults()
    }

    /// The same error at a 1-based line and column of the file.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = fusebox_policies::ConfigError::new("x", "bad").at(2, 3);
    /// assert_eq!(e.to_string(), "2:3: x: bad");
    /// ```
    #[must_use]
    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.position = Some((line, column));
        self
    }

    /// The breaker whose section is at fault, if any.
    ///
    /// ```
    /// assert_eq!(fusebox_policies::ConfigError::new("x", "bad").breaker(), None);
    /// ```
    #[must_use]
    pub fn breaker(&self) -> Option<&str> {
        match &self.section {
            Section::Breaker(name) => Some(name),
            _ => None,
        }
    }

    /// Whether the error is in the `[defaults]` section.
    ///
    /// ```
    /// assert!(!fusebox_policies::ConfigError::new("x", "bad").is_in_defaults());
    /// ```
    #[must_use]
    pub fn is_in_defaults(&self) -> bool {
        self.section == Section::Defaults
    }

    /// The dotted path of the field at fault within its section (a policy field such as
    /// `half_open.successes`), or a top-level key; empty when the section itself is at fault.
    ///
    /// ```
    /// assert_eq!(fusebox_policies::ConfigError::new("a.b", "bad").field(), "a.b");
    /// ```
    #[must_use]
    pub fn field(&self) -> &str {
        &self.field
    }

    /// Why, with the accepted range or forms.
    ///
    /// ```
    /// assert_eq!(fusebox_policies::ConfigError::new("a", "bad").reason(), "bad");
    /// ```
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The 1-based `(line, column)` in the file, if known.
    ///
    /// ```
    /// assert_eq!(fusebox_policies::ConfigError::new("a", "bad").at(4, 1).position(), Some((4, 1)));
    /// ```
    #[must_use]
    pub fn position(&self) -> Option<(usize, usize)> {
        self.position
    }

    /// The other fields of the same section whose values set the range this error's field was
    /// checked against, as [`PolicyError::limited_by`] says; empty for a fixed range.
    ///
    /// ```
    /// let err = fusebox_policies::RegistryConfig::from_toml(
    ///     "[breakers.\"db\"]\nhalf_open = { permits = 2, successes = 3 }\n",
    /// )
    /// .unwrap_err();
    /// assert_eq!(err.limited_by(), ["half_open.permits"]);
    /// ```
    #[must_use]
    pub fn limited_by(&self) -> &'static [&'static str] {
        crate::limited_by(&self.field)
    }
}

impl From<PolicyError> for ConfigError {
    /// A policy error outside any section, keeping its field, reason and position.
    fn from(e: PolicyError) -> Self {
        ConfigError {
            section: Section::File,
            field: e.field().to_owned(),
            reason: e.reason().to_owned(),
            position: e.position(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((line, column)) = self.position {
            write!(f, "{line}:{column}: ")?;
        }
        match &self.section {
            Section::File => {}
            Section::Defaults => f.write_str("defaults: ")?,
            Section::Breaker(name) => write!(f, "breakers.{name:?}: ")?,
            Section::Operator(table) => write!(f, "{table}: ")?,
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.reason)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rules() {
        for ok in ["a", "stripe.charges", "a:b-c_d.E9", &"x".repeat(128)] {
            assert_eq!(validate_name(ok), Ok(()), "{ok}");
        }
        let cases = [
            ("", "must not be empty"),
            (&"x".repeat(129), "must be at most 128 bytes, got 129"),
            (
                "a b",
                "may hold only A-Z, a-z, 0-9, '_', '.', ':' and '-', got ' ' at byte 1",
            ),
            (
                "é",
                "may hold only A-Z, a-z, 0-9, '_', '.', ':' and '-', got 'é' at byte 0",
            ),
            (".a", "must not start with \".\""),
            ("a.", "must not end with \".\""),
            ("a..b", "must not contain \"..\""),
        ];
        for (name, reason) in cases {
            assert_eq!(
                validate_name(name).unwrap_err().reason(),
                reason,
                "{name:?}"
            );
        }
    }
}
