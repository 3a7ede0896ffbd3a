//! Stats box: counters per box, merged on read.
//!
//! Boundary: counting only; no decision anywhere depends on a counter — except the profiler's
//! class countdown, which with `config::PROF_POP_COUNTDOWN` takes the pop's counter slot
//! (`ClassCounters::alloc_fast`; the pops are then derived, `HeapCounters::alloc_fast_now`).
//! Counters bumped on fast paths live in the thread's heap and are bumped with a Relaxed load and
//! store (no atomic read-modify-write: only the owning thread writes them; `stats()` reads them
//! from any thread).
//! Slow-path and cross-thread events use process-wide atomics. `stats()` sums every heap ever
//! created (heaps are never freed, so exited threads' counts stay in the sum) and the globals.
//!
//! Compiled out (every bump a no-op) without the `stats` feature.

use core::fmt;

use crate::config::{DERIVED_FREE_COUNT, STATS};
use crate::msg::Msg;
use crate::size_class::{class_size, NUM_CLASSES};
use crate::sync::plain::{AtomicU64, Ordering};

/// One counter. `bump` is for the owning thread; `bump_shared` for counters several threads touch.
#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// Adds `n` from the only thread that writes this counter.
    #[inline(always)]
    pub fn add(&self, n: u64) {
        if STATS {
            // ORDERING: Relaxed — a statistic; single writer, so load+store loses nothing, and
            // readers only need some recent value.
            self.0.store(
                self.0.load(Ordering::Relaxed).wrapping_add(n),
                Ordering::Relaxed,
            );
        }
    }

    #[inline(always)]
    pub fn bump(&self) {
        self.add(1);
    }

    /// Adds `n` from any thread.
    #[inline]
    pub fn add_shared(&self, n: u64) {
        if STATS {
            // ORDERING: Relaxed — a statistic; publishes nothing.
            self.0.fetch_add(n, Ordering::Relaxed);
        }
    }

    #[inline]
    pub fn bump_shared(&self) {
        self.add_shared(1);
    }

    /// Raises the counter to at least `v` (peaks).
    #[inline]
    pub fn max_shared(&self, v: u64) {
        if STATS {
            // ORDERING: Relaxed — a statistic.
            self.0.fetch_max(v, Ordering::Relaxed);
        }
    }

    /// Sets the counter, from the only thread that writes it (`config::DERIVED_FREE_COUNT`'s
    /// settle).
    #[inline]
    pub fn set(&self, v: u64) {
        if STATS {
            // ORDERING: Relaxed — a statistic; single writer.
            self.0.store(v, Ordering::Relaxed);
        }
    }

    #[inline]
    pub fn get(&self) -> u64 {
        // ORDERING: Relaxed — a statistic.
        self.0.load(Ordering::Relaxed)
    }

    /// A counter starting at `v`.
    pub const fn starting_at(v: u64) -> Self {
        Self(AtomicU64::new(v))
    }

    /// The counter's word, for the class countdown (`config::PROF_POP_COUNTDOWN`), which only
    /// the heap's thread ever touches: it reads and writes the word through this pointer,
    /// non-atomically (so that the pop's step compiles to `decq` on memory and a `js`), and no
    /// other thread reads it (stats read `HeapCounters::pop_base`, which the owner publishes).
    #[inline(always)]
    pub fn word(&self) -> *mut u64 {
        self.0.as_ptr()
    }

    /// The class countdown's step, whatever `STATS`: one down; true when it went below zero.
    ///
    /// # Safety
    /// The calling thread owns the heap whose countdown this is (no other thread touches it).
    #[inline(always)]
    pub unsafe fn count_down(&self) -> bool {
        // SAFETY: per the contract, a plain access to a word only this thread touches.
        unsafe {
            let w = self.word();
            *w = (*w).wrapping_sub(1);
            (*w as i64) < 0
        }
    }
}

/// An unprofiled heap's class countdown (`config::PROF_POP_COUNTDOWN`): never reaches zero in
/// practice (2^62 pops); if it ever did, `front::alloc::pop_trap` resets it.
pub const COUNTDOWN_OFF: u64 = 1 << 62;

