//! The address classifier: which region holds a pointer — a small block's slab and class, a
//! medium block's span, or a large block's header — or an abort. Used by `free` (through
//! `lookup` and `data_slab`, after the owned-slab table and the hint cache have missed) and by
//! `realloc` and `usable_size` (through `locate`).
//!
//! Boundary: one registry lookup and the region's magic, then the slab index; reads only.
//! "Not ours", a bad magic, a pointer into a SuperSlab's header slab or into a free slab abort
//! at once (`debug::fatal`), naming the box that found it.

use core::ptr::NonNull;

use crate::config::FIRST_DATA_SLAB;
use crate::debug::{fatal, Where};
use crate::large::LARGE_MAGIC;
use crate::prof::{SAMPLED_LARGE_MAGIC, SAMPLED_MAGIC};
use crate::registry::{self, RegionHead};
use crate::size_class::NUM_CLASSES;
use crate::slab::slab::{Slab, NO_CLASS};
use crate::slab::superslab::{SuperSlab, SUPERSLAB_MAGIC};
use crate::span::{SpanHeader, SPAN_MAGIC};

/// What an address belongs to.
pub enum Region {
    Small { slab: *const Slab, class: usize },
    Medium(NonNull<SpanHeader>),
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

/// What the registry says holds `ptr`, its magic checked.
pub enum Found {
    Small(NonNull<SuperSlab>),
    Medium(NonNull<SpanHeader>),
    Large(NonNull<RegionHead>),
}

/// Asks the registry which region holds `ptr` and checks the region's magic; aborts on "not
/// ours" and on a bad magic.
#[inline]
pub fn lookup(ptr: *mut u8) -> Found {
    let Some(r) = NonNull::new(registry::lookup(ptr as usize)) else {
        fatal(
            "registry",
            "pointer was not allocated by hakmem, or is a large block already freed (not ours)",
            Where::ptr(ptr as usize),
        )
    };
    // Tested in this order (an `if` chain, not a `match` the compiler may reorder): the small and
    // medium regions, then the rarer large and sampled ones.
    // SAFETY: registered regions start with a magic and are mapped while registered.
    let magic = unsafe { r.as_ref().magic };
    if magic == SUPERSLAB_MAGIC {
        Found::Small(r.cast())
    } else if magic == SPAN_MAGIC {
        Found::Medium(r.cast())
    } else if magic == LARGE_MAGIC || magic == SAMPLED_LARGE_MAGIC || magic == SAMPLED_MAGIC {
        // Sampled blocks (profile box): arenas of their own, or tagged large blocks; both `large`.
        Found::Large(r)
    } else {
        fatal(
            "registry",
            "region has a bad magic",
            Where::ptr(ptr as usize),
        )
    }
}

/// The data slab of `ss` holding `ptr`; aborts for the header slab.
#[inline(always)]
pub fn data_slab(ss: &SuperSlab, ptr: *mut u8) -> &Slab {
    let idx = SuperSlab::slab_index(ptr as usize);
    if idx < FIRST_DATA_SLAB {
        in_header_slab(ss, ptr);
    }
    &ss.slabs[idx]
}

/// `data_slab`'s abort, out of line: its message needs a stack frame the free paths that inline
/// `data_slab` would otherwise set up on every call.
#[cold]
#[inline(never)]
fn in_header_slab(ss: &SuperSlab, ptr: *mut u8) -> ! {
    fatal(
        "superslab",
        "pointer into the SuperSlab header",
        region_where(ss, ptr as usize),
    )
}

/// The slab and class of a small block, or the large header; aborts on anything else.
///
/// # Safety
/// `ptr` is claimed to be a live block of this allocator.
pub unsafe fn locate(ptr: *mut u8) -> Region {
    let ss = match lookup(ptr) {
        Found::Large(r) => return Region::Large(r),
        Found::Medium(s) => return Region::Medium(s),
        // SAFETY: a registered SuperSlab header.
        Found::Small(ss) => unsafe { ss.as_ref() },
    };
    let slab = data_slab(ss, ptr);
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
