//! Calls refused because a dependency was open, counted per dependent: a table beside the map
//! rather than a word in every entry, since only breakers with dependencies ever have a count
//! (an entry is three words, not four: 10 bytes less per breaker in a large registry).
//!
//! # Synchronization
//!
//! One `Mutex` over the table; refusals are the slow path of a call whose dependency is open.
//! A count belongs to the breaker in the map under its name, so it is changed only under that
//! breaker's map shard lock: a refusal or a restore adds to it holding the shard for reading,
//! and a removal (`remove`, a prune pass) drops it holding the shard for writing, before the
//! name can be made again. Lock order: map shard, then this table. Readers (snapshots, group
//! metrics) take the table alone: a statistic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::lock;

/// Refusals by dependent name (see the module docs). Names with no refusal have no entry.
#[derive(Default)]
pub(crate) struct Refusals {
    counts: Mutex<HashMap<Arc<str>, u64>>,
}

impl Refusals {
    /// Counts one refusal of a call to `name`. The caller holds `name`'s map shard.
    pub(crate) fn add(&self, name: &str) {
        self.update(name, |count| count.saturating_add(1));
    }

    /// Raises `name`'s count to `to` (a restore), as the breaker's own counters are raised.
    /// The caller holds `name`'s map shard.
    pub(crate) fn raise(&self, name: &str, to: u64) {
        if to > 0 {
            self.update(name, |count| count.max(to));
        }
    }

    /// Replaces `name`'s count (0 if it has none) by `f` of it, copying the name only into a
    /// new entry.
    fn update(&self, name: &str, f: impl FnOnce(u64) -> u64) {
        let mut counts = lock(&self.counts);
        match counts.get_mut(name) {
            Some(count) => *count = f(*count),
            None => {
                counts.insert(name.into(), f(0));
            }
        }
    }

    /// Every count, copied out under one lock (a snapshot reads them all; few names have
    /// one).
    pub(crate) fn counts(&self) -> HashMap<Arc<str>, u64> {
        lock(&self.counts).clone()
    }

    /// The sum of the counts of the names `filter` keeps.
    pub(crate) fn sum(&self, filter: impl Fn(&str) -> bool) -> u64 {
        lock(&self.counts)
            .iter()
            .filter(|(name, _)| filter(name))
            .fold(0, |sum, (_, count)| sum.saturating_add(*count))
    }

    /// Drops `name`'s count: its breaker is leaving the map. The caller holds `name`'s map
    /// shard for writing.
    pub(crate) fn forget(&self, name: &str) {
        lock(&self.counts).remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_raise_and_forget_by_name() {
        let r = Refusals::default();
        let of = |name: &str| r.counts().get(name).copied();
        assert_eq!(of("api"), None);
        r.add("api");
        r.add("api");
        r.raise("api", 1);
        assert_eq!(of("api"), Some(2), "a raise never lowers");
        r.raise("web", 5);
        r.raise("cart", 0);
        assert_eq!(of("cart"), None, "a raise to 0 makes no entry");
        assert_eq!(r.sum(|_| true), 7);
        assert_eq!(r.sum(|n| n == "web"), 5);
        r.forget("api");
        assert_eq!((of("api"), r.sum(|_| true)), (None, 5));
    }
}
