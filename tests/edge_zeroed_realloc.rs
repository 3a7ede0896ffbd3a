//! Session 28 (edge28): adversarial checks of the small zeroed path, `realloc` of blocks other
//! threads own and cross-thread frees, through `HakMem` as the global allocator.
//!
//! | test | claim |
//! |---|---|
//! | `alloc_zeroed_reads_zero_to_usable_size` | `alloc_zeroed` of every size 1..=160 at alignments 1..=64, after the same class's blocks were dirtied with 0xAB and freed (by this thread, by another live thread and drained back, by this thread after their owner exited), reads zero over the whole `raw::usable_size`, not only the request (C's `calloc` on glibc clears the whole chunk; with `--cfg hakmem_no_calloc_clears_usable` only the request is checked) |
//! | `calloc_reads_zero_to_usable_size` | the same through `raw::calloc` (the C entry), `n * size` products included |
//! | `realloc_across_classes_of_foreign_blocks` | `realloc` growing and shrinking across every small class boundary, into medium and back, of blocks allocated by another thread (live and busy on the same class, or exited), keeps the bytes |
//! | `producers_consumer_with_exits` | eight producers allocate and exit while one consumer frees, every block checked for its pattern; the heap stays usable afterwards |
//!
//! With `HAKMEM_PROF=1 HAKMEM_PROF_SAMPLE=1` (every request sampled) and `HAKMEM_DEBUG=1` the same
//! tests pass (docs/debugging.md, "Session 28: edge28"). Fixed counts and seeds: no timing.

use std::alloc::{alloc, alloc_zeroed, dealloc, realloc, Layout};
use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const DIRT: u8 = 0xAB;
const ROUNDS: usize = 16;
const ALIGNS: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];

/// The bytes a zeroed block must read as zero: the usable size (what C's `malloc_usable_size`
/// reports), or only the request with the backout.
fn must_be_zero(p: *mut u8, size: usize) -> usize {
    if hakmem::config::CALLOC_CLEARS_USABLE {
        // SAFETY: `p` is a live block of this allocator.
        let u = unsafe { hakmem::raw::usable_size(p) };
        assert!(u >= size, "usable {u} < request {size}");
        u
    } else {
        size
    }
}

fn check_zero(p: *mut u8, size: usize, how: &str) {
    let n = must_be_zero(p, size);
    // SAFETY: `p` is live with at least `n` usable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(p, n) };
    if let Some(i) = bytes.iter().position(|&b| b != 0) {
        panic!(
            "zeroed {size} bytes ({how}): byte {i} of {n} is {:#04x}",
            bytes[i]
        );
    }
}

/// `ROUNDS` blocks of `layout`, dirtied over their whole usable size.
fn dirty(layout: Layout) -> Vec<usize> {
    (0..ROUNDS)
        .map(|_| {
            // SAFETY: non-zero size.
            let p = black_box(unsafe { alloc(layout) });
            assert!(!p.is_null());
            // SAFETY: `p` is live; a program may write its whole usable size.
            unsafe { p.write_bytes(DIRT, hakmem::raw::usable_size(p)) };
            p as usize
        })
        .collect()
}

fn free_all(blocks: Vec<usize>, layout: Layout) {
    for p in blocks {
        // SAFETY: each came from `alloc(layout)` and is freed once.
        unsafe { dealloc(p as *mut u8, layout) };
    }
}

/// Takes `2 * ROUNDS` zeroed blocks with `zeroed`, checks them, dirties them whole and frees them.
fn take_zeroed(layout: Layout, how: &str, zeroed: &dyn Fn() -> *mut u8) {
    let got: Vec<*mut u8> = (0..2 * ROUNDS)
        .map(|_| {
            let p = zeroed();
            assert!(!p.is_null());
            check_zero(p, layout.size(), how);
            // SAFETY: as in `dirty`.
            unsafe { p.write_bytes(0xCD, hakmem::raw::usable_size(p)) };
            p
        })
        .collect();
    for p in got {
        // SAFETY: from `alloc_zeroed(layout)` or `raw::calloc` (same allocator, 16-aligned).
        unsafe { dealloc(p, layout) };
    }
}

/// The three ways dirty blocks of `layout` come back before `zeroed` runs.
fn each_return_path(layout: Layout, zeroed: &dyn Fn() -> *mut u8) {
    // 1. Freed by this thread.
    free_all(dirty(layout), layout);
    take_zeroed(layout, "own frees", zeroed);
    // 2. Freed by another thread while this one lives (remote list, foreign entry).
    let blocks = dirty(layout);
    thread::spawn(move || free_all(blocks, layout))
        .join()
        .unwrap();
    take_zeroed(layout, "remote frees", zeroed);
    // 3. Allocated by a thread that exited with half of them live; freed here afterwards.
    let left = thread::spawn(move || {
        let mut b = dirty(layout);
        let rest = b.split_off(ROUNDS / 2);
        free_all(b, layout);
        rest
    })
    .join()
    .unwrap();
    free_all(left, layout);
    take_zeroed(layout, "exited owner", zeroed);
}

#[test]
fn alloc_zeroed_reads_zero_to_usable_size() {
    for size in 1..=160usize {
        for align in ALIGNS {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: non-zero size.
            each_return_path(layout, &|| unsafe { alloc_zeroed(layout) });
        }
    }
}

#[test]
fn calloc_reads_zero_to_usable_size() {
    let sizes = (1..=160usize).chain([1000, 1024, 1025, 4096, 4112, 20_000, 70_000, 300_000]);
    for size in sizes {
        let layout = Layout::from_size_align(size, 16).unwrap();
        // SAFETY: no preconditions.
        each_return_path(layout, &|| unsafe { hakmem::raw::calloc(1, size) });
        if size % 4 == 0 {
            // SAFETY: as above.
            each_return_path(layout, &|| unsafe { hakmem::raw::calloc(size / 4, 4) });
        }
    }
}

