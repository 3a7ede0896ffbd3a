//! Blocks that cross threads: remote frees, with and without their owner still alive.
//!
//! Claims checked: a block allocated on one thread keeps its contents while it travels through
//! `mpsc` channels and is verified and freed on another thread; this holds when the allocating
//! threads have all exited before any of their blocks is freed (`producers_exit_before_consumers_free`)
//! and when producers, consumers and a second forwarding stage run at once, so blocks are freed
//! by a third thread while the owner is still allocating (`pipeline_with_forwarding`). Every
//! parcel is counted: as many are verified as were sent.
//!
//! Every wait is bounded: channel receives use `recv_timeout`, and a watchdog thread aborts the
//! process with a message if the binary runs for longer than 120 s × `HAKMEM_TEST_SCALE`.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Once, OnceLock};
use std::thread;
use std::time::Duration;

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const KIB: usize = 1024;
/// The longest any receive may wait before the test fails.
const RECV_TIMEOUT: Duration = Duration::from_secs(60);

// ---- shared test helpers (copied in each tests/*.rs binary) ----------------------------------

fn scale() -> usize {
    std::env::var("HAKMEM_TEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(1)
}

/// splitmix64's finaliser: a bijective mix, so distinct ids give distinct patterns.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// xorshift64*: tiny, deterministic, good enough to pick sizes.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        Self(mix(seed) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The fill pattern repeats every `PATTERN_PERIOD` bytes; fills and checks are then `memcpy` and
/// `memcmp` against a table, which keeps multi-MiB blocks cheap in debug builds.
const PATTERN_PERIOD: usize = 64 * KIB;

fn pattern_table() -> &'static [u8] {
    static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut rng = XorShift::new(0x7AB1E);
        (0..2 * PATTERN_PERIOD).map(|_| rng.next() as u8).collect()
    })
}

/// Where `id`'s window starts in the table, and the 8 bytes XORed into the head of its `k`-th
/// period (so equal windows, shifted copies and swapped periods are still told apart).
fn window(id: u64) -> usize {
    (mix(id) % PATTERN_PERIOD as u64) as usize
}
fn stamp(id: u64, k: usize) -> [u8; 8] {
    mix(id ^ (k as u64).rotate_left(40) ^ 0x5EED).to_le_bytes()
}

/// Writes `id`'s pattern over all of `block`.
fn fill(block: &mut [u8], id: u64) {
    let (table, start) = (pattern_table(), window(id));
    for (k, chunk) in block.chunks_mut(PATTERN_PERIOD).enumerate() {
        chunk.copy_from_slice(&table[start..start + chunk.len()]);
        for (b, s) in chunk.iter_mut().zip(stamp(id, k)) {
            *b ^= s;
        }
    }
}

/// The offset of the first byte of `block` that differs from `id`'s pattern.
fn first_mismatch(block: &[u8], id: u64) -> Option<usize> {
    let (table, start) = (pattern_table(), window(id));
    for (k, chunk) in block.chunks(PATTERN_PERIOD).enumerate() {
        let base = k * PATTERN_PERIOD;
        let head = chunk.len().min(8);
        let st = stamp(id, k);
        if let Some(i) = (0..head).find(|&i| chunk[i] != table[start + i] ^ st[i]) {
            return Some(base + i);
        }
        let expected = &table[start + head..start + chunk.len()];
        if expected != &chunk[head..] {
            let i = expected
                .iter()
                .zip(&chunk[head..])
                .position(|(a, b)| a != b);
            return Some(base + head + i.unwrap_or(0));
        }
    }
    None
}

/// Aborts the whole test binary if it is still running after 120 s × scale, so a hang in the
/// allocator (a lost wake-up, a spinning drain) fails the run instead of stalling CI.
fn arm_watchdog() {
    static WATCHDOG: Once = Once::new();
    WATCHDOG.call_once(|| {
        let limit = Duration::from_secs(120 * scale() as u64);
        thread::spawn(move || {
            thread::sleep(limit);
            eprintln!("cross_thread: watchdog fired after {limit:?}; a test is hung");
            std::process::abort();
        });
    });
}

