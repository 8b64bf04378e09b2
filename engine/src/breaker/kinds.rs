//! Failures counted by kind ([`FailureKinds`]), and the Retry-After floor a failure can set
//! under the open period.
//!
//! # Synchronization
//!
//! - The kinds live in `Extras::failure_kinds`, a `std` mutex (made by the first failure that
//!   names a kind, see lazy.rs) taken once per failure that names a kind, and by readers.
//! - The floor is `Extras::retry_after_until`, a deadline on the breaker's clock raised with
//!   `fetch_max` (`Relaxed`) before the failure is recorded, and read when the breaker enters
//!   `Open` (transition.rs). The failure's own thread reads its store in program order; a trip
//!   made by another thread at the same moment may miss it (a statistic-grade hint, not part
//!   of the state machine).

use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::inner::Inner;
use crate::clock::duration_nanos;

/// How many kinds a breaker counts apart; failures of kinds beyond them count as
/// [`OTHER_KIND`].
pub const MAX_FAILURE_KINDS: usize = 8;

/// The kind failures of kinds beyond [`MAX_FAILURE_KINDS`] count under.
pub const OTHER_KIND: &str = "other";

/// Failures counted by kind since the breaker was created (a reset keeps them), as in
/// [`Metrics::failures_of_kind`](crate::Metrics::failures_of_kind). Failures recorded without
/// a kind are not in it.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, Failure, Policy};
/// let b = Breaker::new("db", Policy::default());
/// b.try_acquire().unwrap().failure_with(Failure::of_kind("timeout"));
/// b.try_acquire().unwrap().failure_with(Failure::of_kind("timeout"));
/// b.try_acquire().unwrap().failure_with(Failure::of_kind("connect"));
/// let kinds: Vec<_> = b.metrics().failures_by_kind().collect();
/// assert_eq!(kinds, [("timeout", 2), ("connect", 1)]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailureKinds {
    counts: [(&'static str, u64); MAX_FAILURE_KINDS],
    len: usize,
}

impl FailureKinds {
    /// Counts one failure of `kind`.
    pub(super) fn add(&mut self, kind: &'static str) {
        let kind = if self.len < MAX_FAILURE_KINDS - 1 || self.position(kind).is_some() {
            kind
        } else {
            OTHER_KIND
        };
        match self.position(kind) {
            Some(i) => self.counts[i].1 = self.counts[i].1.saturating_add(1),
            None => {
                self.counts[self.len] = (kind, 1);
                self.len += 1;
            }
        }
    }

    fn position(&self, kind: &str) -> Option<usize> {
        self.counts[..self.len].iter().position(|&(k, _)| k == kind)
    }

    /// Failures of `kind`.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// assert_eq!(FailureKinds::default().get("timeout"), 0);
    /// ```
    pub fn get(&self, kind: &str) -> u64 {
        self.position(kind).map_or(0, |i| self.counts[i].1)
    }

    /// Every kind counted, in the order first seen.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// assert_eq!(FailureKinds::default().iter().count(), 0);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.counts[..self.len].iter().copied()
    }
}

impl Inner {
    /// Counts a failure of `kind`.
    pub(super) fn count_failure_kind(&self, kind: &'static str) {
        self.extras()
            .failure_kinds
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .add(kind);
    }

    /// The failure kinds counted so far.
    pub(super) fn failure_kinds(&self) -> FailureKinds {
        self.cold
            .extras
            .get()
            .and_then(|e| e.failure_kinds.get())
            .map_or_else(FailureKinds::default, |kinds| {
                *kinds.lock().unwrap_or_else(PoisonError::into_inner)
            })
    }

    /// A failure said the dependency wants no call for `after`: an open period entered before
    /// then lasts at least until then.
    pub(super) fn raise_retry_after_floor(&self, after: Duration) {
        let until = self.cold.clock.now().saturating_add(duration_nanos(after));
        // Relaxed: see the module's notes.
        self.extras()
            .retry_after_until
            .fetch_max(until, Ordering::Relaxed);
    }

    /// The latest Retry-After deadline a failure set (clock ns), 0 if none.
    pub(super) fn retry_after_floor(&self) -> u64 {
        // Relaxed: see the module's notes.
        self.cold
            .extras
            .get()
            .map_or(0, |e| e.retry_after_until.load(Ordering::Relaxed))
    }
}
