//! The intrusive doubly-linked list, written once: a heap's owner lists of slabs
//! (`front/heap.rs`), the publish lists (`adopt.rs`) and the pool's SuperSlab lists (`pool.rs`)
//! are all this list.
//!
//! Boundary: link surgery only — push at the head, unlink from anywhere, both O(1). A node carries
//! its `Links` inside its own (holder-only) state and says where through `Node::links`; what a
//! list means (which kind, which counts) stays with its user. No atomics: whoever holds the list
//! (a heap's owner, or the holder of the publish-list or pool lock) is the only thread touching its links.
//!
//! Also the profiler's lock-free publication words, written once here so that loom checks them
//! through the sync shim: the push-only list (`PushList`: the arenas; `loom_tests/push_list.rs`),
//! the pointer installed once (`OncePtr`: the stack table's mapping) and the word claimed, then
//! sealed with a value (`Seal`: a stack table entry's hash; both `loom_tests/once.rs`).
//!
//! Invariant: for every node `n` on a list with head `h`: `n.prev == null` ⇔ `h == n`, and
//! `n.next.prev == n` when `n.next != null`; a node not on any list has both links null
//! (checked by `push_front` in debug builds).

use crate::mutant;
use crate::sync::{const_fn, AtomicPtr, AtomicU64, Ordering};

/// A node's two links.
#[derive(Debug)]
pub struct Links<T> {
    pub prev: *mut T,
    pub next: *mut T,
}

impl<T> Links<T> {
    pub const fn new() -> Self {
        Self {
            prev: core::ptr::null_mut(),
            next: core::ptr::null_mut(),
        }
    }
}

impl<T> Default for Links<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A type whose values can be on an intrusive list.
pub trait Node: Sized {
    /// Runs `f` on the links of `node`.
    ///
    /// # Safety
    /// `node` is live, and the caller holds the list it is on (or is about to be put on): no
    /// other thread touches its links.
    unsafe fn links<R>(node: *mut Self, f: impl FnOnce(&mut Links<Self>) -> R) -> R;
}

/// Puts `node` (on no list) at the head of the list `head`.
///
/// # Safety
/// As `Node::links`, for `node` and every node on the list.
pub unsafe fn push_front<T: Node>(head: &mut *mut T, node: *mut T) {
    let old = *head;
    // SAFETY: the caller holds the list and `node`.
    unsafe {
        T::links(node, |l| {
            debug_assert!(l.prev.is_null() && l.next.is_null(), "node already linked");
            l.prev = core::ptr::null_mut();
            l.next = old;
        });
        if !old.is_null() {
            T::links(old, |l| l.prev = node);
        }
    }
    *head = node;
}

/// Takes `node` off the list `head`; its links are null afterwards.
///
/// # Safety
/// As `Node::links`; `node` is on the list `head`.
pub unsafe fn unlink<T: Node>(head: &mut *mut T, node: *mut T) {
    // SAFETY: the caller holds the list, so every node on it (and their links) is ours to touch.
    unsafe {
        let (prev, next) = T::links(node, |l| {
            (
                core::mem::replace(&mut l.prev, core::ptr::null_mut()),
                core::mem::replace(&mut l.next, core::ptr::null_mut()),
            )
        });
        if prev.is_null() {
            debug_assert!(*head == node, "unlinking a node that is not on this list");
            *head = next;
        } else {
            T::links(prev, |l| l.next = next);
        }
        if !next.is_null() {
            T::links(next, |l| l.prev = prev);
        }
    }
}

/// The node after `node`, or null.
///
/// # Safety
/// As `Node::links`.
#[inline]
pub unsafe fn next<T: Node>(node: *mut T) -> *mut T {
    // SAFETY: forwarded contract.
    unsafe { T::links(node, |l| l.next) }
}

#[cfg(all(test, not(hakmem_loom)))]
mod tests {
    use super::*;

    struct N {
        id: u32,
        links: Links<N>,
    }

