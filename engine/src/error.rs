//! Outcomes, rejections and transition events: the small types callers branch on.
//!
//! An `Open` rejection on a clock other than the quanta clock holds its breaker through a
//! [`Clocked`], one counted reference of a [`ClockedName`] with its type erased; the count is
//! the breaker's own, so its synchronization is that of breaker/handle.rs. Nothing else here
//! is shared between threads.

use std::fmt;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::quanta_now;
use crate::state::{State, TransitionReason};

/// How a guarded call ended, as far as the breaker is concerned.
///
/// # Examples
///
/// ```
/// use fusebox_engine::Outcome;
/// let classify = |r: &Result<u32, &str>| match r {
///     Ok(_) => Outcome::Success,
///     Err("cancelled") => Outcome::Ignored,
///     Err(_) => Outcome::Failure,
/// };
/// assert_eq!(classify(&Err("cancelled")), Outcome::Ignored);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The call succeeded.
    Success,
    /// The call failed: it counts towards the failure rate.
    Failure,
    /// Neither: not recorded in the window (a cancellation, a client error).
    Ignored,
}

/// Why a call was not admitted.
///
/// # Examples
///
/// ```
/// assert_eq!(fusebox_engine::RejectReason::Open.to_string(), "open");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectReason {
    /// The breaker is open.
    Open,
    /// The breaker is half-open and every probe slot is taken.
    HalfOpenFull,
    /// The bulkhead has every permit taken.
    BulkheadFull,
    /// The breaker is recovering and this call fell outside the admitted share.
    Ramp,
    /// The breaker was forced open.
    ForcedOpen,
    /// The policy's rate limit admits no call before [`Rejected::retry_after`].
    RateLimited,
}

impl RejectReason {
    /// Every reason, in declaration order.
    ///
    /// ```
    /// assert_eq!(fusebox_engine::RejectReason::ALL.len(), 6);
    /// ```
    pub const ALL: [RejectReason; 6] = [
        RejectReason::Open,
        RejectReason::HalfOpenFull,
        RejectReason::BulkheadFull,
        RejectReason::Ramp,
        RejectReason::ForcedOpen,
        RejectReason::RateLimited,
    ];

    /// The reason's position in [`ALL`](Self::ALL).
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The reason as a label value for exporters: the snake_case of its name.
    ///
    /// ```
    /// assert_eq!(fusebox_engine::RejectReason::HalfOpenFull.as_label(), "half_open_full");
    /// ```
    pub fn as_label(self) -> &'static str {
        match self {
            RejectReason::Open => "open",
            RejectReason::HalfOpenFull => "half_open_full",
            RejectReason::BulkheadFull => "bulkhead_full",
            RejectReason::Ramp => "ramp",
            RejectReason::ForcedOpen => "forced_open",
            RejectReason::RateLimited => "rate_limited",
        }
    }
}

// `index` relies on `ALL` being in declaration order.
const _: () = {
    let mut i = 0;
    while i < RejectReason::ALL.len() {
        assert!(RejectReason::ALL[i] as usize == i);
        i += 1;
    }
};

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RejectReason::Open => "open",
            RejectReason::HalfOpenFull => "half-open, every probe slot taken",
            RejectReason::BulkheadFull => "bulkhead full",
            RejectReason::Ramp => "recovering, outside the admitted share",
            RejectReason::ForcedOpen => "forced open",
            RejectReason::RateLimited => "rate limited",
        })
    }
}

/// A breaker's name, copied into rejections without touching a reference count: a rejection
/// must cost a load or two, and an `Arc` clone is a contended read-modify-write.
///
/// 24 bytes, laid out by `repr(u8)`: the tag in the first byte, then an inline name in the
/// other 23, or a pointer pair at offset 8. The tag's spare values tag the error and the result
/// a rejection travels in, so that neither needs a tag of its own: a `Result<u32,
/// CallError<()>>` is 32 bytes. [`OwnName`] shares this layout for its two kinds, so that a
/// rejection copies an inline name as three whole words ([`OwnName::to_name`]).
#[derive(Clone)]
#[repr(u8)]
pub(crate) enum Name {
    /// Made from an inline [`OwnName`]'s words ([`OwnName::to_name`]), never by name.
    #[allow(dead_code)]
    Inline(InlineName) = Name::INLINE,
    Shared(SharedName) = Name::SHARED,
    /// A breaker on a clock other than the process-wide quanta clock, for an `Open`
    /// rejection: its `retry_after` counts down on that clock.
    Clocked(Clocked),
}

