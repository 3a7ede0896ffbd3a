//! Where sampled small blocks live: arenas, registered regions of their own, so `free`
//! recognises a sampled block by its region's magic on the registry path — the path a pointer
//! takes when the thread's hint cache misses, which it always does for these regions (only
//! SuperSlabs are hinted). The common free path (hint hit, or a SuperSlab from the registry) never
//! looks for a sample. tcmalloc does the same: a sampled object gets a span of its own.
//!
//! An arena is one `SUPERSLAB_SIZE` mapping cut into `SLOT_SIZE` slots; slot 0 holds the header
//! (slot records and the used-slot mask), slots 1.. hold one sampled block each, at the slot's
//! start. Arenas serve sampled requests of at most `SLOT_SIZE` bytes and alignment; bigger ones
//! are large blocks tagged with `SAMPLED_LARGE_MAGIC` (`prof::large_record`). Arenas are never
//! unmapped; freed slots are reused.
//!
//! Invariant: a slot's bit in `used` is set iff its record describes a live sampled block (or
//! its claimer is about to write the record), and that block's weight is counted in the stack
//! table entry its record names (or its sampler is about to count it). No lock: a slot is
//! claimed and released in its arena's used-slot word (`prof::slots::SlotMask`, whose orderings
//! hand the record from one holder to the next); with `config::PROF_LOCKFREE_SLOTS` off the
//! callers hold the profile lock around both.

use core::ptr::NonNull;

use super::slots::SlotMask;
use crate::config::SUPERSLAB_SIZE;
use crate::debug::{fatal, Where};
use crate::list::{PushList, Pushed};
use crate::os;
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

/// What the profile box remembers of a live sampled block: where it counted itself, and how
/// much, so that its free subtracts exactly that.
#[derive(Clone, Copy)]
pub struct Record {
    /// Stack table index.
    pub stack: u32,
    /// The table generation `stack` belongs to (`prof::EPOCH`).
    pub epoch: u32,
    /// Requested size.
    pub size: usize,
    /// The requests this sample stands for (its weight), in units of 1/`table::OBJECT_UNIT`.
    pub objects: u64,
    /// Its weight times its size, rounded to whole bytes.
    pub bytes: u64,
}

impl Record {
    /// The record of a sample of `size` bytes standing for `weight` requests.
    #[inline(always)]
    pub fn new(stack: u32, epoch: u32, size: usize, weight: f64) -> Self {
        // Both amounts are finite, at least 0.5 and clamped below 2^62, so the conversions need
        // no saturation code (`as` adds half a dozen instructions each, a u64 one a dozen).
        const MAX: f64 = (1u64 << 62) as f64;
        let objects = (weight * super::table::OBJECT_UNIT + 0.5).min(MAX);
        let bytes = (weight * size as i64 as f64 + 0.5).min(MAX);
        debug_assert!(objects >= 0.5 && bytes >= 0.5, "a weight is at least 1");
        // SAFETY: finite (a weight is finite and at least 1; a size at most `isize::MAX`) and in
        // [0.5, 2^62]: representable as i64 after truncation.
        let (objects, bytes) = unsafe {
            (
                objects.to_int_unchecked::<i64>() as u64,
                bytes.to_int_unchecked::<i64>() as u64,
            )
        };
        Self {
            stack,
            epoch,
            size,
            objects,
            bytes,
        }
    }

    /// `new` from a weight in 32.32 fixed point (`sampler::weight_fixed_now`;
    /// `config::PROF_LEAN_SAMPLE`): objects a shift, bytes one multiplication (both rounded to
    /// nearest, as `new`'s; they differ from `new`'s by at most one unit, where the exact product
    /// lies within the weight's rounding of a half).
    #[inline(always)]
    pub fn from_fixed(stack: u32, epoch: u32, size: usize, weight: u64) -> Self {
        const SHIFT: u32 = 32 - super::table::OBJECT_UNIT_BITS;
        debug_assert!((super::sampler::FIXED_ONE..=1 << 62).contains(&weight));
        // At most 2^(62 - SHIFT): no clamp.
        let objects = (weight + (1 << (SHIFT - 1))) >> SHIFT;
        // One `mul`: a sampled medium request's product fits 64 bits (a weight below 2^38 —
        // at most ~33 where the table gives it — times a size below 2^26); rounded to nearest.
        let bytes = match weight.checked_mul(size as u64) {
            Some(p) if p < 1 << 63 => (p + (1 << 31)) >> 32,
            _ => bytes_wide(weight, size),
        };
        Self {
            stack,
            epoch,
            size,
            objects,
            bytes,
        }
    }
}

