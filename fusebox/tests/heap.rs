//! Heap use per breaker, measured with a counting global allocator, and nothing leaked.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};

use fusebox::{Breaker, ManualClock, Policy, Window};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    /// Only the measuring thread counts: the test harness allocates on its own threads.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn count(delta: isize) {
    if COUNTING.with(Cell::get) {
        LIVE.fetch_add(delta, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call to `System` unchanged; only counts the bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: `ptr` was allocated by `System` with `layout` (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn heap_per_breaker_is_measured_and_fully_returned() {
    let policy = Policy::builder()
        .window(Window::count(100))
        .build()
        .unwrap();
    let clock = ManualClock::new();
    // Warm up anything lazily allocated once per process.
    drop(Breaker::with_clock("warm", policy.clone(), clock.clone()));

    const N: usize = 1000;
    COUNTING.with(|c| c.set(true));
    let before = LIVE.load(Ordering::Relaxed);
    let breakers: Vec<Breaker> = (0..N)
        .map(|i| Breaker::with_clock(format!("b{i:05}"), policy.clone(), clock.clone()))
        .collect();
    let with = LIVE.load(Ordering::Relaxed);
    let vec_bytes = (breakers.capacity() * std::mem::size_of::<Breaker>()) as isize;
    let per_breaker = (with - before - vec_bytes) as usize / N;
    // Printed after the leak check: the test harness's output capture allocates too.
    let report = (
        per_breaker,
        std::mem::size_of::<Breaker>(),
        breakers[0].heap_bytes(),
    );
    for b in &breakers {
        for i in 0..300 {
            let _ = b.call(|| if i % 3 == 0 { Err(()) } else { Ok(()) });
        }
        b.force_open();
        b.reset();
    }
    drop(breakers);
    assert_eq!(
        LIVE.load(Ordering::Relaxed),
        before,
        "every byte is returned on drop"
    );
    COUNTING.with(|c| c.set(false));
    assert!(per_breaker > 0);
    println!(
        "heap per breaker (Window::count(100)): {} B; size_of::<Breaker>() = {} B; \
         heap_bytes() estimate {} B",
        report.0, report.1, report.2
    );
}
