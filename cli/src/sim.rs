//! The discrete-event simulation: calls arrive, wait for a slot, reach the downstream and finish,
//! all on a [`ManualClock`], with a real [`Breaker`] deciding what gets through.
//!
//! Events sit in a priority queue ordered by virtual time (ties: completions before arrivals,
//! then by when they were scheduled), so calls overlap exactly as their latencies say. The
//! clock is set to each event's time before the event is handled, so the breaker sees the same
//! timeline a production breaker would: open periods, half-open probes, ramps and slow-call
//! timing all run on virtual time.
//!
//! What a call goes through:
//! 1. It arrives (Poisson or evenly spaced). With a breaker, `try_acquire` decides at once;
//!    a rejected call returns to its caller immediately.
//! 2. An admitted call takes one of `concurrency` slots (a connection pool), or waits for one
//!    in arrival order.
//! 3. Its caller gives up `timeout` after arrival, waiting included: a call still waiting
//!    then fails without reaching the downstream, and a call the downstream has not answered
//!    by then fails as a timeout.
//! 4. The downstream's answer (latency, error or not) is drawn from the phase in force when
//!    the call reaches it, using draws fixed per call index: the run without a breaker sees
//!    the same downstream for the same call.
//!
//! A call is recorded on its permit when it finishes, so the breaker's own slow-call timing
//! (acquire to record) includes the wait for a slot, as it would in production.

use std::cmp::Ordering as CmpOrdering;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

use fusebox::{
    Breaker, CHAOS_KIND, Failure, ManualClock, Metrics, Permit, Policy, RecordedCall,
    RecordedOutcome, RejectReason, State, TransitionReason,
};
use hdrhistogram::Histogram;

use crate::rng::{SplitMix64, call_draws};
use crate::scenario::{Arrivals, Behaviour, Scenario};

/// The longest latency the histograms hold, in microseconds (one hour).
const MAX_LATENCY_MICROS: u64 = 3_600_000_000;

/// Calls rejected, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Rejections {
    /// The breaker was open.
    pub open: u64,
    /// Half-open, with every probe slot taken.
    pub half_open_full: u64,
    /// The bulkhead (`max_concurrent`) was full.
    pub bulkhead_full: u64,
    /// Recovering, outside the admitted share.
    pub ramp: u64,
    /// Forced open.
    pub forced_open: u64,
    /// A reason this tool does not know yet.
    pub other: u64,
}

impl Rejections {
    /// Every rejected call.
    pub fn total(&self) -> u64 {
        self.open
            + self.half_open_full
            + self.bulkhead_full
            + self.ramp
            + self.forced_open
            + self.other
    }

    fn add(&mut self, reason: RejectReason) {
        match reason {
            RejectReason::Open => self.open += 1,
            RejectReason::HalfOpenFull => self.half_open_full += 1,
            RejectReason::BulkheadFull => self.bulkhead_full += 1,
            RejectReason::Ramp => self.ramp += 1,
            RejectReason::ForcedOpen => self.forced_open += 1,
            _ => self.other += 1,
        }
    }

    /// `(label, count)` for each reason, in a fixed order.
    pub fn rows(&self) -> [(&'static str, u64); 6] {
        [
            ("open", self.open),
            ("half-open full", self.half_open_full),
            ("bulkhead full", self.bulkhead_full),
            ("recovery ramp", self.ramp),
            ("forced open", self.forced_open),
            ("other", self.other),
        ]
    }
}

/// One state change of the breaker, as the simulation saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionRow {
    /// Virtual time.
    pub at: Duration,
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// Why, in the engine's words.
    pub reason: String,
    /// The window when a rule tripped: `55 of 100 calls in the window failed`.
    pub detail: Option<String>,
}

