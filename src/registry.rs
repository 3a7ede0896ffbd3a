//! Registry box: maps any address to the hakmem region (SuperSlab or large block) whose first
//! `SUPERSLAB_SIZE` chunk contains it, or says "not ours" — without allocating, with lock-free
//! reads.
//!
//! Structure: a two-level radix table over the 48-bit address space in `SUPERSLAB_SIZE` chunks.
//! Level 1 is a static array; level-2 leaves (128 KiB each) are mapped from `os` on first use and
//! installed with a CAS; they are never freed, so a reader never touches unmapped registry memory.
//! An address outside the 48-bit range, in a chunk without a leaf, or in an empty slot reads as
//! "not ours" from the static zero entry.
//!
//! Retire safety: SuperSlab memory is never unmapped (retired SuperSlabs are decommitted and kept
//! for reuse), so a reader that loaded an entry just before it was cleared still reads a mapped
//! header and sees its changed generation. Large regions are unmapped on free; a reader can only
//! race with that unmap when the program frees the same large pointer twice concurrently (a user
//! bug outside any contract).

use core::ptr::NonNull;

use crate::config::SUPERSLAB_SHIFT;
use crate::mutant;
use crate::sync::{const_fn, AtomicPtr, Ordering};

/// The first word of every registered region: its magic.
#[repr(C)]
pub struct RegionHead {
    pub magic: u64,
}

const ADDR_BITS: usize = 48;
const LEAF_BITS: usize = 14;
const ROOT_BITS: usize = ADDR_BITS - SUPERSLAB_SHIFT - LEAF_BITS;
const LEAF_LEN: usize = 1 << LEAF_BITS;
const ROOT_LEN: usize = 1 << ROOT_BITS;
const _: () = assert!(ROOT_BITS + LEAF_BITS + SUPERSLAB_SHIFT == ADDR_BITS);

/// A radix table of `ROOT` leaves of `LEAF` chunks each (powers of two): the process's table
/// (`TABLE`) covers the 48-bit address space; the loom model (`loom_tests/registry.rs`) races
/// the same code on a table of a few chunks.
pub struct Table<const ROOT: usize, const LEAF: usize> {
    root: [AtomicPtr<Leaf<LEAF>>; ROOT],
}

struct Leaf<const LEAF: usize> {
    slots: [AtomicPtr<RegionHead>; LEAF],
}

impl<const ROOT: usize, const LEAF: usize> Table<ROOT, LEAF> {
    /// Bytes mapped for one leaf.
    const LEAF_BYTES: usize =
        core::mem::size_of::<Leaf<LEAF>>().next_multiple_of(crate::config::PAGE_SIZE);

    const_fn! {
        /// An empty table: every chunk "not ours".
        pub fn new() -> Self {
            Self {
                root: crate::sync::null_ptrs(),
            }
        }
    }

    #[inline(always)]
    fn split(addr: usize) -> Option<(usize, usize)> {
        let chunk = addr >> SUPERSLAB_SHIFT;
        if chunk >> (ROOT * LEAF).trailing_zeros() != 0 {
            return None;
        }
        Some((chunk / LEAF, chunk % LEAF))
    }

    /// The region registered for the chunk containing `addr`, or null ("not ours").
    #[inline(always)]
    pub fn lookup(&self, addr: usize) -> *mut RegionHead {
        let Some((r, l)) = Self::split(addr) else {
            return core::ptr::null_mut();
        };
        // ORDERING: Acquire — pairs with the Release CAS installing the leaf, so its zeroed
        // slots are visible.
        let leaf = self.root[r].load(Ordering::Acquire);
        if leaf.is_null() {
            return core::ptr::null_mut();
        }
        // SAFETY: leaves are never freed once installed.
        // ORDERING: Acquire — pairs with the Release store in `register`, so the region's header
        // (magic, generation, slab metadata) written before registration is visible.
        unsafe { (*leaf).slots[l].load(Ordering::Acquire) }
    }

