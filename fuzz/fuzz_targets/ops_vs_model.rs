//! Random operation sequences against the engine and the sequential reference model in
//! `engine/tests/model/mod.rs` (the same check as `engine/tests/model.rs`, from raw bytes).

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../engine/tests/model/mod.rs"]
mod model;

fuzz_target!(|data: &[u8]| {
    let mut u = arbitrary::Unstructured::new(data);
    if let Ok(scenario) = model::Scenario::arbitrary(&mut u) {
        model::run(&scenario);
    }
});
