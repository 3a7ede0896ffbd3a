//! The OS box: the one narrow contract through which hakmem gets address space.
//!
//! Boundary: reserve (mapped read-write, committed lazily by the kernel), decommit (give the pages
//! back, keep the range mapped), release (unmap), in-place resize, and the few process-level calls
//! the other boxes need (yield, write to stderr, abort). No `cfg(target_os)` exists outside this
//! module. Every failure is a `None`/`false` for the caller to turn into a null return: this box
//! never panics and never aborts on an OS error.
//!
//! Backends: `unix` (mmap/munmap/madvise/mremap) in every real build, `mock` (the Rust system
//! allocator) under loom, where the models need memory but must not make syscalls.

#[cfg(feature = "fault-injection")]
pub mod fault;

#[cfg(hakmem_loom)]
mod mock;
#[cfg(hakmem_loom)]
use mock as backend;

#[cfg(not(hakmem_loom))]
mod unix;
#[cfg(not(hakmem_loom))]
use unix as backend;

use core::ptr::NonNull;

pub use backend::{abort, dup_stderr, write_fd, yield_now};

/// Reserves `size` bytes aligned to `align` (a power of two, at least a page), readable and
/// writable and zero-filled. `None` when the OS refuses.
#[inline]
pub fn reserve_aligned(size: usize, align: usize) -> Option<NonNull<u8>> {
    #[cfg(feature = "fault-injection")]
    if fault::take_failure() {
        return None;
    }
    backend::reserve_aligned(size, align)
}

/// Gives the pages of `[ptr, ptr + len)` back to the OS; the range stays mapped and reads as zero
/// afterwards.
///
/// # Safety
/// The range lies inside one reservation and holds nothing anyone will read as data again.
#[inline]
pub unsafe fn decommit(ptr: NonNull<u8>, len: usize) {
    // SAFETY: forwarded contract.
    unsafe { backend::decommit(ptr, len) }
}

/// Unmaps `[ptr, ptr + len)`.
///
/// # Safety
/// The range is a whole reservation (or its page-aligned tail) that nothing will touch again.
#[inline]
pub unsafe fn release(ptr: NonNull<u8>, len: usize) {
    // SAFETY: forwarded contract.
    unsafe { backend::release(ptr, len) }
}

/// Grows or shrinks the reservation at `ptr` from `old` to `new` bytes without moving it.
/// Returns false (and changes nothing) when the OS cannot.
///
/// # Safety
/// `[ptr, ptr + old)` is a whole reservation made by `reserve_aligned`.
#[inline]
pub unsafe fn resize_in_place(ptr: NonNull<u8>, old: usize, new: usize) -> bool {
    #[cfg(feature = "fault-injection")]
    if new > old && fault::take_failure() {
        return false;
    }
    // SAFETY: forwarded contract.
    unsafe { backend::resize_in_place(ptr, old, new) }
}

/// Rounds `n` up to a multiple of the page size; `None` on overflow.
#[inline]
pub fn page_round(n: usize) -> Option<usize> {
    Some(n.checked_add(crate::config::PAGE_SIZE - 1)? & !(crate::config::PAGE_SIZE - 1))
}
