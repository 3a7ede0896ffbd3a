//! Scripted workloads whose counter deltas are known exactly, shared by `tests/stats.rs` and
//! `tests/switches.rs`. Each runs inside a child process (so no other test's threads disturb the
//! process-wide counters) and takes its snapshots while every other thread of the process is
//! parked: the main thread waits in `thread::scope`, helper threads on barriers.
//!
//! Allocation goes through `std::alloc` (the binary's `#[global_allocator]` is `HakMem`); every
//! block is written and its address passed through `black_box`, so the compiler cannot elide an
//! allocation/free pair.

use std::alloc::{alloc, dealloc, Layout};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Barrier;
use std::thread;

use hakmem::Stats;

use super::KIB;

pub const SLAB: usize = 64 * KIB;

/// Request size served by the 8 KiB class in every layout (header mode adds 16 bytes): eight
/// blocks per slab, so a few allocations fill a slab.
pub const BIG_SMALL: usize = 8000;

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 16).expect("layout")
}

/// Allocates `size` bytes (panics on failure), writes them, returns the address.
pub fn alloc_block(size: usize) -> usize {
    // SAFETY: a non-zero size.
    let p = unsafe { alloc(layout(size)) };
    assert!(!p.is_null(), "allocation of {size} bytes failed");
    // SAFETY: a fresh block of `size` bytes.
    unsafe { p.write_bytes(0x5a, size) };
    black_box(p) as usize
}

/// Frees a block from `alloc_block(size)`.
pub fn free_block(p: usize, size: usize) {
    // SAFETY: callers pass live blocks of `alloc_block(size)`.
    unsafe { dealloc(black_box(p as *mut u8), layout(size)) }
}

/// The 64 KiB slab holding `p`.
pub fn slab_of(p: usize) -> usize {
    p & !(SLAB - 1)
}

/// Waits (at most about 5 s) until no other thread of the process allocates or frees: the test
/// harness's main thread does a little of both just after it has started the test's thread.
/// Counting workloads start with this, so their snapshots see only their own operations.
///
/// Quiet is both: the counters held still for 20 ms, and then every other thread is blocked
/// (`others_blocked`). The counters alone are not enough on a loaded machine: the harness's
/// main thread, preempted (or stalled on a page fault) between starting the test's thread and
/// its last allocation, can hold still for 20 ms and allocate later, inside the workload's
/// snapshots (tests/stats.rs `bytes_in_use` and `medium` then counted its 144 bytes).
pub fn quiesce() {
    let busy = |s: &Stats| (s.allocs, s.local_frees + s.remote_frees, s.large_allocs);
    for _ in 0..250 {
        let a = hakmem::stats();
        thread::sleep(std::time::Duration::from_millis(20));
        if busy(&a) == busy(&hakmem::stats()) && others_blocked() {
            return;
        }
    }
    panic!("the process never became quiet: some thread keeps allocating or running");
}

/// Whether every thread of the process but the caller is blocked: its state in
/// `/proc/self/task/TID/stat` is neither `R` (running or runnable: a preempted thread is mid-work)
/// nor `D` (uninterruptible, e.g. a page fault waiting on the disk). `true` where `/proc` cannot
/// tell (not Linux): there the counters alone decide, as before.
pub fn others_blocked() -> bool {
    let Ok(me) = std::fs::read_link("/proc/thread-self") else {
        return true;
    };
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return true;
    };
    for task in tasks.flatten() {
        if Some(task.file_name().as_os_str()) == me.file_name() {
            continue;
        }
        // A thread that exited since the listing has no stat left: not running.
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // "tid (comm) S ...": the state follows the last ')' (a name may hold parentheses).
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next());
        if matches!(state, Some('R' | 'D')) {
            return false;
        }
    }
    true
}

