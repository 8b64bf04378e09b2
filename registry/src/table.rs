//! The policy table: the registry default and the policies set by name, and rule 15's
//! resolution of a name to the policy it runs with.
//!
//! # Synchronization
//!
//! None of its own: the registry keeps the table in an `RwLock` (see `policy.rs`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use fusebox_engine::Policy;
use serde::{Deserialize, Serialize};

use crate::name::self_and_ancestors;

/// Where a breaker's policy comes from.
///
/// Serialized as `"own"`, `{"inherited": "<prefix>"}` or `"default"`.
///
/// # Examples
///
/// ```
/// use fusebox_engine::Policy;
/// use fusebox_registry::{PolicySource, Registry};
///
/// let registry = Registry::new(Policy::default());
/// registry.set_policy("stripe", Policy::builder().min_calls(5).build()?)?;
/// assert_eq!(registry.policy_source("stripe.eu")?, PolicySource::Inherited("stripe".into()));
/// assert_eq!(registry.policy_source("stripe")?, PolicySource::Own);
/// assert_eq!(registry.policy_source("paypal")?, PolicySource::Default);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicySource {
    /// Set for this very name.
    Own,
    /// Inherited from the longest dotted prefix that has a policy of its own.
    Inherited(String),
    /// The registry default: neither the name nor any prefix of it has a policy.
    Default,
}

#[derive(Debug, Clone)]
pub(crate) struct PolicyTable {
    pub(crate) default: Policy,
    pub(crate) own: HashMap<Arc<str>, Policy>,
}

impl PolicyTable {
    pub(crate) fn new(default: Policy) -> Self {
        PolicyTable {
            default,
            own: HashMap::new(),
        }
    }

    /// The policy `name` runs with and where it comes from (rule 15).
    pub(crate) fn resolve(&self, name: &str) -> (&Policy, PolicySource) {
        if self.own.is_empty() {
            return (&self.default, PolicySource::Default);
        }
        for (i, prefix) in self_and_ancestors(name).enumerate() {
            if let Some(p) = self.own.get(prefix) {
                let source = if i == 0 {
                    PolicySource::Own
                } else {
                    PolicySource::Inherited(prefix.to_owned())
                };
                return (p, source);
            }
        }
        (&self.default, PolicySource::Default)
    }

    /// The policy `name` runs with.
    #[inline]
    pub(crate) fn policy_for(&self, name: &str) -> &Policy {
        self.resolve(name).0
    }

    /// The policies set by name, sorted.
    pub(crate) fn own_sorted(&self) -> BTreeMap<String, Policy> {
        self.own
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(min_calls: u32) -> Policy {
        Policy::builder().min_calls(min_calls).build().unwrap()
    }

    #[test]
    fn resolution_table() {
        let mut t = PolicyTable::new(p(1));
        t.own.insert("stripe".into(), p(2));
        t.own.insert("stripe.charges".into(), p(3));
        t.own.insert("stripe.charges.eu.fr".into(), p(4));
        let cases: &[(&str, u32, PolicySource)] = &[
            ("stripe", 2, PolicySource::Own),
            (
                "stripe.refunds",
                2,
                PolicySource::Inherited("stripe".into()),
            ),
            ("stripe.charges", 3, PolicySource::Own),
            (
                "stripe.charges.eu",
                3,
                PolicySource::Inherited("stripe.charges".into()),
            ),
            ("stripe.charges.eu.fr", 4, PolicySource::Own),
            (
                "stripe.charges.eu.fr.paris",
                4,
                PolicySource::Inherited("stripe.charges.eu.fr".into()),
            ),
            ("stripes", 1, PolicySource::Default),
            ("stripe-eu", 1, PolicySource::Default),
            ("paypal.stripe", 1, PolicySource::Default),
        ];
        for (name, min_calls, source) in cases {
            let (policy, got) = t.resolve(name);
            assert_eq!(policy.min_calls(), *min_calls, "{name}");
            assert_eq!(&got, source, "{name}");
        }
    }
}
