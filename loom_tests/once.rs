//! Model 13 — the profiler's stack table publication words (`prof::table`), driven through the
//! sync shim: `list::OncePtr` (the table's mapping, installed once: `Table::map` / `get`) and
//! `list::Seal` (an entry's hash: `Table::insert`'s claim and seal, `intern`'s and
//! `Entry::frames`'s loads).
//!
//! Claims:
//! - `two_installers_and_a_reader`: two threads each make an object (as `Table::map` maps the
//!   zeroed table) and install it while the model thread reads (after a yield): exactly one
//!   install wins, the loser then gets the winner's object, and whoever reaches the object sees
//!   its initialisation (a loom cell written before the install).
//! - `two_claimers_and_a_reader`: two threads intern different stacks whose home is the same
//!   entry (claim; if won, write the frames as the table does — Relaxed atomic stores — and seal
//!   with the hash; if lost to a sealed entry, compare its frames as `insert` does) while the
//!   model thread reads the entry as a dump does: whoever finds a sealed hash reads the frames
//!   written before the seal, and exactly one claimer wins.
//!
//! Mutants caught: `once_install_relaxed` (the install CAS Relaxed on success: "Causality
//! violation" on the object), `seal_relaxed` (the seal a Relaxed store: a reader of the hash reads
//! frames from before they were written, "a sealed entry's frames not seen").
//!
//! Bounds: 3 threads each, `LOOM_MAX_PREEMPTIONS`.

#![cfg(hakmem_loom)]

mod support;

use hakmem::model::{OncePtr, Seal};
use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicU64, Ordering};
use loom::sync::Arc;
use loom::thread;
use support::model_reaching;

/// A stand-in for the mapped table: its contents, a loom cell written before the install.
struct Object(UnsafeCell<u64>);

struct Once(OncePtr<Object>);
// SAFETY: the object is published through the atomic pointer (what the model checks).
unsafe impl Send for Once {}
// SAFETY: as above.
unsafe impl Sync for Once {}

/// The object's contents (0 when nothing is installed).
fn read(once: &Once) -> u64 {
    let p = once.0.get();
    if p.is_null() {
        return 0;
    }
    // SAFETY: installed objects are leaked, never freed; nobody writes them after the install.
    unsafe { (*p).0.with(|v| *v) }
}

#[test]
#[cfg_attr(
    hakmem_mutant = "once_install_relaxed",
    should_panic(expected = "Causality violation")
)]
fn two_installers_and_a_reader() {
    model_reaching(
        "once",
        &["reader saw none", "reader saw 1", "reader saw 2"],
        || {
            let once = Arc::new(Once(OncePtr::new()));
            let installers: Vec<_> = [1u64, 2]
                .into_iter()
                .map(|id| {
                    let once = once.clone();
                    thread::spawn(move || {
                        if !once.0.get().is_null() {
                            return false;
                        }
                        // Made by this thread, as `Table::map` maps its table.
                        let p = Box::into_raw(Box::new(Object(UnsafeCell::new(id))));
                        if once.0.install(p) {
                            return true;
                        }
                        // SAFETY: ours, never published (`Table::map` releases its mapping).
                        drop(unsafe { Box::from_raw(p) });
                        let v = read(&once);
                        assert!(v == 3 - id, "the loser does not see the winner's object");
                        false
                    })
                })
                .collect();
            thread::yield_now();
            support::reach(
                ["reader saw none", "reader saw 1", "reader saw 2"][read(&once) as usize],
            );
            let won: usize = installers
                .into_iter()
                .map(|t| t.join().expect("installer panicked") as usize)
                .sum();
            assert_eq!(won, 1, "not exactly one install won");
            let p = once.0.get();
            // SAFETY: the winner's object, leaked until now; the execution ends here.
            drop(unsafe { Box::from_raw(p) });
        },
    );
}

/// An entry: the hash word and two frames (Relaxed atomics, as `prof::table::Entry`'s).
struct Entry {
    hash: Seal,
    frames: [AtomicU64; 2],
}

/// The frames of the stack whose hash is `h`.
fn frames_of(h: u64) -> [u64; 2] {
    [h * 10, h * 10 + 1]
}

/// The entry's frames if its hash is sealed, as `Entry::frames` and `same_frames` read them.
fn sealed(e: &Entry) -> Option<(u64, [u64; 2])> {
    let h = e.hash.load();
    if h & 1 == 0 {
        return None;
    }
    // Relaxed, as `same_frames`: ordered by the seal's Acquire load.
    let f = [
        e.frames[0].load(Ordering::Relaxed),
        e.frames[1].load(Ordering::Relaxed),
    ];
    Some((h, f))
}

const UNSEEN: &str = "a sealed entry's frames not seen";

#[test]
#[cfg_attr(
    hakmem_mutant = "seal_relaxed",
    should_panic(expected = "a sealed entry's frames")
)]
fn two_claimers_and_a_reader() {
    model_reaching(
        "seal",
        &[
            "reader saw it empty or busy",
            "reader saw stack 1",
            "reader saw stack 3",
            "a loser compared sealed frames",
        ],
        || {
            let e = Arc::new(Entry {
                hash: Seal::new(),
                frames: [AtomicU64::new(0), AtomicU64::new(0)],
            });
            let claimers: Vec<_> = [1u64, 3]
                .into_iter()
                .map(|h| {
                    let e = e.clone();
                    thread::spawn(move || match e.hash.claim() {
                        Ok(()) => {
                            for (slot, f) in e.frames.iter().zip(frames_of(h)) {
                                slot.store(f, Ordering::Relaxed);
                            }
                            e.hash.seal(h);
                            true
                        }
                        Err(found) => {
                            if found & 1 == 1 {
                                // `insert` compares the found entry's frames with its own.
                                let f = [
                                    e.frames[0].load(Ordering::Relaxed),
                                    e.frames[1].load(Ordering::Relaxed),
                                ];
                                assert_eq!(f, frames_of(found), "{UNSEEN} (by a loser)");
                                support::reach("a loser compared sealed frames");
                            }
                            false
                        }
                    })
                })
                .collect();
            thread::yield_now();
            match sealed(&e) {
                None => support::reach("reader saw it empty or busy"),
                Some((h, f)) => {
                    assert_eq!(f, frames_of(h), "{UNSEEN}");
                    support::reach(if h == 1 {
                        "reader saw stack 1"
                    } else {
                        "reader saw stack 3"
                    });
                }
            }
            let won: usize = claimers
                .into_iter()
                .map(|t| t.join().expect("claimer panicked") as usize)
                .sum();
            assert_eq!(won, 1, "not exactly one claim won");
            let (h, f) = sealed(&e).expect("sealed after the joins");
            assert_eq!(f, frames_of(h), "{UNSEEN} (after the joins)");
        },
    );
}
