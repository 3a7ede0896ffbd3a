//! Test-only introspection hooks, for the regression tests of the root-cause candidates
//! (tests/regressions.rs). Not part of the API: hidden from the docs, no stability promise, and
//! nothing here is used by the allocator itself.
//!
//! Boundary: reads allocator state the tests need to construct a scenario on purpose and check
//! its outcome (which SuperSlab, slab, class and block a pointer lies in; what the calling
//! thread's hint cache answers; what the registry answers), plus three deliberate corruptions that
//! the allocator must detect (a block header's class or offset; a block pushed twice on its remote
//! queue). Every hook goes through the same modules the allocator uses; none keeps state.

use core::ptr::NonNull;

use crate::config::{FIRST_DATA_SLAB, SUPERSLAB_MASK};
use crate::front::heap::HeapLocal;
use crate::front::hint::Hint;
use crate::front::owned::OwnedSlabs;
use crate::front::thread;
use crate::registry;
use crate::size_class;
use crate::slab::block::Block;
use crate::slab::header::HEADER_SIZE;
use crate::slab::slab::{Slab, NO_CLASS};
use crate::slab::superslab::{SuperSlab, SUPERSLAB_MAGIC};
use crate::sync::Ordering;

pub use crate::front::heap::HeapCensus;
pub use crate::hook::Point as HookPoint;

/// Runs the structural validator over the calling thread's heap (`HeapLocal::debug_check`: every
/// owned slab's conservation equation, owner lists, TLS lists) and returns what it counted; a
/// violation aborts with a `hakmem: heap:` or `hakmem: slab:` line. A heapless thread counts
/// nothing.
pub fn debug_check() -> HeapCensus {
    // SAFETY: the calling thread's heap.
    unsafe { thread::current().debug_check() }
}

/// Installs a hook called at the named points of the allocator's slow paths (or removes it with
/// `None`); see src/hook.rs. Process-wide: a test using it runs in its own process.
pub fn set_hook(f: Option<fn(HookPoint)>) {
    crate::hook::set(f);
}

/// From inside a hook: runs `f` as if no hook were running (see src/hook.rs, `outside`), so that a
/// signal raised there is handled as a program's would be.
pub fn outside_hook(f: impl FnOnce()) {
    crate::hook::outside(f);
}

/// True if the calling thread has no heap of its own: it runs on the `EMPTY` (never allocated)
/// or `DEAD` (torn down) sentinel.
pub fn heapless() -> bool {
    thread::current().kind != crate::front::heap::HeapKind::Live
}

/// True if neither sentinel heap holds a block on a TLS list or a slab on an owner list. The
/// sentinels are shared by every heapless thread and must never be written.
pub fn sentinels_untouched() -> bool {
    [&thread::EMPTY, &thread::DEAD].iter().all(|h| {
        // SAFETY: read-only access; sentinels are statics that live forever.
        let l = unsafe { &*h.local_ptr() };
        l.tls
            .iter()
            .chain(&l.freed)
            .all(|t| t.head.is_null() && t.len() == 0)
            && !l.profiled
            && l.slabs
                .iter()
                .all(|s| s.cur.is_null() && s.partial.is_null() && s.full.is_null())
    })
}

/// Retired spans a heap gave to another class of their span size (`config::SPAN_REBIND_RETIRED`).
/// A global counter read here, not a `Stats` field: docs/debugging.md, "The freed mark and stale
/// stack bytes" (session 22), says why `Stats` did not grow.
pub fn spans_rebound() -> u64 {
    crate::stats::GLOBALS.spans_rebound.get()
}

/// The freed-block mark's key (`front::mark`): what a headerless free writes into a freed block's
/// second word. For the test that a live block holding it is not taken for a freed one.
pub fn freed_mark_key() -> usize {
    crate::front::mark::key()
}

/// Locks taken over in this process from a holder that did not survive a `fork` (see src/lock.rs).
pub fn fork_takeovers() -> usize {
    // ORDERING: Relaxed — a counter read after the events it counts, on the same thread.
    crate::lock::fork::TAKEOVERS.load(Ordering::Relaxed)
}

