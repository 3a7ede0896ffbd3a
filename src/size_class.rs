//! Size classes: fine steps of 16 bytes up to 1 KiB, then `COARSE_STEPS` classes per doubling up to
//! `MAX_SMALL_SIZE` (the small classes, served from slabs); then `MEDIUM_STEPS` classes per
//! doubling up to `MAX_MEDIUM_SIZE` (the medium classes, served from spans, `span`).
//!
//! Class ids: small classes are `0..NUM_CLASSES`, medium classes `NUM_CLASSES..TOTAL_CLASSES`, so
//! one id names the class of a slab or a span everywhere (slab metadata, owner lists, publish
//! lists, notification bits). Per-id tables (`CLASS_SIZE`, `CLASS_RECIP`, `CLASS_CAPACITY`) cover
//! both.
//!
//! Boundary: pure arithmetic over `config`; no state. Invariants (checked by const asserts and the
//! unit tests below):
//! - `class_size(c)` is a multiple of 16 and strictly increasing in `c`;
//! - `class_of(n)` is the smallest class with `class_size >= n`;
//! - internal fragmentation `(class_size(class_of(n)) - n) / class_size(...)` is at most 25% for
//!   every `n > 48` (`1 / (COARSE_STEPS + 1)` above `FINE_MAX`), and under 16 bytes for every `n <= 1 KiB`. Below 49 bytes the 16-byte minimum
//!   alignment (which C callers rely on) dominates: a 17-byte request needs a 32-byte block.
//! - medium: `medium_class_of(n)` is the smallest medium class with size `>= n`; its waste is at
//!   most `1 / (MEDIUM_STEPS + 1)` of the block (11.1% with 8 steps), and every medium size is a
//!   multiple of `SPAN_HEADER_BYTES`' alignment unit (16 under loom, 4 KiB otherwise).

use crate::config::{
    COARSE_STEPS, MAX_BLOCK_OFFSET, MAX_MEDIUM_SIZE, MAX_SMALL_SIZE, MAX_SPAN_BYTES, MEDIUM_STEPS,
    MIN_ALIGN, MIN_SPAN_BYTES, POW2_HEADER_BYTES, POW2_HEADER_DOUBLINGS, SLAB_SIZE,
    SPAN_HEADER_BYTES, SPAN_MIN_BLOCKS,
};

/// Largest size served by the fine classes (16-byte steps); above it the coarse classes
/// (`COARSE_STEPS` per doubling).
pub const FINE_MAX: usize = if MAX_SMALL_SIZE < 1024 {
    MAX_SMALL_SIZE
} else {
    1024
};
const FINE_CLASSES: usize = FINE_MAX / 16;

/// Classes per doubling above `FINE_MAX`, the `d`-th doubling (0: 1-2 KiB): `COARSE_STEPS`, plus
/// the power-of-two-plus-header class (`config::POW2_HEADER_CLASSES`) in the first
/// `POW2_HEADER_DOUBLINGS`.
const fn classes_in_doubling(d: usize) -> usize {
    COARSE_STEPS + (d < POW2_HEADER_DOUBLINGS) as usize
}

const fn count_coarse() -> usize {
    let mut n = 0;
    let mut base = FINE_MAX;
    let mut d = 0;
    while base < MAX_SMALL_SIZE {
        n += classes_in_doubling(d);
        base *= 2;
        d += 1;
    }
    n
}

/// Number of size classes.
pub const NUM_CLASSES: usize = FINE_CLASSES + count_coarse();

const fn build_sizes() -> [u32; NUM_CLASSES] {
    let mut t = [0u32; NUM_CLASSES];
    let mut i = 0;
    while i < FINE_CLASSES {
        t[i] = ((i + 1) * 16) as u32;
        i += 1;
    }
    let mut base = FINE_MAX;
    let mut d = 0;
    while i < NUM_CLASSES {
        if classes_in_doubling(d) > COARSE_STEPS {
            t[i] = (base + POW2_HEADER_BYTES) as u32;
            i += 1;
        }
        d += 1;
        let step = base / COARSE_STEPS;
        let mut k = 1;
        while k <= COARSE_STEPS {
            t[i] = (base + k * step) as u32;
            i += 1;
            k += 1;
        }
        base *= 2;
    }
    t
}

