//! The commands that talk to a live operator endpoint: `status`, the manual actions
//! (`force-open`, `disable`, `metrics-only`, `reset`) and `apply`.
//!
//! Every failure is one line that says what went wrong: a malformed URL, a server that does
//! not answer, a token refused (401/403), rate-limited (429), an unknown breaker (404), or a
//! config file refused (422, each problem as `file:line:col: section: field: reason`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// How long a request may take before the command gives up.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the endpoint is and which token to present.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The base URL, e.g. `http://127.0.0.1:9000`.
    pub url: String,
    /// A file holding the token (admin for actions and `apply`, read or admin for `status`).
    pub token_file: Option<PathBuf>,
}

/// A manual action on one breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Reject every call until reset.
    ForceOpen,
    /// Admit every call, record nothing.
    Disable,
    /// Admit every call, record outcomes.
    MetricsOnly,
    /// Back to closed, window emptied.
    Reset,
}

impl Action {
    /// The action's name in the endpoint's path.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ForceOpen => "force-open",
            Action::Disable => "disable",
            Action::MetricsOnly => "metrics-only",
            Action::Reset => "reset",
        }
    }
}

impl Endpoint {
    /// `GET /fusebox/breakers`, as a table.
    ///
    /// # Errors
    ///
    /// A one-line reason (see the module docs).
    pub async fn status(&self) -> Result<String, String> {
        let body = self
            .send(Method::GET, "/fusebox/breakers", None)
            .await
            .map_err(|e| e.line(&self.url))?;
        Ok(status_table(&body))
    }

    /// `POST /fusebox/breakers/{name}/{action}` with the note and ttl (and `"scope": "fleet"`
    /// with `fleet`: every instance of the fleet); answers the breaker's state after it.
    ///
    /// # Errors
    ///
    /// A one-line reason (see the module docs).
    pub async fn act(
        &self,
        name: &str,
        action: Action,
        ttl: Option<&str>,
        note: Option<&str>,
        fleet: bool,
    ) -> Result<String, String> {
        let mut body = serde_json::Map::new();
        if fleet {
            body.insert("scope".into(), json!("fleet"));
        }
        if let Some(ttl) = ttl {
            body.insert("ttl".into(), json!(ttl));
        }
        if let Some(note) = note {
            body.insert("note".into(), json!(note));
        }
        let path = format!(
            "/fusebox/breakers/{}/{}",
            path_segment(name),
            action.as_str()
        );
        let answer = self
            .send(Method::POST, &path, Some(Value::Object(body).to_string()))
            .await
            .map_err(|e| e.line(&self.url))?;
        let state = answer["state"].as_str().unwrap_or("?");
        let everywhere = if fleet { ", on every instance" } else { "" };
        Ok(match ttl {
            Some(ttl) => format!("{name}: {state}{everywhere} (resets itself in {ttl})\n"),
            None => format!("{name}: {state}{everywhere}\n"),
        })
    }