/// Heaps of threads that did not survive a `fork`, in this process: (taken over, left alone
/// because their thread was inside a slow path at the fork instant). See
/// `front::thread::take_over_dead_heaps`.
pub fn fork_heaps() -> (usize, usize) {
    // ORDERING: Relaxed — counters read after the events they count, on the same thread.
    (
        crate::front::thread::HEAPS_TAKEN_OVER.load(Ordering::Relaxed),
        crate::front::thread::HEAPS_LEFT_BUSY.load(Ordering::Relaxed),
    )
}

/// The owned-slab tables (front/owned.rs) of the heaps this process took over after a fork
/// (`front::thread::take_over_dead_heaps`, `Heap::bound == BOUND_TAKEN`): `f(address, bytes)` for
/// each, so that a test can see which of their pages the takeover wrote
/// (`config::TAKEOVER_SKIPS_TABLE`).
pub fn for_each_taken_table(mut f: impl FnMut(usize, usize)) {
    thread::for_each_heap(|h| {
        // ORDERING: Relaxed — stored by this process's takeover, on the calling thread or before
        // it read the takeover's counter (a test reads it after `fork_heaps`).
        if h.bound.load(Ordering::Relaxed) == crate::front::heap::BOUND_TAKEN {
            // SAFETY: a heap's local state is a `HeapLocal`; only the address is taken.
            let t = unsafe { HeapLocal::owned_ptr(h.local_ptr()) };
            f(t as usize, core::mem::size_of::<OwnedSlabs>());
        }
    });
}

/// The ranks of hakmem's locks, lowest first, by name (`Rank::name`).
pub fn lock_ranks() -> [(u8, &'static str); 10] {
    crate::lock::Rank::ALL.map(|r| (r as u8, r.name()))
}

/// Allocates `size` bytes of metadata through the real bump allocator (its lock included).
pub fn meta_alloc(size: usize) -> bool {
    crate::meta::alloc(size).is_some()
}

/// Takes a lock of rank `outer`, then one of rank `inner` inside it: two locks of this module that
/// protect nothing, checked by the real lock-order checker (which aborts on a rank that does not
/// increase, in `checked` and debug builds). Ranks are the numbers of `lock_ranks`.
pub fn nest_locks(outer: u8, inner: u8) {
    use crate::lock::{Rank, SpinLock};
    const fn one_per_rank() -> [SpinLock<()>; 10] {
        [
            SpinLock::new(Rank::Setup, ()),
            SpinLock::new(Rank::Fallback, ()),
            SpinLock::new(Rank::HeapPool, ()),
            SpinLock::new(Rank::Published, ()),
            SpinLock::new(Rank::Pool, ()),
            SpinLock::new(Rank::Span, ()),
            SpinLock::new(Rank::Meta, ()),
            SpinLock::new(Rank::ProfSwitch, ()),
            SpinLock::new(Rank::ProfTables, ()),
            SpinLock::new(Rank::LargeCache, ()),
        ]
    }
    // Two sets, so that nesting two locks of one rank takes two distinct locks.
    static OUTER: [SpinLock<()>; 10] = one_per_rank();
    static INNER: [SpinLock<()>; 10] = one_per_rank();
    OUTER[usize::from(outer)].with(|_| INNER[usize::from(inner)].with(|_| ()));
}

/// Built without `headerless`: small blocks carry a header in front of the user pointer.
pub const HEADER_MODE: bool = !crate::config::HEADERLESS;

/// Whether an exiting thread runs the structural validator over its heap (`config::VALIDATE`:
/// debug builds and the `checked` feature). A release build does not.
pub const VALIDATES_AT_THREAD_EXIT: bool = crate::config::VALIDATE;

/// What the calling thread's hint cache answers for an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HintState {
    /// An entry for the address's SuperSlab at its current generation.
    Hit,
    /// An entry for the address's SuperSlab at an older generation.
    Stale,
    /// No entry (or the `tls-hint` box is compiled out).
    Miss,
}

/// The calling thread's hint cache's answer for `ptr` (a lookup only; nothing is inserted).
pub fn hint_state(ptr: *const u8) -> HintState {
    let h = thread::current();
    // SAFETY: read-only access to the calling thread's own heap (sentinels included).
    match unsafe { (*h.local_ptr()).hint.lookup(ptr as usize) } {
        Hint::Hit(_) => HintState::Hit,
        Hint::Stale => HintState::Stale,
        Hint::Miss => HintState::Miss,
    }
}

