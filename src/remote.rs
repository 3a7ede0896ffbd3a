//! Remote box: the lock-free queue through which a thread frees a block of a slab it does not own,
//! and the owner's notification word.
//!
//! Boundary: `RemoteQueue::push` is the only thing a non-owner does to a slab's blocks, and it has
//! no side effect beyond the queue; `take_all` is called only by the slab's owner (or an adopter
//! that has just won the ownership CAS) at the single drain -> bind -> owner-acquire boundary in
//! refill/adopt. `Owner::notify` sets one bit in the owner's pending word and nothing else.
//!
//! The queue is a Treiber stack with push-one / take-all: no pop of a single element, hence no ABA.

use core::ptr::NonNull;

use crate::mutant;
use crate::slab::block::{Block, BlockPtr};
use crate::sync::{const_fn, AtomicU64, Ordering};

/// A slab's multi-producer, single-consumer queue of remotely freed blocks.
///
/// The head word packs the queue's length beside its first block: `count << 48 | address`,
/// `0` when empty. A push adds its chain's length in the same CAS that links it, so the owner
/// learns how many blocks it took from the one swap, without walking them (`Slab::take_remote`
/// hands a short chain to the TLS list unread: a remotely freed block is next read by its next
/// user). Addresses fit 48 bits (`Slab::new` checks the slab's), counts fit 16: a count is at
/// most the blocks out, which the owner checks at every take, and a slab or span holds fewer
/// than 2^16 blocks. Blocks are rebuilt from the slab's data pointer (`base.with_addr`, strict
/// provenance).
pub struct RemoteQueue {
    head: AtomicU64,
}

/// Bits of a head word that hold the first block's address.
pub const ADDR_BITS: u32 = 48;
const ADDR_MASK: u64 = (1 << ADDR_BITS) - 1;
const _: () = assert!(
    crate::config::SLAB_SIZE / crate::config::MIN_ALIGN < 1 << (64 - ADDR_BITS)
        && crate::config::MAX_SPAN_BYTES / crate::config::MAX_SMALL_SIZE < 1 << (64 - ADDR_BITS),
    "a slab's or span's block count fits the head word's count"
);

/// The first block of a head word (null when empty), with the provenance of `base`.
#[inline(always)]
fn first(base: *mut u8, word: u64) -> BlockPtr {
    base.with_addr((word & ADDR_MASK) as usize).cast()
}

impl RemoteQueue {
    const_fn! {
        pub fn new() -> Self {
            Self {
                head: AtomicU64::new(0),
            }
        }
    }

    /// Pushes a chain of `n` freed blocks, `head` to `tail` linked through `Block::next` (one
    /// block, or a remote freer's batch for this slab, `front::remote_batch`), with one CAS.
    /// Returns true when the queue was empty before (the "first" remote free since the last
    /// drain, the one that notifies the owner unless `force-notify`).
    ///
    /// # Safety
    /// `base` is the slab's data pointer; every block of the chain is a block of this queue's
    /// slab that the caller owns and that no other list holds; the chain's links from `head`
    /// reach `tail` (its own link is overwritten) in `n >= 1` blocks.
    #[inline]
    pub unsafe fn push(
        &self,
        base: *mut u8,
        head: NonNull<Block>,
        tail: NonNull<Block>,
        n: u32,
    ) -> bool {
        // ORDERING: Relaxed — the loaded head is only a guess; the CAS below validates it.
        let mut old = self.head.load(Ordering::Relaxed);
        let guess_first = old == 0;
        // The new head word less the old count: the chain's head and length.
        let add = head.as_ptr().addr() as u64 + (u64::from(n) << ADDR_BITS);
        loop {
            let next = old & ADDR_MASK;
            // SAFETY: the caller owns the chain; nobody else reads its links until the CAS
            // publishes them.
            unsafe { Block::set_next(tail, base.with_addr(next as usize).cast()) };
            // `old - next` is the old count, shifted.
            let new = (old - next) + add;
            // ORDERING: AcqRel on success. Release publishes the chain's links just written and
            // the users' last writes to its blocks (pairs with the Acquire half of `take_all`).
            // Acquire makes a push that lands after a drain see everything before that drain — in
            // particular the adopt CAS that preceded an adopter's drain — so the owner this freer
            // then reads for its notification is the adopter, not the exited owner (loom:
            // notify::adopted_slab_notifies_adopter). Relaxed on failure: we only retry.
            match self
                .head
                .compare_exchange_weak(old, new, mutant::REMOTE_PUSH, Ordering::Relaxed)
            {
                // "First" is what the CAS replaced (the mutant answers from the first guess).
                Ok(_) if mutant::PUSH_FIRST_STALE => return guess_first,
                Ok(_) => return old == 0,
                Err(h) => old = h,
            }
        }
    }

