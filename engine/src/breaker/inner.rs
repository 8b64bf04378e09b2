//! The breaker's shared state, [`Inner`]: its hot, busy and cold parts, how it is built, and
//! the three accesses every other part goes through: [`Inner::word`], [`Inner::window`] and
//! [`Inner::exchange`].
//!
//! # Synchronization
//!
//! - **State word** (`Hot::state`): loaded `Acquire` by `word`, changed only by `exchange`, a
//!   `compare_exchange` that is `AcqRel` on success (it acquires what the previous changer
//!   published and releases what this thread wrote before it) and `Acquire` on failure (the
//!   caller decides again on the word it gets).
//! - **Window pointer** (`Hot::window`): the shared [`UNMADE`] until the breaker's first record
//!   or policy swap installs a store of its own ([`Inner::window`]), with a `compare_exchange`
//!   from `UNMADE` (`AcqRel` on success, publishing the zeroed store; `Acquire` on failure,
//!   reading the store another installed). Then `Release`-stored by a policy swap after the
//!   new store is cleared (transition.rs), and `Acquire`-loaded by every reader. It never
//!   holds `UNMADE` again, and stores are never freed before the breaker: it points into
//!   `Cold::store` or `Extras::stores`. A swap installs a store before it changes the policy,
//!   so while the pointer holds `UNMADE` the policy is the one the breaker was made with, and
//!   the store a first record makes has its shape. Readers that find no store read an empty
//!   window ([`Inner::window_if_made`]) and install nothing.
//! - **Hot configuration** (`Hot::config`): a seqlock, see config.rs. Construction loads the
//!   first policy before the breaker is shared.
//! - **Extras**: allocated on first use through a [`LazyBox`] (under loom, at construction);
//!   the adaptive limiter's atomics in them follow adaptive/'s protocol. Their telemetry (the
//!   history, the subscribers, the latency histograms, the rejections by reason) is
//!   statistics behind `std` locks and atomics, outside every protocol above, and so is the
//!   call recorder a recorded breaker pushes into (recording.rs).
//! - **Reference counts** (`Busy::counts`): the strong and weak counts of handle.rs, which
//!   also drops the data ([`Inner::drop_data`]) and frees the allocation. `Cold::me` is the
//!   allocation's address, for code that holds only `&Inner`.
//!
//! # Layout
//!
//! `Inner` is the hot part, then the busy part, then the cold part, with no padding of their
//! own: `Hot` is 128 bytes, so the busy part starts 128 bytes in (checked at compile time).
//! What isolates the parts is the allocation's alignment, which [`Packing`] picks per breaker:
//!
//! - [`Packing::Isolated`] (the default) aligns the allocation to a cache-line block (128 bytes
//!   on x86-64 and aarch64, a pair of lines the prefetcher fetches together) and pads it to a
//!   whole number of blocks. The hot part is then one block, which only transitions and
//!   policy swaps write, and the busy part, which every call writes, the next: threads calling
//!   one breaker never invalidate the line their decisions read. The cold part follows, on
//!   the busy part's block and the next.
//! - [`Packing::Compact`] (`BreakerBuilder::compact`) asks only for the fields' own
//!   alignment. The fields and their offsets are the same, so every decision is too; the
//!   allocation is not padded, and the allocator no longer carves an aligned block out of a
//!   larger one (about 80 bytes of resident memory per breaker on glibc), but the parts may
//!   share lines with each other and with neighbouring allocations. For many mostly idle
//!   breakers. Whatever the cold part sheds, a compact breaker sheds too.

use std::sync::atomic::AtomicU64 as StatU64;

use arc_swap::ArcSwap;
use fusebox_policies::{Policy, Window};

use super::config::HotConfig;
use super::flags::Flags;
use super::handle::{Counts, Handle, Me, Packing};
use super::history::History;
use super::kinds::FailureKinds;
use crate::clock::ClockSource;
use crate::counter::LaneCounters;
use crate::error::{OwnName, RejectReason};
use crate::feed::TransitionFeed;
use crate::latency::LatencyRecorder;
use crate::lazy::LazyBox;
use crate::state::StateWord;
use crate::sync::{AtomicPtr, AtomicU32, AtomicU64, Lock, Mutex, Ordering};
use crate::window::stripes::Stripes;
use crate::window::{UNMADE, WindowStore};

