//! loom models of the fusebox engine's own atomics.
//!
//! The models live in `tests/`, one file per concern, and compile only under `--cfg loom`
//! (the engine then takes its atomics from loom through its sync shim):
//!
//! ```sh
//! RUSTFLAGS="--cfg loom -C debug-assertions" LOOM_MAX_PREEMPTIONS=2 \
//!   cargo test --release -p loom-tests --target-dir target/loom
//! ```
//!
//! Every model drives the public API on a `ManualClock` (built on loom atomics); the registry,
//! the policy swap (`arc-swap`) and the subscriber channels are not loom-aware and are covered
//! by stress tests instead.
//!
//! What several models share lives here (under `--cfg loom` only): `check`, the bounded model
//! run, and `record`.

#[cfg(loom)]
use fusebox_engine::Breaker;

/// Runs `f` under loom with at most two preemptions unless `LOOM_MAX_PREEMPTIONS` says
/// otherwise: three-thread models are out of reach unbounded.
#[cfg(loom)]
pub fn check(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound.get_or_insert(2);
    builder.check(f);
}

/// One call through `breaker` that fails or succeeds; it must be admitted and run.
#[cfg(loom)]
pub fn record(breaker: &Breaker, failure: bool) {
    let r = breaker.call(|| if failure { Err("failed") } else { Ok(()) });
    assert_eq!(r.is_err(), failure, "admitted and run");
}
