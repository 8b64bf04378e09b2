//! Dependencies between breakers: the registry's `depend`/`undepend`/`check_dependencies`,
//! and the graph they act on, acyclic by construction, with each name's transitive
//! dependencies precomputed so that a call walks a flat list.
//!
//! # Synchronization
//!
//! - The graph is immutable and swapped whole through an `ArcSwap`: a check loads it
//!   lock-free and walks a consistent graph, whatever changes meanwhile.
//! - `deps_writer` (a `Mutex`) serializes changes, each of which builds a new graph from the
//!   current one; it is taken alone, or after the policy table by `restore` (lock order:
//!   policy table, then `deps_writer`).
//! - `has_deps` lets a check skip the graph when no dependency was declared: stored
//!   `Release` after the graph it describes, loaded `Acquire`.
//! - A refusal counts against the dependent in the registry's refusals table (refusals.rs)
//!   and marks the dependent's entry as looked up, holding its map shard's read lock; each
//!   dependency's entry is read under its own shard's read lock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use std::sync::atomic::Ordering;

use fusebox_engine::Rejected;

use crate::name::check_name;
use crate::{Registry, RegistryError, lock};

/// An immutable dependency graph; changes build a new one (it is swapped in whole).
#[derive(Debug, Default, Clone)]
pub(crate) struct DepGraph {
    /// dependent → its direct dependencies.
    edges: BTreeMap<Arc<str>, BTreeSet<Arc<str>>>,
    /// dependent → every breaker it depends on, directly or not, nearest first.
    closure: HashMap<Arc<str>, Box<[Arc<str>]>>,
}

impl DepGraph {
    /// A graph of `edges`, or the cycle they contain.
    pub(crate) fn from_edges<'a>(
        edges: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, RegistryError> {
        let mut g = DepGraph::default();
        for (dependent, dependency) in edges {
            g.check_edge(dependent, dependency)?;
            g.edges
                .entry(Arc::from(dependent))
                .or_default()
                .insert(Arc::from(dependency));
        }
        g.compute_closure();
        Ok(g)
    }

    /// This graph plus `dependent → dependency`, or the cycle it would close.
    pub(crate) fn with_edge(
        &self,
        dependent: &str,
        dependency: &str,
    ) -> Result<Self, RegistryError> {
        self.check_edge(dependent, dependency)?;
        let mut g = self.clone();
        g.edges
            .entry(Arc::from(dependent))
            .or_default()
            .insert(Arc::from(dependency));
        g.compute_closure();
        Ok(g)
    }

    /// This graph without `dependent → dependency`, if it had it.
    pub(crate) fn without_edge(&self, dependent: &str, dependency: &str) -> Option<Self> {
        let mut g = self.clone();
        let deps = g.edges.get_mut(dependent)?;
        if !deps.remove(dependency) {
            return None;
        }
        if deps.is_empty() {
            g.edges.remove(dependent);
        }
        g.compute_closure();
        Some(g)
    }

    /// Every breaker `name` depends on, directly or not, nearest first.
    #[inline]
    pub(crate) fn all_dependencies(&self, name: &str) -> &[Arc<str>] {
        self.closure.get(name).map_or(&[], |v| v)
    }

    /// The direct dependencies of `name`.
    pub(crate) fn direct(&self, name: &str) -> impl Iterator<Item = &str> {
        self.edges.get(name).into_iter().flatten().map(|d| &**d)
    }

    /// Every edge, as (dependent, dependency), sorted.
    pub(crate) fn edges(&self) -> impl Iterator<Item = (&str, &str)> {
        self.edges
            .iter()
            .flat_map(|(a, bs)| bs.iter().map(move |b| (&**a, &**b)))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.edges.is_empty()
    }

    /// Rejects an edge that would close a cycle: `dependency` already reaches `dependent`.
    fn check_edge(&self, dependent: &str, dependency: &str) -> Result<(), RegistryError> {
        if let Some(path) = self.path(dependency, dependent) {
            let mut cycle = Vec::with_capacity(path.len() + 1);
            cycle.push(dependent.to_owned());
            cycle.extend(path);
            return Err(RegistryError::DependencyCycle { cycle });
        }
        Ok(())
    }

