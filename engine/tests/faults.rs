//! Faults around the breaker: user code that panics, futures cancelled at every await point,
//! a clock that leaps years ahead, stands still or steps back, subscribers that fall behind or
//! go away. The breaker must keep its books exact and never stick or panic itself.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use fusebox_engine::{
    Backoff, Breaker, CallError, ManualClock, Metrics, Outcome, Policy, Recovery, RejectReason,
    SUBSCRIBER_CAPACITY, State, Transition, TransitionReason, Window,
};

/// The payload of every panic this file causes on purpose.
const INJECTED: &str = "injected fault";

/// Keeps the panic hook quiet for the panics this file injects, and only for them.
fn quiet_injected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let injected = payload.downcast_ref::<&str>() == Some(&INJECTED)
                || payload
                    .downcast_ref::<String>()
                    .is_some_and(|s| s == INJECTED);
            if !injected {
                default(info);
            }
        }));
    });
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

fn build(b: fusebox_engine::PolicyBuilder) -> Policy {
    b.build().expect("valid policy")
}

/// `(admitted, successes, failures, ignored, rejected)`.
fn books(m: &Metrics) -> (u64, u64, u64, u64, u64) {
    (m.admitted, m.successes, m.failures, m.ignored, m.rejected)
}

fn reason(b: &Breaker) -> RejectReason {
    b.try_acquire().map(drop).unwrap_err().reason()
}

/// Whether the payload of a caught panic is the injected one, passed on unchanged.
fn is_injected(payload: &(dyn std::any::Any + Send)) -> bool {
    payload.downcast_ref::<&str>() == Some(&INJECTED)
}

// ---------------------------------------------------------------------------------------------
// Panics in user code
// ---------------------------------------------------------------------------------------------

fn panicking_call(b: &Breaker) -> std::thread::Result<Result<(), CallError<()>>> {
    catch_unwind(AssertUnwindSafe(|| {
        b.call(|| -> Result<(), ()> { panic!("{}", INJECTED) })
    }))
}

fn panicking_call_injected(b: &Breaker) {
    let payload = catch_unwind(AssertUnwindSafe(|| {
        b.call(|| -> Result<(), ()> { std::panic::panic_any(INJECTED) })
    }))
    .expect_err("the panic is resumed to the caller");
    assert!(is_injected(&*payload), "resumed with its own payload");
}

#[test]
fn panic_in_call_is_a_failure_frees_the_permit_and_is_resumed() {
    quiet_injected_panics();
    let b = Breaker::with_clock(
        "panics",
        build(
            Policy::builder()
                .window(Window::count(4))
                .min_calls(4)
                .max_concurrent(1),
        ),
        ManualClock::new(),
    );
    for n in 1..=3 {
        panicking_call_injected(&b);
        assert_eq!(books(&b.metrics()), (2 * n - 1, 0, n, n - 1, 0));
        // The bulkhead of 1 admits again: the permit was freed during the unwind.
        drop(b.try_acquire().expect("the slot was freed"));
    }
    // A formatted panic is resumed too (its payload is a String).
    assert!(panicking_call(&b).is_err());
    let m = b.metrics();
    assert_eq!(books(&m), (7, 0, 4, 3, 0));
    assert_eq!((m.window_calls, m.window_failures), (4, 4));
    assert_eq!(b.state(), State::Open, "4 failures of 4");
}

#[test]
fn panic_in_the_classifier_or_while_holding_a_permit_is_a_failure() {
    quiet_injected_panics();
    let b = Breaker::with_clock(
        "classify",
        build(
            Policy::builder()
                .window(Window::count(10))
                .min_calls(10)
                .max_concurrent(2),
        ),
        ManualClock::new(),
    );
    let payload = catch_unwind(AssertUnwindSafe(|| {
        b.call_with(
            || Ok::<_, ()>(1),
            |_| -> Outcome { std::panic::panic_any(INJECTED) },
        )
    }))
    .unwrap_err();
    assert!(is_injected(&*payload));
    let payload = catch_unwind(AssertUnwindSafe(|| {
        let _held = b.try_acquire().unwrap();
        let _also = b.try_acquire().unwrap();
        std::panic::panic_any(INJECTED);
    }))
    .unwrap_err();
    assert!(is_injected(&*payload));
    assert_eq!(books(&b.metrics()), (3, 0, 3, 0, 0));
    // Both bulkhead slots are free again.
    let (p, q) = (b.try_acquire().unwrap(), b.try_acquire().unwrap());
    drop((p, q));
}