fn pattern(i: usize, seed: usize) -> u8 {
    (i.wrapping_mul(31) ^ seed.wrapping_mul(17)) as u8
}

/// Grows and shrinks `p` (holding `len` bytes of `pattern(_, seed)`) through `steps`, checking the
/// kept bytes after each move, and frees it.
fn walk_sizes(p: usize, mut len: usize, seed: usize, steps: &[usize]) {
    let mut p = p as *mut u8;
    for &to in steps {
        let old = Layout::from_size_align(len, 16).unwrap();
        // SAFETY: `p` was allocated with `old`; `to` is non-zero.
        let q = unsafe { realloc(p, old, to) };
        assert!(!q.is_null());
        let keep = len.min(to);
        for i in 0..keep {
            // SAFETY: `q` has at least `to >= keep` bytes.
            let b = unsafe { *q.add(i) };
            assert_eq!(b, pattern(i, seed), "realloc {len} -> {to}: byte {i}");
        }
        for i in keep..to {
            // SAFETY: as above.
            unsafe { *q.add(i) = pattern(i, seed) };
        }
        p = q;
        len = to;
    }
    // SAFETY: `p` holds `len` bytes from the last realloc.
    unsafe { dealloc(p, Layout::from_size_align(len, 16).unwrap()) };
}

/// Every small class boundary (16-byte steps to 1 KiB, then the coarse ones), medium sizes and
/// back down.
fn steps() -> Vec<usize> {
    let mut up: Vec<usize> = (1..=64).map(|k| k * 16).collect();
    up.extend([
        1025, 1040, 1536, 2048, 2064, 3000, 4096, 4112, 8192, 16_384, 32_768,
    ]);
    up.extend([32_769, 50_000, 65_536, 131_072, 300_000]);
    let mut all = Vec::new();
    for &s in &up {
        all.push(s - 1);
        all.push(s + 1);
    }
    let down: Vec<usize> = all.iter().rev().copied().collect();
    all.extend(down);
    all.push(1);
    all
}

fn filled(len: usize, seed: usize) -> usize {
    let layout = Layout::from_size_align(len, 16).unwrap();
    // SAFETY: non-zero size.
    let p = unsafe { alloc(layout) };
    assert!(!p.is_null());
    for i in 0..len {
        // SAFETY: `p` has `len` bytes.
        unsafe { *p.add(i) = pattern(i, seed) };
    }
    p as usize
}

#[test]
fn realloc_across_classes_of_foreign_blocks() {
    let steps = steps();
    let starts = [1usize, 15, 16, 17, 48, 64, 65, 128, 1000, 1024];
    // Exited owner: blocks made by a thread that is gone.
    let made: Vec<(usize, usize, usize)> = thread::spawn(move || {
        starts
            .iter()
            .enumerate()
            .map(|(k, &len)| (filled(len, k), len, k))
            .collect()
    })
    .join()
    .unwrap();
    for (p, len, seed) in made {
        walk_sizes(p, len, seed, &steps);
    }
    // Live owner, busy on the same classes: it allocates and frees them while this thread moves
    // its blocks.
    let ready = Arc::new(Barrier::new(2));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel::<Vec<(usize, usize, usize)>>();
    let owner = {
        let (ready, done) = (ready.clone(), done.clone());
        thread::spawn(move || {
            let v = starts
                .iter()
                .enumerate()
                .map(|(k, &len)| (filled(len, k + 100), len, k + 100))
                .collect();
            tx.send(v).unwrap();
            ready.wait();
            let mut round = 0usize;
            // ORDERING: Relaxed is enough: the flag only ends the loop.
            while !done.load(std::sync::atomic::Ordering::Relaxed) || round < 64 {
                let len = starts[round % starts.len()] + round % 7;
                let p = filled(len, round);
                walk_sizes(p, len, round, &[len * 2, len + 1, len / 2 + 1]);
                round += 1;
            }
        })
    };
    let theirs = rx.recv().unwrap();
    ready.wait();
    for (p, len, seed) in theirs {
        walk_sizes(p, len, seed, &steps);
    }
    // ORDERING: Relaxed, as above.
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    owner.join().unwrap();
}

#[test]
fn producers_consumer_with_exits() {
    const PRODUCERS: usize = 8;
    const PER: usize = 2000;
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, usize, usize)>(256);
    let consumer = thread::spawn(move || {
        let mut n = 0;
        for (p, len, seed) in rx {
            let p = p as *mut u8;
            for i in [0, len / 2, len - 1] {
                // SAFETY: `p` has `len` bytes, handed over by its producer.
                assert_eq!(unsafe { *p.add(i) }, pattern(i, seed));
            }
            // SAFETY: allocated with this layout by a producer, freed once here.
            unsafe { dealloc(p, Layout::from_size_align(len, 16).unwrap()) };
            n += 1;
        }
        n
    });
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|t| {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..PER {
                    let len = 1 + (i * 37 + t * 11) % 1100;
                    let seed = t * PER + i;
                    tx.send((filled(len, seed), len, seed)).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    for p in producers {
        p.join().unwrap();
    }
    assert_eq!(consumer.join().unwrap(), PRODUCERS * PER);
    // The heap is still sound: a zeroed round over the classes the producers used.
    for size in [1usize, 64, 100, 1024] {
        let layout = Layout::from_size_align(size, 16).unwrap();
        // SAFETY: non-zero size.
        take_zeroed(layout, "after producers", &|| unsafe {
            alloc_zeroed(layout)
        });
    }
}
