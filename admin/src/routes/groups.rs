//! `POST /fusebox/groups/{prefix}/{action}`: an action on every breaker named `prefix` or
//! `prefix.*`.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::actions::{ActionBody, Scope, act as apply, act_on_fleet, parse_action};
use crate::auth::Role;
use crate::error::ApiError;
use crate::state::AppState;

/// The action on the group; answers `{"group", "action", "breakers": [names]}`.
pub(super) async fn act(
    State(state): State<AppState>,
    Extension(role): Extension<Role>,
    Path((prefix, action)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let action = parse_action(&action)?;
    let body = ActionBody::parse(body, action)?;
    let breakers = state.registry.group(&prefix).breakers();
    if breakers.is_empty() {
        return Err(ApiError::not_found(format!(
            "no breaker in group {prefix:?}"
        )));
    }
    match body.scope {
        Scope::Local => apply(&state.registry, &breakers, action, role, &body),
        Scope::Fleet => act_on_fleet(&state.registry, &prefix, true, action, role, &body).await?,
    }
    let names: Vec<&str> = breakers.iter().map(|b| b.name()).collect();
    Ok(Json(json!({
        "group": prefix,
        "action": action.as_str(),
        "breakers": names,
    })))
}