    /// Registers `head` for the chunk at `base`. False if a leaf could not be mapped.
    pub fn register(&self, base: usize, head: NonNull<RegionHead>) -> bool {
        let Some((r, l)) = Self::split(base) else {
            return false;
        };
        // ORDERING: Acquire — as in `lookup`.
        let mut leaf = self.root[r].load(Ordering::Acquire);
        if leaf.is_null() {
            let Some(fresh) =
                crate::os::reserve_aligned(Self::LEAF_BYTES, crate::config::PAGE_SIZE)
            else {
                return false;
            };
            let fresh = fresh.as_ptr().cast::<Leaf<LEAF>>();
            // SAFETY: a fresh zeroed mapping of `LEAF_BYTES`, ours alone until published.
            unsafe {
                crate::sync::init_zeroed_ptrs(
                    core::ptr::addr_of_mut!((*fresh).slots).cast::<AtomicPtr<RegionHead>>(),
                    LEAF,
                )
            };
            let installed = if mutant::REGISTRY_LEAF_PLAIN_STORE {
                // Mutant: check, then store: two installers both install, the later leaf
                // replacing the earlier with its registrations.
                // ORDERING: Acquire — as in `lookup`.
                let seen = self.root[r].load(Ordering::Acquire);
                if seen.is_null() {
                    // ORDERING: Release — publishes the leaf as the CAS would.
                    self.root[r].store(fresh, Ordering::Release);
                    Ok(seen)
                } else {
                    Err(seen)
                }
            } else {
                // ORDERING: Release on success — publishes the zeroed leaf (zero is a valid null
                // AtomicPtr; under loom, the slots `init_zeroed_ptrs` made); Acquire on failure —
                // we then use the winner's leaf, whose slots its CAS published.
                self.root[r].compare_exchange(
                    core::ptr::null_mut(),
                    fresh,
                    mutant::REGISTRY_LEAF_INSTALL,
                    Ordering::Acquire,
                )
            };
            match installed {
                Ok(_) => leaf = fresh,
                Err(winner) => {
                    // SAFETY: our leaf was never published. A refused release is counted and
                    // decommitted by `os`; the untouched leaf costs address space only.
                    let _released = unsafe {
                        crate::os::release(NonNull::new_unchecked(fresh.cast()), Self::LEAF_BYTES)
                    };
                    leaf = winner;
                }
            }
        }
        // SAFETY: leaves are never freed once installed.
        // ORDERING: Release (`mutant::REGISTRY_SLOT`) — publishes the region header written
        // before registration; pairs with the Acquire in `lookup`.
        unsafe { (*leaf).slots[l].store(head.as_ptr(), mutant::REGISTRY_SLOT) };
        true
    }

    /// Clears the entry for the chunk at `base` (the region is retired or unmapped next).
    pub fn unregister(&self, base: usize) {
        let Some((r, l)) = Self::split(base) else {
            return;
        };
        // ORDERING: Acquire — as in `lookup`.
        let leaf = self.root[r].load(Ordering::Acquire);
        if !leaf.is_null() {
            // SAFETY: leaves are never freed.
            // ORDERING: Release — orders the retire's earlier writes before "not ours" is seen.
            unsafe { (*leaf).slots[l].store(core::ptr::null_mut(), Ordering::Release) };
        }
    }
}

impl<const ROOT: usize, const LEAF: usize> Default for Table<ROOT, LEAF> {
    fn default() -> Self {
        Self::new()
    }
}

/// The process's table over the 48-bit address space.
#[cfg(not(hakmem_loom))]
static TABLE: Table<ROOT_LEN, LEAF_LEN> = Table::new();

/// The region registered for the chunk containing `addr`, or null ("not ours").
#[cfg(not(hakmem_loom))]
#[inline(always)]
pub fn lookup(addr: usize) -> *mut RegionHead {
    TABLE.lookup(addr)
}

/// Registers `head` for the chunk at `base`. False if a leaf could not be mapped.
#[cfg(not(hakmem_loom))]
pub fn register(base: usize, head: NonNull<RegionHead>) -> bool {
    TABLE.register(base, head)
}

/// Clears the entry for the chunk at `base` (the region is retired or unmapped next).
#[cfg(not(hakmem_loom))]
pub fn unregister(base: usize) {
    TABLE.unregister(base)
}

#[cfg(all(test, not(hakmem_loom)))]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_out_of_range_are_not_ours() {
        assert!(lookup(0).is_null());
        assert!(lookup(usize::MAX).is_null());
        let x = 5u64;
        assert!(lookup(&x as *const u64 as usize).is_null());
    }

    #[test]
    fn register_lookup_unregister() {
        let mut head = RegionHead { magic: 7 };
        let base = 0x7000_0000_0000usize + (3 << SUPERSLAB_SHIFT);
        assert!(register(base, NonNull::from(&mut head)));
        assert_eq!(lookup(base + 12345), &mut head as *mut RegionHead);
        assert!(lookup(base + (1 << SUPERSLAB_SHIFT)).is_null());
        unregister(base);
        assert!(lookup(base).is_null());
    }
}
