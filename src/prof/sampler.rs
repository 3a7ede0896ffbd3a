//! The per-thread byte countdown that decides which allocations are sampled.
//!
//! Sampling is a Poisson process over allocated bytes with mean `mean` bytes between samples
//! (jemalloc's and tcmalloc's scheme): the countdown starts at an exponential draw, every request
//! subtracts its size, and the request that takes it below zero is sampled; the countdown then
//! restarts at a fresh draw. A request of `s` bytes is therefore sampled with probability
//! `1 - exp(-s / mean)`, whatever was allocated before it, so each sample stands for
//! `1 / (1 - exp(-s / mean))` requests of its size (`weight`).
//!
//! Boundary: pure arithmetic on thread-owned state (a field of the thread heap's local part);
//! no locks, no allocation.

use super::table::LastStack;
use crate::config::PROF_WEIGHT_TABLE;
use crate::sync::plain::{AtomicU64, Ordering};

/// Mean bytes between samples (`HAKMEM_PROF_SAMPLE`, default 512 KiB as in jemalloc/tcmalloc).
pub const DEFAULT_MEAN: u64 = 512 * 1024;

static MEAN: AtomicU64 = AtomicU64::new(DEFAULT_MEAN);
// What each sample derives from the mean, computed when it is set (`set_mean`), not per sample:
/// `SURE` × the mean (saturated): a request of this many bytes or more takes no draw.
static SURE_AT: AtomicU64 = AtomicU64::new(sure_at(DEFAULT_MEAN));
/// `1 / mean` (f64 bits): a sample's `x = size / mean` is a multiplication.
static INV_MEAN: AtomicU64 = AtomicU64::new(inv_mean_of(DEFAULT_MEAN));
/// `mean · ln 2 / 2^32` (f64 bits): the draw's factor (`neg_log2_unit` counts in 2^-32).
static DRAW_SCALE: AtomicU64 = AtomicU64::new(draw_scale_of(DEFAULT_MEAN));

const fn sure_at(mean: u64) -> u64 {
    mean.saturating_mul(SURE as u64)
}

const fn inv_mean_of(mean: u64) -> u64 {
    (1.0 / mean as i64 as f64).to_bits()
}

const fn draw_scale_of(mean: u64) -> u64 {
    (mean as i64 as f64 * (core::f64::consts::LN_2 / 4_294_967_296.0)).to_bits()
}

/// The current mean sampling interval in bytes.
#[inline]
pub fn mean() -> u64 {
    // ORDERING: Relaxed — a tuning value; a thread that draws with the previous mean for one more
    // interval is still sampling correctly (each sample records the weight it was drawn with).
    MEAN.load(Ordering::Relaxed)
}

/// Sets the mean sampling interval (at least 1 byte, at most 2^62: it is converted through i64).
pub fn set_mean(bytes: u64) {
    let m = bytes.clamp(1, 1 << 62);
    // ORDERING: Relaxed — see `mean` (a sample that reads some of these from before the change
    // and some from after is drawn or weighed as under either mean, still a valid sample).
    MEAN.store(m, Ordering::Relaxed);
    // ORDERING: Relaxed — as above.
    SURE_AT.store(sure_at(m), Ordering::Relaxed);
    // ORDERING: Relaxed — as above.
    INV_MEAN.store(inv_mean_of(m), Ordering::Relaxed);
    // ORDERING: Relaxed — as above.
    DRAW_SCALE.store(draw_scale_of(m), Ordering::Relaxed);
}

/// How many requests of `size` bytes one sample of that size stands for under mean `mean`:
/// `1 / (1 - exp(-size / mean))` (the samples use `weight_now`, the same for the current mean).
#[cfg(test)]
pub fn weight(size: usize, mean: u64) -> f64 {
    // Through i64: a u64 → f64 conversion takes a dozen instructions on x86-64, an i64 one a
    // single `cvtsi2sd` (both values are far below 2^63).
    weight_of_x(size.max(1) as i64 as f64 / mean as i64 as f64)
}

