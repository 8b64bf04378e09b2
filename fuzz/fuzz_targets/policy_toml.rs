//! `Policy::from_toml` on arbitrary bytes: never panics; every error names a field and a
//! position; every policy it accepts survives `to_toml` → `from_toml` unchanged.
#![no_main]

use fusebox_policies::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Policy::from_toml(text) {
        Ok(policy) => {
            let again = Policy::from_toml(&policy.to_toml()).expect("to_toml output parses");
            assert_eq!(again, policy, "round trip");
        }
        Err(e) => {
            assert!(!e.field().is_empty(), "error without a field: {e}");
            assert!(e.position().is_some(), "error without a position: {e}");
        }
    }
});
