//! Owned-slab table: the part of the hint box that answers the free fast path. A per-thread,
//! direct-mapped table from a slab's address to its metadata, holding slabs the thread owns and,
//! with foreign entries (below), slabs it only pins (feature `tls-hint`, runtime switch
//! `HAKMEM_TINY_SS_TLS_HINT`, A/B cfg `hakmem_no_owned_table`).
//!
//! Boundary: thread-private; no atomics. A hit means at once "this address is in one of our
//! SuperSlabs" (so the registry need not be asked) and "the calling thread owns its slab, or pins
//! it and its free pushes on the entry's list" (so the free is the owner's fast path), in one load
//! and one compare — where the SuperSlab hint cache needs a search, a
//! generation check and the owner compare. A miss says nothing: the caller asks the hint cache
//! and the registry, which stay the authority for every address that is not in the table.
//!
//! Invariant (relied on by `front::free::free`): `e[i].key == s.data()` ⇒ the heap owning this
//! table owns `s`. It holds because only the owner changes a slab's ownership while it is owned:
//! the owner inserts a slab after binding or adopting it (`small::own_slab`) and removes it
//! before it gives the slab up (`small::disown_slab`, before unbind or publish); adopt and
//! reclaim only take slabs nobody owns. `checked` builds verify it on every hit.
//!
//! With foreign entries (`config::FOREIGN_ENTRIES`, front/foreign.rs) an entry may also name a
//! slab the thread pins without owning it (its bit in `foreign` set): the invariant is then
//! "owns or pins `s`", and a pinned slab stays bound to its class, so the entry's divisor,
//! limit and list (the thread's own) are right for it as for an owned one. What a hit allows the
//! caller to read of the slab's record therefore depends on which: an owner reads the holder's
//! cell (`Slab::local`); a pinner only the shared line (`Slab::bound_class`, `carve_bound`,
//! `owner`, `pins`, `data`) and the entry's own copies, never `Slab::local` (docs/design.md
//! "Foreign entries", loom `foreign_class.rs`). A reader that needs the cell tells the two apart
//! first (`Slab::is_owned_by`, or the entry's bit in `foreign`). Foreign entries need the 32-byte
//! entry (`config::FOREIGN_ENTRIES` requires `TABLE32`): the 16-byte table holds owned slabs
//! only.
//!
//! The table also carries the freed-block key (`front::free`), so that a hit finds everything the
//! fast path needs next to the entry it read: only a heap that inserted a slab can hit, and
//! inserting copies the key.

use crate::config::{OWNED_ENTRIES, SLAB_SHIFT, SLAB_SIZE};
use crate::slab::slab::{Slab, PIN_WANTED_EPOCH};
use crate::sync::Ordering;

/// Never a slab address (slabs are `SLAB_SIZE`-aligned): the key of an empty entry. With
/// `config::XOR_LOOKUP` all ones, so that `probe`'s `addr ^ key < SLAB_SIZE` matches it only for
/// an address in the top 64 KiB (kernel space: never a block; such a pointer reaches the full
/// check through the empty entry's zero limit); 1 would match every address below 64 KiB, null
/// included, whose free then left the fast path through that check instead of the table miss.
const NO_KEY: usize = if crate::config::XOR_LOOKUP {
    usize::MAX
} else {
    1
};

pub use entry::Entry;
use entry::{EMPTY, ENTRY_SHIFT};

/// `config::TABLE32`: entries of 32 bytes that carry what the owner's free reads of the slab
/// (headerless, and header mode with `config::HEADER_ENTRY`).
#[cfg(all(
    not(hakmem_no_table32),
    any(feature = "headerless", not(hakmem_no_header_entry))
))]
mod entry {
    use super::NO_KEY;
    use crate::slab::slab::Slab;
    use crate::slab::superslab::SuperSlab;

