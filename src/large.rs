//! Large box: allocations above the largest size class (or with an alignment no class serves) get
//! a mapping of their own; freed ones are kept in a bounded cache and reused without `mmap`.
//!
//! Layout: the mapping starts on a `SUPERSLAB_SIZE` boundary (or the requested alignment, if
//! larger); the header sits one page before the user pointer, and the registry names the chunk
//! holding the user pointer (no other region can start in that chunk):
//! ```text
//! base ── … ── LargeHeader (user - PAGE_SIZE) ── user = base + offset ── … ── base + map_len
//! offset = max(PAGE_SIZE, align) + colour · max(align, 64)        (colour only for align < PAGE)
//! ```
//! The colour (0..64 cache lines, rotating) keeps large blocks from all starting at the same
//! offset of a 2 MiB boundary, where their first lines would compete for the same cache sets (as
//! jemalloc's `cache_oblivious`). The header (32 bytes) stays inside page 0.
//!
//! ## The cache
//! A freed block of at most `LARGE_CACHE_MAX_BLOCK` is not unmapped: it goes, still mapped and
//! still committed, into the cache, binned by mapping length (`LARGE_BINS_PER_OCTAVE` classes per
//! power of two; mappings of cacheable blocks are rounded up to their class, at most 25% extra
//! address space and no extra RSS, so blocks of a class are interchangeable). An allocation takes
//! a block from its own class or the next two (at most about 1.5x its length) before it maps.
//! The cache's committed bytes stay within `bound()`: `LARGE_CACHE_BYTES`, and (with
//! `config::LARGE_CACHE_LIVE_BOUND`) twice the live large bytes or one largest cacheable
//! block, whichever is more, so the cache follows what the program's large blocks need now: a
//! program whose sizes keep changing frees blocks nobody reuses, and they no longer pile up to
//! 384 MiB. Beyond the bound the oldest blocks are unmapped, and on the purge clock (`purge`) a block cached for the purge delay is unmapped too, so an idle
//! program gives it all back. `HAKMEM_LARGE_CACHE=0` (runtime) or delay 0 turns the cache off.
//! Each user of a cached mapping touches pages of its own (the tail of a different size); so that
//! these do not pile up as RSS until the clock, every `LARGE_PURGE_USERS`-th user's `free` purges
//! the mapping beyond the user pointer's page (`purge_touched`): one `madvise` per that many
//! reuses, which bounds a cached mapping's stale pages by about that many users' worth.
//!
//! Invariants (under `CACHE`): every cached block is on exactly one bin list (that of the
//! largest class ≤ its `map_len`) and on the age list (newest first, stamps non-increasing up to
//! clock skew between threads); `Cache::bytes == Σ map_len` of cached blocks; a cached block is
//! unregistered and its `CacheNode` sits at its base; after every `detach`, `Cache::committed ≤
//! bound()` as it read `LIVE`. Outside the lock: `LIVE == Σ map_len` of registered (live) large
//! blocks, counted once each returned by `alloc_inner` and uncounted in `free` before caching. A block is unmapped, reused or re-cached
//! only after it has been unlinked under the lock, so no purge races a reuse.
//!
//! No silent OS failure: a refused `munmap` leaves the block mapped and decommitted by `os`; it is
//! then kept in the cache (marked decommitted, over the byte bound if need be), reused like any
//! other and retried on the next purge, so an OS that refuses to unmap loses nothing.
//!
//! Boundary: map, cache, unmap and resize these mappings; register/unregister their first chunk.
//! `realloc` grows or shrinks in place where the mapping allows (mremap without moving).

use core::ptr::NonNull;

use crate::config::{
    LARGE_BINS_PER_OCTAVE, LARGE_CACHE_BYTES, LARGE_CACHE_LIVE_BOUND, LARGE_CACHE_LIVE_MUL,
    LARGE_CACHE_MAX_BLOCK, LARGE_PURGE_USERS, LARGE_REUSE_TAIL, OOM_RELEASE, PAGE_SIZE,
    SAMPLED_LARGE_MOVE, SUPERSLAB_SIZE,
};
use crate::debug::{fatal, Where};
use crate::env;
use crate::lock::{ForkReset, Rank, SpinLock};
use crate::os;
use crate::prof;
use crate::purge::{self, Stamp, Sweep, Ticker};
use crate::registry::{self, RegionHead};
use crate::stats::{self, GLOBALS};
use crate::sync::plain::{AtomicUsize, Ordering};
use crate::valgrind;

pub const LARGE_MAGIC: u64 = 0x4841_4b4d_4c41_5247; // "HAKMLARG"

#[repr(C)]
pub struct LargeHeader {
    magic: u64,
    /// Start of the mapping.
    base: *mut u8,
    map_len: usize,
    /// `user - base`.
    offset: usize,
    /// Users of this mapping since its pages were last purged, this one included (`free`).
    users: usize,
}

const _: () = assert!(
    core::mem::size_of::<LargeHeader>() <= 64,
    "header fits the last colour"
);
const _: () = assert!(
    core::mem::size_of::<LargeHeader>() <= prof::LARGE_RECORD_OFFSET,
    "a sampled block's record follows the header"
);

/// A cached block's links, written at its base when it enters the cache.
struct CacheNode {
    bin_next: *mut CacheNode,
    bin_prev: *mut CacheNode,
    /// Towards older blocks.
    age_next: *mut CacheNode,
    /// Towards newer blocks.
    age_prev: *mut CacheNode,
    map_len: usize,
    freed_at: Stamp,
    /// The OS refused to unmap it; its pages were decommitted instead.
    decommitted: bool,
    /// Users since its pages were last purged (`LargeHeader::users` of the last one, or 0).
    users: usize,
}

const _: () = assert!(core::mem::size_of::<CacheNode>() <= PAGE_SIZE);

/// Cache line colours: offsets of the user pointer within its page, in steps of a line.
const COLOUR_STEP: usize = 64;

