//! A thread's TLS list of a class holds `config::TLS_BYTES` of its blocks (at most
//! `TLS_CAP_MAX`), so a class whose frees and allocations alternate walks the list up and down
//! without going back to its slabs: with `config::WIDE_TLS_LISTS` (128 KiB), a walk of five
//! 16 KiB blocks neither spills nor refills; with 64 KiB (cap 4) every round spilled and
//! refilled (rreplace-x's random replacement over 16-16,000 B, docs/benchmarks.md "Session 16:
//! xt19").
//!
//! Its own test binary: the counters are process-wide, so no other test may spill or refill
//! while it counts.

use std::alloc::{GlobalAlloc, Layout};
use std::thread;

use hakmem::config::{SLAB_SIZE, TLS_BYTES, TLS_CAP_MAX, TLS_SLOW_START, WIDE_TLS_LISTS};
use hakmem::testing;
use hakmem::HakMem;

static A: HakMem = HakMem;

#[test]
fn a_walk_of_five_16k_blocks_stays_on_the_thread_list() {
    let layout = Layout::from_size_align(16 * 1024, 16).unwrap();
    let c = testing::class_for(layout.size(), layout.align()).expect("a small class");
    let size = testing::class_size(c);
    let cap = (TLS_BYTES / size).clamp(4, TLS_CAP_MAX);
    // After a refill the list holds at most a slab's other blocks; the walk fits on top of them.
    const WALK: usize = 5;
    let room = cap.saturating_sub(SLAB_SIZE / size - 1);
    if !WIDE_TLS_LISTS {
        eprintln!("TLS lists of 64 KiB (--cfg hakmem_no_wide_tls): cap {cap}, nothing to test");
        return;
    }
    assert!(
        room >= WALK,
        "class of {size} B: cap {cap} leaves room for {room} blocks"
    );
    let (spills, refills) = thread::spawn(move || {
        // SAFETY: a valid layout; every block is freed once below.
        let alloc = || unsafe { A.alloc(layout) };
        let mut live: Vec<*mut u8> = (0..32).map(|_| alloc()).collect();
        assert!(live.iter().all(|p| !p.is_null()));
        let mut rounds = |n: usize| {
            for _ in 0..n {
                for p in live.drain(live.len() - WALK..) {
                    // SAFETY: allocated above with `layout`, freed once.
                    unsafe { A.dealloc(p, layout) };
                }
                for _ in 0..WALK {
                    let p = alloc();
                    assert!(!p.is_null());
                    live.push(p);
                }
            }
        };
        if TLS_SLOW_START {
            // The cap starts at `TLS_START_BYTES` and grows by a batch per spill-then-refill
            // (front/tls_limit.rs): the walk fits after a few rounds.
            rounds(20);
        }
        let before = hakmem::stats();
        rounds(1000);
        let after = hakmem::stats();
        for p in live {
            // SAFETY: allocated above with `layout`, freed once.
            unsafe { A.dealloc(p, layout) };
        }
        (after.spills - before.spills, after.refills - before.refills)
    })
    .join()
    .unwrap();
    eprintln!("1000 rounds of a walk of {WALK} blocks of {size} B (cap {cap}): {spills} spills, {refills} refills");
    assert_eq!(
        (spills, refills),
        (0, 0),
        "the walk went back to the slabs: the TLS list of {size} B blocks holds fewer than {WALK} on top of a refill"
    );
}