/// Read-mostly: everything an admission or a success reads, on one cache-line block (see the
/// module's layout notes).
///
/// `repr(C)` keeps the fields in the order the hot path reads them: the state word, then the
/// flags (the first field of `config`), then the window pointer and the stripes a record
/// follows, then the open deadline a timed rejection reads. The episode values the slow paths
/// read come last.
#[repr(C)]
pub(super) struct Hot {
    pub(super) state: AtomicU64,
    /// The policy's hot values, `flags` first (see config.rs).
    pub(super) config: HotConfig,
    pub(super) window: AtomicPtr<WindowStore>,
    /// A striped breaker's stripes (see window/stripes.rs); `None` for a breaker made
    /// otherwise.
    pub(super) stripes: Option<Box<Stripes>>,
    pub(super) open_until: AtomicU64,
    pub(super) open_epoch: AtomicU32,
    pub(super) ramp_epoch: AtomicU32,
    pub(super) ramp_start: AtomicU64,
    /// The feed this breaker also sends its transitions to (a registry's), if any. Read only
    /// by transitions; here because this line has room and the others have none.
    pub(super) feed: Option<TransitionFeed>,
}

// `Hot` must fit one block (128 bytes on x86-64 and aarch64), so that an acquire and a success
// touch no other line of the breaker: the state word, the flags, the window pointer, the
// stripes and `open_until` must stay on it. It is 128 bytes on 64-bit targets. Loom's atomics
// are larger.
#[cfg(not(loom))]
const _: () = assert!(std::mem::size_of::<Hot>() <= 128);

/// Written on every call: the window cursor, the counters and the reference counts, on a block
/// of their own in an isolated breaker (see the module's layout notes).
///
/// The last handle's drop reaches its fields by pointer projection and drops them without
/// covering `counts`, which weak handles may be using meanwhile (see [`Inner::drop_data`]).
pub(super) struct Busy {
    /// The strong and weak counts of the breaker's handles (handle.rs). Never dropped.
    pub(super) counts: Counts,
    /// Rejections of an open breaker and failures: bumped with plain stores, one word per
    /// thread (see counter.rs).
    pub(super) lane_counts: LaneCounters,
    /// Outcomes recorded into the current count window since it was last cleared.
    pub(super) cursor: AtomicU64,
    /// Outcomes recorded into count windows before their last clear.
    pub(super) cursor_base: AtomicU64,
    /// Moves of the cursor's count into `cursor_base` begun and finished: a reader of the
    /// counters that saw a move begin retries until it has finished (see
    /// `Inner::rebase_cursor`), so the lifetime counters never read low.
    pub(super) cursor_moves_started: AtomicU32,
    pub(super) cursor_moves_done: AtomicU32,
    /// Successes and failures not counted by the cursor (probes, time windows, other states).
    pub(super) other_recorded: AtomicU64,
    pub(super) ignored: AtomicU64,
    pub(super) slow: AtomicU64,
    pub(super) consecutive_failures: AtomicU32,
    pub(super) permits_out: AtomicU32,
    /// The rate limit's theoretical arrival time (GCRA, clock ns; rate.rs).
    pub(super) rate_tat: AtomicU64,
    /// Taken by policy swaps and by what must not race one (config.rs). One byte each, these
    /// two locks fill the part's padding; no call takes either.
    pub(super) config_lock: Lock,
    /// Orders the publication of episodes' values (see [`Inner::publish_episode`]); taken
    /// after `config_lock` when both are held.
    pub(super) publish_lock: Lock,
}

/// Read by slow paths alone.
pub(super) struct Cold {
    /// The breaker's name: inline up to 22 bytes, so that a rejection copies it without
    /// touching a reference count; shared beyond.
    pub(super) name: OwnName,
    pub(super) clock: ClockSource,
    pub(super) policy: ArcSwap<Policy>,
    /// The window store of the policy the breaker was made with, made by the first record or
    /// policy swap: a breaker never called holds none. `Hot::window` points to it or into
    /// `Extras::stores`.
    pub(super) store: LazyBox<WindowStore>,
    /// What most breakers never use, allocated on first use (see [`Extras`]).
    pub(super) extras: LazyBox<Extras>,
    /// This breaker's allocation: how an `Open` rejection gets a handle and the timer thread a
    /// weak one, which must not keep the breaker alive (handle.rs).
    pub(super) me: Me,
}

// `Busy` fits one block, so that it spans no more lines than it did on a block of its own.
#[cfg(not(loom))]
const _: () = assert!(std::mem::size_of::<Busy>() <= 128);

// The counts are never dropped (see `Busy::drop_owned`): they own nothing.
#[cfg(not(loom))]
const _: () = assert!(!std::mem::needs_drop::<Counts>());

