//! Fleet state against a real `redis-server`: two and three registries in one process as
//! instances of one service: follow, quorum (and a crashed member's expiry), local,
//! fleet-scoped overrides and a late joiner, own and malformed messages, and Redis killed
//! and restarted mid-run.

mod common;

use std::time::Duration;

use common::{RedisServer, eventually, instance, instance_with, trip};
use fusebox_engine::{State, TransitionReason};
use fusebox_registry::{FleetOverride, ManualAction};

fn last_reason(b: &fusebox_engine::Breaker) -> Option<TransitionReason> {
    b.history().last().map(|t| t.reason)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_opens_here_for_the_others_remaining_period_and_local_ignores_it() {
    let redis = RedisServer::start();
    let (a, _fa) = instance(&redis, "follow", "a").await;
    let (b, fb) = instance(&redis, "follow", "b").await;

    trip(&a.get("pay").unwrap());
    let pay_b = b.get("pay").unwrap();
    eventually("b's pay to follow", || pay_b.state() == State::Open).await;
    assert_eq!(last_reason(&pay_b), Some(TransitionReason::Fleet));
    let left = pay_b.open_remaining().unwrap();
    assert!(
        left <= Duration::from_secs(30) && left > Duration::from_secs(25),
        "{left:?}"
    );
    assert_eq!(fb.stats().followed, 1);

    // `search` is local: b never follows it.
    trip(&a.get("search").unwrap());
    eventually("b to receive search's opening", || fb.stats().received >= 2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(b.get("search").unwrap().state(), State::Closed);

    // b's following is not followed back, and a's own message is ignored by a.
    assert_eq!(a.get("pay").unwrap().history().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_needs_that_many_instances_open_at_once() {
    let redis = RedisServer::start();
    let (a, _fa) = instance(&redis, "quorum", "a").await;
    let (b, _fb) = instance(&redis, "quorum", "b").await;
    let (c, fc) = instance(&redis, "quorum", "c").await;

    trip(&a.get("db").unwrap());
    eventually("c to hear of a", || fc.stats().received >= 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(c.get("db").unwrap().state(), State::Closed, "one of two");

    trip(&b.get("db").unwrap());
    let db_c = c.get("db").unwrap();
    eventually("c to open on the quorum", || db_c.state() == State::Open).await;
    assert_eq!(last_reason(&db_c), Some(TransitionReason::Fleet));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_members_open_entry_expires_with_its_period() {
    let redis = RedisServer::start();
    let short = common::CONFIG.replace("open_timeout = \"30s\"", "open_timeout = \"300ms\"");
    let (a, fa) = instance_with(&redis, "crash", "a", &short).await;
    let (b, _fb) = instance_with(&redis, "crash", "b", &short).await;
    let (c, fc) = instance_with(&redis, "crash", "c", &short).await;
    trip(&a.get("db").unwrap());
    eventually("c to hear of a", || fc.stats().received >= 1).await;
    // a "crashes" while open: its sync stops, it never says its period ended.
    drop(fa);
    drop(a);
    tokio::time::sleep(Duration::from_millis(600)).await;
    trip(&b.get("db").unwrap());
    eventually("c to hear of b", || fc.stats().received >= 2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        c.get("db").unwrap().state(),
        State::Closed,
        "a no longer counts"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_overrides_reach_every_instance_and_a_late_joiner() {
    let redis = RedisServer::start();
    let (a, _fa) = instance(&redis, "overrides", "a").await;
    let (b, _fb) = instance(&redis, "overrides", "b").await;
    let scope = a.fleet_scope().expect("the fleet installed itself");
    scope
        .submit(FleetOverride {
            name: "search".into(),
            group: false,
            action: ManualAction::ForceOpen,
            ttl: Some(Duration::from_secs(600)),
            note: "admin: provider maintenance".into(),
        })
        .await
        .unwrap();
    assert_eq!(a.get("search").unwrap().state(), State::ForcedOpen);
    let search_b = b.get("search").unwrap();
    eventually("b to force search open", || {
        search_b.state() == State::ForcedOpen
    })
    .await;
    let note = search_b.history().last().unwrap().note.clone().unwrap();
    assert_eq!(&*note, "admin: provider maintenance (fleet, from a)");

    // Stored with its ttl, so an instance that starts now applies it too.
    let ttl: i64 = redis::cmd("PTTL")
        .arg("fusebox:overrides:override:breaker:search")
        .query(&mut redis.connection())
        .unwrap();
    assert!(ttl > 590_000 && ttl <= 600_000, "{ttl}");
    let (late, _fl) = instance(&redis, "overrides", "late").await;
    assert_eq!(late.get("search").unwrap().state(), State::ForcedOpen);

    // A fleet reset clears it everywhere and from the store.
    scope
        .submit(FleetOverride {
            name: "search".into(),
            group: false,
            action: ManualAction::Reset,
            ttl: None,
            note: "admin: done".into(),
        })
        .await
        .unwrap();
    let search_late = late.get("search").unwrap();
    eventually("the reset everywhere", || {
        search_b.state() == State::Closed && search_late.state() == State::Closed
    })
    .await;
    let (later, _fl2) = instance(&redis, "overrides", "later").await;
    assert_eq!(later.get("search").unwrap().state(), State::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_own_messages_are_counted_and_dropped() {
    let redis = RedisServer::start();
    let (a, fa) = instance(&redis, "junk", "a").await;
    let mut raw = redis.connection();
    for junk in [
        "{",
        r#"{"instance":"x","breaker":"pay..x","from":"closed","to":"open","reason":"failure_rate","at_ms":1,"open_remaining_ms":1000,"note":null}"#,
        r#"{"instance":"x","breaker":"pay","from":"closed","to":"ajar","reason":"failure_rate","at_ms":1,"open_remaining_ms":1000,"note":null}"#,
    ] {
        let _: i64 = redis::cmd("PUBLISH")
            .arg("fusebox:junk:transitions")
            .arg(junk)
            .query(&mut raw)
            .unwrap();
    }
    let _: i64 = redis::cmd("PUBLISH")
        .arg("fusebox:junk:overrides")
        .arg(r#"{"instance":"x","name":"pay","group":false,"action":"explode","ttl_ms":null,"note":"n","at_ms":1}"#)
        .query(&mut raw)
        .unwrap();
    eventually("four malformed", || fa.stats().malformed == 4).await;
    assert_eq!(a.get("pay").unwrap().state(), State::Closed);
    trip(&a.get("pay").unwrap());
    eventually("its own message back", || fa.stats().own_ignored == 1).await;
    assert_eq!(fa.stats().followed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_local_decisions_go_on_and_the_fleet_resyncs() {
    let mut redis = RedisServer::start();
    let (a, fa) = instance(&redis, "outage", "a").await;
    let (b, fb) = instance(&redis, "outage", "b").await;

    redis.kill();
    eventually("a to notice", || !fa.stats().connected).await;
    // Decisions stay local and immediate: a trips and rejects without Redis.
    let pay_a = a.get("pay").unwrap();
    trip(&pay_a);
    assert!(pay_a.try_acquire().is_err());
    eventually("the transition to wait in the backlog", || {
        fa.stats().backlog >= 1
    })
    .await;
    assert_eq!(b.get("pay").unwrap().state(), State::Closed);

    redis.restart();
    let pay_b = b.get("pay").unwrap();
    eventually("b to follow once Redis is back", || {
        pay_b.state() == State::Open
    })
    .await;
    assert_eq!(last_reason(&pay_b), Some(TransitionReason::Fleet));
    eventually("both to reconnect", || {
        fa.stats().connected && fb.stats().connected && fa.stats().reconnects >= 1
    })
    .await;
    assert_eq!(fa.stats().backlog, 0);
    assert_eq!(fa.stats().backlog_dropped, 0);
}