/// A breaker's name and clock, as an `Open` rejection on a clock other than the process-wide
/// quanta clock holds them: implemented by the breaker, which this module does not name, and
/// held through a [`Clocked`].
///
/// # Safety
///
/// `retain` and `release` count references to a `Self` as `Arc` does: a value stays valid
/// while any reference taken by `retain` (or handed to [`Clocked::from_raw`]) is not given
/// back by `release`.
pub(crate) unsafe trait ClockedName: Send + Sync + Sized {
    /// The breaker's name.
    fn name(&self) -> &str;
    /// The breaker's clock, in nanoseconds since its origin.
    fn now_nanos(&self) -> u64;
    /// Takes one more reference to `*this`.
    ///
    /// # Safety
    ///
    /// The caller holds a reference to `*this`.
    unsafe fn retain(this: NonNull<Self>);
    /// Gives back one reference to `*this`, which may drop it.
    ///
    /// # Safety
    ///
    /// The caller holds a reference to `*this` and does not use it after this call.
    unsafe fn release(this: NonNull<Self>);
}

/// One counted reference to a [`ClockedName`], its type erased: a pointer and the functions of
/// its type, as `std::task::RawWaker` erases a waker. A `Box<dyn ClockedName>` would allocate
/// per rejection; this costs the reference-count increment alone.
pub(crate) struct Clocked {
    ptr: NonNull<()>,
    vtable: &'static ClockedVtable,
}

/// The functions of one [`ClockedName`] type, on an erased pointer.
struct ClockedVtable {
    name: unsafe fn(NonNull<()>) -> NonNull<str>,
    now_nanos: unsafe fn(NonNull<()>) -> u64,
    retain: unsafe fn(NonNull<()>),
    release: unsafe fn(NonNull<()>),
}

/// The [`ClockedVtable`] of `T`.
struct VtableOf<T>(std::marker::PhantomData<T>);

impl<T: ClockedName> VtableOf<T> {
    const VTABLE: ClockedVtable = ClockedVtable {
        name: Self::name,
        now_nanos: Self::now_nanos,
        retain: Self::retain,
        release: Self::release,
    };

    /// # Safety
    ///
    /// `ptr` is a `T` a reference is held to.
    unsafe fn name(ptr: NonNull<()>) -> NonNull<str> {
        // SAFETY: the caller holds a reference, so the `T` is valid.
        NonNull::from(unsafe { ptr.cast::<T>().as_ref() }.name())
    }

    /// # Safety
    ///
    /// As for `name`.
    unsafe fn now_nanos(ptr: NonNull<()>) -> u64 {
        // SAFETY: the caller holds a reference, so the `T` is valid.
        unsafe { ptr.cast::<T>().as_ref() }.now_nanos()
    }

    /// # Safety
    ///
    /// As for `ClockedName::retain`.
    unsafe fn retain(ptr: NonNull<()>) {
        // SAFETY: passed on from the caller.
        unsafe { T::retain(ptr.cast()) }
    }

    /// # Safety
    ///
    /// As for `ClockedName::release`.
    unsafe fn release(ptr: NonNull<()>) {
        // SAFETY: passed on from the caller.
        unsafe { T::release(ptr.cast()) }
    }
}

impl Clocked {
    /// Takes over the reference to `*ptr` the caller holds.
    ///
    /// # Safety
    ///
    /// The caller holds a reference to `*ptr` (in `T`'s count) and gives it to the result,
    /// which gives it back with `T::release` when dropped.
    pub(crate) unsafe fn from_raw<T: ClockedName>(ptr: NonNull<T>) -> Self {
        Clocked {
            ptr: ptr.cast(),
            vtable: &VtableOf::<T>::VTABLE,
        }
    }

    /// The breaker's name.
    pub(crate) fn name(&self) -> &str {
        // SAFETY: `self` holds a reference, so the value and its name live as long as `&self`.
        unsafe { (self.vtable.name)(self.ptr).as_ref() }
    }

    /// The breaker's clock, in nanoseconds since its origin.
    pub(crate) fn now_nanos(&self) -> u64 {
        // SAFETY: `self` holds a reference.
        unsafe { (self.vtable.now_nanos)(self.ptr) }
    }
}

