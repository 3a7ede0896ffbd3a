//! The medium tier (sizes above 32 KiB up to 4 MiB, served from spans): memory and mappings stay
//! bounded over rounds of many live blocks; blocks keep their contents across threads, thread
//! exits and `realloc` across the small/medium/large boundaries.
//!
//! The counting and RSS scenarios run in child processes (`support`), so no other test's threads
//! move the process-wide numbers. Without the `medium` feature those sizes take the large path
//! (one mapping each), whose mapping count is bounded only by `vm.max_map_count`: the scenarios
//! that claim a medium-tier property report themselves skipped there; the content tests run in
//! every build.

#![cfg(unix)]

mod support;

use std::thread;

use support::pattern::TestBlock;
use support::thp::thp_always;
use support::workloads::{alloc_block, delta, free_block};
use support::{arm_watchdog, Rng, KIB, MIB};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const MEDIUM: bool = cfg!(feature = "medium");
const STATS: bool = cfg!(feature = "stats");

/// Resident bytes of this process (`/proc/self/statm`).
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("resident pages");
    pages * 4096
}

/// Mappings of this process (`/proc/self/maps` lines).
fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .expect("maps")
        .lines()
        .count()
}

// ---- child side ------------------------------------------------------------------------------

/// 100,000 live blocks of 40 KB, both ends written, then all freed; five rounds. The defect this
/// guards against: one mapping per block, past `vm.max_map_count` failed unmaps, and RSS growing
/// by gigabytes per round.
fn many_live_rounds() {
    const N: usize = 100_000;
    const SIZE: usize = 40_000;
    const ROUNDS: usize = 5;
    let maps0 = mappings();
    let mut blocks: Vec<usize> = Vec::with_capacity(N);
    let mut peak = [0usize; ROUNDS];
    let mut after = [0usize; ROUNDS];
    let mut maps = [0usize; ROUNDS];
    for r in 0..ROUNDS {
        for i in 0..N {
            let p = alloc_block_ends(SIZE, (r * N + i) as u64);
            blocks.push(p);
        }
        peak[r] = rss();
        maps[r] = mappings();
        for (i, &p) in blocks.iter().enumerate() {
            check_ends(p, SIZE, (r * N + i) as u64);
            free_block(p, SIZE);
        }
        blocks.clear();
        after[r] = rss();
    }
    eprintln!(
        "rss after allocating: {peak:?}\nrss after freeing: {after:?}\nmaps: {maps0} -> {maps:?}"
    );
    // Bounded by the heap over the span size (2 MiB spans of 51 blocks), not by the blocks.
    let bound = maps0 + N.div_ceil(51) + 64;
    for r in 0..ROUNDS {
        assert!(
            peak[r] <= peak[0] + peak[0] / 10,
            "round {r}: rss {} > first round's {} + 10%",
            peak[r],
            peak[0]
        );
        assert!(
            after[r] <= after[0] + after[0] / 10 + 16 * MIB,
            "round {r}: rss after the frees {} > first round's {} + 10%",
            after[r],
            after[0]
        );
        assert!(
            maps[r] <= bound,
            "round {r}: {} mappings > {bound}",
            maps[r]
        );
        assert!(
            maps[r] <= maps[0] + 16,
            "round {r}: mappings grew from {} to {}",
            maps[0],
            maps[r]
        );
    }
    // The empty spans went back (beyond the committed budget): far below the live peak.
    assert!(
        after[ROUNDS - 1] < peak[0] / 2,
        "freed memory stayed resident: {} of {}",
        after[ROUNDS - 1],
        peak[0]
    );
}

/// Allocates `size` bytes and writes `id` at both ends (one page each).
fn alloc_block_ends(size: usize, id: u64) -> usize {
    let layout = std::alloc::Layout::from_size_align(size, 16).expect("layout");
    // SAFETY: a non-zero size.
    let p = unsafe { std::alloc::alloc(layout) };
    assert!(!p.is_null(), "allocation {id} of {size} bytes failed");
    // SAFETY: a live block of `size >= 16` bytes.
    unsafe {
        p.cast::<u64>().write_unaligned(id);
        p.add(size - 8).cast::<u64>().write_unaligned(!id);
    }
    p as usize
}

fn check_ends(p: usize, size: usize, id: u64) {
    let p = p as *const u8;
    // SAFETY: a live block of `size` bytes.
    let (head, tail) = unsafe {
        (
            p.cast::<u64>().read_unaligned(),
            p.add(size - 8).cast::<u64>().read_unaligned(),
        )
    };
    assert_eq!((head, tail), (id, !id), "block {id} at {p:p} corrupted");
}