/// Counts over one time bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bucket {
    /// Calls that arrived.
    pub arrivals: u64,
    /// Calls the breaker admitted.
    pub admitted: u64,
    /// Calls the breaker rejected.
    pub rejected: u64,
    /// Admitted calls that finished in this bucket.
    pub finished: u64,
    /// Of those, the ones that failed.
    pub failed: u64,
    /// Arrivals that the downstream would have failed, had they been sent at once.
    pub doomed: u64,
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Run {
    /// `no breaker` or the policy's label.
    pub label: String,
    /// The policy, for a run with a breaker.
    pub policy: Option<Policy>,
    /// Calls that arrived.
    pub attempted: u64,
    /// Calls let through (all of them without a breaker).
    pub admitted: u64,
    /// Calls that succeeded.
    pub succeeded: u64,
    /// Calls the downstream answered with an error.
    pub failed_errors: u64,
    /// Calls the downstream did not answer before the caller's timeout.
    pub failed_timeouts: u64,
    /// Calls whose caller gave up while waiting for a slot.
    pub failed_waiting: u64,
    /// Calls failed by an injected fault (the policy's `chaos`): never sent.
    pub failed_injected: u64,
    /// Calls delayed by injected latency before they were sent.
    pub injected_delays: u64,
    /// Calls rejected by the breaker.
    pub rejected: Rejections,
    /// Rejected calls the downstream would have failed: spared a dead downstream.
    pub saved: u64,
    /// The caller time those saved calls would have spent before failing.
    pub saved_time: Duration,
    /// Rejected calls the downstream would have answered successfully.
    pub lost: u64,
    /// Calls that reached the downstream.
    pub downstream_calls: u64,
    /// The most calls in flight at once.
    pub peak_in_flight: u32,
    /// The most calls waiting for a slot at once.
    pub peak_waiting: usize,
    /// Caller-observed latency of every call, from arrival to result, in microseconds
    /// (a rejected call returns at once: 0).
    pub latency: Histogram<u64>,
    /// Caller-observed latency of successful calls, in microseconds.
    pub success_latency: Histogram<u64>,
    /// Caller time spent on calls that failed (waiting, then failing).
    pub failing_time: Duration,
    /// The breaker's state changes.
    pub transitions: Vec<TransitionRow>,
    /// Time in each state over the load's duration, in order of [`STATES`].
    pub state_time: Vec<(State, Duration)>,
    /// Per-bucket counts over the load's duration.
    pub buckets: Vec<Bucket>,
    /// The breaker's own `metrics()` at the end.
    pub metrics: Option<Metrics>,
    /// When the last call finished.
    pub finished_at: Duration,
    /// Every call as a recording would hold it, in the order the calls ended (rejected calls
    /// end at once): filled by [`record`] only.
    pub calls: Vec<RecordedCall>,
}

impl Run {
    /// Calls that failed, for any reason other than a rejection.
    pub fn failed(&self) -> u64 {
        self.failed_errors + self.failed_timeouts + self.failed_waiting + self.failed_injected
    }

    /// Time spent in `state`.
    pub fn time_in(&self, state: State) -> Duration {
        self.state_time
            .iter()
            .find(|(s, _)| *s == state)
            .map_or(Duration::ZERO, |(_, d)| *d)
    }

    /// A percentile of caller-observed latency (`q` in 0..=100).
    pub fn latency_at(&self, q: f64) -> Duration {
        Duration::from_micros(self.latency.value_at_percentile(q))
    }

    /// A percentile of the latency of successful calls (`q` in 0..=100).
    pub fn success_latency_at(&self, q: f64) -> Duration {
        Duration::from_micros(self.success_latency.value_at_percentile(q))
    }
}

/// The states whose time is reported, in display order.
pub const STATES: [State; 7] = [
    State::Closed,
    State::Open,
    State::HalfOpen,
    State::Recovering,
    State::ForcedOpen,
    State::Disabled,
    State::MetricsOnly,
];

/// A scenario run once without a breaker and once per policy.
#[derive(Debug, Clone)]
pub struct Simulation {
    /// The scenario.
    pub scenario: Scenario,
    /// The width of the time buckets.
    pub bucket: Duration,
    /// One run per policy, in the order given.
    pub runs: Vec<Run>,
    /// The same scenario with no breaker.
    pub baseline: Run,
}