const fn count_medium() -> usize {
    let mut n = 0;
    let mut base = MAX_SMALL_SIZE;
    while base < MAX_MEDIUM_SIZE {
        n += MEDIUM_STEPS;
        base *= 2;
    }
    n
}

/// Number of medium classes.
pub const NUM_MEDIUM: usize = count_medium();
/// Number of class ids, small and medium.
pub const TOTAL_CLASSES: usize = NUM_CLASSES + NUM_MEDIUM;

const fn build_all_sizes() -> [u32; TOTAL_CLASSES] {
    let small = build_sizes();
    let mut t = [0u32; TOTAL_CLASSES];
    let mut i = 0;
    while i < NUM_CLASSES {
        t[i] = small[i];
        i += 1;
    }
    let mut base = MAX_SMALL_SIZE;
    while i < TOTAL_CLASSES {
        let step = base / MEDIUM_STEPS;
        let mut k = 1;
        while k <= MEDIUM_STEPS {
            t[i] = (base + k * step) as u32;
            i += 1;
            k += 1;
        }
        base *= 2;
    }
    t
}

/// Block size of each class id (small and medium), as a constant (for const constructors).
pub const CLASS_SIZES: [u32; TOTAL_CLASSES] = build_all_sizes();
/// Block size of each class id (one copy in memory for the hot paths).
pub static CLASS_SIZE: [u32; TOTAL_CLASSES] = CLASS_SIZES;

const fn build_recip() -> [u64; TOTAL_CLASSES] {
    let sizes = build_all_sizes();
    let mut t = [0u64; TOTAL_CLASSES];
    let mut i = 0;
    while i < TOTAL_CLASSES {
        t[i] = (1u64 << 32).div_ceil(sizes[i] as u64);
        i += 1;
    }
    t
}

/// `ceil(2^32 / class_size)`: `offset * RECIP >> 32 == offset / class_size` whenever `offset` is
/// a multiple of the class size below `2^32`, and never less than `offset / class_size`; see
/// `block_index`.
pub static CLASS_RECIP: [u64; TOTAL_CLASSES] = build_recip();

/// Bytes of the span serving medium class id `c`: the smallest power of two from
/// `MIN_SPAN_BYTES` holding `SPAN_MIN_BLOCKS` blocks after the header, at most `MAX_SPAN_BYTES`.
const fn span_bytes_of(size: usize) -> usize {
    let mut span = MIN_SPAN_BYTES;
    while span < MAX_SPAN_BYTES && (span - SPAN_HEADER_BYTES) / size < SPAN_MIN_BLOCKS {
        span *= 2;
    }
    span
}

const fn build_capacity() -> [u32; TOTAL_CLASSES] {
    let sizes = build_all_sizes();
    let mut t = [0u32; TOTAL_CLASSES];
    let mut i = 0;
    while i < TOTAL_CLASSES {
        let size = sizes[i] as usize;
        t[i] = if i < NUM_CLASSES {
            SLAB_SIZE / size
        } else {
            (span_bytes_of(size) - SPAN_HEADER_BYTES) / size
        } as u32;
        i += 1;
    }
    t
}

/// Blocks in one slab (small ids) or one span (medium ids).
pub static CLASS_CAPACITY: [u32; TOTAL_CLASSES] = build_capacity();

const fn build_divisors() -> [u64; NUM_CLASSES] {
    let sizes = build_sizes();
    let mut div = [0u64; NUM_CLASSES];
    let mut i = 0;
    while i < NUM_CLASSES {
        div[i] = (u64::MAX / sizes[i] as u64).wrapping_add(1);
        i += 1;
    }
    div
}

/// `ceil(2^64 / class size)` of each small class, for threads that do not hold the slab: see
/// `is_block_offset`. The slab's `SlabLocal::divisor` (`slab::divisor_of`, `floor(2^64 / size) +
/// 1`) is the same number except for power-of-two sizes, where it is one more; both pass the
/// divisibility test (each for its own use: this one with the bound compared apart, the slab's
/// fused with its carve limit).
static CLASS_DIVISOR: [u64; NUM_CLASSES] = build_divisors();

