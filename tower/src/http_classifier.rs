//! The HTTP rules: which statuses are failures, of which kind, and the dependency's
//! `Retry-After` passed on to the breaker.
//!
//! This file owns [`HttpClassifier`] and the parsing of `Retry-After` (delta-seconds or an
//! HTTP-date). [`DefaultClassifier`](crate::DefaultClassifier) applies the same rules to an
//! [`http::Response`] through its [`ResponseVerdict`](crate::ResponseVerdict).

use std::time::{Duration, SystemTime};

use fusebox_engine::{Failure, Verdict};
use http::header::RETRY_AFTER;
use http::{HeaderMap, HeaderValue, Response};

use crate::classify::{Classify, ERROR_KIND};

/// The kind of a 5xx failure.
const KIND_5XX: &str = "http_5xx";
/// The kind of a 408 Request Timeout failure.
const KIND_408: &str = "http_408";
/// The kind of a 429 Too Many Requests failure.
const KIND_429: &str = "http_429";

/// Classifies [`http::Response`]s by status: the dependency's trouble is a failure, the
/// caller's is not.
///
/// | result | verdict | kind |
/// |---|---|---|
/// | 5xx | failure | `"http_5xx"` |
/// | 408 Request Timeout | failure | `"http_408"` |
/// | 429 Too Many Requests | failure | `"http_429"` |
/// | any other status (2xx, 3xx, 4xx) | success | |
/// | `Err` from the inner service | failure | `"error"` |
///
/// A 429 or a 503 with a `Retry-After` header passes it on as the failure's
/// [`retry_after`](fusebox_engine::Failure::retry_after): if that failure opens the breaker,
/// the open period lasts at least that long. Both forms are read: delta-seconds (`120`) and an
/// HTTP-date (`Wed, 21 Oct 2026 07:28:00 GMT`, measured against the system clock; a date
/// already past is ignored). An unparsable value is ignored; the failure is recorded without
/// it. The value is taken as the dependency gave it, with no upper bound.
///
/// It is what [`DefaultClassifier`](crate::DefaultClassifier) does for HTTP responses; name it
/// to say so, or to wrap it in a closure of your own.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fusebox_engine::{Failure, Verdict};
/// use fusebox_tower::{Classify, HttpClassifier};
///
/// let response = |status: u16, retry_after: Option<&str>| {
///     let mut r = http::Response::builder().status(status);
///     if let Some(v) = retry_after {
///         r = r.header("retry-after", v);
///     }
///     Ok::<_, std::io::Error>(r.body(()).unwrap())
/// };
/// assert_eq!(HttpClassifier.classify(&response(200, None)), Verdict::Success);
/// assert_eq!(HttpClassifier.classify(&response(404, None)), Verdict::Success);
/// assert_eq!(
///     HttpClassifier.classify(&response(502, None)),
///     Verdict::Failure(Failure::of_kind("http_5xx"))
/// );
/// assert_eq!(
///     HttpClassifier.classify(&response(429, Some("120"))),
///     Verdict::Failure(Failure::of_kind("http_429").retry_after(Duration::from_secs(120)))
/// );
/// assert_eq!(
///     HttpClassifier.classify(&response(503, Some("soon"))),
///     Verdict::Failure(Failure::of_kind("http_5xx"))
/// );
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct HttpClassifier;

impl<B, Err> Classify<Response<B>, Err> for HttpClassifier {
    #[inline]
    fn classify(&self, result: &Result<Response<B>, Err>) -> Verdict {
        match result {
            Ok(response) => response_verdict(response),
            Err(_) => Failure::of_kind(ERROR_KIND).into(),
        }
    }
}

/// What a response's status means to the breaker (see [`HttpClassifier`]).
#[inline]
pub(crate) fn response_verdict<B>(response: &Response<B>) -> Verdict {
    match response.status().as_u16() {
        503 => failure_with_retry_after(KIND_5XX, response.headers()),
        500..=599 => Failure::of_kind(KIND_5XX).into(),
        429 => failure_with_retry_after(KIND_429, response.headers()),
        408 => Failure::of_kind(KIND_408).into(),
        _ => Verdict::Success,
    }
}

/// A failure of `kind`, with the `Retry-After` of `headers` when it has a usable one.
#[cold]
fn failure_with_retry_after(kind: &'static str, headers: &HeaderMap) -> Verdict {
    let failure = Failure::of_kind(kind);
    match headers.get(RETRY_AFTER).and_then(parse_retry_after) {
        Some(after) => failure.retry_after(after).into(),
        None => failure.into(),
    }
}

/// A `Retry-After` value as a duration from now: delta-seconds, or an HTTP-date still to
/// come. `None` for anything else.
fn parse_retry_after(value: &HeaderValue) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        // Delta-seconds beyond u64 are a malformed value, not a very long wait.
        return text.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(text).ok()?;
    at.duration_since(SystemTime::now()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &str) -> Option<Duration> {
        parse_retry_after(&HeaderValue::from_str(v).unwrap())
    }

    #[test]
    fn delta_seconds_are_read_and_junk_is_not() {
        assert_eq!(parse("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse("0"), Some(Duration::ZERO));
        for junk in ["", "-5", "1.5", "12s", "soon", "99999999999999999999999"] {
            assert_eq!(parse(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn an_http_date_counts_from_now_and_a_past_one_is_ignored() {
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let left = parse(&later).expect("a date to come");
        assert!(
            left > Duration::from_secs(115) && left <= Duration::from_secs(120),
            "{left:?}"
        );
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(120));
        assert_eq!(parse(&past), None);
    }
}
