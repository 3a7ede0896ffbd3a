//! Results: one record per run, a summary per (suite, workload, allocator), the tables
//! printed at the end, and the CSV and JSON files.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

/// One run of one workload under one allocator.
#[derive(Clone, Debug, Serialize)]
pub struct RunRecord {
    pub suite: String,
    pub workload: String,
    pub alloc: String,
    /// Repetition number (0-based).
    pub rep: usize,
    /// Position in the whole session's run order (0-based).
    pub seq: usize,
    pub ok: bool,
    pub error: String,
    /// The workload's own wall time, seconds.
    pub wall_s: f64,
    /// The process's wall time as the runner saw it, seconds.
    pub process_s: f64,
    pub user_s: f64,
    pub sys_s: f64,
    pub cpu_s: f64,
    /// The workload process's peak RSS (`VmHWM`), KiB.
    pub peak_rss_kib: u64,
    /// `ru_maxrss` from `wait4`, KiB: includes the runner's RSS at spawn (see measure.rs).
    pub ru_maxrss_kib: u64,
    pub ops: u64,
    pub checksum: u64,
    /// Minor page faults of the run (`ru_minflt`; see measure.rs): whether the host gave huge
    /// pages shows here. Last, so that earlier columns of `runs.csv` keep their places.
    pub minflt: u64,
}

/// Median, minimum and maximum of a set of runs.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Stat {
    /// None for no values. The median of an even count is the mean of the middle two.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Stat> {
        let mut v: Vec<f64> = values.into_iter().collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Stat {
            median,
            min: v[0],
            max: v[n - 1],
        })
    }
}

/// The runs of one workload under one allocator, summarised.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub suite: String,
    pub workload: String,
    pub alloc: String,
    pub runs: usize,
    pub failed: usize,
    /// Statistics over the successful runs (absent when none succeeded).
    pub wall_s: Option<Stat>,
    pub cpu_s: Option<Stat>,
    pub peak_rss_mib: Option<Stat>,
}

/// Summaries keyed by suite, then workload, then allocator, in first-seen order of `runs`.
pub fn summarise(runs: &[RunRecord]) -> Vec<Summary> {
    let mut order: Vec<(String, String, String)> = Vec::new();
    let mut groups: BTreeMap<(String, String, String), Vec<&RunRecord>> = BTreeMap::new();
    for r in runs {
        let key = (r.suite.clone(), r.workload.clone(), r.alloc.clone());
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(r);
    }
    order
        .into_iter()
        .map(|key| {
            let g = &groups[&key];
            let ok: Vec<&&RunRecord> = g.iter().filter(|r| r.ok).collect();
            Summary {
                suite: key.0,
                workload: key.1,
                alloc: key.2,
                runs: g.len(),
                failed: g.len() - ok.len(),
                wall_s: Stat::of(ok.iter().map(|r| r.wall_s)),
                cpu_s: Stat::of(ok.iter().map(|r| r.cpu_s)),
                peak_rss_mib: Stat::of(ok.iter().map(|r| r.peak_rss_kib as f64 / 1024.0)),
            }
        })
        .collect()
}

