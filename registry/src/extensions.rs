//! Per-registry state of integrations: one value of each type, made on first use and kept as
//! long as the registry (an exporter's cached handles, say), so that an integration needs no
//! global map keyed by registry.
//!
//! # Synchronization
//!
//! A `std` mutex around a small map, taken to find or insert a value; the value itself is
//! shared (`Arc`) and synchronizes itself. The initializer runs under the lock, so each type
//! is made once.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::Registry;

/// The values, by type.
#[derive(Default)]
pub(crate) struct Extensions {
    values: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Registry {
    /// This registry's value of type `T`, made by `init` on first use and kept for the
    /// registry's life: where an integration keeps per-registry state (an exporter's metric
    /// handles, an endpoint's applied config versions). Clones of the registry share it.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// let registry = fusebox_registry::Registry::new(fusebox_engine::Policy::default());
    /// struct Scrapes(AtomicU64);
    /// registry.extension(|| Scrapes(AtomicU64::new(0))).0.fetch_add(1, Ordering::Relaxed);
    /// let again = registry.clone().extension(|| Scrapes(AtomicU64::new(0)));
    /// assert_eq!(again.0.load(Ordering::Relaxed), 1);
    /// ```
    pub fn extension<T: Send + Sync + 'static>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        let mut values = self
            .inner
            .extensions
            .values
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let value = values
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(init()))
            .clone();
        drop(values);
        // Inserted under `TypeId::of::<T>()` as an `Arc<T>`: the downcast cannot fail.
        value
            .downcast::<T>()
            .unwrap_or_else(|_| unreachable!("a value stored under another type's id"))
    }
}
