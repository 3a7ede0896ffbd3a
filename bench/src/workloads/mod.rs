//! The workloads, one module each, and the table that names them.
//!
//! Each workload is a function `fn(&Params) -> Result<Outcome, String>`. It returns `Err` when
//! one of its own checks fails (a corrupted block, a wrong result), and it is deterministic in
//! the work it does: for the same `Params` every allocator performs the same allocations, so
//! the `checksum` it returns must be the same under every allocator (the runner checks that).

pub mod block;
pub mod rng;

mod cache_scratch;
mod cfrac;
mod churn;
mod glibc;
mod json_tree;
mod larson;
mod malloc_large;
mod mixed_stress;
mod mstress;
mod realloc_growth;
mod rptest;
mod rust_btreemap;
mod sh8bench;
mod xmalloc;

/// What a run is asked to do.
#[derive(Clone, Debug)]
pub struct Params {
    /// Multiplies the amount of work (1.0 = the default run, sized for about half a second
    /// under the system allocator on a 2-core machine).
    pub scale: f64,
    /// Worker threads for the multi-threaded workloads (at least 1).
    pub threads: usize,
    /// Seed of all random choices.
    pub seed: u64,
    /// Deliberately corrupt one block or result, to prove the checks catch it.
    pub inject_fault: bool,
}

impl Params {
    /// `base` scaled by `scale`, at least 1.
    pub fn n(&self, base: usize) -> usize {
        ((base as f64 * self.scale) as usize).max(1)
    }
}

/// What a successful run reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Units of work done: allocations for most workloads (including reallocations),
    /// bignum continued-fraction terms for `cfrac`, parsed documents' nodes for `rust-json`.
    pub ops: u64,
    /// An order-independent digest of the work done; equal under every allocator.
    pub checksum: u64,
}

impl Outcome {
    /// Adds another thread's outcome.
    pub fn merge(self, o: Outcome) -> Outcome {
        Outcome {
            ops: self.ops + o.ops,
            checksum: self.checksum.wrapping_add(o.checksum),
        }
    }
}

/// A named workload.
pub struct Workload {
    /// Name used on the command line and in reports.
    pub name: &'static str,
    /// One line: what it does and which classic benchmark it follows.
    pub about: &'static str,
    /// Whether `Params::threads` matters.
    pub threaded: bool,
    /// The workload itself.
    pub run: fn(&Params) -> Result<Outcome, String>,
}

