//! Huge-page collapses back off after a slow one (`config::THP_COLLAPSE_BACKOFF`, session 26,
//! thp26), driven by fault injection: `fault::slow_next_collapses` makes a collapse read slower
//! than it was, as when the kernel waits on compaction for its huge page, so nothing here depends
//! on time. Needs feature `fault-injection` (the crate's dev-dependency on itself turns it on).
//! One #[test] in this process (the quiet period is process-wide); the `HAKMEM_THP=1` claim runs in
//! a child process.
//!
//! Claims checked:
//! - a fast collapse reaches the kernel and is counted (`thp_collapses`), not slow;
//! - a collapse that reads 10 s slow is counted slow, and the collapses after it (in the same
//!   test, well within its 320 s quiet period) are answered false without a system call
//!   (`fault::collapse_calls` stays, `thp_collapses_skipped` grows);
//! - the allocator's own collapses go the same way: a growing heap allocates on, untouched by the
//!   skips.
//!
//! - a lone slow collapse (not a stall) backs nothing off: the next one reaches the kernel (a
//!   child process, scenario `lone`);
//! - a SuperSlab the user asked to be huge (`HAKMEM_THP=1`, a child process) is collapsed even in
//!   a quiet period: the backoff skips only what the allocator asks for unprompted. This failed on
//!   thp26's code ("a HAKMEM_THP=1 SuperSlab's collapse was skipped"), where CI's
//!   `thp_backs_superslabs_with_huge_pages_and_purges_still_show` (tests/purge.rs) met a
//!   SuperSlab born on base pages in a quiet period begun by a slow collapse on the loaded host.
//!
//! Under the backout (`--cfg hakmem_no_thp_collapse_backoff`) every collapse reaches the kernel;
//! the test checks that instead. On the old code (before thp26) the collapse after the slow one
//! reaches the kernel: the backout's arm is that code's behaviour.

use std::hint::black_box;
use std::ptr::NonNull;

use hakmem::fault::{collapse_calls, end_collapse_quiet, slow_next_collapses};
use hakmem::HakMem;

mod support;
use support::child;
use support::thp::{collapse_alloc_failures, thp_always, thp_available};

#[global_allocator]
static GLOBAL: HakMem = HakMem;

const HUGE: usize = 2 << 20;

/// A 2 MiB-aligned, written range of `HUGE` bytes (never unmapped: the test process ends).
fn aligned_range() -> NonNull<u8> {
    // SAFETY: a fresh anonymous private mapping; the result is checked.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            2 * HUGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED, "mmap failed");
    let base = (p as usize + HUGE - 1) & !(HUGE - 1);
    // SAFETY: `[base, base + HUGE)` lies inside the mapping; written so its page table exists.
    unsafe { core::ptr::write_bytes(base as *mut u8, 7, HUGE) };
    NonNull::new(base as *mut u8).unwrap()
}

fn collapse(r: NonNull<u8>) -> bool {
    // SAFETY: `r` is a 2 MiB-aligned range of ours (`aligned_range`).
    unsafe { hakmem::testing::collapse(r, HUGE) }
}

