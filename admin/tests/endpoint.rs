//! The operator endpoint over real HTTP: each route, status code and auth rule, with the
//! router served on a loopback port and reqwest as the client.

use std::time::{Duration, Instant};

use fusebox_admin::{AdminConfig, Error, MAX_BODY_BYTES, router, serve};
use fusebox_engine::{Policy, State};
use fusebox_registry::Registry;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

const ADMIN: &str = "admin-token-0123456789";
const READ: &str = "read-token-0123456789";

/// A running router and a client for it.
struct Api {
    base: String,
    client: Client,
    token: Option<&'static str>,
}

impl Api {
    async fn start(registry: &Registry, config: AdminConfig) -> Api {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = router(registry, config);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Api {
            base: format!("http://{addr}"),
            client: Client::new(),
            token: Some(ADMIN),
        }
    }

    async fn secured(registry: &Registry) -> Api {
        Api::start(
            registry,
            AdminConfig::new()
                .admin_token(ADMIN)
                .unwrap()
                .read_token(READ)
                .unwrap(),
        )
        .await
    }

    fn as_token(&self, token: Option<&'static str>) -> Api {
        Api {
            base: self.base.clone(),
            client: self.client.clone(),
            token,
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.client.request(method, format!("{}{path}", self.base));
        match self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        json_of(self.request(Method::GET, path).send().await.unwrap()).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self.request(Method::POST, path).json(&body);
        json_of(r.send().await.unwrap()).await
    }

    async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> (StatusCode, Value) {
        let r = self.request(Method::POST, path).body(body);
        json_of(r.send().await.unwrap()).await
    }

    async fn put_config(&self, text: &str) -> (StatusCode, Value) {
        let r = self
            .request(Method::PUT, "/fusebox/config")
            .body(text.to_owned());
        json_of(r.send().await.unwrap()).await
    }
}

async fn json_of(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

fn registry_with(names: &[&str]) -> Registry {
    let registry = Registry::new(Policy::default());
    for n in names {
        registry.breaker(n).unwrap();
    }
    registry
}

/// The error message of a refusal, checked to be one line.
fn error_line(body: &Value) -> &str {
    let e = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {body}"));
    assert!(!e.contains('\n'), "{e}");
    e
}

#[tokio::test]
async fn lists_breakers_and_shows_one_with_history() {
    let registry = registry_with(&["db", "pay.stripe"]);
    registry
        .set_policy("pay", Policy::builder().min_calls(5).build().unwrap())
        .unwrap();
    let _ = registry.call("db", || Ok::<_, ()>(()));
    let _ = registry.call("db", || Err::<(), _>(()));
    let api = Api::secured(&registry).await;

    let (status, body) = api.get("/fusebox/breakers").await;
    assert_eq!(status, StatusCode::OK);
    let list = body["breakers"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let db = &list[0];
    assert_eq!(db["name"], "db");
    assert_eq!(db["state"], "closed");
    assert_eq!(db["failure_rate"], 0.5);
    assert_eq!(db["slow_call_rate"], 0.0);
    assert_eq!(db["window_calls"], 2);
    assert_eq!(
        db["calls"],
        json!({"success": 1, "failure": 1, "ignored": 0})
    );
    assert_eq!(db["rejected"], 0);
    assert_eq!(db["open_remaining_ms"], Value::Null);
    assert_eq!(db["policy_source"], "default");
    assert!(db.get("history").is_none() && db.get("policy").is_none());
    assert_eq!(list[1]["policy_source"], json!({"inherited": "pay"}));

    let (status, body) = api
        .post(
            "/fusebox/breakers/db/force-open",
            json!({"note": "db failover"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["state"], "forced_open");

    let (status, one) = api.get("/fusebox/breakers/db").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["name"], "db");
    assert_eq!(one["state"], "forced_open");
    let policy = one["policy"].as_str().unwrap();
    assert_eq!(Policy::from_toml(policy).unwrap(), Policy::default());
    let history = one["history"].as_array().unwrap();
    let last = history.last().unwrap();
    assert_eq!(last["from"], "closed");
    assert_eq!(last["to"], "forced_open");
    assert_eq!(last["reason"], "forced_open");
    assert_eq!(last["note"], "admin: db failover");
    assert!(last["at_ms"].is_u64());

    let (status, body) = api.get("/fusebox/breakers/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    error_line(&body);
}

#[tokio::test]
async fn each_action_changes_the_state_and_is_audited() {
    let registry = registry_with(&["db"]);
    let db = registry.get("db").unwrap();
    let api = Api::secured(&registry).await;
    let cases = [
        ("force-open", State::ForcedOpen),
        ("disable", State::Disabled),
        ("metrics-only", State::MetricsOnly),
        ("reset", State::Closed),
    ];
    for (action, state) in cases {
        let (status, body) = api
            .post(
                &format!("/fusebox/breakers/db/{action}"),
                json!({"note": action}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{action}: {body}");
        assert_eq!(body["state"], state.as_label());
        assert_eq!(db.state(), state, "{action}");
        let note = db.history().last().unwrap().note.clone().unwrap();
        assert_eq!(&*note, format!("admin: {action}"));
    }
    // No body at all: the note is the role alone.
    let (status, _) = api.post_raw("/fusebox/breakers/db/disable", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(db.history().last().unwrap().note.as_deref(), Some("admin"));
    let (status, _) = api.post("/fusebox/breakers/nope/disable", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn group_actions() {
    let registry = registry_with(&["pay.stripe", "pay.adyen", "payroll"]);
    let api = Api::secured(&registry).await;
    let (status, body) = api
        .post(
            "/fusebox/groups/pay/force-open",
            json!({"note": "provider outage"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["breakers"], json!(["pay.adyen", "pay.stripe"]));
    assert_eq!(body["action"], "force-open");
    for n in ["pay.stripe", "pay.adyen"] {
        let b = registry.get(n).unwrap();
        assert_eq!(b.state(), State::ForcedOpen);
        assert_eq!(
            b.history().last().unwrap().note.as_deref(),
            Some("admin: provider outage")
        );
    }
    assert_eq!(registry.get("payroll").unwrap().state(), State::Closed);
    let (status, _) = api.post("/fusebox/groups/pay/reset", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(registry.get("pay.adyen").unwrap().state(), State::Closed);

    let (status, body) = api.post("/fusebox/groups/nothing/disable", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    error_line(&body);
    let (status, _) = api.post("/fusebox/groups/pay/explode", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn malformed_requests_are_400_and_oversized_bodies_413() {
    let registry = registry_with(&["db"]);
    let api = Api::secured(&registry).await;
    let (status, body) = api.post("/fusebox/breakers/db/explode", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_line(&body).contains("unknown action \"explode\""));

    let (status, body) = api
        .post_raw("/fusebox/breakers/db/disable", "{\"note\":")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_line(&body).starts_with("invalid body"));

    let (status, body) = api
        .post(
            "/fusebox/breakers/db/disable",
            json!({"note": "x", "why": "y"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_line(&body).contains("unknown field `why`"));

    let (status, body) = api
        .post(
            "/fusebox/breakers/db/force-open",
            json!({"ttl": "10 parsecs"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_line(&body).starts_with("invalid ttl \"10 parsecs\""));
    assert_eq!(registry.get("db").unwrap().state(), State::Closed);

    let big = format!("{{\"note\": \"{}\"}}", "x".repeat(MAX_BODY_BYTES + 1));
    let (status, body) = api.post_raw("/fusebox/breakers/db/disable", big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    error_line(&body);
    let (status, _) = api
        .put_config(&format!("# {}\n", "x".repeat(MAX_BODY_BYTES)))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(registry.get("db").unwrap().state(), State::Closed);
}

#[tokio::test]
async fn tokens_401_and_403() {
    let registry = registry_with(&["db"]);
    let api = Api::secured(&registry).await;
    for path in [
        "/fusebox/breakers",
        "/fusebox/health",
        "/metrics",
        "/fusebox/config",
    ] {
        let (status, body) = api.as_token(None).get(path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        error_line(&body);
    }
    let (status, _) = api
        .as_token(Some("wrong-token"))
        .get("/fusebox/breakers")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = api
        .as_token(None)
        .post("/fusebox/breakers/db/disable", json!({}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let read = api.as_token(Some(READ));
    let (status, _) = read.get("/fusebox/breakers").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = read.post("/fusebox/breakers/db/disable", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    error_line(&body);
    let (status, _) = read.put_config("").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(registry.get("db").unwrap().state(), State::Closed);
}

#[tokio::test]
async fn no_token_configured_reads_are_open_and_mutations_403() {
    let registry = registry_with(&["db"]);
    let api = Api::start(&registry, AdminConfig::new())
        .await
        .as_token(None);
    let (status, _) = api.get("/fusebox/breakers").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api.post("/fusebox/breakers/db/force-open", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(error_line(&body).contains("no admin token"));
    let (status, _) = api.put_config("").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(registry.get("db").unwrap().state(), State::Closed);
}

#[tokio::test]
async fn repeated_wrong_tokens_get_429() {
    let registry = registry_with(&["db"]);
    let api = Api::secured(&registry).await;
    let wrong = api.as_token(Some("guess"));
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let (status, _) = wrong.get("/fusebox/breakers").await;
        statuses.push(status);
        if status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert!(
        statuses.len() > 10,
        "the burst of 10 is let through: {statuses:?}"
    );
    // While the limit holds, every attempt waits, the right token's too.
    let r = api
        .request(Method::GET, "/fusebox/breakers")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    // No token is no guess: a plain 401, never counted.
    let (status, _) = api.as_token(None).get("/fusebox/health").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn config_put_versions_and_rollback() {
    let registry = registry_with(&["db.primary"]);
    let api = Api::secured(&registry).await;

    let (status, body) = api.put_config("[breakers.\"db\"]\nmin_calls = 4\n").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 1);
    let db = registry.get("db.primary").unwrap();
    assert_eq!(db.policy().min_calls(), 4);
    let (status, body) = api.put_config("[breakers.\"db\"]\nmin_calls = 9\n").await;
    assert_eq!(
        (status, body["version"].as_u64()),
        (StatusCode::OK, Some(2))
    );
    assert_eq!(db.policy().min_calls(), 9);

    // Refused whole: nothing changes, no version is recorded.
    let (status, body) = api
        .put_config("[breakers.\"db\"]\nwindow = { count = 50 }\nmin_calls = -1\n")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let errors = body["errors"].as_array().unwrap();
    let first = errors[0].as_str().unwrap();
    assert!(first.starts_with("3:13: "), "{first}");
    assert!(first.contains("min_calls: "), "{first}");
    assert_eq!(db.policy().min_calls(), 9);

    let (status, text) = api.get("/fusebox/config").await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().unwrap();
    assert!(text.contains("[breakers.\"db\"]\n"), "{text}");
    assert!(text.contains("min_calls = 9\n"), "{text}");
    // What GET answers, PUT accepts.
    let (status, _) = api.put_config(text).await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = api.get("/fusebox/config/versions").await;
    assert_eq!(status, StatusCode::OK);
    let versions = body["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 3);
    assert_eq!(versions[0]["version"], 1);
    assert_eq!(versions[0]["applied_by"], "admin");
    assert!(versions[0]["applied_at_ms"].as_u64().unwrap() > 1_600_000_000_000);
    assert_eq!(versions[0]["config"], "[breakers.\"db\"]\nmin_calls = 4\n");

    let (status, body) = api.post_raw("/fusebox/config/rollback/1", "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"version": 4, "rollback_of": 1}));
    assert_eq!(db.policy().min_calls(), 4);
    let (_, body) = api.get("/fusebox/config/versions").await;
    assert_eq!(body["versions"][3]["rollback_of"], 1);

    let (status, _) = api.post_raw("/fusebox/config/rollback/99", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.post_raw("/fusebox/config/rollback/latest", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Polls `f` every 20 ms until it holds, for at most 5 s.
async fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_ttl_resets_the_breaker_unless_a_later_action_came() {
    let registry = registry_with(&["db", "cache"]);
    let api = Api::secured(&registry).await;
    let db = registry.get("db").unwrap();
    let (status, _) = api
        .post(
            "/fusebox/breakers/db/force-open",
            json!({"note": "maintenance", "ttl": "200ms"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(db.state(), State::ForcedOpen);
    eventually("db reset by its ttl", || db.state() == State::Closed).await;
    assert_eq!(
        db.history().last().unwrap().note.as_deref(),
        Some("ttl expired")
    );

    // A manual action cancels the pending reset.
    let cache = registry.get("cache").unwrap();
    let (status, _) = api
        .post(
            "/fusebox/breakers/cache/force-open",
            json!({"ttl": "100ms"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api.post("/fusebox/breakers/cache/disable", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(cache.state(), State::Disabled);

    // A group ttl.
    let (status, _) = api
        .post(
            "/fusebox/groups/cache/metrics-only",
            json!({"ttl": "150ms"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cache.state(), State::MetricsOnly);
    eventually("cache reset by the group ttl", || {
        cache.state() == State::Closed
    })
    .await;
}

#[tokio::test]
async fn events_stream_transitions() {
    let registry = registry_with(&["db"]);
    let api = Api::secured(&registry).await;
    let mut response = api
        .request(Method::GET, "/fusebox/events")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    // Subscribed once the headers are in: this transition is sent.
    registry
        .get("db")
        .unwrap()
        .noted("oncall: test")
        .force_open();
    let mut text = String::new();
    let read = async {
        loop {
            let chunk = response.chunk().await.unwrap().expect("the stream ended");
            text.push_str(std::str::from_utf8(&chunk).unwrap());
            if text.contains("event: transition\n") && text.contains("\n\n") {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("no transition event within 5 s");
    let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let event: Value = serde_json::from_str(data).unwrap();
    assert_eq!(event["breaker"], "db");
    assert_eq!(event["from"], "closed");
    assert_eq!(event["to"], "forced_open");
    assert_eq!(event["reason"], "forced_open");
    assert_eq!(event["note"], "oncall: test");
    assert!(event["at_ms"].is_u64());
}

#[tokio::test]
async fn the_dashboard_page_needs_no_token_and_loads_nothing_from_elsewhere() {
    let registry = registry_with(&["db"]);
    let api = Api::secured(&registry).await.as_token(None);
    let r = api.request(Method::GET, "/fusebox/").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let header = |name: &str| r.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    assert_eq!(header("cache-control"), "no-store");
    let csp = header("content-security-policy");
    for directive in [
        "default-src 'none'",
        "script-src 'sha256-",
        "style-src 'sha256-",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    let page = r.text().await.unwrap();
    assert!(page.starts_with("<!doctype html>"));
    assert!(page.contains("id=\"token-form\""));

    // `/fusebox` leads to it, relative to where the router is mounted.
    let no_redirects = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirects
        .get(format!("{}/fusebox", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(r.headers()["location"], "fusebox/");
    let (status, body) = api.get("/fusebox").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.as_str().unwrap().contains("<title>fusebox</title>"));

    // The data it shows still needs a token.
    let (status, _) = api.get("/fusebox/breakers").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let r = api
        .request(Method::GET, "/fusebox/events")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn health_follows_the_critical_breakers() {
    let registry = registry_with(&["pay.stripe", "search"]);
    let config = AdminConfig::new()
        .admin_token(ADMIN)
        .unwrap()
        .critical(["pay.stripe", "not.created"]);
    let api = Api::start(&registry, config).await;
    registry.get("search").unwrap().force_open(); // not critical
    let (status, body) = api.get("/fusebox/health").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["healthy"], true);
    assert_eq!(body["open"], json!([]));

    registry.get("pay.stripe").unwrap().force_open();
    let (status, body) = api.get("/fusebox/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["healthy"], false);
    assert_eq!(body["open"], json!(["pay.stripe"]));
    assert_eq!(
        body["critical"],
        json!([
            {"name": "pay.stripe", "state": "forced_open"},
            {"name": "not.created", "state": null}
        ])
    );
}

#[tokio::test]
async fn health_follows_the_config_files_health_table() {
    let registry = registry_with(&["db", "cache"]);
    let api = Api::secured(&registry).await;
    let file = "[breakers.\"db\"]\nmin_calls = 5\n\n[health]\ncritical = [\"db\"]\n";
    let (status, body) = api.put_config(file).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    registry.get("cache").unwrap().force_open(); // not critical
    assert_eq!(api.get("/fusebox/health").await.0, StatusCode::OK);
    registry.get("db").unwrap().force_open();
    let (status, body) = api.get("/fusebox/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["open"], json!(["db"]));
    // The config in force shows the table; a file without it clears the list.
    let (_, text) = api.get("/fusebox/config").await;
    let text = text.as_str().unwrap();
    assert!(text.contains("[health]\ncritical = [\"db\"]\n"), "{text}");
    api.put_config("").await;
    assert_eq!(api.get("/fusebox/health").await.0, StatusCode::OK);
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let registry = registry_with(&["db"]);
    registry.get("db").unwrap().force_open();
    let api = Api::secured(&registry).await;
    let r = api.request(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/plain; version=0.0.4");
    let text = r.text().await.unwrap();
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).unwrap();
    let forced = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "fusebox_state"
                && s.labels.get("breaker") == Some("db")
                && s.labels.get("state") == Some("forced_open")
        })
        .expect("fusebox_state{breaker=\"db\",state=\"forced_open\"}");
    assert!(matches!(forced.value, prometheus_parse::Value::Gauge(v) if v == 1.0));
}

#[tokio::test]
async fn serve_binds_loopback_and_refuses_the_network_without_a_token() {
    let registry = registry_with(&["db"]);
    let err = serve(&registry, AdminConfig::new(), "0.0.0.0:0".parse().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotLoopback { .. }), "{err}");
    assert!(err.to_string().contains("0.0.0.0:0"), "{err}");
    assert!(err.to_string().contains("no token"), "{err}");

    let server = serve(
        &registry,
        AdminConfig::new().admin_token(ADMIN).unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let api = Api {
        base: format!("http://{}", server.local_addr()),
        client: Client::new(),
        token: Some(ADMIN),
    };
    let (status, body) = api.get("/fusebox/breakers").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["breakers"][0]["name"], "db");
    tokio::time::timeout(Duration::from_secs(5), server.shutdown())
        .await
        .expect("shutdown within 5 s")
        .unwrap();
}

/// A fleet sync stand-in: keeps what it was handed, and applies it here as a real one does.
struct Recorder {
    registry: Registry,
    seen: std::sync::Mutex<Vec<fusebox_registry::FleetOverride>>,
}

impl fusebox_registry::FleetScope for Recorder {
    fn submit(&self, o: fusebox_registry::FleetOverride) -> fusebox_registry::FleetScopeFuture {
        let breakers = if o.group {
            self.registry.group(&o.name).breakers()
        } else {
            vec![self.registry.breaker(&o.name).unwrap()]
        };
        self.registry
            .act(&breakers, o.action, o.note.as_str().into());
        self.seen.lock().unwrap().push(o);
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn fleet_scoped_actions_go_to_the_fleet_sync() {
    let registry = registry_with(&["pay.stripe", "pay.adyen"]);
    let api = Api::secured(&registry).await;
    // No fleet sync connected: refused, nothing changes.
    let (status, body) = api
        .post(
            "/fusebox/breakers/pay.stripe/force-open",
            json!({"scope": "fleet"}),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["error"].as_str().unwrap().contains("no fleet sync"));
    assert_eq!(registry.get("pay.stripe").unwrap().state(), State::Closed);
    let (status, _) = api
        .post(
            "/fusebox/breakers/pay.stripe/reset",
            json!({"scope": "mars"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let recorder = std::sync::Arc::new(Recorder {
        registry: registry.clone(),
        seen: Default::default(),
    });
    let scope: std::sync::Arc<dyn fusebox_registry::FleetScope> = recorder.clone();
    registry.set_fleet_scope(std::sync::Arc::downgrade(&scope));
    let (status, body) = api
        .post(
            "/fusebox/breakers/pay.stripe/force-open",
            json!({"scope": "fleet", "ttl": "10m", "note": "incident 7"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "forced_open");
    let (status, body) = api
        .post("/fusebox/groups/pay/disable", json!({"scope": "fleet"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].name, "pay.stripe");
    assert!(!seen[0].group);
    assert_eq!(seen[0].ttl, Some(Duration::from_secs(600)));
    assert_eq!(seen[0].note, "admin: incident 7");
    assert_eq!(seen[1].name, "pay");
    assert!(seen[1].group);
    assert_eq!(registry.get("pay.adyen").unwrap().state(), State::Disabled);
}

#[tokio::test]
async fn chaos_off_switches_a_breakers_chaos_off_and_keeps_it_off_across_reloads() {
    let registry = registry_with(&["db"]);
    let api = Api::secured(&registry).await;
    let file = "[defaults]\nmin_calls = 50\n\n[breakers.\"pay\"]\n\
                chaos = { fault_rate = 1.0, seed = 7, until = \"none\" }\n";
    let (status, body) = api.put_config(file).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pay = registry.breaker("pay").unwrap();
    assert!(pay.policy().chaos().is_some());

    // Admin token only, like every mutation.
    let (status, _) = api
        .as_token(Some(READ))
        .post_raw("/fusebox/breakers/pay/chaos-off", "")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api
        .as_token(None)
        .post_raw("/fusebox/breakers/pay/chaos-off", "")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(pay.policy().chaos().is_some());

    let (status, body) = api
        .post(
            "/fusebox/breakers/pay/chaos-off",
            json!({"note": "experiment over"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "pay");
    assert_eq!(body["state"], "closed");
    let policy = Policy::from_toml(body["policy"].as_str().unwrap()).unwrap();
    assert_eq!(policy.chaos(), None);
    assert_eq!(policy.min_calls(), 50);
    let last = body["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["reason"], "chaos_off");
    assert_eq!(
        (&last["from"], &last["to"]),
        (&json!("closed"), &json!("closed"))
    );
    assert_eq!(last["note"], "admin: experiment over");
    assert_eq!(pay.policy().chaos(), None);

    // Nothing left to switch off: 409; an unknown breaker: 404; a bad body: 400.
    let (status, body) = api.post_raw("/fusebox/breakers/pay/chaos-off", "").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(error_line(&body).contains("without chaos"), "{body}");
    let (status, body) = api.post_raw("/fusebox/breakers/db/chaos-off", "").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = api.post_raw("/fusebox/breakers/nope/chaos-off", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    error_line(&body);
    let (status, body) = api
        .post("/fusebox/breakers/pay/chaos-off", json!({"ttl": "10m"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    error_line(&body);

    // The config still shows the chaos as configured; the breaker without a section says
    // `chaos = "off"` only where needed, and what GET answers, PUT accepts.
    let (status, text) = api.get("/fusebox/config").await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().unwrap().to_owned();
    assert!(text.contains("chaos = { fault_rate = 1.0"), "{text}");
    // Reloading the same experiment leaves it off.
    let (status, _) = api.put_config(&text).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api.put_config(file).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pay.policy().chaos(), None);
    let (_, one) = api.get("/fusebox/breakers/pay").await;
    assert!(!one["policy"].as_str().unwrap().contains("chaos"));
    // A new experiment starts.
    let (status, _) = api.put_config(&file.replace("seed = 7", "seed = 8")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pay.policy().chaos().map(|c| c.seed()), Some(8));
}

#[tokio::test]
async fn the_config_says_chaos_off_where_a_section_would_inherit_it() {
    let registry = registry_with(&[]);
    let api = Api::secured(&registry).await;
    let file = "[defaults]\nchaos = { fault_rate = 0.5 }\n\n[breakers.\"db\"]\nchaos = \"off\"\n";
    let (status, body) = api.put_config(file).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, text) = api.get("/fusebox/config").await;
    let text = text.as_str().unwrap().to_owned();
    assert!(text.contains("[breakers.\"db\"]\n"), "{text}");
    assert!(
        text.ends_with("chaos = \"off\"\n") || text.contains("chaos = \"off\"\n\n"),
        "{text}"
    );
    let (status, _) = api.put_config(&text).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(registry.resolved_policy("db").unwrap().chaos(), None);
    assert!(registry.resolved_policy("other").unwrap().chaos().is_some());
}

#[tokio::test]
async fn recording_is_drained_as_json_lines_and_409_when_off() {
    let registry = registry_with(&[]);
    let api = Api::secured(&registry).await;
    let read = api.as_token(Some(READ));
    let admin = api.as_token(Some(ADMIN));
    // Off: 409 with the one-line error the other routes give.
    let (status, body) = admin.get("/fusebox/recording").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        error_line(&body).contains("recording is not configured"),
        "{body}"
    );
    // A token is needed, as for every GET, and a drain empties the buffer: the admin token.
    let (status, _) = api.as_token(None).get("/fusebox/recording").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = read.get("/fusebox/recording").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(error_line(&body).contains("admin token"), "{body}");

    let file = "[record]\nbreakers = [\"pay.*\"]\nsample = 1.0\ncapacity = 100\n";
    let (status, body) = api.put_config(file).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stripe = registry.breaker("pay.stripe").unwrap();
    stripe.try_acquire().unwrap().failure();
    stripe.force_open();
    let _ = stripe.try_acquire();
    registry
        .breaker("db")
        .unwrap()
        .try_acquire()
        .unwrap()
        .success();

    let r = admin
        .request(Method::GET, "/fusebox/recording")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let text = r.text().await.unwrap();
    let calls: Vec<fusebox_registry::RecordedCall> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(calls.len(), 2, "{text}");
    assert!(text.ends_with('\n'));
    assert_eq!(calls[0].outcome, fusebox_registry::RecordedOutcome::Failure);
    assert_eq!(calls[1].reason.as_deref(), Some("forced_open"));
    assert!(calls.iter().all(|c| c.breaker == "pay.stripe"));
    // Drained: the next GET is empty.
    let r = admin
        .request(Method::GET, "/fusebox/recording")
        .send()
        .await;
    assert_eq!(r.unwrap().text().await.unwrap(), "");
    // The config in force shows the table; a file without it switches recording off.
    let (_, config) = read.get("/fusebox/config").await;
    let config = config.as_str().unwrap();
    assert!(
        config.contains("[record]\nbreakers = [\"pay.*\"]\nsample = 1.0\ncapacity = 100\n"),
        "{config}"
    );
    api.put_config("").await;
    assert_eq!(
        admin.get("/fusebox/recording").await.0,
        StatusCode::CONFLICT
    );
}
