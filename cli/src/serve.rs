//! `fusebox serve`: a registry hosted from a config file behind the operator endpoint, until a
//! signal stops it.
//!
//! The file is applied as config version 1 (`startup`); a breaker is created for each name it
//! lists, so the endpoint shows them before any traffic. SIGHUP re-reads the file and applies
//! it all or nothing (a bad file is reported and the config in force kept); SIGTERM or Ctrl-C
//! stops the server, letting requests in flight finish. With `--redis`, the registry joins a
//! fleet (see `fusebox::fleet`) once the endpoint listens.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use fusebox::admin::{self, AdminConfig};
use fusebox::fleet::{Fleet, FleetConfig};
use fusebox::policies::RegistryConfig;
use fusebox::{Policy, Registry};
use tokio::signal::unix::{SignalKind, signal};

use crate::demo;
use crate::scenario::Scenario;

/// What `fusebox serve` was asked for.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The registry config file.
    pub config: PathBuf,
    /// Where to listen; port 0 picks a free one.
    pub bind: SocketAddr,
    /// A file holding the admin token.
    pub token_file: Option<PathBuf>,
    /// A file holding the read token.
    pub read_token_file: Option<PathBuf>,
    /// Drive simulated traffic through the breakers.
    pub demo: bool,
    /// Share state with the other instances through this Redis.
    pub redis: Option<String>,
    /// The fleet's namespace in Redis.
    pub namespace: String,
    /// This instance's id in the fleet (default: host and pid).
    pub instance: Option<String>,
}

/// Reads and applies the config file, serves the endpoint, prints `listening on http://ADDR`
/// as the first line on stdout, and runs until SIGTERM or Ctrl-C.
///
/// # Errors
///
/// A one-line reason: an unreadable or invalid config file (`file:line:col: ...`), a token
/// file, a refused address.
pub async fn run(options: ServeOptions) -> Result<(), String> {
    let registry = Registry::new(Policy::default());
    let text = read(&options.config)?;
    let names = apply(&registry, &options.config, &text, "startup")?;
    let mut admin_config = AdminConfig::new();
    if let Some(path) = &options.token_file {
        admin_config = admin_config
            .admin_token_file(path)
            .map_err(|e| format!("--token-file: {e}"))?;
    }
    if let Some(path) = &options.read_token_file {
        admin_config = admin_config
            .read_token_file(path)
            .map_err(|e| format!("--read-token-file: {e}"))?;
    }
    // Listen for signals before announcing the address: a SIGHUP sent right after it is
    // then a reload, never the default action (termination).
    let mut hangups = signal(SignalKind::hangup()).map_err(|e| format!("SIGHUP: {e}"))?;
    let mut terms = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM: {e}"))?;
    let server = admin::serve(&registry, admin_config, options.bind)
        .await
        .map_err(|e| format!("--bind {}: {e}", options.bind))?;
    say(&format!("listening on http://{}", server.local_addr()));
    let fleet = match &options.redis {
        Some(url) => {
            let config = FleetConfig {
                url: url.clone(),
                namespace: options.namespace.clone(),
                instance: options
                    .instance
                    .clone()
                    .unwrap_or_else(FleetConfig::default_instance),
            };
            let fleet = Fleet::connect(&registry, config)
                .await
                .map_err(|e| format!("--redis: {e}"))?;
            say(&format!(
                "fleet: {} in namespace {} at {url}",
                fleet.instance(),
                options.namespace
            ));
            Some(fleet)
        }
        None => None,
    };
    let traffic = if options.demo {
        let names = if names.is_empty() {
            demo::DEMO_BREAKERS
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        } else {
            names
        };
        say(&format!(
            "demo: {} calls/s through each of {}",
            demo::CALLS_PER_SEC,
            names.join(", ")
        ));
        demo::start(&registry, &names, &Scenario::builtin())?
    } else {
        Vec::new()
    };
    loop {
        tokio::select! {
            _ = hangups.recv() => reload(&registry, &options.config),
            _ = terms.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    for task in traffic {
        task.abort();
    }
    drop(fleet);
    server
        .shutdown()
        .await
        .map_err(|e| format!("shutting down: {e}"))?;
    say("stopped");
    Ok(())
}

/// SIGHUP: the file again, all or nothing.
fn reload(registry: &Registry, path: &Path) {
    match read(path).and_then(|text| apply(registry, path, &text, "reload")) {
        Ok(names) => say(&format!(
            "reloaded {} ({} breaker section{})",
            path.display(),
            names.len(),
            if names.len() == 1 { "" } else { "s" }
        )),
        Err(e) => eprintln!("error: reload refused, the config in force is kept: {e}"),
    }
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))
}

/// Applies `text` as a config version and creates a breaker for each section; returns their
/// names.
fn apply(
    registry: &Registry,
    path: &Path,
    text: &str,
    applied_by: &'static str,
) -> Result<Vec<String>, String> {
    let at = |e: &dyn std::fmt::Display| format!("{}:{e}", path.display());
    admin::apply_config(registry, text, applied_by).map_err(|e| at(&e))?;
    let config = RegistryConfig::from_toml_unresolved(text).map_err(|e| at(&e))?;
    let names: Vec<String> = config.breakers().iter().map(|b| b.name.clone()).collect();
    for name in &names {
        registry
            .breaker(name)
            .map_err(|e| format!("{}: {name}: {e}", path.display()))?;
    }
    Ok(names)
}

/// One line on stdout, flushed at once: a supervisor or a test reads it as it comes.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
