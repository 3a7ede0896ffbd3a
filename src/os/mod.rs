//! The OS box: the one narrow contract through which hakmem gets address space.
//!
//! Boundary: reserve (mapped read-write, committed lazily by the kernel; `reserve_charged` for a
//! user's large block, seen by the kernel's overcommit accounting as glibc's mmap is), decommit (give the pages
//! back, keep the range mapped), release (unmap), in-place resize, and the few process-level calls
//! the other boxes need (yield, write to stderr, abort). No `cfg(target_os)` exists outside this
//! module. Every failure is a `None`/`false` for the caller to turn into a null return: this box
//! never panics and never aborts on an OS error.
//!
//! No silent OS failure: every `munmap`/`madvise`/`mremap` result is checked. A release or decommit
//! the OS refuses is counted (`failures`, shown as `os_failures` in `stats()`) and reported once on
//! stderr; a refused `munmap` falls back to `MADV_DONTNEED` so the pages at least stop counting in
//! RSS, and returns false so the caller keeps the range accounted (and reuses or retries it). A
//! refused `mremap` growth is not a failure: the caller moves the block.
//!
//! Locked memory (`config::LOCKED_MEMORY`): a decommit refused with `EINVAL` is the kernel saying
//! the range holds locked pages (`mlock`, `mlockall`): the box notes the memory locked (`locked`),
//! counts one failure and says so once, and from then on answers every decommit false without a
//! system call (`purges_skipped_locked`), trying every `LOCKED_RETRY_EVERY`-th one for real so a
//! `munlockall` turns purging back on. Callers keep a refused range committed and reuse it.
//!
//! Backends: `unix` (mmap/munmap/madvise/mremap) in every real build, `mock` (the Rust system
//! allocator) under loom, where the models need memory but must not make syscalls.

#[cfg(feature = "fault-injection")]
pub mod fault;

mod thp;

#[cfg(hakmem_loom)]
mod mock;
#[cfg(hakmem_loom)]
use mock as backend;

#[cfg(not(hakmem_loom))]
mod unix;
#[cfg(not(hakmem_loom))]
use unix as backend;

use core::ptr::NonNull;

pub use backend::{abort, dup_stderr, now_ms, write_fd, yield_now};
/// Process services of the profile box (files, signals, clocks, a readability probe); real
/// builds only.
#[cfg(not(hakmem_loom))]
pub use unix::{
    at_exit, close, create_file, getpid, install_signal, is_readable, monotonic_nanos, now_nanos,
    read_file, write_all,
};

use crate::sync::plain::{AtomicBool, AtomicU64, Ordering};

static FAILURES: AtomicU64 = AtomicU64::new(0);
static REPORTED: AtomicBool = AtomicBool::new(false);

/// OS calls that failed (refused releases, decommits and trims) since the process started.
pub fn failures() -> u64 {
    // ORDERING: Relaxed — a statistic; publishes nothing.
    FAILURES.load(Ordering::Relaxed)
}

/// Counts a refused OS call and says so once per process on stderr (no allocation, no formatting:
/// this box sits below `debug`).
#[cold]
pub(crate) fn failed(call: &str) {
    // ORDERING: Relaxed — a statistic and an at-most-once flag; nothing is published with them.
    FAILURES.fetch_add(1, Ordering::Relaxed);
    if !REPORTED.swap(true, Ordering::Relaxed) {
        backend::write_fd(2, b"hakmem: os: ");
        backend::write_fd(2, call.as_bytes());
        backend::write_fd(
            2,
            b" failed; the range stays accounted and decommitted and is retried later (counted in stats().os_failures; reported once)\n",
        );
    }
}

static LOCKED: AtomicBool = AtomicBool::new(false);
static LOCKED_REPORTED: AtomicBool = AtomicBool::new(false);
static SKIPPED_LOCKED: AtomicU64 = AtomicU64::new(0);

/// While memory is locked, one decommit in this many is tried for real (the others are skipped):
/// a program that unlocks its memory (`munlockall`) gets purging back.
pub const LOCKED_RETRY_EVERY: u64 = 1024;

/// Whether the process's memory is locked (`mlock`/`mlockall`; `config::LOCKED_MEMORY`): noted
/// when the kernel refuses a decommit with `EINVAL`, or when a fresh mapping comes resident
/// (`note_locked`); cleared when a retried decommit succeeds. Purging is off meanwhile.
#[inline]
pub fn memory_locked() -> bool {
    // ORDERING: Relaxed — a hint that changes what a purge attempts; no data is published with it
    // (a stale answer costs one system call, or one skipped purge).
    crate::config::LOCKED_MEMORY && LOCKED.load(Ordering::Relaxed)
}

