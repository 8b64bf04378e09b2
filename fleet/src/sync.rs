//! The sync task: one per [`Fleet`](crate::Fleet), the only place this instance talks to
//! Redis outside an operator's fleet-scoped action.
//!
//! It waits on three things at once: this registry's transitions (published, and this
//! instance's entry in each breaker's open set kept), messages from the fleet (transitions to
//! follow, overrides to apply), and a heartbeat that notices Redis going away and coming
//! back. While Redis is unreachable, transitions wait in a backlog of at most [`BACKLOG`]
//! (the oldest dropped and counted beyond it); the heartbeat retries with backoff from
//! [`RETRY_MIN`] to [`RETRY_MAX`], and once Redis answers the task re-syncs: it sends the
//! backlog, re-announces the breakers open here, and re-reads the stored overrides.
//!
//! Nothing here is on a call's path: breakers hand transitions to the registry's event
//! stream, which never blocks them (a subscriber that falls behind loses the newest events,
//! counted by the registry). Every Redis command has a deadline ([`COMMAND_TIMEOUT`]).
//!
//! # Synchronization
//!
//! The task owns its state (backlog, connection flag). Counters are relaxed atomics, each a
//! tally read on its own. The record of applied overrides is a mutex shared with fleet-scoped
//! actions (overrides.rs), never held across an await.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use fusebox_engine::{FleetMode, State, Transition, TransitionStream};
use fusebox_registry::Registry;
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use redis::{PushInfo, PushKind, RedisResult, Value};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use crate::config::{FleetConfig, Keys};
use crate::message::{TransitionMessage, unix_ms};
use crate::overrides::Overrides;

/// Transitions kept for Redis while it is unreachable, at most: beyond it the oldest are
/// dropped, counted in [`FleetStats::backlog_dropped`](crate::FleetStats::backlog_dropped).
///
/// ```
/// assert_eq!(fusebox_fleet::BACKLOG, 1024);
/// ```
pub const BACKLOG: usize = 1024;
/// The first wait before retrying an unreachable Redis; each failed retry doubles it.
///
/// ```
/// assert_eq!(fusebox_fleet::RETRY_MIN, std::time::Duration::from_millis(100));
/// ```
pub const RETRY_MIN: Duration = Duration::from_millis(100);
/// The longest wait between retries of an unreachable Redis.
///
/// ```
/// assert_eq!(fusebox_fleet::RETRY_MAX, std::time::Duration::from_secs(5));
/// ```
pub const RETRY_MAX: Duration = Duration::from_secs(5);
/// How often a connected task checks Redis still answers.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// The longest a Redis command may take.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// How long an open set outlives its latest member's period (for clean-up only: members
/// are filtered by their scores).
const OPEN_SET_SLACK_MS: u64 = 60_000;

