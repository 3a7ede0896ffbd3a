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
use core::ptr::NonNull;

use crate::config::{
    DERIVED_FREE_COUNT, FOREIGN_BACKOFF, FOREIGN_BACKOFF_FREES, FOREIGN_BACKOFF_MAX_LEVEL,
    REMOTE_UNWALKED, SPILL_FORGETS_REUSE, SPILL_FORGET_LEVEL, TLS_BYTES, TLS_CAP_MAX,
    TLS_SLOW_START, TLS_START_BYTES,
};
use crate::debug::{fatal, Where};
use crate::front::hint::HintCache;
use crate::front::owned::OwnedSlabs;
use crate::front::remote_batch::RemoteBatches;
use crate::front::tls_sll::TlsList;
use crate::list;
use crate::remote::Owner;
use crate::size_class::{CLASS_SIZES, NUM_CLASSES, TOTAL_CLASSES};
use crate::slab::block::Block;
use crate::slab::slab::{ListKind, Slab};
use crate::stats::{Counter, HeapCounters, GLOBALS};
use crate::sync::plain::{fence, AtomicU32, AtomicU64, Ordering};
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
/// no separate address computation), then the free-side lists (right after, so that their
/// fast-path counters are `HeapCounters::class[NUM_CLASSES + c]` at the same `TLS_TO_COUNTERS`),
/// then the owned-slab table.
#[repr(C)]
pub struct HeapLocal {
    /// The lists the alloc fast path pops from; frees push on them too unless the heap is
    /// profiled (`free_list`).
    pub tls: [TlsList; NUM_CLASSES],
    /// Profiled heaps only: the lists frees push on instead of `tls`, so that `tls` holds only
    /// blocks already counted against the class's countdown (src/front/profiling.rs). Empty
    /// otherwise.
    pub freed: [TlsList; NUM_CLASSES],
    /// Slabs this heap owns, for the free fast path. Private, so that every change goes through
    /// `owned_mut` (checked to be inside a busy window, `expect_busy`); read through `owned` and
    /// `owned_ptr`.
    owned: OwnedSlabs,
    /// Owned slabs per small class id and owned spans per medium class id. Here with `--cfg
    /// hakmem_no_cold_first`; after `retired` otherwise (`config::COLD_FIRST`).
    #[cfg(hakmem_no_cold_first)]
    pub slabs: [ClassSlabs; TOTAL_CLASSES],
    #[cfg(hakmem_no_cold_first)]
    pub hint: HintCache,
    /// Blocks this heap's thread freed into other threads' slabs, batched per slab.
    pub remote: RemoteBatches,
    /// Heap pool link.
    pub next_free: *mut Heap,
    /// The profiler's byte countdown for requests off the small fast path, and the random
    /// source of the class countdowns (used only while profiling).
    pub sampler: crate::prof::Sampler,
    /// The capture buffer of a sampled medium request's stack (`config::PROF_FLAT_SAMPLE`): off
    /// the stack, so that the sample runs in line in `front::alloc::alloc_medium_sampled`, in the
    /// frame that also reaches `alloc_with_span`'s refills, within the stack bound (docs/design.md,
    /// "Stack depth"). Scratch, never initialised: written and read within one sample by the
    /// heap's thread.
    pub prof_frames: [core::mem::MaybeUninit<usize>; crate::prof::MAX_FRAMES],
    /// Profiled heaps: per small class, how many more fast-path requests of the class go
    /// unsampled once `tls[c]` is empty (the blocks on `tls[c]` are already debited); the
    /// request that finds both at zero is sampled (src/front/profiling.rs).
    pub ahead: [usize; NUM_CLASSES],
    /// Whether the heap is profiled: frees push on `freed`, `tls` is bounded by `ahead`, and
    /// every owned slab's list pointer names its `freed` list. Changed only by the heap's
    /// thread (`profiling::sync`).
    pub profiled: bool,
    /// Current slabs and spans that emptied, waiting out the purge delay (`front::small`,
    /// `front::medium`).
    pub retired: crate::purge::Retired,
    /// `slabs` and `hint` (above), after the fields an idle thread leaves as a new heap's zeroed
    /// memory holds them (`config::COLD_FIRST`: `remote`, `sampler`, `prof_frames`, `ahead`,
    /// `retired`), so that those share pages with the table's untouched end, not with the
    /// fields every thread writes.
    #[cfg(not(hakmem_no_cold_first))]
    pub slabs: [ClassSlabs; TOTAL_CLASSES],
    #[cfg(not(hakmem_no_cold_first))]
    pub hint: HintCache,
    /// Per small class: the TLS list holds a slab's whole free list, taken by the last refill
    /// (`config::WHOLE_FREE_LIST`), so `small::spill` returns only blocks freed since the refill
    /// (the one just freed, or the batch on the list's top). A hint for the spill policy only:
    /// either policy is correct for any list over its cap.
    pub taken: [bool; NUM_CLASSES],
    /// Bytes of medium blocks freed locally since the last trim check, the heap's trim epoch and
    /// when it began (`front::medium::trim`, `config::MEDIUM_TRIM`).
    pub medium_freed: usize,
    /// Bytes of free medium blocks the last trim check left not clean (`front::medium::trim`):
    /// with `medium_freed`, a bound on what the heap holds free now (`config::MEDIUM_TRIM_ON_BIND`).
    pub medium_unclean: usize,
    /// `medium_freed` when the last check ran (0 after a check by frees, which zeroes it; a check
    /// on bind leaves the count of frees to the checks by frees).
    pub medium_freed_at: usize,
    pub medium_epoch: u64,
    pub medium_epoch_at: crate::purge::Stamp,
    /// When `front::medium::purge_retired_on_bind` last gave retired spans back
    /// (`config::RETIRED_PURGE_ON_BIND`: at most once per `RETIRED_PURGE_INTERVAL_MS`).
    pub retired_purged_at: crate::purge::Stamp,
    /// `config::RETIRED_PURGE_HIGH`: the most bytes of medium spans bound to heaps
    /// (`front::medium::SPAN_BYTES_HELD`) this heap saw right after binding a span.
    pub retired_high: usize,
    /// The trim's backoff (`config::TRIM_BACKOFF`, `front::medium::adapt`): bytes of blocks the
    /// last two trims purged that were handed out again since the last; bytes those two trims
    /// purged (the last, the one before); the level (the hoard allowance is
    /// `MEDIUM_DIRTY_BYTES << medium_backoff`); trims in a row without refaults.
    pub medium_refaulted: usize,
    pub medium_purged: usize,
    pub medium_purged_before: usize,
    pub medium_backoff: u32,
    pub medium_quiet: u32,
    /// The heap's last trim check by frees was a slow churner's (`config::TRIM_CHECK_BY_ALLOWANCE`):
    /// a check the epoch gate turns away waits for the frees the allowance has left again, not
    /// for `MEDIUM_TRIM_CHECK_BYTES`.
    pub medium_paced: bool,
    /// Per small class, whether this thread's remote frees keep blocks (front/foreign.rs,
    /// `config::FOREIGN_BACKOFF`): the backoff its spills of unreused kept blocks set.
    pub keep: KeepBackoff,
    /// Per small class, the TLS list's cap when it grows with use (front/tls_limit.rs,
    /// `config::TLS_SLOW_START`; read through `HeapLocal::cap`).
    pub limits: crate::front::tls_limit::TlsLimits,
    /// Bit `c`: small class `c` was refilled or spilled since the heap's last growth
    /// (`small::flush_idle`, `config::IDLE_FLUSH`). A bitmap, not a word per class: the heap's
    /// resident pages at start-up stay as they were (tests/thread_memory.rs).
    pub active: [u64; ACTIVE_WORDS],
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
    /// The profiler's counter line for this heap's samples and frees of sampled blocks
    /// (`prof::Shard`): owned by this heap for its life (claimed in `init`; heaps are never
    /// freed), so only the thread using the heap writes it; `SHARED` for sentinel heaps and
    /// once the owned lines are all claimed. Written once, before the heap is published.
    pub prof_shard: crate::prof::Shard,
    /// Counters; written by the heap's thread, read by `stats()` from any thread.
    pub counters: HeapCounters,
    /// Link of the list of every heap ever created (never unlinked; heaps are never freed).
    pub next_all: AtomicPtr<Heap>,
    /// Fork takeover (`config::FORK_TAKEOVER`, `thread::take_over_dead_heaps`): how deep the
    /// heap's thread is inside a slow path (`Heap::busy`), so that a forked child can tell a heap
    /// caught mid-update (left alone) from a quiescent one (taken over). Written only by the
    /// heap's thread (and its signal handlers, which restore it), read by a forked child.
    pub busy: AtomicU32,
    /// The fork epoch plus one at which a thread took the heap (`thread::create_current`); 0
    /// while no thread has it (new, pooled, exiting, the fallback heap); `BOUND_TAKEN` once a
    /// forked child took it over (never used again).
    pub bound: AtomicU64,
}

