//! Model 12 — the push-only lock-free list (`list::PushList`, the profiler's arenas:
//! `prof::arena::ARENAS`), driven through the sync shim like the registry's leaf (model 9).
//!
//! Claim (`two_pushers_and_a_walker`): two threads each make a node (as `prof::arena` maps and
//! initialises an arena) and push it, while the model thread walks the list from `head` (after a
//! yield, see docs/verification.md "A reader on the model thread needs a yield"): every node the
//! walker reaches is one of the two, reached once, with its initialisation (a loom cell written
//! before the push) and its link seen; after the joins the list holds exactly both nodes.
//!
//! Mutant caught: `push_list_relaxed` (the push CAS Relaxed on success: the walker reaches a
//! node without an edge to its initialisation — "Causality violation").
//!
//! Bounds: 3 threads (2 pushers and the walker), 2 nodes, `LOOM_MAX_PREEMPTIONS`.

#![cfg(hakmem_loom)]

mod support;

use hakmem::model::{PushList, Pushed};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use support::model_reaching;

/// A node standing for an arena: its link and its header (a loom cell, so that an access without
/// a happens-before edge to its initialisation is reported).
struct Node {
    next: UnsafeCell<*mut Node>,
    header: UnsafeCell<u64>,
}

impl Pushed for Node {
    unsafe fn set_next(node: *mut Self, next: *mut Self) {
        // SAFETY: not yet published: only the pusher reaches it.
        unsafe { (*node).next.with_mut(|p| *p = next) };
    }

    unsafe fn next(node: *mut Self) -> *mut Self {
        // SAFETY: a published node, never freed within the execution; the link is read-only now.
        unsafe { (*node).next.with(|p| *p) }
    }
}

/// A `PushList` shared by the model's threads (its nodes are raw pointers).
struct List(PushList<Node>);
// SAFETY: the list's nodes are published through its atomic head (what the model checks).
unsafe impl Send for List {}
// SAFETY: as above.
unsafe impl Sync for List {}

/// The headers of the walk from `head`, in list order; checks each node is reached once.
fn walk(list: &List) -> Vec<u64> {
    let mut seen = Vec::new();
    let mut n = list.0.head();
    while !n.is_null() {
        assert!(seen.len() < 2, "the list holds more nodes than were pushed");
        // SAFETY: a published node, live until the execution ends.
        seen.push(unsafe { (*n).header.with(|p| *p) });
        // SAFETY: as above.
        n = unsafe { Node::next(n) };
    }
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "a node reached twice");
    seen
}

#[test]
#[cfg_attr(
    hakmem_mutant = "push_list_relaxed",
    should_panic(expected = "Causality violation")
)]
fn two_pushers_and_a_walker() {
    model_reaching(
        "push list",
        &[
            "walker saw none",
            "walker saw 1",
            "walker saw 2",
            "walker saw both",
        ],
        || {
            let list = Arc::new(List(PushList::new()));
            let pushers: Vec<_> = [1u64, 2]
                .into_iter()
                .map(|id| {
                    let list = list.clone();
                    thread::spawn(move || {
                        // Made by the pushing thread (an arena is mapped and initialised by its
                        // thread); leaked like an arena, which is never unmapped.
                        let node = Box::into_raw(Box::new(Node {
                            next: UnsafeCell::new(std::ptr::null_mut()),
                            header: UnsafeCell::new(id),
                        }));
                        // SAFETY: a fresh node that only this thread reaches.
                        unsafe { list.0.push(node) };
                    })
                })
                .collect();
            thread::yield_now();
            let seen = walk(&list);
            for h in &seen {
                assert!(*h == 1 || *h == 2, "a node's header not its initialisation");
            }
            support::reach(match seen.as_slice() {
                [] => "walker saw none",
                [1] => "walker saw 1",
                [2] => "walker saw 2",
                _ => "walker saw both",
            });
            for p in pushers {
                p.join().expect("pusher panicked");
            }
            let mut all = walk(&list);
            all.sort_unstable();
            assert_eq!(all, [1, 2], "a push lost");
        },
    );
}
