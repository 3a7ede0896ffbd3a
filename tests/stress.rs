//! Stress under `HakMem`: the benchmark crate's workloads — the very code the runner measures
//! (`hakmem_bench::workloads`, written after sh8bench, larson, cfrac, xmalloc, mstress) — run
//! with hakmem as the global allocator, with twice as many threads as cores, in a debug build.
//!
//! Claims checked: the structural validator (`hakmem::testing::debug_check`) finds the heap sound
//! after each workload; each workload's own checks pass (every block's stamp is verified before its
//! free, on whichever thread frees it, and computed results match an independent reference);
//! the allocator's footprint does not grow without bound (after `collect`, another cfrac run
//! maps no further SuperSlab, when `stats` is on); nothing hangs (watchdog: 120 s ×
//! `HAKMEM_TEST_SCALE`). Scale: `SCALE` of the benchmark's default run, times
//! `HAKMEM_TEST_SCALE`. The tests run one at a time, so the footprint check sees only its own
//! workload.

mod support;

use std::sync::{Mutex, MutexGuard};

use hakmem_bench::workloads::{find, Outcome, Params};
use support::{arm_watchdog, cores, scale};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

/// Fraction of the benchmark's default run (sized for half a second of release build).
const SCALE: f64 = 0.1;

/// Held by each test for its whole run.
static SERIAL: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    arm_watchdog("stress", 120);
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs workload `name` with seed `seed`, then returns the thread's caches with `collect`.
fn stress(name: &str, seed: u64) -> Outcome {
    let w = find(name).unwrap_or_else(|| panic!("no workload {name}"));
    let p = Params {
        scale: SCALE * scale() as f64,
        threads: if w.threaded { 2 * cores() } else { 1 },
        seed,
        inject_fault: false,
    };
    let out = (w.run)(&p).unwrap_or_else(|e| panic!("{name} under hakmem: {e}"));
    assert!(out.ops > 0, "{name} did nothing");
    // The structural validator over this thread's heap (the workload's threads have exited, so
    // their slabs were checked as they were published), before and after `collect`.
    let census = hakmem::testing::debug_check();
    assert_eq!(census.used, census.live + census.tls + census.remote);
    hakmem::collect();
    hakmem::testing::debug_check();
    out
}

/// Batches of mixed tiny and small blocks freed in varying orders, a share by the next thread.
#[test]
fn sh8bench() {
    let _serial = one_at_a_time();
    stress("sh8bench", 1);
}

/// Slot arrays handed from each generation of threads to the next: blocks outlive the thread
/// that allocated them and are freed remotely, often into published slabs.
#[test]
fn larson() {
    let _serial = one_at_a_time();
    stress("larson", 1);
}

/// Producer/consumer: every block freed by another thread.
#[test]
fn xmalloc() {
    let _serial = one_at_a_time();
    stress("xmalloc", 1);
}

/// Random sizes, retained sets exchanged atomically between threads.
#[test]
fn mstress() {
    let _serial = one_at_a_time();
    stress("mstress", 1);
}

/// Millions of tiny short-lived bignum temporaries on one thread; the footprint stays put.
#[test]
fn cfrac_footprint_is_stable() {
    let _serial = one_at_a_time();
    stress("cfrac", 1);
    let mapped = hakmem::stats().superslabs_mapped;
    stress("cfrac", 2);
    if cfg!(feature = "stats") {
        assert_eq!(
            hakmem::stats().superslabs_mapped,
            mapped,
            "a second run of the same single-threaded workload mapped more SuperSlabs"
        );
    }
}