/// `weight(size, mean())`, with the mean's reciprocal computed when it was set.
#[inline(always)]
pub fn weight_now(size: usize) -> f64 {
    // ORDERING: Relaxed — see `set_mean`.
    let inv = f64::from_bits(INV_MEAN.load(Ordering::Relaxed));
    weight_of_x(size.max(1) as i64 as f64 * inv)
}

/// `1 / (1 - exp(-x))` for `x > 0`.
#[inline(always)]
fn weight_of_x(x: f64) -> f64 {
    if x >= SURE {
        // A request of `SURE` × the mean or more is sampled with probability 1 to within 1e-9
        // (the large box's requests, at the default mean): it stands for itself, no series and
        // no division.
        return 1.0;
    }
    if PROF_WEIGHT_TABLE && (WEIGHT_LO..WEIGHT_HI).contains(&x) {
        return weight_from_table(x);
    }
    weight_by_series(x)
}

/// `weight_of_x` by `one_minus_exp_neg` and a division (relative error below 1e-9).
#[inline(always)]
fn weight_by_series(x: f64) -> f64 {
    let p = one_minus_exp_neg(x);
    if p > 0.0 {
        1.0 / p
    } else {
        1.0
    }
}

// ---- the weight's table (`config::PROF_WEIGHT_TABLE`) ------------------------------------------
// A sampled medium request (x = size / mean between 1/32 and 16 at the default mean: 16 KiB to
// 8 MiB) takes its weight from a table instead of the series and a division (~35 instructions
// with a `divsd`, docs/benchmarks.md "Session 13: prof15"): `WEIGHT_STEPS` quadratics per octave
// of x, each through the weight at the ends and the middle of its step, indexed by x's exponent
// and top mantissa bits. Relative error below 2e-5 (`weight_table_matches_the_series`), of either
// sign (a quadratic's error is cubic in the step): no bias a profile could see.

/// Octaves of x the table covers: [2^WEIGHT_MIN_EXP, 2^(WEIGHT_MIN_EXP + WEIGHT_OCTAVES)).
const WEIGHT_MIN_EXP: i32 = -5;
const WEIGHT_OCTAVES: usize = 9;
/// Quadratics per octave (a power of two: the index is x's top mantissa bits).
const WEIGHT_STEP_BITS: u32 = 5;
const WEIGHT_STEPS: usize = 1 << WEIGHT_STEP_BITS;
const WEIGHT_LO: f64 = 1.0 / 32.0;
const WEIGHT_HI: f64 = 16.0;
const _: () = assert!(WEIGHT_LO == 1.0 / (1u64 << -WEIGHT_MIN_EXP) as f64);
const _: () = assert!(WEIGHT_HI == WEIGHT_LO * (1u64 << WEIGHT_OCTAVES) as f64);
const _: () = assert!(WEIGHT_HI < SURE);

/// One step's quadratic `a + f·(b + f·c)` in the step's fraction `f` in [0, 1); one step per
/// 32-byte line half, so a lookup reads one cache line.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct Quad {
    a: f64,
    b: f64,
    c: f64,
}

/// `1 / (1 - exp(-x))` at compile time, for `x` in (0, 32]: `exp(-x) = exp(-x/32)^32` (the
/// series converges at |x/32| <= 1; five squarings keep ~15 digits).
const fn weight_exact(x: f64) -> f64 {
    let mut e = exp_series(-x / 32.0);
    let mut k = 0;
    while k < 5 {
        e *= e;
        k += 1;
    }
    1.0 / (1.0 - e)
}

static WEIGHT_TABLE: [Quad; WEIGHT_OCTAVES * WEIGHT_STEPS] = {
    let mut t = [Quad {
        a: 0.0,
        b: 0.0,
        c: 0.0,
    }; WEIGHT_OCTAVES * WEIGHT_STEPS];
    let mut i = 0;
    while i < WEIGHT_OCTAVES * WEIGHT_STEPS {
        let octave = WEIGHT_LO * (1u64 << (i / WEIGHT_STEPS)) as f64;
        let h = octave / WEIGHT_STEPS as f64;
        let x0 = octave + h * (i % WEIGHT_STEPS) as f64;
        let (w0, wm, w1) = (
            weight_exact(x0),
            weight_exact(x0 + h / 2.0),
            weight_exact(x0 + h),
        );
        // Through (0, w0), (1/2, wm), (1, w1).
        t[i] = Quad {
            a: w0,
            b: 4.0 * wm - 3.0 * w0 - w1,
            c: 2.0 * w0 + 2.0 * w1 - 4.0 * wm,
        };
        i += 1;
    }
    t
};