    /// `PUT /fusebox/config` with the file at `path`: `(report, applied)`, where a refused
    /// file's report is one `file:line:col: section: field: reason` line per problem.
    ///
    /// # Errors
    ///
    /// A one-line reason when the file could not be sent or the endpoint refused the request.
    pub async fn apply(&self, path: &Path) -> Result<(String, bool), String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        match self.send(Method::PUT, "/fusebox/config", Some(text)).await {
            Ok(answer) => Ok((
                format!(
                    "{}: applied as config version {}\n",
                    path.display(),
                    answer["version"]
                ),
                true,
            )),
            Err(Refusal::Config(errors)) => Ok((
                errors
                    .iter()
                    .map(|e| format!("{}:{e}\n", path.display()))
                    .collect(),
                false,
            )),
            Err(e) => Err(e.line(&self.url)),
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Value, Refusal> {
        let base = self.url.trim_end_matches('/');
        let url = reqwest::Url::parse(&format!("{base}{path}"))
            .map_err(|e| Refusal::Other(format!("--url {:?}: not a URL: {e}", self.url)))?;
        if url.scheme() != "http" {
            return Err(Refusal::Other(format!(
                "--url {:?}: must start with http://",
                self.url
            )));
        }
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| Refusal::Other(format!("cannot start an HTTP client: {e}")))?;
        let mut request = client.request(method, url);
        if let Some(token) = self.token().map_err(Refusal::Other)? {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.map_err(|e| {
            let why = if e.is_timeout() {
                "no answer in time".to_owned()
            } else if e.is_connect() {
                "cannot connect (is fusebox serve running there?)".to_owned()
            } else {
                e.to_string()
            };
            Refusal::Other(format!("{}: {why}", self.url))
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response
            .text()
            .await
            .map_err(|e| Refusal::Other(format!("{}: the answer was cut short: {e}", self.url)))?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok(body);
        }
        let reason = body["error"].as_str().unwrap_or("").to_owned();
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            let errors = body["errors"].as_array().map(|errors| {
                errors
                    .iter()
                    .map(|e| e.as_str().unwrap_or("?").to_owned())
                    .collect()
            });
            return Err(Refusal::Config(
                errors.unwrap_or_else(|| vec![format!("refused (422): {body}")]),
            ));
        }
        Err(Refusal::Other(match status {
            StatusCode::UNAUTHORIZED => format!(
                "{}: the token was refused (401){}: {reason}",
                self.url,
                if self.token_file.is_none() {
                    "; pass --token-file"
                } else {
                    ""
                }
            ),
            StatusCode::FORBIDDEN => format!("{}: not allowed (403): {reason}", self.url),
            StatusCode::TOO_MANY_REQUESTS => format!(
                "{}: too many failed attempts (429); retry in {} s",
                self.url,
                retry_after.as_deref().unwrap_or("a few")
            ),
            _ if reason.is_empty() => format!("{}: {status}", self.url),
            _ => format!("{}: {reason} ({})", self.url, status.as_u16()),
        }))
    }

    /// The token from the token file, less a trailing newline.
    fn token(&self) -> Result<Option<String>, String> {
        let Some(path) = &self.token_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--token-file {}: cannot read: {e}", path.display()))?;
        let token = text.trim_end_matches(['\n', '\r']);
        if token.is_empty() {
            return Err(format!("--token-file {}: holds no token", path.display()));
        }
        Ok(Some(token.to_owned()))
    }
}

/// Why a request did not succeed.
enum Refusal {
    /// A config file refused (422): its problems, `line:col: section: field: reason`.
    Config(Vec<String>),
    /// Anything else, as one line.
    Other(String),
}

impl Refusal {
    fn line(self, url: &str) -> String {
        match self {
            Refusal::Config(errors) => format!("{url}: refused (422): {}", errors.join("; ")),
            Refusal::Other(line) => line,
        }
    }
}

/// A breaker name as one path segment. Valid names need no escaping (`A-Z a-z 0-9 _ . : -`);
/// anything else is percent-encoded so the server can say it does not know the name.
fn path_segment(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"_.:-".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The breakers as an aligned table.
fn status_table(body: &Value) -> String {
    let header = [
        "NAME", "STATE", "FAILURE", "SLOW", "CALLS", "FAILED", "REJECTED", "OPEN FOR",
    ];
    let mut rows: Vec<[String; 8]> = vec![header.map(str::to_owned)];
    for b in body["breakers"].as_array().into_iter().flatten() {
        let percent = |v: &Value| format!("{:.1}%", v.as_f64().unwrap_or(0.0) * 100.0);
        let count = |v: &Value| v.as_u64().unwrap_or(0).to_string();
        let calls = &b["calls"];
        let total = ["success", "failure", "ignored"]
            .iter()
            .map(|k| calls[*k].as_u64().unwrap_or(0))
            .sum::<u64>();
        rows.push([
            b["name"].as_str().unwrap_or("?").to_owned(),
            b["state"].as_str().unwrap_or("?").to_owned(),
            percent(&b["failure_rate"]),
            percent(&b["slow_call_rate"]),
            total.to_string(),
            count(&calls["failure"]),
            count(&b["rejected"]),
            b["open_remaining_ms"].as_u64().map_or_else(
                || "-".to_owned(),
                |ms| format!("{:.1}s", ms as f64 / 1000.0),
            ),
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, w))| {
                if c < 2 {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if rows.len() == 1 {
        out.push_str("(no breakers)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_path_segment() {
        assert_eq!(path_segment("pay.stripe:eu-1_a"), "pay.stripe:eu-1_a");
        assert_eq!(path_segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn the_table_aligns_its_columns() {
        let body = json!({"breakers": [
            {"name": "pay.stripe", "state": "open", "failure_rate": 0.5, "slow_call_rate": 0.0,
             "calls": {"success": 5, "failure": 5, "ignored": 0}, "rejected": 12,
             "open_remaining_ms": 2500},
            {"name": "db", "state": "closed", "failure_rate": 0.0, "slow_call_rate": 0.0,
             "calls": {"success": 1, "failure": 0, "ignored": 0}, "rejected": 0,
             "open_remaining_ms": null}
        ]});
        let table = status_table(&body);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "NAME        STATE   FAILURE  SLOW  CALLS  FAILED  REJECTED  OPEN FOR"
        );
        assert_eq!(
            lines[1],
            "pay.stripe  open      50.0%  0.0%     10       5        12      2.5s"
        );
        assert_eq!(
            lines[2],
            "db          closed     0.0%  0.0%      1       0         0         -"
        );
    }
}
