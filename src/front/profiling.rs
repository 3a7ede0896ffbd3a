//! How small requests reach the profiler's sampling decision without a cost on the fast path:
//! a profiled heap's TLS list is bounded by its class's countdown, so the list's own empty check
//! — the branch the fast path has anyway — also ends at the sampling point (tcmalloc folds its
//! sampler into the size-class fast path the same way).
//!
//! Sampling per class: a small request of class `c` (block size `s`) is sampled with probability
//! `p = 1 - exp(-s / mean)`, the probability of a request of `s` bytes under the byte countdown
//! (`prof::Sampler`), and stands for `1 / p` requests. The number of unsampled requests before
//! the next sampled one is then geometric, `floor(E / s)` for an exponential draw `E` of mean
//! `mean` bytes; each class keeps its own count (`HeapLocal::ahead`). Independent per-class
//! processes of the same rate add up to the same Poisson process over bytes, so every request
//! keeps its probability whatever the other classes do; the profile reports the requested
//! size, weighted by the class's `1 / p` (`prof::alloc_sampled_as`), which keeps byte and object
//! estimates unbiased.
//!
//! Mechanism (a heap is *profiled* while the profiler is on; `sync` switches it), with
//! `config::PROF_POP_COUNTDOWN` (the default):
//! - Each class's countdown sits in the pop's stats slot (`HeapCounters::class[c].alloc_fast`,
//!   next to the TLS list); the fast path decrements it once it has found the list's head and,
//!   when it goes below zero, tail-calls `alloc::pop_trap`, which pops the block (`trap` here). A profiled heap's countdown is the
//!   class's unsampled run, `floor(E / class size)` (`draw`); at the trap the block goes back on
//!   the list, the prof box serves the request (`prof::alloc_sampled_as`) and the countdown is
//!   redrawn. Requests whose pop misses count down in `alloc::alloc_miss_profiled`, without
//!   counting as pops. An unprofiled heap's countdown sits at `COUNTDOWN_OFF` (2^62 pops).
//! - So a profiled heap keeps one LIFO list per class exactly as an unprofiled one: no free
//!   side, no relink, no swaps; the next request takes the block freed last (tests/profile.rs
//!   `profiled_requests_reuse_the_blocks_freed_last`). `enter`/`leave` only set the countdowns
//!   (`switch_countdowns`).
//! - The pops for stats are derived (`HeapCounters::alloc_fast_now`): the countdown is touched by
//!   its thread only (plain accesses, so that the step is one `decq` on memory), which publishes
//!   what it counted at each reset, miss, thread exit and own `stats()` call.
//!
//! With the backout (`--cfg hakmem_no_prof_pop_countdown`, `config::PROF_FREE_SIDE`):
//! - Frees push on `freed[c]`, not on `tls[c]`: every owned slab's list pointer names the
//!   free-side list (`relink`, and `small::own_slab` through `HeapLocal::free_list`), and the
//!   out-of-line frees push on `Heap::free_list`. So `tls[c]` only shrinks between refills.
//! - Invariant: `tls[c]` holds at most as many blocks as remain to be handed out unsampled; those
//!   blocks are debited from the countdown when they are put on the list (`fill`) and credited
//!   back if they leave it any other way than the fast path's pop (`HeapLocal::credit`).
//! - When the fast path's pop misses (`alloc::alloc_miss`): if the countdown is at zero the
//!   request is sampled (`countdown`), else it takes one unit; then `refill` serves a block from
//!   the free side (or the slabs) and moves at most `ahead[c]` blocks onto `tls[c]` — in one
//!   step (the two lists swap) when the free side fits, as usual. That usual case — the
//!   countdown covers the request and the whole free side — is `swap_miss`, in one step inside
//!   `alloc_miss` (`config::PROF_SWAP_MISS`), before the miss makes any call
//!   (`alloc::miss_here`, `config::PROF_MISS_HERE`). The pops hand out blocks freed a swap ago
//!   (cold: docs/benchmarks.md "Session 23: prof23").
//!
//! Requests that do not take the small fast path (aligned, large, medium, zero-size) are counted
//! by the byte countdown at the top of `alloc_general`.
//!
//! Cost when off: one instruction on the alloc fast path (the countdown's `js`; its `decq`
//! replaces the stats `incq`, or is new without `stats`), and one flag test on the general path
//! and on each miss (callgrind per malloc+free pair: docs/benchmarks.md "Session 24: pop24").
//! When on: the sampled request's trap; the fast paths and lists are as when off. (Backout: the
//! fast paths as without the feature; a refill swaps two lists.)
//!
//! Switching: a heap is switched by its own thread only (its lists are thread-owned), on the
//! slow paths — each refill and spill, each countdown trap, heap creation, and `thread::start_profiling`/
//! `stop_profiling` (`hakmem::profile::start`/`stop`) for the calling thread.
//! Other running threads follow at their next refill or spill (jemalloc's `prof.active` likewise
//! reaches a thread at its next sample event).
//!
//! Boundary: the switch, the countdown's bookkeeping on the TLS lists; sampling itself is the
//! `prof` box.

