//! `GET /fusebox/health`: 200 while no critical breaker is open or forced open, else 503;
//! the body says which.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use fusebox_engine::State as BreakerState;
use serde_json::{Value, json};

use crate::state::AppState;

/// `{"healthy": bool, "open": [names], "critical": [{"name", "state"}]}`; a critical name
/// with no breaker has state `null` and counts as healthy.
pub(super) async fn check(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let mut open = Vec::new();
    let critical: Vec<Value> = state
        .critical
        .iter()
        .map(|name| {
            let now = state.registry.get(name).map(|b| b.state());
            if matches!(now, Some(BreakerState::Open | BreakerState::ForcedOpen)) {
                open.push(name.as_str());
            }
            json!({ "name": name, "state": now.map(BreakerState::as_label) })
        })
        .collect();
    let healthy = open.is_empty();
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({ "healthy": healthy, "open": open, "critical": critical })),
    )
}
