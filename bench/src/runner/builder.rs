//! Finds the workspace and builds what the runner needs: the `wl-<alloc>` binaries, hakmem's
//! header-mode `wl-hakmem`, the preload library and the C workloads. Every step prints what
//! it runs; a step that fails leaves its allocator out with a note instead of stopping the run.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where things are.
#[derive(Clone, Debug)]
pub struct Paths {
    /// The workspace root (hakmem's crate).
    pub root: PathBuf,
    /// Cargo's target directory of the workspace.
    pub target: PathBuf,
}

impl Paths {
    pub fn detect() -> Paths {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("bench/ lives inside the workspace")
            .to_path_buf();
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(t) => root.join(t), // join keeps an absolute path as is
            None => root.join("target"),
        };
        Paths { root, target }
    }

    /// The workload binaries of every allocator but hakmem's header mode.
    pub fn wl_dir(&self) -> PathBuf {
        self.target.join("bench/release")
    }

    /// `wl-hakmem` built with hakmem in header mode.
    pub fn header_dir(&self) -> PathBuf {
        self.target.join("bench-header/release")
    }

    /// The compiled C workloads.
    pub fn c_dir(&self) -> PathBuf {
        self.target.join("bench/c")
    }

    /// The C workloads' sources.
    pub fn c_src(&self) -> PathBuf {
        self.root.join("bench/c")
    }

    /// Candidates for the preload library, in order.
    pub fn preload_libs(&self) -> Vec<PathBuf> {
        vec![
            self.target.join("release/libhakmem.so"),
            self.root.join("preload/target/release/libhakmem.so"),
        ]
    }

    pub fn default_out(&self) -> PathBuf {
        self.target.join("bench-results")
    }
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

/// Builds of the C and C++ allocators must be their release builds. The workspace's release
/// profile keeps debug info (`debug = 1`) for profiling hakmem, and cargo then tells build
/// scripts `DEBUG=true`: snmalloc-sys answers with an unoptimised debug build and libmimalloc-sys
/// keeps C `assert`s. So the runner turns debug info off for every package outside the
/// workspace (hakmem and the workloads keep theirs), and defines `NDEBUG` for C++, which
/// snmalloc-sys's `cc` build leaves out everywhere but MSVC (snmalloc's own CMake Release build
/// defines it).
fn release_cargo(paths: &Paths) -> Command {
    let mut c = Command::new(cargo());
    c.current_dir(&paths.root)
        .arg("build")
        .arg("--release")
        .args(["--config", "profile.release.package.\"*\".debug=false"]);
    let cxx = std::env::var("CXXFLAGS").unwrap_or_default();
    c.env("CXXFLAGS", format!("{cxx} -DNDEBUG").trim());
    c
}

fn run_step(what: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("[build] {what}");
    let status = cmd
        .status()
        .map_err(|e| format!("{what}: cannot run: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what}: {status}"))
    }
}

/// Builds `wl-<alloc>` for `allocs` (names of the main build: system, hakmem, mimalloc,
/// jemalloc, snmalloc). Returns notes about allocators it had to leave out.
pub fn build_workloads(paths: &Paths, allocs: &[&str]) -> Vec<String> {
    let mut notes = Vec::new();
    if allocs.is_empty() {
        return notes;
    }
    // The feature set is the same whichever allocators are asked for, so the target directory
    // keeps one build and a narrower run does not rebuild the libraries.
    let attempt = |with_snmalloc: bool| {
        let features = if with_snmalloc {
            "hakmem-default,mimalloc,jemalloc,snmalloc"
        } else {
            "hakmem-default,mimalloc,jemalloc"
        };
        let mut cmd = release_cargo(paths);
        cmd.args([
            "-p",
            "hakmem-bench",
            "--no-default-features",
            "--features",
            features,
        ]);
        cmd.arg("--target-dir").arg(paths.target.join("bench"));
        for a in allocs {
            if *a != "snmalloc" || with_snmalloc {
                cmd.args(["--bin", &format!("wl-{a}")]);
            }
        }
        run_step(
            &format!("workload binaries ({})", allocs.join(", ")),
            &mut cmd,
        )
    };
    if let Err(e) = attempt(allocs.contains(&"snmalloc")) {
        if allocs.contains(&"snmalloc") {
            notes.push(format!(
                "snmalloc left out: the build with snmalloc-rs failed ({e}); it needs a C++17 \
                 compiler"
            ));
            if let Err(e) = attempt(false) {
                notes.push(format!("workload build failed: {e}"));
            }
        } else {
            notes.push(format!("workload build failed: {e}"));
        }
    }
    notes
}

/// Builds `wl-hakmem` with hakmem in header mode into its own target directory.
pub fn build_header_mode(paths: &Paths) -> Vec<String> {
    let mut cmd = release_cargo(paths);
    cmd.args([
        "-p",
        "hakmem-bench",
        "--no-default-features",
        "--features",
        "header-mode",
    ])
    .args(["--bin", "wl-hakmem", "--target-dir"])
    .arg(paths.target.join("bench-header"));
    match run_step(
        "wl-hakmem in header mode (hakmem without `headerless`)",
        &mut cmd,
    ) {
        Ok(()) => vec![],
        Err(e) => vec![format!("hakmem-header left out: {e}")],
    }
}

/// Builds the preload library if the `preload` crate exists.
pub fn build_preload(paths: &Paths) -> Vec<String> {
    let manifest = paths.root.join("preload/Cargo.toml");
    if !manifest.exists() {
        return vec![];
    }
    let mut cmd = Command::new(cargo());
    cmd.current_dir(&paths.root)
        .args(["build", "--release", "--manifest-path"])
        .arg(&manifest);
    match run_step("libhakmem.so (preload/)", &mut cmd) {
        Ok(()) => vec![],
        Err(e) => vec![format!("building libhakmem.so failed: {e}")],
    }
}

/// Compiles the C workload `name` (`bench/c/<name>.c`) with `$CC` (default `cc`).
pub fn build_c(paths: &Paths, name: &str) -> Result<PathBuf, String> {
    let out = paths.c_dir().join(name);
    std::fs::create_dir_all(paths.c_dir()).map_err(|e| e.to_string())?;
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let mut cmd = Command::new(&cc);
    cmd.args([
        "-O2",
        "-g",
        "-pthread",
        "-Wall",
        "-Wextra",
        "-std=gnu11",
        "-o",
    ])
    .arg(&out)
    .arg(paths.c_src().join(format!("{name}.c")))
    .arg("-ldl");
    run_step(&format!("C workload {name} with {cc}"), &mut cmd)?;
    Ok(out)
}
