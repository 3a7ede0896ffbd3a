//! Foreign entries (`config::FOREIGN_ENTRIES`): a thread that frees a block of a slab another
//! thread owns keeps the block on its own TLS list and enters the slab, pinned, in its owned-slab
//! table, so that its later frees of that slab's blocks — the program keeps a reused block and
//! frees it on the same thread — take the owner's fast path unchanged (`front::free::free`:
//! entry hit, fused block check on the entry's divisor and limit, freed mark, push on the entry's
//! list, which is the freer's own). The table's invariant becomes: a matching entry is a slab the
//! thread owns, or a slab it pins; for both the entry's divisor, limit and list are right.
//!
//! Boundary: this box (the free side: `keep`) and the table (front/owned.rs: the foreign bits,
//! the pins' drops) are thread-private; the only shared state is the slab's pin word
//! (`Slab::pins`, its methods `pin`, `unpin`, `pinned_keep`, `release_wanted`) and
//! `slab::slab::PIN_WANTED_EPOCH`. In the box order it comes after `front::small` (a kept block
//! may make the list spill), before `front::free`, its only caller.
//!
//! The protocol (docs/ordering.md, loom model `loom_tests/pin.rs`):
//! 1. Pin. `keep` enters a foreign slab only while the calling thread holds a block of it (the one
//!    it is freeing): the slab's `used` counts that block, so the slab is bound to the block's
//!    class and no holder can release it; the pin is added before the block can leave the thread.
//! 2. Release. Whoever would unbind an empty slab — its owner (`small::returned`,
//!    `drain_notified`, `release_retired`, `retire_current`, `flush`) or the reclaim pass
//!    (`PublishList::reclaim`) — asks `Slab::pinned_keep` first, one RMW that also marks the
//!    release wanted. A pinned slab stays bound: on its owner's partial list (reused before a
//!    new slab is bound), or published; a later check that finds it unpinned releases it (the
//!    next time it empties, `collect`, the owner's exit, a reclaim pass).
//! 3. Unpin. A pinner drops a pin (entry first, then `Slab::unpin`, Release) on its own slow
//!    paths (`refill`, `spill`: `OwnedSlabs::drop_released`, after `PIN_WANTED_EPOCH` moved, the
//!    pins whose slab wants its release), when a table insert overwrites the entry, and all of
//!    them at `collect`, thread exit and when the heap becomes profiled
//!    (`OwnedSlabs::drop_all_foreign`). So a pin lives until the
//!    pinner's next slow path after its slab emptied, not until its entry is evicted.
//!
//! Why a holder never unbinds a slab a table names: the pin happens before the return of the
//! pinner's block (program order, then a Release push on the slab's remote queue — the pinner's
//! own, or that of whoever the program handed the block to), and a holder finds the slab empty
//! only after its Acquire drain took that block back; so its `pinned_keep` reads the pin, or
//! reads the count after the Release `unpin` that followed the entry's removal. While pinned, a
//! slab keeps its class (its divisor) and its `carve_limit` only grows, so the entry's divisor is
//! exact and its limit a lower bound. `Slab::unbind` aborts on a pinned slab.
//!
//! Who keeps (`config::FOREIGN_REUSERS`): only a freer that allocates the block's class (its
//! heap refilled the class since it started: `KeepBackoff::reuses`), so that a kept block is
//! likely to be handed out again; a thread that only frees a class (a consumer) pushes on the
//! slab's queue as before. With `config::SPILL_FORGETS_REUSE` a backoff that reaches
//! `config::SPILL_FORGET_LEVEL` clears `reuses` again (the thread is a consumer of the class until
//! its next refill).
//!
//! Following reuse (`config::FOREIGN_BACKOFF`, `KeepBackoff`): a freer that allocates the class
//! may still free it faster than it reuses what it keeps (a consumer that also allocates a
//! little: xmalloc, c-xmalloc); its kept blocks then fill its list and go back through the
//! spill, one more pass over each block than the direct push. A spill that returns more kept
//! blocks than own ones sets a per-class backoff: the next `FOREIGN_BACKOFF_FREES << level`
//! remote frees of the class are pushed on their slab's queue; each such spill raises the
//! level, each refill of the class (the thread ran its list dry: it reuses) lowers it. All of
//! it on slow paths (`free_remote`, `spill`, `refill`); the fast paths are unchanged.
//!
//! Ending with a thread (`config::FOREIGN_UNPIN_PUBLISHED`): an entry serves its slab's
//! blocks to the pinner for as long as it lives, which spreads the pinner's live set over the
//! slabs of others (larson: a generation's live set over 117-213 slabs instead of 88). So keeping
//! ends with either thread: an exiting owner that publishes a slab, and an exiting pinner for
//! each slab it pinned, mark the slab's release wanted (`Slab::unpin_wanted`, which moves
//! `PIN_WANTED_EPOCH` when pinned); the pinners drop their entries at their next slow path, and
//! `keep_or_push` keeps no block of a slab whose release is wanted, so its blocks go back
//! through its queue to its owner or, whole, to its adopter, until its holder takes it from its
//! partial list again (`next_partial`; a bind starts with no mark).
//!
//! Kept blocks are counted in their slab's `used` like any block out; the pinner's spill and
//! flush return them, a run per slab, to the slab's remote queue (`small::return_blocks`), never
//! to the pinner's own slab lists. The block is checked and marked at the free (`free_remote`'s
//! `retire`), so a second free finds the mark. Not kept: blocks of published slabs (their queue
//! is what the reclaim pass reads), a profiled heap's frees under the backout
//! `--cfg hakmem_no_prof_foreign` (with `config::PROF_FOREIGN` they go on its free side), and
//! with remote batches. Header mode keeps too (`config::FOREIGN_ENTRIES_HEADER`): the kept
//! block's list link consumes its header, and the pop that hands it out writes a new one
//! (`alloc::finish_header_at`), as for every block of a TLS list.

