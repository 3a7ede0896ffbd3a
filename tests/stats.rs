//! Counters: exact counts for scripted workloads.
//!
//! Each workload runs in a child process (`support`), so no other test's threads move the
//! process-wide counters, and takes its snapshots while every other thread is parked. The child
//! asserts; the parent checks that it ran and passed. Where the design makes a count variable
//! (how many refills a batch size implies, how many slabs of other classes a thread's start-up
//! touched) the test asserts the relation instead of the number.
//!
//! Without the `stats` feature every counter reads zero; the feature matrix turns it on.

#![cfg(unix)]

mod support;
use support::MIB;

use std::thread;

use hakmem::{HakMem, Stats};
use support::workloads::{self, alloc_block, delta, free_block};

#[global_allocator]
static GLOBAL: HakMem = HakMem;

const STATS: bool = cfg!(feature = "stats");
const ADOPT: bool = cfg!(feature = "adopt");
const FORCE_NOTIFY: bool = cfg!(feature = "force-notify");
const MEDIUM: bool = cfg!(feature = "medium");

/// Every counter's name, in `Display` order.
const NAMES: [&str; 57] = [
    "allocs",
    "tls_hits",
    "tls_misses",
    "refills",
    "spills",
    "local_frees",
    "remote_frees",
    "remote_drains",
    "blocks_drained",
    "notifications",
    "publishes",
    "adopts",
    "owner_cas_failures",
    "reclaims",
    "hint_hits",
    "hint_misses",
    "hint_stale",
    "registry_lookups",
    "owned_misses",
    "slabs_bound",
    "slabs_released",
    "superslabs_mapped",
    "superslabs_retired",
    "superslabs_reused",
    "dirty_budget_sweeps",
    "retired_purges_on_bind",
    "retired_ladder_comebacks",
    "large_allocs",
    "large_frees",
    "large_reused",
    "medium_allocs",
    "medium_local_frees",
    "medium_remote_frees",
    "medium_sample_ends",
    "spans_mapped",
    "spans_collapsed",
    "spans_born_huge",
    "spans_in_use",
    "span_cache_bytes",
    "span_bytes_decommitted",
    "medium_bytes_trimmed",
    "medium_trim_backoffs",
    "bytes_in_use",
    "footprint_bytes",
    "peak_footprint_bytes",
    "cached_bytes",
    "purged_bytes",
    "os_failures",
    "memory_locked",
    "purges_skipped_locked",
    "thp_collapses",
    "thp_collapse_us",
    "thp_collapses_slow",
    "thp_collapses_skipped",
    "threads_started",
    "threads_exited",
    "heaps_reused",
];

// ---- child side ------------------------------------------------------------------------------

/// N remote frees give exactly N remote pushes; the owner's exit drains exactly those N blocks.
fn remote_frees() {
    const N: usize = 100;
    let r = workloads::remote_frees(N, 64);
    let d = &r.during;
    assert_eq!(d.remote_frees, N as u64, "remote frees\n{d}");
    assert_eq!(
        d.local_frees, 0,
        "local frees by a thread owning nothing\n{d}"
    );
    assert_eq!(d.allocs, 0, "the freeing loop allocates nothing\n{d}");
    // One notification per slab: the push that makes a queue non-empty (every push with
    // force-notify); the owner, parked, drains nothing in between.
    let want = if FORCE_NOTIFY { N } else { r.slabs };
    assert_eq!(d.notifications, want as u64, "notifications\n{d}");
    assert_eq!(
        d.remote_drains, 0,
        "nobody drains while the owner is parked\n{d}"
    );
    assert_eq!(
        r.bytes_after, r.bytes_before,
        "bytes_in_use returns to its baseline after remote frees"
    );
    let e = &r.owner_exit;
    assert_eq!(
        e.blocks_drained, N as u64,
        "the owner's exit drains every remotely freed block\n{e}"
    );
    assert_eq!(
        e.remote_drains, r.slabs as u64,
        "one drain per slab with waiting blocks\n{e}"
    );
    assert!(e.threads_exited >= 1, "{e}");
}