impl Clone for Clocked {
    fn clone(&self) -> Self {
        // SAFETY: `self` holds a reference; the one taken here goes to the copy.
        unsafe { (self.vtable.retain)(self.ptr) };
        Clocked {
            ptr: self.ptr,
            vtable: self.vtable,
        }
    }
}

impl Drop for Clocked {
    /// Inline, handing the release its fields by value: a drop that takes the `Clocked`'s
    /// address makes every value that may hold one be built in memory, rejections and the
    /// `Result`s holding them among them (as for [`SharedName`]). That cost
    /// `try_acquire().is_err()` five stores a rejection.
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `self` holds a reference to `ptr`, of `vtable`'s type, and is not used again.
        unsafe { release_clocked(self.ptr, self.vtable) }
    }
}

/// Gives back one reference of a [`Clocked`], out of line (see its `Drop`).
///
/// # Safety
///
/// The caller holds a reference to `ptr`, a value of the type `vtable` is for, and does not
/// use it after this call.
#[cold]
#[inline(never)]
unsafe fn release_clocked(ptr: NonNull<()>, vtable: &'static ClockedVtable) {
    // SAFETY: passed on from the caller.
    unsafe { (vtable.release)(ptr) }
}

// SAFETY: a `Clocked` shares its value between threads as an `Arc` does, and every
// `ClockedName` is `Send + Sync`.
unsafe impl Send for Clocked {}
// SAFETY: as for `Send`; `&Clocked` only reads the value through `&`.
unsafe impl Sync for Clocked {}

/// A name too long to copy inline: a counted reference, given back by value.
///
/// `Arc`'s own drop hands its slow path the `Arc`'s address, and a rejection whose name may be
/// dropped that way must then be built in memory, not in registers, even when its name is
/// inline: five stores a rejection. Moving the `Arc` out and dropping it out of line keeps the
/// address to itself.
pub(crate) struct SharedName(ManuallyDrop<Arc<str>>);

impl Clone for SharedName {
    fn clone(&self) -> Self {
        SharedName(self.0.clone())
    }
}

impl Drop for SharedName {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: taken once, here, and `self.0` is not used again.
        release_shared(unsafe { ManuallyDrop::take(&mut self.0) });
    }
}

/// Drops one reference to a shared name, out of line (see [`SharedName`]).
#[cold]
#[inline(never)]
fn release_shared(name: Arc<str>) {
    drop(name);
}

/// Up to 22 bytes of name and their length: the 23 bytes after a [`Name`]'s tag.
#[derive(Clone, Copy)]
#[repr(C)]
pub(crate) struct InlineName {
    bytes: [u8; INLINE_NAME],
    len: u8,
}

const INLINE_NAME: usize = 22;

impl InlineName {
    fn as_str(&self) -> &str {
        let bytes = &self.bytes[..self.len as usize];
        // SAFETY: the only maker of an `InlineName` is `OwnName::new`, which copies a whole
        // `str` of at most 22 bytes and its length; copies keep both. So the first `len`
        // bytes are that `str`'s: valid UTF-8. Not checked again: a registry compares names
        // on every lookup.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }
}

/// A breaker's own name, as its rejections copy it: inline or shared, never [`Clocked`]. A
/// copy made into a rejection and dropped with it then tests one tag, not two. Laid out as
/// [`Name`] is, with the same tags.
#[derive(Clone)]
#[repr(u8)]
pub(crate) enum OwnName {
    Inline(InlineName) = Name::INLINE,
    Shared(SharedName) = Name::SHARED,
}

impl OwnName {
    pub(crate) fn new(name: &Arc<str>) -> Self {
        if name.len() <= INLINE_NAME {
            let mut bytes = [0; INLINE_NAME];
            bytes[..name.len()].copy_from_slice(name.as_bytes());
            OwnName::Inline(InlineName {
                bytes,
                len: name.len() as u8,
            })
        } else {
            OwnName::Shared(SharedName(ManuallyDrop::new(name.clone())))
        }
    }

