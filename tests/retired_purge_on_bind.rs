//! `config::RETIRED_PURGE_ON_BIND`: a heap about to bind a new span (not a rebind) first gives
//! back, purged, its retired current spans of other span sizes. Class A (4 MiB spans) carves two
//! blocks, writes them and frees them, so its current span empties and is retired (two blocks:
//! the first-empty purge of one-block spans, `SPAN_PURGE_FIRST_SINGLE`, leaves it alone); class
//! B (8 MiB spans), never used before, binds a new span: A's pages are no longer resident (B's
//! bind takes the live span bytes past their high, 4 MiB, so `config::RETIRED_PURGE_HIGH` purges
//! at once; below the high, tests/retired_purge_high.rs). Before
//! (and under `--cfg hakmem_no_retired_purge_on_bind`, which the backout arm asserts) A's span
//! stayed resident for the whole purge delay (1 s) — cc1's extra peak RSS. Without the test
//! harness (`harness = false`): the process's first medium spans are bound here, in the main
//! thread.

mod support;

use std::alloc::{alloc, dealloc, Layout};

use support::thp::resident_pages;

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const PAGE: usize = 4096;

/// Class A: 320 KiB blocks, in 4 MiB spans.
const A: usize = 320 << 10;
/// Class B: 640 KiB blocks, in 8 MiB spans.
const B: usize = 640 << 10;

fn main() {
    if !cfg!(feature = "medium") {
        println!("retired_purge_on_bind: skipped (no medium tier)");
        return;
    }
    // With a purge delay of 0 (or the background purger) an emptied current span is not kept
    // retired; with -1 nothing is purged.
    let delay = std::env::var("HAKMEM_PURGE_DELAY_MS").ok();
    let background = std::env::var("HAKMEM_BACKGROUND").is_ok_and(|v| v == "1");
    if delay.is_some() || background {
        println!("retired_purge_on_bind: skipped (HAKMEM_PURGE_DELAY_MS or HAKMEM_BACKGROUND set)");
        return;
    }
    let on = hakmem::config::RETIRED_PURGE_ON_BIND;
    let lb = Layout::from_size_align(B, 16).unwrap();
    // `take` passes each block through `black_box`: LLVM may otherwise remove the second block's
    // alloc, write and free (an allocation freed unread), and A's span, having carved one block,
    // falls under `SPAN_PURGE_FIRST_SINGLE` and is purged at once (flaky28: release builds of
    // 72d45c5..ad3c002 did exactly that).
    let served = hakmem::stats().medium_allocs;
    let blocks: Vec<*mut u8> = (0..2).map(|_| support::take(A)).collect();
    if cfg!(feature = "stats") {
        let served = hakmem::stats().medium_allocs - served;
        assert_eq!(
            served, 2,
            "class A served both blocks (an elided allocation, or one the profiler sampled?)"
        );
    }
    let a = blocks[0] as usize;
    assert_eq!(resident_pages(a, A), A / PAGE, "A's block written");
    for &p in &blocks {
        // The last free empties A's current span.
        support::give(p, A);
    }
    let kept = resident_pages(a, A);
    assert!(
        kept >= A / PAGE - 1,
        "A's emptied span is retired, still resident ({kept} pages)"
    );
    // SAFETY: a non-zero size.
    let q = std::hint::black_box(unsafe { alloc(lb) });
    assert!(!q.is_null(), "alloc({B})");
    // SAFETY: the block is ours, `B` bytes (written so the allocation is not optimised away).
    unsafe { q.write(2) };
    let left = resident_pages(a, A);
    if on {
        assert_eq!(
            left,
            0,
            "B's bind purged A's retired span ({left} of {} pages resident)",
            A / PAGE
        );
    } else {
        assert!(
            left >= A / PAGE - 1,
            "without the switch A's span stays resident ({left} pages)"
        );
    }
    // SAFETY: allocated above with `lb`, freed once.
    unsafe { dealloc(q, lb) };
    println!("retired_purge_on_bind: ok (switch {on}; A's first block: {left} of {} pages resident after B's bind)", A / PAGE);
}