/// `Record::from_fixed`'s bytes where the product needs 128 bits: rounded, clamped to 2^62 as
/// `Record::new`'s.
#[cold]
#[inline(never)]
fn bytes_wide(weight: u64, size: usize) -> u64 {
    ((weight as u128 * size as u128 + (1 << 31)) >> 32).min(1 << 62) as u64
}

/// Bytes a `Record` takes where a block carries it (a sampled medium block's tail).
pub const RECORD_BYTES: usize = core::mem::size_of::<Record>();
const _: () = assert!(RECORD_BYTES % 8 == 0 && core::mem::align_of::<Record>() <= 8);

const NO_RECORD: Record = Record {
    stack: 0,
    epoch: 0,
    size: 0,
    objects: 0,
    bytes: 0,
};

#[repr(C)]
struct Arena {
    /// `SAMPLED_MAGIC` (a `RegionHead`).
    magic: u64,
    /// The next older arena; written once, before the arena is published on `ARENAS`.
    next: *mut Arena,
    /// Bit `i`: slot `i` holds a live block (bit 0, the header slot, always set).
    used: SlotMask,
    /// Slot `i`'s record: written by the slot's claimer after its claim, read by the block's
    /// holder (its freer) before the release (`SlotMask` orders the two holders).
    records: [Record; SLOTS],
}

/// Every arena, newest first; arenas are pushed and never taken off.
static ARENAS: PushList<Arena> = PushList::new();

impl Pushed for Arena {
    #[inline(always)]
    unsafe fn set_next(node: *mut Self, next: *mut Self) {
        // SAFETY: not yet published (the trait's contract).
        unsafe { (*node).next = next };
    }

    #[inline(always)]
    unsafe fn next(node: *mut Self) -> *mut Self {
        // SAFETY: a published arena (never unmapped); `next` was written before its push.
        unsafe { (*node).next }
    }
}

/// A slot for a sampled request of at most `SLOT_SIZE` bytes and alignment, its record set to
/// `rec`, all zeros if `zero`. `None` if the OS refuses. No lock: the slot is claimed in its
/// arena's used-slot word (`SlotMask`), a new arena published with one CAS; two threads finding
/// every arena full at once may both map one (one more 2 MiB reservation, used later). (A
/// fork while another thread was between its claim and its record's store leaves that slot
/// never freed in the child.)
pub fn alloc(rec: Record, zero: bool) -> Option<NonNull<u8>> {
    debug_assert!(rec.size <= SLOT_SIZE);
    let p = alloc_slot(rec)?;
    if zero {
        // SAFETY: a slot of `SLOT_SIZE >= size` bytes, ours (live to memcheck already).
        unsafe { core::ptr::write_bytes(p.as_ptr(), 0, rec.size) };
    }
    Some(p)
}

fn alloc_slot(rec: Record) -> Option<NonNull<u8>> {
    // Every arena's header and link were written before its push (`PushList::head`'s Acquire).
    let mut a = ARENAS.head();
    while !a.is_null() {
        // SAFETY: a published arena (never unmapped), its header initialised (above).
        if let Some(slot) = unsafe { (*a).used.claim(SLOTS) } {
            // SAFETY: as above; the slot is ours from its claim.
            return Some(unsafe { place(a, slot, rec) });
        }
        // SAFETY: as above.
        a = unsafe { Arena::next(a) };
    }
    let a = new_arena()?.as_ptr();
    // SAFETY: a fresh arena, not yet published: only this thread sees it.
    let slot = unsafe { (*a).used.claim(SLOTS) }.unwrap_or_else(|| {
        not_a_block("a fresh arena has no free slot", a.cast());
    });
    // SAFETY: as above; the slot is ours from its claim.
    let p = unsafe { place(a, slot, rec) };
    // SAFETY: not yet published (above); arenas are never unmapped.
    unsafe { ARENAS.push(a) };
    Some(p)
}