    /// The name.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            OwnName::Inline(n) => n.as_str(),
            OwnName::Shared(s) => &s.0,
        }
    }

    /// The name as a shared string: a new one for an inline name (a breaker keeps no other
    /// copy of it).
    pub(crate) fn to_arc(&self) -> Arc<str> {
        match self {
            OwnName::Inline(n) => Arc::from(n.as_str()),
            OwnName::Shared(s) => Arc::clone(&s.0),
        }
    }

    /// Heap bytes the name holds (an estimate: a shared one's allocation).
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            OwnName::Inline(_) => 0,
            OwnName::Shared(s) => s.0.len() + 2 * std::mem::size_of::<usize>(),
        }
    }

    /// A copy, as a rejection holds it.
    #[inline(always)]
    pub(crate) fn to_name(&self) -> Name {
        match self {
            OwnName::Inline(_) => {
                // SAFETY: an inline `OwnName` is 24 initialized bytes (its tag, 22 of name and
                // the length: no padding), read as three words. The words with the first byte
                // set to `Name::INLINE` (which it holds already) are a `Name::Inline` of the
                // same name: both types are `repr(u8)` with this variant laid out alike.
                unsafe {
                    let [first, second, third] = std::mem::transmute_copy::<_, [u64; 3]>(self);
                    // The tag written as a constant, not copied: the compiler then knows the
                    // copy's kind, and that it is none of the values that tag a `Result`
                    // (`try_acquire().is_err()` took 2.2 ns, not 1.4, when it tested it). The
                    // copy still moves whole words: one written byte, then a whole-word load of
                    // the copy, stalls store forwarding.
                    let first = first & !Name::TAG_BITS | Name::INLINE_BITS;
                    std::mem::transmute::<[u64; 3], Name>([first, second, third])
                }
            }
            OwnName::Shared(s) => Name::Shared(s.clone()),
        }
    }
}

// `OwnName::to_name` reads an inline `OwnName` as three words.
const _: () = assert!(std::mem::size_of::<OwnName>() == 24 && std::mem::size_of::<Name>() == 24);

impl Name {
    const INLINE: u8 = 0;
    const SHARED: u8 = 1;
    /// The bits of a name's first word that hold its tag (its first byte), and those of
    /// [`INLINE`](Self::INLINE).
    const TAG_BITS: u64 = u64::from_ne_bytes([0xFF, 0, 0, 0, 0, 0, 0, 0]);
    const INLINE_BITS: u64 = u64::from_ne_bytes([Name::INLINE, 0, 0, 0, 0, 0, 0, 0]);

    #[cfg(test)]
    pub(crate) fn new(name: &Arc<str>) -> Self {
        OwnName::new(name).to_name()
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            Name::Inline(n) => n.as_str(),
            Name::Shared(s) => &s.0,
            Name::Clocked(c) => c.name(),
        }
    }

    /// The time on the clock the rejecting breaker runs on.
    fn now_nanos(&self) -> u64 {
        match self {
            Name::Clocked(c) => c.now_nanos(),
            Name::Inline(_) | Name::Shared(_) => quanta_now(),
        }
    }
}

/// When to come back, packed for [`Rejected`]'s one word: the top two bits say whether the
/// rest holds a deadline (nanoseconds on the rejecting breaker's clock) and whose. `0b10`: the
/// end of an open period, in the other 62 bits (146 years). `0b11`: when a rate limit admits
/// the next call, in the low 59 bits (18 years), with the state the breaker was in at
/// bits 59–61.
#[derive(Clone, Copy)]
pub(crate) struct RetryAfter(u64);

impl RetryAfter {
    const TAG: u64 = 3 << 62;
    const VALUE: u64 = (1 << 62) - 1;
    const DEADLINE: u64 = 2 << 62;
    const RATE: u64 = 3 << 62;
    const RATE_VALUE: u64 = (1 << 59) - 1;
    const RATE_STATE_SHIFT: u32 = 59;

    /// Not known.
    pub(crate) const UNKNOWN: Self = RetryAfter(0);

    /// The latest end of an open period a rejection carries as it is: later ones are
    /// clamped to it.
    pub(crate) const LATEST_DEADLINE: u64 = Self::VALUE;

    /// The end of the open period, on the breaker's clock; the clock is read only if asked.
    #[inline]
    pub(crate) fn deadline(nanos: u64) -> Self {
        RetryAfter(Self::DEADLINE | nanos.min(Self::VALUE))
    }

    /// [`deadline`](Self::deadline) for a deadline known to be at most
    /// [`LATEST_DEADLINE`](Self::LATEST_DEADLINE), copied without the clamp: the deadline of a
    /// word marked timed (a breaker marks no other).
    #[inline]
    pub(crate) fn deadline_within_range(nanos: u64) -> Self {
        debug_assert!(
            nanos <= Self::LATEST_DEADLINE,
            "a timed deadline past 146 years"
        );
        RetryAfter(Self::DEADLINE | nanos)
    }

