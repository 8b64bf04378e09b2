//! [`Registry::run`] and [`Registry::failover`] (feature `tokio`): the call pipeline of the
//! engine's `Breaker::run` for named breakers, and trying named dependencies in order.
//!
//! # Synchronization
//!
//! None of its own: a lookup (see lookup.rs), the dependency check (deps.rs), then the
//! breaker's own `run`.

use std::fmt;
use std::future::Future;

use fusebox_engine::{Breaker, RunError};

use crate::{CheckError, Registry};

impl Registry {
    /// Runs `f` through the breaker `name` (created if needed) with its policy's timeout,
    /// retries and budget, after checking its dependencies: see
    /// [`Breaker::run`](fusebox_engine::Breaker::run).
    ///
    /// # Errors
    ///
    /// As for `Breaker::run`, plus [`RunError::Rejected`] (with no attempt) when a dependency
    /// is open, and [`RunError::Refused`] when the name is invalid or the registry is full.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let registry = fusebox_registry::Registry::new(fusebox_engine::Policy::default());
    /// let n = registry.run("inventory", || async { Ok::<_, std::io::Error>(7) }).await?;
    /// assert_eq!(n, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn run<T, E, F, Fut>(
        &self,
        name: &str,
        f: F,
    ) -> impl Future<Output = Result<T, RunError<E>>> + use<T, E, F, Fut>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let checked = self.checked_breaker(name);
        async move {
            match checked {
                Ok(breaker) => breaker.run(f).await,
                Err(e) => Err(refused(e)),
            }
        }
    }

    /// Tries the named dependencies in order (`["payments.stripe", "payments.adyen"]`), each
    /// through its own breaker and policy (timeout, retries) as [`run`](Self::run) does,
    /// skipping those that reject; the first success is returned. `f` is given the name of
    /// the dependency to call.
    ///
    /// # Errors
    ///
    /// [`FailoverError`] when none succeeded: what happened at each, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let registry = fusebox_registry::Registry::new(fusebox_engine::Policy::default());
    /// registry.breaker("payments.stripe")?.force_open();
    /// let used = registry
    ///     .failover(&["payments.stripe", "payments.adyen"], |name| {
    ///         let name = name.to_owned();
    ///         async move { Ok::<_, std::io::Error>(name) }
    ///     })
    ///     .await?;
    /// assert_eq!(used, "payments.adyen");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn failover<T, E, F, Fut>(
        &self,
        names: &[&str],
        mut f: F,
    ) -> Result<T, FailoverError<E>>
    where
        F: FnMut(&str) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut tried = Vec::with_capacity(names.len());
        for &name in names {
            let breaker: Breaker = match self.checked_breaker(name) {
                Ok(breaker) => breaker,
                Err(e) => {
                    tried.push((name.to_owned(), refused(e)));
                    continue;
                }
            };
            match breaker.run(|| f(name)).await {
                Ok(value) => return Ok(value),
                Err(e) => tried.push((name.to_owned(), e)),
            }
        }
        Err(FailoverError { tried })
    }
}

/// A registry's refusal of a name as a [`RunError`].
fn refused<E>(e: CheckError) -> RunError<E> {
    match e {
        CheckError::Rejected(rejected) => RunError::Rejected {
            rejected,
            attempts: 0,
        },
        CheckError::Registry(e) => RunError::Refused(Box::new(e)),
    }
}

/// What happened at each dependency [`Registry::failover`] tried, in order, when none
/// succeeded.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let registry = fusebox_registry::Registry::new(fusebox_engine::Policy::default());
/// registry.breaker("a").unwrap().force_open();
/// let e = registry
///     .failover(&["a", "b"], |_| async { Err::<(), _>("down") })
///     .await
///     .unwrap_err();
/// assert_eq!(e.tried().len(), 2);
/// assert_eq!(e.to_string(), "every dependency failed: a: breaker a rejected the call: forced open (after 0 attempts); b: down (after 1 attempts)");
/// # });
/// ```
#[derive(Debug)]
pub struct FailoverError<E> {
    tried: Vec<(String, RunError<E>)>,
}

impl<E> FailoverError<E> {
    /// Each dependency's name and how its run ended, in the order tried.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let registry = fusebox_registry::Registry::new(fusebox_engine::Policy::default());
    /// let e = registry.failover(&["x"], |_| async { Err::<(), _>(()) }).await.unwrap_err();
    /// assert_eq!(e.tried()[0].0, "x");
    /// # });
    /// ```
    pub fn tried(&self) -> &[(String, RunError<E>)] {
        &self.tried
    }

    /// The same, owned.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let registry = fusebox_registry::Registry::new(fusebox_engine::Policy::default());
    /// let e = registry.failover(&["x"], |_| async { Err::<(), _>(()) }).await.unwrap_err();
    /// assert_eq!(e.into_tried().len(), 1);
    /// # });
    /// ```
    pub fn into_tried(self) -> Vec<(String, RunError<E>)> {
        self.tried
    }
}

impl<E: fmt::Display> fmt::Display for FailoverError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tried.is_empty() {
            return f.write_str("no dependency to try");
        }
        f.write_str("every dependency failed: ")?;
        for (i, (name, e)) in self.tried.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{name}: {e}")?;
        }
        Ok(())
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for FailoverError<E> {}
