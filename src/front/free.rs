//! The free paths: `free` (owned-slab table, else hint or registry, then `free_local` or
//! `free_remote`). The address classifier they fall back to is the `locate` box.
//!
//! Fast path (headerless, slab in the owned-slab table): one table load and compare (which also
//! answers "ours" and "owned"), the block-boundary check (a compare and a multiply), the
//! freed-mark check and write, one push. Everything else — remote frees, table misses, large
//! blocks, invalid pointers — goes through `free_unowned` (hint cache, registry).

use core::ptr::NonNull;

use crate::config::{
    BATCH_HIT, CHECKED, CONSUMER_BATCH, DERIVED_FREE_COUNT, FOREIGN_ENTRIES, FREER_HEAP, FREE_MARK,
    HEADERLESS, NULL_FREE_EARLY, NULL_FREE_MISS, OWNED_TABLE, OWNER_REMOTE_LINE, PROFILE,
    REMOTE_BATCH, SLAB_SIZE, TABLE32, TLS_HINT, XOR_LOOKUP,
};
use crate::debug::{fatal, Where};
use crate::env;
use crate::front::foreign;
use crate::front::heap::{Heap, HeapKind, HeapLocal};
use crate::front::hint::Hint;
use crate::front::mark;
use crate::front::medium;
use crate::front::owned::{Entry, OwnedSlabs};
use crate::front::profiling;
use crate::front::remote_batch;
use crate::front::small;
use crate::front::thread;
use crate::front::tls_sll::TlsList;
use crate::large;
use crate::locate;
use crate::registry::{self, RegionHead};
use crate::size_class::{blocks_per_slab, class_size, is_block_offset, NUM_CLASSES};
use crate::slab::block::Block;
use crate::slab::header;
use crate::slab::slab::{Slab, NO_CLASS};
use crate::slab::superslab::{SuperSlab, SUPERSLAB_MAGIC};
use crate::trace::{self, Event};
use crate::valgrind;

/// Frees a block of this allocator; null is a no-op.
///
/// # Safety
/// `ptr` is null or a live block of this allocator.
#[inline(always)]
pub unsafe fn free(ptr: *mut u8) {
    // SAFETY: forwarded contract.
    unsafe { free_in::<true>(ptr) }
}

/// `free` of a pointer that is never null (Rust's `dealloc`, `config::DEALLOC_SKIPS_NULL`): a
/// table miss goes to `free_unowned` without the null test.
///
/// # Safety
/// `ptr` is a live block of this allocator (not null).
#[inline(always)]
pub unsafe fn free_nonnull(ptr: *mut u8) {
    // SAFETY: forwarded contract.
    unsafe { free_in::<false>(ptr) }
}

/// `free`, with the table miss's null test (`config::NULL_FREE_MISS`) only if `MAY_BE_NULL`.
///
/// # Safety
/// `ptr` is a live block of this allocator, or null if `MAY_BE_NULL`.
#[inline(always)]
unsafe fn free_in<const MAY_BE_NULL: bool>(ptr: *mut u8) {
    let h = thread::current();
    if XOR_LOOKUP {
        // SAFETY: the calling thread's table (a sentinel heap's is empty and only read).
        let (e, off) =
            unsafe { OwnedSlabs::probe(HeapLocal::owned_ptr(h.local_ptr()), ptr as usize) };
        // A hit, or an empty entry for a pointer in the top 64 KiB, whose zero limit sends it
        // to `free_entry_slow` (see `OwnedSlabs::probe`).
        if off < SLAB_SIZE {
            if CHECKED {
                // SAFETY: as above.
                let t = unsafe { HeapLocal::owned_ptr(h.local_ptr()) };
                // SAFETY: as above.
                if unsafe { OwnedSlabs::lookup_entry(t, ptr as usize) }.is_some() {
                    check_owned(h, e, ptr);
                }
            }
            // SAFETY: a matching entry holds a slab the calling thread owns (or pins); an empty
            // one fails the block check.
            return unsafe { free_entry(h, e, ptr, off) };
        }
    } else if OWNED_TABLE {
        // SAFETY: the calling thread's table (a sentinel heap's is empty and only read).
        let hit =
            unsafe { OwnedSlabs::lookup_entry(HeapLocal::owned_ptr(h.local_ptr()), ptr as usize) };
        if let Some(e) = hit {
            if CHECKED {
                check_owned(h, e, ptr);
            }
            if TABLE32 {
                // SAFETY: a matching entry holds a slab the calling thread owns or, through a
                // foreign entry, pins; `free_entry` reads only the entry's copies.
                return unsafe { free_entry(h, e, ptr, 0) };
            }
            // SAFETY: without `TABLE32` there are no foreign entries (`config::FOREIGN_ENTRIES`
            // needs it): the table holds only slabs this thread owns.
            return unsafe { free_owned(h, e.slab(ptr as usize), ptr) };
        }
    }
    // A table miss: `free(NULL)` ends here, before the jump to `free_unowned` and its hint lookup
    // (null never matches the table; `config::NULL_FREE_MISS`).
    if NULL_FREE_MISS && MAY_BE_NULL && ptr.is_null() {
        return;
    }
    // SAFETY: forwarded contract.
    unsafe { free_unowned(ptr, h) }
}

