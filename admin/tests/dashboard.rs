//! The dashboard page in a real headless Chromium, driven over WebDriver: the endpoint served on
//! a loopback port, a thread making traffic that trips and resets a breaker, and assertions on
//! the page's DOM (its rows, the timeline, the stream status, the token form).
//!
//! Needs Chromium and chromedriver (`apt-get install -y chromium chromium-driver`): without them
//! these tests fail, saying so.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fusebox_admin::{AdminConfig, Server, serve};
use fusebox_engine::State;
use fusebox_registry::Registry;
use fusebox_test_support::browser::fantoccini::Locator;
use fusebox_test_support::browser::{Browser, wait_for};
use serde_json::{Value, json};

const ADMIN: &str = "admin-token-0123456789";
const READ: &str = "read-token-0123456789";

/// No test may take longer, whatever it waits for.
const WHOLE_TEST: Duration = Duration::from_secs(120);

/// Small windows: `db` opens after five failures and stays open until reset.
const CONFIG: &str = r#"
[defaults]
window = { count = 10 }
min_calls = 5
failure_rate_threshold = 0.5
open_timeout = "60s"
"#;

/// How long the traffic keeps `db` open before resetting it: a transition every half second.
const HOLD: Duration = Duration::from_millis(500);

/// The three breakers the tests show.
const BREAKERS: [&str; 3] = ["api", "cache", "db"];

fn registry() -> Registry {
    let registry = Registry::from_toml(CONFIG).unwrap();
    for name in BREAKERS {
        registry.breaker(name).unwrap();
    }
    registry
}

/// Runs `test` for at most [`WHOLE_TEST`].
async fn bounded(test: impl Future<Output = ()>) {
    tokio::time::timeout(WHOLE_TEST, test)
        .await
        .unwrap_or_else(|_| panic!("the test took over {WHOLE_TEST:?}"));
}

