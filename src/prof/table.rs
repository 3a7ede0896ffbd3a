//! The stack table: every distinct sampled call stack once, with its counters, in a fixed
//! open-addressing table mapped from the OS box on first use (never the global allocator).
//!
//! Lock-free: a sample interns its stack and counts itself with atomics, and the free of a
//! sampled block uncounts it the same way, so neither takes the profile lock (a medium or large
//! sample used to take it twice: ~100 instructions and two `lock cmpxchg` pairs per sample).
//! - **Interning**: an entry's `hash` is 0 (empty), `BUSY` (being written by the thread that
//!   claimed it with a CAS from 0) or the stack's hash (odd), stored with Release after the
//!   frames; a reader compares frames only after an Acquire load saw its hash. A prober that meets
//!   `BUSY` moves on (two threads interning one new stack at once may make two entries for it,
//!   which the outputs list as two stacks with the same frames). Entries are never removed (until
//!   a forked child clears the whole table, single-threaded).
//! - **Counters**: monotone `alloc_*` and `freed_*` sums (wrapping `u64`), the objects in units of
//!   1/`OBJECT_UNIT` of a request, the bytes rounded to whole bytes per sample (a sample's
//!   `Record` carries the exact amounts it added, and its free subtracts the same). `live =
//!   alloc - freed` is exact whatever the order of the updates, and 0 once every sample of the
//!   stack is freed. The free side's adds are Release and a snapshot reads `freed_*` (Acquire)
//!   before `alloc_*`, so it never sees a free without the sample's own add. Each entry keeps
//!   its counters in `SHARDS` cache lines; a thread adds to the one its thread pointer picks
//!   (`shard`), and a stack's counts are the sums over them (threads sampling one stack then do
//!   not pass one line between their cores on every sample and free).
//! - **Owned shards** (`config::PROF_OWNED_SHARDS`): the first `OWNED` live heaps each own one
//!   more line per entry (`Shard`, claimed once when the heap is made, kept for its life: heaps
//!   are never freed, and pass from an exited thread to a new one through the heap pool). Only
//!   the thread using the heap writes its owned line, so its samples and frees count with a
//!   plain load and store (no locked instruction: a locked add waits for the store buffer to
//!   drain, behind the record a sample just wrote into a cold block; docs/benchmarks.md
//!   "Session 12: prof13"). Heaps beyond the first `OWNED`, the sentinel heaps and the arena and
//!   large paths count with atomic adds on the thread-pointer lines, as before.
//!   (invariant) `live_objects == Σ objects` and `live_bytes == Σ bytes` over the stack's live
//!   sampled blocks, once no update is in flight.
//!
//! Entry 0 is the overflow bucket (no frames): stacks that no longer fit are counted there, so
//! totals stay right when the table is full. Claiming an entry first reserves one of `MAX_USED`
//! units (`used`), so fewer than `CAPACITY` entries are ever non-empty and every probe ends.

use core::ptr::NonNull;

use super::arena::Record;
use super::stack::MAX_FRAMES;
use crate::config::{LAST_STACK, PROF_OWNED_SHARDS, PROF_SHARDS};
use crate::list::{OncePtr, Seal};
use crate::os;
use crate::sync::plain::{AtomicU64, AtomicUsize, Ordering};

/// Entries of the table (distinct stacks kept, entry 0 included).
pub const CAPACITY: usize = 1 << 13;
/// The table refuses new stacks beyond this fill (keeps probe sequences short).
const MAX_USED: usize = CAPACITY * 7 / 8;
/// An entry claimed by a thread that is writing its frames (hashes are odd).
/// The objects counters count requests in units of 1/`OBJECT_UNIT` (a weight is fractional).
pub const OBJECT_UNIT: f64 = 256.0;
/// `OBJECT_UNIT` as a power of two (`Record::from_fixed` shifts by it).
pub const OBJECT_UNIT_BITS: u32 = 8;
const _: () = assert!(OBJECT_UNIT == (1u64 << OBJECT_UNIT_BITS) as f64);

/// Shared counter lines per entry (`config::PROF_SHARDS`; one in the backout), updated with
/// atomic adds by any thread. Prime, not a power of two: see `shard_of`.
pub const SHARDS: usize = if PROF_SHARDS { 5 } else { 1 };

/// Owned counter lines per entry (`config::PROF_OWNED_SHARDS`; none in the backout), after the
/// shared ones: line `SHARDS + k` is written only by the thread using the heap that owns shard
/// `k` (`claim_shard`).
pub const OWNED: usize = if PROF_OWNED_SHARDS { 8 } else { 0 };

