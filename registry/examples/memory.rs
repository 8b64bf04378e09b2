//! Heap bytes per breaker in a large registry, measured with a counting allocator.
//!
//! `cargo run --release -p fusebox-registry --example memory [breakers]` (default 1 000 000).
//! Prints the bytes per breaker of the registry, of the same breakers created by the engine
//! alone, and the difference: what a registry entry costs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use fusebox_engine::{Breaker, ManualClock, Policy, Window};
use fusebox_registry::Registry;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to `System` unchanged; only counts the bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Relaxed: a byte count, read once allocations are done.
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Relaxed: as in `alloc`.
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with `layout` (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    // Relaxed: as in `alloc`.
    LIVE.load(Ordering::Relaxed)
}

fn main() {
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
