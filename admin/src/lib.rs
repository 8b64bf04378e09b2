//! The fusebox operator endpoint: an [axum] [`Router`] to inspect and steer a
//! [`Registry`]'s breakers over HTTP, with bearer-token auth.
//!
//! Mount [`router`] in your own axum app, or run it alone with [`serve`].
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use fusebox_admin::AdminConfig;
//! use fusebox_registry::Registry;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = Registry::new(fusebox_engine::Policy::default());
//! let admin = AdminConfig::new()
//!     .admin_token_file("/run/secrets/fusebox-admin")?
//!     .read_token_file("/run/secrets/fusebox-read")?
//!     .critical(["pay.stripe"]);
//! let app = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .merge(fusebox_admin::router(&registry, admin));
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Routes
//!
//! | route | does |
//! |---|---|
//! | `GET /fusebox/` | the dashboard: one self-contained HTML page (no external asset) with a row per breaker (state, rates, calls, rejections, open time left), the recent transitions live from the events stream, and force-open and reset buttons; served without a token (it holds no data). `GET /fusebox` redirects to it |
//! | `GET /fusebox/breakers` | `{"breakers": [...]}`: each breaker's `name`, `state`, `failure_rate`, `slow_call_rate`, `window_calls`, `calls` (`success`, `failure`, `ignored`), `rejected`, `open_remaining_ms`, `policy_source` |
//! | `GET /fusebox/breakers/{name}` | the same object plus `policy` (TOML) and `history` (`from`, `to`, `reason`, `at_ms`, `note`, `window`); 404 for an unknown breaker |
//! | `POST /fusebox/breakers/{name}/{action}` | `force-open`, `disable`, `metrics-only` or `reset`; body `{"note": "...", "ttl": "10m", "scope": "fleet"}`, all optional |
//! | `POST /fusebox/breakers/{name}/chaos-off` | switches the breaker's `chaos` off ([`Registry::chaos_off`]): answers the breaker's view (as `GET /fusebox/breakers/{name}`); body `{"note": "..."}`, optional; 404 for an unknown breaker, 409 when it runs without chaos |
//! | `POST /fusebox/groups/{prefix}/{action}` | the same for `prefix` and every `prefix.*` breaker; 404 if there is none |
//! | `GET /fusebox/config` | the config in force as a registry config file (TOML) |
//! | `PUT /fusebox/config` | applies a whole file, all or nothing: 200 `{"version": n}` or 422 `{"errors": ["line:col: section: field: reason"]}` |
//! | `GET /fusebox/config/versions` | the last [`MAX_VERSIONS`] files applied: `version`, `applied_at_ms` (Unix), `applied_by` (the token's role), `rollback_of`, `config` |
//! | `POST /fusebox/config/rollback/{version}` | applies a kept version again, as a new version |
//! | `GET /fusebox/events` | Server-Sent Events: one `transition` event per transition (`breaker`, `from`, `to`, `reason`, `at_ms`, `note`) |
//! | `GET /fusebox/health` | 200, or 503 while a critical breaker ([`AdminConfig::critical`]) is open or forced open; the body names them |
//! | `GET /fusebox/recording` | the calls recorded since the last drain ([`Registry::drain_recording`]), as JSON Lines (`application/x-ndjson`), emptying the buffer; 409 when no recording is configured (no `[record]` table) |
//! | `GET /metrics` | [`Registry::render_prometheus`], `text/plain; version=0.0.4` |
//!
//! States and reasons are the snake_case labels (`forced_open`, `failure_rate`).
//! `at_ms` is the breaker's clock time of the transition.
//!
//! # Actions
//!
//! An action is audited: the breaker's history gets the note `"<role>: <note>"` (`"admin"`
//! with no note). With a `ttl`, the breaker resets itself when it expires (noted
//! `"ttl expired"`): a maintenance window. A later action on the same breaker cancels the
//! pending reset. A ttl needs a tokio runtime (the handlers' own) and is not kept across
//! restarts. With `"scope": "fleet"` the action goes to the registry's fleet sync
//! ([`Registry::fleet_scope`]), which applies it on every instance of the service, including
//! ones started later; without a fleet sync connected that is a 503. A malformed body, an unknown action or field, or a bad ttl is a 400 with
//! `{"error": "..."}`; a body over [`MAX_BODY_BYTES`] a 413.
//!
//! # Chaos
//!
//! `POST /fusebox/breakers/{name}/chaos-off` ends a chaos experiment on one breaker at once:
//! the breaker runs its policy without `chaos` from then on, keeping its state and counters,
//! and its history gets an entry with the reason `chaos_off` and the audit note, as an
//! action does. It holds across config reloads (`PUT /fusebox/config`, a rollback,
//! [`apply_config`]) that set the same chaos for the breaker, so re-applying the file that
//! started the experiment does not start it again; a file that sets different chaos for it
//! (another seed, rate or `until`) starts that new experiment. `GET /fusebox/config` still
//! shows the chaos as configured; the breaker's view shows the policy it runs with. There is
//! no route to switch chaos back on: configure a new experiment.
//!
//! # Auth
//!
//! `Authorization: Bearer <token>`. The admin token may do everything, the read token only
//! `GET`. Once a token is configured every route needs one: missing or wrong, 401; the read
//! token on a mutation, 403. With no token configured, `GET`s are open, mutations are refused
//! (403) and [`serve`] binds only loopback addresses. Tokens are compared by SHA-256 digest,
//! in constant time. Wrong tokens are rate-limited by a fusebox breaker's rate limit (10 a
//! second): past it, every request with a token, right or wrong, is answered 429 until its
//! `Retry-After`. A request with no token is a 401 and is not counted.
//!
//! The dashboard page asks for a token when the endpoint answers 401 (the read token to look,
//! the admin token once an action is refused with 403), keeps it in the tab's
//! `sessionStorage` and sends it as `Authorization: Bearer`; its `Content-Security-Policy`
//! lets it run only its own inline script and style and connect only to its own origin.
//!
//! [axum]: https://docs.rs/axum
//! [`Registry`]: fusebox_registry::Registry
//! [`Registry::render_prometheus`]: fusebox_registry::Registry::render_prometheus
//! [`Registry::drain_recording`]: fusebox_registry::Registry::drain_recording
//! [`Registry::chaos_off`]: fusebox_registry::Registry::chaos_off
//! [`Registry::fleet_scope`]: fusebox_registry::Registry::fleet_scope

