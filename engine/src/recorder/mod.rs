//! Recording calls for replay: [`CallRecorder`], a bounded buffer of [`CallRecord`]s that
//! breakers switched to record ([`Breaker::record_to`](crate::Breaker::record_to)) push each
//! call into, and a reader drains.
//!
//! The buffer ([`blocks`]) is allocated whole when the recorder is made and cut into blocks
//! that each thread claims one at a time and fills with plain stores: a push is a store of the
//! entry and a `Release` store of the block's count, never a locked instruction, a lock or an
//! allocation (a thread claims its next block once a block). A push that finds no room drops
//! the entry and counts it ([`CallRecorder::dropped`]): recording never makes a call wait.
//!
//! An entry is 24 bytes: the arrival, the duration, the outcome and the breaker as a number
//! in the recorder's table of names, which a breaker enters once, when it is attached
//! ([`Shared::attach`]). A drain turns the numbers back into names.
//!
//! # Synchronization
//!
//! - **Entries**: the buffer's own protocol (blocks.rs): a push's writes of the entry happen
//!   before the drain that takes it.
//! - **Names**: a `std` mutex, taken when a breaker is attached and once per drain, never by
//!   a call. A breaker's number is entered before the attachment that carries it is published
//!   (recording.rs), so a drain that pops an entry finds its name.
//! - **`dropped`**: a `Relaxed` count. It is a statistic that publishes nothing; a reader may
//!   see it a moment behind the entries.
//!
//! The buffer's atomics go through the loom shim (loom-tests/tests/recording.rs models the
//! blocks' hand-over); the names and the drop count are not part of any protocol.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::{Name, RejectReason};

mod blocks;

use blocks::Blocks;
pub(crate) use blocks::Lane;

/// How a recorded call ended.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{CallOutcome, RejectReason};
/// assert_eq!(CallOutcome::Rejected(RejectReason::Open).label(), "rejected");
/// assert_eq!(CallOutcome::Ignored.label(), "ignored");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallOutcome {
    /// Admitted and recorded as a success.
    Success,
    /// Admitted and recorded as a failure (also a permit dropped while its thread panicked).
    Failure,
    /// Admitted and recorded as neither, or its permit dropped unrecorded.
    Ignored,
    /// Not admitted, for this reason.
    Rejected(RejectReason),
}

impl CallOutcome {
    /// The outcome's label: `success`, `failure`, `ignored` or `rejected`.
    ///
    /// ```
    /// assert_eq!(fusebox_engine::CallOutcome::Success.label(), "success");
    /// ```
    pub fn label(self) -> &'static str {
        match self {
            CallOutcome::Success => "success",
            CallOutcome::Failure => "failure",
            CallOutcome::Ignored => "ignored",
            CallOutcome::Rejected(_) => "rejected",
        }
    }

    /// Why the call was rejected; `None` for an admitted call.
    ///
    /// ```
    /// use fusebox_engine::{CallOutcome, RejectReason};
    /// assert_eq!(CallOutcome::Rejected(RejectReason::Ramp).reject_reason(), Some(RejectReason::Ramp));
    /// assert_eq!(CallOutcome::Failure.reject_reason(), None);
    /// ```
    pub fn reject_reason(self) -> Option<RejectReason> {
        match self {
            CallOutcome::Rejected(reason) => Some(reason),
            _ => None,
        }
    }
}

/// One call of a recording.
///
/// Times are nanoseconds on the clock of the breaker that recorded the call: on a
/// [`ManualClock`](crate::ManualClock) they are exact.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fusebox_engine::{Breaker, CallOutcome, CallRecorder, ManualClock, Policy};
/// let clock = ManualClock::new();
/// let b = Breaker::with_clock("db", Policy::default(), clock.clone());
/// let recorder = CallRecorder::new(16);
/// b.record_to(&recorder, 1.0);
/// clock.advance(Duration::from_millis(5));
/// let permit = b.try_acquire()?;
/// clock.advance(Duration::from_millis(20));
/// permit.failure();
/// let call = &recorder.drain()[0];
/// assert_eq!(call.breaker(), "db");
/// assert_eq!(call.at_nanos(), 5_000_000);
/// assert_eq!(call.outcome(), CallOutcome::Failure);
/// assert_eq!(call.duration_nanos(), Some(20_000_000));
/// # Ok::<(), fusebox_engine::Rejected>(())
/// ```
#[derive(Clone)]
pub struct CallRecord {
    at_nanos: u64,
    /// From admission to record; meaningless for a rejection.
    duration_nanos: u64,
    breaker: Name,
    outcome: CallOutcome,
}

