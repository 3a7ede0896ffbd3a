//! The runner end to end, on the workload binaries cargo builds for this test (debug, tiny
//! scale): it must produce its table and files, and it must fail when a workload's own check
//! fails. No timing is asserted.

use std::path::{Path, PathBuf};
use std::process::Command;

fn runner() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hakmem-bench"))
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_wl-system"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hakmem-bench-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn quick_run_writes_table_csv_json_and_chart() {
    let out = out_dir("smoke");
    let o = runner()
        .args([
            "--suite",
            "rust",
            "--alloc",
            "system,hakmem",
            "--scale",
            "0.01",
            "--reps",
            "2",
        ])
        .args(["--no-build", "--bin-dir"])
        .arg(bin_dir())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "runner failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("hk/sys"), "no ratio column:\n{stdout}");
    for w in ["sh8bench", "larson", "rust-json"] {
        assert!(stdout.contains(w), "{w} missing from the table:\n{stdout}");
    }
    for f in [
        "results.json",
        "runs.csv",
        "summary.csv",
        "table.txt",
        "chart.svg",
    ] {
        let len = std::fs::metadata(out.join(f)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{f} not written");
    }
    let json = std::fs::read_to_string(out.join("results.json")).unwrap();
    assert!(json.contains("\"peak_rss_kib\""));
    // Every run's minor faults, the last column (a process faults in at least its stack).
    let csv = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    let mut lines = csv.lines();
    assert!(
        lines.next().unwrap().ends_with(",minflt"),
        "runs.csv:\n{csv}"
    );
    for l in lines {
        let faults: u64 = l.rsplit(',').next().unwrap().parse().unwrap();
        assert!(faults > 0, "a run without minor faults: {l}");
    }
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn a_failed_workload_check_fails_the_run() {
    let out = out_dir("fault");
    let o = runner()
        .args([
            "--suite",
            "rust",
            "--alloc",
            "system",
            "--workload",
            "larson,cfrac",
        ])
        .args([
            "--scale",
            "0.01",
            "--reps",
            "1",
            "--inject-fault",
            "--no-build",
            "--bin-dir",
        ])
        .arg(bin_dir())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "runner did not fail:\n{stdout}");
    assert!(stdout.contains("FAILURE"), "{stdout}");
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn unknown_names_are_rejected() {
    let o = runner()
        .args(["--workload", "no-such-workload"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// Every C workload (`bench/c/*.c`) compiles, passes its own checks at a tiny scale, and fails
/// (exit 2, `error:` on stderr) when asked to corrupt a block. Under the system allocator: the
/// runner's own runs check the preloaded ones.
#[test]
fn c_workloads_pass_and_catch_an_injected_fault() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("c");
    let out = out_dir("c");
    std::fs::create_dir_all(&out).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().into_string().ok()?;
            n.strip_suffix(".c").map(str::to_string)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 12, "C workloads missing: {names:?}");
    for name in names {
        let exe = out.join(&name);
        let cc = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
            .args([
                "-O1",
                "-pthread",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-std=gnu11",
                "-o",
            ])
            .arg(&exe)
            .arg(src.join(format!("{name}.c")))
            .arg("-ldl")
            .output()
            .expect("a C compiler (cc) is needed for the C workloads");
        assert!(
            cc.status.success(),
            "{name} does not compile cleanly:\n{}",
            String::from_utf8_lossy(&cc.stderr)
        );
        let run = |fault: bool| {
            let mut c = Command::new(&exe);
            c.args(["--scale", "0.01", "--threads", "2"]);
            if fault {
                c.arg("--inject-fault");
            }
            c.output().unwrap()
        };
        let ok = run(false);
        let stdout = String::from_utf8_lossy(&ok.stdout);
        assert!(
            ok.status.success() && stdout.contains(&format!("workload={name} ")),
            "{name} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        let bad = run(true);
        assert_eq!(
            bad.status.code(),
            Some(2),
            "{name} missed the injected fault"
        );
        assert!(String::from_utf8_lossy(&bad.stderr).contains("error: "));
    }
    std::fs::remove_dir_all(&out).ok();
}