/// `config::TABLE32`: the free of a block of a slab the calling thread owns (or pins, through a
/// foreign entry: front/foreign.rs), from its 32-byte table entry alone: the block check against the entry's divisor and limit, the freed mark
/// (header mode, `config::HEADER_ENTRY`: the header check against the tag the divisor names,
/// the block 16 bytes before `ptr`), the push on the entry's list. No line of the slab's record
/// is read. A free the entry's limit refuses (a bad pointer, a block carved since the entry was
/// written, header mode's larger alignments), that finds the mark or whose header does not pass
/// takes `free_local`'s full check, which aborts or frees (and refreshes the entry).
///
/// With `config::XOR_LOOKUP`, `xor_off` is `OwnedSlabs::probe`'s `ptr ^ key` (below `SLAB_SIZE`):
/// the block's offset, the mask already done; `e` may then also be an empty entry (zero limit),
/// which `free_entry_slow` tells apart. Otherwise `xor_off` is unused.
///
/// Nothing here reads the slab's record, so a foreign entry's free is the owner's: the entry's
/// divisor, limit and list (the calling thread's list of the class) are the pinner's own copies.
///
/// # Safety
/// `e` is the calling thread's entry of the slab holding `ptr`, which it owns or pins, or (with
/// `XOR_LOOKUP`) an empty entry of its table.
#[inline(always)]
unsafe fn free_entry(h: &'static Heap, e: &Entry, ptr: *mut u8, xor_off: usize) {
    // Header mode: the block of a request aligned to at most 16 (any other offset fails the
    // block check or the header check below, and the full check finds the block).
    let block = if HEADERLESS {
        ptr
    } else {
        ptr.wrapping_sub(header::HEADER_SIZE)
    };
    let off = if XOR_LOOKUP {
        xor_off
    } else {
        block as usize & (SLAB_SIZE - 1)
    };
    // The fused check (`Slab::is_carved_block`) against the entry's copies; `off < 2^SLAB_SHIFT`.
    if (off as u64).wrapping_mul(e.divisor()) >= e.limit() {
        return free_entry_slow(h, ptr);
    }
    // After the block check, so that a pointer off the grid aborts naming the grid, not the
    // header (the full check reads the header first, and a consumed one reads as freed). The
    // push below writes the list link over the tag: that consumes the header.
    if !HEADERLESS
        // SAFETY: `ptr` lies in a data slab we own or pin, so the 16 bytes before it are mapped.
        && !unsafe { header::is_live_fast(ptr, header::tag_of_divisor(e.divisor())) }
    {
        return free_entry_slow(h, ptr);
    }
    // SAFETY: a carved block of a slab we own or pin (checked above); the entry's list pointer
    // is the list its frees push on, of this live heap (an owned slab's `tls`, or for a foreign
    // entry the list `foreign::keep` entered: the entry's invariant).
    unsafe {
        mark_and_push(
            h,
            ptr,
            block,
            e.tls().cast::<TlsList>(),
            || free_entry_slow(h, ptr),
            || free_entry_spill(ptr, h),
            (),
        )
    }
}

/// `config::REALLOC_OWNED_MOVE`: the free of the block `realloc_move_owned` moved out of to
/// `new`, from the table entry `realloc` found for it, after that function's block check against
/// the entry (headerless: `ptr` is the block; header mode, `config::REALLOC_OWNED_MOVE_HEADER`:
/// the block is 16 bytes before `ptr` and its live header was checked too, which the push's link
/// consumes). The freed mark and the push as in `free_entry`;
/// returns `new`, so that the rare arms are tail calls and the caller keeps no stack frame: a
/// block that has the mark (a realloc of a freed block) takes `free_entry_slow`, which aborts; a
/// push over the cap spills.
///
/// # Safety
/// `e` is the calling thread's (matching) entry of the slab holding `ptr`, unchanged since it was
/// found; `ptr` is a carved block of that slab (the entry's block check passed); in header mode
/// `ptr - 16` is, and its live header at the 16-byte offset passed `header::is_live_fast`.
#[inline(always)]
pub(crate) unsafe fn free_found(
    h: &'static Heap,
    e: &Entry,
    ptr: *mut u8,
    new: *mut u8,
) -> *mut u8 {
    if CHECKED {
        check_owned(h, e, ptr);
    }
    let block = if HEADERLESS {
        ptr
    } else {
        ptr.wrapping_sub(header::HEADER_SIZE)
    };
    // SAFETY: per the contract; the entry's list pointer is the slab's (the entry's invariant).
    unsafe {
        mark_and_push(
            h,
            ptr,
            block,
            e.tls().cast::<TlsList>(),
            || free_found_slow(h, ptr, new),
            || free_found_spill(h, ptr, new),
            new,
        )
    }
}

/// `free_found` found the freed mark: `free_entry_slow` (which aborts on a double free).
#[cold]
#[inline(never)]
extern "C" fn free_found_slow(h: &'static Heap, ptr: *mut u8, new: *mut u8) -> *mut u8 {
    free_entry_slow(h, ptr);
    new
}

/// `free_found`'s push made the TLS list exceed its cap.
#[cold]
#[inline(never)]
extern "C" fn free_found_spill(h: &'static Heap, ptr: *mut u8, new: *mut u8) -> *mut u8 {
    free_entry_spill(ptr, h);
    new
}

