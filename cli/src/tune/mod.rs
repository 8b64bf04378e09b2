//! `fusebox tune`: search the policy space on a scenario (or a replayed recording) and show
//! what each policy costs.
//!
//! Each candidate policy is simulated on the same scenario, with the same random draws, so
//! two candidates differ only by what their breakers decide. Two costs are counted per run:
//! - **failed**: calls sent to the downstream that failed (errors, timeouts, callers that
//!   gave up waiting): the harm of a breaker that opens too late or closes too early;
//! - **healthy rejected**: rejected calls that the downstream would have answered: the harm
//!   of a breaker that opens too eagerly or stays open too long.
//!
//! The **Pareto front** holds the candidates no other candidate beats on both. The
//! [`Objective`] weighs the two into one number, and the recommendation is the candidate
//! that minimises it: the starting policy is candidate 0, so the recommendation is never
//! worse than the starting policy on the objective.
//!
//! The search spends its budget in rounds: the first is the starting policy and points drawn
//! at random from the grid ([`space`]); later rounds draw half at random and half as
//! neighbours of the front and of the best candidate so far. A round's candidates are
//! simulated in parallel (rayon); the draws come from the search's seed and the results are
//! gathered in order, so the same seed gives the same search on any number of cores.

pub mod chart;
pub mod report;
pub mod space;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use fusebox::Policy;
use rayon::prelude::*;

use crate::rng::SplitMix64;
use crate::scenario::Scenario;
use crate::sim::{self, Run};
use space::Point;

/// Candidates simulated per round.
const ROUND: usize = 32;

/// The largest budget accepted.
pub const MAX_BUDGET: usize = 100_000;

/// How the two costs are weighed into one number, in the unit the report shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Objective {
    /// Caller time lost (the default): the time callers spent on calls that failed, plus,
    /// for each healthy call rejected, the time a successful call takes (the median without
    /// a breaker): both in seconds of callers' time.
    Time,
    /// Calls: one failed call and one healthy call rejected weigh the same.
    Calls,
    /// `failed × W1 + healthy rejected × W2`.
    Weights {
        /// The weight of a failed call.
        failed: f64,
        /// The weight of a healthy call rejected.
        rejected: f64,
    },
}

impl Objective {
    /// Parses `time`, `calls` or `failed=W1,rejected=W2`.
    ///
    /// # Errors
    ///
    /// One line saying what is accepted.
    ///
    /// ```
    /// use fusebox_cli::tune::Objective;
    /// assert_eq!(Objective::parse("calls"), Ok(Objective::Calls));
    /// assert_eq!(
    ///     Objective::parse("failed=1,rejected=0.5"),
    ///     Ok(Objective::Weights { failed: 1.0, rejected: 0.5 })
    /// );
    /// assert!(Objective::parse("speed").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Objective, String> {
        let bad = || {
            format!(
                "--objective: expected time, calls or failed=W1,rejected=W2 (weights ≥ 0, not both 0), got {text:?}"
            )
        };
        match text {
            "time" => return Ok(Objective::Time),
            "calls" => return Ok(Objective::Calls),
            _ => {}
        }
        let (mut failed, mut rejected) = (None, None);
        for part in text.split(',') {
            let (key, value) = part.split_once('=').ok_or_else(bad)?;
            let value: f64 = value.trim().parse().map_err(|_| bad())?;
            if !(value.is_finite() && value >= 0.0) {
                return Err(bad());
            }
            match key.trim() {
                "failed" => failed = Some(value),
                "rejected" => rejected = Some(value),
                _ => return Err(bad()),
            }
        }
        match (failed, rejected) {
            (Some(f), Some(r)) if f + r > 0.0 => Ok(Objective::Weights {
                failed: f,
                rejected: r,
            }),
            _ => Err(bad()),
        }
    }

    /// What the objective counts, for the report.
    pub fn describe(&self, healthy_call: Duration) -> String {
        match self {
            Objective::Time => format!(
                "caller time lost: time spent on failed calls + {} (the median successful call) per healthy call rejected",
                crate::scenario::fmt_duration(healthy_call)
            ),
            Objective::Calls => "calls: failed + healthy rejected".to_owned(),
            Objective::Weights { failed, rejected } => {
                format!("failed × {failed} + healthy rejected × {rejected}")
            }
        }
    }
}

