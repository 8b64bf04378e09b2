//! Long-form documentation.

pub mod toml {
    //! # Policies as TOML
    //!
    //! [`Policy::from_toml`](crate::Policy::from_toml) reads, and
    //! [`Policy::to_toml`](crate::Policy::to_toml) writes, this schema (every key optional):
    //!
    //! ```toml
    //! preset = "http-api"                      # optional: start from a preset, not the defaults
    //! window = { count = 100 }                 # or { span = "10s", buckets = 10 }
    //! failure_rate_threshold = 0.5             # (0, 1]
    //! min_calls = 20                           # 1..=the count window's size
    //! consecutive_failures = 0                 # 0 = off
    //! slow_calls = { duration = "500ms", rate = 0.8 }   # or "off" (the default)
    //! open_timeout = "30s"
    //! backoff = { exponential = 2.0, max = "5m" }       # or "constant" (the default)
    //! jitter = 0.1                             # [0, 1)
    //! half_open = { permits = 5, successes = 3 }        # successes ≤ permits
    //! max_concurrent = 64                      # or "unlimited" (the default), or adaptive:
    //!                                          # { adaptive = "aimd", min = 4, max = 200, initial = 20 }
    //! recovery = { ramp = "30s", start_share = 0.1 }    # or "immediate" (the default)
    //! latency_histogram = true                 # or false (the default)
    //! rate_limit = { rate = 100, per = "1s", burst = 20 }   # or "unlimited" (the default)
    //! timeout = "2s"                           # or "none" (the default)
    //! retry = { max_attempts = 3, backoff = "decorrelated", base = "50ms", max = "2s", budget = 0.2 }
    //!                                          # or "none" (the default)
    //! fleet = { quorum = 3 }                   # or "follow", or "local" (the default)
    //! chaos = { fault_rate = 0.1, latency = "200ms", latency_rate = 0.05, seed = 7, until = "2026-12-31T00:00:00Z" }
    //!                                          # or "off" (the default)
    //! ```
    //!
    //! - **Absent keys keep what they inherit**: the default (or the preset) in a policy file,
    //!   the parent's value in a registry section. An empty file is `Policy::default()`.
    //! - **Tables patch key by key**: `half_open = { permits = 8 }` keeps the inherited
    //!   `successes`; `backoff = { max = "10m" }` keeps an inherited exponential factor. A table
    //!   that changes shape must be complete: a time window over a count window needs `span`
    //!   and `buckets`, an exponential backoff over a constant one needs `exponential` and
    //!   `max`, and a rule over none (`slow_calls`, `recovery`, `rate_limit`, `retry`) needs
    //!   all its keys.
    //! - **Durations** are strings with units, as [humantime] reads them: `"500ms"`, `"30s"`,
    //!   `"5m"`, `"1h 30m"`, `"7days"`. A bare number, a negative duration or an unknown unit is
    //!   an error. Numbers may be written as TOML integers or floats; counts must be integers.
    //! - **Unknown keys are errors**, with a suggestion when one is close (`min_call` → did you
    //!   mean `min_calls`?). So are duplicate keys.
    //! - **`latency_histogram`** records each admitted call's duration, from acquire to record,
    //!   in a latency histogram. It is `true` or `false`; any other value is an error.
    //! - **`max_concurrent`** caps the calls in flight at once (a bulkhead): a number in
    //!   1..=16777216 for a fixed cap, or a table for an *adaptive* one whose cap moves with the
    //!   latency and the drops (failures and timeouts) of completed calls. `adaptive` names the
    //!   algorithm, `"aimd"`, `"gradient2"` or `"vegas"` (Netflix's `concurrency-limits`;
    //!   `gradient2` is changed to back off ×0.9 after a window with a drop, where the
    //!   published one ignores drops and climbs to `max` when every call times out at a flat
    //!   latency). `min` (default 4) is at least 1, `max` (default 200) from `min` to
    //!   16777216, `initial` (default 20, or the nearest bound when that is outside them)
    //!   within `[min, max]`. Over an inherited adaptive limit the table patches key by key;
    //!   over anything else it needs `adaptive`. See [`AdaptiveLimit`](crate::AdaptiveLimit);
    //!   the engine's docs give the formulas.
    //! - **`rate_limit`** admits on average at most `rate` calls per `per`, by the generic cell
    //!   rate algorithm (GCRA): calls are spaced by the emission interval `per / rate`, and up
    //!   to `burst` calls may go at once after a quiet spell; `burst = 1` spaces them evenly.
    //!   `rate` is in 1 to `per` in nanoseconds (the interval is at least 1ns), `per` in
    //!   [1ns, 7days], `burst` at least 1. Over `"unlimited"` (the default) it needs all
    //!   three keys; over an inherited limit it patches key by key. See
    //!   [`RateLimit`](crate::RateLimit).
    //! - **`timeout`** limits how long each attempt of a call may take: the first attempt and each
    //!   retry have the whole timeout. It is a duration in [1ns, 7days], or `"none"` (the default)
    //!   for no limit; `"none"` over an inherited timeout removes it.
    //! - **`retry`** retries failed calls. `max_attempts` counts the first attempt (at least 1;
    //!   1 is no retry). `backoff` is the wait before each retry, by the AWS Architecture
    //!   Blog's "Exponential Backoff And Jitter": `"constant"` waits `base`; `"exponential"`
    //!   waits `min(max, base · 2^(n - 1))` before retry `n`; `"full_jitter"` a random wait up
    //!   to that; `"decorrelated"` `min(max, random_between(base, previous · 3))`, the previous
    //!   wait being `base` before the first retry. `base` is in [1ns, 7days], `max` in
    //!   [`base`, 7days]. `budget`, in [0, 1], caps the extra load: over any 10 s window,
    //!   retries may add at most this share of the first attempts, plus a floor of 10 retries
    //!   per second of the window. `"none"` (the default) is one attempt per call. Over
    //!   `"none"` a `retry` table needs all five keys; over an inherited retry it patches key
    //!   by key. See [`Retry`](crate::Retry) and [`Retry::delay`](crate::Retry::delay).
    //! - **`fleet`** says what the breaker does when other instances of it (the same breaker
    //!   in the other processes of a fleet) open. It only matters when a fleet sync is
    //!   connected; without one every instance decides alone, whatever this key says.
    //!   `"local"` (the default): never opens because others did. `"follow"`: opens here as
    //!   soon as any other instance of the fleet opens this breaker, for what is left of that
    //!   instance's open period (no longer than this policy's longest open period), then
    //!   probes as usual. `{ quorum = N }`: opens once `N` instances have it open at once; `N`
    //!   is in 2..=1000 (a quorum of 1 is refused: write `"follow"`). An empty table over an
    //!   inherited quorum keeps it. See [`FleetMode`](crate::FleetMode).
    //! - **`chaos`** injects faults and latency into the calls a breaker runs
    //!   (`Breaker::run`, and the tower layer built on it), for a resilience experiment. Before
    //!   each attempt the breaker admitted, while chaos is on: with probability `latency_rate`
    //!   it waits `latency` first (inside the `timeout`, as real latency would be); with
    //!   probability `fault_rate` it does not make the call and ends the attempt as a failure of
    //!   kind `"chaos"`, recorded like a real failure (the breaker can trip on it) and retried
    //!   like one. Every key is optional: `fault_rate` and `latency_rate` are in [0, 1]
    //!   (default 0) and at least one must be above 0; `latency` is a duration in [1ns, 7days],
    //!   needed when `latency_rate` is above 0; `seed` is an integer in 0..=2^64-1 (default 0):
    //!   the same seed and the same sequence of calls inject the same faults; `until` is an
    //!   RFC 3339 time in UTC (`"2026-12-31T00:00:00Z"`, quoted or as a TOML date-time, `Z` or
    //!   `+00:00`) past which chaos is off, or `"none"` (the default) for chaos that stays on
    //!   until removed (`fusebox check` warns about a `chaos` table without `until`). Over an
    //!   inherited chaos a table patches key by key; `"off"` (the default) removes it. See
    //!   [`Chaos`](crate::Chaos).
    //! - **Round trip**: `to_toml` writes every key (an adaptive `max_concurrent` with all four
    //!   of its keys), the optional rules as `"off"`, `"unlimited"` (`max_concurrent`,
    //!   `rate_limit`), `"immediate"` and `"none"` (`timeout`, `retry`),
    //!   `"local"` (`fleet`), `latency_histogram` as `true` or `false`, floats in their shortest exact form and
    //!   durations in humantime's exact form, so `from_toml(&p.to_toml()) == Ok(p)` for every
    //!   policy. `chaos` is the exception: it is written (last, every key but an unset
    //!   `latency`, `until = "none"` for no end) only when set, so the text of a policy without
    //!   chaos does not change; as a registry section over a parent with chaos, add
    //!   `chaos = "off"` to it.
    //!
    //! [humantime]: https://docs.rs/humantime
    //!
    //! ## Errors
    //!
    //! Every error is `line:column: field: reason`, 1-based, with the column counted in
    //! characters. The position is that of the value at fault; for an unknown key, the key; for
    //! a range that depends on another field (`min_calls` over a count window, `successes`
    //! over `permits`) the field named if the file sets it, else the field that made it
    //! invalid, else the enclosing table. For example:
    //!
    //! ```text
    //! 7:24: half_open.successes: must be in 1..=5 (half_open.permits), got 8
    //! 3:16: open_timeout: must be a duration such as "30s", "500ms" or "1m 30s", got "10" (no unit; write "10s" or "10ms")
    //! 1:1: min_call: unknown key; expected preset, window, …, or chaos (did you mean min_calls?)
    //! 2:1: jitter: duplicate key; it is already set at 1:1
    //! 1:21: latency_histogram: must be true or false, got the string "yes"
    //! 1:20: fleet.quorum: must be in 2..=1000, got 0
    //! 1:9: fleet: must be "local", "follow" or { quorum = N }, got the string "x"
    //! 1:23: chaos.fault_rate: must be in [0, 1], got 1.5
    //! 1:41: chaos.until: must be an RFC 3339 time such as "2026-12-31T00:00:00Z", got "tomorrow"
    //! 1:31: max_concurrent.adaptive: must be "aimd", "gradient2" or "vegas", got "x"
    //! ```
    //!
    //! ## Registry config files
    //!
    //! [`RegistryConfig::from_toml`](crate::RegistryConfig::from_toml) reads a file of
    //! sections, each a [`PolicyPatch`](crate::PolicyPatch) in the schema above:
    //!
    //! ```toml
    //! [defaults]                       # over Policy::default()
    //! open_timeout = "10s"
    //!
    //! [breakers."stripe"]              # over the defaults
    //! preset = "payment-provider"      # ... or start over from a preset
    //!
    //! [breakers."stripe.charges"]      # over stripe: its longest listed dotted prefix
    //! half_open = { permits = 5 }
    //! ```
    //!
    //! Names are checked by [`validate_name`](crate::validate_name); quote them, since a dot
    //! outside quotes makes a nested table. Errors name the section:
    //! `8:13: breakers."stripe.charges": half_open.successes: must be in 1..=5 (half_open.permits), got 8`.
}
