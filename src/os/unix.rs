//! The Unix backend of the OS box: mmap, munmap, madvise and (on Linux) mremap.

use crate::sync::plain::{AtomicUsize, Ordering};
use core::ptr::NonNull;

/// Where the next reservation of `size == align` (a SuperSlab) is asked for: right below the
/// last one (`config::MMAP_NEXT_HINT`). Only a hint: the kernel places a mapping there only if
/// the range is free, and a reservation that lands elsewhere is checked for alignment like any.
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// `charged`: map without `MAP_NORESERVE`, so that the kernel's overcommit accounting sees the
/// mapping (`os::reserve_charged`).
pub fn reserve_aligned(size: usize, align: usize, charged: bool) -> Option<NonNull<u8>> {
    debug_assert!(align.is_power_of_two() && size % crate::config::PAGE_SIZE == 0);
    if align <= crate::config::PAGE_SIZE {
        return map(size, charged);
    }
    let hinted = crate::config::MMAP_NEXT_HINT && size == align && !charged;
    if hinted {
        if let Some(p) = map_below_last(size) {
            return Some(p);
        }
    }
    // Over-reserve, then trim the misaligned head and the unused tail.
    let span = size.checked_add(align)?;
    let Some(raw) = map(span, charged) else {
        return if crate::config::EXACT_MAP_FALLBACK {
            map_exact_aligned(size, align, charged)
        } else {
            None
        };
    };
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
    if hinted {
        // ORDERING: Relaxed — a placement hint; nothing is published through it.
        NEXT.store(aligned.wrapping_sub(size), Ordering::Relaxed);
    }
    // Strict provenance: derive the aligned pointer from the mapping's pointer.
    NonNull::new(raw.as_ptr().wrapping_add(head))
}

/// Maps `size` bytes (`size == align`) right below the last such reservation, if that range is
/// free: SuperSlabs then lie back to back, instead of one per 4 MiB (each over-reservation's
/// trimmed head and tail leave holes too small for the next), so the direct-mapped per-thread
/// tables indexed by address (owned-slab table, hint cache) see consecutive indices and the
/// mappings merge into one VMA. None (and nothing mapped) when the kernel put it elsewhere: the
/// caller over-reserves as before.
fn map_below_last(size: usize) -> Option<NonNull<u8>> {
    // ORDERING: Relaxed — a placement hint (see `NEXT`).
    let want = NEXT.load(Ordering::Relaxed);
    if want == 0 || want % size != 0 {
        return None;
    }
    // SAFETY: an anonymous private mapping without MAP_FIXED: the address is a hint, the kernel
    // never replaces an existing mapping for it.
    let p = unsafe {
        libc::mmap(
            want as *mut libc::c_void,
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return None;
    }
    if p as usize == want {
        // ORDERING: Relaxed — as above. Two threads racing here both map, at different
        // addresses; the loser's lands elsewhere and is given back below.
        NEXT.store(want.wrapping_sub(size), Ordering::Relaxed);
        return NonNull::new(p.cast());
    }
    // SAFETY: the mapping just made, handed out to nobody.
    if unsafe { libc::munmap(p, size) } != 0 {
        super::failed("munmap (misplaced hint)");
    }
    None
}

/// The fallback when `size + align` cannot be mapped but `size` might (`config::EXACT_MAP_FALLBACK`:
/// a locked-memory limit under `mlockall(MCL_FUTURE)` charges the slack too, or a nearly full
/// address space): maps exactly `size` and keeps it when aligned; else gives it back and asks
/// for the aligned address below it, then the one above (hints: the kernel never replaces a
/// mapping for them). None, with nothing left mapped, when all three miss.
#[cold]
#[inline(never)]
fn map_exact_aligned(size: usize, align: usize, charged: bool) -> Option<NonNull<u8>> {
    let p = map(size, charged)?;
    let base = p.as_ptr() as usize;
    if base % align == 0 {
        return Some(p);
    }
    // SAFETY: the mapping just made, handed out to nobody.
    if unsafe { libc::munmap(p.as_ptr().cast(), size) } != 0 {
        super::failed("munmap (misaligned exact map)");
        return None;
    }
    let below = base & !(align - 1);
    for want in [below, below.wrapping_add(align)] {
        if want == 0 {
            continue;
        }
        // SAFETY: an anonymous private mapping without MAP_FIXED: the address is a hint, the
        // kernel never replaces an existing mapping for it.
        let q = unsafe {
            libc::mmap(
                want as *mut libc::c_void,
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE
                    | libc::MAP_ANONYMOUS
                    | if charged { 0 } else { libc::MAP_NORESERVE },
                -1,
                0,
            )
        };
        if q == libc::MAP_FAILED {
            continue;
        }
        if q as usize == want {
            // Strict provenance is kept by the kernel: the pointer comes from this mmap.
            return NonNull::new(q.cast());
        }
        // SAFETY: the mapping just made, handed out to nobody.
        if unsafe { libc::munmap(q, size) } != 0 {
            super::failed("munmap (misplaced exact map)");
            return None;
        }
    }
    None
}

fn map(size: usize, charged: bool) -> Option<NonNull<u8>> {
    let noreserve = if charged { 0 } else { libc::MAP_NORESERVE };
    // SAFETY: an anonymous private mapping at a kernel-chosen address touches no existing memory.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | noreserve,
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
pub unsafe fn decommit(ptr: NonNull<u8>, len: usize) -> Result<(), i32> {
    // SAFETY: the caller guarantees the range is ours and dead; DONTNEED keeps it mapped and makes
    // it read back as zero.
    unsafe { madvise(ptr, len, libc::MADV_DONTNEED) }
}

/// What `madvise` tells a caller: the `errno` of a refusal (`LOCKED_ERRNO` for locked pages).
///
/// # Safety
/// As for `libc::madvise` with `advice`; the range is the caller's.
unsafe fn madvise(ptr: NonNull<u8>, len: usize, advice: libc::c_int) -> Result<(), i32> {
    keep_errno(|| {
        // SAFETY: per the contract.
        if unsafe { libc::madvise(ptr.as_ptr().cast(), len, advice) } == 0 {
            Ok(())
        } else {
            Err(errno())
        }
    })
}

/// The calling thread's `errno` (0 where this box cannot read it).
fn errno() -> i32 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: the calling thread's errno slot; `__errno_location` never allocates.
        unsafe { *libc::__errno_location() }
    }
    #[cfg(not(target_os = "linux"))]
    0
}