/// The owner's free after its block check: the freed mark (a block that has it goes to
/// `marked`, which aborts or takes the full check), then the push on the slab's TLS list `tls`
/// (`spill` when the push made the list exceed its cap); returns what the arm taken returns
/// (`pushed` after a plain push). The one copy of the owner fast paths' tail (`free_entry`,
/// `free_owned`, `free_found`).
///
/// # Safety
/// `block` (the block `ptr` names) is a carved block of a slab the calling thread owns or pins
/// (a foreign entry); `tls` is the list its table entry names, of the live heap `h`. Nothing
/// here reads the slab's record.
#[inline(always)]
unsafe fn mark_and_push<R>(
    h: &'static Heap,
    ptr: *mut u8,
    block: *mut u8,
    tls: *mut TlsList,
    marked: impl FnOnce() -> R,
    spill: impl FnOnce() -> R,
    pushed: R,
) -> R {
    tell_memcheck_freed(ptr);
    // SAFETY: a carved block (the contract); blocks are at least 16 bytes.
    let b = unsafe { NonNull::new_unchecked(block.cast::<Block>()) };
    if FREE_MARK {
        // SAFETY: our own table; it holds the key since a slab was inserted.
        let key = unsafe { (*HeapLocal::owned_ptr(h.local_ptr())).key };
        // SAFETY: as above.
        unsafe {
            if Block::is_marked_free(b, key) {
                return marked();
            }
            Block::mark_free(b, key);
        }
    }
    // SAFETY: `tls` is the slab's list of this live heap (the contract).
    unsafe {
        // `config::DERIVED_FREE_COUNT`: the push's room is the count.
        if !DERIVED_FREE_COUNT {
            (*TlsList::counters(tls)).free_local.bump();
        }
        if TlsList::push(tls, b) {
            return spill();
        }
    }
    pushed
}

/// `free_entry` refused the block or found its mark: the full check of `free_local` (which
/// aborts on a bad pointer or a double free), then the entry is rewritten from the slab, so that
/// a stale limit costs one slow free, not one per free.
#[cold]
#[inline(never)]
extern "C" fn free_entry_slow(h: &'static Heap, ptr: *mut u8) {
    // SAFETY: the calling thread's table (a sentinel heap's is empty and only read).
    let hit = unsafe { OwnedSlabs::lookup(HeapLocal::owned_ptr(h.local_ptr()), ptr as usize) };
    let Some(slab) = hit else {
        // `config::XOR_LOOKUP`: an empty entry matched a pointer in the top 64 KiB (never a
        // block): the path of a table miss, which aborts on it.
        // SAFETY: `free`'s contract, forwarded.
        return unsafe { free_unowned(ptr, h) };
    };
    let _busy = h.busy();
    // SAFETY: `free_entry`'s contract: `h` is the calling thread's live heap, its table holds the
    // slab of `ptr`, which it owns or pins.
    unsafe {
        // A foreign entry (front/foreign.rs): the remote free's full check, which reads only
        // the slab's shared fields, keeps the block and rewrites the entry. (`owner`, a shared
        // field, tells the two apart: only this thread writes its own heap pointer there.)
        if FOREIGN_ENTRIES && !slab.is_owned_by(h.owner_ptr()) {
            return free_remote_in::<true>(h, slab, ptr);
        }
        // Owned: `free_local` reads the holder's cell (`Slab::local`).
        free_local(h, slab, ptr);
        // Owned, so its entry is not foreign: a spill that released the slab took it out.
        h.local_mut().owned_mut().refresh(slab);
    }
}

/// `free_entry`'s push made the TLS list exceed its cap. The block comes first: `free` keeps
/// it in the first argument's register, and with `config::ROOM_DEC_ASM` this tail call is the
/// push's fall-through, where the register allocator would rather move the block at `free`'s
/// entry (one more instruction on every free) than swap two registers here.
#[cold]
#[inline(never)]
extern "C" fn free_entry_spill(ptr: *mut u8, h: &'static Heap) {
    // SAFETY: the block was just pushed: the heap's table still holds its slab, which we own or
    // pin (`spill_owned` tells the two apart).
    let slab = unsafe {
        OwnedSlabs::lookup(HeapLocal::owned_ptr(h.local_ptr()), ptr as usize).unwrap_unchecked()
    };
    spill_owned(h, slab)
}

/// The free of a block of a slab the calling thread owns, found in the owned-slab table: the
/// 16-byte entry's path (no `config::TABLE32`), which reads the holder's cell (`header_word`,
/// `tls`, the block check's divisor and limit). Owned-only: that table never holds a foreign
/// entry (`config::FOREIGN_ENTRIES` needs `TABLE32`; the assertion below).
///
/// # Safety
/// The calling thread owns `slab` and `ptr` lies in its data.
#[inline(always)]
unsafe fn free_owned(h: &'static Heap, slab: &Slab, ptr: *mut u8) {
    let block = if HEADERLESS {
        ptr
    } else {
        // SAFETY: `ptr` lies in a data slab of ours, so the 16 bytes before it are mapped; we own
        // the slab.
        match unsafe { header::take_fast(ptr, slab.local(|l| l.header_word)) } {
            Some(block) => block,
            // SAFETY: forwarded contract.
            None => return unsafe { free_owned_header(h, slab, ptr) },
        }
    };
    let off = block as usize & (SLAB_SIZE - 1);
    // SAFETY: we own the slab.
    if !unsafe { slab.is_carved_block(off) } {
        return bad_block(slab, block);
    }
    // SAFETY: a carved block of a slab we own (checked above); its TLS list pointer was set by
    // `own_slab` for this heap (only a heap that entered it can find it).
    unsafe {
        mark_and_push(
            h,
            ptr,
            block,
            slab.local(|l| l.tls).cast::<TlsList>(),
            || double_free_owned(slab, block),
            || spill_owned(h, slab),
            (),
        )
    }
}

// `free_owned` (and its callees `free_owned_header`, `double_free_owned`, `bad_block`) read the
// holder's cell of a slab the 16-byte table found: that table has no foreign entries.
const _: () = assert!(!FOREIGN_ENTRIES || TABLE32);

