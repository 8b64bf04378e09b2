//! Switching chaos off: the policy in force, without its `chaos`, as one policy swap.
//!
//! # Synchronization
//!
//! The check and the swap are made under `config_lock`, as one `set_policy`, so a policy
//! swapped in concurrently is either switched off too or swapped in after: never lost. The
//! note goes to the history as a noted manual action does (events.rs).

use std::sync::Arc;

use super::inner::Inner;
use super::{Breaker, Noted};
use crate::state::TransitionReason;
use crate::sync::hold;

impl Breaker {
    /// Switches the policy's chaos off: swaps in the policy in force without its
    /// [`chaos`](crate::Policy::chaos), as [`set_policy`](Self::set_policy) would (the state,
    /// the window and the counters are kept). Returns whether there was chaos to switch off.
    ///
    /// Whoever gives the breaker a policy again brings that policy's chaos with it: a
    /// registry re-pointing it, or a config reload. For a breaker of a registry, switch chaos
    /// off through the registry (`Registry::chaos_off` in fusebox-registry), which keeps it off
    /// across them.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_engine::{Breaker, Chaos, Policy};
    /// let policy = Policy::builder().min_calls(5).chaos(Chaos::new().with_fault_rate(0.5)).build()?;
    /// let b = Breaker::new("db", policy.clone());
    /// assert!(b.chaos_off());
    /// assert_eq!(*b.policy(), policy.without_chaos());
    /// assert!(!b.chaos_off()); // nothing left to switch off
    /// # Ok::<(), fusebox_engine::PolicyError>(())
    /// ```
    pub fn chaos_off(&self) -> bool {
        self.inner.chaos_off(None)
    }
}

impl Noted<'_> {
    /// [`Breaker::chaos_off`], noted: the history keeps an entry with the reason
    /// [`TransitionReason::ChaosOff`] and the note (`from == to`: the state is unchanged), if
    /// there was chaos to switch off. Returns whether there was.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::new("db", Policy::builder().chaos(Chaos::new().with_fault_rate(0.1)).build()?);
    /// assert!(b.noted("bob: experiment over").chaos_off());
    /// let last = b.history().pop().unwrap();
    /// assert_eq!((last.reason, last.note.as_deref()), (TransitionReason::ChaosOff, Some("bob: experiment over")));
    /// assert!(!b.noted("again").chaos_off());
    /// assert_eq!(b.history().len(), 1);
    /// # Ok::<(), PolicyError>(())
    /// ```
    pub fn chaos_off(self) -> bool {
        self.breaker.inner.chaos_off(Some(self.note))
    }
}

impl Inner {
    /// Swaps in the policy without chaos, if it has chaos, leaving `note` in the history.
    fn chaos_off(&self, note: Option<Arc<str>>) -> bool {
        let _config = hold(&self.busy.config_lock);
        let calm = {
            let policy = self.cold.policy.load();
            if policy.chaos().is_none() {
                return false;
            }
            policy.without_chaos()
        };
        // The guard is gone: the swap may forget the old policy if no breaker shares it.
        self.swap_policy(calm);
        if note.is_some() {
            let word = self.word();
            self.emit_noted(word, word, TransitionReason::ChaosOff, None, note);
        }
        true
    }
}