/// Decommits skipped (or retried) because memory is locked, since the process started.
pub fn purges_skipped_locked() -> u64 {
    // ORDERING: Relaxed — a statistic; publishes nothing.
    SKIPPED_LOCKED.load(Ordering::Relaxed)
}

/// Notes the process's memory locked: the kernel refused a decommit with `EINVAL`, or populated a
/// fresh mapping at once (`mlockall(MCL_FUTURE)`, `span::map`'s probe). Counted as one failure
/// and said once per process, not once per call.
#[cold]
pub(crate) fn note_locked() {
    if !crate::config::LOCKED_MEMORY {
        return;
    }
    // ORDERING: Relaxed — flags and a statistic; nothing is published with them.
    if !LOCKED.swap(true, Ordering::Relaxed) {
        FAILURES.fetch_add(1, Ordering::Relaxed);
        if !LOCKED_REPORTED.swap(true, Ordering::Relaxed) {
            backend::write_fd(
                2,
                b"hakmem: os: memory is locked (mlock/mlockall: madvise refused with EINVAL, or a fresh mapping came resident); purging stops, freed memory stays committed and is reused, medium blocks get mappings of their own (counted once in stats().os_failures; skipped purges in stats().purges_skipped_locked; reported once)\n",
            );
        }
    }
}

/// A forked child (`fork::child`): `fork` passes on neither memory locks nor `MCL_FUTURE`
/// (mlock(2)), so the child's memory is not locked whatever the parent's: purging resumes there.
pub(crate) fn forked_child() {
    // ORDERING: Relaxed — as `memory_locked`.
    LOCKED.store(false, Ordering::Relaxed);
}

/// Whether a decommit must be skipped because memory is locked (counted); every
/// `LOCKED_RETRY_EVERY`-th is let through.
#[inline]
fn skip_locked() -> bool {
    if !memory_locked() {
        return false;
    }
    // ORDERING: Relaxed — a statistic that also paces the retries; publishes nothing.
    let n = SKIPPED_LOCKED.fetch_add(1, Ordering::Relaxed) + 1;
    n % LOCKED_RETRY_EVERY != 0
}

/// A decommit the kernel accepted: memory noted locked is not (any more, or not all of it).
#[inline]
fn decommitted() {
    if memory_locked() {
        // ORDERING: Relaxed — as `memory_locked`.
        LOCKED.store(false, Ordering::Relaxed);
    }
}

/// Handles a refused decommit: `EINVAL` notes the memory locked, anything else is a failure.
#[cold]
fn refused(call: &str, errno: i32) {
    if crate::config::LOCKED_MEMORY && errno == backend::LOCKED_ERRNO {
        note_locked();
    } else {
        failed(call);
    }
}

/// A zeroed page that every forked child sees zeroed again (`MADV_WIPEONFORK`), while a `vfork`
/// child, or another process sharing this memory, sees it as it is (`lock::fork::catch_up`).
/// `None` where the OS refuses (the page is then given back).
#[cfg(not(hakmem_loom))]
pub fn wipe_on_fork_page() -> Option<NonNull<u8>> {
    let page = crate::config::PAGE_SIZE;
    let p = reserve_aligned(page, page)?;
    // SAFETY: our fresh page.
    if unsafe { unix::wipe_on_fork(p, page) } {
        return Some(p);
    }
    // SAFETY: our fresh page, never handed out; a refused unmap is counted by `release`.
    let _released = unsafe { release(p, page) };
    None
}

/// Reserves `size` bytes aligned to `align` (a power of two, at least a page), readable and
/// writable and zero-filled. `None` when the OS refuses.
#[inline]
pub fn reserve_aligned(size: usize, align: usize) -> Option<NonNull<u8>> {
    #[cfg(feature = "fault-injection")]
    if fault::take_failure() {
        return None;
    }
    backend::reserve_aligned(size, align, false)
}

/// `reserve_aligned` for a block a caller asked for by size (the large tier's mappings): the
/// mapping is charged to the kernel's overcommit accounting (no `MAP_NORESERVE`), as glibc's
/// mmap of a large chunk is. Under the default heuristic mode (`vm.overcommit_memory = 0`) a single
/// request larger than RAM + swap then fails with `ENOMEM` as it does on glibc, instead of
/// succeeding and being killed on touch; in mode 1 both succeed, and in mode 2 the kernel ignores
/// `MAP_NORESERVE` anyway. `config::LARGE_CHARGED` (A/B switch) falls back to `reserve_aligned`.
#[inline]
pub fn reserve_charged(size: usize, align: usize) -> Option<NonNull<u8>> {
    #[cfg(feature = "fault-injection")]
    if fault::take_failure() {
        return None;
    }
    backend::reserve_aligned(size, align, crate::config::LARGE_CHARGED)
}