mod actions;
mod auth;
mod config;
mod error;
mod json;
mod notify;
mod routes;
mod serve;
mod settings;
mod state;
mod versions;

use axum::Router;
use fusebox_registry::{ConfigError, Registry};

pub use config::AdminConfig;
pub use error::Error;
pub use notify::NOTIFY_QUEUE;
pub use serve::{Server, serve};
pub use versions::MAX_VERSIONS;

/// The largest request body accepted, in bytes (1 MiB): a larger one is answered 413.
///
/// ```
/// assert_eq!(fusebox_admin::MAX_BODY_BYTES, 1 << 20);
/// ```
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The endpoint's routes on `registry`, secured as `config` says, to merge into an axum app
/// (see the [crate docs](crate) for the routes). Its paths are absolute: `/fusebox/...` and
/// `/metrics`. Each router has its own failed-attempt limit; config versions and pending ttl
/// resets belong to the registry, shared by every router on it.
///
/// # Examples
///
/// ```
/// use axum::Router;
/// use fusebox_admin::{AdminConfig, router};
/// use fusebox_registry::Registry;
///
/// let registry = Registry::new(fusebox_engine::Policy::default());
/// let app: Router = Router::new().merge(router(&registry, AdminConfig::new().admin_token("t0ken")?));
/// # drop(app);
/// # Ok::<(), fusebox_admin::Error>(())
/// ```
pub fn router(registry: &Registry, config: AdminConfig) -> Router {
    routes::all(state::AppState::new(registry, &config))
}

/// Applies a registry config file to `registry` as `PUT /fusebox/config` does, all or
/// nothing, and keeps it as a config version applied by `applied_by` (e.g. `"startup"` for
/// the file a service starts from, `"reload"` for one re-read on a signal); returns its
/// version number. Its `[health] critical` list and `[notify]` and `[record]` tables take
/// effect with it.
///
/// A service that reads its registry's config file itself should apply it through this, so
/// that `GET /fusebox/config/versions` lists it and an operator can roll back to it.
///
/// # Errors
///
/// The file's first problem ([`ConfigError`]): nothing is applied.
///
/// # Examples
///
/// ```
/// use fusebox_registry::Registry;
/// let registry = Registry::new(fusebox_engine::Policy::default());
/// let text = "[breakers.\"db\"]\nmin_calls = 4\n\n[health]\ncritical = [\"db\"]\n";
/// assert_eq!(fusebox_admin::apply_config(&registry, text, "startup")?, 1);
/// assert_eq!(registry.resolved_policy("db")?.min_calls(), 4);
/// assert!(fusebox_admin::apply_config(&registry, "min_calls = 0", "reload").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn apply_config(
    registry: &Registry,
    text: &str,
    applied_by: &'static str,
) -> Result<u64, ConfigError> {
    versions::Versions::of(registry).apply(registry, text.to_owned(), applied_by)
}