    /// One entry: a slab's data address (or `NO_KEY`) and copies of the slab's fused-check
    /// divisor, `carve_limit` and TLS list pointer, in 32 bytes aligned to 32, so that an entry
    /// never straddles two cache lines: a hit reads one line of the table and none of the slab's
    /// record. The slab itself, which only the cold paths need, comes from the address.
    ///
    /// Invariant (besides the table's): for a matching entry, `divisor` and `tls` equal the
    /// slab's, and `limit` is at most its `carve_limit` (a slab's `carve_limit` only grows while
    /// it is bound, and the entry goes before the slab is unbound). A lower, stale `limit` (a
    /// carve since the entry was written) only sends a free to the full check of
    /// `free::free_local`, which refreshes the entry; `checked` builds verify all three on
    /// every hit.
    #[repr(C, align(32))]
    #[derive(Clone, Copy)]
    pub struct Entry {
        /// A slab's data address, or `NO_KEY`.
        pub(super) key: usize,
        divisor: u64,
        limit: u64,
        tls: *mut (),
    }

    pub(super) const EMPTY: Entry = Entry {
        key: NO_KEY,
        divisor: 0,
        limit: 0,
        tls: core::ptr::null_mut(),
    };

    /// `size_of::<Entry>() == 1 << ENTRY_SHIFT`.
    pub(super) const ENTRY_SHIFT: usize = 5;

    impl Entry {
        /// The entry of a slab the calling thread owns.
        pub(super) fn of(slab: &Slab) -> Self {
            // SAFETY: the calling thread owns the slab.
            let (divisor, limit, tls) =
                unsafe { slab.local(|l| (l.divisor, l.carve_limit, l.tls)) };
            Self {
                key: slab.data() as usize,
                divisor,
                limit,
                tls,
            }
        }

        /// The entry of a bound slab of class `class` the calling thread does not own but pins
        /// (front/foreign.rs): its frees push on `tls`, the thread's own list of the class.
        /// The divisor follows from the class, the limit from the shared carve bound (a lower
        /// bound of the slab's `carve_limit`).
        pub(super) fn foreign(slab: &Slab, class: usize, tls: *mut ()) -> Self {
            let size = crate::size_class::class_size(class);
            let divisor = crate::slab::slab::divisor_of(size);
            // ORDERING: Relaxed — see `Slab::carve_bound`.
            let carved = slab.carve_bound.load(crate::sync::Ordering::Relaxed) as usize / size;
            Self {
                key: slab.data() as usize,
                divisor,
                limit: crate::slab::slab::carve_limit_of(carved as u32, size, divisor),
                tls,
            }
        }

        /// The slab of a matching entry, from the address `addr` in its data.
        #[inline(always)]
        pub fn slab<'a>(&self, addr: usize) -> &'a Slab {
            let ss = (addr & !crate::config::SUPERSLAB_MASK) as *const SuperSlab;
            // SAFETY: a matching entry holds a data slab of a live SuperSlab (a slab we own or
            // pin); slab metadata is never unmapped. The index is in bounds (masked) and not the
            // header slab (the key is a data slab's address).
            unsafe { &(*ss).slabs[SuperSlab::slab_index(addr)] }
        }

        /// The slab's fused-check divisor (`Slab::is_carved_block`).
        #[inline(always)]
        pub fn divisor(&self) -> u64 {
            self.divisor
        }

        /// The slab's `carve_limit` when the entry was written (at most the current one).
        #[inline(always)]
        pub fn limit(&self) -> u64 {
            self.limit
        }

        /// The slab's TLS list pointer (`small::own_slab`, `profiling::relink`).
        #[inline(always)]
        pub fn tls(&self) -> *mut () {
            self.tls
        }
    }
}

/// The 16-byte entry: a slab's address and a pointer to its record (the backouts `--cfg
/// hakmem_no_table32`, and `--cfg hakmem_no_header_entry` in header mode).
#[cfg(not(all(
    not(hakmem_no_table32),
    any(feature = "headerless", not(hakmem_no_header_entry))
)))]
mod entry {
    use core::ptr::NonNull;

    use super::NO_KEY;
    use crate::slab::slab::Slab;

    /// One entry: a slab's data address (or `NO_KEY`) and its metadata, side by side in 16
    /// bytes aligned to 16, so that an entry never straddles two cache lines: a hit reads one
    /// line of the table (with two arrays, keys and slabs, it read two).
    #[repr(C, align(16))]
    #[derive(Clone, Copy)]
    pub struct Entry {
        /// A slab's data address, or `NO_KEY`.
        pub(super) key: usize,
        /// Dangling in an empty entry (never read: no address matches `NO_KEY`); non-null, so
        /// that a hit needs no null test.
        slab: NonNull<Slab>,
    }

