//! The free paths: `free` (hint or registry, then `free_local` or `free_remote`), and `locate`,
//! the address-based lookup that is the source of truth for validation.
//!
//! Fast path (headerless, hinted, owned): mask for the SuperSlab, compare with the hint and its
//! generation, one owner compare, the block-boundary check (a multiply), one push.

use core::ptr::NonNull;

use crate::config::{FIRST_DATA_SLAB, FORCE_NOTIFY, HEADERLESS, TLS_HINT};
use crate::debug::{fatal, Where};
use crate::front::heap::{Heap, HeapKind};
use crate::front::hint::Hint;
use crate::front::magazine;
use crate::front::thread;
use crate::front::tls_sll::TlsList;
use crate::large::{self, LARGE_MAGIC};
use crate::registry::{self, RegionHead};
use crate::size_class::{blocks_per_slab, class_size, NUM_CLASSES};
use crate::slab::block::Block;
use crate::slab::header;
use crate::slab::slab::{Slab, NO_CLASS};
use crate::slab::superslab::{SuperSlab, SUPERSLAB_MAGIC};

/// What an address belongs to.
pub enum Region {
    Small { slab: *const Slab, class: usize },
    Large(NonNull<RegionHead>),
}

fn region_where(ss: &SuperSlab, ptr: usize) -> Where {
    Where {
        ptr,
        superslab: Some(ss.base()),
        slab: Some(SuperSlab::slab_index(ptr)),
        class: None,
        generation: Some(ss.generation() as usize),
    }
}

/// Asks the registry which region holds `ptr`; aborts on "not ours".
#[inline]
fn lookup_registry(ptr: *mut u8) -> NonNull<RegionHead> {
    match NonNull::new(registry::lookup(ptr as usize)) {
        Some(r) => r,
        None => fatal(
            "registry",
            "pointer was not allocated by hakmem (not ours)",
            Where::ptr(ptr as usize),
        ),
    }
}

/// The slab and class of a small block, or the large header; aborts on anything else.
///
/// # Safety
/// `ptr` is claimed to be a live block of this allocator.
pub unsafe fn locate(ptr: *mut u8) -> Region {
    let r = lookup_registry(ptr);
    // SAFETY: registered regions start with a magic and are mapped while registered.
    let magic = unsafe { r.as_ref().magic };
    if magic == LARGE_MAGIC {
        return Region::Large(r);
    }
    if magic != SUPERSLAB_MAGIC {
        fatal(
            "registry",
            "region has a bad magic",
            Where::ptr(ptr as usize),
        );
    }
    // SAFETY: a SuperSlab header.
    let ss = unsafe { r.cast::<SuperSlab>().as_ref() };
    let idx = SuperSlab::slab_index(ptr as usize);
    if idx < FIRST_DATA_SLAB {
        fatal(
            "superslab",
            "pointer into the SuperSlab header",
            region_where(ss, ptr as usize),
        );
    }
    let slab = &ss.slabs[idx];
    let class = slab.class.load(crate::sync::Ordering::Relaxed);
    if class == NO_CLASS || class as usize >= NUM_CLASSES {
        fatal(
            "superslab",
            "pointer into a free slab (double free or invalid pointer)",
            region_where(ss, ptr as usize),
        );
    }
    Region::Small {
        slab,
        class: class as usize,
    }
}

/// Frees a block of this allocator; null is a no-op.
///
/// # Safety
/// `ptr` is null or a live block of this allocator.
#[inline(always)]
pub unsafe fn free(ptr: *mut u8) {
    let h = thread::current();
    if TLS_HINT {
        // SAFETY: read-only access to the calling thread's heap (sentinels included).
        if let Hint::Hit(ss) = unsafe { (*h.local_ptr()).hint.lookup(ptr as usize) } {
            // SAFETY: the hint confirmed the SuperSlab at its current generation.
            return unsafe { free_small(h, &*ss, ptr) };
        }
    }
    // SAFETY: forwarded contract.
    unsafe { free_slow(h, ptr) }
}

