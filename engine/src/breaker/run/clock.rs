//! [`TokioClock`]: a breaker clock that follows tokio's time, paused or not.

use std::time::Duration;

use crate::clock::Clock;

/// A [`Clock`] over tokio's time: nanoseconds since the clock was made, as
/// `tokio::time::Instant` counts them. Under `tokio::time::pause()` (tokio's `test-util`),
/// a breaker on this clock follows the paused time, so a test drives open periods, timeouts
/// and retry backoffs with `tokio::time::advance` alone.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, Clock, Policy, TokioClock};
/// let clock = TokioClock::new();
/// let b = Breaker::with_clock("db", Policy::default(), clock.clone());
/// assert!(clock.now() < std::time::Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// A clock whose origin is now (tokio's now: the paused time when paused).
    ///
    /// ```
    /// let _ = fusebox_engine::TokioClock::new();
    /// ```
    pub fn new() -> TokioClock {
        TokioClock {
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        TokioClock::new()
    }
}

impl Clock for TokioClock {
    fn now_nanos(&self) -> u64 {
        let elapsed: Duration = tokio::time::Instant::now().saturating_duration_since(self.origin);
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
    }
}
