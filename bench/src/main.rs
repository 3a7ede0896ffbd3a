//! `hakmem-bench`: the comparison runner.
//!
//! ```text
//! cargo run --release -p hakmem-bench                 # everything, default scale (< 10 min on 2 cores)
//! cargo run --release -p hakmem-bench -- --quick      # a quick check (< 1 min once built)
//! cargo run --release -p hakmem-bench -- --workload larson,xmalloc --alloc hakmem,mimalloc
//! ```
//!
//! The runner builds the workload binaries (`wl-<alloc>`, one per allocator, each with that
//! allocator as `#[global_allocator]`), then runs every workload under every allocator in its
//! own process, interleaved allocator by allocator and repetition by repetition, and measures
//! each process (`wait4`: CPU time; the workload reports its own wall time and peak RSS). The runner itself keeps the system allocator and never runs a workload.
//! It exits 1 if any run failed (a workload's own check, a crash, a timeout, or a result that
//! differs between allocators), 2 on bad arguments.

mod runner;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use hakmem_bench::workloads::WORKLOADS;
use runner::builder::{self, Paths};
use runner::c_suite::{self, C_ALLOCS, C_WORKLOADS};
use runner::cli::{Args, SuiteSel};
use runner::measure::{self, Invocation, Measured};
use runner::report::{self, RunRecord, Summary};
use runner::{chart, meta};

/// The allocators of the Rust suite, in report order.
const RUST_ALLOCS: &[&str] = &[
    "hakmem",
    "hakmem-header",
    "system",
    "mimalloc",
    "jemalloc",
    "snmalloc",
];

/// One workload under one allocator: how to run it and what its result line must say.
struct Job {
    suite: &'static str,
    workload: String,
    alloc: String,
    inv: Invocation,
    /// Rust: the `alloc=` the binary must report (proves e.g. header mode).
    expect_alloc: Option<String>,
    /// C: a substring of `malloc_from=` (proves the preload took effect).
    expect_malloc_from: Option<&'static str>,
}

#[derive(Serialize)]
struct Results<'a> {
    meta: &'a meta::Meta,
    /// `config=` reported by each allocator's binary (hakmem's feature set).
    configs: &'a BTreeMap<String, String>,
    notes: &'a [String],
    failures: &'a [String],
    summary: &'a [Summary],
    runs: &'a [RunRecord],
}

fn list() {
    println!("Rust workloads (each allocator is the binary's #[global_allocator]):");
    for w in WORKLOADS {
        println!("  {:16} {}", w.name, w.about);
    }
    println!("C workloads (bench/c/, run under LD_PRELOAD):");
    for w in C_WORKLOADS {
        println!("  {:16} {}", w.name, w.about);
    }
    println!(
        "Allocators: {} (C suite: {})",
        RUST_ALLOCS.join(", "),
        C_ALLOCS.join(", ")
    );
}

fn check_names(args: &Args) -> Result<(), String> {
    for a in &args.alloc {
        if !RUST_ALLOCS.contains(&a.as_str())
            && !C_ALLOCS.contains(&a.as_str())
            && a != "hakmem-prof"
        {
            return Err(format!("unknown allocator {a:?} (see --list)"));
        }
    }
    for w in &args.workload {
        if !WORKLOADS.iter().any(|x| x.name == w) && !C_WORKLOADS.iter().any(|x| x.name == w) {
            return Err(format!("unknown workload {w:?} (see --list)"));
        }
    }
    if !(args.scale() > 0.0 && args.scale().is_finite()) {
        return Err("--scale must be a positive number".into());
    }
    Ok(())
}

fn common_args(args: &Args) -> Vec<String> {
    let mut v = vec![
        "--scale".to_string(),
        args.scale().to_string(),
        "--threads".to_string(),
        args.threads().to_string(),
    ];
    if args.inject_fault {
        v.push("--inject-fault".into());
    }
    v
}

