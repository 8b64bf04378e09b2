//! Calling through the registry: a breaker by name, checked against its dependencies, then
//! the engine's guarded call.
//!
//! # Synchronization
//!
//! No lock is held while the caller's function or future runs: the lookup's shard lock is
//! released once the breaker's handle is cloned, and the dependency check reads an immutable
//! graph (see `deps.rs`). No atomics of its own.

use std::future::Future;

use fusebox_engine::{Breaker, Outcome};

use crate::{CheckError, Registry, RegistryCallError};

impl Registry {
    /// The breaker for `name` (created if needed) once its dependencies admit a call: what
    /// [`call`](Self::call) does before calling. Use it with the permit API.
    ///
    /// # Errors
    ///
    /// [`CheckError::Registry`] as for [`breaker`](Self::breaker);
    /// [`CheckError::Rejected`] as for [`check_dependencies`](Self::check_dependencies).
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// let breaker = registry.checked_breaker("api")?;
    /// if let Ok(permit) = breaker.try_acquire() {
    ///     permit.success();
    /// }
    /// # Ok::<(), fusebox_registry::CheckError>(())
    /// ```
    #[inline]
    pub fn checked_breaker(&self, name: &str) -> Result<Breaker, CheckError> {
        let breaker = self.breaker(name)?;
        self.check_dependencies(name)?;
        Ok(breaker)
    }

    /// Runs `f` through the breaker `name` (created if needed) after checking its
    /// dependencies: `Ok` is recorded as a success, `Err` as a failure.
    ///
    /// # Errors
    ///
    /// [`RegistryCallError::Registry`] if the name is invalid or the registry is full;
    /// [`RegistryCallError::Rejected`] if the breaker rejects the call, or a dependency is
    /// open (then with the dependency's rejection: see
    /// [`check_dependencies`](Self::check_dependencies));
    /// [`RegistryCallError::Failed`] with `f`'s own error. `f` runs only in the last case and
    /// on success.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// assert_eq!(registry.call("db", || Ok::<_, ()>(5)).unwrap(), 5);
    /// ```
    #[inline]
    pub fn call<T, E, F>(&self, name: &str, f: F) -> Result<T, RegistryCallError<E>>
    where
        F: FnOnce() -> Result<T, E>,
    {
        Ok(self.checked_breaker(name)?.call(f)?)
    }

    /// Like [`call`](Self::call), with `classify` deciding what the result means to the
    /// breaker (see [`Breaker::call_with`]).
    ///
    /// # Errors
    ///
    /// As for [`call`](Self::call).
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// let r = registry.call_with("http", || Err::<(), u16>(404), |_| Outcome::Ignored);
    /// assert_eq!(r.unwrap_err().into_failed(), Some(404));
    /// assert_eq!(registry.get("http").unwrap().metrics().ignored, 1);
    /// ```
    pub fn call_with<T, E, F, C>(
        &self,
        name: &str,
        f: F,
        classify: C,
    ) -> Result<T, RegistryCallError<E>>
    where
        F: FnOnce() -> Result<T, E>,
        C: FnOnce(&Result<T, E>) -> Outcome,
    {
        Ok(self.checked_breaker(name)?.call_with(f, classify)?)
    }

    /// Guards a future through the breaker `name` after checking its dependencies (see
    /// [`Breaker::call_async`]). The name is looked up and the dependencies checked when this
    /// is called; the breaker itself is asked when the returned future is first polled.
    ///
    /// The future holds a breaker handle, not a borrow of the registry or of `name`: it is
    /// `'static` (and `Send`) when `fut` is, so it can be spawned.
    ///
    /// # Errors
    ///
    /// As for [`call`](Self::call).
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// let r = futures_executor::block_on(registry.call_async("db", async { Ok::<_, ()>(9) }));
    /// assert_eq!(r.unwrap(), 9);
    /// ```
    pub fn call_async<T, E, F>(
        &self,
        name: &str,
        fut: F,
    ) -> impl Future<Output = Result<T, RegistryCallError<E>>> + use<T, E, F>
    where
        F: Future<Output = Result<T, E>>,
    {
        let checked = self.checked_breaker(name);
        async move { Ok(checked?.call_async(fut).await?) }
    }

    /// Like [`call_async`](Self::call_async), with `classify` deciding what the result means
    /// to the breaker (see [`Breaker::call_async_with`]).
    ///
    /// # Errors
    ///
    /// As for [`call`](Self::call).
    ///
    /// # Examples
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let registry = fusebox_registry::Registry::new(Policy::default());
    /// let r = futures_executor::block_on(
    ///     registry.call_async_with("http", async { Err::<(), u16>(404) }, |_| Outcome::Ignored),
    /// );
    /// assert_eq!(r.unwrap_err().into_failed(), Some(404));
    /// assert_eq!(registry.get("http").unwrap().metrics().ignored, 1);
    /// ```
    pub fn call_async_with<T, E, F, C>(
        &self,
        name: &str,
        fut: F,
        classify: C,
    ) -> impl Future<Output = Result<T, RegistryCallError<E>>> + use<T, E, F, C>
    where
        F: Future<Output = Result<T, E>>,
        C: FnOnce(&Result<T, E>) -> Outcome,
    {
        let checked = self.checked_breaker(name);
        async move { Ok(checked?.call_async_with(fut, classify).await?) }
    }
}