    impl Node for N {
        unsafe fn links<R>(node: *mut Self, f: impl FnOnce(&mut Links<Self>) -> R) -> R {
            // SAFETY: the tests own every node.
            f(unsafe { &mut (*node).links })
        }
    }

    fn ids(head: *mut N) -> Vec<u32> {
        let mut out = Vec::new();
        let mut n = head;
        while !n.is_null() {
            // SAFETY: every node of the test is live.
            unsafe {
                let next = next(n);
                if !next.is_null() {
                    assert_eq!((*next).links.prev, n, "back link of {}", (*next).id);
                }
                out.push((*n).id);
                n = next;
            }
        }
        out
    }

    #[test]
    fn push_and_unlink_anywhere() {
        let mut nodes: Vec<N> = (0..4)
            .map(|id| N {
                id,
                links: Links::new(),
            })
            .collect();
        let p: Vec<*mut N> = nodes.iter_mut().map(|n| n as *mut N).collect();
        let mut head = core::ptr::null_mut();
        // SAFETY: the nodes outlive the list and are touched by this thread only.
        unsafe {
            for &n in &p {
                push_front(&mut head, n);
            }
            assert_eq!(ids(head), [3, 2, 1, 0]);
            unlink(&mut head, p[2]); // middle
            assert_eq!(ids(head), [3, 1, 0]);
            unlink(&mut head, p[3]); // head
            assert_eq!(ids(head), [1, 0]);
            unlink(&mut head, p[0]); // tail
            assert_eq!(ids(head), [1]);
            assert!((*p[0]).links.prev.is_null() && (*p[0]).links.next.is_null());
            push_front(&mut head, p[2]);
            assert_eq!(ids(head), [2, 1]);
            unlink(&mut head, p[1]);
            unlink(&mut head, p[2]);
        }
        assert!(head.is_null());
    }
}

/// A node of a `PushList`: its link to the next older node, written before each push attempt
/// and never again once the node is on the list.
pub trait Pushed: Sized {
    /// Sets `node`'s link.
    ///
    /// # Safety
    /// `node` is live and not on the list yet: only the caller reaches it.
    unsafe fn set_next(node: *mut Self, next: *mut Self);

    /// `node`'s link.
    ///
    /// # Safety
    /// `node` was reached from `PushList::head` (or a link after it) of a list it was pushed on.
    unsafe fn next(node: *mut Self) -> *mut Self;
}

/// A lock-free list that only grows: nodes are pushed at the head with one CAS and never taken
/// off, so a reader walks it without a lock and without ABA (the profiler's arenas; the same
/// shape as the heaps' `ALL_HEAPS`). Whatever a pusher wrote to its node before `push` (its
/// initialisation, its link) happens-before a reader's access through `head` and the links.
pub struct PushList<T> {
    head: AtomicPtr<T>,
}

impl<T: Pushed> PushList<T> {
    const_fn! {
        pub fn new() -> Self {
            Self {
                head: AtomicPtr::new(core::ptr::null_mut()),
            }
        }
    }

    /// The newest node (null when empty); older ones through `Pushed::next`.
    #[inline(always)]
    pub fn head(&self) -> *mut T {
        // ORDERING: Acquire — pairs with the Release CAS in `push`: the node's initialisation
        // and link are seen. Older nodes too: each later push is an RMW of the head, so it
        // continues the release sequence of every earlier push, and this load synchronises
        // with all of them.
        self.head.load(Ordering::Acquire)
    }

    /// Puts `node` at the head.
    ///
    /// # Safety
    /// `node` is live, never freed, not on the list, and only the caller reaches it.
    #[inline(always)]
    pub unsafe fn push(&self, node: *mut T) {
        // ORDERING: Relaxed — a guess at the head; the CAS decides.
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            // SAFETY: not yet published (the contract).
            unsafe { T::set_next(node, head) };
            // ORDERING: Release on success — publishes the node and its link (pairs with
            // `head`'s Acquire). Relaxed on failure: only a new guess.
            match self
                .head
                .compare_exchange_weak(head, node, mutant::PUSH_LIST, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(now) => head = now,
            }
        }
    }
}