/// N allocations of one size in a fresh thread: allocs == N == hits + misses, one refill per
/// miss, N local frees, bytes back to baseline.
fn allocs_one_size() {
    const N: usize = 1000;
    let (a, b) = thread::spawn(|| {
        let mut v = Vec::with_capacity(N);
        let s0 = hakmem::stats();
        for _ in 0..N {
            v.push(alloc_block(48));
        }
        let s1 = hakmem::stats();
        for &p in &v {
            free_block(p, 48);
        }
        let s2 = hakmem::stats();
        assert_eq!(
            s2.bytes_in_use, s0.bytes_in_use,
            "bytes_in_use after freeing"
        );
        (delta(&s0, &s1), delta(&s1, &s2))
    })
    .join()
    .expect("allocating thread");
    assert_eq!(a.allocs, N as u64, "allocs\n{a}");
    assert_eq!(a.tls_hits + a.tls_misses, N as u64, "hits + misses\n{a}");
    assert!(a.tls_misses >= 1, "a fresh class starts with a miss\n{a}");
    assert!(
        a.tls_hits > a.tls_misses,
        "refills move batches: most allocations hit\n{a}"
    );
    assert_eq!(a.refills, a.tls_misses, "one refill per miss\n{a}");
    assert_eq!(a.large_allocs, 0, "{a}");
    assert_eq!(b.local_frees, N as u64, "frees by the owner are local\n{b}");
    assert_eq!(b.remote_frees, 0, "{b}");
    assert_eq!(b.allocs, 0, "{b}");
}

/// A refill takes the current slab's whole local free list (`config::WHOLE_FREE_LIST`): a fresh
/// thread allocates N blocks of one size (all from one slab in both modes), frees them (the TLS
/// list's spills return all but the last few dozen to the slab's free list), then allocates N
/// again: one refill hands out every block the spills returned, where a batch refill takes at
/// most `MAG_BATCH_MAX` (64) blocks (9 refills here with `--cfg hakmem_no_whole_free_list`).
fn whole_free_list() {
    const N: usize = 700;
    let (d, _) = churn_twice(64, N);
    assert_eq!(d.allocs, N as u64, "{d}");
    assert!(
        (1..=2).contains(&d.refills),
        "one refill takes the slab's whole free list\n{d}"
    );
}

/// A fresh thread allocates `n` blocks of `size` and frees them, twice: the counters' deltas over
/// the second round's allocations and over its frees.
fn churn_twice(size: usize, n: usize) -> (Stats, Stats) {
    thread::spawn(move || {
        let mut v: Vec<usize> = (0..n).map(|_| alloc_block(size)).collect();
        for &p in &v {
            free_block(p, size);
        }
        let s1 = hakmem::stats();
        for p in v.iter_mut() {
            *p = alloc_block(size);
        }
        let s2 = hakmem::stats();
        for &p in &v {
            free_block(p, size);
        }
        let s3 = hakmem::stats();
        (delta(&s1, &s2), delta(&s2, &s3))
    })
    .join()
    .expect("allocating thread")
}

/// A list holding a slab's whole free list spills a batch at a time (`config::SPILL_TOP`): a
/// fresh thread allocates and frees N blocks of one size (the spills put most on the slab's free
/// list), allocates N again (a refill takes that free list whole), then frees N: past the cap
/// (256 blocks of 64 bytes) the frees gather on the list's top and go back to their slab a batch
/// (`MAG_BATCH_MAX`, 64) at a time — about 8 spills, where session 4's policy spilled once per
/// free past the cap (444 here).
fn spill_top() {
    const N: usize = 700;
    let (_, d) = churn_twice(64, N);
    assert_eq!(d.local_frees, N as u64, "{d}");
    assert!(
        (1..=N as u64 / 64 + 2).contains(&d.spills),
        "frees past the cap of a taken list spill a batch at a time\n{d}"
    );
}

