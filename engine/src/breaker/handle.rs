//! The breaker's own reference count: [`Handle`] (what a `Breaker` is), [`WeakHandle`] (what
//! the timer holds) and [`Me`] (the breaker's address, kept inside it), in place of
//! `std::sync::Arc<Inner>`.
//!
//! A breaker is one allocation holding an [`Inner`] and nothing else, laid out as its
//! [`Packing`] says (inner.rs). `Arc` puts a 16-byte header of two counts before its value, and
//! an isolated breaker's 128-byte alignment would pad that header to a whole block: 512 bytes
//! for 384. Here the two counts ([`Counts`], with the packing, which the last drop needs to free
//! the allocation) live inside `Inner`, on its busy line, which every call writes anyway: a
//! clone or drop of a handle adds no false sharing to the read-mostly lines.
//!
//! - [`Handle`]: a strong reference. The breaker's data is dropped when the strong count
//!   reaches 0.
//! - [`WeakHandle`]: a weak reference, which does not keep the data alive; the allocation is
//!   freed when the weak count reaches 0. The strong handles together hold one weak
//!   reference, given back by the drop of the data.
//! - [`Me`]: the allocation's address, kept in `Inner` (`Cold::me`), counting nothing: how code
//!   that holds only `&Inner` makes a handle (an `Open` rejection's name) or a weak one (the
//!   timer's target). A pointer made from `&Inner` carries only a shared reference's
//!   permissions, which do not allow freeing the allocation; `Me` keeps the allocation's own.
//!   There is one `Me` per allocation and only [`Handle::new`] makes it, so every `Inner` lives
//!   in the allocation of a handle.
//!
//! # Synchronization
//!
//! std's `Arc` protocol, with its orderings for its reasons (each is repeated where it is
//! used):
//!
//! - **Increments** (a clone; a downgrade) are `Relaxed`: a new reference is made from one
//!   that already keeps the count above 0, and publishes nothing. A count past
//!   [`MAX_COUNT`] aborts the process (only leaked handles get there), so it never wraps.
//! - **Decrements** are `Release`, and the one that reaches 0 is followed by an `Acquire`
//!   load of the same count (std's `Arc` uses a fence, or this load under ThreadSanitizer,
//!   which does not model fences) before the data is dropped (strong) or the memory freed
//!   (weak): every use of the breaker through any handle happens before its destruction.
//! - **Upgrades** (a weak reference to a strong one) are a compare-exchange loop that never
//!   increments from 0, `Acquire` on success and `Relaxed` otherwise, as std's.
//! - Unlike `Arc`, no `get_mut` or `is_unique` exists, so a downgrade needs no lock state on
//!   the weak count: it is a plain increment, as a weak clone is.
//! - The data is dropped part by part ([`Inner::drop_data`]) through pointers that never cover
//!   the counts, which weak handles may still be using on other threads.

use std::alloc::Layout;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;

use super::inner::Inner;
use crate::error::{Clocked, ClockedName};
use crate::sync::{AtomicU32, Ordering, alloc, dealloc};

/// The most references of one kind before the process aborts: half the range, so that the
/// threads racing past the check before one of them aborts cannot wrap the count.
const MAX_COUNT: u32 = i32::MAX as u32;

/// How a breaker's allocation is aligned: what isolates its hot part from its busy part (see
/// inner.rs's layout notes). Kept with the counts, which outlive the data, so that the last
/// weak handle frees the allocation with the layout it was made with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Packing {
    /// Aligned and padded to [`Packing::BLOCK`]: the hot part and the busy part on blocks of
    /// their own.
    Isolated,
    /// The fields' own alignment: smaller, with no isolation.
    Compact,
}

impl Packing {
    /// The block isolated breakers are aligned to: what `crossbeam_utils::CachePadded` pads
    /// to on the target (128 bytes on x86-64 and aarch64, where the prefetcher fetches lines
    /// in pairs).
    pub(super) const BLOCK: usize = std::mem::align_of::<crossbeam_utils::CachePadded<u8>>();

