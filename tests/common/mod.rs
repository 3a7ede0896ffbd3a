//! Helpers shared by the integration tests (`mod common;` in each binary that needs them): a
//! deterministic generator, the id-derived fill pattern and its check, the soak scale, and a
//! watchdog.
//!
//! Patterns: block `id`'s bytes are a window of a fixed random table, starting at an offset derived
//! from `id`, with an 8-byte stamp derived from `(id, k)` XORed into the head of each 64 KiB period
//! `k`. Fills and checks are then `memcpy`/`memcmp` against the table (cheap even for multi-MiB
//! blocks in debug builds), and equal windows, shifted copies and swapped periods are still told
//! apart.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::sync::{Once, OnceLock};
use std::time::Duration;

pub const KIB: usize = 1024;
pub const MIB: usize = 1024 * KIB;

/// The soak multiplier: `HAKMEM_TEST_SCALE` (a positive integer), 1 when unset. Stress tests
/// multiply their rounds and operation counts by it, watchdogs their time limit.
pub fn scale() -> usize {
    std::env::var("HAKMEM_TEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(1)
}

/// splitmix64's finaliser: a bijective mix, so distinct ids give distinct patterns.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// xorshift64*: tiny, deterministic, good enough to pick sizes and orders.
#[derive(Clone)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        Self(mix(seed) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// True with probability `num / den`.
    pub fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }
}

/// The pattern repeats every `PATTERN_PERIOD` bytes.
pub const PATTERN_PERIOD: usize = 64 * KIB;

fn pattern_table() -> &'static [u8] {
    static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut rng = XorShift::new(0x7AB1E);
        (0..2 * PATTERN_PERIOD).map(|_| rng.next() as u8).collect()
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

/// Aborts the whole test binary with a message if it is still running after `base_secs` ×
/// `HAKMEM_TEST_SCALE` seconds, so that a hang in the allocator (a lost wake-up, a spinning
/// drain, a lock never released) fails the run instead of stalling CI. Armed once per binary.
pub fn arm_watchdog(name: &'static str, base_secs: u64) {
    static WATCHDOG: Once = Once::new();
    WATCHDOG.call_once(|| {
        let limit = Duration::from_secs(base_secs * scale() as u64);
        std::thread::spawn(move || {
            std::thread::sleep(limit);
            eprintln!("{name}: watchdog fired after {limit:?}; a test is hung");
            std::process::abort();
        });
    });
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
        let p = unsafe { std::alloc::alloc(layout) };
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

    /// Resizes the block with `realloc` (at least 1 byte), checks that the prefix survived and
    /// extends the pattern over the new size.
    pub fn resize(self, new_size: usize) -> Self {
        let new_size = new_size.max(1);
        let keep = self.size().min(new_size);
        let (old, layout, id) = (self.ptr.as_ptr(), self.layout, self.id);
        std::mem::forget(self);
        // SAFETY: a live block allocated with `layout`; the new size is non-zero.
        let p = unsafe { std::alloc::realloc(old, layout, new_size) };
        let ptr = std::ptr::NonNull::new(p)
            .unwrap_or_else(|| panic!("realloc of block {id} to {new_size} returned null"));
        // SAFETY: live for `new_size >= keep` bytes; rewriting the prefix leaves it unchanged.
        unsafe {
            verify_raw(p, keep, id, "after realloc (prefix)");
            fill_raw(p, new_size, id);
        }
        let layout = std::alloc::Layout::from_size_align(new_size, layout.align()).expect("layout");
        Self { ptr, layout, id }
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

/// Number of CPUs (at least 1).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