/// The fast path's push made the TLS list exceed its cap. `slab` is one the table holds: owned,
/// or pinned through a foreign entry, whose class comes from the shared line.
#[cold]
#[inline(never)]
extern "C" fn spill_owned(h: &'static Heap, slab: &Slab) {
    // SAFETY: we own or pin the slab (the holder's cell is read only when we own it), and `h`
    // is the calling thread's live heap.
    unsafe {
        // A foreign entry's slab (front/foreign.rs): its class from its shared line, never the
        // holder's cell (`Slab::bound_class`; loom `foreign_class.rs`).
        let c = if FOREIGN_ENTRIES && !slab.is_owned_by(h.owner_ptr()) {
            slab.bound_class()
        } else {
            slab.local(|l| l.class as usize)
        };
        // A slow path: where a thread that mostly frees follows the profiler's switch, which may
        // move (and spill) the list just pushed on.
        if PROFILE {
            profiling::sync(h);
        }
        let t = h.free_list(c);
        if (*t).len() > (*t).cap as usize {
            small::spill(h, c);
        }
    }
}

/// Header mode: the fast path's header check did not pass (a larger alignment's offset, or a bad
/// header): the full check, which aborts naming the problem.
///
/// # Safety
/// As for `free_owned`.
#[cold]
#[inline(never)]
unsafe extern "C" fn free_owned_header(h: &'static Heap, slab: &Slab, ptr: *mut u8) {
    let _busy = h.busy();
    // SAFETY: forwarded contract.
    unsafe { free_local(h, slab, ptr) }
}

/// The fast path found the freed-block mark (`free_owned`'s: owned-only, no foreign entries
/// without `TABLE32`; the 32-byte paths take `free_entry_slow`, which tells a foreign entry apart).
#[cold]
#[inline(never)]
extern "C" fn double_free_owned(slab: &Slab, ptr: *mut u8) {
    // SAFETY: only called by `free_owned`, for a slab the calling thread owns.
    double_free(ptr, unsafe { slab.local(|l| l.class as usize) })
}

/// `checked`: a slab found in the owned-slab table is owned by the calling thread, holds `ptr`,
/// and the registry agrees; with `config::TABLE32`, the entry's divisor and list pointer are the
/// slab's and its limit at most the slab's.
#[cold]
fn check_owned(h: &Heap, e: &Entry, ptr: *mut u8) {
    // SAFETY: the calling thread's own table (only a live heap's has entries).
    if FOREIGN_ENTRIES && unsafe { (*HeapLocal::owned_ptr(h.local_ptr())).is_foreign(ptr as usize) }
    {
        return check_foreign(e, ptr);
    }
    let ss = registry::lookup(ptr as usize).cast::<SuperSlab>();
    let ok = !ss.is_null()
        // SAFETY: a registered region starts with its magic.
        && unsafe { (*ss).magic } == SUPERSLAB_MAGIC
        && SuperSlab::slab_index(ptr as usize) >= crate::config::FIRST_DATA_SLAB
        && e.slab(ptr as usize).is_owned_by(h.owner_ptr())
        && e.slab(ptr as usize).data() as usize == ptr as usize & !(SLAB_SIZE - 1);
    // SAFETY: the slab is owned by the calling thread (checked first).
    let same = ok
        && (!TABLE32
            || unsafe {
                e.slab(ptr as usize).local(|l| {
                    e.divisor() == l.divisor && e.tls() == l.tls && e.limit() <= l.carve_limit
                })
            });
    if ok && !same {
        fatal(
            "hint",
            "owned-slab table entry out of date (divisor, carve limit or list pointer)",
            Where::ptr(ptr as usize),
        );
    }
    if !ok {
        fatal(
            "hint",
            "owned-slab table entry for a slab this thread does not own",
            Where::ptr(ptr as usize),
        );
    }
}

/// `checked`, a foreign entry (front/foreign.rs): the slab is pinned, not ours, bound to the
/// class the entry's divisor names, and the entry's limit at most its shared carve bound's.
#[cold]
fn check_foreign(e: &Entry, ptr: *mut u8) {
    let slab = e.slab(ptr as usize);
    // ORDERING: Relaxed — a check of values the pin keeps fixed (class) or growing (bound).
    let class = slab.class.load(crate::sync::Ordering::Relaxed);
    let pins = slab.pins.load(crate::sync::Ordering::Relaxed);
    let ok = class != NO_CLASS
        && (class as usize) < NUM_CLASSES
        && pins & !crate::slab::slab::PIN_RELEASE_WANTED != 0
        && crate::slab::slab::divisor_of(class_size(class as usize)) == e.divisor();
    if !ok {
        fatal(
            "hint",
            "foreign owned-slab table entry for a slab not pinned or rebound",
            Where::ptr(ptr as usize),
        );
    }
}

/// The fast path's block check failed: abort with `check_block`'s message. (Declared to return,
/// so that the fast path calls it in tail position and needs no stack frame.) `free_owned`'s:
/// owned-only, as `double_free_owned`.
#[cold]
#[inline(never)]
extern "C" fn bad_block(slab: &Slab, ptr: *mut u8) {
    // SAFETY: only called by `free_owned`, for a slab the calling thread owns.
    let (class, carved) = unsafe { slab.local(|l| (l.class as usize, l.carved as usize)) };
    slab.check_block("free", ptr as usize, class, carved);
    fatal(
        "free",
        "block outside its slab or not on a block boundary",
        slab.whereis(ptr as usize, class),
    )
}

