//! Medium front: blocks of the medium classes (above `MAX_SMALL_SIZE`, up to `MAX_MEDIUM_SIZE`)
//! from spans (`span`) owned by thread heaps.
//!
//! A span is a slab of a medium class id: the heap keeps its spans on the same owner lists as its
//! slabs (`HeapLocal::slabs[c]`: `cur`, `partial`, `full`), other threads free into its remote
//! queue and notify the owner's bit for the class id, exiting threads publish spans with blocks
//! still out on `PUBLISHED[c]`, and refill adopts them. There is no TLS list: the span's own free
//! list is owner-local already, so allocation is one pop (or one carve) from the current span.
//!
//! Boundary: `alloc` is the refill side of the single drain -> bind -> owner-acquire boundary for
//! spans; it reads as its fallbacks in order: `take_from_current` → drain the current span's
//! remote queue → `drain_notified` → `next_partial` → `adopt_published` → `new_span` (span
//! cache — a retired span of another class of the size rebound first when the cache holds no
//! committed one, `rebind_retired` —, after a reclaim pass, then a fresh mapping). `free_local`
//! touches only spans the calling heap owns; `free_remote` only pushes.
//!
//! Release rule: a span whose last block comes back goes to the span cache unless it is the
//! current span of its class. The current span is kept, so a churning size does not bounce a span
//! through the cache, but it is put on the purge clock (`Retired`): once it has stayed empty for
//! the purge delay, the next time the heap binds a new span (or `collect`, or thread exit) gives
//! it to the span cache with the time it emptied, where the clock purges it. With the background
//! purger on (`HAKMEM_BACKGROUND=1`) an emptied current span goes to the span cache at once, so
//! that an idle thread's spans shrink too (the purger cannot touch a span a live heap owns).

use core::mem::MaybeUninit;
use core::ptr::NonNull;

use crate::adopt::{PUBLISHED, RECLAIMER};
use crate::config::{
    ADOPT, ADOPT_FREE_BUDGET, ADOPT_FREE_FIRST, CACHE_BEFORE_CARVE, CALLOC_CLEARS_USABLE,
    EXIT_RECLAIM_LEAVES_FREED, EXIT_TRIM_SKIPS_EMPTY, KNOWN_ZERO, MAX_BLOCK_OFFSET,
    MEDIUM_CLEAR_RESIDENT, MEDIUM_DIRTY_BYTES, MEDIUM_TRIM, MEDIUM_TRIM_AGE_MS,
    MEDIUM_TRIM_CHECK_BYTES, MEDIUM_TRIM_ON_BIND, PROFILE, PROF_END_IN_FREE, PROF_HEADER_RECORDS,
    PROF_REALLOC_IN_PLACE, RETIRED_HOLD_MAX_BYTES, RETIRED_PURGE_HIGH, RETIRED_PURGE_IDLE_MS,
    RETIRED_PURGE_INTERVAL_MS, RETIRED_PURGE_ON_BIND, RETIRED_PURGE_ROUNDS, SPAN_HEADER_BYTES,
    SPAN_PURGE_FIRST_EMPTY, SPAN_PURGE_FIRST_MAX_BLOCKS, SPAN_PURGE_FIRST_SINGLE,
    SPAN_REBIND_AGE_MS, SPAN_REBIND_COUNTS_PURGED, SPAN_REBIND_RETIRED, TRIM_BACKOFF,
    TRIM_BACKOFF_MAX, TRIM_BACKOFF_QUIET, TRIM_BACKOFF_STEP, TRIM_CHECK_BY_ALLOWANCE,
    TRIM_SLOW_CHECK_MS,
};
use crate::debug::fatal;
use crate::env;
use crate::front::heap::{Heap, HeapKind, HeapLocal};
use crate::list;
use crate::locate;
use crate::prof;
use crate::purge::{self, Stamp, Sweep};
use crate::size_class::{
    block_index, blocks_per_slab, class_size, is_medium, span_bytes, NUM_CLASSES, TOTAL_CLASSES,
};
use crate::slab::block::Block;
use crate::slab::slab::{ListKind, Slab, NO_CLASS};
use crate::span::{self, Exit, SpanHeader, SPANS};
use crate::stats::{self, GLOBALS};
use crate::sync::{plain, AtomicUsize, Ordering};
use crate::valgrind;

/// The medium class ids (`purge::Retired` keeps both tiers' marks).
const MEDIUM_CLASSES: core::ops::Range<usize> = NUM_CLASSES..TOTAL_CLASSES;
// `young_small` gives one bit per medium class.
const _: () = assert!(TOTAL_CLASSES - NUM_CLASSES <= 64);

/// Allocates one block of medium class id `c` from `h`'s spans. Null when memory cannot be had.
/// `before_adopt` runs on the refill's slow part, before it adopts a published span: the layer
/// above passes the fork takeover's trigger (`front::thread::take_over_if_forked_from`) for the
/// calling thread's own heap, a no-op for the fallback heap.
///
/// # Safety
/// `h` is the calling thread's live heap (or the fallback heap under its lock).
pub unsafe fn alloc(h: &Heap, c: usize, before_adopt: impl Fn(&Heap)) -> *mut u8 {
    // SAFETY: forwarded contract.
    match unsafe { alloc_in::<false>(h, c, before_adopt) } {
        Some((b, _)) => hand_out(b, c),
        None => core::ptr::null_mut(),
    }
}

/// `alloc` of `size` bytes (at most the class size), zero-filled (the whole class size with
/// `config::CALLOC_CLEARS_USABLE`, as `malloc_usable_size` reports it): a block carved where its span
/// is known to hold zeroes (`span::known_zero`) has only its first two words cleared (the carve's
/// link, the freed mark's word), so its other pages stay untouched; any other block is cleared.
/// Null when memory cannot be had.
///
/// # Safety
/// As for `alloc`.
pub unsafe fn alloc_zeroed(
    h: &Heap,
    c: usize,
    size: usize,
    before_adopt: impl Fn(&Heap),
) -> *mut u8 {
    debug_assert!(size <= class_size(c));
    // SAFETY: forwarded contract.
    let Some((b, zero)) = (unsafe { alloc_in::<KNOWN_ZERO>(h, c, before_adopt) }) else {
        return core::ptr::null_mut();
    };
    let p = hand_out(b, c);
    // The bytes a program may use (`usable_size`: the class size; this block is not sampled).
    let size = if CALLOC_CLEARS_USABLE {
        class_size(c)
    } else {
        size
    };
    if zero {
        // SAFETY: a block just taken from a span we hold, far larger than 16 bytes.
        unsafe { core::ptr::write_bytes(p, 0, 2 * core::mem::size_of::<usize>()) };
        // valgrind: the rest reads as the zeroes the OS left there.
        valgrind::make_defined(p, size);
    } else if MEDIUM_CLEAR_RESIDENT && size >= CLEAR_RESIDENT_MIN_BYTES {
        // SAFETY: a block just taken from a span we hold; medium blocks are page-aligned and a
        // whole number of pages, so the rounded length stays in the block.
        unsafe { crate::large::clear_resident(p, size.next_multiple_of(crate::config::PAGE_SIZE)) };
        valgrind::make_defined(p, size);
    } else {
        // SAFETY: a block just taken from a span we hold, of at least `size` bytes.
        unsafe { core::ptr::write_bytes(p, 0, size) };
    }
    p
}

/// The smallest `alloc_zeroed` cleared by residency (`config::MEDIUM_CLEAR_RESIDENT`): 16 pages,
/// below which the `mincore` costs about what the faults it saves do.
const CLEAR_RESIDENT_MIN_BYTES: usize = 16 * crate::config::PAGE_SIZE;

