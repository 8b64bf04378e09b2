//! The process-wide open-deadline timer.
//!
//! A rejection while open should cost a load, not a clock read (9–12 ns here). Breakers on the
//! [`QuantaClock`](crate::QuantaClock) hand each open deadline to one thread, which sleeps until
//! the earliest one and then marks that breaker's `Open` word as expired; the next acquire sees
//! the mark and probes. While nothing is open the thread sleeps on a condition variable and
//! costs nothing. If the thread cannot be started, breakers read the clock instead
//! ([`running`] is false), so rule 6 holds either way. Breakers on other clocks (a
//! `ManualClock`) always read their clock, which is cheap.
//!
//! The timer knows nothing of breakers or clocks: it holds boxed [`Expire`] targets, each a
//! weak reference that does not keep its breaker alive, and its time source is the function
//! it is started with ([`running`]), so it depends on no other module of the crate. A target
//! is boxed per schedule (one allocation per open deadline, which is rare) and dropped on the
//! timer thread once its deadline has passed.
//!
//! # Synchronization
//!
//! - **The timer** (`TIMER`, a `OnceLock`): the first [`running`] call makes it, leaks it (it
//!   lives as long as the process) and spawns the thread; the `OnceLock` publishes it to every
//!   later [`running`] and [`schedule`]. If the thread cannot be spawned it holds `None` for
//!   good. Its time source is fixed then: every caller passes the same function.
//! - **The queue**: a `std` mutex (taken poison-tolerantly) around a heap of entries, earliest
//!   deadline on top, and a condition variable the thread waits on. [`schedule`] pushes under
//!   the mutex and notifies after releasing it, only if the new deadline is the earliest (a
//!   later one does not change when the thread must wake). The thread holds the mutex while it
//!   reads the time and looks at the top entry, and waits (which releases it) until notified
//!   if the queue is empty, else until the earliest deadline. It looks again after every
//!   wake-up, so an early or spurious wake-up is harmless, and no push is missed: a push is
//!   made under the mutex, which the thread holds from its look to its wait.
//! - **Targets**: the thread pops a due entry and releases the mutex before it calls the target
//!   and drops it, so no breaker code runs under the mutex (the target's upgrade may turn out
//!   to be the breaker's last handle, and dropping the target may free the breaker). A target
//!   holds its breaker weakly and, if the breaker is alive, marks the episode `epoch` expired
//!   with the breaker's own exchange (`AcqRel`, breaker/transition.rs); it does nothing if the
//!   breaker is gone or the episode has ended or already expired. So entries are never removed
//!   early: a deadline a policy swap shortens is scheduled again, and the later entry finds its
//!   episode expired.
//! - **Lock order**: [`schedule`] is called under the breaker's `publish_lock`, which comes
//!   first; the queue's mutex is taken last, and no other lock is taken while it is held.
//! - **Loom**: there is no thread and nothing is queued (the models play the timer); the
//!   mutex and the condition variable are `std`'s, outside the loom shim.

/// What the timer calls at a deadline: a breaker, held weakly, marks its `Open` episode
/// `epoch` expired if it is still alive.
pub(crate) trait Expire: Send + Sync {
    /// The deadline handed over with `epoch` has passed.
    // Under loom there is no timer thread to call it: models play the timer themselves.
    #[cfg_attr(loom, allow(dead_code))]
    fn expire(&self, epoch: u32);
}

#[cfg(not(loom))]
mod imp {
    use std::cmp::Ordering as CmpOrdering;
    use std::collections::BinaryHeap;
    use std::sync::{Condvar, Mutex, OnceLock};
    use std::time::Duration;

    use super::Expire;

    struct Entry {
        deadline: u64,
        epoch: u32,
        target: Box<dyn Expire>,
    }

    impl PartialEq for Entry {
        fn eq(&self, other: &Self) -> bool {
            self.deadline == other.deadline
        }
    }
    impl Eq for Entry {}
    impl PartialOrd for Entry {
        fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Entry {
        // Reversed: `BinaryHeap` is a max-heap and we want the earliest deadline on top.
        fn cmp(&self, other: &Self) -> CmpOrdering {
            other.deadline.cmp(&self.deadline)
        }
    }

    struct Timer {
        queue: Mutex<BinaryHeap<Entry>>,
        wake: Condvar,
        /// The time deadlines are given in (ns), from the first call to [`running`].
        now: fn() -> u64,
    }

    static TIMER: OnceLock<Option<&'static Timer>> = OnceLock::new();

    /// The timer, started on first use with `now` as its time source.
    fn timer(now: fn() -> u64) -> Option<&'static Timer> {
        *TIMER.get_or_init(|| {
            let timer: &'static Timer = Box::leak(Box::new(Timer {
                queue: Mutex::new(BinaryHeap::new()),
                wake: Condvar::new(),
                now,
            }));
            std::thread::Builder::new()
                .name("fusebox-timer".into())
                .spawn(move || run(timer))
                .ok()
                .map(|_| timer)
        })
    }

    fn run(timer: &'static Timer) {
        let mut queue = timer.queue.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let now = (timer.now)();
            match queue.peek() {
                None => {
                    queue = timer.wake.wait(queue).unwrap_or_else(|p| p.into_inner());
                }
                Some(e) if e.deadline <= now => {
                    let e = queue.pop().expect("peeked");
                    drop(queue);
                    // Expires the breaker if it is alive; dropping the target may free it.
                    e.target.expire(e.epoch);
                    drop(e);
                    queue = timer.queue.lock().unwrap_or_else(|p| p.into_inner());
                }
                Some(e) => {
                    let wait = Duration::from_nanos(e.deadline - now);
                    queue = timer
                        .wake
                        .wait_timeout(queue, wait)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
    }

    /// Whether the timer thread runs (starting it on first use, with `now` as its time
    /// source: every caller passes the same function).
    pub(crate) fn running(now: fn() -> u64) -> bool {
        timer(now).is_some()
    }

    /// Asks the timer to expire `target`'s `Open` episode `epoch` at `deadline` (ns of the
    /// timer's time source). Only called once [`running`] has said the timer runs.
    pub(crate) fn schedule(target: Box<dyn Expire>, epoch: u32, deadline: u64) {
        let Some(timer) = TIMER.get().copied().flatten() else {
            return;
        };
        let mut queue = timer.queue.lock().unwrap_or_else(|p| p.into_inner());
        let earliest = queue.peek().is_none_or(|e| deadline < e.deadline);
        queue.push(Entry {
            deadline,
            epoch,
            target,
        });
        drop(queue);
        if earliest {
            timer.wake.notify_one();
        }
    }
}

#[cfg(loom)]
mod imp {
    use super::Expire;

    /// Loom models run on a `ManualClock` and play the timer themselves (see
    /// `ManualClock::with_model_timer`): no thread, nothing to schedule. The target is dropped
    /// at once, which models see as a weak reference made and given back.
    pub(crate) fn schedule(_: Box<dyn Expire>, _: u32, _: u64) {}
}

#[cfg(not(loom))]
pub(crate) use imp::running;
pub(crate) use imp::schedule;
