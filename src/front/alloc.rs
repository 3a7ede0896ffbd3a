//! The allocation paths: `alloc_fast` (one pop from the TLS list), `alloc_slow` (heap set-up and
//! refill), the general path for aligned and header-mode requests, `realloc` and usable size.

use core::ptr::NonNull;

use crate::config::{FREE_MARK, HEADERLESS, MAX_SMALL_SIZE, MIN_ALIGN};
use crate::front::free::{self, Region};
use crate::front::heap::{Heap, HeapKind};
use crate::front::magazine;
use crate::front::thread;
use crate::front::tls_sll::TlsList;
use crate::large;
use crate::size_class::{class_for, class_of, class_size};
use crate::slab::block::{Block, BlockPtr};
use crate::slab::header;
use crate::valgrind;

/// Allocates `size` bytes aligned to `align` (a power of two). Null when memory cannot be had.
///
/// Fast path (headerless, alignment ≤ 16, small): class lookup, TLS load, pop — it should compile
/// to a table or shift for the class, one TLS load, two loads, a compare and two stores.
#[inline(always)]
pub fn alloc(size: usize, align: usize) -> *mut u8 {
    if HEADERLESS && align <= MIN_ALIGN && size <= MAX_SMALL_SIZE {
        let Some(c) = class_of(size) else {
            return core::ptr::null_mut();
        };
        let h = thread::current();
        // SAFETY: the TLS list of the calling thread's heap (a sentinel's is empty and only read).
        let b = unsafe { TlsList::pop(h.tls(c)) };
        if let Some(b) = NonNull::new(b) {
            h.counters.alloc_fast[c].bump();
            return hand_out(b, c);
        }
        return match NonNull::new(alloc_slow(h, c)) {
            Some(b) => hand_out(b, c),
            None => core::ptr::null_mut(),
        };
    }
    alloc_general(size, align)
}

/// What every small block of class `c` goes through on its way to the program: the freed mark is
/// cleared (headerless double-free detection), then memcheck is told the block is live.
#[inline(always)]
fn hand_out(b: NonNull<Block>, c: usize) -> *mut u8 {
    if FREE_MARK {
        // SAFETY: a block just taken off our list; blocks are at least 16 bytes.
        unsafe { Block::clear_mark(b) };
    }
    if HEADERLESS {
        // valgrind: last touch of the block through `Block`; from here it is live to memcheck.
        // (Header mode does this in `alloc_general`, after writing the header.)
        valgrind::malloclike(b.as_ptr().cast(), class_size(c), false);
    }
    b.as_ptr().cast()
}

/// Aligned, header-mode and large requests.
#[inline(never)]
fn alloc_general(size: usize, align: usize) -> *mut u8 {
    let unit = if HEADERLESS {
        0
    } else {
        header::header_unit(align)
    };
    let Some(need) = size.checked_add(unit) else {
        return core::ptr::null_mut();
    };
    let Some(c) = class_for(need, align.max(MIN_ALIGN)) else {
        return large::alloc(size, align);
    };
    let h = thread::current();
    // SAFETY: as in `alloc`.
    let mut b = unsafe { TlsList::pop(h.tls(c)) };
    if b.is_null() {
        b = alloc_slow(h, c);
        if b.is_null() {
            return core::ptr::null_mut();
        }
    } else {
        h.counters.alloc_fast[c].bump();
    }
    // SAFETY: non-null (checked above).
    let user = hand_out(unsafe { NonNull::new_unchecked(b) }, c).wrapping_add(unit);
    if !HEADERLESS {
        // valgrind: the header is allocator memory, addressable while the block is live; the
        // program's part, from `user` on, is the live block (see valgrind.rs).
        valgrind::make_defined(user.wrapping_sub(header::HEADER_SIZE), header::HEADER_SIZE);
        // SAFETY: `user - 16 >= b` and the block is ours.
        unsafe { header::write(user, c, unit) };
        valgrind::malloclike(user, class_size(c) - unit, false);
    }
    user
}

