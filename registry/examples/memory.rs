//! Heap bytes per breaker in a large registry, measured with a counting allocator.
//!
//! `cargo run --release -p fusebox-registry --example memory [breakers]` (default 1 000 000).
//! Prints the bytes per breaker of the registry, of the same breakers created by the engine
//! alone, and the difference: what a registry entry costs.

use std::time::Instant;

use fusebox_engine::{Breaker, ManualClock, Policy, Window};
use fusebox_registry::Registry;
use fusebox_test_support::{Counting, counting, live};

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    // Everything runs on this thread (the breakers' clock is a `ManualClock`: no timer thread).
    counting(true);
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.replace('_', "").parse().expect("a number of breakers"))
        .unwrap_or(1_000_000);
    let policy = Policy::builder()
        .window(Window::count(100))
        .build()
        .expect("valid");
    let clock = ManualClock::new();
    // 16-byte names, made before measuring.
    let names: Vec<String> = (0..n).map(|i| format!("svc.{i:012}")).collect();

    let before = live();
    let breakers: Vec<Breaker> = names
        .iter()
        .map(|name| Breaker::with_clock(name.as_str(), policy.clone(), clock.clone()))
        .collect();
    let engine = (live() - before) as usize - n * std::mem::size_of::<Breaker>();
    drop(breakers);

    let registry = Registry::with_clock(policy, clock);
    let before = live();
    let start = Instant::now();
    for name in &names {
        registry.breaker(name).expect("valid name");
    }
    let elapsed = start.elapsed();
    let total = (live() - before) as usize;
    assert_eq!(registry.len(), n);

    println!("breakers:                 {n}");
    println!(
        "registry, per breaker:    {} B ({:.1} MiB in all; created in {:.0} ns each)",
        total / n,
        total as f64 / (1 << 20) as f64,
        elapsed.as_nanos() as f64 / n as f64
    );
    println!("engine alone, per breaker: {} B", engine / n);
    println!(
        "registry entry:           {} B per breaker (map slot, name)",
        (total - engine) / n
    );
}
