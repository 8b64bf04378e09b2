//! The fusebox engine: lock-free circuit breakers.
//!
//! A [`Breaker`] is one cache-padded atomic state word plus a sliding window updated with a
//! bounded number of atomic operations per call. A closed-state success on a count window with
//! no slow-call rule costs one load of the state word, one `fetch_add` on the window cursor and
//! one load of the slot's bit, and reads no clock.
//!
//! ```
//! use std::time::Duration;
//! use fusebox_engine::{Breaker, CallError, ManualClock, Policy, RejectReason, State, Window};
//!
//! let clock = ManualClock::new();
//! let policy = Policy::builder()
//!     .window(Window::count(4))
//!     .min_calls(4)
//!     .open_timeout(Duration::from_secs(10))
//!     .half_open_permits(1)
//!     .success_threshold(1)
//!     .build()?;
//! let breaker = Breaker::with_clock("payments", policy, clock.clone());
//! for _ in 0..4 {
//!     let _ = breaker.call(|| Err::<(), _>("boom"));
//! }
//! let rejected = breaker.try_acquire().unwrap_err();
//! assert_eq!(rejected.reason(), RejectReason::Open);
//! clock.advance(Duration::from_secs(10));
//! breaker.try_acquire()?.success();
//! assert_eq!(breaker.state(), State::Closed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! See the [`docs`] module for the state machine, the memory orderings and the limits.

mod breaker;
mod clock;
mod counter;
pub mod docs;
mod error;
mod feed;
mod intern;
mod latency;
mod lazy;
mod priority;
mod recorder;
mod state;
mod sync;
mod timer;
mod verdict;
mod window;

#[cfg(loom)]
#[doc(hidden)]
pub use breaker::LoomWeak;
pub use breaker::{
    Breaker, BreakerBuilder, Counters, FailureKinds, HISTORY_CAPACITY, MAX_FAILURE_KINDS, Metrics,
    Noted, OTHER_KIND, OwnedPermit, Permit, SavedState, TransitionCounts,
};
#[cfg(feature = "tokio")]
pub use breaker::{CHAOS_KIND, RunError, TIMEOUT_KIND, TokioClock};
pub use clock::{Clock, ManualClock, QuantaClock};
pub use error::{CallError, Outcome, RejectReason, Rejected, Transition, WindowCounts};
#[cfg(feature = "tokio")]
pub use feed::TransitionStream;
pub use feed::{SUBSCRIBER_CAPACITY, TransitionFeed};
pub use latency::{Latency, LatencySummary};
pub use priority::Priority;
pub use recorder::{CallOutcome, CallRecord, CallRecorder};
pub use state::{State, TransitionReason};
pub use verdict::{Failure, Verdict};

pub use fusebox_policies::{
    AdaptiveLimit, Backoff, Chaos, ChaosAttempt, FleetMode, LimitAlgorithm, Policy, PolicyBuilder,
    PolicyError, RateLimit, Recovery, Retry, RetryBackoff, SlowCalls, Window,
};
