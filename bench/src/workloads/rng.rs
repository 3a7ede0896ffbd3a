//! A small deterministic generator (SplitMix64), so workloads need no dependency and every
//! allocator sees the same sequence of sizes for the same seed.

/// SplitMix64: fast, statistically fine for choosing sizes and slots.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for stream `stream` of seed `seed` (streams are independent).
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut r = Rng(seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F));
        r.next_u64();
        r
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 32).wrapping_mul(n as u64) >> 32) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent as usize
    }

    /// A size in `lo..=hi` (`1 ≤ lo < hi`) skewed towards `lo`: the octave is uniform, then
    /// the size within it, as in allocation traces of real programs (many small blocks, few
    /// large ones). The octaves are `[2^(k-1), 2^k - 1]` clamped to `lo..=hi`; the top one ends
    /// at `hi`, so a power-of-two `hi` is as likely as its neighbours, not a whole octave's worth.
    pub fn log_size(&mut self, lo: usize, hi: usize) -> usize {
        let bits = |x: usize| (usize::BITS - x.leading_zeros()) as usize;
        let (lo_bits, hi_bits) = (bits(lo), bits(hi - 1).max(bits(lo)));
        let k = self.range(lo_bits, hi_bits);
        let bottom = (1usize << (k - 1)).max(lo);
        let top = if k >= usize::BITS as usize {
            usize::MAX
        } else {
            (1usize << k) - 1
        };
        self.range(bottom, top.max(bottom).min(hi))
    }
}

/// A 64-bit mix of `x` (the SplitMix64 finaliser), for tags and checksums.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_size_has_no_spike_at_a_power_of_two_hi() {
        let mut r = Rng::new(5, 6);
        let n = 100_000;
        let at_hi = (0..n)
            .filter(|_| r.log_size(4, 32 << 10) == 32 << 10)
            .count();
        assert!(at_hi < n / 1000, "{at_hi} of {n} draws are exactly hi");
    }

    #[test]
    fn ranges_hold() {
        let mut r = Rng::new(1, 2);
        for _ in 0..10_000 {
            let x = r.range(8, 1000);
            assert!((8..=1000).contains(&x));
            let y = r.log_size(16, 32 << 10);
            assert!((16..=32 << 10).contains(&y), "{y}");
            let z = r.log_size(4, 1000);
            assert!((4..=1000).contains(&z), "{z}");
            assert!(r.below(3) < 3);
        }
    }
}
