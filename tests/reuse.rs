//! A refill whose current slab has no local free blocks takes the blocks other threads freed into
//! it (its remote queue) before it carves fresh ones (`config::REUSE_BEFORE_CARVE`): a slab whose
//! blocks come back from other threads is reused instead of carved to its end, so its untouched
//! pages stay untouched (sh8bench's peak RSS 11.7 -> 6.8 MiB, docs/benchmarks.md).
//!
//! Its own test binary: the owner's heap must start with no slab of the class (no other test's
//! exited thread has published one to adopt).
//!
//! Not under `--cfg hakmem_no_remote_unwalked` either: there the queue becomes the pending chain,
//! and `Slab::take_batch` tops a batch of its blocks up with fresh ones (the blocks are still
//! reused first, but the first one handed out is a carved one).
#![cfg(not(any(hakmem_no_reuse_before_carve, hakmem_no_remote_unwalked)))]

use std::alloc::{GlobalAlloc, Layout};
use std::collections::HashSet;
use std::thread;

use hakmem::testing;
use hakmem::HakMem;

static A: HakMem = HakMem;

#[test]
fn a_refill_takes_remote_frees_before_it_carves() {
    let layout = Layout::from_size_align(1000, 16).unwrap();
    thread::spawn(move || {
        // SAFETY: a valid layout; every block is freed once, below or by the freer thread.
        let alloc = || unsafe { A.alloc(layout) } as usize;
        let first = alloc();
        assert_ne!(first, 0);
        let slab = testing::block_info(first as *const u8).expect("a small block");
        // Take blocks until every block carved from the slab is handed out: then the thread's
        // list of the class is empty and the next allocation refills from the slab.
        let mut mine = vec![first];
        let carved = loop {
            let (carved, capacity) = testing::slab_carved(first as *const u8).expect("ours");
            if carved == mine.len() {
                assert!(carved < capacity, "the slab still has blocks to carve");
                break carved;
            }
            let p = alloc();
            let info = testing::block_info(p as *const u8).expect("a small block");
            assert_eq!(
                (info.superslab, info.slab),
                (slab.superslab, slab.slab),
                "the first refill's blocks come from one slab"
            );
            mine.push(p);
        };
        assert!(mine.len() >= 2, "a refill hands out more than one block");
        // Another thread frees every other block: they wait in the slab's remote queue.
        let freed: Vec<usize> = mine.iter().copied().step_by(2).collect();
        let kept: Vec<usize> = mine.iter().copied().skip(1).step_by(2).collect();
        let to_free = freed.clone();
        thread::spawn(move || {
            for p in to_free {
                // SAFETY: allocated above with `layout`, freed once.
                unsafe { A.dealloc(p as *mut u8, layout) };
            }
        })
        .join()
        .unwrap();
        let p = alloc();
        let (carved_after, _) = testing::slab_carved(first as *const u8).expect("ours");
        let freed_set: HashSet<usize> = freed.iter().copied().collect();
        assert!(
            freed_set.contains(&p),
            "the refill carved a fresh block {p:#x} (carved {carved} -> {carved_after}) while {} \
             blocks freed by another thread waited in the slab's remote queue",
            freed.len()
        );
        assert_eq!(carved_after, carved, "nothing carved");
        // SAFETY: each block once: `p`, the kept ones, and the rest of the freed ones, which
        // the refill handed to this thread's list (they come back one allocation at a time).
        unsafe {
            A.dealloc(p as *mut u8, layout);
            for q in kept {
                A.dealloc(q as *mut u8, layout);
            }
        }
    })
    .join()
    .unwrap();
}
