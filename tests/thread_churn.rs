//! 1,000 short-lived threads: the memory of exited threads is reclaimed and reused.
//!
//! Each thread allocates ~200 KiB in mixed small sizes, frees half of its blocks itself and hands
//! the other half to a long-lived collector thread, which frees them later (after it has received
//! up to 64 more batches), i.e. after their owner has exited. Threads run in waves of 25.
//!
//! Claims checked (single #[test], so no other test disturbs the resident set):
//! - every block keeps its contents until it is freed (pattern derived from its id);
//! - after a warm-up, the workload (~200 MiB allocated in total) + all frees + `hakmem::collect()`
//!   grows RSS by less than 64 MiB and by less than a third of what was allocated: slabs left by
//!   exited threads must be reused or returned, not leaked;
//! - a second identical run grows RSS by less than 16 MiB over the first: the memory is reusable.
//!
//! `HAKMEM_TEST_SCALE` (default 1) multiplies the number of threads. Every wait is bounded by a
//! watchdog that aborts the process after 120 s × scale.

#![cfg(target_os = "linux")]

mod support;

use std::collections::VecDeque;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;
use support::pattern::TestBlock;
use support::{arm_watchdog, scale, Rng, KIB, MIB};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

/// Threads per run (× scale), threads alive at once, bytes each thread allocates.
const THREADS: usize = 1000;
const WAVE: usize = 25;
const BYTES_PER_THREAD: usize = 200 * KIB;
/// Batches the collector holds before freeing the oldest.
const COLLECTOR_HOLD: usize = 64;
/// RSS bounds (see the crate doc).
const RUN_GROWTH_LIMIT: usize = 64 * MIB;
const REUSE_GROWTH_LIMIT: usize = 16 * MIB;

/// Resident set size in bytes, from /proc/self/statm.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("parse /proc/self/statm");
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * usize::try_from(page).unwrap_or(4096)
}

/// One short-lived thread's work: allocate ~`BYTES_PER_THREAD` in mixed small sizes, free every
/// other block here and return the rest for the collector.
fn churn(thread_no: usize, run: usize) -> (Vec<TestBlock>, usize) {
    let mut rng = Rng::new((run * 1_000_000 + thread_no) as u64, 0);
    let mut blocks = Vec::new();
    let mut total = 0;
    while total < BYTES_PER_THREAD {
        let size = match rng.below(4) {
            0 => 1 + rng.below(256),
            1 | 2 => 1 + rng.below(2048),
            _ => 2049 + rng.below(6 * KIB),
        };
        let id = ((run * 1_000_000 + thread_no) as u64) << 24 | blocks.len() as u64;
        blocks.push(TestBlock::new(size, 1, id));
        total += size;
    }
    let (mut handed, mut kept) = (Vec::new(), Vec::new());
    for (i, block) in blocks.into_iter().enumerate() {
        if i % 2 == 0 { &mut handed } else { &mut kept }.push(block);
    }
    for block in kept.into_iter().rev() {
        block.verify("before its owner freed it");
    }
    (handed, total)
}

/// Runs `threads` short-lived threads in waves; returns the bytes they allocated in total.
fn workload(threads: usize, run: usize) -> usize {
    let (tx, rx) = mpsc::channel::<Vec<TestBlock>>();
    let collector = thread::spawn(move || {
        let mut held: VecDeque<Vec<TestBlock>> = VecDeque::new();
        let mut freed = 0usize;
        let mut free_batch = |batch: Vec<TestBlock>| {
            for block in batch {
                block.verify("in the collector, after its owner exited");
                freed += 1;
            }
        };
        loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(batch) => {
                    held.push_back(batch);
                    if held.len() > COLLECTOR_HOLD {
                        free_batch(held.pop_front().unwrap());
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("collector: no batch for 60 s"),
            }
        }
        held.into_iter().for_each(&mut free_batch);
        freed
    });
    let mut allocated = 0;
    let mut handed_blocks = 0;
    for wave_start in (0..threads).step_by(WAVE) {
        let wave: Vec<_> = (wave_start..threads.min(wave_start + WAVE))
            .map(|t| {
                let tx = tx.clone();
                thread::spawn(move || {
                    let (handed, total) = churn(t, run);
                    let n = handed.len();
                    tx.send(handed).expect("collector gone");
                    (n, total)
                })
            })
            .collect();
        for handle in wave {
            let (n, total) = handle.join().expect("churn thread panicked");
            handed_blocks += n;
            allocated += total;
        }
    }
    drop(tx);
    let freed = collector.join().expect("collector panicked");
    assert_eq!(freed, handed_blocks, "the collector lost blocks");
    allocated
}

#[test]
fn thousand_short_lived_threads_do_not_leak() {
    arm_watchdog("thread_churn", 120);
    let threads = THREADS * scale();

    workload(4 * WAVE, 0);
    hakmem::collect();
    let baseline = rss();

    let allocated = workload(threads, 1);
    hakmem::collect();
    let after_first = rss();

    let allocated_again = workload(threads, 2);
    hakmem::collect();
    let after_second = rss();

    let mib = |b: usize| b as f64 / MIB as f64;
    eprintln!(
        "thread_churn: {threads} threads/run, {:.0} MiB allocated/run; RSS baseline {:.1} MiB, \
         after run 1 {:.1} MiB, after run 2 {:.1} MiB",
        mib(allocated),
        mib(baseline),
        mib(after_first),
        mib(after_second)
    );
    assert!(allocated.min(allocated_again) >= threads * BYTES_PER_THREAD);
    let growth = after_first.saturating_sub(baseline);
    let limit = RUN_GROWTH_LIMIT.min(allocated / 3);
    assert!(
        growth < limit,
        "RSS grew by {:.1} MiB over the warm-up baseline after {threads} threads allocated {:.0} MiB \
         (limit {:.1} MiB): memory of exited threads is not reclaimed",
        mib(growth),
        mib(allocated),
        mib(limit)
    );
    let regrowth = after_second.saturating_sub(after_first);
    assert!(
        regrowth < REUSE_GROWTH_LIMIT,
        "RSS grew by another {:.1} MiB when the workload ran again (limit {:.1} MiB): \
         reclaimed memory is not reused",
        mib(regrowth),
        mib(REUSE_GROWTH_LIMIT)
    );
}
