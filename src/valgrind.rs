//! memcheck client requests (`valgrind` feature): tell Valgrind's memcheck which memory is a live
//! block, so `valgrind --tool=memcheck` reports use-after-free, invalid frees and leaks in a
//! program that uses hakmem.
//!
//! Boundary: the only code that speaks Valgrind's client-request protocol. Every function is a
//! no-op unless `config::VALGRIND` (checked with a plain `if`, so both arms always compile) and on
//! architectures other than x86_64. Outside Valgrind the request is a few register rotations that
//! leave everything unchanged. Nothing here allocates or panics.
//!
//! ## Ordering rules (what every caller relies on)
//! memcheck sees a small block as **live** from `malloclike` to `freelike`, and as **free** (no
//! access) before and after. The allocator's own accesses to a block's first 16 bytes (the link
//! word and the freed-mark word, all in `slab::block`) happen only while the block is free, and
//! each of them is bracketed by `open_block` (`MAKE_MEM_DEFINED` of the 16 bytes) and `close_block`
//! (`MAKE_MEM_NOACCESS` of them). A live block is therefore never made no-access, and its
//! contents' definedness is never overwritten by the allocator. Hence:
//! 1. **alloc** (`front::alloc::hand_out`): pop (reads the link) → `Block::clear_mark` →
//!    `malloclike` last. After it, nothing in hakmem touches the block through `Block`.
//! 2. **free** (`front::free::free_local`/`free_remote`, through `tell_memcheck_freed`): registry
//!    and block-boundary checks (no access to block memory; header mode reads the header) →
//!    `freelike` → `Block::is_marked_free` (double-free check) → `Block::mark_free` → push
//!    (`Block::set_next`). `freelike` comes *before* the mark check so that the check never reads a
//!    live block (whose second word may be undefined, and must not be closed afterwards), and so
//!    that memcheck itself reports a double free ("Invalid free()", with both stacks) before hakmem
//!    aborts with its own message.
//! 3. A block that was carved but never handed out lies in mmapped memory, which memcheck considers
//!    defined; the accessors still close its first 16 bytes after use, which is harmless.
//! 4. **Large blocks** (`large`): `malloclike(user, usable, zeroed)` after the mapping is
//!    registered; `freelike(user)` before it is unmapped; `resize_in_place` when `mremap` changed
//!    the usable size. The large header sits in the page before `user`, outside the block.
//!
//! Header mode: the live block memcheck knows is the program's part, `[user, block + class size)`;
//! the 16-byte header in front of it is made addressable (`MAKE_MEM_DEFINED`) just before
//! `header::write` and no-access right after `freelike`. So the header reads of `free`,
//! `usable_size` and `realloc` are legal, leak reports see the user pointer as the block's start,
//! and a second free reads a no-access header (memcheck's "Invalid read", then hakmem's abort).
//! Trade-off: memcheck does not flag a program that writes into the header of its own live block
//! (the header is allocator memory, addressable while the block lives); hakmem's header check on
//! free still catches a damaged magic or class. Making the whole block live instead (block start,
//! class size) was tried: every block reachable only through its user pointer is then an interior
//! pointer to memcheck, and blocks still live at exit (std's own) are reported "possibly lost",
//! which `--leak-check=full` counts as errors.
//!
//! Leak reports: memcheck scans hakmem's mappings (SuperSlab headers included) as a root set, so a
//! leaked block that some allocator metadata happens to point at — the first block of a slab is
//! named by its slab's `data` pointer — shows as "still reachable" rather than "definitely lost".

use crate::config::VALGRIND;

/// Request codes from valgrind.h (`Vg_ClientRequest`) and memcheck.h
/// (`Vg_MemCheckClientRequest`, based at `VG_USERREQ_TOOL_BASE('M','C')`).
const MALLOCLIKE_BLOCK: usize = 0x1301;
const FREELIKE_BLOCK: usize = 0x1302;
const RESIZEINPLACE_BLOCK: usize = 0x130b;
const MC_BASE: usize = ((b'M' as usize) << 24) | ((b'C' as usize) << 16);
const MAKE_MEM_NOACCESS: usize = MC_BASE;
const MAKE_MEM_DEFINED: usize = MC_BASE + 2; // MAKE_MEM_UNDEFINED is MC_BASE + 1