impl Busy {
    /// Drops the fields of `Busy` that own something, and none other: `counts` must stay
    /// usable by weak handles on other threads, so no reference covering it is made.
    ///
    /// # Safety
    ///
    /// `this` points to a live `Busy` that nothing else uses but through its counts, and is
    /// not used afterwards but through them.
    unsafe fn drop_owned(this: *mut Busy) {
        // SAFETY: the caller's; each field is dropped once, through a pointer to it alone.
        unsafe {
            std::ptr::drop_in_place(&raw mut (*this).lane_counts);
        }
    }

    /// Names every field, so that one added fails to compile here until `drop_owned` says
    /// whether it must be dropped.
    #[allow(dead_code)]
    fn every_field(&self) {
        let Busy {
            counts: _,
            lane_counts: _,
            cursor: _,
            cursor_base: _,
            cursor_moves_started: _,
            cursor_moves_done: _,
            other_recorded: _,
            ignored: _,
            slow: _,
            consecutive_failures: _,
            permits_out: _,
            rate_tat: _,
            config_lock: _,
            publish_lock: _,
        } = self;
    }
}

// The busy part and the cold part fit two blocks (168 bytes of 256): one block more and every
// isolated breaker grows by a whole block.
#[cfg(not(loom))]
const _: () = assert!(std::mem::size_of::<Busy>() + std::mem::size_of::<Cold>() <= 256);

// The busy part starts on a block boundary of an isolated breaker's allocation, which is
// aligned to a block: it shares no line with the hot part. (Loom's atomics are larger.)
#[cfg(not(loom))]
const _: () = assert!(std::mem::offset_of!(Inner, busy) % Packing::BLOCK == 0);

/// Parts of a breaker that only a policy swap to another window shape, a transition, a
/// rejection other than `Open` or a latency histogram needs: kept out of the breaker's own
/// allocation, which they would grow by several cache lines.
#[derive(Default)]
pub(super) struct Extras {
    /// Window stores of the shapes swapped in; never removed before the breaker is dropped.
    /// Boxed so that a store keeps its address when the vector grows: `Hot::window` may
    /// point to it.
    #[allow(clippy::vec_box)]
    pub(super) stores: Mutex<Vec<Box<WindowStore>>>,
    /// When the current `Open` episode started (clock ns): a policy swap that shortens the
    /// open period measures the new period from it. Written with `open_until`, under
    /// `publish_lock`, and read under it; here because no line of the breaker has room.
    pub(super) open_since: AtomicU64,
    /// This breaker's own subscribers (`Breaker::subscribe`).
    pub(super) subscribers: TransitionFeed,
    /// The last transitions and the count of each change (history.rs).
    pub(super) history: std::sync::Mutex<History>,
    /// Per-thread latency histograms, made by the first call timed for them (behind a
    /// pointer: 520 bytes that only a breaker with a latency histogram uses).
    pub(super) latency: LazyBox<LatencyRecorder>,
    /// Rejections for every reason but `Open`, which `Busy::lane_counts` counts on its own
    /// (indexed by `RejectReason::index`; `Relaxed` statistics).
    pub(super) rejected_by: [StatU64; RejectReason::ALL.len()],
    /// Failures by kind (kinds.rs), behind a pointer: made by the first failure with a kind,
    /// 200 bytes most breakers never use.
    pub(super) failure_kinds: LazyBox<std::sync::Mutex<FailureKinds>>,
    /// The latest Retry-After deadline a failure gave (clock ns; kinds.rs).
    pub(super) retry_after_until: StatU64,
    /// First attempts and retries of `run`, for its retry budget (run/budget.rs).
    #[cfg(feature = "tokio")]
    pub(super) retry_budget: super::run::RetryBudget,
    /// Attempts of `run` that drew chaos since the policy's chaos last changed: the index of
    /// the next draw (run/chaos.rs; `Relaxed`).
    #[cfg(feature = "tokio")]
    pub(super) chaos_draws: StatU64,
    /// The adaptive bulkhead's limit and window (adaptive/); made with the extras by the
    /// first policy that sets one.
    pub(super) adaptive: super::adaptive::AdaptiveLimiter,
    /// The call recorder this breaker records into, while the `RECORD` flag is on
    /// (recording.rs); made by the first `record_to`.
    pub(super) recorder: std::sync::OnceLock<Box<super::recording::RecorderSlot>>,
    /// The share of calls recorded, as a threshold a thread-local draw must fall below
    /// (recording.rs; `Relaxed`).
    pub(super) record_threshold: StatU64,
    /// The breaker's name as a shared string, which every transition event carries: made
    /// once with the extras (the breaker keeps a short name inline, not shared).
    pub(super) name: std::sync::Arc<str>,
    /// Acquires of a recovering breaker, which spread its admissions over the ramp
    /// (acquire.rs). Here, not on the busy line: only a breaker that has opened recovers, and
    /// opening allocates the extras.
    pub(super) ramp_counter: AtomicU64,
    /// Jitter's and retries' random state (splitmix64, seeded from the name; transition.rs).
    /// Here, not on the busy line, which holds the reference counts instead: it is drawn
    /// when a breaker opens, which allocates the extras anyway, and by `run`'s retries.
    pub(super) rng: AtomicU64,
}