    pub(super) const EMPTY: Entry = Entry {
        key: NO_KEY,
        slab: NonNull::dangling(),
    };

    /// `size_of::<Entry>() == 1 << ENTRY_SHIFT`.
    pub(super) const ENTRY_SHIFT: usize = 4;

    impl Entry {
        pub(super) fn of(slab: &Slab) -> Self {
            Self {
                key: slab.data() as usize,
                slab: NonNull::from(slab),
            }
        }

        /// The slab of a matching entry.
        #[inline(always)]
        pub fn slab<'a>(&self, _addr: usize) -> &'a Slab {
            // SAFETY: a matching entry holds a slab whose metadata lives in a SuperSlab header,
            // never unmapped.
            unsafe { self.slab.as_ref() }
        }

        /// Never called: foreign entries need the 32-byte entry (`config::FOREIGN_ENTRIES`
        /// requires `TABLE32`); this entry's list pointer would be the owner's.
        pub(super) fn foreign(slab: &Slab, _class: usize, _tls: *mut ()) -> Self {
            Self::of(slab)
        }

        // The 32-byte entry's copies, read here through the slab (never called: `free` takes
        // this path only with `config::TABLE32`).

        #[inline(always)]
        pub fn divisor(&self) -> u64 {
            // SAFETY: the calling thread owns the slab of a matching entry.
            unsafe { self.slab(0).local(|l| l.divisor) }
        }

        #[inline(always)]
        pub fn limit(&self) -> u64 {
            // SAFETY: as above.
            unsafe { self.slab(0).local(|l| l.carve_limit) }
        }

        #[inline(always)]
        pub fn tls(&self) -> *mut () {
            // SAFETY: as above.
            unsafe { self.slab(0).local(|l| l.tls) }
        }
    }
}

#[repr(C)]
pub struct OwnedSlabs {
    /// The process's freed-block key (`front::mark::key`), copied by `insert`.
    pub key: usize,
    entries: [Entry; OWNED_ENTRIES],
    /// Foreign entries (front/foreign.rs): bit `i` set iff entry `i` is a slab this thread pins
    /// (and does not own); `foreign_count` of them.
    foreign: [u64; FOREIGN_WORDS],
    foreign_count: u32,
    /// `slab::slab::PIN_WANTED_EPOCH` at the last scan of the foreign entries.
    pub foreign_epoch: usize,
}

const FOREIGN_WORDS: usize = OWNED_ENTRIES / 64;

const _: () = assert!(OWNED_ENTRIES.is_power_of_two());

const _: () = assert!(core::mem::size_of::<Entry>() == 1 << ENTRY_SHIFT);
// The entry's `cfg` above and `config::TABLE32` name the same builds.
const _: () = assert!(crate::config::TABLE32 == (ENTRY_SHIFT == 5));
const _: () = assert!(core::mem::align_of::<Entry>() == 1 << ENTRY_SHIFT);
const _: () = assert!(core::mem::offset_of!(OwnedSlabs, entries) % (1 << ENTRY_SHIFT) == 0);

#[inline(always)]
fn index(addr: usize) -> usize {
    (addr / SLAB_SIZE) & (OWNED_ENTRIES - 1)
}

impl OwnedSlabs {
    pub const fn new() -> Self {
        Self {
            key: 0,
            entries: [EMPTY; OWNED_ENTRIES],
            foreign: [0; FOREIGN_WORDS],
            foreign_count: 0,
            foreign_epoch: 0,
        }
    }

    /// The entry of the owned slab holding `addr`, if the table has it. Compiles to a shift, a
    /// mask, a load and a compare.
    ///
    /// # Safety
    /// `this` is the calling thread's table (a sentinel heap's, always empty, is only read).
    #[inline(always)]
    pub unsafe fn lookup_entry<'a>(this: *const Self, addr: usize) -> Option<&'a Entry> {
        // The entry's byte offset in the table, `index(addr) << ENTRY_SHIFT`, with one shift and
        // one mask; its fields are then read at constant offsets from it, in the addressing mode.
        let off = core::mem::offset_of!(Self, entries)
            + ((addr >> (SLAB_SHIFT - ENTRY_SHIFT)) & ((OWNED_ENTRIES - 1) << ENTRY_SHIFT));
        let e = this.cast::<u8>().wrapping_add(off);
        // SAFETY: in bounds (masked index); raw place reads, so a sentinel's table is only read.
        let key = unsafe { e.cast::<usize>().read() };
        if key == addr & !(SLAB_SIZE - 1) {
            // SAFETY: as above; only the calling thread writes its table, and not while the
            // caller holds the entry (the fast path reads it before anything that may write).
            Some(unsafe { &*e.cast::<Entry>() })
        } else {
            None
        }
    }

