//! `GET /fusebox/`: the dashboard, one self-contained HTML page (its CSS and script inline,
//! nothing loaded from elsewhere), and `GET /fusebox`, which redirects to it.
//!
//! The page carries no data, so it is served without a token; what it shows, it reads from the
//! other routes with the token the operator types into it. Its `Content-Security-Policy` lets
//! it run only its own inline style and script (by SHA-256 hash) and connect only to its own
//! origin; `Cache-Control: no-store` keeps an old page from outliving an upgrade.

use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect};
use sha2::{Digest, Sha256};

/// The page.
const PAGE: &str = include_str!("../dashboard/index.html");

/// The page's `Content-Security-Policy`, with the hashes of its inline style and script.
static CSP: LazyLock<HeaderValue> = LazyLock::new(|| {
    let policy = policy(PAGE);
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|e| unreachable!("a CSP of ASCII text ({e}): {policy}"))
});

/// The dashboard.
pub(super) async fn page() -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CONTENT_SECURITY_POLICY, CSP.clone()),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        ],
        PAGE,
    )
}

/// `/fusebox` to `/fusebox/`. Relative, so it holds wherever the router is nested: the page's
/// own requests are relative to it too.
pub(super) async fn redirect() -> Redirect {
    Redirect::permanent("fusebox/")
}

/// The CSP of `page`: nothing but its inline `<style>` and `<script>` (allowed by hash),
/// requests to its own origin, and `data:` images (the empty favicon).
fn policy(page: &str) -> String {
    let style = hash(inline(page, "style"));
    let script = hash(inline(page, "script"));
    format!(
        "default-src 'none'; script-src '{script}'; style-src '{style}'; connect-src 'self'; \
         img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// The text between `<tag>` and `</tag>`; empty if there is none.
fn inline<'a>(page: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    page.split_once(&open)
        .and_then(|(_, rest)| rest.split_once(&close))
        .map_or("", |(inner, _)| inner)
}

/// A CSP hash source: `sha256-<base64 of the digest>`.
fn hash(text: &str) -> String {
    format!("sha256-{}", base64(&Sha256::digest(text.as_bytes())))
}

/// Standard base64, padded.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (text, encoded) in cases {
            assert_eq!(base64(text.as_bytes()), encoded, "{text:?}");
        }
        // The digest of the empty string (`openssl dgst -sha256 -binary | base64`).
        assert_eq!(
            hash(""),
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn the_policy_allows_the_page_s_own_style_and_script_only() {
        // One of each: another would not be allowed by the policy.
        assert_eq!(PAGE.matches("<script").count(), 1);
        assert_eq!(PAGE.matches("<style").count(), 1);
        let script = inline(PAGE, "script");
        let style = inline(PAGE, "style");
        assert!(script.contains("new AbortController()"));
        assert!(style.contains("prefers-color-scheme"));
        let csp = CSP.to_str().unwrap();
        assert!(
            csp.contains(&format!("script-src '{}'", hash(script))),
            "{csp}"
        );
        assert!(
            csp.contains(&format!("style-src '{}'", hash(style))),
            "{csp}"
        );
        assert!(csp.starts_with("default-src 'none';"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        // Nothing from elsewhere, no inline handler or style attribute (CSP blocks both),
        // and no HTML parsed from data.
        for banned in [
            "http://",
            "https://",
            "//cdn",
            "onclick=",
            "onload=",
            "style=\"",
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "prompt(",
        ] {
            assert!(!PAGE.contains(banned), "the page contains {banned:?}");
        }
    }

    #[test]
    fn the_stable_hooks_are_there() {
        for hook in [
            "id=\"stream-status\"",
            "id=\"token-form\"",
            "type=\"password\"",
            "dataset.breaker",
            "dataset.state",
            "\"transition\"",
            "dataset.to",
            "sessionStorage",
            "getReader()",
        ] {
            assert!(PAGE.contains(hook), "the page lacks {hook:?}");
        }
    }
}
