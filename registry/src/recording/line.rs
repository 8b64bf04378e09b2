//! One recorded call as a line of JSON: the format [`Registry::drain_recording`] hands out and
//! `fusebox simulate --replay` reads.
//!
//! ```text
//! {"t_ms":1234.5,"breaker":"pay.stripe","outcome":"failure","duration_ms":2000.0}
//! {"t_ms":1250.0,"breaker":"pay.stripe","outcome":"rejected","reason":"open"}
//! ```
//!
//! `t_ms` is the call's arrival on the breaker's clock, in milliseconds; only differences
//! between lines matter. `duration_ms` (admitted calls only) runs from admission to the
//! outcome's record. `reason` (rejected calls only) is the rejection's label:
//! `open`, `half_open_full`, `bulkhead_full`, `ramp`, `forced_open`, `rate_limited`.
//!
//! [`Registry::drain_recording`]: crate::Registry::drain_recording

use serde::{Deserialize, Serialize};

/// How a recorded call ended.
///
/// ```
/// use fusebox_registry::RecordedOutcome;
/// assert_eq!(serde_json::to_string(&RecordedOutcome::Rejected).unwrap(), "\"rejected\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordedOutcome {
    /// Admitted and recorded as a success.
    Success,
    /// Admitted and recorded as a failure.
    Failure,
    /// Admitted and recorded as neither (or dropped unrecorded).
    Ignored,
    /// Not admitted.
    Rejected,
}

/// One call of a recording: a line of JSON Lines.
///
/// ```
/// use fusebox_registry::{RecordedCall, RecordedOutcome};
/// let line = r#"{"t_ms": 1234.5, "breaker": "pay.stripe", "outcome": "failure", "duration_ms": 2000.0}"#;
/// let call: RecordedCall = serde_json::from_str(line)?;
/// assert_eq!(call.outcome, RecordedOutcome::Failure);
/// assert_eq!(call.duration_ms, Some(2000.0));
/// assert_eq!(
///     call.to_json_line(),
///     r#"{"t_ms":1234.5,"breaker":"pay.stripe","outcome":"failure","duration_ms":2000.0}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedCall {
    /// When the call arrived, in milliseconds on the breaker's clock.
    pub t_ms: f64,
    /// The breaker's name.
    pub breaker: String,
    /// How it ended.
    pub outcome: RecordedOutcome,
    /// From admission to the record, in milliseconds: admitted calls only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    /// Why it was rejected (a [`RejectReason`](fusebox_engine::RejectReason) label):
    /// rejected calls only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl RecordedCall {
    /// The call as one line of JSON, without the newline.
    ///
    /// ```
    /// use fusebox_registry::{RecordedCall, RecordedOutcome};
    /// let c = RecordedCall {
    ///     t_ms: 1.0,
    ///     breaker: "db".into(),
    ///     outcome: RecordedOutcome::Rejected,
    ///     duration_ms: None,
    ///     reason: Some("open".into()),
    /// };
    /// assert_eq!(c.to_json_line(), r#"{"t_ms":1.0,"breaker":"db","outcome":"rejected","reason":"open"}"#);
    /// ```
    pub fn to_json_line(&self) -> String {
        // A struct of strings, finite-or-not floats and an enum: serde_json cannot fail on it
        // except for a non-finite float, which it writes as `null`.
        serde_json::to_string(self).unwrap_or_default()
    }
}
