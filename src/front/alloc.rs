//! The allocation paths: `alloc` picks the class, `alloc_fast` pops from the TLS list,
//! `alloc_slow` sets up the heap and refills, `alloc_general` takes aligned, header-mode, medium
//! and large requests; then `alloc_zeroed`, `usable_size` and `realloc`.

use core::ptr::NonNull;

use crate::config::{
    CALLOC_CLEARS_USABLE, FORK_TAKEOVER, FREE_MARK, FULL_CLASS_PROMOTE, GROWTH_LADDER_HALF_STEPS,
    HEADERLESS, KNOWN_ZERO, LARGE_MOVE, LOCKED_COARSE_CLASSES, MAX_SMALL_SIZE, MEDIUM,
    MEDIUM_CLEAR_RESIDENT, MIN_ALIGN, OWNED_TABLE, PROFILE, PROF_FLAT_SAMPLE, PROF_FREE_SIDE,
    PROF_LEAN_MISS, PROF_MISS_HERE, PROF_POP_COUNTDOWN, PROF_REALLOC_IN_PLACE, PROF_SWAP_FIRST,
    PROF_SWAP_MISS, REALLOC_INLINE_COPY, REALLOC_OWNED_MOVE, REALLOC_OWNED_MOVE_HEADER,
    REALLOC_SHARED_CLASS, SLAB_SIZE, SMALL_ZERO_INLINE, SMALL_ZERO_INLINE_MAX,
};
use crate::front::free;
use crate::front::heap::{Heap, HeapKind, HeapLocal};
use crate::front::medium;
use crate::front::owned::{Entry, OwnedSlabs};
use crate::front::profiling;
use crate::front::small;
use crate::front::thread;
use crate::front::tls_sll::TlsList;
use crate::large;
use crate::locate::{self, Region};
use crate::os;
use crate::prof;
use crate::size_class::{
    class_for, class_of_coarse, class_size, locked_class, medium_align_ok, medium_class_of,
    FINE_MAX, NUM_CLASSES,
};
use crate::slab::block::{Block, BlockPtr};
use crate::slab::header;
use crate::slab::slab::Slab;
use crate::span::SpanHeader;
use crate::valgrind;

/// Allocates `size` bytes aligned to `align` (a power of two). Null when memory cannot be had.
///
/// Fast path (headerless, alignment ≤ 16, 1 B – `MAX_SMALL_SIZE`): class, TLS load, pop — it
/// should compile to a decrement, a compare and a shift for the class (up to 1 KiB), one TLS
/// load, two loads, a compare, three stores (list head, room, the freed mark) and the counter.
/// Header mode: the same, for `size + 16` (the header of alignment ≤ 16), and the header written
/// (`finish_header`). Size 0 (headerless), alignment above 16 and large sizes take
/// `alloc_general`.
#[inline(always)]
pub fn alloc(size: usize, align: usize) -> *mut u8 {
    alloc_in::<false>(size, align)
}

/// `alloc` at the minimum alignment that also sets `errno` to `ENOMEM` when it returns null:
/// C's `malloc` (the preload library). The `errno` write sits in the out-of-line paths, so the
/// caller needs no test after the call and the fast path no stack frame.
#[inline(always)]
pub fn malloc_errno(size: usize) -> *mut u8 {
    alloc_in::<true>(size, MIN_ALIGN)
}

#[inline(always)]
fn alloc_in<const ERRNO: bool>(size: usize, align: usize) -> *mut u8 {
    if HEADERLESS && align <= MIN_ALIGN {
        let s1 = size.wrapping_sub(1);
        // Two copies of the pop, so the 16-byte steps run straight through.
        if s1 < FINE_MAX {
            // `s1 & !15 == (s1 / 16) * 16`: the class times the 16-byte stride.
            return alloc_fast::<ERRNO, false>(s1 & !(MIN_ALIGN - 1), size);
        }
        if s1 < MAX_SMALL_SIZE {
            return alloc_fast::<ERRNO, false>(class_of_coarse(size) * CLASS_STRIDE, size);
        }
    }
    if !HEADERLESS && align <= MIN_ALIGN {
        // The block holds the 16-byte header and `size` bytes: `size + 16 - 1 = s1 + 16`. One
        // compare of `s1 = size - 1` (wrapping) bounds the size on both sides: size 0 (whose
        // block must still hold a byte, so that the user pointer lies inside it) and sizes past
        // the small classes take `alloc_general`.
        let s1 = size.wrapping_sub(1);
        if s1 < FINE_MAX - header::HEADER_SIZE {
            return alloc_fast::<ERRNO, false>((s1 + header::HEADER_SIZE) & !(MIN_ALIGN - 1), size);
        }
        if s1 < MAX_SMALL_SIZE - header::HEADER_SIZE {
            return alloc_fast::<ERRNO, false>(
                class_of_coarse(size + header::HEADER_SIZE) * CLASS_STRIDE,
                size,
            );
        }
    }
    if ERRNO {
        return alloc_general_errno(size, align);
    }
    alloc_general(size, align)
}

/// Bytes between consecutive classes' TLS lists (and their fast-path counters).
const CLASS_STRIDE: usize = core::mem::size_of::<TlsList>();
const _: () = assert!(CLASS_STRIDE == MIN_ALIGN);
const _: () = assert!(CLASS_STRIDE == header::HEADER_SIZE);

/// The pop of the fast path, for the class whose TLS list and counters sit `off` bytes into
/// their arrays (`off = class * CLASS_STRIDE`): one scaled offset serves both, so the compiler
/// keeps one register for the class. `size` is only read when the pop misses on a profiled heap
/// (src/front/profiling.rs). With `ZERO` (`alloc_zeroed` of at most `SMALL_ZERO_INLINE_MAX`
/// bytes, `config::SMALL_ZERO_INLINE`) the block's first `size` bytes are cleared before it is
/// returned, and every other exit is a tail call of a zeroing wrapper, so this path keeps no
/// stack frame either.
#[inline(always)]
fn alloc_fast<const ERRNO: bool, const ZERO: bool>(off: usize, size: usize) -> *mut u8 {
    let h = thread::current();
    let c = off / CLASS_STRIDE;
    // SAFETY: `off` addresses the TLS list of class `c` of the calling thread's heap (a
    // sentinel's lists are always empty, so a pop there only reads and never reaches the
    // counters), and its counters; both arrays have a class's stride. A pop that found a block
    // is on the calling thread's own live heap, whose countdown only this thread touches
    // (`Counter::count_down`).
    unsafe {
        let t = h.tls(0).byte_add(off);
        if PROF_POP_COUNTDOWN {
            if let Some(b) = NonNull::new((*t).head) {
                // The class countdown, between the head's load and the pop: negative at the
                // sampled request of a profiled heap (src/front/profiling.rs); an unprofiled
                // heap's never gets there in practice. Before the pop, so that the trap takes
                // the list as it is and the block stays free to sit in the return register.
                if (*TlsList::counters(t)).alloc_fast.count_down() {
                    if ZERO {
                        return pop_trap_zeroed(h, size, off);
                    }
                    return pop_trap(h, size, off);
                }
                TlsList::take(t, b);
                return cleared_if::<ZERO>(
                    finish_header_at(hand_out(b, c), off),
                    zero_len::<ZERO>(off, size),
                );
            }
        } else {
            let b = TlsList::pop(t);
            if let Some(b) = NonNull::new(b) {
                (*TlsList::counters(t)).alloc_fast.bump();
                return cleared_if::<ZERO>(
                    finish_header_at(hand_out(b, c), off),
                    zero_len::<ZERO>(off, size),
                );
            }
        }
    }
    if ZERO {
        // SAFETY: `off` addresses the TLS list of class `c` (see above).
        return unsafe { alloc_miss_zeroed(h, size, off) };
    }
    // Tail calls, so the fast path keeps no stack frame. They take `off`, not `c`: the register
    // holding the list's offset is then the only one the class needs (no copy kept for a shift).
    if PROFILE {
        if ERRNO {
            // SAFETY: `off` addresses the TLS list of class `c` (see above).
            return unsafe { alloc_miss_errno(h, size, off) };
        }
        // SAFETY: as above.
        return unsafe { alloc_miss(h, size, off) };
    }
    if ERRNO {
        return alloc_slow_errno(h, off);
    }
    alloc_slow_user(h, off)
}

