//! cfrac-like stress: one thread making many short-lived tiny allocations of odd sizes, the way
//! cfrac's bignum arithmetic does — temporaries of a few words created and freed for every
//! operation, with a small working set of longer-lived numbers.
//!
//! Claims checked: every temporary and every working-set number holds its id's pattern until it
//! is freed (`TestBlock` verifies on drop, and the working set is re-verified every 1,000
//! operations); resizing a number with `realloc` keeps its prefix;
//! the allocator's footprint does not grow without bound (after `collect`, another run of the
//! same workload maps no further SuperSlabs, when `stats` is on); nothing hangs (watchdog:
//! 120 s × `HAKMEM_TEST_SCALE`). Scale: 60,000 operations, times `HAKMEM_TEST_SCALE`.

mod common;

use common::{arm_watchdog, scale, TestBlock, XorShift};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const OPS: usize = 60_000;
const WORKING_SET: usize = 24;

/// An odd size from 1 to 127 bytes, small ones most often.
fn odd_size(rng: &mut XorShift) -> usize {
    let max = if rng.chance(3, 4) { 32 } else { 128 };
    (rng.below(max / 2) * 2 + 1).min(127)
}

fn workload(seed: u64, ops: usize) {
    let mut rng = XorShift::new(seed);
    let mut next_id = seed << 32;
    let mut id = || {
        next_id += 1;
        next_id
    };
    let mut numbers: Vec<TestBlock> = (0..WORKING_SET)
        .map(|_| TestBlock::new(odd_size(&mut rng), 1, id()))
        .collect();
    for op in 0..ops {
        // An arithmetic step: a few temporaries, freed in a varying order.
        let temps: Vec<TestBlock> = (0..1 + rng.below(4))
            .map(|_| TestBlock::new(odd_size(&mut rng), 1, id()))
            .collect();
        if rng.chance(1, 2) {
            drop(temps);
        } else {
            temps.into_iter().rev().for_each(drop);
        }
        // Sometimes a working-set number grows or shrinks in place of a new one (realloc).
        if rng.chance(1, 4) {
            let i = rng.below(WORKING_SET);
            let n = numbers.swap_remove(i);
            let new_size = odd_size(&mut rng);
            numbers.push(n.resize(new_size));
        }
        if op % 1000 == 999 {
            numbers.iter().for_each(|n| n.verify("in the working set"));
        }
    }
}

#[test]
fn short_lived_odd_sized_tiny_allocations() {
    arm_watchdog("stress_cfrac", 120);
    let ops = OPS * scale();
    workload(1, ops);
    hakmem::collect();
    let mapped = hakmem::stats().superslabs_mapped;
    workload(2, ops);
    hakmem::collect();
    if cfg!(feature = "stats") {
        assert_eq!(
            hakmem::stats().superslabs_mapped,
            mapped,
            "a second run of the same single-threaded workload mapped more SuperSlabs"
        );
    }
}
