//! The `fusebox` command line: simulate failure scenarios on a virtual clock, check policy and
//! registry files, and stress the engine on real threads.
//!
//! The binary is a thin shell over this library, so the tests can drive the same code.
//!
//! ```
//! use fusebox_cli::{scenario::Scenario, sim::simulate};
//! let scenario = Scenario::builtin();
//! let sim = simulate(&scenario, &[("policy".into(), scenario.policy.clone())])?;
//! assert!(sim.runs[0].rejected.total() > 0);
//! # Ok::<(), String>(())
//! ```

pub mod chart;
pub mod check;
pub mod demo;
pub mod diag;
pub mod remote;
pub mod replay;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod serve;
pub mod sim;
pub mod stress;
pub mod tune;
