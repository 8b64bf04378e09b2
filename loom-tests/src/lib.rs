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
