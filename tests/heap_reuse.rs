//! A heap its exited thread left in the heap pool is reset before the next thread takes it
//! (`Heap::reset_for_reuse`, session 19). Thread A frees medium blocks locally — past a trim
//! check (`config::MEDIUM_TRIM`), so its heap holds a trim epoch, its clock and a count of frees
//! — and, with `--cfg hakmem_tls_slow_start`, grows a small class's TLS cap; then it exits.
//! Thread B gets A's heap from the pool (the `heaps_reused` counter says so) and must find it as
//! a new thread finds a new heap: no trim estimate, epoch, clock or backoff (`config::TRIM_BACKOFF`,
//! set in A through a test hook), start caps. Before the reset
//! B found A's (a stale `medium_freed` / `medium_unclean` made B's first bind run a trim check its
//! own frees did not call for; a stale epoch clock refused its first check by frees).
//! Without the test harness (`harness = false`): no harness thread may exit first and leave a
//! heap in the pool.

use std::alloc::{alloc, dealloc, Layout};

use hakmem::config::{MEDIUM_TRIM, MEDIUM_TRIM_CHECK_BYTES, TLS_SLOW_START, TRIM_BACKOFF};
use hakmem::testing;

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

/// A medium size.
const MEDIUM: usize = 256 << 10;

/// Thread A: local medium frees past one trim check and then some; `rounds` walks of a small
/// class's TLS list that grow its cap under slow start (tests/tls_slow_start.rs's pattern: frees
/// and allocations alternate past the cap). Returns its trim state and grown bytes.
fn thread_a() -> ([u64; 10], usize) {
    // The check's epoch gate counts from the clock's start: let it pass.
    std::thread::sleep(std::time::Duration::from_millis(10));
    let layout = Layout::from_size_align(MEDIUM, 16).unwrap();
    for _ in 0..MEDIUM_TRIM_CHECK_BYTES / MEDIUM + 4 {
        // SAFETY: a non-zero size; freed once just below.
        // `black_box`: an allocation freed unused is a pair the compiler may drop.
        let p = std::hint::black_box(unsafe { alloc(layout) });
        assert!(!p.is_null(), "alloc({MEDIUM})");
        // SAFETY: allocated above with `layout`.
        unsafe { dealloc(p, layout) };
    }
    let small = Layout::from_size_align(64, 16).unwrap();
    let cap = testing::tls_caps().0[testing::class_for(64, 16).unwrap()] as usize;
    // SAFETY: a valid layout; every block is freed once below.
    let mut live: Vec<*mut u8> = (0..4 * cap).map(|_| unsafe { alloc(small) }).collect();
    for _ in 0..64 {
        for p in live.drain(live.len() - 2 * cap..) {
            // SAFETY: allocated with `small`, freed once.
            unsafe { dealloc(p, small) };
        }
        // SAFETY: a valid layout.
        live.extend((0..2 * cap).map(|_| unsafe { alloc(small) }));
    }
    if TRIM_BACKOFF {
        // The backoff's state, as a program whose purged blocks came back leaves it (reaching it
        // through real trims takes tests/medium_trim_backoff.rs's sixteen rounds).
        testing::set_trim_backoff(2, 1 << 20);
    }
    let state = (testing::medium_trim_state(), testing::tls_caps().1);
    for p in live {
        // SAFETY: allocated with `small`, freed once.
        unsafe { dealloc(p, small) };
    }
    state
}

/// Thread B: what its heap holds before it frees anything.
fn thread_b() -> ([u64; 10], usize) {
    (testing::medium_trim_state(), testing::tls_caps().1)
}

fn main() {
    let before = hakmem::stats();
    let (a_trim, a_grown) = std::thread::spawn(thread_a).join().unwrap();
    let mid = hakmem::stats();
    let (b_trim, b_grown) = std::thread::spawn(thread_b).join().unwrap();
    let after = hakmem::stats();
    let stats = cfg!(feature = "stats"); // without it the counters read 0
    assert_eq!(
        (
            mid.heaps_reused - before.heaps_reused,
            after.heaps_reused - mid.heaps_reused
        ),
        if stats { (0, 1) } else { (0, 0) },
        "thread A gets a new heap, thread B the heap A left in the pool\n{after}"
    );
    if MEDIUM_TRIM && cfg!(feature = "medium") {
        assert!(
            a_trim[0] > 0 && a_trim[3] > 0 && a_trim[4] > 0,
            "A ran a trim check and freed since: [freed, unclean, freed_at, epoch, epoch_at] \
             {a_trim:?}"
        );
    }
    if TRIM_BACKOFF && cfg!(feature = "medium") {
        assert!(
            a_trim[5..].iter().all(|&v| v > 0),
            "A left a trim backoff: [refaulted, purged, purged_before, level, quiet] {:?}",
            &a_trim[5..]
        );
    }
    assert_eq!(
        b_trim, [0; 10],
        "B finds no trim estimate, epoch, clock or backoff on A's recycled heap (A left {a_trim:?})"
    );
    if TLS_SLOW_START {
        assert!(a_grown > 0, "A's walks grew a TLS cap");
    }
    assert_eq!(
        b_grown, 0,
        "B starts at the start caps (A grew them by {a_grown} bytes)"
    );
    println!("heap_reuse: ok (A left trim state {a_trim:?}, grown caps {a_grown} B; B found none)");
}