use core::ptr::NonNull;

use crate::config::{PROF_FIELD_SWAP, PROF_POP_COUNTDOWN, PROF_SPILL_TOP, TABLE32};
use crate::front::heap::{Heap, HeapLocal, UNDRAWN};
use crate::front::small;
use crate::front::tls_sll::TlsList;
use crate::list;
use crate::lock::{Rank, SpinLock};
use crate::prof;
use crate::size_class::{class_size, NUM_CLASSES};
use crate::slab::block::{Block, BlockPtr};
use crate::slab::slab::Slab;
use crate::stats::COUNTDOWN_OFF;

/// Serialises the switch's writers (`thread::start_profiling`/`stop_profiling`).
static SWITCH: SpinLock<()> = SpinLock::new(Rank::ProfSwitch, ());

/// Sets the profiler's switch; each heap follows it on its own thread (`sync`).
pub fn set_switch(on: bool) {
    SWITCH.with(|_| prof::set_on(on));
}

/// Brings the calling thread's heap to the profiler's switch; returns whether it is profiled.
///
/// # Safety
/// `h` is the calling thread's own live heap (or one it is taking); no reference to its local
/// state is alive.
#[inline]
pub unsafe fn sync(h: &Heap) -> bool {
    let on = prof::is_on();
    // SAFETY: per the contract.
    let profiled = unsafe { (*h.local_ptr()).profiled };
    if on != profiled {
        // Entering or leaving rewrites the owned table's entries and drops its foreign ones
        // (`relink`), which a forked child's takeover reads: a slow-path window (`Heap::busy`).
        let _busy = h.busy();
        if PROF_POP_COUNTDOWN {
            // SAFETY: per the contract.
            unsafe { switch_countdowns(h, on) };
        } else if on {
            // SAFETY: per the contract.
            enter(h, unsafe { h.local_mut() });
        } else {
            // SAFETY: per the contract.
            unsafe { leave(h) };
        }
    }
    on
}

/// `config::PROF_POP_COUNTDOWN`: profiles the heap (`on`: the byte countdown starts afresh and
/// every class countdown at a fresh draw) or stops (every class countdown at `COUNTDOWN_OFF`).
/// The lists stay as they are.
///
/// # Safety
/// As for `sync`.
unsafe fn switch_countdowns(h: &Heap, on: bool) {
    // SAFETY: per the contract; the reference ends before the function does.
    let local = unsafe { h.local_mut() };
    if on {
        local.sampler = prof::Sampler::new();
    }
    local.profiled = on;
    for c in 0..NUM_CLASSES {
        let v = if on {
            draw_countdown(local, c)
        } else {
            COUNTDOWN_OFF
        };
        // SAFETY: per the contract, the calling thread's own heap.
        unsafe { h.counters.reset_countdown(c, v, 0) };
    }
}

/// `draw` as a class countdown's value (`config::PROF_POP_COUNTDOWN`), below `COUNTDOWN_OFF`.
fn draw_countdown(local: &mut HeapLocal, c: usize) -> u64 {
    (draw(local, c) as u64).min(COUNTDOWN_OFF - 1)
}

/// A fresh class countdown for class `c` of the calling thread's profiled heap
/// (`config::PROF_POP_COUNTDOWN`), for `HeapCounters::reset_countdown`.
///
/// # Safety
/// `h` is the calling thread's own live heap; no reference to its local state is alive.
pub unsafe fn redraw(h: &Heap, c: usize) -> u64 {
    // SAFETY: per the contract.
    draw_countdown(unsafe { h.local_mut() }, c)
}

