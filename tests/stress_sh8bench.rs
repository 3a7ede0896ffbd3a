//! sh8bench-like stress: twice as many threads as cores, each allocating batches of mixed tiny
//! (1–64 bytes) and small (65 bytes–4 KiB) blocks, freeing them in varying orders (allocation
//! order, reverse, shuffled) and passing every fourth block to the next thread, which frees it.
//!
//! Claims checked: every block holds its id's pattern when it is freed, on its own thread or on
//! another (`TestBlock` verifies on drop); every block handed over is received and freed (the
//! counts match); nothing hangs (watchdog: 120 s × `HAKMEM_TEST_SCALE`; every receive is
//! bounded). Scale: 50 rounds of 200 blocks per thread, times `HAKMEM_TEST_SCALE`.

mod common;

use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use common::{arm_watchdog, cores, scale, TestBlock, XorShift};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const BATCH: usize = 200;
const ROUNDS: usize = 50;
const RECV_TIMEOUT: Duration = Duration::from_secs(60);

fn size(rng: &mut XorShift) -> usize {
    if rng.chance(7, 10) {
        1 + rng.below(64)
    } else {
        65 + rng.below(4096 - 64)
    }
}

fn align(rng: &mut XorShift) -> usize {
    if rng.chance(1, 8) {
        1 << (4 + rng.below(5)) // 16..=256
    } else {
        1 << rng.below(4) // 1..=8
    }
}

/// Frees whatever other threads passed to us so far; returns how many.
fn drain_inbox(inbox: &Receiver<TestBlock>) -> usize {
    inbox.try_iter().map(drop).count()
}

fn worker(
    me: usize,
    rounds: usize,
    inbox: Receiver<TestBlock>,
    next: mpsc::Sender<TestBlock>,
) -> (usize, usize) {
    let mut rng = XorShift::new(0x5_8BE0 + me as u64);
    let (mut sent, mut received) = (0, 0);
    for round in 0..rounds {
        let base = ((me * rounds + round) * BATCH) as u64;
        let mut batch: Vec<TestBlock> = (0..BATCH)
            .map(|i| {
                let (size, align) = (size(&mut rng), align(&mut rng));
                TestBlock::new(size, align, base + i as u64)
            })
            .collect();
        match round % 3 {
            0 => {}
            1 => batch.reverse(),
            _ => {
                for i in (1..batch.len()).rev() {
                    batch.swap(i, rng.below(i + 1));
                }
            }
        }
        for (i, b) in batch.into_iter().enumerate() {
            if i % 4 == 3 {
                next.send(b).expect("next thread's inbox closed early");
                sent += 1;
            } else {
                drop(b);
            }
        }
        received += drain_inbox(&inbox);
    }
    drop(next);
    // The previous thread closes our inbox when it is done; until then, keep freeing.
    loop {
        match inbox.recv_timeout(RECV_TIMEOUT) {
            Ok(b) => {
                drop(b);
                received += 1;
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => panic!("thread {me}: inbox stalled"),
        }
    }
    (sent, received)
}

#[test]
fn mixed_batches_freed_in_varying_orders_and_by_other_threads() {
    arm_watchdog("stress_sh8bench", 120);
    let threads = 2 * cores();
    let rounds = ROUNDS * scale();
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..threads).map(|_| mpsc::channel()).unzip();
    let handles: Vec<_> = receivers
        .into_iter()
        .enumerate()
        .map(|(me, inbox)| {
            let next = senders[(me + 1) % threads].clone();
            thread::spawn(move || worker(me, rounds, inbox, next))
        })
        .collect();
    drop(senders);
    let (mut sent, mut received) = (0, 0);
    for h in handles {
        let (s, r) = h.join().expect("worker panicked");
        sent += s;
        received += r;
    }
    assert_eq!(sent, received, "blocks handed over but never freed");
    assert_eq!(sent, threads * rounds * BATCH / 4);
    hakmem::collect();
}