/// A call as the buffer holds it: [`CallRecord`] with its breaker as a number in the
/// recorder's table of names.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    at_nanos: u64,
    /// From admission to record; 0 for a rejection.
    duration_nanos: u64,
    breaker: u32,
    outcome: CallOutcome,
}

const _: () = assert!(std::mem::size_of::<Entry>() == 24);

impl Entry {
    /// What a buffer's entries hold before their first write.
    const EMPTY: Entry = Entry {
        at_nanos: 0,
        duration_nanos: 0,
        breaker: 0,
        outcome: CallOutcome::Ignored,
    };

    /// An admitted call of breaker number `breaker`: it arrived at `at_nanos` and ended with
    /// `outcome` at `now`.
    #[inline]
    pub(crate) fn admitted(breaker: u32, at_nanos: u64, now: u64, outcome: CallOutcome) -> Self {
        Entry {
            at_nanos,
            // Saturating: a clock never goes backwards, but a caller's clock may.
            duration_nanos: now.saturating_sub(at_nanos),
            breaker,
            outcome,
        }
    }

    /// A call of breaker number `breaker` rejected at `at_nanos` for `reason`.
    #[inline]
    pub(crate) fn rejected(breaker: u32, at_nanos: u64, reason: RejectReason) -> Self {
        Entry {
            at_nanos,
            duration_nanos: 0,
            breaker,
            outcome: CallOutcome::Rejected(reason),
        }
    }
}

impl CallRecord {
    /// When the call arrived (was admitted or rejected), in nanoseconds on its breaker's clock.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("db", Policy::default(), ManualClock::new());
    /// let r = CallRecorder::new(4);
    /// b.record_to(&r, 1.0);
    /// b.try_acquire().unwrap().success();
    /// assert_eq!(r.drain()[0].at_nanos(), 0);
    /// ```
    pub fn at_nanos(&self) -> u64 {
        self.at_nanos
    }

    /// The name of the breaker that recorded the call.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("db", Policy::default(), ManualClock::new());
    /// let r = CallRecorder::new(4);
    /// b.record_to(&r, 1.0);
    /// b.try_acquire().unwrap().success();
    /// assert_eq!(r.drain()[0].breaker(), "db");
    /// ```
    pub fn breaker(&self) -> &str {
        self.breaker.as_str()
    }

    /// How the call ended.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("db", Policy::default(), ManualClock::new());
    /// let r = CallRecorder::new(4);
    /// b.record_to(&r, 1.0);
    /// drop(b.try_acquire().unwrap());
    /// assert_eq!(r.drain()[0].outcome(), CallOutcome::Ignored);
    /// ```
    pub fn outcome(&self) -> CallOutcome {
        self.outcome
    }

    /// From admission to the outcome's record, in nanoseconds; `None` for a rejected call.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let b = Breaker::with_clock("db", Policy::default(), ManualClock::new());
    /// let r = CallRecorder::new(4);
    /// b.record_to(&r, 1.0);
    /// b.force_open();
    /// assert!(b.try_acquire().is_err());
    /// assert_eq!(r.drain()[0].duration_nanos(), None);
    /// ```
    pub fn duration_nanos(&self) -> Option<u64> {
        match self.outcome {
            CallOutcome::Rejected(_) => None,
            _ => Some(self.duration_nanos),
        }
    }
}

