//! Command-line arguments of the runner.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Runs hakmem and its peers (mimalloc, jemalloc, snmalloc, the system allocator) on the same
/// workloads, each as the global allocator of its own process, and reports median wall time,
/// CPU time and peak RSS side by side: a table on stdout, CSV, JSON and an SVG chart in
/// `target/bench-results/`.
#[derive(Parser, Debug)]
#[command(name = "hakmem-bench", version)]
pub struct Args {
    /// A quick check: scale 0.1 and 3 repetitions (unless --scale / --reps say otherwise).
    #[arg(long)]
    pub quick: bool,

    /// Run only these workloads (comma-separated or repeated; see --list).
    #[arg(long, value_delimiter = ',', value_name = "NAME")]
    pub workload: Vec<String>,

    /// Run only these allocators: hakmem, hakmem-header, system, mimalloc, jemalloc, snmalloc;
    /// `hakmem-prof` (only when named, with `hakmem`) adds hakmem with HAKMEM_PROF=1 (both
    /// suites; the ratio column `prof/hk` is its on-cost).
    #[arg(long, value_delimiter = ',', value_name = "NAME")]
    pub alloc: Vec<String>,

    /// Multiply the work of every workload by X [default: 1, or 0.1 with --quick].
    #[arg(long, value_name = "X")]
    pub scale: Option<f64>,

    /// Worker threads of the multi-threaded workloads [default: available cores].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Runs per workload and allocator [default: 5, or 3 with --quick].
    #[arg(long, value_name = "N")]
    pub reps: Option<usize>,

    /// Which suite to run: the Rust workloads (global allocators), the C workloads
    /// (LD_PRELOAD), or both.
    #[arg(long, value_enum, default_value_t = SuiteSel::All)]
    pub suite: SuiteSel,

    /// Directory for results.json, runs.csv, summary.csv and the charts
    /// [default: <target dir>/bench-results].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Do not build anything; use the binaries already built.
    #[arg(long)]
    pub no_build: bool,

    /// Kill a run that takes longer than this many seconds (it counts as a failure).
    #[arg(long, value_name = "SECS", default_value_t = 300.0)]
    pub timeout: f64,

    /// List the workloads and allocators, then exit.
    #[arg(long)]
    pub list: bool,

    /// Take the `wl-<alloc>` binaries from DIR instead of building them (tests use this;
    /// hakmem-header is left out).
    #[arg(long, hide = true, value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,

    /// Self test: make every workload corrupt one of its blocks; the run must fail.
    #[arg(long, hide = true)]
    pub inject_fault: bool,
}

/// The `--suite` choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SuiteSel {
    Rust,
    C,
    All,
}

impl Args {
    pub fn scale(&self) -> f64 {
        self.scale.unwrap_or(if self.quick { 0.1 } else { 1.0 })
    }

    pub fn reps(&self) -> usize {
        self.reps.unwrap_or(if self.quick { 3 } else { 5 }).max(1)
    }

    pub fn threads(&self) -> usize {
        self.threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
            .max(1)
    }

    /// Whether allocator `name` was asked for (all are, without --alloc).
    pub fn wants_alloc(&self, name: &str) -> bool {
        self.alloc.is_empty() || self.alloc.iter().any(|a| a == name)
    }

    /// Whether workload `name` was asked for (all are, without --workload).
    pub fn wants_workload(&self, name: &str) -> bool {
        self.workload.is_empty() || self.workload.iter().any(|w| w == name)
    }
}
