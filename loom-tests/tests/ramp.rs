//! The recovery ramp admits its share of concurrent acquires (rule 10 in
//! `fusebox_engine::docs::rules`).
//!
//! Every model takes a breaker through one failure (`Open`), its open period and one probe
//! success into `Recovering` with `Recovery::ramp(RAMP, share)`, and sets the clock before the
//! threads start: while they acquire, the clock stands still and every acquire sees one share
//! `p`. The ramp admits the `c`-th acquire (by its counter) iff `⌊(c+1)·p⌋ > ⌊c·p⌋`, so any `n`
//! acquires racing at share `p` must admit `⌊p·n⌋` or `⌈p·n⌉` of them, the rest rejected with
//! `RejectReason::Ramp`. At the end of the ramp every acquire is admitted and one closes it.
#![cfg(loom)]

use std::time::Duration;

use fusebox_engine::{
    Breaker, ManualClock, Policy, Recovery, RejectReason, State, TransitionReason, Window,
};
use loom::thread;
use loom_tests::check;

const OPEN_FOR: Duration = Duration::from_secs(1);
const RAMP: Duration = Duration::from_secs(10);

/// A breaker tripped by one failure, with its open period passed: the next acquire is the
/// one probe, and its success starts a ramp from `start_share` over `RAMP`.
fn expired_open(start_share: f64) -> (Breaker, ManualClock) {
    let clock = ManualClock::new();
    let policy = Policy::builder()
        .window(Window::count(1))
        .min_calls(1)
        .open_timeout(OPEN_FOR)
        .half_open_permits(1)
        .success_threshold(1)
        .recovery(Recovery::ramp(RAMP, start_share))
        .build()
        .expect("valid policy");
    let breaker = Breaker::with_clock("ramp", policy, clock.clone());
    let _ = breaker.call(|| Err::<(), _>("down"));
    assert_eq!(breaker.state(), State::Open);
    clock.advance(OPEN_FOR);
    (breaker, clock)
}

/// A breaker at the start of its ramp (elapsed 0, share `start_share`).
fn recovering(start_share: f64) -> (Breaker, ManualClock) {
    let (breaker, clock) = expired_open(start_share);
    breaker.try_acquire().expect("the probe").success();
    assert_eq!(breaker.state(), State::Recovering);
    (breaker, clock)
}

/// Tries `tries` acquires in a row, recording a success for each one admitted.
/// Returns (admitted, rejected by the ramp); any other rejection must be `HalfOpenFull`
/// (a thread that arrived before the ramp started).
fn acquire(breaker: &Breaker, tries: usize) -> (u64, u64) {
    let (mut admitted, mut ramped) = (0, 0);
    for _ in 0..tries {
        match breaker.try_acquire() {
            Ok(permit) => {
                admitted += 1;
                permit.success();
            }
            Err(rejected) => match rejected.reason() {
                RejectReason::Ramp => {
                    assert_eq!(rejected.state(), State::Recovering);
                    ramped += 1;
                }
                reason => {
                    assert_eq!(reason, RejectReason::HalfOpenFull);
                    assert_eq!(rejected.state(), State::HalfOpen);
                }
            },
        }
    }
    (admitted, ramped)
}

/// A thread running [`acquire`].
type Acquirer = thread::JoinHandle<(u64, u64)>;

/// One thread per entry of `tries`, each acquiring that many times.
fn spawn_acquirers(breaker: &Breaker, tries: &[usize]) -> Vec<Acquirer> {
    tries
        .iter()
        .map(|&n| {
            let b = breaker.clone();
            thread::spawn(move || acquire(&b, n))
        })
        .collect()
}

/// The summed (admitted, rejected by the ramp) of the threads.
fn join_acquirers(handles: Vec<Acquirer>) -> (u64, u64) {
    handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .fold((0, 0), |(a, r), (da, dr)| (a + da, r + dr))
}

/// [`spawn_acquirers`], then [`join_acquirers`].
fn acquire_concurrently(breaker: &Breaker, tries: &[usize]) -> (u64, u64) {
    join_acquirers(spawn_acquirers(breaker, tries))
}

/// `admitted` of `n` acquires at share `p` is `⌊p·n⌋` or `⌈p·n⌉`.
fn assert_share(admitted: u64, n: u64, p: f64) {
    let exact = p * n as f64;
    assert!(
        admitted as f64 >= exact.floor() && admitted as f64 <= exact.ceil(),
        "{admitted} of {n} admitted at share {p}"
    );
}

#[test]
fn half_share_admits_two_of_four() {
    loom::model(|| {
        let (b, _clock) = recovering(0.5);
        let (admitted, ramped) = acquire_concurrently(&b, &[2, 2]);
        assert_eq!((admitted, ramped), (2, 2));
        assert_eq!(b.state(), State::Recovering);
        let m = b.metrics();
        // The tripping failure and the probe before the threads.
        assert_eq!((m.admitted, m.successes, m.rejected), (2 + 2, 1 + 2, 2));
    });
}

#[test]
fn half_share_over_three_threads() {
    check(|| {
        let (b, _clock) = recovering(0.5);
        let (admitted, ramped) = acquire_concurrently(&b, &[1, 1, 1]);
        assert_eq!(admitted + ramped, 3);
        assert_share(admitted, 3, 0.5);
    });
}

#[test]
fn mid_ramp_share_admits_three_of_five() {
    check(|| {
        // Half-way through a ramp from 0.2: share 0.6, so five acquires admit exactly three.
        let (b, clock) = recovering(0.2);
        clock.advance(RAMP / 2);
        let (admitted, ramped) = acquire_concurrently(&b, &[2, 2, 1]);
        assert_eq!((admitted, ramped), (3, 2));
        assert_eq!(b.state(), State::Recovering);
    });
}

#[test]
fn acquires_racing_the_ramp_start_keep_the_share() {
    check(|| {
        // The probe's success moves the breaker into `Recovering` while two threads acquire
        // twice each: an acquire that still sees `HalfOpen` is turned away (the one probe slot
        // is taken), and the ones that reach the ramp see share 0.5 whether or not the ramp's
        // start is published yet (the clock stands still at the start).
        let (b, _clock) = expired_open(0.5);
        let probe = b.try_acquire().expect("the probe");
        let handles = spawn_acquirers(&b, &[2, 2]);
        probe.success();
        let (admitted, ramped) = join_acquirers(handles);
        assert_share(admitted, admitted + ramped, 0.5);
        assert_eq!(b.state(), State::Recovering);
    });
}

#[test]
fn acquires_at_the_ramp_end_close_it_once() {
    loom::model(|| {
        let (b, clock) = recovering(0.5);
        let events = b.subscribe();
        clock.advance(RAMP);
        let (admitted, ramped) = acquire_concurrently(&b, &[1, 1]);
        assert_eq!((admitted, ramped), (2, 0));
        assert_eq!(b.state(), State::Closed);
        let moves: Vec<_> = events
            .try_iter()
            .map(|t| (t.from, t.to, t.reason))
            .collect();
        assert_eq!(
            moves,
            [(
                State::Recovering,
                State::Closed,
                TransitionReason::RampComplete
            )]
        );
    });
}
