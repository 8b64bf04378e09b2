//! Manual changes that carry an operator's note: the audit trail's entries.
//!
//! # Synchronization
//!
//! None of its own: each action is the breaker's own manual change (transition.rs), with the
//! note handed to the transition it makes (events.rs).

use std::sync::Arc;

use super::Breaker;
use crate::state::{State, TransitionReason};

/// A manual change with an operator's note (who, why), from [`Breaker::noted`]. The note
/// goes into the [`Transition`](crate::Transition) it makes, so subscribers and the
/// breaker's [`history`](Breaker::history) see it. An action that leaves the state as it was
/// (a reset of a closed breaker) is still kept in the history, with `from == to`, though it
/// reaches no subscriber and counts as no transition.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, Policy, State};
/// let b = Breaker::new("payments", Policy::default());
/// b.noted("oncall: provider maintenance until 14:00").force_open();
/// b.noted("oncall: maintenance over").reset();
/// let notes: Vec<_> = b.history().iter().map(|t| t.note.clone().unwrap()).collect();
/// assert_eq!(&*notes[1], "oncall: maintenance over");
/// assert_eq!(b.state(), State::Closed);
/// ```
#[derive(Debug)]
#[must_use = "a noted change does nothing until one of its actions is called"]
pub struct Noted<'a> {
    pub(super) breaker: &'a Breaker,
    pub(super) note: Arc<str>,
}

impl Breaker {
    /// The manual changes ([`Noted::force_open`], [`Noted::disable`],
    /// [`Noted::metrics_only`], [`Noted::reset`], [`Noted::chaos_off`]) with `note` attached
    /// to the transition each makes.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::new("db", Policy::default());
    /// b.noted("bob: load test").disable();
    /// assert_eq!(b.history()[0].note.as_deref(), Some("bob: load test"));
    /// ```
    pub fn noted(&self, note: impl Into<Arc<str>>) -> Noted<'_> {
        Noted {
            breaker: self,
            note: note.into(),
        }
    }
}

impl Noted<'_> {
    /// [`Breaker::force_open`], noted.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::new("db", Policy::default());
    /// b.noted("why").force_open();
    /// assert_eq!(b.state(), State::ForcedOpen);
    /// ```
    pub fn force_open(self) {
        self.apply(State::ForcedOpen, TransitionReason::ForcedOpen);
    }

    /// [`Breaker::disable`], noted.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::new("db", Policy::default());
    /// b.noted("why").disable();
    /// assert_eq!(b.state(), State::Disabled);
    /// ```
    pub fn disable(self) {
        self.apply(State::Disabled, TransitionReason::Disabled);
    }

    /// [`Breaker::metrics_only`], noted.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::new("db", Policy::default());
    /// b.noted("why").metrics_only();
    /// assert_eq!(b.state(), State::MetricsOnly);
    /// ```
    pub fn metrics_only(self) {
        self.apply(State::MetricsOnly, TransitionReason::MetricsOnly);
    }

    /// [`Breaker::reset`], noted.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::new("db", Policy::default());
    /// b.force_open();
    /// b.noted("why").reset();
    /// assert_eq!(b.state(), State::Closed);
    /// ```
    pub fn reset(self) {
        self.apply(State::Closed, TransitionReason::Reset);
    }

    fn apply(self, to: State, reason: TransitionReason) {
        self.breaker.inner.manual(to, reason, Some(self.note));
    }
}