#[test]
fn panic_on_another_thread_frees_its_permit_and_reaches_join() {
    quiet_injected_panics();
    let b = Breaker::with_clock(
        "threads",
        build(Policy::builder().max_concurrent(1)),
        ManualClock::new(),
    );
    let joined = std::thread::scope(|s| {
        s.spawn(|| b.call(|| -> Result<(), ()> { std::panic::panic_any(INJECTED) }))
            .join()
    });
    assert!(is_injected(&*joined.unwrap_err()));
    assert_eq!(books(&b.metrics()), (1, 0, 1, 0, 0));
    b.try_acquire().expect("the slot was freed").success();
}

/// A breaker on `clock` that is half-open with `permits` probe slots and `max` bulkhead slots.
fn half_open(permits: u32, max: Option<u32>, clock: &ManualClock) -> Breaker {
    let mut p = Policy::builder()
        .window(Window::count(1))
        .min_calls(1)
        .open_timeout(secs(10))
        .backoff(Backoff::exponential(2.0, secs(60)))
        .half_open_permits(permits)
        .success_threshold(permits);
    if let Some(max) = max {
        p = p.max_concurrent(max);
    }
    let b = Breaker::with_clock("half-open", build(p), clock.clone());
    b.try_acquire().unwrap().failure();
    clock.advance(secs(10));
    b
}

#[test]
fn panic_in_a_probe_reopens_with_backoff_and_frees_its_slots() {
    quiet_injected_panics();
    let clock = ManualClock::new();
    let b = half_open(2, Some(2), &clock);
    let other = b.try_acquire().expect("first probe");
    assert_eq!(b.state(), State::HalfOpen);
    panicking_call_injected(&b);
    assert_eq!(b.state(), State::Open, "one probe failure re-opens");
    let r = b.try_acquire().map(drop).unwrap_err();
    assert_eq!(
        (r.reason(), r.retry_after()),
        (RejectReason::Open, Some(secs(20))),
        "the re-open doubled the period"
    );
    // The other probe of that episode is still out and holds one slot (and a bulkhead slot).
    clock.advance(secs(20));
    let probe = b.try_acquire().expect("one slot of two is free");
    assert_eq!(reason(&b), RejectReason::HalfOpenFull);
    drop(other);
    panicking_call_injected(&b);
    assert_eq!(b.state(), State::Open);
    drop(probe);
    // failures: the first trip, two panicking probes; the two dropped probes: ignored.
    assert_eq!(books(&b.metrics()), (5, 0, 3, 2, 2));
    clock.advance(secs(40));
    b.try_acquire().unwrap().success();
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Closed, "nothing stuck after the panics");
}

// ---------------------------------------------------------------------------------------------
// Cancelled futures
// ---------------------------------------------------------------------------------------------

/// Pending once (after waking itself), then ready.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Work with `points` await points that each suspend, then `Ok` or `Err`.
async fn work(points: usize, ok: bool) -> Result<u32, &'static str> {
    for _ in 0..points {
        YieldOnce(false).await;
    }
    if ok { Ok(7) } else { Err("down") }
}

const POINTS: usize = 4;

/// Polls `fut` `k` times (each `Pending`), then drops it.
fn poll_then_drop<F: Future>(fut: F, k: usize) {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..k {
        assert!(fut.as_mut().poll(&mut cx).is_pending());
    }
}

