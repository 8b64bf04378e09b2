//! Fleet state over Redis: the instances of a service share what their breakers do, and
//! every decision stays local.
//!
//! Each instance keeps deciding on its own atomic state word: a call never waits on the
//! network, and a Redis that is slow, partitioned or gone changes nothing on the call path.
//! What travels is what the fleet should know:
//!
//! - **Transitions.** Each of this registry's transitions is published on
//!   `fusebox:{namespace}:transitions` as JSON with the `instance` that made it. A breaker
//!   whose policy says `fleet = "follow"` opens when another instance's opens (for that
//!   instance's remaining open period, reason [`TransitionReason::Fleet`]); with
//!   `fleet = { quorum = N }` once N instances have it open at once. Each instance keeps its
//!   entry in a sorted set per breaker, scored by when its open period ends, so an instance
//!   that crashes while open stops counting when its period would have ended. With the default
//!   `fleet = "local"` a breaker ignores the fleet. A breaker opened by the fleet does not
//!   count toward a quorum and is not followed: one bad node cannot cascade. An instance that
//!   connects (or reconnects) reads the open sets, so it follows what it missed.
//! - **Operator overrides.** An action with `"scope": "fleet"` on the operator endpoint is
//!   stored in Redis with its ttl, announced, and applied on every instance, including one
//!   that connects later.
//!
//! Messages from this instance are ignored when they come back; malformed ones are counted
//! and dropped. If Redis goes away, transitions wait in a bounded backlog, the sync retries
//! with backoff, and when Redis answers again it sends the backlog, re-announces the breakers
//! open here and re-reads the overrides.
//!
//! ```no_run
//! use fusebox_fleet::{Fleet, FleetConfig};
//! use fusebox_registry::Registry;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = Registry::from_toml(r#"
//! [breakers."pay.stripe"]
//! fleet = "follow"
//! "#)?;
//! let fleet = Fleet::connect(&registry, FleetConfig {
//!     url: "redis://127.0.0.1:6379".into(),
//!     namespace: "checkout".into(),
//!     instance: FleetConfig::default_instance(),
//! })
//! .await?;
//! // ... serve; the sync runs until `fleet` is dropped.
//! # drop(fleet);
//! # Ok(())
//! # }
//! ```
//!
//! [`TransitionReason::Fleet`]: fusebox_engine::TransitionReason::Fleet

mod config;
mod error;
mod message;
mod overrides;
mod sync;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use fusebox_registry::{FleetScope, Registry};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, ProtocolVersion};
use tokio::task::JoinHandle;

pub use config::FleetConfig;
pub use error::FleetError;
pub use sync::{BACKLOG, RETRY_MAX, RETRY_MIN};

use crate::overrides::{Overrides, Scope};
use crate::sync::{COMMAND_TIMEOUT, Counters, Shared, Sync};

/// A running fleet sync for one registry: connected by [`Fleet::connect`], stopped when
/// dropped.
pub struct Fleet {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
    /// The registry's fleet scope holds a `Weak` of this: dropping the fleet removes it.
    _scope: Arc<dyn FleetScope>,
}

/// What a fleet sync has done since it connected: [`Fleet::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FleetStats {
    /// Whether Redis answered the last command.
    pub connected: bool,
    /// This instance's transitions published.
    pub published: u64,
    /// Other instances' transitions received.
    pub received: u64,
    /// Breakers opened here by following the fleet.
    pub followed: u64,
    /// Messages of this instance's own that came back, ignored.
    pub own_ignored: u64,
    /// Messages that did not parse or named an invalid breaker, state or action: dropped.
    pub malformed: u64,
    /// Transitions waiting for Redis to come back.
    pub backlog: u64,
    /// Transitions dropped because the backlog was full (the oldest go first).
    pub backlog_dropped: u64,
    /// Times Redis came back after being unreachable.
    pub reconnects: u64,
    /// Fleet-scoped overrides applied here.
    pub overrides_applied: u64,
}

