//! Model 7 — slab pins of foreign entries (front/foreign.rs: `Slab::pin`, `unpin`,
//! `pinned_keep`, `release_wanted`, `unbind`; `PublishList::reclaim`).
//!
//! Claim: a thread that holds a block of a slab it does not own pins the slab (what
//! `foreign::keep` does when it enters the slab in its table), then lets the block go back to
//! the slab through its remote queue; it drops the pin on a later slow path once the release is
//! wanted (`drop_released`), or at its exit (`drop_all`). Meanwhile the slab's holder drains it
//! and, finding it empty, releases it — unbinds it and binds it again to another class, as the
//! pool's next taker would — only if `pinned_keep` says nobody pins it. Whatever the
//! interleaving:
//! - while the pinner holds its entry, the slab is bound to the entry's class: every read of the
//!   class the pinner makes between its pin and its unpin sees `CLASS` (an entry is never stale);
//! - the block is drained exactly once, and its payload is the pinner's;
//! - the slab is released at most once, and, once the pin is gone, a holder's next check
//!   releases it (no slab is kept bound for ever by a dropped pin).
//!
//! Two holders: the owner (model `owner_releases_only_unpinned`), and an exiting owner that
//! publishes the slab while a reclaim pass and an adopter run (`exit_publish_reclaim_adopt`).
//!
//! Mutant caught: `unpinned_release` (`pinned_keep` ignores the pins: a holder unbinds a slab
//! while a pinner's entry names it; `unbind`'s check reports it).
//!
//! Bounds: 3–4 threads, one slab, one block, `LOOM_MAX_PREEMPTIONS` (default 3).

#![cfg(hakmem_loom)]

mod support;

use hakmem::model::{Owner, PublishList, NO_CLASS};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use support::{model_reaching, take_blocks, used, Blk, TestSlab, CLASS, OTHER_CLASS};

const FREED: u64 = 9;

/// The pinner: pin while holding `b`, return `b` remotely, then drop the pin on a slow path that
/// finds the release wanted, or at exit. Every class read while the pin is held must see
/// `CLASS`.
fn pinner(s: &TestSlab, b: Blk) {
    s.slab.pin();
    assert_eq!(s.class(), CLASS as u32, "pinned slab not bound");
    // SAFETY: the block was handed to this thread live; it writes and frees it once.
    unsafe {
        b.user_write(FREED);
        s.slab.free_remote(b.0, false);
    }
    // A later free through the entry would rely on the class.
    assert_eq!(s.class(), CLASS as u32, "entry stale while pinned");
    // A slow path: drop the pin if the release is wanted; else at exit.
    let early = s.slab.release_wanted();
    if early {
        support::reach("pinner saw release wanted");
    }
    if !early {
        assert_eq!(s.class(), CLASS as u32, "entry stale while pinned");
    }
    s.slab.unpin();
}

/// The holder's release: unbind and bind again elsewhere (what the pool's next taker does).
///
/// # Safety
/// The caller holds the slab and nothing is out.
unsafe fn release_and_rebind(s: &TestSlab, next_owner: &Owner) {
    // SAFETY: per the contract.
    unsafe {
        s.slab.unbind();
        s.slab.bind(OTHER_CLASS, next_owner);
    }
}

/// `n` owners and a fresh slab, bound to the first, with one block out.
fn bound_slab_with_a_block(n: usize) -> (Arc<Vec<Owner>>, Arc<TestSlab>, Blk) {
    let owners: Arc<Vec<Owner>> = Arc::new((0..n).map(|_| Owner::new()).collect());
    let s = Arc::new(TestSlab::new());
    // SAFETY: a fresh slab, bound and held by this thread until its holder's thread takes over.
    let b = unsafe {
        s.slab.bind(CLASS, &owners[0]);
        take_blocks(&s.slab, 1)[0]
    };
    (owners, s, b)
}

/// After the joins, a slab its holders kept (pinned when they looked, or not empty yet): still
/// bound to `CLASS`, empty once drained, and unpinned now, so the holder's next check releases
/// it.
///
/// # Safety
/// The calling thread holds the slab; every other thread has exited.
unsafe fn next_check_releases(s: &TestSlab, next_owner: &Owner) {
    assert_eq!(s.class(), CLASS as u32, "a pinned slab was unbound");
    // SAFETY: per the contract.
    unsafe {
        s.slab.drain_remote();
        assert_eq!(used(&s.slab), 0, "block not drained");
        assert!(!s.slab.pinned_keep(), "pin not dropped");
        release_and_rebind(s, next_owner);
    }
}