    /// A path of names from `from` to `to` along dependencies (`[from]` when equal).
    fn path(&self, from: &str, to: &str) -> Option<Vec<String>> {
        // Depth-first with an explicit stack; `parent` rebuilds the path.
        let mut parent: HashMap<&str, &str> = HashMap::new();
        let mut stack = vec![from];
        let mut seen = BTreeSet::from([from]);
        while let Some(n) = stack.pop() {
            if n == to {
                let mut path = vec![n.to_owned()];
                let mut cur = n;
                while let Some(&p) = parent.get(cur) {
                    path.push(p.to_owned());
                    cur = p;
                }
                path.reverse();
                return Some(path);
            }
            for d in self.direct(n) {
                if seen.insert(d) {
                    parent.insert(d, n);
                    stack.push(d);
                }
            }
        }
        None
    }

    fn compute_closure(&mut self) {
        let mut closure = HashMap::with_capacity(self.edges.len());
        for start in self.edges.keys() {
            // Breadth-first, so the nearest dependencies are checked first.
            let mut seen: BTreeSet<&str> = BTreeSet::new();
            let mut order: Vec<Arc<str>> = Vec::new();
            let mut queue = std::collections::VecDeque::from([start.clone()]);
            while let Some(n) = queue.pop_front() {
                for d in self.edges.get(&n).into_iter().flatten() {
                    if seen.insert(d) {
                        order.push(d.clone());
                        queue.push_back(d.clone());
                    }
                }
            }
            closure.insert(start.clone(), order.into_boxed_slice());
        }
        self.closure = closure;
    }
}

impl Registry {
    /// Declares that `dependent` depends on `dependency`: while `dependency` (or anything it
    /// depends on in turn) is `Open` within its open period, or `ForcedOpen`,
    /// [`Registry::call`] on `dependent` is rejected as a call to `dependency` would be:
    /// [`RegistryCallError::Rejected`](crate::RegistryCallError::Rejected) with the rejection
    /// that names `dependency`.
    /// Neither breaker needs to exist yet; a dependency that does not exist is not open.
    ///
    /// Only the registry's own calling methods check dependencies: [`Breaker::call`] on the
    /// handle returned by [`breaker`](Self::breaker) bypasses them.
    ///
    /// [`Breaker::call`]: fusebox_engine::Breaker::call
    ///
    /// # Errors
    ///
    /// [`RegistryError::InvalidName`], or [`RegistryError::DependencyCycle`] if the
    /// declaration would close a cycle (a self-dependency included); nothing changes then.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// use fusebox_registry::RegistryError;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.depend("checkout", "payments")?;
    /// registry.depend("payments", "db")?;
    /// let err = registry.depend("db", "checkout").unwrap_err();
    /// assert!(matches!(err, RegistryError::DependencyCycle { .. }));
    /// assert_eq!(err.to_string(), "dependency cycle: db -> checkout -> payments -> db");
    /// # Ok::<(), RegistryError>(())
    /// ```
    pub fn depend(&self, dependent: &str, dependency: &str) -> Result<(), RegistryError> {
        check_name(dependent)?;
        check_name(dependency)?;
        let _writer = lock(&self.inner.deps_writer);
        let next = self.inner.deps.load().with_edge(dependent, dependency)?;
        self.set_deps(next);
        Ok(())
    }

    /// Withdraws a dependency; returns whether it was declared.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.depend("api", "db")?;
    /// assert!(registry.undepend("api", "db"));
    /// assert!(!registry.undepend("api", "db"));
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn undepend(&self, dependent: &str, dependency: &str) -> bool {
        let _writer = lock(&self.inner.deps_writer);
        match self.inner.deps.load().without_edge(dependent, dependency) {
            Some(next) => {
                self.set_deps(next);
                true
            }
            None => false,
        }
    }

    /// The direct dependencies of `name`, sorted.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.depend("api", "db")?;
    /// registry.depend("api", "cache")?;
    /// assert_eq!(registry.dependencies("api"), ["cache", "db"]);
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn dependencies(&self, name: &str) -> Vec<String> {
        self.inner
            .deps
            .load()
            .direct(name)
            .map(str::to_owned)
            .collect()
    }

