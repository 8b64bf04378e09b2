//! The JSON bodies the routes answer with: a breaker's view, its history, a transition event.

use std::time::Duration;

use fusebox_engine::{Breaker, Transition, WindowCounts};
use fusebox_registry::{PolicySource, Registry};
use serde::Serialize;

/// Milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Lifetime outcome counters.
#[derive(Debug, Serialize)]
pub(crate) struct Calls {
    success: u64,
    failure: u64,
    ignored: u64,
}

/// A breaker as `GET /fusebox/breakers` lists it; with `detail`, as
/// `GET /fusebox/breakers/{name}` shows it.
#[derive(Debug, Serialize)]
pub(crate) struct BreakerView {
    name: String,
    state: &'static str,
    failure_rate: f64,
    slow_call_rate: f64,
    window_calls: u64,
    calls: Calls,
    rejected: u64,
    open_remaining_ms: Option<u64>,
    policy_source: PolicySource,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    detail: Option<Detail>,
}

/// What only the one-breaker view carries.
#[derive(Debug, Serialize)]
struct Detail {
    /// The policy in force, as TOML.
    policy: String,
    /// The last transitions, oldest first.
    history: Vec<TransitionView>,
}

impl BreakerView {
    /// The summary of `breaker`.
    pub(crate) fn summary(registry: &Registry, breaker: &Breaker) -> Self {
        let m = breaker.metrics();
        BreakerView {
            name: breaker.name().to_owned(),
            state: m.state.as_label(),
            failure_rate: m.failure_rate(),
            slow_call_rate: m.slow_call_rate(),
            window_calls: m.window_calls,
            calls: Calls {
                success: m.successes,
                failure: m.failures,
                ignored: m.ignored,
            },
            rejected: m.rejected,
            open_remaining_ms: breaker.open_remaining().map(millis),
            policy_source: registry
                .policy_source(breaker.name())
                .unwrap_or(PolicySource::Default),
            detail: None,
        }
    }

    /// The summary with the policy and the history.
    pub(crate) fn detailed(registry: &Registry, breaker: &Breaker) -> Self {
        let mut view = Self::summary(registry, breaker);
        view.detail = Some(Detail {
            policy: breaker.policy().to_toml(),
            history: breaker
                .history()
                .iter()
                .map(TransitionView::history)
                .collect(),
        });
        view
    }
}

/// A transition: in a history (no breaker name; the window's counts) or as an event.
#[derive(Debug, Serialize)]
pub(crate) struct TransitionView {
    #[serde(skip_serializing_if = "Option::is_none")]
    breaker: Option<String>,
    from: &'static str,
    to: &'static str,
    reason: &'static str,
    at_ms: u64,
    note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    window: Option<WindowCounts>,
}

impl TransitionView {
    /// An entry of a breaker's history.
    pub(crate) fn history(t: &Transition) -> Self {
        TransitionView {
            breaker: None,
            window: Some(t.window),
            ..Self::event(t)
        }
    }

    /// A `transition` event of `GET /fusebox/events`.
    pub(crate) fn event(t: &Transition) -> Self {
        TransitionView {
            breaker: Some(t.breaker.to_string()),
            from: t.from.as_label(),
            to: t.to.as_label(),
            reason: t.reason.as_label(),
            at_ms: millis(t.at),
            note: t.note.as_deref().map(str::to_owned),
            window: None,
        }
    }
}
