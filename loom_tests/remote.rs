//! Model 1 — the remote queue (`remote::RemoteQueue`, reached through `Slab::free_remote` and
//! `Slab::drain_remote`).
//!
//! Claim: two threads free blocks of a slab they do not own while the owner drains it. Every block
//! is drained exactly once — none lost, none twice — the counts the owner's drains return add up
//! to the number of remote frees, and what a freeing thread wrote into its block before the free
//! is visible to the owner after the drain (loom checks the payload and link cells for
//! happens-before; a missing edge is a "Causality violation").
//!
//! Bounds: 3 threads (2 freeing, the owner draining concurrently once, then again after the
//! joins), 2 blocks, `LOOM_MAX_PREEMPTIONS` (default 3). Run with `force_notify` on and off: the
//! flag only decides whether the freer reads the owner pointer and notifies, but that read is an
//! extra synchronising access that could hide a missing edge, so both settings are explored.
//!
//! Mutants caught: `remote_push_relaxed` (push publishes with Relaxed instead of Release),
//! `take_all_relaxed` (the owner's swap takes the list with Relaxed instead of Acquire).
//!
//! Model 1b — a remote freer's batch (`front::remote_batch`): one thread pushes a chain of two
//! blocks it linked itself (`Slab::free_remote_chain`, one CAS) while another pushes one block
//! and the owner drains. Claim: the same — every block drained once, the chain's link and both
//! payloads visible to the owner, the counts adding up. Same mutants.
//!
//! Model 1c — the refill's path (`front::small::refill`): the owner takes the queue
//! (`Slab::take_remote`) while two threads free, once during the frees and again after the
//! joins. Run twice: with `max` 0 the queue becomes the pending chain, which `Slab::take_batch`
//! hands out (checking each block as it takes it); with `max` the capacity it comes back
//! unwalked with the count the pushes kept in the queue's head (`RemoteTake::Chain`), and the
//! model walks it as the pops of the TLS list would. The slab is fully carved and its free list
//! empty, so every block handed out came through the queue. Claim: each freed block comes out
//! exactly once, with its freer's payload visible, a chain is exactly as long as its count, and
//! `used` stays 2 + whatever is out (queued blocks are counted in `used`, and stay counted once
//! handed out). Same mutants.

#![cfg(hakmem_loom)]

mod support;

/// A model test that each of the queue's two mutants (`remote_push_relaxed`,
/// `take_all_relaxed`) must fail with loom's causality violation; written once for the entry
/// points below.
macro_rules! caught_by_both_mutants {
    (fn $name:ident() $body:block) => {
        #[test]
        #[cfg_attr(
            any(
                hakmem_mutant = "remote_push_relaxed",
                hakmem_mutant = "take_all_relaxed"
            ),
            should_panic(expected = "Causality violation")
        )]
        fn $name() $body
    };
}

use std::ptr::NonNull;

use hakmem::model::{blocks_per_slab, Block, RemoteTake};
use loom::thread;
use support::{free_list, model_reaching, owned_slab, used, CLASS};

/// Payload a freeing thread writes into block `i` just before freeing it.
fn freed_value(i: usize) -> u64 {
    200 + i as u64
}

