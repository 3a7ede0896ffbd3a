//! Memory goes back to the OS on the purge clock, and an OS that refuses to unmap loses nothing.
//!
//! Each scenario runs in a child process (tests/support/child.rs), alone, with the environment it names.
//! RSS is read from `/proc/self/statm`, the number of mappings from `/proc/self/maps`.
//!
//! | scenario | claim |
//! |---|---|
//! | `after_delay` | free everything, wait the purge delay, let the program go on (a few allocations): RSS is back within 10% of its start |
//! | `after_collect` | free everything, `collect()`: RSS back within 10% at once, the large cache empty |
//! | `idle_background` | `HAKMEM_BACKGROUND=1`: free everything and stay idle: the purger brings RSS back within 10% (polled, bounded) |
//! | `munmap_refused` | every `munmap` refused (fault injection) for 5 rounds of allocate/touch/free/collect: RSS and the mapping count stay at round 1's, blocks are reused, failures counted and reported once; once the OS accepts again, `collect()` unmaps them |
//! | `tails` | a cached large mapping reused by many sizes, each touching its own last page: the pages its users touched do not pile up (delay -1, so only `LARGE_PURGE_USERS` purges them) |
//! | `live_spans` | the main thread (alive) frees every medium block, waits the delay (clock advanced), then allocates a medium block of a new class: its emptied current spans are purged too |
//! | `idle_main` | `HAKMEM_BACKGROUND=1`: the main thread frees its own medium blocks and stays idle: the purger brings RSS back (the emptied current spans included) |
//! | `live_small` | the main thread (alive) frees its small blocks newest first, so the current slab of each class empties while current; after the delay (clock advanced) and a small block of a new class, those slabs are purged (`mincore`) |
//! | `idle_small` | `HAKMEM_BACKGROUND=1`: the same, the main thread then idle: the purger purges them |
//! | `same_class` | a free slab goes back to the class it last served (`HAKMEM_PURGE_DELAY_MS=-1`, so both stay dirty): a thread empties a slab of each of two classes and exits, a second asks for the second class and gets that class's slab, not the lower one |
//! | `thp` | `HAKMEM_THP=1`: a SuperSlab is all resident from its first block on (one huge page), and a slab purged out of it leaves RSS (the split is accounted); without the switch only the touched pages are resident |
//! | `growth` | `config::THP_GROWTH`: a heap growing sparsely (16 KiB blocks, one page of each written) stays on base pages; one growing densely (64-byte blocks) gets its fifth new SuperSlab as one huge page from its first block on (`mincore`: 512 of 512); with `--cfg hakmem_no_thp_growth`, base pages |
//! | `growth_recount` | `config::THP_GROWTH_RECOUNT`: a SuperSlab that filled sparse (16 KiB blocks, one page of each written), all its blocks written since, and the next filling densely (64-byte blocks) make the streak: the sixth new SuperSlab is one huge page from its first block on; with `--cfg hakmem_no_thp_growth_recount`, base pages |
//! | `carve_page` | `config::CARVE_PAGE`: one 1280-byte block, the first of its class, leaves one page of its fresh slab resident (the refill carved 4 blocks, 4 KiB at most); with `--cfg hakmem_no_carve_page`, 8 (a 32 KiB batch) |
//! | `span_growth` | `config::SPAN_THP_GROWTH`: a medium heap growing sparsely (64 KiB blocks, one page of each written) keeps its new spans on base pages; one growing densely (40 KiB blocks, every page written) gets its fifth new span as one huge page from its first block on (`mincore`: 512 of 512); with `--cfg hakmem_no_span_thp_growth`, base pages |
//! | `phases` | `config::DIRTY_BUDGET_AFTER_EXIT`: one live thread builds 48 MiB of 1 KiB blocks, frees them and builds them again, three times, with the delay at 10 minutes: RSS keeps the whole phase (no budget sweep without a thread exit); with `--cfg hakmem_no_dirty_budget_after_exit` about a third |
//! | `thread_rounds` | `config::DIRTY_BUDGET`: three rounds of 32 threads, each writing 16 KiB or more in slabs of 64 small classes, then freeing it all and exiting, with the delay at 10 minutes: after each round RSS keeps at most a third of the round's growth (the slabs the exits left dirty pass the budget and are purged before the delay); with `--cfg hakmem_no_dirty_budget` all of it stays |
//! | `never` | `HAKMEM_PURGE_DELAY_MS=-1`: waiting purges nothing (the cache keeps its blocks); `collect()` still does |

#![cfg(unix)]

mod support;

use std::alloc::{alloc, dealloc, Layout};
use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use hakmem::HakMem;
use support::child;
use support::thp::{collapse_alloc_failures, resident_pages, thp_always, thp_available, SUPERSLAB};
use support::{KIB, MIB};

#[global_allocator]
static GLOBAL: HakMem = HakMem;

const STATS: bool = cfg!(feature = "stats");

/// Resident set size of this process, bytes.
fn rss() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: usize = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Mappings of this process.
fn maps() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .expect("maps")
        .lines()
        .count()
}

struct Blk(*mut u8, Layout);

impl Blk {
    /// Allocates `size` bytes and writes one byte per page (all of it resident).
    fn new(size: usize) -> Blk {
        let l = Layout::from_size_align(size, 16).unwrap();
        // SAFETY: non-zero size.
        let p = unsafe { alloc(l) };
        assert!(!p.is_null(), "alloc({size}) failed");
        for off in (0..size).step_by(4096).chain([size - 1]) {
            // SAFETY: inside the fresh block.
            unsafe { p.add(off).write(off as u8 ^ 0xA5) };
        }
        Blk(black_box(p), l)
    }

