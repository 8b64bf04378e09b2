//! `Registry::run` and `Registry::failover` (feature `tokio`) on paused tokio time.
#![cfg(feature = "tokio")]

use std::time::Duration;

use fusebox_engine::{Policy, RejectReason, Retry, RunError, TokioClock};
use fusebox_registry::Registry;

fn registry() -> Registry {
    Registry::with_clock(Policy::default(), TokioClock::new())
}

#[tokio::test(start_paused = true)]
async fn run_uses_the_policy_of_the_name() {
    let registry = registry();
    registry
        .apply_toml(
            "[breakers.\"inventory\"]\ntimeout = \"50ms\"\nretry = { max_attempts = 2, backoff = \"constant\", base = \"10ms\", max = \"10ms\", budget = 0.5 }\n",
        )
        .unwrap();
    let r = registry
        .run("inventory.eu", || async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, ()>(())
        })
        .await;
    assert!(
        matches!(r, Err(RunError::TimedOut { attempts: 2 })),
        "{r:?}"
    );
    let b = registry.get("inventory.eu").unwrap();
    assert_eq!(b.metrics().failures_of_kind("timeout"), 2);
}

#[tokio::test(start_paused = true)]
async fn run_refuses_a_bad_name_and_rejects_when_a_dependency_is_open() {
    let registry = registry();
    let r = registry.run("bad name", || async { Ok::<_, ()>(()) }).await;
    let Err(RunError::Refused(reason)) = r else {
        panic!("not refused: {r:?}");
    };
    assert!(reason.to_string().contains("bad name"), "{reason}");

    registry.depend("checkout", "payments").unwrap();
    registry.breaker("payments").unwrap().force_open();
    let r = registry.run("checkout", || async { Ok::<_, ()>(()) }).await;
    let Err(RunError::Rejected {
        rejected,
        attempts: 0,
    }) = r
    else {
        panic!("not rejected: {r:?}");
    };
    assert_eq!(
        (rejected.breaker(), rejected.reason()),
        ("payments", RejectReason::ForcedOpen)
    );
}

#[tokio::test(start_paused = true)]
async fn failover_skips_rejections_and_reports_every_dependency() {
    let registry = registry();
    registry
        .set_policy(
            "payments",
            Policy::builder().retry(Retry::new(2)).build().unwrap(),
        )
        .unwrap();
    registry.breaker("payments.stripe").unwrap().force_open();
    let mut called = Vec::new();
    let r = registry
        .failover(
            &["payments.stripe", "payments.adyen", "payments.braintree"],
            |name| {
                called.push(name.to_owned());
                let ok = name == "payments.braintree";
                async move { if ok { Ok("charged") } else { Err("declined") } }
            },
        )
        .await;
    assert_eq!(r.unwrap(), "charged");
    // adyen was tried twice (its policy retries once); stripe, open, not at all.
    assert_eq!(
        called,
        ["payments.adyen", "payments.adyen", "payments.braintree"]
    );

    let e = registry
        .failover(&["payments.stripe", "payments.adyen"], |_| async {
            Err::<(), _>("down")
        })
        .await
        .unwrap_err();
    let tried: Vec<_> = e
        .tried()
        .iter()
        .map(|(n, e)| (n.as_str(), e.attempts()))
        .collect();
    assert_eq!(tried, [("payments.stripe", 0), ("payments.adyen", 2)]);
}