/// Writes the record of the block in `slot` of `a` and hands the block out.
///
/// # Safety
/// `a` is a live arena and the caller has just claimed `slot` in it.
unsafe fn place(a: *mut Arena, slot: usize, rec: Record) -> NonNull<u8> {
    // SAFETY: per the contract the record is the caller's until it hands the block out; a raw
    // place write, no reference to the shared header.
    unsafe { (&raw mut (*a).records[slot]).write(rec) };
    let p = a.cast::<u8>().wrapping_add(slot << SLOT_SHIFT);
    valgrind::malloclike(p, rec.size, false);
    // SAFETY: inside a non-null mapping.
    unsafe { NonNull::new_unchecked(p) }
}

fn new_arena() -> Option<NonNull<Arena>> {
    let base = os::reserve_aligned(SUPERSLAB_SIZE, SUPERSLAB_SIZE)?;
    let a = base.cast::<Arena>();
    // SAFETY: a fresh mapping, large enough for the header (const-asserted).
    unsafe {
        a.as_ptr().write(Arena {
            magic: SAMPLED_MAGIC,
            next: core::ptr::null_mut(),
            used: SlotMask::new(),
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

/// Frees the sampled block at `ptr`; returns its record.
///
/// # Safety
/// As for `record`, less the lock; the caller holds the block (it is not used afterwards).
pub unsafe fn free(head: NonNull<RegionHead>, ptr: *mut u8) -> Record {
    let a = head.cast::<Arena>().as_ptr();
    // SAFETY: an arena per the contract (arenas are never unmapped).
    let slot = unsafe { slot_of(a, ptr) };
    // SAFETY: the caller holds the slot's block, so its record is stable until the release.
    let rec = unsafe { (&raw const (*a).records[slot]).read() };
    valgrind::freelike(ptr);
    // SAFETY: as above; the word is atomic.
    if !unsafe { &(*a).used }.release(slot) {
        // Another free of the same block got there between `slot_of`'s check and here.
        not_a_block(
            "sampled block freed twice (its slot is free; double free)",
            ptr,
        );
    }
    rec
}

fn not_a_block(what: &str, ptr: *mut u8) -> ! {
    fatal("profile", what, Where::ptr(ptr as usize))
}

/// The arena slot index of `ptr`, checked to be a live block's start.
///
/// # Safety
/// `a` is a live arena.
unsafe fn slot_of(a: *const Arena, ptr: *mut u8) -> usize {
    let off = (ptr as usize).wrapping_sub(a as usize);
    let slot = off >> SLOT_SHIFT;
    if off & (SLOT_SIZE - 1) != 0 || slot == 0 || slot >= SLOTS {
        not_a_block("pointer is not the start of a sampled block", ptr);
    }
    // SAFETY: per the contract; the word is atomic (no reference to the records is made).
    if !unsafe { &(*a).used }.held(slot) {
        not_a_block(
            "sampled block freed twice (its slot is free; double free)",
            ptr,
        );
    }
    slot
}

/// The record of the live sampled block at `ptr`.
///
/// # Safety
/// `head` is the registry's answer for `ptr` and carries `SAMPLED_MAGIC`; the caller holds the
/// block (it stays live meanwhile).
pub unsafe fn record(head: NonNull<RegionHead>, ptr: *mut u8) -> Record {
    let a = head.cast::<Arena>().as_ptr();
    // SAFETY: an arena per the contract; the caller holds the slot's block, so its record is
    // stable (raw place reads: other slots' records may be written meanwhile).
    unsafe { (&raw const (*a).records[slot_of(a, ptr)]).read() }
}

/// The record of `ptr` if it is the start of a live sampled block (no abort otherwise).
///
/// # Safety
/// As for `record`.
pub unsafe fn peek(head: NonNull<RegionHead>, ptr: *mut u8) -> Option<Record> {
    let a = head.cast::<Arena>().as_ptr();
    let off = (ptr as usize).wrapping_sub(a as usize);
    let slot = off >> SLOT_SHIFT;
    let live = off & (SLOT_SIZE - 1) == 0 && slot > 0 && slot < SLOTS;
    // SAFETY: as for `record`.
    (live && unsafe { &(*a).used }.held(slot))
        .then(|| unsafe { (&raw const (*a).records[slot]).read() })
}
