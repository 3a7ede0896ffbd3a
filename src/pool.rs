//! Pool box: the global supply of free slabs, SuperSlab by SuperSlab.
//!
//! Boundary: `acquire_slab` hands out an unbound slab (mapping and registering a new SuperSlab, or
//! reusing a retired one, when none is free); `release_slab` takes back an empty, unbound slab and
//! retires its SuperSlab once every data slab is free. Everything here runs under one spin lock: it
//! is reached once per slab (64 KiB of blocks), never per block.
//!
//! SuperSlab life cycle: mapped → (partial ↔ full) → retired (unregistered, generation bumped,
//! data slabs decommitted beyond `KEEP_EMPTY_COMMITTED`, kept on the empty list) → reused
//! (generation bumped, registered again). SuperSlab memory is never unmapped.

use core::ptr::NonNull;

use crate::config::{KEEP_EMPTY_COMMITTED, SLAB_SIZE, SUPERSLAB_SIZE};
use crate::lock::{ForkReset, Rank, SpinLock};
use crate::os;
use crate::registry::{self, RegionHead};
use crate::slab::slab::Slab;
use crate::slab::superslab::{PoolLinks, SuperSlab, ALL_FREE};
use crate::stats::GLOBALS;
use crate::trace::{self, Event};

const LIST_NONE: u8 = 0;
const LIST_PARTIAL: u8 = 1;
const LIST_EMPTY: u8 = 2;

struct Pool {
    /// SuperSlabs with at least one free data slab (and at least one bound).
    partial: *mut SuperSlab,
    /// Retired SuperSlabs.
    empty: *mut SuperSlab,
    /// Retired SuperSlabs whose data pages are still committed.
    empty_committed: usize,
    /// Bumped when a forked child abandons the lists; every SuperSlab records the epoch in which
    /// it joined (`PoolLinks::pool_epoch`), and the pool ignores those of older epochs.
    epoch: u32,
}

// SAFETY: the raw pointers are only used under the pool lock.
unsafe impl Send for Pool {}

/// Fork: a holder that did not survive the fork may have been relinking the doubly linked lists,
/// so neither the lists nor the links inside their SuperSlabs can be trusted. The child abandons
/// every SuperSlab the pool knew: the lists start empty in a new epoch, and a slab released into a
/// SuperSlab of an older epoch is left alone (`release_slab`) — its links are never followed again.
/// The cost is a leak in the child only: free slabs and retired SuperSlabs of the parent.
impl ForkReset for Pool {
    fn reset_after_fork(&mut self) {
        self.partial = core::ptr::null_mut();
        self.empty = core::ptr::null_mut();
        self.empty_committed = 0;
        self.epoch = self.epoch.wrapping_add(1);
    }
}

static POOL: SpinLock<Pool> = SpinLock::new(
    Rank::Pool,
    Pool {
        partial: core::ptr::null_mut(),
        empty: core::ptr::null_mut(),
        empty_committed: 0,
        epoch: 0,
    },
);

/// Runs `f` on the pool links of `ss`.
///
/// # Safety
/// The pool lock is held.
unsafe fn links<R>(ss: *mut SuperSlab, f: impl FnOnce(&mut PoolLinks) -> R) -> R {
    // SAFETY: under the pool lock nobody else touches the links.
    unsafe { (*ss).pool.with_mut(|p| f(&mut *p)) }
}

/// # Safety
/// The pool lock is held and `ss` is on no list.
unsafe fn push(list: &mut *mut SuperSlab, ss: *mut SuperSlab, kind: u8) {
    let head = *list;
    // SAFETY: under the pool lock.
    unsafe {
        links(ss, |l| {
            l.next = head;
            l.prev = core::ptr::null_mut();
            l.list = kind;
        });
        if !head.is_null() {
            links(head, |l| l.prev = ss);
        }
    }
    *list = ss;
}

/// # Safety
/// The pool lock is held and `ss` is on `list`.
unsafe fn unlink(list: &mut *mut SuperSlab, ss: *mut SuperSlab) {
    // SAFETY: under the pool lock.
    unsafe {
        let (prev, next) = links(ss, |l| {
            let r = (l.prev, l.next);
            l.prev = core::ptr::null_mut();
            l.next = core::ptr::null_mut();
            l.list = LIST_NONE;
            r
        });
        if prev.is_null() {
            *list = next;
        } else {
            links(prev, |l| l.next = next);
        }
        if !next.is_null() {
            links(next, |l| l.prev = prev);
        }
    }
}

/// Takes a free slab from a SuperSlab that has one, reusing a retired SuperSlab if needed.
/// Never maps.
fn take_free_slab(p: &mut Pool) -> Option<NonNull<Slab>> {
    if p.partial.is_null() && !p.empty.is_null() {
        let ss = p.empty;
        // SAFETY: under the pool lock; `ss` is on the empty list.
        unsafe {
            unlink(&mut p.empty, ss);
            if links(ss, |l| core::mem::replace(&mut l.committed, true)) {
                p.empty_committed -= 1;
            }
            let generation = (*ss).bump_generation();
            trace::record(Event::Reuse, (*ss).base(), (*ss).base(), 0, 0, generation);
            GLOBALS.superslabs_reused.bump_shared();
            if !registry::register(
                (*ss).base(),
                NonNull::new_unchecked(ss.cast::<RegionHead>()),
            ) {
                push(&mut p.empty, ss, LIST_EMPTY);
                return None;
            }
            links(ss, |l| l.free_mask = ALL_FREE);
            push(&mut p.partial, ss, LIST_PARTIAL);
        }
    }
    let ss = p.partial;
    if ss.is_null() {
        return None;
    }
    // SAFETY: under the pool lock; `ss` is on the partial list and has a free slab.
    unsafe {
        let (idx, now_full) = links(ss, |l| {
            let idx = l.free_mask.trailing_zeros() as usize;
            l.free_mask &= !(1u64 << idx);
            (idx, l.free_mask == 0)
        });
        if now_full {
            unlink(&mut p.partial, ss);
        }
        Some(NonNull::from(&(*ss).slabs[idx]))
    }
}

