//! [`TransitionFeed`]: a fan-out of transitions to any number of subscribers, shared by the
//! breakers that send to it (every breaker of a registry, say).
//!
//! # Synchronization
//!
//! The subscribers sit behind a `std` mutex taken to subscribe and to send one transition:
//! transitions are rare, and the mutex is never held while anything else is locked or any
//! caller code runs. Every channel is bounded and sent to with `try_send`, so a subscriber
//! that does not read never blocks a breaker: once its channel holds [`SUBSCRIBER_CAPACITY`]
//! transitions, newer ones are dropped for it alone and counted in [`TransitionFeed::dropped`]
//! (`Relaxed`: a statistic). A subscriber whose receiver is gone is removed on the next send.
//! `has_subscribers` (`Relaxed`) lets a send skip the lock while nobody ever subscribed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::error::Transition;

/// How many transitions a subscriber may fall behind before newer ones are dropped for it.
pub const SUBSCRIBER_CAPACITY: usize = 1024;

/// A fan-out of state changes: every transition sent to it reaches every subscriber.
///
/// A registry keeps one and gives it to each breaker it creates, so
/// `registry.subscribe()` sees every breaker, including those created later; a breaker built
/// with [`BreakerBuilder::feed`](crate::BreakerBuilder::feed) sends to one too. Clones share one
/// feed. Subscribers that fall [`SUBSCRIBER_CAPACITY`] transitions behind lose the newer ones,
/// for themselves only, counted in [`dropped`](Self::dropped); nothing ever blocks a breaker.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, ManualClock, Policy, State, TransitionFeed};
/// let feed = TransitionFeed::new();
/// let events = feed.subscribe();
/// let a = Breaker::builder("a", Policy::default()).clock(ManualClock::new()).feed(&feed).build();
/// let b = Breaker::builder("b", Policy::default()).clock(ManualClock::new()).feed(&feed).build();
/// a.force_open();
/// b.disable();
/// let seen: Vec<_> = events.try_iter().map(|t| (t.breaker, t.to)).collect();
/// assert_eq!(seen, [("a".into(), State::ForcedOpen), ("b".into(), State::Disabled)]);
/// ```
#[derive(Clone, Default)]
pub struct TransitionFeed {
    shared: Arc<Fanout>,
}

#[derive(Default)]
struct Fanout {
    sinks: Mutex<Vec<Sink>>,
    /// Someone subscribed once: sends take the lock from then on.
    has_subscribers: AtomicBool,
    dropped: AtomicU64,
}

/// One subscriber's channel.
enum Sink {
    Blocking(Sender<Transition>),
    #[cfg(feature = "tokio")]
    Async(tokio::sync::mpsc::Sender<Transition>),
}

/// What one `try_send` did.
enum Sent {
    Delivered,
    Full,
    Gone,
}

impl Sink {
    fn try_send(&self, event: &Transition) -> Sent {
        match self {
            Sink::Blocking(tx) => match tx.try_send(event.clone()) {
                Ok(()) => Sent::Delivered,
                Err(TrySendError::Full(_)) => Sent::Full,
                Err(TrySendError::Disconnected(_)) => Sent::Gone,
            },
            #[cfg(feature = "tokio")]
            Sink::Async(tx) => match tx.try_send(event.clone()) {
                Ok(()) => Sent::Delivered,
                Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => Sent::Full,
                Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => Sent::Gone,
            },
        }
    }
}

impl TransitionFeed {
    /// A feed with no subscribers.
    ///
    /// ```
    /// assert_eq!(fusebox_engine::TransitionFeed::new().subscribers(), 0);
    /// ```
    pub fn new() -> Self {
        TransitionFeed::default()
    }

    /// A new subscriber: a bounded channel of every transition sent from now on.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let feed = TransitionFeed::new();
    /// let rx = feed.subscribe();
    /// assert!(rx.try_recv().is_err());
    /// ```
    pub fn subscribe(&self) -> Receiver<Transition> {
        let (tx, rx) = crossbeam_channel::bounded(SUBSCRIBER_CAPACITY);
        self.add(Sink::Blocking(tx));
        rx
    }

