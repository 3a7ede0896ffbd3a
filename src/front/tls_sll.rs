//! TLS SLL box: a thread's per-class singly linked list of free blocks — the fast path.
//!
//! Boundary: push and pop on one thread's own list; no atomics, no locks, no calls. The list holds
//! only blocks of slabs the thread owns (local frees check ownership first; refill takes from owned
//! slabs), so spilling can return every block to its slab without the registry.
//!
//! Invariant: `count == |list|`; `count <= cap + 1` between operations (a push that makes it
//! exceed `cap` is followed by a spill).

use core::ptr::NonNull;

use crate::slab::block::{Block, BlockPtr};

#[repr(C)]
pub struct TlsList {
    pub head: BlockPtr,
    pub count: u32,
    pub cap: u32,
}

impl TlsList {
    pub const fn new(cap: u32) -> Self {
        Self {
            head: core::ptr::null_mut(),
            count: 0,
            cap,
        }
    }

    /// Pops a block; null when empty. Compiles to a load, a compare, a load and two stores.
    ///
    /// # Safety
    /// The list belongs to the calling thread.
    #[inline(always)]
    pub unsafe fn pop(this: *mut TlsList) -> BlockPtr {
        // SAFETY: the list is the calling thread's; raw place accesses so that a static sentinel
        // list (always empty) is only ever read.
        unsafe {
            let head = (*this).head;
            if let Some(b) = NonNull::new(head) {
                (*this).head = Block::next(b);
                (*this).count -= 1;
            }
            head
        }
    }

    /// Pushes a block; returns true when the list now exceeds its cap (the caller spills).
    ///
    /// # Safety
    /// The list belongs to the calling thread (never a sentinel) and `b` is a free block of a slab
    /// that thread owns.
    #[inline(always)]
    pub unsafe fn push(this: *mut TlsList, b: NonNull<Block>) -> bool {
        // SAFETY: per the contract.
        unsafe {
            Block::set_next(b, (*this).head);
            (*this).head = b.as_ptr();
            (*this).count += 1;
            (*this).count > (*this).cap
        }
    }

    /// Prepends a linked batch `head..=tail` of `n` blocks.
    ///
    /// # Safety
    /// As for `push`; the batch is well linked and `tail` is its last block.
    #[inline]
    pub unsafe fn push_batch(this: *mut TlsList, head: BlockPtr, tail: BlockPtr, n: usize) {
        if n == 0 {
            return;
        }
        // SAFETY: per the contract.
        unsafe {
            Block::set_next(NonNull::new_unchecked(tail), (*this).head);
            (*this).head = head;
            (*this).count += n as u32;
        }
    }
}