impl<T: Pushed> Default for PushList<T> {
    /// As `new` (clippy's `new_without_default` under `--cfg hakmem_loom`, where `new` is not a
    /// `const fn`).
    fn default() -> Self {
        Self::new()
    }
}

/// A pointer installed at most once, lock-free: whoever needs the object makes one and tries to
/// install it; a loser gives its own back and uses the winner's (the profiler's stack table).
pub struct OncePtr<T> {
    p: AtomicPtr<T>,
}

impl<T> OncePtr<T> {
    const_fn! {
        pub fn new() -> Self {
            Self {
                p: AtomicPtr::new(core::ptr::null_mut()),
            }
        }
    }

    /// The installed object, or null.
    #[inline(always)]
    pub fn get(&self) -> *mut T {
        // ORDERING: Acquire — pairs with the Release CAS in `install`: the object's
        // initialisation is seen.
        self.p.load(Ordering::Acquire)
    }

    /// Installs `p` if nothing is installed; false if another object was first (`p` stays the
    /// caller's, never seen by anyone else; `get` gives the winner's).
    #[inline(always)]
    pub fn install(&self, p: *mut T) -> bool {
        // ORDERING: Release on success — publishes `p`'s initialisation (pairs with `get`).
        // Relaxed on failure: the loser reads the winner's object through `get`.
        self.p
            .compare_exchange(
                core::ptr::null_mut(),
                p,
                mutant::ONCE_INSTALL,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// The installed object or null, on a process's only thread (a forked child's reset).
    pub fn get_alone(&self) -> *mut T {
        // ORDERING: Relaxed — no other thread exists.
        self.p.load(Ordering::Relaxed)
    }

    /// Forgets the installed object, on a process's only thread.
    pub fn forget_alone(&self) {
        // ORDERING: Relaxed — no other thread exists.
        self.p.store(core::ptr::null_mut(), Ordering::Relaxed);
    }
}

impl<T> Default for OncePtr<T> {
    /// As `new` (clippy's `new_without_default` under `--cfg hakmem_loom`, where `new` is not a
    /// `const fn`).
    fn default() -> Self {
        Self::new()
    }
}

/// A word that is 0 (empty), then `Seal::BUSY` (claimed: its holder writes the record the word
/// guards), then a value (odd, never 0 nor `BUSY`) sealed for good: whoever loads the value sees
/// the record written before the seal (a stack table entry's hash guarding its frames).
#[repr(transparent)]
pub struct Seal(AtomicU64);

impl Seal {
    /// The claimed, not yet sealed, state.
    pub const BUSY: u64 = 2;

    /// An empty word (the models'; the table's entries are mapped zeros, which are empty words).
    #[cfg(hakmem_loom)]
    #[allow(
        clippy::new_without_default,
        reason = "the models' constructor only: shipped words are mapped zeros, never constructed"
    )]
    pub fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// 0, `BUSY`, or the sealed value (then its record is seen).
    #[inline(always)]
    pub fn load(&self) -> u64 {
        // ORDERING: Acquire — pairs with the Release store in `seal`.
        self.0.load(Ordering::Acquire)
    }

    /// Claims an empty word for the caller, who writes the record and then `seal`s it; else the
    /// word as found (a sealed value's record is seen).
    #[inline(always)]
    pub fn claim(&self) -> Result<(), u64> {
        // ORDERING: Relaxed on success — the word is the claimer's, nothing is read through it.
        // Acquire on failure — pairs with `seal`: a found value's record is read next.
        self.0
            .compare_exchange(0, Self::BUSY, Ordering::Relaxed, Ordering::Acquire)
            .map(|_| ())
    }

    /// Seals the claimed word with `v`: the record written before is published.
    #[inline(always)]
    pub fn seal(&self, v: u64) {
        debug_assert!(v & 1 == 1, "a sealed value is odd");
        // ORDERING: Release — publishes the record (pairs with `load` and `claim`'s failure).
        self.0.store(v, mutant::SEAL);
    }
}
