//! `fusebox::admin` (feature `admin`) through the facade's names alone: the operator
//! endpoint merged into an axum app on 127.0.0.1, read and steered over HTTP.
#![cfg(feature = "admin")]

use axum::Router;
use axum::routing::get;
use fusebox::admin::AdminConfig;
use fusebox::{Policy, Registry, State};
use reqwest::StatusCode;

#[tokio::test]
async fn the_operator_endpoint_mounts_in_an_axum_app() {
    let registry = Registry::new(Policy::default());
    let db = registry.breaker("db").unwrap();
    let app = Router::new()
        .route("/", get(|| async { "app" }))
        .merge(fusebox::admin::router(
            &registry,
            AdminConfig::new()
                .admin_token("facade-admin-token")
                .unwrap(),
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = reqwest::Client::new();
    let home = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(home.text().await.unwrap(), "app");
    let open = client
        .get(format!("{base}/fusebox/breakers"))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), StatusCode::UNAUTHORIZED);

    let forced = client
        .post(format!("{base}/fusebox/breakers/db/force-open"))
        .bearer_auth("facade-admin-token")
        .body(r#"{"note": "facade"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(forced.status(), StatusCode::OK);
    assert_eq!(db.state(), State::ForcedOpen);
    assert_eq!(db.history()[0].note.as_deref(), Some("admin: facade"));

    let list = client
        .get(format!("{base}/fusebox/breakers"))
        .bearer_auth("facade-admin-token")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains(r#""state":"forced_open""#), "{list}");
}
