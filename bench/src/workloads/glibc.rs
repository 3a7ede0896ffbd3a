//! After glibc's malloc micro-benchmarks.
//!
//! - `glibc-simple` (bench-malloc-simple): for each of a few small sizes and batch lengths,
//!   allocate a batch of blocks, then free them all, in a tight loop. Single thread.
//! - `glibc-thread` (bench-malloc-thread): every thread keeps a working set of blocks and
//!   replaces a random one per step, sizes from 4 bytes to 32 KiB skewed towards small.

use super::block::Block;
use super::rng::Rng;
use super::{on_threads, tag, Outcome, Params};

const SIZES: [usize; 5] = [16, 32, 64, 128, 256];
const BATCHES: [usize; 4] = [25, 100, 400, 1600];
/// Allocations per (size, batch length) pair.
const SIMPLE_ALLOCS: usize = 800_000;

pub fn run_simple(p: &Params) -> Result<Outcome, String> {
    const WHAT: &str = "glibc-simple";
    let mut out = Outcome::default();
    let mut held: Vec<Block> = Vec::with_capacity(*BATCHES.iter().max().unwrap());
    let per_pair = p.n(SIMPLE_ALLOCS);
    let mut seq = 0u64;
    for size in SIZES {
        for batch in BATCHES {
            for round in 0..per_pair.div_ceil(batch) {
                for _ in 0..batch {
                    seq += 1;
                    held.push(Block::new(size, tag(0, seq, size)));
                }
                if p.inject_fault && round == 0 {
                    held[batch / 2].corrupt();
                }
                for b in held.drain(..) {
                    b.free(WHAT)?;
                }
                out.ops += batch as u64;
                out.checksum = out.checksum.wrapping_add((size * batch) as u64);
            }
        }
    }
    Ok(out)
}

const THREAD_WORKING_SET: usize = 1000;
const THREAD_STEPS: usize = 2_500_000;

pub fn run_thread(p: &Params) -> Result<Outcome, String> {
    const WHAT: &str = "glibc-thread";
    let threads = p.threads.max(1);
    let steps = p.n(THREAD_STEPS / threads);
    on_threads(threads, |t| {
        let mut rng = Rng::new(p.seed, t as u64);
        let mut out = Outcome::default();
        let mut set: Vec<Option<Block>> = (0..THREAD_WORKING_SET).map(|_| None).collect();
        for i in 0..steps {
            let slot = rng.below(THREAD_WORKING_SET);
            let size = rng.log_size(4, 32 << 10);
            if let Some(old) = set[slot].take() {
                old.free(WHAT)?;
            }
            let mut b = Block::new(size, tag(t, i as u64, size));
            if p.inject_fault && t == 0 && i == 5 {
                b.corrupt();
            }
            set[slot] = Some(b);
            out.ops += 1;
            out.checksum = out.checksum.wrapping_add(size as u64);
        }
        for b in set.into_iter().flatten() {
            b.free(WHAT)?;
        }
        Ok(out)
    })
}
