//! The Rust twin of `scripts/fastpath/fastpath.c`: the loops whose instruction counts
//! `scripts/fastpath-instructions.sh` measures under callgrind, with `HakMem` as the global
//! allocator (so every allocation goes through `__rust_alloc` → `HakMem::alloc`, as in any Rust
//! program).
//!
//! ```text
//! cargo run --release --example fastpath -- pair|pair0|batch|batch0 N
//! ```
//! `pair`: N × (allocate 32 B, free); `batch`: N rounds of 1,000 allocations of mixed 16–512 B
//! then 1,000 frees in allocation order; `pair0`/`batch0`: the same loops without the allocator
//! calling empty functions instead (the loop and call overhead the script
//! subtracts). Only `fastpath_run` is measured.

use std::alloc::{alloc, dealloc, Layout};
use std::hint::black_box;

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
#[inline(never)]
fn nop_alloc(l: Layout, dummy: *mut u8) -> *mut u8 {
    black_box(l);
    dummy
}

#[inline(never)]
fn nop_dealloc(p: *mut u8, l: Layout) {
    black_box((p, l));
}

/// The measured loops (callgrind `--toggle-collect=fastpath_run`).
#[no_mangle]
#[inline(never)]
pub fn fastpath_run(mode: u32, n: u64, layouts: &[Layout], ptrs: &mut [*mut u8]) {
    let pair = Layout::from_size_align(32, 8).unwrap();
    let mut dummy = [0u8; 16];
    match mode {
        0 => {
            for _ in 0..n {
                // SAFETY: a non-zero-sized layout; the block is freed with the same layout.
                unsafe {
                    let p = black_box(alloc(pair));
                    dealloc(p, pair);
                }
            }
        }
        1 => {
            for _ in 0..n {
                let p = black_box(nop_alloc(pair, dummy.as_mut_ptr()));
                nop_dealloc(p, pair);
            }
        }
        2 => {
            for _ in 0..n {
                for (p, l) in ptrs.iter_mut().zip(layouts) {
                    // SAFETY: non-zero-sized layouts.
                    *p = black_box(unsafe { alloc(*l) });
                }
                for (p, l) in ptrs.iter().zip(layouts) {
                    // SAFETY: each block was allocated just above with this layout.
                    unsafe { dealloc(*p, *l) };
                }
            }
        }
        _ => {
            for _ in 0..n {
                for (p, l) in ptrs.iter_mut().zip(layouts) {
                    *p = black_box(nop_alloc(*l, dummy.as_mut_ptr()));
                }
                for (p, l) in ptrs.iter().zip(layouts) {
                    nop_dealloc(*p, *l);
                }
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = || -> ! {
        eprintln!("usage: fastpath pair|pair0|batch|batch0 N");
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
    fastpath_run(mode, n, &layouts, &mut ptrs);
}