/// Serves a sampled small request of `size` bytes, class `c`, through the prof box
/// (`prof::alloc_sampled_as`, weighted by the class's size); null when it has no memory. The
/// calling thread's profiled heap: the countdown trap's, and the profiled miss's (either design).
///
/// # Safety
/// `h` is the calling thread's own live heap; no reference to its local state is alive.
pub unsafe fn sample_class(h: &Heap, c: usize, size: usize) -> *mut u8 {
    // SAFETY: per the contract; the reference lives through the prof box's call, which does not
    // reach the heap.
    let last = unsafe { h.local_mut() }.sampler.last_stack();
    prof::alloc_sampled_as(
        size,
        crate::config::MIN_ALIGN,
        false,
        class_size(c),
        last,
        h.prof_shard,
    )
}

/// The pop of block `b` of class `c` sent its class countdown below zero
/// (`config::PROF_POP_COUNTDOWN`; `front::alloc::pop_trap`). The heap follows the switch first.
/// Profiled, with the countdown still below zero: this request (of `size` bytes) is the sampled
/// one; the prof box serves it, `b` goes back on the list (as before the pop, so the trapping
/// pop does not count as one), the countdown is redrawn, and the sampled pointer is returned.
/// `None`: hand `b` out (unprofiled — its countdown, if still below zero, restarts at
/// `COUNTDOWN_OFF` —, just profiled with a fresh countdown, or no memory for the sample).
///
/// # Safety
/// `h` is the calling thread's own live heap; no reference to its local state is alive; `b` was
/// just popped from its TLS list of class `c`.
pub unsafe fn trap(h: &Heap, b: NonNull<Block>, c: usize, size: usize) -> Option<*mut u8> {
    // SAFETY: per the contract.
    let on = unsafe { sync(h) };
    // SAFETY: per the contract (here and for every countdown access below).
    let below = unsafe { h.counters.countdown(c) } < 0;
    if !below {
        // `sync` just profiled the heap and drew it; the trapping pop was counted in the run
        // that the reset closed.
        return None;
    }
    if !on {
        // SAFETY: see above.
        unsafe { h.counters.reset_countdown(c, COUNTDOWN_OFF, 0) };
        return None;
    }
    // SAFETY: per the contract.
    let p = unsafe { sample_class(h, c, size) };
    // SAFETY: per the contract.
    let v = unsafe { redraw(h, c) };
    if p.is_null() {
        // SAFETY: see above.
        unsafe { h.counters.reset_countdown(c, v, 0) };
        return None;
    }
    // SAFETY: `b` was just popped from this list of the calling thread's heap, so pushing it
    // back restores the list as it was (its length included: never over a cap it was not over).
    unsafe { TlsList::push(h.tls(c), b) };
    // SAFETY: see above.
    unsafe { h.counters.reset_countdown(c, v, 1) };
    Some(p)
}

/// An unsampled run of class `c`: `floor(E / class size)` requests for a fresh exponential draw
/// (below `UNDRAWN`).
fn draw(local: &mut HeapLocal, c: usize) -> usize {
    let e = local.sampler.interval();
    usize::try_from(e / class_size(c) as u64).map_or(UNDRAWN - 1, |n| n.min(UNDRAWN - 1))
}

/// The class countdown of `c`, drawn if it was not yet.
#[inline]
fn drawn(local: &mut HeapLocal, c: usize) -> usize {
    if local.ahead[c] == UNDRAWN {
        local.ahead[c] = draw(local, c);
    }
    local.ahead[c]
}

/// Profiles the heap: what its TLS lists hold goes to the free side (uncounted), every countdown
/// starts at a fresh draw (the class countdowns at their first use), and the owned slabs' list pointers move to the free side.
fn enter(h: &Heap, local: &mut HeapLocal) {
    // The byte countdown too starts afresh (at the current interval).
    local.sampler = prof::Sampler::new();
    for c in 0..NUM_CLASSES {
        debug_assert!(local.freed[c].head.is_null());
        // The swap is no free (`config::DERIVED_FREE_COUNT`).
        let frees = h.rooms(local, c);
        swap_lists(&mut local.tls[c], &mut local.freed[c]);
        h.settle(local, c, frees);
        // `taken` described the list that now is the free side; left set, `spill` would return
        // one block per free past the cap there until a refill found the free side empty (as in
        // `refill`).
        local.taken[c] = false;
        local.ahead[c] = UNDRAWN;
    }
    local.profiled = true;
    relink(local);
}

