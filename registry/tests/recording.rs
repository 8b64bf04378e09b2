//! A registry's recording: patterns, breakers created later, config reloads switching it on
//! and off, the JSON Lines it drains, the drop count.

use std::time::Duration;

use fusebox_engine::{CallRecorder, ManualClock, Policy};
use fusebox_registry::{RecordConfig, RecordedCall, RecordedOutcome, Registry};

fn registry() -> (Registry, ManualClock) {
    let clock = ManualClock::new();
    (
        Registry::with_clock(Policy::default(), clock.clone()),
        clock,
    )
}

fn parse(text: &str) -> Vec<RecordedCall> {
    assert!(text.is_empty() || text.ends_with('\n'), "{text:?}");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn names(text: &str) -> Vec<String> {
    parse(text).into_iter().map(|c| c.breaker).collect()
}

fn one_call_each(registry: &Registry, names: &[&str]) {
    for name in names {
        registry
            .breaker(name)
            .unwrap()
            .try_acquire()
            .unwrap()
            .success();
    }
}

#[test]
fn patterns_pick_the_breakers_recorded() {
    let (r, _) = registry();
    let all = [
        "pay",
        "pay.stripe",
        "pay.stripe.eu",
        "payments",
        "db",
        "db.primary",
    ];
    one_call_each(&r, &all[..3]); // before the recording: not recorded
    r.record(RecordConfig::new(["pay.*", "db"], 1.0, 100).unwrap());
    one_call_each(&r, &all);
    assert_eq!(
        names(&r.drain_recording()),
        ["pay.stripe", "pay.stripe.eu", "db"]
    );
    assert!(r.breaker("pay").unwrap().recorder().is_none());
}

#[test]
fn breakers_created_later_are_recorded() {
    let (r, _) = registry();
    r.record(RecordConfig::new(["pay.*"], 1.0, 100).unwrap());
    assert_eq!(r.len(), 0);
    one_call_each(&r, &["pay.new", "other"]);
    assert_eq!(names(&r.drain_recording()), ["pay.new"]);
    assert!(r.get("other").unwrap().recorder().is_none());
}

#[test]
fn the_drain_is_json_lines_oldest_first() {
    let (r, clock) = registry();
    r.record(RecordConfig::new(["a", "b"], 1.0, 100).unwrap());
    let a = r.breaker("a").unwrap();
    let b = r.breaker("b").unwrap();
    let long = a.try_acquire().unwrap(); // arrives first, ends last
    clock.advance(Duration::from_micros(1500));
    b.try_acquire().unwrap().failure();
    clock.advance(Duration::from_millis(2));
    long.success();
    b.force_open();
    let _ = b.try_acquire();
    drop(a.try_acquire().unwrap());
    let text = r.drain_recording();
    assert_eq!(
        text,
        concat!(
            r#"{"t_ms":0.0,"breaker":"a","outcome":"success","duration_ms":3.5}"#,
            "\n",
            r#"{"t_ms":1.5,"breaker":"b","outcome":"failure","duration_ms":0.0}"#,
            "\n",
            r#"{"t_ms":3.5,"breaker":"b","outcome":"rejected","reason":"forced_open"}"#,
            "\n",
            r#"{"t_ms":3.5,"breaker":"a","outcome":"ignored","duration_ms":0.0}"#,
            "\n",
        )
    );
    let calls = parse(&text);
    assert_eq!(calls[2].outcome, RecordedOutcome::Rejected);
    assert_eq!(calls[2].duration_ms, None);
    for (call, line) in calls.iter().zip(text.lines()) {
        assert_eq!(call.to_json_line(), line, "lines parse back to themselves");
    }
    assert_eq!(r.drain_recording(), "", "drained");
}

#[test]
fn a_config_file_switches_recording_on_and_off() {
    let (r, _) = registry();
    let on = "[record]\nbreakers = [\"pay.*\"]\nsample = 1.0\ncapacity = 100\n";
    r.apply_toml(on).unwrap();
    let stripe = r.breaker("pay.stripe").unwrap();
    assert!(stripe.recorder().is_some());
    stripe.try_acquire().unwrap().success();
    // The same table again keeps the buffer and what it holds.
    r.apply_toml(on).unwrap();
    stripe.try_acquire().unwrap().success();
    assert_eq!(r.recording().unwrap().capacity(), 100);
    assert_eq!(names(&r.drain_recording()).len(), 2);
    // Other patterns: what no longer matches stops.
    r.apply_toml("[record]\nbreakers = [\"db\"]\ncapacity = 100\n")
        .unwrap();
    assert!(stripe.recorder().is_none());
    one_call_each(&r, &["pay.stripe", "db"]);
    assert_eq!(names(&r.drain_recording()), ["db"]);
    // A file without the table stops recording.
    r.apply_toml("[defaults]\nmin_calls = 5\n").unwrap();
    assert!(r.recording().is_none());
    assert!(r.get("db").unwrap().recorder().is_none());
    one_call_each(&r, &["db"]);
    assert_eq!(r.drain_recording(), "");
}

#[test]
fn a_refused_file_leaves_the_recording_alone() {
    let (r, _) = registry();
    r.apply_toml("[record]\nbreakers = [\"db\"]\n").unwrap();
    let err = r
        .apply_toml("[record]\nbreakers = [\"db\"]\nsample = 2\n")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "3:10: record: sample: must be in (0, 1], got 2"
    );
    assert_eq!(err.position(), Some((3, 10)));
    let err = r
        .apply_toml("[record]\nbreakers = [\"db*\"]\n")
        .unwrap_err();
    assert_eq!(err.position(), Some((2, 13)));
    assert_eq!(r.recording().unwrap().sample(), 1.0);
    assert_eq!(r.recording().unwrap().capacity(), 1_000_000);
}

