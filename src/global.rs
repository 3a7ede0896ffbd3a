//! `HakMem`: the `GlobalAlloc` and `allocator_api2::Allocator` faces of the allocator. Thin
//! forwarding only; every decision lives in the boxes below.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;

use crate::config::DEALLOC_SKIPS_NULL;
use crate::front::{alloc, free};

/// The hakmem allocator. A Rust program sets it up with
/// `#[global_allocator] static GLOBAL: hakmem::HakMem = hakmem::HakMem;`.
#[derive(Clone, Copy, Default, Debug)]
pub struct HakMem;

// SAFETY: every method returns memory that satisfies the layout (alignment via the size classes or
// the large path), or null; blocks are never handed out twice while live.
unsafe impl GlobalAlloc for HakMem {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        alloc::alloc(layout.size(), layout.align())
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // The layout's size could pick the class without a lookup, but the address-based lookup
        // stays the source of truth: it validates the pointer and it is what C's `free` has.
        // SAFETY: the caller passes a live block of ours, never null (`GlobalAlloc::dealloc`'s
        // contract: a block this allocator handed out).
        unsafe {
            if DEALLOC_SKIPS_NULL {
                free::free_nonnull(ptr)
            } else {
                free::free(ptr)
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        alloc::alloc_zeroed(layout.size(), layout.align())
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller passes a live block of ours allocated with `layout`.
        unsafe { alloc::realloc(ptr, layout.align(), new_size) }
    }
}

// SAFETY: blocks stay valid until deallocated, whatever happens to the `HakMem` value (a unit
// struct); cloning it yields the same allocator.
unsafe impl allocator_api2::alloc::Allocator for HakMem {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        if layout.size() == 0 {
            // A dangling, aligned pointer is the documented answer for zero-sized requests.
            let p = NonNull::new(core::ptr::without_provenance_mut::<u8>(layout.align()))
                .ok_or(allocator_api2::alloc::AllocError)?;
            return Ok(NonNull::slice_from_raw_parts(p, 0));
        }
        let p = alloc::alloc(layout.size(), layout.align());
        NonNull::new(p)
            .map(|p| NonNull::slice_from_raw_parts(p, layout.size()))
            .ok_or(allocator_api2::alloc::AllocError)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        if layout.size() != 0 {
            // SAFETY: a live block of ours (`NonNull`).
            unsafe {
                if DEALLOC_SKIPS_NULL {
                    free::free_nonnull(ptr.as_ptr())
                } else {
                    free::free(ptr.as_ptr())
                }
            }
        }
    }
}
