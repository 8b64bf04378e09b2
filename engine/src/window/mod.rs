//! Sliding windows: the recent outcomes a breaker judges its failure and slow-call rates on.
//!
//! A [`WindowStore`] is a [`CountWindow`] (count.rs: the last `size` outcomes, as bits) or a
//! [`TimeWindow`] (time.rs: buckets of a time span, as counts); a striped breaker adds a
//! count window per thread ([`stripes`]). A recorder gets a [`Tally`] back to judge. Until a
//! breaker first records, its window pointer holds [`UNMADE`], a store of neither kind shared
//! by every breaker, so that a breaker never called allocates no store.
//!
//! # Synchronization
//!
//! Each kind's notes are in its file. What they share: a window is only ever read and changed
//! through atomics (`&` access), every outcome racing a clear lands whole in the window before
//! it or the window after it, and a recorder that may trip judges a tally read after its own
//! update. Clearing a count window is completed by the breaker's `SeqCst` swap of its cursor,
//! which publishes the cleared bits (see count.rs).

mod count;
pub(crate) mod stripes;
mod time;

use fusebox_policies::Window;

pub(crate) use count::CountWindow;
pub(crate) use time::TimeWindow;

/// What a record did to the window, for the caller to judge the rates on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Outcomes the window holds.
    pub calls: u32,
    /// Failures among them.
    pub failures: u32,
    /// Slow calls among them.
    pub slow: u32,
}

/// The window a breaker records into: count- or time-based.
pub(crate) enum WindowStore {
    Count(CountWindow),
    Time(TimeWindow),
    /// No window yet: [`UNMADE`]'s kind.
    Unmade,
}

/// What a breaker's window pointer holds until its first record or policy swap installs a
/// store of its own. The fast paths test a store's kind anyway, so they tell this one apart
/// at no cost and leave it to the slow path, which installs the breaker's store; nothing
/// writes to it. It has nothing to clear, and no shape.
pub(crate) static UNMADE: WindowStore = WindowStore::Unmade;

/// Bit `slot` (below 128) of a small bitmap's two words, already read: picked in registers.
#[inline(always)]
pub(crate) fn bit_of(words: [u64; 2], slot: usize) -> bool {
    let word = if slot < 64 { words[0] } else { words[1] };
    word >> (slot % 64) & 1 == 1
}

impl WindowStore {
    /// An empty window of `shape`.
    pub(crate) fn new(shape: Window) -> Self {
        match shape {
            Window::Count { size } => WindowStore::Count(CountWindow::new(size.max(1))),
            Window::Time { span, buckets } => WindowStore::Time(TimeWindow::new(
                crate::clock::duration_nanos(span),
                buckets.max(1),
            )),
        }
    }

    /// Whether this store has `shape`.
    pub(crate) fn has_shape(&self, shape: Window) -> bool {
        match (self, shape) {
            (WindowStore::Count(c), Window::Count { size }) => c.size() == size,
            (WindowStore::Time(t), Window::Time { span, buckets }) => t.has_shape(span, buckets),
            _ => false,
        }
    }

    /// Empties the window. Recorders racing with it stay consistent (see the module docs).
    pub(crate) fn clear(&self) {
        match self {
            WindowStore::Count(c) => c.clear(),
            WindowStore::Time(t) => t.clear(),
            WindowStore::Unmade => {}
        }
    }

    /// Empties the slow-call counts only: a slow-call rule was switched on.
    pub(crate) fn clear_slow(&self) {
        match self {
            WindowStore::Count(c) => c.clear_slow(),
            WindowStore::Time(t) => t.clear_slow(),
            WindowStore::Unmade => {}
        }
    }

    /// Heap bytes held by the window's storage (not counting the store itself).
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            WindowStore::Count(c) => c.heap_bytes(),
            WindowStore::Time(t) => t.heap_bytes(),
            WindowStore::Unmade => 0,
        }
    }
}
// A store is no larger than its count window, 48 bytes (see `CountWindow`'s layout). Loom's
// atomics are larger.
#[cfg(not(loom))]
const _: () = assert!(
    std::mem::size_of::<WindowStore>() == std::mem::size_of::<CountWindow>()
        && std::mem::size_of::<CountWindow>() == 48
);