/// Runs `scenario` without a breaker and with each of `policies` (label, policy).
///
/// # Errors
///
/// If the simulator's own counts disagree with the breaker's `metrics()`: a bug, reported
/// rather than hidden.
///
/// # Examples
///
/// ```
/// use fusebox_cli::{scenario::Scenario, sim::simulate};
/// let s = Scenario::builtin();
/// let sim = simulate(&s, &[("policy".into(), s.policy.clone())]).unwrap();
/// assert_eq!(sim.runs[0].attempted, sim.baseline.attempted);
/// assert!(sim.runs[0].saved > 0);
/// ```
pub fn simulate(scenario: &Scenario, policies: &[(String, Policy)]) -> Result<Simulation, String> {
    let bucket = bucket_width(scenario.load.duration);
    let baseline = run(scenario, None, "no breaker", bucket, false)?;
    let runs = policies
        .iter()
        .map(|(label, p)| run(scenario, Some(p), label, bucket, false))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Simulation {
        scenario: scenario.clone(),
        bucket,
        runs,
        baseline,
    })
}

/// Runs `scenario` with a breaker on `policy` and returns every call as a recording holds
/// it: the calls `fusebox simulate --record` writes, sorted by arrival.
///
/// # Errors
///
/// As [`simulate`].
///
/// ```
/// use fusebox_cli::{scenario::Scenario, sim::record};
/// let s = Scenario::builtin();
/// let calls = record(&s, &s.policy).unwrap();
/// assert!(calls.iter().any(|c| c.outcome == fusebox::RecordedOutcome::Rejected));
/// assert!(calls.windows(2).all(|w| w[0].t_ms <= w[1].t_ms));
/// ```
pub fn record(scenario: &Scenario, policy: &Policy) -> Result<Vec<RecordedCall>, String> {
    let bucket = bucket_width(scenario.load.duration);
    let mut calls = run(scenario, Some(policy), "recording", bucket, true)?.calls;
    calls.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
    Ok(calls)
}

/// Runs `scenario` once with a breaker on `policy`, without the baseline run: what a search
/// over policies needs from each candidate.
///
/// # Errors
///
/// As [`simulate`].
pub fn run_policy(scenario: &Scenario, policy: &Policy, label: &str) -> Result<Run, String> {
    run(
        scenario,
        Some(policy),
        label,
        bucket_width(scenario.load.duration),
        false,
    )
}

/// Runs `scenario` once without a breaker.
///
/// # Errors
///
/// As [`simulate`].
pub fn run_baseline(scenario: &Scenario) -> Result<Run, String> {
    run(
        scenario,
        None,
        "no breaker",
        bucket_width(scenario.load.duration),
        false,
    )
}

/// A round bucket width giving at most 120 buckets.
fn bucket_width(duration: Duration) -> Duration {
    const MILLIS: [u64; 18] = [
        10, 20, 50, 100, 200, 250, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000,
        120_000, 300_000, 600_000, 900_000,
    ];
    let total = duration.as_millis() as u64;
    let ms = MILLIS
        .iter()
        .copied()
        .find(|w| total.div_ceil(*w) <= 120)
        .unwrap_or_else(|| total.div_ceil(120).max(1));
    Duration::from_millis(ms)
}

/// How an admitted call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Success,
    Error,
    Timeout,
    GaveUpWaiting,
    /// A fault chaos injected: the call was never sent.
    Injected,
}

struct Call<'b> {
    id: u64,
    arrival: u64,
    permit: Option<Permit<'b>>,
    /// Latency chaos injected before the call is sent, in ns.
    delay: u64,
}

enum Kind<'b> {
    Arrival(u64),
    Done(Call<'b>, End),
    WaitDeadline(u64),
    /// A call still in the downstream's queue at its caller's deadline.
    QueueDeadline(u64),
    /// One of the downstream's servers finished a call (answered or not in time).
    ServerFree,
}

