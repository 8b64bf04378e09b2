//! Maintenance windows: a ttl on an action resets the breaker when it expires, unless a
//! later action on the same breaker came first. Each breaker's actions are numbered
//! (generations, kept per registry in a [`Registry::extension`]); a pending reset fires only
//! if its generation is still the breaker's latest.
//!
//! [`Registry::extension`]: fusebox_registry::Registry::extension

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fusebox_engine::Breaker;

/// The note a ttl's reset leaves in the history.
pub(crate) const EXPIRED_NOTE: &str = "ttl expired";

/// The latest action's number, by breaker name.
#[derive(Debug, Default)]
pub(crate) struct Generations {
    by_name: Mutex<HashMap<Arc<str>, u64>>,
}

impl Generations {
    /// Runs `action` on `breaker` as its next generation, and returns that generation. The
    /// lock is held across the action, so generations follow the order actions happen in.
    pub(crate) fn act(&self, breaker: &Breaker, action: impl FnOnce()) -> u64 {
        let mut by_name = self.by_name.lock().unwrap_or_else(PoisonError::into_inner);
        let generation = match by_name.get_mut(breaker.name()) {
            Some(g) => {
                *g += 1;
                *g
            }
            None => {
                by_name.insert(Arc::from(breaker.name()), 1);
                1
            }
        };
        action();
        generation
    }

    /// Resets `breaker` if `generation` is still its latest action.
    fn expire(&self, breaker: &Breaker, generation: u64) -> bool {
        let by_name = self.by_name.lock().unwrap_or_else(PoisonError::into_inner);
        if by_name.get(breaker.name()) != Some(&generation) {
            return false;
        }
        breaker.noted(EXPIRED_NOTE).reset();
        true
    }
}

/// After `ttl`, resets each breaker whose generation is still the one given (a tokio task).
pub(crate) fn reset_after(
    generations: Arc<Generations>,
    breakers: Vec<(Breaker, u64)>,
    ttl: Duration,
) {
    tokio::spawn(async move {
        tokio::time::sleep(ttl).await;
        for (breaker, generation) in &breakers {
            generations.expire(breaker, *generation);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use fusebox_engine::{Policy, State};

    #[test]
    fn a_later_action_cancels_the_reset() {
        let g = Generations::default();
        let b = Breaker::new("db", Policy::default());
        let first = g.act(&b, || b.force_open());
        let second = g.act(&b, || b.disable());
        assert!(!g.expire(&b, first));
        assert_eq!(b.state(), State::Disabled);
        assert!(g.expire(&b, second));
        assert_eq!(b.state(), State::Closed);
        assert_eq!(
            b.history().last().unwrap().note.as_deref(),
            Some(EXPIRED_NOTE)
        );
    }
}
