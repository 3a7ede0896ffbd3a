//! Where sampled blocks live: registered regions of their own, so `free` recognises a sampled
//! block by its region's magic on the registry path — the path a pointer takes when the thread's
//! hint cache misses, which it always does for these regions (only SuperSlabs are hinted). The
//! common free path (hint hit, or a SuperSlab from the registry) never looks for a sample.
//! tcmalloc does the same: a sampled object gets a span of its own.
//!
//! Two region kinds, both starting with `SampledHead`:
//! - **arena**: one `SUPERSLAB_SIZE` mapping cut into `SLOT_SIZE` slots; slot 0 holds the header
//!   (slot records and the used-slot mask), slots 1.. hold one sampled block each, at the slot's
//!   start. Serves sampled requests of at most `SLOT_SIZE` bytes and alignment. Arenas are never
//!   unmapped; freed slots are reused.
//! - **single**: one mapping per block, laid out like a large block (header in the page before
//!   the block), for bigger or more aligned requests; unmapped on free.
//!
//! Invariant: a slot's bit in `used` is set iff its record describes a live sampled block, and
//! that block's weight is counted in the stack table entry its record names.
//! Used under the profile lock only.

use core::ptr::NonNull;

use crate::config::{PAGE_SIZE, SUPERSLAB_SIZE};
use crate::debug::{fatal, Where};
use crate::os;
use crate::purge::{self, Stamp, Sweep};
use crate::registry::{self, RegionHead};
use crate::valgrind;

pub const SAMPLED_MAGIC: u64 = 0x4841_4b4d_5341_4d50; // "HAKMSAMP"

const SLOT_SHIFT: usize = 15;
/// Size and alignment of an arena slot.
pub const SLOT_SIZE: usize = 1 << SLOT_SHIFT;
const SLOTS: usize = SUPERSLAB_SIZE / SLOT_SIZE;
const _: () = assert!(SLOTS <= 64, "the used-slot mask is one u64");
const _: () = assert!(SLOT_SIZE >= crate::config::MAX_SMALL_SIZE);
const _: () = assert!(core::mem::size_of::<Arena>() <= SLOT_SIZE);

const ARENA: u64 = 1;
const SINGLE: u64 = 2;

/// What the profile box remembers of a live sampled block.
#[derive(Clone, Copy)]
pub struct Record {
    /// Stack table index.
    pub stack: u32,
    /// Requested size.
    pub size: usize,
    /// Requests this sample stands for.
    pub weight: f64,
    /// The table generation `stack` belongs to (`prof::State::epoch`).
    pub epoch: u32,
}

const NO_RECORD: Record = Record {
    stack: 0,
    epoch: 0,
    size: 0,
    weight: 0.0,
};

#[repr(C)]
struct SampledHead {
    magic: u64,
    kind: u64,
}

#[repr(C)]
struct Arena {
    head: SampledHead,
    next: *mut Arena,
    /// Bit `i`: slot `i` holds a live block (bit 0, the header slot, always set).
    used: u64,
    records: [Record; SLOTS],
}

#[repr(C)]
struct Single {
    head: SampledHead,
    base: *mut u8,
    map_len: usize,
    record: Record,
}

/// Freed singles kept mapped (and committed) for reuse, like the large box's cache: without it
/// every sampled big request paid `mmap`, page faults and `munmap` (the bench runner's
/// medium-churn ran 17 times slower with the profiler on; docs/profiling.md). Bounded by
/// `SINGLE_CACHE_SLOTS` mappings and `SINGLE_CACHE_BYTES` (oldest released first), and purged on
/// the purge clock like the large cache (`purge`).
const SINGLE_CACHE_SLOTS: usize = 32;
const SINGLE_CACHE_BYTES: usize = 256 << 20;

#[derive(Clone, Copy)]
struct CachedSingle {
    base: *mut u8,
    len: usize,
    freed_at: Stamp,
}

struct SingleCache {
    /// Dead, unregistered single mappings, oldest first.
    maps: [CachedSingle; SINGLE_CACHE_SLOTS],
    len: usize,
    bytes: usize,
}

