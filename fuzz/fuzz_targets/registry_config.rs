//! `Registry::apply_toml` on arbitrary bytes: never panics; a refused file names a position
//! and changes nothing; an accepted file resolves every breaker it names.
#![no_main]

use fusebox_policies::{Policy, RegistryConfig};
use fusebox_registry::Registry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let registry = Registry::new(Policy::default());
    registry.breaker("stripe.charges").expect("a valid name");
    let before = registry.resolved_policy("stripe.charges");
    match registry.apply_toml(text) {
        Ok(()) => {
            let config = RegistryConfig::from_toml(text).expect("accepted by the registry");
            for b in config.breakers() {
                assert!(registry.breaker(&b.name).is_ok(), "{} resolves", b.name);
            }
        }
        Err(e) => {
            assert!(e.position().is_some(), "error without a position: {e}");
            assert_eq!(
                registry.resolved_policy("stripe.charges"),
                before,
                "a refused file changes nothing"
            );
        }
    }
});