/// A snapshot of every counter, summed over all threads (exited ones included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Small allocations served (TLS hits + misses).
    pub allocs: u64,
    /// Small allocations served by a TLS list pop.
    pub tls_hits: u64,
    /// Small allocations that took the slow path (refill, heap set-up).
    pub tls_misses: u64,
    /// Magazine refills (batches moved from slabs to a TLS list).
    pub refills: u64,
    /// Magazine spills (TLS list over its cap).
    pub spills: u64,
    /// Small blocks freed by the owner of their slab.
    pub local_frees: u64,
    /// Small blocks freed by another thread (remote-queue pushes).
    pub remote_frees: u64,
    /// Remote queues drained (non-empty `take_all`s).
    pub remote_drains: u64,
    /// Blocks moved out of remote queues by those drains.
    pub blocks_drained: u64,
    /// Owner notifications sent by remote frees.
    pub notifications: u64,
    /// Slabs published by exiting threads.
    pub publishes: u64,
    /// Published slabs adopted by another thread.
    pub adopts: u64,
    /// Ownership CASes lost.
    pub owner_cas_failures: u64,
    /// Published slabs given back to the pool by the reclaim pass.
    pub reclaims: u64,
    /// `free` calls answered by the hint cache.
    pub hint_hits: u64,
    /// `free` calls the hint cache could not answer.
    pub hint_misses: u64,
    /// Hint entries found stale (generation changed).
    pub hint_stale: u64,
    /// Registry lookups.
    pub registry_lookups: u64,
    /// Local frees that missed the owned-slab table (another slab held the entry, or the slab
    /// was not entered yet): they took the hint cache or the registry instead.
    pub owned_misses: u64,
    /// Slabs bound to a class (taken from the pool).
    pub slabs_bound: u64,
    /// Slabs given back to the pool.
    pub slabs_released: u64,
    /// SuperSlabs mapped from the OS.
    pub superslabs_mapped: u64,
    /// SuperSlabs retired (every slab free).
    pub superslabs_retired: u64,
    /// Retired SuperSlabs reused.
    pub superslabs_reused: u64,
    /// Pool sweeps forced by the dirty-slab budget (`config::DIRTY_BUDGET`), before the delay.
    pub dirty_budget_sweeps: u64,
    /// Binds that gave the heap's retired spans back purged (`config::RETIRED_PURGE_ON_BIND`).
    pub retired_purges_on_bind: u64,
    /// Medium classes that bound a span again soon after the purge on bind took theirs, so
    /// their next retired span is held (`config::RETIRED_PURGE_ROUNDS`).
    pub retired_ladder_comebacks: u64,
    /// Large allocations (own mapping).
    pub large_allocs: u64,
    /// Large frees.
    pub large_frees: u64,
    /// Large allocations served from the large cache (no `mmap`).
    pub large_reused: u64,
    /// Medium allocations (blocks from spans).
    pub medium_allocs: u64,
    /// Medium blocks freed by the owner of their span.
    pub medium_local_frees: u64,
    /// Medium blocks freed by another thread (remote-queue pushes).
    pub medium_remote_frees: u64,
    /// Medium frees that took the profiler's out-of-line sample end (`front::medium`): with
    /// `config::PROF_END_IN_FREE` only those of sampled blocks, without it every free in a span
    /// with a live sampled block.
    pub medium_sample_ends: u64,
    /// Spans mapped from the OS (one mapping each; never unmapped).
    pub spans_mapped: u64,
    /// Spans backed by huge pages at birth (`config::SPAN_THP_GROWTH`, `span::collapse_fresh`; the
    /// kernel agreed).
    pub spans_collapsed: u64,
    /// Of `spans_collapsed`, those born on huge pages by their first faults, not by a collapse
    /// (`config::SPAN_THP_BORN_HUGE`, `span::born_huge`).
    pub spans_born_huge: u64,
    /// Spans bound to a medium class now (held by a heap or published).
    pub spans_in_use: u64,
    /// Bytes of empty spans waiting in the span cache.
    pub span_cache_bytes: u64,
    /// Bytes of cached spans given back to the OS (decommitted), in total.
    pub span_bytes_decommitted: u64,
    /// Bytes of free medium blocks purged in place while their spans stayed bound, in total
    /// (`config::MEDIUM_TRIM`).
    pub medium_bytes_trimmed: u64,
    /// Times a heap's trim backed off, its hoard allowance doubled because the program took back
    /// the blocks the last trim purged (`config::TRIM_BACKOFF`).
    pub medium_trim_backoffs: u64,
    /// Bytes handed to the program and not yet freed (small blocks at their class size, large
    /// blocks at their usable size).
    pub bytes_in_use: u64,
    /// Bytes of bound slabs and large mappings now.
    pub footprint_bytes: u64,
    /// Peak of `footprint_bytes`.
    pub peak_footprint_bytes: u64,
    /// Bytes of freed large blocks held in the large cache for reuse (committed or not).
    pub cached_bytes: u64,
    /// Bytes given back to the OS by purges (decay clock, `collect()`, background purger).
    pub purged_bytes: u64,
    /// OS calls that failed (`munmap`, `madvise`): each range was kept accounted and decommitted.
    pub os_failures: u64,
    /// 1 while the process's memory is locked (`mlock`/`mlockall`, `os::memory_locked`): purging
    /// is off, so freed pages stay resident (`purged_bytes` does not count them).
    pub memory_locked: u64,
    /// Purges skipped (one in `os::LOCKED_RETRY_EVERY` retried) because memory was locked.
    pub purges_skipped_locked: u64,
    /// Huge-page collapses (`MADV_COLLAPSE`) asked of the kernel (`os::collapse`: the THP growth,
    /// `HAKMEM_THP=1`, fresh spans).
    pub thp_collapses: u64,
    /// Microseconds they cost, in all (the thread's CPU time in each, or its wall time where that
    /// was a stall: `os::thp::cost`).
    pub thp_collapse_us: u64,
    /// Of them, the slow ones (over `config::THP_COLLAPSE_SLOW_NS` per 2 MiB).
    pub thp_collapses_slow: u64,
    /// Collapses not asked for: a slow one before had backed them off
    /// (`config::THP_COLLAPSE_BACKOFF`).
    pub thp_collapses_skipped: u64,
    /// Thread heaps created (threads that allocated).
    pub threads_started: u64,
    /// Thread heaps torn down at thread exit.
    pub threads_exited: u64,
    /// Heaps taken from the heap pool (an exited thread's, reset by `Heap::reset_for_reuse`) by a
    /// new thread, or as the fallback heap, instead of a new heap.
    pub heaps_reused: u64,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut err = Ok(());
        self.for_each(|name, v| {
            if err.is_ok() {
                err = writeln!(f, "{name:<22} {v}");
            }
        });
        err
    }
}

