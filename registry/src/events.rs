//! The registry's transitions: one [`TransitionFeed`](fusebox_engine::TransitionFeed) that
//! every breaker it creates sends to, so a subscriber sees every breaker, including those
//! created after it subscribed.
//!
//! # Synchronization
//!
//! The feed's own (see the engine's `TransitionFeed`): bounded channels sent to with
//! `try_send` under a `std` mutex taken once per transition; a breaker never blocks on a
//! subscriber.

use crossbeam_channel::Receiver;
use fusebox_engine::Transition;

use crate::Registry;

impl Registry {
    /// Every transition of every breaker of this registry, from now on, including breakers
    /// created later. The channel is bounded
    /// ([`SUBSCRIBER_CAPACITY`](fusebox_engine::SUBSCRIBER_CAPACITY)): a subscriber that
    /// falls behind loses the newest transitions, for itself only, counted in
    /// [`events_dropped`](Self::events_dropped); nothing ever blocks a breaker.
    ///
    /// ```
    /// use fusebox_engine::{Policy, State};
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// let events = registry.subscribe();
    /// registry.breaker("created.after")?.force_open();
    /// let t = events.try_recv().unwrap();
    /// assert_eq!((&*t.breaker, t.to), ("created.after", State::ForcedOpen));
    /// # Ok::<(), fusebox_registry::RegistryError>(())
    /// ```
    pub fn subscribe(&self) -> Receiver<Transition> {
        self.inner.feed.subscribe()
    }

    /// [`subscribe`](Self::subscribe) as an async
    /// [`Stream`](https://docs.rs/futures-core/latest/futures_core/stream/trait.Stream.html)
    /// for a tokio task: no polling loop in user code.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// let mut events = registry.subscribe_stream();
    /// registry.breaker("db").unwrap().disable();
    /// assert_eq!(events.recv().await.unwrap().to, State::Disabled);
    /// # });
    /// ```
    #[cfg(feature = "tokio")]
    pub fn subscribe_stream(&self) -> fusebox_engine::TransitionStream {
        self.inner.feed.subscribe_stream()
    }

    /// Transitions dropped so far because a subscriber of [`subscribe`](Self::subscribe)
    /// had a full channel: one per subscriber that missed one (`fusebox_events_dropped_total`).
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// assert_eq!(registry.events_dropped(), 0);
    /// ```
    pub fn events_dropped(&self) -> u64 {
        self.inner.feed.dropped()
    }
}
