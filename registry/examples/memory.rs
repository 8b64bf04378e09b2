//! Memory per breaker, default and compact, alone and in a large registry.
//!
//! `cargo run --release -p fusebox-registry --example memory [breakers]` (default 1 000 000).
//!
//! Each way of holding the breakers is measured in a process of its own (this example runs
//! itself once per way), so that none reuses memory another freed: the engine's breakers and a
//! registry's, default and compact, as created; again once each has taken one successful call,
//! which makes its window store (a breaker never called has none); and the engine's once each
//! has opened (failed until it tripped, and rejected a call), which allocates what a breaker
//! keeps for its transitions and its per-thread counts. Two figures per breaker:
//!
//! - **heap**: the bytes the breakers ask the allocator for, counted by a counting allocator;
//! - **resident**: the growth of the process's resident memory (Linux's `/proc/self/statm`),
//!   which adds what the allocator spends on top: its headers, rounding, and the space it
//!   gives up to align a block. Absent where `/proc` is.
//!
//! The registry's figures include its map and the names it keys by.

use std::process::Command;
use std::time::Instant;

use fusebox_engine::{Breaker, ManualClock, Policy, State, Window};
use fusebox_registry::Registry;
use fusebox_test_support::{Counting, counting, live};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The ways of holding the breakers, as the child process is told them.
const WAYS: [&str; 9] = [
    "engine",
    "engine-compact",
    "registry",
    "registry-compact",
    "engine-called",
    "engine-compact-called",
    "registry-compact-called",
    "engine-opened",
    "engine-compact-opened",
];

/// The environment variable that makes this example measure one way and print one line.
const CHILD: &str = "FUSEBOX_MEMORY_WAY";

fn main() {
    let n: usize = match std::env::args().nth(1) {
        None => 1_000_000,
        Some(a) => match a.replace('_', "").parse() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("memory: expected a number of breakers above 0, got {a:?}");
                std::process::exit(2);
            }
        },
    };
    match std::env::var(CHILD) {
        Ok(way) => measure(&way, n),
        Err(_) => report(n),
    }
}

/// Runs one child per way and prints their lines as a table.
fn report(n: usize) {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("memory: cannot find this program to run it per way: {e}");
            std::process::exit(1);
        }
    };
    println!("breakers: {n} (Window::count(100), 16-byte names)");
    println!(
        "{:<22} {:>14} {:>18} {:>14}",
        "held as", "heap/breaker", "resident/breaker", "ns to create"
    );
    for way in WAYS {
        let out = Command::new(&exe)
            .arg(n.to_string())
            .env(CHILD, way)
            .output();
        match out {
            Ok(out) if out.status.success() => {
                print!("{}", String::from_utf8_lossy(&out.stdout));
            }
            Ok(out) => {
                eprintln!(
                    "memory: measuring {way} failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
                std::process::exit(1);
            }
            Err(e) => {
                eprintln!("memory: cannot run the child measuring {way}: {e}");
                std::process::exit(1);
            }
        }
    }
}

/// Resident memory of this process in bytes, if the system says.
fn resident() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    // Linux's pages are 4 KiB on the targets this example is run on.
    Some(pages * 4096)
}

/// Fails calls through `breaker` until it opens, then has it reject one.
fn open(breaker: &Breaker) {
    while breaker.state() != State::Open {
        let _ = breaker.call(|| Err::<(), _>("down"));
    }
    assert!(breaker.try_acquire().is_err(), "an open breaker rejects");
}

/// Makes `n` breakers held the way `way` says and prints one line of the table.
fn measure(way: &str, n: usize) {
    // Everything runs on this thread (the breakers' clock is a `ManualClock`: no timer thread).
    counting(true);
    let policy = Policy::builder()
        .window(Window::count(100))
        .build()
        .expect("a valid policy");
    let clock = ManualClock::new();
    // 16-byte names, made before measuring.
    let names: Vec<String> = (0..n).map(|i| format!("svc.{i:012}")).collect();
    let compact = way.contains("-compact");
    let opened = way.ends_with("-opened");
    let called = way.ends_with("-called");
    let call = |breaker: &Breaker| {
        if called {
            breaker
                .call(|| Ok::<_, ()>(()))
                .expect("a closed breaker admits");
        }
    };
    let registry = way.starts_with("registry").then(|| {
        let builder = Registry::builder(policy.clone()).clock(clock.clone());
        if compact { builder.compact() } else { builder }.build()
    });
    let mut held: Vec<Breaker> = Vec::with_capacity(if registry.is_some() { 0 } else { n });

    let (heap_before, resident_before) = (live(), resident());
    let start = Instant::now();
    for name in &names {
        match &registry {
            Some(registry) => {
                call(&registry.breaker(name).expect("a valid name"));
            }
            None => {
                let builder = Breaker::builder(name.as_str(), policy.clone()).clock(clock.clone());
                let breaker = if compact { builder.compact() } else { builder }.build();
                if opened {
                    open(&breaker);
                }
                call(&breaker);
                held.push(breaker);
            }
        }
    }
    let elapsed = start.elapsed();
    let (heap_after, resident_after) = (live(), resident());
    if let Some(registry) = &registry {
        assert_eq!(registry.len(), n);
    }

    let heap = (heap_after - heap_before) as usize / n;
    let resident = match (resident_before, resident_after) {
        (Some(before), Some(after)) => format!("{} B", after.saturating_sub(before) / n),
        _ => "unknown".to_owned(),
    };
    println!(
        "{way:<22} {:>12} B {resident:>18} {:>14.0}",
        heap,
        elapsed.as_nanos() as f64 / n as f64
    );
    drop(held);
}