/// Frees through the SuperSlab hint cache or the registry: remote frees, owned-slab table misses,
/// large blocks, null and invalid pointers.
///
/// The fast paths' out-of-line callees (this, `bad_block`, `double_free_owned`, `small::spill`,
/// `alloc_slow`, `alloc_general`) are `extern "C"`: such a function cannot unwind (a panic aborts
/// inside it), so the preload library's `extern "C"` `malloc`/`free` need no abort-on-unwind
/// landing pad around the call and can make it a tail call — no stack frame on the fast path.
///
/// `ptr` comes first: it arrives in the first argument register of `free`, which can then jump
/// here without moving it.
///
/// # Safety
/// `ptr` is null or a live block of this allocator.
#[cfg_attr(not(hakmem_no_owned_table), inline(never))]
#[cfg_attr(hakmem_no_owned_table, inline(always))]
unsafe extern "C" fn free_unowned(ptr: *mut u8, h: &'static Heap) {
    let mut hint = Hint::Miss;
    if TLS_HINT {
        // SAFETY: read-only access to the calling thread's heap (sentinels included).
        hint = unsafe { (*h.local_ptr()).hint.lookup(ptr as usize) };
        if let Hint::Hit(ss) = hint {
            // Only a live heap has hint entries, so this is our own heap.
            h.counters.hint_hits.bump();
            if CHECKED {
                check_hint(ss, ptr);
            }
            // A block of a slab whose batch this thread holds joins it here, before the slab
            // record is read (`config::BATCH_HIT`; after the hint, so that the frees that miss
            // it — `free(NULL)`, medium and large blocks — pay nothing for it).
            if BATCH_HIT {
                let local = h.local_ptr();
                // SAFETY: our own live heap's batches (only a live heap has hint entries).
                if let Some(e) = unsafe { remote_batch::hit(&raw const (*local).remote, ptr) } {
                    // SAFETY: `hit` found `ptr` a carved block of the batch's slab.
                    return unsafe { free_batched(h, e.as_ptr(), ptr) };
                }
            }
            // SAFETY: the hint confirmed the SuperSlab at its current generation.
            return unsafe { free_small(h, &*ss, ptr) };
        }
    }
    // `free(NULL)` ends here, before `free_slow`'s frame is set up: programs that free every
    // slot they replace, empty or not, make it once per operation (`config::NULL_FREE_EARLY`).
    // (With `config::NULL_FREE_MISS` nothing passes null here: `free` returned at its table miss.)
    if NULL_FREE_EARLY && !NULL_FREE_MISS && ptr.is_null() {
        return;
    }
    // SAFETY: forwarded contract.
    unsafe { free_slow(h, ptr, hint == Hint::Stale) }
}

/// `config::BATCH_HIT`: the remote free of a block of a slab whose batch the calling thread
/// holds: `retire`'s steps after the boundary check (`remote_batch::hit` made it: a carved
/// block boundary of the batch's slab, which stays bound to the batch's class), the count
/// `free_remote` makes, the link into the batch. What `free_remote` does for a consumer's free,
/// less the hint, the slab record's loads and the owner compare. A heap that started to reuse the
/// class since the batch started (`foreign::may_keep`) keeps the block only after the batch is
/// pushed (at most `REMOTE_BATCH_MAX` blocks later).
///
/// # Safety
/// `e` is a batch of the calling thread's live heap `h` that `remote_batch::hit` returned for
/// `ptr`.
#[inline(always)]
unsafe fn free_batched(h: &'static Heap, e: *mut remote_batch::Batch, ptr: *mut u8) {
    // SAFETY: a batch of ours (the contract).
    let class = unsafe { (*e).class() };
    if CHECKED {
        // SAFETY: as above.
        check_batch_hit(unsafe { (*e).slab() }, ptr, class);
    }
    // SAFETY: `ptr` is a carved block boundary of the batch's slab (the contract); the boundary
    // check is `hit`'s.
    let block = unsafe { retire_block(ptr, ptr, class, |_| {}) };
    debug_assert!(h.kind == HeapKind::Live && class < NUM_CLASSES);
    // SAFETY: the batch's class is its slab's, a bound class, below `NUM_CLASSES` (`start`
    // took it from `free_remote`, which checked it); no bounds check, no panic path.
    unsafe { h.counters.free_remote.get_unchecked(class) }.bump();
    // SAFETY: a block of the batch's slab, checked and marked free above.
    unsafe { remote_batch::link(e, block, env::force_notify()) };
}

/// `checked`: a batch hit must be a small block of a bound slab of the batch's class, by the
/// registry and the slab's full check. (The calling thread may own the slab: an adoption since
/// the batch started; its blocks then reach it through its own queue.)
#[cold]
fn check_batch_hit(slab: *const Slab, ptr: *mut u8, class: usize) {
    let ss = match locate::lookup(ptr) {
        locate::Found::Small(ss) => ss.as_ptr(),
        _ => fatal(
            "remote",
            "batch hit outside a SuperSlab",
            Where::ptr(ptr as usize),
        ),
    };
    // SAFETY: a registered SuperSlab.
    let s = locate::data_slab(unsafe { &*ss }, ptr);
    if !core::ptr::eq(s, slab) || s.class.load(crate::sync::Ordering::Relaxed) as usize != class {
        fatal(
            "remote",
            "batch hit disagrees with its slab",
            Where::ptr(ptr as usize),
        );
    }
    s.check_block("remote", ptr as usize, class, blocks_per_slab(class));
}

