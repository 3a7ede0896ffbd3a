//! The C suite: workloads in `bench/c/`, compiled with `cc`, each run under `LD_PRELOAD` of
//! an allocator's shared library (none for glibc). A result line names the library the
//! process's `malloc` resolved to, and the runner checks it, so a preload that silently did
//! not take effect cannot pass as a result.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::builder::Paths;

/// A C workload: `bench/c/<name>.c`.
pub struct CWorkload {
    pub name: &'static str,
    pub about: &'static str,
}

pub const C_WORKLOADS: &[CWorkload] = &[
    CWorkload {
        name: "c-simple",
        about: "glibc bench-malloc-simple-like tight loops (malloc and calloc)",
    },
    CWorkload {
        name: "c-thread",
        about: "glibc bench-malloc-thread-like random replace, 4 B..32 KiB",
    },
    CWorkload {
        name: "c-larson",
        about: "larson-like server simulation, slot arrays handed between threads",
    },
    CWorkload {
        name: "c-xmalloc",
        about: "xmalloc-like producer/consumer, every free remote",
    },
    CWorkload {
        name: "c-realloc",
        about: "64 buffers grown by realloc in small steps",
    },
    CWorkload {
        name: "c-mixed-stress",
        about: "mstress/xmalloc-like: power-of-two sizes, 1% 100x larger, swaps, thread churn",
    },
    CWorkload {
        name: "c-medium-churn",
        about: "16-64 live blocks of 32 KiB-1 MiB replaced round-robin, one thread",
    },
    CWorkload {
        name: "c-medium-churn-mt",
        about: "c-medium-churn on every thread",
    },
    CWorkload {
        name: "c-cache-thrash",
        about: "cache-thrash/cache-scratch-like: one 24-64 B block at a time, written 64 times",
    },
    CWorkload {
        name: "c-alloc-test",
        about: "alloc-test-like: 8 B..4 KiB, short, medium and long lifetimes interleaved",
    },
    CWorkload {
        name: "c-sh6bench",
        about: "sh6bench-like batches of 1..1000 B freed LIFO, FIFO or odd-then-even",
    },
    CWorkload {
        name: "c-large-churn",
        about: "20 live blocks of 5-25 MiB replaced round-robin, ends touched",
    },
];

/// The allocators of the C suite, in report order.
pub const C_ALLOCS: &[&str] = &["hakmem", "system", "mimalloc", "jemalloc"];

/// An allocator of the C suite, ready to run.
pub struct CAlloc {
    pub name: &'static str,
    /// The library to preload (None: glibc's malloc, no preload).
    pub lib: Option<PathBuf>,
    /// A substring of the path `malloc` must resolve to.
    pub expect: &'static str,
}

/// Looks for a system library whose file name starts with `stem` (e.g. `libmimalloc.so`):
/// first in `ldconfig -p`, then in the usual directories.
fn find_system_lib(stem: &str) -> Option<PathBuf> {
    if let Ok(out) = Command::new("ldconfig").arg("-p").output() {
        let text = String::from_utf8_lossy(&out.stdout);
        let mut hits: Vec<PathBuf> = text
            .lines()
            .filter(|l| {
                l.trim_start().starts_with(stem)
                    && l.contains("x86-64") == cfg!(target_arch = "x86_64")
            })
            .filter_map(|l| l.rsplit_once("=> ").map(|(_, p)| PathBuf::from(p.trim())))
            .collect();
        hits.sort();
        if let Some(p) = hits.into_iter().next() {
            return Some(p);
        }
    }
    let dirs = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/lib",
    ];
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(d) else {
            continue;
        };
        let mut hits: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|f| f.to_str())
                    .is_some_and(|f| f.starts_with(stem))
            })
            .collect();
        hits.sort();
        if let Some(p) = hits.into_iter().next() {
            return Some(p);
        }
    }
    None
}

fn first_existing(paths: &[PathBuf]) -> Option<PathBuf> {
    paths.iter().find(|p| p.is_file()).cloned()
}

/// The C allocators that can run here, and a note for each one that cannot.
pub fn find_allocs(paths: &Paths, wanted: impl Fn(&str) -> bool) -> (Vec<CAlloc>, Vec<String>) {
    let mut found = Vec::new();
    let mut notes = Vec::new();
    for &name in C_ALLOCS {
        if !wanted(name) {
            continue;
        }
        let (lib, expect) = match name {
            "system" => (None, "libc.so"),
            "hakmem" => match first_existing(&paths.preload_libs()) {
                Some(p) => (Some(p), "libhakmem"),
                None => {
                    notes.push(format!(
                        "C suite: hakmem skipped: {} not found (build the preload crate: \
                         cargo build --release -p <preload crate>)",
                        paths.preload_libs()[0].display()
                    ));
                    continue;
                }
            },
            "mimalloc" | "jemalloc" => {
                let stem = if name == "mimalloc" {
                    "libmimalloc.so"
                } else {
                    "libjemalloc.so"
                };
                match find_system_lib(stem) {
                    Some(p) => (
                        Some(p),
                        if name == "mimalloc" {
                            "libmimalloc"
                        } else {
                            "libjemalloc"
                        },
                    ),
                    None => {
                        notes.push(format!(
                            "C suite: {name} skipped: no {stem}* found (Debian: apt-get install -y \
                             libmimalloc2.0 libjemalloc2)"
                        ));
                        continue;
                    }
                }
            }
            _ => unreachable!("C_ALLOCS lists only the names above"),
        };
        found.push(CAlloc { name, lib, expect });
    }
    (found, notes)
}

/// The compiled workload `name`.
pub fn exe(paths: &Paths, name: &str) -> PathBuf {
    paths.c_dir().join(name)
}

/// The environment of a run under `alloc`: LD_PRELOAD of its library, or an empty one.
pub fn env(alloc: &CAlloc) -> Vec<(String, String)> {
    let lib = alloc
        .lib
        .as_deref()
        .map(Path::to_string_lossy)
        .unwrap_or_default();
    vec![("LD_PRELOAD".to_string(), lib.into_owned())]
}
