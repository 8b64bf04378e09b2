//! A breaker's audit trail: its last [`HISTORY_CAPACITY`] transitions and a count of every
//! change of state by its two ends.
//!
//! # Synchronization
//!
//! Both live in `Extras::history`, a `std` mutex taken once per transition (by the thread that
//! made it, in events.rs) and by readers. Nothing else is locked while it is held.

use std::collections::VecDeque;

use crate::error::Transition;
use crate::state::State;

/// How many transitions [`Breaker::history`](crate::Breaker::history) keeps: the newest
/// replace the oldest.
pub const HISTORY_CAPACITY: usize = 32;

const STATES: usize = State::ALL.len();

/// The last transitions and the lifetime count of each change of state.
#[derive(Default)]
pub(super) struct History {
    last: VecDeque<Transition>,
    counts: TransitionCounts,
}

impl History {
    /// Keeps `event`, dropping the oldest past the capacity, and counts it if the state
    /// changed (a noted manual action that left the state as it was is kept, not counted).
    pub(super) fn push(&mut self, event: &Transition) {
        if self.last.len() == HISTORY_CAPACITY {
            self.last.pop_front();
        }
        self.last.push_back(event.clone());
        if event.from != event.to {
            let n = &mut self.counts.counts[event.from.index()][event.to.index()];
            *n = n.saturating_add(1);
        }
    }

    pub(super) fn last(&self) -> Vec<Transition> {
        self.last.iter().cloned().collect()
    }

    pub(super) fn counts(&self) -> TransitionCounts {
        self.counts
    }

    /// Heap bytes held (an estimate: the ring and the notes; names are shared).
    pub(super) fn heap_bytes(&self) -> usize {
        self.last.capacity() * std::mem::size_of::<Transition>()
            + self
                .last
                .iter()
                .filter_map(|t| t.note.as_ref().map(|n| n.len() + 16))
                .sum::<usize>()
    }
}

/// How many times a breaker went from each state to each other since it was created (a reset
/// does not clear them): what `fusebox_transitions_total{from,to}` exports.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, Policy, State};
/// let b = Breaker::new("db", Policy::default());
/// b.force_open();
/// b.reset();
/// b.force_open();
/// let counts = b.transition_counts();
/// assert_eq!(counts.get(State::Closed, State::ForcedOpen), 2);
/// assert_eq!(counts.get(State::ForcedOpen, State::Closed), 1);
/// assert_eq!(counts.iter().count(), 2);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransitionCounts {
    counts: [[u64; STATES]; STATES],
}

impl TransitionCounts {
    /// Changes from `from` to `to`.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::new("db", Policy::default());
    /// assert_eq!(b.transition_counts().get(State::Closed, State::Open), 0);
    /// ```
    pub fn get(&self, from: State, to: State) -> u64 {
        self.counts[from.index()][to.index()]
    }

    /// Every change that happened at least once, as `(from, to, count)`.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::new("db", Policy::default());
    /// b.disable();
    /// let all: Vec<_> = b.transition_counts().iter().collect();
    /// assert_eq!(all, [(State::Closed, State::Disabled, 1)]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (State, State, u64)> + '_ {
        State::ALL.into_iter().flat_map(move |from| {
            State::ALL
                .into_iter()
                .map(move |to| (from, to, self.get(from, to)))
                .filter(|&(_, _, n)| n > 0)
        })
    }
}