    /// When a rate limit admits the next call, rejected in `state`.
    pub(crate) fn rate_limited(nanos: u64, state: State) -> Self {
        RetryAfter(
            Self::RATE
                | (state.index() as u64) << Self::RATE_STATE_SHIFT
                | nanos.min(Self::RATE_VALUE),
        )
    }

    fn is_known(self) -> bool {
        self.0 & Self::TAG != 0
    }

    fn is_rate_limit(self) -> bool {
        self.0 & Self::TAG == Self::RATE
    }

    fn nanos(self) -> u64 {
        if self.is_rate_limit() {
            self.0 & Self::RATE_VALUE
        } else {
            self.0 & Self::VALUE
        }
    }

    /// The time left until the deadline, on the clock `name` says.
    fn left(self, name: &Name) -> Option<Duration> {
        self.is_known()
            .then(|| Duration::from_nanos(self.nanos().saturating_sub(name.now_nanos())))
    }
}

/// A call the breaker did not admit: why, in which state, and when to come back.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, ManualClock, Policy, RejectReason, State};
/// let breaker = Breaker::with_clock("db", Policy::default(), ManualClock::new());
/// breaker.force_open();
/// let r = breaker.try_acquire().unwrap_err();
/// assert_eq!(r.reason(), RejectReason::ForcedOpen);
/// assert_eq!(r.state(), State::ForcedOpen);
/// assert_eq!(r.retry_after(), None);
/// assert_eq!(r.breaker(), "db");
/// assert_eq!(r.to_string(), "breaker db rejected the call: forced open");
/// ```
//
// 32 bytes: the word, then the name, whose tag's spare values tag a `CallError` and a `Result`
// around it. `repr(C)` keeps the word first: with the name first, a `Permit` fits beside its
// tag in a `Result<Permit, Rejected>`, and the compiler then merged the closed fast path's
// permit with the slow path's and tested the ticket at run time (a closed call took 0.25 ns
// more). Placed after the word, the tag leaves a permit no room, so that result keeps a tag of
// its own.
#[derive(Clone)]
#[repr(C)]
pub struct Rejected {
    /// A known retry time ([`RetryAfter`]'s word: only `Open` and `RateLimited` know one), or
    /// else the reason's and the state's indices. One word, written and copied whole: a
    /// rejection built from several narrow stores and then moved with one wide load stalls
    /// store forwarding, which cost ~6 ns a rejection whenever the compiler moved it through
    /// the stack.
    word: u64,
    name: Name,
}

impl Rejected {
    #[inline]
    pub(crate) fn new(reason: RejectReason, state: State, retry: RetryAfter, name: Name) -> Self {
        Rejected::from_word(Rejected::word_of(reason, state, retry), name)
    }

    /// A rejection of `word` (made by [`word_of`](Self::word_of)) naming `name`.
    #[inline(always)]
    pub(crate) fn from_word(word: u64, name: Name) -> Self {
        Rejected { name, word }
    }

    /// The word of a rejection for `reason`, in `state`, coming back at `retry`.
    #[inline]
    pub(crate) fn word_of(reason: RejectReason, state: State, retry: RetryAfter) -> u64 {
        debug_assert!(
            !retry.is_known()
                || (reason == RejectReason::Open && state == State::Open)
                || (reason == RejectReason::RateLimited && retry.is_rate_limit()),
            "only an open breaker or a rate limit knows when to come back"
        );
        if retry.is_known() {
            retry.0
        } else {
            reason.index() as u64 | (state.index() as u64) << 8
        }
    }

    /// The reason's and the state's indices.
    fn kinds(&self) -> (usize, usize) {
        let retry = RetryAfter(self.word);
        if retry.is_rate_limit() {
            (
                RejectReason::RateLimited.index(),
                (self.word >> RetryAfter::RATE_STATE_SHIFT & 0b111) as usize,
            )
        } else if retry.is_known() {
            (RejectReason::Open.index(), State::Open.index())
        } else {
            (
                (self.word & 0xff) as usize,
                (self.word >> 8 & 0xff) as usize,
            )
        }
    }

    /// Why the call was rejected.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// # let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// # b.force_open();
    /// assert_eq!(b.try_acquire().unwrap_err().reason(), RejectReason::ForcedOpen);
    /// ```
    pub fn reason(&self) -> RejectReason {
        RejectReason::ALL[self.kinds().0 % RejectReason::ALL.len()]
    }

