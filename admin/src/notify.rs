//! Notifications: each transition into a state the config file's `[notify] on` lists is POSTed
//! as JSON to its `webhook`, from background tasks that never hold up a breaker.
//!
//! Two tasks per registry. The *reader* takes every transition from the registry's event
//! stream, keeps those the `[notify]` table in force announces, and puts them in a queue of
//! [`NOTIFY_QUEUE`] entries: when it is full (a dead webhook), the transition is dropped and counted.
//! The *sender* POSTs the queue's entries in order, each through a fusebox breaker with a
//! timeout and a retry policy (exponential backoff with jitter): while the webhook fails, the
//! breaker opens and the sender waits out its open period, then tries the same entry again. A
//! webhook that answers a 4xx other than 408 or 429 refused that entry for good: it is counted
//! as failed and skipped.
//!
//! The tasks start once per registry, on the tokio runtime of the first
//! [`router`](crate::router) or request that finds them not started, and run as long as the
//! runtime does. Their counters are exported on `GET /metrics`.
//!
//! # Synchronization
//!
//! The registry's event stream never blocks a breaker (a subscriber that falls behind loses
//! events, counted by the registry); the queue is a bounded tokio channel the reader never
//! waits on. Counters are relaxed atomics: each is a tally read on its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use fusebox_engine::{Breaker, Outcome, Policy, RunError, Transition};
use fusebox_registry::Registry;
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;

use crate::json::TransitionView;
use crate::settings::Settings;

/// How many transitions may wait for the `[notify]` webhook: while it is down, more are
/// dropped and counted in `fusebox_notify_dropped_total`.
///
/// ```
/// assert_eq!(fusebox_admin::NOTIFY_QUEUE, 256);
/// ```
pub const NOTIFY_QUEUE: usize = 256;

/// How long one POST may take.
const POST_TIMEOUT: Duration = Duration::from_secs(5);

/// The webhook's own breaker: a POST times out after 2 s, is tried up to 4 times with
/// backoff from 100 ms, and 3 failures in a row open the breaker for 2 s (growing to 30 s
/// while the webhook stays down).
const WEBHOOK_POLICY: &str = r#"
window = { count = 10 }
min_calls = 5
failure_rate_threshold = 0.5
consecutive_failures = 3
open_timeout = "2s"
backoff = { exponential = 2, max = "30s" }
timeout = "2s"
retry = { max_attempts = 4, backoff = "full_jitter", base = "100ms", max = "2s", budget = 1.0 }
"#;

/// A registry's notifier: whether its tasks run, and their counts.
#[derive(Debug, Default)]
pub(crate) struct Notifier {
    started: AtomicBool,
    counts: Counts,
}

/// What the notifier did since it started.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    /// Transitions POSTed and answered 2xx.
    pub(crate) sent: AtomicU64,
    /// Transitions dropped because the queue was full.
    pub(crate) dropped: AtomicU64,
    /// Transitions given up on: refused by the webhook with a 4xx.
    pub(crate) failed: AtomicU64,
    /// POST attempts that failed (no connection, a 5xx, 408 or 429), retries included, and
    /// tries whose last attempt timed out.
    pub(crate) failed_attempts: AtomicU64,
}

impl Notifier {
    /// The registry's notifier (created, not started, on first use).
    pub(crate) fn of(registry: &Registry) -> Arc<Notifier> {
        registry.extension(Notifier::default)
    }

    /// Starts the tasks on the current tokio runtime, once per registry; does nothing
    /// outside a runtime (a later call inside one starts them).
    pub(crate) fn ensure_started(registry: &Registry) {
        let notifier = Notifier::of(registry);
        if notifier.started.load(Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        // Relaxed: the flag only elects one starter; the tasks share nothing through it.
        if notifier.started.swap(true, Ordering::Relaxed) {
            return;
        }
        let (queue, pending) = mpsc::channel(NOTIFY_QUEUE);
        // Subscribed here, not in the task: no transition after this call is missed.
        let events = registry.subscribe_stream();
        runtime.spawn(read(registry.clone(), events, notifier.clone(), queue));
        runtime.spawn(send(registry.clone(), notifier, pending));
    }

    /// The counts, for `GET /metrics`, in the Prometheus text format.
    pub(crate) fn render_prometheus(&self) -> String {
        let c = &self.counts;
        let mut out = String::new();
        for (name, help, count) in [
            (
                "fusebox_notify_sent_total",
                "Transitions POSTed to the [notify] webhook and accepted.",
                &c.sent,
            ),
            (
                "fusebox_notify_dropped_total",
                "Transitions not sent because the notification queue was full.",
                &c.dropped,
            ),
            (
                "fusebox_notify_failed_total",
                "Transitions the [notify] webhook refused with a 4xx, not retried.",
                &c.failed,
            ),
            (
                "fusebox_notify_failed_attempts_total",
                "POSTs to the [notify] webhook that failed and were retried.",
                &c.failed_attempts,
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
                count.load(Ordering::Relaxed)
            ));
        }
        out
    }

