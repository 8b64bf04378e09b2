//! [`AdminConfig`]: the tokens an operator endpoint accepts and the breakers its health check
//! calls critical.

use std::fmt;
use std::path::Path;

use crate::Error;
use crate::auth::Token;

/// How an operator endpoint is secured, and what its health check watches.
///
/// - **Tokens.** An admin token may do everything; a read token may only `GET`. Requests
///   carry one as `Authorization: Bearer <token>`. Once either is set, every route needs
///   one. With none set, `GET`s are open, mutations are refused (403) and
///   [`serve`](crate::serve) binds only loopback addresses. Only the tokens' SHA-256 digests
///   are kept, and `Debug` prints neither.
/// - **Critical breakers** ([`critical`](Self::critical)): `GET /fusebox/health` answers 503
///   while one of them is open or forced open, as it does for the breakers the config file in
///   force names in `[health] critical` (see [`apply_config`](crate::apply_config)).
///
/// # Examples
///
/// ```
/// use fusebox_admin::AdminConfig;
/// let config = AdminConfig::new()
///     .admin_token("a-long-random-admin-token")?
///     .read_token("a-long-random-read-token")?
///     .critical(["pay.stripe", "db.primary"]);
/// assert!(config.has_token());
/// assert_eq!(config.critical_names(), ["pay.stripe", "db.primary"]);
/// # Ok::<(), fusebox_admin::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct AdminConfig {
    pub(crate) admin: Option<Token>,
    pub(crate) read: Option<Token>,
    pub(crate) critical: Vec<String>,
}

impl AdminConfig {
    /// No token, no critical breaker: open `GET`s on loopback, no mutation.
    ///
    /// ```
    /// assert!(!fusebox_admin::AdminConfig::new().has_token());
    /// ```
    pub fn new() -> Self {
        AdminConfig::default()
    }

    /// Sets the admin token: it may read and change everything.
    ///
    /// # Errors
    ///
    /// [`Error::EmptyTokenGiven`] if `token` is empty: an empty token would let anyone in.
    ///
    /// ```
    /// let config = fusebox_admin::AdminConfig::new().admin_token("s3cret-admin")?;
    /// assert!(config.has_token());
    /// assert!(fusebox_admin::AdminConfig::new().admin_token("").is_err());
    /// # Ok::<(), fusebox_admin::Error>(())
    /// ```
    pub fn admin_token(mut self, token: impl AsRef<str>) -> Result<Self, Error> {
        self.admin = Some(Token::new(non_empty(token.as_ref(), "admin")?));
        Ok(self)
    }

    /// Sets the read token: it may only `GET`.
    ///
    /// # Errors
    ///
    /// [`Error::EmptyTokenGiven`] if `token` is empty.
    ///
    /// ```
    /// let config = fusebox_admin::AdminConfig::new().read_token("s3cret-read")?;
    /// assert!(config.has_token());
    /// # Ok::<(), fusebox_admin::Error>(())
    /// ```
    pub fn read_token(mut self, token: impl AsRef<str>) -> Result<Self, Error> {
        self.read = Some(Token::new(non_empty(token.as_ref(), "read")?));
        Ok(self)
    }

    /// Sets the admin token to the contents of `path`, less a trailing newline (a file
    /// written by `echo`, or mounted from a secret store).
    ///
    /// # Errors
    ///
    /// [`Error::TokenFile`] if the file cannot be read; [`Error::EmptyToken`] if it holds no
    /// token.
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("fusebox-admin-doc-{}", std::process::id()));
    /// std::fs::write(&path, "s3cret-admin\n")?;
    /// let config = fusebox_admin::AdminConfig::new().admin_token_file(&path)?;
    /// assert!(config.has_token());
    /// std::fs::write(&path, "\n")?;
    /// assert!(fusebox_admin::AdminConfig::new().admin_token_file(&path).is_err());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn admin_token_file(mut self, path: impl AsRef<Path>) -> Result<Self, Error> {
        self.admin = Some(Token::new(&read_token_file(path.as_ref())?));
        Ok(self)
    }

    /// Sets the read token to the contents of `path`, less a trailing newline.
    ///
    /// # Errors
    ///
    /// As for [`admin_token_file`](Self::admin_token_file).
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("fusebox-admin-read-{}", std::process::id()));
    /// std::fs::write(&path, "s3cret-read\r\n")?;
    /// let config = fusebox_admin::AdminConfig::new().read_token_file(&path)?;
    /// assert!(config.has_token());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_token_file(mut self, path: impl AsRef<Path>) -> Result<Self, Error> {
        self.read = Some(Token::new(&read_token_file(path.as_ref())?));
        Ok(self)
    }

    /// The breakers `GET /fusebox/health` watches: it answers 503 while any of them is open or
    /// forced open. A name with no breaker (yet) counts as healthy. Replaces any earlier list.
    ///
    /// ```
    /// let config = fusebox_admin::AdminConfig::new().critical(["pay.stripe"]);
    /// assert_eq!(config.critical_names(), ["pay.stripe"]);
    /// ```
    #[must_use]
    pub fn critical<I>(mut self, names: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.critical = names.into_iter().map(Into::into).collect();
        self
    }

    /// The critical breakers' names.
    ///
    /// ```
    /// assert!(fusebox_admin::AdminConfig::new().critical_names().is_empty());
    /// ```
    pub fn critical_names(&self) -> &[String] {
        &self.critical
    }

    /// Whether an admin or a read token is set.
    ///
    /// ```
    /// assert!(fusebox_admin::AdminConfig::new().read_token("r").unwrap().has_token());
    /// ```
    pub fn has_token(&self) -> bool {
        self.admin.is_some() || self.read.is_some()
    }
}

impl fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminConfig")
            .field("admin_token", &self.admin.as_ref().map(|_| "<set>"))
            .field("read_token", &self.read.as_ref().map(|_| "<set>"))
            .field("critical", &self.critical)
            .finish()
    }
}

fn non_empty<'a>(token: &'a str, which: &'static str) -> Result<&'a str, Error> {
    if token.is_empty() {
        Err(Error::EmptyTokenGiven { which })
    } else {
        Ok(token)
    }
}

/// A token file's contents less one trailing newline (`\n` or `\r\n`).
fn read_token_file(path: &Path) -> Result<String, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::TokenFile {
        path: path.to_owned(),
        source,
    })?;
    let token = text
        .strip_suffix('\n')
        .map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
    if token.is_empty() {
        return Err(Error::EmptyToken {
            path: path.to_owned(),
        });
    }
    Ok(token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_token() {
        let c = AdminConfig::new().admin_token("hunter2-admin").unwrap();
        let text = format!("{c:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("<set>"), "{text}");
    }

    #[test]
    fn empty_token_file_is_an_error() {
        let path = std::env::temp_dir().join(format!("fusebox-admin-empty-{}", std::process::id()));
        std::fs::write(&path, "\r\n").unwrap();
        let err = AdminConfig::new().read_token_file(&path).unwrap_err();
        assert!(matches!(err, Error::EmptyToken { .. }), "{err}");
        std::fs::remove_file(&path).unwrap();
    }
}
