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
//! Invariant: a slot's bit in `used` is set iff its record describes a live sampled block, and
//! that block's weight is counted in the stack table entry its record names.
//! Used under the profile lock only.

use core::ptr::NonNull;

use crate::config::SUPERSLAB_SIZE;
use crate::debug::{fatal, Where};
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
    next: *mut Arena,
    /// Bit `i`: slot `i` holds a live block (bit 0, the header slot, always set).
    used: u64,
    records: [Record; SLOTS],
}

/// Every arena, newest first.
pub struct Arenas {
    arenas: *mut Arena,
}

// SAFETY: arenas are only touched under the profile lock.
unsafe impl Send for Arenas {}

impl Arenas {
    pub const fn new() -> Self {
        Self {
            arenas: core::ptr::null_mut(),
        }
    }

    /// A slot for a sampled request of at most `SLOT_SIZE` bytes and alignment, its record set
    /// to `rec`, all zeros if `zero`. `None` if the OS refuses. (A torn slot after a fork — the
    /// bit and the record are each written once — is at worst a slot never freed.)
    pub fn alloc(&mut self, rec: Record, zero: bool) -> Option<NonNull<u8>> {
        debug_assert!(rec.size <= SLOT_SIZE);
        let p = self.alloc_slot(rec)?;
        if zero {
            // SAFETY: a slot of `SLOT_SIZE >= size` bytes, ours (live to memcheck already).
            unsafe { core::ptr::write_bytes(p.as_ptr(), 0, rec.size) };
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
            magic: SAMPLED_MAGIC,
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
    /// Frees the sampled block at `ptr`; returns its record.
    ///
    /// # Safety
    /// As for `record`; the block is not used afterwards.
    pub unsafe fn free(&mut self, head: NonNull<RegionHead>, ptr: *mut u8) -> Record {
        // SAFETY: an arena header per the contract; we hold the profile lock.
        let a = unsafe { head.cast::<Arena>().as_mut() };
        let slot = slot_of(a, ptr);
        valgrind::freelike(ptr);
        a.used &= !(1 << slot);
        core::mem::replace(&mut a.records[slot], NO_RECORD)
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

/// The record of the live sampled block at `ptr`.
///
/// # Safety
/// `head` is the registry's answer for `ptr` and carries `SAMPLED_MAGIC`; the profile lock is
/// held.
pub unsafe fn record(head: NonNull<RegionHead>, ptr: *mut u8) -> Record {
    // SAFETY: an arena header per the contract.
    let a = unsafe { head.cast::<Arena>().as_ref() };
    a.records[slot_of(a, ptr)]
}

/// The record of `ptr` if it is the start of a live sampled block (no abort otherwise).
///
/// # Safety
/// As for `record`.
pub unsafe fn peek(head: NonNull<RegionHead>, ptr: *mut u8) -> Option<Record> {
    // SAFETY: an arena header per the contract.
    let a = unsafe { head.cast::<Arena>().as_ref() };
    let off = (ptr as usize).wrapping_sub(a as *const Arena as usize);
    let slot = off >> SLOT_SHIFT;
    let live = off & (SLOT_SIZE - 1) == 0 && slot > 0 && slot < SLOTS;
    (live && a.used & (1 << slot) != 0).then(|| a.records[slot])
}
