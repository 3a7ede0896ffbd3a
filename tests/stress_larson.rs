//! larson-like stress: a server simulation. Threads replace random slots of a shared array with
//! fresh blocks and free what they took out, so most blocks are freed by a thread other than the
//! one that allocated them — often after that thread has exited, because the threads are replaced
//! by new ones every round while their blocks stay in the array.
//!
//! Claims checked: every block holds its id's pattern when it is taken out and freed (`TestBlock`
//! verifies on drop), whichever thread frees it and whether or not its allocating thread is
//! alive; the number of blocks allocated equals the number freed; nothing hangs (watchdog:
//! 120 s × `HAKMEM_TEST_SCALE`). Scale: 20 rounds of 2 × cores threads doing 3,000 replacements
//! each over 1,000 slots, rounds times `HAKMEM_TEST_SCALE`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use common::{arm_watchdog, cores, scale, TestBlock, XorShift};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const SLOTS: usize = 1000;
const ROUNDS: usize = 20;
const OPS_PER_THREAD: usize = 3000;
/// larson's block sizes: 8 to 512 bytes, here with odd sizes too.
const MIN_SIZE: usize = 8;
const MAX_SIZE: usize = 512;

struct Server {
    slots: Vec<Mutex<Option<TestBlock>>>,
    allocated: AtomicUsize,
    freed: AtomicUsize,
}

fn client(server: &Server, seed: u64, first_id: u64) {
    let mut rng = XorShift::new(seed);
    for i in 0..OPS_PER_THREAD {
        let size = MIN_SIZE + rng.below(MAX_SIZE - MIN_SIZE + 1);
        let fresh = TestBlock::new(size, 8, first_id + i as u64);
        server.allocated.fetch_add(1, Ordering::Relaxed);
        let slot = &server.slots[rng.below(SLOTS)];
        let old = slot.lock().expect("slot lock").replace(fresh);
        if let Some(old) = old {
            drop(old); // verified, then freed — usually a block of another (maybe exited) thread
            server.freed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[test]
fn threads_replaced_in_rounds_free_each_others_blocks() {
    arm_watchdog("stress_larson", 120);
    let server = Arc::new(Server {
        slots: (0..SLOTS).map(|_| Mutex::new(None)).collect(),
        allocated: AtomicUsize::new(0),
        freed: AtomicUsize::new(0),
    });
    let threads = 2 * cores();
    let rounds = ROUNDS * scale();
    for round in 0..rounds {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let server = server.clone();
                let n = (round * threads + t) as u64;
                thread::spawn(move || client(&server, 0x1A_4500 + n, n * OPS_PER_THREAD as u64))
            })
            .collect();
        for h in handles {
            h.join().expect("client panicked");
        }
    }
    // The main thread frees what is left, every block's allocating thread having exited.
    for slot in &server.slots {
        if slot.lock().expect("slot lock").take().is_some() {
            server.freed.fetch_add(1, Ordering::Relaxed);
        }
    }
    assert_eq!(
        server.allocated.load(Ordering::Relaxed),
        server.freed.load(Ordering::Relaxed),
        "blocks allocated and freed differ"
    );
    hakmem::collect();
}
