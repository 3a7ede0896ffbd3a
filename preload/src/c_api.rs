//! The C allocation functions, with glibc's semantics, and glibc's aliases for them.
//!
//! Every function forwards to `hakmem::raw` (which touches `errno` only in `malloc_errno`, the
//! out-of-line failure paths of `malloc`) and sets `errno` the way
//! glibc 2.3x does:
//!
//! | function | failure | errno |
//! |---|---|---|
//! | `malloc`, `calloc`, `realloc`, `reallocarray`, `valloc`, `pvalloc`, `memalign` | null | `ENOMEM` (also for `calloc`/`reallocarray`/`pvalloc` size overflow) |
//! | `memalign` with an alignment above `SIZE_MAX / 2 + 1` | null | `EINVAL` |
//! | `aligned_alloc` with an alignment that is not a power of two (glibc ≥ 2.38) | null | `EINVAL` |
//! | `posix_memalign` bad alignment / no memory | returns `EINVAL` / `ENOMEM` | unchanged / `ENOMEM` |
//! | `free`, `cfree`, `free_sized`, `free_aligned_sized` | — | preserved, even when the free unmaps memory |
//!
//! `malloc(0)` (and every other zero-size request) returns a unique pointer; `free(NULL)` is a
//! no-op; `realloc(p, 0)` frees `p` and returns null; `memalign` rounds an alignment that is not
//! a power of two up to the next one, as glibc does.
//!
//! The aliases (`__libc_malloc`, `__libc_free`, …, `__posix_memalign`, `cfree`) are exported so
//! that no caller reaches glibc's heap through a name we do not define: a glibc block handed to
//! hakmem's `free` aborts ("not ours"), and a hakmem block handed to glibc's `free` corrupts.
//! `mallinfo2` and `mallinfo` answer from hakmem's counters (`hakmem::stats()`): a program that
//! watches its heap with them (glibc's tst-mallinfo2 checks that `uordblks` grows by what was
//! allocated) sees hakmem's heap, not glibc's empty one. So do `malloc_stats` and `malloc_info`:
//! they print glibc's report and XML with hakmem's figures, as one arena. `mallopt` is left to
//! glibc (its parameters tune glibc's own heap, which stays empty). `malloc_trim` returns
//! hakmem's free pages to the OS (`hakmem::collect`).

use core::ffi::{c_int, c_void};

use hakmem_core::raw;
use libc::size_t;

#[inline(always)]
fn errno_ptr() -> *mut c_int {
    // SAFETY: glibc's `__errno_location` has no preconditions and returns the calling thread's
    // errno slot (initial-exec TLS inside libc: it never allocates).
    unsafe { libc::__errno_location() }
}

/// Sets `errno` and returns null: the failure path of every pointer-returning function.
#[cold]
#[inline(never)]
fn fail(e: c_int) -> *mut c_void {
    // SAFETY: the calling thread's errno slot.
    unsafe { *errno_ptr() = e };
    core::ptr::null_mut()
}