/// `weight_of_x` for `x` in [WEIGHT_LO, WEIGHT_HI) from `WEIGHT_TABLE`.
#[inline(always)]
fn weight_from_table(x: f64) -> f64 {
    debug_assert!((WEIGHT_LO..WEIGHT_HI).contains(&x));
    let bits = x.to_bits();
    // x = 2^e · (1 + m / 2^52), e in [WEIGHT_MIN_EXP, WEIGHT_MIN_EXP + WEIGHT_OCTAVES): the
    // index is (e - WEIGHT_MIN_EXP, m's top WEIGHT_STEP_BITS), the fraction m's rest.
    const SHIFT: u32 = 52 - WEIGHT_STEP_BITS;
    const FIRST: u64 = ((1023 + WEIGHT_MIN_EXP) as u64) << WEIGHT_STEP_BITS;
    let i = ((bits >> SHIFT) - FIRST) as usize;
    let f = (bits & ((1u64 << SHIFT) - 1)) as i64 as f64 * (1.0 / (1u64 << SHIFT) as f64);
    let q = &WEIGHT_TABLE[i];
    q.a + f * (q.b + f * q.c)
}

// ---- the weight in fixed point (`config::PROF_LEAN_SAMPLE`) --------------------------------------
// The same quadratics with their coefficients in 32.32 (`WEIGHT_TABLE_FIXED`), evaluated in
// integers from x's mantissa bits: no conversion of the step's fraction, no float products, and
// a weight the record (`Record::from_fixed`) turns into its counters with a shift and one
// multiplication. Each of the two products is truncated to 2^-32 (a bias below 2^-31 of a
// request, 1e-10 of the smallest weight); the table's own error (2e-5) is unchanged.

/// A weight in 32.32 fixed point: `weight × 2^32`, rounded (a weight is at least 1, so at least
/// 2^32; at most 2^62, clamped).
pub const FIXED_ONE: u64 = 1 << 32;

/// One step's quadratic in 32.32 (`Quad` × 2^32, rounded).
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct QuadFixed {
    a: i64,
    b: i64,
    c: i64,
}

/// `v × 2^32` rounded to the nearest integer (at compile time).
const fn to_fixed(v: f64) -> i64 {
    let s = v * FIXED_ONE as f64;
    (if s >= 0.0 { s + 0.5 } else { s - 0.5 }) as i64
}

static WEIGHT_TABLE_FIXED: [QuadFixed; WEIGHT_OCTAVES * WEIGHT_STEPS] = {
    let mut t = [QuadFixed { a: 0, b: 0, c: 0 }; WEIGHT_OCTAVES * WEIGHT_STEPS];
    let mut i = 0;
    while i < WEIGHT_OCTAVES * WEIGHT_STEPS {
        let q = WEIGHT_TABLE[i];
        t[i] = QuadFixed {
            a: to_fixed(q.a),
            b: to_fixed(q.b),
            c: to_fixed(q.c),
        };
        i += 1;
    }
    t
};