use core::ptr::NonNull;

use crate::config::{FOREIGN_REUSERS, FOREIGN_UNPIN_PUBLISHED, PROF_FOREIGN, PROF_FREE_SIDE};
use crate::env;
use crate::front::heap::{Heap, HeapKind};
use crate::front::small;
use crate::front::tls_sll::TlsList;
use crate::slab::block::Block;
use crate::slab::slab::Slab;
use crate::sync::Ordering;

/// The calling thread frees `b`, a checked and marked block of `slab`, bound to `class`, that it
/// does not own: the block goes on the list the thread's frees push on (its TLS list; a
/// profiled heap's free side, `config::PROF_FOREIGN`) and the slab into its table, pinned (or
/// its entry is rewritten, with the current carve bound), naming that list.
///
/// # Safety
/// `h` is the calling thread's live heap (unprofiled, or `config::PROF_FOREIGN`); `b` is a block
/// of `slab` being freed by the caller (live until now, checked and marked, on no list).
#[inline(never)]
pub unsafe fn keep(h: &Heap, slab: &Slab, b: NonNull<Block>, class: usize) {
    // SAFETY: per the contract.
    let local = unsafe { h.local_mut() };
    // A profiled heap's free side: its blocks reach the TLS list only through `profiling::fill`
    // and `swap_miss`, which debit them from the countdown like any freed block. Its entries
    // are dropped when the heap switches (`profiling::relink`), so an entry names the list of
    // the heap's current mode.
    let tls = local.free_list(class);
    // We hold `b` (counted in the slab's `used`): the slab is bound to `class` until after the
    // pin this may add.
    local
        .owned_mut()
        .insert_foreign(slab, class, crate::front::mark::key(), tls.cast());
    // SAFETY: our own live heap's list; `b` is ours.
    unsafe {
        let over = TlsList::push(tls, b);
        // A remote free (counted so): the push is no local free (`config::DERIVED_FREE_COUNT`).
        let i = if PROF_FREE_SIDE && local.profiled {
            crate::size_class::NUM_CLASSES + class
        } else {
            class
        };
        h.counters.class[i].room_moved(-1);
        if over {
            small::spill(h, class);
        }
    }
}

/// `free_remote`'s first test, in line: whether the calling thread may keep a block of class
/// `class` — it allocates the class (`config::FOREIGN_REUSERS`: it refilled the class,
/// `KeepBackoff::reuses`; a byte per class, one compare where the current slab's pointer,
/// 24 bytes apart per class, took an address computation too) — or its heap is a sentinel.
/// False says the heap is live: `free_remote` then bumps the heap's own counter, with no test of
/// its kind. The one test a consumer pays; the others are `keep_or_push`'s.
#[inline(always)]
pub fn may_keep(h: &Heap, class: usize) -> bool {
    // SAFETY: a read of the heap's own state: a live heap is the calling thread's; a sentinel
    // heap is never written (its bytes are the constant 1).
    !FOREIGN_REUSERS || unsafe { (*h.local_ptr()).keep.reuses(class) }
}

/// The rest of the keep test, out of line (`may_keep` passed): a live heap (unprofiled, or
/// `config::PROF_FOREIGN`) with the TLS hint, a slab with an owner (a published slab gets its
/// blocks back through its queue, for the reclaim pass) whose release is not wanted, a class not
/// backing off (`KeepBackoff`); then `keep`, else the push on the slab's remote queue that
/// `free_remote` would have made.
///
/// # Safety
/// `h` is the calling thread's heap; `b` is a checked, marked block of `slab` (bound to `class`)
/// being freed by the caller, which does not own the slab.
#[inline(never)]
pub unsafe fn keep_or_push(h: &Heap, slab: &Slab, b: NonNull<Block>, class: usize) {
    // `free_remote` counts only the frees `may_keep` sends straight to the queue.
    h.count(|c| &c.free_remote[class]);
    if h.kind == HeapKind::Live
        && env::tls_hint()
        // SAFETY: a read of our own live heap's flag.
        && !(PROF_FREE_SIDE && !PROF_FOREIGN && unsafe { (*h.local_ptr()).profiled })
        // ORDERING: Relaxed — a hint: either answer is correct.
        && !slab.owner.load(Ordering::Relaxed).is_null()
        // Not a slab whose release is wanted: an exited owner published it (its blocks go to
        // its adopter, whole) or its holder would release it (`config::FOREIGN_UNPIN_PUBLISHED`).
        && !(FOREIGN_UNPIN_PUBLISHED && slab.release_wanted())
        // SAFETY: our own live heap's state; no other reference to it is live here.
        && unsafe { h.local_mut() }.keep.take(class)
    {
        // SAFETY: our own live heap, unprofiled or `PROF_FOREIGN`; a checked, marked block of
        // this slab.
        return unsafe { keep(h, slab, b, class) };
    }
    // SAFETY: a checked block of this slab, being freed by the caller.
    unsafe { slab.free_remote(b, env::force_notify()) };
}
