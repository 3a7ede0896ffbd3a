//! Hint box: a per-thread cache of recently used SuperSlabs, consulted by `free` before the
//! registry (feature `tls-hint`).
//!
//! Boundary: remembers `(SuperSlab, generation)` pairs and answers "this address is in SuperSlab
//! S" only if S's generation still equals the remembered one. A retired or reused SuperSlab has a
//! new generation, so a stale hint is detected and the caller falls back to the registry; a stale
//! hint is never used to free into the wrong slab or class.

use crate::config::{HINT_ENTRIES, SUPERSLAB_MASK, SUPERSLAB_SHIFT};
use crate::mutant;
use crate::slab::superslab::SuperSlab;

/// Direct-mapped by SuperSlab address: entry `(base >> SUPERSLAB_SHIFT) % HINT_ENTRIES` is the
/// only one that can hold SuperSlab `base`, so a lookup is one index, one compare and the
/// generation check (the 4-way search it replaced cost 13 instructions per remote free).
pub struct HintCache {
    entries: [Entry; HINT_ENTRIES],
}

/// A SuperSlab and the generation it was remembered at, side by side in 16 bytes aligned to 16,
/// so that a lookup reads one cache line of the cache (as two arrays, it read two).
#[derive(Clone, Copy)]
#[repr(C, align(16))]
struct Entry {
    /// A SuperSlab's address, or `NO_SS` (never a SuperSlab address: they are aligned, and never
    /// null, so no null test is needed either).
    ss: *const SuperSlab,
    generation: u64,
}

const EMPTY: Entry = Entry {
    ss: NO_SS,
    generation: 0,
};

const NO_SS: *const SuperSlab = core::ptr::without_provenance(1);

const _: () = assert!(HINT_ENTRIES.is_power_of_two());

/// `size_of::<Entry>() == 1 << ENTRY_SHIFT`.
const ENTRY_SHIFT: usize = 4;
const _: () = assert!(core::mem::size_of::<Entry>() == 1 << ENTRY_SHIFT);
const _: () = assert!(core::mem::offset_of!(Entry, generation) == 8);

#[inline(always)]
fn index(addr: usize) -> usize {
    (addr >> SUPERSLAB_SHIFT) & (HINT_ENTRIES - 1)
}

/// What a hint lookup found.
#[derive(Debug, PartialEq, Eq)]
pub enum Hint {
    Hit(*const SuperSlab),
    /// An entry matched the address but its generation changed.
    Stale,
    Miss,
}

impl HintCache {
    /// Writes an empty cache at `p` in place, entry by entry (`Heap::init`): `p.write(new())`
    /// built the 1 KiB value on the stack and copied it, the largest part of a thread's first
    /// call's stack (docs/design.md, "Stack depth").
    ///
    /// # Safety
    /// `p` is valid for writes of a `HintCache` and aligned; what it held is not dropped.
    pub unsafe fn init(p: *mut HintCache) {
        // SAFETY: per the contract; each place is an element of `(*p).entries`.
        unsafe {
            let e = core::ptr::addr_of_mut!((*p).entries).cast::<Entry>();
            for i in 0..HINT_ENTRIES {
                e.add(i).write(EMPTY);
            }
        }
    }

    pub const fn new() -> Self {
        Self {
            entries: [EMPTY; HINT_ENTRIES],
        }
    }

    /// Looks up the SuperSlab that would contain `addr`.
    #[inline(always)]
    pub fn lookup(&self, addr: usize) -> Hint {
        // The entry's byte offset, `index(addr) * 16`, with one shift and one mask; both fields
        // are read at constant offsets from it, in the addressing mode (indexing `entries`
        // made LLVM compute the entry's address in two more instructions).
        let off = core::mem::offset_of!(Self, entries)
            + ((addr >> (SUPERSLAB_SHIFT - ENTRY_SHIFT)) & ((HINT_ENTRIES - 1) << ENTRY_SHIFT));
        let e = (self as *const Self).cast::<u8>().wrapping_add(off);
        // SAFETY: in bounds (masked index): the entry's first field.
        let ss = unsafe { e.cast::<*const SuperSlab>().read() };
        if ss as usize != addr & !SUPERSLAB_MASK {
            return Hint::Miss;
        }
        // SAFETY: the pointer came from the registry; SuperSlab headers are never unmapped.
        let now = unsafe { (*ss).generation() };
        // SAFETY: as above, the entry's second field.
        let then = unsafe { e.wrapping_add(8).cast::<u64>().read() };
        if mutant::SKIP_GENERATION_CHECK || now == then {
            Hint::Hit(ss)
        } else {
            Hint::Stale
        }
    }

    /// Remembers `ss` at generation `generation` (read from it after the registry confirmed it),
    /// replacing whatever its entry held (a stale entry for the same SuperSlab, or another one).
    #[inline]
    pub fn insert(&mut self, ss: *const SuperSlab, generation: u64) {
        self.entries[index(ss as usize)] = Entry { ss, generation };
    }

    /// Forgets everything (thread exit), in place: `*self = Self::new()` built the 1 KiB table
    /// on the stack of `small::flush` and copied it (the exiting thread may have a small stack).
    pub fn clear(&mut self) {
        for e in &mut self.entries {
            *e = EMPTY;
        }
    }
}

impl Default for HintCache {
    fn default() -> Self {
        Self::new()
    }
}