impl Stats {
    /// Calls `f` with each counter's name and value, in declaration order.
    pub fn for_each(&self, mut f: impl FnMut(&'static str, u64)) {
        f("allocs", self.allocs);
        f("tls_hits", self.tls_hits);
        f("tls_misses", self.tls_misses);
        f("refills", self.refills);
        f("spills", self.spills);
        f("local_frees", self.local_frees);
        f("remote_frees", self.remote_frees);
        f("remote_drains", self.remote_drains);
        f("blocks_drained", self.blocks_drained);
        f("notifications", self.notifications);
        f("publishes", self.publishes);
        f("adopts", self.adopts);
        f("owner_cas_failures", self.owner_cas_failures);
        f("reclaims", self.reclaims);
        f("hint_hits", self.hint_hits);
        f("hint_misses", self.hint_misses);
        f("hint_stale", self.hint_stale);
        f("registry_lookups", self.registry_lookups);
        f("owned_misses", self.owned_misses);
        f("slabs_bound", self.slabs_bound);
        f("slabs_released", self.slabs_released);
        f("superslabs_mapped", self.superslabs_mapped);
        f("superslabs_retired", self.superslabs_retired);
        f("superslabs_reused", self.superslabs_reused);
        f("dirty_budget_sweeps", self.dirty_budget_sweeps);
        f("retired_purges_on_bind", self.retired_purges_on_bind);
        f("retired_ladder_comebacks", self.retired_ladder_comebacks);
        f("large_allocs", self.large_allocs);
        f("large_frees", self.large_frees);
        f("large_reused", self.large_reused);
        f("medium_allocs", self.medium_allocs);
        f("medium_local_frees", self.medium_local_frees);
        f("medium_remote_frees", self.medium_remote_frees);
        f("medium_sample_ends", self.medium_sample_ends);
        f("spans_mapped", self.spans_mapped);
        f("spans_collapsed", self.spans_collapsed);
        f("spans_born_huge", self.spans_born_huge);
        f("spans_in_use", self.spans_in_use);
        f("span_cache_bytes", self.span_cache_bytes);
        f("span_bytes_decommitted", self.span_bytes_decommitted);
        f("medium_bytes_trimmed", self.medium_bytes_trimmed);
        f("medium_trim_backoffs", self.medium_trim_backoffs);
        f("bytes_in_use", self.bytes_in_use);
        f("footprint_bytes", self.footprint_bytes);
        f("peak_footprint_bytes", self.peak_footprint_bytes);
        f("cached_bytes", self.cached_bytes);
        f("purged_bytes", self.purged_bytes);
        f("os_failures", self.os_failures);
        f("memory_locked", self.memory_locked);
        f("purges_skipped_locked", self.purges_skipped_locked);
        f("thp_collapses", self.thp_collapses);
        f("thp_collapse_us", self.thp_collapse_us);
        f("thp_collapses_slow", self.thp_collapses_slow);
        f("thp_collapses_skipped", self.thp_collapses_skipped);
        f("threads_started", self.threads_started);
        f("threads_exited", self.threads_exited);
        f("heaps_reused", self.heaps_reused);
    }
}

/// The two counters of a TLS list, side by side: 16 bytes, the stride of the TLS lists, so the
/// fast paths index both with the same scaled class.
///
/// `free_local`, with `config::DERIVED_FREE_COUNT`, is not bumped by the frees: it holds `S`
/// with `local frees = S + pops − room`, where `pops` is `HeapCounters::pops` and `room` the
/// list's `TlsList::room` (a counted pop adds one to both `pops` and `room`, a counted push takes
/// one from `room`). Every other change of the room is folded into `S` by the heap's thread
/// (`Heap::rooms` before, `Heap::settle` after: `S += room after − room before`). A new heap's `S` is its list's room.
/// Read from the heap's thread the formula is exact; from another thread (`stats()` while the
/// heap's thread runs) its three words are read at slightly different times, so the count may
/// be off by the pops or pushes of the moment and by one settle in flight — at most a list's
/// length — and is clamped at zero, never wrapped (`HeapCounters::free_local`). With
/// `config::PROF_POP_COUNTDOWN` another thread's pops are those it published (at its last miss),
/// so its local frees read as of then too, give or take a list's length.
#[repr(C)]
pub struct ClassCounters {
    /// The pops of the TLS list; with `config::PROF_POP_COUNTDOWN` the class countdown instead
    /// (the one decision a counter slot drives: it is kept whatever `STATS`), from which
    /// `HeapCounters::alloc_fast_now` derives the pops.
    pub alloc_fast: Counter,
    pub free_local: Counter,
}

impl ClassCounters {
    /// A change of the room by `delta` that no pop or push counted (with no counted pop or push
    /// in between): the derived count stays. The heap's thread only.
    #[inline]
    pub fn room_moved(&self, delta: i64) {
        if DERIVED_FREE_COUNT {
            self.free_local.add(delta as u64);
        }
    }
}

/// Counters kept in each thread heap (single writer: the heap's thread).
pub struct HeapCounters {
    /// Per small class `c`: `class[c]` counts the pops and pushes of the heap's TLS list `c`,
    /// `class[NUM_CLASSES + c]` the pushes on its free-side list (a profiled heap's frees).
    pub class: [ClassCounters; 2 * NUM_CLASSES],
    pub alloc_slow: [Counter; NUM_CLASSES],
    pub free_remote: [Counter; NUM_CLASSES],
    pub refills: Counter,
    pub spills: Counter,
    pub hint_hits: Counter,
    /// Local frees that did not come through the owned-slab table (hint cache or registry);
    /// the table's hits are `free_local - local_unowned`.
    pub local_unowned: Counter,
    pub hint_misses: Counter,
    pub hint_stale: Counter,
    pub registry_lookups: Counter,
    pub medium_allocs: Counter,
    pub medium_local_frees: Counter,
    pub medium_remote_frees: Counter,
    pub medium_sample_ends: Counter,
    /// Bytes of medium blocks handed out / freed (at their class size).
    pub medium_bytes: Counter,
    pub medium_bytes_freed: Counter,
    /// `config::PROF_POP_COUNTDOWN`, per class: the pops published so far (`pop_base`, the only
    /// part other threads read) and the countdown's value when they were (`pop_start`, the
    /// heap's thread only). The pops are `pop_base + (pop_start - countdown)`.
    pub pop_base: [Counter; NUM_CLASSES],
    pub pop_start: [Counter; NUM_CLASSES],
}

/// The value a class countdown starts at in a new heap (`HeapCounters::new`).
const COUNTDOWN_START: u64 = if crate::config::PROF_POP_COUNTDOWN {
    COUNTDOWN_OFF
} else {
    0
};

impl HeapCounters {
    /// The pops of TLS list `c` (stats `tls_hits`) published so far: the counter, or with
    /// `config::PROF_POP_COUNTDOWN` what the heap's thread published (`publish_pops`: at each
    /// countdown reset, miss, thread exit and `stats()` call of its own), so exact for the
    /// calling thread's heap and for exited threads', and as of the last miss for the others.
    pub fn alloc_fast_now(&self, c: usize) -> u64 {
        if crate::config::PROF_POP_COUNTDOWN {
            self.pop_base[c].get()
        } else {
            self.class[c].alloc_fast.get()
        }
    }