    fn check(&self) {
        for off in (0..self.1.size()).step_by(4096).chain([self.1.size() - 1]) {
            // SAFETY: inside the live block, written by `new`.
            assert_eq!(unsafe { self.0.add(off).read() }, off as u8 ^ 0xA5);
        }
    }
}

impl Drop for Blk {
    fn drop(&mut self) {
        self.check();
        // SAFETY: allocated with this layout, freed once.
        unsafe { dealloc(self.0, self.1) };
    }
}

/// Sizes spread over the tiers: small (16 B–8 KiB); 40 KiB–1 MiB and 6–12 MiB.
/// Small and medium sizes (the blocks a thread keeps in its own heap).
fn small_sizes() -> Vec<usize> {
    sizes_of(true)
}

fn big_sizes() -> Vec<usize> {
    sizes_of(false)
}

fn sizes_of(small: bool) -> Vec<usize> {
    let mut v = Vec::new();
    let mut x = 0x9E37_79B9u64;
    let mut next = |n: usize| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as usize % n
    };
    if small {
        for _ in 0..3000 {
            v.push(16 << next(10));
        }
        for _ in 0..120 {
            v.push(40 * KIB + next(MIB - 40 * KIB));
        }
    } else {
        for _ in 0..6 {
            v.push(6 * MIB + next(6 * MIB));
        }
    }
    v
}

/// The workload once, then everything given back with `collect()`: the state of a program after
/// its start-up (thread stacks cached by libc, thread heaps, registry leaves), before the round
/// the scenarios measure.
fn warm_up() -> usize {
    allocate_and_free_everything();
    hakmem::collect();
    rss()
}

fn shuffled(mut v: Vec<Blk>) -> Vec<Blk> {
    let n = v.len();
    for i in 0..n {
        v.swap(i, (i * 7919) % n);
    }
    v
}

/// Allocates about 90 MiB over the three tiers (every page touched) and frees it all in a
/// shuffled order; returns the peak RSS seen. The small and medium blocks live on a worker thread
/// that then exits: a live thread's own small-block caches (TLS lists, the slabs it holds) stay
/// with it until its next slow path or `collect()`, as in every allocator with thread caches; an
/// exited thread's slabs and spans go back to the pool and the span cache and are purged on the
/// clock. (A live thread's emptied spans are on the clock too: `live_spans`, `idle_main`.)
fn allocate_and_free_everything() -> usize {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (peak_tx, peak_rx) = std::sync::mpsc::channel::<()>();
    let worker = thread::spawn(move || {
        let small: Vec<Blk> = small_sizes().into_iter().map(Blk::new).collect();
        peak_tx.send(()).unwrap();
        rx.recv().unwrap();
        drop(shuffled(small));
    });
    peak_rx.recv().unwrap();
    let big: Vec<Blk> = big_sizes().into_iter().map(Blk::new).collect();
    let peak = rss();
    tx.send(()).unwrap();
    worker.join().unwrap();
    drop(shuffled(big));
    peak
}

/// A large block with only its ends touched: a slow path that costs no RSS of its own.
fn touch_ends(size: usize) {
    let l = Layout::from_size_align(size, 16).unwrap();
    // SAFETY: non-zero size; the two writes are inside the block; freed once.
    unsafe {
        let p = black_box(alloc(l));
        assert!(!p.is_null());
        p.write(1);
        p.add(size - 1).write(2);
        dealloc(p, l);
    }
}

fn assert_back(start: usize, now: usize, peak: usize, what: &str) {
    let within = start + start / 10;
    assert!(
        now <= within,
        "{what}: RSS {} KiB is not back within 10% of its start {} KiB (peak {} KiB)\n{}",
        now / KIB,
        start / KIB,
        peak / KIB,
        hakmem::stats()
    );
}

/// Waits the purge delay, then the program goes on: a small, a medium and a large allocation,
/// slow paths (a slab from the pool, a span, the large cache) that sweep what is due.
fn after_delay() {
    let start = warm_up();
    let peak = allocate_and_free_everything();
    assert!(peak > start + 50 * MIB, "the workload did not grow RSS");
    thread::sleep(Duration::from_millis(150));
    // A class not used before: its first block needs a slab from the pool.
    drop(Blk::new(700));
    touch_ends(100 * KIB);
    touch_ends(5 * MIB);
    assert_back(start, rss(), peak, "after the purge delay");
}

fn after_collect() {
    let start = warm_up();
    let peak = allocate_and_free_everything();
    hakmem::collect();
    assert_back(start, rss(), peak, "after collect()");
    if STATS {
        assert_eq!(
            hakmem::stats().cached_bytes,
            0,
            "collect() empties the large cache"
        );
        assert!(hakmem::stats().purged_bytes > 0);
    }
}

/// The main thread frees everything and then only sleeps; the purger must do the rest.
fn idle_background() {
    let start = warm_up();
    assert!(
        hakmem::testing::background_running(),
        "HAKMEM_BACKGROUND=1 starts the purger"
    );
    let peak = allocate_and_free_everything();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut now = rss();
    while now > start + start / 10 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
        now = rss();
    }
    assert_back(start, now, peak, "idle with the background purger");
}

