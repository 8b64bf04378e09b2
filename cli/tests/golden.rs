//! The built-in scenario's text output is stable for its seed: compared byte for byte with
//! `tests/golden/builtin.txt`. After a deliberate change, regenerate it with
//! `FUSEBOX_BLESS=1 cargo test -p fusebox-cli --test golden` and review the diff.

mod common;

use common::{fusebox, output, scratch};

#[test]
fn builtin_scenario_output_is_stable() {
    let dir = scratch("golden");
    let (out, err, code) =
        output(
            fusebox()
                .current_dir(&dir)
                .args(["simulate", "--chart", "simulate.svg"]),
        );
    assert_eq!(code, Some(0), "{err}");
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/builtin.txt");
    if std::env::var_os("FUSEBOX_BLESS").is_some() {
        std::fs::write(&golden, &out).expect("write the golden file");
    }
    let expected = std::fs::read_to_string(&golden).expect("tests/golden/builtin.txt");
    if out != expected {
        for (i, (a, b)) in out.lines().zip(expected.lines()).enumerate() {
            if a != b {
                panic!("line {}:\n  got      {a:?}\n  expected {b:?}", i + 1);
            }
        }
        panic!(
            "output has {} lines, the golden file {}",
            out.lines().count(),
            expected.lines().count()
        );
    }
}
