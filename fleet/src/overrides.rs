//! Fleet-scoped operator overrides: stored in Redis with their ttl, announced on
//! `fusebox:{ns}:overrides`, and applied on every instance, including one that starts later
//! (it reads the stored ones when it connects, and again after Redis comes back).
//!
//! An override is a key `fusebox:{ns}:override:{breaker|group}:{name}` holding the JSON of
//! the action, expiring with its ttl; a fleet-scoped `reset` deletes it. Each instance applies
//! an override through its registry's manual actions, so a ttl there resets the breaker when
//! it expires and a later action (local or fleet) cancels that.
//!
//! # Synchronization
//!
//! Which stored overrides this instance applied (by key and time) is a map under a mutex,
//! taken briefly by the sync task and by fleet-scoped actions, never across an await.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fusebox_engine::Breaker;
use fusebox_registry::{
    FleetOverride, FleetScope, FleetScopeError, FleetScopeFuture, ManualAction,
};
use redis::AsyncCommands;

use crate::message::{OverrideMessage, unix_ms};
use crate::sync::{Counters, Shared};

/// Stored overrides this instance applied: key → the override's time.
#[derive(Debug, Default)]
pub(crate) struct Overrides {
    applied: Mutex<HashMap<String, u64>>,
}

impl Overrides {
    /// An override announced by another instance.
    pub(crate) fn receive(&self, shared: &Shared, payload: &[u8]) {
        let m = match OverrideMessage::parse(payload) {
            Ok(m) => m,
            Err(_) => return Counters::add(&shared.counters.malformed),
        };
        if m.instance == shared.config.instance {
            // Applied already, when it was asked for here.
            return Counters::add(&shared.counters.own_ignored);
        }
        self.apply(shared, &m, m.ttl_ms.map(Duration::from_millis));
    }

    /// Reads every stored override and applies those not applied yet, each for what is
    /// left of its ttl.
    pub(crate) async fn load(&self, shared: &Shared) -> Result<(), String> {
        let pattern = shared.keys.override_pattern();
        let keys: Vec<String> = shared
            .command(async |c| {
                let mut keys = Vec::new();
                let mut iter = c.scan_match::<_, String>(&pattern).await?;
                while let Some(key) = futures_util::StreamExt::next(&mut iter).await {
                    keys.push(key?);
                }
                Ok(keys)
            })
            .await?;
        for key in keys {
            let (value, ttl_ms): (Option<Vec<u8>>, i64) = shared
                .command(async |c| {
                    redis::pipe()
                        .cmd("GET")
                        .arg(&key)
                        .cmd("PTTL")
                        .arg(&key)
                        .query_async(c)
                        .await
                })
                .await?;
            let Some(value) = value else { continue };
            let m = match OverrideMessage::parse(&value) {
                Ok(m) => m,
                Err(_) => {
                    Counters::add(&shared.counters.malformed);
                    continue;
                }
            };
            let already = self.lock().get(&key) == Some(&m.at_ms);
            if already {
                continue;
            }
            // PTTL: -1 for no expiry; -2 if it expired since the GET.
            let ttl = match ttl_ms {
                -1 => None,
                ms if ms > 0 => Some(Duration::from_millis(ms.unsigned_abs())),
                _ => continue,
            };
            self.apply(shared, &m, ttl);
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.applied.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `m` here, for `ttl` if given.
    fn apply(&self, shared: &Shared, m: &OverrideMessage, ttl: Option<Duration>) {
        let Ok(action) = m.action() else {
            return Counters::add(&shared.counters.malformed);
        };
        let breakers: Vec<Breaker> = if m.group {
            shared.registry.group(&m.name).breakers()
        } else {
            // A name is valid (parse checked it); a full registry refuses it.
            shared.registry.breaker(&m.name).into_iter().collect()
        };
        let note: Arc<str> = format!("{} (fleet, from {})", m.note, m.instance).into();
        match ttl {
            Some(ttl) => shared.registry.act_for(&breakers, action, note, ttl),
            None => shared.registry.act(&breakers, action, note),
        }
        let key = shared.keys.override_key(&m.name, m.group);
        let mut applied = self.lock();
        if action == ManualAction::Reset {
            applied.remove(&key);
        } else {
            applied.insert(key, m.at_ms);
        }
        Counters::add(&shared.counters.overrides_applied);
    }
}

/// The registry's [`FleetScope`]: an operator's fleet-scoped action, stored, announced, and
/// applied here.
pub(crate) struct Scope {
    pub(crate) shared: Arc<Shared>,
}

impl FleetScope for Scope {
    fn submit(&self, action: FleetOverride) -> FleetScopeFuture {
        let shared = self.shared.clone();
        Box::pin(async move {
            let m = OverrideMessage {
                instance: shared.config.instance.clone(),
                name: action.name.clone(),
                group: action.group,
                action: action.action.as_str().to_owned(),
                ttl_ms: action
                    .ttl
                    .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                note: action.note.clone(),
                at_ms: unix_ms(),
            };
            let json = serde_json::to_string(&m).map_err(|e| FleetScopeError(e.to_string()))?;
            let key = shared.keys.override_key(&m.name, m.group);
            let mut pipe = redis::pipe();
            match (action.action, m.ttl_ms) {
                (ManualAction::Reset, _) => pipe.cmd("DEL").arg(&key).ignore(),
                (_, Some(ms)) => pipe
                    .cmd("SET")
                    .arg(&key)
                    .arg(&json)
                    .arg("PX")
                    .arg(ms)
                    .ignore(),
                (_, None) => pipe.cmd("SET").arg(&key).arg(&json).ignore(),
            };
            pipe.cmd("PUBLISH")
                .arg(shared.keys.overrides())
                .arg(&json)
                .ignore();
            shared
                .command(async |c| pipe.query_async::<()>(c).await)
                .await
                .map_err(|e| FleetScopeError(format!("Redis did not take it: {e}")))?;
            shared.overrides.apply(&shared, &m, action.ttl);
            Ok(())
        })
    }
}
