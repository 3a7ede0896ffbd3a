//! sh8bench-like (after MicroQuill's SmartHeap sh8bench, the reproducer hakmem's ancestor was
//! tuned on): every thread repeatedly allocates a batch of blocks of mixed small sizes, frees
//! every other one at once in LIFO order, and passes the rest to the next thread in a ring,
//! which frees them. Half of all frees are local and LIFO, half are remote.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;

use super::block::Block;
use super::rng::Rng;
use super::{on_threads, tag, Outcome, Params};

const WHAT: &str = "sh8bench";
const BATCH: usize = 1000;
const ROUNDS: usize = 1_800;

type Batch = Vec<Block>;
/// A value one thread takes out once.
type Slot<T> = Mutex<Option<T>>;

pub fn run(p: &Params) -> Result<Outcome, String> {
    let threads = p.threads.max(1);
    let rounds = p.n(ROUNDS);
    // Channel i carries batches from thread i-1 to thread i (capacity bounds the lag; a ring
    // of bounded channels where every thread sends before it receives cannot deadlock).
    // Each thread takes its ends out of the slots, so a thread that quits on a failed check
    // closes its channels and its neighbours stop instead of waiting forever.
    type Ends = (Vec<Slot<SyncSender<Batch>>>, Vec<Slot<Receiver<Batch>>>);
    let (txs, rxs): Ends = (0..threads)
        .map(|_| {
            let (tx, rx) = sync_channel(4);
            (Mutex::new(Some(tx)), Mutex::new(Some(rx)))
        })
        .unzip();
    on_threads(threads, |t| {
        let tx = txs[(t + 1) % threads]
            .lock()
            .unwrap()
            .take()
            .expect("one sender per thread");
        let rx = rxs[t]
            .lock()
            .unwrap()
            .take()
            .expect("one receiver per thread");
        let mut rng = Rng::new(p.seed, t as u64);
        let mut out = Outcome::default();
        let mut seq = 0u64;
        for round in 0..rounds {
            let mut batch = Vec::with_capacity(BATCH);
            for _ in 0..BATCH {
                // Mostly tiny, sometimes up to 2 KiB, as in sh8bench's size mix.
                let size = if rng.chance(90) {
                    rng.range(1, 128)
                } else {
                    rng.range(129, 2048)
                };
                seq += 1;
                batch.push(Block::new(size, tag(t, seq, size)));
                out.checksum = out.checksum.wrapping_add(size as u64);
            }
            out.ops += BATCH as u64;
            if p.inject_fault && t == 0 && round == 0 {
                batch[1].corrupt();
            }
            let mut kept = Vec::with_capacity(BATCH / 2);
            while let Some(b) = batch.pop() {
                if batch.len() % 2 == 0 {
                    b.free(WHAT)?;
                } else {
                    kept.push(b);
                }
            }
            tx.send(kept)
                .map_err(|_| format!("{WHAT}: ring neighbour quit"))?;
            let theirs = rx
                .recv()
                .map_err(|_| format!("{WHAT}: ring neighbour quit"))?;
            for b in theirs {
                b.free(WHAT)?;
            }
        }
        Ok(out)
    })
}
