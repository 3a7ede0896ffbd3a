//! `alloc_zeroed` through `HakMem` as the global allocator.
//!
//! Claims checked: `alloc_zeroed` returns all-zero memory also when it recycles blocks that were
//! dirtied (filled with 0xAB) and freed just before — for small classes, the large path and
//! over-aligned layouts, for blocks freed by their own thread and by another thread, and through
//! `vec![0; n]`. A zeroed block is then dirtied and freed again, so every round recycles dirt.
//!
//! Known zeroes (`config::KNOWN_ZERO`, builds with the `medium` tier; each scenario in a child
//! process of its own, with the environment it names, so that its spans are the ones it made):
//!
//! | scenario | claim |
//! |---|---|
//! | `fresh_medium` | `alloc_zeroed` of medium blocks carved from a fresh span leaves their pages untouched (`mincore`: at most the first page of each resident), and they read as zero |
//! | `reused_medium` | a medium block freed dirty and taken again from its span's free list comes back zeroed |
//! | `rebound_span` | a span a thread dirtied and gave back (delay -1: not purged), bound again by another thread: blocks carved over the old dirt come back zeroed |
//! | `madv_free_span` | the same with the span purged at once by `MADV_FREE` (`HAKMEM_PURGE_MADV_FREE=1`, delay 0), which may leave the old contents: zeroed |
//!
//! `HAKMEM_TEST_SCALE` (default 1) multiplies the number of rounds.

mod support;

use std::alloc::{alloc, alloc_zeroed, dealloc, Layout};
use std::hint::black_box;
use support::{child, scale, KIB, MIB};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const DIRT: u8 = 0xAB;

/// The offset of the first non-zero byte (compared a page at a time with `memcmp`, which keeps
/// multi-MiB checks cheap in debug builds).
fn first_nonzero(bytes: &[u8]) -> Option<usize> {
    static ZEROES: [u8; 4096] = [0; 4096];
    bytes
        .chunks(ZEROES.len())
        .enumerate()
        .find(|(_, chunk)| *chunk != &ZEROES[..chunk.len()])
        .map(|(k, chunk)| k * ZEROES.len() + chunk.iter().position(|&b| b != 0).unwrap())
}

fn small_sizes() -> Vec<usize> {
    vec![
        1, 8, 16, 24, 100, 512, 1000, 1024, 1025, 2048, 3000, 4096, 8000, 16384, 32767, 32768,
    ]
}

fn large_sizes() -> Vec<usize> {
    vec![32 * KIB + 1, 40_000, 64 * KIB, 256 * KIB, MIB, 3 * MIB]
}

/// Allocates `count` blocks of `layout` with `alloc` and fills them with dirt.
fn dirty_blocks(layout: Layout, count: usize) -> Vec<*mut u8> {
    (0..count)
        .map(|_| {
            // SAFETY: every layout used here has a non-zero size.
            let p = black_box(unsafe { alloc(layout) });
            assert!(!p.is_null(), "alloc({layout:?}) returned null");
            // SAFETY: `p` is a fresh block of `layout.size()` bytes.
            unsafe { p.write_bytes(DIRT, layout.size()) };
            p
        })
        .collect()
}

/// Frees blocks of `layout`, in allocation order or reversed.
fn free_blocks(blocks: Vec<*mut u8>, layout: Layout, reverse: bool) {
    let mut blocks = blocks;
    if reverse {
        blocks.reverse();
    }
    for p in blocks {
        // SAFETY: every pointer came from `alloc`/`alloc_zeroed` with `layout` and is freed once.
        unsafe { dealloc(p, layout) };
    }
}

