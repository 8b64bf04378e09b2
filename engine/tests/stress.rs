//! Multi-threaded stress tests with exact accounting: whatever the interleaving, once the
//! threads are joined the breaker's counters equal what the threads saw, and the half-open and
//! bulkhead limits were never exceeded.
//!
//! `exact_accounting_without_trips` makes 10⁶ calls in debug builds and 2·10⁶ with `--release`;
//! the other tests run fewer iterations in debug builds.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Barrier, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use fusebox_engine::{
    Breaker, CallError, ManualClock, Outcome, Policy, PolicyBuilder, Recovery, RejectReason, State,
    TransitionReason, Window,
};

/// Total calls of `exact_accounting_without_trips`.
#[cfg(debug_assertions)]
const CALLS: u64 = 1_000_000;
#[cfg(not(debug_assertions))]
const CALLS: u64 = 2_000_000;

/// Iterations per worker in the other tests.
#[cfg(debug_assertions)]
const ITERS: u64 = 40_000;
#[cfg(not(debug_assertions))]
const ITERS: u64 = 200_000;

/// xorshift64: a per-thread stream of pseudo-random numbers.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in 0..100.
    fn percent(&mut self) -> u64 {
        self.next() % 100
    }
}

/// What one thread did.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    successes: u64,
    failures: u64,
    ignored: u64,
    open: u64,
    half_open_full: u64,
    bulkhead_full: u64,
    ramp: u64,
    forced_open: u64,
}

impl Tally {
    fn admitted(&self) -> u64 {
        self.successes + self.failures + self.ignored
    }

    fn rejected(&self) -> u64 {
        self.open + self.half_open_full + self.bulkhead_full + self.ramp + self.forced_open
    }

    fn reject(&mut self, reason: RejectReason) {
        match reason {
            RejectReason::Open => self.open += 1,
            RejectReason::HalfOpenFull => self.half_open_full += 1,
            RejectReason::BulkheadFull => self.bulkhead_full += 1,
            RejectReason::Ramp => self.ramp += 1,
            RejectReason::ForcedOpen => self.forced_open += 1,
            other => panic!("unknown reject reason {other:?}"),
        }
    }

    fn add(mut self, o: Tally) -> Tally {
        self.successes += o.successes;
        self.failures += o.failures;
        self.ignored += o.ignored;
        self.open += o.open;
        self.half_open_full += o.half_open_full;
        self.bulkhead_full += o.bulkhead_full;
        self.ramp += o.ramp;
        self.forced_open += o.forced_open;
        self
    }
}

/// Asserts that the breaker's counters are exactly the threads' sums.
fn assert_counters(b: &Breaker, t: Tally) {
    let m = b.metrics();
    assert_eq!(m.successes, t.successes, "successes; threads saw {t:?}");
    assert_eq!(m.failures, t.failures, "failures; threads saw {t:?}");
    assert_eq!(m.ignored, t.ignored, "ignored; threads saw {t:?}");
    assert_eq!(m.admitted, t.admitted(), "admitted; threads saw {t:?}");
    assert_eq!(m.rejected, t.rejected(), "rejected; threads saw {t:?}");
}

/// One call at random through one of the three APIs (permit, `call`, `call_with`), ended as a
/// failure with probability `fail_pct` %, otherwise mostly a success, sometimes ignored or (for
/// permits) dropped. Counts what happened in `t`.
fn one_call(b: &Breaker, rng: &mut XorShift, t: &mut Tally, fail_pct: u64) {
    let roll = rng.percent();
    let outcome = if roll < fail_pct {
        Outcome::Failure
    } else if roll < 92 {
        Outcome::Success
    } else {
        Outcome::Ignored
    };
    let count = |t: &mut Tally, o: Outcome| match o {
        Outcome::Success => t.successes += 1,
        Outcome::Failure => t.failures += 1,
        Outcome::Ignored => t.ignored += 1,
    };
    match rng.next() % 4 {
        0 | 1 => match b.try_acquire() {
            Err(r) => t.reject(r.reason()),
            Ok(p) => {
                if roll.is_multiple_of(4) {
                    // Hold the permit across a reschedule: contention for probe and bulkhead
                    // slots.
                    thread::yield_now();
                }
                if outcome == Outcome::Ignored && roll.is_multiple_of(2) {
                    drop(p);
                } else {
                    p.record(outcome);
                }
                count(t, outcome);
            }
        },
        2 => match b.call(|| match outcome {
            Outcome::Failure => Err(roll),
            _ => Ok(roll),
        }) {
            Ok(_) => t.successes += 1,
            Err(CallError::Failed(_)) => t.failures += 1,
            Err(CallError::Rejected(r)) => t.reject(r.reason()),
        },
        _ => match b.call_with(|| Ok::<_, ()>(roll), |_| outcome) {
            Ok(_) => count(t, outcome),
            Err(CallError::Failed(())) => unreachable!("the closure never fails"),
            Err(CallError::Rejected(r)) => t.reject(r.reason()),
        },
    }
}

