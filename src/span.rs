//! Span box: the memory of the medium classes (above `MAX_SMALL_SIZE`, up to `MAX_MEDIUM_SIZE`).
//!
//! A span is one mapping of `span_bytes(c)` bytes (a power of two from `MIN_SPAN_BYTES`, aligned
//! to it), cut into blocks of one medium class. Its header holds a `Slab` — the same metadata,
//! owner word, remote queue and publish/adopt rules as a small slab — so a medium block is owned,
//! freed remotely, published and adopted exactly like a small one (see `front::medium`):
//! ```text
//! base (aligned to MIN_SPAN_BYTES) ── SpanHeader { magic, bytes, cache links, slab } ──
//!   blocks from base + SPAN_HEADER_BYTES: block i at data + i * class_size(c) ── … ── base + bytes
//! ```
//! Every `SUPERSLAB_SIZE` chunk of the span is registered to its header, so `free` finds it with
//! the same registry lookup as a SuperSlab (a different magic).
//!
//! Boundary: map a span, hand out a cached one, take back an empty one (`release`: unbind, then
//! cache — nothing else), decide at thread exit between caching and publishing
//! (`retire_or_publish`: drain first, then release or publish), purge cached ones. Spans are never unmapped: an empty span stays
//! registered (its slab unbound, so a stray free aborts) and waits in the cache, bucketed by size,
//! for any class of that span size. So the number of mappings is bounded by the peak medium heap
//! divided by `MIN_SPAN_BYTES`, never by the number of blocks.
//!
//! Invariants: `magic == SPAN_MAGIC` for as long as the span is mapped (forever); a span in the
//! cache is unbound (`class == NO_CLASS`, no owner) and held by the cache lock; `bytes` never
//! changes; `committed == Σ dirty of the spans on the hot stacks + reservations in flight`, at
//! most `KEEP_SPAN_BYTES_COMMITTED` except for spans whose purge the OS refused; a span's `dirty`
//! (the highest carve since its last purge) bounds the bytes of its blocks that may be resident,
//! and only those are purged; `dirty <= unzeroed` (the highest carve since its last zeroing
//! purge), and every byte of its data from `unzeroed` on reads as zero. The one exception: a span
//! backed by huge pages at birth (`collapse_fresh`, or `os::fault_huge` under
//! `config::SPAN_THP_BORN_HUGE`; `config::SPAN_THP_GROWTH`) starts with
//! `dirty` covering all its data (all of it may be resident) and `unzeroed` 0 (all of it zero).

use core::ptr::NonNull;

use crate::adopt::PublishList;
use crate::config::{
    KEEP_SPAN_BYTES_COMMITTED, MAX_SPAN_BYTES, MIN_SPAN_BYTES, PROFILE, PROF_OWNER_BITS,
    SPAN_AFFINE_SCAN, SPAN_CLASS_AFFINE, SPAN_HEADER_BYTES,
};
use crate::debug::Where;
use crate::lock::{ForkReset, Rank, SpinLock};
use crate::mutant;
use crate::os;
use crate::purge::{self, Stamp, Sweep};
use crate::slab::block::Block;
use crate::slab::slab::{Slab, NO_CLASS};
use crate::stats::GLOBALS;
use crate::sync::plain::{AtomicBool, AtomicU32, Ordering};
use crate::sync::{const_fn, UnsafeCell};

/// Magic of a span header.
pub const SPAN_MAGIC: u64 = 0x4841_4b4d_5350_414e; // "HAKMSPAN"

/// Cache bookkeeping, touched only under the cache lock.
pub struct SpanLinks {
    next: *mut SpanHeader,
    /// When the span entered the cache with committed pages (purge clock).
    emptied_at: Stamp,
    /// Bytes from the span's data start that may hold committed pages: the highest carve since
    /// its last purge (blocks beyond were never handed out, so their pages were never touched).
    dirty: usize,
    /// Bytes from the span's data start that may hold anything but zeroes: the highest carve
    /// since the span was mapped or last purged with `MADV_DONTNEED` (a `MADV_FREE` purge leaves
    /// the old contents readable until the kernel reclaims the pages, so it keeps this).
    /// `known_zero` reads it while the span is bound; it changes only while the span is held
    /// unbound (`SpanCache::put`, `purge_blocks`).
    unzeroed: usize,
    /// The class the span was last bound to (`NO_CLASS` if never): written by `release` while the
    /// caller holds the span, read under the cache lock (`SpanCache::take_for`).
    last_class: u32,
}

/// The header at the start of every span.
#[repr(C)]
pub struct SpanHeader {
    /// `SPAN_MAGIC`; first, as every registered region's (`registry::RegionHead`).
    pub magic: u64,
    /// Bytes of the mapping.
    pub bytes: usize,
    links: UnsafeCell<SpanLinks>,
    /// The profiler's marks of sampled blocks (`SampledBits`): zero when no sampled block is live
    /// (and none was freed by a thread that did not hold the span since its holder last handed
    /// the block out), so a free tests it with one load of a line it reads anyway.
    pub sampled: SampledBits,
    /// The span has filled up once (`count_fill`): later fills are not counted again.
    filled: AtomicBool,
    /// Non-zero: the span was backed by huge pages at birth (`collapse_fresh`) and has neither
    /// filled nor gone back to the cache since: `count_fill` (a hit) or `release_as` (a miss)
    /// judges the collapse and clears it (`config::SPAN_THP_MISS_BACKOFF`,
    /// `config::SPAN_THP_UNFILLED_CAP`). The value is the `UNFILLED_GEN` the span was counted in:
    /// a span of an older generation no longer holds a slot of `UNFILLED`
    /// (`config::SPAN_THP_UNFILLED_EXPIRY`). Only the span's holder reads and writes it, as
    /// `filled`.
    collapsed: AtomicU32,
    /// The span's metadata as a slab of its medium class.
    pub slab: Slab,
}

const _: () = assert!(core::mem::size_of::<SpanHeader>() <= SPAN_HEADER_BYTES);
const _: () = assert!(
    (MIN_SPAN_BYTES - SPAN_HEADER_BYTES) / (crate::config::MAX_SMALL_SIZE + 1) <= 64,
    "`sampled` has a bit for every block of the smallest medium class's smallest span"
);

/// Bit `i` of a span: block `i` is a sampled block (`front::medium::mark_sampled`).
///
/// With `PROF_OWNER_BITS` two words. `held`: written only by the span's holder, with a plain
/// load and store (no locked instruction): it sets a block's bit before handing the block out
/// (`mark_held`) and clears it when it frees the block itself (`clear_freed`; also when its
/// `realloc` of its own block in place redraws it unsampled, `front::medium::resample_in_place`:
/// the block then is live as if handed out unsampled). `remote`: a freer
/// that does not hold the span sets its block's bit there (`fetch_or`, Relaxed) before pushing
/// the block, and leaves `held` alone; the holder merges `remote` into `held` (takes it, clears
/// those bits) before it hands out a block while `remote` is non-zero (`take_block`), and
/// clears both when it releases the span. Invariant: a *live* block's bit in `held` is set iff
/// it was handed out sampled (a stale bit belongs to a block that waits in the remote queue or
/// on the free list, and the merge clears it before that block is handed out again); `held` is
/// zero when no bit is set, so a free tests one word.
///
/// Why the holder's plain store loses nobody's bit: every writer of `held` is the holder, and a
/// change of holder (bind, adopt, the cache) orders the old holder's stores before the new one's
/// loads as for the slab's local state. A freer's load of its own bit sees the mark: the mark
/// was stored before the block was handed out and the pointer reached the freer through a
/// hand-off that orders it (as for the block's contents); the holder cannot clear it while the
/// block is out. The merge sees a remote freer's bit before that block is handed out again: the
/// `fetch_or` precedes the block's push (Release) in the freer's program order and the holder's
/// drain (Acquire) precedes the hand-out, so the `swap` after the drain reads it.
/// Backout (`--cfg hakmem_no_prof_owner_bits`): `held` alone, `fetch_or` to mark, `fetch_and`
/// at every free. Model: loom_tests/span.rs `sampled_bits_remote_free_vs_mark`.
pub struct SampledBits {
    held: crate::sync::AtomicU64,
    remote: crate::sync::AtomicU64,
}

