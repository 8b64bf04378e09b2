//! [`Priority`]: how much of a bulkhead a call may use.

/// How much of a breaker's bulkhead (static or adaptive `max_concurrent`) a call may use.
///
/// With a bulkhead of limit `L`, an acquire is rejected with
/// [`RejectReason::BulkheadFull`](crate::RejectReason::BulkheadFull) once the calls in
/// flight reach its priority's cap:
///
/// | priority | cap | at `L = 10` |
/// |---|---|---|
/// | `Low` | 80 % of `L`, rounded down, at least 1 | 8 |
/// | `Normal` | `L` | 10 |
/// | `Critical` | `L` plus a reserve of 10 % of `L`, rounded up, at least 1 | 11 |
///
/// So low-priority work is shed first as the bulkhead fills, and critical calls (a health
/// check, a payment's capture) still get through when normal ones are refused. Without a
/// bulkhead, priorities change nothing. [`Breaker::try_acquire`](crate::Breaker::try_acquire)
/// and `call` are `Normal`.
///
/// # Examples
///
/// ```
/// use fusebox_engine::{Breaker, ManualClock, Policy, Priority, RejectReason};
///
/// let b = Breaker::with_clock("db", Policy::builder().max_concurrent(10).build()?, ManualClock::new());
/// let held: Vec<_> = (0..8).map(|_| b.try_acquire_with(Priority::Low).unwrap()).collect();
/// let low = b.try_acquire_with(Priority::Low).unwrap_err();
/// assert_eq!(low.reason(), RejectReason::BulkheadFull);
/// assert!(b.try_acquire().is_ok()); // Normal still fits
/// assert_eq!(Priority::default(), Priority::Normal);
/// # drop(held);
/// # Ok::<(), fusebox_engine::PolicyError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// Shed first: admitted while fewer than 80 % of the limit are in flight.
    Low,
    /// The default: admitted while fewer than the limit are in flight.
    #[default]
    Normal,
    /// Admitted into a reserve of 10 % above the limit.
    Critical,
}

impl Priority {
    /// The most calls in flight, this one included, that a call of this priority may make
    /// under a bulkhead of limit `limit`.
    #[inline(always)]
    pub(crate) fn cap(self, limit: u32) -> u32 {
        match self {
            Priority::Normal => limit,
            Priority::Low => ((u64::from(limit) * 8 / 10) as u32).max(1),
            Priority::Critical => limit.saturating_add(limit.div_ceil(10).max(1)),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Priority;

    #[test]
    fn caps_follow_the_shares() {
        let caps = |l| {
            (
                Priority::Low.cap(l),
                Priority::Normal.cap(l),
                Priority::Critical.cap(l),
            )
        };
        assert_eq!(caps(10), (8, 10, 11));
        assert_eq!(caps(1), (1, 1, 2));
        assert_eq!(caps(4), (3, 4, 5));
        assert_eq!(caps(11), (8, 11, 13));
        assert_eq!(caps(200), (160, 200, 220));
        assert_eq!(caps(u32::MAX).2, u32::MAX);
        assert_eq!(caps(u32::MAX).0, 3_435_973_836);
    }
}
