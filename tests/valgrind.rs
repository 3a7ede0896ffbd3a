//! memcheck sees hakmem's blocks (`valgrind` feature): a deliberately buggy program
//! (`examples/valgrind_buggy.rs`, hakmem as its global allocator) runs under
//! `valgrind --tool=memcheck --leak-check=full`, and memcheck's report is asserted.
//!
//! Claims checked: a read of a freed Box is an "Invalid read" inside a *freed* block of the class
//! size; a forgotten Vec is "definitely lost" with its allocation stack; a double free is reported
//! by memcheck (headerless: "Invalid free()"; header mode: an invalid read of the no-access header)
//! and then aborted by hakmem; a correct multi-threaded workload (local and remote frees, large
//! blocks, realloc) gives "ERROR SUMMARY: 0 errors".
//!
//! The program is built with the same A/B features as this test binary (so the feature matrix
//! runs memcheck on every combination) plus `valgrind`: `cargo build --lib` into
//! `target/valgrind/<features>` (a separate target dir: the outer cargo holds the lock of the
//! default one; `--lib` only, so dev-dependencies are not built), then one `rustc` call for the
//! example against that library.
//!
//! Without valgrind installed the test fails when `CI=true` and otherwise prints a loud skip.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use hakmem::config::{ADOPT, FORCE_NOTIFY, HEADERLESS, MEDIUM, TLS_HINT};

/// The features of the library under test, plus `valgrind`.
fn features() -> Vec<&'static str> {
    let mut f = Vec::new();
    for (on, name) in [
        (HEADERLESS, "headerless"),
        (TLS_HINT, "tls-hint"),
        (ADOPT, "adopt"),
        (FORCE_NOTIFY, "force-notify"),
        (MEDIUM, "medium"),
    ] {
        if on {
            f.push(name);
        }
    }
    f.push("valgrind");
    f
}

/// True if valgrind runs; otherwise fails under CI and skips loudly elsewhere.
fn have_valgrind() -> bool {
    let ok = Command::new("valgrind")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("valgrind is not installed and CI=true: install it (apt-get install valgrind)");
    }
    eprintln!(
        "\n**************************************************************************\n\
         SKIPPED: valgrind is not installed, tests/valgrind.rs checked NOTHING.\n\
         Install it (apt-get install valgrind) to run the memcheck tests.\n\
         **************************************************************************\n"
    );
    false
}

/// The rustc next to the cargo running us (same toolchain as the library), else `rustc`.
fn rustc_for(cargo: &Path) -> OsString {
    let sibling = cargo.with_file_name("rustc");
    if cargo.is_absolute() && sibling.is_file() {
        sibling.into_os_string()
    } else {
        std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into())
    }
}

fn run_ok(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Builds the buggy program once per test binary.
fn program() -> &'static Path {
    static EXE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = EXE.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let feats = features();
        let target = root.join("target/valgrind").join(feats.join("+"));
        let cargo = PathBuf::from(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        run_ok(
            Command::new(&cargo)
                .current_dir(root)
                .args(["build", "--offline", "-p", "hakmem", "--lib"])
                .args(["--no-default-features", "--features", &feats.join(",")])
                .arg("--target-dir")
                .arg(&target)
                .env_remove("CARGO_TARGET_DIR"),
        )?;
        let debug = target.join("debug");
        let exe = target.join("valgrind_buggy");
        let mut extern_arg = OsString::from("hakmem=");
        extern_arg.push(debug.join("libhakmem.rlib"));
        let mut deps_arg = OsString::from("dependency=");
        deps_arg.push(debug.join("deps"));
        run_ok(
            Command::new(rustc_for(&cargo))
                .args(["--edition", "2021", "--crate-type", "bin", "-g"])
                .args(["--crate-name", "valgrind_buggy"])
                .arg(root.join("examples/valgrind_buggy.rs"))
                .arg("--extern")
                .arg(extern_arg)
                .arg("-L")
                .arg(deps_arg)
                .arg("-o")
                .arg(&exe),
        )?;
        Ok(exe)
    });
    match built {
        Ok(p) => p,
        Err(e) => panic!("building the memcheck test program failed: {e}"),
    }
}

/// memcheck's report (stderr) and the program's stdout for one mode of the program.
fn memcheck(mode: &str) -> (String, String) {
    let out = Command::new("valgrind")
        .args(["--tool=memcheck", "--leak-check=full", "--num-callers=16"])
        // std's own thread handle, allocated with the System allocator (the file says why).
        .arg(format!(
            "--suppressions={}/tests/support/std-thread-handle.supp",
            env!("CARGO_MANIFEST_DIR")
        ))
        .arg(program())
        .arg(mode)
        .output()
        .expect("running valgrind");
    let report = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (report, stdout)
}

fn expect(report: &str, needles: &[&str]) {
    for n in needles {
        assert!(
            report.contains(n),
            "memcheck report lacks {n:?}; full report:\n{report}"
        );
    }
}

#[test]
fn use_after_free_is_an_invalid_read_in_a_freed_block() {
    if !have_valgrind() {
        return;
    }
    let (report, _) = memcheck("use-after-free");
    expect(
        &report,
        &[
            "Invalid read of size 8",
            "valgrind_buggy::use_after_free",
            "is 0 bytes inside a block of size 32 free'd",
            "Block was alloc'd at",
            "ERROR SUMMARY: 1 errors",
        ],
    );
}

#[test]
fn forgotten_vec_is_definitely_lost() {
    if !have_valgrind() {
        return;
    }
    let (report, _) = memcheck("leak");
    expect(
        &report,
        &[
            "1,008 bytes in 1 blocks are definitely lost",
            "valgrind_buggy::leak",
            "definitely lost: 1,008 bytes in 1 blocks",
            "possibly lost: 0 bytes in 0 blocks",
        ],
    );
}

#[test]
fn double_free_is_reported_by_memcheck_then_aborted_by_hakmem() {
    if HEADERLESS && !hakmem::config::FREE_MARK {
        eprintln!(
            "SKIPPED: built with --cfg hakmem_no_free_mark: hakmem does not detect double frees"
        );
        return;
    }
    if !have_valgrind() {
        return;
    }
    let (report, _) = memcheck("double-free");
    if HEADERLESS {
        expect(
            &report,
            &[
                "Invalid free()",
                "is 0 bytes inside a block of size 48 free'd",
                "hakmem: double-free: block freed twice",
            ],
        );
    } else {
        // The header's first word, its 8-byte tag (slab/header.rs), read by the free.
        expect(
            &report,
            &[
                "Invalid read of size 8",
                "is 16 bytes before a block of size 48 free'd",
                "hakmem: header: bad header magic",
            ],
        );
    }
    expect(
        &report,
        &["Process terminating with default action of signal 6"],
    );
}

#[test]
fn correct_multithreaded_program_is_clean() {
    if !have_valgrind() {
        return;
    }
    let (report, stdout) = memcheck("clean");
    assert!(stdout.starts_with("clean: "), "stdout: {stdout}\n{report}");
    expect(&report, &["ERROR SUMMARY: 0 errors from 0 contexts"]);
}