/// `weight_from_table(x) × 2^32` from `WEIGHT_TABLE_FIXED`, for `x` in [WEIGHT_LO, WEIGHT_HI).
#[inline(always)]
fn weight_fixed_from_table(x: f64) -> u64 {
    debug_assert!((WEIGHT_LO..WEIGHT_HI).contains(&x));
    let bits = x.to_bits();
    const SHIFT: u32 = 52 - WEIGHT_STEP_BITS;
    const FIRST: u64 = ((1023 + WEIGHT_MIN_EXP) as u64) << WEIGHT_STEP_BITS;
    const _: () = assert!(SHIFT >= 32);
    let i = ((bits >> SHIFT) - FIRST) as usize;
    // The step's fraction in 0.32 (the mantissa's next 32 bits).
    let f = ((bits >> (SHIFT - 32)) & 0xffff_ffff) as i128;
    debug_assert!(i < WEIGHT_TABLE_FIXED.len());
    // SAFETY: x in [2^WEIGHT_MIN_EXP, 2^(WEIGHT_MIN_EXP + WEIGHT_OCTAVES)) has its exponent
    // field in [1023 + WEIGHT_MIN_EXP, 1023 + WEIGHT_MIN_EXP + WEIGHT_OCTAVES), so `i` is below
    // `WEIGHT_OCTAVES << WEIGHT_STEP_BITS`, the table's length (no bounds check on the path).
    let q = unsafe { WEIGHT_TABLE_FIXED.get_unchecked(i) };
    // The products of two 64-bit numbers in 128 bits (one `imul` each), back to 32.32.
    let t = q.b + ((f * q.c as i128) >> 32) as i64;
    let w = q.a + ((f * t as i128) >> 32) as i64;
    debug_assert!(w >= FIXED_ONE as i64, "a weight is at least 1");
    w as u64
}

/// `weight_now(size) × 2^32`, rounded (at most 2^62): from `WEIGHT_TABLE_FIXED` where the float
/// weight would come from `WEIGHT_TABLE`, else the float weight converted.
#[inline(always)]
pub fn weight_fixed_now(size: usize) -> u64 {
    // ORDERING: Relaxed — see `set_mean`.
    let inv = f64::from_bits(INV_MEAN.load(Ordering::Relaxed));
    // (A size of 0 counts as 1, as in `weight_now`: 0 is below the table's range.)
    let x = size as i64 as f64 * inv;
    if PROF_WEIGHT_TABLE && (WEIGHT_LO..WEIGHT_HI).contains(&x) {
        return weight_fixed_from_table(x);
    }
    let x = size.max(1) as i64 as f64 * inv;
    let w = (weight_of_x(x) * FIXED_ONE as f64 + 0.5).min((1u64 << 62) as f64);
    // SAFETY: finite (a weight is finite) and in [2^32, 2^62]: representable as i64.
    unsafe { w.to_int_unchecked::<i64>() as u64 }
}

// ---- cheap math ---------------------------------------------------------------------------------
// libm's `log` and `exp` cost ~50 instructions each per sample (a third of the draw and the
// weight). Sampling needs about six correct digits, not sixteen: these are table-driven
// exponent/mantissa splits with short series (64-entry tables built at compile time), relative
// error below 1e-9 (tests below check them against libm). No division, no state.

/// `exp(x)` for `|x| <= 1` by its Taylor series to convergence (tables only, at compile time).
const fn exp_series(x: f64) -> f64 {
    let (mut sum, mut term, mut k) = (1.0, 1.0, 1);
    while k < 30 {
        term = term * x / k as f64;
        sum += term;
        k += 1;
    }
    sum
}

/// `2^(-j/64)` for `j` in `0..64`.
const EXP2_NEG: [f64; 64] = {
    let mut t = [0.0; 64];
    let mut j = 0;
    while j < 64 {
        t[j] = exp_series(-(j as f64) * core::f64::consts::LN_2 / 64.0);
        j += 1;
    }
    t
};

/// `log2(1 + j/256)` in units of 2^-32, for `j` in `0..=256` (the draw's interpolation table).
const LOG2_1P: [u64; 257] = {
    let mut t = [0u64; 257];
    let mut j = 0;
    while j <= 256 {
        // log2(1 + x) = ln(1 + x) · log2 e, by the atanh series to convergence.
        let m = 1.0 + j as f64 / 256.0;
        let u = (m - 1.0) / (m + 1.0);
        let (mut sum, mut p, mut k) = (0.0, u, 0);
        while k < 40 {
            sum += p / (2 * k + 1) as f64;
            p *= u * u;
            k += 1;
        }
        t[j] = (2.0 * sum * core::f64::consts::LOG2_E * 4_294_967_296.0 + 0.5) as u64;
        j += 1;
    }
    t
};

