//! The dependency graph between breaker names: acyclic by construction, with each name's
//! transitive dependencies precomputed so that a call walks a flat list.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::RegistryError;

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