#[test]
#[cfg_attr(
    hakmem_mutant = "unpinned_release",
    should_panic(expected = "fail-fast abort")
)]
fn owner_releases_only_unpinned() {
    model_reaching(
        "pin owner",
        &[
            "owner kept it (pinned)",
            "owner released it",
            "released after the joins",
            "pinner saw release wanted",
        ],
        || {
            let (owners, s, b) = bound_slab_with_a_block(2);
            let released = Arc::new(AtomicUsize::new(0));

            let p = {
                let s = s.clone();
                thread::spawn(move || pinner(&s, b))
            };
            let owner = {
                let (s, owners, released) = (s.clone(), owners.clone(), released.clone());
                thread::spawn(move || {
                    // Two checks (a refill's drain, then the next one): each releases the slab if
                    // it is empty and unpinned.
                    for _ in 0..2 {
                        // SAFETY: this thread holds the slab.
                        unsafe {
                            s.slab.drain_remote();
                            if used(&s.slab) == 0 {
                                for x in support::free_list(&s.slab) {
                                    assert_eq!(x.user_read(), FREED, "payload lost");
                                }
                                if s.slab.pinned_keep() {
                                    support::reach("owner kept it (pinned)");
                                } else {
                                    support::reach("owner released it");
                                    release_and_rebind(&s, &owners[1]);
                                    released.fetch_add(1, Ordering::Relaxed);
                                    return;
                                }
                            }
                        }
                        thread::yield_now();
                    }
                })
            };
            p.join().expect("pinner panicked");
            owner.join().expect("owner panicked");
            let n = released.load(Ordering::Relaxed);
            assert!(n <= 1, "released twice");
            if n == 0 {
                support::reach("released after the joins");
                // SAFETY: the joins hand the owner's slab to this thread.
                unsafe { next_check_releases(&s, &owners[1]) };
            }
            assert_eq!(s.class(), OTHER_CLASS as u32);
        },
    );
}

#[test]
#[cfg_attr(
    hakmem_mutant = "unpinned_release",
    should_panic(expected = "fail-fast abort")
)]
fn exit_publish_reclaim_adopt() {
    model_reaching(
        "pin exit",
        &[
            "exit released",
            "exit published",
            "reclaim gave it back",
            "adopted after the joins",
        ],
        || {
            let (owners, s, b) = bound_slab_with_a_block(4);
            let list = Arc::new(PublishList::new());
            let released = Arc::new(AtomicUsize::new(0));

            let p = {
                let s = s.clone();
                thread::spawn(move || pinner(&s, b))
            };
            let exiting = {
                let (s, list, owners, released) =
                    (s.clone(), list.clone(), owners.clone(), released.clone());
                thread::spawn(move || {
                    // What `small::flush(publish)` does with the slab.
                    // SAFETY: this thread owns the slab until it publishes or releases it.
                    unsafe {
                        s.slab.drain_remote();
                        if used(&s.slab) == 0 && !s.slab.pinned_keep() {
                            release_and_rebind(&s, &owners[3]);
                            released.fetch_add(1, Ordering::Relaxed);
                            support::reach("exit released");
                        } else {
                            support::reach("exit published");
                            list.publish(&s.slab);
                        }
                    }
                })
            };
            let reclaimer = {
                let (s, list, owners, released) =
                    (s.clone(), list.clone(), owners.clone(), released.clone());
                thread::spawn(move || {
                    let (_, n) = list.reclaim(&owners[1], 1, |slab| {
                        assert!(std::ptr::eq(slab, &s.slab));
                        assert_eq!(
                            slab.class.load(loom::sync::atomic::Ordering::Relaxed),
                            NO_CLASS
                        );
                        // The pool's next taker binds it again.
                        // SAFETY: the reclaimer holds the unbound, empty slab.
                        unsafe { slab.bind(OTHER_CLASS, &owners[3]) };
                    });
                    released.fetch_add(n, Ordering::Relaxed);
                    if n > 0 {
                        support::reach("reclaim gave it back");
                    }
                })
            };
            p.join().expect("pinner panicked");
            exiting.join().expect("exiting owner panicked");
            reclaimer.join().expect("reclaimer panicked");
            let n = released.load(Ordering::Relaxed);
            assert!(n <= 1, "released twice");
            if n == 0 {
                // Published, pinned when its holders looked: an adopter (this thread) takes it, and
                // finds it bound, empty once drained, and unpinned: its release goes ahead.
                support::reach("adopted after the joins");
                let got = list.adopt(&owners[2]).expect("published slab lost");
                assert!(std::ptr::eq(got.as_ptr(), &s.slab));
                // SAFETY: adopt made this thread the owner; every other thread has exited.
                unsafe { next_check_releases(&s, &owners[3]) };
            }
            assert_eq!(s.class(), OTHER_CLASS as u32);
        },
    );
}