#[test]
fn a_slow_collapse_backs_the_next_ones_off() {
    let backoff = hakmem::config::THP_COLLAPSE_BACKOFF;
    let (a, b, c) = (aligned_range(), aligned_range(), aligned_range());

    // A collapse with no delay injected (this host's take well under a millisecond; a slow one
    // alone starts no quiet period, `os::thp::starts_quiet`, and one that stalls past 50 ms on a
    // loaded host only makes the next step skip too, which the asserts below allow for).
    let calls = collapse_calls();
    let st = hakmem::stats();
    let _ = collapse(a);
    assert_eq!(
        collapse_calls(),
        calls + 1,
        "the first collapse reaches the kernel"
    );
    assert_eq!(hakmem::stats().thp_collapses, st.thp_collapses + 1);

    // One reads 10 s slow (a stall): 320 s of quiet follow, whether or not `a` was slow. (ci23, in
    // the feature matrix, met a slow `a` while this step was skipped for it: under thp26's first
    // rule that lone slow collapse had begun the quiet period, under `starts_quiet` it does not.)
    let a_stalled = hakmem::stats().thp_collapse_us - st.thp_collapse_us > 50_000;
    slow_next_collapses(1, 10_000_000_000);
    let calls = collapse_calls();
    let st = hakmem::stats();
    let _ = collapse(b);
    if !a_stalled {
        assert_eq!(collapse_calls(), calls + 1, "not in a quiet period yet");
        let after = hakmem::stats();
        assert_eq!(after.thp_collapses_slow, st.thp_collapses_slow + 1);
        assert!(after.thp_collapse_us >= st.thp_collapse_us + 10_000_000);
    }
    slow_next_collapses(0, 0);

    // The next ones: skipped with the backoff, asked of the kernel without it.
    let calls = collapse_calls();
    let st = hakmem::stats();
    for _ in 0..3 {
        let huge = collapse(c);
        if backoff {
            assert!(!huge, "a collapse in the quiet period answers refused");
        }
    }
    let after = hakmem::stats();
    if backoff {
        assert_eq!(
            collapse_calls(),
            calls,
            "a collapse after a slow one reached the kernel"
        );
        assert_eq!(after.thp_collapses_skipped, st.thp_collapses_skipped + 3);
    } else {
        assert_eq!(collapse_calls(), calls + 3);
        assert_eq!(after.thp_collapses_skipped, st.thp_collapses_skipped);
    }

    // The allocator's own growth asks through the same door: a heap that grows to 64 MiB of small
    // blocks (several THP growth streaks' worth) allocates on, and reaches the kernel for no
    // collapse while quiet.
    let calls = collapse_calls();
    let mut v: Vec<Box<[u8; 64]>> = Vec::new();
    for i in 0..(64 << 20) / 64 {
        v.push(Box::new([i as u8; 64]));
    }
    assert!(v.iter().enumerate().all(|(i, b)| b[63] == i as u8));
    black_box(&v);
    if backoff {
        assert_eq!(
            collapse_calls(),
            calls,
            "a growth collapse reached the kernel while quiet"
        );
    }
}

/// Child scenario `asked` (run with `HAKMEM_THP=1`): a slow collapse starts a quiet period, then
/// a heap grows through new SuperSlabs; each is collapsed as the user asked.
fn asked() {
    assert!(hakmem::switches().thp, "the child runs with HAKMEM_THP=1");
    slow_next_collapses(1, 10_000_000_000);
    let _ = collapse(aligned_range());
    slow_next_collapses(0, 0);
    let st = hakmem::stats();
    assert!(
        st.thp_collapses_slow >= 1,
        "the injected collapse reads slow"
    );
    let calls = collapse_calls();
    let mapped = st.superslabs_mapped;
    let mut v: Vec<Box<[u8; 64]>> = Vec::new();
    for i in 0..(8 << 20) / 64 {
        v.push(Box::new([i as u8; 64]));
    }
    black_box(&v);
    let after = hakmem::stats();
    // Without the `stats` feature no SuperSlab is counted: every one of the 8 MiB's is then
    // taken as born in the loop (at least four; fewer asks of the kernel fail the claim too).
    let born = if hakmem::config::STATS {
        after.superslabs_mapped - mapped
    } else {
        4
    };
    assert!(born >= 2, "8 MiB of small blocks mapped {born} SuperSlabs");
    assert!(
        collapse_calls() >= calls + born as u64,
        "a HAKMEM_THP=1 SuperSlab's collapse was skipped in the quiet period ({} of {born} new \
         SuperSlabs asked of the kernel; {} skipped)",
        collapse_calls() - calls,
        after.thp_collapses_skipped - st.thp_collapses_skipped
    );
}

/// Child scenario `lone`: one slow collapse (2 ms injected, not a stall) after fast ones starts
/// no quiet period: the next collapse reaches the kernel (`os::thp::starts_quiet`; with the first
/// rule of thp26 it was skipped).
fn lone() {
    let r = aligned_range();
    let _ = collapse(r);
    if hakmem::stats().thp_collapses_slow > 0 {
        // This host's own collapse was slow: the run of slow ones is not lone; nothing to check.
        return;
    }
    slow_next_collapses(1, 2_000_000);
    let _ = collapse(r);
    slow_next_collapses(0, 0);
    assert_eq!(
        hakmem::stats().thp_collapses_slow,
        1,
        "the injected collapse reads slow"
    );
    let calls = collapse_calls();
    let _ = collapse(r);
    assert_eq!(
        collapse_calls(),
        calls + 1,
        "the collapse after a lone slow one was skipped"
    );
}