    /// An isolated breaker's allocation: `Inner` aligned to a block and padded to whole blocks,
    /// worked out at compile time.
    const ISOLATED: Layout = match Layout::new::<Inner>().align_to(Self::BLOCK) {
        Ok(aligned) => aligned.pad_to_align(),
        Err(_) => panic!("a type's alignment is a valid one"),
    };

    /// The layout of an allocation holding an `Inner` packed this way.
    pub(super) fn layout(self) -> Layout {
        match self {
            Packing::Compact => Layout::new::<Inner>(),
            Packing::Isolated => Self::ISOLATED,
        }
    }
}

/// The strong and the weak count of one breaker (see the module's notes), and how its
/// allocation is packed.
pub(super) struct Counts {
    /// Strong handles alive.
    strong: AtomicU32,
    /// Weak handles alive, plus one held by all the strong handles together.
    weak: AtomicU32,
    /// Written once, before the breaker is shared; read by the drop that frees it.
    packing: Packing,
}

impl Counts {
    /// One strong handle, and the weak reference the strong ones hold.
    pub(super) fn new(packing: Packing) -> Self {
        Counts {
            strong: AtomicU32::new(1),
            weak: AtomicU32::new(1),
            packing,
        }
    }

    /// How the allocation holding these counts is packed.
    pub(super) fn packing(&self) -> Packing {
        self.packing
    }
}

/// A strong reference to a breaker: one pointer.
pub(crate) struct Handle {
    ptr: NonNull<Inner>,
}

/// A weak reference to a breaker: keeps its memory, not its data.
pub(crate) struct WeakHandle {
    ptr: NonNull<Inner>,
}

/// The address of the allocation an `Inner` lives in, kept inside it (see the module's notes).
pub(crate) struct Me {
    ptr: NonNull<Inner>,
}

// SAFETY: a `Handle` shares an `Inner` between threads as `Arc<Inner>` does, and `Inner` is
// `Send + Sync` (checked below); the counts are atomics.
unsafe impl Send for Handle {}
// SAFETY: as for `Send`.
unsafe impl Sync for Handle {}
// SAFETY: a `WeakHandle` only touches the counts (atomics) unless upgraded to a `Handle`.
unsafe impl Send for WeakHandle {}
// SAFETY: as for `Send`.
unsafe impl Sync for WeakHandle {}
// SAFETY: `Me` is an address; it is used only through `&self` to make a `Handle` or a
// `WeakHandle`, which are `Send + Sync`.
unsafe impl Send for Me {}
// SAFETY: as for `Send`.
unsafe impl Sync for Me {}

// What makes the `unsafe impl`s above sound.
const _: fn() = || {
    fn shared_between_threads<T: Send + Sync>() {}
    shared_between_threads::<Inner>();
};

/// The counts of the `Inner` at `ptr`.
///
/// # Safety
///
/// The allocation at `ptr` is live for `'a` (the weak count is above 0 throughout).
#[inline(always)]
unsafe fn counts<'a>(ptr: NonNull<Inner>) -> &'a Counts {
    // SAFETY: the caller keeps the allocation live; the counts are never dropped or written
    // but through their atomics, and the place is reached by pointer projection alone, so no
    // reference to the rest of `Inner` (which the last strong handle may be dropping) is made.
    unsafe { &*std::ptr::addr_of!((*ptr.as_ptr()).busy.counts) }
}

/// Aborts the process: a count would pass [`MAX_COUNT`] (as `Arc` does past `isize::MAX`).
#[cold]
#[inline(never)]
fn too_many() -> ! {
    std::process::abort()
}

/// A strong reference from the allocation at `ptr`, unless its strong count is 0.
///
/// # Safety
///
/// The allocation at `ptr` is live (kept by a weak reference or by `&Inner`), and `ptr` has
/// the allocation's own permissions (it came from [`Handle::new`]).
unsafe fn upgrade(ptr: NonNull<Inner>) -> Option<Handle> {
    // SAFETY: the caller keeps the allocation live for this call.
    let strong = &unsafe { counts(ptr) }.strong;
    // Relaxed: nothing of the breaker is read unless the exchange below succeeds.
    let mut n = strong.load(Ordering::Relaxed);
    loop {
        // Never from 0: the data is being or has been dropped.
        if n == 0 {
            return None;
        }
        if n > MAX_COUNT {
            too_many();
        }
        // Acquire on success, as std's `Weak::upgrade`: what the data holds is read through the
        // new handle only after the increment. Relaxed on failure: the loop decides again on
        // the count it gets.
        match strong.compare_exchange_weak(n, n + 1, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => return Some(Handle { ptr }),
            Err(actual) => n = actual,
        }
    }
}

