//! Counters a thread can bump with a plain load and store: a breaker's rejection and failure
//! counts.
//!
//! A rejection must cost about a load, and a locked `fetch_add` costs several nanoseconds even
//! uncontended. Each thread that rejects takes one of [`LANES`] process-wide lanes, once, and
//! gives it back when it exits; every counter has one word per lane (allocated, for both
//! counters at once, at the first use of either), which only that lane's thread writes, so a
//! `Relaxed` load and store count exactly. Threads beyond the lanes share one word per counter
//! with `fetch_add`. A count is the sum of its words.
//!
//! # Synchronization
//!
//! A lane changes hands through `FREE_LANES`: the exiting thread's `fetch_or` (`Release`) and
//! the next owner's `compare_exchange` (`Acquire`) order the old owner's last store before the
//! new owner's first load of the same word. Increments are `Release` and the sum's loads
//! `Acquire` (both free on x86): a reader that counts an increment also sees what its writer
//! did before it (the failure count relies on this: see the breaker's `totals`). The sum is
//! exact once the writers are quiet.

use crate::lazy::LazyBox;
use crate::sync::{AtomicU64, Ordering};

/// How many threads count with plain stores at once.
pub(crate) const LANES: usize = 8;

/// One word per lane.
type Lanes = [AtomicU64; LANES];

/// Which of a breaker's two lane counters.
#[derive(Clone, Copy)]
pub(crate) enum Counted {
    /// Calls rejected because the breaker was open.
    Rejections,
    /// Failures recorded.
    Failures,
}

/// A breaker's rejection and failure counts, sharing one pointer to their lanes' words.
pub(crate) struct LaneCounters {
    /// The words of threads without a lane, one per counter.
    shared: [AtomicU64; 2],
    /// The lanes' words, one set per counter, allocated by the first thread that counts
    /// through a lane. A pointer an increment tests as it loads it. Under loom no thread has a
    /// lane, so the words are never allocated.
    lanes: LazyBox<[Lanes; 2]>,
}

impl LaneCounters {
    pub(crate) fn new() -> Self {
        LaneCounters {
            shared: [AtomicU64::new(0), AtomicU64::new(0)],
            lanes: LazyBox::new(),
        }
    }

    /// The lanes' words of `counted`, if allocated.
    #[inline(always)]
    fn lanes(&self, counted: Counted) -> Option<&Lanes> {
        self.lanes.get().map(|lanes| &lanes[counted as usize])
    }

    /// The lanes' words of `counted`, allocated now if no thread has yet.
    fn lanes_or_init(&self, counted: Counted) -> &Lanes {
        let lanes = self
            .lanes
            .get_or_init(|| std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))));
        &lanes[counted as usize]
    }

    /// Adds one to `counted`.
    #[inline]
    pub(crate) fn increment(&self, counted: Counted) {
        // The lanes, then the thread's lane: one test and branch each, where asking for both
        // at once kept the first answer in a register for a second test.
        if let Some(words) = self.lanes(counted)
            && let Some(lane) = lane::current()
        {
            // Through an address of its own: see `own_address`.
            let word = crate::sync::own_address(&words[lane]);
            // Relaxed load: this thread is the only writer of its lane's word. Release store:
            // see the module's notes.
            word.store(word.load(Ordering::Relaxed) + 1, Ordering::Release);
            return;
        }
        self.increment_slow(counted);
    }

    #[cold]
    fn increment_slow(&self, counted: Counted) {
        match lane::claim() {
            Some(lane) => {
                let word = &self.lanes_or_init(counted)[lane];
                // As in `increment`.
                word.store(word.load(Ordering::Relaxed) + 1, Ordering::Release);
            }
            None => {
                // Release: see the module's notes. No lane is free for this thread.
                self.shared[counted as usize].fetch_add(1, Ordering::Release);
            }
        }
    }

    /// Adds `n` to `counted` (rare: a restore putting counts back), through the shared word.
    pub(crate) fn add(&self, counted: Counted, n: u64) {
        if n != 0 {
            // Release: see the module's notes.
            self.shared[counted as usize].fetch_add(n, Ordering::Release);
        }
    }

    /// The count of `counted` so far.
    pub(crate) fn sum(&self, counted: Counted) -> u64 {
        // Acquire: see the module's synchronization notes.
        let lanes = self.lanes(counted).map_or(0, |w| {
            w.iter()
                .map(|x| x.load(Ordering::Acquire))
                .fold(0u64, u64::wrapping_add)
        });
        self.shared[counted as usize]
            .load(Ordering::Acquire)
            .wrapping_add(lanes)
    }

    /// Heap bytes held (the lanes, once used).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.lanes.get().map_or(0, std::mem::size_of_val)
    }
}

/// The calling thread's lane, claiming one if it has none and one is free: the stripes of a
/// striped breaker are indexed by it (see window/stripes.rs).
#[inline]
pub(crate) fn thread_lane() -> Option<usize> {
    lane::current().or_else(lane::claim)
}

/// The calling thread's lane, if it has claimed one.
#[inline(always)]
pub(crate) fn current_lane() -> Option<usize> {
    lane::current()
}

#[cfg(not(loom))]
mod lane {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU8, Ordering};

    use super::LANES;

    /// Bit `i` set: lane `i` is free.
    static FREE_LANES: AtomicU8 = AtomicU8::new(u8::MAX);
    const _: () = assert!(LANES <= 8);

    const UNCLAIMED: u8 = u8::MAX;
    const NO_LANE: u8 = u8::MAX - 1;

    thread_local! {
        static LANE: Cell<u8> = const { Cell::new(UNCLAIMED) };
        static RETURN: Returner = const { Returner };
    }

    /// Gives the thread's lane back when the thread exits.
    struct Returner;

    impl Drop for Returner {
        fn drop(&mut self) {
            let lane = LANE.with(|l| l.replace(NO_LANE));
            if (lane as usize) < LANES {
                // Release: our last store to the lane's words happens before the next owner's
                // first load (it claims with Acquire).
                FREE_LANES.fetch_or(1 << lane, Ordering::Release);
            }
        }
    }

    /// The calling thread's lane, if it has one.
    #[inline]
    pub(super) fn current() -> Option<usize> {
        let lane = LANE.with(Cell::get);
        ((lane as usize) < LANES).then_some(lane as usize)
    }

    /// Claims a lane for the calling thread if it has none and one is free.
    pub(super) fn claim() -> Option<usize> {
        if let Some(lane) = current() {
            return Some(lane);
        }
        if LANE.with(Cell::get) == NO_LANE {
            return None;
        }
        // Relaxed: only a first guess for the exchange below, which Acquires.
        let mut free = FREE_LANES.load(Ordering::Relaxed);
        let lane = loop {
            if free == 0 {
                LANE.with(|l| l.set(NO_LANE));
                return None;
            }
            let lane = free.trailing_zeros() as u8;
            // Acquire: pairs with the Release of the lane's previous owner.
            match FREE_LANES.compare_exchange_weak(
                free,
                free & !(1 << lane),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break lane,
                Err(now) => free = now,
            }
        };
        // Registering the returner may fail while the thread is being torn down: then the
        // lane is never given back, which only costs later threads the shared word.
        let _ = RETURN.try_with(|_| ());
        LANE.with(|l| l.set(lane));
        Some(lane as usize)
    }
}

#[cfg(loom)]
mod lane {
    //! Under loom every thread uses the shared word: the lanes' thread-locals are not modelled.

    pub(super) fn current() -> Option<usize> {
        None
    }

    pub(super) fn claim() -> Option<usize> {
        None
    }
}
