//! The owned-slab table (front/owned.rs) answers the free fast path; the hint cache and the
//! registry answer everything else. A slab the thread owns but the table lost — another slab
//! took its direct-mapped entry — is entered again by the first free that finds it owned through
//! the hint cache, so the frees after it take the fast path again (before session 3 only a free
//! through the registry re-entered it, and glibc-thread spent 3–5% of its samples in
//! `free_unowned` on owned slabs).

use std::alloc::{GlobalAlloc, Layout};

use hakmem::testing;
use hakmem::HakMem;

static A: HakMem = HakMem;

/// The tests of this file run one at a time: one counts the process's local frees
/// (`hakmem::stats`), which the others' frees would add to. (`A` is not the global allocator, so
/// the test harness's own allocations are not counted.)
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn an_owned_slab_lost_by_the_table_is_entered_again_by_a_hinted_free() {
    let _serial = serial();
    let layout = Layout::from_size_align(48, 16).unwrap();
    // SAFETY: valid layouts; every block is freed once, below.
    let blocks: Vec<*mut u8> = (0..4).map(|_| unsafe { A.alloc(layout) }).collect();
    assert!(blocks.iter().all(|p| !p.is_null()));
    let p = blocks[0];
    let same_slab: Vec<*mut u8> = blocks[1..]
        .iter()
        .copied()
        .filter(|&q| q as usize & !0xffff == p as usize & !0xffff)
        .collect();
    assert!(
        !same_slab.is_empty(),
        "consecutive 48-byte blocks share a slab"
    );
    if !testing::owned_table_holds(p) {
        eprintln!("owned-slab table off in this build (tls-hint or its switch): nothing to test");
        for q in blocks {
            // SAFETY: allocated above with `layout`.
            unsafe { A.dealloc(q, layout) };
        }
        return;
    }
    assert!(testing::owned_table_evict(p), "the table held the slab");
    assert!(!testing::owned_table_holds(p), "evicted");
    assert_eq!(
        testing::hint_state(p),
        testing::HintState::Hit,
        "the hint cache still knows the SuperSlab (bound slabs enter it)"
    );
    // SAFETY: allocated above with `layout`, freed once.
    unsafe { A.dealloc(p, layout) };
    assert!(
        testing::owned_table_holds(same_slab[0]),
        "the free through the hint cache entered the owned slab again"
    );
    for q in blocks.into_iter().skip(1) {
        // SAFETY: allocated above with `layout`, freed once.
        unsafe { A.dealloc(q, layout) };
    }
}

/// A thread with a small stack creates its heap (owned-slab table included: 32 KiB) at its first
/// request and tears it down at its exit: neither may build the heap or the table as a value on
/// the stack (`Heap::init`, `OwnedSlabs::init`/`clear` write in place). Before, the release
/// build's `new_heap` had a frame of 72 KiB (136 KiB with 2,048 32-byte entries), and this
/// thread died of a stack overflow at its first allocation, in debug and release builds.
#[test]
fn a_thread_with_a_64_kib_stack_allocates_and_frees() {
    let _serial = serial();
    let t = std::thread::Builder::new()
        .stack_size(64 << 10)
        .spawn(|| {
            let mut sum = 0usize;
            for size in [16usize, 48, 200, 1000, 3000, 20_000, 100_000] {
                let layout = Layout::from_size_align(size, 16).unwrap();
                // SAFETY: valid layouts; every block is freed once, below.
                let blocks: Vec<*mut u8> = (0..64).map(|_| unsafe { A.alloc(layout) }).collect();
                for &p in &blocks {
                    assert!(!p.is_null());
                    // SAFETY: a live block of `size` bytes.
                    unsafe { p.write_bytes(7, size) };
                    sum += size;
                }
                for p in blocks {
                    // SAFETY: allocated above with `layout`, freed once.
                    unsafe { A.dealloc(p, layout) };
                }
            }
            sum
        })
        .unwrap();
    assert_eq!(
        t.join().unwrap(),
        64 * (16 + 48 + 200 + 1000 + 3000 + 20_000 + 100_000)
    );
}