/// What the fleet sync has done since it connected.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) published: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) followed: AtomicU64,
    pub(crate) own_ignored: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) backlog_dropped: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) overrides_applied: AtomicU64,
    pub(crate) connected: AtomicBool,
    pub(crate) backlog: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64) {
        // Relaxed: a tally, read on its own.
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the task and fleet-scoped actions share.
pub(crate) struct Shared {
    pub(crate) registry: Registry,
    pub(crate) config: FleetConfig,
    pub(crate) keys: Keys,
    pub(crate) counters: Counters,
    pub(crate) connection: ConnectionManager,
    pub(crate) overrides: Overrides,
}

impl Shared {
    /// Runs a Redis command with a deadline.
    pub(crate) async fn command<T>(
        &self,
        run: impl AsyncFnOnce(&mut ConnectionManager) -> RedisResult<T>,
    ) -> Result<T, String> {
        let mut connection = self.connection.clone();
        match tokio::time::timeout(COMMAND_TIMEOUT, run(&mut connection)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer from Redis in {COMMAND_TIMEOUT:?}")),
        }
    }
}

/// A transition ready for Redis.
struct Outgoing {
    message: TransitionMessage,
}

impl Outgoing {
    fn of(instance: &str, t: &Transition, registry: &Registry) -> Self {
        let remaining = (t.to == State::Open)
            .then(|| registry.get(&t.breaker).and_then(|b| b.open_remaining()))
            .flatten();
        Outgoing {
            message: TransitionMessage::of(instance, t, remaining),
        }
    }
}

/// The task's own state.
pub(crate) struct Sync {
    shared: Arc<Shared>,
    backlog: VecDeque<Outgoing>,
    connected: bool,
    retry_wait: Duration,
    next_check: Instant,
}

impl Sync {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        shared.counters.connected.store(true, Ordering::Relaxed);
        Sync {
            shared,
            backlog: VecDeque::new(),
            connected: true,
            retry_wait: RETRY_MIN,
            next_check: Instant::now() + HEARTBEAT,
        }
    }

    /// Runs until the fleet is dropped (the task is aborted) or both inputs end.
    pub(crate) async fn run(
        mut self,
        mut events: TransitionStream,
        mut pushes: UnboundedReceiver<PushInfo>,
    ) {
        loop {
            tokio::select! {
                event = events.next() => match event {
                    Some(t) => self.local(&t).await,
                    None => return,
                },
                Some(push) = pushes.recv() => self.push(push).await,
                () = tokio::time::sleep_until(self.next_check) => self.heartbeat().await,
            }
        }
    }

    /// This instance's transition: published, the open set kept.
    async fn local(&mut self, t: &Transition) {
        let out = Outgoing::of(&self.shared.config.instance, t, &self.shared.registry);
        if self.connected && send(&self.shared, &out).await.is_ok() {
            return;
        }
        self.lost();
        self.keep(out);
    }

    fn keep(&mut self, out: Outgoing) {
        if self.backlog.len() == BACKLOG {
            self.backlog.pop_front();
            Counters::add(&self.shared.counters.backlog_dropped);
        }
        self.backlog.push_back(out);
        self.note_backlog();
    }

    fn note_backlog(&self) {
        // Relaxed: a gauge, read on its own.
        self.shared
            .counters
            .backlog
            .store(self.backlog.len() as u64, Ordering::Relaxed);
    }

    /// A message from Redis: a transition or an override of another instance, or the
    /// connection's end.
    async fn push(&mut self, push: PushInfo) {
        match push.kind {
            PushKind::Disconnection => self.lost(),
            PushKind::Message => {
                let [channel, payload] = &push.data[..] else {
                    Counters::add(&self.shared.counters.malformed);
                    return;
                };
                let (Some(channel), Some(payload)) = (bytes(channel), bytes(payload)) else {
                    Counters::add(&self.shared.counters.malformed);
                    return;
                };
                if channel == self.shared.keys.transitions().as_bytes() {
                    self.remote_transition(payload).await;
                } else if channel == self.shared.keys.overrides().as_bytes() {
                    self.shared.overrides.receive(&self.shared, payload);
                }
            }
            _ => {}
        }
    }

    /// Another instance's transition: followed here if this breaker's policy says so.
    async fn remote_transition(&mut self, payload: &[u8]) {
        let shared = self.shared.clone();
        let counters = &shared.counters;
        let m = match TransitionMessage::parse(payload) {
            Ok(m) => m,
            Err(_) => return Counters::add(&counters.malformed),
        };
        if m.instance == self.shared.config.instance {
            return Counters::add(&counters.own_ignored);
        }
        Counters::add(&counters.received);
        let (true, Some(remaining)) = (m.is_own_opening(), m.remaining_at(unix_ms())) else {
            return;
        };
        // Only breakers this instance has: a message never creates one.
        let Some(breaker) = self.shared.registry.get(&m.breaker) else {
            return;
        };
        let follow = match breaker.policy().fleet() {
            FleetMode::Local => false,
            FleetMode::Follow => true,
            FleetMode::Quorum(needed) => {
                let set = self.shared.keys.open_set(&m.breaker);
                let now = unix_ms();
                let count = self
                    .shared
                    .command(async |c| {
                        redis::cmd("ZCOUNT")
                            .arg(&set)
                            .arg(format!("({now}"))
                            .arg("+inf")
                            .query_async::<u64>(c)
                            .await
                    })
                    .await;
                match count {
                    Ok(count) => count >= u64::from(needed),
                    Err(_) => {
                        self.lost();
                        false
                    }
                }
            }
        };
        if follow && breaker.follow_open(remaining) {
            Counters::add(&counters.followed);
        }
    }

    /// Redis stopped answering: retry soon, with backoff.
    fn lost(&mut self) {
        if self.connected {
            self.connected = false;
            self.shared
                .counters
                .connected
                .store(false, Ordering::Relaxed);
            self.retry_wait = RETRY_MIN;
            self.next_check = Instant::now() + RETRY_MIN;
        }
    }

    /// Checks Redis answers; when it comes back, re-syncs.
    async fn heartbeat(&mut self) {
        let answered = self
            .shared
            .command(async |c| redis::cmd("PING").query_async::<String>(c).await)
            .await
            .is_ok();
        if answered && !self.connected {
            if self.resync().await.is_ok() {
                self.connected = true;
                self.shared
                    .counters
                    .connected
                    .store(true, Ordering::Relaxed);
                Counters::add(&self.shared.counters.reconnects);
            }
        } else if !answered {
            self.lost();
        }
        self.next_check = if self.connected {
            Instant::now() + HEARTBEAT
        } else {
            let wait = self.retry_wait;
            self.retry_wait = (self.retry_wait * 2).min(RETRY_MAX);
            Instant::now() + wait
        };
    }

    /// After a reconnect: the backlog, then what is open here, then the stored overrides.
    async fn resync(&mut self) -> Result<(), String> {
        while let Some(out) = self.backlog.front() {
            send(&self.shared, out).await?;
            self.backlog.pop_front();
            self.note_backlog();
        }
        announce_open(&self.shared).await?;
        follow_open_sets(&self.shared).await?;
        self.shared.overrides.load(&self.shared).await
    }
}