/// A spill returns its blocks a run of one slab at a time (`config::SPILL_RUNS`): a fresh thread
/// fills four slabs of one class, frees the blocks of the first two interleaved (every run one
/// block long, the slab changing at each), then the rest in order (long runs). Every block goes
/// back to its slab with its count: the two interleaved slabs, off the current slab, empty and go
/// back to the pool (a run miscounted would leave one out, or stop on the underflow check).
fn spill_runs() {
    const SIZE: usize = 256;
    const N: usize = 4 * hakmem::config::SLAB_SIZE / SIZE;
    thread::spawn(|| {
        let v: Vec<usize> = (0..N).map(|_| alloc_block(SIZE)).collect();
        let slab = |p: usize| p / hakmem::config::SLAB_SIZE;
        let (a, b) = (slab(v[0]), slab(v[N / 2 - 1]));
        assert_ne!(a, b, "the first half spans two slabs");
        let in_a: Vec<usize> = v.iter().copied().filter(|&p| slab(p) == a).collect();
        let in_b: Vec<usize> = v.iter().copied().filter(|&p| slab(p) == b).collect();
        let s0 = hakmem::stats();
        for i in 0..in_a.len().max(in_b.len()) {
            for half in [&in_a, &in_b] {
                if let Some(&p) = half.get(i) {
                    free_block(p, SIZE);
                }
            }
        }
        for &p in v.iter().filter(|&&p| slab(p) != a && slab(p) != b) {
            free_block(p, SIZE);
        }
        let d = delta(&s0, &hakmem::stats());
        assert_eq!(d.local_frees, N as u64, "{d}");
        assert!(d.spills > 0, "{d}");
        assert!(
            d.slabs_released >= 2,
            "the interleaved slabs emptied and went back to the pool\n{d}"
        );
    })
    .join()
    .expect("allocating thread");
}

/// Medium blocks: counted once each on allocation and on free (local by the owner, remote from
/// another thread); bytes at the class size; spans bound while blocks are out, and back in the
/// span cache after `collect`.
fn medium() {
    const N: usize = 40;
    const SIZE: usize = 40_000;
    const CLASS: u64 = 40 * 1024; // the medium class serving 40,000 bytes
    let mut blocks = Vec::with_capacity(N);
    let s0 = hakmem::stats();
    for _ in 0..N {
        blocks.push(alloc_block(SIZE));
    }
    let s1 = hakmem::stats();
    let a = delta(&s0, &s1);
    if !MEDIUM {
        assert_eq!(a.large_allocs, N as u64, "{a}");
        assert_eq!(a.medium_allocs, 0, "{a}");
        for &b in &blocks {
            free_block(b, SIZE);
        }
        return;
    }
    assert_eq!(a.medium_allocs, N as u64, "{a}");
    assert_eq!(a.large_allocs, 0, "medium blocks are not large ones\n{a}");
    assert_eq!(a.allocs, 0, "medium blocks are not small ones\n{a}");
    assert_eq!(
        s1.bytes_in_use - s0.bytes_in_use,
        N as u64 * CLASS,
        "bytes at the class size"
    );
    // 40 KiB blocks: 51 to a 2 MiB span.
    assert_eq!(s1.spans_in_use - s0.spans_in_use, 1, "{s1}");
    assert!(s1.spans_mapped >= 1, "{s1}");
    let (local, remote) = blocks.split_at(N / 2);
    for &b in local {
        free_block(b, SIZE);
    }
    let remote = remote.to_vec();
    thread::spawn(move || {
        for b in remote {
            free_block(b, SIZE);
        }
    })
    .join()
    .expect("remote freer");
    let s2 = hakmem::stats();
    let f = delta(&s1, &s2);
    assert_eq!(f.medium_local_frees, (N / 2) as u64, "{f}");
    assert_eq!(f.medium_remote_frees, (N - N / 2) as u64, "{f}");
    assert_eq!(
        s2.bytes_in_use, s0.bytes_in_use,
        "bytes_in_use after the frees"
    );
    // The span is still this thread's current span; collect drains it and keeps it (current),
    // so no span is decommitted here, but nothing is lost either.
    hakmem::collect();
    let again: Vec<usize> = (0..N).map(|_| alloc_block(SIZE)).collect();
    let s3 = hakmem::stats();
    assert_eq!(
        s3.spans_mapped, s2.spans_mapped,
        "the drained span serves again without a mapping"
    );
    for b in again {
        free_block(b, SIZE);
    }
}