    /// The counted pops of list `i` (`class[i]`) for the derived local-free count
    /// (`config::DERIVED_FREE_COUNT`): `alloc_fast_now` for a TLS list, none for a free-side
    /// list (the fast path pops only the TLS lists; with `config::PROF_POP_COUNTDOWN` the
    /// free-side slots hold a countdown that never moves). Any constant offset would do: `S`
    /// only ever takes room deltas.
    fn pops(&self, i: usize) -> u64 {
        if i < NUM_CLASSES {
            self.alloc_fast_now(i)
        } else if crate::config::PROF_POP_COUNTDOWN {
            0
        } else {
            self.class[i].alloc_fast.get()
        }
    }

    /// Local frees pushed on list `i` so far, given its `room` now (`room` is ignored without
    /// `config::DERIVED_FREE_COUNT`). Never negative: a racy read is clamped (see
    /// `ClassCounters`).
    #[inline]
    pub fn free_local(&self, i: usize, room: i32) -> u64 {
        if !DERIVED_FREE_COUNT {
            return self.class[i].free_local.get();
        }
        let v = self.class[i]
            .free_local
            .get()
            .wrapping_add(self.pops(i))
            .wrapping_sub(room as i64 as u64) as i64;
        v.max(0) as u64
    }

    /// The countdown of class `c` (`config::PROF_POP_COUNTDOWN`), signed.
    ///
    /// # Safety
    /// As for `Counter::count_down`.
    #[inline]
    pub unsafe fn countdown(&self, c: usize) -> i64 {
        // SAFETY: per the contract.
        unsafe { *self.class[c].alloc_fast.word() as i64 }
    }

