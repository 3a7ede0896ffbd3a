//! Shared code of the `hakmem-bench` workload binaries.
//!
//! Every `wl-<alloc>` binary (see `src/bin/`) is this library plus one `#[global_allocator]`
//! line, so each allocator runs exactly the same workload code in its own process, the way its
//! users deploy it. The runner (`src/main.rs`) never runs a workload itself: it spawns these
//! binaries, one process per run, and measures them from outside (wall time, CPU time, peak RSS).
//!
//! The workloads are written after the public descriptions of the classic allocator benchmarks
//! (see `docs/benchmarks.md`). Each one checks its own results: blocks carry patterns that are
//! verified before they are freed, and computed values are compared with an independent
//! reference. A failed check makes the binary exit nonzero, and the runner with it.

pub mod wl_main;
pub mod workloads;

pub use wl_main::wl_main;