/// One cached mapping (sizes of one cache class, freed before the next is allocated, so the cache
/// hands the same mapping back each time) used by 3 · `LARGE_PURGE_USERS` sizes, each touching
/// its first and last byte: without the purge every user's last page stays resident.
fn tails() {
    use hakmem::config::LARGE_PURGE_USERS;
    let users = 3 * LARGE_PURGE_USERS.max(8);
    // One page apart, so that every user's last page is its own and all stay in the 7 MiB class.
    assert!(
        6 * MIB + 64 * KIB + users * 4 * KIB <= 7 * MIB - 4 * KIB,
        "{users} users do not fit one cache class"
    );
    let mut base = None;
    for i in 0..users {
        let size = 6 * MIB + 64 * KIB + i * 4 * KIB;
        let l = Layout::from_size_align(size, 16).unwrap();
        // SAFETY: non-zero size; the writes are inside the block; freed once.
        let p = unsafe {
            let p = black_box(alloc(l));
            assert!(!p.is_null());
            p.write(1);
            p.add(size - 1).write(2);
            p
        };
        let b = (p as usize & !4095) - 4096;
        assert!(
            base.is_none_or(|x| x == b),
            "user {i}: a different mapping ({b:#x}, not {base:x?}): the cache did not reuse"
        );
        base = Some(b);
        // SAFETY: allocated above with this layout.
        unsafe { dealloc(p, l) };
    }
    // The mapping is 7 MiB (its cache class), from the header page on.
    let resident = resident_pages(base.unwrap(), 7 * MIB);
    let bound = LARGE_PURGE_USERS + 2;
    if LARGE_PURGE_USERS > 0 {
        assert!(
            resident <= bound,
            "{resident} pages of the cached mapping resident after {users} users, at most \
             {bound} expected (each user's touched pages are purged every {LARGE_PURGE_USERS} users)"
        );
    }
}

/// Medium sizes, one class each, a few blocks of each (so each class has a current span): the
/// blocks the main thread's heap keeps no list of (unlike small ones, in its TLS lists).
const MEDIUM_SIZES: [usize; 6] = [
    40 * KIB,
    100 * KIB,
    300 * KIB,
    900 * KIB,
    2 * MIB,
    3 * MIB + 512 * KIB,
];

/// Allocates 5 blocks of each `MEDIUM_SIZES` on this thread (every page touched), frees them;
/// returns the peak RSS.
fn medium_on_this_thread() -> usize {
    let live: Vec<Blk> = MEDIUM_SIZES
        .iter()
        .flat_map(|&s| std::iter::repeat_n(s, 5))
        .map(Blk::new)
        .collect();
    let peak = rss();
    drop(shuffled(live));
    peak
}

/// `medium_on_this_thread` once, then everything given back with `collect()` (as `warm_up`).
fn warm_up_medium() -> usize {
    medium_on_this_thread();
    hakmem::collect();
    rss()
}

fn live_spans() {
    let start = warm_up_medium();
    let peak = medium_on_this_thread();
    assert!(peak > start + 30 * MIB, "the blocks did not grow RSS");
    hakmem::testing::advance_purge_clock(10_000);
    // A medium class not used before: its first block needs a span (the medium slow path).
    touch_ends(600 * KIB);
    assert_back(start, rss(), peak, "live thread, after the purge delay");
}

fn idle_main() {
    let start = warm_up_medium();
    assert!(hakmem::testing::background_running());
    let peak = medium_on_this_thread();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut now = rss();
    while now > start + start / 10 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
        now = rss();
    }
    assert_back(
        start,
        now,
        peak,
        "idle main thread with the background purger",
    );
}

/// Small sizes, one class each (in both modes), whose current slabs the main thread empties.
const SMALL_SIZES: [usize; 3] = [2 * KIB, 4 * KIB, 8 * KIB];
/// A slab's size and alignment (`config::SLAB_SIZE`).
const SLAB: usize = 64 * KIB;

/// Allocates twelve full slabs of blocks of each `SMALL_SIZES` on this thread (every page
/// touched) and frees them newest first: the current slab's blocks are freed first, so the TLS
/// list's first spills return them and that slab empties while it is still the current one (the
/// TLS list keeps the oldest slab's blocks). Twelve, not six: with 128 KiB TLS lists
/// (`config::WIDE_TLS_LISTS`) six left the 8 KiB class's current slab on the list. Full slabs
/// by the class's block size, not `12 * SLAB / size` blocks: in header mode a class holds fewer
/// blocks than `SLAB / size` (its block holds the header too), and that count left the
/// last slab a third full ("the current slabs were not resident: 28 pages", the feature matrix's
/// `medium` row). Returns the base of each class's current slab (the slab of its last block)
/// and the pages of those slabs resident after the frees.
fn empty_current_small_slabs() -> (Vec<usize>, usize) {
    let mut bases = Vec::with_capacity(SMALL_SIZES.len());
    for &size in &SMALL_SIZES {
        let first = Blk::new(size);
        let block = hakmem::testing::block_info(first.0)
            .expect("a small block")
            .class_size;
        let mut live = vec![first];
        live.extend((1..12 * (SLAB / block)).map(|_| Blk::new(size)));
        bases.push(live.last().expect("blocks").0 as usize & !(SLAB - 1));
        for b in live.into_iter().rev() {
            drop(b);
        }
    }
    let resident = bases.iter().map(|&b| resident_pages(b, SLAB)).sum();
    (bases, resident)
}

/// Pages of the slabs at `bases` resident now.
fn resident_in(bases: &[usize]) -> usize {
    bases.iter().map(|&b| resident_pages(b, SLAB)).sum()
}