/// A thread allocates medium blocks and exits with them live; another frees them all; a third
/// allocates the same sizes again. The spans the first left behind serve the third (adopted, or
/// reclaimed into the span cache by the freer's exit or without `adopt`): no new span is mapped.
fn exit_then_reuse() {
    const N: usize = 60;
    const SIZE: usize = 100 * KIB;
    let blocks = thread::spawn(|| (0..N).map(|_| alloc_block(SIZE)).collect::<Vec<_>>())
        .join()
        .expect("allocating thread");
    let s0 = hakmem::stats();
    thread::spawn(move || {
        for b in blocks {
            free_block(b, SIZE);
        }
    })
    .join()
    .expect("freeing thread");
    let s1 = hakmem::stats();
    let again = thread::spawn(|| (0..N).map(|_| alloc_block(SIZE)).collect::<Vec<_>>())
        .join()
        .expect("reallocating thread");
    let s2 = hakmem::stats();
    let f = delta(&s0, &s1);
    let a = delta(&s1, &s2);
    assert_eq!(f.medium_remote_frees, N as u64, "{f}");
    assert_eq!(a.medium_allocs, N as u64, "{a}");
    assert_eq!(a.spans_mapped, 0, "the published spans served again\n{a}");
    // A heapless freer leaves the emptied spans published, and the third thread adopts them. A
    // freer with its own heap (`config::FREER_HEAP`, the default) reclaims them into the span
    // cache when it exits; `spans_mapped == 0` above checks that they serve again either way.
    if cfg!(feature = "adopt") && !hakmem::config::FREER_HEAP {
        assert!(a.adopts >= 1, "{a}");
    }
    for b in again {
        free_block(b, SIZE);
    }
}

/// 1,000 blocks of 200 KB written through and freed, then `collect()`: the emptied spans are
/// purged and RSS is back near where it started. With `HAKMEM_PURGE_DELAY_MS=0` the same happens
/// without `collect()`, as each span empties (the thread's current span, at most one span, stays).
fn purge_returns_rss(collect: bool) {
    const N: usize = 1000;
    const SIZE: usize = 200_000;
    let start = rss();
    let blocks: Vec<usize> = (0..N).map(|_| alloc_block(SIZE)).collect();
    let full = rss();
    assert!(
        full >= start + N * SIZE / 2,
        "blocks not resident: {start} -> {full}"
    );
    for b in blocks {
        free_block(b, SIZE);
    }
    if collect {
        hakmem::collect();
    }
    let end = rss();
    eprintln!("rss: start {start}, full {full}, end {end}");
    assert!(
        end <= start + start / 10 + 8 * MIB,
        "rss {end} not back near its start {start} (peak {full})"
    );
}

// ---- free blocks spread over many classes (`config::MEDIUM_TRIM`) --------------------------------

/// `n` sizes spread over the medium classes from 40 KiB to about 1 MiB.
fn spread_sizes(n: usize) -> Vec<usize> {
    (0..n).map(|k| 40 * KIB + k * (960 * KIB / n)).collect()
}

/// A fully written block of `size` bytes, every byte derived from `id`.
fn alloc_filled(size: usize, id: u8) -> usize {
    let layout = std::alloc::Layout::from_size_align(size, 16).expect("layout");
    // SAFETY: a non-zero size.
    let p = unsafe { std::alloc::alloc(layout) };
    assert!(!p.is_null(), "allocation of {size} bytes failed");
    // SAFETY: a live block of `size` bytes.
    unsafe { p.write_bytes(id, size) };
    p as usize
}

/// Checks that every byte of the live block `p` of `size` bytes is still `id`.
fn check_filled(p: usize, size: usize, id: u8) {
    // SAFETY: a live block of `size` bytes.
    let bytes = unsafe { std::slice::from_raw_parts(p as *const u8, size) };
    if let Some(i) = bytes.iter().position(|&b| b != id) {
        panic!(
            "block {p:#x} of {size} bytes: byte {i} is {:#x}, not {id:#x}",
            bytes[i]
        );
    }
}

/// Every byte of a block just returned by `alloc_zeroed` is zero; then it is filled with `id`.
fn zeroed_then_filled(size: usize, id: u8) -> usize {
    let layout = std::alloc::Layout::from_size_align(size, 16).expect("layout");
    // SAFETY: a non-zero size.
    let p = unsafe { std::alloc::alloc_zeroed(layout) };
    assert!(!p.is_null(), "allocation of {size} bytes failed");
    check_filled(p as usize, size, 0);
    // SAFETY: a live block of `size` bytes.
    unsafe { p.write_bytes(id, size) };
    p as usize
}