/// `alloc` for a sampled request: the block and the span it came from, in which the profiler
/// marks it (`mark_sampled`) without a registry lookup. Null if memory cannot be had. In line in
/// its one caller, `front::alloc::alloc_medium_sampled` (`config::PROF_INLINE_TAKE`).
///
/// # Safety
/// As for `alloc`.
#[cfg_attr(not(hakmem_no_prof_inline_take), inline(always))]
pub unsafe fn alloc_with_span(
    h: &Heap,
    c: usize,
    before_adopt: impl Fn(&Heap),
) -> Option<(*mut u8, &'static SpanHeader)> {
    // SAFETY: forwarded contract.
    let (b, _) = unsafe { alloc_in::<false>(h, c, before_adopt) }?;
    // SAFETY: per the contract; `alloc_in` returns only a block it took from the current span of
    // class `c`, which is still current (a span of this heap: its header is mapped forever).
    let span = unsafe { SpanHeader::of_slab(&*h.local_mut().slabs[c].cur).as_ref() };
    let p = hand_out(b, c);
    debug_assert!(
        matches!(locate::lookup(p), locate::Found::Medium(s) if core::ptr::eq(s.as_ptr(), span))
    );
    Some((p, span))
}

/// What every medium block goes through on its way to the program: the freed mark is cleared and
/// memcheck is told the block is live.
#[inline]
fn hand_out(b: NonNull<Block>, c: usize) -> *mut u8 {
    // SAFETY: a block just taken from a span we own; medium blocks are far larger than 16 bytes.
    unsafe { Block::clear_mark(b) };
    valgrind::malloclike(b.as_ptr().cast(), class_size(c), false);
    b.as_ptr().cast()
}

/// Takes one block of class `c` from `h`'s spans, following the fallbacks in order. Inline in
/// its callers: out of line (it has several since `alloc_with_span`) it cost every medium
/// request a call, ~7 instructions. With `ZERO`, the flag says whether the block is known to be
/// zero apart from its first two words (`span::known_zero`); without, it is false.
///
/// # Safety
/// `h` is the calling thread's live heap (or the fallback heap under its lock).
#[inline(always)]
unsafe fn alloc_in<const ZERO: bool>(
    h: &Heap,
    c: usize,
    before_adopt: impl Fn(&Heap),
) -> Option<(NonNull<Block>, bool)> {
    let _busy = h.busy();
    // SAFETY: per the contract.
    let local = unsafe { h.local_mut() };
    loop {
        let cur = local.slabs[c].cur;
        if !cur.is_null() {
            // SAFETY: `cur` is owned by this heap.
            unsafe {
                let s = &*cur;
                let carved_before = if ZERO {
                    s.local(|l| l.carved_end as usize)
                } else {
                    0
                };
                if (ADOPT_FREE_FIRST || CACHE_BEFORE_CARVE)
                    && s.free_is_empty()
                    && reuse_before_carve(h, local, c, cur)
                {
                    continue;
                }
                if let Some(b) = span::take_block(s) {
                    if MEDIUM_TRIM && TRIM_BACKOFF && span::purged_since(b, local.medium_epoch) {
                        local.medium_refaulted += class_size(c);
                    }
                    h.counters.medium_allocs.bump();
                    h.counters.medium_bytes.add(class_size(c) as u64);
                    return Some((b, ZERO && span::known_zero(s, b, carved_before)));
                }
                if s.remote.is_nonempty() && s.drain_remote() > 0 {
                    continue;
                }
                local.list_remove(c, cur);
                local.list_push(c, cur, ListKind::Full);
                span::count_fill(s);
            }
        }
        if h.owner.take_pending(c) {
            // SAFETY: the heap is ours.
            unsafe { local.drain_notified(c, |_, s| release(&*s, purge::now())) };
        }
        // SAFETY: the heap is ours.
        if unsafe { local.next_partial(c) } {
            continue;
        }
        // A forked child's first medium refill takes over the parent's other threads' heaps
        // (their spans published for the adoption below; `alloc`'s `before_adopt`); nothing on
        // the carve path above.
        before_adopt(h);
        if ADOPT && adopt_published(h, local, c) {
            continue;
        }
        // SAFETY: the heap is ours.
        if !unsafe { new_span(h, local, c) } {
            return None;
        }
    }
}

/// Adopts a span of class `c` published by an exited thread as the current span.
fn adopt_published(h: &Heap, local: &mut HeapLocal, c: usize) -> bool {
    if !env::adopt() {
        return false;
    }
    match PUBLISHED[c].adopt(&h.owner) {
        Some(s) => {
            // SAFETY: adopt made us the owner; the span is on no list of ours.
            unsafe { local.list_push(c, s.as_ptr(), ListKind::Current) };
            true
        }
        None => false,
    }
}

/// Called when the current span `cur` of class `c` has an empty free list; acts only before it
/// carves a fresh block (`Slab::carves_next`, and past what earlier bindings dirtied,
/// `span::carve_is_fresh`): a span whose blocks are resident becomes current instead, and
/// `cur` waits on the partial list with its uncarved rest. First a published span of the class
/// with blocks freed into it (`config::ADOPT_FREE_FIRST`, `PublishList::adopt_freed`), then a
/// committed cached span last bound to the class (`config::CACHE_BEFORE_CARVE`,
/// `SpanCache::take_resident`). False (carve) when there is neither.
///
/// # Safety
/// `local` is `h`'s local state, `h` the calling thread's heap, `cur` its current span of `c`.
#[cold]
#[inline(never)]
unsafe fn reuse_before_carve(h: &Heap, local: &mut HeapLocal, c: usize, cur: *mut Slab) -> bool {
    // SAFETY: `cur` is our current span (the contract).
    if !unsafe { (*cur).carves_next() && span::carve_is_fresh(&*cur) } {
        return false;
    }
    let next = if ADOPT_FREE_FIRST && env::adopt() {
        PUBLISHED[c].adopt_freed(&h.owner, ADOPT_FREE_BUDGET)
    } else {
        None
    };
    let next = match next {
        Some(s) => s,
        None if CACHE_BEFORE_CARVE => {
            let Some(span) = SPANS.take_resident(span_bytes(c), c as u32) else {
                return false;
            };
            // SAFETY: the cache handed the unbound span to us.
            let s = NonNull::from(unsafe { bind_span(h, span, c) });
            raise_high(local);
            s
        }
        None => return false,
    };
    // SAFETY: `cur` is ours (the contract); `next` is ours now (adopted or bound) and on no list.
    unsafe {
        local.list_remove(c, cur);
        local.list_push(c, cur, ListKind::Partial);
        local.list_push(c, next.as_ptr(), ListKind::Current);
    }
    true
}

/// The current span `s` of class `c` just emptied: on the clock (or, with the background purger,
/// to the span cache at once).
///
/// # Safety
/// `local` is the calling thread's heap state and `s` its current span of class `c`, empty.
unsafe fn retire_current(local: &mut HeapLocal, c: usize, s: &Slab) {
    if SPAN_PURGE_FIRST_EMPTY
        && blocks_per_slab(c) <= SPAN_PURGE_FIRST_MAX_BLOCKS
        && local.retired.first_empty(c)
        // SAFETY: our current span (the contract).
        && (!SPAN_PURGE_FIRST_SINGLE || unsafe { s.local(|l| l.carved) } <= 1)
    {
        // SAFETY: per the contract; off the list, nothing out.
        unsafe {
            local.list_remove(c, s as *const Slab as *mut Slab);
            let bytes = SpanHeader::of_slab(s).as_ref().bytes;
            span::release_purged(&SPANS, s, purge::now());
            count_release(bytes);
        }
        return;
    }
    if purge::background_wanted() {
        // SAFETY: per the contract; off the list, nothing out.
        unsafe {
            local.list_remove(c, s as *const Slab as *mut Slab);
            release(s, purge::now());
        }
        return;
    }
    if RETIRED_PURGE_HIGH {
        local.retired.note_retire(c);
    }
    local.retire(c, purge::now());
}

/// Gives the span cache every retired current span that is still empty and that `sweep` covers
/// (the others stay, or are dropped from `Retired` if they were used again), then purges them
/// (their stamps say they are due). Called when the heap binds a new span (`new_span`); cheap
/// when nothing is retired.
///
/// # Safety
/// `local` is the calling thread's heap state.
unsafe fn release_retired(local: &mut HeapLocal, sweep: Sweep) {
    // SAFETY: the calling thread's heap state; each span given is ours, empty and off the lists.
    let released = unsafe {
        local.release_retired(MEDIUM_CLASSES, sweep, |l, cur, at| {
            if RETIRED_PURGE_ROUNDS {
                // ORDERING: Relaxed — our own span's class, written by this thread's bind.
                let c = (*cur).class.load(Ordering::Relaxed) as usize;
                l.retired.note_released(c);
            }
            let bytes = SpanHeader::of_slab(&*cur).as_ref().bytes;
            span::release(&SPANS, &*cur, at);
            count_release(bytes);
        })
    };
    if released {
        SPANS.purge(sweep);
    }
}

