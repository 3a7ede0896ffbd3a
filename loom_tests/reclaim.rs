//! Model 10 — the reclaim pass (`PublishList::reclaim`) against a remote freer, the pool's next
//! taker and an adopter.
//!
//! Claim: a published slab (its owner exited with one block out) is examined by a reclaim pass
//! while the block is freed remotely, an adopter tries the list, and the pool's next taker
//! waits for what the pass gives back. Whatever the interleaving:
//! - the slab is given back at most once, and never also adopted; if neither happened it is
//!   still on the list (no published slab lost);
//! - a slab given back was empty (its block drained) and unbound, and the pass touches it no
//!   more: the taker that binds it again races nothing (its state is a loom cell);
//! - a slab kept (adopted, or adopted after the joins) ends with the block drained exactly once,
//!   its payload the freer's.
//!
//! Mutant caught by `reclaim_vs_free_adopt_and_pool_taker`: `reclaim_release_before_unlink`
//! (the pass gives the slab back before unlinking and unbinding it: the taker finds it still
//! bound, "a given-back slab still bound"; in the interleavings where the taker's class read
//! comes after the unbind, its bind races the pass's writes of the slab's local state).
//!
//! Bounds: 4 threads (freer, reclaimer, pool taker, adopter), one slab, one block,
//! `LOOM_MAX_PREEMPTIONS` (default 3).

#![cfg(hakmem_loom)]

mod support;

use hakmem::model::{Owner, PublishList, Slab, NO_CLASS};
use loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use support::{free_list, model_reaching, take_blocks, used, TestSlab, CLASS, OTHER_CLASS};

const FREED: u64 = 7;

#[test]
#[cfg_attr(
    hakmem_mutant = "reclaim_release_before_unlink",
    should_panic(expected = "a given-back slab still bound")
)]
fn reclaim_vs_free_adopt_and_pool_taker() {
    model_reaching(
        "reclaim",
        &[
            "adopted before the pass",
            "adopted after the pass kept it",
            "given back, taken",
            "given back, not taken",
        ],
        || {
            let owners: Arc<Vec<Owner>> = Arc::new((0..4).map(|_| Owner::new()).collect());
            let s = Arc::new(TestSlab::new());
            let list = Arc::new(PublishList::new());
            // The pool: the pass's `release` hands the slab over; Release/Acquire stands for the
            // pool lock (`pool::release_slab_at`, the next refill's take).
            let pool = Arc::new(AtomicPtr::<Slab>::new(std::ptr::null_mut()));
            let released = Arc::new(AtomicUsize::new(0));
            // The owner binds the slab, hands one block out and exits: it publishes the slab.
            // SAFETY: a fresh slab, held by this thread until `publish`.
            let b = unsafe {
                s.slab.bind(CLASS, &owners[0]);
                let b = take_blocks(&s.slab, 1)[0];
                list.publish(&s.slab);
                b
            };

            // Bookkeeping outside the model (a std atomic: no loom operation): the pass has ended.
            let pass_done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let freer = {
                let s = s.clone();
                thread::spawn(move || {
                    // SAFETY: the block was handed to this thread live; it writes and frees it once.
                    unsafe {
                        b.user_write(FREED);
                        s.slab.free_remote(b.0, false);
                    }
                })
            };
            let reclaimer = {
                let (list, owners, pool, released, done) = (
                    list.clone(),
                    owners.clone(),
                    pool.clone(),
                    released.clone(),
                    pass_done.clone(),
                );
                thread::spawn(move || {
                    let (_, n) = list.reclaim(&owners[1], 1, |slab| {
                        // ORDERING: Release — the pool lock's release.
                        pool.store(slab as *const Slab as *mut Slab, Ordering::Release);
                    });
                    // ORDERING: Relaxed — read after the joins.
                    released.fetch_add(n, Ordering::Relaxed);
                    done.store(true, std::sync::atomic::Ordering::Relaxed);
                })
            };
            let taker = {
                let (s, owners, pool) = (s.clone(), owners.clone(), pool.clone());
                thread::spawn(move || {
                    // ORDERING: Acquire — the pool lock's acquire.
                    let p = pool.load(Ordering::Acquire);
                    if p.is_null() {
                        return false;
                    }
                    assert!(std::ptr::eq(p, &s.slab), "the pool gave another slab");
                    assert_eq!(s.class(), NO_CLASS, "a given-back slab still bound");
                    // SAFETY: the pool's taker holds the free slab.
                    unsafe {
                        assert_eq!(used(&s.slab), 0, "a given-back slab had blocks out");
                        s.slab.bind(OTHER_CLASS, &owners[3]);
                    }
                    true
                })
            };
            let adopted = list.adopt(&owners[2]).is_some();
            let passed_first = pass_done.load(std::sync::atomic::Ordering::Relaxed);
            freer.join().expect("freer panicked");
            reclaimer.join().expect("reclaimer panicked");
            let taken = taker.join().expect("taker panicked");
            // ORDERING: Relaxed — after the joins.
            let n = released.load(Ordering::Relaxed);
            assert!(n <= 1, "given back twice");
            support::reach(match (adopted, n, taken) {
                (true, _, _) if passed_first => "adopted after the pass kept it",
                (true, _, _) => "adopted before the pass",
                (false, 1, true) => "given back, taken",
                (false, 1, false) => "given back, not taken",
                _ => "neither adopted nor given back",
            });
            assert!(!(adopted && n == 1), "a slab both adopted and given back");
            assert!(
                !taken || n == 1,
                "the pool handed out a slab nobody gave back"
            );
            if n == 1 {
                let expect = if taken { OTHER_CLASS as u32 } else { NO_CLASS };
                assert_eq!(
                    s.class(),
                    expect,
                    "a given-back slab changed after the pass"
                );
                return;
            }
            if !adopted {
                let got = list.adopt(&owners[2]).expect("published slab lost");
                assert!(std::ptr::eq(got.as_ptr(), &s.slab));
            }
            // This thread holds the slab now (adopted here, every other thread joined).
            // SAFETY: as above.
            unsafe {
                s.slab.drain_remote();
                assert_eq!(used(&s.slab), 0, "block not drained");
                let free = free_list(&s.slab);
                assert_eq!(
                    free.iter().filter(|x| **x == b).count(),
                    1,
                    "block drained twice or lost"
                );
                assert_eq!(b.user_read(), FREED, "payload lost");
            }
            assert_eq!(s.class(), CLASS as u32);
        },
    );
}