struct Event<'b> {
    at: u64,
    /// 0 for completions and deadlines, 1 for arrivals: slots free up before new calls arrive.
    order: u8,
    seq: u64,
    kind: Kind<'b>,
}

impl Event<'_> {
    fn key(&self) -> (u64, u8, u64) {
        (self.at, self.order, self.seq)
    }
}

impl PartialEq for Event<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Event<'_> {}
impl PartialOrd for Event<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event<'_> {
    // Reversed: `BinaryHeap` pops the greatest, and the earliest event must come first.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        other.key().cmp(&self.key())
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 3) {
        Ok(h) => h,
        Err(e) => unreachable!("constant histogram bounds are valid: {e}"),
    }
}

struct Engine<'s, 'b> {
    s: &'s Scenario,
    breaker: Option<&'b Breaker>,
    clock: ManualClock,
    heap: BinaryHeap<Event<'b>>,
    waiting: VecDeque<Call<'b>>,
    in_flight: u32,
    /// Calls sent that wait for one of the downstream's `capacity` servers.
    downstream_queue: VecDeque<Call<'b>>,
    /// The downstream's servers busy now.
    servers_busy: u32,
    seq: u64,
    timeout: u64,
    duration: u64,
    bucket: u64,
    arrivals_rng: SplitMix64,
    /// The Poisson process's time, unrounded.
    arrival_clock: f64,
    /// Attempts chaos has drawn for: the index of the next one's draws.
    chaos_draws: u64,
    /// Whether to keep every call in [`Run::calls`].
    record: bool,
    run: Run,
}