/// `config::RETIRED_PURGE_ON_BIND`: gives the span cache, purged, every retired current span of
/// the heap that is still empty and whose span size is not `bytes`, the size of the span the heap
/// is about to bind (those of that size stay for `rebind_retired` and for their class, which may
/// be churning its span). Called by `new_span` when it did not rebind: a heap that needs new
/// memory for one class should not keep the emptied spans of other sizes resident for the whole
/// purge delay.
///
/// # Safety
/// `local` is the calling thread's heap state.
#[cold]
#[inline(never)]
unsafe fn purge_retired_on_bind(local: &mut HeapLocal, bytes: usize) {
    let now = purge::now();
    if now.wrapping_sub(local.retired_purged_at) < RETIRED_PURGE_INTERVAL_MS {
        return;
    }
    // `RETIRED_PURGE_HIGH`: every retired span of another size while the bind takes the live
    // span bytes to a new high; below it, the small ones emptied less than
    // `RETIRED_PURGE_IDLE_MS` ago stay.
    let mut hold = if RETIRED_PURGE_HIGH && span_bytes_live(local) + bytes <= local.retired_high {
        // SAFETY: per the contract.
        unsafe { young_small(local, now, bytes) }
    } else {
        0
    };
    // `RETIRED_PURGE_ROUNDS`: at a high or below it, the spans of rungs (classes that came back
    // below the high after such a purge: a ladder climbed round after round) stay.
    if RETIRED_PURGE_ROUNDS && local.retired.any_rung() {
        // SAFETY: per the contract.
        hold |= unsafe { rungs_held(local, bytes) };
    }
    let mut any = false;
    loop {
        // SAFETY: per the contract (the calling thread's heap state).
        let taken = unsafe {
            local.take_retired(MEDIUM_CLASSES, |k, _| {
                span_bytes(k) != bytes && hold & (1 << (k - NUM_CLASSES)) == 0
            })
        };
        let Some((k, s, at)) = taken else { break };
        // SAFETY: a span of class `k`, ours, empty and off every list (`take_retired`).
        unsafe { span::release_purged(&SPANS, &*s, at) };
        count_release(span_bytes(k));
        if RETIRED_PURGE_ROUNDS {
            local.retired.note_purged_on_bind(k);
        }
        any = true;
    }
    if any {
        local.retired_purged_at = now;
        GLOBALS.retired_purges_on_bind.bump_shared();
    }
}

/// `config::RETIRED_PURGE_HIGH`: bytes of medium spans bound to heaps (current, partly used,
/// published or retired), process-wide: `bind_span` adds, `count_release` takes away. Wrapping;
/// read as signed, so a release counted before its bind reads as 0, not as a huge footprint.
static SPAN_BYTES_HELD: plain::AtomicUsize = plain::AtomicUsize::new(0);

/// The live span bytes `config::RETIRED_PURGE_HIGH` compares: `SPAN_BYTES_HELD` less the spans
/// `local` holds retired (emptied), at least 0.
#[inline(always)]
fn span_bytes_live(local: &HeapLocal) -> usize {
    // ORDERING: Relaxed — a heuristic's footprint estimate; it publishes nothing, and a stale
    // value only moves one purge on bind between age 0 and the idle age.
    let held = SPAN_BYTES_HELD.load(plain::Ordering::Relaxed) as isize;
    let mut retired = 0;
    if local.retired.any(MEDIUM_CLASSES) {
        for k in MEDIUM_CLASSES {
            if local.retired.marked(k) {
                retired += span_bytes(k) as isize;
            }
        }
    }
    (held - retired).max(0) as usize
}

/// `config::RETIRED_PURGE_HIGH`: the medium classes (bit `k - NUM_CLASSES`) of spans not
/// `bytes` long (those the purge on bind would take) whose retired current span emptied less than
/// `RETIRED_PURGE_IDLE_MS` before `now`, that was retired before (the class churns its span: not
/// a one-off class of cc1's, nor a rung of sqlite3's `realloc` ladder), and that carved, and holds
/// resident (`mincore` of its first 2 MiB), at most `RETIRED_HOLD_MAX_BYTES`: those a purge on
/// bind below the high leaves alone.
///
/// # Safety
/// `local` is the calling thread's heap state.
unsafe fn young_small(local: &HeapLocal, now: Stamp, bytes: usize) -> u64 {
    let mut hold = 0u64;
    for k in MEDIUM_CLASSES {
        let Some((_, at)) = local.retired.first(k..k + 1) else {
            continue;
        };
        if span_bytes(k) == bytes {
            continue;
        }
        let cur = local.slabs[k].cur;
        if cur.is_null()
            || now.wrapping_sub(at) >= RETIRED_PURGE_IDLE_MS
            || !local.retired.churns(k)
        {
            continue;
        }
        // SAFETY: `cur` is the heap's current span of `k` (the contract: our heap state).
        let carved = unsafe { (*cur).local(|l| l.carved) } as usize * class_size(k);
        if carved > RETIRED_HOLD_MAX_BYTES {
            continue;
        }
        // What it holds resident: a span faulted in as a transparent huge page (THP "always")
        // holds its whole first 2 MiB, however little it carved.
        // SAFETY: `cur` is the heap's current span of `k` (the contract).
        if unsafe { resident_head(cur, k) }.is_some_and(|r| r <= RETIRED_HOLD_MAX_BYTES) {
            hold |= 1 << (k - NUM_CLASSES);
        }
    }
    hold
}

/// Bytes resident in the first 2 MiB (`os::RESIDENT_MAX_PAGES`) of span `cur` of class `k`
/// (`mincore`); `None` if the OS would not say.
///
/// # Safety
/// `cur` is a span's slab, bound to class `k`.
unsafe fn resident_head(cur: *const Slab, k: usize) -> Option<usize> {
    // SAFETY: span headers are mapped forever; `cur` is a span's slab (the contract).
    let base = unsafe { SpanHeader::of_slab(&*cur).as_ref().base() };
    let len = span_bytes(k).min(crate::os::RESIDENT_MAX_PAGES * crate::config::PAGE_SIZE);
    // SAFETY: the span's first `len` bytes (at most its size) lie inside its mapping.
    let resident =
        unsafe { crate::os::resident_pages(NonNull::new_unchecked(base as *mut u8), len) };
    resident.map(|p| p * crate::config::PAGE_SIZE)
}

/// `config::RETIRED_PURGE_ROUNDS`: the medium classes (bit `k - NUM_CLASSES`) whose retired
/// current span the purge on bind leaves alone: the class is a rung (`purge::Retired::rung`: it
/// came back below the heap's high after such a purge), its span is not `bytes` long, and it
/// holds resident (`mincore` of its first 2 MiB) at most twice what it carved: cc1's 52 KiB
/// class faulted in as a 2 MiB huge page would give back 40 times what it refaults.
///
/// # Safety
/// `local` is the calling thread's heap state.
unsafe fn rungs_held(local: &HeapLocal, bytes: usize) -> u64 {
    let mut hold = 0u64;
    for k in MEDIUM_CLASSES {
        if !local.retired.marked(k) || span_bytes(k) == bytes || !local.retired.rung(k) {
            continue;
        }
        let cur = local.slabs[k].cur;
        if cur.is_null() {
            continue;
        }
        // SAFETY: `cur` is the heap's current span of `k` (the contract: our heap state).
        let carved = unsafe { (*cur).local(|l| l.carved) } as usize * class_size(k);
        // SAFETY: as above.
        if unsafe { resident_head(cur, k) }.is_some_and(|r| r <= 2 * carved) {
            hold |= 1 << (k - NUM_CLASSES);
        }
    }
    hold
}

