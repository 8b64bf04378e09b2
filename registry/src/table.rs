//! The policy table: the registry default and the policies set by name, and rule 15's
//! resolution of a name to the policy it runs with.
//!
//! # Synchronization
//!
//! None of its own: the registry keeps the table in an `RwLock` (see `policy.rs`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use fusebox_engine::{Chaos, Policy};
use fusebox_policies::{PolicyError, PolicyPatch};
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

/// A policy set by name: a whole policy set in code, or a config-file section kept as the
/// patch it is, with the policy it resolves to over what it inherits now.
#[derive(Debug, Clone)]
pub(crate) struct Own {
    /// The policy in force for the name.
    pub(crate) policy: Policy,
    /// For a config-file section: its keys, applied over the inherited policy whenever that
    /// changes. `None` for a policy set in code.
    pub(crate) patch: Option<PolicyPatch>,
}

impl Own {
    pub(crate) fn policy(policy: Policy) -> Self {
        Own {
            policy,
            patch: None,
        }
    }
}

/// A config-file section that no longer resolves: its name and the policy error.
#[derive(Debug)]
pub(crate) struct SectionError {
    pub(crate) name: Arc<str>,
    pub(crate) error: PolicyError,
}

/// Chaos an operator switched off for one name ([`Registry::chaos_off`]): the chaos switched
/// off, and the policy the name runs with while the table still sets that chaos.
///
/// [`Registry::chaos_off`]: crate::Registry::chaos_off
#[derive(Debug, Clone)]
pub(crate) struct ChaosOff {
    pub(crate) chaos: Chaos,
    pub(crate) policy: Policy,
}

#[derive(Debug, Clone)]
pub(crate) struct PolicyTable {
    /// The default in force: `code_default`, or the `[defaults]` of the config file applied
    /// last, if it had that section.
    pub(crate) default: Policy,
    /// The default set in code: at construction or by `set_default_policy`.
    pub(crate) code_default: Policy,
    pub(crate) own: HashMap<Arc<str>, Own>,
    /// Chaos switched off by name (chaos.rs): kept while the name's configured policy has
    /// that very chaos, dropped once it has other chaos or none.
    pub(crate) chaos_off: HashMap<Arc<str>, ChaosOff>,
}

impl PolicyTable {
    pub(crate) fn new(default: Policy) -> Self {
        PolicyTable {
            code_default: default.clone(),
            default,
            own: HashMap::new(),
            chaos_off: HashMap::new(),
        }
    }

    /// The policy `name` runs with and where it comes from (rule 15), without the chaos an
    /// operator switched off for it.
    pub(crate) fn resolve(&self, name: &str) -> (&Policy, PolicySource) {
        let (policy, source) = self.configured(name);
        if self.chaos_off.is_empty() {
            return (policy, source);
        }
        match self.chaos_off.get(name) {
            Some(off) => (&off.policy, source),
            None => (policy, source),
        }
    }

    /// The policy the table sets for `name` and where it comes from (rule 15), chaos
    /// included.
    pub(crate) fn configured(&self, name: &str) -> (&Policy, PolicySource) {
        if self.own.is_empty() {
            return (&self.default, PolicySource::Default);
        }
        for (i, prefix) in self_and_ancestors(name).enumerate() {
            if let Some(own) = self.own.get(prefix) {
                let source = if i == 0 {
                    PolicySource::Own
                } else {
                    PolicySource::Inherited(prefix.to_owned())
                };
                return (&own.policy, source);
            }
        }
        (&self.default, PolicySource::Default)
    }

    /// The policy `name` runs with.
    #[inline]
    pub(crate) fn policy_for(&self, name: &str) -> &Policy {
        self.resolve(name).0
    }

    /// The policy `name` inherits: that of its longest proper dotted prefix with a policy of
    /// its own, else the default.
    fn inherited(&self, name: &str) -> &Policy {
        self_and_ancestors(name)
            .skip(1)
            .find_map(|prefix| self.own.get(prefix))
            .map_or(&self.default, |own| &own.policy)
    }

    /// Re-applies every config-file section over what it inherits now, parents before
    /// children, after the default or a policy by name changed. On an error the table is
    /// left part-way: callers work on a copy and keep it only on success.
    pub(crate) fn resolve_sections(&mut self) -> Result<(), SectionError> {
        let mut sections: Vec<Arc<str>> = self
            .own
            .iter()
            .filter(|(_, own)| own.patch.is_some())
            .map(|(name, _)| name.clone())
            .collect();
        // A dotted prefix sorts before every name it prefixes, so parents resolve first.
        sections.sort_unstable();
        for name in sections {
            let base = self.inherited(&name);
            let Some(patch) = self.own.get(&name).and_then(|own| own.patch.as_ref()) else {
                continue;
            };
            let policy = patch.apply(base).map_err(|error| SectionError {
                name: name.clone(),
                error,
            })?;
            if let Some(own) = self.own.get_mut(&name) {
                own.policy = policy;
            }
        }
        self.refresh_chaos_off();
        Ok(())
    }

    /// Keeps each chaos switched off only while the name's configured policy still has it,
    /// with the rest of that policy as it is now.
    pub(crate) fn refresh_chaos_off(&mut self) {
        let mut chaos_off = std::mem::take(&mut self.chaos_off);
        chaos_off.retain(|name, off| {
            let configured = self.configured(name).0;
            if configured.chaos() != Some(&off.chaos) {
                return false;
            }
            off.policy = configured.without_chaos();
            true
        });
        self.chaos_off = chaos_off;
    }

    /// The policies set by name, sorted.
    pub(crate) fn own_sorted(&self) -> BTreeMap<String, Policy> {
        self.own
            .iter()
            .map(|(k, v)| (k.to_string(), v.policy.clone()))
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
        t.own.insert("stripe".into(), Own::policy(p(2)));
        t.own.insert("stripe.charges".into(), Own::policy(p(3)));
        t.own
            .insert("stripe.charges.eu.fr".into(), Own::policy(p(4)));
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
