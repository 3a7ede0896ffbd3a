//! `config::THP_FIRST_HALF`: the process's first SuperSlab fill completes the huge-page streak at
//! half its pages resident (`THP_GROWTH_FIRST_DENSE` = 256), not 5/8 (320). realloc-growth's first
//! fill is 281 of 512: below 320 its second SuperSlab faulted page by page (docs/benchmarks.md,
//! "Session 23: rows23"). Without the test harness (`harness = false`), as `tests/thp_first.rs`:
//! the first fill must be the scenario's own.
//!
//! 8 KiB blocks fill the first SuperSlab with the first page of each block written (the carve's
//! link lands there too) and, for six blocks in eight, their second page as well: a first fill of
//! 298 of 512 pages (258, 278, 298, 318 for four to seven in eight). With the switch that fill
//! completes the streak: the first SuperSlab is collapsed and the second is all 512 pages resident
//! at its first block. With the backout (`--cfg hakmem_no_thp_first_half`, 5/8) the fill is a
//! streak of none and the second SuperSlab stays on base pages; the test then checks that the
//! scenario's fill lies between the two thresholds, so that it tells them apart.

mod support;

use std::alloc::Layout;

use support::thp::{
    collapse_alloc_failures, fill_to_second_superslab, free_fill, resident_pages, thp_always,
    thp_available, SUPERSLAB,
};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const BLOCK: usize = 8 << 10;
const PAGE: usize = 4096;

fn main() {
    let available = thp_available();
    let always = thp_always() || hakmem::switches().thp;
    let refused_before = collapse_alloc_failures();
    // The fill completes the streak: its SuperSlab is collapsed, and the second is born huge unless
    // `config::THP_HALF_COLLAPSE` defers that to half of it bound (tests/purge.rs `growth`).
    let streak = hakmem::config::THP_FIRST_HALF && available;
    let huge = streak && !hakmem::config::THP_HALF_COLLAPSE;
    let layout = Layout::from_size_align(BLOCK, 8).unwrap();
    let fill = fill_to_second_superslab(layout, 1 << 12, |i, p| {
        // SAFETY: inside the block, ours: its first page, and for six blocks in eight its second.
        unsafe {
            p.write(1);
            if i % 8 < 6 {
                p.add(PAGE).write(1);
            }
        }
    });
    let resident = fill.second_resident;
    let first = resident_pages(fill.regions[0], SUPERSLAB);
    let refused = collapse_alloc_failures() > refused_before;
    if huge {
        assert!(
            resident == 512 || refused,
            "a first fill of ~300 of 512 completes the streak: the second new SuperSlab is one \
             huge page ({resident} of 512 resident; the first {first})\n{}",
            hakmem::stats()
        );
    } else if streak {
        assert!(
            first == 512 || refused,
            "a first fill of ~300 of 512 completes the streak: the first SuperSlab is collapsed \
             ({first} of 512 resident)\n{}",
            hakmem::stats()
        );
    } else {
        if !hakmem::config::THP_FIRST_HALF {
            assert!(
                (256..320).contains(&first),
                "the scenario's first fill should lie between the two thresholds: {first} of 512"
            );
        }
        assert!(
            resident < 512 || always || !available,
            "at 5/8 a first fill of {first} is no streak: base pages ({resident} of 512)"
        );
    }
    free_fill(fill, layout);
    println!(
        "thp_first_half: ok (huge pages expected: {huge}; first SuperSlab {first} of 512 resident, \
         second {resident} at its first block)"
    );
}
