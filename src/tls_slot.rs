//! Zero-initialised initial-exec thread-local words, for the preload library (feature
//! `initial-exec-tls`): the lock-order checker's mask of held ranks. (The thread box's slot, which
//! starts as `&EMPTY` rather than zero, is declared in src/front/tls_initial_exec.rs the same way.)
//!
//! Why: in a `cdylib`, Rust's `thread_local!` uses the general-dynamic TLS model, so each access
//! may call `__tls_get_addr`, which allocates the module's TLS block with `malloc` the first time
//! a thread touches it after a `dlopen` (and grows the DTV with `realloc`). Inside `malloc` that
//! recursion deadlocks or corrupts; glibc's manual requires a replacement malloc to use
//! initial-exec TLS or none. Rust has no stable way to ask for the model of a `thread_local!`, so
//! `initial_exec_word!` declares the word in assembly:
//! - `global_asm!` reserves 8 zero bytes in `.tbss` under a hidden symbol (so it is neither
//!   exported nor interposable, and the static TLS block of every thread holds it from birth);
//! - `get`/`set` read and write it with the initial-exec sequence
//!   `mov reg, [rip + sym@GOTTPOFF]` (the word's offset from the thread pointer, filled in by one
//!   `R_X86_64_TPOFF64` load-time relocation) followed by an `fs:`-relative load or store. In an
//!   executable the linker relaxes the first instruction to an immediate (local-exec).
//!
//! Every word starts as zero in every thread. The cost is one `mov` over a local-exec access; no
//! call, no branch, no lock, nothing that can allocate.
//!
//! Loading `libhakmem.so` with `dlopen` (instead of `LD_PRELOAD`) still works: glibc keeps a
//! surplus of static TLS for initial-exec libraries loaded late, and a few words fit in it.

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
compile_error!("the `initial-exec-tls` feature supports x86_64 Linux only");

/// `initial_exec_word!(fn GET, SET: TYPE = "SYMBOL");` declares `GET() -> TYPE` and `SET(TYPE)`
/// in the invoking module, on an 8-byte initial-exec thread-local word named `SYMBOL` (hidden).
/// `TYPE` is a register-sized integer or pointer whose all-zero value is the initial one.
macro_rules! initial_exec_word {
    (fn $get:ident, $set:ident: $ty:ty = $sym:literal;) => {
        core::arch::global_asm!(
            concat!(".pushsection .tbss.", $sym, ",\"awT\",@nobits"),
            ".p2align 3",
            concat!(".globl ", $sym),
            concat!(".hidden ", $sym),
            concat!(".type ", $sym, ", @object"),
            concat!(".size ", $sym, ", 8"),
            concat!($sym, ":"),
            ".zero 8",
            ".popsection",
        );

        /// The calling thread's word (zero until it is first set on this thread).
        #[inline(always)]
        fn $get() -> $ty {
            let v: $ty;
            // SAFETY: reads the 8-byte word reserved above in the calling thread's static TLS
            // block; the GOT entry holds its offset from the thread pointer (`fs` base). Touches
            // no other memory, no stack, no flags.
            unsafe {
                core::arch::asm!(
                    concat!("mov {v}, qword ptr [rip + ", $sym, "@GOTTPOFF]"),
                    "mov {v}, qword ptr fs:[{v}]",
                    v = out(reg) v,
                    options(nostack, readonly, preserves_flags, pure),
                );
            }
            v
        }

        /// Sets the calling thread's word.
        #[inline(always)]
        fn $set(v: $ty) {
            // SAFETY: writes the calling thread's own word (see the getter); no other thread can
            // address it.
            unsafe {
                core::arch::asm!(
                    concat!("mov {off}, qword ptr [rip + ", $sym, "@GOTTPOFF]"),
                    "mov qword ptr fs:[{off}], {v}",
                    off = out(reg) _,
                    v = in(reg) v,
                    options(nostack, preserves_flags),
                );
            }
        }
    };
}

pub(crate) use initial_exec_word;
