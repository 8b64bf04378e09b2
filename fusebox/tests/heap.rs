//! Heap use per breaker, default and compact, measured with a counting global allocator, and
//! nothing leaked.

use fusebox::{Breaker, ManualClock, Policy, Window};
use fusebox_test_support::{Counting, counting, live};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes per breaker of `N` breakers made by `make`, after exercising and dropping them all:
/// (bytes per breaker, the first breaker's `heap_bytes()` estimate).
fn measure(make: impl Fn(String) -> Breaker) -> (usize, usize) {
    const N: usize = 1000;
    // Warm up anything lazily allocated once per process.
    drop(make("warm".into()));
    counting(true);
    let before = live();
    let breakers: Vec<Breaker> = (0..N).map(|i| make(format!("b{i:05}"))).collect();
    let with = live();
    let vec_bytes = (breakers.capacity() * std::mem::size_of::<Breaker>()) as isize;
    let per_breaker = (with - before - vec_bytes) as usize / N;
    let estimate = breakers[0].heap_bytes();
    for b in &breakers {
        for i in 0..300 {
            let _ = b.call(|| if i % 3 == 0 { Err(()) } else { Ok(()) });
        }
        b.force_open();
        b.reset();
    }
    drop(breakers);
    assert_eq!(live(), before, "every byte is returned on drop");
    counting(false);
    (per_breaker, estimate)
}

#[test]
fn heap_per_breaker_is_measured_and_fully_returned() {
    let policy = Policy::builder()
        .window(Window::count(100))
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let default = measure(|name| Breaker::with_clock(name, policy.clone(), clock.clone()));
    let compact = measure(|name| {
        Breaker::builder(name, policy.clone())
            .clock(clock.clone())
            .compact()
            .build()
    });
    assert!(default.0 > 0);
    // A compact breaker's allocation is not padded to whole cache-line blocks.
    assert!(
        compact.0 < default.0,
        "compact {compact:?}, default {default:?}"
    );
    // Printed after the leak checks: the test harness's output capture allocates too.
    println!(
        "heap per breaker (Window::count(100)): {} B, compact {} B; size_of::<Breaker>() = {} B; \
         heap_bytes() estimates {} B and {} B",
        default.0,
        compact.0,
        std::mem::size_of::<Breaker>(),
        default.1,
        compact.1
    );
}