impl SingleCache {
    const fn new() -> Self {
        Self {
            maps: [CachedSingle {
                base: core::ptr::null_mut(),
                len: 0,
                freed_at: 0,
            }; SINGLE_CACHE_SLOTS],
            len: 0,
            bytes: 0,
        }
    }

    /// Unlinks entry `i`.
    fn remove(&mut self, i: usize) -> CachedSingle {
        let m = self.maps[i];
        self.maps.copy_within(i + 1..self.len, i);
        self.len -= 1;
        self.bytes -= m.len;
        m
    }

    /// The shortest cached mapping of at least `need` bytes and at most twice that, unlinked.
    fn take(&mut self, need: usize) -> Option<(NonNull<u8>, usize)> {
        let mut best: Option<usize> = None;
        for (i, m) in self.maps[..self.len].iter().enumerate() {
            if m.len >= need && m.len / 2 <= need && best.is_none_or(|b| m.len < self.maps[b].len) {
                best = Some(i);
            }
        }
        let m = self.remove(best?);
        Some((NonNull::new(m.base)?, m.len))
    }

    /// Keeps the dead mapping `(base, len)`, releasing the oldest ones beyond the bounds.
    fn put(&mut self, base: NonNull<u8>, len: usize) {
        if len > SINGLE_CACHE_BYTES {
            release(base, len);
            return;
        }
        while self.len == SINGLE_CACHE_SLOTS || self.bytes + len > SINGLE_CACHE_BYTES {
            let old = self.remove(0);
            // SAFETY: cached mappings are non-null.
            release(unsafe { NonNull::new_unchecked(old.base) }, old.len);
        }
        self.maps[self.len] = CachedSingle {
            base: base.as_ptr(),
            len,
            freed_at: purge::now(),
        };
        self.len += 1;
        self.bytes += len;
    }

    /// Releases the cached mappings `sweep` covers (the oldest come first).
    fn purge(&mut self, sweep: Sweep) {
        while self.len > 0 && sweep.covers(self.maps[0].freed_at) {
            let old = self.remove(0);
            // SAFETY: cached mappings are non-null.
            release(unsafe { NonNull::new_unchecked(old.base) }, old.len);
        }
    }
}

/// Unmaps a dead single mapping. A refused release is counted, reported once and decommitted by
/// `os`; the range stays mapped and unused (a bounded leak of address space).
fn release(base: NonNull<u8>, len: usize) {
    // SAFETY: the mapping is ours and dead.
    let _released = unsafe { os::release(base, len) };
}

/// Every arena, newest first, and the cached singles.
pub struct Arenas {
    arenas: *mut Arena,
    singles: SingleCache,
}

// SAFETY: arenas are only touched under the profile lock.
unsafe impl Send for Arenas {}

impl Arenas {
    pub const fn new() -> Self {
        Self {
            arenas: core::ptr::null_mut(),
            singles: SingleCache::new(),
        }
    }

    /// Forgets the cached singles (a forked child whose profile lock was held at the fork
    /// instant: the cache's array may be half shifted, and a mapping listed twice would be handed
    /// out twice). They stay mapped, unused: a leak in the child only. Arenas stay: a slot's bit
    /// and its record are each written once, so a torn slot is at worst a slot never freed.
    pub fn forget_cache(&mut self) {
        self.singles = SingleCache::new();
    }

    /// Releases the cached singles `sweep` covers.
    pub fn purge(&mut self, sweep: Sweep) {
        self.singles.purge(sweep);
    }

    /// A block for a sampled request, its record set to `rec`, all zeros if `zero`. `None` if
    /// the OS refuses.
    pub fn alloc(
        &mut self,
        size: usize,
        align: usize,
        rec: Record,
        zero: bool,
    ) -> Option<NonNull<u8>> {
        let (p, fresh) = if size <= SLOT_SIZE && align <= SLOT_SIZE {
            (self.alloc_slot(rec)?, false)
        } else {
            self.alloc_single(size, align, rec)?
        };
        if zero && !fresh {
            // SAFETY: a block of at least `size` bytes, ours (live to memcheck already).
            unsafe { core::ptr::write_bytes(p.as_ptr(), 0, size) };
        }
        Some(p)
    }

