//! Helpers shared by the CLI tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The `fusebox` binary under test.
pub fn fusebox() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fusebox"))
}

/// A test fixture's path.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A fresh, empty directory for one test.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fusebox-cli-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A command's stdout and stderr as strings.
pub fn output(cmd: &mut Command) -> (String, String, Option<i32>) {
    let out = cmd.output().expect("runs");
    (
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
        out.status.code(),
    )
}

/// A `fusebox serve` child process, killed when dropped.
pub struct Served {
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`, from its first line.
    pub url: String,
    /// Its stdout after the first line.
    pub lines: std::sync::mpsc::Receiver<String>,
    /// Its stderr, line by line.
    pub errors: std::sync::mpsc::Receiver<String>,
}

/// Sends each line `from` reads to the returned receiver, from a thread of its own.
fn line_reader(from: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Served {
    /// Starts `fusebox serve ARGS --bind 127.0.0.1:0` and reads its first line, which must be
    /// `listening on http://ADDR`.
    pub fn start(args: &[&str]) -> Served {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fusebox"))
            .arg("serve")
            .args(args)
            .args(["--bind", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("fusebox serve starts");
        let lines = line_reader(child.stdout.take().expect("piped"));
        let first = lines
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("a first line within 30 s");
        let url = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line {first:?}"))
            .to_owned();
        let errors = line_reader(child.stderr.take().expect("piped"));
        Served {
            child,
            url,
            lines,
            errors,
        }
    }

    /// The next stdout line, within 10 s.
    pub fn next_line(&self) -> String {
        self.lines
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("a line within 10 s")
    }

    /// The next stderr line, within 10 s.
    pub fn next_error(&self) -> String {
        self.errors
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("an error line within 10 s")
    }

    /// Sends `signal` (e.g. "HUP", "TERM") to the process.
    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to exit, at most 10 s; its exit code.
    pub fn wait(&mut self) -> Option<i32> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            assert!(std::time::Instant::now() < deadline, "did not exit in 10 s");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
