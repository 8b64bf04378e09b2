//! Breaker names: the accepted alphabet and the dotted-prefix relations inheritance and groups
//! are built on.
//!
//! # Synchronization
//!
//! None: pure functions of a name.

use fusebox_policies::NameError;

use crate::RegistryError;

/// Checks a breaker name with the policies crate's rule
/// ([`fusebox_policies::validate_name`]), as a registry error.
#[inline]
pub(crate) fn check_name(name: &str) -> Result<(), RegistryError> {
    fusebox_policies::validate_name(name).map_err(RegistryError::from)
}

impl From<NameError> for RegistryError {
    fn from(e: NameError) -> Self {
        RegistryError::InvalidName {
            name: e.name().to_owned(),
            reason: e.reason().to_owned(),
        }
    }
}

/// Whether `name` is `prefix` or below it (`prefix.*`): `stripe` holds `stripe.eu`, not
/// `stripes`.
#[inline]
pub(crate) fn in_group(name: &str, prefix: &str) -> bool {
    match name.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('.'),
        None => false,
    }
}

/// `name` and then each of its dotted ancestors, longest first: `a.b.c`, `a.b`, `a`.
pub(crate) fn self_and_ancestors(name: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(name), |n| n.rfind('.').map(|i| &n[..i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    use fusebox_policies::MAX_NAME_BYTES;

    #[test]
    fn names_table() {
        let long = "a".repeat(MAX_NAME_BYTES);
        let too_long = "a".repeat(MAX_NAME_BYTES + 1);
        let cases: &[(&str, bool)] = &[
            ("a", true),
            ("stripe.charges.eu", true),
            ("tenant-42:orders_v2", true),
            ("A.B-C_D:E", true),
            (&long, true),
            ("", false),
            (&too_long, false),
            (".a", false),
            ("a.", false),
            ("a..b", false),
            (".", false),
            ("a b", false),
            ("a/b", false),
            ("é", false),
            ("a\0b", false),
        ];
        for (name, ok) in cases {
            assert_eq!(check_name(name).is_ok(), *ok, "{name:?}");
        }
    }

    #[test]
    fn error_keeps_a_bounded_prefix_of_the_name() {
        let huge = "x".repeat(1 << 20);
        let RegistryError::InvalidName { name, .. } = check_name(&huge).unwrap_err() else {
            panic!("wrong variant");
        };
        assert!(name.len() <= MAX_NAME_BYTES + '…'.len_utf8());
    }

    #[test]
    fn group_membership_respects_dotted_boundaries() {
        assert!(in_group("stripe", "stripe"));
        assert!(in_group("stripe.eu", "stripe"));
        assert!(in_group("stripe.eu.charges", "stripe"));
        assert!(!in_group("stripes", "stripe"));
        assert!(!in_group("strip", "stripe"));
        assert!(!in_group("paypal.stripe", "stripe"));
    }

    #[test]
    fn ancestors_longest_first() {
        let v: Vec<_> = self_and_ancestors("a.b.c").collect();
        assert_eq!(v, ["a.b.c", "a.b", "a"]);
        assert_eq!(self_and_ancestors("a").collect::<Vec<_>>(), ["a"]);
    }
}