/// Runs `threads` workers of `iters` iterations of `work` each, and sums their tallies.
fn run<F>(threads: u64, iters: u64, work: F) -> Tally
where
    F: Fn(u64, &mut XorShift, &mut Tally) + Sync,
{
    let start = Barrier::new(threads as usize);
    thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let (work, start) = (&work, &start);
                s.spawn(move || {
                    let mut rng = XorShift::new(i + 1);
                    let mut t = Tally::default();
                    start.wait();
                    for n in 0..iters {
                        work(n, &mut rng, &mut t);
                    }
                    t
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker panicked"))
            .fold(Tally::default(), Tally::add)
    })
}

// ---------------------------------------------------------------------------------------------
// (a) exact accounting, no trips
// ---------------------------------------------------------------------------------------------

/// A policy that never trips at these failure rates: it needs 1000 failures out of 1000.
fn never_trips() -> PolicyBuilder {
    Policy::builder()
        .window(Window::count(1000))
        .min_calls(1000)
        .failure_rate_threshold(1.0)
}

#[test]
fn exact_accounting_without_trips() {
    let b = Breaker::new("stress-a", never_trips().build().unwrap());
    let threads = 4;
    let t = run(threads, CALLS / threads, |_, rng, t| {
        one_call(&b, rng, t, 30)
    });
    assert_eq!(t.admitted(), CALLS);
    assert_eq!(t.rejected(), 0);
    assert_eq!(b.state(), State::Closed);
    assert_counters(&b, t);
    let m = b.metrics();
    assert_eq!(m.window_calls, 1000);
    assert!(m.window_failures < 1000);
}

#[test]
fn exact_accounting_metrics_only_time_window() {
    let clock = ManualClock::new();
    let policy = Policy::builder()
        .window(Window::time(Duration::from_secs(10), 10))
        .min_calls(1)
        .consecutive_failures(2)
        .slow_calls(Duration::from_millis(1), 0.1)
        .build()
        .unwrap();
    let b = Breaker::with_clock("stress-a2", policy, clock.clone());
    b.metrics_only();
    let t = run(2, ITERS, |n, rng, t| {
        if n % 1000 == 0 {
            clock.advance(Duration::from_millis(100));
        }
        one_call(&b, rng, t, 50);
    });
    assert_eq!(t.admitted(), 2 * ITERS);
    assert_eq!(b.state(), State::MetricsOnly);
    assert_counters(&b, t);
}

// ---------------------------------------------------------------------------------------------
// (b) exact accounting with trips, probes, ramp and bulkhead
// ---------------------------------------------------------------------------------------------

/// Workers make random calls (failure rate `fail_pct`), each moving the clock 10 µs per call,
/// while a fourth thread moves it 1 ms at a time, so the breaker trips, probes, recovers and
/// trips again many times.
fn trips_allowed(policy: Policy, fail_pct: u64) -> (Tally, Vec<fusebox_engine::Transition>) {
    let clock = ManualClock::new();
    let b = Breaker::with_clock("stress-b", policy, clock.clone());
    let events = b.subscribe();
    let done = AtomicBool::new(false);
    let t = thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                clock.advance(Duration::from_millis(1));
                thread::yield_now();
            }
        });
        let t = run(3, ITERS, |_, rng, t| {
            clock.advance(Duration::from_micros(10));
            one_call(&b, rng, t, fail_pct)
        });
        done.store(true, Ordering::Relaxed);
        t
    });
    assert_eq!(t.admitted() + t.rejected(), 3 * ITERS);
    assert_counters(&b, t);
    (t, events.try_iter().collect())
}

