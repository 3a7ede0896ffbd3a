//! The fork takeover's busy windows (`Heap::busy`, docs/design.md "A forked child and the
//! parent's other threads' heaps"): in checked builds every change of what the takeover reads
//! aborts unless its heap is inside a window (`HeapLocal::expect_busy`). The suite's other tests
//! reach most windows; this file reaches the ones they do not. A test here fails by aborting the
//! binary ("hakmem: heap: ... outside a busy window (fork takeover)").

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

/// A thread that only frees follows the profiler's switch from `spill_owned`: the heap enters
/// profiling there (`profiling::sync`, whose `relink` rewrites the owned table) with no other
/// slow path around it. Aborted (debug) before `profiling::sync` opened its own window.
#[test]
#[cfg(feature = "profile")]
fn a_freeing_thread_enters_profiling_inside_a_busy_window() {
    use std::sync::{Arc, Barrier};
    let made = Arc::new(Barrier::new(2));
    let started = Arc::new(Barrier::new(2));
    let (m, s) = (made.clone(), started.clone());
    let t = std::thread::spawn(move || {
        let blocks: Vec<Box<[u64; 6]>> = (0..4096).map(|i| Box::new([i; 6])).collect();
        m.wait();
        s.wait();
        // Only frees: the TLS list overflows and `spill_owned` syncs the heap with the switch.
        let mut sum = 0;
        for b in blocks {
            sum += b[5];
        }
        sum
    });
    made.wait();
    assert!(hakmem::profile::start());
    started.wait();
    assert_eq!(t.join().unwrap(), 4095 * 4096 / 2);
    hakmem::profile::stop();
}
