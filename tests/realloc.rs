//! `realloc` through `HakMem` as the global allocator.
//!
//! Claims checked: growing or shrinking a block keeps the first `min(old, new)` bytes and the
//! layout's alignment, across size class boundaries, across the small/large boundary (32 KiB) in
//! both directions, between large sizes, and for blocks first allocated by a thread that has
//! since exited. Every block is filled with a pattern derived from its id; the kept prefix is
//! checked after each `realloc` and the whole block is refilled and checked before `dealloc`.
//!
//! `HAKMEM_TEST_SCALE` (default 1) multiplies the number of random steps.

mod common;

use common::{fill, first_mismatch, scale, XorShift};
use std::alloc::{alloc, dealloc, realloc, Layout};
use std::hint::black_box;

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

// ---- one reallocated block -------------------------------------------------------------------

/// A live block filled with `id`'s pattern over its whole size.
struct Block {
    ptr: *mut u8,
    layout: Layout,
    id: u64,
}

// SAFETY: the block is plain memory owned by this value; hakmem blocks may be freed or
// reallocated by any thread.
unsafe impl Send for Block {}

impl Block {
    fn new(size: usize, align: usize, id: u64) -> Self {
        let layout = Layout::from_size_align(size, align).unwrap();
        // SAFETY: every size used by these tests is non-zero.
        let ptr = black_box(unsafe { alloc(layout) });
        assert!(!ptr.is_null(), "alloc({layout:?}) returned null");
        assert_eq!(ptr as usize % align, 0, "{ptr:p} misaligned for {layout:?}");
        let block = Block { ptr, layout, id };
        // SAFETY: `ptr` is a fresh block of `layout.size()` bytes.
        fill(unsafe { std::slice::from_raw_parts_mut(ptr, size) }, id);
        block
    }

    /// Checks the first `len` bytes against the pattern.
    fn verify_prefix(&self, len: usize, when: &str) {
        // SAFETY: `len <= layout.size()` and those bytes were written by `fill`.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, len) };
        if let Some(off) = first_mismatch(bytes, self.id) {
            panic!(
                "block id {} at {:p} ({:?}): byte {off} of the first {len} lost {when}",
                self.id, self.ptr, self.layout
            );
        }
    }

    /// Reallocates to `new_size`, checks alignment and the kept prefix, then refills the block.
    fn resize(&mut self, new_size: usize) {
        let old = self.layout;
        // SAFETY: `ptr` is live and was allocated with `old`; `new_size` is non-zero and, rounded
        // up to `old.align()`, far below `isize::MAX`.
        let ptr = black_box(unsafe { realloc(self.ptr, old, new_size) });
        assert!(
            !ptr.is_null(),
            "realloc({old:?} -> {new_size}) returned null"
        );
        assert_eq!(
            ptr as usize % old.align(),
            0,
            "realloc({old:?} -> {new_size}) returned {ptr:p}, misaligned"
        );
        self.ptr = ptr;
        self.layout = Layout::from_size_align(new_size, old.align()).unwrap();
        self.verify_prefix(
            old.size().min(new_size),
            &format!("by realloc from {} to {new_size}", old.size()),
        );
        // SAFETY: `ptr` is live for `new_size` bytes.
        fill(
            unsafe { std::slice::from_raw_parts_mut(ptr, new_size) },
            self.id,
        );
    }

    fn free(self) {
        self.verify_prefix(self.layout.size(), "before dealloc");
        // SAFETY: `ptr` is live and was allocated (or last reallocated) with `layout`.
        unsafe { dealloc(self.ptr, self.layout) };
    }
}

/// Every size class's block size: 16-byte steps to 1 KiB, then 4 per doubling to 32 KiB.
fn class_sizes() -> Vec<usize> {
    let mut sizes: Vec<usize> = (1..=64).map(|i| i * 16).collect();
    let mut base = KIB;
    while base < 32 * KIB {
        sizes.extend((1..=4).map(|q| base + q * base / 4));
        base *= 2;
    }
    sizes
}