fn live_small() {
    let (bases, before) = empty_current_small_slabs();
    assert!(
        before >= bases.len() * 12,
        "the current slabs were not resident: {before} pages"
    );
    hakmem::testing::advance_purge_clock(10_000);
    // A small class not used before: its first block binds a slab (the small slow path). It may
    // reuse one of the purged slabs and touch two of its pages.
    touch_ends(30 * KIB);
    let after = resident_in(&bases);
    assert!(
        after <= 4,
        "live thread's emptied current slabs after the purge delay: {after} of {before} pages \
         still resident\n{}",
        hakmem::stats()
    );
}

fn idle_small() {
    assert!(hakmem::testing::background_running());
    let (bases, before) = empty_current_small_slabs();
    assert!(before >= bases.len() * 12, "{before} pages resident");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut after = resident_in(&bases);
    while after > 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
        after = resident_in(&bases);
    }
    assert_eq!(
        after,
        0,
        "idle main thread's emptied current slabs with the background purger: {after} of \
         {before} pages still resident\n{}",
        hakmem::stats()
    );
}

/// The bases of the slabs that served a block of each of `sizes`, allocated in that order on a
/// new thread, which then frees them and exits: the slabs go back to the pool, empty and dirty.
fn slabs_on_a_thread(sizes: &'static [usize]) -> Vec<usize> {
    thread::spawn(move || {
        let live: Vec<Blk> = sizes.iter().map(|&s| Blk::new(s)).collect();
        live.iter().map(|b| b.0 as usize & !(SLAB - 1)).collect()
    })
    .join()
    .expect("thread")
}

fn same_class() {
    let both = slabs_on_a_thread(&[2 * KIB, 4 * KIB]);
    let (first, second) = (both[0], both[1]);
    assert_ne!(first, second, "two classes, two slabs");
    // The pool's free slab of lowest index is `first` (or another one the thread emptied); the
    // one whose pages a block of the second class touched is `second`.
    let again = slabs_on_a_thread(&[4 * KIB])[0];
    assert_eq!(
        again, second,
        "a block of the second class got slab {again:#x}, not the one that class emptied \
         ({second:#x}; the first class's was {first:#x})"
    );
}

/// One slab's worth of 4 KiB blocks (a class no earlier scenario step used, so a slab of its
/// own), every page touched: with `HAKMEM_THP=1` their SuperSlab is one huge page, all 512 pages
/// resident; without, only what was touched. Freed and `collect()`ed, the slab's pages leave RSS
/// either way: the purge splits the huge page and its pages stop counting.
fn thp() {
    let huge = hakmem::switches().thp && thp_available();
    let refused_before = collapse_alloc_failures();
    let live: Vec<Blk> = (0..SLAB / (4 * KIB)).map(|_| Blk::new(4 * KIB)).collect();
    let slab = live[0].0 as usize & !(SLAB - 1);
    let superslab = slab & !(SUPERSLAB - 1);
    let before = resident_pages(superslab, SUPERSLAB);
    if huge {
        // The kernel may lack a free huge page (then it says so in /proc/vmstat); anything else
        // is hakmem not asking.
        assert!(
            before == 512 || collapse_alloc_failures() > refused_before,
            "HAKMEM_THP=1: the SuperSlab is one huge page ({before} of 512 pages resident)"
        );
    } else {
        assert!(
            before < 512,
            "base pages: only what was touched ({before} of 512)"
        );
    }
    drop(live);
    hakmem::collect();
    let slab_after = resident_pages(slab, SLAB);
    let after = resident_pages(superslab, SUPERSLAB);
    assert_eq!(
        slab_after,
        0,
        "the freed slab was purged: {slab_after} of its 16 pages still resident\n{}",
        hakmem::stats()
    );
    assert!(
        after + 16 <= before,
        "the purge shows in RSS: {before} -> {after} pages of the SuperSlab"
    );
}

/// Allocates blocks of `size` bytes, writing the first byte of each (`dense`: one byte in each
/// 4 KiB of each), until the blocks have entered `n` regions (aligned `region`-byte ranges:
/// SuperSlabs, or spans of `MIN_SPAN_BYTES`) that none of them was in before; returns the
/// blocks, how many of the last such region's pages were resident right after its first block,
/// and the regions in the order the blocks entered them.
fn grow_in(size: usize, n: usize, region: usize, dense: bool) -> (Vec<*mut u8>, usize, Vec<usize>) {
    let layout = Layout::from_size_align(size, 8).unwrap();
    // Room for every block up front: the vector's own growth is no small allocation.
    let mut blocks = Vec::with_capacity(1 << 20);
    let mut seen = [0usize; 64];
    let mut new = 0;
    let step = if dense { 4 * KIB } else { size };
    loop {
        // SAFETY: a non-zero size; freed by the caller with the same layout.
        let p = unsafe { alloc(layout) };
        assert!(!p.is_null(), "alloc({size})");
        for off in (0..size).step_by(step) {
            // SAFETY: inside the block, `size` bytes, ours.
            unsafe { p.add(off).write(1) };
        }
        blocks.push(p);
        let r = p as usize & !(region - 1);
        if seen[..new].contains(&r) {
            continue;
        }
        seen[new] = r;
        new += 1;
        if new == n {
            return (blocks, resident_pages(r, region), seen[..n].to_vec());
        }
        assert!(
            blocks.len() < 1 << 20,
            "{size}-byte blocks never left their {region}-byte regions"
        );
    }
}

/// `grow_in` over SuperSlabs, the first byte of each block written.
fn grow(size: usize, n: usize) -> (Vec<*mut u8>, usize, Vec<usize>) {
    grow_in(size, n, SUPERSLAB, false)
}

