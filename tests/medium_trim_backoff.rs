//! `config::TRIM_BACKOFF`: a heap whose program takes back the medium blocks its trim just purged
//! (lua's hash-part doublings: blocks of one class freed, then taken again a few epochs later)
//! backs its trim off, and a hoard the program stops reusing is still trimmed once the backoff
//! has decayed (`TRIM_BACKOFF_QUIET` trims without refaults a level).
//!
//! The reuse loop: 64 blocks of 128 KiB, one in 15 kept live so no span empties into the span
//! cache, every page of the others written, then freed (7.4 MiB); two trim checks an epoch apart
//! (a 2 MiB block allocated and freed five times, 10 MiB of local frees, after a sleep of two
//! epochs) make them old and purge them down to half the allowance; the next round takes them
//! all back. Without the backoff every round purges ~5 MiB and faults it back in; with it, the
//! second round's check sees the refaults and raises the allowance over the hoard. Then the
//! blocks stay free and the checks go on: the allowance decays and the hoard is purged down to
//! `MEDIUM_DIRTY_BYTES`. Without the test harness (`harness = false`): the checks count the
//! heap's local frees, so no harness thread may share the scenario's heap.

mod support;

use std::alloc::{alloc, dealloc, Layout};
use std::time::Duration;

use support::thp::{medium_hoard, resident_pages};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const PAGE: usize = 4096;
const BLOCK: usize = 128 << 10;
const BLOCKS: usize = 64;
const KEEP_EVERY: usize = 15;
const ROUNDS: usize = 16;
/// The churn that runs a check by frees: more than `MEDIUM_TRIM_CHECK_BYTES` of local frees.
const CHURN: usize = 2 << 20;

fn trimmed() -> u64 {
    hakmem::stats().medium_bytes_trimmed
}

/// One trim check by frees, an epoch (and more) after the last.
fn check() {
    std::thread::sleep(Duration::from_millis(
        2 * hakmem::config::MEDIUM_TRIM_AGE_MS + 1,
    ));
    let l = Layout::from_size_align(CHURN, 16).unwrap();
    for _ in 0..hakmem::config::MEDIUM_TRIM_CHECK_BYTES / CHURN + 1 {
        // SAFETY: a non-zero size; freed at once with its layout.
        unsafe {
            let p = std::hint::black_box(alloc(l));
            assert!(!p.is_null());
            p.write(1);
            dealloc(p, l);
        }
    }
}

/// Interior pages (past the first) of the freed blocks resident now.
fn hoard_resident(freed: &[*mut u8]) -> usize {
    freed
        .iter()
        .map(|&p| resident_pages(p as usize + PAGE, BLOCK - PAGE))
        .sum()
}

fn main() {
    if !cfg!(feature = "medium") || !hakmem::config::MEDIUM_TRIM || !cfg!(feature = "stats") {
        println!("medium_trim_backoff: skipped (no medium tier, no medium trim or no stats)");
        return;
    }
    let layout = Layout::from_size_align(BLOCK, 16).unwrap();
    let (blocks, mut freed) = medium_hoard(layout, BLOCKS, KEEP_EVERY);
    let hoard = freed.len() * BLOCK;
    let mut per_round = Vec::new();
    for _ in 0..ROUNDS {
        let t0 = trimmed();
        check();
        check();
        per_round.push(trimmed() - t0);
        // The program takes its blocks back (the free list hands out the same blocks), writes
        // them through and frees them again.
        let again: Vec<*mut u8> = (0..freed.len())
            // SAFETY: a non-zero size.
            .map(|_| unsafe { alloc(layout) })
            .collect();
        for &p in &again {
            assert!(!p.is_null());
            // SAFETY: the block is ours, `BLOCK` bytes.
            unsafe { p.write_bytes(2, BLOCK) };
        }
        for &p in &again {
            // SAFETY: allocated above with `layout`, freed once.
            unsafe { dealloc(p, layout) };
        }
        freed = again;
    }
    let late: u64 = per_round[2..].iter().sum();
    let first = per_round[0].max(1);
    eprintln!(
        "bytes trimmed per round of a {hoard}-byte hoard taken back every round: {per_round:?}\n{}",
        hakmem::stats()
    );
    if hakmem::config::TRIM_BACKOFF {
        // Old code: every round purges about as much as the first (14 rounds' worth here).
        assert!(
            late <= 4 * first,
            "the trim backs off when the program takes back what it purged: {late} bytes \
             trimmed in rounds 2..{ROUNDS}, {first} in the first ({per_round:?})"
        );
        assert!(hakmem::stats().medium_trim_backoffs > 0);
    } else {
        assert!(
            late > 4 * first,
            "without the backoff every round purges: {late} bytes in rounds 2..{ROUNDS}, \
             {first} in the first ({per_round:?})"
        );
    }
    // The blocks are not taken back any more: the backoff decays, the hoard is trimmed.
    let limit = hakmem::config::MEDIUM_DIRTY_BYTES;
    let bound = limit / PAGE;
    let levels = (hakmem::config::TRIM_BACKOFF_MAX + 1) * (hakmem::config::TRIM_BACKOFF_QUIET + 1);
    let mut resident = hoard_resident(&freed);
    for _ in 0..2 * levels {
        if resident <= bound {
            break;
        }
        check();
        resident = hoard_resident(&freed);
    }
    assert!(
        resident <= bound,
        "a hoard the program stops reusing is trimmed back to the {limit}-byte allowance: \
         {resident} interior pages of {hoard} bytes resident\n{}",
        hakmem::stats()
    );
    for (i, &p) in blocks.iter().enumerate() {
        if i % KEEP_EVERY == 0 {
            // SAFETY: allocated by `medium_hoard` with `layout`, still live, freed once.
            unsafe { dealloc(p, layout) };
        }
    }
    println!("medium_trim_backoff: ok ({per_round:?}; {resident} hoard pages resident at the end)");
}
