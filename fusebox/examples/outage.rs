//! A payment API goes down for 15 seconds and comes back slowly; a breaker guards the calls.
//! Runs on a virtual clock, so it finishes at once and prints the same thing every time.
//!
//! `cargo run --release -p fusebox --example outage`

use std::time::Duration;

use fusebox::{Backoff, Breaker, CallError, ManualClock, Policy, Recovery, Window};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clock = ManualClock::new();
    let policy = Policy::builder()
        .window(Window::count(50))
        .failure_rate_threshold(0.5)
        .min_calls(20)
        .open_timeout(Duration::from_secs(2))
        .backoff(Backoff::exponential(2.0, Duration::from_secs(8)))
        .half_open_permits(3)
        .success_threshold(3)
        .recovery(Recovery::ramp(Duration::from_secs(5), 0.2))
        .build()?;
    let breaker = Breaker::with_clock("payments", policy, clock.clone());
    let transitions = breaker.subscribe();

    // 100 calls a second for 40 s. The downstream fails every call from t = 5 s to t = 20 s,
    // then fails one call in four until t = 24 s, then is healthy.
    let step = Duration::from_millis(10);
    let (mut ok, mut failed, mut rejected, mut spared) = (0u64, 0u64, 0u64, 0u64);
    for tick in 0..4_000u64 {
        let t = step * tick as u32;
        let secs = t.as_secs_f64();
        let healthy = if (5.0..20.0).contains(&secs) {
            false
        } else if (20.0..24.0).contains(&secs) {
            tick % 4 != 0
        } else {
            true
        };
        match breaker.call(|| {
            if healthy {
                Ok(())
            } else {
                Err("502 bad gateway")
            }
        }) {
            Ok(()) => ok += 1,
            Err(CallError::Failed(_)) => failed += 1,
            Err(CallError::Rejected(_)) => {
                rejected += 1;
                if !healthy {
                    spared += 1;
                }
            }
        }
        clock.advance(step);
    }

    println!("transitions of breaker \"payments\":");
    for t in transitions.try_iter() {
        println!(
            "  {:>7.2}s  {:<11} -> {:<11} {}",
            t.at.as_secs_f64(),
            t.from.to_string(),
            t.to.to_string(),
            t.reason
        );
    }
    let m = breaker.metrics();
    println!();
    println!("calls attempted      {:>6}", ok + failed + rejected);
    println!("  succeeded          {ok:>6}");
    println!("  failed             {failed:>6}");
    println!("  rejected           {rejected:>6}  ({spared} of them would have failed)");
    println!("final state          {:>6}", m.state.to_string());
    assert_eq!(m.admitted, ok + failed);
    assert_eq!(m.rejected, rejected);
    Ok(())
}
