//! Owned-slab table: the part of the hint box that answers the free fast path. A per-thread,
//! direct-mapped table from a slab's address to its metadata, holding only slabs the thread owns
//! (feature `tls-hint`, runtime switch `HAKMEM_TINY_SS_TLS_HINT`, A/B cfg `hakmem_no_owned_table`).
//!
//! Boundary: thread-private; no atomics. A hit means at once "this address is in one of our
//! SuperSlabs" (so the registry need not be asked) and "the calling thread owns its slab" (so the
//! free is local), in one load and one compare — where the SuperSlab hint cache needs a search, a
//! generation check and the owner compare. A miss says nothing: the caller asks the hint cache
//! and the registry, which stay the authority for every address that is not in the table.
//!
//! Invariant (relied on by `front::free::free`): `e[i].key == s.data()` ⇒ the heap owning this
//! table owns `s`. It holds because only the owner changes a slab's ownership while it is owned:
//! the owner inserts a slab after binding or adopting it (`small::own_slab`) and removes it
//! before it gives the slab up (`small::disown_slab`, before unbind or publish); adopt and
//! reclaim only take slabs nobody owns. `checked` builds verify it on every hit.
//!
//! The table also carries the freed-block key (`front::free`), so that a hit finds everything the
//! fast path needs next to the entry it read: only a heap that inserted a slab can hit, and
//! inserting copies the key.

use core::ptr::NonNull;

use crate::config::{OWNED_ENTRIES, SLAB_SHIFT, SLAB_SIZE};
use crate::slab::slab::Slab;

/// Never a slab address (slabs are `SLAB_SIZE`-aligned): the key of an empty entry.
const NO_KEY: usize = 1;

/// One entry: a slab's data address (or `NO_KEY`) and its metadata, side by side in 16 bytes
/// aligned to 16, so that an entry never straddles two cache lines: a hit reads one line of the
/// table (with two arrays, keys and slabs, it read two).
#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct Entry {
    /// A slab's data address, or `NO_KEY`.
    key: usize,
    /// Dangling in an empty entry (never read: no address matches `NO_KEY`); non-null, so that a
    /// hit needs no null test.
    slab: NonNull<Slab>,
}

const EMPTY: Entry = Entry {
    key: NO_KEY,
    slab: NonNull::dangling(),
};

#[repr(C)]
pub struct OwnedSlabs {
    /// The process's freed-block key (`front::mark::key`), copied by `insert`.
    pub key: usize,
    entries: [Entry; OWNED_ENTRIES],
}

const _: () = assert!(OWNED_ENTRIES.is_power_of_two());

/// `size_of::<Entry>() == 1 << ENTRY_SHIFT`.
const ENTRY_SHIFT: usize = 4;
const _: () = assert!(core::mem::size_of::<Entry>() == 1 << ENTRY_SHIFT);
const _: () = assert!(core::mem::offset_of!(Entry, slab) == 8);

#[inline(always)]
fn index(addr: usize) -> usize {
    (addr / SLAB_SIZE) & (OWNED_ENTRIES - 1)
}

impl OwnedSlabs {
    pub const fn new() -> Self {
        Self {
            key: 0,
            entries: [EMPTY; OWNED_ENTRIES],
        }
    }

    /// The owned slab holding `addr`, if the table has it. Compiles to a shift, a mask, a load
    /// and a compare, and the slab load.
    ///
    /// # Safety
    /// `this` is the calling thread's table (a sentinel heap's, always empty, is only read).
    #[inline(always)]
    pub unsafe fn lookup<'a>(this: *const Self, addr: usize) -> Option<&'a Slab> {
        // The entry's byte offset in the table, `index(addr) * 16`, with one shift and one mask;
        // both fields are then read at constant offsets from it, in the addressing mode.
        let off = core::mem::offset_of!(Self, entries)
            + ((addr >> (SLAB_SHIFT - ENTRY_SHIFT)) & ((OWNED_ENTRIES - 1) << ENTRY_SHIFT));
        let e = this.cast::<u8>().wrapping_add(off);
        // SAFETY: in bounds (masked index); raw place reads, so a sentinel's table is only read.
        let key = unsafe { e.cast::<usize>().read() };
        if key == addr & !(SLAB_SIZE - 1) {
            // SAFETY: as above (the entry's second field); a matching entry holds a slab whose
            // metadata lives in a SuperSlab header, never unmapped.
            Some(unsafe { e.wrapping_add(8).cast::<NonNull<Slab>>().read().as_ref() })
        } else {
            None
        }
    }

    /// Enters a slab the calling thread has just bound or adopted (evicting whatever shared its
    /// entry).
    pub fn insert(&mut self, slab: &Slab, key: usize) {
        self.key = key;
        let i = index(slab.data() as usize);
        self.entries[i] = Entry {
            key: slab.data() as usize,
            slab: NonNull::from(slab),
        };
    }

    /// Forgets a slab the calling thread is about to give up (if the table has it).
    pub fn remove(&mut self, slab: &Slab) {
        let i = index(slab.data() as usize);
        if self.entries[i].key == slab.data() as usize {
            self.entries[i] = EMPTY;
        }
    }

    /// Forgets everything (thread exit, or the runtime switch turned the hint off).
    pub fn clear(&mut self) {
        *self = Self::new();
    }
}

impl Default for OwnedSlabs {
    fn default() -> Self {
        Self::new()
    }
}
