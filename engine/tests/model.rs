//! The engine against a sequential reference model (`model/mod.rs`): random sequences of
//! acquires, records, drops, clock steps, manual states and policy swaps, with the state,
//! every rejection (reason, state, retry_after), every counter, the window, the backoff step,
//! the time left open and every transition event compared after each step.
//!
//! Replay a failure with `ARBTEST_SEED=0x... cargo test -p fusebox-engine --test model`;
//! add `MODEL_SHRINK=1` to shrink the failing operations first; `ARBTEST_BUDGET_MS` sets the search time (default
//! here: 3 s).

#[path = "model/mod.rs"]
mod model;

use std::time::{Duration, Instant};

use fusebox_engine::{Breaker, ManualClock, Outcome, Policy, State, Window};
use model::Scenario;

const BUDGET_MS: u64 = 3_000;

fn search() {
    let budget = std::env::var("ARBTEST_BUDGET_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(BUDGET_MS);
    let (mut cases, mut steps) = (0u64, 0u64);
    let t = Instant::now();
    let shrink = std::env::var_os("MODEL_SHRINK").is_some();
    let test = arbtest::arbtest(|u| {
        let scenario = Scenario::arbitrary(u)?;
        steps += if shrink {
            model::run_or_shrink(&scenario)
        } else {
            model::run(&scenario)
        } as u64;
        cases += 1;
        Ok(())
    })
    .size_min(64)
    .size_max(2048)
    .budget_ms(budget);
    test.run();
    println!(
        "model: {cases} cases, {steps} steps in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert!(cases > 0);
}

#[test]
fn engine_matches_the_model() {
    search();
}

/// The hand-written scenarios (the fuzz target's seeds) agree, and their bytes read back as
/// themselves.
#[test]
fn seed_scenarios_agree_and_round_trip() {
    for (name, scenario) in model::seeds() {
        model::run(&scenario);
        let bytes = scenario.to_bytes();
        let back = Scenario::arbitrary(&mut arbitrary::Unstructured::new(&bytes)).unwrap();
        assert_eq!(back.ops, scenario.ops, "{name}");
        assert_eq!(back.policy, scenario.policy, "{name}");
    }
}

/// Writes the seeds into `fuzz/corpus/ops_vs_model/` (run by hand after changing them).
#[test]
#[ignore = "writes the fuzz seed corpus"]
fn write_seed_corpus() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/ops_vs_model");
    std::fs::create_dir_all(dir).unwrap();
    for (name, scenario) in model::seeds() {
        std::fs::write(format!("{dir}/seed-{name}"), scenario.to_bytes()).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Engine bugs found by the model, pinned with their minimal sequences.
// ---------------------------------------------------------------------------------------------

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn count10(threshold: f64) -> Policy {
    Policy::builder()
        .window(Window::count(10))
        .min_calls(10)
        .failure_rate_threshold(threshold)
        .build()
        .unwrap()
}

/// Rule 14 + rule 2: after a swap to a lower threshold the next recorded outcome is judged
/// against it. The engine owes that judgement with a flag that the next `set_policy` clears
/// when it changes no threshold (here: the same policy again), and otherwise only judges an
/// outcome that raised a rate: a failure replacing a failure keeps the breaker closed at
/// 4 failures of 10 ≥ 0.3.
#[test]
fn second_swap_keeps_the_reevaluation() {
    let b = Breaker::with_clock("x", count10(0.5), ManualClock::new());
    // F S F S F S F S S S: 4 failures of 10 = 0.4 < 0.5.
    for i in 0..10 {
        let failure = i < 8 && i % 2 == 0;
        b.try_acquire().unwrap().record(if failure {
            Outcome::Failure
        } else {
            Outcome::Success
        });
    }
    b.set_policy(count10(0.3));
    b.set_policy(count10(0.3));
    // Slot 0 held a failure: the window stays at 4 of 10 = 0.4 ≥ 0.3.
    b.try_acquire().unwrap().failure();
    assert_eq!(b.metrics().failure_rate(), 0.4);
    assert_eq!(b.state(), State::Open, "rule 2: 0.4 ≥ 0.3 opens");
}

fn slow_policy(slow: bool) -> Policy {
    let b = Policy::builder()
        .window(Window::count(2))
        .min_calls(2)
        .failure_rate_threshold(1.0);
    let b = if slow { b.slow_calls(secs(1), 0.5) } else { b };
    b.build().unwrap()
}

/// Rule 5 + rule 1: the window holds the last n outcomes. With no slow-call rule, an outcome
/// written into a count-window slot leaves the slot's slow bit as the evicted outcome had it,
/// so once the rule is back the window counts an old slow call that slid out long ago.
#[test]
fn evicted_slow_calls_do_not_count_after_the_rule_returns() {
    let clock = ManualClock::new();
    let b = Breaker::with_clock("x", slow_policy(true), clock.clone());
    let p = b.try_acquire().unwrap();
    clock.advance(secs(5));
    p.success(); // slow, slot 0; 1 call < min_calls 2
    b.set_policy(slow_policy(false)); // same shape: the window is kept
    b.try_acquire().unwrap().success(); // slot 1
    b.try_acquire().unwrap().success(); // slot 0: evicts the slow call
    b.set_policy(slow_policy(true));
    assert_eq!(
        b.metrics().window_slow,
        0,
        "the window holds two fast (untimed) calls"
    );
    b.try_acquire().unwrap().success(); // fast, slot 1
    assert_eq!(b.state(), State::Closed, "0 slow calls of 2");
}

/// Rule 9 / rule 12: `reset()` starts with an empty window. A cleared time window zeroes its
/// bucket stamps but not their counts, and while the clock is within the first span after its
/// origin the stamp 0 counts as live, so the old counts come back.
#[test]
fn time_window_cleared_early_keeps_counting() {
    let clock = ManualClock::new();
    let policy = Policy::builder()
        .window(Window::time(secs(10), 5))
        .min_calls(5)
        .build()
        .unwrap();
    let b = Breaker::with_clock("x", policy, clock.clone());
    for _ in 0..3 {
        b.try_acquire().unwrap().failure();
    }
    b.reset();
    let m = b.metrics();
    assert_eq!(
        (m.window_calls, m.window_failures),
        (0, 0),
        "reset empties the window"
    );
    // Two more failures would make 5 of 5 with the ghosts: the breaker must stay closed.
    for _ in 0..2 {
        b.try_acquire().unwrap().failure();
    }
    assert_eq!(b.state(), State::Closed, "2 calls < min_calls 5");
}

/// Rule 1 + rule 4 and the documented limit "a half-open probe holds its slot until it ends":
/// a probe of an earlier episode gives its slot back and changes nothing else. The engine
/// clears the window (and the failure run) whenever a probe's end leaves the word Closed or
/// Recovering, so a stale probe ending after the breaker closed wipes the new window.
#[test]
fn stale_probe_ending_while_closed_keeps_the_window() {
    let clock = ManualClock::new();
    let policy = Policy::builder()
        .window(Window::count(4))
        .min_calls(4)
        .open_timeout(secs(10))
        .half_open_permits(2)
        .success_threshold(1)
        .build()
        .unwrap();
    let b = Breaker::with_clock("x", policy, clock.clone());
    for _ in 0..4 {
        b.try_acquire().unwrap().failure();
    }
    clock.advance(secs(10));
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    p1.success();
    assert_eq!(b.state(), State::Closed);
    for _ in 0..3 {
        b.try_acquire().unwrap().failure();
    }
    drop(p2); // a probe of the finished half-open episode
    assert_eq!(
        b.metrics().window_calls,
        3,
        "the window keeps its 3 failures"
    );
    b.try_acquire().unwrap().failure();
    assert_eq!(b.state(), State::Open, "4 failures of 4");
}

/// Rule 6 + rule 7: the open period is fixed when the breaker opens. A probe of the episode
/// that just failed, ending later, must not push the deadline to a full period from its end.
#[test]
fn stale_probe_ending_while_open_keeps_the_deadline() {
    let clock = ManualClock::new();
    let policy = Policy::builder()
        .window(Window::count(1))
        .min_calls(1)
        .open_timeout(secs(10))
        .half_open_permits(2)
        .success_threshold(2)
        .build()
        .unwrap();
    let b = Breaker::with_clock("x", policy, clock.clone());
    b.try_acquire().unwrap().failure();
    clock.advance(secs(10));
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    p1.failure(); // re-opens for 10 s (constant backoff)
    assert_eq!(b.open_remaining(), Some(secs(10)));
    clock.advance(secs(5));
    drop(p2);
    assert_eq!(b.open_remaining(), Some(secs(5)), "the deadline stands");
}

/// Rule 10: the ramp runs `duration` from when the breaker closed. A probe of the finished
/// half-open episode, ending during the ramp, restarts it (and empties the window).
#[test]
fn stale_probe_ending_while_recovering_keeps_the_ramp() {
    let clock = ManualClock::new();
    let policy = Policy::builder()
        .window(Window::count(4))
        .min_calls(4)
        .open_timeout(secs(10))
        .half_open_permits(2)
        .success_threshold(1)
        .recovery(fusebox_engine::Recovery::ramp(secs(10), 0.5))
        .build()
        .unwrap();
    let b = Breaker::with_clock("x", policy, clock.clone());
    for _ in 0..4 {
        b.try_acquire().unwrap().failure();
    }
    clock.advance(secs(10));
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    p1.success();
    assert_eq!(b.state(), State::Recovering);
    clock.advance(secs(9));
    drop(p2);
    clock.advance(secs(2));
    drop(b.try_acquire());
    assert_eq!(b.state(), State::Closed, "11 s into a 10 s ramp");
}
