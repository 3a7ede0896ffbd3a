//! The owned-slab table (front/owned.rs) answers the free fast path; the hint cache and the
//! registry answer everything else. A slab the thread owns but the table lost — another slab
//! took its direct-mapped entry — is entered again by the first free that finds it owned through
//! the hint cache, so the frees after it take the fast path again (before session 3 only a free
//! through the registry re-entered it, and glibc-thread spent 3–5% of its samples in
//! `free_unowned` on owned slabs).

use std::alloc::{GlobalAlloc, Layout};

use hakmem::testing;
use hakmem::HakMem;

static A: HakMem = HakMem;

#[test]
fn an_owned_slab_lost_by_the_table_is_entered_again_by_a_hinted_free() {
    let layout = Layout::from_size_align(48, 16).unwrap();
    // SAFETY: valid layouts; every block is freed once, below.
    let blocks: Vec<*mut u8> = (0..4).map(|_| unsafe { A.alloc(layout) }).collect();
    assert!(blocks.iter().all(|p| !p.is_null()));
    let p = blocks[0];
    let same_slab: Vec<*mut u8> = blocks[1..]
        .iter()
        .copied()
        .filter(|&q| q as usize & !0xffff == p as usize & !0xffff)
        .collect();
    assert!(
        !same_slab.is_empty(),
        "consecutive 48-byte blocks share a slab"
    );
    if !testing::owned_table_holds(p) {
        eprintln!("owned-slab table off in this build (tls-hint or its switch): nothing to test");
        for q in blocks {
            // SAFETY: allocated above with `layout`.
            unsafe { A.dealloc(q, layout) };
        }
        return;
    }
    assert!(testing::owned_table_evict(p), "the table held the slab");
    assert!(!testing::owned_table_holds(p), "evicted");
    assert_eq!(
        testing::hint_state(p),
        testing::HintState::Hit,
        "the hint cache still knows the SuperSlab (bound slabs enter it)"
    );
    // SAFETY: allocated above with `layout`, freed once.
    unsafe { A.dealloc(p, layout) };
    assert!(
        testing::owned_table_holds(same_slab[0]),
        "the free through the hint cache entered the owned slab again"
    );
    for q in blocks.into_iter().skip(1) {
        // SAFETY: allocated above with `layout`, freed once.
        unsafe { A.dealloc(q, layout) };
    }
}
