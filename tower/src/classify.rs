//! Classifiers: what a call's result means to the breaker.
//!
//! This file owns the [`Classify`] trait and the classifiers that are not about HTTP: closures,
//! [`DefaultClassifier`] (the layer's default, which asks the response through
//! [`ResponseVerdict`]) and [`ResultClassifier`]. The HTTP rules are in http_classifier.rs.

use fusebox_engine::{Failure, Verdict};

/// The kind of the failure a classifier of this crate records for an inner service's `Err`.
pub(crate) const ERROR_KIND: &str = "error";

/// Decides what the result of one call means to the breaker: a success, a failure (with its
/// kind and the dependency's Retry-After) or neither.
///
/// A [`BreakerLayer`](crate::BreakerLayer) takes any classifier through
/// [`classify`](crate::BreakerLayer::classify). Implemented by:
///
/// - closures `Fn(&Result<Res, Err>) -> V` where `V: Into<Verdict>`: an
///   [`Outcome`](fusebox_engine::Outcome), a [`Verdict`] or a [`Failure`];
/// - [`DefaultClassifier`], the layer's default: HTTP responses by their status, any other
///   [`ResponseVerdict`] response as a success, an `Err` as a failure;
/// - [`HttpClassifier`](crate::HttpClassifier): the HTTP rules alone;
/// - [`ResultClassifier`]: `Ok` is a success, `Err` a failure, whatever the response.
///
/// The classifier is cloned into each response future and runs once, when the inner
/// service's future completes: keep it cheap to clone (capture an `Arc` rather than a
/// collection).
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Failure, Outcome, Verdict};
/// use fusebox_tower::{Classify, DefaultClassifier, ResultClassifier};
///
/// // A closure: the argument's type is written out, as for any closure passed to a generic.
/// let not_found_is_fine = |r: &Result<u16, String>| match r {
///     Ok(404) | Ok(200) => Outcome::Success,
///     Ok(_) => Outcome::Failure,
///     Err(_) => Outcome::Ignored,
/// };
/// assert_eq!(not_found_is_fine.classify(&Ok(404)), Verdict::Success);
/// assert_eq!(not_found_is_fine.classify(&Err("cancelled".into())), Verdict::Ignored);
///
/// let error = Verdict::Failure(Failure::of_kind("error"));
/// assert_eq!(ResultClassifier.classify(&Err::<(), _>("down")), error);
/// assert_eq!(DefaultClassifier.classify(&Ok::<_, ()>(7u32)), Verdict::Success);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot classify a `Result<{Res}, {Err}>`",
    note = "give the layer a classifier that can: `.classify(ResultClassifier)` (`Ok` is a success), \
            `.classify(HttpClassifier)` for `http::Response`, or a closure \
            `|r: &Result<{Res}, {Err}>| -> Outcome`"
)]
pub trait Classify<Res, Err> {
    /// What `result` means to the breaker.
    ///
    /// ```
    /// use fusebox_engine::Verdict;
    /// use fusebox_tower::{Classify, ResultClassifier};
    /// assert_eq!(ResultClassifier.classify(&Ok::<_, ()>("fine")), Verdict::Success);
    /// ```
    fn classify(&self, result: &Result<Res, Err>) -> Verdict;
}

impl<F, V, Res, Err> Classify<Res, Err> for F
where
    F: Fn(&Result<Res, Err>) -> V,
    V: Into<Verdict>,
{
    #[inline]
    fn classify(&self, result: &Result<Res, Err>) -> Verdict {
        self(result).into()
    }
}

