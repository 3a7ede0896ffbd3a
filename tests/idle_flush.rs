//! A heap that must grow first returns the TLS lists of classes idle since its last growth
//! (`config::IDLE_FLUSH`, `small::flush_idle`): blocks parked on an idle class's list no longer
//! keep that class's slabs bound, so those slabs go back to the pool and the growing class binds
//! them instead of new ones. gawk's pattern (docs/benchmarks.md, "Session 28: gawk28"): strings
//! grow through one class after another, and each class the wave has left keeps its slabs, every
//! one held by a few blocks on the TLS list.
//!
//! Its own test binary: the pool's free slabs are this test's alone.

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
fn an_idle_class_list_gives_its_slabs_back_when_the_heap_grows() {
    let small = Layout::from_size_align(64, 16).unwrap();
    let big = Layout::from_size_align(128, 16).unwrap();
    thread::spawn(move || {
        // SAFETY: valid layouts; every block is freed once, below.
        let alloc = |l: Layout| unsafe { A.alloc(l) } as usize;
        // SAFETY: `b` is a live block of `l`, freed once.
        let free = |b: usize, l: Layout| unsafe { A.dealloc(b as *mut u8, l) };
        let blocks: Vec<usize> = (0..8_192).map(|_| alloc(small)).collect();
        assert!(blocks.iter().all(|&b| b != 0));
        let slabs: HashSet<(usize, usize)> = blocks.iter().map(|&b| slab_of(b)).collect();
        assert!(slabs.len() >= 6, "{} slabs", slabs.len());
        // Free every block, the first of each slab last: those end on the TLS list, one per
        // slab, and keep every slab bound (the spills return the others).
        let mut firsts = HashSet::new();
        let (last, rest): (Vec<usize>, Vec<usize>) =
            blocks.iter().partition(|&&b| firsts.insert(slab_of(b)));
        assert_eq!(last.len(), slabs.len());
        for &b in rest.iter().chain(&last) {
            free(b, small);
        }
        // The 64-byte class is idle from here. Another class grows by ~3 SuperSlabs: the heap
        // grows at least twice, and at the second growth the idle list goes back.
        let grown: Vec<usize> = (0..48_000).map(|_| alloc(big)).collect();
        assert!(grown.iter().all(|&b| b != 0));
        let reused: HashSet<(usize, usize)> = grown
            .iter()
            .map(|&b| slab_of(b))
            .filter(|s| slabs.contains(s))
            .collect();
        if hakmem::config::IDLE_FLUSH {
            // All but the class's current slab (retired on the clock, not released at once).
            assert!(
                reused.len() + 1 >= slabs.len(),
                "the growing class rebound {} of the idle class's {} slabs",
                reused.len(),
                slabs.len()
            );
        } else {
            // The backout (`--cfg hakmem_no_idle_flush`), main before session 28: the parked
            // blocks hold every slab, and the growth maps new SuperSlabs.
            assert_eq!(reused.len(), 0, "of {} slabs", slabs.len());
        }
        for b in grown {
            free(b, big);
        }
    })
    .join()
    .expect("test thread");
}
