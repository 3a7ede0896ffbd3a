//! Model 2 — the ownership CAS (`Slab::try_acquire`, `Slab::release_ownership`) and its use in
//! `PublishList::adopt`.
//!
//! Claims:
//! - `cas_two_adopters_race`: the old owner writes the slab's local state (a block back on its free
//!   list) and releases ownership while two adopters race `try_acquire` on the slab directly.
//!   At most one wins, and exactly one heap owns the slab in the end; the winner sees the old
//!   owner's local state (the block the old owner freed comes out of the winner's `take_batch`);
//!   the loser changes nothing (the slab's state after the race is exactly what the winner left).
//! - `publish_list_two_adopters`: the old owner publishes the slab on a `PublishList` while two
//!   adopters call `adopt`. At most one gets the slab; if none did, it is still on the list (a
//!   later `adopt` returns it); in every case exactly one heap ends up owning it and its state is
//!   intact.
//!
//! Bounds: 3 threads (old owner, two adopters, each trying once), one slab, two blocks,
//! `LOOM_MAX_PREEMPTIONS` (default 3). When both adopters try before the release, nobody wins and
//! the model thread adopts afterwards; the claims are checked in every case.
//!
//! Mutants caught: `acquire_plain_store` (check-then-store instead of a CAS: two winners),
//! `acquire_cas_relaxed` (the winning CAS is Relaxed: the winner reads the old owner's local state
//! without happens-before), `release_ownership_relaxed` (the old owner releases with a Relaxed
//! store: likewise). The publish-list model cannot catch them: its lock orders everything, which
//! is why the first model races the CAS itself.

#![cfg(hakmem_loom)]

mod support;

use hakmem::model::Owner;
use hakmem::model::PublishList;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use support::{free_list, model_reaching, take_blocks, used, TestSlab, CLASS};

/// Who won the race, as an index into the model's owners (0 = old owner, 1 and 2 = adopters).
fn owner_index(owners: &[Arc<Owner>], p: *mut Owner) -> Option<usize> {
    owners.iter().position(|o| std::ptr::eq(&**o, p))
}

#[test]
#[cfg_attr(
    hakmem_mutant = "acquire_plain_store",
    should_panic(expected = "two adopters won the ownership CAS")
)]
#[cfg_attr(
    any(
        hakmem_mutant = "acquire_cas_relaxed",
        hakmem_mutant = "release_ownership_relaxed"
    ),
    should_panic(expected = "Causality violation")
)]
fn cas_two_adopters_race() {
    model_reaching(
        "ownership CAS",
        &[
            "adopter 1 won",
            "adopter 2 won",
            "nobody won (both too early)",
            "a loser tried after the release",
        ],
        || {
            let owners: Arc<Vec<Arc<Owner>>> =
                Arc::new((0..3).map(|_| Arc::new(Owner::new())).collect());
            let s = Arc::new(TestSlab::new());
            // SAFETY: a fresh slab, bound and held by this thread until the old owner's thread takes
            // over (spawn orders it).
            let blocks = unsafe {
                s.slab.bind(CLASS, &*owners[0]);
                take_blocks(&s.slab, 2)
            };
            let freed = blocks[1];
            let wins = Arc::new(AtomicUsize::new(0));
            // Bookkeeping outside the model (a std atomic: no loom operation): the release done.
            let released = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let old_released = released.clone();

            let old_owner = {
                let s = s.clone();
                thread::spawn(move || {
                    // The owner frees a block locally (its free list changes), then gives the slab up.
                    // SAFETY: this thread holds the slab; `freed` is one of its blocks that is out.
                    unsafe { s.slab.put_local(freed.0) };
                    s.slab.release_ownership();
                    old_released.store(true, std::sync::atomic::Ordering::Relaxed);
                })
            };

            // Each adopter tries once: a retry loop would let loom schedule the two spinning
            // adopters forever without the old owner (yields are free scheduling choices).
            let adopters: Vec<_> = [1usize, 2]
                .into_iter()
                .map(|me| {
                    let (s, owners, wins, released) =
                        (s.clone(), owners.clone(), wins.clone(), released.clone());
                    thread::spawn(move || {
                        if !s.slab.try_acquire(&*owners[me]) {
                            if released.load(std::sync::atomic::Ordering::Relaxed) {
                                support::reach("a loser tried after the release");
                            }
                            return false;
                        }
                        let before = wins.fetch_add(1, Ordering::SeqCst);
                        assert_eq!(before, 0, "two adopters won the ownership CAS");
                        // The winner does what `adopt` does (drain), then takes a block: it must be
                        // the one the old owner put back.
                        // SAFETY: we own the slab now.
                        let (head, _, n) = unsafe {
                            s.slab.drain_remote();
                            s.slab.take_batch(1)
                        };
                        assert_eq!(n, 1);
                        assert_eq!(head, freed.0.as_ptr(), "old owner's free list not seen");
                        true
                    })
                })
                .collect();

            old_owner.join().expect("old owner panicked");
            let won: Vec<bool> = adopters
                .into_iter()
                .map(|a| a.join().expect("adopter panicked"))
                .collect();
            let winner = match won.iter().filter(|&&w| w).count() {
                1 => {
                    if won[0] {
                        1
                    } else {
                        2
                    }
                }
                0 => {
                    // Both tried before the release: the slab is free, and a later adopter gets it.
                    assert!(
                        s.slab.try_acquire(&*owners[0]),
                        "released slab cannot be adopted"
                    );
                    // SAFETY: we own the slab now.
                    unsafe { s.slab.take_batch(1) };
                    0
                }
                _ => unreachable!("two winners pass the assertion above"),
            };
            support::reach(
                [
                    "nobody won (both too early)",
                    "adopter 1 won",
                    "adopter 2 won",
                ][winner],
            );
            // ORDERING: Relaxed — after the joins.
            let o = s.slab.owner.load(Ordering::Relaxed);
            assert_eq!(
                owner_index(&owners, o),
                Some(winner),
                "the owner is the winner"
            );
            // The loser left nothing behind: the state is exactly the winner's.
            // SAFETY: every other thread has exited; the joins order their accesses before ours.
            unsafe {
                assert_eq!(used(&s.slab), 2);
                assert!(free_list(&s.slab).is_empty());
            }
            assert!(!s.slab.remote.is_nonempty());
        },
    );
}