/// With 32-byte entries (`config::TABLE32`) the free fast path checks a block against the
/// entry's copy of the slab's `carve_limit`, written when the slab was entered or last carved by
/// a refill. Blocks carved since (here by `testing::take_remote_of`, which carves and puts them
/// on the slab's free list without touching the table; a refill then takes that list whole) lie
/// above the stale copy: their frees must take the full check and succeed — time, never a wrong
/// answer — and be counted. (Made to abort on the entry's refusal, the first such free failed.)
#[test]
fn blocks_carved_since_the_entry_was_written_free_through_the_full_check() {
    let _serial = serial();
    std::thread::spawn(|| {
        let layout = Layout::from_size_align(2000, 16).unwrap();
        // SAFETY: a valid layout; freed below.
        let p = unsafe { A.alloc(layout) };
        assert!(!p.is_null());
        if !testing::owned_table_holds(p) {
            eprintln!("owned-slab table off in this build: nothing to test");
            // SAFETY: allocated above with `layout`.
            unsafe { A.dealloc(p, layout) };
            return;
        }
        let mut carved = Vec::new();
        let got = testing::take_remote_of(p, 64, |b| carved.push(b as usize)).unwrap();
        assert!(got > 0, "the slab had blocks left to carve");
        let mut held = Vec::new();
        let mut found = 0;
        while found < carved.len() && held.len() < 1_000 {
            // SAFETY: as above.
            let q = unsafe { A.alloc(layout) };
            assert!(!q.is_null());
            // SAFETY: a live block of 2,000 bytes.
            unsafe { q.write_bytes(3, 2000) };
            // (Header mode: the user pointer follows its block's header.)
            let carved_block = carved.iter().any(|&b| (q as usize).wrapping_sub(b) < 64);
            found += usize::from(carved_block);
            held.push(q);
        }
        assert_eq!(found, carved.len(), "the carved blocks were handed out");
        let before = hakmem::stats().local_frees;
        for &q in held.iter().rev() {
            // SAFETY: allocated above with `layout`, freed once.
            unsafe { A.dealloc(q, layout) };
        }
        // SAFETY: as above.
        unsafe { A.dealloc(p, layout) };
        // Process-wide: the harness's own threads may add a few frees of theirs meanwhile.
        let freed = hakmem::stats().local_frees - before;
        let want = held.len() as u64 + 1;
        assert!(
            (want..want + 64).contains(&freed),
            "{freed} local frees counted for {want}"
        );
        // They come back from the TLS list, the last freed first.
        // SAFETY: as above.
        let again = unsafe { A.alloc(layout) };
        assert_eq!(again, p);
        // SAFETY: as above.
        unsafe { A.dealloc(again, layout) };
    })
    .join()
    .unwrap();
}

/// `free(NULL)` is a no-op as a new thread's first call (its heap is still the sentinel: an empty
/// table and hint cache; it gets no heap from it) and on a live heap: it frees nothing, counts
/// nothing and leaves the thread's lists as they were. Since `config::NULL_FREE_MISS` it returns
/// at the owned-slab table's miss, before the hint cache and `free_slow` (which gives a freeing
/// thread its heap, `config::FREER_HEAP`) see it.
///
/// The counters are process-wide, and the test harness's own threads allocate beside this one
/// (a clean-clone CI on a loaded host saw 3 of their allocations and frees land between two
/// snapshots, session 25): so the checks are that the thread stays heapless, that 1,000
/// `free(NULL)` calls are not 1,000 counted frees, and the list's order afterwards.
#[test]
fn free_null_is_a_no_op_as_a_threads_first_call_and_on_a_live_heap() {
    let _serial = serial();
    std::thread::spawn(|| {
        assert!(hakmem::testing::heapless(), "a new thread starts heapless");
        let before = hakmem::stats();
        for _ in 0..1000 {
            // SAFETY: null is always a valid argument of `free`.
            unsafe { hakmem::raw::free(std::ptr::null_mut()) };
        }
        let after = hakmem::stats();
        assert!(
            hakmem::testing::heapless(),
            "free(NULL) as a thread's first calls gave it a heap"
        );
        assert!(
            after.local_frees + after.remote_frees
                < before.local_frees + before.remote_frees + 1000,
            "free(NULL) as a thread's first calls counted frees"
        );
        let layout = Layout::from_size_align(48, 16).unwrap();
        // SAFETY: a valid layout; freed once below.
        let p = unsafe { A.alloc(layout) };
        assert!(!p.is_null());
        let before = hakmem::stats();
        for _ in 0..1000 {
            // SAFETY: as above.
            unsafe { hakmem::raw::free(std::ptr::null_mut()) };
        }
        let after = hakmem::stats();
        assert!(
            after.local_frees + after.remote_frees
                < before.local_frees + before.remote_frees + 1000,
            "free(NULL) on a live heap counted frees"
        );
        // SAFETY: allocated above with `layout`, freed once.
        unsafe { A.dealloc(p, layout) };
        // The list is as the one free left it: its block comes back first.
        // SAFETY: as above.
        let q = unsafe { A.alloc(layout) };
        assert_eq!(q, p, "the block freed last is handed out first");
        // SAFETY: as above.
        unsafe { A.dealloc(q, layout) };
    })
    .join()
    .unwrap();
}