/// Large blocks: counted once each on allocation and on free; bytes and footprint follow.
fn large() {
    // Above the medium classes (4 MiB), so large in every build.
    const SIZES: [usize; 5] = [5 * MIB, 6 * MIB, 7 * MIB, 8 * MIB + 1, 9 * MIB];
    let total: usize = SIZES.iter().sum();
    let mut blocks = [0usize; 5];
    let s0 = hakmem::stats();
    for (b, &size) in blocks.iter_mut().zip(&SIZES) {
        *b = alloc_block(size);
    }
    let s1 = hakmem::stats();
    for (&b, &size) in blocks.iter().zip(&SIZES) {
        free_block(b, size);
    }
    let s2 = hakmem::stats();
    let (a, f) = (delta(&s0, &s1), delta(&s1, &s2));
    assert_eq!(a.large_allocs, SIZES.len() as u64, "{a}");
    assert_eq!(a.large_frees, 0, "{a}");
    assert_eq!(a.allocs, 0, "large allocations are not small ones\n{a}");
    assert_eq!(f.large_frees, SIZES.len() as u64, "{f}");
    assert_eq!(f.large_allocs, 0, "{f}");
    let grew = s1.bytes_in_use - s0.bytes_in_use;
    assert!(
        grew >= total as u64 && grew <= (total + SIZES.len() * 2 * MIB) as u64,
        "bytes_in_use grew by {grew} for {total} requested"
    );
    assert_eq!(
        s2.bytes_in_use, s0.bytes_in_use,
        "bytes_in_use after the frees"
    );
    assert!(
        s1.footprint_bytes >= s0.footprint_bytes + total as u64,
        "footprint covers the mappings: {} -> {}",
        s0.footprint_bytes,
        s1.footprint_bytes
    );
    // Freed blocks wait in the large cache (still mapped) unless it is switched off.
    if hakmem::switches().large_cache {
        assert!(
            s2.cached_bytes >= s0.cached_bytes + total as u64,
            "the cache holds the freed blocks\n{s2}"
        );
    }
    hakmem::collect();
    let s3 = hakmem::stats();
    assert_eq!(s3.cached_bytes, 0, "collect() empties the cache\n{s3}");
    assert!(
        s3.footprint_bytes + total as u64 <= s1.footprint_bytes,
        "unmapping shrinks it: {} -> {}",
        s1.footprint_bytes,
        s3.footprint_bytes
    );
    assert!(
        s3.peak_footprint_bytes >= s1.footprint_bytes,
        "peak keeps the high mark"
    );
}

