//! The routes: which path and method go to which handler, behind the auth middleware and the
//! body limit; the dashboard page alone is outside the auth middleware.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};

use crate::auth;
use crate::state::AppState;

mod breakers;
mod chaos;
mod config;
mod dashboard;
mod events;
mod groups;
mod health;
mod metrics;
mod recording;

/// Every route, on `state`.
pub(crate) fn all(state: AppState) -> Router {
    Router::new()
        .route("/fusebox/breakers", get(breakers::list))
        .route("/fusebox/breakers/{name}", get(breakers::one))
        .route("/fusebox/breakers/{name}/chaos-off", post(chaos::off))
        .route("/fusebox/breakers/{name}/{action}", post(breakers::act))
        .route("/fusebox/groups/{prefix}/{action}", post(groups::act))
        .route("/fusebox/config", get(config::get).put(config::put))
        .route("/fusebox/config/versions", get(config::versions))
        .route("/fusebox/config/rollback/{version}", post(config::rollback))
        .route("/fusebox/events", get(events::stream))
        .route("/fusebox/health", get(health::check))
        .route("/fusebox/recording", get(recording::drain))
        .route("/metrics", get(metrics::render))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require))
        // Added after `route_layer`, which wraps only the routes before it: the page carries
        // no data and asks for the token itself, so loading it needs none.
        .route("/fusebox/", get(dashboard::page))
        .route("/fusebox", get(dashboard::redirect))
        .layer(DefaultBodyLimit::max(crate::MAX_BODY_BYTES))
        .with_state(state)
}