impl fmt::Debug for CallRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallRecord")
            .field("at_nanos", &self.at_nanos)
            .field("breaker", &self.breaker())
            .field("outcome", &self.outcome)
            .field("duration_nanos", &self.duration_nanos())
            .finish()
    }
}

/// The buffer, its drop count and its table of names, shared by a recorder's handles and the
/// breakers it is attached to (through an [`Attachment`]).
pub(crate) struct Shared {
    buffer: Blocks,
    dropped: AtomicU64,
    names: Mutex<Names>,
}

/// The names of the breakers a recorder was attached to, numbered in attachment order.
#[derive(Default)]
struct Names {
    by_number: Vec<Name>,
    numbers: HashMap<Box<str>, u32>,
}

/// A recorder as one breaker holds it: the buffer, and the breaker's number in its table of
/// names, loaded together so that a call never pairs one recorder with another's number.
pub(crate) struct Attachment {
    pub(crate) shared: Arc<Shared>,
    pub(crate) breaker: u32,
}

/// A bounded buffer of recorded calls, shared by the breakers switched to record into it
/// ([`Breaker::record_to`](crate::Breaker::record_to)).
///
/// A handle: cloning it costs a reference-count increment and every clone is the same buffer.
/// The whole buffer is allocated by [`new`](Self::new) (24 bytes an entry) and shared out
/// between the recording threads in blocks of `capacity / 64` entries (1 to 4096): a call
/// writes into its thread's block with plain stores. A call that finds no room (its block
/// full and no free block left) is not recorded but counted in [`dropped`](Self::dropped),
/// so recording never blocks nor allocates on a call. A drain frees the blocks it emptied.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, CallOutcome, CallRecorder, ManualClock, Policy};
/// let recorder = CallRecorder::new(2);
/// let b = Breaker::with_clock("db", Policy::default(), ManualClock::new());
/// b.record_to(&recorder, 1.0);
/// for _ in 0..3 {
///     b.try_acquire().unwrap().success();
/// }
/// assert_eq!(recorder.len(), 2);
/// assert_eq!(recorder.dropped(), 1);
/// let calls = recorder.drain();
/// assert!(calls.iter().all(|c| c.outcome() == CallOutcome::Success));
/// assert!(recorder.is_empty());
/// ```
#[derive(Clone)]
pub struct CallRecorder {
    shared: Arc<Shared>,
}

impl CallRecorder {
    /// The largest capacity [`new`](Self::new) accepts: ten million calls, 240 MB
    /// ([`MAX_RECORD_CAPACITY`](fusebox_policies::MAX_RECORD_CAPACITY), the config file's
    /// limit).
    ///
    /// ```
    /// assert_eq!(fusebox_engine::CallRecorder::MAX_CAPACITY, 10_000_000);
    /// ```
    pub const MAX_CAPACITY: usize = fusebox_policies::MAX_RECORD_CAPACITY;

    /// A recorder that keeps up to `capacity` calls until they are drained.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0 or above [`MAX_CAPACITY`](Self::MAX_CAPACITY).
    ///
    /// ```
    /// let recorder = fusebox_engine::CallRecorder::new(1000);
    /// assert_eq!(recorder.capacity(), 1000);
    /// ```
    pub fn new(capacity: usize) -> CallRecorder {
        assert!(
            (1..=Self::MAX_CAPACITY).contains(&capacity),
            "a call recorder's capacity must be in 1..={}, got {capacity}",
            Self::MAX_CAPACITY
        );
        CallRecorder {
            shared: Arc::new(Shared {
                buffer: Blocks::new(capacity),
                dropped: AtomicU64::new(0),
                names: Mutex::new(Names::default()),
            }),
        }
    }

    /// How many calls it can hold.
    ///
    /// ```
    /// assert_eq!(fusebox_engine::CallRecorder::new(8).capacity(), 8);
    /// ```
    pub fn capacity(&self) -> usize {
        self.shared.buffer.capacity()
    }

