//! With feature `tracing`, each transition is a `tracing` event of target `fusebox` with its
//! fields, at WARN into `Open`/`ForcedOpen` and INFO otherwise, and nothing on calls.
#![cfg(feature = "tracing")]

use std::io::Write;
use std::sync::{Arc, Mutex};

use fusebox::{ManualClock, Policy, Registry};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn transitions_are_tracing_events_with_their_fields_and_level() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .without_time()
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let registry = Registry::with_clock(
            Policy::builder().min_calls(2).build().unwrap(),
            ManualClock::new(),
        );
        let db = registry.breaker("db").unwrap();
        for _ in 0..2 {
            let _ = db.call(|| Ok::<_, ()>(()));
        }
        let _ = db.call(|| Err::<(), _>(()));
        let _ = db.call(|| Err::<(), _>(()));
        db.noted("oncall: checked").reset();
    });
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "one event per transition, none per call:\n{text}"
    );
    assert!(lines[0].contains("WARN fusebox:"), "{}", lines[0]);
    for field in [
        "breaker=\"db\"",
        "from=\"closed\"",
        "to=\"open\"",
        "reason=\"failure_rate\"",
        "window_calls=4",
        "window_failures=2",
    ] {
        assert!(lines[0].contains(field), "{field} missing in {}", lines[0]);
    }
    assert!(lines[1].contains("INFO fusebox:"), "{}", lines[1]);
    assert!(lines[1].contains("to=\"closed\"") && lines[1].contains("note=\"oncall: checked\""));
}
