//! Id patterns: every test block is filled with a pattern derived from its id and checked before
//! it is freed, and `TestBlock` does both for a block of the global allocator.
//!
//! Block `id`'s bytes are a window of a fixed random table, starting at an offset derived
//! from `id`, with an 8-byte stamp derived from `(id, k)` XORed into the head of each 64 KiB period
//! `k`. Fills and checks are then `memcpy`/`memcmp` against the table (cheap even for multi-MiB
//! blocks in debug builds), and equal windows, shifted copies and swapped periods are still told
//! apart.

use std::hint::black_box;
use std::sync::OnceLock;

use super::{mix, Rng, KIB};

/// The pattern repeats every `PATTERN_PERIOD` bytes.
pub const PATTERN_PERIOD: usize = 64 * KIB;

fn pattern_table() -> &'static [u8] {
    static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut rng = Rng::new(0x7AB1E, 0);
        (0..2 * PATTERN_PERIOD)
            .map(|_| rng.next_u64() as u8)
            .collect()
    })
}

/// Builds the pattern table now (call before a section that must not allocate lazily).
pub fn init_pattern() {
    pattern_table();
}

fn window(id: u64) -> usize {
    (mix(id) % PATTERN_PERIOD as u64) as usize
}

fn stamp(id: u64, k: usize) -> [u8; 8] {
    mix(id ^ (k as u64).rotate_left(40) ^ 0x5EED).to_le_bytes()
}

/// Writes `id`'s pattern over all of `block`.
pub fn fill(block: &mut [u8], id: u64) {
    let (table, start) = (pattern_table(), window(id));
    for (k, chunk) in block.chunks_mut(PATTERN_PERIOD).enumerate() {
        chunk.copy_from_slice(&table[start..start + chunk.len()]);
        for (b, s) in chunk.iter_mut().zip(stamp(id, k)) {
            *b ^= s;
        }
    }
}

/// The offset of the first byte of `block` that differs from `id`'s pattern.
pub fn first_mismatch(block: &[u8], id: u64) -> Option<usize> {
    first_mismatch_at(block, id, 0)
}

/// As `first_mismatch`, for a slice that starts `offset` bytes into a block filled with `id`'s
/// pattern (to check a block's head and tail without reading it all).
pub fn first_mismatch_at(part: &[u8], id: u64, offset: usize) -> Option<usize> {
    let (table, start) = (pattern_table(), window(id));
    let mut pos = 0;
    while pos < part.len() {
        let abs = offset + pos;
        let (k, in_period) = (abs / PATTERN_PERIOD, abs % PATTERN_PERIOD);
        let len = (PATTERN_PERIOD - in_period).min(part.len() - pos);
        let got = &part[pos..pos + len];
        let want = &table[start + in_period..start + in_period + len];
        // The first 8 bytes of each period carry the stamp.
        let head = 8usize.saturating_sub(in_period).min(len);
        let st = stamp(id, k);
        if let Some(i) = (0..head).find(|&i| got[i] != want[i] ^ st[in_period + i]) {
            return Some(abs + i);
        }
        if got[head..] != want[head..] {
            let i = got[head..]
                .iter()
                .zip(&want[head..])
                .position(|(a, b)| a != b);
            return Some(abs + head + i.unwrap_or(0));
        }
        pos += len;
    }
    None
}

/// Fills the `len` bytes at `p` with `id`'s pattern.
///
/// # Safety
/// `p` is valid for writes of `len` bytes.
pub unsafe fn fill_raw(p: *mut u8, len: usize, id: u64) {
    // SAFETY: forwarded contract.
    fill(unsafe { std::slice::from_raw_parts_mut(p, len) }, id);
}

/// Panics unless the `len` bytes at `p` hold `id`'s pattern.
///
/// # Safety
/// `p` is valid for reads of `len` bytes.
pub unsafe fn verify_raw(p: *const u8, len: usize, id: u64, when: &str) {
    // SAFETY: forwarded contract.
    let bytes = unsafe { std::slice::from_raw_parts(p, len) };
    if let Some(off) = first_mismatch(bytes, id) {
        panic!("block {id} at {p:p}: byte {off} of {len} corrupted {when}");
    }
}

/// A block from the global allocator (`HakMem` in every binary that uses this), filled with its
/// id's pattern, verified whenever it is checked and when it is freed.
pub struct TestBlock {
    ptr: std::ptr::NonNull<u8>,
    layout: std::alloc::Layout,
    id: u64,
}

// SAFETY: the block is owned by this value alone; moving it moves the only access.
unsafe impl Send for TestBlock {}

impl TestBlock {
    /// Allocates `size` bytes (at least 1) aligned to `align` and fills them; panics on null.
    pub fn new(size: usize, align: usize, id: u64) -> Self {
        let layout = std::alloc::Layout::from_size_align(size.max(1), align).expect("layout");
        // SAFETY: a non-zero size.
        let p = black_box(unsafe { std::alloc::alloc(layout) });
        let ptr = std::ptr::NonNull::new(p)
            .unwrap_or_else(|| panic!("allocation of {layout:?} returned null"));
        assert_eq!(
            p as usize % align,
            0,
            "block {id} at {p:p} misaligned for {align}"
        );
        // SAFETY: live for `layout.size()` bytes.
        unsafe { fill_raw(p, layout.size(), id) };
        Self { ptr, layout, id }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn size(&self) -> usize {
        self.layout.size()
    }

    pub fn addr(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    /// Resizes the block with `realloc` (at least 1 byte), checks the new address's alignment and
    /// that the prefix survived, and extends the pattern over the new size.
    pub fn resize(&mut self, new_size: usize) {
        let new_size = new_size.max(1);
        let (old, keep) = (self.layout, self.size().min(new_size));
        // SAFETY: a live block allocated with `old`; the new size is non-zero and, rounded up to
        // the alignment, far below `isize::MAX`.
        let p = black_box(unsafe { std::alloc::realloc(self.ptr.as_ptr(), old, new_size) });
        let id = self.id;
        let Some(ptr) = std::ptr::NonNull::new(p) else {
            panic!("realloc of block {id} ({old:?}) to {new_size} returned null");
        };
        assert_eq!(
            p as usize % old.align(),
            0,
            "realloc of block {id} ({old:?}) to {new_size} returned {p:p}, misaligned"
        );
        self.ptr = ptr;
        self.layout = std::alloc::Layout::from_size_align(new_size, old.align()).expect("layout");
        let when = format!("by realloc from {} to {new_size} (prefix)", old.size());
        // SAFETY: live for `new_size >= keep` bytes; rewriting the prefix leaves it unchanged.
        unsafe {
            verify_raw(p, keep, id, &when);
            fill_raw(p, new_size, id);
        }
    }

    /// Panics unless the whole block still holds its pattern.
    pub fn verify(&self, when: &str) {
        // SAFETY: live for `layout.size()` bytes.
        unsafe { verify_raw(self.ptr.as_ptr(), self.layout.size(), self.id, when) };
    }
}

impl Drop for TestBlock {
    /// Verifies, then frees.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.verify("before its free");
        }
        // SAFETY: allocated in `new` with this layout, freed once.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) };
    }
}
