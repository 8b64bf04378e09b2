//! Quick ratios to the floor, one thread, in one process: each scenario runs in short timed
//! slices interleaved with the floor's, over many rounds, and the median of the per-round
//! ratios is reported. Slower drifts of a shared machine then hit both sides of a ratio alike.
//!
//! `cargo run --profile bench -p fusebox-benches --example ratios [rounds]`
//!
//! Criterion (`cargo bench`) gives the figures of record; this is for a quick look while
//! changing the engine.

use std::hint::black_box;
use std::time::Instant;

use fusebox::{Breaker, Policy, State};
use fusebox_benches::Floor;

const SLICE: u64 = 2_000_000;

fn policy() -> Policy {
    fusebox_benches::reference_policy()
}

fn time(f: &mut dyn FnMut(u64)) -> f64 {
    let t = Instant::now();
    f(SLICE);
    t.elapsed().as_nanos() as f64 / SLICE as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let floor = Floor::default();
    let open_floor = Floor::default();
    open_floor.open();
    let closed = Breaker::new("closed", policy());
    let tenth = Breaker::new("tenth", policy());
    let random = Breaker::new("random", policy());
    let open = Breaker::new("open", policy());
    let striped = Breaker::striped("striped", policy());
    for _ in 0..100 {
        let _ = open.call(|| Err::<(), ()>(()));
    }
    assert_eq!(open.state(), State::Open);
    let failures = fusebox_benches::random_failures(0.1);
    let (mut i, mut j) = (0u64, 0usize);

    let mut floor_fn = |n: u64| {
        for _ in 0..n {
            black_box(black_box(&floor).call());
        }
    };
    let mut open_floor_fn = |n: u64| {
        for _ in 0..n {
            black_box(black_box(&open_floor).call());
        }
    };
    let mut closed_fn = |n: u64| {
        for _ in 0..n {
            black_box(
                black_box(&closed)
                    .call(|| Ok::<u32, ()>(black_box(1)))
                    .is_ok(),
            );
        }
    };
    let mut tenth_fn = |n: u64| {
        for _ in 0..n {
            i += 1;
            let fail = i % 10 == 0;
            black_box(
                black_box(&tenth)
                    .call(|| if fail { Err(()) } else { Ok(1u32) })
                    .is_ok(),
            );
        }
    };
    let mut random_fn = |n: u64| {
        for _ in 0..n {
            j = (j + 1) & (fusebox_benches::PATTERN_LEN - 1);
            let fail = failures[j];
            black_box(
                black_box(&random)
                    .call(|| if fail { Err(()) } else { Ok(1u32) })
                    .is_ok(),
            );
        }
    };
    let mut striped_fn = |n: u64| {
        for _ in 0..n {
            black_box(
                black_box(&striped)
                    .call(|| Ok::<u32, ()>(black_box(1)))
                    .is_ok(),
            );
        }
    };
    let mut counted_floor_fn = |n: u64| {
        for _ in 0..n {
            black_box(black_box(&open_floor).counted_call());
        }
    };
    let mut open_fn = |n: u64| {
        for _ in 0..n {
            black_box(black_box(&open).call(|| Ok::<u32, ()>(1)).is_err());
        }
    };

    let names = ["closed", "tenth", "random10", "open", "striped"];
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut open_vs_load = Vec::new();
    let mut open_vs_counted = Vec::new();
    let mut floors = Vec::new();
    for _ in 0..rounds {
        let f = time(&mut floor_fn);
        floors.push(f);
        ratios[0].push(time(&mut closed_fn) / f);
        ratios[1].push(time(&mut tenth_fn) / f);
        ratios[2].push(time(&mut random_fn) / f);
        let o = time(&mut open_fn);
        ratios[3].push(o / f);
        open_vs_load.push(o / time(&mut open_floor_fn));
        open_vs_counted.push(o / time(&mut counted_floor_fn));
        ratios[4].push(time(&mut striped_fn) / f);
    }
    assert_eq!(tenth.state(), State::Closed);
    assert_eq!(random.state(), State::Closed);
    println!("floor (median) {:.2} ns", median(&mut floors));
    for (name, r) in names.iter().zip(ratios.iter_mut()) {
        println!("{name:<9} {:.2}x floor", median(r));
    }
    println!(
        "open      {:.2}x load-only floor",
        median(&mut open_vs_load)
    );
    println!(
        "open      {:.2}x counted-rejection floor",
        median(&mut open_vs_counted)
    );
}
