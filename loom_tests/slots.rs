//! Model 8 — the used-slot word of the profiler's arenas (src/prof/slots.rs: `SlotMask::claim`,
//! `release`, `held`), which small samples and their frees use without the profiler's lock
//! (`config::PROF_LOCKFREE_SLOTS`).
//!
//! Claim: whatever the interleaving,
//! - a slot is held by at most one claimer at a time (each claimer counts itself in the slot's
//!   holder count right after its claim and finds nobody there);
//! - a claimer's write of the slot's record happens after the previous holder's read of it (the
//!   records are loom cells: an unordered write is a causality violation);
//! - every claimed slot is released again: the word ends with only slot 0 (the header) held;
//! - a claimer that finds every slot held gets `None`.
//!
//! Mutants caught by `slot_claims_race`, with loom's causality check: `slot_claim_plain_store`
//! (the claim a load and a store: two claimers take one slot and write its record at once) and
//! `slot_claim_relaxed` (the claim's CAS Relaxed: the next holder's record write races the
//! previous holder's read).
//!
//! Bounds: 2–3 threads, one or two slots, `LOOM_MAX_PREEMPTIONS` (default 3).

#![cfg(hakmem_loom)]

mod support;

use hakmem::model::SlotMask;
use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use support::{model, model_reaching};

/// An arena of `SLOTS - 1` usable slots (slot 0 is the header's): the word, each slot's record
/// and a count of its holders.
struct Arena<const SLOTS: usize> {
    used: SlotMask,
    records: [UnsafeCell<usize>; SLOTS],
    holders: [AtomicUsize; SLOTS],
    /// Bookkeeping outside the model (std atomics, no loom operation) for the vacuity check: the
    /// last holder of each slot, and how many slots are held.
    last: [std::sync::atomic::AtomicUsize; SLOTS],
    held_now: std::sync::atomic::AtomicUsize,
}

impl<const SLOTS: usize> Arena<SLOTS> {
    fn new() -> Self {
        Self {
            used: SlotMask::new(),
            records: core::array::from_fn(|_| UnsafeCell::new(0)),
            holders: core::array::from_fn(|_| AtomicUsize::new(0)),
            last: core::array::from_fn(|_| std::sync::atomic::AtomicUsize::new(0)),
            held_now: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// A small sample and its free: claim a slot, write its record, read it back, release.
    fn sample_and_free(&self, me: usize) {
        use std::sync::atomic::Ordering::Relaxed; // bookkeeping on one OS thread
        let Some(slot) = self.used.claim(SLOTS) else {
            support::reach("arena full");
            return;
        };
        if self.last[slot].swap(me, Relaxed) != 0 {
            support::reach("slot passed between holders");
        }
        if self.held_now.fetch_add(1, Relaxed) > 0 {
            support::reach("two slots held at once");
        }
        assert!(slot > 0 && slot < SLOTS, "slot {slot} out of range");
        assert!(self.used.held(slot), "a claimed slot reads free");
        // ORDERING: Relaxed — only counts; it must not order the records itself (that is the
        // word's job, which the relaxed mutant breaks).
        let before = self.holders[slot].fetch_add(1, Ordering::Relaxed);
        assert_eq!(before, 0, "slot held twice");
        self.records[slot].with_mut(|r| {
            // SAFETY: the slot is this thread's from its claim.
            unsafe { *r = me }
        });
        let seen = self.records[slot].with(|r| {
            // SAFETY: as above.
            unsafe { *r }
        });
        assert_eq!(seen, me, "record overwritten while held");
        // ORDERING: Relaxed — as above.
        self.holders[slot].fetch_sub(1, Ordering::Relaxed);
        self.held_now.fetch_sub(1, Relaxed);
        assert!(
            self.used.release(slot),
            "a held slot was not held at its release"
        );
    }

    fn all_free(&self) -> bool {
        (1..SLOTS).all(|s| !self.used.held(s))
    }
}

/// `others` threads and the model thread each take a slot of an arena of `SLOTS - 1` and give
/// it back; the model thread does so `rounds` times (after the others' releases or while they
/// hold theirs).
fn race<const SLOTS: usize>(name: &str, expected: &[&'static str], others: usize, rounds: usize) {
    model_reaching(name, expected, move || {
        let a = Arc::new(Arena::<SLOTS>::new());
        let ts: Vec<_> = (1..=others)
            .map(|me| {
                let a = a.clone();
                thread::spawn(move || a.sample_and_free(me))
            })
            .collect();
        for r in 0..rounds {
            a.sample_and_free(others + 1 + r);
        }
        for t in ts {
            t.join().unwrap();
        }
        assert!(a.all_free(), "a slot left held");
    });
}

#[test]
#[cfg_attr(
    any(
        hakmem_mutant = "slot_claim_relaxed",
        hakmem_mutant = "slot_claim_plain_store"
    ),
    should_panic(expected = "Causality violation")
)]
fn slot_claims_race() {
    // One slot passing between two holders, the model thread's twice.
    race::<2>(
        "slots 1 x 2",
        &["arena full", "slot passed between holders"],
        1,
        2,
    );
    // Three claimers of two slots.
    race::<3>(
        "slots 2 x 3",
        &[
            "arena full",
            "slot passed between holders",
            "two slots held at once",
        ],
        2,
        1,
    );
}

#[test]
fn a_full_arena_answers_none() {
    model(|| {
        let a = Arc::new(Arena::<2>::new());
        let slot = a.used.claim(2).expect("the one slot is free");
        let a2 = a.clone();
        let t = thread::spawn(move || a2.used.claim(2));
        assert_eq!(t.join().unwrap(), None, "a held slot claimed again");
        assert!(a.used.release(slot));
        assert!(!a.used.release(slot), "a double release not reported");
    });
}
