//! cache-scratch-like (after Berger et al.'s cache-scratch from the Hoard suite): the main
//! thread allocates one small object per thread, back to back, and hands them out; each thread
//! frees its object, then repeatedly allocates an object of the same size, writes it many
//! times and frees it. An allocator that gives a thread memory from a cache line another
//! thread also writes ("passive false sharing", e.g. by reusing the freed neighbour object)
//! makes the writes slow.

use std::sync::Mutex;

use super::block::Block;
use super::{on_threads, tag, Outcome, Params};

const WHAT: &str = "cache-scratch";
const OBJ_SIZE: usize = 8;
const ITERATIONS: usize = 2_000;
const WRITES: usize = 40_000;

pub fn run(p: &Params) -> Result<Outcome, String> {
    let threads = p.threads.max(1);
    let iterations = p.n(ITERATIONS);
    let first: Vec<Mutex<Option<Block>>> = (0..threads)
        .map(|t| Mutex::new(Some(Block::new(OBJ_SIZE, tag(t, 0, OBJ_SIZE)))))
        .collect();
    on_threads(threads, |t| {
        let given = first[t]
            .lock()
            .unwrap()
            .take()
            .expect("one object per thread");
        given.free(WHAT)?;
        let mut out = Outcome {
            ops: iterations as u64,
            checksum: 0,
        };
        for i in 0..iterations {
            let mut obj = Block::new(OBJ_SIZE, tag(t, i as u64 + 1, OBJ_SIZE));
            let ptr = obj.as_mut_ptr();
            for k in 0..OBJ_SIZE {
                // SAFETY: k < OBJ_SIZE, inside the live object this thread owns.
                unsafe { ptr.add(k).write_volatile(0) };
            }
            for _ in 0..WRITES {
                for k in 0..OBJ_SIZE {
                    // SAFETY: as above; volatile so that every write reaches the cache line.
                    unsafe {
                        ptr.add(k)
                            .write_volatile(ptr.add(k).read_volatile().wrapping_add(1))
                    };
                }
            }
            if p.inject_fault && t == 0 && i == 0 {
                // SAFETY: byte 0 of the live object.
                unsafe { ptr.write_volatile(ptr.read_volatile() ^ 1) };
            }
            let want = WRITES as u8;
            for k in 0..OBJ_SIZE {
                // SAFETY: as above.
                let got = unsafe { ptr.add(k).read_volatile() };
                if got != want {
                    return Err(format!(
                        "{WHAT}: byte {k} of object {:#x} is {got}, expected {want}",
                        obj.addr()
                    ));
                }
                out.checksum = out.checksum.wrapping_add(got as u64);
            }
            // The writes replaced the stamp; free without checking it (the bytes were checked).
            drop(obj);
        }
        Ok(out)
    })
}