/// A heap's counter line in every entry: owned (`Shard(k)`, `k < OWNED`: written with a plain
/// load and store, by the heap's thread only) or `Shard::SHARED` (atomic adds on the calling
/// thread's shared line). (invariant) At most one heap ever holds each owned shard
/// (`claim_shard` hands out each `k` once), and a heap is used by one thread at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard(u8);

const _: () = assert!(OWNED < u8::MAX as usize);

impl Shard {
    /// No owned line: atomic adds on the shared lines (sentinel heaps, heaps beyond `OWNED`,
    /// the arena and large paths).
    pub const SHARED: Shard = Shard(u8::MAX);

    /// The owned line's index among the entry's counter lines, if any.
    #[inline(always)]
    fn owned(self) -> Option<usize> {
        ((self.0 as usize) < OWNED).then_some(SHARDS + self.0 as usize)
    }
}

/// Owned shards handed out so far (`claim_shard`); may count past `OWNED`.
static CLAIMED: AtomicUsize = AtomicUsize::new(0);

/// A shard for a new live heap, for its whole life: the next owned one while any is left, else
/// `Shard::SHARED`. Each owned shard is handed out once (heaps are never freed, so none is given
/// back; a forked child keeps its parent's claims, its heaps keep their shards).
pub fn claim_shard() -> Shard {
    if OWNED == 0 {
        return Shard::SHARED;
    }
    // ORDERING: Relaxed — a counter of claims; each value is returned to one caller only (an
    // RMW), which is all the single-writer rule needs. The heap that holds the shard publishes
    // it with the heap itself.
    // (A 64-bit count does not wrap back into the owned range: heaps are never freed.)
    let k = CLAIMED.fetch_add(1, Ordering::Relaxed);
    if k < OWNED {
        Shard(k as u8)
    } else {
        Shard::SHARED
    }
}

/// One shard of a stack's counters: the samples of the threads that chose it (`shard`), on a
/// cache line of its own. (invariant) The stack's counts are the wrapping sums over its shards;
/// a single shard's `alloc - freed` means nothing (a block sampled by one thread may be freed
/// by another, on another shard).
#[repr(C, align(64))]
struct Counters {
    alloc_samples: AtomicU64,
    alloc_objects: AtomicU64,
    alloc_bytes: AtomicU64,
    freed_samples: AtomicU64,
    freed_objects: AtomicU64,
    freed_bytes: AtomicU64,
}

/// One stack and its counters. The hash, the depth and the first six frames share the first
/// cache line, read by every sample of the stack and written once; the counters follow, one
/// line per shard, written by the samples and frees of the threads that chose it.
#[repr(C, align(64))]
pub struct Entry {
    /// 0: empty; `Seal::BUSY`: being written; else the frames' hash (odd), published (the
    /// claim, seal and loads are `list::Seal`'s, model-checked by loom).
    hash: Seal,
    depth: AtomicUsize,
    frames: [AtomicUsize; MAX_FRAMES],
    shards: [Counters; SHARDS + OWNED],
}

/// An entry's counters at one instant, weighted (estimates of the whole program's numbers).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Counts {
    pub alloc_samples: u64,
    pub live_samples: u64,
    pub alloc_objects: f64,
    pub alloc_bytes: f64,
    pub live_objects: f64,
    pub live_bytes: f64,
}

impl Entry {
    /// The stack's frames: empty for the overflow entry and for an entry not yet published.
    pub fn frames(&self) -> &[usize] {
        // `Seal::load` (Acquire) — pairs with the seal in `Table::insert`: the frames and depth
        // written before it are visible.
        if self.hash.load() & 1 == 0 {
            return &[];
        }
        // ORDERING: Relaxed — ordered by the Acquire above; written once, before publication.
        let depth = self.depth.load(Ordering::Relaxed).min(MAX_FRAMES);
        // SAFETY: a published entry's frames are never written again (until a forked child
        // clears the table, single-threaded, with no snapshot alive); `AtomicUsize` has
        // `usize`'s layout.
        unsafe { core::slice::from_raw_parts(self.frames.as_ptr().cast::<usize>(), depth) }
    }

    /// Whether the entry holds a stack that was ever sampled.
    pub fn used(&self) -> bool {
        // ORDERING: Relaxed — a snapshot's filter; `frames` orders what it reads.
        self.sum(|c| c.alloc_samples.load(Ordering::Relaxed)) != 0
    }

    /// Shard `k`'s counters (the first if there is no shard `k`: any shard is correct, and no
    /// index check can fail).
    #[inline(always)]
    fn shard(&self, k: usize) -> &Counters {
        self.shards.get(k).unwrap_or(&self.shards[0])
    }