fn two_freers_while_owner_drains(force_notify: bool) {
    let name = if force_notify {
        "remote force-notify"
    } else {
        "remote"
    };
    model_reaching(
        name,
        &["drain saw 0", "drain saw 1", "drain saw 2"],
        move || {
            let (owner, s, blocks) = owned_slab(2);

            let freers: Vec<_> = blocks
                .iter()
                .enumerate()
                .map(|(i, &b)| {
                    let (s, owner) = (s.clone(), owner.clone());
                    thread::spawn(move || {
                        // SAFETY: the block was handed to this thread live; it writes, then frees it
                        // once. The owner outlives the model threads (joined below).
                        unsafe {
                            b.user_write(freed_value(i));
                            s.slab.free_remote(b.0, force_notify);
                        }
                        drop(owner);
                    })
                })
                .collect();

            // The owner drains while the frees are in flight, and reads what it drained: the
            // payload must carry the freer's write (happens-before through the queue).
            // SAFETY: this thread holds the slab.
            let mut drained = unsafe { s.slab.drain_remote() };
            support::reach(["drain saw 0", "drain saw 1", "drain saw 2"][drained]);
            // SAFETY: as above.
            for b in unsafe { free_list(&s.slab) } {
                let i = blocks
                    .iter()
                    .position(|&x| x == b)
                    .expect("foreign block drained");
                // SAFETY: a block of this model, drained into our free list.
                assert_eq!(unsafe { b.user_read() }, freed_value(i), "payload lost");
            }

            for f in freers {
                f.join().expect("freer panicked");
            }
            // SAFETY: as above.
            drained += unsafe { s.slab.drain_remote() };

            assert_eq!(
                drained, 2,
                "drains returned {drained} blocks for 2 remote frees"
            );
            assert!(!s.slab.remote.is_nonempty(), "a block stayed in the queue");
            // SAFETY: as above.
            assert_each_once(unsafe { free_list(&s.slab) }, &blocks);
            // SAFETY: as above.
            let used = unsafe { used(&s.slab) };
            assert_eq!(used, 0, "used count does not match the drains");
        },
    );
}

caught_by_both_mutants! {
    fn remote_queue_two_freers_owner_drains() {
        two_freers_while_owner_drains(false);
    }
}

caught_by_both_mutants! {
    fn remote_queue_two_freers_owner_drains_force_notify() {
        two_freers_while_owner_drains(true);
    }
}

/// Model 1b (see the module doc).
fn chain_and_single_freer_while_owner_drains() {
    model_reaching(
        "remote chain",
        &[
            "chain drain saw 0",
            "chain drain saw 1",
            "chain drain saw 2",
            "chain drain saw 3",
        ],
        || {
            let (owner, s, blocks) = owned_slab(3);
            let (b0, b1, b2) = (blocks[0], blocks[1], blocks[2]);

            let batcher = {
                let s = s.clone();
                thread::spawn(move || {
                    // SAFETY: blocks 0 and 1 were handed to this thread live; it writes both, links
                    // them into its batch (0 -> 1) and frees the batch once.
                    unsafe {
                        b0.user_write(freed_value(0));
                        b1.user_write(freed_value(1));
                        Block::set_next(b0.0, b1.0.as_ptr());
                        s.slab.free_remote_chain(b0.0, b1.0, 2, false);
                    }
                })
            };
            let single = {
                let s = s.clone();
                thread::spawn(move || {
                    // SAFETY: block 2 was handed to this thread live; written, then freed once.
                    unsafe {
                        b2.user_write(freed_value(2));
                        s.slab.free_remote(b2.0, false);
                    }
                })
            };

            let check = |drained_blocks: Vec<support::Blk>| {
                for b in drained_blocks {
                    let i = blocks
                        .iter()
                        .position(|&x| x == b)
                        .expect("foreign block drained");
                    // SAFETY: a block of this model, drained into our free list.
                    assert_eq!(unsafe { b.user_read() }, freed_value(i), "payload lost");
                }
            };
            // SAFETY: this thread holds the slab.
            let mut drained = unsafe { s.slab.drain_remote() };
            support::reach(
                [
                    "chain drain saw 0",
                    "chain drain saw 1",
                    "chain drain saw 2",
                    "chain drain saw 3",
                ][drained],
            );
            // SAFETY: as above.
            check(unsafe { free_list(&s.slab) });
            batcher.join().expect("batcher panicked");
            single.join().expect("single freer panicked");
            // SAFETY: as above.
            drained += unsafe { s.slab.drain_remote() };
            assert_eq!(
                drained, 3,
                "drains returned {drained} blocks for 3 remote frees"
            );
            // SAFETY: as above.
            let list = unsafe { free_list(&s.slab) };
            check(list.clone());
            assert_each_once(list, &blocks);
            assert_eq!(
                // SAFETY: as above.
                unsafe { used(&s.slab) },
                0,
                "used count does not match the drains"
            );
            drop(owner);
        },
    );
}

caught_by_both_mutants! {
    fn remote_queue_chain_and_single_freer_owner_drains() {
        chain_and_single_freer_while_owner_drains();
    }
}

