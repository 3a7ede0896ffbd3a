//! Remote-batch box: a thread's per-slab batches of the blocks it frees into slabs other threads
//! own, each pushed onto its slab's remote queue with one CAS (`Slab::free_remote_chain`) instead
//! of one CAS per block (switch `REMOTE_BATCH`, off by default, on with `--cfg
//! hakmem_remote_batch`: on the 2-core machine it did not pay, see config.rs). snmalloc batches
//! its remote frees the same way.
//!
//! Boundary: thread-private; no atomics of its own. A block enters a batch after `free_remote`
//! checked and marked it (`retire`), so a batched block is as free as a queued one: a second free
//! of it finds the freed mark. Blocks leave only through `flush`, the slab's ordinary remote push
//! — nothing else (the owner's drain, adoption, publication) changes.
//!
//! Bounds: a batch is pushed when it holds `limit` blocks (`REMOTE_BATCH_MAX`, fewer for large
//! classes: at most `REMOTE_BATCH_BYTES`), when another slab needs its entry (direct-mapped by
//! slab address), at thread exit and at `collect` (`flush_all`). So a thread holds at most
//! `REMOTE_BATCH_ENTRIES * REMOTE_BATCH_BYTES` bytes of other threads' freed blocks, and a thread
//! that stops freeing keeps them until it exits or calls `collect`.
//!
//! Invariant (the slab's conservation equation, src/slab/slab.rs): a batched block is counted
//! in its slab's `used` as a live block, so the slab cannot be emptied or unbound while a batch
//! holds any of its blocks; the `*const Slab` of an entry stays valid (slab metadata lives in
//! the SuperSlab header, never unmapped) whoever owns the slab by the time of the push.

use core::ptr::NonNull;

use crate::config::{REMOTE_BATCH_BYTES, REMOTE_BATCH_ENTRIES, REMOTE_BATCH_MAX, SLAB_SIZE};
use crate::size_class::class_size;
use crate::slab::block::{Block, BlockPtr};
use crate::slab::slab::Slab;

/// One slab's batch: `limit - left` blocks linked from `head` to `tail` through `Block::next`.
#[derive(Clone, Copy)]
struct Batch {
    /// The slab the blocks belong to; null when the entry is empty.
    slab: *const Slab,
    head: BlockPtr,
    tail: BlockPtr,
    /// Blocks the batch takes before it is pushed: `limit - left` blocks are in it. A
    /// countdown, so that `add` tests the bound with one decrement (no load of the limit).
    left: u32,
    /// Blocks after which the batch is pushed (by the class size).
    limit: u32,
}

const EMPTY: Batch = Batch {
    slab: core::ptr::null(),
    head: core::ptr::null_mut(),
    tail: core::ptr::null_mut(),
    left: 0,
    limit: 0,
};

/// A thread's batches, direct-mapped by slab address.
pub struct RemoteBatches {
    e: [Batch; REMOTE_BATCH_ENTRIES],
}

/// Blocks a batch of class `class` collects before it is pushed.
fn limit(class: usize) -> u32 {
    (REMOTE_BATCH_BYTES / class_size(class)).clamp(1, REMOTE_BATCH_MAX) as u32
}

impl RemoteBatches {
    pub const fn new() -> Self {
        Self {
            e: [EMPTY; REMOTE_BATCH_ENTRIES],
        }
    }

    /// Adds `b`, a block of `slab` (class `class`) that the calling thread does not own, just
    /// checked and marked free, to the slab's batch; pushes the batch when it is full, and the
    /// batch of another slab that held the entry.
    ///
    /// # Safety
    /// `b` is a block of `slab`, bound to `class`, being freed by the caller (live until now, on
    /// no list); `force_notify` as for `Slab::free_remote`.
    #[inline(always)]
    pub unsafe fn add(&mut self, slab: &Slab, b: NonNull<Block>, class: usize, force_notify: bool) {
        let e = &mut self.e[(b.as_ptr() as usize / SLAB_SIZE) % REMOTE_BATCH_ENTRIES];
        if core::ptr::eq(e.slab, slab) {
            // SAFETY: the caller owns `b`; the batch's blocks are ours until the push.
            unsafe { Block::set_next(b, e.head) };
            e.head = b.as_ptr();
            e.left -= 1;
            if e.left == 0 {
                // SAFETY: a batch of ours.
                unsafe { flush(e, force_notify) };
            }
            return;
        }
        // SAFETY: forwarded contract.
        unsafe { start(e, slab, b, class, force_notify) };
    }

    /// Pushes every batch (thread exit, `collect`).
    pub fn flush_all(&mut self, force_notify: bool) {
        for e in &mut self.e {
            if !e.slab.is_null() {
                // SAFETY: a batch of ours.
                unsafe { flush(e, force_notify) };
            }
        }
    }
}

impl Default for RemoteBatches {
    fn default() -> Self {
        Self::new()
    }
}

/// The entry held another slab's batch, or none: push that one, start `slab`'s with `b` (or push
/// `b` at once if its class allows one block per batch).
///
/// # Safety
/// As for `RemoteBatches::add`.
#[cold]
#[inline(never)]
unsafe fn start(e: &mut Batch, slab: &Slab, b: NonNull<Block>, class: usize, force_notify: bool) {
    if !e.slab.is_null() {
        // SAFETY: a batch of ours.
        unsafe { flush(e, force_notify) };
    }
    let limit = limit(class);
    if limit == 1 {
        // SAFETY: forwarded contract.
        return unsafe { slab.free_remote(b, force_notify) };
    }
    *e = Batch {
        slab,
        head: b.as_ptr(),
        tail: b.as_ptr(),
        left: limit - 1,
        limit,
    };
}

/// Pushes a non-empty batch onto its slab's remote queue and empties the entry.
///
/// # Safety
/// `e` is a non-empty batch of the calling thread's.
#[inline(never)]
unsafe fn flush(e: &mut Batch, force_notify: bool) {
    let b = core::mem::replace(e, EMPTY);
    // SAFETY: a non-empty batch: its slab's metadata is never unmapped, its blocks are ours and
    // linked from head to tail, and counted in the slab's `used` (so the slab is still bound).
    unsafe {
        (*b.slab).free_remote_chain(
            NonNull::new_unchecked(b.head),
            NonNull::new_unchecked(b.tail),
            b.limit - b.left,
            force_notify,
        )
    };
}