fn trip_policy() -> PolicyBuilder {
    Policy::builder()
        .window(Window::count(20))
        .min_calls(10)
        .failure_rate_threshold(0.5)
        .open_timeout(Duration::from_micros(500))
        .half_open_permits(2)
        .success_threshold(2)
}

#[test]
fn exact_accounting_with_trips() {
    let (t, events) = trips_allowed(trip_policy().build().unwrap(), 35);
    eprintln!("with trips: {t:?}");
    assert!(t.open > 0, "the breaker never opened: {t:?}");
    assert!(events.iter().any(|e| e.to == State::Open));
    assert!(
        events
            .iter()
            .any(|e| e.from == State::HalfOpen && e.to == State::Closed)
    );
    assert_eq!((t.ramp, t.bulkhead_full, t.forced_open), (0, 0, 0));
}

#[test]
fn exact_accounting_with_trips_ramp_and_bulkhead() {
    let policy = trip_policy()
        .recovery(Recovery::ramp(Duration::from_millis(5), 0.3))
        .max_concurrent(2)
        .build()
        .unwrap();
    let (t, events) = trips_allowed(policy, 35);
    eprintln!("with trips, ramp and bulkhead: {t:?}");
    assert!(
        t.open > 0 && t.ramp > 0,
        "never opened or never ramped: {t:?}"
    );
    assert!(events.iter().any(|e| e.to == State::Recovering));
    assert_eq!(t.forced_open, 0);
}

#[test]
fn exact_accounting_with_consecutive_trips() {
    let policy = trip_policy().consecutive_failures(3).build().unwrap();
    let (t, _) = trips_allowed(policy, 35);
    assert!(t.open > 0, "the breaker never opened: {t:?}");
}

