//! Thread heap: the per-thread state of the front end — TLS lists, the slabs the thread owns per
//! class, and the hint cache — plus the part other threads may touch (`Owner`, the notification
//! word).
//!
//! Boundary: data layout and the owner's slab lists. A heap is reached only through
//! `thread::current()`; other threads reach only its `owner` field, through a slab's owner
//! pointer. Heaps come from `meta` and are recycled through the heap pool, never freed, so a stale
//! owner pointer is always safe to notify.
//!
//! Two static sentinel heaps stand in for "no heap": `EMPTY` (a thread that has not allocated
//! yet) and `DEAD` (a thread whose heap was torn down). Their TLS lists are empty and their owner
//! is nobody's, so the fast paths fall into the slow paths without an "initialised?" test.
//!
//! Owner lists per class (invariant): `cur` is the slab refill takes from; `partial` holds owned
//! slabs that have free blocks; `full` holds owned slabs whose free list and carve area were empty
//! when last looked at. Every owned slab is on exactly one of them (`SlabLocal::list` says which).

use core::cell::UnsafeCell;

use crate::config::{MAG_BATCH_MAX, TLS_BYTES, TLS_CAP_MAX};
use crate::front::hint::HintCache;
use crate::front::owned::OwnedSlabs;
use crate::front::tls_sll::TlsList;
use crate::remote::Owner;
use crate::size_class::{CLASS_SIZES, NUM_CLASSES, TOTAL_CLASSES};
use crate::slab::slab::{ListKind, Slab};
use crate::stats::{Counter, HeapCounters, GLOBALS};
use crate::sync::AtomicPtr;

#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum HeapKind {
    Live = 0,
    Empty = 1,
    Dead = 2,
}

#[derive(Clone, Copy)]
pub struct ClassSlabs {
    pub cur: *mut Slab,
    pub partial: *mut Slab,
    pub full: *mut Slab,
}

/// Field order matters to the fast paths (`repr(C)`): the TLS lists first, at offset 0 of the
/// heap, so that a list's address is the heap pointer plus the scaled class (one addressing mode,
/// no separate address computation), then the owned-slab table.
#[repr(C)]
pub struct HeapLocal {
    pub tls: [TlsList; NUM_CLASSES],
    /// Slabs this heap owns, for the free fast path.
    pub owned: OwnedSlabs,
    /// Owned slabs per small class id and owned spans per medium class id.
    pub slabs: [ClassSlabs; TOTAL_CLASSES],
    pub hint: HintCache,
    /// Heap pool link.
    pub next_free: *mut Heap,
}

/// Layout (`repr(C)`): the local state first (its TLS lists at offset 0, see `HeapLocal`), then
/// the shared part on its own cache line, so remote freers' notifications do not bounce the lines
/// the owner writes on every call.
#[repr(C)]
pub struct Heap {
    local: UnsafeCell<HeapLocal>,
    _line: [CacheLine; 0],
    /// Shared part: other threads notify it.
    pub owner: Owner,
    pub kind: HeapKind,
    /// Counters; written by the heap's thread, read by `stats()` from any thread.
    pub counters: HeapCounters,
    /// Link of the list of every heap ever created (never unlinked; heaps are never freed).
    pub next_all: AtomicPtr<Heap>,
}

/// Zero-sized marker whose alignment starts a new cache line in a `repr(C)` struct.
#[repr(align(64))]
struct CacheLine;

const _: () = assert!(core::mem::offset_of!(Heap, owner) % 64 == 0);

/// Bytes from a class's TLS list to its fast-path counters (`HeapCounters::class`) in the same
/// heap: both arrays have a 16-byte stride, so a TLS list pointer is also its counters' pointer
/// plus this constant, and the fast paths need no class index to count.
pub const TLS_TO_COUNTERS: usize = core::mem::offset_of!(Heap, counters)
    + core::mem::offset_of!(HeapCounters, class)
    - core::mem::offset_of!(Heap, local)
    - core::mem::offset_of!(HeapLocal, tls);
const _: () =
    assert!(core::mem::size_of::<TlsList>() == core::mem::size_of::<crate::stats::ClassCounters>());

impl TlsList {
    /// The fast-path counters of this list's class, in the same heap (see `TLS_TO_COUNTERS`).
    ///
    /// # Safety
    /// `this` is a TLS list inside a `Heap`.
    #[inline(always)]
    pub unsafe fn counters(this: *mut TlsList) -> *const crate::stats::ClassCounters {
        // SAFETY: per the contract, the counters lie `TLS_TO_COUNTERS` bytes further in the heap.
        unsafe { this.byte_add(TLS_TO_COUNTERS).cast() }
    }
}

// SAFETY: `owner` is all atomics; `local` is touched only by the thread whose TLS points at the
// heap (or by the heap pool while no thread does). Sentinels are never written.
unsafe impl Sync for Heap {}