fn fmt_ms(s: f64) -> String {
    let ms = s * 1e3;
    if ms < 10.0 {
        format!("{ms:.2}")
    } else if ms < 100.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

fn fmt_mib(m: f64) -> String {
    if m < 10.0 {
        format!("{m:.2}")
    } else if m < 100.0 {
        format!("{m:.1}")
    } else {
        format!("{m:.0}")
    }
}

fn geomean(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    Some((v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp())
}

/// The columns of hakmem's ratios: (header, numerator allocator, denominator allocator).
fn ratio_columns(allocs: &[String]) -> Vec<(String, String, String)> {
    let mut cols = Vec::new();
    // The heap profiler's on-cost (docs/profiling.md): hakmem with HAKMEM_PROF=1 over hakmem.
    if allocs.iter().any(|a| a == "hakmem-prof") && allocs.iter().any(|a| a == "hakmem") {
        cols.push(("prof/hk".into(), "hakmem-prof".into(), "hakmem".into()));
    }
    for hk in ["hakmem", "hakmem-header"] {
        for base in ["mimalloc", "system"] {
            if allocs.iter().any(|a| a == hk) && allocs.iter().any(|a| a == base) {
                let short = if hk == "hakmem" { "hk" } else { "hk-hdr" };
                let b = if base == "mimalloc" { "mi" } else { "sys" };
                cols.push((format!("{short}/{b}"), hk.to_string(), base.to_string()));
            }
        }
    }
    cols
}

/// One table (time or RSS) of one suite, as text.
fn table(
    title: &str,
    sums: &[&Summary],
    allocs: &[String],
    workloads: &[String],
    cell: &dyn Fn(&Summary) -> Option<(f64, String)>,
) -> String {
    let ratio_cols = ratio_columns(allocs);
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header = vec!["workload".to_string()];
    header.extend(allocs.iter().cloned());
    header.extend(ratio_cols.iter().map(|c| c.0.clone()));
    rows.push(header);
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); ratio_cols.len()];
    for w in workloads {
        let find = |a: &str| sums.iter().find(|s| &s.workload == w && s.alloc == a);
        let mut row = vec![w.clone()];
        for a in allocs {
            row.push(match find(a) {
                None => "-".to_string(),
                Some(s) => match cell(s) {
                    Some((_, text)) if s.failed == 0 => text,
                    Some((_, text)) => format!("{text} ({} FAILED)", s.failed),
                    None => "FAILED".to_string(),
                },
            });
        }
        for (i, (_, num, den)) in ratio_cols.iter().enumerate() {
            let v = |a: &str| find(a).and_then(|s| cell(s)).map(|c| c.0);
            row.push(match (v(num), v(den)) {
                (Some(n), Some(d)) if d > 0.0 => {
                    ratios[i].push(n / d);
                    format!("{:.2}", n / d)
                }
                _ => "-".to_string(),
            });
        }
        rows.push(row);
    }
    if workloads.len() > 1 && !ratio_cols.is_empty() {
        let mut row = vec!["geomean".to_string()];
        row.extend(allocs.iter().map(|_| String::new()));
        row.extend(
            ratios
                .iter()
                .map(|r| geomean(r).map_or("-".into(), |g| format!("{g:.2}"))),
        );
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = format!("{title}\n");
    for (i, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (c, text) in row.iter().enumerate() {
            if c == 0 {
                let _ = write!(line, "{text:<w$}", w = widths[c]);
            } else {
                let _ = write!(line, "  {text:>w$}", w = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if i == 0 {
            out.push_str(&"-".repeat(line.trim_end().chars().count()));
            out.push('\n');
        }
    }
    out
}

/// The tables of one suite: median wall time (with min–max), median CPU time and median
/// peak RSS.
pub fn suite_tables(suite_title: &str, sums: &[&Summary], reps: usize) -> String {
    let mut allocs: Vec<String> = Vec::new();
    let mut workloads: Vec<String> = Vec::new();
    for s in sums {
        if !allocs.contains(&s.alloc) {
            allocs.push(s.alloc.clone());
        }
        if !workloads.contains(&s.workload) {
            workloads.push(s.workload.clone());
        }
    }
    let time = table(
        &format!(
            "{suite_title}: wall time, ms — median (min–max) of {reps} run{}; ratios < 1: hakmem faster",
            if reps == 1 { "" } else { "s" }
        ),
        sums,
        &allocs,
        &workloads,
        &|s| {
            s.wall_s.map(|w| {
                let text = if w.min == w.max {
                    fmt_ms(w.median)
                } else {
                    format!("{} ({}–{})", fmt_ms(w.median), fmt_ms(w.min), fmt_ms(w.max))
                };
                (w.median, text)
            })
        },
    );
    let cpu = table(
        &format!(
            "{suite_title}: CPU time (user + sys), ms — median; less disturbed than wall time by \
             other load on the machine"
        ),
        sums,
        &allocs,
        &workloads,
        &|s| s.cpu_s.map(|c| (c.median, fmt_ms(c.median))),
    );
    let rss = table(
        &format!("{suite_title}: peak RSS, MiB — median; ratios < 1: hakmem smaller"),
        sums,
        &allocs,
        &workloads,
        &|s| s.peak_rss_mib.map(|m| (m.median, fmt_mib(m.median))),
    );
    format!("{time}\n{cpu}\n{rss}")
}

/// Writes `runs.csv` and `summary.csv` into `dir`.
pub fn write_csv(dir: &Path, runs: &[RunRecord], sums: &[Summary]) -> Result<(), String> {
    let e = |e: csv::Error| e.to_string();
    let mut w = csv::Writer::from_path(dir.join("runs.csv")).map_err(e)?;
    for r in runs {
        w.serialize(r).map_err(e)?;
    }
    w.flush().map_err(|e| e.to_string())?;
    let mut w = csv::Writer::from_path(dir.join("summary.csv")).map_err(e)?;
    w.write_record([
        "suite",
        "workload",
        "alloc",
        "runs",
        "failed",
        "wall_median_s",
        "wall_min_s",
        "wall_max_s",
        "cpu_median_s",
        "cpu_min_s",
        "cpu_max_s",
        "rss_median_mib",
        "rss_min_mib",
        "rss_max_mib",
    ])
    .map_err(e)?;
    for s in sums {
        let mut rec = vec![
            s.suite.clone(),
            s.workload.clone(),
            s.alloc.clone(),
            s.runs.to_string(),
            s.failed.to_string(),
        ];
        for st in [s.wall_s, s.cpu_s, s.peak_rss_mib] {
            match st {
                Some(st) => rec.extend([st.median, st.min, st.max].map(|x| format!("{x:.6}"))),
                None => rec.extend(["", "", ""].map(String::from)),
            }
        }
        w.write_record(&rec).map_err(e)?;
    }
    w.flush().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_median_min_max() {
        let s = Stat::of([3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(Stat::of([4.0, 1.0, 2.0, 3.0]).unwrap().median, 2.5);
        assert!(Stat::of(std::iter::empty()).is_none());
    }
}
