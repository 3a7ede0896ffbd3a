//! What the results were measured on and with: machine, toolchain and allocator versions.

use std::collections::BTreeMap;
use std::process::Command;

use serde::Serialize;

use super::builder::Paths;

#[derive(Clone, Debug, Serialize)]
pub struct Meta {
    pub date_utc: String,
    pub host_cpu: String,
    pub cores: usize,
    pub kernel: String,
    pub rustc: String,
    pub cc: String,
    pub hakmem_commit: String,
    /// Versions of the allocator crates (from Cargo.lock) and Debian packages.
    pub versions: BTreeMap<String, String>,
    pub scale: f64,
    pub threads: usize,
    pub reps: usize,
    pub command: String,
}

fn first_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string())
}

/// Versions of `names` as Cargo.lock records them (the first entry of each name).
fn lock_versions(paths: &Paths, names: &[&str]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(lock) = std::fs::read_to_string(paths.root.join("Cargo.lock")) else {
        return out;
    };
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_string());
        } else if let Some(v) = line.strip_prefix("version = ") {
            if let Some(n) = name.take() {
                if names.contains(&n.as_str()) {
                    out.entry(n)
                        .or_insert_with(|| v.trim_matches('"').to_string());
                }
            }
        }
    }
    out
}

pub fn collect(paths: &Paths, scale: f64, threads: usize, reps: usize) -> Meta {
    let mut versions = lock_versions(
        paths,
        &[
            "hakmem",
            "mimalloc",
            "libmimalloc-sys",
            "tikv-jemallocator",
            "tikv-jemalloc-sys",
            "snmalloc-rs",
            "snmalloc-sys",
        ],
    );
    for pkg in ["libc6", "libmimalloc2.0", "libjemalloc2"] {
        let v = first_line("dpkg-query", &["-W", "-f=${Version}", pkg]);
        if v != "unknown" {
            versions.insert(format!("debian:{pkg}"), v);
        }
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let host_cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown".to_string(), |(_, m)| m.trim().to_string());
    let dirty = Command::new("git")
        .current_dir(&paths.root)
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    let commit = Command::new("git")
        .current_dir(&paths.root)
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    Meta {
        date_utc: first_line("date", &["-u", "+%Y-%m-%d %H:%M:%S UTC"]),
        host_cpu,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        kernel: first_line("uname", &["-sr"]),
        rustc: first_line("rustc", &["-V"]),
        cc: first_line(&cc, &["--version"]),
        hakmem_commit: if dirty {
            format!("{commit}+dirty")
        } else {
            commit
        },
        versions,
        scale,
        threads,
        reps,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    }
}