/// `-log2(r / 2^64)` in units of 2^-32 for a nonzero `r`: integer only (a leading-zero count, a
/// table of 257 entries and a linear interpolation; absolute error below 3e-6, i.e. the
/// exponential draw's relative error is below 3e-6 / -log2(u)): in (0, 64 · 2^32].
#[inline(always)]
fn neg_log2_unit(r: u64) -> u64 {
    let lz = r.leading_zeros() as u64;
    // r = 2^(63 - lz) · (1 + f): -log2(r / 2^64) = lz + 1 - log2(1 + f).
    let m = r << lz;
    let j = ((m >> 55) & 255) as usize;
    let frac = (m >> 23) & 0xffff_ffff;
    let (lo, hi) = (LOG2_1P[j], LOG2_1P[j + 1]);
    let log2_1f = lo + (((hi - lo) * frac) >> 32);
    ((lz + 1) << 32) - log2_1f
}

/// From here `1 - exp(-x)` is 1 to within its relative error bound (`exp(-21) < 7.6e-10`).
const SURE: f64 = 21.0;

/// `1 - exp(-x)` for `x >= 0`, without the cancellation near 0.
#[inline]
fn one_minus_exp_neg(x: f64) -> f64 {
    if x >= SURE {
        return 1.0;
    }
    if x < 1.0 / 32.0 {
        // x - x²/2 + x³/6 - x⁴/24 + x⁵/120: the next term is below 2e-11 relative.
        return x * (1.0 - x * (0.5 - x * (1.0 / 6.0 - x * (1.0 / 24.0 - x * (1.0 / 120.0)))));
    }
    // exp(-x) = 2^-y = 2^-q · 2^(-j/64) · exp(-t), y = x·log2 e, k = floor(64 y) = 64 q + j,
    // t = (y - k/64)·ln 2 in [0, ln2/64).
    let y = x * (64.0 * core::f64::consts::LOG2_E);
    // SAFETY: `1/32 <= x < SURE`, so `y` is finite and in [2.8, 1940): representable as i64
    // (no saturation code).
    let k = unsafe { y.to_int_unchecked::<i64>() };
    let t = (y - k as f64) * (core::f64::consts::LN_2 / 64.0);
    // exp(-t), t < 0.0109: Taylor to t⁴ (next term below 2e-12).
    let e = 1.0 - t * (1.0 - t * (0.5 - t * (1.0 / 6.0 - t * (1.0 / 24.0))));
    // 2^-q for q in 0..=57: an exponent field.
    let scale = f64::from_bits(((1023 - (k >> 6)) as u64) << 52);
    1.0 - scale * EXP2_NEG[(k & 63) as usize] * e
}

/// One thread's countdown. `rng == 0` means "not armed yet": the first request draws the first
/// interval instead of being sampled, so a new thread's first allocation is not favoured.
/// It also keeps the thread's last sampled stack (`LastStack`), which interning checks first.
pub struct Sampler {
    left: i64,
    rng: u64,
    last: LastStack,
}

impl Sampler {
    pub const fn new() -> Self {
        Self {
            left: 0,
            rng: 0,
            last: LastStack::new(),
        }
    }

    /// The thread's last sampled stack, for `Table::intern_cached`.
    #[inline(always)]
    pub fn last_stack(&mut self) -> &mut LastStack {
        &mut self.last
    }

    /// Counts a request of `size` bytes; true when it is to be sampled.
    #[inline(always)]
    pub fn take(&mut self, size: usize) -> bool {
        self.left -= size as i64;
        if self.left >= 0 {
            return false;
        }
        self.cross(size)
    }

    #[cold]
    #[inline(never)]
    fn cross(&mut self, size: usize) -> bool {
        if self.rng == 0 {
            return self.arm(size);
        }
        // A request of `SURE` × the mean or more is sampled with certainty (to within
        // `exp(-SURE)`) whatever the countdown says, so it takes no draw: the countdown goes back
        // to its value before the request, which is as good as a fresh draw — by the
        // exponential's lack of memory, what is left of an interval is itself exponential with
        // the same mean, independent of the requests counted before (the large box's requests
        // at the default mean: ~60 instructions per sample).
        // ORDERING: Relaxed — see `set_mean`.
        if size as u64 >= SURE_AT.load(Ordering::Relaxed) {
            self.left += size as i64;
            return true;
        }
        self.left = self.draw();
        true
    }

