//! Header mode (built without `headerless`): every small block carries a 16-byte header right in
//! front of the user pointer.
//!
//! Layout of a block of class size `S` serving a request of alignment `A` (`H = max(16, A)`):
//! ```text
//! block ── H - 16 bytes padding ── header(16) ── user (aligned to A) ── … up to block + S
//! header = { tag = TAG_KEY ^ divisor_of(S): u64, offset = user - block: u64 }
//! ```
//! `H` is a whole alignment unit, so `user` stays aligned to the layout. The tag names the class
//! (checked against the slab's class on free: class drift aborts) by the slab's fused-check
//! divisor (`slab::divisor_of`), which the free fast path holds already (the owned-slab table
//! entry carries it, `config::HEADER_ENTRY`), so its header check is one `xor` and two compares
//! against memory. The offset leads back to the block start (so the header offset is applied
//! exactly once). The tag is cleared on free (and the block's list link then lies on it), so a
//! second free of the same pointer finds no header.
//!
//! Invariants (`const` asserts below): the tags of the small classes are distinct, and each has a
//! bit above 47 set, so no list link (a user-space pointer, below 2^47) or null ever reads as a
//! live header.
//!
//! Boundary: reading, writing and checking the header; nothing else.

use crate::debug::{fatal, Where};
use crate::size_class::{CLASS_SIZES, NUM_CLASSES};
use crate::slab::slab::divisor_of;

pub const HEADER_SIZE: usize = 16;
/// XORed into every tag, so that a tag is not a value a program's data plausibly holds; the
/// sign extension of a 32-bit immediate (`0xA110C8ED`), so that the free fast path's `xor` or
/// compare takes it inline (no 64-bit constant load). Its high half, all ones, sets the top bits
/// of every tag (divisors are below 2^61).
const TAG_KEY: u64 = 0xFFFF_FFFF_A110_C8ED;

#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct Header {
    tag: u64,
    offset: u64,
}

const _: () = assert!(core::mem::size_of::<Header>() == HEADER_SIZE);
const _: () = assert!(core::mem::size_of::<[Header; 2]>() == 2 * HEADER_SIZE);

/// The tag of the blocks of a slab whose fused-check divisor is `divisor`: what the free fast
/// path compares with the header's first word.
#[inline(always)]
pub const fn tag_of_divisor(divisor: u64) -> u64 {
    TAG_KEY ^ divisor
}

/// The tag of small class `class`; 0, which no live header holds, for any other class id (a
/// medium class's slab, `Slab::bind`, whose blocks carry no header).
#[inline(always)]
pub fn tag(class: usize) -> u64 {
    match HEADERS.get(class) {
        Some(h) => h.tag,
        None => 0,
    }
}

/// Per small class, the header of a block handed out at alignment ≤ 16 (offset 16): the alloc
/// fast path copies it in one 16-byte load and store, at the class's 16-byte stride.
static HEADERS: [Header; NUM_CLASSES] = {
    let mut t = [Header { tag: 0, offset: 0 }; NUM_CLASSES];
    let mut c = 0;
    while c < NUM_CLASSES {
        t[c] = Header {
            tag: tag_of_divisor(divisor_of(CLASS_SIZES[c] as usize)),
            offset: HEADER_SIZE as u64,
        };
        c += 1;
    }
    t
};

// The invariants of the tags (top of the file).
const _: () = {
    let mut c = 0;
    while c < NUM_CLASSES {
        let t = tag_of_divisor(divisor_of(CLASS_SIZES[c] as usize));
        assert!(t >> 47 != 0, "a tag must not read as a user-space pointer");
        let mut d = c + 1;
        while d < NUM_CLASSES {
            assert!(t != tag_of_divisor(divisor_of(CLASS_SIZES[d] as usize)));
            d += 1;
        }
        c += 1;
    }
};

/// The free fast path's header check: if the header in front of `user` is the live header of a
/// block whose tag is `expected`, with the 16-byte offset of alignment ≤ 16, consumes it (clears
/// the tag) and returns the block start. `None` for anything else (another offset, a bad or
/// cleared header): the caller then takes the full check (`take`), which aborts with the reason
/// or handles the larger offset.
///
/// # Safety
/// `user - 16 .. user` is readable (`user` lies in a data slab of ours).
#[inline(always)]
pub unsafe fn take_fast(user: *mut u8, expected: u64) -> Option<*mut u8> {
    // SAFETY: forwarded contract.
    if unsafe { is_live_fast(user, expected) } {
        // SAFETY: as above; the header of the block being freed.
        Some(unsafe { consume(user) })
    } else {
        None
    }
}

/// Consumes the live header in front of `user` (clears its tag) and returns the block start, 16
/// bytes before `user`.
///
/// # Safety
/// `user - 16 .. user` is writable, the header of a block being freed (`is_live_fast` passed).
#[inline(always)]
pub unsafe fn consume(user: *mut u8) -> *mut u8 {
    let h = user.wrapping_sub(HEADER_SIZE);
    // SAFETY: per the contract.
    unsafe { h.cast::<u64>().write_unaligned(0) };
    h
}