/// `alloc_fast` found a block at the head of the TLS list of class `off / CLASS_STRIDE` and the
/// class countdown went negative (`config::PROF_POP_COUNTDOWN`): this trap pops the block `b`;
/// on a profiled heap this request is the sampled one — served by the prof box, `b` going back
/// on the list, and the countdown redrawn (src/front/profiling.rs); otherwise (an unprofiled
/// heap's countdown ran out, or the switch changed) the heap follows the switch and `b` is
/// handed out. Never null: `b` is there.
///
/// The fast path leaves the pop to the trap (it counts down between the head's load and the
/// pop) so that the block is not an argument: passed as one, it sat in the argument's register
/// and the fast path paid a copy to the return register, one more instruction a pop; and the
/// arguments come in `alloc_miss`'s order (the heap, the size, the offset): with `size` first
/// the register allocator copied `size` aside on the fast path itself (docs/benchmarks.md
/// "Session 24: pop24").
///
/// # Safety
/// The calling thread's heap is live and its TLS list of that class is not empty.
#[cold]
#[inline(never)]
unsafe extern "C" fn pop_trap(h: &'static Heap, size: usize, off: usize) -> *mut u8 {
    let c = off / CLASS_STRIDE;
    // SAFETY: per the contract, the list of class `c` of the calling thread's live heap, which
    // is not empty (`alloc_fast` found its head): the pop the fast path left to this trap.
    let b = unsafe {
        let t = h.tls(0).byte_add(off);
        let b = NonNull::new_unchecked((*t).head);
        TlsList::take(t, b);
        b
    };
    // SAFETY: per the contract.
    if let Some(p) = unsafe { profiling::trap(h, b, c, size) } {
        return p;
    }
    finish_header_at(hand_out(b, c), off)
}

/// The bytes `alloc_fast::<_, true>` clears in a block popped from the TLS list of class
/// `off / CLASS_STRIDE` for a request of `size` bytes: with `CALLOC_CLEARS_USABLE` the class size
/// (`off + 16`, the block's usable size: the zeroed fast path is headerless and a popped block is
/// never a sampled one), else the request. Without `ZERO` (not cleared) the request.
#[inline(always)]
fn zero_len<const ZERO: bool>(off: usize, size: usize) -> usize {
    if ZERO && CALLOC_CLEARS_USABLE {
        debug_assert!(HEADERLESS && class_size(off / CLASS_STRIDE) == off + CLASS_STRIDE);
        off + CLASS_STRIDE
    } else {
        size
    }
}

/// Clears a block `alloc_zeroed` just got from a slow path for a request of `size` bytes at
/// alignment `align`: its whole usable size with `CALLOC_CLEARS_USABLE`, else the request; null
/// passes through. A fine-class request at alignment <= 16 (`size <= FINE_MAX`, less the header
/// in header mode) has `size` rounded up to 16 usable bytes whether its block is a class block
/// (the class size, less the header) or a sampled one (`prof::usable_of`), so no lookup is
/// needed; anything else asks `usable_size` (a registry lookup: coarse classes, over-aligned and
/// medium requests cleared here). Rounding up to 16 never exceeds a block's usable size, so a
/// block served another way (a locked coarse class) is at worst cleared short, never past its end.
///
/// # Safety
/// `p` is null or a live block of this allocator of at least `size` bytes, just handed out.
#[inline(always)]
unsafe fn clear_fresh(p: *mut u8, size: usize, align: usize) -> *mut u8 {
    if p.is_null() {
        return p;
    }
    let fine = if HEADERLESS {
        FINE_MAX
    } else {
        FINE_MAX - header::HEADER_SIZE
    };
    let n = if !CALLOC_CLEARS_USABLE {
        size
    } else if align <= MIN_ALIGN && size <= fine {
        size.next_multiple_of(MIN_ALIGN)
    } else {
        // SAFETY: `p` is a live block (the contract).
        unsafe { usable_size(p) }
    };
    if SMALL_ZERO_INLINE && n <= SMALL_ZERO_INLINE_MAX {
        // SAFETY: `p` is a fresh block of at least `n <= SMALL_ZERO_INLINE_MAX` usable bytes.
        unsafe { zero_small(p, n) };
    } else {
        // SAFETY: `p` is a fresh block of at least `n` usable bytes.
        unsafe { core::ptr::write_bytes(p, 0, n) };
    }
    p
}

/// A block just popped with its first `len` bytes cleared when `ZERO` (`alloc_fast`'s zeroed
/// requests, `len = zero_len::<true>(off, size) <= SMALL_ZERO_INLINE_MAX`), else as it is.
#[inline(always)]
fn cleared_if<const ZERO: bool>(p: *mut u8, size: usize) -> *mut u8 {
    if ZERO {
        // SAFETY: `p` is a block just popped from the class whose size `zero_len` gives, for a
        // request `alloc_zeroed` sends here only when it is at most `SMALL_ZERO_INLINE_MAX`.
        unsafe { zero_small(p, size) };
    }
    p
}

/// `pop_trap` for a zeroed request (`alloc_fast::<_, true>`): the block it hands out, cleared.
///
/// # Safety
/// As for `pop_trap`; `size <= SMALL_ZERO_INLINE_MAX`.
#[cold]
#[inline(never)]
unsafe extern "C" fn pop_trap_zeroed(h: &'static Heap, size: usize, off: usize) -> *mut u8 {
    // SAFETY: per the contract; `pop_trap` hands out a live block of at least `size` bytes.
    unsafe { clear_fresh(pop_trap(h, size, off), size, MIN_ALIGN) }
}

/// The miss of `alloc_fast` for a zeroed request (`alloc_fast::<_, true>`): the block the slow
/// path (`alloc_miss` when profiling, else `alloc_slow_user`) hands out, cleared, or null.
///
/// # Safety
/// As for `alloc_miss`; `size <= SMALL_ZERO_INLINE_MAX`.
#[cold]
#[inline(never)]
unsafe extern "C" fn alloc_miss_zeroed(h: &'static Heap, size: usize, off: usize) -> *mut u8 {
    let p = if PROFILE {
        // SAFETY: per the contract.
        unsafe { alloc_miss(h, size, off) }
    } else {
        alloc_slow_user(h, off)
    };
    // SAFETY: the slow path hands out null or a live block of at least `size` bytes.
    unsafe { clear_fresh(p, size, MIN_ALIGN) }
}

/// Header mode: writes the header of a block of class `c` handed out for alignment ≤ 16 and
/// returns the user pointer (16 bytes in). Headerless: the block itself.
#[inline(always)]
fn finish_header(block: *mut u8, c: usize) -> *mut u8 {
    finish_header_at(block, c * CLASS_STRIDE)
}

/// `finish_header` for the class whose lists sit `off = c * CLASS_STRIDE` bytes into their
/// arrays: the header table has the same stride, so the fast path's offset register serves it.
#[inline(always)]
fn finish_header_at(block: *mut u8, off: usize) -> *mut u8 {
    if HEADERLESS {
        return block;
    }
    let user = block.wrapping_add(header::HEADER_SIZE);
    // valgrind: as in `alloc_general`.
    valgrind::make_defined(block, header::HEADER_SIZE);
    // SAFETY: the block is ours, just handed out, and at least 16 bytes; `off` is a small class
    // times `CLASS_STRIDE`, which is the header's size.
    unsafe { header::write_fast(user, off) };
    valgrind::malloclike(
        user,
        class_size(off / CLASS_STRIDE) - header::HEADER_SIZE,
        false,
    );
    user
}

/// `alloc_slow` for the fast path (the class's lists `off = c * CLASS_STRIDE` bytes in): the user
/// pointer (header written in header mode), or null.
#[cold]
#[inline(never)]
extern "C" fn alloc_slow_user(h: &'static Heap, off: usize) -> *mut u8 {
    let (b, c) = alloc_slow_class(h, off / CLASS_STRIDE, MIN_ALIGN);
    if b.is_null() {
        return b;
    }
    finish_header(b, c)
}

/// `alloc_slow` for class `c` at alignment `align`, with its fallbacks when it finds no block: a
/// coarser class while memory is locked (`config::LOCKED_COARSE_CLASSES`: `small::refill` binds
/// no new slab to a class that is not coarse then), and a larger class when the OS refuses
/// (`config::FULL_CLASS_PROMOTE`). Returns the block handed out (or null) and the class that
/// served it, whose header (header mode) the caller writes.
///
/// Headerless, `alloc_slow` itself takes the fallbacks (the caller needs no class, and `c` is live
/// there anyway: kept across the call here, it cost the fast path's slow refills a saved register,
/// +0.4 instructions per remote pair in scripts/fastpath-instructions.sh).
#[inline(always)]
fn alloc_slow_class(h: &'static Heap, c: usize, align: usize) -> (*mut u8, usize) {
    let b = alloc_slow(h, c);
    if !HEADERLESS && (LOCKED_COARSE_CLASSES || FULL_CLASS_PROMOTE) && b.is_null() {
        if let Some(served) = alloc_elsewhere(c, align) {
            return served;
        }
    }
    (b, c)
}

