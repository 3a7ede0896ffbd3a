//! A deliberately buggy program for the memcheck test (`tests/valgrind.rs`): build it with
//! `--features valgrind` and run it under `valgrind --tool=memcheck --leak-check=full`.
//!
//! ```text
//! valgrind_buggy use-after-free   # reads a freed Box: "Invalid read", "... free'd"
//! valgrind_buggy leak             # forgets a Vec: "definitely lost"
//! valgrind_buggy double-free      # frees a block twice: memcheck's "Invalid free()", then
//!                                 # hakmem's own abort
//! valgrind_buggy clean            # a correct multi-threaded workload: "0 errors"
//! ```

use std::alloc::{alloc, dealloc, Layout};
use std::hint::black_box;
use std::sync::mpsc;
use std::thread;

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

/// Frees a Box and then reads through a pointer to it.
#[inline(never)]
fn use_after_free() {
    let b = Box::new([0x5au64; 4]); // 32 bytes
    let p: *const u64 = &b[0];
    drop(b);
    // SAFETY: none — this is the bug memcheck must report.
    let v = unsafe { core::ptr::read_volatile(p) };
    black_box(v);
}

/// Leaks a Vec whose buffer is not the first block of its slab (a slab's first block is named by
/// the slab's metadata, which memcheck scans as a root).
#[inline(never)]
fn leak() {
    let keep: Vec<Vec<u8>> = (0..4).map(|_| black_box(vec![1u8; 1000])).collect();
    let v = black_box(vec![7u8; 1000]);
    std::mem::forget(v);
    drop(keep);
}

/// Frees the same block twice.
#[inline(never)]
fn double_free() {
    let layout = Layout::from_size_align(48, 8).unwrap();
    // SAFETY: none — the second dealloc is the bug.
    unsafe {
        let p = alloc(layout);
        dealloc(p, layout);
        dealloc(black_box(p), layout);
    }
}

/// A correct workload: blocks of many sizes (small and large) are allocated on worker threads,
/// some freed locally, the rest sent to and freed by the main thread; one large Vec is grown
/// (realloc) and shrunk.
fn clean() {
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let tx = tx.clone();
            thread::spawn(move || {
                let mut local = Vec::new();
                for i in 0..2000usize {
                    let size = 1 + (i * 37 + t * 101) % 3000;
                    let v = vec![(i % 251) as u8; size];
                    if i % 3 == 0 {
                        tx.send(v).unwrap();
                    } else {
                        local.push(v);
                        if local.len() > 64 {
                            local.drain(..32);
                        }
                    }
                }
                let big = vec![3u8; 200_000];
                tx.send(big).unwrap();
            })
        })
        .collect();
    drop(tx);
    let mut total = 0usize;
    for v in rx {
        assert!(v.iter().all(|&b| b == v[0]));
        total += v.len();
    }
    for w in workers {
        w.join().unwrap();
    }
    let mut grow: Vec<u64> = Vec::new();
    for i in 0..100_000u64 {
        grow.push(i);
    }
    grow.truncate(10);
    grow.shrink_to_fit();
    // A zeroed medium block fresh from its span (a class nothing above used, so hakmem does not
    // clear it: `config::KNOWN_ZERO`) is defined to memcheck (without `medium::alloc_zeroed`'s
    // `make_defined` this reports 3,145,712 errors), and a large Vec grown past what its mapping
    // holds moves its pages (`config::LARGE_MOVE`) with its contents defined.
    let zeroed = vec![0u8; 3 << 20];
    assert!(zeroed.iter().all(|&b| b == 0));
    let mut big: Vec<u64> = Vec::with_capacity(1 << 20);
    for i in 0..(3u64 << 20) {
        big.push(i);
    }
    assert!(big.iter().enumerate().all(|(i, &v)| v == i as u64));
    let s: String = (0..1000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    println!(
        "clean: {total} bytes received, {} kept, {}, {} zeroed, {} grown",
        grow.len(),
        s.len(),
        zeroed.len(),
        big.len()
    );
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("use-after-free") => use_after_free(),
        Some("leak") => leak(),
        Some("double-free") => double_free(),
        Some("clean") => clean(),
        _ => {
            eprintln!("usage: valgrind_buggy use-after-free|leak|double-free|clean");
            std::process::exit(2);
        }
    }
}