/// `floor(2^64 / class size) + 1` of each small class: the slab's fused-check divisor
/// (`slab::divisor_of`, which `Slab::bind` computes for its holder), for a remote freer's batch
/// entry (`front::remote_batch`, `config::BATCH_HIT`), which reads no holder state.
static FUSED_DIVISOR: [u64; NUM_CLASSES] = build_fused_divisors();

const fn build_fused_divisors() -> [u64; NUM_CLASSES] {
    let sizes = build_sizes();
    let mut div = [0u64; NUM_CLASSES];
    let mut i = 0;
    while i < NUM_CLASSES {
        div[i] = ((1u128 << 64) / sizes[i] as u128 + 1) as u64;
        i += 1;
    }
    div
}

/// The fused-check divisor of small class `c` (see `FUSED_DIVISOR`).
#[inline]
pub fn fused_divisor(c: usize) -> u64 {
    FUSED_DIVISOR[c]
}

/// True if `off` (a block's offset in its slab) is a block boundary of small class `c` below
/// `end` — a remote freer's check, with the slab's shared carve bound as `end`
/// (`Slab::carve_bound`, at most the capacity's end): `check_block`'s verdict by the bound and
/// the divisibility test `off * ceil(2^64/size) mod 2^64 < ceil(2^64/size)` (exact for
/// `off < 2^32`; Lemire, Kaser and Kurz 2019), one table load and no second multiply.
#[inline(always)]
pub fn is_block_offset(c: usize, off: usize, end: usize) -> bool {
    let d = CLASS_DIVISOR[c];
    off < end && (off as u64).wrapping_mul(d) < d
}

// Every coarse class a multiple of 16 (none exist under loom, where `FINE_MAX == MAX_SMALL_SIZE`).
const _: () = assert!(
    COARSE_STEPS.is_power_of_two() && (FINE_MAX == MAX_SMALL_SIZE || FINE_MAX / COARSE_STEPS >= 16)
);
const _: () = assert!(build_sizes()[NUM_CLASSES - 1] as usize == MAX_SMALL_SIZE);
const _: () = assert!(build_all_sizes()[TOTAL_CLASSES - 1] as usize == MAX_MEDIUM_SIZE);
const _: () = assert!((SLAB_SIZE as u64) * (MAX_SMALL_SIZE as u64) < (1u64 << 32));
const _: () = assert!((MAX_BLOCK_OFFSET as u64) < (1u64 << 32));
const _: () = assert!(
    (MAX_SMALL_SIZE / MEDIUM_STEPS) % MIN_ALIGN == 0,
    "medium sizes keep the minimum alignment"
);

/// Block size of class `c`.
#[inline(always)]
pub fn class_size(c: usize) -> usize {
    CLASS_SIZE[c] as usize
}

/// Blocks in one slab of small class `c`, or one span of medium class `c`.
#[inline]
pub fn blocks_per_slab(c: usize) -> usize {
    CLASS_CAPACITY[c] as usize
}

/// True for a medium class id.
#[inline(always)]
pub fn is_medium(c: usize) -> bool {
    c >= NUM_CLASSES
}

/// Bytes of one span of medium class id `c`.
#[inline]
pub fn span_bytes(c: usize) -> usize {
    span_bytes_of(class_size(c))
}

/// `offset / class_size(c)` without a division, for `offset < MAX_BLOCK_OFFSET`: exact when
/// `offset` is a multiple of the class size (the error term `offset * (RECIP - 2^32/size) / 2^32`
/// is below `offset / 2^32 < 1`), and never below the true quotient otherwise. So
/// `block_index(c, off) * class_size(c) == off` holds exactly for block boundaries, which is all
/// the boundary checks ask; for small classes and `offset < SLAB_SIZE` it is the exact quotient.
#[inline(always)]
pub fn block_index(c: usize, offset: usize) -> usize {
    ((offset as u64 * CLASS_RECIP[c]) >> 32) as usize
}

