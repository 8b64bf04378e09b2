//! Following the fleet: opening a breaker because other instances of it (the same breaker in
//! other processes) opened it.
//!
//! # Synchronization
//!
//! None of its own: the follow is the exchange of a trip from whatever word it finds, and the
//! deadline is published by the same protocol as a judged trip's (transition.rs).

use std::time::Duration;

use super::Breaker;
use crate::clock::duration_nanos;

impl Breaker {
    /// Opens the breaker because other instances of it in the fleet opened it, for
    /// `remaining`: what is left of their open period. Returns whether this call opened it.
    ///
    /// It acts only in the states where outcomes trip the breaker, `Closed` and `Recovering`,
    /// and opens it as a trip from that state would (a trip from `Recovering` keeps the
    /// backoff step), with the reason [`TransitionReason::Fleet`](crate::TransitionReason::Fleet)
    /// in the [`history`](Self::history), to subscribers and in `tracing`. The open period is
    /// `remaining` from now, no longer than the longest period the policy in force draws (its
    /// open period at that step, stretched by the whole jitter), and no shorter than a
    /// Retry-After a failure asked for. After it the breaker goes half-open and probes like
    /// any open breaker.
    ///
    /// In any other state (already `Open`, `HalfOpen` probing, `ForcedOpen`, `Disabled`,
    /// `MetricsOnly`) it does nothing and returns `false`. Racing a trip, or another follow,
    /// exactly one of them opens the breaker. The policy's [`fleet`](crate::Policy::fleet)
    /// mode is for a fleet sync to read when it decides to call this; the method itself opens
    /// the breaker whatever the mode says.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_engine::{Breaker, ManualClock, Policy, State, TransitionReason};
    ///
    /// let clock = ManualClock::new();
    /// let b = Breaker::with_clock("db", Policy::default(), clock.clone());
    /// assert!(b.follow_open(Duration::from_secs(12)));
    /// assert_eq!(b.state(), State::Open);
    /// assert_eq!(b.history()[0].reason, TransitionReason::Fleet);
    /// assert_eq!(b.open_remaining(), Some(Duration::from_secs(12)));
    ///
    /// // Already open: nothing to follow, and the deadline stays.
    /// assert!(!b.follow_open(Duration::from_secs(20)));
    /// assert_eq!(b.open_remaining(), Some(Duration::from_secs(12)));
    ///
    /// // Then it probes like any open breaker.
    /// clock.advance(Duration::from_secs(12));
    /// b.try_acquire().expect("a probe").success();
    /// assert_eq!(b.state(), State::HalfOpen);
    /// ```
    pub fn follow_open(&self, remaining: Duration) -> bool {
        self.inner.follow_open(duration_nanos(remaining))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::{Arc, Barrier};
    use std::thread;
    use std::time::Duration;

    use crate::{Breaker, ManualClock, Policy, Recovery, State, TransitionReason, Window};

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// One failure trips it; open 10 s, 20 s after a failed probe; one probe success ends
    /// half-open, into a 10 s ramp.
    fn policy() -> Policy {
        Policy::builder()
            .window(Window::count(1))
            .min_calls(1)
            .open_timeout(secs(10))
            .backoff(crate::Backoff::exponential(2.0, secs(40)))
            .half_open_permits(1)
            .success_threshold(1)
            .recovery(Recovery::ramp(secs(10), 0.5))
            .build()
            .unwrap()
    }

    fn breaker() -> (Breaker, ManualClock) {
        let clock = ManualClock::new();
        (Breaker::with_clock("fleet", policy(), clock.clone()), clock)
    }

    fn moves(b: &Breaker) -> Vec<(State, State, TransitionReason)> {
        b.history()
            .iter()
            .map(|t| (t.from, t.to, t.reason))
            .collect()
    }

    /// Trips, fails a probe (step 1), then passes one: `Recovering` at step 1.
    fn recovering(b: &Breaker, clock: &ManualClock) {
        let _ = b.call(|| Err::<(), _>("down"));
        clock.advance(secs(10));
        b.try_acquire().unwrap().failure();
        clock.advance(secs(20));
        b.try_acquire().unwrap().success();
        assert_eq!((b.state(), b.backoff_step()), (State::Recovering, 1));
    }

    #[test]
    fn rule_16_a_follow_opens_a_closed_breaker_for_the_time_given() {
        let (b, clock) = breaker();
        let events = b.subscribe();
        assert!(b.follow_open(secs(4)));
        assert_eq!((b.state(), b.backoff_step()), (State::Open, 0));
        assert_eq!(
            moves(&b),
            [(State::Closed, State::Open, TransitionReason::Fleet)]
        );
        assert_eq!(events.try_recv().unwrap().reason, TransitionReason::Fleet);
        assert_eq!(b.open_remaining(), Some(secs(4)));
        assert!(b.try_acquire().is_err());
        clock.advance(secs(4));
        b.try_acquire().expect("a probe").success();
        assert_eq!(b.state(), State::Recovering);
    }

    #[test]
    fn rule_16_a_follow_opens_a_recovering_breaker_keeping_its_step() {
        let (b, clock) = breaker();
        recovering(&b, &clock);
        assert!(b.follow_open(secs(5)));
        assert_eq!((b.state(), b.backoff_step()), (State::Open, 1));
        assert_eq!(
            moves(&b).last(),
            Some(&(State::Recovering, State::Open, TransitionReason::Fleet))
        );
        assert_eq!(b.open_remaining(), Some(secs(5)));
    }

    #[test]
    fn rule_16_a_follow_does_nothing_in_the_states_where_outcomes_do_not_trip() {
        let check = |b: &Breaker, state: State| {
            let before = (b.history().len(), b.open_remaining());
            assert_eq!(b.state(), state);
            assert!(!b.follow_open(secs(5)), "{state}");
            assert_eq!(b.state(), state);
            assert_eq!((b.history().len(), b.open_remaining()), before, "{state}");
        };
        let (b, clock) = breaker();
        let _ = b.call(|| Err::<(), _>("down"));
        check(&b, State::Open);
        clock.advance(secs(10));
        let probe = b.try_acquire().unwrap();
        check(&b, State::HalfOpen);
        drop(probe);
        b.force_open();
        check(&b, State::ForcedOpen);
        b.disable();
        check(&b, State::Disabled);
        b.metrics_only();
        check(&b, State::MetricsOnly);
        b.reset();
        assert!(b.follow_open(secs(5)), "closed again");
    }

    #[test]
    fn rule_16_a_follow_longer_than_the_longest_open_period_is_clamped() {
        let (b, clock) = breaker();
        assert!(b.follow_open(secs(3600)));
        assert_eq!(b.open_remaining(), Some(secs(10)), "step 0: open_timeout");
        b.reset();
        recovering(&b, &clock);
        assert!(b.follow_open(Duration::MAX));
        assert_eq!(b.open_remaining(), Some(secs(20)), "step 1: doubled");
        // With jitter the longest period is stretched by the whole of it.
        let jittered = policy().to_builder().jitter(0.5).build().unwrap();
        let b = Breaker::with_clock("fleet", jittered, ManualClock::new());
        assert!(b.follow_open(secs(3600)));
        assert_eq!(b.open_remaining(), Some(secs(15)));
    }

    #[test]
    fn rule_16_a_follow_of_zero_opens_and_the_next_acquire_probes() {
        let (b, _clock) = breaker();
        assert!(b.follow_open(Duration::ZERO));
        assert_eq!(b.open_remaining(), Some(Duration::ZERO));
        assert!(b.try_acquire().is_ok());
        assert_eq!(b.state(), State::HalfOpen);
    }

    #[test]
    fn rule_16_a_trip_and_a_follow_racing_leave_one_open_transition() {
        for _ in 0..500 {
            let (b, _clock) = breaker();
            let start = Arc::new(Barrier::new(2));
            let tripper = {
                let (b, start) = (b.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    // Rejected if the follow came first.
                    drop(b.call(|| Err::<(), _>("down")));
                })
            };
            start.wait();
            let followed = b.follow_open(secs(4));
            tripper.join().unwrap();
            let moves = moves(&b);
            let why = if followed {
                TransitionReason::Fleet
            } else {
                TransitionReason::FailureRate
            };
            assert_eq!(moves, [(State::Closed, State::Open, why)]);
            let left = if followed { secs(4) } else { secs(10) };
            assert_eq!(b.open_remaining(), Some(left), "the winner's deadline");
        }
    }
}
