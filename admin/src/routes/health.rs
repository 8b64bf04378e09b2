//! `GET /fusebox/health`: 200 while no critical breaker is open or forced open, else 503;
//! the body says which.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use fusebox_engine::State as BreakerState;
use serde_json::{Value, json};

use crate::settings::Settings;
use crate::state::AppState;

/// `{"healthy": bool, "open": [names], "critical": [{"name", "state"}]}`; a critical name
/// with no breaker has state `null` and counts as healthy. The critical breakers are those
/// of [`AdminConfig::critical`](crate::AdminConfig::critical) and those of the config file
/// in force's `[health] critical`.
pub(super) async fn check(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let tables = Settings::of(&state.registry).current();
    let mut names: Vec<&str> = state.critical.iter().map(String::as_str).collect();
    for name in &tables.critical {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    let mut open = Vec::new();
    let critical: Vec<Value> = names
        .into_iter()
        .map(|name| {
            let now = state.registry.get(name).map(|b| b.state());
            if matches!(now, Some(BreakerState::Open | BreakerState::ForcedOpen)) {
                open.push(name);
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
