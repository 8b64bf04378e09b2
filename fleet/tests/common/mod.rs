//! What the fleet tests share: instances on a real `redis-server`, tripping, waiting.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use fusebox_engine::Breaker;
use fusebox_fleet::{Fleet, FleetConfig};
use fusebox_registry::Registry;
pub use fusebox_test_support::redis_server::RedisServer;

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