/// A thread making calls every 20 ms until dropped (or for a minute at most): `api` succeeds,
/// `cache` fails one call in five (not enough to open it), and `db` fails until it opens, is
/// rejected for `hold`, then is reset through its API.
struct Traffic {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Traffic {
    fn start(registry: &Registry, hold: Duration) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let registry = registry.clone();
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(60);
            let db = registry.get("db").unwrap();
            let mut opened: Option<Instant> = None;
            let mut i = 0u64;
            while !stopped.load(Ordering::Relaxed) && Instant::now() < end {
                i += 1;
                let _ = registry.call("api", || Ok::<_, ()>(()));
                let _ = registry.call(
                    "cache",
                    || if i.is_multiple_of(5) { Err(()) } else { Ok(()) },
                );
                let _ = registry.call("db", || if i.is_multiple_of(7) { Ok(()) } else { Err(()) });
                match (db.state(), opened) {
                    (State::Open, None) => opened = Some(Instant::now()),
                    (State::Open, Some(at)) if at.elapsed() > hold => {
                        db.noted("traffic: recovered").reset();
                        opened = None;
                    }
                    _ => {}
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Traffic {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The page in the browser, and what the tests read from its DOM.
struct Page {
    browser: Browser,
}

impl Page {
    /// Starts the browser and opens the dashboard of `server`.
    async fn open(server: &Server) -> Page {
        let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e}"));
        let url = format!("http://{}/fusebox/", server.local_addr());
        browser.client().goto(&url).await.unwrap();
        Page { browser }
    }

    async fn eval(&self, script: &str, args: Vec<Value>) -> Result<Value, String> {
        self.browser.eval(script, args).await
    }

    /// Waits until `script` returns something other than `null`, `false` or `undefined`.
    async fn until(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        wait_for(what, async || {
            let v = self.eval(script, args.clone()).await?;
            Ok::<_, String>((!v.is_null() && v != Value::Bool(false)).then_some(v))
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The rows' names and states, once every one of [`BREAKERS`] has a row with a state.
    async fn rows(&self) -> Value {
        self.until(
            "a row with a data-state for each breaker",
            "const rows = Array.from(document.querySelectorAll('tr[data-breaker][data-state]'));
             return rows.length === arguments[0]
               ? rows.map((r) => [r.dataset.breaker, r.dataset.state]) : null;",
            vec![json!(BREAKERS.len())],
        )
        .await
    }

    async fn state_of(&self, breaker: &str) -> String {
        let v = self
            .eval(
                "const r = document.querySelector(`tr[data-breaker=\"${arguments[0]}\"]`);
                 return r ? r.dataset.state : null;",
                vec![json!(breaker)],
            )
            .await
            .unwrap();
        v.as_str().unwrap_or_default().to_owned()
    }

    async fn until_live(&self) {
        self.until(
            "#stream-status to say live",
            "return document.getElementById('stream-status').textContent === 'live';",
            vec![],
        )
        .await;
    }

    async fn token_form_shown(&self) -> bool {
        let v = self
            .eval(
                "return !document.getElementById('token-form').hidden;",
                vec![],
            )
            .await
            .unwrap();
        v == Value::Bool(true)
    }

    /// Types `token` into the token form and submits it.
    async fn give_token(&self, token: &str) {
        self.until(
            "#token-form to be shown",
            "return !document.getElementById('token-form').hidden;",
            vec![],
        )
        .await;
        let client = self.browser.client();
        let input = client.find(Locator::Id("token")).await.unwrap();
        assert_eq!(
            input.attr("type").await.unwrap().as_deref(),
            Some("password")
        );
        input.send_keys(token).await.unwrap();
        client
            .find(Locator::Id("token-submit"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Clicks `button` (a class: `force-open`, `reset`) in `breaker`'s row.
    async fn click(&self, breaker: &str, button: &str) {
        let css = format!("tr[data-breaker=\"{breaker}\"] button.{button}");
        let element = self.browser.client().find(Locator::Css(&css)).await;
        element.unwrap().click().await.unwrap();
    }

    /// Types `text` into the input of class `input` in `breaker`'s row.
    async fn type_in(&self, breaker: &str, input: &str, text: &str) {
        let css = format!("tr[data-breaker=\"{breaker}\"] input.{input}");
        let element = self.browser.client().find(Locator::Css(&css)).await;
        element.unwrap().send_keys(text).await.unwrap();
    }

    async fn notice(&self) -> String {
        let v = self
            .eval(
                "return document.getElementById('notice').textContent;",
                vec![],
            )
            .await
            .unwrap();
        v.as_str().unwrap_or_default().to_owned()
    }

    async fn close(self) {
        self.browser.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_each_breaker_and_follows_transitions_live() {
    bounded(async {
        let registry = registry();
        let server = serve(
            &registry,
            AdminConfig::new(),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let traffic = Traffic::start(&registry, HOLD);
        let page = Page::open(&server).await;

        let rows = page.rows().await;
        let names: Vec<&str> = rows
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[0].as_str().unwrap())
            .collect();
        assert_eq!(names, BREAKERS, "one row per breaker, by name");
        assert!(!page.token_form_shown().await, "no token is configured");
        page.until_live().await;

        // `db` trips and is reset every second or so: its row follows, and the timeline gets
        // the transitions as they come over the stream.
        let before = page.state_of("db").await;
        wait_for("db's row to change state", async || {
            let now = page.state_of("db").await;
            Ok::<_, String>((now != before).then_some(()))
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let entry = page
            .until(
                "a transition of db received live in the timeline",
                "const li = document.querySelector(
                   'li.transition[data-breaker=\"db\"][data-live=\"true\"]');
                 return li ? { from: li.dataset.from, to: li.dataset.to, text: li.textContent }
                   : null;",
                vec![],
            )
            .await;
        let (from, to) = (
            entry["from"].as_str().unwrap(),
            entry["to"].as_str().unwrap(),
        );
        assert!(["closed", "open"].contains(&to), "{entry}");
        assert_ne!(from, to, "{entry}");
        assert!(entry["text"].as_str().unwrap().contains(" → "), "{entry}");
        page.until_live().await;

        // The history filled the timeline too, newest first, and the counters are shown.
        let timeline = page
            .eval(
                "return Array.from(document.querySelectorAll('#timeline li.transition'))
                   .map((li) => Number(li.dataset.at));",
                vec![],
            )
            .await
            .unwrap();
        let at: Vec<u64> = timeline
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert!(!at.is_empty() && at.len() <= 50, "{at:?}");
        assert!(at.windows(2).all(|w| w[0] >= w[1]), "newest first: {at:?}");
        let api = page
            .until(
                "api's row to count calls",
                "const r = document.querySelector('tr[data-breaker=\"api\"]');
                 const calls = r.querySelector('td.calls').textContent;
                 return calls.startsWith('0 ') ? null
                   : { calls, state: r.querySelector('.state').textContent,
                       failure: r.children[2].textContent };",
                vec![],
            )
            .await;
        assert_eq!(api["state"], "closed", "{api}");
        assert_eq!(api["failure"], "0.0 %", "{api}");

        // With no token configured, actions are refused, and no token would help.
        page.click("api", "force-open").await;
        page.until(
            "the refusal",
            "return document.getElementById('notice').textContent
               .startsWith('this needs the admin token (no admin token is configured');",
            vec![],
        )
        .await;
        assert!(!page.token_form_shown().await);
        assert_eq!(registry.get("api").unwrap().state(), State::Closed);

        drop(traffic);
        page.close().await;
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tokens_the_page_asks_for_one_and_actions_need_the_admin_token() {
    bounded(async {
        let registry = registry();
        let config = AdminConfig::new()
            .admin_token(ADMIN)
            .unwrap()
            .read_token(READ)
            .unwrap();
        let server = serve(&registry, config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let traffic = Traffic::start(&registry, HOLD);
        let page = Page::open(&server).await;

        // Nothing is shown without a token; a wrong one is said to be wrong.
        page.give_token("not-the-token").await;
        let error = page
            .until(
                "the wrong token to be refused",
                "const e = document.getElementById('token-error').textContent;
                 return e || null;",
                vec![],
            )
            .await;
        assert!(error.as_str().unwrap().contains("refused"), "{error}");
        assert_eq!(
            page.eval(
                "return document.querySelectorAll('tr[data-breaker]').length;",
                vec![]
            )
            .await
            .unwrap(),
            0
        );

        // The read token shows the breakers, live.
        page.give_token(READ).await;
        page.rows().await;
        page.until_live().await;
        assert!(!page.token_form_shown().await);

        // It may not act: the page says the admin token is needed and asks for it.
        let api = registry.get("api").unwrap();
        page.click("api", "force-open").await;
        page.until(
            "the admin-token message",
            "const n = document.getElementById('notice');
             return !n.hidden && n.textContent.includes('this needs the admin token');",
            vec![],
        )
        .await;
        assert!(page.token_form_shown().await, "{}", page.notice().await);
        assert_eq!(api.state(), State::Closed);

        // With the admin token, it does.
        page.give_token(ADMIN).await;
        page.until_live().await;
        page.type_in("api", "note", "maintenance").await;
        page.type_in("api", "ttl", "10m").await;
        page.click("api", "force-open").await;
        page.until(
            "api's row to be forced open",
            "const r = document.querySelector('tr[data-breaker=\"api\"]');
             return r.dataset.state === 'forced_open'
               && r.querySelector('.state').textContent === 'forced_open';",
            vec![],
        )
        .await;
        assert_eq!(api.state(), State::ForcedOpen);
        assert_eq!(
            api.history().last().unwrap().note.as_deref(),
            Some("admin: maintenance")
        );
        page.until(
            "the forced opening in the timeline",
            "return document.querySelector(
               'li.transition[data-breaker=\"api\"][data-to=\"forced_open\"]') !== null;",
            vec![],
        )
        .await;

        drop(traffic);
        page.close().await;
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_reconnects_when_the_stream_ends() {
    bounded(async {
        let registry = registry();
        let addr = "127.0.0.1:0".parse().unwrap();
        let server = serve(&registry, AdminConfig::new(), addr).await.unwrap();
        let addr = server.local_addr();
        let page = Page::open(&server).await;
        page.rows().await;
        page.until_live().await;

        // The server goes away: the stream ends and the page retries, with a delay.
        server.shutdown().await.unwrap();
        page.until(
            "#stream-status to say it reconnects",
            "return document.getElementById('stream-status').textContent
               .startsWith('reconnecting in ');",
            vec![],
        )
        .await;

        // Back on the same port: live again, and a transition made now shows.
        let server = serve(&registry, AdminConfig::new(), addr).await.unwrap();
        page.until_live().await;
        registry
            .get("cache")
            .unwrap()
            .noted("oncall: back")
            .disable();
        page.until(
            "cache's row disabled and the transition in the timeline",
            "const r = document.querySelector('tr[data-breaker=\"cache\"]');
             const li = document.querySelector(
               'li.transition[data-breaker=\"cache\"][data-to=\"disabled\"]');
             return r.dataset.state === 'disabled' && li !== null
               && li.querySelector('.note').textContent === 'oncall: back';",
            vec![],
        )
        .await;

        page.close().await;
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_tokens_past_the_limit_say_when_to_retry() {
    bounded(async {
        let registry = registry();
        let config = AdminConfig::new().read_token(READ).unwrap();
        let server = serve(&registry, config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let page = Page::open(&server).await;
        // Each wrong token is refused (two requests, the list and the stream) until the
        // failed-attempt limit answers 429. The form is filled and submitted by script here,
        // faster than the limit refills (typing is what the other tests do).
        let message = page
            .until(
                "the page to say when to retry",
                "const notice = document.getElementById('notice').textContent;
                 if (notice.startsWith('too many attempts, retry in ')) return notice;
                 const form = document.getElementById('token-form');
                 if (!form.hidden) {
                   document.getElementById('token').value = 'not-the-token';
                   form.requestSubmit();
                 }
                 return null;",
                vec![],
            )
            .await;
        let message = message.as_str().unwrap();
        assert!(message.ends_with(" s"), "{message}");
        // Once the wait is over, the page asks again.
        page.until(
            "the token form after the wait",
            "return document.getElementById('notice').hidden
               && !document.getElementById('token-form').hidden;",
            vec![],
        )
        .await;
        server.shutdown().await.unwrap();
        page.close().await;
    })
    .await;
}

/// Writes `docs/dashboard.png`: the page with live data, as the README shows it. Run with
/// `cargo test -p fusebox-admin --test dashboard -- --ignored screenshot`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/dashboard.png; run by hand when the page changes"]
async fn screenshot() {
    bounded(async {
        let registry = registry();
        for name in ["pay.stripe", "search"] {
            registry.breaker(name).unwrap();
        }
        let server = serve(
            &registry,
            AdminConfig::new(),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let stripe = registry.get("pay.stripe").unwrap();
        let traffic = Traffic::start(&registry, Duration::from_millis(2500));
        for i in 0..40 {
            let _ = registry.call("pay.stripe", || if i % 9 == 0 { Err(()) } else { Ok(()) });
        }
        let search = registry.get("search").unwrap();
        search.noted("oncall: reindexing").metrics_only();
        let page = Page::open(&server).await;
        page.until(
            "five rows",
            "return document.querySelectorAll('tr[data-breaker][data-state]').length === 5;",
            vec![],
        )
        .await;
        page.until_live().await;
        stripe.noted("oncall: provider incident #4711").force_open();
        // A trip and a reset of db, and db open at the moment of the picture, a second into
        // its countdown.
        tokio::time::sleep(Duration::from_secs(3)).await;
        wait_for("db open", async || {
            Ok::<_, String>((page.state_of("db").await == "open").then_some(()))
        })
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let png = page.browser.client().screenshot().await.unwrap();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/dashboard.png");
        std::fs::write(path, png).unwrap();
        drop(traffic);
        page.close().await;
        server.shutdown().await.unwrap();
    })
    .await;
}
