//! A headless Chromium for tests, driven over WebDriver: [`Browser::start`] finds Chromium and
//! chromedriver, starts chromedriver on a free loopback port and opens a session on it with a
//! [fantoccini] client; [`wait_for`] polls a condition with a deadline.
//!
//! Chromium is not optional: when it or chromedriver is missing, [`Browser::start`] fails with
//! a message saying how to install them (`apt-get install -y chromium chromium-driver`), so a
//! test that needs a browser fails rather than passing without one. `CHROMIUM` and
//! `CHROMEDRIVER` name other binaries.
//!
//! The browser runs with `--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage`,
//! a 1200x700 window, and without the background requests Chromium makes on its own (updates,
//! sync, metrics): it reaches only the addresses a test sends it to.
//!
//! A [`Browser`] ends its session and kills chromedriver when it is dropped, also when a test
//! panics; [`Browser::close`] does the same and reports errors.
//!
//! ```no_run
//! use fusebox_test_support::browser::{Browser, fantoccini::Locator, wait_for};
//!
//! # async fn demo() -> Result<(), String> {
//! let browser = Browser::start().await?;
//! let client = browser.client();
//! client.goto("http://127.0.0.1:8080/").await.map_err(|e| e.to_string())?;
//! let title = wait_for("a non-empty title", async || {
//!     let t = client.title().await?;
//!     Ok::<_, fantoccini::error::CmdError>((!t.is_empty()).then_some(t))
//! })
//! .await?;
//! let _ = client.find(Locator::Css("h1")).await;
//! browser.close().await?;
//! # drop(title);
//! # Ok(())
//! # }
//! ```
//!
//! [fantoccini]: https://docs.rs/fantoccini

use std::fmt::Display;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The WebDriver client crate the harness is built on, for its `Locator` and error types.
pub use fantoccini;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Map, Value, json};

/// How long [`wait_for`] waits, and how long starting a browser may take.
pub const WAIT: Duration = Duration::from_secs(20);

/// How often [`wait_for`] checks its condition.
const POLL: Duration = Duration::from_millis(50);

/// The window's size, in CSS pixels.
pub const WINDOW: (u32, u32) = (1200, 700);

/// What to run to get Chromium and chromedriver.
const INSTALL: &str = "install them with `apt-get install -y chromium chromium-driver` \
                       (CI installs them), or name other binaries with CHROMIUM and CHROMEDRIVER";

/// Chromium's flags: headless, runs as root in a container, no background traffic.
const CHROME_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--metrics-recording-only",
    "--hide-scrollbars",
];

/// A headless Chromium session and the chromedriver serving it.
///
/// Dropping it ends the session (Chromium quits) and kills chromedriver.
pub struct Browser {
    client: Client,
    driver: Driver,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("chromedriver", &self.driver.addr)
            .field("session", &self.driver.session)
            .finish_non_exhaustive()
    }
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a headless Chromium session on
    /// it, with a [`WINDOW`]-sized window. Takes a second or two.
    ///
    /// # Errors
    ///
    /// Chromium or chromedriver not found (the message says how to install them), or
    /// chromedriver not answering or refusing the session within [`WAIT`].
    pub async fn start() -> Result<Browser, String> {
        let chromium = find_binary(
            "CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        )
        .ok_or_else(|| format!("Chromium not found: {INSTALL}"))?;
        let chromedriver = find_binary("CHROMEDRIVER", &["chromedriver"])
            .ok_or_else(|| format!("chromedriver not found: {INSTALL}"))?;
        let mut driver = Driver::start(&chromedriver)?;
        let client = driver.connect(&chromium).await?;
        Ok(Browser { client, driver })
    }

    /// The WebDriver client of the session.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Ends the session (Chromium quits) and stops chromedriver.
    ///
    /// # Errors
    ///
    /// The WebDriver error, if ending the session failed; chromedriver is stopped anyway.
    pub async fn close(mut self) -> Result<(), String> {
        let closed = self.client.clone().close().await;
        // Ended: the drop below only kills chromedriver.
        self.driver.session = None;
        closed.map_err(|e| format!("ending the browser session: {e}"))
    }

    /// Runs `script` in the page (as a function body: `return` gives the value) with `args`.
    ///
    /// # Errors
    ///
    /// The WebDriver error, as text.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Result<Value, String> {
        self.client
            .execute(script, args)
            .await
            .map_err(|e| format!("running script in the page: {e}"))
    }
}

/// Polls `check` every 50 ms until it returns `Ok(Some(value))`, for at most [`WAIT`]; errors
/// count as "not yet" (an element may be replaced while it is read).
///
/// # Errors
///
/// A message naming `what`, with `check`'s last error if it had one, once [`WAIT`] has passed.
pub async fn wait_for<T, E: Display>(
    what: &str,
    check: impl AsyncFnMut() -> Result<Option<T>, E>,
) -> Result<T, String> {
    wait_for_within(WAIT, what, check).await
}

