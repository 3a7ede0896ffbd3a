//! mixed-stress (after the public multithreaded stress tests: mimalloc's `test-stress`,
//! mimalloc-bench's `mstress` and `xmalloc-test`): threads allocate blocks whose sizes are spread
//! evenly over the powers of two from 16 B to 32 KiB, and 1% of them 100x larger (1.6 KiB to
//! 3.2 MiB: the middle and large tiers); each keeps a working set replaced at random and swaps
//! blocks with a shared transfer array, so blocks are freed by whichever thread takes them; all
//! threads are torn down and new ones created every round (the transfer array survives).
//!
//! Every block is stamped at its head and tail (`Block`) and checked by whoever frees it.

use std::sync::Mutex;

use super::block::Block;
use super::rng::{mix, Rng};
use super::{on_threads, tag, Outcome, Params};

const WHAT: &str = "mixed-stress";
const ROUNDS: usize = 10;
/// Allocations per thread per round at scale 1.
const STEPS: usize = 40_000;
/// Blocks each thread keeps live.
const WORKING_SET: usize = 500;
/// Slots of the shared transfer array.
const TRANSFERS: usize = 1000;
const MIN: usize = 16;
const MAX: usize = 32 * 1024;
/// One allocation in `BIG_ONE_IN` is `BIG_FACTOR` times larger.
const BIG_ONE_IN: usize = 100;
const BIG_FACTOR: usize = 100;

/// A size spread over the powers of two, 1% of them 100x larger.
fn size(rng: &mut Rng) -> usize {
    let s = rng.log_size(MIN, MAX);
    if rng.below(BIG_ONE_IN) == 0 {
        s * BIG_FACTOR
    } else {
        s
    }
}

pub fn run(p: &Params) -> Result<Outcome, String> {
    let threads = p.threads.max(1);
    let steps = p.n(STEPS);
    let transfer: Vec<Mutex<Option<Block>>> = (0..TRANSFERS).map(|_| Mutex::new(None)).collect();
    let transfer = &transfer;
    let mut total = Outcome::default();
    for round in 0..ROUNDS {
        total = total.merge(on_threads(threads, |t| {
            let me = round * threads + t;
            let mut rng = Rng::new(p.seed, me as u64 ^ 0x5752);
            let mut out = Outcome::default();
            let mut live: Vec<Option<Block>> = (0..WORKING_SET).map(|_| None).collect();
            for step in 0..steps {
                // Every decision is drawn up front, independent of what other threads put in
                // the transfer array, so the allocations (and the checksum) are deterministic.
                let (sz, slot, swap, to) = (
                    size(&mut rng),
                    rng.below(WORKING_SET),
                    rng.chance(25),
                    rng.below(TRANSFERS),
                );
                let mut b = Block::new(sz, tag(me, step as u64, sz));
                if p.inject_fault && me == 0 && step == 10 {
                    b.corrupt();
                }
                out.ops += 1;
                out.checksum = out
                    .checksum
                    .wrapping_add(mix(sz as u64 ^ (me as u64) << 40));
                if let Some(old) = live[slot].replace(b) {
                    old.free(WHAT)?;
                }
                if swap {
                    // The mutex hands the block's contents to the thread that takes it next.
                    let mut cell = transfer[to].lock().map_err(|_| "poisoned")?;
                    let got = cell.replace(live[slot].take().expect("just stored"));
                    drop(cell);
                    live[slot] = got;
                }
            }
            for b in live.into_iter().flatten() {
                b.free(WHAT)?;
            }
            Ok(out)
        })?);
    }
    for cell in transfer {
        if let Some(b) = cell.lock().map_err(|_| "poisoned")?.take() {
            b.free(WHAT)?;
        }
    }
    Ok(total)
}
