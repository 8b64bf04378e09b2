//! Nothing leaks: a million state transitions and a hundred thousand breakers under a
//! counting global allocator, with the live heap back to exactly where it started.
//!
//! Only the measuring thread's allocations are counted (the test harness allocates on its
//! own threads), into thread-local counters, so the tests of this file can run in parallel.

use std::time::{Duration, Instant};

use fusebox_engine::{
    Backoff, Breaker, CallRecorder, ManualClock, Outcome, Policy, Recovery, State, Transition,
    Window,
};
use fusebox_test_support::{Counting, allocs, counting, live};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// (live bytes, allocations) counted on this thread so far.
fn heap() -> (isize, u64) {
    (live(), allocs())
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// One failure opens it, one success closes it; a constant open period of 1 s.
fn one_shot() -> Policy {
    Policy::builder()
        .window(Window::count(1))
        .min_calls(1)
        .open_timeout(secs(1))
        .backoff(Backoff::constant())
        .half_open_permits(1)
        .success_threshold(1)
        .build()
        .unwrap()
}

/// Closed → Open → HalfOpen → Closed, with a rejection while open: three transitions.
fn cycle(b: &Breaker, clock: &ManualClock) {
    b.try_acquire().unwrap().failure();
    debug_assert_eq!(b.state(), State::Open);
    let _ = b.try_acquire().unwrap_err();
    clock.advance(secs(1));
    b.try_acquire().unwrap().success();
    debug_assert_eq!(b.state(), State::Closed);
}

/// Per-process lazy state (thread-locals, the rejection counter's lane), touched before
/// counting starts.
fn warm_up() {
    let clock = ManualClock::new();
    let b = Breaker::with_clock("warm", one_shot(), clock.clone());
    let rx = b.subscribe();
    cycle(&b, &clock);
    assert_eq!(rx.try_iter().count(), 3);
}

/// 3 transitions each: 10⁶ transitions (~0.3 s in release, ~4 s in a debug build).
const CYCLES: u64 = 333_334;

#[test]
fn a_million_transitions_leak_nothing() {
    warm_up();
    // The policy's allocation is shared with equal policies on other threads: held from
    // before counting to after, it stays out of this thread's books.
    let keep = Breaker::with_clock("keep", one_shot(), ManualClock::new());
    counting(true);
    let (start, _) = heap();
    let clock = ManualClock::new();
    let b = Breaker::with_clock("leak-check", one_shot(), clock.clone());
    let rx = b.subscribe();
    let mut transitions = 0u64;
    let mut drain = |rx: &crossbeam_channel::Receiver<Transition>| {
        transitions += rx.try_iter().count() as u64;
    };
    // The first cycles allocate what the breaker keeps (the rejection lanes): then steady.
    for _ in 0..10 {
        cycle(&b, &clock);
        drain(&rx);
    }
    let (steady, steady_allocs) = heap();
    let t = Instant::now();
    for i in 10..CYCLES {
        cycle(&b, &clock);
        // 300 transitions fit the subscriber's channel (1024) between drains.
        if i % 100 == 0 {
            drain(&rx);
        }
    }
    drain(&rx);
    let elapsed = t.elapsed();
    let (after, after_allocs) = heap();
    let m = b.metrics();
    drop(rx);
    drop(b);
    drop(clock);
    let (end, _) = heap();
    counting(false);
    drop(keep);

    assert_eq!(transitions, 3 * CYCLES, "every transition was delivered");
    assert_eq!(
        (m.failures, m.successes, m.rejected),
        (CYCLES, CYCLES, CYCLES)
    );
    assert_eq!(after, steady, "no heap growth across transitions");
    assert_eq!(
        end, start,
        "every byte returned once the breaker is dropped"
    );
    println!(
        "{} transitions in {:.2} s ({:.0} ns per cycle of 3), {} allocations in steady state, \
         live heap {} B with the breaker, {} B after it",
        3 * CYCLES,
        elapsed.as_secs_f64(),
        elapsed.as_nanos() as f64 / (CYCLES - 10) as f64,
        after_allocs - steady_allocs,
        steady - start,
        end - start,
    );
}

/// Each breaker is used a little in a way that allocates: a subscriber, a swap to another
/// window shape, a ramp episode, transitions, rejections.
fn exercise(b: &Breaker, clock: &ManualClock, ramp: &Policy, i: u64) {
    match i % 4 {
        0 => {}
        1 => {
            let rx = b.subscribe();
            cycle(b, clock);
            drop(rx);
        }
        2 => {
            b.set_policy(ramp.clone());
            cycle_ramp(b, clock);
        }
        _ => {
            cycle(b, clock);
            b.force_open();
            let _ = b.try_acquire().unwrap_err();
            b.reset();
        }
    }
    b.try_acquire().unwrap().record(Outcome::Ignored);
}

/// A time window and a recovery ramp: another window store, a Recovering episode.
fn ramp_on_a_time_window() -> Policy {
    Policy::builder()
        .window(Window::time(secs(10), 10))
        .min_calls(1)
        .open_timeout(secs(1))
        .half_open_permits(1)
        .success_threshold(1)
        .recovery(Recovery::ramp(secs(1), 0.5))
        .build()
        .unwrap()
}

fn cycle_ramp(b: &Breaker, clock: &ManualClock) {
    b.try_acquire().unwrap().failure();
    clock.advance(secs(1));
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Recovering);
    clock.advance(secs(1));
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Closed);
}