/// [`wait_for`] with another deadline.
///
/// # Errors
///
/// As for [`wait_for`], once `timeout` has passed.
pub async fn wait_for_within<T, E: Display>(
    timeout: Duration,
    what: &str,
    mut check: impl AsyncFnMut() -> Result<Option<T>, E>,
) -> Result<T, String> {
    let deadline = Instant::now() + timeout;
    let mut last_error = None;
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(e) => last_error = Some(e.to_string()),
        }
        if Instant::now() >= deadline {
            let last = last_error.map_or(String::new(), |e| format!(" (last error: {e})"));
            return Err(format!(
                "timed out after {timeout:?} waiting for {what}{last}"
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The binary `env` names, or the first of `names` found in `PATH` (or `/usr/bin`).
fn find_binary(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        let path = PathBuf::from(path);
        return is_executable(&path).then_some(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .collect();
    names
        .iter()
        .flat_map(|name| dirs.iter().map(move |dir| dir.join(name)))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// How many ports [`Driver::start`] tries before it gives up.
const PORT_TRIES: u32 = 3;

/// A running chromedriver, killed on drop after its session, if any, is ended.
struct Driver {
    child: Child,
    addr: SocketAddr,
    /// The session to end on drop, if one is open.
    session: Option<String>,
    /// chromedriver's output, for error messages.
    log: PathBuf,
}

impl Driver {
    /// Starts `chromedriver` on a free loopback port and waits until it says it is ready.
    ///
    /// The port is free when picked, but chromedriver binds it a moment later, and another
    /// process (a server of a test running beside this one, binding port 0) may take it in
    /// between. chromedriver then exits, and it is started again on another port, up to
    /// [`PORT_TRIES`] times. Readiness is chromedriver's own `/status`, not a connection to the
    /// port, which that other process would accept too.
    fn start(chromedriver: &Path) -> Result<Driver, String> {
        let mut tries = 1;
        loop {
            match Driver::start_once(chromedriver)? {
                Ok(driver) => return Ok(driver),
                Err(exited) if tries == PORT_TRIES => return Err(exited),
                Err(_) => tries += 1,
            }
        }
    }

    /// One try of [`start`](Self::start): the driver once ready, `Ok(Err(message))` if
    /// chromedriver exited before it was, and `Err` for any other failure.
    fn start_once(chromedriver: &Path) -> Result<Result<Driver, String>, String> {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("picking a free loopback port: {e}"))?
            .port();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let log = std::env::temp_dir().join(format!(
            "fusebox-chromedriver-{}-{port}.log",
            std::process::id()
        ));
        let out =
            std::fs::File::create(&log).map_err(|e| format!("creating {}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("creating {}: {e}", log.display()))?;
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", chromedriver.display()))?;
        let mut driver = Driver {
            child,
            addr,
            session: None,
            log,
        };
        let deadline = Instant::now() + WAIT;
        while !driver.is_ready() {
            if let Ok(Some(status)) = driver.child.try_wait() {
                return Ok(Err(
                    driver.failed(&format!("chromedriver exited ({status})"))
                ));
            }
            if Instant::now() >= deadline {
                return Err(driver.failed(&format!("chromedriver not ready on {addr}")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Ok(driver))
    }

    /// Whether chromedriver answers its `/status` saying it is ready for sessions.
    fn is_ready(&self) -> bool {
        let wait = (Duration::from_millis(200), Duration::from_millis(500));
        let Some(mut stream) = self.send("GET /status", wait) else {
            return false;
        };
        // Up to the close, or what came before the timeout.
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        answer.starts_with("HTTP/1.1 200") && answer.contains("\"ready\":true")
    }

    /// Sends chromedriver `request` (a method and a path) with an empty body, on a connection
    /// of its own that closes after the answer. `wait` bounds the connect and then each read
    /// of the returned stream, which holds the answer; `None` if the request was not sent.
    fn send(&self, request: &str, (connect, read): (Duration, Duration)) -> Option<TcpStream> {
        let mut stream = TcpStream::connect_timeout(&self.addr, connect).ok()?;
        stream.set_read_timeout(Some(read)).ok()?;
        let request = format!(
            "{request} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.addr
        );
        stream.write_all(request.as_bytes()).ok()?;
        Some(stream)
    }

    /// Opens a headless session of `chromium`.
    async fn connect(&mut self, chromium: &Path) -> Result<Client, String> {
        let mut args: Vec<String> = CHROME_ARGS.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--window-size={},{}", WINDOW.0, WINDOW.1));
        let mut caps = Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": args }),
        );
        let url = format!("http://{}", self.addr);
        let connect = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await;
        let client = connect.map_err(|e| self.failed(&format!("opening a session: {e}")))?;
        self.session = client
            .session_id()
            .await
            .map_err(|e| self.failed(&format!("reading the session id: {e}")))?;
        Ok(client)
    }

    /// `what` went wrong: the message, with the end of chromedriver's output.
    fn failed(&self, what: &str) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "{what}; chromedriver's output ({}):\n{}",
            self.log.display(),
            tail.join("\n")
        )
    }

    /// Ends the session with a plain HTTP request (no runtime needed): chromedriver then quits
    /// Chromium.
    fn end_session(&self, session: &str) {
        let wait = (Duration::from_secs(1), Duration::from_secs(5));
        if let Some(mut stream) = self.send(&format!("DELETE /session/{session}"), wait) {
            // Wait for the answer's first bytes: Chromium has quit once they come (chromedriver
            // may keep the connection open after them).
            let _ = stream.read(&mut [0; 512]);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            self.end_session(&session);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