/// Polls `fut` to completion.
fn complete<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[test]
fn future_cancelled_at_every_await_point_records_nothing_and_frees_its_slot() {
    let b = Breaker::with_clock(
        "async",
        build(
            Policy::builder()
                .window(Window::count(4))
                .min_calls(1)
                .max_concurrent(1),
        ),
        ManualClock::new(),
    );
    let mut ignored = 0;
    for ok in [true, false] {
        // 0 polls: never started, never asked the breaker. k polls: suspended at the k-th
        // await point, holding the permit.
        for k in 0..=POINTS {
            poll_then_drop(b.call_async(work(POINTS, ok)), k);
            ignored += (k > 0) as u64;
            let m = b.metrics();
            assert_eq!(books(&m), (ignored, 0, 0, ignored, 0), "ok {ok}, {k} polls");
            assert_eq!(m.window_calls, 0, "nothing entered the window");
            b.try_acquire()
                .expect("the bulkhead slot came back")
                .record(Outcome::Ignored);
            ignored += 1;
        }
    }
    // Run to the end, the outcome is recorded.
    assert_eq!(complete(b.call_async(work(POINTS, true))).unwrap(), 7);
    assert_eq!(b.metrics().successes, 1);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn probe_future_cancelled_at_every_await_point_gives_its_slot_back() {
    let clock = ManualClock::new();
    let b = half_open(1, None, &clock);
    let mut ignored = 0;
    for k in 1..=POINTS {
        poll_then_drop(b.call_async(work(POINTS, false)), k);
        ignored += 1;
        assert_eq!(
            b.state(),
            State::HalfOpen,
            "a cancelled probe neither fails nor succeeds"
        );
        let m = b.metrics();
        assert_eq!((m.failures, m.ignored), (1, ignored));
    }
    // While one is suspended, the only slot is taken.
    {
        let mut fut = pin!(b.call_async(work(POINTS, true)));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert_eq!(reason(&b), RejectReason::HalfOpenFull);
    }
    assert_eq!(complete(b.call_async(work(POINTS, true))).unwrap(), 7);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn panic_inside_a_future_is_a_failure() {
    quiet_injected_panics();
    let b = Breaker::with_clock(
        "async-panic",
        build(Policy::builder().max_concurrent(1)),
        ManualClock::new(),
    );
    let payload = catch_unwind(AssertUnwindSafe(|| {
        complete(b.call_async(async {
            YieldOnce(false).await;
            if INJECTED.is_empty() {
                return Ok::<(), ()>(());
            }
            std::panic::panic_any(INJECTED)
        }))
    }))
    .unwrap_err();
    assert!(is_injected(&*payload));
    assert_eq!(books(&b.metrics()), (1, 0, 1, 0, 0));
    drop(b.try_acquire().expect("the slot was freed"));
}

// ---------------------------------------------------------------------------------------------
// The clock: years ahead, standing still, stepping back
// ---------------------------------------------------------------------------------------------

#[test]
fn clock_leaping_a_century_ahead() {
    let clock = ManualClock::new();
    let policy = build(
        Policy::builder()
            .window(Window::time(secs(10), 10))
            .min_calls(2)
            .open_timeout(secs(30))
            .slow_calls(secs(1), 1.0)
            .half_open_permits(1)
            .success_threshold(1)
            .recovery(Recovery::ramp(secs(60), 0.5)),
    );
    let b = Breaker::with_clock("years", policy, clock.clone());
    clock.set(secs(1000));
    // A call that takes a century is slow. With a failure next to it, 1 of 2 failed: the
    // failure rate (0.5) trips.
    let p = b.try_acquire().unwrap();
    clock.advance(100 * YEAR);
    b.try_acquire().unwrap().failure();
    p.success();
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.metrics().slow, 1);
    assert_eq!(b.open_remaining(), Some(secs(30)));
    clock.advance(100 * YEAR);
    assert_eq!(b.open_remaining(), Some(Duration::ZERO));
    b.try_acquire().expect("a century later: a probe").success();
    assert_eq!(b.state(), State::Recovering);
    // The window is empty (rule 9), and the century-old outcomes are long gone anyway.
    assert_eq!(b.metrics().window_calls, 0);
    clock.advance(100 * YEAR);
    b.try_acquire().expect("the ramp is long over").success();
    assert_eq!(b.state(), State::Closed);

    // To the end of the clock (u64::MAX ns, ~584 years) and past it: saturation, no panic.
    clock.advance(Duration::MAX);
    for _ in 0..2 {
        b.try_acquire().unwrap().failure();
    }
    assert_eq!(b.state(), State::Open);
    // The deadline saturates at the clock's end, which is now: the period has passed.
    assert_eq!(b.open_remaining(), Some(Duration::ZERO));
    clock.advance(YEAR);
    b.try_acquire().expect("probe at the end of time").success();
    let m = b.metrics();
    assert_eq!(books(&m), (7, 4, 3, 0, 0));
}

#[test]
fn clock_standing_still() {
    let clock = ManualClock::new();
    clock.set(secs(500));
    let policy = build(
        Policy::builder()
            .window(Window::time(secs(10), 5))
            .min_calls(10)
            .failure_rate_threshold(0.5)
            .open_timeout(secs(30))
            .slow_calls(Duration::from_nanos(1), 0.5)
            .half_open_permits(2)
            .success_threshold(2)
            .recovery(Recovery::ramp(secs(10), 0.25)),
    );
    let b = Breaker::with_clock("still", policy, clock.clone());
    // Zero-length calls are never slow, even against a 1 ns rule.
    for i in 0..9 {
        b.try_acquire().unwrap().record(if i % 2 == 0 {
            Outcome::Success
        } else {
            Outcome::Failure
        });
    }
    let m = b.metrics();
    assert_eq!((m.window_calls, m.window_failures, m.slow), (9, 4, 0));
    b.try_acquire().unwrap().failure(); // 5 of 10
    assert_eq!(b.state(), State::Open);
    // Time does not pass: every rejection says the whole period is left, forever.
    for _ in 0..1000 {
        let r = b.try_acquire().map(drop).unwrap_err();
        assert_eq!(
            (r.reason(), r.retry_after()),
            (RejectReason::Open, Some(secs(30)))
        );
    }
    assert_eq!(b.metrics().rejected, 1000);
    clock.advance(secs(30));
    clock.advance(Duration::ZERO);
    b.try_acquire().unwrap().success();
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Recovering);
    // At a standing clock the ramp's share stays at its start: a quarter, evenly spread.
    let admitted: Vec<bool> = (0..400)
        .map(|_| match b.try_acquire() {
            Ok(p) => {
                p.success();
                true
            }
            Err(r) => {
                assert_eq!(r.reason(), RejectReason::Ramp);
                false
            }
        })
        .collect();
    for w in admitted.windows(8) {
        assert_eq!(w.iter().filter(|a| **a).count(), 2, "a quarter of any 8");
    }
    assert_eq!(
        b.state(),
        State::Recovering,
        "the ramp never ends while time stands"
    );
    let m = b.metrics();
    assert_eq!((m.window_calls, m.window_failures, m.slow), (100, 0, 0));
}

