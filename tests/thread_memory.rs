//! Memory per thread: what a new thread's heap makes resident (`config::LAZY_TABLE`,
//! `config::COLD_FIRST`, docs/benchmarks.md, "Session 22: thread22"). A heap is 47 KiB (12-13
//! pages), 32 KiB of it the owned-slab table; writing every table entry when the heap was made
//! left all of it resident in every thread, so 2,000 threads that each did one malloc cost 60 KiB
//! of RSS a thread (glibc: 9, jemalloc 22.5). Two checks:
//! - `idle_heap_pages`: a thread that did one small allocation (and one that used 8 classes)
//!   has at most `MAX_IDLE_PAGES` of its heap's pages resident (`testing::heap_residency`,
//!   `mincore`);
//! - `many_threads_rss`: `THREADS` threads alive at once, each holding one small block, add at
//!   most `MAX_HEAP_KIB_PER_THREAD` KiB of RSS each over as many threads that never allocate
//!   (their stacks and glibc's per-thread state), in release builds;
//! - `recycled_heaps_rss` (`config::RECYCLE_PURGE`, docs/benchmarks.md, "Session 23: mem23"):
//!   `ROUNDS` rounds of `THREADS` threads, each holding blocks of 4 classes at once and exiting:
//!   after the first round, RSS grows by at most `MAX_ROUND_GROWTH_KIB` KiB per thread a round
//!   (their heaps are recycled; each kept the owned-table pages of every earlier thread's slabs).
//!
//! Without the test harness (`harness = false`): the checks run one after the other in the
//! main thread, and no harness thread's heap or stack is counted; the RSS runs are child
//! processes of this binary (`rss alloc`, `rss none`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

use hakmem::config::LAZY_TABLE;
use hakmem::testing;

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

/// Resident heap pages allowed to a thread that used a few classes: the TLS lists, a page of
/// the owned-slab table, the tail (slab lists, hint cache, counters, owner) and the pages the
/// heap shares with its neighbours. Every page (12-13) without `LAZY_TABLE`.
const MAX_IDLE_PAGES: usize = 8;

const THREADS: usize = 1000;
/// KiB of RSS a live thread's heap adds, over a thread that never allocates (release builds):
/// 24 measured with `LAZY_TABLE` and `COLD_FIRST`, 27 with `LAZY_TABLE` alone, 51 with neither
/// (docs/benchmarks.md, "Session 22: thread22").
const MAX_HEAP_KIB_PER_THREAD: usize = 36;
/// Rounds of `THREADS` threads in `recycled_heaps_rss`, and the RSS growth allowed per thread
/// and round after the first (release builds, KiB): measured ~0.1 with `RECYCLE_PURGE`, ~2.5-3
/// without (3,000 threads in C, docs/benchmarks.md, "Session 23: mem23").
const ROUNDS: usize = 4;
const MAX_ROUND_GROWTH_KIB: f64 = 1.0;

/// Whether the kernel backs anonymous memory with transparent huge pages unasked (`[always]`):
/// a heap's first write may then fault in a whole huge page, and neither page count means what
/// the checks assume. They are reported, not asserted, there.
fn thp_always() -> bool {
    std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
        .is_ok_and(|s| s.contains("[always]"))
}

fn rss_kib() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: usize = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4
}

/// Allocates and frees one block of each of `sizes`, then keeps one of 16 bytes.
fn use_classes(sizes: &[usize]) -> Box<[u8; 16]> {
    for &n in sizes {
        std::hint::black_box(vec![1u8; n]);
    }
    std::hint::black_box(Box::new([1u8; 16]))
}

fn idle_heap_pages() {
    let barrier = Arc::new(Barrier::new(2));
    let spawn = |sizes: &'static [usize]| {
        let b = barrier.clone();
        std::thread::spawn(move || {
            let keep = use_classes(sizes);
            let r = testing::heap_residency().expect("a live heap");
            // Both threads measure before either exits: neither takes a pooled heap.
            b.wait();
            drop(keep);
            r
        })
    };
    let one = spawn(&[16]);
    let eight = spawn(&[16, 48, 80, 112, 144, 176, 208, 240]);
    for (name, t) in [("one class", one), ("eight classes", eight)] {
        let (addr, size, pages, mask) = t.join().unwrap();
        let resident = mask.count_ones() as usize;
        eprintln!(
            "{name}: heap {addr:#x}, {size} bytes over {pages} pages, {resident} resident \
             (pages {mask:#b}, bit 0 the first)"
        );
        if LAZY_TABLE && !thp_always() {
            assert!(
                resident <= MAX_IDLE_PAGES,
                "{name}: {resident} of the heap's {pages} pages resident (at most \
                 {MAX_IDLE_PAGES} expected: config::LAZY_TABLE leaves the unused table untouched)"
            );
        }
    }
}