/// Bytes of a free block the allocator itself reads and writes: the link and the freed mark.
pub const BLOCK_WORDS_BYTES: usize = 16;

/// Issues one client request; returns `default` when not running under Valgrind.
/// The sequence is valgrind.h's `VALGRIND_DO_CLIENT_REQUEST_EXPR` for amd64: rdi rotated by
/// 3 + 13 + 61 + 51 = 128 bits (unchanged), then `xchg rbx, rbx`; rax points at
/// `[request, a1..a5]`, rdx carries the default in and the result out.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn request(default: usize, req: usize, a1: usize, a2: usize, a3: usize, a4: usize) -> usize {
    let args: [usize; 6] = [req, a1, a2, a3, a4, 0];
    let mut result = default;
    // SAFETY: the sequence changes no register (the rotations add up to 128 bits; xchg of rbx with
    // itself) and only reads `args`; under Valgrind the request reads `args` and sets rdx. Flags
    // are clobbered (the default for `asm!`).
    unsafe {
        core::arch::asm!(
            "rol rdi, 3",
            "rol rdi, 13",
            "rol rdi, 61",
            "rol rdi, 51",
            "xchg rbx, rbx",
            in("rax") args.as_ptr(),
            inout("rdx") result,
            options(nostack),
        );
    }
    result
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn request(default: usize, _req: usize, _a1: usize, _a2: usize, _a3: usize, _a4: usize) -> usize {
    default
}

/// `VALGRIND_MALLOCLIKE_BLOCK(p, size, 0, zeroed)`: `[p, p + size)` becomes a live block
/// (addressable; undefined unless `zeroed`).
#[inline(always)]
pub fn malloclike(p: *mut u8, size: usize, zeroed: bool) {
    if VALGRIND {
        request(0, MALLOCLIKE_BLOCK, p as usize, size, 0, zeroed as usize);
    }
}

/// `VALGRIND_FREELIKE_BLOCK(p, 0)`: the live block at `p` is freed (no access from now on);
/// memcheck reports "Invalid free()" if `p` is not a live block.
#[inline(always)]
pub fn freelike(p: *mut u8) {
    if VALGRIND {
        request(0, FREELIKE_BLOCK, p as usize, 0, 0, 0);
    }
}

/// `VALGRIND_RESIZEINPLACE_BLOCK(p, old, new, 0)`: the live block at `p` changed size in place.
#[inline(always)]
pub fn resize_in_place(p: *mut u8, old_size: usize, new_size: usize) {
    if VALGRIND {
        request(0, RESIZEINPLACE_BLOCK, p as usize, old_size, new_size, 0);
    }
}

/// `VALGRIND_MAKE_MEM_NOACCESS(p, len)`.
#[inline(always)]
pub fn make_noaccess(p: *mut u8, len: usize) {
    if VALGRIND {
        request(0, MAKE_MEM_NOACCESS, p as usize, len, 0, 0);
    }
}

/// `VALGRIND_MAKE_MEM_DEFINED(p, len)`.
#[inline(always)]
pub fn make_defined(p: *mut u8, len: usize) {
    if VALGRIND {
        request(0, MAKE_MEM_DEFINED, p as usize, len, 0, 0);
    }
}

/// Before the allocator reads or writes the first 16 bytes of a free block (rule 2, 3).
#[inline(always)]
pub fn open_block(p: *mut u8) {
    make_defined(p, BLOCK_WORDS_BYTES);
}

/// After the allocator's access to a free block's first 16 bytes.
#[inline(always)]
pub fn close_block(p: *mut u8) {
    make_noaccess(p, BLOCK_WORDS_BYTES);
}