/// The real clock (`Breaker::new`): rejections are decided from the timed state word and only
/// the timer thread ends an open period. Workers call until each has made `ITERS` calls and
/// the timer has moved the breaker on 10 times (or 10 s have passed, which fails the test).
#[test]
fn exact_accounting_with_trips_on_the_real_clock() {
    const TIMEOUTS: u32 = 10;
    let b = Breaker::new("stress-real-clock", trip_policy().build().unwrap());
    let events = b.subscribe();
    let timeouts = AtomicU32::new(0);
    let done = AtomicBool::new(false);
    let started = Instant::now();
    let t = thread::scope(|s| {
        s.spawn(|| {
            while timeouts.load(Ordering::Relaxed) < TIMEOUTS
                && started.elapsed() < Duration::from_secs(10)
            {
                if let Ok(e) = events.recv_timeout(Duration::from_millis(10))
                    && e.reason == TransitionReason::OpenTimeoutElapsed
                {
                    timeouts.fetch_add(1, Ordering::Relaxed);
                }
            }
            done.store(true, Ordering::Relaxed);
        });
        let workers: Vec<_> = (0..3)
            .map(|i| {
                let (b, done) = (&b, &done);
                s.spawn(move || {
                    let mut rng = XorShift::new(i + 1);
                    let mut t = Tally::default();
                    let mut n = 0;
                    while n < ITERS || !done.load(Ordering::Relaxed) {
                        one_call(b, &mut rng, &mut t, 35);
                        n += 1;
                    }
                    t
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|h| h.join().expect("worker panicked"))
            .fold(Tally::default(), Tally::add)
    });
    eprintln!("real clock: {t:?}");
    assert!(
        timeouts.load(Ordering::Relaxed) >= TIMEOUTS,
        "the timer moved the breaker on {} times in 10 s: {t:?}",
        timeouts.load(Ordering::Relaxed)
    );
    assert_counters(&b, t);
}

// ---------------------------------------------------------------------------------------------
// (c) half-open under contention
// ---------------------------------------------------------------------------------------------

/// Threads race at the Open → HalfOpen edge: each one that sees `Open` moves the clock past the
/// open period. Probes only fail, end ignored or are dropped, so the breaker never closes and
/// every admitted permit is a probe. Live probes never exceed `limit`.
///
/// A thread whose probe is to fail first waits (write lock) until no other probe is live, so
/// that no probe of one half-open episode is still running in the next: see
/// `rule_08_probes_of_an_earlier_episode_count_against_permits` in `rules.rs` for that case.
/// Every probe is taken and ended under the read lock.
fn half_open_race(permits: u32, bulkhead: Option<u32>) {
    let limit = bulkhead.map_or(permits, |m| m.min(permits));
    let clock = ManualClock::new();
    let mut policy = Policy::builder()
        .window(Window::count(1))
        .min_calls(1)
        .open_timeout(Duration::from_millis(1))
        .half_open_permits(permits)
        .success_threshold(permits);
    if let Some(m) = bulkhead {
        policy = policy.max_concurrent(m);
    }
    let b = Breaker::with_clock("stress-c", policy.build().unwrap(), clock.clone());
    b.try_acquire().unwrap().failure();
    assert_eq!(b.state(), State::Open);
    let live = AtomicU32::new(0);
    let peak = AtomicU32::new(0);
    let episodes = RwLock::new(());
    let t = run(4, ITERS, |_, rng, t| {
        let shared = episodes.read().unwrap_or_else(|e| e.into_inner());
        match b.try_acquire() {
            Ok(p) => {
                let n = live.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                assert!(n <= limit, "{n} live probes, limit {limit}");
                thread::yield_now();
                live.fetch_sub(1, Ordering::SeqCst);
                match rng.percent() {
                    0..10 => {
                        drop(shared);
                        let _alone = episodes.write().unwrap_or_else(|e| e.into_inner());
                        p.failure();
                        t.failures += 1;
                    }
                    10..55 => {
                        p.record(Outcome::Ignored);
                        t.ignored += 1;
                    }
                    _ => {
                        drop(p);
                        t.ignored += 1;
                    }
                }
            }
            Err(r) => {
                t.reject(r.reason());
                if r.reason() == RejectReason::Open {
                    clock.advance(Duration::from_millis(1));
                }
            }
        }
    });
    assert!(peak.load(Ordering::SeqCst) <= limit);
    assert_eq!(t.successes, 0);
    assert_eq!((t.ramp, t.forced_open), (0, 0));
    if bulkhead.is_none() {
        assert_eq!(t.bulkhead_full, 0);
    }
    // Plus the failure that opened it.
    let expected = Tally {
        failures: t.failures + 1,
        ..t
    };
    assert_counters(&b, expected);
    // No slot leaked: once the period has passed, exactly `limit` probes are admitted.
    assert!(matches!(b.state(), State::Open | State::HalfOpen));
    clock.advance(Duration::from_secs(1));
    let probes: Vec<_> = (0..limit)
        .map(|i| b.try_acquire().unwrap_or_else(|r| panic!("probe {i}: {r}")))
        .collect();
    assert_eq!(b.state(), State::HalfOpen);
    let r = b.try_acquire().unwrap_err();
    let full = if limit < permits {
        RejectReason::BulkheadFull
    } else {
        RejectReason::HalfOpenFull
    };
    assert_eq!(r.reason(), full);
    drop(probes);
}

#[test]
fn half_open_never_exceeds_its_permits_under_contention() {
    half_open_race(3, None);
}

#[test]
fn half_open_with_tighter_bulkhead_never_exceeds_it_under_contention() {
    half_open_race(4, Some(2));
}

// ---------------------------------------------------------------------------------------------
// (d) bulkhead under contention
// ---------------------------------------------------------------------------------------------

#[test]
fn bulkhead_never_exceeds_m_under_contention() {
    const M: u32 = 3;
    let b = Breaker::with_clock(
        "stress-d",
        never_trips().max_concurrent(M).build().unwrap(),
        ManualClock::new(),
    );
    let live = AtomicU32::new(0);
    let peak = AtomicU32::new(0);
    let t = run(6, ITERS, |_, rng, t| match b.try_acquire() {
        Ok(p) => {
            let n = live.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(n, Ordering::SeqCst);
            assert!(n <= M, "{n} live permits, bulkhead {M}");
            thread::yield_now();
            live.fetch_sub(1, Ordering::SeqCst);
            match rng.percent() {
                0..30 => {
                    p.failure();
                    t.failures += 1;
                }
                30..80 => {
                    p.success();
                    t.successes += 1;
                }
                _ => {
                    drop(p);
                    t.ignored += 1;
                }
            }
        }
        Err(r) => {
            assert_eq!(r.reason(), RejectReason::BulkheadFull);
            t.reject(r.reason());
        }
    });
    assert!(peak.load(Ordering::SeqCst) <= M);
    assert_eq!(b.state(), State::Closed);
    assert_counters(&b, t);
    // No slot leaked.
    let held: Vec<_> = (0..M)
        .map(|_| b.try_acquire().expect("free slot"))
        .collect();
    assert_eq!(
        b.try_acquire().unwrap_err().reason(),
        RejectReason::BulkheadFull
    );
    drop(held);
}

#[test]
fn bulkhead_holds_while_the_state_changes_under_contention() {
    const M: u32 = 2;
    let b = Breaker::with_clock(
        "stress-d2",
        never_trips().max_concurrent(M).build().unwrap(),
        ManualClock::new(),
    );
    let live = AtomicU32::new(0);
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0u64;
            while !done.load(Ordering::Relaxed) {
                match i % 3 {
                    0 => b.metrics_only(),
                    1 => b.disable(),
                    _ => b.reset(),
                }
                i += 1;
                thread::yield_now();
            }
        });
        run(4, ITERS / 2, |_, rng, _| {
            if let Ok(p) = b.try_acquire() {
                let n = live.fetch_add(1, Ordering::SeqCst) + 1;
                assert!(n <= M, "{n} live permits, bulkhead {M}");
                thread::yield_now();
                live.fetch_sub(1, Ordering::SeqCst);
                if rng.percent() < 50 {
                    p.failure();
                } else {
                    drop(p);
                }
            }
        });
        done.store(true, Ordering::Relaxed);
    });
    b.reset();
    let held: Vec<_> = (0..M)
        .map(|_| b.try_acquire().expect("free slot"))
        .collect();
    assert_eq!(
        b.try_acquire().unwrap_err().reason(),
        RejectReason::BulkheadFull
    );
    drop(held);
}