/// `config::RETIRED_PURGE_HIGH`: the heap just bound a span; raises its high of `SPAN_BYTES_HELD`.
/// Inline in `new_span` and `reuse_before_carve`: no function of its own in the start-up text
/// (preload/startup.ld).
#[inline(always)]
fn raise_high(local: &mut HeapLocal) {
    if RETIRED_PURGE_HIGH {
        let live = span_bytes_live(local);
        if live > local.retired_high {
            local.retired_high = live;
        }
    }
}

/// `config::SPAN_REBIND_RETIRED`: gives the span cache one of the heap's retired current spans of
/// another class than `c` whose span size is `bytes` (emptied at least `SPAN_REBIND_AGE_MS` ago,
/// still resident, not yet due), with the stamp it emptied at, so that the `take_for` right after
/// binds its resident pages to `c` instead of carving an untouched span. Counts `spans_rebound`,
/// and the span's free blocks the last two trims purged as taken back
/// (`config::SPAN_REBIND_COUNTS_PURGED`). Whether it gave one.
///
/// # Safety
/// `local` is the calling thread's heap state.
unsafe fn rebind_retired(local: &mut HeapLocal, c: usize, bytes: usize) -> bool {
    let now = purge::now();
    // Whether the cache lacks a committed span of the size: asked (under its lock) only once a
    // candidate is found, so a heap whose retired spans are all too young takes no lock.
    let cache_lacks = core::cell::Cell::new(None);
    let lacks = || match cache_lacks.get() {
        Some(v) => v,
        None => {
            let v = !SPANS.has_committed(bytes);
            cache_lacks.set(Some(v));
            v
        }
    };
    // SAFETY: per the contract.
    let taken = unsafe {
        local.take_retired(MEDIUM_CLASSES, |k, at| {
            k != c
                && span_bytes(k) == bytes
                && now.wrapping_sub(at) >= SPAN_REBIND_AGE_MS
                && lacks()
        })
    };
    if let Some((k, s, at)) = taken {
        if MEDIUM_TRIM && TRIM_BACKOFF && SPAN_REBIND_COUNTS_PURGED {
            // SAFETY: ours, class `k`, nothing out (`take_retired`).
            local.medium_refaulted +=
                unsafe { span::purged_free_bytes(&*s, k, local.medium_epoch) };
        }
        // SAFETY: ours, empty and off every list (`take_retired`).
        unsafe { span::release(&SPANS, &*s, at) };
        count_release(bytes);
        GLOBALS.spans_rebound.bump_shared();
    }
    taken.is_some()
}

/// Binds a span from the cache (after a reclaim pass, a fresh mapping) as the current span of
/// class `c`. False when the OS refuses memory.
///
/// # Safety
/// `local` is `h`'s local state and `h` is the calling thread's heap.
unsafe fn new_span(h: &Heap, local: &mut HeapLocal, c: usize) -> bool {
    let bytes = span_bytes(c);
    // `RETIRED_PURGE_ROUNDS`: the class's first bind since the purge on bind took its span; below
    // the heap's high (judged before a rebind or release moves the footprint) it is a rung.
    if RETIRED_PURGE_ROUNDS && local.retired.purged_on_bind(c) {
        let below = span_bytes_live(local) + bytes <= local.retired_high;
        if local.retired.note_bound(c, below) {
            GLOBALS.retired_ladder_comebacks.bump_shared();
        }
    }
    // First, before the trim and the due release could purge it: a rebind is no growth, so the
    // trim on bind (a hoard growing) does not run for it.
    let rebound = SPAN_REBIND_RETIRED
        && local.retired.any(MEDIUM_CLASSES)
        // SAFETY: per the contract.
        && unsafe { rebind_retired(local, c, bytes) };
    if MEDIUM_TRIM && MEDIUM_TRIM_ON_BIND && !rebound {
        // SAFETY: per the contract.
        unsafe { trim_on_bind(local) };
    }
    if RETIRED_PURGE_ON_BIND && !rebound && local.retired.any(MEDIUM_CLASSES) {
        // SAFETY: per the contract.
        unsafe { purge_retired_on_bind(local, bytes) };
    }
    if local.retired.any(MEDIUM_CLASSES) {
        if let Some(sweep) = Sweep::due() {
            // SAFETY: per the contract.
            unsafe { release_retired(local, sweep) };
        }
    }
    span::purge_due();
    let span = match SPANS.take_for(bytes, c as u32) {
        Some(s) => Some(s),
        None => {
            reclaim(usize::MAX);
            SPANS.take_for(bytes, c as u32).or_else(|| span::map(bytes))
        }
    };
    let Some(span) = span else { return false };
    // SAFETY: the cache (or the fresh mapping) handed the unbound span to us.
    unsafe {
        let s = bind_span(h, span, c);
        local.list_push(c, s as *const Slab as *mut Slab, ListKind::Current);
    }
    raise_high(local);
    true
}

/// Binds `span`, unbound and handed to the caller by the span cache or a fresh mapping, to class
/// `c` for `h` (`new_span`, `reuse_before_carve`): the bound-span counters and the footprint, then
/// `Slab::bind`. The caller puts the slab on a list.
///
/// # Safety
/// `span` is unbound, the caller's alone, of class `c`'s span size; `h` is the calling thread's
/// heap.
unsafe fn bind_span(h: &Heap, span: NonNull<SpanHeader>, c: usize) -> &'static Slab {
    let bytes = span_bytes(c);
    GLOBALS.spans_bound.bump_shared();
    GLOBALS.span_bytes_bound.add_shared(bytes as u64);
    if RETIRED_PURGE_HIGH {
        // ORDERING: Relaxed — a footprint estimate (`SPAN_BYTES_HELD`).
        SPAN_BYTES_HELD.fetch_add(bytes, plain::Ordering::Relaxed);
    }
    stats::footprint_add(bytes);
    // SAFETY: per the contract; span headers are mapped forever.
    let s = unsafe { &span.as_ref().slab };
    // SAFETY: per the contract: unbound and ours.
    unsafe { s.bind(c, h.owner_ptr()) };
    s
}

/// Gives an empty span, empty since `emptied_at`, to the span cache.
///
/// # Safety
/// The caller holds `s` (a span's slab), nothing is out and it is on no list.
unsafe fn release(s: &Slab, emptied_at: Stamp) {
    // SAFETY: per the contract.
    let bytes = unsafe { SpanHeader::of_slab(s).as_ref().bytes };
    // SAFETY: per the contract.
    unsafe { span::release(&SPANS, s, emptied_at) };
    count_release(bytes);
    span::purge_due();
}

/// Counts a span of `bytes` going back to the cache.
fn count_release(bytes: usize) {
    GLOBALS.spans_released.bump_shared();
    GLOBALS.span_bytes_released.add_shared(bytes as u64);
    if RETIRED_PURGE_HIGH {
        // ORDERING: Relaxed — a footprint estimate (`SPAN_BYTES_HELD`).
        SPAN_BYTES_HELD.fetch_sub(bytes, plain::Ordering::Relaxed);
    }
    stats::footprint_sub(bytes);
}

/// The medium class id of a span's slab, checked; aborts for a free span or a non-medium class.
#[inline]
fn bound_class(span: &SpanHeader, ptr: *mut u8) -> usize {
    // ORDERING: Relaxed — the block reached us through a hand-off that ordered its span's bind.
    let class = span.slab.class.load(Ordering::Relaxed);
    if class == NO_CLASS || !is_medium(class as usize) || class as usize >= TOTAL_CLASSES {
        fatal(
            "span",
            "pointer into a free span (double free or invalid pointer)",
            span.whereis(ptr as usize, None),
        );
    }
    class as usize
}

/// Aborts unless `ptr` is a block boundary of the span's class (within `carved` blocks).
#[inline]
fn check_boundary(span: &SpanHeader, ptr: *mut u8, class: usize, carved: usize) {
    span.slab.check_block("span", ptr as usize, class, carved);
}

/// Usable bytes of a live medium block: its class size, or the request of a sampled one (whose
/// tail may hold the profiler's record: `record_slot`).
pub fn usable_size(span: &SpanHeader, ptr: *mut u8) -> usize {
    let class = bound_class(span, ptr);
    check_boundary(span, ptr, class, blocks_per_slab(class));
    if PROFILE {
        if let Some(rec) = sampled_record(span, ptr) {
            return prof::usable_of(rec.size);
        }
    }
    class_size(class)
}

