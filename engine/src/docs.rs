//! Long-form documentation: the semantic rules, the state machine, orderings, limits and costs.
//!
//! The numbered rules every breaker (and the registry, for rule 15) follows are in [`rules`].
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
//! a thread loaded (`Acquire`) to the value a pure function of `StateWord` (state.rs)
//! computed. Data that a change publishes (the open deadline, the ramp start) is written after
//! the exchange and tagged with the new epoch, so a reader never trusts a value from another
//! episode. Publications are made under one lock and only while the word is still in the
//! episode, so a thread stalled across later transitions never overwrites a newer episode's
//! values. On the real clock with the timer thread running, the opening thread then marks the
//! word *timed* with a second exchange, so a rejection decides from the word alone and reads
//! its episode's deadline (or a later one's, if the word has moved on since); the expiry
//! clears the mark, and a recorded breaker's words are never marked, so that its rejections
//! take the path that records them. The window's
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
//! - An adaptive bulkhead's limit is read once per acquire, on its own: an acquire racing a
//!   recompute uses the limit before or after it; calls already in flight when the limit
//!   falls complete normally. A policy swap that keeps the same adaptive limit keeps the
//!   learned limit; any other starts from `initial`, and the first acquire racing that swap
//!   may read the previous limit (or none) once.
//! - The rate limit is taken after the bulkhead (a token cannot be given back, a bulkhead slot
//!   can); a rate-limited probe gives its probe slot back. A swap that changes the limit
//!   starts the new one with its whole burst. A disabled breaker is not rate limited.
//! - Telemetry is off the call path: a transition builds one event (history, subscribers,
//!   `tracing`) on the thread that made it; a rejection for any reason but `Open` and a
//!   failure with a kind take a `std` mutex or an atomic in the breaker's extras. The window
//!   counts an event carries are read just after the change, not as a snapshot.
//!
//! # Clock reads
//!
//! | path | clock reads |
//! |---|---|
//! | closed success or failure, count window, no slow-call rule | 0 |
//! | slow-call rule on | 2 (acquire, record) |
//! | latency histogram on | 2 (acquire, record), shared with a slow-call rule |
//! | recorded ([`Breaker::record_to`](crate::Breaker::record_to)), call sampled | 2 (acquire, record), shared with a slow-call rule and the histogram; 1 for a rejection |
//! | recorded, call not sampled | as if not recorded |
//! | rate limit on | 1 per admission (shared with the acquire's read when timed) |
//! | time window | 1 per record |
//! | rejection while open, `QuantaClock` | 0 (a timer thread marks the deadline) |
//! | rejection while open, other clocks | 1 |
//! | recovering | 1 per acquire |
//! | adaptive limit, AIMD | 0 |
//! | adaptive limit, Gradient2 or Vegas | 2 (acquire, completion) on one admission in 8 per thread, 0 on the others: ¼ a call on average; every call when a slow-call rule or the histogram times it anyway |
//!
//! # Adaptive limits
//!
//! `max_concurrent = { adaptive = "aimd" | "gradient2" | "vegas", min, max, initial }`
//! ([`AdaptiveLimit`](crate::AdaptiveLimit)) makes the bulkhead's limit move with what the
//! calls it admits see, by the algorithms of Netflix's `concurrency-limits`.
//!
//! **Samples.** Every permit that holds a bulkhead slot and is recorded as a success or a
//! failure is one sample: a *drop* if it failed (a `run` timeout is a failure), *busy* if the
//! calls in flight as it completed (itself included) were at least half the limit, and, for
//! Gradient2 and Vegas, if it was timed, its latency from its acquire on the breaker's clock
//! (capped at about 34 seconds a call). Each thread times one admission in 8 on such breakers
//! (a thread-local count), so the clock costs a quarter of a read per call; a permit timed
//! for a slow-call rule or the latency histogram always gives its latency. Ignored and
//! dropped permits, and a disabled breaker's calls, are no samples.
//!
//! **Windows.** Samples go into one atomic window word; the sample that makes it 32 calls
//! takes it whole (the same compare-exchange empties it) and that thread alone recomputes the
//! limit from the window: its calls, drops, busy calls and the mean latency of its timed
//! calls (a window with none keeps its limit but for its drops: Gradient2 × 0.9, Vegas
//! `− l`). Windows are counted in calls, not time, so a breaker with no traffic keeps its
//! limit, and AIMD needs no clock.
//! The new limit is clamped to `[min, max]`, kept to 1/128 between windows, and its integer
//! part is the limit in force.
//!
//! **Formulas**, per window (`L` the limit, `rtt` the window's mean latency):
//!
//! - *AIMD*: a drop → `L · 0.9`; else busy → `L + 1`; else `L`.
//! - *Vegas*: `no_load` is the least `rtt` seen (the first window, or any faster one, sets it
//!   and keeps `L`); once `30 · L` calls have completed since it was last set, the window's
//!   `rtt` replaces it (a probe). Otherwise, with `l = max(1, ⌊log10 L⌋)`: a drop → `L − l`;
//!   not busy → `L`; else `queue = ⌈L · (1 − no_load / rtt)⌉` and `queue ≤ l` → `L + 6l`,
//!   `queue < 3l` → `L + l`, `queue > 6l` → `L − l`, else `L`.
//! - *Gradient2*: `long` is an exponential average of the windows' `rtt` (factor 2/601; the
//!   first window sets it), cut by 5 % when over twice `rtt`. A drop → `L · 0.9`, `long`
//!   unchanged. Not busy → `L`. Else `gradient = clamp(1.5 · long / rtt, 0.5, 1)` and
//!   `L ← 0.8 · L + 0.2 · (L · gradient + √L)`.
//!
//!   The drop rule is a fix: the published Gradient2 reads latency alone, so when every call
//!   times out at the same latency the gradient stays 1 and the limit climbs to `max`, the
//!   opposite of what an overloaded dependency needs. With the fix such windows back off like
//!   AIMD's and the limit falls to `min` (`engine/tests/adaptive.rs`,
//!   `gradient2_falls_to_min_when_every_call_times_out_at_a_flat_latency`).
//!
//! **Priorities** apply to the limit in force (rule 11).