/// Stops profiling the heap: the free side's blocks join the TLS lists (spilled down if that
/// makes a list exceed its cap), and the owned slabs' list pointers move back.
///
/// # Safety
/// As for `sync`.
unsafe fn leave(h: &Heap) {
    // SAFETY: per the contract. From here `spill` spills the TLS lists.
    unsafe { h.local_mut().profiled = false };
    for c in 0..NUM_CLASSES {
        // SAFETY: per the contract; the reference ends before `spill` takes its own.
        let over = unsafe {
            let local = h.local_mut();
            // Joining the lists is no free (`config::DERIVED_FREE_COUNT`).
            let frees = h.rooms(local, c);
            let freed = core::mem::replace(&mut local.freed[c].head, core::ptr::null_mut());
            let n = local.freed[c].len();
            local.freed[c].set_len(0);
            if let Some(first) = NonNull::new(freed) {
                let mut tail = first;
                for _ in 1..n {
                    tail = NonNull::new_unchecked(Block::next(tail));
                }
                TlsList::push_batch(&mut local.tls[c], first.as_ptr(), tail.as_ptr(), n);
            }
            // The free side's `taken` (`config::PROF_SPILL_TOP`) does not describe the joined
            // list: it spills as a general one.
            local.taken[c] = false;
            h.settle(local, c, frees);
            local.tls[c].len() > local.tls[c].cap as usize
        };
        if over {
            // SAFETY: per the contract.
            unsafe { small::spill(h, c) };
        }
    }
    // SAFETY: per the contract.
    relink(unsafe { h.local_mut() });
}

/// Points every owned slab's list pointer at the list its frees now push on (`free_list`), and
/// its owned-slab table entry's copy with it (`config::TABLE32`: the free fast path pushes on the
/// entry's pointer, not the slab's).
fn relink(local: &mut HeapLocal) {
    // Foreign entries (front/foreign.rs) name the list the heap's frees pushed on before the
    // switch (`tls`, or with `config::PROF_FOREIGN` a profiled heap's free side): all dropped, so
    // that `foreign::keep` enters them afresh with the new one. Their kept blocks stay on the
    // lists, counted in their slabs' `used`.
    if crate::config::FOREIGN_ENTRIES {
        local.owned_mut().drop_all_foreign();
    }
    for c in 0..NUM_CLASSES {
        let to = local.free_list(c).cast::<()>();
        let cs = local.slabs[c];
        if !cs.cur.is_null() {
            // SAFETY: slabs on our lists are ours.
            unsafe { (*cs.cur).local(|l| l.tls = to) };
            if TABLE32 {
                // SAFETY: as above.
                local.owned_mut().refresh(unsafe { &*cs.cur });
            }
        }
        for head in [cs.partial, cs.full] {
            let mut s: *mut Slab = head;
            while !s.is_null() {
                // SAFETY: as above.
                unsafe {
                    (*s).local(|l| l.tls = to);
                    if TABLE32 {
                        local.owned_mut().refresh(&*s);
                    }
                    s = list::next(s);
                }
            }
        }
    }
}

/// The sampling decision for a request of class `c` whose pop missed on a profiled heap: true
/// when the countdown is at zero (the request is sampled; the countdown restarts at a fresh
/// draw), else one unsampled request is counted.
///
/// # Safety
/// `h` is the calling thread's own live, profiled heap; no reference to its local state is alive.
#[inline]
pub unsafe fn countdown(h: &Heap, c: usize) -> bool {
    // SAFETY: per the contract.
    let local = unsafe { h.local_mut() };
    if drawn(local, c) == 0 {
        local.ahead[c] = draw(local, c);
        return true;
    }
    local.ahead[c] -= 1;
    false
}