fn free_sized(p: usize, size: usize) {
    free_block(p, size);
}

/// What a heap may keep resident beyond its live blocks: the trim budget, the first page of each
/// purged free block, and slack for the span cache's committed spans and the test's own heap.
fn hoard_bound(free_blocks: usize) -> usize {
    hakmem::config::MEDIUM_DIRTY_BYTES + free_blocks * 4 * KIB + 8 * MIB
}

/// Lets the calling thread's trim epochs pass: three times, waits two epochs and frees more than
/// `MEDIUM_DIRTY_BYTES` locally (one 1 MiB block allocated and freed over and over), which runs
/// the trim check. Every block freed (or drained) before this has then stayed free through a
/// whole epoch.
fn let_epochs_pass() {
    let wait = std::time::Duration::from_millis(2 * hakmem::config::MEDIUM_TRIM_AGE_MS + 5);
    let n = hakmem::config::MEDIUM_DIRTY_BYTES / MIB + 2;
    for _ in 0..3 {
        thread::sleep(wait);
        for i in 0..n {
            let p = alloc_filled(MIB, i as u8);
            free_sized(p, MIB);
        }
    }
}

/// One thread, 40 sizes over the medium classes: 6 blocks of each written through, 5 of each
/// freed; then the trim epochs pass. Each class's span keeps the blocks it carved, so without the
/// trim RSS grows by every class's high-water (about 120 MiB here, 20 of it live); with it, by
/// the live blocks and at most the trim budget. Then the freed blocks serve again — `calloc`ed
/// (zero throughout, purged or not), filled — and the live ones kept every byte.
fn spread_local() {
    const PER: usize = 6;
    let sizes = spread_sizes(40);
    let live_bytes: usize = sizes.iter().sum();
    let s0 = hakmem::stats();
    let start = rss();
    let mut live = Vec::new();
    for (k, &size) in sizes.iter().enumerate() {
        let blocks: Vec<usize> = (0..PER)
            .map(|i| alloc_filled(size, (k * PER + i) as u8))
            .collect();
        for &b in &blocks[1..] {
            free_sized(b, size);
        }
        live.push((blocks[0], size, (k * PER) as u8));
    }
    let_epochs_pass();
    let grown = rss().saturating_sub(start);
    let hoard: usize = sizes.iter().map(|s| s * (PER - 1)).sum();
    eprintln!(
        "rss grew by {} KiB: {} KiB live, {} KiB freed",
        grown / KIB,
        live_bytes / KIB,
        hoard / KIB
    );
    assert!(
        grown <= live_bytes + hoard_bound(sizes.len() * PER),
        "rss grew by {grown} bytes for {live_bytes} live: the {hoard} bytes freed stayed resident"
    );
    if STATS {
        let d = delta(&s0, &hakmem::stats());
        assert!(d.medium_bytes_trimmed > 0, "{d}");
    }
    let mut again = Vec::new();
    for (k, &size) in sizes.iter().enumerate() {
        for i in 1..PER {
            again.push((
                zeroed_then_filled(size, (k * PER + i) as u8 ^ 0xff),
                size,
                (k * PER + i) as u8 ^ 0xff,
            ));
        }
    }
    for (p, size, id) in live.into_iter().chain(again) {
        check_filled(p, size, id);
        free_sized(p, size);
    }
}

/// One thread, 14 blocks of 1 MiB written through, 13 freed, then the trim epochs pass: 13 MiB of
/// free blocks, under the 16 MiB a heap kept unpurged until session 9 and over the 8 MiB it keeps
/// now (`MEDIUM_DIRTY_BYTES`), so the trim purges them down to 4 MiB (session 9, `medium9`: most of
/// the spread-classes stress's resident bytes over glibc's were free blocks under the old budget
/// and age). The bounds are literal: they are the policy this checks. Then the freed blocks serve
/// again, `calloc`ed (zero throughout), and the live one kept every byte.
fn budget_local() {
    const N: usize = 14;
    let start = rss();
    let blocks: Vec<usize> = (0..N).map(|i| alloc_filled(MIB, i as u8)).collect();
    for &b in &blocks[1..] {
        free_sized(b, MIB);
    }
    let_epochs_pass();
    let grown = rss().saturating_sub(start);
    eprintln!(
        "rss grew by {} KiB: 1024 KiB live, {} KiB freed",
        grown / KIB,
        (N - 1) * MIB / KIB
    );
    assert!(
        grown <= MIB + 9 * MIB,
        "rss grew by {grown} bytes for 1 MiB live: more than 8 MiB of the {} MiB freed stayed \
         resident",
        N - 1
    );
    let again: Vec<usize> = (1..N)
        .map(|i| zeroed_then_filled(MIB, i as u8 ^ 0xff))
        .collect();
    check_filled(blocks[0], MIB, 0);
    free_sized(blocks[0], MIB);
    for (i, p) in again.into_iter().enumerate() {
        check_filled(p, MIB, (i + 1) as u8 ^ 0xff);
        free_sized(p, MIB);
    }
}