/// A size with a roughly log-uniform distribution over `1..=max`.
fn log_size(rng: &mut XorShift, max: usize) -> usize {
    let bits = rng.below(max.ilog2() as usize + 1);
    (rng.below(2 << bits) + 1).min(max)
}

// ---- tests -----------------------------------------------------------------------------------

#[test]
fn chain_across_class_and_large_boundaries() {
    let chain = [8, 24, 1000, 1025, 40_000, 3 * MIB, 100, 8];
    let mut id = 0;
    for align in [1, 8, 16, 64, 4096, 64 * KIB] {
        for sizes in [
            &chain[..],
            &[3 * MIB, 40_000, 32 * KIB + 1, 32 * KIB, 1, 70_000],
        ] {
            id += 1;
            // A neighbour allocated right after, so growth cannot always extend in place.
            let neighbour = Block::new(sizes[0], align, id + 1000);
            let mut block = Block::new(sizes[0], align, id);
            for &size in &sizes[1..] {
                block.resize(size);
                block.resize(size); // same size: a no-op that must keep everything
            }
            block.free();
            neighbour.free();
        }
    }
}

#[test]
fn walk_every_class_up_and_down() {
    let mut up: Vec<usize> = class_sizes()
        .into_iter()
        .flat_map(|s| [s - 1, s, s + 1])
        .collect();
    up.extend([64 * KIB, MIB, 2 * MIB + 1, 5 * MIB]);
    let down: Vec<usize> = up.iter().rev().copied().collect();
    for (i, align) in [8, 16, 64, 4096].into_iter().enumerate() {
        let mut block = Block::new(1, align, 100 + i as u64);
        for &size in up.iter().chain(&down) {
            block.resize(size);
        }
        block.free();
    }
}

#[test]
fn random_reallocs_among_live_neighbours() {
    const SLOTS: usize = 64;
    let mut rng = XorShift::new(7);
    let mut slots: Vec<Option<Block>> = (0..SLOTS).map(|_| None).collect();
    let mut id = 1 << 32;
    for step in 0..3000 * scale() {
        let slot = &mut slots[rng.below(SLOTS)];
        let max = if rng.below(16) == 0 {
            4 * MIB
        } else {
            96 * KIB
        };
        let size = log_size(&mut rng, max);
        match slot.take() {
            None => {
                id += 1;
                let align = [1, 8, 16, 32, 64, 128, 4096][rng.below(7)];
                *slot = Some(Block::new(size, align, id));
            }
            Some(block) if rng.below(8) == 0 => block.free(),
            Some(mut block) => {
                block.resize(size);
                *slot = Some(block);
            }
        }
        if step % 256 == 0 {
            for block in slots.iter().flatten() {
                block.verify_prefix(block.layout.size(), "(periodic check of all slots)");
            }
        }
    }
    for block in slots.into_iter().flatten() {
        block.free();
    }
}

#[test]
fn realloc_blocks_of_an_exited_thread() {
    let sizes = [
        16,
        200,
        1024,
        1025,
        4000,
        32 * KIB,
        32 * KIB + 1,
        100_000,
        3 * MIB,
    ];
    let blocks = std::thread::spawn(move || {
        let mut blocks = Vec::new();
        for (i, &size) in sizes.iter().enumerate() {
            for align in [8, 64, 4096] {
                blocks.push(Block::new(
                    size,
                    align,
                    (200 + i * 8 + align.ilog2() as usize) as u64,
                ));
            }
        }
        blocks
    })
    .join()
    .expect("allocating thread panicked");
    for (i, mut block) in blocks.into_iter().enumerate() {
        let old = block.layout.size();
        // Grow, shrink below the original, then return near the start: each crosses a class.
        block.resize(old * 2 + 1);
        block.resize((old / 3).max(1));
        block.resize(old + i);
        block.free();
    }
}