/// `alloc_slow_class`'s fallbacks, in order: the coarse class of `c` while memory is locked
/// (`locked_class`, which keeps `align`: see there), then a larger class. `None` if neither has a
/// block.
#[cold]
#[inline(never)]
fn alloc_elsewhere(c: usize, align: usize) -> Option<(*mut u8, usize)> {
    // The failed refill may have made the thread's heap (`HeapKind::Empty` before it).
    let h = thread::current();
    if LOCKED_COARSE_CLASSES && os::memory_locked() {
        let k = locked_class(c);
        debug_assert!(class_size(k) % align == 0);
        if k != c {
            if let Some(b) = pop_class(h, k) {
                return Some((b, k));
            }
            if let Some(b) = NonNull::new(refill_any(h, k)) {
                return Some((hand_out(b, k), k));
            }
        }
    }
    if FULL_CLASS_PROMOTE {
        return alloc_promoted(h, c, align);
    }
    None
}

/// A block of class `k` from the calling thread's live heap's list, handed out; `None` if the
/// list is empty or the heap is not live.
#[inline]
fn pop_class(h: &'static Heap, k: usize) -> Option<*mut u8> {
    if h.kind != HeapKind::Live {
        return None;
    }
    // SAFETY: as in `alloc`: the calling thread's own live heap's list of class `k`.
    let b = NonNull::new(unsafe { TlsList::pop(h.tls(k)) })?;
    h.counters.count_pop(k);
    if PROF_FREE_SIDE {
        // SAFETY: as in `alloc_general`'s pop.
        unsafe { h.local_mut() }.credit(k, 1);
    }
    Some(hand_out(b, k))
}

/// `config::FULL_CLASS_PROMOTE`: no block of class `c` could be had (the OS refused a new
/// SuperSlab), so one of a larger class of at most twice the size, aligned to `align`, serves the
/// request: first from the calling thread's lists, then by a refill (which takes the class's
/// current and partial slabs, and a new one only where one can be had). Returns the block handed
/// out (`hand_out`) and its class; `None` when no class has one.
fn alloc_promoted(h: &'static Heap, c: usize, align: usize) -> Option<(*mut u8, usize)> {
    let max = 2 * class_size(c);
    let candidates = || {
        (c + 1..NUM_CLASSES)
            .take_while(move |&k| class_size(k) <= max)
            .filter(move |&k| class_size(k) % align == 0)
    };
    for k in candidates() {
        if let Some(b) = pop_class(h, k) {
            return Some((b, k));
        }
    }
    for k in candidates() {
        // The lists of these classes are empty (a live heap's: `refill`'s contract), and
        // `refill_any` pops the fallback heap's first.
        if let Some(b) = NonNull::new(refill_any(h, k)) {
            return Some((hand_out(b, k), k));
        }
    }
    None
}

/// `p`, after setting `errno` to `ENOMEM` if it is null.
#[inline]
fn enomem_if_null(p: *mut u8) -> *mut u8 {
    if p.is_null() {
        // SAFETY: the calling thread's errno slot (initial-exec TLS in libc; never allocates).
        unsafe { *libc::__errno_location() = libc::ENOMEM };
    }
    p
}

#[cold]
#[inline(never)]
extern "C" fn alloc_slow_errno(h: &'static Heap, off: usize) -> *mut u8 {
    enomem_if_null(alloc_slow_user(h, off))
}

