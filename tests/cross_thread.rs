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

mod support;

use std::collections::HashSet;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};

use std::thread;
use std::time::Duration;
use support::pattern::{fill, first_mismatch};
use support::{arm_watchdog, mix, scale, Rng, KIB};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

/// The longest any receive may wait before the test fails.
const RECV_TIMEOUT: Duration = Duration::from_secs(60);

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
    fn new(id: u64, rng: &mut Rng) -> Self {
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

/// The SuperSlab and slab index of small block `p`.
fn slab_of(p: usize) -> (usize, usize) {
    let i = hakmem::testing::block_info(p as *const u8).expect("a small block");
    (i.superslab, i.slab)
}

/// One block of `layout` from the global allocator (the caller frees it once).
fn alloc_block(layout: std::alloc::Layout) -> usize {
    // SAFETY: non-zero size (every caller's layout); the caller frees the block once.
    let p = unsafe { std::alloc::alloc(layout) } as usize;
    assert_ne!(p, 0, "allocation failed");
    p
}

/// Allocates blocks of `layout` until one lies in a slab without the "release wanted" mark (a
/// slab this thread bound itself; one its refill adopted from an exited thread keeps the mark
/// while current, and a freer keeps none of its blocks), and returns it; the blocks passed over
/// go to `aside`, live, for the caller to free.
fn block_of_unmarked_slab(layout: std::alloc::Layout, aside: &mut Vec<usize>) -> usize {
    loop {
        let p = alloc_block(layout);
        if hakmem::testing::slab_release_wanted(p as *const u8) == Some(false) {
            return p;
        }
        aside.push(p);
        assert!(aside.len() < 1 << 20, "a slab without the release mark");
    }
}

/// The tests of this file run one at a time: `full_slab_comes_back_through_its_notification`
/// counts on its owner's refills finding no slab of its class but its own. A notified slab whose
/// blocks all came back is released to the pool and taken again from there, and slabs the other
/// tests' exiting threads release at the same time can come first (seen once in CI's feature
/// matrix, row `medium,headerless,force-notify`, and in ~1 of 100 runs of the whole file with two
/// copies running at once: "0 of 1365 came back"; 0 of 80 with the test alone).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Leaves published slabs of `size`'s class that refills adopt: a thread allocates `count`
/// blocks, then frees every other one itself and exits holding the rest, so its slabs are published
/// with free blocks (an earlier test's exited threads may leave such slabs too, and the test
/// harness's own threads do: each test's thread exits while the next test runs). Returns the
/// live blocks, for `free_all`.
fn leave_published(size: usize, count: usize) -> Vec<usize> {
    let layout = std::alloc::Layout::from_size_align(size, 16).unwrap();
    join(
        thread::spawn(move || {
            // SAFETY: non-zero size; each block is freed once, here or by `free_all`.
            let all: Vec<*mut u8> = (0..count)
                .map(|_| unsafe { std::alloc::alloc(layout) })
                .collect();
            assert!(all.iter().all(|p| !p.is_null()), "allocation failed");
            let mut live = Vec::with_capacity(count / 2 + 1);
            for (i, p) in all.into_iter().enumerate() {
                if i % 2 == 0 {
                    // SAFETY: a live block of this thread, freed once.
                    unsafe { std::alloc::dealloc(p, layout) };
                } else {
                    live.push(p as usize);
                }
            }
            live
        }),
        "publisher",
    )
}

/// Frees the blocks `leave_published(size, _)` returned.
fn free_all(blocks: Vec<usize>, size: usize) {
    let layout = std::alloc::Layout::from_size_align(size, 16).unwrap();
    for p in blocks {
        // SAFETY: live blocks of `size`, each freed once.
        unsafe { std::alloc::dealloc(p as *mut u8, layout) };
    }
}

#[test]
fn producers_exit_before_consumers_free() {
    let _serial = serial();
    arm_watchdog("cross_thread", 120);
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
                    let mut rng = Rng::new((round * PRODUCERS + p) as u64, 0);
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
    let _serial = serial();
    arm_watchdog("cross_thread", 120);
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
                    let mut rng = Rng::new(1000 + (round * PRODUCERS + p) as u64, 0);
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

/// With `--cfg hakmem_remote_batch` (.ci/run), remote frees are batched per slab
/// (src/front/remote_batch.rs): a few frees by a thread with a heap into another thread's slab
/// stay in that thread's batch — the slab's queue stays empty — until `collect` (or the batch
/// filling, or the thread's exit) pushes them, all at once and none lost. (Without batches each
/// free reaches the queue at once: the first check reads 5.) With `config::CONSUMER_BATCH` (on
/// by default with foreign entries) the same holds for this freer, which has a
/// heap but never allocated the blocks' class (a consumer of it: it keeps none of them). The owner
/// is a thread of its own, so no block of the test harness shares its slab (the harness frees its
/// blocks from its own threads: they would land in the same queue).
#[test]
fn remote_frees_are_batched_until_flushed() {
    let _serial = serial();
    // Forced notifications (the `force-notify` feature) push a consumer's every free at once.
    let consumer_batch = hakmem::config::CONSUMER_BATCH && !cfg!(feature = "force-notify");
    if !hakmem::config::REMOTE_BATCH && !consumer_batch {
        eprintln!(
            "skipped: remote batching is off (--cfg hakmem_no_consumer_batch, the force-notify \
             feature or no foreign entries, and no --cfg hakmem_remote_batch)"
        );
        return;
    }
    arm_watchdog("remote_frees_are_batched_until_flushed", 60);
    // Published slabs of the class, half free, that the owner's first refills adopt.
    let left = leave_published(176, 3 * 372);
    join(thread::spawn(batched_remote_frees_owner), "owner");
    free_all(left, 176);
}

/// The owner's side of `remote_frees_are_batched_until_flushed`.
fn batched_remote_frees_owner() {
    // Batches of this class hold at least 4096 / 192 = 21 blocks (header mode adds 16 bytes).
    let layout = std::alloc::Layout::from_size_align(176, 16).unwrap();
    // Five blocks of one slab this thread bound itself. A slab its refill adopted from an exited
    // thread (this test leaves some, as earlier tests' threads may) keeps its "release wanted"
    // mark while current, and a freer keeps none of its blocks (front/foreign.rs): they reach
    // the queue at once. Such slabs' blocks are held aside until a fresh slab comes.
    let alloc = || alloc_block(layout);
    let mut aside = Vec::new();
    let p = block_of_unmarked_slab(layout, &mut aside);
    let mut v = vec![p];
    v.extend((0..7).map(|_| alloc()));
    let (blocks, rest): (Vec<usize>, Vec<usize>) =
        v.into_iter().partition(|&q| slab_of(q) == slab_of(p));
    aside.extend(rest);
    assert!(blocks.len() >= 5, "five blocks of one slab");
    let first = blocks[0] as *const u8;
    let queued = || hakmem::testing::drain_remote_of(first).expect("we own the slab");
    assert_eq!(queued(), 0, "nobody else frees into this thread's slab");

    let (to_main, from_freer) = mpsc::channel::<()>();
    let (to_freer, from_main) = mpsc::channel::<()>();
    let freed: Vec<usize> = blocks[..5].to_vec();
    let freer = thread::spawn(move || {
        // A heap of its own first (a thread that never allocated pushes each block at once).
        let own = Box::new(7u64);
        for &p in &freed {
            // SAFETY: a live block of the owner thread, freed once.
            unsafe { std::alloc::dealloc(p as *mut u8, layout) };
        }
        to_main.send(()).unwrap();
        from_main.recv_timeout(RECV_TIMEOUT).expect("owner thread");
        hakmem::collect();
        to_main.send(()).unwrap();
        drop(own);
    });
    from_freer.recv_timeout(RECV_TIMEOUT).expect("freer");
    assert_eq!(queued(), 0, "the remote frees waited in the freer's batch");
    to_freer.send(()).unwrap();
    from_freer.recv_timeout(RECV_TIMEOUT).expect("freer");
    assert_eq!(queued(), 5, "collect pushed the batch: every block, once");
    join(freer, "freer");
    for &p in blocks[5..].iter().chain(&aside) {
        // SAFETY: live blocks of this thread.
        unsafe { std::alloc::dealloc(p as *mut u8, layout) };
    }
}

/// `config::BATCH_HIT`: a consumer's batch entry copies its slab's carve bound when the batch
/// starts; blocks the owner carves later fail the entry's check and take the full remote path,
/// which adds them to the same batch. So a batch started on a slab's first block collects the
/// slab's later blocks too — the queue stays empty until `collect` pushes them all, none lost
/// and none twice (the backout `--cfg hakmem_no_batch_hit`, .ci/run, runs it on the full path).
#[test]
fn batch_takes_blocks_carved_after_it_started() {
    let _serial = serial();
    let consumer_batch = hakmem::config::CONSUMER_BATCH && !cfg!(feature = "force-notify");
    if !hakmem::config::REMOTE_BATCH && !consumer_batch {
        eprintln!("skipped: remote batching is off");
        return;
    }
    arm_watchdog("batch_takes_blocks_carved_after_it_started", 60);
    join(thread::spawn(late_carved_owner), "owner");
}

/// The owner's side of `batch_takes_blocks_carved_after_it_started`.
fn late_carved_owner() {
    // 176 bytes (192 with header mode): a batch holds 21-23 blocks; a slab 341-372.
    let layout = std::alloc::Layout::from_size_align(176, 16).unwrap();
    let alloc = || alloc_block(layout);
    // A block of a slab this thread bound itself (see `batched_remote_frees_owner`).
    let mut aside = Vec::new();
    let first = block_of_unmarked_slab(layout, &mut aside);
    let queued = || hakmem::testing::drain_remote_of(first as *const u8).expect("we own it");
    assert_eq!(queued(), 0, "nobody else frees into this thread's slab");
    let (to_main, from_freer) = mpsc::channel::<()>();
    let (to_freer, from_main) = mpsc::channel::<Vec<usize>>();
    let freer = thread::spawn(move || {
        let own = Box::new(7u64);
        for round in 0..3 {
            for p in from_main.recv_timeout(RECV_TIMEOUT).expect("owner thread") {
                // SAFETY: a live block of the owner thread, freed once.
                unsafe { std::alloc::dealloc(p as *mut u8, layout) };
            }
            if round == 1 {
                hakmem::collect();
            }
            to_main.send(()).unwrap();
        }
        drop(own);
    });
    // The batch starts with the slab's first carved blocks.
    to_freer.send(vec![first]).unwrap();
    from_freer.recv_timeout(RECV_TIMEOUT).expect("freer");
    assert_eq!(queued(), 0, "the first free waits in the freer's batch");
    // A refill carves at most a page (`config::CARVE_PAGE`): the batch's copy of the carve bound
    // leaves out the slab's last blocks, which the frees below then pass over.
    let (carved, capacity) = hakmem::testing::slab_carved(first as *const u8).expect("ours");
    assert!(
        carved + 10 <= capacity,
        "{carved} of {capacity} blocks carved at the batch's start"
    );
    // Carve the slab to its end (the refills carve it batch by batch): the last blocks lie past
    // the carve bound the batch copied.
    let mut rest = Vec::new();
    let mut late = Vec::new();
    for _ in 0..4096 {
        let p = alloc();
        if slab_of(p) == slab_of(first) {
            late.push(p);
        } else {
            rest.push(p);
        }
    }
    assert!(
        late.len() > 300,
        "the slab carved to its end ({} blocks)",
        late.len()
    );
    let freed: Vec<usize> = late.split_off(late.len() - 10);
    to_freer.send(freed).unwrap();
    from_freer.recv_timeout(RECV_TIMEOUT).expect("freer");
    assert_eq!(
        queued(),
        11,
        "collect pushed the batch: the first block and the 10 carved later"
    );
    to_freer.send(Vec::new()).unwrap();
    from_freer.recv_timeout(RECV_TIMEOUT).expect("freer");
    join(freer, "freer");
    for &p in late.iter().chain(&rest).chain(&aside) {
        // SAFETY: live blocks of this thread.
        unsafe { std::alloc::dealloc(p as *mut u8, layout) };
    }
}

/// A full slab's remote frees come back through its owner's notification: the owner carves a
/// slab to the end (it goes on the full list), another thread frees every block of it but one,
/// and the owner's refills — once its newer slabs run out — drain the notified slab (its queue
/// becomes the free list unwalked, `Slab::drain_remote_unwalked`; walked with `--cfg
/// hakmem_no_remote_unwalked`) and hand each of its blocks out again exactly once, with the
/// heap's conservation equation holding throughout (`testing::debug_check`). The owner is a
/// thread of its own, so no block of the test harness shares its slabs. Published slabs of the
/// class, which other threads leave at any time, are left on purpose before the refills
/// (`leave_published`): the one block kept makes the notified slab partial, reused before any
/// adoption, so none of them can take the budget (docs/debugging.md, "Flaky tests").
#[test]
fn full_slab_comes_back_through_its_notification() {
    let _serial = serial();
    arm_watchdog("full_slab_comes_back_through_its_notification", 60);
    join(thread::spawn(full_slab_owner), "owner");
}

/// The owner's side of `full_slab_comes_back_through_its_notification`.
fn full_slab_owner() {
    let layout = std::alloc::Layout::from_size_align(48, 16).unwrap();
    let alloc = || alloc_block(layout);
    // Carve past the first slab (a slab of this class holds at most 64 KiB / 48 blocks), so that
    // every block of it is out and the refill has moved it to the full list.
    let mut held: Vec<usize> = (0..2 * 1366 + 64).map(|_| alloc()).collect();
    // The slab holding the most of them: one this thread carved whole (a slab adopted from an
    // exited thread may have had only a few free blocks).
    let mut per_slab = std::collections::HashMap::new();
    for &p in &held {
        *per_slab.entry(slab_of(p)).or_insert(0usize) += 1;
    }
    let first = *per_slab.iter().max_by_key(|e| *e.1).unwrap().0;
    let (mut theirs, ours): (Vec<usize>, Vec<usize>) =
        held.drain(..).partition(|&p| slab_of(p) == first);
    held = ours;
    // One block of it stays out, so that the drain of the notified slab leaves it partial and the
    // next refill makes it current. Emptied, it would go to the pool, and the refill would adopt
    // a published slab or bind another pooled one before the pool handed it back — the blocks
    // would come back late or never, through the pool, not the notification.
    held.push(theirs.pop().expect("a block of the first slab"));
    assert!(
        theirs.len() > 64,
        "the first slab handed out all its blocks"
    );
    hakmem::testing::debug_check();
    let freed: HashSet<usize> = theirs.iter().copied().collect();
    let n = theirs.len();
    join(
        thread::spawn(move || {
            // A heap of its own first, as most freers have.
            let own = Box::new(7u64);
            for p in theirs {
                // SAFETY: a live block of the owner thread, freed once.
                unsafe { std::alloc::dealloc(p as *mut u8, layout) };
            }
            // Batched remote frees (`--cfg hakmem_remote_batch`) reach the queue now.
            hakmem::collect();
            drop(own);
        }),
        "freer",
    );
    // Published slabs of the class, with free blocks, which the owner's refills would adopt
    // before they bind a pooled slab (the test harness's exiting threads leave such slabs at any
    // time).
    let left = leave_published(48, 8 * 1366);
    let census = hakmem::testing::debug_check();
    // (The spawn's own blocks, freed by the freer, wait in queues too.)
    assert!(
        census.remote >= n,
        "every block of the full slab waits in its queue"
    );
    // Allocate until the first slab's blocks have all come back: at most the rest of the newer
    // slabs (two slabs' worth) and then the first slab's blocks.
    let mut again = HashSet::new();
    for _ in 0..3 * 1366 + 64 {
        let p = alloc();
        if slab_of(p) == first {
            assert!(freed.contains(&p), "a block the freer did not free");
            assert!(again.insert(p), "a block handed out twice");
        }
        held.push(p);
        if again.len() == n {
            break;
        }
    }
    assert_eq!(
        again.len(),
        n,
        "every remotely freed block of the full slab came back"
    );
    hakmem::testing::debug_check();
    for p in held {
        // SAFETY: live blocks of this thread, each freed once.
        unsafe { std::alloc::dealloc(p as *mut u8, layout) };
    }
    free_all(left, 48);
    hakmem::testing::debug_check();
}