/// What `madvise(MADV_DONTNEED)` and `madvise(MADV_FREE)` answer for a range holding locked
/// pages (`mlock`, `mlockall`).
pub const LOCKED_ERRNO: i32 = libc::EINVAL;

/// # Safety
/// See `os::residency`.
pub unsafe fn residency(ptr: NonNull<u8>, len: usize, out: &mut [u8]) -> bool {
    debug_assert!(len.div_ceil(crate::config::PAGE_SIZE) <= out.len());
    // SAFETY: per the contract; `out` holds a byte for each page of the range.
    keep_errno(|| unsafe { libc::mincore(ptr.as_ptr().cast(), len, out.as_mut_ptr().cast()) }) == 0
}

/// # Safety
/// See `os::decommit_lazy`. False where `MADV_FREE` is missing or refused.
pub unsafe fn decommit_lazy(ptr: NonNull<u8>, len: usize) -> Result<(), i32> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: as for `decommit`; FREE keeps the range mapped.
        unsafe { madvise(ptr, len, libc::MADV_FREE) }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (ptr, len);
        Err(0)
    }
}

/// # Safety
/// See `os::collapse`. False where the OS cannot (no `MADV_COLLAPSE`: Linux before 6.1) or refuses.
pub unsafe fn collapse(ptr: NonNull<u8>, len: usize) -> bool {
    #[cfg(target_os = "linux")]
    {
        /// `MADV_COLLAPSE` (Linux 6.1); the libc crate defines it for glibc targets only.
        const MADV_COLLAPSE: libc::c_int = 25;
        // SAFETY: the range is the caller's; COLLAPSE changes only how it is backed, not its
        // contents (absent pages read as zero before and after).
        keep_errno(|| unsafe { libc::madvise(ptr.as_ptr().cast(), len, MADV_COLLAPSE) == 0 })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (ptr, len);
        false
    }
}