/// Re-announces each breaker open here by its own judgement (its open set entry and its
/// last transition into `Open`), for instances that missed it while Redis was away.
pub(crate) async fn announce_open(shared: &Shared) -> Result<(), String> {
    for breaker in shared.registry.breakers() {
        if breaker.state() != State::Open {
            continue;
        }
        let Some(opened) = breaker
            .history()
            .into_iter()
            .rev()
            .find(|t| t.to == State::Open)
        else {
            continue;
        };
        let out = Outgoing {
            message: TransitionMessage::of(
                &shared.config.instance,
                &opened,
                breaker.open_remaining(),
            ),
        };
        send(shared, &out).await?;
    }
    Ok(())
}

/// Publishes `out` and keeps this instance's entry in the breaker's open set.
async fn send(shared: &Shared, out: &Outgoing) -> Result<(), String> {
    let m = &out.message;
    let json = serde_json::to_string(m).map_err(|e| e.to_string())?;
    let keys = &shared.keys;
    // The open set first, then the message: an instance counting a quorum on receipt
    // finds the sender already in the set.
    let mut pipe = redis::pipe();
    let set = keys.open_set(&m.breaker);
    if let (true, Some(remaining)) = (m.is_own_opening(), m.open_remaining_ms) {
        let until = m.at_ms.saturating_add(remaining);
        pipe.cmd("ZADD")
            .arg(&set)
            .arg(until)
            .arg(&m.instance)
            .ignore();
        pipe.cmd("PEXPIRE")
            .arg(&set)
            .arg(remaining.saturating_add(OPEN_SET_SLACK_MS))
            .ignore();
    } else if m.from == State::Open.as_label() && m.to != State::Open.as_label() {
        pipe.cmd("ZREM").arg(&set).arg(&m.instance).ignore();
    }
    pipe.cmd("PUBLISH")
        .arg(keys.transitions())
        .arg(&json)
        .ignore();
    shared
        .command(async |c| pipe.query_async::<()>(c).await)
        .await?;
    Counters::add(&shared.counters.published);
    Ok(())
}

/// Reads the open set of each breaker here that follows the fleet, and opens it if the
/// fleet has it open as its policy asks: what a message missed while this instance was
/// away (or not started yet) would have done.
pub(crate) async fn follow_open_sets(shared: &Shared) -> Result<(), String> {
    for breaker in shared.registry.breakers() {
        let needed = match breaker.policy().fleet() {
            FleetMode::Follow => 1,
            FleetMode::Quorum(n) => n as usize,
            _ => continue,
        };
        let set = shared.keys.open_set(breaker.name());
        let now = unix_ms();
        let members: Vec<(String, u64)> = shared
            .command(async |c| {
                redis::cmd("ZRANGEBYSCORE")
                    .arg(&set)
                    .arg(format!("({now}"))
                    .arg("+inf")
                    .arg("WITHSCORES")
                    .query_async(c)
                    .await
            })
            .await?;
        let others: Vec<u64> = members
            .into_iter()
            .filter(|(instance, _)| *instance != shared.config.instance)
            .map(|(_, until)| until)
            .collect();
        if others.len() >= needed {
            // Until the latest of them would close: what a message would have said.
            let until = others.iter().copied().max().unwrap_or(now);
            let remaining = Duration::from_millis(until.saturating_sub(now));
            if breaker.follow_open(remaining) {
                Counters::add(&shared.counters.followed);
            }
        }
    }
    Ok(())
}

/// A bulk or simple string's bytes.
fn bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}
