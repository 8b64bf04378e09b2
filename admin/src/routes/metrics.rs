//! `GET /metrics`: the registry's series in the Prometheus text format.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::notify::Notifier;
use crate::state::AppState;

/// The Prometheus text exposition format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// [`Registry::render_prometheus`](fusebox_registry::Registry::render_prometheus), then the
/// notifier's counters (`fusebox_notify_*_total`).
pub(super) async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let mut text = state.registry.render_prometheus();
    text.push_str(&Notifier::of(&state.registry).render_prometheus());
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text)
}