/// Whether the threads of `rss_per_thread` allocate.
static ALLOC: AtomicBool = AtomicBool::new(false);

/// A thread of `rss_per_thread`, started with `pthread_create` (a `std::thread` allocates in the
/// new thread too: its thread-local destructor list): allocates one small block when `ALLOC`
/// says so, waits at the barrier `arg` twice, frees the block.
extern "C" fn rss_thread(arg: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: `arg` is the leaked barrier of `rss_per_thread`.
    let b = unsafe { &*arg.cast::<Barrier>() };
    let keep = ALLOC.load(Ordering::Relaxed).then(|| use_classes(&[16]));
    b.wait();
    b.wait();
    drop(keep);
    core::ptr::null_mut()
}

/// A thread of `recycled_heaps_rss`: blocks of 4 classes picked by `arg`'s low bits (the thread's
/// number), held until all threads have allocated (the barrier, leaked, is in `ROUND_BARRIER`).
extern "C" fn round_thread(arg: *mut libc::c_void) -> *mut libc::c_void {
    let mut x = (arg as usize as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let keep: Vec<Vec<u8>> = (0..4)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            vec![1u8; 16 + (x % 4000) as usize]
        })
        .collect();
    // ORDERING: Acquire — pairs with the Release store of the leaked barrier before the threads
    // were created (thread creation orders it anyway).
    let b = ROUND_BARRIER.load(Ordering::Acquire);
    // SAFETY: leaked, never freed.
    unsafe { (*b).wait() };
    drop(std::hint::black_box(keep));
    core::ptr::null_mut()
}

static ROUND_BARRIER: std::sync::atomic::AtomicPtr<Barrier> =
    std::sync::atomic::AtomicPtr::new(core::ptr::null_mut());

/// `ROUNDS` rounds of `THREADS` raw threads (64 KiB stacks) alive at once (`round_thread`), all
/// joined after each: the RSS after each round, KiB. Run in a child process.
fn rss_after_rounds() -> Vec<usize> {
    let barrier: &'static Barrier = Box::leak(Box::new(Barrier::new(THREADS)));
    // ORDERING: Release — see `round_thread`.
    ROUND_BARRIER.store(barrier as *const Barrier as *mut Barrier, Ordering::Release);
    // SAFETY: a plain attribute object, initialised before use and destroyed after.
    let mut attr: libc::pthread_attr_t = unsafe { core::mem::zeroed() };
    // SAFETY: as above.
    unsafe {
        assert_eq!(libc::pthread_attr_init(&mut attr), 0);
        assert_eq!(libc::pthread_attr_setstacksize(&mut attr, 64 << 10), 0);
    }
    let mut threads = vec![0 as libc::pthread_t; THREADS];
    let mut rss = Vec::new();
    for round in 0..ROUNDS {
        for (i, t) in threads.iter_mut().enumerate() {
            let arg = (round * THREADS + i) as *mut libc::c_void;
            // SAFETY: a C entry point that takes a number.
            let rc = unsafe { libc::pthread_create(t, &attr, round_thread, arg) };
            assert_eq!(rc, 0, "pthread_create");
        }
        for &t in &threads {
            // SAFETY: a joinable thread created above, joined once.
            assert_eq!(unsafe { libc::pthread_join(t, core::ptr::null_mut()) }, 0);
        }
        rss.push(rss_kib());
    }
    // SAFETY: initialised above, no longer used.
    unsafe { libc::pthread_attr_destroy(&mut attr) };
    rss
}

