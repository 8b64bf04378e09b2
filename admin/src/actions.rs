//! Operator actions on breakers: the action names, the request body (`note`, `ttl`), the
//! audit note, and applying an action to a list of breakers.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use fusebox_engine::Breaker;
use fusebox_registry::Registry;
use serde::Deserialize;

use crate::auth::Role;
use crate::error::ApiError;
use crate::ttl::Generations;

/// A manual change, as named in the route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    ForceOpen,
    Disable,
    MetricsOnly,
    Reset,
}

impl Action {
    /// The action a route segment names.
    pub(crate) fn parse(name: &str) -> Result<Action, ApiError> {
        Ok(match name {
            "force-open" => Action::ForceOpen,
            "disable" => Action::Disable,
            "metrics-only" => Action::MetricsOnly,
            "reset" => Action::Reset,
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown action {other:?}: expected force-open, disable, metrics-only or reset"
                )));
            }
        })
    }

    /// The route segment.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Action::ForceOpen => "force-open",
            Action::Disable => "disable",
            Action::MetricsOnly => "metrics-only",
            Action::Reset => "reset",
        }
    }

    /// Applies the action to `breaker` with `note` in its history.
    pub(crate) fn apply(self, breaker: &Breaker, note: Arc<str>) {
        let noted = breaker.noted(note);
        match self {
            Action::ForceOpen => noted.force_open(),
            Action::Disable => noted.disable(),
            Action::MetricsOnly => noted.metrics_only(),
            Action::Reset => noted.reset(),
        }
    }
}

/// The body as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBody {
    note: Option<String>,
    ttl: Option<String>,
}

/// An action's body: an optional note and an optional time to live.
#[derive(Debug, Default)]
pub(crate) struct ActionBody {
    pub(crate) note: Option<String>,
    pub(crate) ttl: Option<Duration>,
}

impl ActionBody {
    /// Parses a body: empty, or a JSON object with `note` and `ttl` (a duration such as
    /// `"10m"`), both optional. 413 for an oversized body, 400 for anything malformed.
    pub(crate) fn parse(
        body: Result<Bytes, BytesRejection>,
        action: Action,
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
                if action == Action::Reset {
                    return Err(ApiError::bad_request(
                        "a ttl resets the breaker when it expires: it cannot go with reset",
                    ));
                }
                Some(ttl)
            }
        };
        Ok(ActionBody {
            note: raw.note,
            ttl,
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
pub(crate) fn act(
    registry: &Registry,
    breakers: &[Breaker],
    action: Action,
    role: Role,
    body: &ActionBody,
) {
    let note = audit_note(role, body.note.as_deref());
    let generations = registry.extension(Generations::default);
    let scheduled: Vec<(Breaker, u64)> = breakers
        .iter()
        .map(|b| {
            let generation = generations.act(b, || action.apply(b, note.clone()));
            (b.clone(), generation)
        })
        .collect();
    if let Some(ttl) = body.ttl {
        crate::ttl::reset_after(generations, scheduled, ttl);
    }
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
        let parse = |s: &'static str| ActionBody::parse(Ok(Bytes::from(s)), Action::ForceOpen);
        assert!(parse("").unwrap().ttl.is_none());
        let b = parse(r#"{"note":"x","ttl":"10m"}"#).unwrap();
        assert_eq!(b.ttl, Some(Duration::from_secs(600)));
        assert_eq!(b.note.as_deref(), Some("x"));
        assert!(parse(r#"{"ttl":"10 parsecs"}"#).is_err());
        assert!(parse(r#"{"nope":1}"#).is_err());
        assert!(parse("{").is_err());
        assert!(Action::parse("explode").is_err());
        assert_eq!(
            Action::parse("metrics-only").unwrap().as_str(),
            "metrics-only"
        );
    }
}
