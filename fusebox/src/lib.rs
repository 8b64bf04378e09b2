//! fusebox: a lock-free, in-process circuit-breaker engine.
//!
//! This crate re-exports the public API of the workspace: policies
//! ([`fusebox_policies`]), the breaker engine ([`fusebox_engine`]) and the named-breaker
//! registry ([`fusebox_registry`]); with feature `tower`, the tower middleware as
//! `fusebox::tower`; with feature `admin`, the operator endpoint as `fusebox::admin`; with
//! feature `redis`, fleet state over Redis as `fusebox::fleet`.
//!
//! ```
//! use std::time::Duration;
//! use fusebox::{Breaker, CallError, ManualClock, Policy, State, Window};
//!
//! let clock = ManualClock::new();
//! let policy = Policy::builder()
//!     .window(Window::count(20))
//!     .failure_rate_threshold(0.5)
//!     .min_calls(10)
//!     .open_timeout(Duration::from_secs(30))
//!     .build()?;
//! let breaker = Breaker::with_clock("payments", policy, clock);
//! for i in 0..10 {
//!     let _ = breaker.call(|| if i % 2 == 0 { Ok(()) } else { Err("declined") });
//! }
//! assert_eq!(breaker.state(), State::Open);
//! assert!(matches!(breaker.call(|| Ok::<_, ()>(())), Err(CallError::Rejected(_))));
//! # Ok::<(), fusebox::PolicyError>(())
//! ```
//!
//! Named breakers live in a [`Registry`]: policies by dotted prefix, config files, groups,
//! snapshots.
//!
//! ```
//! use fusebox::{Breaker, ManualClock, Policy, Registry, RegistryError, State};
//!
//! let registry = Registry::with_clock(Policy::default(), ManualClock::new());
//! registry.apply_toml(r#"
//! [defaults]
//! open_timeout = "10s"
//! [breakers."stripe"]
//! min_calls = 5
//! "#)?;
//! let eu = registry.breaker("stripe.eu")?; // created, inheriting `stripe`'s policy
//! assert!(Breaker::ptr_eq(&eu, &registry.get("stripe.eu").unwrap()));
//! assert_eq!((eu.policy().min_calls(), registry.len()), (5, 1));
//! registry.set_policy("stripe", Policy::builder().min_calls(8).build()?)?;
//! assert_eq!(eu.policy().min_calls(), 8);
//!
//! let stripe = registry.group("stripe");
//! stripe.force_open();
//! assert_eq!(stripe.names(), ["stripe.eu"]);
//! assert_eq!(eu.state(), State::ForcedOpen);
//!
//! let restored = Registry::with_clock(Policy::default(), ManualClock::new());
//! restored.restore(&registry.snapshot())?;
//! assert_eq!(restored.get("stripe.eu").unwrap().state(), State::ForcedOpen);
//! stripe.reset();
//! assert!(registry.remove("stripe.eu").is_some());
//! assert!(matches!(registry.breaker("bad name"), Err(RegistryError::InvalidName { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use fusebox_engine::{
    AdaptiveLimit, Backoff, Breaker, BreakerBuilder, CallError, CallOutcome, CallRecord,
    CallRecorder, Chaos, ChaosAttempt, Clock, Failure, FailureKinds, FleetMode, HISTORY_CAPACITY,
    Latency, LatencySummary, LimitAlgorithm, MAX_FAILURE_KINDS, ManualClock, Metrics, Noted,
    OTHER_KIND, Outcome, OwnedPermit, Permit, Policy, PolicyBuilder, PolicyError, Priority,
    QuantaClock, RateLimit, Recovery, RejectReason, Rejected, Retry, RetryBackoff,
    SUBSCRIBER_CAPACITY, SavedState, SlowCalls, State, Transition, TransitionCounts,
    TransitionFeed, TransitionReason, Verdict, Window, WindowCounts,
};

#[cfg(feature = "tokio")]
pub use fusebox_engine::{CHAOS_KIND, RunError, TIMEOUT_KIND, TokioClock, TransitionStream};
#[cfg(feature = "tokio")]
pub use fusebox_registry::FailoverError;

#[cfg(feature = "metrics")]
pub mod telemetry;

/// Tower middleware (feature `tower`): [`tower::BreakerLayer`] guards any tower service, an
/// axum route included, with a breaker ([`fusebox_tower`]).
///
/// ```
/// use fusebox::{Breaker, Policy};
/// use fusebox::tower::BreakerLayer;
/// let layer = BreakerLayer::new(Breaker::new("payments", Policy::default())).reject_with_status();
/// assert_eq!(layer.breaker().name(), "payments");
/// ```
#[cfg(feature = "tower")]
pub use fusebox_tower as tower;

/// The operator endpoint (feature `admin`): [`admin::router`] serves a registry's breakers,
/// config and events over HTTP with bearer-token auth, to merge into an axum app
/// ([`fusebox_admin`]).
///
/// ```
/// use fusebox::{Policy, Registry};
/// use fusebox::admin::AdminConfig;
/// let registry = Registry::new(Policy::default());
/// let app: axum::Router = fusebox::admin::router(&registry, AdminConfig::new().admin_token("t0ken")?);
/// # drop(app);
/// # Ok::<(), fusebox::admin::Error>(())
/// ```
#[cfg(feature = "admin")]
pub use fusebox_admin as admin;

/// Fleet state over Redis (feature `redis`): [`fleet::Fleet::connect`] shares a registry's
/// transitions and fleet-scoped overrides with the other instances of a service, while every
/// decision stays local ([`fusebox_fleet`]).
///
/// ```no_run
/// use fusebox::fleet::{Fleet, FleetConfig};
/// # async fn run(registry: fusebox::Registry) -> Result<(), fusebox::fleet::FleetError> {
/// let fleet = Fleet::connect(&registry, FleetConfig {
///     url: "redis://127.0.0.1:6379".into(),
///     namespace: "checkout".into(),
///     instance: FleetConfig::default_instance(),
/// })
/// .await?;
/// # drop(fleet);
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "redis")]
pub use fusebox_fleet as fleet;

pub use fusebox_registry::{
    BreakerSnapshot, CheckError, ConfigError, Counters, Group, GroupMetrics, PolicySource,
    RecordConfig, RecordedCall, RecordedOutcome, Registry, RegistryBuilder, RegistryCallError,
    RegistryConfig, RegistryError, Snapshot,
};

/// The registry's long-form documentation: names, inheritance, dependencies, pruning, locking.
pub use fusebox_registry::docs as registry_docs;

/// The engine's long-form documentation: state machine, orderings, limits, costs.
pub use fusebox_engine::docs;

/// Policy limits and defaults.
pub use fusebox_policies as policies;

/// The channel type [`Breaker::subscribe`] returns.
pub use crossbeam_channel::Receiver;