#[test]
fn clock_stepping_back() {
    let clock = ManualClock::new();
    clock.set(secs(1000));
    let policy = build(
        Policy::builder()
            .window(Window::time(secs(10), 10))
            .min_calls(2)
            .failure_rate_threshold(1.0)
            .open_timeout(secs(30))
            .slow_calls(secs(1), 0.5)
            .half_open_permits(1)
            .success_threshold(1)
            .recovery(Recovery::ramp(secs(10), 0.5)),
    );
    let b = Breaker::with_clock("back", policy, clock.clone());
    let rx = b.subscribe();
    // A call whose clock went backwards took no time: not slow.
    let p = b.try_acquire().unwrap();
    clock.set(secs(900));
    p.success();
    assert_eq!(b.metrics().slow, 0);
    clock.set(secs(1000));
    b.try_acquire().unwrap().failure(); // the success at 900 s is out of the window
    // A record 5 s back, behind the newest bucket: counted in its own bucket, no panic.
    clock.set(secs(995));
    b.try_acquire().unwrap().failure();
    assert_eq!(b.state(), State::Closed);
    clock.set(secs(1000));
    b.try_acquire().unwrap().failure();
    assert_eq!(
        b.state(),
        State::Open,
        "3 failures of 3 in the window at 1000 s"
    );
    // Open, then the clock goes back: the time left grows, nothing breaks.
    clock.set(secs(500));
    let r = b.try_acquire().map(drop).unwrap_err();
    assert_eq!(r.retry_after(), Some(secs(530)));
    assert_eq!(b.open_remaining(), Some(secs(530)));
    clock.set(secs(1030));
    b.try_acquire().expect("period over").success();
    assert_eq!(b.state(), State::Recovering);
    // Back before the ramp started: elapsed saturates at 0, the share is the start share.
    clock.set(secs(10));
    let admitted = (0..10)
        .filter(|_| b.try_acquire().map(|p| p.success()).is_ok())
        .count();
    assert_eq!(admitted, 5, "half of 10 at the ramp's start");
    clock.set(secs(2000));
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Closed);
    let m = b.metrics();
    assert_eq!((m.successes, m.failures), (8, 3));
    let at: Vec<(State, Duration)> = rx.try_iter().map(|t| (t.to, t.at)).collect();
    assert_eq!(
        at,
        [
            (State::Open, secs(1000)),
            (State::HalfOpen, secs(1030)),
            (State::Recovering, secs(1030)),
            (State::Closed, secs(2000)),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Subscribers that fall behind or go away
// ---------------------------------------------------------------------------------------------

fn one_shot(clock: &ManualClock) -> Breaker {
    Breaker::with_clock(
        "events",
        build(
            Policy::builder()
                .window(Window::count(1))
                .min_calls(1)
                .open_timeout(secs(1))
                .backoff(Backoff::constant())
                .half_open_permits(1)
                .success_threshold(1),
        ),
        clock.clone(),
    )
}

#[test]
fn full_and_dropped_subscribers_leave_calls_and_counters_exact() {
    let clock = ManualClock::new();
    let b = one_shot(&clock);
    let full = b.subscribe();
    let live = b.subscribe();
    drop(b.subscribe());
    let mut seen: Vec<Transition> = Vec::new();
    const CYCLES: u64 = 2 * SUBSCRIBER_CAPACITY as u64;
    for i in 0..CYCLES {
        assert!(matches!(
            b.call(|| Err::<(), _>("down")),
            Err(CallError::Failed("down"))
        ));
        assert_eq!(reason(&b), RejectReason::Open);
        clock.advance(secs(1));
        assert_eq!(b.call(|| Ok::<_, ()>(i)).unwrap(), i);
        seen.extend(live.try_iter());
        if i == CYCLES / 2 {
            // A receiver dropped in the middle of the stream.
            drop(b.subscribe());
        }
    }
    let m = b.metrics();
    assert_eq!(books(&m), (2 * CYCLES, CYCLES, CYCLES, 0, CYCLES));
    assert_eq!(
        seen.len() as u64,
        3 * CYCLES,
        "the live subscriber missed nothing"
    );
    let reasons = [
        TransitionReason::FailureRate,
        TransitionReason::OpenTimeoutElapsed,
        TransitionReason::ProbesSucceeded,
    ];
    for (i, t) in seen.iter().enumerate() {
        assert_eq!(t.reason, reasons[i % 3]);
    }
    // The full one kept the oldest changes and dropped the rest.
    assert_eq!(full.len(), SUBSCRIBER_CAPACITY);
    let kept: Vec<Transition> = full.try_iter().collect();
    assert_eq!(kept, seen[..SUBSCRIBER_CAPACITY]);
}

#[test]
fn subscribers_coming_and_going_under_concurrent_calls() {
    const THREADS: usize = 2;
    const CALLS: u64 = 20_000;
    let clock = ManualClock::new();
    let b = Breaker::with_clock(
        "busy",
        build(
            Policy::builder()
                .window(Window::count(10))
                .min_calls(5)
                .failure_rate_threshold(0.25)
                .open_timeout(ms(1))
                .backoff(Backoff::constant())
                .half_open_permits(2)
                .success_threshold(2),
        ),
        clock.clone(),
    );
    let _full = b.subscribe();
    let (ok, failed, rejected) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let done = AtomicBool::new(false);
    let received = std::thread::scope(|s| {
        let churn = s.spawn(|| {
            let mut received = 0;
            while !done.load(Ordering::Relaxed) {
                let rx = b.subscribe();
                std::thread::yield_now();
                received += rx.try_iter().count();
            }
            received
        });
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (b, clock, ok, failed, rejected) = (&b, &clock, &ok, &failed, &rejected);
                s.spawn(move || {
                    for i in 0..CALLS {
                        let fail = (i + t as u64).is_multiple_of(4);
                        clock.advance(Duration::from_micros(100));
                        match b.call(|| if fail { Err(()) } else { Ok(()) }) {
                            Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                            Err(CallError::Failed(())) => failed.fetch_add(1, Ordering::Relaxed),
                            Err(CallError::Rejected(_)) => rejected.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        churn.join().unwrap()
    });
    let m = b.metrics();
    let (ok, failed, rejected) = (ok.into_inner(), failed.into_inner(), rejected.into_inner());
    assert_eq!(ok + failed + rejected, THREADS as u64 * CALLS);
    assert_eq!(books(&m), (ok + failed, ok, failed, 0, rejected));
    println!("{ok} successes, {failed} failures, {rejected} rejections, {received} events seen");
}
