//! `fusebox serve --redis` as separate processes sharing one real `redis-server`: a
//! fleet-scoped action reaches the other instance and one started later; with Redis gone the
//! endpoints keep serving and a fleet-scoped action is refused plainly.

mod common;

use std::time::{Duration, Instant};

use common::{Served, fusebox, output, scratch};
use fusebox_test_support::redis_server::RedisServer;

const CONFIG: &str = r#"
[breakers."pay"]
fleet = "follow"

[breakers."search"]
"#;

fn state_of(url: &str, token: &std::path::Path, name: &str) -> String {
    let (out, err, code) = output(fusebox().args([
        "status",
        "--url",
        url,
        "--token-file",
        token.to_str().unwrap(),
    ]));
    assert_eq!(code, Some(0), "{err}");
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_default()
        .to_owned()
}

fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn fleet_scoped_actions_reach_other_processes_and_a_late_joiner() {
    let mut redis = RedisServer::start();
    let dir = scratch("fleet-serve");
    let config = dir.join("fusebox.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let token = dir.join("admin.token");
    std::fs::write(&token, "admin-0123456789\n").unwrap();
    let url = redis.url();
    let start = |id: &str| {
        let served = Served::start(&[
            config.to_str().unwrap(),
            "--token-file",
            token.to_str().unwrap(),
            "--redis",
            &url,
            "--namespace",
            "shop",
            "--instance",
            id,
        ]);
        assert_eq!(
            served.next_line(),
            format!("fleet: {id} in namespace shop at {url}")
        );
        served
    };
    let a = start("a");
    let b = start("b");

    let (out, err, code) = output(fusebox().args([
        "force-open",
        "search",
        "--scope",
        "fleet",
        "--ttl",
        "10m",
        "--note",
        "provider maintenance",
        "--url",
        &a.url,
        "--token-file",
        token.to_str().unwrap(),
    ]));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        "search: forced_open, on every instance (resets itself in 10m)\n"
    );
    eventually("b to force search open", || {
        state_of(&b.url, &token, "search") == "forced_open"
    });
    let c = start("c");
    assert_eq!(state_of(&c.url, &token, "search"), "forced_open");

    // Redis gone: each endpoint still answers; a fleet-scoped action is refused, a local one
    // is not.
    redis.kill();
    assert_eq!(state_of(&a.url, &token, "pay"), "closed");
    let (_, err, code) = output(fusebox().args([
        "reset",
        "search",
        "--scope",
        "fleet",
        "--url",
        &a.url,
        "--token-file",
        token.to_str().unwrap(),
    ]));
    assert_eq!(code, Some(1));
    assert!(err.contains("(503)"), "{err}");
    let (_, err, code) = output(fusebox().args([
        "reset",
        "search",
        "--url",
        &a.url,
        "--token-file",
        token.to_str().unwrap(),
    ]));
    assert_eq!(code, Some(0), "{err}");
}