    fn alloc_slot(&mut self, rec: Record) -> Option<NonNull<u8>> {
        let full = u64::MAX >> (64 - SLOTS);
        let mut a = self.arenas;
        // SAFETY: arenas are never unmapped; we hold the profile lock.
        while !a.is_null() && unsafe { (*a).used } == full {
            // SAFETY: as above.
            a = unsafe { (*a).next };
        }
        if a.is_null() {
            a = new_arena()?.as_ptr();
            // SAFETY: a fresh arena, not yet on the list.
            unsafe { (*a).next = self.arenas };
            self.arenas = a;
        }
        // SAFETY: a registered arena; we hold the profile lock.
        let arena = unsafe { &mut *a };
        let slot = (!arena.used).trailing_zeros() as usize;
        arena.used |= 1 << slot;
        arena.records[slot] = rec;
        let p = (a as *mut u8).wrapping_add(slot << SLOT_SHIFT);
        valgrind::malloclike(p, rec.size, false);
        NonNull::new(p)
    }
}

fn new_arena() -> Option<NonNull<Arena>> {
    let base = os::reserve_aligned(SUPERSLAB_SIZE, SUPERSLAB_SIZE)?;
    let a = base.cast::<Arena>();
    // SAFETY: a fresh mapping, large enough for the header (const-asserted).
    unsafe {
        a.as_ptr().write(Arena {
            head: SampledHead {
                magic: SAMPLED_MAGIC,
                kind: ARENA,
            },
            next: core::ptr::null_mut(),
            used: 1,
            records: [NO_RECORD; SLOTS],
        })
    };
    if !registry::register(base.as_ptr() as usize, a.cast::<RegionHead>()) {
        // SAFETY: never published. A refused release is counted and decommitted by `os` (the
        // range then stays mapped, unused: a bounded leak of address space).
        let _released = unsafe { os::release(base, SUPERSLAB_SIZE) };
        return None;
    }
    Some(a)
}

impl Arenas {
    /// A single mapping for a request too big or too aligned for a slot: a cached one when one
    /// fits, else a fresh one.
    /// The block and whether its mapping is fresh (zeroed).
    fn alloc_single(
        &mut self,
        size: usize,
        align: usize,
        rec: Record,
    ) -> Option<(NonNull<u8>, bool)> {
        let offset = align.max(PAGE_SIZE);
        let need = offset.checked_add(size).and_then(os::page_round)?;
        // Lengths rounded up to a quarter of their power of two (at most 25% more address
        // space, no more RSS), so that mappings of a size class are interchangeable in the cache.
        let need = need.checked_next_multiple_of((need.next_power_of_two() / 8).max(PAGE_SIZE))?;
        // Cached mappings start on a `SUPERSLAB_SIZE` boundary: they serve any alignment up to it.
        let cached = if align <= SUPERSLAB_SIZE {
            self.singles.take(need)
        } else {
            None
        };
        let (base, map_len, fresh) = match cached {
            Some((base, len)) => (base, len, false),
            None => (
                os::reserve_aligned(need, align.max(SUPERSLAB_SIZE))?,
                need,
                true,
            ),
        };
        let user = base.as_ptr().wrapping_add(offset);
        let head = user.wrapping_sub(PAGE_SIZE).cast::<Single>();
        // SAFETY: the page before `user` lies inside the mapping, which is ours and dead.
        unsafe {
            head.write(Single {
                head: SampledHead {
                    magic: SAMPLED_MAGIC,
                    kind: SINGLE,
                },
                base: base.as_ptr(),
                map_len,
                record: rec,
            })
        };
        // SAFETY: inside the mapping, so non-null.
        let head = unsafe { NonNull::new_unchecked(head) };
        if !registry::register(user as usize, head.cast::<RegionHead>()) {
            // Never published.
            release(base, map_len);
            return None;
        }
        valgrind::malloclike(user, size, fresh);
        Some((NonNull::new(user)?, fresh))
    }