    #[cfg(test)]
    pub(crate) fn counts(&self) -> &Counts {
        &self.counts
    }
}

/// The reader: the transitions `[notify]` announces, into the queue.
async fn read(
    registry: Registry,
    mut events: impl Stream<Item = Transition> + Unpin,
    notifier: Arc<Notifier>,
    queue: mpsc::Sender<Vec<u8>>,
) {
    let settings = Settings::of(&registry);
    while let Some(transition) = events.next().await {
        let announced = settings
            .current()
            .notify
            .as_ref()
            .is_some_and(|n| n.announces(transition.to.as_label()));
        // An audit entry with no change of state (a chaos switch-off) is not a transition
        // into anything.
        let announced = announced && transition.from != transition.to;
        if announced && queue.try_send(payload(&transition)).is_err() {
            notifier.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn payload(transition: &Transition) -> Vec<u8> {
    serde_json::to_vec(&TransitionView::event(transition)).unwrap_or_else(|_| b"{}".to_vec())
}

/// Why one POST failed.
#[derive(Debug)]
enum PostError {
    /// The webhook answered this status.
    Status(u16),
    /// No answer: connection refused or reset, or a timeout.
    Unreachable,
}

impl PostError {
    /// Whether trying the same entry again may work: a 4xx other than 408 and 429 will not.
    fn is_transient(&self) -> bool {
        match self {
            PostError::Status(code) => !(400..500).contains(code) || matches!(code, 408 | 429),
            PostError::Unreachable => true,
        }
    }
}

/// The sender: each queued transition POSTed until it is accepted or refused for good.
async fn send(registry: Registry, notifier: Arc<Notifier>, mut pending: mpsc::Receiver<Vec<u8>>) {
    let settings = Settings::of(&registry);
    let client = reqwest::Client::builder()
        .timeout(POST_TIMEOUT)
        .build()
        .unwrap_or_default();
    let breaker = webhook_breaker();
    let counts = &notifier.counts;
    while let Some(body) = pending.recv().await {
        // The webhook in force now, each try: a reload may have moved or removed it.
        while let Some(url) = settings
            .current()
            .notify
            .as_ref()
            .map(|n| n.webhook.clone())
        {
            let attempt = || {
                let request = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone());
                async move {
                    match request.send().await {
                        Ok(response) if response.status().is_success() => Ok(()),
                        Ok(response) => Err(PostError::Status(response.status().as_u16())),
                        Err(_) => Err(PostError::Unreachable),
                    }
                }
            };
            let classify = |result: &Result<(), PostError>| match result {
                Ok(()) => Outcome::Success,
                Err(e) if e.is_transient() => {
                    counts.failed_attempts.fetch_add(1, Ordering::Relaxed);
                    Outcome::Failure
                }
                Err(_) => Outcome::Ignored,
            };
            match breaker.run_with(attempt, classify).await {
                Ok(()) => {
                    counts.sent.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Err(RunError::Failed { error, .. }) if !error.is_transient() => {
                    counts.failed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Err(RunError::Rejected { rejected, .. }) => {
                    let wait = rejected.retry_after().unwrap_or(Duration::from_secs(1));
                    tokio::time::sleep(wait).await;
                }
                Err(RunError::TimedOut { .. }) => {
                    counts.failed_attempts.fetch_add(1, Ordering::Relaxed);
                }
                // Retries ran out: the breaker has likely opened, and says how long to wait.
                Err(_) => {}
            }
        }
    }
}

/// A breaker of its own, outside the registry: the webhook is not one of the registry's
/// dependencies, and its transitions must not be announced to itself.
fn webhook_breaker() -> Breaker {
    // A test checks the policy is valid: the default is never taken.
    Breaker::new(
        "fusebox.notify",
        Policy::from_toml(WEBHOOK_POLICY).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_webhook_policy_is_valid() {
        let policy = Policy::from_toml(WEBHOOK_POLICY).unwrap();
        assert_eq!(policy.timeout(), Some(Duration::from_secs(2)));
        assert_eq!(policy.retry().map(|r| r.max_attempts()), Some(4));
    }

    #[test]
    fn client_errors_are_final_but_408_and_429_are_not() {
        assert!(!PostError::Status(400).is_transient());
        assert!(!PostError::Status(404).is_transient());
        assert!(PostError::Status(408).is_transient());
        assert!(PostError::Status(429).is_transient());
        assert!(PostError::Status(503).is_transient());
        assert!(PostError::Unreachable.is_transient());
    }

    #[test]
    fn counts_start_at_zero() {
        let n = Notifier::default();
        assert_eq!(n.counts().sent.load(Ordering::Relaxed), 0);
        assert!(
            n.render_prometheus()
                .contains("fusebox_notify_dropped_total 0\n")
        );
    }
}
