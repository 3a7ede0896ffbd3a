//! Model 14 — a pinner's read of its foreign entry's class (front/foreign.rs, front/alloc.rs
//! `entry_class`: `Slab::bound_class`) while the slab's holder works in it, empties it, releases
//! it and rebinds it to another class, or publishes it to an adopter that does.
//!
//! A thread that frees a block of a slab another thread owns may enter the slab, pinned, in its
//! owned-slab table (`foreign::keep`); its later `realloc` of another block of that slab finds the
//! entry and reads the block's class to size it (`realloc`, `realloc_move_refused`). Claim:
//! - that read is of the shared class (`Slab::bound_class`), never of the holder's cell
//!   (`SlabLocal`), which the holder writes in every drain, local free, refill and release: a
//!   read of the cell by the pinner is a data race on it, which loom reports;
//! - the value read is the block's binding, `CLASS`, whatever the holder does meanwhile: the
//!   class is written only by `bind` and `unbind`; the bind happened before the block was handed
//!   out, and an unbind needs the block back (the holder's Acquire drain of the pinner's push)
//!   and the pin gone (`pinned_keep`'s AcqRel after the pinner's Release `unpin`);
//! - the slab is released at most once, and only with nothing out and no pin.
//!
//! The pinner holds two blocks of the slab: it frees the first (the pin of `foreign::keep`,
//! then the block's return to the slab's queue, as its spill makes it), then reallocates the
//! second through the entry (the class read), moves it and frees it the same way, and drops its
//! pin at a slow path that finds the release wanted or at its exit. The holder frees its own last
//! block locally and checks the slab twice: drain, and if empty, release and rebind it unless
//! pinned (`owner_rebinds`); or, exiting, releases it or publishes it to an adopter that drains
//! it and releases it if it can (`exit_publish_adopt`).
//!
//! Mutant caught: `bound_class_local` (`bound_class` reads `SlabLocal::class`, what `realloc` read
//! before proof27: "Causality violation", the pinner's access to the holder's cell unordered with
//! the holder's). `unpinned_release` too: the holder unbinds the pinned slab ("fail-fast abort").
//!
//! Bounds: 2–3 threads and the model thread, one slab, three blocks, `LOOM_MAX_PREEMPTIONS`.

#![cfg(hakmem_loom)]

mod support;

use hakmem::model::Owner;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use support::{model_reaching, used, Blk, TestSlab, CLASS, OTHER_CLASS};

/// What the pinner writes into its blocks before it frees them.
const FREED: u64 = 11;

/// The pinner, holding `keep` and `moved` (handed to it live): frees `keep` through a foreign
/// entry (pin, then return), reallocates `moved` through the entry (the class read `realloc`
/// makes), frees it, and drops its pin at a slow path that sees the release wanted, or at exit.
fn pinner(s: &TestSlab, keep: Blk, moved: Blk) {
    // `foreign::keep`: the slab enters the table, pinned, while this thread holds `keep`.
    s.slab.pin();
    // SAFETY: the blocks were handed to this thread live; it writes and frees each once.
    unsafe {
        keep.user_write(FREED);
        // Its spill returns the kept block to the slab's queue (`small::return_blocks`).
        s.slab.free_remote(keep.0, false);
        // `realloc(moved)`: the table finds the foreign entry; the block's size from its class.
        let class = s.slab.bound_class();
        assert_eq!(class, CLASS, "realloc read another binding's class");
        moved.user_write(FREED);
        // The move's free of the old block, through the entry, returned the same way.
        s.slab.free_remote(moved.0, false);
    }
    if s.slab.release_wanted() {
        support::reach("pinner saw release wanted");
    }
    // `drop_released` at a slow path, or `drop_all_foreign` at exit.
    s.slab.unpin();
}

/// The holder, finding the slab empty: release it and bind it again to `OTHER_CLASS` (the pool's
/// next taker), unless pinned. True if it released it.
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
            // The holder's own block carries its allocation payload; the pinner's two its write.
            let v = x.user_read();
            assert!(v == FREED || v >= 100, "payload lost");
        }
        if s.slab.pinned_keep() {
            support::reach("kept (pinned)");
            return false;
        }
        s.slab.unbind();
        s.slab.bind(OTHER_CLASS, next_owner);
    }
    true
}

/// After the joins: a slab nobody released is still bound to `CLASS`, and its holder's next
/// check releases it (the pin was dropped).
///
/// # Safety
/// The calling thread holds the slab; every other thread has exited.
unsafe fn released_after_joins(s: &TestSlab, next_owner: &Owner) {
    assert_eq!(s.slab.bound_class(), CLASS, "a pinned slab was unbound");
    // SAFETY: per the contract.
    let released = unsafe { release_if_empty(s, next_owner) };
    assert!(released, "slab not releasable after the pinner left");
}

#[test]
#[cfg_attr(
    hakmem_mutant = "bound_class_local",
    should_panic(expected = "Causality violation")
)]
#[cfg_attr(
    hakmem_mutant = "unpinned_release",
    should_panic(expected = "fail-fast abort")
)]
fn owner_rebinds() {
    model_reaching(
        "foreign class, owner",
        &[
            "kept (pinned)",
            "owner released it",
            "released after the joins",
            "pinner saw release wanted",
        ],
        || {
            let (owners, s, [own, keep, moved]) = support::slab_with_three_blocks(2);
            let released = Arc::new(AtomicUsize::new(0));
            let p = {
                let s = s.clone();
                thread::spawn(move || pinner(&s, keep, moved))
            };
            let owner = {
                let (s, owners, released) = (s.clone(), owners.clone(), released.clone());
                thread::spawn(move || {
                    // SAFETY: this thread holds the slab from now on; `own` is its live block.
                    unsafe {
                        // The holder frees its own last block (the free fast path's push, then
                        // its spill back to the slab).
                        s.slab.put_local(own.0);
                        for _ in 0..2 {
                            if release_if_empty(&s, &owners[1]) {
                                support::reach("owner released it");
                                released.fetch_add(1, Ordering::Relaxed);
                                return;
                            }
                            thread::yield_now();
                        }
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
                unsafe { released_after_joins(&s, &owners[1]) };
            }
            assert_eq!(s.slab.bound_class(), OTHER_CLASS);
        },
    );
}

#[test]
#[cfg_attr(
    hakmem_mutant = "bound_class_local",
    should_panic(expected = "Causality violation")
)]
#[cfg_attr(
    hakmem_mutant = "unpinned_release",
    should_panic(expected = "fail-fast abort")
)]
fn exit_publish_adopt() {
    model_reaching(
        "foreign class, exit",
        &[
            "exit released",
            "exit published",
            "adopter released it",
            "kept (pinned)",
            "released after the joins",
        ],
        || {
            let (owners, s, [own, keep, moved]) = support::slab_with_three_blocks(3);
            let p = {
                let s = s.clone();
                thread::spawn(move || pinner(&s, keep, moved))
            };
            // `small::flush(publish)`: the holder's last block back, then release or publish.
            let exit = support::spawn_exit_and_adopter(&s, &owners, own, release_if_empty);
            p.join().expect("pinner panicked");
            if exit.join(&s, &owners) {
                // SAFETY: this thread holds the slab now (adopted, or the joins hand over the
                // adopter's); every other thread has exited.
                unsafe { released_after_joins(&s, &owners[2]) };
            }
            assert_eq!(s.slab.bound_class(), OTHER_CLASS);
        },
    );
}
