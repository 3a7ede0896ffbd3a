//! Unwinder stubs: libhakmem.so does not load `libgcc_s.so.1`.
//!
//! Rust's std names eleven `_Unwind_*` functions of libgcc's unwinder (to raise and catch a
//! panic, and for panic backtraces), so the link asked for `libgcc_s.so.1`, and every program
//! under `LD_PRELOAD` loaded it: one more library to open, map and relocate, its constructor
//! run, about 100 KiB of resident pages in `/bin/true` (docs/benchmarks.md, "Session 17: rss24")
//! that glibc's and mimalloc's preloads do not pay. Nothing in this library unwinds: hakmem never
//! panics (it reports and aborts), every C export is `extern "C"`, the profiler walks frame
//! pointers (docs/profiling.md). So the eleven are defined here, *hidden* (resolved inside this
//! library, never exported, so a C++ program's own unwinder stays the one it uses), and the
//! linker's `--as-needed` drops `libgcc_s`:
//! - `_Unwind_RaiseException` returns `_URC_END_OF_STACK` (5): a panic that should not exist
//!   aborts in std ("failed to initiate panic") instead of unwinding;
//! - `_Unwind_Backtrace` returns 5 without calling back: a panic message has no backtrace;
//! - the getters return 0. They are called only by Rust's personality routine, when a C++
//!   exception (`std::bad_alloc` from a throwing `operator new`, src/cxx.rs) passes through this
//!   library's frames: no language-specific data means "no cleanup here, go on" — those frames
//!   hold nothing to drop;
//! - `_Unwind_Resume`, `_Unwind_SetGR`, `_Unwind_SetIP` (reached only after a cleanup was found,
//!   which the getters rule out) report and abort.
//!
//! Backout: `--cfg hakmem_no_unwind_stubs` (libgcc_s loaded again, as before session 17).

#[cfg(not(hakmem_no_unwind_stubs))]
core::arch::global_asm!(
    ".pushsection .text.hakmem_unwind_stubs,\"ax\",@progbits",
    ".p2align 4",
    // _Unwind_Reason_Code fn(...): _URC_END_OF_STACK.
    ".globl _Unwind_RaiseException",
    ".hidden _Unwind_RaiseException",
    ".type _Unwind_RaiseException,@function",
    ".globl _Unwind_Backtrace",
    ".hidden _Unwind_Backtrace",
    ".type _Unwind_Backtrace,@function",
    "_Unwind_RaiseException:",
    "_Unwind_Backtrace:",
    "mov eax, 5",
    "ret",
    // _Unwind_Ptr / _Unwind_Word fn(context, ...): 0.
    ".globl _Unwind_GetLanguageSpecificData",
    ".hidden _Unwind_GetLanguageSpecificData",
    ".type _Unwind_GetLanguageSpecificData,@function",
    ".globl _Unwind_GetIP",
    ".hidden _Unwind_GetIP",
    ".type _Unwind_GetIP,@function",
    ".globl _Unwind_GetIPInfo",
    ".hidden _Unwind_GetIPInfo",
    ".type _Unwind_GetIPInfo,@function",
    ".globl _Unwind_GetRegionStart",
    ".hidden _Unwind_GetRegionStart",
    ".type _Unwind_GetRegionStart,@function",
    ".globl _Unwind_GetTextRelBase",
    ".hidden _Unwind_GetTextRelBase",
    ".type _Unwind_GetTextRelBase,@function",
    ".globl _Unwind_GetDataRelBase",
    ".hidden _Unwind_GetDataRelBase",
    ".type _Unwind_GetDataRelBase,@function",
    "_Unwind_GetLanguageSpecificData:",
    "_Unwind_GetIP:",
    "_Unwind_GetIPInfo:",
    "_Unwind_GetRegionStart:",
    "_Unwind_GetTextRelBase:",
    "_Unwind_GetDataRelBase:",
    "xor eax, eax",
    "ret",
    // Unreachable: report and abort.
    ".globl _Unwind_Resume",
    ".hidden _Unwind_Resume",
    ".type _Unwind_Resume,@function",
    ".globl _Unwind_SetGR",
    ".hidden _Unwind_SetGR",
    ".type _Unwind_SetGR,@function",
    ".globl _Unwind_SetIP",
    ".hidden _Unwind_SetIP",
    ".type _Unwind_SetIP,@function",
    "_Unwind_Resume:",
    "_Unwind_SetGR:",
    "_Unwind_SetIP:",
    "jmp {unreachable}",
    ".popsection",
    unreachable = sym unwinder_unreachable,
);

/// The target of the stubs that a Rust cleanup would need: there is none, so reaching one is a
/// bug in the reasoning above, reported rather than run on.
#[cfg(not(hakmem_no_unwind_stubs))]
extern "C" fn unwinder_unreachable() -> ! {
    crate::fatal("unwinder: a landing pad was entered, but this library links no unwinder (src/no_unwind.rs)")
}