    /// The wrapping sum over the shards of `f(shard)`.
    #[inline]
    fn sum(&self, f: impl Fn(&Counters) -> u64) -> u64 {
        self.shards.iter().fold(0, |s, c| s.wrapping_add(f(c)))
    }

    /// The counters now (a dump while samples are counted may see one sample's three counters
    /// at different instants; never a free without its sample).
    pub fn counts(&self) -> Counts {
        // ORDERING: Acquire — pairs with the Release adds of `Table::remove` (on whichever
        // shard): a free counted here is ordered after its sample's adds (the program handed the
        // block from its allocation to its free), so the `alloc_*` loads below, which follow
        // every shard's Acquire loads, see them on whichever shard they were made.
        let fs = self.sum(|c| c.freed_samples.load(Ordering::Acquire));
        let fo = self.sum(|c| c.freed_objects.load(Ordering::Acquire));
        let fb = self.sum(|c| c.freed_bytes.load(Ordering::Acquire));
        // ORDERING: Relaxed — see above.
        let a_s = self.sum(|c| c.alloc_samples.load(Ordering::Relaxed));
        let ao = self.sum(|c| c.alloc_objects.load(Ordering::Relaxed));
        let ab = self.sum(|c| c.alloc_bytes.load(Ordering::Relaxed));
        // Wrapping differences: exact even after the sums wrap; a live count is never negative
        // (clamped against a snapshot torn between a sample's own counters).
        let live = |a: u64, f: u64| (a.wrapping_sub(f) as i64).max(0) as u64;
        Counts {
            alloc_samples: a_s,
            live_samples: live(a_s, fs),
            alloc_objects: ao as f64 / OBJECT_UNIT,
            alloc_bytes: ab as f64,
            live_objects: live(ao, fo) as f64 / OBJECT_UNIT,
            live_bytes: live(ab, fb) as f64,
        }
    }
}

/// The table's entries: indexed by a stack index masked to `CAPACITY` (no bounds check, and no
/// panic path for an index read back from a record).
pub type Entries = [Entry; CAPACITY];

/// The entry of stack `idx` (masked: a record's index is always below `CAPACITY`).
#[inline(always)]
fn at(entries: &Entries, idx: u32) -> &Entry {
    &entries[idx as usize & (CAPACITY - 1)]
}

/// A thread's last interned stack (`Table::intern_cached`): its entry (0: none) and the table's
/// generation then. Thread-owned (a field of the thread heap's `prof::Sampler`).
#[derive(Clone, Copy, Debug, Default)]
pub struct LastStack {
    stack: u32,
    epoch: u32,
}

impl LastStack {
    pub const fn new() -> Self {
        Self { stack: 0, epoch: 0 }
    }
}

pub struct Table {
    /// The mapping, installed once (`list::OncePtr`, model-checked by loom).
    entries: OncePtr<Entry>,
    used: AtomicUsize,
}

const BYTES: usize = CAPACITY * core::mem::size_of::<Entry>();

impl Table {
    pub const fn new() -> Self {
        Self {
            entries: OncePtr::new(),
            used: AtomicUsize::new(0),
        }
    }

    /// The entries, or `None` before the table is mapped (`map`).
    #[inline(always)]
    pub fn get(&self) -> Option<&Entries> {
        // `OncePtr::get` (Acquire) — pairs with the install in `map`: the mapping's zeros are
        // seen.
        let p = NonNull::new(self.entries.get())?;
        // SAFETY: `CAPACITY` entries, zero-initialised (an all-empty table), mapped until a
        // forked child clears the table (single-threaded); every field is atomic.
        Some(unsafe { &*p.as_ptr().cast::<Entries>() })
    }

    /// The entries, mapped if needed; `None` if the OS refuses.
    #[cold]
    pub fn map(&self) -> Option<&Entries> {
        if self.get().is_none() {
            let p = os::reserve_aligned(BYTES.next_multiple_of(4096), 4096)?;
            // `OncePtr::install` (Release) — publishes the zeroed mapping; pairs with `get`.
            if !self.entries.install(p.as_ptr().cast()) {
                // Another thread mapped it first.
                // SAFETY: our own mapping, never published.
                let _released = unsafe { os::release(p, BYTES.next_multiple_of(4096)) };
            }
        }
        self.get()
    }

