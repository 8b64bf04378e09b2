//! Breaker names: the accepted alphabet and the dotted-prefix relations inheritance and groups
//! are built on.

use crate::RegistryError;

/// The longest accepted breaker name, in bytes.
pub const MAX_NAME_BYTES: usize = 128;

/// How much of a rejected name an error keeps, in bytes: a name may come from untrusted input.
const NAME_IN_ERROR_BYTES: usize = MAX_NAME_BYTES;

/// Checks a breaker name: 1 to [`MAX_NAME_BYTES`] bytes of `A-Z a-z 0-9 _ . : -`, with no empty
/// dotted segment (no leading, trailing or doubled `.`).
///
/// # Errors
///
/// [`RegistryError::InvalidName`] naming the first rule the name breaks.
///
/// # Examples
///
/// ```
/// use fusebox_registry::validate_name;
/// assert!(validate_name("stripe.charges.eu").is_ok());
/// assert!(validate_name("api:v2/users").is_err());
/// assert!(validate_name("stripe..eu").is_err());
/// ```
pub fn validate_name(name: &str) -> Result<(), RegistryError> {
    let reason = if name.is_empty() {
        "must not be empty"
    } else if name.len() > MAX_NAME_BYTES {
        "must be at most 128 bytes"
    } else if let Some(c) = name
        .bytes()
        .find(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-')))
    {
        return Err(invalid(
            name,
            if c.is_ascii_graphic() || c == b' ' {
                format!(
                    "character {:?} is not allowed (A-Z a-z 0-9 _ . : -)",
                    c as char
                )
            } else {
                "only A-Z a-z 0-9 _ . : - are allowed".to_owned()
            },
        ));
    } else if name.split('.').any(str::is_empty) {
        "must not have an empty dotted segment (leading, trailing or doubled '.')"
    } else {
        return Ok(());
    };
    Err(invalid(name, reason.to_owned()))
}

fn invalid(name: &str, reason: String) -> RegistryError {
    let mut end = name.len().min(NAME_IN_ERROR_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    let mut shown = name[..end].to_owned();
    if end < name.len() {
        shown.push('…');
    }
    RegistryError::InvalidName {
        name: shown,
        reason,
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
            assert_eq!(validate_name(name).is_ok(), *ok, "{name:?}");
        }
    }

    #[test]
    fn error_keeps_a_bounded_prefix_of_the_name() {
        let huge = "x".repeat(1 << 20);
        let RegistryError::InvalidName { name, .. } = validate_name(&huge).unwrap_err() else {
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