/// `rss_after_rounds` in a child process: after the first round (the heaps made), recycled heaps
/// grow RSS by at most `MAX_ROUND_GROWTH_KIB` per thread a round.
fn recycled_heaps_rss() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("rounds")
        .output()
        .expect("run the child");
    assert!(out.status.success(), "child rounds: {out:?}");
    let rss: Vec<usize> = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    let growth = (rss[ROUNDS - 1] as f64 - rss[0] as f64) / THREADS as f64 / (ROUNDS - 1) as f64;
    eprintln!(
        "{ROUNDS} rounds of {THREADS} threads: RSS after each {rss:?} KiB, {growth:.2} KiB per \
         thread a round after the first"
    );
    if hakmem::config::RECYCLE_PURGE && !cfg!(debug_assertions) && !thp_always() {
        assert!(
            growth <= MAX_ROUND_GROWTH_KIB,
            "recycled heaps: RSS grew {growth:.2} KiB per thread a round after the first (at most \
             {MAX_ROUND_GROWTH_KIB} expected): {rss:?} KiB"
        );
    }
}

/// `THREADS` threads alive at once (stacks of 64 KiB), each allocating one small block when
/// `alloc` (and nothing otherwise: it never gets a heap): the RSS they add, in bytes per thread.
/// Run in a child process of its own (`main`), so that glibc's cache of the stacks of exited
/// threads, resident already, does not lower the second measurement.
fn rss_per_thread(alloc: bool) -> usize {
    ALLOC.store(alloc, Ordering::Relaxed);
    let barrier: &'static Barrier = Box::leak(Box::new(Barrier::new(THREADS + 1)));
    let mut threads = vec![0 as libc::pthread_t; THREADS];
    // SAFETY: a plain attribute object, initialised before use and destroyed after.
    let mut attr: libc::pthread_attr_t = unsafe { core::mem::zeroed() };
    // SAFETY: as above.
    unsafe {
        assert_eq!(libc::pthread_attr_init(&mut attr), 0);
        assert_eq!(libc::pthread_attr_setstacksize(&mut attr, 64 << 10), 0);
    }
    let before = rss_kib();
    for t in &mut threads {
        let arg = barrier as *const Barrier as *mut libc::c_void;
        // SAFETY: a C entry point that takes the barrier, which outlives the thread (leaked).
        let rc = unsafe { libc::pthread_create(t, &attr, rss_thread, arg) };
        assert_eq!(rc, 0, "pthread_create");
    }
    barrier.wait();
    let during = rss_kib();
    barrier.wait();
    for &t in &threads {
        // SAFETY: a joinable thread created above, joined once.
        assert_eq!(unsafe { libc::pthread_join(t, core::ptr::null_mut()) }, 0);
    }
    // SAFETY: initialised above, no longer used.
    unsafe { libc::pthread_attr_destroy(&mut attr) };
    (during - before) * 1024 / THREADS
}

/// The RSS a live thread's heap costs: `rss_per_thread` with and without an allocation, each in
/// a child process.
fn many_threads_rss() {
    let measure = |mode: &str| -> usize {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["rss", mode])
            .output()
            .expect("run the child");
        assert!(out.status.success(), "child {mode}: {out:?}");
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let with = measure("alloc");
    let without = measure("none");
    let heap = with.saturating_sub(without) / 1024;
    eprintln!(
        "{THREADS} threads: {} KiB of RSS a thread that allocated, {} KiB one that did not: \
         {heap} KiB a heap",
        with / 1024,
        without / 1024
    );
    // Release builds only: a debug build's new thread writes about 20 KiB more (its `checked`
    // carve), which says nothing about the heap's layout (the page check above covers it).
    if LAZY_TABLE && !cfg!(debug_assertions) && !thp_always() {
        assert!(
            heap <= MAX_HEAP_KIB_PER_THREAD,
            "{heap} KiB of RSS per live thread's heap (at most {MAX_HEAP_KIB_PER_THREAD} expected)"
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 && args[1] == "rss" {
        println!("{}", rss_per_thread(args[2] == "alloc"));
        return;
    }
    if args.len() == 2 && args[1] == "rounds" {
        let rss = rss_after_rounds();
        println!(
            "{}",
            rss.iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
        return;
    }
    if thp_always() {
        eprintln!(
            "\n!!! transparent huge pages are `always` here: thread_memory reports its numbers \
             but does NOT assert them !!!\n"
        );
    }
    idle_heap_pages();
    many_threads_rss();
    recycled_heaps_rss();
    eprintln!("thread_memory: ok");
}
