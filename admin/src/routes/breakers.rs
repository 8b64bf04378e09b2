//! `GET /fusebox/breakers`, `GET /fusebox/breakers/{name}` and
//! `POST /fusebox/breakers/{name}/{action}`.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::actions::{ActionBody, Scope, act as apply, act_on_fleet, parse_action};
use crate::auth::Role;
use crate::error::ApiError;
use crate::json::BreakerView;
use crate::state::AppState;

/// Every breaker, sorted by name.
pub(super) async fn list(State(state): State<AppState>) -> Json<Value> {
    let breakers: Vec<BreakerView> = state
        .registry
        .breakers()
        .iter()
        .map(|b| BreakerView::summary(&state.registry, b))
        .collect();
    Json(json!({ "breakers": breakers }))
}

/// One breaker, with its policy and history.
pub(super) async fn one(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<BreakerView>, ApiError> {
    let breaker = state
        .registry
        .get(&name)
        .ok_or_else(|| unknown_breaker(&name))?;
    Ok(Json(BreakerView::detailed(&state.registry, &breaker)))
}

/// A manual change; answers the breaker as it is after it.
pub(super) async fn act(
    State(state): State<AppState>,
    Extension(role): Extension<Role>,
    Path((name, action)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<BreakerView>, ApiError> {
    let action = parse_action(&action)?;
    let body = ActionBody::parse(body, action)?;
    let breaker = state
        .registry
        .get(&name)
        .ok_or_else(|| unknown_breaker(&name))?;
    match body.scope {
        Scope::Local => apply(
            &state.registry,
            std::slice::from_ref(&breaker),
            action,
            role,
            &body,
        ),
        Scope::Fleet => act_on_fleet(&state.registry, &name, false, action, role, &body).await?,
    }
    Ok(Json(BreakerView::detailed(&state.registry, &breaker)))
}

fn unknown_breaker(name: &str) -> ApiError {
    ApiError::not_found(format!("no breaker named {name:?}"))
}