/// log2 of the smallest cacheable mapping class boundary.
const FIRST_OCTAVE: u32 = 15;
/// Bins: classes from 32 KiB up to `LARGE_CACHE_MAX_BLOCK`.
const BINS: usize =
    (LARGE_CACHE_MAX_BLOCK.trailing_zeros() - FIRST_OCTAVE) as usize * LARGE_BINS_PER_OCTAVE + 1;

const _: () = assert!(LARGE_CACHE_MAX_BLOCK.is_power_of_two());
const _: () = assert!(LARGE_BINS_PER_OCTAVE.is_power_of_two());
const _: () = assert!(LARGE_CACHE_MAX_BLOCK <= LARGE_CACHE_BYTES);

/// The class of a mapping of `len` bytes (rounded up) and its bin; `None` above the cache's range.
/// Classes: `(n / B + 1) · 2^k / B`-multiples, `B` per octave `(2^k, 2^(k+1)]`.
fn class_up(len: usize) -> Option<(usize, usize)> {
    if len > LARGE_CACHE_MAX_BLOCK {
        return None;
    }
    let len = len.max(1 << FIRST_OCTAVE);
    let k = usize::BITS - 1 - (len - 1).leading_zeros(); // len in (2^k, 2^(k+1)]
    if k < FIRST_OCTAVE {
        return Some((1 << FIRST_OCTAVE, 0));
    }
    let step = (1usize << k) / LARGE_BINS_PER_OCTAVE;
    let class = len.next_multiple_of(step);
    let n = class / step - LARGE_BINS_PER_OCTAVE - 1; // 0..B
    Some((
        class,
        (k - FIRST_OCTAVE) as usize * LARGE_BINS_PER_OCTAVE + n + 1,
    ))
}

/// The bin of the largest class ≤ `len`, where a cached block of that length goes.
fn bin_down(len: usize) -> usize {
    let len = len.min(LARGE_CACHE_MAX_BLOCK);
    let (class, bin) = class_up(len).unwrap_or((LARGE_CACHE_MAX_BLOCK, BINS - 1));
    if class == len || bin == 0 {
        bin
    } else {
        bin - 1
    }
}

struct Cache {
    bins: [*mut CacheNode; BINS],
    newest: *mut CacheNode,
    oldest: *mut CacheNode,
    /// Bytes of every cached mapping.
    bytes: usize,
    /// Bytes of the cached mappings not decommitted.
    committed: usize,
}

// SAFETY: the raw pointers are only used under the cache lock.
unsafe impl Send for Cache {}

/// The large cache. Lock rank `LargeCache`: a leaf (nothing else is taken under it).
static CACHE: SpinLock<Cache> = SpinLock::new(
    Rank::LargeCache,
    Cache {
        bins: [core::ptr::null_mut(); BINS],
        newest: core::ptr::null_mut(),
        oldest: core::ptr::null_mut(),
        bytes: 0,
        committed: 0,
    },
);

/// Fork: a holder that did not survive the fork may have been relinking the lists, so the child
/// abandons every cached block (they stay mapped: a leak in the child only).
impl ForkReset for Cache {
    fn reset_after_fork(&mut self) {
        self.bins = [core::ptr::null_mut(); BINS];
        self.newest = core::ptr::null_mut();
        self.oldest = core::ptr::null_mut();
        self.bytes = 0;
        self.committed = 0;
    }
}

static TICKER: Ticker = Ticker::new();
static COLOUR: AtomicUsize = AtomicUsize::new(0);
/// Bytes of the live large mappings (`config::LARGE_CACHE_LIVE_BOUND`; otherwise untouched).
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Counts `delta` bytes of mappings as live (`grow`) or no longer live.
fn live_add(delta: usize, grow: bool) {
    if !LARGE_CACHE_LIVE_BOUND {
        return;
    }
    // ORDERING: Relaxed — a sizing hint read by `bound`; each block's add happens before its
    // sub (the pointer reaches its freer through the program's own synchronisation), and a
    // stale read only moves the bound for one `detach`.
    if grow {
        LIVE.fetch_add(delta, Ordering::Relaxed);
    } else {
        LIVE.fetch_sub(delta, Ordering::Relaxed);
    }
}

/// The most committed bytes the cache keeps: `LARGE_CACHE_BYTES`, or (`LARGE_CACHE_LIVE_BOUND`)
/// `LARGE_CACHE_LIVE_MUL` times the live large bytes with one largest cacheable block
/// as the floor, whichever is less.
fn bound() -> usize {
    if !LARGE_CACHE_LIVE_BOUND {
        return LARGE_CACHE_BYTES;
    }
    // ORDERING: Relaxed — as in `live_add`.
    let live = LIVE.load(Ordering::Relaxed);
    live.saturating_mul(LARGE_CACHE_LIVE_MUL)
        .clamp(LARGE_CACHE_MAX_BLOCK, LARGE_CACHE_BYTES)
}

impl Cache {
    /// Links `n` (at the base of a dead, unregistered mapping) as the newest block.
    ///
    /// # Safety
    /// `n` is writable, on no list, and `(*n).map_len` is set.
    unsafe fn insert(&mut self, n: *mut CacheNode) {
        // SAFETY: per the contract; the neighbours are cached nodes, ours under the lock.
        unsafe {
            let bin = bin_down((*n).map_len);
            (*n).bin_prev = core::ptr::null_mut();
            (*n).bin_next = self.bins[bin];
            if !self.bins[bin].is_null() {
                (*self.bins[bin]).bin_prev = n;
            }
            self.bins[bin] = n;
            (*n).age_prev = core::ptr::null_mut();
            (*n).age_next = self.newest;
            if self.newest.is_null() {
                self.oldest = n;
            } else {
                (*self.newest).age_prev = n;
            }
            self.newest = n;
            self.bytes += (*n).map_len;
            if !(*n).decommitted {
                self.committed += (*n).map_len;
            }
        }
        // SAFETY: as above.
        GLOBALS.cached.add_shared(unsafe { (*n).map_len } as u64);
    }

