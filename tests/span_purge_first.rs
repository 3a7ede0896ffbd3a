//! `config::SPAN_PURGE_FIRST_EMPTY`: the first time a heap's current span of a medium class of
//! few blocks a span (`SPAN_PURGE_FIRST_MAX_BLOCKS`: 128 KiB and up) empties, it is purged at once
//! instead of staying resident for the purge delay. A block grown by `realloc` through medium
//! classes it never used before (sqlite3's sorter buffer: 64 KiB to 2 MiB) leaves no freed rung of
//! those classes resident behind it; without the policy (`--cfg
//! hakmem_no_span_purge_first`) every rung stays resident until the delay passes and the heap binds
//! again. Without the test harness (`harness = false`): no harness thread may use these classes
//! first in this process.

mod support;

use std::alloc::{alloc, dealloc, realloc, Layout};

use support::thp::resident_pages;

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const PAGE: usize = 4096;

/// The smallest rung whose class holds at most `SPAN_PURGE_FIRST_MAX_BLOCKS` blocks a span (2 MiB
/// spans of 128 KiB blocks, less the span header: 15).
const PURGED_FROM: usize = 128 << 10;

/// Resident pages of the block `[p, p + size)` (whole pages inside it only).
fn resident_in(p: usize, size: usize) -> usize {
    let (start, end) = (p.next_multiple_of(PAGE), (p + size) & !(PAGE - 1));
    resident_pages(start, end - start)
}

fn main() {
    if !cfg!(feature = "medium") {
        println!("span_purge_first: skipped (no medium tier: these sizes take the large path)");
        return;
    }
    // The delay as the policy-off run needs it: with 0 every emptied span is purged anyway.
    let delay_zero = std::env::var("HAKMEM_PURGE_DELAY_MS").is_ok_and(|v| v == "0");
    let policy = hakmem::config::SPAN_PURGE_FIRST_EMPTY;
    let mut size = 64 << 10;
    let mut layout = Layout::from_size_align(size, 16).unwrap();
    // SAFETY: a non-zero size.
    let mut p = std::hint::black_box(unsafe { alloc(layout) });
    assert!(!p.is_null(), "alloc({size})");
    // SAFETY: the block is ours, `size` bytes.
    unsafe { p.write_bytes(1, size) };
    let mut rungs = Vec::new();
    while size < 2 << 20 {
        let new_size = size * 2;
        // SAFETY: `p` was allocated with `layout`; the new size is non-zero.
        let q = std::hint::black_box(unsafe { realloc(p, layout, new_size) });
        assert!(!q.is_null(), "realloc({new_size})");
        // SAFETY: the block is ours, `new_size` bytes.
        unsafe { q.write_bytes(2, new_size) };
        assert_ne!(q, p, "a medium block of {size} grew in place");
        let left = resident_in(p as usize, size);
        rungs.push((size, left));
        if policy && size >= PURGED_FROM {
            assert_eq!(
                left,
                0,
                "the freed rung of {size} bytes emptied its class's first span: purged at once \
                 ({left} pages resident)\n{}",
                hakmem::stats()
            );
        } else if !policy && !delay_zero {
            assert_eq!(
                left,
                size / PAGE,
                "without the policy the freed rung of {size} bytes stays resident ({left} pages)"
            );
        }
        (p, size) = (q, new_size);
        layout = Layout::from_size_align(size, 16).unwrap();
    }
    // SAFETY: allocated above with `layout`, freed once.
    unsafe { dealloc(p, layout) };
    let kept = class_in_use(delay_zero);
    println!(
        "span_purge_first: ok (policy {policy}; freed rungs' resident pages {rungs:?}; a class \
         in use kept {kept} pages)"
    );
}

/// `config::SPAN_PURGE_FIRST_SINGLE`: a class whose first span served several blocks before it
/// emptied (git's delta buffers) is a class in use, and its span stays resident on the purge
/// clock; without the rule (`--cfg hakmem_no_span_purge_first_single`) it was purged at once and
/// its next blocks faulted the same pages in again. Returns the pages the first block kept.
fn class_in_use(delay_zero: bool) -> usize {
    // A class of 2 MiB spans of at most 15 blocks that the ladder above never used (its rungs are
    // powers of two: 128 KiB, 256 KiB, ...), between 144 and 160 KiB.
    const SIZE: usize = 150_000;
    // `take` passes each block through `black_box`: LLVM may otherwise remove the alloc, write and
    // free of blocks 1-3 (allocations freed unread), leaving a span that carved one block, which
    // `SPAN_PURGE_FIRST_SINGLE` purges at once (flaky28: release builds of 72d45c5..ad3c002).
    let served = hakmem::stats().medium_allocs;
    let blocks: Vec<*mut u8> = (0..4).map(|_| support::take(SIZE)).collect();
    if cfg!(feature = "stats") {
        let served = hakmem::stats().medium_allocs - served;
        assert_eq!(
            served, 4,
            "the class served all 4 blocks (an elided allocation, or one the profiler sampled?)"
        );
    }
    let first = blocks[0] as usize;
    let pages = resident_in(first, SIZE);
    for &p in &blocks {
        // The last free empties the span.
        support::give(p, SIZE);
    }
    let left = resident_in(first, SIZE);
    let purge_first = hakmem::config::SPAN_PURGE_FIRST_EMPTY;
    if !purge_first || hakmem::config::SPAN_PURGE_FIRST_SINGLE {
        if !delay_zero {
            assert_eq!(
                left,
                pages,
                "a class's first span emptied after serving 4 blocks stays resident \
                 ({left} of {pages} pages)\n{}",
                hakmem::stats()
            );
        }
    } else {
        assert_eq!(
            left, 0,
            "without SPAN_PURGE_FIRST_SINGLE the first emptied span is purged at once ({left} pages)"
        );
    }
    left
}