/// The usual miss of a profiled heap in one step (`config::PROF_SWAP_MISS`): when the class is
/// drawn and its countdown covers the request and the whole free side (`ahead[c] >= n`, `n >= 1`
/// blocks there), the request takes the free side's top block unsampled and the two lists swap,
/// the rest debited — what `countdown` then `refill` do on that path, without their calls and
/// checks. Null when the countdown ends within the free side, the class is not drawn yet or the
/// free side is empty: `countdown` and `refill` decide.
///
/// # Safety
/// As for `countdown`; the TLS list of class `c` is empty (its pop missed).
#[inline(always)]
pub unsafe fn swap_miss(h: &Heap, c: usize) -> BlockPtr {
    // SAFETY: per the contract.
    let local = unsafe { h.local_mut() };
    let n = local.freed[c].len();
    let a = local.ahead[c];
    // `UNDRAWN + 1` wraps to 0: an undrawn class takes the slow path, as an empty free side does.
    if n == 0 || a.wrapping_add(1) <= n {
        return core::ptr::null_mut();
    }
    debug_assert!(local.tls[c].head.is_null());
    local.ahead[c] = a - n;
    // The pop and the swap are no free (`config::DERIVED_FREE_COUNT`).
    let frees = h.rooms(local, c);
    if !PROF_FIELD_SWAP {
        // SAFETY: per the contract, the heap's own list, not empty.
        let b = unsafe { TlsList::pop(&mut local.freed[c]) };
        swap_wide(&mut local.tls[c], &mut local.freed[c]);
        h.settle(local, c, frees);
        return b;
    }
    // The pop and the swap in one, every field read at the width it was last written with
    // (`swap_lists`). The TLS list is empty, so its `room` is its `cap`.
    let (tls, freed) = (&mut local.tls[c], &mut local.freed[c]);
    // SAFETY: reads of initialised fields through valid references; volatile as in `swap_lists`.
    let (tls_cap, freed_cap) = unsafe {
        (
            core::ptr::read_volatile(&tls.cap),
            core::ptr::read_volatile(&freed.cap),
        )
    };
    // SAFETY: per the contract, the free side's top block (`n >= 1`), of the heap's own slabs.
    let b = unsafe { NonNull::new_unchecked(freed.head) };
    // SAFETY: as above.
    let next = unsafe { Block::next(b) };
    tls.head = next;
    tls.cap = freed_cap;
    tls.set_len(n - 1);
    freed.head = core::ptr::null_mut();
    freed.cap = tls_cap;
    freed.set_len(0);
    h.settle(local, c, frees);
    TlsList::popped(b, next);
    b.as_ptr()
}

/// Swaps a heap's two lists of one class (`config::PROF_FIELD_SWAP`: field by field, each read
/// at its own width). `mem::swap` reads each list as 16 bytes; the pop, the free fast path's push
/// and `small::refill` have just stored its `room` with 4 bytes (and `head` with 8), and a load
/// wider than the store it overlaps cannot be forwarded from the store buffer: it waits for the
/// store to reach the cache (perf `cpu-clock`: half of `alloc_miss`'s and of
/// `profiling::refill`'s samples on that load; docs/benchmarks.md "Session 15: prof17").
#[inline(always)]
fn swap_lists(a: &mut TlsList, b: &mut TlsList) {
    if !PROF_FIELD_SWAP {
        swap_wide(a, b);
        return;
    }
    // SAFETY: reads of initialised fields through valid references. Volatile only so that the
    // compiler keeps `room` and `cap` two 4-byte reads instead of merging them into one 8-byte
    // read (which `room`'s 4-byte store could not forward either). `room()` is a plain read of
    // the owner's own word (`TlsList::room`); the volatile `cap` read beside it cannot be merged
    // into it.
    let (a_room, a_cap, b_room, b_cap) = unsafe {
        (
            a.room(),
            core::ptr::read_volatile(&a.cap),
            b.room(),
            core::ptr::read_volatile(&b.cap),
        )
    };
    core::mem::swap(&mut a.head, &mut b.head);
    a.set_room(b_room);
    a.cap = b_cap;
    b.set_room(a_room);
    b.cap = a_cap;
}

/// The swap of `--cfg hakmem_no_prof_field_swap`: each list read whole (the 16-byte loads that
/// `PROF_FIELD_SWAP` removed), its fields written back one by one, `room` with an atomic store
/// (`stats()` may be reading it from another thread; a `mem::swap` would write it with a plain
/// store, a data race).
#[inline(always)]
fn swap_wide(a: &mut TlsList, b: &mut TlsList) {
    // SAFETY: reads of initialised lists through valid references; the copies are only read
    // (their fields are plain data, nothing is dropped twice).
    let (x, y) = unsafe { (core::ptr::read(a), core::ptr::read(b)) };
    a.head = y.head;
    a.cap = y.cap;
    a.set_room(y.room.into_inner());
    b.head = x.head;
    b.cap = x.cap;
    b.set_room(x.room.into_inner());
}