    /// Unlinks a cached node from both lists.
    ///
    /// # Safety
    /// `n` is in this cache.
    unsafe fn remove(&mut self, n: *mut CacheNode) {
        // SAFETY: per the contract; every pointer followed is a cached node.
        unsafe {
            let bin = bin_down((*n).map_len);
            let (bp, bn) = ((*n).bin_prev, (*n).bin_next);
            if bp.is_null() {
                self.bins[bin] = bn;
            } else {
                (*bp).bin_next = bn;
            }
            if !bn.is_null() {
                (*bn).bin_prev = bp;
            }
            let (ap, an) = ((*n).age_prev, (*n).age_next);
            if ap.is_null() {
                self.newest = an;
            } else {
                (*ap).age_next = an;
            }
            if an.is_null() {
                self.oldest = ap;
            } else {
                (*an).age_prev = ap;
            }
            self.bytes -= (*n).map_len;
            if !(*n).decommitted {
                self.committed -= (*n).map_len;
            }
            GLOBALS.cached_freed.add_shared((*n).map_len as u64);
        }
    }

    /// Takes a block from bin `bin` or the next ones up to twice its length; failing that,
    /// the shortest longer one, flagged `true`: the caller cuts off the part it does not need.
    /// Null if no cached block is long enough.
    fn take(&mut self, bin: usize) -> (*mut CacheNode, bool) {
        for b in bin..BINS {
            let n = self.bins[b];
            if !n.is_null() {
                // SAFETY: a cached node.
                unsafe { self.remove(n) };
                return (n, b >= bin + LARGE_BINS_PER_OCTAVE);
            }
        }
        (core::ptr::null_mut(), false)
    }

    /// Unlinks the oldest blocks that `sweep` covers, and the oldest committed ones while the
    /// committed bytes exceed the bound, and chains them through `age_next` for the caller to
    /// unmap outside the lock. Decommitted blocks (a refused unmap) are retried only by a sweep.
    fn detach(&mut self, sweep: Option<Sweep>) -> *mut CacheNode {
        let bound = bound();
        let mut chain: *mut CacheNode = core::ptr::null_mut();
        let mut n = self.oldest;
        while !n.is_null() {
            // SAFETY: a cached node.
            let (newer, freed_at, decommitted) =
                unsafe { ((*n).age_prev, (*n).freed_at, (*n).decommitted) };
            let over = self.committed > bound;
            let due = sweep.is_some_and(|s| s.covers(freed_at));
            if !over && !due {
                break;
            }
            if due || !decommitted {
                // SAFETY: as above.
                unsafe {
                    self.remove(n);
                    (*n).age_next = chain;
                }
                chain = n;
            }
            n = newer;
        }
        chain
    }
}

/// Whether freed blocks are cached at all (switch on, and purging not "at once").
fn cache_on() -> bool {
    env::large_cache() && purge::delay() != Some(0)
}

fn offset_for(align: usize) -> usize {
    if align >= PAGE_SIZE {
        return align;
    }
    let step = align.max(COLOUR_STEP);
    // ORDERING: Relaxed — a rotating counter; any value is a valid colour.
    let c = COLOUR.fetch_add(1, Ordering::Relaxed).wrapping_mul(7) % (PAGE_SIZE / step);
    PAGE_SIZE + c * step
}

/// Maps a block of `size` bytes aligned to `align`. Null if the OS refuses or sizes overflow.
pub fn alloc(size: usize, align: usize) -> *mut u8 {
    alloc_inner(size, align, false, LARGE_MAGIC)
}

/// As `alloc`, zero-filled: a fresh mapping is; a reused one has its pages purged (whole pages)
/// and the rest cleared.
pub fn alloc_zeroed(size: usize, align: usize) -> *mut u8 {
    alloc_inner(size, align, true, LARGE_MAGIC)
}

/// A sampled request too big for the profiler's arena slots (any size or alignment above
/// `prof::SLOT_SIZE`, medium sizes included): a large block like any other — mapped, cached and
/// reused the same way — whose header carries `prof::SAMPLED_LARGE_MAGIC` and whose record
/// follows the header (`prof::large_record`), so `free` finds the sample in the header it reads
/// anyway. Null if the profile or the block cannot be had (the caller serves it normally).
/// `last`: the calling thread's last sampled stack (`prof::Sampler::last_stack`); `shard`: its
/// heap's counter line (`Heap::prof_shard`).
#[cold]
#[inline(never)]
pub fn alloc_sampled(
    size: usize,
    align: usize,
    zero: bool,
    last: &mut prof::LastStack,
    shard: prof::Shard,
) -> *mut u8 {
    let Some(rec) = prof::begin_sample(size, last, shard) else {
        return core::ptr::null_mut();
    };
    let user = alloc_inner(size, align, zero, prof::SAMPLED_LARGE_MAGIC);
    if user.is_null() {
        prof::cancel_sample(&rec, shard);
        return user;
    }
    // SAFETY: the header page of a block just mapped and not yet handed out; 64-aligned (the
    // colour offsets are multiples of 64), so the record slot is aligned for `Record`.
    unsafe { prof::large_record(user.wrapping_sub(PAGE_SIZE)).write(rec) };
    user
}

