//! `config::SPAN_THP_UNFILLED_CAP`: a dense fill of one medium class does not make every other
//! class's first span a huge page. One thread fills a span of 200 KiB blocks, writing them (a
//! dense first fill: `SPAN_THP_GROWTH`'s streak), then takes one 36-192 KiB block in each of 20
//! other medium classes, each the first of its class, so each maps a fresh span of 2 MiB; they
//! never fill. With the streak alone (the backout, `--cfg hakmem_no_span_thp_unfilled_cap`) every
//! one of those spans was collapsed at birth: 20 huge pages, RSS +40 MiB for 2 MiB of blocks (a
//! heap of many classes with a few blocks each: scripts/fork-bench/fork_bench.c's four threads
//! of 4-256 KiB blocks, docs/benchmarks.md "Session 26: mem26"). With the cap at most
//! `SPAN_THP_UNFILLED_MAX` collapsed spans wait to fill. The test asserts the spans collapsed
//! (`spans_collapsed`) and the RSS the 20 blocks add. Under the backout it prints and asserts
//! nothing unless `SPAN_THP_UNFILLED_ASSERT` is set (how it was seen to fail on the old code).
//!
//! Then (`config::SPAN_THP_UNFILLED_EXPIRY`), with the cap's slots held by those spans (bound,
//! sparse, never filling), a class new to the heap grows densely over ~19 spans of 248 KiB
//! blocks: at least one of them must be born on huge pages again (2 now; 0 on the old code, where
//! the slots were held for good: seen failing with `SPAN_THP_EXPIRY_ASSERT=1` on the backout
//! build, "none was born on huge pages (the slots never came back)"). Not asserted where the
//! first part did not fill the cap, or where a quiet period of the host's skipped collapses.
//! Skipped where the kernel cannot collapse (no `MADV_COLLAPSE`, THP off), in THP mode `always`
//! (every fault may be a huge page), with `HAKMEM_THP=0` or without stats. Without the test
//! harness (`harness = false`): the process's first medium spans are mapped here.

mod support;

use std::alloc::{alloc, dealloc, Layout};

use support::thp::{thp_always, thp_available};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const MIB: usize = 1 << 20;
const KIB: usize = 1 << 10;

/// The class whose span fills densely: ten blocks of 200 KiB a 2 MiB span.
const DENSE: usize = 200 * KIB;
/// One block each of 20 other medium classes, all in 2 MiB spans.
/// A class new to the heap that grows densely after the cap filled (`SPAN_THP_UNFILLED_EXPIRY`):
/// seven blocks a 2 MiB span.
const GROWER: usize = 248 * KIB;
const OTHERS: [usize; 20] = [
    36, 40, 44, 48, 52, 56, 60, 64, 72, 80, 88, 96, 104, 112, 120, 128, 144, 160, 176, 192,
];

fn take(size: usize) -> (*mut u8, Layout) {
    let l = Layout::from_size_align(size, 16).unwrap();
    // SAFETY: a non-zero size. `black_box`: LLVM may remove a block freed unread (flaky28).
    let p = std::hint::black_box(unsafe { alloc(l) });
    assert!(!p.is_null(), "alloc({size})");
    // SAFETY: the block is ours, `size` bytes.
    unsafe { p.write_bytes(7, size) };
    (p, l)
}

fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn main() {
    if !cfg!(feature = "medium") || !cfg!(feature = "stats") {
        println!("span_thp_unfilled: skipped (needs the medium tier and stats)");
        return;
    }
    if !thp_available() || thp_always() || std::env::var("HAKMEM_THP").is_ok_and(|v| v == "0") {
        println!("span_thp_unfilled: skipped (no huge pages at birth to count here)");
        return;
    }
    // Eleven blocks: the first span fills with ten, the eleventh maps the next span (collapsed:
    // the fill was dense).
    let mut blocks: Vec<_> = (0..11).map(|_| take(DENSE)).collect();
    let before = hakmem::stats();
    let rss_before = rss();
    blocks.extend(OTHERS.iter().map(|&k| take(k * KIB)));
    let after = hakmem::stats();
    let grown = rss().saturating_sub(rss_before);
    let collapsed = after.spans_collapsed - before.spans_collapsed;
    let live: usize = OTHERS.iter().map(|k| k * KIB).sum();
    println!(
        "span_thp_unfilled: the dense fill collapsed {} span(s); the 20 first spans after it: \
         {collapsed} collapsed, RSS +{:.1} MiB for {:.1} MiB of blocks",
        before.spans_collapsed,
        grown as f64 / MIB as f64,
        live as f64 / MIB as f64
    );
    // The cap is full of spans that stay bound and sparse. A class new to the heap now grows
    // densely (`GROWER`, 40 spans' worth): with the slots held for good (before
    // `SPAN_THP_UNFILLED_EXPIRY`) none of its spans is born on huge pages; with the expiry the
    // slots come back after `SPAN_THP_UNFILLED_PATIENCE` fills and its spans collapse again.
    let cap = hakmem::config::SPAN_THP_UNFILLED_MAX as u64;
    let mid = hakmem::stats();
    let grower: Vec<_> = (0..40 * 7).map(|_| take(GROWER)).collect();
    let grown_stats = hakmem::stats();
    let regrown = grown_stats.spans_collapsed - mid.spans_collapsed;
    println!(
        "span_thp_unfilled: with the cap's slots held by sparse spans, a new class grew {} \
         spans, {regrown} collapsed at birth ({} collapses skipped)",
        grown_stats.spans_mapped - mid.spans_mapped,
        grown_stats.thp_collapses_skipped - mid.thp_collapses_skipped
    );
    for (p, l) in grower {
        // SAFETY: taken above with this layout, freed once.
        unsafe { dealloc(p, l) };
    }
    for (p, l) in blocks {
        // SAFETY: taken above with this layout, freed once.
        unsafe { dealloc(p, l) };
    }
    if (hakmem::config::SPAN_THP_UNFILLED_EXPIRY
        || std::env::var_os("SPAN_THP_EXPIRY_ASSERT").is_some())
        && before.spans_collapsed + collapsed >= cap
        // A quiet period after the host's own slow collapses skips them (`THP_COLLAPSE_BACKOFF`):
        // nothing to check then.
        && grown_stats.thp_collapses_skipped == mid.thp_collapses_skipped
    {
        assert!(
            regrown > 0,
            "a new class grew densely over {} spans while the cap's {cap} slots were held by \
             sparse spans: none was born on huge pages (the slots never came back)\n{grown_stats}",
            grown_stats.spans_mapped - mid.spans_mapped
        );
    }
    if !hakmem::config::SPAN_THP_UNFILLED_CAP
        && std::env::var_os("SPAN_THP_UNFILLED_ASSERT").is_none()
    {
        println!(
            "span_thp_unfilled: backout (--cfg hakmem_no_span_thp_unfilled_cap): not asserted"
        );
        return;
    }
    assert!(
        before.spans_collapsed + collapsed <= cap,
        "{} spans collapsed at birth and none filled since (at most {cap})\n{after}",
        before.spans_collapsed + collapsed
    );
    // Each collapsed span holds 2 MiB; the others only their block's pages.
    let bound = cap as usize * 2 * MIB + live + 2 * MIB;
    assert!(
        grown <= bound,
        "20 blocks of {:.1} MiB grew RSS by {:.1} MiB (at most {:.1})\n{after}",
        live as f64 / MIB as f64,
        grown as f64 / MIB as f64,
        bound as f64 / MIB as f64
    );
}