/// Builds what the Rust suite needs and returns its jobs.
fn rust_jobs(args: &Args, paths: &Paths, notes: &mut Vec<String>) -> Vec<Job> {
    let workloads: Vec<&str> = WORKLOADS
        .iter()
        .map(|w| w.name)
        .filter(|w| args.wants_workload(w))
        .collect();
    let allocs: Vec<&str> = RUST_ALLOCS
        .iter()
        .copied()
        .filter(|a| args.wants_alloc(a))
        .collect();
    if workloads.is_empty() || allocs.is_empty() {
        return vec![];
    }
    if !args.no_build && args.bin_dir.is_none() {
        let main: Vec<&str> = allocs
            .iter()
            .copied()
            .filter(|a| *a != "hakmem-header")
            .collect();
        notes.extend(builder::build_workloads(paths, &main));
        if allocs.contains(&"hakmem-header") {
            notes.extend(builder::build_header_mode(paths));
        }
    }
    let mut present = Vec::new();
    for a in allocs {
        let exe = if let Some(dir) = &args.bin_dir {
            if a == "hakmem-header" {
                notes.push("hakmem-header left out: --bin-dir has no header-mode build".into());
                continue;
            }
            dir.join(format!("wl-{a}"))
        } else if a == "hakmem-header" {
            paths.header_dir().join("wl-hakmem")
        } else {
            paths.wl_dir().join(format!("wl-{a}"))
        };
        if exe.is_file() {
            if a == "hakmem" && args.alloc.iter().any(|x| x == "hakmem-prof") {
                // The heap profiler's A/B (docs/profiling.md): the same binary with
                // HAKMEM_PROF=1 at the default sampling interval. Only when asked for by name.
                present.push(("hakmem-prof", exe.clone()));
            }
            present.push((a, exe));
        } else if !notes
            .iter()
            .any(|n| n.starts_with(&format!("{a} left out")))
        {
            notes.push(format!("{a} left out: {} is missing", exe.display()));
        }
    }
    let mut jobs = Vec::new();
    for w in workloads {
        for (a, exe) in &present {
            let mut argv = vec![w.to_string()];
            argv.extend(common_args(args));
            jobs.push(Job {
                suite: "rust",
                workload: w.to_string(),
                alloc: a.to_string(),
                inv: Invocation {
                    program: exe.clone(),
                    args: argv,
                    env: if *a == "hakmem-prof" {
                        vec![("HAKMEM_PROF".into(), "1".into())]
                    } else {
                        vec![]
                    },
                },
                expect_alloc: Some(if *a == "hakmem-prof" { "hakmem" } else { a }.to_string()),
                expect_malloc_from: None,
            });
        }
    }
    jobs
}

/// Builds what the C suite needs and returns its jobs.
fn c_jobs(args: &Args, paths: &Paths, notes: &mut Vec<String>) -> Vec<Job> {
    let workloads: Vec<&str> = C_WORKLOADS
        .iter()
        .map(|w| w.name)
        .filter(|w| args.wants_workload(w))
        .collect();
    if workloads.is_empty() || !C_ALLOCS.iter().any(|a| args.wants_alloc(a)) {
        return vec![];
    }
    if !args.no_build && args.wants_alloc("hakmem") {
        notes.extend(builder::build_preload(paths));
    }
    let (allocs, alloc_notes) = c_suite::find_allocs(paths, |a| args.wants_alloc(a));
    notes.extend(alloc_notes);
    let mut jobs = Vec::new();
    for w in workloads {
        let exe = if args.no_build {
            c_suite::exe(paths, w)
        } else {
            match builder::build_c(paths, w) {
                Ok(exe) => exe,
                Err(e) => {
                    notes.push(format!("C workload {w} left out: {e}"));
                    continue;
                }
            }
        };
        if !exe.is_file() {
            notes.push(format!(
                "C workload {w} left out: {} is missing",
                exe.display()
            ));
            continue;
        }
        for a in &allocs {
            let mut variants = vec![(a.name, c_suite::env(a))];
            if a.name == "hakmem" && args.alloc.iter().any(|x| x == "hakmem-prof") {
                // The heap profiler's A/B under LD_PRELOAD, as in the Rust suite.
                let mut env = c_suite::env(a);
                env.push(("HAKMEM_PROF".into(), "1".into()));
                variants.insert(0, ("hakmem-prof", env));
            }
            for (name, env) in variants {
                jobs.push(Job {
                    suite: "c",
                    workload: w.to_string(),
                    alloc: name.to_string(),
                    inv: Invocation {
                        program: exe.clone(),
                        args: common_args(args),
                        env,
                    },
                    expect_alloc: None,
                    expect_malloc_from: Some(a.expect),
                });
            }
        }
    }
    jobs
}