/// As `budget_local`, then the 13 freed blocks serve 13 `calloc`s: the trim purged the pages past
/// the first of at least 5 MiB of them, and `alloc_zeroed` leaves those out of memory (purges them
/// again rather than writing zeroes over them: `config::MEDIUM_CLEAR_RESIDENT`; `mincore`, before
/// anything reads them). Session 20 (calloc20): before, every block was cleared whole, faulting
/// all 13 MiB back in (0 of 3328 pages left out). Then every byte reads as zero.
fn budget_calloc() {
    const N: usize = 14;
    let blocks: Vec<usize> = (0..N).map(|i| alloc_filled(MIB, i as u8)).collect();
    for &b in &blocks[1..] {
        free_sized(b, MIB);
    }
    let_epochs_pass();
    let layout = std::alloc::Layout::from_size_align(MIB, 16).expect("layout");
    let again: Vec<usize> = (1..N)
        // SAFETY: a non-zero size.
        .map(|_| unsafe { std::alloc::alloc_zeroed(layout) } as usize)
        .collect();
    assert!(again.iter().all(|&p| p != 0), "alloc_zeroed failed");
    let out: usize = again
        .iter()
        .map(|&p| MIB / (4 * KIB) - resident_pages(p, MIB))
        .sum();
    eprintln!(
        "{out} of {} pages of the calloc'd blocks not resident",
        (N - 1) * MIB / (4 * KIB)
    );
    // THP `always`: khugepaged may collapse the purged ranges back (as tests/purge.rs's checks).
    assert!(
        out >= 5 * MIB / (4 * KIB) || thp_always(),
        "calloc of trimmed blocks faulted their purged pages back in: {out} pages left out"
    );
    for (i, &p) in again.iter().enumerate() {
        check_filled(p, MIB, 0);
        // SAFETY: a live block of `MIB` bytes.
        unsafe { (p as *mut u8).write_bytes(i as u8, MIB) };
    }
    check_filled(blocks[0], MIB, 0);
    free_sized(blocks[0], MIB);
    for (i, p) in again.into_iter().enumerate() {
        check_filled(p, MIB, i as u8);
        free_sized(p, MIB);
    }
}

/// Pages of `[base, base + len)` resident now (`mincore`).
fn resident_pages(base: usize, len: usize) -> usize {
    let mut vec = vec![0u8; len.div_ceil(4 * KIB)];
    // SAFETY: a page-aligned range of this process's mappings; `vec` holds one byte per page.
    let r = unsafe { libc::mincore(base as *mut libc::c_void, len, vec.as_mut_ptr()) };
    assert_eq!(r, 0, "mincore failed");
    vec.iter().filter(|&&v| v & 1 != 0).count()
}

/// As `spread_local`, but the 5 freed blocks of each size are freed by another thread (into the
/// owner's remote queues, which the owner drains only when it runs out of blocks of that class):
/// the owner's trim drains them and purges them too. The owner frees one more block of each size
/// itself, then lets the trim epochs pass.
fn spread_remote() {
    const PER: usize = 7;
    let sizes = spread_sizes(40);
    let live_bytes: usize = sizes.iter().sum();
    let start = rss();
    let mut live = Vec::new();
    let mut remote = Vec::new();
    let mut local = Vec::new();
    for (k, &size) in sizes.iter().enumerate() {
        let blocks: Vec<usize> = (0..PER)
            .map(|i| alloc_filled(size, (k * PER + i) as u8))
            .collect();
        live.push((blocks[0], size, (k * PER) as u8));
        local.push((blocks[1], size));
        remote.extend(blocks[2..].iter().map(|&b| (b, size)));
    }
    let n_remote = remote.len();
    thread::spawn(move || {
        for (b, size) in remote {
            free_sized(b, size);
        }
    })
    .join()
    .expect("freeing thread");
    for (b, size) in local {
        free_sized(b, size);
    }
    let_epochs_pass();
    let grown = rss().saturating_sub(start);
    eprintln!(
        "rss grew by {} KiB: {} KiB live",
        grown / KIB,
        live_bytes / KIB
    );
    assert!(
        grown <= live_bytes + hoard_bound(sizes.len() * PER),
        "rss grew by {grown} bytes for {live_bytes} live: the {n_remote} blocks freed remotely stayed resident"
    );
    for (p, size, id) in live {
        check_filled(p, size, id);
        free_sized(p, size);
    }
}

