//! Model 15 — a consumer's remote-free batch (front/remote_batch.rs, `config::CONSUMER_BATCH`)
//! and its hit path (`config::BATCH_HIT`: `remote_batch::hit`, `link`), through the production
//! `RemoteBatches`, while the slab's holder carves, frees, drains, empties, releases and rebinds
//! the slab.
//!
//! A thread that frees blocks of a slab another thread owns and does not allocate their class (a
//! consumer) collects them per slab: `RemoteBatches::add` starts the slab's batch (`start`, which
//! copies the slab's data address, divisor and carve limit into the thread's entry), a later free
//! of the same slab's block joins it after the hint hit with no read of the slab's record
//! (`hit`: the fused block check on the entry's copies; `link`), and the full batch goes to the
//! slab's queue with one push (`flush`: `Slab::free_remote_chain`). Claims:
//! - the copies are taken from the slab's shared line (`Slab::carve_bound`, `data`, the class the
//!   caller read from `Slab::class`), never from the holder's cell (`SlabLocal`), which the holder
//!   writes in every carve, local free and drain: a read of the cell by the consumer is a data
//!   race on it, which loom reports;
//! - the copies are right while the batch holds a block: the slab stays bound to the batch's
//!   class (a batched block counts in `used`, so the holder cannot find the slab empty), and the
//!   carve copy is a lower bound (a block carved before the batch started hits);
//! - once pushed, the entry refuses every pointer (the slab may be rebound at once);
//! - the holder sees the consumer's payloads after its drain, releases the slab at most once and
//!   only with nothing out, and after the joins its next check releases it.
//!
//! The consumer holds two blocks of the slab (handed to it live by the spawn): it frees the first
//! (`add`: the batch starts) and the second (`hit`, `link`: the batch is full and pushed). The
//! holder carves a fourth block and frees it (so the carve bound grows while the batch starts),
//! frees its own last block, and checks the slab twice: drain, and if empty, release and rebind
//! it to another class.
//!
//! Mutants caught: `batch_carve_local` (`start` copies the holder's `SlabLocal::carve_limit`:
//! "Causality violation", the consumer's access to the holder's cell unordered with the
//! holder's); `remote_push_relaxed` and `take_all_relaxed` too (the batch's push, one CAS for
//! two blocks: the holder's drain reads the links and payloads unordered with their writes).
//!
//! `consumer_batch_vs_exit_publish_adopt`: the holder exits instead (`small::flush`: its last
//! block back, then release or publish, marking the release wanted as `FOREIGN_UNPIN_PUBLISHED`
//! does) while an adopter takes the published slab and releases it if it can: the batch's push
//! lands on a published or adopted slab, whose adopter (or the model thread, adopting after the
//! joins) drains it; the slab is released at most once, never while the batch holds a block.
//!
//! Bounds: 2–3 threads and the model thread, one slab, four blocks (three in the exit test),
//! `LOOM_MAX_PREEMPTIONS`.

#![cfg(hakmem_loom)]

mod support;

use hakmem::model::config::SLAB_SIZE;
use hakmem::model::{batch_hit, batch_link, Owner, RemoteBatches};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use support::{model_reaching, take_blocks, used, Blk, TestSlab, CLASS, OTHER_CLASS};

/// What the consumer writes into its blocks before it frees them.
const FREED: u64 = 11;
/// The models' class size (`CLASS`).
const SIZE: usize = 64;
const _: () = assert!(
    4 * SIZE <= SLAB_SIZE,
    "the model uses four blocks of the slab"
);

/// The consumer, holding `a` and `b` (handed to it live): frees both through its batches, as
/// `free_remote` (the first: the batch starts) and `free_unowned`'s batch hit (the second: it
/// joins, and the full batch is pushed) do.
fn consumer(s: &TestSlab, a: Blk, b: Blk) {
    let mut rb = RemoteBatches::new();
    // The slab's fourth block, which the holder carves while this thread runs: not ours (the
    // hit below only reads our entry), but whether the entry's copy covers it tells which carve
    // bound `start` read.
    let late = s.slab.data().wrapping_add(3 * SIZE);
    // SAFETY: the blocks were handed to this thread live; it writes and frees each once; the
    // batches are this thread's.
    unsafe {
        a.user_write(FREED);
        // `free_remote_in`: the class from the shared line, then (a consumer) the batch.
        let class = s.slab.bound_class();
        assert_eq!(
            class, CLASS,
            "a consumer's free read another binding's class"
        );
        rb.add(&s.slab, a.0, class, false);
        if batch_hit(&rb, late).is_some() {
            support::reach("batch copy covers the holder's later carve");
        } else {
            support::reach("batch copy below the holder's later carve");
        }
        // `free_unowned`: the hint hit, then the batch hit, before any read of the slab record.
        b.user_write(FREED);
        let e = batch_hit(&rb, b.0.as_ptr().cast())
            .expect("batch hit refused a block carved before the batch started");
        support::reach("batch hit");
        assert_eq!(
            s.slab.bound_class(),
            (*e.as_ptr()).class(),
            "the batch's slab was rebound while the batch held a block"
        );
        // The batch is full (two blocks of `CLASS`): `link` pushes it.
        batch_link(e.as_ptr(), b.0, false);
        assert!(
            batch_hit(&rb, b.0.as_ptr().cast()).is_none() && batch_hit(&rb, late).is_none(),
            "a pushed batch's entry still hits"
        );
    }
}