/// What a candidate cost on the scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Calls sent that failed.
    pub failed: u64,
    /// Calls rejected that the downstream would have answered.
    pub healthy_rejected: u64,
    /// Caller time lost: failed calls' time plus a healthy call's time per healthy rejection.
    pub caller_time: Duration,
    /// The objective's value (lower is better).
    pub objective: f64,
}

/// One policy tried.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Its place in the search: 0 is the starting policy.
    pub index: usize,
    /// The policy.
    pub policy: Policy,
    /// What it cost.
    pub score: Score,
}

/// What to search.
#[derive(Debug, Clone)]
pub struct TuneOptions {
    /// Candidates to simulate, the starting policy included (≥ 1).
    pub budget: usize,
    /// The seed of the search's draws (the scenario keeps its own).
    pub seed: u64,
    /// How the two costs are weighed.
    pub objective: Objective,
}

/// The outcome of a search.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// The scenario searched on.
    pub scenario: Scenario,
    /// The options.
    pub options: TuneOptions,
    /// Every candidate, in the order drawn; `candidates[0]` is the starting policy.
    pub candidates: Vec<Candidate>,
    /// Indices into `candidates` of the Pareto front, by failed calls ascending.
    pub front: Vec<usize>,
    /// Index of the recommended candidate.
    pub recommended: usize,
    /// Candidates drawn at random, and as neighbours of good ones.
    pub drawn: (usize, usize),
    /// Draws that were not a valid policy, or repeated one already tried (not simulated).
    pub discarded: usize,
    /// The median latency of a successful call without a breaker.
    pub healthy_call: Duration,
    /// Wall-clock time of the search.
    pub elapsed: Duration,
    /// Threads the simulations ran on.
    pub threads: usize,
}

impl Tuning {
    /// The starting policy.
    pub fn start(&self) -> &Candidate {
        &self.candidates[0]
    }

    /// The recommended candidate.
    pub fn best(&self) -> &Candidate {
        &self.candidates[self.recommended]
    }

    /// How many candidates beat `c` on both costs (0: it is on the front).
    pub fn dominating(&self, c: &Candidate) -> usize {
        self.candidates
            .iter()
            .filter(|o| dominates(&o.score, &c.score))
            .count()
    }

    /// Simulations per second per thread.
    pub fn rate_per_core(&self) -> f64 {
        self.candidates.len() as f64 / self.elapsed.as_secs_f64().max(1e-9) / self.threads as f64
    }
}

/// Whether `a` is at least as good as `b` on both costs and better on one.
fn dominates(a: &Score, b: &Score) -> bool {
    a.failed <= b.failed
        && a.healthy_rejected <= b.healthy_rejected
        && (a.failed < b.failed || a.healthy_rejected < b.healthy_rejected)
}

/// The Pareto front of `candidates` by (failed, healthy rejected), sorted by failed calls;
/// of candidates with the same two costs, the first by objective (then by index).
///
/// ```
/// # use fusebox_cli::tune::{Candidate, Score, pareto_front};
/// let c = |index, failed, healthy_rejected| Candidate {
///     index,
///     policy: fusebox::Policy::default(),
///     score: Score { failed, healthy_rejected, caller_time: Default::default(), objective: 0.0 },
/// };
/// let front = pareto_front(&[c(0, 10, 10), c(1, 5, 20), c(2, 20, 5), c(3, 12, 12)]);
/// assert_eq!(front, vec![1, 0, 2]);
/// ```
pub fn pareto_front(candidates: &[Candidate]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&candidates[a].score, &candidates[b].score);
        (x.failed, x.healthy_rejected)
            .cmp(&(y.failed, y.healthy_rejected))
            .then(x.objective.total_cmp(&y.objective))
            .then(a.cmp(&b))
    });
    let mut front = Vec::new();
    let mut best_rejected = u64::MAX;
    for i in order {
        let s = &candidates[i].score;
        if s.healthy_rejected < best_rejected {
            best_rejected = s.healthy_rejected;
            front.push(i);
        }
    }
    front
}

