//! A map entry: a breaker's handle and what the registry tracks about its use for prune
//! passes, three words. The entry is the map's key: it hashes and compares as its breaker's
//! name, which the breaker already holds, so the map keeps no copy of the name of its own (a
//! 16-byte name cost 32 bytes of heap and a 16-byte key). Dependency refusals, which few
//! breakers have, are counted beside the map (refusals.rs).
//!
//! # Synchronization
//!
//! An entry lives in a map shard: lookups reach it under the shard's read lock, prune passes
//! under its write lock (through `retain`). Every field but the breaker is a `Relaxed` atomic
//! that publishes nothing:
//! - `uses` holds the use mark, which lookups set under the shard's read lock and prune
//!   passes clear under its write lock (so the lock orders them), and the activity the last
//!   pass saw, which only passes read and write;
//! - `active_at` is only read and written by prune passes, which the registry runs one at a
//!   time under the shard write lock (atomics because `retain` gives keys shared access only).

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use fusebox_engine::Breaker;

/// A map entry: the breaker and what the registry tracks about its use. Hashes, compares and
/// borrows as the breaker's name (see the module docs).
pub(crate) struct Slot {
    pub(crate) breaker: Breaker,
    /// Bit 63 ([`LOOKED_UP`]): looked up since the last prune pass (see "Pruning" in
    /// [`docs`](crate::docs)); a call refused because a dependency was open sets it too.
    /// Bits 0..63: `admitted + rejected` as the last prune pass saw it, its low 63 bits (a
    /// pass only asks whether it changed). One word, so that an entry is three words.
    uses: AtomicU64,
    /// Clock time (ns) of creation or of the last prune pass that saw the breaker in use.
    active_at: AtomicU64,
}

impl Slot {
    pub(crate) fn new(breaker: Breaker, now: u64) -> Self {
        Slot {
            breaker,
            uses: AtomicU64::new(0),
            active_at: AtomicU64::new(now),
        }
    }

    /// The breaker's name, which the map keys by.
    pub(crate) fn name(&self) -> &str {
        self.breaker.name()
    }

    /// What the breaker has done that marks it as in use: calls admitted or rejected. (A
    /// call the registry refuses for a dependency marks the entry as looked up instead.)
    fn activity(&self) -> u64 {
        let m = self.breaker.metrics();
        m.admitted.wrapping_add(m.rejected) & !LOOKED_UP
    }

    /// Marks the slot as looked up since the last prune pass.
    #[inline(always)]
    pub(crate) fn touch(&self) {
        // Relaxed: the shard lock orders the mark with prune passes. The write is skipped
        // when the mark is already set, so hot lookups only read the slot.
        if self.uses.load(Ordering::Relaxed) & LOOKED_UP == 0 {
            self.uses.fetch_or(LOOKED_UP, Ordering::Relaxed);
        }
    }

    /// For a prune pass at `now` (holding the slot's shard for writing): whether the breaker
    /// was used since the last pass (looked up, or calls admitted or rejected), and if not,
    /// for how long it has not been (ns). Clears the use mark.
    pub(crate) fn idle_for(&self, now: u64) -> Option<u64> {
        // Relaxed, all: see the module docs.
        // No lookup sets the mark meanwhile: they hold the shard's read lock.
        let activity = self.activity();
        let seen = self.uses.swap(activity, Ordering::Relaxed);
        if seen != activity {
            // Looked up, or calls since the last pass.
            self.active_at.store(now, Ordering::Relaxed);
            return None;
        }
        Some(now.saturating_sub(self.active_at.load(Ordering::Relaxed)))
    }
}

/// [`Slot::uses`]'s use mark.
const LOOKED_UP: u64 = 1 << 63;

// Three words: the breaker's handle, the uses and the time of the last use.
const _: () = assert!(std::mem::size_of::<Slot>() == 24);

impl Hash for Slot {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As `str` hashes: lookups hash the `&str` they are given (see `Borrow`).
        self.name().hash(state);
    }
}

impl PartialEq for Slot {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Slot {}

impl Borrow<str> for Slot {
    fn borrow(&self) -> &str {
        self.name()
    }
}