const fn tls_cap(size: u32) -> u32 {
    let c = TLS_BYTES as u32 / size;
    let c = if c < 4 { 4 } else { c };
    if c > TLS_CAP_MAX as u32 {
        TLS_CAP_MAX as u32
    } else {
        c
    }
}

/// Blocks moved per refill/spill for a class: half the TLS cap, at most `MAG_BATCH_MAX`.
#[inline]
pub fn batch(cap: u32) -> usize {
    (cap as usize / 2).clamp(1, MAG_BATCH_MAX)
}

impl Heap {
    pub const fn new(kind: HeapKind) -> Self {
        let mut tls = [const { TlsList::new(0) }; NUM_CLASSES];
        if matches!(kind, HeapKind::Live) {
            let mut i = 0;
            while i < NUM_CLASSES {
                tls[i] = TlsList::new(tls_cap(CLASS_SIZES[i]));
                i += 1;
            }
        }
        Self {
            _line: [],
            owner: Owner::new(),
            kind,
            counters: HeapCounters::new(),
            next_all: AtomicPtr::new(core::ptr::null_mut()),
            local: UnsafeCell::new(HeapLocal {
                tls,
                owned: OwnedSlabs::new(),
                slabs: [ClassSlabs {
                    cur: core::ptr::null_mut(),
                    partial: core::ptr::null_mut(),
                    full: core::ptr::null_mut(),
                }; TOTAL_CLASSES],
                hint: HintCache::new(),
                next_free: core::ptr::null_mut(),
            }),
        }
    }

    /// Bumps the counter `f` selects: in this heap if it is live, else in the process-wide
    /// heapless counters (sentinel heaps are shared by many threads and never written).
    #[inline]
    pub fn count(&self, f: impl Fn(&HeapCounters) -> &Counter) {
        if self.kind == HeapKind::Live {
            f(&self.counters).bump();
        } else {
            f(&GLOBALS.heapless).bump_shared();
        }
    }

    #[inline(always)]
    pub fn owner_ptr(&self) -> *const Owner {
        &self.owner
    }

    /// Raw pointer to the local state. Fast paths use raw place accesses through it so that a
    /// sentinel heap is only ever read.
    #[inline(always)]
    pub fn local_ptr(&self) -> *mut HeapLocal {
        self.local.get()
    }

    /// Raw pointer to the TLS list of class `c`.
    #[inline(always)]
    pub fn tls(&self, c: usize) -> *mut TlsList {
        // SAFETY: in bounds (callers pass a valid class); no reference is created.
        unsafe { core::ptr::addr_of_mut!((*self.local.get()).tls[c]) }
    }

    /// The local state, for slow paths of a live heap.
    ///
    /// # Safety
    /// The heap is live and belongs to the calling thread; no other reference to its local state
    /// is alive.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn local_mut(&self) -> &mut HeapLocal {
        // SAFETY: per the contract.
        unsafe { &mut *self.local.get() }
    }
}

impl HeapLocal {
    /// Pushes `s` on list `kind` of class `c`.
    ///
    /// # Safety
    /// The heap owns `s` and `s` is on no list.
    pub unsafe fn list_push(&mut self, c: usize, s: *mut Slab, kind: ListKind) {
        let cs = &mut self.slabs[c];
        let head = match kind {
            ListKind::Partial => &mut cs.partial,
            ListKind::Full => &mut cs.full,
            ListKind::Current => {
                cs.cur = s;
                // SAFETY: the heap owns `s`.
                unsafe { (*s).local(|l| l.list = ListKind::Current) };
                return;
            }
            ListKind::None => return,
        };
        let old = *head;
        // SAFETY: the heap owns `s` and every slab on its lists.
        unsafe {
            (*s).local(|l| {
                l.list = kind;
                l.prev = core::ptr::null_mut();
                l.next = old;
            });
            if !old.is_null() {
                (*old).local(|l| l.prev = s);
            }
        }
        *head = s;
    }

    /// Removes `s` from whichever list of class `c` holds it.
    ///
    /// # Safety
    /// The heap owns `s`.
    pub unsafe fn list_remove(&mut self, c: usize, s: *mut Slab) {
        // SAFETY: the heap owns `s` and every slab on its lists.
        unsafe {
            let (kind, prev, next) = (*s).local(|l| {
                let r = (l.list, l.prev, l.next);
                l.list = ListKind::None;
                l.prev = core::ptr::null_mut();
                l.next = core::ptr::null_mut();
                r
            });
            let cs = &mut self.slabs[c];
            let head = match kind {
                ListKind::Partial => &mut cs.partial,
                ListKind::Full => &mut cs.full,
                ListKind::Current => {
                    cs.cur = core::ptr::null_mut();
                    return;
                }
                ListKind::None => return,
            };
            if prev.is_null() {
                *head = next;
            } else {
                (*prev).local(|l| l.next = next);
            }
            if !next.is_null() {
                (*next).local(|l| l.prev = prev);
            }
        }
    }
}
