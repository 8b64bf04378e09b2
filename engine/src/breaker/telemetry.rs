//! What a breaker tells about itself beyond its metrics: its history, the count of each
//! change of state, its call latency, and its transitions as an async stream.
//!
//! # Synchronization
//!
//! Reads only: the history under its `std` mutex (history.rs), the latency counts with
//! `Relaxed` loads (latency.rs). Nothing here touches the state word or the window.

use std::sync::PoisonError;

use super::Breaker;
use super::history::TransitionCounts;
use crate::error::Transition;
use crate::latency::{Latency, LatencySummary};

impl Breaker {
    /// The last transitions of this breaker, oldest first: at most
    /// [`HISTORY_CAPACITY`](crate::HISTORY_CAPACITY), with the window's counts at each and
    /// the operator's note of a [`noted`](Self::noted) change. Kept whether or not anyone
    /// subscribed: the audit trail of "since when, and why".
    ///
    /// ```
    /// use fusebox_engine::{Breaker, ManualClock, Policy, State, TransitionReason};
    /// let clock = ManualClock::new();
    /// let b = Breaker::with_clock("db", Policy::builder().min_calls(2).build()?, clock.clone());
    /// let _ = b.call(|| Err::<(), _>("timeout"));
    /// let _ = b.call(|| Err::<(), _>("timeout"));
    /// let h = b.history();
    /// assert_eq!((h[0].from, h[0].to, h[0].reason), (State::Closed, State::Open, TransitionReason::FailureRate));
    /// assert_eq!(h[0].window.failures, 2);
    /// # Ok::<(), fusebox_engine::PolicyError>(())
    /// ```
    pub fn history(&self) -> Vec<Transition> {
        self.inner.cold.extras.get().map_or_else(Vec::new, |e| {
            e.history
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .last()
        })
    }

    /// How many times this breaker went from each state to each other since it was created.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::new("db", Policy::default());
    /// b.force_open();
    /// b.reset();
    /// assert_eq!(b.transition_counts().get(State::ForcedOpen, State::Closed), 1);
    /// ```
    pub fn transition_counts(&self) -> TransitionCounts {
        self.inner
            .cold
            .extras
            .get()
            .map_or_else(TransitionCounts::default, |e| {
                e.history
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .counts()
            })
    }

    /// The durations of the calls admitted since the breaker was created, when its policy
    /// sets `latency_histogram`; `None` otherwise. See [`Latency`].
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// assert!(Breaker::new("db", Policy::default()).latency().is_none());
    /// let on = Policy::builder().latency_histogram(true).build().unwrap();
    /// let b = Breaker::new("db", on);
    /// b.try_acquire().unwrap().success();
    /// assert_eq!(b.latency().unwrap().count(), 1);
    /// ```
    pub fn latency(&self) -> Option<Latency> {
        self.inner.latency()
    }

    /// What a Prometheus summary of [`latency`](Self::latency) reports (its
    /// [`Latency::summary`]); `None` unless the policy sets `latency_histogram`.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// assert!(Breaker::new("db", Policy::default()).latency_summary().is_none());
    /// let on = Policy::builder().latency_histogram(true).build().unwrap();
    /// let b = Breaker::new("db", on);
    /// b.try_acquire().unwrap().success();
    /// assert_eq!(b.latency_summary(), Some(b.latency().unwrap().summary()));
    /// ```
    pub fn latency_summary(&self) -> Option<LatencySummary> {
        self.inner.latency_summary()
    }

    /// This breaker's state changes as an async stream: [`subscribe`](Self::subscribe) for a
    /// tokio task. Bounded in the same way.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let b = Breaker::new("db", Policy::default());
    /// let mut events = b.subscribe_stream();
    /// b.force_open();
    /// assert_eq!(events.recv().await.unwrap().to, State::ForcedOpen);
    /// # });
    /// ```
    #[cfg(feature = "tokio")]
    pub fn subscribe_stream(&self) -> crate::feed::TransitionStream {
        self.inner.subscribe_stream()
    }
}