#[cold]
#[inline(never)]
unsafe fn free_slow(h: &'static Heap, ptr: *mut u8) {
    if ptr.is_null() {
        return;
    }
    let r = lookup_registry(ptr);
    // SAFETY: registered regions start with a magic and are mapped while registered.
    let magic = unsafe { r.as_ref().magic };
    if magic == LARGE_MAGIC {
        // SAFETY: the registry confirmed a large block.
        return unsafe { large::free(r, ptr) };
    }
    if magic != SUPERSLAB_MAGIC {
        fatal(
            "registry",
            "region has a bad magic",
            Where::ptr(ptr as usize),
        );
    }
    let ss = r.cast::<SuperSlab>().as_ptr();
    if TLS_HINT && h.kind == HeapKind::Live {
        // SAFETY: our own live heap; the generation read now is the one the registry vouched for.
        unsafe { h.local_mut().hint.insert(ss, (*ss).generation()) };
    }
    // SAFETY: a registered SuperSlab.
    unsafe { free_small(h, &*ss, ptr) }
}

/// Frees a small block of SuperSlab `ss`: local if the calling thread owns its slab, else remote.
#[inline(always)]
unsafe fn free_small(h: &'static Heap, ss: &SuperSlab, ptr: *mut u8) {
    let idx = SuperSlab::slab_index(ptr as usize);
    if idx < FIRST_DATA_SLAB {
        fatal(
            "superslab",
            "pointer into the SuperSlab header",
            region_where(ss, ptr as usize),
        );
    }
    let slab = &ss.slabs[idx];
    if slab.is_owned_by(h.owner_ptr()) {
        // SAFETY: we own the slab.
        unsafe { free_local(h, slab, ptr) }
    } else {
        // SAFETY: forwarded contract.
        unsafe { free_remote(slab, ptr) }
    }
}

/// Pushes the block on the owner's own TLS list; spills when over the cap.
#[inline(always)]
unsafe fn free_local(h: &'static Heap, slab: &Slab, ptr: *mut u8) {
    // SAFETY: we own the slab.
    let (class, carved) = unsafe { slab.local(|l| (l.class as usize, l.carved as usize)) };
    let block = if HEADERLESS {
        ptr
    } else {
        let at = Where {
            ptr: ptr as usize,
            class: Some(class),
            ..Where::default()
        };
        // SAFETY: `ptr` is in one of our data slabs.
        ptr.wrapping_sub(unsafe { header::take(ptr, class, class_size(class), at) })
    };
    slab.check_block("free", block as usize, class, carved);
    // SAFETY: a checked block of a slab we own, pushed on our own live heap's list (only a live
    // heap can own a slab).
    unsafe {
        if TlsList::push(h.tls(class), NonNull::new_unchecked(block.cast::<Block>())) {
            magazine::spill(h, class);
        }
    }
}

/// Pushes the block on its slab's remote queue (and notifies the owner if needed).
#[inline(never)]
unsafe fn free_remote(slab: &Slab, ptr: *mut u8) {
    let class = slab.class.load(crate::sync::Ordering::Relaxed);
    if class == NO_CLASS || class as usize >= NUM_CLASSES {
        fatal(
            "remote",
            "free into a free slab (double free or invalid pointer)",
            Where::ptr(ptr as usize),
        );
    }
    let class = class as usize;
    let block = if HEADERLESS {
        ptr
    } else {
        let at = Where {
            ptr: ptr as usize,
            class: Some(class),
            ..Where::default()
        };
        // SAFETY: `ptr` is in one of our data slabs.
        ptr.wrapping_sub(unsafe { header::take(ptr, class, class_size(class), at) })
    };
    slab.check_block("remote", block as usize, class, blocks_per_slab(class));
    // SAFETY: a checked block of this slab, being freed by the caller.
    unsafe { slab.free_remote(NonNull::new_unchecked(block.cast::<Block>()), FORCE_NOTIFY) };
}