impl SampledBits {
    fn new() -> Self {
        Self {
            held: crate::sync::AtomicU64::new(0),
            remote: crate::sync::AtomicU64::new(0),
        }
    }

    /// The holder's word (any thread): zero when no block of the span is marked.
    #[inline(always)]
    pub fn word(&self) -> u64 {
        // ORDERING: Relaxed — a block's own bit is ordered by the hand-off of the block (see the
        // type); other bits are not read for their meaning.
        self.held.load(Ordering::Relaxed)
    }

    /// Marks a block the caller holds the span of and is about to hand out.
    #[inline]
    pub fn mark_held(&self, bit: u64) {
        if PROF_OWNER_BITS {
            // ORDERING: Relaxed — only the holder writes `held` (see the type).
            self.held.store(self.word() | bit, Ordering::Relaxed);
        } else {
            // ORDERING: Relaxed — see `word`; an RMW: other blocks' bits change concurrently.
            self.held.fetch_or(bit, Ordering::Relaxed);
        }
    }

    /// The sampled block of `bit` is being freed; `held`: by the span's holder (its bit is
    /// cleared), else by another thread (its bit goes to `remote`, for the holder's merge).
    #[inline]
    pub fn clear_freed(&self, bit: u64, held: bool) {
        if !PROF_OWNER_BITS {
            // ORDERING: Relaxed — only the freeing thread clears its block's bit; the free puts
            // the block back on a list after this, and that hand-off orders it before the next
            // mark.
            self.held.fetch_and(!bit, Ordering::Relaxed);
        } else if held || mutant::SAMPLED_REMOTE_PLAIN_CLEAR {
            // ORDERING: Relaxed — only the holder writes `held` (see the type).
            self.held.store(self.word() & !bit, Ordering::Relaxed);
        } else {
            // ORDERING: Relaxed — the block's push (Release) follows in this thread, and the
            // holder's drain of it (Acquire) precedes its merge (see the type).
            self.remote.fetch_or(bit, Ordering::Relaxed);
        }
    }

