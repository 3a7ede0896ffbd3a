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
//! The hit path (`config::BATCH_HIT`): each entry also carries copies of its slab's data address,
//! class, fused divisor and carve limit, so that `free_unowned` links a block of a slab whose
//! batch the thread holds right after its hint hit (`hit`, `link`), with no read of the slab's
//! record. The copies are exact while the batch holds a block (below); the carve limit is a
//! lower bound, and a block it refuses takes the full path into the same batch.
//!
//! Invariant (the slab's conservation equation, src/slab/slab.rs): a batched block is counted
//! in its slab's `used` as a live block, so the slab cannot be emptied or unbound while a batch
//! holds any of its blocks; the `*const Slab` of an entry stays valid (slab metadata lives in
//! the SuperSlab header, never unmapped) whoever owns the slab by the time of the push.

use core::ptr::NonNull;

use crate::config::{REMOTE_BATCH_BYTES, REMOTE_BATCH_ENTRIES, REMOTE_BATCH_MAX, SLAB_SIZE};
use crate::size_class::{block_index, class_size, fused_divisor};
use crate::slab::block::{Block, BlockPtr};
use crate::slab::slab::{carve_limit_of, divisor_of, Slab};
use crate::sync::Ordering;

/// One slab's batch: `limit - left` blocks linked from `head` to `tail` through `Block::next`.
/// One cache line: `config::BATCH_HIT`'s test reads `data`, `divisor`, `carve`, `head`, `left`
/// and `class` together.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub struct Batch {
    /// The slab's data address (`Slab::data`); 0 when the entry is empty.
    data: usize,
    /// The class's fused-check divisor (`slab::divisor_of`); 0 when empty.
    divisor: u64,
    /// `carve_limit_of` the slab's carve bound when the batch started: `off * divisor` (wrapping)
    /// is below it iff `off` is a block boundary of the class carved by then (a lower bound of
    /// the slab's carved blocks, which only grow while the slab is bound). 0 when empty, which
    /// refuses every offset (so does a stale entry's `data` never matching a pointer of ours).
    carve: u64,
    head: BlockPtr,
    /// The slab the blocks belong to; null when the entry is empty.
    slab: *const Slab,
    tail: BlockPtr,
    /// Blocks the batch takes before it is pushed: `limit - left` blocks are in it. A
    /// countdown, so that `add` tests the bound with one decrement (no load of the limit).
    left: u32,
    /// Blocks after which the batch is pushed (by the class size).
    limit: u16,
    /// The slab's class.
    class: u16,
}

const _: () = assert!(crate::size_class::NUM_CLASSES <= u16::MAX as usize);
const _: () = assert!(REMOTE_BATCH_MAX <= u16::MAX as usize);
const _: () = assert!(
    core::mem::size_of::<Batch>().is_power_of_two()
        && SLAB_SIZE.is_power_of_two()
        && SLAB_SIZE >= core::mem::size_of::<Batch>(),
    "`hit` computes an entry's offset with one shift and one mask"
);

const EMPTY: Batch = Batch {
    data: 0,
    divisor: 0,
    carve: 0,
    slab: core::ptr::null(),
    head: core::ptr::null_mut(),
    tail: core::ptr::null_mut(),
    left: 0,
    limit: 0,
    class: 0,
};

impl Batch {
    /// The class of the batch's slab.
    #[inline(always)]
    pub fn class(&self) -> usize {
        self.class as usize
    }

