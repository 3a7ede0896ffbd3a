//! A live block whose second word holds the freed-mark key is not a freed block. A program can put
//! the key there without ever seeing it: the allocator's frames spill the key to the stack, and a
//! struct's uninitialised padding built on that stack and moved into a heap block carries it along
//! (session 22: std's mpmc channel block in tests/stress_churn.rs under `force-notify`,
//! docs/debugging.md "The freed mark and stale stack bytes"). The mark is `key ^ address`
//! (`config::MARK_ADDRESS`), a value made just before its store for one block; the bare key
//! (`--cfg hakmem_no_mark_address`, the old code) aborts here on the first size.

use std::alloc::{alloc, dealloc, Layout};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

/// Allocates `size` bytes, writes `word` into the block's second word and frees it. The write is
/// volatile: a plain store right before `dealloc` is a dead store the optimiser removes.
fn free_holding(size: usize, word: impl Fn(*mut u8) -> usize) {
    let layout = Layout::from_size_align(size, 8).unwrap();
    // SAFETY: a non-zero size.
    let p = unsafe { alloc(layout) };
    assert!(!p.is_null());
    // SAFETY: the block holds at least two words.
    unsafe { p.cast::<usize>().add(1).write_volatile(word(p)) };
    // SAFETY: allocated above with this layout, freed once.
    unsafe { dealloc(p, layout) };
}

#[test]
fn a_live_block_holding_the_key_frees_without_an_abort() {
    let key = hakmem::testing::freed_mark_key();
    for size in [16usize, 64, 1536, 40_000] {
        free_holding(size, |_| key);
    }
}