/// `take_fast`'s check without the consumption: the header in front of `user` is the live
/// header of a block whose tag is `expected`, at the 16-byte offset, so the block starts at
/// `user - 16` and the tag is its first word. A caller that then pushes the block on a free list
/// consumes the header by that push: the list link it writes over the tag is a pointer or null,
/// which never reads as a tag (the invariant at the top of this file).
///
/// # Safety
/// As for `take_fast`.
#[inline(always)]
pub unsafe fn is_live_fast(user: *mut u8, expected: u64) -> bool {
    let h = user.wrapping_sub(HEADER_SIZE).cast::<u64>();
    // SAFETY: per the contract; unaligned reads, since `user` is not checked yet.
    let (w0, w1) = unsafe { (h.read_unaligned(), h.add(1).read_unaligned()) };
    w0 == expected && w1 == HEADER_SIZE as u64
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

/// Writes the header of a block of small class `class_off / 16` handed out at `user`, 16 bytes
/// past the block start (alignment ≤ 16): the alloc fast path, which holds the class as this
/// byte offset (the stride of its per-class arrays, and of `HEADERS`).
///
/// # Safety
/// `[user - 16, user)` lies inside a block the caller just allocated; `class_off` is a small
/// class times 16.
#[inline(always)]
pub unsafe fn write_fast(user: *mut u8, class_off: usize) {
    debug_assert!(class_off % HEADER_SIZE == 0 && class_off / HEADER_SIZE < NUM_CLASSES);
    // SAFETY: per the contract: `HEADERS` has a 16-byte stride, so the offset names its entry;
    // `user` is 16-aligned so the header is aligned.
    unsafe {
        let from = HEADERS.as_ptr().byte_add(class_off);
        user.sub(HEADER_SIZE).cast::<Header>().write(from.read())
    }
}

/// Writes the header for a block handed out at `user`, `offset` bytes past the block start.
///
/// # Safety
/// `[user - 16, user)` lies inside a block the caller just allocated; `class` is a small class.
#[inline(always)]
pub unsafe fn write(user: *mut u8, class: usize, offset: usize) {
    // SAFETY: per the contract; `user` is 16-aligned so the header is aligned.
    unsafe {
        user.sub(HEADER_SIZE).cast::<Header>().write(Header {
            tag: tag(class),
            offset: offset as u64,
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

/// The offset a live header records back to the block start; aborts (header box) if it is
/// impossible for a block of `class_size` bytes.
fn checked_offset(h: &Header, class_size: usize, at: Where) -> usize {
    let off = h.offset as usize;
    if off < HEADER_SIZE || off >= class_size || !off.is_power_of_two() {
        fatal("header", "header offset impossible for this class", at);
    }
    off
}

/// Checks the header in front of `user` against the slab's class and returns the offset back to
/// the block start; aborts with the header box named on a bad tag, a class mismatch or an
/// impossible offset. Clears the tag (the block is being freed).
///
/// # Safety
/// `user - 16` is readable (the registry confirmed `user` lies in a data slab of ours, whose
/// slab start is at least 16 bytes before any user pointer).
#[inline(always)]
pub unsafe fn take(user: *mut u8, slab_class: usize, class_size: usize, at: Where) -> usize {
    check_aligned(user, at);
    // SAFETY: per the contract; aligned (checked above).
    let h = unsafe { &mut *user.sub(HEADER_SIZE).cast::<Header>() };
    if h.tag != tag(slab_class) {
        // Another class's tag: a live header of the wrong class (class drift); else no header.
        if HEADERS.iter().any(|x| x.tag == h.tag) {
            fatal("header", "header class differs from the slab's class", at);
        }
        fatal(
            "header",
            "bad header magic (not a live hakmem block, or freed twice)",
            at,
        );
    }
    let off = checked_offset(h, class_size, at);
    h.tag = 0;
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
    if h.tag != tag(slab_class) {
        // The same words as `take`'s: a usable-size query or a realloc of a freed block is the
        // double free's kin (ci22: a realloc of a freed block in header mode reached here).
        fatal(
            "header",
            "bad header magic on a block asked about as live (not a live hakmem block, or freed)",
            at,
        );
    }
    checked_offset(h, class_size, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_header_is_the_written_one() {
        for (c, &size) in CLASS_SIZES[..NUM_CLASSES].iter().enumerate() {
            let mut block = Header { tag: 0, offset: 0 };
            let user = (&raw mut block).cast::<u8>().wrapping_add(HEADER_SIZE);
            // SAFETY: `block` is 16 bytes, 16-aligned, in front of `user`.
            unsafe { write_fast(user, c * HEADER_SIZE) };
            assert_eq!(block.tag, tag(c));
            assert_eq!(block.tag, tag_of_divisor(divisor_of(size as usize)));
            assert_eq!(block.offset, HEADER_SIZE as u64);
        }
    }
}
