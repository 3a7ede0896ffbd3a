//! hakmem — a pure-Rust general-purpose memory allocator (work in progress skeleton).
#![deny(unsafe_op_in_unsafe_fn)]

pub mod config;
mod debug;
mod os;
mod size_class;
mod sync;

#[cfg(feature = "fault-injection")]
pub use os::fault;

use core::alloc::{GlobalAlloc, Layout};

/// The hakmem allocator. `#[global_allocator] static GLOBAL: hakmem::HakMem = hakmem::HakMem;`
#[derive(Clone, Copy, Default, Debug)]
pub struct HakMem;

// TEMPORARY skeleton: forwards to System until the boxes land.
unsafe impl GlobalAlloc for HakMem {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        unsafe { std::alloc::System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { std::alloc::System.dealloc(p, l) }
    }
}

/// Flushes the calling thread's caches back to their slabs, reclaims empty slabs of exited
/// threads and returns empty SuperSlabs' pages to the OS.
pub fn collect() {}

/// C-semantics entry points for the preload library (`libhakmem.so`).
pub mod raw {
    /// `malloc`: null on failure; `malloc(0)` returns a unique pointer.
    /// # Safety
    /// None beyond C's.
    pub unsafe fn malloc(_size: usize) -> *mut u8 { core::ptr::null_mut() }
    /// `calloc`: null on overflow or failure; memory zeroed.
    /// # Safety
    /// None beyond C's.
    pub unsafe fn calloc(_n: usize, _size: usize) -> *mut u8 { core::ptr::null_mut() }
    /// `realloc` with glibc semantics (null → malloc; size 0 → free and return null).
    /// # Safety
    /// `p` is null or a live pointer from this allocator.
    pub unsafe fn realloc(_p: *mut u8, _size: usize) -> *mut u8 { core::ptr::null_mut() }
    /// `free`: null is a no-op.
    /// # Safety
    /// `p` is null or a live pointer from this allocator.
    pub unsafe fn free(_p: *mut u8) {}
    /// Aligned allocation; `align` must be a power of two (else null).
    /// # Safety
    /// None beyond C's.
    pub unsafe fn aligned_alloc(_align: usize, _size: usize) -> *mut u8 { core::ptr::null_mut() }
    /// Exact usable size of a live block (0 for null).
    /// # Safety
    /// `p` is null or a live pointer from this allocator.
    pub unsafe fn usable_size(_p: *mut u8) -> usize { 0 }
}
