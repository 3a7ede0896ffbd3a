//! larson-like (after Larson & Krishnan's server simulation): each thread owns an array of
//! slots holding blocks of random size (8–1000 bytes) and repeatedly frees a random slot and
//! allocates a new block into it. Threads live for a while, then exit and hand their array
//! to a new thread of the next generation, so blocks outlive the thread that allocated them
//! and are freed by another one (the long-running server pattern).

use super::block::Block;
use super::rng::Rng;
use super::{on_threads, tag, Outcome, Params};
use std::sync::Mutex;

const WHAT: &str = "larson";
const SLOTS: usize = 1000;
const MIN: usize = 8;
const MAX: usize = 1000;
const GENERATIONS: usize = 60;
const REPLACES: usize = 60_000;

pub fn run(p: &Params) -> Result<Outcome, String> {
    let threads = p.threads.max(1);
    let generations = p.n(GENERATIONS).max(2);
    let mut out = Outcome::default();
    // The main thread fills the first arrays, as larson's main does.
    let mut rng = Rng::new(p.seed, 1 << 20);
    let mut arrays: Vec<Vec<Block>> = (0..threads)
        .map(|t| {
            (0..SLOTS)
                .map(|i| {
                    let size = rng.range(MIN, MAX);
                    out.checksum = out.checksum.wrapping_add(size as u64);
                    Block::new(size, tag(usize::MAX >> 16, (t * SLOTS + i) as u64, size))
                })
                .collect()
        })
        .collect();
    out.ops += (threads * SLOTS) as u64;
    for generation in 0..generations {
        // Thread t of this generation inherits the array of thread t+1 of the previous one.
        arrays.rotate_left(1);
        let slots: Vec<Mutex<Vec<Block>>> = arrays.drain(..).map(Mutex::new).collect();
        let gen_out = on_threads(threads, |t| {
            let mut array = std::mem::take(&mut *slots[t].lock().unwrap());
            let me = generation * threads + t;
            let mut rng = Rng::new(p.seed, me as u64);
            let mut o = Outcome::default();
            for i in 0..REPLACES {
                let slot = rng.below(SLOTS);
                let size = rng.range(MIN, MAX);
                let new = Block::new(size, tag(me, i as u64, size));
                std::mem::replace(&mut array[slot], new).free(WHAT)?;
                o.checksum = o.checksum.wrapping_add(size as u64);
            }
            o.ops += REPLACES as u64;
            if p.inject_fault && generation == 0 && t == 0 {
                array[0].corrupt();
            }
            *slots[t].lock().unwrap() = array;
            Ok(o)
        })?;
        out = out.merge(gen_out);
        arrays = slots.into_iter().map(|m| m.into_inner().unwrap()).collect();
    }
    for array in arrays {
        for b in array {
            b.free(WHAT)?;
        }
    }
    Ok(out)
}
