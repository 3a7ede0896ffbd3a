//! Helpers shared by the integration tests (`mod support;` in each binary that needs them).
//!
//! - `child`: the child-process harness of tests that must run alone in a process (they abort on
//!   purpose, or count process-wide events);
//! - `pattern`: id-derived fill patterns, their check, and `TestBlock` (a verified block of the
//!   global allocator);
//! - `thp`: residency (`mincore`) and the kernel's transparent huge pages, for the RSS tests;
//! - `workloads`: small workloads whose counters the statistics and switch tests compare;
//! - here: sizes, the soak scale, a watchdog, the core count, and the deterministic generator —
//!   the benchmark crate's (`hakmem_bench::workloads::rng`), so tests and benchmarks share one.

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod child;
pub mod pattern;
pub mod thp;
pub mod workloads;

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

pub use hakmem_bench::workloads::rng::{mix, Rng};

pub const KIB: usize = 1024;
pub const MIB: usize = 1024 * KIB;

/// Every size class's block size: 16-byte steps to 1 KiB, then 4 per doubling to 32 KiB.
pub fn class_sizes() -> Vec<usize> {
    let mut sizes: Vec<usize> = (1..=64).map(|i| i * 16).collect();
    let mut base = KIB;
    while base < 32 * KIB {
        sizes.extend((1..=4).map(|q| base + q * base / 4));
        base *= 2;
    }
    sizes
}

/// The soak multiplier: `HAKMEM_TEST_SCALE` (a positive integer), 1 when unset. Stress tests
/// multiply their rounds and operation counts by it, watchdogs their time limit.
pub fn scale() -> usize {
    std::env::var("HAKMEM_TEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(1)
}

/// Aborts the whole test binary with a message if it is still running after `base_secs` ×
/// `HAKMEM_TEST_SCALE` seconds, so that a hang in the allocator (a lost wake-up, a spinning
/// drain, a lock never released) fails the run instead of stalling CI. Armed once per binary,
/// from its first call; a later call with a longer limit extends it (the binary's limit is the
/// longest any of its tests asked for: a short one armed first no longer cut the others' time,
/// which under load aborted `cross_thread` in `pipeline_with_forwarding` after the 60 s of
/// `full_slab_comes_back_through_its_notification`). The message goes to stderr directly: an
/// `eprintln!` from a thread a test spawned is captured with the test's output, and lost when
/// the process aborts.
pub fn arm_watchdog(name: &'static str, base_secs: u64) {
    static WATCHDOG: Once = Once::new();
    static LIMIT_SECS: AtomicU64 = AtomicU64::new(0);
    LIMIT_SECS.fetch_max(base_secs * scale() as u64, Ordering::Relaxed);
    WATCHDOG.call_once(|| {
        let start = Instant::now();
        std::thread::spawn(move || loop {
            let limit = Duration::from_secs(LIMIT_SECS.load(Ordering::Relaxed));
            let elapsed = start.elapsed();
            if elapsed >= limit {
                let _ = writeln!(
                    std::io::stderr(),
                    "{name}: watchdog fired after {limit:?}; a test is hung"
                );
                std::process::abort();
            }
            std::thread::sleep(limit - elapsed);
        });
    });
}

/// Number of CPUs (at least 1).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A written block of `size` bytes from the global allocator (16-byte aligned): every byte
/// touched, so its pages are resident. The RSS tests' `take`.
pub fn take(size: usize) -> *mut u8 {
    let layout = std::alloc::Layout::from_size_align(size, 16).unwrap();
    // SAFETY: a non-zero size.
    let p = std::hint::black_box(unsafe { std::alloc::alloc(layout) });
    assert!(!p.is_null(), "alloc({size})");
    // SAFETY: the block is ours, `size` bytes.
    unsafe { p.write_bytes(1, size) };
    p
}

/// Frees a block `take` gave, with its size.
pub fn give(p: *mut u8, size: usize) {
    let layout = std::alloc::Layout::from_size_align(size, 16).unwrap();
    // SAFETY: allocated by `take` with this size, freed once.
    unsafe { std::alloc::dealloc(p, layout) };
}
