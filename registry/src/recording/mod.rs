//! Recording calls for replay: the line format (line.rs).

mod line;

pub use line::{RecordedCall, RecordedOutcome};