/// A thread frees 5 of 6 blocks of each of 8 sizes (a hoard of about 12 MiB, freed within an
/// epoch) and exits with the others live: its spans are published for adoption, and the freed
/// blocks in them are purged at the exit instead of waiting resident for an adopter.
fn spread_exit() {
    const PER: usize = 6;
    let sizes: Vec<usize> = spread_sizes(40).into_iter().step_by(4).take(8).collect();
    let live_bytes: usize = sizes.iter().sum();
    let hoard: usize = sizes.iter().map(|s| s * (PER - 1)).sum();
    let start = rss();
    let sz = sizes.clone();
    let live = thread::spawn(move || {
        let mut live = Vec::new();
        for (k, &size) in sz.iter().enumerate() {
            let blocks: Vec<usize> = (0..PER)
                .map(|i| alloc_filled(size, (k * PER + i) as u8))
                .collect();
            for &b in &blocks[1..] {
                free_sized(b, size);
            }
            live.push((blocks[0], size, (k * PER) as u8));
        }
        live
    })
    .join()
    .expect("allocating thread");
    let grown = rss().saturating_sub(start);
    eprintln!(
        "rss grew by {} KiB: {} KiB live, {} KiB freed",
        grown / KIB,
        live_bytes / KIB,
        hoard / KIB
    );
    assert!(
        grown <= live_bytes + sizes.len() * PER * 4 * KIB + 4 * MIB,
        "rss grew by {grown} bytes for {live_bytes} live: the exited thread's {hoard} freed bytes stayed resident"
    );
    for (p, size, id) in live {
        check_filled(p, size, id);
        free_sized(p, size);
    }
}

/// A thread carves one span of 128 KiB blocks (15 to a 2 MiB span), writing only their ends, frees
/// all but one and exits: its exit purge asks the OS which pages of the span are resident once per
/// 2 MiB piece (`config::TRIM_RESIDENCY_MAP`), not once for each of the 14 free blocks, and the
/// live block keeps its contents.
fn exit_purge_queries() {
    use hakmem::fault::residency_queries;
    const SIZE: usize = 128 * KIB;
    const N: usize = 15;
    let q0 = residency_queries();
    let live = thread::spawn(|| {
        let blocks: Vec<usize> = (0..N).map(|i| alloc_block_ends(SIZE, i as u64)).collect();
        for &b in &blocks[1..] {
            free_block(b, SIZE);
        }
        blocks[0]
    })
    .join()
    .expect("allocating thread");
    let queries = residency_queries() - q0;
    eprintln!("{queries} residency queries for {} free blocks", N - 1);
    assert!(
        queries <= 4,
        "the exiting thread asked the OS {queries} times which pages of its {} free blocks (one \
         span) are resident: once per block, not once per 2 MiB piece",
        N - 1
    );
    check_ends(live, SIZE, 0);
    free_block(live, SIZE);
}

/// A thread takes two blocks of each of 8 classes of 2 MiB spans (128–240 KiB), writing their
/// ends, frees them all and exits: each class's span is its current one, empty, which the exit
/// gives to the span cache; its purge asks nothing about them (`config::EXIT_TRIM_SKIPS_EMPTY`;
/// one `mincore` per span before).
fn exit_skips_empty_spans() {
    use hakmem::fault::residency_queries;
    let sizes: Vec<usize> = (0..8).map(|k| 128 * KIB + k * 16 * KIB).collect();
    let q0 = residency_queries();
    let s0 = hakmem::stats();
    thread::spawn(move || {
        for (k, &size) in sizes.iter().enumerate() {
            let a = alloc_block_ends(size, 2 * k as u64);
            let b = alloc_block_ends(size, 2 * k as u64 + 1);
            check_ends(a, size, 2 * k as u64);
            check_ends(b, size, 2 * k as u64 + 1);
            free_block(a, size);
            free_block(b, size);
        }
    })
    .join()
    .expect("allocating thread");
    let queries = residency_queries() - q0;
    assert_eq!(
        hakmem::stats().spans_in_use,
        s0.spans_in_use,
        "the exit gave the 8 empty spans to the cache"
    );
    assert!(
        queries <= 2,
        "the exiting thread asked the OS {queries} times which pages of its 8 empty spans are \
         resident: the cache decides for those"
    );
}

