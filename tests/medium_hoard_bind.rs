//! `config::MEDIUM_TRIM_ON_BIND`: a heap that binds new medium spans while it holds free blocks
//! it has not purged runs a trim check, even with too few local frees since for a check by frees
//! (one per `MEDIUM_TRIM_CHECK_BYTES`). A hoard of 2.75 MiB — 22 freed 128 KiB blocks, every
//! page written, each span kept by one live block so that no span empties — followed by growth
//! in other classes (one block each of five classes, 6 ms apart, none freed) is purged by the
//! second bind's check (the first begins the epoch the hoard must stay free through), and stays
//! resident without the switch (`--cfg hakmem_no_medium_trim_on_bind`): perl's realloc ladders
//! and hash doublings (docs/benchmarks.md, "Session 18: rss26"). Without the test harness
//! (`harness = false`): the check counts the heap's local frees, so no harness thread may share
//! the scenario's heap.

mod support;

use std::alloc::{alloc, dealloc, Layout};
use std::time::Duration;

use support::thp::{medium_hoard, resident_pages};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const PAGE: usize = 4096;

/// The hoard's block size (a class size: 15 blocks a 2 MiB span) and count; one block in every
/// `KEEP_EVERY` is kept live, so that every span keeps a block out and none goes to the span
/// cache (whose own purge clock would purge it).
const BLOCK: usize = 128 << 10;
const BLOCKS: usize = 24;
const KEEP_EVERY: usize = 15;

/// The growth: one block of each of these classes (8 a doubling from 256 KiB), each binding a
/// span, none freed.
const GROWTH: [usize; 5] = [256 << 10, 320 << 10, 384 << 10, 448 << 10, 512 << 10];

/// Resident pages of `[p, p + size)` past its first page (the pages a trim purges).
fn interior_resident(p: *mut u8) -> usize {
    resident_pages(p as usize + PAGE, BLOCK - PAGE)
}

fn main() {
    if !cfg!(feature = "medium") || !hakmem::config::MEDIUM_TRIM {
        println!("medium_hoard_bind: skipped (no medium tier or no medium trim)");
        return;
    }
    let layout = Layout::from_size_align(BLOCK, 16).unwrap();
    let (blocks, freed) = medium_hoard(layout, BLOCKS, KEEP_EVERY);
    let interior = BLOCK / PAGE - 1;
    let hoard = freed.len() * BLOCK;
    let limit = hakmem::config::MEDIUM_DIRTY_BYTES;
    assert!(
        hoard < hakmem::config::MEDIUM_TRIM_CHECK_BYTES,
        "hoard {hoard}: no check by frees"
    );
    // Growth in other classes, an epoch apart, with no free: only the binds run checks.
    let mut grown = Vec::new();
    for size in GROWTH {
        std::thread::sleep(Duration::from_millis(6));
        let l = Layout::from_size_align(size, 16).unwrap();
        // `black_box`: an allocation the program never reads may be removed by the compiler.
        // SAFETY: a non-zero size.
        let q = std::hint::black_box(unsafe { alloc(l) });
        assert!(!q.is_null());
        // SAFETY: the block is ours; only its first byte is written.
        unsafe { q.write(3) };
        grown.push((q, l));
    }
    let resident: usize = freed.iter().map(|&p| interior_resident(p)).sum();
    let all = freed.len() * interior;
    // Under half of an 8 MiB limit (`--cfg hakmem_no_medium_dirty_4mib`) no bind checks.
    if hakmem::config::MEDIUM_TRIM_ON_BIND && hoard > limit / 2 {
        assert_eq!(
            resident,
            0,
            "a {hoard}-byte hoard over half the {limit}-byte limit is purged by the checks of \
             later binds: {resident} of {all} interior pages resident\n{}",
            hakmem::stats()
        );
    } else {
        assert_eq!(
            resident,
            all,
            "without checks on bind (or under half the {limit}-byte limit), a {hoard}-byte \
             hoard with no frees after it stays resident\n{}",
            hakmem::stats()
        );
    }
    for (q, l) in grown {
        // SAFETY: allocated above with `l`, freed once.
        unsafe { dealloc(q, l) };
    }
    for (i, &p) in blocks.iter().enumerate() {
        if i % KEEP_EVERY == 0 {
            // SAFETY: allocated above with `layout`, still live, freed once.
            unsafe { dealloc(p, layout) };
        }
    }
    println!("medium_hoard_bind: ok ({resident} of {all} interior pages resident)");
}
