//! Churn of a live set (the pattern of issue 11): each thread keeps a live set of blocks and
//! replaces them round-robin — free one, allocate one of a new size, touch its ends — so every
//! allocation follows a free of a similar size. It measures whether an allocator serves a steady
//! state without system calls (the middle tier and the large-block cache) and how much memory it
//! keeps for it.
//!
//! - `medium-churn`: one thread, a live set of 16–64 blocks of 32 KiB–1 MiB.
//! - `medium-churn-mt`: the same on every worker thread.
//! - `large-churn`: one thread, 20 live blocks of 5–25 MiB (malloc-large's sizes, but only the
//!   ends touched, so the allocator's cost is not hidden behind page faults).
//!
//! Blocks are stamped at head and tail (`Block`) and checked before they are freed.

use super::block::Block;
use super::rng::{mix, Rng};
use super::{on_threads, tag, Outcome, Params};

struct Shape {
    what: &'static str,
    /// Live set size: drawn in `live.0..=live.1` per thread.
    live: (usize, usize),
    /// Block sizes, log-spread.
    size: (usize, usize),
    /// Replacements per thread at scale 1.
    replaces: usize,
}

const MEDIUM: Shape = Shape {
    what: "medium-churn",
    live: (16, 64),
    size: (32 << 10, 1 << 20),
    replaces: 100_000,
};

const LARGE: Shape = Shape {
    what: "large-churn",
    live: (20, 20),
    size: (5 << 20, 25 << 20),
    replaces: 20_000,
};

fn churn(s: &Shape, p: &Params, thread: usize) -> Result<Outcome, String> {
    let mut rng = Rng::new(p.seed, 0xC4 ^ (thread as u64) << 8);
    let n = rng.range(s.live.0, s.live.1);
    let mut out = Outcome::default();
    let fresh = |rng: &mut Rng, seq: usize, out: &mut Outcome| {
        let size = rng.log_size(s.size.0, s.size.1);
        out.ops += 1;
        out.checksum = out
            .checksum
            .wrapping_add(mix(size as u64 ^ (thread as u64) << 48));
        Block::new(size, tag(thread, seq as u64, size))
    };
    let mut live: Vec<Block> = (0..n).map(|i| fresh(&mut rng, i, &mut out)).collect();
    for i in 0..p.n(s.replaces) {
        let slot = i % n;
        let mut b = fresh(&mut rng, n + i, &mut out);
        if p.inject_fault && thread == 0 && i == 3 {
            b.corrupt();
        }
        std::mem::replace(&mut live[slot], b).free(s.what)?;
    }
    for b in live {
        b.free(s.what)?;
    }
    Ok(out)
}

pub fn run_medium(p: &Params) -> Result<Outcome, String> {
    churn(&MEDIUM, p, 0)
}

pub fn run_medium_mt(p: &Params) -> Result<Outcome, String> {
    on_threads(p.threads.max(1), |t| churn(&MEDIUM, p, t))
}

pub fn run_large(p: &Params) -> Result<Outcome, String> {
    churn(&LARGE, p, 0)
}
