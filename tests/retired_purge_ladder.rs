//! `config::RETIRED_PURGE_ROUNDS`: the purge on bind (`config::RETIRED_PURGE_ON_BIND`) leaves
//! alone the retired span of a class that came back below the heap's high after such a purge took
//! its span, as Lua's tables do when they climb the same ladder of doubling blocks round after
//! round; a one-off class, and a class that comes back while the heap grows past its high, are
//! still purged.
//!
//! A ladder of three rungs R (64 KiB in a 2 MiB span, 320 KiB in a 4 MiB span, 640 KiB in an
//! 8 MiB span) is climbed four times: R0's block is written and freed while R1's is live, 150 ms
//! pass (the purge clock advanced, no sleeping: past `RETIRED_PURGE_IDLE_MS`, so `RETIRED_PURGE_HIGH`
//! holds nothing), and R2 binds its span. In the first round R0's span is purged at that bind
//! under both builds (nothing says yet that R0 comes back). In the next rounds R0 came back below
//! the high set by the first climb, so with the policy its retired span keeps its pages; without
//! it (the old code, `--cfg hakmem_no_retired_purge_rounds`) every round purges it again and the
//! next round faults it back. Then a one-off class Q (96 KiB, 2 MiB span) is purged at the next
//! bind of another size; it comes back once while two big live blocks (1 and 2 MiB, 16 and 32 MiB
//! spans) hold the heap above its old high, and the next bind (3 MiB) purges it again under both
//! builds. Without the test harness: the process's first medium spans are bound here, in the
//! main thread.

mod support;

use support::thp::resident_pages;
use support::{give, take};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const PAGE: usize = 4096;
/// The rungs: three classes of three span sizes.
const R: [usize; 3] = [64 << 10, 320 << 10, 640 << 10];
const ROUNDS: usize = 4;
/// A one-off class (a 2 MiB span); two classes of span sizes nothing retired holds (16 and
/// 32 MiB) that take the heap to a new high; a class (32 MiB span) whose bind purges Q again.
const Q: usize = 96 << 10;
const O: [usize; 2] = [1 << 20, 2 << 20];
const G: usize = 3 << 20;

/// One climb of the ladder; R0's resident pages right after R2's bind.
fn climb() -> usize {
    let p0 = take(R[0]);
    let p1 = take(R[1]);
    give(p0, R[0]);
    hakmem::testing::advance_purge_clock(150);
    let p2 = take(R[2]);
    let kept = resident_pages(p0 as usize, R[0]);
    give(p1, R[1]);
    give(p2, R[2]);
    hakmem::testing::advance_purge_clock(150);
    kept
}

fn main() {
    if !cfg!(feature = "medium") || !hakmem::config::RETIRED_PURGE_ON_BIND {
        println!("retired_purge_ladder: skipped (no medium tier or no purge on bind)");
        return;
    }
    let delay = std::env::var("HAKMEM_PURGE_DELAY_MS").ok();
    let background = std::env::var("HAKMEM_BACKGROUND").is_ok_and(|v| v == "1");
    if delay.is_some() || background {
        println!("retired_purge_ladder: skipped (HAKMEM_PURGE_DELAY_MS or HAKMEM_BACKGROUND set)");
        return;
    }
    let on = hakmem::config::RETIRED_PURGE_ROUNDS;
    let pages = R[0] / PAGE;
    let kept: Vec<usize> = (0..ROUNDS).map(|_| climb()).collect();
    assert_eq!(
        kept[0], 0,
        "the first climb purges R0's span at R2's bind: nothing says it comes back ({kept:?})"
    );
    for (round, &k) in kept.iter().enumerate().skip(1) {
        if on {
            assert!(
                k >= pages - 1,
                "round {round}: R0 came back after its purge, its retired span keeps its pages \
                 ({k} of {pages}; all rounds {kept:?})"
            );
        } else {
            assert_eq!(
                k, 0,
                "round {round}: without the policy R2's bind purges R0's span every round ({kept:?})"
            );
        }
    }
    // A one-off class: purged at the next bind of another size (O[0]'s) under both builds.
    let q = take(Q);
    give(q, Q);
    hakmem::testing::advance_purge_clock(150);
    let o0 = take(O[0]);
    let once = resident_pages(q as usize, Q);
    assert_eq!(once, 0, "the one-off class Q is purged at O[0]'s bind");
    // Growth: O[1] takes the heap to a new high, and Q comes back above it: no rung, so the next
    // bind of another size (G's) purges Q's span again.
    let o1 = take(O[1]);
    let q = take(Q);
    give(q, Q);
    hakmem::testing::advance_purge_clock(150);
    let g = take(G);
    let grown = resident_pages(q as usize, Q);
    assert_eq!(
        grown,
        0,
        "Q, back while the heap grew past its high, is purged again at G's bind ({} of {} pages)",
        grown,
        Q / PAGE
    );
    give(g, G);
    give(o1, O[1]);
    give(o0, O[0]);
    if on && hakmem::config::STATS {
        let back = hakmem::stats().retired_ladder_comebacks;
        assert!(back >= 1, "R0's comeback is counted ({back})");
    }
    println!(
        "retired_purge_ladder: ok (policy {on}; R0's pages after R2's bind by round: {kept:?})"
    );
}