    /// The holder of `span` is about to hand out a block: merges the bits of blocks freed by
    /// other threads, if any, so that no stale bit marks the block.
    #[inline(always)]
    fn merge_remote(span: &SpanHeader) {
        // ORDERING: Relaxed — see the type: a bit this load misses belongs to a block not yet
        // drained, which is not the one handed out.
        // (Without the profiler no bit is ever set: nothing to load.)
        if PROFILE && PROF_OWNER_BITS && span.sampled.remote.load(Ordering::Relaxed) != 0 {
            span.sampled.merge_remote_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn merge_remote_slow(&self) {
        // ORDERING: Relaxed — see `merge_remote`.
        let r = self.remote.swap(0, Ordering::Relaxed);
        // ORDERING: Relaxed — only the holder writes `held` (see the type).
        self.held.store(self.word() & !r, Ordering::Relaxed);
    }

    /// The holder releases the span with nothing out: no bit means anything any more.
    fn reset(&self) {
        if PROF_OWNER_BITS {
            // ORDERING: Relaxed — with nothing out nobody else writes either word (every remote
            // `fetch_or` preceded its block's push, drained before this); the span cache's lock
            // orders these stores before the next holder's loads.
            self.held.store(0, Ordering::Relaxed);
            self.remote.store(0, Ordering::Relaxed);
        }
    }
}

impl SpanHeader {
    /// Writes a fresh header at `base` and returns it.
    ///
    /// # Safety
    /// `base` is the start of a zeroed reservation of `bytes`, owned by the caller.
    pub unsafe fn init(base: NonNull<u8>, bytes: usize) -> NonNull<SpanHeader> {
        let span = base.cast::<SpanHeader>();
        // SAFETY: the reservation is ours and larger than the header (const assert).
        unsafe {
            span.as_ptr().write(SpanHeader {
                magic: SPAN_MAGIC,
                bytes,
                links: UnsafeCell::new(SpanLinks {
                    next: core::ptr::null_mut(),
                    emptied_at: 0,
                    dirty: 0,
                    unzeroed: 0,
                    last_class: NO_CLASS,
                }),
                sampled: SampledBits::new(),
                filled: AtomicBool::new(false),
                collapsed: AtomicU32::new(0),
                slab: Slab::new(base.as_ptr().wrapping_add(SPAN_HEADER_BYTES)),
            })
        };
        span
    }

    /// The span whose metadata is `slab` (a span's slab).
    ///
    /// # Safety
    /// `slab` is the `slab` field of a `SpanHeader`.
    #[inline]
    pub unsafe fn of_slab(slab: &Slab) -> NonNull<SpanHeader> {
        let p = (slab as *const Slab)
            .wrapping_byte_sub(core::mem::offset_of!(SpanHeader, slab))
            .cast::<SpanHeader>()
            .cast_mut();
        // SAFETY: derived from a non-null reference.
        unsafe { NonNull::new_unchecked(p) }
    }

    #[inline]
    pub fn base(&self) -> usize {
        self as *const Self as usize
    }

    /// Where a pointer into this span sits, for fail-fast messages (`superslab` names the span).
    pub fn whereis(&self, ptr: usize, class: Option<usize>) -> Where {
        Where {
            ptr,
            superslab: Some(self.base()),
            slab: None,
            class,
            generation: None,
        }
    }
}

const BUCKETS: usize = (MAX_SPAN_BYTES / MIN_SPAN_BYTES).trailing_zeros() as usize + 1;

#[inline]
fn bucket(bytes: usize) -> usize {
    (bytes / MIN_SPAN_BYTES).trailing_zeros() as usize
}

struct Lists {
    /// Cached spans whose blocks may hold committed pages, most recently emptied first.
    hot: [*mut SpanHeader; BUCKETS],
    /// Cached spans whose blocks were purged.
    cold: [*mut SpanHeader; BUCKETS],
    /// `Σ dirty` of the spans on `hot`.
    committed: usize,
}

// SAFETY: the raw pointers are only followed under the cache lock.
unsafe impl Send for Lists {}

/// Fork: a holder that did not survive the fork may have been relinking a stack; the child
/// abandons every cached span (they stay mapped and registered, unbound, so a stray free still
/// aborts): a leak in the child only.
impl ForkReset for Lists {
    fn reset_after_fork(&mut self) {
        self.hot = [core::ptr::null_mut(); BUCKETS];
        self.cold = [core::ptr::null_mut(); BUCKETS];
        self.committed = 0;
    }
}

/// Empty spans waiting for reuse, two stacks per span size (committed, purged). The lock makes its
/// holder the holder of every span on it (as the pool lock does for free slabs).
///
/// Purging follows the decay clock (`purge`): a span entering the cache is stamped and purged by a
/// later sweep once it has stayed there for the purge delay — at once when the delay is 0, or
/// when the committed bytes would exceed `KEEP_SPAN_BYTES_COMMITTED`. A purge the OS refuses
/// leaves the span committed and stamped, retried by the next sweep.
pub struct SpanCache {
    lists: SpinLock<Lists>,
}

/// Pops the first span of `list`.
///
/// # Safety
/// The cache lock is held and `list` is one of its stacks.
unsafe fn pop(list: &mut *mut SpanHeader) -> Option<NonNull<SpanHeader>> {
    let span = NonNull::new(*list)?;
    // SAFETY: under the lock we hold every span on the lists.
    *list = unsafe {
        span.as_ref()
            .links
            .with_mut(|k| core::mem::replace(&mut (*k).next, core::ptr::null_mut()))
    };
    Some(span)
}

/// Unlinks from `list` the first span last bound to `class` among its first `SPAN_AFFINE_SCAN`.
///
/// # Safety
/// The cache lock is held and `list` is one of its stacks.
unsafe fn unlink_last_bound(list: &mut *mut SpanHeader, class: u32) -> Option<NonNull<SpanHeader>> {
    let mut prev: Option<NonNull<SpanHeader>> = None;
    let mut cur = *list;
    for _ in 0..SPAN_AFFINE_SCAN {
        let span = NonNull::new(cur)?;
        // SAFETY: under the lock we hold every span on the lists.
        let (next, last) = unsafe { span.as_ref().links.with(|k| ((*k).next, (*k).last_class)) };
        if last == class {
            // SAFETY: as above (`prev` is on the list too).
            unsafe {
                match prev {
                    None => *list = next,
                    Some(p) => p.as_ref().links.with_mut(|k| (*k).next = next),
                }
                span.as_ref()
                    .links
                    .with_mut(|k| (*k).next = core::ptr::null_mut());
            }
            return Some(span);
        }
        prev = Some(span);
        cur = next;
    }
    None
}

/// Pushes `span` on `list`.
///
/// # Safety
/// The cache lock is held, `list` is one of its stacks and the caller holds `span`.
unsafe fn push(list: &mut *mut SpanHeader, span: NonNull<SpanHeader>) {
    // SAFETY: per the contract.
    unsafe { span.as_ref().links.with_mut(|k| (*k).next = *list) };
    *list = span.as_ptr();
}

impl SpanCache {
    const_fn! {
        pub fn new() -> Self {
            Self {
                lists: SpinLock::new(
                    Rank::Span,
                    Lists {
                        hot: [core::ptr::null_mut(); BUCKETS],
                        cold: [core::ptr::null_mut(); BUCKETS],
                        committed: 0,
                    },
                ),
            }
        }
    }

    /// Takes a cached span of `bytes` (a committed one first), or `None`: the models' entry
    /// (the medium tier asks for a class, `take_for`).
    #[cfg(hakmem_loom)]
    pub fn take(&self, bytes: usize) -> Option<NonNull<SpanHeader>> {
        self.take_for(bytes, NO_CLASS)
    }

    /// Takes a cached span of `bytes` for class `class`: with `config::SPAN_CLASS_AFFINE`, a
    /// committed one last bound to `class` among the `SPAN_AFFINE_SCAN` most recent first; then
    /// the most recent committed one, then a purged one last bound to `class`, then any purged
    /// one (`NO_CLASS`: only the most recent committed, then purged).
    pub fn take_for(&self, bytes: usize, class: u32) -> Option<NonNull<SpanHeader>> {
        self.lists.with(|l| {
            let b = bucket(bytes);
            if SPAN_CLASS_AFFINE && class != NO_CLASS {
                // SAFETY: under the lock.
                if let Some(span) = unsafe { unlink_last_bound(&mut l.hot[b], class) } {
                    // SAFETY: under the lock we hold the span.
                    l.committed -= unsafe { span.as_ref().links.with(|k| (*k).dirty) };
                    return Some(span);
                }
            }
            // SAFETY: under the lock.
            if let Some(span) = unsafe { pop(&mut l.hot[b]) } {
                // SAFETY: under the lock we hold the span.
                l.committed -= unsafe { span.as_ref().links.with(|k| (*k).dirty) };
                return Some(span);
            }
            if SPAN_CLASS_AFFINE && class != NO_CLASS {
                // A purged span last bound to `class` (`SPAN_PURGE_FIRST_EMPTY` purges a class's
                // first emptied span at once): its class still gets it back first.
                // SAFETY: under the lock.
                if let Some(span) = unsafe { unlink_last_bound(&mut l.cold[b], class) } {
                    return Some(span);
                }
            }
            // SAFETY: under the lock.
            unsafe { pop(&mut l.cold[b]) }
        })
    }

    /// Whether a committed span of `bytes` waits in the cache (`config::SPAN_REBIND_RETIRED`: a
    /// heap rebinds one of its own retired spans only when none does).
    pub fn has_committed(&self, bytes: usize) -> bool {
        self.lists.with(|l| !l.hot[bucket(bytes)].is_null())
    }

    /// Takes a committed cached span of `bytes` last bound to `class`, among the
    /// `SPAN_AFFINE_SCAN` most recent: its dirty bytes are the blocks that class carved there,
    /// resident and at the same boundaries (`config::CACHE_BEFORE_CARVE`). `None` if there is
    /// none; never a purged span or one of another class.
    pub fn take_resident(&self, bytes: usize, class: u32) -> Option<NonNull<SpanHeader>> {
        self.lists.with(|l| {
            // SAFETY: under the lock.
            let span = unsafe { unlink_last_bound(&mut l.hot[bucket(bytes)], class) }?;
            // SAFETY: under the lock we hold the span.
            l.committed -= unsafe { span.as_ref().links.with(|k| (*k).dirty) };
            Some(span)
        })
    }

    /// Caches an empty, unbound span, empty since `emptied_at`, whose last binding carved
    /// `carved` bytes: committed and stamped, or purged first (outside the lock: nobody else can
    /// reach the span yet) when the delay is 0 or the committed budget is spent. The budget counts
    /// the bytes that may be dirty (`SpanLinks::dirty`), not the span's length: a 32 MiB span
    /// that served one block costs that block. `purge_now` purges it whatever the delay and the
    /// budget (`config::SPAN_PURGE_FIRST_EMPTY`).
    ///
    /// # Safety
    /// The caller holds `span` (it is unbound, nothing is out) and does not touch it afterwards.
    pub unsafe fn put(
        &self,
        span: NonNull<SpanHeader>,
        emptied_at: Stamp,
        carved: usize,
        purge_now: bool,
    ) {
        // SAFETY: the caller holds the span; `bytes` never changes.
        let bytes = unsafe { span.as_ref().bytes };
        // SAFETY: the caller holds the span; nobody else reads its links until it is cached.
        let dirty = unsafe {
            span.as_ref().links.with_mut(|k| {
                (*k).dirty = (*k).dirty.max(carved);
                (*k).unzeroed = (*k).unzeroed.max(carved);
                (*k).dirty
            })
        };
        let at_once = purge_now || purge::delay() == Some(0);
        let keep = !at_once
            && self.lists.with(|l| {
                let keep = KEEP_SPAN_BYTES_COMMITTED
                    .checked_sub(l.committed)
                    .is_some_and(|room| room >= dirty);
                if keep {
                    // Reserve the budget now, so racing callers cannot both take the last of it.
                    l.committed += dirty;
                }
                keep
            });
        // SAFETY: the span is held by the caller and holds nothing anyone reads.
        let purged = !keep && unsafe { purge_blocks(span) };
        self.lists.with(|l| {
            let b = bucket(bytes);
            // SAFETY: the lock makes us the holder of the span from here on.
            unsafe {
                if purged {
                    push(&mut l.cold[b], span);
                } else {
                    if !keep {
                        // The OS refused the purge: the span stays committed, for a retry.
                        l.committed += dirty;
                    }
                    span.as_ref()
                        .links
                        .with_mut(|k| (*k).emptied_at = emptied_at);
                    push(&mut l.hot[b], span);
                }
            }
        });
    }

    /// Purges the committed spans `sweep` covers (`Sweep::All` for `collect`). Returns the bytes
    /// purged.
    pub fn purge(&self, sweep: Sweep) -> usize {
        let mut purged = 0;
        for b in 0..BUCKETS {
            if mutant::SPAN_PURGE_ON_LIST {
                // Mutant: the newest committed span is purged while it is still on the list
                // (a taker may hold it and write its blocks by now).
                if let Some(s) = NonNull::new(self.lists.with(|l| l.hot[b])) {
                    // SAFETY: none — this is the bug the loom model must find.
                    unsafe { purge_blocks(s) };
                }
            }
            // Detach the covered spans, purge them outside the lock, put them back on the purged
            // stack: while detached nobody can take them.
            let mut chain = self.lists.with(|l| {
                let mut kept: *mut SpanHeader = core::ptr::null_mut();
                let mut detached: *mut SpanHeader = core::ptr::null_mut();
                // SAFETY: under the lock we hold every cached span.
                unsafe {
                    while let Some(s) = pop(&mut l.hot[b]) {
                        if sweep.covers(s.as_ref().links.with(|k| (*k).emptied_at)) {
                            l.committed -= s.as_ref().links.with(|k| (*k).dirty);
                            push(&mut detached, s);
                        } else {
                            push(&mut kept, s);
                        }
                    }
                    // Restore the kept ones in their order (newest first).
                    while let Some(s) = pop(&mut kept) {
                        push(&mut l.hot[b], s);
                    }
                }
                detached
            });
            // SAFETY: detached spans are ours alone until pushed back.
            while let Some(s) = unsafe { pop(&mut chain) } {
                // SAFETY: as above.
                let dirty = unsafe { s.as_ref().links.with(|k| (*k).dirty) };
                // SAFETY: as above; nothing in their blocks is read again.
                let ok = unsafe { purge_blocks(s) };
                // SAFETY: as above.
                let bytes = unsafe { s.as_ref().bytes };
                self.lists.with(|l| {
                    // SAFETY: under the lock again.
                    unsafe {
                        if ok {
                            purged += bytes;
                            push(&mut l.cold[b], s);
                        } else {
                            l.committed += dirty;
                            push(&mut l.hot[b], s);
                        }
                    }
                });
            }
        }
        purged
    }
}

impl Default for SpanCache {
    fn default() -> Self {
        Self::new()
    }
}

/// Purges the pages of a span's blocks that may be dirty (`SpanLinks::dirty`, rounded up to
/// pages; the header page stays) and marks it clean. False if the OS refused.
///
/// # Safety
/// The caller holds the span (its links too) and nothing in its blocks will be read as data
/// again.
unsafe fn purge_blocks(span: NonNull<SpanHeader>) -> bool {
    // SAFETY: the caller holds the span; `bytes` never changes.
    let (bytes, dirty) = unsafe {
        (
            span.as_ref().bytes,
            span.as_ref().links.with(|k| (*k).dirty),
        )
    };
    let len = dirty
        .next_multiple_of(crate::config::PAGE_SIZE)
        .min(bytes - SPAN_HEADER_BYTES);
    if len == 0 {
        return true;
    }
    let data = span.as_ptr().cast::<u8>().wrapping_add(SPAN_HEADER_BYTES);
    // SAFETY: per the contract; the range lies inside the span's mapping.
    let ok = unsafe { purge::pages(NonNull::new_unchecked(data), len) };
    if ok {
        GLOBALS.span_bytes_decommitted.add_shared(len as u64);
        // `MADV_DONTNEED` (the default) zeroes the pages; `MADV_FREE` may leave them as they were.
        let zeroed = !crate::env::madv_free();
        // SAFETY: per the contract.
        unsafe {
            span.as_ref().links.with_mut(|k| {
                (*k).dirty = 0;
                if zeroed {
                    (*k).unzeroed = 0;
                }
            })
        };
    }
    ok
}

/// Whether block `b`, just taken by `take_block` from span slab `slab` whose `carved_end` was
/// `carved_before` before the take, is all zeroes apart from the words the carve and the hand-out
/// write (`Block::set_next`'s link, the freed mark; `front::medium::alloc_zeroed` clears those):
/// it was carved by this take (a block from the free list or the pending chain lies below
/// `carved_before`) and lies past everything carved since the span's pages were last zeroed.
///
/// # Safety
/// The caller holds `slab` (a span's slab, bound to the caller's heap): nobody writes the span's
/// links while it is bound, and the last writer handed the span over through the cache lock.
#[inline]
pub unsafe fn known_zero(slab: &Slab, b: NonNull<Block>, carved_before: usize) -> bool {
    // SAFETY: per the contract.
    let span = unsafe { SpanHeader::of_slab(slab).as_ref() };
    let off = b.as_ptr() as usize - (span.base() + SPAN_HEADER_BYTES);
    // SAFETY: per the contract (a read; no writer while the span is bound).
    off >= carved_before && off >= unsafe { span.links.with(|k| (*k).unzeroed) }
}

/// Whether the next block `slab` carves lies past what its span may hold resident from earlier
/// bindings (`SpanLinks::dirty`): a fresh carve faults its pages in.
///
/// # Safety
/// As `known_zero`: the caller holds `slab`, a span's slab bound to the caller's heap.
#[inline]
pub unsafe fn carve_is_fresh(slab: &Slab) -> bool {
    // SAFETY: per the contract.
    let span = unsafe { SpanHeader::of_slab(slab).as_ref() };
    // SAFETY: per the contract (the holder's own field; a read of the links, as `known_zero`).
    unsafe { slab.local(|l| l.carved_end as usize) >= span.links.with(|k| (*k).dirty) }
}

// ---- trim marks (`config::MEDIUM_TRIM`, `front::medium::trim`) ----------------------------------
// A free medium block carries, besides its link (word 0) and freed mark (word 1), the trim epoch
// of its holder when it reached the free list (word 2: written by a local free or a trim's drain)
// and the clean tag (word 3: `CLEAN` once a trim found its pages past the first nearly untouched,
// `PURGED` once it purged them, word 2 then holding the trim's epoch (`config::TRIM_BACKOFF`);
// cleared by every free, local or remote, so a block handed out and freed again is not clean). All four lie in the block's first page, which a trim never purges. A block a
// remote freer queued and a refill's drain moved carries in word 2 whatever the program left
// there: a trim takes it for old, which only changes when it is purged.

/// The clean tag (word 3 of a free medium block).
const CLEAN: usize = 0x4841_4b4d_434c_454e; // "HAKMCLEN"
/// The clean tag of a block a trim purged (word 2 then holds the trim's epoch).
const PURGED: usize = 0x4841_4b4d_5055_5247; // "HAKMPURG"

/// Whether free block `b`, just taken off its span's free list by its holder, was purged by the
/// trim that began epoch `epoch` or the one before (`config::TRIM_BACKOFF`): the program is about
/// to fault its pages past the first back in. A block carved from a span whose last binding left
/// such a tag reads as one too, which it is (the span cache would have zeroed the words had it
/// purged the span since).
///
/// # Safety
/// The caller holds the block's span and `b` is a medium block of it not yet handed out.
#[inline(always)]
pub unsafe fn purged_since(b: NonNull<Block>, epoch: u64) -> bool {
    open_words(b, true);
    // SAFETY: per the contract; words 2 and 3 lie in the block's first page.
    let hit =
        unsafe { word(b, 3).read() == PURGED && epoch.wrapping_sub(word(b, 2).read() as u64) <= 1 };
    open_words(b, false);
    hit
}

/// The bytes of the free blocks of `s` (class `c`) that the trim beginning epoch `epoch` or the
/// one before purged (`purged_since`): a heap giving its retired span to another class
/// (`config::SPAN_REBIND_RETIRED`) counts them as taken back (`config::TRIM_BACKOFF`), since the
/// new class carves over them at other boundaries, where `purged_since` cannot see the tags.
///
/// # Safety
/// The caller holds `s`, a span's slab of class `c` with nothing out, bound to its heap.
pub unsafe fn purged_free_bytes(s: &Slab, c: usize, epoch: u64) -> usize {
    let size = crate::size_class::class_size(c);
    // SAFETY: per the contract.
    let (mut cur, cap) = unsafe { s.local(|l| (l.free, l.capacity as usize)) };
    let mut bytes = 0;
    // The free list holds at most `cap` blocks; a longer walk is a corrupted list, left to the
    // slab's own checks.
    for _ in 0..cap {
        let Some(b) = NonNull::new(cur) else { break };
        // SAFETY: blocks on the local free list were linked by the holder.
        cur = unsafe { Block::next(b) };
        // SAFETY: a free block of the span, which the caller holds; not handed out.
        if unsafe { purged_since(b, epoch) } {
            bytes += size;
        }
    }
    bytes
}

/// Word `i` (2 or 3) of free block `b`.
#[inline(always)]
fn word(b: NonNull<Block>, i: usize) -> *mut usize {
    b.as_ptr().cast::<usize>().wrapping_add(i)
}

/// Opens (or closes) words 2 and 3 of a free block for memcheck (`valgrind`).
#[inline(always)]
fn open_words(b: NonNull<Block>, open: bool) {
    let p = word(b, 2).cast::<u8>();
    if open {
        crate::valgrind::make_defined(p, 2 * core::mem::size_of::<usize>());
    } else {
        crate::valgrind::make_noaccess(p, 2 * core::mem::size_of::<usize>());
    }
}

/// Marks block `b`, just freed (or drained) by its holder onto its span's free list, as freed in
/// the holder's trim epoch `epoch` and not clean.
///
/// # Safety
/// The caller holds the block's span and `b` is a free medium block of it (at least 32 bytes).
#[inline(always)]
pub unsafe fn note_free(b: NonNull<Block>, epoch: u64) {
    open_words(b, true);
    // SAFETY: per the contract; words 2 and 3 lie in the block.
    unsafe {
        word(b, 2).write(epoch as usize);
        word(b, 3).write(0);
    }
    open_words(b, false);
}

/// Clears the clean tag of block `b`, being freed by a thread that does not own its span (the
/// owner's refill may drain it onto the free list without marking it): a block handed out and
/// freed again is not clean.
///
/// # Safety
/// The caller is freeing `b`, a medium block, and has not pushed it yet.
#[inline(always)]
pub unsafe fn clear_clean(b: NonNull<Block>) {
    open_words(b, true);
    // SAFETY: per the contract; word 3 lies in the block.
    unsafe { word(b, 3).write(0) };
    open_words(b, false);
}

/// Drains the remote queue of span slab `s` onto its free list and marks the blocks it drained
/// (the chain is spliced in front of the free list: the blocks up to the old first one) as freed
/// in epoch `epoch`. Returns how many.
///
/// # Safety
/// The caller holds `s`, a span's slab.
pub unsafe fn drain_young(s: &Slab, epoch: u64) -> usize {
    // SAFETY: per the contract.
    let before = unsafe { s.local(|l| l.free) };
    // SAFETY: per the contract.
    let n = unsafe { s.drain_remote() };
    // SAFETY: per the contract.
    let mut cur = unsafe { s.local(|l| l.free) };
    for _ in 0..n {
        let Some(b) = NonNull::new(cur) else { break };
        if cur == before {
            break;
        }
        // SAFETY: per the contract; a block of the span on its local free list.
        unsafe {
            note_free(b, epoch);
            cur = Block::next(b);
        }
    }
    n
}

/// `os::resident_pages` of a range of any length (in pieces the os box answers for).
///
/// # Safety
/// The range is page-aligned and lies inside one of our spans.
unsafe fn resident_pages(p: NonNull<u8>, len: usize) -> Option<usize> {
    const PIECE: usize = os::RESIDENT_MAX_PAGES * crate::config::PAGE_SIZE;
    let mut n = 0;
    let mut off = 0;
    while off < len {
        let piece = (len - off).min(PIECE);
        // SAFETY: per the contract, a piece of the range.
        n += unsafe { os::resident_pages(NonNull::new_unchecked(p.as_ptr().add(off)), piece) }?;
        off += piece;
    }
    Some(n)
}

/// Which pages of one span are resident, asked of the OS a `os::RESIDENT_MAX_PAGES` piece at a
/// time and only for the pieces a count touches (`config::TRIM_RESIDENCY_MAP`): a trim's walk over
/// a span's free blocks makes one `mincore` per piece instead of one per block. A snapshot: the
/// pages of a block the walk purges afterwards still read resident, which a walk that visits each
/// block once never asks again.
pub struct ResidencyMap {
    /// The span's base (aligned to `MIN_SPAN_BYTES`) and length.
    base: usize,
    bytes: usize,
    /// Index of the piece `map` holds, or `usize::MAX` for none.
    piece: usize,
    /// Whether the OS answered for that piece.
    ok: bool,
    map: [u8; os::RESIDENT_MAX_PAGES],
}

impl ResidencyMap {
    const PIECE: usize = os::RESIDENT_MAX_PAGES * crate::config::PAGE_SIZE;

    /// An empty map of the span whose metadata is `slab` (nothing asked yet).
    ///
    /// # Safety
    /// `slab` is a span's slab.
    pub unsafe fn of(slab: &Slab) -> Self {
        // SAFETY: per the contract; `bytes` never changes.
        let span = unsafe { SpanHeader::of_slab(slab).as_ref() };
        Self {
            base: span.base(),
            bytes: span.bytes,
            piece: usize::MAX,
            ok: false,
            map: [0; os::RESIDENT_MAX_PAGES],
        }
    }

    /// Resident pages of `[p, p + len)`, page-aligned and inside the span; `None` if the OS could
    /// not say for a piece of it.
    ///
    /// # Safety
    /// The range is page-aligned and lies inside the span.
    unsafe fn count(&mut self, p: usize, len: usize) -> Option<usize> {
        use crate::config::PAGE_SIZE;
        debug_assert!(p >= self.base && p + len <= self.base + self.bytes);
        let end = p + len;
        let mut at = p;
        let mut n = 0;
        while at < end {
            let k = (at - self.base) / Self::PIECE;
            let start = self.base + k * Self::PIECE;
            let piece_len = Self::PIECE.min(self.bytes - k * Self::PIECE);
            if self.piece != k {
                self.piece = k;
                // SAFETY: a page-aligned piece of the span (per the contract), one byte of `map`
                // per page.
                self.ok = unsafe {
                    os::residency(
                        NonNull::new_unchecked(start as *mut u8),
                        piece_len,
                        &mut self.map[..piece_len / PAGE_SIZE],
                    )
                };
            }
            if !self.ok {
                return None;
            }
            let to = end.min(start + piece_len);
            n += self.map[(at - start) / PAGE_SIZE..(to - start) / PAGE_SIZE]
                .iter()
                .filter(|&&b| b & 1 != 0)
                .count();
            at = to;
        }
        Some(n)
    }
}

/// Resident pages a free block needs (past its first) for `trim_free` to purge it, and at least
/// half of them.
const MIN_TRIM_PAGES: usize = 16;

/// One pass of a heap's trim over span slab `s` of class `c`: walks its local free list and,
/// while `excess` (the bytes the heap still wants purged) is above zero, purges the pages past
/// the first of each free block that is not clean — not `keep` (the block being freed), and
/// unless `all`, only blocks freed before epoch `epoch - 1` (free through a whole epoch) — and
/// tags it clean. A block with fewer than half (or `MIN_TRIM_PAGES`) of its pages past the first
/// resident (a program that writes only part of its blocks, such as their ends) is tagged clean
/// without a purge: the system call (and the TLB shootdown a multithreaded process pays for it)
/// would cost more than those pages are worth. Returns the bytes of the free blocks left not
/// clean. The bytes it purged are added to `purged`, and a purged block is tagged with `epoch`
/// (`purged_since`). A purge the OS refuses leaves the block as it was (counted by the os box). The
/// resident pages are counted from `map` (`config::TRIM_RESIDENCY_MAP`; not at all for a block with fewer
/// than `MIN_TRIM_PAGES` pages past its first, which is never purged), else asked per block.
///
/// # Safety
/// The caller holds `s`, a span's slab of class `c` bound to its heap; nothing on its free list
/// is read as data again before it is handed out; `map` is `s`'s span's (`ResidencyMap::of`).
// The walk's inputs and its two running totals (`excess`, `purged`) are the trim's, passed
// through: a struct for them would be built at its one call site only to be taken apart here.
#[allow(clippy::too_many_arguments)]
pub unsafe fn trim_free(
    s: &Slab,
    c: usize,
    keep: *mut Block,
    epoch: u64,
    all: bool,
    excess: &mut usize,
    purged: &mut usize,
    map: &mut ResidencyMap,
) -> usize {
    use crate::config::PAGE_SIZE;
    let size = crate::size_class::class_size(c);
    // SAFETY: per the contract.
    let (mut cur, cap) = unsafe { s.local(|l| (l.free, l.capacity as usize)) };
    let mut left = 0;
    // The free list holds at most `cap` blocks; a longer walk is a corrupted list, left to the
    // slab's own checks.
    for _ in 0..cap {
        let Some(b) = NonNull::new(cur) else { break };
        // SAFETY: blocks on the local free list were linked by the holder.
        cur = unsafe { Block::next(b) };
        open_words(b, true);
        // SAFETY: a free block of the span, ours; words 2 and 3 lie in its first page.
        let (freed_in, tag) = unsafe { (word(b, 2).read() as u64, word(b, 3).read()) };
        open_words(b, false);
        if tag == CLEAN || tag == PURGED {
            continue;
        }
        let old = epoch.wrapping_sub(freed_in) >= 2;
        if *excess == 0 || b.as_ptr() == keep || !(all || old) {
            left += size;
            continue;
        }
        // SAFETY: medium blocks are page-aligned and span more than a page.
        let interior = unsafe { NonNull::new_unchecked(b.as_ptr().cast::<u8>().add(PAGE_SIZE)) };
        let pages = (size - PAGE_SIZE) / PAGE_SIZE;
        // SAFETY: the block's pages past the first, inside the span; nothing in them is read as
        // data again.
        let resident = if crate::config::TRIM_RESIDENCY_MAP {
            if pages < MIN_TRIM_PAGES {
                // Too few pages to purge whatever the answer: not worth asking.
                Some(0)
            } else {
                // SAFETY: as above.
                unsafe { map.count(interior.as_ptr() as usize, size - PAGE_SIZE) }
            }
        } else {
            // SAFETY: as above.
            unsafe { resident_pages(interior, size - PAGE_SIZE) }
        }
        .is_none_or(|n| n >= MIN_TRIM_PAGES.max(pages / 2));
        // SAFETY: as above.
        if resident && !unsafe { purge::pages(interior, size - PAGE_SIZE) } {
            left += size;
            continue;
        }
        if resident {
            GLOBALS
                .medium_bytes_trimmed
                .add_shared((size - PAGE_SIZE) as u64);
            *purged += size - PAGE_SIZE;
        }
        open_words(b, true);
        // SAFETY: as above.
        unsafe {
            if resident {
                word(b, 2).write(epoch as usize);
                word(b, 3).write(PURGED);
            } else {
                word(b, 3).write(CLEAN);
            }
        }
        open_words(b, false);
        *excess = excess.saturating_sub(size);
    }
    left
}

/// Gives back an empty span its holder is done with, empty since `emptied_at` (the purge clock's
/// stamp): unbind, then cache. Nothing else.
///
/// # Safety
/// The caller holds the span's slab, nothing is out and it is on no owner or publish list.
pub unsafe fn release(cache: &SpanCache, slab: &Slab, emptied_at: Stamp) {
    // SAFETY: forwarded contract.
    unsafe { release_as(cache, slab, emptied_at, false) }
}

/// As `release`, the span purged before it is cached whatever the delay
/// (`config::SPAN_PURGE_FIRST_EMPTY`).
///
/// # Safety
/// As `release`.
pub unsafe fn release_purged(cache: &SpanCache, slab: &Slab, emptied_at: Stamp) {
    // SAFETY: forwarded contract.
    unsafe { release_as(cache, slab, emptied_at, true) }
}

/// `release` and `release_purged`.
///
/// # Safety
/// As `release`.
unsafe fn release_as(cache: &SpanCache, slab: &Slab, emptied_at: Stamp, purge_now: bool) {
    // SAFETY: per the contract.
    let span = unsafe { SpanHeader::of_slab(slab) };
    // No collapse under loom (`collapse_fresh`), so nothing to judge there.
    #[cfg(not(hakmem_loom))]
    if JUDGED {
        // SAFETY: per the contract; span headers are mapped forever.
        unsafe { judge_release(span.as_ref()) };
    }
    // SAFETY: the caller holds the slab (an unbound one has carved nothing since its bind).
    let carved = unsafe { slab.local(|l| l.carved_end as usize) };
    // ORDERING: Relaxed — the caller holds the slab; its bind was ordered before by the hand-off
    // that made the caller its holder.
    let class = slab.class.load(Ordering::Relaxed);
    // SAFETY: the caller holds the span; nobody else reads its links until it is cached.
    unsafe { span.as_ref().links.with_mut(|k| (*k).last_class = class) };
    // SAFETY: as above.
    unsafe { span.as_ref() }.sampled.reset();
    // SAFETY: the caller holds the slab and nothing is out; after `put` we do not touch it.
    unsafe {
        if mutant::SPAN_CACHE_BEFORE_UNBIND {
            // Mutant: the span is in the cache (another thread may take and bind it) while this
            // thread still writes its local state.
            cache.put(span, emptied_at, carved, purge_now);
            slab.unbind();
        } else {
            slab.unbind();
            cache.put(span, emptied_at, carved, purge_now);
        }
    }
}

/// What thread exit did with one of its spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Nothing was out after the drain: the span went to the cache.
    Released,
    /// Blocks were still out: the span was published for adoption.
    Published,
}

/// Thread exit for one owned span that is on no owner list any more: drain its remote queue,
/// then cache it if nothing is out, else publish it (release ownership, push) on `list`. After
/// either the caller must not touch the span.
///
/// # Safety
/// The caller owns the span's slab and it is on no list.
pub unsafe fn retire_or_publish(slab: &Slab, list: &PublishList, cache: &SpanCache) -> Exit {
    // SAFETY: the caller owns the slab until `release` or `publish` hands it on.
    unsafe {
        if mutant::SPAN_PUBLISH_BEFORE_DRAIN {
            // Mutant: the exiting owner tidies the queue up after publishing — while an adopter
            // may already hold the span.
            list.publish(slab);
            slab.drain_remote();
        } else {
            slab.drain_remote();
            if slab.used() == 0 {
                release(cache, slab, purge::now());
                return Exit::Released;
            }
            list.publish(slab);
        }
    }
    Exit::Published
}

/// Takes one block from a span the caller holds: the free list's first, else a fresh carve. With
/// `PROF_OWNER_BITS` it first merges the sampled bits that other threads' frees left
/// (`SampledBits::merge_remote`: one load when there are none).
///
/// # Safety
/// The caller holds the span's slab.
#[inline]
pub unsafe fn take_block(slab: &Slab) -> Option<NonNull<Block>> {
    // Before the pop: whichever block it takes was drained before this merge.
    // SAFETY: per the contract, `slab` is a span's.
    SampledBits::merge_remote(unsafe { SpanHeader::of_slab(slab).as_ref() });
    // SAFETY: per the contract.
    let (head, _, _) = unsafe { slab.take_batch(1) };
    NonNull::new(head)
}

/// The process's span cache.
#[cfg(not(hakmem_loom))]
pub static SPANS: SpanCache = SpanCache::new();

/// Rate limit of the clock-driven sweeps of `SPANS`.
#[cfg(not(hakmem_loom))]
static TICKER: purge::Ticker = purge::Ticker::new();

/// Purges the cached spans that have waited the purge delay, at most once per tick process-wide.
/// Called on the medium tier's slow paths (a span taken or cached) and by the background purger.
#[cfg(not(hakmem_loom))]
pub fn purge_due() -> usize {
    match Sweep::due_ticked(&TICKER) {
        Some(sweep) => SPANS.purge(sweep),
        None => 0,
    }
}

/// Maps and registers a fresh span of `bytes`. `None` when the OS refuses.
#[cfg(not(hakmem_loom))]
pub fn map(bytes: usize) -> Option<NonNull<SpanHeader>> {
    use crate::config::SUPERSLAB_SIZE;
    use crate::registry::{self, RegionHead};
    // Through the large box: under an address-space limit its cache gives way (`OOM_RELEASE`).
    let base = crate::large::reserve_aligned(bytes, MIN_SPAN_BYTES)?;
    // SAFETY: the last page of the fresh reservation, untouched yet (the header is written
    // below): a huge page faulted there could not reach it either.
    let last = unsafe { base.add(bytes - crate::config::PAGE_SIZE) };
    // SAFETY: as above.
    if crate::config::LOCKED_MEMORY && unsafe { os::came_resident(last) } {
        // `mlockall(MCL_FUTURE)`: the kernel populated (and locked) all of it. A span is never
        // unmapped and its pages could never be purged: give it back; the medium tier serves
        // from the large tier while memory is locked (`front::alloc::alloc_medium`).
        os::note_locked();
        // SAFETY: never registered nor handed out. A refused unmap is counted by the os box.
        let _released = unsafe { os::release(base, bytes) };
        return None;
    }
    let thp =
        crate::config::SPAN_THP_GROWTH && bytes <= crate::config::SPAN_THP_MAX_BYTES && growing();
    let born = thp && crate::config::SPAN_THP_BORN_HUGE;
    // Before the header's write, the reservation's first touch (`config::SPAN_THP_BORN_HUGE`).
    // SAFETY: the fresh reservation of `bytes` (2 MiB-aligned, whole 2 MiB chunks), ours alone
    // and untouched.
    let huge = born && unsafe { os::fault_huge(base, bytes) };
    // SAFETY: a fresh reservation of `bytes`, ours alone.
    let span = unsafe { SpanHeader::init(base, bytes) };
    if born {
        if huge {
            GLOBALS.spans_born_huge.bump_shared();
        }
        // SAFETY: the fresh span, ours alone until registered; its header is written.
        unsafe { note_huge(span, huge) };
    } else if thp {
        // SAFETY: the fresh span, ours alone until registered; its header is written.
        unsafe { collapse_fresh(span) };
    }
    let chunks = bytes / SUPERSLAB_SIZE;
    for i in 0..chunks {
        if !registry::register(
            base.as_ptr() as usize + i * SUPERSLAB_SIZE,
            span.cast::<RegionHead>(),
        ) {
            for j in 0..i {
                registry::unregister(base.as_ptr() as usize + j * SUPERSLAB_SIZE);
            }
            // SAFETY: never reachable by anyone (unregistered again). A refused unmap leaves the
            // range decommitted and counted by the os box; nothing refers to it.
            let _released = unsafe { os::release(base, bytes) };
            return None;
        }
    }
    GLOBALS.spans_mapped.bump_shared();
    GLOBALS.span_bytes_mapped.add_shared(bytes as u64);
    Some(span)
}

/// Backs the fresh span `span` with huge pages. The kernel collapses only a 2 MiB range whose
/// page table exists (else `EINVAL`), so each chunk past the header's gets its first word written
/// (zero: it reads as zero before and after). Refused (in part or whole): those chunks stay on
/// base pages, nothing lost. Either way all of the span's data may now be resident, so its
/// `dirty` covers all of it: a purge of the span then gives back the whole huge page, not only
/// what its blocks' carves reached (`unzeroed` stays 0: every byte still reads as zero).
///
/// # Safety
/// `span` was just written by `SpanHeader::init` on a fresh reservation, and nobody else can
/// reach it yet.
#[cfg(not(hakmem_loom))]
unsafe fn collapse_fresh(span: NonNull<SpanHeader>) {
    const HUGE: usize = 2 << 20;
    // SAFETY: per the contract; `bytes` never changes.
    let bytes = unsafe { span.as_ref().bytes };
    let base = span.cast::<u8>();
    let mut off = HUGE;
    while off < bytes {
        // SAFETY: inside the fresh reservation, ours alone, aligned; no block is carved yet, and
        // a zero keeps the data reading as zero (`SpanLinks::unzeroed`).
        unsafe { base.as_ptr().add(off).cast::<usize>().write_volatile(0) };
        off += HUGE;
    }
    // SAFETY: the fresh reservation, ours alone.
    let huge = unsafe { os::collapse(base, bytes) };
    // SAFETY: forwarded contract.
    unsafe { note_huge(span, huge) };
}

/// The accounting of a fresh span backed (`huge`) or not by huge pages at birth
/// (`collapse_fresh`, `map` under `config::SPAN_THP_BORN_HUGE`): the count, the unfilled cap's slot, and `dirty`.
///
/// # Safety
/// As `collapse_fresh` (whose contract a span `map` backed by `os::fault_huge` meets too).
#[cfg(not(hakmem_loom))]
unsafe fn note_huge(span: NonNull<SpanHeader>, huge: bool) {
    // SAFETY: per the contract; `bytes` never changes.
    let bytes = unsafe { span.as_ref().bytes };
    if huge {
        GLOBALS.spans_collapsed.bump_shared();
    }
    if JUDGED && huge {
        // ORDERING: Relaxed — nobody else can reach the span yet; its publication (registration,
        // the hand-over to a holder) orders this store before any holder's load. The generation:
        // see `growing`; a span stamped with one that has just expired only gives back a slot
        // that was given back already (`unfilled_release` saturates).
        // SAFETY: per the contract, the header is written.
        unsafe { span.as_ref() }
            .collapsed
            .store(UNFILLED_GEN.load(Ordering::Relaxed), Ordering::Relaxed);
        // ORDERING: Relaxed — see `growing`; an add, not a load and a store: the count comes back
        // to what it was when every collapse is judged.
        UNFILLED.fetch_add(1, Ordering::Relaxed);
    }
    // SAFETY: per the contract, nobody else reads the links yet.
    unsafe {
        span.as_ref()
            .links
            .with_mut(|k| (*k).dirty = bytes - SPAN_HEADER_BYTES)
    };
}

/// Spans that filled up densely for the first time in a row (`config::SPAN_THP_GROWTH`); a
/// sparse first fill resets it.
#[cfg(not(hakmem_loom))]
static DENSE_FILLS: AtomicU32 = AtomicU32::new(0);

/// Spans backed by huge pages at birth that went back to the span cache without ever filling,
/// less those that filled, never below 0 nor above `SPAN_THP_MISS_MAX` (`config::SPAN_THP_MISS_BACKOFF`):
/// each doubles the dense fills in a row `growing` asks for.
#[cfg(not(hakmem_loom))]
static COLLAPSE_MISSES: AtomicU32 = AtomicU32::new(0);

/// A span has counted its first fill (`count_fill`): the medium heap has evidence of its own, and
/// the small heap's stands in no more (`config::SPAN_THP_SMALL_EVIDENCE`).
#[cfg(not(hakmem_loom))]
static FILL_COUNTED: AtomicBool = AtomicBool::new(false);

/// A span has been backed with huge pages on the small heap's evidence (`small_evidence`: once
/// per process).
#[cfg(not(hakmem_loom))]
static SMALL_EVIDENCE_USED: AtomicBool = AtomicBool::new(false);

/// Spans backed by huge pages at birth and not judged yet (marked `collapsed`: neither filled nor
/// gone back to the cache; `config::SPAN_THP_UNFILLED_CAP`).
#[cfg(not(hakmem_loom))]
static UNFILLED: AtomicU32 = AtomicU32::new(0);

/// The generation of `UNFILLED`'s slots (from 1): when the cap has stayed full over
/// `SPAN_THP_UNFILLED_PATIENCE` first fills of other spans, its spans are judged misses at once,
/// the slots freed and the generation advanced (`expire_unfilled`); a span of an older generation
/// gives back no slot when it is judged later (`config::SPAN_THP_UNFILLED_EXPIRY`).
#[cfg(not(hakmem_loom))]
static UNFILLED_GEN: AtomicU32 = AtomicU32::new(1);

/// First fills of spans seen while `UNFILLED` was at the cap, since a slot last came back
/// (`config::SPAN_THP_UNFILLED_EXPIRY`).
#[cfg(not(hakmem_loom))]
static CAPPED_FILLS: AtomicU32 = AtomicU32::new(0);

/// Gives back the slot of `UNFILLED` that a span stamped `gen` holds (`SpanHeader::collapsed`),
/// if its generation is still the current one; never below 0 (an expiry may have cleared the
/// count between the generation's load and the sub).
#[cfg(not(hakmem_loom))]
fn unfilled_release(gen: u32) {
    // ORDERING: Relaxed — see `growing`.
    if gen != UNFILLED_GEN.load(Ordering::Relaxed) {
        return;
    }
    // ORDERING: Relaxed — see `growing`; a CAS loop on a cold path (one judgement per span
    // collapsed at birth), so that a race with `expire_unfilled`'s reset cannot wrap the count.
    let _ = UNFILLED.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| u.checked_sub(1));
    if crate::config::SPAN_THP_UNFILLED_EXPIRY {
        // ORDERING: Relaxed — see `growing`.
        CAPPED_FILLS.store(0, Ordering::Relaxed);
    }
}