/// `Heap::bound` of a heap a forked child took over.
pub const BOUND_TAKEN: u64 = u64::MAX;

/// A slow-path window of a live heap (`Heap::busy`); ends when dropped.
pub struct Busy<'a>(Option<&'a Heap>);

impl Drop for Busy<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        if let Some(h) = self.0 {
            // ORDERING: Relaxed load — only this thread writes the word. Release store — every
            // state store of the window is ordered before the word drops, so a fork snapshot
            // that shows the word lower shows all of them.
            let n = h.busy.load(Ordering::Relaxed);
            h.busy.store(n.wrapping_sub(1), Ordering::Release);
        }
    }
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
// The free-side lists follow the TLS lists, as `HeapCounters::class`'s second half follows its
// first: `TLS_TO_COUNTERS` serves both.
const _: () = assert!(
    core::mem::offset_of!(HeapLocal, freed)
        == core::mem::offset_of!(HeapLocal, tls) + core::mem::size_of::<[TlsList; NUM_CLASSES]>()
);

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
    // `TLS_SLOW_START`: the class's start cap (front/tls_limit.rs), which grows with use.
    let bytes = if TLS_SLOW_START {
        TLS_START_BYTES
    } else {
        TLS_BYTES
    };
    crate::front::tls_limit::cap_for(size, bytes, TLS_CAP_MAX)
}

/// The TLS cap of small class `c`: `TLS_BYTES` of its blocks, clamped. A list's `cap` is this,
/// or more while it holds a slab's whole free list (`small::spill`).
#[inline]
pub fn base_cap(c: usize) -> u32 {
    tls_cap(CLASS_SIZES[c])
}

pub use crate::front::tls_limit::batch;

/// A new heap's TLS lists and free-side lists (empty; capped for a live heap).
const fn new_lists(kind: HeapKind) -> [TlsList; NUM_CLASSES] {
    let mut tls = [const { TlsList::new(0) }; NUM_CLASSES];
    if matches!(kind, HeapKind::Live) {
        let mut i = 0;
        while i < NUM_CLASSES {
            tls[i] = TlsList::new(tls_cap(CLASS_SIZES[i]));
            i += 1;
        }
    }
    tls
}

/// Writes `new_lists(kind)` at `p` one list at a time: the array as a value is built on the
/// stack and copied (`Heap::init`'s frame was 2.4 KiB with two of them).
///
/// # Safety
/// `p` is valid for writes; what it held is not read or dropped.
unsafe fn init_lists(p: *mut [TlsList; NUM_CLASSES], kind: HeapKind) {
    let first = p.cast::<TlsList>();
    for (i, &size) in CLASS_SIZES.iter().enumerate().take(NUM_CLASSES) {
        let cap = if matches!(kind, HeapKind::Live) {
            tls_cap(size)
        } else {
            0
        };
        // SAFETY: `i < NUM_CLASSES`, inside the array the caller may write.
        unsafe { first.add(i).write(TlsList::new(cap)) };
    }
}

impl Heap {
    /// A heap as a value: for the sentinel statics. A live heap is written in place (`init`).
    pub const fn new(kind: HeapKind) -> Self {
        let tls = new_lists(kind);
        let freed = new_lists(kind);
        Self {
            _line: [],
            owner: Owner::new(),
            kind,
            prof_shard: crate::prof::Shard::SHARED,
            counters: HeapCounters::new(),
            next_all: AtomicPtr::new(core::ptr::null_mut()),
            busy: AtomicU32::new(0),
            bound: AtomicU64::new(0),
            local: UnsafeCell::new(HeapLocal {
                tls,
                freed,
                owned: OwnedSlabs::new(),
                slabs: [ClassSlabs {
                    cur: core::ptr::null_mut(),
                    partial: core::ptr::null_mut(),
                    full: core::ptr::null_mut(),
                }; TOTAL_CLASSES],
                hint: HintCache::new(),
                remote: RemoteBatches::new(),
                next_free: core::ptr::null_mut(),
                sampler: crate::prof::Sampler::new(),
                prof_frames: [core::mem::MaybeUninit::uninit(); crate::prof::MAX_FRAMES],
                ahead: [0; NUM_CLASSES],
                profiled: false,
                retired: crate::purge::Retired::new(),
                taken: [false; NUM_CLASSES],
                medium_freed: 0,
                medium_unclean: 0,
                medium_freed_at: 0,
                medium_epoch: 0,
                medium_epoch_at: 0,
                retired_purged_at: 0,
                retired_high: 0,
                medium_refaulted: 0,
                medium_purged: 0,
                medium_purged_before: 0,
                medium_backoff: 0,
                medium_quiet: 0,
                medium_paced: false,
                keep: KeepBackoff::new_for(kind),
                limits: crate::front::tls_limit::TlsLimits::new(),
                active: [0; ACTIVE_WORDS],
            }),
        }
    }