/// The class serving `size` bytes at the minimum alignment; `None` above `MAX_SMALL_SIZE`.
#[inline(always)]
pub fn class_of(size: usize) -> Option<usize> {
    if size <= FINE_MAX {
        Some(((size + 15) >> 4).saturating_sub(1))
    } else if size <= MAX_SMALL_SIZE {
        Some(class_of_coarse(size))
    } else {
        None
    }
}

/// `class_of` for `FINE_MAX < size <= MAX_SMALL_SIZE`: the arithmetic of `COARSE_STEPS` per
/// doubling, plus one for each power-of-two-plus-header class below `size`
/// (`config::POW2_HEADER_CLASSES`: a compare and an add each, on `size` alone, so the fast path
/// keeps no other value live).
#[inline]
pub fn class_of_coarse(size: usize) -> usize {
    let s = size - 1;
    let bit = (usize::BITS - 1 - s.leading_zeros()) as usize;
    let shift = bit - COARSE_STEPS.trailing_zeros() as usize;
    let fine_bit = FINE_MAX.trailing_zeros() as usize;
    let mut c =
        FINE_CLASSES + (bit - fine_bit) * COARSE_STEPS + ((s >> shift) & (COARSE_STEPS - 1));
    let mut d = 0;
    while d < POW2_HEADER_DOUBLINGS {
        c += (size > (FINE_MAX << d) + POW2_HEADER_BYTES) as usize;
        d += 1;
    }
    c
}

/// The medium class id serving `size` bytes (`MAX_SMALL_SIZE < size <= MAX_MEDIUM_SIZE`), at any
/// alignment up to `SPAN_HEADER_BYTES`'s (blocks are aligned to the class size's lowest set bit,
/// at least 16, see `medium_align_ok`).
#[inline]
pub fn medium_class_of(size: usize) -> Option<usize> {
    if size <= MAX_SMALL_SIZE || size > MAX_MEDIUM_SIZE {
        return None;
    }
    let s = size - 1;
    let bit = (usize::BITS - 1 - s.leading_zeros()) as usize;
    let shift = bit - MEDIUM_STEPS.trailing_zeros() as usize;
    let small_bit = MAX_SMALL_SIZE.trailing_zeros() as usize;
    Some(NUM_CLASSES + (bit - small_bit) * MEDIUM_STEPS + ((s >> shift) & (MEDIUM_STEPS - 1)))
}