    /// Frees the sampled block at `ptr`; returns its record.
    ///
    /// # Safety
    /// As for `record`; the block is not used afterwards.
    pub unsafe fn free(&mut self, head: NonNull<RegionHead>, ptr: *mut u8) -> Record {
        // SAFETY: per the contract.
        match unsafe { head.cast::<SampledHead>().as_ref().kind } {
            ARENA => {
                // SAFETY: an arena header; we hold the profile lock.
                let a = unsafe { head.cast::<Arena>().as_mut() };
                let slot = slot_of(a, ptr);
                valgrind::freelike(ptr);
                a.used &= !(1 << slot);
                core::mem::replace(&mut a.records[slot], NO_RECORD)
            }
            _ => {
                // SAFETY: a single's header.
                let s = unsafe { head.cast::<Single>().as_ref() };
                check_single(s, ptr);
                let (rec, base, len) = (s.record, s.base, s.map_len);
                valgrind::freelike(ptr);
                registry::unregister(ptr as usize);
                // SAFETY: a mapping is never at address 0.
                self.singles
                    .put(unsafe { NonNull::new_unchecked(base) }, len);
                rec
            }
        }
    }
}

fn not_a_block(what: &str, ptr: *mut u8) -> ! {
    fatal("profile", what, Where::ptr(ptr as usize))
}

/// The arena slot index of `ptr`, checked to be a live block's start.
fn slot_of(a: &Arena, ptr: *mut u8) -> usize {
    let off = ptr as usize - a as *const Arena as usize;
    let slot = off >> SLOT_SHIFT;
    if off & (SLOT_SIZE - 1) != 0 || slot == 0 || slot >= SLOTS {
        not_a_block("pointer is not the start of a sampled block", ptr);
    }
    if a.used & (1 << slot) == 0 {
        not_a_block(
            "sampled block freed twice (its slot is free; double free)",
            ptr,
        );
    }
    slot
}

fn check_single(s: &Single, ptr: *mut u8) {
    if s as *const Single as usize + PAGE_SIZE != ptr as usize {
        not_a_block("pointer is not the start of a sampled block", ptr);
    }
}

/// The record of the live sampled block at `ptr`.
///
/// # Safety
/// `head` is the registry's answer for `ptr` and carries `SAMPLED_MAGIC`; the profile lock is
/// held.
pub unsafe fn record(head: NonNull<RegionHead>, ptr: *mut u8) -> Record {
    // SAFETY: per the contract every sampled region starts with `SampledHead`.
    match unsafe { head.cast::<SampledHead>().as_ref().kind } {
        ARENA => {
            // SAFETY: an arena header.
            let a = unsafe { head.cast::<Arena>().as_ref() };
            a.records[slot_of(a, ptr)]
        }
        _ => {
            // SAFETY: a single's header.
            let s = unsafe { head.cast::<Single>().as_ref() };
            check_single(s, ptr);
            s.record
        }
    }
}

/// The record of `ptr` if it is the start of a live sampled block (no abort otherwise).
///
/// # Safety
/// As for `record`.
pub unsafe fn peek(head: NonNull<RegionHead>, ptr: *mut u8) -> Option<Record> {
    // SAFETY: per the contract.
    match unsafe { head.cast::<SampledHead>().as_ref().kind } {
        ARENA => {
            // SAFETY: an arena header.
            let a = unsafe { head.cast::<Arena>().as_ref() };
            let off = (ptr as usize).wrapping_sub(a as *const Arena as usize);
            let slot = off >> SLOT_SHIFT;
            let live = off & (SLOT_SIZE - 1) == 0 && slot > 0 && slot < SLOTS;
            (live && a.used & (1 << slot) != 0).then(|| a.records[slot])
        }
        _ => {
            // SAFETY: a single's header.
            let s = unsafe { head.cast::<Single>().as_ref() };
            (s as *const Single as usize + PAGE_SIZE == ptr as usize).then_some(s.record)
        }
    }
}

/// Usable bytes of the sampled block at `ptr`: its request rounded up to 16 (so a `realloc` that
/// grows it moves it, and its new size is counted).
///
/// # Safety
/// As for `record`.
pub unsafe fn usable_size(head: NonNull<RegionHead>, ptr: *mut u8) -> usize {
    // SAFETY: per the contract.
    unsafe { record(head, ptr) }
        .size
        .next_multiple_of(crate::config::MIN_ALIGN)
}