    /// Writes at `p` the heap `new(kind)` returns, in place, field by field: the heap (over 40
    /// KiB, 32 KiB of it the owned-slab table) is never a value on the stack, which a thread with
    /// a small stack could not hold (the release build's `new_heap` had a frame of 72 KiB with
    /// 16-byte table entries, 136 KiB with 32-byte ones; tests/owned_table.rs). Every field is
    /// written: `_every_field_written` below fails to compile when a field is added.
    ///
    /// `zeroed`: the memory at `p` reads as zero (fresh metadata memory), so that the owned-slab
    /// table need not be written (`config::LAZY_TABLE`, `OwnedSlabs::init`).
    ///
    /// # Safety
    /// `p` is valid for writes of a `Heap` and aligned; what it held is overwritten, not dropped;
    /// with `zeroed`, its bytes are zero.
    pub unsafe fn init(p: *mut Heap, kind: HeapKind, zeroed: bool) {
        use core::ptr::addr_of_mut;
        // SAFETY: per the contract; every place below is a field of `*p` (or of its `local`),
        // written without reading or dropping what was there.
        unsafe {
            addr_of_mut!((*p).owner).write(Owner::new());
            addr_of_mut!((*p).kind).write(kind);
            addr_of_mut!((*p).prof_shard).write(if kind == HeapKind::Live {
                crate::prof::claim_shard()
            } else {
                crate::prof::Shard::SHARED
            });
            HeapCounters::init(addr_of_mut!((*p).counters));
            addr_of_mut!((*p).next_all).write(AtomicPtr::new(core::ptr::null_mut()));
            addr_of_mut!((*p).busy).write(AtomicU32::new(0));
            addr_of_mut!((*p).bound).write(AtomicU64::new(0));
            let l = UnsafeCell::raw_get(&raw const (*p).local);
            init_lists(addr_of_mut!((*l).tls), kind);
            init_lists(addr_of_mut!((*l).freed), kind);
            // `config::DERIVED_FREE_COUNT`: no local free yet, so `S` is each list's room.
            if DERIVED_FREE_COUNT && kind == HeapKind::Live {
                let first = addr_of_mut!((*l).tls).cast::<TlsList>();
                for i in 0..2 * NUM_CLASSES {
                    (*p).counters.class[i]
                        .free_local
                        .set((*first.add(i)).room() as i64 as u64);
                }
            }
            OwnedSlabs::init(addr_of_mut!((*l).owned), zeroed);
            addr_of_mut!((*l).slabs).write(
                [ClassSlabs {
                    cur: core::ptr::null_mut(),
                    partial: core::ptr::null_mut(),
                    full: core::ptr::null_mut(),
                }; TOTAL_CLASSES],
            );
            HintCache::init(addr_of_mut!((*l).hint));
            // `COLD_FIRST`: on zeroed memory these all-zero values (null pointers and zero
            // integers only) are left to the memory, so that their pages stay untouched.
            if !(zeroed && crate::config::COLD_FIRST) {
                addr_of_mut!((*l).remote).write(RemoteBatches::new());
                addr_of_mut!((*l).sampler).write(crate::prof::Sampler::new());
                addr_of_mut!((*l).ahead).write([0; NUM_CLASSES]);
                addr_of_mut!((*l).retired).write(crate::purge::Retired::new());
                addr_of_mut!((*l).next_free).write(core::ptr::null_mut());
            }
            // `prof_frames`: scratch, left uninitialised (`MaybeUninit`).
            addr_of_mut!((*l).profiled).write(false);
            addr_of_mut!((*l).taken).write([false; NUM_CLASSES]);
            addr_of_mut!((*l).medium_freed).write(0);
            addr_of_mut!((*l).medium_unclean).write(0);
            addr_of_mut!((*l).medium_freed_at).write(0);
            addr_of_mut!((*l).medium_epoch).write(0);
            addr_of_mut!((*l).medium_epoch_at).write(0);
            addr_of_mut!((*l).retired_purged_at).write(0);
            addr_of_mut!((*l).retired_high).write(0);
            addr_of_mut!((*l).medium_refaulted).write(0);
            addr_of_mut!((*l).medium_purged).write(0);
            addr_of_mut!((*l).medium_purged_before).write(0);
            addr_of_mut!((*l).medium_backoff).write(0);
            addr_of_mut!((*l).medium_quiet).write(0);
            addr_of_mut!((*l).medium_paced).write(false);
            KeepBackoff::init(addr_of_mut!((*l).keep), kind);
            addr_of_mut!((*l).limits).write(crate::front::tls_limit::TlsLimits::new());
            addr_of_mut!((*l).active).write([0; ACTIVE_WORDS]);
        }
    }

    /// Makes a heap its exited thread left in the pool what the next thread must find: what
    /// `init(p, Live)` writes, except the totals, what the heap keeps for its whole life, and
    /// the first-empty bits (below). The reset half of "a heap is reused by the next thread"
    /// (`thread::recycle_heap`); without it a reused heap carried its last thread's trim
    /// estimate and clock over (a stale `medium_unclean` / `medium_freed` ran a bind check the
    /// new thread's own frees did not call for, a stale `medium_epoch_at` refused its first
    /// check by frees), and its slow-start caps (`--cfg hakmem_tls_slow_start`).
    ///
    /// A new field stops `_every_field_written` compiling: decide it here too.
    /// Reset (per-thread estimates, clocks and hints): `taken`, the `medium_*` trim estimate,
    /// epoch clock and backoff, `keep` (the foreign-entry backoffs; `small::flush` reset them before),
    /// `limits` (the slow-start caps grow again from the start caps, as for a new heap),
    /// `active` (the idle flush's marks: the lists they saw are gone), and the
    /// TLS lists' caps (a cap `spill` raised), and `retired`'s rungs (`Retired::forget_rounds`:
    /// they were judged against this thread's high, which starts again at 0). Kept, with the
    /// invariant that lets them stay:
    /// - `retired`: its marks were cleared by the exit's flushes (every emptied current slab and
    ///   span released); its first-empty bits (`Retired::first_empty`) stay, on purpose: the
    ///   policy purges a class's first emptied span once per heap, not once per thread. Re-armed
    ///   per thread (session 19, docs/benchmarks.md), mixed-stress — threads recreated — cost
    ///   1.12-1.27x CPU and 1.3x page faults (each new thread purged its first emptied span of
    ///   every class and faulted it back in) for 10% less peak RSS;
    /// - `owner`, `hint`, `owned`: emptied by `small::flush(h, true)` (`Owner::clear`, whose
    ///   atomic stores are the only writes a stale remote freer may race with);
    /// - `slabs`: every list null, `remote`: every batch flushed — the exit's flushes released or
    ///   published every slab and span (the census check in `on_thread_exit` under `VALIDATE`);
    /// - `sampler`, `ahead`, `profiled`: the profiler's state, kept consistent with its switch by
    ///   `profiling::sync` when the next thread takes the heap; the countdowns are memoryless, so
    ///   one carried over is as good a draw as a fresh one, and the lists they debit are empty
    ///   (`small::flush` credited them);
    /// - `next_free`: the pool's link; `kind`, `prof_shard`, `next_all`: fixed for the heap's life;
    /// - `counters`: totals that `stats()` sums over every heap ever created: never reset.
    ///
    /// # Safety
    /// Nobody uses the heap: its thread has exited after `small::flush` and `medium::flush` with
    /// `publish`, and it is not yet in the pool.
    pub unsafe fn reset_for_reuse(&self) {
        // SAFETY: per the contract, nobody else reads or writes the local state.
        let local = unsafe { self.local_mut() };
        for (c, &size) in CLASS_SIZES.iter().enumerate().take(NUM_CLASSES) {
            debug_assert!(local.tls[c].head.is_null() && local.freed[c].head.is_null());
            let frees = self.rooms(local, c);
            local.tls[c].reset(tls_cap(size));
            local.freed[c].reset(tls_cap(size));
            self.settle(local, c, frees);
        }
        local.taken = [false; NUM_CLASSES];
        local.medium_freed = 0;
        local.medium_unclean = 0;
        local.medium_freed_at = 0;
        local.medium_epoch = 0;
        local.medium_epoch_at = 0;
        local.retired_purged_at = 0;
        local.retired_high = 0;
        if crate::config::RETIRED_PURGE_ROUNDS {
            local.retired.forget_rounds();
        }
        local.medium_refaulted = 0;
        local.medium_purged = 0;
        local.medium_purged_before = 0;
        local.medium_backoff = 0;
        local.medium_quiet = 0;
        local.medium_paced = false;
        local.keep = KeepBackoff::new();
        local.limits = crate::front::tls_limit::TlsLimits::new();
        local.active = [0; ACTIVE_WORDS];
    }