fn alloc_inner(size: usize, align: usize, zero: bool, magic: u64) -> *mut u8 {
    let offset = offset_for(align);
    let Some(need) = offset.checked_add(size).and_then(os::page_round) else {
        return core::ptr::null_mut();
    };
    sweep_if_due();
    // The cache is consulted even when freed blocks are not cached: it then holds the blocks the
    // OS refused to unmap, which are reused like any other.
    let class = if align <= SUPERSLAB_SIZE {
        class_up(need)
    } else {
        None
    };
    let (map_len, base, users) = match class {
        Some((class_len, bin)) => {
            let (n, oversized) = CACHE.with(|c| c.take(bin));
            match NonNull::new(n) {
                Some(n) => {
                    // SAFETY: a node just unlinked under the lock: ours alone now.
                    let (mut map_len, users) =
                        unsafe { ((*n.as_ptr()).map_len, (*n.as_ptr()).users) };
                    // A block more than twice the class asked for is cut down to it (the tail
                    // unmapped), so that the cache does not drift towards its longest blocks.
                    // If the OS refuses, the tail is decommitted and the block keeps its length.
                    // SAFETY: the mapping is ours and dead; `class_len` is page-rounded.
                    if oversized && unsafe { os::resize_in_place(n.cast(), map_len, class_len) } {
                        stats::footprint_sub(map_len - class_len);
                        map_len = class_len;
                    }
                    (map_len, n.cast::<u8>(), users + 1)
                }
                None => match reserve_block(class_len, SUPERSLAB_SIZE) {
                    Some(b) => (class_len, b, 0),
                    None => return core::ptr::null_mut(),
                },
            }
        }
        None => match reserve_block(need, align.max(SUPERSLAB_SIZE)) {
            Some(b) => (need, b, 0),
            None => return core::ptr::null_mut(),
        },
    };
    let user = base.as_ptr().wrapping_add(offset);
    // A fresh mapping counts as purged: its first user is user 1.
    let reused = users > 0;
    let users = users.max(1);
    if reused {
        GLOBALS.large_reused.bump_shared();
        // SAFETY: the mapping is ours and dead; `need` is page-rounded and at most `map_len`.
        unsafe { purge_tail(base, need, map_len) };
        if zero {
            // The usable size (`usable_size`: `map_len - offset`, past `size` when the cached
            // mapping is longer) with `CALLOC_CLEARS_USABLE`, as glibc's `calloc` clears its
            // whole chunk; the request without.
            let len = if crate::config::CALLOC_CLEARS_USABLE {
                map_len - offset
            } else {
                size
            };
            // SAFETY: `[user, user + len)` lies inside the mapping (`offset + size <= need <=
            // map_len`), which is ours and dead.
            unsafe { clear(user, len) };
        }
    } else {
        stats::footprint_add(map_len);
    }
    let head = user.wrapping_sub(PAGE_SIZE).cast::<LargeHeader>();
    // SAFETY: the page before `user` lies inside the mapping (offset >= PAGE_SIZE).
    unsafe {
        head.write(LargeHeader {
            magic,
            base: base.as_ptr(),
            map_len,
            offset,
            users,
        })
    };
    // SAFETY: `head` is non-null (inside the mapping).
    if !registry::register(user as usize, unsafe {
        NonNull::new_unchecked(head.cast::<RegionHead>())
    }) {
        // SAFETY: never published.
        unsafe { dispose(base, map_len) };
        return core::ptr::null_mut();
    }
    GLOBALS.large_allocs.bump_shared();
    GLOBALS.large_bytes.add_shared((map_len - offset) as u64);
    live_add(map_len, true);
    // valgrind: the usable part is a live block (zeroed when fresh or asked for).
    valgrind::malloclike(user, map_len - offset, zero || !reused);
    user
}

/// Whether the registry's `head` is a sampled block's arena (the profile box's): the registry
/// path of `free` sends those here, and this box forwards them.
#[inline]
fn is_sampled(head: NonNull<RegionHead>) -> bool {
    // SAFETY: registered regions start with a magic and are mapped while registered.
    crate::config::PROFILE && unsafe { head.as_ref().magic } == prof::SAMPLED_MAGIC
}

/// Whether a large header's magic says its block carries a sample (`alloc_sampled`).
#[inline]
fn is_sampled_large(magic: u64) -> bool {
    crate::config::PROFILE && magic == prof::SAMPLED_LARGE_MAGIC
}

/// Whether `realloc` must copy the block at `head` (header magic `magic`): a profiler arena's
/// block, or a sampled large block when `config::SAMPLED_LARGE_MOVE` is off. Otherwise a sampled
/// large block resizes like any other, and `realloc` then calls `resample`.
#[inline]
fn copied_on_realloc(head: NonNull<RegionHead>, magic: u64) -> bool {
    is_sampled(head) || (!SAMPLED_LARGE_MOVE && is_sampled_large(magic))
}

/// Whether the large block at `head` (the registry's answer for its user pointer) carries a
/// sample that `realloc` keeps through `resize_in_place` or `move_grow` and must then re-decide
/// (`resample`). False for a profiler arena (whose blocks are copied).
///
/// # Safety
/// As for `free`.
#[inline]
pub unsafe fn resizes_sampled(head: NonNull<RegionHead>) -> bool {
    // SAFETY: per the contract the header (or an arena's head) is mapped and starts with a magic.
    SAMPLED_LARGE_MOVE && is_sampled_large(unsafe { head.as_ref().magic })
}