#[inline(always)]
fn checked(p: *mut u8) -> *mut c_void {
    if p.is_null() {
        fail(libc::ENOMEM)
    } else {
        p.cast()
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions; glibc answers `_SC_PAGESIZE` from the auxiliary
    // vector without allocating.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

/// glibc's `memalign`: small alignments are plain `malloc`; others are rounded up to a power of
/// two; absurd ones fail with `EINVAL`.
fn memalign_impl(align: usize, size: usize) -> *mut c_void {
    if align <= hakmem_core::config::MIN_ALIGN {
        // SAFETY: no preconditions.
        return checked(unsafe { raw::malloc(size) });
    }
    if align > usize::MAX / 2 + 1 {
        return fail(libc::EINVAL);
    }
    // Cannot overflow: align <= 2^63.
    let align = align.next_power_of_two();
    // SAFETY: no preconditions; `align` is a power of two.
    checked(unsafe { raw::aligned_alloc(align, size) })
}

/// # Safety
/// As C's `malloc`.
#[no_mangle]
pub unsafe extern "C" fn malloc(size: size_t) -> *mut c_void {
    // SAFETY: no preconditions; sets errno itself on failure.
    unsafe { raw::malloc_errno(size) }.cast()
}

/// # Safety
/// `p` is null or a live block returned by this library's allocation functions.
#[no_mangle]
pub unsafe extern "C" fn free(p: *mut c_void) {
    // POSIX.1-2024 and glibc ≥ 2.33: free never changes errno. hakmem's free paths make no call
    // that sets errno except munmap/madvise, and the OS box keeps errno around those itself
    // (`os::unix::keep_errno`), so the fast path need not touch errno here.
    // SAFETY: per the contract.
    unsafe { raw::free(p.cast()) };
}

/// C23's `free_sized` (glibc 2.43): `free` that is told the block's size. hakmem finds the size
/// itself, so this is `free`. Exported so that a program built against a glibc that has it never
/// hands one of our blocks to glibc's `free_sized` (which would corrupt glibc's heap).
///
/// # Safety
/// As C's `free`; `size` is the size the block was requested with (not checked).
#[no_mangle]
pub unsafe extern "C" fn free_sized(p: *mut c_void, _size: size_t) {
    // SAFETY: per the contract.
    unsafe { free(p) };
}

/// C23's `free_aligned_sized` (glibc 2.43): `free` of a block from `aligned_alloc`, told its
/// alignment and size; `free` here, as for `free_sized`.
///
/// # Safety
/// As C's `free`; `alignment` and `size` are those the block was requested with (not checked).
#[no_mangle]
pub unsafe extern "C" fn free_aligned_sized(p: *mut c_void, _alignment: size_t, _size: size_t) {
    // SAFETY: per the contract.
    unsafe { free(p) };
}

/// # Safety
/// As C's `calloc`.
#[no_mangle]
pub unsafe extern "C" fn calloc(n: size_t, size: size_t) -> *mut c_void {
    // SAFETY: no preconditions; null on overflow of `n * size`.
    checked(unsafe { raw::calloc(n, size) })
}

/// # Safety
/// `p` is null or a live block returned by this library's allocation functions.
#[no_mangle]
pub unsafe extern "C" fn realloc(p: *mut c_void, size: size_t) -> *mut c_void {
    // SAFETY: per the contract.
    let q = unsafe { raw::realloc(p.cast(), size) };
    let freed = size == 0 && !p.is_null();
    if q.is_null() && !freed {
        // Out of memory; `p` is untouched.
        return fail(libc::ENOMEM);
    }
    q.cast()
}

/// # Safety
/// `p` is null or a live block returned by this library's allocation functions.
#[no_mangle]
pub unsafe extern "C" fn reallocarray(p: *mut c_void, n: size_t, size: size_t) -> *mut c_void {
    match n.checked_mul(size) {
        // SAFETY: per the contract.
        Some(total) => unsafe { realloc(p, total) },
        None => fail(libc::ENOMEM),
    }
}

/// # Safety
/// `out` is valid for one pointer write.
#[no_mangle]
pub unsafe extern "C" fn posix_memalign(
    out: *mut *mut c_void,
    align: size_t,
    size: size_t,
) -> c_int {
    if !align.is_power_of_two() || align % core::mem::size_of::<*mut c_void>() != 0 {
        return libc::EINVAL;
    }
    // SAFETY: no preconditions; `align` is a power of two.
    let p = unsafe { raw::aligned_alloc(align, size) };
    if p.is_null() {
        // glibc sets errno as a side effect of the failed allocation; `*out` is left alone.
        fail(libc::ENOMEM);
        return libc::ENOMEM;
    }
    // SAFETY: per the contract.
    unsafe { *out = p.cast() };
    0
}

/// # Safety
/// As C's `aligned_alloc`.
#[no_mangle]
pub unsafe extern "C" fn aligned_alloc(align: size_t, size: size_t) -> *mut c_void {
    if !align.is_power_of_two() {
        return fail(libc::EINVAL);
    }
    // SAFETY: no preconditions; `align` is a power of two.
    checked(unsafe { raw::aligned_alloc(align, size) })
}

/// # Safety
/// As C's `memalign`.
#[no_mangle]
pub unsafe extern "C" fn memalign(align: size_t, size: size_t) -> *mut c_void {
    memalign_impl(align, size)
}

/// # Safety
/// As C's `valloc`.
#[no_mangle]
pub unsafe extern "C" fn valloc(size: size_t) -> *mut c_void {
    memalign_impl(page_size(), size)
}

/// # Safety
/// As C's `pvalloc`.
#[no_mangle]
pub unsafe extern "C" fn pvalloc(size: size_t) -> *mut c_void {
    let page = page_size();
    match size.checked_add(page - 1) {
        Some(n) => memalign_impl(page, n & !(page - 1)),
        None => fail(libc::ENOMEM),
    }
}

/// # Safety
/// `p` is null or a live block returned by this library's allocation functions.
#[no_mangle]
pub unsafe extern "C" fn malloc_usable_size(p: *mut c_void) -> size_t {
    // SAFETY: per the contract; 0 for null.
    unsafe { raw::usable_size(p.cast()) }
}

/// Returns hakmem's free pages (and the calling thread's cached blocks) to the OS. `pad` is
/// ignored. Returns 1, as glibc does when it released memory.
#[no_mangle]
pub extern "C" fn malloc_trim(_pad: size_t) -> c_int {
    hakmem_core::collect();
    1
}

/// glibc's `mallinfo2` from hakmem's counters: `arena` is the footprint (bound slabs, spans and
/// large mappings), `uordblks` the bytes handed out and not freed (at their class size),
/// `fordblks` the rest of the footprint; the fields that describe glibc's bins and mmap
/// threshold are 0. All zero without the `stats` feature.
#[no_mangle]
pub extern "C" fn mallinfo2() -> libc::mallinfo2 {
    // Lock-free and allocation-free: sums the counters of every heap (`front::thread::for_each_heap`).
    let st = hakmem_core::stats();
    let arena = st.footprint_bytes as size_t;
    let used = st.bytes_in_use as size_t;
    libc::mallinfo2 {
        arena,
        ordblks: 0,
        smblks: 0,
        hblks: 0,
        hblkhd: 0,
        usmblks: 0,
        fsmblks: 0,
        uordblks: used,
        fordblks: arena.saturating_sub(used),
        keepcost: 0,
    }
}

/// glibc's `mallinfo`: `mallinfo2`'s fields truncated to `int`, as glibc truncates them.
#[no_mangle]
pub extern "C" fn mallinfo() -> libc::mallinfo {
    let m = mallinfo2();
    libc::mallinfo {
        arena: m.arena as c_int,
        ordblks: m.ordblks as c_int,
        smblks: m.smblks as c_int,
        hblks: m.hblks as c_int,
        hblkhd: m.hblkhd as c_int,
        usmblks: m.usmblks as c_int,
        fsmblks: m.fsmblks as c_int,
        uordblks: m.uordblks as c_int,
        fordblks: m.fordblks as c_int,
        keepcost: m.keepcost as c_int,
    }
}

extern "C" {
    /// glibc's standard error stream (a data symbol of libc).
    static mut stderr: *mut libc::FILE;
}

/// glibc's `malloc_stats` report on stderr, with hakmem's figures for its one arena: `system
/// bytes` is the footprint, `in use bytes` the bytes handed out and not freed (`mallinfo2`'s
/// `arena` and `uordblks`). hakmem has no mmap threshold, so both mmap lines read 0.
#[no_mangle]
pub extern "C" fn malloc_stats() {
    let m = mallinfo2();
    // SAFETY: `stderr` is libc's stream, valid for the process's life; the format strings are
    // NUL-terminated and each `%zu` is given a `size_t`. stdio may allocate: that is hakmem's
    // `malloc`, re-entered from outside the allocator, which is allowed.
    unsafe {
        let err = stderr;
        for (head, a, u) in [
            (c"Arena 0:\n", m.arena, m.uordblks),
            (c"Total (incl. mmap):\n", m.arena, m.uordblks),
        ] {
            libc::fputs(head.as_ptr(), err);
            libc::fprintf(err, c"system bytes     = %10zu\n".as_ptr(), a);
            libc::fprintf(err, c"in use bytes     = %10zu\n".as_ptr(), u);
        }
        libc::fprintf(err, c"max mmap regions = %10zu\n".as_ptr(), 0 as size_t);
        libc::fprintf(err, c"max mmap bytes   = %10zu\n".as_ptr(), 0 as size_t);
    }
}

/// glibc's `malloc_info`: its XML (`<malloc version="1">`, one heap) with hakmem's figures:
/// `system` current and max are the footprint and its peak, the free bytes of the footprint are
/// the `rest` total. `options` must be 0: anything else returns `EINVAL` (as glibc, without
/// touching `errno`).
///
/// # Safety
/// `fp` is a stream open for writing.
#[no_mangle]
pub unsafe extern "C" fn malloc_info(options: c_int, fp: *mut libc::FILE) -> c_int {
    if options != 0 {
        return libc::EINVAL;
    }
    let st = hakmem_core::stats();
    let foot = st.footprint_bytes as size_t;
    let peak = (st.peak_footprint_bytes as size_t).max(foot);
    let free = foot.saturating_sub(st.bytes_in_use as size_t);
    // SAFETY: `fp` is writable per the contract; the format strings are NUL-terminated and each
    // `%zu` is given a `size_t`.
    unsafe {
        libc::fputs(
            c"<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n</sizes>\n".as_ptr(),
            fp,
        );
        let totals = |fp: *mut libc::FILE| {
            libc::fputs(
                c"<total type=\"fast\" count=\"0\" size=\"0\"/>\n".as_ptr(),
                fp,
            );
            libc::fprintf(
                fp,
                c"<total type=\"rest\" count=\"0\" size=\"%zu\"/>\n".as_ptr(),
                free,
            );
        };
        let system = |fp: *mut libc::FILE| {
            libc::fprintf(
                fp,
                c"<system type=\"current\" size=\"%zu\"/>\n".as_ptr(),
                foot,
            );
            libc::fprintf(fp, c"<system type=\"max\" size=\"%zu\"/>\n".as_ptr(), peak);
            libc::fprintf(
                fp,
                c"<aspace type=\"total\" size=\"%zu\"/>\n".as_ptr(),
                foot,
            );
            libc::fprintf(
                fp,
                c"<aspace type=\"mprotect\" size=\"%zu\"/>\n".as_ptr(),
                foot,
            );
        };
        totals(fp);
        system(fp);
        libc::fputs(c"</heap>\n".as_ptr(), fp);
        totals(fp);
        libc::fputs(
            c"<total type=\"mmap\" count=\"0\" size=\"0\"/>\n".as_ptr(),
            fp,
        );
        system(fp);
        libc::fputs(c"</malloc>\n".as_ptr(), fp);
    }
    0
}

/// glibc's alias of `mallinfo`, kept so that no caller reaches glibc's through this name.
#[no_mangle]
pub extern "C" fn __libc_mallinfo() -> libc::mallinfo {
    mallinfo()
}

/// Defines `$alias` with the same signature and behaviour as `$target`.
macro_rules! alias {
    ($(fn $alias:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)? = $target:ident;)*) => {$(
        /// An alias kept so that no caller reaches glibc's heap through this name.
        ///
        /// # Safety
        /// As the function it aliases.
        #[no_mangle]
        pub unsafe extern "C" fn $alias($($arg: $ty),*) $(-> $ret)? {
            // SAFETY: forwarded contract.
            unsafe { $target($($arg),*) }
        }
    )*};
}

alias! {
    fn cfree(p: *mut c_void) = free;
    fn __libc_malloc(size: size_t) -> *mut c_void = malloc;
    fn __libc_free(p: *mut c_void) = free;
    fn __libc_cfree(p: *mut c_void) = free;
    fn __libc_calloc(n: size_t, size: size_t) -> *mut c_void = calloc;
    fn __libc_realloc(p: *mut c_void, size: size_t) -> *mut c_void = realloc;
    fn __libc_memalign(align: size_t, size: size_t) -> *mut c_void = memalign;
    fn __libc_valloc(size: size_t) -> *mut c_void = valloc;
    fn __libc_pvalloc(size: size_t) -> *mut c_void = pvalloc;
    fn __posix_memalign(out: *mut *mut c_void, align: size_t, size: size_t) -> c_int = posix_memalign;
}