    /// Publishes the pops of class `c` counted by its countdown since the last publication
    /// (`config::PROF_POP_COUNTDOWN`), less `excluded` (a trapping pop whose block went back).
    ///
    /// # Safety
    /// As for `Counter::count_down`.
    #[inline]
    pub unsafe fn publish_pops(&self, c: usize, excluded: u64) {
        if !crate::config::PROF_POP_COUNTDOWN {
            return;
        }
        // SAFETY: per the contract.
        let now = unsafe { *self.class[c].alloc_fast.word() };
        // `pop_start` too is the heap's thread's only (as the countdown).
        let start = self.pop_start[c].word();
        // SAFETY: per the contract.
        let run = unsafe { (*start).wrapping_sub(now) }.wrapping_sub(excluded);
        self.pop_base[c].add(run);
        // SAFETY: per the contract.
        unsafe { *start = now };
    }

    /// Publishes every class's pops (`publish_pops`): thread exit, `stats()` on the heap's own
    /// thread.
    ///
    /// # Safety
    /// As for `Counter::count_down`.
    pub unsafe fn publish_all_pops(&self) {
        for c in 0..NUM_CLASSES {
            // SAFETY: per the contract.
            unsafe { self.publish_pops(c, 0) };
        }
    }

    /// Restarts class `c`'s countdown at `v` after publishing its pops (less `excluded`).
    ///
    /// # Safety
    /// As for `Counter::count_down`.
    pub unsafe fn reset_countdown(&self, c: usize, v: u64, excluded: u64) {
        // SAFETY: per the contract.
        unsafe {
            self.publish_pops(c, excluded);
            *self.pop_start[c].word() = v;
            *self.class[c].alloc_fast.word() = v;
        }
    }

    /// One pop of TLS list `c` outside the fast path's countdown (`alloc_general`'s).
    #[inline]
    pub fn count_pop(&self, c: usize) {
        if crate::config::PROF_POP_COUNTDOWN {
            self.pop_base[c].bump();
        } else {
            self.class[c].alloc_fast.bump();
        }
    }

