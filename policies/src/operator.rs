//! The registry config file's operator tables: `[health]` (the breakers a health check watches)
//! and `[notify]` (where transitions are announced). The registry itself ignores both; an
//! operator endpoint acts on them. (`[record]`, which the registry applies, is in record.rs.)

use toml::de::{DeTable, DeValue};

use crate::config::{ConfigError, validate_name};
use crate::file::{self, Source};

/// Every state's label, as a `[notify] on` list names them.
///
/// ```
/// assert!(fusebox_policies::STATE_LABELS.contains(&"forced_open"));
/// ```
pub const STATE_LABELS: &[&str] = &[
    "closed",
    "open",
    "half_open",
    "recovering",
    "forced_open",
    "disabled",
    "metrics_only",
];

/// The states `[notify]` announces when its `on` key is left out.
///
/// ```
/// assert_eq!(fusebox_policies::DEFAULT_NOTIFY_ON, ["open", "forced_open"]);
/// ```
pub const DEFAULT_NOTIFY_ON: &[&str] = &["open", "forced_open"];

/// The `[notify]` table: POST each transition into one of the `on` states to `webhook`.
///
/// ```
/// let config = fusebox_policies::RegistryConfig::from_toml(
///     "[notify]\nwebhook = \"http://127.0.0.1:9000/hook\"\non = [\"open\"]\n",
/// )?;
/// let notify = config.notify().unwrap();
/// assert_eq!(notify.webhook, "http://127.0.0.1:9000/hook");
/// assert!(notify.announces("open"));
/// assert!(!notify.announces("closed"));
/// # Ok::<(), fusebox_policies::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    /// The `http://` URL each matching transition is POSTed to, as JSON.
    pub webhook: String,
    /// The states whose entry is announced, as [`STATE_LABELS`] spells them.
    pub on: Vec<String>,
}

impl NotifyConfig {
    /// Whether a transition into the state labelled `state` is announced.
    ///
    /// ```
    /// let notify = fusebox_policies::NotifyConfig {
    ///     webhook: "http://127.0.0.1:9/".into(),
    ///     on: vec!["open".into()],
    /// };
    /// assert!(notify.announces("open"));
    /// ```
    #[must_use]
    pub fn announces(&self, state: &str) -> bool {
        self.on.iter().any(|s| s == state)
    }

    /// The table as it would be written in a config file.
    ///
    /// ```
    /// let notify = fusebox_policies::NotifyConfig {
    ///     webhook: "http://127.0.0.1:9/".into(),
    ///     on: vec!["open".into()],
    /// };
    /// assert_eq!(notify.to_toml(), "webhook = \"http://127.0.0.1:9/\"\non = [\"open\"]\n");
    /// ```
    #[must_use]
    pub fn to_toml(&self) -> String {
        format!("webhook = {:?}\non = {:?}\n", self.webhook, self.on)
    }
}

/// Where a table of the file is, for its errors.
pub(crate) struct TableAt<'s, 'a> {
    pub(crate) src: &'s Source<'a>,
    pub(crate) name: &'static str,
}

impl TableAt<'_, '_> {
    pub(crate) fn error(&self, field: &str, reason: String, offset: usize) -> ConfigError {
        let (line, column) = self.src.position(offset);
        ConfigError::new(field, reason)
            .in_operator_table(self.name)
            .at(line, column)
    }

    pub(crate) fn unknown(&self, key: &str, known: &[&str], offset: usize) -> ConfigError {
        let mut reason = format!("unknown key; expected {}", known.join(" or "));
        if let Some(close) = file::suggest(key, known) {
            reason.push_str(&format!(" (did you mean {close}?)"));
        }
        self.error(&file::quote_key(key), reason, offset)
    }

    /// An array of strings, each checked by `check`.
    pub(crate) fn strings(
        &self,
        field: &str,
        value: &toml::Spanned<DeValue<'_>>,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> Result<Vec<String>, ConfigError> {
        let DeValue::Array(items) = value.get_ref() else {
            let got = file::describe(value.get_ref());
            return Err(self.error(
                field,
                format!("must be an array of strings, got {got}"),
                value.span().start,
            ));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let at = item.span().start;
            let DeValue::String(s) = item.get_ref() else {
                let got = file::describe(item.get_ref());
                return Err(self.error(
                    &format!("{field}[{i}]"),
                    format!("must be a string, got {got}"),
                    at,
                ));
            };
            check(s).map_err(|reason| self.error(&format!("{field}[{i}]"), reason, at))?;
            out.push(s.to_string());
        }
        Ok(out)
    }
}

