//! `fleet`: whether a breaker follows the other instances of its fleet when a fleet sync is
//! connected, and its TOML names.

/// The smallest quorum: a quorum of one instance is [`FleetMode::Follow`].
pub(crate) const MIN_FLEET_QUORUM: u32 = 2;
/// The largest quorum.
pub(crate) const MAX_FLEET_QUORUM: u32 = 1000;

/// What a breaker does when other instances of its fleet (the same breaker in other
/// processes) open it. It only matters when a fleet sync is connected; without one every
/// breaker decides alone, whatever its mode.
///
/// - `Local` (the default): never opens because others did.
/// - `Follow`: opens as soon as any other instance opens it, for what is left of that
///   instance's open period.
/// - `Quorum(n)`: opens once `n` instances have it open at once; `n` is in 2..=1000 (a quorum
///   of one is `Follow`).
///
/// In TOML: `fleet = "local"`, `fleet = "follow"` or `fleet = { quorum = 3 }`.
///
/// # Examples
///
/// ```
/// use fusebox_policies::{FleetMode, Policy};
///
/// assert_eq!(Policy::default().fleet(), FleetMode::Local);
/// let p = Policy::builder().fleet(FleetMode::Quorum(3)).build()?;
/// assert_eq!(p.fleet(), FleetMode::Quorum(3));
/// assert_eq!(Policy::from_toml("fleet = \"follow\"")?.fleet(), FleetMode::Follow);
/// # Ok::<(), fusebox_policies::PolicyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FleetMode {
    /// Never opens because other instances did.
    #[default]
    Local,
    /// Opens when any other instance of the fleet opens, for that instance's remaining open
    /// period.
    Follow,
    /// Opens once this many instances have it open at once, in 2..=1000.
    Quorum(u32),
}

impl FleetMode {
    /// The keywords, by their TOML names.
    pub(crate) const NAMED: [(&'static str, FleetMode); 2] =
        [("local", FleetMode::Local), ("follow", FleetMode::Follow)];

    /// The mode a TOML keyword stands for (`Quorum` is a table, not a keyword).
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::NAMED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| *m)
    }

    /// The mode as its TOML value: `"local"`, `"follow"` or `{ quorum = N }`.
    pub(crate) fn to_toml(self) -> String {
        match self {
            FleetMode::Local => "\"local\"".to_owned(),
            FleetMode::Follow => "\"follow\"".to_owned(),
            FleetMode::Quorum(n) => format!("{{ quorum = {n} }}"),
        }
    }

    /// Why a quorum of `n` is refused, if it is: out of 2..=1000, with a hint for 1.
    pub(crate) fn check_quorum(n: u32) -> Result<(), String> {
        if (MIN_FLEET_QUORUM..=MAX_FLEET_QUORUM).contains(&n) {
            return Ok(());
        }
        let hint = if n == 1 {
            "; a quorum of one instance is fleet = \"follow\""
        } else {
            ""
        };
        Err(format!(
            "must be in {MIN_FLEET_QUORUM}..={MAX_FLEET_QUORUM}, got {n}{hint}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_round_trip_through_their_names() {
        for (name, mode) in FleetMode::NAMED {
            assert_eq!(FleetMode::from_name(name), Some(mode));
            assert_eq!(mode.to_toml(), format!("{name:?}"));
        }
        assert_eq!(FleetMode::from_name("quorum"), None);
        assert_eq!(FleetMode::Quorum(3).to_toml(), "{ quorum = 3 }");
    }

    #[test]
    fn quorums_outside_the_range_are_refused_and_one_points_to_follow() {
        assert_eq!(FleetMode::check_quorum(2), Ok(()));
        assert_eq!(FleetMode::check_quorum(1000), Ok(()));
        assert_eq!(
            FleetMode::check_quorum(0).unwrap_err(),
            "must be in 2..=1000, got 0"
        );
        assert_eq!(
            FleetMode::check_quorum(1001).unwrap_err(),
            "must be in 2..=1000, got 1001"
        );
        assert!(
            FleetMode::check_quorum(1)
                .unwrap_err()
                .contains("fleet = \"follow\"")
        );
    }
}