/// Every workload, in report order.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "sh8bench",
        about:
            "sh8bench-like: batches of mixed small sizes, half freed LIFO, half by the next thread",
        threaded: true,
        run: sh8bench::run,
    },
    Workload {
        name: "larson",
        about:
            "larson-like server: random replace in per-thread slot arrays, threads hand arrays on",
        threaded: true,
        run: larson::run,
    },
    Workload {
        name: "xmalloc",
        about: "xmalloc-like producer/consumer: every block is freed by another thread",
        threaded: true,
        run: xmalloc::run,
    },
    Workload {
        name: "cfrac",
        about: "cfrac-like: bignum continued fractions, millions of tiny short-lived objects",
        threaded: false,
        run: cfrac::run,
    },
    Workload {
        name: "cache-scratch",
        about: "cache-scratch-like: passive false sharing of small objects between threads",
        threaded: true,
        run: cache_scratch::run,
    },
    Workload {
        name: "mstress",
        about: "mstress-like: random sizes, retained sets and atomic exchange between threads",
        threaded: true,
        run: mstress::run,
    },
    Workload {
        name: "rptest",
        about: "rptest-like: per-thread working sets, batch replacement, batches freed remotely",
        threaded: true,
        run: rptest::run,
    },
    Workload {
        name: "glibc-simple",
        about: "glibc bench-malloc-simple-like: tight malloc/free batches of fixed small sizes",
        threaded: false,
        run: glibc::run_simple,
    },
    Workload {
        name: "glibc-thread",
        about: "glibc bench-malloc-thread-like: per-thread random replace, sizes 4 B..32 KiB",
        threaded: true,
        run: glibc::run_thread,
    },
    Workload {
        name: "malloc-large",
        about: "malloc-large-like: 20 live blocks of 5-25 MiB, random replacement",
        threaded: false,
        run: malloc_large::run,
    },
    Workload {
        name: "mixed-stress",
        about: "mstress/xmalloc-like: power-of-two sizes, 1% 100x larger, blocks swapped between threads, threads recreated",
        threaded: true,
        run: mixed_stress::run,
    },
    Workload {
        name: "medium-churn",
        about: "live set of 16-64 blocks of 32 KiB-1 MiB replaced round-robin, one thread",
        threaded: false,
        run: churn::run_medium,
    },
    Workload {
        name: "medium-churn-mt",
        about: "medium-churn on every thread",
        threaded: true,
        run: churn::run_medium_mt,
    },
    Workload {
        name: "large-churn",
        about: "20 live blocks of 5-25 MiB replaced round-robin, ends touched",
        threaded: false,
        run: churn::run_large,
    },
    Workload {
        name: "realloc-growth",
        about: "64 interleaved buffers grown by realloc in small steps up to 4-256 KiB",
        threaded: false,
        run: realloc_growth::run,
    },
    Workload {
        name: "rust-btreemap",
        about: "Rust: build, edit and drop a BTreeMap<String, Vec<u64>>",
        threaded: false,
        run: rust_btreemap::run,
    },
    Workload {
        name: "rust-json",
        about: "Rust: parse generated JSON text into trees on worker threads, drop them elsewhere",
        threaded: true,
        run: json_tree::run,
    },
];

/// The workload called `name`.
pub fn find(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}

/// Runs `f(i)` on `n` scoped threads and merges their outcomes; the first error wins.
pub(crate) fn on_threads<F>(n: usize, f: F) -> Result<Outcome, String>
where
    F: Fn(usize) -> Result<Outcome, String> + Sync,
{
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n).map(|i| s.spawn(move || f(i))).collect();
        let mut total = Outcome::default();
        let mut first_err = None;
        for h in handles {
            match h.join() {
                Ok(Ok(o)) => total = total.merge(o),
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    first_err.get_or_insert_with(|| "a worker thread panicked".to_string());
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(total),
        }
    })
}

/// A tag unique to (thread, sequence number) that also encodes the size, so a block handed
/// out twice or a size mix-up shows in the stamp.
pub(crate) fn tag(thread: usize, seq: u64, size: usize) -> u64 {
    rng::mix(((thread as u64) << 48) ^ seq ^ ((size as u64) << 32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(threads: usize, inject_fault: bool) -> Params {
        Params {
            scale: 0.01,
            threads,
            seed: 42,
            inject_fault,
        }
    }

    #[test]
    fn every_workload_passes_and_is_deterministic() {
        for w in WORKLOADS {
            let a = (w.run)(&tiny(2, false)).unwrap_or_else(|e| panic!("{}: {e}", w.name));
            let b = (w.run)(&tiny(2, false)).unwrap();
            assert_eq!(a, b, "{} is not deterministic", w.name);
            assert!(a.ops > 0, "{} did nothing", w.name);
            (w.run)(&tiny(1, false)).unwrap_or_else(|e| panic!("{} (1 thread): {e}", w.name));
            (w.run)(&tiny(3, false)).unwrap_or_else(|e| panic!("{} (3 threads): {e}", w.name));
        }
    }

    #[test]
    fn every_workload_catches_an_injected_fault() {
        for w in WORKLOADS {
            assert!(
                (w.run)(&tiny(2, true)).is_err(),
                "{} missed the injected fault",
                w.name
            );
        }
    }

    #[test]
    fn names_are_unique() {
        for (i, w) in WORKLOADS.iter().enumerate() {
            assert!(WORKLOADS[i + 1..].iter().all(|v| v.name != w.name));
        }
    }
}
