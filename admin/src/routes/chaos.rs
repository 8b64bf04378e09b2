//! `POST /fusebox/breakers/{name}/chaos-off`: switches a breaker's chaos off, for the
//! registry's lifetime (see `Registry::chaos_off`), audited like an action.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::actions::{audit_note, body_rejection};
use crate::auth::Role;
use crate::error::ApiError;
use crate::json::BreakerView;
use crate::state::AppState;

/// The body: empty, or `{"note": "..."}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    note: Option<String>,
}

/// Switches the breaker's chaos off and answers the breaker as it is after it: 404 for an
/// unknown breaker, 409 when it runs without chaos (nothing to switch off).
pub(super) async fn off(
    State(state): State<AppState>,
    Extension(role): Extension<Role>,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<BreakerView>, ApiError> {
    let bytes = body.map_err(body_rejection)?;
    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
        NoteBody::default()
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))?
    };
    let breaker = state
        .registry
        .get(&name)
        .ok_or_else(|| ApiError::not_found(format!("no breaker named {name:?}")))?;
    let note = audit_note(role, body.note.as_deref());
    let switched = state
        .registry
        .chaos_off(&name, note)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if !switched {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("breaker {name:?} runs without chaos: nothing to switch off"),
        ));
    }
    Ok(Json(BreakerView::detailed(&state.registry, &breaker)))
}