/// Two classes of one span size (104 and 120 KiB blocks, 2 MiB spans): a thread carves one block
/// of each and frees them, and its exit caches both spans; the next thread asks for the classes in
/// one order, the one after in the other. Each class gets back the span it was last bound to
/// (`config::SPAN_CLASS_AFFINE`): its first block at the same address. Most recent first, whatever
/// the class, one of the two orders swaps the spans.
fn spans_return_to_their_class() {
    const A: usize = 100 * KIB;
    const B: usize = 120 * KIB;
    let on_thread = |first: usize, second: usize| {
        thread::spawn(move || {
            let p = alloc_block(first);
            let q = alloc_block(second);
            free_block(p, first);
            free_block(q, second);
            (p, q)
        })
        .join()
        .expect("allocating thread")
    };
    let (a, b) = on_thread(A, B);
    assert_ne!(a, b, "two classes, two spans");
    let (a1, b1) = on_thread(A, B);
    let (b2, a2) = on_thread(B, A);
    assert_eq!(
        (a1, b1, a2, b2),
        (a, b, a, b),
        "a class bound a cached span last bound to the other class (first blocks {a:#x} and \
         {b:#x})"
    );
}

#[test]
#[ignore = "child process entry point; run by the other tests"]
fn child() {
    let Some(name) = support::child::scenario() else {
        return;
    };
    match name.as_str() {
        "many_live_rounds" => many_live_rounds(),
        "exit_then_reuse" => exit_then_reuse(),
        "purge_collect" => purge_returns_rss(true),
        "purge_at_once" => purge_returns_rss(false),
        "spread_local" => spread_local(),
        "spread_remote" => spread_remote(),
        "spread_exit" => spread_exit(),
        "budget_local" => budget_local(),
        "budget_calloc" => budget_calloc(),
        "exit_purge_queries" => exit_purge_queries(),
        "exit_skips_empty_spans" => exit_skips_empty_spans(),
        "spans_return_to_their_class" => spans_return_to_their_class(),
        other => panic!("unknown scenario {other:?}"),
    }
}

// ---- parent side -----------------------------------------------------------------------------

#[test]
fn many_live_blocks_keep_rss_and_mappings_bounded() {
    if !MEDIUM {
        eprintln!("skipped: without `medium` 40 KB blocks are one mapping each");
        return;
    }
    support::child::run("many_live_rounds", &[]).assert_passed();
}

#[test]
fn a_cached_span_goes_back_to_the_class_it_was_last_bound_to() {
    if !MEDIUM {
        eprintln!("skipped: needs `medium`");
        return;
    }
    if !hakmem::config::SPAN_CLASS_AFFINE {
        eprintln!("skipped: built with --cfg hakmem_no_span_class_affine");
        return;
    }
    support::child::run(
        "spans_return_to_their_class",
        &[("HAKMEM_PURGE_DELAY_MS", "-1")],
    )
    .assert_passed();
}

#[test]
fn spans_of_exited_threads_serve_again() {
    if !MEDIUM || !STATS {
        eprintln!("skipped: needs `medium` and `stats`");
        return;
    }
    support::child::run("exit_then_reuse", &[]).assert_passed();
}

#[test]
fn collect_purges_empty_spans() {
    if !MEDIUM {
        eprintln!("skipped: without `medium` freed blocks are unmapped at once");
        return;
    }
    support::child::run("purge_collect", &[]).assert_passed();
}

#[test]
fn zero_purge_delay_purges_as_spans_empty() {
    if !MEDIUM {
        eprintln!("skipped: without `medium` freed blocks are unmapped at once");
        return;
    }
    support::child::run("purge_at_once", &[("HAKMEM_PURGE_DELAY_MS", "0")]).assert_passed();
}

/// Whether the free blocks of a heap's spans are trimmed (`config::MEDIUM_TRIM`), else why not.
fn trimmed() -> bool {
    if !MEDIUM {
        eprintln!("skipped: without `medium` freed blocks are unmapped at once");
    } else if !hakmem::config::MEDIUM_TRIM {
        eprintln!("skipped: built with --cfg hakmem_no_medium_trim");
    }
    MEDIUM && hakmem::config::MEDIUM_TRIM
}

#[test]
fn freed_blocks_of_many_classes_do_not_stay_resident() {
    if trimmed() {
        support::child::run("spread_local", &[("HAKMEM_PURGE_DELAY_MS", "-1")]).assert_passed();
    }
}

