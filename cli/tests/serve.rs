//! `fusebox serve` as a process, and the commands that steer it: status, the manual actions,
//! apply; reloads on SIGHUP, stops on SIGTERM; clear errors for a wrong URL, a refused
//! token, a dead server.

mod common;

use std::path::PathBuf;

use common::{Served, fusebox, output, scratch};
use serde_json::Value;

const CONFIG: &str = r#"
[defaults]
min_calls = 20

[breakers."pay.stripe"]
open_timeout = "5s"

[breakers."search.api"]

[health]
critical = ["pay.stripe"]
"#;

/// A scratch directory with the config file and admin and read token files.
fn setup(test: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = scratch(test);
    let config = dir.join("fusebox.toml");
    std::fs::write(&config, CONFIG).unwrap();
    std::fs::write(dir.join("admin.token"), "admin-0123456789\n").unwrap();
    std::fs::write(dir.join("read.token"), "read-0123456789\n").unwrap();
    (config, dir.join("admin.token"), dir.join("read.token"))
}

fn get(url: &str, token: &str) -> (u16, Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let r = reqwest::Client::new()
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    })
}

/// Replaces the file at once (write aside, then rename), as an editor or a deploy does: a
/// SIGHUP sent right after never reads it half written.
fn replace(path: &std::path::Path, text: &str) {
    let aside = path.with_extension("toml.new");
    std::fs::write(&aside, text).unwrap();
    std::fs::rename(&aside, path).unwrap();
}

fn cli(args: &[&str]) -> (String, String, Option<i32>) {
    output(fusebox().args(args))
}

#[test]
fn serve_hosts_the_configured_breakers_and_stops_on_sigterm() {
    let (config, admin, read) = setup("serve-basic");
    let config = config.to_str().unwrap();
    let (admin, read) = (admin.to_str().unwrap(), read.to_str().unwrap());
    let mut served = Served::start(&[config, "--token-file", admin, "--read-token-file", read]);
    let url = served.url.clone();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    // Every configured name has a breaker before any traffic; the file is version 1.
    let (status, out) = get(&format!("{url}/fusebox/breakers"), "read-0123456789");
    assert_eq!(status, 200);
    let names: Vec<&str> = out["breakers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pay.stripe", "search.api"]);
    let (_, versions) = get(&format!("{url}/fusebox/config/versions"), "read-0123456789");
    assert_eq!(versions["versions"][0]["applied_by"], "startup");

    // status: a table, with the read token.
    let (out, err, code) = cli(&["status", "--url", &url, "--token-file", read]);
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{out}");
    assert!(lines[1].starts_with("pay.stripe  closed"), "{out}");

    // force-open with a ttl and a note: health fails, the history says who and why.
    let (out, err, code) = cli(&[
        "force-open",
        "pay.stripe",
        "--url",
        &url,
        "--token-file",
        admin,
        "--ttl",
        "10m",
        "--note",
        "provider maintenance",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "pay.stripe: forced_open (resets itself in 10m)\n");
    let (status, health) = get(&format!("{url}/fusebox/health"), "read-0123456789");
    assert_eq!(status, 503, "{health}");
    let (_, one) = get(
        &format!("{url}/fusebox/breakers/pay.stripe"),
        "read-0123456789",
    );
    let last = one["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["to"], "forced_open");
    assert_eq!(last["note"], "admin: provider maintenance");

    for (action, state) in [
        ("disable", "disabled"),
        ("metrics-only", "metrics_only"),
        ("reset", "closed"),
    ] {
        let (out, err, code) = cli(&[action, "search.api", "--url", &url, "--token-file", admin]);
        assert_eq!(code, Some(0), "{action}: {err}");
        assert_eq!(out, format!("search.api: {state}\n"));
    }

    served.signal("TERM");
    assert_eq!(served.wait(), Some(0));
    assert_eq!(served.next_line(), "stopped");
}

#[test]
fn sighup_reloads_the_file_all_or_nothing() {
    let (config, admin, _) = setup("serve-hup");
    let path = config.to_str().unwrap();
    let served = Served::start(&[path, "--token-file", admin.to_str().unwrap()]);
    let token = "admin-0123456789";
    replace(
        &config,
        &format!("{CONFIG}\n[breakers.\"db\"]\nmin_calls = 7\n"),
    );
    served.signal("HUP");
    assert_eq!(
        served.next_line(),
        format!("reloaded {path} (3 breaker sections)")
    );
    let (status, db) = get(&format!("{}/fusebox/breakers/db", served.url), token);
    assert_eq!(status, 200, "{db}");
    assert!(
        db["policy"].as_str().unwrap().contains("min_calls = 7"),
        "{db}"
    );

    // A broken file is refused: the config in force stays, the server keeps running.
    replace(&config, "[breakers.\"db\"]\nmin_calls = 0\n");
    served.signal("HUP");
    let refused = served.next_error();
    assert!(
        refused.starts_with("error: reload refused, the config in force is kept:"),
        "{refused}"
    );
    assert!(
        refused.contains(":2:13: breakers.\"db\": min_calls:"),
        "{refused}"
    );
    replace(&config, CONFIG);
    served.signal("HUP");
    assert_eq!(
        served.next_line(),
        format!("reloaded {path} (2 breaker sections)")
    );
    let (_, versions) = get(&format!("{}/fusebox/config/versions", served.url), token);
    let by: Vec<&str> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["applied_by"].as_str().unwrap())
        .collect();
    assert_eq!(by, ["startup", "reload", "reload"]);
}

