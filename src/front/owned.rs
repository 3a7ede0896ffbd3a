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
//! the owner inserts a slab after binding or adopting it (`magazine::own_slab`) and removes it
//! before it gives the slab up (`magazine::disown_slab`, before unbind or publish); adopt and
//! reclaim only take slabs nobody owns. `checked` builds verify it on every hit.
//!
//! The table also carries the freed-block key (`front::free`), so that a hit finds everything the
//! fast path needs next to the entry it read: only a heap that inserted a slab can hit, and
//! inserting copies the key.

use crate::config::{OWNED_ENTRIES, SLAB_SIZE};
use crate::slab::slab::Slab;

/// Never a slab address (slabs are `SLAB_SIZE`-aligned): the key of an empty entry.
const NO_KEY: usize = 1;

#[derive(Clone, Copy)]
#[repr(C)]
struct Entry {
    key: usize,
    slab: *const Slab,
}

#[repr(C)]
pub struct OwnedSlabs {
    /// The process's freed-block key (`front::free::free_key`), copied by `insert`.
    pub key: usize,
    e: [Entry; OWNED_ENTRIES],
}

const _: () = assert!(OWNED_ENTRIES.is_power_of_two());

#[inline(always)]
fn index(addr: usize) -> usize {
    (addr / SLAB_SIZE) & (OWNED_ENTRIES - 1)
}

impl OwnedSlabs {
    pub const fn new() -> Self {
        Self {
            key: 0,
            e: [Entry {
                key: NO_KEY,
                slab: core::ptr::null(),
            }; OWNED_ENTRIES],
        }
    }

    /// The owned slab holding `addr`, if the table has it. Compiles to a shift, a mask, a load
    /// and a compare.
    ///
    /// # Safety
    /// `this` is the calling thread's table (a sentinel heap's, always empty, is only read).
    #[inline(always)]
    pub unsafe fn lookup<'a>(this: *const Self, addr: usize) -> Option<&'a Slab> {
        // SAFETY: in bounds (masked index); raw place reads, so a sentinel's table is only read.
        let e = unsafe { (*this).e.get_unchecked(index(addr)) };
        if e.key == addr & !(SLAB_SIZE - 1) {
            // SAFETY: slab metadata lives in a SuperSlab header, never unmapped.
            Some(unsafe { &*e.slab })
        } else {
            None
        }
    }

    /// Enters a slab the calling thread has just bound or adopted (evicting whatever shared its
    /// entry).
    pub fn insert(&mut self, slab: &Slab, key: usize) {
        self.key = key;
        self.e[index(slab.data() as usize)] = Entry {
            key: slab.data() as usize,
            slab,
        };
    }

    /// Forgets a slab the calling thread is about to give up (if the table has it).
    pub fn remove(&mut self, slab: &Slab) {
        let e = &mut self.e[index(slab.data() as usize)];
        if e.key == slab.data() as usize {
            e.key = NO_KEY;
            e.slab = core::ptr::null();
        }
    }

    /// Forgets everything (thread exit, or the runtime switch turned the hint off).
    pub fn clear(&mut self) {
        for e in &mut self.e {
            e.key = NO_KEY;
            e.slab = core::ptr::null();
        }
    }
}

impl Default for OwnedSlabs {
    fn default() -> Self {
        Self::new()
    }
}
