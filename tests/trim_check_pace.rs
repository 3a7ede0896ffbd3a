//! `config::TRIM_CHECK_BY_ALLOWANCE`: a heap whose medium trim checks by frees come 20 ms or more
//! apart (a slow churner) runs its next check after the frees its hoard allowance has left, not
//! after another `MEDIUM_TRIM_CHECK_BYTES` (8 MiB). One thread carves 104 blocks of 208 KiB (9 a
//! span, so freeing the odd ones empties no span) and writes them. Batch 1: 40 odd blocks freed
//! (8.1 MiB, past the 8 MiB that runs a check; the check finds them all freed this epoch and
//! purges none). 25 ms later, batch 2: 12 more odd blocks (2.4 MiB). Now that second check runs
//! (the allowance, 4 MiB, is spent: the next check comes after half of it, 2 MiB) and purges
//! batch 1's blocks, free through a whole epoch: their pages past the first leave RSS. Before
//! (and under `--cfg hakmem_no_trim_check_by_allowance`, which the backout arm asserts) no check
//! ran until 8 MiB more were freed, and batch 1's 8.1 MiB stayed resident: four threads churning
//! medium blocks a few per class (`scripts/fork-bench/fork_bench.c sleep`) held 19-21 MiB of
//! free blocks in their spans at the peak (docs/benchmarks.md, "Session 27: mtrss27"). Counts
//! pages (`mincore`), not time; the sleep only makes the gap between the checks long. Without
//! the test harness (`harness = false`): the main thread's heap, no other thread's frees.

mod support;

use std::alloc::{alloc, dealloc, Layout};

use support::thp::resident_pages;

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const PAGE: usize = 4096;
/// A medium class's size: 208 KiB, nine blocks in a 2 MiB span.
const SIZE: usize = 208 << 10;
const BLOCKS: usize = 104;
/// Batch 1: the frees that pass `MEDIUM_TRIM_CHECK_BYTES` (40 x 208 KiB = 8,320 KiB > 8 MiB).
const FIRST: usize = 40;
/// Batch 2: past half the allowance (2 MiB: 10 blocks), short of another 8 MiB.
const SECOND: usize = 12;

fn main() {
    if !cfg!(feature = "medium") || !hakmem::config::MEDIUM_TRIM {
        println!("trim_check_pace: skipped (no medium tier or no trim)");
        return;
    }
    if std::env::var("HAKMEM_PURGE_DELAY_MS").is_ok() || std::env::var("HAKMEM_BACKGROUND").is_ok()
    {
        println!("trim_check_pace: skipped (HAKMEM_PURGE_DELAY_MS or HAKMEM_BACKGROUND set)");
        return;
    }
    let on = hakmem::config::TRIM_CHECK_BY_ALLOWANCE;
    let layout = Layout::from_size_align(SIZE, 16).unwrap();
    let blocks: Vec<*mut u8> = (0..BLOCKS)
        .map(|_| {
            // SAFETY: a non-zero size. `black_box`: the even blocks are never read or freed, which
            // would let LLVM remove them (flaky28).
            let p = std::hint::black_box(unsafe { alloc(layout) });
            assert!(!p.is_null(), "alloc({SIZE})");
            // SAFETY: the block is ours, `SIZE` bytes.
            unsafe { p.write_bytes(1, SIZE) };
            p
        })
        .collect();
    let odd: Vec<*mut u8> = blocks.iter().copied().skip(1).step_by(2).collect();
    assert!(odd.len() >= FIRST + SECOND);
    // Each block's pages past its first: what a trim purges.
    let interior = |p: *mut u8| resident_pages(p as usize + PAGE, SIZE - PAGE);
    let full = FIRST * (SIZE / PAGE - 1);
    let written: usize = odd[..FIRST].iter().map(|&p| interior(p)).sum();
    assert_eq!(written, full, "batch 1 written");

    // A long gap since the heap's last check (none yet): the checks below are a slow churner's.
    std::thread::sleep(std::time::Duration::from_millis(25));
    for &p in &odd[..FIRST] {
        // SAFETY: allocated above with `layout`, freed once.
        unsafe { dealloc(p, layout) };
    }
    let after_first: usize = odd[..FIRST].iter().map(|&p| interior(p)).sum();
    std::thread::sleep(std::time::Duration::from_millis(25));
    for &p in &odd[FIRST..FIRST + SECOND] {
        // SAFETY: as above.
        unsafe { dealloc(p, layout) };
    }
    let after_second: usize = odd[..FIRST].iter().map(|&p| interior(p)).sum();
    println!(
        "trim_check_pace: batch 1's pages past the first resident: written {written}, after batch 1 \
         {after_first}, after batch 2 {after_second} (TRIM_CHECK_BY_ALLOWANCE {on})"
    );
    assert_eq!(
        after_first, full,
        "batch 1 was freed this epoch: the check it ran purges none of it"
    );
    if on {
        assert!(
            after_second <= FIRST,
            "the second check (2 MiB of frees after a check that left the allowance spent) \
             purged batch 1: {after_second} of its {full} pages still resident"
        );
    } else {
        assert_eq!(
            after_second, full,
            "backout: no check until 8 MiB more are freed, batch 1 stays resident"
        );
    }
    for &p in blocks.iter().step_by(2).chain(&odd[FIRST + SECOND..]) {
        // SAFETY: as above; the even blocks and the odd ones not freed yet.
        unsafe { dealloc(p, layout) };
    }
    println!("trim_check_pace: ok");
}
