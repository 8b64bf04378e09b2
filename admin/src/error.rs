//! Errors: what building or serving the endpoint reports ([`Error`]), and the JSON error
//! answers of the routes (`ApiError`: a status and `{"error": "..."}` or `{"errors": [...]}`).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why a token file could not be read, or [`serve`](crate::serve) could not start.
///
/// # Examples
///
/// ```
/// use fusebox_admin::{AdminConfig, Error};
/// let err = AdminConfig::new().admin_token_file("/no/such/token").unwrap_err();
/// assert!(matches!(err, Error::TokenFile { .. }));
/// assert!(err.to_string().starts_with("cannot read token file /no/such/token"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A token file could not be read.
    TokenFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A token file holds nothing but a trailing newline: an empty token would let anyone in.
    EmptyToken {
        /// The file.
        path: PathBuf,
    },
    /// An empty token was given (`"admin"` or `"read"` says which): it would let anyone in.
    EmptyTokenGiven {
        /// Which token.
        which: &'static str,
    },
    /// [`serve`](crate::serve) was asked to listen on a non-loopback address while no token is
    /// configured.
    NotLoopback {
        /// The address refused.
        addr: SocketAddr,
    },
    /// The address could not be bound.
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TokenFile { path, source } => {
                write!(f, "cannot read token file {}: {source}", path.display())
            }
            Error::EmptyToken { path } => write!(f, "token file {} is empty", path.display()),
            Error::EmptyTokenGiven { which } => write!(f, "the {which} token is empty"),
            Error::NotLoopback { addr } => write!(
                f,
                "refusing to serve the fusebox admin endpoint on {addr} with no token \
                 configured: bind a loopback address or set an admin or read token"
            ),
            Error::Bind { addr, source } => write!(f, "cannot bind {addr}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::TokenFile { source, .. } | Error::Bind { source, .. } => Some(source),
            Error::EmptyToken { .. }
            | Error::EmptyTokenGiven { .. }
            | Error::NotLoopback { .. } => None,
        }
    }
}

/// A route's refusal: a status and a JSON body.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: serde_json::Value,
}

impl ApiError {
    /// `status` with `{"error": message}`.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: json!({ "error": message.into() }),
        }
    }

    /// 400, with a one-line reason.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 422 with `{"errors": [...]}`: a config file refused, one line per problem.
    pub(crate) fn unprocessable(errors: Vec<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({ "errors": errors }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