    /// A new subscriber as an async [`Stream`](futures_core::Stream) of every transition sent
    /// from now on, for a tokio task: no polling loop, no blocking receive.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let feed = TransitionFeed::new();
    /// let mut events = feed.subscribe_stream();
    /// let b = Breaker::builder("db", Policy::default()).feed(&feed).build();
    /// b.force_open();
    /// let t = std::future::poll_fn(|cx| {
    ///     futures_core::Stream::poll_next(std::pin::Pin::new(&mut events), cx)
    /// })
    /// .await
    /// .unwrap();
    /// assert_eq!(t.to, State::ForcedOpen);
    /// # });
    /// ```
    #[cfg(feature = "tokio")]
    pub fn subscribe_stream(&self) -> TransitionStream {
        let (tx, rx) = tokio::sync::mpsc::channel(SUBSCRIBER_CAPACITY);
        self.add(Sink::Async(tx));
        TransitionStream { rx }
    }

    fn add(&self, sink: Sink) {
        let mut sinks = self
            .shared
            .sinks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        sinks.push(sink);
        // Relaxed: a transition racing with the first subscription may or may not reach it.
        self.shared.has_subscribers.store(true, Ordering::Relaxed);
    }

    /// Transitions dropped so far because a subscriber had [`SUBSCRIBER_CAPACITY`] unread:
    /// one per subscriber that missed one.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let feed = TransitionFeed::new();
    /// let _never_read = feed.subscribe();
    /// let b = Breaker::builder("db", Policy::default()).feed(&feed).build();
    /// for _ in 0..SUBSCRIBER_CAPACITY {
    ///     b.force_open();
    ///     b.reset();
    /// }
    /// assert_eq!(feed.dropped(), SUBSCRIBER_CAPACITY as u64);
    /// ```
    pub fn dropped(&self) -> u64 {
        // Relaxed: a statistic.
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Subscribers still listening (as of the last send, which removes those whose receiver
    /// is gone).
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let feed = TransitionFeed::new();
    /// let _rx = feed.subscribe();
    /// assert_eq!(feed.subscribers(), 1);
    /// ```
    pub fn subscribers(&self) -> usize {
        self.shared
            .sinks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Sends `event` to every subscriber, dropping it for those whose channel is full.
    pub(crate) fn send(&self, event: &Transition) {
        // Relaxed: see `add`.
        if !self.shared.has_subscribers.load(Ordering::Relaxed) {
            return;
        }
        let mut dropped = 0;
        let mut sinks = self
            .shared
            .sinks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        sinks.retain(|sink| match sink.try_send(event) {
            Sent::Delivered => true,
            Sent::Full => {
                dropped += 1;
                true
            }
            Sent::Gone => false,
        });
        drop(sinks);
        if dropped > 0 {
            // Relaxed: a statistic.
            self.shared.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
    }

    /// Whether two feeds are the same.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let feed = TransitionFeed::new();
    /// assert!(TransitionFeed::ptr_eq(&feed, &feed.clone()));
    /// assert!(!TransitionFeed::ptr_eq(&feed, &TransitionFeed::new()));
    /// ```
    pub fn ptr_eq(a: &TransitionFeed, b: &TransitionFeed) -> bool {
        Arc::ptr_eq(&a.shared, &b.shared)
    }
}

impl std::fmt::Debug for TransitionFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransitionFeed")
            .field("subscribers", &self.subscribers())
            .field("dropped", &self.dropped())
            .finish()
    }
}

/// The async subscriber of a [`TransitionFeed`]: a [`Stream`](futures_core::Stream) of
/// transitions that ends when the feed and every breaker sending to it are gone.
///
/// # Examples
///
/// ```
/// # use fusebox_engine::*;
/// let stream: TransitionStream = TransitionFeed::new().subscribe_stream();
/// # drop(stream);
/// ```
#[cfg(feature = "tokio")]
#[derive(Debug)]
pub struct TransitionStream {
    rx: tokio::sync::mpsc::Receiver<Transition>,
}

#[cfg(feature = "tokio")]
impl TransitionStream {
    /// The next transition; `None` once no sender is left.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let feed = TransitionFeed::new();
    /// let mut events = feed.subscribe_stream();
    /// Breaker::builder("db", Policy::default()).feed(&feed).build().disable();
    /// assert_eq!(events.recv().await.unwrap().to, State::Disabled);
    /// # });
    /// ```
    pub async fn recv(&mut self) -> Option<Transition> {
        self.rx.recv().await
    }
}

#[cfg(feature = "tokio")]
impl futures_core::Stream for TransitionStream {
    type Item = Transition;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Transition>> {
        self.rx.poll_recv(cx)
    }
}