    /// The breaker's state when it rejected the call.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// # let b = Breaker::with_clock("x", Policy::default(), ManualClock::new());
    /// # b.force_open();
    /// assert_eq!(b.try_acquire().unwrap_err().state(), State::ForcedOpen);
    /// ```
    pub fn state(&self) -> State {
        State::from_index(self.kinds().1)
    }

    /// How long until the breaker may admit a call again, when it knows: for `Open`, the time
    /// left in the open period; for `RateLimited`, the time until the rate limit admits the
    /// next call; `None` for the other reasons. Either is a countdown to a fixed deadline,
    /// measured when you call this on the breaker's own clock, the same on every clock: asked
    /// again later, it answers less. The rejection itself reads no clock.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// # use std::time::Duration;
    /// let clock = ManualClock::new();
    /// let b = Breaker::with_clock("x", Policy::default(), clock.clone());
    /// b.force_open();
    /// assert_eq!(b.try_acquire().unwrap_err().retry_after(), None);
    ///
    /// let one_a_second = RateLimit::new(1, Duration::from_secs(1), 1);
    /// let once_a_second = Policy::builder().rate_limit(one_a_second).build()?;
    /// let b = Breaker::with_clock("y", once_a_second, clock.clone());
    /// b.try_acquire().unwrap().success();
    /// let r = b.try_acquire().unwrap_err();
    /// assert_eq!(r.retry_after(), Some(Duration::from_secs(1)));
    /// clock.advance(Duration::from_millis(400));
    /// assert_eq!(r.retry_after(), Some(Duration::from_millis(600)));
    /// # Ok::<(), PolicyError>(())
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        RetryAfter(self.word).left(&self.name)
    }

    /// The name of the breaker that rejected the call.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// # let b = Breaker::with_clock("search", Policy::default(), ManualClock::new());
    /// # b.force_open();
    /// assert_eq!(b.try_acquire().unwrap_err().breaker(), "search");
    /// ```
    pub fn breaker(&self) -> &str {
        self.name.as_str()
    }
}

impl fmt::Debug for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejected")
            .field("breaker", &self.breaker())
            .field("reason", &self.reason())
            .field("state", &self.state())
            .field("retry_after", &self.retry_after())
            .finish()
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "breaker {} rejected the call: {}",
            self.breaker(),
            self.reason()
        )?;
        if let Some(after) = self.retry_after() {
            write!(f, " (retry after {after:?})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejected {}

/// The error of a guarded call: rejected by the breaker, or failed on its own.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, CallError, ManualClock, Policy};
/// let breaker = Breaker::with_clock("io", Policy::default(), ManualClock::new());
/// let r: Result<(), CallError<std::io::Error>> =
///     breaker.call(|| Err(std::io::Error::other("disk on fire")));
/// let err = r.unwrap_err();
/// assert_eq!(err.to_string(), "disk on fire");
/// assert!(std::error::Error::source(&err).is_some());
/// ```
#[derive(Debug, Clone)]
pub enum CallError<E> {
    /// The breaker did not admit the call; it never ran.
    Rejected(Rejected),
    /// The call ran and returned this error.
    Failed(E),
}

impl<E> CallError<E> {
    /// The rejection, if the call was rejected.
    ///
    /// ```
    /// let e: fusebox_engine::CallError<()> = fusebox_engine::CallError::Failed(());
    /// assert!(e.rejected().is_none());
    /// ```
    pub fn rejected(&self) -> Option<&Rejected> {
        match self {
            CallError::Rejected(r) => Some(r),
            CallError::Failed(_) => None,
        }
    }

    /// The call's own error, if it ran and failed.
    ///
    /// ```
    /// let e: fusebox_engine::CallError<u8> = fusebox_engine::CallError::Failed(3);
    /// assert_eq!(e.into_failed(), Some(3));
    /// ```
    pub fn into_failed(self) -> Option<E> {
        match self {
            CallError::Rejected(_) => None,
            CallError::Failed(e) => Some(e),
        }
    }
}

impl<E> From<Rejected> for CallError<E> {
    fn from(r: Rejected) -> Self {
        CallError::Rejected(r)
    }
}

impl<E: fmt::Display> fmt::Display for CallError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Rejected(r) => r.fmt(f),
            CallError::Failed(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for CallError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CallError::Rejected(r) => Some(r),
            CallError::Failed(e) => Some(e),
        }
    }
}