    /// One request of class `c` that missed the pop, counted down by a profiled heap's slow path
    /// (`config::PROF_POP_COUNTDOWN`) without counting as a pop; true when it is the sampled one
    /// (the caller resets the countdown).
    ///
    /// # Safety
    /// As for `Counter::count_down`.
    #[inline]
    pub unsafe fn count_down_miss(&self, c: usize) -> bool {
        // SAFETY: per the contract.
        unsafe {
            let start = self.pop_start[c].word();
            *start = (*start).wrapping_sub(1);
            self.class[c].alloc_fast.count_down()
        }
    }

    /// Writes a new heap's counters in place (`Heap::init`): zero bytes, then the class
    /// countdowns' start (`COUNTDOWN_START`). Not `p.write(Self::new())`: with non-zero fields
    /// the compiler builds the value on the stack first (about 7 KiB more stack on a thread's
    /// first call, which preload/tests/c/small_stacks.c bounds to 2 KiB).
    ///
    /// # Safety
    /// `p` is valid for writes of a `HeapCounters` and aligned; what it held is overwritten.
    pub unsafe fn init(p: *mut Self) {
        // SAFETY: per the contract; every field is a `Counter` (an `AtomicU64`), for which zero
        // bytes are a valid value, and the places written below are fields of `*p`.
        unsafe {
            p.write_bytes(0, 1);
            if COUNTDOWN_START != 0 {
                for c in 0..2 * NUM_CLASSES {
                    (&raw mut (*p).class[c].alloc_fast)
                        .write(Counter::starting_at(COUNTDOWN_START));
                }
                for c in 0..NUM_CLASSES {
                    (&raw mut (*p).pop_start[c]).write(Counter::starting_at(COUNTDOWN_START));
                }
            }
        }
    }