pub mod rules {
    //! The semantic rules, numbered: what a breaker and a registry must do, whatever the
    //! implementation. The engine and the registry follow them; the rest of these docs describe
    //! how, and where the implementation sets limits.
    //!
    //! Each rule has an anchor, `rule-NN`, to link it by number: rule 12 is
    //! [`docs::rules#rule-12`](crate::docs::rules#rule-12).
    //!
    //! | # | name | rule |
    //! |---:|---|---|
    //! | <a id="rule-01"></a>1 | Count window | A count window of size n holds the last n recorded outcomes. Only `Success` and `Failure` are recorded: `Ignored` outcomes and rejected calls leave the window as it was. |
    //! | <a id="rule-02"></a>2 | Failure rate | The failure rate is failures divided by the outcomes in the window. Once the window holds at least `min_calls` outcomes it is evaluated after every recorded outcome, and the breaker opens when the rate is at or above the threshold. For instance, with a window of 100, threshold 0.5 and `min_calls` 100, after 10 000 successes the 50th failure in a row opens it and the next acquire is rejected. |
    //! | <a id="rule-03"></a>3 | Time window | A time window of `span` split into `buckets` holds the outcomes younger than `span`; old outcomes leave it a whole bucket at a time. |
    //! | <a id="rule-04"></a>4 | Consecutive failures | With `consecutive_failures(k)`, k > 0, the k-th failure in a row opens the breaker, whatever `min_calls` is. |
    //! | <a id="rule-05"></a>5 | Slow calls | A call is slow when the clock time from its acquire to its record is at or above the slow-call duration, whether it succeeded or failed. The breaker opens when the share of slow calls in the window is at or above the slow-call threshold, under the same `min_calls`. |
    //! | <a id="rule-06"></a>6 | Open | An open breaker rejects every acquire with `RejectReason::Open` and a `retry_after` of the time left. Once the open period is over, the next acquire moves it to `HalfOpen` and is admitted as a probe. No transition needs a background thread. |
    //! | <a id="rule-07"></a>7 | Open period and backoff | The first open period is `open_timeout`. Each re-open from `HalfOpen` multiplies the period by the backoff factor, up to the backoff's maximum; reaching `Closed` puts the backoff back to step 0. With `jitter(j)` each period p is drawn uniformly from [p·(1−j), p·(1+j)]; with a jitter of 0 it is exact. |
    //! | <a id="rule-08"></a>8 | HalfOpen | A half-open breaker admits at most `half_open_permits` probes in flight; other acquires get `HalfOpenFull`. One failed probe re-opens it; `success_threshold` successful probes close it. A probe that ends `Ignored`, or is dropped, gives its slot back, so a breaker never stays stuck in `HalfOpen`. |
    //! | <a id="rule-09"></a>9 | Fresh window | Leaving `HalfOpen` (for `Closed` or `Recovering`) starts with an empty window, and so does `reset()`. Going from `Recovering` to `Closed` keeps the window as it is. |
    //! | <a id="rule-10"></a>10 | Recovering | With `Recovery::ramp(d, s)`, once `HalfOpen` closes, the share of acquires admitted rises linearly from s to 1 over d; the others get `RejectReason::Ramp`. Admission is deterministic: at one clock time with share p, any n acquires in a row admit ⌊p·n⌋ or ⌈p·n⌉ of them. Outcomes are judged as in `Closed`, and a trip goes to `Open`. After d the state is `Closed`. |
    //! | <a id="rule-11"></a>11 | Bulkhead | With `max_concurrent(m)`, at most m permits are alive at once, in every state that admits calls; other acquires get `BulkheadFull`. A permit frees its slot when it records, when it is dropped and when the call it guards panics. With an adaptive limit, m is the limit in force when the acquire is made. A `Priority::Low` acquire is refused once ⌊0.8·m⌋ (at least 1) are alive, and a `Priority::Critical` one admitted up to m + ⌈0.1·m⌉ (a reserve of at least 1); `Normal`, the default, is the rule above. Without a bulkhead priorities change nothing. |
    //! | <a id="rule-12"></a>12 | Manual states and reset | `ForcedOpen` rejects every acquire with `RejectReason::ForcedOpen` and no `retry_after`. `Disabled` admits everything, records nothing and never transitions. `MetricsOnly` admits everything, records into the window and the metrics, and never transitions. `reset()` returns to `Closed` with an empty window and backoff step 0; the lifetime counters of `metrics()` keep counting across it, so counters exported from them never go backwards ([`Counters`](crate::Counters) says what a read racing a call can see). |
    //! | <a id="rule-13"></a>13 | Panics | A panic inside `call` counts as a failure, frees the permit and is resumed in the caller. |
    //! | <a id="rule-14"></a>14 | Policy swap | `set_policy` keeps the state. The window keeps its contents if its shape (kind and size) is unchanged, and starts empty otherwise. Permits already out complete normally. An open period under way ends no later than the new policy's open period would: shortening `open_timeout` during an incident takes effect at once. |
    //! | <a id="rule-15"></a>15 | Registry inheritance | A name without a policy of its own uses the policy of its longest dotted prefix that has one (`stripe.charges.eu` ← `stripe.charges` ← `stripe`), else the registry default. Changing a parent's policy re-points every child that inherits it, each breaker atomically. A config-file section that sets only some keys stays a patch on its parent: when the parent changes later (by `set_policy` or by a reload), the keys the section does not set change with it. A reload whose file has no `[defaults]` keeps the registry's own default: the one it was built with, or the last one `set_default_policy` gave it. |
    //! | <a id="rule-16"></a>16 | Following the fleet | `follow_open(remaining)` opens a `Closed` or `Recovering` breaker (a trip from `Recovering` keeps the backoff step) with the reason `Fleet`, for `remaining` from now, no longer than the longest open period the policy in force draws at that step. In every other state it changes nothing and returns false. Racing a trip or another follow, exactly one of them opens the breaker, and the deadline is that one's. The open period then ends as any other does (rule 6). |
    //! | <a id="rule-17"></a>17 | Chaos | With a policy's `chaos` on (set, and its `until` not passed), each attempt of `run` that the breaker admitted waits `latency` first with probability `latency_rate`, inside the attempt's timeout, and with probability `fault_rate` is not made: it fails with kind `"chaos"`, is recorded like any failure (rules 2, 4, 8) and is retried like one, and a last such attempt returns `RunError::Injected`. The draws are a function of the seed and the count of attempts that drew since the breaker's chaos last changed, so the same seed and the same calls inject the same faults. Past `until`, or without chaos, nothing is drawn and nothing injected. `chaos_off()` swaps in the policy without chaos (rule 14). |
    //!
    //! Tests are named after the rule they check, `rule_NN_*`: `rule_07_zero_jitter_is_exact`
    //! checks rule 7. Most are in `engine/tests/rules.rs`; rule 15 is checked by the registry's
    //! tests (`registry/tests/inheritance.rs` and `registry/tests/config.rs`), rule 16 by the
    //! unit tests of `engine/src/breaker/fleet.rs`, rule 17 by `engine/tests/chaos.rs`, and the loom models and the engine's
    //! reference model name the rules they check in their docs.
}