/// After `resize_in_place` or `move_grow` resized the sampled block at `ptr` to `new_size` bytes
/// (`resizes_sampled` said so before): the profile counts the `realloc` as the free of the old
/// block and the allocation of a new one, as the copy it replaces did (and as jemalloc and
/// tcmalloc count a `realloc`). The old sample ends (counted on `shard`, the calling thread's
/// heap's line); `next` is the sampler's decision on the new request (the calling thread's last
/// stack if it took it): sampled, the block keeps its tag with a new record of `new_size` bytes
/// and the calling stack; not (or the table cannot be had), it loses the tag and is from then on
/// an unsampled block (`LARGE_MAGIC`). A new record rather than the old one resized: the old
/// record's weight was drawn for the old size (a 40 KiB sample stands for about 13 requests at
/// the default mean; kept at 4 MiB it would count 13 × 4 MiB).
///
/// # Safety
/// `ptr` is the user pointer of a live large block the caller owns, tagged with
/// `prof::SAMPLED_LARGE_MAGIC`.
#[cold]
#[inline(never)]
pub unsafe fn resample(
    ptr: *mut u8,
    new_size: usize,
    next: Option<&mut prof::LastStack>,
    shard: prof::Shard,
) {
    let h = ptr.wrapping_sub(PAGE_SIZE).cast::<LargeHeader>();
    let rec = prof::large_record(h.cast());
    // SAFETY: the tagged block's record (written by `alloc_sampled` or an earlier `resample`;
    // its header page moved with the block), inside the header page, 64-aligned.
    prof::end_sample(&unsafe { rec.read() }, shard);
    if let Some(new) = next.and_then(|last| prof::begin_sample(new_size, last, shard)) {
        // SAFETY: as above; the caller owns the block.
        unsafe { rec.write(new) };
        return;
    }
    // SAFETY: the header page of a live block the caller owns. Only its owner reads the magic
    // (`free`, `usable_size`, `sampled_size` of a live block), so a plain store is enough.
    unsafe { (*h).magic = LARGE_MAGIC };
}

/// Zeroes `[user, user + size)` of a reused mapping, the partial first page by hand. Whole pages:
/// with `config::LARGE_CLEAR_RESIDENT`, those resident (`mincore`) by hand and the others (never
/// touched, or swapped out) by purging them; without, all by purging (no RSS, no memset, but a
/// program that then writes its block faults every page in again: 8 MiB `calloc`s 2.59 M faults
/// against glibc's 0.26 M, docs/benchmarks.md session 8).
///
/// # Safety
/// The range lies inside a mapping of ours that holds nothing anyone reads.
unsafe fn clear(user: *mut u8, size: usize) {
    let first = (user as usize).next_multiple_of(PAGE_SIZE) - user as usize;
    let head = first.min(size);
    // SAFETY: per the contract.
    unsafe { core::ptr::write_bytes(user, 0, head) };
    if size > head {
        let rest = user.wrapping_add(head);
        let len = (size - head).next_multiple_of(PAGE_SIZE);
        if crate::config::LARGE_CLEAR_RESIDENT {
            // SAFETY: page-aligned, inside the mapping (map_len is page-rounded past
            // user + size).
            unsafe { clear_resident(rest, len) };
        } else {
            // SAFETY: as above.
            unsafe { decommit_or_clear(rest, len) };
        }
    }
}

/// Zeroes the page-aligned `[p, p + len)`: resident pages that hold anything but zeroes by hand
/// (a page that reads as zero — the zero page a read mapped, or a page its user left zero — is
/// left alone: writing it would fault a fresh page in), runs of other pages by purging them, a
/// chunk at a time.
///
/// Out of line: its 512-byte residency map is not in `alloc_inner`'s frame (docs/design.md,
/// "Stack depth").
///
/// # Safety
/// As for `clear`, page-aligned.
#[inline(never)]
pub(crate) unsafe fn clear_resident(p: *mut u8, len: usize) {
    const CHUNK: usize = 512;
    // valgrind: the dead block's bytes are read here (the caller marks the block live after).
    valgrind::make_defined(p, len);
    let mut map = [0u8; CHUNK];
    let mut off = 0;
    while off < len {
        let n = (len - off).min(CHUNK * PAGE_SIZE);
        let chunk = p.wrapping_add(off);
        // SAFETY: per the contract; `map` has a byte for each of the chunk's pages.
        if !unsafe { os::residency(NonNull::new_unchecked(chunk), n, &mut map) } {
            // SAFETY: per the contract.
            unsafe { decommit_or_clear(chunk, n) };
            off += n;
            continue;
        }
        let pages = n / PAGE_SIZE;
        let mut i = 0;
        while i < pages {
            let resident = map[i] & 1 != 0;
            let mut j = i + 1;
            while j < pages && (map[j] & 1 != 0) == resident {
                j += 1;
            }
            let run = chunk.wrapping_add(i * PAGE_SIZE);
            let run_len = (j - i) * PAGE_SIZE;
            if resident {
                for k in 0..j - i {
                    let page = run.wrapping_add(k * PAGE_SIZE).cast::<u64>();
                    // SAFETY: a resident page of the run, ours and dead; page-aligned.
                    unsafe {
                        let words = core::slice::from_raw_parts(page, PAGE_SIZE / 8);
                        if words.iter().any(|&w| w != 0) {
                            core::ptr::write_bytes(page.cast::<u8>(), 0, PAGE_SIZE);
                        }
                    }
                }
            } else {
                // SAFETY: a run of the chunk's pages; per the contract.
                unsafe { decommit_or_clear(run, run_len) };
            }
            i = j;
        }
        off += n;
    }
}

/// Zeroes the page-aligned `[p, p + len)` by purging it, or by hand if the OS refuses (counted).
///
/// # Safety
/// As for `clear`, page-aligned.
unsafe fn decommit_or_clear(p: *mut u8, len: usize) {
    // SAFETY: per the contract.
    if !unsafe { os::decommit(NonNull::new_unchecked(p), len) } {
        // SAFETY: as above; the OS refused (counted), so clear by hand.
        unsafe { core::ptr::write_bytes(p, 0, len) };
    }
}

/// Checks that `ptr` is the user pointer of the large block at `head`.
fn check(head: &LargeHeader, ptr: *mut u8) {
    let base = head.base as usize;
    if ptr as usize != base + head.offset
        || head as *const LargeHeader as usize + PAGE_SIZE != ptr as usize
    {
        fatal(
            "large",
            "pointer is not the start of a large block",
            Where {
                ptr: ptr as usize,
                superslab: Some(base),
                ..Where::default()
            },
        );
    }
}

