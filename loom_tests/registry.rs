//! Model 9 — the registry's leaf installation (`registry::Table`: `register`, `lookup`).
//!
//! Claim: two threads register regions in two chunks of one leaf that is not installed yet, so
//! both map a leaf and race the CAS that installs it, while a third thread looks both chunks up.
//! Whatever the interleaving:
//! - the loser of the CAS uses the winner's leaf: after the joins both regions are registered
//!   (no registration lost with a discarded leaf), and a chunk of another leaf reads "not ours";
//! - a reader that finds a region sees what its registrant wrote before `register` (the
//!   region's header, here a loom cell after the `RegionHead`), and reads the leaf's slots only
//!   after their creation (under loom a leaf's slots are loom atomics made by the installer, so a
//!   reader or a losing installer that reaches them without a happens-before edge is reported).
//!
//! Mutants caught by `two_installers_one_leaf_and_a_reader`: `registry_leaf_plain_store` (the
//! install a load and a store: "registration lost"), `registry_leaf_relaxed` (the installing
//! CAS Relaxed: "Causality violation" on the leaf's slots), `registry_slot_relaxed` (the
//! region's store Relaxed: "Causality violation" on the region's header, written by the
//! installer that lost the CAS, whose region the leaf's Release does not publish).
//!
//! Bounds: 3 threads, a table of 2 leaves of 2 chunks, `LOOM_MAX_PREEMPTIONS` (default 3).

#![cfg(hakmem_loom)]

mod support;

use std::ptr::NonNull;

use hakmem::model::config::SUPERSLAB_SHIFT;
use hakmem::model::{RegionHead, RegistryTable};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use support::model_reaching;

type Table = RegistryTable<2, 2>;

/// A region: the registry's head, then what the region's creator writes before registering it.
#[repr(C)]
struct Region {
    head: RegionHead,
    header: UnsafeCell<u64>,
}

/// The base address of chunk `c` (chunks 0 and 1 share leaf 0; 2 and 3 are leaf 1's).
fn chunk(c: usize) -> usize {
    c << SUPERSLAB_SHIFT
}

/// A raw region pointer that crosses threads; the registry orders every access to it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Reg(*mut Region);
// SAFETY: see above.
unsafe impl Send for Reg {}

/// Makes a region (its header written by this thread) and registers it for chunk `c`.
fn make_and_register(t: &Table, c: usize) -> Reg {
    // The creator's own look first (as `large`'s and `pool`'s callers have done other work
    // before): loom stamps a cell with its creator's clock, which advances only at the
    // creator's loom operations, so a cell made before any would read as made at the spawn,
    // before every other thread's reads.
    assert!(
        t.lookup(chunk(c)).is_null(),
        "chunk registered before its region exists"
    );
    let r = Box::into_raw(Box::new(Region {
        head: RegionHead { magic: c as u64 },
        header: UnsafeCell::new(1000 + c as u64),
    }));
    // SAFETY: `r` is a live box; `head` is its first field.
    let head = unsafe { NonNull::new_unchecked(core::ptr::addr_of_mut!((*r).head)) };
    assert!(t.register(chunk(c), head), "the mock cannot refuse a leaf");
    Reg(r)
}

/// Looks chunk `c` up from somewhere inside it; if registered, reads the region's header.
fn look(t: &Table, c: usize) -> Option<Reg> {
    let h = t.lookup(chunk(c) + 3);
    if h.is_null() {
        return None;
    }
    let r = h.cast::<Region>();
    // SAFETY: a registered region stays alive until the model's end; its header was written
    // before `register`, whose Release store the lookup's Acquire load read.
    let v = unsafe { (*r).header.with(|p| *p) };
    assert_eq!(
        v,
        1000 + c as u64,
        "a region's header read before it was written"
    );
    Some(Reg(r))
}

#[test]
#[cfg_attr(
    hakmem_mutant = "registry_leaf_plain_store",
    should_panic(expected = "registration lost")
)]
#[cfg_attr(
    any(
        hakmem_mutant = "registry_leaf_relaxed",
        hakmem_mutant = "registry_slot_relaxed"
    ),
    should_panic(expected = "Causality violation")
)]
fn two_installers_one_leaf_and_a_reader() {
    model_reaching(
        "registry",
        &[
            "reader saw neither",
            "reader saw chunk 0 only",
            "reader saw chunk 1 only",
            "reader saw both",
        ],
        || {
            let t = Arc::new(Table::new());
            let installers: Vec<_> = [0, 1]
                .into_iter()
                .map(|c| {
                    let t = t.clone();
                    thread::spawn(move || make_and_register(&t, c))
                })
                .collect();
            // The reader: both chunks while the installers run. The yield lets the installers run
            // first: without it loom (DPOR under the preemption bound) never ran a whole install
            // before the reader's loads, and the reader only ever saw "not ours" (96 executions,
            // `registry_slot_relaxed` uncaught; 4,801 with it).
            thread::yield_now();
            let early = [look(&t, 1), look(&t, 0)];
            support::reach(match (early[1].is_some(), early[0].is_some()) {
                (false, false) => "reader saw neither",
                (true, false) => "reader saw chunk 0 only",
                (false, true) => "reader saw chunk 1 only",
                (true, true) => "reader saw both",
            });
            let regs: Vec<Reg> = installers
                .into_iter()
                .map(|h| h.join().expect("installer panicked"))
                .collect();
            for (c, seen) in [(1, early[0]), (0, early[1])] {
                if let Some(r) = seen {
                    assert_eq!(r, regs[c], "lookup found another chunk's region");
                }
            }
            for (c, r) in regs.iter().enumerate() {
                assert_eq!(look(&t, c), Some(*r), "registration lost");
            }
            assert_eq!(
                look(&t, 2),
                None,
                "a chunk of another leaf reads registered"
            );
            for c in 0..2 {
                t.unregister(chunk(c));
                assert_eq!(look(&t, c), None, "unregistered chunk still found");
            }
            for r in regs {
                // SAFETY: unregistered, and every reader has joined.
                drop(unsafe { Box::from_raw(r.0) });
            }
        },
    );
}
