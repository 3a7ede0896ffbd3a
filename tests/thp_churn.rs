//! `config::THP_CHURN`: SuperSlabs that filled up sparse (so `THP_GROWTH` never fires) and became
//! dense later are collapsed into huge pages by the pool's periodic recount. Without the test
//! harness (`harness = false`): the process's fills must be this scenario's own.
//!
//! 8 KiB blocks (8 per 64 KiB slab) with only their first page written fill 12 SuperSlabs about
//! half resident each; then the second page of 7 blocks in 8 is written (15/16 resident, dense for
//! `THP_CHURN_DENSE`, one page in 16 still absent). A few pool entries spaced by more than
//! `THP_CHURN_PERIOD_MS` (a new class's first slab each) let the recount run: with the policy the
//! full SuperSlabs are all 512 pages resident (one huge page each); without (`--cfg
//! hakmem_no_thp_churn`) they stay on base pages with their untouched pages absent.

mod support;

use std::alloc::{alloc, dealloc, Layout};

use support::thp::{collapse_alloc_failures, resident_pages, thp_always, thp_available, SUPERSLAB};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const BLOCK: usize = 8192;

fn main() {
    let available = thp_available();
    let always = thp_always() || hakmem::switches().thp;
    let refused_before = collapse_alloc_failures();
    let huge = hakmem::config::THP_CHURN && available && !always;
    let layout = Layout::from_size_align(BLOCK, 8).unwrap();
    let mut blocks: Vec<*mut u8> = Vec::with_capacity(1 << 14);
    let mut regions: Vec<usize> = Vec::with_capacity(16);
    // 12 SuperSlabs filled (the 13th holds the last blocks), every block's first page written.
    while regions.len() < 13 {
        // SAFETY: a non-zero size; freed below with the same layout.
        let p = unsafe { alloc(layout) };
        assert!(!p.is_null(), "alloc({BLOCK})");
        // SAFETY: inside the block, ours.
        unsafe { p.write(1) };
        blocks.push(p);
        let r = p as usize & !(SUPERSLAB - 1);
        if !regions.contains(&r) {
            regions.push(r);
        }
        assert!(blocks.len() < 1 << 14, "12 SuperSlabs never filled");
    }
    let full: Vec<usize> = regions[1..regions.len() - 1].to_vec();
    let before: Vec<usize> = full.iter().map(|&r| resident_pages(r, SUPERSLAB)).collect();
    // Dense now: the second page of 7 blocks in 8.
    for (i, &p) in blocks.iter().enumerate() {
        if i % 8 != 7 {
            // SAFETY: inside the block (8 KiB), ours.
            unsafe { p.add(4096).write(1) };
        }
    }
    // Pool entries spread over several recount periods: a new class's first slab each.
    let mut probes = Vec::new();
    for size in [16usize, 48, 96, 160, 320, 640, 1280, 2560] {
        std::thread::sleep(std::time::Duration::from_millis(
            2 * hakmem::config::THP_CHURN_PERIOD_MS + 8,
        ));
        let l = Layout::from_size_align(size, 8).unwrap();
        // SAFETY: a non-zero size; freed below with the same layout.
        let p = unsafe { alloc(l) };
        assert!(!p.is_null(), "alloc({size})");
        probes.push((p, l));
    }
    let after: Vec<usize> = full.iter().map(|&r| resident_pages(r, SUPERSLAB)).collect();
    let collapsed = after.iter().filter(|&&r| r == 512).count();
    if huge {
        let refused = collapse_alloc_failures() > refused_before;
        assert!(
            collapsed == full.len() || refused,
            "full dense SuperSlabs are collapsed: {collapsed} of {} all resident (first page \
             only: {before:?}, dense: {after:?})\n{}",
            full.len(),
            hakmem::stats()
        );
    } else {
        assert!(
            collapsed == 0 || always,
            "without the policy sparse fills stay on base pages: {collapsed} of {} all resident \
             ({after:?})",
            full.len()
        );
    }
    for (p, l) in probes {
        // SAFETY: allocated above with this layout, freed once.
        unsafe { dealloc(p, l) };
    }
    for p in blocks {
        // SAFETY: allocated above with this layout, freed once.
        unsafe { dealloc(p, layout) };
    }
    println!(
        "thp_churn: ok (huge pages expected: {huge}; {collapsed} of {} full SuperSlabs all \
         resident; first page only: {before:?})",
        full.len()
    );
}
