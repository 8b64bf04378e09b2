//! `GET /metrics`: the registry's series in the Prometheus text format.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::state::AppState;

/// The Prometheus text exposition format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// [`Registry::render_prometheus`](fusebox_registry::Registry::render_prometheus).
pub(super) async fn render(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        state.registry.render_prometheus(),
    )
}
