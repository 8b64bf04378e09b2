//! `GET`/`PUT /fusebox/config`, `GET /fusebox/config/versions` and
//! `POST /fusebox/config/rollback/{version}`.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use fusebox_registry::{ConfigError, Registry};
use serde_json::{Value, json};

use crate::actions::body_rejection;
use crate::auth::Role;
use crate::error::ApiError;
use crate::settings::Settings;
use crate::state::AppState;
use crate::versions::{RollbackError, Versions};

/// The config in force, rendered as a registry config file: `[defaults]`, a
/// `[breakers."<name>"]` section for each policy set by name with every key spelled out, and
/// the `[health]` and `[notify]` tables of the last file applied. `to_toml` leaves chaos out
/// of a policy without it, so when some policy of the file has chaos, the sections without
/// it say `chaos = "off"` rather than inherit their parent's. Chaos switched off by an
/// operator is rendered as set: the file is what was configured.
pub(super) async fn get(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/toml; charset=utf-8")],
        render(&state.registry),
    )
}

pub(crate) fn render(registry: &Registry) -> String {
    let mut out = String::from("[defaults]\n");
    let default = registry.default_policy();
    out.push_str(&default.to_toml());
    let policies = registry.policies();
    let any_chaos = default.chaos().is_some() || policies.values().any(|p| p.chaos().is_some());
    for (name, policy) in policies {
        // Valid names hold no quote or backslash.
        out.push_str(&format!("\n[breakers.\"{name}\"]\n"));
        out.push_str(&policy.to_toml());
        if any_chaos && policy.chaos().is_none() {
            out.push_str("chaos = \"off\"\n");
        }
    }
    out.push_str(&Settings::of(registry).current().to_toml());
    if let Some(record) = registry.recording() {
        out.push_str("\n[record]\n");
        out.push_str(&record.to_toml());
    }
    out
}

/// Applies a whole config file, all or nothing: 200 `{"version": n}`, or 422.
pub(super) async fn put(
    State(state): State<AppState>,
    Extension(role): Extension<Role>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let bytes = body.map_err(body_rejection)?;
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|e| ApiError::bad_request(format!("the config is not UTF-8: {e}")))?;
    let version = Versions::of(&state.registry)
        .apply(&state.registry, text, role.as_label())
        .map_err(refused)?;
    Ok(Json(json!({ "version": version })))
}

/// The versions kept, oldest first.
pub(super) async fn versions(State(state): State<AppState>) -> Json<Value> {
    let versions = Versions::of(&state.registry).list();
    Json(json!({ "versions": versions }))
}

/// Applies a kept version again, as a new version: 200 `{"version": n, "rollback_of": m}`.
pub(super) async fn rollback(
    State(state): State<AppState>,
    Extension(role): Extension<Role>,
    Path(version): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let wanted: u64 = version
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid version {version:?}")))?;
    match Versions::of(&state.registry).rollback(&state.registry, wanted, role.as_label()) {
        Ok(new) => Ok(Json(json!({ "version": new, "rollback_of": wanted }))),
        Err(RollbackError::Unknown) => Err(ApiError::not_found(format!(
            "no config version {wanted} is kept"
        ))),
        Err(RollbackError::Invalid(e)) => Err(refused(e)),
    }
}

/// 422 with the problem as `line:col: section: field: reason`.
fn refused(e: ConfigError) -> ApiError {
    ApiError::unprocessable(vec![e.to_string()])
}
