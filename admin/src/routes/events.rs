//! `GET /fusebox/events`: every transition of the registry's breakers as a Server-Sent
//! Event named `transition`, with JSON data.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};

use crate::json::TransitionView;
use crate::state::AppState;

/// The stream; subscribed before the response starts, so no transition after the response's
/// headers is missed (a client more than 1024 transitions behind loses the newest).
pub(super) async fn stream(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut closing = state.closing.subscribe();
    let events = state
        .registry
        .subscribe_stream()
        .map(|t| {
            let data = serde_json::to_string(&TransitionView::event(&t))
                .unwrap_or_else(|_| String::from("{}"));
            Ok(Event::default().event("transition").data(data))
        })
        .take_until(async move {
            let _ = closing.wait_for(|closing| *closing).await;
        });
    Sse::new(events).keep_alive(KeepAlive::default())
}
