//! Exporting a registry's figures to the [`metrics`] facade (feature `metrics`): the series
//! [`Registry::render_prometheus`] writes, pushed as absolute counters and gauges to whatever
//! `metrics` recorder is installed.
//!
//! Nothing is added to a call: [`publish`] reads each breaker's lifetime counters and gauges
//! and sets them. The `metrics` handles are made once per breaker and kept with the registry
//! (see [`Registry::extension`]), so a publish costs a read of each breaker and a store per
//! series. [`MetricsPublisher`] publishes on an interval, from a thread of its own.
//!
//! | series | kind |
//! |---|---|
//! | `fusebox_calls_total{breaker,outcome}` | counter |
//! | `fusebox_failures_total{breaker,kind}` | counter |
//! | `fusebox_rejected_total{breaker,reason}` | counter |
//! | `fusebox_slow_calls_total{breaker}` | counter |
//! | `fusebox_transitions_total{breaker,from,to}` | counter |
//! | `fusebox_state{breaker,state}` | gauge, one-hot |
//! | `fusebox_failure_rate{breaker}`, `fusebox_slow_call_rate{breaker}` | gauge |
//! | `fusebox_window_calls{breaker}`, `fusebox_open_remaining_seconds{breaker}` | gauge |
//! | `fusebox_call_duration_seconds{breaker,quantile}` | gauge (with `latency_histogram`) |
//! | `fusebox_events_dropped_total` | counter |
//!
//! # Examples
//!
//! ```
//! use fusebox::{Policy, Registry};
//! let registry = Registry::new(Policy::default());
//! registry.breaker("db")?.force_open();
//! // With a recorder installed (metrics-exporter-prometheus, statsd, …):
//! fusebox::telemetry::publish(&registry);
//! # Ok::<(), fusebox::RegistryError>(())
//! ```

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Sender, bounded};
use fusebox_engine::{Breaker, Latency, RejectReason, State};
use fusebox_registry::Registry;
use metrics::{Counter, Gauge, Label, Level, Metadata};

/// Pushes every breaker's series of `registry` to the installed `metrics` recorder, once.
/// Handles are made the first time a breaker is published and reused after (kept with the
/// registry); breakers no longer in the registry are forgotten.
///
/// ```
/// let registry = fusebox::Registry::new(fusebox::Policy::default());
/// registry.breaker("cache").unwrap();
/// fusebox::telemetry::publish(&registry);
/// ```
pub fn publish(registry: &Registry) {
    let handles = registry.extension(|| Handles {
        by_breaker: Mutex::new(Vec::new()),
        events_dropped: OnceSlot::default(),
    });
    handles.publish(registry);
}

