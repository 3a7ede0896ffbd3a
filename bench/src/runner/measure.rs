//! Runs one workload process and measures it from outside: CPU time comes from `wait4`'s
//! `rusage` of that child alone, so the runner's own work never counts.
//!
//! Peak RSS: the child reports its own `VmHWM` (`peak_rss_kib=` on its result line), and the
//! runner uses that. `ru_maxrss` is kept too (`ru_maxrss_kib`), but it is not the workload's
//! alone: at `exec` Linux folds the high-water mark of the address space the child had before
//! (the runner's, shared or copied by the spawn) into it, so every run would read at least the
//! runner's own RSS (about 4 MiB) and small differences would vanish.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use hakmem_bench::wl_main::RESULT_MARKER;

/// How to start one run.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// What a successful run reported and cost.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    /// The workload's own wall time (from its first allocation to its last free), seconds.
    pub wall_s: f64,
    /// Wall time of the whole process as the runner saw it (start-up and exit included).
    pub process_s: f64,
    pub user_s: f64,
    pub sys_s: f64,
    /// Peak resident set size of the workload process, KiB (its `VmHWM`; `ru_maxrss` when
    /// the child did not report it).
    pub peak_rss_kib: u64,
    /// `ru_maxrss` of the child, KiB (includes the spawning runner's RSS; see the module doc).
    pub ru_maxrss_kib: u64,
    pub ops: u64,
    pub checksum: u64,
    /// `ru_minflt` of the child: page faults served without I/O, pages populated on its behalf
    /// included. rust-btreemap takes ~500 when its growing SuperSlabs get huge pages and ~4,800
    /// when the host refuses them, at ~1.16x the CPU (docs/benchmarks.md, "Session 25: faults25"):
    /// a draw's outlier can be told from the allocator's code by this column.
    pub minflt: u64,
    /// Extra `key=value` fields of the result line (e.g. `malloc_from` of the C workloads).
    pub fields: Vec<(String, String)>,
}

fn tv(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 * 1e-6
}

fn reader<R: Read + Send + 'static>(mut r: R) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut s = String::new();
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        s.push_str(&String::from_utf8_lossy(&buf));
        s
    })
}

/// Runs `inv` to completion (or kills it after `timeout`) and parses its result line.
pub fn run(inv: &Invocation, timeout: Duration) -> Result<Measured, String> {
    let mut cmd = Command::new(&inv.program);
    cmd.args(&inv.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &inv.env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", inv.program.display()))?;
    let out = reader(child.stdout.take().expect("piped stdout"));
    let err = reader(child.stderr.take().expect("piped stderr"));
    let pid = child.id() as libc::pid_t;

    // Poll with WNOHANG so that a run past its deadline can be killed while its pid is still
    // ours (not yet reaped). The poll interval bounds the error of `process_s` only; `wall_s`
    // is measured inside the workload.
    // SAFETY: rusage is plain data; all-zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let mut status = 0;
    let mut killed = false;
    let mut nap = Duration::from_micros(200);
    loop {
        // SAFETY: pid is our unreaped child; status and ru are valid out-pointers.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
        if r == pid {
            break;
        }
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("wait4 failed: {e}"));
        }
        if !killed && start.elapsed() > timeout {
            // SAFETY: the child has not been reaped, so pid still names it.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed = true;
        }
        thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(5));
    }
    let process_s = start.elapsed().as_secs_f64();
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let tail = |s: &str| {
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(6)..].join("\n    ")
    };
    if killed {
        return Err(format!(
            "killed after {:.0} s (timeout)",
            timeout.as_secs_f64()
        ));
    }
    if libc::WIFSIGNALED(status) {
        return Err(format!(
            "died of signal {}\n    {}",
            libc::WTERMSIG(status),
            tail(&stderr)
        ));
    }
    let code = libc::WEXITSTATUS(status);
    if code != 0 {
        return Err(format!("exited with status {code}\n    {}", tail(&stderr)));
    }
    let Some(line) = stdout.lines().find(|l| l.starts_with(RESULT_MARKER)) else {
        return Err(format!("printed no result line\n    {}", tail(&stdout)));
    };
    let mut m = Measured {
        process_s,
        user_s: tv(ru.ru_utime),
        sys_s: tv(ru.ru_stime),
        peak_rss_kib: ru.ru_maxrss as u64,
        ru_maxrss_kib: ru.ru_maxrss as u64,
        minflt: ru.ru_minflt as u64,
        ..Measured::default()
    };
    for field in line.split_whitespace().skip(1) {
        let Some((k, v)) = field.split_once('=') else {
            continue;
        };
        let num = || {
            v.parse::<u64>()
                .map_err(|_| format!("bad {k} in result line: {line}"))
        };
        match k {
            "wall_ns" => m.wall_s = num()? as f64 * 1e-9,
            "ops" => m.ops = num()?,
            "checksum" => m.checksum = num()?,
            "peak_rss_kib" => {
                let kib = num()?;
                if kib > 0 {
                    m.peak_rss_kib = kib;
                }
            }
            _ => m.fields.push((k.to_string(), v.to_string())),
        }
    }
    if m.wall_s <= 0.0 {
        return Err(format!("result line has no wall time: {line}"));
    }
    Ok(m)
}
