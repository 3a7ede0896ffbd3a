//! C-semantics entry points, for the preload library (`libhakmem.so`). This crate exports no
//! symbols itself; `preload/` wraps these in `#[no_mangle] extern "C"` functions and sets `errno`.

use crate::config::MIN_ALIGN;
use crate::front::{alloc, free};

/// `malloc`: null on failure; `malloc(0)` returns a unique pointer.
///
/// # Safety
/// None beyond C's; unsafe for symmetry with the rest of this module.
#[inline]
pub unsafe fn malloc(size: usize) -> *mut u8 {
    // Size 0 takes the general path, which serves it from the smallest class.
    alloc::alloc(size, MIN_ALIGN)
}

/// `malloc` that sets `errno` to `ENOMEM` when it returns null (the only function of this module
/// that touches `errno`): the preload library's `malloc`, whose fast path then needs no test
/// after the call.
///
/// # Safety
/// None beyond C's.
#[inline]
pub unsafe fn malloc_errno(size: usize) -> *mut u8 {
    alloc::malloc_errno(size)
}

/// `calloc`: null on overflow or failure; the memory is zeroed.
///
/// # Safety
/// None beyond C's.
#[inline]
pub unsafe fn calloc(n: usize, size: usize) -> *mut u8 {
    match n.checked_mul(size) {
        Some(total) => alloc::alloc_zeroed(total.max(1), MIN_ALIGN),
        None => core::ptr::null_mut(),
    }
}

/// `realloc` with glibc semantics: null `p` allocates; size 0 frees and returns null.
///
/// # Safety
/// `p` is null or a live block of this allocator.
#[inline]
pub unsafe fn realloc(p: *mut u8, size: usize) -> *mut u8 {
    if p.is_null() {
        return alloc::alloc(size.max(1), MIN_ALIGN);
    }
    if size == 0 {
        // SAFETY: per the contract.
        unsafe { free::free(p) };
        return core::ptr::null_mut();
    }
    // SAFETY: per the contract; C blocks are 16-aligned unless they came from an aligned call,
    // and realloc of those is not required to keep the alignment.
    unsafe { alloc::realloc(p, MIN_ALIGN, size) }
}

/// `free`: null is a no-op.
///
/// # Safety
/// `p` is null or a live block of this allocator.
#[inline]
pub unsafe fn free(p: *mut u8) {
    // SAFETY: per the contract.
    unsafe { free::free(p) }
}

/// Aligned allocation: `align` must be a power of two (else null).
///
/// # Safety
/// None beyond C's.
#[inline]
pub unsafe fn aligned_alloc(align: usize, size: usize) -> *mut u8 {
    if !align.is_power_of_two() {
        return core::ptr::null_mut();
    }
    alloc::alloc(size.max(1), align.max(MIN_ALIGN))
}

/// Exact usable size of a live block (0 for null).
///
/// # Safety
/// `p` is null or a live block of this allocator.
#[inline]
pub unsafe fn usable_size(p: *mut u8) -> usize {
    if p.is_null() {
        return 0;
    }
    // SAFETY: per the contract.
    unsafe { alloc::usable_size(p) }
}