// ---------------------------------------------------------------------------------------------
// (e) random operations: calls with permits held across manual changes, resets, policy swaps
//     to other window shapes and counter reads, on a clock a third thread moves
// ---------------------------------------------------------------------------------------------

/// The bulkhead of every policy `random_operations` swaps between.
const RANDOM_OPS_BULKHEAD: u32 = 3;

/// Policies of different window shapes, all with the same bulkhead.
fn random_ops_policies() -> Vec<Policy> {
    let base = || {
        Policy::builder()
            .min_calls(2)
            .failure_rate_threshold(0.5)
            .open_timeout(Duration::from_millis(50))
            .half_open_permits(2)
            .success_threshold(2)
            .max_concurrent(RANDOM_OPS_BULKHEAD)
    };
    vec![
        base().window(Window::count(4)).build().unwrap(),
        base().window(Window::count(100)).build().unwrap(),
        base()
            .window(Window::time(Duration::from_millis(200), 4))
            .build()
            .unwrap(),
        base()
            .window(Window::count(8))
            .consecutive_failures(3)
            .recovery(Recovery::ramp(Duration::from_millis(100), 0.5))
            .build()
            .unwrap(),
        base()
            .window(Window::count(16))
            .slow_calls(Duration::from_millis(1), 0.9)
            .build()
            .unwrap(),
    ]
}

#[test]
fn random_operations_keep_exact_accounting_and_every_limit() {
    random_operations(false);
}

/// The same on a compact breaker, whose parts share cache lines: the same protocols, the same
/// books.
#[test]
fn random_operations_on_a_compact_breaker_keep_exact_accounting_and_every_limit() {
    random_operations(true);
}