/// Refill, after creating the thread's heap if needed. Null when memory cannot be had.
#[cold]
#[inline(never)]
fn alloc_slow(h: &'static Heap, c: usize) -> BlockPtr {
    // SAFETY (all arms): each heap passed to refill is the calling thread's own live heap, or the
    // fallback heap under its lock.
    let served = |h: &Heap, b: BlockPtr| {
        if !b.is_null() {
            h.counters.alloc_slow[c].bump();
        }
        b
    };
    match h.kind {
        // SAFETY: see above.
        HeapKind::Live => served(h, unsafe { magazine::refill(h, c) }),
        HeapKind::Empty => match thread::init_current() {
            // SAFETY: see above.
            Some(h) => served(h, unsafe { magazine::refill(h, c) }),
            None => core::ptr::null_mut(),
        },
        HeapKind::Dead => thread::with_fallback(|fh| {
            // SAFETY: see above.
            unsafe {
                let b = TlsList::pop(fh.tls(c));
                served(
                    fh,
                    if b.is_null() {
                        magazine::refill(fh, c)
                    } else {
                        b
                    },
                )
            }
        })
        .unwrap_or(core::ptr::null_mut()),
    }
}

/// `alloc` followed by zeroing (skipped for large blocks, which come zeroed from the OS).
#[inline]
pub fn alloc_zeroed(size: usize, align: usize) -> *mut u8 {
    let p = alloc(size, align);
    if !p.is_null() && (size <= MAX_SMALL_SIZE || class_for(size, align.max(MIN_ALIGN)).is_some()) {
        // SAFETY: `p` is a fresh block of at least `size` bytes.
        unsafe { core::ptr::write_bytes(p, 0, size) };
    }
    p
}

/// Usable bytes of a live block.
///
/// # Safety
/// `ptr` is a live block of this allocator.
pub unsafe fn usable_size(ptr: *mut u8) -> usize {
    // SAFETY: per the contract.
    match unsafe { free::locate(ptr) } {
        Region::Small { slab, class } => {
            let size = class_size(class);
            if HEADERLESS {
                size
            } else {
                // SAFETY: slab metadata lives in a SuperSlab header, never unmapped.
                let at = unsafe { (*slab).whereis(ptr as usize, class) };
                // SAFETY: the registry confirmed `ptr` is in a data slab.
                size - unsafe { header::peek(ptr, class, size, at) }
            }
        }
        // SAFETY: the registry confirmed a large block.
        Region::Large(head) => unsafe { large::usable_size(head, ptr) },
    }
}

/// Resizes the block at `ptr` (allocated with alignment `align`) to `new_size` bytes, keeping the
/// prefix. Returns null (leaving the old block intact) when memory cannot be had.
///
/// # Safety
/// `ptr` is a live block of this allocator allocated with alignment `align`.
pub unsafe fn realloc(ptr: *mut u8, align: usize, new_size: usize) -> *mut u8 {
    // SAFETY: per the contract.
    let old_usable = match unsafe { free::locate(ptr) } {
        Region::Large(head) => {
            // SAFETY: the registry confirmed a large block.
            let usable = unsafe { large::usable_size(head, ptr) };
            // SAFETY: as above.
            if new_size > MAX_SMALL_SIZE && unsafe { large::resize_in_place(head, ptr, new_size) } {
                return ptr;
            }
            usable
        }
        Region::Small { .. } => {
            // SAFETY: per the contract.
            let usable = unsafe { usable_size(ptr) };
            if new_size <= usable && new_size >= usable / 4 {
                return ptr;
            }
            usable
        }
    };
    let new = alloc(new_size, align);
    if new.is_null() {
        return new;
    }
    // SAFETY: both blocks are live and distinct; the copy stays inside both.
    unsafe {
        core::ptr::copy_nonoverlapping(ptr, new, old_usable.min(new_size));
        free::free(ptr);
    }
    new
}