/// A breaker holds no window store until it records: making one and reading it allocate no
/// store, its first call makes it, once, and dropping the breaker frees it.
#[test]
fn a_breaker_makes_its_window_store_at_its_first_record() {
    warm_up();
    let policy = one_shot();
    let clock = ManualClock::new();
    // Keeps the shared policy's allocation out of this thread's books (see below).
    let keep = Breaker::with_clock("keep", policy.clone(), clock.clone());
    counting(true);
    let start = live();
    let b = Breaker::with_clock("idle", policy.clone(), clock.clone());
    let made = live() - start;
    let m = b.metrics();
    let _ = b.saved_state();
    assert_eq!(
        live() - start,
        made,
        "reading a breaker never called makes no store"
    );
    assert_eq!(m.window_calls, 0);
    b.call(|| Ok::<_, ()>(())).expect("closed");
    let store = live() - start - made;
    assert!(store > 0, "the first record makes the window store");
    b.call(|| Ok::<_, ()>(())).expect("closed");
    assert_eq!(live() - start - made, store, "made once");
    assert_eq!(b.metrics().window_calls, 1);
    drop(b);
    let end = live();
    counting(false);
    drop(keep);
    assert_eq!(end, start, "every byte returned");
}

const BREAKERS: u64 = 100_000;

#[test]
fn a_hundred_thousand_breakers_leak_nothing() {
    warm_up();
    let (one_shot, ramp) = (one_shot(), ramp_on_a_time_window());
    let clock = ManualClock::new();
    // Past the first span of the time windows (see `time_window_cleared_early_keeps_counting`).
    clock.set(secs(1000));
    // Breakers with equal policies share one allocation of it, also across the tests running
    // on other threads: holding both policies from before counting to after keeps their
    // allocation and release out of this thread's books.
    let keep = [&one_shot, &ramp].map(|p| Breaker::with_clock("keep", p.clone(), clock.clone()));
    counting(true);
    let (start, start_allocs) = heap();
    let t = Instant::now();
    for i in 0..BREAKERS {
        let b = Breaker::with_clock(format!("breaker-{i}"), one_shot.clone(), clock.clone());
        exercise(&b, &clock, &ramp, i);
    }
    let elapsed = t.elapsed();
    // All alive at once, too: what a registry holds.
    let all: Vec<Breaker> = (0..1000)
        .map(|i| Breaker::with_clock(format!("held-{i}"), one_shot.clone(), clock.clone()))
        .collect();
    for (i, b) in all.iter().enumerate() {
        exercise(b, &clock, &ramp, i as u64);
    }
    drop(all);
    let (end, end_allocs) = heap();
    counting(false);
    drop(keep);
    assert_eq!(end, start, "every byte returned");
    println!(
        "{BREAKERS} breakers created, used and dropped in {:.2} s; {} allocations, live heap \
         back to its start ({} B difference)",
        elapsed.as_secs_f64(),
        end_allocs - start_allocs,
        end - start
    );
}

/// A thread that recorded a breaker's call keeps its own reference to the recorder (so that a
/// recorded call takes no locked instruction to find it): the buffer of a stopped recording
/// stays allocated until that thread's next recorded call of the breaker, into another
/// recorder, or until the breaker is dropped; then every byte is back.
#[test]
fn a_recorders_buffer_is_freed_once_its_recording_threads_let_go() {
    const CAPACITY: usize = 100_000; // 24 bytes an entry: 2.4 MB
    warm_up();
    // Touches this thread's per-thread slots (thread_local's thread id) before counting.
    let warm = Breaker::with_clock("warm-rec", Policy::default(), ManualClock::new());
    warm.record_to(&CallRecorder::new(1), 1.0);
    warm.try_acquire().unwrap().success();
    let keep = Breaker::with_clock("keep", Policy::default(), ManualClock::new());
    counting(true);
    let start = live();
    let b = Breaker::with_clock(
        "recorded",
        keep.policy().as_ref().clone(),
        ManualClock::new(),
    );
    let big = CallRecorder::new(CAPACITY);
    b.record_to(&big, 1.0);
    b.try_acquire().unwrap().success();
    b.stop_recording();
    drop(big);
    let held = live() - start;
    assert!(
        held >= (CAPACITY * 24) as isize,
        "the thread's copy holds the buffer: {held} B"
    );

    let small = CallRecorder::new(8);
    b.record_to(&small, 1.0);
    b.try_acquire().unwrap().success();
    assert_eq!(small.drain().len(), 1);
    let after = live() - start;
    assert!(
        after < 64 * 1024,
        "the big buffer was let go of: {after} B still live"
    );

    drop(small);
    drop(b);
    let end = live();
    counting(false);
    drop(keep);
    assert_eq!(end, start, "every byte returned");
}