/// Hands out an unbound slab. `may_map`: whether a new SuperSlab may be mapped when none is free.
/// `None` when none is free and mapping is not allowed or the OS refuses.
pub fn acquire_slab(may_map: bool) -> Option<NonNull<Slab>> {
    if let Some(s) = POOL.with(take_free_slab) {
        return Some(s);
    }
    if !may_map {
        return None;
    }
    let base = os::reserve_aligned(SUPERSLAB_SIZE, SUPERSLAB_SIZE)?;
    // SAFETY: a fresh reservation of the right size and alignment, ours alone.
    let ss = unsafe { SuperSlab::init(base) };
    if !registry::register(base.as_ptr() as usize, ss.cast::<RegionHead>()) {
        // SAFETY: never published. A refused release is counted and decommitted by `os`; the
        // SuperSlab was only touched in its header, so it costs address space only.
        let _released = unsafe { os::release(base, SUPERSLAB_SIZE) };
        return None;
    }
    GLOBALS.superslabs_mapped.bump_shared();
    POOL.with(|p| {
        // SAFETY: under the pool lock; the new SuperSlab is on no list.
        unsafe {
            links(ss.as_ptr(), |l| l.pool_epoch = p.epoch);
            push(&mut p.partial, ss.as_ptr(), LIST_PARTIAL);
        }
        take_free_slab(p)
    })
}

/// Takes back an empty, unbound slab; retires its SuperSlab when every data slab is free.
///
/// # Safety
/// The caller held the slab, it is unbound (`Slab::unbind`) and nothing refers to its blocks.
pub unsafe fn release_slab(slab: &Slab) {
    // Slab metadata lives in its SuperSlab's header: masking the metadata's own address gives the
    // header (strict provenance: derived from the slab's pointer).
    let ss = (slab as *const Slab as *mut Slab)
        .map_addr(|a| a & !crate::config::SUPERSLAB_MASK)
        .cast::<SuperSlab>();
    let idx = SuperSlab::slab_index(slab.data() as usize);
    POOL.with(|p| {
        // SAFETY: under the pool lock.
        unsafe {
            if links(ss, |l| l.pool_epoch) != p.epoch {
                // Abandoned by a forked child's pool (see `reset_after_fork`): leave it alone.
                return;
            }
            let (was_full, mask) = links(ss, |l| {
                let was_full = l.free_mask == 0;
                l.free_mask |= 1u64 << idx;
                (was_full, l.free_mask)
            });
            if was_full {
                push(&mut p.partial, ss, LIST_PARTIAL);
            }
            if mask == ALL_FREE {
                retire(p, ss);
            }
        }
    });
}

/// # Safety
/// The pool lock is held; every data slab of `ss` is free and `ss` is on the partial list.
unsafe fn retire(p: &mut Pool, ss: *mut SuperSlab) {
    // SAFETY: per the contract.
    unsafe {
        unlink(&mut p.partial, ss);
        registry::unregister((*ss).base());
        let generation = (*ss).bump_generation();
        trace::record(Event::Retire, (*ss).base(), (*ss).base(), 0, 0, generation);
        GLOBALS.superslabs_retired.bump_shared();
        // A SuperSlab whose decommit the OS refused counts as committed (and is retried later).
        if p.empty_committed < KEEP_EMPTY_COMMITTED || !decommit_data(ss) {
            p.empty_committed += 1;
        }
        push(&mut p.empty, ss, LIST_EMPTY);
    }
}

/// Decommits the data slabs of `ss`; false if they stay committed (the OS refused).
///
/// # Safety
/// The pool lock is held and every data slab of `ss` is free.
unsafe fn decommit_data(ss: *mut SuperSlab) -> bool {
    // SAFETY: the data slabs hold nothing anyone reads; the header slab stays.
    unsafe {
        if links(ss, |l| l.committed) {
            let data = (*ss).slabs[crate::config::FIRST_DATA_SLAB].data();
            // A refused decommit (counted by `os`) leaves the SuperSlab committed: retried later.
            if !os::decommit(NonNull::new_unchecked(data), SUPERSLAB_SIZE - SLAB_SIZE) {
                return false;
            }
            links(ss, |l| l.committed = false);
        }
        true
    }
}

/// Decommits every retired SuperSlab and the free slabs of partial ones (for `collect`).
pub fn decommit_free() {
    POOL.with(|p| {
        let mut ss = p.empty;
        p.empty_committed = 0;
        while !ss.is_null() {
            // SAFETY: under the pool lock; retired SuperSlabs have all data slabs free.
            unsafe {
                if !decommit_data(ss) {
                    p.empty_committed += 1;
                }
                ss = links(ss, |l| l.next);
            }
        }
        let mut ss = p.partial;
        while !ss.is_null() {
            // SAFETY: under the pool lock; slabs whose bit is set are free and unbound.
            unsafe {
                let mask = links(ss, |l| l.free_mask);
                let mut m = mask;
                while m != 0 {
                    let i = m.trailing_zeros() as usize;
                    m &= m - 1;
                    // A refused decommit is counted by `os`; the slab stays free and usable.
                    let _ = os::decommit(NonNull::new_unchecked((*ss).slabs[i].data()), SLAB_SIZE);
                }
                ss = links(ss, |l| l.next);
            }
        }
    });
}