    /// The room of the heap's list `i` (a `HeapCounters::class` index: `tls[i]`, or
    /// `freed[i - NUM_CLASSES]`), for `stats()` from any thread (`config::DERIVED_FREE_COUNT`):
    /// an atomic load of a word the heap's thread may be writing (`TlsList::room`), a
    /// statistic's read (see `ClassCounters`). 0 for an `i` past the lists (no panic inside the
    /// allocator).
    pub fn room(&self, i: usize) -> i32 {
        if i >= 2 * NUM_CLASSES {
            return 0;
        }
        // SAFETY: `freed` follows `tls` (asserted at `TLS_TO_COUNTERS`), so `i` names one of
        // the `2 * NUM_CLASSES` lists, initialised since `init`; only the atomic field is
        // reached through the reference, and the owner writes it only atomically.
        unsafe {
            let first = core::ptr::addr_of!((*self.local_ptr()).tls).cast::<TlsList>();
            // ORDERING: Relaxed — a statistic: the owner is the only writer and publishes
            // nothing through it; the load is atomic so that it is no data race (it was a
            // volatile read before session 28, which ThreadSanitizer reported), not to order.
            (*core::ptr::addr_of!((*first.add(i)).room)).load(crate::sync::plain::Ordering::Relaxed)
        }
    }

    /// `config::DERIVED_FREE_COUNT`: the rooms of class `c`'s two lists (`tls[c]`, `freed[c]`),
    /// read before a change of them that no counted pop or push makes; `settle` after the change
    /// folds it out of the derived counts. `local` is this heap's local state, and the calling
    /// thread the heap's.
    #[inline]
    pub fn rooms(&self, local: &HeapLocal, c: usize) -> [i32; 2] {
        [local.tls[c].room(), local.freed[c].room()]
    }

    /// Ends what `rooms` began (`before`): each list's change of room since is no free. No
    /// counted pop or push may come between the two (it would be folded out with the rest), and
    /// no other settle of the class (brackets do not nest: both would add the change).
    #[inline]
    pub fn settle(&self, local: &HeapLocal, c: usize, before: [i32; 2]) {
        if DERIVED_FREE_COUNT {
            let now = self.rooms(local, c);
            self.counters.class[c].room_moved(now[0] as i64 - before[0] as i64);
            self.counters.class[NUM_CLASSES + c].room_moved(now[1] as i64 - before[1] as i64);
        }
    }

    /// `rooms` through the heap, for a caller that holds no reference to its local state.
    ///
    /// # Safety
    /// The calling thread is the heap's (or holds the fallback heap's lock).
    #[inline]
    pub unsafe fn rooms_now(&self, c: usize) -> [i32; 2] {
        // SAFETY: the heap's own thread (the contract); the reference ends here.
        self.rooms(unsafe { &*self.local_ptr() }, c)
    }

