//! Authentication and authorization: bearer tokens compared by SHA-256 digest in constant
//! time, the role a request acts as, and the rate limit on failed attempts.
//!
//! Failed attempts (a wrong token) go through a fusebox [`Breaker`] whose policy has a rate
//! limit: once it refuses one, every request with a token is answered 429 until its
//! retry-after has passed, so guesses cannot go faster than the limit. A request with no
//! token is a plain 401 and counts for nothing.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use fusebox_engine::{Breaker, Policy, RateLimit};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::AdminConfig;
use crate::error::ApiError;
use crate::notify::Notifier;
use crate::state::AppState;

/// Failed attempts allowed per second, on average.
pub(crate) const FAILURES_PER_SECOND: u32 = 10;

/// A token, kept as its SHA-256 digest only.
#[derive(Clone)]
pub(crate) struct Token([u8; 32]);

impl Token {
    pub(crate) fn new(secret: &str) -> Self {
        Token(digest(secret.as_bytes()))
    }

    /// Whether `presented` hashes to this token's digest: the digests are compared in
    /// constant time, never with `==`.
    pub(crate) fn matches(&self, presented: &[u8; 32]) -> bool {
        self.0.ct_eq(presented).into()
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Who a request acts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The admin token: everything.
    Admin,
    /// The read token: `GET`s only.
    Read,
    /// No token configured: `GET`s only.
    Anonymous,
}

impl Role {
    /// The label audit notes and config versions carry.
    pub(crate) fn as_label(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Read => "read",
            Role::Anonymous => "anonymous",
        }
    }
}

/// The tokens and the failed-attempt limit of one router.
pub(crate) struct Auth {
    admin: Option<Token>,
    read: Option<Token>,
    /// Its policy's rate limit counts failed attempts.
    failures: Breaker,
    /// Set when `failures` refused one: until then, every attempt is answered 429.
    locked_until: Mutex<Option<Instant>>,
}

impl Auth {
    pub(crate) fn new(config: &AdminConfig) -> Self {
        let limit = RateLimit::new(
            FAILURES_PER_SECOND,
            Duration::from_secs(1),
            FAILURES_PER_SECOND,
        );
        let policy = Policy::builder()
            .rate_limit(limit)
            .build()
            .unwrap_or_else(|e| unreachable!("a valid rate limit: {e}"));
        Auth {
            admin: config.admin.clone(),
            read: config.read.clone(),
            failures: Breaker::new("fusebox-admin.auth-failures", policy),
            locked_until: Mutex::new(None),
        }
    }

    fn has_token(&self) -> bool {
        self.admin.is_some() || self.read.is_some()
    }

    /// The role `headers` authenticate as, or the answer for a request that is refused.
    fn authenticate(&self, headers: &HeaderMap) -> Result<Role, Refused> {
        if !self.has_token() {
            return Ok(Role::Anonymous);
        }
        let Some(presented) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            // Not a guess: no secret is compared, and nothing is counted (a health probe
            // without a token must not lock the operators out).
            return Err(Refused::Unauthorized(
                "missing token: send Authorization: Bearer <token>",
            ));
        };
        if let Some(wait) = self.locked_for() {
            return Err(Refused::TooMany(wait));
        }
        let d = digest(presented.trim().as_bytes());
        // Both compared, whichever matches.
        let admin = self.admin.as_ref().is_some_and(|t| t.matches(&d));
        let read = self.read.as_ref().is_some_and(|t| t.matches(&d));
        if admin {
            Ok(Role::Admin)
        } else if read {
            Ok(Role::Read)
        } else {
            Err(self.failed())
        }
    }

    /// How long attempts are still refused, if they are.
    fn locked_for(&self) -> Option<Duration> {
        let locked = self
            .locked_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        locked.and_then(|until| until.checked_duration_since(Instant::now()))
    }

    /// A failed attempt: 401, or 429 once the limit refuses it.
    fn failed(&self) -> Refused {
        match self.failures.try_acquire() {
            Ok(permit) => {
                // The breaker only counts attempts; the permit's outcome does not matter.
                drop(permit);
                Refused::Unauthorized("wrong token")
            }
            Err(rejected) => {
                let wait = rejected
                    .retry_after()
                    .unwrap_or(Duration::from_secs(1))
                    .max(Duration::from_millis(1));
                *self
                    .locked_until
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + wait);
                Refused::TooMany(wait)
            }
        }
    }
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// 401, with the reason.
    Unauthorized(&'static str),
    /// 429: failed attempts are over the limit for this long.
    TooMany(Duration),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Unauthorized(reason) => {
                let mut response = ApiError::new(StatusCode::UNAUTHORIZED, reason).into_response();
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer"),
                );
                response
            }
            Refused::TooMany(wait) => too_many(wait),
        }
    }
}

fn too_many(wait: Duration) -> Response {
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too many failed authentication attempts; retry later",
    )
    .into_response();
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    response
}

/// Whether `method` only reads.
fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
}

/// The middleware every route goes through: authenticates, refuses what the role may not do,
/// and hands the role to the handler as a request extension.
pub(crate) async fn require(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    // A router built outside a runtime starts its notifier with its first request.
    Notifier::ensure_started(&state.registry);
    let auth: &Arc<Auth> = &state.auth;
    let role = match auth.authenticate(request.headers()) {
        Ok(role) => role,
        Err(refused) => return refused.into_response(),
    };
    if !is_read(request.method()) {
        let refusal = match role {
            Role::Admin => None,
            Role::Read => Some("the read token may only GET; this needs the admin token"),
            Role::Anonymous => Some("no admin token is configured: mutations are disabled"),
        };
        if let Some(reason) = refusal {
            return ApiError::new(StatusCode::FORBIDDEN, reason).into_response();
        }
    }
    request.extensions_mut().insert(role);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_digest() {
        let t = Token::new("correct horse");
        // The stored value is the digest, not the secret.
        assert_eq!(t.0, digest(b"correct horse"));
        assert_ne!(&t.0[..], b"correct horse".as_slice());
        assert!(t.matches(&digest(b"correct horse")));
        assert!(!t.matches(&digest(b"correct hors")));
        assert!(!t.matches(&digest(b"correct horse ")));
        // The same comparison `matches` makes: subtle's constant-time equality.
        assert_eq!(t.0.ct_eq(&digest(b"x")).unwrap_u8(), 0);
        assert_eq!(t.0.ct_eq(&digest(b"correct horse")).unwrap_u8(), 1);
    }

    #[test]
    fn roles_and_failures() {
        let auth = Auth::new(
            &AdminConfig::new()
                .admin_token("adm")
                .unwrap()
                .read_token("rd")
                .unwrap(),
        );
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, v.parse().unwrap());
            h
        };
        assert_eq!(auth.authenticate(&with("Bearer adm")).unwrap(), Role::Admin);
        assert_eq!(auth.authenticate(&with("Bearer rd")).unwrap(), Role::Read);
        let status = |r: Result<Role, Refused>| r.unwrap_err().into_response().status();
        assert_eq!(status(auth.authenticate(&with("Bearer nope"))), 401);
        assert_eq!(status(auth.authenticate(&HeaderMap::new())), 401);
        assert_eq!(status(auth.authenticate(&with("Basic adm"))), 401);
        let open = Auth::new(&AdminConfig::new());
        assert_eq!(
            open.authenticate(&HeaderMap::new()).unwrap(),
            Role::Anonymous
        );
    }
}
