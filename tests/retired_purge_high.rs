//! `config::RETIRED_PURGE_HIGH`: the purge on bind (`config::RETIRED_PURGE_ON_BIND`) purges a
//! heap's retired spans at age 0 only while the bind takes the live span bytes (bound, not
//! retired) to a new high; below the high it leaves a small retired span (at most
//! `RETIRED_HOLD_MAX_BYTES` carved and resident) alone until it has been empty for
//! `RETIRED_PURGE_IDLE_MS`, if its class retired a span before (it churns).
//!
//! Four classes E of 4 MiB spans hold a block each (the high: 16 MiB live), then free them. Three
//! classes X of 2 MiB spans carve two blocks each, written and freed, twice: their current spans
//! are retired (twice: the classes churn). 20 ms later (the purge clock advanced, no sleeping)
//! class B binds a 4 MiB span, below the high: X's first span keeps its pages with the policy; without it (the old code, `--cfg
//! hakmem_no_retired_purge_high`) B's bind purges them, and a program whose classes come back
//! (git log -p) faults them in again. 100 ms later class C binds, still below the high: X's span,
//! idle since, is purged under both. Then X comes back and empties again, and two classes G of 8
//! MiB spans bind: the second takes the live bytes past the high, and purges X's young span at
//! once under both (a growing program's peak, cc1's), unless `config::RETIRED_PURGE_ROUNDS` holds
//! it: X came back below the high after C's bind purged its span (a rung). Without the test harness: the process's
//! first medium spans are bound here, in the main thread.

mod support;

use support::thp::resident_pages;
use support::{give, take};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const PAGE: usize = 4096;
/// Classes of 4 MiB spans that set the high.
const E: [usize; 4] = [256 << 10, 320 << 10, 384 << 10, 448 << 10];
/// Classes of 2 MiB spans that retire and come back.
const X: [usize; 3] = [40 << 10, 48 << 10, 56 << 10];
/// Classes of 4 MiB spans that bind below the high.
const B: usize = 288 << 10;
const C: usize = 416 << 10;
/// Classes of 8 MiB spans that bind past the high.
const G: [usize; 2] = [640 << 10, 768 << 10];

/// Two written blocks of each X class, freed again so that every X span empties. Returns the
/// first block of the first class.
fn round() -> usize {
    let blocks: Vec<(*mut u8, usize)> = X
        .iter()
        .flat_map(|&size| [(take(size), size), (take(size), size)])
        .collect();
    let first = blocks[0].0 as usize;
    for (p, size) in blocks {
        give(p, size);
    }
    first
}

fn main() {
    if !cfg!(feature = "medium") || !hakmem::config::RETIRED_PURGE_ON_BIND {
        println!("retired_purge_high: skipped (no medium tier or no purge on bind)");
        return;
    }
    let delay = std::env::var("HAKMEM_PURGE_DELAY_MS").ok();
    let background = std::env::var("HAKMEM_BACKGROUND").is_ok_and(|v| v == "1");
    if delay.is_some() || background {
        println!("retired_purge_high: skipped (HAKMEM_PURGE_DELAY_MS or HAKMEM_BACKGROUND set)");
        return;
    }
    let on = hakmem::config::RETIRED_PURGE_HIGH;
    let pages = X[0] / PAGE;

    // The high: four 4 MiB spans live at once.
    let e: Vec<*mut u8> = E.iter().map(|&s| take(s)).collect();
    for (&p, &s) in e.iter().zip(&E) {
        give(p, s);
    }

    hakmem::testing::advance_purge_clock(20);
    // Twice: a class whose span empties again churns it (one-off classes are not held).
    let a = round();
    round();
    assert!(
        resident_pages(a, X[0]) >= pages - 1,
        "X's emptied span is retired, resident"
    );

    hakmem::testing::advance_purge_clock(20);
    let b = take(B);
    let kept = resident_pages(a, X[0]);
    if on {
        assert!(
            kept >= pages - 1,
            "below the high B's bind leaves X's young span its pages ({kept} of {pages})"
        );
    } else {
        assert_eq!(
            kept, 0,
            "without the policy B's bind purges X's span at once"
        );
    }

    hakmem::testing::advance_purge_clock(100);
    let c = take(C);
    let idle = resident_pages(a, X[0]);
    assert_eq!(
        idle, 0,
        "X's span, idle 120 ms, is purged at C's bind ({idle} pages)"
    );

    // X comes back (its span from the cache) and empties again; then the heap grows.
    hakmem::testing::advance_purge_clock(20);
    let a2 = round();
    assert_eq!(
        a2, a,
        "X's first class binds its span again (class-affine cache)"
    );
    assert!(
        resident_pages(a, X[0]) >= pages - 1,
        "X's span written again"
    );
    hakmem::testing::advance_purge_clock(20);
    let g: Vec<*mut u8> = G.iter().map(|&s| take(s)).collect();
    let grown = resident_pages(a, X[0]);
    if hakmem::config::RETIRED_PURGE_ROUNDS {
        // X came back below the high after C's bind purged its span: a rung
        // (`RETIRED_PURGE_ROUNDS`), held at the high too (tests/retired_purge_ladder.rs).
        assert!(
            grown >= pages - 1,
            "X came back after its purge: the bind past the high leaves its span ({grown} pages)"
        );
    } else {
        assert_eq!(
            grown, 0,
            "the bind past the high purges X's young span at once ({grown} pages)"
        );
    }

    for (p, s) in [(b, B), (c, C)].into_iter().chain(g.into_iter().zip(G)) {
        give(p, s);
    }
    println!(
        "retired_purge_high: ok (policy {on}; X's span after B's bind: {kept} of {pages} pages)"
    );
}