    /// The batch's slab (null when empty).
    pub fn slab(&self) -> *const Slab {
        self.slab
    }
}

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
        let e = &mut self.e[index(b.as_ptr() as usize)];
        if core::ptr::eq(e.slab, slab) {
            // SAFETY: forwarded contract: a block of the entry's slab.
            return unsafe { link(e, b, force_notify) };
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

/// The entry a block of the slab at `addr` maps to.
#[inline(always)]
fn index(addr: usize) -> usize {
    (addr / SLAB_SIZE) % REMOTE_BATCH_ENTRIES
}

/// `config::BATCH_HIT`: the batch that a free of `ptr` joins, if the calling thread holds one for
/// the slab holding `ptr` and `ptr` is a block boundary among the blocks carved when the batch
/// started (the fused check of the owned fast path, on the entry's copies). `None` for anything
/// else (no batch of that slab, an empty entry — its zero limit refuses every offset, null
/// included — a block carved since, a pointer off the grid): the caller takes the full path.
/// Reads only: a sentinel heap's batches are empty and never written.
///
/// Why a hit is a block of a bound slab of the entry's class, not owned by a batch of anyone
/// else: the batch holds at least one block of the slab, counted in the slab's `used` as a live
/// block, so the slab stays bound to its class (not unbound, released or unmapped) until the
/// batch is pushed, and the entry is emptied when it is.
///
/// # Safety
/// `batches` is the calling thread's heap's batches (a sentinel's are only read).
#[inline(always)]
pub unsafe fn hit(batches: *const RemoteBatches, ptr: *mut u8) -> Option<NonNull<Batch>> {
    let addr = ptr as usize;
    // The entry's byte offset straight from the address (one shift and one mask: `index(addr)
    // * size_of::<Batch>()`, which the compiler spelled as shift, mask, copy, shift and then
    // added the array's offset twice).
    const LINE_SHIFT: u32 = core::mem::size_of::<Batch>().trailing_zeros();
    let off = (addr >> (SLAB_SIZE.trailing_zeros() - LINE_SHIFT))
        & ((REMOTE_BATCH_ENTRIES - 1) << LINE_SHIFT);
    debug_assert_eq!(off, index(addr) * core::mem::size_of::<Batch>());
    // SAFETY: the caller's heap's batches, read in place; `off` is inside the array (masked).
    let e = unsafe {
        (&raw const (*batches).e)
            .cast::<u8>()
            .add(off)
            .cast::<Batch>()
    };
    // SAFETY: as above.
    let (data, divisor, carve) = unsafe { ((*e).data, (*e).divisor, (*e).carve) };
    // `off < SLAB_SIZE <= 2^16`: the fused check's range (`slab::carve_limit_of`).
    if data != addr & !(SLAB_SIZE - 1)
        || ((addr & (SLAB_SIZE - 1)) as u64).wrapping_mul(divisor) >= carve
    {
        return None;
    }
    NonNull::new(e.cast_mut())
}

/// Links `b` into the batch `e` (its slab's), pushing the batch when it is full.
///
/// # Safety
/// `e` is a non-empty batch of the calling thread's; `b` is a block of its slab, checked and
/// marked free by the caller (live until now, on no list).
#[inline(always)]
pub unsafe fn link(e: *mut Batch, b: NonNull<Block>, force_notify: bool) {
    // SAFETY: the calling thread's batch (thread-private).
    let e = unsafe { &mut *e };
    // SAFETY: the caller owns `b`; the batch's blocks are ours until the push.
    unsafe { Block::set_next(b, e.head) };
    e.head = b.as_ptr();
    e.left -= 1;
    if e.left == 0 {
        // SAFETY: a batch of ours.
        unsafe { flush(e, force_notify) };
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
    let size = class_size(class);
    let divisor = fused_divisor(class);
    debug_assert_eq!(divisor, divisor_of(size));
    // ORDERING: Relaxed — see `Slab::carve_bound`: a lower bound is enough (a block carved
    // later fails the entry's check and takes the full path, whose own load of the bound is
    // the authority).
    let end = slab.carve_bound.load(Ordering::Relaxed) as usize;
    // The carved blocks: `end` is a multiple of the size below `SLAB_SIZE`, where `block_index`
    // is the exact quotient.
    let carved = block_index(class, end);
    debug_assert_eq!(carved, end / size);
    let carve = if crate::mutant::BATCH_CARVE_LOCAL {
        // SAFETY: none — the mutant's read of the holder's cell by a thread that does not hold
        // the slab, wrong by design.
        unsafe { slab.local(|l| l.carve_limit) }
    } else {
        carve_limit_of(carved as u32, size, divisor)
    };
    *e = Batch {
        data: slab.data() as usize,
        divisor,
        carve,
        slab,
        head: b.as_ptr(),
        tail: b.as_ptr(),
        left: limit - 1,
        limit: limit as u16,
        class: class as u16,
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
            u32::from(b.limit) - b.left,
            force_notify,
        )
    };
}
