//! A spill returns blocks to their slabs (`small::return_blocks`): a run into a full slab moves
//! it to the partial list, a run into a slab that still has blocks out and is not full leaves it
//! where it is (`config::SPILL_RETURN_SKIP` skips only that call). So after every second block
//! of a class is freed (spilled back, most runs one block long, as when a map is dropped), the
//! next requests of the class come from the same slabs: none from a new one.
//!
//! Its own test binary: the slabs bound here are the only ones of the class in the process.

use std::alloc::{GlobalAlloc, Layout};
use std::collections::HashSet;
use std::thread;

use hakmem::testing;
use hakmem::HakMem;

static A: HakMem = HakMem;

fn slab_of(block: usize) -> (usize, usize) {
    let info = testing::block_info(block as *const u8).expect("a small block");
    (info.superslab, info.slab)
}

#[test]
fn spilled_blocks_are_reused_before_a_new_slab() {
    let layout = Layout::from_size_align(64, 16).unwrap();
    thread::spawn(move || {
        // SAFETY: a valid layout; every block is freed once, below.
        let alloc = || unsafe { A.alloc(layout) } as usize;
        // SAFETY: `b` is a live block of `layout`, freed once.
        let free = |b: usize| unsafe { A.dealloc(b as *mut u8, layout) };
        let blocks: Vec<usize> = (0..16_384).map(|_| alloc()).collect();
        assert!(blocks.iter().all(|&b| b != 0));
        let slabs: HashSet<(usize, usize)> = blocks.iter().map(|&b| slab_of(b)).collect();
        assert!(slabs.len() >= 8, "{} slabs", slabs.len());
        let kept: Vec<usize> = blocks.iter().step_by(2).copied().collect();
        let freed: Vec<usize> = blocks.iter().skip(1).step_by(2).copied().collect();
        for &b in &freed {
            free(b);
        }
        let again: Vec<usize> = (0..freed.len()).map(|_| alloc()).collect();
        let elsewhere = again
            .iter()
            .filter(|&&b| !slabs.contains(&slab_of(b)))
            .count();
        assert_eq!(
            elsewhere,
            0,
            "{elsewhere} of {} blocks came from new slabs while {} slabs had free blocks",
            again.len(),
            slabs.len()
        );
        for b in kept.into_iter().chain(again) {
            free(b);
        }
    })
    .join()
    .expect("test thread");
}