/// A first fill while the cap is full (`count_fill`): after `SPAN_THP_UNFILLED_PATIENCE` of them
/// with no slot given back, the spans that hold the slots (bound, sparse, never filling: they
/// would hold them for the process's life) are judged one miss together, and their slots freed
/// (`config::SPAN_THP_UNFILLED_EXPIRY`).
#[cfg(not(hakmem_loom))]
fn expire_unfilled() {
    // ORDERING: Relaxed — see `growing`.
    if UNFILLED.load(Ordering::Relaxed) < crate::config::SPAN_THP_UNFILLED_MAX {
        return;
    }
    // ORDERING: Relaxed — see `growing`; a lost update delays the expiry by one fill.
    let fills = CAPPED_FILLS.fetch_add(1, Ordering::Relaxed) + 1;
    if fills < crate::config::SPAN_THP_UNFILLED_PATIENCE {
        return;
    }
    // ORDERING: Relaxed — see `growing`. Two threads expiring at once advance the generation
    // twice, which is the same as once: every span counted so far is of an older one.
    UNFILLED_GEN.fetch_add(1, Ordering::Relaxed);
    UNFILLED.store(0, Ordering::Relaxed);
    CAPPED_FILLS.store(0, Ordering::Relaxed);
    if crate::config::SPAN_THP_MISS_BACKOFF {
        // ORDERING: Relaxed — see `judge_release`.
        let misses = COLLAPSE_MISSES.load(Ordering::Relaxed);
        COLLAPSE_MISSES.store(
            (misses + 1).min(crate::config::SPAN_THP_MISS_MAX),
            Ordering::Relaxed,
        );
        // ORDERING: Relaxed — as above.
        DENSE_FILLS.store(0, Ordering::Relaxed);
    }
}

