//! Transition events: subscribing to a breaker's state changes and sending them.
//!
//! # Synchronization
//!
//! Subscribers live in `Extras::subscribers`, a mutex taken only to subscribe and to send.
//! `Busy::has_subscribers` (`Relaxed`) lets a transition skip building the event while nobody
//! listens: a transition racing with the first subscription may or may not be delivered. The
//! channels are bounded ([`SUBSCRIBER_CAPACITY`]) and sent to with `try_send`, so a slow
//! subscriber never blocks a transition.

use std::time::Duration;

use crossbeam_channel::{Receiver, TrySendError};

use super::inner::Inner;
use crate::error::Transition;
use crate::state::{StateWord, TransitionReason};
use crate::sync::{Ordering, lock};

/// How many transitions a subscriber may fall behind before new ones are dropped for it.
pub const SUBSCRIBER_CAPACITY: usize = 1024;

impl Inner {
    /// `Breaker::subscribe`: a new bounded channel of this breaker's state changes.
    pub(super) fn subscribe(&self) -> Receiver<Transition> {
        let (tx, rx) = crossbeam_channel::bounded(SUBSCRIBER_CAPACITY);
        lock(&self.extras().subscribers).push(tx);
        // Relaxed: a transition racing with the subscription may or may not be delivered.
        self.busy.has_subscribers.store(true, Ordering::Relaxed);
        rx
    }

    /// Tells subscribers that the word went from `from` to `to`, if the state changed.
    pub(super) fn emit(
        &self,
        from: StateWord,
        to: StateWord,
        reason: TransitionReason,
        at: Option<u64>,
    ) {
        // Relaxed: see `subscribe`.
        if from.state() == to.state() || !self.busy.has_subscribers.load(Ordering::Relaxed) {
            return;
        }
        let Some(extras) = self.cold.extras.get() else {
            return;
        };
        let event = Transition {
            breaker: self.cold.name.clone(),
            from: from.state(),
            to: to.state(),
            at: Duration::from_nanos(at.unwrap_or_else(|| self.cold.clock.now())),
            reason,
        };
        lock(&extras.subscribers).retain(|tx| {
            !matches!(
                tx.try_send(event.clone()),
                Err(TrySendError::Disconnected(_))
            )
        });
    }
}