/// Frees the blocks `grow_in` (or a loop like it) allocated, each set with its block size.
fn free_blocks<const N: usize>(sets: [(Vec<*mut u8>, usize); N]) {
    for (blocks, size) in sets {
        let layout = Layout::from_size_align(size, 8).unwrap();
        for p in blocks {
            // SAFETY: allocated with this layout by the caller's scenario, freed once.
            unsafe { dealloc(p, layout) };
        }
    }
}

/// The dense half of `growth`, `growth_recount` and `span_growth`: with the policy on (`huge`) the region named
/// by `what`, `resident` of its 512 pages resident, is one huge page — unless the kernel refused
/// a huge page since `refused_before` (it lacked a free one; /proc/vmstat says so), which is
/// returned; without the policy it stays on base pages (unless THP is `always`).
fn assert_dense_growth(what: &str, huge: bool, resident: usize, refused_before: u64) -> bool {
    if huge {
        let refused = collapse_alloc_failures() > refused_before;
        assert!(
            resident == 512 || refused,
            "dense {what} is one huge page ({resident} of 512 resident)\n{}",
            hakmem::stats()
        );
        refused
    } else {
        assert!(
            resident < 512 || thp_always(),
            "without the policy: base pages ({resident} of 512)"
        );
        false
    }
}

/// `config::THP_GROWTH`: a heap that grows sparsely (16 KiB blocks, the first page of each
/// written: a quarter of each SuperSlab resident when it fills) stays on base pages; one that
/// grows densely (64-byte blocks, every page written) gets its later SuperSlabs as one huge page
/// each, all 512 pages resident from their first block on. With `--cfg hakmem_no_thp_growth`,
/// neither.
fn growth() {
    // `config::THP_HALF_COLLAPSE`: not at the first block, once half the SuperSlab is bound.
    let half = hakmem::config::THP_HALF_COLLAPSE;
    let huge = !cfg!(hakmem_no_thp_growth) && thp_available() && !half;
    let (sparse, sparse_resident, _) = grow(16 * KIB, 5);
    assert!(
        sparse_resident < 512 || thp_always(),
        "sparse growth stays on base pages ({sparse_resident} of 512 resident)"
    );
    let refused_before = collapse_alloc_failures();
    let (dense, dense_resident, entered) = grow(64, 5);
    // The second SuperSlab the dense blocks entered filled densely before the policy started
    // (the first may be the sparse run's last, shared): collapsed once the streak was complete.
    let early = resident_pages(entered[1], SUPERSLAB);
    let refused = assert_dense_growth(
        "growth: the fifth new SuperSlab",
        huge,
        dense_resident,
        refused_before,
    );
    assert!(
        !huge || early == 512 || refused,
        "dense growth: the streak's own SuperSlabs are collapsed too ({early} of 512 resident)"
    );
    let mut more = Vec::new();
    if half && thp_available() {
        // Born on base pages (checked above, at its first block); 64-byte blocks go on filling
        // it, slab by slab in address order (a new SuperSlab's free slabs are handed out lowest
        // first), so a block in slab `THP_COLLAPSE_AT_SLABS - 1` or later means half of its slabs
        // (the header's included) are bound: it is one huge page by then.
        let fifth = entered[4];
        let at = (hakmem::config::THP_COLLAPSE_AT_SLABS as usize - 1) * hakmem::config::SLAB_SIZE;
        let layout = Layout::from_size_align(64, 8).unwrap();
        more.reserve(1 << 20);
        let (resident, slab) = loop {
            // SAFETY: a non-zero size; freed below with the same layout.
            let p = unsafe { alloc(layout) };
            assert!(!p.is_null(), "alloc(64)");
            // SAFETY: inside the block, ours.
            unsafe { p.write(1) };
            more.push(p);
            let off = (p as usize).wrapping_sub(fifth);
            if off < SUPERSLAB && off >= at {
                break (
                    resident_pages(fifth, SUPERSLAB),
                    off / hakmem::config::SLAB_SIZE,
                );
            }
            assert!(
                more.len() < 1 << 20,
                "64-byte blocks never reached the middle of the fifth SuperSlab"
            );
        };
        let refused = collapse_alloc_failures() > refused_before;
        assert!(
            resident == 512 || refused,
            "half collapse: the fifth new SuperSlab is one huge page once slab {slab} is bound \
             ({resident} of 512 resident)\n{}",
            hakmem::stats()
        );
    }
    free_blocks([(sparse, 16 * KIB), (dense, 64), (more, 64)]);
}