    /// Forgets every stack and count (a forked child whose profile lock was held at the fork
    /// instant: any entry may be half written). The pages are given back and read as zeros, an
    /// all-empty table; if the OS refuses, the table is abandoned and a fresh one mapped on the
    /// next `map`. Single-threaded (the child's only thread).
    pub fn clear(&self) {
        if let Some(p) = NonNull::new(self.entries.get_alone()) {
            // SAFETY: the table's own mapping; nothing refers into it once `used` is 0 (indices
            // held by records are ignored after a reset: see `prof::EPOCH`).
            if !unsafe { os::decommit(p.cast(), BYTES.next_multiple_of(4096)) } {
                self.entries.forget_alone();
            }
        }
        // ORDERING: Relaxed — as above.
        self.used.store(0, Ordering::Relaxed);
    }

    /// The index of `frames`' entry in `entries` (this table's), created if new; 0 (overflow)
    /// when the table is full. The probe for a stack already known is inline (the common case: a
    /// program samples few distinct stacks again and again); a new entry is made out of line.
    #[inline(always)]
    pub fn intern(&self, entries: &Entries, frames: &[usize]) -> u32 {
        let hash = hash(frames);
        // The home slot from the hash's high bits (a mask, not a division), never entry 0.
        let mut i = ((hash >> 32) as usize & (CAPACITY - 1)).max(1);
        loop {
            let e = &entries[i & (CAPACITY - 1)];
            // `Seal::load` (Acquire) — see `Entry::frames`.
            let h = e.hash.load();
            if h == hash && same_frames(e, frames) {
                return i as u32;
            }
            if h == 0 {
                return self.insert(entries, i, hash, frames);
            }
            i = if i + 1 == CAPACITY { 1 } else { i + 1 };
        }
    }

    /// `intern` through the calling thread's cache of its last sampled stack: a program samples
    /// one call site many times in a row, and the cache's entry is then compared frame by frame
    /// without hashing the frames or probing the table (~20 instructions per sample saved on a
    /// short stack, more on a deep one; a miss costs a load and a compare). `epoch` is the
    /// table's generation (`prof::EPOCH`): an entry cached before a forked child cleared the
    /// table is not looked at.
    #[inline(always)]
    pub fn intern_cached(
        &self,
        entries: &Entries,
        frames: &[usize],
        last: &mut LastStack,
        epoch: u32,
    ) -> u32 {
        // The entry was published before this thread cached it (`intern` saw its hash with
        // Acquire), and a published entry's frames and depth are never written again in its
        // generation; 0 (the overflow entry, no frames) is never cached.
        if !LAST_STACK {
            return self.intern(entries, frames);
        }
        if last.stack != 0 && last.epoch == epoch && same_frames(at(entries, last.stack), frames) {
            return last.stack;
        }
        let i = self.intern(entries, frames);
        *last = LastStack { stack: i, epoch };
        i
    }

    /// Makes an empty entry from `i` on hold `frames` (of hash `hash`), or finds it made
    /// meanwhile; 0 (overflow) when the table is full.
    #[cold]
    #[inline(never)]
    fn insert(&self, entries: &Entries, mut i: usize, hash: u64, frames: &[usize]) -> u32 {
        // ORDERING: Relaxed — a counter of claims; it orders nothing.
        if self.used.fetch_add(1, Ordering::Relaxed) >= MAX_USED {
            // ORDERING: Relaxed — as above.
            self.used.fetch_sub(1, Ordering::Relaxed);
            return 0;
        }
        loop {
            let e = &entries[i & (CAPACITY - 1)];
            // `Seal::claim`: Acquire on failure — see `Entry::frames` (the entry's hash is
            // compared with ours and its frames read); Relaxed on success: ours to write.
            match e.hash.claim() {
                Ok(_) => {
                    // ORDERING: Relaxed — published by the Release store of the hash below.
                    e.depth.store(frames.len(), Ordering::Relaxed);
                    for (slot, &f) in e.frames.iter().zip(frames) {
                        // ORDERING: Relaxed — as above.
                        slot.store(f, Ordering::Relaxed);
                    }
                    // `Seal::seal` (Release) — publishes depth and frames; pairs with the
                    // Acquire loads of `intern`, `insert` and `Entry::frames`.
                    e.hash.seal(hash);
                    return i as u32;
                }
                Err(h) if h == hash && same_frames(e, frames) => {
                    // Made by another thread meanwhile: our claim is not needed.
                    // ORDERING: Relaxed — see above.
                    self.used.fetch_sub(1, Ordering::Relaxed);
                    return i as u32;
                }
                Err(_) => i = if i + 1 == CAPACITY { 1 } else { i + 1 },
            }
        }
    }

    /// The sample `rec` (of this table's generation) was handed out, counted on `shard`: the
    /// calling thread's heap's (`Shard::SHARED` for none).
    #[inline(always)]
    pub fn add(entries: &Entries, rec: &Record, shard: Shard) {
        let (k, owned) = line(shard);
        Self::add_on(entries, rec, k, owned);
    }

