//! The thread box's TLS slot as one initial-exec thread-local word (feature `initial-exec-tls`,
//! used by the preload library `libhakmem.so`).
//!
//! Why: in a `cdylib`, Rust's `thread_local!` uses the general-dynamic TLS model, so each access
//! may call `__tls_get_addr`, which allocates the module's TLS block with `malloc` the first time
//! a thread touches it after a `dlopen` (and grows the DTV with `realloc`). Inside `malloc` that
//! recursion deadlocks or corrupts; glibc's manual requires a replacement malloc to use
//! initial-exec TLS or none. Rust has no stable way to ask for the model of a `thread_local!`, so
//! the slot is declared in assembly:
//! - `global_asm!` reserves 8 bytes in `.tdata` under a hidden symbol (so it is neither exported
//!   nor interposable, and the static TLS block of every thread holds it from birth), initialised
//!   to `&EMPTY` (a load-time `R_X86_64_RELATIVE` relocation of the TLS initialisation image,
//!   which the dynamic loader applies before it copies the image into any thread's block: for
//!   the initial libraries before the main thread's TLS is set up, for `dlopen` before the new
//!   module's static TLS is initialised);
//! - `get`/`set` read and write it with the initial-exec sequence
//!   `mov reg, [rip + sym@GOTTPOFF]` (the slot's offset from the thread pointer, filled in by one
//!   `R_X86_64_TPOFF64` load-time relocation) followed by an `fs:`-relative load or store. In an
//!   executable the linker relaxes the first instruction to an immediate (local-exec).
//!
//! So a thread that never allocated needs no initialisation and `get` no test: its cost is one
//! extra `mov` over a local-exec access; no call, no branch, no lock, nothing that can allocate.
//!
//! Loading `libhakmem.so` with `dlopen` (instead of `LD_PRELOAD`) still works: glibc keeps a
//! surplus of static TLS for initial-exec libraries loaded late, and 8 bytes fit in it.

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
compile_error!("the `initial-exec-tls` feature supports x86_64 Linux only");

use super::{Heap, EMPTY};

core::arch::global_asm!(
    ".pushsection .tdata.__hakmem_tls_current,\"awT\",@progbits",
    ".p2align 3",
    ".globl __hakmem_tls_current",
    ".hidden __hakmem_tls_current",
    ".type __hakmem_tls_current, @object",
    ".size __hakmem_tls_current, 8",
    "__hakmem_tls_current:",
    ".quad {empty}",
    ".popsection",
    empty = sym EMPTY,
);

/// The calling thread's heap pointer: `&EMPTY` until `set` is first called on this thread.
#[inline(always)]
pub fn get() -> *const Heap {
    let h: *const Heap;
    // SAFETY: reads the 8-byte slot reserved above in the calling thread's static TLS block; the
    // GOT entry holds its offset from the thread pointer (`fs` base). Touches no other memory, no
    // stack, no flags.
    unsafe {
        core::arch::asm!(
            "mov {h}, qword ptr [rip + __hakmem_tls_current@GOTTPOFF]",
            "mov {h}, qword ptr fs:[{h}]",
            h = out(reg) h,
            options(nostack, readonly, preserves_flags, pure),
        );
    }
    h
}

/// Points the calling thread's slot at `h` (a sentinel or a live heap).
#[inline(always)]
pub fn set(h: *const Heap) {
    // SAFETY: writes the calling thread's own slot (see `get`); no other thread can address it.
    unsafe {
        core::arch::asm!(
            "mov {off}, qword ptr [rip + __hakmem_tls_current@GOTTPOFF]",
            "mov qword ptr fs:[{off}], {h}",
            off = out(reg) _,
            h = in(reg) h,
            options(nostack, preserves_flags),
        );
    }
}
