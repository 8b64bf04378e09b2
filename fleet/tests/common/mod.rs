//! A real `redis-server` per test, on a free loopback port, stopped when dropped; and
//! helpers shared by the fleet tests.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fusebox_engine::Breaker;
use fusebox_fleet::{Fleet, FleetConfig};
use fusebox_registry::Registry;

/// A `redis-server` child process.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one on a free port and waits until it answers.
    pub fn start() -> RedisServer {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut server = RedisServer { port, child: None };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on its port, and waits until it answers.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(binary())
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server ({e}): apt-get install -y redis-server")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer in 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (SIGKILL: no goodbye to clients) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn answers(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        let Ok(mut c) = client.get_connection_with_timeout(Duration::from_millis(200)) else {
            return false;
        };
        redis::cmd("PING").query::<String>(&mut c).is_ok()
    }

    /// A plain connection, for a test to look at or write into the store.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .unwrap()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn binary() -> String {
    std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned())
}

/// Small windows: five calls, half failing, open a breaker; `fleet` set per breaker.
pub const CONFIG: &str = r#"
[defaults]
window = { count = 10 }
min_calls = 5
failure_rate_threshold = 0.5
open_timeout = "30s"

[breakers."pay"]
fleet = "follow"

[breakers."search"]
fleet = "local"

[breakers."db"]
fleet = { quorum = 2 }
"#;

/// An instance: a registry with `CONFIG` and its breakers, connected to the fleet.
pub async fn instance(redis: &RedisServer, namespace: &str, id: &str) -> (Registry, Fleet) {
    instance_with(redis, namespace, id, CONFIG).await
}

pub async fn instance_with(
    redis: &RedisServer,
    namespace: &str,
    id: &str,
    config: &str,
) -> (Registry, Fleet) {
    let registry = Registry::from_toml(config).unwrap();
    for name in ["pay", "search", "db"] {
        registry.breaker(name).unwrap();
    }
    let fleet = Fleet::connect(
        &registry,
        FleetConfig {
            url: redis.url(),
            namespace: namespace.into(),
            instance: id.into(),
        },
    )
    .await
    .unwrap();
    (registry, fleet)
}

/// Fails calls until the breaker opens.
pub fn trip(b: &Breaker) {
    for _ in 0..10 {
        let _ = b.call(|| Err::<(), _>("down"));
    }
    assert_eq!(b.state(), fusebox_engine::State::Open, "{:?}", b.metrics());
}

/// Waits until `done` holds, at most 10 s.
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