impl Handle {
    /// A new breaker: allocates for an `Inner` packed as `packing`, builds it with the
    /// allocation's [`Me`], and returns its first handle. `build` must give the `Inner` the
    /// counts of [`Counts::new`] with the same `packing`.
    pub(super) fn new(packing: Packing, build: impl FnOnce(Me) -> Inner) -> Handle {
        let layout = packing.layout();
        // SAFETY: `Inner` is not zero-sized (it holds atomics).
        let raw = unsafe { alloc(layout) }.cast::<Inner>();
        let Some(ptr) = NonNull::new(raw) else {
            std::alloc::handle_alloc_error(layout);
        };
        // If `build` unwinds, the memory leaks, which is safe: nothing points to it.
        let inner = build(Me { ptr });
        debug_assert_eq!(
            inner.busy.counts.packing, packing,
            "freed as it was allocated"
        );
        // SAFETY: `ptr` was just allocated with a layout that fits an `Inner` (its size and
        // at least its alignment), and nothing else uses it yet.
        unsafe { ptr.as_ptr().write(inner) };
        Handle { ptr }
    }

    /// Whether `a` and `b` are handles of one breaker.
    #[inline]
    pub(crate) fn ptr_eq(a: &Handle, b: &Handle) -> bool {
        a.ptr == b.ptr
    }

    /// How many strong handles of this breaker are alive (as `Arc::strong_count`, a snapshot
    /// another thread may change at once).
    pub(crate) fn strong_count(this: &Handle) -> usize {
        // SAFETY: `this` keeps the allocation live.
        let counts = unsafe { counts(this.ptr) };
        // Relaxed: a snapshot, as `Arc::strong_count`; it orders nothing.
        counts.strong.load(Ordering::Relaxed) as usize
    }

    /// This handle as the counted name of an `Open` rejection (see [`Clocked`]).
    pub(super) fn into_clocked(self) -> Clocked {
        let this = ManuallyDrop::new(self);
        // SAFETY: the strong reference `this` owned passes to the `Clocked`, which gives it
        // back through `ClockedName::release` below; `ptr` keeps the allocation's permissions.
        unsafe { Clocked::from_raw(this.ptr) }
    }
}

impl Deref for Handle {
    type Target = Inner;

    #[inline(always)]
    fn deref(&self) -> &Inner {
        // SAFETY: a strong handle keeps the data alive and initialized; it is only ever shared.
        unsafe { self.ptr.as_ref() }
    }
}

impl Clone for Handle {
    #[inline]
    fn clone(&self) -> Handle {
        // SAFETY: `self` keeps the allocation live.
        let counts = unsafe { counts(self.ptr) };
        // Relaxed: `self` keeps the count above 0 throughout, and the new handle publishes
        // nothing (as `Arc::clone`).
        if counts.strong.fetch_add(1, Ordering::Relaxed) > MAX_COUNT {
            too_many();
        }
        Handle { ptr: self.ptr }
    }
}

impl Drop for Handle {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `self` keeps the allocation live until its decrement; the reference is not
        // used after it.
        let counts = unsafe { counts(self.ptr) };
        // Release: this handle's uses of the breaker happen before the decrement, so before
        // whichever drop takes the count to 0 destroys the data.
        if counts.strong.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        self.drop_slow();
    }
}