    /// `config::XOR_LOOKUP`: the entry `addr` maps to, and `addr ^ key`, which is below
    /// `SLAB_SIZE` exactly when `lookup_entry` would return the entry (a slab's key has its low
    /// `SLAB_SHIFT` bits clear, so the xor clears the bits above them iff they equal `addr`'s)
    /// and is then `addr`'s offset in the slab. Compiles to a shift, a mask, a copy and an xor
    /// with the entry's key; the caller compares. An empty entry reads `NO_KEY` (or zero, for
    /// entries past 0 of a lazily written table, which `addr < SLAB_SIZE` alone would match,
    /// and those index entry 0): below `SLAB_SIZE` only for an address in the top 64 KiB, with
    /// the empty entry's zero divisor and limit.
    ///
    /// # Safety
    /// As for `lookup_entry`.
    #[inline(always)]
    pub unsafe fn probe<'a>(this: *const Self, addr: usize) -> (&'a Entry, usize) {
        let off = core::mem::offset_of!(Self, entries)
            + ((addr >> (SLAB_SHIFT - ENTRY_SHIFT)) & ((OWNED_ENTRIES - 1) << ENTRY_SHIFT));
        let e = this.cast::<u8>().wrapping_add(off);
        // SAFETY: in bounds (masked index); a raw place read, so a sentinel's table is only read.
        // Every field of an entry is an integer or a raw pointer, so an empty one is a valid
        // `Entry` too; only the calling thread writes its table, not while the caller holds it.
        unsafe { (&*e.cast::<Entry>(), addr ^ e.cast::<usize>().read()) }
    }

    /// The slab holding `addr`, if the table has it: owned, or pinned through a foreign entry
    /// (see the module doc for which of its fields each may read).
    ///
    /// # Safety
    /// As for `lookup_entry`.
    #[inline(always)]
    pub unsafe fn lookup<'a>(this: *const Self, addr: usize) -> Option<&'a Slab> {
        // SAFETY: forwarded contract.
        unsafe { Self::lookup_entry(this, addr) }.map(|e| e.slab(addr))
    }

    /// Enters a slab the calling thread has just bound or adopted (evicting whatever shared its
    /// entry).
    pub fn insert(&mut self, slab: &Slab, key: usize) {
        if self.foreign_any() {
            self.drop_foreign_at(slab.data() as usize);
        }
        self.key = key;
        let i = index(slab.data() as usize);
        self.entries[i] = Entry::of(slab);
    }

    /// Enters (pinned) or rewrites a foreign slab's entry, its frees to push on `tls`, the
    /// calling thread's list of `class`; a foreign entry it overwrites is dropped.
    ///
    /// The caller holds a block of `slab`, which is bound to `class`, and does not own it.
    pub fn insert_foreign(&mut self, slab: &Slab, class: usize, key: usize, tls: *mut ()) {
        let i = index(slab.data() as usize);
        if self.entries[i].key != slab.data() as usize {
            self.drop_foreign_at(slab.data() as usize);
            // The caller holds a block of the slab: it is bound until after the pin.
            slab.pin();
            self.foreign[i / 64] |= 1 << (i % 64);
            self.foreign_count += 1;
        }
        self.key = key;
        self.entries[i] = Entry::foreign(slab, class, tls);
    }

    /// Whether the table holds foreign (pinned) entries.
    #[inline]
    pub fn foreign_any(&self) -> bool {
        self.foreign_count != 0
    }

    /// Drops the foreign entry `addr` maps to, if there is one: the entry first, then the pin.
    pub fn drop_foreign_at(&mut self, addr: usize) {
        if self.is_foreign(addr) {
            self.drop_foreign_index(index(addr));
        }
    }

    fn drop_foreign_index(&mut self, i: usize) {
        let key = self.entries[i].key;
        let slab = self.entries[i].slab(key);
        self.entries[i] = EMPTY;
        self.foreign[i / 64] &= !(1 << (i % 64));
        self.foreign_count -= 1;
        slab.unpin();
    }

    /// Drops the pins of slabs whose holder wants them released (front/foreign.rs), once some
    /// holder wanted a release since this table's last scan. Called on the heap's own slow
    /// paths (`refill`, `spill`).
    #[cold]
    #[inline(never)]
    pub fn drop_released(&mut self) {
        // ORDERING: Acquire — pairs with the Release bump in `Slab::pinned_keep` /
        // `unpin_wanted`: a scan started by a bump sees the `PIN_RELEASE_WANTED` mark set before
        // it (`release_wanted`'s Relaxed load reads it or a later value: the holder's own
        // `release_unwanted`). The epoch is still a hint: a bump this load misses starts the
        // scan at the next slow path.
        let e = PIN_WANTED_EPOCH.load(Ordering::Acquire);
        if e != self.foreign_epoch {
            self.foreign_epoch = e;
            self.drop_foreign_where(|s| s.release_wanted());
        }
    }

    /// Drops every pin (thread exit, `collect`, the heap becomes profiled).
    pub fn drop_all_foreign(&mut self) {
        if self.foreign_any() {
            self.drop_foreign_where(|_| true);
        }
    }

    /// Whether the entry `addr` maps to is a foreign one.
    pub fn is_foreign(&self, addr: usize) -> bool {
        let i = index(addr);
        self.foreign[i / 64] & (1 << (i % 64)) != 0
    }

    /// Drops every foreign entry whose slab `f` picks.
    pub fn drop_foreign_where(&mut self, mut f: impl FnMut(&Slab) -> bool) {
        for w in 0..FOREIGN_WORDS {
            let mut bits = self.foreign[w];
            while bits != 0 {
                let i = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let key = self.entries[i].key;
                if f(self.entries[i].slab(key)) {
                    self.drop_foreign_index(i);
                }
            }
        }
    }

    /// Rewrites a slab's entry from its record (if the table has it): after a carve raised its
    /// `carve_limit`, or the profiler moved its TLS list pointer. The caller owns the slab.
    #[inline]
    pub fn refresh(&mut self, slab: &Slab) {
        let i = index(slab.data() as usize);
        self.debug_assert_not_foreign(slab, i);
        if self.entries[i].key == slab.data() as usize {
            self.entries[i] = Entry::of(slab);
        }
    }

    /// Forgets a slab the calling thread is about to give up (if the table has it).
    pub fn remove(&mut self, slab: &Slab) {
        let i = index(slab.data() as usize);
        self.debug_assert_not_foreign(slab, i);
        if self.entries[i].key == slab.data() as usize {
            self.entries[i] = EMPTY;
        }
    }

    /// `refresh` and `remove` take an owned slab, whose entry (if any) `insert` wrote after
    /// dropping a foreign one at the same index: a foreign entry for it here would be rewritten
    /// or emptied with its pin and bit left behind.
    #[inline]
    fn debug_assert_not_foreign(&self, slab: &Slab, i: usize) {
        debug_assert!(
            !(self.entries[i].key == slab.data() as usize && self.is_foreign(slab.data() as usize)),
            "owned table: refresh/remove given a slab whose entry is foreign"
        );
    }

    /// Writes an empty table at `p` in place, entry by entry (the table, 32 KiB, is never a
    /// value on the stack: `Heap::init`). With `zeroed` (the memory at `p` reads as zero, as
    /// fresh metadata memory does) and `config::LAZY_TABLE`, only entry 0 is written: the others
    /// stay zero, which is empty too, so their pages stay untouched until a slab's entry lands
    /// on them (an idle thread's heap is then resident in a page or two of the table, not 8).
    ///
    /// Why an all-zero entry is empty: `lookup_entry` matches entry `i` when its key equals
    /// `addr & !(SLAB_SIZE - 1)` for an `addr` with `index(addr) == i`; key 0 equals it only for
    /// `addr < SLAB_SIZE`, whose index is 0, and entry 0 holds `NO_KEY`. The other readers
    /// compare a key with a slab's data address (never 0) or read foreign entries (bit set, so
    /// written by `insert_foreign`). Every field of the 32-byte entry is an integer or a raw
    /// pointer, for which zero is a valid value.
    ///
    /// # Safety
    /// `p` is valid for writes of an `OwnedSlabs` and aligned; with `zeroed`, its bytes are zero.
    pub unsafe fn init(p: *mut Self, zeroed: bool) {
        const _: () = assert!(!crate::config::LAZY_TABLE || crate::config::TABLE32);
        // SAFETY: per the contract; `entries` holds `OWNED_ENTRIES` entries.
        unsafe {
            let lazy = zeroed && crate::config::LAZY_TABLE;
            (&raw mut (*p).key).write(0);
            // After the entries, on the table's last page: zero already when `lazy`.
            if !lazy {
                (&raw mut (*p).foreign).write([0; FOREIGN_WORDS]);
                (&raw mut (*p).foreign_count).write(0);
                (&raw mut (*p).foreign_epoch).write(0);
            }
            let e = (&raw mut (*p).entries).cast::<Entry>();
            let n = if lazy { 1 } else { OWNED_ENTRIES };
            for i in 0..n {
                e.add(i).write(EMPTY);
            }
        }
    }

    /// Forgets everything (thread exit, or the runtime switch turned the hint off), in place:
    /// the thread exiting may have a small stack.
    ///
    /// With `config::LAZY_TABLE` it writes only the entries that hold a slab: an empty one (all
    /// zero, or `EMPTY`, which every other write of `NO_KEY` is) stays as it is, so a page of the
    /// table the thread never used is read (the kernel's zero page: no memory) but not made
    /// resident by the exit.
    pub fn clear(&mut self) {
        self.drop_all_foreign();
        self.key = 0;
        for e in &mut self.entries {
            if !crate::config::LAZY_TABLE || (e.key != 0 && e.key != NO_KEY) {
                *e = EMPTY;
            }
        }
    }
}

