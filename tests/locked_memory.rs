//! Locked memory (`mlock`/`mlockall`; `config::LOCKED_MEMORY`), driven by fault injection: the
//! kernel refuses `madvise(MADV_DONTNEED)` on locked pages with `EINVAL`
//! (`fault::fail_next_decommits_locked`). Needs feature `fault-injection` (the crate's
//! dev-dependency on itself turns it on). One #[test]: the locked state is process-wide.
//!
//! Claims checked (session 25, mlock25):
//! - the first refused purge notes the memory locked: one failure counted (`os_failures` + 1),
//!   `memory_locked` 1, and further purges are skipped without a system call
//!   (`purges_skipped_locked` grows, `os_failures` does not) — before, every purge of every
//!   cached span failed and counted again (about 10,000 for scripts/robustness/mlockall_churn.c);
//! - while locked, a medium request is served by the large tier (its own mapping, unmapped
//!   beyond the cache's bound) and its contents hold; a span stays cached, committed, for reuse;
//! - while locked, a small request is served by a coarser class (`config::LOCKED_COARSE_CLASSES`,
//!   session 26, lock26): 1,040 bytes get a block of 1,280 (four classes per doubling), not
//!   their own class of 1,040; once unlocked, their own class again;
//! - a forked child does not inherit the locked state (`fork` passes on no memory lock);
//! - once the kernel accepts purges again (`munlockall`), one of the next
//!   `os::LOCKED_RETRY_EVERY` purges goes through and purging (and the medium tier) resumes.
//!
//! Under the backout (`--cfg hakmem_no_locked_memory`) each refusal is counted as before and the
//! medium tier stays in spans; the test checks that instead.

use std::alloc::{alloc, dealloc, Layout};
use std::hint::black_box;

use hakmem::fault::fail_next_decommits_locked;
use hakmem::HakMem;

#[global_allocator]
static GLOBAL: HakMem = HakMem;

const MEDIUM: usize = 256 << 10;

/// Allocates, writes, checks and frees one medium block.
fn medium_round_trip(seed: u8) {
    let layout = Layout::from_size_align(MEDIUM, 16).unwrap();
    // SAFETY: non-zero size.
    let p = black_box(unsafe { alloc(layout) });
    assert!(!p.is_null());
    // SAFETY: `p` is live for MEDIUM bytes and freed once with its layout.
    unsafe {
        core::ptr::write_bytes(p, seed, MEDIUM);
        let s = core::slice::from_raw_parts(p, MEDIUM);
        assert!(
            s.iter().all(|&b| b == seed),
            "medium block lost its contents"
        );
        dealloc(p, layout);
    }
}

/// Leaves empty spans of several medium classes in the span cache (a thread that exits), and
/// dirty slabs in the pool, so that a `collect` has committed pages to purge.
fn leave_dirty_spans() {
    std::thread::spawn(|| {
        let mut v = Vec::new();
        for k in 0..8 {
            let layout = Layout::from_size_align((40 << 10) << (k % 6), 16).unwrap();
            for _ in 0..3 {
                // SAFETY: non-zero size.
                let p = unsafe { alloc(layout) };
                assert!(!p.is_null());
                // SAFETY: live for its layout's size.
                unsafe { core::ptr::write_bytes(p, 7, layout.size()) };
                v.push((p, layout));
            }
        }
        for (p, l) in v {
            // SAFETY: each came from `alloc(l)` and is freed once.
            unsafe { dealloc(p, l) };
        }
    })
    .join()
    .unwrap();
}

