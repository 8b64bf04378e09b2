//! The timed `Open` word (rule 6 in `fusebox_engine::docs::rules`, with the timer thread running).
//!
//! The thread whose exchange opens the breaker publishes the deadline (`open_until`, then
//! `open_epoch`), then marks the word timed with a second exchange and hands the deadline to
//! the timer. A rejection that sees the mark decides from the word alone and reads the
//! deadline without checking `open_epoch`; under loom the engine asserts that such a deadline
//! is never an earlier episode's. There is no timer thread under loom: the breakers here run
//! on a [`ManualClock::with_model_timer`] clock and a model thread plays the timer.
#![cfg(loom)]

use std::time::Duration;

use fusebox_engine::{Breaker, ManualClock, Policy, RejectReason, State, Window};
use loom::thread;
use loom_tests::check;

/// One failure opens it for 10 s; one probe success closes it.
fn one_call_policy() -> Policy {
    Policy::builder()
        .window(Window::count(1))
        .min_calls(1)
        .open_timeout(Duration::from_secs(10))
        .half_open_permits(1)
        .success_threshold(1)
        .build()
        .expect("valid policy")
}

/// A closed breaker that one failure opens for 10 s, its deadline watched by a model timer.
fn timed_breaker() -> Breaker {
    Breaker::with_clock("timed", one_call_policy(), ManualClock::with_model_timer())
}

/// A thread that makes one failing call (rejected if the breaker is already open).
fn fail_once(b: &Breaker) -> thread::JoinHandle<()> {
    let b = b.clone();
    thread::spawn(move || drop(b.call(|| Err::<(), _>("down"))))
}

/// One acquire: a permit is dropped (recorded as ignored), a rejection must be `Open`'s.
/// Returns whether it was admitted.
fn acquire_once(b: &Breaker) -> bool {
    match b.try_acquire() {
        Ok(permit) => {
            drop(permit);
            true
        }
        Err(rejected) => {
            assert_eq!(rejected.reason(), RejectReason::Open);
            assert_eq!(rejected.state(), State::Open);
            false
        }
    }
}

#[test]
fn a_rejection_racing_the_trip_reads_a_published_deadline() {
    check(|| {
        let b = timed_breaker();
        let tripper = fail_once(&b);
        let caller = {
            let b = b.clone();
            thread::spawn(move || (acquire_once(&b), acquire_once(&b)))
        };
        tripper.join().unwrap();
        let (first, second) = caller.join().unwrap();
        assert!(first || !second, "admitted after a rejection while open");
        // The opener marked the word before it returned: from here, rejections are timed.
        assert_eq!(b.state(), State::Open);
        assert!(!acquire_once(&b));
        let m = b.metrics();
        assert_eq!(m.admitted + m.rejected, 4);
        assert_eq!(m.rejected, 1 + u64::from(!first) + u64::from(!second));
    });
}

#[test]
fn the_timer_firing_during_the_trip_is_never_lost() {
    check(|| {
        let b = timed_breaker();
        let tripper = fail_once(&b);
        let timer = {
            let b = b.clone();
            thread::spawn(move || b.loom_timer_fires())
        };
        let caller = {
            let b = b.clone();
            thread::spawn(move || {
                acquire_once(&b);
            })
        };
        tripper.join().unwrap();
        caller.join().unwrap();
        if !timer.join().unwrap() {
            // The timer ran before any deadline was published: it fires again, as the
            // thread would at the deadline it is handed.
            assert!(b.loom_timer_fires());
        }
        // The episode has expired, whether before, during or after the mark: the next
        // acquire is a probe.
        let probe = b.try_acquire().expect("a probe after the deadline");
        assert_eq!(b.state(), State::HalfOpen);
        probe.success();
        assert_eq!(b.state(), State::Closed);
    });
}

/// One thread trips the breaker while another resets it and trips it again, so the first
/// thread's exchange into `Open` can be followed by a whole newer episode before it publishes
/// its deadline, and its failure can land in the window the reset cleared. Whatever the
/// interleaving, the breaker ends open (each thread's failure alone fills the one-call window)
/// with its own episode's deadline published (`open_remaining` is only known for the current
/// episode), rejects, and moves on when its period ends. Each of three things is needed for
/// this: a superseded publication is dropped (`publish_episode`), a reset clears the window
/// again when its exchange fails, and a trip judged in an episode that has ended judges the
/// current window again (`trip_judged`).
fn a_stalled_opener_never_overwrites_a_newer_episode(clock: fn() -> ManualClock, timer: bool) {
    check(move || {
        let clock = clock();
        let b = Breaker::with_clock("episodes", one_call_policy(), clock.clone());
        let events = b.subscribe();
        let first = fail_once(&b);
        let second = {
            let b = b.clone();
            thread::spawn(move || {
                b.reset();
                drop(b.call(|| Err::<(), _>("down")));
            })
        };
        first.join().unwrap();
        second.join().unwrap();
        let moves: Vec<_> = events
            .try_iter()
            .map(|t| (t.from, t.to, t.reason))
            .collect();
        assert_eq!(b.state(), State::Open, "{moves:?} {:?}", b.metrics());
        assert_eq!(b.open_remaining(), Some(Duration::from_secs(10)));
        assert!(!acquire_once(&b));
        if timer {
            assert!(b.loom_timer_fires());
        } else {
            clock.advance(Duration::from_secs(10));
        }
        assert!(b.try_acquire().is_ok(), "the episode never ended");
    });
}

#[test]
fn a_stalled_opener_never_overwrites_a_newer_episode_on_a_plain_clock() {
    a_stalled_opener_never_overwrites_a_newer_episode(ManualClock::new, false);
}

#[test]
fn a_stalled_opener_never_overwrites_a_newer_episode_with_the_timer() {
    a_stalled_opener_never_overwrites_a_newer_episode(ManualClock::with_model_timer, true);
}

/// A call admitted while closed fails only after the breaker has opened, probed and closed
/// again, and the closing thread's next call also fails. The late failure may land in the window
/// the close cleared, and is judged while the word is still half-open, which cannot trip; the
/// thread that closed the breaker then judges its new window, so the breaker ends open (either
/// failure alone fills the one-call window).
#[test]
fn a_failure_from_before_the_trip_is_judged_in_the_window_it_lands_in() {
    check(|| {
        let clock = ManualClock::new();
        let b = Breaker::with_clock("late", one_call_policy(), clock.clone());
        let late = {
            let b = b.clone();
            // Admitted if it comes before the trip; rejected otherwise (then it adds nothing).
            thread::spawn(move || {
                if let Ok(permit) = b.try_acquire() {
                    permit.failure();
                }
            })
        };
        drop(b.call(|| Err::<(), _>("down")));
        if b.open_remaining().is_none() {
            // The other thread tripped the breaker and has not published its deadline yet: not
            // the case this model is about, and no probe can be counted on before it has.
            late.join().unwrap();
            return;
        }
        clock.advance(Duration::from_secs(10));
        let Ok(probe) = b.try_acquire() else {
            // The other thread's acquire came after the period and took the probe.
            late.join().unwrap();
            return;
        };
        probe.success();
        drop(b.call(|| Err::<(), _>("down")));
        late.join().unwrap();
        assert_eq!(b.state(), State::Open, "{:?}", b.metrics());
    });
}
