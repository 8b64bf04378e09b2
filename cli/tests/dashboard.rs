//! `fusebox serve --demo` in a real headless Chromium: the dashboard shows the demo's
//! breakers and follows their states as the simulated outage trips and recovers them.
//!
//! Needs Chromium and chromedriver (`bash .ci/setup` installs them): without them this test
//! fails, saying so.

mod common;

use std::time::Duration;

use common::{Served, scratch};
use fusebox_test_support::browser::{Browser, wait_for_within};
use serde_json::Value;

/// The demo's breakers, with no names in the config file.
const DEMO: [&str; 3] = ["pay.stripe", "pay.adyen", "search.api"];

/// Runs `script` until it returns something other than `null` or `false`, for at most `within`.
async fn until(browser: &Browser, within: Duration, what: &str, script: &str) -> Value {
    wait_for_within(within, what, async || {
        let v = browser.eval(script, vec![]).await?;
        Ok::<_, String>((!v.is_null() && v != Value::Bool(false)).then_some(v))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The rows as `[name, state]` pairs, once all three have a state.
const ROWS: &str =
    "const rows = Array.from(document.querySelectorAll('tr[data-breaker][data-state]'));
    return rows.length === 3 ? rows.map((r) => [r.dataset.breaker, r.dataset.state]) : null;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_of_serve_demo_shows_breakers_whose_states_change() {
    let dir = scratch("dashboard-demo");
    let config = dir.join("fusebox.toml");
    std::fs::write(
        &config,
        "[defaults]\nmin_calls = 20\nopen_timeout = \"2s\"\n",
    )
    .unwrap();
    let served = Served::start(&[config.to_str().unwrap(), "--demo"]);
    assert!(served.next_line().starts_with("demo: 50 calls/s"));

    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e}"));
    browser
        .client()
        .goto(&format!("{}/fusebox/", served.url))
        .await
        .unwrap();
    let rows = until(&browser, Duration::from_secs(20), "three rows", ROWS).await;
    let mut names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap())
        .collect();
    names.sort_unstable();
    let mut expected = DEMO.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected);
    until(
        &browser,
        Duration::from_secs(20),
        "the event stream to be live",
        "return document.getElementById('stream-status').textContent === 'live';",
    )
    .await;

    // The demo puts one breaker in the outage from the start: it opens, and the page says so
    // both in its row and in the timeline, from the live stream.
    let opened = until(
        &browser,
        Duration::from_secs(40),
        "a row to show a breaker open",
        "const r = document.querySelector('tr[data-state=\"open\"]');
         return r ? r.dataset.breaker : null;",
    )
    .await;
    let opened = opened.as_str().unwrap().to_owned();
    until(
        &browser,
        Duration::from_secs(20),
        "the timeline to show it opening",
        &format!(
            "return document.querySelector('li.transition[data-breaker=\"{opened}\"][data-to=\"open\"]') !== null;"
        ),
    )
    .await;
    // And it moves on: after the 2 s open period it probes (half-open), so its row changes.
    until(
        &browser,
        Duration::from_secs(40),
        "the open breaker's row to change state",
        &format!(
            "const r = document.querySelector('tr[data-breaker=\"{opened}\"]');
             return r && r.dataset.state !== 'open';"
        ),
    )
    .await;
    browser.close().await.unwrap();
}