/// The class size of the live medium block `ptr` of `span`, whether sampled or not (the rung a
/// sampled block's `realloc` move grows from, as an unsampled one's does).
pub fn class_usable(span: &SpanHeader, ptr: *mut u8) -> usize {
    class_size(bound_class(span, ptr))
}

/// Frees a medium block: local if the calling thread owns its span, else remote. `key` is the
/// process's freed-block key (`front::free`): medium blocks always carry the freed mark.
///
/// # Safety
/// `span` came from the registry for `ptr`; `ptr` is claimed to be a live block.
pub unsafe fn free(h: &'static Heap, span: NonNull<SpanHeader>, ptr: *mut u8, key: usize) {
    let _busy = h.busy();
    // SAFETY: registered span headers are mapped forever.
    let span = unsafe { span.as_ref() };
    let s = &span.slab;
    let class = bound_class(span, ptr);
    let owned = s.is_owned_by(h.owner_ptr());
    let carved = if owned {
        // SAFETY: we own the span.
        unsafe { s.local(|l| l.carved as usize) }
    } else {
        blocks_per_slab(class)
    };
    check_boundary(span, ptr, class, carved);
    if PROFILE && PROF_END_IN_FREE {
        // A checked block boundary: its index is below `carved` (at most 64, const-asserted in
        // span.rs). The sample ends before the block goes back to a list (see "sampled
        // blocks"); a block freed twice finds its bit clear the second time, as before.
        let word = span.sampled.word();
        if word != 0 {
            // The index as `check_boundary` computed it (the same expression: no second
            // multiplication).
            let off = (ptr as usize).wrapping_sub(s.data() as usize);
            let bit = 1u64 << block_index(class, off.min(MAX_BLOCK_OFFSET - 1));
            debug_assert_eq!(bit, sample_bit(span, ptr, class));
            if word & bit != 0 {
                end_sample_marked(span, ptr, class, bit, owned, h);
            }
        }
    }
    valgrind::freelike(ptr);
    // SAFETY: a checked block boundary inside the span, far larger than 16 bytes.
    let b = unsafe { NonNull::new_unchecked(ptr.cast::<Block>()) };
    // SAFETY: as above.
    if unsafe { Block::is_marked_free(b, key) } {
        fatal(
            "double-free",
            "medium block freed twice (it carries the freed-block mark)",
            span.whereis(ptr as usize, Some(class)),
        );
    }
    // SAFETY: as above; the block is being freed by us.
    unsafe { Block::mark_free(b, key) };
    if owned {
        // SAFETY: we own the span, so `h` is our live heap.
        unsafe { free_local(h, s, class, b) }
    } else {
        if MEDIUM_TRIM {
            // SAFETY: as above (the owner's drain will move it to the free list unmarked).
            unsafe { span::clear_clean(b) };
        }
        count_remote_free(h, class_size(class));
        // SAFETY: a checked block of this span, being freed by the caller.
        unsafe { s.free_remote(b, env::force_notify()) };
    }
}

// ---- sampled blocks (profiler) -----------------------------------------------------------------
// A sampled medium request is served by this tier from the class an unsampled one takes
// (front::alloc::sample, `SAMPLE_EXTRA`): the profiler's record sits in the span's header page,
// in the slot of the block's `sampled` bit (`record_slot`, `config::PROF_HEADER_RECORDS`;
// without it, or where the header page has no room, the block's last `prof::RECORD_BYTES`, past
// anything the program was given, from a class with room for them), and the block is marked in
// its span's `sampled` bits. `free` ends the sample before the block goes back to a
// list, so the block cannot be handed out (and marked) again before its record is read.
// `usable_size` of a marked block is its request (rounded up to `MIN_ALIGN`), never the record.

/// The bit of the block at `ptr` (a checked boundary of class `class`) in its span's `sampled`.
#[inline]
fn sample_bit(span: &SpanHeader, ptr: *mut u8, class: usize) -> u64 {
    let idx = block_index(class, ptr as usize - span.base() - SPAN_HEADER_BYTES);
    debug_assert!(idx < 64, "const-asserted in span.rs");
    1 << idx
}

/// The records of a span's sampled blocks are in its header page, one slot per `sampled` bit
/// after the header (`config::PROF_HEADER_RECORDS`, where the page has room for them: not in
/// loom's small header).
const RECORDS_IN_HEADER: bool = PROF_HEADER_RECORDS
    && core::mem::size_of::<SpanHeader>() + 64 * prof::RECORD_BYTES <= SPAN_HEADER_BYTES;

const _: () = assert!(
    !PROF_HEADER_RECORDS || cfg!(hakmem_loom) || RECORDS_IN_HEADER,
    "a span's header page has room for a record per `sampled` bit"
);

/// Bytes a sampled medium request needs beyond an unsampled one of its size: none when the
/// record is in the span's header page, else the record in the block's tail.
pub const SAMPLE_EXTRA: usize = if RECORDS_IN_HEADER {
    0
} else {
    prof::RECORD_BYTES
};

/// Where the profiler's record of the marked block `ptr` of class `class` in `span` lives: the
/// slot of its bit at the end of the span's header page (`RECORDS_IN_HEADER`; written only while
/// the block is out, so slots of different blocks never meet), else the block's last
/// `RECORD_BYTES` (8-aligned either way: the header page and medium class sizes are multiples of
/// 4 KiB).
#[inline]
fn record_slot(span: &SpanHeader, ptr: *mut u8, class: usize) -> *mut prof::Record {
    record_at(span, ptr, class, sample_bit(span, ptr, class))
}

/// `record_slot` of the block whose `sampled` bit is `bit` (`sample_bit`), for the ends of a
/// sample, which have the bit already: the slot from a bit scan of it, not from the block's
/// index again (a multiplication by the class's reciprocal; `alloc_medium_sampled`, where
/// `record_slot` and `mark_sampled` are inlined, computes the index once either way).
#[inline(always)]
fn record_at(span: &SpanHeader, ptr: *mut u8, class: usize, bit: u64) -> *mut prof::Record {
    debug_assert_eq!(bit, sample_bit(span, ptr, class));
    if RECORDS_IN_HEADER {
        let idx = bit.trailing_zeros() as usize;
        (span.base() + SPAN_HEADER_BYTES - (64 - idx) * prof::RECORD_BYTES) as *mut prof::Record
    } else {
        ptr.wrapping_add(class_size(class) - prof::RECORD_BYTES)
            .cast()
    }
}

/// Where `prof::begin_sample_into` writes the record of a sampled medium block (`record_slot`).
///
/// # Safety
/// `ptr` is a medium block of class `class` in `span` (`alloc_with_span`), just allocated by
/// this thread for a sampled request of at most `class_size(class) - SAMPLE_EXTRA` bytes and not
/// yet handed out; the reference is dropped before it is (`mark_sampled` follows at once).
pub unsafe fn record_of_new<'a>(
    span: &SpanHeader,
    ptr: *mut u8,
    class: usize,
) -> &'a mut MaybeUninit<prof::Record> {
    // SAFETY: per the contract: the block's slot (in the span's header page, mapped while the
    // span is, or the block's tail past the request; 8-aligned), ours alone until the block is
    // handed out: no other block uses it, and the block's previous sample ended at its free.
    unsafe { &mut *record_slot(span, ptr, class).cast::<MaybeUninit<prof::Record>>() }
}

/// Marks the live medium block `ptr` of class `class` in `span` (`alloc_with_span`), just
/// allocated by this thread for a sampled request and not yet handed out, whose record
/// `prof::begin_sample_into` wrote in its slot (`record_of_new`).
pub fn mark_sampled(span: &SpanHeader, ptr: *mut u8, class: usize) {
    debug_assert!(
        // SAFETY: written by `begin_sample_into` (per the contract).
        unsafe { record_slot(span, ptr, class).read() }.size + SAMPLE_EXTRA <= class_size(class)
    );
    debug_assert_eq!(bound_class(span, ptr), class);
    // The block is ours until handed out; whoever frees it got the pointer through a hand-off
    // that orders this mark (and the record's store) before its load (as for the block's
    // contents): `SampledBits`.
    span.sampled.mark_held(sample_bit(span, ptr, class));
}