/// Searches policies for `scenario`, starting from its policy.
///
/// # Errors
///
/// A budget of 0 or above [`MAX_BUDGET`]; a simulation that fails its own accounting.
///
/// ```
/// use fusebox_cli::{scenario::Scenario, tune::{tune, Objective, TuneOptions}};
/// let s = Scenario::builtin();
/// let t = tune(&s, TuneOptions { budget: 8, seed: 1, objective: Objective::Time })?;
/// assert_eq!(t.candidates.len(), 8);
/// assert!(t.best().score.objective <= t.start().score.objective);
/// assert!(tune(&s, TuneOptions { budget: 0, seed: 1, objective: Objective::Time }).is_err());
/// # Ok::<(), String>(())
/// ```
pub fn tune(scenario: &Scenario, options: TuneOptions) -> Result<Tuning, String> {
    if options.budget == 0 || options.budget > MAX_BUDGET {
        return Err(format!(
            "--budget: must be between 1 and {MAX_BUDGET} candidates, got {}",
            options.budget
        ));
    }
    let began = Instant::now();
    let baseline = sim::run_baseline(scenario)?;
    let healthy_call = baseline.success_latency_at(50.0);
    let score = |run: &Run| -> Score {
        let failed = run.failed();
        let healthy_rejected = run.lost;
        let caller_time = run.failing_time + healthy_call * healthy_rejected as u32;
        let objective = match options.objective {
            Objective::Time => caller_time.as_secs_f64(),
            Objective::Calls => (failed + healthy_rejected) as f64,
            Objective::Weights {
                failed: wf,
                rejected: wr,
            } => failed as f64 * wf + healthy_rejected as f64 * wr,
        };
        Score {
            failed,
            healthy_rejected,
            caller_time,
            objective,
        }
    };

    let mut rng = SplitMix64::new(options.seed);
    let mut seen: HashSet<String> = HashSet::new();
    seen.insert(scenario.policy.to_toml());
    let mut candidates: Vec<Candidate> = Vec::with_capacity(options.budget);
    let mut drawn = (0, 0);
    let mut discarded = 0;
    let mut round: Vec<Policy> = vec![scenario.policy.clone()];
    loop {
        let target = ROUND.min(options.budget - candidates.len());
        let parents: Vec<Policy> = parents(&candidates);
        let mut tries = 0;
        while round.len() < target && tries < ROUND * 50 {
            tries += 1;
            let near = !parents.is_empty() && rng.next_u64() & 1 == 1;
            let point = if near {
                let parent =
                    &parents[(rng.next_unit() * parents.len() as f64) as usize % parents.len()];
                Point::nearest(parent).neighbour(&mut rng)
            } else {
                Point::random(&mut rng)
            };
            match point.apply(&scenario.policy) {
                Ok(p) if seen.insert(p.to_toml()) => {
                    if near {
                        drawn.1 += 1;
                    } else {
                        drawn.0 += 1;
                    }
                    round.push(p);
                }
                _ => discarded += 1,
            }
        }
        if round.is_empty() {
            break; // the grid is exhausted
        }
        let first = candidates.len();
        let runs: Vec<Result<Run, String>> = round
            .par_iter()
            .enumerate()
            .map(|(i, p)| sim::run_policy(scenario, p, &format!("candidate {}", first + i)))
            .collect();
        for (i, (policy, run)) in round.drain(..).zip(runs).enumerate() {
            let run = run?;
            candidates.push(Candidate {
                index: first + i,
                policy,
                score: score(&run),
            });
        }
        if candidates.len() >= options.budget {
            break;
        }
    }
    let front = pareto_front(&candidates);
    let recommended = candidates
        .iter()
        .min_by(|a, b| {
            a.score
                .objective
                .total_cmp(&b.score.objective)
                .then(a.index.cmp(&b.index))
        })
        .map_or(0, |c| c.index);
    Ok(Tuning {
        scenario: scenario.clone(),
        options,
        front,
        recommended,
        candidates,
        drawn,
        discarded,
        healthy_call,
        elapsed: began.elapsed(),
        threads: rayon::current_num_threads(),
    })
}

/// The candidates new ones are drawn near: the front, and the best by objective.
fn parents(candidates: &[Candidate]) -> Vec<Policy> {
    if candidates.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<Policy> = pareto_front(candidates)
        .into_iter()
        .map(|i| candidates[i].policy.clone())
        .collect();
    if let Some(best) = candidates
        .iter()
        .min_by(|a, b| a.score.objective.total_cmp(&b.score.objective))
    {
        out.push(best.policy.clone());
    }
    out
}
