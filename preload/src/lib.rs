//! # libhakmem.so
//!
//! hakmem as a drop-in replacement for the C heap of any dynamically linked program on Linux
//! x86-64:
//!
//! ```sh
//! cargo build --release -p hakmem-preload
//! LD_PRELOAD=$PWD/target/release/libhakmem.so HAKMEM_STATS=1 ./program
//! ```
//!
//! This crate is the only place in the workspace with `#[no_mangle]` symbols. It owns two things
//! and nothing else:
//! - `c_api`: the C allocation functions with glibc's semantics (errno included) and the glibc
//!   aliases (`__libc_malloc`, …), forwarding to `hakmem::raw`;
//! - `cxx`: the C++ `operator new`/`operator delete` family by mangled name, with the standard's
//!   new-handler loop and `std::bad_alloc`.
//!
//! Rules every export follows (see docs/preload.md for the reasoning):
//! - nothing unwinds out of a C function (`extern "C"` aborts on a panic; hakmem itself never
//!   panics: it reports and aborts through its fail-fast path); only the throwing forms of
//!   `operator new` are `extern "C-unwind"`, so that `std::bad_alloc` reaches the C++ caller;
//! - nothing re-enters through Rust's std: no formatting, no `thread_local!`, no `std::env`;
//!   the thread state sits in an initial-exec TLS slot (hakmem's `initial-exec-tls` feature);
//! - the Rust code of this library allocates through `HakMem` (below), so it never calls the
//!   `malloc` it exports and never reaches glibc's heap.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
compile_error!("libhakmem.so supports x86_64 Linux (glibc) only");

mod c_api;
mod cxx;
mod no_unwind;

#[global_allocator]
static GLOBAL: hakmem_core::HakMem = hakmem_core::HakMem;

/// `"hakmem <version>"`: lets a program (or a test) check that it runs on hakmem, e.g. with
/// `dlsym(RTLD_DEFAULT, "hakmem_version")`.
#[no_mangle]
pub extern "C" fn hakmem_version() -> *const libc::c_char {
    concat!("hakmem ", env!("CARGO_PKG_VERSION"), "\0")
        .as_ptr()
        .cast()
}

/// Writes `hakmem: preload: <what>` to stderr without allocating, then aborts.
#[cold]
fn fatal(what: &str) -> ! {
    for part in ["hakmem: preload: ", what, "\n"] {
        // SAFETY: writes the bytes of a live string to stderr; a short or failed write is
        // ignored (the process aborts next either way).
        unsafe { libc::write(2, part.as_ptr().cast(), part.len()) };
    }
    // SAFETY: no preconditions; does not return and does not unwind.
    unsafe { libc::abort() }
}