    /// `settle` through the heap (as `rooms_now`).
    ///
    /// # Safety
    /// As for `rooms_now`.
    #[inline]
    pub unsafe fn settle_now(&self, c: usize, before: [i32; 2]) {
        if DERIVED_FREE_COUNT {
            // SAFETY: as in `rooms_now`.
            self.settle(unsafe { &*self.local_ptr() }, c, before);
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

    /// The list that frees of class `c` push on: `tls[c]`, or `freed[c]` while the heap is
    /// profiled. Every owned slab's list pointer (`SlabLocal::tls`) names the same list.
    #[inline]
    pub fn free_list(&self, c: usize) -> *mut TlsList {
        // SAFETY: in bounds (callers pass a valid class); a read of the heap's own flag (a
        // sentinel's is false and only read).
        unsafe {
            if crate::config::PROF_FREE_SIDE && (*self.local.get()).profiled {
                return core::ptr::addr_of_mut!((*self.local.get()).freed[c]);
            }
        }
        self.tls(c)
    }

    /// Raw pointer to the TLS list of class `c`.
    #[inline(always)]
    pub fn tls(&self, c: usize) -> *mut TlsList {
        // SAFETY: in bounds (callers pass a valid class); no reference is created.
        unsafe { core::ptr::addr_of_mut!((*self.local.get()).tls[c]) }
    }

    /// Marks a slow-path window of a live heap until the returned value is dropped
    /// (`config::FORK_TAKEOVER`; a sentinel's word is never written). Every operation that
    /// changes the heap's slab or span lists, its slabs' owner state, its owned table or retired
    /// marks runs inside one; the small fast paths, which touch only the TLS lists and their
    /// counters, and the remote batches do not (a forked child never walks those). Nested windows
    /// (a slow path inside another, a signal handler's) count up.
    #[inline(always)]
    pub fn busy(&self) -> Busy<'_> {
        if !crate::config::FORK_TAKEOVER || self.kind != HeapKind::Live {
            return Busy(None);
        }
        // ORDERING: Relaxed load and store — only this heap's thread writes the word (a signal
        // handler that interrupts between them leaves it as it found it).
        let n = self.busy.load(Ordering::Relaxed);
        self.busy.store(n + 1, Ordering::Relaxed);
        // ORDERING: Release fence — the mark above is ordered before every store of the window
        // below, so a fork snapshot holding any of those holds the mark (x86: a compiler fence).
        fence(Ordering::Release);
        Busy(Some(self))
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

const _: () = assert!(core::mem::offset_of!(Heap, local) == 0);

impl HeapLocal {
    /// Fork takeover check (`config::CHECKED` builds, `config::FORK_TAKEOVER`): aborts unless the
    /// heap holding this state is inside a `Heap::busy` window, when it is a heap a forked child
    /// could take over (live, bound to a thread, not taken). Called by every mutator of what the
    /// takeover reads — the slab and span lists (`list_push`, `list_remove`), the owned table
    /// (every change goes through `owned_mut`) and the retired marks (`retire`,
    /// `clear_retired`, `release_retired`) — so that a change made outside a window (which a
    /// child could see half done and flush) fails the test that reaches it instead of a rare
    /// fork. The TLS lists, their counters and the remote batches are deliberately outside.
    /// Heaps with `bound` 0 (new, pooled, exiting) or `BOUND_TAKEN` are never taken over, so
    /// their changes need no window. Nothing in release builds without `checked`.
    #[inline(always)]
    pub fn expect_busy(&self, what: &str) {
        if !(crate::config::CHECKED && crate::config::FORK_TAKEOVER) {
            return;
        }
        // SAFETY: a `HeapLocal` lives only at offset 0 of a `Heap` (`Heap::new` and `Heap::init`
        // are the only places that build one; the const assert above), so the heap is readable.
        let h = unsafe { &*(self as *const HeapLocal).cast::<Heap>() };
        expect_busy_slow(h, what);
    }
}

#[cold]
#[inline(never)]
fn expect_busy_slow(h: &Heap, what: &str) {
    if h.kind != HeapKind::Live {
        return;
    }
    // ORDERING: Relaxed — the calling thread is the heap's (or the words are 0 or BOUND_TAKEN,
    // which skip the check); it reads its own stores.
    let bound = h.bound.load(Ordering::Relaxed);
    if bound == 0 || bound == BOUND_TAKEN || h.busy.load(Ordering::Relaxed) != 0 {
        return;
    }
    fatal("heap", what, Where::ptr(h as *const Heap as usize));
}

/// `HeapLocal::ahead` of a class not drawn since the heap was profiled: drawn at its first use
/// (`profiling::drawn`), so that a new thread pays only for the classes it uses.
pub const UNDRAWN: usize = usize::MAX;

impl HeapLocal {
    /// The cap a refill gives class `c`'s list, and of which a spill keeps a batch: the class's
    /// grown cap (`config::TLS_SLOW_START`, not while profiled), else its fixed one.
    #[inline]
    pub fn cap(&self, c: usize) -> u32 {
        if TLS_SLOW_START && !(crate::config::PROFILE && self.profiled) {
            self.limits.cap(c)
        } else {
            base_cap(c)
        }
    }

    /// `n` blocks of class `c` left a profiled heap's TLS list other than by the fast path's pop
    /// (the general path took one for a request the byte countdown counts; `small::flush`
    /// returned them): they go back on the class countdown (src/front/profiling.rs). Nothing
    /// when the heap is not profiled.
    #[inline]
    pub fn credit(&mut self, c: usize, n: usize) {
        if crate::config::PROF_FREE_SIDE && self.profiled && self.ahead[c] != UNDRAWN {
            self.ahead[c] = self.ahead[c].saturating_add(n).min(UNDRAWN - 1);
        }
    }

    /// `Heap::free_list`, for slow paths holding the local state.
    #[inline]
    pub fn free_list(&mut self, c: usize) -> *mut TlsList {
        if crate::config::PROF_FREE_SIDE && self.profiled {
            &raw mut self.freed[c]
        } else {
            &raw mut self.tls[c]
        }
    }

    /// Drains the full slabs (or spans) of class `c` that have remote frees waiting: those that
    /// regain free blocks move to `partial`; those left with nothing out are taken off the lists
    /// and handed to `release` (the magazine gives them to the pool, the medium front to the span
    /// cache). The "drain notified" step of refill. A full slab's free list is empty, so its
    /// queue becomes the free list unwalked (`Slab::drain_remote_unwalked`).
    ///
    /// # Safety
    /// `self` is the calling thread's heap; `release` takes an owned, empty slab on no list.
    pub unsafe fn drain_notified(
        &mut self,
        c: usize,
        mut release: impl FnMut(&mut Self, *mut Slab),
    ) {
        let mut s = self.slabs[c].full;
        while !s.is_null() {
            // SAFETY: slabs on our lists are ours.
            unsafe {
                let next = list::next(s);
                if (*s).remote.is_nonempty() && (*s).drain_remote_unwalked() > 0 {
                    self.list_remove(c, s);
                    if (*s).used() == 0 {
                        release(self, s);
                    } else {
                        self.list_push(c, s, ListKind::Partial);
                    }
                }
                s = next;
            }
        }
    }

    /// Makes the first partial slab (or span) of class `c` current. False if there is none. Its
    /// remote queue stays queued: the refill takes it once the slab's free list runs out
    /// (`Slab::take_remote`, unwalked; `medium`: `drain_remote`), so the remotely freed blocks
    /// are not walked here behind a free list that is not empty. With `--cfg
    /// hakmem_no_remote_unwalked` the queue is drained (walked) here, as before.
    ///
    /// # Safety
    /// `self` is the calling thread's heap.
    pub unsafe fn next_partial(&mut self, c: usize) -> bool {
        let s = self.slabs[c].partial;
        if s.is_null() {
            return false;
        }
        // SAFETY: slabs on our lists are ours.
        unsafe {
            self.list_remove(c, s);
            // Used again: a pinned slab kept from its release (front/foreign.rs) no longer waits
            // for it.
            if crate::config::FOREIGN_ENTRIES && (*s).release_wanted() {
                (*s).release_unwanted();
            }
            if !REMOTE_UNWALKED {
                (*s).drain_remote();
            }
            self.list_push(c, s, ListKind::Current);
        }
        true
    }
    /// The owned-slab table, for reading.
    #[inline(always)]
    pub fn owned(&self) -> &OwnedSlabs {
        &self.owned
    }

    /// The owned-slab table of the local state at `this`, as a raw pointer (the fast paths read
    /// it through raw places, so that a sentinel heap's is only ever read).
    ///
    /// # Safety
    /// `this` points at a `HeapLocal`.
    #[inline(always)]
    pub unsafe fn owned_ptr(this: *const HeapLocal) -> *const OwnedSlabs {
        // SAFETY: per the contract; no reference is created.
        unsafe { &raw const (*this).owned }
    }

    /// The owned-slab table, for changing it: only inside a busy window (`expect_busy`), as the
    /// fork takeover reads it.
    #[inline(always)]
    pub fn owned_mut(&mut self) -> &mut OwnedSlabs {
        self.expect_busy("owned table changed outside a busy window (fork takeover)");
        &mut self.owned
    }

    /// Marks class `c`'s current slab (span) retired at `now` (`purge::Retired::mark`).
    #[inline]
    pub fn retire(&mut self, c: usize, now: crate::purge::Stamp) {
        self.expect_busy("retired mark outside a busy window (fork takeover)");
        self.retired.mark(c, now);
    }

    /// Forgets the retired marks of `classes` (`purge::Retired::clear`).
    #[inline]
    pub fn clear_retired(&mut self, classes: core::ops::Range<usize>) {
        self.expect_busy("retired clear outside a busy window (fork takeover)");
        self.retired.clear(classes);
    }

    /// Pushes `s` on list `kind` of class `c`.
    ///
    /// # Safety
    /// The heap owns `s` and `s` is on no list.
    pub unsafe fn list_push(&mut self, c: usize, s: *mut Slab, kind: ListKind) {
        self.expect_busy("slab list push outside a busy window (fork takeover)");
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
        // SAFETY: the heap owns `s` and every slab on its lists.
        unsafe {
            (*s).local(|l| l.list = kind);
            list::push_front(head, s);
        }
    }

    /// The walk both tiers run when they bind (small slabs, medium spans): every retired current
    /// slab of `classes` that is still empty and that `sweep` covers comes off its list and goes
    /// to `release` with its stamp; the others stay retired, or are dropped from `retired` if they
    /// were used again. Returns whether any was released (the caller then purges its cache).
    ///
    /// # Safety
    /// `self` is the calling thread's heap state; `release` takes ownership of the slab it is
    /// given (empty, off every list).
    pub unsafe fn release_retired(
        &mut self,
        classes: core::ops::Range<usize>,
        sweep: crate::purge::Sweep,
        mut release: impl FnMut(&mut Self, *mut Slab, crate::purge::Stamp),
    ) -> bool {
        let mut released = false;
        let mut from = classes.start;
        while let Some((c, cur, at)) =
            // SAFETY: per the contract (the calling thread's heap state).
            unsafe { self.take_retired(from..classes.end, |_, at| sweep.covers(at)) }
        {
            from = c + 1;
            release(self, cur, at);
            released = true;
        }
        released
    }

    /// Takes off its list the first retired current slab (span) of `classes` that is still empty
    /// and that `wanted` accepts (by class id and stamp), unmarked: its class, itself and the stamp it emptied at; retired
    /// ones it passes that were used again are unmarked, as `release_retired` does. The caller
    /// owns what it gets: empty, off every list (`front::medium::rebind_retired`).
    ///
    /// # Safety
    /// `self` is the calling thread's heap state.
    pub unsafe fn take_retired(
        &mut self,
        classes: core::ops::Range<usize>,
        wanted: impl Fn(usize, crate::purge::Stamp) -> bool,
    ) -> Option<(usize, *mut Slab, crate::purge::Stamp)> {
        let mut from = classes.start;
        while let Some((c, at)) = self.retired.first(from..classes.end) {
            from = c + 1;
            let cur = self.slabs[c].cur;
            // SAFETY: `cur` is owned by this heap.
            let empty = !cur.is_null() && unsafe { (*cur).used() } == 0;
            if empty && !wanted(c, at) {
                continue;
            }
            self.expect_busy("retired unmark outside a busy window (fork takeover)");
            self.retired.unmark(c);
            if empty {
                // SAFETY: our current slab, empty: off the list, nothing out.
                unsafe { self.list_remove(c, cur) };
                return Some((c, cur, at));
            }
        }
        None
    }

    /// Removes `s` from whichever list of class `c` holds it.
    ///
    /// # Safety
    /// The heap owns `s`.
    pub unsafe fn list_remove(&mut self, c: usize, s: *mut Slab) {
        self.expect_busy("slab list remove outside a busy window (fork takeover)");
        // SAFETY: the heap owns `s` and every slab on its lists.
        unsafe {
            let kind = (*s).local(|l| core::mem::replace(&mut l.list, ListKind::None));
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
            list::unlink(head, s);
        }
    }
}

/// What `HeapLocal::debug_check` counted over a heap's owned slabs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeapCensus {
    /// Owned slabs (on the `cur`, `partial` and `full` lists of every class).
    pub slabs: usize,
    /// Blocks out of them (`Slab::used`, summed).
    pub used: usize,
    /// Blocks on the heap's TLS lists.
    pub tls: usize,
    /// Blocks in the owned slabs' remote queues.
    pub remote: usize,
    /// Blocks out that are neither on a TLS list nor in a remote queue: the live ones
    /// (`used - tls - remote`).
    pub live: usize,
}

impl Heap {
    /// `HeapLocal::debug_check` of this heap; a sentinel heap owns nothing and counts nothing.
    ///
    /// # Safety
    /// The heap is the calling thread's (`thread::current()`).
    pub unsafe fn debug_check(&self) -> HeapCensus {
        if self.kind != HeapKind::Live {
            return HeapCensus::default();
        }
        // SAFETY: our own live heap; the reference lives for this call only.
        unsafe { (*self.local_ptr()).debug_check(self.owner_ptr()) }
    }
}

impl HeapLocal {
    /// The heap's structural validator: for every class (small and medium), the owner lists are well linked (null
    /// `prev` at the head, `next.prev == self` along the list, each slab's `list` kind naming the
    /// list it is on), every slab on them is owned by `owner`, bound to the class, and passes
    /// `Slab::debug_check`; every block on the class's TLS list lies in one of those slabs, the
    /// list's length agrees with its room counter, and for every slab the conservation equation
    /// closes: `used == live + |TLS blocks of the slab| + |remote|` with `live >= 0`. Aborts
    /// (`fatal`, box "heap") on the first violation; returns the counts.
    ///
    /// # Safety
    /// The heap is live and belongs to the calling thread.
    pub unsafe fn debug_check(&self, owner: *const Owner) -> HeapCensus {
        let mut census = HeapCensus::default();
        for c in 0..TOTAL_CLASSES {
            // Medium classes (spans) have no TLS list. A profiled heap's free-side list counts
            // with its TLS list.
            let tls = self.tls.get(c);
            let freed = self.freed.get(c);
            let tls_len = tls.map_or(0, TlsList::len) + freed.map_or(0, TlsList::len);
            let mut on_owned_slabs = 0;
            let cs = self.slabs[c];
            let lists = [
                (cs.cur, ListKind::Current),
                (cs.partial, ListKind::Partial),
                (cs.full, ListKind::Full),
            ];
            for (head, kind) in lists {
                let mut prev: *mut Slab = core::ptr::null_mut();
                let mut s = head;
                while !s.is_null() {
                    // SAFETY: slabs on our lists are owned by this heap, hence held by us.
                    let slab = unsafe { &*s };
                    let (l_kind, l_class, l_prev, l_next) =
                        // SAFETY: as above.
                        unsafe { slab.local(|l| (l.list, l.class, l.links.prev, l.links.next)) };
                    let at = slab.whereis(slab.data() as usize, c);
                    if !slab.is_owned_by(owner) || l_kind != kind || l_class as usize != c {
                        fatal("heap", "slab on an owner list it does not belong to", at);
                    }
                    if kind != ListKind::Current && l_prev != prev {
                        fatal("heap", "owner list back link broken", at);
                    }
                    // SAFETY: as above.
                    let slab_census = unsafe { slab.debug_check() };
                    let in_slab =
                        |b: usize| b.wrapping_sub(slab.data() as usize) < crate::config::SLAB_SIZE;
                    let in_tls = tls.map_or(0, |t| count_in(t, in_slab))
                        + freed.map_or(0, |t| count_in(t, in_slab));
                    if in_tls + slab_census.remote > slab_census.used {
                        fatal(
                            "heap",
                            "conservation broken: TLS and remote blocks exceed the blocks out",
                            at,
                        );
                    }
                    on_owned_slabs += in_tls;
                    census.slabs += 1;
                    census.used += slab_census.used;
                    census.remote += slab_census.remote;
                    if kind == ListKind::Current {
                        break; // `cur` is one slab, not a list
                    }
                    prev = s;
                    s = l_next;
                }
            }
            let (Some(tls), Some(freed)) = (tls, freed) else {
                continue;
            };
            let listed = count_in(tls, |_| true) + count_in(freed, |_| true);
            // Kept blocks of slabs other heaps own may sit on the lists (front/foreign.rs).
            let foreign_ok = crate::config::FOREIGN_ENTRIES && on_owned_slabs <= tls_len;
            if listed != tls_len || (on_owned_slabs != tls_len && !foreign_ok) {
                fatal(
                    "heap",
                    "TLS list length differs from its room counter, or holds a block of a slab \
                     the heap does not own",
                    Where::ptr(tls.head as usize),
                );
            }
            census.tls += on_owned_slabs;
        }
        census.live = census.used - census.tls - census.remote;
        census
    }
}

/// Blocks of `list` whose address satisfies `f`; the walk stops after `len + 1` blocks (a longer
/// list is reported by the caller as a length mismatch).
fn count_in(list: &TlsList, f: impl Fn(usize) -> bool) -> usize {
    let mut n = 0;
    let mut cur = list.head;
    for _ in 0..=list.len() {
        let Some(b) = NonNull::new(cur) else { break };
        if f(b.as_ptr() as usize) {
            n += 1;
        }
        // SAFETY: blocks on a TLS list are free blocks of slabs the heap owns.
        cur = unsafe { Block::next(b) };
    }
    n
}

/// `Heap::init` writes every field: this exhaustive destructuring (never called) stops compiling
/// when a field is added to `Heap` or `HeapLocal`, until `init` writes it too — and
/// `Heap::reset_for_reuse` says whether a reused heap's next thread finds it reset or kept.
#[allow(dead_code, unused_variables)]
fn _every_field_written(h: Heap) {
    let Heap {
        local,
        _line,
        owner,
        kind,
        prof_shard,
        counters,
        next_all,
        busy,
        bound,
    } = h;
    let HeapLocal {
        tls,
        freed,
        owned,
        slabs,
        hint,
        remote,
        next_free,
        sampler,
        prof_frames,
        ahead,
        profiled,
        retired,
        taken,
        medium_freed,
        medium_unclean,
        medium_freed_at,
        medium_epoch,
        medium_epoch_at,
        retired_purged_at,
        retired_high,
        medium_refaulted,
        medium_purged,
        medium_purged_before,
        medium_backoff,
        medium_quiet,
        medium_paced,
        keep,
        limits,
        active,
    } = local.into_inner();
}

/// Words of `HeapLocal::active`: a bit per small class.
pub const ACTIVE_WORDS: usize = NUM_CLASSES.div_ceil(64);

impl HeapLocal {
    /// Notes that class `c` was refilled or spilled (`config::IDLE_FLUSH`).
    #[inline(always)]
    pub fn mark_active(&mut self, c: usize) {
        if crate::config::IDLE_FLUSH {
            self.active[c / 64] |= 1 << (c % 64);
        }
    }

    /// Whether class `c` was refilled or spilled since the marks were last cleared.
    #[inline(always)]
    pub fn is_active(&self, c: usize) -> bool {
        self.active[c / 64] & (1 << (c % 64)) != 0
    }
}

/// Per small class: how many more remote frees keep nothing, the backoff's level (see
/// front/foreign.rs, "Following reuse"), and whether a remote free of the class takes the keep
/// path (`config::FOREIGN_REUSERS`). Thread-private (a field of `HeapLocal`).
pub struct KeepBackoff {
    skip: [u32; NUM_CLASSES],
    level: [u8; NUM_CLASSES],
    /// Nonzero when a remote free of the class goes to `foreign::keep_or_push`: on a live heap
    /// once the class was refilled (its first allocation on this heap did); on a sentinel heap
    /// always (a constant, never written), so that a zero byte also says "a live heap" and
    /// `free_remote`'s one compare replaces both its keep test and its live-or-shared counter
    /// test (a byte per class: no index arithmetic).
    reuses: [u8; NUM_CLASSES],
}

impl KeepBackoff {
    /// Writes `new_for(kind)` at `p` in place, field by field (`Heap::init`): writing the value
    /// built its 504 bytes on the stack and copied them (docs/design.md, "Stack depth").
    ///
    /// # Safety
    /// `p` is valid for writes of a `KeepBackoff` and aligned; what it held is not dropped.
    pub unsafe fn init(p: *mut KeepBackoff, kind: HeapKind) {
        use core::ptr::addr_of_mut;
        let live = matches!(kind, HeapKind::Live);
        // SAFETY: per the contract; each place is a field of `*p`.
        unsafe {
            addr_of_mut!((*p).skip).write([0; NUM_CLASSES]);
            addr_of_mut!((*p).level).write([0; NUM_CLASSES]);
            addr_of_mut!((*p).reuses).write([if live { 0 } else { 1 }; NUM_CLASSES]);
        }
    }

    /// A live heap's: nothing refilled yet.
    pub const fn new() -> Self {
        Self::new_for(HeapKind::Live)
    }

    /// A heap of kind `kind`'s (see `reuses`).
    pub const fn new_for(kind: HeapKind) -> Self {
        let live = matches!(kind, HeapKind::Live);
        KeepBackoff {
            skip: [0; NUM_CLASSES],
            level: [0; NUM_CLASSES],
            reuses: [if live { 0 } else { 1 }; NUM_CLASSES],
        }
    }

    /// Whether a remote free of class `c` takes the keep path: the (live) heap refilled the
    /// class since it started, or the heap is a sentinel. False says the heap is live.
    #[inline(always)]
    pub fn reuses(&self, c: usize) -> bool {
        self.reuses[c] != 0
    }

    /// A spill of class `c` returned `foreign` kept blocks among `spilled`: more kept than own
    /// ones starts (or lengthens) the class's backoff and (`config::SPILL_FORGETS_REUSE`) clears
    /// `reuses`, until the next `refilled(c)`. Only a live heap spills, so a zero `reuses` byte
    /// still says "a live heap".
    #[inline]
    pub fn spilled(&mut self, c: usize, spilled: usize, foreign: usize) {
        if foreign * 2 > spilled {
            if FOREIGN_BACKOFF {
                let level = self.level[c];
                self.skip[c] = FOREIGN_BACKOFF_FREES << level;
                self.level[c] = (level + 1).min(FOREIGN_BACKOFF_MAX_LEVEL);
            }
            if SPILL_FORGETS_REUSE && self.level[c] >= SPILL_FORGET_LEVEL {
                self.reuses[c] = 0;
            }
        }
    }

    /// Class `c`'s list ran dry: the thread reuses the class, its backoff level falls.
    #[inline]
    pub fn refilled(&mut self, c: usize) {
        self.reuses[c] = 1;
        if FOREIGN_BACKOFF {
            self.level[c] = self.level[c].saturating_sub(1);
        }
    }

    /// Class `c`'s state, for `testing::keep_backoff`: the remote frees still skipped, the
    /// level, and `reuses` (its only reader, built with the hooks).
    #[cfg(feature = "fault-injection")]
    pub fn state(&self, c: usize) -> (u32, u8, bool) {
        (self.skip[c], self.level[c], self.reuses(c))
    }

    /// Whether this remote free of class `c` may keep its block; counts a skipped one.
    #[inline]
    pub fn take(&mut self, c: usize) -> bool {
        if FOREIGN_BACKOFF && self.skip[c] != 0 {
            self.skip[c] -= 1;
            return false;
        }
        true
    }
}

impl Default for KeepBackoff {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::{Heap, HeapKind, HeapLocal, KeepBackoff};
    use crate::config::{OWNED_ENTRIES, SLAB_SIZE, SPILL_FORGETS_REUSE, SPILL_FORGET_LEVEL};
    use crate::front::owned::OwnedSlabs;
    use crate::size_class::NUM_CLASSES;

    /// `Heap::init` on zeroed memory (`zeroed`: `config::LAZY_TABLE`, `config::COLD_FIRST`)
    /// leaves fields to the memory: the heap must read as the one a full init writes over
    /// garbage. The fields left alone hold the same bytes (none has padding), and the table,
    /// whose entries differ (0 against `NO_KEY`), misses every address in both, the ones below
    /// `SLAB_SIZE` (entry 0) included.
    #[test]
    fn init_on_zeroed_memory_reads_as_a_full_init() {
        use core::mem::{offset_of, size_of};
        let layout = std::alloc::Layout::new::<Heap>();
        // SAFETY: fresh allocations of a heap's layout, written by `init` before any read, read
        // within their bounds, freed once.
        unsafe {
            let a = std::alloc::alloc_zeroed(layout).cast::<Heap>();
            let b = std::alloc::alloc(layout);
            assert!(!a.is_null() && !b.is_null());
            b.write_bytes(0xa5, layout.size());
            let b = b.cast::<Heap>();
            Heap::init(a, HeapKind::Live, true);
            Heap::init(b, HeapKind::Live, false);
            let fields = [
                (
                    "remote",
                    offset_of!(HeapLocal, remote),
                    size_of::<super::RemoteBatches>(),
                ),
                (
                    "sampler",
                    offset_of!(HeapLocal, sampler),
                    size_of::<crate::prof::Sampler>(),
                ),
                (
                    "ahead",
                    offset_of!(HeapLocal, ahead),
                    size_of::<[usize; NUM_CLASSES]>(),
                ),
                (
                    "retired",
                    offset_of!(HeapLocal, retired),
                    size_of::<crate::purge::Retired>(),
                ),
                (
                    "next_free",
                    offset_of!(HeapLocal, next_free),
                    size_of::<*mut Heap>(),
                ),
            ];
            for (name, off, len) in fields {
                let (x, y) = ((*a).local_ptr().cast::<u8>(), (*b).local_ptr().cast::<u8>());
                let (x, y) = (
                    core::slice::from_raw_parts(x.add(off), len),
                    core::slice::from_raw_parts(y.add(off), len),
                );
                assert_eq!(x, y, "{name}");
            }
            for h in [a, b] {
                let t = HeapLocal::owned_ptr((*h).local_ptr());
                assert!(!(*t).foreign_any());
                for addr in [
                    0,
                    8,
                    0x100,
                    SLAB_SIZE - 1,
                    SLAB_SIZE,
                    5 * SLAB_SIZE + 7,
                    OWNED_ENTRIES * SLAB_SIZE,
                    (OWNED_ENTRIES - 1) * SLAB_SIZE + 16,
                    0x7f00_0000_0000,
                ] {
                    assert!(OwnedSlabs::lookup(t, addr).is_none(), "{addr:#x}");
                }
            }
            std::alloc::dealloc(a.cast(), layout);
            std::alloc::dealloc(b.cast(), layout);
        }
    }

    /// `free_remote` bumps the heap's own counter, unsynchronised, when `reuses` is false: that
    /// must mean a live heap, so a sentinel's bytes are all set, and a live heap's all clear
    /// until its first refill of the class.
    #[test]
    fn only_a_live_heap_starts_with_clear_keep_bytes() {
        for kind in [HeapKind::Empty, HeapKind::Dead] {
            let k = KeepBackoff::new_for(kind);
            assert!((0..NUM_CLASSES).all(|c| k.reuses(c)));
        }
        let mut k = KeepBackoff::new();
        assert!((0..NUM_CLASSES).all(|c| !k.reuses(c)));
        k.refilled(3);
        assert!(k.reuses(3) && !k.reuses(2) && !k.reuses(4));
    }

    /// `config::SPILL_FORGETS_REUSE`: `SPILL_FORGET_LEVEL` spills of mostly kept blocks (less one
    /// per refill between them) make the class a consumer's again (remote frees batched, nothing
    /// kept) until the list of the class runs dry; a spill of mostly own blocks changes nothing.
    #[test]
    fn spills_of_kept_blocks_forget_the_reuse() {
        let mut k = KeepBackoff::new();
        k.refilled(3);
        k.spilled(3, 10, 5);
        assert!(k.reuses(3), "half kept, half own: still a reuser");
        for _ in 1..SPILL_FORGET_LEVEL {
            k.spilled(3, 10, 6);
            assert!(k.reuses(3), "below the level: still a reuser");
        }
        k.refilled(3);
        k.spilled(3, 10, 6);
        assert!(k.reuses(3), "a refill between the spills lowered the level");
        k.spilled(3, 10, 6);
        assert_eq!(
            k.reuses(3),
            !SPILL_FORGETS_REUSE,
            "at the level the spill forgets the reuse (switch on) or keeps it (backout)"
        );
        k.refilled(3);
        assert!(k.reuses(3), "a refill makes the thread a reuser again");
    }
}
