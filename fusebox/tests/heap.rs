//! Heap use per breaker, measured with a counting global allocator, and nothing leaked.

use fusebox::{Breaker, ManualClock, Policy, Window};
use fusebox_test_support::{Counting, counting, live};

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
    counting(true);
    let before = live();
    let breakers: Vec<Breaker> = (0..N)
        .map(|i| Breaker::with_clock(format!("b{i:05}"), policy.clone(), clock.clone()))
        .collect();
    let with = live();
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
    assert_eq!(live(), before, "every byte is returned on drop");
    counting(false);
    assert!(per_breaker > 0);
    println!(
        "heap per breaker (Window::count(100)): {} B; size_of::<Breaker>() = {} B; \
         heap_bytes() estimate {} B",
        report.0, report.1, report.2
    );
}
