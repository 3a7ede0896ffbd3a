//! `hakmem-prof`: symbolize a hakmem heap profile and print or draw it (docs/profiling.md).

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    version,
    about = "Symbolize hakmem heap profiles (pprof) into folded stacks, top tables and flame graphs"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args)]
struct Input {
    /// The profile (pprof protobuf written by HAKMEM_PROF_DUMP or hakmem::profile::dump).
    profile: PathBuf,
    /// Sample type: inuse_space (default), inuse_objects, alloc_space, alloc_objects.
    #[arg(long, default_value = "inuse_space")]
    sample: String,
    /// The program's binary with debug info, if not at the path recorded in the profile.
    #[arg(long)]
    binary: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write a flame graph SVG.
    Flame {
        #[command(flatten)]
        input: Input,
        /// Output SVG file.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Print symbolized folded stacks (`root;…;site value`).
    Folded {
        #[command(flatten)]
        input: Input,
    },
    /// Print the top functions by self and cumulative value.
    Top {
        #[command(flatten)]
        input: Input,
        #[arg(short, default_value_t = 20)]
        n: usize,
    },
}

fn prepare(i: &Input) -> anyhow::Result<(Vec<hakmem_prof::Stack>, usize)> {
    let p = hakmem_prof::load(&i.profile)?;
    let idx = hakmem_prof::value_index(&p, &i.sample)?;
    Ok((hakmem_prof::stacks(&p, i.binary.clone())?, idx))
}

fn unit(sample: &str) -> &'static str {
    if sample.ends_with("space") {
        "bytes"
    } else {
        "objects"
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.cmd {
        Cmd::Flame { input, output } => {
            let (stacks, idx) = prepare(&input)?;
            let lines = hakmem_prof::folded(&stacks, idx);
            let title = format!("hakmem heap profile: {}", input.sample);
            let f = std::fs::File::create(&output)?;
            hakmem_prof::flamegraph(
                &lines,
                &title,
                unit(&input.sample),
                std::io::BufWriter::new(f),
            )?;
        }
        Cmd::Folded { input } => {
            let (stacks, idx) = prepare(&input)?;
            for l in hakmem_prof::folded(&stacks, idx) {
                writeln!(out, "{l}")?;
            }
        }
        Cmd::Top { input, n } => {
            let (stacks, idx) = prepare(&input)?;
            let total: i64 = stacks
                .iter()
                .map(|s| s.values.get(idx).copied().unwrap_or(0))
                .sum();
            writeln!(
                out,
                "{} total {} ({})",
                input.sample,
                total,
                unit(&input.sample)
            )?;
            writeln!(
                out,
                "{:>14} {:>6} {:>14} {:>6}  function",
                "flat", "flat%", "cum", "cum%"
            )?;
            let pct = |v: i64| {
                if total > 0 {
                    100.0 * v as f64 / total as f64
                } else {
                    0.0
                }
            };
            for (f, flat, cum) in hakmem_prof::top(&stacks, idx, n) {
                writeln!(
                    out,
                    "{flat:>14} {:>5.1}% {cum:>14} {:>5.1}%  {f}",
                    pct(flat),
                    pct(cum)
                )?;
            }
        }
    }
    Ok(())
}