/// `config::THP_GROWTH_RECOUNT`: a SuperSlab that filled sparse and is dense by the next fill
/// (a growing heap's first SuperSlab, its classes' slabs still being carved) starts the streak
/// there. 16 KiB blocks (less a header; the first page of each written) fill four SuperSlabs sparse; then every
/// page of the fourth's blocks is written; 64-byte blocks (every page written) fill the fifth
/// densely: with the recount the fourth and fifth make the streak, and the sixth new SuperSlab
/// is one huge page from its first block on; without (`--cfg hakmem_no_thp_growth_recount`) the
/// streak has one fill and the sixth is on base pages.
fn growth_recount() {
    // `config::THP_HALF_COLLAPSE`: base pages at the first block (`growth` checks the collapse).
    let huge =
        hakmem::config::THP_GROWTH_RECOUNT && thp_available() && !hakmem::config::THP_HALF_COLLAPSE;
    // Read before the SuperSlabs below: reading /proc/vmstat grows a buffer through a dozen
    // classes, whose slabs would land sparse in the fifth.
    let refused_before = collapse_alloc_failures();
    // 16 KiB less a header: the blocks tile their slabs in header mode too, so that writing
    // every page of each block makes the fourth all resident.
    let size = 16 * KIB - 16;
    let (sparse, _, entered) = grow(size, 5);
    let fourth = entered[3];
    for &p in &sparse {
        if p as usize & !(SUPERSLAB - 1) == fourth {
            for off in (0..size).step_by(4 * KIB) {
                // SAFETY: inside a live block of `grow`'s, `size` bytes.
                unsafe { p.add(off).write(1) };
            }
        }
    }
    // The 64-byte blocks come from the fifth SuperSlab (the only one with free slabs) once their
    // class's current slab, wherever it is, runs out; they leave it when it is full, for a new
    // one: the sixth.
    let fifth = entered[4];
    let layout = Layout::from_size_align(64, 8).unwrap();
    let mut dense = Vec::with_capacity(1 << 20);
    let mut in_fifth = false;
    let resident = loop {
        // SAFETY: a non-zero size; freed below with the same layout.
        let p = unsafe { alloc(layout) };
        assert!(!p.is_null(), "alloc(64)");
        // SAFETY: inside the block, ours.
        unsafe { p.write_bytes(1, 64) };
        dense.push(p);
        let r = p as usize & !(SUPERSLAB - 1);
        if r == fifth {
            in_fifth = true;
        } else if in_fifth {
            break resident_pages(r, SUPERSLAB);
        }
        assert!(
            dense.len() < 1 << 20,
            "64-byte blocks never left the fifth SuperSlab"
        );
    };
    assert_dense_growth(
        "recount: the sixth new SuperSlab",
        huge,
        resident,
        refused_before,
    );
    free_blocks([(sparse, size), (dense, 64)]);
}

/// `config::CARVE_PAGE`: the first refill of a class carves 4 KiB of fresh blocks, 4 at least:
/// one block of 1280 bytes (a class nothing before it used, in a fresh slab) leaves one page of
/// its slab resident (the links of the 4 blocks carved); with `--cfg hakmem_no_carve_page` the
/// batch (25 blocks, 32 KiB) faulted in 8.
fn carve_page() {
    let layout = Layout::from_size_align(1280, 8).unwrap();
    // SAFETY: a non-zero size; freed below.
    let p = unsafe { alloc(layout) };
    assert!(!p.is_null(), "alloc(1280)");
    let slab = p as usize & !(SLAB - 1);
    let resident = resident_pages(slab, SLAB);
    if hakmem::config::CARVE_PAGE {
        assert!(
            resident <= 2 || thp_always(),
            "one refill of 1280-byte blocks touches one page of its slab ({resident} of 16 resident)"
        );
    } else {
        assert!(
            resident >= 8,
            "without CARVE_PAGE a refill carves 32 KiB ({resident} of 16 resident)"
        );
    }
    // SAFETY: allocated above with this layout.
    unsafe { dealloc(p, layout) };
}

/// `config::SPAN_THP_GROWTH`: a medium heap that grows sparsely (64 KiB blocks, the first page
/// of each written) keeps its new spans on base pages; one that grows densely (40 KiB blocks,
/// every page written) gets its second new span as one huge page from its first block on (the
/// first fills densely, a streak of `config::SPAN_THP_GROWTH_STREAK` = 1: the second on are
/// collapsed at birth; with a streak of two the second had 11 of 512 pages resident). With
/// `--cfg hakmem_no_span_thp_growth`, neither.
fn span_growth() {
    use hakmem::config::MIN_SPAN_BYTES;
    if !hakmem::config::MEDIUM {
        // No spans: these sizes take the large path, a mapping each.
        return;
    }
    let huge = !cfg!(hakmem_no_span_thp_growth) && thp_available();
    let (sparse, sparse_resident, _) = grow_in(64 * KIB, 4, MIN_SPAN_BYTES, false);
    assert!(
        sparse_resident < 512 || thp_always(),
        "sparse medium growth stays on base pages ({sparse_resident} of 512 resident)"
    );
    let refused_before = collapse_alloc_failures();
    let (dense, dense_resident, _) = grow_in(40 * KIB, 2, MIN_SPAN_BYTES, true);
    assert_dense_growth(
        "medium growth: the second new span",
        huge,
        dense_resident,
        refused_before,
    );
    free_blocks([(sparse, 64 * KIB), (dense, 40 * KIB)]);
}

/// One round of `THREADS` threads, each allocating blocks of 64 small sizes (512 B to 32 KiB,
/// 16 KiB or one block of each, a byte of every page written: a slab of each class with 16 KiB
/// or more of it resident), waiting until all have allocated, then freeing everything and exiting. Returns
/// the RSS while all hold their blocks.
fn thread_round() -> usize {
    const THREADS: usize = 32;
    let all = std::sync::Arc::new(std::sync::Barrier::new(THREADS + 1));
    let done = std::sync::Arc::new(std::sync::Barrier::new(THREADS + 1));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (all, done) = (all.clone(), done.clone());
            thread::spawn(move || {
                let mut live = Vec::new();
                for size in (1..=64).map(|i| i * 512) {
                    for _ in 0..(16 * KIB).div_ceil(size) {
                        live.push(Blk::new(size));
                    }
                }
                all.wait();
                done.wait();
                drop(live);
            })
        })
        .collect();
    all.wait();
    let peak = rss();
    done.wait();
    for t in threads {
        t.join().expect("thread");
    }
    peak
}

