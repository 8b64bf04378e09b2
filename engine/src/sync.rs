//! The one place the engine takes its synchronization primitives from: `loom`'s under
//! `cfg(loom)`, so the models in `loom-tests/` see every atomic the engine touches, and
//! `std`'s otherwise; the allocation functions of the breaker's own reference count, which
//! loom tracks; the per-thread table; and [`own_address`], which keeps a per-thread counter's
//! increment in the form the core forwards fastest.

/// Allocation of a breaker (breaker/handle.rs): loom's functions track it, so a model fails
/// on a breaker never freed or freed twice.
#[cfg(loom)]
pub(crate) use loom::alloc::{alloc, dealloc};
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering, fence};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Mutex};

#[cfg(not(loom))]
pub(crate) use std::alloc::{alloc, dealloc};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Mutex};

/// A lock that guards no data but a protocol: a breaker's configuration and publication locks.
/// One byte (parking_lot's), where std's mutex takes eight; loom's mutex under loom.
#[cfg(not(loom))]
pub(crate) type Lock = parking_lot::Mutex<()>;
/// A lock that guards no data but a protocol (loom's, so that models see it).
#[cfg(loom)]
pub(crate) type Lock = loom::sync::Mutex<()>;

/// Takes `lock` until the returned guard is dropped.
#[cfg(not(loom))]
pub(crate) fn hold(lock: &Lock) -> parking_lot::MutexGuard<'_, ()> {
    lock.lock()
}

/// Takes `lock` until the returned guard is dropped.
#[cfg(loom)]
pub(crate) fn hold(lock: &Lock) -> loom::sync::MutexGuard<'_, ()> {
    lock.lock().unwrap()
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it: every structure the
/// engine guards with a mutex is valid after any partial update.
#[cfg(not(loom))]
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Locks a mutex (loom's mutexes do not poison).
#[cfg(loom)]
pub(crate) fn lock<T>(m: &Mutex<T>) -> loom::sync::MutexGuard<'_, T> {
    m.lock().unwrap()
}

/// `word`, unchanged, at an address the compiler no longer knows how it was computed.
///
/// A plain increment of a word picked by an index (`lanes[lane]`) compiles to one
/// read-modify-write with an indexed address, `incq (base,index,8)`. On recent Intel cores the
/// next increment's load then waits for the store to forward, about 2 ns a call, where one
/// through a plain base address, `incq (reg)`, costs a third of that: the core forwards it
/// without the wait. Handing the address through an empty `asm!` block makes the compiler keep
/// it in a register of its own, so the increment takes the fast form. Elsewhere, and under
/// Miri, which runs no assembly, this is `word` as given.
#[inline(always)]
pub(crate) fn own_address<T>(word: &T) -> &T {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        let mut address: *const T = word;
        #[allow(
            clippy::pointers_in_nomem_asm_block,
            reason = "the empty assembly takes the pointer's value and never reads through it"
        )]
        // SAFETY: the assembly is empty: it reads and writes no memory, touches no flags or
        // stack, and leaves the register holding `address` as it was.
        unsafe {
            std::arch::asm!(
                "/* {0} */",
                inout(reg) address,
                options(pure, nomem, nostack, preserves_flags)
            );
        }
        // SAFETY: `address` is `word`'s own, unchanged, so it is valid for `word`'s lifetime.
        unsafe { &*address }
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    word
}

/// Waits a moment in a spin loop (loom: lets the other threads run).
#[cfg(not(loom))]
#[inline]
pub(crate) fn spin() {
    std::thread::yield_now();
}

/// Waits a moment in a spin loop (loom: lets the other threads run).
#[cfg(loom)]
#[inline]
pub(crate) fn spin() {
    loom::thread::yield_now();
}

/// Between a thread's SeqCst updates and its SeqCst loads that must see every update ordered
/// before them: nothing, since SeqCst accesses share one total order that agrees with program
/// order, so of two threads that each update one atomic and then load the other's, at least
/// one sees both updates (the store-buffering shape; on x86 a locked instruction already
/// drains the store buffer).
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn loads_follow_updates() {}

/// Under loom, a SeqCst fence: loom models SeqCst loads and stores as AcqRel, which allows
/// the store-buffering outcome the memory model forbids, but models SeqCst fences exactly.
#[cfg(loom)]
#[inline(always)]
pub(crate) fn loads_follow_updates() {
    fence(Ordering::SeqCst);
}

/// A value per thread, made by each thread's first use: `thread_local::ThreadLocal`, whose
/// lookup takes no lock and no locked instruction once the thread's value exists. A thread
/// that exits leaves its value to the next thread given its slot; values are dropped with the
/// table.
#[cfg(not(loom))]
pub(crate) struct PerThread<T: Send>(thread_local::ThreadLocal<T>);

/// Under loom, whose threads share one OS thread, values are found by loom's thread id.
#[cfg(loom)]
pub(crate) struct PerThread<T: Send>(Mutex<Vec<(loom::thread::ThreadId, std::sync::Arc<T>)>>);

#[cfg(not(loom))]
impl<T: Send> PerThread<T> {
    pub(crate) fn new() -> Self {
        PerThread(thread_local::ThreadLocal::new())
    }

    /// Runs `f` on the calling thread's value, made by `make` if it has none yet.
    #[inline]
    pub(crate) fn with<R>(&self, make: impl FnOnce() -> T, f: impl FnOnce(&T) -> R) -> R {
        f(self.0.get_or(make))
    }

    /// Runs `f` on every thread's value.
    pub(crate) fn each(&self, f: impl FnMut(&T))
    where
        T: Sync,
    {
        self.0.iter().for_each(f);
    }
}

// SAFETY: as `thread_local::ThreadLocal`'s: a value is reached by `with` only from the thread
// it was made for (found by that thread's id), and by `each` from any thread only where `T`
// is `Sync`. The `Arc`s are cloned and dropped under the mutex or by the thread that owns the
// value; dropping the table drops the values, which are `Send`.
#[cfg(loom)]
unsafe impl<T: Send> Sync for PerThread<T> {}
// SAFETY: as above.
#[cfg(loom)]
unsafe impl<T: Send> Send for PerThread<T> {}

#[cfg(loom)]
impl<T: Send> PerThread<T> {
    pub(crate) fn new() -> Self {
        PerThread(Mutex::new(Vec::new()))
    }

    /// Runs `f` on the calling thread's value, made by `make` if it has none yet.
    pub(crate) fn with<R>(&self, make: impl FnOnce() -> T, f: impl FnOnce(&T) -> R) -> R {
        let me = loom::thread::current().id();
        let mine = {
            let mut values = lock(&self.0);
            match values.iter().find(|(id, _)| *id == me) {
                Some((_, value)) => value.clone(),
                None => {
                    let value = std::sync::Arc::new(make());
                    values.push((me, value.clone()));
                    value
                }
            }
        };
        f(&mine)
    }

    /// Runs `f` on every thread's value.
    pub(crate) fn each(&self, f: impl FnMut(&T))
    where
        T: Sync,
    {
        let values: Vec<_> = lock(&self.0).iter().map(|(_, v)| v.clone()).collect();
        values.iter().map(|v| &**v).for_each(f);
    }
}

impl<T: Send> Default for PerThread<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A cell whose accesses loom checks for data races; `std`'s `UnsafeCell` otherwise, with
/// loom's closure-based interface.
#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// A cell whose accesses loom checks for data races; `std`'s `UnsafeCell` otherwise, with
/// loom's closure-based interface.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Reads through the cell's pointer; the caller upholds the aliasing rules.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Writes through the cell's pointer; the caller upholds the aliasing rules.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