/// `checked`: a hinted SuperSlab must still be the registry's answer and carry its magic.
#[cold]
fn check_hint(ss: *const SuperSlab, ptr: *mut u8) {
    // SAFETY: SuperSlab headers are never unmapped.
    let magic = unsafe { (*ss).magic };
    if magic != SUPERSLAB_MAGIC || registry::lookup(ptr as usize) != ss as *mut RegionHead {
        fatal(
            "hint",
            "hinted SuperSlab is not the registry's answer",
            Where::ptr(ptr as usize),
        );
    }
}

#[cold]
#[inline(never)]
unsafe extern "C" fn free_slow(mut h: &'static Heap, ptr: *mut u8, stale: bool) {
    if ptr.is_null() {
        return;
    }
    if FREER_HEAP && h.kind == HeapKind::Empty && !crate::hook::running() {
        // A thread that only frees (a consumer) gets its heap now, as at a first allocation
        // (`config::FREER_HEAP`); `DEAD` threads never get one back. A free holds no lock of ours
        // (except one made by a test hook, `hook::running`), and what `init_current` may
        // allocate finds the new heap in place. Without metadata memory the free goes on
        // heapless.
        if let Some(live) = thread::init_current() {
            h = live;
        }
    }
    // No `Heap::busy` window here: what below changes a forked child's takeover reads marks its
    // own (`medium::free`, `small::spill`, `own_slab` in `free_owned_untabled`, a foreign keep);
    // the hint cache is only cleared by the takeover, never read.
    if TLS_HINT {
        if stale {
            h.count(|c| &c.hint_stale);
            trace::record(
                Event::HintStale,
                ptr as usize,
                ptr as usize & !crate::config::SUPERSLAB_MASK,
                0,
                0,
                0,
            );
        } else {
            h.count(|c| &c.hint_misses);
        }
    }
    h.count(|c| &c.registry_lookups);
    let ss = match locate::lookup(ptr) {
        // SAFETY: the registry confirmed a large block.
        locate::Found::Large(r) => return unsafe { large::free(r, ptr, h.prof_shard) },
        locate::Found::Medium(s) => {
            medium::end_sample_if_marked(s, ptr, h);
            // SAFETY: the registry confirmed a span.
            return unsafe { medium::free(h, s, ptr, mark::key()) };
        }
        locate::Found::Small(ss) => ss.as_ptr(),
    };
    if TLS_HINT && h.kind == HeapKind::Live && env::tls_hint() {
        // SAFETY: our own live heap; the generation read now is the one the registry vouched for.
        unsafe { h.local_mut().hint.insert(ss, (*ss).generation()) };
    }
    // SAFETY: a registered SuperSlab.
    unsafe { free_small(h, &*ss, ptr) }
}

/// Frees a small block of SuperSlab `ss`: local if the calling thread owns its slab, else remote.
#[inline(always)]
unsafe fn free_small(h: &'static Heap, ss: &SuperSlab, ptr: *mut u8) {
    let slab = locate::data_slab(ss, ptr);
    if slab.is_owned_by(h.owner_ptr()) {
        // SAFETY: we own the slab.
        unsafe { free_owned_untabled(h, slab, ptr) }
    } else {
        // SAFETY: forwarded contract.
        unsafe { free_remote(h, slab, ptr) }
    }
}

/// A local free that missed the owned-slab table. Out of line (with the table), so that
/// `free_unowned` needs no stack frame of its own and reaches `free_remote` with a jump.
///
/// # Safety
/// The calling thread owns `slab` (so `h` is its live heap) and `ptr` lies in it.
#[cfg_attr(not(hakmem_no_owned_table), inline(never))]
#[cfg_attr(hakmem_no_owned_table, inline(always))]
unsafe extern "C" fn free_owned_untabled(h: &'static Heap, slab: &Slab, ptr: *mut u8) {
    h.counters.local_unowned.bump();
    if OWNED_TABLE && env::tls_hint() {
        // An owned slab the table does not hold (another slab took its entry): enter it again,
        // so that the next free of its blocks takes the fast path. Only a live heap owns slabs,
        // so this is our own live heap.
        let _busy = h.busy();
        // SAFETY: as above; the calling thread's heap.
        small::own_slab(unsafe { h.local_mut() }, slab);
    }
    // SAFETY: we own the slab.
    unsafe { free_local(h, slab, ptr) }
}

/// Aborts if `block` carries the freed mark: it is already free (on a TLS list, a slab free list
/// or a remote queue). Headerless mode only; header mode detects this through the header magic.
#[inline(always)]
fn check_not_free(block: *mut u8, class: usize, key: usize) {
    if FREE_MARK
        // SAFETY: `block` is a checked block boundary inside one of our data slabs.
        && unsafe { Block::is_marked_free(NonNull::new_unchecked(block.cast()), key) }
    {
        double_free(block, class);
    }
}

#[cold]
#[inline(never)]
fn double_free(block: *mut u8, class: usize) -> ! {
    let base = block as usize & !crate::config::SUPERSLAB_MASK;
    fatal(
        "double-free",
        "block freed twice (it carries the freed-block mark)",
        Where {
            ptr: block as usize,
            superslab: Some(base),
            slab: Some(SuperSlab::slab_index(block as usize)),
            class: Some(class),
            generation: None,
        },
    )
}