#[test]
fn apply_prints_a_refused_files_problems_with_their_positions() {
    let (config, admin, read) = setup("serve-apply");
    let admin = admin.to_str().unwrap();
    let served = Served::start(&[config.to_str().unwrap(), "--token-file", admin]);
    let dir = config.parent().unwrap();
    let good = dir.join("good.toml");
    std::fs::write(&good, "[breakers.\"pay.stripe\"]\nmin_calls = 9\n").unwrap();
    let good = good.to_str().unwrap();
    let (out, err, code) = cli(&["apply", good, "--url", &served.url, "--token-file", admin]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, format!("{good}: applied as config version 2\n"));

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[breakers.\"pay.stripe\"]\nmin_calls = 0\n").unwrap();
    let bad = bad.to_str().unwrap();
    let (out, _, code) = cli(&["apply", bad, "--url", &served.url, "--token-file", admin]);
    assert_eq!(code, Some(1));
    assert_eq!(
        out,
        format!("{bad}:2:13: breakers.\"pay.stripe\": min_calls: must be at least 1, got 0\n")
    );

    // The read token may not apply; no token at all is refused too.
    std::fs::write(&read, "not-the-token\n").unwrap();
    let (_, err, code) = cli(&[
        "apply",
        good,
        "--url",
        &served.url,
        "--token-file",
        read.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("the token was refused (401)"), "{err}");
    let (_, err, code) = cli(&["status", "--url", &served.url]);
    assert_eq!(code, Some(1));
    assert!(err.contains("(401); pass --token-file"), "{err}");
}

#[test]
fn clear_errors_for_a_wrong_url_a_dead_server_and_an_unknown_breaker() {
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let (_, err, code) = cli(&["status", "--url", &dead]);
    assert_eq!(code, Some(1));
    assert_eq!(
        err.trim(),
        format!("error: {dead}: cannot connect (is fusebox serve running there?)")
    );
    let (_, err, code) = cli(&["reset", "db", "--url", "localhost:9000"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--url \"localhost:9000\""), "{err}");

    let (config, admin, _) = setup("serve-errors");
    let admin = admin.to_str().unwrap();
    let served = Served::start(&[config.to_str().unwrap(), "--token-file", admin]);
    let (_, err, code) = cli(&["reset", "nope", "--url", &served.url, "--token-file", admin]);
    assert_eq!(code, Some(1));
    assert_eq!(
        err.trim(),
        format!("error: {}: no breaker named \"nope\" (404)", served.url)
    );
    let (_, err, code) = cli(&[
        "force-open",
        "pay.stripe",
        "--url",
        &served.url,
        "--token-file",
        admin,
        "--ttl",
        "soon",
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("(400)"), "{err}");
}

#[test]
fn serve_refuses_bad_input_before_listening() {
    let (config, _, _) = setup("serve-refuse");
    let dir = config.parent().unwrap();
    // No token: only loopback.
    let (_, err, code) = cli(&["serve", config.to_str().unwrap(), "--bind", "0.0.0.0:0"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--bind 0.0.0.0:0"), "{err}");
    assert!(err.contains("loopback"), "{err}");
    // A broken config file: its position.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[breakers.\"db\"]\njitter = 2.0\n").unwrap();
    let (out, err, code) = cli(&["serve", bad.to_str().unwrap(), "--bind", "127.0.0.1:0"]);
    assert_eq!(code, Some(1));
    assert!(out.is_empty(), "{out}");
    assert!(
        err.starts_with(&format!(
            "error: {}:2:10: breakers.\"db\": jitter:",
            bad.display()
        )),
        "{err}"
    );
    // An empty token file.
    let empty = dir.join("empty.token");
    std::fs::write(&empty, "\n").unwrap();
    let (_, err, code) = cli(&[
        "serve",
        config.to_str().unwrap(),
        "--bind",
        "127.0.0.1:0",
        "--token-file",
        empty.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--token-file"), "{err}");
}
