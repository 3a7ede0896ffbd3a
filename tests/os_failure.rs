//! OS failures surface as null and the allocator recovers (needs feature `fault-injection`, which
//! the crate's dev-dependency on itself turns on).
//!
//! One #[test] only: while `fail_next_reservations` is armed, ANY allocation in the process that
//! needs the OS fails, so nothing else may run beside it. Inside an armed window the test neither
//! prints, spawns nor asserts; it disarms first.
//!
//! Results of `std::alloc` calls pass through `black_box`: the compiler may otherwise elide an
//! allocation that is only null-checked and freed, and assume it succeeded.
//!
//! Claims checked:
//! - a large allocation (64 MiB) whose reservation fails returns null, through `alloc` and
//!   `alloc_zeroed`; once disarmed the same allocation succeeds and is usable;
//! - growing a large block with `realloc` when the OS refuses returns null and leaves the old
//!   block in place and intact; after disarming the growth succeeds and keeps the contents;
//! - in a fresh thread, allocating 4 KiB blocks until a new SuperSlab is needed returns null (at
//!   most 64 MiB of blocks are tried, far beyond any cache of empty SuperSlabs); the blocks
//!   obtained before stay usable, and after disarming the same number of allocations succeeds;
//! - a refused reservation while the large cache holds a freed block succeeds on the second try,
//!   once the cache has unmapped its blocks (`config::OOM_RELEASE`; null under its backout).

mod support;

use std::alloc::{alloc, alloc_zeroed, dealloc, realloc, GlobalAlloc, Layout};
use std::hint::black_box;
use support::pattern::{fill_raw, init_pattern, verify_raw};
use support::{KIB, MIB};

use hakmem::fault::fail_next_reservations;
use hakmem::HakMem;

#[global_allocator]
static GLOBAL: HakMem = HakMem;

/// The large request that must fail: always a fresh reservation.
const LARGE: usize = 64 * MIB;
/// The small class used to exhaust SuperSlabs, and how many blocks of it are tried at most.
const SMALL: usize = 4 * KIB;
const MAX_SMALL_BLOCKS: usize = 64 * MIB / SMALL;

fn large_reservation_fails_then_recovers() {
    let layout = Layout::from_size_align(LARGE, 4096).unwrap();

    fail_next_reservations(1);
    // SAFETY: non-zero size.
    let p = black_box(unsafe { alloc(layout) });
    fail_next_reservations(0);
    if !p.is_null() {
        // SAFETY: `p` came from `alloc(layout)`.
        unsafe { dealloc(p, layout) };
    }
    assert!(
        p.is_null(),
        "alloc(64 MiB) succeeded although the OS refused"
    );

    fail_next_reservations(1);
    // SAFETY: non-zero size.
    let z = black_box(unsafe { alloc_zeroed(layout) });
    fail_next_reservations(0);
    if !z.is_null() {
        // SAFETY: `z` came from `alloc_zeroed(layout)`.
        unsafe { dealloc(z, layout) };
    }
    assert!(
        z.is_null(),
        "alloc_zeroed(64 MiB) succeeded although the OS refused"
    );

    // Disarmed: the same request succeeds and the block is usable end to end.
    // SAFETY: non-zero size.
    let p = black_box(unsafe { alloc(layout) });
    assert!(!p.is_null(), "alloc(64 MiB) still fails after disarming");
    assert_eq!(p as usize % 4096, 0);
    // SAFETY: `p` is live for `LARGE` bytes; it is freed once with its layout.
    unsafe {
        fill_raw(p, LARGE, 1);
        verify_raw(p, LARGE, 1, "after recovery");
        dealloc(p, layout);
    }
}

fn large_growth_fails_and_keeps_the_block() {
    let layout = Layout::from_size_align(MIB, 16).unwrap();
    // SAFETY: non-zero size.
    let p = black_box(unsafe { alloc(layout) });
    assert!(!p.is_null());
    // SAFETY: `p` is live for `MIB` bytes.
    unsafe { fill_raw(p, MIB, 2) };

    // Two failures: one for an in-place growth, one for a fresh reservation, whichever it tries.
    fail_next_reservations(2);
    // SAFETY: `p` is live with `layout`; the new size is non-zero.
    let q = black_box(unsafe { realloc(p, layout, LARGE) });
    fail_next_reservations(0);

    assert!(
        q.is_null(),
        "realloc(1 MiB -> 64 MiB) succeeded although the OS refused"
    );
    // SAFETY: `p` is live (the failed realloc left it in place) for at least `MIB` bytes.
    unsafe { verify_raw(p, MIB, 2, "after a failed realloc") };
    // SAFETY: `p` is live with `layout`; the new size is non-zero.
    let q = black_box(unsafe { realloc(p, layout, LARGE) });
    assert!(
        !q.is_null(),
        "realloc(1 MiB -> 64 MiB) still fails after disarming"
    );
    // SAFETY: `q` is live for `LARGE` bytes and is freed once with its layout.
    unsafe {
        verify_raw(q, MIB, 2, "after realloc recovered");
        dealloc(q, Layout::from_size_align(LARGE, 16).unwrap());
    }
}

