//! TLS SLL box: a thread's per-class singly linked list of free blocks — the fast path.
//!
//! Boundary: push and pop on one thread's own list; no atomic read-modify-writes, no locks, no
//! calls (`room` is an atomic only for `stats()`'s reads, below). The list holds
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
//!
//! `room` is an atomic only because `hakmem::stats()` reads it from any thread
//! (`config::DERIVED_FREE_COUNT`: the local free counts derive from it, `Heap::room`); a plain
//! field read there raced the owner's pop and push (ThreadSanitizer, session 28). The owner is its
//! only writer and writes it with a Relaxed load and a Relaxed store, never a read-modify-write:
//! on x86-64 both are plain `mov`s, and LLVM folds the pop's `store(load + 1)` into the same `incl`
//! to memory as the plain field's `+= 1`; the push, whose cap test uses the result, does its
//! `dec; js` in asm (`config::ROOM_DEC_ASM`). The owner reads it with plain reads (`room`).
//! docs/ordering.md, the `TlsList.room` row.

use core::ptr::NonNull;

use crate::config::{CHECKED, FIRST_DATA_SLAB, SUPERSLAB_MASK};
use crate::debug::{fatal, Where};
use crate::slab::block::{Block, BlockPtr};
use crate::slab::superslab::{SuperSlab, SUPERSLAB_MAGIC};
use crate::sync::plain::{self, AtomicI32};
use crate::sync::Ordering;

#[repr(C)]
pub struct TlsList {
    pub head: BlockPtr,
    /// `cap - |list|`. Written by the list's thread only (`set_room`, `add_room`); read by
    /// `stats()` from any thread (`Heap::room`).
    pub room: AtomicI32,
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
        (self.cap as i64 - self.room() as i64) as usize
    }

    /// Sets the list's length bookkeeping (the caller has taken its blocks).
    #[inline]
    pub fn set_len(&mut self, n: usize) {
        self.set_room(self.cap as i32 - n as i32);
    }

    /// The list's room, read by its own thread (or one ordered after it: a recycled heap's next
    /// thread). A plain read, so that the compiler keeps merging and forwarding it on the slow
    /// paths (`Heap::rooms`/`settle` around every refill and spill): as atomic loads these cost
    /// the remote pair 0.1-1 instruction (docs/benchmarks.md "Session 28: room28").
    #[inline(always)]
    pub fn room(&self) -> i32 {
        // SAFETY: the calling thread is the word's only writer (the contract), so this read
        // races no write: the other threads only read it (`Heap::room`, atomically), and two
        // reads, atomic or not, are no data race. In bounds and aligned: a field of `self`.
        unsafe { self.room.as_ptr().read() }
    }

    /// Sets the list's room; only the list's thread calls it.
    #[inline(always)]
    pub fn set_room(&self, v: i32) {
        // ORDERING: Relaxed — the owner is the only writer, and the one reader on another thread
        // (`stats()` through `Heap::room`) wants a statistic: any recent value, never torn,
        // publishing nothing.
        self.room.store(v, plain::Ordering::Relaxed);
    }

    /// Adds `d` to the list's room and returns the new room; only the list's thread calls it.
    /// A load and a store, not a `fetch_add`: nobody else writes the word, so the read-modify-
    /// write need not be atomic, and a locked `xadd` would cost the fast path ~20 cycles.
    #[inline(always)]
    pub fn add_room(&self, d: i32) -> i32 {
        // ORDERING: Relaxed — as `set_room`. An atomic load, not `room`'s plain read: LLVM folds
        // an atomic `store(load + 1)` into `incl` to memory (the pop), a plain load's not.
        let r = self.room.load(plain::Ordering::Relaxed).wrapping_add(d);
        self.set_room(r);
        r
    }

    /// Makes an empty list `new(cap)` in place, `room` with an atomic store (`stats()` may be
    /// reading it: an assignment of a whole list would write it with a plain store).
    #[inline]
    pub fn reset(&mut self, cap: u32) {
        debug_assert!(self.head.is_null());
        self.head = core::ptr::null_mut();
        self.cap = cap;
        self.set_room(cap as i32);
    }

    pub const fn new(cap: u32) -> Self {
        Self {
            head: core::ptr::null_mut(),
            room: AtomicI32::new(cap as i32),
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
            (*this).add_room(1);
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
            #[cfg(all(target_arch = "x86_64", hakmem_asm_goto))]
            if crate::config::ROOM_DEC_ASM {
                // `config::ROOM_DEC_ASM`: `add_room(-1) < 0` as `dec; js` (LLVM cannot fold an
                // atomic's load and store into a `dec` whose flags it then tests). An aligned
                // 4-byte read-modify-write without `lock`: its store is single-copy atomic, which
                // is all `add_room`'s Relaxed store promises a reader on another thread; only
                // this thread writes the word, so no update is lost.
                core::arch::asm!(
                    "dec dword ptr [{list} + {room}]",
                    "jns {fits}",
                    list = in(reg) this,
                    room = const core::mem::offset_of!(TlsList, room),
                    fits = label { return false; },
                    options(nostack),
                );
                return true;
            }
            (*this).add_room(-1) < 0
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
            (*this).add_room(-(n as i32));
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