/// Allocates `count` zeroed blocks of `layout`, checks every byte is zero, then dirties them.
fn zeroed_blocks(layout: Layout, count: usize, when: &str) -> Vec<*mut u8> {
    (0..count)
        .map(|i| {
            // `black_box`: an optimised build may otherwise assume the zeroes and skip the check.
            // SAFETY: every layout used here has a non-zero size.
            let p = black_box(unsafe { alloc_zeroed(layout) });
            assert!(!p.is_null(), "alloc_zeroed({layout:?}) returned null");
            assert_eq!(
                p as usize % layout.align(),
                0,
                "{p:p} misaligned for {layout:?}"
            );
            // SAFETY: `p` is a fresh block of `layout.size()` bytes.
            let bytes = unsafe { std::slice::from_raw_parts_mut(p, layout.size()) };
            if let Some(off) = first_nonzero(bytes) {
                panic!(
                    "alloc_zeroed({layout:?}) #{i} {when}: byte {off} of {p:p} is {:#x}",
                    bytes[off]
                );
            }
            bytes.fill(DIRT);
            p
        })
        .collect()
}

#[test]
fn zeroed_after_dirty_recycling() {
    let mut layouts = Vec::new();
    for align in [8, 64, 4096] {
        layouts.extend(small_sizes().into_iter().map(|s| (s, align, 48)));
        layouts.extend(large_sizes().into_iter().map(|s| (s, align, 4)));
    }
    layouts.extend([(100, 64 * KIB, 4), (3 * MIB, 2 * MIB, 2)]);
    for round in 0..3 * scale() {
        for &(size, align, count) in &layouts {
            let layout = Layout::from_size_align(size, align).unwrap();
            let dirty = dirty_blocks(layout, count);
            free_blocks(dirty, layout, round % 2 == 0);
            let zeroed = zeroed_blocks(layout, count, "after dirty frees");
            free_blocks(zeroed, layout, round % 2 == 1);
        }
        // Recycle across classes too: everything freed above is now dirt for the next layouts.
        hakmem::collect();
    }
}

#[test]
fn zeroed_after_frees_by_another_thread() {
    struct Dirty(Vec<*mut u8>, Layout);
    // SAFETY: plain memory blocks owned by this value; hakmem blocks may be freed by any thread.
    unsafe impl Send for Dirty {}

    for _ in 0..2 * scale() {
        let sizes: Vec<usize> = small_sizes().into_iter().chain(large_sizes()).collect();
        for &size in &sizes {
            let layout = Layout::from_size_align(size, 16).unwrap();
            let count = if size > 32 * KIB { 4 } else { 64 };
            let dirty = Dirty(dirty_blocks(layout, count), layout);
            std::thread::spawn(move || {
                let dirty = dirty;
                free_blocks(dirty.0, dirty.1, false);
            })
            .join()
            .expect("freeing thread panicked");
            let zeroed = zeroed_blocks(layout, count, "after remote frees");
            free_blocks(zeroed, layout, true);
        }
    }
}

#[test]
fn zeroed_vecs_after_dirty_vecs() {
    for round in 0..4 * scale() {
        for n in [1, 15, 16, 17, 1000, 4096, 32 * KIB, 100_000, 2 * MIB] {
            let dirty: Vec<Vec<u8>> = (0..8).map(|_| vec![DIRT; n]).collect();
            drop(dirty);
            let zeroed: Vec<Vec<u8>> = (0..8).map(|_| vec![0u8; n]).collect();
            for v in &zeroed {
                assert_eq!(
                    first_nonzero(v),
                    None,
                    "vec![0u8; {n}] not zero (round {round})"
                );
            }
            let words: Vec<u64> = vec![0u64; n / 8 + 1];
            assert!(
                words.iter().all(|&w| w == 0),
                "vec![0u64; {}] not zero",
                n / 8 + 1
            );
        }
    }
}

