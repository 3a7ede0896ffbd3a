//! The Unix backend of the OS box: mmap, munmap, madvise and (on Linux) mremap.

use core::ptr::NonNull;

pub fn reserve_aligned(size: usize, align: usize) -> Option<NonNull<u8>> {
    debug_assert!(align.is_power_of_two() && size % crate::config::PAGE_SIZE == 0);
    if align <= crate::config::PAGE_SIZE {
        return map(size);
    }
    // Over-reserve, then trim the misaligned head and the unused tail.
    let span = size.checked_add(align)?;
    let raw = map(span)?;
    let base = raw.as_ptr() as usize;
    let aligned = (base + align - 1) & !(align - 1);
    let head = aligned - base;
    let tail = span - head - size;
    // SAFETY: both trimmed ranges lie inside the mapping just made and are not handed out. A
    // refused trim is counted; the untouched range costs address space only (never RSS).
    unsafe {
        if head > 0 && libc::munmap(raw.as_ptr().cast(), head) != 0 {
            super::failed("munmap (alignment trim)");
        }
        if tail > 0 && libc::munmap(raw.as_ptr().add(head + size).cast(), tail) != 0 {
            super::failed("munmap (alignment trim)");
        }
    }
    // Strict provenance: derive the aligned pointer from the mapping's pointer.
    NonNull::new(raw.as_ptr().wrapping_add(head))
}

fn map(size: usize) -> Option<NonNull<u8>> {
    // SAFETY: an anonymous private mapping at a kernel-chosen address touches no existing memory.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        None
    } else {
        NonNull::new(p.cast())
    }
}

/// Runs `f` (a syscall on a `free` path) leaving `errno` as it was: C's `free` must never change
/// `errno` (POSIX.1-2024), and this way the preload library's `free` need not touch `errno` on
/// its fast path.
#[inline]
fn keep_errno<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: the calling thread's errno slot; `__errno_location` never allocates.
        let e = unsafe { libc::__errno_location() };
        // SAFETY: as above.
        let saved = unsafe { *e };
        let r = f();
        // SAFETY: as above.
        unsafe { *e = saved };
        r
    }
    #[cfg(not(target_os = "linux"))]
    f()
}

/// # Safety
/// See `os::decommit`.
pub unsafe fn decommit(ptr: NonNull<u8>, len: usize) -> bool {
    // SAFETY: the caller guarantees the range is ours and dead; DONTNEED keeps it mapped and makes
    // it read back as zero.
    keep_errno(|| unsafe { libc::madvise(ptr.as_ptr().cast(), len, libc::MADV_DONTNEED) == 0 })
}

/// # Safety
/// See `os::decommit_lazy`. False where `MADV_FREE` is missing or refused.
pub unsafe fn decommit_lazy(ptr: NonNull<u8>, len: usize) -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: as for `decommit`; FREE keeps the range mapped.
        keep_errno(|| unsafe { libc::madvise(ptr.as_ptr().cast(), len, libc::MADV_FREE) == 0 })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (ptr, len);
        false
    }
}

/// # Safety
/// See `os::release`.
pub unsafe fn release(ptr: NonNull<u8>, len: usize) -> bool {
    // SAFETY: the caller guarantees the range is a dead reservation of ours.
    keep_errno(|| unsafe { libc::munmap(ptr.as_ptr().cast(), len) == 0 })
}

/// # Safety
/// See `os::resize_in_place`.
pub unsafe fn resize_in_place(ptr: NonNull<u8>, old: usize, new: usize) -> bool {
    if new <= old {
        // Shrinks are `os::release` of the tail.
        return new == old;
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: flags 0 forbid moving; on failure (ENOMEM: the neighbours are mapped) the mapping
        // is unchanged and the caller moves the block, so the result is checked and not an error.
        let p = keep_errno(|| unsafe { libc::mremap(ptr.as_ptr().cast(), old, new, 0) });
        p != libc::MAP_FAILED
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

pub fn yield_now() {
    // SAFETY: sched_yield has no preconditions.
    unsafe {
        libc::sched_yield();
    }
}

/// A private duplicate of stderr (close-on-exec), for reports printed at exit after the program
/// may have closed fd 2 (coreutils do, in their own atexit handler). `None` if it cannot be made.
pub fn dup_stderr() -> Option<i32> {
    // SAFETY: duplicating a descriptor has no memory-safety preconditions.
    let fd = unsafe { libc::fcntl(2, libc::F_DUPFD_CLOEXEC, 10) };
    (fd >= 0).then_some(fd)
}

/// Writes `bytes` to `fd` without allocating; short writes are retried, errors ignored.
pub fn write_fd(fd: i32, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: the slice is valid for reads of its length.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

/// Aborts the process (SIGABRT) without unwinding and without allocating.
pub fn abort() -> ! {
    // SAFETY: abort has no preconditions and does not return.
    unsafe { libc::abort() }
}

/// Milliseconds on a coarse monotonic clock (Linux: `CLOCK_MONOTONIC_COARSE`, read from the vDSO
/// without a system call; resolution a few ms). Never allocates.
pub fn now_ms() -> u64 {
    #[cfg(target_os = "linux")]
    const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC_COARSE;
    #[cfg(not(target_os = "linux"))]
    const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; the clock id is supported (checked at build).
    unsafe { libc::clock_gettime(CLOCK, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1000)
        .wrapping_add(ts.tv_nsec as u64 / 1_000_000)
}
