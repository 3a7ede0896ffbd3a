//! `config::MEDIUM_DIRTY_BYTES`: a heap's hoard of free, unpurged medium blocks is trimmed once
//! it holds more than that many bytes. A hoard between 4 and 8 MiB — 37 freed 128 KiB blocks,
//! every page written, each span kept by one live block so that no span empties — is purged
//! (down to half the limit) by the trim checks later frees run (one per
//! `MEDIUM_TRIM_CHECK_BYTES`) with 4 MiB, and with 8 MiB (`--cfg hakmem_no_medium_dirty_4mib`)
//! stays resident only under `--cfg hakmem_no_trim_check_by_allowance` (this churn's checks are a
//! slow churner's, which purge past half the limit): git log's medium hoard (docs/benchmarks.md,
//! "Session 18: rss25"). Without the test harness (`harness = false`): the trim check counts the heap's local
//! frees, so no harness thread may share the scenario's heap.

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
const BLOCKS: usize = 40;
const KEEP_EVERY: usize = 15;

/// The churning block: its class's span is held by a second live block, so that the churn's frees
/// only run trim checks (one per `MEDIUM_TRIM_CHECK_BYTES` of local frees) and empty nothing:
/// 32 MiB of frees, four checks at 8 MiB.
const CHURN: usize = 512 << 10;
const CHURN_FREES: usize = 64;

/// Resident pages of `[p, p + size)` past its first page (the pages a trim purges).
fn interior_resident(p: *mut u8) -> usize {
    resident_pages(p as usize + PAGE, BLOCK - PAGE)
}

fn main() {
    if !cfg!(feature = "medium") || !hakmem::config::MEDIUM_TRIM {
        println!("medium_hoard: skipped (no medium tier or no medium trim)");
        return;
    }
    let layout = Layout::from_size_align(BLOCK, 16).unwrap();
    let churn_layout = Layout::from_size_align(CHURN, 16).unwrap();
    // SAFETY: a non-zero size.
    let churn_keeper = unsafe { alloc(churn_layout) };
    assert!(!churn_keeper.is_null());
    let (blocks, freed) = medium_hoard(layout, BLOCKS, KEEP_EVERY);
    let interior = BLOCK / PAGE - 1;
    let hoard = freed.len() * BLOCK;
    assert!(hoard > 4 << 20 && hoard < 8 << 20, "hoard {hoard}");
    // Local frees of another class, a few milliseconds apart: each `MEDIUM_TRIM_CHECK_BYTES` of
    // them runs a trim check (at most one per `MEDIUM_TRIM_AGE_MS` epoch), and the hoard, freed
    // before the last check but one, counts as free through a whole epoch.
    for _ in 0..CHURN_FREES {
        // `black_box`: an allocation freed unread may be removed by the compiler (a release build
        // dropped this whole loop, and the trim checks with it).
        // SAFETY: a non-zero size.
        let q = std::hint::black_box(unsafe { alloc(churn_layout) });
        assert!(!q.is_null());
        // SAFETY: the block is ours; only its first page is written.
        unsafe {
            q.write(3);
            dealloc(q, churn_layout);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let resident: usize = freed.iter().map(|&p| interior_resident(p)).sum();
    let all = freed.len() * interior;
    let limit = hakmem::config::MEDIUM_DIRTY_BYTES;
    // `config::TRIM_CHECK_BY_ALLOWANCE`: this churn's checks come at least 32 ms apart (a check
    // per 16 frees, each 2 ms after the last), so each is a slow churner's, which purges as the
    // check on bind does once the hoard passes half the limit: 4.8 MiB under the 8 MiB limit is
    // purged too (ci28 failed the backout step below on the old expectation).
    let purged_over = if hakmem::config::TRIM_CHECK_BY_ALLOWANCE {
        limit / 2
    } else {
        limit
    };
    if purged_over < hoard {
        // Trimmed down to half the limit (less the churn's free block, counted in it): at most
        // `limit / 2 / BLOCK` hoard blocks keep their pages.
        let kept = limit / 2 / BLOCK;
        assert!(
            resident <= kept * interior,
            "a {hoard}-byte hoard over {purged_over} bytes (limit {limit}) is trimmed to half the limit: \
             {resident} of {all} interior pages resident, expected at most {}\n{}",
            kept * interior,
            hakmem::stats()
        );
    } else {
        assert_eq!(
            resident,
            all,
            "a {hoard}-byte hoard under {purged_over} bytes (limit {limit}) stays resident\n{}",
            hakmem::stats()
        );
    }
    for (i, &p) in blocks.iter().enumerate() {
        if i % KEEP_EVERY == 0 {
            // SAFETY: allocated above with `layout`, still live, freed once.
            unsafe { dealloc(p, layout) };
        }
    }
    // SAFETY: allocated above with `churn_layout`, freed once.
    unsafe { dealloc(churn_keeper, churn_layout) };
    println!("medium_hoard: ok (limit {limit}: {resident} of {all} interior pages resident)");
}