/// valgrind: the block at `ptr` (block start headerless; user pointer with header) dies here for
/// memcheck — an "Invalid free()" if it was not live — and header mode's header becomes no-access.
/// Called after the boundary checks, before the freed-mark check and the push read and write the
/// block's first words (ordering rules in valgrind.rs).
#[inline(always)]
fn tell_memcheck_freed(ptr: *mut u8) {
    valgrind::freelike(ptr);
    if !HEADERLESS {
        valgrind::make_noaccess(ptr.wrapping_sub(header::HEADER_SIZE), header::HEADER_SIZE);
    }
}

/// Marks a block that is about to go on a free list (headerless mode).
#[inline(always)]
fn mark_free(block: *mut u8, key: usize) {
    if FREE_MARK {
        // SAFETY: a block of ours, being freed by the caller.
        unsafe { Block::mark_free(NonNull::new_unchecked(block.cast()), key) };
    }
}

/// The checks and marks every freed small block goes through, local or remote, in this order:
/// the block start (header mode: read and cleared from the header), the boundary check
/// `check_boundary` (the first `carved` blocks for the holder, the shared carve bound for a remote
/// freer), memcheck, the double-free check and the freed mark. Returns the block, ready for a
/// free list.
///
/// # Safety
/// `ptr` lies in `slab`, a bound data slab of class `class`.
#[inline(always)]
unsafe fn retire(
    slab: &Slab,
    ptr: *mut u8,
    class: usize,
    check_boundary: impl FnOnce(usize),
) -> NonNull<Block> {
    let block = if HEADERLESS {
        ptr
    } else {
        // The two-word check of the owned fast path first; anything else (a larger alignment's
        // offset, a bad header) takes the full check, which names the problem.
        // SAFETY: `ptr` is in one of our data slabs, so the 16 bytes before it are mapped.
        match unsafe { header::take_fast(ptr, header::tag(class)) } {
            Some(block) => block,
            // SAFETY: as above.
            None => unsafe { take_header(slab, ptr, class) },
        }
    };
    // SAFETY: forwarded contract; `block` is the block start (header mode: checked above).
    unsafe { retire_block(block, ptr, class, check_boundary) }
}

/// `retire` without header mode's full check: `None` when the header's two-word check does not
/// pass (a larger alignment's offset, a bad header), so that the caller can start again with
/// `retire` out of line, by a tail call, and keep no stack frame for the full check's call. The
/// caller pushes the block it returns on a list, which consumes the header.
///
/// # Safety
/// As for `retire`.
#[inline(always)]
unsafe fn retire_fast(
    ptr: *mut u8,
    class: usize,
    check_boundary: impl FnOnce(usize),
) -> Option<NonNull<Block>> {
    let block = if HEADERLESS {
        ptr
    } else {
        // The caller pushes the block on the slab's remote queue: the link that push writes over
        // the tag consumes the header. A remote batch (`config::REMOTE_BATCH`, and the consumer
        // batch of `config::CONSUMER_BATCH`) links the block it starts with only when it
        // flushes: the tag is cleared now.
        // SAFETY: `ptr` is in one of our data slabs, so the 16 bytes before it are mapped.
        if !unsafe { header::is_live_fast(ptr, header::tag(class)) } {
            return None;
        }
        if REMOTE_BATCH || CONSUMER_BATCH {
            // SAFETY: as above; the header checked above, of a block being freed.
            return Some(unsafe { retire_block(header::consume(ptr), ptr, class, check_boundary) });
        }
        ptr.wrapping_sub(header::HEADER_SIZE)
    };
    // SAFETY: forwarded contract; `block` is the block start (header mode: checked above).
    Some(unsafe { retire_block(block, ptr, class, check_boundary) })
}

/// `retire`'s steps after the block start is known: the boundary check, memcheck, the
/// double-free check and the freed mark.
///
/// # Safety
/// As for `retire`; `block` is the start of the block `ptr` names.
#[inline(always)]
unsafe fn retire_block(
    block: *mut u8,
    ptr: *mut u8,
    class: usize,
    check_boundary: impl FnOnce(usize),
) -> NonNull<Block> {
    check_boundary(block as usize);
    tell_memcheck_freed(ptr);
    // One load of the key for the check and the mark (an atomic load is not merged).
    let key = if FREE_MARK { mark::key() } else { 0 };
    check_not_free(block, class, key);
    mark_free(block, key);
    // SAFETY: a checked block boundary inside the slab, so not null.
    unsafe { NonNull::new_unchecked(block.cast::<Block>()) }
}

/// Header mode: `retire`'s full header check (`header::take`), out of line: the block start, or
/// an abort naming the problem.
///
/// # Safety
/// `ptr` lies in `slab`, a bound data slab of class `class`.
#[cold]
#[inline(never)]
unsafe fn take_header(slab: &Slab, ptr: *mut u8, class: usize) -> *mut u8 {
    let at = slab.whereis(ptr as usize, class);
    // SAFETY: per the contract: `ptr` is in one of our data slabs.
    ptr.wrapping_sub(unsafe { header::take(ptr, class, class_size(class), at) })
}

/// Pushes the block on the owner's own TLS list; spills when over the cap.
#[inline(always)]
unsafe fn free_local(h: &'static Heap, slab: &Slab, ptr: *mut u8) {
    // SAFETY: we own the slab.
    let (class, carved) = unsafe { slab.local(|l| (l.class as usize, l.carved as usize)) };
    // SAFETY: we own the slab, so it is bound to `class`.
    let block = unsafe {
        retire(slab, ptr, class, |b| {
            slab.check_block("free", b, class, carved)
        })
    };
    if !DERIVED_FREE_COUNT {
        h.counters.class[class].free_local.bump();
    }
    // SAFETY: a checked block of a slab we own, pushed on our own live heap's list (only a live
    // heap can own a slab).
    unsafe {
        if TlsList::push(h.free_list(class), block) {
            small::spill(h, class);
        }
    }
}