/// Whether collapses at birth are marked and judged (`collapsed`, `UNFILLED`, `COLLAPSE_MISSES`).
#[cfg(not(hakmem_loom))]
const JUDGED: bool = crate::config::SPAN_THP_MISS_BACKOFF || crate::config::SPAN_THP_UNFILLED_CAP;

/// Whether the medium heap has shown that it fills its spans densely, so that `map` backs a new
/// span with huge pages (`config::SPAN_THP_GROWTH`): `SPAN_THP_GROWTH_STREAK` dense first fills
/// in a row, doubled per collapse that missed (`COLLAPSE_MISSES`), and fewer than
/// `SPAN_THP_UNFILLED_MAX` collapsed spans waiting to fill (`UNFILLED`).
#[cfg(not(hakmem_loom))]
fn growing() -> bool {
    // ORDERING: Relaxed — a hint about the heap's shape: a stale value only maps one span more on
    // base pages or on huge pages; the span's contents and accounting are the same either way.
    if crate::config::SPAN_THP_UNFILLED_CAP
        && UNFILLED.load(Ordering::Relaxed) >= crate::config::SPAN_THP_UNFILLED_MAX
    {
        return false;
    }
    // ORDERING: Relaxed — as above.
    let fills = DENSE_FILLS.load(Ordering::Relaxed);
    let misses = if crate::config::SPAN_THP_MISS_BACKOFF {
        // ORDERING: Relaxed — as above.
        COLLAPSE_MISSES.load(Ordering::Relaxed)
    } else {
        0
    };
    fills >= crate::config::SPAN_THP_GROWTH_STREAK << misses
        || (crate::config::SPAN_THP_SMALL_EVIDENCE && small_evidence())
}