/// Asserts that the slab's free list `list` holds exactly the freed `blocks`, each once, in any
/// order.
fn assert_each_once(mut list: Vec<support::Blk>, blocks: &[support::Blk]) {
    list.sort();
    let mut expected = blocks.to_vec();
    expected.sort();
    assert_eq!(
        list, expected,
        "each freed block on the free list exactly once"
    );
}

/// Hands out every queued block once the queue is taken (model 1c): `take_remote(max)`, then
/// the unwalked chain, or `take_batch` of up to the slab's capacity over the pending chain.
/// Returns the blocks.
///
/// # Safety
/// The caller holds `slab`; its free list is empty and it is fully carved.
unsafe fn refill_from_queue(slab: &hakmem::model::Slab, max: u32) -> Vec<support::Blk> {
    let mut out = Vec::new();
    // SAFETY: per the contract (`take_batch` found nothing before, so no pending chain is left).
    let (mut head, got) = match unsafe { slab.take_remote(max) } {
        RemoteTake::Empty => return out,
        RemoteTake::Chain(head, count) => (head.as_ptr(), count as usize),
        RemoteTake::Pending => {
            // SAFETY: as above.
            let (head, _tail, got) = unsafe { slab.take_batch(blocks_per_slab(CLASS)) };
            (head, got)
        }
    };
    assert!(
        got > 0,
        "take_remote took blocks that take_batch did not hand out"
    );
    for _ in 0..got {
        let b = NonNull::new(head).expect("batch shorter than its count");
        out.push(support::Blk(b));
        // SAFETY: the batch's links were published by the pushes (Acquire swap in take_all).
        head = unsafe { Block::next(b) };
    }
    if max > 0 {
        assert!(head.is_null(), "the chain is longer than its count");
    }
    out
}

fn two_freers_while_owner_refills(max: u32) {
    model_reaching(
        if max == 0 { "refill" } else { "take chain" },
        &["refill took 0", "refill took 1", "refill took 2"],
        move || {
            let cap = blocks_per_slab(CLASS);
            // Every block carved, so the free list stays empty.
            let (_owner, s, blocks) = owned_slab(cap);
            let freers: Vec<_> = blocks[..2]
                .iter()
                .enumerate()
                .map(|(i, &b)| {
                    let s = s.clone();
                    thread::spawn(move || {
                        // SAFETY: the block was handed to this thread live; it writes, then frees it
                        // once.
                        unsafe {
                            b.user_write(freed_value(i));
                            s.slab.free_remote(b.0, false);
                        }
                    })
                })
                .collect();
            // SAFETY: this thread holds the slab, fully carved, free list empty.
            let mut taken = unsafe { refill_from_queue(&s.slab, max) };
            support::reach(["refill took 0", "refill took 1", "refill took 2"][taken.len()]);
            for f in freers {
                f.join().expect("freer panicked");
            }
            // SAFETY: as above; what the first refill took is out, not on the free list.
            taken.extend(unsafe { refill_from_queue(&s.slab, max) });
            for &b in &taken {
                let i = blocks[..2]
                    .iter()
                    .position(|&x| x == b)
                    .expect("a block that was not freed came out of the queue");
                // SAFETY: a block of this model, handed out by take_batch.
                assert_eq!(unsafe { b.user_read() }, freed_value(i), "payload lost");
            }
            let mut sorted = taken.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), taken.len(), "a block came out twice");
            assert_eq!(taken.len(), 2, "a freed block was lost");
            assert!(!s.slab.remote.is_nonempty(), "a block stayed in the queue");
            // SAFETY: as above.
            let used = unsafe { used(&s.slab) };
            assert_eq!(
                used as usize, cap,
                "every block is out again: used must be the capacity"
            );
        },
    );
}

caught_by_both_mutants! {
    fn remote_queue_two_freers_owner_refills() {
        two_freers_while_owner_refills(0);
    }
}

caught_by_both_mutants! {
    fn remote_queue_two_freers_owner_takes_chain() {
        two_freers_while_owner_refills(blocks_per_slab(CLASS) as u32);
    }
}