/// `alloc_zeroed` of 1-80 bytes (`config::SMALL_ZERO_INLINE` clears up to 64 by overlapping
/// stores) at alignments 1-16: a block of the same 16-byte step dirtied and freed just before comes
/// back (the TLS list is last in, first out) with its first `size` bytes zero and every byte from
/// `max(size, 16)` to the end of the step still dirt — the clearing writes nothing past the request
/// (below 16 bytes the free list's link and freed mark sit in the block, so those are not checked).
/// With `config::CALLOC_CLEARS_USABLE` (session 28, edge28) those bytes are inside the block's
/// usable size, which is cleared whole as glibc's `calloc` clears its chunk: they must read zero,
/// and nothing is written past `usable_size` (the next block's dirt is checked by the rounds that
/// follow, and tests/edge_zeroed_realloc.rs checks every usable byte).
#[test]
fn small_zeroed_clears_exactly_the_request() {
    let reused = check_small_zeroed(2 * scale());
    assert!(
        reused > 0 || hakmem::config::CALLOC_CLEARS_USABLE,
        "no dirty block came back: the check past the request never ran"
    );
}

/// The same on a profiled heap (`HAKMEM_PROF=1`) sampling every 64 bytes, then every request:
/// sampled small requests take the pop's trap (`pop_trap_zeroed`) and the profiled miss
/// (`alloc_miss_zeroed`), and a sampled block comes from the profiler, so blocks need not come
/// back; each must still be zero.
#[test]
fn small_zeroed_on_a_profiled_heap() {
    if !hakmem::config::PROFILE {
        return;
    }
    for sample in ["64", "1"] {
        child::run(
            "profiled_small",
            &[("HAKMEM_PROF", "1"), ("HAKMEM_PROF_SAMPLE", sample)],
        )
        .assert_passed();
    }
}

/// `small_zeroed_clears_exactly_the_request`'s rounds; returns how many dirty blocks came back.
fn check_small_zeroed(rounds: usize) -> usize {
    let mut reused = 0;
    for round in 0..rounds {
        for size in 1..=80usize {
            for align in [1, 8, 16] {
                let step = size.next_multiple_of(16);
                let whole = Layout::from_size_align(step, align).unwrap();
                let dirty = dirty_blocks(whole, 1);
                let old = dirty[0];
                free_blocks(dirty, whole, false);
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: `layout` has a non-zero size.
                let p = black_box(unsafe { alloc_zeroed(layout) });
                assert!(!p.is_null(), "alloc_zeroed({layout:?}) returned null");
                // SAFETY: `p` is a fresh block of `size` bytes.
                let bytes = unsafe { std::slice::from_raw_parts(p, size) };
                if let Some(off) = first_nonzero(bytes) {
                    panic!("alloc_zeroed({layout:?}) round {round}: byte {off} of {p:p} not zero");
                }
                // SAFETY: `p` is live.
                let usable = unsafe { hakmem::raw::usable_size(p) };
                if hakmem::config::CALLOC_CLEARS_USABLE {
                    // SAFETY: `p` has `usable` usable bytes.
                    let all = unsafe { std::slice::from_raw_parts(p, usable) };
                    if let Some(off) = first_nonzero(all) {
                        panic!("alloc_zeroed({layout:?}): usable byte {off} of {usable} not zero");
                    }
                }
                if p == old && !hakmem::config::CALLOC_CLEARS_USABLE {
                    reused += 1;
                    for off in size.max(16)..step {
                        // SAFETY: `p` is the block that held `step` bytes of dirt a moment ago;
                        // its class holds at least `step` bytes.
                        let b = unsafe { p.add(off).read() };
                        assert_eq!(
                            b, DIRT,
                            "alloc_zeroed({layout:?}) wrote byte {off} of {p:p}, past the request"
                        );
                    }
                }
                // SAFETY: `p` came from `alloc_zeroed(layout)`.
                unsafe { dealloc(p, layout) };
            }
        }
    }
    reused
}

// ---- known zeroes (`config::KNOWN_ZERO`) ------------------------------------------------------

/// A medium size: 1 MiB, far from the small and large boundaries, a class of its own.
const MEDIUM: usize = MIB;