/// A change of state, as sent to subscribers and kept in a breaker's history.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, ManualClock, Policy, State, TransitionReason};
/// let breaker = Breaker::with_clock("cache", Policy::default(), ManualClock::new());
/// let events = breaker.subscribe();
/// let _ = breaker.call(|| Err::<(), _>("down"));
/// breaker.noted("alice: failing over to the replica").force_open();
/// let t = events.try_recv().unwrap();
/// assert_eq!((t.from, t.to, t.reason), (State::Closed, State::ForcedOpen, TransitionReason::ForcedOpen));
/// assert_eq!(&*t.breaker, "cache");
/// assert_eq!((t.window.calls, t.window.failures), (1, 1));
/// assert_eq!(t.note.as_deref(), Some("alice: failing over to the replica"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// The breaker's clock time of the change.
    pub at: Duration,
    /// Why it changed.
    pub reason: TransitionReason,
    /// The window's counts when it changed (read just after the change: a change into
    /// `Closed` by hand empties the window first).
    pub window: WindowCounts,
    /// The operator's note (who, why) given with a manual change through
    /// [`Breaker::noted`](crate::Breaker::noted); `None` for every other change.
    pub note: Option<Arc<str>>,
}

/// A window's counts at one moment: outcomes, failures and slow calls among them.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, Policy, WindowCounts};
/// let b = Breaker::new("db", Policy::default());
/// let _ = b.call(|| Err::<(), _>("down"));
/// b.force_open();
/// assert_eq!(b.history()[0].window, WindowCounts { calls: 1, failures: 1, slow: 0 });
/// ```
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct WindowCounts {
    /// Outcomes in the window.
    pub calls: u64,
    /// Failures among them.
    pub failures: u64,
    /// Slow calls among them (0 while no slow-call rule is set).
    pub slow: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> Name {
        Name::new(&Arc::from("db"))
    }

    #[test]
    fn every_reason_and_state_survive_the_packing() {
        for reason in RejectReason::ALL {
            for state in State::ALL {
                let r = Rejected::new(reason, state, RetryAfter::UNKNOWN, name());
                assert_eq!((r.reason(), r.state()), (reason, state));
                assert_eq!(r.retry_after(), None);
                assert_eq!(r.breaker(), "db");
            }
        }
    }

    /// A breaker name on a clock frozen at `now`.
    struct Frozen(u64);

    // SAFETY: counted by the `Arc` of `clocked`.
    unsafe impl ClockedName for Frozen {
        fn name(&self) -> &str {
            "db"
        }
        fn now_nanos(&self) -> u64 {
            self.0
        }
        unsafe fn retain(this: NonNull<Self>) {
            // SAFETY: `this` came from `Arc::into_raw` and the caller holds a reference.
            unsafe { Arc::increment_strong_count(this.as_ptr()) }
        }
        unsafe fn release(this: NonNull<Self>) {
            // SAFETY: as for `retain`; the caller gives its reference up.
            unsafe { Arc::decrement_strong_count(this.as_ptr()) }
        }
    }

    /// `value` as a counted name, its `Arc` counting the references.
    fn clocked<T: ClockedName>(value: Arc<T>) -> Name {
        let ptr = NonNull::new(Arc::into_raw(value).cast_mut()).expect("an Arc is not null");
        // SAFETY: the reference of `value` passes to the `Clocked`; `T::release` gives it back
        // to the `Arc`.
        Name::Clocked(unsafe { Clocked::from_raw(ptr) })
    }

    #[test]
    fn a_counted_name_is_given_back() {
        let value = Arc::new(Frozen(7));
        let name = clocked(value.clone());
        let copy = name.clone();
        assert_eq!(Arc::strong_count(&value), 3);
        assert_eq!((copy.as_str(), copy.now_nanos()), ("db", 7));
        drop(name);
        drop(copy);
        assert_eq!(Arc::strong_count(&value), 1);
    }

    #[test]
    fn a_known_retry_is_kept_whole_and_means_open() {
        let frozen = clocked(Arc::new(Frozen(0)));
        for nanos in [0, 1, 10_000_000_000, RetryAfter::VALUE] {
            let r = Rejected::new(
                RejectReason::Open,
                State::Open,
                RetryAfter::deadline(nanos),
                frozen.clone(),
            );
            assert_eq!(r.retry_after(), Some(Duration::from_nanos(nanos)));
            assert_eq!((r.reason(), r.state()), (RejectReason::Open, State::Open));
            assert_eq!(r.breaker(), "db");
        }
        // Beyond 62 bits (146 years) the time is clamped, not wrapped into the tag.
        let r = Rejected::new(
            RejectReason::Open,
            State::Open,
            RetryAfter::deadline(u64::MAX),
            frozen.clone(),
        );
        assert_eq!(
            r.retry_after(),
            Some(Duration::from_nanos(RetryAfter::VALUE))
        );
    }

    #[test]
    fn a_deadline_counts_down_on_the_breakers_clock() {
        let clock = Arc::new(std::sync::atomic::AtomicU64::new(0));
        struct Shared(Arc<std::sync::atomic::AtomicU64>);
        // SAFETY: counted by the `Arc` of `clocked`.
        unsafe impl ClockedName for Shared {
            fn name(&self) -> &str {
                "db"
            }
            fn now_nanos(&self) -> u64 {
                self.0.load(std::sync::atomic::Ordering::Relaxed)
            }
            unsafe fn retain(this: NonNull<Self>) {
                // SAFETY: `this` came from `Arc::into_raw` and the caller holds a reference.
                unsafe { Arc::increment_strong_count(this.as_ptr()) }
            }
            unsafe fn release(this: NonNull<Self>) {
                // SAFETY: as for `retain`; the caller gives its reference up.
                unsafe { Arc::decrement_strong_count(this.as_ptr()) }
            }
        }
        let name = clocked(Arc::new(Shared(clock.clone())));
        let r = Rejected::new(
            RejectReason::Open,
            State::Open,
            RetryAfter::deadline(10),
            name,
        );
        assert_eq!(r.retry_after(), Some(Duration::from_nanos(10)));
        clock.store(4, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(r.retry_after(), Some(Duration::from_nanos(6)));
        clock.store(40, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(r.retry_after(), Some(Duration::ZERO));
    }

    // Miri cannot read the TSC the quanta clock runs on.
    #[test]
    #[cfg_attr(miri, ignore)]
    fn a_quanta_deadline_counts_down() {
        let deadline = quanta_now() + 60_000_000_000;
        let r = Rejected::new(
            RejectReason::Open,
            State::Open,
            RetryAfter::deadline(deadline),
            name(),
        );
        let left = r.retry_after().expect("a deadline is known");
        assert!(left <= Duration::from_secs(60) && left > Duration::from_secs(50));
        assert_eq!(r.reason(), RejectReason::Open);
    }

    #[test]
    fn a_shared_name_is_given_back() {
        let text: Arc<str> = "a-name-too-long-to-copy-inline".into();
        let name = Name::new(&text);
        let copy = name.clone();
        assert!(matches!(copy, Name::Shared(_)));
        assert_eq!(Arc::strong_count(&text), 3);
        drop(name);
        drop(copy);
        assert_eq!(Arc::strong_count(&text), 1);
    }

    #[test]
    fn names_of_every_length_read_back_whole() {
        for len in 0..=40 {
            let text: String = "é".repeat(len / 2) + &"x".repeat(len % 2);
            let text: Arc<str> = text.into();
            let name = Name::new(&text);
            assert_eq!(name.as_str(), &*text, "{len} bytes");
            assert_eq!(matches!(name, Name::Inline(_)), text.len() <= INLINE_NAME);
        }
    }

    #[test]
    fn a_rejection_is_the_name_and_one_word() {
        assert_eq!(
            std::mem::size_of::<Rejected>(),
            std::mem::size_of::<Name>() + 8
        );
    }

    #[test]
    fn the_name_tag_tags_the_error_and_the_result() {
        assert_eq!(std::mem::size_of::<Rejected>(), 32);
        assert_eq!(std::mem::size_of::<CallError<()>>(), 32);
        assert_eq!(std::mem::size_of::<Result<u32, CallError<()>>>(), 32);
        assert_eq!(std::mem::size_of::<Result<(), Rejected>>(), 32);
    }

    #[test]
    fn a_copied_inline_name_is_the_same_name() {
        for text in [
            "",
            "a",
            "db",
            "exactly-22-bytes-long!",
            "é-and-ü-in-22-bytes",
        ] {
            let text: Arc<str> = text.into();
            let own = OwnName::new(&text);
            assert!(matches!(own, OwnName::Inline(_)), "{text}");
            let copy = own.to_name();
            assert!(matches!(copy, Name::Inline(_)), "{text}");
            assert_eq!(copy.as_str(), &*text);
            assert_eq!(copy.clone().as_str(), &*text);
        }
    }
}
