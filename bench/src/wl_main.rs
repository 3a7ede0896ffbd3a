//! `main` of the `wl-<alloc>` binaries.
//!
//! Usage: `wl-<alloc> WORKLOAD [--scale X] [--threads N] [--seed S] [--inject-fault]`, or
//! `wl-<alloc> --list`. On success it prints one line for the runner:
//!
//! ```text
//! hakmem-bench-result alloc=mimalloc workload=larson threads=2 wall_ns=… ops=… checksum=… peak_rss_kib=…
//! ```
//!
//! `peak_rss_kib` is the process's `VmHWM` (the high-water mark of its own address space,
//! which starts empty at `exec`); see `runner/measure.rs` for why the runner prefers it to
//! `ru_maxrss`.
//!
//! and exits 0. A failed check prints `error: …` on stderr and exits 2; bad arguments exit 64.

use std::time::Instant;

use crate::workloads::{self, Params};

/// The marker that starts the result line.
pub const RESULT_MARKER: &str = "hakmem-bench-result";

fn usage(alloc: &str, msg: &str) -> ! {
    eprintln!("wl-{alloc}: {msg}");
    eprintln!("usage: wl-{alloc} WORKLOAD [--scale X] [--threads N] [--seed S] [--inject-fault]");
    eprintln!("       wl-{alloc} --list");
    std::process::exit(64);
}

/// The process's peak resident set size in KiB (`VmHWM` of `/proc/self/status`), if known.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Parses the arguments, runs one workload and reports it. `alloc` names the global
/// allocator the calling binary installed.
pub fn wl_main(alloc: &str) -> ! {
    wl_main_with(alloc, "")
}

/// `wl_main`, also reporting `config` (e.g. the allocator's feature set) on the result line.
pub fn wl_main_with(alloc: &str, config: &str) -> ! {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut params = Params {
        scale: 1.0,
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        seed: 0x5EED,
        inject_fault: false,
    };
    let mut name = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .cloned()
                .unwrap_or_else(|| usage(alloc, &format!("{flag} needs a value")))
        };
        match a.as_str() {
            "--list" => {
                for w in workloads::WORKLOADS {
                    println!("{:16} {}", w.name, w.about);
                }
                std::process::exit(0);
            }
            "--scale" => {
                params.scale = value(a)
                    .parse()
                    .unwrap_or_else(|_| usage(alloc, "bad --scale"));
            }
            "--threads" => {
                params.threads = value(a)
                    .parse()
                    .unwrap_or_else(|_| usage(alloc, "bad --threads"));
            }
            "--seed" => {
                params.seed = value(a)
                    .parse()
                    .unwrap_or_else(|_| usage(alloc, "bad --seed"))
            }
            "--inject-fault" => params.inject_fault = true,
            s if s.starts_with('-') => usage(alloc, &format!("unknown option {s}")),
            s if name.is_none() => name = Some(s.to_string()),
            s => usage(alloc, &format!("unexpected argument {s}")),
        }
    }
    let Some(name) = name else {
        usage(alloc, "no workload named")
    };
    let Some(w) = workloads::find(&name) else {
        usage(alloc, &format!("unknown workload {name} (see --list)"))
    };
    if !(params.scale > 0.0 && params.scale.is_finite()) || params.threads == 0 {
        usage(alloc, "--scale must be > 0 and --threads ≥ 1");
    }
    let start = Instant::now();
    let result = (w.run)(&params);
    let wall = start.elapsed();
    match result {
        Ok(o) => {
            let mut extra = peak_rss_kib().map_or(String::new(), |k| format!(" peak_rss_kib={k}"));
            if !config.is_empty() {
                extra.push_str(&format!(" config={config}"));
            }
            println!(
                "{RESULT_MARKER} alloc={alloc} workload={} threads={} wall_ns={} ops={} checksum={}{extra}",
                w.name,
                params.threads,
                wall.as_nanos(),
                o.ops,
                o.checksum
            );
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
