//! SuperSlab: a `SUPERSLAB_SIZE` region aligned to its size, cut into `SLABS_PER_SUPERSLAB` slabs.
//!
//! Layout (headerless and header mode alike):
//! ```text
//! base (aligned to SUPERSLAB_SIZE)
//! ├─ slab 0: SuperSlab header (magic, generation, pool links, Slab metadata × N); rest unused
//! ├─ slab 1: blocks of one class, starting at the slab boundary
//! ├─ ...
//! └─ slab N-1
//! ```
//! Boundary: the header and the mapping from an address inside the region to its slab. Whether the
//! region is ours is the registry's question, not this module's.
//!
//! Invariants: `magic == SUPERSLAB_MAGIC` for as long as the region is mapped (it never is
//! unmapped, see docs/design.md); `generation` changes on every retire and every reuse, so a hint
//! holding an old generation is detectably stale; slab 0 is never bound.

use core::ptr::NonNull;

use crate::config::{SLABS_PER_SUPERSLAB, SLAB_SHIFT, SLAB_SIZE, SUPERSLAB_MASK};
use crate::list::{self, Links};
use crate::mutant;
use crate::slab::slab::Slab;
use crate::sync::{AtomicU64, Ordering, UnsafeCell};

/// Magic of a small-object SuperSlab header.
pub const SUPERSLAB_MAGIC: u64 = 0x4841_4b4d_5353_4c42; // "HAKMSSLB"

/// Pool bookkeeping, touched only under the pool lock.
pub struct PoolLinks {
    /// Links of the pool list holding the SuperSlab.
    pub links: Links<SuperSlab>,
    /// Bit i set: slab i is free (never bit 0).
    pub free_mask: u64,
    /// Which pool list holds the SuperSlab.
    pub list: u8,
    /// The pool's `epoch` when the SuperSlab joined it; a SuperSlab of an older epoch was
    /// abandoned by a forked child's pool (see `pool::Pool::reset_after_fork`).
    pub pool_epoch: u32,
    /// Bit i set: slab i is free and may hold committed pages (`dirty ⊆ free_mask`).
    pub dirty: u64,
    /// When each dirty slab was freed (purge clock, ms).
    pub freed_at: [u64; SLABS_PER_SUPERSLAB],
    /// The class each free slab was last bound to (the pool's warm lists, `pool::Pool::warm`).
    pub class: [u8; SLABS_PER_SUPERSLAB],
    /// Filled up once since it was mapped or reused (or born a huge page): its density was
    /// counted for `config::THP_GROWTH`, and is not counted again.
    pub filled: bool,
    /// Born in a `config::THP_GROWTH` streak and not collapsed yet: collapsed when its bound
    /// slabs reach `config::THP_COLLAPSE_AT_SLABS` (`config::THP_HALF_COLLAPSE`).
    pub collapse_pending: bool,
}

#[repr(C)]
pub struct SuperSlab {
    pub magic: u64,
    /// Changes on retire and on reuse.
    pub generation: AtomicU64,
    pub pool: UnsafeCell<PoolLinks>,
    pub slabs: [Slab; SLABS_PER_SUPERSLAB],
}

#[cfg(not(hakmem_loom))]
const _: () = assert!(
    core::mem::size_of::<SuperSlab>() <= SLAB_SIZE,
    "header fits in slab 0"
);

/// Every data slab free.
pub const ALL_FREE: u64 = if SLABS_PER_SUPERSLAB == 64 {
    !1u64
} else {
    ((1u64 << SLABS_PER_SUPERSLAB) - 1) & !1u64
};

impl list::Node for SuperSlab {
    /// # Safety
    /// The pool lock is held: nobody else touches the pool links.
    #[inline(always)]
    unsafe fn links<R>(node: *mut Self, f: impl FnOnce(&mut Links<Self>) -> R) -> R {
        // SAFETY: per the contract.
        unsafe { (*node).pool.with_mut(|p| f(&mut (*p).links)) }
    }
}

impl SuperSlab {
    /// Writes a fresh header at `base` (a zeroed, aligned, fresh reservation) and returns it.
    /// Field by field and one slab at a time, in place: the header is ~12 KiB, and building it
    /// as a value put it on the stack of `pool::acquire_slab` (a 12.5 KiB frame; docs/design.md,
    /// "Stack depth").
    ///
    /// # Safety
    /// `base` is the start of a `SUPERSLAB_SIZE` reservation aligned to its size, owned by the
    /// caller.
    pub unsafe fn init(base: NonNull<u8>) -> NonNull<SuperSlab> {
        use core::ptr::addr_of_mut;
        let ss = base.cast::<SuperSlab>();
        let p = ss.as_ptr();
        // SAFETY: the region is ours, large enough (const assert) and aligned; every place below
        // is a field of `*p`, written without reading or dropping what was there.
        unsafe {
            addr_of_mut!((*p).magic).write(SUPERSLAB_MAGIC);
            addr_of_mut!((*p).generation).write(AtomicU64::new(1));
            addr_of_mut!((*p).pool).write(UnsafeCell::new(PoolLinks {
                links: Links::new(),
                free_mask: ALL_FREE,
                list: 0,
                pool_epoch: 0,
                dirty: 0,
                freed_at: [0; SLABS_PER_SUPERSLAB],
                class: [0; SLABS_PER_SUPERSLAB],
                filled: false,
                collapse_pending: false,
            }));
            let slabs = addr_of_mut!((*p).slabs).cast::<Slab>();
            for i in 0..SLABS_PER_SUPERSLAB {
                slabs
                    .add(i)
                    .write(Slab::new(base.as_ptr().wrapping_add(i * SLAB_SIZE)));
            }
        }
        ss
    }

    /// Base address of the region.
    #[inline(always)]
    pub fn base(&self) -> usize {
        self as *const Self as usize
    }

    /// Index of the slab holding `addr` (which must lie inside this SuperSlab).
    #[inline(always)]
    pub fn slab_index(addr: usize) -> usize {
        (addr & SUPERSLAB_MASK) >> SLAB_SHIFT
    }

    #[inline(always)]
    pub fn generation(&self) -> u64 {
        // ORDERING: Acquire — pairs with the Release bump in `bump_generation`, so a reader that
        // sees the new generation also sees the retire/reuse that caused it.
        self.generation.load(Ordering::Acquire)
    }

    /// Marks a retire or a reuse.
    pub fn bump_generation(&self) -> u64 {
        if mutant::NO_GENERATION_BUMP {
            // ORDERING: Relaxed — the mutant reads and bumps nothing.
            return self.generation.load(Ordering::Relaxed);
        }
        // ORDERING: Release — see `generation`.
        self.generation.fetch_add(1, Ordering::Release) + 1
    }
}