#[test]
fn a_heap_keeps_at_most_8_mib_of_free_medium_blocks_resident() {
    if trimmed() {
        support::child::run("budget_local", &[("HAKMEM_PURGE_DELAY_MS", "-1")]).assert_passed();
    }
}

#[test]
fn calloc_of_a_trimmed_block_leaves_its_purged_pages_out() {
    if trimmed() && clears_by_residency() {
        support::child::run("budget_calloc", &[("HAKMEM_PURGE_DELAY_MS", "-1")]).assert_passed();
    }
}

/// Whether `alloc_zeroed` of a reused medium block clears it by residency
/// (`config::MEDIUM_CLEAR_RESIDENT`), else why not.
fn clears_by_residency() -> bool {
    if !hakmem::config::MEDIUM_CLEAR_RESIDENT {
        eprintln!("skipped: built with --cfg hakmem_no_medium_clear_resident");
    }
    hakmem::config::MEDIUM_CLEAR_RESIDENT
}

/// A 1 MiB block (another live in its span) of which the program wrote two pages (the first and the middle one), freed and
/// `calloc`ed again (the same block, off the free list): `alloc_zeroed` clears the two resident
/// pages by hand and leaves the other 254 out of memory (`config::MEDIUM_CLEAR_RESIDENT`,
/// `mincore` before anything reads them); every byte reads as zero. Session 20 (calloc20): before,
/// the block was cleared whole, faulting all 256 pages in (the test saw 256 resident), which made
/// a `calloc` churn (scripts/robustness/sigstorm.c) run at 8.3 s system time, 0.1 s after.
#[test]
fn calloc_of_a_reused_block_leaves_its_untouched_pages_out() {
    if !MEDIUM {
        eprintln!("skipped: without `medium` 1 MiB is a large block");
        return;
    }
    if !clears_by_residency() {
        return;
    }
    let layout = std::alloc::Layout::from_size_align(MIB, 16).expect("layout");
    // A live block beside it, so that its span does not empty (and get purged whole).
    // SAFETY: non-zero sizes.
    let (keep, p) = unsafe { (std::alloc::alloc(layout), std::alloc::alloc(layout)) };
    assert!(!keep.is_null() && !p.is_null());
    // SAFETY: a live block of `MIB` bytes.
    unsafe {
        p.write(1);
        p.add(MIB / 2).write(2);
        std::alloc::dealloc(p, layout);
    }
    // SAFETY: a non-zero size.
    let q = unsafe { std::alloc::alloc_zeroed(layout) };
    assert_eq!(q, p, "the freed block did not serve again");
    let resident = resident_pages(q as usize, MIB);
    // THP `always`: the kernel may back the span's first fault with a huge page, all of it
    // resident whatever calloc does (as tests/purge.rs's residency checks).
    assert!(
        resident <= 4 || thp_always(),
        "calloc of a reused block faulted its untouched pages in: {resident} of 256 resident"
    );
    check_filled(q as usize, MIB, 0);
    // SAFETY: the live blocks.
    unsafe {
        std::alloc::dealloc(q, layout);
        std::alloc::dealloc(keep, layout);
    }
}

#[test]
fn blocks_freed_by_other_threads_are_trimmed_too() {
    if trimmed() {
        support::child::run("spread_remote", &[("HAKMEM_PURGE_DELAY_MS", "-1")]).assert_passed();
    }
}

#[test]
fn an_exiting_thread_purges_the_free_blocks_of_the_spans_it_publishes() {
    if trimmed() && cfg!(feature = "adopt") {
        support::child::run("spread_exit", &[("HAKMEM_PURGE_DELAY_MS", "-1")]).assert_passed();
    }
}

#[test]
fn an_exiting_thread_asks_residency_once_per_span_piece() {
    if !trimmed() || !cfg!(feature = "adopt") {
        return;
    }
    if !hakmem::config::TRIM_RESIDENCY_MAP {
        eprintln!("skipped: built with --cfg hakmem_no_trim_residency_map");
        return;
    }
    support::child::run("exit_purge_queries", &[("HAKMEM_PURGE_DELAY_MS", "-1")]).assert_passed();
}

#[test]
fn an_exiting_thread_does_not_ask_about_its_empty_spans() {
    if !trimmed() {
        return;
    }
    if !hakmem::config::EXIT_TRIM_SKIPS_EMPTY {
        eprintln!("skipped: built with --cfg hakmem_no_exit_trim_skips_empty");
        return;
    }
    support::child::run("exit_skips_empty_spans", &[("HAKMEM_PURGE_DELAY_MS", "-1")])
        .assert_passed();
}