    /// Checks the dependencies of `name`, directly or through other dependencies, nearest
    /// first. A refusal is counted in the breaker's
    /// [`BreakerSnapshot::dependency_rejected`](crate::BreakerSnapshot::dependency_rejected) if it exists.
    ///
    /// # Errors
    ///
    /// The [`Rejected`] that the first dependency found `Open` (with time left in its open
    /// period) or `ForcedOpen` would give a call of its own
    /// ([`Breaker::open_rejection`]): [`Rejected::breaker`] names the dependency,
    /// [`Rejected::reason`] is [`RejectReason::Open`] or [`RejectReason::ForcedOpen`], and
    /// [`Rejected::retry_after`] is the time left in its open period.
    ///
    /// [`Breaker::open_rejection`]: fusebox_engine::Breaker::open_rejection
    /// [`RejectReason::Open`]: fusebox_engine::RejectReason::Open
    /// [`RejectReason::ForcedOpen`]: fusebox_engine::RejectReason::ForcedOpen
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.depend("api", "db")?;
    /// assert!(registry.check_dependencies("api").is_ok());
    /// registry.breaker("db")?.force_open();
    /// let rejected = registry.check_dependencies("api").unwrap_err();
    /// assert_eq!((rejected.breaker(), rejected.reason()), ("db", RejectReason::ForcedOpen));
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    #[inline]
    pub fn check_dependencies(&self, name: &str) -> Result<(), Rejected> {
        // Acquire: pairs with the Release in `set_deps`, so a caller that saw `depend` return
        // sees its graph below.
        if !self.inner.has_deps.load(Ordering::Acquire) {
            return Ok(());
        }
        self.check_dependencies_in(name)
    }

    /// The walk, kept out of line so that registries without dependencies inline only the
    /// flag check.
    #[inline(never)]
    fn check_dependencies_in(&self, name: &str) -> Result<(), Rejected> {
        let graph = self.inner.deps.load();
        for dep in graph.all_dependencies(name) {
            // An `Open` dependency whose period is over gives none: it no longer holds its
            // dependents back, and its own next acquire probes it.
            let rejected = self
                .inner
                .map
                .get(&**dep)
                .and_then(|slot| slot.key().breaker.open_rejection());
            if let Some(rejected) = rejected {
                if let Some(slot) = self.inner.map.get(name) {
                    // A refused call is a use of the dependent, as prune passes see uses.
                    slot.key().touch();
                    self.inner.refusals.add(name);
                }
                return Err(rejected);
            }
        }
        Ok(())
    }

    /// Swaps in a new dependency graph. Callers hold `deps_writer`.
    pub(crate) fn set_deps(&self, graph: DepGraph) {
        let any = !graph.is_empty();
        self.inner.deps.store(Arc::new(graph));
        // Release: publishes the graph stored above to `check_dependencies`.
        self.inner.has_deps.store(any, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_dependency_is_a_cycle() {
        let err = DepGraph::default().with_edge("a", "a").unwrap_err();
        assert_eq!(
            err,
            RegistryError::DependencyCycle {
                cycle: vec!["a".into(), "a".into()]
            }
        );
    }

    #[test]
    fn long_cycle_is_named_in_order() {
        let g = DepGraph::from_edges([("a", "b"), ("b", "c"), ("c", "d")]).unwrap();
        let err = g.with_edge("d", "a").unwrap_err();
        assert_eq!(
            err,
            RegistryError::DependencyCycle {
                cycle: ["d", "a", "b", "c", "d"].map(String::from).to_vec()
            }
        );
    }

    #[test]
    fn diamonds_are_not_cycles_and_closure_is_nearest_first() {
        let g = DepGraph::from_edges([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]).unwrap();
        let all: Vec<&str> = g.all_dependencies("a").iter().map(|s| &**s).collect();
        assert_eq!(all, ["b", "c", "d"]);
        assert!(g.all_dependencies("d").is_empty());
    }

    #[test]
    fn removing_an_edge_updates_the_closure() {
        let g = DepGraph::from_edges([("a", "b"), ("b", "c")]).unwrap();
        let g = g.without_edge("b", "c").unwrap();
        assert_eq!(g.all_dependencies("a").len(), 1);
        assert!(g.without_edge("x", "y").is_none());
        // The removed edge no longer blocks the reverse one.
        assert!(g.with_edge("c", "a").is_ok());
    }
}
