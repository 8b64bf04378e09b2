//! Manual actions taken through the registry: force-open, disable, metrics-only and reset,
//! noted, and with feature `tokio` undone by themselves after a ttl (a maintenance window).
//! The operator endpoint and the fleet sync both act through here, so a ttl set by one is
//! cancelled by a later action from the other.
//!
//! # Synchronization
//!
//! Each breaker's manual actions are numbered (generations, kept per registry in a
//! [`Registry::extension`]) under one mutex held across the action, so generations follow
//! the order the actions happened in. A pending ttl reset fires only if its generation is
//! still the breaker's latest, checked and done under the same mutex. Nothing on a call's path
//! takes it.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
#[cfg(feature = "tokio")]
use std::time::Duration;

use fusebox_engine::Breaker;

use crate::Registry;

/// The note a ttl's reset leaves in the history.
///
/// ```
/// assert_eq!(fusebox_registry::TTL_EXPIRED_NOTE, "ttl expired");
/// ```
pub const TTL_EXPIRED_NOTE: &str = "ttl expired";

/// A manual change of a breaker's state.
///
/// ```
/// use fusebox_registry::ManualAction;
/// let action: ManualAction = "force-open".parse()?;
/// assert_eq!(action, ManualAction::ForceOpen);
/// assert_eq!(action.as_str(), "force-open");
/// assert!("open".parse::<ManualAction>().is_err());
/// # Ok::<(), fusebox_registry::UnknownAction>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ManualAction {
    /// [`Breaker::force_open`]: every call rejected.
    ForceOpen,
    /// [`Breaker::disable`]: every call admitted, nothing recorded.
    Disable,
    /// [`Breaker::metrics_only`]: every call admitted and recorded, never rejected.
    MetricsOnly,
    /// [`Breaker::reset`]: closed, the window emptied.
    Reset,
}

impl ManualAction {
    /// Every action.
    ///
    /// ```
    /// assert_eq!(fusebox_registry::ManualAction::ALL.len(), 4);
    /// ```
    pub const ALL: [ManualAction; 4] = [
        ManualAction::ForceOpen,
        ManualAction::Disable,
        ManualAction::MetricsOnly,
        ManualAction::Reset,
    ];

    /// The action's name: `force-open`, `disable`, `metrics-only`, `reset`.
    ///
    /// ```
    /// assert_eq!(fusebox_registry::ManualAction::MetricsOnly.as_str(), "metrics-only");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ManualAction::ForceOpen => "force-open",
            ManualAction::Disable => "disable",
            ManualAction::MetricsOnly => "metrics-only",
            ManualAction::Reset => "reset",
        }
    }

    /// Applies the action to `breaker`, leaving `note` in its history.
    ///
    /// ```
    /// use fusebox_engine::{Breaker, Policy, State};
    /// let b = Breaker::new("db", Policy::default());
    /// fusebox_registry::ManualAction::ForceOpen.apply(&b, "maintenance".into());
    /// assert_eq!(b.state(), State::ForcedOpen);
    /// assert_eq!(b.history().last().unwrap().note.as_deref(), Some("maintenance"));
    /// ```
    pub fn apply(self, breaker: &Breaker, note: Arc<str>) {
        let noted = breaker.noted(note);
        match self {
            ManualAction::ForceOpen => noted.force_open(),
            ManualAction::Disable => noted.disable(),
            ManualAction::MetricsOnly => noted.metrics_only(),
            ManualAction::Reset => noted.reset(),
        }
    }
}

impl fmt::Display for ManualAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no [`ManualAction`].
///
/// ```
/// let err = "open".parse::<fusebox_registry::ManualAction>().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "unknown action \"open\": expected force-open, disable, metrics-only or reset"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAction(pub String);

impl fmt::Display for UnknownAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown action {:?}: expected force-open, disable, metrics-only or reset",
            self.0
        )
    }
}

impl std::error::Error for UnknownAction {}

impl FromStr for ManualAction {
    type Err = UnknownAction;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        ManualAction::ALL
            .into_iter()
            .find(|a| a.as_str() == name)
            .ok_or_else(|| UnknownAction(name.to_owned()))
    }
}

/// The latest manual action's number, by breaker name.
#[derive(Debug, Default)]
struct Generations {
    by_name: Mutex<HashMap<Arc<str>, u64>>,
}

impl Generations {
    /// Runs `action` on `breaker` as its next generation, and returns that generation.
    fn act(&self, breaker: &Breaker, action: impl FnOnce()) -> u64 {
        let mut by_name = self.by_name.lock().unwrap_or_else(PoisonError::into_inner);
        let generation = by_name.entry(Arc::from(breaker.name())).or_insert(0);
        *generation += 1;
        action();
        *generation
    }

    /// Resets `breaker` if `generation` is still its latest action.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    fn expire(&self, breaker: &Breaker, generation: u64) -> bool {
        let by_name = self.by_name.lock().unwrap_or_else(PoisonError::into_inner);
        if by_name.get(breaker.name()) != Some(&generation) {
            return false;
        }
        breaker.noted(TTL_EXPIRED_NOTE).reset();
        true
    }
}

impl Registry {
    /// Applies `action` to each of `breakers`, leaving `note` in their histories. A later
    /// manual action through the registry cancels a pending `act_for` reset (feature `tokio`).
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_engine::{Policy, State};
    /// use fusebox_registry::{ManualAction, Registry};
    /// let registry = Registry::new(Policy::default());
    /// let group: Vec<_> = ["db.a", "db.b"].iter().map(|n| registry.breaker(n)).collect::<Result<_, _>>()?;
    /// registry.act(&group, ManualAction::Disable, "migration".into());
    /// assert!(group.iter().all(|b| b.state() == State::Disabled));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn act(&self, breakers: &[Breaker], action: ManualAction, note: Arc<str>) {
        let generations = self.extension(Generations::default);
        for b in breakers {
            generations.act(b, || action.apply(b, note.clone()));
        }
    }

    /// [`act`](Self::act), then after `ttl` resets each breaker (noted
    /// [`TTL_EXPIRED_NOTE`]) unless a later manual action on it came first: a maintenance
    /// window. The reset is a task on the current tokio runtime (not kept across restarts).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fusebox_engine::{Policy, State};
    /// use fusebox_registry::{ManualAction, Registry};
    /// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build()?.block_on(async {
    /// let registry = Registry::new(Policy::default());
    /// let db = registry.breaker("db")?;
    /// registry.act_for(&[db.clone()], ManualAction::ForceOpen, "deploy".into(), Duration::from_secs(600));
    /// assert_eq!(db.state(), State::ForcedOpen);
    /// tokio::time::sleep(Duration::from_secs(601)).await;
    /// assert_eq!(db.state(), State::Closed);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "tokio")]
    pub fn act_for(
        &self,
        breakers: &[Breaker],
        action: ManualAction,
        note: Arc<str>,
        ttl: Duration,
    ) {
        let generations = self.extension(Generations::default);
        let scheduled: Vec<(Breaker, u64)> = breakers
            .iter()
            .map(|b| {
                (
                    b.clone(),
                    generations.act(b, || action.apply(b, note.clone())),
                )
            })
            .collect();
        tokio::spawn(async move {
            tokio::time::sleep(ttl).await;
            for (breaker, generation) in &scheduled {
                generations.expire(breaker, *generation);
            }
        });
    }
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
            Some(TTL_EXPIRED_NOTE)
        );
    }

    #[test]
    fn names_round_trip() {
        for a in ManualAction::ALL {
            assert_eq!(a.as_str().parse::<ManualAction>(), Ok(a));
        }
    }
}
