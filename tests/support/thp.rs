//! Transparent huge pages and residency, for the tests that check which memory is resident
//! (`tests/purge.rs`, `tests/thp_first.rs`): `mincore`, whether the kernel can collapse at all,
//! its THP mode, and its count of refused collapses.

use super::MIB;

/// A SuperSlab's size and alignment (`config::SUPERSLAB_SIZE`).
pub const SUPERSLAB: usize = 2 * MIB;

/// Pages of `[base, base + len)` resident now (`mincore`).
pub fn resident_pages(base: usize, len: usize) -> usize {
    let pages = len / 4096;
    let mut vec = vec![0u8; pages];
    // SAFETY: a page-aligned range of this process's mappings; `vec` holds one byte per page.
    let r = unsafe { libc::mincore(base as *mut libc::c_void, len, vec.as_mut_ptr()) };
    assert_eq!(r, 0, "mincore failed");
    vec.iter().filter(|&&v| v & 1 != 0).count()
}

/// Whether the kernel can back memory with transparent huge pages at all, and knows
/// `MADV_COLLAPSE` (Linux 6.1): probed on a mapping of our own, so a kernel that predates it (EINVAL)
/// is told apart from hakmem not asking.
pub fn thp_available() -> bool {
    let enabled = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
        .is_ok_and(|mode| !mode.contains("[never]"));
    enabled && collapse_known()
}

/// THP mode `always`: the kernel may back any aligned 2 MiB at its first fault, whatever hakmem
/// asks; only the huge-page claims can be checked there.
pub fn thp_always() -> bool {
    std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
        .is_ok_and(|mode| mode.contains("[always]"))
}

/// Whether `madvise(MADV_COLLAPSE)` is a known advice here (any answer but EINVAL).
pub fn collapse_known() -> bool {
    const MADV_COLLAPSE: libc::c_int = 25;
    let len = 2 * SUPERSLAB;
    // SAFETY: a fresh private anonymous mapping of our own, unmapped below.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED, "probe mapping");
    let aligned = (p as usize + SUPERSLAB - 1) & !(SUPERSLAB - 1);
    // A range with no page present is not collapsed (EINVAL on some kernels): touch one.
    // SAFETY: inside the mapping above, writable.
    unsafe { (aligned as *mut u8).write(1) };
    // SAFETY: `aligned..aligned + SUPERSLAB` lies inside the mapping above.
    let r = unsafe { libc::madvise(aligned as *mut libc::c_void, SUPERSLAB, MADV_COLLAPSE) };
    let known = r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL);
    // SAFETY: the mapping made above, not used afterwards.
    assert_eq!(unsafe { libc::munmap(p, len) }, 0, "probe unmapping");
    known
}

/// Huge-page allocations for a collapse that failed, system-wide (`/proc/vmstat`; 0 if unknown),
/// plus the collapses this process's allocator skipped because one before was slow
/// (`config::THP_COLLAPSE_BACKOFF`: on a loaded host the first collapse can take milliseconds, and
/// the next ones are then answered "refused" without asking the kernel).
pub fn collapse_alloc_failures() -> u64 {
    kernel_collapse_alloc_failures() + hakmem::stats().thp_collapses_skipped
}

fn kernel_collapse_alloc_failures() -> u64 {
    std::fs::read_to_string("/proc/vmstat")
        .ok()
        .and_then(|v| {
            v.lines()
                .find_map(|l| l.strip_prefix("thp_collapse_alloc_failed "))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A medium hoard for the trim tests (tests/medium_hoard.rs, tests/medium_hoard_bind.rs): `count`
/// blocks of `layout`, all allocated before any is written (so that each span fills with only its
/// blocks' first pages resident, no span counts as a dense fill and none is born a huge page,
/// which a purge of a block's interior would only split), every page written, then every block
/// but one in `keep_every` freed (the kept ones hold their spans, so none empties into the span
/// cache, whose own clock would purge it). Returns all the blocks and the freed ones.
pub fn medium_hoard(
    layout: std::alloc::Layout,
    count: usize,
    keep_every: usize,
) -> (Vec<*mut u8>, Vec<*mut u8>) {
    // SAFETY: non-zero sizes (the callers' medium layouts).
    let blocks: Vec<*mut u8> = (0..count)
        .map(|_| unsafe { std::alloc::alloc(layout) })
        .collect();
    assert!(blocks.iter().all(|p| !p.is_null()));
    for &p in &blocks {
        // SAFETY: the block is ours, `layout.size()` bytes.
        unsafe { p.write_bytes(1, layout.size()) };
    }
    let page = 4096;
    let interior = layout.size() / page - 1;
    let mut freed = Vec::new();
    for (i, &p) in blocks.iter().enumerate() {
        if i % keep_every != 0 {
            assert_eq!(
                resident_pages(p as usize + page, layout.size() - page),
                interior,
                "a written block is resident"
            );
            // SAFETY: allocated above with `layout`, freed once.
            unsafe { std::alloc::dealloc(p, layout) };
            freed.push(p);
        }
    }
    (blocks, freed)
}

/// What `fill_to_second_superslab` leaves: the blocks it allocated (still live), the SuperSlabs
/// they lie in, in order, and the pages of the second one resident at its first block.
pub struct Fill {
    pub blocks: Vec<*mut u8>,
    pub regions: Vec<usize>,
    pub second_resident: usize,
}

/// Allocates blocks of `layout` through the global allocator, `touch`ing each (its index and
/// address), until one lies in a second SuperSlab; then reads that SuperSlab's resident pages.
/// Panics after `max` blocks in the first. The blocks stay live: the caller frees them with
/// `free_fill`. Room for `max` pointers is reserved up front: the vector's own growth is no
/// small allocation of the scenario.
pub fn fill_to_second_superslab(
    layout: std::alloc::Layout,
    max: usize,
    touch: impl Fn(usize, *mut u8),
) -> Fill {
    let mut blocks: Vec<*mut u8> = Vec::with_capacity(max);
    let mut regions: Vec<usize> = Vec::with_capacity(4);
    let second_resident = loop {
        // SAFETY: a non-zero size; freed by `free_fill` with the same layout.
        let p = unsafe { std::alloc::alloc(layout) };
        assert!(!p.is_null(), "alloc({})", layout.size());
        touch(blocks.len(), p);
        blocks.push(p);
        let r = p as usize & !(SUPERSLAB - 1);
        if !regions.contains(&r) {
            regions.push(r);
            if regions.len() == 2 {
                break resident_pages(r, SUPERSLAB);
            }
        }
        assert!(
            blocks.len() < max,
            "{}-byte blocks never left their first SuperSlab",
            layout.size()
        );
    };
    Fill {
        blocks,
        regions,
        second_resident,
    }
}

/// Frees `fill`'s blocks (allocated with `layout`).
pub fn free_fill(fill: Fill, layout: std::alloc::Layout) {
    for p in fill.blocks {
        // SAFETY: allocated by `fill_to_second_superslab` with this layout, freed once.
        unsafe { std::alloc::dealloc(p, layout) };
    }
}