impl Fleet {
    /// Connects `registry` to the fleet `config` names: subscribes to the fleet's channels,
    /// applies the overrides stored there, announces the breakers open here, and starts the
    /// sync task on the current tokio runtime. Installs itself as the registry's fleet scope
    /// (for the operator endpoint's `"scope": "fleet"`).
    ///
    /// # Errors
    ///
    /// [`FleetError::Config`] for an invalid namespace or instance id, [`FleetError::Url`]
    /// for a malformed URL, [`FleetError::Connect`] if Redis does not answer within a few
    /// seconds. Once connected, losing Redis is never an error: the sync retries by itself.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use fusebox_fleet::{Fleet, FleetConfig, FleetError};
    /// # tokio::runtime::Runtime::new()?.block_on(async {
    /// let registry = fusebox_registry::Registry::new(fusebox_engine::Policy::default());
    /// let bad = FleetConfig { url: "http://x".into(), namespace: "n".into(), instance: "i".into() };
    /// assert!(matches!(Fleet::connect(&registry, bad).await, Err(FleetError::Url { .. })));
    /// # });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn connect(registry: &Registry, config: FleetConfig) -> Result<Fleet, FleetError> {
        config.validate()?;
        let url_error = |e: redis::RedisError| FleetError::Url {
            url: config.url.clone(),
            reason: e.to_string(),
        };
        let info = config
            .url
            .as_str()
            .into_connection_info()
            .map_err(url_error)?;
        // RESP3: pub/sub messages arrive as pushes on the same connection as commands.
        let redis_settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let info = info.set_redis_settings(redis_settings);
        let client = redis::Client::open(info).map_err(url_error)?;
        let (push_sender, pushes) = tokio::sync::mpsc::unbounded_channel();
        let manager_config = ConnectionManagerConfig::new()
            .set_push_sender(push_sender)
            .set_automatic_resubscription()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(2);
        let url = config.url.clone();
        let connect_error = |reason: String| FleetError::Connect {
            url: url.clone(),
            reason,
        };
        let connection = tokio::time::timeout(
            COMMAND_TIMEOUT * 2,
            ConnectionManager::new_with_config(client, manager_config),
        )
        .await
        .map_err(|_| connect_error(format!("no answer in {:?}", COMMAND_TIMEOUT * 2)))?
        .map_err(|e| connect_error(e.to_string()))?;
        let keys = config::Keys::new(&config.namespace);
        let shared = Arc::new(Shared {
            registry: registry.clone(),
            keys,
            counters: Counters::default(),
            connection,
            overrides: Overrides::default(),
            config,
        });
        // Subscribed to this registry before anything is read, so no transition is missed.
        let events = registry.subscribe_stream();
        let channels = [shared.keys.transitions(), shared.keys.overrides()];
        shared
            .command(async |c| c.subscribe(&channels).await)
            .await
            .map_err(connect_error)?;
        shared
            .overrides
            .load(&shared)
            .await
            .map_err(connect_error)?;
        sync::announce_open(&shared).await.map_err(connect_error)?;
        sync::follow_open_sets(&shared)
            .await
            .map_err(connect_error)?;
        let scope: Arc<dyn FleetScope> = Arc::new(Scope {
            shared: shared.clone(),
        });
        registry.set_fleet_scope(Arc::downgrade(&scope));
        let task = tokio::spawn(Sync::new(shared.clone()).run(events, pushes));
        Ok(Fleet {
            shared,
            task,
            _scope: scope,
        })
    }

    /// This instance's id in the fleet.
    ///
    /// ```no_run
    /// # async fn f(fleet: fusebox_fleet::Fleet) {
    /// println!("fleet member {}", fleet.instance());
    /// # }
    /// ```
    pub fn instance(&self) -> &str {
        &self.shared.config.instance
    }

    /// What the sync has done so far.
    ///
    /// ```no_run
    /// # async fn f(fleet: fusebox_fleet::Fleet) {
    /// let stats = fleet.stats();
    /// if !stats.connected {
    ///     eprintln!("redis unreachable; {} transitions waiting", stats.backlog);
    /// }
    /// # }
    /// ```
    pub fn stats(&self) -> FleetStats {
        let c = &self.shared.counters;
        // Relaxed: each is a tally or gauge read on its own.
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        FleetStats {
            connected: c.connected.load(Ordering::Relaxed),
            published: get(&c.published),
            received: get(&c.received),
            followed: get(&c.followed),
            own_ignored: get(&c.own_ignored),
            malformed: get(&c.malformed),
            backlog: get(&c.backlog),
            backlog_dropped: get(&c.backlog_dropped),
            reconnects: get(&c.reconnects),
            overrides_applied: get(&c.overrides_applied),
        }
    }
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("instance", &self.shared.config.instance)
            .field("namespace", &self.shared.config.namespace)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.task.abort();
    }
}