/// True if the registry maps `ptr`'s chunk to a region (a registered SuperSlab or large block).
pub fn registry_knows(ptr: *const u8) -> bool {
    !registry::lookup(ptr as usize).is_null()
}

/// Where a small block lies, read from the allocator's metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// Base address of its SuperSlab.
    pub superslab: usize,
    /// Generation of that SuperSlab now.
    pub generation: u64,
    /// Index of its slab in the SuperSlab.
    pub slab: usize,
    /// The slab's class (as free paths read it).
    pub class: usize,
    /// Block size of that class.
    pub class_size: usize,
    /// Start of the block of that class containing `ptr`.
    pub block: usize,
    /// True if the calling thread owns the slab.
    pub owned_by_caller: bool,
}

/// The SuperSlab header at `base`.
///
/// # Safety
/// `base` is the base of a SuperSlab this process mapped (SuperSlab memory is never unmapped).
unsafe fn superslab_at(base: usize) -> &'static SuperSlab {
    // SAFETY: per the contract.
    unsafe { &*(base as *const SuperSlab) }
}

/// Where the small block containing `ptr` lies, if the registry knows `ptr` as part of a data
/// slab bound to a class; `None` otherwise (not ours, large, retired, header slab, free slab).
pub fn block_info(ptr: *const u8) -> Option<BlockInfo> {
    let r = NonNull::new(registry::lookup(ptr as usize))?;
    // SAFETY: registered regions start with a magic and are mapped while registered.
    if unsafe { r.as_ref().magic } != SUPERSLAB_MAGIC {
        return None;
    }
    let base = ptr as usize & !SUPERSLAB_MASK;
    // SAFETY: the registry named a SuperSlab at `base`.
    let ss = unsafe { superslab_at(base) };
    let slab = SuperSlab::slab_index(ptr as usize);
    if slab < FIRST_DATA_SLAB {
        return None;
    }
    let s: &Slab = &ss.slabs[slab];
    // ORDERING: Relaxed — as the free paths read it.
    let class = s.class.load(Ordering::Relaxed);
    if class == NO_CLASS {
        return None;
    }
    let class = class as usize;
    let class_size = size_class::class_size(class);
    let off = ptr as usize - s.data() as usize;
    Some(BlockInfo {
        superslab: base,
        generation: ss.generation(),
        slab,
        class,
        class_size,
        block: s.data() as usize + off / class_size * class_size,
        owned_by_caller: s.is_owned_by(thread::current().owner_ptr()),
    })
}

/// The generation of the SuperSlab at `base` now, registered or retired.
///
/// # Safety
/// `base` is a `BlockInfo::superslab` this process obtained earlier.
pub unsafe fn superslab_generation(base: usize) -> u64 {
    // SAFETY: per the contract.
    unsafe { superslab_at(base) }.generation()
}

/// The class `alloc(size, align)` serves from, or `None` for the large path (ignoring header
/// mode's extra bytes).
pub fn class_for(size: usize, align: usize) -> Option<usize> {
    size_class::class_for(size, align.max(crate::config::MIN_ALIGN))
}

/// Block size of class `c`.
pub fn class_size(c: usize) -> usize {
    size_class::class_size(c)
}

/// Bytes between block start and user pointer in header mode for alignment `align`.
pub fn header_unit(align: usize) -> usize {
    crate::slab::header::header_unit(align)
}

// The header layout documented in slab/header.rs: { tag: u64, offset: u64 }, right in front of
// the user pointer (little-endian: the offset's low half at 8).
const HEADER_OFFSET_AT: usize = 8;

/// The offset back to the block start recorded in the header of the live block at `user`
/// (header mode; `None` when built headerless).
///
/// # Safety
/// `user` is a live small block of this allocator.
pub unsafe fn header_offset(user: *const u8) -> Option<usize> {
    if !HEADER_MODE {
        return None;
    }
    // SAFETY: the header lies in the 16 bytes before a live header-mode block.
    Some(unsafe {
        user.sub(HEADER_SIZE)
            .add(HEADER_OFFSET_AT)
            .cast::<u32>()
            .read()
    } as usize)
}

