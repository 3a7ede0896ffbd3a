//! Size classes: fine steps of 16 bytes up to 1 KiB, then four classes per doubling up to
//! `MAX_SMALL_SIZE`.
//!
//! Boundary: pure arithmetic over `config`; no state. Invariants (checked by const asserts and the
//! unit tests below):
//! - `class_size(c)` is a multiple of 16 and strictly increasing in `c`;
//! - `class_of(n)` is the smallest class with `class_size >= n`;
//! - internal fragmentation `(class_size(class_of(n)) - n) / class_size(...)` is at most 25% for
//!   every `n > 48`, and under 16 bytes for every `n <= 1 KiB`. Below 49 bytes the 16-byte minimum
//!   alignment (which C callers rely on) dominates: a 17-byte request needs a 32-byte block.

use crate::config::{MAX_SMALL_SIZE, MIN_ALIGN, SLAB_SIZE};

/// Largest size served by the 16-byte steps.
pub const TINY_MAX: usize = if MAX_SMALL_SIZE < 1024 {
    MAX_SMALL_SIZE
} else {
    1024
};
const TINY_CLASSES: usize = TINY_MAX / 16;

const fn count_coarse() -> usize {
    let mut n = 0;
    let mut base = TINY_MAX;
    while base < MAX_SMALL_SIZE {
        n += 4;
        base *= 2;
    }
    n
}

/// Number of size classes.
pub const NUM_CLASSES: usize = TINY_CLASSES + count_coarse();

const fn build_sizes() -> [u32; NUM_CLASSES] {
    let mut t = [0u32; NUM_CLASSES];
    let mut i = 0;
    while i < TINY_CLASSES {
        t[i] = ((i + 1) * 16) as u32;
        i += 1;
    }
    let mut base = TINY_MAX;
    while i < NUM_CLASSES {
        let step = base / 4;
        let mut k = 1;
        while k <= 4 {
            t[i] = (base + k * step) as u32;
            i += 1;
            k += 1;
        }
        base *= 2;
    }
    t
}

/// Block size of each class, as a constant (for const constructors).
pub const CLASS_SIZES: [u32; NUM_CLASSES] = build_sizes();
/// Block size of each class (one copy in memory for the hot paths).
pub static CLASS_SIZE: [u32; NUM_CLASSES] = CLASS_SIZES;

const fn build_recip() -> [u64; NUM_CLASSES] {
    let sizes = build_sizes();
    let mut t = [0u64; NUM_CLASSES];
    let mut i = 0;
    while i < NUM_CLASSES {
        t[i] = (1u64 << 32).div_ceil(sizes[i] as u64);
        i += 1;
    }
    t
}

/// `ceil(2^32 / class_size)`: `offset * RECIP >> 32 == offset / class_size` for every offset
/// inside a slab (exact because `offset * class_size < 2^32`).
pub static CLASS_RECIP: [u64; NUM_CLASSES] = build_recip();

const _: () = assert!(build_sizes()[NUM_CLASSES - 1] as usize == MAX_SMALL_SIZE);
const _: () = assert!(
    NUM_CLASSES <= 128,
    "class index must fit the two-word pending bitmap"
);
const _: () = assert!((SLAB_SIZE as u64) * (MAX_SMALL_SIZE as u64) < (1u64 << 32));

/// Block size of class `c`.
#[inline(always)]
pub fn class_size(c: usize) -> usize {
    CLASS_SIZE[c] as usize
}

/// Blocks in one slab of class `c`.
#[inline]
pub fn blocks_per_slab(c: usize) -> usize {
    SLAB_SIZE / class_size(c)
}

/// `offset / class_size(c)` without a division. Exact for `offset < SLAB_SIZE`.
#[inline(always)]
pub fn block_index(c: usize, offset: usize) -> usize {
    ((offset as u64 * CLASS_RECIP[c]) >> 32) as usize
}

/// The class serving `size` bytes at the minimum alignment; `None` above `MAX_SMALL_SIZE`.
#[inline(always)]
pub fn class_of(size: usize) -> Option<usize> {
    if size <= TINY_MAX {
        Some(((size + 15) >> 4).saturating_sub(1))
    } else if size <= MAX_SMALL_SIZE {
        Some(class_of_coarse(size))
    } else {
        None
    }
}

/// `class_of` for `TINY_MAX < size <= MAX_SMALL_SIZE`.
#[inline]
pub fn class_of_coarse(size: usize) -> usize {
    let s = size - 1;
    let bit = (usize::BITS - 1 - s.leading_zeros()) as usize;
    let shift = bit - 2;
    let tiny_bit = TINY_MAX.trailing_zeros() as usize;
    TINY_CLASSES + (bit - tiny_bit) * 4 + ((s >> shift) & 3)
}

/// The class serving `size` bytes at alignment `align`: the smallest class whose block size is at
/// least `size` and a multiple of `align` (slab data starts on a slab boundary, so such blocks are
/// aligned). `None` when no class fits; the caller then takes the large path.
#[inline]
pub fn class_for(size: usize, align: usize) -> Option<usize> {
    if align <= MIN_ALIGN {
        return class_of(size);
    }
    let mut c = class_of(size.max(align))?;
    while c < NUM_CLASSES {
        if class_size(c) % align == 0 {
            return Some(c);
        }
        c += 1;
    }
    None
}

#[cfg(all(test, not(hakmem_loom)))]
mod tests {
    use super::*;

    #[test]
    fn class_of_is_smallest_fit_and_fragmentation_is_bounded() {
        let mut prev = 0;
        for c in 0..NUM_CLASSES {
            assert!(class_size(c) > prev && class_size(c) % 16 == 0);
            prev = class_size(c);
        }
        for n in 0..=MAX_SMALL_SIZE {
            let c = class_of(n).unwrap();
            assert!(class_size(c) >= n, "n={n}");
            if c > 0 {
                assert!(class_size(c - 1) < n, "n={n} not smallest");
            }
            if n <= TINY_MAX {
                assert!(
                    class_size(c) - n.max(1) < 16,
                    "n={n}: tiny classes waste under 16 bytes"
                );
            }
            if n > 48 {
                let waste = (class_size(c) - n) as f64 / class_size(c) as f64;
                assert!(waste <= 0.25, "n={n} waste={waste}");
            }
        }
        assert_eq!(class_of(MAX_SMALL_SIZE + 1), None);
    }

    #[test]
    fn block_index_matches_division() {
        for c in 0..NUM_CLASSES {
            for off in (0..SLAB_SIZE).step_by(7) {
                assert_eq!(block_index(c, off), off / class_size(c));
            }
        }
    }

    #[test]
    fn class_for_alignment_gives_multiples() {
        for align in [32usize, 64, 128, 256, 512, 1024, 4096, 8192, 32768] {
            for size in [0usize, 1, 17, 100, 1000, 5000, 30000] {
                if let Some(c) = class_for(size, align) {
                    assert!(class_size(c) >= size && class_size(c) % align == 0);
                }
            }
        }
        assert_eq!(class_for(1, 65536), None);
    }
}
