//! `config::SPAN_REBIND_RETIRED`: a heap about to bind a new span of a size the span cache holds
//! no committed span of first rebinds one of its own retired current spans of another class of
//! that span size (emptied at least `SPAN_REBIND_AGE_MS` ago, still resident, waiting out the
//! purge delay). Class A's blocks are written and freed, so its current span empties and is
//! retired; class C, asked for at once, does not get it; class B, never used before, asked for
//! after a sleep, gets A's span: its first block lies in A's span and its pages are resident
//! before B's block is written (no page fault, no fresh mapping). Without the rebind (`--cfg
//! hakmem_no_span_rebind_retired`) B carved an untouched span: another base, no page resident,
//! one more span mapped — the backout arm asserts that. Without the test harness (`harness =
//! false`): the process's first medium spans are bound here, in the main thread.

mod support;

use std::alloc::{alloc, dealloc, Layout};
use std::time::{Duration, Instant};

use support::thp::resident_pages;

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const PAGE: usize = 4096;

/// Class A's and class B's sizes: both in 2 MiB spans (many blocks a span, so the first-empty
/// purge, `SPAN_PURGE_FIRST_EMPTY`, leaves them alone).
const A: usize = 48 << 10;
const B: usize = 64 << 10;
/// A third class of 2 MiB spans, asked for at once after A's span emptied.
const C: usize = 80 << 10;
const SPAN: usize = 2 << 20;

fn main() {
    if !cfg!(feature = "medium") {
        println!("span_rebind: skipped (no medium tier: these sizes take the large path)");
        return;
    }
    // With a purge delay of 0 (or the background purger) an emptied current span is not kept
    // retired: it goes to the span cache at the heap's next bind (at once), for any class.
    let delay_zero = std::env::var("HAKMEM_PURGE_DELAY_MS").is_ok_and(|v| v == "0");
    let background = std::env::var("HAKMEM_BACKGROUND").is_ok_and(|v| v == "1");
    if delay_zero || background {
        println!("span_rebind: skipped (no retired spans with HAKMEM_PURGE_DELAY_MS=0 or HAKMEM_BACKGROUND=1)");
        return;
    }
    let stats = cfg!(feature = "stats");
    let rebind = hakmem::config::SPAN_REBIND_RETIRED;
    let lb = Layout::from_size_align(B, 16).unwrap();
    let lc = Layout::from_size_align(C, 16).unwrap();
    // `take` passes each block through `black_box`: LLVM may otherwise remove blocks 1-3 (freed
    // unread), and a span that carved one block is purged at once (`SPAN_PURGE_FIRST_SINGLE`;
    // flaky28).
    let blocks: Vec<*mut u8> = (0..4).map(|_| support::take(A)).collect();
    let span_a = blocks[0] as usize & !(SPAN - 1);
    for &p in &blocks {
        // The last free empties A's current span.
        support::give(p, A);
    }
    // At once, class C gets no span of A's (`SPAN_REBIND_AGE_MS`: a class churning its span is
    // not robbed of it); asserted only when nothing stalled this thread for a millisecond.
    let t = Instant::now();
    // SAFETY: a non-zero size.
    let r = unsafe { alloc(lc) };
    let quick = t.elapsed() < Duration::from_millis(1);
    assert!(!r.is_null(), "alloc({C})");
    if quick {
        assert_ne!(
            r as usize & !(SPAN - 1),
            span_a,
            "class C, at once, took A's span emptied under {} ms ago",
            hakmem::config::SPAN_REBIND_AGE_MS
        );
    }
    // Then A's span has been empty for longer than the age.
    std::thread::sleep(Duration::from_millis(
        4 * hakmem::config::SPAN_REBIND_AGE_MS + 10,
    ));
    let before = hakmem::stats();
    let rebound_before = hakmem::testing::spans_rebound();
    // SAFETY: a non-zero size.
    let q = unsafe { alloc(lb) };
    assert!(!q.is_null(), "alloc({B})");
    let after = hakmem::stats();
    let span_b = q as usize & !(SPAN - 1);
    // B's first block, before anything writes it (its first page holds the carve's words).
    let resident = resident_pages(q as usize, B);
    let mapped = after.spans_mapped - before.spans_mapped;
    let rebound = hakmem::testing::spans_rebound() - rebound_before;
    if rebind {
        assert_eq!(
            span_b, span_a,
            "class B took class A's retired span ({span_a:#x}), not {span_b:#x}\n{after}"
        );
        assert_eq!(
            resident,
            B / PAGE,
            "B's first block lies on A's resident pages ({resident} of {} resident)",
            B / PAGE
        );
        if stats {
            assert_eq!(
                (mapped, rebound),
                (0, 1),
                "no span mapped, one rebound\n{after}"
            );
        }
    } else {
        assert_ne!(span_b, span_a, "without the rebind B carves another span");
        assert!(
            resident <= 1,
            "without the rebind B's block is untouched ({resident} pages resident)"
        );
        if stats {
            assert_eq!((mapped, rebound), (1, 0), "a fresh span mapped\n{after}");
        }
    }
    // SAFETY: allocated above with `lb` and `lc`, freed once.
    unsafe {
        dealloc(q, lb);
        dealloc(r, lc);
    }
    println!(
        "span_rebind: ok (rebind {rebind}; B's block in A's span: {}, {resident} of {} pages \
         resident, {mapped} span mapped)",
        span_b == span_a,
        B / PAGE
    );
}