    /// How many calls it holds now.
    ///
    /// ```
    /// assert_eq!(fusebox_engine::CallRecorder::new(8).len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.shared.buffer.len()
    }

    /// Whether it holds no call.
    ///
    /// ```
    /// assert!(fusebox_engine::CallRecorder::new(8).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.shared.buffer.len() == 0
    }

    /// Calls not recorded because the buffer was full, since the recorder was made.
    ///
    /// ```
    /// assert_eq!(fusebox_engine::CallRecorder::new(8).dropped(), 0);
    /// ```
    pub fn dropped(&self) -> u64 {
        // Relaxed: a statistic (see the module docs).
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Takes every call buffered so far (calls recorded while it runs may or may not be
    /// among them), thread by thread, each thread's calls in the order it recorded them.
    ///
    /// A call is recorded when it ends, so even one thread's calls may differ from the order
    /// of their arrival times by a call's duration: sort by [`CallRecord::at_nanos`] where
    /// the order matters.
    ///
    /// ```
    /// # use fusebox_engine::*;
    /// let r = CallRecorder::new(8);
    /// let b = Breaker::with_clock("db", Policy::default(), ManualClock::new());
    /// b.record_to(&r, 1.0);
    /// b.try_acquire().unwrap().success();
    /// assert_eq!(r.drain().len(), 1);
    /// assert!(r.drain().is_empty());
    /// ```
    pub fn drain(&self) -> Vec<CallRecord> {
        let mut out = Vec::new();
        let names = self
            .shared
            .names
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.shared.buffer.drain(|e| {
            // Every number in an entry was entered before the breaker could push it.
            if let Some(breaker) = names.by_number.get(e.breaker as usize) {
                out.push(CallRecord {
                    at_nanos: e.at_nanos,
                    duration_nanos: e.duration_nanos,
                    breaker: breaker.clone(),
                    outcome: e.outcome,
                });
            }
        });
        out
    }

    /// Whether `a` and `b` are handles of the same recorder.
    ///
    /// ```
    /// use fusebox_engine::CallRecorder;
    /// let a = CallRecorder::new(8);
    /// assert!(CallRecorder::ptr_eq(&a, &a.clone()));
    /// assert!(!CallRecorder::ptr_eq(&a, &CallRecorder::new(8)));
    /// ```
    pub fn ptr_eq(a: &CallRecorder, b: &CallRecorder) -> bool {
        Arc::ptr_eq(&a.shared, &b.shared)
    }

    /// The buffer, as a breaker holds it.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The handle of a buffer a breaker holds.
    pub(crate) fn from_shared(shared: Arc<Shared>) -> Self {
        CallRecorder { shared }
    }
}

impl Shared {
    /// The attachment of breaker `name` to this recorder: its number in the table of names,
    /// entered now if the name is new. Called when a breaker is switched to record, never by
    /// a call.
    pub(crate) fn attach(self: &Arc<Self>, name: &Name) -> Attachment {
        let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        let names = &mut *names;
        let breaker = match names.numbers.get(name.as_str()) {
            Some(&n) => n,
            None => {
                // More names than `u32` numbers would take 4 billion attachments; the last
                // number is then shared, and a drain names those calls after its first owner.
                let n = u32::try_from(names.by_number.len()).unwrap_or(u32::MAX);
                if n != u32::MAX {
                    names.by_number.push(name.clone());
                    names.numbers.insert(name.as_str().into(), n);
                }
                n
            }
        };
        Attachment {
            shared: Arc::clone(self),
            breaker,
        }
    }

    /// The calling thread's lane in the buffer, for [`Shared::push`].
    pub(crate) fn lane(&self) -> Arc<Lane> {
        self.buffer.lane()
    }

    /// Buffers `call` in `lane`, the calling thread's, or counts it dropped if there is no
    /// room for it.
    #[inline]
    pub(crate) fn push(&self, lane: &Lane, call: Entry) {
        if !self.buffer.push_in(lane, call) {
            // Relaxed: a statistic (see the module docs).
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl fmt::Debug for CallRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallRecorder")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .field("dropped", &self.dropped())
            .finish()
    }
}
