//! Model 11 — a remote free across an unbind and a rebind by another thread's heap
//! (`Slab::bind`'s owner store, `Slab::free_remote`'s owner load, `Owner::notify`). With one
//! block the freer's push always finds the queue empty and loads the owner, so `force-notify`
//! changes nothing here and is not a second run.
//!
//! Claim (`rebound_slab_notifies_a_published_heap`): a thread binds a fresh slab with the heap it
//! made itself (as every thread's heap is made), hands a block to a freer (the program's hand-off,
//! a Release/Acquire pointer), and drains its queue once: a drained slab with nothing out is
//! unbound and given back to the pool (a Release/Acquire pointer standing for the pool lock). The
//! pool's next taker, another thread, makes its heap and binds the slab. The freer pushes its
//! block and then loads `Slab::owner` and notifies that heap. Once pushed, the block can be
//! drained, the slab unbound and rebound before that load: the freer then names the *rebinding*
//! heap, to which it has no edge but the owner word itself. So the rebinder's heap (its pending
//! word, created by its thread) must happen-before the freer's `notify`: `bind`'s Release store
//! and `free_remote`'s Acquire load carry that edge. Also: the block is drained exactly once, its
//! payload seen; a block still queued after the joins is announced to the first binder.
//!
//! Every earlier model bound heaps the model thread made before the spawns (a happens-before edge
//! to every thread), which left both orderings uncaught by loom20's weakening sweep — the set-up
//! that had hidden the adoption CAS's missing Release (docs/verification.md).
//!
//! Bounds: 4 threads (the model thread only joins), 1 slab, 1 block, `LOOM_MAX_PREEMPTIONS`.
//!
//! Mutants caught: `bind_owner_relaxed`, `free_remote_owner_relaxed` ("Causality violation" on
//! the rebinder heap's pending word).

#![cfg(hakmem_loom)]

mod support;

use hakmem::model::{Owner, Slab};
use loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use support::{model_reaching, take_blocks, used, Blk, TestSlab, CLASS};

/// What the freer writes into the block before freeing it.
const FREED: u64 = 7;

#[test]
#[cfg_attr(
    any(
        hakmem_mutant = "bind_owner_relaxed",
        hakmem_mutant = "free_remote_owner_relaxed"
    ),
    should_panic(expected = "Causality violation")
)]
fn rebound_slab_notifies_a_published_heap() {
    model_reaching(
        "rebind",
        &[
            "first binder notified",
            "rebinder notified",
            "rebound, not notified",
            "queued after the joins",
        ],
        || {
            let s = Arc::new(TestSlab::new());
            // The program's hand-off of the block from the first binder to the freer.
            let handoff = Arc::new(AtomicUsize::new(0));
            // The pool; Release/Acquire stands for the pool lock.
            let pool = Arc::new(AtomicPtr::<Slab>::new(std::ptr::null_mut()));

            let binder = {
                let (s, handoff, pool) = (s.clone(), handoff.clone(), pool.clone());
                thread::spawn(move || {
                    // This thread's heap, made by it (never freed, as heaps are not).
                    let me: &'static Owner = Box::leak(Box::new(Owner::new()));
                    // SAFETY: a fresh slab from the pool, held by this thread from now on.
                    let b = unsafe {
                        s.slab.bind(CLASS, me);
                        take_blocks(&s.slab, 1)[0]
                    };
                    // ORDERING: Release — the program's hand-off of the block.
                    handoff.store(b.addr(), Ordering::Release);
                    // The owner's refill step: drain; an emptied slab goes back to the pool.
                    // SAFETY: this thread holds the slab.
                    unsafe {
                        if s.slab.drain_remote() > 0 {
                            assert_eq!(b.user_read(), FREED, "the freer's payload");
                            assert_eq!(used(&s.slab), 0);
                            s.slab.unbind();
                            // ORDERING: Release — the pool lock's release.
                            pool.store(&s.slab as *const Slab as *mut Slab, Ordering::Release);
                        }
                    }
                    me as *const Owner as usize
                })
            };
            let freer = {
                let (s, handoff) = (s.clone(), handoff.clone());
                thread::spawn(move || {
                    // ORDERING: Acquire — the program's hand-off.
                    let p = handoff.load(Ordering::Acquire);
                    let Some(b) = std::ptr::NonNull::new(p as *mut _).map(Blk) else {
                        return false;
                    };
                    // SAFETY: the block was handed to this thread live; it frees it once.
                    unsafe {
                        b.user_write(FREED);
                        s.slab.free_remote(b.0, false);
                    }
                    true
                })
            };
            let taker = {
                let (s, pool) = (s.clone(), pool.clone());
                thread::spawn(move || {
                    // The pool's next taker, a thread with its own heap.
                    let me: &'static Owner = Box::leak(Box::new(Owner::new()));
                    // ORDERING: Acquire — the pool lock's acquire.
                    if pool.load(Ordering::Acquire).is_null() {
                        return 0;
                    }
                    // SAFETY: the pool's taker holds the free slab.
                    unsafe { s.slab.bind(CLASS, me) };
                    me as *const Owner as usize
                })
            };
            let first = binder.join().expect("binder panicked") as *const Owner;
            let freed = freer.join().expect("freer panicked");
            let second = taker.join().expect("taker panicked") as *const Owner;
            // SAFETY: heaps are leaked by their threads, never freed.
            let (first, second) = (unsafe { &*first }, unsafe { second.as_ref() });
            let first_pending = first.take_pending(CLASS);
            if let Some(second) = second {
                if second.take_pending(CLASS) {
                    support::reach("rebinder notified");
                } else {
                    support::reach("rebound, not notified");
                }
                assert!(!s.slab.remote.is_nonempty(), "a rebound slab with a queue");
            } else if freed && s.slab.remote.is_nonempty() {
                support::reach("queued after the joins");
                assert!(
                    first_pending,
                    "lost wake-up: a block waits in the queue and the owner was not notified"
                );
            }
            if first_pending {
                support::reach("first binder notified");
            }
        },
    );
}