    /// `add` on counter line `k` (`owned`: a line only this thread writes, see `count`).
    #[inline(always)]
    fn add_on(entries: &Entries, rec: &Record, k: usize, owned: bool) {
        let c = at(entries, rec.stack).shard(k);
        // ORDERING: Relaxed — the block's hand-off to its freer orders these before the free's
        // Release updates (see `Entry::counts`).
        count(&c.alloc_samples, 1, Ordering::Relaxed, owned);
        crate::hook::at(crate::hook::Point::ProfCounting);
        count(&c.alloc_objects, rec.objects, Ordering::Relaxed, owned);
        count(&c.alloc_bytes, rec.bytes, Ordering::Relaxed, owned);
    }

    /// Undoes `add(rec, shard)`: no block could be had for that sample. (By the same thread, on
    /// the same `shard`; on a shared line any line would do: only the sums mean anything.)
    pub fn cancel(entries: &Entries, rec: &Record, shard: Shard) {
        let (k, owned) = line(shard);
        let c = at(entries, rec.stack).shard(k);
        // ORDERING: Relaxed — by the thread that added them; nothing was handed out.
        count(
            &c.alloc_samples,
            1u64.wrapping_neg(),
            Ordering::Relaxed,
            owned,
        );
        count(
            &c.alloc_objects,
            rec.objects.wrapping_neg(),
            Ordering::Relaxed,
            owned,
        );
        count(
            &c.alloc_bytes,
            rec.bytes.wrapping_neg(),
            Ordering::Relaxed,
            owned,
        );
    }

    /// The sampled block recorded by `add(rec, _)` was freed (by any thread), counted on
    /// `shard`: the freeing thread's heap's (`Shard::SHARED` for none).
    #[inline(always)]
    pub fn remove(entries: &Entries, rec: &Record, shard: Shard) {
        let (k, owned) = line(shard);
        Self::remove_on(entries, rec, k, owned);
    }

    /// `remove` on counter line `k` (`owned` as for `add_on`).
    #[inline(always)]
    fn remove_on(entries: &Entries, rec: &Record, k: usize, owned: bool) {
        let c = at(entries, rec.stack).shard(k);
        // ORDERING: Release — pairs with the Acquire loads of `Entry::counts` (a snapshot that
        // sees this free, on any line, sees the sample's adds, on any line).
        count(&c.freed_samples, 1, Ordering::Release, owned);
        count(&c.freed_objects, rec.objects, Ordering::Release, owned);
        count(&c.freed_bytes, rec.bytes, Ordering::Release, owned);
    }
}

/// The counter line of a heap's `shard` and whether it is owned: its own line, or the calling
/// thread's shared one (`shared`).
#[inline(always)]
fn line(shard: Shard) -> (usize, bool) {
    match shard.owned() {
        Some(k) => (k, true),
        None => (shared(), false),
    }
}

/// Adds `v` (wrapping) to a counter with the caller's `order` for the store side. On an owned
/// line (`owned`), which no other thread writes (`Shard`), a plain load and store: no locked
/// instruction, no update lost (the line's last store was this thread's own, or ordered before
/// it by the heap's hand-off through the heap pool, so the Relaxed load reads the current sum),
/// and readers (`Entry::counts`) see the old sum or the new. On a shared line an atomic add.
#[inline(always)]
fn count(c: &AtomicU64, v: u64, order: Ordering, owned: bool) {
    if owned {
        // ORDERING: Relaxed load — see above; the store takes the caller's ordering.
        c.store(c.load(Ordering::Relaxed).wrapping_add(v), order);
    } else {
        // ORDERING: the caller's (see its comment).
        c.fetch_add(v, order);
    }
}

/// The calling thread's shared counter line (`shard_of` its thread pointer). The thread pointer is one
/// register (x86-64: the TCB's self pointer at `fs:0`, which the ABI requires; AArch64:
/// `tpidr_el0`), stable for the thread's life, unlike the stack pointer.
#[inline(always)]
fn shared() -> usize {
    if SHARDS == 1 {
        return 0;
    }
    let tp: usize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads the TCB's self pointer, which the x86-64 TLS ABI keeps at `fs:0` for every
    // thread (the C runtime sets it before any code of the thread runs).
    unsafe {
        core::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) tp,
            options(nostack, readonly, preserves_flags))
    };
    #[cfg(target_arch = "aarch64")]
    // SAFETY: reads a register; no memory access.
    unsafe {
        core::arch::asm!("mrs {}, tpidr_el0", out(reg) tp, options(nomem, nostack, preserves_flags))
    };
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        tp = 0;
    }
    shard_of(tp)
}