fn random_operations(compact: bool) {
    let clock = ManualClock::new();
    let policies = random_ops_policies();
    let builder = Breaker::builder("random", policies[0].clone()).clock(clock.clone());
    let b = if compact { builder.compact() } else { builder }.build();
    assert_eq!(b.is_compact(), compact);
    let out = AtomicU32::new(0);
    let stop = AtomicBool::new(false);
    let start = Barrier::new(2);
    let iters = ITERS;
    let total = thread::scope(|s| {
        let mover = s.spawn(|| {
            let mut rng = XorShift::new(99);
            while !stop.load(Ordering::Relaxed) {
                clock.advance(Duration::from_millis(rng.next() % 7));
                thread::yield_now();
            }
        });
        let workers: Vec<_> = (0..2u64)
            .map(|i| {
                let (b, out, policies, start) = (&b, &out, &policies, &start);
                s.spawn(move || {
                    let mut rng = XorShift::new(i + 11);
                    let mut t = Tally::default();
                    let mut held = Vec::new();
                    // The counters this thread read last: the monotonic ones never go back.
                    let mut last = b.metrics().counters;
                    start.wait();
                    for _ in 0..iters {
                        match rng.percent() {
                            0..40 => match b.try_acquire() {
                                Ok(p) => {
                                    let now_out = out.fetch_add(1, Ordering::SeqCst) + 1;
                                    assert!(now_out <= RANDOM_OPS_BULKHEAD, "bulkhead exceeded");
                                    held.push(p);
                                    if held.len() > 2 {
                                        out.fetch_sub(1, Ordering::SeqCst);
                                        held.remove(0).success();
                                        t.successes += 1;
                                    }
                                }
                                Err(r) => t.reject(r.reason()),
                            },
                            40..75 => {
                                if held.is_empty() {
                                    continue;
                                }
                                let p = held.swap_remove(rng.next() as usize % held.len());
                                // Counted as given back before it is: the bulkhead check above
                                // then never sees a slot freed that the count still holds.
                                out.fetch_sub(1, Ordering::SeqCst);
                                match rng.percent() {
                                    0..45 => {
                                        p.success();
                                        t.successes += 1;
                                    }
                                    45..85 => {
                                        p.failure();
                                        t.failures += 1;
                                    }
                                    85..92 => {
                                        p.record(Outcome::Ignored);
                                        t.ignored += 1;
                                    }
                                    _ => {
                                        drop(p);
                                        t.ignored += 1;
                                    }
                                }
                            }
                            75..82 => {
                                if held.len() >= 2 {
                                    continue;
                                }
                                let fail = rng.percent() < 50;
                                match b.call(|| {
                                    let now_out = out.fetch_add(1, Ordering::SeqCst) + 1;
                                    out.fetch_sub(1, Ordering::SeqCst);
                                    assert!(now_out <= RANDOM_OPS_BULKHEAD, "bulkhead exceeded");
                                    if fail { Err(()) } else { Ok(()) }
                                }) {
                                    Ok(()) => t.successes += 1,
                                    Err(CallError::Failed(())) => t.failures += 1,
                                    Err(CallError::Rejected(r)) => t.reject(r.reason()),
                                }
                            }
                            82..85 => b.reset(),
                            85..86 => b.force_open(),
                            86..87 => b.metrics_only(),
                            87..90 => {
                                b.set_policy(
                                    policies[rng.next() as usize % policies.len()].clone(),
                                );
                            }
                            90..95 => {
                                let m = b.metrics();
                                assert_eq!(m.admitted, m.successes + m.failures + m.ignored);
                                assert!(m.admitted < 1 << 40 && m.rejected < 1 << 40, "{m:?}");
                                let c = m.counters;
                                assert!(
                                    c.admitted >= last.admitted
                                        && c.failures >= last.failures
                                        && c.ignored >= last.ignored
                                        && c.slow >= last.slow
                                        && c.rejected >= last.rejected,
                                    "a counter went back: {last:?} then {c:?}"
                                );
                                last = c;
                            }
                            _ => {
                                let s = b.saved_state();
                                assert!(s.counters.admitted < 1 << 40, "{s:?}");
                                assert!(s.counters.failures <= s.counters.admitted, "{s:?}");
                            }
                        }
                    }
                    out.fetch_sub(held.len() as u32, Ordering::SeqCst);
                    t.ignored += held.len() as u64;
                    drop(held);
                    t
                })
            })
            .collect();
        let total = workers
            .into_iter()
            .map(|w| w.join().expect("worker panicked"))
            .fold(Tally::default(), Tally::add);
        stop.store(true, Ordering::Relaxed);
        mover.join().expect("clock thread panicked");
        total
    });
    assert_counters(&b, total);

    // Every state that time ends, ends: no probe slot, bulkhead slot or ramp is left stuck.
    if matches!(b.state(), State::ForcedOpen | State::MetricsOnly) {
        b.reset();
    }
    for _ in 0..1_000 {
        if b.state() == State::Closed {
            break;
        }
        clock.advance(Duration::from_millis(200));
        let _ = b.call(|| Ok::<_, ()>(()));
    }
    assert_eq!(
        b.state(),
        State::Closed,
        "the breaker closes once time passes"
    );
}