/// The record of the live medium block `ptr` if it carries a sample.
pub fn sampled_record(span: &SpanHeader, ptr: *mut u8) -> Option<prof::Record> {
    if span.sampled.word() == 0 {
        return None;
    }
    let class = bound_class(span, ptr);
    marked_bit(span, ptr, class)?;
    // SAFETY: a marked live block's slot holds its record (`mark_sampled`).
    Some(unsafe { record_slot(span, ptr, class).read() })
}

/// The `sampled` bit of the block at `ptr` in `span` (of medium class `class`) if `ptr` is a
/// block boundary and the bit is set.
#[inline]
fn marked_bit(span: &SpanHeader, ptr: *mut u8, class: usize) -> Option<u64> {
    let off = (ptr as usize).wrapping_sub(span.base() + SPAN_HEADER_BYTES);
    let idx = block_index(class, off.min(MAX_BLOCK_OFFSET - 1));
    if idx >= 64 || idx * class_size(class) != off {
        return None;
    }
    let bit = 1u64 << idx;
    (span.sampled.word() & bit != 0).then_some(bit)
}

/// Whether the live medium block `ptr` carries a sample (`realloc` redraws such a block's sample
/// in place, `resample_in_place`, or moves it, so that its new size is counted).
pub fn is_sampled(span: &SpanHeader, ptr: *mut u8) -> bool {
    span.sampled.word() != 0 && marked_bit(span, ptr, bound_class(span, ptr)).is_some()
}

/// Whether `realloc` of the live medium block `ptr` of `span` to `new_size` bytes keeps it in
/// place as a sampled block (`config::PROF_REALLOC_IN_PLACE`): true when the block is marked,
/// `new_size` fits its class (and its record, `SAMPLE_EXTRA`) and is at least half of it, and the
/// calling thread (`h`) holds the span; else false and nothing is done (the block moves). In
/// place, its sample ends and the new size is drawn against the thread's countdown as a new
/// request's would be (`front::alloc::sample`): recorded anew in the block's slot, or the bit
/// cleared. Only the holder writes `held` (`SampledBits`), hence the holder check; the slot is
/// written while the caller holds the block, as `record_of_new`'s is.
#[cold]
#[inline(never)]
pub fn resample_in_place(span: &SpanHeader, ptr: *mut u8, new_size: usize, h: &Heap) -> bool {
    if !PROF_REALLOC_IN_PLACE || h.kind != HeapKind::Live || !span.slab.is_owned_by(h.owner_ptr()) {
        return false;
    }
    let class = bound_class(span, ptr);
    let room = class_size(class) - SAMPLE_EXTRA;
    let Some(bit) = marked_bit(span, ptr, class) else {
        return false;
    };
    if new_size > room || new_size < class_size(class) / 2 {
        return false;
    }
    let slot = record_slot(span, ptr, class);
    // SAFETY: a marked live block's slot holds its record (`mark_sampled`, or an earlier
    // `resample_in_place`); the caller holds the block, so nobody else reads or writes it.
    prof::end_sample(unsafe { &*slot }, h.prof_shard);
    if prof::is_on() {
        // SAFETY: the calling thread's own live heap; no other reference to its local state is
        // alive, and this one lives through `begin_sample_into`, which does not reach the heap.
        let sampler = unsafe { &mut h.local_mut().sampler };
        if sampler.take(new_size) {
            // SAFETY: as above: the block's slot, ours while we hold the block (its record was
            // read by `end_sample` and is not referenced any more); 8-aligned.
            let out = unsafe { &mut *slot.cast::<MaybeUninit<prof::Record>>() };
            if prof::begin_sample_into(new_size, out, sampler.last_stack(), h.prof_shard) {
                return true;
            }
        }
    }
    // Unsampled from here on, as if handed out unsampled: the holder clears its bit.
    span.sampled.clear_freed(bit, true);
    true
}

/// Before `free` of the block at `ptr` in `span` (the registry's answer): if the span has a live
/// sampled block and `ptr` is one, clears its bit and ends the sample. One load of a span header
/// word when no sampled block of the span is live (the free path calls this before `free`, out
/// of `free`'s own body, so that `free` keeps no extra registers for the rare case). `h`: the
/// freeing thread's heap (its counter line, `Heap::prof_shard`; whether it holds the span).
/// With `config::PROF_END_IN_FREE` this does nothing: `free` ends the sample itself.
#[inline(always)]
pub fn end_sample_if_marked(span: NonNull<SpanHeader>, ptr: *mut u8, h: &Heap) {
    // SAFETY: registered span headers are mapped forever.
    let span = unsafe { span.as_ref() };
    if PROFILE && !PROF_END_IN_FREE && span.sampled.word() != 0 {
        end_sample_slow(span, ptr, h);
    }
}

/// `free`'s end of the sample of the marked block `ptr` (a checked boundary of class `class`,
/// `bit` its set `sampled` bit) before the block goes back to a list
/// (`config::PROF_END_IN_FREE`). `held`: the freeing heap `h` holds the span (so it is live).
#[cold]
#[inline(never)]
fn end_sample_marked(
    span: &SpanHeader,
    ptr: *mut u8,
    class: usize,
    bit: u64,
    held: bool,
    h: &Heap,
) {
    h.count(|c| &c.medium_sample_ends);
    // The holder clears the bit with a plain store; any other freer (another thread's heap, a
    // heap that is not live) hands it to the holder's merge (`SampledBits`).
    span.sampled.clear_freed(bit, held);
    // SAFETY: a marked live block's slot holds its record (`mark_sampled`), still the freeing
    // thread's until `free` puts the block back on a list, after this (read in place; its slot
    // from `bit`, a bit scan, not the index's multiplication again).
    prof::end_sample(unsafe { &*record_at(span, ptr, class, bit) }, h.prof_shard);
}

#[cold]
#[inline(never)]
fn end_sample_slow(span: &SpanHeader, ptr: *mut u8, h: &Heap) {
    h.count(|c| &c.medium_sample_ends);
    // Only the checks the bit needs: `free` makes the full ones next (and aborts on a free span
    // or a pointer off a block boundary, which then carries no sample here either).
    // ORDERING: Relaxed — see `bound_class`.
    let class = span.slab.class.load(Ordering::Relaxed) as usize;
    if !is_medium(class) || class >= TOTAL_CLASSES {
        return;
    }
    if let Some(bit) = marked_bit(span, ptr, class) {
        // The holder clears the bit with a plain store; any other freer (another thread's heap,
        // a heap that is not live) hands it to the holder's merge (`SampledBits`).
        let held = h.kind == HeapKind::Live && span.slab.is_owned_by(h.owner_ptr());
        span.sampled.clear_freed(bit, held);
        // SAFETY: a marked live block's slot holds its record (`mark_sampled`), still the
        // freeing thread's until `free` puts the block back on a list, after this (read in
        // place, not copied).
        prof::end_sample(unsafe { &*record_at(span, ptr, class, bit) }, h.prof_shard);
    }
}

/// Counts a remote free in the freeing heap (or the heapless counters for a sentinel heap).
fn count_remote_free(h: &Heap, bytes: usize) {
    let c = if h.kind == HeapKind::Live {
        &h.counters
    } else {
        &GLOBALS.heapless
    };
    if h.kind == HeapKind::Live {
        c.medium_remote_frees.bump();
        c.medium_bytes_freed.add(bytes as u64);
    } else {
        c.medium_remote_frees.bump_shared();
        c.medium_bytes_freed.add_shared(bytes as u64);
    }
}