impl Handle {
    /// The last strong handle is gone: drops the data, then the strong handles' weak
    /// reference.
    #[cold]
    #[inline(never)]
    fn drop_slow(&mut self) {
        // Acquire: pairs with every other handle's Release decrement, so their uses of the
        // breaker happen before the drop below. A load of the count rather than a fence
        // (as std's `Arc` does under ThreadSanitizer, which does not model fences): it reads
        // the value this thread's decrement wrote, the end of every other decrement's release
        // sequence, so it synchronizes with all of them; on x86 it costs one plain load.
        // SAFETY: the strong handles' weak reference keeps the allocation live.
        unsafe { counts(self.ptr) }.strong.load(Ordering::Acquire);
        // SAFETY: the strong count reached 0, so no handle uses the data and no upgrade can
        // succeed again; only this thread gets here, once. The weak reference the strong
        // handles hold keeps the allocation live meanwhile.
        unsafe { Inner::drop_data(self.ptr) };
        drop(WeakHandle { ptr: self.ptr });
    }
}

impl WeakHandle {
    /// A strong handle, unless the breaker's data has been (or is being) dropped.
    pub(crate) fn upgrade(&self) -> Option<Handle> {
        // SAFETY: `self` keeps the allocation live; its pointer came from `Me`, so from
        // `Handle::new`.
        unsafe { upgrade(self.ptr) }
    }
}

impl Drop for WeakHandle {
    fn drop(&mut self) {
        // SAFETY: `self` keeps the allocation live until its decrement; the reference is not
        // used after it.
        let counts = unsafe { counts(self.ptr) };
        // Release: this reference's uses (of the counts) happen before the decrement, so
        // before the memory is freed by whichever drop takes the count to 0.
        if counts.weak.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Acquire: pairs with every other weak decrement (the strong handles' one included,
        // made after the data's drop), so all of that happens before the memory is freed. A
        // load rather than a fence, for the reason `Handle::drop_slow` gives.
        counts.weak.load(Ordering::Acquire);
        let layout = counts.packing().layout();
        // SAFETY: the weak count reached 0: nothing references the allocation any more, and the
        // data was dropped before the strong handles gave back their weak reference. It was
        // allocated by `Handle::new` with this layout: the packing it stored in the counts.
        unsafe { dealloc(self.ptr.as_ptr().cast(), layout) };
    }
}

impl Me {
    /// A strong handle of the breaker this is in, unless its data is being dropped. `&self`
    /// keeps the allocation live.
    pub(super) fn handle(&self) -> Option<Handle> {
        // SAFETY: `&self` is inside the allocation, so it is live; `ptr` came from
        // `Handle::new`.
        unsafe { upgrade(self.ptr) }
    }

    /// A weak handle of the breaker this is in.
    pub(super) fn downgrade(&self) -> WeakHandle {
        // SAFETY: `&self` is inside the allocation, so it is live.
        let counts = unsafe { counts(self.ptr) };
        // Relaxed: whatever lends `&self` (a strong handle, or the strong handles' weak
        // reference while the data is dropped) keeps the weak count above 0 throughout, and
        // the new reference publishes nothing (as `Weak::clone`; see the module's notes for
        // why std's `downgrade` needs more).
        if counts.weak.fetch_add(1, Ordering::Relaxed) > MAX_COUNT {
            too_many();
        }
        WeakHandle { ptr: self.ptr }
    }
}

// SAFETY: `retain` and `release` count strong handles exactly as `Handle`'s `Clone` and
// `Drop` do, so a `Clocked` made by `Handle::into_clocked` keeps the breaker alive while it
// holds its reference.
unsafe impl ClockedName for Inner {
    fn name(&self) -> &str {
        self.cold.name.as_str()
    }

    fn now_nanos(&self) -> u64 {
        self.cold.clock.now()
    }

    unsafe fn retain(this: NonNull<Inner>) {
        // SAFETY: the caller holds a strong reference, so `this` is a handle's pointer; the
        // handle made here is not dropped, so the clone's increment is the new reference.
        let handle = ManuallyDrop::new(Handle { ptr: this });
        std::mem::forget(Handle::clone(&handle));
    }