/// Whether the small heap's evidence stands in for the medium heap's before that has any
/// (`config::SPAN_THP_SMALL_EVIDENCE`): no span has counted a first fill yet, the SuperSlab pool
/// has completed a dense growth streak (`pool::grown`), and no span has been backed on this
/// evidence before. True once per process at most.
#[cfg(not(hakmem_loom))]
#[inline]
fn small_evidence() -> bool {
    // ORDERING: Relaxed (both loads) — hints, see `growing`. The swap makes the evidence serve one
    // span however many threads map one at once.
    !FILL_COUNTED.load(Ordering::Relaxed)
        && crate::pool::grown()
        && !SMALL_EVIDENCE_USED.swap(true, Ordering::Relaxed)
}

/// Judges a collapse at birth when its span goes back to the cache (`release_as`): a span still
/// marked `collapsed` never filled while it was bound, so its huge pages held its unfilled rest
/// for nothing; the streak starts over and `growing` asks for twice as many dense fills
/// (`config::SPAN_THP_MISS_BACKOFF`).
///
/// # Safety
/// The caller holds `span`.
#[cfg(not(hakmem_loom))]
#[inline]
unsafe fn judge_release(span: &SpanHeader) {
    // ORDERING: Relaxed — only the holder reads and writes `collapsed` (see the field).
    let gen = span.collapsed.load(Ordering::Relaxed);
    if gen != 0 {
        // SAFETY: forwarded contract.
        unsafe { judge_release_collapsed(span, gen) };
    }
}

