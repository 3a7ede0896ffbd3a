//! Child-process harness shared by `tests/fail_fast.rs`, `tests/stats.rs` and `tests/switches.rs`.
//!
//! A test that must run alone in a process (it aborts on purpose, or it counts process-wide
//! events) re-executes the current test binary with
//! `--exact child --nocapture --test-threads=1 --ignored` and [`SCENARIO_VAR`] naming what to do.
//! The binary's `#[ignore]`d `child` test reads the variable and runs that scenario; without the
//! variable it does nothing, so `cargo test -- --ignored` stays harmless.
//!
//! Every child is bounded: one that has not exited after [`TIMEOUT`] is killed and the test fails
//! (a hang is a failure). Core dumps are switched off in the child so that the deliberate aborts
//! stay fast. Every `HAKMEM_*` variable of the parent's environment is removed from the child's,
//! so only the variables a test names reach it.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Names the scenario a child runs.
pub const SCENARIO_VAR: &str = "HAKMEM_TEST_SCENARIO";
/// Name of the `#[ignore]`d test every binary using this module defines as its child entry point.
pub const CHILD_TEST: &str = "child";
/// Printed by a child after the operation that should have killed it.
pub const CONTINUED: &str = "hakmem-test: continued after the bad operation";
/// Printed by a child just before the bad operation, followed by the pointer it passes.
pub const BAD_PTR: &str = "hakmem-test: bad-ptr=";
/// Longest a child may run.
pub const TIMEOUT: Duration = Duration::from_secs(60);
/// SIGABRT.
pub const SIGABRT: i32 = 6;

/// Every variable hakmem reads; removed from the child's environment unless a test sets it.
pub const HAKMEM_VARS: &[&str] = &[
    "HAKMEM_TINY_SS_TLS_HINT",
    "HAKMEM_TINY_SS_ADOPT",
    "HAKMEM_TINY_RF_FORCE_NOTIFY",
    "HAKMEM_TINY_MUST_ADOPT",
    "HAKMEM_STATS",
    "HAKMEM_DEBUG",
    "HAKMEM_PURGE_MADV_FREE",
    "HAKMEM_BACKGROUND",
    "HAKMEM_PURGE_DELAY_MS",
    "HAKMEM_LARGE_CACHE",
    "HAKMEM_PROF",
    "HAKMEM_PROF_SAMPLE",
    "HAKMEM_PROF_DUMP",
    "HAKMEM_PROF_SIGNAL",
    "HAKMEM_PROF_LEAKS",
];

/// The scenario this process runs as a child, if it is one.
pub fn scenario() -> Option<String> {
    std::env::var(SCENARIO_VAR).ok().filter(|s| !s.is_empty())
}

/// What a child did.
pub struct Child {
    pub scenario: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `scenario` in a child process with the extra environment `env`, waiting at most
/// [`TIMEOUT`]. Panics if the child cannot be started or hangs.
pub fn run(scenario: &str, env: &[(&str, &str)]) -> Child {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args([
        CHILD_TEST,
        "--exact",
        "--nocapture",
        "--test-threads=1",
        "--ignored",
    ])
    .env(SCENARIO_VAR, scenario)
    .env("RUST_BACKTRACE", "0")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    for var in HAKMEM_VARS {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    // SAFETY: the closure runs in the forked child before exec and calls only setrlimit, which is
    // async-signal-safe; it touches no memory shared with the parent.
    unsafe {
        cmd.pre_exec(|| {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn the test binary as a child");
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_reader = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        String::from_utf8_lossy(&v).into_owned()
    });
    let err_reader = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        String::from_utf8_lossy(&v).into_owned()
    });
    let deadline = Instant::now() + TIMEOUT;
    let (status, hung) = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break (status, false);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            break (child.wait().expect("wait for the killed child"), true);
        }
        thread::sleep(Duration::from_millis(10));
    };
    let c = Child {
        scenario: scenario.to_owned(),
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    };
    assert!(
        !hung,
        "child `{scenario}` hung: killed after {} s\n{}",
        TIMEOUT.as_secs(),
        c.report()
    );
    c
}

impl Child {
    /// The signal that killed the child, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }

    /// Everything the child printed, for failure messages.
    pub fn report(&self) -> String {
        format!(
            "---- child `{}`: {:?}\n---- stdout:\n{}\n---- stderr:\n{}\n----",
            self.scenario, self.status, self.stdout, self.stderr
        )
    }

    /// The lines hakmem wrote (`hakmem: …`), from stderr.
    pub fn hakmem_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("hakmem: "))
            .collect()
    }

    /// Asserts the child ran its scenario to completion: exit status 0, and libtest reports that
    /// exactly one test (the child entry point) passed — so a filter that matched nothing fails.
    pub fn assert_passed(&self) {
        assert!(
            self.status.success(),
            "child `{}` failed\n{}",
            self.scenario,
            self.report()
        );
        assert!(
            self.stdout.contains("test result: ok. 1 passed"),
            "child `{}` did not run its scenario\n{}",
            self.scenario,
            self.report()
        );
    }

    /// Asserts the child was killed by SIGABRT right at the bad operation, after hakmem wrote an
    /// abort line starting with `hakmem: <box>: ` that contains every word of `words`. When
    /// `check_ptr`, the line must also name (`ptr=0x…`) the pointer the child announced with
    /// [`BAD_PTR`]. Returns the abort line.
    pub fn assert_aborted(&self, boxes: &[&str], words: &[&str], check_ptr: bool) -> String {
        assert_eq!(
            self.signal(),
            Some(SIGABRT),
            "child `{}` was not killed by SIGABRT\n{}",
            self.scenario,
            self.report()
        );
        assert!(
            !self.stdout.contains(CONTINUED) && !self.stderr.contains(CONTINUED),
            "child `{}` continued after the bad operation\n{}",
            self.scenario,
            self.report()
        );
        let line = self
            .hakmem_lines()
            .into_iter()
            .find(|l| {
                boxes
                    .iter()
                    .any(|b| l.starts_with(&format!("hakmem: {b}: ")))
            })
            .unwrap_or_else(|| {
                panic!(
                    "child `{}`: no `hakmem: <box>: ` line for box {boxes:?}\n{}",
                    self.scenario,
                    self.report()
                )
            });
        for w in words {
            assert!(
                line.contains(w),
                "child `{}`: abort line lacks {w:?}: {line}\n{}",
                self.scenario,
                self.report()
            );
        }
        assert!(
            line.contains(" ptr=0x"),
            "child `{}`: abort line names no pointer: {line}",
            self.scenario
        );
        if check_ptr {
            let bad = self
                .stderr
                .lines()
                .find_map(|l| l.strip_prefix(BAD_PTR))
                .unwrap_or_else(|| {
                    panic!(
                        "child `{}` announced no bad pointer\n{}",
                        self.scenario,
                        self.report()
                    )
                });
            assert!(
                line.contains(&format!(" ptr={bad}")),
                "child `{}`: abort line does not name the freed pointer {bad}: {line}",
                self.scenario
            );
        }
        line.to_owned()
    }
}

/// In a child: announces the pointer about to be passed to the bad operation.
pub fn announce(p: *const u8) {
    eprintln!("{BAD_PTR}{:#x}", p as usize);
}

/// In a child: reports that the bad operation returned.
pub fn continued() {
    eprintln!("{CONTINUED}");
    println!("{CONTINUED}");
}