/// The shard of a thread whose thread pointer is `tp`: its page number modulo `SHARDS`. Any
/// shard is correct (a stack's counts are the sums over its shards); the choice only decides
/// which threads share a line. A thread's TLS block sits at the top of its stack (glibc, musl)
/// and threads' stacks are mapped side by side, so the thread pointers of threads started one
/// after another are a stack size apart: 2 MiB (Rust's default), 8 MiB (glibc's), either plus a
/// guard page — 512, 513, 2048 or 2049 pages, none a multiple of 5, so up to five such threads
/// get five different lines. (The page number modulo 4 put four Rust threads, 512 pages apart,
/// on one line.)
#[inline(always)]
fn shard_of(tp: usize) -> usize {
    // The page number's low 32 bits: the same residues for nearby threads, and a 32-bit
    // remainder is a multiply and a shift (a 64-bit one, seven instructions).
    ((tp >> 12) as u32 % SHARDS as u32) as usize
}

/// Whether the published entry `e` holds exactly `frames`: an inline loop, not the slice `==`,
/// which calls `bcmp` through the PLT (~40 instructions per sample for the few frames a stack
/// usually has).
#[inline(always)]
fn same_frames(e: &Entry, frames: &[usize]) -> bool {
    // ORDERING: Relaxed — the caller's Acquire load of the hash orders these (written once,
    // before it was published).
    e.depth.load(Ordering::Relaxed) == frames.len()
        && e.frames
            .iter()
            .zip(frames)
            .all(|(a, &b)| a.load(Ordering::Relaxed) == b)
}

