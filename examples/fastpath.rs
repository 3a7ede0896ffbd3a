//! The Rust twin of `scripts/fastpath/fastpath.c`: the loops whose instruction counts
//! `scripts/fastpath-instructions.sh` measures under callgrind, with `HakMem` as the global
//! allocator, calling its `GlobalAlloc` methods (what `__rust_alloc`/`__rust_dealloc` forward
//! to in any Rust program).
//!
//! ```text
//! cargo run --release --example fastpath -- pair|pair0|batch|batch0|grow|grow0 N
//! cargo run --release --example fastpath -- remote|remote-heapless|remote0 N
//! ```
//! `pair`: N × (allocate 32 B, free); `batch`: N rounds of 1,000 allocations of mixed 16–512 B
//! then 1,000 frees in allocation order; `grow`: N × (allocate 8 B, `realloc` to 16 B — in
//! place: the 16-byte class holds it, as a `String`'s first growth — free); `pair0`/`batch0`/
//! `grow0`: the same loops without the allocator calling empty functions instead (the loop and
//! call overhead the script subtracts). Only `fastpath_run` is measured.
//!
//! `remote`/`remote-heapless`/`remote0`: the twin of `scripts/fastpath/remote.c` (producer and
//! consumer, every free remote, through `dealloc`): N rounds of the batch's 1,000 allocations on
//! the main thread (`remote_alloc_run`) and their frees on a second thread (`remote_free_run`),
//! which allocates one block first (`remote`) or never (`remote-heapless`); the rounds are handed
//! over outside the measured functions, so the count is deterministic.

use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const BATCH: usize = 1000;

/// Sizes 16..=512, the same xorshift sequence as the C twin.
fn sizes() -> Vec<usize> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..BATCH)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            16 + ((x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) % 497) as usize
        })
        .collect()
}

/// The stand-ins of the overhead loops: a call, an argument and a return, like alloc/dealloc.
static mut DUMMY: [u8; 16] = [0; 16];

#[inline(never)]
unsafe fn nop_alloc(l: Layout) -> *mut u8 {
    black_box(l);
    (&raw mut DUMMY).cast()
}

#[inline(never)]
unsafe fn nop_dealloc(p: *mut u8, l: Layout) {
    black_box((p, l));
}

type AllocFn = unsafe fn(Layout) -> *mut u8;
type DeallocFn = unsafe fn(*mut u8, Layout);
type ReallocFn = unsafe fn(*mut u8, Layout, usize) -> *mut u8;

#[inline(never)]
unsafe fn nop_realloc(p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
    black_box((l, new_size));
    p
}

/// `HakMem`'s `GlobalAlloc` methods — what `__rust_alloc`/`__rust_dealloc` forward to — as
/// functions the loops call through pointers.
#[inline(never)]
unsafe fn global_alloc(l: Layout) -> *mut u8 {
    // SAFETY: forwarded contract.
    unsafe { GLOBAL.alloc(l) }
}

#[inline(never)]
unsafe fn global_dealloc(p: *mut u8, l: Layout) {
    // SAFETY: forwarded contract.
    unsafe { GLOBAL.dealloc(p, l) }
}

#[inline(never)]
unsafe fn global_realloc(p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
    // SAFETY: forwarded contract.
    unsafe { GLOBAL.realloc(p, l, new_size) }
}

/// The measured loops (callgrind `--toggle-collect=fastpath_run`). The allocator is called
/// through function pointers to its `GlobalAlloc` methods, so the compiler cannot fold the size
/// class of the 32 B pair into the loop, and the count is the allocator's own: std's
/// `alloc::alloc::alloc` wrapper adds a call of `__rust_no_alloc_shim_is_unstable_v2` to every
/// allocation, whatever the allocator (about 8 instructions here).
#[no_mangle]
#[inline(never)]
pub fn fastpath_run(mode: u32, n: u64, layouts: &[Layout], ptrs: &mut [*mut u8]) {
    let pair = Layout::from_size_align(32, 8).unwrap();
    let (a, d, r): (AllocFn, DeallocFn, ReallocFn) = if mode % 2 == 0 {
        (global_alloc, global_dealloc, global_realloc)
    } else {
        (nop_alloc, nop_dealloc, nop_realloc)
    };
    let (a, d, r) = black_box((a, d, r));
    if mode >= 4 {
        let small = Layout::from_size_align(8, 1).unwrap();
        let grown = Layout::from_size_align(16, 1).unwrap();
        for _ in 0..n {
            // SAFETY: a non-zero-sized layout; the block is resized with the layout it has and
            // freed with the layout it was resized to.
            unsafe {
                let p = black_box(a(small));
                let p = black_box(r(p, small, grown.size()));
                d(p, grown);
            }
        }
    } else if mode < 2 {
        for _ in 0..n {
            // SAFETY: a non-zero-sized layout; the block is freed with the same layout.
            unsafe {
                let p = black_box(a(pair));
                d(p, pair);
            }
        }
    } else {
        for _ in 0..n {
            for (p, l) in ptrs.iter_mut().zip(layouts) {
                // SAFETY: non-zero-sized layouts.
                *p = black_box(unsafe { a(*l) });
            }
            for (p, l) in ptrs.iter().zip(layouts) {
                // SAFETY: each block was allocated just above with this layout.
                unsafe { d(*p, *l) };
            }
        }
    }
}