impl<'b> Engine<'_, 'b> {
    fn push(&mut self, at: u64, kind: Kind<'b>) {
        let order = u8::from(matches!(kind, Kind::Arrival(_)));
        self.seq += 1;
        self.heap.push(Event {
            at,
            order,
            seq: self.seq,
            kind,
        });
    }

    fn bucket_mut(&mut self, at: u64) -> Option<&mut Bucket> {
        let i = (at / self.bucket) as usize;
        self.run.buckets.get_mut(i)
    }

    /// What the downstream does to call `id` sent at `at`: (latency, fails); a hang is
    /// `u64::MAX`.
    fn respond(&self, id: u64, at: u64) -> (u64, bool) {
        let (u_error, u_latency) = call_draws(self.s.seed, id);
        if let Some(replay) = &self.s.replay {
            let answer = replay.answer(at, u_latency);
            return (answer.latency, answer.fails);
        }
        match self.s.behaviour_at(Duration::from_nanos(at)) {
            Behaviour::Up(up) => (up.latency.sample_nanos(u_latency), u_error < up.error_rate),
            Behaviour::Down { fail_after } => (fail_after.map_or(u64::MAX, nanos), true),
        }
    }

    fn arrive(&mut self, id: u64, now: u64) {
        self.run.attempted += 1;
        let (latency, fails) = self.respond(id, now);
        let doomed = fails || latency >= self.timeout;
        if let Some(b) = self.bucket_mut(now) {
            b.arrivals += 1;
            b.doomed += u64::from(doomed);
        }
        let permit = match self.breaker {
            None => None,
            Some(breaker) => match breaker.try_acquire() {
                Ok(p) => Some(p),
                Err(rejected) => {
                    self.run.rejected.add(rejected.reason());
                    if self.record {
                        self.run.calls.push(RecordedCall {
                            t_ms: now as f64 / 1e6,
                            breaker: self.s.name.clone(),
                            outcome: RecordedOutcome::Rejected,
                            duration_ms: None,
                            reason: Some(rejected.reason().as_label().to_owned()),
                        });
                    }
                    self.run.latency.saturating_record(0);
                    if doomed {
                        self.run.saved += 1;
                        self.run.saved_time += Duration::from_nanos(latency.min(self.timeout));
                    } else {
                        self.run.lost += 1;
                    }
                    if let Some(b) = self.bucket_mut(now) {
                        b.rejected += 1;
                    }
                    return;
                }
            },
        };
        self.run.admitted += 1;
        if let Some(b) = self.bucket_mut(now) {
            b.admitted += 1;
        }
        let mut call = Call {
            id,
            arrival: now,
            permit,
            delay: 0,
        };
        // Chaos acts where `Breaker::run` does: after admission, before the call is made.
        if let Some(chaos) = self.chaos_at(now) {
            let attempt = chaos.attempt(self.chaos_draws);
            self.chaos_draws += 1;
            if attempt.fault {
                self.finish(call, End::Injected, now);
                return;
            }
            if let Some(delay) = attempt.delay {
                self.run.injected_delays += 1;
                call.delay = nanos(delay);
            }
        }
        if self.in_flight < self.s.load.concurrency {
            self.dispatch(call, now);
        } else {
            self.waiting.push_back(call);
            self.run.peak_waiting = self.run.peak_waiting.max(self.waiting.len());
            self.push(now.saturating_add(self.timeout), Kind::WaitDeadline(id));
        }
    }

    /// Sends `call` from a caller's slot to the downstream: served at once, or queued while
    /// all of the downstream's servers are busy.
    fn dispatch(&mut self, call: Call<'b>, now: u64) {
        self.in_flight += 1;
        self.run.peak_in_flight = self.run.peak_in_flight.max(self.in_flight);
        self.run.downstream_calls += 1;
        match self.s.capacity {
            Some(capacity) if self.servers_busy >= capacity => {
                let deadline = call.arrival.saturating_add(self.timeout);
                self.push(deadline, Kind::QueueDeadline(call.id));
                self.downstream_queue.push_back(call);
            }
            _ => self.serve(call, now),
        }
    }

    /// A server of the downstream takes `call`: it answers after the call's latency (a
    /// server stays busy until then, even if the caller gave up before).
    fn serve(&mut self, call: Call<'b>, now: u64) {
        let (latency, fails) = self.respond(call.id, now);
        let deadline = call.arrival.saturating_add(self.timeout);
        let answered = now.saturating_add(call.delay).saturating_add(latency);
        if self.s.capacity.is_some() {
            self.servers_busy += 1;
            if answered != u64::MAX {
                self.push(answered, Kind::ServerFree);
            }
        }
        let (at, end) = if answered >= deadline {
            (deadline, End::Timeout)
        } else if fails {
            (answered, End::Error)
        } else {
            (answered, End::Success)
        };
        self.push(at, Kind::Done(call, end));
    }

    /// A caller's slot is free: the next waiting caller takes it.
    fn release_slot(&mut self, now: u64) {
        self.in_flight -= 1;
        while self.in_flight < self.s.load.concurrency {
            let Some(next) = self.waiting.pop_front() else {
                break;
            };
            self.dispatch(next, now);
        }
    }

    fn finish(&mut self, call: Call<'b>, end: End, now: u64) {
        let took = now - call.arrival;
        if self.record {
            self.run.calls.push(RecordedCall {
                t_ms: call.arrival as f64 / 1e6,
                breaker: self.s.name.clone(),
                outcome: if end == End::Success {
                    RecordedOutcome::Success
                } else {
                    RecordedOutcome::Failure
                },
                duration_ms: Some(took as f64 / 1e6),
                reason: None,
            });
        }
        let micros = took.div_ceil(1_000);
        self.run.latency.saturating_record(micros);
        match end {
            End::Success => {
                self.run.succeeded += 1;
                self.run.success_latency.saturating_record(micros);
            }
            End::Error => self.run.failed_errors += 1,
            End::Timeout => self.run.failed_timeouts += 1,
            End::GaveUpWaiting => self.run.failed_waiting += 1,
            End::Injected => self.run.failed_injected += 1,
        }
        if end != End::Success {
            self.run.failing_time += Duration::from_nanos(took);
        }
        if let Some(b) = self.bucket_mut(now) {
            b.finished += 1;
            b.failed += u64::from(end != End::Success);
        }
        if let Some(p) = call.permit {
            match end {
                End::Success => p.success(),
                End::Injected => p.failure_with(Failure::of_kind(CHAOS_KIND)),
                _ => p.failure(),
            }
        }
    }

    /// The policy's chaos, if the breaker's policy has it and `now` is in the experiment's
    /// window (the whole run without one).
    fn chaos_at(&self, now: u64) -> Option<fusebox::Chaos> {
        let chaos = *self.breaker?.policy().chaos()?;
        match self.s.experiment {
            Some(e) if !e.contains(Duration::from_nanos(now)) => None,
            _ => Some(chaos),
        }
    }

    fn step(&mut self, event: Event<'b>) {
        let now = event.at;
        self.clock.set(Duration::from_nanos(now));
        match event.kind {
            Kind::Arrival(id) => {
                self.arrive(id, now);
                self.schedule_arrival(id + 1);
            }
            Kind::Done(call, end) => {
                self.finish(call, end, now);
                self.release_slot(now);
            }
            Kind::QueueDeadline(id) => {
                if let Some(i) = self.downstream_queue.iter().position(|c| c.id == id)
                    && let Some(call) = self.downstream_queue.remove(i)
                {
                    self.finish(call, End::Timeout, now);
                    self.release_slot(now);
                }
            }
            Kind::ServerFree => {
                self.servers_busy -= 1;
                if let Some(next) = self.downstream_queue.pop_front() {
                    self.serve(next, now);
                }
            }
            Kind::WaitDeadline(id) => {
                // Callers wait in arrival order and share one timeout, so a caller whose
                // deadline has come is at the front if it is still waiting.
                if self.waiting.front().is_some_and(|c| c.id == id)
                    && let Some(call) = self.waiting.pop_front()
                {
                    self.finish(call, End::GaveUpWaiting, now);
                }
            }
        }
    }

    /// Schedules call `id`, if it arrives before the load ends.
    fn schedule_arrival(&mut self, id: u64) {
        if let Some(replay) = &self.s.replay {
            if let Some(&at) = replay.arrivals.get(id as usize) {
                self.push(at, Kind::Arrival(id));
            }
            return;
        }
        let gap_nanos = 1e9 / self.s.load.calls_per_sec;
        let at = match self.s.load.arrivals {
            Arrivals::Uniform => id as f64 * gap_nanos,
            Arrivals::Poisson => {
                self.arrival_clock += -self.arrivals_rng.next_unit().ln() * gap_nanos;
                self.arrival_clock
            }
        };
        if at < self.duration as f64 {
            self.push(at.round() as u64, Kind::Arrival(id));
        }
    }
}

