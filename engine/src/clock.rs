//! Clocks: where a breaker reads the time, in nanoseconds since the clock's own origin.
//!
//! A breaker reads its clock only when a decision needs it: opening (to set the deadline),
//! probing, ramping, slow-call timing and time windows. A closed-state success on a count window
//! with no slow-call rule reads no clock at all.
//!
//! # Synchronization
//!
//! - **The quanta clock's origin** (`ORIGIN`, a `OnceLock`): made once per process, by the
//!   first [`QuantaClock::new`] or reading: the one `quanta::Clock` (with its calibration) and
//!   the raw reading taken as time zero. The `OnceLock` publishes both to every thread that
//!   gets them, and they are never written again, so a reading costs the `OnceLock`'s check
//!   and a raw read: no lock and no atomic of this crate. All [`QuantaClock`]s and the timer
//!   thread read this one origin.
//! - **[`ManualClock`]**: one `AtomicU64` of nanoseconds (through the loom shim, so models see
//!   it), in an `Arc` its clones and its breakers share. [`advance`](ManualClock::advance) is
//!   a `fetch_update` (a read-modify-write, so concurrent advances all count),
//!   [`set`](ManualClock::set) a store and [`now_nanos`](Clock::now_nanos) a load, all
//!   `Relaxed`: the time is a single value that publishes nothing. A thread's readings follow
//!   the value's one order of changes (it never reads a value older than one it has read), so
//!   a clock that is only advanced never goes back for any thread, though a thread may see a
//!   change a moment late. Code that needs the time ordered with other data synchronizes
//!   through the breaker's own atomics.
//! - **Other clocks** (a [`ClockSource`]'s `other`) synchronize themselves ([`Clock`] is
//!   `Sync`); they are written once, when the breaker is built, before it is shared.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use crate::sync::{Arc, AtomicU64, Ordering};

/// A source of monotonic time for breakers.
///
/// Implement it to drive breakers from your own time source; [`QuantaClock`] is the default
/// and [`ManualClock`] is the virtual clock for tests and simulations.
///
/// # Examples
///
/// ```
/// use fusebox_engine::Clock;
///
/// struct Frozen;
/// impl Clock for Frozen {
///     fn now_nanos(&self) -> u64 { 42 }
/// }
/// assert_eq!(Frozen.now().as_nanos(), 42);
/// ```
pub trait Clock: Send + Sync + 'static {
    /// Nanoseconds since this clock's origin. Must never go backwards.
    fn now_nanos(&self) -> u64;

    /// The time since this clock's origin.
    ///
    /// ```
    /// let c = fusebox_engine::ManualClock::new();
    /// use fusebox_engine::Clock;
    /// assert_eq!(c.now(), std::time::Duration::ZERO);
    /// ```
    fn now(&self) -> Duration {
        Duration::from_nanos(self.now_nanos())
    }
}

/// The production clock: the TSC through `quanta`, with its origin at first use in the process.
///
/// All `QuantaClock`s share one calibrated `quanta::Clock`, so they agree with each other and
/// with the process-wide open-deadline timer.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Clock, QuantaClock};
/// let c = QuantaClock::new();
/// let a = c.now_nanos();
/// assert!(c.now_nanos() >= a);
/// ```
#[derive(Clone, Copy, Default)]
pub struct QuantaClock {
    _private: (),
}

struct Origin {
    clock: quanta::Clock,
    start: u64,
}

fn origin() -> &'static Origin {
    static ORIGIN: OnceLock<Origin> = OnceLock::new();
    ORIGIN.get_or_init(|| {
        let clock = quanta::Clock::new();
        let start = clock.raw();
        Origin { clock, start }
    })
}

impl QuantaClock {
    /// The process-wide TSC clock.
    ///
    /// ```
    /// let _clock = fusebox_engine::QuantaClock::new();
    /// ```
    pub fn new() -> Self {
        origin();
        QuantaClock { _private: () }
    }
}

/// Nanoseconds on the process-wide quanta clock, for code that has no `QuantaClock` at hand.
#[inline]
pub(crate) fn quanta_now() -> u64 {
    let o = origin();
    // `delta_as_nanos` saturates a `raw` that would go backwards across cores.
    o.clock.delta_as_nanos(o.start, o.clock.raw())
}

impl Clock for QuantaClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        quanta_now()
    }
}

impl fmt::Debug for QuantaClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("QuantaClock")
    }
}

/// A virtual clock that moves only when told to; clones share one time.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fusebox_engine::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let view = clock.clone();
/// clock.advance(Duration::from_secs(3));
/// assert_eq!(view.now(), Duration::from_secs(3));
/// clock.set(Duration::from_secs(1));
/// assert_eq!(view.now(), Duration::from_secs(1));
/// ```
#[derive(Clone)]
pub struct ManualClock {
    cell: Arc<ClockCell>,
}

/// What a breaker on a clock other than the quanta clock points to: a [`ManualClock`]'s time,
/// or any other clock. One cell for both keeps a breaker's clock one pointer wide.
pub(crate) struct ClockCell {
    /// A manual clock's nanoseconds; unused by another clock.
    nanos: AtomicU64,
    /// Any clock but the two of this crate; `None` for a manual clock.
    other: Option<Box<dyn Clock>>,
    /// Loom models only: see [`ManualClock::with_model_timer`].
    #[cfg(loom)]
    model_timer: bool,
}

impl ClockCell {
    fn manual(#[cfg(loom)] model_timer: bool) -> Self {
        ClockCell {
            nanos: AtomicU64::new(0),
            other: None,
            #[cfg(loom)]
            model_timer,
        }
    }
}

