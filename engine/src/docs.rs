//! Long-form documentation: the state machine, orderings, limits and costs.
//!
//! # State machine
//!
//! | from | event | to |
//! |---|---|---|
//! | Closed | failure rate, slow-call rate or consecutive failures reach their threshold | Open (step 0) |
//! | Open | open period passed, next acquire | HalfOpen (that acquire is the first probe) |
//! | HalfOpen | a probe fails | Open (step + 1, longer period with exponential backoff) |
//! | HalfOpen | `success_threshold` probes succeed | Closed (step 0) or Recovering (ramp) |
//! | Recovering | a threshold is reached | Open (step kept) |
//! | Recovering | the ramp's duration passed, next acquire | Closed (step 0) |
//! | any | `force_open` / `disable` / `metrics_only` / `reset` | ForcedOpen / Disabled / MetricsOnly / Closed |
//!
//! Leaving HalfOpen and `reset()` start with an empty window; Recovering → Closed keeps it.
//!
//! # Orderings
//!
//! Every change of state is one `compare_exchange` (`AcqRel`) of the state word from the value
//! a thread loaded (`Acquire`) to the value a pure function of [`StateWord`](crate::StateWord)
//! computed. Data that a change publishes (the open deadline, the ramp start) is written after
//! the exchange and tagged with the new epoch, so a reader never trusts a value from another
//! episode. Publications are made under one lock and only while the word is still in the
//! episode, so a thread stalled across later transitions never overwrites a newer episode's
//! values. On the real clock with the timer thread running, the opening thread then marks the
//! word *timed* with a second exchange, so a rejection decides from the word alone and reads
//! its episode's deadline (or a later one's, if the word has moved on since). The window's
//! cursor, bits and counts change by `SeqCst` read-modify-writes, and a
//! recorder whose outcome may trip the breaker judges with `SeqCst` loads after its own
//! update, so of racing recorders the last to update sees every outcome (see `window/count.rs`).
//! Counts are exact at quiescence because every bit flip and its count change are made by one
//! thread.
//!
//! # Limits
//!
//! - Count windows up to [`MAX_COUNT_WINDOW`](fusebox_policies::MAX_COUNT_WINDOW) calls, two
//!   bits of heap each; time windows up to
//!   [`MAX_TIME_BUCKETS`](fusebox_policies::MAX_TIME_BUCKETS) buckets of 32 bytes.
//! - The slot of an outcome is its sequence number's low 32 bits modulo the window size: once
//!   every 2³² outcomes one slot is reused a lap early.
//! - The epoch has 22 bits: a half-open probe permit held across 4 194 304 state changes could
//!   be mistaken for a current one.
//! - Outcomes that race with a state change may land in either episode's window.
//! - Slow-call flags are kept only while a slow-call rule is set: switching a rule on starts
//!   the slow-call rate from the calls timed under it, and `Metrics::window_slow` reads 0
//!   while no rule is set.
//! - A count window of up to 128 calls counts its two bitmap words when a failure may trip
//!   it (a dozen instructions a word where the CPU has no `popcnt`); a larger window keeps
//!   counts, at one more read-modify-write for each failure entering or leaving it.
//! - Time window: a bucket counts at most 2²¹ − 1 outcomes (calls, failures and slow calls
//!   share one word so an outcome is added whole); outcomes beyond that in one bucket are not
//!   counted. Use more buckets for traffic above ~2 million calls per bucket width.
//! - A bulkhead switched on by `set_policy` counts the permits acquired from the swap on;
//!   permits already out complete uncounted. Counting every permit of every breaker would put
//!   a read-modify-write on every call.
//! - A half-open probe holds its slot until it ends, even when its half-open episode is over:
//!   at no time are more than `half_open_permits` probes in flight.
//!
//! # Clock reads
//!
//! | path | clock reads |
//! |---|---|
//! | closed success or failure, count window, no slow-call rule | 0 |
//! | slow-call rule on | 2 (acquire, record) |
//! | time window | 1 per record |
//! | rejection while open, `QuantaClock` | 0 (a timer thread marks the deadline) |
//! | rejection while open, other clocks | 1 |
//! | recovering | 1 per acquire |
