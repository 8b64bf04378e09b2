//! `GET /fusebox/recording`: the calls recorded since the last drain, as JSON Lines.

use axum::Extension;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::auth::Role;
use crate::error::ApiError;
use crate::state::AppState;

/// The JSON Lines media type.
const CONTENT_TYPE: &str = "application/x-ndjson";

/// [`Registry::drain_recording`](fusebox_registry::Registry::drain_recording): every call
/// buffered since the last drain, one JSON object a line, oldest first; the buffer is emptied.
/// A drain takes the calls away from whoever drains next, so it needs the admin token even
/// though it is a `GET` (403 for the read token, and when no admin token is configured).
/// 409 when no recording is configured (no `[record]` table in the config in force, and none
/// set in code).
pub(super) async fn drain(
    State(state): State<AppState>,
    Extension(role): Extension<Role>,
) -> Result<impl IntoResponse, ApiError> {
    match role {
        Role::Admin => {}
        Role::Read => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "draining the recording empties it: this needs the admin token",
            ));
        }
        Role::Anonymous => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "draining the recording empties it: configure an admin token to drain it",
            ));
        }
    }
    if state.registry.recording().is_none() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "recording is not configured: apply a config file with a [record] table",
        ));
    }
    Ok((
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        state.registry.drain_recording(),
    ))
}