/// Runs one job and checks what its result line claims.
fn run_job(
    job: &Job,
    timeout: Duration,
    configs: &mut BTreeMap<String, String>,
) -> Result<Measured, String> {
    let m = measure::run(&job.inv, timeout)?;
    let field = |k: &str| {
        m.fields
            .iter()
            .find(|(f, _)| f == k)
            .map(|(_, v)| v.as_str())
    };
    if let Some(want) = &job.expect_alloc {
        if field("alloc") != Some(want.as_str()) {
            return Err(format!(
                "binary reports alloc={:?}, expected {want}",
                field("alloc")
            ));
        }
    }
    if let Some(config) = field("config") {
        configs.insert(job.alloc.clone(), config.to_string());
    }
    if let Some(want) = job.expect_malloc_from {
        let got = field("malloc_from").unwrap_or("");
        if !got.contains(want) {
            return Err(format!(
                "malloc resolved to {got:?}, expected a path containing {want:?}"
            ));
        }
    }
    Ok(m)
}

/// Every workload must do the same work under every allocator: same ops, same checksum.
fn check_consistency(runs: &[RunRecord]) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for r in runs {
        if seen.contains(&(r.suite.as_str(), r.workload.as_str())) {
            continue;
        }
        seen.push((&r.suite, &r.workload));
        let ok: Vec<&RunRecord> = runs
            .iter()
            .filter(|x| x.ok && x.suite == r.suite && x.workload == r.workload)
            .collect();
        let Some(first) = ok.first() else { continue };
        if let Some(bad) = ok
            .iter()
            .find(|x| (x.ops, x.checksum) != (first.ops, first.checksum))
        {
            out.push(format!(
                "{}/{}: results differ between runs: {} gave ops={} checksum={}, {} gave ops={} \
                 checksum={}",
                r.suite,
                r.workload,
                first.alloc,
                first.ops,
                first.checksum,
                bad.alloc,
                bad.ops,
                bad.checksum
            ));
        }
    }
    out
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.list {
        list();
        return ExitCode::SUCCESS;
    }
    if let Err(e) = check_names(&args) {
        eprintln!("hakmem-bench: {e}");
        return ExitCode::from(2);
    }
    let paths = Paths::detect();
    let mut notes = Vec::new();
    let jobs = plan(&args, &paths, &mut notes);
    for n in &notes {
        eprintln!("note: {n}");
    }
    if jobs.is_empty() {
        eprintln!("hakmem-bench: nothing to run (check --suite, --workload and --alloc)");
        return ExitCode::from(2);
    }
    let reps = args.reps();
    let meta = meta::collect(&paths, args.scale(), args.threads(), reps);
    eprintln!(
        "hakmem-bench: {} runs ({} workload×allocator pairs × {reps}), scale {}, {} threads; \
         {} on {} cores, hakmem {}",
        jobs.len() * reps,
        jobs.len(),
        meta.scale,
        meta.threads,
        meta.host_cpu,
        meta.cores,
        meta.hakmem_commit
    );
    let timeout = Duration::from_secs_f64(args.timeout.max(1.0));
    let mut session = run_all(&jobs, reps, timeout);
    session.failures.extend(check_consistency(&session.runs));
    let summary = report::summarise(&session.runs);
    let text = tables(&summary, reps);
    println!("{text}");
    let out_dir: PathBuf = args.out.clone().unwrap_or_else(|| paths.default_out());
    let written = write_results(&out_dir, &meta, &notes, &mut session, &summary, &text);
    for (a, c) in &session.configs {
        println!("{a} features: {c}");
    }
    println!("results: {} ({})", out_dir.display(), written.join(", "));
    for n in &notes {
        println!("note: {n}");
    }
    if session.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("\n{} FAILURE(S):", session.failures.len());
        for f in &session.failures {
            println!("  {f}");
        }
        ExitCode::from(1)
    }
}

/// The jobs the arguments select, Rust suite first.
fn plan(args: &Args, paths: &Paths, notes: &mut Vec<String>) -> Vec<Job> {
    let mut jobs = Vec::new();
    if args.suite != SuiteSel::C {
        jobs.extend(rust_jobs(args, paths, notes));
    }
    if args.suite != SuiteSel::Rust {
        jobs.extend(c_jobs(args, paths, notes));
    }
    jobs
}

/// What a session produced.
struct Session {
    runs: Vec<RunRecord>,
    failures: Vec<String>,
    /// `config=` reported by each allocator's binary.
    configs: BTreeMap<String, String>,
}