/// What the fresh thread saw.
struct SmallOutcome {
    /// Blocks obtained while armed, before the first null.
    before_null: usize,
    /// Nulls seen while armed (the loop stops at the first).
    nulls: usize,
    /// Allocations that failed after disarming (must be none).
    failed_after: usize,
}

fn small_superslab_fails_then_recovers() {
    // A fresh thread owns no slab yet, so its blocks must come from a SuperSlab it gets now.
    let outcome = std::thread::spawn(|| {
        let layout = Layout::from_size_align(SMALL, 16).unwrap();
        let mut blocks: Vec<*mut u8> = Vec::with_capacity(2 * MAX_SMALL_BLOCKS + 1);
        init_pattern(); // initialised outside the armed window
        drop(black_box(Box::new(0u64))); // the thread's own set-up, likewise

        // Every reservation fails while armed: a refused SuperSlab is asked for again after the
        // metadata chunk gives back its unused tail (`config::META_RELEASE_UNUSED`), and for each
        // larger class a request is promoted to (`config::FULL_CLASS_PROMOTE`).
        fail_next_reservations(usize::MAX);
        let mut nulls = 0;
        while blocks.len() < MAX_SMALL_BLOCKS {
            // SAFETY: non-zero size.
            let p = black_box(unsafe { HakMem.alloc(layout) });
            if p.is_null() {
                nulls += 1;
                break;
            }
            blocks.push(p); // within the reserved capacity: no allocation
        }
        fail_next_reservations(0);

        let before_null = blocks.len();
        let mut failed_after = 0;
        for _ in 0..before_null + nulls {
            // SAFETY: non-zero size.
            let p = black_box(unsafe { HakMem.alloc(layout) });
            if p.is_null() {
                failed_after += 1;
            } else {
                blocks.push(p);
            }
        }
        for (i, &p) in blocks.iter().enumerate() {
            // SAFETY: each block is live for `SMALL` bytes.
            unsafe { fill_raw(p, SMALL, 100 + i as u64) };
        }
        for (i, &p) in blocks.iter().enumerate() {
            // SAFETY: each block is live for `SMALL` bytes, came from `HakMem.alloc(layout)` and
            // is freed once.
            unsafe {
                verify_raw(p, SMALL, 100 + i as u64, "before free");
                HakMem.dealloc(p, layout);
            }
        }
        SmallOutcome {
            before_null,
            nulls,
            failed_after,
        }
    })
    .join()
    .expect("small-block thread panicked");
    eprintln!(
        "os_failure: small path: {} blocks of {SMALL} bytes before the first null, {} null(s)",
        outcome.before_null, outcome.nulls
    );

    assert!(
        outcome.nulls == 1,
        "{} blocks of {SMALL} bytes ({} MiB) were allocated while every OS reservation failed, \
         and none returned null",
        outcome.before_null,
        outcome.before_null * SMALL / MIB
    );
    assert_eq!(
        outcome.failed_after,
        0,
        "allocations still fail after disarming ({} of {})",
        outcome.failed_after,
        outcome.before_null + outcome.nulls
    );
}

/// `config::OOM_RELEASE`: a reservation the OS refuses while the large cache holds a freed block
/// is asked once more after the cache has unmapped its blocks (an address-space limit counts
/// them); with `--cfg hakmem_no_oom_release` it fails at once. The 8 MiB block cannot serve the
/// 40 MiB request (the cache serves a class from its own bin and the next two), so the request
/// needs a reservation of its own.
fn refused_reservation_releases_the_large_cache() {
    let cached = Layout::from_size_align(8 * MIB, 16).unwrap();
    // SAFETY: non-zero size.
    let c = black_box(unsafe { alloc(cached) });
    assert!(!c.is_null());
    // SAFETY: `c` came from `alloc(cached)`; freed within the purge delay, it stays cached.
    unsafe { dealloc(c, cached) };

    let layout = Layout::from_size_align(40 * MIB, 16).unwrap();
    fail_next_reservations(1);
    // SAFETY: non-zero size.
    let p = black_box(unsafe { alloc(layout) });
    fail_next_reservations(0);
    if !p.is_null() {
        // SAFETY: `p` is live for 40 MiB and is freed once with its layout.
        unsafe {
            fill_raw(p, 40 * MIB, 3);
            verify_raw(p, 40 * MIB, 3, "after the cache gave way");
            dealloc(p, layout);
        }
    }
    if hakmem::config::OOM_RELEASE {
        assert!(
            !p.is_null(),
            "alloc(40 MiB) failed although the large cache held a block to unmap"
        );
    } else {
        assert!(
            p.is_null(),
            "alloc(40 MiB) succeeded although the OS refused (OOM_RELEASE off)"
        );
    }
}

#[test]
fn os_failures_return_null_and_the_allocator_recovers() {
    large_reservation_fails_then_recovers();
    large_growth_fails_and_keeps_the_block();
    small_superslab_fails_then_recovers();
    refused_reservation_releases_the_large_cache();
    hakmem::collect();
}