#[test]
fn a_locked_purge_stops_purging_once_and_medium_goes_large() {
    leave_dirty_spans();
    let s0 = hakmem::stats();
    assert_eq!(s0.memory_locked, 0);
    fail_next_decommits_locked(usize::MAX);
    hakmem::collect();
    let s1 = hakmem::stats();
    let stats = s1.allocs > 0;
    if !hakmem::config::LOCKED_MEMORY {
        // The backout: every refused purge counts, nothing is noted.
        hakmem::collect();
        let s2 = hakmem::stats();
        fail_next_decommits_locked(0);
        assert_eq!(s2.memory_locked, 0);
        if stats {
            assert!(s2.os_failures > s1.os_failures && s1.os_failures > s0.os_failures);
        }
        return;
    }
    assert_eq!(
        s1.memory_locked, 1,
        "a purge refused with EINVAL did not note the memory locked"
    );
    if stats {
        assert_eq!(
            s1.os_failures,
            s0.os_failures + 1,
            "the locked state counts once"
        );
    }
    forked_child_is_not_locked();
    for _ in 0..5 {
        hakmem::collect();
    }
    let s2 = hakmem::stats();
    if stats {
        assert_eq!(
            s2.os_failures, s1.os_failures,
            "skipped purges are not failures"
        );
        assert!(
            s2.purges_skipped_locked > s1.purges_skipped_locked,
            "no purge was skipped: {} -> {}",
            s1.purges_skipped_locked,
            s2.purges_skipped_locked
        );
    }
    medium_round_trip(0x5a);
    coarse_while_locked(true);
    let s3 = hakmem::stats();
    if stats && cfg!(feature = "medium") {
        assert_eq!(
            s3.medium_allocs, s2.medium_allocs,
            "a span served a locked medium request"
        );
        assert!(
            s3.large_allocs > s2.large_allocs,
            "the large tier did not serve it"
        );
    }

    // `munlockall`: the kernel purges again. Within `LOCKED_RETRY_EVERY` skipped purges one is
    // tried, succeeds, and the memory is no longer noted locked.
    fail_next_decommits_locked(0);
    let mut rounds = 0;
    while hakmem::stats().memory_locked == 1 {
        rounds += 1;
        assert!(
            rounds < 20_000,
            "purging never resumed after the memory was unlocked"
        );
        hakmem::collect();
        leave_dirty_spans_if(rounds % 64 == 0);
    }
    medium_round_trip(0xa5);
    coarse_while_locked(false);
    let s4 = hakmem::stats();
    if stats && cfg!(feature = "medium") {
        assert!(
            s4.medium_allocs > s3.medium_allocs,
            "the medium tier did not resume"
        );
    }
}

/// Refills the caches now and then, so that the retry loop always has something to purge.
fn leave_dirty_spans_if(yes: bool) {
    if yes {
        leave_dirty_spans();
    }
}

/// Forks; the child reports (exit status) whether it sees the memory locked.
fn forked_child_is_not_locked() {
    // SAFETY: the child only reads the allocator's counters and `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        let locked = hakmem::stats().memory_locked;
        // SAFETY: leaves the child at once, running no test-harness code.
        unsafe { libc::_exit(locked as i32) };
    }
    let mut status = 0;
    // SAFETY: our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "a forked child inherited the locked state (status {status:#x}): fork passes on no \
         memory lock"
    );
}

/// `config::LOCKED_COARSE_CLASSES`: in a fresh thread (its lists empty, so the request takes the
/// slow path), a request of 1,040 bytes gets a block of the coarse class (1,280 bytes) while memory
/// is locked, and of its own fine class otherwise; its contents hold.
fn coarse_while_locked(locked: bool) {
    let usable = std::thread::spawn(|| {
        let layout = Layout::from_size_align(1040, 16).unwrap();
        // SAFETY: non-zero size.
        let p = black_box(unsafe { alloc(layout) });
        assert!(!p.is_null());
        // SAFETY: `p` is live for 1,040 bytes.
        unsafe { core::ptr::write_bytes(p, 0x3c, 1040) };
        // SAFETY: `p` is a live block of ours.
        let usable = unsafe { hakmem::raw::usable_size(p) };
        // SAFETY: as above.
        assert!((0..1040).all(|i| unsafe { *p.add(i) } == 0x3c));
        // SAFETY: `p` came from `alloc(layout)` and is freed once.
        unsafe { dealloc(p, layout) };
        usable
    })
    .join()
    .expect("small-block thread panicked");
    let coarse = hakmem::config::LOCKED_COARSE_CLASSES && hakmem::config::LOCKED_MEMORY && locked;
    // 1,040 bytes have a class of their own (a power of two plus a header,
    // `config::POW2_HEADER_CLASSES`; header mode: 1,152, 1,136 usable), the coarse one is 1,280
    // (1,264 usable).
    if coarse {
        assert!(
            usable > 1200,
            "a locked small request kept its fine class ({usable} bytes)"
        );
    } else {
        assert!(
            usable < 1200,
            "an unlocked request of 1,040 bytes got {usable} bytes"
        );
    }
}
