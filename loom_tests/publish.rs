//! Model 3 — publish vs remote free vs adopt (`PublishList::publish`/`adopt`,
//! `Slab::free_remote`, `Slab::drain_remote`).
//!
//! Claim: the owner of a slab exits — it drains the slab's remote queue and, with a block still
//! out, publishes the slab (what `small::flush` does for each owned slab) — while a second
//! thread frees that block remotely and a third adopts the slab. Whatever the interleaving:
//! - the block ends on exactly one list: the slab's free list, once, with the remote queue empty;
//! - it is drained exactly once, by the exiting owner (then the slab had nothing out and was
//!   released instead of published) or else by the slab's adopter — at adoption (`adopt` drains
//!   right after winning the ownership CAS) or at the adopter's next drain;
//! - what the freeing thread wrote into the block is visible to whoever drained it;
//! - a published slab is never lost: it is on the list or owned by its adopter;
//! - the remote free and the publish have no other side effects: the freeing thread touches no
//!   slab-local state (loom would report the unordered access to the local cell).
//!
//! Bounds: 4 threads (exiting owner, freer, adopter, and the model thread, which finishes the
//! adoption if the adopter ran before the publish), one slab, one block, `LOOM_MAX_PREEMPTIONS`
//! (default 3); with `force_notify` on and off (the freer notifies the owner it reads, which may be
//! the exiting owner, nobody, or the adopter).
//!
//! Mutants caught: `remote_push_relaxed`, `take_all_relaxed` (the adopter's drain reads the link
//! and payload without happens-before), `publish_before_release` (the slab is pushed on the list
//! before its owner releases it: an adopter that pops it in between loses the CAS and drops it).

#![cfg(hakmem_loom)]

mod support;

use hakmem::model::Owner;
use hakmem::model::PublishList;
use loom::sync::Arc;
use loom::thread;
use support::{free_list, model_reaching, take_blocks, used, TestSlab, CLASS};

const FREED: u64 = 7;

/// What the exiting owner did with its slab.
#[derive(Debug, PartialEq, Eq)]
enum Exit {
    /// Its drain took the block back; nothing was out, so the slab went back to the pool.
    Released,
    /// The block was still out: the slab was published.
    Published,
}