/// Puts a block back on its span's free list; moves or releases the span as its count says.
///
/// # Safety
/// `h` is the calling thread's live heap and owns `s`; `b` is a checked, out block of `s`.
unsafe fn free_local(h: &Heap, s: &Slab, class: usize, b: NonNull<Block>) {
    h.counters.medium_local_frees.bump();
    h.counters.medium_bytes_freed.add(class_size(class) as u64);
    // SAFETY: per the contract.
    unsafe {
        let local = h.local_mut();
        if MEDIUM_TRIM {
            span::note_free(b, local.medium_epoch);
        }
        let used = s.put_local(b);
        let kind = s.local(|l| l.list);
        let p = s as *const Slab as *mut Slab;
        if used == 0 && kind != ListKind::Current {
            local.list_remove(class, p);
            release(s, purge::now());
        } else if used == 0 {
            retire_current(local, class, s);
        } else if kind == ListKind::Full {
            local.list_remove(class, p);
            local.list_push(class, p, ListKind::Partial);
        }
        if MEDIUM_TRIM {
            local.medium_freed += class_size(class);
            if local.medium_freed > MEDIUM_TRIM_CHECK_BYTES {
                trim(local, b.as_ptr());
            }
        }
    }
}

// ---- trimming free blocks (`config::MEDIUM_TRIM`) ---------------------------------------------
// A span keeps every block its class carved, so a heap whose requests spread over many medium
// classes held each class's high-water resident. Every `MEDIUM_TRIM_CHECK_BYTES` of local frees, at
// most once per trim epoch (`MEDIUM_TRIM_AGE_MS`), the heap drains its spans' remote queues and
// walks their free lists; if the free blocks not yet purged (not clean, `span::trim_free`) come to
// more than `MEDIUM_DIRTY_BYTES`, it purges those that stayed free through the whole last epoch,
// largest classes first, until half of that is left. An exiting thread purges all of them before
// it publishes its spans. Only the owner touches its spans' free lists and the marks in their
// blocks, and a block is purged only while it is on its span's local free list, so no other
// thread can reach it (a remote freer's block reaches the list only through the owner's drain).

/// Drains the remote queues of every span of class `c` `local`'s heap owns onto their free lists
/// (the blocks marked as freed this epoch): full spans move to `partial`, and spans left with
/// nothing out other than the current one go to the span cache.
///
/// # Safety
/// `local` is the calling thread's heap state.
unsafe fn drain_all(local: &mut HeapLocal, c: usize) {
    let epoch = local.medium_epoch;
    let cs = local.slabs[c];
    for first in [cs.cur, cs.partial, cs.full] {
        let mut s = first;
        while !s.is_null() {
            // SAFETY: spans on our lists are ours; the current one is alone on its list.
            unsafe {
                let kind = (*s).local(|l| l.list);
                let next = if kind == ListKind::Current {
                    core::ptr::null_mut()
                } else {
                    list::next(s)
                };
                if (*s).remote.is_nonempty()
                    && span::drain_young(&*s, epoch) > 0
                    && kind != ListKind::Current
                {
                    local.list_remove(c, s);
                    if (*s).used() == 0 {
                        release(&*s, purge::now());
                    } else {
                        local.list_push(c, s, ListKind::Partial);
                    }
                }
                s = next;
            }
        }
    }
}

/// The trim check (see above), run by a local free of `keep` once `MEDIUM_TRIM_CHECK_BYTES` were
/// freed locally since the last one (after a slow churner's check, the frees its allowance has
/// left: `config::TRIM_CHECK_BY_ALLOWANCE`).
///
/// # Safety
/// `local` is the calling thread's heap state.
#[cold]
#[inline(never)]
unsafe fn trim(local: &mut HeapLocal, keep: *mut Block) {
    local.medium_freed = 0;
    local.medium_freed_at = 0;
    let now = purge::now();
    let gap = now.wrapping_sub(local.medium_epoch_at);
    if gap < MEDIUM_TRIM_AGE_MS {
        if TRIM_CHECK_BY_ALLOWANCE && local.medium_paced {
            // A burst right after a slow churner's check: try again after the allowance's
            // frees (a clock read each time), not 8 MiB later, or the blocks the last check
            // found young would wait a whole 8 MiB (tests/medium.rs, `spread_remote`).
            pace(local);
        }
        return;
    }
    // `TRIM_CHECK_BY_ALLOWANCE`: a slow churner's check purges as a check on bind does (every
    // block free through the last epoch once over half the allowance): its epoch was long, so
    // the blocks not yet reused by now mostly stay free.
    let slow = TRIM_CHECK_BY_ALLOWANCE && gap >= TRIM_SLOW_CHECK_MS;
    // SAFETY: per the contract.
    unsafe { trim_now(local, keep, now, slow) };
    local.medium_paced = slow;
    if slow {
        pace(local);
    }
}

/// `config::TRIM_CHECK_BY_ALLOWANCE`: the heap's next trim check by frees comes after the frees
/// its allowance has left (`next_check_bytes`): the free path checks `medium_freed` against
/// `MEDIUM_TRIM_CHECK_BYTES`, so the count starts that much short of it (nothing more on the free
/// path). `medium_freed_at` moves with it: `trim_on_bind` reads only their difference.
#[inline(always)]
fn pace(local: &mut HeapLocal) {
    let head = next_check_bytes(local);
    local.medium_freed = MEDIUM_TRIM_CHECK_BYTES - head;
    local.medium_freed_at = local.medium_freed;
}

/// `config::TRIM_CHECK_BY_ALLOWANCE`: the local frees after which a slow churner's next trim
/// check runs: what its hoard allowance (`dirty_bytes`) has left over the unclean bytes the check
/// just left, at least half the allowance (a check that could purge nothing, its blocks all
/// young, is not run again at once), at most `MEDIUM_TRIM_CHECK_BYTES`.
#[inline(always)]
fn next_check_bytes(local: &HeapLocal) -> usize {
    let allowance = dirty_bytes(local);
    // `max` then `min`, not `clamp`: under `TRIM_BACKOFF` half the allowance may pass the
    // check bytes (`clamp` would panic).
    allowance
        .saturating_sub(local.medium_unclean)
        .max(allowance / 2)
        .min(MEDIUM_TRIM_CHECK_BYTES)
}

/// The trim check a heap about to bind a new span runs when what it may hold free (the unclean
/// bytes the last check left and the bytes freed since) is over half of `MEDIUM_DIRTY_BYTES`: a
/// heap that grows while it holds free blocks is hoarding them (`MEDIUM_TRIM_ON_BIND`). If the
/// free blocks not clean are over half the limit, it purges every one that stayed free through
/// the whole last epoch. Within the epoch nothing is done; the count of frees that drives the
/// checks by frees is left as it is either way.
/// The fallback heap (whose spans see only remote frees, so no check ever runs on it) never
/// passes the estimate: as before, only a thread's own heap trims.
///
/// # Safety
/// `local` is the calling thread's heap state.
#[cold]
#[inline(never)]
unsafe fn trim_on_bind(local: &mut HeapLocal) {
    if local.medium_unclean + (local.medium_freed - local.medium_freed_at) <= dirty_bytes(local) / 2
    {
        return;
    }
    let now = purge::now();
    if now.wrapping_sub(local.medium_epoch_at) < MEDIUM_TRIM_AGE_MS {
        return;
    }
    local.medium_freed_at = local.medium_freed;
    // SAFETY: per the contract.
    unsafe { trim_now(local, core::ptr::null_mut(), now, true) };
}

/// A trim check past its epoch gate: a new epoch begins at `now`. A check on `bind`
/// (`trim_on_bind`) purges all blocks old enough once over half the limit; one by frees purges
/// down to half the limit once over it.
///
/// # Safety
/// `local` is the calling thread's heap state.
unsafe fn trim_now(local: &mut HeapLocal, keep: *mut Block, now: purge::Stamp, bind: bool) {
    if TRIM_BACKOFF {
        adapt(local);
    }
    local.medium_epoch += 1;
    local.medium_epoch_at = now;
    for c in MEDIUM_CLASSES {
        // SAFETY: per the contract.
        unsafe { drain_all(local, c) };
    }
    // SAFETY: per the contract.
    let mut unclean = unsafe { purge_free(local, keep, 0, false) };
    let dirty = dirty_bytes(local);
    let (limit, left) = if bind {
        (dirty / 2, 0)
    } else {
        (dirty, dirty / 2)
    };
    if unclean > limit {
        // SAFETY: per the contract.
        unclean = unsafe { purge_free(local, keep, unclean - left, false) };
    }
    local.medium_unclean = unclean;
}