/// Pages of `[base, base + len)` resident now (`mincore`).
fn resident_pages(base: usize, len: usize) -> usize {
    let mut vec = vec![0u8; len.div_ceil(4096)];
    // SAFETY: a page-aligned range of this process's mappings; `vec` holds one byte per page.
    let r = unsafe { libc::mincore(base as *mut libc::c_void, len, vec.as_mut_ptr()) };
    assert_eq!(r, 0, "mincore failed");
    vec.iter().filter(|&&v| v & 1 != 0).count()
}

fn medium_layout() -> Layout {
    Layout::from_size_align(MEDIUM, 16).unwrap()
}

/// Allocates `count` zeroed medium blocks and checks each reads as zero (which, for untouched
/// pages, maps the zero page: check residency before this).
fn check_zero(blocks: &[*mut u8], when: &str) {
    for (i, &p) in blocks.iter().enumerate() {
        // SAFETY: a live block of `MEDIUM` bytes.
        let bytes = unsafe { std::slice::from_raw_parts(p, MEDIUM) };
        if let Some(off) = first_nonzero(bytes) {
            panic!(
                "alloc_zeroed({MEDIUM}) #{i} {when}: byte {off} of {p:p} is {:#x}",
                bytes[off]
            );
        }
    }
}

fn calloc_medium(count: usize) -> Vec<*mut u8> {
    (0..count)
        .map(|_| {
            // SAFETY: non-zero size.
            let p = black_box(unsafe { alloc_zeroed(medium_layout()) });
            assert!(!p.is_null());
            p
        })
        .collect()
}

fn fresh_medium() {
    let blocks = calloc_medium(4);
    for &p in &blocks {
        assert_eq!(p as usize % 4096, 0, "medium blocks start on a page");
        let resident = resident_pages(p as usize, MEDIUM);
        assert!(
            resident <= 1,
            "alloc_zeroed({MEDIUM}) of a fresh span's block made {resident} of {} pages resident",
            MEDIUM / 4096
        );
    }
    check_zero(&blocks, "fresh");
    free_blocks(blocks, medium_layout(), false);
}

fn reused_medium() {
    let layout = medium_layout();
    for round in 0..4 {
        let dirty = dirty_blocks(layout, 3);
        let addrs: Vec<usize> = dirty.iter().map(|&p| p as usize).collect();
        free_blocks(dirty, layout, round % 2 == 0);
        let zeroed = calloc_medium(3);
        assert!(
            zeroed.iter().all(|&p| addrs.contains(&(p as usize))),
            "the dirty blocks were not reused"
        );
        check_zero(&zeroed, "after dirty frees");
        free_blocks(zeroed, layout, false);
    }
}

/// Blocks of a span a thread dirties, frees and gives back at its exit; their addresses.
fn dirty_span_in_a_thread(count: usize) -> Vec<usize> {
    std::thread::spawn(move || {
        let dirty = dirty_blocks(medium_layout(), count);
        let addrs = dirty.iter().map(|&p| p as usize).collect();
        free_blocks(dirty, medium_layout(), false);
        addrs
    })
    .join()
    .expect("dirtying thread panicked")
}

fn rebound_span() {
    let addrs = dirty_span_in_a_thread(3);
    let zeroed = calloc_medium(5);
    assert!(
        addrs.iter().all(|a| zeroed.contains(&(*a as *mut u8))),
        "the dirty span was not bound again"
    );
    check_zero(&zeroed, "carved over an earlier binding's dirt");
    free_blocks(zeroed, medium_layout(), false);
}

/// A large size (above the medium tier), served from the large cache once freed.
const LARGE: usize = 8 * MIB;

/// Minor page faults of this process so far.
fn minor_faults() -> u64 {
    // SAFETY: an all-zero `rusage` is a valid out-parameter.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid `rusage` to fill.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) }, 0);
    ru.ru_minflt as u64
}

