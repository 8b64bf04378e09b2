//! `GET /fusebox/recording`: the calls recorded since the last drain, as JSON Lines.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::error::ApiError;
use crate::state::AppState;

/// The JSON Lines media type.
const CONTENT_TYPE: &str = "application/x-ndjson";

/// [`Registry::drain_recording`](fusebox_registry::Registry::drain_recording): every call
/// buffered since the last drain, one JSON object a line, oldest first; the buffer is emptied.
/// 409 when no recording is configured (no `[record]` table in the config in force, and none
/// set in code).
pub(super) async fn drain(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
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