/// What [`DefaultClassifier`] makes of a response the inner service returned as `Ok`.
///
/// An [`http::Response`] is judged by its status, as [`HttpClassifier`](crate::HttpClassifier)
/// does: 5xx, 408 and 429 are failures, any other status a success. The other implementations
/// here (the unit type, `bool`, `char`, the numbers, strings, `Vec`, `Option`) are plain
/// values: a success. The provided method says success too, so a response type of your own
/// opts in with an empty `impl`.
///
/// # Examples
///
/// ```
/// use fusebox_engine::Verdict;
/// use fusebox_tower::ResponseVerdict;
///
/// struct Rows(Vec<String>);
/// impl ResponseVerdict for Rows {} // every `Ok(Rows)` is a success
///
/// assert_eq!(Rows(vec![]).verdict(), Verdict::Success);
/// let unavailable = http::Response::builder().status(503).body(()).unwrap();
/// assert_eq!(unavailable.verdict().outcome(), fusebox_engine::Outcome::Failure);
/// ```
#[diagnostic::on_unimplemented(
    message = "the default classifier does not know what a `{Self}` response means",
    note = "implement `ResponseVerdict` for it (an empty `impl` makes every `Ok` a success), or \
            give the layer a classifier: `.classify(ResultClassifier)` or a closure"
)]
pub trait ResponseVerdict {
    /// What this response means to the breaker: a success unless the implementation says
    /// otherwise.
    ///
    /// ```
    /// use fusebox_engine::Verdict;
    /// use fusebox_tower::ResponseVerdict;
    /// assert_eq!(String::from("ok").verdict(), Verdict::Success);
    /// ```
    #[inline]
    fn verdict(&self) -> Verdict {
        Verdict::Success
    }
}

impl<B> ResponseVerdict for http::Response<B> {
    #[inline]
    fn verdict(&self) -> Verdict {
        crate::http_classifier::response_verdict(self)
    }
}

macro_rules! plain_responses {
    ($($t:ty),* $(,)?) => {
        $(impl ResponseVerdict for $t {})*
    };
}

plain_responses!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    String,
    &str,
    std::borrow::Cow<'_, str>,
    Box<str>,
    std::sync::Arc<str>,
);

impl<T> ResponseVerdict for Vec<T> {}
impl<T> ResponseVerdict for Option<T> {}

/// The classifier a [`BreakerLayer`](crate::BreakerLayer) starts with: an `Ok` response is
/// judged by its [`ResponseVerdict`] (an [`http::Response`] by its status, as
/// [`HttpClassifier`](crate::HttpClassifier) does; a plain value is a success), an `Err` is a
/// failure of kind `"error"`.
///
/// For a response type with no `ResponseVerdict`, implement it or name a classifier with
/// [`classify`](crate::BreakerLayer::classify): under this classifier, a service whose response
/// has none is not a `Service`, and the compiler reports that unsatisfied `Service` bound.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Failure, Verdict};
/// use fusebox_tower::{Classify, DefaultClassifier};
///
/// let ok = http::Response::new(());
/// let busy = http::Response::builder().status(500).body(()).unwrap();
/// assert_eq!(DefaultClassifier.classify(&Ok::<_, ()>(ok)), Verdict::Success);
/// assert_eq!(
///     DefaultClassifier.classify(&Ok::<_, ()>(busy)),
///     Verdict::Failure(Failure::of_kind("http_5xx"))
/// );
/// assert_eq!(DefaultClassifier.classify(&Ok::<_, ()>(())), Verdict::Success);
/// assert_eq!(
///     DefaultClassifier.classify(&Err::<(), _>("refused")),
///     Verdict::Failure(Failure::of_kind("error"))
/// );
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DefaultClassifier;

impl<Res: ResponseVerdict, Err> Classify<Res, Err> for DefaultClassifier {
    #[inline]
    fn classify(&self, result: &Result<Res, Err>) -> Verdict {
        match result {
            Ok(response) => response.verdict(),
            Err(_) => Failure::of_kind(ERROR_KIND).into(),
        }
    }
}

/// `Ok` is a success and `Err` a failure of kind `"error"`, whatever the response: for
/// services whose responses have no [`ResponseVerdict`], and for HTTP services whose statuses
/// should not count.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Failure, Verdict};
/// use fusebox_tower::{Classify, ResultClassifier};
///
/// struct Opaque;
/// assert_eq!(ResultClassifier.classify(&Ok::<_, ()>(Opaque)), Verdict::Success);
/// let busy = http::Response::builder().status(503).body(()).unwrap();
/// assert_eq!(ResultClassifier.classify(&Ok::<_, ()>(busy)), Verdict::Success);
/// assert_eq!(
///     ResultClassifier.classify(&Err::<(), _>(std::io::ErrorKind::TimedOut)),
///     Verdict::Failure(Failure::of_kind("error"))
/// );
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ResultClassifier;

impl<Res, Err> Classify<Res, Err> for ResultClassifier {
    #[inline]
    fn classify(&self, result: &Result<Res, Err>) -> Verdict {
        match result {
            Ok(_) => Verdict::Success,
            Err(_) => Failure::of_kind(ERROR_KIND).into(),
        }
    }
}