/// Runs the scenario once, with a breaker on `policy` or with none.
fn run(
    s: &Scenario,
    policy: Option<&Policy>,
    label: &str,
    bucket: Duration,
    record: bool,
) -> Result<Run, String> {
    let clock = ManualClock::new();
    let breaker = policy.map(|p| Breaker::with_clock(s.name.as_str(), p.clone(), clock.clone()));
    let changes = breaker.as_ref().map(Breaker::subscribe);
    let duration = nanos(s.load.duration);
    let bucket_ns = nanos(bucket).max(1);
    let mut e = Engine {
        s,
        breaker: breaker.as_ref(),
        clock,
        heap: BinaryHeap::new(),
        waiting: VecDeque::new(),
        in_flight: 0,
        downstream_queue: VecDeque::new(),
        servers_busy: 0,
        seq: 0,
        timeout: nanos(s.load.timeout),
        duration,
        bucket: bucket_ns,
        // A stream of its own, so the arrivals do not depend on what the calls draw.
        arrivals_rng: SplitMix64::new(s.seed ^ 0x6172_7269_7661_6c73),
        arrival_clock: 0.0,
        chaos_draws: 0,
        record,
        run: Run {
            label: label.to_owned(),
            policy: policy.cloned(),
            attempted: 0,
            admitted: 0,
            succeeded: 0,
            failed_errors: 0,
            failed_timeouts: 0,
            failed_waiting: 0,
            failed_injected: 0,
            injected_delays: 0,
            rejected: Rejections::default(),
            saved: 0,
            saved_time: Duration::ZERO,
            lost: 0,
            downstream_calls: 0,
            peak_in_flight: 0,
            peak_waiting: 0,
            latency: histogram(),
            success_latency: histogram(),
            failing_time: Duration::ZERO,
            transitions: Vec::new(),
            state_time: Vec::new(),
            buckets: vec![Bucket::default(); duration.div_ceil(bucket_ns) as usize],
            metrics: None,
            finished_at: Duration::ZERO,
            calls: Vec::new(),
        },
    };
    e.schedule_arrival(0);
    let mut last = 0;
    while let Some(event) = e.heap.pop() {
        last = event.at;
        e.step(event);
        if let (Some(rx), Some(b)) = (&changes, e.breaker) {
            for t in rx.try_iter() {
                let m = b.metrics();
                let detail = match t.reason {
                    TransitionReason::FailureRate => Some(format!(
                        "{} of {} calls in the window failed",
                        m.window_failures, m.window_calls
                    )),
                    TransitionReason::SlowCallRate => Some(format!(
                        "{} of {} calls in the window were slow",
                        m.window_slow, m.window_calls
                    )),
                    _ => None,
                };
                e.run.transitions.push(TransitionRow {
                    at: t.at,
                    from: t.from,
                    to: t.to,
                    reason: t.reason.to_string(),
                    detail,
                });
            }
        }
    }
    let mut run = e.run;
    run.finished_at = Duration::from_nanos(last);
    run.state_time = state_time(&run.transitions, s.load.duration);
    if let Some(b) = &breaker {
        let m = b.metrics();
        run.metrics = Some(m);
        let failed = run.failed();
        let ours = (run.admitted, run.succeeded, failed, 0, run.rejected.total());
        let theirs = (m.admitted, m.successes, m.failures, m.ignored, m.rejected);
        if ours != theirs {
            return Err(format!(
                "internal error: the simulator counted (admitted, succeeded, failed, ignored, rejected) = {ours:?} but the breaker's metrics() say {theirs:?}"
            ));
        }
    }
    if run.attempted != run.admitted + run.rejected.total()
        || run.admitted != run.succeeded + run.failed()
    {
        return Err(format!(
            "internal error: calls do not add up in the run \"{label}\""
        ));
    }
    Ok(run)
}

