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

use crate::sync::plain::{AtomicU64, Ordering};

/// Mean bytes between samples (`HAKMEM_PROF_SAMPLE`, default 512 KiB as in jemalloc/tcmalloc).
pub const DEFAULT_MEAN: u64 = 512 * 1024;

static MEAN: AtomicU64 = AtomicU64::new(DEFAULT_MEAN);

/// The current mean sampling interval in bytes.
#[inline]
pub fn mean() -> u64 {
    // ORDERING: Relaxed — a tuning value; a thread that draws with the previous mean for one more
    // interval is still sampling correctly (each sample records the weight it was drawn with).
    MEAN.load(Ordering::Relaxed)
}

/// Sets the mean sampling interval (at least 1 byte).
pub fn set_mean(bytes: u64) {
    // ORDERING: Relaxed — see `mean`.
    MEAN.store(bytes.max(1), Ordering::Relaxed);
}

/// How many requests of `size` bytes one sample of that size stands for under mean `mean`.
pub fn weight(size: usize, mean: u64) -> f64 {
    let p = 1.0 - (-(size.max(1) as f64) / mean as f64).exp();
    if p > 0.0 {
        1.0 / p
    } else {
        1.0
    }
}

/// One thread's countdown. `rng == 0` means "not armed yet": the first request draws the first
/// interval instead of being sampled, so a new thread's first allocation is not favoured.
pub struct Sampler {
    left: i64,
    rng: u64,
}

impl Sampler {
    pub const fn new() -> Self {
        Self { left: 0, rng: 0 }
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
            self.rng = seed(self as *const Self as u64);
            self.left = self.draw().saturating_sub(size as i64);
            if self.left >= 0 {
                return false;
            }
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

    /// An exponential interval with mean `mean()` bytes (inverse-CDF of a 53-bit uniform).
    fn draw(&mut self) -> i64 {
        // xorshift64*: fast, good enough for interval lengths, no shared state.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        let u = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        let v = -(1.0 - u).ln() * mean() as f64;
        if v >= i64::MAX as f64 {
            i64::MAX
        } else {
            v as i64
        }
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
    fn weight_is_one_for_blocks_much_larger_than_the_mean() {
        assert_eq!(weight(1 << 30, 4096), 1.0);
        assert!((weight(512 * 1024, 512 * 1024) - 1.582).abs() < 0.001);
    }
}