/// True when every block of medium class `c` is aligned to `align`: blocks start at
/// `span + SPAN_HEADER_BYTES + i * size`, spans are aligned to `MIN_SPAN_BYTES`.
#[inline]
pub fn medium_align_ok(c: usize, align: usize) -> bool {
    let unit = class_size(c) | SPAN_HEADER_BYTES;
    align <= 1 << unit.trailing_zeros()
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

/// `config::LOCKED_COARSE_CLASSES`: the class that serves small class `c` while memory is locked:
/// the smallest class at least `c`'s size rounded up to a quarter of its power of two (four
/// classes per doubling, at most 25% more), e.g. 1,040 -> 1,280. Coarse classes map to themselves.
/// It keeps every alignment `c` has: a class size that is a multiple of a power of two `a` is
/// either below `4a` (then `a`, `2a` or `3a`, all on the grid) or rounded to a step that `a`
/// divides.
pub fn locked_class(c: usize) -> usize {
    let n = class_size(c);
    let step = ((1usize << (usize::BITS - 1 - n.leading_zeros())) / 4).max(16);
    class_of(n.next_multiple_of(step)).unwrap_or(c)
}

#[cfg(all(test, not(hakmem_loom)))]
mod tests {
    use super::*;

    #[test]
    fn locked_classes_are_coarse_idempotent_and_keep_alignment() {
        assert_eq!(class_size(locked_class(class_of(1040).unwrap())), 1280);
        for c in 0..NUM_CLASSES {
            let k = locked_class(c);
            let (n, m) = (class_size(c), class_size(k));
            assert!(m >= n && m * 4 <= n * 5 + 64, "{n} -> {m}");
            assert_eq!(locked_class(k), k, "{m} is not coarse");
            let align = 1 << n.trailing_zeros();
            assert_eq!(m % align, 0, "{n} -> {m} loses alignment {align}");
        }
    }

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
            if n <= FINE_MAX {
                assert!(
                    class_size(c) - n.max(1) < 16,
                    "n={n}: fine classes waste under 16 bytes"
                );
            }
            if n > 48 {
                let waste = (class_size(c) - n) as f64 / class_size(c) as f64;
                assert!(waste <= 0.25, "n={n} waste={waste}");
            }
            if n > FINE_MAX {
                let waste = (class_size(c) - n) * (COARSE_STEPS + 1);
                assert!(
                    waste <= class_size(c),
                    "n={n}: over 1/(COARSE_STEPS+1) wasted"
                );
            }
        }
        assert_eq!(class_of(MAX_SMALL_SIZE + 1), None);
    }

    /// sqlite3's page-cache blocks (a page plus 8 bytes) take the class 16 bytes above the power
    /// of two in 1-4 KiB (`config::POW2_HEADER_CLASSES`), else 1/8 of a doubling above it, not 1/4
    /// (`config::COARSE8`): 1,032 -> 1,040 / 1,152 / 1,280 bytes.
    #[test]
    fn just_above_a_power_of_two_wastes_an_eighth() {
        let fit = |n| class_size(class_of(n).unwrap());
        if crate::config::POW2_HEADER_CLASSES {
            assert_eq!(
                (
                    fit(1032),
                    fit(1040),
                    fit(1041),
                    fit(2056),
                    fit(4104),
                    fit(8200)
                ),
                (1040, 1040, 1152, 2064, 4112, 9216)
            );
        } else if crate::config::COARSE8 {
            assert_eq!(
                (fit(1032), fit(2056), fit(4104), fit(8200)),
                (1152, 2304, 4608, 9216)
            );
        } else {
            assert_eq!(
                (fit(1032), fit(2056), fit(4104), fit(8200)),
                (1280, 2560, 5120, 10240)
            );
        }
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

    #[test]
    fn medium_classes_are_smallest_fit_with_bounded_waste() {
        let mut prev = MAX_SMALL_SIZE;
        for c in NUM_CLASSES..TOTAL_CLASSES {
            assert!(is_medium(c) && class_size(c) > prev && class_size(c) % 4096 == 0);
            prev = class_size(c);
            let span = span_bytes(c);
            assert!(span.is_power_of_two() && (MIN_SPAN_BYTES..=MAX_SPAN_BYTES).contains(&span));
            assert_eq!(
                blocks_per_slab(c),
                (span - SPAN_HEADER_BYTES) / class_size(c),
                "class {c}"
            );
            assert!(blocks_per_slab(c) >= 7, "class {c}");
        }
        let mut n = MAX_SMALL_SIZE + 1;
        while n <= MAX_MEDIUM_SIZE {
            let c = medium_class_of(n).unwrap();
            assert!(class_size(c) >= n, "n={n}");
            if c > NUM_CLASSES {
                assert!(class_size(c - 1) < n, "n={n} not smallest");
            }
            let waste = (class_size(c) - n) as f64 / class_size(c) as f64;
            assert!(
                waste <= 1.0 / (MEDIUM_STEPS as f64 + 1.0),
                "n={n} waste={waste}"
            );
            n += 97;
        }
        assert_eq!(medium_class_of(MAX_SMALL_SIZE), None);
        assert_eq!(medium_class_of(MAX_MEDIUM_SIZE + 1), None);
        assert_eq!(medium_class_of(MAX_MEDIUM_SIZE), Some(TOTAL_CLASSES - 1));
        assert_eq!(medium_class_of(MAX_SMALL_SIZE + 1), Some(NUM_CLASSES));
        assert!(medium_align_ok(NUM_CLASSES, 4096) && !medium_align_ok(NUM_CLASSES, 8192));
    }

    #[test]
    fn block_index_finds_medium_boundaries() {
        for c in NUM_CLASSES..TOTAL_CLASSES {
            let size = class_size(c);
            for i in 0..blocks_per_slab(c) {
                assert_eq!(block_index(c, i * size), i);
                for off in [i * size + 16, i * size + size - 16] {
                    assert_ne!(block_index(c, off) * size, off);
                }
            }
        }
    }
}
