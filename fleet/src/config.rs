//! [`FleetConfig`]: which Redis, which fleet (namespace) and which instance; and the Redis
//! channel and key names a namespace uses.

use crate::FleetError;

/// Where a fleet's state lives and who this instance is.
///
/// Instances with the same `url` and `namespace` are one fleet; `instance` must differ
/// between them (a host name and a process id, say: [`FleetConfig::default_instance`]).
///
/// ```
/// use fusebox_fleet::FleetConfig;
/// let config = FleetConfig {
///     url: "redis://127.0.0.1:6379".into(),
///     namespace: "checkout".into(),
///     instance: FleetConfig::default_instance(),
/// };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetConfig {
    /// The Redis URL, `redis://[user:password@]host[:port][/db]`.
    pub url: String,
    /// The fleet's name: its channels and keys are `fusebox:{namespace}:...`.
    pub namespace: String,
    /// This instance's id, unique in the fleet.
    pub instance: String,
}

/// The longest namespace or instance id, in bytes.
const MAX_ID_BYTES: usize = 128;

impl FleetConfig {
    /// `{host}-{pid}`: the host name (from `HOSTNAME`, else `/etc/hostname`, else `host`) and
    /// this process's id.
    ///
    /// ```
    /// let id = fusebox_fleet::FleetConfig::default_instance();
    /// assert!(id.ends_with(&format!("-{}", std::process::id())));
    /// ```
    pub fn default_instance() -> String {
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty() && id_problem(h).is_none())
            .unwrap_or_else(|| "host".to_owned());
        format!("{host}-{}", std::process::id())
    }

    /// Checks the namespace and the instance id: 1 to 128 bytes of `A-Z a-z 0-9 _ . : -`.
    ///
    /// # Errors
    ///
    /// [`FleetError::Config`] naming the field and the rule.
    ///
    /// ```
    /// let mut config = fusebox_fleet::FleetConfig {
    ///     url: "redis://127.0.0.1".into(),
    ///     namespace: "a b".into(),
    ///     instance: "i-1".into(),
    /// };
    /// assert_eq!(
    ///     config.validate().unwrap_err().to_string(),
    ///     "namespace \"a b\": must hold only A-Z a-z 0-9 _ . : -, found ' '"
    /// );
    /// ```
    pub fn validate(&self) -> Result<(), FleetError> {
        for (field, value) in [("namespace", &self.namespace), ("instance", &self.instance)] {
            if let Some(reason) = id_problem(value) {
                return Err(FleetError::Config(format!("{field} {value:?}: {reason}")));
            }
        }
        Ok(())
    }
}

fn id_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("must not be empty".to_owned());
    }
    if id.len() > MAX_ID_BYTES {
        return Some(format!(
            "must be at most {MAX_ID_BYTES} bytes, got {}",
            id.len()
        ));
    }
    id.chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')))
        .map(|c| format!("must hold only A-Z a-z 0-9 _ . : -, found {c:?}"))
}

/// The channel and key names of one namespace.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(namespace: &str) -> Self {
        Keys {
            prefix: format!("fusebox:{namespace}"),
        }
    }

    /// Where transitions are published.
    pub(crate) fn transitions(&self) -> String {
        format!("{}:transitions", self.prefix)
    }

    /// Where fleet-scoped overrides are announced.
    pub(crate) fn overrides(&self) -> String {
        format!("{}:overrides", self.prefix)
    }

    /// The stored override for a breaker (`group` false) or a group.
    pub(crate) fn override_key(&self, name: &str, group: bool) -> String {
        let kind = if group { "group" } else { "breaker" };
        format!("{}:override:{kind}:{name}", self.prefix)
    }

    /// The pattern matching every stored override.
    pub(crate) fn override_pattern(&self) -> String {
        format!("{}:override:*", self.prefix)
    }

    /// The sorted set of instances that have `breaker` open, scored by when their open
    /// period ends (Unix ms).
    pub(crate) fn open_set(&self, breaker: &str) -> String {
        format!("{}:open:{breaker}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_live_under_the_namespace() {
        let k = Keys::new("shop");
        assert_eq!(k.transitions(), "fusebox:shop:transitions");
        assert_eq!(k.overrides(), "fusebox:shop:overrides");
        assert_eq!(
            k.override_key("pay", true),
            "fusebox:shop:override:group:pay"
        );
        assert_eq!(k.override_pattern(), "fusebox:shop:override:*");
        assert_eq!(k.open_set("pay.stripe"), "fusebox:shop:open:pay.stripe");
    }

    #[test]
    fn ids_are_checked() {
        let c = |ns: &str, inst: &str| FleetConfig {
            url: String::new(),
            namespace: ns.into(),
            instance: inst.into(),
        };
        assert!(c("shop", "web-1:8080").validate().is_ok());
        assert!(
            c("", "x")
                .validate()
                .unwrap_err()
                .to_string()
                .contains("namespace")
        );
        assert!(
            c("x", &"i".repeat(129))
                .validate()
                .unwrap_err()
                .to_string()
                .contains("instance")
        );
        assert!(id_problem(&FleetConfig::default_instance()).is_none());
    }
}