/// Publishes a registry's series on an interval, from a thread of its own, until dropped.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fusebox::telemetry::MetricsPublisher;
/// let registry = fusebox::Registry::new(fusebox::Policy::default());
/// let publisher = MetricsPublisher::spawn(&registry, Duration::from_secs(10))?;
/// // … the service runs; each 10 s the recorder gets fresh absolute values …
/// drop(publisher); // stops the thread (after a last publish)
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct MetricsPublisher {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsPublisher {
    /// Starts a thread that calls [`publish`] for `registry` now and every `interval`.
    /// An `interval` of zero is taken as one millisecond.
    ///
    /// # Errors
    ///
    /// The thread could not be started.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let registry = fusebox::Registry::new(fusebox::Policy::default());
    /// let _publisher = fusebox::telemetry::MetricsPublisher::spawn(&registry, Duration::from_secs(5))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn(registry: &Registry, interval: Duration) -> std::io::Result<MetricsPublisher> {
        let interval = interval.max(Duration::from_millis(1));
        let (stop, stopped) = bounded::<()>(1);
        let registry = registry.clone();
        let thread = std::thread::Builder::new()
            .name("fusebox-metrics".into())
            .spawn(move || {
                loop {
                    publish(&registry);
                    // A message or a disconnect both mean stop.
                    if !matches!(
                        stopped.recv_timeout(interval),
                        Err(crossbeam_channel::RecvTimeoutError::Timeout)
                    ) {
                        publish(&registry);
                        return;
                    }
                }
            })?;
        Ok(MetricsPublisher {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for MetricsPublisher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // A panic in the thread was the recorder's; it is not resumed in a destructor.
            let _ = thread.join();
        }
    }
}

/// The handles of one registry, kept with it.
struct Handles {
    /// In the order of [`Registry::breakers`], by name.
    by_breaker: Mutex<Vec<BreakerHandles>>,
    events_dropped: OnceSlot<Counter>,
}

/// A handle made on first use.
struct OnceSlot<T>(std::sync::OnceLock<T>);

impl<T> Default for OnceSlot<T> {
    fn default() -> Self {
        OnceSlot(std::sync::OnceLock::new())
    }
}

impl Handles {
    fn publish(&self, registry: &Registry) {
        let breakers = registry.breakers();
        let mut by_breaker = self
            .by_breaker
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // As long as the registry lists the breakers whose handles were made last time, each
        // breaker's handles are the next ones; the first that is not starts a merge.
        for (index, breaker) in breakers.iter().enumerate() {
            match by_breaker.get_mut(index) {
                Some(handles) if handles.are_for(breaker) => handles.publish(breaker),
                _ => {
                    merge(&mut by_breaker, &breakers, index);
                    break;
                }
            }
        }
        // Breakers gone from the end of the list.
        by_breaker.truncate(breakers.len());
        drop(by_breaker);
        self.events_dropped
            .0
            .get_or_init(|| counter("fusebox_events_dropped_total", Vec::new()))
            .absolute(registry.events_dropped());
    }
}

/// Publishes `breakers[from..]` through `handles[from..]`, both in name order, keeping the
/// handles of breakers still listed, making those of new ones, and dropping those of breakers
/// gone.
fn merge(handles: &mut Vec<BreakerHandles>, breakers: &[Breaker], from: usize) {
    let mut old = handles
        .split_off(from.min(handles.len()))
        .into_iter()
        .peekable();
    for breaker in breakers.get(from..).unwrap_or_default() {
        while old.next_if(|h| *h.name < *breaker.name()).is_some() {}
        let mut h = old
            .next_if(|h| *h.name == *breaker.name())
            .unwrap_or_else(|| BreakerHandles::new(breaker.name_arc()));
        h.publish(breaker);
        handles.push(h);
    }
}

/// One breaker's handles.
struct BreakerHandles {
    name: Arc<str>,
    calls: [Counter; 3],
    rejected: [Counter; RejectReason::ALL.len()],
    slow: Counter,
    /// By kind, in the order first seen: at most `MAX_FAILURE_KINDS`.
    failure_kinds: Vec<(&'static str, Counter)>,
    /// By `(from, to)`, made on the first change: a breaker makes few kinds of change.
    transitions: Vec<((State, State), Counter)>,
    state: [Gauge; State::ALL.len()],
    failure_rate: Gauge,
    slow_call_rate: Gauge,
    window_calls: Gauge,
    open_remaining: Gauge,
    latency: Option<[Gauge; Latency::SUMMARY_QUANTILES.len()]>,
}

impl BreakerHandles {
    fn new(name: Arc<str>) -> BreakerHandles {
        let labels = |extra: &[(&'static str, &'static str)]| {
            let mut labels = vec![Label::new("breaker", name.to_string())];
            labels.extend(extra.iter().map(|&(k, v)| Label::new(k, v)));
            labels
        };
        BreakerHandles {
            calls: ["success", "failure", "ignored"]
                .map(|o| counter("fusebox_calls_total", labels(&[("outcome", o)]))),
            rejected: RejectReason::ALL.map(|r| {
                counter(
                    "fusebox_rejected_total",
                    labels(&[("reason", r.as_label())]),
                )
            }),
            slow: counter("fusebox_slow_calls_total", labels(&[])),
            failure_kinds: Vec::new(),
            transitions: Vec::new(),
            state: State::ALL.map(|s| gauge("fusebox_state", labels(&[("state", s.as_label())]))),
            failure_rate: gauge("fusebox_failure_rate", labels(&[])),
            slow_call_rate: gauge("fusebox_slow_call_rate", labels(&[])),
            window_calls: gauge("fusebox_window_calls", labels(&[])),
            open_remaining: gauge("fusebox_open_remaining_seconds", labels(&[])),
            latency: None,
            name,
        }
    }

    /// Whether these are `breaker`'s handles: the same name (compared by value, as `merge`
    /// does: a breaker keeps a short name inline, so the handles' copy is not the breaker's).
    fn are_for(&self, breaker: &Breaker) -> bool {
        *self.name == *breaker.name()
    }

    fn publish(&mut self, breaker: &Breaker) {
        let m = breaker.metrics();
        for (handle, n) in self.calls.iter().zip([m.successes, m.failures, m.ignored]) {
            handle.absolute(n);
        }
        for (handle, reason) in self.rejected.iter().zip(RejectReason::ALL) {
            handle.absolute(m.rejected_by(reason));
        }
        self.slow.absolute(m.slow);
        for (kind, n) in m.failures_by_kind() {
            match self.failure_kinds.iter().find(|(k, _)| *k == kind) {
                Some((_, handle)) => handle.absolute(n),
                None => {
                    let handle = counter(
                        "fusebox_failures_total",
                        vec![
                            Label::new("breaker", self.name.to_string()),
                            Label::new("kind", kind),
                        ],
                    );
                    handle.absolute(n);
                    self.failure_kinds.push((kind, handle));
                }
            }
        }
        for (from, to, n) in breaker.transition_counts().iter() {
            match self.transitions.iter().find(|(t, _)| *t == (from, to)) {
                Some((_, handle)) => handle.absolute(n),
                None => {
                    let handle = counter(
                        "fusebox_transitions_total",
                        vec![
                            Label::new("breaker", self.name.to_string()),
                            Label::new("from", from.as_label()),
                            Label::new("to", to.as_label()),
                        ],
                    );
                    handle.absolute(n);
                    self.transitions.push(((from, to), handle));
                }
            }
        }
        for (handle, state) in self.state.iter().zip(State::ALL) {
            handle.set(f64::from(u8::from(state == m.state)));
        }
        self.failure_rate.set(m.failure_rate());
        self.slow_call_rate.set(m.slow_call_rate());
        self.window_calls.set(m.window_calls as f64);
        self.open_remaining.set(
            breaker
                .open_remaining()
                .unwrap_or(Duration::ZERO)
                .as_secs_f64(),
        );
        if let Some(summary) = breaker.latency_summary() {
            let name = &self.name;
            let gauges = self.latency.get_or_insert_with(|| {
                Latency::SUMMARY_QUANTILES.map(|(q, _)| {
                    gauge(
                        "fusebox_call_duration_seconds",
                        vec![
                            Label::new("breaker", name.to_string()),
                            Label::new("quantile", q),
                        ],
                    )
                })
            });
            for (handle, value) in gauges.iter().zip(summary.quantiles) {
                handle.set(value.as_secs_f64());
            }
        }
    }
}

/// The metadata of every series: this crate's target, at INFO.
static METADATA: Metadata<'static> = Metadata::new("fusebox", Level::INFO, Some(module_path!()));

fn counter(name: &'static str, labels: Vec<Label>) -> Counter {
    metrics::with_recorder(|r| {
        r.register_counter(&metrics::Key::from_parts(name, labels), &METADATA)
    })
}

fn gauge(name: &'static str, labels: Vec<Label>) -> Gauge {
    metrics::with_recorder(|r| r.register_gauge(&metrics::Key::from_parts(name, labels), &METADATA))
}
