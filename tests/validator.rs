//! The structural validator (`hakmem::testing::debug_check`, `HeapLocal::debug_check` and
//! `Slab::debug_check`; mimalloc's `_mi_page_is_valid`): it counts what a scenario did, and it
//! aborts on a broken structure.
//!
//! Each scenario runs in a child process (tests/support/child.rs). This binary keeps the system
//! allocator as its global allocator, so the scenario's calls to `HakMem` are the only blocks in
//! hakmem's slabs and the census can be compared exactly.
//!
//! | scenario | expected |
//! |---|---|
//! | allocate, free locally, free remotely, collect | `live`, `remote` and `used` follow each step exactly |
//! | a freed block pushed on its slab's remote queue too (in two lists at once) | abort: `heap` (TLS list length differs) |
//! | a remote queue holding a block twice (a cycle) | abort: `slab` (remote queue longer than the blocks out) |
//! | the block in two lists, on a thread that then exits without calling the validator | abort at thread exit: `heap` (TLS list length differs); a release build does not validate at exit and runs on |

mod support;

use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;

use hakmem::testing;
use hakmem::HakMem;
use support::child::continued;

const SIZE: usize = 48;

fn layout() -> Layout {
    Layout::from_size_align(SIZE, 16).expect("layout")
}

fn alloc() -> *mut u8 {
    // SAFETY: a non-zero size.
    let p = unsafe { HakMem.alloc(layout()) };
    assert!(!p.is_null());
    black_box(p)
}

fn free(p: *mut u8) {
    // SAFETY: a live block of this layout.
    unsafe { HakMem.dealloc(black_box(p), layout()) };
}

/// Correct side: the census follows every step.
fn counts() {
    let base = testing::debug_check();
    assert_eq!(base.live, 0, "nothing allocated yet: {base:?}");
    let blocks: Vec<usize> = (0..40).map(|_| alloc() as usize).collect();
    let c = testing::debug_check();
    assert_eq!(c.live, 40, "after 40 allocations: {c:?}");
    assert_eq!(c.used, c.live + c.tls + c.remote, "{c:?}");
    assert!(
        c.slabs >= 1 && c.tls > 0,
        "a refill batch sits on the TLS list: {c:?}"
    );
    for &p in &blocks[..10] {
        free(p as *mut u8);
    }
    let c = testing::debug_check();
    assert_eq!((c.live, c.remote), (30, 0), "after 10 local frees: {c:?}");
    let remote = blocks[10..25].to_vec();
    std::thread::spawn(move || remote.into_iter().for_each(|p| free(p as *mut u8)))
        .join()
        .expect("remote freer panicked");
    let c = testing::debug_check();
    assert_eq!((c.live, c.remote), (15, 15), "after 15 remote frees: {c:?}");
    for &p in &blocks[25..] {
        free(p as *mut u8);
    }
    hakmem::collect();
    let c = testing::debug_check();
    assert_eq!((c.live, c.tls, c.remote), (0, 0, 0), "after collect: {c:?}");
}

/// Bug side: a freed block (at the head of the TLS list) pushed on its slab's remote queue as
/// well. The push overwrites its link, so the TLS list loses its tail.
fn two_lists() {
    let keep: Vec<*mut u8> = (0..4).map(|_| alloc()).collect();
    let x = alloc();
    free(x);
    // SAFETY: deliberate corruption: x is on the TLS list and now in the remote queue.
    unsafe { testing::push_remote_unchecked(x) };
    testing::debug_check();
    continued();
    keep.into_iter().for_each(free);
}

/// Bug side: the two-lists corruption on a thread that exits without asking for a check: the
/// validator runs where the heap retires (thread exit, `checked`), before the flush would spread
/// the damage over the pool and the publish lists.
fn two_lists_at_exit() {
    std::thread::spawn(|| {
        let keep: Vec<*mut u8> = (0..4).map(|_| alloc()).collect();
        let x = alloc();
        free(x);
        // SAFETY: deliberate corruption, as in `two_lists`.
        unsafe { testing::push_remote_unchecked(x) };
        std::mem::forget(keep);
    })
    .join()
    .expect("thread panicked");
    continued();
}

/// Bug side: a remote queue that holds a block twice (x, y, x, y, … — a cycle).
fn queue_cycle() {
    let x = alloc();
    let y = alloc();
    // Everything but x and y goes back to the slab, so exactly two blocks are out.
    hakmem::collect();
    // SAFETY: deliberate corruption: x is pushed twice.
    unsafe {
        testing::push_remote_unchecked(x);
        testing::push_remote_unchecked(y);
        testing::push_remote_unchecked(x);
    }
    testing::debug_check();
    continued();
}

#[test]
#[ignore = "runs only as a child process of the tests below"]
fn child() {
    let Some(s) = support::child::scenario() else {
        return;
    };
    match s.as_str() {
        "counts" => counts(),
        "two_lists" => two_lists(),
        "queue_cycle" => queue_cycle(),
        "two_lists_at_exit" => two_lists_at_exit(),
        other => panic!("unknown scenario {other}"),
    }
}

#[test]
fn census_follows_alloc_local_and_remote_free() {
    support::child::run("counts", &[]).assert_passed();
}

#[test]
fn a_block_in_two_lists_is_caught() {
    support::child::run("two_lists", &[]).assert_aborted(&["heap"], &["TLS list length"], false);
}

#[test]
fn a_cycle_in_a_remote_queue_is_caught() {
    support::child::run("queue_cycle", &[]).assert_aborted(
        &["slab"],
        &["remote queue longer than the blocks out"],
        false,
    );
}

#[test]
fn a_block_in_two_lists_is_caught_when_its_thread_exits() {
    let run = support::child::run("two_lists_at_exit", &[]);
    if testing::VALIDATES_AT_THREAD_EXIT {
        run.assert_aborted(&["heap"], &["TLS list length"], false);
    } else {
        // A release build does not validate at thread exit (the validator walks every list of
        // the heap: debug builds and `checked` only), so the corruption goes unseen there; the
        // scenario then runs to its end.
        run.assert_passed();
    }
}