    unsafe fn release(this: NonNull<Inner>) {
        // SAFETY: the caller gives up the strong reference it holds; dropping the handle made
        // here decrements the count for it.
        drop(Handle { ptr: this });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::{Breaker, ManualClock, Policy};

    fn breaker() -> Breaker {
        Breaker::with_clock("handle", Policy::default(), ManualClock::new())
    }

    fn counts_of(b: &Breaker) -> (u32, u32) {
        // SAFETY: `b` keeps the allocation live.
        let c = unsafe { counts(b.inner.ptr) };
        (
            c.strong.load(Ordering::Relaxed),
            c.weak.load(Ordering::Relaxed),
        )
    }

    #[test]
    fn clones_and_drops_count_strong_handles() {
        let a = breaker();
        assert_eq!(counts_of(&a), (1, 1));
        let b = a.clone();
        assert!(Handle::ptr_eq(&a.inner, &b.inner));
        assert_eq!(counts_of(&a), (2, 1));
        drop(b);
        assert_eq!(counts_of(&a), (1, 1));
        assert_eq!(a.handle_count(), 1);
    }

    #[test]
    fn a_weak_handle_upgrades_only_while_a_strong_one_lives() {
        let a = breaker();
        let weak = a.inner.cold.me.downgrade();
        assert_eq!(counts_of(&a), (1, 2));
        let again = weak.upgrade().expect("alive");
        assert_eq!(again.cold.name.as_str(), "handle");
        assert_eq!(counts_of(&a), (2, 2));
        drop(again);
        drop(a);
        // The data is gone; the memory stays for the weak handle, which frees it.
        assert!(weak.upgrade().is_none());
        drop(weak);
    }

    #[test]
    fn each_packing_is_freed_with_the_layout_it_was_made_with() {
        let compact = Breaker::builder("compact", Policy::default())
            .clock(ManualClock::new())
            .compact()
            .build();
        let isolated = breaker();
        assert_eq!(compact.inner.busy.counts.packing(), Packing::Compact);
        assert_eq!(isolated.inner.busy.counts.packing(), Packing::Isolated);
        let block = Packing::BLOCK;
        assert_eq!(Packing::Isolated.layout().align(), block);
        assert_eq!(Packing::Isolated.layout().size() % block, 0);
        assert!(Packing::Compact.layout().size() <= Packing::Isolated.layout().size());
        assert_eq!(
            (isolated.inner.ptr.as_ptr() as usize) % block,
            0,
            "an isolated breaker starts on a block"
        );
        // The last reference of each is a weak one, which frees the allocation.
        for b in [compact, isolated] {
            let weak = b.inner.cold.me.downgrade();
            drop(b);
            assert!(weak.upgrade().is_none());
            drop(weak);
        }
    }

    #[test]
    fn the_last_handle_may_be_a_weak_ones_upgrade() {
        let a = breaker();
        let weak = a.inner.cold.me.downgrade();
        let strong = weak.upgrade().expect("alive");
        drop(a);
        drop(weak);
        assert_eq!(strong.cold.name.as_str(), "handle");
        drop(strong);
    }

    #[test]
    fn me_makes_counted_handles() {
        let a = breaker();
        let h = a.inner.cold.me.handle().expect("alive");
        assert_eq!(a.handle_count(), 2);
        let clocked = h.into_clocked();
        assert_eq!(a.handle_count(), 2);
        let copy = clocked.clone();
        assert_eq!(a.handle_count(), 3);
        assert_eq!(copy.name(), "handle");
        drop(a);
        drop(clocked);
        // The last reference is a rejection's name: it frees the breaker.
        assert_eq!(copy.now_nanos(), 0);
        drop(copy);
    }

    #[test]
    fn threads_racing_clones_and_drops_free_once() {
        let threads = if cfg!(miri) { 2 } else { 4 };
        let rounds = if cfg!(miri) { 10 } else { 1000 };
        for _ in 0..if cfg!(miri) { 2 } else { 20 } {
            let a = breaker();
            let weak = a.inner.cold.me.downgrade();
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    let b = a.clone();
                    std::thread::spawn(move || {
                        for _ in 0..rounds {
                            let c = b.clone();
                            assert_eq!(c.name(), "handle");
                            drop(c);
                        }
                    })
                })
                .collect();
            let upgrader = std::thread::spawn(move || {
                for _ in 0..rounds {
                    if let Some(h) = weak.upgrade() {
                        assert_eq!(h.cold.name.as_str(), "handle");
                    }
                }
            });
            drop(a);
            for w in workers {
                w.join().unwrap();
            }
            upgrader.join().unwrap();
        }
    }
}