/// Gives the pages of `[ptr, ptr + len)` back to the OS (`MADV_DONTNEED`); the range stays mapped
/// and reads as zero afterwards. False (counted, reported once) if the OS refuses; the pages then
/// stay resident and the caller should consider the range still committed.
///
/// # Safety
/// The range lies inside one reservation and holds nothing anyone will read as data again.
#[inline]
pub unsafe fn decommit(ptr: NonNull<u8>, len: usize) -> bool {
    #[cfg(feature = "fault-injection")]
    fault::count_decommit();
    #[cfg(feature = "fault-injection")]
    if fault::take_decommit_failure() {
        failed("madvise(MADV_DONTNEED)");
        return false;
    }
    if skip_locked() {
        return false;
    }
    #[cfg(feature = "fault-injection")]
    if fault::take_locked_failure() {
        refused("madvise(MADV_DONTNEED)", backend::LOCKED_ERRNO);
        return false;
    }
    // SAFETY: forwarded contract.
    match unsafe { backend::decommit(ptr, len) } {
        Ok(()) => {
            decommitted();
            true
        }
        Err(e) => {
            refused("madvise(MADV_DONTNEED)", e);
            false
        }
    }
}

/// Which pages of `[ptr, ptr + len)` are resident (`mincore`): bit 0 of `out[i]` for page `i`.
/// False if the OS refuses the query (not a failure: nothing changed). A page that is not
/// resident may still hold data (swapped out).
///
/// # Safety
/// The range is page-aligned and lies inside one of hakmem's reservations; `out` has a byte for
/// each of its pages.
#[inline]
pub unsafe fn residency(ptr: NonNull<u8>, len: usize, out: &mut [u8]) -> bool {
    #[cfg(feature = "fault-injection")]
    fault::count_query();
    // SAFETY: forwarded contract.
    unsafe { backend::residency(ptr, len, out) }
}

/// Like `decommit`, but with `MADV_FREE` where the OS has it: the kernel takes the pages only
/// under memory pressure (cheaper to reuse; RSS drops later). Contents read back as zero or as
/// they were. Falls back to `decommit` where `MADV_FREE` is missing.
///
/// # Safety
/// As for `decommit`.
#[inline]
pub unsafe fn decommit_lazy(ptr: NonNull<u8>, len: usize) -> bool {
    #[cfg(feature = "fault-injection")]
    fault::count_decommit();
    if skip_locked() {
        return false;
    }
    // SAFETY: forwarded contract.
    match unsafe { backend::decommit_lazy(ptr, len) } {
        Ok(()) => {
            decommitted();
            true
        }
        Err(e) if crate::config::LOCKED_MEMORY && e == backend::LOCKED_ERRNO => {
            note_locked();
            false
        }
        // SAFETY: forwarded contract.
        Err(_) => unsafe { decommit(ptr, len) },
    }
}

/// Backs the 2 MiB-aligned range `[ptr, ptr + len)` with transparent huge pages now
/// (`MADV_COLLAPSE`, Linux 6.1): present pages are copied, absent ones become zeroes of the huge
/// page, so the whole range counts in RSS afterwards. The range is not marked `MADV_HUGEPAGE`, so
/// once a `decommit` has split a huge page (its pages leave RSS), `khugepaged` never collapses it
/// again behind the allocator's back (where the system's THP mode is `madvise`): the purge's RSS
/// accounting stays true. False if the OS cannot (older kernel, THP off, no free huge page) or
/// refuses; that loses nothing (the range stays on base pages) and is not counted as a failure.
/// Timed: after a slow one, false without a system call for a while (`config::THP_COLLAPSE_BACKOFF`,
/// src/os/thp.rs).
///
/// # Safety
/// The range lies inside one reservation of the caller's.
#[inline]
pub unsafe fn collapse(ptr: NonNull<u8>, len: usize) -> bool {
    // SAFETY: forwarded contract.
    unsafe { thp::collapse(ptr, len, false) == Collapse::Huge }
}

