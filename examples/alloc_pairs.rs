//! N alloc+free pairs of 32 bytes through the global allocator (`HakMem`), for instruction
//! counts: `valgrind --tool=callgrind target/release/examples/alloc_pairs 200000` (docs/profiling.md
//! measures the profiler's cost when off as the difference of two such runs).
use std::alloc::{GlobalAlloc, Layout};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let layout = Layout::from_size_align(32, 8).unwrap();
    for _ in 0..n {
        // SAFETY: a valid non-zero layout; the block is freed with the same layout.
        unsafe {
            let p = GLOBAL.alloc(core::hint::black_box(layout));
            core::hint::black_box(p);
            GLOBAL.dealloc(p, layout);
        }
    }
}
