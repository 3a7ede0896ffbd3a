//! Thread churn with remote frees in flight: owners exit while other threads still hold, and then
//! free, blocks of their slabs; the next generation of threads adopts those slabs.
//!
//! Each round spawns producers that allocate blocks of mixed classes and hand them to one
//! long-lived consumer thread: half to be freed at once (remote frees while the producer is still
//! allocating), half to be held until the round's producers have exited (remote frees into slabs
//! whose owner is gone — published, then adopted by the next round's producers or reclaimed). The
//! next round starts while the consumer is still freeing the held blocks, so adopters allocate
//! from slabs that receive remote frees at the same moment.
//!
//! Claims checked: the structural validator (`hakmem::testing::debug_check`) finds the
//! consumer's and the main thread's heaps sound at the end; every block holds its id's pattern when the consumer frees it (an adopted slab
//! that handed out a block still in flight, or lost a remote free, shows up as a corrupted or
//! reused block); every block sent is freed (counts match); with `stats` on, slabs were published
//! and — when adoption is on — adopted; nothing hangs (watchdog 120 s × `HAKMEM_TEST_SCALE`, every
//! receive bounded). Scale: 30 rounds of 2 × cores producers with 400 blocks each, rounds times
//! `HAKMEM_TEST_SCALE`.

mod support;

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use support::pattern::TestBlock;
use support::{arm_watchdog, cores, scale, Rng};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const ROUNDS: usize = 30;
const BLOCKS_PER_PRODUCER: usize = 400;
const RECV_TIMEOUT: Duration = Duration::from_secs(60);

enum Msg {
    /// Free now.
    Free(TestBlock),
    /// Free once the round's producers have exited.
    Hold(TestBlock),
    /// The round's producers have all exited.
    RoundDone,
}

fn producer(seed: u64, first_id: u64, to_consumer: mpsc::Sender<Msg>) {
    let mut rng = Rng::new(seed, 0);
    let mut kept = Vec::new();
    for i in 0..BLOCKS_PER_PRODUCER {
        let size = match rng.below(10) {
            0..=5 => 1 + rng.below(128),
            6..=8 => 129 + rng.below(2048),
            _ => 2177 + rng.below(30 * 1024),
        };
        let b = TestBlock::new(size, 8, first_id + i as u64);
        let msg = match i % 5 {
            0 | 1 => Msg::Free(b),
            2 | 3 => Msg::Hold(b),
            _ => {
                kept.push(b);
                continue;
            }
        };
        to_consumer.send(msg).expect("consumer gone");
    }
    drop(kept); // local frees, then the thread exits with blocks of its slabs still out
}

/// Frees what it receives; returns (freed at once, freed after the round).
fn consumer(rx: mpsc::Receiver<Msg>) -> (usize, usize) {
    let (mut now, mut later) = (0, 0);
    let mut held = Vec::new();
    loop {
        match rx.recv_timeout(RECV_TIMEOUT) {
            Ok(Msg::Free(b)) => {
                drop(b);
                now += 1;
            }
            Ok(Msg::Hold(b)) => held.push(b),
            Ok(Msg::RoundDone) => {
                // Remote frees into slabs whose owner exited, racing with the next round.
                later += held.len();
                for (i, b) in held.drain(..).enumerate() {
                    drop(b);
                    if i % 64 == 63 {
                        thread::yield_now();
                    }
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => panic!("consumer stalled"),
        }
    }
    later += held.len();
    drop(held);
    // The structural validator over the consumer's heap, which took every remote free.
    hakmem::testing::debug_check();
    (now, later)
}

#[test]
fn owners_exit_with_remote_frees_in_flight() {
    arm_watchdog("stress_churn", 120);
    let before = hakmem::stats();
    let (tx, rx) = mpsc::channel();
    let consumer = thread::spawn(move || consumer(rx));
    let producers = 2 * cores();
    let rounds = ROUNDS * scale();
    for round in 0..rounds {
        let handles: Vec<_> = (0..producers)
            .map(|p| {
                let tx = tx.clone();
                let n = (round * producers + p) as u64;
                thread::spawn(move || producer(0xC4_0000 + n, n * BLOCKS_PER_PRODUCER as u64, tx))
            })
            .collect();
        for h in handles {
            h.join().expect("producer panicked");
        }
        tx.send(Msg::RoundDone).expect("consumer gone");
    }
    drop(tx);
    let (now, later) = consumer.join().expect("consumer panicked");
    let sent = rounds * producers * BLOCKS_PER_PRODUCER * 4 / 5;
    assert_eq!(now + later, sent, "blocks sent and freed differ");
    hakmem::collect();
    hakmem::testing::debug_check();

    let after = hakmem::stats();
    eprintln!(
        "stress_churn: publishes {} adopts {} reclaims {} remote frees {} notifications {}",
        after.publishes - before.publishes,
        after.adopts - before.adopts,
        after.reclaims - before.reclaims,
        after.remote_frees - before.remote_frees,
        after.notifications - before.notifications,
    );
    if cfg!(feature = "stats") {
        assert!(after.publishes > before.publishes, "no slab was published");
        assert!(after.remote_frees > before.remote_frees, "no remote free");
        if hakmem::switches().adopt {
            assert!(
                after.adopts > before.adopts,
                "no published slab was adopted"
            );
        }
    }
}