/// Time in each state over `[0, horizon)`, from the transitions, in [`STATES`] order.
fn state_time(transitions: &[TransitionRow], horizon: Duration) -> Vec<(State, Duration)> {
    let mut totals = STATES.map(|s| (s, Duration::ZERO));
    let mut add = |state: State, d: Duration| {
        if let Some(slot) = totals.iter_mut().find(|(s, _)| *s == state) {
            slot.1 += d;
        }
    };
    let mut state = State::Closed;
    let mut since = Duration::ZERO;
    for t in transitions {
        let at = t.at.min(horizon);
        add(state, at.saturating_sub(since));
        state = t.to;
        since = at;
    }
    add(state, horizon.saturating_sub(since));
    totals.to_vec()
}

/// The state at each moment, as `(start, end, state)` bands over `[0, horizon)`.
///
/// ```
/// use std::time::Duration;
/// use fusebox_cli::sim::state_bands;
/// let bands = state_bands(&[], Duration::from_secs(5));
/// assert_eq!(bands, vec![(Duration::ZERO, Duration::from_secs(5), fusebox::State::Closed)]);
/// ```
pub fn state_bands(
    transitions: &[TransitionRow],
    horizon: Duration,
) -> Vec<(Duration, Duration, State)> {
    let mut bands = Vec::new();
    let mut state = State::Closed;
    let mut since = Duration::ZERO;
    for t in transitions {
        let at = t.at.min(horizon);
        if at > since {
            bands.push((since, at, state));
        }
        state = t.to;
        since = at;
    }
    if horizon > since {
        bands.push((since, horizon, state));
    }
    bands
}
