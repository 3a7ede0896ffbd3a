//! The C++ `operator new` / `operator delete` family, by their Itanium-ABI mangled names on
//! x86-64 (`m` = `std::size_t`, `St11align_val_t` = `std::align_val_t`, `RKSt9nothrow_t` =
//! `const std::nothrow_t&`): the 8 forms of new and the 12 of delete that libstdc++ exports
//! (plain, array, sized, aligned, nothrow, and their combinations).
//!
//! Why define them at all, when libstdc++'s versions call `malloc`/`aligned_alloc`/`free` already:
//! so that every C++ allocation reaches hakmem in one call instead of two, as with mimalloc and
//! jemalloc, which export the same names.
//!
//! Semantics, as the standard's replaceable functions require:
//! - throwing new: allocate; on failure call the installed `std::new_handler` and retry, and when
//!   there is none throw `std::bad_alloc`. libstdc++ is not a dependency of this library, so both
//!   `std::get_new_handler` and `std::__throw_bad_alloc` are *weak* references, bound at load time
//!   to the process's libstdc++ if it has one. These functions are `extern "C-unwind"`: the
//!   handler and the throw unwind through them to the C++ caller. Without libstdc++ (or if it is
//!   only `dlopen`ed later) an allocation failure aborts with a message.
//! - nothrow new: returns null on failure (the new-handler is not consulted: a handler that
//!   throws could not be caught here).
//! - new of size 0 returns a unique pointer; delete of null is a no-op; the size and alignment
//!   arguments of delete are not needed (hakmem finds both from the address).

use core::ffi::c_void;

use hakmem_core::{config::MIN_ALIGN, raw};

// Weak undefined references: zero when the process has no libstdc++ in its global scope.
core::arch::global_asm!(
    ".weak _ZSt15get_new_handlerv",
    ".weak _ZSt17__throw_bad_allocv"
);

/// `std::new_handler std::get_new_handler() noexcept`.
type GetNewHandler = unsafe extern "C" fn() -> Option<unsafe extern "C-unwind" fn()>;
/// `[[noreturn]] void std::__throw_bad_alloc()`.
type ThrowBadAlloc = unsafe extern "C-unwind" fn() -> !;

fn get_new_handler_fn() -> Option<GetNewHandler> {
    let f: usize;
    // SAFETY: loads the GOT entry of a weak symbol (its address, or 0); no other effect.
    unsafe {
        core::arch::asm!(
            "mov {f}, qword ptr [rip + _ZSt15get_new_handlerv@GOTPCREL]",
            f = out(reg) f,
            options(nostack, readonly, preserves_flags, pure),
        );
    }
    // SAFETY: a non-zero address is libstdc++'s `std::get_new_handler`, of this signature.
    (f != 0).then(|| unsafe { core::mem::transmute::<usize, GetNewHandler>(f) })
}

fn throw_bad_alloc_fn() -> Option<ThrowBadAlloc> {
    let f: usize;
    // SAFETY: as in `get_new_handler_fn`.
    unsafe {
        core::arch::asm!(
            "mov {f}, qword ptr [rip + _ZSt17__throw_bad_allocv@GOTPCREL]",
            f = out(reg) f,
            options(nostack, readonly, preserves_flags, pure),
        );
    }
    // SAFETY: a non-zero address is libstdc++'s `std::__throw_bad_alloc`, of this signature.
    (f != 0).then(|| unsafe { core::mem::transmute::<usize, ThrowBadAlloc>(f) })
}

/// One allocation attempt; null on failure (and for an alignment that is not a power of two).
/// `extern "C"`: a panic here (hakmem has none) aborts instead of unwinding into C++.
extern "C" fn try_alloc(size: usize, align: usize) -> *mut c_void {
    // SAFETY: no preconditions; `aligned_alloc` checks the alignment.
    unsafe {
        if align <= MIN_ALIGN {
            raw::malloc(size).cast()
        } else {
            raw::aligned_alloc(align, size).cast()
        }
    }
}