fn owner_exits_while_block_freed_and_adopted(force_notify: bool, freed_first: bool) {
    let name = match (force_notify, freed_first) {
        (true, _) => "publish force-notify",
        (false, true) => "publish adopt_freed",
        (false, false) => "publish",
    };
    model_reaching(name, support::EXIT_OUTCOMES, move || {
        let owners: Arc<Vec<Owner>> = Arc::new((0..3).map(|_| Owner::new()).collect());
        let s = Arc::new(TestSlab::new());
        let list = Arc::new(PublishList::new());
        // SAFETY: a fresh slab, bound and held by this thread until the owner's thread takes over.
        let b = unsafe {
            s.slab.bind(CLASS, &owners[0]);
            take_blocks(&s.slab, 1)[0]
        };

        let exiting = {
            let (s, list) = (s.clone(), list.clone());
            thread::spawn(move || {
                // SAFETY: this thread owns the slab until it publishes or releases it.
                unsafe {
                    s.slab.drain_remote();
                    if s.slab.used() == 0 {
                        s.slab.unbind();
                        Exit::Released
                    } else {
                        list.publish(&s.slab);
                        Exit::Published
                    }
                }
            })
        };
        let freer = {
            let (s, owners) = (s.clone(), owners.clone());
            thread::spawn(move || {
                // SAFETY: the block was handed to this thread live; it writes and frees it once.
                unsafe {
                    b.user_write(FREED);
                    s.slab.free_remote(b.0, force_notify);
                }
                drop(owners);
            })
        };
        let adopter = {
            let (s, list, owners) = (s.clone(), list.clone(), owners.clone());
            thread::spawn(move || {
                // `adopt_freed` (config::ADOPT_FREE_FIRST) takes the slab only with the freer's
                // block queued, and its drain must then hand that block over.
                let got = if freed_first {
                    list.adopt_freed(&owners[1], 4)?
                } else {
                    list.adopt(&owners[1])?
                };
                assert!(
                    std::ptr::eq(got.as_ptr(), &s.slab),
                    "adopted a foreign slab"
                );
                // If adopt's drain took the block, its payload is the freer's.
                // SAFETY: adopt made us the owner.
                let drained = unsafe { free_list(&s.slab) };
                if freed_first {
                    assert_eq!(
                        drained,
                        vec![b],
                        "adopt_freed took a slab without its frees"
                    );
                }
                for x in drained {
                    assert_eq!(x, b);
                    // SAFETY: a block of this model, on our free list.
                    assert_eq!(unsafe { x.user_read() }, FREED, "payload lost");
                    support::reach("adopter drained the block");
                }
                Some(())
            })
        };

        let exit = exiting.join().expect("exiting owner panicked");
        freer.join().expect("freer panicked");
        let adopted = adopter.join().expect("adopter panicked").is_some();

        support::reach_exit(exit == Exit::Released, adopted);
        if exit == Exit::Released {
            assert!(!adopted, "a released slab was adopted");
            assert!(
                list.adopt(&owners[2]).is_none(),
                "a released slab is on the list"
            );
            // SAFETY: every other thread has exited.
            assert_eq!(unsafe { used(&s.slab) }, 0);
            assert!(
                !s.slab.remote.is_nonempty(),
                "block drained and still queued"
            );
            return;
        }
        if !adopted {
            // The adopter ran before the publish; a later adopter (this thread) finds the slab.
            let got = list.adopt(&owners[2]).expect("published slab lost");
            assert!(std::ptr::eq(got.as_ptr(), &s.slab));
        } else {
            assert!(
                list.adopt(&owners[2]).is_none(),
                "adopted slab still on the list"
            );
        }
        // The adopter's next drain (done here, on its behalf, after the joins) takes a block
        // that arrived after adoption.
        // SAFETY: the joins order the adopter's ownership before this thread's accesses.
        unsafe {
            s.slab.drain_remote();
            assert_eq!(used(&s.slab), 0, "block not drained exactly once");
            assert_eq!(
                free_list(&s.slab),
                vec![b],
                "block not on the free list once"
            );
            assert_eq!(b.user_read(), FREED);
        }
        assert!(!s.slab.remote.is_nonempty(), "block on two lists");
    });
}

#[test]
#[cfg_attr(
    any(
        hakmem_mutant = "remote_push_relaxed",
        hakmem_mutant = "take_all_relaxed"
    ),
    should_panic(expected = "Causality violation")
)]
#[cfg_attr(
    hakmem_mutant = "publish_before_release",
    should_panic(expected = "published slab lost")
)]
fn publish_remote_free_adopt() {
    owner_exits_while_block_freed_and_adopted(false, false);
}

/// The same race with the adopter in `PublishList::adopt_freed` (`config::ADOPT_FREE_FIRST`):
/// it takes the slab only when the freer's block is queued, drains it at adoption, and the slab
/// is otherwise left on the list for a later adopter (session 22, med22).
#[test]
#[cfg_attr(
    any(
        hakmem_mutant = "remote_push_relaxed",
        hakmem_mutant = "take_all_relaxed"
    ),
    should_panic(expected = "Causality violation")
)]
// The mutant's slab is on the list while its old owner still owns it: `adopt_freed` fails fast
// on the lost ownership CAS (`adopt` would loop and pop again; the model then loses the slab).
#[cfg_attr(
    hakmem_mutant = "publish_before_release",
    should_panic(expected = "hakmem fail-fast abort under loom")
)]
fn publish_remote_free_adopt_freed() {
    owner_exits_while_block_freed_and_adopted(false, true);
}

#[test]
#[cfg_attr(
    any(
        hakmem_mutant = "remote_push_relaxed",
        hakmem_mutant = "take_all_relaxed"
    ),
    should_panic(expected = "Causality violation")
)]
#[cfg_attr(
    hakmem_mutant = "publish_before_release",
    should_panic(expected = "published slab lost")
)]
fn publish_remote_free_adopt_force_notify() {
    owner_exits_while_block_freed_and_adopted(true, false);
}
