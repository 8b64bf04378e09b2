//! How long a trip on one instance takes to open the same breaker on another, through a real
//! `redis-server` on loopback: `cargo run --release -p fusebox-fleet --example propagation
//! [TRIPS]` (default 200). Starts its own `redis-server` on a free port and stops it.
//!
//! Each round trips a fresh breaker on instance A (its window judged on the failing call) and
//! times until instance B's event stream delivers the same breaker's `Open` with reason
//! `fleet`. Prints p50, p90, p99 and max.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fusebox_engine::{State, TransitionReason};
use fusebox_fleet::{Fleet, FleetConfig};
use fusebox_registry::Registry;
use futures_util::StreamExt;

const CONFIG: &str = r#"
[defaults]
window = { count = 10 }
min_calls = 5
failure_rate_threshold = 0.5
open_timeout = "60s"
fleet = "follow"
"#;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis() -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server (apt-get install -y redis-server)");
    let url = format!("redis://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let up = redis::Client::open(url.as_str())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_ok();
        if up {
            break;
        }
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (Server(child), url)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let trips: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(200);
    let (_server, url) = start_redis();
    let config = |instance: &str| FleetConfig {
        url: url.clone(),
        namespace: "propagation".into(),
        instance: instance.into(),
    };
    let a = Registry::from_toml(CONFIG)?;
    let b = Registry::from_toml(CONFIG)?;
    let names: Vec<String> = (0..trips).map(|i| format!("svc.{i}")).collect();
    for name in &names {
        a.breaker(name)?;
        b.breaker(name)?;
    }
    let _fa = Fleet::connect(&a, config("a")).await?;
    let _fb = Fleet::connect(&b, config("b")).await?;
    let mut followed = b.subscribe_stream();

    let mut times = Vec::with_capacity(trips);
    for name in &names {
        let breaker = a.get(name).ok_or("breaker")?;
        let start = Instant::now();
        for _ in 0..5 {
            let _ = breaker.call(|| Err::<(), _>("down"));
        }
        assert_eq!(breaker.state(), State::Open);
        loop {
            let t = tokio::time::timeout(Duration::from_secs(5), followed.next())
                .await?
                .ok_or("stream ended")?;
            if &*t.breaker == name.as_str() && t.reason == TransitionReason::Fleet {
                break;
            }
        }
        times.push(start.elapsed());
    }
    times.sort_unstable();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    println!(
        "{trips} trips, A -> Redis -> B, loopback: p50 {:?}  p90 {:?}  p99 {:?}  max {:?}",
        at(0.50),
        at(0.90),
        at(0.99),
        times[times.len() - 1]
    );
    Ok(())
}