/// A profiled heap's refill of class `c`, whose TLS list is empty: one block (not counted here:
/// the caller has counted it, or it is a request the byte countdown counts) from the free side or
/// the slabs; then the TLS list is filled from the free side with at most `ahead[c]` blocks,
/// debited. Null if the OS refuses memory.
///
/// # Safety
/// As for `countdown`.
pub unsafe fn refill(h: &Heap, c: usize) -> BlockPtr {
    // The pop, the swap and the fill are no free (`config::DERIVED_FREE_COUNT`); `small::refill`
    // settles its own change (settles do not nest).
    // SAFETY: per the contract.
    let mut rooms = unsafe { h.rooms_now(c) };
    // SAFETY: per the contract.
    let mut b = unsafe { TlsList::pop(&mut h.local_mut().freed[c]) };
    if b.is_null() {
        // SAFETY: per the contract. `small::refill` leaves the rest of its batch on the (empty)
        // TLS list: it goes to the (empty) free side, uncounted.
        b = unsafe { small::refill(h, c) };
        // SAFETY: per the contract; `small::refill`'s reference has ended.
        let local = unsafe { h.local_mut() };
        rooms = h.rooms(local, c);
        swap_lists(&mut local.tls[c], &mut local.freed[c]);
        // `taken` tells `spill` that the list frees push on holds a slab's whole free list
        // (`small::refill`); here that list goes to the alloc side (`fill` swaps it back, or
        // leaves its rest on the free side, which the general spill handles), never under the
        // frees pushed from now on. Left set, every free past the cap spilled the one block it
        // had just pushed (the cap is not raised on a profiled heap): glibc-simple made a
        // `spill` call for one free in five (tests/profile.rs `profiled_frees_spill_in_batches`).
        // With `config::PROF_SPILL_TOP` it stays set: the free side then spills as that list
        // would (a raised cap, a batch per spill; `small::spill`), which is safe on the free side
        // whatever it holds — every block on it was pushed since the last swap.
        if !PROF_SPILL_TOP {
            local.taken[c] = false;
        }
    }
    // SAFETY: per the contract.
    let local = unsafe { h.local_mut() };
    fill(local, c);
    h.settle(local, c, rooms);
    b
}

/// Moves at most `ahead[c]` blocks from the free side onto the empty TLS list of class `c`,
/// debiting them: the two lists swap when the free side fits.
fn fill(local: &mut HeapLocal, c: usize) {
    debug_assert!(local.tls[c].head.is_null());
    let n = local.freed[c].len();
    let k = drawn(local, c);
    if n == 0 || k == 0 {
        return;
    }
    if n <= k {
        swap_lists(&mut local.tls[c], &mut local.freed[c]);
        local.ahead[c] = k - n;
        return;
    }
    // The countdown ends inside the free side: its first `k` blocks only.
    let head = local.freed[c].head;
    // SAFETY: the free side holds `n > k >= 1` well-linked blocks of the heap's own slabs.
    unsafe {
        let mut last = NonNull::new_unchecked(head);
        for _ in 1..k {
            last = NonNull::new_unchecked(Block::next(last));
        }
        local.freed[c].head = Block::next(last);
        Block::set_next(last, core::ptr::null_mut());
    }
    local.freed[c].set_len(n - k);
    local.tls[c].head = head;
    local.tls[c].set_len(k);
    local.ahead[c] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field travels with its list: the heads, and each list's `room` with its own `cap`
    /// (so `len` stays the number of blocks on it). A mix-up of fields would hand the TLS list
    /// the free side's blocks with the old TLS list's length.
    #[test]
    fn swap_lists_moves_every_field_with_its_list() {
        let mut blocks = [[0u64; 2]; 3];
        let [b0, b1, b2] = blocks.each_mut().map(|b| NonNull::from(b).cast::<Block>());
        let mut tls = TlsList::new(8);
        let mut freed = TlsList::new(5);
        // (No `pop`: in checked builds it verifies that a link lies in a SuperSlab.)
        // SAFETY: the blocks are 16-byte, 8-aligned locals that outlive the lists.
        unsafe {
            TlsList::push(&mut tls, b2);
            TlsList::push(&mut freed, b0);
            TlsList::push(&mut freed, b1);
        }
        // tls: [b2], cap 8; freed: [b1, b0], cap 5.
        swap_lists(&mut tls, &mut freed);
        assert_eq!((tls.head, tls.len(), tls.cap), (b1.as_ptr(), 2, 5));
        assert_eq!((freed.head, freed.len(), freed.cap), (b2.as_ptr(), 1, 8));
        // SAFETY: as above; the links were written by the pushes.
        unsafe {
            assert_eq!(Block::next(b1), b0.as_ptr());
            assert!(Block::next(b0).is_null());
            assert!(Block::next(b2).is_null());
        }
    }
}
