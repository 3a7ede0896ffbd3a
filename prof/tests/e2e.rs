//! End to end: a program with two known allocation sites (`hold_live`: 64 MiB live;
//! `churn`: 1 GiB allocated in short-lived blocks) runs under hakmem's profiler — as a Rust
//! program with `HakMem` as its global allocator, and as a C program under `libhakmem.so` — and
//! the symbolized profile must attribute in-use and allocated bytes to the right function within
//! 10%. The flame graph SVG must parse as XML and name both sites.
//!
//! The programs are built here with frame pointers (`RUSTFLAGS=-C force-frame-pointers=yes`,
//! `cc -fno-omit-frame-pointer`) into `target/prof-fp/`, so this never waits on the outer cargo's
//! lock. The sampling interval is 64 KiB instead of the default 512 KiB, so that the 64 MiB site
//! gets ~440 samples (its estimate's relative standard deviation is ~2%; at 512 KiB it would be
//! ~5% with these 128 KiB blocks and the 10% check would fail now and then).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const LIVE: f64 = (64u64 << 20) as f64;
const CHURN: f64 = (1u64 << 30) as f64;
const INTERVAL: &str = "65536";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn target() -> PathBuf {
    root().join("target/prof-fp")
}

fn cargo_build(args: &[&str]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(cargo)
        .current_dir(root())
        .args(["build", "--release", "-q"])
        .args(args)
        .env("CARGO_TARGET_DIR", target())
        .env("RUSTFLAGS", "-C force-frame-pointers=yes")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("run cargo");
    assert!(st.success(), "cargo build {args:?} failed");
}

/// Builds the Rust fixture, libhakmem.so and the C fixture once per test process.
fn built() -> &'static (PathBuf, PathBuf, PathBuf) {
    static B: OnceLock<(PathBuf, PathBuf, PathBuf)> = OnceLock::new();
    B.get_or_init(|| {
        cargo_build(&["-p", "hakmem-prof-fixture"]);
        cargo_build(&["-p", "hakmem-preload"]);
        let c = target().join("two_sites_c");
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let st = Command::new(cc)
            .args(["-O1", "-g", "-fno-omit-frame-pointer", "-o"])
            .arg(&c)
            .arg(root().join("prof/tests/two_sites.c"))
            .status()
            .expect("run cc");
        assert!(st.success(), "cc failed");
        (
            target().join("release/hakmem-prof-fixture"),
            target().join("release/libhakmem.so"),
            c,
        )
    })
}

fn scratch(name: &str) -> PathBuf {
    let d = target().join("e2e").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(mut cmd: Command) -> std::process::Output {
    let out = cmd.output().expect("run fixture");
    assert!(
        out.status.success(),
        "fixture failed: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `program` with the profiler on at the test's interval, dumping to `dump` at exit.
fn profiled(program: &Path, dump: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("HAKMEM_PROF", "1")
        .env("HAKMEM_PROF_SAMPLE", INTERVAL)
        .env("HAKMEM_PROF_DUMP", dump);
    cmd
}

fn within(what: &str, got: i64, want: f64) {
    let err = (got as f64 - want).abs() / want;
    assert!(
        err <= 0.10,
        "{what}: {got} bytes, expected {want} within 10% (off by {:.1}%)",
        err * 100.0
    );
}

/// Checks the attribution of both sites in the profile at `pb`; writes the flame graphs next to
/// it and parses them.
fn check_profile(pb: &Path, dir: &Path) {
    let p = hakmem_prof::load(pb).unwrap();
    let stacks = hakmem_prof::stacks(&p, None).unwrap();
    let inuse = hakmem_prof::value_index(&p, "inuse_space").unwrap();
    let alloc = hakmem_prof::value_index(&p, "alloc_space").unwrap();
    let t = |idx, f| hakmem_prof::total_through(&stacks, idx, f);
    eprintln!(
        "{}: hold_live inuse {} alloc {}; churn inuse {} alloc {}",
        pb.display(),
        t(inuse, "hold_live"),
        t(alloc, "hold_live"),
        t(inuse, "churn"),
        t(alloc, "churn")
    );
    within("hold_live in-use", t(inuse, "hold_live"), LIVE);
    within("hold_live allocated", t(alloc, "hold_live"), LIVE);
    within("churn allocated", t(alloc, "churn"), CHURN);
    assert!(
        (t(inuse, "churn") as f64) < LIVE * 0.05,
        "churn holds almost nothing live: {}",
        t(inuse, "churn")
    );
    // The allocator's own frames are gone from the allocation end of every stack.
    for s in &stacks {
        let leaf = s.frames.last().unwrap();
        assert!(
            !leaf.starts_with("hakmem::") && !leaf.starts_with("__rust_") && leaf != "malloc",
            "allocator frame left at a stack's end: {:?}",
            s.frames
        );
    }
    for (name, idx) in [("inuse", inuse), ("alloc", alloc)] {
        let svg = dir.join(format!("{name}.svg"));
        let lines = hakmem_prof::folded(&stacks, idx);
        let f = std::fs::File::create(&svg).unwrap();
        hakmem_prof::flamegraph(&lines, name, "bytes", std::io::BufWriter::new(f)).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        // inferno writes a DOCTYPE line; the parser must accept it, and nothing else is allowed.
        let opts = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        };
        let doc = roxmltree::Document::parse_with_options(&text, opts)
            .expect("the flame graph is well-formed XML");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let titles: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("title"))
            .filter_map(|n| n.text())
            .collect();
        let site = if idx == inuse { "hold_live" } else { "churn" };
        assert!(
            titles.iter().any(|t| t.contains(site)),
            "{name}.svg has a frame for {site}"
        );
    }
}

#[test]
fn rust_program_attribution() {
    let (bin, _, _) = built();
    let dir = scratch("rust");
    let explicit = dir.join("explicit.pb");
    let at_exit = dir.join("exit.pb");
    let mut cmd = profiled(bin, &at_exit);
    cmd.arg("dump").arg(&explicit).env("HAKMEM_PROF_LEAKS", "1");
    let out = run(cmd);
    check_profile(&explicit, &dir);
    check_profile(&at_exit, &dir);
    // The leak report names the leaked 64 MiB, largest first.
    let err = String::from_utf8_lossy(&out.stderr);
    let first = err
        .lines()
        .find(|l| l.starts_with("hakmem: leak: "))
        .expect("a leak report");
    let bytes: f64 = first["hakmem: leak: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    within("largest leak", bytes as i64, LIVE);
}

#[test]
fn rust_program_dump_on_signal() {
    let (bin, _, _) = built();
    let dir = scratch("signal");
    let pb = dir.join("signal.pb");
    let mut cmd = profiled(bin, &pb);
    cmd.arg("signal")
        .arg(&pb)
        // SIGUSR1 on Linux.
        .env("HAKMEM_PROF_SIGNAL", "10");
    run(cmd);
    check_profile(&pb, &dir);
}

#[test]
fn c_program_under_preload_attribution() {
    let (_, lib, c) = built();
    let dir = scratch("c");
    let pb = dir.join("c.pb");
    let mut cmd = profiled(c, &pb);
    cmd.env("LD_PRELOAD", lib);
    run(cmd);
    check_profile(&pb, &dir);
}
