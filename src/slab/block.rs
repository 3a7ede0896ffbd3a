//! Block: a free block's first word, the link of whatever free list holds it.
//!
//! Boundary: the only code that reads or writes a link stored inside freed memory. Every free list
//! (TLS SLL, slab free list, remote queue) goes through `Block::next`/`Block::set_next`, so under
//! loom the link becomes a loom cell placed in the block and the models check the real accesses for
//! races instead of a copy of the logic.
//!
//! `valgrind`: every accessor here runs only on blocks memcheck sees as free, and brackets its
//! access with `valgrind::open_block`/`close_block` so the allocator's own reads and writes of
//! freed memory are not reported (ordering rules at the top of `valgrind.rs`).

use core::ptr::NonNull;

use crate::sync::link;
use crate::valgrind;

/// An opaque free block. Only ever handled through `*mut Block` / `NonNull<Block>`.
#[repr(C)]
pub struct Block {
    _opaque: [u8; 0],
}

/// Raw pointer to a free block; null ends a list.
pub type BlockPtr = *mut Block;

/// Bytes a link needs at the start of a block (every class is at least this big).
pub const LINK_BYTES: usize = link::BYTES;

// The smallest class (`MIN_ALIGN` bytes) holds the link and the freed-block mark after it.
const _: () = assert!(!link::MARK_WORD || 2 * LINK_BYTES <= crate::config::MIN_ALIGN);

impl Block {
    /// Reads the link of a free block.
    ///
    /// # Safety
    /// `b` points to a free block, owned by the caller's list, whose link was written by
    /// `set_next` and is visible to this thread (happens-before).
    #[inline(always)]
    pub unsafe fn next(b: NonNull<Block>) -> BlockPtr {
        // valgrind: the block is free (no access to memcheck); open its words for this read.
        valgrind::open_block(b.as_ptr().cast());
        // SAFETY: per the contract the first word of the block is an initialised link.
        let next = unsafe { link::read(b.as_ptr().cast()) } as BlockPtr;
        valgrind::close_block(b.as_ptr().cast());
        next
    }

    /// Marks a block as freed: its second word becomes `mark(b, key)` (headerless mode's cheap
    /// double-free detector; `key` is a per-process random value, as glibc's tcache key). No-op
    /// under loom, whose links occupy more than one word (`link::MARK_WORD`).
    ///
    /// # Safety
    /// `b` is a block of at least 16 bytes the caller owns.
    #[inline(always)]
    pub unsafe fn mark_free(b: NonNull<Block>, key: usize) {
        if !link::MARK_WORD {
            return;
        }
        // valgrind: called after `freelike`; open the block's words for this write.
        valgrind::open_block(b.as_ptr().cast());
        // SAFETY: blocks are at least 16 bytes; the caller owns this one.
        unsafe { b.as_ptr().cast::<usize>().add(1).write(Self::mark(b, key)) };
        valgrind::close_block(b.as_ptr().cast());
    }

    /// True if the block carries the freed mark (it is free, or the program wrote exactly
    /// `key ^ address` there — a 2^-64 chance for a random key it never saw, and a value the
    /// allocator computes only just before it stores it, so no stale stack copy of it is left
    /// for a program to carry into a live block).
    ///
    /// # Safety
    /// `b` is a readable block of at least 16 bytes.
    #[inline(always)]
    pub unsafe fn is_marked_free(b: NonNull<Block>, key: usize) -> bool {
        if !link::MARK_WORD {
            return false;
        }
        // valgrind: called after `freelike` (never on a live block, whose words must stay
        // addressable and keep their definedness); open the block's words for this read.
        valgrind::open_block(b.as_ptr().cast());
        // SAFETY: per the contract.
        let mark = unsafe { b.as_ptr().cast::<usize>().add(1).read() };
        valgrind::close_block(b.as_ptr().cast());
        mark == Self::mark(b, key)
    }

    /// The freed mark of block `b`: `key ^ address` (`config::MARK_ADDRESS`), else the bare key.
    #[inline(always)]
    fn mark(b: NonNull<Block>, key: usize) -> usize {
        if crate::config::MARK_ADDRESS {
            key ^ b.as_ptr() as usize
        } else {
            key
        }
    }

    /// Clears the freed mark of a block being handed out.
    ///
    /// # Safety
    /// `b` is a block of at least 16 bytes the caller owns.
    #[inline(always)]
    pub unsafe fn clear_mark(b: NonNull<Block>) {
        if !link::MARK_WORD {
            return;
        }
        // valgrind: called before `malloclike`, which then makes the whole block live.
        valgrind::open_block(b.as_ptr().cast());
        // SAFETY: per the contract.
        unsafe { b.as_ptr().cast::<usize>().add(1).write(0) };
        valgrind::close_block(b.as_ptr().cast());
    }

    /// Writes the link of a block that the caller is putting on a list.
    ///
    /// # Safety
    /// `b` points to a block of at least `LINK_BYTES` that nobody else reads or writes now.
    #[inline(always)]
    pub unsafe fn set_next(b: NonNull<Block>, next: BlockPtr) {
        // valgrind: the block is free; open its words for this write.
        valgrind::open_block(b.as_ptr().cast());
        // SAFETY: the caller owns the block; its first word is ours to write.
        unsafe { link::write(b.as_ptr().cast(), next as usize) };
        valgrind::close_block(b.as_ptr().cast());
    }
}
