//! Rule 6 (`fusebox_engine::docs::rules`) on the real clock: an open breaker made by `Breaker::new`
//! is moved on by the process-wide timer thread. Its rejections read no clock (the word is marked
//! timed), so if the timer never expired the episode the breaker would stay open: these tests would
//! hang until their bound and fail.

use std::thread;
use std::time::{Duration, Instant};

use fusebox_engine::{Backoff, Breaker, Policy, RejectReason, State, TransitionReason, Window};

const OPEN_FOR: Duration = Duration::from_millis(20);
/// How long a test waits for the timer before failing: far beyond any open period here, so
/// only a timer that never fires reaches it.
const PATIENCE: Duration = Duration::from_secs(10);

fn policy() -> Policy {
    Policy::builder()
        .window(Window::count(1))
        .min_calls(1)
        .open_timeout(OPEN_FOR)
        .backoff(Backoff::exponential(2.0, Duration::from_secs(1)))
        .half_open_permits(1)
        .success_threshold(1)
        .build()
        .expect("valid policy")
}

/// Asks until admitted; every rejection on the way must be `Open`'s, with a retry time no
/// longer than `period`. Returns the permit and the rejections counted.
fn wait_for_probe(b: &Breaker, period: Duration) -> (fusebox_engine::Permit<'_>, u64) {
    let started = Instant::now();
    let mut rejected = 0;
    loop {
        match b.try_acquire() {
            Ok(permit) => return (permit, rejected),
            Err(r) => {
                rejected += 1;
                assert_eq!((r.reason(), r.state()), (RejectReason::Open, State::Open));
                let retry = r
                    .retry_after()
                    .expect("an open breaker knows its retry time");
                assert!(retry <= period, "retry after {retry:?}, period {period:?}");
                assert!(
                    started.elapsed() < PATIENCE,
                    "still open after {PATIENCE:?}: the timer never moved it on"
                );
                thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

#[test]
fn rule_06_the_timer_moves_an_open_breaker_on_and_backs_off() {
    let b = Breaker::new("timer-rule-6", policy());
    let events = b.subscribe();
    let tripped = Instant::now();
    assert!(b.call(|| Err::<(), _>("down")).is_err());
    assert_eq!(b.state(), State::Open);

    // First episode: the probe succeeds and closes the breaker. An acquire made before the
    // deadline is rejected (one made after it, on a loaded machine, is the probe).
    let first = b.try_acquire();
    let before_deadline = tripped.elapsed() < OPEN_FOR;
    let (probe, rejected_1) = match first {
        Err(r) => {
            assert_eq!((r.reason(), r.state()), (RejectReason::Open, State::Open));
            let (probe, rejected) = wait_for_probe(&b, OPEN_FOR);
            (probe, rejected + 1)
        }
        Ok(probe) => {
            assert!(!before_deadline, "admitted before the open period ended");
            (probe, 0)
        }
    };
    assert_eq!(b.state(), State::HalfOpen);
    probe.success();
    assert_eq!(b.state(), State::Closed);

    // Second episode: the probe fails, the breaker re-opens for twice as long, and the timer
    // moves that episode on too.
    assert!(b.call(|| Err::<(), _>("down")).is_err());
    let (probe, rejected_2) = wait_for_probe(&b, OPEN_FOR);
    probe.failure();
    assert_eq!(b.state(), State::Open);
    let (probe, rejected_3) = wait_for_probe(&b, 2 * OPEN_FOR);
    probe.success();
    assert_eq!(b.state(), State::Closed);

    let m = b.metrics();
    assert_eq!(m.rejected, rejected_1 + rejected_2 + rejected_3);
    assert_eq!((m.admitted, m.successes, m.failures), (5, 2, 3));
    let timeouts = events
        .try_iter()
        .filter(|t| t.reason == TransitionReason::OpenTimeoutElapsed)
        .count();
    assert_eq!(timeouts, 3);
}

#[test]
fn many_breakers_opened_at_once_all_move_on() {
    // The timer keeps one queue for the process: every deadline in it must fire, whatever
    // order they were scheduled in.
    let breakers: Vec<_> = (0..50u32)
        .map(|i| {
            let p = Policy::builder()
                .window(Window::count(1))
                .min_calls(1)
                .open_timeout(Duration::from_millis(u64::from(50 - i)))
                .half_open_permits(1)
                .success_threshold(1)
                .build()
                .expect("valid policy");
            Breaker::new(format!("timer-many-{i}"), p)
        })
        .collect();
    for b in &breakers {
        assert!(b.call(|| Err::<(), _>("down")).is_err());
        assert_eq!(b.state(), State::Open);
    }
    for b in &breakers {
        let (probe, _) = wait_for_probe(b, Duration::from_millis(50));
        probe.success();
        assert_eq!(b.state(), State::Closed, "{}", b.name());
    }
}