    /// The first crossing of a fresh countdown: seeds the random source and draws the first
    /// interval, which the request counts against (out of `cross`, so that the clock read does not
    /// give every crossing a stack frame).
    #[cold]
    #[inline(never)]
    fn arm(&mut self, size: usize) -> bool {
        self.rng = seed(self as *const Self as u64);
        self.left = self.draw().saturating_sub(size as i64);
        if self.left >= 0 {
            return false;
        }
        self.left = self.draw();
        true
    }

    /// A fresh exponential interval in bytes (mean `mean()`) from this thread's random source,
    /// for a countdown kept elsewhere: the front end's per-class countdowns of a profiled heap
    /// (src/front/profiling.rs) count `interval() / class size` blocks.
    pub fn interval(&mut self) -> u64 {
        if self.rng == 0 {
            self.rng = seed(self as *const Self as u64);
        }
        self.draw() as u64
    }

    /// An exponential interval with mean `mean()` bytes: the inverse CDF `-ln(u) · mean` of a
    /// uniform `u = r / 2^64` in (0, 1), `r` a nonzero 64-bit random integer, so
    /// `-ln(u) = -log2(u) · ln 2` (`neg_log2_unit`: integer arithmetic, one conversion and two
    /// multiplications in floating point).
    fn draw(&mut self) -> i64 {
        // xorshift64*: fast, good enough for interval lengths, no shared state.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1;
        // (Conversions through i64, as in `weight`: both are below 2^63.)
        let l = neg_log2_unit(r) as i64 as f64;
        // ORDERING: Relaxed — see `set_mean`.
        let v = l * f64::from_bits(DRAW_SCALE.load(Ordering::Relaxed));
        // At most 64 · ln 2 · 2^62 < 2^68: clamped to 2^62 (an interval that long is never
        // reached), then converted without saturation code.
        // SAFETY: finite (a product of finite numbers below 2^68), in [0, 2^62].
        unsafe { v.min((1u64 << 62) as f64).to_int_unchecked::<i64>() }
    }
}

impl Default for Sampler {
    fn default() -> Self {
        Self::new()
    }
}