/// Frees a large block: into the cache, or unmapped. `shard`: the freeing thread's heap's
/// profiler counter line (`Heap::prof_shard`), for a sampled block.
///
/// # Safety
/// `head` came from the registry for `ptr` and is a large header; the block is live.
pub unsafe fn free(head: NonNull<RegionHead>, ptr: *mut u8, shard: prof::Shard) {
    if is_sampled(head) {
        // SAFETY: per the contract, and the region is a sampled one.
        return unsafe { prof::free_sampled(head, ptr, shard) };
    }
    let h = head.cast::<LargeHeader>();
    // SAFETY: per the contract the header is mapped and initialised.
    let (map_len, base, users, magic) = unsafe {
        check(h.as_ref(), ptr);
        let h = h.as_ref();
        (h.map_len, h.base, h.users, h.magic)
    };
    if is_sampled_large(magic) {
        // SAFETY: a tagged block's record, written by `alloc_sampled`; the block is live.
        prof::end_sample(
            &unsafe { prof::large_record(h.as_ptr().cast()).read() },
            shard,
        );
    }
    // valgrind: the block dies before its mapping is reused or goes away ("Invalid free()" if it
    // was not live).
    valgrind::freelike(ptr);
    registry::unregister(ptr as usize);
    live_add(map_len, false);
    GLOBALS.large_frees.bump_shared();
    GLOBALS
        .large_bytes_freed
        .add_shared((map_len - (ptr as usize - base as usize)) as u64);
    // SAFETY: a mapping is never at address 0.
    let base = unsafe { NonNull::new_unchecked(base) };
    if map_len <= LARGE_CACHE_MAX_BLOCK && cache_on() {
        // SAFETY: the mapping is ours and dead.
        let users = unsafe { purge_touched(base, ptr, map_len, users) };
        // SAFETY: the mapping is ours and dead; page 0 takes the node.
        unsafe { cache(base, map_len, false, users) };
        let evicted = CACHE.with(|c| c.detach(None));
        // SAFETY: detached under the lock: ours alone.
        unsafe { release_chain(evicted) };
    } else {
        // SAFETY: the mapping is ours and dead.
        unsafe { dispose(base, map_len) };
    }
    sweep_if_due();
}

/// Every `LARGE_PURGE_USERS`-th user of a cached mapping, purges the pages its users may have
/// touched beyond the user pointer's own page (which the next user touches too), so that the
/// pages each user touches — a different tail for every size — do not pile up in the cache's
/// RSS until the clock. Returns the users to record in the cache node (0 after a purge, or when
/// the OS refused: then the pages stay committed and the count starts again).
///
/// # Safety
/// The mapping `[base, base + map_len)` is ours and dead; `user` was its user pointer.
unsafe fn purge_touched(base: NonNull<u8>, user: *mut u8, map_len: usize, users: usize) -> usize {
    if LARGE_PURGE_USERS == 0 || users < LARGE_PURGE_USERS {
        return users;
    }
    let keep = (user as usize - base.as_ptr() as usize) / PAGE_SIZE * PAGE_SIZE + PAGE_SIZE;
    if keep < map_len {
        // SAFETY: page-aligned, inside the mapping (map_len is page-rounded), holding nothing
        // anyone reads again.
        unsafe {
            purge::pages(
                NonNull::new_unchecked(base.as_ptr().wrapping_add(keep)),
                map_len - keep,
            )
        };
    }
    0
}

/// A reused mapping of `map_len` bytes that now serves `need` (`config::LARGE_REUSE_TAIL`):
/// when the part beyond `need` is at least an eighth of the mapping, purges it, so the pages an
/// earlier, longer user touched there do not stay resident under the new block.
///
/// # Safety
/// The mapping `[base, base + map_len)` is ours and dead; `need` is page-rounded, `<= map_len`.
unsafe fn purge_tail(base: NonNull<u8>, need: usize, map_len: usize) {
    if !LARGE_REUSE_TAIL || map_len - need < map_len / 8 {
        return;
    }
    // SAFETY: page-aligned, inside the mapping, holding nothing anyone reads again. A refused
    // madvise is counted and reported by `os`; the pages then stay committed, as before.
    let _purged = unsafe {
        purge::pages(
            NonNull::new_unchecked(base.as_ptr().wrapping_add(need)),
            map_len - need,
        )
    };
}

/// Puts the dead mapping at `base` into the cache.
///
/// # Safety
/// The mapping `[base, base + map_len)` is ours, dead and unregistered.
unsafe fn cache(base: NonNull<u8>, map_len: usize, decommitted: bool, users: usize) {
    let n = base.cast::<CacheNode>().as_ptr();
    // SAFETY: page 0 of the mapping is ours.
    unsafe {
        n.write(CacheNode {
            bin_next: core::ptr::null_mut(),
            bin_prev: core::ptr::null_mut(),
            age_next: core::ptr::null_mut(),
            age_prev: core::ptr::null_mut(),
            map_len,
            freed_at: purge::now(),
            decommitted,
            users,
        })
    };
    // SAFETY: the node is written and on no list.
    CACHE.with(|c| unsafe { c.insert(n) });
}

/// Unmaps a dead mapping; if the OS refuses, keeps it (decommitted) in the cache. True if
/// unmapped.
///
/// # Safety
/// As for `cache`.
unsafe fn dispose(base: NonNull<u8>, map_len: usize) -> bool {
    // SAFETY: per the contract.
    if unsafe { os::release(base, map_len) } {
        stats::footprint_sub(map_len);
        true
    } else {
        // SAFETY: still mapped (decommitted by `os`), still ours.
        unsafe { cache(base, map_len, true, 0) };
        false
    }
}

