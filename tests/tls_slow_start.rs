//! TLS list caps that grow with use under a per-thread budget (`config::TLS_SLOW_START`,
//! front/tls_limit.rs): a class whose frees and allocations alternate grows its list until the
//! walk fits, so the walk stops going back to its slabs; many busy classes together grow by at
//! most `TLS_GROW_BUDGET`; idle classes shrink back on the decay clock.
//!
//! Its own test binary: the counters are process-wide, so the tests here take `SERIAL` and no
//! other test may spill or refill while one counts.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::Mutex;
use std::thread;

use hakmem::config::{
    TLS_CAP_MAX, TLS_DECAY_REFILLS, TLS_GROW_BUDGET, TLS_SLOW_START, TLS_START_BYTES,
};
use hakmem::testing;
use hakmem::HakMem;

static A: HakMem = HakMem;
static SERIAL: Mutex<()> = Mutex::new(());

fn layout_of(c: usize) -> Layout {
    Layout::from_size_align(testing::class_size(c), 16).unwrap()
}

/// `rounds` times: frees the last `walk` blocks of `live`, then allocates `walk` again.
fn walk(layout: Layout, live: &mut Vec<*mut u8>, walk: usize, rounds: usize) {
    for _ in 0..rounds {
        for p in live.drain(live.len() - walk..) {
            // SAFETY: allocated with `layout` by `walk`'s caller or an earlier round, freed once.
            unsafe { A.dealloc(p, layout) };
        }
        for _ in 0..walk {
            // SAFETY: a valid layout.
            let p = unsafe { A.alloc(layout) };
            assert!(!p.is_null());
            live.push(p);
        }
    }
}

fn alloc_n(layout: Layout, n: usize) -> Vec<*mut u8> {
    // SAFETY: a valid layout; the caller frees each block once (`free_all`).
    (0..n).map(|_| unsafe { A.alloc(layout) }).collect()
}

fn free_all(layout: Layout, live: Vec<*mut u8>) {
    for p in live {
        // SAFETY: allocated with `layout` (`alloc_n`, `walk`), freed once.
        unsafe { A.dealloc(p, layout) };
    }
}

/// Takes `SERIAL`; `None` (nothing to test) without the switch.
fn serial_if_on() -> Option<std::sync::MutexGuard<'static, ()>> {
    if !TLS_SLOW_START {
        eprintln!("fixed TLS caps (no --cfg hakmem_tls_slow_start): nothing to test");
        return None;
    }
    Some(SERIAL.lock().unwrap_or_else(|e| e.into_inner()))
}

#[test]
fn a_walk_of_24_16k_blocks_grows_its_list_until_it_stays_there() {
    let Some(_g) = serial_if_on() else { return };
    let layout = Layout::from_size_align(16 * 1024, 16).unwrap();
    const WALK: usize = 24;
    let (spills, refills, cap) = thread::spawn(move || {
        let mut live = alloc_n(layout, 64);
        // Warm-up: the class grows by a batch at each refill that follows a spill.
        walk(layout, &mut live, WALK, 50);
        let before = hakmem::stats();
        walk(layout, &mut live, WALK, 1000);
        let after = hakmem::stats();
        let c = testing::class_for(layout.size(), layout.align()).unwrap();
        let cap = testing::tls_caps().0[c];
        free_all(layout, live);
        (
            after.spills - before.spills,
            after.refills - before.refills,
            cap,
        )
    })
    .join()
    .unwrap();
    eprintln!("1000 rounds of a walk of {WALK} 16 KiB blocks: {spills} spills, {refills} refills, cap {cap}");
    assert!(
        spills + refills <= 10,
        "the walk kept going back to the slabs: {spills} spills, {refills} refills (cap {cap})"
    );
}

#[test]
fn many_busy_classes_grow_within_the_budget_and_idle_ones_shrink_back() {
    let Some(_g) = serial_if_on() else { return };
    let n = testing::tls_caps().0.len();
    let size = |c: usize| testing::class_size(c);
    let start = |c: usize| (TLS_START_BYTES / size(c)).clamp(4, TLS_CAP_MAX);
    let bound: usize = (0..n).map(|c| start(c) * size(c)).sum::<usize>() + TLS_GROW_BUDGET;
    let (caps, grown, one) = thread::spawn(move || {
        // Every class walks between over its cap and empty, so every one asks to grow.
        for c in 0..n {
            let layout = layout_of(c);
            let w = (512 * 1024 / size(c)).clamp(8, 1024);
            let mut live = alloc_n(layout, w);
            walk(layout, &mut live, w, 12);
            free_all(layout, live);
        }
        let (caps, grown) = testing::tls_caps();
        // Then one class alone, for more than a decay period: the others go back to their start.
        let c = n - 1;
        let layout = layout_of(c);
        let first = hakmem::stats().refills;
        while hakmem::stats().refills - first < 3 * TLS_DECAY_REFILLS as u64 {
            free_all(layout, alloc_n(layout, 64));
        }
        let one = testing::tls_caps();
        (caps, grown, one)
    })
    .join()
    .unwrap();
    let held: usize = caps
        .iter()
        .enumerate()
        .map(|(c, &k)| k as usize * size(c))
        .sum();
    eprintln!(
        "{n} busy classes: caps hold {} KiB (bound {} KiB), grown {} KiB; after one class alone: grown {} KiB",
        held >> 10,
        bound >> 10,
        grown >> 10,
        one.1 >> 10
    );
    assert!(
        held <= bound,
        "the thread's TLS caps hold {held} B, over the start caps plus the budget ({bound} B)"
    );
    assert!(
        grown > TLS_GROW_BUDGET / 2,
        "the busy classes grew by only {grown} B"
    );
    let others: usize = (0..n - 1)
        .map(|c| (one.0[c] as usize - start(c)) * size(c))
        .sum();
    assert_eq!(
        others, 0,
        "idle classes kept {others} B of grown caps over the decay clock"
    );
}