/// Overwrites the class recorded in the header of the live block at `user` (header mode): its
/// tag becomes class `class`'s, so that the header still reads as a live one: the drift is then
/// visible only as a class that differs from the slab's.
///
/// # Safety
/// `user` is a live small block of this allocator, built in header mode; `class` is a small
/// class. The block is corrupt afterwards: freeing it must abort.
pub unsafe fn corrupt_header_class(user: *mut u8, class: u16) {
    // SAFETY: per the contract; the header is 16-aligned in front of the user pointer.
    unsafe {
        user.sub(HEADER_SIZE)
            .cast::<u64>()
            .write(crate::slab::header::tag(class as usize))
    }
}

/// Overwrites the offset recorded in the header of the live block at `user` (header mode).
///
/// # Safety
/// As for `corrupt_header_class`.
pub unsafe fn corrupt_header_offset(user: *mut u8, offset: u32) {
    // SAFETY: per the contract.
    unsafe {
        user.sub(HEADER_SIZE)
            .add(HEADER_OFFSET_AT)
            .cast::<u32>()
            .write(offset)
    };
}

/// Drains the remote queue of the slab holding `ptr` into its free list, if the calling thread
/// owns that slab; returns how many blocks were moved.
pub fn drain_remote_of(ptr: *const u8) -> Option<usize> {
    let info = block_info(ptr)?;
    if !info.owned_by_caller {
        return None;
    }
    // SAFETY: the SuperSlab is registered (block_info) and the calling thread owns the slab.
    Some(unsafe { superslab_at(info.superslab).slabs[info.slab].drain_remote() })
}

/// Blocks carved so far from the slab holding `ptr`, and how many it can hold, if the calling
/// thread owns that slab.
pub fn slab_carved(ptr: *const u8) -> Option<(usize, usize)> {
    let info = block_info(ptr)?;
    if !info.owned_by_caller {
        return None;
    }
    // SAFETY: the SuperSlab is registered (block_info) and the calling thread owns the slab.
    Some(unsafe {
        superslab_at(info.superslab).slabs[info.slab]
            .local(|l| (l.carved as usize, l.capacity as usize))
    })
}

/// The calling thread's TLS list caps by small class, and the bytes they grew by over their start
/// caps (`config::TLS_SLOW_START`, front/tls_limit.rs; without it, the fixed caps and 0).
pub fn tls_caps() -> ([u32; crate::size_class::NUM_CLASSES], usize) {
    let h = thread::current();
    // SAFETY: read-only access to the calling thread's own heap state (sentinels included).
    let l = unsafe { &*h.local_ptr() };
    (core::array::from_fn(|c| l.cap(c)), l.limits.grown())
}

/// The calling thread's medium trim state (`front::medium::trim`, `config::MEDIUM_TRIM`):
/// `[medium_freed, medium_unclean, medium_freed_at, medium_epoch, medium_epoch_at]`, then the
/// backoff's (`config::TRIM_BACKOFF`) `[medium_refaulted, medium_purged, medium_purged_before,
/// medium_backoff, medium_quiet]`.
pub fn medium_trim_state() -> [u64; 10] {
    let h = thread::current();
    // SAFETY: read-only access to the calling thread's own heap state (sentinels included).
    let l = unsafe { &*h.local_ptr() };
    [
        l.medium_freed as u64,
        l.medium_unclean as u64,
        l.medium_freed_at as u64,
        l.medium_epoch,
        l.medium_epoch_at,
        l.medium_refaulted as u64,
        l.medium_purged as u64,
        l.medium_purged_before as u64,
        u64::from(l.medium_backoff),
        u64::from(l.medium_quiet),
    ]
}

/// Sets the calling thread's trim backoff state (`config::TRIM_BACKOFF`) as a program that took
/// back what the trims purged leaves it: `level` steps up, with `bytes` refaulted and purged in
/// the current and the last window and one quiet trim. For tests of the state's lifetime (a heap
/// recycled to another thread starts from none: tests/heap_reuse.rs); the mechanism itself is
/// tested through real trims (tests/medium_trim_backoff.rs). No-op on a sentinel heap.
pub fn set_trim_backoff(level: u32, bytes: usize) {
    let h = thread::current();
    if h.kind != crate::front::heap::HeapKind::Live {
        return;
    }
    // SAFETY: the calling thread's own live heap; no other reference to its local state is alive.
    let l = unsafe { h.local_mut() };
    l.medium_refaulted = bytes;
    l.medium_purged = bytes;
    l.medium_purged_before = bytes;
    l.medium_backoff = level;
    l.medium_quiet = 1;
}