/// Every medium size class, random sizes, a live set of 64 replaced in random order; each block's
/// contents are checked when it is freed.
#[test]
fn churn_keeps_contents_across_all_classes() {
    arm_watchdog("medium", 120);
    let mut rng = Rng::new(11, 0);
    let mut live: Vec<TestBlock> = Vec::new();
    for id in 0..1500u64 {
        let size = match rng.below(4) {
            0 => 32 * KIB + 1 + rng.below(32 * KIB),
            1 => 64 * KIB + rng.below(192 * KIB),
            2 => 256 * KIB + rng.below(768 * KIB),
            _ => MIB + rng.below(3 * MIB + 1),
        };
        let align = [16, 64, 4096][rng.below(3)];
        live.push(TestBlock::new(size, align, id));
        if live.len() > 64 {
            let victim = rng.below(live.len());
            drop(live.swap_remove(victim));
        }
    }
    for b in &live {
        b.verify("at the end");
    }
}

/// Blocks allocated on several threads are verified and freed on others while their owners keep
/// allocating (remote frees into live spans), then the owners free what came back to them.
#[test]
fn cross_thread_frees_keep_contents() {
    arm_watchdog("medium", 120);
    let (tx, rx) = std::sync::mpsc::sync_channel::<TestBlock>(64);
    let producers: Vec<_> = (0..2u64)
        .map(|t| {
            let tx = tx.clone();
            thread::spawn(move || {
                let mut rng = Rng::new(100 + t, t);
                let mut mine = Vec::new();
                for i in 0..400u64 {
                    let size = 32 * KIB + 1 + rng.below(600 * KIB);
                    let b = TestBlock::new(size, 16, t << 32 | i);
                    if i % 2 == 0 {
                        tx.send(b).expect("consumer alive");
                    } else {
                        mine.push(b);
                        if mine.len() > 16 {
                            drop(mine.remove(0));
                        }
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let consumer = thread::spawn(move || {
        let mut n = 0;
        while let Ok(b) = rx.recv_timeout(std::time::Duration::from_secs(60)) {
            b.verify("after crossing threads");
            drop(b);
            n += 1;
        }
        n
    });
    for p in producers {
        p.join().expect("producer");
    }
    assert_eq!(consumer.join().expect("consumer"), 400);
}

/// `realloc` through small → medium → large → medium → small keeps the prefix every time; within
/// a medium class the block stays where it is.
#[test]
fn realloc_across_boundaries() {
    let chain = [
        100,
        32 * KIB,
        32 * KIB + 1,
        40 * KIB,
        36 * KIB + 1,
        MIB,
        4 * MIB,
        4 * MIB + 1,
        6 * MIB,
        3 * MIB,
        40_000,
        100,
    ];
    let mut b = TestBlock::new(chain[0], 16, 7);
    for &size in &chain[1..] {
        b.resize(size);
    }
    // In place inside a class: 40 KiB and 36 KiB + 1 share the 40 KiB class.
    let mut b = TestBlock::new(40 * KIB, 16, 8);
    let at = b.addr();
    b.resize(36 * KIB + 1);
    if MEDIUM {
        assert_eq!(b.addr(), at, "shrinking within the class moved the block");
    }
    b.resize(40 * KIB);
    if MEDIUM {
        assert_eq!(b.addr(), at, "growing within the class moved the block");
    }
}

/// A buffer grown in small steps through the medium sizes moves about once per doubling (each
/// move goes to the next rung of a ladder of one size per doubling,
/// `front::alloc::grown_size`), not at each of the 8 class boundaries per doubling; its
/// contents survive every move.
#[test]
fn small_step_growth_moves_rarely() {
    let mut b = TestBlock::new(33 * KIB, 16, 9);
    let mut moves = 0;
    let mut size = 33 * KIB;
    while size < 1056 * KIB {
        size += 4000;
        let at = b.addr();
        b.resize(size);
        moves += usize::from(b.addr() != at);
    }
    // 33 KiB -> 1 MiB is five doublings: 8 class boundaries each without the growth step.
    if MEDIUM {
        assert!(moves <= 12, "{moves} moves for five doublings");
    }
}

/// Alignments up to a page come from spans; larger ones from the large path; all are honoured.
#[test]
fn medium_alignment() {
    for align in [16, 32, 256, 4096, 8192, 65536] {
        for size in [32 * KIB + 1, 100 * KIB, MIB + 17] {
            let b = TestBlock::new(size, align, (align + size) as u64);
            assert_eq!(b.addr() % align, 0);
        }
    }
}