/// The failure step of throwing new: run the new-handler (which may throw) or throw
/// `std::bad_alloc`; returns only to retry.
#[cold]
#[inline(never)]
fn out_of_memory() {
    // SAFETY: libstdc++'s own functions, called as C++ would call them; they may unwind, which
    // the `C-unwind` ABI of every frame up to the C++ caller allows.
    unsafe {
        if let Some(get) = get_new_handler_fn() {
            if let Some(handler) = get() {
                handler();
                return;
            }
        }
        if let Some(throw) = throw_bad_alloc_fn() {
            throw();
        }
    }
    crate::fatal("operator new: out of memory, and no libstdc++ to throw std::bad_alloc");
}

#[inline(always)]
fn new_impl(size: usize, align: usize) -> *mut c_void {
    // An alignment that is not a power of two (undefined behaviour in C++) fails like any
    // allocation that cannot be satisfied.
    loop {
        let p = try_alloc(size, align);
        if !p.is_null() {
            return p;
        }
        out_of_memory();
    }
}

/// Through the C `free`, so that `delete` also preserves `errno` (as libstdc++'s does).
#[inline(always)]
fn delete(p: *mut c_void) {
    // SAFETY: C++ passes null or a pointer from one of the `new` forms above.
    unsafe { crate::c_api::free(p) }
}

/// Defines throwing `new` forms (`extern "C-unwind"`).
macro_rules! new_throwing {
    ($($name:ident($($arg:ident: $ty:ty),*) => $size:ident, $align:expr;)*) => {$(
        /// A throwing `operator new`.
        #[no_mangle]
        pub extern "C-unwind" fn $name($($arg: $ty),*) -> *mut c_void {
            new_impl($size, $align)
        }
    )*};
}

/// Defines nothrow `new` forms.
macro_rules! new_nothrow {
    ($($name:ident($($arg:ident: $ty:ty),*) => $size:ident, $align:expr;)*) => {$(
        /// A nothrow `operator new`: null on failure.
        #[no_mangle]
        pub extern "C" fn $name($($arg: $ty),*) -> *mut c_void {
            try_alloc($size, $align)
        }
    )*};
}

/// Defines `delete` forms; every extra argument (size, alignment, nothrow tag) is unused.
macro_rules! deletes {
    ($($name:ident($($ty:ty),*);)*) => {$(
        /// An `operator delete`.
        ///
        /// # Safety
        /// `p` is null or a live pointer from this library's `operator new`.
        #[no_mangle]
        pub unsafe extern "C" fn $name(p: *mut c_void, $(_: $ty),*) {
            delete(p)
        }
    )*};
}

/// `const std::nothrow_t&`, never read.
type Nothrow = *const c_void;

new_throwing! {
    _Znwm(size: usize) => size, MIN_ALIGN;
    _Znam(size: usize) => size, MIN_ALIGN;
    _ZnwmSt11align_val_t(size: usize, align: usize) => size, align;
    _ZnamSt11align_val_t(size: usize, align: usize) => size, align;
}

new_nothrow! {
    _ZnwmRKSt9nothrow_t(size: usize, _tag: Nothrow) => size, MIN_ALIGN;
    _ZnamRKSt9nothrow_t(size: usize, _tag: Nothrow) => size, MIN_ALIGN;
    _ZnwmSt11align_val_tRKSt9nothrow_t(size: usize, align: usize, _tag: Nothrow) => size, align;
    _ZnamSt11align_val_tRKSt9nothrow_t(size: usize, align: usize, _tag: Nothrow) => size, align;
}

deletes! {
    _ZdlPv();
    _ZdaPv();
    _ZdlPvm(usize);
    _ZdaPvm(usize);
    _ZdlPvRKSt9nothrow_t(Nothrow);
    _ZdaPvRKSt9nothrow_t(Nothrow);
    _ZdlPvSt11align_val_t(usize);
    _ZdaPvSt11align_val_t(usize);
    _ZdlPvmSt11align_val_t(usize, usize);
    _ZdaPvmSt11align_val_t(usize, usize);
    _ZdlPvSt11align_val_tRKSt9nothrow_t(usize, Nothrow);
    _ZdaPvSt11align_val_tRKSt9nothrow_t(usize, Nothrow);
}
