//! What instances say to each other, as JSON: a transition (on `fusebox:{ns}:transitions`)
//! and an operator override (on `fusebox:{ns}:overrides`, and stored under
//! `fusebox:{ns}:override:...`). A message from another fleet member is untrusted input: it
//! is parsed strictly, and one that does not parse, names an invalid breaker or an unknown
//! state or action is refused (and counted by the caller).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fusebox_engine::{State, Transition, TransitionReason};
use fusebox_registry::ManualAction;
use serde::{Deserialize, Serialize};

/// The largest message accepted, in bytes.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Milliseconds since the Unix epoch, now.
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A transition of one instance's breaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransitionMessage {
    /// The instance whose breaker changed.
    pub(crate) instance: String,
    /// The breaker's name.
    pub(crate) breaker: String,
    /// The state it left, as its label (`closed`).
    pub(crate) from: String,
    /// The state it entered.
    pub(crate) to: String,
    /// Why, as its label (`failure_rate`, `fleet`).
    pub(crate) reason: String,
    /// When, in Unix milliseconds by the sender's wall clock.
    pub(crate) at_ms: u64,
    /// For a transition into `open`: how long the sender's open period has left.
    pub(crate) open_remaining_ms: Option<u64>,
    /// The operator's note, for a manual change.
    pub(crate) note: Option<String>,
}

impl TransitionMessage {
    /// The message for `t`, a transition of this instance's breaker.
    pub(crate) fn of(instance: &str, t: &Transition, open_remaining: Option<Duration>) -> Self {
        TransitionMessage {
            instance: instance.to_owned(),
            breaker: t.breaker.to_string(),
            from: t.from.as_label().to_owned(),
            to: t.to.as_label().to_owned(),
            reason: t.reason.as_label().to_owned(),
            at_ms: unix_ms(),
            open_remaining_ms: open_remaining.map(millis),
            note: t.note.as_ref().map(|n| n.to_string()),
        }
    }

    /// Whether this is a breaker opening by its own judgement (not by following the fleet):
    /// what `follow` and `quorum` react to.
    /// (An audit entry such as a chaos switch-off has `from == to`: it opens nothing.)
    pub(crate) fn is_own_opening(&self) -> bool {
        self.to == State::Open.as_label()
            && self.from != self.to
            && self.reason != TransitionReason::Fleet.as_label()
    }

    /// What is left, at `now_ms` (Unix ms, this instance's clock), of the sender's open
    /// period: never more than the sender said (a clock behind the sender's does not extend
    /// it), `None` once it has passed (a message delayed in a backlog).
    pub(crate) fn remaining_at(&self, now_ms: u64) -> Option<Duration> {
        let said = self.open_remaining_ms?;
        let left = self
            .at_ms
            .saturating_add(said)
            .saturating_sub(now_ms)
            .min(said);
        (left > 0).then(|| Duration::from_millis(left))
    }

    /// Parses and checks a message from another instance.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, String> {
        let m: TransitionMessage = parse_json(bytes)?;
        check_name(&m.breaker)?;
        for state in [&m.from, &m.to] {
            if !State::ALL.iter().any(|s| s.as_label() == state) {
                return Err(format!("unknown state {state:?}"));
            }
        }
        Ok(m)
    }
}

/// An operator's action for every instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OverrideMessage {
    /// The instance whose operator asked for it.
    pub(crate) instance: String,
    /// The breaker, or with `group` the group's prefix.
    pub(crate) name: String,
    /// Whether `name` is a group's prefix.
    pub(crate) group: bool,
    /// `force-open`, `disable`, `metrics-only` or `reset`.
    pub(crate) action: String,
    /// The time to live given, if any (the stored key expires with it).
    pub(crate) ttl_ms: Option<u64>,
    /// The audit note.
    pub(crate) note: String,
    /// When it was asked for, in Unix milliseconds: tells a stored override from a newer one.
    pub(crate) at_ms: u64,
}

impl OverrideMessage {
    /// Parses and checks an override from another instance or from the store.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, String> {
        let m: OverrideMessage = parse_json(bytes)?;
        check_name(&m.name)?;
        m.action()?;
        Ok(m)
    }

    /// The action.
    pub(crate) fn action(&self) -> Result<ManualAction, String> {
        self.action.parse().map_err(|e| format!("{e}"))
    }
}

fn parse_json<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, String> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(format!(
            "{} bytes, over the limit of {MAX_MESSAGE_BYTES}",
            bytes.len()
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

fn check_name(name: &str) -> Result<(), String> {
    fusebox_policies::validate_name(name).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transition(to: &str, reason: &str) -> Vec<u8> {
        format!(
            r#"{{"instance":"b","breaker":"pay","from":"closed","to":"{to}","reason":"{reason}","at_ms":1,"open_remaining_ms":500,"note":null}}"#
        )
        .into_bytes()
    }

    #[test]
    fn transitions_parse_strictly() {
        let m = TransitionMessage::parse(&transition("open", "failure_rate")).unwrap();
        assert!(m.is_own_opening());
        assert_eq!(m.open_remaining_ms, Some(500));
        let followed = TransitionMessage::parse(&transition("open", "fleet")).unwrap();
        assert!(!followed.is_own_opening());
        let mut audit = m.clone();
        audit.from = "open".into();
        audit.reason = "chaos_off".into();
        assert!(!audit.is_own_opening());
        assert!(TransitionMessage::parse(&transition("ajar", "x")).is_err());
        assert!(TransitionMessage::parse(b"{").is_err());
        assert!(TransitionMessage::parse(br#"{"instance":"b"}"#).is_err());
        let bad_name = String::from_utf8(transition("open", "x"))
            .unwrap()
            .replace("\"pay\"", "\"pay..x\"");
        assert!(TransitionMessage::parse(bad_name.as_bytes()).is_err());
        assert!(TransitionMessage::parse(&vec![b' '; MAX_MESSAGE_BYTES + 1]).is_err());
    }

    #[test]
    fn the_remaining_period_counts_from_when_it_was_sent() {
        let mut m = TransitionMessage::parse(&transition("open", "failure_rate")).unwrap();
        m.at_ms = 10_000;
        let ms = Duration::from_millis;
        assert_eq!(m.remaining_at(10_000), Some(ms(500)));
        assert_eq!(m.remaining_at(10_200), Some(ms(300)));
        assert_eq!(
            m.remaining_at(9_000),
            Some(ms(500)),
            "never longer than said"
        );
        assert_eq!(m.remaining_at(10_500), None);
    }

    #[test]
    fn overrides_name_a_known_action() {
        let ok = br#"{"instance":"a","name":"pay","group":true,"action":"disable","ttl_ms":null,"note":"n","at_ms":5}"#;
        let m = OverrideMessage::parse(ok).unwrap();
        assert_eq!(m.action(), Ok(ManualAction::Disable));
        let bad = br#"{"instance":"a","name":"pay","group":true,"action":"explode","ttl_ms":null,"note":"n","at_ms":5}"#;
        assert!(OverrideMessage::parse(bad).is_err());
    }
}
