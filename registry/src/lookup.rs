//! Finding breakers by name: get, get-or-create, remove, and the listings; the capacity
//! bound on creation.
//!
//! # Synchronization
//!
//! - A lookup takes one map shard's read lock and clones the breaker's handle. Creation takes
//!   the policy table's read lock, then the shard's write lock (through the map's `entry`):
//!   lock order policy table, then map shards, so the policy a new breaker starts with cannot
//!   change while it is inserted.
//! - `len` is a `Relaxed` counter: it only bounds the map (the shard locks publish the map's
//!   contents). A creator reserves its place before inserting ([`Reservation`]) and gives it
//!   back if the insertion does not happen, so `len` never drifts from the map.
//! - The listings iterate the map shard by shard, holding each shard's read lock while they
//!   copy out of it, never while the caller uses the copy.

use std::sync::atomic::{AtomicUsize, Ordering};

use fusebox_engine::Breaker;
use fusebox_policies::MAX_NAME_BYTES;

use crate::name::check_name;
use crate::slot::Slot;
use crate::table::PolicyTable;
use crate::{Registry, RegistryError, read};

impl Registry {
    /// The breaker named `name`, created with its inherited policy if it does not exist yet.
    /// Concurrent first calls for one name all get the same breaker.
    ///
    /// # Errors
    ///
    /// [`RegistryError::InvalidName`] for a name [`fusebox_policies::validate_name`] rejects;
    /// [`RegistryError::Full`] if the breaker would be created beyond the capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// let b = registry.breaker("payments.eu")?;
    /// assert_eq!(b.name(), "payments.eu");
    /// assert!(registry.breaker("payments..eu").is_err());
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    #[inline]
    pub fn breaker(&self, name: &str) -> Result<Breaker, RegistryError> {
        match self.get(name) {
            Some(b) => Ok(b),
            None => self.create(name),
        }
    }

    /// The breaker named `name`, if it exists. Never creates one.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// assert!(registry.get("db").is_none());
    /// registry.breaker("db")?;
    /// assert!(registry.get("db").is_some());
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    #[inline]
    pub fn get(&self, name: &str) -> Option<Breaker> {
        if name.len() > MAX_NAME_BYTES {
            // Never stored; and hashing an oversized name from untrusted input is wasted work.
            return None;
        }
        let entry = self.inner.map.get(name)?;
        entry.key().touch();
        Some(entry.key().breaker.clone())
    }

    /// Whether a breaker named `name` exists. Unlike [`get`](Self::get) this does not count
    /// as a use for [`prune_idle`](Self::prune_idle).
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// assert!(!registry.contains("db"));
    /// ```
    pub fn contains(&self, name: &str) -> bool {
        self.inner.map.contains_key(name)
    }

    /// Removes the breaker named `name` and returns it. Whoever still holds it keeps a working
    /// breaker that the registry no longer knows; the next [`breaker`](Self::breaker) call for
    /// the name creates a fresh one. Policies and dependencies declared for the name stay.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// let old = registry.breaker("db")?;
    /// assert!(registry.remove("db").is_some());
    /// assert!(!Breaker::ptr_eq(&old, &registry.breaker("db")?));
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn remove(&self, name: &str) -> Option<Breaker> {
        // The refusals go with the entry, under its shard's write lock (see refusals.rs).
        let (slot, ()) = self.inner.map.remove_if(name, |slot, ()| {
            self.inner.refusals.forget(slot.name());
            true
        })?;
        // Relaxed: `len` only bounds the map; the map's own locks publish its contents.
        self.inner.len.fetch_sub(1, Ordering::Relaxed);
        Some(slot.breaker)
    }

    /// How many breakers the registry holds.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.breaker("a")?;
    /// assert_eq!(registry.len(), 1);
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn len(&self) -> usize {
        // Relaxed: a count; exact once creators are quiet.
        self.inner.len.load(Ordering::Relaxed)
    }

    /// Whether the registry holds no breaker.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// assert!(fusebox_registry::Registry::new(Policy::default()).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the registry makes its breakers striped ([`RegistryBuilder::striped`]).
    ///
    /// [`RegistryBuilder::striped`]: crate::RegistryBuilder::striped
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// assert!(!fusebox_registry::Registry::new(Policy::default()).is_striped());
    /// ```
    pub fn is_striped(&self) -> bool {
        self.inner.striped
    }

    /// Whether the registry makes its breakers compact ([`RegistryBuilder::compact`]).
    ///
    /// [`RegistryBuilder::compact`]: crate::RegistryBuilder::compact
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// assert!(!fusebox_registry::Registry::new(Policy::default()).is_compact());
    /// ```
    pub fn is_compact(&self) -> bool {
        self.inner.compact
    }