impl Extras {
    /// Heap bytes the history holds (an estimate).
    pub(super) fn history_bytes(&self) -> usize {
        let history = self
            .history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        history.heap_bytes()
    }
}

/// A breaker's shared state. Built only inside its handle's allocation (handle.rs), and never
/// dropped whole: [`Inner::drop_data`] drops its parts but the counts. `repr(C)` keeps the
/// parts in the order the module's layout notes give.
#[repr(C)]
pub(crate) struct Inner {
    pub(super) hot: Hot,
    pub(super) busy: Busy,
    pub(super) cold: Cold,
}

impl Inner {
    /// A closed breaker with an empty window, as its first handle.
    pub(super) fn new_handle(
        name: std::sync::Arc<str>,
        policy: Policy,
        clock: ClockSource,
        striped: bool,
        packing: Packing,
        feed: Option<TransitionFeed>,
    ) -> Handle {
        let inner = Handle::new(packing, |me| Inner {
            hot: Hot {
                state: AtomicU64::new(StateWord::CLOSED.bits()),
                config: HotConfig::new(),
                // `UNMADE` until the first record or policy swap (see `Inner::window`).
                window: AtomicPtr::new(unmade()),
                stripes: striped.then(|| Box::new(Stripes::new())),
                open_until: AtomicU64::new(0),
                open_epoch: AtomicU32::new(u32::MAX),
                ramp_epoch: AtomicU32::new(u32::MAX),
                ramp_start: AtomicU64::new(0),
                feed,
            },
            busy: Busy {
                counts: Counts::new(packing),
                lane_counts: LaneCounters::new(),
                cursor: AtomicU64::new(0),
                cursor_base: AtomicU64::new(0),
                cursor_moves_started: AtomicU32::new(0),
                cursor_moves_done: AtomicU32::new(0),
                other_recorded: AtomicU64::new(0),
                ignored: AtomicU64::new(0),
                slow: AtomicU64::new(0),
                consecutive_failures: AtomicU32::new(0),
                permits_out: AtomicU32::new(0),
                rate_tat: AtomicU64::new(0),
                config_lock: Lock::new(()),
                publish_lock: Lock::new(()),
            },
            cold: Cold {
                name: OwnName::new(&name),
                clock,
                policy: ArcSwap::new(crate::intern::shared(policy.clone())),
                store: LazyBox::new(),
                extras: LazyBox::new(),
                me,
            },
        });
        inner.load_hot_config(&policy);
        // The extras' and the first store's pointers are `std`'s atomics, which loom does not
        // model: under it both exist from the start, so every access to them is ordered by
        // loom's own primitives. The window pointer still holds `UNMADE`: the models check
        // its installation.
        #[cfg(loom)]
        {
            inner.extras();
            inner
                .cold
                .store
                .get_or_init(|| WindowStore::new(policy.window()));
        }
        inner
    }

