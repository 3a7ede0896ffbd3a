//! Header mode (built without `headerless`): every small block carries a 16-byte header right in
//! front of the user pointer.
//!
//! Layout of a block of class size `S` serving a request of alignment `A` (`H = max(16, A)`):
//! ```text
//! block ── H - 16 bytes padding ── header(16) ── user (aligned to A) ── … up to block + S
//! header = { magic ^ class: u32, class: u16, 0: u16, offset = user - block: u32, 0: u32 }
//! ```
//! `H` is a whole alignment unit, so `user` stays aligned to the layout. The header records the
//! class (checked against the slab's class on free: class drift aborts) and the offset back to the
//! block start (so the header offset is applied exactly once). The magic is cleared on free, so a
//! second free of the same pointer finds no header.
//!
//! Boundary: reading, writing and checking the header; nothing else.

use crate::debug::{fatal, Where};

pub const HEADER_SIZE: usize = 16;
const HEADER_MAGIC: u32 = 0xA110_C8ED;

#[repr(C)]
struct Header {
    magic: u32,
    class: u16,
    _pad: u16,
    offset: u32,
    _pad2: u32,
}

const _: () = assert!(core::mem::size_of::<Header>() == HEADER_SIZE);

/// The first 8 bytes of the header of a class-`class` block (little-endian: magic ^ class, class,
/// 0), as the free fast path compares them in one load (`take_fast`).
pub const fn first_word(class: usize) -> u64 {
    (HEADER_MAGIC ^ class as u32) as u64 | (class as u64) << 32
}

/// The free fast path's header check: if the header in front of `user` is the live header of a
/// block of the class whose `first_word` is `expected`, with the 16-byte offset of alignment
/// ≤ 16, consumes it (clears the magic) and returns the block start. `None` for anything else
/// (another offset, a bad or cleared header): the caller then takes the full check (`take`),
/// which aborts with the reason or handles the larger offset.
///
/// # Safety
/// `user - 16 .. user` is readable (`user` lies in a data slab of ours).
#[inline(always)]
pub unsafe fn take_fast(user: *mut u8, expected: u64) -> Option<*mut u8> {
    let h = user.wrapping_sub(HEADER_SIZE).cast::<u64>();
    // SAFETY: per the contract; unaligned reads, since `user` is not checked yet.
    let (w0, w1) = unsafe { (h.read_unaligned(), h.add(1).read_unaligned()) };
    if w0 == expected && w1 == HEADER_SIZE as u64 {
        // SAFETY: as above; clears the magic (and class) of the header being consumed.
        unsafe { h.write_unaligned(0) };
        Some(user.wrapping_sub(HEADER_SIZE))
    } else {
        None
    }
}

/// Bytes between block start and user pointer for alignment `align`.
#[inline(always)]
pub fn header_unit(align: usize) -> usize {
    if align > HEADER_SIZE {
        align
    } else {
        HEADER_SIZE
    }
}

/// Writes the header for a block handed out at `user`, `offset` bytes past the block start.
///
/// # Safety
/// `[user - 16, user)` lies inside a block the caller just allocated.
#[inline(always)]
pub unsafe fn write(user: *mut u8, class: usize, offset: usize) {
    // SAFETY: per the contract; `user` is 16-aligned so the header is aligned.
    unsafe {
        user.sub(HEADER_SIZE).cast::<Header>().write(Header {
            magic: HEADER_MAGIC ^ class as u32,
            class: class as u16,
            _pad: 0,
            offset: offset as u32,
            _pad2: 0,
        })
    }
}

/// User pointers are at least 16-aligned; anything else cannot have a header in front of it.
#[inline(always)]
fn check_aligned(user: *mut u8, at: Where) {
    if user as usize % HEADER_SIZE != 0 {
        fatal("free", "pointer not on a block boundary (misaligned)", at);
    }
}

/// Checks the header in front of `user` against the slab's class and returns the offset back to
/// the block start; aborts with the header box named on a bad magic, a class mismatch or an
/// impossible offset. Clears the magic (the block is being freed).
///
/// # Safety
/// `user - 16` is readable (the registry confirmed `user` lies in a data slab of ours, whose
/// slab start is at least 16 bytes before any user pointer).
#[inline(always)]
pub unsafe fn take(user: *mut u8, slab_class: usize, class_size: usize, at: Where) -> usize {
    check_aligned(user, at);
    // SAFETY: per the contract; aligned (checked above).
    let h = unsafe { &mut *user.sub(HEADER_SIZE).cast::<Header>() };
    if h.magic != HEADER_MAGIC ^ h.class as u32 {
        fatal(
            "header",
            "bad header magic (not a live hakmem block, or freed twice)",
            at,
        );
    }
    if h.class as usize != slab_class {
        fatal("header", "header class differs from the slab's class", at);
    }
    let off = h.offset as usize;
    if off < HEADER_SIZE || off >= class_size || !off.is_power_of_two() {
        fatal("header", "header offset impossible for this class", at);
    }
    h.magic = 0;
    off
}

/// Reads the offset of a live block's header without consuming it (for usable-size queries and
/// realloc).
///
/// # Safety
/// As for `take`.
#[inline]
pub unsafe fn peek(user: *mut u8, slab_class: usize, class_size: usize, at: Where) -> usize {
    check_aligned(user, at);
    // SAFETY: per the contract; aligned (checked above).
    let h = unsafe { &*user.sub(HEADER_SIZE).cast::<Header>() };
    if h.magic != HEADER_MAGIC ^ h.class as u32 || h.class as usize != slab_class {
        fatal("header", "bad header on a live block", at);
    }
    let off = h.offset as usize;
    if off < HEADER_SIZE || off >= class_size || !off.is_power_of_two() {
        fatal("header", "header offset impossible for this class", at);
    }
    off
}