/// Runs every job `reps` times. The jobs are grouped by (suite, workload) so that each repetition
/// runs every allocator on a workload back to back, rotating which allocator goes first.
fn run_all(jobs: &[Job], reps: usize, timeout: Duration) -> Session {
    let mut groups: Vec<Vec<&Job>> = Vec::new();
    for j in jobs {
        match groups
            .iter_mut()
            .find(|g| g[0].suite == j.suite && g[0].workload == j.workload)
        {
            Some(g) => g.push(j),
            None => groups.push(vec![j]),
        }
    }
    let pb = ProgressBar::new((jobs.len() * reps) as u64);
    pb.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:32} {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let mut s = Session {
        runs: Vec::new(),
        failures: Vec::new(),
        configs: BTreeMap::new(),
    };
    for rep in 0..reps {
        for g in &groups {
            for i in 0..g.len() {
                let job = g[(i + rep) % g.len()];
                pb.set_message(format!(
                    "rep {}/{reps} {} · {}",
                    rep + 1,
                    job.workload,
                    job.alloc
                ));
                let result = run_job(job, timeout, &mut s.configs);
                if let Err(e) = &result {
                    let msg = format!(
                        "{}/{} under {} (rep {}): {e}",
                        job.suite,
                        job.workload,
                        job.alloc,
                        rep + 1
                    );
                    pb.println(format!("FAILED {msg}"));
                    s.failures.push(msg);
                }
                s.runs.push(record(job, rep, s.runs.len(), result));
                pb.inc(1);
            }
        }
    }
    pb.finish_and_clear();
    s
}

/// The record of one run (zeros and the error when it failed).
fn record(job: &Job, rep: usize, seq: usize, result: Result<Measured, String>) -> RunRecord {
    let (m, error) = match result {
        Ok(m) => (m, String::new()),
        Err(e) => (Measured::default(), e),
    };
    RunRecord {
        suite: job.suite.to_string(),
        workload: job.workload.clone(),
        alloc: job.alloc.clone(),
        rep,
        seq,
        ok: error.is_empty(),
        error,
        wall_s: m.wall_s,
        process_s: m.process_s,
        user_s: m.user_s,
        sys_s: m.sys_s,
        cpu_s: m.user_s + m.sys_s,
        peak_rss_kib: m.peak_rss_kib,
        ru_maxrss_kib: m.ru_maxrss_kib,
        ops: m.ops,
        checksum: m.checksum,
        minflt: m.minflt,
    }
}

/// The text tables of both suites.
fn tables(summary: &[Summary], reps: usize) -> String {
    let mut text = String::new();
    for (suite, title) in [
        ("rust", "Rust workloads (global allocator)"),
        ("c", "C workloads (LD_PRELOAD)"),
    ] {
        let sums: Vec<&Summary> = summary.iter().filter(|s| s.suite == suite).collect();
        if !sums.is_empty() {
            text.push_str(&report::suite_tables(title, &sums, reps));
            text.push('\n');
        }
    }
    text
}

/// Writes results.json, the CSV files, the table and one chart per suite into `out_dir`;
/// returns the names written and adds each failure to the session's.
fn write_results(
    out_dir: &Path,
    meta: &meta::Meta,
    notes: &[String],
    session: &mut Session,
    summary: &[Summary],
    text: &str,
) -> Vec<String> {
    let mut written = Vec::new();
    let write_all = || -> Result<(), String> {
        std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
        let results = Results {
            meta,
            configs: &session.configs,
            notes,
            failures: &session.failures,
            summary,
            runs: &session.runs,
        };
        let json = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
        std::fs::write(out_dir.join("results.json"), json).map_err(|e| e.to_string())?;
        report::write_csv(out_dir, &session.runs, summary)?;
        std::fs::write(out_dir.join("table.txt"), text).map_err(|e| e.to_string())?;
        Ok(())
    };
    match write_all() {
        Err(e) => session
            .failures
            .push(format!("writing results to {}: {e}", out_dir.display())),
        Ok(()) => written
            .extend(["results.json", "runs.csv", "summary.csv", "table.txt"].map(String::from)),
    }
    for (suite, file, title) in [
        (
            "rust",
            "chart.svg",
            "hakmem-bench: Rust workloads, each allocator as #[global_allocator]",
        ),
        (
            "c",
            "chart-c.svg",
            "hakmem-bench: C workloads under LD_PRELOAD",
        ),
    ] {
        let sums: Vec<&Summary> = summary.iter().filter(|s| s.suite == suite).collect();
        if sums.is_empty() {
            continue;
        }
        let baseline = if sums.iter().any(|s| s.alloc == "system") {
            "system"
        } else {
            &sums[0].alloc
        };
        let title = format!(
            "{title} — median of {}, scale {}, {} threads, {} cores",
            meta.reps, meta.scale, meta.threads, meta.cores
        );
        match chart::write(&out_dir.join(file), &title, &sums, baseline) {
            Ok(()) => written.push(file.to_string()),
            Err(e) => session.failures.push(format!("drawing {file}: {e}")),
        }
    }
    written
}
