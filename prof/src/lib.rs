//! hakmem-prof: reads the pprof heap profiles hakmem writes (`HAKMEM_PROF_DUMP`,
//! `hakmem::profile::dump`), symbolizes them with the debug info of the mapped files, and turns
//! them into folded stacks, a top table or a flame graph SVG (docs/profiling.md).

pub mod proto;
pub mod symbolize;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use prost::Message;

pub use proto::Profile;
use symbolize::Symbolizer;

/// Reads a pprof profile (plain or gzip'd protobuf is not supported: hakmem writes it plain).
pub fn load(path: &Path) -> anyhow::Result<Profile> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        bail!("{}: gzip'd profiles are not supported", path.display());
    }
    Profile::decode(&*bytes).with_context(|| format!("decoding {}", path.display()))
}

/// The index of sample type `name` (e.g. `inuse_space`) in `p`'s values.
pub fn value_index(p: &Profile, name: &str) -> anyhow::Result<usize> {
    p.sample_type
        .iter()
        .position(|t| p.string_table.get(t.r#type as usize).map(String::as_str) == Some(name))
        .with_context(|| {
            let names: Vec<&str> = p
                .sample_type
                .iter()
                .filter_map(|t| p.string_table.get(t.r#type as usize).map(String::as_str))
                .collect();
            format!("no sample type {name:?} (have {names:?})")
        })
}

/// One symbolized stack: frames from the root (e.g. `main`) to the allocation site, and values.
#[derive(Clone, Debug)]
pub struct Stack {
    pub frames: Vec<String>,
    pub values: Vec<i64>,
}

/// Whether `f` is the allocator's own frame (or the standard library's allocation shims): these
/// are dropped from the allocation end of every stack.
pub fn is_allocator_frame(f: &symbolize::Frame) -> bool {
    let n = f.function.as_str();
    let in_preload = f
        .file
        .file_name()
        .is_some_and(|s| s.to_string_lossy().starts_with("libhakmem"));
    in_preload
        || n.starts_with("hakmem::")
        || n.starts_with("<hakmem::")
        || n.starts_with("__rust_")
        || n.starts_with("__rdl_")
        || n.starts_with("__rg_")
        || n.starts_with("alloc::alloc::")
        || n.starts_with("<alloc::alloc::Global")
        || n.starts_with("std::alloc::")
}

/// Symbolizes every sample of `p`. `binary` stands in for the main executable's file (the first
/// mapping), e.g. when the profile was taken from a copy elsewhere.
pub fn stacks(p: &Profile, binary: Option<PathBuf>) -> anyhow::Result<Vec<Stack>> {
    let strings = &p.string_table;
    let mappings: HashMap<u64, &proto::Mapping> = p.mapping.iter().map(|m| (m.id, m)).collect();
    let locations: HashMap<u64, &proto::Location> = p.location.iter().map(|l| (l.id, l)).collect();
    let main_file = p
        .mapping
        .first()
        .and_then(|m| strings.get(m.filename as usize))
        .map(PathBuf::from);
    let mut sym = Symbolizer::new(binary, main_file);
    let mut out = Vec::new();
    for s in &p.sample {
        // Innermost first, as stored; symbolized with inlined frames expanded.
        let mut frames: Vec<symbolize::Frame> = Vec::new();
        for id in &s.location_id {
            let loc = locations
                .get(id)
                .with_context(|| format!("sample names unknown location {id}"))?;
            match mappings.get(&loc.mapping_id) {
                Some(m) => {
                    let file = strings
                        .get(m.filename as usize)
                        .map(String::as_str)
                        .unwrap_or("?");
                    frames.extend(sym.frames(loc.address, m, file));
                }
                None => frames.push(symbolize::Frame {
                    function: format!("{:#x}", loc.address),
                    file: PathBuf::new(),
                }),
            }
        }
        let keep = frames
            .iter()
            .position(|f| !is_allocator_frame(f))
            .unwrap_or(frames.len());
        let mut names: Vec<String> = frames[keep..]
            .iter()
            .rev()
            .map(|f| f.function.replace(';', ":"))
            .collect();
        if names.is_empty() {
            names.push("[unknown]".into());
        }
        out.push(Stack {
            frames: names,
            values: s.value.clone(),
        });
    }
    Ok(out)
}

/// Folded-stack lines (`root;…;site value`) for value `idx`, merged and sorted, zeros left out.
pub fn folded(stacks: &[Stack], idx: usize) -> Vec<String> {
    let mut merged: HashMap<String, i64> = HashMap::new();
    for s in stacks {
        let v = s.values.get(idx).copied().unwrap_or(0);
        if v > 0 {
            *merged.entry(s.frames.join(";")).or_default() += v;
        }
    }
    let mut lines: Vec<String> = merged
        .into_iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    lines.sort();
    lines
}

/// Total of value `idx` over stacks with a frame whose name contains `needle`.
pub fn total_through(stacks: &[Stack], idx: usize, needle: &str) -> i64 {
    stacks
        .iter()
        .filter(|s| s.frames.iter().any(|f| f.contains(needle)))
        .map(|s| s.values.get(idx).copied().unwrap_or(0))
        .sum()
}

/// Writes a flame graph SVG of `lines` (folded stacks) to `out`.
pub fn flamegraph(
    lines: &[String],
    title: &str,
    unit: &str,
    out: impl std::io::Write,
) -> anyhow::Result<()> {
    let mut opts = inferno::flamegraph::Options::default();
    opts.title = title.to_string();
    opts.count_name = unit.to_string();
    if lines.is_empty() {
        bail!("nothing to draw: every stack has value 0");
    }
    inferno::flamegraph::from_lines(&mut opts, lines.iter().map(String::as_str), out)
        .context("writing the flame graph")
}

/// The top `n` functions by self and cumulative value `idx` (like `pprof -top`).
pub fn top(stacks: &[Stack], idx: usize, n: usize) -> Vec<(String, i64, i64)> {
    let mut flat: HashMap<&str, i64> = HashMap::new();
    let mut cum: HashMap<&str, i64> = HashMap::new();
    for s in stacks {
        let v = s.values.get(idx).copied().unwrap_or(0);
        if v == 0 {
            continue;
        }
        if let Some(leaf) = s.frames.last() {
            *flat.entry(leaf).or_default() += v;
        }
        let mut seen: Vec<&str> = Vec::new();
        for f in &s.frames {
            if !seen.contains(&f.as_str()) {
                seen.push(f);
                *cum.entry(f).or_default() += v;
            }
        }
    }
    let mut rows: Vec<(String, i64, i64)> = cum
        .into_iter()
        .map(|(f, c)| (f.to_string(), flat.get(f).copied().unwrap_or(0), c))
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
    rows.truncate(n);
    rows
}