/// Marks `[ptr, ptr + len)` for transparent huge pages at its next faults (`MADV_HUGEPAGE`, `on`)
/// or takes the mark off (`MADV_NOHUGEPAGE`: neither its faults nor `khugepaged` make huge pages
/// of it then, whatever the system's THP mode); `os::fault_huge`. False where the OS cannot (not
/// Linux, THP compiled out) or refuses; the range keeps its backing and contents either way.
///
/// # Safety
/// The range lies inside one reservation of the caller's.
pub unsafe fn advise_huge(ptr: NonNull<u8>, len: usize, on: bool) -> bool {
    #[cfg(target_os = "linux")]
    {
        let advice = if on {
            libc::MADV_HUGEPAGE
        } else {
            libc::MADV_NOHUGEPAGE
        };
        // SAFETY: the range is the caller's; the advice changes only how later faults back it,
        // not its contents.
        keep_errno(|| unsafe { libc::madvise(ptr.as_ptr().cast(), len, advice) == 0 })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (ptr, len, on);
        false
    }
}

/// Out of line: the 512-byte page vector is in this leaf's frame only, not in its callers'
/// (`pool::take`, `span::count_fill`: docs/design.md, "Stack depth").
///
/// # Safety
/// See `os::resident_pages` (which bounds `len` to `RESIDENT_MAX_PAGES` pages).
#[inline(never)]
pub unsafe fn resident_pages(ptr: NonNull<u8>, len: usize) -> Option<usize> {
    let mut vec = [0u8; super::RESIDENT_MAX_PAGES];
    let pages = len.div_ceil(crate::config::PAGE_SIZE);
    if pages > vec.len() {
        return None;
    }
    // SAFETY: the range is the caller's mapping; `vec` holds one byte per page of it.
    let ok = keep_errno(|| unsafe {
        libc::mincore(ptr.as_ptr().cast(), len, vec.as_mut_ptr().cast()) == 0
    });
    ok.then(|| vec[..pages].iter().filter(|&&b| b & 1 != 0).count())
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

/// # Safety
/// See `os::move_to`.
pub unsafe fn move_to(from: NonNull<u8>, old: usize, to: NonNull<u8>, new: usize) -> bool {
    #[cfg(target_os = "linux")]
    {
        let flags = libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED;
        // SAFETY: both ranges are whole reservations of the caller's (the contract); FIXED
        // replaces `to`, which nothing refers to.
        let p = keep_errno(|| unsafe {
            libc::mremap(from.as_ptr().cast(), old, new, flags, to.as_ptr())
        });
        if p != libc::MAP_FAILED {
            return true;
        }
        // The kernel may have unmapped `to` before it failed. Take the range back only where it
        // is free (`MAP_FIXED_NOREPLACE`), so a mapping another thread made there since is never
        // unmapped; then give it up.
        // SAFETY: NOREPLACE maps only over free address space.
        let q = unsafe {
            libc::mmap(
                to.as_ptr().cast(),
                new,
                libc::PROT_NONE,
                libc::MAP_PRIVATE
                    | libc::MAP_ANONYMOUS
                    | libc::MAP_NORESERVE
                    | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        // Failing that (`EEXIST`), `to` is still (partly) mapped: ours (the kernel failed before
        // it unmapped it) or another thread's since. Giving back our part would risk theirs: it
        // stays mapped and untouched (address space only; the caller counts the failure).
        if q != libc::MAP_FAILED {
            // Ours: the whole range was free (`q == to`), or a kernel without NOREPLACE placed
            // it elsewhere. A refused unmap of untouched pages costs address space only.
            // SAFETY: the mapping just made, which nothing refers to.
            keep_errno(|| unsafe { libc::munmap(q, new) });
        }
        false
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (from, old, to, new);
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

/// Whether the 8 bytes at `addr` can be read, asked of the kernel without touching them: an
/// invalid `how` makes `rt_sigprocmask` fail with `EINVAL` after it copied the set from `addr`,
/// or with `EFAULT` when that copy faulted (the trick absl's `AddressIsReadable` uses). No signal
/// mask changes; no allocation; async-signal-safe.
pub fn is_readable(addr: usize) -> bool {
    // SAFETY: the kernel validates the pointer; an invalid `how` changes nothing.
    let r = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            !0 as libc::c_long,
            addr as *const libc::c_void,
            core::ptr::null_mut::<libc::c_void>(),
            8usize,
        )
    };
    // SAFETY: reading errno of the calling thread.
    r == -1 && unsafe { *libc::__errno_location() } != libc::EFAULT
}

/// Opens `path` for writing (created or truncated, mode 0644, close-on-exec). `None` on error.
pub fn create_file(path: &core::ffi::CStr) -> Option<i32> {
    // SAFETY: a NUL-terminated path.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
            0o644 as libc::c_uint,
        )
    };
    (fd >= 0).then_some(fd)
}

/// Reads as much of `path` as fits in `buf`; the number of bytes read (0 on error).
pub fn read_file(path: &core::ffi::CStr, buf: &mut [u8]) -> usize {
    // SAFETY: a NUL-terminated path.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return 0;
    }
    let mut n = 0;
    while n < buf.len() {
        // SAFETY: the tail of `buf` is valid for writes of its length.
        let r = unsafe { libc::read(fd, buf[n..].as_mut_ptr().cast(), buf.len() - n) };
        if r <= 0 {
            break;
        }
        n += r as usize;
    }
    close(fd);
    n
}