/// `config::DIRTY_BUDGET`, the delay at 10 minutes (so the clock purges nothing): a round of
/// threads that exit leaves its slabs dirty; past the budget they are purged at once, so RSS
/// after each round keeps at most a third of the round's growth (the budget may keep up to 512
/// slabs, a quarter of the round's). With the backout it keeps it all.
fn thread_rounds() {
    // Thread stacks cached by libc and the heaps made, with nothing of the workload's.
    thread::scope(|s| {
        for _ in 0..32 {
            s.spawn(|| drop(black_box(Box::new(1u64))));
        }
    });
    let start = rss();
    for round in 0..3 {
        let peak = thread_round();
        let after = rss();
        let grown = peak.saturating_sub(start);
        assert!(
            grown > 24 * MIB,
            "round {round}: the workload grew RSS by {} KiB only",
            grown / KIB
        );
        let kept = after.saturating_sub(start);
        let purged = kept <= grown / 3;
        if cfg!(hakmem_no_dirty_budget) {
            assert!(
                !purged,
                "backout: round {round} kept only {} of {} KiB",
                kept / KIB,
                grown / KIB
            );
        } else {
            assert!(
                purged,
                "round {round}: RSS kept {} KiB of the round's {} KiB after its threads exited \
                 (at most a third expected: their dirty slabs pass the budget)\n{}",
                kept / KIB,
                grown / KIB,
                hakmem::stats()
            );
        }
    }
}

#[test]
fn slabs_left_dirty_by_exiting_threads_are_purged_past_the_budget() {
    child::run("thread_rounds", &[("HAKMEM_PURGE_DELAY_MS", "600000")]).assert_passed();
}

/// `config::DIRTY_BUDGET_AFTER_EXIT`, the delay at 10 minutes: one live thread builds 48 MiB of
/// small blocks, frees them all and builds them again, three times (a program's phases, as
/// CPython's between its passes). No thread exits, so the dirty-slab budget never sweeps: the
/// slabs stay resident for the next phase, which reuses them instead of faulting them back.
/// `--cfg hakmem_no_dirty_budget_after_exit` sweeps at every phase's end (the python-malloc
/// refaults of session 23).
fn phases() {
    let start = rss();
    for round in 0..3 {
        let live: Vec<Blk> = (0..48 * MIB / 1024).map(|_| Blk::new(1024)).collect();
        let peak = rss();
        drop(live);
        let kept = rss().saturating_sub(start);
        let grown = peak.saturating_sub(start);
        assert!(
            grown > 24 * MIB,
            "round {round}: the phase grew RSS by {} KiB only",
            grown / KIB
        );
        // A sweep comes once the dirty slabs outnumber those still out, about halfway through
        // the drop: what the phase freed before it is purged (the backout kept about a third).
        let swept = kept < grown / 2;
        let expected = hakmem::config::DIRTY_BUDGET && cfg!(hakmem_no_dirty_budget_after_exit);
        assert_eq!(
            swept,
            expected,
            "round {round}: RSS kept {} of the phase's {} KiB (swept: {swept})\n{}",
            kept / KIB,
            grown / KIB,
            hakmem::stats()
        );
    }
    if STATS {
        let sweeps = hakmem::stats().dirty_budget_sweeps;
        if hakmem::config::DIRTY_BUDGET && cfg!(hakmem_no_dirty_budget_after_exit) {
            assert!(sweeps > 0, "backout: the budget swept no phase");
        } else {
            assert_eq!(sweeps, 0, "the budget swept a live thread's phase");
        }
    }
}

#[test]
fn a_live_threads_phases_keep_their_slabs_for_the_delay() {
    child::run("phases", &[("HAKMEM_PURGE_DELAY_MS", "600000")]).assert_passed();
}

/// `HAKMEM_PURGE_DELAY_MS=-1`: nothing is purged on the clock; `collect()` still purges.
fn never() {
    let start = warm_up();
    let peak = allocate_and_free_everything();
    hakmem::testing::advance_purge_clock(3_600_000);
    touch_ends(5 * MIB);
    if STATS && hakmem::switches().large_cache {
        assert!(
            hakmem::stats().cached_bytes >= 6 * 6 * MIB as u64,
            "delay -1: the cache keeps its blocks\n{}",
            hakmem::stats()
        );
    }
    hakmem::collect();
    assert_back(start, rss(), peak, "collect() with delay -1");
}

/// Every `munmap` refused: nothing may leak, in five rounds.
fn munmap_refused() {
    use hakmem::fault::fail_next_releases;
    // Above the medium tier: each its own mapping.
    const ROUND: [usize; 8] = [
        5 * MIB,
        6 * MIB,
        7 * MIB,
        5 * MIB + 3 * KIB,
        9 * MIB,
        11 * MIB,
        6 * MIB + 100 * KIB,
        13 * MIB,
    ];
    const PER_ROUND: usize = 16;
    let start = warm_up();
    let (maps0, s0) = (maps(), hakmem::stats());
    fail_next_releases(usize::MAX);
    let mut after_first = (0, 0);
    for round in 0..5 {
        let live: Vec<Blk> = ROUND
            .iter()
            .cycle()
            .take(PER_ROUND)
            .map(|&s| Blk::new(s))
            .collect();
        drop(live);
        // Tries to unmap every cached block: refused, so they are decommitted and kept.
        hakmem::collect();
        let (r, m) = (rss(), maps());
        if round == 0 {
            after_first = (r, m);
        }
        assert!(
            r <= after_first.0 + after_first.0 / 10,
            "round {round}: RSS grew to {} KiB from {} KiB",
            r / KIB,
            after_first.0 / KIB
        );
        assert!(
            m <= after_first.1 + 8,
            "round {round}: {m} mappings, {} after round 0: refused blocks were not reused",
            after_first.1
        );
    }
    fail_next_releases(0);
    assert_back(start, rss(), after_first.0, "refused munmaps, decommitted");
    let s1 = hakmem::stats();
    if STATS {
        assert!(
            s1.os_failures > s0.os_failures,
            "refusals are counted\n{s1}"
        );
        assert!(
            s1.large_reused - s0.large_reused >= 4 * PER_ROUND as u64,
            "rounds 1-4 reuse the kept blocks instead of mapping\n{s1}"
        );
        assert!(s1.cached_bytes > 0, "the refused blocks are kept\n{s1}");
    }
    // The OS accepts again: the kept blocks are unmapped.
    hakmem::collect();
    let s2 = hakmem::stats();
    assert!(maps() <= maps0 + 4, "{} mappings, {maps0} before", maps());
    if STATS {
        assert_eq!(s2.cached_bytes, 0, "{s2}");
    }
}