    /// The capacity limit, if one was set.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// assert_eq!(fusebox_registry::Registry::new(Policy::default()).capacity(), None);
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        (self.inner.capacity != usize::MAX).then_some(self.inner.capacity)
    }

    /// Every breaker's name, sorted.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.breaker("b")?;
    /// registry.breaker("a")?;
    /// assert_eq!(registry.names(), ["a", "b"]);
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .inner
            .map
            .iter()
            .map(|e| e.key().name().to_owned())
            .collect();
        names.sort_unstable();
        names
    }

    /// Every breaker, sorted by name: for status pages and health checks. The list is a
    /// copy: no lock is held while you read it.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// registry.breaker("db")?.force_open();
    /// for b in registry.breakers() {
    ///     println!("{}: {}", b.name(), b.state());
    /// }
    /// assert_eq!(registry.breakers()[0].state(), State::ForcedOpen);
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn breakers(&self) -> Vec<Breaker> {
        self.matching(|_| true)
    }

    #[cold]
    fn create(&self, name: &str) -> Result<Breaker, RegistryError> {
        check_name(name)?;
        if self.len() >= self.inner.capacity {
            // Full: fail before allocating anything, unless another thread just created it.
            return self.get(name).ok_or(RegistryError::Full {
                capacity: self.inner.capacity,
            });
        }
        let table = read(&self.inner.policies);
        self.get_or_create_in(&table, name)
    }

    /// Get-or-create under the policy table lock (read or write), so the new breaker starts
    /// with the policy the table resolves to while no one can change it.
    pub(crate) fn get_or_create_in(
        &self,
        table: &PolicyTable,
        name: &str,
    ) -> Result<Breaker, RegistryError> {
        let existing = || {
            self.inner.map.get(name).map(|entry| {
                entry.key().touch();
                entry.key().breaker.clone()
            })
        };
        if let Some(breaker) = existing() {
            return Ok(breaker);
        }
        let Some(reserved) = Reservation::take(&self.inner.len, self.inner.capacity) else {
            // Full, unless a creator racing this one just inserted the name.
            return existing().ok_or(RegistryError::Full {
                capacity: self.inner.capacity,
            });
        };
        // Made before its entry, which is keyed by the breaker itself (see slot.rs). The clock
        // is the caller's code: if it panics, `reserved` gives the place back.
        let policy = table.policy_for(name).clone();
        let mut builder = self
            .inner
            .clock
            .on_clock(Breaker::builder(name, policy))
            .feed(&self.inner.feed);
        if self.inner.striped {
            builder = builder.striped();
        }
        if self.inner.compact {
            builder = builder.compact();
        }
        let breaker = builder.build();
        let now = self.inner.clock.now_nanos();
        match self.inner.map.entry(Slot::new(breaker.clone(), now)) {
            // Another creator inserted the name since the lookup above: theirs is the
            // breaker, and this one, never handed out, is dropped with the entry's key.
            dashmap::Entry::Occupied(e) => {
                e.key().touch();
                Ok(e.key().breaker.clone())
            }
            dashmap::Entry::Vacant(v) => {
                self.inner.recording.on_created(name, &breaker);
                v.insert(());
                reserved.keep();
                Ok(breaker)
            }
        }
    }

    /// The breakers whose names pass `filter`, sorted by name.
    pub(crate) fn matching(&self, filter: impl Fn(&str) -> bool) -> Vec<Breaker> {
        let mut v: Vec<(NameKey, Breaker)> = self
            .inner
            .map
            .iter()
            .filter(|e| filter(e.key().name()))
            .map(|e| (NameKey::of(e.key().name()), e.key().breaker.clone()))
            .collect();
        // Most comparisons end within the keys, without reading the names.
        v.sort_unstable_by(|(ka, a), (kb, b)| ka.cmp(kb).then_with(|| a.name().cmp(b.name())));
        v.into_iter().map(|(_, b)| b).collect()
    }
}

/// The first 32 bytes of a name, zero-padded, as big-endian words. Where two keys differ they
/// order as their names do (the padding sorts a name before a longer one it begins); where
/// they are equal, the names decide.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct NameKey([u64; 4]);

impl NameKey {
    fn of(name: &str) -> NameKey {
        let mut bytes = [0u8; 32];
        for (to, from) in bytes.iter_mut().zip(name.as_bytes()) {
            *to = *from;
        }
        let mut words = [0u64; 4];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
            *word = u64::from_be_bytes(chunk.try_into().unwrap_or_default());
        }
        NameKey(words)
    }
}

/// A place reserved in `len` for a breaker about to be inserted; given back when dropped
/// unless [`keep`](Self::keep) is called, so a panic between the two leaks no capacity.
struct Reservation<'a>(&'a AtomicUsize);

impl<'a> Reservation<'a> {
    /// Reserves a place if fewer than `capacity` are taken.
    fn take(len: &'a AtomicUsize, capacity: usize) -> Option<Self> {
        // Relaxed: `len` only bounds the map; the map's own locks publish its contents.
        len.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n < capacity).then_some(n + 1)
        })
        .ok()
        .map(|_| Reservation(len))
    }

    /// The breaker was inserted: the place stays taken.
    fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        // Relaxed: as in `take`.
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use fusebox_engine::Policy;

    use crate::Registry;

    #[test]
    fn breakers_are_sorted_by_name_past_the_keys() {
        let long = "svc.a-very-long-service-name-with-parts-";
        let mut names = vec![
            "a".to_owned(),
            "a.b".to_owned(),
            "a-".to_owned(),
            "A".to_owned(),
            "Z.z".to_owned(),
            "ab".to_owned(),
            "a:".to_owned(),
            "0".to_owned(),
            "_".to_owned(),
        ];
        // Names alike in their first 32 bytes and more.
        for i in [10, 2, 100, 1, 0] {
            names.push(format!("{long}{i}"));
            names.push(format!("{long}{i}.x"));
        }
        names.push(long[..32].to_owned());
        names.push(long[..31].to_owned());
        names.push(long[..33].to_owned());
        let registry = Registry::new(Policy::default());
        for name in names.iter().rev() {
            registry.breaker(name).unwrap();
        }
        names.sort();
        let listed: Vec<_> = registry
            .breakers()
            .iter()
            .map(|b| b.name().to_owned())
            .collect();
        assert_eq!(listed, names);
        assert_eq!(registry.names(), names);
    }
}