/// `judge_release` for a span marked `collapsed` in generation `gen` (out of line: every release
/// tests the mark, few spans carry it).
///
/// # Safety
/// The caller holds `span`.
#[cfg(not(hakmem_loom))]
#[cold]
#[inline(never)]
unsafe fn judge_release_collapsed(span: &SpanHeader, gen: u32) {
    // ORDERING: Relaxed — only the holder reads and writes `collapsed` (see the field).
    span.collapsed.store(0, Ordering::Relaxed);
    // A span whose generation expired was judged a miss then (`expire_unfilled`).
    // ORDERING: Relaxed — see `growing`; a stale generation counts one miss more or less.
    let current = gen == UNFILLED_GEN.load(Ordering::Relaxed);
    // One give-back per add in `collapse_fresh`.
    unfilled_release(gen);
    if crate::config::SPAN_THP_MISS_BACKOFF && current {
        // ORDERING: Relaxed — see `growing`; a lost update between two threads' judgements
        // only shifts the backoff by one step. A load and a store: no locked instruction.
        let misses = COLLAPSE_MISSES.load(Ordering::Relaxed);
        COLLAPSE_MISSES.store(
            (misses + 1).min(crate::config::SPAN_THP_MISS_MAX),
            Ordering::Relaxed,
        );
        // ORDERING: Relaxed — as above.
        DENSE_FILLS.store(0, Ordering::Relaxed);
    }
}

