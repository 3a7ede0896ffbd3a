//! The mock backend of the OS box, used under loom: memory comes from the Rust system allocator.
//! It never returns memory (models are short), and decommit zeroes instead of unmapping.

use core::ptr::NonNull;
use std::alloc::{GlobalAlloc, Layout, System};

/// `_charged` has no meaning here: the system allocator has no overcommit accounting to ask.
pub fn reserve_aligned(size: usize, align: usize, _charged: bool) -> Option<NonNull<u8>> {
    let layout = Layout::from_size_align(size, align).ok()?;
    // SAFETY: the layout has a nonzero size (callers reserve at least a page).
    NonNull::new(unsafe { System.alloc_zeroed(layout) })
}

/// # Safety
/// See `os::decommit`.
pub unsafe fn decommit(ptr: NonNull<u8>, len: usize) -> Result<(), i32> {
    // A decommit is a system call: other threads may run before it takes effect (a model must be
    // able to schedule them here, or a purge of memory someone else can reach would look atomic).
    loom::thread::yield_now();
    // SAFETY: the caller guarantees the range is ours and dead.
    unsafe { core::ptr::write_bytes(ptr.as_ptr(), 0, len) };
    Ok(())
}

/// `unix::LOCKED_ERRNO` (`EINVAL`); the mock's memory is never locked.
pub const LOCKED_ERRNO: i32 = 22;

/// # Safety
/// See `os::residency`. The mock's memory is all resident.
pub unsafe fn residency(_ptr: NonNull<u8>, len: usize, out: &mut [u8]) -> bool {
    out[..len.div_ceil(crate::config::PAGE_SIZE)].fill(1);
    true
}

/// # Safety
/// See `os::decommit_lazy`.
pub unsafe fn decommit_lazy(ptr: NonNull<u8>, len: usize) -> Result<(), i32> {
    // SAFETY: forwarded contract.
    unsafe { decommit(ptr, len) }
}

/// The mock's clocks stand still (models must not read time).
pub fn monotonic_nanos() -> u64 {
    0
}

/// As `monotonic_nanos`.
pub fn thread_cpu_nanos() -> u64 {
    0
}

pub fn thread_voluntary_switches() -> u64 {
    0
}

/// # Safety
/// See `os::collapse`. The mock has one page size: it cannot.
pub unsafe fn collapse(_ptr: NonNull<u8>, _len: usize) -> bool {
    false
}

/// # Safety
/// See the unix backend's `advise_huge`. The mock has one page size: it cannot.
pub unsafe fn advise_huge(_ptr: NonNull<u8>, _len: usize, _on: bool) -> bool {
    false
}

/// # Safety
/// See `os::resident_pages`. The mock cannot say.
pub unsafe fn resident_pages(_ptr: NonNull<u8>, _len: usize) -> Option<usize> {
    None
}

/// # Safety
/// See `os::release`. The mock leaks instead (models are short-lived).
pub unsafe fn release(_ptr: NonNull<u8>, _len: usize) -> bool {
    true
}

/// # Safety
/// See `os::resize_in_place`.
pub unsafe fn resize_in_place(_ptr: NonNull<u8>, old: usize, new: usize) -> bool {
    new == old
}

/// # Safety
/// See `os::move_to`.
pub unsafe fn move_to(_from: NonNull<u8>, _old: usize, _to: NonNull<u8>, _new: usize) -> bool {
    false
}

pub fn yield_now() {
    loom::thread::yield_now();
}

fn write_stderr(bytes: &[u8]) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(bytes);
}

pub fn dup_stderr() -> Option<i32> {
    None
}

pub fn write_fd(_fd: i32, bytes: &[u8]) {
    write_stderr(bytes);
}

pub fn abort() -> ! {
    panic!("hakmem fail-fast abort under loom")
}

/// Under loom time does not pass on its own: the purge clock moves only through its test skew.
pub fn now_ms() -> u64 {
    0
}