/// Unmaps every block of a chain detached from the cache (outside the lock).
///
/// # Safety
/// The chain was detached under the lock; its blocks are nobody else's.
unsafe fn release_chain(mut n: *mut CacheNode) {
    while let Some(node) = NonNull::new(n) {
        // SAFETY: a detached node: mapped, ours.
        let (next, map_len) = unsafe { ((*n).age_next, (*n).map_len) };
        // SAFETY: as above.
        if unsafe { dispose(node.cast(), map_len) } {
            GLOBALS.purged_bytes.add_shared(map_len as u64);
        }
        n = next;
    }
}

/// Unmaps the cached blocks `sweep` covers (and any beyond the byte bound).
pub fn purge(sweep: Sweep) {
    let chain = CACHE.with(|c| c.detach(Some(sweep)));
    // SAFETY: detached under the lock.
    unsafe { release_chain(chain) };
}

/// `os::reserve_aligned`, except that when the OS refuses and the cache holds blocks, they are
/// all unmapped and the OS is asked once more (`config::OOM_RELEASE`): an address-space limit
/// counts the cache's mappings, so under one the cache must not starve every other tier. The
/// SuperSlab and span reservations go through here too (`front::small::carve_new_slab`,
/// `span::map`). Call it with no lock held (it takes the cache's).
pub fn reserve_aligned(size: usize, align: usize) -> Option<NonNull<u8>> {
    os::reserve_aligned(size, align)
        .or_else(|| reserve_after_release(os::reserve_aligned, size, align))
}

/// `reserve_aligned` for a large block's own mapping: charged to the kernel's overcommit
/// accounting (`os::reserve_charged`, `config::LARGE_CHARGED`), as glibc's mmap of the request is.
fn reserve_block(size: usize, align: usize) -> Option<NonNull<u8>> {
    os::reserve_charged(size, align)
        .or_else(|| reserve_after_release(os::reserve_charged, size, align))
}

/// The second try of `reserve_aligned` and `reserve_block`: `reserve` again once the cache's
/// blocks are unmapped (`config::OOM_RELEASE`); `None` if the cache was empty.
#[cold]
#[inline(never)]
fn reserve_after_release(
    reserve: fn(usize, usize) -> Option<NonNull<u8>>,
    size: usize,
    align: usize,
) -> Option<NonNull<u8>> {
    if OOM_RELEASE && release_cache() {
        reserve(size, align)
    } else {
        None
    }
}

/// Unmaps every cached block, whatever its age; false if the cache was empty. A block the OS
/// refuses to unmap goes back into the cache (decommitted), as on any purge.
pub fn release_cache() -> bool {
    let chain = CACHE.with(|c| c.detach(Some(Sweep::All)));
    if chain.is_null() {
        return false;
    }
    // SAFETY: detached under the lock.
    unsafe { release_chain(chain) };
    true
}

/// On a slow path: purges what the clock says is due, at most once per tick process-wide.
fn sweep_if_due() {
    if let Some(s) = Sweep::due_ticked(&TICKER) {
        purge(s);
    }
}

/// Usable bytes of a live large block.
///
/// # Safety
/// As for `free`.
pub unsafe fn usable_size(head: NonNull<RegionHead>, ptr: *mut u8) -> usize {
    if is_sampled(head) {
        // SAFETY: per the contract, and the region is a sampled one.
        return unsafe { prof::usable_size(head, ptr) };
    }
    // SAFETY: per the contract.
    let h = unsafe { head.cast::<LargeHeader>().as_ref() };
    check(h, ptr);
    if is_sampled_large(h.magic) {
        // SAFETY: a tagged block's record, written by `alloc_sampled`; the block is live.
        let rec = unsafe { prof::large_record(head.as_ptr().cast()).read() };
        return prof::usable_of(rec.size);
    }
    h.map_len - h.offset
}

/// Resizes a large block in place to hold `new_size` bytes. False if the OS cannot (the caller
/// then moves the block).
///
/// # Safety
/// As for `free`.
pub unsafe fn resize_in_place(head: NonNull<RegionHead>, ptr: *mut u8, new_size: usize) -> bool {
    let h = head.cast::<LargeHeader>();
    // SAFETY: per the contract the header is mapped (an arena starts with its magic too).
    if copied_on_realloc(head, unsafe { h.as_ref().magic }) {
        // A copied block moves, so its new size is what the profile counts.
        return false;
    }
    // SAFETY: per the contract.
    let (map_len, offset, base) = unsafe {
        check(h.as_ref(), ptr);
        (h.as_ref().map_len, h.as_ref().offset, h.as_ref().base)
    };
    let Some(new_len) = offset.checked_add(new_size).and_then(os::page_round) else {
        return false;
    };
    if new_len <= map_len && new_len >= map_len / 2 {
        return true;
    }
    // SAFETY: the mapping is ours; on success it has the new length.
    if unsafe { os::resize_in_place(NonNull::new_unchecked(base), map_len, new_len) } {
        // SAFETY: the header page is still mapped (new_len > offset >= a page).
        unsafe { (*h.as_ptr()).map_len = new_len };
        // valgrind: the live block's usable size changed with the mapping.
        valgrind::resize_in_place(ptr, map_len - offset, new_len - offset);
        live_add(new_len.abs_diff(map_len), new_len > map_len);
        if new_len > map_len {
            GLOBALS.large_bytes.add_shared((new_len - map_len) as u64);
            stats::footprint_add(new_len - map_len);
        } else {
            GLOBALS
                .large_bytes_freed
                .add_shared((map_len - new_len) as u64);
            stats::footprint_sub(map_len - new_len);
        }
        true
    } else {
        false
    }
}

/// What `move_grow` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moved {
    /// The block lives at this user pointer now, grown; the old pointer is dead.
    To(NonNull<u8>),
    /// The OS refused the new reservation: `realloc` returns null (a copy would need the same).
    NoMemory,
    /// The block cannot be moved (copied on `realloc`, a shrink, or the OS cannot move pages): it is
    /// unchanged, and the caller copies it.
    No,
}