    pub const fn new() -> Self {
        Self {
            pop_base: [const { Counter::new() }; NUM_CLASSES],
            pop_start: [const { Counter::starting_at(COUNTDOWN_START) }; NUM_CLASSES],
            class: [const {
                ClassCounters {
                    alloc_fast: Counter::starting_at(COUNTDOWN_START),
                    free_local: Counter::new(),
                }
            }; 2 * NUM_CLASSES],
            alloc_slow: [const { Counter::new() }; NUM_CLASSES],
            free_remote: [const { Counter::new() }; NUM_CLASSES],
            refills: Counter::new(),
            spills: Counter::new(),
            hint_hits: Counter::new(),
            local_unowned: Counter::new(),
            hint_misses: Counter::new(),
            hint_stale: Counter::new(),
            registry_lookups: Counter::new(),
            medium_allocs: Counter::new(),
            medium_local_frees: Counter::new(),
            medium_remote_frees: Counter::new(),
            medium_sample_ends: Counter::new(),
            medium_bytes: Counter::new(),
            medium_bytes_freed: Counter::new(),
        }
    }
}

impl Default for HeapCounters {
    fn default() -> Self {
        Self::new()
    }
}

/// Process-wide counters: slow-path events, and heap counters bumped on behalf of threads that
/// have no heap (not yet allocated, or torn down), with atomic adds.
pub struct Globals {
    pub heapless: HeapCounters,
    pub remote_drains: Counter,
    pub blocks_drained: Counter,
    pub notifications: Counter,
    pub publishes: Counter,
    pub adopts: Counter,
    pub owner_cas_failures: Counter,
    pub reclaims: Counter,
    pub slabs_bound: Counter,
    pub slabs_released: Counter,
    pub superslabs_mapped: Counter,
    pub superslabs_retired: Counter,
    pub superslabs_reused: Counter,
    pub dirty_budget_sweeps: Counter,
    pub retired_purges_on_bind: Counter,
    pub retired_ladder_comebacks: Counter,
    pub large_allocs: Counter,
    pub large_frees: Counter,
    pub large_reused: Counter,
    pub large_bytes: Counter,
    pub large_bytes_freed: Counter,
    pub spans_mapped: Counter,
    pub spans_collapsed: Counter,
    pub spans_born_huge: Counter,
    pub span_bytes_mapped: Counter,
    pub spans_bound: Counter,
    pub span_bytes_bound: Counter,
    pub spans_released: Counter,
    pub span_bytes_released: Counter,
    pub span_bytes_decommitted: Counter,
    pub medium_bytes_trimmed: Counter,
    pub medium_trim_backoffs: Counter,
    pub spans_rebound: Counter,
    pub footprint: Counter,
    pub footprint_freed: Counter,
    pub peak_footprint: Counter,
    pub cached: Counter,
    pub cached_freed: Counter,
    pub purged_bytes: Counter,
    pub threads_started: Counter,
    pub threads_exited: Counter,
    pub heaps_reused: Counter,
}

pub static GLOBALS: Globals = Globals {
    heapless: HeapCounters::new(),
    remote_drains: Counter::new(),
    blocks_drained: Counter::new(),
    notifications: Counter::new(),
    publishes: Counter::new(),
    adopts: Counter::new(),
    owner_cas_failures: Counter::new(),
    reclaims: Counter::new(),
    slabs_bound: Counter::new(),
    slabs_released: Counter::new(),
    superslabs_mapped: Counter::new(),
    superslabs_retired: Counter::new(),
    superslabs_reused: Counter::new(),
    dirty_budget_sweeps: Counter::new(),
    retired_purges_on_bind: Counter::new(),
    retired_ladder_comebacks: Counter::new(),
    large_allocs: Counter::new(),
    large_frees: Counter::new(),
    large_reused: Counter::new(),
    large_bytes: Counter::new(),
    large_bytes_freed: Counter::new(),
    spans_mapped: Counter::new(),
    spans_collapsed: Counter::new(),
    spans_born_huge: Counter::new(),
    span_bytes_mapped: Counter::new(),
    spans_bound: Counter::new(),
    span_bytes_bound: Counter::new(),
    spans_released: Counter::new(),
    span_bytes_released: Counter::new(),
    span_bytes_decommitted: Counter::new(),
    medium_bytes_trimmed: Counter::new(),
    medium_trim_backoffs: Counter::new(),
    spans_rebound: Counter::new(),
    footprint: Counter::new(),
    footprint_freed: Counter::new(),
    peak_footprint: Counter::new(),
    cached: Counter::new(),
    cached_freed: Counter::new(),
    purged_bytes: Counter::new(),
    threads_started: Counter::new(),
    threads_exited: Counter::new(),
    heaps_reused: Counter::new(),
};

/// Footprint grew by `n` bytes (a slab bound, a large block mapped).
#[inline]
pub fn footprint_add(n: usize) {
    if STATS {
        GLOBALS.footprint.add_shared(n as u64);
        let now = GLOBALS
            .footprint
            .get()
            .wrapping_sub(GLOBALS.footprint_freed.get());
        GLOBALS.peak_footprint.max_shared(now);
    }
}

/// Footprint shrank by `n` bytes.
#[inline]
pub fn footprint_sub(n: usize) {
    GLOBALS.footprint_freed.add_shared(n as u64);
}

/// The rooms of a heap's lists, by `HeapCounters::class` index (`config::DERIVED_FREE_COUNT`).
pub type Rooms<'a> = &'a dyn Fn(usize) -> i32;

/// Sums the heaps' counters (visited by `for_each_heap`, each with the rooms of its lists) and
/// the globals.
pub fn snapshot(for_each_heap: impl FnOnce(&mut dyn FnMut(&HeapCounters, Rooms<'_>))) -> Stats {
    let mut st = Stats::default();
    let mut live = [0i128; NUM_CLASSES];
    let mut medium = 0i128;
    let mut add = |h: &HeapCounters, rooms: Rooms<'_>| {
        let frees = |i: usize| h.free_local(i, rooms(i));
        #[allow(clippy::needless_range_loop)] // `c` indexes four counter arrays and `live`
        for c in 0..NUM_CLASSES {
            let fast = h.alloc_fast_now(c);
            let slow = h.alloc_slow[c].get();
            let local = frees(c) + frees(NUM_CLASSES + c);
            let remote = h.free_remote[c].get();
            st.tls_hits += fast;
            st.tls_misses += slow;
            st.local_frees += local;
            st.remote_frees += remote;
            live[c] += fast as i128 + slow as i128 - local as i128 - remote as i128;
        }
        st.refills += h.refills.get();
        st.spills += h.spills.get();
        // Hint hits: the SuperSlab hint cache's, and the owned-slab table's (every local free
        // that did not come through the cache or the registry).
        let local: u64 = (0..2 * NUM_CLASSES).map(frees).sum();
        st.hint_hits += h.hint_hits.get() + local.saturating_sub(h.local_unowned.get());
        st.hint_misses += h.hint_misses.get();
        st.hint_stale += h.hint_stale.get();
        st.registry_lookups += h.registry_lookups.get();
        st.owned_misses += h.local_unowned.get();
        st.medium_allocs += h.medium_allocs.get();
        st.medium_local_frees += h.medium_local_frees.get();
        st.medium_remote_frees += h.medium_remote_frees.get();
        st.medium_sample_ends += h.medium_sample_ends.get();
        medium += h.medium_bytes.get() as i128 - h.medium_bytes_freed.get() as i128;
    };
    for_each_heap(&mut add);
    // No live heap: its lists never change, and nothing counts a local free there.
    add(&GLOBALS.heapless, &|_| 0);
    st.allocs = st.tls_hits + st.tls_misses;
    let g = &GLOBALS;
    st.remote_drains = g.remote_drains.get();
    st.blocks_drained = g.blocks_drained.get();
    st.notifications = g.notifications.get();
    st.publishes = g.publishes.get();
    st.adopts = g.adopts.get();
    st.owner_cas_failures = g.owner_cas_failures.get();
    st.reclaims = g.reclaims.get();
    st.slabs_bound = g.slabs_bound.get();
    st.slabs_released = g.slabs_released.get();
    st.superslabs_mapped = g.superslabs_mapped.get();
    st.superslabs_retired = g.superslabs_retired.get();
    st.superslabs_reused = g.superslabs_reused.get();
    st.dirty_budget_sweeps = g.dirty_budget_sweeps.get();
    st.retired_purges_on_bind = g.retired_purges_on_bind.get();
    st.retired_ladder_comebacks = g.retired_ladder_comebacks.get();
    st.large_allocs = g.large_allocs.get();
    st.large_frees = g.large_frees.get();
    st.large_reused = g.large_reused.get();
    st.spans_mapped = g.spans_mapped.get();
    st.spans_collapsed = g.spans_collapsed.get();
    st.spans_born_huge = g.spans_born_huge.get();
    st.spans_in_use = g.spans_bound.get().saturating_sub(g.spans_released.get());
    let span_bytes_in_use = g
        .span_bytes_bound
        .get()
        .saturating_sub(g.span_bytes_released.get());
    st.span_cache_bytes = g.span_bytes_mapped.get().saturating_sub(span_bytes_in_use);
    st.span_bytes_decommitted = g.span_bytes_decommitted.get();
    st.medium_bytes_trimmed = g.medium_bytes_trimmed.get();
    st.medium_trim_backoffs = g.medium_trim_backoffs.get();
    let small: i128 = live
        .iter()
        .enumerate()
        .map(|(c, n)| n * class_size(c) as i128)
        .sum();
    let large = g.large_bytes.get() as i128 - g.large_bytes_freed.get() as i128;
    st.bytes_in_use = (small + large + medium).max(0) as u64;
    st.footprint_bytes = g.footprint.get().saturating_sub(g.footprint_freed.get());
    st.peak_footprint_bytes = g.peak_footprint.get().max(st.footprint_bytes);
    st.cached_bytes = g.cached.get().saturating_sub(g.cached_freed.get());
    st.purged_bytes = g.purged_bytes.get();
    st.os_failures = if STATS { crate::os::failures() } else { 0 };
    st.memory_locked = u64::from(crate::os::memory_locked());
    st.purges_skipped_locked = crate::os::purges_skipped_locked();
    let [collapses, collapse_ns, slow, skipped] = crate::os::collapse_stats();
    st.thp_collapses = collapses;
    st.thp_collapse_us = collapse_ns / 1000;
    st.thp_collapses_slow = slow;
    st.thp_collapses_skipped = skipped;
    st.threads_started = g.threads_started.get();
    st.threads_exited = g.threads_exited.get();
    st.heaps_reused = g.heaps_reused.get();
    st
}

/// Prints the stats to `fd` without allocating (for `HAKMEM_STATS=1` at exit).
pub fn print(st: &Stats, fd: i32) {
    let mut m = Msg::new();
    m.str("hakmem: stats");
    m.emit_to(fd);
    st.for_each(|name, v| {
        let mut m = Msg::new();
        m.str(name);
        for _ in name.len()..22 {
            m.str(" ");
        }
        m.str(" ").dec(v as usize);
        m.emit_to(fd);
    });
}
