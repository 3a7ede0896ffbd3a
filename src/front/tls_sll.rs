//! TLS SLL box: a thread's per-class singly linked list of free blocks — the fast path.
//!
//! Boundary: push and pop on one thread's own list; no atomics, no locks, no calls. The list holds
//! only blocks of slabs the thread owns (local frees check ownership first; refill takes from owned
//! slabs), so spilling can return every block to its slab without the registry.
//!
//! Invariant: `cap - room == |list|`. `room` is negative only when the list exceeds `cap`: after
//! a refill that took a slab's whole free list (`Slab::take_free_all`, `config::WHOLE_FREE_LIST`;
//! pops shrink it), or after a push, which is then followed by a spill (`small::spill`: it brings
//! the list down to half its cap, or, on a list holding a slab's whole free list, returns the
//! block just pushed or the batch pushed since its last spill). `cap` is the class's
//! (`heap::base_cap`), or more while the list holds a slab's whole free list (`config::SPILL_TOP`:
//! the spill raises it, the next refill restores it).
//! Counting down to the cap makes the push's cap test one decrement and a sign test.

use core::ptr::NonNull;

use crate::config::{CHECKED, FIRST_DATA_SLAB, SUPERSLAB_MASK};
use crate::debug::{fatal, Where};
use crate::slab::block::{Block, BlockPtr};
use crate::slab::superslab::{SuperSlab, SUPERSLAB_MAGIC};
use crate::sync::Ordering;

#[repr(C)]
pub struct TlsList {
    pub head: BlockPtr,
    /// `cap - |list|`.
    pub room: i32,
    pub cap: u32,
}

/// `checked`: the link of a popped block must be null or another block of a bound data slab of
/// the same class in a live SuperSlab. Catches corrupted links (use after free, overflow into a
/// free block) at the pop instead of at a later crash.
#[cold]
#[inline(never)]
pub fn check_link(b: NonNull<Block>, next: BlockPtr) {
    let Some(n) = NonNull::new(next) else { return };
    let class_of = |p: NonNull<Block>| -> Option<u32> {
        let ss = p
            .as_ptr()
            .map_addr(|a| a & !SUPERSLAB_MASK)
            .cast::<SuperSlab>();
        let idx = SuperSlab::slab_index(p.as_ptr() as usize);
        // SAFETY: only called for `b` (on our list, so in one of our SuperSlabs) and for a `next`
        // that shares `b`'s SuperSlab or is registered; registered regions are mapped.
        unsafe {
            if (*ss).magic != SUPERSLAB_MAGIC || idx < FIRST_DATA_SLAB {
                return None;
            }
            // ORDERING: Relaxed — see `Slab::class`.
            Some((*ss).slabs[idx].class.load(Ordering::Relaxed))
        }
    };
    let same_ss = (b.as_ptr() as usize ^ next as usize) & !SUPERSLAB_MASK == 0;
    let ok = if same_ss || !crate::registry::lookup(next as usize).is_null() {
        class_of(b).is_some() && class_of(b) == class_of(n)
    } else {
        false
    };
    if !ok {
        fatal(
            "tls_sll",
            "corrupted free-list link (points outside the list's class)",
            Where::ptr(next as usize),
        );
    }
}

impl TlsList {
    /// Number of blocks on the list.
    #[inline]
    pub fn len(&self) -> usize {
        (self.cap as i64 - self.room as i64) as usize
    }

    /// Sets the list's length bookkeeping (the caller has taken its blocks).
    #[inline]
    pub fn set_len(&mut self, n: usize) {
        self.room = self.cap as i32 - n as i32;
    }

    pub const fn new(cap: u32) -> Self {
        Self {
            head: core::ptr::null_mut(),
            room: cap as i32,
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
                Self::take(this, b);
            }
            head
        }
    }

    /// Takes the list's head `b` off it: the pop once its head was loaded and found non-null
    /// (`front::alloc::alloc_fast` decides on the class countdown between the two,
    /// `config::PROF_POP_COUNTDOWN`).
    ///
    /// # Safety
    /// The list belongs to the calling thread and `b` is its head.
    #[inline(always)]
    pub unsafe fn take(this: *mut TlsList, b: NonNull<Block>) {
        // SAFETY: per the contract.
        unsafe {
            let next = Block::next(b);
            (*this).head = next;
            (*this).room += 1;
            Self::popped(b, next);
        }
    }

    /// What every pop does with the link `next` of the block `b` it takes, after storing it as
    /// the new head: checks it (`checked`) and prefetches the block it names
    /// (`config::PREFETCH_POP`). `pop`'s, and the profiler's fused pop-and-swap's
    /// (`front::profiling::swap_miss`).
    #[inline(always)]
    pub fn popped(b: NonNull<Block>, next: BlockPtr) {
        if CHECKED {
            check_link(b, next);
        }
        if crate::config::PREFETCH_POP {
            prefetch(next);
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
            (*this).room -= 1;
            (*this).room < 0
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
            (*this).room -= n as i32;
        }
    }
}

/// Asks the CPU to bring the line at `p` into the cache (`config::PREFETCH_POP`): the next pop
/// reads its link there. A hint only: never faults, whatever `p` is (null or a corrupt link
/// included), and reads nothing the program can see.
#[inline(always)]
pub fn prefetch(p: *mut Block) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` is a hint: it neither faults nor changes memory, for any address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            p.cast::<i8>().cast_const(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