/// `realloc` of a large block to `new_size` bytes that `resize_in_place` could not grow: moves
/// the block's pages to a fresh reservation aligned as the old one (`os::move_to`, no copy) and
/// registers it there. The user pointer keeps its offset from the mapping's start (its colour, or
/// its alignment), the header travels with its page and gets the new base and length.
///
/// Registry: the new chunk is registered before the move (so that its leaf exists; a stray
/// lookup there meanwhile finds magic 0 and aborts as for any bad pointer) and again after the
/// header is complete (the Release store publishes it); the old chunk is unregistered before the
/// move and registered again if the move fails.
///
/// # Safety
/// As for `free`: `head` came from the registry for `ptr`, a live large block the caller owns.
pub unsafe fn move_grow(head: NonNull<RegionHead>, ptr: *mut u8, new_size: usize) -> Moved {
    let h = head.cast::<LargeHeader>();
    // SAFETY: per the contract the header is mapped (an arena starts with its magic too).
    if copied_on_realloc(head, unsafe { h.as_ref().magic }) {
        // A copied block moves by copy, so its new size is what the profile counts.
        return Moved::No;
    }
    // SAFETY: per the contract.
    let (map_len, offset, base) = unsafe {
        check(h.as_ref(), ptr);
        (h.as_ref().map_len, h.as_ref().offset, h.as_ref().base)
    };
    let Some(new_len) = offset.checked_add(new_size).and_then(os::page_round) else {
        return Moved::NoMemory;
    };
    if new_len <= map_len {
        return Moved::No;
    }
    // The old base's alignment: `SUPERSLAB_SIZE`, or the block's alignment when larger (then the
    // offset is that alignment; a colour offset is under two pages).
    let align = SUPERSLAB_SIZE.max(offset.next_power_of_two());
    let Some(to) = reserve_block(new_len, align) else {
        return Moved::NoMemory;
    };
    let user = to.as_ptr().wrapping_add(offset);
    let new_head = user.wrapping_sub(PAGE_SIZE).cast::<RegionHead>();
    // SAFETY: `new_head` lies inside the fresh reservation (offset >= PAGE_SIZE): non-null.
    let new_head = unsafe { NonNull::new_unchecked(new_head) };
    if !registry::register(user as usize, new_head) {
        // SAFETY: the fresh reservation, never published. A refused unmap is counted by `os`.
        let _released = unsafe { os::release(to, new_len) };
        return Moved::No;
    }
    registry::unregister(ptr as usize);
    // SAFETY: a mapping is never at address 0.
    let from = unsafe { NonNull::new_unchecked(base) };
    // SAFETY: both are whole reservations of ours: the live block's mapping (the caller owns the
    // block; unregistered, nobody else reaches it) and the fresh one (reachable only through the
    // new registry entry, whose header reads magic 0 until the move).
    if !unsafe { os::move_to(from, map_len, to, new_len) } {
        registry::unregister(user as usize);
        // The old chunk's leaf exists (it was registered a moment ago), so this cannot fail.
        let again = registry::register(ptr as usize, head);
        debug_assert!(again);
        return Moved::No;
    }
    // SAFETY: the header page moved with the block: inside the new mapping, ours.
    unsafe {
        let nh = new_head.cast::<LargeHeader>().as_ptr();
        (*nh).base = to.as_ptr();
        (*nh).map_len = new_len;
    }
    // Publishes the completed header (Release, in `register`); the leaf exists, so it succeeds.
    let published = registry::register(user as usize, new_head);
    debug_assert!(published);
    // valgrind: the old block dies, the new one is live with the old block's bytes defined.
    valgrind::freelike(ptr);
    valgrind::malloclike(user, new_len - offset, false);
    valgrind::make_defined(user, map_len - offset);
    GLOBALS.large_bytes.add_shared((new_len - map_len) as u64);
    stats::footprint_add(new_len - map_len);
    live_add(new_len - map_len, true);
    // SAFETY: inside the new mapping, non-null.
    Moved::To(unsafe { NonNull::new_unchecked(user) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_round_up_and_bins_round_down() {
        assert_eq!(class_up(4096), Some((1 << 15, 0)));
        assert_eq!(class_up(1 << 15), Some((1 << 15, 0)));
        // (32 KiB, 64 KiB] in steps of 8 KiB.
        assert_eq!(class_up((1 << 15) + 1), Some((40 << 10, 1)));
        assert_eq!(class_up(64 << 10), Some((64 << 10, 4)));
        assert_eq!(class_up((64 << 10) + 1), Some((80 << 10, 5)));
        assert_eq!(
            class_up(LARGE_CACHE_MAX_BLOCK),
            Some((LARGE_CACHE_MAX_BLOCK, BINS - 1))
        );
        assert_eq!(class_up(LARGE_CACHE_MAX_BLOCK + 1), None);
        let mut last = 0;
        for len in (1usize << 15..=LARGE_CACHE_MAX_BLOCK).step_by(PAGE_SIZE * 97) {
            let (class, bin) = class_up(len).unwrap();
            assert!(class >= len && class - len <= len / 4, "{len} -> {class}");
            assert!(bin >= last && bin < BINS);
            last = bin;
            // A block of exactly a class goes back to that class's bin; a longer one (mremap
            // growth) to the class below its length.
            assert_eq!(bin_down(class), bin);
            assert_eq!(bin_down(class + PAGE_SIZE), bin);
        }
    }

    #[test]
    fn colours_stay_in_the_first_page() {
        for _ in 0..200 {
            let o = offset_for(16);
            assert!((PAGE_SIZE..2 * PAGE_SIZE).contains(&o) && o % COLOUR_STEP == 0);
            let o = offset_for(1024);
            assert!(o % 1024 == 0 && o < 2 * PAGE_SIZE);
        }
        assert_eq!(offset_for(PAGE_SIZE), PAGE_SIZE);
        assert_eq!(offset_for(1 << 16), 1 << 16);
    }
}