/// The calling thread's foreign-entry backoff of small class `class` (front/foreign.rs,
/// `KeepBackoff`): `(remote frees still skipped, level, reuses)`. A sentinel heap's reads
/// `(0, 0, true)`.
pub fn keep_backoff(class: usize) -> (u32, u8, bool) {
    let h = thread::current();
    // SAFETY: read-only access to the calling thread's own heap state (sentinels included).
    let l = unsafe { &*h.local_ptr() };
    l.keep.state(class)
}

/// Whether the calling thread's owned-slab table (front/owned.rs) holds the slab containing
/// `ptr`, i.e. whether a free of `ptr` now takes the free fast path.
pub fn owned_table_holds(ptr: *const u8) -> bool {
    let h = thread::current();
    // SAFETY: read-only access to the calling thread's own table (sentinels included).
    unsafe { OwnedSlabs::lookup(HeapLocal::owned_ptr(h.local_ptr()), ptr as usize).is_some() }
}

/// The pins of the slab containing `ptr` (front/foreign.rs): how many threads' owned-slab tables
/// hold it without owning it. `None` unless `ptr` is in a bound data slab.
pub fn slab_pins(ptr: *const u8) -> Option<u32> {
    let info = block_info(ptr)?;
    // SAFETY: the registry named the SuperSlab (block_info).
    let s = unsafe { &superslab_at(info.superslab).slabs[info.slab] };
    // ORDERING: Relaxed — a test's snapshot; the threads it observes were joined or synchronised
    // by the test.
    Some(s.pins.load(Ordering::Relaxed) & !crate::slab::slab::PIN_RELEASE_WANTED)
}

/// Whether the release of the slab containing `ptr` is wanted (`Slab::release_wanted`): an
/// exited owner published it, or its holder would release it. A slab adopted from an exited
/// thread keeps the mark until it is used again from its holder's partial list, and foreign
/// freers keep none of its blocks (front/foreign.rs). `None` unless `ptr` is in a bound data slab.
pub fn slab_release_wanted(ptr: *const u8) -> Option<bool> {
    let info = block_info(ptr)?;
    // SAFETY: the registry named the SuperSlab (block_info).
    Some(unsafe { &superslab_at(info.superslab).slabs[info.slab] }.release_wanted())
}

/// Takes the slab containing `ptr` out of the calling thread's owned-slab table, as another slab
/// sharing its entry would (the slab stays owned). False unless the table held it.
pub fn owned_table_evict(ptr: *const u8) -> bool {
    let h = thread::current();
    // SAFETY: the calling thread's own table.
    let hit = unsafe { OwnedSlabs::lookup(HeapLocal::owned_ptr(h.local_ptr()), ptr as usize) };
    match hit {
        Some(slab) => {
            // A change of the owned table, as a slow path's (the fork takeover reads the table).
            let _busy = h.busy();
            // SAFETY: only a live heap's table holds entries, and it is the calling thread's.
            unsafe { h.local_mut().owned_mut().remove(slab) };
            true
        }
        None => false,
    }
}

/// Hands out up to `n` blocks of the slab holding `ptr` the way the refill of its current slab
/// does once the free list and the carve area run out: the remote queue is taken as the pending
/// chain (`Slab::take_remote`, unless a chain is pending already), then `Slab::take_batch` hands
/// out the free list, the pending chain and fresh blocks, checking each pending block. Calls `f`
/// on each block handed out, then puts them all back on the slab's free list. None unless the
/// calling thread owns that slab.
pub fn take_remote_of(ptr: *const u8, n: usize, mut f: impl FnMut(*mut u8)) -> Option<usize> {
    let info = block_info(ptr)?;
    if !info.owned_by_caller {
        return None;
    }
    // SAFETY: the SuperSlab is registered (block_info).
    let slab = unsafe { &superslab_at(info.superslab).slabs[info.slab] };
    // SAFETY: the calling thread owns the slab; the blocks handed out are put back at once.
    unsafe {
        if slab.local(|l| l.pending.is_null()) {
            // A chain longer than 0 blocks: always the pending chain.
            slab.take_remote(0);
        }
        let (head, _tail, got) = slab.take_batch(n);
        let mut cur = head;
        for _ in 0..got {
            let b = NonNull::new_unchecked(cur);
            cur = Block::next(b);
            f(b.as_ptr().cast());
            slab.put_local(b);
        }
        Some(got)
    }
}