impl ManualClock {
    /// A clock at time zero.
    ///
    /// ```
    /// use fusebox_engine::Clock;
    /// assert_eq!(fusebox_engine::ManualClock::new().now_nanos(), 0);
    /// ```
    pub fn new() -> Self {
        ManualClock {
            cell: Arc::new(ClockCell::manual(
                #[cfg(loom)]
                false,
            )),
        }
    }

    /// Loom models only: a clock whose breakers hand their open deadlines to a timer, as
    /// breakers on the quanta clock do when the timer thread runs. There is no timer thread
    /// under loom: the model plays it with [`Breaker::loom_timer_fires`](crate::Breaker).
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn with_model_timer() -> Self {
        ManualClock {
            cell: Arc::new(ClockCell::manual(true)),
        }
    }

    /// Moves the clock forward by `by` (saturating at `u64::MAX` nanoseconds, ~584 years).
    ///
    /// ```
    /// use fusebox_engine::Clock;
    /// let c = fusebox_engine::ManualClock::new();
    /// c.advance(std::time::Duration::from_millis(5));
    /// assert_eq!(c.now_nanos(), 5_000_000);
    /// ```
    pub fn advance(&self, by: Duration) {
        let by = duration_nanos(by);
        // Relaxed: the clock is a single value; callers that need ordering with other data
        // synchronize through the breaker's own atomics.
        let _ = self
            .cell
            .nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_add(by))
            });
    }

    /// Sets the clock to `to` since its origin. Setting it backwards is allowed for tests; the
    /// engine saturates every subtraction, so time standing still or stepping back is safe.
    ///
    /// ```
    /// use fusebox_engine::Clock;
    /// let c = fusebox_engine::ManualClock::new();
    /// c.set(std::time::Duration::from_secs(2));
    /// assert_eq!(c.now().as_secs(), 2);
    /// ```
    pub fn set(&self, to: Duration) {
        // Relaxed: see `advance`.
        self.cell.nanos.store(duration_nanos(to), Ordering::Relaxed);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        // Relaxed: see `advance`.
        self.cell.nanos.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_manual(f, self.now_nanos())
    }
}

/// How a manual clock reading `nanos` shows in `Debug`, on its own or as a breaker's clock.
fn fmt_manual(f: &mut fmt::Formatter<'_>, nanos: u64) -> fmt::Result {
    write!(f, "ManualClock({:?})", Duration::from_nanos(nanos))
}

/// Whole nanoseconds in `d`, saturating at `u64::MAX`.
#[inline]
pub(crate) fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The clock a breaker holds, one pointer wide: `None` for the process-wide [`QuantaClock`],
/// else the [`ClockCell`] of a [`ManualClock`] (shared with it) or of any other clock (behind
/// its vtable). The common clocks dispatch without a vtable.
#[derive(Clone)]
pub(crate) struct ClockSource(Option<Arc<ClockCell>>);

impl ClockSource {
    /// The process-wide quanta clock.
    pub(crate) const QUANTA: ClockSource = ClockSource(None);

    /// The form a breaker stores `clock` in: the two clocks of this crate are recognised by
    /// type, so they dispatch without a vtable; any other goes behind one.
    pub(crate) fn from_clock<C: Clock>(clock: C) -> Self {
        let any: &dyn std::any::Any = &clock;
        if any.is::<QuantaClock>() {
            ClockSource::QUANTA
        } else if let Some(manual) = any.downcast_ref::<ManualClock>() {
            ClockSource(Some(Arc::clone(&manual.cell)))
        } else {
            ClockSource(Some(Arc::new(ClockCell {
                other: Some(Box::new(clock)),
                ..ClockCell::manual(
                    #[cfg(loom)]
                    false,
                )
            })))
        }
    }

    /// Whether this is the process-wide quanta clock.
    #[inline]
    pub(crate) fn is_quanta(&self) -> bool {
        self.0.is_none()
    }

    #[inline]
    pub(crate) fn now(&self) -> u64 {
        match &self.0 {
            None => quanta_now(),
            Some(cell) => match &cell.other {
                // Relaxed: see `ManualClock::advance`.
                None => cell.nanos.load(Ordering::Relaxed),
                Some(other) => other.now_nanos(),
            },
        }
    }

    /// Whether the process-wide timer watches open deadlines on this clock (starting it on
    /// first use): the quanta clock's, if the thread runs.
    #[cfg(not(loom))]
    pub(crate) fn timer_watches(&self) -> bool {
        self.is_quanta() && crate::timer::running(quanta_now)
    }

    /// Under loom: a `ManualClock` made for a model that plays the timer.
    #[cfg(loom)]
    pub(crate) fn timer_watches(&self) -> bool {
        self.0.as_ref().is_some_and(|cell| cell.model_timer)
    }
}

// One pointer: a breaker's cold part holds it.
#[cfg(not(loom))]
const _: () = assert!(std::mem::size_of::<ClockSource>() == std::mem::size_of::<usize>());

impl fmt::Debug for ClockSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("QuantaClock"),
            Some(cell) if cell.other.is_none() => fmt_manual(f, self.now()),
            Some(_) => f.write_str("Clock"),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_breaker_s_manual_clock_shows_as_the_clock_itself() {
        let clock = ManualClock::new();
        clock.advance(Duration::from_millis(1500));
        let source = ClockSource::from_clock(clock.clone());
        assert_eq!(format!("{source:?}"), format!("{clock:?}"));
        assert_eq!(format!("{clock:?}"), "ManualClock(1.5s)");
        assert_eq!(format!("{:?}", ClockSource::QUANTA), "QuantaClock");
    }
}
