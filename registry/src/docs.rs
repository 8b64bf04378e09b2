//! Long-form notes on the registry: names, inheritance, dependencies, pruning, locking, costs.
//!
//! # Names
//!
//! A breaker name is 1 to 128 bytes of `A-Z a-z 0-9 _ . : -` with no empty dotted segment
//! ([`fusebox_policies::validate_name`]). Dots make the hierarchy that inheritance and
//! groups use: `stripe.charges.eu` is below `stripe.charges`, which is below `stripe`;
//! `stripes` is not below `stripe`. A bad name is an error
//! ([`RegistryError::InvalidName`](crate::RegistryError::InvalidName)) that quotes at most the
//! first 128 bytes of it, never a panic.
//!
//! # Inheritance
//!
//! The registry follows [rule 15](fusebox_engine::docs::rules#rule-15) of the engine's rules table.
//! A breaker runs with the policy set for its own name, else the policy of its longest dotted
//! prefix that has one, else the registry default.
//! [`Registry::set_policy`](crate::Registry::set_policy) re-points every breaker that inherits from
//! the name (a descendant with a nearer policy of its own is untouched), each with one atomic
//! [`Breaker::set_policy`](fusebox_engine::Breaker::set_policy). A breaker created later starts
//! with the policy it inherits at that moment.
//!
//! # Config files
//!
//! A config file ([`Registry::apply_toml`](crate::Registry::apply_toml),
//! [`Registry::from_toml`](crate::Registry::from_toml)) has an optional `[defaults]` section
//! and `[breakers."<name>"]` sections. Applying one is all or nothing: every section is
//! resolved first, and on any error nothing changes.
//!
//! **Sections are patches.** A section sets the policy of its name to its keys applied over
//! the policy the name inherits: that of its longest dotted prefix with a policy of its own,
//! else the registry default (rule 15). It stays a patch after the file is applied: whenever
//! what it inherits changes (a [`set_policy`](crate::Registry::set_policy) or
//! [`clear_policy`](crate::Registry::clear_policy) on a prefix, a
//! [`set_default_policy`](crate::Registry::set_default_policy), or the next reload), the
//! section is applied again over the new policy, so every key the section does not set
//! follows its parent, and the keys it sets still win. With
//!
//! ```toml
//! [breakers."stripe"]
//! min_calls = 20
//!
//! [breakers."stripe.charges"]
//! half_open = { permits = 2, successes = 2 }
//! ```
//!
//! a later `set_policy("stripe", p)` gives `stripe.charges` (and every `stripe.charges.*`
//! without a policy of its own) `p` with two half-open permits and two successes. A section
//! that starts from a preset (`preset = "..."`) is applied over the preset, not its parent.
//! `set_policy` on the section's own name replaces the section with a whole policy, which no
//! longer follows its parent.
//!
//! **All or nothing, for changes too.** A section's keys may be invalid over some parents: a
//! section setting `min_calls = 40` needs a window of at least 40 calls. A `set_policy`,
//! `clear_policy`, `set_default_policy` or reload after which some section would not resolve
//! to a valid policy fails and changes nothing: with
//! [`RegistryError::InvalidSection`](crate::RegistryError::InvalidSection), naming the
//! section's breaker and the field, or for a reload with a
//! [`ConfigError`](crate::ConfigError) naming them and the line of the file.
//!
//! **The default.** A file with a `[defaults]` section sets the registry default to it,
//! applied over [`Policy::default`](fusebox_engine::Policy::default) (an empty `[defaults]` is
//! `Policy::default()` itself). A file without one keeps the registry's own default: the one
//! it was built with, or last given to `set_default_policy`. So removing `[defaults]` from a
//! file and reloading it goes back to the default set in code. A registry built by
//! `from_toml` was built with `Policy::default()`.
//!
//! **Policies by name.** The policies set by name become exactly the file's sections: a
//! policy set earlier in code and absent from the file is dropped, so removing a section from
//! the file takes effect. [`Registry::policies`](crate::Registry::policies) and snapshots
//! report each section as the policy it resolves to now; a snapshot restored later sets them
//! as whole policies.
//!
//! **Chaos switched off.** [`Registry::chaos_off`](crate::Registry::chaos_off) (the operator
//! endpoint's `POST /fusebox/breakers/{name}/chaos-off`) switches one breaker's `chaos` off
//! and keeps it off for that chaos: a reload of a file that still sets the same chaos for
//! the name leaves it off rather than starting the experiment again unnoticed. A file that
//! sets different chaos for it (another seed, rate or `until`) starts a new experiment, and
//! a file that drops chaos for it ends the switch. The sections keep the chaos as written:
//! [`Registry::policies`](crate::Registry::policies) and the config the endpoint serves show
//! it, while the breaker and [`Registry::resolved_policy`](crate::Registry::resolved_policy)
//! run without it.
//!
//! # Dependencies
//!
//! [`Registry::depend`](crate::Registry::depend)`(a, b)` makes the registry refuse calls to `a`
//! while `b`, or anything `b` depends on in turn, is `ForcedOpen` or `Open` with time left in
//! its open period. An `Open` breaker whose period is over reads `Open` until its own next
//! acquire moves it to `HalfOpen`; it does not hold its dependents back, so a dependency that
//! is only ever called through its dependents still gets probed. Cycles, self-dependencies
//! included, are refused when declared.
//!
//! Dependencies are checked by [`Registry::call`](crate::Registry::call),
//! [`call_with`](crate::Registry::call_with), [`call_async`](crate::Registry::call_async),
//! [`checked_breaker`](crate::Registry::checked_breaker) and
//! [`check_dependencies`](crate::Registry::check_dependencies). The engine's
//! [`Breaker`](fusebox_engine::Breaker) knows nothing of them: calling a breaker obtained with
//! [`Registry::breaker`](crate::Registry::breaker) directly bypasses them.
//!
//! A call refused for an open dependency is rejected as a call to the dependency would be:
//! [`RegistryCallError::Rejected`](crate::RegistryCallError::Rejected) (or
//! [`CheckError::Rejected`](crate::CheckError::Rejected), or the `Err` of
//! `check_dependencies`) with the dependency's
//! [`Breaker::open_rejection`](fusebox_engine::Breaker::open_rejection): it names the
//! dependency, its reason is `Open` or `ForcedOpen`, and its `retry_after` is the time left in
//! the dependency's open period. So callers look in one place for every rejection, and
//! `rejected.breaker()` tells the call's own breaker from a dependency. Neither breaker
//! counts the refusal in `Metrics::rejected` (neither was asked for a permit); the registry
//! counts it for the dependent, in
//! [`BreakerSnapshot::dependency_rejected`](crate::BreakerSnapshot::dependency_rejected).
//!
//! The dependency graph is immutable and swapped whole (`arc-swap`) on each change; each
//! name's transitive dependencies are precomputed, nearest first. With no dependency declared
//! at all a check is one load of a flag.
//!
//! # Pruning
//!
//! [`Registry::prune_idle`](crate::Registry::prune_idle)`(older_than)` removes a breaker when
//! all of these hold:
//! - it has not been *used* for at least `older_than`, as far as prune passes can tell;
//! - it is `Closed` (an `Open`, forced, disabled or metrics-only breaker carries state someone
//!   wants kept);
//! - nobody but the registry holds it: [`Breaker::handle_count`] is 1, the registry's own
//!   handle (checked under the shard's write lock, so no lookup can
//!   hand it out meanwhile; an owned permit counts as a handle). A breaker someone holds a
//!   handle to is never removed, so it is never silently replaced by a fresh one.
//!
//! The engine keeps no last-use time, and lookups must not read a clock, so use is tracked in
//! the registry entry in two ways:
//! - a lookup through the registry sets a *looked-up* flag in the entry, which each pass reads
//!   and clears; the flag is stored only when it is clear, so hot lookups only read it;
//! - a pass compares the breaker's `admitted + rejected` with what the previous pass saw,
//!   which catches calls through a handle held outside the registry.
//!
//! A call the registry refuses because a dependency is open counts as a lookup of the
//! dependent.
//!
//! A pass visits a shard under its write lock, so a lookup is seen either by this pass or by
//! the next one. A pass that sees either kind of use dates it to its own clock time, at most
//! one pass interval late; a breaker is then removed by the first pass at least `older_than`
//! after that: between `older_than` and `older_than` plus two pass intervals after its last
//! use, never before. A breaker created and never used again is dated to its creation.
//!
//! # Striped registries
//!
//! [`RegistryBuilder::striped`](crate::RegistryBuilder::striped) makes every breaker the
//! registry creates striped, by lookup, call, snapshot restore or after a prune alike: each
//! calling thread records outcomes into a window of its own, with no locked instruction on a
//! call, and a breaker opens on the failure rate of one thread's last calls rather than all
//! threads' (its counters stay exact). See
//! [`Breaker::striped`](fusebox_engine::Breaker::striped) for when that trade is worth making.
//! Striping is fixed when a breaker is made. The engine stripes count windows of up to 128
//! calls with no slow-call or consecutive-failure rule; a breaker whose (inherited, set or
//! reloaded) policy is otherwise still reports `is_striped()` but records as an unstriped
//! breaker would, and goes back to its stripes if a later policy allows them.
//!
//! # Compact registries
//!
//! [`RegistryBuilder::compact`](crate::RegistryBuilder::compact) makes every breaker the
//! registry creates compact, by whichever path creates it, as striping does: each is packed
//! into an allocation with no cache-line padding, so that a registry of many mostly idle
//! breakers (one per tenant, per host) holds less memory, at the cost of the isolation that
//! keeps threads calling one breaker at once from slowing each other. A compact breaker
//! decides exactly as any other. See
//! [`BreakerBuilder::compact`](fusebox_engine::BreakerBuilder::compact).
//!
//! # Capacity
//!
//! [`RegistryBuilder::capacity`](crate::RegistryBuilder::capacity) bounds the number of
//! breakers. The check is made before anything is allocated and again, exactly, under the
//! shard lock when inserting, so a flood of distinct names from untrusted input creates at
//! most `capacity` breakers and costs one failed lookup and one validation per refused name.
//!
//! # Locking
//!
//! - The map is a `DashMap` (sharded `RwLock`s) whose keys are the entries themselves, which
//!   hash and compare as their breaker's name: the map keeps no copy of the names. A lookup
//!   takes one shard read lock and clones the breaker's handle (one reference-count
//!   increment). A creator makes the breaker first, then inserts it under the shard's write
//!   lock; if another creator inserted the name meanwhile, the first breaker is dropped
//!   unseen and both get the one in the map.
//! - The policy table (`RwLock`): creators hold it for reading while they resolve the policy
//!   and insert, and policy changes hold it for writing while they update the table and
//!   re-point breakers. So a breaker is never created from a table that is being changed, and
//!   concurrent `set_policy` calls leave every breaker with the last one.
//! - Lock order: policy table, then map shards, then a breaker's own locks. No registry lock
//!   is held while a group action or a user callback runs.
//! - Use marks in entries are `Relaxed` atomics: approximate marks that publish nothing.
//!   Dependency refusals are counted in a table beside the map, under a mutex taken after a
//!   map shard's lock.
//!
//! # Costs
//!
//! Measured on a 2-vCPU machine shared with other builds (so the figures are noisy; compare
//! with the floor printed in the same run):
//!
//! | what | figure | floor in the same run |
//! |---|---:|---:|
//! | `get` of a 16-byte name in a registry of 10 000 | 33 ns | 4.0 ns |
//! | `get` of one name over and over | 21 ns | |
//! | a read-locked `HashMap` (same hasher) + handle clone, for comparison | 30 ns | |
//! | `call` by name (lookup, dependency flag, guarded call) | 63 ns | |
//! | get-or-create of a new name | ~2.4 µs, mostly the engine's breaker and fresh memory | |
//! | heap per breaker, 10⁶ breakers, 100-call windows, never called | 436 B: 384 B engine, 52 B registry (compact: 348 B) | |
//! | the same, compact, once each has taken a call (its 48-byte window store made) | 396 B (10⁵ breakers: 376 B) | |
//!
//! Commands: `cargo bench -p fusebox-benches --bench registry` and
//! `cargo run --release -p fusebox-registry --example memory`.
//!
//! A lookup hashes the name with `foldhash` (seeded per registry), takes a shard read lock,
//! compares the key, reads the entry's looked-up flag and clones the breaker's handle; the
//! caller later drops the handle. The three read-modify-writes (lock, unlock, reference count)
//! are most of it. A registry entry is the map slot alone: the breaker's one-pointer handle
//! and two words of bookkeeping for prune passes; the name is the breaker's own. The map
//! grows by doubling, so its share per breaker depends on the count: 32 bytes at 10⁵
//! breakers, 52 at 10⁶.
//!
//! [`Breaker::handle_count`]: fusebox_engine::Breaker::handle_count