#[inline(never)]
extern "C" fn alloc_general_errno(size: usize, align: usize) -> *mut u8 {
    enomem_if_null(alloc_general(size, align))
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

/// Aligned, header-mode, medium and large requests.
#[inline(never)]
extern "C" fn alloc_general(size: usize, align: usize) -> *mut u8 {
    if PROFILE && thread::current().kind == HeapKind::Empty {
        // The environment (`HAKMEM_PROF=1`) is read when the thread's heap is created; a program
        // whose first requests are large would otherwise not be profiled until its first small
        // one.
        let _ = thread::init_current();
    }
    if PROFILE && prof::is_on() {
        if let Some(p) = sample(size, align, false) {
            return p;
        }
    }
    let unit = if HEADERLESS {
        0
    } else {
        header::header_unit(align)
    };
    // A request of 0 bytes gets a block of at least 1 byte: in header mode the user pointer must
    // lie inside the block (`need = 0 + unit` would put it at the block's end, on the next block).
    let Some(need) = size.max(1).checked_add(unit) else {
        return core::ptr::null_mut();
    };
    let Some(mut c) = class_for(need, align.max(MIN_ALIGN)) else {
        return alloc_beyond_small(size, align);
    };
    let h = thread::current();
    // SAFETY: as in `alloc`.
    let b = unsafe { TlsList::pop(h.tls(c)) };
    let block = match NonNull::new(b) {
        Some(b) => {
            h.counters.count_pop(c);
            if PROF_FREE_SIDE {
                // A block popped from a live heap's list (a sentinel's are empty), counted by the
                // byte countdown above, not by the class countdown that debited it.
                // SAFETY: the calling thread's own live heap; no other reference to its local
                // state is alive.
                unsafe { h.local_mut() }.credit(c, 1);
            }
            hand_out(b, c)
        }
        None => {
            let (b, k) = alloc_slow_class(h, c, align.max(MIN_ALIGN));
            c = k;
            b
        }
    };
    if block.is_null() {
        return block;
    }
    let user = block.wrapping_add(unit);
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

/// The medium class serving a request no small class serves (medium blocks carry no header), if
/// the tier is built in and the alignment fits.
#[inline]
fn medium_class_for(size: usize, align: usize) -> Option<usize> {
    medium_class_in_line(size, align)
}

/// `medium_class_for`, always in line (the sampled path's, `config::PROF_FLAT_SAMPLE`).
#[inline(always)]
fn medium_class_in_line(size: usize, align: usize) -> Option<usize> {
    if !MEDIUM {
        return None;
    }
    let c = medium_class_of(size.max(MAX_SMALL_SIZE + 1))?;
    medium_align_ok(c, align).then_some(c)
}

/// Requests no small class serves: a medium block when one fits, else a large mapping.
#[inline]
fn alloc_beyond_small(size: usize, align: usize) -> *mut u8 {
    match medium_class_for(size, align) {
        Some(c) => alloc_medium(c),
        None => alloc_large(size, align, false),
    }
}

/// A large block (`large::alloc`, or `large::alloc_zeroed` with `zero`); a forked child's first
/// one takes over the parent's other threads' heaps first (`thread::takeover_due`: two loads).
#[inline]
fn alloc_large(size: usize, align: usize, zero: bool) -> *mut u8 {
    if thread::takeover_due() {
        thread::take_over_for_large();
    }
    if zero {
        large::alloc_zeroed(size, align)
    } else {
        large::alloc(size, align)
    }
}

/// A block of medium class `c`, after creating the thread's heap if needed. Null when memory
/// cannot be had. While memory is locked (`config::LOCKED_MEMORY`), a large block instead.
#[inline(never)]
fn alloc_medium(c: usize) -> *mut u8 {
    if crate::os::memory_locked() {
        return alloc_medium_as_large(class_size(c), false);
    }
    let p = alloc_medium_in_spans(c);
    if p.is_null() && crate::os::memory_locked() {
        // `span::map` found the memory locked (a fresh span came resident) and gave it back.
        return alloc_medium_as_large(class_size(c), false);
    }
    p
}

/// A medium request served by the large tier because memory is locked (`config::LOCKED_MEMORY`):
/// under `mlockall(MCL_FUTURE)` a span would be resident whole and never given back, while a
/// large block's mapping holds its own pages and is unmapped beyond the cache's bound. Page
/// alignment covers every alignment a medium class serves (`medium_align_ok`).
#[cold]
#[inline(never)]
fn alloc_medium_as_large(size: usize, zero: bool) -> *mut u8 {
    alloc_large(size, crate::config::PAGE_SIZE, zero)
}

/// `alloc_medium` from the thread's spans.
#[inline(always)]
fn alloc_medium_in_spans(c: usize) -> *mut u8 {
    let h = thread::current();
    // SAFETY (all arms): each heap passed on is the calling thread's own live heap, or the
    // fallback heap under its lock.
    match h.kind {
        // SAFETY: see above.
        HeapKind::Live => unsafe { medium::alloc(h, c, thread::take_over_if_forked_from) },
        HeapKind::Empty => match thread::init_current() {
            // SAFETY: see above.
            Some(h) => unsafe { medium::alloc(h, c, thread::take_over_if_forked_from) },
            None => core::ptr::null_mut(),
        },
        // SAFETY: see above.
        HeapKind::Dead => thread::with_fallback(|fh| unsafe { medium::alloc(fh, c, |_| {}) })
            .unwrap_or(core::ptr::null_mut()),
    }
}

/// `alloc_medium` for `alloc_zeroed`: a zero-filled block of medium class `c` holding `size`
/// bytes (`medium::alloc_zeroed`).
#[inline(never)]
fn alloc_medium_zeroed(c: usize, size: usize) -> *mut u8 {
    if crate::os::memory_locked() {
        return alloc_medium_as_large(size, true);
    }
    let p = alloc_medium_zeroed_in_spans(c, size);
    if p.is_null() && crate::os::memory_locked() {
        // As in `alloc_medium`.
        return alloc_medium_as_large(size, true);
    }
    p
}

/// `alloc_medium_zeroed` from the thread's spans.
#[inline(always)]
fn alloc_medium_zeroed_in_spans(c: usize, size: usize) -> *mut u8 {
    let h = thread::current();
    // SAFETY (all arms): each heap passed on is the calling thread's own live heap, or the
    // fallback heap under its lock.
    match h.kind {
        // SAFETY: see above.
        HeapKind::Live => unsafe {
            medium::alloc_zeroed(h, c, size, thread::take_over_if_forked_from)
        },
        HeapKind::Empty => match thread::init_current() {
            // SAFETY: see above.
            Some(h) => unsafe {
                medium::alloc_zeroed(h, c, size, thread::take_over_if_forked_from)
            },
            None => core::ptr::null_mut(),
        },
        HeapKind::Dead => {
            // SAFETY: see above.
            thread::with_fallback(|fh| unsafe { medium::alloc_zeroed(fh, c, size, |_| {}) })
                .unwrap_or(core::ptr::null_mut())
        }
    }
}

/// Profiling: counts a request against the calling thread's countdown; a sampled request is
/// served by the `prof` box (`None`: not sampled, or no memory for a sampled block — served
/// normally). src/front/profiling.rs says how requests get here.
#[inline]
fn sample(size: usize, align: usize, zero: bool) -> Option<*mut u8> {
    let h = thread::current();
    // Sentinel heaps are shared and never written: their threads go uncounted for a moment.
    if h.kind != HeapKind::Live {
        return None;
    }
    // SAFETY: the calling thread's own live heap; no other reference to its local state is alive.
    if !unsafe { h.local_mut() }.sampler.take(size) {
        return None;
    }
    // A slot of the profiler's arenas, a medium block marked in its span, or a large block
    // tagged with the sample. (SAFETY, the two `last_stack` arms: the reference lives through a
    // call of the prof box or the large box, neither of which reaches the heap.)
    let p = if size <= prof::SLOT_SIZE && align <= prof::SLOT_SIZE {
        // SAFETY: see above.
        prof::alloc_sampled(
            size,
            align,
            zero,
            unsafe { h.local_mut() }.sampler.last_stack(),
            h.prof_shard,
        )
    } else if let Some(c) = if PROF_FLAT_SAMPLE {
        medium_class_in_line(size.saturating_add(medium::SAMPLE_EXTRA), align)
    } else {
        medium_class_for(size.saturating_add(medium::SAMPLE_EXTRA), align)
    } {
        alloc_medium_sampled(h, c, size, zero)
    } else {
        // SAFETY: see above.
        large::alloc_sampled(
            size,
            align,
            zero,
            unsafe { h.local_mut() }.sampler.last_stack(),
            h.prof_shard,
        )
    };
    (!p.is_null()).then_some(p)
}

/// A sampled medium request: a block of class `c` (room for the request, and for the profile
/// box's record where `medium::SAMPLE_EXTRA` says it goes in the tail) like any other, marked in
/// its span with the record in its slot (unsampled if the profile's table cannot be mapped).
///
/// `h` is the calling thread's own live heap.
#[cold]
#[inline(never)]
fn alloc_medium_sampled(h: &Heap, c: usize, size: usize, zero: bool) -> *mut u8 {
    // SAFETY: per the contract (`sample` checked the heap is live).
    let Some((p, span)) =
        (unsafe { medium::alloc_with_span(h, c, thread::take_over_if_forked_from) })
    else {
        return core::ptr::null_mut();
    };
    // SAFETY: a block of class `c` in `span` just taken for this request (`c` holds it and
    // `SAMPLE_EXTRA`), not yet handed out; the reference ends with the call.
    let rec = unsafe { medium::record_of_new(span, p, c) };
    // SAFETY: per the contract; the reference lives through `begin_medium_sample_into`, which
    // does not reach the heap.
    let local = unsafe { h.local_mut() };
    let (last, buf) = (local.sampler.last_stack(), &mut local.prof_frames);
    if prof::begin_medium_sample_into(size, rec, last, buf, h.prof_shard) {
        medium::mark_sampled(span, p, c);
    }
    if zero {
        // SAFETY: a fresh block of at least `size` bytes.
        unsafe { core::ptr::write_bytes(p, 0, size) };
    }
    p
}

/// A small request whose pop missed (`profile` builds): a profiled heap's usual miss is served
/// here (`miss_here`), any other profiled miss by `alloc_miss_profiled`, an unprofiled one by
/// `alloc_slow`; `errno` set to `ENOMEM` on null (C).
///
/// # Safety
/// `off` is the offset of a class's TLS list (`alloc_fast`: a multiple of `CLASS_STRIDE`, below
/// `NUM_CLASSES * CLASS_STRIDE`); `miss_here` relies on it.
#[cold]
#[inline(never)]
unsafe extern "C" fn alloc_miss_errno(h: &'static Heap, size: usize, off: usize) -> *mut u8 {
    // SAFETY: per the contract.
    match unsafe { miss_here(h, off) } {
        Miss::Served(p) => p,
        Miss::Profiled => enomem_if_null(alloc_miss_profiled(h, size, off)),
        Miss::Plain => alloc_slow_errno(h, off),
    }
}

/// See `alloc_miss_errno`.
///
/// # Safety
/// As for `alloc_miss_errno`.
#[cold]
#[inline(never)]
unsafe extern "C" fn alloc_miss(h: &'static Heap, size: usize, off: usize) -> *mut u8 {
    // SAFETY: per the contract.
    match unsafe { miss_here(h, off) } {
        Miss::Served(p) => p,
        Miss::Profiled => alloc_miss_profiled(h, size, off),
        Miss::Plain => alloc_slow_user(h, off),
    }
}

/// Where a miss goes (`miss_here`).
enum Miss {
    /// The block handed out: a profiled heap's usual miss, done.
    Served(*mut u8),
    /// The heap is profiled, or is to be (the switch changed): `alloc_miss_profiled`.
    Profiled,
    /// Neither, or not a live heap: `alloc_slow`.
    Plain,
}

/// The first step of a miss, with no call on its paths, so the miss function saves no register
/// for them (`config::PROF_MISS_HERE`): a profiled heap whose switch is still on serves its
/// usual miss here (`profiling::swap_miss`: the free side becomes the TLS list), and a heap that
/// neither is nor is to be profiled goes straight to `alloc_slow`; every other miss — the
/// sampling decision, a refill, a heap following the switch — continues in
/// `alloc_miss_profiled`. With the backout every live heap's miss does (as before).
///
/// With `config::PROF_LEAN_MISS` it asks neither the heap's kind nor the class's bounds: a
/// sentinel heap's `profiled` is false and only read (as `Heap::free_list` relies on), so a
/// sentinel goes `Plain` while the switch is off and `Profiled` while it is on, whose callees
/// test the kind themselves (`alloc_slow`, `alloc_miss_profiled`); and `off` is a fast path's
/// class offset (`alloc_fast`), in bounds by its contract (−6 instructions a profiled swap).
///
/// With `config::PROF_SWAP_FIRST`, while the switch is on it reads the free side's length before
/// (and instead of) the heap's `profiled` flag: only a profiled heap's free side holds blocks, so
/// a non-empty one is swapped at once and an empty one continues in `alloc_miss_profiled`
/// (−5 instructions a profiled swap).
///
/// # Safety
/// As for `alloc_miss_errno`.
#[inline(always)]
unsafe fn miss_here(h: &'static Heap, off: usize) -> Miss {
    if PROF_POP_COUNTDOWN {
        // No free side: a profiled miss counts down (`alloc_miss_profiled`) and refills as any.
        // SAFETY: the calling thread's heap, or a sentinel (whose flag is false and only read).
        let profiled = unsafe { (*h.local_ptr()).profiled };
        if !prof::is_on() && !profiled {
            return Miss::Plain;
        }
        return Miss::Profiled;
    }
    if !PROF_LEAN_MISS && h.kind != HeapKind::Live {
        return Miss::Plain;
    }
    if !PROF_MISS_HERE {
        if PROF_LEAN_MISS && h.kind != HeapKind::Live {
            return Miss::Plain;
        }
        return Miss::Profiled;
    }
    let on = prof::is_on();
    if PROF_SWAP_FIRST && PROF_SWAP_MISS && on {
        let c = off / CLASS_STRIDE;
        // SAFETY: `off` is the offset of a class's TLS list (the contract): a multiple of the
        // stride, and `c` a class.
        unsafe { core::hint::assert_unchecked(off % CLASS_STRIDE == 0 && c < NUM_CLASSES) };
        // SAFETY: the calling thread's heap, or a sentinel (whose free side is empty and only
        // read); no reference to its local state is alive.
        let n = unsafe { (*h.local_ptr()).freed[c].len() };
        if n == 0 {
            // Unprofiled (the switch just turned on), a sentinel, or a profiled heap whose free
            // side is empty: `alloc_miss_profiled` tells them apart.
            return Miss::Profiled;
        }
        debug_assert!(
            // SAFETY: as above.
            unsafe { (*h.local_ptr()).profiled },
            "only a profiled heap's free side holds blocks"
        );
        // SAFETY: a free side holds blocks only while its heap is profiled (`profiling::enter`
        // finds it empty, `leave` empties it), so this is the calling thread's live, profiled
        // heap, which stays so (only its own thread switches it); its list of class `c` is
        // empty (the pop missed).
        if let Some(b) = NonNull::new(unsafe { profiling::swap_miss(h, c) }) {
            h.counters.alloc_slow[c].bump();
            return Miss::Served(finish_header(hand_out(b, c), c));
        }
        return Miss::Profiled;
    }
    // SAFETY: the calling thread's heap, or a sentinel (whose flag is false and only read); no
    // reference to its local state is alive.
    let profiled = unsafe { (*h.local_ptr()).profiled };
    debug_assert!(
        !profiled || h.kind == HeapKind::Live,
        "a sentinel heap is never profiled"
    );
    if !on && !profiled {
        return Miss::Plain;
    }
    if PROF_SWAP_MISS && on && profiled {
        let c = off / CLASS_STRIDE;
        if PROF_LEAN_MISS {
            // SAFETY: `off` is the offset of a class's TLS list (the contract): a multiple of
            // the stride, and `c` a class.
            unsafe { core::hint::assert_unchecked(off % CLASS_STRIDE == 0 && c < NUM_CLASSES) };
        }
        // SAFETY: as above; the heap is profiled and stays so (only its own thread switches
        // it: `profiling::sync`, which has nothing to do while the switch is on), and its list
        // of class `c` is empty (the pop missed).
        if let Some(b) = NonNull::new(unsafe { profiling::swap_miss(h, c) }) {
            h.counters.alloc_slow[c].bump();
            return Miss::Served(finish_header(hand_out(b, c), c));
        }
    }
    Miss::Profiled
}

/// A miss of a profiled heap that `miss_here` did not serve, or of a heap the switch changed: the
/// heap follows the switch (`profiling::sync`); if profiled, its class countdown decides whether
/// the request is sampled (src/front/profiling.rs), then its refill serves it; else `alloc_slow`.
#[cold]
#[inline(never)]
extern "C" fn alloc_miss_profiled(h: &'static Heap, size: usize, off: usize) -> *mut u8 {
    let c = off / CLASS_STRIDE;
    // The profiler's list moves and refills change the heap's state (`Heap::busy`).
    let _busy = h.busy();
    // SAFETY: the calling thread's own live heap; no reference to its local state is alive.
    if h.kind == HeapKind::Live && unsafe { profiling::sync(h) } {
        if PROF_POP_COUNTDOWN {
            // The pop missed: this request still counts down (src/front/profiling.rs).
            // SAFETY: the calling thread's own heap's countdown.
            if unsafe { h.counters.count_down_miss(c) } {
                // SAFETY: as above; the heap is profiled.
                let draw = unsafe { profiling::redraw(h, c) };
                // SAFETY: as above.
                unsafe { h.counters.reset_countdown(c, draw, 0) };
                // SAFETY: as above.
                let p = unsafe { profiling::sample_class(h, c, size) };
                if !p.is_null() {
                    return p;
                }
            }
            drop(_busy);
            return alloc_slow_user(h, off);
        }
        if PROF_SWAP_MISS && !PROF_MISS_HERE {
            // SAFETY: as above; the heap is profiled and its list of class `c` empty.
            if let Some(b) = NonNull::new(unsafe { profiling::swap_miss(h, c) }) {
                h.counters.alloc_slow[c].bump();
                return finish_header(hand_out(b, c), c);
            }
        }
        // SAFETY: as above; the heap is profiled.
        if unsafe { profiling::countdown(h, c) } {
            // SAFETY: as above.
            let p = unsafe { profiling::sample_class(h, c, size) };
            if !p.is_null() {
                return p;
            }
        }
        // `alloc_slow`'s work for a profiled live heap, without its layers: a profiled heap
        // misses a few times as often (its list runs dry while the blocks freed meanwhile wait
        // on the free side). A forked child's first profiled refill takes over, as `refill_own`.
        thread::take_over_if_forked_from(h);
        // SAFETY: as above.
        return match NonNull::new(unsafe { profiling::refill(h, c) }) {
            Some(b) => {
                h.counters.alloc_slow[c].bump();
                finish_header(hand_out(b, c), c)
            }
            None => core::ptr::null_mut(),
        };
    }
    alloc_slow_user(h, off)
}

/// Refill, after creating the thread's heap if needed; returns the block handed out (`hand_out`),
/// or null when memory cannot be had (headerless: after `alloc_elsewhere`'s fallbacks).
#[cold]
#[inline(never)]
extern "C" fn alloc_slow(h: &'static Heap, c: usize) -> *mut u8 {
    match NonNull::new(refill_any(h, c)) {
        Some(b) => hand_out(b, c),
        // Headerless: `alloc_slow_class`'s fallbacks, at the alignment class `c` has (whatever
        // the request asked, `c`'s size is a multiple of it).
        None if HEADERLESS && (LOCKED_COARSE_CLASSES || FULL_CLASS_PROMOTE) => {
            let align = 1 << class_size(c).trailing_zeros();
            alloc_elsewhere(c, align).map_or(core::ptr::null_mut(), |(b, _)| b)
        }
        None => core::ptr::null_mut(),
    }
}

/// The refill behind `alloc_slow`, for whichever heap the calling thread has.
#[inline]
fn refill_any(h: &'static Heap, c: usize) -> BlockPtr {
    // SAFETY (all arms): each heap passed to refill is the calling thread's own live heap, or the
    // fallback heap under its lock.
    let served = |h: &Heap, b: BlockPtr| {
        if !b.is_null() {
            h.counters.alloc_slow[c].bump();
        }
        b
    };
    match h.kind {
        HeapKind::Live => {
            // A miss: the pops counted down since the last one become visible to stats readers
            // on other threads (`HeapCounters::alloc_fast_now`).
            // SAFETY: the calling thread's own heap's countdown.
            unsafe { h.counters.publish_pops(c, 0) };
            // SAFETY: see above.
            served(h, unsafe { refill_own(h, c) })
        }
        HeapKind::Empty => match thread::init_current() {
            // SAFETY: see above.
            Some(h) => served(h, unsafe { refill_own(h, c) }),
            None => core::ptr::null_mut(),
        },
        HeapKind::Dead => thread::with_fallback(|fh| {
            // SAFETY: see above.
            unsafe {
                // The pop is counted as a miss, not a fast pop (`config::DERIVED_FREE_COUNT`).
                let frees = fh.rooms_now(c);
                let b = TlsList::pop(fh.tls(c));
                fh.settle_now(c, frees);
                served(fh, if b.is_null() { small::refill(fh, c) } else { b })
            }
        })
        .unwrap_or(core::ptr::null_mut()),
    }
}

/// The refill of the calling thread's own live heap: a profiled heap's keeps its TLS lists
/// within the class countdowns (src/front/profiling.rs).
///
/// # Safety
/// `h` is the calling thread's own live heap; no reference to its local state is alive.
#[inline]
unsafe fn refill_own(h: &'static Heap, c: usize) -> BlockPtr {
    let _busy = h.busy();
    // A forked child's first refill takes over the parent's other threads' heaps, from the
    // thread's outermost slow path (no lock of ours held; `thread::take_over_if_forked`).
    // ORDERING: Relaxed — the thread's own word.
    if FORK_TAKEOVER && h.busy.load(crate::sync::plain::Ordering::Relaxed) == 1 {
        thread::take_over_if_forked();
    }
    // SAFETY: per the contract (a sentinel's flag is never set; this heap is live).
    if PROF_FREE_SIDE && unsafe { (*h.local_ptr()).profiled } {
        // SAFETY: per the contract.
        return unsafe { profiling::refill(h, c) };
    }
    // SAFETY: per the contract.
    unsafe { small::refill(h, c) }
}

/// `alloc` followed by zeroing; large blocks zero themselves (fresh mappings come zeroed from the
/// OS; reused ones purge their pages), and so do medium blocks with `KNOWN_ZERO` or
/// `MEDIUM_CLEAR_RESIDENT` (`medium::alloc_zeroed`: one carved where its span holds zeroes is not
/// cleared, a large one clears only its resident pages). Small blocks (and medium ones with both
/// switches off) are cleared here.
///
/// With `SMALL_ZERO_INLINE` (headerless) a request of at most `SMALL_ZERO_INLINE_MAX` bytes at
/// alignment ≤ 16 takes the fast path's pop and clears the block inline (`alloc_fast::<_, true>`),
/// and every other request goes to `alloc_zeroed_general` by a tail call: with the general case
/// inline, its calls made the whole function save five registers before its first compare (42.5
/// instructions a small zeroed allocation on cfrac against `__rust_alloc`'s 19).
#[inline]
pub fn alloc_zeroed(size: usize, align: usize) -> *mut u8 {
    if SMALL_ZERO_INLINE && HEADERLESS {
        if align <= MIN_ALIGN {
            // As `alloc_in`'s first case: `s1 & !15` is the class times the 16-byte stride.
            let s1 = size.wrapping_sub(1);
            if s1 < SMALL_ZERO_INLINE_MAX {
                return alloc_fast::<false, true>(s1 & !(MIN_ALIGN - 1), size);
            }
        }
        return alloc_zeroed_general(size, align);
    }
    alloc_zeroed_in(size, align)
}

/// `alloc_zeroed` of a request `alloc_fast::<_, true>` does not take (`config::SMALL_ZERO_INLINE`),
/// out of line.
#[inline(never)]
extern "C" fn alloc_zeroed_general(size: usize, align: usize) -> *mut u8 {
    alloc_zeroed_in(size, align)
}

/// `alloc_zeroed`'s general case: medium and large requests, and small ones cleared after `alloc`.
#[inline(always)]
fn alloc_zeroed_in(size: usize, align: usize) -> *mut u8 {
    if size > MAX_SMALL_SIZE && class_for(size, align.max(MIN_ALIGN)).is_none() {
        let medium = medium_class_for(size, align);
        if medium.is_none() || KNOWN_ZERO || MEDIUM_CLEAR_RESIDENT {
            if PROFILE && medium.is_some() && thread::current().kind == HeapKind::Empty {
                // As in `alloc_general` (a medium block needs the heap anyway): the environment
                // is read when the heap is created.
                let _ = thread::init_current();
            }
            // Counted like any request when profiling (a sampled block comes back zeroed).
            if PROFILE && prof::is_on() {
                if let Some(p) = sample(size, align, true) {
                    return p;
                }
            }
            return match medium {
                Some(c) => alloc_medium_zeroed(c, size),
                None => alloc_large(size, align, true),
            };
        }
    }
    let p = alloc(size, align);
    // SAFETY: `alloc` hands out null or a live block of at least `size` bytes.
    unsafe { clear_fresh(p, size, align) }
}

/// Clears bytes `0..len` at `p` (`config::SMALL_ZERO_INLINE`) with at most four overlapping
/// stores of the exact range, as memset's small-size path does, without its call: two 16-byte
/// stores at both ends cover 16-32 bytes, two more 32 bytes in from both ends cover 33-64; 8 and
/// 4 bytes the same way below 16; 1-3 bytes by the first, middle and last byte. Nothing outside
/// `0..len` is written, so the block's usable size (class, header, sampled block) does not matter.
/// Should compile to one compare chain and 2-4 unaligned stores of a zeroed register.
///
/// # Safety
/// `p` is valid for writes of `len <= SMALL_ZERO_INLINE_MAX` bytes.
#[inline(always)]
unsafe fn zero_small(p: *mut u8, len: usize) {
    debug_assert!(len <= SMALL_ZERO_INLINE_MAX);
    // SAFETY: every store here and below writes `off..off + width` with `off + width <= len`, inside
    // the `len` writable bytes of the contract; unaligned stores need no alignment.
    let z16 = |off: usize| unsafe { p.add(off).cast::<[u64; 2]>().write_unaligned([0; 2]) };
    if len >= 16 {
        z16(0);
        z16(len - 16);
        if len > 32 {
            z16(16);
            z16(len - 32);
        }
    } else if len >= 8 {
        // SAFETY: as above, 8 <= len < 16.
        unsafe {
            p.cast::<u64>().write_unaligned(0);
            p.add(len - 8).cast::<u64>().write_unaligned(0);
        }
    } else if len >= 4 {
        // SAFETY: as above, 4 <= len < 8.
        unsafe {
            p.cast::<u32>().write_unaligned(0);
            p.add(len - 4).cast::<u32>().write_unaligned(0);
        }
    } else if len > 0 {
        // SAFETY: as above, 1 <= len <= 3.
        unsafe {
            p.write(0);
            p.add(len / 2).write(0);
            p.add(len - 1).write(0);
        }
    }
}
const _: () = assert!(SMALL_ZERO_INLINE_MAX == 4 * 16);
const _: () = assert!(SMALL_ZERO_INLINE_MAX <= FINE_MAX);

/// Usable bytes of a live block.
///
/// # Safety
/// `ptr` is a live block of this allocator.
pub unsafe fn usable_size(ptr: *mut u8) -> usize {
    // SAFETY: per the contract.
    match unsafe { locate::locate(ptr) } {
        // SAFETY: `locate` found `ptr` in this slab of this class.
        Region::Small { slab, class } => unsafe { small_usable_size(slab, class, ptr) },
        // SAFETY: the registry confirmed a span, mapped forever.
        Region::Medium(span) => medium::usable_size(unsafe { span.as_ref() }, ptr),
        // SAFETY: the registry confirmed a large block.
        Region::Large(head) => unsafe { large::usable_size(head, ptr) },
    }
}

/// The usable size of small block `ptr` of class `class` in `slab`.
///
/// # Safety
/// `locate` found `ptr` in `slab`, bound to `class`.
#[inline]
unsafe fn small_usable_size(slab: *const Slab, class: usize, ptr: *mut u8) -> usize {
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

/// The size to allocate when `realloc` moves a block of `old_usable` bytes to hold `new_size`.
/// A block growing by less than half (a buffer growing in small steps) gets the next rung of a
/// ladder of one size per doubling (`2^k`, a class size) at least a quarter above its old size, as
/// a `Vec` or `std::vector` doubles: it is copied once per doubling instead of at every class
/// boundary (up to 64 per doubling among the 16-byte small classes, 8 among the medium ones), and
/// buffers that started at different sizes meet on the same classes, so fewer partly used slabs
/// and spans stay resident (a buffer kept after growing holds under twice its length once on the
/// ladder, under 2.5 times after its first move from a size between rungs). With
/// `GROWTH_LADDER_HALF_STEPS` the ladder has a second rung at `1.5 * 2^k` (at most 1.5x, one more
/// copy and one more class per doubling). Up to `MAX_MEDIUM_SIZE` (`MAX_SMALL_SIZE` without the
/// medium tier): a large block grows in place with `mremap` instead. Anything else gets what it
/// asks for.
#[inline]
fn grown_size(old_usable: usize, new_size: usize) -> usize {
    const CAP: usize = if MEDIUM {
        crate::config::MAX_MEDIUM_SIZE
    } else {
        MAX_SMALL_SIZE
    };
    if new_size <= old_usable || new_size >= old_usable + old_usable / 2 {
        return new_size;
    }
    // Header mode: a small block's class holds its 16-byte header too, so the ladder is laid
    // over the class sizes (request + header) and the header taken off again below.
    let header = if HEADERLESS { 0 } else { header::HEADER_SIZE };
    let want = new_size.max(old_usable + old_usable / 4) + header;
    let pow = want.next_power_of_two();
    let rung = if GROWTH_LADDER_HALF_STEPS && want <= pow / 2 + pow / 4 {
        pow / 2 + pow / 4
    } else {
        pow
    };
    if rung > CAP {
        new_size
    } else if rung <= MAX_SMALL_SIZE {
        // `rung >= want`: the request still holds `new_size`.
        rung - header
    } else {
        // A medium block has no header: the rung itself (`>= want > new_size`).
        rung
    }
}

/// Resizes the block at `ptr` (allocated with alignment `align`) to `new_size` bytes, keeping the
/// prefix. Returns null (leaving the old block intact) when memory cannot be had.
///
/// The owned-slab part is inlined into its callers (`__rust_realloc`, C's `realloc`) and ends in
/// a return or a tail call, so it should compile to the table probe, the class's size load, two
/// compares and no saved registers: a block that stays in place (about half of rust-json's
/// calls: `Vec`/`String` growth inside the class, e.g. 8 -> 16 bytes) costs no frame. Everything
/// else (a move, a block this thread does not own, medium and large blocks) is out of line in
/// `realloc_located` and `realloc_move`.
///
/// # Safety
/// `ptr` is a live block of this allocator allocated with alignment `align`.
#[inline(always)]
pub unsafe fn realloc(ptr: *mut u8, align: usize, new_size: usize) -> *mut u8 {
    // A block of a slab this thread owns or pins (the owned-slab table, as `free` asks it; a
    // foreign entry's slab is only pinned, so nothing here reads the holder's cell: the class is
    // the shared one, `entry_class`): its class (and in header mode its header) gives its size
    // without the registry.
    if REALLOC_OWNED_MOVE {
        let h = thread::current();
        // SAFETY: the calling thread's table (a sentinel heap's is empty and only read).
        let hit =
            unsafe { OwnedSlabs::lookup_entry(HeapLocal::owned_ptr(h.local_ptr()), ptr as usize) };
        if let Some(e) = hit {
            let slab = e.slab(ptr as usize);
            // SAFETY: as below; `entry_class`'s contract: the table found the slab.
            let usable = unsafe { small_usable_size(slab, entry_class(slab), ptr) };
            if new_size <= usable && new_size >= usable / 4 {
                return ptr;
            }
            // A longer prefix is `memcpy`'s, whose call would need a stack frame in
            // `realloc_move_owned`; a larger alignment's block is `alloc_general`'s.
            if usable.min(new_size) > REALLOC_INLINE_COPY || align > MIN_ALIGN {
                // SAFETY: forwarded contract.
                return unsafe { realloc_move(ptr, usable, align, new_size) };
            }
            // SAFETY: forwarded contract; `e` is the calling thread's entry of `ptr`'s slab.
            return unsafe { realloc_move_owned(ptr, e, h, new_size, usable) };
        }
    } else if REALLOC_OWNED_MOVE_HEADER {
        let h = thread::current();
        // SAFETY: the calling thread's table (a sentinel heap's is empty and only read).
        let hit =
            unsafe { OwnedSlabs::lookup_entry(HeapLocal::owned_ptr(h.local_ptr()), ptr as usize) };
        if let Some(e) = hit {
            let slab = e.slab(ptr as usize);
            // SAFETY: `entry_class`'s contract: the table found the slab (owned, or pinned: a
            // foreign entry under `config::FOREIGN_ENTRIES_HEADER`).
            let class = unsafe { entry_class(slab) };
            // The free fast path's checks (`free::free_entry`): the block 16 bytes before `ptr`
            // on the entry's grid (so the header lies in a carved block of the slab), then its
            // live header at the 16-byte offset. A block that passes holds its class size less
            // the header; any other takes the full check, which aborts or finds a larger
            // alignment's offset.
            let block_off = ptr.wrapping_sub(header::HEADER_SIZE) as usize & (SLAB_SIZE - 1);
            let fast = (block_off as u64).wrapping_mul(e.divisor()) < e.limit()
                // SAFETY: the block check passed: `ptr - 16` is a carved block of a slab we own
                // or pin.
                && unsafe { header::is_live_fast(ptr, header::tag_of_divisor(e.divisor())) };
            let usable = if fast {
                class_size(class) - header::HEADER_SIZE
            } else {
                // SAFETY: the table found `ptr` in the data of a slab we own or pin, bound to
                // `class`; `small_usable_size` reads the slab's `data` (shared, fixed) and the
                // block's header, never the holder's cell.
                unsafe { small_usable_size(slab, class, ptr) }
            };
            if new_size <= usable && new_size >= usable / 4 {
                return ptr;
            }
            if !fast || usable.min(new_size) > REALLOC_INLINE_COPY || align > MIN_ALIGN {
                // SAFETY: forwarded contract.
                return unsafe { realloc_move(ptr, usable, align, new_size) };
            }
            // SAFETY: forwarded contract; `e` is the calling thread's entry of `ptr`'s slab and
            // both of its checks passed for `ptr`.
            return unsafe { realloc_move_owned(ptr, e, h, new_size, usable) };
        }
    } else if OWNED_TABLE {
        let h = thread::current();
        // SAFETY: the calling thread's table (a sentinel heap's is empty and only read).
        let hit = unsafe { OwnedSlabs::lookup(HeapLocal::owned_ptr(h.local_ptr()), ptr as usize) };
        if let Some(slab) = hit {
            // SAFETY: the table holds slabs this thread owns (or pins: foreign entries), bound
            // while owned (or pinned); `ptr` is a block pointer in its data (the contract).
            let usable = unsafe { small_usable_size(slab, entry_class(slab), ptr) };
            if new_size <= usable && new_size >= usable / 4 {
                return ptr;
            }
            // SAFETY: forwarded contract.
            return unsafe { realloc_move(ptr, usable, align, new_size) };
        }
    }
    // SAFETY: per the contract.
    unsafe { realloc_located(ptr, align, new_size) }
}

/// The class of `slab`, which the calling thread's owned-slab table named for a live block the
/// caller holds: owned, or only pinned (a foreign entry, front/foreign.rs). With
/// `config::REALLOC_SHARED_CLASS` the shared class (`Slab::bound_class`, whose doc proves that
/// no write to it is unordered with this read; loom `foreign_class.rs`); under the backout the
/// holder-only `SlabLocal::class`, which a pinner is not entitled to touch.
///
/// # Safety
/// The calling thread's table holds `slab` and the caller holds a live block of it.
#[inline(always)]
unsafe fn entry_class(slab: &Slab) -> usize {
    if REALLOC_SHARED_CLASS {
        slab.bound_class()
    } else {
        // SAFETY: the backout's read: correct for an owned slab; for a pinned one the holder's
        // cell is shared with its holder (see `config::REALLOC_SHARED_CLASS`).
        unsafe { slab.local(|l| l.class as usize) }
    }
}

/// `realloc` of a block the owned-slab table did not find: the registry says what it is.
///
/// # Safety
/// As for `realloc`.
#[inline(never)]
unsafe fn realloc_located(ptr: *mut u8, align: usize, new_size: usize) -> *mut u8 {
    // A medium block's resize in place changes its span's state (`Heap::busy`).
    let _busy = thread::current().busy();
    // SAFETY: per the contract.
    let old_usable = match unsafe { locate::locate(ptr) } {
        Region::Large(head) => {
            // SAFETY: the registry confirmed a large block.
            let usable = unsafe { large::usable_size(head, ptr) };
            // A sampled block resizes like any other, then its sample is re-decided.
            // SAFETY: as above.
            let sampled = PROFILE && unsafe { large::resizes_sampled(head) };
            // SAFETY: as above.
            if new_size > MAX_SMALL_SIZE && unsafe { large::resize_in_place(head, ptr, new_size) } {
                if sampled {
                    // SAFETY: the block at `ptr` is ours, resized and still tagged.
                    unsafe { resample_large(ptr, new_size) };
                }
                return ptr;
            }
            // A growth that stays large moves the pages, not the bytes.
            if LARGE_MOVE
                && new_size > usable
                && class_for(new_size, align.max(MIN_ALIGN)).is_none()
                && medium_class_for(new_size, align).is_none()
            {
                // SAFETY: as above.
                match unsafe { large::move_grow(head, ptr, new_size) } {
                    large::Moved::To(p) => {
                        if sampled {
                            // SAFETY: the block moved to `p` is ours and still tagged.
                            unsafe { resample_large(p.as_ptr(), new_size) };
                        }
                        return p.as_ptr();
                    }
                    large::Moved::NoMemory => return core::ptr::null_mut(),
                    large::Moved::No => {}
                }
            }
            usable
        }
        Region::Small { slab, class } => {
            // SAFETY: `locate` found `ptr` in this slab of this class (no second lookup).
            let usable = unsafe { small_usable_size(slab, class, ptr) };
            if new_size <= usable && new_size >= usable / 4 {
                return ptr;
            }
            usable
        }
        Region::Medium(span) => {
            // SAFETY: the registry confirmed a span, mapped forever.
            let span = unsafe { span.as_ref() };
            let usable = medium::usable_size(span, ptr);
            // In place while the class still fits and is not more than twice what is asked for
            // (a smaller medium or small class then gives the memory back). A sampled block
            // stays in place only when its sample is redrawn there (its new size is what the
            // profile counts), else moves.
            let sampled = PROFILE && medium::is_sampled(span, ptr);
            if new_size <= usable && new_size >= usable / 2 && !sampled {
                return ptr;
            }
            if PROF_REALLOC_IN_PLACE && sampled {
                // SAFETY: forwarded contract.
                return unsafe { realloc_sampled_medium(span, ptr, usable, align, new_size) };
            }
            usable
        }
    };
    // SAFETY: forwarded contract.
    unsafe { realloc_move(ptr, old_usable, align, new_size) }
}

/// `realloc` resized the sampled large block at `ptr` in place or moved its pages
/// (`config::SAMPLED_LARGE_MOVE`): the new size is counted against the calling thread's
/// countdown as a new request's would be (`sample`), and the large box re-decides the block's
/// sample (`large::resample`).
///
/// # Safety
/// As for `large::resample`.
#[cold]
#[inline(never)]
unsafe fn resample_large(ptr: *mut u8, new_size: usize) {
    let h = thread::current();
    // Sentinel heaps are shared and never written: as in `sample`, their requests go unsampled.
    let next = if h.kind == HeapKind::Live && prof::is_on() {
        // SAFETY: the calling thread's own live heap; no other reference to its local state is
        // alive, and this one lives through a call of the large box (and the prof box), neither
        // of which reaches the heap.
        let sampler = unsafe { &mut h.local_mut().sampler };
        sampler.take(new_size).then(|| sampler.last_stack())
    } else {
        None
    };
    // SAFETY: per the contract.
    unsafe { large::resample(ptr, new_size, next, h.prof_shard) };
}

/// `realloc` of the sampled medium block at `ptr` in `span` (`usable`: its request's usable
/// bytes) with `config::PROF_REALLOC_IN_PLACE`: in place within its class where the calling
/// thread holds the span (`medium::resample_in_place`), else moved with the next size taken from
/// its class on the growth ladder, as an unsampled block of the class would be.
///
/// # Safety
/// As for `realloc`; `span` is the registry's answer for `ptr`.
#[cold]
#[inline(never)]
unsafe fn realloc_sampled_medium(
    span: &SpanHeader,
    ptr: *mut u8,
    usable: usize,
    align: usize,
    new_size: usize,
) -> *mut u8 {
    if medium::resample_in_place(span, ptr, new_size, thread::current()) {
        return ptr;
    }
    // SAFETY: forwarded contract; `usable` bytes of the block are the program's.
    unsafe {
        realloc_move_as(
            ptr,
            usable,
            medium::class_usable(span, ptr),
            align,
            new_size,
        )
    }
}

/// `realloc`'s move: a new block for `new_size`, the prefix copied, the old block freed.
///
/// # Safety
/// As for `realloc`; `old_usable` is the usable size of the block at `ptr`.
#[inline(never)]
unsafe fn realloc_move(ptr: *mut u8, old_usable: usize, align: usize, new_size: usize) -> *mut u8 {
    // SAFETY: forwarded contract.
    unsafe { realloc_move_as(ptr, old_usable, old_usable, align, new_size) }
}

/// `config::REALLOC_OWNED_MOVE`: `realloc_move` of a small block found in the owned-slab table
/// (`e`, its slab's entry; `old_usable`, its class size) whose kept prefix is at most
/// `REALLOC_INLINE_COPY` bytes, at alignment ≤ 16 (`realloc` sends any other to `realloc_move`).
/// When the new block is a small one whose TLS list has a block, it should compile without a
/// stack frame: the entry's block check of the old block (the free's), the class of the ladder's
/// size, the pop (the profiler's countdown stepped, as `alloc_fast` does), the prefix copied in
/// 16-byte moves, and the old block's mark and push through `e` (`free::free_found`): no second
/// table lookup, no `memcpy` call and no saved registers. Nothing before the push writes the
/// table (a pop never does), so `e` is still the entry of the old block's slab. Every other case
/// tail-calls `realloc_move` (`realloc_move_refused`) before anything changed. `h` comes from
/// `realloc`, which read it: a second read of the thread's heap here compiles to the
/// general-dynamic TLS sequence, a call as far as the compiler knows (the linker relaxes it to a
/// load), after which every value would sit in a saved register. The arguments come in the
/// order that leaves `ptr` and `new_size` in the registers `__rust_realloc` got them in.
///
/// # Safety
/// As for `realloc_move` at an alignment of at most `MIN_ALIGN`; `h` is the calling thread's heap
/// and `e` its matching table entry of the slab holding `ptr`, a small block of `old_usable`
/// usable bytes (headerless: its class size; header mode: its class size less the header, whose
/// block check against `e` and live header at the 16-byte offset `realloc` checked);
/// `old_usable.min(new_size) <= REALLOC_INLINE_COPY`.
#[inline(never)]
unsafe fn realloc_move_owned(
    ptr: *mut u8,
    e: &Entry,
    h: &'static Heap,
    new_size: usize,
    old_usable: usize,
) -> *mut u8 {
    // The free's block check (`free::free_entry`) comes first, so that a pointer off the grid
    // takes the general move, whose free aborts naming it. (Header mode: `realloc` did it, and
    // the header check, before it computed `old_usable`.)
    let len = old_usable.min(new_size);
    let block_off = ptr as usize & (SLAB_SIZE - 1);
    if HEADERLESS && (block_off as u64).wrapping_mul(e.divisor()) >= e.limit() {
        // SAFETY: forwarded contract.
        return unsafe { realloc_move(ptr, old_usable, MIN_ALIGN, new_size) };
    }
    let size = grown_size(old_usable, new_size);
    let s1 = size.wrapping_sub(1);
    // Header mode: the new block holds the 16-byte header too, as in `alloc_in`.
    let hs = if HEADERLESS { 0 } else { header::HEADER_SIZE };
    // The new block's class, as `alloc_in` picks it; size 0 and medium blocks move the general
    // way. From here the fallback (`realloc_move_refused`) takes three values, not four, so that
    // the common path keeps no saved register.
    if s1 >= MAX_SMALL_SIZE - hs {
        // SAFETY: forwarded contract.
        return unsafe { realloc_move_refused(e, ptr, new_size) };
    }
    let off = if s1 < FINE_MAX - hs {
        (s1 + hs) & !(MIN_ALIGN - 1)
    } else {
        class_of_coarse(size + hs) * CLASS_STRIDE
    };
    // SAFETY: `off` addresses the TLS list of a small class of the calling thread's heap `h`,
    // which is live (its table had `ptr`'s slab); the countdown is its own
    // (`Counter::count_down`).
    let new = unsafe {
        let t = h.tls(0).byte_add(off);
        let Some(b) = NonNull::new((*t).head) else {
            return realloc_move_refused(e, ptr, new_size);
        };
        if PROF_POP_COUNTDOWN {
            // At the sampled request the general move takes the block through `pop_trap`; the
            // countdown is left for it to step.
            let w = (*TlsList::counters(t)).alloc_fast.word();
            if (*w as i64) < 1 {
                return realloc_move_refused(e, ptr, new_size);
            }
            *w -= 1;
        } else {
            (*TlsList::counters(t)).alloc_fast.bump();
        }
        TlsList::take(t, b);
        // Header mode: the new block's header written, its user pointer 16 bytes in.
        finish_header_at(hand_out(b, off / CLASS_STRIDE), off)
    };
    // SAFETY: both blocks are live, distinct and of small classes (multiples of 16 bytes, each at
    // least `len` rounded up to 16: `len <= old_usable` and `len <= new_size <= size`).
    unsafe { copy_prefix(ptr, new, len) };
    // SAFETY: `e` is unchanged (see above) and its block check passed for `ptr`.
    unsafe { free::free_found(h, e, ptr, new) }
}

/// `realloc_move_owned` cannot take the block of its common path (an empty list, the profiler's
/// countdown at its sample, a medium new size): the general move, the old block's size read
/// again from its slab's class, at the minimum alignment (`realloc`'s `align` was at most it).
///
/// # Safety
/// As for `realloc_move_owned`.
#[cold]
#[inline(never)]
unsafe extern "C" fn realloc_move_refused(e: &Entry, ptr: *mut u8, new_size: usize) -> *mut u8 {
    let slab = e.slab(ptr as usize);
    // SAFETY: `e` matches: the calling thread owns or pins the slab, bound to a class.
    let old_usable = unsafe { small_usable_size(slab, entry_class(slab), ptr) };
    // SAFETY: forwarded contract.
    unsafe { realloc_move(ptr, old_usable, MIN_ALIGN, new_size) }
}

// `copy_prefix` moves at most four 16-byte chunks.
const _: () = assert!(REALLOC_INLINE_COPY == 4 * 16);

/// `realloc_move_owned`'s copy of the first `len <= REALLOC_INLINE_COPY` bytes of `src` to
/// `dst`, in 16-byte moves (`len` rounded up to 16; at least one). Straight-line moves under
/// branches, so that the compiler does not turn them back into a `memcpy` call.
///
/// # Safety
/// `src` and `dst` are distinct live small blocks of at least `len` rounded up to 16 bytes.
#[inline(always)]
unsafe fn copy_prefix(src: *mut u8, dst: *mut u8, len: usize) {
    type Chunk = [u64; 2];
    let copy = |i: usize| {
        // SAFETY: per the contract, chunk `i < ceil(len / 16)` lies inside both blocks (16-byte
        // aligned).
        unsafe {
            dst.cast::<Chunk>()
                .add(i)
                .write(src.cast::<Chunk>().add(i).read())
        }
    };
    copy(0);
    if len > 16 {
        copy(1);
        if len > 32 {
            copy(2);
            if len > 48 {
                copy(3);
            }
        }
    }
}

/// `realloc_move` with the new block sized on the growth ladder from `ladder` bytes (`grown_size`)
/// and `old_usable` bytes of the old block kept.
///
/// # Safety
/// As for `realloc_move`; `ladder >= old_usable`.
#[inline(always)]
unsafe fn realloc_move_as(
    ptr: *mut u8,
    old_usable: usize,
    ladder: usize,
    align: usize,
    new_size: usize,
) -> *mut u8 {
    let new = alloc(grown_size(ladder, new_size), align);
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
