//! Following the fleet racing a judged trip and `reset` (rule 16 in
//! `fusebox_engine::docs::rules`).
//!
//! `follow_open` is a trip from whatever word it finds (`Closed` or `Recovering`), published
//! by the same protocol as a judged trip. Racing a failure that trips the breaker, exactly one
//! of the two enters `Open`, and the deadline published is the winner's. Racing `reset`, a
//! follow stalled between its exchange and its publication never leaves its deadline on the
//! reset's episode, nor on a later one. A subscriber taken before the threads start sees
//! every transition; transitions of racing threads may reach it in either order, so the
//! models count them rather than read them in order.
#![cfg(loom)]

use std::time::Duration;

use fusebox_engine::{
    Breaker, ManualClock, Policy, RejectReason, State, Transition, TransitionReason, Window,
};
use loom::thread;
use loom_tests::check;

/// The policy's open period, what a trip publishes.
const OPEN_FOR: Duration = Duration::from_secs(10);
/// What the follows are handed: shorter than `OPEN_FOR`, so the two deadlines differ.
const FOLLOW_FOR: Duration = Duration::from_secs(4);

/// One failure trips it (window 1, min_calls 1), open for `OPEN_FOR`.
fn one_call_policy() -> Policy {
    Policy::builder()
        .window(Window::count(1))
        .min_calls(1)
        .open_timeout(OPEN_FOR)
        .build()
        .expect("valid policy")
}

type Move = (State, State, TransitionReason);

fn moves(events: impl Iterator<Item = Transition>) -> Vec<Move> {
    events.map(|t| (t.from, t.to, t.reason)).collect()
}

/// How many of `moves` go into `Open`, and for `reason`.
fn into_open(moves: &[Move], reason: TransitionReason) -> usize {
    moves
        .iter()
        .filter(|&&(_, to, why)| to == State::Open && why == reason)
        .count()
}

/// One failing call on its own thread; true if it was admitted (it is rejected only by an
/// open breaker).
fn spawn_failure(b: &Breaker) -> thread::JoinHandle<bool> {
    let b = b.clone();
    thread::spawn(
        move || match b.call(|| Err::<(), _>("down")).unwrap_err().rejected() {
            None => true,
            Some(r) => {
                assert_eq!(r.reason(), RejectReason::Open);
                false
            }
        },
    )
}

/// A failure that trips the breaker races a follow: exactly one transition into `Open`, made
/// by the follow if and only if it says so, and the deadline is the winner's. Then the open
/// period ends as any other's.
fn a_follow_races_a_tripping_failure(clock: fn() -> ManualClock, timer: bool) {
    check(move || {
        let clock = clock();
        let b = Breaker::with_clock("fleet", one_call_policy(), clock.clone());
        let events = b.subscribe();
        let failure = spawn_failure(&b);
        let followed = b.follow_open(FOLLOW_FOR);
        let admitted = failure.join().unwrap();
        let moves = moves(events.try_iter());
        let why = if followed {
            TransitionReason::Fleet
        } else {
            TransitionReason::FailureRate
        };
        assert_eq!(moves, [(State::Closed, State::Open, why)]);
        assert_eq!(b.state(), State::Open);
        // A rejected failure came after the follow had opened the breaker.
        assert!(admitted || followed, "{moves:?}");
        let m = b.metrics();
        assert_eq!(
            (m.admitted, m.failures, m.rejected),
            if admitted { (1, 1, 0) } else { (0, 0, 1) }
        );
        let left = if followed { FOLLOW_FOR } else { OPEN_FOR };
        assert_eq!(b.open_remaining(), Some(left), "the winner's deadline");
        if timer {
            assert!(b.loom_timer_fires());
        } else {
            clock.advance(left);
        }
        b.try_acquire()
            .expect("a probe after the deadline")
            .success();
        assert_eq!(b.state(), State::HalfOpen);
    });
}

#[test]
fn a_follow_races_a_tripping_failure_on_a_plain_clock() {
    a_follow_races_a_tripping_failure(ManualClock::new, false);
}

#[test]
fn a_follow_races_a_tripping_failure_with_the_timer() {
    a_follow_races_a_tripping_failure(ManualClock::with_model_timer, true);
}

/// A follow races `reset` on a closed breaker. Either order finds the breaker closed, so the
/// follow always opens it: before the reset, the reset closes it again (and a publication
/// stalled past the reset is dropped); after it, it stays open for the follow's time.
#[test]
fn a_follow_races_reset() {
    check(|| {
        let b = Breaker::with_clock("fleet", one_call_policy(), ManualClock::new());
        let events = b.subscribe();
        let follower = {
            let b = b.clone();
            thread::spawn(move || b.follow_open(FOLLOW_FOR))
        };
        b.reset();
        assert!(follower.join().unwrap(), "both orders find it closed");
        let moves = moves(events.try_iter());
        assert_eq!(into_open(&moves, TransitionReason::Fleet), 1, "{moves:?}");
        match b.state() {
            State::Open => {
                assert_eq!(
                    moves,
                    [(State::Closed, State::Open, TransitionReason::Fleet)]
                );
                assert_eq!(b.open_remaining(), Some(FOLLOW_FOR));
                assert!(b.try_acquire().is_err());
            }
            State::Closed => {
                assert_eq!(moves.len(), 2, "{moves:?}");
                assert!(moves.contains(&(State::Open, State::Closed, TransitionReason::Reset)));
                assert_eq!(b.open_remaining(), None);
                assert!(b.try_acquire().is_ok());
            }
            other => panic!("{other} after {moves:?}"),
        }
    });
}

/// A follow races a thread that resets the breaker and then trips it with a failure, so the
/// follow's exchange may be followed by a whole newer episode before it publishes, or may
/// find the newer episode open. Whatever the interleaving, the breaker ends open, each episode
/// was entered once, and the deadline published is that of the last episode's opener.
#[test]
fn a_follow_races_a_reset_and_a_trip() {
    check(|| {
        let b = Breaker::with_clock("fleet", one_call_policy(), ManualClock::new());
        let events = b.subscribe();
        let follower = {
            let b = b.clone();
            thread::spawn(move || b.follow_open(FOLLOW_FOR))
        };
        b.reset();
        let admitted = match b.call(|| Err::<(), _>("down")).unwrap_err().rejected() {
            None => true,
            Some(r) => {
                assert_eq!(r.reason(), RejectReason::Open);
                false
            }
        };
        let followed = follower.join().unwrap();
        let moves = moves(events.try_iter());
        assert_eq!(b.state(), State::Open, "{moves:?}");
        let (fleet, tripped) = (
            into_open(&moves, TransitionReason::Fleet),
            into_open(&moves, TransitionReason::FailureRate),
        );
        assert_eq!(fleet, usize::from(followed), "{moves:?}");
        assert!(tripped <= 1, "{moves:?}");
        // Every episode opened once: each open but the last was closed by the reset.
        let reset = moves
            .iter()
            .filter(|m| **m == (State::Open, State::Closed, TransitionReason::Reset))
            .count();
        assert_eq!(fleet + tripped, reset + 1, "{moves:?}");
        assert!(followed || admitted, "someone opened it: {moves:?}");
        // The last episode is the failure's if it tripped it (a follow before the reset was
        // reset away), else the follow's (it came after the reset and won the failure).
        let left = if tripped == 1 { OPEN_FOR } else { FOLLOW_FOR };
        assert_eq!(b.open_remaining(), Some(left), "{moves:?}");
    });
}
