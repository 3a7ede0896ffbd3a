//! rptest-like (after the benchmark that ships with rpmalloc): each thread keeps a working set
//! of blocks with sizes skewed towards small, and in every loop frees and reallocates a random
//! run of its slots; every few loops it hands a batch of its blocks to the next thread, which
//! frees them, so a steady share of frees is cross-thread.
//!
//! The mailboxes are unbounded and nobody waits on them: while one thread is descheduled the
//! other keeps handing it batches, so the peak of live blocks (and every allocator's peak RSS)
//! follows how far one thread runs ahead — 350 to 6,400 batches waiting in one run on the 2-core
//! host (docs/benchmarks.md, session 16, rows19).

use std::sync::Mutex;

use super::block::Block;
use super::rng::Rng;
use super::{on_threads, tag, Outcome, Params};

const WHAT: &str = "rptest";
const WORKING_SET: usize = 4000;
const LOOPS: usize = 36_000;
const RUN: usize = 64;
const HANDOFF_EVERY: usize = 4;
const HANDOFF: usize = 32;

fn size(rng: &mut Rng) -> usize {
    match rng.below(100) {
        0 => rng.range(4097, 32 << 10),
        1..=9 => rng.range(257, 4096),
        _ => rng.range(16, 256),
    }
}

pub fn run(p: &Params) -> Result<Outcome, String> {
    let threads = p.threads.max(1);
    let loops = p.n(LOOPS);
    // mailbox[t]: batches other threads handed to thread t. Never waited on, so no deadlock.
    let mailbox: Vec<Mutex<Vec<Vec<Block>>>> =
        (0..threads).map(|_| Mutex::new(Vec::new())).collect();
    let barrier = std::sync::Barrier::new(threads);
    on_threads(threads, |t| {
        let mut rng = Rng::new(p.seed, t as u64);
        let mut out = Outcome::default();
        let mut seq = 0u64;
        let mut new_block = |rng: &mut Rng, out: &mut Outcome| {
            let s = size(rng);
            seq += 1;
            out.ops += 1;
            out.checksum = out.checksum.wrapping_add(s as u64);
            Block::new(s, tag(t, seq, s))
        };
        let mut set: Vec<Block> = (0..WORKING_SET)
            .map(|_| new_block(&mut rng, &mut out))
            .collect();
        let mut result = Ok(());
        for l in 0..loops {
            let start = rng.below(WORKING_SET - RUN);
            for slot in &mut set[start..start + RUN] {
                let b = std::mem::replace(slot, new_block(&mut rng, &mut out));
                if let Err(e) = b.free(WHAT) {
                    result = Err(e);
                }
            }
            if l % HANDOFF_EVERY == 0 {
                let start = rng.below(WORKING_SET - HANDOFF);
                let mut batch = Vec::with_capacity(HANDOFF);
                for slot in &mut set[start..start + HANDOFF] {
                    batch.push(std::mem::replace(slot, new_block(&mut rng, &mut out)));
                }
                if p.inject_fault && t == 0 && l == 0 {
                    batch[0].corrupt();
                }
                mailbox[(t + 1) % threads].lock().unwrap().push(batch);
                let mine = std::mem::take(&mut *mailbox[t].lock().unwrap());
                for b in mine.into_iter().flatten() {
                    if let Err(e) = b.free(WHAT) {
                        result = Err(e);
                    }
                }
            }
            if result.is_err() {
                break;
            }
        }
        // Every thread must see the others' last hand-offs: wait for all, then drain.
        barrier.wait();
        let mine = std::mem::take(&mut *mailbox[t].lock().unwrap());
        for b in mine.into_iter().flatten().chain(set) {
            if let Err(e) = b.free(WHAT) {
                result = Err(e);
            }
        }
        result.map(|()| out)
    })
}
