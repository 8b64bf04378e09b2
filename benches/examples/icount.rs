//! Runs one scenario N times, for instruction counts under
//! `valgrind --tool=callgrind`, which are repeatable on a noisy machine where timings are not.
//!
//! `valgrind --tool=callgrind target/release/examples/icount closed 1000000`, then subtract
//! the same run with N = 0 and divide by N.

use std::hint::black_box;

use fusebox::Breaker;
use fusebox_benches::Floor;

fn main() {
    let mut args = std::env::args().skip(1);
    let scenario = args.next().unwrap_or_else(|| "closed".into());
    let n: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let policy = fusebox_benches::reference_policy();
    let breaker = Breaker::new("icount", policy);
    let floor = Floor::default();
    match scenario.as_str() {
        "floor" => {
            for _ in 0..n {
                black_box(black_box(&floor).call());
            }
        }
        "closed" => {
            for _ in 0..n {
                black_box(
                    black_box(&breaker)
                        .call(|| Ok::<u32, ()>(black_box(1)))
                        .is_ok(),
                );
            }
        }
        "permit" => {
            for _ in 0..n {
                if let Ok(p) = black_box(&breaker).try_acquire() {
                    p.success();
                }
            }
        }
        "striped" => {
            let striped = Breaker::striped("icount-striped", breaker.policy().as_ref().clone());
            for _ in 0..n {
                black_box(
                    black_box(&striped)
                        .call(|| Ok::<u32, ()>(black_box(1)))
                        .is_ok(),
                );
            }
        }
        "tenth" => {
            for i in 0..n {
                let fail = i % 10 == 9;
                black_box(
                    black_box(&breaker)
                        .call(|| if fail { Err(()) } else { Ok(1u32) })
                        .is_ok(),
                );
            }
        }
        "random" => {
            // 10 % failures, the same fixed pattern as the criterion benches.
            let pattern = fusebox_benches::random_failures(0.1);
            for i in 0..n as usize {
                let fail = pattern[i & (fusebox_benches::PATTERN_LEN - 1)];
                black_box(
                    black_box(&breaker)
                        .call(|| if fail { Err(()) } else { Ok(1u32) })
                        .is_ok(),
                );
            }
        }
        "open" => {
            for _ in 0..100 {
                let _ = breaker.call(|| Err::<(), ()>(()));
            }
            assert_eq!(breaker.state(), fusebox::State::Open);
            for _ in 0..n {
                black_box(black_box(&breaker).call(|| Ok::<u32, ()>(1)).is_err());
            }
        }
        "open_try_acquire" => {
            for _ in 0..100 {
                let _ = breaker.call(|| Err::<(), ()>(()));
            }
            assert_eq!(breaker.state(), fusebox::State::Open);
            for _ in 0..n {
                black_box(black_box(&breaker).try_acquire().is_err());
            }
        }
        // A closed call through a static bulkhead of 64, and through adaptive ones (limit 64).
        "bulkhead" | "aimd" | "gradient2" => {
            let b = fusebox_benches::reference_builder();
            let limit = |a| fusebox::AdaptiveLimit::new(a).with_initial(64);
            let policy = match scenario.as_str() {
                "bulkhead" => b.max_concurrent(64),
                "aimd" => b.adaptive_limit(limit(fusebox::LimitAlgorithm::Aimd)),
                _ => b.adaptive_limit(limit(fusebox::LimitAlgorithm::Gradient2)),
            };
            let bounded = Breaker::new("icount-bounded", policy.build().expect("valid policy"));
            for _ in 0..n {
                black_box(
                    black_box(&bounded)
                        .call(|| Ok::<u32, ()>(black_box(1)))
                        .is_ok(),
                );
            }
        }
        // A closed call beside a slow-call rule (1 s, 90 %: no call is slow), without and with
        // every call recorded into a recorder that holds them all (so no drain runs).
        "slow" | "recorded" => {
            let policy = fusebox_benches::reference_builder()
                .slow_calls(std::time::Duration::from_secs(1), 0.9)
                .build()
                .expect("valid policy");
            let timed = Breaker::new("icount-timed", policy);
            let recorder = fusebox::CallRecorder::new((n as usize).clamp(1, 10_000_000));
            if scenario == "recorded" {
                timed.record_to(&recorder, 1.0);
            }
            for _ in 0..n {
                black_box(
                    black_box(&timed)
                        .call(|| Ok::<u32, ()>(black_box(1)))
                        .is_ok(),
                );
            }
            assert_eq!(recorder.dropped(), 0);
        }
        other => panic!("unknown scenario {other}"),
    }
}
