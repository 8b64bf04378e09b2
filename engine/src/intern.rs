//! Equal policies share one allocation: a service with a thousand breakers on a handful of
//! policies keeps a handful of `Policy` values, not a thousand (each is ~150 bytes).
//!
//! A process-wide list of weak references to the policies in use, searched by value when a
//! breaker is created or given a policy. Only construction, `set_policy` and a breaker's drop
//! come here, never a call. The last breaker to let go of a policy removes its entry, so no
//! dropped policy's memory is kept (if a caller of `Breaker::policy` holds it longer, the next
//! search removes the entry instead); the list holds at most [`CAPACITY`] entries, beyond which
//! the oldest is forgotten (its breakers keep their policy; new breakers with that policy get
//! their own allocation again).
//!
//! # Synchronization
//!
//! `POLICIES` is a `std` mutex around the list (not the loom shim's: models do not see it),
//! taken poison-tolerantly. [`shared`] holds it across its whole search, pruning and
//! insertion, so two equal policies given at once share one allocation;
//! [`forget_if_unshared`] holds it while it reads the policy's strong count and removes the
//! entry. Once only the caller's references hold a policy, another can only come from
//! upgrading its entry, under the same mutex, so the count cannot grow before the entry goes.
//! The mutex is taken last: a policy swap takes it under the breaker's `config_lock`, and a
//! breaker's drop under whatever its last holder has locked. Nothing else is locked while it
//! is held.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use fusebox_policies::Policy;

/// Distinct live policies remembered at once.
const CAPACITY: usize = 64;

static POLICIES: Mutex<Vec<Weak<Policy>>> = Mutex::new(Vec::new());

/// `policy`, shared with a live policy equal to it if there is one.
pub(crate) fn shared(policy: Policy) -> Arc<Policy> {
    // A poisoned list is still a valid list of weak references.
    let mut list = POLICIES.lock().unwrap_or_else(PoisonError::into_inner);
    let mut found = None;
    list.retain(|weak| match weak.upgrade() {
        Some(p) => {
            if found.is_none() && *p == policy {
                found = Some(p);
            }
            true
        }
        None => false,
    });
    if let Some(p) = found {
        return p;
    }
    let p = Arc::new(policy);
    if list.len() == CAPACITY {
        list.remove(0);
    }
    list.push(Arc::downgrade(&p));
    p
}

/// Forgets `policy` if nothing but `holders` references hold it (counted in
/// `Arc::strong_count`): a weak reference left in the list would keep its allocation alive
/// until the next search pruned it.
pub(crate) fn forget_if_unshared(policy: &Arc<Policy>, holders: usize) {
    let mut list = POLICIES.lock().unwrap_or_else(PoisonError::into_inner);
    // Under the lock no one can upgrade an entry, so the count cannot grow meanwhile.
    if Arc::strong_count(policy) <= holders {
        list.retain(|w| !std::ptr::eq(w.as_ptr(), Arc::as_ptr(policy)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fusebox_policies::Window;

    #[test]
    fn equal_policies_share_one_allocation() {
        let a = Policy::builder().window(Window::count(77)).build().unwrap();
        let b = Policy::builder().window(Window::count(78)).build().unwrap();
        let (a1, a2, b1) = (shared(a.clone()), shared(a.clone()), shared(b));
        assert!(Arc::ptr_eq(&a1, &a2));
        assert!(!Arc::ptr_eq(&a1, &b1));
        drop((a1, a2));
        // Once every holder is gone, the entry is pruned and a new allocation made.
        assert_eq!(*shared(a.clone()), a);
    }

    #[test]
    fn the_list_stays_bounded() {
        let held: Vec<_> = (1..=2 * CAPACITY as u32)
            .map(|n| {
                shared(
                    Policy::builder()
                        .window(Window::count(1000 + n))
                        .build()
                        .unwrap(),
                )
            })
            .collect();
        assert!(POLICIES.lock().unwrap().len() <= CAPACITY);
        drop(held);
    }
}