/// Writes all of `bytes` to `fd`; false on an error (short writes are retried).
pub fn write_all(fd: i32, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        // SAFETY: the slice is valid for reads of its length.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            // SAFETY: reading errno of the calling thread.
            if unsafe { *libc::__errno_location() } == libc::EINTR {
                continue;
            }
            return false;
        }
        if n == 0 {
            return false;
        }
        bytes = &bytes[n as usize..];
    }
    true
}

/// Closes `fd`; true on success.
pub fn close(fd: i32) -> bool {
    // SAFETY: closing a descriptor this process opened.
    unsafe { libc::close(fd) == 0 }
}

/// Marks `[ptr, ptr + len)` to read as zero in every forked child (`MADV_WIPEONFORK`, Linux 4.14).
/// False where the OS refuses.
///
/// # Safety
/// The range is a reservation of ours.
pub unsafe fn wipe_on_fork(ptr: NonNull<u8>, len: usize) -> bool {
    // SAFETY: per the contract; the advice changes only what a forked child sees.
    keep_errno(|| unsafe { libc::madvise(ptr.as_ptr().cast(), len, libc::MADV_WIPEONFORK) == 0 })
}

pub fn getpid() -> u32 {
    // SAFETY: no preconditions.
    unsafe { libc::getpid() as u32 }
}

/// Nanoseconds on clock `id` (0 if it cannot be read).
fn clock_nanos(id: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is valid for writes.
    if unsafe { libc::clock_gettime(id, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Wall-clock time in nanoseconds since the epoch (0 if the clock cannot be read).
pub fn now_nanos() -> u64 {
    clock_nanos(libc::CLOCK_REALTIME)
}

/// A monotonic counter for seeding (nanoseconds; 0 if the clock cannot be read).
pub fn monotonic_nanos() -> u64 {
    clock_nanos(libc::CLOCK_MONOTONIC)
}

/// CPU time of the calling thread in nanoseconds, kernel time included (0 if the clock cannot be
/// read). A system call on most kernels (no vDSO for CPU clocks): for slow paths only.
pub fn thread_cpu_nanos() -> u64 {
    clock_nanos(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// Voluntary context switches of the calling thread so far (`getrusage(RUSAGE_THREAD)`'s
/// `ru_nvcsw`: the times it blocked in the kernel; 0 if the call fails). A system call: for slow
/// paths only.
pub fn thread_voluntary_switches() -> u64 {
    // SAFETY: a zeroed rusage is a valid value; getrusage writes only into it.
    unsafe {
        let mut ru: libc::rusage = core::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_THREAD, &mut ru) != 0 {
            return 0;
        }
        ru.ru_nvcsw as u64
    }
}

/// Installs `handler` for signal `sig` (`SA_RESTART`). False if the kernel refuses.
pub fn install_signal(sig: i32, handler: extern "C" fn(i32)) -> bool {
    // SAFETY: a zeroed sigaction is a valid starting point; the handler is a plain C function.
    unsafe {
        let mut sa: libc::sigaction = core::mem::zeroed();
        sa.sa_sigaction = handler as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, core::ptr::null_mut()) == 0
    }
}

/// Registers `f` to run at process exit. False if the C runtime refuses.
pub fn at_exit(f: extern "C" fn()) -> bool {
    // SAFETY: registers a plain C callback.
    unsafe { libc::atexit(f) == 0 }
}