// ---- parcels ---------------------------------------------------------------------------------

/// A page-aligned payload, so over-aligned blocks cross threads too.
#[repr(C, align(4096))]
struct Page([u8; 4096]);

enum Payload {
    Bytes(Vec<u8>),
    Words(Box<[u64]>),
    Page(Box<Page>),
}

/// One heap object with the id its contents were derived from.
struct Parcel {
    id: u64,
    payload: Payload,
}

impl Parcel {
    /// Sizes: mostly small (to 1 KiB), some medium (to 32 KiB), a few large (to 160 KiB).
    fn new(id: u64, rng: &mut XorShift) -> Self {
        let size = match rng.below(20) {
            0..=13 => 1 + rng.below(1024),
            14..=17 => 1025 + rng.below(31 * KIB),
            _ => 32 * KIB + 1 + rng.below(128 * KIB),
        };
        let payload = match rng.below(8) {
            0 => {
                let mut page = Box::new(Page([0; 4096]));
                fill(&mut page.0, id);
                Payload::Page(page)
            }
            1 | 2 => {
                let mut words = vec![0u64; size.div_ceil(8)].into_boxed_slice();
                for (i, w) in words.iter_mut().enumerate() {
                    *w = mix(id ^ (i as u64) << 32);
                }
                Payload::Words(words)
            }
            _ => {
                // Plain `alloc` (not `alloc_zeroed`, which `vec![0; n]` would use), then the pattern.
                #[allow(clippy::slow_vector_initialization)]
                let mut bytes = Vec::with_capacity(size);
                bytes.resize(size, 0);
                fill(&mut bytes, id);
                Payload::Bytes(bytes)
            }
        };
        Parcel { id, payload }
    }

    /// Panics if the contents no longer match the id; returns the payload's size in bytes.
    fn verify(&self, where_: &str) -> usize {
        let (bad, len) = match &self.payload {
            Payload::Bytes(b) => (first_mismatch(b, self.id), b.len()),
            Payload::Page(p) => {
                assert_eq!(&p.0 as *const _ as usize % 4096, 0, "Box<Page> misaligned");
                (first_mismatch(&p.0, self.id), 4096)
            }
            Payload::Words(w) => (
                w.iter()
                    .enumerate()
                    .position(|(i, &x)| x != mix(self.id ^ (i as u64) << 32))
                    .map(|i| i * 8),
                w.len() * 8,
            ),
        };
        if let Some(off) = bad {
            panic!(
                "parcel {} ({len} bytes) corrupted at byte {off} {where_}",
                self.id
            );
        }
        len
    }
}

/// Receives until every sender is gone; a quiet channel for `RECV_TIMEOUT` fails the test.
fn drain<T>(rx: &Receiver<T>, who: &str, mut each: impl FnMut(T)) {
    loop {
        match rx.recv_timeout(RECV_TIMEOUT) {
            Ok(item) => each(item),
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                panic!("{who}: nothing received for {RECV_TIMEOUT:?}")
            }
        }
    }
}

fn join<T>(handle: thread::JoinHandle<T>, who: &str) -> T {
    handle.join().unwrap_or_else(|_| panic!("{who} panicked"))
}

// ---- tests -----------------------------------------------------------------------------------