/// Child scenario `skip` (`config::THP_SKIP_NOT_REFUSAL`): a heap grows through a quiet period,
/// so its growth collapses are skipped; once the period ends (`fault::end_collapse_quiet`, no
/// clock), a heap that grows on has every new SuperSlab asked of the kernel: the ones born after
/// the streak at birth and the streak's own, full ones caught up (`pool::dense_fill`). With a
/// skip taken as the kernel's refusal (the backout, thp26's code) the pool's `refused` stopped
/// the catch-up for good: the streak's two SuperSlabs of each rebuilt streak stay on base pages.
fn skip() {
    if !thp_available()
        || thp_always()
        || !hakmem::config::STATS
        || !hakmem::config::THP_COLLAPSE_BACKOFF
    {
        println!(
            "skip: nothing to check here (no MADV_COLLAPSE, THP always, no stats, or no backoff: \
             without config::THP_COLLAPSE_BACKOFF there is no quiet period to skip in)"
        );
        return;
    }
    // A stall starts a quiet period (10 s).
    slow_next_collapses(1, 10_000_000_000);
    let _ = collapse(aligned_range());
    slow_next_collapses(0, 0);
    let grow = |v: &mut Vec<Box<[u8; 64]>>, bytes: usize| {
        for i in 0..bytes / 64 {
            v.push(Box::new([i as u8; 64]));
        }
        black_box(&*v);
    };
    let st = hakmem::stats();
    let mut v: Vec<Box<[u8; 64]>> = Vec::with_capacity((96 << 20) / 64);
    grow(&mut v, 32 << 20);
    let quiet = hakmem::stats();
    assert!(
        quiet.thp_collapses_skipped > st.thp_collapses_skipped,
        "the growth's collapses were skipped in the quiet period\n{quiet}"
    );
    // The skips stopped nothing for good (under the backout they stop the catch-up collapses,
    // as a refusal of the kernel's does).
    assert_eq!(
        hakmem::testing::thp_catch_up_stopped(),
        !hakmem::config::THP_SKIP_NOT_REFUSAL && std::env::var_os("THP_SKIP_ASSERT").is_none(),
        "after a growth whose collapses were all skipped in a quiet period, the pool's catch-up \
         collapses are stopped for good (a skip taken as the kernel's refusal)"
    );
    // The host's own collapses may be slow twice in a row (a quiet period again), or the kernel
    // may refuse one (the pool's `refused`, rightly): such a round checks nothing; up to four.
    for _ in 0..4 {
        end_collapse_quiet();
        let before = hakmem::stats();
        let calls = collapse_calls();
        let failures = collapse_alloc_failures();
        grow(&mut v, 32 << 20);
        let after = hakmem::stats();
        let asked = collapse_calls() - calls;
        let born = after.superslabs_mapped - before.superslabs_mapped;
        println!(
            "skip: after the quiet period {born} SuperSlabs born, {asked} collapses asked of the \
             kernel (refused {}, skipped {}, slow {}, {} us)",
            collapse_alloc_failures() - failures,
            after.thp_collapses_skipped - before.thp_collapses_skipped,
            after.thp_collapses_slow - before.thp_collapses_slow,
            after.thp_collapse_us - before.thp_collapse_us
        );
        if collapse_alloc_failures() != failures {
            continue;
        }
        assert!(born >= 8, "32 MiB of small blocks mapped {born} SuperSlabs");
        if hakmem::config::THP_SKIP_NOT_REFUSAL || std::env::var_os("THP_SKIP_ASSERT").is_some() {
            assert!(
                asked >= born,
                "after the quiet period {asked} collapses were asked for {born} new SuperSlabs: \
                 the streak's full SuperSlabs were not caught up (a skip was taken as a \
                 refusal)\n{after}"
            );
        }
        black_box(&v);
        return;
    }
    println!("skip: every round met a slow or refused collapse of the host's: nothing checked");
}

#[test]
fn a_skipped_collapse_leaves_the_catch_up_collapses_on() {
    child::run("skip", &[]).assert_passed();
}

#[test]
fn a_lone_slow_collapse_backs_nothing_off() {
    child::run("lone", &[]).assert_passed();
}

#[test]
fn a_superslab_the_user_asked_to_be_huge_is_collapsed_in_a_quiet_period() {
    child::run("asked", &[("HAKMEM_THP", "1")]).assert_passed();
}

#[test]
#[ignore = "child process entry point; run by the other tests"]
fn child() {
    let Some(name) = child::scenario() else {
        return;
    };
    match name.as_str() {
        "asked" => asked(),
        "lone" => lone(),
        "skip" => skip(),
        other => panic!("unknown scenario {other:?}"),
    }
}