/// The blocks of a round of the remote loop: written by the main thread, freed by the freeing
/// thread; the round hand-over (`GO`, `DONE`) orders the two.
struct Round(std::cell::UnsafeCell<[*mut u8; BATCH]>);
// SAFETY: only one thread touches the array at a time (the hand-over's Release/Acquire pairs).
unsafe impl Sync for Round {}
static ROUND: Round = Round(std::cell::UnsafeCell::new([std::ptr::null_mut(); BATCH]));
static GO: AtomicU64 = AtomicU64::new(0);
static DONE: AtomicU64 = AtomicU64::new(0);

/// The remote loop's allocations (measured).
#[no_mangle]
#[inline(never)]
pub fn remote_alloc_run(a: AllocFn, layouts: &[Layout]) {
    // SAFETY: the freeing thread is waiting for `GO`: the array is ours.
    let ptrs = unsafe { &mut *ROUND.0.get() };
    for (p, l) in ptrs.iter_mut().zip(layouts) {
        // SAFETY: non-zero-sized layouts.
        *p = black_box(unsafe { a(*l) });
    }
}

/// The remote loop's frees, on the second thread (measured).
#[no_mangle]
#[inline(never)]
pub fn remote_free_run(d: DeallocFn, layouts: &[Layout]) {
    // SAFETY: the main thread is waiting for `DONE`: the array is ours.
    let ptrs = unsafe { &*ROUND.0.get() };
    for (p, l) in ptrs.iter().zip(layouts) {
        // SAFETY: each block was allocated by the round with this layout.
        unsafe { d(*p, *l) };
    }
}

/// Waits until `c` reaches `v` (a yield per look: valgrind runs one thread at a time).
fn wait_for(c: &AtomicU64, v: u64) {
    // ORDERING: Acquire — pairs with the other thread's Release store: its round's writes (the
    // pointers, or their frees) are seen.
    while c.load(Ordering::Acquire) < v {
        std::thread::yield_now();
    }
}

fn remote(n: u64, nop: bool, heapless: bool, layouts: Vec<Layout>) {
    let (a, d): (AllocFn, DeallocFn) = if nop {
        (nop_alloc, nop_dealloc)
    } else {
        (global_alloc, global_dealloc)
    };
    let (a, d) = black_box((a, d));
    let freer_layouts = layouts.clone();
    let freer = std::thread::spawn(move || {
        if !heapless {
            drop(black_box(Box::new(0u64)));
        }
        for r in 1..=n {
            wait_for(&GO, r);
            remote_free_run(d, &freer_layouts);
            // ORDERING: Release — publishes the round's frees to the next round's allocations.
            DONE.store(r, Ordering::Release);
        }
    });
    for r in 1..=n {
        remote_alloc_run(a, &layouts);
        // ORDERING: Release — publishes the round's pointers (pairs with `wait_for`).
        GO.store(r, Ordering::Release);
        wait_for(&DONE, r);
    }
    freer.join().unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = || -> ! {
        eprintln!(
            "usage: fastpath pair|pair0|batch|batch0|grow|grow0|remote|remote-heapless|remote0 N"
        );
        std::process::exit(2)
    };
    if args.len() != 3 {
        usage();
    }
    let mode = match args[1].as_str() {
        "pair" => 0,
        "pair0" => 1,
        "batch" => 2,
        "batch0" => 3,
        "grow" => 4,
        "grow0" => 5,
        "remote" => 6,
        "remote0" => 7,
        "remote-heapless" => 8,
        _ => usage(),
    };
    let Ok(n) = args[2].parse::<u64>() else {
        usage()
    };
    let layouts: Vec<Layout> = sizes()
        .into_iter()
        .map(|s| Layout::from_size_align(s, 8).unwrap())
        .collect();
    let mut ptrs = vec![std::ptr::null_mut(); BATCH];
    // Warm-up outside the measured function: the allocator's first-call set-up.
    drop(black_box(Box::new(0u64)));
    if mode >= 6 {
        return remote(n, mode == 7, mode == 8, layouts);
    }
    fastpath_run(mode, n, &layouts, &mut ptrs);
}
