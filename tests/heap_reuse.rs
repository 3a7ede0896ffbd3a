//! A heap its exited thread left in the heap pool is reset before the next thread takes it
//! (`Heap::reset_for_reuse`, session 19). Thread A empties the first span of a medium class of
//! few blocks a span (`config::SPAN_PURGE_FIRST_EMPTY`: purged at once) and exits; thread B gets
//! A's heap from the pool (the `heaps_reused` counter says so) and empties its own first span of
//! the same class: purged at once too. Before the reset, B's heap still carried A's first-empty
//! bit (`purge::Retired`), so B's span stayed resident for the purge delay. Without the test
//! harness (`harness = false`): no harness thread may use the class first, exit, or leave a heap
//! in the pool.

mod support;

use std::alloc::{alloc, dealloc, Layout};

use support::thp::resident_pages;

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const PAGE: usize = 4096;

/// A medium size whose class holds at most `SPAN_PURGE_FIRST_MAX_BLOCKS` blocks a span (see
/// tests/span_purge_first.rs).
const SIZE: usize = 256 << 10;

/// On a thread of its own: allocates one block of `SIZE`, touches every page, frees it (the
/// class's current span empties: the thread's first of the class) and returns how many of its
/// whole pages stayed resident.
fn empty_first_span() -> usize {
    let layout = Layout::from_size_align(SIZE, 16).unwrap();
    // SAFETY: a non-zero size.
    let p = unsafe { alloc(layout) };
    assert!(!p.is_null(), "alloc({SIZE})");
    for i in (0..SIZE).step_by(PAGE) {
        // SAFETY: inside the block, which is ours. Volatile: a plain write just before the free
        // is a dead store the compiler drops, and the pages would never become resident.
        unsafe { p.add(i).write_volatile(1) };
    }
    // SAFETY: allocated above with `layout`, freed once.
    unsafe { dealloc(p, layout) };
    let (start, end) = (
        (p as usize).next_multiple_of(PAGE),
        (p as usize + SIZE) & !(PAGE - 1),
    );
    resident_pages(start, end - start)
}

fn main() {
    if !cfg!(feature = "medium") {
        println!("heap_reuse: skipped (no medium tier: this size takes the large path)");
        return;
    }
    let delay_zero = std::env::var("HAKMEM_PURGE_DELAY_MS").is_ok_and(|v| v == "0");
    let policy = hakmem::config::SPAN_PURGE_FIRST_EMPTY;
    let before = hakmem::stats();
    let a = std::thread::spawn(empty_first_span).join().unwrap();
    let mid = hakmem::stats();
    let b = std::thread::spawn(empty_first_span).join().unwrap();
    let after = hakmem::stats();
    assert_eq!(
        (
            mid.heaps_reused - before.heaps_reused,
            after.heaps_reused - mid.heaps_reused
        ),
        (0, 1),
        "thread A gets a new heap, thread B the heap A left in the pool\n{after}"
    );
    let full = SIZE / PAGE - 1;
    if policy || delay_zero {
        assert_eq!(
            a, 0,
            "A's first emptied span is purged at once ({a} pages resident)"
        );
        assert_eq!(
            b, 0,
            "B, on A's recycled heap, empties its own first span of the class: purged at once \
             ({b} of {full}+ pages resident; a reused heap that kept A's first-empty bit leaves \
             it on the purge clock)\n{after}"
        );
    } else {
        assert!(
            a >= full && b >= full,
            "without the policy both stay resident for the purge delay ({a}, {b} pages)"
        );
    }
    println!("heap_reuse: ok (policy {policy}; resident pages after A's free {a}, after B's {b})");
}