/// Bytes of free blocks not clean the heap keeps: `MEDIUM_DIRTY_BYTES`, doubled per level of
/// the trim's backoff (`config::TRIM_BACKOFF`).
/// Inline in its callers: no function of its own in the start-up text (preload/startup.ld).
#[inline(always)]
fn dirty_bytes(local: &HeapLocal) -> usize {
    if TRIM_BACKOFF {
        MEDIUM_DIRTY_BYTES << local.medium_backoff
    } else {
        MEDIUM_DIRTY_BYTES
    }
}

/// The trim's backoff (`config::TRIM_BACKOFF`), run as a trim begins a new epoch: if the program
/// took back three quarters or more of what the last two trims purged (a block freed for a
/// doubling is often taken again only after the next bind's trim), those purges saved no memory
/// and cost a page fault per page: the heap's hoard allowance rises `TRIM_BACKOFF_STEP` levels
/// (up to `TRIM_BACKOFF_MAX`; a quarter, as first tried, also fired on the spread-classes
/// stress, whose purges do lower its peak: 125 -> 180 MiB). `TRIM_BACKOFF_QUIET` trims in a row without that halve it again, so a heap that stops
/// taking back what it frees returns to `MEDIUM_DIRTY_BYTES`.
/// Inline in `trim_now`: no function of its own in the start-up text (preload/startup.ld).
#[inline(always)]
fn adapt(local: &mut HeapLocal) {
    let window = local.medium_purged + local.medium_purged_before;
    if window > 0 && local.medium_refaulted >= window / 4 * 3 {
        local.medium_quiet = 0;
        if local.medium_backoff < TRIM_BACKOFF_MAX {
            local.medium_backoff = (local.medium_backoff + TRIM_BACKOFF_STEP).min(TRIM_BACKOFF_MAX);
            GLOBALS.medium_trim_backoffs.bump_shared();
        }
    } else if local.medium_backoff > 0 {
        local.medium_quiet += 1;
        if local.medium_quiet >= TRIM_BACKOFF_QUIET {
            local.medium_quiet = 0;
            local.medium_backoff -= 1;
        }
    }
    local.medium_refaulted = 0;
    local.medium_purged_before = local.medium_purged;
    local.medium_purged = 0;
}

/// Walks the free lists of `local`'s spans, the largest classes first, purging up to `excess`
/// bytes of free blocks that are not clean (not `keep`; unless `all`, only those free through
/// the whole last epoch; `span::trim_free`). Returns the bytes of free blocks left not clean.
///
/// # Safety
/// `local` is the calling thread's heap state.
unsafe fn purge_free(
    local: &mut HeapLocal,
    keep: *mut Block,
    mut excess: usize,
    all: bool,
) -> usize {
    let mut left = 0;
    let mut purged = 0;
    let epoch = local.medium_epoch;
    for c in MEDIUM_CLASSES.rev() {
        let cs = local.slabs[c];
        // Full spans have nothing on their free lists.
        for first in [cs.cur, cs.partial] {
            let mut s = first;
            while !s.is_null() {
                // SAFETY: spans on our lists are ours; the current one is alone on its list.
                unsafe {
                    let next = if (*s).local(|l| l.list) == ListKind::Current {
                        core::ptr::null_mut()
                    } else {
                        list::next(s)
                    };
                    // The exit's purge (`all`) leaves out a span with nothing out: the exit gives
                    // it to the span cache, whose budget and clock decide for it as for a span
                    // emptied on a live thread (`config::EXIT_TRIM_SKIPS_EMPTY`).
                    if !(EXIT_TRIM_SKIPS_EMPTY && all && (*s).used() == 0) {
                        let mut map = span::ResidencyMap::of(&*s);
                        left += span::trim_free(
                            &*s,
                            c,
                            keep,
                            epoch,
                            all,
                            &mut excess,
                            &mut purged,
                            &mut map,
                        );
                    }
                    s = next;
                }
            }
        }
    }
    local.medium_purged += purged;
    left
}

/// Drains every span the heap owns; empty ones go to the span cache. With `publish` (thread exit,
/// the fork takeover) the others are published for adoption, their free blocks purged first
/// unless `keep_pages` (the takeover, `config::TAKEOVER_KEEPS_PAGES`); otherwise the heap keeps
/// them (`collect`).
///
/// # Safety
/// `h` is the calling thread's live heap (or an exiting thread's, or a dead one the fork
/// takeover holds).
pub unsafe fn flush(h: &Heap, publish: bool, keep_pages: bool) {
    // SAFETY: per the contract.
    let local = unsafe { h.local_mut() };
    // Every empty span is released below, the retired current ones included.
    local.clear_retired(MEDIUM_CLASSES);
    if publish && MEDIUM_TRIM && !keep_pages {
        // The spans published below wait for an adopter with their free blocks resident: purge
        // those now (nobody takes them before an adoption).
        // SAFETY: per the contract.
        unsafe { purge_free(local, core::ptr::null_mut(), usize::MAX, true) };
    }
    #[allow(clippy::needless_range_loop)] // `c` indexes the owner lists and PUBLISHED alike
    for c in crate::size_class::NUM_CLASSES..TOTAL_CLASSES {
        let cs = local.slabs[c];
        for mut s in [cs.cur, cs.partial, cs.full] {
            while !s.is_null() {
                // SAFETY: spans on our lists are ours.
                unsafe {
                    let next = if (*s).local(|l| l.list) == ListKind::Current {
                        core::ptr::null_mut()
                    } else {
                        list::next(s)
                    };
                    if publish {
                        local.list_remove(c, s);
                        let bytes = SpanHeader::of_slab(&*s).as_ref().bytes;
                        match span::retire_or_publish(&*s, &PUBLISHED[c], &SPANS) {
                            Exit::Released => count_release(bytes),
                            Exit::Published => {
                                // `trace` reads only the span's data pointer, fixed for life.
                                (*s).trace(crate::trace::Event::Publish, s as usize, c);
                                GLOBALS.publishes.bump_shared();
                            }
                        }
                    } else {
                        (*s).drain_remote();
                        if (*s).used() == 0 {
                            local.list_remove(c, s);
                            release(&*s, purge::now());
                        }
                    }
                    s = next;
                }
            }
        }
    }
}

static RECLAIM_CURSOR: AtomicUsize = AtomicUsize::new(0);

/// Reclaim pass over the medium publish lists: examines up to `budget` published spans and gives
/// the emptied ones to the span cache.
pub fn reclaim(budget: usize) -> usize {
    reclaim_as(budget, true)
}

/// The reclaim pass of an exiting thread (`thread::on_thread_exit`): as `reclaim`, but with
/// adoption on it takes only the idle spans and leaves those with frees waiting to the adopters
/// (`config::EXIT_RECLAIM_LEAVES_FREED`).
pub fn reclaim_at_exit(budget: usize) -> usize {
    let adopters = ADOPT && env::adopt();
    reclaim_as(budget, !(EXIT_RECLAIM_LEAVES_FREED && adopters))
}

/// `reclaim` and `reclaim_at_exit`: `take_freed` also takes the spans with frees waiting.
fn reclaim_as(budget: usize, take_freed: bool) -> usize {
    let first = crate::size_class::NUM_CLASSES;
    let n = TOTAL_CLASSES - first;
    // ORDERING: Relaxed — a round-robin starting point; any value is correct.
    let start = RECLAIM_CURSOR.fetch_add(1, Ordering::Relaxed);
    let mut released = 0;
    let mut left = budget;
    for k in 0..n {
        if left == 0 {
            break;
        }
        let c = first + (start + k) % n;
        // SAFETY: reclaimed spans are unbound, empty and off every list; `release` unbinds again
        // (idempotent) before caching.
        let (seen, rel) = PUBLISHED[c].reclaim_filtered(&RECLAIMER, left, take_freed, |s| unsafe {
            s.trace(crate::trace::Event::Reclaim, s as *const Slab as usize, c);
            release(s, purge::now());
            GLOBALS.reclaims.bump_shared();
        });
        released += rel;
        left -= seen;
    }
    released
}
