//! [`LazyBox`]: a value allocated by its first user, behind one pointer: the per-thread words
//! of a lane counter (counter.rs), and the parts of a breaker most never use (its extras, and
//! in them the latency histograms and the failure kinds).
//!
//! `std::sync::OnceLock<Box<T>>` would do the same in 16 bytes, and a reader would load its
//! state before its pointer; this is the pointer alone, 8 bytes, tested as it is loaded.
//!
//! # Synchronization
//!
//! The pointer is null until a value is published, then never changes until the drop. The
//! first users race to publish with a `compare_exchange` (`Release` on success, publishing the
//! value they built; `Acquire` on failure, reading the winner's); the losers drop their own.
//! A reader `Acquire`-loads the pointer, pairing with that `Release`, so it sees the value
//! whole. `std`'s atomic, not loom's: under loom the lanes are never made (no thread has one)
//! and the extras are made before the breaker is shared; the latency histograms and failure
//! kinds are statistics outside every protocol the models check.

use std::sync::atomic::{AtomicPtr, Ordering};

/// A `T` allocated on first use (see the module's notes).
pub(crate) struct LazyBox<T> {
    ptr: AtomicPtr<T>,
}

impl<T> LazyBox<T> {
    /// Empty: nothing allocated.
    pub(crate) const fn new() -> Self {
        LazyBox {
            ptr: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The value, if a user has made it.
    #[inline(always)]
    pub(crate) fn get(&self) -> Option<&T> {
        // Acquire: pairs with the Release exchange that published the value.
        let ptr = self.ptr.load(Ordering::Acquire);
        // SAFETY: non-null only once `get_or_init` published a live allocation, which only
        // `drop` frees, so it lives as long as `&self`; it is only ever shared.
        unsafe { ptr.as_ref() }
    }

    /// The value, made now by `make` if no user has made it yet. Racing first users may each
    /// call `make`; one value wins and the others are dropped.
    pub(crate) fn get_or_init(&self, make: impl FnOnce() -> T) -> &T {
        if let Some(value) = self.get() {
            return value;
        }
        let fresh = Box::into_raw(Box::new(make()));
        // Release: publishes the value built above. Acquire on failure: the winner's value.
        match self.ptr.compare_exchange(
            std::ptr::null_mut(),
            fresh,
            Ordering::Release,
            Ordering::Acquire,
        ) {
            // SAFETY: `fresh` is now this box's, live until `drop`.
            Ok(_) => unsafe { &*fresh },
            Err(winner) => {
                // SAFETY: `fresh` was never shared; `winner` is live until `drop`.
                unsafe {
                    drop(Box::from_raw(fresh));
                    &*winner
                }
            }
        }
    }
}

impl<T> Default for LazyBox<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Drop for LazyBox<T> {
    fn drop(&mut self) {
        let ptr = *self.ptr.get_mut();
        if !ptr.is_null() {
            // SAFETY: allocated by `get_or_init` with `Box`, and no reference to it outlives
            // `&mut self`.
            drop(unsafe { Box::from_raw(ptr) });
        }
    }
}

// SAFETY: a `LazyBox<T>` owns its `T` as a `Box<T>` does, so it may move to another thread
// when `T` may.
unsafe impl<T: Send> Send for LazyBox<T> {}
// SAFETY: a shared `LazyBox<T>` hands out `&T` on any thread, and a `T` made on one thread may
// be dropped on another (as `OnceLock<T>` requires).
unsafe impl<T: Send + Sync> Sync for LazyBox<T> {}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::LazyBox;

    #[test]
    fn the_first_user_makes_the_value_and_later_ones_share_it() {
        let lazy = LazyBox::new();
        assert!(lazy.get().is_none());
        assert_eq!(*lazy.get_or_init(|| 7), 7);
        assert_eq!(*lazy.get_or_init(|| 8), 7);
        assert_eq!(lazy.get(), Some(&7));
    }

    #[test]
    fn racing_first_users_agree_on_one_value_and_nothing_leaks() {
        let threads = if cfg!(miri) { 2 } else { 4 };
        for _ in 0..if cfg!(miri) { 3 } else { 100 } {
            let lazy = LazyBox::<String>::new();
            let seen: Vec<String> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|i| {
                        let lazy = &lazy;
                        s.spawn(move || lazy.get_or_init(|| format!("made by {i}")).clone())
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert!(seen.iter().all(|v| v == &seen[0]));
            assert_eq!(lazy.get(), Some(&seen[0]));
        }
    }
}
