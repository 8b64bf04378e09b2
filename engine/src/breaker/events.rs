//! Transition events: what happens after a change of state. The thread whose exchange made
//! the change builds one [`Transition`] and hands it to the history, the breaker's own
//! subscribers, the feed it was built with (a registry's), and `tracing` (with that feature).
//!
//! # Synchronization
//!
//! None of it is part of the state machine: the event is built after the exchange, from a
//! read of the window that races with recorders (its counts are a moment's, not a snapshot),
//! and delivered under the `std` locks of history.rs and feed.rs. Two racing transitions may
//! reach the history and subscribers in either order; each reaches them once. Nothing here
//! runs on the path of a call that changes no state.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use crossbeam_channel::Receiver;

use super::inner::Inner;
use crate::error::Transition;
use crate::state::{StateWord, TransitionReason};

impl Inner {
    /// `Breaker::subscribe`: a new bounded channel of this breaker's state changes.
    pub(super) fn subscribe(&self) -> Receiver<Transition> {
        self.extras().subscribers.subscribe()
    }

    /// `Breaker::subscribe_stream`.
    #[cfg(feature = "tokio")]
    pub(super) fn subscribe_stream(&self) -> crate::feed::TransitionStream {
        self.extras().subscribers.subscribe_stream()
    }

    /// Reports that the word went from `from` to `to`, if the state changed.
    #[cold]
    pub(super) fn emit(
        &self,
        from: StateWord,
        to: StateWord,
        reason: TransitionReason,
        at: Option<u64>,
    ) {
        self.emit_noted(from, to, reason, at, None);
    }

    /// `emit`, with an operator's note: a noted manual action is kept in the history even when
    /// it left the state as it was (an audit trail records every action).
    #[cold]
    pub(super) fn emit_noted(
        &self,
        from: StateWord,
        to: StateWord,
        reason: TransitionReason,
        at: Option<u64>,
        note: Option<Arc<str>>,
    ) {
        let changed = from.state() != to.state();
        if !changed && note.is_none() {
            return;
        }
        let extras = self.extras();
        let event = Transition {
            breaker: extras.name.clone(),
            from: from.state(),
            to: to.state(),
            at: Duration::from_nanos(at.unwrap_or_else(|| self.cold.clock.now())),
            reason,
            window: self.window_counts(),
            note,
        };
        extras
            .history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(&event);
        if !changed {
            return;
        }
        #[cfg(feature = "tracing")]
        trace(&event);
        extras.subscribers.send(&event);
        if let Some(feed) = &self.hot.feed {
            feed.send(&event);
        }
    }
}

/// The transition as a `tracing` event: WARN into `Open` and `ForcedOpen`, INFO otherwise.
#[cfg(feature = "tracing")]
fn trace(t: &Transition) {
    use crate::state::State;
    macro_rules! event {
        ($level:expr) => {
            tracing::event!(
                target: "fusebox",
                $level,
                breaker = &*t.breaker,
                from = t.from.as_label(),
                to = t.to.as_label(),
                reason = t.reason.as_label(),
                window_calls = t.window.calls,
                window_failures = t.window.failures,
                window_slow = t.window.slow,
                note = t.note.as_deref(),
                "breaker {} went from {} to {}: {}",
                t.breaker,
                t.from,
                t.to,
                t.reason
            )
        };
    }
    if matches!(t.to, State::Open | State::ForcedOpen) {
        event!(tracing::Level::WARN);
    } else {
        event!(tracing::Level::INFO);
    }
}
