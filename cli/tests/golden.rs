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

/// The README shows the built-in scenario's timeline and summary, and `docs/simulate.svg` is
/// its chart: both must be what the command prints and draws today.
#[test]
fn readme_and_docs_chart_match_the_built_in_scenario() {
    let dir = scratch("readme");
    let (out, err, code) =
        output(
            fusebox()
                .current_dir(&dir)
                .args(["simulate", "--chart", "simulate.svg"]),
        );
    assert_eq!(code, Some(0), "{err}");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let chart = std::fs::read(dir.join("simulate.svg")).expect("chart");
    let docs_chart = root.join("docs/simulate.svg");
    if std::env::var_os("FUSEBOX_BLESS").is_some() {
        std::fs::write(&docs_chart, &chart).expect("write docs/simulate.svg");
    }
    assert!(
        std::fs::read(&docs_chart).expect("docs/simulate.svg") == chart,
        "docs/simulate.svg is stale: regenerate it with FUSEBOX_BLESS=1"
    );
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let summary = &out[out.find("\nsummary ").expect("summary") + 1
        ..out.find("\ncaller latency: from").expect("notes")];
    assert!(
        readme.contains(summary),
        "the README's summary differs from the built-in scenario's:\n{summary}"
    );
    let timeline = &out[out.find("timeline of breaker").expect("timeline")
        ..out.find("\nsummary ").expect("summary")];
    assert!(
        readme.contains(timeline.trim_end()),
        "the README's timeline differs:\n{timeline}"
    );
}