/// K threads that each allocate, spawned and joined: K started, K exited.
fn threads() {
    const K: usize = 8;
    let s0 = hakmem::stats();
    let handles: Vec<_> = (0..K)
        .map(|i| {
            thread::spawn(move || {
                let p = alloc_block(32 + i);
                free_block(p, 32 + i);
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    for i in 0..K {
        thread::spawn(move || free_block(alloc_block(100 * (i + 1)), 100 * (i + 1)))
            .join()
            .expect("thread");
    }
    let d = delta(&s0, &hakmem::stats());
    assert_eq!(d.threads_started, 2 * K as u64, "{d}");
    assert_eq!(d.threads_exited, 2 * K as u64, "{d}");
}

/// A thread exiting with a live block publishes its slab; a later thread allocating that class
/// adopts it (with `adopt`), else takes a fresh slab.
fn publish_adopt() {
    let e = workloads::exit_then_allocate();
    let (x, n) = (&e.exit, &e.next);
    assert!(x.publishes >= 1, "an exit with a live block publishes\n{x}");
    assert_eq!((x.threads_started, x.threads_exited), (1, 1), "{x}");
    if ADOPT {
        assert!(n.adopts >= 1, "the next thread adopts\n{n}");
        assert!(e.same_slab, "the block comes from the adopted slab");
    } else {
        assert_eq!(n.adopts, 0, "built without adopt\n{n}");
        assert!(
            !e.same_slab,
            "without adopt the published slab is not allocated from"
        );
    }
    assert!(x.adopts <= x.publishes + n.adopts, "sanity");
}

/// The owned-slab table (`config::OWNED_ENTRIES`, direct-mapped by slab address) answers every
/// local free of a slab that has its entry to itself, and `owned_misses` counts the others: a
/// fresh thread allocates 3,072 blocks of 16 KiB (four to a slab: 768 slabs in 25-odd
/// SuperSlabs) and frees them a block of every slab at a time, so that slabs sharing an entry
/// evict each other on every pass. Misses are bounded by the frees of blocks whose slab shares
/// its entry with another of these slabs (computed from the addresses), plus a few for the
/// thread's other slabs (the vector's, the runtime's: each evicts one of these slabs at most
/// once, since none of them is freed here). Without the table (`hakmem_no_owned_table`, or
/// `tls-hint` off) every local free is a miss.
fn owned_table() {
    const SIZE: usize = 16 * 1024;
    const N: usize = 3072;
    let (d, shared) = thread::spawn(|| {
        let v: Vec<usize> = (0..N).map(|_| alloc_block(SIZE)).collect();
        let entries = hakmem::config::OWNED_ENTRIES;
        let slab_of = |p: usize| p & !(hakmem::config::SLAB_SIZE - 1);
        let mut slabs: Vec<usize> = v.iter().map(|&p| slab_of(p)).collect();
        slabs.sort_unstable();
        slabs.dedup();
        let index = |s: usize| (s / hakmem::config::SLAB_SIZE) % entries;
        let mut per_entry = vec![0u32; entries];
        for &s in &slabs {
            per_entry[index(s)] += 1;
        }
        let shared = v
            .iter()
            .filter(|&&p| per_entry[index(slab_of(p))] > 1)
            .count() as u64;
        let s0 = hakmem::stats();
        for pass in 0..4 {
            for &p in v.iter().skip(pass).step_by(4) {
                free_block(p, SIZE);
            }
        }
        (delta(&s0, &hakmem::stats()), shared)
    })
    .join()
    .expect("allocating thread");
    assert_eq!(d.local_frees, N as u64, "{d}");
    if hakmem::config::OWNED_TABLE {
        assert!(
            d.owned_misses <= shared + 32,
            "misses only for slabs sharing an entry ({shared} such frees)\n{d}"
        );
    } else {
        assert_eq!(
            d.owned_misses, N as u64,
            "no table: every local free misses\n{d}"
        );
    }
}

/// bytes_in_use follows a mixed workload and returns to its baseline.
fn bytes_in_use() {
    const SIZES: [usize; 8] = [1, 16, 100, 1000, 5000, 20_000, 40_000, 1 << 20];
    let requested: usize = SIZES.iter().sum::<usize>() * 10;
    thread::spawn(move || {
        let mut v = Vec::with_capacity(80);
        let s0 = hakmem::stats();
        for _ in 0..10 {
            for &size in &SIZES {
                v.push((alloc_block(size), size));
            }
        }
        let s1 = hakmem::stats();
        for &(p, size) in &v {
            free_block(p, size);
        }
        let s2 = hakmem::stats();
        let grew = s1.bytes_in_use - s0.bytes_in_use;
        assert!(
            grew >= requested as u64 && grew <= 2 * requested as u64 + 8 * MIB as u64,
            "bytes_in_use grew by {grew} for {requested} requested"
        );
        assert_eq!(
            s2.bytes_in_use, s0.bytes_in_use,
            "bytes_in_use after freeing"
        );
        assert!(s1.peak_footprint_bytes >= s1.footprint_bytes);
    })
    .join()
    .expect("thread");
}

/// `quiesce` waits for threads still running, not only for counters that held still: a thread
/// that runs 200 ms without allocating (as the harness's main thread does when the scheduler
/// preempts it on a loaded machine) and then allocates does so before `quiesce` returns, not
/// between the caller's snapshots. (With the counters alone, `quiesce` returned after 20 ms and
/// this counted the late allocation.)
fn quiesce_waits() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let done = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&done);
    let worker = thread::spawn(move || {
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(200) {
            std::hint::spin_loop();
        }
        let late = alloc_block(100);
        while !seen.load(Ordering::Acquire) {
            thread::park();
        }
        free_block(late, 100);
    });
    workloads::quiesce();
    let s0 = hakmem::stats();
    thread::sleep(std::time::Duration::from_millis(300));
    let s1 = hakmem::stats();
    let d = delta(&s0, &s1);
    assert_eq!(
        d.allocs, 0,
        "an allocation between the snapshots: quiesce returned while a thread still ran\n{d}"
    );
    assert_eq!(
        s1.bytes_in_use, s0.bytes_in_use,
        "bytes between the snapshots"
    );
    done.store(true, Ordering::Release);
    worker.thread().unpark();
    worker.join().expect("worker");
}

/// Without the `stats` feature: every counter reads zero.
fn disabled() {
    for _ in 0..100 {
        free_block(alloc_block(64), 64);
    }
    free_block(alloc_block(MIB), MIB);
    let s = hakmem::stats();
    assert_eq!(s, Stats::default(), "{s}");
}

/// Local frees counted exactly across every change of a TLS list's length that no free made
/// (`config::DERIVED_FREE_COUNT`: the count is derived from the lists' rooms, settled at each
/// refill, spill, swap, flush and heap reuse): a fresh thread runs patterns that cross refills
/// and spills in several classes — all out then all back, a sliding window, frees between
/// allocations —, unprofiled and profiled (`hakmem::profile::start`: the free side and its
/// swaps), keeps another thread's blocks (a remote free the freer keeps, `config::FOREIGN_ENTRIES`,
/// which pushes on its list and counts as remote, not local), exits (the flush) and a second thread
/// takes its heap (the reuse). Each phase's `local_frees` is checked against the frees made.
fn derived_free_count() {
    const SIZES: [usize; 5] = [16, 48, 64, 200, 1024];
    /// Runs the patterns on the calling thread; returns the local frees they made.
    fn patterns(round: usize) -> u64 {
        let mut frees = 0u64;
        let mut check = |s0: &Stats, made: u64, what: &str| {
            let d = delta(s0, &hakmem::stats());
            assert_eq!(d.local_frees, made, "round {round}, {what}\n{d}");
            frees += made;
        };
        // Frees `p`; 1 if that is a local free of a small block (a sampled request, round 1's,
        // is the profiler's block, not one of a TLS list).
        let free = |p: usize, size: usize| -> u64 {
            let sampled = hakmem::profile::sampled_size(p as *const u8).is_some();
            free_block(p, size);
            u64::from(!sampled)
        };
        for &size in &SIZES {
            // All out, then all back: refills, then spills (a taken list's too).
            for n in [1usize, 7, 300, 2500] {
                let v: Vec<usize> = (0..n).map(|_| alloc_block(size)).collect();
                let s0 = hakmem::stats();
                let made = v.iter().map(|&p| free(p, size)).sum();
                check(&s0, made, "all back");
            }
            // A sliding window: frees between allocations, across refills and spills.
            // (Room for every block up front: the window's own growth would free.)
            let mut window = std::collections::VecDeque::with_capacity(5000);
            let s0 = hakmem::stats();
            let mut made = 0u64;
            for i in 0..5000 {
                window.push_back(alloc_block(size));
                if window.len() > 100 + (i % 700) {
                    for _ in 0..(1 + i % 50).min(window.len()) {
                        made += free(window.pop_front().unwrap(), size);
                    }
                }
            }
            for p in window.drain(..) {
                made += free(p, size);
            }
            check(&s0, made, "sliding window");
        }
        frees
    }
    let made = thread::spawn(|| {
        let mut made = patterns(0);
        // Profiled: frees go to the free side, which swaps with the TLS list at a miss or
        // fills it up to the class countdown; a small mean samples often.
        let mean = hakmem::profile::sample_interval();
        hakmem::profile::set_sample_interval(4096);
        let profiling = hakmem::profile::start();
        made += patterns(1);
        if profiling {
            hakmem::profile::stop();
        }
        hakmem::profile::set_sample_interval(mean);
        // Leaving joins the free side to the TLS lists (and spills them).
        let s = hakmem::stats();
        for _ in 0..3 {
            free_block(alloc_block(64), 64);
        }
        let d = delta(&s, &hakmem::stats());
        assert_eq!(d.local_frees, 3, "after the profiler stopped\n{d}");
        assert_eq!(d.medium_local_frees, 0, "{d}");
        made += 3;
        // Another thread's blocks, freed here after this thread refilled their class: remote
        // frees (kept or not), never local.
        // Their owner stays alive meanwhile (a published slab's blocks are not kept).
        let (give, theirs) = std::sync::mpsc::channel();
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let owner = thread::spawn(move || {
            let v: Vec<usize> = (0..200).map(|_| alloc_block(48)).collect();
            give.send(v).expect("send");
            wait.recv().expect("recv");
        });
        let theirs = theirs.recv().expect("their blocks");
        let keep = alloc_block(48);
        let s = hakmem::stats();
        for &p in &theirs {
            free_block(p, 48);
        }
        // The first free of a slab's block is remote (and kept, `config::FOREIGN_ENTRIES`:
        // the push on this thread's list is no local free); the slab's entry in the table
        // then sends the others down the owner's fast path, counted local.
        let d = delta(&s, &hakmem::stats());
        assert_eq!(
            d.local_frees + d.remote_frees,
            200,
            "another thread's blocks\n{d}"
        );
        assert!(d.remote_frees >= 1, "{d}");
        // Kept blocks handed out here and freed again: local frees now (the slab's pin makes
        // them ours to push), or remote ones if not kept.
        let s = hakmem::stats();
        let v: Vec<usize> = (0..300).map(|_| alloc_block(48)).collect();
        for &p in &v {
            free_block(p, 48);
        }
        free_block(keep, 48);
        let d = delta(&s, &hakmem::stats());
        assert_eq!(d.local_frees + d.remote_frees, 301, "{d}");
        assert!(made > 0);
        done.send(()).expect("send");
        owner.join().expect("owner thread");
        drop((theirs, v));
        // The thread's last count, read by itself.
        hakmem::stats()
    })
    .join()
    .expect("freeing thread");
    // Read from another thread after the exit's flush (which empties the lists): the same
    // count, give or take the frees of the thread's own teardown (std's thread data), and
    // (`config::PROF_POP_COUNTDOWN`) the reading thread's own pops since its last miss, which
    // `last` (read on the other thread) saw only as published then: this thread's derived
    // local frees lagged by them there, and its own `stats()` call publishes them (they show as
    // its `tls_hits` in the delta).
    let exited = |last: Stats, what: &str| {
        let d = delta(&last, &hakmem::stats());
        assert!(
            d.local_frees <= 8 + d.tls_hits,
            "{what}: after the exit\n{d}"
        );
    };
    exited(made, "the first thread");
    // The next thread takes the exited thread's heap (`Heap::reset_for_reuse`).
    let last = thread::spawn(|| {
        patterns(2);
        hakmem::stats()
    })
    .join()
    .expect("next thread");
    exited(last, "a reused heap");
}

/// The child entry point (see `support`): runs the scenario named in the environment.
#[test]
#[ignore = "child process entry point; run by the other tests"]
fn child() {
    let Some(name) = support::child::scenario() else {
        return;
    };
    workloads::quiesce();
    match name.as_str() {
        "remote_frees" => remote_frees(),
        "allocs_one_size" => allocs_one_size(),
        "whole_free_list" => whole_free_list(),
        "spill_top" => spill_top(),
        "spill_runs" => spill_runs(),
        "large" => large(),
        "medium" => medium(),
        "threads" => threads(),
        "publish_adopt" => publish_adopt(),
        "bytes_in_use" => bytes_in_use(),
        "quiesce_waits" => quiesce_waits(),
        "owned_table" => owned_table(),
        "disabled" => disabled(),
        "derived_free_count" => derived_free_count(),
        other => panic!("unknown scenario {other:?}"),
    }
}

// ---- parent side -----------------------------------------------------------------------------

fn run_counting(scenario: &str) {
    if STATS {
        support::child::run(scenario, &[]).assert_passed();
    }
}

#[test]
fn remote_frees_counted_exactly() {
    run_counting("remote_frees");
}

#[test]
fn local_frees_counted_exactly_across_refills_spills_and_swaps() {
    run_counting("derived_free_count");
}

#[test]
fn allocations_counted_exactly() {
    run_counting("allocs_one_size");
}

#[test]
fn a_refill_takes_the_whole_free_list() {
    if hakmem::config::WHOLE_FREE_LIST {
        run_counting("whole_free_list");
    }
}

#[test]
fn a_taken_list_spills_a_batch_at_a_time() {
    if hakmem::config::SPILL_TOP {
        run_counting("spill_top");
    }
}

#[test]
fn a_spill_returns_runs_of_one_slab_each() {
    run_counting("spill_runs");
}

#[test]
fn large_blocks_counted_exactly() {
    run_counting("large");
}

#[test]
fn medium_blocks_counted_exactly() {
    run_counting("medium");
}

#[test]
fn threads_started_and_exited() {
    run_counting("threads");
}

#[test]
fn exit_publishes_and_next_thread_adopts() {
    run_counting("publish_adopt");
}

#[test]
fn bytes_in_use_returns_to_baseline() {
    run_counting("bytes_in_use");
}

#[test]
fn quiesce_waits_for_running_threads() {
    run_counting("quiesce_waits");
}

#[test]
fn the_owned_slab_table_holds_768_slabs() {
    run_counting("owned_table");
}

#[test]
fn counters_read_zero_without_stats_feature() {
    if !STATS {
        support::child::run("disabled", &[]).assert_passed();
    }
}

/// `Display`: one `name value` line per counter, every field, in declaration order.
#[test]
fn display_names_every_counter() {
    let s = hakmem::stats();
    let text = format!("{s}");
    let lines: Vec<(&str, &str)> = text
        .lines()
        .map(|l| {
            let mut it = l.split_whitespace();
            let pair = (it.next().unwrap_or(""), it.next().unwrap_or(""));
            assert_eq!(it.next(), None, "one name and one value per line: {l:?}");
            pair
        })
        .collect();
    let names: Vec<&str> = lines.iter().map(|&(n, _)| n).collect();
    assert_eq!(names, NAMES, "counter names in Display order\n{text}");
    for (name, value) in lines {
        value
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("{name}: value {value:?} is not a number"));
    }
    let mut visited = Vec::new();
    s.for_each(|name, _| visited.push(name));
    assert_eq!(visited, NAMES, "for_each visits every counter");
    if STATS {
        assert!(s.allocs > 0 && s.threads_started > 0, "{s}");
    }
}