/// Backs the fresh 2 MiB-aligned reservation `[ptr, ptr + len)` with transparent huge pages by
/// faulting them in (`config::SPAN_THP_BORN_HUGE`): marks it `MADV_HUGEPAGE`, writes a zero to
/// the first word of each 2 MiB chunk (the first touch of each: the fault takes a huge page where
/// the kernel has one), and takes the mark off (`MADV_NOHUGEPAGE`), so that, as after `collapse`,
/// a chunk a purge has split is never made huge again behind the allocator's back. No copy and
/// no `MADV_COLLAPSE` (which drains every CPU's LRU lists and takes the mm's lock for writing).
/// True if every chunk is huge (its second page came resident with the first). Timed and backed
/// off as a collapse (src/os/thp.rs: counted in `thp_collapses`, skipped in a quiet period).
/// False if the OS cannot or refuses: chunks whose fault got no huge page stay on base pages
/// (one page each resident), nothing lost.
///
/// # Safety
/// The range is a fresh reservation of the caller's, 2 MiB-aligned and a multiple of 2 MiB,
/// untouched, which nobody else reaches yet (its words read zero before and after).
pub unsafe fn fault_huge(ptr: NonNull<u8>, len: usize) -> bool {
    thp::timed(len, false, || {
        // SAFETY: forwarded contract.
        unsafe { fault_huge_now(ptr, len) }
    }) == Collapse::Huge
}

/// `fault_huge`'s work, untimed.
///
/// # Safety
/// As `fault_huge`.
unsafe fn fault_huge_now(ptr: NonNull<u8>, len: usize) -> bool {
    const HUGE: usize = 2 << 20;
    // SAFETY: forwarded contract.
    if !unsafe { backend::advise_huge(ptr, len, true) } {
        return false;
    }
    let mut off = 0;
    while off < len {
        // SAFETY: inside the fresh reservation, ours alone, aligned; a zero keeps it reading as
        // zero.
        unsafe { ptr.as_ptr().add(off).cast::<usize>().write_volatile(0) };
        off += HUGE;
    }
    // SAFETY: forwarded contract. Refused (the VMA's split past `vm.max_map_count`), the range
    // stays marked: a later fault of a purged chunk may take a huge page, which costs RSS, never
    // correctness; counted and reported once.
    if !unsafe { backend::advise_huge(ptr, len, false) } {
        failed("madvise(MADV_NOHUGEPAGE)");
    }
    let mut huge = true;
    off = 0;
    while off < len && huge {
        // SAFETY: inside the reservation; `mincore` reads page tables only.
        huge = unsafe { came_resident(ptr.add(off + crate::config::PAGE_SIZE)) };
        off += HUGE;
    }
    huge
}

/// What a collapse came to (`collapse_outcome`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Collapse {
    /// The range is backed by huge pages now.
    Huge,
    /// The kernel was asked and did not (no free huge page, THP off, an older kernel).
    Refused,
    /// Not asked of the kernel: a quiet period after a slow collapse
    /// (`config::THP_COLLAPSE_BACKOFF`). Says nothing about the kernel: once the period ends, the
    /// next collapse is asked again (`config::THP_SKIP_NOT_REFUSAL`).
    Skipped,
}

/// `collapse`, telling a skip in a quiet period from the kernel's refusal (the SuperSlab pool's
/// `refused` is for the latter: `config::THP_SKIP_NOT_REFUSAL`).
///
/// # Safety
/// As `collapse`.
#[inline]
pub unsafe fn collapse_outcome(ptr: NonNull<u8>, len: usize) -> Collapse {
    // SAFETY: forwarded contract.
    unsafe { thp::collapse(ptr, len, false) }
}

/// `collapse` for a range the user asked to be huge pages (`HAKMEM_THP=1`): asked of the kernel
/// even in a quiet period after a slow collapse (`config::THP_COLLAPSE_BACKOFF` skips only the
/// collapses the allocator asks for unprompted); timed and counted as any.
///
/// # Safety
/// As `collapse`.
#[inline]
pub unsafe fn collapse_asked(ptr: NonNull<u8>, len: usize) -> bool {
    // SAFETY: forwarded contract.
    unsafe { thp::collapse(ptr, len, true) == Collapse::Huge }
}

/// `[collapses, nanoseconds in them, slow ones, skipped ones]` since the process started
/// (src/os/thp.rs; `stats()`'s `thp_collapse*`).
pub fn collapse_stats() -> [u64; 4] {
    thp::stats()
}

/// How many pages of `[ptr, ptr + len)` are resident now (`mincore`), at most
/// `RESIDENT_MAX_PAGES` pages long. `None` if the OS cannot say (or the range is longer); the
/// caller then assumes nothing. Reads page tables only: the range's contents and backing stay as
/// they are, whoever is writing to it meanwhile.
///
/// # Safety
/// The range lies inside one mapping of the caller's.
#[inline]
pub unsafe fn resident_pages(ptr: NonNull<u8>, len: usize) -> Option<usize> {
    if len > RESIDENT_MAX_PAGES * crate::config::PAGE_SIZE {
        return None;
    }
    #[cfg(feature = "fault-injection")]
    fault::count_query();
    // SAFETY: forwarded contract.
    unsafe { backend::resident_pages(ptr, len) }
}