/// `b - a`, field by field (counters only grow, except the gauges, which may wrap here).
pub fn delta(a: &Stats, b: &Stats) -> Stats {
    macro_rules! sub {
        ($($f:ident),* $(,)?) => {
            Stats { $($f: b.$f.wrapping_sub(a.$f),)* ..*b }
        };
    }
    sub!(
        allocs,
        tls_hits,
        tls_misses,
        refills,
        spills,
        local_frees,
        remote_frees,
        remote_drains,
        blocks_drained,
        notifications,
        publishes,
        adopts,
        owner_cas_failures,
        reclaims,
        hint_hits,
        hint_misses,
        hint_stale,
        registry_lookups,
        owned_misses,
        slabs_bound,
        slabs_released,
        superslabs_mapped,
        superslabs_retired,
        superslabs_reused,
        dirty_budget_sweeps,
        large_allocs,
        large_frees,
        large_reused,
        medium_allocs,
        medium_local_frees,
        medium_remote_frees,
        medium_sample_ends,
        spans_mapped,
        span_bytes_decommitted,
        medium_bytes_trimmed,
        medium_trim_backoffs,
        threads_started,
        threads_exited,
        heaps_reused,
    )
}

/// What `remote_frees` observed.
pub struct RemoteFrees {
    /// Counter deltas over the freeing loop alone (run by a thread that never allocated).
    pub during: Stats,
    /// Counter deltas from the end of the freeing loop to after the owner's exit.
    pub owner_exit: Stats,
    /// Distinct slabs the freed blocks lived in.
    pub slabs: usize,
    /// `bytes_in_use` before the owner allocated, and after the frees.
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// The owner thread allocates `n` blocks of `size` bytes and stays alive, parked; a second thread
/// frees them all (remote frees); then the owner exits (draining its slabs' remote queues).
pub fn remote_frees(n: usize, size: usize) -> RemoteFrees {
    let slots: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
    let start = Barrier::new(2);
    let allocated = Barrier::new(2);
    let freed = Barrier::new(2);
    let mut before = 0;
    let (mut during, mut end) = (Stats::default(), Stats::default());
    thread::scope(|s| {
        let owner = s.spawn(|| {
            start.wait();
            let b = hakmem::stats().bytes_in_use;
            for slot in &slots {
                slot.store(alloc_block(size), Ordering::Relaxed);
            }
            // With `config::PROF_POP_COUNTDOWN` another thread's `stats()` sees this thread's
            // pops as of its last miss (`HeapCounters::alloc_fast_now`); its own call publishes
            // them all, so the freeing thread's snapshots count every block allocated here.
            let _ = hakmem::stats();
            allocated.wait();
            freed.wait();
            b
        });
        s.spawn(|| {
            start.wait();
            allocated.wait();
            let s0 = hakmem::stats();
            for slot in &slots {
                free_block(slot.load(Ordering::Relaxed), size);
            }
            let s1 = hakmem::stats();
            during = delta(&s0, &s1);
            end = s1;
            // A consumer's frees may wait in its remote-free batches (`config::CONSUMER_BATCH`,
            // `REMOTE_BATCH`) until its exit, which races the owner's: pushed now, so that the
            // owner's exit finds every block on its queue.
            if hakmem::config::CONSUMER_BATCH || hakmem::config::REMOTE_BATCH {
                hakmem::collect();
            }
            freed.wait();
        });
        before = owner.join().expect("owner thread");
    });
    let after = hakmem::stats();
    let mut slabs: Vec<usize> = slots
        .iter()
        .map(|s| slab_of(s.load(Ordering::Relaxed)))
        .collect();
    slabs.sort_unstable();
    slabs.dedup();
    RemoteFrees {
        during,
        owner_exit: delta(&end, &after),
        slabs: slabs.len(),
        bytes_before: before,
        bytes_after: end.bytes_in_use,
    }
}

/// What `exit_then_allocate` observed.
pub struct ExitThenAllocate {
    /// Deltas over the first thread's life (it exits holding one live block).
    pub exit: Stats,
    /// Deltas over the second thread's first allocation of the same class.
    pub next: Stats,
    /// Whether that allocation came from the exited thread's slab.
    pub same_slab: bool,
}

/// A thread allocates one `BIG_SMALL` block and exits without freeing it (its slab is
/// published); then a fresh thread allocates one block of the same class. The leaked block is
/// freed at the end.
pub fn exit_then_allocate() -> ExitThenAllocate {
    let s0 = hakmem::stats();
    let leaked = thread::spawn(|| alloc_block(BIG_SMALL))
        .join()
        .expect("exiting thread");
    let s1 = hakmem::stats();
    let (next, q) = thread::spawn(|| {
        let a = hakmem::stats();
        let q = alloc_block(BIG_SMALL);
        (delta(&a, &hakmem::stats()), q)
    })
    .join()
    .expect("allocating thread");
    let r = ExitThenAllocate {
        exit: delta(&s0, &s1),
        next,
        same_slab: slab_of(q) == slab_of(leaked),
    };
    free_block(q, BIG_SMALL);
    free_block(leaked, BIG_SMALL);
    r
}

/// What `run_dry_with_partial_and_published` observed.
pub struct RunDry {
    /// Deltas over the owner's allocation that found its current slab dry.
    pub dry: Stats,
    /// Whether that allocation came from the published slab (adopted) rather than the owner's
    /// own notified, partial slab.
    pub from_published: bool,
}

/// The refill order when the current slab runs dry while the heap has both a notified slab with
/// free blocks and a published slab is waiting:
/// 1. thread T allocates 16 `BIG_SMALL` blocks: slab S1 (8 blocks) fills and goes to T's full
///    list, slab S2 (8 blocks) becomes current and fills too; T parks;
/// 2. thread R frees 4 of S1's blocks (remote: S1's queue, T notified);
/// 3. thread P allocates one block of the class and exits holding it: its slab is published;
/// 4. T allocates once more: S2 is dry. Default order: drain the notified S1 and use it. With
///    `HAKMEM_TINY_MUST_ADOPT=1`: adopt P's slab first.
pub fn run_dry_with_partial_and_published() -> RunDry {
    const N: usize = 16;
    let slots: Vec<AtomicUsize> = (0..N).map(|_| AtomicUsize::new(0)).collect();
    let filled = Barrier::new(2);
    let go = Barrier::new(2);
    let mut published = 0;
    let mut result = None;
    thread::scope(|s| {
        let t = s.spawn(|| {
            for slot in &slots {
                slot.store(alloc_block(BIG_SMALL), Ordering::Relaxed);
            }
            filled.wait();
            go.wait();
            let a = hakmem::stats();
            let q = alloc_block(BIG_SMALL);
            (delta(&a, &hakmem::stats()), q)
        });
        filled.wait();
        let addrs: Vec<usize> = slots.iter().map(|s| s.load(Ordering::Relaxed)).collect();
        let s1 = slab_of(addrs[0]);
        assert!(
            addrs[..8].iter().all(|&p| slab_of(p) == s1)
                && addrs[8..].iter().all(|&p| slab_of(p) != s1),
            "construction: the first 8 blocks should fill one slab"
        );
        thread::scope(|s2| {
            s2.spawn(|| {
                for &p in &addrs[..4] {
                    free_block(p, BIG_SMALL);
                }
            });
        });
        published = thread::spawn(|| alloc_block(BIG_SMALL))
            .join()
            .expect("publishing thread");
        go.wait();
        let (dry, q) = t.join().expect("thread T");
        result = Some((dry, q, addrs));
    });
    let (dry, q, addrs) = result.expect("thread T finished");
    let from_published = slab_of(q) == slab_of(published);
    free_block(q, BIG_SMALL);
    free_block(published, BIG_SMALL);
    for &p in &addrs[4..] {
        free_block(p, BIG_SMALL);
    }
    RunDry {
        dry,
        from_published,
    }
}

/// A fresh thread allocates `n` 64-byte blocks and frees them, `rounds` times. Returns the
/// deltas over the whole loop.
pub fn free_heavy(n: usize, rounds: usize) -> Stats {
    thread::spawn(move || {
        let mut v = Vec::with_capacity(n);
        let a = hakmem::stats();
        for _ in 0..rounds {
            for _ in 0..n {
                v.push(alloc_block(64));
            }
            for p in v.drain(..) {
                free_block(p, 64);
            }
        }
        delta(&a, &hakmem::stats())
    })
    .join()
    .expect("free-heavy thread")
}