    /// The parts allocated on first use.
    pub(super) fn extras(&self) -> &Extras {
        self.cold.extras.get_or_init(|| {
            let seed = self
                .cold
                .name
                .as_str()
                .bytes()
                .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                    (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
                });
            Extras {
                name: self.cold.name.to_arc(),
                rng: AtomicU64::new(seed),
                ..Extras::default()
            }
        })
    }

    /// Drops the breaker's data: everything but the reference counts, which weak handles on
    /// other threads may still be using. Called once, by the last strong handle's drop.
    ///
    /// # Safety
    ///
    /// `this` points to a live `Inner` whose strong count reached 0 (with the `Acquire` that
    /// orders every handle's uses before this); afterwards only its counts are used.
    pub(super) unsafe fn drop_data(this: std::ptr::NonNull<Inner>) {
        let this = this.as_ptr();
        {
            // SAFETY: live; a shared reference to the cold part alone, which covers no count.
            let cold = unsafe { &(*this).cold };
            // Held by this breaker's `ArcSwap` and the `Arc` loaded here alone: the last user.
            crate::intern::forget_if_unshared(&cold.policy.load_full(), 2);
        }
        // SAFETY: the caller's; each part is dropped once, in declaration order, through a
        // pointer to that part alone, so no reference covers the counts.
        unsafe {
            std::ptr::drop_in_place(&raw mut (*this).hot);
            Busy::drop_owned(&raw mut (*this).busy);
            std::ptr::drop_in_place(&raw mut (*this).cold);
        }
    }

    #[inline]
    pub(super) fn word(&self) -> StateWord {
        // Acquire: see the module's synchronization notes.
        StateWord::from_bits(self.hot.state.load(Ordering::Acquire))
    }

    /// The window store in force, installed now if the breaker has none yet: for records and
    /// policy swaps.
    #[inline(always)]
    pub(super) fn window(&self) -> &WindowStore {
        match self.window_if_made() {
            Some(store) => store,
            None => self.install_first_window(),
        }
    }

    /// The window store in force, if a record or a policy swap has installed one: for readers,
    /// to whom a breaker without one has an empty window.
    #[inline(always)]
    pub(super) fn window_if_made(&self) -> Option<&WindowStore> {
        let store = self.window_or_unmade();
        (!matches!(store, WindowStore::Unmade)).then_some(store)
    }

    /// The window store in force, or [`UNMADE`] until a record or a policy swap installs one:
    /// for the fast paths, which test the store's kind anyway and leave `UNMADE` to the slow
    /// path.
    #[inline(always)]
    pub(super) fn window_or_unmade(&self) -> &WindowStore {
        // Acquire: pairs with the exchange that installed the first store and with the Release
        // in `swap_policy` that publishes a cleared one.
        let ptr = self.hot.window.load(Ordering::Acquire);
        // SAFETY: `hot.window` only ever holds the address of `UNMADE` (a static), of the store
        // boxed in `cold.store` or of one boxed in `Extras::stores`, which never removes one,
        // each taken once the box is in place; both are dropped only with `self`, so the store
        // outlives `&self`. Stores are only read or changed through atomics (`&` access), and
        // `UNMADE` has none.
        // Loading it through `ArcSwap` instead measured 11.0 ns against 2.9 ns per call.
        unsafe { &*ptr }
    }

    /// Installs the first window store, of the policy in force, unless a racing record or
    /// swap installed one first (see the module's synchronization notes).
    #[cold]
    #[inline(never)]
    fn install_first_window(&self) -> &WindowStore {
        self.install_window(self.cold.policy.load().window())
    }

    /// Installs `cold.store` as the first window store, made now of `shape` unless a racing
    /// record or swap made it first (then of that one's shape), unless a store is installed
    /// already; returns the store installed.
    pub(super) fn install_window(&self, shape: Window) -> &WindowStore {
        let store = self.cold.store.get_or_init(|| WindowStore::new(shape));
        let ptr = std::ptr::from_ref(store).cast_mut();
        // AcqRel on success: releases the zeroed store to readers that Acquire the pointer.
        // Acquire on failure: the store another installed, published by its exchange or swap.
        match self
            .hot
            .window
            .compare_exchange(unmade(), ptr, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => store,
            // SAFETY: as in `window_or_unmade`: the store another installed, which is not
            // `UNMADE` (the pointer never goes back to it), lives as long as `&self`.
            Err(installed) => unsafe { &*installed },
        }
    }

    /// One exchange of the state word; on failure, the word found.
    #[inline]
    pub(super) fn exchange(&self, current: StateWord, next: StateWord) -> Result<(), StateWord> {
        // AcqRel on success: Acquire what the previous changer published, Release what we
        // wrote before. Acquire on failure: the caller decides again on the word it gets.
        self.hot
            .state
            .compare_exchange(
                current.bits(),
                next.bits(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .map(|_| ())
            .map_err(StateWord::from_bits)
    }

    /// Copies the hot values of `policy` into their atomics (see config.rs). Callers hold
    /// `config_lock` or own the breaker exclusively.
    pub(super) fn load_hot_config(&self, policy: &Policy) {
        let rules = HotConfig::rules(policy, self.hot.stripes.is_some());
        // Read by the writer, which holds `config_lock`: only it changes the rule bits.
        if rules.contains(Flags::CONSECUTIVE)
            && !self.hot.config.flags().contains(Flags::CONSECUTIVE)
        {
            // Successes were not counted while the rule was off: start a fresh run.
            // Relaxed: published with the configuration by the seqlock's Release below.
            self.busy.consecutive_failures.store(0, Ordering::Relaxed);
        }
        self.configure_adaptive(policy, self.hot.config.flags());
        self.hot.config.load(policy, rules);
    }
}

/// [`UNMADE`]'s address, as the window pointer holds it. Only ever read through: `UNMADE` has
/// no field to write.
fn unmade() -> *mut WindowStore {
    std::ptr::from_ref(&UNMADE).cast_mut()
}