/// Whether the page at `ptr` of a fresh reservation that nobody has touched is resident already:
/// only a populating mapping makes it so (`mlockall(MCL_FUTURE)`; a huge page faulted by a touch
/// elsewhere cannot reach an untouched 2 MiB range). False if the OS cannot say. One `mincore`
/// (`fault::map_probes`, not `fault::residency_queries`).
///
/// # Safety
/// The page lies inside a fresh reservation of the caller's that nobody has touched.
#[inline]
pub unsafe fn came_resident(ptr: NonNull<u8>) -> bool {
    #[cfg(feature = "fault-injection")]
    fault::count_probe();
    // SAFETY: forwarded contract.
    (unsafe { backend::resident_pages(ptr, crate::config::PAGE_SIZE) }) == Some(1)
}

/// The longest range `resident_pages` answers for, in pages (a SuperSlab of base pages).
pub const RESIDENT_MAX_PAGES: usize = 512;

/// Unmaps `[ptr, ptr + len)`. If the OS refuses (e.g. `ENOMEM` past `vm.max_map_count`, since
/// unmapping part of a mapping splits it), the range is decommitted instead, the failure counted
/// and reported once, and false returned: the range is still mapped and still the caller's.
///
/// # Safety
/// The range is a whole reservation (or its page-aligned tail) that nothing will touch again.
#[inline]
#[must_use = "a refused release leaves the range mapped: keep it accounted"]
pub unsafe fn release(ptr: NonNull<u8>, len: usize) -> bool {
    #[cfg(feature = "fault-injection")]
    let refused = fault::take_release_failure();
    #[cfg(not(feature = "fault-injection"))]
    let refused = false;
    // SAFETY: forwarded contract.
    if !refused && unsafe { backend::release(ptr, len) } {
        return true;
    }
    failed("munmap");
    // SAFETY: the range is the caller's and dead; decommitting keeps it mapped. Its own failure is
    // counted inside.
    unsafe { decommit(ptr, len) };
    false
}

/// Grows or shrinks the reservation at `ptr` from `old` to `new` bytes without moving it.
/// Returns false (and changes nothing the caller can observe) when the OS cannot: a growth the
/// neighbours block, or a refused shrink (counted; the tail is decommitted but stays mapped).
///
/// # Safety
/// `[ptr, ptr + old)` is a whole reservation made by `reserve_aligned`.
#[inline]
pub unsafe fn resize_in_place(ptr: NonNull<u8>, old: usize, new: usize) -> bool {
    #[cfg(feature = "fault-injection")]
    if new > old && fault::take_failure() {
        return false;
    }
    if new < old {
        // SAFETY: the tail beyond `new` belongs to the reservation and is given up by the caller.
        let tail = unsafe { NonNull::new_unchecked(ptr.as_ptr().add(new)) };
        // SAFETY: as above.
        return unsafe { release(tail, old - new) };
    }
    // SAFETY: forwarded contract.
    unsafe { backend::resize_in_place(ptr, old, new) }
}

/// Moves the whole reservation `[from, from + old)` onto the caller's fresh reservation
/// `[to, to + new)` (`new > old`, both made by `reserve_aligned`) without copying: the pages
/// travel (`mremap` with `MREMAP_MAYMOVE | MREMAP_FIXED`, Linux), `[from, from + old)` is unmapped
/// and `[to + old, to + new)` reads as zero. False where the OS cannot (other systems, the mock,
/// a refused `mremap`): `from` is then unchanged and `to` is given back — released, or, where the
/// kernel already unmapped it and someone else mapped the range since, left to them (never
/// unmapped under them). A refused `mremap` is counted and reported once.
///
/// # Safety
/// Both ranges are whole reservations of the caller's; nothing refers to `to` and nothing
/// touches `from` during the call.
#[inline]
pub unsafe fn move_to(from: NonNull<u8>, old: usize, to: NonNull<u8>, new: usize) -> bool {
    debug_assert!(new > old);
    // SAFETY: forwarded contract.
    let moved = unsafe { backend::move_to(from, old, to, new) };
    if !moved {
        failed("mremap (move)");
    }
    moved
}

/// Rounds `n` up to a multiple of the page size; `None` on overflow.
#[inline]
pub fn page_round(n: usize) -> Option<usize> {
    Some(n.checked_add(crate::config::PAGE_SIZE - 1)? & !(crate::config::PAGE_SIZE - 1))
}