#[test]
#[ignore = "child process entry point; run by the other tests"]
fn child() {
    let Some(name) = child::scenario() else {
        return;
    };
    match name.as_str() {
        "after_delay" => after_delay(),
        "after_collect" => after_collect(),
        "idle_background" => idle_background(),
        "never" => never(),
        "thread_rounds" => thread_rounds(),
        "phases" => phases(),
        "tails" => tails(),
        "live_spans" => live_spans(),
        "idle_main" => idle_main(),
        "live_small" => live_small(),
        "idle_small" => idle_small(),
        "same_class" => same_class(),
        "thp" => thp(),
        "growth" => growth(),
        "growth_recount" => growth_recount(),
        "carve_page" => carve_page(),
        "span_growth" => span_growth(),
        "munmap_refused" => munmap_refused(),
        other => panic!("unknown scenario {other:?}"),
    }
}

#[test]
fn thp_backs_superslabs_with_huge_pages_and_purges_still_show() {
    child::run("thp", &[("HAKMEM_THP", "1")]).assert_passed();
    child::run("thp", &[]).assert_passed();
}

#[test]
fn a_growing_heap_gets_huge_pages_once_its_superslabs_fill_densely() {
    child::run("growth", &[]).assert_passed();
}

#[test]
fn a_superslab_that_filled_sparse_and_is_dense_by_the_next_fill_starts_the_streak() {
    child::run("growth_recount", &[]).assert_passed();
}

#[test]
fn a_first_refill_touches_one_page_of_a_fresh_slab() {
    child::run("carve_page", &[]).assert_passed();
}

#[test]
fn a_growing_medium_heap_gets_huge_pages_once_its_spans_fill_densely() {
    child::run("span_growth", &[]).assert_passed();
}

#[test]
fn rss_back_after_the_purge_delay() {
    child::run("after_delay", &[("HAKMEM_PURGE_DELAY_MS", "100")]).assert_passed();
}

#[test]
fn rss_back_after_collect() {
    child::run("after_collect", &[]).assert_passed();
    child::run("after_collect", &[("HAKMEM_LARGE_CACHE", "0")]).assert_passed();
}

#[test]
fn rss_back_with_the_background_purger_while_idle() {
    child::run(
        "idle_background",
        &[("HAKMEM_BACKGROUND", "1"), ("HAKMEM_PURGE_DELAY_MS", "100")],
    )
    .assert_passed();
}

#[test]
fn cached_large_mappings_do_not_keep_every_users_pages() {
    child::run("tails", &[("HAKMEM_PURGE_DELAY_MS", "-1")]).assert_passed();
}

#[test]
fn a_live_threads_emptied_spans_are_purged_after_the_delay() {
    child::run("live_spans", &[("HAKMEM_PURGE_DELAY_MS", "100")]).assert_passed();
}

#[test]
fn an_idle_main_threads_spans_are_purged_by_the_background_purger() {
    child::run(
        "idle_main",
        &[("HAKMEM_BACKGROUND", "1"), ("HAKMEM_PURGE_DELAY_MS", "100")],
    )
    .assert_passed();
}

#[test]
fn a_live_threads_emptied_current_slabs_are_purged_after_the_delay() {
    child::run("live_small", &[("HAKMEM_PURGE_DELAY_MS", "100")]).assert_passed();
}

#[test]
fn an_idle_main_threads_emptied_current_slabs_are_purged_by_the_background_purger() {
    child::run(
        "idle_small",
        &[("HAKMEM_BACKGROUND", "1"), ("HAKMEM_PURGE_DELAY_MS", "100")],
    )
    .assert_passed();
}

#[test]
fn a_free_slab_goes_back_to_the_class_it_served() {
    child::run("same_class", &[("HAKMEM_PURGE_DELAY_MS", "-1")]).assert_passed();
}

#[test]
fn delay_minus_one_never_purges_on_the_clock() {
    child::run("never", &[("HAKMEM_PURGE_DELAY_MS", "-1")]).assert_passed();
}

#[test]
fn an_os_that_refuses_munmap_loses_nothing() {
    for env in [&[][..], &[("HAKMEM_LARGE_CACHE", "0")][..]] {
        let c = child::run("munmap_refused", env);
        c.assert_passed();
        let reports = c
            .hakmem_lines()
            .into_iter()
            .filter(|l| l.starts_with("hakmem: os: munmap failed"))
            .count();
        assert_eq!(reports, 1, "one report per process\n{}", c.report());
    }
}
