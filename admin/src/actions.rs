//! Operator actions on breakers: the action names, the request body (`note`, `ttl`), the
//! audit note, and applying an action to a list of breakers.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::http::StatusCode as Status;
use fusebox_engine::Breaker;
use fusebox_registry::{FleetOverride, ManualAction, Registry, UnknownAction};
use serde::Deserialize;

use crate::auth::Role;
use crate::error::ApiError;

/// A manual change, as named in the route.
/// The action named in the path.
pub(crate) fn parse_action(name: &str) -> Result<ManualAction, ApiError> {
    name.parse()
        .map_err(|e: UnknownAction| ApiError::bad_request(e.to_string()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBody {
    note: Option<String>,
    ttl: Option<String>,
    scope: Option<String>,
}

/// Where an action applies.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// This instance only.
    #[default]
    Local,
    /// Every instance of the fleet, through the registry's fleet sync.
    Fleet,
}

/// An action's body: an optional note, time to live and scope.
#[derive(Debug, Default)]
pub(crate) struct ActionBody {
    pub(crate) note: Option<String>,
    pub(crate) ttl: Option<Duration>,
    pub(crate) scope: Scope,
}

impl ActionBody {
    /// Parses a body: empty, or a JSON object with `note`, `ttl` (a duration such as
    /// `"10m"`) and `scope` (`"local"` or `"fleet"`), all optional. 413 for an oversized body, 400 for anything malformed.
    pub(crate) fn parse(
        body: Result<Bytes, BytesRejection>,
        action: ManualAction,
    ) -> Result<ActionBody, ApiError> {
        let bytes = body.map_err(body_rejection)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(ActionBody::default());
        }
        let raw: RawBody = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))?;
        let ttl = match raw.ttl.as_deref() {
            None => None,
            Some(text) => {
                let ttl = humantime::parse_duration(text.trim())
                    .map_err(|e| ApiError::bad_request(format!("invalid ttl {text:?}: {e}")))?;
                if ttl.is_zero() {
                    return Err(ApiError::bad_request("invalid ttl: must be more than 0"));
                }
                if action == ManualAction::Reset {
                    return Err(ApiError::bad_request(
                        "a ttl resets the breaker when it expires: it cannot go with reset",
                    ));
                }
                Some(ttl)
            }
        };
        let scope = match raw.scope.as_deref() {
            None | Some("local") => Scope::Local,
            Some("fleet") => Scope::Fleet,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "invalid scope {other:?}: expected \"local\" or \"fleet\""
                )));
            }
        };
        Ok(ActionBody {
            note: raw.note,
            ttl,
            scope,
        })
    }
}

/// 413 for a body over the limit; 400 for one that could not be read.
pub(crate) fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body over the limit of {} bytes", crate::MAX_BODY_BYTES),
        )
    } else {
        ApiError::bad_request(format!("cannot read the body: {}", rejection.body_text()))
    }
}

/// The note an action leaves in the history: the role, then the operator's note.
pub(crate) fn audit_note(role: Role, note: Option<&str>) -> Arc<str> {
    match note.map(str::trim).filter(|n| !n.is_empty()) {
        Some(note) => Arc::from(format!("{}: {note}", role.as_label())),
        None => Arc::from(role.as_label()),
    }
}

/// Applies `action` to each of `breakers`, noted; with a ttl, schedules their reset.
/// Applies `action` to `breakers` on this instance, audited, with the body's ttl.
pub(crate) fn act(
    registry: &Registry,
    breakers: &[Breaker],
    action: ManualAction,
    role: Role,
    body: &ActionBody,
) {
    let note = audit_note(role, body.note.as_deref());
    match body.ttl {
        Some(ttl) => registry.act_for(breakers, action, note, ttl),
        None => registry.act(breakers, action, note),
    }
}

/// Hands `action` on `name` (a group's prefix with `group`) to the registry's fleet sync,
/// which applies it here and on every other instance. 503 when no fleet sync is connected
/// or it cannot store the action.
pub(crate) async fn act_on_fleet(
    registry: &Registry,
    name: &str,
    group: bool,
    action: ManualAction,
    role: Role,
    body: &ActionBody,
) -> Result<(), ApiError> {
    let scope = registry.fleet_scope().ok_or_else(|| {
        ApiError::new(
            Status::SERVICE_UNAVAILABLE,
            "scope fleet: no fleet sync is connected to this registry",
        )
    })?;
    let request = FleetOverride {
        name: name.to_owned(),
        group,
        action,
        ttl: body.ttl,
        note: audit_note(role, body.note.as_deref()).to_string(),
    };
    scope
        .submit(request)
        .await
        .map_err(|e| ApiError::new(Status::SERVICE_UNAVAILABLE, format!("scope fleet: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_carry_the_role() {
        assert_eq!(
            &*audit_note(Role::Admin, Some("maintenance")),
            "admin: maintenance"
        );
        assert_eq!(&*audit_note(Role::Admin, None), "admin");
        assert_eq!(&*audit_note(Role::Admin, Some("  ")), "admin");
    }

    #[test]
    fn bodies() {
        let parse =
            |s: &'static str| ActionBody::parse(Ok(Bytes::from(s)), ManualAction::ForceOpen);
        assert!(parse("").unwrap().ttl.is_none());
        let b = parse(r#"{"note":"x","ttl":"10m"}"#).unwrap();
        assert_eq!(b.ttl, Some(Duration::from_secs(600)));
        assert_eq!(b.note.as_deref(), Some("x"));
        assert!(parse(r#"{"ttl":"10 parsecs"}"#).is_err());
        assert!(parse(r#"{"nope":1}"#).is_err());
        assert!(parse("{").is_err());
        assert_eq!(parse(r#"{"scope":"fleet"}"#).unwrap().scope, Scope::Fleet);
        assert_eq!(parse(r#"{"scope":"local"}"#).unwrap().scope, Scope::Local);
        assert!(parse(r#"{"scope":"galaxy"}"#).is_err());
        assert!(parse_action("explode").is_err());
        assert_eq!(
            parse_action("metrics-only").unwrap(),
            ManualAction::MetricsOnly
        );
    }
}
