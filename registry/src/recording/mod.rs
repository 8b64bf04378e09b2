//! Recording calls for replay: the line format (line.rs), and which breakers record into
//! which buffer, drained as JSON Lines (control.rs).

mod control;
mod line;

pub(crate) use control::RecordingState;
pub use line::{RecordedCall, RecordedOutcome};