#[test]
fn producers_exit_before_consumers_free() {
    arm_watchdog();
    const PRODUCERS: usize = 4;
    const CONSUMERS: usize = 3;
    let per_producer = 600 * scale();
    for round in 0..3 {
        let (txs, rxs): (Vec<Sender<Parcel>>, Vec<Receiver<Parcel>>) =
            (0..CONSUMERS).map(|_| mpsc::channel()).unzip();
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let txs = txs.clone();
                thread::spawn(move || {
                    let mut rng = XorShift::new((round * PRODUCERS + p) as u64);
                    for j in 0..per_producer {
                        let id = ((round * PRODUCERS + p) as u64) << 32 | j as u64;
                        txs[j % CONSUMERS].send(Parcel::new(id, &mut rng)).unwrap();
                    }
                })
            })
            .collect();
        drop(txs);
        // Every producer has exited before a single one of its blocks is freed.
        for (p, h) in producers.into_iter().enumerate() {
            join(h, &format!("producer {p}"));
        }
        let consumers: Vec<_> = rxs
            .into_iter()
            .enumerate()
            .map(|(c, rx)| {
                thread::spawn(move || {
                    let mut count = 0;
                    drain(&rx, &format!("consumer {c}"), |parcel: Parcel| {
                        parcel.verify("after its producer exited");
                        count += 1;
                    });
                    count
                })
            })
            .collect();
        let received: usize = consumers
            .into_iter()
            .enumerate()
            .map(|(c, h)| join(h, &format!("consumer {c}")))
            .sum();
        assert_eq!(
            received,
            PRODUCERS * per_producer,
            "parcels lost in round {round}"
        );
        hakmem::collect();
    }
}

#[test]
fn pipeline_with_forwarding() {
    arm_watchdog();
    const PRODUCERS: usize = 3;
    const STAGE1: usize = 2;
    let per_producer = 1500 * scale();
    for round in 0..2 {
        let (final_tx, final_rx) = mpsc::channel::<Parcel>();
        let (txs, rxs): (Vec<Sender<Parcel>>, Vec<Receiver<Parcel>>) =
            (0..STAGE1).map(|_| mpsc::channel()).unzip();
        // Stage 1 verifies everything, frees even ids and forwards odd ones to stage 2.
        let stage1: Vec<_> = rxs
            .into_iter()
            .enumerate()
            .map(|(s, rx)| {
                let final_tx = final_tx.clone();
                thread::spawn(move || {
                    let (mut freed, mut forwarded) = (0, 0);
                    drain(&rx, &format!("stage-1 thread {s}"), |parcel: Parcel| {
                        parcel.verify("in stage 1");
                        if parcel.id % 2 == 0 {
                            freed += 1;
                        } else {
                            forwarded += 1;
                            final_tx.send(parcel).unwrap();
                        }
                    });
                    (freed, forwarded)
                })
            })
            .collect();
        drop(final_tx);
        let stage2 = thread::spawn(move || {
            let mut count = 0;
            drain(&final_rx, "stage-2 thread", |parcel: Parcel| {
                parcel.verify("in stage 2");
                count += 1;
            });
            count
        });
        // Producers also keep a rolling set of their own parcels and free them locally, so local
        // and remote frees land in the same slabs while the producer is alive.
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let txs = txs.clone();
                thread::spawn(move || {
                    let mut rng = XorShift::new(1000 + (round * PRODUCERS + p) as u64);
                    let mut kept: Vec<Parcel> = Vec::new();
                    let mut sent = 0;
                    for j in 0..per_producer {
                        let id = ((round * PRODUCERS + p) as u64) << 32 | j as u64;
                        let parcel = Parcel::new(id, &mut rng);
                        if rng.below(3) == 0 {
                            kept.push(parcel);
                            if kept.len() > 64 {
                                kept.swap_remove(rng.below(kept.len()))
                                    .verify("kept locally");
                            }
                        } else {
                            txs[j % STAGE1].send(parcel).unwrap();
                            sent += 1;
                        }
                    }
                    for parcel in kept {
                        parcel.verify("kept locally");
                    }
                    sent
                })
            })
            .collect();
        drop(txs);
        let sent: usize = producers
            .into_iter()
            .enumerate()
            .map(|(p, h)| join(h, &format!("producer {p}")))
            .sum();
        let (freed, forwarded) = stage1
            .into_iter()
            .enumerate()
            .map(|(s, h)| join(h, &format!("stage-1 thread {s}")))
            .fold((0, 0), |(a, b), (f, w)| (a + f, b + w));
        let finished = join(stage2, "stage-2 thread");
        assert_eq!(
            freed + forwarded,
            sent,
            "stage 1 lost parcels in round {round}"
        );
        assert_eq!(finished, forwarded, "stage 2 lost parcels in round {round}");
        assert!(forwarded > 0 && freed > 0, "both stages must have had work");
    }
}