/// Pushes the block containing `ptr` on its slab's remote queue directly, bypassing every check
/// of the free path (and the owner notification): the way a bug that merges a list twice would
/// put a block on a list it is already on.
///
/// # Safety
/// `ptr` lies in a bound data slab of this allocator. The allocator's state is corrupt afterwards
/// unless the block was live and this is its only free.
pub unsafe fn push_remote_unchecked(ptr: *const u8) {
    let info = block_info(ptr).expect("push_remote_unchecked: not a small block of ours");
    // SAFETY: `block_info` computed a block boundary inside that slab; the caller takes the rest.
    unsafe {
        let b = NonNull::new_unchecked(info.block as *mut Block);
        superslab_at(info.superslab).slabs[info.slab].remote.push(
            superslab_at(info.superslab).slabs[info.slab].data(),
            b,
            b,
            1,
        );
    }
}

/// Moves the purge clock forward by `ms`, as if that much time had passed for every emptied
/// range (no sleeping in tests).
pub fn advance_purge_clock(ms: u64) {
    crate::purge::advance(ms);
}

/// Overrides `HAKMEM_PURGE_DELAY_MS` for the rest of the process (-1: never on the clock).
pub fn set_purge_delay_ms(ms: i64) {
    crate::env::set_purge_delay_ms(ms);
}

/// Whether the background purger thread runs in this process now.
pub fn background_running() -> bool {
    crate::background::running()
}

/// The pages of the calling thread's heap (`front::heap::Heap`, a live one) and which of them
/// are resident (`mincore`): `(heap address, heap bytes, pages, resident)`, the pages counted
/// from the one holding the heap's first byte to the one holding its last, bit `i` of
/// `resident` set when page `i` is resident. `None` for a
/// sentinel heap or when the query fails. Memory per thread (docs/benchmarks.md, "Session 22:
/// thread22"; `config::LAZY_TABLE`).
pub fn heap_residency() -> Option<(usize, usize, usize, u64)> {
    use crate::config::PAGE_SIZE;
    let h = thread::current();
    if h.kind != crate::front::heap::HeapKind::Live {
        return None;
    }
    let addr = h as *const crate::front::heap::Heap as usize;
    let size = core::mem::size_of::<crate::front::heap::Heap>();
    let first = addr & !(PAGE_SIZE - 1);
    let pages = (addr + size - first).div_ceil(PAGE_SIZE);
    let mut out = [0u8; 64];
    assert!(pages <= out.len());
    // Strict provenance: the page-aligned start derived from the heap's pointer.
    let base = core::ptr::NonNull::new((h as *const _ as *mut u8).wrapping_sub(addr - first))?;
    // SAFETY: page-aligned, inside the metadata chunk that holds the heap (a chunk is
    // page-aligned and the heap lies inside it), one byte of `out` per page.
    if !unsafe { crate::os::residency(base, pages * PAGE_SIZE, &mut out[..pages]) } {
        return None;
    }
    let resident = out[..pages]
        .iter()
        .enumerate()
        .fold(0u64, |m, (i, &b)| m | (u64::from(b & 1) << i));
    Some((addr, size, pages, resident))
}

/// Whether the SuperSlab pool has stopped collapsing its streaks' full SuperSlabs (the catch-up
/// collapses), as it does for good once the kernel refused a collapse; a skip in a quiet period
/// does not stop them (`config::THP_SKIP_NOT_REFUSAL`): tests/thp_backoff.rs.
pub fn thp_catch_up_stopped() -> bool {
    crate::pool::catch_up_stopped()
}

/// Collapses `[ptr, ptr + len)` into huge pages through the OS box (`os::collapse`), its backoff
/// included (`config::THP_COLLAPSE_BACKOFF`): tests/thp_backoff.rs.
///
/// # Safety
/// The range lies inside one mapping of the caller's, 2 MiB aligned.
pub unsafe fn collapse(ptr: NonNull<u8>, len: usize) -> bool {
    // SAFETY: forwarded contract.
    unsafe { crate::os::collapse(ptr, len) }
}