/// Counts the first fill of `span` (its holder found every block carved and none free) towards
/// `DENSE_FILLS`: dense (at least `SPAN_THP_GROWTH_DENSE` of each 512 pages resident, one `mincore`
/// per 2 MiB) extends the streak, sparse resets it. Later fills of the same span (it is never
/// unmapped, and a reused one has counted already) are not counted. If the OS cannot say, the
/// streak resets.
///
/// # Safety
/// The caller holds `slab`, a span's slab.
#[cfg(not(hakmem_loom))]
#[cold]
#[inline(never)]
pub unsafe fn count_fill(slab: &Slab) {
    if !crate::config::SPAN_THP_GROWTH {
        return;
    }
    // SAFETY: per the contract, a span's slab; spans are mapped forever.
    let span = unsafe { SpanHeader::of_slab(slab).as_ref() };
    if span.bytes > crate::config::SPAN_THP_MAX_BYTES {
        return;
    }
    // ORDERING: Relaxed — only the span's holder reads and writes the flag, and a new holder
    // takes the span through the owner word or the cache lock, which order it. A load and a
    // store, not a swap: a span that goes full again and again pays no locked instruction.
    if span.filled.load(Ordering::Relaxed) {
        return;
    }
    span.filled.store(true, Ordering::Relaxed);
    if crate::config::SPAN_THP_SMALL_EVIDENCE {
        // ORDERING: Relaxed — a hint, see `small_evidence`.
        FILL_COUNTED.store(true, Ordering::Relaxed);
    }
    // ORDERING: Relaxed — only the holder reads and writes `collapsed` (see the field).
    let gen = if JUDGED {
        span.collapsed.load(Ordering::Relaxed)
    } else {
        0
    };
    if gen != 0 {
        // A collapse that paid: its span filled. One miss fewer (see `judge_release`).
        // ORDERING: Relaxed — as the load above.
        span.collapsed.store(0, Ordering::Relaxed);
        // One give-back per add in `collapse_fresh`.
        unfilled_release(gen);
        if crate::config::SPAN_THP_MISS_BACKOFF {
            // ORDERING: Relaxed — see `growing`.
            let misses = COLLAPSE_MISSES.load(Ordering::Relaxed);
            COLLAPSE_MISSES.store(misses.saturating_sub(1), Ordering::Relaxed);
        }
    }
    const CHUNK: usize = os::RESIDENT_MAX_PAGES * crate::config::PAGE_SIZE;
    let base = NonNull::from(span).cast::<u8>();
    let mut dense = true;
    let mut off = 0;
    while off < span.bytes && dense {
        let len = (span.bytes - off).min(CHUNK);
        // SAFETY: inside the span's mapping, which is never unmapped; `mincore` reads page
        // tables only.
        let resident = unsafe { os::resident_pages(base.add(off), len) };
        let pages = len / crate::config::PAGE_SIZE;
        dense = resident.is_some_and(|r| r * 512 >= crate::config::SPAN_THP_GROWTH_DENSE * pages);
        off += len;
    }
    if crate::config::SPAN_THP_UNFILLED_EXPIRY {
        expire_unfilled();
    }
    // ORDERING: Relaxed — see `growing`; a lost update between two threads' fills only delays
    // or advances the streak by one span.
    if dense {
        DENSE_FILLS.fetch_add(1, Ordering::Relaxed);
    } else {
        DENSE_FILLS.store(0, Ordering::Relaxed);
    }
}