impl OwnedSlabs {
    /// `config::RECYCLE_PURGE`: after `clear` (thread exit), gives the table's whole pages past
    /// entry 0 back to the OS, so that a pooled heap keeps only the pages its next thread writes.
    /// They read zero afterwards, which is an empty entry (`config::LAZY_TABLE`; entry 0, which
    /// must say `NO_KEY`, is not in the range). False if the OS refused (counted by `os`): the
    /// entries stay as `clear` left them, empty too.
    pub fn decommit_interior(&mut self) -> bool {
        let page = crate::config::PAGE_SIZE;
        let base = self.entries.as_mut_ptr().cast::<u8>();
        let first = base as usize + core::mem::size_of::<Entry>();
        let end = base as usize + core::mem::size_of_val(&self.entries);
        let (lo, hi) = (first.next_multiple_of(page), end & !(page - 1));
        if hi <= lo {
            return true;
        }
        // SAFETY: `lo..hi` lies inside `entries` (derived from its pointer: strict provenance),
        // whole pages that hold only entries 1.., which nobody reads while the heap is recycled
        // (the exiting thread's slot points at `DEAD`; the fork takeover skips unbound heaps); a
        // decommitted page reads zero, an empty entry (see above). Non-null: inside a reference.
        unsafe {
            crate::os::decommit(
                core::ptr::NonNull::new_unchecked(base.map_addr(|_| lo)),
                hi - lo,
            )
        }
    }
}

impl Default for OwnedSlabs {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::index;
    use crate::config::{SLAB_SIZE, TABLE_2K};

    /// `config::TABLE_2K`: slabs up to 128 MiB apart (2,048 slabs: two threads' interleaved
    /// SuperSlabs, a thread's own and those it pins) take different entries; with 1,024 entries
    /// two slabs 64 MiB apart shared one, and each free of one evicted the other.
    #[test]
    fn slabs_64_mib_apart_take_different_entries() {
        if !TABLE_2K {
            return;
        }
        let a = 0x7f12_3450_0000usize;
        for apart in [1024, 1536, 2047] {
            assert_ne!(
                index(a),
                index(a + apart * SLAB_SIZE),
                "{apart} slabs apart"
            );
        }
        assert_eq!(index(a), index(a + 2048 * SLAB_SIZE));
    }
}
