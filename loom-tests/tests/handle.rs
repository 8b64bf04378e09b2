//! The breaker's own reference count (engine/src/breaker/handle.rs): strong handles cloned and
//! dropped on several threads, a weak handle (the timer's) upgraded while the last strong one
//! goes, and an `Open` rejection's name holding the breaker.
//!
//! Each breaker runs on a [`Watched`] clock: every read of the time is an unsynchronized read
//! of a loom cell, and the clock's drop (with the breaker's data) an unsynchronized write of
//! it, so a use of the breaker through a handle that is not ordered before the data's drop is
//! a data race loom reports. The drop also counts itself: the data is dropped exactly once.
//! The allocation goes through loom's allocator (the engine's sync shim), so a breaker never
//! freed, or freed twice, fails the model too.
#![cfg(loom)]

use fusebox_engine::{Breaker, Policy, RejectReason, Window};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use loom_tests::{check, record};

/// A clock loom watches: see the module's notes.
struct Watched {
    time: UnsafeCell<u64>,
    drops: Arc<AtomicUsize>,
}

impl Watched {
    fn new(drops: &Arc<AtomicUsize>) -> Self {
        Watched {
            time: UnsafeCell::new(0),
            drops: drops.clone(),
        }
    }
}

// SAFETY: the cell is only read while the clock is shared, and written only by its drop, which
// has it exclusively; loom checks that every read happens before that write.
unsafe impl Sync for Watched {}

impl fusebox_engine::Clock for Watched {
    fn now_nanos(&self) -> u64 {
        // SAFETY: a read, ordered before the drop's write (what the model checks).
        self.time.with(|t| unsafe { *t })
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        // SAFETY: the clock is being dropped: nothing else may use it (what the model checks).
        self.time.with_mut(|t| unsafe { *t = u64::MAX });
        // Relaxed: read after the threads are joined.
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

/// A breaker on a [`Watched`] clock whose drops `drops` counts.
fn watched_breaker(policy: Policy, drops: &Arc<AtomicUsize>) -> Breaker {
    Breaker::with_clock("counted", policy, Watched::new(drops))
}

/// The same, compact: its allocation has another layout, which the last drop must free with.
fn watched_compact_breaker(policy: Policy, drops: &Arc<AtomicUsize>) -> Breaker {
    Breaker::builder("counted", policy)
        .clock(Watched::new(drops))
        .compact()
        .build()
}

/// Handles cloned and dropped on two threads, each using the breaker before its drops: the
/// last drop, whichever thread makes it, drops the data once, after every use, and frees the
/// memory once.
#[test]
fn racing_clones_and_drops_free_the_breaker_once() {
    check(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let b = watched_breaker(Policy::default(), &drops);
        let theirs = b.clone();
        let other = thread::spawn(move || {
            let copy = theirs.clone();
            let _ = theirs.now();
            drop(theirs);
            let _ = copy.now();
            assert!(copy.handle_count() >= 1);
            drop(copy);
        });
        let copy = b.clone();
        let _ = b.now();
        drop(b);
        let _ = copy.now();
        drop(copy);
        other.join().unwrap();
        assert_eq!(drops.load(Ordering::Relaxed), 1, "the data is dropped once");
    });
}

/// The timer's weak handle upgraded while the last strong handle is dropped, for a default and a
/// compact breaker: the upgrade either fails (the data is gone or going) or keeps the breaker
/// alive for its use, and then its drop may be the last; either thread's drop of the last
/// reference frees the memory, with the layout it was allocated with.
#[test]
fn an_upgrade_racing_the_last_drop_never_revives_the_breaker() {
    for make in [watched_breaker, watched_compact_breaker] {
        upgrade_racing_the_last_drop(make);
    }
}

fn upgrade_racing_the_last_drop(make: fn(Policy, &Arc<AtomicUsize>) -> Breaker) {
    check(move || {
        let drops = Arc::new(AtomicUsize::new(0));
        let b = make(Policy::default(), &drops);
        let weak = b.loom_weak();
        let timer = thread::spawn(move || match weak.upgrade() {
            Some(alive) => {
                let _ = alive.now();
                assert!(alive.handle_count() >= 1);
                true
            }
            None => false,
        });
        let _ = b.now();
        drop(b);
        timer.join().unwrap();
        assert_eq!(drops.load(Ordering::Relaxed), 1, "the data is dropped once");
    });
}

/// An `Open` rejection on a clock other than the quanta clock holds a handle of the breaker
/// (for its `retry_after`), made from the breaker's own address: it keeps the breaker alive
/// while the other handles are dropped, on its thread and another, and its drop may be the
/// last.
#[test]
fn an_open_rejection_holds_the_breaker_and_may_free_it() {
    check(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let policy = Policy::builder()
            .window(Window::count(1))
            .min_calls(1)
            .build()
            .expect("valid policy");
        let b = watched_breaker(policy, &drops);
        record(&b, true);
        let theirs = b.clone();
        let caller = thread::spawn(move || {
            let rejected = theirs.try_acquire().expect_err("open");
            drop(theirs);
            assert_eq!(rejected.reason(), RejectReason::Open);
            // Reads the breaker's clock through the handle the rejection holds, which may be
            // the last one by now.
            assert!(rejected.retry_after().is_some());
            assert_eq!(rejected.breaker(), "counted");
        });
        drop(b);
        caller.join().unwrap();
        assert_eq!(drops.load(Ordering::Relaxed), 1, "the data is dropped once");
    });
}