/// A large block written through and freed, then `calloc`ed again (the same mapping, from the
/// large cache) and written through again, three times: it reads as zero every time, and the
/// second writing does not fault its pages in again (they were resident, so the clear zeroed
/// them in place instead of purging them). The same with a fresh block its first user wrote only
/// half of: the other half, never resident, reads as zero too.
fn large_rewrite() {
    let layout = Layout::from_size_align(LARGE, 16).unwrap();
    let pages = LARGE / 4096;
    for written in [LARGE, LARGE / 2] {
        // A fresh mapping for each case (`collect` empties the large cache).
        hakmem::collect();
        // SAFETY: non-zero size.
        let p = black_box(unsafe { alloc(layout) });
        assert!(!p.is_null());
        // SAFETY: a live block of `LARGE` bytes.
        unsafe { p.write_bytes(DIRT, written) };
        // The writes must reach the block: nothing reads them before `dealloc`, so the compiler
        // may drop them as dead stores otherwise (it did: the cached mapping came back with no
        // page resident and the test counted 4,097 faults for 2,048 pages).
        black_box(p);
        let addr = p as usize;
        // SAFETY: allocated above with `layout`.
        unsafe { dealloc(p, layout) };
        for round in 0..3 {
            let before = minor_faults();
            // SAFETY: non-zero size.
            let q = black_box(unsafe { alloc_zeroed(layout) });
            // The same mapping (a reused block may start a few colour lines further on).
            assert!(
                (q as usize).abs_diff(addr) < MIB,
                "round {round}: the cached mapping was not reused ({q:p}, first at {addr:#x})"
            );
            // SAFETY: a live block of `LARGE` bytes.
            let bytes = unsafe { std::slice::from_raw_parts_mut(q, LARGE) };
            // The part written before, then written again (reading the rest first would fault
            // its pages in as the zero page).
            if let Some(off) = first_nonzero(&bytes[..written]) {
                panic!(
                    "alloc_zeroed({LARGE}) round {round}: byte {off} is {:#x}",
                    bytes[off]
                );
            }
            bytes[..written].fill(DIRT);
            let faults = minor_faults() - before;
            eprintln!("{written} bytes written, round {round}: {faults} minor faults");
            assert!(
                faults < (written / 4096) as u64 / 8,
                "round {round}: calloc + writing {written} bytes of a reused {LARGE}-byte block took \
                 {faults} page faults ({pages} pages): its resident pages were purged"
            );
            if let Some(off) = first_nonzero(&bytes[written..]) {
                let off = written + off;
                panic!(
                    "alloc_zeroed({LARGE}) round {round}: byte {off} is {:#x}",
                    bytes[off]
                );
            }
            // SAFETY: allocated above with `layout`.
            unsafe { dealloc(q, layout) };
        }
    }
}

#[test]
#[ignore = "child process entry point; run by the other tests"]
fn child() {
    let Some(name) = child::scenario() else {
        return;
    };
    match name.as_str() {
        "fresh_medium" => fresh_medium(),
        "reused_medium" => reused_medium(),
        "rebound_span" | "madv_free_span" => rebound_span(),
        "large_rewrite" => large_rewrite(),
        "profiled_small" => {
            check_small_zeroed(8 * scale());
        }
        other => panic!("unknown scenario {other:?}"),
    }
}

#[test]
#[cfg(not(hakmem_no_large_clear_resident))]
fn zeroed_reused_large_blocks_keep_their_resident_pages() {
    child::run("large_rewrite", &[("HAKMEM_PURGE_DELAY_MS", "-1")]).assert_passed();
}

#[test]
#[cfg(all(feature = "medium", not(hakmem_no_known_zero)))]
fn zeroed_fresh_medium_blocks_stay_untouched() {
    child::run("fresh_medium", &[]).assert_passed();
}

#[test]
#[cfg(feature = "medium")]
fn zeroed_medium_blocks_after_reuse() {
    child::run("reused_medium", &[]).assert_passed();
    child::run("rebound_span", &[("HAKMEM_PURGE_DELAY_MS", "-1")]).assert_passed();
    child::run(
        "madv_free_span",
        &[
            ("HAKMEM_PURGE_DELAY_MS", "0"),
            ("HAKMEM_PURGE_MADV_FREE", "1"),
        ],
    )
    .assert_passed();
}
