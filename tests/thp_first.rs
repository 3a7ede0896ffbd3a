//! `config::THP_GROWTH_FIRST`: the process's first SuperSlab fill, dense, completes the huge-page
//! streak by itself, so the second new SuperSlab is one huge page from its first block on. Without
//! the test harness (`harness = false`): its threads' slabs would fill the first SuperSlab before
//! the claim could be set up (42 slabs bound before a child scenario of tests/purge.rs starts).
//!
//! 64-byte blocks, every page written, fill the first SuperSlab (which also holds the first slab of
//! each class the probes below used, a page or two of each): with the policy the second new
//! SuperSlab is all 512 pages resident from its first block on; without (`--cfg
//! hakmem_no_thp_growth_first`) that fill is a streak of one and the second stays on base pages
//! until the third fill (as `tests/purge.rs` `growth` checks).

mod support;

use std::alloc::Layout;

use support::thp::{
    collapse_alloc_failures, fill_to_second_superslab, free_fill, resident_pages, thp_always,
    thp_available, SUPERSLAB,
};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

fn main() {
    // Probed first: their buffers' classes land in the first SuperSlab, before any fill.
    let available = thp_available();
    // THP mode `always` or `HAKMEM_THP=1`: huge pages whatever the policy says.
    let always = thp_always() || hakmem::switches().thp;
    let refused_before = collapse_alloc_failures();
    // `config::THP_HALF_COLLAPSE` collapses it only once half of it is bound (tests/purge.rs
    // `growth`): base pages at its first block.
    let huge = hakmem::config::THP_GROWTH_FIRST && available && !hakmem::config::THP_HALF_COLLAPSE;
    let layout = Layout::from_size_align(64, 8).unwrap();
    let fill = fill_to_second_superslab(layout, 1 << 16, |_, p| {
        // SAFETY: inside the block, ours; the first byte of each block touches every page.
        unsafe { p.write(1) };
    });
    let resident = fill.second_resident;
    let first = resident_pages(fill.regions[0], SUPERSLAB);
    if huge {
        let refused = collapse_alloc_failures() > refused_before;
        assert!(
            resident == 512 || refused,
            "the first fill ({first} of 512 resident now) completes the streak: the second new \
             SuperSlab is one huge page ({resident} of 512 resident)\n{}",
            hakmem::stats()
        );
    } else {
        assert!(
            resident < 512 || always,
            "without the policy one dense fill is no streak: base pages ({resident} of 512)"
        );
    }
    free_fill(fill, layout);
    println!(
        "thp_first: ok (huge pages expected: {huge}; first SuperSlab {first} of 512 resident, \
         second {resident} at its first block)"
    );
}