#[test]
fn a_breaker_recording_into_its_own_recorder_is_left_alone() {
    let (r, _) = registry();
    let own = CallRecorder::new(10);
    let mine = r.breaker("mine").unwrap();
    mine.record_to(&own, 1.0);
    r.record(RecordConfig::new(["db"], 1.0, 10).unwrap());
    r.stop_recording();
    mine.try_acquire().unwrap().success();
    assert_eq!(own.len(), 1);
}

#[test]
fn drops_are_counted_across_recordings_and_exported() {
    let (r, _) = registry();
    r.record(RecordConfig::new(["db"], 1.0, 2).unwrap());
    for _ in 0..5 {
        r.breaker("db").unwrap().try_acquire().unwrap().success();
    }
    assert_eq!(r.recording_dropped(), 3);
    r.record(RecordConfig::new(["db"], 1.0, 1).unwrap()); // a new buffer
    for _ in 0..3 {
        r.breaker("db").unwrap().try_acquire().unwrap().success();
    }
    assert_eq!(r.recording_dropped(), 5);
    r.stop_recording();
    assert_eq!(r.recording_dropped(), 5);
    let text = r.render_prometheus();
    assert!(
        text.contains(
            "# TYPE fusebox_recording_dropped_total counter\nfusebox_recording_dropped_total 5\n"
        ),
        "{text}"
    );
}

#[test]
fn threads_recording_through_a_registry_account_for_every_call() {
    let r = Registry::new(Policy::default());
    r.record(RecordConfig::new(["s.*"], 1.0, 5_000).unwrap());
    const THREADS: usize = 4;
    const CALLS: usize = 10_000;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let r = r.clone();
            s.spawn(move || {
                let b = r.breaker(&format!("s.{t}")).unwrap();
                b.metrics_only();
                for _ in 0..CALLS {
                    b.try_acquire().unwrap().success();
                }
            });
        }
    });
    let kept = parse(&r.drain_recording()).len() as u64;
    assert_eq!(kept + r.recording_dropped(), (THREADS * CALLS) as u64);
}