#[test]
fn publish_list_two_adopters() {
    model_reaching(
        "publish list",
        &[
            "adopter 1 got it",
            "adopter 2 got it",
            "adopted after the joins",
        ],
        || {
            let owners: Arc<Vec<Arc<Owner>>> =
                Arc::new((0..4).map(|_| Arc::new(Owner::new())).collect());
            let s = Arc::new(TestSlab::new());
            let list = Arc::new(PublishList::new());
            // SAFETY: a fresh slab, held by this thread until the old owner's thread takes over.
            unsafe {
                s.slab.bind(CLASS, &*owners[0]);
                take_blocks(&s.slab, 1);
            }

            let old_owner = {
                let (s, list) = (s.clone(), list.clone());
                // SAFETY: the old owner holds the slab and gives it up for good.
                thread::spawn(move || unsafe { list.publish(&s.slab) })
            };
            let adopters: Vec<_> = [1usize, 2]
                .into_iter()
                .map(|me| {
                    let (s, list, owners) = (s.clone(), list.clone(), owners.clone());
                    thread::spawn(move || match list.adopt(&owners[me]) {
                        Some(got) => {
                            assert!(
                                std::ptr::eq(got.as_ptr(), &s.slab),
                                "adopted a foreign slab"
                            );
                            // SAFETY: adopt made us the owner.
                            assert_eq!(unsafe { used(&s.slab) }, 1, "slab state not seen");
                            true
                        }
                        None => false,
                    })
                })
                .collect();

            old_owner.join().expect("old owner panicked");
            let got: Vec<bool> = adopters
                .into_iter()
                .map(|a| a.join().expect("adopter panicked"))
                .collect();
            let winners = got.iter().filter(|&&g| g).count();
            assert!(winners <= 1, "two adopters got the same slab");
            support::reach(match (got[0], got[1]) {
                (true, _) => "adopter 1 got it",
                (_, true) => "adopter 2 got it",
                _ => "adopted after the joins",
            });
            let owner = if winners == 1 {
                assert!(
                    list.adopt(&owners[3]).is_none(),
                    "adopted slab still on the list"
                );
                if got[0] {
                    1
                } else {
                    2
                }
            } else {
                // Both adopters ran before the publish: the slab waits on the list.
                let again = list.adopt(&owners[3]).expect("published slab lost");
                assert!(std::ptr::eq(again.as_ptr(), &s.slab));
                3
            };
            // ORDERING: Relaxed — after the joins.
            let o = s.slab.owner.load(Ordering::Relaxed);
            assert_eq!(
                owner_index(&owners, o),
                Some(owner),
                "exactly one heap owns the slab"
            );
            // SAFETY: every other thread has exited.
            assert_eq!(unsafe { used(&s.slab) }, 1);
        },
    );
}