/// `[health] critical = ["name", ...]`: breaker names, each valid.
pub(crate) fn parse_health(
    at: &TableAt<'_, '_>,
    table: &DeTable<'_>,
) -> Result<Vec<String>, ConfigError> {
    let mut critical = Vec::new();
    for (key, value) in file::entries(table) {
        match key.get_ref().as_ref() {
            "critical" => {
                critical = at.strings("critical", value, |name| {
                    validate_name(name).map_err(|e| e.to_string())
                })?;
            }
            other => return Err(at.unknown(other, &["critical"], key.span().start)),
        }
    }
    Ok(critical)
}

/// `[notify] webhook = "http://...", on = ["open", ...]`.
pub(crate) fn parse_notify(
    at: &TableAt<'_, '_>,
    table: &DeTable<'_>,
    table_offset: usize,
) -> Result<NotifyConfig, ConfigError> {
    let mut webhook = None;
    let mut on = None;
    for (key, value) in file::entries(table) {
        match key.get_ref().as_ref() {
            "webhook" => {
                let DeValue::String(url) = value.get_ref() else {
                    let got = file::describe(value.get_ref());
                    return Err(at.error(
                        "webhook",
                        format!("must be a string, got {got}"),
                        value.span().start,
                    ));
                };
                check_webhook(url).map_err(|r| at.error("webhook", r, value.span().start))?;
                webhook = Some(url.to_string());
            }
            "on" => {
                on = Some(at.strings("on", value, |state| {
                    if STATE_LABELS.contains(&state) {
                        Ok(())
                    } else {
                        Err(format!(
                            "unknown state {state:?}; expected one of {}",
                            STATE_LABELS.join(", ")
                        ))
                    }
                })?);
            }
            other => return Err(at.unknown(other, &["webhook", "on"], key.span().start)),
        }
    }
    let webhook = webhook.ok_or_else(|| {
        at.error(
            "webhook",
            "missing: [notify] needs the URL to POST to".to_owned(),
            table_offset,
        )
    })?;
    Ok(NotifyConfig {
        webhook,
        on: on.unwrap_or_else(|| DEFAULT_NOTIFY_ON.iter().map(|s| (*s).to_owned()).collect()),
    })
}

/// A webhook is `http://host[:port][/path]`: TLS is left to a relay in front of it.
fn check_webhook(url: &str) -> Result<(), String> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(if url.starts_with("https://") {
            format!(
                "{url:?}: https is not supported; point it at an http relay that forwards over TLS"
            )
        } else {
            format!("{url:?}: must start with http://")
        });
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!("{url:?}: must name a host after http://"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::RegistryConfig;

    fn err(text: &str) -> String {
        RegistryConfig::from_toml(text).unwrap_err().to_string()
    }

    #[test]
    fn health_lists_valid_names() {
        let c =
            RegistryConfig::from_toml("[health]\ncritical = [\"pay.stripe\", \"db\"]\n").unwrap();
        assert_eq!(c.critical(), ["pay.stripe", "db"]);
        assert_eq!(
            err("[health]\ncritical = [\"ok\", \"a..b\"]\n"),
            "2:19: health: critical[1]: invalid breaker name \"a..b\": must not contain \"..\""
        );
        assert_eq!(
            err("[health]\ncritical = \"db\"\n"),
            "2:12: health: critical: must be an array of strings, got the string \"db\""
        );
        assert_eq!(
            err("[health]\ncriticals = []\n"),
            "2:1: health: criticals: unknown key; expected critical (did you mean critical?)"
        );
        assert_eq!(
            err("health = 3\n"),
            "1:10: health: must be a table, got the integer 3"
        );
    }

    #[test]
    fn notify_needs_an_http_webhook_and_known_states() {
        let c =
            RegistryConfig::from_toml("[notify]\nwebhook = \"http://127.0.0.1:1/x\"\n").unwrap();
        let n = c.notify().unwrap();
        assert_eq!(n.on, ["open", "forced_open"]);
        assert_eq!(
            err("[notify]\non = [\"open\"]\n"),
            "1:1: notify: webhook: missing: [notify] needs the URL to POST to"
        );
        assert!(err("[notify]\nwebhook = \"https://h/\"\n").contains("https is not supported"));
        assert!(err("[notify]\nwebhook = \"ftp://h/\"\n").contains("must start with http://"));
        assert!(err("[notify]\nwebhook = \"http:///x\"\n").contains("must name a host"));
        assert_eq!(
            err("[notify]\nwebhook = \"http://h\"\non = [\"opened\"]\n"),
            "3:7: notify: on[0]: unknown state \"opened\"; expected one of closed, open, \
             half_open, recovering, forced_open, disabled, metrics_only"
        );
    }
}
