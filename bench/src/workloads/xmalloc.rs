//! xmalloc-like (after Lever & Boreham's xmalloc-test): producer threads allocate blocks and
//! pass them in batches to consumer threads, which check and free them. Every free is remote,
//! which is the worst case for allocators that keep per-thread heaps.

use std::sync::mpsc::sync_channel;

use super::block::Block;
use super::rng::Rng;
use super::{tag, Outcome, Params};

const WHAT: &str = "xmalloc";
const BATCH: usize = 128;
const BLOCKS_PER_PAIR: usize = 2_000_000;

pub fn run(p: &Params) -> Result<Outcome, String> {
    // threads/2 producer–consumer pairs, at least one pair (2 threads).
    let pairs = (p.threads / 2).max(1);
    let batches = p.n(BLOCKS_PER_PAIR / pairs) / BATCH + 1;
    std::thread::scope(|s| {
        let mut producers = Vec::new();
        let mut consumers = Vec::new();
        for pair in 0..pairs {
            let (tx, rx) = sync_channel::<Vec<Block>>(16);
            producers.push(s.spawn(move || {
                let mut rng = Rng::new(p.seed, pair as u64);
                let mut out = Outcome::default();
                let mut seq = 0u64;
                for b in 0..batches {
                    let mut batch = Vec::with_capacity(BATCH);
                    for _ in 0..BATCH {
                        let size = rng.log_size(8, 512);
                        seq += 1;
                        batch.push(Block::new(size, tag(pair, seq, size)));
                        out.checksum = out.checksum.wrapping_add(size as u64);
                    }
                    if p.inject_fault && pair == 0 && b == 0 {
                        batch[7].corrupt();
                    }
                    out.ops += BATCH as u64;
                    if tx.send(batch).is_err() {
                        break; // the consumer quit on a failed check; it reports the error
                    }
                }
                out
            }));
            consumers.push(s.spawn(move || -> Result<(), String> {
                for batch in rx {
                    for b in batch {
                        b.free(WHAT)?;
                    }
                }
                Ok(())
            }));
        }
        let mut total = Outcome::default();
        for h in producers {
            total = total.merge(h.join().map_err(|_| format!("{WHAT}: producer panicked"))?);
        }
        for h in consumers {
            h.join()
                .map_err(|_| format!("{WHAT}: consumer panicked"))??;
        }
        Ok(total)
    })
}