/// A nonzero seed from the thread's state address and the clock (distinct per thread and run).
fn seed(salt: u64) -> u64 {
    let mut z = salt ^ crate::os::monotonic_nanos().rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15;
    // splitmix64 finaliser.
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    z | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_average_the_mean() {
        let mut s = Sampler::new();
        s.rng = 12345;
        let n = 20_000;
        let total: f64 = (0..n).map(|_| s.draw() as f64).sum();
        let avg = total / n as f64;
        let m = mean() as f64;
        assert!(
            (avg - m).abs() < m * 0.05,
            "average interval {avg}, mean {m}"
        );
    }

    #[test]
    fn intervals_are_exponential() {
        // The tail P(X > t · mean) = exp(-t) at a few points, from 400,000 draws (a fixed seed).
        let mut s = Sampler::new();
        s.rng = 0x0005_eed0_f5a4_d1e5;
        let m = mean() as f64;
        let n = 400_000;
        let draws: Vec<f64> = (0..n).map(|_| s.draw() as f64 / m).collect();
        for t in [0.01, 0.1, 0.5, 1.0, 2.0, 4.0, 8.0] {
            let above = draws.iter().filter(|&&x| x > t).count() as f64 / n as f64;
            let want = (-t).exp();
            // Four standard deviations of a binomial proportion.
            let sd = (want * (1.0 - want) / n as f64).sqrt();
            assert!(
                (above - want).abs() < 4.0 * sd + 1e-6,
                "P(X > {t} mean) = {above}, want {want}"
            );
        }
    }

    #[test]
    fn sampled_fraction_matches_the_probability() {
        // 64-byte requests: each is sampled with probability 1 - exp(-64 / mean). A fixed seed
        // keeps the check deterministic (a clock seed made it fail about once in a few thousand
        // runs).
        let mut s = Sampler::new();
        s.rng = 0x0123_4567_89ab_cdef;
        s.left = s.draw();
        let n = 4_000_000u64;
        let hits = (0..n).filter(|_| s.take(64)).count() as f64;
        let expected = n as f64 / weight(64, mean());
        assert!(
            (hits - expected).abs() < expected * 0.15,
            "{hits} samples, expected {expected}"
        );
    }

    #[test]
    fn cheap_math_matches_libm() {
        // The draw's -log2 of a 64-bit uniform: every table interval at several points, and
        // the ends (powers of two and their neighbours).
        let check = |r: u64| {
            let want = -((r as f64).log2() - 64.0);
            let got = neg_log2_unit(r) as f64 / 4_294_967_296.0;
            assert!(
                (got - want).abs() <= 3e-6,
                "-log2({r} / 2^64): {got} vs {want}"
            );
        };
        for k in 0..64 {
            let p = 1u64 << k;
            check(p);
            check(p.wrapping_sub(1).max(1));
            check(p | 1);
            for j in 0..512u64 {
                // Points spread over the octave [2^k, 2^(k+1)).
                let r = p.wrapping_add(p.wrapping_mul(j) / 512 + j % 3);
                if r >= p {
                    check(r);
                }
            }
        }
        check(u64::MAX);
        let mut x = 1e-9f64;
        while x < 60.0 {
            let want = -(-x).exp_m1();
            let got = one_minus_exp_neg(x);
            assert!(
                (got - want).abs() <= 1e-9 * want,
                "1-exp(-{x}): {got} vs {want}"
            );
            x *= 1.003;
        }
    }

    #[test]
    fn weight_table_matches_the_series() {
        // Every step of every octave at its ends, middle and a few inner points: within 2e-5 of
        // the series (itself within 1e-9 of libm), and no bias: the mean relative error over the
        // points is below 1e-6 in size.
        let (mut n, mut sum) = (0u32, 0.0f64);
        for i in 0..WEIGHT_OCTAVES * WEIGHT_STEPS {
            let octave = WEIGHT_LO * (1u64 << (i / WEIGHT_STEPS)) as f64;
            let h = octave / WEIGHT_STEPS as f64;
            let x0 = octave + h * (i % WEIGHT_STEPS) as f64;
            for f in [0.0, 0.1, 0.21, 0.3, 0.5, 0.66, 0.79, 0.9, 0.999_999] {
                let x = x0 + h * f;
                let (want, got) = (weight_by_series(x), weight_from_table(x));
                let rel = (got - want) / want;
                assert!(rel.abs() <= 2e-5, "weight at x = {x}: {got} vs {want}");
                n += 1;
                sum += rel;
            }
        }
        assert!((sum / n as f64).abs() < 1e-6, "bias {}", sum / n as f64);
        // The ends of the table's range and what `weight_of_x` takes from it.
        let below = f64::from_bits(WEIGHT_HI.to_bits() - 1);
        assert!((weight_from_table(below) - weight_by_series(below)).abs() < 2e-5);
        assert_eq!(weight_from_table(WEIGHT_LO), weight_exact(WEIGHT_LO));
        if PROF_WEIGHT_TABLE {
            assert_eq!(weight_of_x(1.0), weight_from_table(1.0));
        } else {
            assert_eq!(weight_of_x(1.0), weight_by_series(1.0));
        }
        assert_eq!(weight_of_x(WEIGHT_HI), weight_by_series(WEIGHT_HI));
        assert_eq!(weight_of_x(0.01), weight_by_series(0.01));
    }

    #[test]
    fn sure_requests_take_no_draw() {
        let m = mean();
        let mut s = Sampler::new();
        s.rng = 0x9e37_79b9_7f4a_7c15;
        s.left = 1000;
        let sure = (SURE as u64 * m) as usize;
        assert!(s.take(sure), "a request of SURE x the mean is sampled");
        assert_eq!(s.left, 1000, "the countdown is as before the request");
        assert_eq!(s.rng, 0x9e37_79b9_7f4a_7c15, "no draw");
        assert!(!s.take(10));
        assert_eq!(s.left, 990);
        // Below `SURE` × the mean a crossing draws afresh.
        assert!(s.take(sure - 1));
        assert_ne!(s.rng, 0x9e37_79b9_7f4a_7c15);
    }

    #[test]
    fn weight_now_is_the_weight_at_the_current_mean() {
        for size in [
            0usize,
            1,
            64,
            4096,
            100_000,
            512 << 10,
            3 << 20,
            11 << 20,
            1 << 40,
        ] {
            let (want, got) = (weight(size, mean()), weight_now(size));
            assert!(
                (got - want).abs() <= 1e-12 * want,
                "{size}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn fixed_weight_matches_the_float_weight() {
        // Every size of the table's range at the current mean in steps a little off any power of
        // two, and sizes either side of it: within 8 × 2^-32 of the float weight (its
        // coefficients' rounding, 1.5 units, and the two truncated products, 2), which is itself
        // within 2e-5 of the series.
        let m = mean() as usize;
        let (mut size, mut worst) = (1usize, 0.0f64);
        while size < 40 * m {
            let want = weight_now(size) * FIXED_ONE as f64;
            let got = weight_fixed_now(size) as f64;
            let diff = (got - want).abs();
            assert!(diff <= 8.0, "{size}: {got} vs {want}");
            worst = worst.max(diff);
            size = size + size / 97 + 1;
        }
        assert!(worst > 0.0, "the integer path was taken");
        assert_eq!(weight_fixed_now(SURE as usize * m), FIXED_ONE);
        assert_eq!(weight_fixed_now(0), weight_fixed_now(1));
        assert_eq!(weight_fixed_now(usize::MAX / 2), FIXED_ONE);
        // Below the table: the float weight converted, clamped at 2^62.
        assert_eq!(
            weight_fixed_now(1),
            (weight_now(1) * FIXED_ONE as f64 + 0.5) as u64
        );
    }

    #[test]
    fn fixed_record_matches_the_float_record() {
        // `Record::from_fixed` against `Record::new` over the sizes a sample meets: each counter
        // within one unit, and the sums over all sizes within 1e-9 (no bias a profile could see).
        use super::super::arena::Record;
        let m = mean() as usize;
        let (mut size, mut n, mut differ) = (1usize, 0u32, 0u32);
        let (mut objects, mut bytes) = ([0i128; 2], [0i128; 2]);
        while size < 40 * m {
            let a = Record::new(1, 1, size, weight_now(size));
            let b = Record::from_fixed(1, 1, size, weight_fixed_now(size));
            assert!(a.objects.abs_diff(b.objects) <= 1, "{size}: objects");
            assert!(a.bytes.abs_diff(b.bytes) <= 1, "{size}: bytes");
            differ += u32::from(a.objects != b.objects || a.bytes != b.bytes);
            objects[0] += a.objects as i128;
            objects[1] += b.objects as i128;
            bytes[0] += a.bytes as i128;
            bytes[1] += b.bytes as i128;
            n += 1;
            size = size + size / 97 + 1;
        }
        assert!(differ * 10 < n, "{differ} of {n} records differ");
        assert!((objects[1] - objects[0]).abs() as f64 <= 1e-9 * objects[0] as f64);
        assert!((bytes[1] - bytes[0]).abs() as f64 <= 1e-9 * bytes[0] as f64);
    }

    #[test]
    fn weight_is_one_for_blocks_much_larger_than_the_mean() {
        assert_eq!(weight(1 << 30, 4096), 1.0);
        // Either side of `SURE`: exact to 1e-9 against libm.
        for k in [20, 21, 22] {
            let want = 1.0 / -(-(k as f64)).exp_m1();
            assert!(
                (weight(k << 19, 1 << 19) - want).abs() <= 1e-9 * want,
                "{k}"
            );
        }
        assert!((weight(512 * 1024, 512 * 1024) - 1.582).abs() < 0.001);
    }
}