/// The holder, checking the slab: drain it and, if empty, release it and bind it again to
/// `OTHER_CLASS` (the pool's next taker). True if it released it.
///
/// # Safety
/// The calling thread holds the slab.
unsafe fn release_if_empty(s: &TestSlab, next_owner: &Owner) -> bool {
    // SAFETY: per the contract.
    unsafe {
        s.slab.drain_remote();
        if used(&s.slab) != 0 {
            return false;
        }
        for x in support::free_list(&s.slab) {
            // The holder's own blocks carry their allocation payload; the consumer's two its
            // write.
            let v = x.user_read();
            assert!(v == FREED || v >= 100, "payload lost");
        }
        s.slab.unbind();
        s.slab.bind(OTHER_CLASS, next_owner);
    }
    true
}

#[test]
#[cfg_attr(
    hakmem_mutant = "batch_carve_local",
    should_panic(expected = "Causality violation")
)]
#[cfg_attr(
    hakmem_mutant = "remote_push_relaxed",
    should_panic(expected = "Causality violation")
)]
#[cfg_attr(
    hakmem_mutant = "take_all_relaxed",
    should_panic(expected = "Causality violation")
)]
fn consumer_batch_vs_holder_release() {
    model_reaching(
        "consumer batch",
        &[
            "batch hit",
            "batch copy covers the holder's later carve",
            "batch copy below the holder's later carve",
            "holder found it in use",
            "holder released it",
            "released after the joins",
        ],
        || {
            let (owners, s, [own, a, b]) = support::slab_with_three_blocks(2);
            let released = Arc::new(AtomicUsize::new(0));
            let c = {
                let s = s.clone();
                thread::spawn(move || consumer(&s, a, b))
            };
            let holder = {
                let (s, owners, released) = (s.clone(), owners.clone(), released.clone());
                thread::spawn(move || {
                    // SAFETY: this thread holds the slab from now on; `own` is its live block.
                    unsafe {
                        // A refill carves the fourth block (the carve bound grows), and the
                        // program frees it at once.
                        let late = take_blocks(&s.slab, 1);
                        s.slab.put_local(late[0].0);
                        s.slab.put_local(own.0);
                        for _ in 0..2 {
                            if release_if_empty(&s, &owners[1]) {
                                support::reach("holder released it");
                                released.fetch_add(1, Ordering::Relaxed);
                                return;
                            }
                            support::reach("holder found it in use");
                            thread::yield_now();
                        }
                    }
                })
            };
            c.join().expect("consumer panicked");
            holder.join().expect("holder panicked");
            let n = released.load(Ordering::Relaxed);
            assert!(n <= 1, "released twice");
            if n == 0 {
                support::reach("released after the joins");
                // SAFETY: the joins hand the holder's slab to this thread.
                let released = unsafe { release_if_empty(&s, &owners[1]) };
                assert!(released, "slab not releasable after the consumer left");
            }
            assert_eq!(s.slab.bound_class(), OTHER_CLASS);
        },
    );
}

#[test]
#[cfg_attr(
    hakmem_mutant = "batch_carve_local",
    should_panic(expected = "Causality violation")
)]
#[cfg_attr(
    hakmem_mutant = "remote_push_relaxed",
    should_panic(expected = "Causality violation")
)]
#[cfg_attr(
    hakmem_mutant = "take_all_relaxed",
    should_panic(expected = "Causality violation")
)]
fn consumer_batch_vs_exit_publish_adopt() {
    model_reaching(
        "consumer batch, exit",
        &[
            "batch hit",
            "exit released",
            "exit published",
            "adopter released it",
            "released after the joins",
        ],
        || {
            let (owners, s, [own, a, b]) = support::slab_with_three_blocks(3);
            let c = {
                let s = s.clone();
                thread::spawn(move || consumer(&s, a, b))
            };
            let exit = support::spawn_exit_and_adopter(&s, &owners, own, release_if_empty);
            c.join().expect("consumer panicked");
            if exit.join(&s, &owners) {
                // SAFETY: this thread holds the slab now (adopted, or the joins hand over the
                // adopter's); every other thread has exited.
                let released = unsafe { release_if_empty(&s, &owners[2]) };
                assert!(released, "slab not releasable after the consumer left");
            }
            assert_eq!(s.slab.bound_class(), OTHER_CLASS);
        },
    );
}