/// `free_remote`'s boundary check failed: abort with `check_block`'s message.
#[cold]
#[inline(never)]
fn bad_remote_block(slab: &Slab, block: usize, class: usize) -> ! {
    slab.check_block("remote", block, class, blocks_per_slab(class));
    fatal(
        "remote",
        "not a block boundary among the slab's carved blocks",
        slab.whereis(block, class),
    )
}

/// `free_remote` found the slab unbound (or its class out of range): abort. Out of line, so that
/// `free_remote` needs no stack frame for the message.
#[cold]
#[inline(never)]
fn free_in_unbound_slab(ptr: *mut u8) -> ! {
    fatal(
        "superslab",
        "pointer into a free slab (double free or invalid pointer)",
        Where::ptr(ptr as usize),
    )
}

/// Pushes the block on its slab's remote queue (and notifies the owner if needed).
#[inline(never)]
unsafe extern "C" fn free_remote(h: &'static Heap, slab: &Slab, ptr: *mut u8) {
    // SAFETY: forwarded contract.
    unsafe { free_remote_in::<false>(h, slab, ptr) }
}

/// Header mode: `free_remote`'s two-word header check did not pass: the same free with the full
/// check, which aborts naming the problem or finds a larger alignment's block start.
///
/// # Safety
/// As for `free_remote`.
#[cold]
#[inline(never)]
unsafe extern "C" fn free_remote_header(h: &'static Heap, slab: &Slab, ptr: *mut u8) {
    // SAFETY: forwarded contract.
    unsafe { free_remote_in::<true>(h, slab, ptr) }
}

/// `free_remote`'s body; `FULL`: header mode's full header check in line (else a header that
/// fails the two-word check goes to `free_remote_header`).
///
/// # Safety
/// `ptr` lies in `slab`, a data slab of ours that the calling thread does not own.
#[inline(always)]
unsafe fn free_remote_in<const FULL: bool>(h: &'static Heap, slab: &Slab, ptr: *mut u8) {
    let class = slab.class.load(crate::sync::Ordering::Relaxed) as usize;
    // One compare: `NO_CLASS` (unbound) is above every class. Spelled as two, the build with
    // foreign entries kept both (two more instructions per remote free).
    const _: () = assert!(NO_CLASS as usize >= NUM_CLASSES);
    if class >= NUM_CLASSES {
        free_in_unbound_slab(ptr);
    }
    // The slab's data address: the record's `data` (on the holder's line), or the same value
    // from the freed pointer, which `locate::data_slab` placed in this slab
    // (`config::OWNER_REMOTE_LINE`: no read of the holder's line).
    let data = if OWNER_REMOTE_LINE {
        ptr as usize & !(SLAB_SIZE - 1)
    } else {
        slab.data() as usize
    };
    debug_assert_eq!(data, slab.data() as usize);
    // A non-owner cannot read the carve cursor; it bounds the block by the slab's shared carve
    // bound (`Slab::carve_bound`), so that only carved blocks reach the queue, whose short chains
    // the owner takes unwalked.
    let check_boundary = |b: usize| {
        let off = b.wrapping_sub(data);
        // ORDERING: Relaxed — see `Slab::carve_bound`.
        let carved = slab.carve_bound.load(crate::sync::Ordering::Relaxed) as usize;
        if !is_block_offset(class, off, carved) {
            bad_remote_block(slab, b, class);
        }
    };
    let block = if FULL {
        // SAFETY: the slab is bound to `class` (checked above).
        unsafe { retire(slab, ptr, class, check_boundary) }
    } else {
        // SAFETY: as above.
        match unsafe { retire_fast(ptr, class, check_boundary) } {
            Some(block) => block,
            // SAFETY: forwarded contract.
            None => return unsafe { free_remote_header(h, slab, ptr) },
        }
    };
    // A freer that allocates the class (`config::FOREIGN_REUSERS`) may keep the block
    // (front/foreign.rs, whose `keep_or_push` counts the free and tests the rest out of line);
    // a thread that only frees the class (a consumer) pays this one test, which also says its
    // heap is live (a sentinel's bytes are set), and pushes on the queue as before.
    if FOREIGN_ENTRIES {
        if foreign::may_keep(h, class) {
            let _busy = h.busy();
            // SAFETY: a checked, marked block of this slab, being freed by the caller.
            return unsafe { foreign::keep_or_push(h, slab, block, class) };
        }
        debug_assert!(h.kind == HeapKind::Live);
        h.counters.free_remote[class].bump();
    } else {
        h.count(|c| &c.free_remote[class]);
    }
    // `config::CONSUMER_BATCH`: `may_keep` said the heap is live. Forced notifications (the
    // `force-notify` feature's switch, folded to false without it) push every block at once:
    // one notification per remote free, as that switch promises.
    if CONSUMER_BATCH && !env::force_notify() || REMOTE_BATCH && h.kind == HeapKind::Live {
        // No `Heap::busy` window: the batches are thread-private and a forked child's takeover
        // leaves them alone (their blocks stay counted in their slabs: leaked, bounded).
        // SAFETY: our own live heap; a checked block of this slab, being freed by the caller.
        return unsafe {
            h.local_mut()
                .remote
                .add(slab, block, class, env::force_notify())
        };
    }
    // SAFETY: a checked block of this slab, being freed by the caller.
    unsafe { slab.free_remote(block, env::force_notify()) };
}