    /// Takes every queued block, leaving the queue empty. Returns the list head (linked through
    /// `Block::next`, the last link null) and how many blocks it holds.
    ///
    /// `base` is the slab's data pointer.
    #[inline]
    pub fn take_all(&self, base: *mut u8) -> (BlockPtr, u32) {
        // ORDERING: AcqRel. Acquire makes every pushed block's link (and its content) visible;
        // pairs with the Release half of the CAS in `push`. Release lets a later push (whose CAS
        // reads this swap) see the drainer's earlier ownership CAS; see `push`. The swap reads
        // the latest head in modification order, so no push that completed before it is missed.
        let w = self.head.swap(0, mutant::TAKE_ALL);
        (first(base, w), (w >> ADDR_BITS) as u32)
    }

    /// The number of queued blocks, walked by the slab's holder for the structural validator
    /// (`Slab::debug_check`); `None` if there are more than `bound` (a cycle, or more blocks than
    /// are out) or if the walk disagrees with the count in the head word. Pushes racing with the
    /// walk land in front of the head it loaded, so it counts a snapshot.
    ///
    /// # Safety
    /// The caller holds the slab: no `take_all` runs during the walk, so the queued blocks and
    /// their links stay as they are. `base` is the slab's data pointer.
    pub unsafe fn count(&self, base: *mut u8, bound: usize) -> Option<usize> {
        // ORDERING: Acquire — makes the links of the blocks pushed before this load visible, as
        // the Acquire of `take_all` does; pairs with the Release CAS in `push`.
        let w = self.head.load(Ordering::Acquire);
        let mut cur = first(base, w);
        let mut n = 0;
        while let Some(b) = NonNull::new(cur) {
            n += 1;
            if n > bound {
                return None;
            }
            // SAFETY: a queued block; its link was published by its push (Acquire above).
            cur = unsafe { Block::next(b) };
        }
        (n == (w >> ADDR_BITS) as usize).then_some(n)
    }

    /// True if blocks are waiting. A hint only: a push may land right after.
    #[inline]
    pub fn is_nonempty(&self) -> bool {
        // ORDERING: Relaxed — a hint; the owner acts on it through `take_all`'s Acquire swap.
        self.head.load(Ordering::Relaxed) != 0
    }
}

impl Default for RemoteQueue {
    fn default() -> Self {
        Self::new()
    }
}

/// Words of the notification bitmap: one bit per class id, small and medium.
pub const PENDING_WORDS: usize = 3;

const _: () = assert!(
    crate::size_class::TOTAL_CLASSES <= 64 * PENDING_WORDS,
    "class ids must fit the pending bitmap"
);

/// The part of a thread heap that other threads may touch: the notification words saying which
/// class ids (small and medium) have slabs with remote frees waiting. Heaps are never freed (they are recycled),
/// so a stale `*const Owner` read from a slab is always safe to notify (a spurious bit costs one
/// scan; it never loses a block because adopters and exiting owners drain unconditionally).
#[repr(C)]
pub struct Owner {
    pending: [AtomicU64; PENDING_WORDS],
}

impl Owner {
    const_fn! {
        pub fn new() -> Self {
            Self {
                // Written out: loom's atomics have no const constructor for `[const { … }; N]`.
                pending: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
            }
        }
    }

    /// Marks `class` as having remote frees waiting.
    #[inline]
    pub fn notify(&self, class: usize) {
        // ORDERING: Release — orders the caller's preceding queue push before the bit; pairs with
        // the Acquire swap in `take_pending`, so an owner that sees the bit sees the block.
        self.pending[class / 64].fetch_or(1 << (class % 64), mutant::NOTIFY);
    }

    /// Clears and returns whether `class` was marked.
    #[inline]
    pub fn take_pending(&self, class: usize) -> bool {
        let bit = 1u64 << (class % 64);
        let word = &self.pending[class / 64];
        // ORDERING: Relaxed — a cheap pre-check; the fetch_and below synchronises.
        if word.load(Ordering::Relaxed) & bit == 0 {
            return false;
        }
        // ORDERING: Acquire — pairs with the Release fetch_or in `notify`.
        word.fetch_and(!bit, Ordering::Acquire) & bit != 0
    }

    /// Clears every bit (the heap is being recycled).
    pub fn clear(&self) {
        for w in &self.pending {
            // ORDERING: Relaxed — the heap is not reachable from any thread's TLS now; a late
            // notification from a stale reader only costs a spurious scan.
            w.store(0, Ordering::Relaxed);
        }
    }
}

impl Default for Owner {
    fn default() -> Self {
        Self::new()
    }
}
