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