/// FNV-1a over the frame addresses; odd (never 0 nor `BUSY`).
fn hash(frames: &[usize]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &f in frames {
        h ^= f as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(stack: u32, objects: u64, bytes: u64) -> Record {
        Record {
            stack,
            epoch: 0,
            size: 0,
            objects,
            bytes,
        }
    }

    #[test]
    fn same_stack_same_entry_and_counters_balance() {
        let t = Table::new();
        let e = t.map().unwrap();
        let a = t.intern(e, &[1, 2, 3]);
        let b = t.intern(e, &[1, 2, 4]);
        assert_ne!(a, b);
        assert_eq!(t.intern(e, &[1, 2, 3]), a);
        assert_eq!(e[a as usize].frames(), &[1, 2, 3]);
        let (r1, r2) = (rec(a, 512, 200), rec(a, 256, 50));
        Table::add(e, &r1, Shard::SHARED);
        Table::add(e, &r2, Shard::SHARED);
        Table::remove(e, &r1, Shard::SHARED);
        let c = e[a as usize].counts();
        assert_eq!((c.alloc_samples, c.live_samples), (2, 1));
        assert_eq!((c.alloc_objects, c.live_objects), (3.0, 1.0));
        assert_eq!((c.alloc_bytes, c.live_bytes), (250.0, 50.0));
        Table::remove(e, &r2, Shard::SHARED);
        assert_eq!(e[a as usize].counts().live_bytes, 0.0);
        let r3 = rec(b, 256, 10);
        Table::add(e, &r3, Shard::SHARED);
        Table::cancel(e, &r3, Shard::SHARED);
        assert_eq!(e[b as usize].counts(), Counts::default());
    }

    /// Stack `a`'s counts after the samples (512, 300) and (256, 40) and the first one's free.
    fn assert_one_of_two_live(e: &Entries, a: u32) {
        let c = e[a as usize].counts();
        assert_eq!((c.alloc_samples, c.live_samples), (2, 1));
        assert_eq!((c.alloc_objects, c.live_objects), (3.0, 1.0));
        assert_eq!((c.alloc_bytes, c.live_bytes), (340.0, 40.0));
    }

    /// Stack `a` has nothing live.
    fn assert_none_live(e: &Entries, a: u32) {
        let c = e[a as usize].counts();
        assert_eq!(
            (c.live_samples, c.live_objects, c.live_bytes),
            (0, 0.0, 0.0)
        );
    }

    #[test]
    fn a_stack_counts_the_sums_of_its_shards() {
        // A block sampled on one shard and freed on another (another thread frees it): the
        // stack's counts are the sums over its shards, and nothing is live once all are freed.
        let t = Table::new();
        let e = t.map().unwrap();
        let a = t.intern(e, &[7, 8]);
        let (r1, r2) = (rec(a, 512, 300), rec(a, 256, 40));
        Table::add_on(e, &r1, 0, false);
        Table::add_on(e, &r2, SHARDS - 1, false);
        Table::remove_on(e, &r1, 1, false);
        assert_one_of_two_live(e, a);
        assert!(e[a as usize].used());
        Table::remove_on(e, &r2, 2, false);
        assert_none_live(e, a);
        // A sample cancelled on another shard than its add leaves the stack unused.
        let b = t.intern(e, &[9]);
        let r3 = rec(b, 256, 10);
        Table::add_on(e, &r3, 1, false);
        Table::cancel(e, &r3, Shard::SHARED);
        assert!(!e[b as usize].used());
        assert_eq!(e[b as usize].counts(), Counts::default());
    }

    #[test]
    fn owned_lines_count_with_the_shared_ones() {
        // A block sampled on a heap's owned line and freed on a shared one (a heap without one
        // frees it), another the other way round, a sample cancelled on its owned line: the
        // stack's counts are the sums over every line. (No owned line in the backout: then
        // `Shard(k)` counts on the shared lines.)
        let t = Table::new();
        let e = t.map().unwrap();
        let a = t.intern(e, &[5, 6]);
        let own = Shard(0);
        let (r1, r2) = (rec(a, 512, 300), rec(a, 256, 40));
        Table::add(e, &r1, own);
        Table::add(e, &r2, Shard::SHARED);
        Table::remove(e, &r1, Shard::SHARED);
        assert_one_of_two_live(e, a);
        Table::remove(e, &r2, own);
        assert_none_live(e, a);
        let b = t.intern(e, &[11]);
        let r3 = rec(b, 256, 10);
        Table::add(e, &r3, own);
        Table::cancel(e, &r3, own);
        assert!(!e[b as usize].used());
        if OWNED > 0 {
            // ORDERING: Relaxed — this thread wrote it.
            let on_own = e[a as usize].shards[SHARDS]
                .alloc_samples
                .load(Ordering::Relaxed);
            assert_eq!(on_own, 1, "the owned line counted the owned sample");
        }
    }

    #[test]
    fn threads_on_their_owned_lines_lose_no_count() {
        // Four threads, each with a shard from `claim_shard` (owned while any is left), sample
        // and free blocks of one stack — the frees alternately by the sampler and, handed over
        // a channel, by the next thread — while a fifth takes snapshots: no count is lost (a
        // plain load and store on a line two threads wrote would lose some), and no snapshot
        // sees more frees than samples (the Acquire loads of `freed_*` come first).
        let t = Table::new();
        let e = t.map().unwrap();
        let a = t.intern(e, &[42]);
        let shards: Vec<Shard> = (0..4).map(|_| claim_shard()).collect();
        let owned: Vec<_> = shards.iter().filter_map(|s| s.owned()).collect();
        let mut distinct = owned.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            owned.len(),
            "an owned shard handed out twice: {shards:?}"
        );
        let rounds = 20_000u64;
        let done = std::sync::atomic::AtomicBool::new(false);
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..4).map(|_| std::sync::mpsc::channel()).unzip();
        std::thread::scope(|s| {
            let entry = &e[a as usize];
            let done = &done;
            s.spawn(move || {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    // ORDERING: Acquire, then Relaxed — as `Entry::counts`.
                    let fs = entry.sum(|c| c.freed_samples.load(Ordering::Acquire));
                    let fb = entry.sum(|c| c.freed_bytes.load(Ordering::Acquire));
                    let a_s = entry.sum(|c| c.alloc_samples.load(Ordering::Relaxed));
                    let ab = entry.sum(|c| c.alloc_bytes.load(Ordering::Relaxed));
                    assert!(
                        fs <= a_s && fb <= ab,
                        "frees {fs}/{fb} before samples {a_s}/{ab}"
                    );
                }
            });
            let mut rxs = rxs.into_iter();
            let first = rxs.next().unwrap();
            let mut hs = Vec::new();
            for (k, rx) in core::iter::once(first).chain(rxs).enumerate() {
                let tx = txs[(k + 1) % 4].clone();
                let shard = shards[k];
                hs.push(s.spawn(move || {
                    let x = rec(a, 256, 8);
                    for r in 0..rounds {
                        Table::add(e, &x, shard);
                        if r % 2 == 0 {
                            Table::remove(e, &x, shard);
                        } else {
                            tx.send(x).unwrap();
                        }
                        while let Ok(y) = rx.try_recv() {
                            Table::remove(e, &y, shard);
                        }
                    }
                    drop(tx);
                    rx
                }));
            }
            drop(txs);
            let rxs: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
            for rx in rxs {
                while let Ok(y) = rx.recv() {
                    Table::remove(e, &y, Shard::SHARED);
                }
            }
            done.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        let c = e[a as usize].counts();
        assert_eq!(c.alloc_samples, 4 * rounds);
        assert_eq!((c.live_samples, c.live_bytes), (0, 0.0));
        assert_eq!(c.alloc_bytes, (4 * rounds * 8) as f64);
    }

    #[test]
    fn threads_started_one_after_another_get_different_shards() {
        // Thread pointers a stack size apart (Rust's 2 MiB, glibc's 8 MiB, with or without a
        // guard page): five consecutive threads, five lines. (One shard in the backout.)
        for step in [2 << 20, (2 << 20) + 4096, 8 << 20, (8 << 20) + 4096] {
            for base in [0x7f12_3456_7000usize, 0x7ffd_0000_0000] {
                let mut got: Vec<usize> = (0..5).map(|i| shard_of(base - i * step)).collect();
                got.sort_unstable();
                got.dedup();
                assert_eq!(got.len(), SHARDS.min(5), "step {step:#x}: {got:?}");
            }
        }
    }

    #[test]
    fn threads_alive_at_once_count_on_different_shards() {
        // Four threads alive at once (their stacks, and the TLS blocks at their tops, mapped
        // side by side): their thread pointers' page numbers differ by an odd number, so
        // they do not all share one line. (One shard in the backout.)
        let barrier = std::sync::Barrier::new(4);
        let mut got: Vec<usize> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        shared()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(got.iter().all(|&k| k < SHARDS));
        got.sort_unstable();
        got.dedup();
        if SHARDS > 1 {
            assert!(got.len() >= 2, "four threads on shards {got:?}");
        }
    }

    #[test]
    fn the_last_stack_cache_answers_only_for_its_own_stack_and_generation() {
        let t = Table::new();
        let e = t.map().unwrap();
        let mut last = LastStack::new();
        let a = t.intern_cached(e, &[1, 2, 3], &mut last, 0);
        assert_eq!(t.intern_cached(e, &[1, 2, 3], &mut last, 0), a);
        assert_eq!(t.intern(e, &[1, 2, 3]), a);
        // Another stack, a prefix of it, the empty one: each its own entry, cache or not.
        for st in [&[1, 2, 4][..], &[1, 2], &[], &[1, 2, 3, 4]] {
            let i = t.intern_cached(e, st, &mut last, 0);
            assert_ne!(i, a);
            assert_eq!(i, t.intern(e, st));
            assert_eq!(e[i as usize].frames(), st);
            assert_eq!(t.intern_cached(e, st, &mut last, 0), i);
        }
        // A forked child's reset: the cached entry (the empty stack's, whose cleared entry has the
        // same depth) is not trusted in the next generation; the stack is interned afresh.
        t.clear();
        let e = t.map().unwrap();
        let i = t.intern_cached(e, &[], &mut last, 1);
        assert_eq!(e[i as usize].hash.load() & 1, 1, "published");
        assert_eq!(t.intern_cached(e, &[], &mut last, 1), i);
    }

    #[test]
    fn full_table_counts_in_the_overflow_entry() {
        let t = Table::new();
        let e = t.map().unwrap();
        let mut last = 1;
        for i in 0..CAPACITY {
            last = t.intern(e, &[i + 1]);
        }
        assert_eq!(last, 0, "beyond MAX_USED stacks go to the overflow entry");
        assert_eq!(t.used.load(Ordering::Relaxed), MAX_USED);
    }

    #[test]
    fn threads_interning_and_counting_at_once_agree() {
        // Four threads intern the same 64 stacks in different orders and count a sample on each
        // per round; every stack ends with one entry per thread at most, and the sums balance.
        let t = Table::new();
        let e = t.map().unwrap();
        let rounds = 200u64;
        std::thread::scope(|s| {
            for k in 0..4usize {
                let t = &t;
                s.spawn(move || {
                    for r in 0..rounds as usize {
                        for j in 0..64usize {
                            let st = [(j * 7 + k + r) % 64 + 1, 99];
                            let i = t.intern(e, &st);
                            assert_eq!(e[i as usize].frames(), &st);
                            let x = rec(i, 256, 8);
                            Table::add(e, &x, Shard::SHARED);
                            Table::remove(e, &x, Shard::SHARED);
                            Table::add(e, &x, Shard::SHARED);
                        }
                    }
                });
            }
        });
        let (mut samples, mut live, mut entries) = (0, 0, 0);
        for x in e {
            let c = x.counts();
            samples += c.alloc_samples;
            live += c.live_samples;
            entries += x.used() as usize;
            assert_eq!(c.live_bytes, c.live_samples as f64 * 8.0);
        }
        assert_eq!(samples, 4 * rounds * 64 * 2);
        assert_eq!(live, 4 * rounds * 64);
        assert!((64..=64 * 4).contains(&entries), "{entries} entries");
    }
}
